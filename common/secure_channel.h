// SecureChannel: the access key as TLS-PSK, so that with a key the whole
// session (from the first byte after TCP connect, HELLO included) is
// encrypted and integrity-checked, and each side proves to the other that
// it knows the key. Qt's QSslSocket (OpenSSL backend) does the TLS; nothing
// here is cryptography of our own.
//
//   sender (TLS client)                      receiver (TLS server)
//     TCP connect ----------------------------> IncomingChannel: first byte?
//     ClientHello (0x16 ...) ------------------>   0x16 -> startServerEncryption()
//       <------------- ServerHello ... Finished     "H2LK" -> plain protocol
//     [ HELLO, HELLO, ACCEPTED, MEDIA ... inside TLS ]
//
// TLS 1.2 with ECDHE-PSK-CHACHA20-POLY1305 only: the ephemeral ECDHE gives
// forward secrecy (a key found later does not open recorded sessions), the
// PSK authenticates both sides, Poly1305 detects any changed byte. Qt 6.4
// offers TLS 1.3 PSK only behind a process-wide environment variable
// (QT_USE_TLS_1_3_PSK) and without it fails the handshake, so 1.2 is pinned
// on both sides. No certificates are involved (peer verification off): a
// cipher suite that needs no PSK is never offered, so a server that does
// not know the key cannot complete the handshake.
//
// Both styles the apps use work: a blocking socket on a worker thread
// (connectToReceiver, then waitForConnected/waitForEncrypted and
// isSecured(), then read failure() when one of them is false; close the
// socket after any failure, Qt does not), and an event-driven one
// (secured()/failed() signals). The PSK callback runs on the socket's
// thread inside either.
#pragma once

#include "handshake.h" // Channel

#include <QByteArray>
#include <QObject>
#include <QSslSocket>
#include <QString>

class QTimer;

namespace h264link {

namespace securechannel {
constexpr char kCipher[] = "ECDHE-PSK-CHACHA20-POLY1305";
constexpr char kIdentity[] = "h264link"; // sent in clear: the same for everyone
constexpr int kOpeningTimeoutMs = 5000;  // first byte and TLS handshake, on the receiver

// The pre-shared key is PBKDF2-HMAC-SHA256 (Qt's QPasswordDigestor) of the
// access key, with a fixed protocol salt: the same on every machine, since
// the two sides share nothing else. The iterations make each guess of an
// offline attacker (who recorded a handshake) cost as much as one
// derivation here, once per connection; see docs/PROTOCOL.md.
constexpr char kPskSalt[] = "h264link psk v2";
constexpr int kPskIterations = 10000; // ~25 ms on this project's 2-core test machine, under load
constexpr int kPskLength = 32;
// The 32-byte pre-shared key for an access key.
QByteArray derivePsk(const QByteArray &accessKey);
// False, with a sentence, if this Qt has no TLS backend that does PSK.
bool isAvailable(QString *why = nullptr);
// Loads Qt's TLS backend and OpenSSL now. The first QSslSocket would do it
// (about 15 ms, config file and CA directory included) while a sender that
// just connected waits for its first picture.
void preload();

// What a receiver sees as the first byte of a connection.
enum class Opening { Undecided, Tls, Plain };
// 0x16 (a TLS handshake record: the keyed sender's ClientHello) is Tls;
// anything else is Plain and goes to the protocol decoder, which reads
// "H2LK" or rejects it (BadMagic) as before.
Opening classifyOpening(const QByteArray &firstBytes);
} // namespace securechannel

class SecureChannel : public QObject {
    Q_OBJECT
public:
    enum class Role { Sender, Receiver }; // TLS client, TLS server

    // Configures `socket` for TLS-PSK under `accessKey` (which must not be
    // empty) and watches it. Owned by the socket; at most one per socket.
    static SecureChannel *attach(QSslSocket *socket, Role role, const QByteArray &accessKey);
    static SecureChannel *of(const QSslSocket *socket); // nullptr if none

    // Sender: TCP connect and TLS at once; the first bytes out are a ClientHello.
    void connectToReceiver(const QString &host, quint16 port);
    // Receiver: after IncomingChannel (or the caller) saw a ClientHello.
    void startAsReceiver();

    bool isSecured() const { return m_secured; } // handshake done, with kCipher
    // Why the keyed session failed, as a sentence a person can act on;
    // empty while nothing went wrong (a clean close after the handshake is
    // not a failure). Non-TLS socket errors come back as "connection error: ...".
    QString failure() const;

signals:
    void secured();
    void failed(const QString &sentence); // at most once

private:
    SecureChannel(QSslSocket *socket, Role role, const QByteArray &accessKey);
    void onError(QAbstractSocket::SocketError error);
    void fail(const QString &sentence);

    QSslSocket *m_socket;
    Role m_role;
    QByteArray m_psk;
    bool m_secured = false;
    bool m_failed = false;
    QString m_failure;
    QSsl::AlertType m_alertReceived = QSsl::AlertType::UnknownAlertMessage;
    QSsl::AlertType m_alertSent = QSsl::AlertType::UnknownAlertMessage;
    bool m_anyAlertReceived = false;
    bool m_anyAlertSent = false;
};

// Receiver side, one per accepted connection (a QSslSocket made with
// setSocketDescriptor, not yet encrypted): waits for the first byte, at most
// kOpeningTimeoutMs for it and the TLS handshake together, then
//   - 0x16 and a key: TLS-PSK (SecureChannel), ready(Keyed) once done;
//   - 0x16 and no key: refused() and closed (the keyed sender reads "the
//     receiver has no access key");
//   - anything else: ready(Plain) with the bytes untouched; a keyed
//     receiver's ReceiverHandshake then refuses it with ERROR 6 after HELLO.
// After ready() it has let go of the socket's signals; the connection is
// the caller's.
class IncomingChannel : public QObject {
    Q_OBJECT
public:
    // A child of `socket`.
    IncomingChannel(QSslSocket *socket, const QByteArray &accessKey,
                    int timeoutMs = securechannel::kOpeningTimeoutMs);

signals:
    void ready(h264link::Channel channel);
    void refused(const QString &sentence); // the socket is being closed

private:
    void examine();
    void refuse(const QString &sentence);
    void done();

    QSslSocket *m_socket;
    QByteArray m_key;
    QTimer *m_deadline;
    int m_timeoutMs;
    bool m_decided = false;
};

} // namespace h264link
