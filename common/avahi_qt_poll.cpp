#include "avahi_qt_poll.h"

#include <QSocketNotifier>
#include <QTimer>

#include <avahi-common/timeval.h>


// The structs Avahi declares opaque and each AvahiPoll implementation defines.
// A watch or timeout may be freed from inside its own callback: its Qt
// objects are disabled at once and deleted later, and nothing touches the
// struct after the callback returns.
struct AvahiWatch {
    int fd;
    AvahiWatchEvent wanted = AvahiWatchEvent(0);
    AvahiWatchEvent happened = AvahiWatchEvent(0); // what the running callback was called for
    AvahiWatchCallback callback;
    void *userdata;
    QSocketNotifier *read = nullptr;
    QSocketNotifier *write = nullptr;
};

struct AvahiTimeout {
    AvahiTimeoutCallback callback;
    void *userdata;
    QTimer *timer = nullptr;
};

namespace h264link {
namespace {

void fire(AvahiWatch *w, AvahiWatchEvent event)
{
    w->happened = event;
    w->callback(w, w->fd, event, w->userdata); // may free w
}

void watchUpdate(AvahiWatch *w, AvahiWatchEvent event)
{
    w->wanted = event;
    w->read->setEnabled(event & AVAHI_WATCH_IN);
    w->write->setEnabled(event & AVAHI_WATCH_OUT);
}

AvahiWatch *watchNew(const AvahiPoll *, int fd, AvahiWatchEvent event, AvahiWatchCallback callback, void *userdata)
{
    auto *w = new AvahiWatch{fd, AvahiWatchEvent(0), AvahiWatchEvent(0), callback, userdata};
    w->read = new QSocketNotifier(fd, QSocketNotifier::Read);
    w->write = new QSocketNotifier(fd, QSocketNotifier::Write);
    QObject::connect(w->read, &QSocketNotifier::activated, [w] { fire(w, AVAHI_WATCH_IN); });
    QObject::connect(w->write, &QSocketNotifier::activated, [w] { fire(w, AVAHI_WATCH_OUT); });
    watchUpdate(w, event);
    return w;
}

AvahiWatchEvent watchGetEvents(AvahiWatch *w)
{
    return w->happened;
}

void watchFree(AvahiWatch *w)
{
    for (QSocketNotifier *n : {w->read, w->write}) {
        n->setEnabled(false);
        n->deleteLater();
    }
    delete w;
}

void timeoutUpdate(AvahiTimeout *t, const struct timeval *tv)
{
    if (!tv) { // Avahi's way of saying "disarm"
        t->timer->stop();
        return;
    }
    // tv is absolute (gettimeofday); avahi_age() is now - tv, in microseconds.
    const AvahiUsec age = avahi_age(tv);
    t->timer->start(age >= 0 ? 0 : int((-age + 999) / 1000));
}

AvahiTimeout *timeoutNew(const AvahiPoll *, const struct timeval *tv, AvahiTimeoutCallback callback, void *userdata)
{
    auto *t = new AvahiTimeout{callback, userdata};
    t->timer = new QTimer;
    t->timer->setSingleShot(true);
    t->timer->setTimerType(Qt::PreciseTimer);
    QObject::connect(t->timer, &QTimer::timeout, [t] { t->callback(t, t->userdata); }); // may free t
    timeoutUpdate(t, tv);
    return t;
}

void timeoutFree(AvahiTimeout *t)
{
    t->timer->stop();
    t->timer->deleteLater();
    delete t;
}

} // namespace

AvahiQtPoll::AvahiQtPoll()
    : m_poll{this, watchNew, watchUpdate, watchGetEvents, watchFree, timeoutNew, timeoutUpdate, timeoutFree}
{
}

} // namespace h264link
