#include "dns_sd_client.h"

#include "avahi_qt_poll.h"

#include <QCoreApplication>

#include <avahi-common/error.h>

#include <atomic>
#include <cstdio>

namespace h264link {

void dnssd::noticeNoDaemon(const QString &what)
{
    static std::atomic<bool> said{false};
    if (said.exchange(true))
        return;
    std::fprintf(stderr, "%s: no Avahi daemon here: %s; type the address\n",
                 qUtf8Printable(QCoreApplication::applicationName()), qUtf8Printable(what));
    std::fflush(stderr);
}

DnsSdClient::DnsSdClient(const QString &what, QObject *parent)
    : QObject(parent), m_what(what), m_poll(std::make_unique<AvahiQtPoll>())
{
    connectToDaemon();
}

void DnsSdClient::connectToDaemon()
{
    if (m_client) {
        avahi_client_free(m_client);
        m_client = nullptr;
    }
    int error = 0;
    // NO_FAIL: with no daemon this still returns a client, in CONNECTING,
    // which connects when a daemon appears. It returns null only without a
    // system bus at all. The state callback runs from inside this call.
    m_client = avahi_client_new(m_poll->poll(), AVAHI_CLIENT_NO_FAIL, &DnsSdClient::onState, this, &error);
    if (!m_client) {
        m_available = false;
        dnssd::noticeNoDaemon(m_what);
        // Queued: from the constructor, nobody is connected yet.
        QMetaObject::invokeMethod(this, &DnsSdClient::unavailable, Qt::QueuedConnection);
    }
}

DnsSdClient::~DnsSdClient()
{
    if (m_client)
        avahi_client_free(m_client); // frees its groups, browsers and resolvers too
}

void DnsSdClient::onState(AvahiClient *client, AvahiClientState state, void *opaque)
{
    auto *self = static_cast<DnsSdClient *>(opaque);
    self->m_client = client; // the first call comes before avahi_client_new() returns
    switch (state) {
    case AVAHI_CLIENT_S_RUNNING:
        self->m_running = true;
        self->m_available = true;
        emit self->running();
        break;
    case AVAHI_CLIENT_S_COLLISION:
    case AVAHI_CLIENT_S_REGISTERING:
        // The daemon is renaming this host: published records must be
        // withdrawn now and published again when it runs.
        if (self->m_running) {
            self->m_running = false;
            emit self->reset();
        }
        break;
    case AVAHI_CLIENT_CONNECTING: // no daemon (yet), or it went away
        if (self->m_running) {
            self->m_running = false;
            emit self->reset();
        }
        self->m_available = false;
        dnssd::noticeNoDaemon(self->m_what);
        // Queued: during avahi_client_new() nobody is connected yet.
        QMetaObject::invokeMethod(self, &DnsSdClient::unavailable, Qt::QueuedConnection);
        break;
    case AVAHI_CLIENT_FAILURE:
        if (self->m_running) {
            self->m_running = false;
            emit self->reset();
        }
        self->m_available = false;
        if (avahi_client_errno(client) == AVAHI_ERR_DISCONNECTED) {
            // The daemon stopped: this client is spent. A new one (queued:
            // not freed inside its own callback) waits for the next daemon.
            QMetaObject::invokeMethod(self, &DnsSdClient::connectToDaemon, Qt::QueuedConnection);
            break;
        }
        dnssd::noticeNoDaemon(self->m_what + QStringLiteral(" (") +
                              QString::fromUtf8(avahi_strerror(avahi_client_errno(client))) + QLatin1Char(')'));
        QMetaObject::invokeMethod(self, &DnsSdClient::unavailable, Qt::QueuedConnection);
        break;
    }
}

} // namespace h264link
