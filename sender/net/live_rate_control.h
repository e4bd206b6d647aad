// LiveRateControl: keeps a live stream live on a link slower than the video.
//
// Bound, written down, in time: what is queued in the socket must reach the
// kernel within kMaxWaitMs (half a second). Beyond it whole GOPs, and the
// sound beside them, are SKIPPED until the wait is down to half that, and
// sending resumes at a keyframe (at any audio packet for a stream without
// video), so every frame the receiver gets still decodes and it is at most
// about half a second behind the file. (--fast does not use this: it BLOCKS
// on TCP backpressure instead.) One per connection, on the sender's worker
// thread.
#pragma once

#include <QtGlobal>
#include <deque>

namespace h264link {

// How long what is queued now will wait: the longer of
//  - how long the queue's oldest byte has already waited, which a stalled
//    link makes grow whatever the bit rate, and
//  - the queue's bytes at the rate the link drains them while it is busy.
// Only busy intervals (the queue not empty) measure the link: a fast link
// that idles between frames would otherwise look as slow as the video, and a
// keyframe's burst would look like seconds of backlog.
class QueueWait {
public:
    // `handedToKernel`: bytes written so far minus those still in Qt's
    // buffer; `queuedBytes`: those still there.
    void sample(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes);
    qint64 waitMs() const;

private:
    struct Mark {
        qint64 bytes; // written in all, up to this mark
        qint64 ms;    // when
    };
    // One mark per sample that wrote something: as many as the packets in
    // the queue, which the bound keeps to about a second of them; past
    // kMaxMarks the oldest go (the age then reads short, never long).
    static constexpr size_t kMaxMarks = 4096;
    std::deque<Mark> m_marks;
    struct Busy {
        qint64 ms;    // end of the interval
        qint64 spanMs;
        qint64 bytes; // drained in it
    };
    static constexpr qint64 kWindowMs = 2000;
    std::deque<Busy> m_busy;
    qint64 m_busyMs = 0, m_busyBytes = 0; // sums over m_busy
    qint64 m_lastMs = -1, m_lastHanded = 0, m_lastQueued = 0;
    qint64 m_ageMs = 0;
    qint64 m_queued = 0;
};

class LiveRateControl {
public:
    static constexpr qint64 kMaxWaitMs = 500;
    // For the next access unit: true to send it, false to skip it.
    bool admit(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes, bool keyframe);
    // For the next audio packet: skipped while the video catches up; a stream
    // without video resumes as soon as the queue has drained.
    bool admitAudio(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes, bool hasVideo);

private:
    bool decide(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes, bool mayResume);
    QueueWait m_wait;
    bool m_catchingUp = false;
};

} // namespace h264link
