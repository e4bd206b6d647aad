#include "audio_demuxer.h"

#include "protocol.h"

extern "C" {
#include <libavutil/intreadwrite.h>
}

namespace h264link {

std::unique_ptr<AudioDemuxer> AudioDemuxer::open(AudioInput &input, quint32 codec, AudioCounters &counters,
                                                 QString *error)
{
    const char *name = codec == proto::kCodecMp3 ? "mp3" : "aac";
    std::unique_ptr<AudioDemuxer> d(new AudioDemuxer(input, counters));
    d->m_bridge = AvioBridge::create(&input.bytes, error, 4096); // small: frames are a few hundred bytes
    if (!d->m_bridge)
        return nullptr;
    d->m_bridge->setTraceContext(trace::Context::ReceiverAudio);
    AVFormatContext *raw = avformat_alloc_context();
    if (!raw) {
        *error = QStringLiteral("out of memory");
        return nullptr;
    }
    raw->pb = d->m_bridge->context();
    raw->flags |= AVFMT_FLAG_NOBUFFER;
    int ret = 0;
    {
        trace::CallerScope scope("avformat_open_input");
        ret = avformat_open_input(&raw, nullptr, av_find_input_format(name), nullptr);
    }
    d->m_format.reset(raw);
    if (ret < 0) {
        *error = QStringLiteral("cannot start the %1 demuxer: %2").arg(QLatin1String(name), averrorText(ret));
        return nullptr;
    }
    if (d->m_format->nb_streams < 1) {
        *error = QStringLiteral("the %1 demuxer found no audio stream").arg(QLatin1String(name));
        return nullptr;
    }
    return d;
}

int AudioDemuxer::run(PacketSink &sink)
{
    PacketPtr packet = makePacket();
    if (!packet)
        return AVERROR(ENOMEM);
    m_bridge->markSteady();
    for (;;) {
        int ret = 0;
        {
            trace::CallerScope scope("av_read_frame");
            ret = av_read_frame(m_format.get(), packet.get());
        }
        if (ret < 0) {
            sink.flush();
            return ret == AVERROR_EOF ? 0 : ret;
        }
        ++m_counters.packets;
        const auto mark = m_input.packets.take(packet->pos, packet->size);
        packet->pts = mark && mark->ptsUs != proto::kNoPts ? mark->ptsUs : AV_NOPTS_VALUE;
        packet->dts = packet->pts;
        packet->duration = 0;
        packet->time_base = kTimeBase;
        // The demuxer's own trim (none for ADTS and a Xing-less MP3 stream)
        // gives way to the sender's, which is the source file's.
        av_packet_free_side_data(packet.get());
        if (mark && (mark->skipStart || mark->discardEnd)) {
            uint8_t *side = av_packet_new_side_data(packet.get(), AV_PKT_DATA_SKIP_SAMPLES, 10);
            if (!side) {
                av_packet_unref(packet.get());
                return AVERROR(ENOMEM);
            }
            AV_WL32(side, mark->skipStart);
            AV_WL32(side + 4, mark->discardEnd);
            side[8] = side[9] = 0;
        }
        if (mark && mark->discontinuity)
            packet->flags |= kPacketDiscontinuity;
        if (mark && mark->decodeOnly) // libavcodec decodes it and drops its samples
            packet->flags |= AV_PKT_FLAG_DISCARD;
        const bool more = sink.push(packet.get());
        av_packet_unref(packet.get());
        if (!more)
            return AVERROR_EXIT;
    }
}

} // namespace h264link
