#include "remux/audio_stage.h"

extern "C" {
#include <libavutil/channel_layout.h>
}

namespace h264link {
namespace {

QString describeRate(int rate)
{
    return rate % 1000 == 0 ? QStringLiteral("%1 kHz").arg(rate / 1000)
                            : QStringLiteral("%1 kHz").arg(rate / 1000.0, 0, 'f', 1);
}

// A file without a layout (wav, raw PCM) is described, and downmixed, by
// the default layout of its channel count, as ffmpeg does.
QString describeLayout(const AVChannelLayout &layout)
{
    AVChannelLayout known{};
    if (layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&known, layout.nb_channels);
    else
        av_channel_layout_copy(&known, &layout);
    char name[64] = {};
    const int ret = av_channel_layout_describe(&known, name, sizeof name);
    av_channel_layout_uninit(&known);
    return ret > 0 ? QString::fromUtf8(name) : QStringLiteral("%1 channels").arg(layout.nb_channels);
}

} // namespace

QString AudioStage::describeSource(const AVCodecParameters *par)
{
    return QStringLiteral("%1 %2 %3").arg(QString::fromUtf8(avcodec_get_name(par->codec_id)),
                                          describeLayout(par->ch_layout), describeRate(par->sample_rate));
}

std::unique_ptr<AudioStage> AudioStage::create(const AVStream *in, FramedMediaDevice *out, QString *error)
{
    std::unique_ptr<AudioStage> stage(new AudioStage);
    stage->m_par = avcodec_parameters_alloc();
    int ret = stage->m_par ? avcodec_parameters_copy(stage->m_par, in->codecpar) : AVERROR(ENOMEM);
    if (ret < 0) {
        *error = averrorText(ret);
        return nullptr;
    }
    stage->m_timeBase = in->time_base;
    stage->m_out = out;
    const AVCodecParameters *par = in->codecpar;
    const QString source = describeSource(par);
    if (AudioMuxer::canPassThrough(par->codec_id)) {
        if (out && !(stage->m_muxer = AudioMuxer::create(par, in->time_base, out, error)))
            return nullptr;
        stage->m_description = source + QStringLiteral(", passed through");
        stage->m_info.audioCodec = AudioMuxer::wireCodec(par->codec_id);
        stage->m_info.audioSampleRate = quint32(qMax(0, par->sample_rate));
        stage->m_info.audioChannels = quint8(qBound(0, par->ch_layout.nb_channels, 255));
        stage->m_info.audioBitRate = quint32(qBound<int64_t>(0, par->bit_rate, 0xffffffff));
    } else {
        stage->m_transcoder = AudioTranscoder::create(par, in->time_base, out, error);
        if (!stage->m_transcoder)
            return nullptr;
        const AudioTranscoder &t = *stage->m_transcoder;
        stage->m_description = QStringLiteral("%1 → %2").arg(source, t.outputDescription());
        stage->m_info.audioCodec = proto::kCodecAacAdts;
        stage->m_info.audioSampleRate = quint32(t.sampleRate());
        stage->m_info.audioChannels = quint8(t.channels());
        stage->m_info.audioBitRate = quint32(t.bitRate());
    }
    stage->m_info.audioDescription = stage->m_description;
    return stage;
}

AudioStage::~AudioStage()
{
    avcodec_parameters_free(&m_par);
}

void AudioStage::describe(proto::StreamInfo *info) const
{
    info->audioCodec = m_info.audioCodec;
    info->audioSampleRate = m_info.audioSampleRate;
    info->audioChannels = m_info.audioChannels;
    info->audioBitRate = m_info.audioBitRate;
    info->audioDescription = m_info.audioDescription;
}

quint64 AudioStage::undecodablePackets() const
{
    return m_undecodableBefore + (m_transcoder ? m_transcoder->undecodablePackets() : 0);
}

AudioMuxer::Result AudioStage::write(AVPacket *packet, bool discontinuity, QString *error)
{
    const quint16 flags = discontinuity ? kDiscontinuity : 0;
    if (m_muxer)
        return m_muxer->writePacket(packet, flags, error);
    if (discontinuity && m_started) { // drain, then a fresh encoder whose priming the trim describes
        if (const AudioMuxer::Result r = m_transcoder->finish(error); r != AudioMuxer::Result::Ok)
            return r;
        m_undecodableBefore += m_transcoder->undecodablePackets();
        m_transcoder = AudioTranscoder::create(m_par, m_timeBase, m_out, error);
        if (!m_transcoder)
            return AudioMuxer::Result::BadPacket;
    }
    m_started = true;
    return m_transcoder->write(packet, flags, error);
}

bool AudioStage::finish(QString *error)
{
    if (m_muxer)
        return m_muxer->finish(error);
    return m_transcoder->finish(error) == AudioMuxer::Result::Ok;
}

} // namespace h264link
