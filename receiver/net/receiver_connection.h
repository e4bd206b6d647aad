// ReceiverConnection: the network side of one stream, on the network thread.
//
//   QTcpSocket --> MessageDecoder --> MEDIA payloads --> StreamInput (bytes + where each
//                                 |                     access unit starts, its pts) --> pipeline thread
//                                 +-> AUDIO payloads --> StreamInput::audio (bytes + where each
//                                 |                     packet starts, its pts, trim) --> audio pipeline
//                                 \-> HELLO, STREAM_INFO, PING, END_OF_STREAM: handled here
//
// AUDIO is queued only if STREAM_INFO announced sound and this receiver
// wants it (not --no-audio); otherwise it is counted and dropped, as is
// sound the audio pipeline gave up on (audioDropped).
//
// Event-driven (readyRead), so PING is answered at once however busy the
// decoder is. Two queue policies:
// - Every frame counts (the stream is not live, i.e. the sender is --fast,
//   or --framemd5 / --record here wants every frame): while the byte queue is
//   full it leaves bytes in the socket (the sender then feels TCP
//   backpressure) and resumes on drained(); the same for the audio queue
//   while sound is queued.
// - Live (StreamInput::maySkip): it always reads its socket, so a PONG is
//   read as it arrives and the sender never mistakes a slow decoder for a
//   slow link. The bound is in time instead: once the oldest access unit not
//   yet demuxed has waited kMaxBacklogUs, the next keyframe cuts the queue
//   back to the first unit start the demuxer has not reached (the unit it is
//   reading completes) and follows it, so the decoder goes from what it
//   decodes now straight to the newest keyframe. Past kMaxLiveQueueBytes (a
//   stream with keyframes too far apart) units are dropped as they arrive,
//   until the next keyframe. At END_OF_STREAM a decoder that is behind has
//   no keyframe left to skip to: the rest is cut. Every unit skipped is
//   counted (skippedToStayLive) and its statistics record let go of. A full
//   audio queue drops the AUDIO packet (audioDropped).
//
// How it ends: finished() once. After END_OF_STREAM it waits for the
// pipeline's result (onPipelineFinished) and answers RECEIVED or ERROR 9.
// When this side gives up (a pipeline failure, or shutDown()), it sends
// ERROR and reads until the sender hangs up, at most kFailingGraceMs. A
// keyed session whose TLS failed (a record altered in transit) does the same
// without the ERROR: the TLS alert already told the sender.
#pragma once

#include "handshake.h"
#include "media_pipeline.h"
#include "message_decoder.h"
#include "protocol.h"
#include "stream_input.h"
#include "stream_stats.h"

#include <QObject>
#include <QPointer>
#include <memory>

class QAbstractSocket;
class QTcpSocket;
class QTimer;

namespace h264link {

// "192.168.1.7:50312", with IPv4-mapped IPv6 addresses shown as IPv4.
QString peerName(const QAbstractSocket &socket);

struct ConnectionStats {
    quint64 bytesReceived = 0;
    quint64 mediaMessages = 0;
    quint64 accessUnits = 0; // MEDIA messages flagged AU_END
    quint64 mediaBytes = 0;
    quint64 audioMessages = 0; // AUDIO received (RECEIVED's audioPackets)
    quint64 audioBytes = 0;
    quint64 audioDropped = 0;  // queued for nobody: --no-audio, or the audio pipeline gave up, or live and its queue full
    quint64 skippedToStayLive = 0; // live access units received but never queued for the decoder (see above)
    quint64 malformedMessages = 0;
    quint64 sequenceGaps = 0;
    quint64 bytesDropped = 0; // arrived after this side failed and told the sender
};

class ReceiverConnection : public QObject {
    Q_OBJECT
public:
    // The whole handshake must finish within this, however slowly the peer
    // trickles its bytes in (a slow-loris peer is dropped here).
    static constexpr int kHandshakeTimeoutMs = 5000;

    static constexpr int kPingIntervalMs = 500;
    // A live sender answers PING every 500 ms, so this much silence means it
    // is gone (powered off, unplugged, stuck) and the receiver must not wait.
    static constexpr int kInactivityTimeoutMs = 10000;
    // After telling the sender this side failed: how long to wait for it to
    // hang up before closing anyway.
    static constexpr int kFailingGraceMs = 2000;
    static constexpr qint64 kMaxUnsentBytes = 256 * 1024;  // replies the peer has not read
    static constexpr qint64 kSocketReadBuffer = 256 * 1024; // Qt's buffer, before the kernel's
    // Live: how long the oldest access unit not yet demuxed may wait before
    // the next keyframe skips to itself, and the queue's hard bound for a
    // stream whose keyframes are too far apart (seconds of any real stream).
    static constexpr qint64 kMaxBacklogUs = 200'000;
    static constexpr qint64 kMaxLiveQueueBytes = 64 * 1024 * 1024;

