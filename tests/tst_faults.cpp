// Faults on loopback: the receiver dies mid-stream, or is stopped and started
// again; the sender retries and continues from where it is; the sender starts
// before any receiver.
#include "app_runner.h"
#include "exit_codes.h"
#include "test_support.h"

#include <QDir>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QtTest>
#include <arpa/inet.h>
#include <csignal>
#include <functional>
#include <memory>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace testsupport;
using namespace h264link;

namespace {

constexpr int kFps = 25; // the fault clip: 8 s at 25 fps, a keyframe every second

// The socket inodes among a process's open files ("self" for this one).
QSet<QByteArray> socketInodes(const QString &pid)
{
    QSet<QByteArray> inodes;
    const QString fdDir = QStringLiteral("/proc/%1/fd/").arg(pid);
    for (const QString &fd : QDir(fdDir).entryList(QDir::AllEntries | QDir::System | QDir::NoDotAndDotDot)) {
        char target[64] = {};
        const ssize_t n = ::readlink(qPrintable(fdDir + fd), target, sizeof target - 1);
        const QByteArray name(target, n > 0 ? int(n) : 0); // "socket:[12345]"
        if (name.startsWith("socket:["))
            inodes.insert(name.mid(8, name.size() - 9));
    }
    return inodes;
}

// Whether process `pid` has a TCP socket of its own (not one inherited from
// this process) in `state`, the st column of /proc/net/tcp ("02": SYN_SENT).
bool hasTcpSocketInState(qint64 pid, const QByteArray &state)
{
    const QSet<QByteArray> inodes = socketInodes(QString::number(pid)) - socketInodes(QStringLiteral("self"));
    for (const QByteArray &line : readFile(QStringLiteral("/proc/%1/net/tcp").arg(pid)).split('\n')) {
        const QList<QByteArray> f = line.simplified().split(' ');
        if (f.size() > 9 && f[3] == state && inodes.contains(f[9]))
            return true;
    }
    return false;
}

// A listening socket's accept queue is full (Linux reports the queue length
// and its limit in tcp_info for a listener).
bool acceptQueueFull(int listener)
{
    tcp_info info{};
    socklen_t size = sizeof info;
    return ::getsockopt(listener, IPPROTO_TCP, TCP_INFO, &info, &size) == 0
        && info.tcpi_unacked > info.tcpi_sacked;
}

// A loopback port that drops SYNs as a firewall does: a listener whose
// accept queue is full, so a connect hangs as it does for an unreachable
// host, without leaving loopback.
class DroppingPort {
public:
    DroppingPort()
    {
        m_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof addr;
        if (::bind(m_listener, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || ::listen(m_listener, 0) != 0
            || ::getsockname(m_listener, reinterpret_cast<sockaddr *>(&addr), &length) != 0)
            return;
        for (int i = 0; i < 3; ++i) { // never accepted
            m_fillers.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
            ::connect(m_fillers.back(), reinterpret_cast<sockaddr *>(&addr), sizeof addr);
        }
        m_port = ntohs(addr.sin_port);
    }
    ~DroppingPort()
    {
        for (int fd : m_fillers)
            ::close(fd);
        ::close(m_listener);
    }
    quint16 port() const { return m_port; } // 0 if it could not be set up
    bool dropping() const { return acceptQueueFull(m_listener); }

private:
    int m_listener = -1;
    std::vector<int> m_fillers;
    quint16 m_port = 0;
};

} // namespace

class TestFaults : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void receiverKilledIsReported();
    void receiverRestartedInClass_data();
    void receiverRestartedInClass();
    void idleReceiverClosesAtOnce();
    void retryReconnectsAndContinues();
    void senderStartedFirstWaitsForReceiver();
    void endOfStreamSurvivesASlowReceiver();
    void receiverFailureReachesTheSender_data();
    void receiverFailureReachesTheSender();
    void stopEndsAConnectWait();
    void connectTimeoutNamesTheFirewall();
    void unconfirmedEndIsNotDone_data();
    void unconfirmedEndIsNotDone();

private:
    QString smallClip(); // 2 s of 160x120: fits in the socket buffers

    QTemporaryDir m_dir;
    QString m_clip; // 8 s, a keyframe every second, no B-frames (makeGopClip)
    QStringList m_reference;
    QList<int> m_keyFrames; // display-order indices, from ffprobe
};

void TestFaults::initTestCase()
{
    QVERIFY(m_dir.isValid());
    GopClip clip;
    QCOMPARE(makeGopClip(m_dir.filePath("gops.mp4"), kFps, 8.0, &clip), QString());
    m_clip = clip.path;
    m_reference = clip.reference;
    m_keyFrames = clip.keyFrames;
    QVERIFY2(m_keyFrames.size() > 3, qPrintable(QString::number(m_keyFrames.size())));
}

