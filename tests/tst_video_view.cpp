// The display stage: FrameSlot's drop-oldest hand-off, FrameScaler's colours
// (checked against the BT.601/709/2020 equations, not against libswscale),
// and the software renderer's picture, read back with QWidget::grab().
#include "frame_colour.h"
#include "frame_scaler.h"
#include "frame_slot.h"
#include "painter_video_view.h"

#include <QSignalSpy>
#include <QElapsedTimer>
#include <QtTest>
#include <cmath>

extern "C" {
#include <libavutil/pixdesc.h>
}

using namespace h264link;

namespace {

struct Yuv {
    int y, u, v;
};

// A frame of `format` whose left half is `left` and right half `right`
// (values at the format's bit depth; 8-bit, 10-bit planar YUV).
FramePtr makeFrame(int width, int height, AVPixelFormat format, Yuv left, Yuv right)
{
    FramePtr frame = h264link::makeFrame();
    frame->width = width;
    frame->height = height;
    frame->format = format;
    if (av_frame_get_buffer(frame.get(), 0) < 0)
        return nullptr;
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(format);
    const bool wide = desc->comp[0].depth > 8;
    for (int plane = 0; plane < 3; ++plane) {
        const int w = plane ? AV_CEIL_RSHIFT(width, desc->log2_chroma_w) : width;
        const int h = plane ? AV_CEIL_RSHIFT(height, desc->log2_chroma_h) : height;
        for (int y = 0; y < h; ++y) {
            for (int x = 0; x < w; ++x) {
                const Yuv &c = x < w / 2 ? left : right;
                const int value = plane == 0 ? c.y : plane == 1 ? c.u : c.v;
                uint8_t *row = frame->data[plane] + y * frame->linesize[plane];
                if (wide)
                    reinterpret_cast<uint16_t *>(row)[x] = uint16_t(value);
                else
                    row[x] = uint8_t(value);
            }
        }
    }
    return frame;
}

// The oracle: Y'CbCr -> R'G'B' from the matrix's Kr and Kb, as the standards
// define it, for video (16-235 scaled to the bit depth) or full range.
QColor expectedRgb(Yuv c, double kr, double kb, bool fullRange, int bits = 8)
{
    const double scale = double(1 << (bits - 8));
    const double y = fullRange ? c.y / (255.0 * scale) : (c.y - 16 * scale) / (219.0 * scale);
    const double pb = (c.u - 128 * scale) / ((fullRange ? 255.0 : 224.0) * scale);
    const double pr = (c.v - 128 * scale) / ((fullRange ? 255.0 : 224.0) * scale);
    const double r = y + 2 * (1 - kr) * pr;
    const double b = y + 2 * (1 - kb) * pb;
    const double g = (y - kr * r - kb * b) / (1 - kr - kb);
    auto byte = [](double v) { return qBound(0, int(std::lround(v * 255)), 255); };
    return QColor(byte(r), byte(g), byte(b));
}

constexpr double kBt601[2] = {0.299, 0.114};
constexpr double kBt709[2] = {0.2126, 0.0722};
constexpr double kBt2020[2] = {0.2627, 0.0593};

int distance(QColor a, QColor b)
{
    return qMax(qAbs(a.red() - b.red()), qMax(qAbs(a.green() - b.green()), qAbs(a.blue() - b.blue())));
}

QImage scaleToImage(const AVFrame *frame, QSize size, QString *error)
{
    QImage image(size, QImage::Format_RGB32);
    FrameScaler scaler;
    if (!scaler.scale(frame, AV_PIX_FMT_RGB32, size, image.bits(), int(image.bytesPerLine()), error))
        return {};
    return image;
}

} // namespace

class TestVideoView : public QObject {
    Q_OBJECT
private slots:
    void slotKeepsOnlyTheNewestFrame();
    void scalerColours_data();
    void scalerColours();
    void scalerRejectsAnEmptySize();
    void pictureRectKeepsTheDisplayAspectRatio_data();
    void pictureRectKeepsTheDisplayAspectRatio();
    void scaledWidthIsEven();
    void softwareViewShowsThePicture();
    void softwareViewFollowsAResolutionChange();
    void hiddenViewCountsFramesNotShown();
    void unconvertibleFrameIsReportedOnce();
    void fasterThanTheScreenShowsTheNewest();
    void previewOnlyPaintsAtThePreviewRate();
    void previewOnlyInRealTimePaintsEveryFrame();
};

