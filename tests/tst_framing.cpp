// Framing protocol: encoder, incremental decoder, typed payloads, and the
// FramedMediaDevice write side.
#include "annexb.h"
#include "framed_media_device.h"
#include "message_decoder.h"
#include "protocol.h"
#include "test_support.h"

#include <QBuffer>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QtTest>

using namespace h264link;
using namespace h264link::proto;

Q_DECLARE_METATYPE(h264link::proto::MessageType)
Q_DECLARE_METATYPE(h264link::proto::ParseError)

namespace {

Message makeMessage(MessageType type, QByteArray payload, quint16 flags = 0, quint32 seq = 0)
{
    Message m;
    m.type = type;
    m.flags = flags;
    m.sequence = seq;
    m.timestampUs = 1234567890123LL + seq;
    m.payload = std::move(payload);
    return m;
}

std::vector<Message> decodeAll(MessageDecoder &decoder)
{
    std::vector<Message> out;
    while (decoder.hasMessage())
        out.push_back(decoder.takeMessage());
    return out;
}

void compareMessages(const Message &a, const Message &b)
{
    QCOMPARE(a.type, b.type);
    QCOMPARE(a.flags, b.flags);
    QCOMPARE(a.sequence, b.sequence);
    QCOMPARE(a.timestampUs, b.timestampUs);
    QCOMPARE(a.payload, b.payload);
}

QByteArray header(quint32 magic, quint8 version, quint8 type, quint32 length)
{
    Header h;
    h.magic = magic;
    h.version = version;
    h.type = type;
    h.payloadLength = length;
    QByteArray bytes(kHeaderSize, '\0');
    writeHeader(h, bytes.data());
    return bytes;
}

// The first ```hex block of docs/PROTOCOL.md.
QByteArray documentedExample()
{
    const QString doc = QString::fromUtf8(
        testsupport::readFile(QStringLiteral(H264LINK_SOURCE_DIR "/docs/PROTOCOL.md")));
    static const QRegularExpression block(QStringLiteral("```hex\\n(.*?)```"),
                                          QRegularExpression::DotMatchesEverythingOption);
    const QString hex = block.match(doc).captured(1).remove(QRegularExpression("\\s"));
    return QByteArray::fromHex(hex.toLatin1());
}

} // namespace

class TestFraming : public QObject {
    Q_OBJECT
private slots:
    void everyTypeRoundTrips_data();
    void everyTypeRoundTrips();
    void typedPayloadsRoundTrip();
    void truncatedTypedPayloadsAreRejected();
    void v3AudioFieldsRoundTripAndV2PayloadsStillParse();
    void byteAtATimeEqualsAllAtOnce();
    void goldenBytesMatchDocument();
    void malformedHeaders_data();
    void malformedHeaders();
    void malformedErrorsAreDistinct();
    void oversizedLengthRejectedFromHeaderAlone();
    void garbageRejectedAfterFourBytes();
    void errorIsSticky();
    void helloAndErrorAreReadWhateverTheirVersion_data();
    void helloAndErrorAreReadWhateverTheirVersion();
    void helloFixesTheVersion();
    void wrongVersionAfterNegotiationIsRejected();
    void noCommonVersionLeavesOnlyHelloAndError();
    void writerSendsHelloAndErrorInTheFrozenVersion();
    void negotiationRule();
    void maximumPayloadAccepted();
    void sequenceGapsAreCounted();
    void annexBSplitsAtBothStartCodes();
    void largeAccessUnitIsSplitWithFlags();
    void bytesOutsideAccessUnitAreSentAtOnce();
};

void TestFraming::everyTypeRoundTrips_data()
{
    QTest::addColumn<MessageType>("type");
    QTest::addColumn<QByteArray>("payload");
    QTest::addColumn<quint16>("flags");
    QTest::newRow("HELLO") << MessageType::Hello << serialize(Hello{2, 2, CapMedia, "x", {}}) << quint16(0);
    QTest::newRow("STREAM_INFO") << MessageType::StreamInfo << serialize(StreamInfo{}) << quint16(0);
    QTest::newRow("MEDIA") << MessageType::Media << serialize(Media{40000, "\0\0\0\1\x65"})
                           << quint16(Keyframe | AccessUnitStart | AccessUnitEnd);
    QTest::newRow("END_OF_STREAM") << MessageType::EndOfStream << serialize(EndOfStream{10, 999})
                                   << quint16(0);
    QTest::newRow("RECEIVED") << MessageType::Received << serialize(Received{10, 9}) << quint16(0);
    QTest::newRow("PING") << MessageType::Ping << QByteArray() << quint16(0);
    QTest::newRow("PONG") << MessageType::Pong << serialize(Pong{3, -5}) << quint16(0);
    QTest::newRow("ERROR") << MessageType::Error << serialize(ErrorInfo{2, "busy"}) << quint16(0);
}

