// AvioBridge: any QIODevice as an AVIOContext, for reading or for writing.
//
//   QFile/QBuffer  --read_packet/seek-->  AVIOContext --> avformat_open_input
//   av_write_frame --> AVIOContext --write_packet-->  QBuffer/QTcpSocket/...
//
// Ownership: the bridge owns its AVIOContext and the context's buffer; it does
// not own the device, which must outlive it. Destroy the AVFormatContext that
// uses context() first (declare the bridge before it), because
// avformat_close_input() never frees a custom pb.
//
// Threads: the callbacks run on the thread that calls into libavformat. For a
// QTcpSocket that must be the socket's own thread; to read bytes that another
// thread receives, put a ByteQueue between them and read it directly
// (create(ByteQueue *)), which is thread-safe and wakes at once on cancel().
//
// Ends: read_packet returns AVERROR_EOF only at a clean end (end of a file,
// a peer's orderly close, a finished queue). A device that fails gives
// AVERROR(EIO), with its errorString() kept in lastDeviceError(); a
// cancelled read gives AVERROR_EXIT.
//
// Tracing (common/io_trace.h): a bridge given a context with
// setTraceContext() records every callback while Tracer::enabled(); with
// tracing off a callback costs one relaxed atomic load more.
#pragma once

#include "io_trace.h"

#include <QString>
#include <atomic>
#include <memory>

extern "C" {
#include <libavformat/avio.h>
}

class QIODevice;

namespace h264link {
class ByteQueue;
}

namespace h264link {

class AvioBridge {
public:
    enum class Direction { Read, Write };
    static constexpr int kDefaultBufferSize = 64 * 1024;
    // Returns nullptr and sets *error if the device is not open in the mode
    // `direction` needs, or if FFmpeg cannot allocate the context.
    static std::unique_ptr<AvioBridge> create(QIODevice *device, Direction direction,
                                              QString *error,
                                              int bufferSize = kDefaultBufferSize);
    // Reads `queue` (which must outlive the bridge): the receiver's hand-off
    // between its network and pipeline threads.
    static std::unique_ptr<AvioBridge> create(ByteQueue *queue, QString *error,
                                              int bufferSize = kDefaultBufferSize);
    ~AvioBridge();
    AvioBridge(const AvioBridge &) = delete;
    AvioBridge &operator=(const AvioBridge &) = delete;

    AVIOContext *context() const { return m_ctx; }
    QIODevice *device() const { return m_device; }

    // Makes a future read return AVERROR_EXIT, from any thread. A read
    // blocked on a ByteQueue or in a socket's waitForReadyRead() wakes at
    // once (the socket's read side is shut down: it reads nothing more);
    // one blocked on another device sees it when the device wakes.
    void cancel();
    bool isCancelled() const { return m_cancelled.load(); }

    // What the device said when a callback last failed, for error messages:
    // libavformat only passes on the AVERROR code.
    QString lastDeviceError() const { return m_lastDeviceError; }
    qint64 bytesTransferred() const { return m_bytesTransferred; }

    // Which context its trace records name; a bridge without one records nothing.
    void setTraceContext(trace::Context context) { m_traceContext = context; m_traced = true; }
    // The header/probe phase is over: the owner calls this right before its
    // first av_read_frame / av_write_frame (callbacks' thread). Until then the
    // records are marked probing.
    void markSteady() { m_steady = true; }

private:
    AvioBridge(QIODevice *device, ByteQueue *queue, Direction direction);
    static std::unique_ptr<AvioBridge> make(QIODevice *device, ByteQueue *queue, Direction direction,
                                            QString *error, int bufferSize);

    int read(uint8_t *buf, int size);
    int readSequential(uint8_t *buf, int size);
    int write(const uint8_t *buf, int size);
    int64_t seek(int64_t offset, int whence);
    int readQueue(uint8_t *buf, int size);
    int endOrError(); // a sequential device that has nothing more to give
    void traceCall(trace::Call call, int size, qint64 offset, qint64 result, qint64 startUs);

    static int readPacket(void *opaque, uint8_t *buf, int size);
#if LIBAVFORMAT_VERSION_MAJOR >= 61
    static int writePacket(void *opaque, const uint8_t *buf, int size);
#else
    static int writePacket(void *opaque, uint8_t *buf, int size);
#endif
    static int64_t seekPacket(void *opaque, int64_t offset, int whence);

    QIODevice *m_device = nullptr;
    ByteQueue *m_queue = nullptr;
    Direction m_direction;
    AVIOContext *m_ctx = nullptr;
    std::atomic<bool> m_cancelled{false};
    QString m_lastDeviceError;
    qint64 m_bytesTransferred = 0;
    bool m_traced = false;
    trace::Context m_traceContext{};
    bool m_steady = false;
    // While a traced callback runs: microseconds spent waiting for the device
    // or the queue; -1 when not measuring (tracing off), so no clock is read.
    qint64 m_blockedUs = -1;
};

} // namespace h264link
