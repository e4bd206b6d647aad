// DnsSdClient: one connection to the Avahi daemon (libavahi-client over the
// D-Bus system bus), on the Qt event loop of the thread that creates it.
// The announcer and the browser each own one. Created with
// AVAHI_CLIENT_NO_FAIL: a daemon that is not there yet, or restarts, is
// waited for in the background (running() again), never blocked on.
//
// Where there is no daemon (or no system bus), the process says so once, on
// stderr as "APP: no Avahi daemon here: ...; type the address", whoever
// asked first (the announcer or a browser), and everything else goes on.
#pragma once

#include <QObject>
#include <QString>

#include <avahi-client/client.h>

#include <memory>

namespace h264link {

class AvahiQtPoll;

namespace dnssd {
// The DNS-SD service type of every h264link sender and receiver.
inline constexpr const char *kServiceType = "_h264link._tcp";
// What "role" says in the TXT record.
inline constexpr const char *kRoleReceiver = "receiver";
inline constexpr const char *kRoleSender = "sender";

// "no Avahi daemon here: WHAT; type the address", once per process (the
// first caller's WHAT), on stderr with the application's name.
void noticeNoDaemon(const QString &what);
} // namespace dnssd

class DnsSdClient : public QObject {
    Q_OBJECT
public:
    // `what` completes the one notice if there is no daemon, e.g. "not announcing".
    explicit DnsSdClient(const QString &what, QObject *parent = nullptr);
    ~DnsSdClient() override;

    // The connected client, or null while there is no daemon.
    AvahiClient *client() const { return m_running ? m_client : nullptr; }
    // False once it is known there is no daemon (for now).
    bool available() const { return m_available; }

signals:
    // Not emitted for a daemon found by the constructor: check client().
    // The daemon is there and ready: (re)create entry groups and browsers.
    void running();
    // Everything made with client() is void (the daemon went away, or the
    // host name changed): free it; running() comes again when it can.
    void reset();
    // There is no daemon (or no system bus); the one notice has been printed.
    void unavailable();

private:
    void connectToDaemon();
    static void onState(AvahiClient *client, AvahiClientState state, void *self);

    QString m_what;
    std::unique_ptr<AvahiQtPoll> m_poll;
    AvahiClient *m_client = nullptr;
    bool m_running = false;
    bool m_available = true;
};

} // namespace h264link
