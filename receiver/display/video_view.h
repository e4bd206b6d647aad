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

#include "display_orientation.h"
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
    virtual void showNow() {}                  // a frame held back for the screen's pace: now

    // A stream that is not live (--fast) decodes faster than real time and
    // is not watched frame by frame: while its frames come faster than the
    // screen, the software view previews it at kPreviewFps, leaving the CPU
    // to the decoder (the rest count as not shown).
    static constexpr int kPreviewFps = 10;
    void setPreviewOnly(bool on) { m_previewOnly = on; }
    bool isPreviewOnly() const { return m_previewOnly; }

    // The stream's display matrix (STREAM_INFO): how its frames are turned
    // on screen. A frame's own matrix (an H.264 display orientation SEI)
    // wins, for that frame and the ones after it: the SEI persists, and
    // ffplay keeps the turn it set up at the first frame.
    void setDisplayMatrix(const std::array<qint32, 9> &matrix)
    {
        m_orientation = DisplayOrientation::fromMatrix(matrix);
    }
    // How the last frame was shown.
    DisplayOrientation shownOrientation() const { return m_orientation; }

    // Where a picture of `displaySize` (already turned, sample aspect
    // applied) goes in `area`: centred, as large as fits.
    static QRect pictureRect(QSizeF displaySize, const QRect &area);
    // The same for `frame`, turned by `orientation`.
    static QRect pictureRect(const AVFrame *frame, const QRect &area, DisplayOrientation orientation = {});

    // Frames replaced by a newer one before they reached the screen.
    quint64 notShown() const { return m_notShown; }

signals:
    // The frame is on screen (drawn; for OpenGL, handed to Qt): its pts (the
    // sender's pts_us) and its statistics record id (reordered_opaque).
    void frameShown(qint64 pts, qint64 statsId);
    // The frame could not be shown: the next one is tried anyway.
    void frameFailed(const QString &error);
    // The picture's shape on screen changed (a new stream, a rotation, a
    // resolution change): its size turned and with the sample aspect applied.
    void displaySizeChanged(QSize size);

protected:
    using QWidget::QWidget;
    void countNotShown() { ++m_notShown; }
    // The orientation for `frame`, noted as shown; emits displaySizeChanged().
    DisplayOrientation orient(const AVFrame *frame);

private:
    bool m_previewOnly = false;
    quint64 m_notShown = 0;
    DisplayOrientation m_orientation;
    QSize m_displaySize;
};

} // namespace h264link
