#include "source/playback.h"

#include "ffmpeg_raii.h"
#include "logging.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QThread>
#include <algorithm>

namespace h264link {
namespace {

qint64 toMicros(int64_t ts, AVRational tb)
{
    return ts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : av_rescale_q(ts, tb, AV_TIME_BASE_Q);
}

} // namespace

std::unique_ptr<Playback> Playback::open(const QString &path, bool loop, bool withAudio, QString *error)
{
    std::unique_ptr<MediaSource> source = MediaSource::open(path, error, withAudio);
    if (!source)
        return nullptr;
    return start(std::move(source), loop);
}

std::unique_ptr<Playback> Playback::open(const SenderOptions &options, QString *error)
{
    std::unique_ptr<MediaSource> source;
    if (options.screen)
        source = MediaSource::openScreen(options.display, options.fps, error);
    else if (MediaSource::isCameraPath(options.file))
        source = MediaSource::openCamera(options.file, options.fps, error);
    else
        source = MediaSource::open(options.file, error, !options.noAudio);
    if (!source)
        return nullptr;
    if (options.loop && !source->canRewind()) {
        *error = QStringLiteral("--loop: %1 cannot start again (only a file can); leave --loop out")
                     .arg(source->path());
        return nullptr;
    }
    return start(std::move(source), options.loop);
}

std::unique_ptr<Playback> Playback::start(std::unique_ptr<MediaSource> source, bool loop)
{
    std::unique_ptr<Playback> play(new Playback);
    play->m_source = std::move(source);
    play->m_loop = loop;
    const AVStream *st = play->m_source->mainStream();
    play->m_startUs = st->start_time == AV_NOPTS_VALUE ? 0 : toMicros(st->start_time, st->time_base);
    const AVRational rate = play->m_source->frameRate();
    play->m_frameUs = rate.num > 0 ? av_rescale(1'000'000, rate.den, rate.num) : 40'000;
    play->m_progress.durationUs = play->m_source->durationUs();
    return play;
}

int Playback::readNext(AVPacket *packet, QString *message)
{
    for (;;) {
        int ret = m_source->readPacket(packet);
        const bool anythingYet = frameNumber() > 1 || m_progress.audioPackets + m_progress.audioSkipped > 0;
        if (ret == AVERROR_EOF && m_loop && anythingYet) {
            QString error;
            if (!m_source->rewind(&error)) {
                *message = error;
                return AVERROR(EIO);
            }
            m_loopOffsetUs = m_timelineEndUs;
            m_progress.positionUs = 0;
            ++m_progress.loops;
            m_audioGap = true;
            continue;
        }
        if (ret >= 0 && (packet->flags & AV_PKT_FLAG_CORRUPT))
            ret = AVERROR_INVALIDDATA; // a short read: the file ends inside this frame
        if (ret < 0 && ret != AVERROR_EOF)
            *message = QStringLiteral("'%1' is truncated or damaged: frame %2 cannot be read (%3)")
                           .arg(QFileInfo(m_source->path()).fileName())
                           .arg(frameNumber()).arg(averrorDetail(ret));
        return ret;
    }
}

// The send clock follows dts (decode order); the position shown follows pts.
// Audio and video share it: both are shifted by the same start and loop offset.
qint64 Playback::place(AVPacket *packet)
{
    const bool audio = m_source->isAudio(packet);
    const AVRational tb = m_source->timeBaseOf(packet);
    qint64 mediaUs = toMicros(packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts, tb);
    if (mediaUs == AV_NOPTS_VALUE) // raw .h264 may have neither
        mediaUs = audio ? m_startUs + m_progress.positionUs
                        : m_startUs + qint64(frameNumber() - 1) * m_frameUs;
    mediaUs += m_loopOffsetUs - m_startUs;
    const qint64 ptsUs = toMicros(packet->pts, tb);
    // A pass ends one frame after its last picture, in pts: with B-frames dts
    // runs behind pts, and an end taken from dts repeats pictures' times at
    // the seam and runs the loop's clock fast. Audio ends where its last
    // packet does, so that a loop's sound does not overlap the last pass's.
    const qint64 endUs = ptsUs == AV_NOPTS_VALUE ? mediaUs : ptsUs - m_startUs + m_loopOffsetUs;
    const qint64 lengthUs = audio ? toMicros(packet->duration, tb) : m_frameUs;
    m_timelineEndUs = qMax(m_timelineEndUs, endUs + qMax<qint64>(0, lengthUs));
    // The furthest picture sent in this pass: with B-frames, pts in send
    // order goes back a frame now and then, and the shown time must not.
    if (audio == !m_source->hasVideo())
        m_progress.positionUs = qMax(m_progress.positionUs,
                                     qMax<qint64>(0, ptsUs == AV_NOPTS_VALUE ? mediaUs - m_loopOffsetUs
                                                                             : ptsUs - m_startUs));
    if (m_loopOffsetUs) {
        const int64_t shift = av_rescale_q(m_loopOffsetUs, AV_TIME_BASE_Q, tb);
        if (packet->pts != AV_NOPTS_VALUE)
            packet->pts += shift;
        if (packet->dts != AV_NOPTS_VALUE)
            packet->dts += shift;
    }
    return mediaUs;
}

QByteArray Playback::beginConnection()
{
    m_waitForKeyframe = m_everConnected && m_source->hasVideo();
    m_everConnected = true;
    m_audioGap = true;
    m_pacer.reset();
    return m_waitForKeyframe ? m_parameterSets : QByteArray();
}

bool Playback::skipUntilKeyframe(AVPacket *packet)
{
    if (m_waitForKeyframe && (m_source->isAudio(packet) || !(packet->flags & AV_PKT_FLAG_KEY))) {
        skip(packet);
        return true;
    }
    if (!m_source->isAudio(packet))
        m_waitForKeyframe = false;
    return false;
}

void Playback::skip(AVPacket *packet)
{
    if (m_source->isAudio(packet)) {
        av_packet_unref(packet);
        ++m_progress.audioSkipped;
        m_audioGap = true;
        return;
    }
    av_packet_unref(packet);
    ++m_progress.skippedFrames;
    m_skipped.store(m_progress.skippedFrames);
}

void Playback::sentAudio(quint64 packets, quint64 bytes)
{
    m_progress.audioPackets += packets;
    m_progress.bytes += bytes;
}

void Playback::countSkipped(quint64 frames)
{
    m_progress.skippedFrames += frames;
    m_skipped.store(m_progress.skippedFrames);
}

void Playback::sent(quint64 bytes, const QByteArray &parameterSets, quint64 frames)
{
    m_progress.accessUnits += frames;
    m_progress.bytes += bytes;
    m_parameterSets = parameterSets;
}

bool Playback::playUnsent(int forMs, const std::atomic<bool> &stop, QString *message)
{
    QElapsedTimer elapsed;
    elapsed.start();
    PacketPtr packet = makePacket();
    while (elapsed.elapsed() < forMs && !stop.load()) {
        const int ret = readNext(packet.get(), message);
        if (ret < 0) {
            if (ret == AVERROR_EOF)
                *message = QStringLiteral("the file ended while no receiver was connected");
            return false;
        }
        QDeadlineTimer due(m_pacer.delayUs(place(packet.get())) / 1000, Qt::PreciseTimer);
        skip(packet.get());
        while (!due.hasExpired() && !stop.load())
            QThread::msleep(static_cast<unsigned long>(std::clamp<qint64>(due.remainingTime(), 1, 50)));
    }
    return true;
}

} // namespace h264link
