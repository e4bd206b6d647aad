// The receiver's stage interfaces, as in scrcpy: a stage pushes into sinks
// and never knows who consumes it. Wiring happens in MediaPipeline only.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace h264link {

class PacketSink {
public:
    virtual ~PacketSink() = default;
    virtual bool push(const AVPacket *packet) = 0; // false: stop the pipeline
    virtual void flush() {}                        // end of stream: drain
};

class FrameSink {
public:
    virtual ~FrameSink() = default;
    virtual bool push(const AVFrame *frame) = 0; // false: stop the pipeline
};

} // namespace h264link
