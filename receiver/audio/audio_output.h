// AudioOutput: plays PCM through Qt Multimedia's QAudioSink (PulseAudio on
// Linux), push mode, on a thread of its own with an event loop (the sink's
// notifications need one), and keeps the AudioClock.
//
//   audio pipeline --push() (PCM + pts)--> chunk queue --10 ms tick--> QAudioSink --> device
//
// Bound and policy of the chunk queue: kQueueMs of sound, BLOCK. push()
// waits while it is full, so the audio pipeline runs at the device's pace
// and the compressed AudioInput queue behind it takes the slack (and, when
// that fills, TCP). The sink's own buffer is kept small (kSinkBufferMs)
// against underruns without adding much latency; each underrun is counted.
//
// Drift: bufferedUs() tells the pipeline how much sound waits; it nudges its
// resampler (swr_set_compensation) to hold that near the target.
#pragma once

#include "audio_clock.h"

#include <QAudioDevice>
#include <QAudioFormat>
#include <QMutex>
#include <QObject>
#include <QThread>
#include <QWaitCondition>
#include <atomic>
#include <deque>

class QAudioSink;
class QIODevice;
class QTimer;

namespace h264link {

class AudioOutput : public QObject {
    Q_OBJECT
public:
    static constexpr int kSinkBufferMs = 50;
    static constexpr int kSinkSettleMs = 200; // after its stop, before the sink is deleted (see ~AudioOutput)
    static constexpr int kQueueMs = 60;
    static constexpr int kTickMs = 10;
    static constexpr int kStallMs = 2000;

    // The device by description or id; empty: the default output. Returns
    // a null device if there is none (or no such name), listing in *known
    // the names there are.
    static QAudioDevice findDevice(const QString &name, QStringList *known);

    AudioOutput(const QAudioDevice &device, AudioClock *clock);
    ~AudioOutput() override; // stops and joins

    // The format the sink plays: the stream's rate and channels if the
    // device takes them, else its preferred format; always 16-bit.
    static QAudioFormat formatFor(const QAudioDevice &device, int sampleRate, int channels);
    // Opens the sink on its thread. False with *error set if it cannot.
    bool start(const QAudioFormat &format, QString *error);
    // Pipeline thread. Blocks while the queue is full (at most kStallMs);
    // false once stopped or the device is lost.
    bool push(QByteArray pcm, qint64 firstSamplePtsUs, bool discontinuity);
    void drain(); // end of stream: returns once the queue and the sink are played (bounded)
    void stop();  // any thread

    void setMuted(bool muted); // any thread
    bool isMuted() const { return m_muted.load(); }
    // The device went away (a failed write, a sink stopped on an error, a
    // stall): the output stopped, the clock too; said once on the log.
    bool isLost() const { return m_lost.load(); }
    qint64 bufferedUs() const { return m_bufferedUs.load(); } // queue + sink
    qint64 sinkLatencyUs() const { return m_sinkLatencyUs.load(); }
    quint64 underruns() const { return m_underruns.load(); }
    double levelDb() const { return m_levelDb.load(); } // peak of the last tick, dBFS (-100: silence)

private:
    struct Chunk {
        QByteArray pcm;
        qint64 ptsUs;
        qsizetype written = 0;
    };
    void open(const QAudioFormat &format, QString *error); // output thread
    void tick();                                           // output thread
    void lose(const QString &why);                         // with m_mutex held
    qint64 bytesToUs(qint64 bytes) const;

    QAudioDevice m_device;
    AudioClock *m_clock;
    QThread m_thread;
    QAudioSink *m_sink = nullptr; // output thread
    QIODevice *m_io = nullptr;
    QTimer *m_timer = nullptr;
    QAudioFormat m_format;

    mutable QMutex m_mutex;
    QWaitCondition m_room;
    std::deque<Chunk> m_queue;
    qint64 m_queuedBytes = 0;
    qint64 m_capacityBytes = 0;
    bool m_stopped = false;
    qint64 m_writtenEndPtsUs = 0; // pts just after the last byte given to the sink
    bool m_started = false; // the sink has had sound: idle from now on is an underrun

    std::atomic<bool> m_muted{false};
    std::atomic<bool> m_lost{false};
    std::atomic<qint64> m_bufferedUs{0};
    int m_fillProbe = 0;
    std::atomic<qint64> m_sinkLatencyUs{0};
    std::atomic<quint64> m_underruns{0};
    std::atomic<double> m_levelDb{-100};
};

} // namespace h264link
