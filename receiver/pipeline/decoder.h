// Decoder: H.264 packets in, decoded frames out to every FrameSink.
//
// Threads, by what the stream needs:
//   live (STREAM_INFO's LIVE): low delay, slice threads only: frame threads
//     would hold back a frame per thread, which a live picture cannot
//     afford, unless decoding falls behind (below);
//   not live (--fast): latency does not matter, throughput does: frame
//     threads from the first packet, as many as FFmpeg picks (the ffmpeg
//     CLI's default).
// The decoder is (re)opened at the first packet, when STREAM_INFO is known.
//
// Keeping up (live only). The backlog is measured in time: lag = now minus
// the arrival of the unit being decoded, less any wait for the sound (that
// wait is the display's choice). Behind = lag over two frame intervals.
//   1. behind for AdaptPolicy::skipAfterUs: skip non-reference pictures
//      (skip_frame = AVDISCARD_NONREF), only if the stream allows skipping
//      (StreamInput::maySkip). Nothing refers to them, so every picture that
//      is output is the one ffmpeg outputs; the skipped ones are counted
//      and their statistics records let go of, never counted as lost;
//   2. still behind threadsAfterUs later: at the next IDR, drain (every
//      frame is still passed on) and reopen with frame threads, one per
//      core; each costs a frame of latency;
//   3. keeping up for recoverUs: back to low delay (at an IDR, if the
//      threads must go) with skipping off. Falling behind again soon after
//      doubles recoverUs, so the decoder does not flap.
// Each decision is logged once and counted (PipelineCounters, --stats).
// A reopened decoder starts from the IDR with the last parameter sets seen,
// so its output continues the old one's exactly.
//
// Corrupt data is counted, not fatal: the decoder conceals it and recovers
// at the next keyframe.
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
// container) goes into has_b_frames before the first packet, and with what
// the decoder learnt into the parameters of any reopen (frame threads copy
// the context at open and never read it again).
#pragma once

#include "ffmpeg_raii.h"
#include "sinks.h"
#include "stream_input.h"
#include "stream_stats.h"

#include <memory>
#include <vector>

namespace h264link {

// The times of the keeping-up policy (see above); a test shortens them.
struct AdaptPolicy {
    int behindFrames = 2;             // lag over this many frame intervals is behind
    qint64 minBehindUs = 20000;       // ... and over this, whatever the frame rate
    qint64 skipAfterUs = 500000;      // behind this long: skip non-reference pictures
    qint64 threadsAfterUs = 1000000;  // behind this much longer: frame threads
    qint64 recoverUs = 5000000;       // keeping up this long: back to low delay
    qint64 maxRecoverUs = 80000000;   // recoverUs doubles up to this
};

class Decoder : public PacketSink {
public:
    // `stats` may be null.
    static std::unique_ptr<Decoder> open(const AVCodecParameters *codecpar, PipelineCounters &counters,
                                         StreamStats *stats, QString *error);
    // Before the first packet: the stream's STREAM_INFO (reorder depth, live,
    // may skip), read at the first packet, so it may be set after open().
    // Without it the stream is taken as not live.
    void setInput(const StreamInput *input) { m_input = input; }
    void setPolicy(const AdaptPolicy &policy) { m_policy = policy; m_recoverUs = policy.recoverUs; }

    void addSink(FrameSink *sink) { m_sinks.push_back(sink); }
    bool push(AVPacket *packet) override;
    void flush() override;

    QString lastError() const { return m_lastError; }
    bool frameThreads() const { return m_frameThreads; }
    int threadCount() const { return m_ctx->thread_count; }

private:
    Decoder(PipelineCounters &counters, StreamStats *stats) : m_counters(counters), m_stats(stats) {}
    bool start();
    void adapt(const AVPacket *packet, qint64 nowUs);
    bool reopen(bool frameThreads, int threads);
    void setSkipping(bool on);
    void publishState();
    bool receiveFrames();

    CodecParametersPtr m_par; // with the last SPS/PPS seen as extradata, for a reopen
    CodecContextPtr m_ctx;
    FramePtr m_frame;
    std::vector<FrameSink *> m_sinks;
    PipelineCounters &m_counters;
    StreamStats *m_stats;
    QString m_lastError;
    const StreamInput *m_input = nullptr;
    bool m_started = false;
    bool m_live = false;
    bool m_maySkip = false;
    bool m_frameThreads = false;

    // Keeping up (live streams only).
    enum class Pending { None, FrameThreads, LowDelay };
    AdaptPolicy m_policy;
    qint64 m_recoverUs = AdaptPolicy().recoverUs;
    qint64 m_frameIntervalUs = 0; // smallest pts step seen (0: not yet known)
    qint64 m_lastPts = AV_NOPTS_VALUE;
    qint64 m_syncWaitSeenUs = 0;
    qint64 m_behindSinceUs = -1;
    qint64 m_keptUpSinceUs = -1;
    qint64 m_returnedUs = -1; // last return to low delay
    bool m_skipping = false;
    Pending m_pending = Pending::None;
};

} // namespace h264link
