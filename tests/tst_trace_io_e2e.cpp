// --trace-io on both real apps: the stream is unchanged (framemd5 against
// ffmpeg), and what the trace says is what FFmpeg and the apps really did:
// the calls libavformat made, byte totals against the ffmpeg CLI's own
// output, and message and access unit counts against the apps' reports.
#include "app_runner.h"
#include "test_support.h"

#include <QFileInfo>
#include <QRegularExpression>
#include <QtTest>
#include <map>

using namespace testsupport;

namespace {

qint64 number(const QString &text) // whatever the locale's digit grouping
{
    QString digits = text;
    digits.remove(QRegularExpression(QStringLiteral("[^0-9-]")));
    return digits.toLongLong();
}

struct Trace {
    QStringList calls; // the lines of read_packet / write_packet / seek
    std::map<QString, qint64> callBytes, summaryBytes;
    std::map<QString, qint64> callCount, summaryCalls;
    std::map<QString, qint64> messagesSent, messagesReceived;
    qint64 unitsSent = 0, unitsReceived = 0;
    std::map<QString, qint64> nalsSent, nalsReceived;
};

void addCounts(const QString &list, std::map<QString, qint64> *counts)
{
    for (const QString &part : list.split(QStringLiteral(", "), Qt::SkipEmptyParts)) {
        const qsizetype space = part.lastIndexOf(' ');
        (*counts)[part.left(space)] += number(part.mid(space + 1));
    }
}

Trace parse(const QString &output)
{
    static const QRegularExpression call(
        QStringLiteral("^trace-io (sender file input|sender video output|sender audio output|receiver video|"
                       "receiver audio)  (read_packet|write_packet|seek)  (.*)$"));
    static const QRegularExpression moved(QStringLiteral("^(?:asked|size) \\S+  (?:got|wrote) (\\S+)"));
    static const QRegularExpression summary(
        QStringLiteral("^trace-io summary ([a-z ]+): (\\S+) calls, .*\\((\\S+) bytes\\)"));
    static const QRegularExpression messages(QStringLiteral("^trace-io summary messages (sent|received): (.*)$"));
    static const QRegularExpression units(
        QStringLiteral("^trace-io summary access units (sent|received): (\\S+) \\(NAL units: (.*)\\)$"));
    Trace t;
    for (const QString &line : output.split('\n')) {
        const auto c = call.match(line);
        const auto mm = messages.match(line);
        const auto u = units.match(line);
        const auto sm = summary.match(line);
        if (c.hasMatch()) {
            t.calls << line;
            ++t.callCount[c.captured(1)];
            const auto bytes = moved.match(c.captured(3));
            if (c.captured(2) != QLatin1String("seek") && bytes.hasMatch() && !bytes.captured(1).startsWith("AVERROR"))
                t.callBytes[c.captured(1)] += number(bytes.captured(1));
        } else if (mm.hasMatch()) {
            addCounts(mm.captured(2), mm.captured(1) == QLatin1String("sent") ? &t.messagesSent : &t.messagesReceived);
        } else if (u.hasMatch()) {
            const bool sent = u.captured(1) == QLatin1String("sent");
            (sent ? t.unitsSent : t.unitsReceived) += number(u.captured(2));
            addCounts(u.captured(3), sent ? &t.nalsSent : &t.nalsReceived);
        } else if (sm.hasMatch()) {
            t.summaryCalls[sm.captured(1)] += number(sm.captured(2));
            t.summaryBytes[sm.captured(1)] += number(sm.captured(3));
        }
    }
    return t;
}

QString text(const std::map<QString, qint64> &counts) // for readable failures
{
    QStringList parts;
    for (const auto &[key, value] : counts)
        parts << QStringLiteral("%1 %2").arg(key).arg(value);
    return parts.join(", ");
}

qint64 ffprobeAudioPacketCount(const QString &path)
{
    const ToolResult r = ffprobe({"-v", "error", "-select_streams", "a:0", "-count_packets", "-show_entries",
                                  "stream=nb_read_packets", "-of", "csv=p=0", path});
    return r.ok() ? QString::fromUtf8(r.out).trimmed().toLongLong() : -1;
}

qint64 ffprobeKeyPacketCount(const QString &path)
{
    const ToolResult r = ffprobe({"-v", "error", "-select_streams", "v:0", "-show_entries", "packet=flags", "-of",
                                  "csv=p=0", path});
    static const QRegularExpression key(QStringLiteral("^K"), QRegularExpression::MultilineOption);
    return r.ok() ? QString::fromUtf8(r.out).count(key) : -1;
}

// What the ffmpeg CLI's own muxer writes for one stream of `clip`, copied.
qint64 copiedSize(const QString &clip, const QString &map, const QString &format)
{
    const ToolResult r = ffmpeg({"-v", "error", "-i", clip, "-map", map, "-c", "copy", "-f", format, "-"});
    return r.ok() ? r.out.size() : -1;
}

} // namespace

