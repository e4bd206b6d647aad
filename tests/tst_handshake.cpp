// The handshake state machines, driven directly: HELLO both ways, the
// access-key challenge, and every way to be refused.
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

} // namespace

class TestHandshake : public QObject {
    Q_OBJECT
private slots:
    void withoutKeyBothAccept();
    void rightKeyIsAcceptedAndNeverTravels();
    void wrongKeyIsRefused();
    void missingKeyIsRefused();
    void senderKeyWithoutReceiverKeyIsAccepted();
    void replayedResponseFails();
    void mediaBeforeHandshakeIsRefused();
    void versionMismatchIsRefusedByBothSides();
    void pingDuringHandshakeIsAnswered();
};

void TestHandshake::withoutKeyBothAccept()
{
    ReceiverHandshake receiver({}, "r");
    SenderHandshake sender({}, "s");
    const Outcome o = run(receiver, sender);
    QCOMPARE(o.receiver, HandshakeStep::Accepted);
    QCOMPARE(o.sender, HandshakeStep::Accepted);
    QCOMPARE(receiver.senderSoftware(), QStringLiteral("s"));
}

void TestHandshake::rightKeyIsAcceptedAndNeverTravels()
{
    const QByteArray key = "correct horse battery staple";
    ReceiverHandshake receiver(key);
    SenderHandshake sender(key);
    const Outcome o = run(receiver, sender);
    QCOMPARE(o.receiver, HandshakeStep::Accepted);
    QCOMPARE(o.sender, HandshakeStep::Accepted);
    QVERIFY(!o.wire.contains(key));
    QVERIFY(!o.wire.contains(QByteArray("battery")));
    // The wire carried a challenge and a 32-byte MAC.
    MessageDecoder decoder;
    QVERIFY(decoder.feed(o.wire));
    QList<MessageType> types;
    while (decoder.hasMessage())
        types << decoder.takeMessage().type;
    QVERIFY(types.contains(MessageType::AuthChallenge));
    QVERIFY(types.contains(MessageType::AuthResponse));
    QVERIFY(types.contains(MessageType::Accepted));
}

void TestHandshake::wrongKeyIsRefused()
{
    ReceiverHandshake receiver("classroom-42");
    SenderHandshake sender("classroom-43");
    const Outcome o = run(receiver, sender);
    QCOMPARE(o.receiver, HandshakeStep::Refused);
    QVERIFY(o.receiverReason.contains("access key is wrong"));
    QCOMPARE(o.sender, HandshakeStep::Refused);
    QVERIFY2(o.senderReason.contains("wrong access key"), qPrintable(o.senderReason));
}

void TestHandshake::missingKeyIsRefused()
{
    ReceiverHandshake receiver("classroom-42");
    SenderHandshake sender({});
    const Outcome o = run(receiver, sender);
    QCOMPARE(o.sender, HandshakeStep::Refused);
    QVERIFY2(o.senderReason.contains("requires an access key") && o.senderReason.contains("--key"),
             qPrintable(o.senderReason));
    QVERIFY(!receiver.isDone() || o.receiver != HandshakeStep::Accepted);

    // A sender that ignores the challenge and goes on: refused before any media.
    ReceiverHandshake strict("classroom-42");
    strict.start();
    QCOMPARE(strict.onMessage(message(MessageType::Hello, serialize(Hello{}))).verdict,
             HandshakeStep::Continue);
    const HandshakeStep step = strict.onMessage(message(MessageType::StreamInfo, serialize(StreamInfo{})));
    QCOMPARE(step.verdict, HandshakeStep::Refused);
    QCOMPARE(step.send.size(), size_t(1));
    QCOMPARE(step.send[0].type, MessageType::Error);
    QCOMPARE(parseErrorInfo(step.send[0].payload)->code, quint16(ErrAuthRequired));
}

void TestHandshake::senderKeyWithoutReceiverKeyIsAccepted()
{
    ReceiverHandshake receiver({});
    SenderHandshake sender("spare key");
    const Outcome o = run(receiver, sender);
    QCOMPARE(o.receiver, HandshakeStep::Accepted);
    QCOMPARE(o.sender, HandshakeStep::Accepted);
}

void TestHandshake::replayedResponseFails()
{
    const QByteArray key = "k";
    ReceiverHandshake first(key);
    first.start();
    const HandshakeStep c1 = first.onMessage(message(MessageType::Hello, serialize(Hello{})));
    QCOMPARE(c1.send.at(0).type, MessageType::AuthChallenge);
    const QByteArray recorded = authResponse(key, c1.send[0].payload);

    ReceiverHandshake second(key);
    second.start();
    const HandshakeStep c2 = second.onMessage(message(MessageType::Hello, serialize(Hello{})));
    QVERIFY(c2.send.at(0).payload != c1.send[0].payload); // a fresh nonce
    QCOMPARE(second.onMessage(message(MessageType::AuthResponse, recorded)).verdict,
             HandshakeStep::Refused);
}

void TestHandshake::mediaBeforeHandshakeIsRefused()
{
    ReceiverHandshake receiver({});
    receiver.start();
    const HandshakeStep step = receiver.onMessage(message(MessageType::Media, serialize(Media{})));
    QCOMPARE(step.verdict, HandshakeStep::Refused);
    QVERIFY(step.reason.contains("before HELLO"));
}

void TestHandshake::versionMismatchIsRefusedByBothSides()
{
    ReceiverHandshake receiver({});
    receiver.start();
    const HandshakeStep r = receiver.onMessage(message(MessageType::Hello, serialize(Hello{2, 3, 0, "future"})));
    QCOMPARE(r.verdict, HandshakeStep::Refused);
    QVERIFY2(r.reason.contains("versions 2..3") && r.reason.contains("update both"), qPrintable(r.reason));
    QCOMPARE(parseErrorInfo(r.send.at(0).payload)->code, quint16(ErrVersion));

    SenderHandshake sender({});
    sender.start();
    const HandshakeStep s = sender.onMessage(message(MessageType::Hello, serialize(Hello{2, 2, 0, "future"})));
    QCOMPARE(s.verdict, HandshakeStep::Refused);
    QVERIFY2(s.reason.contains("versions 2..2") && s.reason.contains("update both"), qPrintable(s.reason));
}

void TestHandshake::pingDuringHandshakeIsAnswered()
{
    SenderHandshake sender({});
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
