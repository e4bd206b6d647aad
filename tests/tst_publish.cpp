// sender --publish URL against real media servers on loopback:
//  - a real nginx with Debian's RTMP module, started here (its own config,
//    pid and logs in a temporary folder, `record all`): what the server
//    recorded, read back with ffmpeg, is frame-exact (framemd5, video and
//    audio) with what ffmpeg's own remux of the clip into flv decodes to, and
//    its video with the clip's own; alone (no --host) and beside a local
//    receiver, which gets every frame at the same time (pushed to, or, with
//    --serve, dialling in);
//  - an application that denies publishing and a closed port: one clear
//    line, exit 3, and the local receiver still gets every frame;
//  - SRT (when this FFmpeg has it): `ffmpeg -i srt://...?mode=listener`
//    reads the stream, frame-exact with the clip remuxed into mpegts;
//  - URLs and streams that cannot be published: refused before streaming.
#include "app_runner.h"
#include "exit_codes.h"
#include "test_support.h"

#include <QDir>
#include <QFileInfo>
#include <QMap>
#include <QFile>
#include <QProcess>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QThread>
#include <QUdpSocket>
#include <QtTest>
#include <csignal>
#include <memory>

using namespace h264link;
using namespace testsupport;

namespace {

const QString kNginx = QStringLiteral("/usr/sbin/nginx");
const QString kRtmpModule = QStringLiteral("/usr/lib/nginx/modules/ngx_rtmp_module.so");

quint16 freeTcpPort()
{
    QTcpServer probe;
    return probe.listen(QHostAddress::LocalHost) ? probe.serverPort() : 0;
}

// A real nginx-rtmp on a free loopback port: application `live` records
// everything published to it, `closed` denies publishing.
class NginxRtmp {
public:
    explicit NginxRtmp(const QString &dir) : m_dir(dir)
    {
        m_port = freeTcpPort();
        QDir().mkpath(recordDir());
        QFile conf(m_dir + "/nginx.conf");
        if (!conf.open(QIODevice::WriteOnly))
            return;
        conf.write(QStringLiteral(
                       "load_module %1;\n"
                       "daemon off;\nmaster_process off;\nworker_processes 1;\n"
                       "pid %2/nginx.pid;\nerror_log %2/error.log info;\n"
                       "events { worker_connections 64; }\n"
                       "rtmp {\n  server {\n    listen 127.0.0.1:%3;\n"
                       "    application live { live on; record all; record_path %4; allow publish 127.0.0.1; }\n"
                       "    application closed { live on; deny publish all; }\n  }\n}\n")
                       .arg(kRtmpModule, m_dir).arg(m_port).arg(recordDir())
                       .toUtf8());
        conf.close();
        m_process.setProcessChannelMode(QProcess::MergedChannels);
        m_process.start(kNginx, {"-c", m_dir + "/nginx.conf", "-p", m_dir, "-e", m_dir + "/error.log"});
        // Up when it accepts a connection (polled, not slept on).
        QDeadlineTimer deadline(10000);
        while (!deadline.hasExpired() && m_process.state() != QProcess::NotRunning) {
            QTcpSocket probe;
            probe.connectToHost(QHostAddress::LocalHost, m_port);
            if (probe.waitForConnected(200)) {
                m_up = true;
                return;
            }
            QThread::msleep(50);
        }
    }
    ~NginxRtmp()
    {
        m_process.terminate();
        if (!m_process.waitForFinished(5000))
            m_process.kill();
        m_process.waitForFinished(2000);
    }
    bool isUp() const { return m_up; }
    QString log() const { return QString::fromUtf8(readFile(m_dir + "/error.log")); }
    QString url(const QString &app, const QString &name) const
    {
        return QStringLiteral("rtmp://127.0.0.1:%1/%2/%3").arg(m_port).arg(app, name);
    }
    QString recordDir() const { return m_dir + "/rec"; }
    QString recording(const QString &name) const { return recordDir() + "/" + name + ".flv"; }

private:
    QString m_dir;
    QProcess m_process;
    quint16 m_port = 0;
    bool m_up = false;
};

// "stream,md5" lines of one stream of a framemd5 text.
QStringList streamLines(const QByteArray &framemd5, int stream)
{
    QStringList out;
    for (const FrameLine &line : frameLines(framemd5))
        if (line.stream == stream)
            out << line.md5;
    return out;
}

// What a faithful remux of `clip` into `format` decodes to: ffmpeg's own
// `-c copy -f FORMAT`, read back by ffmpeg. (AAC in mp4 trims its encoder
// priming by the edit list; flv and mpegts cannot say that, so the first
// audio frame is there, as for any remux into them.)
QByteArray remuxOracle(const QString &clip, const QString &format, const QString &dir)
{
    const QString out = dir + "/oracle." + format;
    if (!ffmpeg({"-y", "-i", clip, "-map", "0:v:0", "-map", "0:a:0", "-c", "copy", "-f", format, out}).ok())
        return {};
    const ToolResult r = ffmpeg({"-i", out, "-map", "0", "-f", "framemd5", "-"});
    return r.ok() ? r.out : QByteArray();
}

} // namespace

