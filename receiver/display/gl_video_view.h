// GlVideoView: the OpenGL renderer. FrameConverter copies the decoder's planes
// into a QVideoFrame, and Qt Multimedia's QVideoWidget converts and scales
// on the GPU. QVideoWidget is a native GL child window: QWidget::grab() does
// not see its picture, and widgets stacked on it do not reliably show.
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

private:
    QVideoWidget *m_video;
    FrameConverter m_converter;
};

} // namespace h264link
