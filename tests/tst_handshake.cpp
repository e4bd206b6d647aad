// The handshake state machines, driven directly: HELLO both ways, version
// negotiation against today's v1 bytes, the keyed channel, and every way to
// be refused.
#include "handshake.h"
#include "message_decoder.h"
#include "protocol.h"

#include <QtTest>
#include <deque>

using namespace h264link;
using namespace h264link::proto;

namespace {

Message message(MessageType type, const QByteArray &payload = {})
{
    Message m;
    m.type = type;
    m.payload = payload;
    return m;
}

struct Outcome {
    HandshakeStep::Verdict receiver = HandshakeStep::Continue;
    HandshakeStep::Verdict sender = HandshakeStep::Continue;
    QString receiverReason;
    QString senderReason;
    QByteArray wire; // every byte both sides sent, as encoded on the wire
};

// Runs both machines against each other until neither has anything to say.
Outcome run(ReceiverHandshake &receiver, SenderHandshake &sender)
{
    Outcome o;
    std::deque<Message> toReceiver, toSender;
    MessageWriter rw, sw;
    auto post = [&](const HandshakeStep &step, std::deque<Message> &queue, MessageWriter &writer,
                    HandshakeStep::Verdict &verdict, QString &reason) {
        for (const auto &out : step.send) {
            o.wire += writer.encode(out.type, out.payload);
            queue.push_back(message(out.type, out.payload));
        }
        if (step.verdict != HandshakeStep::Continue) {
            verdict = step.verdict;
            reason = step.reason;
        }
    };
    post(receiver.start(), toSender, rw, o.receiver, o.receiverReason);
    post(sender.start(), toReceiver, sw, o.sender, o.senderReason);
    for (int guard = 0; guard < 20 && (!toReceiver.empty() || !toSender.empty()); ++guard) {
        if (!toReceiver.empty() && !receiver.isDone()) {
            post(receiver.onMessage(toReceiver.front()), toSender, rw, o.receiver, o.receiverReason);
        }
        if (!toReceiver.empty())
            toReceiver.pop_front();
        if (!toSender.empty() && !sender.isDone())
            post(sender.onMessage(toSender.front()), toReceiver, sw, o.sender, o.senderReason);
        if (!toSender.empty())
            toSender.pop_front();
    }
    return o;
}


// Exactly what a v1 build (h264link 0.1.0, protocol 1, before version
// negotiation) writes, captured from that build with the header timestamp
// zeroed: HELLO 1..1 in a version-1 header, and the v1 receiver's ERROR.
const QByteArray kV1SenderHello = QByteArray::fromHex(
    "48324c4b010100000000000000000000000000000000001d0101000000070015683236346c696e6b2d73656e646572"
    "20302e312e30");
const QByteArray kV1ReceiverHello = QByteArray::fromHex(
    "48324c4b010100000000000000000000000000000000001f0101000000070017683236346c696e6b2d7265636569"
    "76657220302e312e30");
const QByteArray kV1ReceiverError = QByteArray::fromHex(
    "48324c4b01070000000000010000000000000000000000300003002c7468697320726563656976657220737065616b"
    "732070726f746f636f6c2076657273696f6e2031206f6e6c79");

// A v1 build's rules for what it reads, as its code had them: every header
// must say version 1 (checkHeaderPrefix), and a HELLO overlaps when its range
// contains 1 (versionsOverlap). True when a v1 peer can read every message
// in `wire`; `hellos` gets the HELLOs it would see.
bool v1CanRead(const QByteArray &wire, QList<Hello> *hellos = nullptr, QList<ErrorInfo> *errors = nullptr)
{
    for (qsizetype pos = 0; pos < wire.size();) {
        if (wire.size() - pos < kHeaderSize)
            return false;
        const Header h = readHeader(wire.constData() + pos);
        if (h.magic != kMagic || h.version != 1 || h.type < 1 || h.type > 0x0B)
            return false;
        const QByteArray payload = wire.mid(pos + kHeaderSize, h.payloadLength);
        if (h.type == quint8(MessageType::Hello) && hellos)
            hellos->append(parseHello(payload).value_or(Hello{}));
        if (h.type == quint8(MessageType::Error) && errors)
            errors->append(parseErrorInfo(payload).value_or(ErrorInfo{}));
        pos += kHeaderSize + h.payloadLength;
    }
    return true;
}
bool v1Overlaps(const Hello &h)
{
    return h.minVersion <= 1 && h.maxVersion >= 1;
}

QByteArray encodeAll(const HandshakeStep &step, MessageWriter &writer)
{
    QByteArray wire;
    for (const auto &out : step.send)
        wire += writer.encode(out.type, out.payload);
    return wire;
}

} // namespace

