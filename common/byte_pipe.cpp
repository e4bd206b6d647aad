#include "byte_pipe.h"

#include <QDeadlineTimer>
#include <cstring>

namespace h264link {

BytePipe::BytePipe(qsizetype capacity, QObject *parent)
    : QIODevice(parent), m_capacity(capacity)
{
}

bool BytePipe::open(OpenMode mode)
{
    return QIODevice::open(mode | Unbuffered);
}

qint64 BytePipe::bytesAvailable() const
{
    QMutexLocker lock(&m_mutex);
    return (m_data.size() - m_readPos) + QIODevice::bytesAvailable();
}

qsizetype BytePipe::queuedBytes() const
{
    QMutexLocker lock(&m_mutex);
    return m_data.size() - m_readPos;
}

bool BytePipe::isFinished() const
{
    QMutexLocker lock(&m_mutex);
    return m_finished;
}

bool BytePipe::waitForReadyRead(int msecs)
{
    QDeadlineTimer deadline(msecs < 0 ? QDeadlineTimer::Forever : QDeadlineTimer(msecs));
    QMutexLocker lock(&m_mutex);
    while (m_data.size() == m_readPos && !m_finished && !m_aborted) {
        if (!m_readable.wait(&m_mutex, deadline))
            break;
    }
    return m_data.size() > m_readPos;
}

bool BytePipe::push(const char *data, qsizetype size)
{
    QMutexLocker lock(&m_mutex);
    while (m_data.size() - m_readPos >= m_capacity && !m_finished && !m_aborted)
        m_writable.wait(&m_mutex);
    if (m_finished || m_aborted)
        return false;
    appendLocked(data, size);
    lock.unlock();
    emit readyRead();
    return true;
}

bool BytePipe::pushNoWait(const QByteArray &bytes)
{
    QMutexLocker lock(&m_mutex);
    if (m_finished || m_aborted)
        return false;
    appendLocked(bytes.constData(), bytes.size());
    lock.unlock();
    emit readyRead();
    return true;
}

// With m_mutex held.
void BytePipe::appendLocked(const char *data, qsizetype size)
{
    if (m_readPos > 0 && m_readPos >= m_data.size() / 2) {
        m_data.remove(0, m_readPos); // amortised: at most once per half buffer
        m_readPos = 0;
    }
    m_data.append(data, size);
    if (m_data.size() - m_readPos >= m_capacity)
        m_wasFull = true; // drained() is due once the reader has made room
    m_readable.wakeAll();
}

bool BytePipe::isFull() const
{
    QMutexLocker lock(&m_mutex);
    return m_data.size() - m_readPos >= m_capacity;
}

void BytePipe::finish()
{
    QMutexLocker lock(&m_mutex);
    m_finished = true;
    m_readable.wakeAll();
    m_writable.wakeAll();
}

QString BytePipe::abortReason() const
{
    QMutexLocker lock(&m_mutex);
    return m_abortReason;
}

void BytePipe::abort(const QString &reason)
{
    {
        QMutexLocker lock(&m_mutex);
        if (m_aborted)
            return;
        m_abortReason = reason;
        m_aborted = true;
        m_data.clear();
        m_readPos = 0;
        m_readable.wakeAll();
        m_writable.wakeAll();
    }
    emit aborted();
}

// Returns 0 when empty but still open, and -1 (end of file, as for a closed
// socket) once finished and drained or aborted.
qint64 BytePipe::readData(char *data, qint64 maxSize)
{
    QMutexLocker lock(&m_mutex);
    const qsizetype available = m_data.size() - m_readPos;
    if (available == 0)
        return (m_finished || m_aborted) ? -1 : 0;
    const qsizetype n = qMin<qsizetype>(available, maxSize);
    std::memcpy(data, m_data.constData() + m_readPos, size_t(n));
    m_readPos += n;
    m_writable.wakeAll();
    const bool nowDrained = m_wasFull && (m_data.size() - m_readPos) <= m_capacity / 2;
    if (nowDrained)
        m_wasFull = false;
    lock.unlock();
    if (nowDrained)
        emit drained();
    return n;
}

qint64 BytePipe::writeData(const char *data, qint64 size)
{
    return push(data, size) ? size : -1;
}

} // namespace h264link
