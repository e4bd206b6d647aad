// SenderConnection: the network side of one connection to a receiver, on the
// sender's worker thread. The mirror of receiver/receiver_connection.
//
//   open():     connect --> HELLO / AUTH / ACCEPTED (SenderHandshake)
//   streaming:  framing() carries the muxer's access units; PING is answered
//               with PONG, RECEIVED and ERROR are kept, while waiting
//   finish():   END_OF_STREAM --> wait for the receiver's RECEIVED and close
//               --> "done" only if it got and decoded every frame
//
// One object per connection: a reconnect makes a new one, so nothing of the
// last receiver (its ERROR, its RECEIVED, the handshake) can leak into the
// next. All socket I/O is here, and the socket is created here: a QSslSocket,
// which without a key stays unencrypted (a plain TCP socket), and with one
// runs TLS-PSK (SecureChannel) before the first byte of HELLO. It is used in
// blocking mode (waitFor...), so none of this may run on the GUI thread.
#pragma once

#include "framed_media_device.h"
#include "handshake.h"
#include "net/live_rate_control.h"
#include "protocol.h"
#include "secure_channel.h"
#include "sender_options.h"

#include <QElapsedTimer>
#include <QObject>
#include <QSslSocket>
#include <atomic>
#include <functional>
#include <optional>

namespace h264link {

// The Linux socket options the live stream relies on, on a connected TCP
// socket's descriptor (QAbstractSocket::socketDescriptor()).
namespace tcp {
// TCP_NOTSENT_LOWAT: the kernel takes bytes only while fewer than `bytes` of
// what it holds are still unsent, so a non-blocking write past the mark
// returns EAGAIN and the rest waits in Qt's buffer. False, with *error, if
// the kernel refuses it.
bool setNotSentLowWater(qintptr socket, int bytes, QString *error);
// TCP_INFO's running totals since the connection began (busy, receiver's
// window full, send buffer full) and its latest delivery rate; nullopt
// where the kernel has no TCP_INFO.
std::optional<TcpLimits> readLimits(qintptr socket);
} // namespace tcp

class SenderConnection : public QObject {
    Q_OBJECT
public:
    static constexpr int kHandshakeTimeoutMs = 5000;
    // --fast: at most this waits in the socket's send buffer; beyond it the
    // sender BLOCKS (TCP backpressure).
    static constexpr qint64 kMaxQueuedBytes = 4 * 1024 * 1024;
    // Live: at most this many bytes wait unsent in the kernel (about 10 ms
    // of a 110 Mbit/s stream); the rest waits in Qt's buffer, where
    // LiveRateControl sees it. What the link holds in flight is not capped.
    static constexpr int kNotSentLowWater = 128 * 1024;
    // Live, on a kernel without TCP_NOTSENT_LOWAT: a fixed buffer instead
    // (the kernel doubles it), which caps a fast or long link.
    static constexpr int kLiveSocketBuffer = 32 * 1024;
    static constexpr int kCloseTimeoutMs = 5000; // of silence from the receiver
    static constexpr int kCloseCapMs = 120000;   // in all
    static constexpr int kStoppedCloseMs = 2000; // in all, after a Stop
    static constexpr qint64 kMaxInboundBytes = 256 * 1024;

    // `stop` is read, never written; `framesSkipped` goes into every PONG.
    SenderConnection(const SenderOptions &options, const std::atomic<bool> &stop,
                     std::function<quint64()> framesSkipped, QObject *parent = nullptr);
    ~SenderConnection() override;

    // --serve: use this accepted TCP connection instead of connecting to
    // options.host (open() then starts TLS, if keyed, and the handshake on
    // it: once TCP is up, nothing depends on who dialled).
    void adoptSocket(qintptr descriptor) { m_adopted = descriptor; }
    // The receiver's address, "host:port", for messages and --stats.
    QString where() const;

    // Connects and runs the handshake. False with *exitCode and *message if
    // the receiver cannot be reached or refuses (*exitCode ExitOk: stopped).
    bool open(int *exitCode, QString *message);

    FramedMediaDevice &framing() { return m_framing; }
    // The protocol version agreed in the handshake, and whether it carries
    // sound (v3): an older receiver gets the video only.
    quint8 version() const { return m_handshake.version(); }
    // What the receiver calls itself (its HELLO, made printable); empty from
    // a receiver older than names.
    QString receiverName() const { return proto::printableName(m_handshake.receiverName()); }
    bool speaksAudio() const { return version() >= proto::kFirstAudioVersion; }
    void sendStreamInfo(const proto::StreamInfo &info);
    // Live: the kernel keeps at most kNotSentLowWater unsent bytes, so the
    // queue LiveRateControl bounds is most of the queue there is (without
    // it, the send buffer's autotuning would add megabytes of latency), and
    // SO_SNDBUF is left to autotuning so the congestion window fills a fast
    // or long link. False, with *warning, if the kernel refused it (then the
    // old fixed kLiveSocketBuffer is used).
    bool useLiveSendBuffer(QString *warning);
    // TCP_INFO's times over the last one to two seconds, and its latest
    // delivery rate, for why a live stream skips; nullopt without TCP_INFO.
    std::optional<TcpLimits> recentTcpLimits() const;
    // Bytes not yet handed to the kernel. With TLS, QSslSocket::bytesToWrite()
    // counts only what waits to be encrypted; the records wait in
    // encryptedBytesToWrite() (slightly more bytes than the media: headers, tags).
    qint64 queuedBytes() const { return m_socket.bytesToWrite() + (m_plain ? 0 : m_socket.encryptedBytesToWrite()); }
    qint64 handedToKernel() const { return qMax<qint64>(0, qint64(m_framing.streamBytesSent()) - queuedBytes()); }

