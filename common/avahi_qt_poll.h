// AvahiQtPoll: libavahi-client's event loop interface (AvahiPoll) served by
// the Qt event loop of the thread that creates it: file descriptors become
// QSocketNotifiers, timeouts single-shot QTimers. Avahi's callbacks then run
// in that thread, between Qt events, so the announcer and the browser need no
// lock and no thread of their own. (Debian's avahi-qt binding does this for
// Qt 5 only; AvahiThreadedPoll would add a thread, a lock around every call
// and a queued hand-off back to the GUI, for a few packets a minute.)
#pragma once

#include <avahi-common/watch.h>

namespace h264link {

class AvahiQtPoll {
public:
    AvahiQtPoll();
    AvahiQtPoll(const AvahiQtPoll &) = delete;
    AvahiQtPoll &operator=(const AvahiQtPoll &) = delete;

    // For avahi_client_new(); valid as long as this object. Free every
    // Avahi object made with it (the client last) before destroying it.
    const AvahiPoll *poll() const { return &m_poll; }

private:
    AvahiPoll m_poll;
};

} // namespace h264link
