// FrameScaler: libswscale, colour-correct. Turns any decoded frame (any YUV
// layout or bit depth, grey, RGB) into packed RGB of any size, converting and
// scaling in one pass.
//
// The software display uses it to go straight from the decoder's YUV to
// window-sized RGB32; the OpenGL display uses it for formats the GPU path of
// Qt 6.4 cannot take.
#pragma once

#include "ffmpeg_raii.h"

#include <QSize>
#include <QString>

namespace h264link {

class FrameScaler {
public:
    // Writes `frame` into `dst` (`format`, `dstStride` bytes a line), scaled
    // to `size`. False and *error set if libswscale cannot do it.
    bool scale(const AVFrame *frame, AVPixelFormat format, QSize size, uint8_t *dst, int dstStride,
               QString *error);

private:
    bool prepare(const AVFrame *frame, AVPixelFormat format, QSize size, QString *error);

    // What m_sws was made for. A new context is made only when this changes
    // (a mid-stream resolution change, a window resize), not per frame:
    // making one, and its colour tables, costs far more than a conversion.
    struct Setup {
        int srcWidth = 0, srcHeight = 0, srcFormat = -1;
        QSize size;
        AVPixelFormat format = AV_PIX_FMT_NONE;
        const int *coefficients = nullptr;
        bool fullRange = false;
        bool operator==(const Setup &o) const
        {
            return srcWidth == o.srcWidth && srcHeight == o.srcHeight && srcFormat == o.srcFormat
                && size == o.size && format == o.format && coefficients == o.coefficients
                && fullRange == o.fullRange;
        }
    };
    SwsPtr m_sws;
    Setup m_setup;
};

} // namespace h264link
