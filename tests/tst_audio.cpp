// Sound, end to end: the real sender and receiver, ffmpeg as the oracle.
// AAC and MP3 pass through frame-exact (framemd5, PCM byte for byte); other
// codecs are transcoded to AAC and judged by duration and SNR against
// ffmpeg's own decode, downmixed and resampled to what arrived. The
// receivers are headless, and their audio output is a private PulseAudio
// server's null sink: a real sound server, played at a real device's pace.
#include "app_runner.h"
#include "test_support.h"

#include <QFile>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>

using namespace testsupport;

namespace {

// Two channels at different pitches, so that a swapped or dropped channel shows.
QString stereoTone(int rate, double seconds)
{
    return QStringLiteral("aevalsrc=0.4*sin(2*PI*440*t)|0.4*sin(2*PI*660*t):s=%1:d=%2").arg(rate).arg(seconds);
}

// 5.1 with a different pitch in each channel, quiet enough not to clip when downmixed.
QString surroundTone(int rate, double seconds)
{
    QStringList channels;
    for (int f : {330, 440, 550, 110, 660, 770})
        channels << QStringLiteral("0.12*sin(2*PI*%1*t)").arg(f);
    return QStringLiteral("aevalsrc=%1:c=5.1:s=%2:d=%3").arg(channels.join('|')).arg(rate).arg(seconds);
}

// The packets of the first audio stream: position in the file and size.
QList<QPair<qint64, int>> audioPackets(const QString &clip)
{
    const ToolResult r = ffprobe({"-select_streams", "a:0", "-show_entries", "packet=pos,size",
                                  "-of", "default=nw=1", clip});
    QList<QPair<qint64, int>> packets;
    qint64 pos = -1;
    int size = -1;
    for (const QByteArray &line : r.out.split('\n')) {
        if (line.startsWith("pos="))
            pos = line.mid(4).toLongLong();
        else if (line.startsWith("size="))
            size = line.mid(5).toInt();
        if (pos >= 0 && size >= 0) {
            packets.append({pos, size});
            pos = size = -1;
        }
    }
    return packets;
}

int audioPacketCount(const QString &clip)
{
    const ToolResult r = ffprobe({"-select_streams", "a:0", "-count_packets", "-show_entries",
                                  "stream=nb_read_packets", "-of", "csv=p=0", clip});
    bool ok = false;
    const int n = r.out.trimmed().split('\n').first().trimmed().toInt(&ok);
    return r.ok() && ok ? n : -1;
}

QList<FrameLine> ofStream(const QList<FrameLine> &lines, int stream)
{
    QList<FrameLine> out;
    std::copy_if(lines.begin(), lines.end(), std::back_inserter(out),
                 [stream](const FrameLine &l) { return l.stream == stream; });
    return out;
}

// Each received line of `stream` must be the reference's line at the same
// time (within `toleranceUs`) with the same hash: the right content at the
// right time, which is what "in sync" means for both streams. The first
// `warmup` lines may differ (a decoder joining mid-stream has no history:
// AAC overlaps each frame with the previous one). Returns "" or what differs.
QString sameContentAtSameTime(const QList<FrameLine> &got, const QList<FrameLine> &reference, qint64 toleranceUs,
                              int warmup)
{
    int matched = 0;
    for (int i = 0; i < got.size(); ++i) {
        const auto it = std::find_if(reference.begin(), reference.end(), [&](const FrameLine &r) {
            return qAbs(r.ptsUs - got[i].ptsUs) <= toleranceUs;
        });
        if (it == reference.end())
            return QStringLiteral("line %1 (pts %2 µs): the source has nothing at that time").arg(i).arg(got[i].ptsUs);
        if (it->md5 != got[i].md5 && i >= warmup) {
            QStringList around;
            for (int j = qMax(0, i - 3); j < qMin(int(got.size()), i + 3); ++j)
                around << QStringLiteral("%1 µs %2").arg(got[j].ptsUs).arg(got[j].md5);
            return QStringLiteral("line %1 (pts %2 µs): not the source's content at that time (%3 there; "
                                  "received around it: %4)")
                .arg(i).arg(got[i].ptsUs).arg(it->md5, around.join(", "));
        }
        matched += it->md5 == got[i].md5;
    }
    return matched > 0 ? QString() : QStringLiteral("nothing matched");
}

} // namespace

class TestAudio : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void snrOracleFindsTheDelayAndTheNoise();
    void passthroughIsFrameExact_data();
    void passthroughIsFrameExact();
    void transcodedKeepsDurationAndSignal_data();
    void transcodedKeepsDurationAndSignal();
    void audioOnlyFile_data();
    void audioOnlyFile();
    void noAudioOnEitherSide_data();
    void noAudioOnEitherSide();
    void joinMidStreamAndRetryStayInSync();
    void loopStartsTheSoundAfresh_data();
    void loopStartsTheSoundAfresh();
    void corruptAudioFrameIsCountedAndConcealed_data();
    void corruptAudioFrameIsCountedAndConcealed();
    void recordReadsBack_data();
    void recordReadsBack();

