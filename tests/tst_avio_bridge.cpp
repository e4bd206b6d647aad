// AvioBridge over random-access devices (QBuffer, QFile): memory input,
// memory output and seek, each checked against the ffmpeg/ffprobe CLIs.
#include "annexb.h"
#include "avio_bridge.h"
#include "ffmpeg_raii.h"
#include "test_support.h"

#include <QBuffer>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

using namespace h264link;

namespace {

// The write direction alone, as the lesson has it: FFmpeg reads the file
// itself, and the raw "h264" muxer writes through the bridge into `out`.
// (The sender's real remux stage, AnnexBMuxer, has its own test.)
QString remuxIntoDevice(const QString &inPath, QIODevice *out)
{
    QString error;
    auto writer = AvioBridge::create(out, AvioBridge::Direction::Write, &error);
    if (!writer)
        return error;
    AVFormatContext *rawIn = nullptr;
    int ret = avformat_open_input(&rawIn, inPath.toUtf8().constData(), nullptr, nullptr);
    InputFormatPtr input(rawIn);
    if (ret < 0 || (ret = avformat_find_stream_info(input.get(), nullptr)) < 0)
        return "open: " + averrorText(ret);
    const int video = av_find_best_stream(input.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (video < 0)
        return "no video";
    AVFormatContext *rawOut = nullptr;
    if ((ret = avformat_alloc_output_context2(&rawOut, nullptr, "h264", nullptr)) < 0)
        return "alloc output: " + averrorText(ret);
    OutputFormatPtr output(rawOut);
    output->pb = writer->context(); // every byte goes through write_packet
    output->flags |= AVFMT_FLAG_CUSTOM_IO;
    AVStream *st = avformat_new_stream(output.get(), nullptr);
    if (!st || avcodec_parameters_copy(st->codecpar, input->streams[video]->codecpar) < 0)
        return "new stream";
    st->time_base = input->streams[video]->time_base;
    if ((ret = avformat_write_header(output.get(), nullptr)) < 0)
        return "write header: " + averrorText(ret);
    PacketPtr pkt = makePacket();
    while ((ret = av_read_frame(input.get(), pkt.get())) >= 0) {
        if (pkt->stream_index == video) {
            pkt->stream_index = 0;
            av_packet_rescale_ts(pkt.get(), input->streams[video]->time_base, st->time_base);
            if ((ret = av_write_frame(output.get(), pkt.get())) < 0)
                return "write frame: " + averrorText(ret);
        }
        av_packet_unref(pkt.get());
    }
    if ((ret = av_write_trailer(output.get())) < 0)
        return "write trailer: " + averrorText(ret);
    return {};
}

} // namespace

class TestAvioBridge : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void memoryInputCountsVideoPackets_data();
    void memoryInputCountsVideoPackets();
    void memoryOutputMatchesFfmpegCli();
    void seekCallbackHonoursEveryWhence();
    void avioSeekAndReadInsideFile();
    void moovAtEndOpensFromFile();
    void truncatedFileFailsCleanly();
    void deviceNotOpenIsRefused();
    void readFailureIsAnErrorWithItsReason();

private:
    QString path(const QString &name) const { return m_dir.filePath(name); }
    QTemporaryDir m_dir;
};

void TestAvioBridge::initTestCase()
{
    QVERIFY(m_dir.isValid());
    // Default mp4: libx264 high profile with B-frames, moov written at the end.
    QCOMPARE(testsupport::makeClip(path("clip.mp4"), "320x240", 25, 2.0), QString());
    QCOMPARE(testsupport::makeClip(path("faststart.mp4"), "176x144", 30, 1.0,
                                   {"-movflags", "+faststart"}),
             QString());
    QCOMPARE(testsupport::makeClip(path("clip.mkv"), "320x240", 24, 1.5), QString());
}

