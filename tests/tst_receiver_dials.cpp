// receiver --connect: the receiver dials, and the stream is the same as when
// the sender dials. Until a serving sender answers, a meeting point stands in
// for it: it accepts the real sender on one port and the dialling receiver on
// another and joins the two byte streams, so every byte of the real
// protocol (handshake, TLS with a key, media, END_OF_STREAM, RECEIVED) flows
// between the real apps with the TCP connections turned round.
#include "app_runner.h"
#include "dial_target.h"
#include "exit_codes.h"
#include "test_support.h"

#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

using namespace testsupport;

namespace {

// On its own thread, so that it relays while the test blocks in runSender().
class MeetingPoint : public QObject {
public:
    // `receiverPort` 0: any free port.
    bool listen(quint16 receiverPort = 0)
    {
        bool ok = false;
        QMetaObject::invokeMethod(this, [&] {
            m_senderSide = new QTcpServer(this);
            m_receiverSide = new QTcpServer(this);
            ok = m_senderSide->listen(QHostAddress::LocalHost) && m_receiverSide->listen(QHostAddress::LocalHost, receiverPort);
            connect(m_senderSide, &QTcpServer::newConnection, this, [this] { accept(m_senderSide, &m_sender); });
            connect(m_receiverSide, &QTcpServer::newConnection, this, [this] { accept(m_receiverSide, &m_receiver); });
            m_ports = {m_senderSide->serverPort(), m_receiverSide->serverPort()};
        }, Qt::BlockingQueuedConnection);
        return ok;
    }
    quint16 senderPort() const { return m_ports.first; }
    quint16 receiverPort() const { return m_ports.second; }

private:
    void accept(QTcpServer *server, QPointer<QTcpSocket> *side)
    {
        while (QTcpSocket *socket = server->nextPendingConnection()) {
            if (*side) { // one stream only
                socket->abort();
                socket->deleteLater();
                continue;
            }
            *side = socket;
        }
        if (m_sender && m_receiver) {
            pipe(m_sender, m_receiver);
            pipe(m_receiver, m_sender);
        }
    }
    void pipe(QTcpSocket *from, QTcpSocket *to)
    {
        const auto relay = [from, to] { to->write(from->readAll()); };
        connect(from, &QTcpSocket::readyRead, this, relay);
        connect(from, &QTcpSocket::disconnected, to, [to, relay] { relay(); to->disconnectFromHost(); });
        relay(); // what came before the other side was there
    }

    QTcpServer *m_senderSide = nullptr;
    QTcpServer *m_receiverSide = nullptr;
    QPointer<QTcpSocket> m_sender, m_receiver;
    QPair<quint16, quint16> m_ports;
};

struct MeetingThread {
    MeetingThread()
    {
        point.moveToThread(&thread);
        thread.start();
    }
    ~MeetingThread()
    {
        QMetaObject::invokeMethod(&point, [this] {
            qDeleteAll(point.children());
            point.moveToThread(QThread::currentThread()->thread()); // back for its destruction
        }, Qt::BlockingQueuedConnection);
        thread.quit();
        thread.wait();
    }
    QThread thread;
    MeetingPoint point;
};

quint16 freePort()
{
    QTcpServer probe;
    return probe.listen(QHostAddress::LocalHost) ? probe.serverPort() : 0;
}

} // namespace

class TestReceiverDials : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void hostPortParsing_data();
    void hostPortParsing();
    void streamIsFrameExact_data();
    void streamIsFrameExact();
    void unreachableSenderIsNamed();
    void retryWaitsForTheSender();
    void badCommandLines_data();
    void badCommandLines();

private:
    QTemporaryDir m_dir;
    QString m_clip;
};

void TestReceiverDials::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_clip = m_dir.filePath("clip.mp4");
    QCOMPARE(makeClip(m_clip, "320x240", 25, 2.0), QString());
}

void TestReceiverDials::hostPortParsing_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("host"); // empty: refused
    QTest::addColumn<int>("port");
    QTest::newRow("name") << "teacher-pc" << "teacher-pc" << 8264;
    QTest::newRow("name:port") << "teacher-pc:8300" << "teacher-pc" << 8300;
    QTest::newRow("ipv4:port") << "192.168.1.7:9000" << "192.168.1.7" << 9000;
    QTest::newRow("[ipv6]:port") << "[fd00::5]:8300" << "fd00::5" << 8300;
    QTest::newRow("bare ipv6") << "fd00::5" << "fd00::5" << 8264;
    QTest::newRow("port too big") << "host:99999" << "" << 0;
    QTest::newRow("port 0") << "host:0" << "" << 0;
    QTest::newRow("no port after colon") << "host:" << "" << 0;
    QTest::newRow("not a port") << "host:abc" << "" << 0;
    QTest::newRow("a path") << "host/x" << "" << 0;
    QTest::newRow("empty") << "" << "" << 0;
}