private:
    QString clip(const QString &name) const { return m_dir.filePath(name); }
    QString sameAsFfmpegFromTheJoin(const QList<FrameLine> &got, const QList<FrameLine> &reference);
    QString make(const QString &name, const QStringList &args);
    QString makeAv(const QString &name, const QString &audio, const QStringList &audioCodec, double seconds = 2,
                   const QStringList &video = {});
    QTemporaryDir m_dir;
    std::unique_ptr<PulseServer> m_pulse;
};

QString TestAudio::make(const QString &name, const QStringList &args)
{
    const ToolResult r = ffmpeg(QStringList{"-y"} + args + QStringList{clip(name)});
    return r.ok() ? QString() : QString::fromUtf8(r.err);
}

QString TestAudio::makeAv(const QString &name, const QString &audio, const QStringList &audioCodec, double seconds,
                          const QStringList &video)
{
    return make(name, QStringList{"-f", "lavfi", "-i",
                                  QStringLiteral("testsrc2=size=320x240:rate=25:duration=%1").arg(seconds),
                                  "-f", "lavfi", "-i", audio, "-c:v", "libx264", "-preset", "veryfast",
                                  "-pix_fmt", "yuv420p"}
                          + video + audioCodec);
}

void TestAudio::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_pulse = std::make_unique<PulseServer>();
    if (m_pulse->isRunning()) {
        m_pulse->exportToChildren();
    } else {
        if (inCi())
            QFAIL(qPrintable("no PulseAudio server: " + m_pulse->error() + " (CI=true: the real server must run)"));
        qWarning("no PulseAudio server (%s): the receivers run without an audio device", qPrintable(m_pulse->error()));
    }
    testSeed();
}

// The SNR oracle itself: the source through ffmpeg's AAC encoder, delayed by
// a known number of samples, must be found at that lag and well above 30
// dB; the wrong signal must be far below.
void TestAudio::snrOracleFindsTheDelayAndTheNoise()
{
    QCOMPARE(make("oracle.wav", {"-f", "lavfi", "-i", stereoTone(48000, 2)}), QString());
    QCOMPARE(make("oracle_aac.m4a", {"-i", clip("oracle.wav"), "-c:a", "aac", "-b:a", "160k"}), QString());
    const QByteArray reference = referencePcm(clip("oracle.wav"));
    const int delay = 1000 + int(testSeed() % 500);
    const QByteArray delayed = QByteArray(delay * 4, '\0') + referencePcm(clip("oracle_aac.m4a"));
    int lag = 0;
    const double snr = snrDb(reference, delayed, 2, 2048, &lag);
    qInfo("AAC round trip delayed by %d samples: SNR %.1f dB at lag %d", delay, snr, lag);
    QCOMPARE(lag, delay);
    QVERIFY2(snr >= 30, qPrintable(QString::number(snr)));
    QCOMPARE(make("oracle_other.wav", {"-f", "lavfi", "-i",
                                       "aevalsrc=0.4*sin(2*PI*550*t)|0.4*sin(2*PI*770*t):s=48000:d=2"}),
             QString());
    const double wrong = snrDb(reference, referencePcm(clip("oracle_other.wav")), 2, 2048);
    QVERIFY2(wrong < 10, qPrintable(QString::number(wrong)));
}

void TestAudio::passthroughIsFrameExact_data()
{
    QTest::addColumn<QString>("name");
    QCOMPARE(makeAv("aac.mp4", stereoTone(44100, 2), {"-c:a", "aac", "-b:a", "128k"}), QString());
    QCOMPARE(makeAv("mp3.mkv", stereoTone(44100, 2), {"-c:a", "libmp3lame", "-b:a", "128k"}), QString());
    QCOMPARE(makeAv("mp3.avi", stereoTone(48000, 2), {"-c:a", "libmp3lame", "-b:a", "128k"}), QString());
    // Audio as the file's first stream.
    QCOMPARE(make("audio_first.mp4", {"-f", "lavfi", "-i", stereoTone(48000, 2), "-f", "lavfi", "-i",
                                      "testsrc2=size=320x240:rate=25:duration=2", "-map", "0:a", "-map", "1:v",
                                      "-c:a", "aac", "-c:v", "libx264", "-pix_fmt", "yuv420p"}),
             QString());
    // An edit list that starts after the first second (a stream-copied cut
    // between keyframes): the packets before it are flagged to discard,
    // audio as well as video (checked here with ffprobe).
    QCOMPARE(makeAv("long.mp4", stereoTone(44100, 4), {"-c:a", "aac"}, 4, {"-g", "50", "-bf", "2"}), QString());
    QCOMPARE(make("edit_list.mp4", {"-ss", "1.3", "-i", clip("long.mp4"), "-c", "copy"}), QString());
    const ToolResult probed = runTool(QStringLiteral(FFPROBE_EXECUTABLE), {"-v", "error", "-select_streams", "a", "-show_entries",
                                                           "packet=flags", "-of", "csv", clip("edit_list.mp4")});
    QVERIFY2(probed.out.contains("D"), "the cut has no audio packets to discard");
    for (const char *name : {"aac.mp4", "mp3.mkv", "mp3.avi", "audio_first.mp4", "edit_list.mp4"})
        QTest::newRow(name) << QString(name);
}

