// Broadcaster: the fan-out stage. The stages write each access unit and
// audio packet once into a capturing FramedMediaDevice (collector()); each
// becomes one immutable SharedUnit, pushed to every streaming Subscriber's
// bounded queue (subscriber.h has the bounds and the policy).
//
//   VideoStage / AudioStage --> collector() --capture--> publish() --> Subscriber 1..N
//                                                                 \-> the current GOP (for joiners)
//
// Join: a receiver that arrives mid-stream gets the current GOP at once (the
// latest keyframe and everything since, audio too, SPS/PPS in front of the
// keyframe), then the live units: its first picture needs no wait for the
// next keyframe, at the cost of a burst of up to one GOP, which its decoder
// works through faster than real time (chosen over waiting up to a GOP's
// length for the next keyframe: the picture comes at once). The GOP kept is
// bounded by kGopCacheBytes: a longer one is let go, and a joiner then
// waits for the next keyframe.
//
// Threads: publish(), addSubscriber(), endOfStream(), stats() on the stream
// thread only; join() and leave() from the subscribers' threads (under m_lock);
// the streaming itself on m_loop.
#pragma once

#include "net/subscriber.h"
#include "net/subscriber_loop.h"
#include "protocol.h"
#include "sender_options.h"

#include <QElapsedTimer>
#include <QList>
#include <QMutex>
#include <atomic>
#include <deque>
#include <memory>
#include <vector>

namespace h264link {

class Broadcaster {
public:
    static constexpr qint64 kGopCacheBytes = 16 * 1024 * 1024;

    explicit Broadcaster(const SenderOptions &options);
    ~Broadcaster(); // stops and joins every subscriber

    // The stages write here (its transport is never used).
    FramedMediaDevice &collector() { return m_collector; }
    // Before the first subscriber: what each receiver is told the stream is.
    void setStreamInfo(const proto::StreamInfo &info) { m_info = info; }

    // ---- Stream thread
    Subscriber *addSubscriber(const SenderOptions &options, qintptr adopted);
    // Subscribers streaming now (handshake done, not yet left).
    int streaming() const;
    int accepted() const { return int(m_subscribers.size()); }
    // --fast: the largest queue (paced by the slowest).
    qint64 slowestQueueBytes() const;
    // True once every subscriber's first attempt is over (host lists start then).
    bool allSettled() const;
    QList<Subscriber::Stats> stats() const;
    // Any thread: bumped whenever a subscriber's state, name or streaming
    // changes, so the stream thread's housekeeping reads stats() only then
    // (and once a second for the figures), not at every turn.
    quint64 changes() const { return m_changes.load(); }
    void noteChange() { m_changes.fetch_add(1); }
    void endOfStream(); // END_OF_STREAM to all, after what waits
    void stop();        // Stop: END_OF_STREAM to all at once
    void waitAll();
    const std::vector<std::unique_ptr<Subscriber>> &subscribers() const { return m_subscribers; }

    // ---- Subscriber threads
    // Joins the stream: false, with *refusal, when --max-receivers are
    // streaming already (ERROR 11, full). Else *gop gets the current GOP,
    // *sets the SPS/PPS for its keyframe, and *listedAs `name`, or, when a
    // receiver streaming now has it, "name (2)" (the lowest number free).
    bool join(Subscriber *subscriber, const QString &name, std::deque<UnitPtr> *gop, QByteArray *sets,
              proto::StreamInfo *info, QString *listedAs, QString *refusal);
    void leave(Subscriber *subscriber);
    QByteArray parameterSets() const;
    qint64 nowMs() const { return m_clock.elapsed(); }
    QThread *loopThread() { return &m_loop; }
    void addToLoop(Subscriber *subscriber) { m_loop.add(subscriber); }
    void wakeLoop() { m_loop.wake(); }

private:
    void publish(CapturedUnit &&unit);

    const SenderOptions &m_options;
    FramedMediaDevice m_collector;
    proto::StreamInfo m_info;
    QElapsedTimer m_clock;
    SubscriberLoop m_loop; // before m_subscribers: it outlives them
    std::vector<std::unique_ptr<Subscriber>> m_subscribers; // stream thread only

    std::atomic<quint64> m_changes{0};
    mutable QMutex m_lock; // guards what follows
    std::vector<Subscriber *> m_streaming;
    std::vector<QString> m_listedNames; // of m_streaming, index for index
    std::deque<UnitPtr> m_gop;
    qint64 m_gopBytes = 0;
    QByteArray m_parameterSets; // the latest SPS/PPS the stages wrote
};

} // namespace h264link
