// Bad input gets a clear one-line error and a distinct non-zero exit, never a
// crash or a hang; and a sender that rejects its file connects to nobody.
#include "app_runner.h"
#include "exit_codes.h"
#include "protocol.h"
#include "test_support.h"

#include <QFile>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

using namespace testsupport;
using namespace h264link;

class TestBadInput : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void senderRejectsFile_data();
    void senderRejectsFile();
    void truncatedMidStream();
    void connectionRefused();
    void unknownHost();
    void peerThatIsNotAReceiver();
    void peerThatSaysNothing();
    void badPortArgument();
    void unknownRenderer();
    void helpWorksWithoutDisplay_data();
    void helpWorksWithoutDisplay();
    void receiverPortInUse();
    void receiverRejectsGarbage_data();
    void receiverRejectsGarbage();

private:
    QString path(const QString &name) const { return m_dir.filePath(name); }
    QTemporaryDir m_dir;
    QString m_goodClip;
};

void TestBadInput::initTestCase()
{
    QVERIFY(m_dir.isValid());
    const QString src = "testsrc2=size=320x240:rate=25:duration=1";
    auto make = [&](const QString &name, const QStringList &args) {
        const ToolResult r = ffmpeg(QStringList{"-y"} + args + QStringList{path(name)});
        QVERIFY2(r.ok(), r.err.constData());
    };
    // Encoded by FFmpeg, decoded by no one: the sender cannot transcode it.
    make("a64.nut", {"-f", "lavfi", "-i", "testsrc2=size=320x200:rate=25:duration=0.4", "-c:v", "a64multi"});
    make("good.mp4", {"-f", "lavfi", "-i", src, "-c:v", "libx264", "-pix_fmt", "yuv420p"});
    m_goodClip = path("good.mp4");

    QFile(path("empty.mp4")).open(QIODevice::WriteOnly);
    QFile text(path("notes.txt"));
    QVERIFY(text.open(QIODevice::WriteOnly));
    text.write("These are lesson notes, not a video.\n");
    QFile subtitles(path("subtitles.srt")); // a media file with neither picture nor sound
    QVERIFY(subtitles.open(QIODevice::WriteOnly));
    subtitles.write("1\n00:00:00,000 --> 00:00:01,000\nLesson notes.\n");
    QFile truncated(path("truncated.mp4"));
    QVERIFY(truncated.open(QIODevice::WriteOnly));
    truncated.write(readFile(m_goodClip).left(2000)); // the moov index is gone

    // The index is intact (faststart) but the data ends half-way.
    make("faststart.mp4", {"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4", "-c:v",
                           "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"});
    const QByteArray whole = readFile(path("faststart.mp4"));
    QFile halfCut(path("half_cut.mp4"));
    QVERIFY(halfCut.open(QIODevice::WriteOnly));
    halfCut.write(whole.left(whole.size() / 2));
}

void TestBadInput::senderRejectsFile_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("expected"); // part of the message
    QTest::newRow("missing") << "does_not_exist.mp4" << "No such file";
    QTest::newRow("empty") << "empty.mp4" << "is empty";
    QTest::newRow("text file") << "notes.txt" << "not a media file";
    QTest::newRow("truncated mp4") << "truncated.mp4" << "truncated.mp4";
    // (HEVC, VP9 and every codec FFmpeg decodes stream, transcoded: tst_transcode.)
    QTest::newRow("no decoder") << "a64.nut" << "the video is of an unknown codec (tag a64m), so it cannot be sent";
    // (An audio-only file streams: tst_sender_audio.)
    QTest::newRow("neither video nor audio") << "subtitles.srt"
                                             << "has neither a video nor an audio stream (found: subtitle subrip)";
}

void TestBadInput::senderRejectsFile()
{
    QFETCH(QString, file);
    QFETCH(QString, expected);
    QTcpServer receiver; // stands in for a receiver: it must never hear from the sender
    QVERIFY(receiver.listen(QHostAddress::LocalHost));
    const SenderRun run = runSender({path(file), "--host", "127.0.0.1", "--port",
                                     QString::number(receiver.serverPort())}, 20000);
    QCOMPARE(run.exitCode, int(ExitBadInput));
    const QStringList lines = run.err.trimmed().split('\n');
    QCOMPARE(lines.size(), 1);
    QVERIFY2(lines[0].startsWith("sender: "), qPrintable(lines[0]));
    QVERIFY2(lines[0].contains(file), qPrintable(lines[0]));
    QVERIFY2(lines[0].contains(expected), qPrintable(lines[0]));
    QVERIFY(!receiver.waitForNewConnection(200)); // nothing was sent
}

void TestBadInput::truncatedMidStream()
{
    // Found only while streaming: the frames before the cut arrive, then the
    // sender says why it stops, to the user and to the receiver.
    ReceiverProcess receiver({"--once"});
    QVERIFY(receiver.port());
    const SenderRun run = runSender({path("half_cut.mp4"), "--host", "127.0.0.1", "--port",
                                     QString::number(receiver.port()), "--fast"});
    QCOMPARE(run.exitCode, int(ExitBadInput));
    QVERIFY2(run.err.contains("'half_cut.mp4' is truncated or damaged"), qPrintable(run.err));
    QVERIFY(receiver.waitForExit(10000));
    QCOMPARE(receiver.process().exitCode(), int(ExitStreamIncomplete));
    QVERIFY2(receiver.output().contains("the sender reported: 'half_cut.mp4' is truncated"),
             qPrintable(receiver.output()));
}

