// PipeDevice under AvioBridge's sequential read path, on a real pipe(2):
// a read hands over what the pipe holds without waiting for the bridge's
// whole buffer (the reason it exists), the writer's close is the end, and
// libavformat probes and demuxes a container from it (no seek).
#include "avio_bridge.h"
#include "ffmpeg_raii.h"
#include "source/pipe_device.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unistd.h>

using namespace h264link;
using namespace testsupport;

namespace {

// A pipe whose ends close themselves.
struct Pipe {
    int read = -1, write = -1;
    Pipe() { int fds[2]; if (::pipe(fds) == 0) { read = fds[0]; write = fds[1]; } }
    ~Pipe() { closeWrite(); if (read >= 0) ::close(read); }
    void closeWrite() { if (write >= 0) ::close(std::exchange(write, -1)); }
};

bool writeAll(int fd, const QByteArray &data)
{
    qsizetype done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.constData() + done, size_t(data.size() - done));
        if (n <= 0)
            return false;
        done += n;
    }
    return true;
}

} // namespace

class TestPipeDevice : public QObject {
    Q_OBJECT
private slots:
    void readHandsOverWhatThePipeHolds();
    void writerClosingIsTheEnd();
    void containerIsProbedAndDemuxedFromThePipe();
};

void TestPipeDevice::readHandsOverWhatThePipeHolds()
{
    Pipe pipe;
    QVERIFY(pipe.read >= 0);
    PipeDevice device(pipe.read);
    QVERIFY(device.open(QIODevice::ReadOnly | QIODevice::Unbuffered));
    QString error;
    auto bridge = AvioBridge::create(&device, AvioBridge::Direction::Read, &error);
    QVERIFY2(bridge, qPrintable(error));
    QVERIFY(device.isSequential());

    QVERIFY(writeAll(pipe.write, "ten bytes!"));
    // A reader that waited for more would only come back when the writer
    // closes: a watchdog does that after 10 s, and says so.
    std::mutex mutex;
    std::condition_variable done;
    bool returned = false;
    std::atomic<bool> watchdogClosed{false};
    std::thread watchdog([&] {
        std::unique_lock lock(mutex);
        if (!done.wait_for(lock, std::chrono::seconds(10), [&] { return returned; })) {
            watchdogClosed = true;
            pipe.closeWrite();
        }
    });
    uint8_t buf[4096];
    const int n = avio_read_partial(bridge->context(), buf, sizeof buf);
    {
        std::lock_guard lock(mutex);
        returned = true;
    }
    done.notify_all();
    watchdog.join();
    QVERIFY2(!watchdogClosed.load(), "the read waited for more than the pipe held");
    QCOMPARE(QByteArray(reinterpret_cast<char *>(buf), qMax(n, 0)), QByteArray("ten bytes!"));
}

void TestPipeDevice::writerClosingIsTheEnd()
{
    Pipe pipe;
    PipeDevice device(pipe.read);
    QVERIFY(device.open(QIODevice::ReadOnly | QIODevice::Unbuffered));
    QString error;
    auto bridge = AvioBridge::create(&device, AvioBridge::Direction::Read, &error);
    QVERIFY2(bridge, qPrintable(error));
    QVERIFY(writeAll(pipe.write, "last words"));
    pipe.closeWrite();
    uint8_t buf[64];
    QCOMPARE(avio_read_partial(bridge->context(), buf, sizeof buf), 10);
    QCOMPARE(avio_read_partial(bridge->context(), buf, sizeof buf), AVERROR_EOF); // the end, not an error
    QVERIFY(bridge->lastDeviceError().isEmpty());
    QCOMPARE(bridge->context()->seekable, 0); // formats must not try to seek a pipe
}

void TestPipeDevice::containerIsProbedAndDemuxedFromThePipe()
{
    QTemporaryDir dir;
    const QString clip = dir.filePath("clip.mp4");
    QCOMPARE(makeClip(clip, "320x240", 25, 2.0), QString());
    const QString ts = dir.filePath("clip.ts");
    const ToolResult remux = ffmpeg({"-y", "-i", clip, "-map", "0:v:0", "-c", "copy", ts});
    QVERIFY2(remux.ok(), remux.err.constData());
    // -c copy keeps every packet: ffprobe's count of the source's is the oracle.
    const int expected = ffprobeVideoPacketCount(clip);
    QVERIFY(expected > 0);

    Pipe pipe;
    const QByteArray bytes = readFile(ts);
    std::thread writer([&] { writeAll(pipe.write, bytes); pipe.closeWrite(); });
    PipeDevice device(pipe.read);
    QVERIFY(device.open(QIODevice::ReadOnly | QIODevice::Unbuffered));
    QString error;
    auto bridge = AvioBridge::create(&device, AvioBridge::Direction::Read, &error);
    QVERIFY2(bridge, qPrintable(error));
    int packets = 0;
    {
        AVFormatContext *raw = avformat_alloc_context();
        raw->pb = bridge->context();
        int ret = avformat_open_input(&raw, "pipe:", nullptr, nullptr); // probed from the bytes alone
        InputFormatPtr input(raw);
        QVERIFY2(ret >= 0, qPrintable(averrorText(ret)));
        QCOMPARE(QByteArray(input->iformat->name), QByteArray("mpegts"));
        QVERIFY(avformat_find_stream_info(input.get(), nullptr) >= 0);
        PacketPtr packet = makePacket();
        while ((ret = av_read_frame(input.get(), packet.get())) >= 0) {
            packets += input->streams[packet->stream_index]->codecpar->codec_id == AV_CODEC_ID_H264;
            av_packet_unref(packet.get());
        }
        QCOMPARE(ret, AVERROR_EOF);
    }
    writer.join();
    QCOMPARE(packets, expected);
}

QTEST_GUILESS_MAIN(TestPipeDevice)
#include "tst_pipe_device.moc"
