// Issue 14: a receiver that cannot decode a live stream in real time stays
// live. The real sender streams a generated 2160p60 clip in real time over
// loopback to the real receiver, pinned to one core so that it surely cannot
// keep up:
// - live: the receiver reads everything (the sender skips nothing: every
//   access unit ffprobe counts arrives), skips to keyframes to stay live,
//   and what it decodes plus what it skipped is the whole clip, without a
//   decode error or a concealed frame (every cut lands on a keyframe); its
//   --stats lines keep an RTT throughout;
// - with --framemd5 every frame is wanted: the receiver skips nothing
//   itself, and every frame it decodes is ffmpeg's frame with the same pts;
// - a live stream whose keyframes are too far apart (a scripted sender that
//   flags only the first one, all at once): past the byte bound the newest
//   units are dropped, and what is decoded is still clean.
// Behaviour only, no timing targets.
#include "app_runner.h"
#include "framed_media_device.h"
#include "message_decoder.h"
#include "protocol.h"
#include "receiver_connection.h"
#include "test_support.h"

#include <QBuffer>
#include <QTcpSocket>

#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>
#include <map>
#include <sched.h>

using namespace testsupport;

namespace {

// In the child, before exec: one core, so 2160p60 cannot be decoded in time.
void pinToOneCore()
{
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    CPU_SET(0, &cpus);
    sched_setaffinity(0, sizeof cpus, &cpus);
}

struct ReceiverReport {
    QList<QJsonObject> stats; // the --stats lines
    QJsonObject summary;
    QString summaryLine; // "stream from ... ended ..."
    qint64 received = -1, sent = -1, decoded = -1, decodeErrors = -1;
};

ReceiverReport parse(const QString &output)
{
    ReceiverReport r;
    static const QRegularExpression counts(
        QStringLiteral("(\\d+) of (\\d+) frames received, (\\d+) decoded, (\\d+) decode errors"));
    for (const QString &line : output.split(QLatin1Char('\n'))) {
        if (line.startsWith(QLatin1Char('{'))) {
            const QJsonObject o = QJsonDocument::fromJson(line.toUtf8()).object();
            if (o.contains(QStringLiteral("summary")))
                r.summary = o.value(QStringLiteral("summary")).toObject();
            else
                r.stats << o;
        } else if (line.contains(QStringLiteral("ended ("))) {
            r.summaryLine = line;
            const auto m = counts.match(line);
            if (m.hasMatch()) {
                r.received = m.captured(1).toLongLong();
                r.sent = m.captured(2).toLongLong();
                r.decoded = m.captured(3).toLongLong();
                r.decodeErrors = m.captured(4).toLongLong();
            }
        }
    }
    return r;
}

} // namespace

class TestKeepsUp : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void behindSkipsToKeyframesAndStaysLive();
    void everyFrameWantedKeepsEveryFrame();
    void keyframesTooFarApartDropTheNewest();

private:
    QTemporaryDir m_dir;
    QString m_clip;
    int m_units = 0;
};

void TestKeepsUp::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_clip = m_dir.filePath("2160p60.mp4");
    // A camera-like 2160p60 at about 110 Mbit/s, a keyframe every second.
    // CABAC and the deblocking filter on, as a phone's High profile has
    // them: ultrafast turns both off, which makes decoding unrealistically cheap.
    const ToolResult r = ffmpeg({"-y", "-f", "lavfi", "-i", "testsrc2=size=3840x2160:rate=60:duration=6",
                                 "-c:v", "libx264", "-preset", "ultrafast", "-coder", "1", "-flags", "+loop",
                                 "-b:v", "110M", "-g", "60", "-pix_fmt", "yuv420p", m_clip});
    QVERIFY2(r.ok(), r.err.constData());
    m_units = ffprobeVideoPacketCount(m_clip);
    QVERIFY(m_units > 0);
}

