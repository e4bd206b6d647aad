#include "audio_pipeline.h"

#include "audio_decoder.h"
#include "audio_output.h"
#include "audio_resampler.h"
#include "frame_md5_writer.h"
#include "logging.h"
#include "pcm_writer.h"
#include "stream_recorder.h"
#include "protocol.h"

#include <QThread>

namespace h264link {
namespace {

// Converts each frame to the device's format and queues it for the sink,
// with the pts of its first sample. Drift: the sender's clock and the sound
// card's differ by some ppm, so the sound waiting for the device creeps up
// or down; once it strays more than kDriftToleranceUs from its level at the
// start, the resampler stretches or shrinks the next second by a few
// hundred ppm, which nobody hears, until it is back.
class DeviceSink : public FrameSink {
public:
    static constexpr qint64 kDriftToleranceUs = 20000;

    DeviceSink(AudioOutput &output, const QAudioFormat &format)
        : m_output(output),
          m_format(format),
          m_resampler(AV_SAMPLE_FMT_S16, format.sampleRate(), format.channelCount())
    {
    }
    bool push(const AVFrame *frame) override
    {
        // Device lost: keep decoding for --pcm, --framemd5 and the counts.
        if (m_output.isLost())
            return true;
        QByteArray pcm;
        QString error;
        if (!m_resampler.convert(frame, &pcm, &error)) {
            if (m_errors++ == 0)
                qCWarning(lcReceiver).noquote() << "audio:" << error;
            return true;
        }
        const qint64 durationUs = qint64(frame->nb_samples) * 1000000 / std::max(1, frame->sample_rate);
        const qint64 pts = frame->pts != AV_NOPTS_VALUE ? frame->pts : m_nextPtsUs;
        if (!fillGap(pts))
            return m_output.isLost();
        m_nextPtsUs = pts + durationUs;
        correctDrift();
        return m_output.push(std::move(pcm), pts, false) || m_output.isLost();
    }

private:
    // Sound that resumes later than the last frame ended (audio the sender
    // could not send, a damaged packet before the first good one): silence
    // holds its place, so that the device's position, and the clock the
    // picture follows, keep the sender's timeline. A longer hole is a new
    // start: the clock simply follows the new sound.
    bool fillGap(qint64 pts)
    {
        const qint64 gapUs = m_frames ? pts - m_nextPtsUs : 0;
        if (gapUs < kMinGapUs || gapUs > kMaxGapUs)
            return true;
        const qsizetype bytes = m_format.bytesForDuration(gapUs) / m_format.bytesPerFrame() * m_format.bytesPerFrame();
        return m_output.push(QByteArray(bytes, '\0'), m_nextPtsUs, true);
    }

    void correctDrift()
    {
        const qint64 buffered = m_output.bufferedUs();
        if (++m_frames == 50) // settled: the level to hold
            m_targetUs = buffered;
        if (m_targetUs < 0 || m_frames % 50)
            return;
        const int rate = m_resampler.outRate();
        const int distance = rate; // one second of output
        const int delta = rate / 2000; // 500 ppm
        if (buffered > m_targetUs + kDriftToleranceUs)
            m_resampler.compensate(-delta, distance);
        else if (buffered < m_targetUs - kDriftToleranceUs)
            m_resampler.compensate(delta, distance);
        else
            m_resampler.compensate(0, distance);
    }

    static constexpr qint64 kMinGapUs = 2000;    // below: timestamp rounding
    static constexpr qint64 kMaxGapUs = 1000000;

