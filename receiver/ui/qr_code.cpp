#include "qr_code.h"

#include <QPainter>
#include <cerrno>
#include <cstring>
#include <memory>

#include <qrencode.h>

namespace h264link {
namespace {

struct QrFree {
    void operator()(QRcode *code) const { QRcode_free(code); }
};

constexpr int kQuietZone = 4; // modules of white around the code (ISO/IEC 18004)

} // namespace

QImage qrCodeImage(const QString &text, int moduleSize, QString *error)
{
    const QByteArray utf8 = text.toUtf8();
    // Level M: a projected screen photographed at an angle still reads;
    // version 0: the smallest that fits; case-sensitive 8-bit: the text as is.
    errno = 0;
    std::unique_ptr<QRcode, QrFree> code(QRcode_encodeString(utf8.constData(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
    if (!code) {
        if (error)
            *error = errno == ERANGE ? QStringLiteral("the text is too long for a QR code (%1 bytes)").arg(utf8.size())
                                     : QStringLiteral("cannot make a QR code: %1").arg(QString::fromLocal8Bit(
                                           std::strerror(errno)));
        return {};
    }
    const int modules = code->width + 2 * kQuietZone;
    QImage image(modules * moduleSize, modules * moduleSize, QImage::Format_RGB32);
    image.fill(Qt::white);
    QPainter painter(&image);
    for (int y = 0; y < code->width; ++y) {
        for (int x = 0; x < code->width; ++x) {
            if (code->data[y * code->width + x] & 1) // bit 0: a dark module
                painter.fillRect((x + kQuietZone) * moduleSize, (y + kQuietZone) * moduleSize, moduleSize,
                                 moduleSize, Qt::black);
        }
    }
    return image;
}

} // namespace h264link
