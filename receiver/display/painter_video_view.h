// PainterVideoView: the software renderer. The decoder's YUV frame goes
// through libswscale once, straight to RGB32 at the size it will have on
// screen (device pixels), and QPainter draws that into the window's backing
// store. Only frames that are painted get converted; a resize re-converts
// the current frame. Being a plain QWidget, QWidget::grab() sees its picture.
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

    // Where the picture goes: centred, as large as fits, with the stream's
    // display aspect ratio (its sample aspect ratio applied).
    static QRect pictureRect(const AVFrame *frame, const QRect &area);
    // The converted image's size in device pixels for that rectangle.
    static QSize scaledSize(const QRect &picture, qreal ratio);

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    bool convert(QSize pixels, QString *error);

    FrameScaler m_scaler;
    FramePtr m_frame;   // the frame on screen, or about to be
    bool m_shown = true; // m_frame was painted at least once
    QImage m_image;     // m_frame, converted and scaled
};

} // namespace h264link
