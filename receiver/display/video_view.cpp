#include "video_view.h"

#include "gl_video_view.h"
#include "painter_video_view.h"

namespace h264link {

std::optional<Renderer> parseRenderer(const QString &name)
{
    if (name == QLatin1String("software"))
        return Renderer::Software;
    if (name == QLatin1String("opengl"))
        return Renderer::OpenGL;
    return std::nullopt;
}

QRect VideoView::pictureRect(QSizeF displaySize, const QRect &area)
{
    if (displaySize.isEmpty() || area.isEmpty())
        return {};
    displaySize.scale(area.size(), Qt::KeepAspectRatio);
    const QSize size = displaySize.toSize().expandedTo(QSize(1, 1));
    return QRect(area.x() + (area.width() - size.width()) / 2, area.y() + (area.height() - size.height()) / 2,
                 size.width(), size.height());
}

QRect VideoView::pictureRect(const AVFrame *frame, const QRect &area, DisplayOrientation orientation)
{
    return pictureRect(orientation.displaySize(frame), area);
}

DisplayOrientation VideoView::orient(const AVFrame *frame)
{
    m_orientation = DisplayOrientation::forFrame(frame, m_orientation);
    const QSize size = m_orientation.displaySize(frame).toSize();
    if (!size.isEmpty() && size != m_displaySize) {
        m_displaySize = size;
        emit displaySizeChanged(size);
    }
    return m_orientation;
}

VideoView *VideoView::create(Renderer renderer, QWidget *parent)
{
    if (renderer == Renderer::OpenGL)
        return new GlVideoView(parent);
    return new PainterVideoView(parent);
}

} // namespace h264link
