// GlVideoView: the OpenGL renderer. FrameConverter copies the decoder's planes
// into a QVideoFrame, and Qt Multimedia's QVideoWidget converts and scales
// on the GPU. QVideoWidget is a native GL child window: QWidget::grab() does
// not see its picture, and widgets stacked on it do not reliably show.
//
// The QVideoWidget is placed at the picture's rectangle (VideoView::
// pictureRect) and stretches the frame over it, so the sample aspect ratio
// is honoured, which QVideoFrameFormat cannot carry in Qt 6.4; this view's
// black background is the bars.
#pragma once

#include "frame_converter.h"
#include "video_view.h"

class QVideoWidget;

namespace h264link {

class GlVideoView : public VideoView {
    Q_OBJECT
public:
    explicit GlVideoView(QWidget *parent = nullptr);

    void setFrame(FramePtr frame) override;
    void clear() override;

protected:
    void resizeEvent(QResizeEvent *event) override;

private:
    void placeVideo();

    QVideoWidget *m_video;
    FrameConverter m_converter;
    QSizeF m_displaySize; // of the frame on screen; empty: none
};

} // namespace h264link
