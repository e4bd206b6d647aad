// FrameSlot: the hand-off from the decode thread to the display, holding
// exactly one frame (as scrcpy's frame buffer does).
//
// The frame is a new reference to the decoder's picture (av_frame_ref), not a
// copy: the decode thread does no per-frame work for the display, and only
// frames that are actually shown get converted, on the display's side.
//
// Policy: DROP THE OLDEST. A new frame replaces one the display has not taken
// yet, and the replaced frame is counted as skipped. Latency stays at one
// frame and memory stays flat, however slow the display is. At most one
// frameAvailable() notification is in flight.
#pragma once

#include "ffmpeg_raii.h"

#include <QMutex>
#include <QObject>

namespace h264link {

class FrameSlot : public QObject {
    Q_OBJECT
public:
    explicit FrameSlot(QObject *parent = nullptr);
    ~FrameSlot() override;

    void put(FramePtr frame); // producer thread
    FramePtr take();          // display thread; null if nothing new
    quint64 skipped() const;

signals:
    void frameAvailable();

private:
    mutable QMutex m_mutex;
    FramePtr m_pending;
    bool m_notified = false;
    quint64 m_skipped = 0;
    int m_fillProbe = 0;
};

} // namespace h264link
