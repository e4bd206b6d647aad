// The sender's audio stages, driven directly (MediaSource / Playback ->
// AudioStage -> FramedMediaDevice over a memory buffer), against ffmpeg and
// ffprobe as the oracles:
//  - AAC and MP3 pass through: the AUDIO payloads, concatenated, equal
//    `ffmpeg -c copy -f adts|mp3` byte for byte, one message per packet, with
//    ffprobe's pts and skip-samples trim;
//  - every other codec becomes AAC-LC (at most stereo, the source's rate if
//    AAC has it, else 48 kHz) that decodes, trimmed, to the source's duration
//    within one AAC frame;
//  - MediaSource hands out both streams in file order, takes audio-only files
//    and refuses a file with neither; --loop shifts audio and video alike.
#include "ffmpeg_raii.h"
#include "framed_media_device.h"
#include "message_decoder.h"
#include "remux/audio_stage.h"
#include "source/media_source.h"
#include "source/playback.h"
#include "test_support.h"

#include <QBuffer>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

using namespace h264link;
using namespace testsupport;

namespace {

struct AudioMessage {
    quint16 flags = 0;
    proto::Audio audio;
};

struct ProbedAudioPacket {
    qint64 pts = AV_NOPTS_VALUE; // in the stream's time base
    quint32 skip = 0;
    quint32 discard = 0;
    bool discarded = false; // flag D: before the edit list's start
};

// "key=value|key=value" lines of ffprobe's compact output, as maps.
QList<QMap<QByteArray, QByteArray>> compactRows(const QByteArray &out, const QByteArray &section)
{
    QList<QMap<QByteArray, QByteArray>> rows;
    for (const QByteArray &line : out.split('\n')) {
        if (!line.startsWith(section + '|'))
            continue;
        QMap<QByteArray, QByteArray> row;
        for (const QByteArray &field : line.split('|')) {
            const int eq = field.indexOf('=');
            if (eq > 0)
                row.insert(field.left(eq), field.mid(eq + 1));
        }
        rows << row;
    }
    return rows;
}

AVRational probeTimeBase(const QString &clip, const QString &stream)
{
    const ToolResult r = ffprobe({"-select_streams", stream, "-show_entries", "stream=time_base", "-of", "csv=p=0", clip});
    // MPEG-TS lists the stream again under its program: the first line will do.
    const QList<QByteArray> parts = r.out.trimmed().split('\n').value(0).trimmed().split('/');
    return AVRational{parts.value(0).toInt(), parts.value(1).toInt()};
}

QList<ProbedAudioPacket> probeAudioPackets(const QString &clip)
{
    const ToolResult r = ffprobe({"-select_streams", "a:0", "-show_entries", "packet=pts,flags:packet_side_data",
                                  "-of", "compact", clip});
    QList<ProbedAudioPacket> packets;
    for (const auto &row : compactRows(r.out, "packet")) {
        ProbedAudioPacket p;
        bool ok = false;
        const qint64 pts = row.value("pts").toLongLong(&ok);
        if (ok)
            p.pts = pts;
        p.skip = row.value("skip_samples").toUInt();
        p.discard = row.value("discard_padding").toUInt();
        p.discarded = row.value("flags").contains('D');
        packets << p;
    }
    return packets;
}

QList<AudioMessage> audioMessages(const QByteArray &wire)
{
    proto::MessageDecoder decoder;
    QList<AudioMessage> messages;
    if (!decoder.feed(wire))
        return messages;
    while (decoder.hasMessage()) {
        const proto::Message m = decoder.takeMessage();
        if (m.type != proto::MessageType::Audio)
            continue;
        if (auto audio = proto::parseAudio(m.payload))
            messages.append({m.flags, *audio});
    }
    return messages;
}

// What the sender's audio stage makes of the clip's first audio stream.
struct Capture {
    QString error;
    QString description;
    proto::StreamInfo info;
    QList<AudioMessage> messages;
    QByteArray wire;
    quint64 undecodable = 0;
};

Capture captureAudio(const QString &clip)
{
    Capture c;
    const auto source = MediaSource::open(clip, &c.error, true);
    if (!source)
        return c;
    if (!source->hasAudio()) {
        c.error = "no audio stream";
        return c;
    }
    QBuffer transport(&c.wire);
    transport.open(QIODevice::WriteOnly);
    FramedMediaDevice framing(&transport);
    framing.open(QIODevice::WriteOnly);
    const auto stage = AudioStage::create(source->audioStream(), &framing, &c.error);
    if (!stage)
        return c;
    c.description = stage->description();
    stage->describe(&c.info);
    PacketPtr packet = makePacket();
    bool first = true;
    int ret = 0;
    while ((ret = source->readPacket(packet.get())) >= 0) {
        if (source->isAudio(packet.get()) && stage->write(packet.get(), std::exchange(first, false), &c.error)
                != AudioMuxer::Result::Ok)
            return c;
        av_packet_unref(packet.get());
    }
    if (ret != AVERROR_EOF) {
        c.error = "read: " + averrorText(ret);
        return c;
    }
    if (!stage->finish(&c.error))
        return c;
    c.undecodable = stage->undecodablePackets();
    transport.close();
    c.messages = audioMessages(c.wire);
    return c;
}

QByteArray payloads(const QList<AudioMessage> &messages)
{
    QByteArray all;
    for (const AudioMessage &m : messages)
        all += m.audio.data;
    return all;
}

// Decoded samples (per channel, at the file's rate) as ffmpeg counts them.
qint64 decodedSamples(const QString &file)
{
    const ToolResult r = ffmpeg({"-i", file, "-map", "0:a:0", "-ac", "1", "-f", "s16le", "-acodec", "pcm_s16le", "-"});
    return r.ok() ? r.out.size() / 2 : -1;
}

} // namespace

