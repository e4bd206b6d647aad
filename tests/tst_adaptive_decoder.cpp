// The Decoder keeping up (decoder.h), on a real clip fed as
// ReceiverConnection feeds the pipeline (each access unit indexed by its
// byte offset with its pts, statistics record and arrival time):
//   - units that arrived long ago (a decoder far behind real time): it skips
//     non-reference frames, then reopens with frame threads at a keyframe;
//     then units that arrive as they are decoded: back to low delay after
//     the (shortened) recovery time. Every frame that comes out is ffmpeg's
//     frame of the same pts, MD5 for MD5, in order; decoded + skipped is
//     ffprobe's frame count; no statistics record is left behind. A stream
//     that asks for every frame (maySkip false) gets frame threads only.
//   - a stream that is not live (--fast): frame threads from the start, and
//     the whole clip MD5-identical to ffmpeg's;
//   - the pipeline thread and the decoder's threads run at nice +5.
// Behaviour only: the policy's times are shortened, and the feeding polls
// the decoder's counters, so a slow machine only takes longer.
#include "app_runner.h"
#include "decoder.h"
#include "demuxer.h"
#include "framed_media_device.h"
#include "media_pipeline.h"
#include "message_decoder.h"
#include "stream_input.h"
#include "stream_stats.h"
#include "test_support.h"

#include <QBuffer>
#include <QCryptographicHash>
#include <QDir>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

#include <sys/resource.h>

extern "C" {
#include <libavutil/imgutils.h>
}

using namespace h264link;

namespace {

using Unit = testsupport::MediaUnit;

// ffmpeg's frames of the clip, in presentation order, on the sender's timeline.
QList<testsupport::FrameLine> referenceFrames(const QString &clip)
{
    const auto r = testsupport::ffmpeg({"-copyts", "-i", clip, "-map", "0:v:0", "-fps_mode", "passthrough",
                                        "-enc_time_base", "-1", "-f", "framemd5", "-"});
    return r.ok() ? testsupport::frameLines(r.out) : QList<testsupport::FrameLine>();
}

// Each frame's pts and the MD5 ffmpeg's framemd5 computes (the picture
// packed with alignment 1, in the decoder's pixel format).
class Md5Sink : public FrameSink {
public:
    bool push(const AVFrame *frame) override
    {
        const auto format = AVPixelFormat(frame->format);
        const int size = av_image_get_buffer_size(format, frame->width, frame->height, 1);
        m_buffer.resize(size);
        av_image_copy_to_buffer(reinterpret_cast<uint8_t *>(m_buffer.data()), size, frame->data,
                                frame->linesize, format, frame->width, frame->height, 1);
        frames.push_back({frame->pts, QString::fromLatin1(
                                          QCryptographicHash::hash(m_buffer, QCryptographicHash::Md5).toHex())});
        return true;
    }
    std::vector<std::pair<qint64, QString>> frames; // pts, md5

private:
    QByteArray m_buffer;
};

const QByteArray kDelimiter("\0\0\0\1\x09\xf0", 6);

// Every frame the decoder gave is ffmpeg's frame of the same pts, in
// ffmpeg's order; returns how many of ffmpeg's frames are missing.
int checkSubset(const std::vector<std::pair<qint64, QString>> &got, const QList<testsupport::FrameLine> &ref)
{
    int next = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const auto &[pts, md5] = got[i];
        int at = next;
        while (at < ref.size() && ref[at].ptsUs != pts)
            ++at;
        if (at == ref.size()) {
            qWarning("frame %zu (pts %lld) is not one of ffmpeg's frames after its previous one", i, qlonglong(pts));
            return -1;
        }
        if (ref[at].md5 != md5) {
            qWarning("frame %zu (pts %lld): md5 %s, ffmpeg's %s", i, qlonglong(pts), qPrintable(md5),
                     qPrintable(ref[at].md5));
            return -1;
        }
        next = at + 1;
    }
    return int(ref.size() - qsizetype(got.size()));
}

} // namespace