void TestFraming::everyTypeRoundTrips()
{
    QFETCH(MessageType, type);
    QFETCH(QByteArray, payload);
    QFETCH(quint16, flags);
    const Message sent = makeMessage(type, payload, flags, 42);
    const QByteArray wire = encode(sent);
    QCOMPARE(wire.size(), kHeaderSize + payload.size());

    MessageDecoder decoder;
    QVERIFY(decoder.feed(wire));
    const auto got = decodeAll(decoder);
    QCOMPARE(got.size(), size_t(1));
    compareMessages(got[0], sent);
    QCOMPARE(decoder.bufferedBytes(), 0);
}

void TestFraming::typedPayloadsRoundTrip()
{
    const Hello hello{1, 3, CapMedia | CapPing, QStringLiteral("h264link-sender 0.1.0"), QStringLiteral("Salle 4 – élève")};
    const auto h = parseHello(serialize(hello));
    QVERIFY(h);
    QCOMPARE(h->minVersion, 1);
    QCOMPARE(h->maxVersion, 3);
    QCOMPARE(h->capabilities, quint32(CapMedia | CapPing));
    QCOMPARE(h->software, hello.software);
    QCOMPARE(h->name, hello.name);
    // A HELLO from before names: the same bytes without the last string.
    QByteArray older = serialize(Hello{1, 3, CapMedia, QStringLiteral("h264link-receiver 0.0.9"), {}});
    older.chop(2); // the empty name's u16 length
    const auto o = parseHello(older);
    QVERIFY(o);
    QCOMPARE(o->software, QStringLiteral("h264link-receiver 0.0.9"));
    QVERIFY(o->name.isEmpty());
    // What a peer calls itself is shown, so it is made printable and short.
    QCOMPARE(printableName(QStringLiteral(" lab\x1b[2J\n\tpc ")), QStringLiteral("lab [2J pc"));
    QCOMPARE(printableName(QString(500, QLatin1Char('x'))).size(), kMaxNameLength);

    StreamInfo info;
    info.width = 642;
    info.height = 362;
    info.frameRateNum = 30000;
    info.frameRateDen = 1001;
    info.timeBaseNum = 1;
    info.timeBaseDen = 90000;
    info.durationUs = 12'345'678;
    info.sourceName = QStringLiteral("Zoë's class — 视频.mp4");
    const auto s = parseStreamInfo(serialize(info));
    QVERIFY(s);
    QCOMPARE(s->codec, quint32(0x48323634));
    QCOMPARE(s->width, 642);
    QCOMPARE(s->height, 362);
    QCOMPARE(s->frameRateNum, 30000u);
    QCOMPARE(s->frameRateDen, 1001u);
    QCOMPARE(s->timeBaseDen, 90000u);
    QCOMPARE(s->durationUs, 12'345'678);
    QCOMPARE(s->sourceName, info.sourceName);

    const auto m = parseMedia(serialize(Media{kNoPts, QByteArray("\0\0\1\x09\xf0", 5)}));
    QVERIFY(m);
    QCOMPARE(m->ptsUs, kNoPts);
    QCOMPARE(m->data, QByteArray("\0\0\1\x09\xf0", 5));

    const auto e = parseEndOfStream(serialize(EndOfStream{250, 1u << 31}));
    QVERIFY(e);
    QCOMPARE(e->accessUnits, 250u);
    QCOMPARE(e->mediaBytes, quint64(1u << 31));

    const auto r = parseReceived(serialize(Received{250, 249}));
    QVERIFY(r);
    QCOMPARE(r->accessUnits, 250u);
    QCOMPARE(r->framesDecoded, 249u);
    QVERIFY(!parseReceived(QByteArray(15, '\0')));

    const auto p = parsePong(serialize(Pong{7, -123456789, 42}));
    QVERIFY(p);
    QCOMPARE(p->pingSequence, 7u);
    QCOMPARE(p->pingTimestampUs, -123456789);
    QCOMPARE(p->framesSkipped, 42u);
    // A minimal PONG (no trailing field) still parses.
    const auto minimal = parsePong(QByteArray::fromHex("00000007" "0000000000000010"));
    QVERIFY(minimal);
    QCOMPARE(minimal->framesSkipped, 0u);

    const auto err = parseErrorInfo(serialize(ErrorInfo{4, QStringLiteral("another sender is live")}));
    QVERIFY(err);
    QCOMPARE(err->code, 4);
    QCOMPARE(err->reason, QStringLiteral("another sender is live"));
}