void TestVideoView::slotKeepsOnlyTheNewestFrame()
{
    FrameSlot slot;
    QSignalSpy available(&slot, &FrameSlot::frameAvailable);
    for (int pts = 1; pts <= 3; ++pts) {
        FramePtr frame = makeFrame(16, 16, AV_PIX_FMT_YUV420P, {16, 128, 128}, {16, 128, 128});
        frame->pts = pts;
        slot.put(std::move(frame));
    }
    QCOMPARE(available.count(), 1); // one notification in flight, not one per frame
    QCOMPARE(slot.skipped(), quint64(2));
    FramePtr newest = slot.take();
    QVERIFY(newest);
    QCOMPARE(newest->pts, 3);
    QVERIFY(!slot.take());
    slot.put(makeFrame(16, 16, AV_PIX_FMT_YUV420P, {16, 128, 128}, {16, 128, 128}));
    QCOMPARE(available.count(), 2); // taken, so the next frame notifies again
}

void TestVideoView::scalerColours_data()
{
    QTest::addColumn<int>("width");
    QTest::addColumn<int>("height");
    QTest::addColumn<int>("format");
    QTest::addColumn<int>("colorspace");
    QTest::addColumn<int>("range");
    QTest::addColumn<double>("kr");
    QTest::addColumn<double>("kb");
    QTest::addColumn<bool>("full");
    QTest::addColumn<int>("bits");
    QTest::addColumn<double>("wrongKr"); // the matrix a careless path would use
    QTest::addColumn<double>("wrongKb");
    QTest::addColumn<QSize>("outSize");

    const int unspecified = AVCOL_SPC_UNSPECIFIED, noRange = AVCOL_RANGE_UNSPECIFIED;
    QTest::newRow("HD, unspecified -> BT.709") << 1280 << 720 << int(AV_PIX_FMT_YUV420P) << unspecified << noRange
        << kBt709[0] << kBt709[1] << false << 8 << kBt601[0] << kBt601[1] << QSize(640, 360);
    QTest::newRow("SD, unspecified -> BT.601") << 640 << 360 << int(AV_PIX_FMT_YUV420P) << unspecified << noRange
        << kBt601[0] << kBt601[1] << false << 8 << kBt709[0] << kBt709[1] << QSize(960, 540);
    QTest::newRow("SD tagged BT.709") << 640 << 360 << int(AV_PIX_FMT_YUV420P) << int(AVCOL_SPC_BT709) << noRange
        << kBt709[0] << kBt709[1] << false << 8 << kBt601[0] << kBt601[1] << QSize(640, 360);
    QTest::newRow("HD tagged BT.601") << 1920 << 1080 << int(AV_PIX_FMT_YUV420P) << int(AVCOL_SPC_SMPTE170M)
        << noRange << kBt601[0] << kBt601[1] << false << 8 << kBt709[0] << kBt709[1] << QSize(1000, 562);
    QTest::newRow("yuvj420p is full range") << 640 << 480 << int(AV_PIX_FMT_YUVJ420P) << unspecified << noRange
        << kBt601[0] << kBt601[1] << true << 8 << kBt709[0] << kBt709[1] << QSize(320, 240);
    QTest::newRow("full range flag, BT.709") << 1280 << 720 << int(AV_PIX_FMT_YUV420P) << int(AVCOL_SPC_BT709)
        << int(AVCOL_RANGE_JPEG) << kBt709[0] << kBt709[1] << true << 8 << kBt601[0] << kBt601[1] << QSize(1280, 720);
    QTest::newRow("4:4:4") << 640 << 360 << int(AV_PIX_FMT_YUV444P) << unspecified << noRange
        << kBt601[0] << kBt601[1] << false << 8 << kBt709[0] << kBt709[1] << QSize(640, 360);
    QTest::newRow("10-bit BT.2020") << 1920 << 1080 << int(AV_PIX_FMT_YUV420P10LE) << int(AVCOL_SPC_BT2020_NCL)
        << noRange << kBt2020[0] << kBt2020[1] << false << 10 << kBt709[0] << kBt709[1] << QSize(960, 540);
}

