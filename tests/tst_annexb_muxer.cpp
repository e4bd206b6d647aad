// AnnexBMuxer, the sender's remux stage, driven directly by MediaSource into
// a FramedMediaDevice over a memory buffer: its output equals
// `ffmpeg -i clip -c copy -f h264` byte for byte, with one access unit per
// packet (the keyframe flag and pts of ffprobe's packet), SPS/PPS first.
#include "annexb.h"
#include "ffmpeg_raii.h"
#include "framed_media_device.h"
#include "message_decoder.h"
#include "remux/annexb_muxer.h"
#include "source/media_source.h"
#include "test_support.h"

#include <QBuffer>
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

struct ProbedPacket {
    qint64 ptsUs = proto::kNoPts;
    bool keyframe = false;
};

// ffprobe's view of the first video stream's packets, in file order.
QList<ProbedPacket> probePackets(const QString &clip)
{
    const ToolResult tb = ffprobe({"-select_streams", "v:0", "-show_entries", "stream=time_base",
                                   "-of", "csv=p=0", clip});
    const QList<QByteArray> parts = tb.out.trimmed().split('\n').value(0).trimmed().split('/');
    const AVRational timeBase{parts.value(0).toInt(), parts.value(1).toInt()};
    const ToolResult r = ffprobe({"-select_streams", "v:0", "-show_entries", "packet=pts,flags",
                                  "-of", "csv=p=0", clip});
    QList<ProbedPacket> packets;
    for (const QByteArray &line : r.out.trimmed().split('\n')) {
        if (line.trimmed().isEmpty())
            continue; // mpeg-ts packets' side data prints as an empty row
        const QList<QByteArray> fields = line.split(',');
        ProbedPacket p;
        bool ok = false;
        const qint64 pts = fields.value(0).toLongLong(&ok);
        if (ok && timeBase.den > 0)
            p.ptsUs = av_rescale_q(pts, timeBase, AV_TIME_BASE_Q);
        p.keyframe = fields.value(1).startsWith('K');
        packets << p;
    }
    return packets;
}

} // namespace

class TestAnnexBMuxer : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void matchesFfmpegCopy_data();
    void matchesFfmpegCopy();

private:
    QTemporaryDir m_dir;
};

void TestAnnexBMuxer::initTestCase()
{
    QVERIFY(m_dir.isValid());
    // mp4 and mkv carry SPS/PPS out of band (avcC) and length-prefixed NALs;
    // libx264's defaults add B-frames, so pts and decode order differ.
    QCOMPARE(makeClip(m_dir.filePath("clip.mp4"), "320x240", 25, 2.0, {"-g", "12"}), QString());
    QCOMPARE(makeClip(m_dir.filePath("clip.mkv"), "176x144", 24, 1.5), QString());
    QCOMPARE(makeClip(m_dir.filePath("clip.ts"), "176x144", 30, 1.0), QString());
}

void TestAnnexBMuxer::matchesFfmpegCopy_data()
{
    QTest::addColumn<QString>("file");
    QTest::newRow("mp4") << "clip.mp4";
    QTest::newRow("mkv") << "clip.mkv";
    QTest::newRow("mpeg-ts (Annex B already)") << "clip.ts";
}

void TestAnnexBMuxer::matchesFfmpegCopy()
{
    QFETCH(QString, file);
    const QString clip = m_dir.filePath(file);
    QString error;
    const auto source = MediaSource::open(clip, &error);
    QVERIFY2(source, qPrintable(error));
    QByteArray wire;
    QBuffer transport(&wire);
    QVERIFY(transport.open(QIODevice::WriteOnly));
    FramedMediaDevice framing(&transport);
    QVERIFY(framing.open(QIODevice::WriteOnly));
    const auto muxer = AnnexBMuxer::create(source->stream()->codecpar, source->timeBase(), &framing, &error);
    QVERIFY2(muxer, qPrintable(error));
    PacketPtr packet = makePacket();
    int ret = 0;
    while ((ret = source->readPacket(packet.get())) >= 0) {
        QCOMPARE(muxer->writeAccessUnit(packet.get(), &error), AnnexBMuxer::Result::Ok);
        av_packet_unref(packet.get());
    }
    QCOMPARE(ret, AVERROR_EOF);
    QVERIFY2(muxer->finish(&error), qPrintable(error));

    // What went on the wire, back into access units.
    proto::MessageDecoder decoder;
    QVERIFY(decoder.feed(wire));
    QList<AccessUnit> units;
    bool open = false;
    while (decoder.hasMessage()) {
        const proto::Message m = decoder.takeMessage();
        QCOMPARE(m.type, proto::MessageType::Media);
        const auto media = proto::parseMedia(m.payload);
        QVERIFY(media);
        if (m.flags & proto::AccessUnitStart) {
            QVERIFY2(!open, "an access unit began inside another");
            units.append({media->ptsUs, bool(m.flags & proto::Keyframe), {}});
            open = true;
        }
        QVERIFY2(open, "media outside an access unit");
        units.last().data += media->data;
        if (m.flags & proto::AccessUnitEnd)
            open = false;
    }
    QVERIFY(!open);

    const QList<ProbedPacket> probed = probePackets(clip);
    QCOMPARE(units.size(), probed.size()); // one access unit per packet
    QByteArray ours;
    for (int i = 0; i < units.size(); ++i) {
        QVERIFY2(units[i].keyframe == probed[i].keyframe, qPrintable(QString("access unit %1").arg(i)));
        QCOMPARE(units[i].ptsUs, probed[i].ptsUs);
        QVERIFY2(units[i].data.startsWith(QByteArray("\0\0\1", 3)) || units[i].data.startsWith(QByteArray("\0\0\0\1", 4)),
                 qPrintable(QString("access unit %1 does not begin with a start code").arg(i)));
        ours += units[i].data;
    }
    const ToolResult ref = ffmpeg({"-i", clip, "-map", "0:v:0", "-c", "copy", "-f", "h264", "-"});
    QVERIFY2(ref.ok(), ref.err.constData());
    QCOMPARE(ours.size(), ref.out.size());
    QVERIFY(ours == ref.out);

    // SPS and PPS in-band, before the first slice, which is an IDR.
    bool sps = false, pps = false;
    for (const auto &u : annexb::split(units.first().data)) {
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

QTEST_GUILESS_MAIN(TestAnnexBMuxer)
#include "tst_annexb_muxer.moc"
