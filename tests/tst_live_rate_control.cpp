// LiveRateControl's bound is in time: what is queued in the socket must
// reach the kernel within half a second. A link is played here as the bytes it takes
// from the queue per millisecond, on a clock the test drives, so each case
// is exact and takes no time. The end-to-end cases (a capped and a stalled
// link, a fast one that must skip nothing) are netns_faults, keeps_up_netns
// and bench/av_sync.py --stall.
#include "net/live_rate_control.h"

#include <QtTest>

using namespace h264link;

namespace {

// A sender writing `bytesPerFrame` every `frameMs` into a queue that a link
// drains at `linkBytesPerMs`; a keyframe every `gop` frames, `audioPerFrame`
// audio packets between frames.
struct Link {
    qint64 linkBytesPerMs;
    qint64 bytesPerFrame = 10'000;
    qint64 keyframeBytes = 0; // 0: as the others
    qint64 frameMs = 33;
    int gop = 30;
    // As the session does: a sample each time the link took bytes between
    // frames (SenderConnection::waitUntil's `drained`), not only one per packet.
    bool observeDrain = false;
    qint64 written = 0, handed = 0, nowMs = 0;
    void advance(qint64 ms, LiveRateControl *rate = nullptr)
    {
        for (qint64 i = 0; i < ms; ++i) {
            const bool took = handed < written && linkBytesPerMs > 0;
            handed = qMin(written, handed + linkBytesPerMs);
            ++nowMs;
            if (rate && observeDrain && took)
                rate->observe(nowMs, handed, queued());
        }
    }
    qint64 queued() const { return written - handed; }
};

struct Outcome {
    int sent = 0, skipped = 0, audioSkipped = 0;
    qint64 maxWaitMs = 0; // the longest a byte waited in the queue, as the link drained it
};

Outcome play(Link &link, LiveRateControl &rate, int frames, bool withAudio = false)
{
    Outcome out;
    std::deque<std::pair<qint64, qint64>> written; // (bytes in all, when)
    for (int f = 0; f < frames; ++f) {
        if (withAudio) {
            if (rate.admitAudio(link.nowMs, link.handed, link.queued(), true)) {
                link.written += 400;
                written.push_back({link.written, link.nowMs});
            } else {
                ++out.audioSkipped;
            }
        }
        const bool keyframe = f % link.gop == 0;
        if (rate.admit(link.nowMs, link.handed, link.queued(), keyframe)) {
            link.written += keyframe && link.keyframeBytes ? link.keyframeBytes : link.bytesPerFrame;
            written.push_back({link.written, link.nowMs});
            ++out.sent;
        } else {
            ++out.skipped;
        }
        link.advance(link.frameMs, &rate);
        while (!written.empty() && written.front().first <= link.handed) {
            out.maxWaitMs = qMax(out.maxWaitMs, link.nowMs - written.front().second);
            written.pop_front();
        }
    }
    return out;
}

} // namespace

class TestLiveRateControl : public QObject {
    Q_OBJECT
private slots:
    void fastLinkSkipsNothing();
    void slowLinkSkipsAndStaysBounded();
    void lowBitRateStallSkips();
    void soundSkipsWithTheVideo();
    void soundOnlyResumesWithoutKeyframe();
    void keyframeBurstsOnAFastLinkSkipNothing();
    void linkJustFasterThanTheVideoSkipsNothing();
    void slowLinkMeasuresBothRates();
    void diagnosisNamesTheCause();
};

