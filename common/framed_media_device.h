// FramedMediaDevice: a QIODevice that carries a byte stream over the framing
// protocol on top of another device (usually a QTcpSocket), so AvioBridge can
// sit on a socket:
//
//   write side:  bytes --> MEDIA messages --> transport
//   read side:   transport --> messages --> MEDIA payloads as bytes
//                                       \-> other messages: controlMessageReceived()
//
// Access units: between beginAccessUnit() and endAccessUnit() the written
// bytes are collected and sent as one or more MEDIA messages flagged
// AccessUnitStart ... AccessUnitEnd, so the receiver knows where each frame
// ends. Bytes written outside an access unit are sent at once, unflagged.
//
// Audio (v3): between beginAudioPacket() and endAudioPacket() the written
// bytes (what the adts / mp3 muxer made of one packet) become one AUDIO
// message, so audio and video can share the transport in file order.
#pragma once

#include "message_decoder.h"
#include "protocol.h"

#include <QByteArray>
#include <QIODevice>
#include <functional>

namespace h264link {

// One access unit or audio packet as the stages wrote it, before framing:
// what a fan-out sender captures once and replays to each receiver.
struct CapturedUnit {
    enum class Kind { Video, Audio, Raw } kind = Kind::Video; // Raw: written outside an access unit
    QByteArray bytes;    // Video, Raw: Annex B bytes as written (no SPS/PPS added)
    qint64 ptsUs = proto::kNoPts;
    bool keyframe = false;
    bool decodeOnly = false;
    proto::Audio audio;  // Audio: the packet, its data in audio.data
    quint16 audioFlags = 0;
};

class FramedMediaDevice : public QIODevice {
    Q_OBJECT
public:
    explicit FramedMediaDevice(QIODevice *transport, QObject *parent = nullptr);

    bool open(OpenMode mode) override; // always unbuffered: QIODevice's read-ahead would hide bytes from bytesAvailable()
    bool isSequential() const override { return true; }
    qint64 bytesAvailable() const override;
    bool waitForReadyRead(int msecs) override;
    bool waitForBytesWritten(int msecs) override;

    // ---- Write side
    // `decodeOnly`: the receiver decodes it but never shows it (DECODE_ONLY:
    // the source's edit list starts after it).
    void beginAccessUnit(qint64 ptsUs, bool keyframe, bool decodeOnly = false);
    bool endAccessUnit(); // false if the transport refused the bytes
    bool sendMessage(proto::MessageType type, const QByteArray &payload, quint16 flags = 0);
    quint64 accessUnitsSent() const { return m_accessUnitsSent; }
    quint64 decodeOnlySent() const { return m_decodeOnlySent; } // of accessUnitsSent()
    // The latest SPS/PPS seen in what was written (Annex B, with start codes).
    QByteArray parameterSets() const { return m_parameterSets; }
    // A decoder that joins now has never seen them: put `sets` in front of
    // the next keyframe that does not carry its own.
    void prependToNextKeyframe(const QByteArray &sets) { m_pendingParameterSets = sets; }
    quint64 mediaBytesSent() const { return m_mediaBytesSent; }
    // Fan-out: frames a captured video unit as its one MEDIA message without
    // copying it. Writes the bytes in front of unit.bytes (kSharedHeadSize)
    // into `head` and counts the unit as endAccessUnit() does; the caller
    // sends head and unit.bytes in that order. False, nothing counted, where
    // it needs beginAccessUnit() ... endAccessUnit(): SPS/PPS to put in
    // front, more than one message, capture or tracing.
    static constexpr int kSharedHeadSize = proto::kHeaderSize + proto::kMediaPrefixSize;
    bool frameSharedAccessUnit(const CapturedUnit &unit, char *head);
    void beginAudioPacket(qint64 ptsUs, quint32 skipStartSamples, quint32 discardEndSamples,
                          quint16 flags);
    // Sends the collected bytes as one AUDIO message (none if nothing was
    // written); false if they do not fit one message or the transport refused them.
    bool endAudioPacket();
    bool sendAudio(const proto::Audio &audio, quint16 flags = 0);
    quint64 audioPacketsSent() const { return m_audioPacketsSent; }
    quint64 audioBytesSent() const { return m_audioBytesSent; }
    // Everything of the stream given to the transport: video and audio.
    quint64 streamBytesSent() const { return m_mediaBytesSent + m_audioBytesSent; }

    // Capture: each access unit and audio packet goes to `sink` instead of
    // the transport (which is then never used; it may be null). The counts
    // above still count them.
    void setCapture(std::function<void(CapturedUnit &&)> sink) { m_capture = std::move(sink); }

    // ---- Read side
    // Reads and dispatches whatever the transport holds, without blocking.
    // A writer calls this to see the peer's control messages (HELLO, ERROR).
    void pollTransport() { pullFromTransport(); }
    bool transportClosed() const { return m_transportClosed; }
    bool endOfStreamReceived() const { return m_endOfStream; }
    proto::ParseError protocolError() const { return m_decoder.error(); }
    // MEDIA messages that arrived after END_OF_STREAM: counted, not delivered.
    quint64 mediaAfterEndOfStream() const { return m_mediaAfterEnd; }
    // A writer (the sender) reads only control messages: MEDIA from the
    // peer is then counted and dropped, never buffered, so a hostile peer
    // cannot make it allocate without bound.
    void setAcceptMedia(bool accept) { m_acceptMedia = accept; }
    quint64 unexpectedMedia() const { return m_unexpectedMedia; }
    // MEDIA messages too short to hold their pts prefix: counted, dropped.
    quint64 malformedMedia() const { return m_malformedMedia; }

signals:
    // Every message that is not MEDIA, END_OF_STREAM included.
    void controlMessageReceived(const h264link::proto::Message &message);

protected:
    qint64 readData(char *data, qint64 maxSize) override;
    qint64 writeData(const char *data, qint64 size) override;

private:
    bool sendMedia(const QByteArray &bytes, qint64 ptsUs, quint16 flags);
    quint16 countAccessUnit(const QByteArray &bytes, bool keyframe, bool decodeOnly);
    bool pullFromTransport();
    void dispatch(proto::Message message);

    QIODevice *m_transport;
    proto::MessageWriter m_writer;
    proto::MessageDecoder m_decoder;

    // write side
    bool m_inAccessUnit = false;
    qint64 m_auPts = proto::kNoPts;
    bool m_auKeyframe = false;
    bool m_auDecodeOnly = false;
    QByteArray m_auBytes;
    QByteArray m_parameterSets;
    QByteArray m_pendingParameterSets;
    quint64 m_accessUnitsSent = 0;
    quint64 m_decodeOnlySent = 0;
    quint64 m_mediaBytesSent = 0;
    bool m_inAudio = false;
    proto::Audio m_audio;
    quint16 m_audioFlags = 0;
    quint64 m_audioPacketsSent = 0;
    quint64 m_audioBytesSent = 0;
    std::function<void(CapturedUnit &&)> m_capture;

    // read side
    QByteArray m_readBuffer;
    qsizetype m_readPos = 0;
    bool m_endOfStream = false;
    bool m_transportClosed = false;
    quint64 m_mediaAfterEnd = 0;
    quint64 m_malformedMedia = 0;
    quint64 m_unexpectedMedia = 0;
    bool m_acceptMedia = true;
};

} // namespace h264link
