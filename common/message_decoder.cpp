#include "message_decoder.h"

#include "io_trace.h"

namespace h264link::proto {

bool MessageDecoder::feed(const char *data, qsizetype size)
{
    if (m_error != ParseError::None)
        return false;
    m_buffer.append(data, size);
    while (parseOne()) {
    }
    compact();
    return m_error == ParseError::None;
}

QString MessageDecoder::errorString() const
{
    if (m_error != ParseError::UnsupportedVersion || m_rejectedVersion == 0)
        return describe(m_error);
    const QString type = QString::fromLatin1(typeName(MessageType(m_rejectedType)));
    if (m_negotiated)
        return QStringLiteral("protocol version %1 on a %2 message, but this connection agreed on "
                              "version %3 in HELLO")
            .arg(m_rejectedVersion).arg(type).arg(*m_negotiated);
    return QStringLiteral("protocol version %1 on a %2 message: this build speaks protocol %3 "
                          "(update the sender and the receiver together)")
        .arg(m_rejectedVersion).arg(type, versionRange(m_minVersion, m_maxVersion));
}

Message MessageDecoder::takeMessage()
{
    Q_ASSERT(!m_ready.empty());
    Message m = std::move(m_ready.front());
    m_ready.pop_front();
    return m;
}

// Parses one message if the buffer holds it whole; false when it needs more
// bytes or the stream is broken.
bool MessageDecoder::parseOne()
{
    const char *start = m_buffer.constData() + m_offset;
    const qsizetype available = m_buffer.size() - m_offset;
    const quint8 low = m_negotiated ? *m_negotiated : m_minVersion;
    const quint8 high = m_negotiated ? *m_negotiated : m_maxVersion;
    m_error = checkHeaderPrefix(start, int(qMin<qsizetype>(available, kHeaderSize)), low, high);
    if (m_error == ParseError::UnsupportedVersion) {
        m_rejectedVersion = quint8(start[4]);
        m_rejectedType = available >= 6 ? quint8(start[5]) : 0;
    }
    if (m_error != ParseError::None || available < kHeaderSize)
        return false;

    const Header h = readHeader(start);
    if (available < kHeaderSize + qsizetype(h.payloadLength))
        return false;

    Message m;
    m.version = h.version;
    m.type = MessageType(h.type);
    m.flags = h.flags;
    m.sequence = h.sequence;
    m.timestampUs = h.timestampUs;
    m.payload = QByteArray(start + kHeaderSize, h.payloadLength);
    if (m_lastSequence && h.sequence != *m_lastSequence + 1)
        ++m_sequenceGaps;
    m_lastSequence = h.sequence;
    ++m_messagesDecoded;
    // Every message either app receives is parsed here: the one place to trace them.
    if (trace::Tracer::enabled())
        trace::Tracer::instance().record(trace::wireMessage(start, kHeaderSize + int(h.payloadLength), false));
    if (m.type == MessageType::Hello && !m_helloSeen) {
        // Decided here, not by the handshake, so that the messages behind
        // HELLO in this same read are already checked against it.
        m_helloSeen = true;
        if (const auto hello = parseHello(m.payload))
            m_negotiated = negotiateVersion(hello->minVersion, hello->maxVersion, m_minVersion, m_maxVersion);
    }
    m_ready.push_back(std::move(m));
    m_offset += kHeaderSize + h.payloadLength;
    return true;
}

// Drops consumed bytes. Done once per feed() rather than per message, so a
// large read holding many small messages costs one move, not one per message.
void MessageDecoder::compact()
{
    if (m_offset == 0)
        return;
    m_buffer.remove(0, m_offset);
    m_offset = 0;
}

} // namespace h264link::proto
