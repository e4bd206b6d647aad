#include "remux/video_stage.h"

namespace h264link {

QString VideoStage::describeSource(const AVCodecParameters *par)
{
    return QStringLiteral("%1 %2x%3").arg(QString::fromUtf8(avcodec_get_name(par->codec_id)))
        .arg(par->width).arg(par->height);
}

std::unique_ptr<VideoStage> VideoStage::create(const AVStream *source, const VideoSettings &settings,
                                               FramedMediaDevice *out, QString *error)
{
    std::unique_ptr<VideoStage> stage(new VideoStage);
    const AVCodecParameters *par = source->codecpar;
    stage->m_width = par->width;
    stage->m_height = par->height;
    VideoSettings wanted = settings;
    if (wanted.frameRate.num <= 0 || wanted.frameRate.den <= 0)
        wanted.frameRate = source->avg_frame_rate.num > 0 && source->avg_frame_rate.den > 0 ? source->avg_frame_rate
                                                                                            : source->r_frame_rate;
    const bool tooBig = settings.maxSize > 0 && qMax(par->width, par->height) > settings.maxSize;
    const QString what = describeSource(par);
    if (par->codec_id == AV_CODEC_ID_H264 && !settings.forceTranscode && !tooBig) {
        if (out && !(stage->m_muxer = AnnexBMuxer::create(par, source->time_base, out, error)))
            return nullptr;
        stage->m_description = what + QStringLiteral(", passed through");
        return stage;
    }
    stage->m_transcoder = VideoTranscoder::create(par, source->time_base, wanted, out, error);
    if (!stage->m_transcoder)
        return nullptr;
    stage->m_description = QStringLiteral("%1 → %2").arg(what, stage->m_transcoder->outputDescription());
    if (par->codec_id == AV_CODEC_ID_H264)
        stage->m_description += tooBig ? QStringLiteral(" (--max-size %1)").arg(settings.maxSize)
                                       : QStringLiteral(" (--transcode)");
    return stage;
}

VideoStage::Result VideoStage::write(AVPacket *packet, const Admit &admit, QString *error)
{
    if (m_transcoder)
        return m_transcoder->write(packet, admit, error);
    if (!admit(packet->flags & AV_PKT_FLAG_KEY)) {
        av_packet_unref(packet);
        return Result::Ok;
    }
    const Result r = m_muxer->writeAccessUnit(packet, error);
    av_packet_unref(packet);
    return r;
}

bool VideoStage::finish(QString *error)
{
    if (m_muxer)
        return m_muxer->finish(error);
    // The last frames are the tail of the file: sent whatever the queue.
    return m_transcoder->finish([](bool) { return true; }, error) == Result::Ok;
}

} // namespace h264link