void TestFaults::receiverKilledIsReported()
{
    const QString md5Path = m_dir.filePath("killed.framemd5");
    ReceiverProcess receiver({"--framemd5", md5Path});
    QVERIFY(receiver.port());
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE),
                 {m_clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port())});
    QTRY_VERIFY_WITH_TIMEOUT(!md5Column(readFile(md5Path)).isEmpty(), 5000); // mid-stream
    receiver.process().kill();
    QElapsedTimer timer;
    timer.start();
    QVERIFY(sender.waitForFinished(5000));
    QVERIFY2(timer.elapsed() < 2000, qPrintable(QString("noticed after %1 ms").arg(timer.elapsed())));
    QCOMPARE(sender.exitCode(), int(ExitConnectionFailed));
    const QString err = QString::fromUtf8(sender.readAllStandardError());
    QVERIFY2(err.contains("receiver closed the connection") || err.contains("sending failed"), qPrintable(err));
}

// Restarting the receiver in class: Ctrl+C (SIGINT) or SIGTERM on the
// receiver, with or without its window, is a clean close. It tells the sender
// why (ERROR 10), waits for it to hang up and exits 0; a sender with --retry
// says so and keeps going, and when the receiver is started again on the same
// port it carries on from a keyframe to the end of the file. (Without --retry
// the sender ends: tst_sender_ending.)
void TestFaults::receiverRestartedInClass_data()
{
    QTest::addColumn<int>("signal");
    QTest::addColumn<bool>("headless");
    QTest::newRow("SIGTERM, headless") << int(SIGTERM) << true;
    QTest::newRow("SIGINT, headless") << int(SIGINT) << true;
    QTest::newRow("SIGTERM, window") << int(SIGTERM) << false;
}

void TestFaults::receiverRestartedInClass()
{
    QFETCH(int, signal);
    QFETCH(bool, headless);
    const QString name = QStringLiteral("restart-%1-%2").arg(signal).arg(headless);
    const QString firstMd5 = m_dir.filePath(name + "-first.framemd5");
    ReceiverProcess first({"--framemd5", firstMd5}, {}, headless);
    QVERIFY2(first.port(), qPrintable(first.output()));
    const QString port = QString::number(first.port());
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE), {m_clip, "--host", "127.0.0.1", "--port", port, "--retry"});
    QTRY_VERIFY_WITH_TIMEOUT(md5Column(readFile(firstMd5)).size() >= kFps, 10000); // mid-stream: 1 s shown
    ::kill(pid_t(first.process().processId()), signal);
    QVERIFY2(first.waitForExit(5000), qPrintable(first.output()));
    QCOMPARE(first.process().exitStatus(), QProcess::NormalExit);
    QVERIFY2(first.process().exitCode() == 0, qPrintable(first.output()));
    QVERIFY2(first.output().contains("the receiver was closed"), qPrintable(first.output()));
    const QStringList shown = md5Column(readFile(firstMd5));
    QCOMPARE(shown, m_reference.mid(0, shown.size()));

    QByteArray err; // accumulated: QTRY_VERIFY evaluates its expression more than once
    QTRY_VERIFY_WITH_TIMEOUT((err += sender.readAllStandardError()).contains("retrying"), 5000);
    QVERIFY2(err.contains("the receiver was closed on 127.0.0.1:" + port.toUtf8()), err.constData());
    QCOMPARE(sender.state(), QProcess::Running);

    const QString md5Path = m_dir.filePath(name + "-again.framemd5");
    ReceiverProcess again({"--port", port, "--once", "--framemd5", md5Path});
    QVERIFY2(again.port(), qPrintable(again.output()));
    QVERIFY(sender.waitForFinished(20000));
    err += sender.readAllStandardError();
    QCOMPARE(sender.exitStatus(), QProcess::NormalExit);
    QVERIFY2(sender.exitCode() == ExitOk, err.constData());
    QVERIFY(again.waitForExit(10000));
    QVERIFY2(again.process().exitCode() == 0, qPrintable(again.output()));

    // The receiver started again got whole GOPs: from a keyframe at or after
    // the point where the first one was stopped, to the end of the file.
    const QStringList got = md5Column(readFile(md5Path));
    QVERIFY(!got.isEmpty());
    const int start = int(m_reference.indexOf(got.first()));
    QVERIFY2(m_keyFrames.contains(start) && start >= shown.size(),
             qPrintable(QString("resumed at frame %1, stopped after frame %2").arg(start).arg(shown.size())));
    QCOMPARE(got, m_reference.mid(start));
}

