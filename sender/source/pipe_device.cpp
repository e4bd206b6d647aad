#include "source/pipe_device.h"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace h264link {

PipeDevice::PipeDevice(int fd, QObject *parent) : QIODevice(parent), m_fd(fd)
{
}

qint64 PipeDevice::readData(char *data, qint64 maxSize)
{
    if (m_ended)
        return -1;
    for (;;) {
        const ssize_t n = ::read(m_fd, data, size_t(maxSize));
        if (n > 0)
            return n;
        if (n < 0 && errno == EINTR)
            continue;
        m_ended = true;
        if (n < 0) // else the writer closed its end: the orderly end, no error
            setErrorString(QString::fromLocal8Bit(std::strerror(errno)));
        return -1;
    }
}

bool PipeDevice::waitForReadyRead(int msecs)
{
    if (m_ended)
        return false;
    pollfd p{m_fd, POLLIN, 0};
    int ret;
    do
        ret = ::poll(&p, 1, msecs);
    while (ret < 0 && errno == EINTR);
    // POLLHUP with nothing left: the next read says "end".
    return ret > 0;
}

qint64 PipeDevice::bytesAvailable() const
{
    int n = 0;
    if (m_ended || ::ioctl(m_fd, FIONREAD, &n) < 0)
        n = 0;
    return QIODevice::bytesAvailable() + n;
}

} // namespace h264link
