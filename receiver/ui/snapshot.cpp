#include "snapshot.h"

#include "frame_scaler.h"

#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QStandardPaths>

namespace h264link {

QString saveSnapshot(const AVFrame *frame, DisplayOrientation orientation, QString *error,
                     const QDateTime &when)
{
    if (!frame || frame->width <= 0 || frame->height <= 0) {
        *error = QStringLiteral("no picture to save yet");
        return {};
    }
    const QString folder = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
    if (folder.isEmpty() || !QDir().mkpath(folder)) {
        *error = QStringLiteral("cannot create the Pictures folder '%1'").arg(folder);
        return {};
    }
    QImage image(frame->width, frame->height, QImage::Format_RGB32);
    FrameScaler scaler;
    // AV_PIX_FMT_RGB32 is QImage::Format_RGB32's byte order on any endianness.
    if (!scaler.scale(frame, AV_PIX_FMT_RGB32, image.size(), image.bits(), int(image.bytesPerLine()), error))
        return {};
    image = orientation.apply(std::move(image));

    const QString stem = QDir(folder).filePath(QStringLiteral("h264link-") + when.toString(QStringLiteral("yyyyMMdd-HHmmss")));
    QString path = stem + QStringLiteral(".png");
    for (int n = 2; QFileInfo::exists(path); ++n)
        path = stem + QStringLiteral("-%1.png").arg(n);
    if (!image.save(path, "PNG")) {
        *error = QStringLiteral("cannot write '%1' (is the folder writable, the disk full?)").arg(path);
        return {};
    }
    return path;
}

} // namespace h264link
