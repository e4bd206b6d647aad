#include "audio_resampler.h"

extern "C" {
#include <libswresample/swresample.h>
}

namespace h264link {

AudioResampler::AudioResampler(AVSampleFormat outFormat, int outRate, int outChannels)
    : m_outFormat(outFormat), m_wantedRate(outRate), m_wantedChannels(outChannels)
{
}

AudioResampler::~AudioResampler()
{
    swr_free(&m_swr);
    av_channel_layout_uninit(&m_outLayout);
    av_channel_layout_uninit(&m_inLayout);
}

bool AudioResampler::configure(const AVFrame *frame, QString *error)
{
    if (m_swr && frame->format == m_inFormat && frame->sample_rate == m_inRate
        && !av_channel_layout_compare(&frame->ch_layout, &m_inLayout))
        return true;
    swr_free(&m_swr);
    av_channel_layout_uninit(&m_outLayout);
    av_channel_layout_uninit(&m_inLayout);
    if (m_wantedChannels > 0)
        av_channel_layout_default(&m_outLayout, m_wantedChannels);
    else
        av_channel_layout_copy(&m_outLayout, &frame->ch_layout);
    m_outRate = m_wantedRate > 0 ? m_wantedRate : frame->sample_rate;
    int ret = swr_alloc_set_opts2(&m_swr, &m_outLayout, m_outFormat, m_outRate,
                                  const_cast<AVChannelLayout *>(&frame->ch_layout), // FFmpeg 5.1 is not const-correct here
                                  AVSampleFormat(frame->format), frame->sample_rate, 0, nullptr);
    if (ret >= 0)
        ret = swr_init(m_swr);
    if (ret < 0) {
        swr_free(&m_swr);
        *error = QStringLiteral("cannot convert %1 Hz %2 audio to %3 Hz %4: %5").arg(frame->sample_rate)
                     .arg(av_get_sample_fmt_name(AVSampleFormat(frame->format))).arg(m_outRate)
                     .arg(av_get_sample_fmt_name(m_outFormat)).arg(averrorText(ret));
        return false;
    }
    m_inFormat = frame->format;
    m_inRate = frame->sample_rate;
    av_channel_layout_copy(&m_inLayout, &frame->ch_layout);
    return true;
}

bool AudioResampler::convert(const AVFrame *frame, QByteArray *out, QString *error)
{
    if (!configure(frame, error))
        return false;
    const int capacity = swr_get_out_samples(m_swr, frame->nb_samples);
    if (capacity < 0) {
        *error = "cannot size the converted audio: " + averrorText(capacity);
        return false;
    }
    const qsizetype start = out->size();
    out->resize(start + qsizetype(capacity) * bytesPerSample());
    auto *dst = reinterpret_cast<uint8_t *>(out->data() + start);
    const int converted = swr_convert(m_swr, &dst, capacity, const_cast<const uint8_t **>(frame->extended_data),
                                      frame->nb_samples);
    if (converted < 0) {
        out->resize(start);
        *error = "cannot convert the audio: " + averrorText(converted);
        return false;
    }
    out->resize(start + qsizetype(converted) * bytesPerSample());
    return true;
}

bool AudioResampler::compensate(int delta, int distance)
{
    return m_swr && swr_set_compensation(m_swr, delta, distance) >= 0;
}

} // namespace h264link