void TestKeepsUp::behindSkipsToKeyframesAndStaysLive()
{
    ReceiverProcess receiver({"--once", "--stats"}, pinToOneCore);
    QVERIFY(receiver.port() != 0);
    const SenderRun sender = runSender({m_clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port())},
                                       120000);
    QVERIFY2(receiver.waitForExit(60000), qPrintable(receiver.output()));
    const QString output = receiver.output();
    qInfo().noquote() << sender.out.trimmed() << "\n" << output.section(QLatin1Char('\n'), -4);
    QCOMPARE(receiver.process().exitCode(), 0); // skipping to stay live is no loss
    // RECEIVED says how many it skipped on purpose: the sender is done, and says so.
    QCOMPARE(sender.exitCode, 0);

    const ReceiverReport report = parse(output);
    QVERIFY2(report.received >= 0, qPrintable(output));
    QCOMPARE(report.sent, qint64(m_units));     // the sender skipped nothing
    QCOMPARE(report.received, qint64(m_units)); // and it all arrived
    QCOMPARE(report.summary.value("skipped").toObject().value("sender").toInt(-1), 0);
    const qint64 skipped = report.summary.value("stay_live").toObject().value("skipped").toInteger(-1);
    QVERIFY2(skipped > 0, qPrintable(output)); // it could not keep up, and said so
    QVERIFY(output.contains("skipping to the next keyframe to stay live"));
    QVERIFY(report.summaryLine.contains(QStringLiteral("%1 skipped by the receiver to stay live").arg(skipped)));
    // Decoded + skipped (by the receiver, and by its decoder: non-reference
    // pictures) is the clip.
    const qint64 decoderSkipped = report.summary.value("skipped").toObject().value("decoder").toInteger(-1);
    QVERIFY(decoderSkipped >= 0);
    QCOMPARE(report.decoded + skipped + decoderSkipped, qint64(m_units));
    QVERIFY2(sender.out.contains(QStringLiteral("and %1 skipped to stay live").arg(skipped + decoderSkipped)),
             qPrintable(sender.out));
    QCOMPARE(report.summary.value("frames_decoded").toInteger(-1), report.decoded);
    QCOMPARE(report.decodeErrors, qint64(0));
    QVERIFY2(!report.summaryLine.contains("concealed"), qPrintable(report.summaryLine));
    // PONG is read as it arrives, even while the receiver is behind.
    QVERIFY(report.stats.size() >= 3);
    for (const QJsonObject &line : report.stats)
        QVERIFY2(line.value("rtt_ms").isDouble(), QJsonDocument(line).toJson().constData());
}

void TestKeepsUp::everyFrameWantedKeepsEveryFrame()
{
    const QString md5Path = m_dir.filePath("out.framemd5");
    ReceiverProcess receiver({"--once", "--stats", "--framemd5", md5Path}, pinToOneCore);
    QVERIFY(receiver.port() != 0);
    const SenderRun sender = runSender({m_clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port())},
                                       120000);
    QVERIFY2(receiver.waitForExit(60000), qPrintable(receiver.output()));
    const QString output = receiver.output();
    qInfo().noquote() << sender.out.trimmed() << "\n" << output.section(QLatin1Char('\n'), -4);
    QCOMPARE(sender.exitCode, 0);
    QCOMPARE(receiver.process().exitCode(), 0);
    const ReceiverReport report = parse(output);
    QVERIFY2(report.received >= 0, qPrintable(output));
    QCOMPARE(report.summary.value("stay_live").toObject().value("skipped").toInteger(-1), qint64(0));
    QVERIFY(!report.summaryLine.contains("skipped by the receiver"));
    QCOMPARE(report.decoded, report.received);
    QCOMPARE(report.decodeErrors, qint64(0));

    // Every frame that arrived is ffmpeg's frame with the same pts. The
    // receiver holds the sender back (TCP backpressure), and a live sender
    // held back skips whole GOPs, which it counts: those are the only gaps.
    const QByteArray framemd5 = readFile(md5Path);
    const QStringList md5 = md5Column(framemd5);
    const QList<qint64> pts = ptsColumnUs(framemd5);
    const QStringList reference = referenceMd5(m_clip);
    const QList<qint64> referencePts = referencePtsUs(m_clip);
    QCOMPARE(reference.size(), m_units);
    QCOMPARE(referencePts.size(), m_units);
    QCOMPARE(md5.size(), int(report.decoded));
    QCOMPARE(pts.size(), md5.size());
    std::map<qint64, int> indexOfPts;
    for (int i = 0; i < referencePts.size(); ++i)
        indexOfPts[referencePts[i]] = i;
    int previous = -1;
    for (int i = 0; i < md5.size(); ++i) {
        const auto it = indexOfPts.find(pts[i]);
        QVERIFY2(it != indexOfPts.end(), qPrintable(QStringLiteral("frame %1: pts %2 is not the clip's").arg(i).arg(pts[i])));
        QVERIFY2(it->second > previous, qPrintable(QStringLiteral("frame %1 out of order").arg(i)));
        QVERIFY2(md5[i] == reference[it->second],
                 qPrintable(QStringLiteral("frame %1 (the clip's %2) differs from ffmpeg's").arg(i).arg(it->second)));
        previous = it->second;
    }
    QCOMPARE(report.received, report.sent);
    static const QRegularExpression senderSkipped(QStringLiteral("(\\d+) frames skipped"));
    const auto m = senderSkipped.match(sender.out + sender.err);
    QCOMPARE(report.sent + (m.hasMatch() ? m.captured(1).toLongLong() : 0), qint64(m_units));
    if (report.sent == m_units)
        QCOMPARE(md5, reference); // nothing skipped anywhere: ffmpeg's framemd5 exactly
}

