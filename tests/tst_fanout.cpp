// One sender, many receivers (Broadcaster, Subscriber), as real processes on
// loopback. Every receiver's --framemd5 is checked against ffmpeg's framemd5
// of the clip: exact for those that kept up, and for one that was frozen a
// run of the reference that jumps forward only to keyframes (ffprobe's).
#include "app_runner.h"
#include "exit_codes.h"
#include "handshake.h"
#include "message_decoder.h"
#include "test_support.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QSysInfo>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>
#include <memory>

using namespace testsupport;
namespace proto = h264link::proto;

namespace {

QString senderPath()
{
    return QStringLiteral(SENDER_EXECUTABLE);
}

// The peak resident set of a running process (VmHWM), in kB; 0 if gone.
qint64 peakRssKb(qint64 pid)
{
    QFile status(QStringLiteral("/proc/%1/status").arg(pid));
    if (!status.open(QIODevice::ReadOnly))
        return 0;
    for (const QByteArray &line : status.readAll().split('\n'))
        if (line.startsWith("VmHWM:"))
            return line.mid(6).trimmed().split(' ').first().toLongLong();
    return 0;
}

// A free TCP port on loopback, for a receiver started later at a known address.
quint16 freePort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort();
}

// QProcess::waitForFinished() is false for a process that has already
// ended (as one may have while the test's event loop ran).
bool exited(ReceiverProcess &receiver, int msecs)
{
    return receiver.process().state() == QProcess::NotRunning || receiver.waitForExit(msecs);
}

struct Receivers {
    std::vector<std::unique_ptr<ReceiverProcess>> all;
    QStringList md5Paths;
    QString hostList() const
    {
        QStringList hosts;
        for (const auto &r : all)
            hosts << QStringLiteral("127.0.0.1:%1").arg(r->port());
        return hosts.join(QLatin1Char(','));
    }
};

// The sender's "receiver N ADDRESS: F frames sent, ... S skipped" for `port`.
quint64 skippedFor(const QString &senderOut, quint16 port)
{
    const QRegularExpression re(QStringLiteral("127\\.0\\.0\\.1:%1: [^;]*?(\\d+) skipped to stay live").arg(port));
    const QRegularExpressionMatch m = re.match(senderOut);
    return m.hasMatch() ? m.captured(1).toULongLong() : 0;
}

} // namespace

class TestFanout : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void thirtyReceiversFrameExact();
    void frozenReceiverSkipsToAKeyframe();
    void joinerGetsTheCurrentGop();
    void garbagePeerDoesNotDisturbTheOthers();
    void serveRefusesPastMaxReceivers();
    void hostListParsing();
    void serveToConnectingReceivers();
    void oneReceiverStats();
    void duplicateNamesListedApart();

private:
    bool startReceivers(Receivers *receivers, int count, const QStringList &extra = {});
    QTemporaryDir m_dir;
    GopClip m_clip;
};

void TestFanout::initTestCase()
{
    QVERIFY(m_dir.isValid());
    const QString error = makeGopClip(m_dir.filePath("gop.mp4"), 25, 4.0, &m_clip);
    QVERIFY2(error.isEmpty(), qPrintable(error));
}

bool TestFanout::startReceivers(Receivers *receivers, int count, const QStringList &extra)
{
    for (int i = 0; i < count; ++i) {
        const QString md5 = m_dir.filePath(QStringLiteral("r%1_%2.md5").arg(quintptr(receivers)).arg(i));
        QFile::remove(md5);
        receivers->md5Paths << md5;
        receivers->all.push_back(std::make_unique<ReceiverProcess>(QStringList{"--once", "--framemd5", md5} + extra));
        if (receivers->all.back()->port() == 0)
            return false;
    }
    return true;
}

