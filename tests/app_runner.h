// Runs the real sender and receiver executables for end-to-end tests.
#pragma once

#include <functional>

#include <QProcess>
#include <QString>
#include <QTemporaryDir>
#include <QList>
#include <QStringList>
#include <memory>

namespace testsupport {

// A receiver process listening on a free port (--port 0), with its port read
// from its "listening on port N" line; with --connect in extraArgs, dialling
// instead (port() is then the port it dials).
class ReceiverProcess {
public:
    // Starts `receiver --headless --port 0 extraArgs...`; QVERIFY-friendly:
    // port() is 0 if it did not come up.
    // `childSetup` runs in the child before exec (resource limits, signals).
    // `headless` false: with its window (under QT_QPA_PLATFORM, offscreen in CTest).
    explicit ReceiverProcess(const QStringList &extraArgs, std::function<void()> childSetup = {},
                             bool headless = true);
    ~ReceiverProcess();

    quint16 port() const { return m_port; }
    QProcess &process() { return m_process; }
    bool waitForExit(int msecs);
    QString output(); // everything it printed so far (stdout and stderr)

private:
    QProcess m_process;
    QByteArray m_output;
    quint16 m_port = 0;
};

// A private PulseAudio server (Debian's `pulseaudio`) with its own
// XDG_RUNTIME_DIR, whose default sink is a null sink (`nul`, 48 kHz): a
// real sound server that plays into nothing, at the pace of a real device.
// exportToChildren() points every process started afterwards at it.
class PulseServer {
public:
    PulseServer();
    ~PulseServer();
    PulseServer(const PulseServer &) = delete;
    PulseServer &operator=(const PulseServer &) = delete;

    bool isRunning() const { return m_running; }
    QString error() const { return m_error; } // why it is not running
    QString runtimeDir() const { return m_dir.path(); }
    void exportToChildren() const;

private:
    QProcessEnvironment environment() const;
    QTemporaryDir m_dir;
    bool m_running = false;
    QString m_error;
};

struct SenderRun {
    int exitCode = -1;
    QString out;
    QString err;
    qint64 elapsedMs = 0;
};

SenderRun runSender(const QStringList &args, int timeoutMs = 60000);

// Starts `sender args...` (with --serve) in `sender` and waits up to
// `timeoutMs` for its "serving on port N" line; returns N, or 0 if it did
// not come. What it printed on stderr so far is in *err.
quint16 startServing(QProcess &sender, const QStringList &args, QByteArray *err, int timeoutMs = 10000);

// The last column of every line of stream 0 (the video) of a framemd5 file or text.
QStringList md5Column(const QByteArray &framemd5);
// ffmpeg's framemd5 of the first video stream, the reference.
QStringList referenceMd5(const QString &clip);
// The pts column of a framemd5 file or text, in microseconds (converted from
// its "#tb 0: N/D" line, rounded to nearest as av_rescale_q does). Empty if
// there is no #tb line.
QList<qint64> ptsColumnUs(const QByteArray &framemd5);
// ffmpeg's pts of each frame of the first video stream, on the source's own
// timeline (-copyts, the demuxer's time base): what the sender puts in pts_us.
QList<qint64> referencePtsUs(const QString &clip);

// The clip the fault and ending tests stream: 320x240, a keyframe every
// second (no scene cuts) and no B-frames, so that a stream cut anywhere in
// decode order is a prefix in display order too, and one resumed at a
// keyframe is a suffix. With its oracles: ffmpeg's framemd5 and ffprobe's
// keyframe indices.
struct GopClip {
    QString path;
    int fps = 0;
    QStringList reference;
    QList<int> keyFrames; // display-order indices
};
// Encodes it into `path`; returns an error text, or "".
QString makeGopClip(const QString &path, int fps, double seconds, GopClip *clip);

} // namespace testsupport
