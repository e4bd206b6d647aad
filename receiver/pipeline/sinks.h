// The receiver's stage interfaces, as in scrcpy: a stage pushes into sinks
// and never knows who consumes it. Wiring happens in MediaPipeline only.
#pragma once

#include <QtGlobal>

extern "C" {
#include <libavcodec/avcodec.h>
}

#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>

namespace h264link {

// Live counters of one stream's pipeline: written by the pipeline thread,
// read by anyone (the window's statistics line).
struct PipelineCounters {
    std::atomic<quint64> packets{0};        // access units demuxed
    std::atomic<quint64> frames{0};         // pictures decoded and passed on (to be shown)
    std::atomic<quint64> decodeOnly{0};     // DECODE_ONLY units decoded, their pictures dropped
    std::atomic<quint64> decodeErrors{0};   // packets the decoder rejected
    std::atomic<quint64> concealedFrames{0}; // pictures decoded with errors concealed
    // The Decoder's adaptation (decoder.h): non-reference pictures it
    // skipped to keep up (not in `frames`), and how often it changed mode.
    std::atomic<quint64> skippedByDecoder{0};
    std::atomic<quint64> decoderSwitches{0};
    // Time frames waited in the DisplaySink for the sound to catch up: a
    // backlog that wait causes is the display's choice, not decoding lag.
    std::atomic<qint64> syncWaitUs{0};
    // Last frame handed to the display: its pts minus the audio clock then
    // (kNoOffset: no sound played yet).
    static constexpr qint64 kNoOffset = std::numeric_limits<qint64>::min();
    std::atomic<qint64> avOffsetUs{kNoOffset};
};

// A packet's statistics record id (StreamStats), set by the Demuxer, read
// by the Decoder. It rides in AVPacket::opaque, the field FFmpeg leaves to
// its user, so that the packet's pts stays the access unit's real time.
inline void setStatsId(AVPacket *packet, qint64 id)
{
    packet->opaque = reinterpret_cast<void *>(static_cast<intptr_t>(id + 1)); // 0: none
}
inline qint64 statsId(const AVPacket *packet)
{
    return static_cast<qint64>(reinterpret_cast<intptr_t>(packet->opaque)) - 1;
}

// When the packet's access unit arrived (AccessUnitMark::arrivalUs, receiver
// clock), set by the Demuxer for the Decoder's backlog. It rides in
// AVPacket::opaque_ref (a 8-byte buffer), beside the statistics id, and is
// let go of with the packet. -1: unknown.
inline bool setArrivalUs(AVPacket *packet, qint64 arrivalUs)
{
    av_buffer_unref(&packet->opaque_ref);
    if (arrivalUs < 0)
        return true;
    packet->opaque_ref = av_buffer_alloc(sizeof arrivalUs);
    if (!packet->opaque_ref)
        return false;
    memcpy(packet->opaque_ref->data, &arrivalUs, sizeof arrivalUs);
    return true;
}
inline qint64 arrivalUs(const AVPacket *packet)
{
    qint64 us = -1;
    if (packet->opaque_ref && packet->opaque_ref->size == sizeof us)
        memcpy(&us, packet->opaque_ref->data, sizeof us);
    return us;
}

class PacketSink {
public:
    virtual ~PacketSink() = default;
    virtual bool push(AVPacket *packet) = 0; // false: stop the pipeline
    virtual void flush() {}                        // end of stream: drain
};

class FrameSink {
public:
    virtual ~FrameSink() = default;
    virtual bool push(const AVFrame *frame) = 0; // false: stop the pipeline
};

} // namespace h264link
