#include "secure_channel.h"

#include <QMutex>
#include <QPasswordDigestor>
#include <algorithm>
#include <QSslCipher>
#include <QSslConfiguration>
#include <QSslPreSharedKeyAuthenticator>
#include <QTimer>

namespace h264link {

namespace securechannel {

QByteArray derivePsk(const QByteArray &accessKey)
{
    return QPasswordDigestor::deriveKeyPbkdf2(QCryptographicHash::Sha256, accessKey,
                                              QByteArray(kPskSalt), kPskIterations,
                                              kPskLength);
}

bool isAvailable(QString *why)
{
    if (!QSslSocket::supportsSsl()) {
        if (why)
            *why = QStringLiteral("this Qt has no TLS library (install libssl3), so an access key "
                                  "cannot be used");
        return false;
    }
    const auto ciphers = QSslConfiguration::supportedCiphers();
    const bool found = std::any_of(ciphers.cbegin(), ciphers.cend(), [](const QSslCipher &c) {
        return c.name() == QLatin1String(kCipher);
    });
    if (!found && why)
        *why = QStringLiteral("the TLS library (%1, backend %2) does not offer %3, which an access key "
                              "needs")
                   .arg(QSslSocket::sslLibraryVersionString(), QSslSocket::activeBackend(),
                        QLatin1String(kCipher));
    return found;
}

void preload()
{
    QSslSocket::supportsSsl();
    QSslConfiguration::defaultConfiguration();
}

Opening classifyOpening(const QByteArray &firstBytes)
{
    if (firstBytes.isEmpty())
        return Opening::Undecided;
    return firstBytes.at(0) == char(0x16) ? Opening::Tls : Opening::Plain;
}

} // namespace securechannel

using namespace securechannel;

namespace {

// Alerts that mean "your Finished (or binder) did not verify": the two
// sides derived different keys, so the access keys differ.
bool isKeyMismatchAlert(QSsl::AlertType type)
{
    return type == QSsl::AlertType::BadRecordMac || type == QSsl::AlertType::DecryptError
        || type == QSsl::AlertType::IllegalParameter || type == QSsl::AlertType::UnknownPskIdentity;
}

// derivePsk() once per process and key, not once per connection: a peer
// that keeps connecting must not make the receiver's network thread spend
// the derivation's time again and again.
QByteArray cachedPsk(const QByteArray &accessKey)
{
    static QMutex mutex;
    static QByteArray lastKey, lastPsk;
    const QMutexLocker lock(&mutex);
    if (lastPsk.isEmpty() || lastKey != accessKey) {
        lastPsk = derivePsk(accessKey);
        lastKey = accessKey;
    }
    return lastPsk;
}

const char kTampered[] = "the connection was altered in transit (a TLS record failed its integrity "
                         "check), so the session was closed: something between the two machines "
                         "changes bytes";

} // namespace

SecureChannel::SecureChannel(QSslSocket *socket, Role role, const QByteArray &accessKey)
    : QObject(socket), m_socket(socket), m_role(role), m_psk(cachedPsk(accessKey))
{
    Q_ASSERT(!accessKey.isEmpty());
    setObjectName(QStringLiteral("h264link.SecureChannel"));
    QSslConfiguration config = socket->sslConfiguration();
    config.setProtocol(QSsl::TlsV1_2);
    config.setCiphers(QString::fromLatin1(kCipher));
    config.setPeerVerifyMode(QSslSocket::VerifyNone); // the PSK authenticates, not a certificate
    socket->setSslConfiguration(config);

    // Direct: the authenticator is only valid during the emission, and in
    // blocking mode there is no event loop to deliver anything later.
    connect(socket, &QSslSocket::preSharedKeyAuthenticationRequired, this,
            [this](QSslPreSharedKeyAuthenticator *auth) {
                if (m_role == Role::Sender)
                    auth->setIdentity(kIdentity);
                auth->setPreSharedKey(m_psk);
            }, Qt::DirectConnection);
    connect(socket, &QSslSocket::alertReceived, this,
            [this](QSsl::AlertLevel, QSsl::AlertType type, const QString &) {
                if (type == QSsl::AlertType::CloseNotify)
                    return;
                m_alertReceived = type;
                m_anyAlertReceived = true;
            }, Qt::DirectConnection);
    connect(socket, &QSslSocket::alertSent, this,
            [this](QSsl::AlertLevel, QSsl::AlertType type, const QString &) {
                if (type == QSsl::AlertType::CloseNotify)
                    return;
                m_alertSent = type;
                m_anyAlertSent = true;
            }, Qt::DirectConnection);
    connect(socket, &QSslSocket::encrypted, this, [this] {
        // Only kCipher is configured; checked anyway, so that a change in
        // the TLS library's defaults cannot quietly give a weaker session.
        if (m_socket->sessionCipher().name() != QLatin1String(kCipher)) {
            // Not closed from inside the backend's own signal: the caller
            // closes it (isSecured() stays false, failed() was emitted).
            fail(QStringLiteral("the keyed handshake chose %1 instead of %2").arg(m_socket->sessionCipher().name(),
                                                                                QLatin1String(kCipher)));
            return;
        }
        m_secured = true;
        emit secured();
    }, Qt::DirectConnection);
    connect(socket, &QSslSocket::errorOccurred, this, &SecureChannel::onError, Qt::DirectConnection);
}

SecureChannel *SecureChannel::attach(QSslSocket *socket, Role role, const QByteArray &accessKey)
{
    Q_ASSERT(!of(socket));
    return new SecureChannel(socket, role, accessKey);
}

SecureChannel *SecureChannel::of(const QSslSocket *socket)
{
    return socket ? socket->findChild<SecureChannel *>(QStringLiteral("h264link.SecureChannel"),
                                                       Qt::FindDirectChildrenOnly)
                  : nullptr;
}

void SecureChannel::connectToReceiver(const QString &host, quint16 port)
{
    Q_ASSERT(m_role == Role::Sender);
    m_socket->connectToHostEncrypted(host, port);
}

void SecureChannel::startAsReceiver()
{
    Q_ASSERT(m_role == Role::Receiver);
    m_socket->startServerEncryption();
}

QString SecureChannel::failure() const
{
    if (!m_failure.isEmpty())
        return m_failure;
    // Nothing reported yet, but a blocking caller's waitFor* may have run
    // out of time: that is a failure too.
    if (!m_secured && m_socket->error() == QAbstractSocket::SocketTimeoutError)
        return m_role == Role::Sender
            ? QStringLiteral("the receiver accepted the connection but did not answer the keyed "
                             "handshake in time: is it an h264link receiver?")
            : QStringLiteral("the sender did not complete the keyed handshake in time");
    return {};
}

void SecureChannel::onError(QAbstractSocket::SocketError error)
{
    // A blocking caller's waitFor* ran out: its business (the sender polls
    // with short waits all through a session); failure() covers a
    // handshake that never finished.
    if (error == QAbstractSocket::SocketTimeoutError)
        return;
    const bool sender = m_role == Role::Sender;
    if (m_secured) {
        if (error == QAbstractSocket::RemoteHostClosedError && !m_anyAlertReceived)
            return; // a close after the session: the protocol above decides whether it was early
        if (isKeyMismatchAlert(m_alertReceived) || isKeyMismatchAlert(m_alertSent)
            || error == QAbstractSocket::SslInternalError)
            return fail(QString::fromLatin1(kTampered));
        return fail(QStringLiteral("connection error: %1").arg(m_socket->errorString()));
    }
    if (isKeyMismatchAlert(m_alertReceived) || isKeyMismatchAlert(m_alertSent))
        return fail(sender ? QStringLiteral("the access key does not match the receiver's: give both "
                                            "the same key (--key-file)")
                           : QStringLiteral("the sender's access key does not match this receiver's"));
    // No common cipher suite, or the other side has no PSK to give: an
    // ordinary TLS peer, or one not set up for a key.
    if ((m_anyAlertReceived && m_alertReceived == QSsl::AlertType::HandshakeFailure)
        || (m_anyAlertSent && m_alertSent == QSsl::AlertType::HandshakeFailure))
        return fail(sender ? QStringLiteral("the receiver did not take the keyed handshake (TLS handshake "
                                            "failure): is it an h264link receiver of this release, "
                                            "started with --key-file?")
                           : QStringLiteral("the peer's TLS handshake is not a keyed h264link one (TLS "
                                            "handshake failure): is it an h264link sender of this "
                                            "release, started with --key-file?"));
    switch (error) {
    case QAbstractSocket::RemoteHostClosedError:
    case QAbstractSocket::SslHandshakeFailedError:
        // No TLS alert came back: the peer does not speak TLS here. For
        // the sender that is a receiver without a key (or of release 1).
        return fail(sender ? QStringLiteral("the receiver has no access key (or a different one): it "
                                            "did not complete the keyed handshake; start it with the "
                                            "same --key-file, or this sender without a key")
                           : QStringLiteral("the sender did not complete the keyed handshake: %1")
                                 .arg(error == QAbstractSocket::RemoteHostClosedError
                                          ? QStringLiteral("it closed the connection")
                                          : m_socket->errorString()));
    default:
        return fail(QStringLiteral("connection error: %1").arg(m_socket->errorString()));
    }
}

void SecureChannel::fail(const QString &sentence)
{
    if (m_failed)
        return;
    m_failed = true;
    m_failure = sentence;
    emit failed(sentence);
}

// ---- IncomingChannel ----------------------------------------------------------

IncomingChannel::IncomingChannel(QSslSocket *socket, const QByteArray &accessKey, int timeoutMs)
    : QObject(socket), m_socket(socket), m_key(accessKey), m_deadline(new QTimer(this)), m_timeoutMs(timeoutMs)
{
    m_deadline->setSingleShot(true);
    connect(m_deadline, &QTimer::timeout, this, [this] {
        const QString seconds = QString::number(m_timeoutMs / 1000.0);
        refuse(m_decided ? QStringLiteral("the sender did not complete the keyed handshake within %1 s").arg(seconds)
                         : QStringLiteral("the peer connected but sent nothing for %1 s").arg(seconds));
    });
    m_deadline->start(m_timeoutMs);
    connect(socket, &QSslSocket::readyRead, this, &IncomingChannel::examine);
    connect(socket, &QSslSocket::disconnected, this, [this] {
        if (!m_decided)
            refuse(QStringLiteral("the peer closed the connection before sending anything"));
    });
    // Bytes may be here already (they arrived before we were connected).
    QMetaObject::invokeMethod(this, &IncomingChannel::examine, Qt::QueuedConnection);
}

void IncomingChannel::examine()
{
    if (m_decided)
        return;
    // QSslSocket peeks an unencrypted socket's own buffer, so the bytes
    // are still there for the TLS engine or the protocol decoder.
    const Opening opening = classifyOpening(m_socket->peek(1));
    if (opening == Opening::Undecided)
        return;
    m_decided = true;
    if (opening == Opening::Plain) {
        done();
        emit ready(Channel::Plain);
        return;
    }
    if (m_key.isEmpty()) {
        refuse(QStringLiteral("a sender with an access key connected, but this receiver has none: start "
                              "it with the same --key-file, or the sender without a key"));
        return;
    }
    SecureChannel *channel = SecureChannel::attach(m_socket, SecureChannel::Role::Receiver, m_key);
    connect(channel, &SecureChannel::secured, this, [this] {
        done();
        emit ready(Channel::Keyed);
    });
    // Queued: closing the socket from inside its own error signal would
    // pull the TLS state from under the backend that is emitting it.
    connect(channel, &SecureChannel::failed, this, [this](const QString &sentence) {
        if (m_deadline->isActive()) // still ours: the handshake failed
            refuse(sentence);
    }, Qt::QueuedConnection);
    channel->startAsReceiver();
}

void IncomingChannel::refuse(const QString &sentence)
{
    done();
    // Read what is there before closing, so that the close is a FIN and
    // not a reset that could destroy what the peer has not read yet.
    if (m_socket->isOpen() && !m_socket->isEncrypted())
        m_socket->readAll();
    emit refused(sentence);
    m_socket->disconnectFromHost();
}

void IncomingChannel::done()
{
    m_deadline->stop();
    disconnect(m_socket, nullptr, this, nullptr);
}

} // namespace h264link
