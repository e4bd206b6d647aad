// Treat every byte the receiver reads as hostile. One long-lived receiver
// faces each hostile peer in turn, and after every one a real sender must
// still stream frame-exact. Also: corrupted slices, MEDIA after END_OF_STREAM,
// the access key, a second sender while one is live, and flat memory.
#include "annexb.h"
#include "app_runner.h"
#include "exit_codes.h"
#include "message_decoder.h"
#include "protocol.h"
#include "test_support.h"

#include <QFile>
#include <QRandomGenerator>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <functional>
#include <optional>

using namespace testsupport;
using namespace h264link;

namespace {

QByteArray validHello()
{
    proto::MessageWriter writer;
    return writer.encode(proto::MessageType::Hello, proto::serialize(proto::Hello{}));
}

qint64 residentKiB(qint64 pid)
{
    QFile status(QStringLiteral("/proc/%1/status").arg(pid));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').first().toLongLong();
    }
    return -1;
}

} // namespace

class TestHostile : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void hostilePeerThenRealSender_data();
    void hostilePeerThenRealSender();
    void corruptedSlicesAreCountedAndHeal();
    void memoryStaysFlat();
    void pingFloodIsCutOff();
    void undecodableStreamGetsAnError();
    void mediaAfterEndOfStreamIsAProtocolError();
    void busyIsAnsweredDuringAFastStream();
    void secondSenderIsRefusedWhileLive();
    void accessKey();
    void cleanupTestCase();

private:
    void streamFrameExact(ReceiverProcess &receiver, const QString &md5Path, const QStringList &extra = {},
                          const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment());
    int streamsEnded(ReceiverProcess &receiver) { return int(receiver.output().count("stream from")); }
    // Streams ended, and peers refused before a stream began (IncomingChannel).
    int peersDropped(ReceiverProcess &receiver)
    {
        return streamsEnded(receiver) + int(receiver.output().count("receiver: refused "));
    }

    QTemporaryDir m_dir;
    QString m_clip;
    QStringList m_reference;
    std::unique_ptr<ReceiverProcess> m_receiver;
};

void TestHostile::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_clip = m_dir.filePath("clip.mp4");
    QCOMPARE(makeClip(m_clip, "320x240", 25, 1.2), QString());
    m_reference = referenceMd5(m_clip);
    m_receiver = std::make_unique<ReceiverProcess>(QStringList{"--framemd5", m_dir.filePath("long.framemd5")});
    QVERIFY(m_receiver->port());
}

void TestHostile::cleanupTestCase()
{
    m_receiver.reset();
}

void TestHostile::streamFrameExact(ReceiverProcess &receiver, const QString &md5Path,
                                   const QStringList &extra, const QProcessEnvironment &env)
{
    const int before = streamsEnded(receiver);
    QProcess sender;
    sender.setProcessEnvironment(env);
    sender.start(QStringLiteral(SENDER_EXECUTABLE),
                 QStringList{m_clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port()),
                             "--fast"} + extra);
    QVERIFY(sender.waitForFinished(30000));
    QVERIFY2(sender.exitCode() == 0, sender.readAllStandardError().constData());
    QTRY_VERIFY_WITH_TIMEOUT(streamsEnded(receiver) > before, 10000);
    QVERIFY2(receiver.output().contains(QString("(end of stream): %1 of %1 frames received")
                                            .arg(m_reference.size())),
             qPrintable(receiver.output()));
    QCOMPARE(md5Column(readFile(md5Path)), m_reference);
}

