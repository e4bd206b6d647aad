// AudioClock: the receiver's master clock while sound plays, in the
// sender's pts microseconds: the pts of the sample being heard now.
//
// AudioOutput sets it each time it hands bytes to the sink: pts of the last
// sample written minus what the sink still holds (its buffer, which is the
// part of the device latency Qt lets us see). Between updates the clock runs
// on our monotonic clock. Video frames wait on it (AudioClock::waitUntil),
// so the picture follows the sound; without sound it never runs and frames
// are shown at once.
//
// Threads: the output thread sets, the video pipeline thread reads and
// waits, the GUI thread reads; one mutex and a condition variable.
#pragma once

#include <QMutex>
#include <QWaitCondition>
#include <optional>

namespace h264link {

class AudioClock {
public:
    // A frame due further ahead than this is shown at once: its pts and the
    // audio's are not on one timeline (a sender bug, a pts jump).
    static constexpr qint64 kMaxWaitUs = 1000000;

    void set(qint64 heardPtsUs, qint64 atUs);
    void stop(); // no sound any more: waiters return at once, frames show at once
    std::optional<qint64> now(qint64 nowUs) const; // nothing while not running
    bool isRunning() const;
    // Blocks until `ptsUs` is due, the clock stops, cancel() or kMaxWaitUs.
    // Returns at once if the clock is not running or ptsUs is late.
    void waitUntil(qint64 ptsUs);
    void cancel(); // wakes waiters for good (the pipeline stops)

private:
    mutable QMutex m_mutex;
    QWaitCondition m_changed;
    bool m_running = false;
    bool m_cancelled = false;
    qint64 m_ptsUs = 0;
    qint64 m_atUs = 0;
};

} // namespace h264link
