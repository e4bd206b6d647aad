// StreamStats and ClockSync with synthetic times: the clock offset between
// two machines, and the one-second latency summaries.
#include "stream_stats.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

using namespace h264link;

class TestStreamStats : public QObject {
    Q_OBJECT
private slots:
    void clockOffsetFromTheShortestRoundTrip();
    void latenciesAcrossTwoClocks();
    void displayedFramesAndSkips();
    void jsonHasEveryField();
    void undisplayedFramesDoNotPileUp();
    void wholeStreamPercentilesStayBounded();
};

void TestStreamStats::clockOffsetFromTheShortestRoundTrip()
{
    // The sender's clock runs 5 s ahead of ours. One-way delays vary; the
    // sample with the shortest round trip (1 ms, symmetric) is the truth.
    ClockSync sync;
    const qint64 offset = 5'000'000;
    sync.addSample(1'000'000, 1'000'000 + 30'000 + offset, 1'000'000 + 31'000); // queued on the way there
    sync.addSample(2'000'000, 2'000'000 + 500 + offset, 2'000'000 + 1'000);     // 1 ms, symmetric
    sync.addSample(3'000'000, 3'000'000 + 100 + offset, 3'000'000 + 20'000);    // queued on the way back
    QCOMPARE(sync.rttUs(), 1000);
    QCOMPARE(sync.offsetUs(), offset);
}

void TestStreamStats::latenciesAcrossTwoClocks()
{
    StreamStats stats(false);
    const qint64 offset = -7'000'000; // the sender's clock is 7 s behind ours
    stats.onClockSample(0, 500 + offset, 1000);
    // 20 frames: 2 ms on the network, 3 ms to decode; the last one slow.
    for (int i = 0; i < 20; ++i) {
        const qint64 sent = 100'000 + i * 40'000;
        const qint64 arrived = sent + 2'000;
        const qint64 id = stats.onAccessUnit(sent + offset, arrived, 1000);
        QCOMPARE(id, qint64(i));
        stats.onDecoded(id, arrived + (i == 19 ? 50'000 : 3'000));
    }
    const StatsReport r = stats.report(1'000'000);
    QCOMPARE(r.network.medianMs, 2.0);
    QCOMPARE(r.decode.medianMs, 3.0);
    QCOMPARE(r.decode.p95Ms, 50.0); // the slow one is the top 5%
    QCOMPARE(r.endToEndDecoded.medianMs, 5.0);
    QCOMPARE(r.rttMs, 1.0);
    QCOMPARE(r.displayedFps, -1.0); // headless
    QCOMPARE(stats.report(2'000'000).network.medianMs, -1.0); // a new, empty window
}

void TestStreamStats::displayedFramesAndSkips()
{
    StreamStats stats(true);
    stats.onClockSample(0, 500, 1000); // same clock
    for (int i = 0; i < 4; ++i) {
        const qint64 id = stats.onAccessUnit(i * 10'000, i * 10'000 + 1'000, 100);
        stats.onDecoded(id, i * 10'000 + 2'000);
    }
    stats.onDisplayed(3, 40'000, 3); // frames 0..2 were replaced before display
    const StatsReport r = stats.report(1'000'000);
    QCOMPARE(r.endToEndDisplayed.medianMs, 10.0);
    QCOMPARE(r.skippedForDisplay, quint64(3));
    QVERIFY(r.displayedFps > 0);
    const QJsonObject summary =
        QJsonDocument::fromJson(stats.summaryJson().toUtf8()).object()["summary"].toObject();
    QCOMPARE(summary["frames_decoded"].toInt(), 4);
    QCOMPARE(summary["frames_displayed"].toInt(), 1);
    QCOMPARE(summary["skipped"].toObject()["display"].toInt(), 3);
}

void TestStreamStats::jsonHasEveryField()
{
    StreamStats stats(false);
    const QJsonObject o = QJsonDocument::fromJson(stats.report(1'000'000).toJson().toUtf8()).object();
    for (const char *key : {"t", "fps", "bitrate_kbps", "skipped", "decode_errors", "latency_ms", "rtt_ms"})
        QVERIFY2(o.contains(key), key);
    QVERIFY(o["skipped"].toObject().contains("sender"));
    QVERIFY(o["skipped"].toObject().contains("display"));
    const QJsonObject latency = o["latency_ms"].toObject();
    for (const char *key : {"network", "decode", "end_to_end_decoded", "end_to_end_displayed"})
        QVERIFY2(latency.contains(key), key);
    QVERIFY(o["rtt_ms"].isNull()); // no round trip yet: null, not a made-up 0
}

void TestStreamStats::undisplayedFramesDoNotPileUp()
{
    // A minimised window paints nothing for as long as the stream lasts:
    // its decoded frames' records must not accumulate.
    StreamStats stats(true);
    for (qint64 i = 0; i < 100'000; ++i)
        stats.onDecoded(stats.onAccessUnit(0, i * 10, 100), i * 10 + 5);
    QVERIFY2(stats.recordsHeld() <= 64, qPrintable(QString::number(stats.recordsHeld())));
    // and the newest is still there to be shown
    const qint64 last = stats.onAccessUnit(0, 2'000'000, 100);
    stats.onDecoded(last, 2'000'010);
    stats.onDisplayed(last, 2'000'020, 0);
    QCOMPARE(stats.recordsHeld(), std::size_t(0));
}

void TestStreamStats::wholeStreamPercentilesStayBounded()
{
    // A day-long stream keeps a uniform sample, not every frame: the summary's
    // percentiles still describe the whole stream. Latencies 1..10 ms, evenly.
    StreamStats stats(false);
    stats.onClockSample(0, 0, 0); // the two clocks agree
    const qint64 frames = 300'000;
    for (qint64 i = 0; i < frames; ++i) {
        const qint64 sent = i * 1000;
        const qint64 id = stats.onAccessUnit(sent, sent, 100);
        stats.onDecoded(id, sent + 1000 * (1 + i % 10));
    }
    const QJsonObject summary = QJsonDocument::fromJson(stats.summaryJson().toUtf8()).object()["summary"].toObject();
    const QJsonObject decoded = summary["latency_ms"].toObject()["end_to_end_decoded"].toObject();
    QCOMPARE(summary["frames_decoded"].toInt(), int(frames));
    QVERIFY2(qAbs(decoded["median"].toDouble() - 5.5) <= 0.6, qPrintable(QString::number(decoded["median"].toDouble())));
    QVERIFY2(qAbs(decoded["p95"].toDouble() - 10.0) <= 0.6, qPrintable(QString::number(decoded["p95"].toDouble())));
}

QTEST_GUILESS_MAIN(TestStreamStats)
#include "tst_stream_stats.moc"
