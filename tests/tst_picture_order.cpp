// Which pictures a stream shows, and in what order, when the source says
// more than the H.264 stream does (sender -> receiver, as real processes):
//
// - an mp4 edit list that starts after the first frames: the demuxer marks
//   the frames before its start AV_PKT_FLAG_DISCARD; they are sent
//   DECODE_ONLY, decoded (later frames refer to them) and not shown, so the
//   receiver's --framemd5 equals `ffmpeg -f framemd5` and the counts agree;
// - a stream with B-frames whose SPS has no VUI bitstream restriction: the
//   decoder would guess a reorder depth of 0 and lose or misplace the first
//   frame out of order; the sender sends the container's depth.
#include "app_runner.h"
#include "ffmpeg_raii.h"
#include "test_support.h"

extern "C" {
#include <libavutil/imgutils.h>
}

#include <QCryptographicHash>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QTemporaryDir>
#include <QtTest>

using namespace testsupport;

namespace {

// Video packets flagged discard ('D' in ffprobe's flags column), and all.
struct PacketFlags {
    int discard = 0;
    int total = 0;
};
PacketFlags probePacketFlags(const QString &clip)
{
    const ToolResult r = ffprobe({"-v", "error", "-select_streams", "v:0", "-show_entries", "packet=flags",
                                  "-of", "csv=p=0", clip});
    PacketFlags f;
    for (const QByteArray &line : r.out.split('\n')) {
        if (line.trimmed().isEmpty())
            continue;
        ++f.total;
        if (line.contains('D'))
            ++f.discard;
    }
    return r.ok() ? f : PacketFlags{-1, -1};
}

// What trace_headers (FFmpeg's own SPS parser) says of each SPS: the bit
// position of bitstream_restriction_flag in the NAL unit's RBSP (header
// byte included), and its value.
struct RestrictionFlag {
    int bit = -1;
    int value = -1;
};
QList<RestrictionFlag> traceRestrictionFlags(const QString &annexB)
{
    // trace_headers logs at debug level, and only with it (ffmpeg() is quiet).
    const ToolResult r = ffmpeg({"-loglevel", "debug", "-i", annexB, "-c", "copy", "-bsf:v", "trace_headers",
                                 "-f", "null", "-"});
    QList<RestrictionFlag> flags;
    static const QRegularExpression line(QStringLiteral(R"(\]\s+(\d+)\s+bitstream_restriction_flag\s+\d+ = (\d+))"));
    for (auto it = line.globalMatch(QString::fromUtf8(r.err)); it.hasNext();) {
        const auto m = it.next();
        flags << RestrictionFlag{m.captured(1).toInt(), m.captured(2).toInt()};
    }
    return flags;
}

QByteArray unescape(const QByteArray &nal) // emulation prevention bytes out
{
    QByteArray out;
    int zeros = 0;
    for (char c : nal) {
        if (zeros >= 2 && c == 3) {
            zeros = 0;
            continue;
        }
        out.append(c);
        zeros = c == 0 ? zeros + 1 : 0;
    }
    return out;
}

QByteArray escape(const QByteArray &rbsp) // and back in
{
    QByteArray out;
    int zeros = 0;
    for (char c : rbsp) {
        if (zeros >= 2 && quint8(c) <= 3) {
            out.append(char(3));
            zeros = 0;
        }
        out.append(c);
        zeros = c == 0 ? zeros + 1 : 0;
    }
    return out;
}

// The SPS with its VUI cut before bitstream_restriction_flag: the flag
// becomes 0 and the RBSP ends there (stop bit, zero bits). FFmpeg found the
// position (trace_headers); this only sets bits.
QByteArray withoutRestriction(const QByteArray &sps, int flagBit)
{
    QByteArray rbsp = unescape(sps);
    QByteArray out(flagBit / 8 + 1, '\0');
    for (int bit = 0; bit < flagBit; ++bit)
        if (rbsp[bit / 8] & (0x80 >> (bit % 8)))
            out[bit / 8] = char(out[bit / 8] | (0x80 >> (bit % 8)));
    // bitstream_restriction_flag = 0, then rbsp_stop_one_bit.
    const int stop = flagBit + 1;
    if (stop / 8 >= out.size())
        out.append('\0');
    out[stop / 8] = char(out[stop / 8] | (0x80 >> (stop % 8)));
    return escape(out);
}

// The SPS NAL units (without start code) of an Annex B stream.
QList<QByteArray> spsUnits(const QByteArray &stream)
{
    QList<QByteArray> units;
    qsizetype at = 0;
    while ((at = stream.indexOf(QByteArray("\0\0\1", 3), at)) >= 0) {
        const qsizetype begin = at + 3;
        qsizetype end = stream.indexOf(QByteArray("\0\0\1", 3), begin);
        if (end < 0)
            end = stream.size();
        else if (stream[end - 1] == 0)
            --end; // a 4-byte start code
        if (begin < stream.size() && (stream[begin] & 0x1f) == 7)
            units << stream.mid(begin, end - begin);
        at = begin;
    }
    return units;
}

// Frames as a plain receiver-like decoder gives them from a raw Annex B
// stream with no container to say the depth: the h264 demuxer without
// avformat_find_stream_info(), the decoder left to the SPS (has_b_frames 0).
// Each frame's MD5 as ffmpeg's framemd5 computes it.
QStringList decodeWithTheSpsGuess(const QString &annexB, QString *error)
{
    using namespace h264link;
    AVFormatContext *raw = nullptr;
    int ret = avformat_open_input(&raw, annexB.toUtf8().constData(), av_find_input_format("h264"), nullptr);
    InputFormatPtr input(raw);
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    CodecContextPtr ctx(avcodec_alloc_context3(codec));
    if (ret < 0 || !ctx || (ret = avcodec_open2(ctx.get(), codec, nullptr)) < 0) {
        *error = averrorText(ret);
        return {};
    }
    PacketPtr packet = makePacket();
    FramePtr frame = makeFrame();
    QStringList md5s;
    auto drain = [&] {
        while (avcodec_receive_frame(ctx.get(), frame.get()) == 0) {
            const int size = av_image_get_buffer_size(AVPixelFormat(frame->format), frame->width, frame->height, 1);
            QByteArray bytes(size, '\0');
            av_image_copy_to_buffer(reinterpret_cast<uint8_t *>(bytes.data()), size, frame->data, frame->linesize,
                                    AVPixelFormat(frame->format), frame->width, frame->height, 1);
            md5s << QCryptographicHash::hash(bytes, QCryptographicHash::Md5).toHex();
            av_frame_unref(frame.get());
        }
    };
    while (av_read_frame(input.get(), packet.get()) >= 0) {
        avcodec_send_packet(ctx.get(), packet.get());
        av_packet_unref(packet.get());
        drain();
    }
    avcodec_send_packet(ctx.get(), nullptr);
    drain();
    return md5s;
}

// Muxes the raw Annex B stream `annexB` into `out` (container from its
// name) with the timestamps of `timing`'s video packets, packet for packet:
// the same pictures in the same decode order, so its pts and dts fit. A
// raw stream copied by the ffmpeg CLI would get pts = dts (it has none).
QString muxWithTimestampsOf(const QString &annexB, const QString &timing, const QString &out)
{
    using namespace h264link;
    struct Times {
        qint64 pts, dts, duration;
        int flags;
    };
    QList<Times> times;
    AVRational timeBase{1, 1};
    {
        AVFormatContext *raw = nullptr;
        int ret = avformat_open_input(&raw, timing.toUtf8().constData(), nullptr, nullptr);
        InputFormatPtr in(raw);
        if (ret < 0 || (ret = avformat_find_stream_info(in.get(), nullptr)) < 0)
            return "cannot read " + timing + ": " + averrorText(ret);
        const int video = av_find_best_stream(in.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
        if (video < 0)
            return timing + " has no video";
        timeBase = in->streams[video]->time_base;
        PacketPtr packet = makePacket();
        while (av_read_frame(in.get(), packet.get()) >= 0) {
            if (packet->stream_index == video)
                times << Times{packet->pts, packet->dts, packet->duration, packet->flags & AV_PKT_FLAG_KEY};
            av_packet_unref(packet.get());
        }
    }
    AVFormatContext *raw = nullptr;
    int ret = avformat_open_input(&raw, annexB.toUtf8().constData(), av_find_input_format("h264"), nullptr);
    InputFormatPtr in(raw);
    if (ret < 0 || (ret = avformat_find_stream_info(in.get(), nullptr)) < 0)
        return "cannot read " + annexB + ": " + averrorText(ret);
    AVFormatContext *rawOut = nullptr;
    ret = avformat_alloc_output_context2(&rawOut, nullptr, nullptr, out.toUtf8().constData());
    OutputFormatPtr muxer(rawOut);
    if (ret < 0)
        return "no muxer for " + out + ": " + averrorText(ret);
    const auto closeFile = qScopeGuard([&] { avio_closep(&muxer->pb); }); // before the context goes
    AVStream *st = avformat_new_stream(muxer.get(), nullptr);
    if (!st || avcodec_parameters_copy(st->codecpar, in->streams[0]->codecpar) < 0)
        return QStringLiteral("cannot set up the output stream");
    st->codecpar->codec_tag = 0;
    st->time_base = timeBase;
    if ((ret = avio_open(&muxer->pb, out.toUtf8().constData(), AVIO_FLAG_WRITE)) < 0
        || (ret = avformat_write_header(muxer.get(), nullptr)) < 0)
        return "cannot write " + out + ": " + averrorText(ret);
    PacketPtr packet = makePacket();
    int n = 0;
    while (av_read_frame(in.get(), packet.get()) >= 0) {
        if (n >= times.size())
            return QStringLiteral("%1 has more packets than %2 (%3)").arg(annexB, timing).arg(times.size());
        packet->pts = times[n].pts;
        packet->dts = times[n].dts;
        packet->duration = times[n].duration;
        packet->flags = times[n].flags;
        packet->stream_index = 0;
        av_packet_rescale_ts(packet.get(), timeBase, st->time_base);
        ++n;
        if ((ret = av_interleaved_write_frame(muxer.get(), packet.get())) < 0)
            return "cannot write " + out + ": " + averrorText(ret);
    }
    if ((ret = av_write_trailer(muxer.get())) < 0)
        return "cannot finish " + out + ": " + averrorText(ret);
    return n == times.size() ? QString()
                             : QStringLiteral("%1 has %2 packets, %3 has %4").arg(annexB).arg(n).arg(timing).arg(times.size());
}

} // namespace

class TestPictureOrder : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void editListStartsAfterTheFirstFrames_data();
    void editListStartsAfterTheFirstFrames();
    void reorderDepthFromTheContainer_data();
    void reorderDepthFromTheContainer();

private:
    QString clip(const QString &name) const { return m_dir.filePath(name); }
    // Streams `name` (--fast) into a receiver writing --framemd5; checks both
    // exit 0 and returns what the receiver wrote, and both outputs.
    QByteArray stream(const QString &name, QString *receiverOutput, QString *senderOutput,
                      const QStringList &receiverArgs = {});
    QTemporaryDir m_dir;
};