class TestSenderAudio : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void passesThrough_data();
    void passesThrough();
    void transcodes_data();
    void transcodes();
    void damagedPacketIsCountedAndLeftOut();
    void bothStreamsInFileOrder();
    void audioOnlyAndNeither();
    void loopShiftsAudioLikeVideo();
    void documentedAudioExample();
    void reconnectStartsAudioWithTheKeyframe();
    void transcodedLoopStartsOver();

private:
    QString path(const QString &name) const { return m_dir.filePath(name); }
    void make(const QString &name, const QStringList &args);
    QTemporaryDir m_dir;
};

void TestSenderAudio::make(const QString &name, const QStringList &args)
{
    const ToolResult r = ffmpeg(QStringList{"-y"} + args + QStringList{path(name)});
    QVERIFY2(r.ok(), r.err.constData());
}

void TestSenderAudio::initTestCase()
{
    QVERIFY(m_dir.isValid());
    const QStringList video{"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=2"};
    const QStringList x264{"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"};
    auto sine = [](int rate, const QString &layout = "stereo", double seconds = 2.0) {
        return QStringList{"-f", "lavfi", "-i",
                           QStringLiteral("sine=frequency=440:sample_rate=%1:duration=%2,aformat=channel_layouts=%3")
                               .arg(rate).arg(seconds).arg(layout)};
    };
    make("aac.mp4", video + sine(44100) + x264 + QStringList{"-c:a", "aac"});
    make("gop.mp4", video + sine(48000) + x264 + QStringList{"-g", "10", "-c:a", "aac"});
    make("aac.ts", video + sine(48000) + x264 + QStringList{"-c:a", "aac"});
    make("mp3.mkv", video + sine(44100) + x264 + QStringList{"-c:a", "libmp3lame"});
    make("mono.mp3", sine(22050, "mono", 1.3) + QStringList{"-c:a", "libmp3lame"});
    make("aac.m4a", sine(48000, "mono", 1.7) + QStringList{"-c:a", "aac"});
    make("ac3_51.mkv", video + sine(48000, "5.1") + x264 + QStringList{"-c:a", "ac3"});
    make("opus.mkv", video + sine(48000, "stereo", 1.9) + x264 + QStringList{"-c:a", "libopus"});
    make("flac.mkv", sine(44100, "stereo", 1.5) + QStringList{"-c:a", "flac"});
    make("pcm.wav", sine(22050, "mono", 1.2) + QStringList{"-c:a", "pcm_s16le"});
    make("pcm_odd_rate.wav", sine(10000, "stereo", 1.0) + QStringList{"-c:a", "pcm_s16le"});
    QFile srt(path("notes.srt"));
    QVERIFY(srt.open(QIODevice::WriteOnly));
    srt.write("1\n00:00:00,000 --> 00:00:01,000\nLesson notes, no picture, no sound.\n");
}

