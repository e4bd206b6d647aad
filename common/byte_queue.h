// ByteQueue: the bounded, thread-safe hand-off of the receiver's elementary
// stream from its network thread (producer) to its pipeline thread (the
// consumer, AvioBridge's read_packet). A plain queue, not a QIODevice: the
// two sides are different threads, and QIODevice's API is not thread-safe.
//
// Bound and policy: `capacity` bytes. The producer is an event-loop thread
// that must never block, so push() always appends (at most one socket read
// past the bound) and the producer checks isFull() first; it stops reading
// its socket while full and resumes on drained(), emitted once the reader has
// emptied a full queue to half. Nothing is dropped, because a hole in an
// H.264 byte stream breaks every frame until the next keyframe; the wait
// becomes TCP backpressure instead. A producer that must stay live instead
// reads on past the bound and cuts what the reader has not reached with
// truncate(), at a point where the stream may restart (ReceiverConnection
// cuts at an access unit start, then pushes a keyframe).
//
// The reader blocks on a condition variable: it wakes for bytes, finish() or
// cancel(), never to poll.
#pragma once

#include <QByteArray>
#include <QMutex>
#include <QObject>
#include <QWaitCondition>

namespace h264link {

class ByteQueue : public QObject {
    Q_OBJECT
public:
    explicit ByteQueue(qsizetype capacity, QObject *parent = nullptr);

    // Producer side (any thread, never blocks). False once finished or
    // cancelled: the bytes were not queued.
    bool push(const QByteArray &bytes);
    bool isFull() const;
    // No more data: the reader drains what is queued, then sees the end.
    void finish();
    // Drops the queued bytes from stream offset `offset` on, so the next byte
    // pushed takes that offset: bytesPushed() becomes `offset`, and the
    // offsets the reader sees (packet->pos) stay continuous. False, and
    // nothing changes, if the reader has already read past `offset` or it is
    // beyond what was pushed.
    bool truncate(qint64 offset);

    // Consumer side. Blocks until at least one byte is there and copies up to
    // `size` bytes: returns how many, or 0 at the end (finished and drained),
    // or -1 once cancelled.
    int read(char *buffer, int size);
    // Any thread: wakes a blocked reader at once; queued bytes are discarded.
    void cancel();
    bool isCancelled() const;

    qsizetype capacity() const { return m_capacity; }
    qsizetype queuedBytes() const;
    // The stream offset of the next byte pushed: the bytes pushed since the
    // start, less those truncate() cut.
    qint64 bytesPushed() const;
    // The stream offset of the next byte the reader will get.
    qint64 readOffset() const;
    // How many times a blocked reader woke up (for tests: an idle reader must not).
    quint64 readerWakeups() const;

signals:
    // From the reader's thread, once a full queue has drained to half.
    void drained();

private:
    const qsizetype m_capacity;
    mutable QMutex m_mutex;
    QWaitCondition m_readable;
    QByteArray m_data;
    qsizetype m_readPos = 0;
    qint64 m_pushed = 0;
    quint64 m_wakeups = 0;
    bool m_finished = false;
    bool m_cancelled = false;
    bool m_wasFull = false;
};

} // namespace h264link