void TestFraming::truncatedTypedPayloadsAreRejected()
{
    const QByteArray info = serialize(StreamInfo{});
    // Without its last byte (stream_flags) it is an older sender's; one byte
    // less cuts the video description's length in half.
    QVERIFY(!parseStreamInfo(info.left(info.size() - 2)));
    QVERIFY(!parseHello(QByteArray(3, '\0')));
    QVERIFY(!parseMedia(QByteArray(7, '\0')));
    QVERIFY(!parseEndOfStream(QByteArray(15, '\0')));
    QVERIFY(!parsePong(QByteArray()));
    // A string whose length field promises more bytes than there are.
    QVERIFY(!parseErrorInfo(QByteArray::fromHex("0001" "0010" "6162")));
}

void TestFraming::byteAtATimeEqualsAllAtOnce()
{
    QRandomGenerator generator(testsupport::testSeed());
    QRandomGenerator *rng = &generator;
    std::vector<Message> sent;
    QByteArray wire;
    for (quint32 i = 0; i < 60; ++i) {
        const int size = i == 30 ? 300'000 : int(rng->bounded(2000));
        QByteArray payload(size, Qt::Uninitialized);
        for (auto &c : payload)
            c = char(rng->bounded(256));
        sent.push_back(makeMessage(MessageType(1 + i % 7), payload, quint16(i), i));
        wire += encode(sent.back());
    }

    MessageDecoder whole;
    QVERIFY(whole.feed(wire));
    const auto a = decodeAll(whole);

    MessageDecoder bytewise;
    std::vector<Message> b;
    for (char c : wire) {
        QVERIFY(bytewise.feed(&c, 1));
        for (auto &m : decodeAll(bytewise))
            b.push_back(std::move(m));
    }

    MessageDecoder chunked;
    std::vector<Message> c;
    for (qsizetype pos = 0; pos < wire.size();) {
        const qsizetype n = qMin<qsizetype>(1 + rng->bounded(5000), wire.size() - pos);
        QVERIFY(chunked.feed(wire.constData() + pos, n));
        pos += n;
        for (auto &m : decodeAll(chunked))
            c.push_back(std::move(m));
    }

    QCOMPARE(a.size(), sent.size());
    QCOMPARE(b.size(), sent.size());
    QCOMPARE(c.size(), sent.size());
    for (size_t i = 0; i < sent.size(); ++i) {
        compareMessages(a[i], sent[i]);
        compareMessages(b[i], sent[i]);
        compareMessages(c[i], sent[i]);
    }
    QCOMPARE(bytewise.sequenceGaps(), 0u);
}

