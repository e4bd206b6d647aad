#include "demuxer.h"

#include "annexb.h"
#include "protocol.h"

namespace h264link {

std::unique_ptr<Demuxer> Demuxer::open(StreamInput &input, PipelineCounters &counters, QString *error)
{
    std::unique_ptr<Demuxer> d(new Demuxer(input, counters));
    d->m_bridge = AvioBridge::create(&input.bytes, error);
    if (!d->m_bridge)
        return nullptr;
    d->m_bridge->setTraceContext(trace::Context::ReceiverVideo);
    AVFormatContext *raw = avformat_alloc_context();
    if (!raw) {
        *error = QStringLiteral("out of memory");
        return nullptr;
    }
    raw->pb = d->m_bridge->context();
    const AVInputFormat *h264 = av_find_input_format("h264");
    int ret = 0;
    {
        trace::CallerScope scope("avformat_open_input");
        ret = avformat_open_input(&raw, nullptr, h264, nullptr);
    }
    d->m_input.reset(raw);
    if (ret < 0) {
        *error = "cannot start the h264 demuxer: " + averrorText(ret);
        return nullptr;
    }
    return d;
}

namespace {

bool isLoneDelimiter(const AVPacket *packet)
{
    if (packet->size > 8) // start code + 2-byte delimiter; frames are never this small
        return false;
    const QByteArray bytes = QByteArray::fromRawData(reinterpret_cast<const char *>(packet->data), packet->size);
    const auto units = annexb::split(bytes);
    return units.size() == 1 && units[0].type == annexb::AccessUnitDelimiter;
}

} // namespace

int Demuxer::run(PacketSink &sink)
{
    PacketPtr packet = makePacket();
    m_bridge->markSteady();
    for (;;) {
        int ret = 0;
        {
            trace::CallerScope scope("av_read_frame");
            ret = av_read_frame(m_input.get(), packet.get());
        }
        if (ret < 0) {
            sink.flush();
            return ret == AVERROR_EOF ? 0 : ret;
        }
        if (isLoneDelimiter(packet.get())) {
            av_packet_unref(packet.get()); // the one ReceiverConnection adds after the last frame
            continue;
        }
        ++m_counters.packets;
        const auto unit = m_source.units.take(packet->pos, packet->size);
        packet->pts = unit && unit->ptsUs != proto::kNoPts ? unit->ptsUs : AV_NOPTS_VALUE;
        packet->dts = AV_NOPTS_VALUE; // the decoder orders by the bitstream
        packet->duration = 0;
        packet->time_base = kTimeBase;
        setStatsId(packet.get(), unit ? unit->statsId : -1);
        if (!setArrivalUs(packet.get(), unit ? unit->arrivalUs : -1))
            return AVERROR(ENOMEM);
        if (unit && unit->decodeOnly)
            packet->flags |= AV_PKT_FLAG_DISCARD; // the decoder drops its picture, as ffmpeg's does
        const bool more = sink.push(packet.get());
        av_packet_unref(packet.get());
        if (!more)
            return AVERROR_EXIT;
    }
}

} // namespace h264link
