#include "gl_video_view.h"

#include <QVideoSink>
#include <QVideoWidget>

namespace h264link {

GlVideoView::GlVideoView(QWidget *parent) : VideoView(parent), m_video(new QVideoWidget(this))
{
    setAutoFillBackground(true);
    QPalette black = palette();
    black.setColor(QPalette::Window, Qt::black);
    setPalette(black);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    m_video->setAspectRatioMode(Qt::IgnoreAspectRatio); // placeVideo() keeps the aspect ratio
    placeVideo();
}

void GlVideoView::setFrame(FramePtr frame)
{
    QString error;
    QVideoFrame converted = m_converter.convert(frame.get(), &error);
    if (!converted.isValid()) {
        emit frameFailed(error);
        return;
    }
    // Turned and mirrored by the GPU: Qt 6.4's QVideoWidget draws a frame's
    // rotation angle and mirror flag by its texture coordinates (turn first,
    // then mirror, as DisplayOrientation means them), so the picture costs no
    // CPU work for being turned.
    const DisplayOrientation orientation = orient(frame.get());
    converted.setRotationAngle(QVideoFrame::RotationAngle(orientation.rotation));
    converted.setMirrored(orientation.mirrored);
    const QSizeF displaySize = orientation.displaySize(frame.get());
    if (displaySize != m_displaySize) {
        m_displaySize = displaySize;
        placeVideo();
    }
    m_video->videoSink()->setVideoFrame(converted);
    emit frameShown(frame->pts, frame->reordered_opaque);
}

void GlVideoView::clear()
{
    m_video->videoSink()->setVideoFrame(QVideoFrame());
    m_displaySize = {};
    placeVideo();
}

void GlVideoView::resizeEvent(QResizeEvent *event)
{
    VideoView::resizeEvent(event);
    placeVideo();
}

void GlVideoView::placeVideo()
{
    m_video->setGeometry(m_displaySize.isEmpty() ? rect() : pictureRect(m_displaySize, rect()));
}

} // namespace h264link
