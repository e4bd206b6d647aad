// AccessUnitIndex: where each access unit starts in the byte stream, with
// what must travel with it to its decoded frame: its pts (from its MEDIA
// message), its statistics record id, and whether it is only decoded.
//
// The raw h264 demuxer re-cuts the byte stream into packets with its parser
// and sets each packet's `pos` to the stream offset of its first byte. So a
// packet is matched with the access unit that *starts inside it* (the last
// one, if the parser merged a unit without a picture into the next), by
// offset, never by counting: a packet split off the middle of a unit gets no
// pts, and nothing after a merge or a split drifts.
//
// Threads: the network thread adds, the pipeline thread takes; one mutex.
// Bound: the entries are those of the units still in the byte queue or the
// demuxer (the queue's byte bound bounds them too; a live stream's queue
// is cut, and its marks with it, by dropFrom()); kMaxPending caps a
// pathological stream of empty units, dropping the oldest, which only costs
// those units their pts, not the matching of the others.
#pragma once

#include <QMutex>
#include <deque>
#include <optional>
#include <vector>

namespace h264link {

struct AccessUnitMark {
    qint64 offset = 0; // of the unit's first byte in the byte stream
    qint64 ptsUs = 0;  // proto::kNoPts if the sender had none
    qint64 statsId = -1;
    bool decodeOnly = false; // DECODE_ONLY: decode, never show
    qint64 arrivalUs = -1;   // receiver clock (proto::nowMicros) when its last byte arrived
};

class AccessUnitIndex {
public:
    static constexpr std::size_t kMaxPending = 1 << 20;

    void add(const AccessUnitMark &mark); // offsets must not decrease
    // The last unit that starts in [pos, pos + size), if any; it and the
    // marks before it are dropped. pos < 0 (unknown): the
    // oldest unit.
    std::optional<AccessUnitMark> take(qint64 pos, qint64 size);
    std::size_t pending() const;
    // The oldest unit not yet taken (the demuxer's next one), if any.
    std::optional<AccessUnitMark> oldest() const;
    // Where the first unit that starts at or after `offset` starts, if any.
    std::optional<qint64> firstStartFrom(qint64 offset) const;
    // Drops the marks of the units that start at or after `offset` (their
    // bytes were cut from the queue) and returns them, oldest first.
    std::vector<AccessUnitMark> dropFrom(qint64 offset);

private:
    mutable QMutex m_mutex;
    std::deque<AccessUnitMark> m_marks;
};

} // namespace h264link
