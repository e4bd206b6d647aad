#include "net/subscriber.h"

#include "exit_codes.h"
#include "net/broadcaster.h"
#include "net/sender_connection.h"

#include <QDeadlineTimer>
#include <QMutexLocker>
#include <unistd.h>

namespace h264link {

using namespace proto;

namespace {
constexpr int kRetryIntervalMs = 1000;
// --fast: what may wait in the socket's own buffer beyond the queue.
constexpr qint64 kFastWriteAhead = 256 * 1024;
} // namespace

Subscriber::Subscriber(Broadcaster &broadcaster, SenderOptions options, qintptr adopted, int id)
    : m_broadcaster(broadcaster), m_options(std::move(options)), m_adopted(adopted), m_id(id)
{
    m_address = m_adopted >= 0 ? QStringLiteral("(accepted)")
                               : QStringLiteral("%1:%2").arg(m_options.host).arg(m_options.port);
}

Subscriber::~Subscriber()
{
    stop();
    wait();
    if (m_adopted >= 0)
        ::close(int(m_adopted)); // accepted, never adopted (stopped first)
}

void Subscriber::countDropped(const SharedUnit &unit)
{
    if (unit.isVideo())
        m_skipped.fetch_add(1);
    else if (unit.unit.kind == CapturedUnit::Kind::Audio)
        ++m_audioSkipped;
}

void Subscriber::push(const UnitPtr &unit)
{
    {
        QMutexLocker locker(&m_lock);
        if (m_ended || !m_dropReason.isEmpty())
            return;
        if (m_videoOnly && unit->unit.kind == CapturedUnit::Kind::Audio)
            return; // a protocol-2 receiver: never part of its stream
        if (m_waitForKeyframe) {
            if (!(unit->isVideo() && unit->unit.keyframe)) {
                countDropped(*unit);
                return;
            }
            m_waitForKeyframe = false;
        }
        const qint64 now = m_broadcaster.nowMs();
        m_queue.push_back({unit, now});
        m_queueBytes += unit->size();
        // Here too, not only when the thread takes a unit: a frozen
        // receiver's thread takes none, its socket being full.
        if (!m_options.fast && now - m_queue.front().sinceMs > kSoftBoundMs)
            cutToNewestKeyframe();
        if (m_queue.empty())
            return;
        const bool tooOld = !m_options.fast && now - m_queue.front().sinceMs > kHardBoundMs;
        if (m_queueBytes > kHardBoundBytes || tooOld) {
            m_dropReason = tooOld
                ? QStringLiteral("dropped by the sender: it fell more than %1 s behind the live stream").arg(kHardBoundMs / 1000)
                : QStringLiteral("dropped by the sender: more than %1 MiB waited for it").arg(kHardBoundBytes >> 20);
            for (const Waiting &waiting : m_queue)
                countDropped(*waiting.unit);
            m_queue.clear(); // the memory goes at once
            m_queueBytes = 0;
        }
    }
    // publish() wakes the loop once for every subscriber
}

void Subscriber::endOfStream()
{
    {
        QMutexLocker locker(&m_lock);
        m_ended = true;
    }
    m_broadcaster.wakeLoop();
}

void Subscriber::stop()
{
    m_stop.store(true);
    endOfStream();
}

void Subscriber::disconnectReceiver()
{
    {
        QMutexLocker locker(&m_lock);
        m_disconnect = true;
    }
    m_broadcaster.wakeLoop();
}

qint64 Subscriber::queuedBytes() const
{
    QMutexLocker locker(&m_lock);
    return m_queueBytes;
}

Subscriber::Stats Subscriber::stats() const
{
    QMutexLocker locker(&m_lock);
    Stats s;
    s.id = m_id;
    s.address = m_address;
    s.name = m_listedName.isEmpty() ? m_address : m_listedName;
    s.ownName = m_ownName;
    s.state = m_state;
    s.connectedSeconds = m_connectedClock.isValid() ? double(m_connectedClock.elapsed()) / 1000.0 : 0;
    const qint64 now = m_broadcaster.nowMs();
    s.lagMs = m_queue.empty() ? 0 : now - m_queue.front().unit->publishedMs;
    s.framesSent = m_framesSent;
    s.framesSkipped = m_skipped.load();
    s.audioSkipped = m_audioSkipped;
    if (now - m_rateAtMs >= 500) {
        m_bitRate = double(m_bytesSent - m_bytesAtLastRate) * 8000.0 / double(now - m_rateAtMs);
        m_bytesAtLastRate = m_bytesSent;
        m_rateAtMs = now;
    }
    s.bitRate = m_bitRate;
    return s;
}

void Subscriber::setState(const QString &state)
{
    {
        QMutexLocker locker(&m_lock);
        m_state = state;
    }
    m_broadcaster.noteChange();
}

// Soft bound: the queue is cut to its newest keyframe; none waiting: all of
// it goes, and push() drops units until the next keyframe.
void Subscriber::cutToNewestKeyframe()
{
    auto keyframe = std::find_if(m_queue.rbegin(), m_queue.rend(), [](const Waiting &waiting) {
        return waiting.unit->isVideo() && waiting.unit->unit.keyframe;
    });
    const auto end = keyframe == m_queue.rend() ? m_queue.end() : std::prev(keyframe.base());
    if (end == m_queue.begin())
        return; // the newest keyframe is next already
    for (auto it = m_queue.begin(); it != end; ++it) {
        countDropped(*it->unit);
        m_queueBytes -= it->unit->size();
    }
    m_queue.erase(m_queue.begin(), end);
    m_waitForKeyframe = m_queue.empty();
    m_needParameterSets = true;
}

UnitPtr Subscriber::take(qint64 nowMs, bool *needParameterSets)
{
    if (!m_options.fast && !m_queue.empty() && nowMs - m_queue.front().sinceMs > kSoftBoundMs)
        cutToNewestKeyframe();
    *needParameterSets = std::exchange(m_needParameterSets, false);
    if (m_queue.empty())
        return {};
    UnitPtr unit = std::move(m_queue.front().unit);
    m_queue.pop_front();
    m_queueBytes -= unit->size();
    return unit;
}

void Subscriber::run()
{
    const auto retryable = [](int code, const SenderConnection &connection) {
        const quint16 why = connection.peerErrorCode();
        return code == ExitConnectionFailed || (code == ExitProtocolError && (why == ErrBusy || why == ErrTimeout));
    };
    const bool dials = m_adopted < 0;
    QString message;
    for (;;) {
        SenderConnection connection(m_options, m_stop, [this] { return m_skipped.load(); });
        if (m_adopted >= 0)
            connection.adoptSocket(std::exchange(m_adopted, -1));
        int code = ExitOk;
        const bool open = connection.open(&code, &message);
        {
            QMutexLocker locker(&m_lock);
            m_address = connection.where();
        }
        if (!open) {
            m_exitCode = code;
            m_message = QStringLiteral("%1: %2").arg(connection.where(), message);
            m_settled.store(true);
            bool ended = false;
            {
                QMutexLocker locker(&m_lock);
                ended = m_ended;
            }
            if (!dials || !m_options.retry || !retryable(code, connection) || ended || m_stop.load()) {
                setState(QStringLiteral("failed"));
                return;
            }
            setState(QStringLiteral("retrying"));
            const QDeadlineTimer pause(kRetryIntervalMs);
            while (!pause.hasExpired() && !m_stop.load())
                QThread::msleep(50);
            continue;
        }
        std::deque<UnitPtr> gop;
        QByteArray sets;
        StreamInfo info;
        QString refusal, listedAs;
        const QString ownName = connection.receiverName();
        if (!m_broadcaster.join(this, ownName.isEmpty() ? connection.where() : ownName, &gop, &sets, &info,
                                &listedAs, &refusal)) {
            connection.abort(refusal, ErrFull);
            m_exitCode = ExitOk; // a refusal is this receiver's answer, not the stream's failure
            m_message = QStringLiteral("%1: refused: %2").arg(connection.where(), refusal);
            setState(QStringLiteral("refused"));
            m_settled.store(true);
            return;
        }
        const bool videoOnly = !connection.speaksAudio();
        if (videoOnly) { // a protocol-2 receiver: video only
            info.audioCodec = kCodecNone;
            info.audioSampleRate = 0;
            info.audioChannels = 0;
            info.audioBitRate = 0;
            info.audioDescription.clear();
        }
        connection.sendStreamInfo(info);
        if (!sets.isEmpty())
            connection.framing().prependToNextKeyframe(sets);
        if (QString warning; !m_options.fast)
            connection.useLiveSendBuffer(&warning); // its fallback is fine for a fan-out
        {
            QMutexLocker locker(&m_lock);
            m_videoOnly = videoOnly;
            m_ownName = ownName;
            m_listedName = listedAs;
            const qint64 now = m_broadcaster.nowMs();
            m_queue.clear();
            m_queueBytes = 0;
            for (UnitPtr &unit : gop) {
                if (videoOnly && unit->unit.kind == CapturedUnit::Kind::Audio)
                    continue;
                m_queueBytes += unit->size();
                m_queue.push_back({std::move(unit), now});
            }
            m_waitForKeyframe = m_queue.empty();
            m_connectedClock.start();
            m_state = QStringLiteral("streaming");
        }
        m_everStreamed = true;
        m_streaming.store(true);
        m_settled.store(true);
        m_broadcaster.noteChange();
        const Outcome outcome = stream(connection, &message);
        m_broadcaster.leave(this);
        m_streaming.store(false);
        {
            QMutexLocker locker(&m_lock);
            m_queue.clear();
            m_queueBytes = 0;
        }
        const QString where = connection.where();
        if (outcome == Outcome::Finished) {
            setState(QStringLiteral("ending"));
            m_exitCode = connection.finish(&message);
            m_confirmed = connection.framesDecoded();
            const quint64 sent = connection.framing().accessUnitsSent();
            if (m_exitCode == ExitOk)
                m_message = m_confirmed
                    ? QStringLiteral("%1: %2 frames sent, %3 confirmed decoded").arg(where).arg(sent).arg(*m_confirmed)
                    : QStringLiteral("%1: %2 frames sent").arg(where).arg(sent);
            else
                m_message = QStringLiteral("%1: %2").arg(where, message);
            if (const quint64 skipped = m_skipped.load())
                m_message += QStringLiteral(", %1 skipped to stay live").arg(skipped);
            setState(m_exitCode == ExitOk ? QStringLiteral("done") : QStringLiteral("incomplete"));
            return;
        }
        if (outcome == Outcome::Dropped) {
            QString reason;
            {
                QMutexLocker locker(&m_lock);
                reason = m_dropReason;
            }
            connection.abort(reason, ErrDropped);
            m_exitCode = ExitOk; // the others went on: said in the "done" line
            m_message = QStringLiteral("%1: %2").arg(where, reason);
            setState(QStringLiteral("dropped"));
            return;
        }
        code = connection.lost(&message);
        m_exitCode = ExitOk;
        m_message = QStringLiteral("%1: left: %2").arg(where, message);
        bool ended = false;
        {
            QMutexLocker locker(&m_lock);
            ended = m_ended;
            m_dropReason.clear();
        }
        if (!dials || !m_options.retry || !retryable(code, connection) || ended || m_stop.load()) {
            setState(QStringLiteral("left"));
            return;
        }
        setState(QStringLiteral("retrying"));
        QThread::msleep(200);
    }
}

// Until the end of the stream (Finished), the connection breaks (Lost), or
// a bound, silence or the window drop it (Dropped, m_dropReason set): on
// the SubscriberLoop, while this thread waits.
Subscriber::Outcome Subscriber::stream(SenderConnection &connection, QString *message)
{
    m_connection = &connection;
    m_lostMessage.clear();
    {
        QMutexLocker locker(&m_lock);
        m_outcome.reset();
    }
    connection.moveToThreadWithSocket(m_broadcaster.loopThread());
    m_broadcaster.addToLoop(this);
    QMutexLocker locker(&m_lock);
    while (!m_outcome)
        m_handedBack.wait(&m_lock);
    m_connection = nullptr;
    *message = m_lostMessage;
    return *m_outcome;
}

pollfd Subscriber::pollFd()
{
    return {m_connection->socketDescriptor(), m_connection->pollEvents(), 0};
}

void Subscriber::handBack(Outcome outcome)
{
    m_connection->moveToThreadWithSocket(this);
    QMutexLocker locker(&m_lock);
    m_outcome = outcome;
    m_handedBack.wakeOne();
}

std::optional<Subscriber::Outcome> Subscriber::service(short revents)
{
    SenderConnection &connection = *m_connection;
    if (m_stop.load())
        return Outcome::Finished; // Stop: END_OF_STREAM now, what waits is left
    if (revents)
        connection.onPollEvents(revents); // usable() or not: checkPeer() below says
    for (;;) {
        const bool room = m_options.fast ? connection.queuedBytes() < kFastWriteAhead : connection.queuedBytes() == 0;
        UnitPtr unit;
        bool ended = false;
        bool needSets = false;
        {
            QMutexLocker locker(&m_lock);
            if (m_disconnect && m_dropReason.isEmpty())
                m_dropReason = QStringLiteral("disconnected by the sender");
            if (!m_dropReason.isEmpty())
                return Outcome::Dropped;
            if (room)
                unit = take(m_broadcaster.nowMs(), &needSets);
            ended = m_ended && m_queue.empty() && !unit;
        }
        if (needSets)
            connection.framing().prependToNextKeyframe(m_broadcaster.parameterSets());
        if (!unit) {
            if (ended)
                return Outcome::Finished;
            break; // the queue is empty, or the socket full: the next event
        }
        if (!connection.writeUnit(unit->unit)) {
            connection.checkPeer(&m_lostMessage);
            return Outcome::Lost;
        }
        QMutexLocker locker(&m_lock);
        if (unit->isVideo())
            ++m_framesSent;
        m_bytesSent += quint64(unit->size());
    }
    if (!connection.checkPeer(&m_lostMessage))
        return Outcome::Lost;
    if (connection.silentMs() > kSilentMs) {
        QMutexLocker locker(&m_lock);
        m_dropReason = QStringLiteral("dropped by the sender: nothing came from the receiver for %1 s")
                           .arg(kSilentMs / 1000);
        return Outcome::Dropped;
    }
    return std::nullopt;
}

} // namespace h264link
