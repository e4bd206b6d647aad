// AudioDemuxer: the audio's own read_packet stage.
//
//   AudioInput's ByteQueue --AvioBridge (read_packet)--> libavformat "aac" (ADTS) or "mp3"
//   demuxer --> packets, each with its AUDIO message's pts and trim
//
// The demuxer is forced from STREAM_INFO's audio codec: nothing is probed,
// so nothing waits for more bytes than a frame. Its own timestamps (counted
// samples) are replaced by the sender's pts, in microseconds (kTimeBase),
// and the trim becomes AV_PKT_DATA_SKIP_SAMPLES side data, so the decoder
// drops exactly the samples ffmpeg drops; both are looked up by the
// packet's byte offset (pkt->pos) in the AudioPacketIndex.
#pragma once

#include "audio_input.h"
#include "avio_bridge.h"
#include "ffmpeg_raii.h"
#include "sinks.h"

#include <memory>

namespace h264link {

struct AudioCounters {
    std::atomic<quint64> packets{0};      // demuxed
    std::atomic<quint64> frames{0};       // decoded
    std::atomic<quint64> decodeErrors{0}; // packets the decoder rejected (concealed)
    std::atomic<quint64> concealedSamples{0}; // silence played in their place
};

class AudioDemuxer {
public:
    static constexpr AVRational kTimeBase{1, 1000000};

    // `codec` is proto::kCodecAacAdts or proto::kCodecMp3.
    static std::unique_ptr<AudioDemuxer> open(AudioInput &input, quint32 codec, AudioCounters &counters,
                                              QString *error);

    const AVCodecParameters *codecpar() const { return m_format->streams[0]->codecpar; }
    // Reads until the end, a cancel, or a sink says stop: 0 at a clean end.
    int run(PacketSink &sink);
    QString readError() const { return m_bridge->lastDeviceError(); }

private:
    AudioDemuxer(AudioInput &input, AudioCounters &counters) : m_input(input), m_counters(counters) {}

    AudioInput &m_input;
    AudioCounters &m_counters;
    std::unique_ptr<AvioBridge> m_bridge; // outlives m_format
    InputFormatPtr m_format;
};

// A packet's AUDIO discontinuity flag rides in AVPacket::flags as this bit
// (FFmpeg leaves the high bits of flags alone for demuxed packets).
constexpr int kPacketDiscontinuity = 0x10000;

} // namespace h264link
