// Staying live (issue 14): the receiver's queue cut back to an access unit
// start, then a keyframe. ByteQueue::truncate and AccessUnitIndex::dropFrom
// on their own, then with the real Demuxer and Decoder reading the queue as
// ReceiverConnection cuts it: every frame decoded must be ffmpeg's frame
// (framemd5) with its own pts, the frames before the cut a prefix and those
// after it the clip from the keyframe on, and decoded + cut = the clip.
#include "app_runner.h"
#include "decoder.h"
#include "demuxer.h"
#include "frame_md5_writer.h"
#include "framed_media_device.h"
#include "message_decoder.h"
#include "stream_input.h"
#include "stream_stats.h"
#include "test_support.h"

#include <QBuffer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSemaphore>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

using namespace h264link;

namespace {

using Unit = testsupport::MediaUnit;

const QByteArray kDelimiter("\0\0\0\1\x09\xf0", 6);

// Holds the pipeline thread at its first frame until released, so that the
// test cuts while the reader stands still, somewhere in the first GOP.
class Gate : public FrameSink {
public:
    bool push(const AVFrame *frame) override
    {
        pts.push_back(frame->pts);
        if (pts.size() == 1) {
            reached.release();
            open.acquire();
        }
        return true;
    }
    QSemaphore reached, open;
    std::vector<qint64> pts;
};

} // namespace

class TestLiveQueue : public QObject {
    Q_OBJECT
private slots:
    void truncateKeepsTheReadersOffsetsContinuous();
    void indexDropsTheMarksOfACut();
    void cutToAKeyframeDecodesCleanly();
};

void TestLiveQueue::truncateKeepsTheReadersOffsetsContinuous()
{
    ByteQueue queue(1024);
    QVERIFY(queue.push("aaaa"));
    QVERIFY(queue.push("bbbb"));
    char buffer[16] = {};
    QCOMPARE(queue.read(buffer, 2), 2);
    QCOMPARE(queue.readOffset(), qint64(2));
    QVERIFY(!queue.truncate(1)); // the reader is past it
    QVERIFY(!queue.truncate(9)); // never pushed
    QCOMPARE(queue.bytesPushed(), qint64(8));
    QVERIFY(queue.truncate(4));
    QCOMPARE(queue.bytesPushed(), qint64(4)); // the offset the next byte takes
    QCOMPARE(queue.queuedBytes(), qsizetype(2));
    QVERIFY(queue.push("cc"));
    QCOMPARE(queue.bytesPushed(), qint64(6));
    queue.finish();
    QCOMPARE(queue.read(buffer, sizeof buffer), 4);
    QCOMPARE(QByteArray(buffer, 4), QByteArray("aacc"));
    QCOMPARE(queue.readOffset(), qint64(6));
    QVERIFY(queue.truncate(6)); // nothing left to cut: still allowed, a no-op
    QCOMPARE(queue.read(buffer, sizeof buffer), 0);
}

void TestLiveQueue::indexDropsTheMarksOfACut()
{
    AccessUnitIndex index;
    QVERIFY(!index.oldest());
    for (int i = 0; i < 4; ++i)
        index.add(AccessUnitMark{i * 10, i * 1000, i, false, 100 + i});
    QCOMPARE(index.oldest()->arrivalUs, qint64(100));
    QCOMPARE(*index.firstStartFrom(11), qint64(20));
    QCOMPARE(*index.firstStartFrom(20), qint64(20));
    QVERIFY(!index.firstStartFrom(31));
    const auto dropped = index.dropFrom(20);
    QCOMPARE(dropped.size(), std::size_t(2));
    QCOMPARE(dropped[0].statsId, qint64(2));
    QCOMPARE(dropped[1].statsId, qint64(3));
    QCOMPARE(index.pending(), std::size_t(2));
    index.add(AccessUnitMark{20, 9000, 9, false, 200}); // the keyframe, where the cut was
    QCOMPARE(index.take(0, 5)->statsId, qint64(0));
    QCOMPARE(index.oldest()->statsId, qint64(1));
    QCOMPARE(index.take(15, 10)->statsId, qint64(9)); // the one starting in the packet
    QCOMPARE(index.pending(), std::size_t(0));
    QVERIFY(index.dropFrom(0).empty());
}