void TestSenderAudio::passesThrough_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("format");
    QTest::addColumn<quint32>("codec");
    QTest::addColumn<bool>("trimmed"); // the container says what to trim
    QTest::newRow("AAC in mp4 (priming in an edit list)") << "aac.mp4" << "adts" << proto::kCodecAacAdts << true;
    QTest::newRow("AAC in m4a, audio only") << "aac.m4a" << "adts" << proto::kCodecAacAdts << true;
    QTest::newRow("AAC in MPEG-TS (ADTS already)") << "aac.ts" << "adts" << proto::kCodecAacAdts << false;
    QTest::newRow("MP3 in mkv") << "mp3.mkv" << "mp3" << proto::kCodecMp3 << true;
    QTest::newRow("MP3 file (gapless trim)") << "mono.mp3" << "mp3" << proto::kCodecMp3 << true;
}

void TestSenderAudio::passesThrough()
{
    QFETCH(QString, file);
    QFETCH(QString, format);
    QFETCH(quint32, codec);
    QFETCH(bool, trimmed);
    const QString clip = path(file);
    const Capture c = captureAudio(clip);
    QVERIFY2(c.error.isEmpty(), qPrintable(c.error));
    QVERIFY2(c.description.endsWith(", passed through"), qPrintable(c.description));
    QCOMPARE(c.info.audioCodec, codec);

    QStringList args{"-i", clip, "-map", "0:a:0", "-c", "copy", "-f", format};
    if (format == "mp3")
        args << "-id3v2_version" << "0" << "-write_xing" << "0";
    const ToolResult ref = ffmpeg(args << "-");
    QVERIFY2(ref.ok(), ref.err.constData());
    const QByteArray ours = payloads(c.messages);
    QCOMPARE(ours.size(), ref.out.size());
    QVERIFY(ours == ref.out);

    const QList<ProbedAudioPacket> probed = probeAudioPackets(clip);
    const AVRational tb = probeTimeBase(clip, "a:0");
    QCOMPARE(c.messages.size(), probed.size()); // one AUDIO message per packet
    bool anyTrim = false;
    for (int i = 0; i < probed.size(); ++i) {
        const proto::Audio &a = c.messages[i].audio;
        const QString where = QStringLiteral("packet %1").arg(i);
        QVERIFY2(a.ptsUs == av_rescale_q(probed[i].pts, tb, AV_TIME_BASE_Q),
                 qPrintable(where + QStringLiteral(": %1 us, ffprobe %2 us").arg(a.ptsUs).arg(av_rescale_q(probed[i].pts, tb, AV_TIME_BASE_Q))));
        QVERIFY2(a.skipStartSamples == probed[i].skip, qPrintable(where));
        QVERIFY2(a.discardEndSamples == probed[i].discard, qPrintable(where));
        // DECODE_ONLY exactly where ffprobe sees a packet to discard (an
        // mp4's priming packet lies before its edit list's start).
        const quint16 expected = (i == 0 ? AudioStage::kDiscontinuity : 0)
                               | (probed[i].discarded ? AudioMuxer::kDecodeOnly : 0);
        QVERIFY2(c.messages[i].flags == expected,
                 qPrintable(where + QStringLiteral(": flags %1, expected %2").arg(c.messages[i].flags).arg(expected)));
        anyTrim = anyTrim || a.skipStartSamples || a.discardEndSamples;
    }
    QCOMPARE(anyTrim, trimmed);
}