class TestHandshake : public QObject {
    Q_OBJECT
private slots:
    void withoutKeyBothAccept();
    void keyedChannelIsAcceptedWithoutChallenge();
    void keyedReceiverRefusesPlainChannel();
    void v1SenderMeetsV2Receiver();
    void v2SenderMeetsV1Receiver();
    void futureVersionsAreReadAndNegotiated();
    void futureOnlyPeerIsToldToUpdateUs();
    void mediaBeforeHandshakeIsRefused();
    void malformedHelloIsRefused();
    void pingDuringHandshakeIsAnswered();
};

void TestHandshake::withoutKeyBothAccept()
{
    ReceiverHandshake receiver({}, "r");
    SenderHandshake sender("s");
    const Outcome o = run(receiver, sender);
    QCOMPARE(o.receiver, HandshakeStep::Accepted);
    QCOMPARE(o.sender, HandshakeStep::Accepted);
    QCOMPARE(receiver.senderSoftware(), QStringLiteral("s"));
    QCOMPARE(receiver.version(), kVersion);
    QCOMPARE(sender.version(), kVersion);
}

// v2: TLS-PSK under the handshake proved the key, so HELLO, HELLO, ACCEPTED
// is all there is; the key is nowhere in what the handshake sends.
void TestHandshake::keyedChannelIsAcceptedWithoutChallenge()
{
    const QByteArray key = "correct horse battery staple";
    ReceiverHandshake receiver(key, "r", Channel::Keyed);
    SenderHandshake sender("s");
    const Outcome o = run(receiver, sender);
    QCOMPARE(o.receiver, HandshakeStep::Accepted);
    QCOMPARE(o.sender, HandshakeStep::Accepted);
    QVERIFY(!o.wire.contains(QByteArray("battery")));
    MessageDecoder decoder;
    QVERIFY(decoder.feed(o.wire));
    QList<MessageType> types;
    while (decoder.hasMessage())
        types << decoder.takeMessage().type;
    QCOMPARE(types, (QList<MessageType>{MessageType::Hello, MessageType::Hello, MessageType::Accepted}));
}

// The receiver has a key, the sender came in clear (no key, or a v2 sender
// without one): refused after reading its HELLO, with ERROR 6.
void TestHandshake::keyedReceiverRefusesPlainChannel()
{
    ReceiverHandshake receiver("classroom-42", "r"); // Channel::Plain is the default
    SenderHandshake sender("s");
    const Outcome o = run(receiver, sender);
    QCOMPARE(o.receiver, HandshakeStep::Refused);
    QVERIFY2(o.receiverReason.contains("without an access key"), qPrintable(o.receiverReason));
    QCOMPARE(o.sender, HandshakeStep::Refused);
    QVERIFY2(o.senderReason.contains("requires an access key") && o.senderReason.contains("--key-file"),
             qPrintable(o.senderReason));
    MessageDecoder decoder;
    QVERIFY(decoder.feed(o.wire));
    bool sawError = false;
    while (decoder.hasMessage()) {
        const Message m = decoder.takeMessage();
        QVERIFY(m.type != MessageType::Accepted);
        if (m.type == MessageType::Error) {
            QCOMPARE(parseErrorInfo(m.payload)->code, quint16(ErrAuthRequired));
            sawError = true;
        }
    }
    QVERIFY(sawError);
}

