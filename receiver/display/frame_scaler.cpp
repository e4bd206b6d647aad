#include "frame_scaler.h"

#include "frame_colour.h"

#include <QThread>

extern "C" {
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace h264link {
namespace {

// Slice threads: the conversion sits between "decoded" and "on screen", and
// a paced stream's decoder is idle meanwhile (720p to 960x540: 3.2 ms on one
// thread, 2.0 ms on two, here).
int sliceThreads()
{
    return qBound(1, QThread::idealThreadCount(), 4);
}

SwsContext *makeContext(const AVFrame *frame, AVPixelFormat format, QSize size)
{
    SwsPtr ctx(sws_alloc_context());
    if (!ctx)
        return nullptr;
    const std::pair<const char *, int64_t> options[] = {
        {"srcw", frame->width}, {"srch", frame->height}, {"src_format", frame->format},
        {"dstw", size.width()}, {"dsth", size.height()}, {"dst_format", format},
        {"sws_flags", SWS_BILINEAR}, {"threads", sliceThreads()},
    };
    for (const auto &[name, value] : options) {
        if (av_opt_set_int(ctx.get(), name, value, 0) < 0)
            return nullptr;
    }
    if (sws_init_context(ctx.get(), nullptr, nullptr) < 0)
        return nullptr;
    return ctx.release();
}

} // namespace

bool FrameScaler::prepare(const AVFrame *frame, AVPixelFormat format, QSize size, QString *error)
{
    const Setup wanted{frame->width, frame->height, frame->format, size, format,
                       swsCoefficientsFor(frame), isFullRange(frame)};
    if (m_sws && m_setup == wanted)
        return true;
    m_setup = {};
    m_sws.reset();
    // Asked first: a context that fails to initialise with slice threads
    // leaks inside FFmpeg 5.1 (LeakSanitizer shows it for hardware formats).
    const bool supported = sws_isSupportedInput(AVPixelFormat(frame->format)) > 0
        && sws_isSupportedOutput(format) > 0;
    if (supported)
        m_sws.reset(makeContext(frame, format, size));
    if (!m_sws) {
        *error = QStringLiteral("libswscale cannot convert %1 %2x%3 to %4 %5x%6")
                     .arg(av_get_pix_fmt_name(AVPixelFormat(frame->format))).arg(frame->width)
                     .arg(frame->height).arg(av_get_pix_fmt_name(format)).arg(size.width())
                     .arg(size.height());
        return false;
    }
    // Only YUV sources have a matrix to set. (For grey sources libswscale
    // takes the call but ignores the range: limited-range grey shows a little
    // washed out.)
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
    // sws_scale_frame (the API that uses the slice threads) takes reference-
    // counted frames. The destination is the caller's memory, so it is
    // wrapped in a buffer that FFmpeg references only during this call and
    // never frees.
    FramePtr out = makeFrame();
    if (!out) {
        *error = QStringLiteral("out of memory");
        return false;
    }
    out->width = size.width();
    out->height = size.height();
    out->format = format;
    out->data[0] = dst;
    out->linesize[0] = dstStride;
    out->buf[0] = av_buffer_create(dst, size_t(dstStride) * size_t(size.height()),
                                   [](void *, uint8_t *) {}, nullptr, 0);
    if (!out->buf[0]) {
        *error = QStringLiteral("out of memory");
        return false;
    }
    const int ret = sws_scale_frame(m_sws.get(), out.get(), frame);
    if (ret < 0) {
        *error = QStringLiteral("libswscale failed: %1").arg(averrorText(ret));
        return false;
    }
    return true;
}

} // namespace h264link
