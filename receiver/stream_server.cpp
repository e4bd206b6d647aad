#include "stream_server.h"

#include "logging.h"

#include <QTcpServer>
#include <QTcpSocket>

namespace h264link {

using namespace proto;

StreamServer::StreamServer(QByteArray accessKey, bool display, QObject *parent)
    : QObject(parent), m_server(new QTcpServer(this)), m_accessKey(std::move(accessKey)),
      m_display(display)
{
    qRegisterMetaType<std::shared_ptr<BytePipe>>();
    qRegisterMetaType<std::shared_ptr<StreamStats>>();
    connect(m_server, &QTcpServer::newConnection, this, &StreamServer::onNewConnection);
}

StreamServer::~StreamServer() = default;

QString StreamServer::listen(quint16 port)
{
    if (m_server->listen(QHostAddress::Any, port))
        return {};
    if (m_server->serverError() == QAbstractSocket::AddressInUseError)
        return QStringLiteral("cannot listen on port %1: it is already in use (another receiver?). "
                              "Choose a free port with --port.").arg(port);
    if (m_server->serverError() == QAbstractSocket::SocketAccessError)
        return QStringLiteral("cannot listen on port %1: permission denied (ports below 1024 need "
                              "privileges). Choose a port above 1024 with --port.").arg(port);
    return QStringLiteral("cannot listen on port %1: %2").arg(port).arg(m_server->errorString());
}

quint16 StreamServer::port() const
{
    return m_server->serverPort();
}

void StreamServer::onNewConnection()
{
    while (QTcpSocket *socket = m_server->nextPendingConnection()) {
        if (!m_busy)
            startSession(socket);
        else if ((!m_live || m_live->isDraining()) && !m_waiting)
            park(socket); // the last stream is all here and draining; this one is next
        else
            refuse(socket, QStringLiteral("busy: another sender is streaming to this receiver"));
    }
}

void StreamServer::startSession(QTcpSocket *socket)
{
    m_busy = true;
    auto pipe = std::make_shared<BytePipe>(kPipeCapacity);
    pipe->open(QIODevice::ReadOnly);
    auto streamStats = std::make_shared<StreamStats>(m_display);
    m_live = new ReceiverConnection(socket, pipe, streamStats, m_accessKey, this);
    connect(m_live, &ReceiverConnection::streamInfoReceived, this, &StreamServer::streamInfoReceived);
    connect(m_live, &ReceiverConnection::finished, this,
            [this, connection = m_live.data()](bool eos, const QString &reason,
                                               const ConnectionStats &stats, const EndOfStream &sent) {
                emit sessionEnded(eos, reason, stats, sent);
                connection->deleteLater();
            });
    emit sessionStarted(m_live->peer(), pipe, streamStats);
}

// Parked connections are watched: one that goes away before its turn is
// dropped, never started as a session on a dead socket.
void StreamServer::park(QTcpSocket *socket)
{
    m_waiting = socket;
    connect(socket, &QTcpSocket::disconnected, this, [this, socket] {
        if (m_waiting == socket)
            m_waiting = nullptr;
        socket->deleteLater();
    });
}

void StreamServer::setIdle()
{
    m_busy = false;
    if (QTcpSocket *next = m_waiting) {
        m_waiting = nullptr;
        next->disconnect(this);
        if (next->state() == QAbstractSocket::ConnectedState)
            startSession(next);
        else
            next->deleteLater();
    }
}

void StreamServer::refuse(QTcpSocket *socket, const QString &reason)
{
    const QString peer = peerName(*socket);
    MessageWriter writer;
    socket->write(writer.encode(MessageType::Hello, serialize(Hello{})));
    socket->write(writer.encode(MessageType::Error, serialize(ErrorInfo{ErrBusy, reason})));
    socket->disconnectFromHost();
    connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    emit connectionRefused(peer, reason);
}

} // namespace h264link
