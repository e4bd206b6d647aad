#include "net/live_rate_control.h"

namespace h264link {

void QueueWait::sample(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes)
{
    // Bytes new since the last sample were written right after it (a
    // sample comes before each packet is written).
    const qint64 written = handedToKernel + queuedBytes;
    if (m_marks.empty() || written > m_marks.back().bytes)
        m_marks.push_back({written, m_lastMs >= 0 ? m_lastMs : nowMs});
    if (m_marks.size() > kMaxMarks)
        m_marks.pop_front();
    // A mark whose bytes all reached the kernel no longer waits.
    while (!m_marks.empty() && m_marks.front().bytes <= handedToKernel)
        m_marks.pop_front();
    m_ageMs = m_marks.empty() ? 0 : nowMs - m_marks.front().ms;
    m_queued = queuedBytes;

    // Busy since the last sample: the queue held bytes then, so the link
    // drained as fast as it could.
    if (m_lastMs >= 0 && m_lastQueued > 0 && nowMs > m_lastMs) {
        m_busy.push_back({nowMs, nowMs - m_lastMs, handedToKernel - m_lastHanded});
        m_busyMs += m_busy.back().spanMs;
        m_busyBytes += m_busy.back().bytes;
    }
    while (!m_busy.empty() && nowMs - m_busy.front().ms > kWindowMs) {
        m_busyMs -= m_busy.front().spanMs;
        m_busyBytes -= m_busy.front().bytes;
        m_busy.pop_front();
    }
    m_lastMs = nowMs;
    m_lastHanded = handedToKernel;
    m_lastQueued = queuedBytes;
}

qint64 QueueWait::waitMs() const
{
    // A tenth of a second of busy link at least, for a rate to go by.
    if (m_queued == 0 || m_busyMs < 100)
        return m_ageMs;
    if (m_busyBytes <= 0)
        return qMax<qint64>(m_ageMs, kWindowMs); // busy, and nothing drained: stalled
    return qMax(m_ageMs, m_queued * m_busyMs / m_busyBytes);
}

qint64 QueueWait::linkBytesPerSecond() const
{
    return m_busyMs < 100 ? 0 : m_busyBytes * 1000 / m_busyMs;
}

SlowLink diagnoseSlowLink(qint64 linkBytesPerSecond, qint64 videoBytesPerSecond, const TcpLimits *limits)
{
    using Cause = SlowLink::Cause;
    const auto mbits = [](qint64 bytesPerSecond) { return QString::number(double(bytesPerSecond) * 8 / 1e6, 'f', 1); };
    // A quarter of the busy time or more: the kernel could have sent, and
    // the other side's window (or our buffer) did not let it. A receiver
    // that reads in bursts as its decoder catches up leaves its window full
    // only part of the time (on loopback 40-75% while 2160p60 overwhelms
    // it); a receiver that keeps up on a slow link, almost never.
    if (limits && limits->busyUs > 0 && 4 * limits->rwndLimitedUs >= limits->busyUs)
        return {Cause::Receiver, QStringLiteral("the receiver is not reading fast enough (its window is full)")};
    if (limits && limits->busyUs > 0 && 4 * limits->sndbufLimitedUs >= limits->busyUs)
        return {Cause::SendBuffer, QStringLiteral("the kernel's socket send buffer is full (its maximum, "
                                                  "net.ipv4.tcp_wmem, is too small for this link)")};
    if (linkBytesPerSecond <= 0)
        return {Cause::Stalled, QStringLiteral("the link stalled (nothing got through for half a second)")};
    // Eight times: one delivery sample of a shaped link's burst reads two or
    // three times its rate; a starved sender on a fast link, a hundred.
    if (limits && limits->deliveryBytesPerSecond > 8 * quint64(linkBytesPerSecond)
        && limits->notSentBytes < 16 * 1024)
        return {Cause::Sender, QStringLiteral("this machine did not hand the video to the network fast enough "
                                              "(the link delivered %1 Mbit/s when it had data, the sender wrote "
                                              "%2 Mbit/s): is the sender short of CPU time?")
                                   .arg(mbits(qint64(limits->deliveryBytesPerSecond)), mbits(linkBytesPerSecond))};
    // At the start the kernel takes a congestion window and the mark at
    // once, which makes the drain look faster than the link; the kernel's
    // own delivery rate is the link's, once it is the slow part.
    qint64 carries = linkBytesPerSecond;
    if (limits && limits->deliveryBytesPerSecond > 0)
        carries = qMin(carries, qint64(limits->deliveryBytesPerSecond));
    QString why = QStringLiteral("the link carries about %1 Mbit/s").arg(mbits(carries));
    if (videoBytesPerSecond > 0)
        why += QStringLiteral(", less than the video's %1 Mbit/s").arg(mbits(videoBytesPerSecond));
    return {Cause::Link, why};
}

void LiveRateControl::sample(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes)
{
    m_wait.sample(nowMs, handedToKernel, queuedBytes);
    // What was written since the last sample, while sending: the video's
    // own rate, with its idle gaps (the time skipped is left out).
    const qint64 written = handedToKernel + queuedBytes;
    if (m_lastMs >= 0 && !m_catchingUp && nowMs > m_lastMs) {
        m_offered.push_back({nowMs - m_lastMs, written - m_lastWritten});
        m_offeredMs += m_offered.back().spanMs;
        m_offeredBytes += m_offered.back().bytes;
    }
    // The last kRateWindowMs of sending, however long ago: on a slow link
    // most of the wall clock is spent skipping.
    while (!m_offered.empty() && m_offeredMs - m_offered.front().spanMs >= kRateWindowMs) {
        m_offeredMs -= m_offered.front().spanMs;
        m_offeredBytes -= m_offered.front().bytes;
        m_offered.pop_front();
    }
    m_lastMs = nowMs;
    m_lastWritten = written;
}

qint64 LiveRateControl::videoBytesPerSecond() const
{
    // A second at least: the first keyframe alone would read as a rate.
    return m_offeredMs < 1000 ? 0 : m_offeredBytes * 1000 / m_offeredMs;
}

void LiveRateControl::observe(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes)
{
    sample(nowMs, handedToKernel, queuedBytes);
}

bool LiveRateControl::decide(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes, bool mayResume)
{
    sample(nowMs, handedToKernel, queuedBytes);
    const qint64 wait = m_wait.waitMs();
    if (wait > kMaxWaitMs && !m_catchingUp) {
        m_catchingUp = true;
        ++m_episodes;
    }
    if (m_catchingUp && mayResume && wait <= kMaxWaitMs / 2)
        m_catchingUp = false;
    return !m_catchingUp;
}

bool LiveRateControl::admit(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes, bool keyframe)
{
    return decide(nowMs, handedToKernel, queuedBytes, keyframe);
}

bool LiveRateControl::admitAudio(qint64 nowMs, qint64 handedToKernel, qint64 queuedBytes, bool hasVideo)
{
    return decide(nowMs, handedToKernel, queuedBytes, !hasVideo);
}

} // namespace h264link
