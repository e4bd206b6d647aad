// AvioBridge over sequential devices: a BytePipe between threads, a real
// QTcpSocket, and FramedMediaDevice on a socket carrying a whole H.264 stream.
#include "avio_bridge.h"
#include "byte_pipe.h"
#include "ffmpeg_raii.h"
#include "framed_media_device.h"
#include "test_support.h"

#include <QElapsedTimer>
#include <QFile>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

#include <QDeadlineTimer>

#include <atomic>
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
// in `reads`, and sleeps in it: a producer then knows the reader is blocked.
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
    void pipeBlocksResumesAndEnds();
    void readPacketNeverReturnsZero();
    void cancelFromAnotherThreadIsPrompt();
    void abortCarriesTheReadersReason();
    void blockedReaderDoesNotSpin();
    void seekIsRefusedOnSequentialDevices();
    void pipeIsBoundedAndBlocksTheProducer();
    void tcpSocketBlocksResumesAndEnds();
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

void TestSequentialBridge::pipeBlocksResumesAndEnds()
{
    BytePipe pipe(1 << 20);
    QVERIFY(pipe.open(QIODevice::ReadOnly));
    QString error;
    auto bridge = AvioBridge::create(&pipe, AvioBridge::Direction::Read, &error);
    QVERIFY2(bridge, qPrintable(error));

    // Each step only once the reader sleeps in its next read.
    const pid_t reader = gettid();
    std::atomic<int> reads{0};
    std::atomic<int> pushed{0};
    std::atomic<int> sawBlocked{0};
    std::thread producer([&] {
        sawBlocked += waitUntilAsleepInRead(reader, reads, 1);
        pushed = 1;
        pipe.push("abc", 3);
        sawBlocked += waitUntilAsleepInRead(reader, reads, 2);
        pushed = 2;
        pipe.push("defg", 4);
        sawBlocked += waitUntilAsleepInRead(reader, reads, 3);
        pushed = 3;
        pipe.finish();
    });

    int ret = 0;
    reads = 1;
    QCOMPARE(readPartial(bridge->context(), &ret), QByteArray("abc"));
    QVERIFY2(pushed.load() >= 1, "the read returned before any data was pushed");
    reads = 2;
    QCOMPARE(readPartial(bridge->context(), &ret), QByteArray("defg"));
    QVERIFY(pushed.load() >= 2);
    reads = 3;
    QCOMPARE(readPartial(bridge->context(), &ret), QByteArray());
    QCOMPARE(ret, AVERROR_EOF);
    producer.join();
    QCOMPARE(sawBlocked.load(), 3); // every read waited, asleep, for its data
}