// Every case scales too (up, down, or odd height), so the colour is checked
// after the whole conversion, in the middle of each half.
void TestVideoView::scalerColours()
{
    QFETCH(int, width);
    QFETCH(int, height);
    QFETCH(int, format);
    QFETCH(int, colorspace);
    QFETCH(int, range);
    QFETCH(double, kr);
    QFETCH(double, kb);
    QFETCH(bool, full);
    QFETCH(int, bits);
    QFETCH(double, wrongKr);
    QFETCH(double, wrongKb);
    QFETCH(QSize, outSize);

    const int s = 1 << (bits - 8);
    // Saturated but unclipped under every matrix, where the matrices differ most.
    const Yuv red{85 * s, 110 * s, 220 * s}, green{175 * s, 145 * s, 25 * s};
    FramePtr frame = makeFrame(width, height, AVPixelFormat(format), red, green);
    QVERIFY(frame);
    frame->colorspace = AVColorSpace(colorspace);
    frame->color_range = AVColorRange(range);

    QString error;
    const QImage image = scaleToImage(frame.get(), outSize, &error);
    QVERIFY2(!image.isNull(), qPrintable(error));
    const QColor left = image.pixelColor(outSize.width() / 4, outSize.height() / 2);
    const QColor right = image.pixelColor(outSize.width() * 3 / 4, outSize.height() / 2);
    const QColor wantLeft = expectedRgb(red, kr, kb, full, bits);
    const QColor wantRight = expectedRgb(green, kr, kb, full, bits);
    QVERIFY2(distance(left, wantLeft) <= 3,
             qPrintable(QStringLiteral("left %1, expected %2").arg(left.name(), wantLeft.name())));
    QVERIFY2(distance(right, wantRight) <= 3,
             qPrintable(QStringLiteral("right %1, expected %2").arg(right.name(), wantRight.name())));
    // The test can tell the matrices apart: the wrong one is well outside
    // the tolerance.
    QVERIFY(qMax(distance(expectedRgb(red, wrongKr, wrongKb, full, bits), wantLeft),
                 distance(expectedRgb(green, wrongKr, wrongKb, full, bits), wantRight)) > 8);
}

void TestVideoView::scalerRejectsAnEmptySize()
{
    FramePtr frame = makeFrame(64, 64, AV_PIX_FMT_YUV420P, {16, 128, 128}, {235, 128, 128});
    FrameScaler scaler;
    QString error;
    uint8_t pixel[4] = {};
    QVERIFY(!scaler.scale(frame.get(), AV_PIX_FMT_RGB32, QSize(0, 10), pixel, 4, &error));
    QVERIFY2(error.contains(QLatin1String("empty")), qPrintable(error));
}

void TestVideoView::pictureRectKeepsTheDisplayAspectRatio_data()
{
    QTest::addColumn<QSize>("frameSize");
    QTest::addColumn<int>("sarNum");
    QTest::addColumn<int>("sarDen");
    QTest::addColumn<QSize>("area");
    QTest::addColumn<QRect>("expected");
    QTest::newRow("16:9 in 4:3: bars above and below") << QSize(1280, 720) << 1 << 1 << QSize(800, 600)
                                                        << QRect(0, 75, 800, 450);
    QTest::newRow("4:3 in 16:9: bars left and right") << QSize(640, 480) << 0 << 1 << QSize(1280, 720)
                                                       << QRect(160, 0, 960, 720);
    QTest::newRow("PAL 16:9 anamorphic (SAR 64:45)") << QSize(720, 576) << 64 << 45 << QSize(1024, 576)
                                                     << QRect(0, 0, 1024, 576);
    QTest::newRow("PAL 4:3 (SAR 16:15)") << QSize(720, 576) << 16 << 15 << QSize(1024, 576)
                                         << QRect(128, 0, 768, 576);
    QTest::newRow("exact fit") << QSize(640, 360) << 1 << 1 << QSize(640, 360) << QRect(0, 0, 640, 360);
}

