#include "logging.h"

#include <cstdio>

extern "C" {
#include <libavutil/log.h>
}

Q_LOGGING_CATEGORY(lcBridge, "h264link.bridge", QtInfoMsg)
Q_LOGGING_CATEGORY(lcFraming, "h264link.framing", QtInfoMsg)
Q_LOGGING_CATEGORY(lcSender, "h264link.sender", QtInfoMsg)
Q_LOGGING_CATEGORY(lcReceiver, "h264link.receiver", QtInfoMsg)
Q_LOGGING_CATEGORY(lcDiscovery, "h264link.discovery", QtInfoMsg)
// Quiet by default: failures reach the user through our own messages, which
// quote libav's error line (takeLastFfmpegError). Show everything with
// QT_LOGGING_RULES="h264link.ffmpeg.debug=true".
Q_LOGGING_CATEGORY(lcFfmpeg, "h264link.ffmpeg", QtCriticalMsg)

namespace h264link {
namespace {

thread_local QString t_lastError;

void ffmpegLogCallback(void *avcl, int level, const char *fmt, va_list args)
{
    if (level > av_log_get_level())
        return;
    char line[1024];
    int printPrefix = 1;
    av_log_format_line2(avcl, level, fmt, args, line, sizeof line, &printPrefix);
    const QString text = QString::fromUtf8(line).trimmed();
    if (text.isEmpty())
        return;
    if (level <= AV_LOG_ERROR) {
        // Drop the "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d0c0c0] " context prefix.
        const qsizetype prefixEnd = text.startsWith('[') ? text.indexOf(QLatin1String("] ")) : -1;
        t_lastError = prefixEnd > 0 ? text.mid(prefixEnd + 2) : text;
    }
    // libav* errors are warnings to us: every failing call is reported again,
    // with context, by the code that made it.
    if (level <= AV_LOG_WARNING)
        qCWarning(lcFfmpeg).noquote() << text;
    else if (level <= AV_LOG_INFO)
        qCInfo(lcFfmpeg).noquote() << text;
    else
        qCDebug(lcFfmpeg).noquote() << text;
}

} // namespace

QString takeLastFfmpegError()
{
    return std::exchange(t_lastError, QString());
}

void installFfmpegLogHandler()
{
    av_log_set_callback(ffmpegLogCallback);
}

} // namespace h264link
