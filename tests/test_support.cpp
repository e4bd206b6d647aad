#include "test_support.h"

extern "C" {
#include <libavutil/mathematics.h>
}

#include "avio_bridge.h"
#include "ffmpeg_raii.h"
#include "framed_media_device.h"
#include "message_decoder.h"
#include "remux/annexb_muxer.h"
#include "source/media_source.h"

#include <QBuffer>
#include <QFile>
#include <QHash>
#include <QProcess>
#include <QRandomGenerator>

#include <cmath>
#include <cstring>
#include <limits>

namespace testsupport {

ToolResult runTool(const QString &program, const QStringList &args, int timeoutMs)
{
    QProcess p;
    p.start(program, args);
    ToolResult r;
    if (!p.waitForStarted()) {
        r.err = QStringLiteral("cannot start %1").arg(program).toUtf8();
        return r;
    }
    p.closeWriteChannel();
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        r.err = QStringLiteral("%1 timed out").arg(program).toUtf8();
        return r;
    }
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

ToolResult ffmpeg(const QStringList &args)
{
    return runTool(QStringLiteral(FFMPEG_EXECUTABLE),
                   QStringList{"-hide_banner", "-loglevel", "error", "-nostdin"} + args);
}

ToolResult ffprobe(const QStringList &args)
{
    return runTool(QStringLiteral(FFPROBE_EXECUTABLE),
                   QStringList{"-hide_banner", "-loglevel", "error"} + args);
}

QString makeClip(const QString &path, const QString &size, int fps, double seconds,
                 const QStringList &extra)
{
    const QString source = QStringLiteral("testsrc2=size=%1:rate=%2:duration=%3")
                               .arg(size).arg(fps).arg(seconds);
    const ToolResult r = ffmpeg(QStringList{"-y", "-f", "lavfi", "-i", source,
                                            "-c:v", "libx264", "-preset", "veryfast",
                                            "-pix_fmt", "yuv420p"}
                                + extra + QStringList{path});
    return r.ok() ? QString() : QString::fromUtf8(r.err);
}

QString makeHeavyClip(const QString &path, double seconds)
{
    const ToolResult r = ffmpeg({"-y", "-f", "lavfi", "-i",
                                 QStringLiteral("testsrc2=size=1920x1080:rate=30:duration=%1").arg(seconds),
                                 "-vf", "noise=alls=30:allf=t", "-c:v", "libx264", "-preset", "ultrafast",
                                 "-pix_fmt", "yuv420p", path});
    return r.ok() ? QString() : QString::fromUtf8(r.err);
}

int ffprobeVideoPacketCount(const QString &path)
{
    const ToolResult r = ffprobe({"-select_streams", "v:0", "-count_packets",
                                  "-show_entries", "stream=nb_read_packets",
                                  "-of", "csv=p=0", path});
    bool ok = false;
    const int n = r.out.trimmed().toInt(&ok);
    return r.ok() && ok ? n : -1;
}

QByteArray readFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

using namespace h264link;

// Opens `device` through the bridge, the way the first article counts an
// mp4's frames from memory. Returns the number of video packets, or -1.
int countVideoPackets(QIODevice *device, QString *error, const char *formatName)
{
    auto bridge = AvioBridge::create(device, AvioBridge::Direction::Read, error);
    if (!bridge)
        return -1;
    InputFormatPtr input(avformat_alloc_context());
    input->pb = bridge->context();
    AVFormatContext *raw = input.release();
    int ret = avformat_open_input(&raw, nullptr,
                                 formatName ? av_find_input_format(formatName) : nullptr, nullptr);
    input.reset(raw); // on failure avformat_open_input freed it and set raw = nullptr
    if (ret < 0) {
        *error = "avformat_open_input: " + averrorText(ret);
        return -1;
    }
    if ((ret = avformat_find_stream_info(input.get(), nullptr)) < 0) {
        *error = "avformat_find_stream_info: " + averrorText(ret);
        return -1;
    }
    const int video = av_find_best_stream(input.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (video < 0) {
        *error = "no video stream: " + averrorText(video);
        return -1;
    }
    PacketPtr packet = makePacket();
    int count = 0;
    while ((ret = av_read_frame(input.get(), packet.get())) >= 0) {
        count += packet->stream_index == video;
        av_packet_unref(packet.get());
    }
    if (ret != AVERROR_EOF) {
        *error = "av_read_frame: " + averrorText(ret);
        return -1;
    }
    return count;
}

// The sender's own stages, MediaSource and AnnexBMuxer, without a socket.
QString remuxToAnnexB(const QString &clip, h264link::FramedMediaDevice *framing)
{
    QString error;
    const auto source = MediaSource::open(clip, &error);
    if (!source)
        return error;
    const auto muxer = AnnexBMuxer::create(source->stream()->codecpar, source->timeBase(), framing, &error);
    if (!muxer)
        return error;
    PacketPtr packet = makePacket();
    int ret = 0;
    while ((ret = source->readPacket(packet.get())) >= 0) {
        const AnnexBMuxer::Result written = muxer->writeAccessUnit(packet.get(), &error);
        av_packet_unref(packet.get());
        if (written != AnnexBMuxer::Result::Ok)
            return error;
    }
    if (ret != AVERROR_EOF)
        return "read: " + averrorText(ret);
    return muxer->finish(&error) ? QString() : error;
}

QList<MediaUnit> mediaUnitsOf(const QString &clip, QString *error)
{
    QBuffer wire;
    wire.open(QIODevice::WriteOnly);
    FramedMediaDevice framing(&wire);
    framing.open(QIODevice::WriteOnly);
    *error = remuxToAnnexB(clip, &framing);
    proto::MessageDecoder decoder;
    decoder.feed(wire.data());
    QList<MediaUnit> units;
    while (decoder.hasMessage()) {
        const proto::Message m = decoder.takeMessage();
        if (m.type != proto::MessageType::Media)
            continue;
        const auto media = proto::parseMedia(m.payload);
        if (m.flags & proto::AccessUnitStart)
            units.append(MediaUnit{media->ptsUs, (m.flags & proto::Keyframe) != 0, {}});
        if (!units.isEmpty())
            units.last().bytes += media->data;
    }
    return units;
}


int ffprobeFrameCount(const QString &path)
{
    const ToolResult r = ffprobe({"-select_streams", "v:0", "-count_frames",
                                  "-show_entries", "stream=nb_read_frames",
                                  "-of", "csv=p=0", path});
    bool ok = false;
    // The first line: containers with programs (MPEG-TS) list the stream again.
    const int n = r.out.trimmed().split('\n').first().trimmed().toInt(&ok);
    return r.ok() && ok ? n : -1;
}

QList<int> ffprobeKeyFrameIndices(const QString &path)
{
    const ToolResult r = ffprobe({"-select_streams", "v:0", "-show_entries", "frame=key_frame",
                                  "-of", "csv=p=0", path});
    QList<int> keys;
    if (!r.ok())
        return keys;
    int index = 0;
    for (const QByteArray &line : r.out.split('\n')) {
        if (line.trimmed().isEmpty())
            continue;
        if (line.trimmed() == "1")
            keys << index;
        ++index;
    }
    return keys;
}

QList<FrameLine> frameLines(const QByteArray &framemd5)
{
    QHash<int, QPair<qint64, qint64>> timeBases; // stream -> num/den
    QList<FrameLine> lines;
    for (const QByteArray &line : framemd5.split('\n')) {
        if (line.startsWith("#tb ")) {
            const int colon = line.indexOf(':');
            const QList<QByteArray> tb = line.mid(colon + 1).trimmed().split('/');
            if (colon > 0 && tb.size() == 2)
                timeBases[line.mid(4, colon - 4).toInt()] = {tb[0].toLongLong(), tb[1].toLongLong()};
            continue;
        }
        if (line.trimmed().isEmpty() || line.startsWith('#'))
            continue;
        const QList<QByteArray> f = line.split(',');
        if (f.size() < 6)
            continue;
        FrameLine l;
        l.stream = f[0].trimmed().toInt();
        const auto tb = timeBases.value(l.stream, {0, 0});
        // av_rescale_rnd: no overflow, even for a pts of AV_NOPTS_VALUE.
        if (tb.second > 0)
            l.ptsUs = av_rescale_rnd(f[2].trimmed().toLongLong(), 1000000 * tb.first, tb.second, AV_ROUND_NEAR_INF);
        l.duration = f[3].trimmed().toLongLong();
        l.md5 = QString::fromLatin1(f.last().trimmed());
        lines << l;
    }
    return lines;
}

QStringList streamAndMd5(const QList<FrameLine> &lines)
{
    QStringList out;
    for (const FrameLine &l : lines)
        out << QStringLiteral("%1,%2").arg(l.stream).arg(l.md5);
    return out;
}

QByteArray referenceAvFramemd5(const QString &clip, bool copyts)
{
    const ToolResult r = ffmpeg((copyts ? QStringList{"-copyts"} : QStringList())
                                + QStringList{"-i", clip, "-map", "0:v:0", "-map", "0:a:0", "-f", "framemd5", "-"});
    return r.ok() ? r.out : QByteArray();
}

QByteArray referencePcm(const QString &clip, int channels, int rate)
{
    QStringList args{"-i", clip, "-map", "0:a:0"};
    if (channels > 0)
        args << "-ac" << QString::number(channels);
    if (rate > 0)
        args << "-ar" << QString::number(rate);
    const ToolResult r = ffmpeg(args + QStringList{"-f", "s16le", "-acodec", "pcm_s16le", "-"});
    return r.ok() ? r.out : QByteArray();
}

DecodedAudio decodeAudioFile(const QString &path)
{
    DecodedAudio audio;
    const ToolResult probe = ffprobe({"-select_streams", "a:0", "-show_entries", "stream=sample_rate,channels",
                                      "-of", "csv=p=0", path});
    const QList<QByteArray> f = probe.out.trimmed().split(',');
    if (!probe.ok() || f.size() < 2)
        return audio;
    audio.rate = f[0].toInt();
    audio.channels = f[1].toInt();
    audio.s16 = referencePcm(path);
    return audio;
}

double snrDb(const QByteArray &reference, const QByteArray &got, int channels, int maxLag, int *lag)
{
    const auto *ref = reinterpret_cast<const qint16 *>(reference.constData());
    const auto *out = reinterpret_cast<const qint16 *>(got.constData());
    const qint64 refFrames = reference.size() / (2 * channels);
    const qint64 gotFrames = got.size() / (2 * channels);
    auto mono = [channels](const qint16 *s, qint64 frame) {
        double sum = 0;
        for (int c = 0; c < channels; ++c)
            sum += s[frame * channels + c];
        return sum;
    };
    // The lag that leaves the least residual over the reference's first 8192
    // frames and the maxLag frames before it, where the reference is silent:
    // the sound starts out of nothing there, so one lag fits, where a steady
    // tone alone would fit at every period.
    const qint64 window = qMin<qint64>(8192, refFrames);
    auto at = [](const qint16 *s, qint64 frames, qint64 i, const auto &f) { return i >= 0 && i < frames ? f(s, i) : 0.0; };
    int best = 0;
    double bestError = std::numeric_limits<double>::infinity();
    for (int l = -maxLag; l <= maxLag; ++l) {
        double error = 0;
        for (qint64 i = -maxLag; i < window && error < bestError; ++i) {
            const double e = at(ref, refFrames, i, mono) - at(out, gotFrames, i + l, mono);
            error += e * e;
        }
        if (error < bestError) {
            bestError = error;
            best = l;
        }
    }
    if (lag)
        *lag = best;
    double signal = 0, noise = 0;
    for (qint64 i = qMax<qint64>(0, -best); i < refFrames && i + best < gotFrames; ++i) {
        for (int c = 0; c < channels; ++c) {
            const double r = ref[i * channels + c];
            const double e = out[(i + best) * channels + c] - r;
            signal += r * r;
            noise += e * e;
        }
    }
    if (signal <= 0)
        return -std::numeric_limits<double>::infinity();
    return noise <= 0 ? std::numeric_limits<double>::infinity() : 10 * std::log10(signal / noise);
}

quint32 testSeed()
{
    static const quint32 seed = [] {
        bool ok = false;
        const quint32 fromEnv = qEnvironmentVariable("H264LINK_TEST_SEED").toUInt(&ok);
        const quint32 s = ok ? fromEnv : QRandomGenerator::system()->generate();
        qInfo("random seed: %u (set H264LINK_TEST_SEED=%u to repeat)", s, s);
        return s;
    }();
    return seed;
}

bool inCi()
{
    return qEnvironmentVariable("CI") == QLatin1String("true");
}

} // namespace testsupport
