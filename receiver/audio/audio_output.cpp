#include "audio_output.h"

#include "io_trace.h"
#include "logging.h"
#include "protocol.h"

#include <QAudioSink>
#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QMediaDevices>
#include <QTimer>
#include <cmath>

namespace h264link {

QAudioDevice AudioOutput::findDevice(const QString &name, QStringList *known)
{
    const QList<QAudioDevice> outputs = QMediaDevices::audioOutputs();
    if (name.isEmpty())
        return QMediaDevices::defaultAudioOutput();
    for (const QAudioDevice &d : outputs) {
        if (d.description() == name || QString::fromUtf8(d.id()) == name)
            return d;
        if (known)
            known->append(d.description());
    }
    return {};
}

QAudioFormat AudioOutput::formatFor(const QAudioDevice &device, int sampleRate, int channels)
{
    QAudioFormat format;
    format.setSampleRate(sampleRate);
    format.setChannelCount(channels);
    format.setSampleFormat(QAudioFormat::Int16);
    if (!device.isFormatSupported(format)) {
        format = device.preferredFormat();
        format.setSampleFormat(QAudioFormat::Int16);
    }
    return format;
}

AudioOutput::AudioOutput(const QAudioDevice &device, AudioClock *clock) : m_device(device), m_clock(clock)
{
    m_thread.setObjectName(QStringLiteral("audio output"));
    m_fillProbe = trace::Tracer::instance().addFillProbe([this] {
        return trace::Fill{QStringLiteral("audio buffer"), m_bufferedUs.load() / 1000, kQueueMs + kSinkBufferMs,
                           QStringLiteral("ms")};
    });
}

AudioOutput::~AudioOutput()
{
    trace::Tracer::instance().removeFillProbe(m_fillProbe);
    stop();
    if (m_thread.isRunning()) {
        QMetaObject::invokeMethod(this, [this] {
            if (m_sink) {
                m_sink->stop();
                // Qt 6.4's PulseAudio sink still takes the server's replies to
                // the stop on PulseAudio's own thread, into itself: deleted at
                // once, it was used after its end (a crash, 1 in about 5 runs
                // of tst_receiver_audio). Those replies come within a round
                // trip to the local server; this waits well past it.
                QDeadlineTimer settle(kSinkSettleMs);
                while (!settle.hasExpired()) {
                    QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
                    QThread::msleep(10);
                }
            }
            delete m_sink; // on the thread that made it
            m_sink = nullptr;
            delete m_timer;
            m_timer = nullptr;
        }, Qt::BlockingQueuedConnection);
        m_thread.quit();
        m_thread.wait();
    }
}

bool AudioOutput::start(const QAudioFormat &format, QString *error)
{
    m_format = format;
    m_capacityBytes = format.bytesForDuration(kQueueMs * 1000);
    moveToThread(&m_thread);
    m_thread.start();
    QMetaObject::invokeMethod(this, [this, format, error] { open(format, error); },
                              Qt::BlockingQueuedConnection);
    return error->isEmpty();
}

void AudioOutput::open(const QAudioFormat &format, QString *error)
{
    m_sink = new QAudioSink(m_device, format);
    m_sink->setBufferSize(format.bytesForDuration(kSinkBufferMs * 1000));
    connect(m_sink, &QAudioSink::stateChanged, this, [this](QAudio::State state) {
        // Idle with sound written before: the device ran dry.
        if (state == QAudio::IdleState && m_started && m_sink->error() == QAudio::UnderrunError)
            ++m_underruns;
    });
    m_io = m_sink->start();
    if (!m_io || m_sink->error() != QAudio::NoError) {
        *error = QStringLiteral("cannot play on '%1' (Qt audio error %2)")
                     .arg(m_device.description()).arg(int(m_sink->error()));
        return;
    }
    m_timer = new QTimer(this);
    m_timer->setTimerType(Qt::PreciseTimer);
    connect(m_timer, &QTimer::timeout, this, &AudioOutput::tick);
    m_timer->start(kTickMs);
}

qint64 AudioOutput::bytesToUs(qint64 bytes) const
{
    return m_format.durationForBytes(qint32(bytes));
}

bool AudioOutput::push(QByteArray pcm, qint64 firstSamplePtsUs, bool discontinuity)
{
    Q_UNUSED(discontinuity);
    QMutexLocker lock(&m_mutex);
    // Bounded: a device that takes nothing for kStallMs is as good as gone.
    const QDeadlineTimer deadline(kStallMs);
    while (!m_stopped && m_queuedBytes > 0 && m_queuedBytes + pcm.size() > m_capacityBytes) {
        if (!m_room.wait(&m_mutex, deadline)) {
            lose(QStringLiteral("it took no sound for %1 ms").arg(kStallMs));
            break;
        }
    }
    if (m_stopped)
        return false;
    m_queuedBytes += pcm.size();
    m_queue.push_back(Chunk{std::move(pcm), firstSamplePtsUs});
    return true;
}

void AudioOutput::drain()
{
    QMutexLocker lock(&m_mutex);
    const QDeadlineTimer deadline(2000 + kQueueMs + kSinkBufferMs);
    // The queue, then what the sink still holds: the last frames are heard too.
    while (!m_stopped && (m_queuedBytes > 0 || m_bufferedUs.load() > 0) && !deadline.hasExpired())
        m_room.wait(&m_mutex, deadline);
}

// Caller holds m_mutex. The sink is not touched here: tick() (its thread)
// sees m_lost and stops writing; push() and drain() return at once.
void AudioOutput::lose(const QString &why)
{
    if (m_lost.exchange(true))
        return;
    m_stopped = true;
    m_queue.clear();
    m_queuedBytes = 0;
    m_bufferedUs.store(0);
    m_room.wakeAll();
    m_clock->stop(); // frames show at once from now on
    qCWarning(lcReceiver).noquote() << "audio device lost:" << why << "- playing without sound";
}

void AudioOutput::stop()
{
    QMutexLocker lock(&m_mutex);
    m_stopped = true;
    m_room.wakeAll();
}

void AudioOutput::setMuted(bool muted)
{
    m_muted.store(muted);
    QMetaObject::invokeMethod(this, [this, muted] {
        if (m_sink)
            m_sink->setVolume(muted ? 0.0 : 1.0);
    });
}

// Tops the sink up to its buffer, keeps the clock, measures the level.
void AudioOutput::tick()
{
    if (!m_sink || !m_io || m_lost.load())
        return;
    if (m_sink->state() == QAudio::StoppedState && m_sink->error() != QAudio::NoError) {
        QMutexLocker lock(&m_mutex);
        lose(QStringLiteral("Qt audio error %1").arg(int(m_sink->error())));
        return;
    }
    qint64 free = m_sink->bytesFree();
    const int frameBytes = m_format.bytesPerFrame();
    int peak = -1; // nothing written this tick: the meter keeps its last reading
    {
        QMutexLocker lock(&m_mutex);
        while (free >= frameBytes && !m_queue.empty()) {
            Chunk &c = m_queue.front();
            const qint64 left = c.pcm.size() - c.written;
            const qint64 n = std::min(left, free - free % frameBytes);
            const qint64 wrote = m_io->write(c.pcm.constData() + c.written, n);
            if (wrote <= 0) {
                lose(QStringLiteral("writing to '%1' failed").arg(m_device.description()));
                return;
            }
            const auto *samples = reinterpret_cast<const qint16 *>(c.pcm.constData() + c.written);
            peak = std::max(peak, 0);
            for (qint64 i = 0; i < wrote / 2; ++i)
                peak = std::max(peak, std::abs(int(samples[i])));
            m_started = true;
            c.written += wrote;
            free -= wrote;
            m_writtenEndPtsUs = c.ptsUs + bytesToUs(c.written);
            m_queuedBytes -= wrote;
            if (c.written >= c.pcm.size())
                m_queue.pop_front();
        }
        m_room.wakeAll();
        const qint64 inSink = std::max<qint64>(0, m_sink->bufferSize() - m_sink->bytesFree());
        m_sinkLatencyUs.store(bytesToUs(inSink));
        m_bufferedUs.store(bytesToUs(inSink + m_queuedBytes));
        // Run dry (an underrun, or the sound ended before the picture): the
        // position holds still, and re-anchoring the clock to it would stop
        // it, so that every frame waited its full limit. Not set: the clock
        // free-runs from its last anchor until sound comes again.
        const bool dry = inSink == 0 && m_queuedBytes == 0;
        if (m_started && !dry && m_writtenEndPtsUs != proto::kNoPts)
            m_clock->set(m_writtenEndPtsUs - bytesToUs(inSink), proto::nowMicros());
    }
    if (peak >= 0)
        m_levelDb.store(peak > 0 ? 20.0 * std::log10(peak / 32768.0) : -100.0);
}

} // namespace h264link