void TestHostile::hostilePeerThenRealSender_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("bytesPerSecond"); // 0: all at once
    QTest::addColumn<bool>("closeAfterSending");
    QTest::addColumn<QString>("expected"); // in the receiver's report

    QRandomGenerator rng(testSeed());
    QByteArray random(64 * 1024, Qt::Uninitialized);
    for (auto &c : random)
        c = char(rng.bounded(256));
    random[0] = 'X'; // never the magic by chance
    QTest::newRow("random bytes") << random << 0 << false << "bad magic";
    QTest::newRow("HTTP request") << QByteArray("GET /video HTTP/1.1\r\nHost: x\r\n\r\n") << 0 << false
                                  << "bad magic";
    QTest::newRow("truncated header, then disconnect") << validHello().left(10) << 0 << true
                                                       << "sender disconnected";
    proto::Header huge;
    huge.type = quint8(proto::MessageType::Media);
    huge.payloadLength = 0xFFFFFF00u;
    QByteArray header(proto::kHeaderSize, '\0');
    proto::writeHeader(huge, header.data());
    QTest::newRow("header announcing a huge payload") << header << 0 << false << "exceeds the protocol maximum";
    QTest::newRow("one byte per second") << validHello() << 1 << false << "no complete h264link handshake";
    // Dropped before the handshake: the first byte (TLS or not?) never came.
    QTest::newRow("connects and says nothing") << QByteArray() << 0 << false
                                               << "the peer connected but sent nothing for 5 s";
    QTest::newRow("HELLO, then silence") << validHello() << 0 << false << "the sender stopped responding";
    QTest::newRow("MEDIA before HELLO")
        << proto::MessageWriter().encode(proto::MessageType::Media, proto::serialize(proto::Media{}))
        << 0 << false << "before HELLO";
}

void TestHostile::hostilePeerThenRealSender()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, bytesPerSecond);
    QFETCH(bool, closeAfterSending);
    QFETCH(QString, expected);
    ReceiverProcess &receiver = *m_receiver;
    const int before = peersDropped(receiver);

    QTcpSocket peer;
    peer.connectToHost(QHostAddress::LocalHost, receiver.port());
    QVERIFY(peer.waitForConnected(5000));
    QElapsedTimer timer;
    timer.start();
    if (bytesPerSecond == 0) {
        peer.write(bytes);
        peer.waitForBytesWritten(5000);
    } else {
        for (int i = 0; i < bytes.size() && peer.state() == QAbstractSocket::ConnectedState; ++i) {
            peer.write(bytes.mid(i, 1));
            peer.waitForBytesWritten(1000);
            QTest::qWait(1000 / bytesPerSecond);
        }
    }
    if (closeAfterSending)
        peer.disconnectFromHost();
    // The receiver drops the peer (by 5 s for a handshake that never ends,
    // by 10 s for a sender that goes quiet after it)...
    QTRY_VERIFY_WITH_TIMEOUT(peersDropped(receiver) > before, 13000);
    QVERIFY2(receiver.output().contains(expected), qPrintable(receiver.output()));
    if (!closeAfterSending)
        QTRY_COMPARE_WITH_TIMEOUT(peer.state(), QAbstractSocket::UnconnectedState, 2000);
    QCOMPARE(receiver.process().state(), QProcess::Running);
    // ...and the next, real sender streams frame-exact.
    streamFrameExact(receiver, m_dir.filePath("long.framemd5"));
}