void TestPictureOrder::initTestCase()
{
    QVERIFY(m_dir.isValid());
    // B-frames and one GOP of 4 s: a cut at 1.5 s must start decoding at
    // the keyframe at 0 and drop (decode only) what comes before 1.5 s.
    QCOMPARE(makeClip(clip("long_gop.mp4"), "320x240", 25, 4.0,
                      {"-g", "100", "-keyint_min", "100", "-sc_threshold", "0", "-bf", "3"}),
             QString());
    // Clips with an edit list: stream copy cannot cut between keyframes, so
    // the mp4 muxer writes one that starts at 1.5 s (and, with -t, ends 1 s later).
    QVERIFY(ffmpeg({"-y", "-ss", "1.5", "-i", clip("long_gop.mp4"), "-c", "copy", clip("starts_late.mp4")}).ok());
    QVERIFY(ffmpeg({"-y", "-ss", "1.5", "-i", clip("long_gop.mp4"), "-t", "1", "-c", "copy",
                    clip("starts_late_short.mp4")}).ok());

    // B-frames (a reorder depth of 2 with x264's pyramid) and an SPS without
    // bitstream restriction.
    QCOMPARE(makeClip(clip("bframes.mp4"), "320x240", 25, 2.0, {"-bf", "3", "-g", "50"}), QString());
    QVERIFY(ffmpeg({"-y", "-i", clip("bframes.mp4"), "-c", "copy", "-f", "h264", clip("bframes.h264")}).ok());
    const QList<RestrictionFlag> before = traceRestrictionFlags(clip("bframes.h264"));
    QVERIFY2(!before.isEmpty() && before[0].value == 1, "x264 wrote no bitstream restriction to take out");
    QByteArray annexB = readFile(clip("bframes.h264"));
    const QList<QByteArray> sets = spsUnits(annexB);
    QVERIFY(!sets.isEmpty());
    for (const QByteArray &sps : sets)
        annexB.replace(sps, withoutRestriction(sps, before[0].bit));
    QFile out(clip("no_restriction.h264"));
    QVERIFY(out.open(QIODevice::WriteOnly) && out.write(annexB) == annexB.size());
    out.close();
    const QList<RestrictionFlag> after = traceRestrictionFlags(clip("no_restriction.h264"));
    QCOMPARE(after.size(), before.size());
    for (const RestrictionFlag &f : after)
        QCOMPARE(f.value, 0);
}

