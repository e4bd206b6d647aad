#include "net/live_rate_control.h"

namespace h264link {

void DrainRate::sample(qint64 nowMs, qint64 handedToKernel)
{
    m_samples.push_back({nowMs, handedToKernel});
    while (m_samples.size() > 2 && nowMs - m_samples.front().first > kWindowMs)
        m_samples.pop_front();
}

// On a fast link that is half a second of video, on a slow one half a second
// of the link.
qint64 DrainRate::queueBound() const
{
    if (m_samples.size() < 2 || m_samples.back().first - m_samples.front().first < 500)
        return kMaxQueueBound / 16; // no estimate yet
    const qint64 ms = m_samples.back().first - m_samples.front().first;
    const qint64 perSecond = (m_samples.back().second - m_samples.front().second) * 1000 / ms;
    return qBound<qint64>(64 * 1024, perSecond / 2, kMaxQueueBound);
}

bool LiveRateControl::admit(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes, bool keyframe)
{
    m_rate.sample(nowMs, handedToKernel);
    const qint64 bound = m_rate.queueBound();
    if (queuedBytes > bound)
        m_catchingUp = true;
    if (m_catchingUp && keyframe && queuedBytes <= bound / 2)
        m_catchingUp = false;
    return !m_catchingUp;
}

} // namespace h264link
