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
//
// "The socket" is Qt's buffer: the kernel holds only a few milliseconds of
// unsent bytes (SenderConnection's TCP_NOTSENT_LOWAT), however large the
// window the link needs in flight, so what waits in front of a slow link
// waits where this can see it, and a fast link is not mistaken for a slow one.
#pragma once

#include <QString>
#include <QtGlobal>
#include <deque>

namespace h264link {

// How long what is queued now will wait: the longer of
//  - how long the queue's oldest byte has already waited, which a stalled
//    link makes grow whatever the bit rate, and
//  - the queue's bytes at the rate the link drains them while it is busy.
// Only busy intervals (the queue not empty) measure the link: a fast link
// that idles between frames would otherwise look as slow as the video, and a
// keyframe's burst would look like seconds of backlog. That needs samples
// while the queue drains, not only one per packet: the session samples each
// time the kernel takes bytes (LiveRateControl::observe), so a busy interval
// ends within a wakeup of the queue running dry.
class QueueWait {
public:
    // `handedToKernel`: bytes written so far minus those still in Qt's
    // buffer; `queuedBytes`: those still there.
    void sample(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes);
    qint64 waitMs() const;
    // What the link drained per second while busy (over the last kWindowMs),
    // 0 before a tenth of a second of busy link was seen.
    qint64 linkBytesPerSecond() const;

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

// Why a live stream skips, from the kernel's own accounting of the
// connection (TCP_INFO, microseconds over the last second or two): time it
// had data to send, and the parts of it when the receiver's window or the
// socket's send buffer was full.
struct TcpLimits {
    quint64 busyUs = 0;
    quint64 rwndLimitedUs = 0;
    quint64 sndbufLimitedUs = 0;
    // The kernel's latest delivery rate sample (bytes/s): what the link
    // carried while it had data, a lower bound of what it can carry.
    quint64 deliveryBytesPerSecond = 0;
    // What the kernel holds unsent now: next to nothing if it has been
    // waiting for us, the mark if it has been waiting for the link.
    quint64 notSentBytes = 0;
};
// Why, with the sentence for the log and the "done" line: the receiver does
// not read fast enough (its window was full a quarter of the busy time or more),
// the send buffer is too small, the link stalled, this machine did not hand
// the data to the kernel as fast as the link delivered it (the kernel's
// delivery rate more than 8 times the drain, and the kernel with nothing
// unsent: the sender was short of CPU time), or the link carries about `linkBytesPerSecond` (or the kernel's
// delivery rate, if lower), less than the video's `videoBytesPerSecond` (0:
// unknown, left out). `limits` null: no TCP_INFO, the rates alone.
struct SlowLink {
    enum class Cause { Receiver, SendBuffer, Stalled, Sender, Link };
    Cause cause;
    QString sentence;
};
SlowLink diagnoseSlowLink(qint64 linkBytesPerSecond, qint64 videoBytesPerSecond, const TcpLimits *limits);

class LiveRateControl {
public:
    static constexpr qint64 kMaxWaitMs = 500;
    // For the next access unit: true to send it, false to skip it.
    bool admit(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes, bool keyframe);
    // For the next audio packet: skipped while the video catches up; a stream
    // without video resumes as soon as the queue has drained.
    bool admitAudio(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes, bool hasVideo);
    // Between packets, each time the kernel took bytes: times the drain.
    void observe(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes);

    // How often skipping began (each time the wait passed the bound).
    quint64 episodes() const { return m_episodes; }
    qint64 linkBytesPerSecond() const { return m_wait.linkBytesPerSecond(); }
    // How long the queue's oldest byte has waited (--stats: the lag).
    qint64 waitMs() const { return m_wait.waitMs(); }
    // What the stream wrote per second while it was not skipping (the last
    // kRateWindowMs of it): the rate the video asks of the link; 0 before
    // a second of it.
    qint64 videoBytesPerSecond() const;

private:
    bool decide(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes, bool mayResume);
    void sample(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes);
    QueueWait m_wait;
    bool m_catchingUp = false;
    quint64 m_episodes = 0;
    struct Offered {
        qint64 spanMs; // of sending
        qint64 bytes;  // written in it
    };
    static constexpr qint64 kRateWindowMs = 3000;
    std::deque<Offered> m_offered;
    qint64 m_offeredMs = 0, m_offeredBytes = 0; // sums over m_offered
    qint64 m_lastMs = -1, m_lastWritten = 0;
};

} // namespace h264link
