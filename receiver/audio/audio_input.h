// AudioInput: what the network side hands the audio pipeline, the bytes of
// the audio elementary stream (ADTS or MP3 frames, as the sender's muxer
// wrote them) and where each AUDIO packet starts in them, with what travels
// with it: its pts and FFmpeg's trim. Shared by the connection (producer,
// network thread) and the AudioPipeline (consumer, its own thread).
//
// Bound and policy: as the video's StreamInput, BLOCK. The connection stops
// reading its socket while either queue is full (TCP backpressure), so no
// AUDIO message is dropped: a hole would be an audible gap and a count that
// does not add up. kCapacity holds many seconds of compressed audio, so a
// full queue means a stuck pipeline, never normal jitter.
#pragma once

#include "byte_queue.h"

#include <QMutex>
#include <deque>
#include <optional>

namespace h264link {

struct AudioPacketMark {
    qint64 offset = 0; // of the packet's first byte in the audio byte stream
    qint64 ptsUs = 0;  // proto::kNoPts if the sender had none
    quint32 skipStart = 0;  // AV_PKT_DATA_SKIP_SAMPLES, as the sender's source packet had it
    quint32 discardEnd = 0;
    bool discontinuity = false; // AUDIO flag 0x0001: a join, a loop restart, a skip
    bool decodeOnly = false;    // AUDIO flag 0x0002: before an edit list's start
};

// Matched by offset (pkt->pos), never by counting, as AccessUnitIndex does
// for video: the demuxer's packet that starts at a mark's offset gets it.
// Threads: the network thread adds, the audio pipeline takes; one mutex.
// Bound: the marks of packets still queued (the byte bound bounds them);
// kMaxPending caps a stream of empty packets, dropping the oldest.
class AudioPacketIndex {
public:
    static constexpr std::size_t kMaxPending = 1 << 16;

    void add(const AudioPacketMark &mark); // offsets must not decrease
    // The first mark that starts in [pos, pos + size); it and the marks
    // before it are dropped. pos < 0 (unknown): the oldest mark.
    std::optional<AudioPacketMark> take(qint64 pos, qint64 size);
    std::size_t pending() const;
    quint64 dropped() const; // marks dropped at kMaxPending: packets that lost their pts and trim

private:
    mutable QMutex m_mutex;
    std::deque<AudioPacketMark> m_marks;
    quint64 m_dropped = 0;
};

struct AudioInput {
    static constexpr qsizetype kCapacity = 512 * 1024;
    AudioInput() : bytes(kCapacity) {}
    ByteQueue bytes;
    AudioPacketIndex packets;
};

} // namespace h264link
