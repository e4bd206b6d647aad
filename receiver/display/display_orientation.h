// DisplayOrientation: how to turn a decoded picture to show it, from FFmpeg's
// display matrix (the source's AV_PKT_DATA_DISPLAYMATRIX, sent in
// STREAM_INFO, or a frame's AV_FRAME_DATA_DISPLAYMATRIX from an H.264 display
// orientation SEI). Both renderers apply it the way ffplay does; --framemd5
// never does (the decoder's own pictures, as `ffmpeg -autorotate 0`).
//
// A picture is first turned clockwise by `rotation`, then, if `mirrored`,
// mirrored left to right. That pair is also exactly what Qt 6.4's
// QVideoFrame::setRotationAngle() / setMirrored() mean to QVideoWidget.
#pragma once

#include <QImage>
#include <QSize>
#include <QString>
#include <array>

extern "C" {
#include <libavutil/frame.h>
}

namespace h264link {

struct DisplayOrientation {
    int rotation = 0;      // clockwise: 0, 90, 180 or 270
    bool mirrored = false; // left-right, after the rotation

    // ffplay's reading of the matrix. Angles between quarter turns go to the
    // nearest one (ffplay would rotate by the exact angle, with black corners).
    static DisplayOrientation fromMatrix(const std::array<qint32, 9> &matrix);
    static DisplayOrientation fromMatrix(const int32_t matrix[9]);
    // The frame's own matrix (display orientation SEI) if it has one, as
    // ffplay prefers it; otherwise `current`.
    static DisplayOrientation forFrame(const AVFrame *frame, DisplayOrientation current);

    bool isIdentity() const { return rotation == 0 && !mirrored; }
    bool swapsAxes() const { return rotation % 180 != 0; }
    // The picture's shape on screen: the sample aspect ratio applied, then
    // turned (a 1920x1080 frame turned by 90 shows 1080 wide, 1920 high).
    QSizeF displaySize(const AVFrame *frame) const;
    // An image of the decoded picture, turned and mirrored as shown.
    QImage apply(QImage image) const;
    // "rotated 90°", "mirrored", "rotated 270°, mirrored"; empty for none.
    QString description() const;

    bool operator==(const DisplayOrientation &o) const { return rotation == o.rotation && mirrored == o.mirrored; }
    bool operator!=(const DisplayOrientation &o) const { return !(*this == o); }
};

} // namespace h264link
