#include "decoder.h"

#include "annexb.h"
#include "demuxer.h"
#include "logging.h"
#include "protocol.h"

#include <QThread>
#include <algorithm>
#include <cstdlib>
#include <utility>

namespace h264link {
namespace {

// What the decoder needs to know of a packet before it goes in, from the
// NAL units up to its first slice (the slice data is never scanned).
struct PacketKind {
    bool idr = false;
    bool nonReference = false; // nal_ref_idc 0: no other picture refers to it
    QByteArray parameterSets;  // its SPS and PPS, each behind a start code
};

PacketKind kindOf(const AVPacket *packet)
{
    PacketKind kind;
    const QByteArray bytes = QByteArray::fromRawData(reinterpret_cast<const char *>(packet->data), packet->size);
    for (const annexb::NalUnit &u : annexb::split(bytes, true)) {
        if (u.type == annexb::Sps || u.type == annexb::Pps)
            kind.parameterSets += QByteArray("\0\0\0\1", 4) + bytes.mid(u.offset, u.size);
        if (annexb::isSlice(u.type) && u.size > 0) {
            kind.idr = u.type == annexb::IdrSlice;
            kind.nonReference = (bytes[u.offset] & 0x60) == 0;
        }
    }
    return kind;
}

} // namespace

std::unique_ptr<Decoder> Decoder::open(const AVCodecParameters *codecpar, PipelineCounters &counters,
                                       StreamStats *stats, QString *error)
{
    std::unique_ptr<Decoder> d(new Decoder(counters, stats));
    d->m_frame = makeFrame();
    d->m_par.reset(avcodec_parameters_alloc());
    if (!d->m_frame || !d->m_par || avcodec_parameters_copy(d->m_par.get(), codecpar) < 0) {
        *error = QStringLiteral("out of memory");
        return nullptr;
    }
    // Low delay until the first packet says otherwise: slice threads for
    // streams with several slices per picture. Opened here, so that a
    // decoder that cannot open fails before any byte is read.
    if (!(d->m_ctx = openDecoder(codecpar, Demuxer::kTimeBase, DecoderThreads::Slice, 0, error)))
        return nullptr;
    return d;
}

bool Decoder::start()
{
    m_live = m_input && m_input->live.load();
    m_maySkip = m_input && m_input->maySkip.load();
    if (m_input)
        m_ctx->has_b_frames = std::max(m_ctx->has_b_frames, m_input->videoReorderDepth.load());
    if (!m_live) {
        // Nothing decoded yet: a reopen is free, and drains nothing. One
        // thread per core, not FFmpeg's automatic one more: the extra thread
        // only competes with the demuxer and the network for the cores (2 on
        // 2 cores beat 3 in 10 of 10 alternated runs, by 12%: BENCHMARK.md).
        if (!reopen(true, QThread::idealThreadCount()))
            return false;
        qCInfo(lcReceiver).noquote() << QStringLiteral(
            "the stream is not live: decoding with %1 frame threads for throughput").arg(m_ctx->thread_count);
    }
    publishState();
    return true;
}

bool Decoder::push(AVPacket *packet)
{
    if (!std::exchange(m_started, true) && !start())
        return false;
    const PacketKind kind = kindOf(packet);
    if (!kind.parameterSets.isEmpty() && kind.parameterSets != QByteArray::fromRawData(
            reinterpret_cast<const char *>(m_par->extradata), m_par->extradata_size)) {
        // Kept for a reopen at an IDR that does not repeat them.
        av_freep(&m_par->extradata);
        m_par->extradata_size = 0;
        m_par->extradata = static_cast<uint8_t *>(av_mallocz(kind.parameterSets.size() + AV_INPUT_BUFFER_PADDING_SIZE));
        if (m_par->extradata) {
            memcpy(m_par->extradata, kind.parameterSets.constData(), size_t(kind.parameterSets.size()));
            m_par->extradata_size = int(kind.parameterSets.size());
        }
    }
    if (packet->pts != AV_NOPTS_VALUE) {
        if (m_lastPts != AV_NOPTS_VALUE) {
            const qint64 step = std::llabs(packet->pts - m_lastPts);
            if (step > 0 && (m_frameIntervalUs == 0 || step < m_frameIntervalUs))
                m_frameIntervalUs = step;
        }
        m_lastPts = packet->pts;
    }
    if (m_live)
        adapt(packet, proto::nowMicros());
    if (m_pending != Pending::None && kind.idr) {
        const bool toFrame = m_pending == Pending::FrameThreads;
        m_pending = Pending::None;
        if (!reopen(toFrame, toFrame ? QThread::idealThreadCount() : 0))
            return false;
        ++m_counters.decoderSwitches;
        if (toFrame) {
            qCInfo(lcReceiver).noquote() << QStringLiteral(
                "decoding is still behind: reopened the decoder at a keyframe with %1 frame threads "
                "(%1 frames of latency)").arg(m_ctx->thread_count);
        } else {
            setSkipping(false);
            m_returnedUs = proto::nowMicros();
            qCInfo(lcReceiver).noquote() << QStringLiteral(
                "decoding keeps up: back to low delay (slice threads, no frames skipped) at a keyframe");
        }
        publishState();
    }

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
    } else if (m_skipping && kind.nonReference) {
        // skip_frame dropped it unseen (h264_slice.c): its only count.
        ++m_counters.skippedByDecoder;
        if (m_stats)
            m_stats->onSkippedByDecoder(statsId(packet));
    }
    return receiveFrames();
}

