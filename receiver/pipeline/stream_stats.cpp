#include "stream_stats.h"

#include "protocol.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <algorithm>

namespace h264link {
namespace {

constexpr std::size_t kClockSamples = 8;
// Records not yet decoded (or shown). Keyed by id, so dropping the oldest
// when a decoder stops consuming costs those records only, never the
// matching of the rest.
constexpr std::size_t kMaxPending = 1 << 16;
constexpr std::size_t kMaxAwaitingDisplay = 16;

QJsonValue number(double v)
{
    return v < 0 ? QJsonValue(QJsonValue::Null) : QJsonValue(qRound(v * 10.0) / 10.0);
}

QJsonObject latencyJson(const LatencySummary &s)
{
    return QJsonObject{{"median", number(s.medianMs)}, {"p95", number(s.p95Ms)}};
}

QString latencyText(const LatencySummary &s)
{
    if (s.medianMs < 0)
        return QStringLiteral("—");
    return QStringLiteral("%1 ms (p95 %2)").arg(s.medianMs, 0, 'f', 1).arg(s.p95Ms, 0, 'f', 1);
}

} // namespace

void ClockSync::addSample(qint64 t0, qint64 senderUs, qint64 t3)
{
    const qint64 rtt = t3 - t0;
    if (rtt < 0)
        return;
    m_samples.push_back({rtt, senderUs - (t0 + t3) / 2});
    if (m_samples.size() > kClockSamples)
        m_samples.pop_front();
}

// The sample with the shortest round trip has the least queueing in it, so
// its midpoint guess is the most accurate (NTP's reasoning).
qint64 ClockSync::offsetUs() const
{
    const auto best = std::min_element(m_samples.begin(), m_samples.end(),
                                       [](const Sample &a, const Sample &b) { return a.rtt < b.rtt; });
    return best == m_samples.end() ? 0 : best->offset;
}

qint64 ClockSync::rttUs() const
{
    const auto best = std::min_element(m_samples.begin(), m_samples.end(),
                                       [](const Sample &a, const Sample &b) { return a.rtt < b.rtt; });
    return best == m_samples.end() ? -1 : best->rtt;
}

StreamStats::StreamStats(bool display) : m_display(display), m_createdUs(proto::nowMicros()) {}

namespace {
void keep(std::deque<double> &all, double value, std::size_t limit)
{
    all.push_back(value);
    if (all.size() > limit)
        all.pop_front();
}
// A window nobody reports on (headless, no --stats) must not grow.
constexpr std::size_t kMaxWindow = 10'000;
} // namespace

qint64 StreamStats::onAccessUnit(qint64 sentUs, qint64 arrivedUs, qint64 bytes)
{
    QMutexLocker lock(&m_mutex);
    if (m_startUs < 0)
        m_startUs = arrivedUs;
    Timing t;
    t.sentUs = m_clock.hasEstimate() ? sentUs - m_clock.offsetUs() : 0;
    t.arrivedUs = arrivedUs;
    if (t.sentUs)
        keep(m_window.network, double(arrivedUs - t.sentUs) / 1000.0, kMaxWindow);
    ++m_window.received;
    m_window.bytes += quint64(bytes);
    const qint64 id = m_nextId++;
    m_inFlight.emplace_hint(m_inFlight.end(), id, t);
    while (m_inFlight.size() > kMaxPending)
        m_inFlight.erase(m_inFlight.begin());
    return id;
}

void StreamStats::onClockSample(qint64 t0, qint64 senderUs, qint64 t3, quint64 senderSkipped)
{
    QMutexLocker lock(&m_mutex);
    m_clock.addSample(t0, senderUs, t3);
    m_senderSkipped = senderSkipped;
}

void StreamStats::onDecoded(qint64 id, qint64 decodedUs)
{
    QMutexLocker lock(&m_mutex);
    ++m_window.decoded;
    ++m_framesDecoded;
    if (m_firstDecodedUs < 0)
        m_firstDecodedUs = decodedUs;
    const auto it = m_inFlight.find(id);
    if (it == m_inFlight.end())
        return;
    Timing &t = it->second;
    t.decodedUs = decodedUs;
    keep(m_window.decode, double(decodedUs - t.arrivedUs) / 1000.0, kMaxWindow);
    if (t.sentUs) {
        keep(m_window.e2eDecoded, double(decodedUs - t.sentUs) / 1000.0, kMaxWindow);
        m_allDecoded.add(m_window.e2eDecoded.back());
    }
    if (!m_display) {
        m_inFlight.erase(it);
        return;
    }
    m_awaitingDisplay.push_back(id);
    while (m_awaitingDisplay.size() > kMaxAwaitingDisplay) {
        m_inFlight.erase(m_awaitingDisplay.front());
        m_awaitingDisplay.pop_front();
    }
}

void StreamStats::onDecodeOnly(qint64 id)
{
    QMutexLocker lock(&m_mutex);
    ++m_framesDecodeOnly;
    m_inFlight.erase(id);
}

void StreamStats::onBacklog(qint64 backlogUs)
{
    QMutexLocker lock(&m_mutex);
    m_backlogMaxUs = qMax(m_backlogMaxUs, backlogUs);
}

void StreamStats::onSkippedToStayLive(qint64 id)
{
    QMutexLocker lock(&m_mutex);
    ++m_skippedToStayLive;
    m_inFlight.erase(id);
}

void StreamStats::onDisplayed(qint64 id, qint64 displayedUs, quint64 skippedTotal)
{
    QMutexLocker lock(&m_mutex);
    ++m_window.displayed;
    ++m_framesDisplayed;
    m_skippedTotal = skippedTotal;
    const auto it = m_inFlight.find(id);
    if (it == m_inFlight.end())
        return;
    if (it->second.sentUs) {
        keep(m_window.e2eDisplayed, double(displayedUs - it->second.sentUs) / 1000.0, kMaxWindow);
        m_allDisplayed.add(m_window.e2eDisplayed.back());
    }
    // Frames older than this one were skipped; forget them.
    m_inFlight.erase(m_inFlight.begin(), std::next(it));
}

void StreamStats::Reservoir::add(double value)
{
    ++seen;
    if (values.size() < kCapacity) {
        values.push_back(value);
        return;
    }
    const quint64 slot = quint64(pick()) % seen;
    if (slot < kCapacity)
        values[std::size_t(slot)] = value;
}

std::size_t StreamStats::recordsHeld() const
{
    QMutexLocker lock(&m_mutex);
    return m_inFlight.size();
}

void StreamStats::onSkippedByDecoder(qint64 id)
{
    QMutexLocker lock(&m_mutex);
    ++m_decoder.skipped;
    m_inFlight.erase(id);
}

void StreamStats::setDecoderState(const DecoderState &state)
{
    QMutexLocker lock(&m_mutex);
    const quint64 skipped = m_decoder.skipped;
    m_decoder = state;
    m_decoder.skipped = skipped;
}

void StreamStats::setDecodeErrors(quint64 total)
{
    QMutexLocker lock(&m_mutex);
    m_decodeErrors = total;
}

LatencySummary StreamStats::summarize(std::deque<double> &values)
{
    LatencySummary s;
    if (values.empty())
        return s;
    std::sort(values.begin(), values.end());
    s.medianMs = values[values.size() / 2];
    s.p95Ms = values[std::min(values.size() - 1, values.size() * 95 / 100)];
    values.clear();
    return s;
}

StatsReport StreamStats::report(qint64 nowUs)
{
    QMutexLocker lock(&m_mutex);
    StatsReport r;
    const double windowS = m_lastReportUs < 0 || m_startUs < 0
        ? 1.0 : qMax(0.001, double(nowUs - m_lastReportUs) / 1e6);
    m_lastReportUs = nowUs;
    r.seconds = m_startUs < 0 ? 0 : double(nowUs - m_startUs) / 1e6;
    r.receivedFps = double(m_window.received) / windowS;
    r.decodedFps = double(m_window.decoded) / windowS;
    r.displayedFps = m_display ? double(m_window.displayed) / windowS : -1;
    r.bitrateKbps = double(m_window.bytes) * 8.0 / 1000.0 / windowS;
    r.skippedForDisplay = m_skippedTotal;
    r.skippedBySender = m_senderSkipped;
    r.decodeErrors = m_decodeErrors;
    r.network = summarize(m_window.network);
    r.decode = summarize(m_window.decode);
    r.endToEndDecoded = summarize(m_window.e2eDecoded);
    r.endToEndDisplayed = summarize(m_window.e2eDisplayed);
    r.rttMs = m_clock.hasEstimate() ? double(m_clock.rttUs()) / 1000.0 : -1;
    r.skippedToStayLive = m_skippedToStayLive;
    r.backlogMaxMs = m_backlogMaxUs < 0 ? -1 : double(m_backlogMaxUs) / 1000.0;
    m_backlogMaxUs = -1;
    r.decoder = m_decoder;
    m_window = Window{};
    return r;
}

quint64 StreamStats::framesDecoded() const
{
    QMutexLocker lock(&m_mutex);
    return m_framesDecoded;
}

QString StreamStats::summaryJson() const
{
    QMutexLocker lock(&m_mutex);
    std::deque<double> decoded(m_allDecoded.values.begin(), m_allDecoded.values.end());
    std::deque<double> displayed(m_allDisplayed.values.begin(), m_allDisplayed.values.end());
    const QJsonObject summary{
        {"ttff_ms", number(m_firstDecodedUs < 0 ? -1 : double(m_firstDecodedUs - m_createdUs) / 1000.0)},
        {"frames_decoded", qint64(m_framesDecoded)},
        {"frames_displayed", qint64(m_framesDisplayed)},
        {"frames_decode_only", qint64(m_framesDecodeOnly)},
        {"latency_ms", QJsonObject{{"end_to_end_decoded", latencyJson(summarize(decoded))},
                                   {"end_to_end_displayed", latencyJson(summarize(displayed))}}},
        {"skipped", QJsonObject{{"sender", qint64(m_senderSkipped)}, {"display", qint64(m_skippedTotal)},
                                {"decoder", qint64(m_decoder.skipped)}}},
        {"stay_live", QJsonObject{{"skipped", qint64(m_skippedToStayLive)}}},
        {"decoder_switches", qint64(m_decoder.switches)},
    };
    return QString::fromUtf8(QJsonDocument(QJsonObject{{"summary", summary}}).toJson(QJsonDocument::Compact));
}

QString StatsReport::toJson() const
{
    const QJsonObject o{
        {"t", number(seconds)},
        {"fps", QJsonObject{{"received", number(receivedFps)}, {"decoded", number(decodedFps)},
                            {"displayed", number(displayedFps)}}},
        {"bitrate_kbps", number(bitrateKbps)},
        {"skipped", QJsonObject{{"sender", qint64(skippedBySender)}, {"display", qint64(skippedForDisplay)}}},
        {"decode_errors", qint64(decodeErrors)},
        {"latency_ms", QJsonObject{{"network", latencyJson(network)},
                                   {"decode", latencyJson(decode)},
                                   {"end_to_end_decoded", latencyJson(endToEndDecoded)},
                                   {"end_to_end_displayed", latencyJson(endToEndDisplayed)}}},
        {"rtt_ms", number(rttMs)},
        {"stay_live", QJsonObject{{"skipped", qint64(skippedToStayLive)}, {"backlog_max_ms", number(backlogMaxMs)}}},
        // The decoder's mode (decoder.h): threads cost latency only in "frame".
        {"decoder", QJsonObject{{"mode", decoder.frameThreads ? "frame" : "slice"},
                                {"threads", decoder.threads},
                                {"skipping", decoder.skipping},
                                {"skipped", qint64(decoder.skipped)},
                                {"switches", qint64(decoder.switches)}}},
    };
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

QString StatsReport::toText() const
{
    QString fps = QStringLiteral("received %1 · decoded %2").arg(receivedFps, 0, 'f', 1).arg(decodedFps, 0, 'f', 1);
    if (displayedFps >= 0)
        fps += QStringLiteral(" · displayed %1").arg(displayedFps, 0, 'f', 1);
    return QStringLiteral("fps        %1\n"
                          "bitrate    %2 kbit/s\n"
                          "latency    network %3\n"
                          "           decode %4\n"
                          "           sent→decoded %5\n"
                          "           sent→shown %6\n"
                          "RTT        %7\n"
                          "skipped    %8 by the sender · %9 for display · %11 by the decoder · decode errors %10\n"
                          "decoder    %12")
        .arg(fps).arg(bitrateKbps, 0, 'f', 0).arg(latencyText(network), latencyText(decode),
                                                  latencyText(endToEndDecoded), latencyText(endToEndDisplayed))
        .arg(rttMs < 0 ? QStringLiteral("—") : QStringLiteral("%1 ms").arg(rttMs, 0, 'f', 2))
        .arg(skippedBySender).arg(skippedForDisplay).arg(decodeErrors).arg(decoder.skipped)
        .arg(decoder.frameThreads ? QStringLiteral("%1 frame threads (%1 frames of latency)").arg(decoder.threads)
                                  : QStringLiteral("low delay"));
}

} // namespace h264link