void TestKeepsUp::keyframesTooFarApartDropTheNewest()
{
    using namespace h264link;
    // The clip's access units as the sender's own stages frame them.
    QBuffer wire;
    wire.open(QIODevice::WriteOnly);
    FramedMediaDevice framing(&wire);
    framing.open(QIODevice::WriteOnly);
    QCOMPARE(remuxToAnnexB(m_clip, &framing), QString());
    proto::MessageDecoder decoder;
    QVERIFY(decoder.feed(wire.data()));
    QList<proto::Media> units;
    while (decoder.hasMessage()) {
        const proto::Message m = decoder.takeMessage();
        if (m.type != proto::MessageType::Media)
            continue;
        const auto media = proto::parseMedia(m.payload);
        QVERIFY(media);
        if (m.flags & proto::AccessUnitStart)
            units.append(proto::Media{media->ptsUs, {}});
        units.last().data += media->data;
    }
    wire.buffer().clear();
    QCOMPARE(units.size(), m_units);
    qint64 total = 0;
    for (const proto::Media &unit : units)
        total += unit.data.size();
    QVERIFY2(total > ReceiverConnection::kMaxLiveQueueBytes,
             "the clip is smaller than the receiver's byte bound: nothing would be dropped");

    // A live stream that flags only its first unit a keyframe, sent all at
    // once: the receiver (one core) cannot decode it as fast, and no flagged
    // keyframe comes to skip to.
    ReceiverProcess receiver({"--once", "--stats"}, pinToOneCore);
    QVERIFY(receiver.port() != 0);
    QTcpSocket peer;
    peer.connectToHost(QHostAddress::LocalHost, receiver.port());
    QVERIFY(peer.waitForConnected(5000));
    proto::MessageWriter writer;
    proto::StreamInfo info;
    info.width = 3840;
    info.height = 2160;
    info.streamFlags = proto::StreamLive;
    info.sourceName = QStringLiteral("2160p60.mp4");
    QByteArray out = writer.encode(proto::MessageType::Hello, proto::serialize(proto::Hello{}));
    out += writer.encode(proto::MessageType::StreamInfo, proto::serialize(info));
    for (int i = 0; i < units.size(); ++i) {
        constexpr qsizetype kChunk = 256 * 1024;
        const QByteArray &data = units[i].data;
        for (qsizetype at = 0; at < data.size(); at += kChunk) {
            quint16 flags = 0;
            if (at == 0)
                flags |= proto::AccessUnitStart | (i == 0 ? proto::Keyframe : 0);
            if (at + kChunk >= data.size())
                flags |= proto::AccessUnitEnd;
            out += writer.encode(proto::MessageType::Media,
                                 proto::serialize(proto::Media{units[i].ptsUs, data.mid(at, kChunk)}), flags);
        }
    }
    peer.write(out);
    // The bound works before the end: the receiver says it skips while the
    // stream is still on (END_OF_STREAM, which cuts too, is not sent yet).
    QTRY_VERIFY_WITH_TIMEOUT(receiver.output().contains("skipping to the next keyframe to stay live"), 60000);
    peer.write(writer.encode(proto::MessageType::EndOfStream,
                             proto::serialize(proto::EndOfStream{quint64(units.size()), quint64(total), 0})));
    QTRY_VERIFY_WITH_TIMEOUT(peer.bytesToWrite() == 0 || peer.state() != QAbstractSocket::ConnectedState, 30000);
    QVERIFY2(receiver.waitForExit(120000), qPrintable(receiver.output()));
    const QString output = receiver.output();
    qInfo().noquote() << output.section(QLatin1Char('\n'), -3);
    QCOMPARE(receiver.process().exitCode(), 0);
    const ReceiverReport report = parse(output);
    QCOMPARE(report.received, qint64(m_units));
    const qint64 skipped = report.summary.value("stay_live").toObject().value("skipped").toInteger(-1);
    QVERIFY(skipped > 0);
    QCOMPARE(report.decoded + skipped, qint64(m_units));
    QCOMPARE(report.decodeErrors, qint64(0));
    QVERIFY2(!report.summaryLine.contains("concealed"), qPrintable(report.summaryLine));
}

QTEST_GUILESS_MAIN(TestKeepsUp)
#include "tst_keeps_up.moc"
