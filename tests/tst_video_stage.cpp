// VideoStage and VideoTranscoder, driven directly by MediaSource into a
// FramedMediaDevice over a memory buffer: the rules (bit rate, size, the
// --bitrate syntax), passthrough versus transcoding, and what a transcoder
// puts on the wire: one access unit per source frame with that frame's pts
// (ffprobe's), keyframes with SPS/PPS in band, a stream ffprobe decodes
// whole, admission per encoded access unit, and decode-only packets
// decoded but never sent.
#include "annexb.h"
#include "ffmpeg_raii.h"
#include "framed_media_device.h"
#include "logging.h"
#include "message_decoder.h"
#include "remux/video_stage.h"
#include "source/media_source.h"
#include "test_support.h"

#include <QBuffer>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

using namespace h264link;
using namespace testsupport;

namespace {

struct AccessUnit {
    qint64 ptsUs = proto::kNoPts;
    bool keyframe = false;
    QByteArray data;
};

// The MEDIA messages of `wire`, back into access units.
QList<AccessUnit> accessUnits(const QByteArray &wire)
{
    proto::MessageDecoder decoder;
    QList<AccessUnit> units;
    if (!decoder.feed(wire))
        return units;
    while (decoder.hasMessage()) {
        const proto::Message m = decoder.takeMessage();
        const auto media = proto::parseMedia(m.payload);
        if (m.type != proto::MessageType::Media || !media)
            continue;
        if ((m.flags & proto::AccessUnitStart) || units.isEmpty())
            units.append({media->ptsUs, bool(m.flags & proto::Keyframe), {}});
        units.last().data += media->data;
    }
    return units;
}

// ffprobe's frames of the first video stream: their pts (best effort) in
// microseconds, in display order.
QList<qint64> probeFramePtsUs(const QString &clip)
{
    const ToolResult tb = ffprobe({"-select_streams", "v:0", "-show_entries", "stream=time_base", "-of", "csv=p=0", clip});
    const QList<QByteArray> parts = tb.out.trimmed().split('/');
    const AVRational timeBase{parts.value(0).toInt(), parts.value(1).toInt()};
    const ToolResult r = ffprobe({"-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp",
                                  "-of", "csv=p=0", clip});
    QList<qint64> pts;
    for (const QByteArray &line : r.out.trimmed().split('\n'))
        if (!line.trimmed().isEmpty() && timeBase.den > 0)
            pts << av_rescale_q(line.trimmed().toLongLong(), timeBase, AV_TIME_BASE_Q);
    return pts;
}

bool hasParameterSetsThenIdr(const QByteArray &au)
{
    bool sps = false, pps = false;
    for (const auto &u : annexb::split(au)) {
        if (annexb::isSlice(u.type))
            return sps && pps && u.type == int(annexb::IdrSlice);
        sps |= u.type == annexb::Sps;
        pps |= u.type == annexb::Pps;
    }
    return false;
}

} // namespace

class TestVideoStage : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void parsesBitRate_data();
    void parsesBitRate();
    void refusesBadBitRate_data();
    void refusesBadBitRate();
    void scalesToMaxSize_data();
    void scalesToMaxSize();
    void bitRateFollowsPictureAndRate();
    void choosesPassthroughOrTranscoding();
    void transcodesFrameForFrame();
    void admitsPerEncodedAccessUnit();
    void decodeOnlyPacketsAreNotSent();

private:
    QString path(const QString &name) const { return m_dir.filePath(name); }
    // Streams `clip` through a VideoStage (not live); `admit` decides per
    // access unit, `discardFirst` packets are flagged decode-only.
    QByteArray transcode(const QString &clip, const VideoStage::Admit &admit, int discardFirst = 0);
    QTemporaryDir m_dir;
};

void TestVideoStage::initTestCase()
{
    installFfmpegLogHandler(); // libx264's statistics go to h264link.ffmpeg's debug, as in the apps
    QVERIFY(m_dir.isValid());
    // B-frames: decode order differs from display order, so pts must come
    // from the decoded frames, not the packets. 4 s: two keyframe intervals.
    const ToolResult hevc = ffmpeg({"-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4", "-c:v",
                                    "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:bframes=3",
                                    "-pix_fmt", "yuv420p", path("hevc.mkv")});
    QVERIFY2(hevc.ok(), hevc.err.constData());
    QCOMPARE(makeClip(path("h264.mp4"), "320x240", 25, 1.0), QString());
}

void TestVideoStage::parsesBitRate_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("bits");
    QTest::newRow("mega") << "2.5M" << 2'500'000;
    QTest::newRow("kilo") << "800k" << 800'000;
    QTest::newRow("bits") << "1500000" << 1'500'000;
    QTest::newRow("with unit") << "3 Mb/s" << 3'000'000;
    QTest::newRow("capital K") << "64K" << 64'000;
}

