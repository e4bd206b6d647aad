// SecureChannel and IncomingChannel with real QSslSocket pairs over loopback:
// the sender side blocking on a worker thread (as the sender app runs it),
// the receiver side event-driven on this thread (as the receiver's network
// thread runs it). A relay in between records every byte, and can flip one.
#include "annexb.h"
#include "framed_media_device.h"
#include "handshake.h"
#include "message_decoder.h"
#include "protocol.h"
#include "secure_channel.h"
#include "test_support.h"

#include <QSslCipher>
#include <QRandomGenerator>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>
#include <functional>
#include <memory>

using namespace h264link;
using namespace h264link::proto;

namespace {

constexpr int kWaitMs = 10000; // generous bounds for a loaded machine, not timing targets

// ---- Receiver side: the event-driven half -----------------------------------

// One accepted connection: IncomingChannel decides, then (when asked) the
// real ReceiverHandshake runs on it and MEDIA payloads are collected.
struct ServerConnection {
    QSslSocket *socket = nullptr;
    std::optional<Channel> channel;
    QString cipher;        // as negotiated, read at ready() (a closed socket forgets it)
    QSsl::SslProtocol protocol = QSsl::UnknownProtocol;
    QString refused;       // IncomingChannel's sentence
    QString channelFailure; // SecureChannel's, after the handshake (tampering)
    QByteArray raw;        // application bytes received (echo mode)
    QByteArray media;      // joined MEDIA data (protocol mode)
    bool endOfStream = false;
    QString handshakeRefusal;
    bool closed = false;
};

class TestServer : public QTcpServer {
public:
    enum Mode { Echo, Protocol };
    TestServer(QByteArray key, Mode mode, int openingTimeoutMs = securechannel::kOpeningTimeoutMs)
        : m_key(std::move(key)), m_mode(mode), m_openingTimeoutMs(openingTimeoutMs)
    {
        QVERIFY(listen(QHostAddress::LocalHost));
    }
    std::vector<std::shared_ptr<ServerConnection>> connections;

protected:
    void incomingConnection(qintptr descriptor) override
    {
        auto c = std::make_shared<ServerConnection>();
        connections.push_back(c);
        c->socket = new QSslSocket(this);
        QVERIFY(c->socket->setSocketDescriptor(descriptor));
        auto *incoming = new IncomingChannel(c->socket, m_key, m_openingTimeoutMs);
        connect(incoming, &IncomingChannel::refused, this, [c](const QString &s) { c->refused = s; });
        connect(incoming, &IncomingChannel::ready, this, [this, c](Channel channel) { onReady(c, channel); });
        connect(c->socket, &QSslSocket::disconnected, this, [c] { c->closed = true; });
    }

private:
    void onReady(const std::shared_ptr<ServerConnection> &c, Channel channel)
    {
        c->channel = channel;
        c->cipher = c->socket->sessionCipher().name();
        c->protocol = c->socket->sessionProtocol();
        if (SecureChannel *sc = SecureChannel::of(c->socket))
            connect(sc, &SecureChannel::failed, this, [c](const QString &s) {
                c->channelFailure = s;
                // What the receiver app does on a failure: nothing more can
                // be trusted, but closing at once, with the sender's bytes
                // unread, would reset the connection and lose the TLS alert
                // on its way to the sender. So it waits (at most 2 s) for
                // the sender, which hears the alert, to close first.
                QTimer::singleShot(2000, c->socket, [c] { c->socket->abort(); });
            }, Qt::QueuedConnection);
        if (m_mode == Echo) {
            auto echo = [c] {
                const QByteArray bytes = c->socket->readAll();
                c->raw += bytes;
                c->socket->write(bytes.left(16)); // a short answer, so the sender hears back
            };
            connect(c->socket, &QSslSocket::readyRead, this, echo);
            QMetaObject::invokeMethod(this, echo, Qt::QueuedConnection); // bytes already here
            return;
        }
        auto handshake = std::make_shared<ReceiverHandshake>(m_key, "test-receiver", channel);
        auto decoder = std::make_shared<MessageDecoder>();
        auto writer = std::make_shared<MessageWriter>();
        auto apply = [c, writer](const HandshakeStep &step) {
            for (const auto &out : step.send)
                c->socket->write(writer->encode(out.type, out.payload));
            if (step.verdict == HandshakeStep::Refused) {
                c->handshakeRefusal = step.reason;
                c->socket->disconnectFromHost();
            }
        };
        apply(handshake->start());
        auto onRead = [c, handshake, decoder, writer, apply] {
            decoder->feed(c->socket->readAll());
            while (decoder->hasMessage()) {
                const Message m = decoder->takeMessage();
                if (!handshake->isDone()) {
                    apply(handshake->onMessage(m));
                } else if (m.type == MessageType::Media) {
                    c->media += parseMedia(m.payload).value_or(Media{}).data;
                } else if (m.type == MessageType::EndOfStream) {
                    c->endOfStream = true;
                    c->socket->write(writer->encode(MessageType::Received, serialize(Received{})));
                }
            }
        };
        connect(c->socket, &QSslSocket::readyRead, this, onRead);
        QMetaObject::invokeMethod(this, onRead, Qt::QueuedConnection);
    }

