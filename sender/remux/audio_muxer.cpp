#include "remux/audio_muxer.h"

#include "protocol.h"

extern "C" {
#include <libavutil/intreadwrite.h>
#include <libavutil/opt.h>
}

namespace h264link {

bool AudioMuxer::canPassThrough(AVCodecID codec)
{
    return codec == AV_CODEC_ID_AAC || codec == AV_CODEC_ID_MP3;
}

quint32 AudioMuxer::wireCodec(AVCodecID codec)
{
    return codec == AV_CODEC_ID_MP3 ? proto::kCodecMp3 : proto::kCodecAacAdts;
}

std::unique_ptr<AudioMuxer> AudioMuxer::create(const AVCodecParameters *codecpar, AVRational timeBase,
                                               FramedMediaDevice *out, QString *error)
{
    const char *format = codecpar->codec_id == AV_CODEC_ID_MP3 ? "mp3" : "adts";
    std::unique_ptr<AudioMuxer> muxer(new AudioMuxer);
    muxer->m_out = out;
    muxer->m_inTimeBase = timeBase;
    muxer->m_bridge = AvioBridge::create(out, AvioBridge::Direction::Write, error);
    if (!muxer->m_bridge)
        return nullptr;
    muxer->m_bridge->setTraceContext(trace::Context::SenderAudioOutput);

    AVFormatContext *raw = nullptr;
    int ret = avformat_alloc_output_context2(&raw, nullptr, format, nullptr);
    muxer->m_output.reset(raw);
    if (ret < 0) {
        *error = QStringLiteral("cannot create the %1 muxer: %2").arg(format, averrorText(ret));
        return nullptr;
    }
    AVFormatContext *oc = muxer->m_output.get();
    oc->pb = muxer->m_bridge->context();
    oc->flags |= AVFMT_FLAG_CUSTOM_IO; // the pb is ours: avformat must not close it
    AVStream *st = avformat_new_stream(oc, nullptr);
    if (!st || (ret = avcodec_parameters_copy(st->codecpar, codecpar)) < 0) {
        *error = QStringLiteral("cannot set up the %1 muxer stream: %2")
                     .arg(format, averrorText(st ? ret : AVERROR(ENOMEM)));
        return nullptr;
    }
    st->codecpar->codec_tag = 0; // "mp4a" from mp4 means nothing to a raw stream
    st->time_base = timeBase;
    AVDictionary *options = nullptr;
    if (codecpar->codec_id == AV_CODEC_ID_MP3) {
        // Bytes before the first frame would belong to no AUDIO message.
        av_dict_set(&options, "id3v2_version", "0", 0);
        av_dict_set(&options, "write_xing", "0", 0);
    }
    trace::CallerScope scope("avformat_write_header");
    ret = avformat_write_header(oc, &options);
    av_dict_free(&options);
    if (ret < 0) {
        *error = QStringLiteral("cannot start the %1 muxer: %2").arg(format, averrorDetail(ret));
        return nullptr;
    }
    avio_flush(oc->pb); // still the header's bytes
    return muxer;
}

AudioMuxer::Result AudioMuxer::writePacket(AVPacket *packet, quint16 flags, QString *error)
{
    AVStream *st = m_output->streams[0];
    const qint64 ptsUs = packet->pts == AV_NOPTS_VALUE
        ? proto::kNoPts
        : av_rescale_q(packet->pts, m_inTimeBase, AV_TIME_BASE_Q);
    quint32 skipStart = 0, discardEnd = 0;
    size_t sideSize = 0;
    if (const uint8_t *side = av_packet_get_side_data(packet, AV_PKT_DATA_SKIP_SAMPLES, &sideSize);
        side && sideSize >= 8) {
        skipStart = AV_RL32(side);
        discardEnd = AV_RL32(side + 4);
    }
    packet->stream_index = 0;
    av_packet_rescale_ts(packet, m_inTimeBase, st->time_base);

    // Before an edit list's start (AV_PKT_FLAG_DISCARD): the receiver
    // decodes it, for the frames after it, and drops what it gives, as
    // `ffmpeg -i FILE` does.
    if (packet->flags & AV_PKT_FLAG_DISCARD)
        flags |= kDecodeOnly;
    m_out->beginAudioPacket(ptsUs, skipStart, discardEnd, flags);
    m_bridge->markSteady();
    int ret = 0;
    {
        trace::CallerScope scope("av_write_frame");
        ret = av_write_frame(m_output.get(), packet);
    }
    if (ret < 0) {
        *error = QStringLiteral("the %1 muxer rejected it: %2")
                     .arg(m_output->oformat->name, averrorDetail(ret));
        m_out->endAudioPacket();
        return Result::BadPacket;
    }
    {
        trace::CallerScope scope("avio_flush after av_write_frame");
        avio_flush(m_output->pb); // push this packet through write_packet now
    }
    if (m_out->endAudioPacket())
        return Result::Ok;
    *error = "sending failed: " + m_out->errorString();
    return Result::SendFailed;
}

bool AudioMuxer::finish(QString *error)
{
    m_out->beginAudioPacket(proto::kNoPts, 0, 0, 0); // a trailer would be stream bytes too
    trace::CallerScope scope("av_write_trailer");
    const int ret = av_write_trailer(m_output.get());
    avio_flush(m_output->pb); // still the trailer's bytes
    const bool sent = m_out->endAudioPacket();
    if (ret < 0) {
        *error = QStringLiteral("cannot finish the %1 stream: %2").arg(m_output->oformat->name, averrorText(ret));
        return false;
    }
    if (!sent)
        *error = "sending failed: " + m_out->errorString();
    return sent;
}

} // namespace h264link