void TestFaults::idleReceiverClosesAtOnce()
{
    ReceiverProcess receiver({});
    QVERIFY(receiver.port());
    ::kill(pid_t(receiver.process().processId()), SIGTERM);
    QVERIFY(receiver.waitForExit(5000));
    QCOMPARE(receiver.process().exitStatus(), QProcess::NormalExit);
    QCOMPARE(receiver.process().exitCode(), 0);
}

// The receiver's own output fails: the sender is told why and stops,
// instead of streaming into the void, and the receiver does not pretend it
// kept the checksums. A full disk is staged two ways: /dev/full fails the
// very first write; a file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored so
// that write() returns EFBIG) fails mid-stream, about 60 frames in, with the
// sender paced or sending as fast as it can.
void TestFaults::receiverFailureReachesTheSender_data()
{
    QTest::addColumn<bool>("midStream");
    QTest::addColumn<bool>("fast");
    QTest::newRow("at the first write (/dev/full)") << false << false;
    QTest::newRow("mid-stream, paced") << true << false;
    QTest::newRow("mid-stream, --fast") << true << true;
}

void TestFaults::receiverFailureReachesTheSender()
{
    QFETCH(bool, midStream);
    QFETCH(bool, fast);
    if (!midStream && !QFileInfo::exists(QStringLiteral("/dev/full")))
        H264LINK_SKIP_UNLESS_CI("no /dev/full on this system");
    const QString md5Path = midStream ? m_dir.filePath("limited.framemd5") : QStringLiteral("/dev/full");
    std::function<void()> limitFileSize;
    if (midStream) {
        limitFileSize = [] {
            const rlimit limit{4096, 4096};
            ::setrlimit(RLIMIT_FSIZE, &limit);
            ::signal(SIGXFSZ, SIG_IGN);
        };
    }
    ReceiverProcess receiver({"--once", "--framemd5", md5Path}, limitFileSize);
    QVERIFY(receiver.port());
    QStringList args{m_clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port())};
    if (fast)
        args << "--fast";
    const SenderRun run = runSender(args);
    QVERIFY2(run.exitCode == ExitProtocolError, qPrintable(QString::number(run.exitCode) + ": " + run.err));
    QVERIFY2(run.err.contains("the receiver stopped the stream: --framemd5: cannot write '" + md5Path + "'"),
             qPrintable(run.err));
    if (!fast)
        QVERIFY(run.elapsedMs < 6000); // told at once, not after the 8 s clip
    QVERIFY(receiver.waitForExit(10000));
    QCOMPARE(receiver.process().exitCode(), int(ExitFailure));
    const QString out = receiver.output();
    // Paced, the failure comes mid-stream; --fast, the whole clip may be sent
    // before the decoder gets there, and the ERROR then answers END_OF_STREAM.
    QVERIFY2(out.contains("pipeline error: --framemd5: cannot write"), qPrintable(out));
    if (!fast)
        QVERIFY2(out.contains("(the receiver failed)"), qPrintable(out));
    if (midStream) {
        // What was written before the failure is right, frame by frame (the
        // limit may cut the last line short: only whole lines count).
        QByteArray written = readFile(md5Path);
        written.truncate(written.lastIndexOf('\n') + 1);
        const QStringList got = md5Column(written);
        QVERIFY2(got.size() > 10 && got.size() < m_reference.size(), qPrintable(QString::number(got.size())));
        QCOMPARE(got, m_reference.mid(0, got.size()));
    }
}

// Stop (here SIGTERM, as Ctrl+C) while the sender waits for a host that does
// not answer ends the wait at once, not when --connect-timeout runs out.
void TestFaults::stopEndsAConnectWait()
{
    auto dropping = std::make_unique<DroppingPort>();
    QVERIFY(dropping->port());
    QTRY_VERIFY_WITH_TIMEOUT(dropping->dropping(), 2000);

    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE), {m_clip, "--host", "127.0.0.1", "--port",
                                                     QString::number(dropping->port()),
                                                     "--connect-timeout", "30"});
    QVERIFY(sender.waitForStarted());
    // The wait is real: the sender's connect is in SYN_SENT.
    QTRY_VERIFY_WITH_TIMEOUT(hasTcpSocketInState(sender.processId(), "02"), 5000);
    const bool stillWaiting = sender.state() == QProcess::Running;
    QElapsedTimer sinceStop;
    sinceStop.start();
    sender.terminate();
    const bool finished = sender.waitForFinished(5000);
    const qint64 stopMs = sinceStop.elapsed();
    dropping.reset();
    QVERIFY(stillWaiting);
    QVERIFY(finished);
    QVERIFY2(stopMs < 1000, qPrintable(QString("stopping took %1 ms").arg(stopMs)));
    QCOMPARE(sender.exitCode(), int(ExitOk));
    const QString out = QString::fromUtf8(sender.readAllStandardOutput() + sender.readAllStandardError());
    QVERIFY2(out.contains("stopped: sent 0 frames"), qPrintable(out));
}

