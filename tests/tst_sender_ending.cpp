// How a sender ends, with real processes on loopback: stopped by SIGTERM or
// SIGINT (a clean END_OF_STREAM, exit 0), told by the receiver that its
// person closed it (ERROR 10: exit 3, or with --retry, carry on at the next
// keyframe when a receiver is back), and "done" only when every frame sent
// was decoded. The stand-in receivers are staged from the protocol's own
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

// The indexes of the keyframes of the first video stream, from ffprobe.
QList<int> keyframeIndexes(const QString &clip)
{
    const ToolResult r = ffprobe({"-select_streams", "v:0", "-show_entries", "packet=flags",
                                  "-of", "csv=p=0", clip});
    QList<int> keys;
    const QList<QByteArray> lines = r.out.trimmed().split('\n');
    for (int i = 0; i < lines.size(); ++i) {
        if (lines[i].startsWith('K'))
            keys << i;
    }
    return keys;
}

} // namespace

class TestSenderEnding : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void signalEndsTheStreamCleanly_data();
    void signalEndsTheStreamCleanly();
    void closedReceiverEndsTheSender();
    void closedReceiverIsRetried();
    void fewerFramesDecodedIsNotDone();

private:
    QTemporaryDir m_dir;
    QString m_clip; // 8 s, a keyframe every 25 frames (1 s)
    QStringList m_reference;
    // No B-frames: a stream cut anywhere in decode order is then a prefix
    // in display order too.
    QString m_flatClip;
    QStringList m_flatReference;
};

void TestSenderEnding::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_clip = m_dir.filePath("gops.mp4");
    QCOMPARE(makeClip(m_clip, "320x240", 25, 8.0,
                      {"-g", "25", "-keyint_min", "25", "-sc_threshold", "0"}),
             QString());
    m_reference = referenceMd5(m_clip);
    QCOMPARE(m_reference.size(), ffprobeVideoPacketCount(m_clip));
    m_flatClip = m_dir.filePath("no_bframes.mp4");
    QCOMPARE(makeClip(m_flatClip, "320x240", 25, 8.0, {"-bf", "0"}), QString());
    m_flatReference = referenceMd5(m_flatClip);
    QCOMPARE(m_flatReference.size(), ffprobeVideoPacketCount(m_flatClip));
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
    QStringList args{m_flatClip, "--host", "127.0.0.1", "--port", QString::number(receiver.port())};
    QProcess sender;
    if (gui) {
        args << "--gui";
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        if (!env.contains("QT_QPA_PLATFORM") && !env.contains("DISPLAY"))
            env.insert("QT_QPA_PLATFORM", "offscreen");
        sender.setProcessEnvironment(env);
    }
    sender.start(QStringLiteral(SENDER_EXECUTABLE), args);
    QTRY_VERIFY_WITH_TIMEOUT(framemd5Lines(md5Path) >= 25, 10000); // a second of the 8 s is shown
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
    QVERIFY2(got.size() < m_flatReference.size(), "the signal did not stop the stream");
    QCOMPARE(got, m_flatReference.mid(0, got.size()));
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
                 {m_clip, "--host", "127.0.0.1", "--port", QString::number(server.serverPort())});
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

// With --retry, a receiver closed by its person and started again gets the
// stream from the next keyframe on, to the end.
void TestSenderEnding::closedReceiverIsRetried()
{
    auto server = std::make_unique<QTcpServer>();
    QVERIFY(server->listen(QHostAddress::LocalHost));
    const quint16 port = server->serverPort();
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE),
                 {m_clip, "--host", "127.0.0.1", "--port", QString::number(port), "--retry"});
    QVERIFY(server->waitForNewConnection(5000));
    StandInReceiver peer(std::unique_ptr<QTcpSocket>(server->nextPendingConnection()));
    QVERIFY(peer.readUntil([&] { return peer.accessUnits >= 10; }, 10000));
    QVERIFY(peer.accessUnits >= 10);
    const quint64 shownBeforeClose = peer.accessUnits;
    peer.write(proto::MessageType::Error,
               serialize(proto::ErrorInfo{proto::ErrShuttingDown, "the receiver was closed"}));
    peer.closeAfterSender();
    server.reset(); // the port is free for the receiver started again
    QByteArray err; // accumulated: QTRY_VERIFY evaluates its expression more than once
    QTRY_VERIFY_WITH_TIMEOUT((err += sender.readAllStandardError()).contains("retrying"), 5000);
    QVERIFY2(err.contains(QStringLiteral("the receiver was closed on 127.0.0.1:%1").arg(port).toUtf8()),
             err.constData());
    QCOMPARE(sender.state(), QProcess::Running);

    const QString md5Path = m_dir.filePath("after-close.framemd5");
    ReceiverProcess again({"--port", QString::number(port), "--once", "--framemd5", md5Path});
    QVERIFY2(again.port(), qPrintable(again.output()));
    QVERIFY(sender.waitForFinished(20000));
    err += sender.readAllStandardError();
    QVERIFY2(sender.exitCode() == ExitOk, err.constData());
    QVERIFY(again.waitForExit(10000));
    QCOMPARE(again.process().exitCode(), 0);

    const QStringList got = md5Column(readFile(md5Path));
    QVERIFY(!got.isEmpty());
    const int start = int(m_reference.indexOf(got.first()));
    QVERIFY2(keyframeIndexes(m_clip).contains(start), qPrintable(QString("resumed at frame %1").arg(start)));
    QVERIFY2(start >= int(shownBeforeClose), qPrintable(QString("resumed at frame %1").arg(start)));
    QCOMPARE(got, m_reference.mid(start));
}

// RECEIVED with every access unit but one frame fewer decoded is not "done".
void TestSenderEnding::fewerFramesDecodedIsNotDone()
{
    const QString small = m_dir.filePath("small.mp4");
    QCOMPARE(makeClip(small, "160x120", 25, 2.0), QString());
    const int frames = ffprobeVideoPacketCount(small);
    QVERIFY(frames > 1);
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost));
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE),
                 {small, "--host", "127.0.0.1", "--port", QString::number(server.serverPort()), "--fast"});
    QVERIFY(server.waitForNewConnection(5000));
    StandInReceiver peer(std::unique_ptr<QTcpSocket>(server.nextPendingConnection()));
    QVERIFY(peer.readUntil([&] { return peer.endOfStream; }, 10000));
    QVERIFY(peer.endOfStream);
    QCOMPARE(peer.accessUnits, quint64(frames));
    peer.write(proto::MessageType::Received, serialize(proto::Received{peer.accessUnits, peer.accessUnits - 1}));
    peer.closeAfterSender();
    QVERIFY(sender.waitForFinished(10000));
    const QString err = QString::fromUtf8(sender.readAllStandardError());
    QVERIFY2(sender.exitCode() == ExitStreamIncomplete, qPrintable(err));
    QVERIFY2(err.contains(QStringLiteral("the receiver got all %1 frames sent but decoded only %2")
                              .arg(frames).arg(frames - 1)), qPrintable(err));
}

QTEST_GUILESS_MAIN(TestSenderEnding)
#include "tst_sender_ending.moc"