// v3 appends audio fields to STREAM_INFO, END_OF_STREAM and RECEIVED; a v2
// peer's shorter payloads still parse, as streams without audio.
void TestFraming::v3AudioFieldsRoundTripAndV2PayloadsStillParse()
{
    StreamInfo info;
    info.audioCodec = kCodecAacAdts;
    info.audioSampleRate = 48000;
    info.audioChannels = 2;
    info.audioBitRate = 160000;
    info.audioDescription = QStringLiteral("ac3 5.1 48 kHz → AAC stereo 160 kb/s");
    const auto s = parseStreamInfo(serialize(info));
    QVERIFY(s && s->hasAudio() && s->hasVideo());
    QCOMPARE(s->audioCodec, kCodecAacAdts);
    QCOMPARE(s->audioSampleRate, 48000u);
    QCOMPARE(s->audioChannels, quint8(2));
    QCOMPARE(s->audioBitRate, 160000u);
    QCOMPARE(s->audioDescription, info.audioDescription);

    // A v2 STREAM_INFO ends with the source name.
    StreamInfo v2;
    v2.sourceName = QStringLiteral("clip.mp4");
    const QByteArray v3Bytes = serialize(v2);
    const qsizetype audioFieldsSize = 4 + 4 + 1 + 4 + 2; // codec, rate, channels, bit rate, empty string
    const qsizetype pictureFieldsSize = 9 * 4 + 1 + 2 + 1; // matrix, reorder depth, empty string, flags
    const auto old = parseStreamInfo(v3Bytes.left(v3Bytes.size() - pictureFieldsSize - audioFieldsSize));
    QVERIFY(old && !old->hasAudio() && old->hasVideo());
    QCOMPARE(old->sourceName, v2.sourceName);

    // An early v3 STREAM_INFO ends with the audio description: no rotation,
    // the SPS's reorder depth.
    StreamInfo picture = info;
    picture.displayMatrix = {0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30}; // av_display_rotation_set(90)
    picture.videoReorderDepth = 2;
    picture.videoDescription = QStringLiteral("hevc 1920x1080 → H.264 2.5 Mb/s");
    const QByteArray full = serialize(picture);
    const auto withPicture = parseStreamInfo(full);
    QVERIFY(withPicture);
    QCOMPARE(withPicture->displayMatrix, picture.displayMatrix);
    QCOMPARE(withPicture->videoReorderDepth, quint8(2));
    QCOMPARE(withPicture->videoDescription, picture.videoDescription);
    QCOMPARE(withPicture->audioDescription, info.audioDescription);
    QVERIFY(!withPicture->isLive());
    const auto early = parseStreamInfo(full.left(full.size() - (9 * 4 + 1 + 2 + picture.videoDescription.toUtf8().size() + 1)));
    QVERIFY(early);
    QCOMPARE(early->displayMatrix, kIdentityMatrix);
    QCOMPARE(early->videoReorderDepth, quint8(0));
    QCOMPARE(early->audioDescription, info.audioDescription);

    // stream_flags: LIVE round-trips; a sender from before it sent none (0).
    StreamInfo live = picture;
    live.streamFlags = StreamLive;
    const QByteArray liveBytes = serialize(live);
    QVERIFY(parseStreamInfo(liveBytes)->isLive());
    const auto beforeFlags = parseStreamInfo(liveBytes.left(liveBytes.size() - 1));
    QVERIFY(beforeFlags && !beforeFlags->isLive());
    QCOMPARE(beforeFlags->videoDescription, picture.videoDescription);

    const auto eos = parseEndOfStream(serialize(EndOfStream{10, 1000, 7}));
    QVERIFY(eos);
    QCOMPARE(eos->audioPackets, 7u);
    const auto eosV2 = parseEndOfStream(serialize(EndOfStream{10, 1000, 7}).left(16));
    QVERIFY(eosV2);
    QCOMPARE(eosV2->accessUnits, 10u);
    QCOMPARE(eosV2->audioPackets, 0u);

    const auto received = parseReceived(serialize(Received{10, 10, 7, 6}));
    QVERIFY(received);
    QCOMPARE(received->audioPackets, 7u);
    QCOMPARE(received->audioFramesDecoded, 6u);
    const auto receivedV2 = parseReceived(serialize(Received{10, 9, 7, 6}).left(16));
    QVERIFY(receivedV2);
    QCOMPARE(receivedV2->framesDecoded, 9u);
    QCOMPARE(receivedV2->audioFramesDecoded, 0u);
    // frames_skipped round-trips; a receiver from before it sent none (0).
    const QByteArray skipping = serialize(Received{360, 120, 7, 6, 240});
    QCOMPARE(parseReceived(skipping)->framesSkipped, 240u);
    const auto beforeSkipped = parseReceived(skipping.left(32));
    QVERIFY(beforeSkipped);
    QCOMPARE(beforeSkipped->framesSkipped, 0u);
    QCOMPARE(beforeSkipped->audioFramesDecoded, 6u);

    const auto audio = parseAudio(serialize(Audio{21333, 1024, 7, QByteArray("\xff\xf1\x50\x80", 4)}));
    QVERIFY(audio);
    QCOMPARE(audio->ptsUs, 21333);
    QCOMPARE(audio->skipStartSamples, 1024u);
    QCOMPARE(audio->discardEndSamples, 7u);
    QCOMPARE(audio->data.size(), 4);
    QVERIFY(!parseAudio(QByteArray(kAudioPrefixSize - 1, '\0')));
    QVERIFY(isKnownType(quint8(MessageType::Audio)));
    QCOMPARE(QString(typeName(MessageType::Audio)), QStringLiteral("AUDIO"));
}