    QByteArray m_key;
    Mode m_mode;
    int m_openingTimeoutMs;
};

// ---- Relay: records both directions, can flip one byte ---------------------

class Relay : public QObject {
public:
    explicit Relay(quint16 target) : m_target(target)
    {
        QVERIFY(m_server.listen(QHostAddress::LocalHost));
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            QTcpSocket *in = m_server.nextPendingConnection();
            auto *out = new QTcpSocket(in);
            out->connectToHost(QHostAddress::LocalHost, m_target);
            connect(in, &QTcpSocket::readyRead, this, [this, in, out] { forward(in, out, true); });
            connect(out, &QTcpSocket::readyRead, this, [this, in, out] { forward(out, in, false); });
            connect(out, &QTcpSocket::connected, this, [this, in, out] { forward(in, out, true); });
            connect(in, &QTcpSocket::disconnected, out, &QTcpSocket::disconnectFromHost);
            connect(out, &QTcpSocket::disconnected, in, &QTcpSocket::disconnectFromHost);
        });
    }
    quint16 port() const { return m_server.serverPort(); }
    // Flip one byte in the middle of the first TLS application-data record
    // (type 0x17) the sender sends: record boundaries are read from the
    // 5-byte record headers (RFC 5246 6.2.1) as the bytes pass.
    void flipFirstApplicationRecord() { m_flip = true; }
    bool flipped() const { return m_flipped >= 0; }
    QByteArray toReceiver, toSender; // everything that went over the wire

private:
    void forward(QTcpSocket *from, QTcpSocket *to, bool upstream)
    {
        if (to->state() != QAbstractSocket::ConnectedState)
            return; // forwarded once connected
        QByteArray bytes = from->readAll();
        if (upstream) {
            const qsizetype base = toReceiver.size();
            toReceiver += bytes;
            if (m_flip && m_flipped < 0) {
                while (m_recordStart + 5 <= toReceiver.size()) {
                    const int type = uchar(toReceiver[m_recordStart]);
                    const int length = (uchar(toReceiver[m_recordStart + 3]) << 8) | uchar(toReceiver[m_recordStart + 4]);
                    if (type == 0x17) {
                        m_flipped = m_recordStart + 5 + length / 2;
                        break;
                    }
                    m_recordStart += 5 + length;
                }
            }
            if (m_flipped >= base && m_flipped < toReceiver.size() && !m_flipDone) {
                bytes[m_flipped - base] = char(bytes[m_flipped - base] ^ 0x01);
                toReceiver[m_flipped] = bytes[m_flipped - base];
                m_flipDone = true;
            }
        } else {
            toSender += bytes;
        }
        to->write(bytes);
    }

    QTcpServer m_server;
    quint16 m_target;
    bool m_flip = false;
    qsizetype m_recordStart = 0;
    qsizetype m_flipped = -1;
    bool m_flipDone = false;
};