void TestAvioBridge::memoryInputCountsVideoPackets_data()
{
    QTest::addColumn<QString>("file");
    QTest::newRow("mp4, moov at end") << "clip.mp4";
    QTest::newRow("mp4, faststart") << "faststart.mp4";
    QTest::newRow("mkv") << "clip.mkv";
}

void TestAvioBridge::memoryInputCountsVideoPackets()
{
    QFETCH(QString, file);
    QByteArray bytes = testsupport::readFile(path(file));
    QVERIFY(!bytes.isEmpty());
    QBuffer buffer(&bytes);
    QVERIFY(buffer.open(QIODevice::ReadOnly));

    QString error;
    const int ours = testsupport::countVideoPackets(&buffer, &error);
    QVERIFY2(ours > 0, qPrintable(error));
    QCOMPARE(ours, testsupport::ffprobeVideoPacketCount(path(file)));
}

void TestAvioBridge::memoryOutputMatchesFfmpegCli()
{
    QByteArray ours;
    QBuffer out(&ours);
    QVERIFY(out.open(QIODevice::WriteOnly));
    const QString error = remuxIntoDevice(path("clip.mp4"), &out);
    QVERIFY2(error.isEmpty(), qPrintable(error));

    const auto ref = testsupport::ffmpeg({"-i", path("clip.mp4"), "-map", "0:v:0", "-c", "copy",
                                          "-f", "h264", "-"});
    QVERIFY2(ref.ok(), ref.err.constData());
    QCOMPARE(ours.size(), ref.out.size());
    QVERIFY(ours == ref.out);

    // The mp4 holds SPS/PPS in avcC extradata; Annex B must carry them in-band,
    // with start codes, before the first slice.
    const auto units = annexb::split(ours);
    QVERIFY(ours.startsWith(QByteArray("\0\0\0\1", 4)));
    bool sps = false, pps = false;
    for (const auto &u : units) {
        if (annexb::isSlice(u.type)) {
            QCOMPARE(u.type, int(annexb::IdrSlice));
            break;
        }
        sps |= u.type == annexb::Sps;
        pps |= u.type == annexb::Pps;
    }
    QVERIFY(sps);
    QVERIFY(pps);
}

void TestAvioBridge::seekCallbackHonoursEveryWhence()
{
    QFile file(path("clip.mp4"));
    QVERIFY(file.open(QIODevice::ReadOnly));
    QString error;
    auto bridge = AvioBridge::create(&file, AvioBridge::Direction::Read, &error);
    QVERIFY2(bridge, qPrintable(error));
    AVIOContext *ctx = bridge->context();
    const int64_t size = file.size();

    QCOMPARE(ctx->seek(ctx->opaque, 0, AVSEEK_SIZE), size);
    QCOMPARE(ctx->seek(ctx->opaque, 0, AVSEEK_SIZE | AVSEEK_FORCE), size);
    QCOMPARE(file.pos(), 0); // AVSEEK_SIZE must not move
    QCOMPARE(ctx->seek(ctx->opaque, 100, SEEK_SET), int64_t(100));
    QCOMPARE(ctx->seek(ctx->opaque, 20, SEEK_CUR), int64_t(120));
    QCOMPARE(ctx->seek(ctx->opaque, -8, SEEK_CUR), int64_t(112));
    QCOMPARE(ctx->seek(ctx->opaque, -10, SEEK_END), size - 10);
    QCOMPARE(file.pos(), size - 10);
    QVERIFY(ctx->seek(ctx->opaque, -1, SEEK_SET) < 0);
    QVERIFY(ctx->seek(ctx->opaque, 0, 12345) < 0);
    QCOMPARE(avio_size(ctx), size);
}