void TestSequentialBridge::readPacketNeverReturnsZero()
{
    BytePipe pipe(1 << 20);
    QVERIFY(pipe.open(QIODevice::ReadOnly));
    QString error;
    auto bridge = AvioBridge::create(&pipe, AvioBridge::Direction::Read, &error);
    QVERIFY(bridge);
    AVIOContext *ctx = bridge->context();

    // One byte at a time, each pushed while the reader waits for it.
    const pid_t reader = gettid();
    std::atomic<int> reads{0};
    std::thread producer([&] {
        for (int i = 1; i <= 5; ++i) {
            waitUntilAsleepInRead(reader, reads, i);
            pipe.push("x", 1);
        }
        waitUntilAsleepInRead(reader, reads, 6);
        pipe.finish();
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

void TestSequentialBridge::cancelFromAnotherThreadIsPrompt()
{
    BytePipe pipe(1 << 20); // never written: the reader blocks until cancelled
    QVERIFY(pipe.open(QIODevice::ReadOnly));
    QString error;
    auto bridge = AvioBridge::create(&pipe, AvioBridge::Direction::Read, &error);
    QVERIFY(bridge);

    const pid_t reader = gettid();
    std::atomic<int> reads{0};
    QElapsedTimer sinceCancel;
    std::thread canceller([&] {
        waitUntilAsleepInRead(reader, reads, 1);
        sinceCancel.start();
        bridge->cancel();
    });
    int ret = 0;
    reads = 1;
    readPartial(bridge->context(), &ret);
    const qint64 latency = sinceCancel.elapsed();
    canceller.join();
    QCOMPARE(ret, AVERROR_EXIT);
    // Typically one poll interval (20 ms); the bound is loose because this
    // machine is shared. What it rules out is a read that never returns.
    QVERIFY2(latency <= 500, qPrintable(QString("cancel took %1 ms").arg(latency)));
}

// The reader gives up with a reason; the producer's next push fails and can
// tell its peer why. The first reason stands.
void TestSequentialBridge::abortCarriesTheReadersReason()
{
    BytePipe pipe(1024);
    QVERIFY(pipe.open(QIODevice::ReadOnly));
    QVERIFY(pipe.pushNoWait("abc"));
    QVERIFY(pipe.abortReason().isEmpty());
    pipe.abort(QStringLiteral("disk full"));
    pipe.abort(QStringLiteral("later"));
    QVERIFY(!pipe.pushNoWait("def"));
    QVERIFY(!pipe.push("def"));
    QCOMPARE(pipe.abortReason(), QStringLiteral("disk full"));
    BytePipe quiet(1024);
    quiet.abort();
    QVERIFY(quiet.abortReason().isEmpty());
}

void TestSequentialBridge::blockedReaderDoesNotSpin()
{
    BytePipe pipe(1 << 20);
    QVERIFY(pipe.open(QIODevice::ReadOnly));
    QString error;
    auto bridge = AvioBridge::create(&pipe, AvioBridge::Direction::Read, &error);
    QVERIFY(bridge);

    std::thread producer([&] {
        std::this_thread::sleep_for(600ms); // the window in which the reader's CPU time is measured
        pipe.push("z", 1);
    });
    const qint64 cpuBefore = threadCpuMicros();
    int ret = 0;
    QCOMPARE(readPartial(bridge->context(), &ret), QByteArray("z"));
    const qint64 cpuUsed = threadCpuMicros() - cpuBefore;
    producer.join();
    // A spinning reader would burn ~600 ms of CPU; a sleeping one, almost none.
    QVERIFY2(cpuUsed < 60'000, qPrintable(QString("blocked read used %1 µs CPU").arg(cpuUsed)));
}

void TestSequentialBridge::seekIsRefusedOnSequentialDevices()
{
    BytePipe pipe(16);
    QVERIFY(pipe.open(QIODevice::ReadOnly));
    QString error;
    auto bridge = AvioBridge::create(&pipe, AvioBridge::Direction::Read, &error);
    QVERIFY(bridge);
    AVIOContext *ctx = bridge->context();
    QCOMPARE(ctx->seekable, 0);
    QVERIFY(ctx->seek(ctx->opaque, 0, AVSEEK_SIZE) < 0);
    QVERIFY(ctx->seek(ctx->opaque, 0, SEEK_SET) < 0);
    QVERIFY(ctx->seek(ctx->opaque, 10, SEEK_CUR) < 0);
    QVERIFY(avio_size(ctx) < 0);
}

void TestSequentialBridge::pipeIsBoundedAndBlocksTheProducer()
{
    BytePipe pipe(1000);
    QVERIFY(pipe.open(QIODevice::ReadOnly));
    std::atomic<int> pushed{0};
    std::atomic<pid_t> producerTid{0};
    std::thread producer([&] {
        producerTid = gettid();
        const QByteArray chunk(400, 'p');
        for (int i = 0; i < 10; ++i) {
            if (!pipe.push(chunk))
                return;
            ++pushed;
        }
    });
    // 1200 bytes queued: the fourth push waits, asleep.
    QTRY_VERIFY_WITH_TIMEOUT(pushed.load() >= 3 && producerTid.load() && isAsleep(producerTid.load()), 5000);
    QCOMPARE(pushed.load(), 3);
    QVERIFY(pipe.queuedBytes() <= pipe.capacity() + 400);
    char buf[4096];
    qint64 total = 0;
    while (total < 4000) {
        pipe.waitForReadyRead(1000);
        const qint64 n = pipe.read(buf, sizeof buf);
        QVERIFY(n >= 0);
        total += n;
        QVERIFY(pipe.queuedBytes() <= pipe.capacity() + 400);
    }
    producer.join();
    QCOMPARE(pushed.load(), 10);
    QCOMPARE(total, 4000);
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
        QFile in(clip);
        in.open(QIODevice::ReadOnly);
        *error = testsupport::remuxToAnnexB(&in, &framing, &framing);
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
