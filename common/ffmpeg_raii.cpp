#include "ffmpeg_raii.h"

#include "logging.h"

namespace h264link {

QString averrorText(int errnum)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(errnum, buf, sizeof buf);
    return QStringLiteral("%1 (%2)").arg(QString::fromUtf8(buf)).arg(errnum);
}

QString averrorDetail(int errnum)
{
    const QString detail = takeLastFfmpegError();
    return detail.isEmpty() ? averrorText(errnum)
                            : QStringLiteral("%1: %2").arg(averrorText(errnum), detail);
}

CodecContextPtr openDecoder(const AVCodecParameters *par, AVRational packetTimeBase, DecoderThreads threads,
                            int frameThreads, QString *error)
{
    const char *name = avcodec_get_name(par->codec_id);
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec) {
        *error = QStringLiteral("this FFmpeg has no %1 decoder").arg(QString::fromUtf8(name));
        return nullptr;
    }
    CodecContextPtr ctx(avcodec_alloc_context3(codec));
    if (!ctx) {
        *error = QStringLiteral("out of memory");
        return nullptr;
    }
    int ret = avcodec_parameters_to_context(ctx.get(), par);
    if (ret >= 0) {
        ctx->pkt_timebase = packetTimeBase;
        switch (threads) {
        case DecoderThreads::None:
            break;
        case DecoderThreads::Slice:
            ctx->thread_type = FF_THREAD_SLICE;
            ctx->thread_count = 0; // one per core
            break;
        case DecoderThreads::Frame:
            ctx->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
            ctx->thread_count = frameThreads;
            break;
        }
        ret = avcodec_open2(ctx.get(), codec, nullptr);
    }
    if (ret < 0) {
        *error = QStringLiteral("the %1 decoder does not open: %2").arg(QString::fromUtf8(name), averrorDetail(ret));
        return nullptr;
    }
    return ctx;
}

} // namespace h264link
