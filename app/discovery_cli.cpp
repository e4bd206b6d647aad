#include "discovery_cli.h"

#include "dns_sd_client.h"

#include "exit_codes.h"
#include "service_browser.h"

#include <QCoreApplication>
#include <QTimer>

#include <algorithm>
#include <cstdio>

namespace h264link {

QCommandLineOption browseSecondsOption()
{
    return QCommandLineOption("browse-seconds", "How long --list-* listens for announcements (default 3; "
                              "announcements answer in about a second).", "seconds", "3");
}

int listDiscovered(const QString &role, const QString &what, const QString &browseSeconds)
{
    const QByteArray appName = QCoreApplication::applicationName().toUtf8();
    const char *app = appName.constData();
    bool ok = false;
    const double seconds = browseSeconds.toDouble(&ok);
    if (!ok || seconds < 0.1 || seconds > 3600) {
        std::fprintf(stderr, "%s: --browse-seconds '%s': use a number of seconds from 0.1 to 3600\n", app,
                     qUtf8Printable(browseSeconds));
        return ExitUsage;
    }
    ServiceBrowser browser(role);
    QTimer::singleShot(int(seconds * 1000), qApp, &QCoreApplication::quit);
    QObject::connect(&browser, &ServiceBrowser::unavailable, qApp, &QCoreApplication::quit);
    if (browser.available())
        QCoreApplication::exec();

    QList<DiscoveredService> found = browser.services();
    std::sort(found.begin(), found.end(),
              [](const DiscoveredService &a, const DiscoveredService &b) { return a.name < b.name; });
    for (const DiscoveredService &s : std::as_const(found))
        std::fprintf(stdout, "%s\t%s\t%s\tkey=%s\tversion=%d\n", qUtf8Printable(s.name), qUtf8Printable(s.host),
                     qUtf8Printable(s.hostPort()), s.keyNeeded ? "yes" : "no", s.version);
    std::fflush(stdout);
    if (found.isEmpty() && browser.available())
        std::fprintf(stderr, "%s: no %s found on this network in %g s\n", app, qUtf8Printable(what), seconds);
    return ExitOk;
}

std::unique_ptr<ServiceAnnouncer> announceOnLan(const Announcement &what,
                                                std::function<void(const QString &line)> print)
{
    auto announcer = std::make_unique<ServiceAnnouncer>(what);
    QObject::connect(announcer.get(), &ServiceAnnouncer::announced, [print](const QString &name) {
        print(QStringLiteral("announced as \"%1\" (DNS-SD %2)").arg(name, QLatin1String(dnssd::kServiceType)));
    });
    QObject::connect(announcer.get(), &ServiceAnnouncer::notice, print);
    return announcer;
}

} // namespace h264link
