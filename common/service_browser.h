// ServiceBrowser: the h264link senders or receivers announced on the LAN
// (DNS-SD _h264link._tcp through the Avahi daemon), kept up to date for as
// long as the object lives. Each announced name is browsed and resolved per
// interface and IP version (Avahi's unit) and shown once: by its first IPv4
// address, else its IPv6 one. Resolvers stay open, so a changed TXT record
// (the key flag) comes as found() again. Without a daemon the process says
// so once (DnsSdClient) and the list stays empty.
#pragma once

#include <QHostAddress>
#include <QList>
#include <QMap>
#include <QMetaType>
#include <QObject>
#include <QString>

#include <avahi-client/lookup.h>

#include <tuple>

namespace h264link {

class DnsSdClient;

struct DiscoveredService {
    QString name;       // the instance name
    QString role;       // TXT role: receiver, sender
    QString host;       // the host's DNS-SD name, e.g. "studio.local"
    QHostAddress address;
    quint16 port = 0;
    bool keyNeeded = false; // TXT key=yes
    int version = 0;        // TXT version: the highest protocol version it speaks; 0 if none
    bool local = false;     // announced by this machine

    // The address and port as --host and --connect take them ("[v6]:port").
    QString hostPort() const;
    bool operator==(const DiscoveredService &o) const;
};

class ServiceBrowser : public QObject {
    Q_OBJECT
public:
    // Only services whose TXT role is `role` (empty: any).
    explicit ServiceBrowser(const QString &role, QObject *parent = nullptr);
    ~ServiceBrowser() override;

    // What is known now, by name.
    QList<DiscoveredService> services() const;
    // False while there is no daemon to ask.
    bool available() const;

signals:
    void found(const DiscoveredService &service); // new, or changed
    void lost(const QString &name);
    void unavailable(); // no Avahi daemon (the process said so once)

private:
    using Instance = std::tuple<int, int>; // interface, protocol
    struct Entry {
        QMap<Instance, AvahiServiceResolver *> resolvers;
        QMap<Instance, DiscoveredService> resolved;
        bool shown = false;
        DiscoveredService shownAs;
    };

    void startBrowsing();
    void stopBrowsing();
    void update(const QString &name); // shows, changes or drops the entry
    static void onBrowse(AvahiServiceBrowser *b, AvahiIfIndex interface, AvahiProtocol protocol,
                         AvahiBrowserEvent event, const char *name, const char *type, const char *domain,
                         AvahiLookupResultFlags flags, void *self);
    static void onResolve(AvahiServiceResolver *r, AvahiIfIndex interface, AvahiProtocol protocol,
                          AvahiResolverEvent event, const char *name, const char *type, const char *domain,
                          const char *hostName, const AvahiAddress *address, uint16_t port,
                          AvahiStringList *txt, AvahiLookupResultFlags flags, void *self);

    QString m_role;
    DnsSdClient *m_dns;
    AvahiServiceBrowser *m_browser = nullptr;
    QMap<QString, Entry> m_entries;
};

} // namespace h264link

Q_DECLARE_METATYPE(h264link::DiscoveredService)
