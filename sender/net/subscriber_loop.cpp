#include "net/subscriber_loop.h"

#include "logging.h"
#include "net/subscriber.h"

#include <QCoreApplication>
#include <QMutexLocker>
#include <cerrno>
#include <cstring>
#include <memory>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace h264link {

SubscriberLoop::SubscriberLoop()
{
    m_wakeFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    m_epollFd = ::epoll_create1(EPOLL_CLOEXEC);
    // The loop still runs without them, only later or more often.
    if (m_wakeFd < 0)
        qCWarning(lcSender).noquote() << "fan-out: no eventfd (" << std::strerror(errno)
                                      << "): receivers are served every" << kIdleWaitMs << "ms";
    if (m_epollFd < 0)
        qCWarning(lcSender).noquote() << "fan-out: no epoll (" << std::strerror(errno)
                                      << "): receivers are served every" << kNoEpollTurnMs << "ms";
    if (m_epollFd >= 0 && m_wakeFd >= 0) {
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.ptr = nullptr; // the wake; a subscriber's is its Served
        ::epoll_ctl(m_epollFd, EPOLL_CTL_ADD, m_wakeFd, &event);
    }
    setObjectName(QStringLiteral("fan-out"));
}

SubscriberLoop::~SubscriberLoop()
{
    quit();
    wait();
    if (m_wakeFd >= 0)
        ::close(m_wakeFd);
    if (m_epollFd >= 0)
        ::close(m_epollFd);
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

namespace {

// One streaming subscriber, as the loop knows it.
struct Served {
    Subscriber *subscriber = nullptr;
    int fd = -1;
    uint32_t watched = 0; // what epoll watches its socket for
    short revents = 0;    // what this turn's epoll_wait said of it
};

short toPoll(uint32_t events)
{
    return short(((events & EPOLLIN) ? POLLIN : 0) | ((events & EPOLLOUT) ? POLLOUT : 0)
                 | ((events & EPOLLERR) ? POLLERR : 0) | ((events & EPOLLHUP) ? POLLHUP : 0));
}

uint32_t toEpoll(short events)
{
    return ((events & POLLIN) ? uint32_t(EPOLLIN) : 0u) | ((events & POLLOUT) ? uint32_t(EPOLLOUT) : 0u);
}

} // namespace

void SubscriberLoop::run()
{
    std::vector<std::unique_ptr<Served>> serving;
    std::vector<epoll_event> events;
    const auto leave = [&](Served &served, Subscriber::Outcome outcome) {
        if (m_epollFd >= 0) // before its thread takes the socket back (and closes it)
            ::epoll_ctl(m_epollFd, EPOLL_CTL_DEL, served.fd, nullptr);
        served.subscriber->handBack(outcome);
    };
    for (;;) {
        {
            QMutexLocker locker(&m_lock);
            for (Subscriber *subscriber : m_added) {
                auto served = std::make_unique<Served>();
                served->subscriber = subscriber;
                served->fd = subscriber->pollFd().fd;
                serving.push_back(std::move(served));
            }
            m_added.clear();
        }
        if (m_quit.load()) {
            for (const auto &served : serving)
                leave(*served, Subscriber::Outcome::Finished);
            serving.clear();
            QMutexLocker locker(&m_lock);
            if (m_added.empty())
                return;
            continue; // one came in while we quit: it is handed back too
        }
        // Watch each socket for what it needs now (POLLOUT only while Qt holds bytes).
        for (const auto &served : serving) {
            served->revents = 0;
            const uint32_t wanted = toEpoll(served->subscriber->pollFd().events);
            if (m_epollFd < 0 || wanted == served->watched)
                continue;
            epoll_event event{};
            event.events = wanted;
            event.data.ptr = served.get();
            const int op = served->watched == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
            if (::epoll_ctl(m_epollFd, op, served->fd, &event) == 0)
                served->watched = wanted;
            else
                served->revents = POLLIN | POLLOUT; // not watched: looked at every turn
        }
        if (m_epollFd < 0) {
            QThread::msleep(kNoEpollTurnMs);
            for (const auto &served : serving)
                served->revents = POLLIN | POLLOUT; // service() reads and flushes without blocking
        } else {
            events.resize(serving.size() + 1);
            const int n = ::epoll_wait(m_epollFd, events.data(), int(events.size()), kIdleWaitMs);
            if (n < 0 && errno != EINTR) {
                qCWarning(lcSender).noquote() << "fan-out: epoll_wait failed:" << std::strerror(errno);
                QThread::msleep(10);
            }
            for (int i = 0; i < n; ++i) {
                if (auto *served = static_cast<Served *>(events[size_t(i)].data.ptr))
                    served->revents |= toPoll(events[size_t(i)].events);
                else if (m_wakeFd >= 0) {
                    quint64 count = 0;
                    [[maybe_unused]] const ssize_t got = ::read(m_wakeFd, &count, sizeof count);
                }
            }
        }
        // Qt posts some of a socket's work to its thread (QSslSocket's
        // deferred flush): this thread runs no event loop, so it runs them here.
        QCoreApplication::sendPostedEvents();
        // Every subscriber, not only those with events: a push needs no
        // socket event, and the bounds are time-based.
        size_t kept = 0;
        for (size_t i = 0; i < serving.size(); ++i) {
            if (const auto outcome = serving[i]->subscriber->service(serving[i]->revents))
                leave(*serving[i], *outcome);
            else
                serving[kept++] = std::move(serving[i]);
        }
        serving.resize(kept);
    }
}

} // namespace h264link
