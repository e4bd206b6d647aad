// The receiver's sound path, fed directly: a clip's audio packets, cut into
// AUDIO payloads by FFmpeg's own adts / mp3 muxers (as the sender does), go
// into an AudioInput with their pts and trim; the AudioPipeline decodes them
// and --pcm must equal `ffmpeg -f s16le` byte for byte.
#include "audio_output.h"
#include "audio_pipeline.h"
#include "frame_md5_writer.h"
#include "ffmpeg_raii.h"
#include "protocol.h"
#include "test_support.h"

#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

extern "C" {
#include <libavutil/intreadwrite.h>
}

using namespace h264link;
using namespace testsupport;

namespace {

struct Packet {
    QByteArray bytes;
    qint64 ptsUs;
    quint32 skipStart = 0, discardEnd = 0;
};

// Each audio packet of `clip` as `muxer` writes it alone, with its pts in
// microseconds and its skip-samples side data: the AUDIO messages a
// passthrough sender would send.
QList<Packet> audioPackets(const QString &clip, const char *muxer, QString *error)
{
    QList<Packet> packets;
    AVFormatContext *raw = nullptr;
    if (avformat_open_input(&raw, clip.toUtf8().constData(), nullptr, nullptr) < 0
        || avformat_find_stream_info(raw, nullptr) < 0) {
        *error = "cannot open " + clip;
        return {};
    }
    InputFormatPtr in(raw);
    const int index = av_find_best_stream(in.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (index < 0) {
        *error = "no audio in " + clip;
        return {};
    }
    AVFormatContext *outRaw = nullptr;
    avformat_alloc_output_context2(&outRaw, nullptr, muxer, nullptr);
    OutputFormatPtr out(outRaw);
    AVStream *st = avformat_new_stream(out.get(), nullptr);
    avcodec_parameters_copy(st->codecpar, in->streams[index]->codecpar);
    st->codecpar->codec_tag = 0;
    st->time_base = in->streams[index]->time_base;
    auto take = [&]() {
        uint8_t *buf = nullptr;
        const int size = avio_close_dyn_buf(out->pb, &buf);
        QByteArray bytes(reinterpret_cast<const char *>(buf), size);
        av_free(buf);
        out->pb = nullptr;
        return bytes;
    };
    avio_open_dyn_buf(&out->pb);
    if (avformat_write_header(out.get(), nullptr) < 0) {
        *error = QStringLiteral("the %1 muxer refused the stream").arg(muxer);
        return {};
    }
    take(); // a header (ID3v2) is not a packet
    PacketPtr pkt = makePacket();
    while (av_read_frame(in.get(), pkt.get()) >= 0) {
        if (pkt->stream_index != index) {
            av_packet_unref(pkt.get());
            continue;
        }
        Packet p;
        p.ptsUs = av_rescale_q(pkt->pts, in->streams[index]->time_base, AVRational{1, 1000000});
        size_t sideSize = 0;
        if (const uint8_t *side = av_packet_get_side_data(pkt.get(), AV_PKT_DATA_SKIP_SAMPLES, &sideSize);
            side && sideSize >= 8) {
            p.skipStart = AV_RL32(side);
            p.discardEnd = AV_RL32(side + 4);
        }
        pkt->stream_index = 0;
        avio_open_dyn_buf(&out->pb);
        av_write_frame(out.get(), pkt.get());
        avio_flush(out->pb);
        p.bytes = take();
        packets.append(p);
        av_packet_unref(pkt.get());
    }
    return packets;
}

// "stream, duration, size, hash" of each line: ffmpeg counts its pts from 0,
// ours are the sender's; the rest must match. (ffmpeg numbers the only
// stream 0 where ours is 1, so the index is left out here too.)
QStringList columns(const QByteArray &framemd5)
{
    QStringList out;
    for (const QByteArray &line : framemd5.split('\n')) {
        if (line.isEmpty() || line.startsWith('#'))
            continue;
        const QList<QByteArray> f = line.split(',');
        if (f.size() == 6)
            out << QString::fromLatin1(f[3].trimmed() + " " + f[4].trimmed() + " " + f[5].trimmed());
    }
    return out;
}

QByteArray headerLines(const QByteArray &framemd5, const QByteArray &key)
{
    for (const QByteArray &line : framemd5.split('\n'))
        if (line.startsWith(key))
            return line.mid(line.indexOf(':'));
    return {};
}

void feed(AudioInput &input, const QList<Packet> &packets)
{
    for (const Packet &p : packets) {
        input.packets.add(AudioPacketMark{input.bytes.bytesPushed(), p.ptsUs, p.skipStart, p.discardEnd, false});
        input.bytes.push(p.bytes);
    }
    input.bytes.finish();
}

struct Played {
    AudioResult result;
    double peakLevelDb = -100;
    bool clockRan = false;
};

// `device` null: decode for --pcm only.
Played runPipeline(const QList<Packet> &packets, quint32 codec, const QString &pcmPath,
                   const QAudioDevice &device = {}, int rate = 0, int channels = 0,
                   std::shared_ptr<FrameMd5Writer> md5 = nullptr)
{
    auto input = std::make_shared<AudioInput>();
    AudioClock clock;
    AudioSettings settings;
    settings.codec = codec;
    settings.pcmPath = pcmPath;
    settings.play = !device.isNull();
    settings.device = device;
    settings.sampleRate = rate;
    settings.channels = channels;
    settings.md5 = md5;
    AudioPipeline pipeline(input, settings, &clock);
    QSignalSpy done(&pipeline, &AudioPipeline::finished);
    Played played;
    QTimer sample; // what the window's meter and the video would see, while it plays
    QObject::connect(&sample, &QTimer::timeout, [&] {
        played.peakLevelDb = std::max(played.peakLevelDb, pipeline.levelDb());
        played.clockRan = played.clockRan || clock.isRunning();
    });
    sample.start(5);
    pipeline.start();
    feed(*input, packets); // a producer that outruns the pipeline meets the bound, as the connection does
    if (!done.wait(60000)) {
        played.result = AudioResult{false, QStringLiteral("timed out"), 0, 0, 0, 0};
        return played;
    }
    played.result = done.at(0).at(0).value<AudioResult>();
    return played;
}

// A private PulseAudio server with a null sink as the default output, so
// that QAudioSink plays on a real sound server and parec can listen to it.
class PrivatePulse {
public:
    bool start(QString *why)
    {
        if (QStandardPaths::findExecutable("pulseaudio").isEmpty() || QStandardPaths::findExecutable("parec").isEmpty()) {
            *why = "pulseaudio or parec is not installed";
            return false;
        }
        if (!m_runtime.isValid()) {
            *why = "no temporary directory";
            return false;
        }
        qputenv("XDG_RUNTIME_DIR", m_runtime.path().toUtf8());
        qputenv("PULSE_SERVER", ("unix:" + m_runtime.path() + "/pulse/native").toUtf8());
        const auto started = runTool("pulseaudio", {"-D", "-n", "--exit-idle-time=-1", "--daemonize=yes",
                                                    "--load=module-native-protocol-unix",
                                                    "--load=module-null-sink sink_name=nul"});
        if (!started.ok()) {
            *why = "pulseaudio did not start: " + QString::fromLocal8Bit(started.err);
            return false;
        }
        m_started = true;
        QDeadlineTimer ready(10000);
        while (!runTool("pactl", {"info"}).ok()) {
            if (ready.hasExpired()) {
                *why = "pulseaudio does not answer";
                return false;
            }
            QTest::qWait(50);
        }
        runTool("pactl", {"set-default-sink", "nul"});
        return true;
    }
    ~PrivatePulse()
    {
        if (!m_started)
            return;
        runTool("pulseaudio", {"--kill"});
        // It exits in the background: wait (bounded), so its runtime files are gone before the directory.
        QDeadlineTimer gone(5000);
        while (runTool("pulseaudio", {"--check"}).ok() && !gone.hasExpired())
            QThread::msleep(20);
    }

private:
    QTemporaryDir m_runtime;
    bool m_started = false;
};

} // namespace

class TestReceiverAudio : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_pulseReady = m_pulse.start(&m_pulseWhy); // before Qt Multimedia first looks for a server
    }
    void pcmEqualsFfmpeg_data()
    {
        QTest::addColumn<QString>("container");
        QTest::addColumn<QString>("encoder");
        QTest::addColumn<QString>("muxer");
        QTest::addColumn<quint32>("codec");
        QTest::addColumn<QString>("pcmName");
        QTest::newRow("aac in mp4 (priming trim)") << "mp4" << "aac" << "adts" << proto::kCodecAacAdts << "a.pcm";
        QTest::newRow("aac stereo, wav") << "mp4" << "aac" << "adts" << proto::kCodecAacAdts << "a.wav";
        QTest::newRow("mp3 in mkv") << "mkv" << "libmp3lame" << "mp3" << proto::kCodecMp3 << "m.pcm";
    }
    void pcmEqualsFfmpeg()
    {
        QFETCH(QString, container);
        QFETCH(QString, encoder);
        QFETCH(QString, muxer);
        QFETCH(quint32, codec);
        QFETCH(QString, pcmName);
        const bool wav = pcmName.endsWith(".wav");
        const QString clip = m_dir.filePath(QStringLiteral("clip_%1_%2.%3").arg(encoder, pcmName, container));
        const int channels = wav ? 2 : 1;
        const auto made = ffmpeg({"-v", "error", "-y", "-f", "lavfi", "-i",
                                  QStringLiteral("sine=f=440:sample_rate=44100:duration=1.5"), "-ac",
                                  QString::number(channels), "-c:a", encoder, clip});
        QVERIFY2(made.ok(), made.err.constData());
        QString error;
        const QList<Packet> packets = audioPackets(clip, muxer.toLatin1().constData(), &error);
        QVERIFY2(!packets.isEmpty(), qPrintable(error));

        const QString pcm = m_dir.filePath(pcmName);
        const QString md5Path = m_dir.filePath(pcmName + ".framemd5");
        auto md5 = std::make_shared<FrameMd5Writer>();
        QVERIFY(md5->open(md5Path, &error));
        md5->configure(false, 44100, channels);
        const AudioResult result = runPipeline(packets, codec, pcm, {}, 0, 0, md5).result;
        QVERIFY2(result.ok, qPrintable(result.error));
        QCOMPARE(result.packets, quint64(packets.size()));
        QCOMPARE(result.decodeErrors, quint64(0));

        // --framemd5's audio lines: ffmpeg's, line for line (stream, size and hash).
        const auto reference = ffmpeg({"-v", "error", "-i", clip, "-map", "0:a:0", "-f", "framemd5", "-"});
        QVERIFY2(reference.ok(), reference.err.constData());
        QVERIFY(!columns(reference.out).isEmpty());
        QCOMPARE(columns(readFile(md5Path)), columns(reference.out));
        QCOMPARE(headerLines(readFile(md5Path), "#sample_rate"), headerLines(reference.out, "#sample_rate"));
        QCOMPARE(headerLines(readFile(md5Path), "#channel_layout_name"),
                 headerLines(reference.out, "#channel_layout_name"));

        const QString expected = m_dir.filePath("expected." + QString(wav ? "wav" : "pcm"));
        const auto oracle = ffmpeg({"-v", "error", "-y", "-i", clip, "-map", "0:a:0", "-acodec", "pcm_s16le", "-f",
                                    wav ? "wav" : "s16le", "-bitexact", expected});
        QVERIFY2(oracle.ok(), oracle.err.constData());
        if (wav) {
            // The headers may differ in the tags each writer adds: what a
            // reader sees (format, and every sample) is the point.
            const auto probe = [](const QString &path) {
                return ffprobe({"-v", "error", "-show_entries", "stream=codec_name,sample_rate,channels,duration_ts",
                                "-of", "csv", path}).out;
            };
            QCOMPARE(probe(pcm), probe(expected));
            const auto samples = [](const QString &path) {
                return ffmpeg({"-v", "error", "-i", path, "-f", "s16le", "-"}).out;
            };
            const QByteArray want = samples(expected);
            const QByteArray got = samples(pcm);
            QVERIFY(!want.isEmpty());
            QCOMPARE(got.size(), want.size());
            QVERIFY(got == want);
        } else {
            const QByteArray want = readFile(expected);
            const QByteArray got = readFile(pcm);
            QVERIFY(!want.isEmpty());
            QCOMPARE(got.size(), want.size());
            QVERIFY(got == want);
        }
    }

    // Played through QAudioSink on a real (private) PulseAudio server: the
    // null sink's monitor hears the tone, the clock runs, the meter moves,
    // and every frame ffprobe counts is decoded.
    void playsOnThePulseAudioServer()
    {
        if (!m_pulseReady) {
            if (inCi())
                QFAIL(qPrintable(m_pulseWhy));
            QSKIP(qPrintable(m_pulseWhy));
        }
        const QAudioDevice device = AudioOutput::findDevice(QString(), nullptr);
        QVERIFY2(!device.isNull(), "Qt sees no output on the private PulseAudio server");
        const QString clip = m_dir.filePath("play.mp4");
        const auto made = ffmpeg({"-v", "error", "-y", "-f", "lavfi", "-i",
                                  "sine=f=1000:sample_rate=48000:duration=1", "-c:a", "aac", clip});
        QVERIFY2(made.ok(), made.err.constData());
        QString error;
        const QList<Packet> packets = audioPackets(clip, "adts", &error);
        QVERIFY2(!packets.isEmpty(), qPrintable(error));

        QProcess parec;
        parec.start("timeout", {"20", "parec", "-d", "nul.monitor", "--raw", "--format=s16le", "--rate=48000",
                                "--channels=1"});
        QVERIFY(parec.waitForStarted());
        const Played played = runPipeline(packets, proto::kCodecAacAdts, QString(), device, 48000, 1);
        QVERIFY2(played.result.ok, qPrintable(played.result.error));
        parec.terminate();
        parec.waitForFinished(5000);
        const QByteArray heard = parec.readAllStandardOutput();

        const int expectedFrames = ffprobe({"-v", "error", "-select_streams", "a:0", "-count_frames",
                                            "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", clip})
                                       .out.trimmed().toInt();
        QVERIFY(expectedFrames > 0);
        QCOMPARE(played.result.frames, quint64(expectedFrames));
        QVERIFY(played.clockRan);
        QVERIFY2(played.peakLevelDb > -20, qPrintable(QString::number(played.peakLevelDb)));
        int peak = 0;
        const auto *samples = reinterpret_cast<const qint16 *>(heard.constData());
        for (qsizetype i = 0; i < heard.size() / 2; ++i)
            peak = std::max(peak, std::abs(int(samples[i])));
        QVERIFY2(peak > 3000, qPrintable(QStringLiteral("the monitor heard a peak of %1 in %2 bytes")
                                             .arg(peak).arg(heard.size())));
    }

    // A damaged packet in the middle: counted as a decode error and replaced
    // by silence of one frame, so the sound keeps its length (and the clock
    // its place) and the pipeline goes on to the end.
    void corruptPacketIsConcealed()
    {
        const QString clip = m_dir.filePath("corrupt.mp4");
        const auto made = ffmpeg({"-v", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:sample_rate=44100:duration=1",
                                  "-c:a", "aac", clip});
        QVERIFY2(made.ok(), made.err.constData());
        QString error;
        QList<Packet> packets = audioPackets(clip, "adts", &error);
        QVERIFY2(packets.size() > 20, qPrintable(error));
        const quint32 seed = testSeed();
        const int victim = 10 + int(seed % quint32(packets.size() - 20));
        QByteArray &bytes = packets[victim].bytes;
        for (qsizetype i = 7; i < bytes.size(); ++i) // the ADTS header stays: only the payload is damaged
            bytes[i] = char(0xff);
        const QString pcm = m_dir.filePath("corrupt.pcm");
        const AudioResult result = runPipeline(packets, proto::kCodecAacAdts, pcm).result;
        QVERIFY2(result.ok, qPrintable(result.error));
        QVERIFY2(result.decodeErrors >= 1, "the damaged packet was not noticed");
        const int expectedFrames = ffprobe({"-v", "error", "-select_streams", "a:0", "-count_frames",
                                            "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", clip})
                                       .out.trimmed().toInt();
        QCOMPARE(result.frames, quint64(expectedFrames));
        const auto oracle = ffmpeg({"-v", "error", "-i", clip, "-map", "0:a:0", "-f", "s16le", "-acodec", "pcm_s16le", "-"});
        QCOMPARE(readFile(pcm).size(), oracle.out.size());
    }

private:
    QTemporaryDir m_dir;
    PrivatePulse m_pulse;
    bool m_pulseReady = false;
    QString m_pulseWhy;
};

QTEST_GUILESS_MAIN(TestReceiverAudio)
#include "tst_receiver_audio.moc"
