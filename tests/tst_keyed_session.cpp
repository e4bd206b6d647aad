// The access key (TLS-PSK) and version negotiation between the real sender
// and receiver executables: frame-exact through a recording relay whose
// capture shows no plaintext, a wrong key, a flipped byte, and protocol-v1
// stand-ins on either side. The relay runs on this thread's event loop, so
// every wait here spins it (QTRY_*), never blocks it.
#include "app_runner.h"
#include "exit_codes.h"
#include "message_decoder.h"
#include "protocol.h"
#include "test_support.h"

#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>
#include <memory>

using namespace testsupport;
using namespace h264link;

namespace {

constexpr int kWaitMs = 30000;

qsizetype count(const QByteArray &haystack, const QByteArray &needle)
{
    qsizetype n = 0;
    for (qsizetype at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1))
        ++n;
    return n;
}

// Forwards one connection to `target` and records both directions. With
// flipAtRecord > 0, flips one bit in the middle of that TLS application-data
// record (type 0x17, counted from 1) from the sender: record boundaries come
// from the 5-byte record headers (RFC 5246 6.2.1) as the bytes pass.
class Relay : public QObject {
public:
    Relay(quint16 target, int flipAtRecord = 0) : m_target(target), m_flipAt(flipAtRecord)
    {
        QVERIFY(m_server.listen(QHostAddress::LocalHost));
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            QTcpSocket *in = m_server.nextPendingConnection();
            in->setParent(this);
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
    bool flipped() const { return m_flipDone; }
    QByteArray toReceiver, toSender;

private:
    void forward(QTcpSocket *from, QTcpSocket *to, bool upstream)
    {
        if (to->state() != QAbstractSocket::ConnectedState)
            return; // forwarded once connected
        QByteArray bytes = from->readAll();
        if (!upstream) {
            toSender += bytes;
            to->write(bytes);
            return;
        }
        const qsizetype base = toReceiver.size();
        toReceiver += bytes;
        while (m_flipAt > 0 && m_flipOffset < 0 && m_recordStart + 5 <= toReceiver.size()) {
            const int type = uchar(toReceiver[m_recordStart]);
            const int length = (uchar(toReceiver[m_recordStart + 3]) << 8) | uchar(toReceiver[m_recordStart + 4]);
            if (type == 0x17 && ++m_records == m_flipAt)
                m_flipOffset = m_recordStart + 5 + length / 2;
            m_recordStart += 5 + length;
        }
        if (!m_flipDone && m_flipOffset >= base && m_flipOffset < toReceiver.size()) {
            bytes[m_flipOffset - base] = char(bytes[m_flipOffset - base] ^ 0x01);
            m_flipDone = true;
        }
        to->write(bytes);
    }

    QTcpServer m_server;
    quint16 m_target;
    int m_flipAt;
    int m_records = 0;
    qsizetype m_recordStart = 0;
    qsizetype m_flipOffset = -1;
    bool m_flipDone = false;
};

// A sender process, waited for with the event loop running (the relay).
struct Sender {
    explicit Sender(const QStringList &args)
    {
        process.start(QStringLiteral(SENDER_EXECUTABLE), args);
    }
    ~Sender()
    {
        if (process.state() != QProcess::NotRunning) {
            process.kill();
            process.waitForFinished();
        }
    }
    bool finish()
    {
        QDeadlineTimer deadline(kWaitMs);
        while (process.state() != QProcess::NotRunning && !deadline.hasExpired())
            QTest::qWait(20); // the relay's events run meanwhile
        err = QString::fromUtf8(process.readAllStandardError());
        return process.state() == QProcess::NotRunning;
    }
    QProcess process;
    QString err;
};

} // namespace

class TestKeyedSession : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void keyedSessionIsFrameExactAndOpaque();
    void wrongKeyIsNotRetried();
    void keyedSenderToKeylessReceiver();
    void flippedByteEndsTheSession();
    void keyedSenderHearsBusy();
    void version1SenderHearsWhy();
    void version1ReceiverHearsWhy();