void TestSenderAudio::transcodes_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<int>("rate");
    QTest::addColumn<int>("channels");
    QTest::addColumn<QString>("description");
    QTest::newRow("AC-3 5.1: downmixed") << "ac3_51.mkv" << 48000 << 2 << "ac3 5.1(side) 48 kHz → AAC stereo 160 kb/s";
    QTest::newRow("Opus") << "opus.mkv" << 48000 << 2 << "opus stereo 48 kHz → AAC stereo 160 kb/s";
    QTest::newRow("FLAC, audio only") << "flac.mkv" << 44100 << 2 << "flac stereo 44.1 kHz → AAC stereo 160 kb/s";
    QTest::newRow("PCM mono") << "pcm.wav" << 22050 << 1 << "pcm_s16le mono 22.1 kHz → AAC mono 96 kb/s";
    QTest::newRow("PCM at a rate AAC lacks") << "pcm_odd_rate.wav" << 48000 << 2
                                             << "pcm_s16le stereo 10 kHz → AAC stereo 160 kb/s";
}

void TestSenderAudio::transcodes()
{
    QFETCH(QString, file);
    QFETCH(int, rate);
    QFETCH(int, channels);
    QFETCH(QString, description);
    const QString clip = path(file);
    const Capture c = captureAudio(clip);
    QVERIFY2(c.error.isEmpty(), qPrintable(c.error));
    QCOMPARE(c.description, description);
    QCOMPARE(c.info.audioCodec, proto::kCodecAacAdts);
    QCOMPARE(int(c.info.audioSampleRate), rate);
    QCOMPARE(int(c.info.audioChannels), channels);
    QVERIFY(!c.messages.isEmpty());
    QCOMPARE(c.undecodable, quint64(0));

    const QString out = path(file + ".aac");
    QFile aac(out);
    QVERIFY(aac.open(QIODevice::WriteOnly));
    aac.write(payloads(c.messages));
    aac.close();
    const ToolResult probe = ffprobe({"-select_streams", "a:0", "-show_entries",
                                      "stream=codec_name,profile,sample_rate,channels", "-of", "compact", out});
    QVERIFY2(probe.ok(), probe.err.constData());
    const auto streams = compactRows(probe.out, "stream");
    QCOMPARE(streams.size(), 1);
    QCOMPARE(streams[0].value("codec_name"), QByteArray("aac"));
    QCOMPARE(streams[0].value("profile"), QByteArray("LC"));
    QCOMPARE(streams[0].value("sample_rate").toInt(), rate);
    QCOMPARE(streams[0].value("channels").toInt(), channels);
    // One ADTS frame per message, and every packet counted.
    QCOMPARE(compactRows(ffprobe({"-show_entries", "packet=pts", "-of", "compact", out}).out, "packet").size(),
             c.messages.size());

    // Trimmed as the receiver trims, it lasts as long as the source, within
    // one AAC frame; the timestamps run on, 1024 samples apart.
    qint64 trim = 0;
    for (const AudioMessage &m : c.messages)
        trim += m.audio.skipStartSamples + m.audio.discardEndSamples;
    const qint64 ours = decodedSamples(out) - trim;
    const qint64 source = decodedSamples(clip);
    const ToolResult srcRate = ffprobe({"-select_streams", "a:0", "-show_entries", "stream=sample_rate", "-of", "csv=p=0", clip});
    const qint64 expected = av_rescale(source, rate, srcRate.out.trimmed().toInt());
    qInfo("samples: %lld sent (after trim %lld), source %lld at %d Hz", ours + trim, ours, expected, rate);
    QVERIFY2(qAbs(ours - expected) <= 1024, qPrintable(QString("%1 vs %2").arg(ours).arg(expected)));
    QVERIFY(c.messages.first().audio.skipStartSamples > 0); // the encoder's priming
    // The first sample heard is the source's first decoded sample, in time.
    const ToolResult firstFrame = ffprobe({"-select_streams", "a:0", "-show_entries", "frame=best_effort_timestamp_time",
                                           "-read_intervals", "%+#1", "-of", "csv=p=0", clip});
    const qint64 sourceStartUs = qRound64(firstFrame.out.trimmed().split('\n').value(0).toDouble() * 1e6);
    const qint64 heardUs = c.messages.first().audio.ptsUs
        + av_rescale(c.messages.first().audio.skipStartSamples, 1'000'000, rate);
    QVERIFY2(qAbs(heardUs - sourceStartUs) <= av_rescale(1, 1'000'000, rate) + 1,
             qPrintable(QString("first sample at %1 us, the source's at %2 us").arg(heardUs).arg(sourceStartUs)));
    const qint64 frameUs = av_rescale(1024, 1'000'000, rate);
    for (int i = 1; i < c.messages.size(); ++i)
        QVERIFY2(qAbs(c.messages[i].audio.ptsUs - c.messages[i - 1].audio.ptsUs - frameUs) <= 1,
                 qPrintable(QString("packet %1").arg(i)));
    QCOMPARE(c.messages.first().flags, AudioStage::kDiscontinuity);
}

