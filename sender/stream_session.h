// StreamSession: one run of the sender, from opening the file to the end, on
// a worker thread of its own. A thin loop that wires the stages:
//
//   Playback (MediaSource, timeline, Pacer) --> video: VideoStage (AnnexBMuxer, or
//                                               VideoTranscoder --> AnnexBMuxer), LiveRateControl
//                                               admitting each access unit it sends
//                                           \-> audio: AudioStage (passthrough or to AAC)
//     --> SenderConnection (FramedMediaDevice --> QSslSocket)
//
// One pass per connection: each pass makes a new SenderConnection, muxer and
// LiveRateControl; only the Playback carries over (with --retry). Every
// FFmpeg call and the socket block, so none of this may run on the GUI thread.
//
// Bounds, written down (details beside each):
//  --fast:  SenderConnection::kMaxQueuedBytes wait in the socket at most;
//           beyond it the session BLOCKS (TCP backpressure).
//  live:    LiveRateControl: what waits in the socket may have waited half a
//           second; beyond it the session SKIPS video and sound to the next
//           keyframe, counts what it skipped, and says why (the receiver,
//           or the link and its rate). The kernel holds little of it
//           (SenderConnection::kNotSentLowWater unsent).
#pragma once

#include "exit_codes.h"
#include "remux/video_transcoder.h"
#include "sender_options.h"

#include <QElapsedTimer>
#include <QList>
#include <QMutex>
#include <QObject>
#include <QString>
#include <atomic>
#include <memory>

namespace h264link {

class MediaSource;
class Playback;
class PublishSet;
class SenderConnection;
class Broadcaster;

class StreamSession : public QObject {
    Q_OBJECT
public:
    static constexpr int kRetryIntervalMs = 1000;

    explicit StreamSession(SenderOptions options, QObject *parent = nullptr);
    ~StreamSession() override;

    // Any thread. Ends the stream cleanly: END_OF_STREAM, a short wait for
    // the receiver's reply, then finished() with ExitOk.
    void stop();
    // Any thread. Fan-out: drops receiver `id` (the "id" of statsLine), telling it why.
    void disconnectReceiver(int id);

public slots:
    void run(); // emits finished() exactly once

signals:
    void connected(const QString &peer);
    void progress(const h264link::SenderProgress &progress);
    void finished(int exitCode, const QString &message);
    void retrying(const QString &reason); // --retry: the connection failed, trying again
    // All was sent; the receiver is still decoding (said once, after a second).
    void waitingForReceiver();
    // A line to show once: what happens to the audio ("audio: ..."), or
    // that an older receiver gets the video only.
    void notice(const QString &line);
    // Fan-out: one JSON line a second, per receiver (--stats prints it, the window lists it).
    void statsLine(const QString &json);
    // Fan-out: the receivers streaming now.
    void receiversChanged(int streaming);
    // --serve: listening on `port` (for the DNS-SD announcement).
    void serving(quint16 port);

private:
    int stream(QString *message);
    bool retryable(int code, const SenderConnection &connection) const;
    bool planAudio(Playback &play, QString *message);
    bool planVideo(Playback &play, QString *message);
    VideoSettings videoSettings(const MediaSource &source) const;
    int sendStream(Playback &play, SenderConnection &connection, QString *message);
    int fanOut(Playback &play, QString *message);
    void reportProgress(const SenderProgress &p, bool force);
    QString whySkipped(quint64 skipped) const;
    // --publish (issue 13, publisher): see remux/publisher.h.
    bool startPublishing(Playback &play, QString *message);
    void publishTap(const AVPacket *packet); // every placed packet of the source
    int publishOnly(Playback &play, QString *message); // no --host: the servers alone
    int endPublishing(int code, QString *message); // the "done" line's part, the exit code

    SenderOptions m_options;
    std::atomic<bool> m_stopRequested{false};
    QMutex m_disconnectLock; // guards m_disconnects: the window's thread --> the stream thread
    QList<int> m_disconnects;
    QElapsedTimer m_progressClock;
    qint64 m_lastProgressMs = 0;
    bool m_saidVideoOnly = false; // to an older receiver
    quint64 m_audioUndecodable = 0;
    quint64 m_decodeOnlySent = 0; // DECODE_ONLY access units, of the frames sent
    quint64 m_videoUndecodable = 0; // by transcoders' decoders, over all connections
    quint64 m_videoLate = 0;        // decoded, too late to encode
    QString m_videoPreset;          // the x264 preset the last connection ended with
    bool m_saidVideoSpeed = false;  // "video: transcoding at 2.3× real time": once per run
    bool m_saidVideoSlow = false;   // that it was too slow: once per run
    bool m_saidSendBuffer = false;  // that the live send buffer fell back: once per run
    quint64 m_linkSkipped = 0;      // by LiveRateControl, over all connections
    QString m_skipWhy;              // why it last began skipping (describeSlowLink)
    std::unique_ptr<PublishSet> m_publish; // --publish: for the whole run
};

} // namespace h264link
