#include "remux/annexb_muxer.h"

#include "protocol.h"

namespace h264link {

std::unique_ptr<AnnexBMuxer> AnnexBMuxer::create(const AVCodecParameters *codecpar,
                                                 AVRational timeBase, FramedMediaDevice *out,
                                                 QString *error)
{
    std::unique_ptr<AnnexBMuxer> muxer(new AnnexBMuxer);
    muxer->m_out = out;
    muxer->m_inTimeBase = timeBase;
    muxer->m_bridge = AvioBridge::create(out, AvioBridge::Direction::Write, error);
    if (!muxer->m_bridge)
        return nullptr;
    muxer->m_bridge->setTraceContext(trace::Context::SenderVideoOutput);

    AVFormatContext *raw = nullptr;
    int ret = avformat_alloc_output_context2(&raw, nullptr, "h264", nullptr);
    muxer->m_output.reset(raw);
    if (ret < 0) {
        *error = "cannot create the h264 muxer: " + averrorText(ret);
        return nullptr;
    }
    AVFormatContext *oc = muxer->m_output.get();
    oc->pb = muxer->m_bridge->context();
    oc->flags |= AVFMT_FLAG_CUSTOM_IO; // the pb is ours: avformat must not close it
    AVStream *st = avformat_new_stream(oc, nullptr);
    if (!st || (ret = avcodec_parameters_copy(st->codecpar, codecpar)) < 0) {
        *error = "cannot set up the h264 muxer stream: " + averrorText(st ? ret : AVERROR(ENOMEM));
        return nullptr;
    }
    st->codecpar->codec_tag = 0; // "avc1" from mp4 means nothing to a raw stream
    st->time_base = timeBase;
    {
        trace::CallerScope scope("avformat_write_header");
        ret = avformat_write_header(oc, nullptr);
    }
    if (ret < 0) {
        *error = "cannot start the h264 muxer: " + averrorText(ret);
        return nullptr;
    }
    return muxer;
}

AnnexBMuxer::Result AnnexBMuxer::writeAccessUnit(AVPacket *packet, QString *error)
{
    AVStream *st = m_output->streams[0];
    const qint64 ptsUs = packet->pts == AV_NOPTS_VALUE
        ? proto::kNoPts
        : av_rescale_q(packet->pts, m_inTimeBase, AV_TIME_BASE_Q);
    packet->stream_index = 0;
    av_packet_rescale_ts(packet, m_inTimeBase, st->time_base);

    // A packet the demuxer marks to discard (before an mp4/mov edit list's
    // start) is still sent, since later frames refer to it, flagged DECODE_ONLY.
    m_out->beginAccessUnit(ptsUs, packet->flags & AV_PKT_FLAG_KEY, packet->flags & AV_PKT_FLAG_DISCARD);
    m_bridge->markSteady();
    int ret = 0;
    {
        trace::CallerScope scope("av_write_frame");
        ret = av_write_frame(m_output.get(), packet);
    }
    if (ret < 0) {
        *error = "the h264 muxer rejected it: " + averrorDetail(ret);
        m_out->endAccessUnit();
        return Result::BadPacket;
    }
    {
        // The raw muxer only fills the buffer; write_packet runs here.
        trace::CallerScope scope("avio_flush after av_write_frame");
        avio_flush(m_output->pb); // push this access unit through write_packet now
    }
    if (m_out->endAccessUnit())
        return Result::Ok;
    *error = "sending failed: " + m_out->errorString();
    return Result::SendFailed;
}

bool AnnexBMuxer::finish(QString *error)
{
    trace::CallerScope scope("av_write_trailer");
    const int ret = av_write_trailer(m_output.get());
    if (ret < 0) {
        *error = "cannot finish the h264 stream: " + averrorText(ret);
        return false;
    }
    return true;
}

} // namespace h264link