// Today's v1 sender meets this receiver: the v1 HELLO (version-1 header)
// is read, the receiver refuses with ERROR 3 naming both versions, and
// everything it sent is readable by the v1 sender, whose own check then
// fails on the receiver's HELLO: both people read which side to update.
void TestHandshake::v1SenderMeetsV2Receiver()
{
    ReceiverHandshake receiver({}, "r");
    MessageWriter writer;
    QByteArray toSender = encodeAll(receiver.start(), writer);

    MessageDecoder decoder;
    QVERIFY2(decoder.feed(kV1SenderHello), qPrintable(decoder.errorString()));
    QVERIFY(decoder.hasMessage());
    const HandshakeStep step = receiver.onMessage(decoder.takeMessage());
    QCOMPARE(step.verdict, HandshakeStep::Refused);
    QCOMPARE(step.reason, QString("this receiver speaks protocol " + versionRange(kMinVersion, kVersion) + ", the sender only 1: update the sender"));
    toSender += encodeAll(step, writer);

    QList<Hello> hellos;
    QList<ErrorInfo> errors;
    QVERIFY2(v1CanRead(toSender, &hellos, &errors), toSender.toHex().constData());
    QCOMPARE(hellos.size(), 1);
    QVERIFY(!v1Overlaps(hellos[0])); // the v1 sender refuses too, naming 2..2 and 1
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors[0].code, quint16(ErrVersion));
    QCOMPARE(errors[0].reason, QString("the receiver speaks protocol " + versionRange(kMinVersion, kVersion) + ", the sender only 1: update the sender"));
}

// This sender meets today's v1 receiver, which answers HELLO 1..1 and,
// having read our HELLO 2..2, ERROR 3 (both in one read, as they come).
void TestHandshake::v2SenderMeetsV1Receiver()
{
    SenderHandshake sender("s");
    MessageWriter writer;
    const QByteArray toReceiver = encodeAll(sender.start(), writer);
    QList<Hello> hellos;
    QVERIFY(v1CanRead(toReceiver, &hellos)); // the v1 receiver reads our HELLO ...
    QCOMPARE(hellos.size(), 1);
    QVERIFY(!v1Overlaps(hellos[0]));         // ... and refuses it with ERROR 3

    MessageDecoder decoder;
    QVERIFY2(decoder.feed(kV1ReceiverHello + kV1ReceiverError), qPrintable(decoder.errorString()));
    QVERIFY(decoder.hasMessage());
    const HandshakeStep step = sender.onMessage(decoder.takeMessage());
    QCOMPARE(step.verdict, HandshakeStep::Refused);
    QCOMPARE(step.reason, QString("this sender speaks protocol " + versionRange(kMinVersion, kVersion) + ", the receiver only 1: update the receiver"));
    QCOMPARE(step.send.size(), size_t(1)); // the refusing side says why, too
    QCOMPARE(step.send[0].type, MessageType::Error);
    const QByteArray error = encodeAll(step, writer);
    QList<ErrorInfo> errors;
    QVERIFY(v1CanRead(error, nullptr, &errors));
    QCOMPARE(errors.value(0).code, quint16(ErrVersion));
    QVERIFY(errors.value(0).reason.contains("update the receiver"));
    // The v1 receiver's own ERROR was readable as well.
    QVERIFY(decoder.hasMessage());
    QCOMPARE(decoder.takeMessage().type, MessageType::Error);
}