void TestSenderAudio::damagedPacketIsCountedAndLeftOut()
{
    QString error;
    const auto source = MediaSource::open(path("flac.mkv"), &error, true);
    QVERIFY2(source, qPrintable(error));
    QByteArray wire;
    QBuffer transport(&wire);
    QVERIFY(transport.open(QIODevice::WriteOnly));
    FramedMediaDevice framing(&transport);
    QVERIFY(framing.open(QIODevice::WriteOnly));
    const auto stage = AudioStage::create(source->audioStream(), &framing, &error);
    QVERIFY2(stage, qPrintable(error));
    PacketPtr packet = makePacket();
    int packets = 0;
    while (source->readPacket(packet.get()) >= 0) {
        if (++packets >= 5 && packets < 9) // not FLAC at all
            std::fill(packet->data, packet->data + packet->size, uint8_t(0x5a));
        QCOMPARE(stage->write(packet.get(), false, &error), AudioMuxer::Result::Ok);
        av_packet_unref(packet.get());
    }
    QVERIFY2(stage->finish(&error), qPrintable(error));
    QCOMPARE(stage->undecodablePackets(), quint64(4));
    const QList<AudioMessage> messages = audioMessages(wire);
    QVERIFY(!messages.isEmpty());

    // Their time is kept (as silence): the sound still lasts as long as the
    // source, so it does not run ahead of the picture after the damage.
    const QString out = path("flac_damaged.aac");
    QFile aac(out);
    QVERIFY(aac.open(QIODevice::WriteOnly));
    aac.write(payloads(messages));
    aac.close();
    qint64 trim = 0;
    for (const AudioMessage &m : messages)
        trim += m.audio.skipStartSamples + m.audio.discardEndSamples;
    const int rate = ffprobe({"-show_entries", "stream=sample_rate", "-of", "csv=p=0", out}).out.trimmed().toInt();
    const int sourceRate = ffprobe({"-select_streams", "a:0", "-show_entries", "stream=sample_rate", "-of", "csv=p=0",
                                    path("flac.mkv")}).out.trimmed().toInt();
    QVERIFY(rate > 0 && sourceRate > 0);
    const qint64 ours = decodedSamples(out) - trim;
    const qint64 expected = av_rescale(decodedSamples(path("flac.mkv")), rate, sourceRate);
    QVERIFY2(qAbs(ours - expected) <= 1024, qPrintable(QString("%1 samples sent, the source has %2").arg(ours).arg(expected)));
}