// ---- Sender side: the blocking half, on a worker thread ---------------------

struct SenderResult {
    bool secured = false;
    QString failure;     // SecureChannel's sentence
    QString refusal;     // SenderHandshake's
    QByteArray answer;   // echo mode
    bool receivedAnswer = false;
};

// Runs `body` on a QThread (sockets created there, blocking calls only),
// while this thread's event loop serves the receiver side.
SenderResult onWorker(const std::function<void(SenderResult &)> &body)
{
    SenderResult result;
    std::unique_ptr<QThread> thread(QThread::create([&] { body(result); }));
    thread->start();
    // This thread's events (the receiver side) run while it waits.
    QDeadlineTimer deadline(3 * kWaitMs);
    while (!thread->isFinished() && !deadline.hasExpired())
        QTest::qWait(5);
    if (!thread->wait(kWaitMs))
        qFatal("the sender thread hangs");
    return result;
}

// A keyed sender, blocking: connect, TLS, then `talk`.
SenderResult keyedSender(quint16 port, const QByteArray &key,
                         const std::function<void(QSslSocket &, SenderResult &)> &talk,
                         int encryptTimeoutMs = kWaitMs)
{
    return onWorker([&](SenderResult &r) {
        QSslSocket socket;
        SecureChannel *channel = SecureChannel::attach(&socket, SecureChannel::Role::Sender, key);
        channel->connectToReceiver(QStringLiteral("127.0.0.1"), port);
        if (socket.waitForConnected(kWaitMs) && socket.waitForEncrypted(encryptTimeoutMs)
            && channel->isSecured()) {
            r.secured = true;
            talk(socket, r);
        }
        r.failure = channel->failure();
    });
}

void echoTalk(QSslSocket &socket, SenderResult &r)
{
    socket.write("h264link over TLS");
    socket.waitForBytesWritten(kWaitMs);
    QDeadlineTimer deadline(kWaitMs);
    while (r.answer.size() < 16 && !deadline.hasExpired() && socket.waitForReadyRead(int(deadline.remainingTime())))
        r.answer += socket.readAll();
    r.receivedAnswer = r.answer.size() >= 16;
}

// The sender's handshake over any socket, blocking; true once ACCEPTED.
bool senderHandshake(QTcpSocket &socket, SenderResult &r)
{
    SenderHandshake handshake("test-sender");
    MessageWriter writer;
    MessageDecoder decoder;
    for (const auto &out : handshake.start().send)
        socket.write(writer.encode(out.type, out.payload));
    QDeadlineTimer deadline(kWaitMs);
    while (!handshake.isDone() && !deadline.hasExpired()) {
        if (!socket.waitForReadyRead(int(deadline.remainingTime())))
            break;
        decoder.feed(socket.readAll());
        while (decoder.hasMessage() && !handshake.isDone()) {
            const HandshakeStep step = handshake.onMessage(decoder.takeMessage());
            for (const auto &out : step.send)
                socket.write(writer.encode(out.type, out.payload));
            if (step.verdict == HandshakeStep::Refused)
                r.refusal = step.reason;
            if (step.verdict == HandshakeStep::Accepted)
                return true;
        }
    }
    return false;
}

qsizetype count(const QByteArray &haystack, const QByteArray &needle)
{
    qsizetype n = 0;
    for (qsizetype at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1))
        ++n;
    return n;
}

} // namespace

class TestSecureChannel : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void pskIsPbkdf2OfTheKey();
    void derivedPskDependsOnTheKeyOnly();
    void classifiesTheFirstByte();
    void rightKeyEncryptsAndCarriesData();
    void wrongKeyFailsOnBothSides();
    void keylessSenderToKeyedReceiverIsRefusedInClear();
    void keyedSenderToKeylessReceiverHearsWhy();
    void keyedSenderToVersion1ReceiverHearsWhy();
    void certificateOnlyClientIsRefused();
    void silentPeerIsDroppedByTheReceiver();
    void silentReceiverTimesOutTheSender();
    void flippedByteEndsTheSession();
    void captureOfKeyedSessionShowsNoPlaintext();

