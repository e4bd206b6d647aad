// Sender -> receiver over loopback, as real processes. For every frame the
// receiver's --framemd5 must equal `ffmpeg -f framemd5` on the source clip.
#include "app_runner.h"
#include "handshake.h"
#include "message_decoder.h"
#include "test_support.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>

using namespace testsupport;

namespace {

struct Clip {
    QString name;
    QString size;
    QString rate;
    QStringList encoder;
};

// Container, profile, size, frame rate and pixel format all vary.
const QList<Clip> kClips = {
    {"high_bframes_odd.mp4", "642x362", "30", {"-profile:v", "high", "-bf", "3"}},
    {"baseline.mkv", "320x240", "25", {"-profile:v", "baseline"}},
    {"main_ntsc.ts", "352x288", "30000/1001", {"-profile:v", "main"}},
    {"film.flv", "320x180", "24", {}},
    {"raw15.h264", "176x144", "15", {}},
    {"quicktime.mov", "320x240", "50", {"-bf", "2"}},
    {"high10.mp4", "320x240", "25", {"-pix_fmt", "yuv420p10le"}},
    {"high422.mkv", "320x240", "25", {"-pix_fmt", "yuv422p"}},
    {"high444.mkv", "320x240", "25", {"-pix_fmt", "yuv444p"}},
    {"interlaced.mp4", "320x240", "25", {"-flags", "+ildct+ilme", "-x264opts", "interlaced=1"}},
};

// How long after the first frame the last one is due, from ffprobe's
// timestamps of the first video stream; -1 if ffprobe fails.
qint64 lastFrameDueMs(const QString &clip)
{
    const ToolResult r = ffprobe({"-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time",
                                  "-of", "csv=p=0", clip});
    QList<double> times;
    for (const QByteArray &line : r.out.split('\n')) {
        bool ok = false;
        const double t = line.split(',').first().trimmed().toDouble(&ok);
        if (ok)
            times << t;
    }
    if (!r.ok() || times.size() < 2)
        return -1;
    std::sort(times.begin(), times.end());
    return qint64((times.last() - times.first()) * 1000);
}

} // namespace

class TestEndToEnd : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void framesMatchFfmpeg_data();
    void framesMatchFfmpeg();
    void resolutionChangeMidStream();
    void bundledDemoClip();
    void pacedSendTakesRealTime();
    void loopRepeatsUntilStopped();
    void loopTimestampsContinueAcrossTheSeam();
    void senderDropIsReportedAndNextSenderAccepted();
    void liveStatisticsAndNoHeldFrame();

private:
    QString clip(const QString &name) const { return m_dir.filePath(name); }
    QString makeFrom(const QString &name, const QStringList &inputs, const QStringList &encoder);
    QTemporaryDir m_dir;
};

QString TestEndToEnd::makeFrom(const QString &name, const QStringList &inputs,
                               const QStringList &encoder)
{
    const ToolResult r = ffmpeg(QStringList{"-y"} + inputs + encoder + QStringList{clip(name)});
    return r.ok() ? QString() : QString::fromUtf8(r.err);
}

void TestEndToEnd::initTestCase()
{
    QVERIFY(m_dir.isValid());
    for (const Clip &c : kClips) {
        QStringList encoder{"-c:v", "libx264", "-preset", "veryfast"};
        if (!c.encoder.contains("-pix_fmt"))
            encoder << "-pix_fmt" << "yuv420p";
        QCOMPARE(makeFrom(c.name,
                          {"-f", "lavfi", "-i", QStringLiteral("testsrc2=size=%1:rate=%2:duration=1.6")
                                                    .arg(c.size, c.rate)},
                          encoder + c.encoder), QString());
    }
    // Audio as the first stream; two video streams (the first one is sent).
    QCOMPARE(makeFrom("audio_first.mp4",
                      {"-f", "lavfi", "-i", "sine=duration=1.6", "-f", "lavfi", "-i",
                       "testsrc2=size=320x240:rate=25:duration=1.6", "-map", "0:a", "-map", "1:v"},
                      {"-c:a", "aac", "-c:v", "libx264", "-pix_fmt", "yuv420p"}), QString());
    QCOMPARE(makeFrom("two_videos.mkv",
                      {"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1.6", "-f", "lavfi",
                       "-i", "testsrc=size=160x120:rate=10:duration=1.6", "-map", "0:v", "-map", "1:v"},
                      {"-c:v", "libx264", "-pix_fmt", "yuv420p"}), QString());
}

