// PainterVideoView: the software renderer. The decoder's YUV frame goes
// through libswscale once, straight to RGB32 at the size it will have on
// screen (device pixels), and QPainter draws that into the window's backing
// store. Only frames that are painted get converted; a resize re-converts
// the current frame. A turned or mirrored stream (its display matrix) is
// converted at its decoded orientation, then turned by QImage's exact
// quarter-turn copy. Being a plain QWidget, QWidget::grab() sees its picture.
//
// Painting is paced to the screen when frames come faster than it refreshes
// (--fast: they can never all be seen, and converting them would take the
// decoder's CPU): while the mean time between frames is under 3/4 of a
// refresh period, a frame that comes sooner than that after the last one
// shown waits for that moment, and a newer one replaces it meanwhile
// (counted as not shown). A live stream at or below the refresh rate is
// painted at once, as before, even when a few of its frames bunch up.
#pragma once

#include "frame_scaler.h"
#include "video_view.h"

#include <QElapsedTimer>
#include <QImage>
#include <QTimer>

namespace h264link {

class PainterVideoView : public VideoView {
    Q_OBJECT
public:
    explicit PainterVideoView(QWidget *parent = nullptr);

    void setFrame(FramePtr frame) override;
    void clear() override;
    void showNow() override;

    // The converted image's size in device pixels for a picture rectangle
    // (VideoView::pictureRect). The side libswscale writes lines along (the
    // height, when `swapsAxes`: that image is turned afterwards) is even.
    static QSize scaledSize(const QRect &picture, qreal ratio, bool swapsAxes = false);

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    bool convert(QSize pixels, QString *error);
    qint64 minPaintIntervalNs() const;

    FrameScaler m_scaler;
    FramePtr m_frame;   // the frame on screen, or about to be
    DisplayOrientation m_frameOrientation; // m_frame's
    bool m_shown = true; // m_frame was painted at least once
    QImage m_image;     // m_frame, converted, scaled and turned: as shown
    DisplayOrientation m_imageOrientation;
    QImage m_unturned;  // libswscale's output, when the picture is turned
    static constexpr qint64 kNoInterval = 1'000'000'000; // before a stream's second frame: slow
    QElapsedTimer m_lastShown; // when a frame was last shown
    QElapsedTimer m_lastFrame; // when setFrame() was last called
    qint64 m_frameIntervalNs = kNoInterval; // the mean time between frames
    QTimer m_paceTimer;        // single shot: paints the frame that waited
};

} // namespace h264link