void TestFraming::goldenBytesMatchDocument()
{
    const QByteArray documented = documentedExample();
    QVERIFY2(!documented.isEmpty(), "docs/PROTOCOL.md has no ```hex example block");

    Message m = makeMessage(MessageType::Media,
                            serialize(Media{40000, QByteArray("\0\0\0\1\x09\xf0", 6)}),
                            Keyframe | ParameterSets | AccessUnitStart | AccessUnitEnd, 7);
    m.timestampUs = 1'000'000;
    QCOMPARE(encode(m).toHex(' '), documented.toHex(' '));

    MessageDecoder decoder;
    QVERIFY(decoder.feed(documented));
    QVERIFY(decoder.hasMessage());
    compareMessages(decoder.takeMessage(), m);
}

void TestFraming::malformedHeaders_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<ParseError>("expected");
    QTest::newRow("bad magic") << header(0x47455420, kVersion, 3, 0) << ParseError::BadMagic;
    QTest::newRow("version 0") << header(kMagic, 0, 3, 0) << ParseError::UnsupportedVersion;
    QTest::newRow("version 0 HELLO") << header(kMagic, 0, 1, 0) << ParseError::UnsupportedVersion;
    QTest::newRow("MEDIA below our range") << header(kMagic, kMinVersion - 1, 3, 0)
                                           << ParseError::UnsupportedVersion;
    QTest::newRow("MEDIA above our range") << header(kMagic, kVersion + 1, 3, 0)
                                           << ParseError::UnsupportedVersion;
    QTest::newRow("type 0") << header(kMagic, kVersion, 0, 0) << ParseError::UnknownType;
    QTest::newRow("type 0x7f") << header(kMagic, kVersion, 0x7f, 0) << ParseError::UnknownType;
    QTest::newRow("length max+1") << header(kMagic, kVersion, 3, kMaxPayloadSize + 1)
                                  << ParseError::PayloadTooLarge;
    QTest::newRow("length 4 GiB") << header(kMagic, kVersion, 3, 0xFFFFFFFFu) << ParseError::PayloadTooLarge;
}

void TestFraming::malformedHeaders()
{
    QFETCH(QByteArray, bytes);
    QFETCH(ParseError, expected);
    MessageDecoder decoder;
    QVERIFY(!decoder.feed(bytes));
    QCOMPARE(decoder.error(), expected);
    QVERIFY(!decoder.hasMessage());
}

void TestFraming::malformedErrorsAreDistinct()
{
    const QList<ParseError> errors{ParseError::BadMagic, ParseError::UnsupportedVersion,
                                   ParseError::UnknownType, ParseError::PayloadTooLarge,
                                   ParseError::MalformedPayload};
    QSet<QString> texts;
    for (ParseError e : errors)
        texts.insert(describe(e));
    QCOMPARE(texts.size(), errors.size());
    QVERIFY(describe(ParseError::PayloadTooLarge).contains(QString::number(kMaxPayloadSize)));
}

void TestFraming::oversizedLengthRejectedFromHeaderAlone()
{
    MessageDecoder decoder;
    const QByteArray h = header(kMagic, kVersion, 3, 0xFFFFFFF0u);
    QVERIFY(decoder.feed(h.left(kHeaderSize - 1))); // not yet decidable
    QCOMPARE(decoder.error(), ParseError::None);
    QVERIFY(!decoder.feed(h.right(1)));
    QCOMPARE(decoder.error(), ParseError::PayloadTooLarge);
    QCOMPARE(decoder.bufferedBytes(), qsizetype(kHeaderSize)); // nothing reserved for the payload
}

void TestFraming::garbageRejectedAfterFourBytes()
{
    MessageDecoder decoder;
    QVERIFY(decoder.feed("GET", 3));
    QVERIFY(!decoder.feed(" ", 1));
    QCOMPARE(decoder.error(), ParseError::BadMagic);
}