void TestSenderAudio::bothStreamsInFileOrder()
{
    const QString clip = path("aac.mp4");
    QString error;
    const auto source = MediaSource::open(clip, &error, true);
    QVERIFY2(source, qPrintable(error));
    QVERIFY(source->hasVideo() && source->hasAudio());
    QStringList ours;
    PacketPtr packet = makePacket();
    while (source->readPacket(packet.get()) >= 0) {
        ours << QString::number(packet->stream_index);
        av_packet_unref(packet.get());
    }
    const ToolResult probe = ffprobe({"-show_entries", "packet=stream_index", "-of", "csv=p=0", clip});
    QStringList theirs;
    for (const QByteArray &line : probe.out.trimmed().split('\n'))
        if (!line.trimmed().isEmpty()) // a packet's side data prints as an empty row
            theirs << QString::fromUtf8(line.trimmed().split(',').value(0));
    QCOMPARE(ours, theirs);
}

void TestSenderAudio::audioOnlyAndNeither()
{
    QString error;
    const auto audioOnly = MediaSource::open(path("aac.m4a"), &error, true);
    QVERIFY2(audioOnly, qPrintable(error));
    QVERIFY(!audioOnly->hasVideo());
    QVERIFY(audioOnly->hasAudio());
    QVERIFY(audioOnly->durationUs() > 0);
    QCOMPARE(av_q2d(audioOnly->timeBase()), av_q2d(probeTimeBase(path("aac.m4a"), "a:0")));
    QVERIFY(!audioOnly->dropAudio(&error)); // it would leave nothing
    QVERIFY2(error.contains("aac.m4a") && error.contains("no video stream"), qPrintable(error));

    // Without audio (--no-audio), as before: an audio-only file is refused.
    QVERIFY(!MediaSource::open(path("aac.m4a"), &error, false));
    QVERIFY2(error.contains("has no video stream (found: audio aac)"), qPrintable(error));

    QVERIFY(!MediaSource::open(path("notes.srt"), &error, true));
    QVERIFY2(error.contains("'notes.srt' has neither a video nor an audio stream (found: subtitle subrip)"),
             qPrintable(error));
}

// Two passes of --loop: every packet of the second pass, audio and video,
// is its first-pass twin moved by one and the same offset.
void TestSenderAudio::loopShiftsAudioLikeVideo()
{
    QString error;
    const auto play = Playback::open(path("aac.mp4"), true, true, &error);
    QVERIFY2(play, qPrintable(error));
    struct Placed {
        bool audio;
        qint64 ptsUs;
    };
    QList<Placed> first, second;
    PacketPtr packet = makePacket();
    QString message;
    while (second.size() < first.size() || play->progress().loops == 0) {
        QCOMPARE(play->readNext(packet.get(), &message), 0);
        play->place(packet.get());
        const Placed p{play->source().isAudio(packet.get()),
                       av_rescale_q(packet->pts, play->source().timeBaseOf(packet.get()), AV_TIME_BASE_Q)};
        (play->progress().loops == 0 ? first : second) << p;
        play->skip(packet.get());
    }
    QVERIFY(std::any_of(first.cbegin(), first.cend(), [](const Placed &p) { return p.audio; }));
    QVERIFY(std::any_of(first.cbegin(), first.cend(), [](const Placed &p) { return !p.audio; }));
    const qint64 offset = second[0].ptsUs - first[0].ptsUs;
    QVERIFY(offset > 0);
    for (int i = 0; i < first.size(); ++i) {
        QCOMPARE(second[i].audio, first[i].audio);
        QVERIFY2(qAbs(second[i].ptsUs - first[i].ptsUs - offset) <= 1, qPrintable(QString("packet %1").arg(i)));
    }
    // The next pass starts after the end of both streams: no sound overlaps.
    qint64 lastAudio = 0, lastVideo = 0;
    for (const Placed &p : first)
        (p.audio ? lastAudio : lastVideo) = qMax(p.audio ? lastAudio : lastVideo, p.ptsUs);
    QVERIFY(offset > lastAudio && offset > lastVideo);
    QVERIFY(play->takeAudioDiscontinuity()); // the loop's restart flags the next AUDIO message
}