void TestAvioBridge::avioSeekAndReadInsideFile()
{
    const QByteArray bytes = testsupport::readFile(path("clip.mp4"));
    QFile file(path("clip.mp4"));
    QVERIFY(file.open(QIODevice::ReadOnly));
    QString error;
    auto bridge = AvioBridge::create(&file, AvioBridge::Direction::Read, &error, 4096);
    QVERIFY2(bridge, qPrintable(error));
    AVIOContext *ctx = bridge->context();

    for (int64_t offset : {int64_t(0), int64_t(5000), int64_t(bytes.size() - 64), int64_t(17)}) {
        QCOMPARE(avio_seek(ctx, offset, SEEK_SET), offset);
        uint8_t got[32];
        QCOMPARE(avio_read(ctx, got, sizeof got), int(sizeof got));
        QCOMPARE(QByteArray(reinterpret_cast<char *>(got), sizeof got),
                 bytes.mid(qsizetype(offset), sizeof got));
    }
    QCOMPARE(avio_seek(ctx, bytes.size(), SEEK_SET), int64_t(bytes.size()));
    uint8_t one;
    QCOMPARE(avio_read(ctx, &one, 1), AVERROR_EOF);
}

void TestAvioBridge::moovAtEndOpensFromFile()
{
    const QByteArray bytes = testsupport::readFile(path("clip.mp4"));
    QVERIFY2(bytes.indexOf("moov") > bytes.indexOf("mdat"), "fixture must have moov after mdat");

    QFile file(path("clip.mp4"));
    QVERIFY(file.open(QIODevice::ReadOnly));
    QString error;
    const int ours = testsupport::countVideoPackets(&file, &error);
    QVERIFY2(ours > 0, qPrintable(error));
    QCOMPARE(ours, testsupport::ffprobeVideoPacketCount(path("clip.mp4")));
}

void TestAvioBridge::truncatedFileFailsCleanly()
{
    QByteArray bytes = testsupport::readFile(path("clip.mp4"));
    bytes.truncate(bytes.indexOf("moov") - 4); // the index is gone
    QBuffer buffer(&bytes);
    QVERIFY(buffer.open(QIODevice::ReadOnly));
    QString error;
    QCOMPARE(testsupport::countVideoPackets(&buffer, &error), -1);
    QVERIFY(!error.isEmpty());
}

void TestAvioBridge::deviceNotOpenIsRefused()
{
    QBuffer closed;
    QString error;
    QVERIFY(!AvioBridge::create(&closed, AvioBridge::Direction::Read, &error));
    QVERIFY(error.contains("open for reading"));
    QBuffer readOnly;
    QVERIFY(readOnly.open(QIODevice::ReadOnly));
    QVERIFY(!AvioBridge::create(&readOnly, AvioBridge::Direction::Write, &error));
    QVERIFY(error.contains("open for writing"));
}

namespace {

// A file whose disk fails after `good` bytes: read() says -1 and why.
class FailingFile : public QBuffer {
public:
    FailingFile(const QByteArray &data, qint64 good) : m_good(good) { setData(data); }

protected:
    qint64 readData(char *data, qint64 maxSize) override
    {
        if (pos() >= m_good) {
            setErrorString(QStringLiteral("Input/output error (the disk failed)"));
            return -1;
        }
        return QBuffer::readData(data, qMin(maxSize, m_good - pos()));
    }

private:
    qint64 m_good;
};

} // namespace

// A failed read is not the end of the file: libavformat gets AVERROR(EIO)
// and the device's reason is kept for the person.
void TestAvioBridge::readFailureIsAnErrorWithItsReason()
{
    FailingFile file(testsupport::readFile(path("clip.mp4")), 4096);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QString error;
    auto bridge = AvioBridge::create(&file, AvioBridge::Direction::Read, &error);
    QVERIFY(bridge);
    AVIOContext *ctx = bridge->context();
    uint8_t buf[1024];
    int ret = 0;
    qint64 total = 0;
    while ((ret = avio_read_partial(ctx, buf, sizeof buf)) > 0)
        total += ret;
    QCOMPARE(total, qint64(4096));
    QCOMPARE(ret, AVERROR(EIO));
    QCOMPARE(bridge->lastDeviceError(), QStringLiteral("Input/output error (the disk failed)"));
}

QTEST_GUILESS_MAIN(TestAvioBridge)
#include "tst_avio_bridge.moc"
