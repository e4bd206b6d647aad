// Any video codec libavcodec decodes, streamed as H.264 (issue 11, point 4):
// real sender and receiver processes; each clip is generated here in its own
// codec. Every source frame must arrive (the receiver's --framemd5 count
// equals `ffprobe -count_frames` of the source), and the receiver's --record
// must be within 35 dB PSNR of the source (ffmpeg's psnr filter, frame by
// frame). Also: --transcode on H.264, --max-size, --bitrate, real time, and
// streams that cannot be transcoded.
#include "app_runner.h"
#include "exit_codes.h"
#include "test_support.h"

#include <QRegularExpression>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QtTest>

using namespace h264link;
using namespace testsupport;

namespace {

constexpr double kMinPsnrDb = 35.0;

// ffmpeg's psnr filter over `recording` against `source`, frame by frame
// (both renumbered, so that the n-th frame meets the n-th), the source
// converted as the sender does (yuv420p, scaled to the recording's size).
// -1 if ffmpeg fails.
double psnrDb(const QString &recording, const QString &source, int width, int height)
{
    const QString graph = QStringLiteral("[0:v]settb=1/25,setpts=N,format=yuv420p[a];"
                                         "[1:v]settb=1/25,setpts=N,scale=%1:%2:flags=bicubic,format=yuv420p[b];"
                                         "[a][b]psnr").arg(width).arg(height);
    const ToolResult r = ffmpeg({"-loglevel", "info", "-nostats", "-i", recording, "-i", source, "-lavfi", graph, "-f", "null", "-"});
    static const QRegularExpression average(QStringLiteral("PSNR y:\\S+ u:\\S+ v:\\S+ average:([0-9.]+|inf)"));
    const QRegularExpressionMatch m = average.match(QString::fromUtf8(r.err));
    if (!r.ok() || !m.hasMatch())
        return -1;
    return m.captured(1) == QLatin1String("inf") ? 1000 : m.captured(1).toDouble();
}

struct VideoSize {
    int width = 0;
    int height = 0;
};

// One field of the first video stream, as ffprobe reads it (by key: MPEG-2's
// stream side data adds columns to the csv form, MPEG-TS lists streams twice).
QString probeField(const QString &path, const QString &field, const QStringList &extra = {})
{
    const ToolResult r = ffprobe(QStringList{"-select_streams", "v:0"} + extra
                                 + QStringList{"-show_entries", "stream=" + field, "-of", "default=noprint_wrappers=1", path});
    const QRegularExpression line(QStringLiteral("^%1=(.*)$").arg(field), QRegularExpression::MultilineOption);
    const QRegularExpressionMatch m = line.match(QString::fromUtf8(r.out));
    return r.ok() && m.hasMatch() ? m.captured(1).trimmed() : QString();
}

VideoSize probeSize(const QString &path)
{
    return VideoSize{probeField(path, "width").toInt(), probeField(path, "height").toInt()};
}

QString codecOf(const QString &path)
{
    return probeField(path, "codec_name");
}

// `ffprobe -count_frames` of the first video stream; -1 if ffprobe fails.
int countFrames(const QString &path)
{
    bool ok = false;
    const int n = probeField(path, "nb_read_frames", {"-count_frames"}).toInt(&ok);
    return ok ? n : -1;
}

// The one line "sent N frames" of a sender's summary.
int sentFrames(const QString &out)
{
    static const QRegularExpression sent(QStringLiteral("sent (\\d+) frames"));
    const QRegularExpressionMatch m = sent.match(out);
    return m.hasMatch() ? m.captured(1).toInt() : -1;
}

int skippedFrames(const QString &out)
{
    static const QRegularExpression skipped(QStringLiteral("\\((\\d+) frames skipped to stay live"));
    const QRegularExpressionMatch m = skipped.match(out);
    return m.hasMatch() ? m.captured(1).toInt() : 0;
}

} // namespace

class TestTranscode : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void everyCodecArrivesAsH264_data();
    void everyCodecArrivesAsH264();
    void transcodeForcedOnH264();
    void maxSizeScalesDown();
    void bitRateOption();
    void realTimeKeepsUpOrSkips();
    void badBitRate_data();
    void badBitRate();
    void codecWithoutDecoder();
    void garbledStream();

