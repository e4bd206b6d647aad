// StreamSession: one run of the sender, from opening the file to
// END_OF_STREAM, on a worker thread of its own.
//
//   MediaSource --> Pacer --> AnnexBMuxer --> FramedMediaDevice --> QTcpSocket
//
// The socket is created in run(), so it belongs to the worker thread, and is
// used in blocking mode (waitFor...). Every FFmpeg call blocks too, so none of
// this may run on the GUI thread.
//
// Bounds, written down:
//  --fast:  at most kMaxQueuedBytes wait in the socket's send buffer; beyond
//           it the session BLOCKS in waitForBytesWritten() (TCP backpressure).
//  live:    at most what the link carries in half a second waits (DrainRate);
//           beyond it the session SKIPS to the next keyframe and counts what
//           it skipped, so latency stays bounded on a link slower than the video.
#pragma once

#include "exit_codes.h"
#include "media_source.h"
#include "handshake.h"
#include "pacer.h"

#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <atomic>
#include <deque>
#include <memory>
#include <optional>

class QTcpSocket;

namespace h264link {

class FramedMediaDevice;

struct SenderOptions {
    QString file;
    QString host = QStringLiteral("127.0.0.1");
    quint16 port = 8264;
    bool fast = false; // send as fast as the link allows, not in real time
    bool loop = false;
    bool retry = false; // reconnect when the receiver goes away or is busy
    int connectTimeoutMs = 5000;
    QByteArray key; // access key; empty: none
};

struct SenderProgress {
    qint64 positionUs = 0; // within the file
    qint64 durationUs = -1;
    quint64 accessUnits = 0;
    quint64 bytes = 0;
    qint64 queuedBytes = 0; // waiting in the socket
    quint64 skippedFrames = 0; // dropped to stay live (slow link, reconnect)
    int loops = 0;
};

class StreamSession : public QObject {
    Q_OBJECT
public:
    static constexpr qint64 kMaxQueuedBytes = 4 * 1024 * 1024;
    static constexpr int kHandshakeTimeoutMs = 5000;
    static constexpr int kRetryIntervalMs = 1000;
    static constexpr int kLiveSocketBuffer = 32 * 1024; // the kernel doubles it
    static constexpr int kCloseTimeoutMs = 5000; // of silence from the receiver
    static constexpr int kCloseCapMs = 120000;   // in all
    static constexpr int kStoppedCloseMs = 2000; // in all, after a Stop
    static constexpr qint64 kMaxInboundBytes = 256 * 1024;

    explicit StreamSession(SenderOptions options, QObject *parent = nullptr);
    ~StreamSession() override;

    void stop() { m_stopRequested.store(true); } // any thread

public slots:
    void run(); // emits finished() exactly once

signals:
    void connected(const QString &peer);
    void progress(const h264link::SenderProgress &progress);
    void finished(int exitCode, const QString &message);
    void retrying(const QString &reason); // --retry: the connection failed, trying again
    // All was sent; the receiver is still decoding (said once, after a second).
    void waitingForReceiver();

private:
    // What survives a reconnect: the file, its position, and the timeline.
    struct Playback {
        std::unique_ptr<MediaSource> source;
        qint64 startUs = 0;
        qint64 frameUs = 40'000;
        qint64 loopOffsetUs = 0; // added to every timestamp so loops continue the timeline
        qint64 timelineEndUs = 0;
        Pacer pacer;
        SenderProgress progress;
        quint64 skipped = 0; // frames not sent: no receiver, waiting for a keyframe, slow link
        bool everConnected = false;
        QByteArray parameterSets; // the latest SPS/PPS sent, for the next receiver
    };

    // How fast the socket drains, over the last two seconds.
    class DrainRate {
    public:
        void sample(qint64 nowMs, qint64 bytesLeftQt);
        qint64 queueBound() const;

    private:
        static constexpr qint64 kWindowMs = 2000;
        std::deque<std::pair<qint64, qint64>> m_samples; // (ms, bytes handed to the kernel)
    };

    int stream(QString *message);
    int readNext(Playback &play, AVPacket *packet, QString *message);
    static qint64 placeOnTimeline(Playback &play, AVPacket *packet);
    bool playUnsent(Playback &play, int forMs, QString *message);
    int sendStream(Playback &play, QTcpSocket &socket, FramedMediaDevice &framing,
                   bool waitForKeyframe, QString *message);
    bool connectToReceiver(QTcpSocket &socket, QString *message);
    bool waitForConnection(QTcpSocket &socket);
    bool peerSaidWhy(FramedMediaDevice &framing, QString *message);
    int lostConnectionCode() const;
    bool handshake(QTcpSocket &socket, FramedMediaDevice &framing, int *exitCode, QString *message);
    void onControlMessage(FramedMediaDevice &framing, const proto::Message &message);
    bool waitUntil(qint64 delayUs, QTcpSocket &socket, FramedMediaDevice &framing);
    bool drain(QTcpSocket &socket, qint64 limit, int timeoutMs);
    bool checkPeer(QTcpSocket &socket, FramedMediaDevice &framing, QString *message);
    // How the wait for the receiver's close ended.
    enum class CloseWait { Closed, Silent, CapReached, Stopped, PeerError };
    CloseWait closeGracefully(QTcpSocket &socket, FramedMediaDevice &framing);
    bool confirmDelivery(FramedMediaDevice &framing, CloseWait wait, QString *message, int *exitCode);
    void abortStream(QTcpSocket &socket, FramedMediaDevice &framing, const QString &reason);
    void reportProgress(const SenderProgress &p, bool force);

    SenderOptions m_options;
    std::atomic<bool> m_stopRequested{false};
    QString m_peerError;
    quint16 m_peerErrorCode = 0;
    std::atomic<quint64> m_framesSkipped{0}; // reported to the receiver in PONG
    bool m_closing = false;
    std::optional<proto::Received> m_received; // the receiver's RECEIVED, this connection
    std::unique_ptr<SenderHandshake> m_handshake;
    HandshakeStep::Verdict m_verdict = HandshakeStep::Continue;
    QString m_refusal;
    QElapsedTimer m_progressClock;
    qint64 m_lastProgressMs = 0;
};

} // namespace h264link

Q_DECLARE_METATYPE(h264link::SenderProgress)
