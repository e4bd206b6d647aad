// AudioDecoder: AAC or MP3 packets in, decoded frames out to every FrameSink.
//
// The trim rides on the packets as AV_PKT_DATA_SKIP_SAMPLES (AudioDemuxer),
// which libavcodec applies itself: the frames hold exactly the samples
// `ffmpeg -i` decodes, and their pts move past the dropped ones.
//
// A corrupt packet is counted and concealed by silence of one frame's
// length at its pts, so the audio clock and the picture go on; the decoder
// resyncs on the next frame header.
//
// After a gap (AUDIO's discontinuity flag: a loop's restart, audio the
// sender could not send) it starts afresh with a new decoder, as `ffmpeg -i
// FILE` does at the file's start: what a decoder keeps of the frames before
// (the overlap, and for AAC a rounding state that never fades, which
// avcodec_flush_buffers() does not clear) belongs to other sound.
#pragma once

#include "audio_demuxer.h"
#include "ffmpeg_raii.h"
#include "sinks.h"

#include <memory>
#include <vector>

namespace h264link {

class AudioDecoder : public PacketSink {
public:
    static std::unique_ptr<AudioDecoder> open(const AVCodecParameters *codecpar, AudioCounters &counters,
                                              QString *error);

    void addSink(FrameSink *sink) { m_sinks.push_back(sink); }
    bool push(AVPacket *packet) override;
    void flush() override;
    QString lastError() const { return m_lastError; }

private:
    struct ParametersDeleter {
        void operator()(AVCodecParameters *p) const { avcodec_parameters_free(&p); }
    };

    explicit AudioDecoder(AudioCounters &counters) : m_counters(counters) {}
    static CodecContextPtr openContext(const AVCodecParameters *codecpar, QString *error);
    bool restart();
    bool receiveFrames();
    bool conceal(const AVPacket *packet);
    bool deliver(const AVFrame *frame);

    std::unique_ptr<AVCodecParameters, ParametersDeleter> m_codecpar; // to start afresh
    CodecContextPtr m_ctx;
    FramePtr m_frame;
    std::vector<FrameSink *> m_sinks;
    AudioCounters &m_counters;
    QString m_lastError;
    int m_lastFrameSamples = 0;   // the length a concealed frame gets
    int m_lastFormat = -1;
    int m_lastRate = 0;
    AVChannelLayout m_lastLayout{};
};

} // namespace h264link
