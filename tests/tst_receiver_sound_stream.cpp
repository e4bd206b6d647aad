// The real receiver, fed a stream with sound by a scripted sender: the
// clip's video (Annex B, as MEDIA) and audio (ADTS, as AUDIO, with FFmpeg's
// trim) in pts order, cut by FFmpeg's own bitstream filter and muxer. The
// receiver's --framemd5 must equal ffmpeg's for both streams, in ffmpeg's
// order, --pcm ffmpeg's s16le, and RECEIVED must count the sound.
#include "app_runner.h"
#include "ffmpeg_raii.h"
#include "protocol.h"
#include "message_decoder.h"
#include "test_support.h"

#include <algorithm>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcessEnvironment>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

extern "C" {
#include <libavcodec/bsf.h>
#include <libavutil/intreadwrite.h>
}

using namespace h264link;
using namespace testsupport;

// Under ASan + UBSan everything runs several times slower: the checks of
// timing (offsets, underruns, pace) only report there; the rest still holds.
#ifdef H264LINK_SANITIZED
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

namespace {

struct Script {
    QByteArray messages; // after HELLO, up to and including END_OF_STREAM
    QList<QPair<qint64, qsizetype>> due; // (pts_us, end offset in messages): for a paced sender
    quint64 accessUnits = 0, mediaBytes = 0, audioPackets = 0;
};

// What a passthrough sender sends for `clip`: STREAM_INFO, then every
// packet in file order (mp4: interleaved by time), then END_OF_STREAM.
bool makeScript(const QString &clip, proto::MessageWriter &writer, bool withVideo, Script *script, QString *error)
{
    AVFormatContext *raw = nullptr;
    if (avformat_open_input(&raw, clip.toUtf8().constData(), nullptr, nullptr) < 0
        || avformat_find_stream_info(raw, nullptr) < 0) {
        *error = "cannot open " + clip;
        return false;
    }
    InputFormatPtr in(raw);
    const int v = av_find_best_stream(raw, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    const int a = av_find_best_stream(raw, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (a < 0 || (withVideo && v < 0)) {
        *error = "the clip lacks a stream";
        return false;
    }
    AVBSFContext *bsf = nullptr;
    if (withVideo) {
        av_bsf_alloc(av_bsf_get_by_name("h264_mp4toannexb"), &bsf);
        avcodec_parameters_copy(bsf->par_in, raw->streams[v]->codecpar);
        bsf->time_base_in = raw->streams[v]->time_base;
        av_bsf_init(bsf);
    }
    AVFormatContext *outRaw = nullptr;
    avformat_alloc_output_context2(&outRaw, nullptr, "adts", nullptr);
    OutputFormatPtr adts(outRaw);
    AVStream *st = avformat_new_stream(outRaw, nullptr);
    avcodec_parameters_copy(st->codecpar, raw->streams[a]->codecpar);
    st->codecpar->codec_tag = 0;
    st->time_base = raw->streams[a]->time_base;
    avio_open_dyn_buf(&outRaw->pb);
    if (avformat_write_header(outRaw, nullptr) < 0) {
        *error = "the adts muxer refused the stream";
        return false;
    }
    uint8_t *discard = nullptr;
    avio_close_dyn_buf(outRaw->pb, &discard);
    av_free(discard);

    proto::StreamInfo info;
    if (withVideo) {
        info.width = quint16(raw->streams[v]->codecpar->width);
        info.height = quint16(raw->streams[v]->codecpar->height);
    } else {
        info.codec = proto::kCodecNone;
    }
    info.sourceName = QFileInfo(clip).fileName();
    info.audioCodec = proto::kCodecAacAdts;
    info.audioSampleRate = quint32(raw->streams[a]->codecpar->sample_rate);
    info.audioChannels = quint8(raw->streams[a]->codecpar->ch_layout.nb_channels);
    info.audioDescription = QStringLiteral("aac, passed through");
    script->messages += writer.encode(proto::MessageType::StreamInfo, proto::serialize(info));

    const AVRational us{1, 1000000};
    PacketPtr pkt = makePacket();
    while (av_read_frame(raw, pkt.get()) >= 0) {
        if (withVideo && pkt->stream_index == v) {
            av_bsf_send_packet(bsf, pkt.get());
            while (av_bsf_receive_packet(bsf, pkt.get()) == 0) {
                const QByteArray bytes(reinterpret_cast<const char *>(pkt->data), pkt->size);
                const qint64 pts = av_rescale_q(pkt->pts, raw->streams[v]->time_base, us);
                quint16 flags = proto::AccessUnitStart | proto::AccessUnitEnd;
                if (pkt->flags & AV_PKT_FLAG_KEY)
                    flags |= proto::Keyframe;
                script->messages += writer.encode(proto::MessageType::Media, proto::serialize(proto::Media{pts, bytes}), flags);
                script->due.append({pts, script->messages.size()});
                ++script->accessUnits;
                script->mediaBytes += quint64(bytes.size());
                av_packet_unref(pkt.get());
            }
        } else if (pkt->stream_index == a) {
            proto::Audio audio;
            audio.ptsUs = av_rescale_q(pkt->pts, raw->streams[a]->time_base, us);
            size_t sideSize = 0;
            if (const uint8_t *side = av_packet_get_side_data(pkt.get(), AV_PKT_DATA_SKIP_SAMPLES, &sideSize);
                side && sideSize >= 8) {
                audio.skipStartSamples = AV_RL32(side);
                audio.discardEndSamples = AV_RL32(side + 4);
            }
            pkt->stream_index = 0;
            avio_open_dyn_buf(&outRaw->pb);
            av_write_frame(outRaw, pkt.get());
            uint8_t *buf = nullptr;
            const int size = avio_close_dyn_buf(outRaw->pb, &buf);
            audio.data = QByteArray(reinterpret_cast<const char *>(buf), size);
            av_free(buf);
            outRaw->pb = nullptr;
            script->messages += writer.encode(proto::MessageType::Audio, proto::serialize(audio));
            script->due.append({audio.ptsUs, script->messages.size()});
            ++script->audioPackets;
        }
        av_packet_unref(pkt.get());
    }
    av_bsf_free(&bsf);
    script->messages += writer.encode(proto::MessageType::EndOfStream,
                                      proto::serialize(proto::EndOfStream{script->accessUnits, script->mediaBytes,
                                                                          script->audioPackets}));
    return true;
}

// Plays the script to the receiver and returns its last word (RECEIVED), if any.
// `paced`: each message goes when its pts is due (a live sender), else all at once.
std::optional<proto::Received> stream(quint16 port, const QString &clip, bool withVideo, Script *script,
                                      QString *error, bool paced = false)
{
    QTcpSocket peer;
    peer.connectToHost(QHostAddress::LocalHost, port);
    if (!peer.waitForConnected(5000)) {
        *error = "cannot connect";
        return std::nullopt;
    }
    proto::MessageWriter writer;
    QByteArray out = writer.encode(proto::MessageType::Hello, proto::serialize(proto::Hello{}));
    if (!makeScript(clip, writer, withVideo, script, error))
        return std::nullopt;
    if (!paced) {
        peer.write(out + script->messages);
    } else {
        peer.write(out);
        QElapsedTimer clock;
        clock.start();
        qsizetype sent = 0;
        for (const auto &[pts, end] : script->due) {
            while (clock.nsecsElapsed() / 1000 < pts)
                QTest::qWait(1);
            if (end > sent) {
                peer.write(script->messages.mid(sent, end - sent));
                peer.flush();
                sent = end;
            }
        }
        peer.write(script->messages.mid(sent)); // END_OF_STREAM
    }
    proto::MessageDecoder decoder;
    for (QDeadlineTimer deadline(30000); !deadline.hasExpired();) {
        if (peer.waitForReadyRead(100) || peer.bytesAvailable())
            if (!decoder.feed(peer.readAll()))
                break;
        while (decoder.hasMessage()) {
            const proto::Message m = decoder.takeMessage();
            if (m.type == proto::MessageType::Received)
                return proto::parseReceived(m.payload);
            if (m.type == proto::MessageType::Error) {
                *error = "ERROR: " + proto::parseErrorInfo(m.payload).value_or(proto::ErrorInfo{}).reason;
                return std::nullopt;
            }
        }
        if (peer.state() != QAbstractSocket::ConnectedState && !peer.bytesAvailable())
            break;
    }
    *error = "no RECEIVED";
    return std::nullopt;
}

// "stream, size, hash" of each line, in order: what must equal ffmpeg's
// (ffmpeg counts time from 0 in its own time base, ours is the sender's pts).
QStringList streamSizeHash(const QByteArray &framemd5)
{
    QStringList out;
    for (const QByteArray &line : framemd5.split('\n')) {
        if (line.isEmpty() || line.startsWith('#'))
            continue;
        const QList<QByteArray> f = line.split(',');
        if (f.size() == 6)
            out << QString::fromLatin1(f[0].trimmed() + " " + f[4].trimmed() + " " + f[5].trimmed());
    }
    return out;
}

// A private PulseAudio server with a null sink as the default output (a
// local helper: the shared test support is another helper's).
class PrivatePulse {
public:
    bool start(QString *why)
    {
        if (QStandardPaths::findExecutable("pulseaudio").isEmpty()) {
            *why = "pulseaudio is not installed";
            return false;
        }
        const QByteArray runtime = m_runtime.path().toUtf8();
        m_env = QProcessEnvironment::systemEnvironment();
        m_env.insert("XDG_RUNTIME_DIR", runtime);
        m_env.insert("PULSE_SERVER", "unix:" + runtime + "/pulse/native");
        if (!run("pulseaudio", {"-D", "-n", "--exit-idle-time=-1", "--load=module-native-protocol-unix",
                                "--load=module-null-sink sink_name=nul"})) {
            *why = "pulseaudio did not start";
            return false;
        }
        m_started = true;
        for (QDeadlineTimer ready(10000); !run("pactl", {"info"});) {
            if (ready.hasExpired()) {
                *why = "pulseaudio does not answer";
                return false;
            }
            QTest::qWait(50);
        }
        if (!run("pactl", {"set-default-sink", "nul"}))
            return false;
        // A fresh null sink renders in 2 s blocks until a client asks for low
        // latency: warm it up with a low-latency client playing silence, so
        // the stream under test meets the sink as a running one.
        QProcess warm;
        warm.setProcessEnvironment(m_env);
        warm.setStandardInputFile("/dev/zero");
        warm.start("timeout", {"3", "pacat", "-p", "--raw", "--latency-msec=10", "--format=s16le", "--rate=48000",
                               "--channels=1"});
        warm.waitForFinished(10000);
        return true;
    }
    ~PrivatePulse()
    {
        if (!m_started)
            return;
        run("pulseaudio", {"--kill"});
        for (QDeadlineTimer gone(5000); run("pulseaudio", {"--check"}) && !gone.hasExpired();)
            QTest::qWait(20);
    }
    // The sound server goes away (a crash, a user logging out).
    void kill()
    {
        run("pulseaudio", {"--kill"});
        for (QDeadlineTimer gone(5000); run("pulseaudio", {"--check"}) && !gone.hasExpired();)
            QTest::qWait(20);
    }
    QByteArray server() const { return m_env.value("PULSE_SERVER").toUtf8(); }
    QByteArray runtimeDir() const { return m_env.value("XDG_RUNTIME_DIR").toUtf8(); }

private:
    bool run(const QString &program, const QStringList &args) const
    {
        QProcess p;
        p.setProcessEnvironment(m_env);
        p.start(program, args);
        return p.waitForFinished(10000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
    }
    QTemporaryDir m_runtime;
    QProcessEnvironment m_env;
    bool m_started = false;
};

} // namespace

class TestReceiverSoundStream : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        // No sound server: the receiver must say so once and go on (and
        // libpulse must not spawn a daemon for it).
        qputenv("PULSE_SERVER", "unix:/nonexistent/h264link-test");
        m_clip = m_dir.filePath("av.mp4");
        const auto made = ffmpeg({"-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=2",
                                  "-f", "lavfi", "-i", "sine=f=600:sample_rate=44100:duration=2", "-c:v", "libx264",
                                  "-bf", "0", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", m_clip});
        QVERIFY2(made.ok(), made.err.constData());
    }

    void videoAndSoundFrameExact()
    {
        const QString md5 = m_dir.filePath("av.framemd5"), pcm = m_dir.filePath("av.pcm");
        ReceiverProcess receiver({"--once", "--framemd5", md5, "--pcm", pcm});
        QVERIFY(receiver.port());
        Script script;
        QString error;
        const auto received = stream(receiver.port(), m_clip, true, &script, &error);
        QVERIFY2(received, qPrintable(error + "\n" + receiver.output()));
        QVERIFY(receiver.waitForExit(20000));
        QCOMPARE(receiver.process().exitCode(), 0);

        const int audioFrames = ffprobe({"-v", "error", "-select_streams", "a:0", "-count_frames", "-show_entries",
                                         "stream=nb_read_frames", "-of", "csv=p=0", m_clip}).out.trimmed().toInt();
        QCOMPARE(received->accessUnits, script.accessUnits);
        QCOMPARE(received->audioPackets, script.audioPackets);
        QCOMPARE(received->audioFramesDecoded, quint64(audioFrames));
        QVERIFY2(receiver.output().contains(QStringLiteral("%1 audio frames decoded, 0 underruns").arg(audioFrames)),
                 qPrintable(receiver.output()));
        QVERIFY2(receiver.output().contains("no audio output device: playing without sound"),
                 qPrintable(receiver.output()));

        const auto reference = ffmpeg({"-v", "error", "-i", m_clip, "-map", "0:v:0", "-map", "0:a:0", "-f", "framemd5", "-"});
        QVERIFY2(reference.ok(), reference.err.constData());
        const QStringList want = streamSizeHash(reference.out);
        QVERIFY(want.size() > 50);
        QCOMPARE(streamSizeHash(readFile(md5)), want);

        const auto s16 = ffmpeg({"-v", "error", "-i", m_clip, "-map", "0:a:0", "-acodec", "pcm_s16le", "-f", "s16le", "-"});
        QVERIFY(s16.ok() && !s16.out.isEmpty());
        QVERIFY(readFile(pcm) == s16.out);
    }

    // --record: ffprobe reads both streams back, every frame and packet, and
    // the source's duration.
    void record_data()
    {
        QTest::addColumn<QString>("name");
        QTest::newRow("mkv") << "rec.mkv";
        QTest::newRow("mp4") << "rec.mp4";
    }
    void record()
    {
        QFETCH(QString, name);
        const QString path = m_dir.filePath(name);
        ReceiverProcess receiver({"--once", "--record", path});
        QVERIFY(receiver.port());
        Script script;
        QString error;
        const auto received = stream(receiver.port(), m_clip, true, &script, &error);
        QVERIFY2(received, qPrintable(error + "\n" + receiver.output()));
        QVERIFY(receiver.waitForExit(20000));
        QCOMPARE(receiver.process().exitCode(), 0);
        QVERIFY2(!receiver.output().contains("--record"), qPrintable(receiver.output()));

        const auto probe = [](const QString &file, const QString &stream, const QString &entry) {
            return ffprobe({"-v", "error", "-select_streams", stream, "-count_packets", "-show_entries", entry,
                            "-of", "csv=p=0", file}).out.trimmed();
        };
        QCOMPARE(probe(path, "v:0", "stream=codec_name"), QByteArray("h264"));
        QCOMPARE(probe(path, "a:0", "stream=codec_name"), QByteArray("aac"));
        QCOMPARE(probe(path, "v:0", "stream=nb_read_packets"), probe(m_clip, "v:0", "stream=nb_read_packets"));
        QCOMPARE(probe(path, "a:0", "stream=nb_read_packets").toULongLong(), script.audioPackets);
        const int frames = ffprobeFrameCount(path);
        QCOMPARE(frames, ffprobeFrameCount(m_clip));
        const double duration = ffprobe({"-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path})
                                    .out.trimmed().toDouble();
        const double source = ffprobe({"-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", m_clip})
                                  .out.trimmed().toDouble();
        QVERIFY2(std::abs(duration - source) < 0.05, qPrintable(QStringLiteral("%1 s, the source %2 s").arg(duration).arg(source)));
        // And it plays back frame-exact.
        QCOMPARE(md5Column(ffmpeg({"-v", "error", "-i", path, "-map", "0:v:0", "-f", "framemd5", "-"}).out),
                 referenceMd5(m_clip));
    }

    // A recorded lecture: sound only, no MEDIA at all.
    void soundOnly()
    {
        const QString md5 = m_dir.filePath("a.framemd5");
        ReceiverProcess receiver({"--once", "--framemd5", md5});
        QVERIFY(receiver.port());
        Script script;
        QString error;
        const auto received = stream(receiver.port(), m_clip, false, &script, &error);
        QVERIFY2(received, qPrintable(error + "\n" + receiver.output()));
        QVERIFY(receiver.waitForExit(20000));
        QCOMPARE(receiver.process().exitCode(), 0);
        QCOMPARE(received->accessUnits, quint64(0));
        QCOMPARE(received->audioPackets, script.audioPackets);
        const auto reference = ffmpeg({"-v", "error", "-i", m_clip, "-map", "0:a:0", "-f", "framemd5", "-"});
        QStringList want;
        for (const QString &line : streamSizeHash(reference.out))
            want << "1" + line.mid(1); // ffmpeg's only stream is 0; the receiver's sound is always 1
        QVERIFY(!want.isEmpty());
        QCOMPARE(streamSizeHash(readFile(md5)), want);
    }

    // --no-audio: AUDIO is counted (RECEIVED says how many), nothing decoded,
    // and the video lines are exactly those of a stream without sound.
    void noAudio()
    {
        const QString md5 = m_dir.filePath("n.framemd5");
        ReceiverProcess receiver({"--once", "--no-audio", "--framemd5", md5});
        QVERIFY(receiver.port());
        Script script;
        QString error;
        const auto received = stream(receiver.port(), m_clip, true, &script, &error);
        QVERIFY2(received, qPrintable(error + "\n" + receiver.output()));
        QVERIFY(receiver.waitForExit(20000));
        QCOMPARE(received->audioPackets, script.audioPackets);
        QCOMPARE(received->audioFramesDecoded, quint64(0));
        QCOMPARE(md5Column(readFile(md5)), referenceMd5(m_clip));
        QVERIFY(!readFile(md5).contains("#tb 1"));
    }

    // With a window and a sound server, the picture follows the audio
    // clock: a live (paced) sender, the sound playing on the server, and
    // each frame shown when due, so the offset --stats reports stays small,
    // with no underruns.
    void pictureFollowsTheAudioClock()
    {
        PrivatePulse pulse;
        QString why;
        if (!pulse.start(&why)) {
            if (inCi())
                QFAIL(qPrintable(why));
            QSKIP(qPrintable(why));
        }
        const QByteArray oldServer = qgetenv("PULSE_SERVER"), oldRuntime = qgetenv("XDG_RUNTIME_DIR");
        qputenv("PULSE_SERVER", pulse.server()); // the receiver inherits it
        qputenv("XDG_RUNTIME_DIR", pulse.runtimeDir());
        const QString clip = m_dir.filePath("sync.mp4");
        const auto made = ffmpeg({"-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=4",
                                  "-f", "lavfi", "-i", "sine=f=600:sample_rate=48000:duration=4", "-c:v", "libx264",
                                  "-bf", "0", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", clip});
        QVERIFY2(made.ok(), made.err.constData());
        {
            ReceiverProcess receiver({"--once", "--stats"}, {}, false);
            qputenv("PULSE_SERVER", oldServer);
            qputenv("XDG_RUNTIME_DIR", oldRuntime);
            QVERIFY(receiver.port());
            Script script;
            QString error;
            const auto received = stream(receiver.port(), clip, true, &script, &error, true);
            QVERIFY2(received, qPrintable(error + "\n" + receiver.output()));
            QVERIFY(receiver.waitForExit(20000));
            const QString out = receiver.output();
            QVERIFY2(receiver.process().exitStatus() == QProcess::NormalExit && receiver.process().exitCode() == 0,
                     qPrintable(out));
            QVERIFY2(!out.contains("no audio output device"), qPrintable(out));
            QList<double> offsets;
            for (const QString &line : out.split('\n')) {
                const QJsonObject o = QJsonDocument::fromJson(line.toUtf8()).object();
                if (o.contains("avOffsetMs") && o.value("avOffsetMs").isDouble()) {
                    offsets << o.value("avOffsetMs").toDouble();
                    if (!kSanitized)
                        QCOMPARE(o.value("audioUnderruns").toInt(), 0);
                }
            }
            QVERIFY2(!offsets.isEmpty(), qPrintable(out));
            qInfo() << "A/V offsets reported by --stats (ms):" << offsets;
            // The median: a busy machine may hold a frame back for a moment at
            // the start, while a picture that ignored the clock would be off
            // by the whole audio latency all along.
            QList<double> sorted = offsets;
            std::transform(sorted.begin(), sorted.end(), sorted.begin(), [](double v) { return std::abs(v); });
            std::sort(sorted.begin(), sorted.end());
            const double median = sorted[sorted.size() / 2];
            QVERIFY2(kSanitized || median <= 45, qPrintable(QStringLiteral("median |A/V offset| %1 ms\n%2").arg(median).arg(out)));
        }
    }

    // The sound server dies mid-stream: the receiver says so once, shows
    // the rest of the picture without sound, decodes all of the sound for
    // --framemd5, and ends (no thread left waiting on the device or its clock).
    void audioDeviceLost()
    {
        PrivatePulse pulse;
        QString why;
        if (!pulse.start(&why)) {
            if (inCi())
                QFAIL(qPrintable(why));
            QSKIP(qPrintable(why));
        }
        const QByteArray oldServer = qgetenv("PULSE_SERVER"), oldRuntime = qgetenv("XDG_RUNTIME_DIR");
        qputenv("PULSE_SERVER", pulse.server());
        qputenv("XDG_RUNTIME_DIR", pulse.runtimeDir());
        const QString clip = m_dir.filePath("lost.mp4"), md5 = m_dir.filePath("lost.framemd5");
        const auto made = ffmpeg({"-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=4",
                                  "-f", "lavfi", "-i", "sine=f=600:sample_rate=48000:duration=4", "-c:v", "libx264",
                                  "-bf", "0", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", clip});
        QVERIFY2(made.ok(), made.err.constData());
        // Once the server is gone, libpulse must not start another one for
        // the receiver (Qt reconnects after 3 s): that is not what is tested,
        // and it can hold the receiver's event loop for long.
        const QString clientConf = pulse.runtimeDir() + "/client.conf";
        QFile conf(clientConf);
        QVERIFY(conf.open(QIODevice::WriteOnly) && conf.write("autospawn = no\n") > 0);
        conf.close();
        const QByteArray oldClientConf = qgetenv("PULSE_CLIENTCONFIG");
        qputenv("PULSE_CLIENTCONFIG", clientConf.toUtf8());
        ReceiverProcess receiver({"--once", "--framemd5", md5}, {}, false);
        qputenv("PULSE_SERVER", oldServer);
        qputenv("XDG_RUNTIME_DIR", oldRuntime);
        qputenv("PULSE_CLIENTCONFIG", oldClientConf);
        QVERIFY(receiver.port());
        QTimer::singleShot(1500, [&pulse] { pulse.kill(); }); // runs inside the paced sender's wait
        Script script;
        QString error;
        const auto received = stream(receiver.port(), clip, true, &script, &error, true);
        QVERIFY2(received, qPrintable(error + "\n" + receiver.output()));
        QVERIFY2(receiver.waitForExit(kSanitized ? 60000 : 20000), qPrintable(receiver.output()));
        const QString out = receiver.output();
        QVERIFY2(receiver.process().exitStatus() == QProcess::NormalExit && receiver.process().exitCode() == 0,
                 qPrintable(out));
        QVERIFY2(out.contains("audio device lost") && out.contains("playing without sound"), qPrintable(out));
        QCOMPARE(out.count("audio device lost"), 1);
        QCOMPARE(received->accessUnits, script.accessUnits);
        QCOMPARE(received->audioPackets, script.audioPackets);
        const int audioFrames = ffprobe({"-v", "error", "-select_streams", "a:0", "-count_frames", "-show_entries",
                                         "stream=nb_read_frames", "-of", "csv=p=0", clip}).out.trimmed().toInt();
        QCOMPARE(received->audioFramesDecoded, quint64(audioFrames));
        const auto reference = ffmpeg({"-v", "error", "-i", clip, "-map", "0:v:0", "-map", "0:a:0", "-f", "framemd5", "-"});
        QCOMPARE(streamSizeHash(readFile(md5)), streamSizeHash(reference.out));
    }

    // An output file that cannot be written fails the stream as --framemd5
    // does: ERROR to the sender, a non-zero exit, one line naming the file.
    void outputFileFails_data()
    {
        QTest::addColumn<QString>("option");
        QTest::newRow("pcm") << "--pcm";
        QTest::newRow("record") << "--record";
    }
    void outputFileFails()
    {
        QFETCH(QString, option);
        // A full disk, behind the name the option wants (--record picks the muxer by it).
        const QString path = m_dir.filePath(option.mid(2) + "-full.mkv");
        QFile::remove(path);
        QVERIFY(QFile::link("/dev/full", path));
        ReceiverProcess receiver({"--once", option, path});
        QVERIFY(receiver.port());
        Script script;
        QString error;
        const auto received = stream(receiver.port(), m_clip, true, &script, &error);
        QVERIFY2(!received, "the sender heard RECEIVED");
        QVERIFY2(error.startsWith("ERROR:") && error.contains(path), qPrintable(error + "\n" + receiver.output()));
        QVERIFY(receiver.waitForExit(20000));
        QVERIFY2(receiver.process().exitCode() != 0, qPrintable(receiver.output()));
        QCOMPARE(receiver.output().count(path), 1);
    }

    // --record of a clip with B-frames: the wire has no dts, the file needs
    // one that rises; every frame reads back and decodes as the source's.
    void recordBFrames_data()
    {
        QTest::addColumn<QString>("name");
        QTest::newRow("mkv") << "bf.mkv";
        QTest::newRow("mp4") << "bf.mp4";
    }
    void recordBFrames()
    {
        QFETCH(QString, name);
        const QString clip = m_dir.filePath("bframes.mp4"), path = m_dir.filePath(name);
        if (!QFile::exists(clip)) {
            const auto made = ffmpeg({"-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=2",
                                      "-f", "lavfi", "-i", "sine=f=600:sample_rate=44100:duration=2", "-c:v", "libx264",
                                      "-bf", "2", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", clip});
            QVERIFY2(made.ok(), made.err.constData());
        }
        ReceiverProcess receiver({"--once", "--record", path});
        QVERIFY(receiver.port());
        Script script;
        QString error;
        const auto received = stream(receiver.port(), clip, true, &script, &error);
        QVERIFY2(received, qPrintable(error + "\n" + receiver.output()));
        QVERIFY(receiver.waitForExit(20000));
        QVERIFY2(receiver.process().exitCode() == 0 && !receiver.output().contains("--record"),
                 qPrintable(receiver.output()));
        QCOMPARE(ffprobeFrameCount(path), ffprobeFrameCount(clip));
        QCOMPARE(md5Column(ffmpeg({"-v", "error", "-i", path, "-map", "0:v:0", "-f", "framemd5", "-"}).out),
                 referenceMd5(clip));
    }

    // The sound ends long before the picture (and the sink runs dry): the
    // clock must not hold still at the last sample, or every later frame
    // waits its full limit (1 fps). Every frame is shown, at the clip's pace.
    void soundEndsBeforeThePicture()
    {
        PrivatePulse pulse;
        QString why;
        if (!pulse.start(&why)) {
            if (inCi())
                QFAIL(qPrintable(why));
            QSKIP(qPrintable(why));
        }
        const QByteArray oldServer = qgetenv("PULSE_SERVER"), oldRuntime = qgetenv("XDG_RUNTIME_DIR");
        qputenv("PULSE_SERVER", pulse.server());
        qputenv("XDG_RUNTIME_DIR", pulse.runtimeDir());
        const QString clip = m_dir.filePath("short-sound.mp4");
        const auto made = ffmpeg({"-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=6",
                                  "-f", "lavfi", "-i", "sine=f=600:sample_rate=48000:duration=1.5", "-c:v", "libx264",
                                  "-bf", "0", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", clip});
        QVERIFY2(made.ok(), made.err.constData());
        const double rate = [&] {
            const QList<QByteArray> r = ffprobe({"-v", "error", "-select_streams", "v:0", "-show_entries",
                                                 "stream=r_frame_rate", "-of", "csv=p=0", clip}).out.trimmed().split('/');
            return r.size() == 2 ? r[0].toDouble() / r[1].toDouble() : 0.0;
        }();
        QVERIFY(rate > 0);
        ReceiverProcess receiver({"--once", "--stats"}, {}, false);
        qputenv("PULSE_SERVER", oldServer);
        qputenv("XDG_RUNTIME_DIR", oldRuntime);
        QVERIFY(receiver.port());
        Script script;
        QString error;
        const auto received = stream(receiver.port(), clip, true, &script, &error, true);
        QVERIFY2(received, qPrintable(error + "\n" + receiver.output()));
        QVERIFY(receiver.waitForExit(20000));
        const QString out = receiver.output();
        QVERIFY2(receiver.process().exitCode() == 0 && !out.contains("no audio output device"), qPrintable(out));
        QList<double> fps;
        for (const QString &line : out.split('\n')) {
            const QJsonObject o = QJsonDocument::fromJson(line.toUtf8()).object();
            if (o.contains("summary")) {
                const QJsonObject sum = o.value("summary").toObject();
                QCOMPARE(quint64(sum.value("frames_displayed").toInteger()
                                 + sum.value("skipped").toObject().value("display").toInteger()),
                         script.accessUnits);
            }
            // Well after the sound (1.5 s) and before the end (6 s): the picture's own pace.
            const double t = o.value("t").toDouble();
            if (o.contains("fps") && t >= 3 && t <= 5)
                fps << o.value("fps").toObject().value("displayed").toDouble();
        }
        qInfo() << "displayed fps after the sound ended:" << fps;
        QVERIFY2(!fps.isEmpty(), qPrintable(out));
        for (double f : fps)
            QVERIFY2(kSanitized || f >= rate / 2, qPrintable(QStringLiteral("%1 fps shown, the clip has %2\n%3").arg(f).arg(rate).arg(out)));
    }


private:
    QTemporaryDir m_dir;
    QString m_clip;
};

QTEST_GUILESS_MAIN(TestReceiverSoundStream)
#include "tst_receiver_sound_stream.moc"