void TestAudio::passthroughIsFrameExact()
{
    QFETCH(QString, name);
    const QString md5Path = m_dir.filePath(name + ".framemd5");
    const QString pcmPath = m_dir.filePath(name + ".pcm");
    ReceiverProcess receiver({"--once", "--framemd5", md5Path, "--pcm", pcmPath});
    QVERIFY2(receiver.port(), qPrintable(receiver.output()));
    const SenderRun sender = runSender({clip(name), "--host", "127.0.0.1", "--port",
                                        QString::number(receiver.port()), "--fast"});
    QVERIFY2(sender.exitCode == 0, qPrintable(sender.err));
    QVERIFY2(sender.err.contains(QRegularExpression("^audio: .*passed through", QRegularExpression::MultilineOption)),
             qPrintable(sender.err));
    QVERIFY(receiver.waitForExit(20000));
    QVERIFY2(receiver.process().exitCode() == 0, qPrintable(receiver.output()));

    const QList<FrameLine> reference = frameLines(referenceAvFramemd5(clip(name)));
    const QList<FrameLine> received = frameLines(readFile(md5Path));
    QCOMPARE(ofStream(reference, 0).size(), ffprobeFrameCount(clip(name)));
    QVERIFY(!ofStream(reference, 1).isEmpty());
    // Each stream line for line.
    for (int stream : {0, 1}) {
        const QStringList expected = streamAndMd5(ofStream(reference, stream));
        const QStringList got = streamAndMd5(ofStream(received, stream));
        for (int i = 0; i < qMin(got.size(), expected.size()); ++i)
            QVERIFY2(got[i] == expected[i], qPrintable(QStringLiteral("stream %1, frame %2: %3, ffmpeg says %4")
                                                           .arg(stream).arg(i).arg(got[i], expected[i])));
        QCOMPARE(got.size(), expected.size());
    }
    // Interleaved by time, then stream index. The ffmpeg CLI orders its lines
    // by its own timestamps, the video's rounded to the frame rate (a 25 ms
    // mkv pts becomes tick 1 of 1/25 s), so the whole file equals the CLI's
    // line for line where the container's time base is that exact (mp4).
    for (int i = 1; i < received.size(); ++i)
        QVERIFY2(received[i - 1].ptsUs < received[i].ptsUs
                     || (received[i - 1].ptsUs == received[i].ptsUs && received[i - 1].stream <= received[i].stream),
                 qPrintable(QStringLiteral("line %1 (stream %2, %3 µs) comes after stream %4 at %5 µs")
                                .arg(i).arg(received[i].stream).arg(received[i].ptsUs)
                                .arg(received[i - 1].stream).arg(received[i - 1].ptsUs)));
    if (name.endsWith(".mp4")) {
        const QStringList expected = streamAndMd5(reference);
        const QStringList got = streamAndMd5(received);
        for (int i = 0; i < qMin(got.size(), expected.size()); ++i)
            QVERIFY2(got[i] == expected[i], qPrintable(QStringLiteral("line %1: %2, ffmpeg says %3")
                                                           .arg(i).arg(got[i], expected[i])));
        QCOMPARE(got.size(), expected.size());
    }

    const QByteArray pcm = readFile(pcmPath);
    const QByteArray expectedPcm = referencePcm(clip(name));
    QVERIFY(!expectedPcm.isEmpty());
    QCOMPARE(pcm.size(), expectedPcm.size());
    QVERIFY2(pcm == expectedPcm, "the PCM differs from ffmpeg's decode");
}