private:
    QTemporaryDir m_dir;
    quint32 m_seed = 0;
};

void TestSecureChannel::initTestCase()
{
    QString why;
    QVERIFY2(securechannel::isAvailable(&why), qPrintable(why));
    qInfo("TLS: %s, backend %s", qPrintable(QSslSocket::sslLibraryVersionString()),
          qPrintable(QSslSocket::activeBackend()));
    m_seed = QRandomGenerator::global()->generate();
    qInfo("seed %u", m_seed);
}

// PBKDF2-HMAC-SHA256 with the protocol's salt and iterations, against
// Python's hashlib (OpenSSL's PBKDF2), an implementation independent of Qt's.
void TestSecureChannel::pskIsPbkdf2OfTheKey()
{
    const QString python = QStandardPaths::findExecutable("python3");
    if (python.isEmpty())
        H264LINK_SKIP_UNLESS_CI("python3 (the PBKDF2 oracle) is not installed");
    // Random keys, including bytes outside ASCII: the key file's bytes count, not its text.
    QRandomGenerator random(m_seed);
    for (int round = 0; round < 3; ++round) {
        QByteArray key(1 + random.bounded(40), Qt::Uninitialized);
        for (auto &c : key)
            c = char(random.bounded(256));
        const testsupport::ToolResult oracle = testsupport::runTool(
            python, {"-c", "import hashlib,sys; print(hashlib.pbkdf2_hmac('sha256', bytes.fromhex(sys.argv[1]), "
                           "sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4])).hex())",
                     QString::fromLatin1(key.toHex()), QString::fromLatin1(securechannel::kPskSalt),
                     QString::number(securechannel::kPskIterations), QString::number(securechannel::kPskLength)});
        QVERIFY2(oracle.ok(), oracle.err.constData());
        QCOMPARE(securechannel::derivePsk(key).toHex(), oracle.out.trimmed());
    }
}

void TestSecureChannel::derivedPskDependsOnTheKeyOnly()
{
    const QByteArray a = securechannel::derivePsk("lesson-7-secret");
    QCOMPARE(a.size(), 32);
    QCOMPARE(securechannel::derivePsk("lesson-7-secret"), a);
    QVERIFY(securechannel::derivePsk("lesson-8-secret") != a);
    QVERIFY(!a.contains("lesson"));
}

void TestSecureChannel::classifiesTheFirstByte()
{
    using securechannel::Opening;
    QCOMPARE(securechannel::classifyOpening({}), Opening::Undecided);
    QCOMPARE(securechannel::classifyOpening(QByteArray::fromHex("160301")), Opening::Tls);
    QCOMPARE(securechannel::classifyOpening("H2LK"), Opening::Plain);
    QCOMPARE(securechannel::classifyOpening("GET / HTTP/1.1"), Opening::Plain); // BadMagic downstream
}

void TestSecureChannel::rightKeyEncryptsAndCarriesData()
{
    TestServer server("classroom-42", TestServer::Echo);
    const SenderResult r = keyedSender(server.serverPort(), "classroom-42", [](QSslSocket &socket, SenderResult &result) {
        echoTalk(socket, result);
        // The sender polls with short waits; one that runs out is no failure.
        socket.waitForReadyRead(20); // (no QVERIFY off the test thread)
    });
    QVERIFY2(r.secured, qPrintable(r.failure));
    QVERIFY2(r.failure.isEmpty(), qPrintable(r.failure));
    QVERIFY(r.receivedAnswer);
    QCOMPARE(r.answer, QByteArray("h264link over TL"));
    QCOMPARE(server.connections.size(), size_t(1));
    const auto &c = server.connections[0];
    QCOMPARE(c->channel, std::optional<Channel>(Channel::Keyed));
    QTRY_COMPARE_WITH_TIMEOUT(c->raw, QByteArray("h264link over TLS"), kWaitMs);
    QCOMPARE(c->cipher, QString::fromLatin1(securechannel::kCipher));
    QCOMPARE(c->protocol, QSsl::TlsV1_2);
}