void TestFaults::connectTimeoutNamesTheFirewall()
{
    // A port that drops the SYN, as a firewall does: the timeout says so.
    DroppingPort dropping;
    QVERIFY(dropping.port());
    QTRY_VERIFY_WITH_TIMEOUT(dropping.dropping(), 2000);
    const QString port = QString::number(dropping.port());
    const SenderRun run = runSender({m_clip, "--host", "127.0.0.1", "--port", port, "--connect-timeout", "1"});
    QCOMPARE(run.exitCode, int(ExitConnectionFailed));
    // One line that says what happened and what may cause it.
    QVERIFY2(run.err.contains(QStringLiteral("sender: no answer from 127.0.0.1:%1 within 1 s: is the host reachable, "
                                             "and does a firewall let port %1 through?\n").arg(port)),
             qPrintable(run.err));
}

void TestFaults::retryReconnectsAndContinues()
{
    const QString firstMd5 = m_dir.filePath("first.framemd5");
    auto first = std::make_unique<ReceiverProcess>(QStringList{"--framemd5", firstMd5});
    QVERIFY(first->port());
    const QString port = QString::number(first->port());
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE), {m_clip, "--host", "127.0.0.1", "--port", port, "--retry"});
    QTRY_VERIFY_WITH_TIMEOUT(md5Column(readFile(firstMd5)).size() >= 2 * kFps, 10000); // 2 s shown
    first.reset(); // killed
    QElapsedTimer offline;
    offline.start();
    const int killedAt = int(md5Column(readFile(firstMd5)).size()); // the sender was at least this far
    QByteArray err; // accumulated: QTRY_VERIFY evaluates its expression more than once
    QTRY_VERIFY_WITH_TIMEOUT((err += sender.readAllStandardError()).contains("retrying"), 5000);
    QCOMPARE(sender.state(), QProcess::Running);
    // Nobody listens for a while: the time that passes is what is under test.
    QTest::qWait(1000);

    const QString md5Path = m_dir.filePath("second.framemd5");
    ReceiverProcess second({"--port", port, "--once", "--framemd5", md5Path});
    QVERIFY2(second.port(), qPrintable(second.output()));
    const int offlineFrames = int(offline.elapsed() * kFps / 1000);
    QVERIFY(sender.waitForFinished(20000));
    QCOMPARE(sender.exitCode(), 0);
    QVERIFY(second.waitForExit(10000));
    QCOMPARE(second.process().exitCode(), 0);

    // The second receiver got a run of whole GOPs: from a keyframe after the
    // point where the first one died, to the end of the file. Nothing restarted.
    const QStringList got = md5Column(readFile(md5Path));
    QVERIFY(!got.isEmpty());
    const int start = int(m_reference.indexOf(got.first()));
    qInfo("killed after frame %d, %d frames' time offline, resumed at frame %d", killedAt, offlineFrames, start);
    QVERIFY2(start >= killedAt && m_keyFrames.contains(start),
             qPrintable(QString("resumed at frame %1, killed after frame %2").arg(start).arg(killedAt)));
    // Live: the file kept moving in real time while nobody was connected, so
    // it resumed at least that much further on (a frame of slack for pacing).
    QVERIFY2(start >= killedAt + offlineFrames - 1,
             qPrintable(QString("resumed at frame %1, killed after frame %2 and %3 frames' time offline: "
                                "the sender paused instead").arg(start).arg(killedAt).arg(offlineFrames)));
    QCOMPARE(got, m_reference.mid(start));
    QVERIFY(QString::fromUtf8(sender.readAllStandardOutput()).contains("frames skipped to stay live"));
}