void TestAudio::transcodedKeepsDurationAndSignal_data()
{
    QTest::addColumn<QString>("name");
    const struct {
        const char *name;
        QString audio;
        QStringList codec;
    } sources[] = {
        {"ac3.mkv", stereoTone(48000, 2), {"-c:a", "ac3", "-b:a", "192k"}},
        {"opus.mkv", stereoTone(48000, 2), {"-c:a", "libopus", "-b:a", "256k"}},
        {"flac.mkv", stereoTone(44100, 2), {"-c:a", "flac"}},
        {"pcm.mov", stereoTone(48000, 2), {"-c:a", "pcm_s16le"}},
        {"vorbis.mkv", stereoTone(44100, 2), {"-c:a", "libvorbis", "-q:a", "8"}},
        {"ac3_5.1.mkv", surroundTone(48000, 2), {"-c:a", "ac3", "-b:a", "384k"}},
    };
    for (const auto &s : sources) {
        QCOMPARE(makeAv(s.name, s.audio, s.codec), QString());
        QTest::newRow(s.name) << QString(s.name);
    }
}

void TestAudio::transcodedKeepsDurationAndSignal()
{
    QFETCH(QString, name);
    const QString wavPath = m_dir.filePath(name + ".wav");
    const QString md5Path = m_dir.filePath(name + ".framemd5");
    ReceiverProcess receiver({"--once", "--pcm", wavPath, "--framemd5", md5Path});
    QVERIFY2(receiver.port(), qPrintable(receiver.output()));
    const SenderRun sender = runSender({clip(name), "--host", "127.0.0.1", "--port",
                                        QString::number(receiver.port()), "--fast"});
    QVERIFY2(sender.exitCode == 0, qPrintable(sender.err));
    // It says once what it does: "audio: ac3 5.1 48 kHz → AAC stereo 160 kb/s".
    QVERIFY2(sender.err.count(QRegularExpression("^audio: .*→ AAC", QRegularExpression::MultilineOption)) == 1,
             qPrintable(sender.err));
    QVERIFY(receiver.waitForExit(20000));
    QVERIFY2(receiver.process().exitCode() == 0, qPrintable(receiver.output()));
    QCOMPARE(int(ofStream(frameLines(readFile(md5Path)), 0).size()), ffprobeFrameCount(clip(name)));

    // The WAV header (FFmpeg's wav muxer) says what arrived.
    const DecodedAudio got = decodeAudioFile(wavPath);
    QVERIFY2(got.rate > 0 && got.channels > 0 && got.frames() > 0, qPrintable(wavPath));
    QVERIFY2(got.channels <= 2, qPrintable(QString::number(got.channels))); // AAC stereo at most
    const QByteArray reference = referencePcm(clip(name), got.channels, got.rate);
    const qint64 referenceFrames = reference.size() / (2 * got.channels);
    QVERIFY(referenceFrames > 0);
    QVERIFY2(qAbs(got.frames() - referenceFrames) <= 1024,
             qPrintable(QStringLiteral("%1 samples received, the source has %2 (at %3 Hz): more than one AAC "
                                       "frame apart").arg(got.frames()).arg(referenceFrames).arg(got.rate)));
    int lag = 0;
    const double snr = snrDb(reference, got.s16, got.channels, 2048, &lag);
    qInfo("%s: %d Hz, %d channels, SNR %.1f dB, lag %d samples", qPrintable(name), got.rate, got.channels, snr, lag);
    QVERIFY2(snr >= 30, qPrintable(QStringLiteral("SNR %1 dB (lag %2 samples)").arg(snr).arg(lag)));
}

void TestAudio::audioOnlyFile_data()
{
    QTest::addColumn<QString>("name");
    QCOMPARE(make("lecture.m4a", {"-f", "lavfi", "-i", stereoTone(44100, 2), "-c:a", "aac"}), QString());
    QCOMPARE(make("lecture.mp3", {"-f", "lavfi", "-i", stereoTone(44100, 2), "-c:a", "libmp3lame"}), QString());
    QTest::newRow("aac") << "lecture.m4a";
    QTest::newRow("mp3") << "lecture.mp3";
}

void TestAudio::audioOnlyFile()
{
    QFETCH(QString, name);
    const QString md5Path = m_dir.filePath(name + ".framemd5");
    const QString pcmPath = m_dir.filePath(name + ".pcm");
    ReceiverProcess receiver({"--once", "--framemd5", md5Path, "--pcm", pcmPath});
    QVERIFY2(receiver.port(), qPrintable(receiver.output()));
    const SenderRun sender = runSender({clip(name), "--host", "127.0.0.1", "--port",
                                        QString::number(receiver.port()), "--fast"});
    QVERIFY2(sender.exitCode == 0, qPrintable(sender.err));
    QVERIFY(receiver.waitForExit(20000));
    QVERIFY2(receiver.process().exitCode() == 0, qPrintable(receiver.output()));
    const QByteArray expectedPcm = referencePcm(clip(name));
    QVERIFY(!expectedPcm.isEmpty());
    QVERIFY2(readFile(pcmPath) == expectedPcm, "the PCM differs from ffmpeg's decode");
    const ToolResult reference = ffmpeg({"-i", clip(name), "-map", "0:a:0", "-f", "framemd5", "-"});
    QVERIFY(reference.ok());
    const QList<FrameLine> got = frameLines(readFile(md5Path));
    QVERIFY(!got.isEmpty());
    QVERIFY2(std::all_of(got.begin(), got.end(), [](const FrameLine &l) { return l.stream == 1; }),
             "an audio-only stream has audio lines only");
    QStringList gotMd5, expectedMd5;
    for (const FrameLine &l : got)
        gotMd5 << l.md5;
    for (const FrameLine &l : frameLines(reference.out))
        expectedMd5 << l.md5;
    QCOMPARE(gotMd5, expectedMd5);
}