class TestAdaptiveDecoder : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void behindSkipsThenFrameThreadsThenRecovers_data();
    void behindSkipsThenFrameThreadsThenRecovers();
    void notLiveDecodesWithFrameThreads();
    void pipelineThreadsRunBelowTheOthers();

private:
    QTemporaryDir m_dir;
    QString m_clip;
    QList<Unit> m_units;
    QList<testsupport::FrameLine> m_reference;
    int m_frameCount = 0;
};

void TestAdaptiveDecoder::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_clip = m_dir.filePath("gop.mp4");
    // B-frames (some never referred to, so there is something to skip),
    // and an IDR every 25 frames for the reopenings.
    QCOMPARE(testsupport::makeClip(m_clip, "320x240", 25, 60.0,
                                   {"-bf", "2", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0"}),
             QString());
    QString error;
    m_units = testsupport::mediaUnitsOf(m_clip, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    m_reference = referenceFrames(m_clip);
    m_frameCount = testsupport::ffprobeFrameCount(m_clip);
    QVERIFY(m_frameCount > 0);
    QCOMPARE(m_reference.size(), qsizetype(m_frameCount));
    QCOMPARE(m_units.size(), qsizetype(m_frameCount));
}

void TestAdaptiveDecoder::behindSkipsThenFrameThreadsThenRecovers_data()
{
    QTest::addColumn<bool>("maySkip");
    QTest::newRow("may skip") << true;
    // Every frame asked for: frame threads only, which change no output.
    QTest::newRow("every frame") << false;
}

void TestAdaptiveDecoder::behindSkipsThenFrameThreadsThenRecovers()
{
    QFETCH(bool, maySkip);
    if (QThread::idealThreadCount() < 2) {
        if (testsupport::inCi()) // CI's machine has two cores: one is a broken runner, not a pass
            QFAIL("one core: the decoder has no frame threads to switch to");
        QSKIP("one core: the decoder has no frame threads to switch to");
    }
    // Mode changes: skipping on (if it may), frame threads, then back to
    // low delay with skipping off in one.
    const quint64 toFrameThreads = maySkip ? 2 : 1;
    StreamInput input(64 * 1024 * 1024);
    input.live = true;
    input.maySkip = maySkip;
    StreamStats stats(false);
    PipelineCounters counters;
    QString error;
    Md5Sink sink;
    std::atomic<int> demuxResult{1};
    std::unique_ptr<Demuxer> demuxer;
    std::unique_ptr<Decoder> decoder;
    // The Demuxer's open reads the first bytes: the pipeline opens on its
    // own thread, as MediaPipeline does.
    QThread *pipeline = QThread::create([&] {
        demuxer = Demuxer::open(input, counters, &error);
        if (demuxer)
            decoder = Decoder::open(demuxer->codecpar(), counters, &stats, &error);
        if (!decoder) {
            demuxResult = -1;
            return;
        }
        AdaptPolicy policy;
        policy.skipAfterUs = 50000;
        policy.threadsAfterUs = 100000;
        policy.recoverUs = 300000;
        decoder->setPolicy(policy);
        decoder->setInput(&input);
        decoder->addSink(&sink);
        demuxResult = demuxer->run(*decoder);
    });
    pipeline->start();

    // A few units ahead of the demuxer at most, each stamped as it is added:
    // arrived long ago while behind, now once the decoder has to catch up.
    bool fresh = false;
    int i = 0;
    int freshFrom = -1;
    auto feed = [&](qint64 arrival) {
        const qint64 id = stats.onAccessUnit(0, arrival, m_units[i].bytes.size());
        input.units.add(AccessUnitMark{input.bytes.bytesPushed(), m_units[i].ptsUs, id, false, arrival});
        input.bytes.push(m_units[i].bytes + kDelimiter);
    };
    // Polls (a fine grain, so that a fresh unit does not wait for the
    // test). Fresh units go one at a time (the parser holds one back until
    // the next one starts): their lag is then a frame's decoding, however
    // slow the machine.
    auto demuxerNear = [&] {
        const std::size_t ahead = fresh ? 2 : 4;
        QDeadlineTimer deadline(60000);
        while (input.units.pending() >= ahead && demuxResult == 1 && !deadline.hasExpired())
            QThread::usleep(100);
        return input.units.pending() < ahead && demuxResult == 1;
    };
    for (; i < m_units.size(); ++i) {
        QVERIFY2(demuxerNear(), qPrintable("the pipeline stopped or stalled: " + error));
        if (!fresh && counters.decoderSwitches >= toFrameThreads) {
            fresh = true;
            freshFrom = i;
        }
        if (fresh && counters.decoderSwitches >= toFrameThreads + 1) // back to low delay
            break;
        feed(fresh ? proto::nowMicros() : 1);
        if (fresh)
            QThread::usleep(2000); // a live source, 500 frames a second: the decoder keeps up
    }
    QVERIFY2(freshFrom >= 0, "the decoder never switched to frame threads before the clip ended");
    QVERIFY2(i < m_units.size(), "the decoder never returned to low delay before the clip ended");
    qInfo("behind for %d units, fresh from then on: back to low delay after %d more", freshFrom, i - freshFrom);
    const DecoderState mid = stats.report(proto::nowMicros()).decoder;
    QVERIFY(!mid.frameThreads);
    QVERIFY(!mid.skipping);
    // The rest of the clip, live as before.
    for (; i < m_units.size(); ++i) {
        QVERIFY2(demuxerNear(), qPrintable("the pipeline stopped or stalled: " + error));
        feed(proto::nowMicros());
        QThread::usleep(2000);
    }
    input.bytes.finish();
    QVERIFY(pipeline->wait(120000));
    delete pipeline;
    QCOMPARE(demuxResult.load(), 0);

    QCOMPARE(counters.decodeErrors.load(), quint64(0));
    QVERIFY(counters.decoderSwitches >= toFrameThreads + 1); // more only if this machine stalled
    QCOMPARE(counters.skippedByDecoder > 0, maySkip);
    QCOMPARE(counters.frames + counters.skippedByDecoder, quint64(m_frameCount));
    QCOMPARE(quint64(sink.frames.size()), counters.frames.load());
    QCOMPARE(checkSubset(sink.frames, m_reference), int(counters.skippedByDecoder));
    QCOMPARE(stats.report(proto::nowMicros()).decoder.skipped, counters.skippedByDecoder.load());
    QCOMPARE(stats.recordsHeld(), std::size_t(0)); // skipped records let go of, not lost
}

void TestAdaptiveDecoder::notLiveDecodesWithFrameThreads()
{
    StreamInput input(64 * 1024 * 1024);
    input.live = false; // --fast
    StreamStats stats(false);
    for (const Unit &u : m_units) {
        const qint64 id = stats.onAccessUnit(0, 1, u.bytes.size()); // long ago: it must not matter
        input.units.add(AccessUnitMark{input.bytes.bytesPushed(), u.ptsUs, id, false, 1});
        input.bytes.push(u.bytes + kDelimiter);
    }
    input.bytes.finish();

    PipelineCounters counters;
    QString error;
    auto demuxer = Demuxer::open(input, counters, &error);
    QVERIFY2(demuxer, qPrintable(error));
    auto decoder = Decoder::open(demuxer->codecpar(), counters, &stats, &error);
    QVERIFY2(decoder, qPrintable(error));
    decoder->setInput(&input);
    Md5Sink sink;
    decoder->addSink(&sink);
    QCOMPARE(demuxer->run(*decoder), 0);

    QVERIFY(decoder->frameThreads());
    const DecoderState state = stats.report(proto::nowMicros()).decoder;
    QVERIFY(state.frameThreads);
    QCOMPARE(state.threads, decoder->threadCount());
    QCOMPARE(state.threads, QThread::idealThreadCount()); // one per core, not FFmpeg's cores + 1
    qInfo("%d frame threads", state.threads);
    StatsReport report;
    report.decoder = state;
    const QJsonObject json = QJsonDocument::fromJson(report.toJson().toUtf8()).object(); // the --stats line
    QCOMPARE(json.value("decoder")["mode"].toString(), QStringLiteral("frame"));
    QCOMPARE(json.value("decoder")["threads"].toInt(), state.threads);
    QCOMPARE(counters.decoderSwitches.load(), quint64(0));
    QCOMPARE(counters.skippedByDecoder.load(), quint64(0));
    QCOMPARE(counters.decodeErrors.load(), quint64(0));
    QCOMPARE(qsizetype(sink.frames.size()), m_reference.size());
    QCOMPARE(checkSubset(sink.frames, m_reference), 0);
    QCOMPARE(stats.recordsHeld(), std::size_t(0));
}

// The nice value of each of this process's threads named `name` (a thread
// inherits its creator's name, so FFmpeg's decoder threads carry the
// pipeline's), from /proc/self/task/*/stat.
QList<int> niceOfThreads(const QString &name)
{
    QList<int> nice;
    const QDir tasks("/proc/self/task");
    for (const QString &tid : tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        const QByteArray comm = testsupport::readFile(tasks.filePath(tid + "/comm")).trimmed();
        if (QString::fromUtf8(comm) != name.left(15)) // the kernel keeps 15 characters
            continue;
        const QByteArray stat = testsupport::readFile(tasks.filePath(tid + "/stat"));
        // After "pid (comm) ", field 19 of proc(5) is the nice value.
        const QList<QByteArray> fields = stat.mid(stat.lastIndexOf(')') + 2).split(' ');
        if (fields.size() > 16)
            nice.append(fields[16].toInt());
    }
    return nice;
}

void TestAdaptiveDecoder::pipelineThreadsRunBelowTheOthers()
{
    auto input = std::make_shared<StreamInput>(64 * 1024 * 1024);
    input->live = false; // frame threads: several decoder threads to look at
    auto stats = std::make_shared<StreamStats>(false);
    for (const Unit &u : m_units) {
        const qint64 id = stats->onAccessUnit(0, 1, u.bytes.size());
        input->units.add(AccessUnitMark{input->bytes.bytesPushed(), u.ptsUs, id, false, 1});
        input->bytes.push(u.bytes + kDelimiter);
    }
    // Not finished yet: the pipeline waits for more, its threads alive.
    MediaPipeline pipeline(input, stats, nullptr, nullptr);
    QSignalSpy finished(&pipeline, &MediaPipeline::finished);
    pipeline.start();
    QTRY_VERIFY_WITH_TIMEOUT(pipeline.counters().frames > 0, 30000);
    errno = 0;
    const int base = getpriority(PRIO_PROCESS, 0);
    QCOMPARE(errno, 0);
    const QList<int> nice = niceOfThreads("media pipeline");
    qInfo() << "process nice" << base << "pipeline threads" << nice;
    // The pipeline thread, and with more than one core its decoder threads.
    QVERIFY(nice.size() >= (QThread::idealThreadCount() > 1 ? 2 : 1));
    for (int n : nice)
        QCOMPARE(n, std::min(base + MediaPipeline::kNice, 19));
    input->bytes.finish();
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 60000);
    const auto result = finished.at(0).at(0).value<PipelineResult>();
    QVERIFY2(result.ok, qPrintable(result.error));
    QCOMPARE(result.frames, quint64(m_frameCount));
    QCOMPARE(getpriority(PRIO_PROCESS, 0), base); // this thread's is untouched
}

QTEST_GUILESS_MAIN(TestAdaptiveDecoder)
#include "tst_adaptive_decoder.moc"