    // Sleeps until a packet is due while answering PING, and calls
    // `drained` (if set) each time the kernel took some of the queue, so the
    // drain can be timed. False if stopped or disconnected (checkPeer() then
    // says which).
    bool waitUntil(qint64 delayUs, const std::function<void()> &drained = {});
    // Fan-out, on the SubscriberLoop: what to poll() the socket for (and the
    // silence clock starts), then what poll() said: PINGs are answered and
    // the kernel is handed what it takes, without blocking. False if the
    // connection is no longer usable.
    int socketDescriptor() const { return int(m_socket.socketDescriptor()); }
    short pollEvents();
    bool onPollEvents(short revents);
    // Fan-out: this, its socket and its framing go to `thread` (they have no
    // parent to take them along); called on the thread they are on.
    void moveToThreadWithSocket(QThread *thread);
    // Fan-out: time since the receiver last sent anything or the kernel
    // last took bytes of the stream (a frozen or vanished receiver does neither).
    qint64 silentMs() const { return m_lastSign.isValid() ? m_lastSign.elapsed() : 0; }
    // Fan-out: writes one captured unit as the stages would have.
    bool writeUnit(const CapturedUnit &unit);
    // After an access unit: flushes and, --fast, blocks while more than
    // kMaxQueuedBytes wait. False, with *message, if the connection is lost.
    bool afterAccessUnit(QString *message);
    // True while the receiver is there and has said nothing against the
    // stream; false with *message otherwise.
    bool checkPeer(QString *message);
    // The exit code for a connection lost now, with *message set to the
    // receiver's reason when it gave one, else to `fallback` (if not empty).
    int lost(QString *message, const QString &fallback = {});
    // The receiver's ERROR code (in the handshake or after), 0 if none.
    quint16 peerErrorCode() const;

    // The end of the stream: END_OF_STREAM with the counts, then the close
    // (see closeGracefully). ExitOk only on the receiver's word that it got
    // and decoded every frame, or when stopped; else the code, with *message.
    int finish(QString *message);
    // Frames the receiver said it decoded (RECEIVED), if it said so.
    std::optional<quint64> framesDecoded() const
    {
        return m_received ? std::optional<quint64>(m_received->framesDecoded) : std::nullopt;
    }
    // Frames it said it skipped to stay live, as it decodes slower than the video.
    quint64 framesSkippedByReceiver() const { return m_received ? m_received->framesSkipped : 0; }
    // The receiver confirmed the video but did not count the audio sent (a
    // build without sound): "done", with a word about it.
    bool audioUncounted() const { return m_audioUncounted; }
    // Tells the receiver why the stream stops early, then closes.
    void abort(const QString &reason, quint16 code = proto::ErrSourceFailed);

signals:
    void connected(const QString &peer);
    // All was sent; the receiver is still decoding (said once, after a second).
    void waitingForReceiver();

private:
    enum class CloseWait { Closed, Silent, CapReached, Stopped, PeerError };

    bool waitForConnection();
    bool connectToReceiver(QString *message);
    bool secure(int *exitCode, QString *message);
    QString channelFailure() const;
    bool usable() const;
    bool sendShared(const CapturedUnit &unit); // writeUnit()'s path without copies; false: take the general one
    bool handshake(int *exitCode, QString *message);
    void onControlMessage(const proto::Message &message);
    bool peerSaidWhy(QString *message);
    int lostConnectionCode() const;
    bool drain(qint64 limit, int timeoutMs);
    CloseWait closeGracefully();
    int confirmDelivery(CloseWait wait, QString *message);

    const SenderOptions &m_options;
    const std::atomic<bool> &m_stop;
    std::function<quint64()> m_framesSkipped;
    QSslSocket m_socket;
    bool m_plain = false; // fan-out: no TLS (set as it enters the loop; the mode is fixed by then)
    std::atomic<qint64> m_queuedSample{0}; // queuedBytes() after the last access unit, while tracing
    int m_fillProbe = 0;
    // TCP_INFO, read at most once a second after an access unit: the last
    // two readings, so recentTcpLimits() spans one to two seconds.
    QElapsedTimer m_tcpClock;
    std::optional<TcpLimits> m_tcpOlder, m_tcpNewer;
    SecureChannel *m_channel = nullptr; // with a key; owned by m_socket
    FramedMediaDevice m_framing;
    SenderHandshake m_handshake;
    HandshakeStep::Verdict m_verdict = HandshakeStep::Continue;
    QString m_refusal;
    quint16 m_refusalCode = 0;
    std::optional<proto::ErrorInfo> m_peerError; // its ERROR after the handshake
    std::optional<proto::Received> m_received;   // its RECEIVED
    bool m_receivedAudioCounts = false;          // ... with v3's audio counts in it
    bool m_audioUncounted = false;
    bool m_closing = false; // END_OF_STREAM sent: PINGs are read, not answered
    qintptr m_adopted = -1; // --serve: the accepted connection
    QString m_adoptedPeer;  // ... its address, kept past the close
    QElapsedTimer m_lastSign; // fan-out: the receiver's last message, or the kernel's last take
};

} // namespace h264link
