// StreamInput: what the network side hands the pipeline for one stream, the
// bytes and where each access unit starts in them. Shared by the connection
// (producer, network thread) and the pipeline (consumer, its own thread).
#pragma once

#include "access_unit_index.h"
#include "byte_queue.h"

namespace h264link {

struct StreamInput {
    explicit StreamInput(qsizetype capacity) : bytes(capacity) {}
    ByteQueue bytes;
    AccessUnitIndex units;
};

} // namespace h264link
