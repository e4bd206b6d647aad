// PainterVideoView: the software renderer. The decoder's YUV frame goes
// through libswscale once, straight to RGB32 at the size it will have on
// screen (device pixels), and QPainter draws that into the window's backing
// store. Only frames that are painted get converted; a resize re-converts
// the current frame. A turned or mirrored stream (its display matrix) is
// converted at its decoded orientation, then turned by QImage's exact
// quarter-turn copy. Being a plain QWidget, QWidget::grab() sees its picture.
#pragma once

#include "frame_scaler.h"
#include "video_view.h"

#include <QImage>

namespace h264link {

class PainterVideoView : public VideoView {
    Q_OBJECT
public:
    explicit PainterVideoView(QWidget *parent = nullptr);

    void setFrame(FramePtr frame) override;
    void clear() override;

    // The converted image's size in device pixels for a picture rectangle
    // (VideoView::pictureRect). The side libswscale writes lines along (the
    // height, when `swapsAxes`: that image is turned afterwards) is even.
    static QSize scaledSize(const QRect &picture, qreal ratio, bool swapsAxes = false);

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    bool convert(QSize pixels, QString *error);

    FrameScaler m_scaler;
    FramePtr m_frame;   // the frame on screen, or about to be
    DisplayOrientation m_frameOrientation; // m_frame's
    bool m_shown = true; // m_frame was painted at least once
    QImage m_image;     // m_frame, converted, scaled and turned: as shown
    DisplayOrientation m_imageOrientation;
    QImage m_unturned;  // libswscale's output, when the picture is turned
};

} // namespace h264link