QByteArray TestPictureOrder::stream(const QString &name, QString *receiverOutput, QString *senderOutput,
                                    const QStringList &receiverArgs)
{
    const QString md5Path = m_dir.filePath(name + ".framemd5");
    ReceiverProcess receiver(QStringList{"--once", "--framemd5", md5Path} + receiverArgs);
    if (!receiver.port())
        return {};
    const SenderRun sender = runSender({clip(name), "--host", "127.0.0.1", "--port",
                                        QString::number(receiver.port()), "--fast"});
    *senderOutput = sender.out + sender.err;
    const bool exited = receiver.waitForExit(20000);
    *receiverOutput = receiver.output();
    if (sender.exitCode != 0 || !exited || receiver.process().exitCode() != 0)
        return {};
    return readFile(md5Path);
}

void TestPictureOrder::editListStartsAfterTheFirstFrames_data()
{
    QTest::addColumn<QString>("name");
    QTest::newRow("starts late") << "starts_late.mp4";
    QTest::newRow("starts late, ends early") << "starts_late_short.mp4";
}

void TestPictureOrder::editListStartsAfterTheFirstFrames()
{
    QFETCH(QString, name);
    const PacketFlags flags = probePacketFlags(clip(name));
    QVERIFY2(flags.discard > 0, "the demuxer marks no packet to discard: the clip has no edit list to test");
    const int shown = ffprobeFrameCount(clip(name));
    QVERIFY(shown > 0 && shown < flags.total);

    QString receiverOutput, senderOutput;
    const QString recording = clip(name + ".recorded.mp4");
    const QByteArray written = stream(name, &receiverOutput, &senderOutput, {"--record", recording});
    QVERIFY2(!written.isEmpty(), qPrintable(receiverOutput + "\n" + senderOutput));

    const QStringList expected = referenceMd5(clip(name));
    QCOMPARE(expected.size(), shown);
    // An mp4 recording keeps them out too: its muxer writes an edit list for
    // their negative pts, as `ffmpeg -c copy` does.
    QCOMPARE(referenceMd5(recording), expected);
    const QStringList got = md5Column(written);
    QCOMPARE(got.size(), expected.size()); // none of the decode-only frames shown
    for (int i = 0; i < got.size(); ++i)
        QVERIFY2(got[i] == expected[i], qPrintable(QString("frame %1 differs").arg(i)));
    const QList<qint64> expectedPts = referencePtsUs(clip(name));
    QCOMPARE(ptsColumnUs(written), expectedPts);

    // Every packet was sent, received and decoded; the decode-only ones are
    // said, on both sides.
    QVERIFY2(receiverOutput.contains(QString("%1 of %1 frames received, %1 decoded").arg(flags.total)),
             qPrintable(receiverOutput));
    QVERIFY2(receiverOutput.contains(QString("%1 of them decode-only").arg(flags.discard)), qPrintable(receiverOutput));
    QVERIFY2(!receiverOutput.contains("NOT DECODED") && !receiverOutput.contains("LOST"), qPrintable(receiverOutput));
    QVERIFY2(senderOutput.contains(QString("sent %1 frames").arg(flags.total)), qPrintable(senderOutput));
    QVERIFY2(senderOutput.contains(QString("%1 of the frames decode-only").arg(flags.discard)), qPrintable(senderOutput));
    QVERIFY2(senderOutput.contains(QString("the receiver confirmed %1 frames decoded").arg(flags.total)),
             qPrintable(senderOutput));
}