void TestFaults::senderStartedFirstWaitsForReceiver()
{
    quint16 freePort = 0;
    {
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::Any));
        freePort = probe.serverPort();
    }
    const QString port = QString::number(freePort);
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE),
                 {m_clip, "--host", "127.0.0.1", "--port", port, "--retry", "--fast"});
    QByteArray err; // accumulated: QTRY_VERIFY evaluates its expression more than once
    QTRY_VERIFY_WITH_TIMEOUT((err += sender.readAllStandardError()).contains("refused"), 5000);
    // It keeps retrying (every second) and does not give up: the time that
    // passes is what is under test, there is nothing to poll for.
    QTest::qWait(1500);
    QCOMPARE(sender.state(), QProcess::Running);

    const QString md5Path = m_dir.filePath("late.framemd5");
    ReceiverProcess receiver({"--port", port, "--once", "--framemd5", md5Path});
    QVERIFY2(receiver.port(), qPrintable(receiver.output()));
    QVERIFY(sender.waitForFinished(20000));
    QCOMPARE(sender.exitCode(), 0);
    QVERIFY(receiver.waitForExit(10000));
    QCOMPARE(md5Column(readFile(md5Path)), m_reference); // it waited: the whole file arrived
}

void TestFaults::endOfStreamSurvivesASlowReceiver()
{
    // A heavy clip sent --fast to a receiver slowed down by --framemd5: the
    // sender finishes long before the receiver has read everything, while
    // PINGs keep coming its way. Closing with unread PINGs used to send RST,
    // and the receiver lost its unread tail and END_OF_STREAM.
    const QString heavy = m_dir.filePath("heavy.mp4");
    QCOMPARE(makeHeavyClip(heavy, 3), QString());
    const int frames = int(referenceMd5(heavy).size());
    // Slow (--framemd5) and fast receivers: in both, the tail of the stream
    // waits in the receiver's socket buffer while its pipe is full.
    for (int run = 0; run < 4; ++run) {
        QStringList args{"--once"};
        if (run % 2 == 0)
            args << "--framemd5" << m_dir.filePath("heavy.framemd5");
        ReceiverProcess receiver(args);
        QVERIFY(receiver.port());
        const SenderRun sender = runSender({heavy, "--host", "127.0.0.1", "--port",
                                            QString::number(receiver.port()), "--fast"});
        QVERIFY2(sender.exitCode == 0, qPrintable(sender.err));
        // "done" on the receiver's word: it decoded every frame, then said so.
        QVERIFY2(sender.out.contains(QString("the receiver confirmed %1 frames decoded").arg(frames)),
                 qPrintable(sender.out));
        QVERIFY(receiver.waitForExit(30000));
        QVERIFY2(receiver.process().exitCode() == 0, qPrintable(receiver.output()));
        QVERIFY2(receiver.output().contains(QString("(end of stream): %1 of %1 frames received").arg(frames)),
                 qPrintable(receiver.output()));
    }
}

// The sender says "done" (exit 0) only when the receiver confirmed, after
// decoding, that it got every frame. A receiver frozen (SIGSTOP) through the
// end of the stream never does: the sender waits while it can, then exits 5
// with what it knows, whether the receiver then dies or just stays silent.
void TestFaults::unconfirmedEndIsNotDone_data()
{
    QTest::addColumn<bool>("killed");
    QTest::newRow("receiver killed while the sender waits") << true;
    QTest::newRow("receiver silent") << false;
}

void TestFaults::unconfirmedEndIsNotDone()
{
    QFETCH(bool, killed);
    const QString small = smallClip();
    QVERIFY(!small.isEmpty());
    ReceiverProcess receiver({"--once"});
    QVERIFY(receiver.port());
    QProcess sender;
    sender.start(QStringLiteral(SENDER_EXECUTABLE),
                 {small, "--host", "127.0.0.1", "--port", QString::number(receiver.port())});
    QTRY_VERIFY_WITH_TIMEOUT(receiver.output().contains("sender connected"), 5000);
    ::kill(pid_t(receiver.process().processId()), SIGSTOP);
    QByteArray err; // accumulated: QTRY_VERIFY evaluates its expression more than once
    QTRY_VERIFY_WITH_TIMEOUT((err += sender.readAllStandardError()).contains("waiting for the receiver to finish"),
                             6000);
    if (killed)
        receiver.process().kill();
    QVERIFY(sender.waitForFinished(10000));
    err += sender.readAllStandardError();
    if (!killed)
        ::kill(pid_t(receiver.process().processId()), SIGCONT);
    QVERIFY2(sender.exitCode() == ExitStreamIncomplete, err.constData());
    QVERIFY2(err.contains(killed ? "the receiver closed without confirming the stream"
                                 : "the receiver went silent for 5 s after the end of the stream"),
             err.constData());
}

QString TestFaults::smallClip()
{
    const QString path = m_dir.filePath("small.mp4");
    if (!QFileInfo::exists(path) && !makeClip(path, "160x120", 25, 2.0).isEmpty())
        return {};
    return path;
}

QTEST_GUILESS_MAIN(TestFaults)
#include "tst_faults.moc"
