#include "remux/audio_transcoder.h"

extern "C" {
#include <libavutil/intreadwrite.h>
#include <libavutil/opt.h>
}

namespace h264link {
namespace {

bool aacHasRate(const AVCodec *aac, int rate)
{
    for (const int *r = aac->supported_samplerates; r && *r; ++r)
        if (*r == rate)
            return true;
    return false;
}

} // namespace

std::unique_ptr<AudioTranscoder> AudioTranscoder::create(const AVCodecParameters *par, AVRational timeBase,
                                                   FramedMediaDevice *out,
                                                         QString *error)
{
    const QString codecName = QString::fromUtf8(avcodec_get_name(par->codec_id));
    std::unique_ptr<AudioTranscoder> t(new AudioTranscoder);
    t->m_inTimeBase = timeBase;

    if (!(t->m_dec = openDecoder(par, timeBase, false, error)))
        return nullptr;
    int ret = 0;
    const int inChannels = t->m_dec->ch_layout.nb_channels;
    if (inChannels <= 0 || t->m_dec->sample_rate <= 0) {
        *error = QStringLiteral("the %1 stream gives no channel count or sample rate").arg(codecName);
        return nullptr;
    }

    const AVCodec *aac = avcodec_find_encoder_by_name("aac"); // FFmpeg's own, always built in
    if (!aac) {
        *error = QStringLiteral("this FFmpeg has no aac encoder");
        return nullptr;
    }
    t->m_enc.reset(avcodec_alloc_context3(aac));
    if (!t->m_enc) {
        *error = QStringLiteral("out of memory");
        return nullptr;
    }
    AVCodecContext *enc = t->m_enc.get();
    const int outChannels = inChannels >= 2 ? 2 : 1;
    av_channel_layout_default(&enc->ch_layout, outChannels);
    enc->sample_rate = aacHasRate(aac, t->m_dec->sample_rate) ? t->m_dec->sample_rate : kFallbackRate;
    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc->bit_rate = outChannels == 2 ? kStereoBitRate : kMonoBitRate;
    enc->profile = FF_PROFILE_AAC_LOW;
    enc->time_base = AVRational{1, enc->sample_rate};
    // The "fast" coder rather than the default "twoloop": it costs a live
    // sender less CPU, and keeps the waveform far closer on tonal sound
    // (speech, music): on two sine tones at 160 kb/s, 78 dB SNR against 33.
    if ((ret = av_opt_set(enc->priv_data, "aac_coder", "fast", 0)) < 0) {
        *error = QStringLiteral("cannot choose the aac encoder's coder: %1").arg(averrorText(ret));
        return nullptr;
    }
    if ((ret = avcodec_open2(enc, aac, nullptr)) < 0) {
        *error = QStringLiteral("the aac encoder does not open: %1").arg(averrorDetail(ret));
        return nullptr;
    }
    t->m_fifo.reset(av_audio_fifo_alloc(enc->sample_fmt, outChannels, enc->frame_size * 2));
    if (!t->m_fifo) {
        *error = QStringLiteral("out of memory");
        return nullptr;
    }
    if (!out)
        return t;
    AVCodecParameters *encoded = avcodec_parameters_alloc();
    if (!encoded || (ret = avcodec_parameters_from_context(encoded, enc)) < 0) {
        avcodec_parameters_free(&encoded);
        *error = QStringLiteral("cannot describe the aac stream: %1").arg(averrorText(encoded ? ret : AVERROR(ENOMEM)));
        return nullptr;
    }
    t->m_muxer = AudioMuxer::create(encoded, enc->time_base, out, error);
    avcodec_parameters_free(&encoded);
    if (!t->m_muxer)
        return nullptr;
    return t;
}

QString AudioTranscoder::outputDescription() const
{
    return QStringLiteral("AAC %1 %2 kb/s").arg(channels() == 2 ? "stereo" : "mono").arg(bitRate() / 1000);
}

AudioMuxer::Result AudioTranscoder::write(const AVPacket *packet, quint16 flags, QString *error)
{
    m_flags |= flags;
    if (m_firstPacketPts == AV_NOPTS_VALUE) // in case the decoder does not pass it on
        m_firstPacketPts = packet->pts;
    const int ret = avcodec_send_packet(m_dec.get(), packet);
    if (ret < 0 && ret != AVERROR(EAGAIN)) {
        ++m_undecodable; // damaged: left out, the rest goes on
        return AudioMuxer::Result::Ok;
    }
    return decodeAvailable(error);
}

AudioMuxer::Result AudioTranscoder::decodeAvailable(QString *error)
{
    for (;;) {
        const int ret = avcodec_receive_frame(m_dec.get(), m_decoded.get());
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return AudioMuxer::Result::Ok;
        if (ret < 0) {
            ++m_undecodable;
            return AudioMuxer::Result::Ok;
        }
        const AudioMuxer::Result r = resample(m_decoded.get(), error);
        av_frame_unref(m_decoded.get());
        if (r != AudioMuxer::Result::Ok)
            return r;
    }
}

// Converts `frame` (nullptr: what the resampler still holds) into the fifo,
// then encodes every whole frame there.
AudioMuxer::Result AudioTranscoder::resample(const AVFrame *frame, QString *error)
{
    if (!m_swr) {
        if (!frame)
            return AudioMuxer::Result::Ok;
        AVChannelLayout inLayout{};
        if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
            av_channel_layout_default(&inLayout, frame->ch_layout.nb_channels);
        else
            av_channel_layout_copy(&inLayout, &frame->ch_layout);
        SwrContext *raw = nullptr;
        int ret = swr_alloc_set_opts2(&raw, &m_enc->ch_layout, m_enc->sample_fmt, m_enc->sample_rate, &inLayout,
                                      AVSampleFormat(frame->format), frame->sample_rate, 0, nullptr);
        av_channel_layout_uninit(&inLayout);
        m_swr.reset(raw);
        // A downmix must not exceed full scale: libswresample normalises its
        // matrix only for integer output, and the encoder takes floats.
        if (ret >= 0)
            ret = av_opt_set_double(m_swr.get(), "rematrix_maxval", 1.0, 0);
        if (ret >= 0)
            ret = swr_init(m_swr.get());
        if (ret < 0) {
            *error = QStringLiteral("cannot convert the decoded audio: %1").arg(averrorText(ret));
            return AudioMuxer::Result::BadPacket;
        }
        // The first frame's time, after the decoder's own trim (Opus pre-skip
        // and the like); from then on the samples count the time, so that
        // the encoder's frames stay exactly 1024 samples apart.
        const int64_t first = frame->best_effort_timestamp != AV_NOPTS_VALUE ? frame->best_effort_timestamp
                                                                             : m_firstPacketPts;
        m_nextPts = first == AV_NOPTS_VALUE ? 0 : av_rescale_q(first, m_inTimeBase, m_enc->time_base);
    }
    if (frame) {
        if (const AudioMuxer::Result r = fillGap(frame, error); r != AudioMuxer::Result::Ok)
            return r;
    }
    const int capacity = swr_get_out_samples(m_swr.get(), frame ? frame->nb_samples : 0);
    if (capacity > 0) {
        FramePtr converted = makeFrame();
        converted->format = m_enc->sample_fmt;
        converted->nb_samples = capacity;
        int ret = av_channel_layout_copy(&converted->ch_layout, &m_enc->ch_layout);
        if (ret >= 0)
            ret = av_frame_get_buffer(converted.get(), 0);
        if (ret >= 0)
            ret = swr_convert(m_swr.get(), converted->data, capacity,
                              frame ? const_cast<const uint8_t **>(frame->extended_data) : nullptr,
                              frame ? frame->nb_samples : 0);
        if (ret > 0 && av_audio_fifo_write(m_fifo.get(), reinterpret_cast<void **>(converted->data), ret) < ret)
            ret = AVERROR(ENOMEM);
        if (ret < 0) {
            *error = QStringLiteral("cannot convert the decoded audio: %1").arg(averrorText(ret));
            return AudioMuxer::Result::BadPacket;
        }
    }
    return encodeFrom(frame == nullptr, error);
}

// Samples count the time, so audio that never decoded (damaged packets
// left out) would pull everything after it earlier: where `frame` starts
// later than the samples so far reach, silence fills the gap first.
AudioMuxer::Result AudioTranscoder::fillGap(const AVFrame *frame, QString *error)
{
    if (frame->best_effort_timestamp == AV_NOPTS_VALUE)
        return AudioMuxer::Result::Ok;
    const int64_t startsAt = av_rescale_q(frame->best_effort_timestamp, m_inTimeBase, m_enc->time_base);
    const int64_t reached = m_nextPts + av_audio_fifo_size(m_fifo.get()) + swr_get_delay(m_swr.get(), m_enc->sample_rate);
    const int64_t gap = startsAt - reached;
    if (gap <= m_enc->frame_size / 2) // rounding and resampler phase, not a hole
        return AudioMuxer::Result::Ok;
    const int samples = int(qMin<int64_t>(gap, int64_t(m_enc->sample_rate) * 10)); // a bound against a wild pts
    uint8_t **silence = nullptr;
    int ret = av_samples_alloc_array_and_samples(&silence, nullptr, m_enc->ch_layout.nb_channels, samples,
                                                 m_enc->sample_fmt, 0);
    if (ret >= 0) {
        av_samples_set_silence(silence, 0, samples, m_enc->ch_layout.nb_channels, m_enc->sample_fmt);
        if (av_audio_fifo_write(m_fifo.get(), reinterpret_cast<void **>(silence), samples) < samples)
            ret = AVERROR(ENOMEM);
        av_freep(&silence[0]);
        av_freep(&silence);
    }
    if (ret < 0) {
        *error = QStringLiteral("cannot fill a gap in the audio: %1").arg(averrorText(ret));
        return AudioMuxer::Result::BadPacket;
    }
    m_silenceFilled += quint64(samples);
    return AudioMuxer::Result::Ok;
}

// Whole encoder frames from the fifo; with `flush`, the short rest too.
AudioMuxer::Result AudioTranscoder::encodeFrom(bool flush, QString *error)
{
    const int frameSize = m_enc->frame_size;
    while (av_audio_fifo_size(m_fifo.get()) >= frameSize || (flush && av_audio_fifo_size(m_fifo.get()) > 0)) {
        const int n = qMin(frameSize, av_audio_fifo_size(m_fifo.get()));
        FramePtr frame = makeFrame();
        frame->format = m_enc->sample_fmt;
        frame->nb_samples = n;
        frame->sample_rate = m_enc->sample_rate;
        int ret = av_channel_layout_copy(&frame->ch_layout, &m_enc->ch_layout);
        if (ret >= 0)
            ret = av_frame_get_buffer(frame.get(), 0);
        if (ret >= 0 && av_audio_fifo_read(m_fifo.get(), reinterpret_cast<void **>(frame->data), n) < n)
            ret = AVERROR_BUG;
        if (ret < 0) {
            *error = QStringLiteral("cannot prepare audio for the encoder: %1").arg(averrorText(ret));
            return AudioMuxer::Result::BadPacket;
        }
        frame->pts = m_nextPts;
        m_nextPts += n;
        m_samplesIn += n;
        if (const AudioMuxer::Result r = encode(frame.get(), error); r != AudioMuxer::Result::Ok)
            return r;
    }
    return AudioMuxer::Result::Ok;
}

AudioMuxer::Result AudioTranscoder::encode(const AVFrame *frame, QString *error)
{
    int ret = avcodec_send_frame(m_enc.get(), frame);
    if (ret < 0 && ret != AVERROR_EOF) {
        *error = QStringLiteral("the aac encoder failed: %1").arg(averrorDetail(ret));
        return AudioMuxer::Result::BadPacket;
    }
    for (;;) {
        ret = avcodec_receive_packet(m_enc.get(), m_encoded.get());
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return AudioMuxer::Result::Ok;
        if (ret < 0) {
            *error = QStringLiteral("the aac encoder failed: %1").arg(averrorDetail(ret));
            return AudioMuxer::Result::BadPacket;
        }
        if (const AudioMuxer::Result r = sendPending(false, error); r != AudioMuxer::Result::Ok)
            return r;
        av_packet_move_ref(m_pending.get(), m_encoded.get());
        m_hasPending = true;
    }
}

// Sends the packet held back, with its trim: the encoder's priming on the
// first, and on the `last` whatever it decodes to beyond the samples fed in.
AudioMuxer::Result AudioTranscoder::sendPending(bool last, QString *error)
{
    if (!m_hasPending)
        return AudioMuxer::Result::Ok;
    m_hasPending = false;
    const qint64 frameSize = m_enc->frame_size;
    const qint64 skip = m_firstPacket ? m_enc->initial_padding : 0;
    m_samplesOut += frameSize;
    const qint64 discard = last ? qBound<qint64>(0, m_samplesOut - m_enc->initial_padding - m_samplesIn,
                                                 frameSize - skip)
                                : 0;
    if (skip || discard) {
        uint8_t *side = av_packet_new_side_data(m_pending.get(), AV_PKT_DATA_SKIP_SAMPLES, 10);
        if (!side) {
            *error = QStringLiteral("out of memory");
            return AudioMuxer::Result::BadPacket;
        }
        AV_WL32(side, quint32(skip));
        AV_WL32(side + 4, quint32(discard));
        side[8] = side[9] = 0;
    }
    m_firstPacket = false;
    const AudioMuxer::Result r = m_muxer->writePacket(m_pending.get(), std::exchange(m_flags, 0), error);
    av_packet_unref(m_pending.get());
    return r;
}

AudioMuxer::Result AudioTranscoder::finish(QString *error)
{
    avcodec_send_packet(m_dec.get(), nullptr);
    AudioMuxer::Result r = decodeAvailable(error);
    if (r == AudioMuxer::Result::Ok)
        r = resample(nullptr, error);
    if (r == AudioMuxer::Result::Ok)
        r = encode(nullptr, error);
    if (r == AudioMuxer::Result::Ok)
        r = sendPending(true, error);
    if (r == AudioMuxer::Result::Ok && !m_muxer->finish(error))
        r = AudioMuxer::Result::SendFailed;
    return r;
}

} // namespace h264link
