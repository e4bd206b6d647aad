// MediaPipeline: everything after the network for one stream, on a thread of
// its own (every call in it blocks):
//
//   ByteQueue --> Demuxer --(StreamRecorder, --record)--> Decoder --+--> FrameMd5Writer   (--framemd5, shared with the AudioPipeline)
//                                       +--> DisplaySink --> FrameSlot --> window (VideoView converts)
//                                            (waits until the frame is due on the AudioClock, if sound plays)
//
// How it ends: exactly once, finished(PipelineResult), whatever happened
// (the queue finished and drained, a failure, or stop()). That result is the
// only word on the pipeline's end; the controller hands it to the connection,
// which turns it into RECEIVED or ERROR for the sender.
#pragma once

#include "sinks.h"
#include "stream_input.h"
#include "stream_stats.h"

#include <QObject>
#include <QString>
#include <atomic>
#include <memory>

class QThread;

namespace h264link {

class AudioClock;
class FrameMd5Writer;
class FrameSlot;
class StreamRecorder;

struct PipelineResult {
    // ok: everything queued was read and decoded (or the sender dropped and
    // what arrived was). Otherwise `error` says why, in a sentence for the
    // person; `stopped` marks a stop() (the receiver is closing), not a failure.
    bool ok = true;
    bool stopped = false;
    QString error;
    quint64 packets = 0;       // access units demuxed
    quint64 frames = 0;        // pictures decoded and shown (or to be)
    quint64 decodeOnlyFrames = 0; // DECODE_ONLY units decoded, never shown (not in `frames`)
    quint64 skippedByDecoder = 0; // non-reference pictures skipped to keep up (not in `frames`)
    // What RECEIVED reports: every unit the decoder took, whether its
    // picture is shown, decode-only, or skipped by it on purpose.
    quint64 framesDecoded() const { return frames + decodeOnlyFrames; } // what RECEIVED reports
    quint64 decodeErrors = 0;
    quint64 concealedFrames = 0;
    quint64 displayErrors = 0; // frames that could not be passed to the display
    // The sound's, filled in by the controller once the audio pipeline is done too.
    quint64 audioFrames = 0;
    quint64 audioDecodeErrors = 0;
    quint64 audioUnderruns = 0;
};

class MediaPipeline : public QObject {
    Q_OBJECT
public:
    static constexpr int kNice = 5; // the pipeline thread's nice value, above the process's
    // `display` may be null (headless); `md5` may be null (no --framemd5)
    // and is shared with the AudioPipeline; `clock` may be null (never any
    // sound): then frames go to the display at once.
    MediaPipeline(std::shared_ptr<StreamInput> input, std::shared_ptr<StreamStats> stats,
                  std::shared_ptr<FrameMd5Writer> md5, FrameSlot *display, AudioClock *clock = nullptr,
                  QObject *parent = nullptr);
    ~MediaPipeline() override; // stops and joins

    void setRecorder(std::shared_ptr<StreamRecorder> recorder) { m_recorder = std::move(recorder); } // before start()
    void start();
    void stop(); // any thread: cancels the read; finished() follows with `stopped`

    const PipelineCounters &counters() const { return m_counters; }

signals:
    void finished(const h264link::PipelineResult &result); // once, from the pipeline thread

private:
    PipelineResult run();

    std::shared_ptr<StreamInput> m_input;
    std::atomic<bool> m_stopped{false};
    std::shared_ptr<StreamStats> m_stats;
    std::shared_ptr<FrameMd5Writer> m_md5;
    std::shared_ptr<StreamRecorder> m_recorder; // --record, shared with the AudioPipeline
    FrameSlot *m_display;
    AudioClock *m_clock;
    QThread *m_thread = nullptr;
    PipelineCounters m_counters;
};

} // namespace h264link

Q_DECLARE_METATYPE(h264link::PipelineResult)
