#include "stream_server.h"

#include "dial_target.h"
#include "logging.h"

#include "secure_channel.h"

#include <QSslSocket>
#include <QTcpServer>
#include <QTimer>

namespace h264link {

using namespace proto;

namespace {

// Accepts every connection as a QSslSocket (unencrypted until
// IncomingChannel sees a ClientHello); nextPendingConnection() returns it.
class SslServer : public QTcpServer {
public:
    using QTcpServer::QTcpServer;

protected:
    void incomingConnection(qintptr descriptor) override
    {
        auto *socket = new QSslSocket(this);
        if (socket->setSocketDescriptor(descriptor))
            addPendingConnection(socket);
        else
            delete socket; // gone before we took it: nothing to answer
    }
};

} // namespace

StreamServer::StreamServer(QByteArray accessKey, bool display, bool audio, bool everyFrameWanted,
                           QObject *parent)
    : QObject(parent), m_server(new SslServer(this)), m_accessKey(std::move(accessKey)),
      m_display(display), m_audio(audio), m_everyFrameWanted(everyFrameWanted)
{
    qRegisterMetaType<std::shared_ptr<StreamInput>>();
    qRegisterMetaType<std::shared_ptr<StreamStats>>();
    connect(m_server, &QTcpServer::newConnection, this, &StreamServer::onNewConnection);
}

StreamServer::~StreamServer() = default;

QString StreamServer::listen(const QHostAddress &address, quint16 port)
{
    securechannel::preload(); // every connection is a QSslSocket
    if (m_server->listen(address, port))
        return {};
    if (m_server->serverError() == QAbstractSocket::SocketAddressNotAvailableError)
        return QStringLiteral("cannot listen on %1: no interface of this machine has that address. "
                              "Leave out --listen, or give one of the addresses 'ip address' lists.")
            .arg(address.toString());
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

// First what the connection is (IncomingChannel: TLS-PSK or plain, at most
// kOpeningTimeoutMs), then the busy check.
void StreamServer::onNewConnection()
{
    while (QTcpSocket *accepted = m_server->nextPendingConnection())
        examine(static_cast<QSslSocket *>(accepted)); // SslServer makes only these
}

void StreamServer::examine(QSslSocket *socket)
{
    const QString peer = peerName(*socket);
    auto *incoming = new IncomingChannel(socket, m_accessKey);
    connect(incoming, &IncomingChannel::ready, this,
            [this, socket](Channel channel) { onChannelReady(socket, channel); });
    connect(incoming, &IncomingChannel::refused, this, [this, socket, peer](const QString &why) {
        // It closes the socket itself; bounded in case the peer never
        // lets the close finish.
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        QTimer::singleShot(kRefuseGraceMs, socket, [socket] { socket->abort(); socket->deleteLater(); });
        emit connectionRefused(peer, why);
    });
}

void StreamServer::dial(const QString &host, quint16 port)
{
    if (m_shuttingDown || m_dialing)
        return;
    auto *socket = new QSslSocket(this);
    m_dialing = socket;
    const DialTarget target{host, port, kDialTimeoutMs, QStringLiteral("a sender serving there (sender FILE --serve)")};
    const auto fail = [this, socket, target](QAbstractSocket::SocketError error) {
        if (m_dialing != socket)
            return; // connected meanwhile: the session owns it now
        m_dialing = nullptr;
        const QString text = socket->errorString();
        socket->abort();
        socket->deleteLater();
        emit dialFailed(connectFailure(target, error, text));
    };
    connect(socket, &QAbstractSocket::errorOccurred, this, fail);
    QTimer::singleShot(kDialTimeoutMs, socket, [fail] { fail(QAbstractSocket::SocketTimeoutError); });
    connect(socket, &QAbstractSocket::connected, this, [this, socket] {
        m_dialing = nullptr;
        socket->disconnect(this); // from here on its errors are the session's
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1); // our PONGs and RECEIVED, unbatched
        examine(socket);
    });
    socket->connectToHost(host, port);
}

void StreamServer::onChannelReady(QSslSocket *socket, Channel channel)
{
    if (m_shuttingDown) // its turn will not come
        refuse(socket, ErrShuttingDown, QStringLiteral("the receiver was closed"));
    else if (!m_busy)
        startSession(socket, channel);
    else if ((!m_live || m_live->isDraining()) && !m_waiting)
        park(socket, channel); // the last stream is all here and draining; this one is next
    else
        refuse(socket, ErrBusy, QStringLiteral("busy: another sender is streaming to this receiver"));
}

void StreamServer::startSession(QTcpSocket *socket, Channel channel)
{
    m_busy = true;
    auto input = std::make_shared<StreamInput>(kQueueCapacity);
    auto streamStats = std::make_shared<StreamStats>(m_display);
    m_live = new ReceiverConnection(socket, input, streamStats, m_accessKey, channel, m_name, m_audio,
                                    m_everyFrameWanted, this);
    connect(m_live, &ReceiverConnection::streamInfoReceived, this, &StreamServer::streamInfoReceived);
    connect(m_live, &ReceiverConnection::finished, this,
            [this, connection = m_live.data()](bool eos, const QString &reason,
                                               const ConnectionStats &stats, const EndOfStream &sent) {
                if (m_live == connection)
                    m_live = nullptr; // over, even before deleteLater() runs
                emit sessionEnded(eos, reason, stats, sent);
                connection->deleteLater();
                finishShutDownIfDone();
            });
    emit sessionStarted(m_live->peer(), input, streamStats);
}

// Parked connections are watched: one that goes away before its turn is
// dropped, never started as a session on a dead socket.
void StreamServer::park(QTcpSocket *socket, Channel channel)
{
    m_waiting = socket;
    m_waitingChannel = channel;
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
            startSession(next, m_waitingChannel);
        else
            next->deleteLater();
    }
}

