// How a sender ends, with real processes on loopback: stopped by SIGTERM or
// SIGINT (a clean END_OF_STREAM, exit 0), told by the receiver that its
// person closed it (ERROR 10: exit 3, or with --retry, carry on at the next
// keyframe when a receiver is back: tst_faults, with real receivers), and
// "done" only when every frame sent was received and decoded. The stand-in receivers are staged from the protocol's own
// pieces (ReceiverHandshake, MessageDecoder, MessageWriter), so they can say
// what a real receiver would not.
#include "app_runner.h"
#include "exit_codes.h"
#include "handshake.h"
#include "message_decoder.h"
#include "test_support.h"

#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>
#include <csignal>
#include <functional>
#include <memory>
#include <sys/types.h>

using namespace testsupport;
using namespace h264link;

namespace {

// One accepted connection, played as a receiver would up to a point.
class StandInReceiver {
public:
    explicit StandInReceiver(std::unique_ptr<QTcpSocket> socket) : m_socket(std::move(socket))
    {
        m_socket->setParent(nullptr); // ours, not the server's: it may outlive the server
        send(m_handshake.start());
    }

    // Reads until `done()` holds, the peer goes or `ms` pass. False on
    // undecodable bytes.
    bool readUntil(const std::function<bool()> &done, int ms)
    {
        QDeadlineTimer deadline(ms);
        while (!done() && !deadline.hasExpired() && m_socket->state() == QAbstractSocket::ConnectedState) {
            if (!m_socket->waitForReadyRead(50) && m_socket->bytesAvailable() == 0)
                continue;
            if (!m_decoder.feed(m_socket->readAll()))
                return false;
            while (m_decoder.hasMessage()) {
                const proto::Message m = m_decoder.takeMessage();
                if (!m_handshake.isDone())
                    send(m_handshake.onMessage(m));
                else if (m.type == proto::MessageType::Media && (m.flags & proto::AccessUnitEnd))
                    ++accessUnits;
                else if (m.type == proto::MessageType::EndOfStream)
                    endOfStream = true;
            }
        }
        return true;
    }
    void write(proto::MessageType type, const QByteArray &payload)
    {
        m_socket->write(m_writer.encode(type, payload));
        m_socket->waitForBytesWritten(2000);
    }
    // As a receiver closes after its last word: reads until the sender hangs
    // up, so that no unread bytes turn the close into a reset.
    void closeAfterSender()
    {
        readUntil([] { return false; }, 5000);
        m_socket->close();
    }

    quint64 accessUnits = 0;
    bool endOfStream = false;

private:
    void send(const HandshakeStep &step)
    {
        for (const auto &out : step.send)
            m_socket->write(m_writer.encode(out.type, out.payload));
    }

    std::unique_ptr<QTcpSocket> m_socket;
    ReceiverHandshake m_handshake{{}};
    proto::MessageDecoder m_decoder;
    proto::MessageWriter m_writer;
};

int framemd5Lines(const QString &path)
{
    return int(md5Column(readFile(path)).size());
}

} // namespace

class TestSenderEnding : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void signalEndsTheStreamCleanly_data();
    void signalEndsTheStreamCleanly();
    void closedReceiverEndsTheSender();
    void fewerFramesIsNotDone_data();
    void fewerFramesIsNotDone();

private:
    QTemporaryDir m_dir;
    GopClip m_clip; // 8 s at 25 fps (makeGopClip)
    QString m_small; // 2 s of 160x120: fits in the socket buffers
};

void TestSenderEnding::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QCOMPARE(makeGopClip(m_dir.filePath("gops.mp4"), 25, 8.0, &m_clip), QString());
    m_small = m_dir.filePath("small.mp4");
    QCOMPARE(makeClip(m_small, "160x120", 25, 2.0), QString());
}

void TestSenderEnding::signalEndsTheStreamCleanly_data()
{
    QTest::addColumn<int>("signalNumber");
    QTest::addColumn<bool>("gui");
    QTest::newRow("SIGTERM, command line") << int(SIGTERM) << false;
    QTest::newRow("SIGINT, command line") << int(SIGINT) << false;
    QTest::newRow("SIGTERM, --gui") << int(SIGTERM) << true;
}

