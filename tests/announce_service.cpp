// announce_service: the test hook of announceOnLan() (ServiceAnnouncer), the
// call a serving sender announces itself with. Announces one h264link
// service until SIGTERM or SIGINT, printing its lines on stdout:
// `announced as "NAME" (DNS-SD _h264link._tcp)` each time the daemon confirms it.
//   announce_service ROLE PORT yes|no [NAME]
#include "discovery_cli.h"
#include "signal_watcher.h"

#include <QCoreApplication>
#include <cstdio>

using namespace h264link;

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments().mid(1);
    bool ok = false;
    const uint port = args.value(1).toUInt(&ok);
    if (args.size() < 3 || !ok || port == 0 || port > 65535
        || (args[2] != QLatin1String("yes") && args[2] != QLatin1String("no"))) {
        std::fprintf(stderr, "usage: announce_service receiver|sender PORT yes|no [NAME]\n");
        return 64;
    }
    Announcement what;
    what.role = args[0];
    what.port = quint16(port);
    what.keyNeeded = args[2] == QLatin1String("yes");
    what.name = args.value(3);
    const auto announcer = announceOnLan(what, [](const QString &line) {
        std::fprintf(stdout, "%s\n", qUtf8Printable(line));
        std::fflush(stdout);
    });
    SignalWatcher watcher;
    QObject::connect(&watcher, &SignalWatcher::terminationRequested, &app, &QCoreApplication::quit);
    return app.exec();
}
