#include "audio_clock.h"

#include "protocol.h"

namespace h264link {

void AudioClock::set(qint64 heardPtsUs, qint64 atUs)
{
    QMutexLocker lock(&m_mutex);
    m_running = true;
    m_ptsUs = heardPtsUs;
    m_atUs = atUs;
    m_changed.wakeAll();
}

void AudioClock::stop()
{
    QMutexLocker lock(&m_mutex);
    m_running = false;
    m_changed.wakeAll();
}

void AudioClock::cancel()
{
    QMutexLocker lock(&m_mutex);
    m_cancelled = true;
    m_changed.wakeAll();
}

bool AudioClock::isRunning() const
{
    QMutexLocker lock(&m_mutex);
    return m_running;
}

std::optional<qint64> AudioClock::now(qint64 nowUs) const
{
    QMutexLocker lock(&m_mutex);
    if (!m_running)
        return std::nullopt;
    return m_ptsUs + (nowUs - m_atUs);
}

void AudioClock::waitUntil(qint64 ptsUs)
{
    QMutexLocker lock(&m_mutex);
    const qint64 startUs = proto::nowMicros();
    while (m_running && !m_cancelled) {
        const qint64 nowUs = proto::nowMicros();
        const qint64 aheadUs = ptsUs - (m_ptsUs + (nowUs - m_atUs));
        if (aheadUs <= 0 || nowUs - startUs >= kMaxWaitUs || aheadUs > kMaxWaitUs)
            return;
        // Woken early by a clock update (which may move the due time) or a stop.
        m_changed.wait(&m_mutex, QDeadlineTimer(std::max<qint64>(1, aheadUs / 1000)));
    }
}

} // namespace h264link
