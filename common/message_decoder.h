// Incremental decoder for the framing protocol: feed it bytes in pieces of
// any size (one byte, or many messages at once) and take whole messages out.
#pragma once

#include "protocol.h"

#include <deque>

namespace h264link::proto {

// Version rule (docs/PROTOCOL.md, "Versions"): HELLO and ERROR are read
// whatever their header version. The peer's first HELLO fixes the version of
// the connection, the highest common to its range and ours; from then on
// every other message must carry exactly that version. Before it, other
// messages must carry a version in our range.
class MessageDecoder {
public:
    explicit MessageDecoder(quint8 minVersion = kMinVersion, quint8 maxVersion = kVersion)
        : m_minVersion(minVersion), m_maxVersion(maxVersion)
    {
    }

    // Appends bytes. Returns false once the stream is unusable; the error is
    // sticky because after a bad header there is no way to find the next one.
    bool feed(const char *data, qsizetype size);
    bool feed(const QByteArray &bytes) { return feed(bytes.constData(), bytes.size()); }

    bool hasMessage() const { return !m_ready.empty(); }
    Message takeMessage(); // precondition: hasMessage()

    ParseError error() const { return m_error; }
    QString errorString() const;

    // Set by the peer's first HELLO when the two ranges overlap. Without
    // one, the handshake refuses the peer (HandshakeStep says why).
    std::optional<quint8> negotiatedVersion() const { return m_negotiated; }
    bool helloSeen() const { return m_helloSeen; }

    // Bytes of an incomplete message held back. Bounded by
    // kHeaderSize + kMaxPayloadSize plus the size of one feed() call.
    qsizetype bufferedBytes() const { return m_buffer.size() - m_offset; }
    // Messages whose sequence number did not follow the previous one. Over
    // TCP this should stay 0; a non-zero count means a sender bug.
    quint64 sequenceGaps() const { return m_sequenceGaps; }
    quint64 messagesDecoded() const { return m_messagesDecoded; }

private:
    bool parseOne();
    void compact();

    QByteArray m_buffer;
    qsizetype m_offset = 0; // start of the first unparsed byte in m_buffer
    std::deque<Message> m_ready;
    ParseError m_error = ParseError::None;
    std::optional<quint32> m_lastSequence;
    quint8 m_minVersion;
    quint8 m_maxVersion;
    bool m_helloSeen = false;
    std::optional<quint8> m_negotiated;
    quint8 m_rejectedVersion = 0; // for errorString()
    quint8 m_rejectedType = 0;
    quint64 m_sequenceGaps = 0;
    quint64 m_messagesDecoded = 0;
};

} // namespace h264link::proto
