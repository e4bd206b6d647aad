// The waiting page's choice of addresses over fabricated interface lists
// (plain descriptions, as systemInterfaces() makes them from Qt's): what a
// sender on another machine can reach is offered, container and virtual
// bridges never, loopback only when nothing else is up.
#include "local_addresses.h"

#include <QtTest>

using namespace h264link;

namespace {

InterfaceDescription iface(const QString &name, QStringList addresses, bool up = true, bool running = true)
{
    InterfaceDescription d;
    d.name = name;
    d.up = up;
    d.running = running;
    d.loopback = name == QLatin1String("lo");
    for (const QString &a : addresses)
        d.addresses << QHostAddress(a);
    return d;
}

QStringList texts(const OfferedAddresses &offered)
{
    QStringList out;
    for (const QHostAddress &a : offered.addresses)
        out << hostText(a);
    return out;
}

} // namespace

class TestLocalAddresses : public QObject {
    Q_OBJECT
private slots:
    void lanAddressesWithoutBridges();
    void bridgesByQtType();
    void downInterfacesAreLeftOut();
    void loopbackWhenNothingElse();
    void linkLocalOnlyWhenNothingElse();
    void listenAddressAlone();
    void noInterfacesAtAll();
};

void TestLocalAddresses::lanAddressesWithoutBridges()
{
    const QList<InterfaceDescription> list = {
        iface("lo", {"127.0.0.1", "::1"}),
        iface("docker0", {"172.17.0.1"}),
        iface("br-3f2a9c", {"172.18.0.1"}),
        iface("virbr0", {"192.168.122.1"}),
        iface("veth12ab", {"fe80::1c2:3ff:fe4:5"}),
        iface("lxcbr0", {"10.0.3.1"}),
        iface("cni0", {"10.244.0.1"}),
        iface("flannel.1", {"10.244.0.0"}),
        iface("podman1", {"10.89.0.1"}),
        iface("enp3s0", {"192.168.1.20", "fe80::a00:27ff:fe4e:66a1%enp3s0", "2001:db8::20"}),
        iface("wlp2s0", {"10.0.0.7"}),
    };
    const OfferedAddresses offered = offeredAddresses(list);
    QCOMPARE(texts(offered), (QStringList{"192.168.1.20", "10.0.0.7", "2001:db8::20"})); // IPv4 first
    QCOMPARE(offered.fallback, OfferedAddresses::Fallback::None);
}

void TestLocalAddresses::bridgesByQtType()
{
    InterfaceDescription odd = iface("mybridge", {"10.99.0.1"});
    odd.virtualType = true; // named freely, but Qt says Virtual
    const OfferedAddresses offered = offeredAddresses({odd, iface("eth0", {"192.168.0.5"})});
    QCOMPARE(texts(offered), QStringList{"192.168.0.5"});
    QVERIFY(isVirtualBridge(odd));
    QVERIFY(!isVirtualBridge(iface("eth0", {})));
}

void TestLocalAddresses::downInterfacesAreLeftOut()
{
    const OfferedAddresses offered = offeredAddresses({iface("eth0", {"192.168.0.5"}, true, false), // no carrier
                                                       iface("eth1", {"192.168.7.5"}, false, false),
                                                       iface("wlan0", {"10.1.1.1"})});
    QCOMPARE(texts(offered), QStringList{"10.1.1.1"});
}

void TestLocalAddresses::loopbackWhenNothingElse()
{
    const OfferedAddresses offered = offeredAddresses({iface("lo", {"127.0.0.1", "::1"}),
                                                       iface("docker0", {"172.17.0.1"}),
                                                       iface("eth0", {"192.168.0.5"}, true, false)});
    QCOMPARE(texts(offered), (QStringList{"127.0.0.1", "::1"}));
    QCOMPARE(offered.fallback, OfferedAddresses::Fallback::LoopbackOnly);
}

void TestLocalAddresses::linkLocalOnlyWhenNothingElse()
{
    const OfferedAddresses offered = offeredAddresses({iface("lo", {"127.0.0.1"}),
                                                       iface("eth0", {"fe80::a00:27ff:fe4e:66a1%eth0"})});
    QCOMPARE(offered.fallback, OfferedAddresses::Fallback::LinkLocalOnly);
    QCOMPARE(offered.addresses.size(), 1);
    QVERIFY(offered.addresses.first().isLinkLocal());
}

void TestLocalAddresses::listenAddressAlone()
{
    QCOMPARE(texts(offeredAddresses(QHostAddress("192.168.1.20"))), QStringList{"192.168.1.20"});
    QCOMPARE(offeredAddresses(QHostAddress("192.168.1.20")).fallback, OfferedAddresses::Fallback::None);
    QCOMPARE(offeredAddresses(QHostAddress("127.0.0.1")).fallback, OfferedAddresses::Fallback::LoopbackOnly);
}

void TestLocalAddresses::noInterfacesAtAll()
{
    const OfferedAddresses offered = offeredAddresses(QList<InterfaceDescription>{});
    QCOMPARE(texts(offered), QStringList{"127.0.0.1"});
    QCOMPARE(offered.fallback, OfferedAddresses::Fallback::LoopbackOnly);
}

QTEST_GUILESS_MAIN(TestLocalAddresses)
#include "tst_local_addresses.moc"
