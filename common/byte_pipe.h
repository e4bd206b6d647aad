// A bounded, thread-safe byte queue whose read side is a sequential QIODevice.
//
// It joins two threads: a producer (the receiver's network thread) pushes the
// deframed elementary stream, and a consumer (the demux thread) reads it
// through AvioBridge, which blocks in waitForReadyRead() until bytes arrive.
//
// Bound and policy: push() BLOCKS while `capacity` bytes are queued; an
// event-loop producer uses isFull()/pushNoWait()/drained() to wait without
// blocking. Nothing is dropped here, because a hole in an H.264 byte stream
// breaks every frame until the next keyframe; the wait becomes TCP
// backpressure instead.
#pragma once

#include <QIODevice>
#include <QMutex>
#include <QWaitCondition>

namespace h264link {

class BytePipe : public QIODevice {
    Q_OBJECT
public:
    explicit BytePipe(qsizetype capacity, QObject *parent = nullptr);

    // Always opened unbuffered: QIODevice's own read-ahead buffer is not
    // thread-safe and would hide bytes from bytesAvailable() accounting.
    bool open(OpenMode mode) override;
    bool isSequential() const override { return true; }
    qint64 bytesAvailable() const override;
    bool waitForReadyRead(int msecs) override;

    // Producer side, callable from any thread. Returns false if the pipe was
    // aborted or finished (the bytes were not queued).
    bool push(const char *data, qsizetype size);
    bool push(const QByteArray &bytes) { return push(bytes.constData(), bytes.size()); }
    // For a producer that must not block (an event-loop thread): appends even
    // past the capacity, so check isFull() first and wait for drained().
    bool pushNoWait(const QByteArray &bytes);
    bool isFull() const;
    // No more data: the reader drains what is queued, then sees end of file.
    void finish();
    // Stop now: wakes a blocked producer and reader; queued bytes are discarded.
    // A reader that gives up says why, so the producer can tell its peer.
    void abort(const QString &reason = QString());
    QString abortReason() const; // "" unless aborted with a reason

    qsizetype capacity() const { return m_capacity; }

signals:
    // Emitted by the reader's thread when a full pipe has drained to half.
    void drained();
    // Emitted by whoever aborted the pipe (the reader: it is done, or gave up).
    void aborted();

public:
    qsizetype queuedBytes() const;
    bool isFinished() const;

protected:
    qint64 readData(char *data, qint64 maxSize) override;
    qint64 writeData(const char *data, qint64 size) override;

private:
    void appendLocked(const char *data, qsizetype size);

    const qsizetype m_capacity;
    mutable QMutex m_mutex;
    QWaitCondition m_readable;
    QWaitCondition m_writable;
    QByteArray m_data;
    qsizetype m_readPos = 0;
    bool m_finished = false;
    bool m_aborted = false;
    QString m_abortReason;
    bool m_wasFull = false;
};

} // namespace h264link
