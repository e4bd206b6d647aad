#include "dial_target.h"

#include <QHostAddress>
#include <QUrl>

namespace h264link {

std::optional<HostPort> parseHostPort(const QString &text, quint16 defaultPort, QString *error)
{
    const QString trimmed = text.trimmed();
    if (QHostAddress bare; bare.setAddress(trimmed) && bare.protocol() == QAbstractSocket::IPv6Protocol)
        return HostPort{trimmed, defaultPort}; // its colons are not a port
    const QUrl url(QStringLiteral("tcp://") + trimmed, QUrl::StrictMode);
    // QUrl refuses a port past 65535 as a whole: say which part is wrong.
    const QString afterColon = trimmed.section(QLatin1Char(':'), -1);
    bool numeric = false;
    afterColon.toULongLong(&numeric);
    if (!url.isValid() && trimmed.contains(QLatin1Char(':')) && numeric) {
        *error = QStringLiteral("'%1': the port must be 1-65535").arg(text);
        return std::nullopt;
    }
    if (trimmed.isEmpty() || !url.isValid() || url.host().isEmpty() || !url.path().isEmpty()
        || !url.userInfo().isEmpty() || url.hasQuery() || url.hasFragment()) {
        *error = QStringLiteral("'%1' is not a host: use NAME, NAME:PORT, 192.168.1.7:8264 or [fd00::5]:8264")
                     .arg(text);
        return std::nullopt;
    }
    if (trimmed.endsWith(QLatin1Char(':')) || url.port() == 0) {
        *error = QStringLiteral("'%1': the port must be 1-65535").arg(text);
        return std::nullopt;
    }
    return HostPort{url.host(), url.port() > 0 ? quint16(url.port()) : defaultPort};
}

QString connectFailure(const DialTarget &t, QAbstractSocket::SocketError error, const QString &errorText)
{
    const QString where = QStringLiteral("%1:%2").arg(t.host).arg(t.port);
    switch (error) {
    case QAbstractSocket::HostNotFoundError:
        return QStringLiteral("cannot find host '%1': check the name, or use its IP address").arg(t.host);
    case QAbstractSocket::ConnectionRefusedError:
        return QStringLiteral("connection to %1 refused: is %2 on port %3?").arg(where, t.expected).arg(t.port);
    case QAbstractSocket::SocketTimeoutError:
        return QStringLiteral("no answer from %1 within %2 s: is the host reachable, "
                              "and does a firewall let port %3 through?")
            .arg(where).arg(t.timeoutMs / 1000.0).arg(t.port);
    case QAbstractSocket::NetworkError:
        return QStringLiteral("cannot reach %1: %2 (is this machine on the same network?)").arg(where, errorText);
    default:
        return QStringLiteral("cannot connect to %1: %2").arg(where, errorText);
    }
}

} // namespace h264link