// A later release that also speaks ours: its HELLO in a newer header is
// read, and both sides settle on our highest.
void TestHandshake::futureVersionsAreReadAndNegotiated()
{
    Message hello;
    hello.version = kVersion + 1;
    hello.type = MessageType::Hello;
    hello.payload = serialize(Hello{kMinVersion, quint8(kVersion + 1), CapMedia | CapPing, "h264link-sender 9", {}});
    MessageDecoder decoder;
    QVERIFY2(decoder.feed(encode(hello)), qPrintable(decoder.errorString()));
    ReceiverHandshake receiver({}, "r");
    receiver.start();
    const HandshakeStep step = receiver.onMessage(decoder.takeMessage());
    QCOMPARE(step.verdict, HandshakeStep::Accepted);
    QCOMPARE(receiver.version(), kVersion);
    QCOMPARE(decoder.negotiatedVersion(), std::optional<quint8>(kVersion));

    SenderHandshake sender("s");
    sender.start();
    QCOMPARE(sender.onMessage(hello).verdict, HandshakeStep::Continue);
    QCOMPARE(sender.version(), kVersion);
}

void TestHandshake::futureOnlyPeerIsToldToUpdateUs()
{
    ReceiverHandshake receiver({});
    receiver.start();
    const HandshakeStep r = receiver.onMessage(message(MessageType::Hello, serialize(Hello{quint8(kVersion + 1), quint8(kVersion + 2), 0, "future", {}})));
    QCOMPARE(r.verdict, HandshakeStep::Refused);
    QCOMPARE(r.reason, QString("this receiver speaks protocol " + versionRange(kMinVersion, kVersion) + ", the sender only " + versionRange(kVersion + 1, kVersion + 2) + ": update this receiver"));
    QCOMPARE(parseErrorInfo(r.send.at(0).payload)->code, quint16(ErrVersion));

    SenderHandshake sender;
    sender.start();
    const HandshakeStep s = sender.onMessage(message(MessageType::Hello, serialize(Hello{quint8(kVersion + 1), quint8(kVersion + 1), 0, "future", {}})));
    QCOMPARE(s.verdict, HandshakeStep::Refused);
    QCOMPARE(s.reason, QString("this sender speaks protocol " + versionRange(kMinVersion, kVersion) + ", the receiver only " + QString::number(kVersion + 1) + ": update this sender"));
    QCOMPARE(parseErrorInfo(s.send.at(0).payload)->code, quint16(ErrVersion));
}

void TestHandshake::malformedHelloIsRefused()
{
    ReceiverHandshake receiver({});
    receiver.start();
    const HandshakeStep r = receiver.onMessage(message(MessageType::Hello, QByteArray(3, '\0')));
    QCOMPARE(r.verdict, HandshakeStep::Refused);
    QCOMPARE(parseErrorInfo(r.send.at(0).payload)->code, quint16(ErrProtocol));
    SenderHandshake sender;
    sender.start();
    const HandshakeStep s = sender.onMessage(message(MessageType::Hello, QByteArray(3, '\0')));
    QCOMPARE(s.verdict, HandshakeStep::Refused);
    QVERIFY(s.reason.contains("malformed HELLO"));
}

void TestHandshake::mediaBeforeHandshakeIsRefused()
{
    ReceiverHandshake receiver({});
    receiver.start();
    const HandshakeStep step = receiver.onMessage(message(MessageType::Media, serialize(Media{})));
    QCOMPARE(step.verdict, HandshakeStep::Refused);
    QVERIFY(step.reason.contains("before HELLO"));
}

void TestHandshake::pingDuringHandshakeIsAnswered()
{
    SenderHandshake sender;
    sender.start();
    Message ping = message(MessageType::Ping);
    ping.sequence = 9;
    ping.timestampUs = 1234;
    const HandshakeStep step = sender.onMessage(ping);
    QCOMPARE(step.verdict, HandshakeStep::Continue);
    QCOMPARE(step.send.at(0).type, MessageType::Pong);
    QCOMPARE(parsePong(step.send[0].payload)->pingTimestampUs, 1234);
}

QTEST_GUILESS_MAIN(TestHandshake)
#include "tst_handshake.moc"
