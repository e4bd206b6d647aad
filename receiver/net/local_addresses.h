// LocalAddresses: which of this machine's addresses to offer a sender on
// another machine (the waiting page, its QR code). Pure choice over plain
// descriptions, so that a test can hand it any set of interfaces; the
// system's own come from systemInterfaces().
//
// Offered: addresses of interfaces that are up and running, IPv4 first,
// then IPv6. Left out: loopback, container and virtual bridges (docker0,
// br-…, virbr0, veth…, by name; and what Qt reports as Virtual), and IPv6
// link-local (fe80::): it needs a %scope naming the *sending* machine's
// interface, which the receiver cannot know, so printing ours would mislead.
// When nothing is left, link-local addresses are offered, then loopback
// (a sender on this machine only), and `fallback` says which.
#pragma once

#include <QHostAddress>
#include <QList>
#include <QString>

namespace h264link {

struct InterfaceDescription {
    QString name;              // "eth0", "docker0"
    bool up = false;           // QNetworkInterface::IsUp
    bool running = false;      // QNetworkInterface::IsRunning
    bool loopback = false;     // IsLoopBack or type Loopback
    bool virtualType = false;  // type Virtual
    QList<QHostAddress> addresses;
};

struct OfferedAddresses {
    enum class Fallback { None, LinkLocalOnly, LoopbackOnly };
    QList<QHostAddress> addresses; // best first
    Fallback fallback = Fallback::None;
};

// True for the interfaces of containers and virtual machines' bridges.
bool isVirtualBridge(const InterfaceDescription &interface);

OfferedAddresses offeredAddresses(const QList<InterfaceDescription> &interfaces);

// With --listen ADDRESS: only that one (loopback is flagged as such).
OfferedAddresses offeredAddresses(const QHostAddress &listenAddress);

QList<InterfaceDescription> systemInterfaces();

// How a person types it after --host: IPv6 without brackets, scope kept.
QString hostText(const QHostAddress &address);

} // namespace h264link
