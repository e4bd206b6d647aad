// What the custom I/O does, made visible: every read_packet / write_packet /
// seek call of the AvioBridges, every message on the wire, the NAL units of
// each access unit, and how full each bounded hand-off is.
//
// Producers (any thread) call Tracer::record() behind `if (Tracer::enabled())`,
// so with tracing off the hot path costs one relaxed atomic load: no event is
// built, nothing is formatted, nothing allocated. Consumers are `--trace-io`
// (text on stderr, category h264link.trace) and the windows' Inside view,
// which drains takeEvents() on the GUI thread.
#pragma once

#include <QByteArray>
#include <QElapsedTimer>
#include <QMetaType>
#include <QMutex>
#include <QObject>
#include <QString>
#include <QVector>
#include <array>
#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <variant>
#include <vector>

class QTimer;

namespace h264link::trace {

enum class Context : quint8 { SenderInput, SenderVideoOutput, SenderAudioOutput, ReceiverVideo, ReceiverAudio };
constexpr int kContextCount = 5;
// "sender file input", "sender video output", "sender audio output", "receiver video", "receiver audio"
const char *contextName(Context c);
enum class Call : quint8 { ReadPacket, WritePacket, Seek };
const char *callName(Call c); // "read_packet", "write_packet", "seek"

struct IoCall {
    qint64 timeUs = 0;       // steady clock, since the tracer's start (record() stamps it if 0)
    Context context{};
    Call call{};
    int size = 0;            // bytes asked (read/write); for Seek: the whence value (AVSEEK_SIZE included)
    qint64 offset = -1;      // Seek: the offset asked; else -1
    qint64 result = 0;       // bytes returned / written, a negative AVERROR, or Seek's new position / size
    qint64 blockedUs = 0;    // time spent waiting for data inside the callback (ByteQueue/socket waits)
    const char *caller = ""; // the libavformat call asking: "avformat_open_input", "avformat_find_stream_info",
                             // "av_read_frame", "avformat_write_header", "av_write_frame", "av_write_trailer" (static strings)
    bool probing = false;    // true until the context's first av_read_frame / av_write_frame (header/probe phase)
};
struct WireMessage {
    qint64 timeUs = 0;
    bool sent = false;       // this process wrote it (else it was received)
    quint8 type = 0, version = 0;
    quint16 flags = 0;
    quint32 seq = 0, length = 0;   // length: payload bytes
    QByteArray head;         // the 24-byte header + up to the first 32 payload bytes
    QByteArray whole;        // the whole message while keepWholeMessages() (the Inside view is open), else empty
};
struct AccessUnitNals {      // one video access unit's NAL units, found at the start codes
    qint64 timeUs = 0;
    bool sent = false;
    qint64 ptsUs = 0;
    struct Nal { quint8 type; int size; int startCodeLength; };  // type: nal_unit_type (5 IDR, 1 non-IDR, 7 SPS, 8 PPS, 6 SEI, 9 AUD …)
    std::vector<Nal> nals;
};
struct Fill { QString name; qint64 used = 0; qint64 capacity = 0; QString unit; }; // unit: "bytes", "frames", "ms"
using Event = std::variant<IoCall, WireMessage, AccessUnitNals>;

struct Summary {             // one second of one context
    Context context{};
    quint64 calls = 0; qint64 bytes = 0; qint64 blockedUs = 0;
    double meanSize() const;
};

// Builders for the producers (call them only when enabled()): a message from
// its encoded bytes (header first, as on the wire), and an access unit split
// at its start codes by common/annexb.
WireMessage wireMessage(const char *data, int size, bool sent);
QString nalTypeName(int type); // "IDR", "non-IDR", "SPS", "PPS", "SEI", "AUD", …, else "type N"
QString whenceName(int whence); // "SEEK_SET", "AVSEEK_SIZE", "SEEK_CUR|AVSEEK_FORCE", …
AccessUnitNals accessUnitNals(const QByteArray &accessUnit, qint64 ptsUs, bool sent);

// Process-wide. Recording is cheap when disabled: one relaxed atomic load, no formatting, no allocation.
class Tracer : public QObject {
    Q_OBJECT
public:
    // Call it first after QCoreApplication exists (the apps' main()): the
    // once-a-second timer lives on the main thread, and the last partial
    // second is summarised at aboutToQuit.
    static Tracer &instance();
    static bool enabled() { return s_enabled.load(std::memory_order_relaxed); }
    static qint64 nowUs(); // the clock of every timeUs
    void setEnabled(bool on);               // any thread; the windows' toggle and --trace-io
    void setTextOutput(bool on);            // --trace-io: one line per call to stderr (category h264link.trace) + once-a-second summaries
    bool textOutput() const { return m_text.load(std::memory_order_relaxed); }
    // The Inside view shows a clicked message whole, so while it is open the
    // messages are kept whole; the ring's hold on them is bounded in bytes
    // (kWholeBytesBudget: past it the oldest lose their whole copy, never
    // their head).
    static constexpr qint64 kWholeBytesBudget = 16 * 1024 * 1024;
    static bool keepWholeMessages() { return s_keepWhole.load(std::memory_order_relaxed); }
    void setKeepWholeMessages(bool on) { s_keepWhole.store(on, std::memory_order_relaxed); }
    void record(const IoCall &call);        // any thread
    void record(const WireMessage &message);
    void record(const AccessUnitNals &au);
    // Bounded hand-off to the GUI: a ring of kRingCapacity events, drop oldest (the view is a live picture;
    // the counts stay exact in dropped()).
    static constexpr int kRingCapacity = 4096;
    std::vector<Event> takeEvents();        // GUI thread: everything since the last call, oldest first
    quint64 dropped() const;
    // Hand-off fills, sampled on demand (GUI thread, ~10 Hz). A probe is registered by the stage that owns
    // the hand-off and removed in its destructor (the id). A probe runs on the sampling thread, so it
    // reads only thread-safe state (atomics, a locked queue); after removeFillProbe() it never runs again.
    int addFillProbe(std::function<Fill()> probe);
    void removeFillProbe(int id);
    std::vector<Fill> sampleFills() const;
    // Ends the current summary second now (emits and prints it if it has calls): at the end of a
    // stream, so that the summaries' totals cover every call. Main thread.
    void flushSummary();
    static QString format(const IoCall &call);      // the --trace-io line, without its "trace-io " prefix (also shown by the view)
    static QString format(const Summary &summary);  // "summary receiver video: 120 calls, 1.2 MB (1234567 bytes), ..."
signals:
    void secondSummary(const QVector<h264link::trace::Summary> &perContext); // once a second while enabled
private:
    Tracer();
    void push(Event event);
    void startTimer(bool on);