class TstTraceIoE2e : public QObject {
    Q_OBJECT
private slots:
    void traceShowsWhatFfmpegDidAndChangesNothing();

private:
    QTemporaryDir m_dir;
};

void TstTraceIoE2e::traceShowsWhatFfmpegDidAndChangesNothing()
{
    QVERIFY(m_dir.isValid());
    const QString clip = m_dir.filePath("clip.mp4"); // mp4: libavformat asks the file's size
    const ToolResult made = ffmpeg({"-y", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25:duration=2", "-f",
                                    "lavfi", "-i", "sine=frequency=440:duration=2", "-c:v", "libx264", "-preset",
                                    "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", clip});
    QVERIFY2(made.ok(), made.err.constData());

    const QString md5Path = m_dir.filePath("trace.framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5Path, "--trace-io"});
    QVERIFY2(receiver.port(), qPrintable(receiver.output()));
    const SenderRun sender = runSender({clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port()),
                                        "--fast", "--trace-io"});
    QVERIFY2(sender.exitCode == 0, qPrintable(sender.err.right(3000)));
    QVERIFY(receiver.waitForExit(30000));
    const QString receiverOutput = receiver.output();
    QVERIFY2(receiver.process().exitCode() == 0, qPrintable(receiverOutput.right(3000)));

    // The stream is what ffmpeg decodes, both streams line for line.
    const QList<FrameLine> reference = frameLines(referenceAvFramemd5(clip));
    const QList<FrameLine> received = frameLines(readFile(md5Path));
    QCOMPARE(streamAndMd5(received), streamAndMd5(reference));
    const int frames = ffprobeFrameCount(clip);
    const qint64 audioPackets = ffprobeAudioPacketCount(clip);
    QVERIFY(frames > 0 && audioPackets > 0);

    const Trace s = parse(sender.err);
    const Trace r = parse(receiverOutput);

    // The calls FFmpeg really makes. The mov demuxer asks the file's size
    // while it opens the file (probe phase).
    static const QRegularExpression sizeSeek(QStringLiteral(
        "^trace-io sender file input  seek  offset 0 AVSEEK_SIZE -> (\\S+)  avformat_open_input  \\[probe\\]$"));
    QVERIFY2(std::any_of(s.calls.begin(), s.calls.end(), [&](const QString &l) {
                 const auto m = sizeSeek.match(l);
                 return m.hasMatch() && number(m.captured(1)) == QFileInfo(clip).size();
             }),
             qPrintable(s.calls.mid(0, 20).join('\n')));
    // The receiver's raw h264 demuxer reads while it opens (probing) and then in av_read_frame.
    QVERIFY2(std::any_of(r.calls.begin(), r.calls.end(), [](const QString &l) {
                 return l.startsWith("trace-io receiver video  read_packet") && l.endsWith("avformat_open_input  [probe]");
             }),
             qPrintable(r.calls.mid(0, 20).join('\n')));
    QVERIFY(std::any_of(r.calls.begin(), r.calls.end(), [](const QString &l) {
        return l.startsWith("trace-io receiver video  read_packet") && l.endsWith("  av_read_frame");
    }));
    for (const Trace *t : {&s, &r}) { // steady state is never marked as probing
        for (const QString &l : t->calls)
            QVERIFY2(!(l.contains("av_read_frame") || l.contains("av_write_frame")) || !l.endsWith("[probe]"),
                     qPrintable(l));
    }

    // The once-a-second summaries add up to every call, per context.
    for (const Trace *t : {&s, &r}) {
        for (const auto &[context, count] : t->callCount) {
            QCOMPARE(t->summaryCalls.at(context), count);
            QCOMPARE(t->summaryBytes.at(context), t->callBytes.count(context) ? t->callBytes.at(context) : 0);
        }
        QCOMPARE(t->summaryCalls.size(), t->callCount.size());
    }
    // Byte totals against the ffmpeg CLI's muxers: the sender's write_packet
    // calls carry exactly what `-c copy -f h264` / `-f adts` write.
    const qint64 annexB = copiedSize(clip, "0:v:0", "h264");
    const qint64 adts = copiedSize(clip, "0:a:0", "adts");
    QCOMPARE(s.summaryBytes.at("sender video output"), annexB);
    QCOMPARE(s.summaryBytes.at("sender audio output"), adts);
    // The receiver reads the same sound; and the same video, plus the 6-byte
    // access unit delimiter it ends each unit with (ARCHITECTURE.md, "Latency").
    QCOMPARE(r.summaryBytes.at("receiver audio"), adts);
    QCOMPARE(r.summaryBytes.at("receiver video"), annexB + 6 * qint64(frames));

    // Messages: what one side sent, the other received, type by type; and
    // the counts the apps report themselves.
    QVERIFY(!s.messagesSent.empty() && !r.messagesSent.empty());
    // PING and PONG go on to the end: one in flight at the close is never read.
    auto withoutPings = [](std::map<QString, qint64> counts, qint64 *pings, qint64 *pongs) {
        *pings = counts["PING"];
        *pongs = counts["PONG"];
        counts.erase("PING");
        counts.erase("PONG");
        return text(counts);
    };
    qint64 pingsSent = 0, pongsSent = 0, pingsReceived = 0, pongsReceived = 0;
    for (const auto &[from, to] : {std::pair{&s, &r}, std::pair{&r, &s}}) {
        QCOMPARE(withoutPings(to->messagesReceived, &pingsReceived, &pongsReceived),
                 withoutPings(from->messagesSent, &pingsSent, &pongsSent));
        QVERIFY(pingsReceived <= pingsSent && pongsReceived <= pongsSent);
    }
    QCOMPARE(s.messagesSent.at("HELLO"), 1);
    QCOMPARE(r.messagesSent.at("ACCEPTED"), 1);
    QCOMPARE(s.messagesSent.at("END_OF_STREAM"), 1);
    QCOMPARE(r.messagesSent.at("RECEIVED"), 1);
    QVERIFY2(sender.out.contains(QStringLiteral("sent %1 frames").arg(s.messagesSent.at("MEDIA"))), qPrintable(sender.out));
    QVERIFY2(sender.out.contains(QStringLiteral("%1 audio packets").arg(s.messagesSent.at("AUDIO"))), qPrintable(sender.out));
    QCOMPARE(s.messagesSent.at("MEDIA"), qint64(frames)); // small units: one MEDIA message each
    QCOMPARE(s.messagesSent.at("AUDIO"), audioPackets);
    QVERIFY2(receiverOutput.contains(QStringLiteral("%1 of %1 frames received").arg(r.messagesReceived.at("MEDIA"))),
             qPrintable(receiverOutput.right(2000)));

    // Access units and their NAL units, found at the start codes: one slice
    // per picture (x264's default), an IDR one per keyframe ffprobe finds.
    QCOMPARE(s.unitsSent, qint64(frames));
    QCOMPARE(r.unitsReceived, qint64(frames));
    QCOMPARE(text(r.nalsReceived), text(s.nalsSent));
    const qint64 keyframes = ffprobeKeyPacketCount(clip);
    QCOMPARE(s.nalsSent.at("IDR"), keyframes);
    QCOMPARE(s.nalsSent.at("IDR") + s.nalsSent.at("non-IDR"), qint64(frames));
    QVERIFY(s.nalsSent.at("SPS") >= 1 && s.nalsSent.at("PPS") >= 1);
}

QTEST_GUILESS_MAIN(TstTraceIoE2e)
#include "tst_trace_io_e2e.moc"
