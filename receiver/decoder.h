// Decoder: H.264 packets in, decoded frames out to every FrameSink.
//
// Slice threading only: frame threading would hold back a frame per thread,
// which a live picture cannot afford. Corrupt data is counted, not fatal:
// the decoder conceals it and recovers at the next keyframe.
#pragma once

#include "ffmpeg_raii.h"
#include "sinks.h"

#include <atomic>
#include <memory>
#include <vector>

namespace h264link {

class Decoder : public PacketSink {
public:
    static std::unique_ptr<Decoder> open(const AVCodecParameters *codecpar, QString *error);

    void addSink(FrameSink *sink) { m_sinks.push_back(sink); }
    bool push(const AVPacket *packet) override;
    void flush() override;

    quint64 framesDecoded() const { return m_frames.load(); }
    quint64 decodeErrors() const { return m_errors.load(); }
    QString lastError() const { return m_lastError; }

private:
    Decoder() = default;
    bool receiveFrames();

    CodecContextPtr m_ctx;
    FramePtr m_frame;
    std::vector<FrameSink *> m_sinks;
    std::atomic<quint64> m_frames{0};
    std::atomic<quint64> m_errors{0};
    QString m_lastError;
};

} // namespace h264link
