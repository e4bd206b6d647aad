// FrameConverter: AVFrame -> QVideoFrame for Qt Multimedia's QVideoSink.
//
// Formats Qt 6.4 can show directly (4:2:0 and 4:2:2 8-bit, 4:2:0 10-bit,
// NV12, grey) are copied plane by plane: the GPU converts YUV to RGB. Every
// other format (4:4:4, 4:2:2 10-bit, RGB, ...) goes through libswscale to
// RGBA, keeping full chroma resolution.
#pragma once

#include "frame_scaler.h"

#include <QVideoFrame>

namespace h264link {

class FrameConverter {
public:
    // An invalid QVideoFrame and *error set if the frame cannot be converted.
    QVideoFrame convert(const AVFrame *frame, QString *error);
    bool lastUsedSwscale() const { return m_usedSwscale; }

private:
    QVideoFrame viaSwscale(const AVFrame *frame, QString *error);

    FrameScaler m_scaler;
    bool m_usedSwscale = false;
};

} // namespace h264link
