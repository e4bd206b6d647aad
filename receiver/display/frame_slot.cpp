#include "frame_slot.h"

namespace h264link {

void FrameSlot::put(FramePtr frame)
{
    FramePtr replaced; // released outside the lock
    bool notify = false;
    {
        QMutexLocker lock(&m_mutex);
        if (m_pending)
            ++m_skipped;
        replaced = std::exchange(m_pending, std::move(frame));
        notify = !m_notified;
        m_notified = true;
    }
    if (notify)
        emit frameAvailable();
}

FramePtr FrameSlot::take()
{
    QMutexLocker lock(&m_mutex);
    m_notified = false;
    return std::move(m_pending);
}

quint64 FrameSlot::skipped() const
{
    QMutexLocker lock(&m_mutex);
    return m_skipped;
}

} // namespace h264link
