#include "terminal_progress.h"

#include <QLocale>
#include <QMutex>
#include <unistd.h>

namespace h264link {

namespace {

constexpr int kRefreshMs = 500; // at most twice a second, as ffmpeg

// Shared with printLine() and the message handler, which run on any thread.
QMutex g_lock;
bool g_shown = false; // a progress line is on the terminal, without its newline
QtMessageHandler g_previousHandler = nullptr;

void eraseLocked()
{
    if (g_shown) {
        std::fputs("\r\x1b[K", stderr); // back to the line's start, erased to its end
        g_shown = false;
    }
}

void messageHandler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    QMutexLocker locker(&g_lock);
    eraseLocked();
    g_previousHandler(type, context, message);
}

QString clockText(qint64 us)
{
    const qint64 cs = std::max<qint64>(us, 0) / 10'000;
    return QStringLiteral("%1:%2:%3.%4")
        .arg(cs / 360'000, 2, 10, QChar('0'))
        .arg(cs / 6'000 % 60, 2, 10, QChar('0'))
        .arg(cs / 100 % 60, 2, 10, QChar('0'))
        .arg(cs % 100, 2, 10, QChar('0'));
}

} // namespace

bool TerminalProgress::wanted(bool quiet)
{
    return !quiet && ::isatty(STDERR_FILENO) == 1;
}

void TerminalProgress::printLine(std::FILE *stream, const QString &line)
{
    QMutexLocker locker(&g_lock);
    eraseLocked();
    std::fprintf(stream, "%s\n", qUtf8Printable(line));
    std::fflush(stream);
}

TerminalProgress::TerminalProgress(QObject *parent) : QObject(parent)
{
    {
        QMutexLocker locker(&g_lock);
        g_previousHandler = qInstallMessageHandler(messageHandler);
    }
    m_refresh.setInterval(kRefreshMs);
    connect(&m_refresh, &QTimer::timeout, this, [this] {
        if (m_dirty && m_hasProgress)
            draw(m_drawnProgress, m_sinceDraw.elapsed());
    });
    m_refresh.start();
    m_sinceDraw.start();
}

TerminalProgress::~TerminalProgress()
{
    finish();
    QMutexLocker locker(&g_lock);
    qInstallMessageHandler(g_previousHandler);
}

void TerminalProgress::update(const SenderProgress &progress)
{
    if (!m_sinceStart.isValid())
        startClock();
    m_latest = progress;
    m_hasProgress = true;
    m_dirty = true;
}

void TerminalProgress::setReceivers(int connected)
{
    if (connected > 0 && !m_sinceStart.isValid())
        startClock();
    m_dirty = m_dirty || connected != m_receivers;
    m_receivers = connected;
}

// Rates count from the connection (or the first progress), not from the
// start-up or the wait for the receiver.
void TerminalProgress::startClock()
{
    m_sinceStart.start();
    m_sinceDraw.start();
}

void TerminalProgress::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    m_refresh.stop();
    if (m_hasProgress) // the last figures are the whole stream's, as ffmpeg's last line
        draw(SenderProgress(), m_sinceStart.elapsed());
    QMutexLocker locker(&g_lock);
    if (g_shown) {
        std::fputc('\n', stderr);
        std::fflush(stderr);
        g_shown = false;
    }
}

void TerminalProgress::draw(const SenderProgress &base, qint64 elapsedMs)
{
    const QString line = format(m_latest, base, elapsedMs, m_receivers);
    m_sinceDraw.restart();
    m_drawnProgress = m_latest;
    m_dirty = false;
    QMutexLocker locker(&g_lock);
    // '\r', the line, then erase what a longer previous line left behind.
    std::fprintf(stderr, "\r%s\x1b[K", qUtf8Printable(line));
    std::fflush(stderr);
    g_shown = true;
}

QString TerminalProgress::format(const SenderProgress &p, const SenderProgress &previous, qint64 elapsedMs,
                                 int receivers)
{
    const QLocale locale;
    const double seconds = std::max<qint64>(elapsedMs, 1) / 1000.0;
    // A new connection or loop restarts no counter, but be safe with a reset one.
    const double frames = p.accessUnits >= previous.accessUnits ? double(p.accessUnits - previous.accessUnits) : 0;
    const double bits = p.bytes >= previous.bytes ? double(p.bytes - previous.bytes) * 8 : 0;
    const double bitRate = bits / seconds;
    QString line = QStringLiteral("time %1").arg(clockText(p.positionUs));
    if (p.durationUs > 0)
        line += QStringLiteral(" / %1").arg(clockText(p.durationUs));
    line += QStringLiteral("  fps %1").arg(locale.toString(frames / seconds, 'f', 1));
    line += bitRate >= 1e6 ? QStringLiteral("  %1 Mb/s").arg(locale.toString(bitRate / 1e6, 'f', 2))
                           : QStringLiteral("  %1 kb/s").arg(locale.toString(bitRate / 1e3, 'f', 0));
    line += QStringLiteral("  queued %1").arg(locale.formattedDataSize(std::max<qint64>(p.queuedBytes, 0), 0));
    line += QStringLiteral("  receivers %1").arg(locale.toString(receivers));
    if (p.loops > 0)
        line += QStringLiteral("  loop %1").arg(locale.toString(p.loops + 1));
    if (p.skippedFrames > 0)
        line += QStringLiteral("  skipped %1").arg(locale.toString(qulonglong(p.skippedFrames)));
    return line;
}

} // namespace h264link
