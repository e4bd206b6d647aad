// StreamStats: where each frame's time goes, and the live statistics built
// from it, over one-second windows.
//
//   sender sends ─network─► last byte arrives ─decode─► decoded ─display─► shown
//
// The sender stamps every MEDIA message with its own clock; PING/PONG gives
// the offset between the two clocks (ClockSync), so "network" is right
// across two machines and not only on loopback.
//
// Threads: the network thread calls onAccessUnit() and clock samples, the
// pipeline thread onDecoded(), the GUI thread onDisplayed();
// one mutex guards it all (a few operations per frame).
#pragma once

#include <QMutex>
#include <QString>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <vector>

namespace h264link {

// Offset between the sender's clock and ours, from PING/PONG round trips.
class ClockSync {
public:
    // t0: our PING send time, senderUs: the sender's clock when it answered,
    // t3: when the PONG arrived (our clock).
    void addSample(qint64 t0, qint64 senderUs, qint64 t3);
    bool hasEstimate() const { return !m_samples.empty(); }
    qint64 offsetUs() const; // sender clock minus our clock
    qint64 rttUs() const;    // of the best (shortest) recent round trip

private:
    struct Sample {
        qint64 rtt;
        qint64 offset;
    };
    std::deque<Sample> m_samples; // the last few; the shortest RTT wins
};

struct LatencySummary {
    double medianMs = -1; // -1: no data in the window
    double p95Ms = -1;
};

// How the Decoder decodes now (decoder.h), and what its keeping up cost.
struct DecoderState {
    bool frameThreads = false; // else low delay (slice threads)
    int threads = 1;           // with frame threads, each one frame of latency
    bool skipping = false;     // non-reference pictures skipped to keep up
    quint64 skipped = 0;       // total pictures it skipped
    quint64 switches = 0;      // total changes of mode
};

struct StatsReport {
    double seconds = 0; // since the stream started
    double receivedFps = 0, decodedFps = 0, displayedFps = -1; // -1: headless
    double bitrateKbps = 0;
    quint64 skippedForDisplay = 0; // total
    quint64 skippedBySender = 0;   // total, as of the sender's last PONG
    quint64 decodeErrors = 0;      // total
    LatencySummary network, decode, endToEndDecoded, endToEndDisplayed;
    double rttMs = -1;
    // Staying live (ReceiverConnection): units skipped by the receiver so
    // far, and the longest backlog (how long the oldest unit not yet
    // demuxed had waited) seen in the window.
    quint64 skippedToStayLive = 0;
    double backlogMaxMs = -1;
    DecoderState decoder;
    QString toJson() const;
    QString toText() const;
};

class StreamStats {
public:
    explicit StreamStats(bool display);

    // Network thread. Returns the record's id, which travels with the access
    // unit (AccessUnitIndex) to its decoded frame (reordered_opaque).
    qint64 onAccessUnit(qint64 sentUs, qint64 arrivedUs, qint64 bytes);
    void onClockSample(qint64 t0, qint64 senderUs, qint64 t3, quint64 senderSkipped = 0);
    // Pipeline thread.
    void onDecoded(qint64 id, qint64 decodedUs);
    // A DECODE_ONLY unit went into the decoder: its picture is never output,
    // so its record is let go of, counted neither as decoded nor as shown.
    void onDecodeOnly(qint64 id);
    // The decoder skipped the unit's picture to keep up: let go of as above.
    void onSkippedByDecoder(qint64 id);
    void setDecoderState(const DecoderState &state); // skipped is counted here
    // GUI thread.
    void onDisplayed(qint64 id, qint64 displayedUs, quint64 skippedTotal);
    void setDecodeErrors(quint64 total);
    // Network thread, staying live: the backlog at a unit's start, and a
    // unit skipped to stay live (cut from the queue, or dropped on arrival),
    // whose record is let go of, as a decode-only one's: not lost.
    void onBacklog(qint64 backlogUs);
    void onSkippedToStayLive(qint64 id);

    StatsReport report(qint64 nowUs); // the last second; call about once a second
    // The whole stream: time to the first decoded picture after the TCP
    // connection opened (this object is made at accept), and latency
    // percentiles over every frame. One JSON object: {"summary": {...}}.
    QString summaryJson() const;
    quint64 framesDecoded() const; // so far, this stream
    std::size_t recordsHeld() const; // per-frame records not yet let go of

private:
    struct Timing {
        qint64 sentUs = 0; // on our clock, once the offset is known
        qint64 arrivedUs = 0;
        qint64 decodedUs = 0;
    };
    struct Window {
        std::deque<double> network, decode, e2eDecoded, e2eDisplayed;
        quint64 received = 0, decoded = 0, displayed = 0, bytes = 0;
    };
    static LatencySummary summarize(std::deque<double> &values);

    mutable QMutex m_mutex;
    const bool m_display;
    ClockSync m_clock;
    std::map<qint64, Timing> m_inFlight; // arrived, not yet decoded (or shown)
    // Decoded but not yet shown, oldest first. The display holds one frame,
    // so only the newest few can still be shown: the oldest beyond
    // kMaxAwaitingDisplay are forgotten (a minimised window paints nothing).
    std::deque<qint64> m_awaitingDisplay;
    qint64 m_nextId = 0;
    qint64 m_startUs = -1;
    qint64 m_lastReportUs = -1;
    quint64 m_skippedTotal = 0;
    quint64 m_senderSkipped = 0;
    quint64 m_decodeErrors = 0;
    Window m_window;
    const qint64 m_createdUs;
    qint64 m_firstDecodedUs = -1;
    quint64 m_framesDecoded = 0;
    quint64 m_framesDisplayed = 0;
    quint64 m_framesDecodeOnly = 0;
    quint64 m_skippedToStayLive = 0;
    qint64 m_backlogMaxUs = -1; // this window's
    DecoderState m_decoder;
    // The whole stream's end-to-end latencies, for the summary's percentiles:
    // a uniform sample of at most kCapacity values (reservoir sampling, fixed
    // seed), so that memory stays flat however long the stream runs.
    struct Reservoir {
        static constexpr std::size_t kCapacity = 1 << 16;
        std::vector<double> values;
        quint64 seen = 0;
        std::minstd_rand pick{1};
        void add(double value);
    };
    Reservoir m_allDecoded, m_allDisplayed;
};

} // namespace h264link
