// ReceiverController: wires one stream at a time, on the GUI (or main) thread.
//
//   network thread:  StreamServer -> ReceiverConnection --StreamInput--+
//   pipeline thread:                                                   +-> MediaPipeline -> FrameSlot
//   audio thread:    (when STREAM_INFO announces sound)                +-> AudioPipeline -> AudioOutput
//                                                                          (AudioClock <- the video waits on it)
//
// One completion path: the pipeline's result (MediaPipeline::finished, with
// the AudioPipeline's figures merged in once it is done too) comes
// here once and goes on to the connection, which answers the sender
// (RECEIVED or ERROR 9) and then finishes. A stream is over when both have
// ended; then the controller reports, and the server takes the next sender.
//
// shutDown() (window closed, Ctrl+C, SIGTERM) stops the pipeline, tells the
// sender ERROR 10 and waits (bounded) for it to hang up; closed() follows.
#pragma once

#include "audio_clock.h"
#include "audio_pipeline.h"
#include "media_pipeline.h"
#include "receiver_connection.h"

#include <QHostAddress>
#include <QObject>
#include <QThread>
#include <memory>
#include <optional>

namespace h264link {

class FrameMd5Writer;
class StreamRecorder;
class FrameSlot;
class StreamServer;

struct ReceiverOptions {
    quint16 port = 8264;
    QHostAddress listenAddress = QHostAddress::Any; // --listen
    bool headless = false;
    bool once = false; // exit after the first stream
    QString md5Path;   // --framemd5
    QByteArray accessKey; // empty: no access key required
    QString name;         // --name: in HELLO, so a sender lists it (default: the host name)
    bool noAudio = false;  // --no-audio
    QString audioDevice;   // --audio-device (empty: the default output)
    QString pcmPath;       // --pcm
    QString recordPath;    // --record
    // --connect: dial this serving sender instead of listening; after each
    // stream, dial again. --retry: also keep trying before the first one.
    QString connectHost;
    quint16 connectPort = 8264;
    bool retry = false;
    bool dials() const { return !connectHost.isEmpty(); }
};

struct LiveStats {
    quint64 frames = 0;
    quint64 decodeErrors = 0;
    quint64 concealedFrames = 0;
    bool audio = false; // the stream's sound is being decoded
    quint64 audioPackets = 0;
    quint64 audioFrames = 0;
    quint64 audioUnderruns = 0;
    double audioLatencyMs = -1;
    double avOffsetMs = 0;
    bool hasAvOffset = false;
    double audioLevelDb = -100;
};

class ReceiverController : public QObject {
    Q_OBJECT
public:
    ReceiverController(ReceiverOptions options, FrameSlot *display, QObject *parent = nullptr);
    ~ReceiverController() override;

    static constexpr int kRedialMs = 1000; // --connect: the sender is not there (yet)

    QString start(); // listens (or dials); returns an actionable error, or ""
    quint16 port() const { return m_port; }
    std::optional<LiveStats> liveStats() const; // while a stream is on
    std::shared_ptr<StreamStats> streamStats() const; // null between streams
    // Close cleanly (window, Ctrl+C, SIGTERM): closed() follows, within
    // ReceiverConnection::kFailingGraceMs and a moment.
    void shutDown();
    // The window's Connect (a sender found on the LAN): from now on it dials
    // that sender as --connect --retry would, after the stream on now if any.
    void connectTo(const QString &host, quint16 port);
    void toggleMute(); // M in the window
    bool isMuted() const { return m_muted; }

signals:
    void notice(const QString &line); // once-per-stream remarks: "no audio output device: ..."
    void waitingForSender(quint16 port); // --connect: port 0, it dials
    // --connect without --retry: the sender could not be reached before any
    // stream came; the app exits with ExitConnectionFailed.
    void dialGaveUp(const QString &reason);
    void streamStarted(const QString &peer);
    void streamInfoReceived(const h264link::proto::StreamInfo &info);
    void streamEnded(const QString &summary, bool clean);
    // The stream is over and its summary comes next: the display shows (and so
    // counts) what it still holds. Direct connections only: it is a call.
    void streamEnding();
    void statsSummary(const QString &json); // whole-stream figures, just before streamEnded
    void refused(const QString &peer, const QString &reason);
    void onceFinished(int exitCode);
    void closed(); // after shutDown(): nothing is left to wait for

private:
    void onSessionStarted(const QString &peer, std::shared_ptr<StreamInput> input,
                          std::shared_ptr<StreamStats> stats);
    void onSessionEnded(bool endOfStream, const QString &reason, const ConnectionStats &stats,
                        const proto::EndOfStream &sent);
    void onPipelineFinished(const PipelineResult &result);
    void onStreamInfo(const proto::StreamInfo &info);
    void onAudioFinished(const AudioResult &result);
    void forwardResultIfDone();
    void completeIfDone();
    void closeIfDone();
    void dialSender();
    void onDialFailed(const QString &reason);

    struct Session {
        QString peer;
        std::shared_ptr<StreamInput> input;
        std::unique_ptr<AudioClock> clock; // outlives both pipelines (declared first)
        std::shared_ptr<FrameMd5Writer> md5; // --framemd5, both pipelines write to it
        std::shared_ptr<StreamRecorder> recorder; // --record, both pipelines write to it
        std::unique_ptr<MediaPipeline> pipeline;
        std::unique_ptr<AudioPipeline> audio;
        std::optional<AudioResult> audioResult;
        bool resultForwarded = false;
        std::shared_ptr<StreamStats> streamStats;
        bool connectionDone = false;
        bool endOfStream = false;
        QString reason;
        ConnectionStats stats;
        proto::EndOfStream sent;
        std::optional<PipelineResult> result;
    };

    ReceiverOptions m_options;
    FrameSlot *m_display;
    QThread m_network;
    StreamServer *m_server = nullptr; // lives on m_network
    quint16 m_port = 0;
    std::unique_ptr<Session> m_session;
    bool m_shuttingDown = false;
    bool m_serverDone = false; // after shutDown(): the server has no connection left
    bool m_muted = false;
    bool m_toldNoDevice = false;
    bool m_everStreamed = false; // --connect: a sender was reached once
    QString m_lastDialFailure;   // said once until it changes
};

} // namespace h264link