// docs/PROTOCOL.md's second hex block (the first is tst_framing's) is an
// AUDIO message this encoder writes, and its frame is what it says it is.
void TestSenderAudio::documentedAudioExample()
{
    QFile doc(QStringLiteral(H264LINK_SOURCE_DIR "/docs/PROTOCOL.md"));
    QVERIFY(doc.open(QIODevice::ReadOnly));
    const QByteArray text = doc.readAll();
    qsizetype at = text.indexOf("```hex\n");
    QVERIFY(at >= 0);
    at = text.indexOf("```hex\n", at + 1);
    QVERIFY2(at >= 0, "no second hex block");
    at += 7;
    const QByteArray block = text.mid(at, text.indexOf("```", at) - at);
    const QByteArray documented = QByteArray::fromHex(block.simplified().replace(' ', ""));

    const QByteArray adts = QByteArray::fromHex("FFF16C40017FFC01182007");
    proto::Message m;
    m.version = 3;
    m.type = proto::MessageType::Audio;
    m.flags = AudioStage::kDiscontinuity;
    m.sequence = 8;
    m.timestampUs = 1'020'000;
    m.payload = proto::serialize(proto::Audio{0, 1024, 0, adts});
    QCOMPARE(proto::encode(m).toHex(' '), documented.toHex(' '));
    const QList<AudioMessage> back = audioMessages(documented);
    QCOMPARE(back.size(), 1);
    QCOMPARE(back[0].audio.skipStartSamples, 1024u);
    QCOMPARE(back[0].audio.data, adts);

    const QString frame = path("documented.aac");
    QFile f(frame);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(adts);
    f.close();
    const ToolResult probe = ffprobe({"-show_entries", "stream=codec_name,profile,sample_rate,channels", "-of", "compact", frame});
    const auto streams = compactRows(probe.out, "stream");
    QCOMPARE(streams.size(), 1);
    QCOMPARE(streams[0].value("codec_name"), QByteArray("aac"));
    QCOMPARE(streams[0].value("profile"), QByteArray("LC"));
    QCOMPARE(streams[0].value("sample_rate"), QByteArray("8000"));
    QCOMPARE(streams[0].value("channels"), QByteArray("1"));
}

// After a reconnect the receiver's decoder starts at a keyframe: the audio
// before it is skipped (counted), and the first AUDIO after it is flagged.
void TestSenderAudio::reconnectStartsAudioWithTheKeyframe()
{
    QString error;
    const auto play = Playback::open(path("gop.mp4"), false, true, &error);
    QVERIFY2(play, qPrintable(error));
    play->beginConnection();
    QVERIFY(play->takeAudioDiscontinuity()); // the first connection's start
    PacketPtr packet = makePacket();
    QString message;
    // The first connection takes a few packets past the first keyframe.
    int videoSeen = 0;
    while (videoSeen < 3) {
        QCOMPARE(play->readNext(packet.get(), &message), 0);
        play->place(packet.get());
        QVERIFY(!play->skipUntilKeyframe(packet.get()));
        videoSeen += play->source().isAudio(packet.get()) ? 0 : 1;
        play->source().isAudio(packet.get()) ? play->sentAudio(1, quint64(packet->size)) : play->sent(1, {});
        av_packet_unref(packet.get());
    }
    play->beginConnection();
    QVERIFY(play->takeAudioDiscontinuity());
    const quint64 audioSkippedBefore = play->progress().audioSkipped;
    int audioSkipped = 0;
    for (;;) {
        QCOMPARE(play->readNext(packet.get(), &message), 0);
        play->place(packet.get());
        const bool audio = play->source().isAudio(packet.get());
        const bool key = !audio && (packet->flags & AV_PKT_FLAG_KEY);
        const bool skipped = play->skipUntilKeyframe(packet.get());
        if (key) {
            QVERIFY(!skipped);
            break;
        }
        QVERIFY(skipped);
        audioSkipped += audio ? 1 : 0;
    }
    av_packet_unref(packet.get());
    QVERIFY2(audioSkipped > 0, "the clip has sound between its keyframes");
    QCOMPARE(play->progress().audioSkipped - audioSkippedBefore, quint64(audioSkipped));
    QVERIFY(play->takeAudioDiscontinuity()); // so the next AUDIO is flagged
    // From the keyframe on, audio goes out again.
    for (;;) {
        QCOMPARE(play->readNext(packet.get(), &message), 0);
        play->place(packet.get());
        const bool audio = play->source().isAudio(packet.get());
        QVERIFY(!play->skipUntilKeyframe(packet.get()));
        av_packet_unref(packet.get());
        if (audio)
            break;
    }
}

