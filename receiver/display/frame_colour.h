// How a decoded frame's YUV values map to RGB: range and matrix. Shared by
// both display paths, so that they agree on what colour a pixel is.
#pragma once

extern "C" {
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

namespace h264link {

// Full range (0-255) or video range (16-235).
inline bool isFullRange(const AVFrame *f)
{
    return f->color_range == AVCOL_RANGE_JPEG || f->format == AV_PIX_FMT_YUVJ420P
        || f->format == AV_PIX_FMT_YUVJ422P || f->format == AV_PIX_FMT_YUVJ444P;
}

inline bool isBt2020(const AVFrame *f)
{
    return f->colorspace == AVCOL_SPC_BT2020_NCL || f->colorspace == AVCOL_SPC_BT2020_CL;
}

// BT.709 for HD unless the stream says otherwise; BT.601 for SD. This is what
// players do when the VUI leaves the matrix unspecified.
inline bool isBt709(const AVFrame *f)
{
    if (f->colorspace == AVCOL_SPC_BT709)
        return true;
    if (f->colorspace == AVCOL_SPC_UNSPECIFIED)
        return f->height >= 720;
    return false;
}

// The matching libswscale coefficient table.
inline const int *swsCoefficientsFor(const AVFrame *f)
{
    if (isBt2020(f))
        return sws_getCoefficients(SWS_CS_BT2020);
    return sws_getCoefficients(isBt709(f) ? SWS_CS_ITU709 : SWS_CS_ITU601);
}

} // namespace h264link
