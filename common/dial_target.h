// The peer an app dials: its address as a person types it, and why a TCP
// connection to it could not be made, as a sentence that says what to
// check. Both apps dial: the sender a listening receiver (--host), the
// receiver a serving sender (--connect).
#pragma once

#include <QAbstractSocket>
#include <QString>
#include <optional>

namespace h264link {

struct DialTarget {
    QString host;
    quint16 port = 0;
    int timeoutMs = 0;
    // What should be listening there, e.g. "the receiver running and
    // listening" or "a sender running with --serve".
    QString expected;
};

struct HostPort {
    QString host; // a name, or an address (IPv6 without brackets)
    quint16 port = 0;
};

// "host", "host:port", "192.168.1.7:8300", "[fd00::5]:8300" or a bare IPv6
// address; nullopt, with *error saying what is wrong, otherwise.
std::optional<HostPort> parseHostPort(const QString &text, quint16 defaultPort, QString *error);

QString connectFailure(const DialTarget &target, QAbstractSocket::SocketError error, const QString &errorText);

} // namespace h264link
