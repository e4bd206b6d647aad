#include "receiver_connection.h"

#include "logging.h"

#include <QTcpSocket>
#include <QTimer>

namespace h264link {

using namespace proto;

QString peerName(const QAbstractSocket &socket)
{
    // A dual-stack server sees IPv4 peers as ::ffff:a.b.c.d; show them as a.b.c.d.
    QHostAddress address = socket.peerAddress();
    bool isV4 = false;
    const quint32 v4 = address.toIPv4Address(&isV4);
    if (isV4)
        address = QHostAddress(v4);
    return QStringLiteral("%1:%2").arg(address.toString()).arg(socket.peerPort());
}

ReceiverConnection::ReceiverConnection(QTcpSocket *socket, std::shared_ptr<BytePipe> pipe,
                                       const QByteArray &key, QObject *parent)
    : QObject(parent), m_socket(socket), m_pipe(std::move(pipe)),
      m_handshakeTimer(new QTimer(this)),
      m_handshake(key, QStringLiteral("h264link-receiver " H264LINK_VERSION))
{
    qRegisterMetaType<ConnectionStats>();
    qRegisterMetaType<StreamInfo>();
    qRegisterMetaType<EndOfStream>();
    m_socket->setParent(this);
    m_peer = peerName(*m_socket);
    m_socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    connect(m_socket, &QTcpSocket::readyRead, this, &ReceiverConnection::onReadyRead);
    connect(m_socket, &QTcpSocket::disconnected, this, [this] {
        onReadyRead(); // what arrived before the close still counts
        finish(false, QStringLiteral("sender disconnected"));
    });
    connect(m_socket, &QTcpSocket::errorOccurred, this, [this](QAbstractSocket::SocketError e) {
        if (e != QAbstractSocket::RemoteHostClosedError)
            finish(false, QStringLiteral("connection error: %1").arg(m_socket->errorString()));
    });

    m_handshakeTimer->setSingleShot(true);
    connect(m_handshakeTimer, &QTimer::timeout, this, [this] {
        send(MessageType::Error, serialize(ErrorInfo{ErrTimeout, QStringLiteral("handshake timed out")}));
        finish(false, QStringLiteral("no complete h264link handshake within %1 s")
                          .arg(kHandshakeTimeoutMs / 1000));
    });
    m_handshakeTimer->start(kHandshakeTimeoutMs);
    apply(m_handshake.start());
    QMetaObject::invokeMethod(this, &ReceiverConnection::onReadyRead, Qt::QueuedConnection);
}

ReceiverConnection::~ReceiverConnection()
{
    m_pipe->finish();
}

void ReceiverConnection::close()
{
    finish(false, QStringLiteral("closed by the receiver"));
}

void ReceiverConnection::onReadyRead()
{
    while (!m_finished && m_socket->bytesAvailable() > 0) {
        const QByteArray bytes = m_socket->read(64 * 1024);
        m_stats.bytesReceived += quint64(bytes.size());
        const bool ok = m_decoder.feed(bytes);
        while (m_decoder.hasMessage() && !m_finished)
            handle(m_decoder.takeMessage());
        if (!ok) {
            const QString reason = QStringLiteral("protocol error from %1: %2")
                                       .arg(m_peer, m_decoder.errorString());
            send(MessageType::Error, serialize(ErrorInfo{ErrProtocol, m_decoder.errorString()}));
            finish(false, reason);
        }
    }
}

void ReceiverConnection::handle(const Message &message)
{
    m_stats.sequenceGaps = m_decoder.sequenceGaps();
    if (!m_handshake.isDone()) {
        apply(m_handshake.onMessage(message)); // nothing else counts before ACCEPTED
        return;
    }
    switch (message.type) {
    case MessageType::StreamInfo:
        if (const auto info = parseStreamInfo(message.payload))
            emit streamInfoReceived(*info);
        else
            ++m_stats.malformedMessages;
        break;
    case MessageType::Media: {
        const auto media = parseMedia(message.payload);
        if (!media) {
            ++m_stats.malformedMessages;
            break;
        }
        ++m_stats.mediaMessages;
        m_stats.mediaBytes += quint64(media->data.size());
        if (message.flags & AccessUnitEnd)
            ++m_stats.accessUnits;
        if (!m_pipe->push(media->data))
            finish(false, QStringLiteral("the decoder stopped"));
        break;
    }
    case MessageType::EndOfStream:
        m_sent = parseEndOfStream(message.payload).value_or(EndOfStream{});
        finish(true, QStringLiteral("end of stream"));
        break;
    case MessageType::Ping:
        send(MessageType::Pong, serialize(Pong{message.sequence, message.timestampUs}));
        break;
    case MessageType::Error:
        finish(false, QStringLiteral("the sender reported: %1")
                          .arg(parseErrorInfo(message.payload).value_or(ErrorInfo{}).reason));
        break;
    case MessageType::Pong:
        break;
    case MessageType::Hello:
    case MessageType::AuthChallenge:
    case MessageType::AuthResponse:
    case MessageType::Accepted:
        send(MessageType::Error, serialize(ErrorInfo{ErrUnexpected, QStringLiteral("handshake is over")}));
        finish(false, QStringLiteral("%1 sent %2 after the handshake").arg(m_peer, typeName(message.type)));
        break;
    }
}

void ReceiverConnection::apply(const HandshakeStep &step)
{
    for (const auto &out : step.send)
        send(out.type, out.payload);
    if (step.verdict == HandshakeStep::Refused) {
        finish(false, QStringLiteral("refused %1: %2").arg(m_peer, step.reason));
    } else if (step.verdict == HandshakeStep::Accepted) {
        m_handshakeTimer->stop();
        qCDebug(lcReceiver).noquote() << "sender" << m_peer << "is" << m_handshake.senderSoftware();
    }
}

void ReceiverConnection::send(MessageType type, const QByteArray &payload)
{
    if (m_socket->state() == QAbstractSocket::ConnectedState)
        m_socket->write(m_writer.encode(type, payload));
}

void ReceiverConnection::finish(bool endOfStream, const QString &reason)
{
    if (m_finished)
        return;
    m_finished = true;
    m_handshakeTimer->stop();
    m_pipe->finish(); // the demuxer drains what arrived, then sees end of file
    m_socket->disconnect(this);
    m_socket->flush();
    m_socket->disconnectFromHost();
    emit finished(endOfStream, reason, m_stats, m_sent);
}

} // namespace h264link