// Stopped mid-stream by a signal: END_OF_STREAM with the counts, the
// receiver's clean end, exit 0, and what was shown is the file's beginning.
void TestSenderEnding::signalEndsTheStreamCleanly()
{
    QFETCH(int, signalNumber);
    QFETCH(bool, gui);
    const QString md5Path = m_dir.filePath(QStringLiteral("signal-%1-%2.framemd5").arg(signalNumber).arg(gui));
    ReceiverProcess receiver({"--once", "--framemd5", md5Path});
    QVERIFY2(receiver.port(), qPrintable(receiver.output()));
    QStringList args{m_clip.path, "--host", "127.0.0.1", "--port", QString::number(receiver.port())};
    QProcess sender;
    if (gui) {
        args << "--gui";
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        if (!env.contains("QT_QPA_PLATFORM") && !env.contains("DISPLAY"))
            env.insert("QT_QPA_PLATFORM", "offscreen");
        sender.setProcessEnvironment(env);
    }
    sender.start(QStringLiteral(SENDER_EXECUTABLE), args);
    QTRY_VERIFY_WITH_TIMEOUT(framemd5Lines(md5Path) >= m_clip.fps, 10000); // a second of the 8 s is shown
    QCOMPARE(sender.state(), QProcess::Running);
    ::kill(pid_t(sender.processId()), signalNumber);
    QVERIFY(sender.waitForFinished(10000));
    const QByteArray err = sender.readAllStandardError();
    QCOMPARE(sender.exitStatus(), QProcess::NormalExit);
    QVERIFY2(sender.exitCode() == ExitOk, err.constData());
    if (!gui)
        QVERIFY2(sender.readAllStandardOutput().contains("stopped: sent"), err.constData());

    QVERIFY(receiver.waitForExit(10000));
    QVERIFY2(receiver.process().exitCode() == 0, qPrintable(receiver.output())); // a clean END_OF_STREAM
    const QStringList got = md5Column(readFile(md5Path));
    QVERIFY2(got.size() < m_clip.reference.size(), "the signal did not stop the stream");
    QCOMPARE(got, m_clip.reference.mid(0, got.size()));
}

// The receiver's person closed it (ERROR 10): without --retry the sender
// ends at once with exit 3 and says what to do.
void TestSenderEnding::closedReceiverEndsTheSender()
{
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost));
    const QString where = QStringLiteral("127.0.0.1:%1").arg(server.serverPort());
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE),
                 {m_clip.path, "--host", "127.0.0.1", "--port", QString::number(server.serverPort())});
    QVERIFY(server.waitForNewConnection(5000));
    StandInReceiver peer(std::unique_ptr<QTcpSocket>(server.nextPendingConnection()));
    QVERIFY(peer.readUntil([&] { return peer.accessUnits >= 10; }, 10000));
    QVERIFY(peer.accessUnits >= 10);
    peer.write(proto::MessageType::Error,
               serialize(proto::ErrorInfo{proto::ErrShuttingDown, "the receiver was closed"}));
    peer.closeAfterSender();
    QVERIFY(sender.waitForFinished(10000));
    const QString err = QString::fromUtf8(sender.readAllStandardError());
    QVERIFY2(sender.exitCode() == ExitConnectionFailed, qPrintable(err));
    QVERIFY2(err.contains(QStringLiteral("the receiver was closed on %1; start it again, or use --retry "
                                         "to wait for it").arg(where)), qPrintable(err));
}

// A receiver that confirms fewer frames than were sent is not "done" (exit
// 5): fewer access units received, or all received but fewer decoded.
void TestSenderEnding::fewerFramesIsNotDone_data()
{
    QTest::addColumn<bool>("allReceived");
    QTest::newRow("fewer access units received") << false;
    QTest::newRow("all received, fewer frames decoded") << true;
}

void TestSenderEnding::fewerFramesIsNotDone()
{
    QFETCH(bool, allReceived);
    const int frames = ffprobeVideoPacketCount(m_small); // one access unit each
    QVERIFY(frames > 1);
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost));
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE),
                 {m_small, "--host", "127.0.0.1", "--port", QString::number(server.serverPort()), "--fast"});
    QVERIFY(server.waitForNewConnection(5000));
    StandInReceiver peer(std::unique_ptr<QTcpSocket>(server.nextPendingConnection()));
    QVERIFY(peer.readUntil([&] { return peer.endOfStream; }, 10000));
    QVERIFY(peer.endOfStream);
    QCOMPARE(peer.accessUnits, quint64(frames));
    const quint64 received = allReceived ? peer.accessUnits : peer.accessUnits - 1;
    peer.write(proto::MessageType::Received, serialize(proto::Received{received, peer.accessUnits - 1}));
    peer.closeAfterSender();
    QVERIFY(sender.waitForFinished(10000));
    const QString err = QString::fromUtf8(sender.readAllStandardError());
    QVERIFY2(sender.exitCode() == ExitStreamIncomplete, qPrintable(err));
    const QString expected = allReceived
        ? QStringLiteral("the receiver got all %1 frames sent but decoded only %2").arg(frames).arg(frames - 1)
        : QStringLiteral("the receiver got %1 of the %2 frames sent").arg(frames - 1).arg(frames);
    QVERIFY2(err.contains(expected), qPrintable(err));
}

QTEST_GUILESS_MAIN(TestSenderEnding)
#include "tst_sender_ending.moc"