void StreamServer::pipelineFinished(const PipelineResult &result)
{
    if (m_live)
        m_live->onPipelineFinished(result);
}

void StreamServer::shutDown()
{
    if (m_shuttingDown)
        return;
    m_shuttingDown = true;
    m_server->close();
    if (QSslSocket *dialing = m_dialing) { // nobody is there yet to say goodbye to
        m_dialing = nullptr;
        dialing->abort();
        dialing->deleteLater();
    }
    if (QTcpSocket *next = m_waiting) { // its turn will not come: it hears why, as a refused one does
        m_waiting = nullptr;
        next->disconnect(this);
        refuse(next, ErrShuttingDown, QStringLiteral("the receiver was closed"));
    }
    if (m_live)
        m_live->shutDown(); // finished() follows, and with it finishShutDownIfDone()
    else
        QMetaObject::invokeMethod(this, &StreamServer::finishShutDownIfDone, Qt::QueuedConnection);
}

void StreamServer::finishShutDownIfDone()
{
    if (m_shuttingDown && !m_shutDownFinished && !m_live && m_refusing == 0) {
        m_shutDownFinished = true;
        emit shutDownFinished();
    }
}

// Refusing must not lose its reason. Closing with the sender's HELLO unread
// would reset the connection, and the reset can destroy our ERROR before the
// sender reads it. So: read its HELLO (or give up on it after a while or too
// many bytes), answer HELLO + ERROR busy, then read and drop until the
// sender hangs up, and only then close. All within kRefuseGraceMs.
void StreamServer::refuse(QTcpSocket *socket, quint16 code, const QString &reason)
{
    const QString peer = peerName(*socket);
    socket->setParent(this);
    ++m_refusing;
    // Children are deleted after ~QObject has disconnected this receiver, so
    // this never runs on a half-destroyed server.
    connect(socket, &QObject::destroyed, this, [this] {
        --m_refusing;
        finishShutDownIfDone();
    });
    auto decoder = std::make_shared<MessageDecoder>();
    auto answered = std::make_shared<bool>(false);
    auto bytesRead = std::make_shared<qint64>(0);
    auto answer = [socket, code, reason, answered] {
        if (*answered)
            return;
        *answered = true;
        MessageWriter writer;
        socket->write(writer.encode(MessageType::Hello, serialize(Hello{})));
        socket->write(writer.encode(MessageType::Error, serialize(ErrorInfo{code, reason})));
        socket->flush();
    };
    auto onReadable = [socket, decoder, bytesRead, answered, answer] {
        const QByteArray bytes = socket->readAll();
        *bytesRead += bytes.size();
        if (*answered)
            return; // dropped: only waiting for the close now
        const bool ok = decoder->feed(bytes);
        bool helloIn = false;
        while (decoder->hasMessage())
            helloIn = decoder->takeMessage().type == MessageType::Hello || helloIn;
        if (helloIn || !ok || *bytesRead > kRefuseMaxBytes)
            answer();
    };
    connect(socket, &QTcpSocket::readyRead, socket, onReadable);
    connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    QTimer::singleShot(kRefuseGraceMs / 2, socket, answer); // a peer that never says HELLO
    QTimer::singleShot(kRefuseGraceMs, socket, [socket] { socket->abort(); socket->deleteLater(); });
    onReadable();
    emit connectionRefused(peer, reason);
}

} // namespace h264link