void TestFraming::errorIsSticky()
{
    MessageDecoder decoder;
    QVERIFY(!decoder.feed(header(kMagic, 9, 3, 0)));
    QVERIFY(!decoder.feed(encode(makeMessage(MessageType::Ping, {}))));
    QVERIFY(!decoder.hasMessage());
    QCOMPARE(decoder.error(), ParseError::UnsupportedVersion);
}

namespace {

QByteArray withVersion(Message m, quint8 version)
{
    m.version = version;
    return encode(m);
}

} // namespace

void TestFraming::helloAndErrorAreReadWhateverTheirVersion_data()
{
    QTest::addColumn<MessageType>("type");
    QTest::addColumn<QByteArray>("payload");
    QTest::addColumn<int>("version");
    const QByteArray hello = serialize(Hello{3, 4, CapMedia, "h264link-sender 9.0", {}});
    const QByteArray error = serialize(ErrorInfo{ErrVersion, "update"});
    for (int v : {1, 2, 3, 255}) {
        QTest::addRow("HELLO v%d", v) << MessageType::Hello << hello << v;
        QTest::addRow("ERROR v%d", v) << MessageType::Error << error << v;
    }
}

// What lets two releases tell each other their versions at all: a future
// v3 (or any) header on HELLO and ERROR is still read.
void TestFraming::helloAndErrorAreReadWhateverTheirVersion()
{
    QFETCH(MessageType, type);
    QFETCH(QByteArray, payload);
    QFETCH(int, version);
    MessageDecoder decoder;
    QVERIFY2(decoder.feed(withVersion(makeMessage(type, payload), quint8(version))),
             qPrintable(decoder.errorString()));
    QVERIFY(decoder.hasMessage());
    const Message m = decoder.takeMessage();
    QCOMPARE(m.type, type);
    QCOMPARE(m.version, quint8(version));
    QCOMPARE(m.payload, payload);
}

void TestFraming::helloFixesTheVersion()
{
    // A future peer (2..3, writing its HELLO with a v3 header), and the
    // message right behind HELLO in the same read.
    MessageDecoder decoder;
    QVERIFY(!decoder.negotiatedVersion());
    QByteArray wire = withVersion(makeMessage(MessageType::Hello, serialize(Hello{2, 3, CapMedia, "v3", {}})), 3);
    wire += withVersion(makeMessage(MessageType::Accepted, {}, 0, 1), kVersion);
    QVERIFY2(decoder.feed(wire), qPrintable(decoder.errorString()));
    QCOMPARE(decodeAll(decoder).size(), size_t(2));
    QCOMPARE(decoder.negotiatedVersion(), std::optional<quint8>(kVersion));

    // A build that speaks 2..3 agrees on 3 with the same peer, and then
    // holds it to 3.
    MessageDecoder newer(2, 3);
    QVERIFY(newer.feed(withVersion(makeMessage(MessageType::Hello, serialize(Hello{2, 3, CapMedia, "v3", {}})), 1)));
    QCOMPARE(newer.negotiatedVersion(), std::optional<quint8>(3));
    QVERIFY(newer.feed(withVersion(makeMessage(MessageType::Ping, {}, 0, 1), 3)));
    QVERIFY(!newer.feed(withVersion(makeMessage(MessageType::Ping, {}, 0, 2), 2)));
    QCOMPARE(newer.error(), ParseError::UnsupportedVersion);
}

void TestFraming::wrongVersionAfterNegotiationIsRejected()
{
    MessageDecoder decoder;
    QVERIFY(decoder.feed(withVersion(makeMessage(MessageType::Hello, serialize(Hello{})), kFrozenHeaderVersion)));
    QVERIFY(decoder.feed(withVersion(makeMessage(MessageType::StreamInfo, serialize(StreamInfo{}), 0, 1), kVersion)));
    QVERIFY(!decoder.feed(withVersion(makeMessage(MessageType::Media, serialize(Media{}), 0, 2), kVersion + 1)));
    QCOMPARE(decoder.error(), ParseError::UnsupportedVersion);
    QVERIFY2(decoder.errorString().contains(QStringLiteral("version %1 on a MEDIA").arg(kVersion + 1))
                 && decoder.errorString().contains(QStringLiteral("agreed on version %1").arg(kVersion)),
             qPrintable(decoder.errorString()));
    QCOMPARE(decodeAll(decoder).size(), size_t(2)); // what came before still counts

    // Rejected from the header alone: six bytes are enough.
    MessageDecoder early;
    QVERIFY(early.feed(withVersion(makeMessage(MessageType::Hello, serialize(Hello{})), kFrozenHeaderVersion)));
    const QByteArray v1Media = withVersion(makeMessage(MessageType::Media, serialize(Media{}), 0, 1), 1);
    QVERIFY(early.feed(v1Media.left(5)));
    QVERIFY(!early.feed(v1Media.mid(5, 1)));
    QCOMPARE(early.error(), ParseError::UnsupportedVersion);
}

