#include "net/subscriber_loop.h"

#include "logging.h"
#include "net/subscriber.h"

#include <QCoreApplication>
#include <QMutexLocker>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace h264link {

SubscriberLoop::SubscriberLoop()
{
    m_wakeFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m_wakeFd < 0) // the loop still runs: every kIdleWaitMs instead of at once
        qCWarning(lcSender).noquote() << "fan-out: no eventfd (" << std::strerror(errno)
                                      << "): receivers are served every" << kIdleWaitMs << "ms";
    setObjectName(QStringLiteral("fan-out"));
}

SubscriberLoop::~SubscriberLoop()
{
    quit();
    wait();
    if (m_wakeFd >= 0)
        ::close(m_wakeFd);
}

void SubscriberLoop::add(Subscriber *subscriber)
{
    {
        QMutexLocker locker(&m_lock);
        m_added.push_back(subscriber);
    }
    wake();
}

void SubscriberLoop::wake()
{
    if (m_wakeFd < 0)
        return;
    const quint64 one = 1;
    [[maybe_unused]] const ssize_t n = ::write(m_wakeFd, &one, sizeof one);
}

void SubscriberLoop::quit()
{
    m_quit.store(true);
    wake();
}

void SubscriberLoop::run()
{
    std::vector<Subscriber *> serving;
    std::vector<pollfd> fds;
    for (;;) {
        {
            QMutexLocker locker(&m_lock);
            serving.insert(serving.end(), m_added.begin(), m_added.end());
            m_added.clear();
        }
        if (m_quit.load()) {
            for (Subscriber *subscriber : serving)
                subscriber->handBack(Subscriber::Outcome::Finished);
            QMutexLocker locker(&m_lock);
            if (m_added.empty())
                return;
            continue; // one came in while we quit: it is handed back too
        }
        fds.assign(1, {m_wakeFd, POLLIN, 0});
        for (Subscriber *subscriber : serving)
            fds.push_back(subscriber->pollFd());
        if (::poll(fds.data(), nfds_t(fds.size()), kIdleWaitMs) < 0 && errno != EINTR) {
            qCWarning(lcSender).noquote() << "fan-out: poll failed:" << std::strerror(errno);
            QThread::msleep(10);
            continue;
        }
        if (fds[0].revents & POLLIN) {
            quint64 count = 0;
            [[maybe_unused]] const ssize_t n = ::read(m_wakeFd, &count, sizeof count);
        }
        // Qt posts some of a socket's work to its thread (QSslSocket's
        // deferred flush): this thread runs no event loop, so it runs them here.
        QCoreApplication::sendPostedEvents();
        // Every subscriber, not only those with revents: a push needs no
        // socket event, and the bounds are time-based.
        size_t kept = 0;
        for (size_t i = 0; i < serving.size(); ++i) {
            Subscriber *subscriber = serving[i];
            if (const auto outcome = subscriber->service(fds[i + 1].revents))
                subscriber->handBack(*outcome);
            else
                serving[kept++] = subscriber;
        }
        serving.resize(kept);
    }
}

} // namespace h264link
