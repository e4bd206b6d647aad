#include "audio_input.h"

namespace h264link {

void AudioPacketIndex::add(const AudioPacketMark &mark)
{
    QMutexLocker lock(&m_mutex);
    m_marks.push_back(mark);
    if (m_marks.size() > kMaxPending) {
        m_marks.pop_front();
        ++m_dropped;
    }
}

std::optional<AudioPacketMark> AudioPacketIndex::take(qint64 pos, qint64 size)
{
    QMutexLocker lock(&m_mutex);
    if (pos >= 0) {
        while (!m_marks.empty() && m_marks.front().offset < pos)
            m_marks.pop_front();
        if (m_marks.empty() || m_marks.front().offset >= pos + size)
            return std::nullopt;
    } else if (m_marks.empty()) {
        return std::nullopt;
    }
    const AudioPacketMark mark = m_marks.front();
    m_marks.pop_front();
    return mark;
}

quint64 AudioPacketIndex::dropped() const
{
    QMutexLocker lock(&m_mutex);
    return m_dropped;
}

std::size_t AudioPacketIndex::pending() const
{
    QMutexLocker lock(&m_mutex);
    return m_marks.size();
}

} // namespace h264link
