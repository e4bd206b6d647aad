// The receiver's sound path, fed directly: a clip's audio packets, cut into
// AUDIO payloads by FFmpeg's own adts / mp3 muxers (as the sender does), go
// into an AudioInput with their pts and trim; the AudioPipeline decodes them
// and --pcm must equal `ffmpeg -f s16le` byte for byte.
#include "audio_pipeline.h"
#include "ffmpeg_raii.h"
#include "protocol.h"
#include "test_support.h"

#include <QSignalSpy>
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

void feed(AudioInput &input, const QList<Packet> &packets)
{
    for (const Packet &p : packets) {
        input.packets.add(AudioPacketMark{input.bytes.bytesPushed(), p.ptsUs, p.skipStart, p.discardEnd, false});
        input.bytes.push(p.bytes);
    }
    input.bytes.finish();
}

AudioResult runPipeline(const QList<Packet> &packets, quint32 codec, const QString &pcmPath)
{
    auto input = std::make_shared<AudioInput>();
    AudioClock clock;
    AudioSettings settings;
    settings.codec = codec;
    settings.pcmPath = pcmPath;
    settings.play = false;
    AudioPipeline pipeline(input, settings, &clock);
    QSignalSpy done(&pipeline, &AudioPipeline::finished);
    pipeline.start();
    feed(*input, packets); // a producer that outruns the pipeline meets the bound, as the connection does
    if (!done.wait(60000))
        return AudioResult{false, QStringLiteral("timed out"), 0, 0, 0, 0};
    return done.at(0).at(0).value<AudioResult>();
}

} // namespace

class TestReceiverAudio : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { QVERIFY(m_dir.isValid()); }
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
        const AudioResult result = runPipeline(packets, codec, pcm);
        QVERIFY2(result.ok, qPrintable(result.error));
        QCOMPARE(result.packets, quint64(packets.size()));
        QCOMPARE(result.decodeErrors, quint64(0));

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

private:
    QTemporaryDir m_dir;
};

QTEST_GUILESS_MAIN(TestReceiverAudio)
#include "tst_receiver_audio.moc"
