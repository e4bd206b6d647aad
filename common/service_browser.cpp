#include "service_browser.h"

#include "dns_sd_client.h"
#include "logging.h"

#include <QNetworkInterface>

#include <avahi-common/error.h>
#include <avahi-common/malloc.h>

namespace h264link {

QString DiscoveredService::hostPort() const
{
    const QString a = address.toString();
    return (address.protocol() == QAbstractSocket::IPv6Protocol ? QStringLiteral("[%1]").arg(a) : a)
        + QLatin1Char(':') + QString::number(port);
}

bool DiscoveredService::operator==(const DiscoveredService &o) const
{
    return name == o.name && role == o.role && host == o.host && address == o.address && port == o.port
        && keyNeeded == o.keyNeeded && version == o.version && local == o.local;
}

namespace {

QString txtValue(AvahiStringList *txt, const char *key)
{
    AvahiStringList *item = avahi_string_list_find(txt, key);
    char *k = nullptr;
    char *v = nullptr;
    if (!item || avahi_string_list_get_pair(item, &k, &v, nullptr) < 0)
        return {};
    const QString value = v ? QString::fromUtf8(v) : QString();
    avahi_free(k);
    avahi_free(v);
    return value;
}

// Shown by the first IPv4 address, else the first IPv6 one (link-local ones
// last: they need their interface).
int preference(const DiscoveredService &s)
{
    if (s.address.protocol() == QAbstractSocket::IPv4Protocol)
        return 0;
    return s.address.isLinkLocal() ? 2 : 1;
}

} // namespace

ServiceBrowser::ServiceBrowser(const QString &role, QObject *parent)
    : QObject(parent), m_role(role), m_dns(new DnsSdClient(QStringLiteral("not listing what is on the network"), this))
{
    connect(m_dns, &DnsSdClient::running, this, &ServiceBrowser::startBrowsing);
    connect(m_dns, &DnsSdClient::reset, this, &ServiceBrowser::stopBrowsing);
    connect(m_dns, &DnsSdClient::unavailable, this, &ServiceBrowser::unavailable);
    if (m_dns->client())
        startBrowsing();
}

ServiceBrowser::~ServiceBrowser()
{
    // Quietly: no lost() to listeners that may be half destroyed (a parent widget).
    for (Entry &e : m_entries)
        for (AvahiServiceResolver *r : std::as_const(e.resolvers))
            avahi_service_resolver_free(r);
    if (m_browser)
        avahi_service_browser_free(m_browser);
}

bool ServiceBrowser::available() const
{
    return m_dns->available();
}

QList<DiscoveredService> ServiceBrowser::services() const
{
    QList<DiscoveredService> list;
    for (const Entry &e : m_entries)
        if (e.shown)
            list << e.shownAs;
    return list;
}

void ServiceBrowser::startBrowsing()
{
    if (m_browser || !m_dns->client())
        return;
    m_browser = avahi_service_browser_new(m_dns->client(), AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, dnssd::kServiceType,
                                          nullptr, AvahiLookupFlags(0), &ServiceBrowser::onBrowse, this);
    if (!m_browser)
        qCWarning(lcDiscovery).noquote() << "cannot browse" << dnssd::kServiceType << ':'
                                         << avahi_strerror(avahi_client_errno(m_dns->client()));
}

void ServiceBrowser::stopBrowsing()
{
    // The daemon went away (or is renaming this host): what it said is void.
    const QStringList names = m_entries.keys();
    for (Entry &e : m_entries)
        for (AvahiServiceResolver *r : std::as_const(e.resolvers))
            avahi_service_resolver_free(r);
    for (const QString &name : names) {
        const bool shown = m_entries[name].shown;
        m_entries.remove(name);
        if (shown)
            emit lost(name);
    }
    if (m_browser)
        avahi_service_browser_free(m_browser);
    m_browser = nullptr;
}

void ServiceBrowser::update(const QString &name)
{
    auto it = m_entries.find(name);
    if (it == m_entries.end())
        return;
    Entry &e = *it;
    const DiscoveredService *best = nullptr;
    for (const DiscoveredService &s : std::as_const(e.resolved))
        if ((m_role.isEmpty() || s.role == m_role) && (!best || preference(s) < preference(*best)))
            best = &s;
    if (best) {
        if (!e.shown || !(e.shownAs == *best)) {
            e.shown = true;
            e.shownAs = *best;
            emit found(e.shownAs);
        }
    } else if (e.shown) {
        e.shown = false;
        emit lost(name);
    }
    if (e.resolvers.isEmpty())
        m_entries.erase(it);
}

void ServiceBrowser::onBrowse(AvahiServiceBrowser *b, AvahiIfIndex interface, AvahiProtocol protocol,
                              AvahiBrowserEvent event, const char *name, const char *type, const char *domain,
                              AvahiLookupResultFlags, void *opaque)
{
    auto *self = static_cast<ServiceBrowser *>(opaque);
    const Instance instance{interface, protocol};
    switch (event) {
    case AVAHI_BROWSER_NEW: {
        Entry &e = self->m_entries[QString::fromUtf8(name)];
        if (e.resolvers.contains(instance))
            break;
        // Kept open: a TXT change comes as another FOUND.
        AvahiServiceResolver *r = avahi_service_resolver_new(
            avahi_service_browser_get_client(b), interface, protocol, name, type, domain, protocol,
            AvahiLookupFlags(0), &ServiceBrowser::onResolve, self);
        if (r)
            e.resolvers.insert(instance, r);
        else
            qCWarning(lcDiscovery).noquote() << "cannot resolve" << name << ':'
                                             << avahi_strerror(avahi_client_errno(avahi_service_browser_get_client(b)));
        break;
    }
    case AVAHI_BROWSER_REMOVE: {
        const QString key = QString::fromUtf8(name);
        auto it = self->m_entries.find(key);
        if (it == self->m_entries.end())
            break;
        if (AvahiServiceResolver *r = it->resolvers.take(instance))
            avahi_service_resolver_free(r);
        it->resolved.remove(instance);
        self->update(key);
        break;
    }
    case AVAHI_BROWSER_FAILURE:
        qCWarning(lcDiscovery).noquote() << "browsing failed:"
                                         << avahi_strerror(avahi_client_errno(avahi_service_browser_get_client(b)));
        break;
    case AVAHI_BROWSER_CACHE_EXHAUSTED:
    case AVAHI_BROWSER_ALL_FOR_NOW:
        break;
    }
}

void ServiceBrowser::onResolve(AvahiServiceResolver *r, AvahiIfIndex interface, AvahiProtocol protocol,
                               AvahiResolverEvent event, const char *name, const char *, const char *,
                               const char *hostName, const AvahiAddress *address, uint16_t port,
                               AvahiStringList *txt, AvahiLookupResultFlags flags, void *opaque)
{
    auto *self = static_cast<ServiceBrowser *>(opaque);
    const QString key = QString::fromUtf8(name);
    auto it = self->m_entries.find(key);
    if (it == self->m_entries.end())
        return;
    const Instance instance{interface, protocol};
    if (event != AVAHI_RESOLVER_FOUND) {
        // Timed out or gone: not reachable this way (the resolver stays
        // open and reports it if it comes back).
        qCDebug(lcDiscovery).noquote() << "cannot resolve" << key << ':'
                                       << avahi_strerror(avahi_client_errno(avahi_service_resolver_get_client(r)));
        it->resolved.remove(instance);
        self->update(key);
        return;
    }
    char text[AVAHI_ADDRESS_STR_MAX];
    avahi_address_snprint(text, sizeof text, address);
    DiscoveredService s;
    s.name = key;
    s.role = txtValue(txt, "role");
    s.host = QString::fromUtf8(hostName);
    s.address = QHostAddress(QString::fromLatin1(text));
    if (s.address.protocol() == QAbstractSocket::IPv6Protocol && s.address.isLinkLocal())
        s.address.setScopeId(QNetworkInterface::interfaceNameFromIndex(interface));
    s.port = port;
    s.keyNeeded = txtValue(txt, "key") == QLatin1String("yes");
    s.version = txtValue(txt, "version").toInt();
    s.local = flags & AVAHI_LOOKUP_RESULT_LOCAL;
    it->resolved.insert(instance, s);
    self->update(key);
}

} // namespace h264link
