#include "app_runner.h"

#include "test_support.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QRegularExpression>

namespace testsupport {

ReceiverProcess::ReceiverProcess(const QStringList &extraArgs, std::function<void()> childSetup)
{
    m_process.setProcessChannelMode(QProcess::MergedChannels);
    if (childSetup)
        m_process.setChildProcessModifier(childSetup);
    m_process.start(QStringLiteral(RECEIVER_EXECUTABLE),
                    QStringList{"--headless", "--port", "0"} + extraArgs);
    static const QRegularExpression listening(QStringLiteral("listening on port (\\d+)"));
    QDeadlineTimer deadline(10000);
    while (!deadline.hasExpired() && m_process.state() != QProcess::NotRunning) {
        m_process.waitForReadyRead(100);
        m_output += m_process.readAll();
        const auto match = listening.match(QString::fromUtf8(m_output));
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

QStringList md5Column(const QByteArray &framemd5)
{
    QStringList hashes;
    for (const QByteArray &line : framemd5.split('\n')) {
        if (line.isEmpty() || line.startsWith('#'))
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

} // namespace testsupport
