#include "app_runner.h"

extern "C" {
#include <libavutil/mathematics.h>
}

#include "test_support.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFile>
#include <QRegularExpression>
#include <QThread>

namespace testsupport {

ReceiverProcess::ReceiverProcess(const QStringList &extraArgs, std::function<void()> childSetup,
                                 bool headless)
{
    m_process.setProcessChannelMode(QProcess::MergedChannels);
    if (childSetup)
        m_process.setChildProcessModifier(childSetup);
    // --connect dials: no port of its own, and "connecting to HOST:PORT" says it is up.
    const bool dials = extraArgs.contains(QStringLiteral("--connect"));
    m_process.start(QStringLiteral(RECEIVER_EXECUTABLE),
                    (headless ? QStringList{"--headless"} : QStringList())
                        + (dials ? QStringList() : QStringList{"--port", "0"}) + extraArgs);
    static const QRegularExpression listening(QStringLiteral("listening on port (\\d+)"));
    static const QRegularExpression connecting(QStringLiteral("connecting to \\S+:(\\d+)"));
    QDeadlineTimer deadline(10000);
    while (!deadline.hasExpired() && m_process.state() != QProcess::NotRunning) {
        m_process.waitForReadyRead(100);
        m_output += m_process.readAll();
        const auto match = (dials ? connecting : listening).match(QString::fromUtf8(m_output));
        if (match.hasMatch()) {
            m_port = quint16(match.captured(1).toUInt());
            break;
        }
    }
}

ReceiverProcess::~ReceiverProcess()
{
    if (m_process.state() != QProcess::NotRunning) {
        m_process.kill();
        m_process.waitForFinished();
    }
}

bool ReceiverProcess::waitForExit(int msecs)
{
    const bool exited = m_process.waitForFinished(msecs);
    m_output += m_process.readAll();
    return exited;
}

QString ReceiverProcess::output()
{
    m_output += m_process.readAll();
    return QString::fromUtf8(m_output);
}

PulseServer::PulseServer()
{
    if (!m_dir.isValid()) {
        m_error = QStringLiteral("cannot create a temporary directory");
        return;
    }
    auto run = [this](const QString &program, const QStringList &args) {
        QProcess p;
        p.setProcessEnvironment(environment());
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(program, args);
        if (!p.waitForStarted(5000))
            return QStringLiteral("%1 is not installed (scripts/setup.sh installs it)").arg(program);
        if (!p.waitForFinished(10000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
            return QStringLiteral("%1 failed: %2").arg(program, QString::fromUtf8(p.readAll()).trimmed());
        return QString();
    };
    m_error = run("pulseaudio", {"-D", "-n", "--exit-idle-time=-1", "--load=module-native-protocol-unix",
                                 "--load=module-null-sink sink_name=nul rate=48000"});
    if (!m_error.isEmpty())
        return;
    QDeadlineTimer deadline(10000);
    while (!(m_error = run("pactl", {"info"})).isEmpty() && !deadline.hasExpired())
        QThread::msleep(50);
    if (m_error.isEmpty())
        m_error = run("pactl", {"set-default-sink", "nul"});
    m_running = m_error.isEmpty();
}

PulseServer::~PulseServer()
{
    if (!m_dir.isValid())
        return;
    QProcess kill;
    kill.setProcessEnvironment(environment());
    kill.start("pulseaudio", {"--kill"});
    kill.waitForFinished(5000);
    // It removes its pid file as it exits.
    const QString pidFile = m_dir.filePath("pulse/pid");
    QDeadlineTimer deadline(5000);
    while (QFile::exists(pidFile) && !deadline.hasExpired())
        QThread::msleep(20);
}

QProcessEnvironment PulseServer::environment() const
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("XDG_RUNTIME_DIR", m_dir.path());
    env.insert("PULSE_SERVER", "unix:" + m_dir.filePath("pulse/native"));
    env.remove("PULSE_SINK");
    return env;
}

void PulseServer::exportToChildren() const
{
    qputenv("XDG_RUNTIME_DIR", m_dir.path().toLocal8Bit());
    qputenv("PULSE_SERVER", ("unix:" + m_dir.filePath("pulse/native")).toLocal8Bit());
}

SenderRun runSender(const QStringList &args, int timeoutMs)
{
    QElapsedTimer timer;
    timer.start();
    const ToolResult r = runTool(QStringLiteral(SENDER_EXECUTABLE), args, timeoutMs);
    SenderRun run;
    run.exitCode = r.exitCode;
    run.out = QString::fromUtf8(r.out);
    run.err = QString::fromUtf8(r.err);
    run.elapsedMs = timer.elapsed();
    return run;
}

quint16 startServing(QProcess &sender, const QStringList &args, QByteArray *err, int timeoutMs)
{
    sender.start(QStringLiteral(SENDER_EXECUTABLE), args);
    if (!sender.waitForStarted())
        return 0;
    static const QRegularExpression serving(QStringLiteral("serving on port (\\d+)"));
    QDeadlineTimer deadline(timeoutMs);
    while (sender.state() == QProcess::Running && !deadline.hasExpired()) {
        sender.waitForReadyRead(100);
        *err += sender.readAllStandardError();
        if (const quint16 port = quint16(serving.match(QString::fromUtf8(*err)).captured(1).toUInt()))
            return port;
    }
    *err += sender.readAllStandardError();
    return 0;
}

QStringList md5Column(const QByteArray &framemd5)
{
    QStringList hashes;
    for (const QByteArray &line : framemd5.split('\n')) {
        if (!line.startsWith("0,")) // comments, and the audio's lines (stream 1)
            continue;
        hashes << QString::fromLatin1(line.split(',').last().trimmed());
    }
    return hashes;
}

QStringList referenceMd5(const QString &clip)
{
    const ToolResult r = ffmpeg({"-i", clip, "-map", "0:v:0", "-fps_mode", "passthrough",
                                 "-f", "framemd5", "-"});
    return r.ok() ? md5Column(r.out) : QStringList();
}

QList<qint64> ptsColumnUs(const QByteArray &framemd5)
{
    qint64 num = 0, den = 0;
    QList<qint64> pts;
    for (const QByteArray &line : framemd5.split('\n')) {
        if (line.startsWith("#tb 0:")) {
            const QList<QByteArray> tb = line.mid(6).trimmed().split('/');
            if (tb.size() == 2) {
                num = tb[0].toLongLong();
                den = tb[1].toLongLong();
            }
            continue;
        }
        if (!line.startsWith("0,")) // comments, and the audio's lines (stream 1)
            continue;
        if (den <= 0)
            return {};
        // av_rescale_rnd: no overflow, even for a pts of AV_NOPTS_VALUE.
        pts << av_rescale_rnd(line.split(',').value(2).trimmed().toLongLong(), 1000000 * num, den, AV_ROUND_NEAR_INF);
    }
    return pts;
}

QList<qint64> referencePtsUs(const QString &clip)
{
    const ToolResult r = ffmpeg({"-copyts", "-i", clip, "-map", "0:v:0", "-fps_mode", "passthrough",
                                 "-enc_time_base", "-1", "-f", "framemd5", "-"});
    return r.ok() ? ptsColumnUs(r.out) : QList<qint64>();
}

QString makeGopClip(const QString &path, int fps, double seconds, GopClip *clip)
{
    const QString gop = QString::number(fps);
    const QString error = makeClip(path, "320x240", fps, seconds,
                                   {"-g", gop, "-keyint_min", gop, "-sc_threshold", "0", "-bf", "0"});
    if (!error.isEmpty())
        return error;
    clip->path = path;
    clip->fps = fps;
    clip->reference = referenceMd5(path);
    clip->keyFrames = ffprobeKeyFrameIndices(path);
    const int frames = ffprobeFrameCount(path);
    if (clip->reference.isEmpty() || clip->reference.size() != frames)
        return QStringLiteral("%1: ffmpeg's framemd5 has %2 frames, ffprobe counts %3")
            .arg(path).arg(clip->reference.size()).arg(frames);
    if (clip->keyFrames.size() < 2)
        return QStringLiteral("%1: ffprobe lists %2 keyframes").arg(path).arg(clip->keyFrames.size());
    return {};
}

} // namespace testsupport
