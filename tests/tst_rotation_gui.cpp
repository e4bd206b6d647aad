// Rotation and mirroring end to end (issue 11, point 1): a clip of four
// coloured quadrants with a display matrix goes sender -> receiver window on
// a real X server (Xvfb), for each renderer; a screenshot of the root window
// (ImageMagick's `import`, which sees the opengl renderer's native GL window
// too) must show each quadrant where ffmpeg's own picture has it, and the
// picture's shape (portrait for a quarter turn). The oracle is ffmpeg: its
// autorotation for the `rotate` tag, and its hflip / transpose filters for
// the mirrored matrices (what ffplay inserts for them; FFmpeg 5.1's CLI
// cannot write or apply a mirror, so those clips are remuxed here with
// libavformat, the matrix as stream side data). --framemd5 stays the
// decoder's own pictures, `ffmpeg -autorotate 0 -f framemd5`.
#include "app_runner.h"
#include "ffmpeg_raii.h"
#include "test_support.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QScopeGuard>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>
#include <array>
#include <cstring>

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/display.h>
}

using namespace testsupport;

namespace {

// Saturated and far from black, white and the window's grey, so that the
// picture can be told from the bars and the status line.
const QColor kColours[4] = {QColor(255, 0, 0), QColor(0, 255, 0), QColor(0, 0, 255), QColor(255, 0, 255)};

int distance(QColor a, QColor b)
{
    return qMax(qAbs(a.red() - b.red()), qMax(qAbs(a.green() - b.green()), qAbs(a.blue() - b.blue())));
}

// Index of the quadrant colour `c` is close to, or -1.
int colourIndex(QColor c)
{
    for (int i = 0; i < 4; ++i) {
        if (distance(c, kColours[i]) <= 70)
            return i;
    }
    return -1;
}

// The colour index at the centre of each quadrant of `area` in `image`:
// top left, top right, bottom left, bottom right.
std::array<int, 4> quadrants(const QImage &image, const QRect &area)
{
    std::array<int, 4> out{};
    for (int i = 0; i < 4; ++i) {
        const int x = area.left() + area.width() * (i % 2 ? 3 : 1) / 4;
        const int y = area.top() + area.height() * (i / 2 ? 3 : 1) / 4;
        out[size_t(i)] = colourIndex(image.pixelColor(x, y));
    }
    return out;
}

QString layoutText(const std::array<int, 4> &q)
{
    QStringList names;
    for (int i : q)
        names << (i < 0 ? QStringLiteral("?") : kColours[i].name());
    return names.join(QLatin1Char(' '));
}

// The bounding box of the picture on screen: every pixel of a quadrant colour.
QRect pictureBox(const QImage &shot)
{
    int left = shot.width(), top = shot.height(), right = -1, bottom = -1;
    for (int y = 0; y < shot.height(); ++y) {
        const QRgb *line = reinterpret_cast<const QRgb *>(shot.constScanLine(y));
        for (int x = 0; x < shot.width(); ++x) {
            if (colourIndex(QColor(line[x])) < 0)
                continue;
            left = qMin(left, x);
            right = qMax(right, x);
            top = qMin(top, y);
            bottom = qMax(bottom, y);
        }
    }
    return right < 0 ? QRect() : QRect(QPoint(left, top), QPoint(right, bottom));
}

// `in`'s video remuxed into an mp4 whose stream carries `matrix` as its
// display matrix (movenc writes it into the track header).
QString remuxWithMatrix(const QString &in, const QString &out, const std::array<int32_t, 9> &matrix)
{
    AVFormatContext *rawIn = nullptr;
    int ret = avformat_open_input(&rawIn, in.toUtf8().constData(), nullptr, nullptr);
    h264link::InputFormatPtr input(rawIn);
    if (ret < 0 || (ret = avformat_find_stream_info(input.get(), nullptr)) < 0)
        return QStringLiteral("cannot read %1: %2").arg(in, h264link::averrorText(ret));
    AVFormatContext *rawOut = nullptr;
    ret = avformat_alloc_output_context2(&rawOut, nullptr, "mp4", out.toUtf8().constData());
    h264link::OutputFormatPtr output(rawOut);
    if (ret < 0)
        return QStringLiteral("no mp4 muxer: %1").arg(h264link::averrorText(ret));
    const auto closeFile = qScopeGuard([&] { avio_closep(&output->pb); }); // ours: before the context goes
    const AVStream *source = input->streams[0];
    AVStream *stream = avformat_new_stream(output.get(), nullptr);
    if (!stream || avcodec_parameters_copy(stream->codecpar, source->codecpar) < 0)
        return QStringLiteral("cannot add the video stream");
    stream->codecpar->codec_tag = 0;
    stream->time_base = source->time_base;
    uint8_t *side = av_stream_new_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, sizeof(matrix));
    if (!side)
        return QStringLiteral("out of memory");
    std::memcpy(side, matrix.data(), sizeof(matrix));
    if ((ret = avio_open(&output->pb, out.toUtf8().constData(), AVIO_FLAG_WRITE)) < 0
        || (ret = avformat_write_header(output.get(), nullptr)) < 0)
        return QStringLiteral("cannot write %1: %2").arg(out, h264link::averrorText(ret));
    h264link::PacketPtr packet = h264link::makePacket();
    while ((ret = av_read_frame(input.get(), packet.get())) >= 0) {
        if (packet->stream_index == 0) {
            av_packet_rescale_ts(packet.get(), source->time_base, stream->time_base);
            if ((ret = av_interleaved_write_frame(output.get(), packet.get())) < 0)
                return QStringLiteral("cannot write a packet: %1").arg(h264link::averrorText(ret));
        }
        av_packet_unref(packet.get());
    }
    if (ret != AVERROR_EOF)
        return QStringLiteral("cannot read %1: %2").arg(in, h264link::averrorText(ret));
    if ((ret = av_write_trailer(output.get())) < 0)
        return QStringLiteral("cannot finish %1: %2").arg(out, h264link::averrorText(ret));
    return {};
}

} // namespace

