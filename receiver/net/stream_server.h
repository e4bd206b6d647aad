// StreamServer: listens for senders, on the network thread. One stream at a
// time: a sender that connects while another one is live is refused (its
// HELLO read, then ERROR "busy", then its close awaited, all bounded); the
// live stream is not touched.
//
// Every connection is a QSslSocket, first examined by IncomingChannel: a
// keyed sender's ClientHello (with a key here: TLS-PSK first, so that even
// "busy" is said inside TLS; without one: refused), or the plain protocol.
// Only then comes the busy check.
//
// --connect turns the direction round: dial() connects to a serving sender
// (sender --serve), and once TCP is up the connection goes the same way as
// an accepted one, so the handshake, the key and TLS are as they always are
// (the sender speaks first and is the TLS client, whoever dialled).
#pragma once

#include "receiver_connection.h"

#include <QHostAddress>
#include <QObject>
#include <QPointer>
#include <memory>

class QSslSocket;
class QTcpServer;
class QTcpSocket;

namespace h264link {

class StreamServer : public QObject {
    Q_OBJECT
public:
    // The byte queue's bound (elementary stream between the network and
    // pipeline threads). Policy: stop reading the socket while full, i.e.
    // TCP backpressure (see ByteQueue); for a live stream a bound in time
    // instead (see ReceiverConnection).
    static constexpr qsizetype kQueueCapacity = 4 * 1024 * 1024;
    // A refused sender: how long and how much of it is read, its HELLO and
    // then until it hangs up, so that our ERROR is not lost to a reset.
    static constexpr int kRefuseGraceMs = 2000;
    static constexpr qint64 kRefuseMaxBytes = 64 * 1024;

    // `audio`: queue the sound of streams that have it (false: --no-audio).
    // `everyFrameWanted` (--framemd5, --record): never skip frames of a live stream.
    StreamServer(QByteArray accessKey, bool display, bool audio = true, bool everyFrameWanted = false,
                 QObject *parent = nullptr);
    ~StreamServer() override;
    // What this receiver calls itself in HELLO; before the first connection.
    void setName(const QString &name) { m_name = name; }

    // Call on the network thread. Returns an actionable error, or "".
    // `address`: one of this machine's (--listen), or Any (all of them).
    QString listen(const QHostAddress &address, quint16 port);
    quint16 port() const;
    // --connect: connects to a sender that serves (at most kDialTimeoutMs),
    // then examines and streams it as an accepted connection; dialFailed()
    // says why not. Ignored while a dial is under way or after shutDown().
    void dial(const QString &host, quint16 port);
    static constexpr int kDialTimeoutMs = 5000;
    // The controller calls this once the previous stream's pipeline is done.
    void setIdle();
    // The live stream's pipeline is done (see ReceiverConnection::onPipelineFinished).
    void pipelineFinished(const h264link::PipelineResult &result);
    // Stops listening, says goodbye (ERROR 10) to the live sender and to one
    // waiting for its turn, and emits shutDownFinished() once no connection
    // is left (refused ones included, so that their reason is not lost).
    void shutDown();

signals:
    void sessionStarted(const QString &peer, std::shared_ptr<h264link::StreamInput> input,
                        std::shared_ptr<h264link::StreamStats> stats);
    void streamInfoReceived(const h264link::proto::StreamInfo &info);
    void sessionEnded(bool endOfStream, const QString &reason, const h264link::ConnectionStats &stats,
                      const h264link::proto::EndOfStream &sent);
    void connectionRefused(const QString &peer, const QString &reason);
    void dialFailed(const QString &reason);
    void shutDownFinished();

private:
    void onNewConnection();
    void examine(QSslSocket *socket);
    void onChannelReady(QSslSocket *socket, h264link::Channel channel);
    void startSession(QTcpSocket *socket, Channel channel);
    void refuse(QTcpSocket *socket, quint16 code, const QString &reason);
    void finishShutDownIfDone();
    void park(QTcpSocket *socket, Channel channel);

    QTcpServer *m_server;
    QByteArray m_accessKey; // empty: anyone may send
    QString m_name;         // into every HELLO
    bool m_display;
    bool m_audio;
    bool m_everyFrameWanted;
    QPointer<ReceiverConnection> m_live; // receiving now
    bool m_busy = false;                 // a session's pipeline is still running
    QPointer<QTcpSocket> m_waiting;      // came while the last stream drained
    QPointer<QSslSocket> m_dialing;      // --connect: not connected yet
    Channel m_waitingChannel = Channel::Plain;
    bool m_shuttingDown = false;
    bool m_shutDownFinished = false;
    int m_refusing = 0; // refused sockets still saying why (each bounded by kRefuseGraceMs)
};

} // namespace h264link

Q_DECLARE_METATYPE(std::shared_ptr<h264link::StreamInput>)
Q_DECLARE_METATYPE(std::shared_ptr<h264link::StreamStats>)
