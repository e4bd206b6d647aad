// StreamServer: listens for senders, on the network thread. One stream at a
// time: a sender that connects while another one is live gets an ERROR
// ("busy") and is closed; the live stream is not touched.
#pragma once

#include "receiver_connection.h"

#include <QObject>
#include <QPointer>
#include <memory>

class QTcpServer;
class QTcpSocket;

namespace h264link {

class StreamServer : public QObject {
    Q_OBJECT
public:
    // The pipe's bound (bytes of elementary stream between the network and
    // demux threads). Policy: block, i.e. TCP backpressure; see BytePipe.
    static constexpr qsizetype kPipeCapacity = 4 * 1024 * 1024;

    StreamServer(QByteArray accessKey, bool display, QObject *parent = nullptr);
    ~StreamServer() override;

    // Call on the network thread. Returns an actionable error, or "".
    QString listen(quint16 port);
    quint16 port() const;
    // The controller calls this once the previous stream's pipeline is done.
    void setIdle();

signals:
    void sessionStarted(const QString &peer, std::shared_ptr<h264link::BytePipe> pipe,
                        std::shared_ptr<h264link::StreamStats> stats);
    void streamInfoReceived(const h264link::proto::StreamInfo &info);
    void sessionEnded(bool endOfStream, const QString &reason, const h264link::ConnectionStats &stats,
                      const h264link::proto::EndOfStream &sent);
    void connectionRefused(const QString &peer, const QString &reason);

private:
    void onNewConnection();
    void startSession(QTcpSocket *socket);
    void refuse(QTcpSocket *socket, const QString &reason);
    void park(QTcpSocket *socket);

    QTcpServer *m_server;
    QByteArray m_accessKey; // empty: anyone may send
    bool m_display;
    QPointer<ReceiverConnection> m_live; // receiving now
    bool m_busy = false;                 // a session's pipeline is still running
    QPointer<QTcpSocket> m_waiting;      // came while the last stream drained
};

} // namespace h264link

Q_DECLARE_METATYPE(std::shared_ptr<h264link::BytePipe>)
Q_DECLARE_METATYPE(std::shared_ptr<h264link::StreamStats>)