void TestAudio::noAudioOnEitherSide_data()
{
    QTest::addColumn<QString>("side");
    QTest::newRow("sender") << "sender";
    QTest::newRow("receiver") << "receiver";
}

void TestAudio::noAudioOnEitherSide()
{
    QFETCH(QString, side);
    if (!QFile::exists(clip("aac.mp4")))
        QCOMPARE(makeAv("aac.mp4", stereoTone(44100, 2), {"-c:a", "aac", "-b:a", "128k"}), QString());
    const QString md5Path = m_dir.filePath("noaudio-" + side + ".framemd5");
    QStringList receiverArgs{"--once", "--framemd5", md5Path};
    QStringList senderArgs{clip("aac.mp4"), "--host", "127.0.0.1", "--fast"};
    (side == "sender" ? senderArgs : receiverArgs) << "--no-audio";
    ReceiverProcess receiver(receiverArgs);
    QVERIFY2(receiver.port(), qPrintable(receiver.output()));
    const SenderRun sender = runSender(senderArgs + QStringList{"--port", QString::number(receiver.port())});
    QVERIFY2(sender.exitCode == 0, qPrintable(sender.err)); // confirmed: every packet sent was received
    QVERIFY(receiver.waitForExit(20000));
    QVERIFY2(receiver.process().exitCode() == 0, qPrintable(receiver.output()));
    // The picture, all of it and only it.
    const QList<FrameLine> got = frameLines(readFile(md5Path));
    QVERIFY2(ofStream(got, 1).isEmpty(), "audio lines without audio");
    QCOMPARE(md5Column(readFile(md5Path)), referenceMd5(clip("aac.mp4")));
    if (side == "receiver") {
        // The audio was sent all the same, and counted.
        const int packets = audioPacketCount(clip("aac.mp4"));
        QVERIFY(packets > 0);
        QVERIFY2((sender.out + sender.err).contains(QStringLiteral("%1 audio packets").arg(packets)),
                 qPrintable(sender.out + sender.err));
    }
}

// A sender with --retry starts before its receiver (the receiver joins
// mid-stream), then the receiver is killed and another one takes its place
// (the sender reconnects and goes on from where it is). Each receiver's
// pictures and sound must be the source's at the same times.
void TestAudio::joinMidStreamAndRetryStayInSync()
{
    QCOMPARE(makeAv("gop.mp4", stereoTone(44100, 6), {"-c:a", "aac"}, 6,
                    {"-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-bf", "0"}),
             QString());
    const QList<FrameLine> reference = frameLines(referenceAvFramemd5(clip("gop.mp4"), true));
    QVERIFY(!ofStream(reference, 1).isEmpty());
    quint16 port = 0;
    {
        QTcpServer probe; // a free port, known before either side starts
        QVERIFY(probe.listen(QHostAddress::LocalHost));
        port = probe.serverPort();
    }
    QProcess sender;
    sender.setProcessChannelMode(QProcess::MergedChannels);
    sender.start(QStringLiteral(SENDER_EXECUTABLE),
                 {clip("gop.mp4"), "--host", "127.0.0.1", "--port", QString::number(port), "--retry"});
    QVERIFY(sender.waitForStarted());
    QTest::qWait(1200); // the stream's clock runs while nobody listens

    const QString firstMd5 = m_dir.filePath("join1.framemd5");
    {
        ReceiverProcess first({"--framemd5", firstMd5, "--port", QString::number(port)});
        QVERIFY2(first.port() == port, qPrintable(first.output()));
        QTRY_VERIFY_WITH_TIMEOUT(ofStream(frameLines(readFile(firstMd5)), 0).size() >= 25, 10000);
        first.process().kill(); // no goodbye: the sender must notice and retry
        first.waitForExit(5000);
    }
    const QString secondMd5 = m_dir.filePath("join2.framemd5");
    ReceiverProcess second({"--once", "--framemd5", secondMd5, "--port", QString::number(port)});
    QVERIFY2(second.port() == port, qPrintable(second.output()));
    QVERIFY(sender.waitForFinished(20000));
    QVERIFY2(sender.exitCode() == 0, sender.readAll().constData());
    QVERIFY(second.waitForExit(10000));
    QVERIFY2(second.process().exitCode() == 0, qPrintable(second.output()));

    const qint64 sampleUs = 1000000 / 44100 + 1;
    qint64 lastVideoOfFirst = 0;
    for (const QString &path : {firstMd5, secondMd5}) {
        const QList<FrameLine> got = frameLines(readFile(path));
        const QList<FrameLine> video = ofStream(got, 0), audio = ofStream(got, 1);
        QVERIFY2(!video.isEmpty() && !audio.isEmpty(), qPrintable(path));
        QString why = sameContentAtSameTime(video, ofStream(reference, 0), 0, 0);
        QVERIFY2(why.isEmpty(), qPrintable("video of " + path + ": " + why));
        if (path == firstMd5) {
            why = sameContentAtSameTime(audio, ofStream(reference, 1), sampleUs, 2);
            QVERIFY2(why.isEmpty(), qPrintable("audio of " + path + ": " + why));
        } else {
            why = sameAsFfmpegFromTheJoin(audio, ofStream(reference, 1));
            QVERIFY2(why.isEmpty(), qPrintable("audio of " + path + ": " + why));
        }
        // Sound from the first picture on, not long before or after it.
        QVERIFY2(qAbs(audio.first().ptsUs - video.first().ptsUs) <= 100000,
                 qPrintable(QStringLiteral("%1: sound starts at %2 µs, the picture at %3 µs")
                                .arg(path).arg(audio.first().ptsUs).arg(video.first().ptsUs)));
        if (path == secondMd5) { // it joined mid-stream
            QVERIFY2(video.first().ptsUs > lastVideoOfFirst, "the second receiver did not continue");
            QVERIFY(qAbs(audio.last().ptsUs - video.last().ptsUs) <= 100000);
        }
        lastVideoOfFirst = video.last().ptsUs;
    }
}