private:
    QString path(const QString &name) const { return m_dir.filePath(name); }
    void make(const QString &name, const QStringList &codec, const QString &size = "320x240");
    struct Run {
        SenderRun sender;
        int receiverExit = -1;
        QString receiverOut;
        QStringList frames; // the receiver's video framemd5 lines (their md5s)
    };
    Run stream(const QString &file, const QStringList &senderArgs);
    QTemporaryDir m_dir;
};

void TestTranscode::make(const QString &name, const QStringList &codec, const QString &size)
{
    const QString source = QStringLiteral("testsrc2=size=%1:rate=25:duration=1.6").arg(size);
    const ToolResult r = ffmpeg(QStringList{"-y", "-f", "lavfi", "-i", source} + codec + QStringList{path(name)});
    QVERIFY2(r.ok(), r.err.constData());
}

void TestTranscode::initTestCase()
{
    QVERIFY(m_dir.isValid());
    make("hevc.mp4", {"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:bframes=3",
                      "-pix_fmt", "yuv420p"});
    make("vp9.webm", {"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"});
    // SVT-AV1 where the ffmpeg CLI has it (fast); libaom's realtime mode otherwise.
    const bool svt = ffmpeg({"-hide_banner", "-encoders"}).out.contains("libsvtav1");
    make("av1.mkv", svt ? QStringList{"-c:v", "libsvtav1", "-preset", "12", "-pix_fmt", "yuv420p"}
                        : QStringList{"-c:v", "libaom-av1", "-usage", "realtime", "-cpu-used", "8", "-pix_fmt", "yuv420p"});
    make("mpeg2.ts", {"-c:v", "mpeg2video", "-q:v", "2", "-bf", "2"});
    make("mpeg4.avi", {"-c:v", "mpeg4", "-q:v", "2", "-bf", "1"});
    make("mjpeg.avi", {"-c:v", "mjpeg", "-q:v", "2"});              // full-range yuvj422p
    make("prores.mov", {"-c:v", "prores_ks", "-profile:v", "standard"}); // 10-bit 4:2:2
    make("h264.mp4", {"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"});
    // Raw pictures, as a screen or camera gives them, of odd sides.
    make("raw_odd.nut", {"-c:v", "rawvideo", "-pix_fmt", "yuv444p"}, "321x241");
}

TestTranscode::Run TestTranscode::stream(const QString &file, const QStringList &senderArgs)
{
    Run run;
    const QString md5 = path(file + ".framemd5");
    const QString record = path(file + ".rec.mkv");
    ReceiverProcess receiver({"--once", "--framemd5", md5, "--record", record});
    if (!receiver.port())
        return run;
    run.sender = runSender(QStringList{path(file), "--host", "127.0.0.1", "--port", QString::number(receiver.port())}
                           + senderArgs);
    receiver.waitForExit(run.sender.exitCode == ExitOk ? 20000 : 5000);
    run.receiverExit = receiver.process().exitCode();
    run.receiverOut = receiver.output();
    run.frames = md5Column(readFile(md5));
    return run;
}

void TestTranscode::everyCodecArrivesAsH264_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("codec"); // as the sender names it
    QTest::newRow("HEVC") << "hevc.mp4" << "hevc";
    QTest::newRow("VP9") << "vp9.webm" << "vp9";
    QTest::newRow("AV1") << "av1.mkv" << "av1";
    QTest::newRow("MPEG-2") << "mpeg2.ts" << "mpeg2video";
    QTest::newRow("MPEG-4 Part 2") << "mpeg4.avi" << "mpeg4";
    QTest::newRow("MJPEG") << "mjpeg.avi" << "mjpeg";
    QTest::newRow("ProRes") << "prores.mov" << "prores";
    QTest::newRow("raw video, odd size") << "raw_odd.nut" << "rawvideo";
}

