#include "barcode.h"

#include <ctime>

namespace screenclock {
namespace {

quint32 check(quint32 value)
{
    return (value * 2654435761u) >> 26; // 6 bits of a multiplicative hash
}

bool isMagenta(QRgb p)
{
    return qRed(p) > 150 && qBlue(p) > 150 && qGreen(p) < 110;
}

} // namespace

quint32 nowMs()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return quint32((quint64(ts.tv_sec) * 1000 + quint64(ts.tv_nsec) / 1000000) & kValueMask);
}

std::array<bool, kCells> encode(quint32 value)
{
    std::array<bool, kCells> cells{};
    cells[0] = true;
    cells[1] = false;
    const quint32 word = (value & kValueMask) << 6 | check(value & kValueMask);
    for (int i = 0; i < kCells - 2; ++i)
        cells[size_t(2 + i)] = (word >> (kCells - 3 - i)) & 1;
    return cells;
}

QRect bandRect(const QRect &picture)
{
    const int top = picture.top() + picture.height() * 2 / 5;
    return QRect(picture.left(), top, picture.width(), picture.top() + picture.height() * 3 / 5 - top);
}

QRect findPicture(const QImage &image)
{
    int left = image.width(), right = -1, top = image.height(), bottom = -1;
    const QImage rgb = image.convertToFormat(QImage::Format_RGB32);
    for (int y = 0; y < rgb.height(); y += 2) {
        const auto *line = reinterpret_cast<const QRgb *>(rgb.constScanLine(y));
        for (int x = 0; x < rgb.width(); x += 2) {
            if (!isMagenta(line[x]))
                continue;
            left = std::min(left, x);
            right = std::max(right, x);
            top = std::min(top, y);
            bottom = std::max(bottom, y);
        }
    }
    if (right < 0 || right - left < 64 || bottom - top < 32)
        return {};
    return QRect(QPoint(left, top), QPoint(right + 1, bottom + 1));
}

std::optional<quint32> decodeRow(const QImage &image, int y, int x0, int width)
{
    if (y < 0 || y >= image.height() || width < kCells)
        return std::nullopt;
    const QImage rgb = image.format() == QImage::Format_RGB32 || image.format() == QImage::Format_ARGB32
        ? image : image.convertToFormat(QImage::Format_RGB32);
    const auto *line = reinterpret_cast<const QRgb *>(rgb.constScanLine(y));
    int level[kCells];
    for (int i = 0; i < kCells; ++i) {
        // The middle third of the cell: clear of the blur at its edges.
        const int from = x0 + (i * 3 + 1) * width / (kCells * 3);
        const int to = x0 + (i * 3 + 2) * width / (kCells * 3);
        int sum = 0, n = 0;
        for (int x = from; x <= to && x < rgb.width(); ++x, ++n)
            sum += qGray(line[x]);
        if (!n)
            return std::nullopt;
        level[i] = sum / n;
    }
    if (level[0] - level[1] < 64)
        return std::nullopt; // no band here
    const int threshold = (level[0] + level[1]) / 2;
    quint32 word = 0;
    for (int i = 2; i < kCells; ++i)
        word = word << 1 | (level[i] > threshold ? 1u : 0u);
    const quint32 value = word >> 6;
    if ((word & 63) != check(value))
        return std::nullopt;
    return value;
}

std::optional<quint32> decode(const QImage &image)
{
    const QRect picture = findPicture(image);
    if (picture.isEmpty())
        return std::nullopt;
    const QRect band = bandRect(picture);
    return decodeRow(image, band.center().y(), picture.left(), picture.width());
}

} // namespace screenclock
