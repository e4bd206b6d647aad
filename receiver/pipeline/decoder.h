// Decoder: H.264 packets in, decoded frames out to every FrameSink.
//
// Slice threading only: frame threading would hold back a frame per thread,
// which a live picture cannot afford. Corrupt data is counted, not fatal:
// the decoder conceals it and recovers at the next keyframe.
//
// Decode-only units (DECODE_ONLY: before the source's edit list starts) come
// with AV_PKT_FLAG_DISCARD, and libavcodec drops their pictures itself, as
// it does for `ffmpeg -i` (decode.c: a video frame with
// AV_FRAME_FLAG_DISCARD is never output), so the references are there and
// the frame list is ffmpeg's. They are counted as decoded, never as shown.
//
// Reorder depth: an SPS without bitstream restriction lets the decoder
// guess 0 frames of B-frame delay, so the first frame that comes out of
// order is dropped or misplaced. The sender's depth (STREAM_INFO, from the
// container) goes into has_b_frames before the first packet; the decoder
// reads it live (h264_select_output_frame), so it need not be known at open.
#pragma once

#include "ffmpeg_raii.h"
#include "sinks.h"
#include "stream_stats.h"

#include <atomic>
#include <memory>
#include <vector>

namespace h264link {

class Decoder : public PacketSink {
public:
    // `stats` may be null.
    static std::unique_ptr<Decoder> open(const AVCodecParameters *codecpar, PipelineCounters &counters,
                                         StreamStats *stats, QString *error);
    // Before the first packet: frames to hold back for B-frames (0: as the SPS says).
    // `depth` is read at the first packet, so it may be set after open().
    void setReorderDepth(const std::atomic<int> *depth) { m_reorderDepth = depth; }

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
    const std::atomic<int> *m_reorderDepth = nullptr;
    bool m_started = false;
};

} // namespace h264link
