#include "net/broadcaster.h"

#include <QMutexLocker>
#include <algorithm>

namespace h264link {

Broadcaster::Broadcaster(const SenderOptions &options) : m_options(options), m_collector(nullptr)
{
    m_clock.start();
    m_loop.start();
    m_collector.open(QIODevice::WriteOnly);
    m_collector.setCapture([this](CapturedUnit &&unit) { publish(std::move(unit)); });
}

Broadcaster::~Broadcaster()
{
    stop();
    waitAll();
}

Subscriber *Broadcaster::addSubscriber(const SenderOptions &options, qintptr adopted)
{
    m_subscribers.push_back(std::make_unique<Subscriber>(*this, options, adopted, int(m_subscribers.size()) + 1));
    Subscriber *subscriber = m_subscribers.back().get();
    subscriber->start();
    noteChange();
    return subscriber;
}

void Broadcaster::publish(CapturedUnit &&captured)
{
    auto shared = std::make_shared<SharedUnit>();
    shared->unit = std::move(captured);
    shared->publishedMs = nowMs();
    const UnitPtr unit = std::move(shared);
    std::vector<Subscriber *> to;
    {
        QMutexLocker locker(&m_lock);
        if (unit->isVideo() && unit->unit.keyframe) {
            m_gop.clear();
            m_gopBytes = 0;
            m_parameterSets = m_collector.parameterSets();
        }
        // Before the first keyframe, or past the bound: nothing to join on.
        if ((!m_gop.empty() || (unit->isVideo() && unit->unit.keyframe)) && m_gopBytes + unit->size() <= kGopCacheBytes) {
            m_gop.push_back(unit);
            m_gopBytes += unit->size();
        } else if (!m_gop.empty()) {
            m_gop.clear();
            m_gopBytes = 0;
        }
        to = m_streaming;
    }
    for (Subscriber *subscriber : to)
        subscriber->push(unit);
    if (!to.empty())
        m_loop.wake(); // once for all of them
}

bool Broadcaster::join(Subscriber *subscriber, const QString &name, std::deque<UnitPtr> *gop, QByteArray *sets,
                       proto::StreamInfo *info, QString *listedAs, QString *refusal)
{
    QMutexLocker locker(&m_lock);
    if (int(m_streaming.size()) >= m_options.maxReceivers) {
        *refusal = QStringLiteral("the sender is full: it serves %1 receivers already (--max-receivers %1)")
                       .arg(m_options.maxReceivers);
        return false;
    }
    *listedAs = name;
    for (int n = 2; std::find(m_listedNames.begin(), m_listedNames.end(), *listedAs) != m_listedNames.end(); ++n)
        *listedAs = QStringLiteral("%1 (%2)").arg(name).arg(n);
    m_streaming.push_back(subscriber);
    m_listedNames.push_back(*listedAs);
    *gop = m_gop;
    *sets = m_parameterSets;
    *info = m_info;
    return true;
}

void Broadcaster::leave(Subscriber *subscriber)
{
    QMutexLocker locker(&m_lock);
    const auto at = std::find(m_streaming.begin(), m_streaming.end(), subscriber);
    if (at == m_streaming.end())
        return;
    m_listedNames.erase(m_listedNames.begin() + (at - m_streaming.begin()));
    m_streaming.erase(at);
    noteChange();
}

QByteArray Broadcaster::parameterSets() const
{
    QMutexLocker locker(&m_lock);
    return m_parameterSets;
}

int Broadcaster::streaming() const
{
    QMutexLocker locker(&m_lock);
    return int(m_streaming.size());
}

qint64 Broadcaster::slowestQueueBytes() const
{
    qint64 most = 0;
    for (const auto &subscriber : m_subscribers)
        if (subscriber->isStreaming())
            most = qMax(most, subscriber->queuedBytes());
    return most;
}

bool Broadcaster::allSettled() const
{
    for (const auto &subscriber : m_subscribers)
        if (!subscriber->settled())
            return false;
    return true;
}

QList<Subscriber::Stats> Broadcaster::stats() const
{
    QList<Subscriber::Stats> all;
    for (const auto &subscriber : m_subscribers)
        all << subscriber->stats();
    return all;
}

void Broadcaster::endOfStream()
{
    for (const auto &subscriber : m_subscribers)
        subscriber->endOfStream();
}

void Broadcaster::stop()
{
    for (const auto &subscriber : m_subscribers)
        subscriber->stop();
}

void Broadcaster::waitAll()
{
    for (const auto &subscriber : m_subscribers)
        subscriber->wait();
}

} // namespace h264link