// A v1 peer's HELLO (1..1): no common version. The handshake refuses it
// (tst_handshake); the decoder still reads the peer's HELLO and ERROR, so
// the person hears the peer's reason too, but nothing else.
void TestFraming::noCommonVersionLeavesOnlyHelloAndError()
{
    MessageDecoder decoder;
    QVERIFY(decoder.feed(withVersion(makeMessage(MessageType::Hello, serialize(Hello{1, 1, CapMedia, "old", {}})), 1)));
    QVERIFY(decoder.helloSeen());
    QVERIFY(!decoder.negotiatedVersion());
    QVERIFY(decoder.feed(withVersion(makeMessage(MessageType::Error, serialize(ErrorInfo{ErrVersion, "x"}), 0, 1), 1)));
    QCOMPARE(decodeAll(decoder).size(), size_t(2));
    QVERIFY(!decoder.feed(withVersion(makeMessage(MessageType::AuthChallenge, QByteArray(32, 'n'), 0, 2), 1)));
    QCOMPARE(decoder.error(), ParseError::UnsupportedVersion);
}

void TestFraming::writerSendsHelloAndErrorInTheFrozenVersion()
{
    MessageWriter writer;
    const auto versionOf = [](const QByteArray &wire) { return quint8(wire.at(4)); };
    QCOMPARE(versionOf(writer.encode(MessageType::Hello, serialize(Hello{}))), kFrozenHeaderVersion);
    QCOMPARE(versionOf(writer.encode(MessageType::Error, serialize(ErrorInfo{}))), kFrozenHeaderVersion);
    QCOMPARE(versionOf(writer.encode(MessageType::Accepted, {})), kVersion);
    writer.setVersion(3);
    QCOMPARE(versionOf(writer.encode(MessageType::Ping, {})), quint8(3));
    QCOMPARE(versionOf(writer.encode(MessageType::Hello, serialize(Hello{}))), kFrozenHeaderVersion);
    QCOMPARE(writer.nextSequence(), 5u);
}

void TestFraming::negotiationRule()
{
    using V = std::optional<quint8>;
    QCOMPARE(negotiateVersion(1, 1, 2, 2), V());
    QCOMPARE(negotiateVersion(2, 2, 2, 2), V(2));
    QCOMPARE(negotiateVersion(1, 5, 2, 3), V(3)); // the highest common one
    QCOMPARE(negotiateVersion(3, 4, 2, 3), V(3));
    QCOMPARE(negotiateVersion(4, 4, 2, 3), V());
    QCOMPARE(negotiateVersion(3, 1, 1, 3), V()); // an inverted range is empty
    QCOMPARE(versionRange(2, 2), QStringLiteral("2"));
    QCOMPARE(versionRange(1, 3), QStringLiteral("1 to 3"));
}

void TestFraming::maximumPayloadAccepted()
{
    MessageDecoder decoder;
    const Message m = makeMessage(MessageType::Media, QByteArray(int(kMaxPayloadSize), 'x'));
    QVERIFY(decoder.feed(encode(m)));
    QVERIFY(decoder.hasMessage());
    QCOMPARE(decoder.takeMessage().payload.size(), qsizetype(kMaxPayloadSize));
}

void TestFraming::sequenceGapsAreCounted()
{
    MessageDecoder decoder;
    for (quint32 seq : {0u, 1u, 2u, 5u, 6u, 9u})
        QVERIFY(decoder.feed(encode(makeMessage(MessageType::Ping, {}, 0, seq))));
    QCOMPARE(decoder.messagesDecoded(), 6u);
    QCOMPARE(decoder.sequenceGaps(), 2u);
}