// Skips outside CI without nginx-rtmp; else starts one in a fresh folder `dir`.
#define START_NGINX(nginx, dir)                                                                         \
    if (!needNginx())                                                                                   \
        H264LINK_SKIP_UNLESS_CI("nginx with libnginx-mod-rtmp is not installed (scripts/setup.sh --test)"); \
    QTemporaryDir dir;                                                                                  \
    NginxRtmp nginx(dir.path());                                                                        \
    QVERIFY2(nginx.isUp(), qPrintable(nginx.log()))

class TestPublish : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void publishOnlyIsFrameExact();
    void receiverAndServerAtOnce();
    void receiversAndServerAtOnce();
    void servedReceiverAndServerAtOnce();
    void refusedStreamLeavesReceiverAlone();
    void unreachableServerLeavesReceiverAlone();
    void transcodedAudioIsLeftOut();
    void silentServerLeavesReceiverAlone();
    void loopKeepsTimestampsRising();
    void serverGoneMidStream();
    void srtIsFrameExact();
    void unusableUrlsAreRefused();

private:
    bool needNginx();
    QString path(const QString &name) const { return m_dir.filePath(name); }
    // Polls the recording until ffmpeg reads `frames` video and `audio`
    // audio frames from it (nginx closes it once the publisher has gone).
    QByteArray recorded(const QString &file, int frames, int audio);
    // What nginx recorded of stream `name` is frame-exact with the flv oracle.
    void verifyRecording(const NginxRtmp &nginx, const QString &name);

    QTemporaryDir m_dir;
    QString m_clip;
    QByteArray m_flvOracle;
};

void TestPublish::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_clip = path("clip.mp4");
    const ToolResult r = ffmpeg({"-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
                                 "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2",
                                 "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "25",
                                 "-c:a", "aac", "-shortest", m_clip});
    QVERIFY2(r.ok(), r.err.constData());
    m_flvOracle = remuxOracle(m_clip, "flv", m_dir.path());
    QVERIFY(!m_flvOracle.isEmpty());
    // The remux leaves the pictures alone: the oracle's video is the clip's.
    QCOMPARE(streamLines(m_flvOracle, 0), md5Column(referenceAvFramemd5(m_clip)));
}

bool TestPublish::needNginx()
{
    return QFile::exists(kNginx) && QFile::exists(kRtmpModule);
}

QByteArray TestPublish::recorded(const QString &file, int frames, int audio)
{
    QByteArray md5;
    QDeadlineTimer deadline(20000);
    while (!deadline.hasExpired()) {
        if (QFile::exists(file)) {
            const ToolResult r = ffmpeg({"-i", file, "-map", "0", "-f", "framemd5", "-"});
            md5 = r.out;
            if (r.ok() && streamLines(md5, 0).size() >= frames && streamLines(md5, 1).size() >= audio)
                return md5;
        }
        QThread::msleep(100);
    }
    return md5;
}

void TestPublish::verifyRecording(const NginxRtmp &nginx, const QString &name)
{
    const QStringList video = streamLines(m_flvOracle, 0), audio = streamLines(m_flvOracle, 1);
    const QByteArray got = recorded(nginx.recording(name), video.size(), audio.size());
    QCOMPARE(streamLines(got, 0), video);
    QCOMPARE(streamLines(got, 1), audio);
}