private:
    QTemporaryDir m_dir;
    QString m_clip;
    QString m_keyFile;
    QStringList m_reference;
};

void TestKeyedSession::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_clip = m_dir.filePath("clip.mp4");
    QCOMPARE(makeClip(m_clip, "320x240", 25, 2.0), QString());
    m_reference = referenceMd5(m_clip);
    QVERIFY(!m_reference.isEmpty());
    m_keyFile = m_dir.filePath("class.key");
    QFile key(m_keyFile);
    QVERIFY(key.open(QIODevice::WriteOnly));
    key.write("lesson-7-secret\n");
}

// Through the relay: every frame arrives as ffmpeg decodes it, and the
// capture (both directions) holds neither our magic nor H.264 start codes.
void TestKeyedSession::keyedSessionIsFrameExactAndOpaque()
{
    const QString md5Path = m_dir.filePath("keyed.framemd5");
    ReceiverProcess receiver({"--key-file", m_keyFile, "--framemd5", md5Path, "--once"});
    QVERIFY(receiver.port());
    Relay relay(receiver.port());
    Sender sender({m_clip, "--host", "127.0.0.1", "--port", QString::number(relay.port()), "--fast",
                   "--key-file", m_keyFile});
    QVERIFY(sender.finish());
    QVERIFY2(sender.process.exitCode() == ExitOk, qPrintable(sender.err));
    QTRY_VERIFY_WITH_TIMEOUT(receiver.process().state() == QProcess::NotRunning, kWaitMs);
    QVERIFY2(receiver.output().contains(QString("(end of stream): %1 of %1 frames received").arg(m_reference.size())),
             qPrintable(receiver.output()));
    QCOMPARE(md5Column(readFile(md5Path)), m_reference);

    const QByteArray wire = relay.toReceiver + relay.toSender;
    QVERIFY(wire.size() > 10000);
    QVERIFY(!wire.contains("H2LK"));
    QCOMPARE(count(wire, QByteArray("\0\0\0\1", 4)), 0);
    // Random bytes hold a 3-byte start code once per 2^24 positions or so;
    // the clear stream has one per NAL unit (hundreds here).
    const qsizetype chance = wire.size() / (1 << 24);
    QVERIFY2(count(wire, QByteArray("\0\0\1", 3)) <= 2 + 4 * chance,
             qPrintable(QString("%1 start codes in %2 bytes").arg(count(wire, QByteArray("\0\0\1", 3))).arg(wire.size())));
}

// A wrong key is the receiver's configuration: both sides say so, the sender
// exits 4 at once, even with --retry.
void TestKeyedSession::wrongKeyIsNotRetried()
{
    const QString md5Path = m_dir.filePath("wrong.framemd5");
    ReceiverProcess receiver({"--key-file", m_keyFile, "--framemd5", md5Path});
    QVERIFY(receiver.port());
    const SenderRun run = runSender({m_clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port()),
                                     "--key", "lesson-8", "--retry"});
    QCOMPARE(run.exitCode, int(ExitProtocolError));
    QVERIFY2(run.err.contains("access key does not match"), qPrintable(run.err));
    QVERIFY2(!run.err.contains("retrying"), qPrintable(run.err));
    QCOMPARE(run.err.count("access key does not match"), 1);
    QTRY_VERIFY_WITH_TIMEOUT(receiver.output().contains("access key does not match"), 5000);
    QVERIFY(md5Column(readFile(md5Path)).isEmpty());
    QCOMPARE(receiver.process().state(), QProcess::Running);
}

