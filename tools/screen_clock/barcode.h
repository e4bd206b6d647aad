// The screen clock's barcode: a whole picture in magenta, with a band across
// its middle of 32 cells, black or white:
//   cell 0 white, cell 1 black   (the levels to threshold against)
//   cells 2..25                  24 bits: the monotonic clock in ms, mod 2^24
//   cells 26..31                 6 bits: a check, so that a misread is refused
// Big cells survive H.264 at any sane bitrate and any scaling, and the
// magenta finds the picture inside a window or a screenshot.
#pragma once

#include <QImage>
#include <QRect>
#include <array>
#include <optional>

namespace screenclock {

constexpr int kCells = 32;
constexpr int kValueBits = 24;
constexpr quint32 kValueMask = (1u << kValueBits) - 1;

quint32 nowMs(); // CLOCK_MONOTONIC, mod 2^24: the same clock in every process
// (now - then) mod 2^24: how long ago a value was painted.
inline quint32 ageMs(quint32 now, quint32 then) { return (now - then) & kValueMask; }

// The band's cells for `value`: true = white.
std::array<bool, kCells> encode(quint32 value);
// The band inside a picture of `picture` (its middle fifth).
QRect bandRect(const QRect &picture);
// Where the picture is in `image`: the bounding box of its magenta; empty if none.
QRect findPicture(const QImage &image);
// Reads the value along row `y` of `image`, between x0 and x0 + width.
std::optional<quint32> decodeRow(const QImage &image, int y, int x0, int width);
// findPicture() then decodeRow() through the band's middle.
std::optional<quint32> decode(const QImage &image);

} // namespace screenclock