void TestPublish::publishOnlyIsFrameExact()
{
    START_NGINX(nginx, dir);
    const SenderRun run = runSender({m_clip, "--publish", nginx.url("live", "alone"), "--quiet"});
    QVERIFY2(run.exitCode == ExitOk, qPrintable(run.err + run.out));
    const QStringList video = streamLines(m_flvOracle, 0), audio = streamLines(m_flvOracle, 1);
    QVERIFY2(run.out.contains(QStringLiteral("published to %1: %2 frames, %3 audio packets")
                                  .arg(nginx.url("live", "alone")).arg(video.size()).arg(audio.size())),
             qPrintable(run.out));
    const QByteArray got = recorded(nginx.recording("alone"), video.size(), audio.size());
    QCOMPARE(streamLines(got, 0), video);
    QCOMPARE(streamLines(got, 1), audio);
}

void TestPublish::receiverAndServerAtOnce()
{
    START_NGINX(nginx, dir);
    const QString md5 = dir.filePath("receiver.framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5, "--no-audio"});
    QVERIFY(receiver.port() != 0);
    const SenderRun run = runSender({m_clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port()),
                                     "--publish", nginx.url("live", "both"), "--quiet"});
    QVERIFY2(run.exitCode == ExitOk, qPrintable(run.err + run.out));
    QVERIFY(receiver.waitForExit(20000));
    QCOMPARE(md5Column(readFile(md5)), referenceMd5(m_clip));
    verifyRecording(nginx, "both");
    QVERIFY2(run.out.contains(QStringLiteral("published to %1: %2 frames").arg(nginx.url("live", "both")).arg(streamLines(m_flvOracle, 0).size())),
             qPrintable(run.out));
}

// The fan-out (a host list) and a media server from the same one remux.
void TestPublish::receiversAndServerAtOnce()
{
    START_NGINX(nginx, dir);
    std::vector<std::unique_ptr<ReceiverProcess>> receivers;
    QStringList hosts, md5s;
    for (int i = 0; i < 2; ++i) {
        md5s << dir.filePath(QStringLiteral("receiver%1.framemd5").arg(i));
        receivers.push_back(std::make_unique<ReceiverProcess>(QStringList{"--once", "--framemd5", md5s.last(), "--no-audio"}));
        QVERIFY(receivers.back()->port() != 0);
        hosts << QStringLiteral("127.0.0.1:%1").arg(receivers.back()->port());
    }
    const SenderRun run = runSender({m_clip, "--host", hosts.join(','), "--publish", nginx.url("live", "room"), "--quiet"});
    QVERIFY2(run.exitCode == ExitOk, qPrintable(run.err + run.out));
    for (int i = 0; i < 2; ++i) {
        ReceiverProcess &receiver = *receivers[size_t(i)];
        QVERIFY(receiver.process().state() == QProcess::NotRunning || receiver.waitForExit(20000));
        QCOMPARE(md5Column(readFile(md5s[i])), referenceMd5(m_clip));
    }
    verifyRecording(nginx, "room");
}

// --serve with --publish: the server gets the stream from the start of the
// file's clock, which the first receiver to dial starts.
void TestPublish::servedReceiverAndServerAtOnce()
{
    START_NGINX(nginx, dir);
    QProcess sender;
    QByteArray err;
    const quint16 port = startServing(sender, {m_clip, "--serve", "--port", "0", "--no-announce", "--publish",
                                nginx.url("live", "served"), "--quiet"}, &err);
    QVERIFY2(port != 0, err.constData());
    const QString md5 = dir.filePath("served.framemd5");
    ReceiverProcess receiver({"--connect", QStringLiteral("127.0.0.1:%1").arg(port), "--once", "--framemd5", md5, "--no-audio"});
    QCOMPARE(receiver.port(), port);
    QVERIFY(sender.waitForFinished(60000));
    const QString out = QString::fromUtf8(sender.readAllStandardOutput() + err + sender.readAllStandardError());
    QVERIFY2(sender.exitCode() == ExitOk, qPrintable(out));
    QVERIFY(receiver.process().state() == QProcess::NotRunning || receiver.waitForExit(20000));
    QCOMPARE(md5Column(readFile(md5)), referenceMd5(m_clip));
    verifyRecording(nginx, "served");
}

