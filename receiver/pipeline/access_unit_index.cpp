#include "access_unit_index.h"

#include <algorithm>

namespace h264link {

void AccessUnitIndex::add(const AccessUnitMark &mark)
{
    QMutexLocker lock(&m_mutex);
    m_marks.push_back(mark);
    if (m_marks.size() > kMaxPending)
        m_marks.pop_front();
}

std::optional<AccessUnitMark> AccessUnitIndex::take(qint64 pos, qint64 size)
{
    QMutexLocker lock(&m_mutex);
    if (pos < 0) {
        if (m_marks.empty())
            return std::nullopt;
        const AccessUnitMark mark = m_marks.front();
        m_marks.pop_front();
        return mark;
    }
    while (!m_marks.empty() && m_marks.front().offset < pos)
        m_marks.pop_front();
    if (m_marks.empty() || m_marks.front().offset >= pos + size)
        return std::nullopt;
    // Several units start in this packet when the parser merged a unit
    // without a picture (an SEI or parameter sets alone) into the next one:
    // the packet's picture is the last one's.
    AccessUnitMark mark = m_marks.front();
    while (!m_marks.empty() && m_marks.front().offset < pos + size) {
        mark = m_marks.front();
        m_marks.pop_front();
    }
    return mark;
}

std::optional<AccessUnitMark> AccessUnitIndex::oldest() const
{
    QMutexLocker lock(&m_mutex);
    if (m_marks.empty())
        return std::nullopt;
    return m_marks.front();
}

std::optional<qint64> AccessUnitIndex::firstStartFrom(qint64 offset) const
{
    QMutexLocker lock(&m_mutex);
    const auto it = std::find_if(m_marks.begin(), m_marks.end(),
                                 [offset](const AccessUnitMark &m) { return m.offset >= offset; });
    if (it == m_marks.end())
        return std::nullopt;
    return it->offset;
}

std::vector<AccessUnitMark> AccessUnitIndex::dropFrom(qint64 offset)
{
    QMutexLocker lock(&m_mutex);
    const auto it = std::find_if(m_marks.begin(), m_marks.end(),
                                 [offset](const AccessUnitMark &m) { return m.offset >= offset; });
    std::vector<AccessUnitMark> dropped(it, m_marks.end());
    m_marks.erase(it, m_marks.end());
    return dropped;
}

std::size_t AccessUnitIndex::pending() const
{
    QMutexLocker lock(&m_mutex);
    return m_marks.size();
}

} // namespace h264link