// FFmpeg's AAC decoder started mid-stream stays a rounding step away from
// one that ran from the start in some samples, for good (the ffmpeg CLI does
// the same on the same bytes), so a receiver that joined is compared with
// ffmpeg decoding the same packets from the join on: each frame after the
// first two (the decoder's warm-up) has the same MD5.
QString TestAudio::sameAsFfmpegFromTheJoin(const QList<FrameLine> &got, const QList<FrameLine> &reference)
{
    const qint64 joinUs = got.first().ptsUs;
    const auto fromJoin = std::count_if(reference.begin(), reference.end(),
                                        [&](const FrameLine &r) { return r.ptsUs >= joinUs; });
    const QString tail = clip("join.aac");
    // An output -ss drops the packets before the join (an input -ss would
    // seek to the packet before it).
    const ToolResult cut = ffmpeg({"-v", "error", "-y", "-i", clip("gop.mp4"), "-ss",
                                   QString::number((joinUs - 1) / 1e6, 'f', 6), "-map", "0:a:0", "-c", "copy",
                                   "-f", "adts", tail});
    if (!cut.ok())
        return "ffmpeg could not cut the audio: " + QString::fromUtf8(cut.err);
    const ToolResult decoded = ffmpeg({"-i", tail, "-f", "framemd5", "-"});
    if (!decoded.ok())
        return "ffmpeg could not decode the cut audio: " + QString::fromUtf8(decoded.err);
    const QList<FrameLine> expected = ofStream(frameLines(decoded.out), 0);
    if (expected.size() != fromJoin)
        return QStringLiteral("ffmpeg's cut at %1 µs has %2 frames, the source %3 from there")
            .arg(joinUs).arg(expected.size()).arg(fromJoin);
    if (got.size() != expected.size())
        return QStringLiteral("%1 frames from %2 µs on, the source has %3").arg(got.size()).arg(joinUs)
            .arg(expected.size());
    for (int i = 2; i < got.size(); ++i)
        if (got[i].md5 != expected[i].md5)
            return QStringLiteral("frame %1 (pts %2 µs) differs from ffmpeg's decode from the join")
                .arg(i).arg(got[i].ptsUs);
    return QString();
}

void TestAudio::loopStartsTheSoundAfresh_data()
{
    QTest::addColumn<QString>("name");
    QCOMPARE(makeAv("loop_aac.mp4", stereoTone(44100, 1.2), {"-c:a", "aac"}, 1.2), QString());
    QCOMPARE(makeAv("loop_mp3.mkv", stereoTone(44100, 1.2), {"-c:a", "libmp3lame"}, 1.2), QString());
    QTest::newRow("aac") << "loop_aac.mp4";
    QTest::newRow("mp3") << "loop_mp3.mkv";
}

