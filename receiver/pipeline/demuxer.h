// Demuxer: the receiver's read_packet stage.
//
//   ByteQueue --AvioBridge (read_packet)--> libavformat raw "h264" demuxer --> packets
//
// The raw demuxer's parser splits the Annex B byte stream at start codes into
// access units. No avformat_find_stream_info(): the stream is H.264 by
// contract, so there is nothing to probe and no reason to wait.
//
// Timestamps: the raw demuxer invents its own (a guessed frame rate). Each
// packet gets its access unit's real pts from the sender's MEDIA message
// instead, in microseconds (kTimeBase), its statistics record id and its
// arrival time (for the Decoder's backlog), all looked up by the packet's
// byte offset in the StreamInput's index.
#pragma once

#include "avio_bridge.h"
#include "ffmpeg_raii.h"
#include "sinks.h"
#include "stream_input.h"

#include <memory>

namespace h264link {

class Demuxer {
public:
    static constexpr AVRational kTimeBase{1, 1000000}; // of every packet's pts: MEDIA's pts_us

    static std::unique_ptr<Demuxer> open(StreamInput &input, PipelineCounters &counters, QString *error);

    const AVCodecParameters *codecpar() const { return m_input->streams[0]->codecpar; }
    // Reads until end of stream, the queue is cancelled, or a sink says stop. Returns 0 at
    // a clean end (AVERROR_EOF), else the error.
    int run(PacketSink &sink);
    // Why the input failed, in its own words, when run() returned AVERROR(EIO).
    QString readError() const { return m_bridge->lastDeviceError(); }
private:
    Demuxer(StreamInput &source, PipelineCounters &counters) : m_source(source), m_counters(counters) {}

    StreamInput &m_source;
    std::unique_ptr<AvioBridge> m_bridge; // outlives m_input
    InputFormatPtr m_input;
    PipelineCounters &m_counters;
};

} // namespace h264link
