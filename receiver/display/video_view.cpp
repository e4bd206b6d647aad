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

VideoView *VideoView::create(Renderer renderer, QWidget *parent)
{
    if (renderer == Renderer::OpenGL)
        return new GlVideoView(parent);
    return new PainterVideoView(parent);
}

} // namespace h264link