void TestPublish::refusedStreamLeavesReceiverAlone()
{
    START_NGINX(nginx, dir);
    const QString md5 = dir.filePath("receiver.framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5, "--no-audio"});
    QVERIFY(receiver.port() != 0);
    const QString url = nginx.url("closed", "x");
    const SenderRun run = runSender({m_clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port()),
                                     "--publish", url, "--quiet"});
    QVERIFY(receiver.waitForExit(20000));
    QCOMPARE(md5Column(readFile(md5)), referenceMd5(m_clip));
    QCOMPARE(run.exitCode, int(ExitConnectionFailed));
    const QString line = QStringLiteral("sender: publish %1: the server closed the connection as soon as the stream "
                                        "began: it refused the stream").arg(url);
    QVERIFY2(run.err.count(line) == 1, qPrintable(run.err));
    QVERIFY2(run.err.contains("the local stream goes on"), qPrintable(run.err));
    QVERIFY2(nginx.log().contains("access forbidden"), qPrintable(nginx.log())); // the server's side of it
}

void TestPublish::unreachableServerLeavesReceiverAlone()
{
    const quint16 closed = freeTcpPort(); // nothing listens there now
    QVERIFY(closed != 0);
    const QString md5 = path("unreachable.framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5, "--no-audio"});
    QVERIFY(receiver.port() != 0);
    const QString url = QStringLiteral("rtmp://127.0.0.1:%1/live/x").arg(closed);
    const SenderRun run = runSender({m_clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port()),
                                     "--publish", url, "--quiet"});
    QVERIFY(receiver.waitForExit(20000));
    QCOMPARE(md5Column(readFile(md5)), referenceMd5(m_clip));
    QCOMPARE(run.exitCode, int(ExitConnectionFailed));
    const QString line = QStringLiteral("sender: publish %1: connection to 127.0.0.1:%2 refused: is the media "
                                        "server running and listening on port %2?; the local stream goes on")
                             .arg(url).arg(closed);
    QVERIFY2(run.err.count(line) == 1, qPrintable(run.err));
    QVERIFY2(run.err.contains(QStringLiteral("publishing to %1 failed").arg(url)), qPrintable(run.err));

    // Alone, the same URL is the whole run's failure: one line, exit 3.
    const SenderRun alone = runSender({m_clip, "--publish", url, "--quiet"});
    QCOMPARE(alone.exitCode, int(ExitConnectionFailed));
    QVERIFY2(alone.err.count(QStringLiteral("connection to 127.0.0.1:%1 refused").arg(closed)) == 1,
             qPrintable(alone.err));
}

void TestPublish::transcodedAudioIsLeftOut()
{
    if (!needNginx())
        H264LINK_SKIP_UNLESS_CI("nginx with libnginx-mod-rtmp is not installed (scripts/setup.sh --test)");
    const QString clip = path("ac3.mkv");
    const ToolResult made = ffmpeg({"-y", "-i", m_clip, "-map", "0:v", "-map", "0:a", "-c:v", "copy", "-c:a", "ac3", clip});
    QVERIFY2(made.ok(), made.err.constData());
    QTemporaryDir dir;
    NginxRtmp nginx(dir.path());
    QVERIFY2(nginx.isUp(), qPrintable(nginx.log()));
    const QString url = nginx.url("live", "ac3");
    const SenderRun run = runSender({clip, "--publish", url, "--quiet"});
    QVERIFY2(run.exitCode == ExitOk, qPrintable(run.err + run.out));
    QVERIFY2(run.err.count(QStringLiteral("sender: publish %1: the ac3 audio is re-encoded for the receivers, and only "
                                          "what passes through is published: publishing the video only").arg(url)) == 1,
             qPrintable(run.err));
    const QStringList video = streamLines(m_flvOracle, 0);
    const QByteArray got = recorded(nginx.recording("ac3"), video.size(), 0);
    QCOMPARE(streamLines(got, 0), video);
    QVERIFY(streamLines(got, 1).isEmpty());
}

