// The h264link handshake as two pure state machines, one per side, with no
// sockets in them: the apps feed them messages and send what they return,
// and the fuzzer and the unit tests drive them directly.
//
//   sender                               receiver
//     HELLO (versions) ----------------->
//       <---------------------- HELLO (versions)
//       <------------------------- ACCEPTED  (or ERROR, then close)
//     STREAM_INFO, MEDIA ...  ---------->
//
// Protocol v2: with an access key the whole conversation runs inside TLS-PSK
// (common/secure_channel.h), which proves to each side that the other knows
// the key before a single byte of HELLO; the handshake only checks that the
// channel is keyed when the receiver wants a key. (v1's in-band
// AUTH_CHALLENGE / AUTH_RESPONSE are gone.)
//
// Versions: each side sends its range in HELLO; both use the highest common
// version. With none, the side that finds out sends ERROR ErrVersion with a
// sentence naming both ranges and which side to update, and closes.
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

// What the connection under the handshake is.
enum class Channel {
    Plain, // bytes in clear: nobody proved anything
    Keyed, // TLS-PSK under the access key, handshake completed (SecureChannel)
};

class ReceiverHandshake {
public:
    // `key` non-empty: this receiver requires an access key, and accepts a
    // sender only over a Keyed channel. Fail-safe default: Plain.
    explicit ReceiverHandshake(QByteArray key, QString software = {}, Channel channel = Channel::Plain);
    HandshakeStep start();                            // on connect
    HandshakeStep onMessage(const proto::Message &m); // until Accepted/Refused
    bool isDone() const { return m_state == State::Done; }
    QString senderSoftware() const { return m_senderSoftware; }
    void setName(const QString &name) { m_name = name; } // into HELLO; before start()
    quint8 version() const { return m_version; } // negotiated; 0 before the sender's HELLO

private:
    HandshakeStep refuse(quint16 code, const QString &toPeer, const QString &here);
    enum class State { AwaitHello, Done };
    bool m_keyRequired;
    QString m_software;
    Channel m_channel;
    QString m_name;
    QString m_senderSoftware;
    quint8 m_version = 0;
    State m_state = State::AwaitHello;
};

class SenderHandshake {
public:
    // The access key is not here: since v2 it works in the TLS layer under
    // the handshake (SecureChannel).
    explicit SenderHandshake(QString software = {});
    HandshakeStep start();
    HandshakeStep onMessage(const proto::Message &m);
    bool isDone() const { return m_done; }
    quint8 version() const { return m_version; } // negotiated; 0 before the receiver's HELLO
    QString receiverName() const { return m_receiverName; } // from its HELLO; empty from an older one

private:
    QString m_software;
    QString m_receiverName;
    quint8 m_version = 0;
    bool m_done = false;
};

} // namespace h264link