    AudioOutput &m_output;
    QAudioFormat m_format;
    AudioResampler m_resampler;
    qint64 m_nextPtsUs = 0;
    qint64 m_targetUs = -1;
    quint64 m_frames = 0;
    quint64 m_errors = 0;
};

} // namespace

AudioPipeline::AudioPipeline(std::shared_ptr<AudioInput> input, AudioSettings settings, AudioClock *clock,
                             QObject *parent)
    : QObject(parent), m_input(std::move(input)), m_settings(std::move(settings)), m_clock(clock)
{
    qRegisterMetaType<AudioResult>();
}

AudioPipeline::~AudioPipeline()
{
    stop();
    if (m_thread)
        m_thread->wait();
    m_output.reset();
}

void AudioPipeline::start()
{
    m_thread = QThread::create([this] { emit finished(run()); });
    m_thread->setObjectName(QStringLiteral("audio pipeline"));
    m_thread->setParent(this);
    m_thread->start();
}

void AudioPipeline::stop()
{
    m_stopped.store(true);
    m_input->bytes.cancel();
    if (AudioOutput *output = m_live.load())
        output->stop();
}

quint64 AudioPipeline::underruns() const { return m_live.load() ? m_live.load()->underruns() : 0; }
double AudioPipeline::latencyMs() const { return m_live.load() ? m_live.load()->bufferedUs() / 1000.0 : -1; }
double AudioPipeline::levelDb() const { return m_live.load() ? m_live.load()->levelDb() : -100; }
bool AudioPipeline::isMuted() const { return m_muted.load(); }
void AudioPipeline::setMuted(bool muted)
{
    m_muted.store(muted);
    if (AudioOutput *output = m_live.load())
        output->setMuted(muted);
}

AudioResult AudioPipeline::run()
{
    AudioResult result;
    auto finish = [&](const QString &error) {
        result.packets = m_counters.packets;
        result.frames = m_counters.frames;
        result.decodeErrors = m_counters.decodeErrors;
        result.underruns = underruns();
        result.untimedPackets = m_input->packets.dropped();
        if (m_settings.md5) {
            m_settings.md5->endStream(1);
            if (error.isEmpty() && !m_settings.md5->error().isEmpty())
                result.error = m_settings.md5->error(); // the video pipeline fails on it too
        }
        if (!error.isEmpty() && !m_stopped.load()) {
            result.ok = false;
            result.error = error;
        }
        // Nothing more is read: the connection's pushes now fail and are counted.
        m_input->bytes.cancel();
        if (m_output)
            m_output->stop();
        m_clock->stop(); // frames show at once from now on
        return result;
    };

    QString error;
    auto demuxer = AudioDemuxer::open(*m_input, m_settings.codec, m_counters, &error);
    if (!demuxer)
        return finish(error);
    auto decoder = AudioDecoder::open(demuxer->codecpar(), m_counters, &error);
    if (!decoder)
        return finish(error);
    std::unique_ptr<PcmWriter> pcm;
    if (!m_settings.pcmPath.isEmpty()) {
        pcm = std::make_unique<PcmWriter>(m_settings.pcmPath);
        decoder->addSink(pcm.get());
    }
    if (m_settings.md5)
        decoder->addSink(m_settings.md5->audioSink());
    std::unique_ptr<DeviceSink> device;
    if (m_settings.play && !m_stopped.load()) {
        const QAudioFormat format = AudioOutput::formatFor(m_settings.device, m_settings.sampleRate,
                                                           m_settings.channels);
        auto output = std::make_unique<AudioOutput>(m_settings.device, m_clock);
        if (output->start(format, &error)) {
            m_output = std::move(output);
            m_live.store(m_output.get());
            m_output->setMuted(m_muted.load());
            if (m_stopped.load()) // stop() came before m_live was set
                m_output->stop();
            device = std::make_unique<DeviceSink>(*m_output, format);
            decoder->addSink(device.get());
        } else {
            qCWarning(lcReceiver).noquote() << "audio:" << error << "- playing without sound";
            error.clear();
        }
    }

    StreamRecorder::Tee tee(m_settings.recorder.get(), false, *decoder);
    const int ret = demuxer->run(tee);
    if (m_output && ret == 0)
        m_output->drain();
    if (pcm && (!pcm->close() || !pcm->error().isEmpty())) {
        result.outputFailed = true;
        return finish(pcm->error());
    }
    if (ret < 0 && ret != AVERROR_EXIT)
        return finish("reading the audio failed: "
                      + (demuxer->readError().isEmpty() ? averrorText(ret) : demuxer->readError()));
    return finish(QString());
}

} // namespace h264link
