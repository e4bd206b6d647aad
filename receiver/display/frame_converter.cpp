#include "frame_converter.h"

#include "frame_colour.h"

#include <QVideoFrameFormat>
#include <cstring>

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace h264link {
namespace {

QVideoFrameFormat::PixelFormat directFormat(int format)
{
    switch (format) {
    case AV_PIX_FMT_YUV420P:
    case AV_PIX_FMT_YUVJ420P: return QVideoFrameFormat::Format_YUV420P;
    case AV_PIX_FMT_YUV422P:
    case AV_PIX_FMT_YUVJ422P: return QVideoFrameFormat::Format_YUV422P;
    case AV_PIX_FMT_YUV420P10LE: return QVideoFrameFormat::Format_YUV420P10;
    case AV_PIX_FMT_NV12: return QVideoFrameFormat::Format_NV12;
    case AV_PIX_FMT_GRAY8: return QVideoFrameFormat::Format_Y8;
    default: return QVideoFrameFormat::Format_Invalid;
    }
}

// Copies `frame` into the mapped planes of `out`, row by row: the two sides
// may pad their lines differently.
void copyPlanes(const AVFrame *frame, QVideoFrame &out)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(AVPixelFormat(frame->format));
    int lineBytes[4] = {};
    av_image_fill_linesizes(lineBytes, AVPixelFormat(frame->format), frame->width);
    for (int plane = 0; plane < out.planeCount(); ++plane) {
        const int rows = plane == 0 ? frame->height : AV_CEIL_RSHIFT(frame->height, desc->log2_chroma_h);
        const int bytes = qMin(lineBytes[plane], out.bytesPerLine(plane));
        uchar *dst = out.bits(plane);
        const uint8_t *src = frame->data[plane];
        for (int y = 0; y < rows; ++y)
            std::memcpy(dst + y * out.bytesPerLine(plane), src + y * frame->linesize[plane], size_t(bytes));
    }
}

} // namespace

QVideoFrame FrameConverter::convert(const AVFrame *frame, QString *error)
{
    const QVideoFrameFormat::PixelFormat direct = directFormat(frame->format);
    m_usedSwscale = direct == QVideoFrameFormat::Format_Invalid;
    if (m_usedSwscale)
        return viaSwscale(frame, error);

    QVideoFrameFormat format(QSize(frame->width, frame->height), direct);
    format.setColorRange(isFullRange(frame) ? QVideoFrameFormat::ColorRange_Full
                                            : QVideoFrameFormat::ColorRange_Video);
    format.setColorSpace(isBt2020(frame) ? QVideoFrameFormat::ColorSpace_BT2020
                         : isBt709(frame) ? QVideoFrameFormat::ColorSpace_BT709
                                          : QVideoFrameFormat::ColorSpace_BT601);
    QVideoFrame out(format);
    if (!out.map(QVideoFrame::WriteOnly)) {
        *error = QStringLiteral("cannot map a %1x%2 video frame").arg(frame->width).arg(frame->height);
        return {};
    }
    copyPlanes(frame, out);
    out.unmap();
    return out;
}

QVideoFrame FrameConverter::viaSwscale(const AVFrame *frame, QString *error)
{
    QVideoFrame out(QVideoFrameFormat(QSize(frame->width, frame->height),
                                      QVideoFrameFormat::Format_RGBA8888));
    if (!out.map(QVideoFrame::WriteOnly)) {
        *error = QStringLiteral("cannot map a %1x%2 video frame").arg(frame->width).arg(frame->height);
        return {};
    }
    const bool ok = m_scaler.scale(frame, AV_PIX_FMT_RGBA, QSize(frame->width, frame->height), out.bits(0),
                                   out.bytesPerLine(0), error);
    out.unmap();
    return ok ? out : QVideoFrame();
}

} // namespace h264link
