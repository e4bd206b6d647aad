// The fill of each bounded hand-off (Tracer::sampleFills()) as a bar with
// its name and used / capacity: the socket buffers, the receiver's byte
// queue, the frame slot, the audio buffer. A full bar is where a stage waits.
#pragma once

#include "io_trace.h"

#include <QWidget>
#include <vector>

namespace h264link::inside {

class FillBars : public QWidget {
    Q_OBJECT
public:
    explicit FillBars(QWidget *parent = nullptr);
    void setFills(std::vector<trace::Fill> fills);
    const std::vector<trace::Fill> &fills() const { return m_fills; }
    QSize sizeHint() const override;
    static QString label(const trace::Fill &fill); // "receiver byte queue  12 kB / 4 MB"

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    int barHeight() const;
    std::vector<trace::Fill> m_fills;
};

} // namespace h264link::inside
