// AvioBridge over sequential sources: a ByteQueue between threads, a real
// QTcpSocket, and FramedMediaDevice on a socket carrying a whole H.264 stream.
#include "avio_bridge.h"
#include "byte_queue.h"
#include "ffmpeg_raii.h"
#include "framed_media_device.h"
#include "test_support.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFile>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <cstring>
#include <ctime>
#include <thread>
#include <unistd.h>

using namespace h264link;
using namespace std::chrono_literals;

namespace {

QByteArray readPartial(AVIOContext *ctx, int *ret)
{
    uint8_t buf[4096];
    *ret = avio_read_partial(ctx, buf, sizeof buf);
    return *ret > 0 ? QByteArray(reinterpret_cast<char *>(buf), *ret) : QByteArray();
}

qint64 threadCpuMicros()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return qint64(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// Whether thread `tid` of this process sleeps (blocked in a wait): the state
// field of /proc/self/task/TID/stat.
bool isAsleep(pid_t tid)
{
    QFile stat(QStringLiteral("/proc/self/task/%1/stat").arg(tid));
    if (!stat.open(QIODevice::ReadOnly))
        return false;
    const QByteArray fields = stat.readAll();
    const qsizetype end = fields.lastIndexOf(')'); // after the command name, which may hold spaces
    return end > 0 && end + 2 < fields.size() && (fields[end + 2] == 'S' || fields[end + 2] == 'D');
}

// Waits (up to 5 s) until thread `tid` has started its `n`th read, counted
// in `reads`, and sleeps in it: a producer then knows the reader is blocked,
// instead of guessing it from a sleep of its own.
bool waitUntilAsleepInRead(pid_t tid, const std::atomic<int> &reads, int n)
{
    QDeadlineTimer deadline(5000);
    while (reads.load() < n || !isAsleep(tid)) {
        if (deadline.hasExpired())
            return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

// Reads through the bridge until end of file; returns all bytes.
QByteArray readToEnd(AVIOContext *ctx, int *lastRet)
{
    QByteArray all;
    for (;;) {
        const QByteArray piece = readPartial(ctx, lastRet);
        if (*lastRet <= 0)
            return all;
        all += piece;
    }
}

} // namespace

class TestSequentialBridge : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void queueBlocksResumesAndEnds();
    void readPacketNeverReturnsZero();
    void cancelWakesTheReaderAtOnce();
    void finishedQueueRefusesMore();
    void idleReaderMakesNoWakeups();
    void seekIsRefusedOnSequentialDevices();
    void queueIsBoundedAndSaysWhenDrained();
    void deviceFailingMidReadIsAnErrorNotTheEnd();
    void tcpSocketBlocksResumesAndEnds();
    void cancelWakesAReaderBlockedOnASocket();
    void framedSocketCarriesTheExactStream();
    void framedSocketDemuxesEveryPacket();

private:
    QTemporaryDir m_dir;
    QString m_clip;
};

void TestSequentialBridge::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_clip = m_dir.filePath("clip.mp4");
    QCOMPARE(testsupport::makeClip(m_clip, "320x240", 25, 2.0), QString());
}

void TestSequentialBridge::queueBlocksResumesAndEnds()
{
    ByteQueue queue(1 << 20);
    QString error;
    auto bridge = AvioBridge::create(&queue, &error);
    QVERIFY2(bridge, qPrintable(error));

    // Each step only once the reader sleeps in its next read.
    const pid_t reader = gettid();
    std::atomic<int> reads{0};
    std::atomic<int> pushed{0};
    std::atomic<int> sawBlocked{0};
    std::thread producer([&] {
        sawBlocked += waitUntilAsleepInRead(reader, reads, 1);
        pushed = 1;
        queue.push("abc");
        sawBlocked += waitUntilAsleepInRead(reader, reads, 2);
        pushed = 2;
        queue.push("defg");
        sawBlocked += waitUntilAsleepInRead(reader, reads, 3);
        pushed = 3;
        queue.finish();
    });

    int ret = 0;
    reads = 1;
    QCOMPARE(readPartial(bridge->context(), &ret), QByteArray("abc"));
    QVERIFY2(pushed.load() >= 1, "the read returned before any data was pushed");
    reads = 2;
    QCOMPARE(readPartial(bridge->context(), &ret), QByteArray("defg"));
    QVERIFY2(pushed.load() >= 2, "the read returned before its data was pushed");
    reads = 3;
    QCOMPARE(readPartial(bridge->context(), &ret), QByteArray());
    QCOMPARE(ret, AVERROR_EOF);
    QVERIFY2(pushed.load() >= 3, "the end came before finish()");
    producer.join();
    QCOMPARE(sawBlocked.load(), 3); // every read waited, asleep, for its data
}

void TestSequentialBridge::readPacketNeverReturnsZero()
{
    ByteQueue queue(1 << 20);
    QString error;
    auto bridge = AvioBridge::create(&queue, &error);
    QVERIFY(bridge);
    AVIOContext *ctx = bridge->context();

    // One byte at a time, each pushed while the reader waits for it.
    const pid_t reader = gettid();
    std::atomic<int> reads{0};
    std::thread producer([&] {
        for (int i = 1; i <= 5; ++i) {
            waitUntilAsleepInRead(reader, reads, i);
            queue.push("x");
        }
        waitUntilAsleepInRead(reader, reads, 6);
        queue.finish();
    });
    uint8_t buf[16];
    QList<int> returns;
    for (int ret = 1; ret > 0;) {
        ++reads;
        ret = ctx->read_packet(ctx->opaque, buf, sizeof buf); // the raw callback
        returns << ret;
    }
    producer.join();
    QCOMPARE(returns, (QList<int>{1, 1, 1, 1, 1, AVERROR_EOF}));
}

// cancel() is something to do: the blocked reader wakes for it, once, and
// says AVERROR_EXIT (not the end of the file).
void TestSequentialBridge::cancelWakesTheReaderAtOnce()
{
    ByteQueue queue(1 << 20); // never written: the reader blocks until cancelled
    QString error;
    auto bridge = AvioBridge::create(&queue, &error);
    QVERIFY(bridge);

    const pid_t reader = gettid();
    std::atomic<int> reads{0};
    std::atomic<bool> sawBlocked{false};
    std::thread canceller([&] {
        sawBlocked = waitUntilAsleepInRead(reader, reads, 1);
        bridge->cancel();
    });
    int ret = 0;
    reads = 1;
    readPartial(bridge->context(), &ret);
    canceller.join();
    QVERIFY(sawBlocked.load()); // the cancel reached a reader asleep in its read
    QCOMPARE(ret, AVERROR_EXIT);
    QVERIFY2(queue.readerWakeups() <= 1, qPrintable(QString("%1 wakeups").arg(queue.readerWakeups())));
    QVERIFY(!queue.push("late")); // the producer learns the reader is gone
}

void TestSequentialBridge::finishedQueueRefusesMore()
{
    ByteQueue queue(1024);
    QVERIFY(queue.push("abc"));
    queue.finish();
    QVERIFY(!queue.push("def"));
    char buf[16];
    QCOMPARE(queue.read(buf, sizeof buf), 3); // what was queued still drains
    QCOMPARE(queue.read(buf, sizeof buf), 0); // then the end
}

// An idle reader sleeps on the condition variable: no polling. Counted, not
// timed: over 600 ms idle it wakes exactly once, for the byte that comes.
void TestSequentialBridge::idleReaderMakesNoWakeups()
{
    ByteQueue queue(1 << 20);
    QString error;
    auto bridge = AvioBridge::create(&queue, &error);
    QVERIFY(bridge);

    const pid_t reader = gettid();
    std::atomic<int> reads{0};
    std::thread producer([&] {
        waitUntilAsleepInRead(reader, reads, 1); // the window starts with the reader blocked
        // Not an ordering sleep: this is the idle window being measured.
        std::this_thread::sleep_for(600ms);
        queue.push("z");
    });
    const qint64 cpuBefore = threadCpuMicros();
    int ret = 0;
    reads = 1;
    QCOMPARE(readPartial(bridge->context(), &ret), QByteArray("z"));
    const qint64 cpuUsed = threadCpuMicros() - cpuBefore;
    producer.join();
    QCOMPARE(queue.readerWakeups(), quint64(1));
    QVERIFY2(cpuUsed < 60'000, qPrintable(QString("blocked read used %1 µs CPU").arg(cpuUsed)));
}

void TestSequentialBridge::seekIsRefusedOnSequentialDevices()
{
    ByteQueue queue(16);
    QString error;
    auto bridge = AvioBridge::create(&queue, &error);
    QVERIFY(bridge);
    AVIOContext *ctx = bridge->context();
    QCOMPARE(ctx->seekable, 0);
    QVERIFY(ctx->seek(ctx->opaque, 0, AVSEEK_SIZE) < 0);
    QVERIFY(ctx->seek(ctx->opaque, 0, SEEK_SET) < 0);
    QVERIFY(ctx->seek(ctx->opaque, 10, SEEK_CUR) < 0);
    QVERIFY(avio_size(ctx) < 0);
}

// The producer never blocks: it sees isFull() and waits for drained(), which
// the reader emits once it has emptied a full queue to half.
void TestSequentialBridge::queueIsBoundedAndSaysWhenDrained()
{
    ByteQueue queue(1000);
    QSignalSpy drained(&queue, &ByteQueue::drained);
    const QByteArray chunk(400, 'p');
    int pushed = 0;
    while (!queue.isFull()) {
        QVERIFY(queue.push(chunk));
        ++pushed;
    }
    QCOMPARE(pushed, 3); // 1200 bytes: full, at most one push past the bound
    QVERIFY(queue.queuedBytes() <= queue.capacity() + chunk.size());
    char buf[300];
    QCOMPARE(queue.read(buf, sizeof buf), 300); // 900 left: more than half
    QCOMPARE(drained.count(), 0);
    QCOMPARE(queue.read(buf, sizeof buf), 300); // 600
    QCOMPARE(queue.read(buf, sizeof buf), 300); // 300: drained to half
    QCOMPARE(drained.count(), 1);
    QCOMPARE(queue.read(buf, sizeof buf), 300);
    QCOMPARE(drained.count(), 1); // once per fill
}

namespace {

// A sequential device that hands out `good` bytes, then fails as a reset
// socket does: read() says -1 and errorString() says why.
class FailingDevice : public QIODevice {
public:
    explicit FailingDevice(QByteArray good) : m_good(std::move(good)) {}
    bool isSequential() const override { return true; }
    bool waitForReadyRead(int) override { return !m_good.isEmpty(); }
    qint64 bytesAvailable() const override { return m_good.size() + QIODevice::bytesAvailable(); }

protected:
    qint64 readData(char *data, qint64 maxSize) override
    {
        if (m_good.isEmpty()) {
            setErrorString(QStringLiteral("Connection reset by peer"));
            return -1;
        }
        const qint64 n = qMin<qint64>(maxSize, m_good.size());
        std::memcpy(data, m_good.constData(), size_t(n));
        m_good.remove(0, n);
        return n;
    }
    qint64 writeData(const char *, qint64) override { return -1; }

private:
    QByteArray m_good;
};

} // namespace

void TestSequentialBridge::deviceFailingMidReadIsAnErrorNotTheEnd()
{
    FailingDevice device(QByteArray(100, 'a'));
    QVERIFY(device.open(QIODevice::ReadOnly | QIODevice::Unbuffered));
    QString error;
    auto bridge = AvioBridge::create(&device, AvioBridge::Direction::Read, &error);
    QVERIFY(bridge);
    int ret = 0;
    QCOMPARE(readToEnd(bridge->context(), &ret), QByteArray(100, 'a'));
    QCOMPARE(ret, AVERROR(EIO));
    QCOMPARE(bridge->lastDeviceError(), QStringLiteral("Connection reset by peer"));
}

void TestSequentialBridge::tcpSocketBlocksResumesAndEnds()
{
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    const quint16 port = server.serverPort();
    QByteArray expected;
    for (int i = 0; i < 5; ++i)
        expected += QByteArray(1000 * (i + 1), char('a' + i));

    // Each piece is written once the reader has read the one before.
    std::atomic<qsizetype> received{0};
    std::thread writer([&] {
        QTcpSocket socket; // created, used and destroyed in this thread
        socket.connectToHost(QHostAddress::LocalHost, port);
        if (!socket.waitForConnected(5000))
            return;
        qsizetype pos = 0;
        for (int i = 0; i < 5; ++i) {
            const qsizetype n = 1000 * (i + 1);
            socket.write(expected.mid(pos, n));
            socket.waitForBytesWritten(5000);
            pos += n;
            for (QDeadlineTimer deadline(5000); received.load() < pos && !deadline.hasExpired();)
                std::this_thread::sleep_for(1ms);
        }
        socket.disconnectFromHost();
        if (socket.state() != QAbstractSocket::UnconnectedState)
            socket.waitForDisconnected(5000);
    });

    QVERIFY(server.waitForNewConnection(5000));
    QTcpSocket *socket = server.nextPendingConnection();
    QString error;
    auto bridge = AvioBridge::create(socket, AvioBridge::Direction::Read, &error);
    QVERIFY(bridge);
    int ret = 0;
    int reads = 0;
    QByteArray got;
    for (;;) {
        const QByteArray piece = readPartial(bridge->context(), &ret);
        if (ret <= 0)
            break;
        got += piece;
        received = got.size();
        ++reads;
    }
    writer.join();
    QCOMPARE(ret, AVERROR_EOF);
    QCOMPARE(got, expected);
    QVERIFY(reads >= 5); // it returned what had arrived instead of waiting to fill
}

// A reader asleep in waitForReadyRead() on a real socket, whose peer is
// connected but silent, sleeps in poll() on the descriptor; cancel() from
// another thread must still wake it, and the read says AVERROR_EXIT.
void TestSequentialBridge::cancelWakesAReaderBlockedOnASocket()
{
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    const quint16 port = server.serverPort();

    const pid_t reader = gettid();
    std::atomic<int> reads{0};
    std::atomic<bool> connected{false};
    std::atomic<bool> returned{false};
    std::atomic<bool> sawBlocked{false};
    std::atomic<bool> neededRescue{false};
    std::atomic<AvioBridge *> bridgePtr{nullptr};
    QElapsedTimer sinceCancel;
    std::thread peerAndCanceller([&] {
        QTcpSocket peer; // created, used and destroyed in this thread; never writes
        peer.connectToHost(QHostAddress::LocalHost, port);
        if (!peer.waitForConnected(5000))
            return;
        connected = true;
        sawBlocked = waitUntilAsleepInRead(reader, reads, 1);
        if (!bridgePtr.load())
            return; // the reader's side failed before its read
        sinceCancel.start();
        bridgePtr.load()->cancel();
        // The bound only keeps a broken cancel from hanging the test: should
        // the read not return, one byte from the peer releases it, and the
        // test fails on the result instead.
        for (QDeadlineTimer deadline(5000); !returned.load() && !deadline.hasExpired();)
            std::this_thread::sleep_for(1ms);
        if (!returned.load()) {
            neededRescue = true;
            peer.write("!");
            peer.waitForBytesWritten(5000);
        }
        for (QDeadlineTimer deadline(10000); !returned.load() && !deadline.hasExpired();)
            std::this_thread::sleep_for(1ms);
    });
    // Joins the thread however this function returns (a failed check too).
    struct Joiner {
        std::thread &thread;
        std::atomic<bool> &returned;
        ~Joiner()
        {
            returned = true;
            thread.join();
        }
    } joiner{peerAndCanceller, returned};

    QVERIFY(server.waitForNewConnection(5000));
    QTcpSocket *socket = server.nextPendingConnection(); // lives in this, the reader's, thread
    QString error;
    auto bridge = AvioBridge::create(socket, AvioBridge::Direction::Read, &error);
    QVERIFY2(bridge, qPrintable(error));
    bridgePtr = bridge.get();
    int ret = 0;
    reads = 1;
    readPartial(bridge->context(), &ret);
    returned = true;
    const qint64 latency = sinceCancel.elapsed();
    qInfo("cancel woke the socket reader after %lld ms", latency);
    QVERIFY(connected.load());
    QVERIFY(sawBlocked.load()); // the cancel reached a reader asleep in its read
    QVERIFY2(!neededRescue.load(), "cancel() did not wake the reader within 5 s");
    QCOMPARE(ret, AVERROR_EXIT);
}

namespace {

// Sends the clip's video through bridge -> FramedMediaDevice -> QTcpSocket,
// as the sender does, from a thread of its own.
std::thread startFramedSender(const QString &clip, quint16 port, QString *error)
{
    return std::thread([clip, port, error] {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, port);
        if (!socket.waitForConnected(5000)) {
            *error = socket.errorString();
            return;
        }
        FramedMediaDevice framing(&socket);
        framing.open(QIODevice::WriteOnly);
        *error = testsupport::remuxToAnnexB(clip, &framing);
        framing.sendMessage(proto::MessageType::EndOfStream,
                            proto::serialize(proto::EndOfStream{framing.accessUnitsSent(),
                                                                framing.mediaBytesSent()}));
        while (socket.bytesToWrite() > 0 && socket.waitForBytesWritten(5000)) {
        }
        socket.disconnectFromHost();
    });
}

} // namespace

void TestSequentialBridge::framedSocketCarriesTheExactStream()
{
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    QString senderError;
    std::thread sender = startFramedSender(m_clip, server.serverPort(), &senderError);

    QVERIFY(server.waitForNewConnection(5000));
    QTcpSocket *socket = server.nextPendingConnection();
    FramedMediaDevice framing(socket);
    QVERIFY(framing.open(QIODevice::ReadOnly));
    QList<proto::MessageType> control;
    connect(&framing, &FramedMediaDevice::controlMessageReceived,
            [&](const proto::Message &m) { control << m.type; });
    QString error;
    auto bridge = AvioBridge::create(&framing, AvioBridge::Direction::Read, &error);
    QVERIFY(bridge);
    int ret = 0;
    const QByteArray got = readToEnd(bridge->context(), &ret);
    sender.join();
    QVERIFY2(senderError.isEmpty(), qPrintable(senderError));
    QCOMPARE(ret, AVERROR_EOF);
    QVERIFY(framing.endOfStreamReceived());
    QCOMPARE(control, QList<proto::MessageType>{proto::MessageType::EndOfStream});
    QCOMPARE(framing.protocolError(), proto::ParseError::None);

    const auto ref = testsupport::ffmpeg({"-i", m_clip, "-map", "0:v:0", "-c", "copy", "-f", "h264", "-"});
    QVERIFY(ref.ok());
    QCOMPARE(got.size(), ref.out.size());
    QVERIFY(got == ref.out);
}

void TestSequentialBridge::framedSocketDemuxesEveryPacket()
{
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    QString senderError;
    std::thread sender = startFramedSender(m_clip, server.serverPort(), &senderError);

    QVERIFY(server.waitForNewConnection(5000));
    QTcpSocket *socket = server.nextPendingConnection();
    FramedMediaDevice framing(socket);
    QVERIFY(framing.open(QIODevice::ReadOnly));
    QString error;
    // The raw h264 demuxer reads from the socket through the bridge.
    const int packets = testsupport::countVideoPackets(&framing, &error, "h264");
    sender.join();
    QVERIFY2(packets > 0, qPrintable(error));
    QCOMPARE(packets, testsupport::ffprobeVideoPacketCount(m_clip));
}

QTEST_GUILESS_MAIN(TestSequentialBridge)
#include "tst_sequential_bridge.moc"