// --loop with a transcoded stream: at the restart the encoder drains and
// starts over, so each pass is a whole AAC stream (priming, end trim) of the
// source's duration, flagged at its start and placed on the loop's timeline.
void TestSenderAudio::transcodedLoopStartsOver()
{
    const QString clip = path("ac3_51.mkv");
    QString error;
    const auto play = Playback::open(clip, true, true, &error);
    QVERIFY2(play, qPrintable(error));
    QByteArray wire;
    QBuffer transport(&wire);
    QVERIFY(transport.open(QIODevice::WriteOnly));
    FramedMediaDevice framing(&transport);
    QVERIFY(framing.open(QIODevice::WriteOnly));
    const auto stage = AudioStage::create(play->source().audioStream(), &framing, &error);
    QVERIFY2(stage, qPrintable(error));
    play->beginConnection();
    PacketPtr packet = makePacket();
    QString message;
    QList<qint64> passStartUs; // the first audio packet's pts in each pass
    while (play->progress().loops < 2) {
        QCOMPARE(play->readNext(packet.get(), &message), 0);
        if (play->progress().loops == 2)
            break;
        play->place(packet.get());
        if (play->source().isAudio(packet.get())) {
            if (passStartUs.size() == play->progress().loops)
                passStartUs << av_rescale_q(packet->pts, play->source().timeBaseOf(packet.get()), AV_TIME_BASE_Q);
            QCOMPARE(stage->write(packet.get(), play->takeAudioDiscontinuity(), &error), AudioMuxer::Result::Ok);
            play->sentAudio(1, 0);
        }
        av_packet_unref(packet.get());
    }
    QVERIFY2(stage->finish(&error), qPrintable(error));
    transport.close();
    const QList<AudioMessage> messages = audioMessages(wire);
    QCOMPARE(passStartUs.size(), 2);

    QList<int> starts;
    for (int i = 0; i < messages.size(); ++i)
        if (messages[i].flags & AudioStage::kDiscontinuity)
            starts << i;
    QCOMPARE(starts.size(), 2);
    QCOMPARE(starts[0], 0);
    const qint64 sourceSamples = decodedSamples(clip); // 48 kHz in and out
    for (int pass = 0; pass < 2; ++pass) {
        const int begin = starts[pass];
        const int end = pass == 0 ? starts[1] : messages.size();
        qint64 samples = 0;
        for (int i = begin; i < end; ++i)
            samples += 1024 - messages[i].audio.skipStartSamples - messages[i].audio.discardEndSamples;
        QVERIFY2(qAbs(samples - sourceSamples) <= 1024,
                 qPrintable(QString("pass %1: %2 samples, the source %3").arg(pass).arg(samples).arg(sourceSamples)));
        QVERIFY(messages[begin].audio.skipStartSamples > 0);
        // The first sample heard is the pass's first source sample.
        const qint64 heardUs = messages[begin].audio.ptsUs
            + av_rescale(messages[begin].audio.skipStartSamples, 1'000'000, 48000);
        QVERIFY2(qAbs(heardUs - passStartUs[pass]) <= 1,
                 qPrintable(QString("pass %1: %2 vs %3").arg(pass).arg(heardUs).arg(passStartUs[pass])));
    }
}

QTEST_GUILESS_MAIN(TestSenderAudio)
#include "tst_sender_audio.moc"
