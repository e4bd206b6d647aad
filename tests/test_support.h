// Helpers shared by the tests: run the ffmpeg/ffprobe CLIs (the independent
// oracle) and generate small test clips into a temporary directory.
#pragma once

#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringList>

class QIODevice;
namespace h264link {
class FramedMediaDevice;
}

namespace testsupport {

struct ToolResult {
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
    bool ok() const { return exitCode == 0; }
};

ToolResult runTool(const QString &program, const QStringList &args, int timeoutMs = 60000);
ToolResult ffmpeg(const QStringList &args);
ToolResult ffprobe(const QStringList &args);

// Encodes `seconds` of an animated test pattern with libx264 into `path`
// (container chosen by the extension). `extra` is appended to the encoder
// arguments, e.g. {"-profile:v", "baseline"}. Returns an error text, or "".
QString makeClip(const QString &path, const QString &size = "320x240", int fps = 25,
                 double seconds = 2.0, const QStringList &extra = {});

// A 1080p30 clip of noise: many megabytes a second, enough to fill every
// buffer between a --fast sender and a receiver. Returns an error text, or "".
QString makeHeavyClip(const QString &path, double seconds);

// Number of video packets in the first video stream, according to ffprobe.
int ffprobeVideoPacketCount(const QString &path);

QByteArray readFile(const QString &path);

// Opens `device` through AvioBridge (format probed, or forced by name) and
// counts the first video stream's packets. Returns -1 and sets *error.
int countVideoPackets(QIODevice *device, QString *error, const char *formatName = nullptr);

// Streams the video of `clip` into `framing` with the sender's own stages
// (MediaSource, AnnexBMuxer): one access unit per packet. Returns an error
// text, or "".
QString remuxToAnnexB(const QString &clip, h264link::FramedMediaDevice *framing);

// The clip's access units as the sender frames them in MEDIA messages
// (remuxToAnnexB, read back through the protocol's decoder).
struct MediaUnit {
    qint64 ptsUs = 0; // proto::kNoPts if none
    bool keyframe = false;
    QByteArray bytes;
};
QList<MediaUnit> mediaUnitsOf(const QString &clip, QString *error);

// Oracles for expected counts (never literals in a test): the number of
// frames ffprobe decodes from the first video stream (-count_frames), and the
// display-order indices of its keyframes. -1 / empty if ffprobe fails.
int ffprobeFrameCount(const QString &path);
QList<int> ffprobeKeyFrameIndices(const QString &path);

// One line of a framemd5 file: its stream, pts in microseconds (converted
// from that stream's "#tb N: num/den" line, rounded to nearest), and hash.
struct FrameLine {
    int stream = -1;
    qint64 ptsUs = 0;
    qint64 duration = 0; // in the stream's time base (samples, for audio)
    QString md5;
};
QList<FrameLine> frameLines(const QByteArray &framemd5);
// "stream,md5" for each line: what must equal ffmpeg's line for line.
QStringList streamAndMd5(const QList<FrameLine> &lines);
// ffmpeg's framemd5 of the first video and first audio stream together
// (`-map 0:v:0 -map 0:a:0`), with -copyts (the source's own timeline) if asked.
QByteArray referenceAvFramemd5(const QString &clip, bool copyts = false);
// The first audio stream decoded by ffmpeg as s16le interleaved; with
// `channels` / `rate` (0: the source's), downmixed and resampled to them.
QByteArray referencePcm(const QString &clip, int channels = 0, int rate = 0);

// A WAV (or any audio) file's first audio stream: rate, channels, and its
// samples decoded to s16le interleaved, read back with ffmpeg.
struct DecodedAudio {
    int rate = 0;
    int channels = 0;
    QByteArray s16;
    qint64 frames() const { return channels > 0 ? s16.size() / (2 * channels) : 0; }
};
DecodedAudio decodeAudioFile(const QString &path);

// Signal-to-noise ratio in dB of `got` against `reference` (s16 interleaved,
// `channels` each), after aligning them: the lag in [-maxLag, maxLag]
// frames that leaves the least residual over the start of the reference
// wins (an encoder's delay may shift the stream). *lag gets it (got[i + lag]
// ~ reference[i]). Compared over the frames both have.
double snrDb(const QByteArray &reference, const QByteArray &got, int channels, int maxLag, int *lag = nullptr);

// The seed for a test's random inputs: H264LINK_TEST_SEED if set, otherwise
// a fresh one; printed the first time, so that a failure can be replayed.
quint32 testSeed();

// True when CI=true: a test that cannot run here must then fail, not skip.
bool inCi();

} // namespace testsupport

// Skips for a missing tool or privilege, except in CI, where it fails: the
// suite must not pass there without having run. (Skips that are right by
// design, e.g. under a sanitizer, use QSKIP.)
#define H264LINK_SKIP_UNLESS_CI(message)                                                        \
    do {                                                                                       \
        if (testsupport::inCi())                                                               \
            QFAIL(qPrintable(QStringLiteral("%1 (CI=true: this test must run, not skip)")      \
                                 .arg(QStringLiteral(message))));                              \
        QSKIP(message);                                                                        \
    } while (false)
