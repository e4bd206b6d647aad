#include "net/live_rate_control.h"

namespace h264link {

void QueueWait::sample(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes)
{
    // Bytes new since the last sample were written right after it (a
    // sample comes before each packet is written).
    const qint64 written = handedToKernel + queuedBytes;
    if (m_marks.empty() || written > m_marks.back().bytes)
        m_marks.push_back({written, m_lastMs >= 0 ? m_lastMs : nowMs});
    if (m_marks.size() > kMaxMarks)
        m_marks.pop_front();
    // A mark whose bytes all reached the kernel no longer waits.
    while (!m_marks.empty() && m_marks.front().bytes <= handedToKernel)
        m_marks.pop_front();
    m_ageMs = m_marks.empty() ? 0 : nowMs - m_marks.front().ms;
    m_queued = queuedBytes;

    // Busy since the last sample: the queue held bytes then, so the link
    // drained as fast as it could.
    if (m_lastMs >= 0 && m_lastQueued > 0 && nowMs > m_lastMs) {
        m_busy.push_back({nowMs, nowMs - m_lastMs, handedToKernel - m_lastHanded});
        m_busyMs += m_busy.back().spanMs;
        m_busyBytes += m_busy.back().bytes;
    }
    while (!m_busy.empty() && nowMs - m_busy.front().ms > kWindowMs) {
        m_busyMs -= m_busy.front().spanMs;
        m_busyBytes -= m_busy.front().bytes;
        m_busy.pop_front();
    }
    m_lastMs = nowMs;
    m_lastHanded = handedToKernel;
    m_lastQueued = queuedBytes;
}

qint64 QueueWait::waitMs() const
{
    // A tenth of a second of busy link at least, for a rate to go by.
    if (m_queued == 0 || m_busyMs < 100)
        return m_ageMs;
    if (m_busyBytes <= 0)
        return qMax<qint64>(m_ageMs, kWindowMs); // busy, and nothing drained: stalled
    return qMax(m_ageMs, m_queued * m_busyMs / m_busyBytes);
}

bool LiveRateControl::decide(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes, bool mayResume)
{
    m_wait.sample(nowMs, handedToKernel, queuedBytes);
    const qint64 wait = m_wait.waitMs();
    if (wait > kMaxWaitMs)
        m_catchingUp = true;
    if (m_catchingUp && mayResume && wait <= kMaxWaitMs / 2)
        m_catchingUp = false;
    return !m_catchingUp;
}

bool LiveRateControl::admit(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes, bool keyframe)
{
    return decide(nowMs, handedToKernel, queuedBytes, keyframe);
}

bool LiveRateControl::admitAudio(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes, bool hasVideo)
{
    return decide(nowMs, handedToKernel, queuedBytes, !hasVideo);
}

} // namespace h264link
