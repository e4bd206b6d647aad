#include "framed_media_device.h"

#include "annexb.h"
#include "io_trace.h"
#include "logging.h"

#include <QDeadlineTimer>
#include <cstring>

namespace h264link {

using namespace proto;

FramedMediaDevice::FramedMediaDevice(QIODevice *transport, QObject *parent)
    : QIODevice(parent), m_transport(transport)
{
}

bool FramedMediaDevice::open(OpenMode mode)
{
    return QIODevice::open(mode | Unbuffered);
}

qint64 FramedMediaDevice::bytesAvailable() const
{
    return (m_readBuffer.size() - m_readPos) + QIODevice::bytesAvailable();
}

// ---- Write side -----------------------------------------------------------

void FramedMediaDevice::beginAccessUnit(qint64 ptsUs, bool keyframe, bool decodeOnly)
{
    m_inAccessUnit = true;
    m_auPts = ptsUs;
    m_auKeyframe = keyframe;
    m_auDecodeOnly = decodeOnly;
    m_auBytes.clear();
}

bool FramedMediaDevice::endAccessUnit()
{
    if (!m_inAccessUnit)
        return true;
    m_inAccessUnit = false;
    if (m_auKeyframe && !m_pendingParameterSets.isEmpty() && annexb::parameterSets(m_auBytes).isEmpty())
        m_auBytes.prepend(std::exchange(m_pendingParameterSets, {}));
    const quint16 flags = countAccessUnit(m_auBytes, m_auKeyframe, m_auDecodeOnly);
    if (m_capture) {
        m_mediaBytesSent += quint64(m_auBytes.size());
        m_capture(CapturedUnit{CapturedUnit::Kind::Video, std::exchange(m_auBytes, {}), m_auPts, m_auKeyframe,
                               m_auDecodeOnly, {}, 0});
        return true;
    }
    if (trace::Tracer::enabled())
        trace::Tracer::instance().record(trace::accessUnitNals(m_auBytes, m_auPts, true));
    return sendMedia(std::exchange(m_auBytes, {}), m_auPts, flags);
}

// The flags of an access unit's messages; counts it (not its bytes).
quint16 FramedMediaDevice::countAccessUnit(const QByteArray &bytes, bool keyframe, bool decodeOnly)
{
    quint16 flags = AccessUnitStart | AccessUnitEnd;
    if (keyframe)
        flags |= Keyframe;
    if (decodeOnly) {
        flags |= DecodeOnly;
        ++m_decodeOnlySent;
    }
    if (const QByteArray sets = annexb::parameterSets(bytes); !sets.isEmpty()) {
        m_parameterSets = sets;
        flags |= ParameterSets;
        if (keyframe)
            m_pendingParameterSets.clear();
    }
    ++m_accessUnitsSent;
    return flags;
}

bool FramedMediaDevice::frameSharedAccessUnit(const CapturedUnit &unit, char *head)
{
    if (m_inAccessUnit || m_capture || trace::Tracer::enabled()
        || unit.bytes.size() > qsizetype(kMaxPayloadSize) - kMediaPrefixSize
        || (unit.keyframe && !m_pendingParameterSets.isEmpty() && annexb::parameterSets(unit.bytes).isEmpty()))
        return false;
    const quint16 flags = countAccessUnit(unit.bytes, unit.keyframe, unit.decodeOnly);
    m_writer.encodeHeader(MessageType::Media, quint32(kMediaPrefixSize + unit.bytes.size()), flags, head);
    writeMediaPrefix(unit.ptsUs, head + kHeaderSize);
    m_mediaBytesSent += quint64(unit.bytes.size());
    return true;
}

void FramedMediaDevice::beginAudioPacket(qint64 ptsUs, quint32 skipStartSamples,
                                         quint32 discardEndSamples, quint16 flags)
{
    m_inAudio = true;
    m_audio = Audio{ptsUs, skipStartSamples, discardEndSamples, {}};
    m_audioFlags = flags;
}

bool FramedMediaDevice::endAudioPacket()
{
    if (!m_inAudio)
        return true;
    m_inAudio = false;
    Audio audio = std::exchange(m_audio, {});
    return audio.data.isEmpty() || sendAudio(audio, m_audioFlags);
}

bool FramedMediaDevice::sendAudio(const Audio &audio, quint16 flags)
{
    if (audio.data.size() > qsizetype(kMaxPayloadSize) - kAudioPrefixSize) {
        setErrorString(QStringLiteral("an audio packet of %1 bytes does not fit one AUDIO message")
                           .arg(audio.data.size()));
        return false;
    }
    if (m_capture)
        m_capture(CapturedUnit{CapturedUnit::Kind::Audio, {}, audio.ptsUs, false, false, audio, flags});
    else if (!sendMessage(MessageType::Audio, serialize(audio), flags))
        return false;
    ++m_audioPacketsSent;
    m_audioBytesSent += quint64(audio.data.size());
    return true;
}

qint64 FramedMediaDevice::writeData(const char *data, qint64 size)
{
    if (m_inAudio) {
        m_audio.data.append(data, size);
        return size;
    }
    if (m_inAccessUnit) {
        m_auBytes.append(data, size);
        return size;
    }
    if (m_capture) {
        m_capture(CapturedUnit{CapturedUnit::Kind::Raw, QByteArray(data, size), kNoPts, false, false, {}, 0});
        return size;
    }
    return sendMedia(QByteArray(data, size), kNoPts, 0) ? size : -1;
}

// Splits `bytes` into MEDIA messages no larger than the protocol allows. The
// start flag goes on the first piece, the end flag on the last, and the
// keyframe/parameter-set flags on every piece.
bool FramedMediaDevice::sendMedia(const QByteArray &bytes, qint64 ptsUs, quint16 flags)
{
    constexpr qsizetype kMaxData = kMaxPayloadSize - kMediaPrefixSize;
    const quint16 common = flags & (Keyframe | ParameterSets | DecodeOnly);
    qsizetype offset = 0;
    do {
        const qsizetype n = qMin(kMaxData, bytes.size() - offset);
        quint16 pieceFlags = common;
        if (offset == 0)
            pieceFlags |= flags & AccessUnitStart;
        if (offset + n == bytes.size())
            pieceFlags |= flags & AccessUnitEnd;
        const QByteArray payload = serialize(Media{ptsUs, bytes.mid(offset, n)});
        const QByteArray wire = m_writer.encode(MessageType::Media, payload, pieceFlags);
        if (m_transport->write(wire) != wire.size()) {
            setErrorString(QStringLiteral("transport write failed: %1")
                               .arg(m_transport->errorString()));
            return false;
        }
        offset += n;
    } while (offset < bytes.size());
    m_mediaBytesSent += quint64(bytes.size());
    return true;
}

bool FramedMediaDevice::sendMessage(MessageType type, const QByteArray &payload, quint16 flags)
{
    const QByteArray wire = m_writer.encode(type, payload, flags);
    if (m_transport->write(wire) != wire.size()) {
        setErrorString(QStringLiteral("transport write failed: %1").arg(m_transport->errorString()));
        return false;
    }
    return true;
}

bool FramedMediaDevice::waitForBytesWritten(int msecs)
{
    return m_transport->waitForBytesWritten(msecs);
}

// ---- Read side ------------------------------------------------------------

// Returns 0 when no media bytes are buffered yet, and -1 (end of file) after
// END_OF_STREAM, when the transport closed, or on a protocol error.
qint64 FramedMediaDevice::readData(char *data, qint64 maxSize)
{
    if (m_readPos == m_readBuffer.size())
        pullFromTransport();
    const qsizetype available = m_readBuffer.size() - m_readPos;
    if (available == 0) {
        const bool ended = m_endOfStream || m_transportClosed
            || m_decoder.error() != ParseError::None;
        return ended ? -1 : 0;
    }
    const qsizetype n = qMin<qsizetype>(available, maxSize);
    std::memcpy(data, m_readBuffer.constData() + m_readPos, size_t(n));
    m_readPos += n;
    return n;
}

bool FramedMediaDevice::waitForReadyRead(int msecs)
{
    QDeadlineTimer deadline(msecs < 0 ? QDeadlineTimer::Forever : QDeadlineTimer(msecs));
    while (m_readPos == m_readBuffer.size()) {
        if (pullFromTransport())
            break;
        if (m_endOfStream || m_transportClosed || m_decoder.error() != ParseError::None)
            return false;
        const qint64 left = deadline.remainingTime();
        if (left == 0 || !m_transport->waitForReadyRead(int(left))) {
            pullFromTransport(); // the transport may have closed with bytes left
            break;
        }
    }
    return m_readPos < m_readBuffer.size();
}

// Reads what the transport holds and decodes it. True if media bytes arrived.
bool FramedMediaDevice::pullFromTransport()
{
    if (m_readPos == m_readBuffer.size()) {
        m_readBuffer.clear();
        m_readPos = 0;
    }
    const qsizetype before = m_readBuffer.size();
    if (!m_transport->isOpen()) { // closed on our side: nothing more to read (and no warning)
        m_transportClosed = true;
        return false;
    }
    char chunk[64 * 1024];
    while (m_decoder.error() == ParseError::None) {
        const qint64 n = m_transport->read(chunk, sizeof chunk);
        if (n < 0)
            m_transportClosed = true;
        if (n <= 0)
            break;
        if (!m_decoder.feed(chunk, n)) {
            setErrorString(m_decoder.errorString());
            qCWarning(lcFraming) << "protocol error:" << m_decoder.errorString();
        }
        if (const auto version = m_decoder.negotiatedVersion())
            m_writer.setVersion(*version); // what we send from now on
        while (m_decoder.hasMessage())
            dispatch(m_decoder.takeMessage());
    }
    return m_readBuffer.size() > before;
}

void FramedMediaDevice::dispatch(Message message)
{
    if (message.type == MessageType::Media) {
        if (!m_acceptMedia) {
            ++m_unexpectedMedia;
            return;
        }
        if (m_endOfStream) {
            ++m_mediaAfterEnd;
            return;
        }
        if (auto media = parseMedia(message.payload))
            m_readBuffer.append(media->data);
        else
            ++m_malformedMedia;
        return;
    }
    if (message.type == MessageType::EndOfStream)
        m_endOfStream = true;
    emit controlMessageReceived(message);
}

} // namespace h264link
