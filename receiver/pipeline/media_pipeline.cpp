#include "media_pipeline.h"

#include "audio_clock.h"
#include "decoder.h"
#include "demuxer.h"
#include "frame_md5_writer.h"
#include "frame_slot.h"
#include "stream_recorder.h"
#include "logging.h"
#include "protocol.h"

#include <QThread>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/resource.h>
#include <unistd.h>

namespace h264link {
namespace {

// Leaves a new reference to each decoded frame in the display's slot. No
// copy and no conversion here: the display converts only what it shows.
//
// A/V sync: while sound plays, a frame waits here until its pts is due on
// the AudioClock (at once if late, at most AudioClock::kMaxWaitUs). The
// hand-off between decoder and display stays the one-frame slot (drop the
// oldest); the wait holds the decoder instead, and behind it the byte
// queue (block, then TCP backpressure), so nothing grows. Without sound the
// clock never runs and the frame goes on at once, as before.
class DisplaySink : public FrameSink {
public:
    DisplaySink(FrameSlot *slot, AudioClock *clock, PipelineCounters &counters)
        : m_slot(slot), m_clock(clock), m_counters(counters) {}
    bool push(const AVFrame *frame) override
    {
        if (m_clock && frame->pts != AV_NOPTS_VALUE) {
            const qint64 before = proto::nowMicros();
            m_clock->waitUntil(frame->pts);
            m_counters.syncWaitUs += proto::nowMicros() - before;
            if (const auto heard = m_clock->now(proto::nowMicros()))
                m_counters.avOffsetUs.store(frame->pts - *heard);
        }
        FramePtr ref = makeFrame();
        const int ret = ref ? av_frame_ref(ref.get(), frame) : AVERROR(ENOMEM);
        if (ret < 0) {
            if (m_errors++ == 0)
                qCWarning(lcReceiver).noquote() << "cannot pass a frame to the display:" << averrorText(ret);
            return true; // keep decoding: --framemd5 and the stats still count
        }
        m_slot->put(std::move(ref));
        return true;
    }
    quint64 errors() const { return m_errors; }

private:
    FrameSlot *m_slot;
    AudioClock *m_clock;
    PipelineCounters &m_counters;
    quint64 m_errors = 0;
};

} // namespace

MediaPipeline::MediaPipeline(std::shared_ptr<StreamInput> input, std::shared_ptr<StreamStats> stats,
                             std::shared_ptr<FrameMd5Writer> md5, FrameSlot *display, AudioClock *clock,
                             QObject *parent)
    : QObject(parent), m_input(std::move(input)), m_stats(std::move(stats)), m_md5(std::move(md5)),
      m_display(display), m_clock(clock)
{
    qRegisterMetaType<PipelineResult>();
}

MediaPipeline::~MediaPipeline()
{
    stop();
    if (m_thread)
        m_thread->wait();
}

void MediaPipeline::start()
{
    m_thread = QThread::create([this] { emit finished(run()); });
    m_thread->setObjectName(QStringLiteral("media pipeline"));
    m_thread->setParent(this);
    m_thread->start();
}

void MediaPipeline::stop()
{
    // Wakes a blocked read_packet at once (AVERROR_EXIT).
    m_stopped.store(true);
    m_input->bytes.cancel();
    if (m_clock)
        m_clock->cancel(); // a frame waiting to be due goes now
}

PipelineResult MediaPipeline::run()
{
    PipelineResult result;
    auto fail = [&](const QString &error) {
        result.ok = false;
        result.stopped = m_stopped.load(); // then whatever failed failed because of it
        result.error = result.stopped ? QStringLiteral("the receiver was closed") : error;
        // Nothing more will be read: a producer's push now fails rather
        // than fill a queue nobody drains.
        m_input->bytes.cancel();
        return result;
    };

    // Below the network and GUI threads, so that PING/PONG and the window
    // are served first when decoding takes every core. On Linux a nice
    // value is per thread, and the decoder's own threads, started from
    // this one, inherit it.
    const id_t self = id_t(gettid());
    errno = 0;
    const int nice = getpriority(PRIO_PROCESS, self); // -1 is a valid answer: errno tells
    if (errno != 0 || setpriority(PRIO_PROCESS, self, std::min(nice + kNice, 19)) != 0)
        qCDebug(lcReceiver) << "cannot lower the pipeline thread's priority:" << strerror(errno);

    QString error;
    if (m_md5 && !m_md5->error().isEmpty())
        return fail(m_md5->error());
    auto demuxer = Demuxer::open(*m_input, m_counters, &error);
    if (!demuxer)
        return fail(error);
    auto decoder = Decoder::open(demuxer->codecpar(), m_counters, m_stats.get(), &error);
    if (!decoder)
        return fail(error);

    decoder->setInput(m_input.get());
    if (m_md5)
        decoder->addSink(m_md5->videoSink());
    std::unique_ptr<DisplaySink> display;
    if (m_display) {
        display = std::make_unique<DisplaySink>(m_display, m_clock, m_counters);
        decoder->addSink(display.get());
    }

    StreamRecorder::Tee tee(m_recorder.get(), true, *decoder);
    const int ret = demuxer->run(tee);
    result.packets = m_counters.packets;
    result.frames = m_counters.frames;
    result.decodeOnlyFrames = m_counters.decodeOnly;
    result.skippedByDecoder = m_counters.skippedByDecoder;
    result.decodeErrors = m_counters.decodeErrors;
    result.concealedFrames = m_counters.concealedFrames;
    result.displayErrors = display ? display->errors() : 0;
    // A sink that failed stopped the pipeline, or failed while the decoder
    // drained its last frames at the end (Decoder::flush has no way to stop).
    if (m_md5) {
        m_md5->endStream(0);
        if (!m_md5->error().isEmpty())
            return fail(m_md5->error());
    }
    if (m_stopped.load())
        return fail(QString());
    if (ret < 0)
        return fail("reading the stream failed: " + (demuxer->readError().isEmpty() ? averrorText(ret)
                                                                                    : demuxer->readError()));
    // Frames arrived but not one decoded: the stream was unusable, a failure
    // even with END_OF_STREAM (and the sender is told so).
    // (A stream whose every unit is decode-only has nothing to show by design.)
    if (result.packets > result.decodeOnlyFrames && result.frames == 0)
        return fail(QStringLiteral("nothing could be decoded: the stream has no SPS/PPS before its "
                                   "first keyframe, or is not H.264"));
    return result;
}

} // namespace h264link
