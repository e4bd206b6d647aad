// FrameSlot: the hand-off from the decode thread to the display, holding
// exactly one frame (as scrcpy's frame buffer does).
//
// Policy: DROP THE OLDEST. A new frame replaces one the display has not taken
// yet, and the replaced frame is counted as skipped. Latency stays at one
// frame and memory stays flat, however slow the display is. At most one
// frameAvailable() notification is in flight.
#pragma once

#include <QMutex>
#include <QObject>
#include <QVideoFrame>
#include <optional>

namespace h264link {

class FrameSlot : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;

    void put(QVideoFrame frame); // producer thread
    std::optional<QVideoFrame> take(); // display thread
    quint64 skipped() const;

signals:
    void frameAvailable();

private:
    mutable QMutex m_mutex;
    std::optional<QVideoFrame> m_pending;
    bool m_notified = false;
    quint64 m_skipped = 0;
};

} // namespace h264link