    // `socket` is a QSslSocket; `channel` what IncomingChannel found it to
    // be (Keyed: TLS-PSK done). A keyed receiver refuses a Plain sender
    // after its HELLO (ERROR 6). `everyFrameWanted` (--framemd5, --record):
    // never skip, even on a live stream. `name` goes into HELLO.
    ReceiverConnection(QTcpSocket *socket, std::shared_ptr<StreamInput> input,
                       std::shared_ptr<StreamStats> stats, const QByteArray &key, Channel channel,
                       const QString &name, bool audioWanted = true, bool everyFrameWanted = false,
                       QObject *parent = nullptr);
    ~ReceiverConnection() override;

    QString peer() const { return m_peer; }
    // END_OF_STREAM is in: only the decoder's last frames are left to wait for.
    bool isDraining() const { return m_endOfStreamReceived; }

    // The pipeline is done (the one word on it): RECEIVED after
    // END_OF_STREAM if it went well, else ERROR 9 with its reason.
    void onPipelineFinished(const h264link::PipelineResult &result);
    // The receiver is closing: ERROR 10 ("the receiver was closed"), then
    // read until the sender hangs up (bounded) and finish.
    void shutDown();

signals:
    void streamInfoReceived(const h264link::proto::StreamInfo &info);
    // Emitted once. `endOfStream` tells a clean END_OF_STREAM from a drop.
    void finished(bool endOfStream, const QString &reason, const h264link::ConnectionStats &stats,
                  const h264link::proto::EndOfStream &sent);

private:
    void onReadyRead();
    void handle(const proto::Message &message);
    void finish(bool endOfStream, const QString &reason);
    void send(proto::MessageType type, const QByteArray &payload);
    void apply(const HandshakeStep &step);
    void pushMedia(const proto::Message &message, qint64 ptsUs, QByteArray data);
    void pushAudio(const proto::Message &message, proto::Audio audio);
    bool keepsUnit(bool keyframe); // live: whether the unit starting now is queued
    qint64 backlogUs() const;
    void cutUnread(); // the queue cut at the first access unit start the demuxer has not reached
    void skippedToStayLive(qint64 statsId);
    void finishQueues();
    void sayGoodbye(proto::ErrorCode code, const QString &reason, const QString &finishReason);
    void failQuietly(const QString &finishReason);
    void beginFailing(const QString &finishReason); // read and drop until the sender hangs up

    QTcpSocket *m_socket;
    std::shared_ptr<StreamInput> m_input;
    std::shared_ptr<StreamStats> m_streamStats;
    QString m_peer;
    proto::MessageDecoder m_decoder;
    proto::MessageWriter m_writer;
    QByteArray m_traceAuBytes; // only while tracing: the current unit's bytes
    int m_fillProbes[2] = {0, 0}; // the two queues' fills, for the Inside view
    QTimer *m_handshakeTimer;
    QTimer *m_pingTimer;
    QTimer *m_idleTimer;
    qint64 m_auSentUs = 0;   // sender clock, at the access unit's first message
    qint64 m_auBytes = 0;
    qint64 m_auOffset = 0;   // in the byte stream, where the access unit starts
    qint64 m_auPtsUs = proto::kNoPts;
    bool m_audAppended = false;
    const bool m_audioWanted;
    const bool m_everyFrameWanted;
    bool m_dropUnit = false;             // live: this access unit is dropped as it arrives
    bool m_dropUntilKeyframe = false;    // live: past kMaxLiveQueueBytes
    bool m_toldSkipping = false;
    bool m_audioGap = false; // live: an AUDIO packet was dropped, the next one queued starts after a gap
    bool m_audioQueued = false; // STREAM_INFO announced sound, and it is wanted
    bool m_streamInfoSeen = false;
    bool m_senderGone = false; // closed its side; we may still be reading its last bytes
    ReceiverHandshake m_handshake;
    bool m_finished = false;
    bool m_endOfStreamReceived = false; // waiting for the pipeline before closing
    bool m_failing = false; // this side gave up and told the sender (see sayGoodbye)
    QString m_finishReason; // once failing: what finished() will say
    ConnectionStats m_stats;
    proto::EndOfStream m_sent;
};

} // namespace h264link

Q_DECLARE_METATYPE(h264link::ConnectionStats)
Q_DECLARE_METATYPE(h264link::proto::StreamInfo)
Q_DECLARE_METATYPE(h264link::proto::EndOfStream)