void TestReceiverDials::hostPortParsing()
{
    QFETCH(QString, text);
    QFETCH(QString, host);
    QFETCH(int, port);
    QString error;
    const std::optional<h264link::HostPort> parsed = h264link::parseHostPort(text, 8264, &error);
    if (host.isEmpty()) {
        QVERIFY2(!parsed, qPrintable(parsed ? parsed->host : QString()));
        QVERIFY2(error.contains(text.isEmpty() ? QStringLiteral("not a host") : text), qPrintable(error));
        return;
    }
    QVERIFY2(parsed, qPrintable(error));
    QCOMPARE(parsed->host, host);
    QCOMPARE(int(parsed->port), port);
}

void TestReceiverDials::streamIsFrameExact_data()
{
    QTest::addColumn<QStringList>("keyArgs");
    QTest::newRow("plain") << QStringList();
    QTest::newRow("with a key (TLS-PSK)") << QStringList{"--key", "room 101 secret"};
}

void TestReceiverDials::streamIsFrameExact()
{
    QFETCH(QStringList, keyArgs);
    MeetingThread meeting;
    QVERIFY(meeting.point.listen());
    const QString md5Path = m_dir.filePath(QStringLiteral("dials-%1.framemd5").arg(keyArgs.size()));
    ReceiverProcess receiver(QStringList{"--once", "--framemd5", md5Path, "--connect",
                                         QStringLiteral("127.0.0.1:%1").arg(meeting.point.receiverPort())} + keyArgs);
    QVERIFY2(receiver.port() == meeting.point.receiverPort(), qPrintable(receiver.output()));

    const SenderRun sender = runSender(QStringList{m_clip, "--host", "127.0.0.1", "--port",
                                                   QString::number(meeting.point.senderPort()), "--fast"} + keyArgs);
    QVERIFY2(sender.exitCode == 0, qPrintable(sender.err + sender.out));
    QVERIFY(receiver.waitForExit(20000));
    QVERIFY2(receiver.process().exitCode() == 0, qPrintable(receiver.output()));

    const QStringList expected = referenceMd5(m_clip);
    QCOMPARE(expected.size(), ffprobeFrameCount(m_clip));
    QCOMPARE(md5Column(readFile(md5Path)), expected);
    QVERIFY2(sender.out.contains(QStringLiteral("the receiver confirmed %1 frames decoded").arg(expected.size())),
             qPrintable(sender.out));
}

void TestReceiverDials::unreachableSenderIsNamed()
{
    const quint16 closed = freePort();
    QVERIFY(closed);
    ReceiverProcess receiver({"--connect", QStringLiteral("127.0.0.1:%1").arg(closed)});
    QVERIFY(receiver.waitForExit(15000));
    QCOMPARE(receiver.process().exitCode(), int(h264link::ExitConnectionFailed));
    const QString out = receiver.output();
    QVERIFY2(out.contains(QStringLiteral("connection to 127.0.0.1:%1 refused").arg(closed)), qPrintable(out));
    QVERIFY2(out.contains("--serve") && out.contains("--retry"), qPrintable(out));
}

// --retry: the receiver is started first and keeps dialling; the sender
// comes later (the meeting point opens the very port it dials).
void TestReceiverDials::retryWaitsForTheSender()
{
    const quint16 port = freePort();
    QVERIFY(port);
    const QString md5Path = m_dir.filePath("retry.framemd5");
    ReceiverProcess receiver({"--once", "--retry", "--framemd5", md5Path, "--connect",
                              QStringLiteral("127.0.0.1:%1").arg(port)});
    QVERIFY(receiver.port() == port);
    QTRY_VERIFY_WITH_TIMEOUT(receiver.output().contains("waiting for the sender"), 10000);
    QCOMPARE(receiver.output().count("waiting for the sender"), 1); // said once, not every second

    MeetingThread meeting;
    QVERIFY(meeting.point.listen(port));
    const SenderRun sender = runSender({m_clip, "--host", "127.0.0.1", "--port",
                                        QString::number(meeting.point.senderPort()), "--fast"});
    QVERIFY2(sender.exitCode == 0, qPrintable(sender.err + sender.out));
    QVERIFY(receiver.waitForExit(20000));
    QVERIFY2(receiver.process().exitCode() == 0, qPrintable(receiver.output()));
    QCOMPARE(md5Column(readFile(md5Path)), referenceMd5(m_clip));
}

void TestReceiverDials::badCommandLines_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("says");
    QTest::newRow("--connect with --port") << QStringList{"--connect", "h", "--port", "9000"} << "leave out --port";
    QTest::newRow("--connect with --listen") << QStringList{"--connect", "h", "--listen", "127.0.0.1"}
                                             << "leave out --listen";
    QTest::newRow("bad port") << QStringList{"--connect", "h:70000"} << "the port must be 1-65535";
    QTest::newRow("--retry alone") << QStringList{"--retry"} << "--retry goes with --connect";
}

void TestReceiverDials::badCommandLines()
{
    QFETCH(QStringList, args);
    QFETCH(QString, says);
    const ToolResult r = runTool(QStringLiteral(RECEIVER_EXECUTABLE), QStringList{"--headless"} + args, 10000);
    QCOMPARE(r.exitCode, int(h264link::ExitUsage));
    QVERIFY2(QString::fromUtf8(r.err).contains(says), r.err.constData());
}

QTEST_GUILESS_MAIN(TestReceiverDials)
#include "tst_receiver_dials.moc"
