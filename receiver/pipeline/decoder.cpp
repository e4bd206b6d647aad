#include "decoder.h"

#include "demuxer.h"
#include "logging.h"
#include "protocol.h"

#include <algorithm>
#include <utility>

namespace h264link {

std::unique_ptr<Decoder> Decoder::open(const AVCodecParameters *codecpar, PipelineCounters &counters,
                                       StreamStats *stats, QString *error)
{
    std::unique_ptr<Decoder> d(new Decoder(counters, stats));
    d->m_frame = makeFrame();
    if (!d->m_frame) {
        *error = QStringLiteral("out of memory");
        return nullptr;
    }
    // Slice threads for streams with several slices per picture.
    if (!(d->m_ctx = openDecoder(codecpar, Demuxer::kTimeBase, true, error)))
        return nullptr;
    return d;
}

bool Decoder::push(AVPacket *packet)
{
    if (!std::exchange(m_started, true) && m_reorderDepth)
        m_ctx->has_b_frames = std::max(m_ctx->has_b_frames, m_reorderDepth->load());
    // The decoder carries reordered_opaque from the packet being decoded to
    // its frame (reordered, with B-frames), as it does the pts: so the
    // frame's statistics record travels there and the pts stays real.
    m_ctx->reordered_opaque = statsId(packet);
    const int ret = avcodec_send_packet(m_ctx.get(), packet);
    if (ret < 0 && ret != AVERROR(EAGAIN)) {
        ++m_counters.decodeErrors; // corrupt data: skip the packet, keep going
        m_lastError = averrorText(ret);
        qCDebug(lcReceiver) << "decode error:" << m_lastError;
    } else if (packet->flags & AV_PKT_FLAG_DISCARD) {
        // Its picture never leaves the decoder: this is its only count.
        ++m_counters.decodeOnly;
        if (m_stats)
            m_stats->onDecodeOnly(statsId(packet));
    }
    return receiveFrames();
}

void Decoder::flush()
{
    avcodec_send_packet(m_ctx.get(), nullptr); // enter draining mode
    receiveFrames();
}

bool Decoder::receiveFrames()
{
    for (;;) {
        const int ret = avcodec_receive_frame(m_ctx.get(), m_frame.get());
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return true;
        if (ret < 0) {
            ++m_counters.decodeErrors;
            m_lastError = averrorText(ret);
            return true;
        }
        ++m_counters.frames;
        if (m_stats)
            m_stats->onDecoded(m_frame->reordered_opaque, proto::nowMicros());
        // Damaged slices are concealed, not dropped: the picture is shown
        // (smeared) and counted, and it heals at the next keyframe.
        if (m_frame->decode_error_flags || (m_frame->flags & AV_FRAME_FLAG_CORRUPT))
            ++m_counters.concealedFrames;
        bool more = true;
        for (FrameSink *sink : m_sinks)
            more = sink->push(m_frame.get()) && more;
        av_frame_unref(m_frame.get());
        if (!more)
            return false;
    }
}

} // namespace h264link
