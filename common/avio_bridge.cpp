#include "avio_bridge.h"

#include "byte_queue.h"
#include "logging.h"

#include <QAbstractSocket>
#include <QCoreApplication>
#include <QFileDevice>
#include <QIODevice>
#include <sys/socket.h>
#include <utility>

extern "C" {
#include <libavutil/error.h>
#include <libavutil/mem.h>
}

namespace h264link {
namespace {

// Adds the time its scope lasts to *blockedUs, if that is measuring (>= 0).
class WaitTimer {
public:
    explicit WaitTimer(qint64 &blockedUs)
        : m_blockedUs(blockedUs), m_startUs(blockedUs >= 0 ? trace::Tracer::nowUs() : 0)
    {
    }
    ~WaitTimer()
    {
        if (m_blockedUs >= 0)
            m_blockedUs += trace::Tracer::nowUs() - m_startUs;
    }
    WaitTimer(const WaitTimer &) = delete;
    WaitTimer &operator=(const WaitTimer &) = delete;

private:
    qint64 &m_blockedUs;
    const qint64 m_startUs;
};

} // namespace

std::unique_ptr<AvioBridge> AvioBridge::create(QIODevice *device, Direction direction,
                                               QString *error, int bufferSize)
{
    const bool reading = direction == Direction::Read;
    if (!device || !(reading ? device->isReadable() : device->isWritable())) {
        *error = QStringLiteral("AvioBridge: the device must be open for %1")
                     .arg(reading ? "reading" : "writing");
        return nullptr;
    }
    return make(device, nullptr, direction, error, bufferSize);
}

std::unique_ptr<AvioBridge> AvioBridge::create(ByteQueue *queue, QString *error, int bufferSize)
{
    if (!queue) {
        *error = QStringLiteral("AvioBridge: no queue to read");
        return nullptr;
    }
    return make(nullptr, queue, Direction::Read, error, bufferSize);
}

std::unique_ptr<AvioBridge> AvioBridge::make(QIODevice *device, ByteQueue *queue, Direction direction,
                                             QString *error, int bufferSize)
{
    const bool reading = direction == Direction::Read;
    // libavformat may replace this buffer (e.g. when probing needs more), so
    // the destructor frees whatever ctx->buffer is then, never this pointer.
    auto *buffer = static_cast<unsigned char *>(av_malloc(size_t(bufferSize)));
    if (!buffer) {
        *error = QStringLiteral("AvioBridge: out of memory allocating %1 bytes").arg(bufferSize);
        return nullptr;
    }
    std::unique_ptr<AvioBridge> bridge(new AvioBridge(device, queue, direction));
    const bool seekable = device && !device->isSequential();
    bridge->m_ctx = avio_alloc_context(buffer, bufferSize, reading ? 0 : 1, bridge.get(),
                                       reading ? &AvioBridge::readPacket : nullptr,
                                       reading ? nullptr : &AvioBridge::writePacket,
                                       &AvioBridge::seekPacket);
    if (!bridge->m_ctx) {
        av_free(buffer);
        *error = QStringLiteral("AvioBridge: avio_alloc_context failed (out of memory)");
        return nullptr;
    }
    // Formats check this before they try to seek; a socket must say "no".
    bridge->m_ctx->seekable = seekable ? AVIO_SEEKABLE_NORMAL : 0;
    return bridge;
}

AvioBridge::AvioBridge(QIODevice *device, ByteQueue *queue, Direction direction)
    : m_device(device), m_queue(queue), m_direction(direction)
{
}

AvioBridge::~AvioBridge()
{
    if (m_ctx) {
        av_freep(&m_ctx->buffer); // possibly not the buffer we allocated
        avio_context_free(&m_ctx);
    }
}

void AvioBridge::cancel()
{
    m_cancelled.store(true);
    if (m_queue)
        m_queue->cancel();
    // A reader blocked in a socket's waitForReadyRead() sleeps in poll() on
    // its descriptor, on its own thread, where no Qt call can reach it.
    // Shutting the descriptor's read side down is safe from any thread and
    // makes that poll() return at once; the read then sees the cancel.
    if (const auto *socket = qobject_cast<const QAbstractSocket *>(m_device)) {
        const qintptr fd = socket->socketDescriptor();
        if (fd >= 0)
            ::shutdown(int(fd), SHUT_RD);
    }
}

// The callbacks: straight through, or measured and recorded when traced.
int AvioBridge::readPacket(void *opaque, uint8_t *buf, int size)
{
    auto *bridge = static_cast<AvioBridge *>(opaque);
    if (!bridge->m_traced || !trace::Tracer::enabled())
        return bridge->read(buf, size);
    const qint64 startUs = trace::Tracer::nowUs();
    bridge->m_blockedUs = 0;
    const int ret = bridge->read(buf, size);
    bridge->traceCall(trace::Call::ReadPacket, size, -1, ret, startUs);
    return ret;
}

#if LIBAVFORMAT_VERSION_MAJOR >= 61
int AvioBridge::writePacket(void *opaque, const uint8_t *buf, int size)
#else
int AvioBridge::writePacket(void *opaque, uint8_t *buf, int size)
#endif
{
    auto *bridge = static_cast<AvioBridge *>(opaque);
    if (!bridge->m_traced || !trace::Tracer::enabled())
        return bridge->write(buf, size);
    const qint64 startUs = trace::Tracer::nowUs();
    bridge->m_blockedUs = 0;
    const int ret = bridge->write(buf, size);
    bridge->traceCall(trace::Call::WritePacket, size, -1, ret, startUs);
    return ret;
}

int64_t AvioBridge::seekPacket(void *opaque, int64_t offset, int whence)
{
    auto *bridge = static_cast<AvioBridge *>(opaque);
    if (!bridge->m_traced || !trace::Tracer::enabled())
        return bridge->seek(offset, whence);
    const qint64 startUs = trace::Tracer::nowUs();
    const int64_t ret = bridge->seek(offset, whence);
    bridge->m_blockedUs = 0; // a seek never waits for data
    bridge->traceCall(trace::Call::Seek, whence, offset, ret, startUs);
    return ret;
}

void AvioBridge::traceCall(trace::Call call, int size, qint64 offset, qint64 result, qint64 startUs)
{
    trace::IoCall record;
    record.timeUs = startUs;
    record.context = m_traceContext;
    record.call = call;
    record.size = size;
    record.offset = offset;
    record.result = result;
    record.blockedUs = std::exchange(m_blockedUs, -1);
    record.caller = trace::CallerScope::current();
    record.probing = !m_steady;
    trace::Tracer::instance().record(record);
}

// read_packet contract: return > 0 bytes, AVERROR_EOF, or another AVERROR.
// Never 0: libavformat would treat it as "try again" and spin.
int AvioBridge::read(uint8_t *buf, int size)
{
    if (m_cancelled.load())
        return AVERROR_EXIT;
    if (m_queue)
        return readQueue(buf, size);
    if (m_device->isSequential())
        return readSequential(buf, size);

    const qint64 n = m_device->read(reinterpret_cast<char *>(buf), size);
    if (n > 0) {
        m_bytesTransferred += n;
        return int(n);
    }
    if (n == 0)
        return AVERROR_EOF; // a file or buffer at its end
    m_lastDeviceError = m_device->errorString();
    qCWarning(lcBridge) << "read failed:" << m_lastDeviceError;
    return AVERROR(EIO);
}

int AvioBridge::readQueue(uint8_t *buf, int size)
{
    int n = 0;
    {
        WaitTimer wait(m_blockedUs); // read() blocks until bytes come
        n = m_queue->read(reinterpret_cast<char *>(buf), size);
    }
    if (n > 0) {
        m_bytesTransferred += n;
        return n;
    }
    return n == 0 ? AVERROR_EOF : AVERROR_EXIT;
}

// A socket or pipe: hand over whatever is there (at least one byte, without
// waiting to fill `buf`, which would add latency), else block until the
// device has something to say. No timeout and no polling: an idle reader
// sleeps in waitForReadyRead() until data, a close, an error or cancel()
// wakes it. A sequential device must therefore implement waitForReadyRead()
// (Qt's sockets, QProcess and QLocalSocket do; QFile's read() blocks by itself).
int AvioBridge::readSequential(uint8_t *buf, int size)
{
    for (;;) {
        if (!m_device->isOpen())
            return AVERROR_EOF; // closed on this side
        const qint64 n = m_device->read(reinterpret_cast<char *>(buf), size);
        if (n > 0) {
            m_bytesTransferred += n;
            return int(n);
        }
        if (n < 0)
            return endOrError();
        if (m_cancelled.load())
            return AVERROR_EXIT;
        bool ready = false;
        {
            WaitTimer wait(m_blockedUs);
            ready = m_device->waitForReadyRead(-1);
        }
        if (!ready && m_device->bytesAvailable() == 0) {
            if (m_cancelled.load())
                return AVERROR_EXIT;
            return endOrError();
        }
    }
}

// Qt says -1 (or that there is nothing to wait for) both at an orderly end
// and after a failure; the device's error tells which. A socket's peer that
// closed cleanly is RemoteHostClosedError; anything else it reports (a
// reset, a timeout) is a failure, not the end of the stream.
int AvioBridge::endOrError()
{
    bool failed = false;
    if (const auto *socket = qobject_cast<const QAbstractSocket *>(m_device)) {
        const auto e = socket->error();
        failed = e != QAbstractSocket::UnknownSocketError && e != QAbstractSocket::RemoteHostClosedError;
    } else if (const auto *file = qobject_cast<const QFileDevice *>(m_device)) {
        failed = file->error() != QFileDevice::NoError;
    } else {
        // A plain QIODevice has no error code, only a string that reads
        // "Unknown error" until the device sets one.
        static const QString kNoError = QCoreApplication::translate("QIODevice", "Unknown error");
        failed = m_device->errorString() != kNoError;
    }
    if (!failed)
        return AVERROR_EOF;
    m_lastDeviceError = m_device->errorString();
    qCWarning(lcBridge) << "read failed:" << m_lastDeviceError;
    return AVERROR(EIO);
}

// write_packet contract: every byte is written, or an error is returned.
int AvioBridge::write(const uint8_t *buf, int size)
{
    const char *data = reinterpret_cast<const char *>(buf);
    qint64 done = 0;
    while (done < size) {
        if (m_cancelled.load())
            return AVERROR_EXIT;
        qint64 n = 0;
        {
            WaitTimer wait(m_blockedUs); // a framing device may wait for its transport's bound
            n = m_device->write(data + done, size - done);
        }
        if (n <= 0) {
            m_lastDeviceError = m_device->errorString();
            qCWarning(lcBridge) << "write failed after" << done << "of" << size
                                << "bytes:" << m_lastDeviceError;
            return AVERROR(EIO);
        }
        done += n;
    }
    m_bytesTransferred += done;
    return size;
}

int64_t AvioBridge::seek(int64_t offset, int whence)
{
    if (!m_device || m_device->isSequential())
        return AVERROR(ESPIPE); // also for AVSEEK_SIZE: a stream has no size

    whence &= ~AVSEEK_FORCE; // a hint that seeking is cheap; it is, for a file
    if (whence == AVSEEK_SIZE)
        return m_device->size();

    qint64 target = 0;
    switch (whence) {
    case SEEK_SET: target = offset; break;
    case SEEK_CUR: target = m_device->pos() + offset; break;
    case SEEK_END: target = m_device->size() + offset; break;
    default: return AVERROR(EINVAL);
    }
    if (target < 0)
        return AVERROR(EINVAL);
    if (!m_device->seek(target)) {
        m_lastDeviceError = m_device->errorString();
        return AVERROR(EIO);
    }
    return target;
}

} // namespace h264link