void TestPictureOrder::reorderDepthFromTheContainer_data()
{
    QTest::addColumn<QString>("name");
    // mp4 and mov: the depth from the pts against the dts (ctts); mkv and
    // raw .h264: from FFmpeg's probing, which decodes the first frames and
    // sees them come out of order (avformat_find_stream_info).
    QTest::newRow("raw .h264") << "no_restriction.h264";
    QTest::newRow("mkv") << "no_restriction.mkv";
    QTest::newRow("mp4") << "no_restriction.mp4";
    QTest::newRow("mov") << "no_restriction.mov";
}

void TestPictureOrder::reorderDepthFromTheContainer()
{
    QFETCH(QString, name);
    if (!name.endsWith(".h264"))
        QCOMPARE(muxWithTimestampsOf(clip("no_restriction.h264"), clip("bframes.mp4"), clip(name)), QString());
    const QStringList expected = referenceMd5(clip(name));
    QCOMPARE(expected.size(), ffprobeFrameCount(clip("bframes.mp4")));
    QCOMPARE(expected, referenceMd5(clip("bframes.mp4"))); // the oracle is not affected
    const ToolResult depth = ffprobe({"-v", "error", "-select_streams", "v:0", "-show_entries", "stream=has_b_frames",
                                      "-of", "csv=p=0", clip(name)});
    QVERIFY2(depth.out.trimmed().toInt() > 0, "the container gives no reorder depth");

    // The bug, before any fix: left to the SPS, a decoder loses or misplaces
    // frames at the start.
    QString error;
    const QStringList guessed = decodeWithTheSpsGuess(clip("no_restriction.h264"), &error);
    QVERIFY2(!guessed.isEmpty(), qPrintable(error));
    QVERIFY2(guessed != expected, "the SPS's guess decodes right: this stream does not test the reorder depth");

    QString receiverOutput, senderOutput;
    const QByteArray written = stream(name, &receiverOutput, &senderOutput);
    QVERIFY2(!written.isEmpty(), qPrintable(receiverOutput + "\n" + senderOutput));
    const QStringList got = md5Column(written);
    QCOMPARE(got.size(), expected.size());
    for (int i = 0; i < got.size(); ++i)
        QVERIFY2(got[i] == expected[i], qPrintable(QString("frame %1 differs").arg(i)));
    QVERIFY2(receiverOutput.contains(QString("%1 of %1 frames received, %1 decoded").arg(expected.size())),
             qPrintable(receiverOutput));
}

QTEST_GUILESS_MAIN(TestPictureOrder)
#include "tst_picture_order.moc"
