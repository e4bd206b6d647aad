#include "handshake.h"

namespace h264link {

using namespace proto;

namespace {

HandshakeStep::Outgoing errorMessage(quint16 code, const QString &reason)
{
    return {MessageType::Error, serialize(ErrorInfo{code, reason})};
}

// Both sides open with HELLO.
HandshakeStep helloStep(const QString &software, const QString &name = {})
{
    Hello hello;
    hello.software = software;
    hello.name = name;
    HandshakeStep step;
    step.send.push_back({MessageType::Hello, serialize(hello)});
    return step;
}

// "this sender speaks protocol 2, the receiver only 1: update the receiver".
// `us`/`peer` name the two sides from where the sentence is read; the
// update goes to the side whose versions are all older.
QString versionMismatch(const QString &us, const QString &peer, const Hello &theirs)
{
    const bool peerIsOlder = theirs.maxVersion < kMinVersion;
    return QStringLiteral("%1 speaks protocol %2, %3 only %4: update %5")
        .arg(us, versionRange(kMinVersion, kVersion), peer,
             versionRange(theirs.minVersion, theirs.maxVersion), peerIsOlder ? peer : us);
}

} // namespace

// ---- Receiver ---------------------------------------------------------------

ReceiverHandshake::ReceiverHandshake(QByteArray key, QString software, Channel channel)
    : m_keyRequired(!key.isEmpty()), m_software(std::move(software)), m_channel(channel)
{
}

HandshakeStep ReceiverHandshake::start()
{
    return helloStep(m_software, m_name);
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
    if (m_state == State::Done)
        return {};
    if (m.type != MessageType::Hello)
        return refuse(ErrUnexpected, QStringLiteral("HELLO expected first"),
                      QStringLiteral("the sender sent %1 before HELLO").arg(typeName(m.type)));
    const auto hello = parseHello(m.payload);
    if (!hello)
        return refuse(ErrProtocol, QStringLiteral("malformed HELLO"),
                      QStringLiteral("the sender sent a malformed HELLO"));
    // Versions first: a sender of another release may not know keys work
    // differently there, and updating is what helps it.
    const auto version = negotiateVersion(hello->minVersion, hello->maxVersion);
    if (!version)
        return refuse(ErrVersion,
                      versionMismatch(QStringLiteral("the receiver"), QStringLiteral("the sender"), *hello),
                      versionMismatch(QStringLiteral("this receiver"), QStringLiteral("the sender"), *hello));
    m_version = *version;
    m_senderSoftware = hello->software;
    if (m_keyRequired && m_channel != Channel::Keyed)
        return refuse(ErrAuthRequired,
                      QStringLiteral("this receiver requires an access key: start the sender with "
                                     "--key-file (or H264LINK_KEY)"),
                      QStringLiteral("the sender came without an access key, and this receiver "
                                     "requires one"));
    m_state = State::Done;
    HandshakeStep step;
    step.send.push_back({MessageType::Accepted, {}});
    step.verdict = HandshakeStep::Accepted;
    return step;
}

// ---- Sender -----------------------------------------------------------------

SenderHandshake::SenderHandshake(QString software) : m_software(std::move(software)) {}

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
        if (!hello) {
            step.send.push_back(errorMessage(ErrProtocol, QStringLiteral("malformed HELLO")));
            return refuse(QStringLiteral("the receiver sent a malformed HELLO"));
        }
        const auto version = negotiateVersion(hello->minVersion, hello->maxVersion);
        if (!version) {
            step.send.push_back(errorMessage(
                ErrVersion, versionMismatch(QStringLiteral("the sender"), QStringLiteral("the receiver"), *hello)));
            return refuse(versionMismatch(QStringLiteral("this sender"), QStringLiteral("the receiver"), *hello));
        }
        m_version = *version;
        m_receiverName = hello->name;
        return step;
    }
    case MessageType::Accepted:
        if (m_version == 0)
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
