// The sender binary with sound, against receivers:
//  - a receiver that speaks protocol 2 only (this test plays it, from the
//    protocol's own encoder): it gets the video alone, frame for frame, and
//    the sender says so once; an audio-only file to it fails clearly;
//  - the real receiver: the video stays frame-exact with audio beside it,
//    and the sender's STREAM_INFO / END_OF_STREAM carry the audio.
#include "app_runner.h"
#include "exit_codes.h"
#include "message_decoder.h"
#include "protocol.h"
#include "test_support.h"

#include <QProcess>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

using namespace h264link;
using namespace testsupport;

namespace {

// What a protocol-2 receiver saw of one stream.
struct V2Session {
    bool connected = false;
    bool ended = false;
    std::optional<proto::StreamInfo> info;
    int accessUnits = 0;
    int audioMessages = 0;
    int otherVersionHeaders = 0; // anything but HELLO/ERROR not in v2 headers
};

// Plays a receiver of protocol 2 for one connection: HELLO 2..2, ACCEPTED,
// then reads to END_OF_STREAM (answered with RECEIVED) or the close.
V2Session serveAsV2(QTcpServer &server, QProcess &sender)
{
    V2Session s;
    if (!server.waitForNewConnection(15000))
        return s;
    std::unique_ptr<QTcpSocket> socket(server.nextPendingConnection());
    s.connected = true;
    proto::MessageDecoder decoder(2, 2); // what a protocol-2 build reads
    proto::MessageWriter writer;
    QDeadlineTimer deadline(30000);
    while (!deadline.hasExpired() && socket->state() == QAbstractSocket::ConnectedState) {
        if (!socket->bytesAvailable() && !socket->waitForReadyRead(100)) {
            if (sender.state() == QProcess::NotRunning)
                break;
            continue;
        }
        if (!decoder.feed(socket->readAll()))
            break;
        while (decoder.hasMessage()) {
            const proto::Message m = decoder.takeMessage();
            if (!proto::isVersionFree(quint8(m.type)) && m.version != 2)
                ++s.otherVersionHeaders;
            switch (m.type) {
            case proto::MessageType::Hello:
                socket->write(writer.encode(proto::MessageType::Hello,
                                            proto::serialize(proto::Hello{2, 2, proto::CapMedia | proto::CapPing,
                                                                          "a protocol-2 receiver", {}})));
                writer.setVersion(2);
                socket->write(writer.encode(proto::MessageType::Accepted, {}));
                break;
            case proto::MessageType::StreamInfo:
                s.info = proto::parseStreamInfo(m.payload);
                break;
            case proto::MessageType::Media:
                if (m.flags & proto::AccessUnitEnd)
                    ++s.accessUnits;
                break;
            case proto::MessageType::Audio:
                ++s.audioMessages;
                break;
            case proto::MessageType::EndOfStream:
                s.ended = true;
                // v2's RECEIVED: two counts.
                socket->write(writer.encode(proto::MessageType::Received,
                                            proto::serialize(proto::Received{quint64(s.accessUnits),
                                                                             quint64(s.accessUnits)}).left(16)));
                socket->flush();
                socket->waitForBytesWritten(2000);
                socket->disconnectFromHost();
                return s;
            default:
                break;
            }
        }
        socket->flush();
    }
    return s;
}

QList<QByteArray> lines(const QByteArray &text)
{
    QList<QByteArray> out;
    for (const QByteArray &line : text.split('\n'))
        if (!line.trimmed().isEmpty())
            out << line;
    return out;
}

} // namespace

class TestSenderAudioE2e : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void protocol2ReceiverGetsVideoOnly();
    void protocol2ReceiverAndAudioOnlyFile();
    void realReceiverVideoStaysExact_data();
    void realReceiverVideoStaysExact();
    void noAudioOption();
    void undecodableAudioOnlyFileIsRefused();
    void undecodableAudioBesideVideo();

