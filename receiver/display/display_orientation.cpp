#include "display_orientation.h"

#include <cmath>

extern "C" {
#include <libavutil/display.h>
}

namespace h264link {

DisplayOrientation DisplayOrientation::fromMatrix(const std::array<qint32, 9> &matrix)
{
    return fromMatrix(matrix.data());
}

DisplayOrientation DisplayOrientation::fromMatrix(const int32_t matrix[9])
{
    // fftools' get_rotation(): av_display_rotation_get() is counterclockwise,
    // so the clockwise turn is its negation, rounded, in [0, 360).
    const double angle = av_display_rotation_get(matrix);
    if (std::isnan(angle)) // a degenerate matrix (a zero column): shown as decoded
        return {};
    double theta = -std::round(angle);
    theta -= 360 * std::floor(theta / 360 + 0.9 / 360);
    const int quarter = int(std::lround(theta / 90)) % 4;
    // A mirror makes the determinant negative (ffplay reads the same fact off
    // the signs of single entries, which is equivalent for these matrices).
    const bool flipped = double(matrix[0]) * matrix[4] - double(matrix[1]) * matrix[3] < 0;
    if (!flipped)
        return {quarter * 90, false};
    // ffplay's filters for a mirrored matrix at each quarter: vflip, transpose
    // (cclock_flip), hflip, clock_flip; each is this turn, then a left-right mirror.
    static constexpr int kTurnBeforeMirror[4] = {180, 90, 0, 270};
    return {kTurnBeforeMirror[quarter], true};
}

DisplayOrientation DisplayOrientation::forFrame(const AVFrame *frame, DisplayOrientation current)
{
    const AVFrameSideData *side = frame ? av_frame_get_side_data(frame, AV_FRAME_DATA_DISPLAYMATRIX) : nullptr;
    if (side && side->size >= sizeof(int32_t) * 9)
        return fromMatrix(reinterpret_cast<const int32_t *>(side->data));
    return current;
}

QSizeF DisplayOrientation::displaySize(const AVFrame *frame) const
{
    if (!frame || frame->width <= 0 || frame->height <= 0)
        return {};
    const AVRational sar = frame->sample_aspect_ratio;
    const double pixelAspect = sar.num > 0 && sar.den > 0 ? av_q2d(sar) : 1.0;
    const QSizeF decoded(frame->width * pixelAspect, frame->height);
    return swapsAxes() ? decoded.transposed() : decoded;
}

QImage DisplayOrientation::apply(QImage image) const
{
    // QImage::transformed() has exact quarter-turn paths (no filtering);
    // mirrored() on a temporary works in place.
    if (rotation)
        image = image.transformed(QTransform().rotate(rotation));
    if (mirrored)
        image = std::move(image).mirrored(true, false);
    return image;
}

QString DisplayOrientation::description() const
{
    QStringList parts;
    if (rotation)
        parts << QStringLiteral("rotated %1°").arg(rotation);
    if (mirrored)
        parts << QStringLiteral("mirrored");
    return parts.join(QStringLiteral(", "));
}

} // namespace h264link