void TestTranscode::everyCodecArrivesAsH264()
{
    QFETCH(QString, file);
    QFETCH(QString, codec);
    const int expected = countFrames(path(file));
    QVERIFY(expected > 0);
    const VideoSize source = probeSize(path(file));
    const Run run = stream(file, {"--fast"});
    QVERIFY2(run.sender.exitCode == ExitOk, qPrintable(run.sender.err));
    QCOMPARE(run.receiverExit, int(ExitOk));
    // Said once, at the start, and the speed once it is known.
    const QString plan = QStringLiteral("video: %1 %2x%3 → H.264 ").arg(codec).arg(source.width).arg(source.height);
    QVERIFY2(run.sender.err.count(plan) == 1, qPrintable(run.sender.err));
    QVERIFY2(run.sender.err.count("video: transcoding at ") == 1, qPrintable(run.sender.err));
    QCOMPARE(run.frames.size(), expected);
    QCOMPARE(sentFrames(run.sender.out), expected);

    const QString record = path(file + ".rec.mkv");
    QCOMPARE(codecOf(record), QStringLiteral("h264"));
    const VideoSize sent = probeSize(record);
    QCOMPARE(sent.width, (source.width + 1) & ~1); // 4:2:0 wants even sides: the nearest, up
    QCOMPARE(sent.height, (source.height + 1) & ~1);
    QCOMPARE(countFrames(record), expected);
    const double psnr = psnrDb(record, path(file), sent.width, sent.height);
    qInfo("%s: %d frames, PSNR %.2f dB", qPrintable(file), expected, psnr);
    QVERIFY2(psnr >= kMinPsnrDb, qPrintable(QStringLiteral("PSNR %1 dB").arg(psnr)));
}

void TestTranscode::transcodeForcedOnH264()
{
    const int expected = countFrames(path("h264.mp4"));
    const Run plain = stream("h264.mp4", {"--fast"});
    QVERIFY2(plain.sender.exitCode == ExitOk, qPrintable(plain.sender.err));
    QVERIFY2(plain.sender.err.contains("video: h264 320x240, passed through"), qPrintable(plain.sender.err));
    QCOMPARE(plain.frames, referenceMd5(path("h264.mp4"))); // frame-exact without --transcode

    const Run run = stream("h264.mp4", {"--fast", "--transcode"});
    QVERIFY2(run.sender.exitCode == ExitOk, qPrintable(run.sender.err));
    QVERIFY2(run.sender.err.contains("video: h264 320x240 → H.264 ") && run.sender.err.contains("(--transcode)"),
             qPrintable(run.sender.err));
    QCOMPARE(run.frames.size(), expected);
    QVERIFY(run.frames != referenceMd5(path("h264.mp4"))); // re-encoded indeed
    const double psnr = psnrDb(path("h264.mp4.rec.mkv"), path("h264.mp4"), 320, 240);
    QVERIFY2(psnr >= kMinPsnrDb, qPrintable(QStringLiteral("PSNR %1 dB").arg(psnr)));
}

void TestTranscode::maxSizeScalesDown()
{
    const int expected = countFrames(path("hevc.mp4"));
    const Run run = stream("hevc.mp4", {"--fast", "--max-size", "160"});
    QVERIFY2(run.sender.exitCode == ExitOk, qPrintable(run.sender.err));
    QVERIFY2(run.sender.err.contains("video: hevc 320x240 → H.264 160x120 "), qPrintable(run.sender.err));
    QCOMPARE(run.frames.size(), expected);
    const VideoSize sent = probeSize(path("hevc.mp4.rec.mkv"));
    QCOMPARE(sent.width, 160);
    QCOMPARE(sent.height, 120);
    const double psnr = psnrDb(path("hevc.mp4.rec.mkv"), path("hevc.mp4"), 160, 120);
    QVERIFY2(psnr >= kMinPsnrDb, qPrintable(QStringLiteral("PSNR %1 dB").arg(psnr)));

    // An H.264 file larger than --max-size is transcoded too.
    const Run h264 = stream("h264.mp4", {"--fast", "--max-size", "200"});
    QVERIFY2(h264.sender.exitCode == ExitOk, qPrintable(h264.sender.err));
    QVERIFY2(h264.sender.err.contains("video: h264 320x240 → H.264 200x150 "), qPrintable(h264.sender.err));
    QCOMPARE(probeSize(path("h264.mp4.rec.mkv")).width, 200);
}

