// Rotation and mirroring of the picture (issue 11, point 1), at the display
// stage: DisplayOrientation against ffmpeg's own transpose/hflip/vflip
// filters, pixel for pixel, and the software renderer's turned picture, read
// back with QWidget::grab(). The window end to end is tst_rotation_gui.
#include "display_orientation.h"
#include "painter_video_view.h"
#include "test_support.h"

#include <QSignalSpy>
#include <QtTest>

extern "C" {
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

using namespace h264link;

namespace {

constexpr int kWidth = 64, kHeight = 36;
// testsrc: no symmetry, so any wrong turn or mirror changes pixels.
const QString kPattern = QStringLiteral("testsrc=size=64x36:rate=1");

// One frame of `lavfi`, through `filters` ("" for none), as RGB24: ffmpeg's picture.
QImage ffmpegPicture(const QString &filters, QString *error)
{
    const QString graph = filters.isEmpty() ? kPattern : kPattern + QLatin1Char(',') + filters;
    const testsupport::ToolResult r = testsupport::ffmpeg(
        {"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", graph, "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"});
    if (!r.ok()) {
        *error = QString::fromUtf8(r.err);
        return {};
    }
    const bool turned = filters.contains(QLatin1String("transpose"));
    const int w = turned ? kHeight : kWidth, h = turned ? kWidth : kHeight;
    if (r.out.size() != w * h * 3) {
        *error = QStringLiteral("ffmpeg gave %1 bytes for %2x%3").arg(r.out.size()).arg(w).arg(h);
        return {};
    }
    return QImage(reinterpret_cast<const uchar *>(r.out.constData()), w, h, w * 3, QImage::Format_RGB888).copy();
}

std::array<qint32, 9> matrix(double angle, bool hflip, bool vflip)
{
    std::array<qint32, 9> m{};
    av_display_rotation_set(m.data(), angle);
    av_display_matrix_flip(m.data(), hflip, vflip);
    return m;
}

struct Yuv {
    int y, u, v;
};
// BT.601 video range: red, green, blue and white quadrants (top left, top
// right, bottom left, bottom right).
const Yuv kRed{81, 90, 240}, kGreen{145, 54, 34}, kBlue{41, 240, 110}, kWhite{235, 128, 128};

FramePtr quadrantFrame(int width, int height)
{
    FramePtr frame = h264link::makeFrame();
    frame->width = width;
    frame->height = height;
    frame->format = AV_PIX_FMT_YUV444P;
    if (av_frame_get_buffer(frame.get(), 0) < 0)
        return nullptr;
    for (int plane = 0; plane < 3; ++plane) {
        for (int y = 0; y < height; ++y) {
            for (int x = 0; x < width; ++x) {
                const Yuv &c = y < height / 2 ? (x < width / 2 ? kRed : kGreen) : (x < width / 2 ? kBlue : kWhite);
                frame->data[plane][y * frame->linesize[plane] + x] = uint8_t(plane == 0 ? c.y : plane == 1 ? c.u : c.v);
            }
        }
    }
    return frame;
}

int distance(QColor a, QColor b)
{
    return qMax(qAbs(a.red() - b.red()), qMax(qAbs(a.green() - b.green()), qAbs(a.blue() - b.blue())));
}

} // namespace

class TestDisplayOrientation : public QObject {
    Q_OBJECT
private slots:
    void turnsAsFfplay_data();
    void turnsAsFfplay();
    void displaySizeIsTurnedAfterTheSampleAspect();
    void aFramesOwnMatrixWins();
    void scaledSizeKeepsLibswscalesWidthEven();
    void softwareViewShowsATurnedPicture_data();
    void softwareViewShowsATurnedPicture();
};

// Each of the eight quarter-turn / mirror matrices (av_display_rotation_set,
// then av_display_matrix_flip), and the filters ffplay inserts for it
// (fftools: transpose by the angle, the flip read off the matrix's signs).
void TestDisplayOrientation::turnsAsFfplay_data()
{
    QTest::addColumn<double>("angle"); // av_display_rotation_set: clockwise
    QTest::addColumn<bool>("hflip");
    QTest::addColumn<QString>("ffplayFilters");
    QTest::addColumn<QString>("description");
    QTest::newRow("identity") << 0.0 << false << QString() << QString();
    QTest::newRow("90 clockwise") << 90.0 << false << "transpose=clock" << "rotated 90°";
    QTest::newRow("180") << 180.0 << false << "hflip,vflip" << "rotated 180°";
    QTest::newRow("90 counterclockwise") << -90.0 << false << "transpose=cclock" << "rotated 270°";
    QTest::newRow("mirrored") << 0.0 << true << "hflip" << "mirrored";
    QTest::newRow("upside down") << 180.0 << true << "vflip" << "rotated 180°, mirrored";
    QTest::newRow("transposed") << 90.0 << true << "transpose=cclock_flip" << "rotated 90°, mirrored";
    QTest::newRow("anti-transposed") << -90.0 << true << "transpose=clock_flip" << "rotated 270°, mirrored";
}

void TestDisplayOrientation::turnsAsFfplay()
{
    QFETCH(double, angle);
    QFETCH(bool, hflip);
    QFETCH(QString, ffplayFilters);
    QFETCH(QString, description);
    QString error;
    const QImage decoded = ffmpegPicture(QString(), &error);
    QVERIFY2(!decoded.isNull(), qPrintable(error));
    const QImage expected = ffmpegPicture(ffplayFilters, &error);
    QVERIFY2(!expected.isNull(), qPrintable(error));

    const DisplayOrientation o = DisplayOrientation::fromMatrix(matrix(angle, hflip, false));
    QCOMPARE(o.description(), description);
    const QImage shown = o.apply(decoded.convertToFormat(QImage::Format_RGB32)).convertToFormat(QImage::Format_RGB888);
    QCOMPARE(shown.size(), expected.size());
    QVERIFY2(shown == expected, qPrintable(QStringLiteral("the picture differs from ffmpeg -vf %1").arg(ffplayFilters)));
    QCOMPARE(o.swapsAxes(), expected.width() != decoded.width());
}

// A portrait phone clip: 1920x1080 turned by 90 shows 1080 wide, 1920 high;
// anamorphic PAL (SAR 64:45) turned shows 576 x 1024.
void TestDisplayOrientation::displaySizeIsTurnedAfterTheSampleAspect()
{
    FramePtr frame = h264link::makeFrame();
    frame->width = 1920;
    frame->height = 1080;
    const DisplayOrientation turned = DisplayOrientation::fromMatrix(matrix(-90, false, false));
    QCOMPARE(turned.displaySize(frame.get()), QSizeF(1080, 1920));
    QCOMPARE(VideoView::pictureRect(frame.get(), QRect(0, 0, 960, 540), turned), QRect(328, 0, 304, 540));
    frame->width = 720;
    frame->height = 576;
    frame->sample_aspect_ratio = {64, 45};
    QCOMPARE(turned.displaySize(frame.get()), QSizeF(576, 1024));
    QCOMPARE(DisplayOrientation().displaySize(frame.get()), QSizeF(1024, 576));
    // A degenerate matrix shows the picture as decoded.
    QVERIFY(DisplayOrientation::fromMatrix(std::array<qint32, 9>{}).isIdentity());
}

// An H.264 display orientation SEI reaches the frame as its own matrix;
// ffplay prefers that to the stream's, and keeps it.
void TestDisplayOrientation::aFramesOwnMatrixWins()
{
    FramePtr frame = quadrantFrame(16, 8);
    QVERIFY(frame);
    const DisplayOrientation stream = DisplayOrientation::fromMatrix(matrix(180, false, false));
    QCOMPARE(DisplayOrientation::forFrame(frame.get(), stream), stream);
    AVFrameSideData *side = av_frame_new_side_data(frame.get(), AV_FRAME_DATA_DISPLAYMATRIX, sizeof(int32_t) * 9);
    QVERIFY(side);
    av_display_rotation_set(reinterpret_cast<int32_t *>(side->data), 90);
    QCOMPARE(DisplayOrientation::forFrame(frame.get(), stream), (DisplayOrientation{90, false}));

    // In the view it holds for the frames after it (the SEI persists), until
    // the next stream's matrix.
    PainterVideoView view;
    view.setDisplayMatrix(matrix(180, false, false));
    view.setFrame(std::move(frame));
    QCOMPARE(view.shownOrientation(), (DisplayOrientation{90, false}));
    view.setFrame(quadrantFrame(16, 8));
    QCOMPARE(view.shownOrientation(), (DisplayOrientation{90, false}));
    view.setDisplayMatrix(matrix(0, false, false));
    view.setFrame(quadrantFrame(16, 8));
    QVERIFY(view.shownOrientation().isIdentity());
}

void TestDisplayOrientation::scaledSizeKeepsLibswscalesWidthEven()
{
    // Turned, libswscale writes the picture's height as its width.
    QCOMPARE(PainterVideoView::scaledSize(QRect(0, 0, 303, 541), 1.0, true), QSize(303, 540));
    QCOMPARE(PainterVideoView::scaledSize(QRect(0, 0, 303, 541), 1.0, false), QSize(302, 541));
}

void TestDisplayOrientation::softwareViewShowsATurnedPicture_data()
{
    QTest::addColumn<double>("angle");
    QTest::addColumn<bool>("hflip");
    QTest::addColumn<bool>("vflip");
    // Which source quadrant shows at top left, top right, bottom left, bottom
    // right: the ffplay filter's definition (transpose=clock: the left column
    // becomes the top row, read bottom up).
    QTest::addColumn<QString>("layout");
    QTest::newRow("as decoded") << 0.0 << false << false << "RGBW";
    QTest::newRow("transpose=clock") << 90.0 << false << false << "BRWG";
    QTest::newRow("transpose=cclock") << -90.0 << false << false << "GWRB";
    QTest::newRow("hflip,vflip") << 180.0 << false << false << "WBGR";
    QTest::newRow("hflip") << 0.0 << true << false << "GRWB";
    QTest::newRow("vflip") << 0.0 << false << true << "BWRG";
}

// 320x160 with SAR 2:1 shows as 640x160; turned, as 160x640: in a 400x400
// view, 100x400 at x = 150.
void TestDisplayOrientation::softwareViewShowsATurnedPicture()
{
    QFETCH(double, angle);
    QFETCH(bool, hflip);
    QFETCH(bool, vflip);
    QFETCH(QString, layout);
    PainterVideoView view;
    view.resize(400, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy sized(&view, &VideoView::displaySizeChanged);
    view.setDisplayMatrix(matrix(angle, hflip, vflip));
    FramePtr frame = quadrantFrame(320, 160);
    QVERIFY(frame);
    frame->sample_aspect_ratio = {2, 1};
    view.setFrame(std::move(frame));
    const bool turned = qAbs(angle) == 90;
    const QRect picture = turned ? QRect(150, 0, 100, 400) : QRect(0, 150, 400, 100);
    QCOMPARE(sized.count(), 1);
    QCOMPARE(sized.first().first().toSize(), turned ? QSize(160, 640) : QSize(640, 160));

    const QImage shot = view.grab().toImage();
    const QMap<QChar, QColor> colours{{'R', QColor(255, 0, 0)}, {'G', QColor(0, 255, 0)},
                                      {'B', QColor(0, 0, 255)}, {'W', QColor(255, 255, 255)}};
    const QPoint centres[4] = {{picture.left() + picture.width() / 4, picture.top() + picture.height() / 4},
                               {picture.left() + picture.width() * 3 / 4, picture.top() + picture.height() / 4},
                               {picture.left() + picture.width() / 4, picture.top() + picture.height() * 3 / 4},
                               {picture.left() + picture.width() * 3 / 4, picture.top() + picture.height() * 3 / 4}};
    for (int i = 0; i < 4; ++i) {
        const QColor got = shot.pixelColor(centres[i]);
        QVERIFY2(distance(got, colours[layout[i]]) <= 16,
                 qPrintable(QStringLiteral("quadrant %1: %2, expected %3").arg(i).arg(got.name(),
                                                                                  colours[layout[i]].name())));
    }
    // Black bars beside (turned) or above and below the picture.
    const QPoint bar = turned ? QPoint(picture.left() - 10, 200) : QPoint(200, picture.top() - 10);
    QVERIFY(distance(shot.pixelColor(bar), Qt::black) <= 12);
    QVERIFY(distance(shot.pixelColor(turned ? QPoint(picture.left() + 2, 200) : QPoint(200, picture.top() + 2)),
                     Qt::black) > 12);
    QCOMPARE(view.shownOrientation(), DisplayOrientation::fromMatrix(matrix(angle, hflip, vflip)));
}

QTEST_MAIN(TestDisplayOrientation)
#include "tst_display_orientation.moc"
