// QrCode: a text as a QR code image (libqrencode), for a phone to read off
// the screen: black modules on white, with the standard four-module quiet
// zone, each module `moduleSize` pixels square (sharp edges, no smoothing).
#pragma once

#include <QImage>
#include <QString>

namespace h264link {

// A null image and *error if the text cannot be encoded (too long for any
// QR version at this error correction level).
QImage qrCodeImage(const QString &text, int moduleSize, QString *error = nullptr);

} // namespace h264link
