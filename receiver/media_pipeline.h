// MediaPipeline: everything after the network for one stream, on a thread of
// its own (every call in it blocks):
//
//   BytePipe --> Demuxer --> Decoder --+--> FrameMd5Writer   (--framemd5)
//                                      +--> DisplaySink --> FrameSlot --> window (VideoView converts)
#pragma once

#include "byte_pipe.h"
#include "sinks.h"
#include "stream_stats.h"

#include <QObject>
#include <QString>
#include <atomic>
#include <memory>

class QThread;

namespace h264link {

class FrameSlot;

struct PipelineResult {
    bool ok = true;  // false: the pipeline itself failed (not a sender drop)
    QString error;
    quint64 packets = 0;       // access units demuxed
    quint64 frames = 0;        // pictures decoded
    quint64 decodeErrors = 0;
    quint64 concealedFrames = 0;
    quint64 displayErrors = 0; // frames that could not be passed to the display
};

class MediaPipeline : public QObject {
    Q_OBJECT
public:
    // `display` may be null (headless); `md5Path` may be empty.
    MediaPipeline(std::shared_ptr<BytePipe> pipe, std::shared_ptr<StreamStats> stats, QString md5Path,
                  FrameSlot *display, QObject *parent = nullptr);
    ~MediaPipeline() override; // stops and joins

    void start();
    void stop(); // any thread

    const PipelineCounters &counters() const { return m_counters; }

signals:
    void finished(const h264link::PipelineResult &result); // from the pipeline thread

private:
    PipelineResult run();

    std::shared_ptr<BytePipe> m_pipe;
    std::shared_ptr<StreamStats> m_stats;
    QString m_md5Path;
    FrameSlot *m_display;
    QThread *m_thread = nullptr;
    PipelineCounters m_counters;
};

} // namespace h264link

Q_DECLARE_METATYPE(h264link::PipelineResult)