private:
    QString path(const QString &name) const { return m_dir.filePath(name); }
    void make(const QString &name, const QStringList &args);
    QTemporaryDir m_dir;
};

void TestSenderAudioE2e::make(const QString &name, const QStringList &args)
{
    const ToolResult r = ffmpeg(QStringList{"-y"} + args + QStringList{path(name)});
    QVERIFY2(r.ok(), r.err.constData());
}

void TestSenderAudioE2e::initTestCase()
{
    QVERIFY(m_dir.isValid());
    const QStringList video{"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=1.6"};
    const QStringList x264{"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"};
    const QStringList sine{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1.6"};
    make("aac.mp4", video + sine + x264 + QStringList{"-c:a", "aac"});
    make("ac3.mkv", video + sine + x264 + QStringList{"-c:a", "ac3"});
    make("sound.m4a", sine + QStringList{"-c:a", "aac"});
    // Audio that no decoder takes (see breakFlacHeader).
    make("broken.mka", sine + QStringList{"-c:a", "flac"});
    make("video_broken_audio.mkv", video + sine + x264 + QStringList{"-c:a", "flac"});
}

void TestSenderAudioE2e::protocol2ReceiverGetsVideoOnly()
{
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost));
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE),
                 {path("aac.mp4"), "--host", "127.0.0.1", "--port", QString::number(server.serverPort()), "--fast"});
    const V2Session s = serveAsV2(server, sender);
    QVERIFY(sender.waitForFinished(30000));
    const QByteArray err = sender.readAllStandardError();
    QVERIFY(s.connected);
    QVERIFY2(s.ended, err.constData());
    QCOMPARE(sender.exitCode(), int(ExitOk));
    QCOMPARE(s.audioMessages, 0);
    QCOMPARE(s.otherVersionHeaders, 0);
    QCOMPARE(s.accessUnits, ffprobeVideoPacketCount(path("aac.mp4")));
    QVERIFY(s.info);
    QVERIFY(!s.info->hasAudio());
    QCOMPARE(err.count("the receiver speaks protocol 2: sending video only (update it for sound)"), 1);
    QCOMPARE(err.count("audio: aac mono 48 kHz, passed through"), 1);
}

void TestSenderAudioE2e::protocol2ReceiverAndAudioOnlyFile()
{
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost));
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE),
                 {path("sound.m4a"), "--host", "127.0.0.1", "--port", QString::number(server.serverPort())});
    const V2Session s = serveAsV2(server, sender);
    QVERIFY(sender.waitForFinished(30000));
    const QByteArray err = sender.readAllStandardError();
    QCOMPARE(sender.exitCode(), int(ExitProtocolError));
    QCOMPARE(s.audioMessages, 0);
    QCOMPARE(s.accessUnits, 0);
    QVERIFY2(err.contains("the receiver speaks protocol 2, which has no sound, and 'sound.m4a' is audio only"),
             err.constData());
}

void TestSenderAudioE2e::realReceiverVideoStaysExact_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("audioLine");
    QTest::newRow("AAC passthrough") << "aac.mp4" << "audio: aac mono 48 kHz, passed through";
    QTest::newRow("AC-3 to AAC") << "ac3.mkv" << "audio: ac3 mono 48 kHz → AAC mono 96 kb/s";
}

