// MediaSource, the sender's first stage, driven directly: it picks the file's
// video stream (ffprobe says which) and hands out exactly its packets, and it
// refuses what it cannot stream with a one-line message naming the file.
#include "ffmpeg_raii.h"
#include "source/media_source.h"
#include "test_support.h"

#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

using namespace h264link;
using namespace testsupport;

class TestMediaSource : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void picksTheVideoStream();
    void rewindStartsAgain();
    void refusesWhatItCannotStream_data();
    void refusesWhatItCannotStream();
    void truncatedDataEndsInAnError();

private:
    QString path(const QString &name) const { return m_dir.filePath(name); }
    void make(const QString &name, const QStringList &args);
    QTemporaryDir m_dir;
};

void TestMediaSource::make(const QString &name, const QStringList &args)
{
    const ToolResult r = ffmpeg(QStringList{"-y"} + args + QStringList{path(name)});
    QVERIFY2(r.ok(), r.err.constData());
}

void TestMediaSource::initTestCase()
{
    QVERIFY(m_dir.isValid());
    const QString video = "testsrc2=size=160x120:rate=25:duration=2";
    // Audio first, so that "the first stream" would be the wrong one.
    make("audio_first.mkv", {"-f", "lavfi", "-i", "sine=duration=2", "-f", "lavfi", "-i", video,
                             "-map", "0:a", "-map", "1:v", "-c:a", "aac", "-c:v", "libx264",
                             "-pix_fmt", "yuv420p"});
    // A codec FFmpeg encodes but has no decoder for (the nut demuxer does
    // not even name it): a file the sender cannot transcode.
    make("a64.nut", {"-f", "lavfi", "-i", "testsrc2=size=320x200:rate=25:duration=0.4", "-c:v", "a64multi"});
    make("audio_only.m4a", {"-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac"});
    make("faststart.mp4", {"-f", "lavfi", "-i", video, "-c:v", "libx264", "-pix_fmt", "yuv420p",
                           "-movflags", "+faststart"});
    QFile(path("empty.mp4")).open(QIODevice::WriteOnly);
    QFile text(path("notes.txt"));
    QVERIFY(text.open(QIODevice::WriteOnly));
    text.write("These are lesson notes, not a video.\n");
    const QByteArray whole = readFile(path("faststart.mp4"));
    QFile halfCut(path("half_cut.mp4"));
    QVERIFY(halfCut.open(QIODevice::WriteOnly));
    halfCut.write(whole.left(whole.size() / 2)); // the index is intact, the data ends half-way
}

void TestMediaSource::picksTheVideoStream()
{
    const QString file = path("audio_first.mkv");
    const ToolResult probe = ffprobe({"-select_streams", "v:0", "-show_entries", "stream=index",
                                      "-of", "csv=p=0", file});
    QVERIFY2(probe.ok(), probe.err.constData());
    QString error;
    const auto source = MediaSource::open(file, &error);
    QVERIFY2(source, qPrintable(error));
    QCOMPARE(source->stream()->index, probe.out.trimmed().toInt());
    QCOMPARE(source->stream()->codecpar->codec_id, AV_CODEC_ID_H264);

    PacketPtr packet = makePacket();
    int packets = 0;
    int ret = 0;
    while ((ret = source->readPacket(packet.get())) >= 0) {
        QCOMPARE(packet->stream_index, source->stream()->index);
        ++packets;
        av_packet_unref(packet.get());
    }
    QCOMPARE(ret, AVERROR_EOF);
    QCOMPARE(packets, ffprobeVideoPacketCount(file));
}

void TestMediaSource::rewindStartsAgain()
{
    QString error;
    const auto source = MediaSource::open(path("faststart.mp4"), &error);
    QVERIFY2(source, qPrintable(error));
    PacketPtr packet = makePacket();
    QCOMPARE(source->readPacket(packet.get()), 0);
    const QByteArray first(reinterpret_cast<const char *>(packet->data), packet->size);
    av_packet_unref(packet.get());
    while (source->readPacket(packet.get()) >= 0)
        av_packet_unref(packet.get());
    QVERIFY2(source->rewind(&error), qPrintable(error));
    QCOMPARE(source->readPacket(packet.get()), 0);
    QCOMPARE(QByteArray(reinterpret_cast<const char *>(packet->data), packet->size), first);
    QVERIFY(packet->flags & AV_PKT_FLAG_KEY);
}

void TestMediaSource::refusesWhatItCannotStream_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("expected"); // part of the message
    QTest::newRow("missing") << "does_not_exist.mp4" << "cannot open";
    QTest::newRow("empty") << "empty.mp4" << "is empty (0 bytes)";
    QTest::newRow("text file") << "notes.txt" << "is not a media file FFmpeg can read";
    QTest::newRow("no decoder") << "a64.nut" << "the video is of an unknown codec (tag a64m), so it cannot be sent";
    QTest::newRow("no video") << "audio_only.m4a" << "has no video stream (found: audio aac)";
}

void TestMediaSource::refusesWhatItCannotStream()
{
    QFETCH(QString, file);
    QFETCH(QString, expected);
    QString error;
    QVERIFY(!MediaSource::open(path(file), &error));
    QVERIFY2(!error.contains('\n'), qPrintable(error));
    QVERIFY2(error.contains(file), qPrintable(error));
    QVERIFY2(error.contains(expected), qPrintable(error));
}

// Found only while reading: the packets before the cut come out, then an
// error or a packet flagged corrupt, never a clean end.
void TestMediaSource::truncatedDataEndsInAnError()
{
    QString error;
    const auto source = MediaSource::open(path("half_cut.mp4"), &error);
    QVERIFY2(source, qPrintable(error));
    PacketPtr packet = makePacket();
    int packets = 0;
    int ret = 0;
    while ((ret = source->readPacket(packet.get())) >= 0 && !(packet->flags & AV_PKT_FLAG_CORRUPT)) {
        ++packets;
        av_packet_unref(packet.get());
    }
    QVERIFY2(ret != AVERROR_EOF || (packet->flags & AV_PKT_FLAG_CORRUPT),
             qPrintable(QString("a clean end after %1 packets").arg(packets)));
    QVERIFY(packets > 0);
    QVERIFY(packets < ffprobeVideoPacketCount(path("faststart.mp4")));
}

QTEST_GUILESS_MAIN(TestMediaSource)
#include "tst_media_source.moc"