void TestSecureChannel::wrongKeyFailsOnBothSides()
{
    TestServer server("classroom-42", TestServer::Echo);
    const SenderResult r = keyedSender(server.serverPort(), "classroom-43", echoTalk);
    QVERIFY(!r.secured);
    QVERIFY2(r.failure.contains("access key does not match"), qPrintable(r.failure));
    QCOMPARE(server.connections.size(), size_t(1));
    const auto &c = server.connections[0];
    QTRY_VERIFY_WITH_TIMEOUT(!c->refused.isEmpty(), kWaitMs);
    qInfo("sender: %s", qPrintable(r.failure));
    qInfo("receiver: %s", qPrintable(c->refused));
    QVERIFY2(c->refused.contains("access key does not match"), qPrintable(c->refused));
    QVERIFY(!c->channel);
    QVERIFY(c->raw.isEmpty());
}

// A sender without a key talks in clear; a keyed receiver reads its HELLO
// and refuses it with ERROR 6, which the sender can read and show.
void TestSecureChannel::keylessSenderToKeyedReceiverIsRefusedInClear()
{
    TestServer server("classroom-42", TestServer::Protocol);
    const SenderResult r = onWorker([&](SenderResult &result) {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, server.serverPort());
        if (socket.waitForConnected(kWaitMs))
            senderHandshake(socket, result);
    });
    QVERIFY2(r.refusal.contains("requires an access key") && r.refusal.contains("--key-file"),
             qPrintable(r.refusal));
    const auto &c = server.connections.at(0);
    QCOMPARE(c->channel, std::optional<Channel>(Channel::Plain));
    QTRY_VERIFY_WITH_TIMEOUT(!c->handshakeRefusal.isEmpty(), kWaitMs);
    QVERIFY2(c->handshakeRefusal.contains("without an access key"), qPrintable(c->handshakeRefusal));
}

void TestSecureChannel::keyedSenderToKeylessReceiverHearsWhy()
{
    TestServer server({}, TestServer::Protocol);
    const SenderResult r = keyedSender(server.serverPort(), "classroom-42", echoTalk);
    QVERIFY(!r.secured);
    QVERIFY2(r.failure.startsWith("the receiver has no access key (or a different one)"), qPrintable(r.failure));
    const auto &c = server.connections.at(0);
    QTRY_VERIFY_WITH_TIMEOUT(!c->refused.isEmpty(), kWaitMs);
    QVERIFY2(c->refused.contains("this receiver has none"), qPrintable(c->refused));
    QVERIFY(!c->channel);
}

// A release-1 receiver answers the ClientHello in clear (HELLO, then ERROR
// "bad magic") and closes: the keyed sender still says what to do.
void TestSecureChannel::keyedSenderToVersion1ReceiverHearsWhy()
{
    QTcpServer old;
    QVERIFY(old.listen(QHostAddress::LocalHost));
    connect(&old, &QTcpServer::newConnection, this, [&old] {
        QTcpSocket *s = old.nextPendingConnection();
        Message hello;
        hello.version = 1;
        hello.type = MessageType::Hello;
        hello.payload = serialize(Hello{1, 1, 7, "h264link-receiver 0.1.0", {}});
        s->write(encode(hello));
        connect(s, &QTcpSocket::readyRead, s, [s] {
            s->readAll();
            Message error;
            error.version = 1;
            error.type = MessageType::Error;
            error.sequence = 1;
            error.payload = serialize(ErrorInfo{ErrProtocol, describe(ParseError::BadMagic)});
            s->write(encode(error));
            s->disconnectFromHost();
        });
    });
    const SenderResult r = keyedSender(old.serverPort(), "classroom-42", echoTalk);
    QVERIFY(!r.secured);
    QVERIFY2(r.failure.startsWith("the receiver has no access key (or a different one)"), qPrintable(r.failure));
}