void TestSenderAudioE2e::realReceiverVideoStaysExact()
{
    QFETCH(QString, file);
    QFETCH(QString, audioLine);
    const QString md5 = path(file + ".framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5});
    QVERIFY(receiver.port());
    const SenderRun run = runSender({path(file), "--host", "127.0.0.1", "--port", QString::number(receiver.port())});
    QVERIFY2(run.exitCode == ExitOk, qPrintable(run.err));
    QVERIFY(receiver.waitForExit(20000));
    QCOMPARE(receiver.process().exitCode(), int(ExitOk));
    QCOMPARE(md5Column(readFile(md5)), referenceMd5(path(file)));
    const QList<QByteArray> errLines = lines(run.err.toUtf8());
    QCOMPARE(std::count_if(errLines.cbegin(), errLines.cend(),
                           [](const QByteArray &l) { return l.startsWith("audio: "); }), 1);
    QVERIFY2(run.err.contains(audioLine), qPrintable(run.err));
    QVERIFY2(QRegularExpression(" [1-9][0-9]* audio packets").match(run.out).hasMatch(),
             qPrintable(run.out));
}

void TestSenderAudioE2e::noAudioOption()
{
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost));
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE), {path("aac.mp4"), "--host", "127.0.0.1", "--port",
                                                     QString::number(server.serverPort()), "--fast", "--no-audio"});
    // A v3 peer would be offered sound; --no-audio keeps it out even so:
    // the v2 stand-in sees no AUDIO, and no "protocol 2" notice is needed.
    const V2Session s = serveAsV2(server, sender);
    QVERIFY(sender.waitForFinished(30000));
    const QByteArray err = sender.readAllStandardError();
    QCOMPARE(sender.exitCode(), int(ExitOk));
    QCOMPARE(s.audioMessages, 0);
    QVERIFY2(err.contains("audio: not sent (--no-audio)"), err.constData());
    QVERIFY2(!err.contains("protocol 2"), err.constData());
}

// A FLAC stream whose STREAMINFO (in the file's codec private data) says
// sample rate 0: the demuxer reads it, no decoder can set up for it.
void breakFlacHeader(const QString &file)
{
    QFile f(file);
    QVERIFY(f.open(QIODevice::ReadWrite));
    QByteArray bytes = f.readAll();
    const qsizetype fLaC = bytes.indexOf("fLaC");
    QVERIFY(fLaC > 0);
    // After "fLaC" (4), the block header (4), min/max block size (4) and
    // min/max frame size (6) come 20 bits of sample rate.
    const qsizetype rate = fLaC + 4 + 4 + 4 + 6;
    bytes[rate] = bytes[rate + 1] = char(0);
    bytes[rate + 2] = char(bytes[rate + 2] & 0x0f);
    f.seek(0);
    f.write(bytes);
}

void TestSenderAudioE2e::undecodableAudioOnlyFileIsRefused()
{
    breakFlacHeader(path("broken.mka"));
    if (QTest::currentTestFailed())
        return;
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost));
    const SenderRun run = runSender({path("broken.mka"), "--host", "127.0.0.1", "--port",
                                     QString::number(server.serverPort())}, 20000);
    QVERIFY2(run.exitCode == ExitBadInput, qPrintable(run.err));
    QVERIFY2(run.err.contains("broken.mka"), qPrintable(run.err));
    QVERIFY(!server.waitForNewConnection(200)); // refused before connecting
}

// The sound cannot be sent: one warning, and the video goes on, exact.
void TestSenderAudioE2e::undecodableAudioBesideVideo()
{
    const QString clip = path("video_broken_audio.mkv");
    breakFlacHeader(clip);
    if (QTest::currentTestFailed())
        return;
    const QString md5 = path("video_broken_audio.framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5});
    QVERIFY(receiver.port());
    const SenderRun run = runSender({clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port())});
    QVERIFY2(run.exitCode == ExitOk, qPrintable(run.err));
    QVERIFY(receiver.waitForExit(20000));
    QCOMPARE(md5Column(readFile(md5)), referenceMd5(clip));
    const QList<QByteArray> errLines = lines(run.err.toUtf8());
    QCOMPARE(std::count_if(errLines.cbegin(), errLines.cend(), [](const QByteArray &l) {
                 return l.startsWith("audio: flac ") && l.contains("cannot be decoded or encoded")
                     && l.endsWith(": sending video only");
             }), 1);
    QVERIFY2(!run.out.contains("audio packets"), qPrintable(run.out)); // none were meant to go
}

QTEST_GUILESS_MAIN(TestSenderAudioE2e)
#include "tst_sender_audio_e2e.moc"