void Decoder::adapt(const AVPacket *packet, qint64 nowUs)
{
    const qint64 arrival = arrivalUs(packet);
    const qint64 waited = m_counters.syncWaitUs.load() - std::exchange(m_syncWaitSeenUs, m_counters.syncWaitUs.load());
    if (arrival < 0)
        return;
    const qint64 threshold = std::max(m_policy.minBehindUs, m_policy.behindFrames * m_frameIntervalUs);
    // A frame that waited for the sound held the units behind it back on
    // purpose: no lag of the decoder's.
    const bool behind = nowUs - arrival > threshold && waited < 1000;
    if (behind) {
        m_keptUpSinceUs = -1;
        if (m_behindSinceUs < 0)
            m_behindSinceUs = nowUs;
    } else {
        m_behindSinceUs = -1;
        if (m_keptUpSinceUs < 0)
            m_keptUpSinceUs = nowUs;
    }

    auto relapse = [&] {
        // Behind again soon after a return: wait longer before the next.
        if (m_returnedUs >= 0 && nowUs - m_returnedUs < 2 * m_recoverUs)
            m_recoverUs = std::min(2 * m_recoverUs, m_policy.maxRecoverUs);
        else if (m_returnedUs >= 0)
            m_recoverUs = m_policy.recoverUs;
        m_returnedUs = -1;
    };
    if (behind) {
        const qint64 behindFor = nowUs - m_behindSinceUs;
        if (m_pending == Pending::LowDelay) {
            m_pending = Pending::None; // not kept up after all: the threads stay
            qCInfo(lcReceiver).noquote() << "decoding is behind again: the frame threads stay";
        }
        if (m_maySkip && !m_skipping && behindFor >= m_policy.skipAfterUs) {
            relapse();
            setSkipping(true);
            ++m_counters.decoderSwitches;
            qCInfo(lcReceiver).noquote() << QStringLiteral(
                "decoding is %1 ms behind real time: skipping non-reference frames").arg((nowUs - arrival) / 1000);
            publishState();
        }
        if (!m_frameThreads && m_pending == Pending::None && QThread::idealThreadCount() > 1 // else nothing to gain
            && behindFor >= m_policy.skipAfterUs + m_policy.threadsAfterUs) {
            if (!m_maySkip)
                relapse();
            m_pending = Pending::FrameThreads;
            qCInfo(lcReceiver).noquote() << QStringLiteral(
                "decoding is %1 ms behind real time: frame threads from the next keyframe").arg((nowUs - arrival) / 1000);
        }
    } else if (nowUs - m_keptUpSinceUs >= m_recoverUs) {
        if (m_pending == Pending::FrameThreads) {
            m_pending = Pending::None; // caught up before a keyframe came
            qCInfo(lcReceiver).noquote() << "decoding caught up before a keyframe: no frame threads";
        }
        if (m_frameThreads && m_pending == Pending::None) {
            m_pending = Pending::LowDelay;
            qCInfo(lcReceiver).noquote() << QStringLiteral(
                "decoding kept up for %1 s: low delay again from the next keyframe").arg(m_recoverUs / 1e6);
        } else if (!m_frameThreads && m_skipping) {
            setSkipping(false);
            m_returnedUs = nowUs;
            ++m_counters.decoderSwitches;
            qCInfo(lcReceiver).noquote() << QStringLiteral(
                "decoding kept up for %1 s: no frames skipped any more").arg(m_recoverUs / 1e6);
            publishState();
        }
    }
}

void Decoder::setSkipping(bool on)
{
    m_skipping = on;
    m_ctx->skip_frame = on ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
}

bool Decoder::reopen(bool frameThreads, int threads)
{
    // Every frame still in the old decoder is passed on first.
    avcodec_send_packet(m_ctx.get(), nullptr);
    if (!receiveFrames())
        return false;
    // What the old decoder knew of the reorder depth holds for the same
    // stream. It must be known at open: frame threads copy the context
    // then, and never read has_b_frames from it again.
    m_par->video_delay = m_ctx->has_b_frames;
    QString error;
    CodecContextPtr ctx = openDecoder(m_par.get(), Demuxer::kTimeBase,
                                      frameThreads ? DecoderThreads::Frame : DecoderThreads::Slice, threads, &error);
    if (!ctx) {
        // The old one goes on, restarted: the next packet is an IDR (or the first).
        qCWarning(lcReceiver).noquote() << "cannot reopen the decoder, keeping the old one:" << error;
        avcodec_flush_buffers(m_ctx.get());
        return true;
    }
    ctx->skip_frame = m_ctx->skip_frame;
    m_ctx = std::move(ctx);
    m_frameThreads = frameThreads;
    return true;
}

void Decoder::publishState()
{
    if (m_stats)
        m_stats->setDecoderState({m_frameThreads, m_ctx->thread_count, m_skipping, 0, m_counters.decoderSwitches});
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
