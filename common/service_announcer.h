// ServiceAnnouncer: makes this h264link sender or receiver known on the LAN
// with DNS-SD (_h264link._tcp through the Avahi daemon) for as long as the
// object lives; destroying it withdraws the announcement.
//
//   ServiceAnnouncer announcer({dnssd::kRoleSender, port, keyNeeded});
//
// The TXT record says role=receiver|sender, key=yes|no (whether an access
// key is needed), version (the highest protocol version this build speaks)
// and host (this machine's name). A name another service on the network
// already has becomes "NAME #2" (avahi_alternative_service_name), and so on.
// Without a daemon the process says so once (DnsSdClient) and the caller
// goes on; a daemon that appears later is announced to then.
#pragma once

#include <QObject>
#include <QString>

#include <avahi-client/publish.h>

namespace h264link {

class DnsSdClient;

struct Announcement {
    QString role;           // dnssd::kRoleReceiver or dnssd::kRoleSender
    quint16 port = 0;       // where it listens
    bool keyNeeded = false; // TXT key=yes|no
    QString name;           // the instance name; empty: "h264link ROLE on HOST"
    int interfaceIndex = -1; // only on this interface (--listen ADDRESS); -1: all
};

class ServiceAnnouncer : public QObject {
    Q_OBJECT
public:
    explicit ServiceAnnouncer(Announcement what, QObject *parent = nullptr);
    ~ServiceAnnouncer() override;

    // The name now announced (after any collision), empty until then.
    QString announcedName() const { return m_established ? m_name : QString(); }

    // The instance name used when Announcement::name is empty.
    static QString defaultName(const QString &role);

signals:
    // The daemon confirmed the name: others on the network can find it now.
    void announced(const QString &name);
    // A line for the person (the daemon refused the record).
    void notice(const QString &line);

private:
    void publish();
    void withdraw();
    void rename(); // the name is taken: the next alternative, published again
    static void onGroupState(AvahiEntryGroup *group, AvahiEntryGroupState state, void *self);

    Announcement m_what;
    QString m_name;
    DnsSdClient *m_dns;
    AvahiEntryGroup *m_group = nullptr;
    bool m_established = false;
};

} // namespace h264link
