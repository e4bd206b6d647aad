// AudioPipeline: everything after the network for the sound of one stream,
// on a thread of its own (every call in it blocks):
//
//   AudioInput --> AudioDemuxer --> AudioDecoder --+--> PcmWriter                    (--pcm)
//                                                  +--> FrameMd5Writer, stream 1     (--framemd5)
//                                                  +--> AudioResampler --> AudioOutput (device; keeps the AudioClock)
//
// Started by the controller when STREAM_INFO announces sound (and not
// --no-audio). Its failure never stops the picture: finished() says why, the
// controller warns once, and the connection drops the rest of the sound
// (counted). Ends once, finished(AudioResult).
#pragma once

#include "audio_clock.h"
#include "audio_demuxer.h"
#include "audio_input.h"

#include <QAudioDevice>
#include <QObject>
#include <atomic>
#include <memory>

class QThread;

namespace h264link {

class AudioOutput;
class FrameMd5Writer;
class StreamRecorder;

struct AudioResult {
    bool ok = true;
    QString error;
    bool outputFailed = false; // --pcm could not be written: the stream fails (as --framemd5 does)
    quint64 packets = 0;
    quint64 frames = 0;
    quint64 decodeErrors = 0;
    quint64 underruns = 0;
    quint64 untimedPackets = 0; // lost their pts: more marks queued than AudioPacketIndex keeps
};

struct AudioSettings {
    quint32 codec = 0;        // proto::kCodecAacAdts or kCodecMp3
    int sampleRate = 0;       // from STREAM_INFO, for the device's format
    int channels = 0;
    QString pcmPath;          // --pcm, may be empty
    std::shared_ptr<FrameMd5Writer> md5; // --framemd5 (stream 1), may be null
    std::shared_ptr<StreamRecorder> recorder; // --record, may be null
    bool play = true;         // false: no device (or none wanted): decode for --pcm only
    QAudioDevice device;
};

class AudioPipeline : public QObject {
    Q_OBJECT
public:
    AudioPipeline(std::shared_ptr<AudioInput> input, AudioSettings settings, AudioClock *clock,
                  QObject *parent = nullptr);
    ~AudioPipeline() override; // stops and joins

    void start();
    void stop(); // any thread

    const AudioCounters &counters() const { return m_counters; }
    // Live figures of the device side, for --stats and the window (0 without a device).
    quint64 underruns() const;
    double latencyMs() const;
    double levelDb() const;
    void setMuted(bool muted);
    bool isMuted() const;

signals:
    void finished(const h264link::AudioResult &result); // once, from the pipeline thread

private:
    AudioResult run();

    std::shared_ptr<AudioInput> m_input;
    AudioSettings m_settings;
    AudioClock *m_clock;
    std::atomic<bool> m_stopped{false};
    std::atomic<bool> m_muted{false};
    AudioCounters m_counters;
    std::unique_ptr<AudioOutput> m_output; // made and set by the pipeline thread
    std::atomic<AudioOutput *> m_live{nullptr}; // m_output, once it plays: what other threads read
    QThread *m_thread = nullptr;
};

} // namespace h264link

Q_DECLARE_METATYPE(h264link::AudioResult)