// --loop: each pass's sound is the file's, as ffmpeg decodes it from the
// start (the receiver starts a fresh decoder at the AUDIO discontinuity),
// and its timestamps go on rising.
void TestAudio::loopStartsTheSoundAfresh()
{
    QFETCH(QString, name);
    const QList<FrameLine> reference = ofStream(frameLines(referenceAvFramemd5(clip(name))), 1);
    QVERIFY(!reference.isEmpty());
    const QString md5Path = m_dir.filePath(name + ".loop.framemd5");
    ReceiverProcess receiver({"--once", "--framemd5", md5Path});
    QVERIFY2(receiver.port(), qPrintable(receiver.output()));
    QProcess sender;
    sender.setProcessChannelMode(QProcess::MergedChannels);
    sender.start(QStringLiteral(SENDER_EXECUTABLE), {clip(name), "--host", "127.0.0.1", "--port",
                                                     QString::number(receiver.port()), "--loop"});
    QVERIFY(sender.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(ofStream(frameLines(readFile(md5Path)), 1).size() >= 2 * reference.size() + 5, 20000);
    sender.terminate(); // SIGTERM: the stream ends cleanly
    QVERIFY(sender.waitForFinished(10000));
    QVERIFY2(sender.exitCode() == 0, sender.readAll().constData());
    QVERIFY(receiver.waitForExit(10000));
    QVERIFY2(receiver.process().exitCode() == 0, qPrintable(receiver.output()));

    const QList<FrameLine> got = ofStream(frameLines(readFile(md5Path)), 1);
    for (int pass = 0; pass < 2; ++pass) {
        for (int i = 0; i < reference.size(); ++i) {
            const FrameLine &line = got[pass * reference.size() + i];
            QVERIFY2(line.md5 == reference[i].md5,
                     qPrintable(QStringLiteral("pass %1, audio frame %2 (pts %3 µs): not the file's frame %2")
                                    .arg(pass + 1).arg(i).arg(line.ptsUs)));
        }
    }
    for (int i = 1; i < got.size(); ++i)
        QVERIFY2(got[i].ptsUs > got[i - 1].ptsUs, qPrintable(QStringLiteral("audio frame %1 goes back in time").arg(i)));
}

void TestAudio::corruptAudioFrameIsCountedAndConcealed_data()
{
    QTest::addColumn<bool>("beforeAnySound");
    QTest::newRow("in the middle") << false;
    // The first packet is AAC's priming, decoded and trimmed away: the
    // second is the first one heard, so no frame has come out before it.
    QTest::newRow("the first heard") << true;
}

void TestAudio::corruptAudioFrameIsCountedAndConcealed()
{
    QFETCH(bool, beforeAnySound);
    QCOMPARE(makeAv("tocorrupt.mp4", stereoTone(44100, 2), {"-c:a", "aac"}), QString());
    const QList<QPair<qint64, int>> packets = audioPackets(clip("tocorrupt.mp4"));
    QVERIFY(packets.size() > 20);
    QByteArray bytes = readFile(clip("tocorrupt.mp4"));
    // One frame, in the middle chosen by the seed, or the first heard: every byte inverted.
    QRandomGenerator random(testSeed());
    const int index = beforeAnySound ? 1 : packets.size() / 4 + int(random.bounded(quint32(packets.size() / 2)));
    for (int i = 0; i < packets[index].second; ++i)
        bytes[packets[index].first + i] = char(~bytes[packets[index].first + i]);
    const QString corrupt = clip("corrupt.mp4");
    QFile out(corrupt);
    QVERIFY(out.open(QIODevice::WriteOnly));
    out.write(bytes);
    out.close();
    // The oracle: ffmpeg fails on that frame and on no other.
    const ToolResult oracle = ffmpeg({"-i", corrupt, "-map", "0:a:0", "-f", "null", "-"});
    const int expectedErrors = int(QString::fromUtf8(oracle.err).count("Error while decoding stream"));
    qInfo("audio packet %d of %d corrupted; ffmpeg reports %d decode errors", index, int(packets.size()),
          expectedErrors);
    QVERIFY(expectedErrors >= 1);

    const QString md5Path = m_dir.filePath("corrupt.framemd5");
    const QString pcmPath = m_dir.filePath("corrupt.pcm");
    ReceiverProcess receiver({"--once", "--framemd5", md5Path, "--pcm", pcmPath});
    QVERIFY2(receiver.port(), qPrintable(receiver.output()));
    const SenderRun sender = runSender({corrupt, "--host", "127.0.0.1", "--port", QString::number(receiver.port()),
                                        "--fast"});
    QVERIFY2(sender.exitCode == 0, qPrintable(sender.err));
    QVERIFY(receiver.waitForExit(20000));
    const QString output = receiver.output();
    // The video goes on, every picture.
    const QList<FrameLine> got = frameLines(readFile(md5Path));
    QStringList video;
    for (const FrameLine &l : ofStream(got, 0))
        video << l.md5;
    QCOMPARE(video, referenceMd5(corrupt));
    // Counted, and said.
    const QRegularExpressionMatch counted =
        QRegularExpression("(\\d+) audio (?:decode )?errors?").match(output);
    QVERIFY2(counted.hasMatch(), qPrintable(output));
    QCOMPARE(counted.captured(1).toInt(), expectedErrors);
    // Concealed: the sound keeps its length (the lost frame is silence, not a gap).
    const QByteArray reference = referencePcm(clip("tocorrupt.mp4"));
    const qint64 frameBytes = 2 * 2;
    QVERIFY2(qAbs(readFile(pcmPath).size() - reference.size()) <= (beforeAnySound ? 0 : 1024 * frameBytes),
             qPrintable(QStringLiteral("%1 bytes of PCM, the intact clip decodes to %2")
                            .arg(readFile(pcmPath).size()).arg(reference.size())));
}

void TestAudio::recordReadsBack_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("record");
    if (!QFile::exists(clip("aac.mp4")))
        QCOMPARE(makeAv("aac.mp4", stereoTone(44100, 2), {"-c:a", "aac", "-b:a", "128k"}), QString());
    if (!QFile::exists(clip("mp3.mkv")))
        QCOMPARE(makeAv("mp3.mkv", stereoTone(44100, 2), {"-c:a", "libmp3lame"}), QString());
    QTest::newRow("aac to mkv") << "aac.mp4" << "rec-aac.mkv";
    QTest::newRow("aac to mp4") << "aac.mp4" << "rec-aac.mp4";
    QTest::newRow("mp3 to mkv") << "mp3.mkv" << "rec-mp3.mkv";
}