// Each side says what is wrong: the sender that the receiver has no key,
// the receiver that a keyed sender came.
void TestKeyedSession::keyedSenderToKeylessReceiver()
{
    ReceiverProcess receiver(QStringList{});
    QVERIFY(receiver.port());
    const SenderRun run = runSender({m_clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port()),
                                     "--key-file", m_keyFile, "--retry"});
    QCOMPARE(run.exitCode, int(ExitProtocolError));
    QVERIFY2(run.err.contains("the receiver has no access key"), qPrintable(run.err));
    QVERIFY2(!run.err.contains("retrying"), qPrintable(run.err));
    QTRY_VERIFY_WITH_TIMEOUT(receiver.output().contains("a sender with an access key connected, but this "
                                                        "receiver has none"), 5000);

    // And the other way round, a sender without a key to a keyed receiver.
    ReceiverProcess keyed({"--key-file", m_keyFile});
    QVERIFY(keyed.port());
    const SenderRun plain = runSender({m_clip, "--host", "127.0.0.1", "--port", QString::number(keyed.port())});
    QCOMPARE(plain.exitCode, int(ExitProtocolError));
    QVERIFY2(plain.err.contains("requires an access key"), qPrintable(plain.err));
    QTRY_VERIFY_WITH_TIMEOUT(keyed.output().contains("without an access key"), 5000);
}

// One bit flipped in a record mid-stream: both sides end the session with
// the "altered in transit" sentence; the receiver lives on for the next.
void TestKeyedSession::flippedByteEndsTheSession()
{
    ReceiverProcess receiver({"--key-file", m_keyFile});
    QVERIFY(receiver.port());
    Relay relay(receiver.port(), 20); // well after HELLO and STREAM_INFO: among the MEDIA
    Sender sender({m_clip, "--host", "127.0.0.1", "--port", QString::number(relay.port()), "--key-file", m_keyFile});
    QVERIFY(sender.finish());
    QVERIFY(relay.flipped());
    QCOMPARE(sender.process.exitStatus(), QProcess::NormalExit);
    QVERIFY2(sender.process.exitCode() != ExitOk, qPrintable(sender.err));
    qInfo("sender (exit %d): %s", sender.process.exitCode(), qPrintable(sender.err.trimmed()));
    QVERIFY2(sender.err.contains("altered in transit"), qPrintable(sender.err));
    QTRY_VERIFY_WITH_TIMEOUT(receiver.output().contains("altered in transit"), 5000);
    QCOMPARE(receiver.process().state(), QProcess::Running);
}

// A keyed sender that comes while another streams hears "busy" (inside TLS:
// the busy check comes after IncomingChannel), and the live stream goes on.
void TestKeyedSession::keyedSenderHearsBusy()
{
    const QString md5Path = m_dir.filePath("busy.framemd5");
    ReceiverProcess receiver({"--key-file", m_keyFile, "--framemd5", md5Path, "--once"});
    QVERIFY(receiver.port());
    const QString port = QString::number(receiver.port());
    Sender live({m_clip, "--host", "127.0.0.1", "--port", port, "--key-file", m_keyFile}); // paced: 2 s
    QTRY_VERIFY_WITH_TIMEOUT(receiver.output().contains("sender connected from"), kWaitMs);
    const SenderRun second = runSender({m_clip, "--host", "127.0.0.1", "--port", port, "--key-file", m_keyFile});
    QCOMPARE(second.exitCode, int(ExitProtocolError));
    QVERIFY2(second.err.contains("busy"), qPrintable(second.err));
    QVERIFY(live.finish());
    QVERIFY2(live.process.exitCode() == ExitOk, qPrintable(live.err));
    QTRY_VERIFY_WITH_TIMEOUT(receiver.process().state() == QProcess::NotRunning, kWaitMs);
    QCOMPARE(md5Column(readFile(md5Path)), m_reference);
}

