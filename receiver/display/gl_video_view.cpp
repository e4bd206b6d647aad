#include "gl_video_view.h"

#include <QVBoxLayout>
#include <QVideoSink>
#include <QVideoWidget>

namespace h264link {

GlVideoView::GlVideoView(QWidget *parent) : VideoView(parent), m_video(new QVideoWidget(this))
{
    m_video->setAspectRatioMode(Qt::KeepAspectRatio);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_video);
}

void GlVideoView::setFrame(FramePtr frame)
{
    QString error;
    const QVideoFrame converted = m_converter.convert(frame.get(), &error);
    if (!converted.isValid()) {
        emit frameFailed(error);
        return;
    }
    m_video->videoSink()->setVideoFrame(converted);
    emit frameShown(frame->pts, frame->reordered_opaque);
}

void GlVideoView::clear()
{
    m_video->videoSink()->setVideoFrame(QVideoFrame());
}

} // namespace h264link
