#include "message_decoder.h"

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
    m_error = checkHeaderPrefix(start, int(qMin<qsizetype>(available, kHeaderSize)));
    if (m_error != ParseError::None || available < kHeaderSize)
        return false;

    const Header h = readHeader(start);
    if (available < kHeaderSize + qsizetype(h.payloadLength))
        return false;

    Message m;
    m.type = MessageType(h.type);
    m.flags = h.flags;
    m.sequence = h.sequence;
    m.timestampUs = h.timestampUs;
    m.payload = QByteArray(start + kHeaderSize, h.payloadLength);
    if (m_lastSequence && h.sequence != *m_lastSequence + 1)
        ++m_sequenceGaps;
    m_lastSequence = h.sequence;
    ++m_messagesDecoded;
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