void TestEndToEnd::framesMatchFfmpeg_data()
{
    QTest::addColumn<QString>("name");
    for (const Clip &c : kClips)
        QTest::newRow(qPrintable(c.name)) << c.name;
    QTest::newRow("audio_first.mp4") << "audio_first.mp4";
    QTest::newRow("two_videos.mkv") << "two_videos.mkv";
}

void TestEndToEnd::framesMatchFfmpeg()
{
    QFETCH(QString, name);
    const QString md5Path = m_dir.filePath(name + ".framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5Path});
    QVERIFY2(receiver.port(), qPrintable(receiver.output()));

    const SenderRun sender = runSender({clip(name), "--host", "127.0.0.1", "--port",
                                        QString::number(receiver.port()), "--fast"});
    QVERIFY2(sender.exitCode == 0, qPrintable(sender.err));
    QVERIFY(receiver.waitForExit(20000));
    QVERIFY2(receiver.process().exitCode() == 0, qPrintable(receiver.output()));

    const QStringList expected = referenceMd5(clip(name));
    const QStringList got = md5Column(readFile(md5Path));
    QCOMPARE(expected.size(), ffprobeFrameCount(clip(name)));
    QCOMPARE(got.size(), expected.size()); // none missing, none extra
    for (int i = 0; i < got.size(); ++i)
        QVERIFY2(got[i] == expected[i], qPrintable(QString("frame %1 differs").arg(i)));
    QVERIFY(receiver.output().contains(QString("%1 of %1 frames received").arg(expected.size())));

    // Each frame's time is the source's: the receiver's pts column (the
    // sender's pts_us, "#tb 0: 1/1000000") against ffmpeg's, both in µs.
    const QByteArray written = readFile(md5Path);
    QVERIFY2(written.contains("#tb 0: 1/1000000\n"), written.left(300).constData());
    if (name.endsWith(".h264"))
        return; // a raw stream has no timestamps: each side invents its own (ffmpeg's start at 1 tick)
    const QList<qint64> expectedPts = referencePtsUs(clip(name));
    const QList<qint64> gotPts = ptsColumnUs(written);
    QCOMPARE(expectedPts.size(), expected.size());
    QCOMPARE(gotPts.size(), expectedPts.size());
    for (int i = 0; i < gotPts.size(); ++i)
        QVERIFY2(gotPts[i] == expectedPts[i], qPrintable(QString("frame %1: pts %2 µs, the source says %3 µs")
                                                             .arg(i).arg(gotPts[i]).arg(expectedPts[i])));
}

void TestEndToEnd::resolutionChangeMidStream()
{
    // Two raw streams of different sizes, back to back. The ffmpeg CLI would
    // rescale the second part to the first size before hashing, so the
    // reference is each part's framemd5, in order.
    const QStringList enc{"-c:v", "libx264", "-pix_fmt", "yuv420p"};
    QCOMPARE(makeFrom("part1.h264", {"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1"}, enc),
             QString());
    QCOMPARE(makeFrom("part2.h264", {"-f", "lavfi", "-i", "testsrc2=size=642x362:rate=25:duration=1"}, enc),
             QString());
    QFile joined(clip("reschange.h264"));
    QVERIFY(joined.open(QIODevice::WriteOnly));
    joined.write(readFile(clip("part1.h264")) + readFile(clip("part2.h264")));
    joined.close();

    const QString md5Path = m_dir.filePath("reschange.framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5Path});
    QVERIFY(receiver.port());
    const SenderRun sender = runSender({clip("reschange.h264"), "--host", "127.0.0.1", "--port",
                                        QString::number(receiver.port()), "--fast"});
    QVERIFY2(sender.exitCode == 0, qPrintable(sender.err));
    QVERIFY(receiver.waitForExit(20000));
    QCOMPARE(receiver.process().exitCode(), 0);
    const QStringList expected = referenceMd5(clip("part1.h264")) + referenceMd5(clip("part2.h264"));
    QCOMPARE(expected.size(), ffprobeFrameCount(clip("part1.h264")) + ffprobeFrameCount(clip("part2.h264")));
    QCOMPARE(md5Column(readFile(md5Path)), expected);
}

void TestEndToEnd::bundledDemoClip()
{
    const QString demo = QStringLiteral(H264LINK_SOURCE_DIR "/resources/demo.mp4");
    QVERIFY(QFileInfo(demo).size() <= 3 * 1024 * 1024);
    const ToolResult probe = ffprobe({"-select_streams", "v:0", "-show_entries", "stream=codec_name",
                                      "-of", "csv=p=0", demo});
    QCOMPARE(probe.out.trimmed(), QByteArray("h264"));

    const QString md5Path = m_dir.filePath("demo.framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5Path});
    QVERIFY(receiver.port());
    const SenderRun sender = runSender({demo, "--host", "127.0.0.1", "--port",
                                        QString::number(receiver.port()), "--fast"});
    QVERIFY2(sender.exitCode == 0, qPrintable(sender.err));
    QVERIFY(receiver.waitForExit(30000));
    QCOMPARE(md5Column(readFile(md5Path)), referenceMd5(demo));
}

void TestEndToEnd::pacedSendTakesRealTime()
{
    const QString md5Path = m_dir.filePath("paced.framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5Path});
    QVERIFY(receiver.port());
    const SenderRun sender = runSender({clip("baseline.mkv"), "--host", "127.0.0.1", "--port",
                                        QString::number(receiver.port())});
    QVERIFY2(sender.exitCode == 0, qPrintable(sender.err));
    // Not faster than the clip (a little slack for timer granularity), and
    // not so slow that it is no longer real time: at most three times the
    // clip plus 2 s for starting up and the receiver's confirmation.
    const qint64 dueMs = lastFrameDueMs(clip("baseline.mkv"));
    QVERIFY(dueMs > 0);
    QVERIFY2(sender.elapsedMs >= dueMs - 100 && sender.elapsedMs <= 3 * dueMs + 2000,
             qPrintable(QString("took %1 ms for a clip whose last frame is due at %2 ms")
                            .arg(sender.elapsedMs).arg(dueMs)));
    QVERIFY(receiver.waitForExit(20000));
    QCOMPARE(md5Column(readFile(md5Path)), referenceMd5(clip("baseline.mkv")));
}

void TestEndToEnd::loopRepeatsUntilStopped()
{
    const QString md5Path = m_dir.filePath("loop.framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5Path});
    QVERIFY(receiver.port());
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE),
                 {clip("baseline.mkv"), "--host", "127.0.0.1", "--port",
                  QString::number(receiver.port()), "--loop"});
    QVERIFY(sender.waitForStarted());
    const QStringList once = referenceMd5(clip("baseline.mkv"));
    QVERIFY(!once.isEmpty());
    // More than two passes decoded, then stop.
    QTRY_VERIFY_WITH_TIMEOUT(md5Column(readFile(md5Path)).size() > 2 * once.size(), 20000);
    sender.terminate(); // SIGTERM: a clean stop with END_OF_STREAM
    QVERIFY(sender.waitForFinished(10000));
    QCOMPARE(sender.exitCode(), 0);
    QVERIFY(receiver.waitForExit(10000));
    QCOMPARE(receiver.process().exitCode(), 0);

    const QStringList got = md5Column(readFile(md5Path));
    QVERIFY2(got.size() > 2 * once.size(), qPrintable(QString::number(got.size())));
    for (int i = 0; i < got.size(); ++i)
        QVERIFY2(got[i] == once[i % once.size()], qPrintable(QString("frame %1").arg(i)));
}

// With B-frames, decode timestamps run behind presentation ones. Each pass
// of --loop must start one frame after the previous pass's last picture:
// every access unit's pts (from its MEDIA message, read by a receiver staged
// from the protocol's pieces) is distinct, and together they are the
// clip's frame times, evenly spaced, pass after pass. (A loop measured in dts
// repeated pictures' times at the seam and ran the clock fast.)
void TestEndToEnd::loopTimestampsContinueAcrossTheSeam()
{
    const QString name = "high_bframes_odd.mp4"; // 30 fps, -bf 3
    const int frames = ffprobeFrameCount(clip(name));
    QVERIFY(frames > 1);
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost));
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE), {clip(name), "--host", "127.0.0.1", "--port",
                                                     QString::number(server.serverPort()), "--loop", "--fast"});
    QVERIFY(server.waitForNewConnection(5000));
    std::unique_ptr<QTcpSocket> peer(server.nextPendingConnection());
    h264link::ReceiverHandshake handshake({});
    h264link::proto::MessageDecoder decoder;
    h264link::proto::MessageWriter writer;
    auto sendAll = [&](const h264link::HandshakeStep &step) {
        for (const auto &out : step.send)
            peer->write(writer.encode(out.type, out.payload));
    };
    sendAll(handshake.start());
    const int passes = 3;
    QList<qint64> pts;
    QDeadlineTimer deadline(20000);
    while (pts.size() < passes * frames && !deadline.hasExpired()
           && peer->state() == QAbstractSocket::ConnectedState) {
        if (!peer->waitForReadyRead(100))
            continue;
        QVERIFY(decoder.feed(peer->readAll()));
        while (decoder.hasMessage()) {
            const h264link::proto::Message m = decoder.takeMessage();
            if (!handshake.isDone())
                sendAll(handshake.onMessage(m));
            else if (m.type == h264link::proto::MessageType::Media
                     && (m.flags & h264link::proto::AccessUnitStart))
                pts << h264link::proto::parseMedia(m.payload)->ptsUs;
        }
    }
    sender.kill();
    sender.waitForFinished();
    QVERIFY2(pts.size() >= passes * frames, qPrintable(QString::number(pts.size())));
    QList<qint64> first = pts.mid(0, frames);
    std::sort(first.begin(), first.end());
    const double step = double(first.last() - first.first()) / (frames - 1); // one frame
    QVERIFY(step > 0);
    pts = pts.mid(0, passes * frames);
    std::sort(pts.begin(), pts.end());
    for (int i = 1; i < pts.size(); ++i) {
        const qint64 gap = pts[i] - pts[i - 1];
        QVERIFY2(qAbs(double(gap) - step) <= 1.0, // microsecond rounding
                 qPrintable(QString("frame %1 of pass %2: %3 us after the previous picture, not %4")
                                .arg(i % frames).arg(i / frames + 1).arg(gap).arg(step)));
    }
}