    static std::atomic<bool> s_enabled;
    static std::atomic<bool> s_keepWhole;
    qint64 m_wholeBytes = 0; // of the events in m_ring (under m_mutex)
    std::atomic<bool> m_text{false};
    QElapsedTimer m_clock;
    QTimer *m_second = nullptr;

    mutable QMutex m_mutex; // guards everything below
    std::deque<Event> m_ring;
    quint64 m_dropped = 0;
    std::array<Summary, kContextCount> m_current{};
    // The text summary's other lines: messages per type, each way [sent][type],
    // and access units with their NAL units per type, each way.
    std::array<std::array<quint64, 256>, 2> m_messages{};
    std::array<quint64, 2> m_accessUnits{};
    std::array<std::array<quint64, 32>, 2> m_nals{};

    mutable QMutex m_probeMutex; // held while a probe runs, so removal waits for it
    std::map<int, std::function<Fill()>> m_probes;
    int m_nextProbeId = 1;
};

// Names the libavformat call on this thread, for the IoCall records its callbacks make:
//   { trace::CallerScope scope("av_read_frame"); ret = av_read_frame(...); }
// Cheap when tracing is off (a thread_local pointer store).
class CallerScope {
public:
    explicit CallerScope(const char *call);
    ~CallerScope();
    CallerScope(const CallerScope &) = delete;
    CallerScope &operator=(const CallerScope &) = delete;
    static const char *current(); // "" outside any scope
private:
    const char *m_previous;
};

} // namespace h264link::trace

Q_DECLARE_METATYPE(h264link::trace::Summary)
Q_DECLARE_METATYPE(h264link::trace::Fill)
