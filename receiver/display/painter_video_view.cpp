#include "painter_video_view.h"

#include <QPainter>
#include <QPaintEvent>
#include <QScreen>

namespace h264link {

PainterVideoView::PainterVideoView(QWidget *parent) : VideoView(parent)
{
    setAttribute(Qt::WA_OpaquePaintEvent); // paintEvent covers every pixel
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    m_paceTimer.setSingleShot(true);
    m_paceTimer.setTimerType(Qt::PreciseTimer);
    connect(&m_paceTimer, &QTimer::timeout, this, [this] {
        if (!m_shown)
            repaint();
    });
}

qint64 PainterVideoView::minPaintIntervalNs() const
{
    const QScreen *s = screen();
    const qreal hz = s && s->refreshRate() >= 1 ? s->refreshRate() : 60.0;
    return qint64(0.75e9 / hz);
}

void PainterVideoView::setFrame(FramePtr frame)
{
    if (!m_shown)
        countNotShown(); // replaced before a paint: a hidden or minimised window
    m_frameOrientation = orient(frame.get());
    m_frame = std::move(frame);
    m_shown = false;
    // The mean time between frames, over about the last eight (the first
    // interval of a stream stands for itself).
    if (m_lastFrame.isValid()) {
        const qint64 interval = m_lastFrame.nsecsElapsed();
        m_frameIntervalNs = m_frameIntervalNs == kNoInterval ? interval
                                                             : m_frameIntervalNs + (interval - m_frameIntervalNs) / 8;
    }
    m_lastFrame.start();
    if (m_paceTimer.isActive())
        return; // the frame before is waiting for its moment: this one takes its place
    // Frames faster than the screen: paint at its pace, or a not-live
    // stream's at the preview rate. A stream in real time (an older sender
    // says nothing of LIVE) is painted as it comes.
    const bool fasterThanScreen = m_frameIntervalNs < minPaintIntervalNs();
    const qint64 minIntervalNs = qMax(minPaintIntervalNs(), isPreviewOnly() ? qint64(1e9 / kPreviewFps) : 0);
    const qint64 waitNs = fasterThanScreen && m_lastShown.isValid() ? minIntervalNs - m_lastShown.nsecsElapsed() : 0;
    if (waitNs > 0) {
        m_paceTimer.start(int((waitNs + 999'999) / 1'000'000)); // whole ms, rounded up
        return;
    }
    // Now, not at the next event loop pass: live video is the case repaint()
    // exists for, and it makes frameShown() mean "on screen" exactly. A hidden
    // window paints nothing, and its frames count as not shown.
    repaint();
}

void PainterVideoView::showNow()
{
    if (!m_paceTimer.isActive())
        return;
    m_paceTimer.stop();
    repaint();
}

void PainterVideoView::clear()
{
    m_paceTimer.stop();
    m_lastShown.invalidate();
    m_lastFrame.invalidate();
    m_frameIntervalNs = kNoInterval;
    m_frame.reset();
    m_image = QImage();
    m_unturned = QImage();
    m_shown = true;
    update();
}

bool PainterVideoView::convert(QSize pixels, QString *error)
{
    // Unturned pictures go straight into m_image; turned ones into
    // m_unturned, at the decoded orientation, then turned into m_image.
    const bool turned = !m_frameOrientation.isIdentity();
    QImage &target = turned ? m_unturned : m_image;
    const QSize size = m_frameOrientation.swapsAxes() ? pixels.transposed() : pixels;
    if (target.size() != size || target.format() != QImage::Format_RGB32)
        target = QImage(size, QImage::Format_RGB32);
    if (target.isNull()) {
        *error = QStringLiteral("out of memory for a %1x%2 picture").arg(size.width()).arg(size.height());
        return false;
    }
    // AV_PIX_FMT_RGB32 is QImage::Format_RGB32's byte order on any endianness.
    if (!m_scaler.scale(m_frame.get(), AV_PIX_FMT_RGB32, size, target.bits(), int(target.bytesPerLine()), error))
        return false;
    if (turned)
        m_image = m_frameOrientation.apply(m_unturned);
    else
        m_unturned = QImage(); // memory back; m_image is written in place again
    m_imageOrientation = m_frameOrientation;
    return true;
}

// libswscale's SIMD paths need an even output width: an odd one falls back
// to C code, 3-5x slower (1920x1080 -> 1707x960: 32 ms instead of 8). A
// picture one device pixel narrower is invisible; the wait is not.
QSize PainterVideoView::scaledSize(const QRect &picture, qreal ratio, bool swapsAxes)
{
    const QSize pixels = (QSizeF(picture.size()) * ratio).toSize();
    if (swapsAxes)
        return {qMax(1, pixels.width()), qMax(2, pixels.height() & ~1)};
    return {qMax(2, pixels.width() & ~1), qMax(1, pixels.height())};
}

void PainterVideoView::paintEvent(QPaintEvent *event)
{
    QPainter painter(this);
    const qreal ratio = devicePixelRatio();
    const QRect picture = pictureRect(m_frame.get(), rect(), m_frameOrientation);
    const QSize pixels = scaledSize(picture, ratio, m_frameOrientation.swapsAxes());
    // Rounded down: at a fractional ratio the image may cover a fraction of a
    // pixel more than this, never less, so no pixel is left unpainted.
    const QSizeF logical = QSizeF(pixels) / ratio;
    const QRect drawn = picture.isEmpty() ? QRect()
                                          : QRect(picture.topLeft(), QSize(int(logical.width()), int(logical.height())));
    // Black bars around the picture (everything, when there is none).
    for (const QRect &bar : event->region().subtracted(drawn))
        painter.fillRect(bar, Qt::black);
    if (drawn.isEmpty())
        return;

    QElapsedTimer started; // the pace counts from the start of a paint, so that its length is inside it
    started.start();
    if (!m_shown || m_image.size() != pixels || m_imageOrientation != m_frameOrientation) {
        QString error;
        if (!convert(pixels, &error)) {
            painter.fillRect(drawn, Qt::black);
            m_frame.reset();
            m_image = QImage();
            m_shown = true; // counted as failed, not again as replaced unseen
            emit frameFailed(error);
            return;
        }
        m_image.setDevicePixelRatio(ratio);
    }
    painter.drawImage(drawn.topLeft(), m_image);
    if (!m_shown) {
        m_shown = true;
        m_lastShown = started;
        emit frameShown(m_frame->pts, m_frame->reordered_opaque);
    }
}

} // namespace h264link