void TestTranscode::bitRateOption()
{
    const Run low = stream("mpeg4.avi", {"--fast", "--bitrate", "150k"});
    QVERIFY2(low.sender.exitCode == ExitOk, qPrintable(low.sender.err));
    QVERIFY2(low.sender.err.contains("→ H.264 150 kb/s"), qPrintable(low.sender.err));
    const qint64 lowBytes = QFileInfo(path("mpeg4.avi.rec.mkv")).size();
    const Run high = stream("mpeg4.avi", {"--fast", "--bitrate", "1.2M"});
    QVERIFY2(high.sender.exitCode == ExitOk, qPrintable(high.sender.err));
    QVERIFY2(high.sender.err.contains("→ H.264 1.2 Mb/s"), qPrintable(high.sender.err));
    const qint64 highBytes = QFileInfo(path("mpeg4.avi.rec.mkv")).size();
    QCOMPARE(low.frames.size(), high.frames.size());
    QVERIFY2(highBytes > 3 * lowBytes, qPrintable(QStringLiteral("%1 vs %2 bytes").arg(highBytes).arg(lowBytes)));
}

// Real time (no --fast): every frame is sent or counted as skipped, and the
// receiver decodes all that were sent.
void TestTranscode::realTimeKeepsUpOrSkips()
{
    const int expected = countFrames(path("hevc.mp4"));
    const Run run = stream("hevc.mp4", {});
    QVERIFY2(run.sender.exitCode == ExitOk, qPrintable(run.sender.err));
    QCOMPARE(run.receiverExit, int(ExitOk));
    const int sent = sentFrames(run.sender.out);
    QCOMPARE(run.frames.size(), sent);
    QCOMPARE(sent + skippedFrames(run.sender.out), expected);
    QVERIFY2(run.sender.err.count("video: transcoding at ") == 1, qPrintable(run.sender.err));
}

void TestTranscode::badBitRate_data()
{
    QTest::addColumn<QString>("value");
    QTest::newRow("words") << "fast";
    QTest::newRow("unit only") << "M";
    QTest::newRow("negative") << "-2M";
    QTest::newRow("too low") << "5k";
    QTest::newRow("two numbers") << "2.5M 3";
}

void TestTranscode::badBitRate()
{
    QFETCH(QString, value);
    const SenderRun run = runSender({path("hevc.mp4"), "--bitrate", value});
    QCOMPARE(run.exitCode, int(ExitUsage));
    const QStringList lines = run.err.trimmed().split('\n');
    QCOMPARE(lines.size(), 1);
    QVERIFY2(lines[0].startsWith(QStringLiteral("sender: invalid --bitrate '%1'").arg(value)), qPrintable(lines[0]));
}

// A codec FFmpeg can write and not read: one line, exit 2, and no connection.
void TestTranscode::codecWithoutDecoder()
{
    const ToolResult made = ffmpeg({"-y", "-f", "lavfi", "-i", "testsrc2=size=320x200:rate=25:duration=0.4",
                                    "-c:v", "a64multi", path("a64.nut")});
    QVERIFY2(made.ok(), made.err.constData());
    QTcpServer receiver; // must never hear from the sender
    QVERIFY(receiver.listen(QHostAddress::LocalHost));
    const SenderRun run = runSender({path("a64.nut"), "--host", "127.0.0.1", "--port",
                                     QString::number(receiver.serverPort())}, 20000);
    QCOMPARE(run.exitCode, int(ExitBadInput));
    const QStringList lines = run.err.trimmed().split('\n');
    QCOMPARE(lines.size(), 1);
    QVERIFY2(lines[0].startsWith("sender: 'a64.nut': the video is of an unknown codec"), qPrintable(lines[0]));
    QVERIFY(!receiver.waitForNewConnection(200));
}

// HEVC whose every packet is noise (its parameter sets in the header are
// intact, so the file opens): no picture comes out. The sender says so once
// and fails; the receiver gets no frame.
void TestTranscode::garbledStream()
{
    const ToolResult made = ffmpeg({"-y", "-i", path("hevc.mp4"), "-c:v", "copy", "-bsf:v", "noise=amount=1",
                                    path("garbled.mp4")});
    QVERIFY2(made.ok(), made.err.constData());
    const Run run = stream("garbled.mp4", {"--fast"});
    QCOMPARE(run.sender.exitCode, int(ExitBadInput));
    QVERIFY2(run.sender.err.count("'garbled.mp4': the hevc video cannot be decoded") == 1, qPrintable(run.sender.err));
    QCOMPARE(run.frames.size(), 0);
    QVERIFY(run.receiverExit != ExitOk);
}

QTEST_GUILESS_MAIN(TestTranscode)
#include "tst_transcode.moc"