void TestVideoStage::parsesBitRate()
{
    QFETCH(QString, text);
    QFETCH(int, bits);
    int parsed = 0;
    QString error;
    QVERIFY2(VideoTranscoder::parseBitRate(text, &parsed, &error), qPrintable(error));
    QCOMPARE(parsed, bits);
}

void TestVideoStage::refusesBadBitRate_data()
{
    QTest::addColumn<QString>("text");
    QTest::newRow("empty") << "";
    QTest::newRow("word") << "high";
    QTest::newRow("negative") << "-1M";
    QTest::newRow("zero") << "0";
    QTest::newRow("giga") << "2G";
    QTest::newRow("too high") << "900M";
    QTest::newRow("two numbers") << "1 2";
}

void TestVideoStage::refusesBadBitRate()
{
    QFETCH(QString, text);
    int parsed = -1;
    QString error;
    QVERIFY(!VideoTranscoder::parseBitRate(text, &parsed, &error));
    QCOMPARE(parsed, -1);
    QVERIFY2(error.startsWith(QStringLiteral("invalid --bitrate '%1'").arg(text)), qPrintable(error));
}

void TestVideoStage::scalesToMaxSize_data()
{
    QTest::addColumn<int>("width");
    QTest::addColumn<int>("height");
    QTest::addColumn<int>("maxSize");
    QTest::addColumn<int>("outWidth");
    QTest::addColumn<int>("outHeight");
    QTest::newRow("no limit") << 1920 << 1080 << 0 << 1920 << 1080;
    QTest::newRow("1080p to 1280") << 1920 << 1080 << 1280 << 1280 << 720;
    QTest::newRow("portrait") << 1080 << 1920 << 1280 << 720 << 1280;
    QTest::newRow("already smaller") << 640 << 360 << 1280 << 640 << 360;
    QTest::newRow("odd sides become even") << 321 << 241 << 0 << 322 << 242;
    QTest::newRow("odd limit") << 1000 << 500 << 333 << 332 << 166;
}

void TestVideoStage::scalesToMaxSize()
{
    QFETCH(int, width);
    QFETCH(int, height);
    QFETCH(int, maxSize);
    QFETCH(int, outWidth);
    QFETCH(int, outHeight);
    int w = 0, h = 0;
    VideoTranscoder::scaledSize(width, height, maxSize, &w, &h);
    QCOMPARE(w, outWidth);
    QCOMPARE(h, outHeight);
}