void TestAudio::recordReadsBack()
{
    QFETCH(QString, name);
    QFETCH(QString, record);
    const QString recordPath = m_dir.filePath(record);
    ReceiverProcess receiver({"--once", "--record", recordPath});
    QVERIFY2(receiver.port(), qPrintable(receiver.output()));
    const SenderRun sender = runSender({clip(name), "--host", "127.0.0.1", "--port",
                                        QString::number(receiver.port()), "--fast"});
    QVERIFY2(sender.exitCode == 0, qPrintable(sender.err));
    QVERIFY(receiver.waitForExit(20000));
    QVERIFY2(receiver.process().exitCode() == 0, qPrintable(receiver.output()));

    const ToolResult streams = ffprobe({"-show_entries", "stream=codec_type,codec_name", "-of", "csv=p=0",
                                        recordPath});
    QVERIFY2(streams.ok(), streams.err.constData());
    const ToolResult source = ffprobe({"-show_entries", "stream=codec_type,codec_name", "-of", "csv=p=0",
                                       "-select_streams", "v:0", clip(name)});
    const ToolResult sourceAudio = ffprobe({"-show_entries", "stream=codec_type,codec_name", "-of", "csv=p=0",
                                            "-select_streams", "a:0", clip(name)});
    QStringList got = QString::fromUtf8(streams.out).split('\n', Qt::SkipEmptyParts);
    QStringList expected{QString::fromUtf8(source.out).trimmed(), QString::fromUtf8(sourceAudio.out).trimmed()};
    std::sort(got.begin(), got.end());
    std::sort(expected.begin(), expected.end());
    QCOMPARE(got, expected); // both streams, not re-encoded
    QCOMPARE(ffprobeFrameCount(recordPath), ffprobeFrameCount(clip(name)));
    QCOMPARE(audioPacketCount(recordPath), audioPacketCount(clip(name)));
    // The decoded sound is what ffmpeg's own remux into the same container
    // gives (Matroska cannot carry AAC's priming trim, so there the 1024
    // priming samples play, as with `ffmpeg -c copy out.mkv`).
    const QString remuxed = m_dir.filePath("ffmpeg-" + record);
    const ToolResult remux = ffmpeg({"-y", "-i", clip(name), "-map", "0:v:0", "-map", "0:a:0", "-c", "copy", remuxed});
    QVERIFY2(remux.ok(), remux.err.constData());
    QCOMPARE(referencePcm(recordPath).size(), referencePcm(remuxed).size());
    const auto duration = [](const QString &path) {
        return ffprobe({"-show_entries", "format=duration", "-of", "csv=p=0", path}).out.trimmed().toDouble();
    };
    QVERIFY2(qAbs(duration(recordPath) - duration(clip(name))) <= 0.05,
             qPrintable(QStringLiteral("%1 s recorded, the source lasts %2 s")
                            .arg(duration(recordPath)).arg(duration(clip(name)))));
}

QTEST_GUILESS_MAIN(TestAudio)
#include "tst_audio.moc"