void TestLiveQueue::cutToAKeyframeDecodesCleanly()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    testsupport::GopClip clip;
    QCOMPARE(testsupport::makeGopClip(dir.filePath("gop.mp4"), 25, 4.0, &clip), QString());
    QString error;
    const QList<Unit> units = testsupport::mediaUnitsOf(clip.path, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(units.size(), clip.reference.size());
    const QList<qint64> referencePts = testsupport::referencePtsUs(clip.path);
    QCOMPARE(referencePts.size(), units.size());
    QVERIFY(clip.keyFrames.size() >= 3);
    const int resumeAt = clip.keyFrames[2]; // no B-frames: decode order is display order
    QVERIFY(units[resumeAt].keyframe);

    StreamInput input(64 * 1024 * 1024);
    StreamStats stats(false);
    auto push = [&](int i) {
        const qint64 id = stats.onAccessUnit(0, 0, units[i].bytes.size());
        input.units.add(AccessUnitMark{input.bytes.bytesPushed(), units[i].ptsUs, id, false, 0});
        input.bytes.push(units[i].bytes + kDelimiter);
    };
    for (int i = 0; i < resumeAt; ++i) // all of the first two GOPs arrive while the decoder is held
        push(i);

    PipelineCounters counters;
    FrameMd5Writer md5;
    const QString md5Path = dir.filePath("out.framemd5");
    QVERIFY2(md5.open(md5Path, &error), qPrintable(error));
    md5.configure(true, 0, 0);
    Gate gate;
    int ret = -1;
    QThread *pipeline = QThread::create([&] {
        auto demuxer = Demuxer::open(input, counters, &error);
        if (!demuxer)
            return gate.reached.release();
        auto decoder = Decoder::open(demuxer->codecpar(), counters, &stats, &error);
        if (!decoder)
            return gate.reached.release();
        decoder->addSink(&gate);
        decoder->addSink(md5.videoSink());
        ret = demuxer->run(*decoder);
        md5.endStream(0);
    });
    pipeline->start();
    QVERIFY(gate.reached.tryAcquire(1, 30000));
    QVERIFY2(error.isEmpty(), qPrintable(error));

    // The cut, as ReceiverConnection makes it at a keyframe.
    const qint64 readOffset = input.bytes.readOffset();
    const auto cut = input.units.firstStartFrom(readOffset);
    QVERIFY2(cut, "the reader took the whole queue: the test's queue is too small for a cut");
    QVERIFY(input.bytes.truncate(*cut));
    const auto dropped = input.units.dropFrom(*cut);
    QVERIFY(!dropped.empty());
    for (const AccessUnitMark &mark : dropped)
        stats.onSkippedToStayLive(mark.statsId);
    qInfo("reader at %lld: cut at %lld, %zu units cut", qlonglong(readOffset), qlonglong(*cut), dropped.size());
    for (int i = resumeAt; i < units.size(); ++i)
        push(i);
    input.bytes.finish();
    gate.open.release();
    QVERIFY(pipeline->wait(60000));
    delete pipeline;
    QCOMPARE(ret, 0);
    QVERIFY2(md5.error().isEmpty(), qPrintable(md5.error()));
    QCOMPARE(counters.decodeErrors.load(), quint64(0));
    QCOMPARE(counters.concealedFrames.load(), quint64(0));

    // What was decoded: the clip's first `kept` frames, then the clip from
    // the keyframe on, each with its own pts; the rest were cut.
    const int kept = resumeAt - int(dropped.size());
    QVERIFY(kept >= 1);
    const QStringList expected = clip.reference.mid(0, kept) + clip.reference.mid(resumeAt);
    QCOMPARE(testsupport::md5Column(testsupport::readFile(md5Path)), expected);
    const QList<qint64> expectedPts = referencePts.mid(0, kept) + referencePts.mid(resumeAt);
    QCOMPARE(QList<qint64>(gate.pts.begin(), gate.pts.end()), expectedPts);
    QCOMPARE(counters.frames.load() + dropped.size(), quint64(units.size()));
    QCOMPARE(stats.recordsHeld(), std::size_t(0)); // the cut units' records were let go of
    const StatsReport report = stats.report(proto::nowMicros());
    QCOMPARE(report.skippedToStayLive, quint64(dropped.size()));
    const QJsonObject line = QJsonDocument::fromJson(report.toJson().toUtf8()).object();
    QCOMPARE(line.value("stay_live").toObject().value("skipped").toInteger(), qint64(dropped.size()));
    const QJsonObject summary = QJsonDocument::fromJson(stats.summaryJson().toUtf8()).object().value("summary").toObject();
    QCOMPARE(summary.value("stay_live").toObject().value("skipped").toInteger(), qint64(dropped.size()));
    QCOMPARE(summary.value("frames_decoded").toInteger(), qint64(counters.frames.load()));
}

QTEST_GUILESS_MAIN(TestLiveQueue)
#include "tst_live_queue.moc"