void TestPublish::silentServerLeavesReceiverAlone()
{
    // Listens (the kernel completes the TCP handshake) and never says a word:
    // the RTMP handshake waits for an answer that does not come.
    QTcpServer silent;
    QVERIFY(silent.listen(QHostAddress::LocalHost));
    const QString md5 = path("silent.framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5, "--no-audio"});
    QVERIFY(receiver.port() != 0);
    const QString url = QStringLiteral("rtmp://127.0.0.1:%1/live/x").arg(silent.serverPort());
    const SenderRun run = runSender({m_clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port()),
                                     "--publish", url, "--quiet"});
    QVERIFY(receiver.waitForExit(20000));
    QCOMPARE(md5Column(readFile(md5)), referenceMd5(m_clip));
    QCOMPARE(run.exitCode, int(ExitConnectionFailed));
    const QString line = QStringLiteral("sender: publish %1: no answer from 127.0.0.1:%2 by the end of the stream")
                             .arg(url).arg(silent.serverPort());
    QVERIFY2(run.err.count(line) == 1, qPrintable(run.err));
}

void TestPublish::loopKeepsTimestampsRising()
{
    START_NGINX(nginx, dir);
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE), {m_clip, "--loop", "--quiet", "--publish", nginx.url("live", "loop")});
    const QStringList video = streamLines(m_flvOracle, 0);
    // Into the third pass (the recording is read as it grows), then stopped as Ctrl+C does.
    const QByteArray partial = recorded(nginx.recording("loop"), 2 * int(video.size()) + 5, 0);
    QVERIFY(streamLines(partial, 0).size() > 2 * video.size());
    ::kill(pid_t(sender.processId()), SIGINT);
    QVERIFY(sender.waitForFinished(20000));
    QCOMPARE(sender.exitCode(), int(ExitOk));
    const QByteArray out = sender.readAllStandardOutput();
    QVERIFY2(out.contains("stopped: ") && out.contains("published to"), out.constData());
    const ToolResult dts = ffprobe({"-v", "error", "-show_entries", "packet=stream_index,dts", "-of", "csv=p=0",
                                    nginx.recording("loop")});
    QVERIFY(dts.ok());
    QMap<int, qint64> last;
    int packets = 0;
    for (const QByteArray &line : dts.out.split('\n')) {
        const QList<QByteArray> f = line.trimmed().split(',');
        if (f.size() < 2 || f[1].isEmpty())
            continue;
        const int stream = f[0].toInt();
        const qint64 value = f[1].toLongLong();
        QVERIFY2(!last.contains(stream) || value > last[stream],
                 qPrintable(QStringLiteral("stream %1: dts %2 after %3").arg(stream).arg(value).arg(last[stream])));
        last[stream] = value;
        ++packets;
    }
    QVERIFY(packets > 2 * video.size());
    // Each pass is the clip's pictures again, in order (the two whole ones:
    // the stop cuts the third in decode order, so its B-frames may miss).
    const QStringList got = streamLines(recorded(nginx.recording("loop"), 0, 0), 0);
    QVERIFY(got.size() > 2 * video.size());
    for (int i = 0; i < 2 * video.size(); ++i)
        QVERIFY2(got[i] == video[i % video.size()], qPrintable(QStringLiteral("frame %1 of %2").arg(i).arg(got.size())));
}

