#include "frame_slot.h"

#include "io_trace.h"

namespace h264link {

FrameSlot::FrameSlot(QObject *parent) : QObject(parent)
{
    m_fillProbe = trace::Tracer::instance().addFillProbe([this] {
        QMutexLocker lock(&m_mutex);
        return trace::Fill{QStringLiteral("frame slot"), m_pending ? 1 : 0, 1, QStringLiteral("frames")};
    });
}

FrameSlot::~FrameSlot()
{
    trace::Tracer::instance().removeFillProbe(m_fillProbe); // before the mutex it reads goes
}

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