void TestVideoStage::bitRateFollowsPictureAndRate()
{
    const AVRational fps30{30, 1}, fps60{60, 1};
    const int hd = VideoTranscoder::defaultBitRate(1280, 720, fps30);
    const int fullHd = VideoTranscoder::defaultBitRate(1920, 1080, fps30);
    const int fullHd60 = VideoTranscoder::defaultBitRate(1920, 1080, fps60);
    const int small = VideoTranscoder::defaultBitRate(320, 240, fps30);
    QVERIFY(small < hd && hd < fullHd && fullHd < fullHd60);
    // More bits per pixel for the smaller picture, fewer than in proportion for more of them.
    QVERIFY(double(small) / (320 * 240) > double(hd) / (1280 * 720));
    QVERIFY(fullHd60 < 2 * fullHd);
    QVERIFY(VideoTranscoder::defaultBitRate(16, 16, fps30) >= 200'000);
    QVERIFY(VideoTranscoder::defaultBitRate(7680, 4320, fps60) <= 20'000'000);
}

void TestVideoStage::choosesPassthroughOrTranscoding()
{
    QString error;
    const auto h264 = MediaSource::open(path("h264.mp4"), &error);
    QVERIFY2(h264, qPrintable(error));
    VideoSettings settings;
    auto stage = VideoStage::create(h264->stream(), settings, nullptr, &error);
    QVERIFY2(stage, qPrintable(error));
    QVERIFY(!stage->transcodes());
    QCOMPARE(stage->description(), QStringLiteral("h264 320x240, passed through"));

    settings.forceTranscode = true;
    settings.bitRate = 500'000;
    stage = VideoStage::create(h264->stream(), settings, nullptr, &error);
    QVERIFY2(stage, qPrintable(error));
    QVERIFY(stage->transcodes());
    QCOMPARE(stage->description(), QStringLiteral("h264 320x240 → H.264 500 kb/s (--transcode)"));

    const auto hevc = MediaSource::open(path("hevc.mkv"), &error);
    QVERIFY2(hevc, qPrintable(error));
    settings = VideoSettings{};
    settings.maxSize = 160;
    stage = VideoStage::create(hevc->stream(), settings, nullptr, &error);
    QVERIFY2(stage, qPrintable(error));
    QVERIFY(stage->transcodes());
    QCOMPARE(stage->width(), 160);
    QCOMPARE(stage->height(), 120);
    QVERIFY2(stage->description().startsWith(QStringLiteral("hevc 320x240 → H.264 160x120 ")),
             qPrintable(stage->description()));

    settings.preset = QStringLiteral("warpspeed");
    QVERIFY(!VideoStage::create(hevc->stream(), settings, nullptr, &error));
    QVERIFY2(error.contains("'warpspeed' is not an x264 preset"), qPrintable(error));
}

QByteArray TestVideoStage::transcode(const QString &clip, const VideoStage::Admit &admit, int discardFirst)
{
    QString error;
    const auto source = MediaSource::open(clip, &error);
    if (!source) {
        qWarning("%s", qPrintable(error));
        return {};
    }
    QByteArray wire;
    QBuffer transport(&wire);
    transport.open(QIODevice::WriteOnly);
    FramedMediaDevice framing(&transport);
    framing.open(QIODevice::WriteOnly);
    VideoSettings settings;
    settings.live = false; // no clock: every frame, however slow the machine
    auto stage = VideoStage::create(source->stream(), settings, &framing, &error);
    if (!stage) {
        qWarning("%s", qPrintable(error));
        return {};
    }
    PacketPtr packet = makePacket();
    int read = 0;
    while (source->readPacket(packet.get()) >= 0) {
        if (read++ < discardFirst)
            packet->flags |= AV_PKT_FLAG_DISCARD;
        if (stage->write(packet.get(), admit, &error) != VideoStage::Result::Ok) {
            qWarning("%s", qPrintable(error));
            return {};
        }
    }
    if (!stage->finish(&error)) {
        qWarning("%s", qPrintable(error));
        return {};
    }
    return wire;
}

void TestVideoStage::transcodesFrameForFrame()
{
    const QString clip = path("hevc.mkv");
    const QList<AccessUnit> units = accessUnits(transcode(clip, [](bool) { return true; }));
    const QList<qint64> framePts = probeFramePtsUs(clip);
    QVERIFY(!framePts.isEmpty());
    QCOMPARE(units.size(), ffprobeFrameCount(clip));
    QByteArray stream;
    qint64 lastKeyUs = proto::kNoPts;
    for (int i = 0; i < units.size(); ++i) {
        const AccessUnit &u = units[i];
        QCOMPARE(u.ptsUs, framePts.value(i)); // the source frame's own time, in display order
        if (i == 0)
            QVERIFY(u.keyframe);
        if (u.keyframe) {
            QVERIFY2(hasParameterSetsThenIdr(u.data), qPrintable(QStringLiteral("keyframe %1").arg(i)));
            if (lastKeyUs != proto::kNoPts) // every 2 s
                QVERIFY(u.ptsUs - lastKeyUs <= VideoTranscoder::kKeyframeIntervalS * 1'000'000);
            lastKeyUs = u.ptsUs;
        }
        stream += u.data;
    }
    QVERIFY2(lastKeyUs > units.first().ptsUs, "a keyframe past the first");
    // What went out decodes whole, frame for frame, in ffprobe.
    QFile out(path("transcoded.h264"));
    QVERIFY(out.open(QIODevice::WriteOnly));
    out.write(stream);
    out.close();
    QCOMPARE(ffprobeFrameCount(path("transcoded.h264")), units.size());
}

// LiveRateControl's part, played here: from the 10th access unit on it says
// no until a keyframe comes. The stage asks per encoded access unit, so what
// is skipped is a run of the encoder's frames up to its next keyframe, and
// what is sent still decodes.
void TestVideoStage::admitsPerEncodedAccessUnit()
{
    int asked = 0, refused = 0;
    bool catchingUp = false;
    const auto admit = [&](bool keyframe) {
        if (++asked == 10)
            catchingUp = true;
        if (catchingUp && keyframe)
            catchingUp = false;
        refused += catchingUp ? 1 : 0;
        return !catchingUp;
    };
    const QList<AccessUnit> units = accessUnits(transcode(path("hevc.mkv"), admit));
    const int frames = ffprobeFrameCount(path("hevc.mkv"));
    QVERIFY(asked > 10 && asked <= frames); // finish() sends the decoder's last frames unasked
    QVERIFY(refused > 0);
    QCOMPARE(units.size(), frames - refused);
    QVERIFY(units.value(9).keyframe); // the first sent after the gap
    QByteArray stream;
    for (const AccessUnit &u : units)
        stream += u.data;
    QFile out(path("admitted.h264"));
    QVERIFY(out.open(QIODevice::WriteOnly));
    out.write(stream);
    out.close();
    QCOMPARE(ffprobeFrameCount(path("admitted.h264")), units.size());
}

// Decode-only packets (an edit list's lead-in): decoded, for the frames that
// refer to them, and never encoded or sent.
void TestVideoStage::decodeOnlyPacketsAreNotSent()
{
    const int discarded = 5;
    const QList<AccessUnit> units = accessUnits(transcode(path("hevc.mkv"), [](bool) { return true; }, discarded));
    QCOMPARE(units.size(), ffprobeFrameCount(path("hevc.mkv")) - discarded);
    QVERIFY(units.value(0).keyframe);
}

QTEST_GUILESS_MAIN(TestVideoStage)
#include "tst_video_stage.moc"