// An ordinary TLS client (certificate suites, no PSK): no common cipher.
void TestSecureChannel::certificateOnlyClientIsRefused()
{
    TestServer server("classroom-42", TestServer::Echo);
    const SenderResult r = onWorker([&](SenderResult &result) {
        QSslSocket socket;
        socket.connectToHostEncrypted(QStringLiteral("127.0.0.1"), server.serverPort());
        result.secured = socket.waitForEncrypted(kWaitMs);
        result.failure = socket.errorString();
    });
    QVERIFY(!r.secured);
    const auto &c = server.connections.at(0);
    QTRY_VERIFY_WITH_TIMEOUT(!c->refused.isEmpty(), kWaitMs);
    qInfo("receiver: %s", qPrintable(c->refused));
    QVERIFY2(c->refused.contains("not a keyed h264link one") || c->refused.contains("did not complete"),
             qPrintable(c->refused));
    QVERIFY(!c->channel);
}

void TestSecureChannel::silentPeerIsDroppedByTheReceiver()
{
    TestServer server("classroom-42", TestServer::Echo, 300);
    QTcpSocket silent;
    silent.connectToHost(QHostAddress::LocalHost, server.serverPort());
    QVERIFY(silent.waitForConnected(kWaitMs));
    QTRY_VERIFY_WITH_TIMEOUT(!server.connections.empty() && !server.connections[0]->refused.isEmpty(), kWaitMs);
    QVERIFY2(server.connections[0]->refused.contains("sent nothing for 0.3 s"),
             qPrintable(server.connections[0]->refused));
    QTRY_COMPARE_WITH_TIMEOUT(silent.state(), QAbstractSocket::UnconnectedState, kWaitMs);
}

// A port that accepts and never answers the ClientHello: the blocking
// sender's wait runs out, and failure() says what that means.
void TestSecureChannel::silentReceiverTimesOutTheSender()
{
    QTcpServer mute;
    QVERIFY(mute.listen(QHostAddress::LocalHost));
    const SenderResult r = keyedSender(mute.serverPort(), "classroom-42", echoTalk, 300);
    QVERIFY(!r.secured);
    QVERIFY2(r.failure.contains("did not answer the keyed handshake in time"), qPrintable(r.failure));
}