// 300 kB/s of video on a link that takes 10 MB/s: never a skip, however
// much is sent (the old bound in bytes could trip on a fast link's bursts).
void TestLiveRateControl::fastLinkSkipsNothing()
{
    Link link{10'000};
    link.bytesPerFrame = 300'000; // 9 MB/s: a 4K stream
    LiveRateControl rate;
    const Outcome out = play(link, rate, 600);
    QCOMPARE(out.skipped, 0);
    QVERIFY2(out.maxWaitMs <= LiveRateControl::kMaxWaitMs, qPrintable(QString::number(out.maxWaitMs)));

    // A low bit rate with big keyframes: each keyframe's burst is a lot of
    // bytes next to what the video averages, and none next to the link.
    Link bursty{10'000};
    bursty.bytesPerFrame = 2'000;
    bursty.keyframeBytes = 400'000;
    LiveRateControl burstRate;
    QCOMPARE(play(bursty, burstRate, 600).skipped, 0);
}

// The link carries a third of the video: GOPs are skipped, and no byte waits
// much longer than the bound (a frame's interval and one frame's own send
// time past it at most).
void TestLiveRateControl::slowLinkSkipsAndStaysBounded()
{
    Link link{100}; // 100 kB/s against 300 kB/s of video
    LiveRateControl rate;
    const Outcome out = play(link, rate, 900);
    QVERIFY(out.skipped > 0);
    QVERIFY(out.sent > 0);
    const qint64 slack = link.frameMs + link.bytesPerFrame / link.linkBytesPerMs;
    QVERIFY2(out.maxWaitMs <= LiveRateControl::kMaxWaitMs + slack,
             qPrintable(QStringLiteral("a byte waited %1 ms").arg(out.maxWaitMs)));
}

// 3 kB/s of video (a still picture) and a link that stops for 4 s: a bound
// of 64 kB would take 20 s to fill; the bound in time skips within half a
// second, and the stream is live again at the next keyframe after the stall.
void TestLiveRateControl::lowBitRateStallSkips()
{
    Link link{1'000};
    link.bytesPerFrame = 100;
    LiveRateControl rate;
    QCOMPARE(play(link, rate, 60).skipped, 0);
    const qint64 speed = link.linkBytesPerMs;
    link.linkBytesPerMs = 0; // the stall
    const Outcome during = play(link, rate, 120);
    QVERIFY(during.skipped >= 120 - (LiveRateControl::kMaxWaitMs / link.frameMs + 1));
    link.linkBytesPerMs = speed;
    const Outcome after = play(link, rate, 90);
    QVERIFY2(after.skipped < link.gop + 1, qPrintable(QString::number(after.skipped)));
    QVERIFY(after.sent >= 90 - link.gop);
}

// While the video catches up its sound is skipped too, so the two resume
// together; on a link that keeps up no sound is skipped.
void TestLiveRateControl::soundSkipsWithTheVideo()
{
    Link fast{10'000};
    LiveRateControl keepsUp;
    QCOMPARE(play(fast, keepsUp, 300, true).audioSkipped, 0);
    Link slow{100};
    LiveRateControl rate;
    const Outcome out = play(slow, rate, 900, true);
    QVERIFY(out.skipped > 0);
    QVERIFY(out.audioSkipped > 0);
}

void TestLiveRateControl::soundOnlyResumesWithoutKeyframe()
{
    LiveRateControl rate;
    qint64 now = 0, written = 0;
    QVERIFY(rate.admitAudio(now, 0, 0, false));
    written = 400;
    now = LiveRateControl::kMaxWaitMs + 1; // nothing drained for longer than the bound
    QVERIFY(!rate.admitAudio(now, 0, written, false));
    now += 10; // drained: the next packet goes
    QVERIFY(rate.admitAudio(now, written, 0, false));
}

// 2160p60 at 110 Mbit/s on a gigabit link: 230 kB every 16 ms, 2 MB
// keyframes, and the link idle most of the time. Sampled as the session
// samples it, the idle gaps are not busy time and no burst looks like a
// backlog.
void TestLiveRateControl::keyframeBurstsOnAFastLinkSkipNothing()
{
    Link link{125'000}; // 1 Gbit/s
    link.observeDrain = true;
    link.frameMs = 16;
    link.gop = 60;
    link.bytesPerFrame = 230'000;
    link.keyframeBytes = 2'000'000;
    LiveRateControl rate;
    const Outcome out = play(link, rate, 600);
    QCOMPARE(out.skipped, 0);
    QCOMPARE(rate.episodes(), quint64(0));
}

// A link a quarter faster than the video's average, with keyframes ten
// times a frame: each keyframe queues for a while, never half a second.
void TestLiveRateControl::linkJustFasterThanTheVideoSkipsNothing()
{
    Link link{0};
    link.observeDrain = true;
    link.frameMs = 16;
    link.gop = 60;
    link.bytesPerFrame = 100'000;
    link.keyframeBytes = 1'000'000;
    const qint64 averagePerMs = (59 * link.bytesPerFrame + link.keyframeBytes) / (60 * link.frameMs);
    link.linkBytesPerMs = averagePerMs * 5 / 4;
    LiveRateControl rate;
    const Outcome out = play(link, rate, 900);
    QCOMPARE(out.skipped, 0);
    QVERIFY2(out.maxWaitMs < LiveRateControl::kMaxWaitMs, qPrintable(QString::number(out.maxWaitMs)));
}

// The rates the skip message names are the link's and the video's, as the
// simulation sets them (within a tenth: the windows' edges).
void TestLiveRateControl::slowLinkMeasuresBothRates()
{
    Link link{100}; // 100 kB/s
    link.observeDrain = true;
    LiveRateControl rate;
    const Outcome out = play(link, rate, 900);
    QVERIFY(out.skipped > 0);
    QVERIFY(rate.episodes() > 0);
    const double linkRate = link.linkBytesPerMs * 1000.0;
    const double videoRate = link.bytesPerFrame * 1000.0 / link.frameMs;
    QVERIFY2(qAbs(rate.linkBytesPerSecond() - linkRate) <= linkRate / 10,
             qPrintable(QStringLiteral("link %1 B/s, measured %2").arg(linkRate).arg(rate.linkBytesPerSecond())));
    QVERIFY2(qAbs(rate.videoBytesPerSecond() - videoRate) <= videoRate / 10,
             qPrintable(QStringLiteral("video %1 B/s, measured %2").arg(videoRate).arg(rate.videoBytesPerSecond())));
}

void TestLiveRateControl::diagnosisNamesTheCause()
{
    using Cause = SlowLink::Cause;
    const qint64 link = 2'500'000, video = 9'375'000; // 20 and 75 Mbit/s
    const TcpLimits receiverFull{1'000'000, 600'000, 0};
    QCOMPARE(diagnoseSlowLink(link, video, &receiverFull).cause, Cause::Receiver);
    const TcpLimits bufferFull{1'000'000, 0, 900'000};
    QCOMPARE(diagnoseSlowLink(link, video, &bufferFull).cause, Cause::SendBuffer);
    const TcpLimits linkBusy{1'000'000, 10'000, 0, quint64(link) * 11 / 10};
    const SlowLink slow = diagnoseSlowLink(link, video, &linkBusy);
    QCOMPARE(slow.cause, Cause::Link);
    const QString linkMbit = QString::number(link * 8 / 1e6, 'f', 1), videoMbit = QString::number(video * 8 / 1e6, 'f', 1);
    QVERIFY2(slow.sentence.contains(linkMbit + " Mbit/s") && slow.sentence.contains(videoMbit + " Mbit/s"),
             qPrintable(slow.sentence));
    QCOMPARE(diagnoseSlowLink(link, video, nullptr).cause, Cause::Link); // no TCP_INFO: the rates alone
    QCOMPARE(diagnoseSlowLink(0, video, &linkBusy).cause, Cause::Stalled);
    // The kernel delivered less than the drain (its first gulp): its rate is named.
    const TcpLimits startOfLink{1'000'000, 10'000, 0, quint64(link) / 2};
    const QString halfMbit = QString::number(link / 2 * 8 / 1e6, 'f', 1);
    QVERIFY2(diagnoseSlowLink(link, video, &startOfLink).sentence.contains("about " + halfMbit + " Mbit/s"),
             qPrintable(diagnoseSlowLink(link, video, &startOfLink).sentence));
    // A shaped link's burst: one delivery sample at three times the drain is still the link.
    const TcpLimits burst{1'000'000, 10'000, 0, quint64(link) * 3};
    QCOMPARE(diagnoseSlowLink(link, video, &burst).cause, Cause::Link);
    // The link delivered twenty times what the sender wrote: not the link.
    const TcpLimits senderStarved{1'000'000, 10'000, 0, quint64(link) * 20, 0};
    QCOMPARE(diagnoseSlowLink(link, video, &senderStarved).cause, Cause::Sender);
    // ... unless the kernel still holds unsent bytes: it waits for the link
    // (a stall after a fast sample), not for us.
    const TcpLimits stalled{1'000'000, 10'000, 0, quint64(link) * 20, 128 * 1024};
    QCOMPARE(diagnoseSlowLink(link, video, &stalled).cause, Cause::Link);
}

QTEST_APPLESS_MAIN(TestLiveRateControl)
#include "tst_live_rate_control.moc"
