// Demuxer: the receiver's read_packet stage.
//
//   BytePipe --AvioBridge (read_packet)--> libavformat raw "h264" demuxer --> packets
//
// The raw demuxer's parser splits the Annex B byte stream at start codes into
// access units. No avformat_find_stream_info(): the stream is H.264 by
// contract, so there is nothing to probe and no reason to wait.
#pragma once

#include "avio_bridge.h"
#include "ffmpeg_raii.h"
#include "sinks.h"

#include <QIODevice>
#include <memory>

namespace h264link {

class Demuxer {
public:
    static std::unique_ptr<Demuxer> open(QIODevice *input, PipelineCounters &counters, QString *error);

    const AVCodecParameters *codecpar() const { return m_input->streams[0]->codecpar; }
    // Reads until end of stream, cancel(), or a sink says stop. Returns 0 at
    // a clean end (AVERROR_EOF), else the error.
    int run(PacketSink &sink);
    void cancel() { m_bridge->cancel(); } // any thread
private:
    explicit Demuxer(PipelineCounters &counters) : m_counters(counters) {}

    std::unique_ptr<AvioBridge> m_bridge; // outlives m_input
    InputFormatPtr m_input;
    PipelineCounters &m_counters;
};

} // namespace h264link