void TestVideoView::pictureRectKeepsTheDisplayAspectRatio()
{
    QFETCH(QSize, frameSize);
    QFETCH(int, sarNum);
    QFETCH(int, sarDen);
    QFETCH(QSize, area);
    QFETCH(QRect, expected);
    FramePtr frame = h264link::makeFrame();
    frame->width = frameSize.width();
    frame->height = frameSize.height();
    frame->sample_aspect_ratio = {sarNum, sarDen};
    QCOMPARE(PainterVideoView::pictureRect(frame.get(), QRect(QPoint(0, 0), area)), expected);
    QVERIFY(PainterVideoView::pictureRect(nullptr, QRect(0, 0, 100, 100)).isEmpty());
}

void TestVideoView::scaledWidthIsEven()
{
    QCOMPARE(PainterVideoView::scaledSize(QRect(0, 0, 1707, 960), 1.0), QSize(1706, 960));
    QCOMPARE(PainterVideoView::scaledSize(QRect(0, 0, 1706, 960), 1.0), QSize(1706, 960));
    QCOMPARE(PainterVideoView::scaledSize(QRect(0, 0, 801, 451), 1.25), QSize(1000, 564));
    QCOMPARE(PainterVideoView::scaledSize(QRect(0, 0, 1, 1), 1.0), QSize(2, 1));
}

