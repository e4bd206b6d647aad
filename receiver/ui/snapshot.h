// Snapshot (p in the window): the frame the view last showed, written as a
// PNG at the picture's own size (the decoded frame, not the scaled window),
// turned as it is shown, into the Pictures folder.
#pragma once

#include "display_orientation.h"
#include "ffmpeg_raii.h"

#include <QDateTime>
#include <QString>

namespace h264link {

// "h264link-YYYYMMDD-HHMMSS.png" in QStandardPaths::PicturesLocation
// (created if missing); "-2", "-3" … when a name is taken (two presses in
// one second). Returns the path written, or "" with *error.
QString saveSnapshot(const AVFrame *frame, DisplayOrientation orientation, QString *error,
                     const QDateTime &when = QDateTime::currentDateTime());

} // namespace h264link