void TestPublish::serverGoneMidStream()
{
    if (!needNginx())
        H264LINK_SKIP_UNLESS_CI("nginx with libnginx-mod-rtmp is not installed (scripts/setup.sh --test)");
    const QString clip = path("long.mp4");
    QVERIFY(makeClip(clip, "320x240", 25, 5.0).isEmpty());
    QTemporaryDir dir;
    const QString md5 = dir.filePath("receiver.framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5});
    QVERIFY(receiver.port() != 0);
    auto nginx = std::make_unique<NginxRtmp>(dir.path());
    QVERIFY2(nginx->isUp(), qPrintable(nginx->log()));
    const QString url = nginx->url("live", "gone");
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE), {clip, "--host", "127.0.0.1", "--port",
                                                     QString::number(receiver.port()), "--quiet", "--publish", url});
    // Two seconds of it have reached the server; then the server goes away.
    recorded(nginx->recording("gone"), 50, 0);
    const qint64 sizeBefore = QFileInfo(nginx->recording("gone")).size();
    QVERIFY(sizeBefore > 0);
    nginx.reset();
    QVERIFY(sender.waitForFinished(30000));
    QVERIFY(receiver.waitForExit(20000));
    QCOMPARE(md5Column(readFile(md5)), referenceMd5(clip));
    const QString err = QString::fromUtf8(sender.readAllStandardError());
    QCOMPARE(sender.exitCode(), int(ExitConnectionFailed));
    QVERIFY2(err.count(QStringLiteral("sender: publish %1: the server closed the connection after").arg(url)) == 1,
             qPrintable(err));
    QVERIFY2(err.contains("the local stream goes on"), qPrintable(err));
}

void TestPublish::srtIsFrameExact()
{
    const ToolResult protocols = ffmpeg({"-protocols"});
    if (!protocols.out.contains("\n  srt\n"))
        QSKIP("this FFmpeg has no srt protocol"); // by design: --publish srt:// says so then
    // A free UDP port: bound and released.
    QUdpSocket probe;
    QVERIFY(probe.bind(QHostAddress::LocalHost, 0));
    const quint16 port = probe.localPort();
    probe.close();
    QProcess reader;
    reader.start(QStringLiteral("ffmpeg"), {"-hide_banner", "-loglevel", "error", "-i",
                                            QStringLiteral("srt://127.0.0.1:%1?mode=listener").arg(port),
                                            "-map", "0", "-f", "framemd5", "-"});
    // The listener is up when its UDP port is bound (/proc/net/udp), polled.
    const QByteArray hexPort = QByteArray::number(port, 16).toUpper().rightJustified(4, '0');
    QDeadlineTimer deadline(10000);
    bool bound = false;
    while (!deadline.hasExpired() && !bound) {
        bound = readFile("/proc/net/udp").contains(":" + hexPort + " ");
        if (!bound)
            QThread::msleep(50);
    }
    QVERIFY2(bound, "ffmpeg's SRT listener did not come up");
    const QString url = QStringLiteral("srt://127.0.0.1:%1").arg(port);
    const SenderRun run = runSender({m_clip, "--publish", url, "--quiet"});
    QVERIFY2(run.exitCode == ExitOk, qPrintable(run.err + run.out));
    QVERIFY(reader.waitForFinished(20000));
    const QByteArray got = reader.readAllStandardOutput();
    const QByteArray oracle = remuxOracle(m_clip, "mpegts", m_dir.path());
    QCOMPARE(streamLines(got, 0), streamLines(oracle, 0));
    QCOMPARE(streamLines(got, 1), streamLines(oracle, 1));
}

void TestPublish::unusableUrlsAreRefused()
{
    const SenderRun scheme = runSender({m_clip, "--publish", "nosuch://127.0.0.1/x"});
    QCOMPARE(scheme.exitCode, int(ExitUsage));
    QVERIFY2(scheme.err.contains("this FFmpeg cannot send to 'nosuch' URLs"), qPrintable(scheme.err));

    const SenderRun noServer = runSender({m_clip, "--publish", "rtmp:///live/x"});
    QCOMPARE(noServer.exitCode, int(ExitUsage));
    QVERIFY2(noServer.err.contains("no server in the URL"), qPrintable(noServer.err));

    // No encoder tap yet: a transcoded video is refused with a way out.
    const SenderRun transcoded = runSender({m_clip, "--transcode", "--publish", "rtmp://127.0.0.1:9/live/x"});
    QCOMPARE(transcoded.exitCode, int(ExitBadInput));
    QVERIFY2(transcoded.err.contains("publishing a transcoded stream is not supported"), qPrintable(transcoded.err));
}

QTEST_GUILESS_MAIN(TestPublish)
#include "tst_publish.moc"
