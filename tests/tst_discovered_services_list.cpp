// DiscoveredServicesList, the sender window's receivers and the receiver
// window's senders found on the LAN: rows sorted by name, a changed
// announcement updates its row, a withdrawn one goes, picking a row gives
// back the service, and without a daemon the title says so. Fed by hand (no
// daemon needed); the browser itself is tested against real avahi-daemons by
// dns_sd_netns.sh.
#include "discovered_services_list.h"

#include <QApplication>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSignalSpy>
#include <QTest>

using namespace h264link;

class TestDiscoveredServicesList : public QObject {
    Q_OBJECT

    static DiscoveredService service(const QString &name, const QString &address, quint16 port, bool key)
    {
        DiscoveredService s;
        s.name = name;
        s.role = QStringLiteral("receiver");
        s.host = name.section(QLatin1Char(' '), -1) + QStringLiteral(".local");
        s.address = QHostAddress(address);
        s.port = port;
        s.keyNeeded = key;
        s.version = 3;
        return s;
    }

private slots:
    void rowsSortedUpdatedRemoved()
    {
        DiscoveredServicesList list(QStringLiteral("Receivers on this network"), QStringLiteral("Use"));
        list.add(service("room b", "10.0.0.2", 8264, false));
        list.add(service("room a", "10.0.0.1", 8300, true));
        list.add(service("room c", "fd00::3", 8264, false));
        QCOMPARE(list.count(), 3);
        QVERIFY(list.rowText(0).startsWith("room a"));
        QVERIFY(list.rowText(0).contains("10.0.0.1:8300"));
        QVERIFY(list.rowText(0).contains("key"));
        QVERIFY(!list.rowText(1).contains("key"));
        QVERIFY(list.rowText(2).contains("[fd00::3]:8264"));

        // The same name again: its row changes, no new row.
        list.add(service("room b", "10.0.0.2", 8264, true));
        QCOMPARE(list.count(), 3);
        QVERIFY(list.rowText(1).startsWith("room b"));
        QVERIFY(list.rowText(1).contains("key"));

        list.remove("room a");
        QCOMPARE(list.count(), 2);
        QVERIFY(list.rowText(0).startsWith("room b"));
        list.remove("not there"); // ignored
        QCOMPARE(list.count(), 2);
    }

    void pickingGivesTheService()
    {
        DiscoveredServicesList list(QStringLiteral("Senders on this network"), QStringLiteral("Connect"));
        list.show();
        QVERIFY(QTest::qWaitForWindowExposed(&list));
        auto *view = list.findChild<QListWidget *>("discoveredServices");
        auto *button = list.findChild<QPushButton *>();
        QVERIFY(view && button);
        QVERIFY(!button->isEnabled()); // nothing to pick
        list.add(service("hall x", "10.1.1.1", 8264, false));
        list.add(service("hall y", "10.1.1.2", 9000, true));
        QSignalSpy picked(&list, &DiscoveredServicesList::picked);

        view->setCurrentRow(1);
        QVERIFY(button->isEnabled());
        QTest::mouseClick(button, Qt::LeftButton);
        QCOMPARE(picked.count(), 1);
        const auto chosen = picked.takeFirst().at(0).value<DiscoveredService>();
        QCOMPARE(chosen.name, QStringLiteral("hall y"));
        QCOMPARE(chosen.hostPort(), QStringLiteral("10.1.1.2:9000"));
        QVERIFY(chosen.keyNeeded);

        // Activating a row (Return, or a double-click) picks as well.
        view->setCurrentRow(0);
        view->setFocus();
        QTest::keyClick(view, Qt::Key_Return);
        QCOMPARE(picked.count(), 1);
        QCOMPARE(picked.last().at(0).value<DiscoveredService>().name, QStringLiteral("hall x"));
    }

    void saysWhenThereIsNoDaemon()
    {
        DiscoveredServicesList list(QStringLiteral("Senders on this network"), QStringLiteral("Connect"));
        list.setUnavailable();
        auto *heading = list.findChild<QLabel *>();
        QVERIFY(heading);
        QVERIFY(heading->text().contains("no Avahi daemon here"));
        QCOMPARE(list.count(), 0);
        QVERIFY(list.findChild<QListWidget *>("discoveredServices")->isHidden()); // the line alone
        list.add(service("late", "10.2.2.2", 8264, false)); // a daemon that came later
        QVERIFY(!list.findChild<QListWidget *>("discoveredServices")->isHidden());
        QVERIFY(!heading->text().contains("no Avahi daemon here"));
    }
};

QTEST_MAIN(TestDiscoveredServicesList)
#include "tst_discovered_services_list.moc"
