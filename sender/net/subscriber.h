// Subscriber: one receiver of a fan-out stream (Broadcaster). It runs a
// SenderConnection as the one-to-one sender does (TLS-PSK, handshake,
// PING/PONG, END_OF_STREAM, RECEIVED), but its media come from a bounded
// queue of units the Broadcaster captured once. Its own thread dials, shakes
// hands and closes (blocking); while it streams, the connection is served by
// the Broadcaster's one SubscriberLoop thread (subscriber_loop.h says why):
//
//   Broadcaster::publish (stream thread) --push--> queue --> SubscriberLoop::service() --> SenderConnection
//
// The queue's bounds and policy (live; with --fast see kFastQueueBytes):
//  - soft, 500 ms (kSoftBoundMs): when the oldest waiting unit has waited
//    longer, the queue is cut to its newest keyframe (none waiting: emptied,
//    and units are dropped until the next keyframe comes); the frames cut are
//    counted as this receiver's skipped ones and go into its PONGs, and the
//    keyframe gets SPS/PPS in front. The receiver goes on, live.
//  - hard, 2 s of units or 32 MiB (kHardBoundMs, kHardBoundBytes): checked
//    as units arrive; with the soft bound live it is a safety net (--fast has
//    no soft bound). The receiver is dropped, told why (ERROR 12, dropped).
//  - silent for 10 s (kSilentMs: no message from it and no byte taken by
//    its kernel): dropped, told why (ERROR 12).
// The stream thread never waits for a subscriber (live): push() only appends
// under the lock, so a frozen receiver costs at most its bounds in memory.
#pragma once

#include "framed_media_device.h"
#include "protocol.h"
#include "sender_options.h"

#include <QElapsedTimer>
#include <QMutex>
#include <QString>
#include <QWaitCondition>
#include <QThread>
#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <poll.h>

namespace h264link {

class Broadcaster;
class SenderConnection;

// A unit as the stages made it, shared by every subscriber's queue (never
// copied, never changed).
struct SharedUnit {
    CapturedUnit unit;
    qint64 publishedMs = 0; // on the Broadcaster's clock
    bool isVideo() const { return unit.kind == CapturedUnit::Kind::Video; }
    qsizetype size() const { return unit.bytes.size() + unit.audio.data.size(); }
};
using UnitPtr = std::shared_ptr<const SharedUnit>;

class Subscriber : public QThread {
    Q_OBJECT
public:
    static constexpr qint64 kSoftBoundMs = 500;
    static constexpr qint64 kHardBoundMs = 2000;
    static constexpr qint64 kHardBoundBytes = 32 * 1024 * 1024;
    static constexpr qint64 kSilentMs = 10000;
    // --fast: the stream thread waits while a subscriber holds more than this
    // (paced by the slowest; every frame counts, nothing is skipped).
    static constexpr qint64 kFastQueueBytes = 4 * 1024 * 1024;

    // What --stats and the window show, read from any thread.
    struct Stats {
        int id = 0;
        QString name;    // as listed: its own, "NAME (2)" if another has it, else the address
        QString ownName; // as it calls itself (empty: an older receiver)
        QString address;
        QString state; // "connecting", "streaming", "ending", "done", "dropped", "left", "failed"
        double connectedSeconds = 0;
        qint64 lagMs = 0; // how long the oldest waiting unit has waited
        quint64 framesSent = 0;
        quint64 framesSkipped = 0;
        quint64 audioSkipped = 0;
        double bitRate = 0; // bits per second over the last second
    };

    // `adopted` >= 0: an accepted connection (--serve); else dial
    // options.host:options.port (and, with --retry, again when it fails).
    Subscriber(Broadcaster &broadcaster, SenderOptions options, qintptr adopted, int id);
    ~Subscriber() override;

    // ---- Stream thread (the Broadcaster)
    // Appends, applying the bounds; never blocks.
    void push(const UnitPtr &unit);
    // The end: what waits is sent, then END_OF_STREAM and the wait for RECEIVED.
    void endOfStream();
    // Session Stop: END_OF_STREAM at once, short waits.
    void stop();
    // Window: "Disconnect". Told why, then closed.
    void disconnectReceiver();

    // ---- Any thread
    Stats stats() const;
    qint64 queuedBytes() const;
    bool isStreaming() const { return m_streaming.load(); }
    // The first attempt is over: connected, or failed (host lists wait for it).
    bool settled() const { return m_settled.load(); }

    // ---- SubscriberLoop thread, while it streams
    enum class Outcome { Finished, Lost, Dropped };
    pollfd pollFd();
    // Hands the socket what the queue holds, as far as it takes it without
    // blocking; an outcome when this receiver's stream is over.
    std::optional<Outcome> service(short revents);
    // Gives the connection back to this subscriber's thread, with the outcome.
    void handBack(Outcome outcome);

    // ---- After the thread ended
    int exitCode() const { return m_exitCode; }
    QString message() const { return m_message; }
    std::optional<quint64> confirmed() const { return m_confirmed; }
    bool everStreamed() const { return m_everStreamed; }

protected:
    void run() override;

private:
    Outcome stream(SenderConnection &connection, QString *message);
    UnitPtr take(qint64 nowMs, bool *needParameterSets);
    void cutToNewestKeyframe();
    void countDropped(const SharedUnit &unit);
    void setState(const QString &state);

    Broadcaster &m_broadcaster;
    SenderOptions m_options; // host and port: this receiver's
    qintptr m_adopted;
    const int m_id;
    std::atomic<bool> m_stop{false};
    std::atomic<bool> m_streaming{false};
    std::atomic<bool> m_settled{false};
    std::atomic<quint64> m_skipped{0}; // video frames, into PONG too

    // A unit waiting, and since when (a joiner's GOP: since it joined).
    struct Waiting {
        UnitPtr unit;
        qint64 sinceMs = 0;
    };

    // The loop's while it streams: set before it goes there, read there only.
    SenderConnection *m_connection = nullptr;
    QString m_lostMessage; // service(): why it was Lost

    mutable QMutex m_lock; // guards everything below, up to the results
    QWaitCondition m_handedBack; // with m_outcome: the loop is done with the connection
    std::optional<Outcome> m_outcome;
    std::deque<Waiting> m_queue;
    qint64 m_queueBytes = 0;
    bool m_waitForKeyframe = false; // the soft bound emptied the queue
    bool m_needParameterSets = false; // a cut: the next keyframe gets SPS/PPS
    bool m_videoOnly = false; // a protocol-2 receiver: no AUDIO
    bool m_ended = false;
    bool m_disconnect = false;
    QString m_dropReason; // the hard bound was passed
    QString m_address;
    QString m_ownName;    // from its HELLO
    QString m_listedName; // the Broadcaster's answer
    QString m_state = QStringLiteral("connecting");
    QElapsedTimer m_connectedClock;
    quint64 m_framesSent = 0;
    quint64 m_audioSkipped = 0;
    quint64 m_bytesSent = 0;
    mutable quint64 m_bytesAtLastRate = 0; // stats(): the bit rate since its last call
    mutable qint64 m_rateAtMs = 0;
    mutable double m_bitRate = 0;

    int m_exitCode = 0;
    QString m_message;
    std::optional<quint64> m_confirmed;
    bool m_everStreamed = false;
};

} // namespace h264link
