#include "frame_scaler.h"

#include "frame_colour.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace h264link {

bool FrameScaler::prepare(const AVFrame *frame, AVPixelFormat format, QSize size, QString *error)
{
    const Setup wanted{frame->width, frame->height, frame->format, size, format,
                       swsCoefficientsFor(frame), isFullRange(frame)};
    if (m_sws && m_setup == wanted)
        return true;
    m_setup = {};
    m_sws.reset(sws_getContext(frame->width, frame->height, AVPixelFormat(frame->format), size.width(),
                               size.height(), format, SWS_BILINEAR, nullptr, nullptr, nullptr));
    if (!m_sws) {
        *error = QStringLiteral("libswscale cannot convert %1 %2x%3 to %4 %5x%6")
                     .arg(av_get_pix_fmt_name(AVPixelFormat(frame->format))).arg(frame->width)
                     .arg(frame->height).arg(av_get_pix_fmt_name(format)).arg(size.width())
                     .arg(size.height());
        return false;
    }
    // Only YUV sources have a matrix; for RGB and grey sources libswscale
    // refuses the call, and there is nothing to set.
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(AVPixelFormat(frame->format));
    const bool yuv = desc && !(desc->flags & AV_PIX_FMT_FLAG_RGB) && desc->nb_components >= 3;
    if (yuv && sws_setColorspaceDetails(m_sws.get(), wanted.coefficients, wanted.fullRange ? 1 : 0,
                                        wanted.coefficients, 1, 0, 1 << 16, 1 << 16) < 0) {
        m_sws.reset();
        *error = QStringLiteral("libswscale cannot set the colour matrix for %1")
                     .arg(av_get_pix_fmt_name(AVPixelFormat(frame->format)));
        return false;
    }
    m_setup = wanted;
    return true;
}

bool FrameScaler::scale(const AVFrame *frame, AVPixelFormat format, QSize size, uint8_t *dst,
                        int dstStride, QString *error)
{
    if (size.isEmpty()) {
        *error = QStringLiteral("cannot scale to an empty %1x%2 picture").arg(size.width()).arg(size.height());
        return false;
    }
    if (!prepare(frame, format, size, error))
        return false;
    uint8_t *dstPlanes[4] = {dst};
    int dstStrides[4] = {dstStride};
    const int rows = sws_scale(m_sws.get(), frame->data, frame->linesize, 0, frame->height, dstPlanes,
                               dstStrides);
    if (rows != size.height()) {
        *error = rows < 0 ? QStringLiteral("libswscale failed: %1").arg(averrorText(rows))
                          : QStringLiteral("libswscale wrote %1 of %2 lines").arg(rows).arg(size.height());
        return false;
    }
    return true;
}

} // namespace h264link
