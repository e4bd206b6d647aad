#include "service_announcer.h"

#include "dns_sd_client.h"
#include "protocol.h"

#include <QSysInfo>

#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>

namespace h264link {

QString ServiceAnnouncer::defaultName(const QString &role)
{
    return QStringLiteral("h264link %1 on %2").arg(role, QSysInfo::machineHostName());
}

ServiceAnnouncer::ServiceAnnouncer(Announcement what, QObject *parent)
    : QObject(parent), m_what(std::move(what)),
      m_name(m_what.name.isEmpty() ? defaultName(m_what.role) : m_what.name),
      m_dns(new DnsSdClient(QStringLiteral("not announcing"), this))
{
    connect(m_dns, &DnsSdClient::running, this, &ServiceAnnouncer::publish);
    connect(m_dns, &DnsSdClient::reset, this, &ServiceAnnouncer::withdraw);
    // Queued: a collision's notice() must reach whoever connects after construction.
    if (m_dns->client())
        QMetaObject::invokeMethod(this, &ServiceAnnouncer::publish, Qt::QueuedConnection);
}

ServiceAnnouncer::~ServiceAnnouncer()
{
    withdraw(); // before m_dns (a child) frees the client
}

void ServiceAnnouncer::withdraw()
{
    if (m_group)
        avahi_entry_group_free(m_group); // unpublishes (a goodbye packet)
    m_group = nullptr;
    m_established = false;
}

void ServiceAnnouncer::rename()
{
    char *next = avahi_alternative_service_name(m_name.toUtf8().constData());
    const QString previous = m_name;
    m_name = QString::fromUtf8(next);
    avahi_free(next);
    emit notice(QStringLiteral("the name \"%1\" is taken on this network: announcing as \"%2\"")
                    .arg(previous, m_name));
    withdraw();
    publish();
}

void ServiceAnnouncer::publish()
{
    AvahiClient *client = m_dns->client();
    if (!client || m_group)
        return;
    m_group = avahi_entry_group_new(client, &ServiceAnnouncer::onGroupState, this);
    if (!m_group) {
        emit notice(QStringLiteral("cannot announce (DNS-SD): %1")
                        .arg(QString::fromUtf8(avahi_strerror(avahi_client_errno(client)))));
        return;
    }
    const QByteArray role = "role=" + m_what.role.toUtf8();
    const QByteArray key = QByteArray("key=") + (m_what.keyNeeded ? "yes" : "no");
    const QByteArray version = "version=" + QByteArray::number(proto::kVersion);
    const QByteArray host = "host=" + QSysInfo::machineHostName().toUtf8();
    const AvahiIfIndex interface = m_what.interfaceIndex < 0 ? AVAHI_IF_UNSPEC : AvahiIfIndex(m_what.interfaceIndex);
    const int error = avahi_entry_group_add_service(
        m_group, interface, AVAHI_PROTO_UNSPEC, AvahiPublishFlags(0), m_name.toUtf8().constData(),
        dnssd::kServiceType, nullptr, nullptr, m_what.port, role.constData(), key.constData(),
        version.constData(), host.constData(), static_cast<const char *>(nullptr));
    if (error == AVAHI_ERR_COLLISION) { // a service of this machine has the name
        rename();
        return;
    }
    if (error < 0 || (avahi_entry_group_commit(m_group) < 0)) {
        const int why = error < 0 ? error : avahi_client_errno(client);
        emit notice(QStringLiteral("cannot announce \"%1\" (DNS-SD): %2")
                        .arg(m_name, QString::fromUtf8(avahi_strerror(why))));
        withdraw();
    }
}

void ServiceAnnouncer::onGroupState(AvahiEntryGroup *group, AvahiEntryGroupState state, void *opaque)
{
    auto *self = static_cast<ServiceAnnouncer *>(opaque);
    if (group != self->m_group && self->m_group) // a group being freed
        return;
    switch (state) {
    case AVAHI_ENTRY_GROUP_ESTABLISHED:
        self->m_established = true;
        emit self->announced(self->m_name);
        break;
    case AVAHI_ENTRY_GROUP_COLLISION: // another host has the name
        // Queued: the group is not freed inside its own callback.
        QMetaObject::invokeMethod(self, &ServiceAnnouncer::rename, Qt::QueuedConnection);
        break;
    case AVAHI_ENTRY_GROUP_FAILURE:
        emit self->notice(QStringLiteral("announcing \"%1\" failed (DNS-SD): %2")
                              .arg(self->m_name, QString::fromUtf8(avahi_strerror(
                                                     avahi_client_errno(avahi_entry_group_get_client(group))))));
        break;
    case AVAHI_ENTRY_GROUP_UNCOMMITED:
    case AVAHI_ENTRY_GROUP_REGISTERING:
        break;
    }
}

} // namespace h264link