// One flipped bit in an application-data record: the receiver's TLS layer
// rejects the record (Poly1305), delivers none of it, and both sides end
// with the sentence.
void TestSecureChannel::flippedByteEndsTheSession()
{
    TestServer server("classroom-42", TestServer::Echo);
    Relay relay(server.serverPort());
    relay.flipFirstApplicationRecord();
    QByteArray sent(200'000, Qt::Uninitialized);
    QRandomGenerator rng(m_seed);
    rng.fillRange(reinterpret_cast<quint32 *>(sent.data()), sent.size() / 4);
    const SenderResult r = keyedSender(relay.port(), "classroom-42", [&](QSslSocket &socket, SenderResult &) {
        socket.write(sent);
        QDeadlineTimer deadline(kWaitMs);
        const SecureChannel *channel = SecureChannel::of(&socket);
        while (socket.state() == QAbstractSocket::ConnectedState && channel->failure().isEmpty()
               && !deadline.hasExpired()) {
            socket.waitForBytesWritten(100);
            socket.waitForReadyRead(100);
            socket.readAll();
        }
    });
    QVERIFY2(r.secured, qPrintable(r.failure));
    QVERIFY(relay.flipped());
    const auto &c = server.connections.at(0);
    QTRY_VERIFY_WITH_TIMEOUT(!c->channelFailure.isEmpty(), kWaitMs);
    qInfo("receiver: %s", qPrintable(c->channelFailure));
    QVERIFY2(c->channelFailure.contains("altered in transit"), qPrintable(c->channelFailure));
    QVERIFY2(r.failure.contains("altered in transit"), qPrintable(r.failure));
    // Nothing of the altered record (or after it) reached the application.
    QVERIFY(c->raw.size() < sent.size());
    QCOMPARE(c->raw, sent.left(c->raw.size()));
}

// A keyed session carrying a real H.264 Annex B stream through our framing
// and handshake, recorded by the relay: the receiver gets the stream byte
// for byte, the recording shows none of it. The same session without a key
// shows both the magic and the start codes, so the check can fail.
void TestSecureChannel::captureOfKeyedSessionShowsNoPlaintext()
{
    const QString clip = m_dir.filePath("clip.h264");
    QCOMPARE(testsupport::makeClip(clip, "320x240", 25, 2.0), QString());
    const QByteArray stream = testsupport::readFile(clip);
    const auto units = annexb::split(stream);
    QVERIFY(units.size() > 10);

    const auto session = [&](const QByteArray &key) {
        TestServer server(key, TestServer::Protocol);
        auto relay = std::make_unique<Relay>(server.serverPort());
        auto send = [&](QTcpSocket &socket, SenderResult &r) {
            if (!senderHandshake(socket, r))
                return;
            FramedMediaDevice framing(&socket);
            framing.open(QIODevice::WriteOnly);
            // About one NAL unit per MEDIA message, each from its start code.
            for (size_t i = 0; i < units.size(); ++i) {
                const qsizetype begin = i == 0 ? 0 : units[i].offset - 3;
                const qsizetype end = i + 1 == units.size() ? stream.size() : units[i + 1].offset - 3;
                framing.write(stream.mid(begin, end - begin));
            }
            framing.sendMessage(MessageType::EndOfStream, serialize(EndOfStream{units.size(), quint64(stream.size())}));
            socket.waitForBytesWritten(kWaitMs);
            QDeadlineTimer deadline(kWaitMs);
            while (socket.state() == QAbstractSocket::ConnectedState && !deadline.hasExpired()
                   && socket.bytesToWrite() > 0)
                socket.waitForBytesWritten(100);
            socket.waitForReadyRead(kWaitMs); // RECEIVED
        };
        SenderResult r;
        if (key.isEmpty()) {
            r = onWorker([&](SenderResult &result) {
                QTcpSocket socket;
                socket.connectToHost(QHostAddress::LocalHost, relay->port());
                if (socket.waitForConnected(kWaitMs))
                    send(socket, result);
            });
        } else {
            r = keyedSender(relay->port(), key, [&](QSslSocket &socket, SenderResult &result) { send(socket, result); });
        }
        const auto c = server.connections.at(0);
        [&] { QTRY_VERIFY_WITH_TIMEOUT(c->endOfStream, kWaitMs); }();
        return std::make_pair(c->media, relay->toReceiver + relay->toSender);
    };

    const auto [clearMedia, clearWire] = session({});
    QCOMPARE(clearMedia, stream);
    QVERIFY(clearWire.contains("H2LK"));
    QVERIFY(count(clearWire, QByteArray("\0\0\1", 3)) >= qsizetype(units.size()));

    const auto [media, wire] = session("classroom-42");
    QCOMPARE(media, stream); // every byte arrived, in order
    QVERIFY(wire.size() > stream.size());
    QVERIFY(!wire.contains("H2LK"));
    QCOMPARE(count(wire, QByteArray("\0\0\0\1", 4)), 0);
    // Random bytes hold a 3-byte start code once per 2^24 positions or so;
    // the clear stream had one per NAL unit.
    const qsizetype chance = wire.size() / (1 << 24);
    QVERIFY2(count(wire, QByteArray("\0\0\1", 3)) <= 2 + 4 * chance,
             qPrintable(QStringLiteral("%1 start codes in %2 bytes").arg(count(wire, QByteArray("\0\0\1", 3))).arg(wire.size())));
    // No NAL unit's first bytes (its header and slice header) are visible.
    for (const auto &unit : units)
        QVERIFY(!wire.contains(stream.mid(unit.offset, qMin<qsizetype>(12, unit.size))));
}

QTEST_GUILESS_MAIN(TestSecureChannel)
#include "tst_secure_channel.moc"
