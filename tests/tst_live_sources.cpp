// Live and piped sources: stdin (`sender -`), a camera (/dev/videoN) and the
// screen (--screen DISPLAY). A stream through a pipe arrives frame-exact, as a
// file does; a camera that is not there, a display with no X server, a pipe
// that carries no media and an empty pipe each get one clear line and exit
// 2, and the sender connects to nobody.
#include "app_runner.h"
#include "exit_codes.h"
#include "test_support.h"

#include <QFile>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QtTest>

using namespace testsupport;
using namespace h264link;

namespace {

struct Run {
    int exitCode = -1;
    QString err;
};

// The sender with `input` written into its stdin, a real pipe, then closed.
Run senderFromPipe(const QStringList &args, const QByteArray &input)
{
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE), args);
    Run run;
    if (!sender.waitForStarted(10000))
        return run;
    sender.write(input);
    sender.closeWriteChannel();
    if (!sender.waitForFinished(30000)) {
        sender.kill();
        sender.waitForFinished();
        run.err = QStringLiteral("timed out");
        return run;
    }
    run.exitCode = sender.exitStatus() == QProcess::NormalExit ? sender.exitCode() : -1;
    run.err = QString::fromUtf8(sender.readAllStandardError());
    return run;
}

// One line, from the sender, that says `expected`.
bool oneClearLine(const QString &err, const QString &expected, QString *why)
{
    const QStringList lines = err.trimmed().split('\n');
    *why = err;
    return lines.size() == 1 && lines[0].startsWith("sender: ") && lines[0].contains(expected);
}

} // namespace

class TestLiveSources : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void h264ThroughStdinPassesFrameExact();
    void badSource_data();
    void badSource();
    void badPipe_data();
    void badPipe();
    void loopIsRefusedForLiveSources_data();
    void loopIsRefusedForLiveSources();

private:
    QTemporaryDir m_dir;
    QString m_clip;
};

void TestLiveSources::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_clip = m_dir.filePath("clip.mp4");
    QCOMPARE(makeClip(m_clip, "320x240", 25, 2.0), QString());
}

// ffmpeg ... -c copy -f mpegts - | sender -: read through the bridge's
// sequential path, probed from the pipe, and not re-encoded.
void TestLiveSources::h264ThroughStdinPassesFrameExact()
{
    const QStringList reference = referenceMd5(m_clip);
    QVERIFY(!reference.isEmpty());
    const QString md5 = m_dir.filePath("pipe.framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5});
    QVERIFY(receiver.port());

    QProcess feeder;
    QProcess sender;
    feeder.setStandardOutputProcess(&sender); // a real pipe between the two
    feeder.start(QStringLiteral(FFMPEG_EXECUTABLE), {"-hide_banner", "-loglevel", "error", "-i", m_clip,
                                                     "-map", "0:v:0", "-c", "copy", "-f", "mpegts", "-"});
    sender.start(QStringLiteral(SENDER_EXECUTABLE), {"-", "--host", "127.0.0.1", "--port",
                                                     QString::number(receiver.port()), "--fast"});
    QVERIFY(feeder.waitForFinished(30000));
    QCOMPARE(feeder.exitCode(), 0);
    QVERIFY(sender.waitForFinished(30000));
    const QString err = QString::fromUtf8(sender.readAllStandardError());
    QVERIFY2(sender.exitCode() == ExitOk, qPrintable(err));
    QVERIFY2(!err.contains("transcod") && !err.contains("→ H.264"), qPrintable(err));
    QVERIFY(receiver.waitForExit(15000));
    QCOMPARE(receiver.process().exitCode(), int(ExitOk));
    QCOMPARE(md5Column(readFile(md5)), reference);
}

void TestLiveSources::badSource_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("expected");
    QTest::newRow("no such camera") << QStringList{"/dev/video99"} << "there is no camera '/dev/video99'";
    // :189 has no X server here (the test checks that first).
    QTest::newRow("no X server") << QStringList{"--screen", ":189"} << "cannot capture the screen of display ':189'";
    QTest::newRow("no X server, --screen=") << QStringList{"--screen=:189"}
                                            << "cannot capture the screen of display ':189'";
}

void TestLiveSources::badSource()
{
    QFETCH(QStringList, args);
    QFETCH(QString, expected);
    if (QFile::exists("/dev/video99"))
        H264LINK_SKIP_UNLESS_CI("this machine has a /dev/video99, which this test needs to be absent");
    if (QFile::exists("/tmp/.X11-unix/X189"))
        H264LINK_SKIP_UNLESS_CI("this machine has an X server on :189, which this test needs to be absent");
    QTcpServer receiver; // must never hear from the sender
    QVERIFY(receiver.listen(QHostAddress::LocalHost));
    const SenderRun run = runSender(args + QStringList{"--host", "127.0.0.1", "--port",
                                                       QString::number(receiver.serverPort())}, 20000);
    QCOMPARE(run.exitCode, int(ExitBadInput));
    QString why;
    QVERIFY2(oneClearLine(run.err, expected, &why), qPrintable(why));
    QVERIFY(!receiver.waitForNewConnection(200)); // nothing was sent
}

void TestLiveSources::badPipe_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QString>("expected");
    QTest::newRow("garbage") << QByteArray("garbage\n") << "stdin is not a media stream FFmpeg can read";
    QByteArray notes;
    for (int i = 0; i < 2000; ++i)
        notes += "Lesson notes, line " + QByteArray::number(i) + ": not a video.\n";
    QTest::newRow("50 kB of text") << notes << "stdin is not a media stream FFmpeg can read";
    QTest::newRow("empty") << QByteArray() << "stdin is empty";
}

void TestLiveSources::badPipe()
{
    QFETCH(QByteArray, input);
    QFETCH(QString, expected);
    QTcpServer receiver;
    QVERIFY(receiver.listen(QHostAddress::LocalHost));
    const Run run = senderFromPipe({"-", "--host", "127.0.0.1", "--port", QString::number(receiver.serverPort())},
                                   input);
    QCOMPARE(run.exitCode, int(ExitBadInput));
    QString why;
    QVERIFY2(oneClearLine(run.err, expected, &why), qPrintable(why));
    QVERIFY(!receiver.waitForNewConnection(200));
}

void TestLiveSources::loopIsRefusedForLiveSources_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::newRow("stdin") << QStringList{"-"};
    QTest::newRow("camera") << QStringList{"/dev/video0"};
    QTest::newRow("screen") << QStringList{"--screen", ":0"};
}

void TestLiveSources::loopIsRefusedForLiveSources()
{
    QFETCH(QStringList, args);
    const SenderRun run = runSender(args + QStringList{"--loop", "--port", "1"}, 20000);
    QCOMPARE(run.exitCode, int(ExitUsage));
    QString why;
    QVERIFY2(oneClearLine(run.err, "--loop", &why), qPrintable(why));
    QVERIFY2(run.err.contains("cannot start again"), qPrintable(run.err));
}

QTEST_GUILESS_MAIN(TestLiveSources)
#include "tst_live_sources.moc"
