#include "local_addresses.h"

#include <QNetworkInterface>

namespace h264link {
namespace {

// Name prefixes of interfaces that only containers or local virtual machines
// reach: Docker, Podman, libvirt, LXC/LXD, Kubernetes CNI plugins, VirtualBox,
// VMware host-only networks.
constexpr const char *kVirtualPrefixes[] = {"docker", "br-", "virbr", "veth", "lxc", "lxdbr", "cni", "flannel",
                                            "podman", "cali", "weave", "kube", "vboxnet", "vmnet"};

bool isLinkLocal(const QHostAddress &a)
{
    return a.protocol() == QAbstractSocket::IPv6Protocol && a.isLinkLocal();
}

} // namespace

bool isVirtualBridge(const InterfaceDescription &interface)
{
    if (interface.virtualType)
        return true;
    for (const char *prefix : kVirtualPrefixes) {
        if (interface.name.startsWith(QLatin1String(prefix)))
            return true;
    }
    return false;
}

OfferedAddresses offeredAddresses(const QList<InterfaceDescription> &interfaces)
{
    QList<QHostAddress> v4, v6, linkLocal, loopback;
    for (const InterfaceDescription &i : interfaces) {
        if (!i.up || !i.running)
            continue;
        const bool isLoopback = i.loopback;
        if (!isLoopback && isVirtualBridge(i))
            continue;
        for (const QHostAddress &a : i.addresses) {
            if (isLoopback || a.isLoopback())
                loopback << a;
            else if (isLinkLocal(a))
                linkLocal << a;
            else if (a.protocol() == QAbstractSocket::IPv4Protocol)
                v4 << a;
            else if (a.protocol() == QAbstractSocket::IPv6Protocol)
                v6 << a;
        }
    }
    OfferedAddresses offered;
    offered.addresses = v4 + v6;
    if (offered.addresses.isEmpty() && !linkLocal.isEmpty()) {
        offered.addresses = linkLocal;
        offered.fallback = OfferedAddresses::Fallback::LinkLocalOnly;
    }
    if (offered.addresses.isEmpty()) {
        // Nothing may be up at all: 127.0.0.1 still works on this machine.
        offered.addresses = loopback.isEmpty() ? QList<QHostAddress>{QHostAddress(QHostAddress::LocalHost)}
                                               : loopback;
        offered.fallback = OfferedAddresses::Fallback::LoopbackOnly;
    }
    return offered;
}

OfferedAddresses offeredAddresses(const QHostAddress &listenAddress)
{
    OfferedAddresses offered;
    offered.addresses = {listenAddress};
    if (listenAddress.isLoopback())
        offered.fallback = OfferedAddresses::Fallback::LoopbackOnly;
    else if (isLinkLocal(listenAddress))
        offered.fallback = OfferedAddresses::Fallback::LinkLocalOnly;
    return offered;
}

QList<InterfaceDescription> systemInterfaces()
{
    QList<InterfaceDescription> list;
    for (const QNetworkInterface &n : QNetworkInterface::allInterfaces()) {
        InterfaceDescription d;
        d.name = n.name();
        d.up = n.flags().testFlag(QNetworkInterface::IsUp);
        d.running = n.flags().testFlag(QNetworkInterface::IsRunning);
        d.loopback = n.flags().testFlag(QNetworkInterface::IsLoopBack) || n.type() == QNetworkInterface::Loopback;
        d.virtualType = n.type() == QNetworkInterface::Virtual;
        for (const QNetworkAddressEntry &e : n.addressEntries())
            d.addresses << e.ip();
        list << d;
    }
    return list;
}

QString hostText(const QHostAddress &address)
{
    return address.toString();
}

} // namespace h264link
