#include "source/pipe_device.h"

#include <QDeadlineTimer>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace h264link {

PipeDevice::PipeDevice(int fd, QObject *parent) : QIODevice(parent), m_fd(fd)
{
    s_interrupted.store(false);
}

bool PipeDevice::waitReadable(int msecs)
{
    QDeadlineTimer deadline(msecs); // -1: forever
    for (;;) {
        if (s_interrupted.load())
            return false;
        const qint64 left = deadline.remainingTime();
        pollfd p{m_fd, POLLIN, 0};
        const int ret = ::poll(&p, 1, left < 0 ? kSliceMs : int(std::min<qint64>(left, kSliceMs)));
        if (ret > 0)
            return true; // bytes, or POLLHUP: the next read says "end"
        if ((ret < 0 && errno != EINTR) || (left >= 0 && deadline.hasExpired()))
            return false;
    }
}

qint64 PipeDevice::readData(char *data, qint64 maxSize)
{
    if (m_ended)
        return -1;
    for (;;) {
        if (!waitReadable(-1) && s_interrupted.load()) {
            m_ended = true; // stopped: an orderly end, no error
            return -1;
        }
        const ssize_t n = ::read(m_fd, data, size_t(maxSize));
        if (n > 0)
            return n;
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        m_ended = true;
        if (n < 0) // else the writer closed its end: the orderly end, no error
            setErrorString(QString::fromLocal8Bit(std::strerror(errno)));
        return -1;
    }
}

bool PipeDevice::waitForReadyRead(int msecs)
{
    return !m_ended && waitReadable(msecs);
}

qint64 PipeDevice::bytesAvailable() const
{
    int n = 0;
    if (m_ended || ::ioctl(m_fd, FIONREAD, &n) < 0)
        n = 0;
    return QIODevice::bytesAvailable() + n;
}

} // namespace h264link
