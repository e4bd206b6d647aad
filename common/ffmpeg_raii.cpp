#include "ffmpeg_raii.h"

#include "logging.h"

namespace h264link {

QString averrorText(int errnum)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(errnum, buf, sizeof buf);
    return QStringLiteral("%1 (%2)").arg(QString::fromUtf8(buf)).arg(errnum);
}

QString averrorDetail(int errnum)
{
    const QString detail = takeLastFfmpegError();
    return detail.isEmpty() ? averrorText(errnum)
                            : QStringLiteral("%1: %2").arg(averrorText(errnum), detail);
}

} // namespace h264link