void TestHostile::corruptedSlicesAreCountedAndHeal()
{
    // 3 GOPs of 25 frames; slices of frames 3..12 are overwritten with junk.
    constexpr int kFirstDamaged = 3, kLastDamaged = 12;
    const QString clean = m_dir.filePath("gops.h264");
    const ToolResult made = ffmpeg({"-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3",
                                    "-c:v", "libx264", "-bf", "0", "-g", "25", "-keyint_min", "25",
                                    "-sc_threshold", "0", "-pix_fmt", "yuv420p", clean});
    QVERIFY2(made.ok(), made.err.constData());
    QByteArray stream = readFile(clean);
    int slice = 0;
    for (const auto &nal : annexb::split(stream)) {
        if (!annexb::isSlice(nal.type))
            continue;
        if (slice >= kFirstDamaged && slice <= kLastDamaged && nal.size > 16) {
            for (qsizetype i = nal.offset + 4; i < nal.offset + nal.size; i += 3)
                stream[i] = char(0x5A ^ stream[i]);
        }
        ++slice;
    }
    QCOMPARE(slice, ffprobeFrameCount(clean)); // one slice per frame
    const QString broken = m_dir.filePath("broken.h264");
    QFile out(broken);
    QVERIFY(out.open(QIODevice::WriteOnly));
    out.write(stream);
    out.close();

    ReceiverProcess &receiver = *m_receiver;
    const int before = streamsEnded(receiver);
    const SenderRun run = runSender({broken, "--host", "127.0.0.1", "--port",
                                     QString::number(receiver.port()), "--fast"});
    QTRY_VERIFY_WITH_TIMEOUT(streamsEnded(receiver) > before, 10000);
    const QString report = receiver.output().split("stream from").last();
    // "Done" (0) only if the receiver decoded every frame sent; frames its
    // decoder dropped make it 5, with the counts.
    static const QRegularExpression decodedCount("(\\d+) decoded");
    const int decoded = decodedCount.match(report).captured(1).toInt();
    if (decoded == slice) // one slice per frame
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    else
        QVERIFY2(run.exitCode == ExitStreamIncomplete
                     && run.err.contains(QStringLiteral("decoded only %1").arg(decoded)), qPrintable(run.err));
    static const QRegularExpression damage("(\\d+) decode errors(, (\\d+) frames concealed)?");
    const auto m = damage.match(report);
    QVERIFY2(m.hasMatch() && (m.captured(1).toInt() + m.captured(3).toInt()) > 0, qPrintable(report));

    // From the next keyframe on, every picture is exact again.
    const QList<int> keys = ffprobeKeyFrameIndices(clean);
    const auto next = std::find_if(keys.begin(), keys.end(), [](int k) { return k > kLastDamaged; });
    QVERIFY2(next != keys.end(), "no keyframe after the damage");
    const QStringList reference = referenceMd5(clean);
    const QStringList got = md5Column(readFile(m_dir.filePath("long.framemd5")));
    QCOMPARE(reference.size(), slice);
    const QStringList healed = reference.mid(*next);
    QVERIFY(got.size() >= healed.size());
    QCOMPARE(got.mid(got.size() - healed.size()), healed);
    QVERIFY(got.mid(0, kLastDamaged + 1) != reference.mid(0, kLastDamaged + 1)); // the damage was real
    streamFrameExact(receiver, m_dir.filePath("long.framemd5"));
}

void TestHostile::memoryStaysFlat()
{
#if defined(__SANITIZE_ADDRESS__)
    QSKIP("ASan keeps freed memory in quarantine, so RSS says nothing here; the plain build "
          "checks the bound, and LeakSanitizer checks for leaks in this one");
#endif
    ReceiverProcess &receiver = *m_receiver;
    const qint64 pid = receiver.process().processId();
    const qint64 start = residentKiB(pid);
    QVERIFY(start > 0);
    for (int round = 0; round < 15; ++round) {
        const int before = streamsEnded(receiver);
        QTcpSocket peer;
        peer.connectToHost(QHostAddress::LocalHost, receiver.port());
        QVERIFY(peer.waitForConnected(5000));
        // HELLO, then a MEDIA header promising the maximum payload, all of it
        // but the last byte, then a hang-up: the receiver buffers a nearly
        // whole message each round and must let it go each time.
        proto::Header media;
        media.type = quint8(proto::MessageType::Media);
        media.sequence = 1;
        media.payloadLength = proto::kMaxPayloadSize;
        QByteArray header(proto::kHeaderSize, '\0');
        proto::writeHeader(media, header.data());
        peer.write(validHello() + header);
        peer.write(QByteArray(int(proto::kMaxPayloadSize) - 1, '\x33'));
        peer.waitForBytesWritten(5000);
        peer.disconnectFromHost();
        QTRY_VERIFY_WITH_TIMEOUT(streamsEnded(receiver) > before, 8000);
    }
    streamFrameExact(receiver, m_dir.filePath("long.framemd5"));
    const qint64 end = residentKiB(pid);
    QVERIFY2(end - start < 40 * 1024, qPrintable(QString("RSS grew from %1 to %2 KiB").arg(start).arg(end)));
}

