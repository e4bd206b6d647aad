// Framing protocol v2: |header (24 bytes, big-endian)|payload|
// The byte layout is specified in docs/PROTOCOL.md; keep the two in sync
// (tests/tst_framing.cpp compares this encoder with the document's example).
#pragma once

#include <QByteArray>
#include <QString>
#include <QtGlobal>
#include <array>
#include <limits>
#include <optional>

namespace h264link::proto {

constexpr quint32 kMagic = 0x48324C4B; // "H2LK"
// The protocol versions this build speaks: the highest common one with the
// peer's HELLO range is used (negotiateVersion). v2 replaced v1's in-band
// access-key challenge by TLS-PSK (common/secure_channel.h); v3 adds sound
// (AUDIO and STREAM_INFO's audio fields). With a v2 peer the stream is
// video only.
constexpr quint8 kMinVersion = 2;
constexpr quint8 kVersion = 3; // the highest, written in headers by default
constexpr quint8 kFirstAudioVersion = 3;
// HELLO and ERROR are frozen for every version: same type codes, header
// layout and payload prefix, always sent with this header version and read
// whatever their version byte says, so that any two releases can tell each
// other which versions they speak, or why they close.
constexpr quint8 kFrozenHeaderVersion = 1;
constexpr int kHeaderSize = 24;
// Anything larger is a protocol error, rejected from the header alone, before
// a single payload byte is buffered. Large access units travel in several
// MEDIA messages (AccessUnitStart ... AccessUnitEnd).
constexpr quint32 kMaxPayloadSize = 1u << 20;
constexpr qint64 kNoPts = std::numeric_limits<qint64>::min();

enum class MessageType : quint8 {
    Hello = 0x01,       // protocol versions and capabilities, first message each way
    StreamInfo = 0x02,  // what the following MEDIA messages carry
    Media = 0x03,       // a piece of the H.264 Annex B elementary stream
    EndOfStream = 0x04, // the sender finished; counts let the receiver check for loss
    Ping = 0x05,        // either side; answered by PONG
    Pong = 0x06,
    Error = 0x07,       // the peer is about to close, and why
    AuthChallenge = 0x08, // v1 only (its in-band access-key challenge); unexpected in v2
    AuthResponse = 0x09,  // v1 only; unexpected in v2
    Accepted = 0x0A,      // receiver -> sender: handshake done, send the stream
    Received = 0x0B,      // receiver -> sender: after END_OF_STREAM, all of it was decoded
    Audio = 0x0C,         // v3: one packet of the audio elementary stream (ADTS AAC or MP3)
};
bool isKnownType(quint8 type);
const char *typeName(MessageType type);
// HELLO and ERROR: readable whatever the header version (see kFrozenHeaderVersion).
constexpr bool isVersionFree(quint8 type)
{
    return type == quint8(MessageType::Hello) || type == quint8(MessageType::Error);
}

// The highest version both ranges contain, or nothing.
std::optional<quint8> negotiateVersion(quint8 peerMin, quint8 peerMax, quint8 ourMin = kMinVersion,
                                       quint8 ourMax = kVersion);
// "2", or "1 to 3": how sentences name a range.
QString versionRange(quint8 min, quint8 max);

// Flags of MEDIA messages.
enum MediaFlag : quint16 {
    Keyframe = 0x0001,        // the access unit is a random access point
    ParameterSets = 0x0002,   // the access unit carries SPS/PPS
    AccessUnitStart = 0x0004, // first message of an access unit
    AccessUnitEnd = 0x0008,   // last message of an access unit
    DecodeOnly = 0x0010,      // decode it (a reference for later frames), never show or count it as
                              // shown: the source's edit list starts after it (AV_PKT_FLAG_DISCARD)
};

struct Header {
    quint32 magic = kMagic;
    quint8 version = kVersion;
    quint8 type = 0;
    quint16 flags = 0;
    quint32 sequence = 0;
    qint64 timestampUs = 0; // sender's monotonic clock at send time, microseconds
    quint32 payloadLength = 0;
};

struct Message {
    quint8 version = kVersion; // of the header; MessageWriter picks it
    MessageType type = MessageType::Ping;
    quint16 flags = 0;
    quint32 sequence = 0;
    qint64 timestampUs = 0;
    QByteArray payload;
};

enum class ParseError {
    None,
    BadMagic,
    UnsupportedVersion,
    UnknownType,
    PayloadTooLarge,
    MalformedPayload,
};
QString describe(ParseError error);

// Checks as many header fields as `size` bytes hold, so garbage is rejected
// after 4 bytes and an oversized length after 24, never after the payload.
// The version must lie in [minVersion, maxVersion], except on HELLO and
// ERROR, where any version from 1 up is read.
ParseError checkHeaderPrefix(const char *data, int size, quint8 minVersion = kMinVersion,
                             quint8 maxVersion = kVersion);
Header readHeader(const char *data); // `data` holds kHeaderSize bytes
void writeHeader(const Header &header, char *out);
QByteArray encode(const Message &message); // payload must be <= kMaxPayloadSize

// Monotonic clock used for header timestamps.
qint64 nowMicros();

// ---- Typed payloads -------------------------------------------------------

enum Capability : quint32 {
    CapMedia = 0x1, // can send or receive MEDIA
    CapPing = 0x2,  // answers PING
    CapAuth = 0x4,  // v1 only: understands AUTH_CHALLENGE / AUTH_RESPONSE
};

struct Hello {
    quint8 minVersion = kMinVersion;
    quint8 maxVersion = kVersion;
    quint32 capabilities = CapMedia | CapPing;
    QString software; // e.g. "h264link-sender 0.1.0"
    // What a person calls this side (receiver --name; default the host
    // name). Optional on the wire: a peer from before it sends none.
    QString name;
};

// A name's length in characters, as DNS-SD allows for an instance name.
constexpr int kMaxNameLength = 63;
// A peer's name fit to show: control characters gone, at most
// kMaxNameLength, trimmed; empty if nothing is left.
QString printableName(const QString &name);

// FourCCs of STREAM_INFO's codec fields.
constexpr quint32 kCodecH264 = 0x48323634;  // "H264": Annex B
constexpr quint32 kCodecNone = 0;           // no such stream (audio only, or no sound)
constexpr quint32 kCodecAacAdts = 0x41414320; // "AAC ": AAC in ADTS frames
constexpr quint32 kCodecMp3 = 0x4D503320;     // "MP3 ": MPEG audio layer III frames

// FFmpeg's display matrix layout: 16.16 fixed point, w in 2.30.
constexpr std::array<qint32, 9> kIdentityMatrix{1 << 16, 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30};

// STREAM_INFO's stream_flags.
enum StreamFlag : quint8 {
    // Paced in real time (not --fast): a receiver that falls behind may skip
    // to the next keyframe rather than slow the sender down.
    StreamLive = 0x01,
};

struct StreamInfo {
    quint32 codec = kCodecH264; // kCodecNone: an audio-only stream
    quint16 width = 0;
    quint16 height = 0;
    quint32 frameRateNum = 0; // 0/0: unknown
    quint32 frameRateDen = 0;
    quint32 timeBaseNum = 1; // of the source stream
    quint32 timeBaseDen = 1000000;
    qint64 durationUs = -1; // -1: unknown (a live source)
    QString sourceName;
    // v3, appended (absent in v2: no audio).
    quint32 audioCodec = kCodecNone;
    quint32 audioSampleRate = 0;
    quint8 audioChannels = 0;
    quint32 audioBitRate = 0; // bits per second, 0: unknown
    QString audioDescription; // what the sender did, e.g. "ac3 5.1 48 kHz → AAC stereo 160 kb/s"
    // Appended later in v3 (absent: identity, 0, empty).
    // How to show the decoded pictures: FFmpeg's display matrix (the source's
    // AV_PKT_DATA_DISPLAYMATRIX, read with av_display_rotation_get()).
    std::array<qint32, 9> displayMatrix = kIdentityMatrix;
    quint8 videoReorderDepth = 0; // frames the decoder must hold back (B-frames); 0: as the SPS says
    QString videoDescription;     // what the sender did, e.g. "hevc 1920x1080 → H.264 2.5 Mb/s"
    // Appended later in v3 (absent: 0, every frame wanted).
    quint8 streamFlags = 0; // StreamFlag bits

