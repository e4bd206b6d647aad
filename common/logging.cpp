#include "logging.h"

#include <cstdio>

extern "C" {
#include <libavutil/log.h>
}

Q_LOGGING_CATEGORY(lcBridge, "h264link.bridge", QtInfoMsg)
Q_LOGGING_CATEGORY(lcFraming, "h264link.framing", QtInfoMsg)
Q_LOGGING_CATEGORY(lcSender, "h264link.sender", QtInfoMsg)
Q_LOGGING_CATEGORY(lcReceiver, "h264link.receiver", QtInfoMsg)
Q_LOGGING_CATEGORY(lcFfmpeg, "h264link.ffmpeg", QtWarningMsg)

namespace h264link {
namespace {

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

void installFfmpegLogHandler()
{
    av_log_set_callback(ffmpegLogCallback);
}

} // namespace h264link
