// The h264link handshake as two pure state machines, one per side, with no
// sockets in them: the apps feed them messages and send what they return,
// and the fuzzer and the unit tests drive them directly.
//
//   sender                               receiver
//     HELLO ---------------------------->
//       <---------------------------- HELLO
//       <------------------- AUTH_CHALLENGE (nonce)       only with an access key
//     AUTH_RESPONSE (HMAC-SHA256(key, nonce)) -->         only with an access key
//       <------------------------- ACCEPTED  (or ERROR, then close)
//     STREAM_INFO, MEDIA ...  ---------->
//
// The key never travels: only a MAC over a fresh random nonce does, so a
// recorded response is useless on the next connection.
#pragma once

#include "protocol.h"

#include <QByteArray>
#include <QString>
#include <vector>

namespace h264link {

struct HandshakeStep {
    enum Verdict { Continue, Accepted, Refused };
    struct Outgoing {
        proto::MessageType type;
        QByteArray payload;
    };
    std::vector<Outgoing> send; // in order
    Verdict verdict = Continue;
    QString reason; // for Refused: what the person on this side should read
    quint16 peerErrorCode = 0; // for Refused by the peer's ERROR: its ErrorCode
};

constexpr int kNonceSize = 32;
QByteArray authResponse(const QByteArray &key, const QByteArray &nonce);

class ReceiverHandshake {
public:
    explicit ReceiverHandshake(QByteArray key, QString software = {});
    HandshakeStep start();                            // on connect
    HandshakeStep onMessage(const proto::Message &m); // until Accepted/Refused
    bool isDone() const { return m_state == State::Done; }
    QString senderSoftware() const { return m_senderSoftware; }

private:
    HandshakeStep refuse(quint16 code, const QString &toPeer, const QString &here);
    enum class State { AwaitHello, AwaitResponse, Done };
    QByteArray m_key;
    QString m_software;
    QByteArray m_nonce;
    QString m_senderSoftware;
    State m_state = State::AwaitHello;
};

class SenderHandshake {
public:
    explicit SenderHandshake(QByteArray key, QString software = {});
    HandshakeStep start();
    HandshakeStep onMessage(const proto::Message &m);
    bool isDone() const { return m_done; }

private:
    QByteArray m_key;
    QString m_software;
    bool m_helloSeen = false;
    bool m_done = false;
};

} // namespace h264link
