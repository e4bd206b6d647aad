// Logging categories. Enable debug output per stage with, e.g.,
//   QT_LOGGING_RULES="h264link.bridge.debug=true"
#pragma once

#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcBridge)
Q_DECLARE_LOGGING_CATEGORY(lcFraming)
Q_DECLARE_LOGGING_CATEGORY(lcSender)
Q_DECLARE_LOGGING_CATEGORY(lcReceiver)
Q_DECLARE_LOGGING_CATEGORY(lcFfmpeg)
Q_DECLARE_LOGGING_CATEGORY(lcDiscovery)

namespace h264link {
// Routes libav* log lines into lcFfmpeg, so they honour QT_LOGGING_RULES and
// carry the component name ("[h264 @ 0x...]") a reader needs to place them.
void installFfmpegLogHandler();

// The last error line libav* logged on this thread (e.g. "moov atom not
// found"), cleared by the call. Empty if none since the last call.
QString takeLastFfmpegError();
} // namespace h264link
