// StreamInput: what the network side hands the pipelines for one stream: the
// video bytes and where each access unit starts in them, and the sound's own
// queue (AudioInput, read by the AudioPipeline). Shared by the connection
// (producer, network thread) and the pipelines (consumers, their own threads).
#pragma once

#include "access_unit_index.h"
#include "audio_input.h"
#include "byte_queue.h"

#include <atomic>

namespace h264link {

struct StreamInput {
    explicit StreamInput(qsizetype capacity) : bytes(capacity) {}
    ByteQueue bytes;
    AccessUnitIndex units;
    AudioInput audio; // filled only when the stream has sound and it is wanted
    // STREAM_INFO's video_reorder_depth (0: as the SPS says). Set before the
    // first MEDIA byte is queued, so the decoder sees it with its first packet.
    std::atomic<int> videoReorderDepth{0};
    // The stream is live (STREAM_INFO's LIVE) and nothing here asks for
    // every frame: the pipeline may skip frames to keep up. Set as
    // videoReorderDepth is.
    std::atomic<bool> maySkip{false};
    // STREAM_INFO's LIVE (the sender is not --fast). Not live: latency does
    // not matter, the decoder runs for throughput. Set as videoReorderDepth is.
    std::atomic<bool> live{false};
};

} // namespace h264link