// The widget, as a person sees it: red left, blue right, black bars, and
// frameShown() once the picture is painted.
void TestVideoView::softwareViewShowsThePicture()
{
    PainterVideoView view;
    view.resize(400, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy shown(&view, &VideoView::frameShown);

    FramePtr frame = makeFrame(640, 360, AV_PIX_FMT_YUV420P, {81, 90, 240}, {41, 240, 110}); // red | blue
    frame->pts = 42;
    frame->reordered_opaque = 7;
    view.setFrame(std::move(frame));
    QCOMPARE(shown.count(), 1); // painted before setFrame returned
    QCOMPARE(shown.first().at(0).toLongLong(), 42);
    QCOMPARE(shown.first().at(1).toLongLong(), 7);

    const QImage shot = view.grab().toImage();
    // 640x360 in 400x400: 400x225 at y = 87.
    auto near = [&](int x, int y, QColor want) { return distance(shot.pixelColor(x, y), want) <= 12; };
    QVERIFY(near(100, 200, QColor(255, 0, 0)));
    QVERIFY(near(300, 200, QColor(0, 0, 255)));
    QVERIFY(near(200, 40, Qt::black));
    QVERIFY(near(200, 360, Qt::black));
    QVERIFY(!near(200, 90, Qt::black)); // the picture starts at the bar's edge

    view.clear();
    QVERIFY(distance(view.grab().toImage().pixelColor(100, 200), Qt::black) <= 12);
    QCOMPARE(view.notShown(), quint64(0));
}

void TestVideoView::softwareViewFollowsAResolutionChange()
{
    PainterVideoView view;
    view.resize(400, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy failed(&view, &VideoView::frameFailed);
    view.setFrame(makeFrame(1280, 720, AV_PIX_FMT_YUV420P, {81, 90, 240}, {81, 90, 240}));
    view.setFrame(makeFrame(320, 240, AV_PIX_FMT_YUV444P, {41, 240, 110}, {41, 240, 110}));
    const QImage shot = view.grab().toImage();
    // 4:3 now: 400x300 at y = 50, all blue.
    QVERIFY(distance(shot.pixelColor(200, 60), QColor(0, 0, 255)) <= 12);
    QVERIFY(distance(shot.pixelColor(200, 30), Qt::black) <= 12);
    QCOMPARE(failed.count(), 0);
}

void TestVideoView::hiddenViewCountsFramesNotShown()
{
    PainterVideoView view;
    view.resize(200, 200);
    QSignalSpy shown(&view, &VideoView::frameShown);
    view.setFrame(makeFrame(64, 64, AV_PIX_FMT_YUV420P, {16, 128, 128}, {16, 128, 128}));
    view.setFrame(makeFrame(64, 64, AV_PIX_FMT_YUV420P, {16, 128, 128}, {16, 128, 128}));
    QCOMPARE(shown.count(), 0); // never on screen
    QCOMPARE(view.notShown(), quint64(1)); // the first was replaced unseen
    view.show();
    QTRY_COMPARE(shown.count(), 1); // the newest appears once the window does
}

// A hardware frame (no pixels in memory) cannot be converted: the view says
// so once, shows black, counts it as failed but not as replaced unseen, and
// the next good frame shows.
void TestVideoView::unconvertibleFrameIsReportedOnce()
{
    PainterVideoView view;
    view.resize(320, 180);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy failed(&view, &VideoView::frameFailed);
    QSignalSpy shown(&view, &VideoView::frameShown);
    FramePtr hardware = h264link::makeFrame();
    hardware->width = 320;
    hardware->height = 180;
    hardware->format = AV_PIX_FMT_VAAPI;
    view.setFrame(std::move(hardware));
    QCOMPARE(failed.count(), 1);
    QVERIFY2(failed.first().first().toString().contains("vaapi"), qPrintable(failed.first().first().toString()));
    QVERIFY(distance(view.grab().toImage().pixelColor(160, 90), Qt::black) <= 12);
    view.setFrame(makeFrame(320, 180, AV_PIX_FMT_YUV420P, {81, 90, 240}, {81, 90, 240}));
    QCOMPARE(shown.count(), 1);
    QCOMPARE(failed.count(), 1);
    QCOMPARE(view.notShown(), quint64(0));
    QVERIFY(distance(view.grab().toImage().pixelColor(160, 90), QColor(255, 0, 0)) <= 12);
}

// Frames coming faster than the screen refreshes (--fast): each is either
// shown or counted as not shown, and the newest always reaches the screen.
// (Whether the middle one is painted depends on the machine's speed, so
// the test asserts the accounting, not the pace.)
void TestVideoView::fasterThanTheScreenShowsTheNewest()
{
    PainterVideoView view;
    view.resize(320, 180);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy shown(&view, &VideoView::frameShown);
    for (qint64 pts : {1, 2, 3}) {
        FramePtr frame = makeFrame(320, 180, AV_PIX_FMT_YUV420P, {81, 90, 240}, {41, 240, 110});
        frame->pts = pts;
        view.setFrame(std::move(frame));
    }
    QVERIFY(shown.count() >= 1); // the first at once
    QCOMPARE(shown.first().at(0).toLongLong(), 1);
    QTRY_COMPARE(shown.last().at(0).toLongLong(), 3);
    QCOMPARE(quint64(shown.count()) + view.notShown(), quint64(3));
}

// A --fast stream: frames far faster than the screen, painted at most
// kPreviewFps a second (an upper bound: a busy machine paints fewer), the
// newest last, and every frame counted as shown or not.
void TestVideoView::previewOnlyPaintsAtThePreviewRate()
{
    PainterVideoView view;
    view.setPreviewOnly(true);
    view.resize(320, 180);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy shown(&view, &VideoView::frameShown);
    QElapsedTimer elapsed;
    elapsed.start();
    const qint64 frames = 200;
    for (qint64 pts = 1; pts <= frames; ++pts) {
        FramePtr frame = makeFrame(320, 180, AV_PIX_FMT_YUV420P, {81, 90, 240}, {41, 240, 110});
        frame->pts = pts;
        view.setFrame(std::move(frame));
        QTest::qWait(2); // 500 frames a second, as --fast decodes them
    }
    QTRY_COMPARE(shown.last().at(0).toLongLong(), frames);
    const qint64 ms = elapsed.elapsed();
    QVERIFY2(shown.count() <= ms * VideoView::kPreviewFps / 1000 + 2,
             qPrintable(QStringLiteral("%1 painted in %2 ms").arg(shown.count()).arg(ms)));
    QCOMPARE(quint64(shown.count()) + view.notShown(), quint64(frames));
}

// Not LIVE but in real time (a sender from before stream_flags): slower than
// the screen, so every frame is painted as it comes.
void TestVideoView::previewOnlyInRealTimePaintsEveryFrame()
{
    PainterVideoView view;
    view.setPreviewOnly(true);
    view.resize(320, 180);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy shown(&view, &VideoView::frameShown);
    const qint64 frames = 10;
    for (qint64 pts = 1; pts <= frames; ++pts) {
        FramePtr frame = makeFrame(320, 180, AV_PIX_FMT_YUV420P, {81, 90, 240}, {41, 240, 110});
        frame->pts = pts;
        view.setFrame(std::move(frame));
        QTest::qWait(40); // 25 frames a second
    }
    QCOMPARE(shown.count(), int(frames));
    QCOMPARE(view.notShown(), quint64(0));
}

QTEST_MAIN(TestVideoView)
#include "tst_video_view.moc"
