// The receiver's pipeline stages at unit level: Demuxer + Decoder over a
// StreamInput, fed as ReceiverConnection feeds it (each access unit indexed
// by its byte offset with its pts and statistics id, then its bytes and an
// access unit delimiter). Thousands of units are queued before the first is
// read, and some units are made for the parser to merge or split: every
// frame must still carry its own pts and statistics record, checked against
// ffmpeg's framemd5 of the source.
#include "app_runner.h"
#include "decoder.h"
#include "demuxer.h"
#include "framed_media_device.h"
#include "message_decoder.h"
#include "stream_input.h"
#include "stream_stats.h"
#include "test_support.h"

#include <QBuffer>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>
#include <map>

using namespace h264link;

namespace {

using Unit = testsupport::MediaUnit;

class Recorder : public FrameSink {
public:
    bool push(const AVFrame *frame) override
    {
        frames.push_back({frame->pts, frame->reordered_opaque});
        return true;
    }
    std::vector<std::pair<qint64, qint64>> frames; // pts, stats id
};

const QByteArray kDelimiter("\0\0\0\1\x09\xf0", 6);
// An SEI alone (user data unregistered, 16 bytes of UUID): a unit without
// a picture, which the parser merges into the next access unit.
const QByteArray kSeiOnly = QByteArray("\0\0\0\1\x06\x05\x10", 7) + QByteArray(16, '\x11') + QByteArray("\x80", 1);

} // namespace

class TestReceiverPipeline : public QObject {
    Q_OBJECT
private slots:
    void thousandsOfUnitsKeepTheirPtsAndRecords();
};

void TestReceiverPipeline::thousandsOfUnitsKeepTheirPtsAndRecords()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString clip = dir.filePath("small.mp4");
    // B-frames, so frames leave the decoder in another order than they came.
    QCOMPARE(testsupport::makeClip(clip, "64x48", 25, 100.0, {"-bf", "2", "-g", "50"}), QString());
    QString error;
    const QList<Unit> units = testsupport::mediaUnitsOf(clip, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    const QList<qint64> reference = testsupport::referencePtsUs(clip); // presentation order
    QCOMPARE(units.size(), reference.size());
    QVERIFY(units.size() > 2 * 1024); // more pending than any old bound

    StreamInput input(256 * 1024 * 1024); // everything queued before the first read
    StreamStats stats(false);
    std::map<qint64, qint64> ptsOfRecord;
    QList<qint64> expected = reference;
    int merged = 0, split = 0;
    for (int i = 0; i < units.size(); ++i) {
        auto add = [&](qint64 ptsUs, const QByteArray &bytes) {
            const qint64 id = stats.onAccessUnit(0, 0, bytes.size());
            ptsOfRecord[id] = ptsUs;
            input.units.add(AccessUnitMark{input.bytes.bytesPushed(), ptsUs, id});
            input.bytes.push(bytes + kDelimiter);
        };
        if (i % 100 == 10) { // a unit with no picture: merged into the next packet
            add(-7, kSeiOnly);
            ++merged;
        }
        if (i % 100 == 50 && i + 1 < units.size()) { // two pictures in one unit: split by the parser
            add(units[i].ptsUs, units[i].bytes + units[i + 1].bytes);
            expected[expected.indexOf(units[i + 1].ptsUs)] = AV_NOPTS_VALUE; // its packet has no unit
            ++split;
            ++i;
            continue;
        }
        add(units[i].ptsUs, units[i].bytes);
    }
    input.bytes.finish();
    qInfo("%lld units, %d merged, %d split, %zu pending before the first read", qlonglong(units.size()),
          merged, split, input.units.pending());

    PipelineCounters counters;
    auto demuxer = Demuxer::open(input, counters, &error);
    QVERIFY2(demuxer, qPrintable(error));
    auto decoder = Decoder::open(demuxer->codecpar(), counters, &stats, &error);
    QVERIFY2(decoder, qPrintable(error));
    Recorder recorder;
    decoder->addSink(&recorder);
    QCOMPARE(demuxer->run(*decoder), 0);
    QCOMPARE(counters.decodeErrors.load(), quint64(0));

    QCOMPARE(qsizetype(recorder.frames.size()), expected.size());
    int withoutRecord = 0;
    for (int i = 0; i < expected.size(); ++i) {
        const auto [pts, id] = recorder.frames[size_t(i)];
        QVERIFY2(pts == expected[i], qPrintable(QString("frame %1: pts %2, expected %3").arg(i).arg(pts).arg(expected[i])));
        if (id < 0) {
            ++withoutRecord;
            continue;
        }
        QVERIFY2(ptsOfRecord.at(id) == pts, qPrintable(QString("frame %1 has the record of another unit").arg(i)));
    }
    QCOMPARE(withoutRecord, split);
    QCOMPARE(stats.framesDecoded(), quint64(expected.size()));
}

QTEST_GUILESS_MAIN(TestReceiverPipeline)
#include "tst_receiver_pipeline.moc"