void TestHostile::pingFloodIsCutOff()
{
    // PINGs as fast as possible, never reading the PONGs: the replies would
    // pile up in the receiver without bound.
    ReceiverProcess &receiver = *m_receiver;
    const int before = streamsEnded(receiver);
    QTcpSocket peer;
    peer.connectToHost(QHostAddress::LocalHost, receiver.port());
    QVERIFY(peer.waitForConnected(5000));
    proto::MessageWriter writer;
    peer.write(writer.encode(proto::MessageType::Hello, proto::serialize(proto::Hello{})));
    QByteArray burst;
    for (int i = 0; i < 4096; ++i)
        burst += writer.encode(proto::MessageType::Ping, {});
    for (int i = 0; i < 2000 && peer.state() == QAbstractSocket::ConnectedState; ++i) {
        peer.write(burst);
        peer.waitForBytesWritten(100);
    }
    QTRY_VERIFY_WITH_TIMEOUT(streamsEnded(receiver) > before, 10000);
    QVERIFY2(receiver.output().contains("PING flood"), qPrintable(receiver.output()));
    streamFrameExact(receiver, m_dir.filePath("long.framemd5"));
}

// A sender whose stream has no SPS/PPS: every slice is undecodable. At the
// end the receiver answers END_OF_STREAM with ERROR 9 saying so, not with
// RECEIVED, and then serves the next sender as usual.
void TestHostile::undecodableStreamGetsAnError()
{
    ReceiverProcess &receiver = *m_receiver;
    const int before = streamsEnded(receiver);
    QTcpSocket peer;
    peer.connectToHost(QHostAddress::LocalHost, receiver.port());
    QVERIFY(peer.waitForConnected(5000));
    proto::MessageWriter writer;
    QByteArray out = writer.encode(proto::MessageType::Hello, proto::serialize(proto::Hello{}));
    const QByteArray slice = QByteArray::fromHex("00000001 419a 2233 4455 6677 8899 aabb");
    const quint16 whole = proto::AccessUnitStart | proto::AccessUnitEnd;
    for (int i = 0; i < 5; ++i)
        out += writer.encode(proto::MessageType::Media, proto::serialize(proto::Media{i * 40'000, slice}), whole);
    out += writer.encode(proto::MessageType::EndOfStream, proto::serialize(proto::EndOfStream{5, 5 * 14}));
    peer.write(out);

    proto::MessageDecoder decoder;
    std::optional<proto::ErrorInfo> error;
    bool received = false;
    QDeadlineTimer deadline(10000);
    while (!error && !received && !deadline.hasExpired()) {
        if (peer.waitForReadyRead(100) || peer.bytesAvailable())
            QVERIFY(decoder.feed(peer.readAll()));
        while (decoder.hasMessage()) {
            const proto::Message m = decoder.takeMessage();
            if (m.type == proto::MessageType::Error)
                error = proto::parseErrorInfo(m.payload);
            received = received || m.type == proto::MessageType::Received;
        }
    }
    QVERIFY(!received);
    QVERIFY(error);
    QCOMPARE(error->code, quint16(proto::ErrReceiverFailed));
    QVERIFY2(error->reason.contains("nothing could be decoded"), qPrintable(error->reason));
    QTRY_VERIFY_WITH_TIMEOUT(streamsEnded(receiver) > before, 10000);
    QVERIFY2(receiver.output().contains("5 of 5 frames received, 0 decoded")
                 && receiver.output().contains("pipeline error: nothing could be decoded"),
             qPrintable(receiver.output()));
    streamFrameExact(receiver, m_dir.filePath("long.framemd5"));
}

// END_OF_STREAM closes the stream: one more MEDIA behind it would vanish
// uncounted. The receiver answers ERROR 2 naming it, drops the peer, and
// serves the next sender as usual.
void TestHostile::mediaAfterEndOfStreamIsAProtocolError()
{
    ReceiverProcess &receiver = *m_receiver;
    const int before = streamsEnded(receiver);
    QTcpSocket peer;
    peer.connectToHost(QHostAddress::LocalHost, receiver.port());
    QVERIFY(peer.waitForConnected(5000));
    proto::MessageWriter writer;
    peer.write(writer.encode(proto::MessageType::Hello, proto::serialize(proto::Hello{})));

    // Reads the receiver's messages until `done` says so or 10 s pass.
    proto::MessageDecoder decoder;
    QList<proto::MessageType> seen;
    std::optional<proto::ErrorInfo> error;
    const auto readUntil = [&](const std::function<bool()> &done) {
        for (QDeadlineTimer deadline(10000); !done() && !deadline.hasExpired();) {
            if (peer.waitForReadyRead(100) || peer.bytesAvailable())
                if (!decoder.feed(peer.readAll()))
                    return;
            while (decoder.hasMessage()) {
                const proto::Message m = decoder.takeMessage();
                seen << m.type;
                if (m.type == proto::MessageType::Error && !error)
                    error = proto::parseErrorInfo(m.payload);
            }
        }
    };
    readUntil([&] { return seen.contains(proto::MessageType::Accepted) || error; });
    QVERIFY2(!error, qPrintable(error ? error->reason : QString()));
    QVERIFY(seen.contains(proto::MessageType::Hello));
    QVERIFY(seen.contains(proto::MessageType::Accepted)); // the handshake is complete

    // One write, so the receiver reads the trailing MEDIA right behind END_OF_STREAM.
    const QByteArray slice = QByteArray::fromHex("00000001 419a 2233 4455 6677 8899 aabb");
    const quint16 whole = proto::AccessUnitStart | proto::AccessUnitEnd;
    QByteArray out;
    for (int i = 0; i < 3; ++i)
        out += writer.encode(proto::MessageType::Media, proto::serialize(proto::Media{i * 40'000, slice}), whole);
    out += writer.encode(proto::MessageType::EndOfStream, proto::serialize(proto::EndOfStream{3, 3 * 14}));
    out += writer.encode(proto::MessageType::Media, proto::serialize(proto::Media{3 * 40'000, slice}), whole);
    peer.write(out);
    QVERIFY(peer.waitForBytesWritten(5000));

    readUntil([&] { return bool(error); });
    QVERIFY2(error, "the receiver sent no ERROR for MEDIA after END_OF_STREAM");
    QCOMPARE(error->code, quint16(proto::ErrUnexpected));
    QVERIFY2(error->reason.contains("after END_OF_STREAM"), qPrintable(error->reason));
    QVERIFY(!seen.contains(proto::MessageType::Received)); // no verdict for a stream it refused
    QTRY_VERIFY_WITH_TIMEOUT(streamsEnded(receiver) > before, 10000);
    QVERIFY2(receiver.output().contains("sent MEDIA after END_OF_STREAM"), qPrintable(receiver.output()));
    QTRY_COMPARE_WITH_TIMEOUT(peer.state(), QAbstractSocket::UnconnectedState, 5000);
    QCOMPARE(receiver.process().state(), QProcess::Running);
    streamFrameExact(receiver, m_dir.filePath("long.framemd5"));
}

void TestHostile::busyIsAnsweredDuringAFastStream()
{
    // A --fast stream keeps the receiver's pipe full; its network thread must
    // still turn a second sender away at once, with the real reason.
    const QString heavy = m_dir.filePath("busy_heavy.mp4");
    QCOMPARE(makeHeavyClip(heavy, 4), QString());
    const QString busyMd5 = m_dir.filePath("busy.framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", busyMd5});
    QVERIFY(receiver.port());
    QProcess first;
    first.start(QStringLiteral(SENDER_EXECUTABLE), {heavy, "--host", "127.0.0.1", "--port",
                                                    QString::number(receiver.port()), "--fast"});
    QTRY_VERIFY_WITH_TIMEOUT(!md5Column(readFile(busyMd5)).isEmpty(), 10000); // the stream is flowing
    const SenderRun second = runSender({m_clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port())});
    QCOMPARE(second.exitCode, int(ExitProtocolError));
    QVERIFY2(second.err.contains("busy"), qPrintable(second.err));
    QVERIFY2(second.elapsedMs < 3000, qPrintable(QString("took %1 ms").arg(second.elapsedMs)));
    QVERIFY(first.waitForFinished(60000));
    QCOMPARE(first.exitCode(), 0);
    QVERIFY(receiver.waitForExit(60000));
    QCOMPARE(receiver.process().exitCode(), 0);
}

void TestHostile::secondSenderIsRefusedWhileLive()
{
    ReceiverProcess receiver({"--once", "--framemd5", m_dir.filePath("live.framemd5")});
    QVERIFY(receiver.port());
    QProcess live;
    live.start(QStringLiteral(SENDER_EXECUTABLE), {m_clip, "--host", "127.0.0.1", "--port",
                                                   QString::number(receiver.port()), "--loop"});
    QTRY_VERIFY_WITH_TIMEOUT(receiver.output().contains("sender connected"), 5000);
    // Every time, not most times: the receiver reads the intruder's HELLO and
    // waits for its close, so no reset destroys the reason.
    for (int attempt = 0; attempt < 5; ++attempt) {
        const SenderRun intruder = runSender({m_clip, "--host", "127.0.0.1", "--port",
                                              QString::number(receiver.port())});
        QVERIFY2(intruder.exitCode == int(ExitProtocolError),
                 qPrintable(QString("attempt %1: exit %2: %3").arg(attempt).arg(intruder.exitCode).arg(intruder.err)));
        QVERIFY2(intruder.err.contains("busy: another sender is streaming"),
                 qPrintable(QString("attempt %1: %2").arg(attempt).arg(intruder.err)));
    }
    // The live stream went on: into its second loop (polled, not slept).
    QTRY_VERIFY_WITH_TIMEOUT(md5Column(readFile(m_dir.filePath("live.framemd5"))).size() > m_reference.size() + 4,
                             20000);
    live.terminate();
    QVERIFY(live.waitForFinished(10000));
    QCOMPARE(live.exitCode(), 0);
    QVERIFY(receiver.waitForExit(10000));
    QCOMPARE(receiver.process().exitCode(), 0); // the live stream was not disturbed
    const QStringList got = md5Column(readFile(m_dir.filePath("live.framemd5")));
    QVERIFY(got.size() > m_reference.size());
    // The clip has B-frames and the stop cuts it in decode order, so the
    // last few pictures in display order may be ones whose B-frames never
    // came. Everything before them must be exact.
    for (int i = 0; i < got.size() - 4; ++i)
        QCOMPARE(got[i], m_reference[i % m_reference.size()]);
}

void TestHostile::accessKey()
{
    const QString keyFile = m_dir.filePath("class.key");
    QFile key(keyFile);
    QVERIFY(key.open(QIODevice::WriteOnly));
    key.write("lesson-7-secret\n");
    key.close();
    const QString md5Path = m_dir.filePath("keyed.framemd5");
    ReceiverProcess receiver({"--key-file", keyFile, "--framemd5", md5Path});
    QVERIFY(receiver.port());
    const QString port = QString::number(receiver.port());

    const SenderRun none = runSender({m_clip, "--host", "127.0.0.1", "--port", port});
    QCOMPARE(none.exitCode, int(ExitProtocolError));
    QVERIFY2(none.err.contains("requires an access key"), qPrintable(none.err));

    const SenderRun wrong = runSender({m_clip, "--host", "127.0.0.1", "--port", port, "--key", "lesson-8"});
    QCOMPARE(wrong.exitCode, int(ExitProtocolError));
    // v2: TLS-PSK; the handshake fails on both sides (docs/PROTOCOL.md).
    QVERIFY2(wrong.err.contains("access key does not match"), qPrintable(wrong.err));
    QTRY_VERIFY_WITH_TIMEOUT(receiver.output().contains("access key does not match"), 3000);
    QVERIFY(!QFile::exists(md5Path) || md5Column(readFile(md5Path)).isEmpty()); // no media accepted

    // The sender refuses a receiver that does not know the key.
    ReceiverProcess keyless(QStringList{});
    QVERIFY(keyless.port());
    const SenderRun toKeyless = runSender({m_clip, "--host", "127.0.0.1", "--port",
                                           QString::number(keyless.port()), "--key-file", keyFile});
    QCOMPARE(toKeyless.exitCode, int(ExitProtocolError));
    QVERIFY2(toKeyless.err.contains("the receiver has no access key"), qPrintable(toKeyless.err));

    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("H264LINK_KEY", "lesson-7-secret");
    streamFrameExact(receiver, md5Path, {}, env);
}

QTEST_GUILESS_MAIN(TestHostile)
#include "tst_hostile.moc"
