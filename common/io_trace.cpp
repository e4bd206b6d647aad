#include "io_trace.h"

#include "annexb.h"
#include "protocol.h"

#include <QCoreApplication>
#include <QLocale>
#include <QLoggingCategory>
#include <QMutexLocker>
#include <QTimer>
#include <cstdio>

extern "C" {
#include <libavformat/avio.h>
#include <libavutil/error.h>
}

Q_LOGGING_CATEGORY(lcTrace, "h264link.trace", QtInfoMsg)

namespace h264link::trace {
namespace {

thread_local const char *t_caller = "";

// The name a reader finds in FFmpeg's headers, then its text.
QString averrorName(qint64 code)
{
    const int e = int(code);
    const char *name = nullptr;
    switch (e) {
    case AVERROR_EOF: name = "AVERROR_EOF"; break;
    case AVERROR_EXIT: name = "AVERROR_EXIT"; break;
    case AVERROR_INVALIDDATA: name = "AVERROR_INVALIDDATA"; break;
    case AVERROR(EIO): name = "AVERROR(EIO)"; break;
    case AVERROR(ESPIPE): name = "AVERROR(ESPIPE)"; break;
    case AVERROR(EAGAIN): name = "AVERROR(EAGAIN)"; break;
    case AVERROR(EINVAL): name = "AVERROR(EINVAL)"; break;
    case AVERROR(ENOMEM): name = "AVERROR(ENOMEM)"; break;
    case AVERROR(ENOSYS): name = "AVERROR(ENOSYS)"; break;
    default: break;
    }
    char text[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(e, text, sizeof text);
    return name ? QStringLiteral("%1 \"%2\"").arg(QLatin1String(name), QString::fromUtf8(text))
                : QStringLiteral("AVERROR %1 \"%2\"").arg(e).arg(QString::fromUtf8(text));
}


QString milliseconds(qint64 us)
{
    return QLocale().toString(double(us) / 1000.0, 'f', 1) + QStringLiteral(" ms");
}

// Straight to stderr, whole lines (stdio locks the stream per call, so the
// threads' lines never interleave), without Qt's "category: " prefix; the
// category still switches it off (QT_LOGGING_RULES="h264link.trace=false").
void printLine(const QString &line)
{
    if (lcTrace().isInfoEnabled())
        std::fprintf(stderr, "trace-io %s\n", qUtf8Printable(line));
}

} // namespace

QString whenceName(int whence)
{
    const bool force = whence & AVSEEK_FORCE;
    QString name;
    switch (whence & ~AVSEEK_FORCE) {
    case SEEK_SET: name = QStringLiteral("SEEK_SET"); break;
    case SEEK_CUR: name = QStringLiteral("SEEK_CUR"); break;
    case SEEK_END: name = QStringLiteral("SEEK_END"); break;
    case AVSEEK_SIZE: name = QStringLiteral("AVSEEK_SIZE"); break;
    default: name = QStringLiteral("whence %1").arg(whence & ~AVSEEK_FORCE); break;
    }
    return force ? name + QStringLiteral("|AVSEEK_FORCE") : name;
}

QString nalTypeName(int type)
{
    switch (type) {
    case annexb::NonIdrSlice: return QStringLiteral("non-IDR");
    case annexb::IdrSlice: return QStringLiteral("IDR");
    case annexb::Sei: return QStringLiteral("SEI");
    case annexb::Sps: return QStringLiteral("SPS");
    case annexb::Pps: return QStringLiteral("PPS");
    case annexb::AccessUnitDelimiter: return QStringLiteral("AUD");
    case 10: return QStringLiteral("end of sequence");
    case 11: return QStringLiteral("end of stream");
    case 12: return QStringLiteral("filler");
    default: return QStringLiteral("type %1").arg(type);
    }
}

const char *contextName(Context c)
{
    switch (c) {
    case Context::SenderInput: return "sender file input";
    case Context::SenderVideoOutput: return "sender video output";
    case Context::SenderAudioOutput: return "sender audio output";
    case Context::ReceiverVideo: return "receiver video";
    case Context::ReceiverAudio: return "receiver audio";
    }
    return "unknown context";
}

const char *callName(Call c)
{
    switch (c) {
    case Call::ReadPacket: return "read_packet";
    case Call::WritePacket: return "write_packet";
    case Call::Seek: return "seek";
    }
    return "unknown call";
}

double Summary::meanSize() const
{
    return calls ? double(bytes) / double(calls) : 0.0;
}

WireMessage wireMessage(const char *data, int size, bool sent)
{
    WireMessage m;
    m.timeUs = Tracer::nowUs();
    m.sent = sent;
    if (size < proto::kHeaderSize) {
        m.head = QByteArray(data, size);
        return m;
    }
    const proto::Header h = proto::readHeader(data);
    m.type = h.type;
    m.version = h.version;
    m.flags = h.flags;
    m.seq = h.sequence;
    m.length = h.payloadLength;
    m.head = QByteArray(data, qMin(size, proto::kHeaderSize + 32));
    if (Tracer::keepWholeMessages())
        m.whole = QByteArray(data, size);
    return m;
}

AccessUnitNals accessUnitNals(const QByteArray &accessUnit, qint64 ptsUs, bool sent)
{
    AccessUnitNals au;
    au.timeUs = Tracer::nowUs();
    au.sent = sent;
    au.ptsUs = ptsUs;
    for (const annexb::NalUnit &u : annexb::split(accessUnit)) {
        // split() strips a 4-byte start code's leading zero from the unit before it.
        const int startCode = u.offset >= 4 && accessUnit[u.offset - 4] == 0 ? 4 : 3;
        au.nals.push_back({quint8(u.type), int(u.size), startCode});
    }
    return au;
}

std::atomic<bool> Tracer::s_enabled{false};
std::atomic<bool> Tracer::s_keepWhole{false};

Tracer &Tracer::instance()
{
    static Tracer tracer;
    return tracer;
}

Tracer::Tracer()
{
    qRegisterMetaType<h264link::trace::Summary>();
    qRegisterMetaType<QVector<h264link::trace::Summary>>();
    m_clock.start();
    for (int i = 0; i < kContextCount; ++i)
        m_current[size_t(i)].context = Context(i);
    if (auto *app = QCoreApplication::instance()) {
        moveToThread(app->thread());
        // The last partial second, so that the summaries add up to every call.
        connect(app, &QCoreApplication::aboutToQuit, this, [this] {
            if (m_second)
                m_second->stop();
            flushSummary();
        });
    }
}

qint64 Tracer::nowUs()
{
    return instance().m_clock.nsecsElapsed() / 1000;
}

void Tracer::setEnabled(bool on)
{
    s_enabled.store(on, std::memory_order_relaxed);
    // The timer belongs to the tracer's thread; the toggle may come from any.
    QMetaObject::invokeMethod(this, [this, on] { startTimer(on); });
}

void Tracer::setTextOutput(bool on)
{
    m_text.store(on, std::memory_order_relaxed);
}

void Tracer::startTimer(bool on)
{
    if (!m_second) {
        m_second = new QTimer(this);
        m_second->setInterval(1000);
        connect(m_second, &QTimer::timeout, this, &Tracer::flushSummary);
    }
    if (on && !m_second->isActive())
        m_second->start();
    else if (!on && m_second->isActive()) {
        m_second->stop();
        flushSummary();
    }
}

void Tracer::record(const IoCall &call)
{
    IoCall c = call;
    if (c.timeUs == 0)
        c.timeUs = nowUs();
    {
        QMutexLocker lock(&m_mutex);
        Summary &s = m_current[size_t(c.context)];
        ++s.calls;
        if (c.call != Call::Seek && c.result > 0)
            s.bytes += c.result;
        s.blockedUs += c.blockedUs;
    }
    if (textOutput())
        printLine(format(c));
    push(std::move(c));
}

void Tracer::record(const WireMessage &message)
{
    {
        QMutexLocker lock(&m_mutex);
        ++m_messages[message.sent][message.type];
    }
    push(message);
}

void Tracer::record(const AccessUnitNals &au)
{
    {
        QMutexLocker lock(&m_mutex);
        ++m_accessUnits[au.sent];
        for (const AccessUnitNals::Nal &n : au.nals)
            ++m_nals[au.sent][n.type & 0x1F];
    }
    push(au);
}

namespace {
qint64 wholeBytes(const Event &event)
{
    const auto *m = std::get_if<WireMessage>(&event);
    return m ? m->whole.size() : 0;
}
} // namespace

void Tracer::push(Event event)
{
    QMutexLocker lock(&m_mutex);
    if (int(m_ring.size()) >= kRingCapacity) { // drop oldest: the view wants the newest
        m_wholeBytes -= wholeBytes(m_ring.front());
        m_ring.pop_front();
        ++m_dropped;
    }
    m_wholeBytes += wholeBytes(event);
    m_ring.push_back(std::move(event));
    for (auto it = m_ring.begin(); m_wholeBytes > kWholeBytesBudget && it != m_ring.end(); ++it) {
        if (auto *m = std::get_if<WireMessage>(&*it)) {
            m_wholeBytes -= m->whole.size();
            m->whole.clear();
        }
    }
}

std::vector<Event> Tracer::takeEvents()
{
    QMutexLocker lock(&m_mutex);
    std::vector<Event> events(std::make_move_iterator(m_ring.begin()), std::make_move_iterator(m_ring.end()));
    m_ring.clear();
    m_wholeBytes = 0;
    return events;
}

quint64 Tracer::dropped() const
{
    QMutexLocker lock(&m_mutex);
    return m_dropped;
}

int Tracer::addFillProbe(std::function<Fill()> probe)
{
    QMutexLocker lock(&m_probeMutex);
    const int id = m_nextProbeId++;
    m_probes.emplace(id, std::move(probe));
    return id;
}

void Tracer::removeFillProbe(int id)
{
    QMutexLocker lock(&m_probeMutex);
    m_probes.erase(id);
}

std::vector<Fill> Tracer::sampleFills() const
{
    QMutexLocker lock(&m_probeMutex);
    std::vector<Fill> fills;
    fills.reserve(m_probes.size());
    for (const auto &[id, probe] : m_probes)
        fills.push_back(probe());
    return fills;
}

void Tracer::flushSummary()
{
    QVector<Summary> perContext;
    std::array<std::array<quint64, 256>, 2> messages{};
    std::array<quint64, 2> accessUnits{};
    std::array<std::array<quint64, 32>, 2> nals{};
    {
        QMutexLocker lock(&m_mutex);
        for (Summary &s : m_current) {
            if (s.calls > 0)
                perContext.append(s);
            s = Summary{s.context};
        }
        messages = std::exchange(m_messages, {});
        accessUnits = std::exchange(m_accessUnits, {});
        nals = std::exchange(m_nals, {});
    }
    if (textOutput()) {
        for (const Summary &s : perContext)
            printLine(format(s));
        const QLocale locale;
        for (int sent = 1; sent >= 0; --sent) {
            QStringList parts;
            for (int type = 0; type < 256; ++type) {
                if (messages[size_t(sent)][size_t(type)])
                    parts << QStringLiteral("%1 %2").arg(QLatin1String(proto::typeName(proto::MessageType(type))),
                                                         locale.toString(messages[size_t(sent)][size_t(type)]));
            }
            if (!parts.isEmpty())
                printLine(QStringLiteral("summary messages %1: %2").arg(sent ? "sent" : "received", parts.join(", ")));
        }
        for (int sent = 1; sent >= 0; --sent) {
            if (!accessUnits[size_t(sent)])
                continue;
            QStringList parts;
            for (int type = 0; type < 32; ++type) {
                if (nals[size_t(sent)][size_t(type)])
                    parts << QStringLiteral("%1 %2").arg(nalTypeName(type), locale.toString(nals[size_t(sent)][size_t(type)]));
            }
            printLine(QStringLiteral("summary access units %1: %2 (NAL units: %3)")
                          .arg(sent ? "sent" : "received", locale.toString(accessUnits[size_t(sent)]),
                               parts.join(", ")));
        }
    }
    if (!perContext.isEmpty())
        emit secondSummary(perContext);
}

QString Tracer::format(const IoCall &c)
{
    const QLocale locale;
    QString line = QStringLiteral("%1  %2  ").arg(QLatin1String(contextName(c.context)),
                                                 QLatin1String(callName(c.call)));
    if (c.call == Call::Seek) {
        line += QStringLiteral("offset %1 %2 -> ").arg(locale.toString(c.offset), whenceName(c.size));
        line += c.result < 0 ? averrorName(c.result) : locale.toString(c.result);
    } else {
        const bool reading = c.call == Call::ReadPacket;
        line += QStringLiteral("%1 %2  %3 ").arg(reading ? QStringLiteral("asked") : QStringLiteral("size"),
                                                 locale.toString(c.size),
                                                 reading ? QStringLiteral("got") : QStringLiteral("wrote"));
        line += c.result < 0 ? averrorName(c.result) : locale.toString(c.result);
        line += QStringLiteral("  blocked ") + milliseconds(c.blockedUs);
    }
    line += QStringLiteral("  ") + QLatin1String(c.caller && *c.caller ? c.caller : "(no libavformat call)");
    if (c.probing)
        line += QStringLiteral("  [probe]");
    return line;
}

QString Tracer::format(const Summary &s)
{
    const QLocale locale;
    return QStringLiteral("summary %1: %2 calls, %3 (%4 bytes), mean %5, blocked %6")
        .arg(QLatin1String(contextName(s.context)), locale.toString(s.calls),
             locale.formattedDataSize(s.bytes, 1, QLocale::DataSizeSIFormat), locale.toString(s.bytes),
             locale.formattedDataSize(qint64(s.meanSize() + 0.5), 1, QLocale::DataSizeSIFormat),
             milliseconds(s.blockedUs));
}

CallerScope::CallerScope(const char *call) : m_previous(t_caller)
{
    t_caller = call;
}

CallerScope::~CallerScope()
{
    t_caller = m_previous;
}

const char *CallerScope::current()
{
    return t_caller;
}

} // namespace h264link::trace
