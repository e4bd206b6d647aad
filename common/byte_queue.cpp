#include "byte_queue.h"

#include <cstring>

namespace h264link {

ByteQueue::ByteQueue(qsizetype capacity, QObject *parent) : QObject(parent), m_capacity(capacity) {}

bool ByteQueue::push(const QByteArray &bytes)
{
    QMutexLocker lock(&m_mutex);
    if (m_finished || m_cancelled)
        return false;
    if (m_readPos > 0 && m_readPos >= m_data.size() / 2) {
        m_data.remove(0, m_readPos); // amortised: at most once per half buffer
        m_readPos = 0;
    }
    m_data.append(bytes);
    m_pushed += bytes.size();
    if (m_data.size() - m_readPos >= m_capacity)
        m_wasFull = true; // drained() is due once the reader has made room
    m_readable.wakeAll();
    return true;
}

bool ByteQueue::isFull() const
{
    QMutexLocker lock(&m_mutex);
    return m_data.size() - m_readPos >= m_capacity;
}

void ByteQueue::finish()
{
    QMutexLocker lock(&m_mutex);
    m_finished = true;
    m_readable.wakeAll();
}

bool ByteQueue::truncate(qint64 offset)
{
    QMutexLocker lock(&m_mutex);
    const qint64 readOffset = m_pushed - (m_data.size() - m_readPos);
    if (offset < readOffset || offset > m_pushed)
        return false;
    m_data.truncate(m_data.size() - qsizetype(m_pushed - offset));
    m_pushed = offset;
    return true;
}

void ByteQueue::cancel()
{
    QMutexLocker lock(&m_mutex);
    m_cancelled = true;
    m_data.clear();
    m_readPos = 0;
    m_readable.wakeAll();
}

bool ByteQueue::isCancelled() const
{
    QMutexLocker lock(&m_mutex);
    return m_cancelled;
}

int ByteQueue::read(char *buffer, int size)
{
    QMutexLocker lock(&m_mutex);
    while (!m_cancelled && m_data.size() == m_readPos && !m_finished) {
        m_readable.wait(&m_mutex);
        ++m_wakeups;
    }
    if (m_cancelled)
        return -1;
    const qsizetype available = m_data.size() - m_readPos;
    if (available == 0)
        return 0; // finished and drained
    const int n = int(qMin<qsizetype>(available, size));
    std::memcpy(buffer, m_data.constData() + m_readPos, size_t(n));
    m_readPos += n;
    const bool nowDrained = m_wasFull && (m_data.size() - m_readPos) <= m_capacity / 2;
    if (nowDrained)
        m_wasFull = false;
    lock.unlock();
    if (nowDrained)
        emit drained();
    return n;
}

qsizetype ByteQueue::queuedBytes() const
{
    QMutexLocker lock(&m_mutex);
    return m_data.size() - m_readPos;
}

qint64 ByteQueue::bytesPushed() const
{
    QMutexLocker lock(&m_mutex);
    return m_pushed;
}

qint64 ByteQueue::readOffset() const
{
    QMutexLocker lock(&m_mutex);
    return m_pushed - (m_data.size() - m_readPos);
}

quint64 ByteQueue::readerWakeups() const
{
    QMutexLocker lock(&m_mutex);
    return m_wakeups;
}

} // namespace h264link
