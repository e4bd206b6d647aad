// LiveRateControl: keeps a live stream live on a link slower than the video.
//
// Bound, written down: at most what the link carried in half a second
// (DrainRate) waits in the socket; beyond it whole GOPs are SKIPPED until the
// queue has drained to half the bound, and sending resumes at a keyframe, so
// every frame the receiver gets is still decodable and latency stays bounded.
// (--fast does not use this: it BLOCKS on TCP backpressure instead.)
// One per connection, on the sender's worker thread.
#pragma once

#include <QtGlobal>
#include <deque>
#include <utility>

namespace h264link {

// How fast the socket drains, over the last two seconds.
class DrainRate {
public:
    static constexpr qint64 kMaxQueueBound = 4 * 1024 * 1024;

    // `handedToKernel`: bytes written so far minus those still in Qt's buffer.
    void sample(qint64 nowMs, qint64 handedToKernel);
    // Half a second of what the link has actually carried lately.
    qint64 queueBound() const;

private:
    static constexpr qint64 kWindowMs = 2000;
    std::deque<std::pair<qint64, qint64>> m_samples; // (ms, bytes handed to the kernel)
};

class LiveRateControl {
public:
    // Decides for the next access unit: true to send it, false to skip it.
    bool admit(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes, bool keyframe);

private:
    DrainRate m_rate;
    bool m_catchingUp = false;
};

} // namespace h264link
