#include "audio_decoder.h"

#include "logging.h"

extern "C" {
#include <libavutil/intreadwrite.h>
#include <libavutil/samplefmt.h>
}

namespace h264link {

std::unique_ptr<AudioDecoder> AudioDecoder::open(const AVCodecParameters *codecpar, AudioCounters &counters,
                                                 QString *error)
{
    std::unique_ptr<AudioDecoder> d(new AudioDecoder(counters));
    d->m_codecpar.reset(avcodec_parameters_alloc());
    d->m_frame = makeFrame();
    if (!d->m_codecpar || !d->m_frame || avcodec_parameters_copy(d->m_codecpar.get(), codecpar) < 0) {
        *error = QStringLiteral("out of memory");
        return nullptr;
    }
    if (!(d->m_ctx = openContext(codecpar, error)))
        return nullptr;
    return d;
}

CodecContextPtr AudioDecoder::openContext(const AVCodecParameters *codecpar, QString *error)
{
    // The packet time base: the skip moves pts in it.
    return openDecoder(codecpar, AudioDemuxer::kTimeBase, false, error);
}

// The frames the old decoder still holds go out first.
bool AudioDecoder::restart()
{
    avcodec_send_packet(m_ctx.get(), nullptr);
    if (!receiveFrames())
        return false;
    QString error;
    CodecContextPtr fresh = openContext(m_codecpar.get(), &error);
    if (!fresh) {
        m_lastError = error;
        return false;
    }
    m_ctx = std::move(fresh);
    return true;
}

bool AudioDecoder::push(AVPacket *packet)
{
    if ((packet->flags & kPacketDiscontinuity) && m_counters.frames > 0 && !restart())
        return false;
    const int ret = avcodec_send_packet(m_ctx.get(), packet);
    if (ret < 0 && ret != AVERROR(EAGAIN)) {
        ++m_counters.decodeErrors;
        m_lastError = averrorText(ret);
        qCDebug(lcReceiver) << "audio decode error:" << m_lastError;
        if (!conceal(packet))
            return false;
    }
    return receiveFrames();
}

void AudioDecoder::flush()
{
    avcodec_send_packet(m_ctx.get(), nullptr);
    receiveFrames();
}

bool AudioDecoder::receiveFrames()
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
        m_lastFrameSamples = m_frame->nb_samples;
        m_lastFormat = m_frame->format;
        m_lastRate = m_frame->sample_rate;
        av_channel_layout_uninit(&m_lastLayout);
        av_channel_layout_copy(&m_lastLayout, &m_frame->ch_layout);
        const bool more = deliver(m_frame.get());
        av_frame_unref(m_frame.get());
        if (!more)
            return false;
    }
}

// Silence of one frame's length, in the last good frame's format: the sinks
// see a frame as any other, so --pcm, the clock and the device stay in step
// with the sender's timeline. Before any good frame, the format is the
// decoder's (known once it has decoded anything, even a trimmed priming
// frame) and the length its frame size, or FFmpeg's from the packet.
bool AudioDecoder::conceal(const AVPacket *packet)
{
    const int frameSize = m_ctx->frame_size > 0 ? m_ctx->frame_size
                                                : av_get_audio_frame_duration2(m_codecpar.get(), packet->size);
    if (m_lastFrameSamples <= 0 && frameSize > 0 && m_ctx->sample_rate > 0 && m_ctx->ch_layout.nb_channels > 0) {
        m_lastFrameSamples = frameSize;
        m_lastFormat = m_ctx->sample_fmt;
        m_lastRate = m_ctx->sample_rate;
        av_channel_layout_uninit(&m_lastLayout);
        av_channel_layout_copy(&m_lastLayout, &m_ctx->ch_layout);
    }
    // The packet's own trim applies to its silence too (a priming frame is all trimmed).
    int samples = m_lastFrameSamples;
    qint64 skipStart = 0;
    size_t sideSize = 0;
    if (const uint8_t *skip = av_packet_get_side_data(packet, AV_PKT_DATA_SKIP_SAMPLES, &sideSize);
        skip && sideSize >= 8) {
        skipStart = std::min<qint64>(samples, AV_RL32(skip));
        samples -= int(std::min<qint64>(samples, skipStart + AV_RL32(skip + 4)));
    }
    if (samples <= 0 || m_lastRate <= 0)
        return true;
    FramePtr silence = makeFrame();
    if (!silence)
        return true;
    silence->format = m_lastFormat;
    silence->sample_rate = m_lastRate;
    silence->nb_samples = samples;
    if (av_channel_layout_copy(&silence->ch_layout, &m_lastLayout) < 0 || av_frame_get_buffer(silence.get(), 0) < 0)
        return true;
    av_samples_set_silence(silence->extended_data, 0, silence->nb_samples, silence->ch_layout.nb_channels,
                           AVSampleFormat(silence->format));
    silence->pts = packet->pts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE
                                                 : packet->pts + skipStart * 1000000 / m_lastRate;
    m_counters.concealedSamples += quint64(silence->nb_samples);
    return deliver(silence.get());
}

bool AudioDecoder::deliver(const AVFrame *frame)
{
    ++m_counters.frames;
    bool more = true;
    for (FrameSink *sink : m_sinks)
        more = sink->push(frame) && more;
    return more;
}

} // namespace h264link
