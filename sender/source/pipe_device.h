// PipeDevice: a pipe's file descriptor (stdin for `sender -`) as a
// sequential QIODevice, for AvioBridge's sequential read path.
//
// QFile on a pipe will not do: its read() loops until it has filled the whole
// request (64 kB for the bridge), so a live producer's frames would wait for
// the next 64 kB to arrive. readData() here makes one read(2) and returns
// whatever the pipe holds; waitForReadyRead() sleeps in poll(2).
// The descriptor is not owned (stdin stays open).
//
// A producer that is alive but idle must not keep a Stop waiting: reads and
// waits poll in kSliceMs slices and give up, as an orderly end, once
// interrupt() was called (from any thread: the session's stop()).
#pragma once

#include <QIODevice>
#include <atomic>

namespace h264link {

class PipeDevice : public QIODevice {
    Q_OBJECT
public:
    static constexpr int kSliceMs = 100;

    explicit PipeDevice(int fd, QObject *parent = nullptr);
    // stdin is one per process, so is its reader: ends any PipeDevice's
    // blocked or next read. A new PipeDevice starts uninterrupted.
    static void interrupt() { s_interrupted.store(true); }
    static bool interrupted() { return s_interrupted.load(); }

    bool isSequential() const override { return true; }
    bool waitForReadyRead(int msecs) override;
    qint64 bytesAvailable() const override;

protected:
    // Blocks until the pipe has bytes, then returns them (at most maxSize);
    // -1 at the end of the pipe, on interrupt() or on a failure (errorString()
    // says which).
    qint64 readData(char *data, qint64 maxSize) override;
    qint64 writeData(const char *, qint64) override { return -1; }

private:
    bool waitReadable(int msecs); // false: interrupted, or nothing came in time
    static inline std::atomic<bool> s_interrupted{false};
    int m_fd;
    bool m_ended = false;
};

} // namespace h264link
