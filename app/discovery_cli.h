// DNS-SD on the command line. sender --list-receivers and receiver
// --list-senders: browse the LAN for --browse-seconds (ServiceBrowser),
// print what was found, exit.
// One line per service, tab-separated, sorted by name:
//   NAME  HOST  ADDRESS:PORT  key=yes|no  version=N
// Nothing found prints nothing on stdout and a line on stderr; no Avahi
// daemon, its one line, at once. Both exit 0: an empty network is an answer.
#pragma once

#include "service_announcer.h"

#include <QCommandLineOption>
#include <QString>

#include <functional>
#include <memory>

namespace h264link {

QCommandLineOption browseSecondsOption();

// Runs the application's event loop; `what` names them ("receivers").
// Returns the exit code; a bad --browse-seconds is a usage error.
int listDiscovered(const QString &role, const QString &what, const QString &browseSeconds);

// Announces `what` while the returned object lives (the receiver while it
// listens; a serving sender while it serves), and prints through `print`
// (one line, without the app's name) when it is announced, renamed or
// refused:  announced as "NAME" (DNS-SD _h264link._tcp)
std::unique_ptr<ServiceAnnouncer> announceOnLan(const Announcement &what,
                                                std::function<void(const QString &line)> print);

} // namespace h264link