// 30 receivers, one remux: each gets every frame, in order, exactly.
void TestFanout::thirtyReceiversFrameExact()
{
    Receivers receivers;
    QVERIFY2(startReceivers(&receivers, 30), "a receiver did not come up");
    QProcess sender;
    sender.setProcessChannelMode(QProcess::SeparateChannels);
    sender.start(senderPath(), {m_clip.path, "--host", receivers.hostList(), "--quiet", "--stats"});
    QVERIFY(sender.waitForStarted());
    qint64 peak = 0;
    QElapsedTimer clock;
    clock.start();
    while (sender.state() != QProcess::NotRunning && clock.elapsed() < 60000) {
        peak = qMax(peak, peakRssKb(sender.processId()));
        sender.waitForFinished(100);
    }
    const QString out = QString::fromUtf8(sender.readAllStandardOutput());
    const QString err = QString::fromUtf8(sender.readAllStandardError());
    QCOMPARE(sender.exitStatus(), QProcess::NormalExit);
    QVERIFY2(sender.exitCode() == 0, qPrintable(out + err));
    qInfo("sender peak RSS with 30 receivers: %lld kB", peak);
    QVERIFY2(out.contains(QLatin1String("to 30 receivers")), qPrintable(out));
    // --stats: one JSON line a second, each receiver in it.
    int statsLines = 0;
    for (const QString &line : out.split('\n')) {
        const QJsonObject o = QJsonDocument::fromJson(line.toUtf8()).object();
        if (o.contains(QLatin1String("receivers"))) {
            ++statsLines;
            QCOMPARE(o.value("receivers").toArray().size(), 30);
        }
    }
    QVERIFY2(statsLines >= 2, qPrintable(out));
    for (int i = 0; i < 30; ++i) {
        QVERIFY2(exited(*receivers.all[size_t(i)], 30000), qPrintable(receivers.all[size_t(i)]->output()));
        QCOMPARE(receivers.all[size_t(i)]->process().exitCode(), 0);
        QCOMPARE(md5Column(readFile(receivers.md5Paths[i])), m_clip.reference);
    }
}

// One of four receivers is frozen (SIGSTOP) for 3 s: the others get every
// frame; it is cut to a keyframe past the soft bound, and goes on live.
void TestFanout::frozenReceiverSkipsToAKeyframe()
{
    // Enough bytes a second to fill the socket buffers of a frozen
    // receiver well within the 3 s: noise, 640x360, a keyframe a second.
    GopClip clip;
    const QString path = m_dir.filePath("noisy.mp4");
    const QString error = makeClip(path, "640x360", 25, 10.0,
                                   {"-vf", "noise=alls=40:allf=t", "-g", "25", "-keyint_min", "25",
                                    "-sc_threshold", "0", "-bf", "0"});
    QVERIFY2(error.isEmpty(), qPrintable(error));
    clip.reference = referenceMd5(path);
    clip.keyFrames = ffprobeKeyFrameIndices(path);
    QCOMPARE(clip.reference.size(), ffprobeFrameCount(path));
    Receivers receivers;
    QVERIFY2(startReceivers(&receivers, 4, {"--stats"}), "a receiver did not come up");
    QProcess sender;
    sender.start(senderPath(), {path, "--host", receivers.hostList(), "--quiet"});
    QVERIFY(sender.waitForStarted());
    const qint64 frozenPid = receivers.all[0]->process().processId();
    // Freeze it once its first frames are written.
    QTRY_VERIFY_WITH_TIMEOUT(readFile(receivers.md5Paths[0]).count('\n') > 15, 20000);
    ::kill(pid_t(frozenPid), SIGSTOP);
    QTest::qWait(3000);
    ::kill(pid_t(frozenPid), SIGCONT);
    QVERIFY(sender.waitForFinished(60000));
    const QString out = QString::fromUtf8(sender.readAllStandardOutput() + sender.readAllStandardError());
    QVERIFY2(sender.exitCode() == 0, qPrintable(out));
    for (size_t i = 0; i < receivers.all.size(); ++i) {
        QVERIFY2(exited(*receivers.all[i], 30000), qPrintable(receivers.all[i]->output()));
        QVERIFY2(receivers.all[i]->process().exitCode() == 0, qPrintable(receivers.all[i]->output() + out));
    }
    for (int i = 1; i < 4; ++i) {
        QCOMPARE(md5Column(readFile(receivers.md5Paths[i])), clip.reference);
        // What the others' latency was over the whole stream, the freeze included.
        for (const QString &line : receivers.all[size_t(i)]->output().split('\n')) {
            const QJsonObject summary = QJsonDocument::fromJson(line.toUtf8()).object().value("summary").toObject();
            if (summary.contains(QLatin1String("latency_ms")))
                qInfo("receiver %d (live beside the frozen one): send->decoded p95 %.1f ms", i + 1,
                      summary.value("latency_ms").toObject().value("end_to_end_decoded").toObject().value("p95").toDouble());
        }
    }
    // The frozen one: the reference's frames in order, every jump landing on a keyframe.
    const QStringList got = md5Column(readFile(receivers.md5Paths[0]));
    QList<int> indices;
    for (const QString &md5 : got)
        indices << clip.reference.indexOf(md5, indices.isEmpty() ? 0 : indices.last() + 1);
    QVERIFY(!indices.contains(-1));
    int jumps = 0;
    for (int i = 1; i < indices.size(); ++i)
        if (indices[i] != indices[i - 1] + 1) {
            ++jumps;
            QVERIFY2(clip.keyFrames.contains(indices[i]), qPrintable(QStringLiteral("resumed at frame %1").arg(indices[i])));
        }
    QVERIFY2(jumps >= 1, qPrintable(out));
    const quint64 skipped = skippedFor(out, receivers.all[0]->port());
    qInfo("frozen receiver: %d frames shown, %llu skipped by the sender, %d jumps", int(got.size()), skipped, jumps);
    QCOMPARE(qsizetype(got.size()) + qsizetype(skipped), clip.reference.size());
    QVERIFY2(indices.last() == clip.reference.size() - 1, "the frozen receiver did not reach the end, live");
}