// A stand-in for a release-1 sender: HELLO with versions 1..1. The receiver
// answers ERROR ErrVersion naming both versions (what a v1 sender shows), and
// says the same in its own output.
void TestKeyedSession::version1SenderHearsWhy()
{
    ReceiverProcess receiver(QStringList{});
    QVERIFY(receiver.port());
    QTcpSocket peer;
    peer.connectToHost(QHostAddress::LocalHost, receiver.port());
    QVERIFY(peer.waitForConnected(5000));
    proto::Hello hello;
    hello.minVersion = hello.maxVersion = 1;
    hello.software = QStringLiteral("h264link-sender 0.1.0");
    proto::MessageWriter writer;
    writer.setVersion(1);
    peer.write(writer.encode(proto::MessageType::Hello, proto::serialize(hello)));
    proto::MessageDecoder decoder(1, 1); // as release 1 reads
    std::optional<proto::ErrorInfo> error;
    QTRY_VERIFY_WITH_TIMEOUT(([&] {
                                 decoder.feed(peer.readAll());
                                 while (decoder.hasMessage()) {
                                     const proto::Message m = decoder.takeMessage();
                                     if (m.type == proto::MessageType::Error)
                                         error = proto::parseErrorInfo(m.payload);
                                 }
                                 return error.has_value();
                             }()), 5000);
    QCOMPARE(error->code, quint16(proto::ErrVersion));
    qInfo("to the v1 sender: %s", qPrintable(error->reason));
    QVERIFY2(error->reason.contains("protocol 2") && error->reason.contains("only 1"), qPrintable(error->reason));
    QTRY_VERIFY_WITH_TIMEOUT(receiver.output().contains("only 1"), 5000);
    const QString out = receiver.output();
    const QString line = out.mid(out.lastIndexOf('\n', out.indexOf("only 1")) + 1).section('\n', 0, 0);
    qInfo("receiver: %s", qPrintable(line));
    QVERIFY2(line.contains("protocol 2"), qPrintable(line));
}

// A stand-in for a release-1 receiver: reads the sender's HELLO, answers
// HELLO 1..1. The sender exits 4 with one line naming both versions, and
// tells the receiver the same in ERROR ErrVersion.
void TestKeyedSession::version1ReceiverHearsWhy()
{
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost));
    proto::MessageDecoder decoder(1, 2);
    std::optional<proto::ErrorInfo> error;
    QTcpSocket *peer = nullptr;
    connect(&server, &QTcpServer::newConnection, this, [&] {
        peer = server.nextPendingConnection();
        connect(peer, &QTcpSocket::readyRead, peer, [&] {
            decoder.feed(peer->readAll());
            while (decoder.hasMessage()) {
                const proto::Message m = decoder.takeMessage();
                if (m.type == proto::MessageType::Hello) {
                    proto::Hello hello;
                    hello.minVersion = hello.maxVersion = 1;
                    hello.software = QStringLiteral("h264link-receiver 0.1.0");
                    proto::MessageWriter writer;
                    writer.setVersion(1);
                    peer->write(writer.encode(proto::MessageType::Hello, proto::serialize(hello)));
                } else if (m.type == proto::MessageType::Error) {
                    error = proto::parseErrorInfo(m.payload);
                }
            }
        });
    });
    Sender sender({m_clip, "--host", "127.0.0.1", "--port", QString::number(server.serverPort())});
    QVERIFY(sender.finish());
    QCOMPARE(sender.process.exitCode(), int(ExitProtocolError));
    qInfo("sender: %s", qPrintable(sender.err.trimmed()));
    const QStringList lines = sender.err.split('\n', Qt::SkipEmptyParts).filter("only 1");
    QCOMPARE(lines.size(), 1);
    QVERIFY2(lines.first().contains("protocol 2"), qPrintable(sender.err));
    QTRY_VERIFY_WITH_TIMEOUT(error.has_value(), 5000);
    QCOMPARE(error->code, quint16(proto::ErrVersion));
    QVERIFY2(error->reason.contains("protocol 2") && error->reason.contains("only 1"), qPrintable(error->reason));
}

QTEST_GUILESS_MAIN(TestKeyedSession)
#include "tst_keyed_session.moc"