void TestBadInput::connectionRefused()
{
    quint16 port = 0;
    {
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost));
        port = probe.serverPort();
    } // closed again: nobody listens there now
    const SenderRun run = runSender({m_goodClip, "--host", "127.0.0.1", "--port", QString::number(port)});
    QCOMPARE(run.exitCode, int(ExitConnectionFailed));
    QVERIFY2(run.err.contains("refused") && run.err.contains("is the receiver running"), qPrintable(run.err));
}

void TestBadInput::unknownHost()
{
    const SenderRun run = runSender({m_goodClip, "--host", "no-such-host.invalid", "--connect-timeout", "3"});
    QCOMPARE(run.exitCode, int(ExitConnectionFailed));
    QVERIFY2(run.err.contains("no-such-host.invalid"), qPrintable(run.err));
}

void TestBadInput::peerThatIsNotAReceiver()
{
    QTcpServer web;
    QVERIFY(web.listen(QHostAddress::LocalHost));
    connect(&web, &QTcpServer::newConnection, [&] {
        QTcpSocket *s = web.nextPendingConnection();
        s->write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE),
                 {m_goodClip, "--host", "127.0.0.1", "--port", QString::number(web.serverPort())});
    QTRY_COMPARE_WITH_TIMEOUT(sender.state(), QProcess::NotRunning, 10000);
    QCOMPARE(sender.exitCode(), int(ExitProtocolError));
    const QString err = QString::fromUtf8(sender.readAllStandardError());
    QVERIFY2(err.contains("is not an h264link receiver: bad magic"), qPrintable(err));
}

void TestBadInput::peerThatSaysNothing()
{
    QTcpServer silent;
    QVERIFY(silent.listen(QHostAddress::LocalHost));
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE),
                 {m_goodClip, "--host", "127.0.0.1", "--port", QString::number(silent.serverPort())});
    QTRY_COMPARE_WITH_TIMEOUT(sender.state(), QProcess::NotRunning, 15000);
    QCOMPARE(sender.exitCode(), int(ExitProtocolError));
    const QString err = QString::fromUtf8(sender.readAllStandardError());
    QVERIFY2(err.contains("did not answer the h264link handshake"), qPrintable(err));
}

void TestBadInput::badPortArgument()
{
    const SenderRun run = runSender({m_goodClip, "--port", "70000"});
    QCOMPARE(run.exitCode, int(ExitUsage));
    QVERIFY(run.err.contains("invalid port '70000'"));
}

void TestBadInput::unknownRenderer()
{
    const ToolResult r = runTool(QStringLiteral(RECEIVER_EXECUTABLE), {"--renderer", "vulkan"}, 10000);
    QCOMPARE(r.exitCode, int(ExitUsage));
    QVERIFY2(r.err.contains("unknown renderer 'vulkan': use software or opengl"), r.err.constData());
}

void TestBadInput::helpWorksWithoutDisplay_data()
{
    QTest::addColumn<QString>("program");
    QTest::newRow("sender") << QStringLiteral(SENDER_EXECUTABLE);
    QTest::newRow("receiver") << QStringLiteral(RECEIVER_EXECUTABLE);
}

void TestBadInput::helpWorksWithoutDisplay()
{
    // QApplication aborts without a display; --help must not need one.
    QFETCH(QString, program);
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove("DISPLAY");
    env.remove("WAYLAND_DISPLAY");
    env.remove("QT_QPA_PLATFORM");
    p.setProcessEnvironment(env);
    p.start(program, {"--help"});
    QVERIFY(p.waitForFinished(10000));
    QCOMPARE(p.exitStatus(), QProcess::NormalExit);
    QCOMPARE(p.exitCode(), 0);
    const QString out = QString::fromUtf8(p.readAllStandardOutput());
    QVERIFY2(out.contains("Usage:") && out.contains("--port"), qPrintable(out));
}

void TestBadInput::receiverPortInUse()
{
    QTcpServer occupant;
    QVERIFY(occupant.listen(QHostAddress::Any));
    const ToolResult r = runTool(QStringLiteral(RECEIVER_EXECUTABLE),
                                 {"--headless", "--port", QString::number(occupant.serverPort())}, 10000);
    QCOMPARE(r.exitCode, int(ExitConnectionFailed));
    QVERIFY2(r.err.contains("already in use") && r.err.contains("--port"), r.err.constData());
}

void TestBadInput::receiverRejectsGarbage_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("expected");
    QTest::newRow("HTTP request") << QByteArray("GET / HTTP/1.1\r\nHost: x\r\n\r\n") << "bad magic";
    proto::Header huge;
    huge.type = quint8(proto::MessageType::Media);
    huge.payloadLength = 0xFFFFFFF0u;
    QByteArray header(proto::kHeaderSize, '\0');
    proto::writeHeader(huge, header.data());
    QTest::newRow("oversized length") << header << "exceeds the protocol maximum";
}

void TestBadInput::receiverRejectsGarbage()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QString, expected);
    ReceiverProcess receiver({"--once"});
    QVERIFY(receiver.port());
    QTcpSocket peer;
    peer.connectToHost(QHostAddress::LocalHost, receiver.port());
    QVERIFY(peer.waitForConnected(5000));
    peer.write(bytes);
    QVERIFY(peer.waitForBytesWritten(5000));
    QVERIFY(receiver.waitForExit(10000));
    QCOMPARE(receiver.process().exitCode(), int(ExitStreamIncomplete));
    QVERIFY2(receiver.output().contains(expected), qPrintable(receiver.output()));
}

QTEST_GUILESS_MAIN(TestBadInput)
#include "tst_bad_input.moc"