// A receiver that comes mid-stream (a listed host, --retry) starts at the
// current GOP's keyframe at once: its frames are the reference from a
// keyframe to the end; its time to first picture is printed (bench/fanout.py
// holds the figure, join_ms: unit tests hold no timing targets).
void TestFanout::joinerGetsTheCurrentGop()
{
    Receivers first;
    QVERIFY(startReceivers(&first, 1));
    const quint16 latePort = freePort();
    QVERIFY(latePort != 0);
    QProcess sender;
    sender.start(senderPath(), {m_clip.path, "--host", QStringLiteral("%1,127.0.0.1:%2").arg(first.hostList()).arg(latePort),
                                "--retry", "--quiet"});
    QVERIFY(sender.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(readFile(first.md5Paths[0]).count('\n') > 1.5 * m_clip.fps, 20000);
    const QString md5 = m_dir.filePath("late.md5");
    ReceiverProcess late({"--once", "--framemd5", md5, "--stats", "--port", QString::number(latePort)});
    QVERIFY(late.port() == latePort);
    QVERIFY(sender.waitForFinished(60000));
    const QString out = QString::fromUtf8(sender.readAllStandardOutput() + sender.readAllStandardError());
    QVERIFY2(sender.exitCode() == 0, qPrintable(out));
    QVERIFY(exited(late, 30000));
    QCOMPARE(late.process().exitCode(), 0);
    const QStringList got = md5Column(readFile(md5));
    QVERIFY2(!got.isEmpty(), qPrintable(late.output()));
    const int start = int(m_clip.reference.indexOf(got.first()));
    QVERIFY2(m_clip.keyFrames.contains(start), qPrintable(QStringLiteral("the joiner began at frame %1").arg(start)));
    QVERIFY2(start > 0, "the joiner came after the start: it should begin mid-stream");
    QCOMPARE(got, m_clip.reference.mid(start));
    double ttff = -1;
    for (const QString &line : late.output().split('\n')) {
        const QJsonObject summary = QJsonDocument::fromJson(line.toUtf8()).object().value("summary").toObject();
        if (summary.contains(QLatin1String("ttff_ms")))
            ttff = summary.value("ttff_ms").toDouble();
    }
    qInfo("joiner: first picture %.1f ms after its connection opened (from frame %d)", ttff, start);
    QVERIFY(ttff >= 0);
    QVERIFY2(ttff < 100, qPrintable(QStringLiteral("first picture after %1 ms").arg(ttff)));
}

// A listed host that answers with garbage fails alone: the sender says why
// and exits 4, the other receivers get every frame.
void TestFanout::garbagePeerDoesNotDisturbTheOthers()
{
    QTcpServer garbage;
    QVERIFY(garbage.listen(QHostAddress::LocalHost, 0));
    std::vector<std::unique_ptr<QTcpSocket>> peers;
    connect(&garbage, &QTcpServer::newConnection, this, [&] {
        while (QTcpSocket *s = garbage.nextPendingConnection()) {
            s->write(QByteArray(4096, '\xA5'));
            peers.emplace_back(s);
        }
    });
    Receivers receivers;
    QVERIFY(startReceivers(&receivers, 3));
    QProcess sender;
    sender.start(senderPath(), {m_clip.path, "--host",
                                QStringLiteral("%1,127.0.0.1:%2").arg(receivers.hostList()).arg(garbage.serverPort()),
                                "--quiet"});
    QTRY_VERIFY_WITH_TIMEOUT(sender.state() == QProcess::NotRunning, 60000);
    const QString out = QString::fromUtf8(sender.readAllStandardOutput() + sender.readAllStandardError());
    QVERIFY2(sender.exitCode() == 4, qPrintable(out));
    QVERIFY2(out.contains(QLatin1String("not an h264link receiver")), qPrintable(out));
    for (int i = 0; i < 3; ++i) {
        QVERIFY(exited(*receivers.all[size_t(i)], 30000));
        QCOMPARE(md5Column(readFile(receivers.md5Paths[i])), m_clip.reference);
    }
}

// --serve --max-receivers 2: the third receiver to connect is told "full"
// (ERROR 11). The receivers here are the test's own, speaking the protocol
// with the project's handshake.
void TestFanout::serveRefusesPastMaxReceivers()
{
    QProcess sender;
    QByteArray err;
    const quint16 port = startServing(sender, {m_clip.path, "--serve", "--port", "0", "--max-receivers", "2", "--quiet"}, &err);
    QVERIFY2(port != 0, err.constData());
    struct Peer {
        QTcpSocket socket;
        proto::MessageDecoder decoder;
        h264link::ReceiverHandshake handshake{QByteArray()};
        proto::MessageWriter writer;
        QList<proto::Message> messages;
        quint64 media = 0;
        void pump()
        {
            const QByteArray bytes = socket.readAll();
            decoder.feed(bytes.constData(), bytes.size());
            if (const auto version = decoder.negotiatedVersion())
                writer.setVersion(*version);
            while (decoder.hasMessage()) {
                proto::Message m = decoder.takeMessage();
                if (!handshake.isDone())
                    for (const auto &out : handshake.onMessage(m).send)
                        socket.write(writer.encode(out.type, out.payload));
                if (m.type == proto::MessageType::Media)
                    ++media;
                else
                    messages << m;
            }
        }
        std::optional<proto::ErrorInfo> error() const
        {
            for (const proto::Message &m : messages)
                if (m.type == proto::MessageType::Error)
                    return proto::parseErrorInfo(m.payload);
            return std::nullopt;
        }
    };
    std::vector<std::unique_ptr<Peer>> peers;
    for (int i = 0; i < 3; ++i) {
        peers.push_back(std::make_unique<Peer>());
        Peer &peer = *peers.back();
        peer.socket.connectToHost(QHostAddress::LocalHost, port);
        QVERIFY(peer.socket.waitForConnected(5000));
        for (const auto &out : peer.handshake.start().send)
            peer.socket.write(peer.writer.encode(out.type, out.payload));
        // The first two stream before the next comes.
        if (i < 2)
            QTRY_VERIFY_WITH_TIMEOUT((peer.pump(), peer.media > 0), 10000);
    }
    Peer &third = *peers[2];
    QTRY_VERIFY_WITH_TIMEOUT((third.pump(), third.error().has_value()), 10000);
    QCOMPARE(third.error()->code, quint16(proto::ErrFull));
    QVERIFY2(third.error()->reason.contains(QLatin1String("full")), qPrintable(third.error()->reason));
    QCOMPARE(third.media, quint64(0));
    QVERIFY((peers[0]->pump(), peers[0]->error()) == std::nullopt);
    sender.kill();
    sender.waitForFinished();
}

void TestFanout::hostListParsing()
{
    const SenderRun bad = runSender({m_clip.path, "--host", "a,[::1"});
    QCOMPARE(bad.exitCode, 64);
    QVERIFY2(bad.err.contains(QLatin1String("--host '[::1'")), qPrintable(bad.err));
    const SenderRun badPort = runSender({m_clip.path, "--host", "a:0,b"});
    QCOMPARE(badPort.exitCode, 64);
    const SenderRun both = runSender({m_clip.path, "--host", "a", "--serve"});
    QCOMPARE(both.exitCode, 64);
    const SenderRun tooMany = runSender({m_clip.path, "--host", "a,b,c", "--max-receivers", "2"});
    QCOMPARE(tooMany.exitCode, 64);
}

// --serve with real receivers that dial (receiver --connect): the first
// starts the file, the next join at a keyframe; past --max-receivers the
// next one is told the sender is full.
void TestFanout::serveToConnectingReceivers()
{
    QProcess sender;
    QByteArray err;
    const quint16 port = startServing(sender, {m_clip.path, "--serve", "--port", "0", "--max-receivers", "3", "--quiet"}, &err);
    QVERIFY2(port != 0, err.constData());
    const QString target = QStringLiteral("127.0.0.1:%1").arg(port);
    // A peer that speaks garbage first: refused alone, it starts nothing.
    QTcpSocket garbage;
    garbage.connectToHost(QHostAddress::LocalHost, port);
    QVERIFY(garbage.waitForConnected(5000));
    garbage.write(QByteArray(4096, '\x5A'));
    QTRY_VERIFY_WITH_TIMEOUT((err += sender.readAllStandardError(), err.contains("not an h264link receiver")), 10000);
    std::vector<std::unique_ptr<ReceiverProcess>> receivers;
    QStringList md5s;
    for (int i = 0; i < 3; ++i) {
        md5s << m_dir.filePath(QStringLiteral("serve%1.md5").arg(i));
        QFile::remove(md5s.last());
        receivers.push_back(std::make_unique<ReceiverProcess>(QStringList{"--connect", target, "--once", "--framemd5", md5s.last()}));
        QVERIFY(receivers.back()->port() == port);
    }
    // The three stream; a fourth is refused as full.
    QTRY_VERIFY_WITH_TIMEOUT(readFile(md5s[2]).count('\n') > 8, 20000);
    ReceiverProcess fourth({"--connect", target, "--once"});
    QVERIFY(exited(fourth, 20000));
    QVERIFY2(fourth.process().exitCode() != 0, qPrintable(fourth.output()));
    QVERIFY2(fourth.output().contains(QLatin1String("full")), qPrintable(fourth.output()));
    QVERIFY(sender.waitForFinished(60000));
    const QString out = QString::fromUtf8(sender.readAllStandardOutput() + err + sender.readAllStandardError());
    QVERIFY2(sender.exitCode() == 0, qPrintable(out));
    for (int i = 0; i < 3; ++i) {
        QVERIFY(exited(*receivers[size_t(i)], 30000));
        QVERIFY2(receivers[size_t(i)]->process().exitCode() == 0, qPrintable(receivers[size_t(i)]->output()));
        const QStringList got = md5Column(readFile(md5s[i]));
        QVERIFY(!got.isEmpty());
        const int start = int(m_clip.reference.indexOf(got.first()));
        QVERIFY2(start == 0 || m_clip.keyFrames.contains(start), qPrintable(QStringLiteral("began at frame %1").arg(start)));
        QCOMPARE(got, m_clip.reference.mid(start));
        if (i == 0)
            QCOMPARE(start, 0); // the file's clock started with it
    }
}

// --stats on the one-to-one path: the same line, with its one receiver.
void TestFanout::oneReceiverStats()
{
    Receivers receivers;
    QVERIFY(startReceivers(&receivers, 1));
    const SenderRun run = runSender({m_clip.path, "--host", receivers.hostList(), "--stats", "--quiet"});
    QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    quint64 lastSent = 0;
    int lines = 0;
    for (const QString &line : run.out.split('\n')) {
        const QJsonArray list = QJsonDocument::fromJson(line.toUtf8()).object().value("receivers").toArray();
        if (list.isEmpty())
            continue;
        ++lines;
        QCOMPARE(list.size(), 1);
        const QJsonObject r = list.first().toObject();
        QCOMPARE(r.value("address").toString(), receivers.hostList());
        const quint64 sent = quint64(r.value("frames_sent").toInteger());
        QVERIFY(sent > lastSent);
        lastSent = sent;
        QVERIFY(r.value("bitrate").toInteger() > 0);
    }
    QVERIFY2(lines >= 2, qPrintable(run.out));
    QVERIFY(exited(*receivers.all[0], 30000));
    QCOMPARE(md5Column(readFile(receivers.md5Paths[0])), m_clip.reference);
}

// Names from HELLO: two receivers that call themselves the same are listed
// as "lab" and "lab (2)", said once; one without --name is its host name.
void TestFanout::duplicateNamesListedApart()
{
    QProcess empty;
    empty.start(QStringLiteral(RECEIVER_EXECUTABLE), {"--headless", "--name", " "});
    QVERIFY(empty.waitForFinished(10000));
    QCOMPARE(empty.exitCode(), int(h264link::ExitUsage));
    QVERIFY2(empty.readAllStandardError().contains("--name needs a name"), "no sentence for an empty --name");

    Receivers receivers;
    QVERIFY(startReceivers(&receivers, 1, {"--name", "lab"}));
    QVERIFY(startReceivers(&receivers, 1, {"--name", "lab"}));
    QVERIFY(startReceivers(&receivers, 1, {"--name", "front row"}));
    QVERIFY(startReceivers(&receivers, 1));
    const SenderRun run = runSender({m_clip.path, "--host", receivers.hostList(), "--stats", "--quiet"});
    QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    QStringList names;
    for (const QString &line : run.out.split('\n')) {
        const QJsonArray list = QJsonDocument::fromJson(line.toUtf8()).object().value("receivers").toArray();
        if (list.size() == 4 && list.last().toObject().value("state") == QLatin1String("streaming")) {
            names.clear();
            for (const QJsonValue &r : list)
                names << r.toObject().value("name").toString();
        }
    }
    QCOMPARE(names.size(), 4);
    QCOMPARE(names[2], QStringLiteral("front row"));
    QCOMPARE(names[3], QSysInfo::machineHostName());
    names = names.mid(0, 2);
    names.sort(); // the first two connect at once: either may be first
    QCOMPARE(names, (QStringList{"lab", "lab (2)"}));
    QCOMPARE(run.err.count(QLatin1String("calls itself \"lab\"")), 1);
    QVERIFY2(run.err.contains(QLatin1String("listed as \"lab (2)\"")), qPrintable(run.err));
    for (size_t i = 0; i < receivers.all.size(); ++i) {
        QVERIFY(exited(*receivers.all[i], 30000));
        QCOMPARE(md5Column(readFile(receivers.md5Paths[int(i)])), m_clip.reference);
    }
}

QTEST_GUILESS_MAIN(TestFanout)
#include "tst_fanout.moc"