void TestEndToEnd::senderDropIsReportedAndNextSenderAccepted()
{
    const QString md5Path = m_dir.filePath("dropped.framemd5");
    ReceiverProcess receiver({"--framemd5", md5Path});
    QVERIFY(receiver.port());
    const QString port = QString::number(receiver.port());
    QProcess first;
    first.start(QStringLiteral(SENDER_EXECUTABLE),
                {clip("baseline.mkv"), "--host", "127.0.0.1", "--port", port, "--loop"});
    QVERIFY(first.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(!md5Column(readFile(md5Path)).isEmpty(), 5000); // mid-stream
    first.kill(); // no END_OF_STREAM: the connection just drops
    first.waitForFinished();
    QTRY_VERIFY_WITH_TIMEOUT(receiver.output().contains("(sender disconnected)"), 1000);

    const SenderRun second = runSender({clip("film.flv"), "--host", "127.0.0.1", "--port", port, "--fast"});
    QVERIFY2(second.exitCode == 0, qPrintable(second.err));
    const int frames = int(referenceMd5(clip("film.flv")).size());
    QTRY_VERIFY_WITH_TIMEOUT(receiver.output().contains(
                                 QString("(end of stream): %1 of %1 frames received").arg(frames)), 5000);
    QCOMPARE(receiver.process().state(), QProcess::Running); // still serving
}

void TestEndToEnd::liveStatisticsAndNoHeldFrame()
{
    // 5 fps without B-frames: a frame held until the next one starts (what
    // the raw H.264 parser does on its own) would add 200 ms to every frame.
    QCOMPARE(makeFrom("slow.mp4", {"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=5:duration=4"},
                      {"-c:v", "libx264", "-bf", "0", "-pix_fmt", "yuv420p"}), QString());
    ReceiverProcess receiver({"--once", "--stats"});
    QVERIFY(receiver.port());
    const SenderRun sender = runSender({clip("slow.mp4"), "--host", "127.0.0.1", "--port",
                                        QString::number(receiver.port())});
    QVERIFY2(sender.exitCode == 0, qPrintable(sender.err));
    QVERIFY(receiver.waitForExit(10000));

    QList<QJsonObject> lines;
    for (const QString &line : receiver.output().split('\n')) {
        if (line.startsWith('{'))
            lines << QJsonDocument::fromJson(line.toUtf8()).object();
    }
    QVERIFY2(lines.size() >= 2, qPrintable(receiver.output()));
    const QJsonObject mid = lines[lines.size() / 2];
    const double fps = mid["fps"].toObject()["decoded"].toDouble();
    QVERIFY2(fps >= 3 && fps <= 7, qPrintable(QString::number(fps)));
    QVERIFY(mid["rtt_ms"].isDouble());
    const QJsonObject decode = mid["latency_ms"].toObject()["decode"].toObject();
    QVERIFY2(decode["median"].isDouble() && decode["median"].toDouble() < 100,
             qPrintable(QJsonDocument(mid).toJson()));
    QVERIFY(mid["latency_ms"].toObject()["network"].toObject()["median"].isDouble());
}

QTEST_GUILESS_MAIN(TestEndToEnd)
#include "tst_end_to_end.moc"