    bool hasVideo() const { return codec != kCodecNone; }
    bool hasAudio() const { return audioCodec != kCodecNone; }
    bool isLive() const { return streamFlags & StreamLive; }
};

struct Media {
    qint64 ptsUs = kNoPts; // presentation time of the access unit
    QByteArray data;       // Annex B bytes
};

// One packet of the audio elementary stream: an ADTS frame (header
// included) or an MP3 frame, exactly as the adts / mp3 muxer wrote it.
// The trim fields are FFmpeg's AV_PKT_DATA_SKIP_SAMPLES of the source
// packet (encoder priming, gapless padding, edit lists), so that the
// receiver plays exactly the samples `ffmpeg -i FILE` would.
struct Audio {
    qint64 ptsUs = kNoPts;
    quint32 skipStartSamples = 0;  // decoded samples to drop at the start of this packet
    quint32 discardEndSamples = 0; // ... and at its end
    QByteArray data;
};
constexpr int kAudioPrefixSize = 16;

struct EndOfStream {
    quint64 accessUnits = 0; // what the sender sent, so the receiver can count loss
    quint64 mediaBytes = 0;
    quint64 audioPackets = 0; // v3, appended: AUDIO messages sent
};

// The receiver's last word on a stream that ended well: what arrived and
// what its decoder made of it. Without it, the sender cannot say "done".
struct Received {
    quint64 accessUnits = 0;   // received
    quint64 framesDecoded = 0;
    quint64 audioPackets = 0;       // v3, appended: AUDIO messages received
    quint64 audioFramesDecoded = 0; // v3, appended
    // Appended later in v3 (absent: 0). Frames of a LIVE stream this
    // receiver skipped on purpose because it decodes slower than the video.
    quint64 framesSkipped = 0;
};

struct Pong {
    quint32 pingSequence = 0;
    qint64 pingTimestampUs = 0; // echoed, so the pinger needs no state
    quint64 framesSkipped = 0;  // by the answering sender so far (optional trailing field)
};

// ERROR codes.
enum ErrorCode : quint16 {
    ErrProtocol = 1,       // undecodable bytes
    ErrUnexpected = 2,     // a message out of order
    ErrVersion = 3,        // no common protocol version
    ErrBusy = 4,           // another sender is live
    ErrSourceFailed = 5,   // the sender's input broke mid-stream
    ErrAuthRequired = 6,   // the receiver wants an access key (v2: the sender came without TLS)
    ErrAuthFailed = 7,     // v1 only: wrong access key (v2: the TLS handshake fails instead)
    ErrTimeout = 8,        // the handshake took too long
    ErrReceiverFailed = 9, // the receiver cannot go on (its decoder or output failed)
    ErrShuttingDown = 10,  // the receiver's user closed it (window, Ctrl+C, SIGTERM); it
                           // may come back, so a --retry sender keeps trying
    ErrFull = 11,          // a serving sender has --max-receivers streaming already
    ErrDropped = 12,       // a fan-out sender dropped this receiver: too far behind, silent, or its person said so
};

struct ErrorInfo {
    quint16 code = 0;
    QString reason;
};

QByteArray serialize(const Hello &v);
QByteArray serialize(const StreamInfo &v);
QByteArray serialize(const Media &v);
QByteArray serialize(const Audio &v);
QByteArray serialize(const EndOfStream &v);
QByteArray serialize(const Received &v);
QByteArray serialize(const Pong &v);
QByteArray serialize(const ErrorInfo &v);

// Parsers return nothing for a payload too short for its type. Trailing bytes
// are ignored: later minor revisions may append fields.
std::optional<Hello> parseHello(const QByteArray &payload);
std::optional<StreamInfo> parseStreamInfo(const QByteArray &payload);
std::optional<Media> parseMedia(const QByteArray &payload);
std::optional<Audio> parseAudio(const QByteArray &payload);
std::optional<EndOfStream> parseEndOfStream(const QByteArray &payload);
std::optional<Received> parseReceived(const QByteArray &payload);
std::optional<Pong> parsePong(const QByteArray &payload);
std::optional<ErrorInfo> parseErrorInfo(const QByteArray &payload);

constexpr int kMediaPrefixSize = 8; // the pts in front of MEDIA data
void writeMediaPrefix(qint64 ptsUs, char *out); // kMediaPrefixSize bytes

// Assigns sequence numbers, timestamps and header versions for one direction
// of a connection: HELLO and ERROR get kFrozenHeaderVersion, the rest the
// version in force (kVersion until setVersion() says what was negotiated).
class MessageWriter {
public:
    QByteArray encode(MessageType type, const QByteArray &payload, quint16 flags = 0);
    // The header alone (kHeaderSize bytes into `out`), numbered and stamped as
    // encode() does, for a payload the caller sends from where it lies (a
    // gather write). Not traced: a tracing caller uses encode().
    void encodeHeader(MessageType type, quint32 payloadLength, quint16 flags, char *out);
    quint32 nextSequence() const { return m_sequence; }
    void setVersion(quint8 version) { m_version = version; }
    quint8 version() const { return m_version; }

private:
    Header next(MessageType type, quint32 payloadLength, quint16 flags);

    quint32 m_sequence = 0;
    quint8 m_version = kVersion;
};

} // namespace h264link::proto
