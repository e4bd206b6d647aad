#include "source/pacer.h"

namespace h264link {

qint64 Pacer::delayUs(qint64 mediaUs)
{
    if (!m_started) {
        m_started = true;
        m_originMediaUs = mediaUs;
        m_clock.start();
        return 0;
    }
    const qint64 due = mediaUs - m_originMediaUs;
    const qint64 now = m_clock.nsecsElapsed() / 1000;
    if (now - due > kMaxLagUs) {
        m_originMediaUs = mediaUs;
        m_clock.start();
        return 0;
    }
    return qMax<qint64>(0, due - now);
}

} // namespace h264link
