// VideoView: the picture area of the receiver window. It is handed the newest
// decoded frame (a reference, still in the decoder's YUV) and shows it scaled
// to fit, aspect ratio kept. Two ways to draw it, chosen by --renderer:
//
//   software  PainterVideoView: libswscale converts and scales YUV to
//             window-sized RGB32 in one pass; QPainter draws it. No OpenGL:
//             light on memory, the same everywhere (VMs, remote desktops, Xvfb).
//   opengl    GlVideoView: Qt Multimedia's QVideoWidget; the GPU converts
//             and scales. Worth it for big full-screen pictures on a machine
//             with a GPU; on a software OpenGL driver (Mesa llvmpipe) it
//             costs ~70 MB more memory and more CPU than the software path.
#pragma once

#include "ffmpeg_raii.h"

#include <QWidget>
#include <optional>

namespace h264link {

enum class Renderer { Software, OpenGL };

std::optional<Renderer> parseRenderer(const QString &name); // "software" | "opengl"

class VideoView : public QWidget {
    Q_OBJECT
public:
    static VideoView *create(Renderer renderer, QWidget *parent = nullptr);

    virtual void setFrame(FramePtr frame) = 0; // shows it as soon as it can
    virtual void clear() = 0;                  // no picture (between streams)

    // Frames replaced by a newer one before they reached the screen.
    quint64 notShown() const { return m_notShown; }

signals:
    // The frame is on screen (drawn; for OpenGL, handed to Qt): its pts (the
    // sender's pts_us) and its statistics record id (reordered_opaque).
    void frameShown(qint64 pts, qint64 statsId);
    // The frame could not be shown: the next one is tried anyway.
    void frameFailed(const QString &error);

protected:
    using QWidget::QWidget;
    void countNotShown() { ++m_notShown; }

private:
    quint64 m_notShown = 0;
};

} // namespace h264link
