#include "handshake.h"

#include <QCryptographicHash>
#include <QMessageAuthenticationCode>
#include <QRandomGenerator>

namespace h264link {

using namespace proto;

namespace {

constexpr char kAuthContext[] = "h264link/1 access key";

bool versionsOverlap(const Hello &h)
{
    return h.minVersion <= kVersion && h.maxVersion >= kVersion;
}

// Compares MACs without an early exit, so timing says nothing about where
// a guess went wrong.
bool constantTimeEquals(const QByteArray &a, const QByteArray &b)
{
    if (a.size() != b.size())
        return false;
    uchar diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= uchar(a[i] ^ b[i]);
    return diff == 0;
}

HandshakeStep::Outgoing errorMessage(quint16 code, const QString &reason)
{
    return {MessageType::Error, serialize(ErrorInfo{code, reason})};
}

// Both sides open with HELLO.
HandshakeStep helloStep(const QString &software)
{
    Hello hello;
    hello.software = software;
    HandshakeStep step;
    step.send.push_back({MessageType::Hello, serialize(hello)});
    return step;
}

} // namespace

QByteArray authResponse(const QByteArray &key, const QByteArray &nonce)
{
    QMessageAuthenticationCode mac(QCryptographicHash::Sha256, key);
    mac.addData(kAuthContext, sizeof kAuthContext - 1);
    mac.addData(nonce);
    return mac.result();
}

// ---- Receiver ---------------------------------------------------------------

ReceiverHandshake::ReceiverHandshake(QByteArray key, QString software)
    : m_key(std::move(key)), m_software(std::move(software))
{
}

HandshakeStep ReceiverHandshake::start()
{
    return helloStep(m_software);
}

HandshakeStep ReceiverHandshake::refuse(quint16 code, const QString &toPeer, const QString &here)
{
    m_state = State::Done;
    HandshakeStep step;
    step.send.push_back(errorMessage(code, toPeer));
    step.verdict = HandshakeStep::Refused;
    step.reason = here;
    return step;
}

HandshakeStep ReceiverHandshake::onMessage(const Message &m)
{
    switch (m_state) {
    case State::AwaitHello: {
        if (m.type != MessageType::Hello)
            return refuse(ErrUnexpected, QStringLiteral("HELLO expected first"),
                          QStringLiteral("the sender sent %1 before HELLO").arg(typeName(m.type)));
        const auto hello = parseHello(m.payload);
        if (!hello)
            return refuse(ErrProtocol, QStringLiteral("malformed HELLO"),
                          QStringLiteral("the sender sent a malformed HELLO"));
        if (!versionsOverlap(*hello))
            return refuse(ErrVersion,
                          QStringLiteral("this receiver speaks protocol version %1 only").arg(kVersion),
                          QStringLiteral("the sender speaks protocol versions %1..%2, this receiver %3: "
                                         "update both to the same release")
                              .arg(hello->minVersion).arg(hello->maxVersion).arg(kVersion));
        m_senderSoftware = hello->software;
        HandshakeStep step;
        if (m_key.isEmpty()) {
            m_state = State::Done;
            step.send.push_back({MessageType::Accepted, {}});
            step.verdict = HandshakeStep::Accepted;
            return step;
        }
        m_nonce.resize(kNonceSize);
        QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(m_nonce.data()),
                                              kNonceSize / 4);
        m_state = State::AwaitResponse;
        step.send.push_back({MessageType::AuthChallenge, m_nonce});
        return step;
    }
    case State::AwaitResponse: {
        if (m.type != MessageType::AuthResponse)
            return refuse(ErrAuthRequired,
                          QStringLiteral("this receiver requires an access key: start the sender with "
                                         "--key (or H264LINK_KEY)"),
                          QStringLiteral("the sender did not answer the access-key challenge "
                                         "(it has no key, or is too old)"));
        if (!constantTimeEquals(m.payload, authResponse(m_key, m_nonce)))
            return refuse(ErrAuthFailed, QStringLiteral("wrong access key"),
                          QStringLiteral("the sender's access key is wrong"));
        m_state = State::Done;
        HandshakeStep step;
        step.send.push_back({MessageType::Accepted, {}});
        step.verdict = HandshakeStep::Accepted;
        return step;
    }
    case State::Done:
        break;
    }
    return {};
}

// ---- Sender -----------------------------------------------------------------

SenderHandshake::SenderHandshake(QByteArray key, QString software)
    : m_key(std::move(key)), m_software(std::move(software))
{
}

HandshakeStep SenderHandshake::start()
{
    return helloStep(m_software);
}

HandshakeStep SenderHandshake::onMessage(const Message &m)
{
    HandshakeStep step;
    if (m_done)
        return step;
    auto refuse = [&](const QString &reason) {
        m_done = true;
        step.verdict = HandshakeStep::Refused;
        step.reason = reason;
        return step;
    };
    switch (m.type) {
    case MessageType::Hello: {
        const auto hello = parseHello(m.payload);
        if (!hello || !versionsOverlap(*hello))
            return refuse(QStringLiteral("the receiver speaks protocol versions %1..%2, this sender %3: "
                                         "update both to the same release")
                              .arg(hello ? hello->minVersion : 0).arg(hello ? hello->maxVersion : 0)
                              .arg(kVersion));
        m_helloSeen = true;
        return step;
    }
    case MessageType::AuthChallenge:
        if (!m_helloSeen)
            return refuse(QStringLiteral("the receiver broke the handshake (challenge before HELLO)"));
        if (m_key.isEmpty())
            return refuse(QStringLiteral("the receiver requires an access key: give it with --key, "
                                         "--key-file or H264LINK_KEY"));
        if (m.payload.size() != kNonceSize)
            return refuse(QStringLiteral("the receiver sent a malformed access-key challenge"));
        step.send.push_back({MessageType::AuthResponse, authResponse(m_key, m.payload)});
        return step;
    case MessageType::Accepted:
        if (!m_helloSeen)
            return refuse(QStringLiteral("the receiver broke the handshake (ACCEPTED before HELLO)"));
        m_done = true;
        step.verdict = HandshakeStep::Accepted;
        return step;
    case MessageType::Error: {
        const ErrorInfo error = parseErrorInfo(m.payload).value_or(ErrorInfo{});
        step.peerErrorCode = error.code;
        // A receiver that failed right after ACCEPTED (its output, say) is
        // not refusing: say what it says.
        if (error.code == ErrReceiverFailed)
            return refuse(QStringLiteral("the receiver stopped the stream: %1").arg(error.reason));
        return refuse(QStringLiteral("the receiver refused: %1").arg(error.reason));
    }
    case MessageType::Ping:
        step.send.push_back({MessageType::Pong, serialize(Pong{m.sequence, m.timestampUs})});
        return step;
    default:
        return refuse(QStringLiteral("the receiver sent %1 during the handshake").arg(typeName(m.type)));
    }
}

} // namespace h264link