void TestFraming::annexBSplitsAtBothStartCodes()
{
    const QByteArray stream = QByteArray::fromHex("00000001 6742c01e aa"
                                                  "000001 68ce3c80"
                                                  "00000001 65888400"
                                                  "000001 0198");
    const auto units = annexb::split(stream);
    QCOMPARE(units.size(), size_t(4));
    QCOMPARE(units[0].type, int(annexb::Sps));
    QCOMPARE(units[0].offset, 4);
    QCOMPARE(units[0].size, 5);
    QCOMPARE(units[1].type, int(annexb::Pps));
    QCOMPARE(units[1].size, 4);
    QCOMPARE(units[2].type, int(annexb::IdrSlice));
    QCOMPARE(units[3].type, int(annexb::NonIdrSlice));
    QCOMPARE(units[3].size, 2);
    // Both sets, each behind a 4-byte start code (the PPS had a 3-byte one).
    QCOMPARE(annexb::parameterSets(stream), QByteArray::fromHex("00000001 6742c01e aa 00000001 68ce3c80"));
    // Stopping at the first slice: the same leading units, the slice's size unscanned.
    const auto leading = annexb::split(stream, true);
    QCOMPARE(leading.size(), size_t(3));
    QCOMPARE(leading[1].size, 4);
    QCOMPARE(leading[2].type, int(annexb::IdrSlice));
    QCOMPARE(leading[2].offset + leading[2].size, stream.size());
    QVERIFY(annexb::parameterSets(stream.mid(21)).isEmpty());
}

void TestFraming::largeAccessUnitIsSplitWithFlags()
{
    QBuffer wire;
    wire.open(QIODevice::WriteOnly);
    FramedMediaDevice device(&wire);
    QVERIFY(device.open(QIODevice::WriteOnly));

    QByteArray au = QByteArray::fromHex("00000001 6742c01e 00000001 68ce3c80 00000001 65");
    au += QByteArray(int(kMaxPayloadSize) * 2 + 1000, '\x5a');
    device.beginAccessUnit(80000, true);
    // Written in pieces, as AVIOContext's write_packet delivers them.
    for (qsizetype pos = 0; pos < au.size(); pos += 65536)
        QCOMPARE(device.write(au.mid(pos, 65536)), qMin<qint64>(65536, au.size() - pos));
    QCOMPARE(wire.size(), 0); // nothing sent before the access unit is complete
    QVERIFY(device.endAccessUnit());
    QCOMPARE(device.accessUnitsSent(), 1u);

    MessageDecoder decoder;
    QVERIFY(decoder.feed(wire.data()));
    const auto messages = decodeAll(decoder);
    QCOMPARE(messages.size(), size_t(3));
    QByteArray joined;
    for (size_t i = 0; i < messages.size(); ++i) {
        const Message &m = messages[i];
        QCOMPARE(m.type, MessageType::Media);
        QVERIFY(m.flags & Keyframe);
        QVERIFY(m.flags & ParameterSets);
        QCOMPARE(bool(m.flags & AccessUnitStart), i == 0);
        QCOMPARE(bool(m.flags & AccessUnitEnd), i == messages.size() - 1);
        QVERIFY(quint32(m.payload.size()) <= kMaxPayloadSize);
        const auto media = parseMedia(m.payload);
        QVERIFY(media);
        QCOMPARE(media->ptsUs, 80000);
        joined += media->data;
    }
    QCOMPARE(joined, au);
}

void TestFraming::bytesOutsideAccessUnitAreSentAtOnce()
{
    QBuffer wire;
    wire.open(QIODevice::WriteOnly);
    FramedMediaDevice device(&wire);
    QVERIFY(device.open(QIODevice::WriteOnly));
    QCOMPARE(device.write("\0\0\1\x09", 4), 4);
    MessageDecoder decoder;
    QVERIFY(decoder.feed(wire.data()));
    QVERIFY(decoder.hasMessage());
    const Message m = decoder.takeMessage();
    QCOMPARE(m.flags, quint16(0));
    QCOMPARE(parseMedia(m.payload)->data, QByteArray("\0\0\1\x09", 4));
}

QTEST_GUILESS_MAIN(TestFraming)
#include "tst_framing.moc"
