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
// QTcpSocket that must be the socket's own thread; to read a socket owned by
// another thread, put a BytePipe between them.
#pragma once

#include <QString>
#include <atomic>
#include <memory>

extern "C" {
#include <libavformat/avio.h>
}

class QIODevice;

namespace h264link {

class AvioBridge {
public:
    enum class Direction { Read, Write };
    static constexpr int kDefaultBufferSize = 64 * 1024;
    // How long a blocked read sleeps between checks for cancel(). It bounds
    // cancel latency, and keeps an idle reader from spinning.
    static constexpr int kPollIntervalMs = 20;

    // Returns nullptr and sets *error if the device is not open in the mode
    // `direction` needs, or if FFmpeg cannot allocate the context.
    static std::unique_ptr<AvioBridge> create(QIODevice *device, Direction direction,
                                              QString *error,
                                              int bufferSize = kDefaultBufferSize);
    ~AvioBridge();
    AvioBridge(const AvioBridge &) = delete;
    AvioBridge &operator=(const AvioBridge &) = delete;

    AVIOContext *context() const { return m_ctx; }
    QIODevice *device() const { return m_device; }

    // Makes a blocked or future read return AVERROR_EXIT, from any thread,
    // within kPollIntervalMs.
    void cancel() { m_cancelled.store(true); }
    bool isCancelled() const { return m_cancelled.load(); }

    // What the device said when a callback last failed, for error messages:
    // libavformat only passes on the AVERROR code.
    QString lastDeviceError() const { return m_lastDeviceError; }
    qint64 bytesTransferred() const { return m_bytesTransferred; }

private:
    AvioBridge(QIODevice *device, Direction direction);

    int read(uint8_t *buf, int size);
    int readSequential(uint8_t *buf, int size);
    int write(const uint8_t *buf, int size);
    int64_t seek(int64_t offset, int whence);
    void waitForData();

    static int readPacket(void *opaque, uint8_t *buf, int size);
#if LIBAVFORMAT_VERSION_MAJOR >= 61
    static int writePacket(void *opaque, const uint8_t *buf, int size);
#else
    static int writePacket(void *opaque, uint8_t *buf, int size);
#endif
    static int64_t seekPacket(void *opaque, int64_t offset, int whence);

    QIODevice *m_device;
    Direction m_direction;
    AVIOContext *m_ctx = nullptr;
    std::atomic<bool> m_cancelled{false};
    QString m_lastDeviceError;
    qint64 m_bytesTransferred = 0;
};

} // namespace h264link
