#include "protocol.h"

#include "io_trace.h"

#include <QDataStream>
#include <QIODevice>
#include <QtEndian>
#include <chrono>

namespace h264link::proto {

bool isKnownType(quint8 type)
{
    return type >= quint8(MessageType::Hello) && type <= quint8(MessageType::Audio);
}

const char *typeName(MessageType type)
{
    switch (type) {
    case MessageType::Hello: return "HELLO";
    case MessageType::StreamInfo: return "STREAM_INFO";
    case MessageType::Media: return "MEDIA";
    case MessageType::EndOfStream: return "END_OF_STREAM";
    case MessageType::Ping: return "PING";
    case MessageType::Pong: return "PONG";
    case MessageType::Error: return "ERROR";
    case MessageType::AuthChallenge: return "AUTH_CHALLENGE";
    case MessageType::AuthResponse: return "AUTH_RESPONSE";
    case MessageType::Accepted: return "ACCEPTED";
    case MessageType::Received: return "RECEIVED";
    case MessageType::Audio: return "AUDIO";
    }
    return "UNKNOWN";
}

std::optional<quint8> negotiateVersion(quint8 peerMin, quint8 peerMax, quint8 ourMin, quint8 ourMax)
{
    const quint8 high = qMin(peerMax, ourMax);
    if (high < qMax(peerMin, ourMin) || high == 0)
        return std::nullopt;
    return high;
}

QString versionRange(quint8 min, quint8 max)
{
    return min == max ? QString::number(min) : QStringLiteral("%1 to %2").arg(min).arg(max);
}

QString describe(ParseError error)
{
    switch (error) {
    case ParseError::None: return QStringLiteral("no error");
    case ParseError::BadMagic:
        return QStringLiteral("bad magic: the peer does not speak the h264link protocol "
                              "(is another program using this port?)");
    case ParseError::UnsupportedVersion:
        return QStringLiteral("unsupported protocol version (this build speaks protocol %1; "
                              "update the sender and the receiver together)")
            .arg(versionRange(kMinVersion, kVersion));
    case ParseError::UnknownType:
        return QStringLiteral("unknown message type (the peer is newer, or the stream is corrupt)");
    case ParseError::PayloadTooLarge:
        return QStringLiteral("payload length exceeds the protocol maximum of %1 bytes")
            .arg(kMaxPayloadSize);
    case ParseError::MalformedPayload:
        return QStringLiteral("payload too short for its message type");
    }
    return QStringLiteral("unknown error");
}

ParseError checkHeaderPrefix(const char *data, int size, quint8 minVersion, quint8 maxVersion)
{
    const auto *bytes = reinterpret_cast<const uchar *>(data);
    if (size >= 4 && qFromBigEndian<quint32>(bytes) != kMagic)
        return ParseError::BadMagic;
    if (size >= 5 && bytes[4] == 0) // no version of any release
        return ParseError::UnsupportedVersion;
    // Whether the version is acceptable depends on the type: one byte later.
    if (size >= 6 && !isKnownType(bytes[5]))
        return ParseError::UnknownType;
    if (size >= 6 && !isVersionFree(bytes[5]) && (bytes[4] < minVersion || bytes[4] > maxVersion))
        return ParseError::UnsupportedVersion;
    if (size >= kHeaderSize && qFromBigEndian<quint32>(bytes + 20) > kMaxPayloadSize)
        return ParseError::PayloadTooLarge;
    return ParseError::None;
}

Header readHeader(const char *data)
{
    const auto *b = reinterpret_cast<const uchar *>(data);
    Header h;
    h.magic = qFromBigEndian<quint32>(b);
    h.version = b[4];
    h.type = b[5];
    h.flags = qFromBigEndian<quint16>(b + 6);
    h.sequence = qFromBigEndian<quint32>(b + 8);
    h.timestampUs = qFromBigEndian<qint64>(b + 12);
    h.payloadLength = qFromBigEndian<quint32>(b + 20);
    return h;
}

void writeHeader(const Header &h, char *out)
{
    auto *b = reinterpret_cast<uchar *>(out);
    qToBigEndian<quint32>(h.magic, b);
    b[4] = h.version;
    b[5] = h.type;
    qToBigEndian<quint16>(h.flags, b + 6);
    qToBigEndian<quint32>(h.sequence, b + 8);
    qToBigEndian<qint64>(h.timestampUs, b + 12);
    qToBigEndian<quint32>(h.payloadLength, b + 20);
}

QByteArray encode(const Message &m)
{
    Q_ASSERT(quint64(m.payload.size()) <= kMaxPayloadSize);
    Header h;
    h.version = m.version;
    h.type = quint8(m.type);
    h.flags = m.flags;
    h.sequence = m.sequence;
    h.timestampUs = m.timestampUs;
    h.payloadLength = quint32(m.payload.size());
    QByteArray out(kHeaderSize + m.payload.size(), Qt::Uninitialized);
    writeHeader(h, out.data());
    std::copy(m.payload.cbegin(), m.payload.cend(), out.begin() + kHeaderSize);
    return out;
}

qint64 nowMicros()
{
    using namespace std::chrono;
    return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

// ---- Typed payloads -------------------------------------------------------
namespace {

// Strings are a u16 byte count followed by UTF-8, not QDataStream's UTF-16,
// so that a peer in any language can read them.
void writeString(QDataStream &out, const QString &s)
{
    QByteArray utf8 = s.toUtf8().left(0xFFFF);
    out << quint16(utf8.size());
    out.writeRawData(utf8.constData(), int(utf8.size()));
}

QString readString(QDataStream &in)
{
    quint16 size = 0;
    in >> size;
    QByteArray utf8(size, Qt::Uninitialized);
    if (in.readRawData(utf8.data(), size) != size)
        in.setStatus(QDataStream::ReadPastEnd);
    return QString::fromUtf8(utf8);
}

template <typename Fn>
QByteArray build(Fn &&fill)
{
    QByteArray bytes;
    QDataStream out(&bytes, QIODevice::WriteOnly);
    out.setByteOrder(QDataStream::BigEndian);
    fill(out);
    return bytes;
}

template <typename T, typename Fn>
std::optional<T> parse(const QByteArray &payload, Fn &&read)
{
    QDataStream in(payload);
    in.setByteOrder(QDataStream::BigEndian);
    T value;
    read(in, value);
    if (in.status() != QDataStream::Ok)
        return std::nullopt;
    return value;
}

} // namespace

QByteArray serialize(const Hello &v)
{
    return build([&](QDataStream &out) {
        out << v.minVersion << v.maxVersion << v.capabilities;
        writeString(out, v.software);
        writeString(out, v.name);
    });
}

QByteArray serialize(const StreamInfo &v)
{
    return build([&](QDataStream &out) {
        out << v.codec << v.width << v.height << v.frameRateNum << v.frameRateDen
            << v.timeBaseNum << v.timeBaseDen << v.durationUs;
        writeString(out, v.sourceName);
        out << v.audioCodec << v.audioSampleRate << v.audioChannels << v.audioBitRate;
        writeString(out, v.audioDescription);
        for (qint32 m : v.displayMatrix)
            out << m;
        out << v.videoReorderDepth;
        writeString(out, v.videoDescription);
        out << v.streamFlags;
    });
}

void writeMediaPrefix(qint64 ptsUs, char *out)
{
    qToBigEndian<qint64>(ptsUs, out);
}

QByteArray serialize(const Media &v)
{
    QByteArray bytes(kMediaPrefixSize + v.data.size(), Qt::Uninitialized);
    writeMediaPrefix(v.ptsUs, bytes.data());
    std::copy(v.data.cbegin(), v.data.cend(), bytes.begin() + kMediaPrefixSize);
    return bytes;
}

QByteArray serialize(const Audio &v)
{
    QByteArray bytes(kAudioPrefixSize + v.data.size(), Qt::Uninitialized);
    qToBigEndian<qint64>(v.ptsUs, bytes.data());
    qToBigEndian<quint32>(v.skipStartSamples, bytes.data() + 8);
    qToBigEndian<quint32>(v.discardEndSamples, bytes.data() + 12);
    std::copy(v.data.cbegin(), v.data.cend(), bytes.begin() + kAudioPrefixSize);
    return bytes;
}

QByteArray serialize(const EndOfStream &v)
{
    return build([&](QDataStream &out) { out << v.accessUnits << v.mediaBytes << v.audioPackets; });
}

QByteArray serialize(const Received &v)
{
    return build([&](QDataStream &out) {
        out << v.accessUnits << v.framesDecoded << v.audioPackets << v.audioFramesDecoded << v.framesSkipped;
    });
}

QByteArray serialize(const Pong &v)
{
    return build([&](QDataStream &out) { out << v.pingSequence << v.pingTimestampUs << v.framesSkipped; });
}

QByteArray serialize(const ErrorInfo &v)
{
    return build([&](QDataStream &out) {
        out << v.code;
        writeString(out, v.reason);
    });
}

QString printableName(const QString &name)
{
    QString out;
    for (const QChar c : name)
        out += c.isPrint() ? c : QChar(u' ');
    return out.simplified().left(kMaxNameLength).trimmed();
}

std::optional<Hello> parseHello(const QByteArray &payload)
{
    return parse<Hello>(payload, [](QDataStream &in, Hello &v) {
        in >> v.minVersion >> v.maxVersion >> v.capabilities;
        v.software = readString(in);
        if (!in.atEnd()) // a peer from before the name
            v.name = readString(in);
    });
}

std::optional<StreamInfo> parseStreamInfo(const QByteArray &payload)
{
    return parse<StreamInfo>(payload, [](QDataStream &in, StreamInfo &v) {
        in >> v.codec >> v.width >> v.height >> v.frameRateNum >> v.frameRateDen
            >> v.timeBaseNum >> v.timeBaseDen >> v.durationUs;
        v.sourceName = readString(in);
        if (in.atEnd()) // a v2 sender: no audio fields
            return;
        in >> v.audioCodec >> v.audioSampleRate >> v.audioChannels >> v.audioBitRate;
        v.audioDescription = readString(in);
        if (in.atEnd()) // an early v3 sender: no picture fields
            return;
        for (qint32 &m : v.displayMatrix)
            in >> m;
        in >> v.videoReorderDepth;
        v.videoDescription = readString(in);
        if (in.atEnd()) // a sender from before stream_flags
            return;
        in >> v.streamFlags;
    });
}

std::optional<Media> parseMedia(const QByteArray &payload)
{
    if (payload.size() < kMediaPrefixSize)
        return std::nullopt;
    Media v;
    v.ptsUs = qFromBigEndian<qint64>(payload.constData());
    v.data = payload.mid(kMediaPrefixSize);
    return v;
}

std::optional<Audio> parseAudio(const QByteArray &payload)
{
    if (payload.size() < kAudioPrefixSize)
        return std::nullopt;
    Audio v;
    v.ptsUs = qFromBigEndian<qint64>(payload.constData());
    v.skipStartSamples = qFromBigEndian<quint32>(payload.constData() + 8);
    v.discardEndSamples = qFromBigEndian<quint32>(payload.constData() + 12);
    v.data = payload.mid(kAudioPrefixSize);
    return v;
}

std::optional<EndOfStream> parseEndOfStream(const QByteArray &payload)
{
    return parse<EndOfStream>(payload, [](QDataStream &in, EndOfStream &v) {
        in >> v.accessUnits >> v.mediaBytes;
        if (!in.atEnd()) // v3
            in >> v.audioPackets;
    });
}

std::optional<Received> parseReceived(const QByteArray &payload)
{
    return parse<Received>(payload, [](QDataStream &in, Received &v) {
        in >> v.accessUnits >> v.framesDecoded;
        if (!in.atEnd()) // v3
            in >> v.audioPackets >> v.audioFramesDecoded;
        if (!in.atEnd()) // a receiver from before frames_skipped: 0
            in >> v.framesSkipped;
    });
}

std::optional<Pong> parsePong(const QByteArray &payload)
{
    return parse<Pong>(payload, [](QDataStream &in, Pong &v) {
        in >> v.pingSequence >> v.pingTimestampUs;
        if (!in.atEnd()) // absent in a minimal PONG
            in >> v.framesSkipped;
    });
}

std::optional<ErrorInfo> parseErrorInfo(const QByteArray &payload)
{
    return parse<ErrorInfo>(payload, [](QDataStream &in, ErrorInfo &v) {
        in >> v.code;
        v.reason = readString(in);
    });
}

Header MessageWriter::next(MessageType type, quint32 payloadLength, quint16 flags)
{
    Header h;
    h.version = isVersionFree(quint8(type)) ? kFrozenHeaderVersion : m_version;
    h.type = quint8(type);
    h.flags = flags;
    h.sequence = m_sequence++;
    h.timestampUs = nowMicros();
    h.payloadLength = payloadLength;
    return h;
}

void MessageWriter::encodeHeader(MessageType type, quint32 payloadLength, quint16 flags, char *out)
{
    Q_ASSERT(payloadLength <= kMaxPayloadSize);
    writeHeader(next(type, payloadLength, flags), out);
}

QByteArray MessageWriter::encode(MessageType type, const QByteArray &payload, quint16 flags)
{
    Q_ASSERT(quint64(payload.size()) <= kMaxPayloadSize);
    QByteArray wire(kHeaderSize + payload.size(), Qt::Uninitialized);
    writeHeader(next(type, quint32(payload.size()), flags), wire.data());
    std::copy(payload.cbegin(), payload.cend(), wire.begin() + kHeaderSize);
    // Every message either app sends is encoded here: the one place to trace them.
    if (trace::Tracer::enabled())
        trace::Tracer::instance().record(trace::wireMessage(wire.constData(), int(wire.size()), true));
    return wire;
}

} // namespace h264link::proto
