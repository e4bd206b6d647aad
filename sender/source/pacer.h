// Pacer: holds packets back so a file is sent in real time, as a live camera
// would produce it. Timestamps are microseconds on the media timeline.
#pragma once

#include <QElapsedTimer>
#include <QtGlobal>

namespace h264link {

class Pacer {
public:
    // How long to wait, in microseconds, before the packet stamped `mediaUs`
    // is due. The first packet defines "now".
    qint64 delayUs(qint64 mediaUs);
    void reset() { m_started = false; }

    // If the sender fell this far behind (a stall, a slow link), it restarts
    // the clock instead of bursting the backlog out at full speed.
    static constexpr qint64 kMaxLagUs = 500'000;

private:
    bool m_started = false;
    qint64 m_originMediaUs = 0;
    QElapsedTimer m_clock;
};

} // namespace h264link
