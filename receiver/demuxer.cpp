#include "demuxer.h"

#include "annexb.h"

namespace h264link {

std::unique_ptr<Demuxer> Demuxer::open(QIODevice *input, PipelineCounters &counters, QString *error)
{
    std::unique_ptr<Demuxer> d(new Demuxer(counters));
    d->m_bridge = AvioBridge::create(input, AvioBridge::Direction::Read, error);
    if (!d->m_bridge)
        return nullptr;
    AVFormatContext *raw = avformat_alloc_context();
    if (!raw) {
        *error = QStringLiteral("out of memory");
        return nullptr;
    }
    raw->pb = d->m_bridge->context();
    const AVInputFormat *h264 = av_find_input_format("h264");
    const int ret = avformat_open_input(&raw, nullptr, h264, nullptr);
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
    for (;;) {
        const int ret = av_read_frame(m_input.get(), packet.get());
        if (ret < 0) {
            sink.flush();
            return ret == AVERROR_EOF ? 0 : ret;
        }
        if (isLoneDelimiter(packet.get())) {
            av_packet_unref(packet.get()); // the one ReceiverConnection adds after the last frame
            continue;
        }
        ++m_counters.packets;
        const bool more = sink.push(packet.get());
        av_packet_unref(packet.get());
        if (!more)
            return AVERROR_EXIT;
    }
}

} // namespace h264link