class TestRotationGui : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void cleanupTestCase();
    void windowShowsThePictureAsFfmpegDoes_data();
    void windowShowsThePictureAsFfmpegDoes();
    void framemd5StaysTheDecodersPictures();

private:
    QString makeCase(const QString &name, QString *error);
    QImage oracle(const QString &name, QString *error);

    QTemporaryDir m_dir;
    QProcess m_xvfb;
    QString m_display;
    QString m_whyNoDisplay;
    QString m_plain; // the clip without a display matrix
};

void TestRotationGui::initTestCase()
{
    QVERIFY(m_dir.isValid());
    // 320x180, 16:9: red, green / blue, magenta. A keyframe a second: a
    // looping sender's picture is there at once.
    m_plain = m_dir.filePath("plain.mp4");
    const ToolResult made = ffmpeg(
        {"-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "color=c=red:s=160x90:r=25:d=4[a];color=c=lime:s=160x90:r=25:d=4[b];"
         "color=c=blue:s=160x90:r=25:d=4[c];color=c=magenta:s=160x90:r=25:d=4[d];"
         "[a][b][c][d]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25", m_plain});
    QVERIFY2(made.ok(), made.err.constData());

    for (const char *tool : {"Xvfb", "import"}) {
        if (QStandardPaths::findExecutable(tool).isEmpty()) {
            m_whyNoDisplay = QStringLiteral("%1 is not installed (scripts/setup.sh installs it)").arg(tool);
            return;
        }
    }
    // H264LINK_XVFB_DISPLAY picks the display, as for tests/gui_screenshot.sh.
    m_display = qEnvironmentVariable("H264LINK_XVFB_DISPLAY");
    for (int n = 161; m_display.isEmpty() && n < 200; ++n) {
        if (!QFile::exists(QStringLiteral("/tmp/.X%1-lock").arg(n))
            && !QFile::exists(QStringLiteral("/tmp/.X11-unix/X%1").arg(n)))
            m_display = QStringLiteral(":%1").arg(n);
    }
    m_xvfb.start(QStringLiteral("Xvfb"), {m_display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"});
    QVERIFY2(m_xvfb.waitForStarted(), "Xvfb did not start");
    const QString socket = QStringLiteral("/tmp/.X11-unix/X%1").arg(m_display.mid(1));
    QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(socket) || m_xvfb.state() == QProcess::NotRunning, 10000);
    QVERIFY2(m_xvfb.state() == QProcess::Running, qPrintable(QStringLiteral("Xvfb %1 exited: %2")
                                                                 .arg(m_display, m_xvfb.readAllStandardError())));
    // The receivers started from here show their windows there.
    qputenv("DISPLAY", m_display.toUtf8());
    qputenv("QT_QPA_PLATFORM", "xcb");
}

void TestRotationGui::cleanupTestCase()
{
    if (m_xvfb.state() != QProcess::NotRunning) {
        m_xvfb.terminate();
        m_xvfb.waitForFinished(5000);
    }
}

// rotateN: `ffmpeg -c copy -metadata:s:v:0 rotate=N`; sei90: the same turn
// in the bitstream (h264_metadata), which the sender passes through and the
// decoder gives as the frames' matrix; the rest: a matrix
// built with av_display_rotation_set (clockwise) and av_display_matrix_flip.
QString TestRotationGui::makeCase(const QString &name, QString *error)
{
    const QString path = m_dir.filePath(name + ".mp4");
    if (QFile::exists(path))
        return path;
    if (name.startsWith(QLatin1String("rotate"))) {
        const ToolResult r = ffmpeg({"-hide_banner", "-loglevel", "error", "-y", "-i", m_plain, "-c", "copy",
                                     "-metadata:s:v:0", "rotate=" + name.mid(6), path});
        if (!r.ok())
            *error = QString::fromUtf8(r.err);
        return r.ok() ? path : QString();
    }
    if (name == QLatin1String("sei90")) { // the frames' own matrix, an H.264 display orientation SEI
        const ToolResult r = ffmpeg({"-hide_banner", "-loglevel", "error", "-y", "-i", m_plain, "-c", "copy",
                                     "-bsf:v", "h264_metadata=display_orientation=insert:rotate=90", path});
        if (!r.ok())
            *error = QString::fromUtf8(r.err);
        return r.ok() ? path : QString();
    }
    std::array<int32_t, 9> matrix{};
    av_display_rotation_set(matrix.data(), name == QLatin1String("transposed") ? 90 : 0);
    av_display_matrix_flip(matrix.data(), 1, 0);
    *error = remuxWithMatrix(m_plain, path, matrix);
    return error->isEmpty() ? path : QString();
}

// ffmpeg's picture of the case's first frame.
QImage TestRotationGui::oracle(const QString &name, QString *error)
{
    QStringList args{"-hide_banner", "-loglevel", "error"};
    if (name == QLatin1String("mirrored"))
        args << "-autorotate" << "0" << "-i" << makeCase(name, error) << "-vf" << "hflip";
    else if (name == QLatin1String("transposed"))
        args << "-autorotate" << "0" << "-i" << makeCase(name, error) << "-vf" << "transpose=cclock_flip";
    else
        args << "-i" << makeCase(name, error); // autorotation: FFmpeg 5.1's own reading of the matrix (or SEI)
    args << "-frames:v" << "1" << "-f" << "image2pipe" << "-c:v" << "png" << "-";
    const ToolResult r = ffmpeg(args);
    if (!r.ok()) {
        *error = QString::fromUtf8(r.err);
        return {};
    }
    return QImage::fromData(r.out, "PNG").convertToFormat(QImage::Format_RGB32);
}

void TestRotationGui::windowShowsThePictureAsFfmpegDoes_data()
{
    QTest::addColumn<QString>("renderer");
    QTest::addColumn<QString>("clip");
    for (const char *renderer : {"software", "opengl"}) {
        for (const char *clip : {"rotate0", "rotate90", "rotate180", "rotate270", "mirrored", "transposed", "sei90"})
            QTest::addRow("%s %s", renderer, clip) << QString(renderer) << QString(clip);
    }
}

void TestRotationGui::windowShowsThePictureAsFfmpegDoes()
{
    QFETCH(QString, renderer);
    QFETCH(QString, clip);
    if (!m_whyNoDisplay.isEmpty())
        H264LINK_SKIP_UNLESS_CI("Xvfb or ImageMagick is not installed");
    QString error;
    const QString path = makeCase(clip, &error);
    QVERIFY2(!path.isEmpty(), qPrintable(error));
    const QImage expected = oracle(clip, &error);
    QVERIFY2(!expected.isNull(), qPrintable(error));
    const std::array<int, 4> want = quadrants(expected, expected.rect());
    const double wantAspect = double(expected.width()) / expected.height();
    for (int q : want)
        QVERIFY2(q >= 0, qPrintable("the oracle's quadrants: " + layoutText(want)));

    // Mesa's drivers, loaded by the opengl renderer, leave allocations at exit
    // that LeakSanitizer cannot attribute (as in gui_screenshot.sh).
    const QByteArray asan = qgetenv("ASAN_OPTIONS");
    if (renderer == QLatin1String("opengl"))
        qputenv("ASAN_OPTIONS", (asan.isEmpty() ? QByteArray() : asan + ':') + "detect_leaks=0");
    ReceiverProcess receiver({"--renderer", renderer}, {}, false);
    qputenv("ASAN_OPTIONS", asan);
    QVERIFY2(receiver.port() != 0, qPrintable(receiver.output()));
    QProcess sender;
    sender.setProcessChannelMode(QProcess::MergedChannels);
    sender.start(QStringLiteral(SENDER_EXECUTABLE),
                 {path, "--host", "127.0.0.1", "--port", QString::number(receiver.port()), "--loop"});
    QVERIFY(sender.waitForStarted());

    // Poll the screen until the picture is as ffmpeg's, or 20 s have passed.
    const QString shotPath = QDir(QStringLiteral(H264LINK_BINARY_DIR)).filePath(
        QStringLiteral("tests/screenshots/rotation_%1_%2.png").arg(renderer, clip));
    QDir().mkpath(QFileInfo(shotPath).path());
    QString why;
    bool shown = false;
    QDeadlineTimer deadline(20000);
    while (!shown && !deadline.hasExpired()) {
        const ToolResult shot = runTool(QStringLiteral("import"), {"-window", "root", shotPath}, 10000);
        if (!shot.ok()) {
            why = QStringLiteral("import failed: %1").arg(QString::fromUtf8(shot.err));
            continue;
        }
        const QImage screen = QImage(shotPath).convertToFormat(QImage::Format_RGB32);
        const QRect box = pictureBox(screen);
        if (box.width() < 60 || box.height() < 60) {
            why = QStringLiteral("no picture on screen (%1x%2)").arg(box.width()).arg(box.height());
            continue;
        }
        const double aspect = double(box.width()) / box.height();
        const std::array<int, 4> got = quadrants(screen, box);
        why = QStringLiteral("picture %1x%2 at %3,%4 (aspect %5, ffmpeg's %6), quadrants %7, ffmpeg's %8")
                  .arg(box.width()).arg(box.height()).arg(box.x()).arg(box.y()).arg(aspect, 0, 'f', 3)
                  .arg(wantAspect, 0, 'f', 3).arg(layoutText(got), layoutText(want));
        shown = got == want && qAbs(aspect - wantAspect) / wantAspect < 0.04;
    }
    const bool senderRan = sender.state() == QProcess::Running;
    sender.terminate();
    sender.waitForFinished(10000);
    QVERIFY2(shown, qPrintable(QStringLiteral("%1 (see %2)%3").arg(why, shotPath,
        senderRan ? QString() : "; the sender ended: " + QString::fromUtf8(sender.readAll()))));
    qInfo().noquote() << renderer << clip << why;
}

// The receiver's --framemd5 is the decoder's output, not turned: equal to
// ffmpeg's with autorotation off (with it on, ffmpeg would hash the turned
// pictures, which differ).
void TestRotationGui::framemd5StaysTheDecodersPictures()
{
    QString error;
    const QString path = makeCase(QStringLiteral("rotate90"), &error);
    QVERIFY2(!path.isEmpty(), qPrintable(error));
    const ToolResult reference = ffmpeg({"-hide_banner", "-loglevel", "error", "-autorotate", "0", "-i", path,
                                         "-map", "0:v:0", "-f", "framemd5", "-"});
    QVERIFY2(reference.ok(), reference.err.constData());
    const ToolResult turned = ffmpeg({"-hide_banner", "-loglevel", "error", "-i", path, "-map", "0:v:0",
                                      "-frames:v", "1", "-f", "framemd5", "-"});
    QVERIFY2(turned.ok(), turned.err.constData());
    const QStringList want = md5Column(reference.out);
    QVERIFY(!want.isEmpty());
    QVERIFY(md5Column(turned.out).first() != want.first()); // the two readings differ: the check can tell

    const QString md5 = m_dir.filePath("rotate90.framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5});
    QVERIFY2(receiver.port() != 0, qPrintable(receiver.output()));
    const SenderRun sent = runSender({path, "--host", "127.0.0.1", "--port", QString::number(receiver.port())});
    QVERIFY2(sent.exitCode == 0, qPrintable(sent.err));
    QVERIFY2(receiver.waitForExit(30000), qPrintable(receiver.output()));
    QCOMPARE(receiver.process().exitCode(), 0);
    QCOMPARE(md5Column(readFile(md5)), want);
}

QTEST_GUILESS_MAIN(TestRotationGui)
#include "tst_rotation_gui.moc"
