// Decoder: H.264 packets in, decoded frames out to every FrameSink.
//
// Slice threading only: frame threading would hold back a frame per thread,
// which a live picture cannot afford. Corrupt data is counted, not fatal:
// the decoder conceals it and recovers at the next keyframe.
#pragma once

#include "ffmpeg_raii.h"
#include "sinks.h"
#include "stream_stats.h"

#include <memory>
#include <vector>

namespace h264link {

class Decoder : public PacketSink {
public:
    // `stats` may be null.
    static std::unique_ptr<Decoder> open(const AVCodecParameters *codecpar, PipelineCounters &counters,
                                         StreamStats *stats, QString *error);

    void addSink(FrameSink *sink) { m_sinks.push_back(sink); }
    bool push(AVPacket *packet) override;
    void flush() override;

    QString lastError() const { return m_lastError; }

private:
    Decoder(PipelineCounters &counters, StreamStats *stats) : m_counters(counters), m_stats(stats) {}
    bool receiveFrames();

    CodecContextPtr m_ctx;
    FramePtr m_frame;
    std::vector<FrameSink *> m_sinks;
    PipelineCounters &m_counters;
    StreamStats *m_stats;
    QString m_lastError;
};

} // namespace h264link
