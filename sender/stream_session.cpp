#include "stream_session.h"

#include "net/broadcaster.h"
#include "net/live_rate_control.h"
#include "net/sender_connection.h"
#include "protocol.h"
#include "remux/audio_stage.h"
#include "remux/publisher.h"
#include "remux/video_stage.h"
#include "source/pipe_device.h"
#include "source/playback.h"

#include <QDeadlineTimer>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpServer>
#include <QScopeGuard>
#include <QThread>
#include <algorithm>
#include <cstring>
#include <optional>
#include <poll.h>
#include <unistd.h>

namespace h264link {

using namespace proto;

namespace {

QString humanBytes(quint64 bytes)
{
    if (bytes >= 10'000'000)
        return QStringLiteral("%1 MB").arg(double(bytes) / 1e6, 0, 'f', 1);
    return QStringLiteral("%1 kB").arg(double(bytes) / 1e3, 0, 'f', 1);
}

StreamInfo makeStreamInfo(const MediaSource &source, const VideoStage *videoStage, const AudioStage *audio,
                          bool live)
{
    StreamInfo info;
    if (live)
        info.streamFlags |= StreamLive;
    if (const AVStream *video = source.stream()) {
        info.width = quint16(videoStage ? videoStage->width() : video->codecpar->width); // what is sent
        info.height = quint16(videoStage ? videoStage->height() : video->codecpar->height);
        if (videoStage && videoStage->transcodes())
            info.videoDescription = videoStage->description();
        // How to show the pictures (a phone's portrait clip: turned by 90);
        // the receiver applies it, the pictures themselves travel unchanged.
        size_t matrixSize = 0;
        const uint8_t *matrix = av_stream_get_side_data(video, AV_PKT_DATA_DISPLAYMATRIX, &matrixSize);
        if (matrix && matrixSize >= sizeof(info.displayMatrix))
            std::memcpy(info.displayMatrix.data(), matrix, sizeof(info.displayMatrix));
        if (!videoStage || !videoStage->transcodes()) // x264 here sends no B-frames
            info.videoReorderDepth = quint8(source.reorderDepth());
    } else {
        info.codec = kCodecNone; // audio only: no MEDIA messages at all
    }
    if (audio)
        audio->describe(&info);
    info.frameRateNum = quint32(source.frameRate().num);
    info.frameRateDen = quint32(source.frameRate().den);
    info.timeBaseNum = quint32(source.timeBase().num);
    info.timeBaseDen = quint32(source.timeBase().den);
    info.durationUs = source.durationUs();
    info.sourceName = QFileInfo(source.path()).fileName();
    return info;
}

// The --stats line (and the window's list): the stream, then each receiver.
QString statsJson(double tSeconds, const SenderProgress &p, int streaming, const QList<Subscriber::Stats> &all)
{
    QJsonArray receivers;
    for (const Subscriber::Stats &s : all)
        receivers.append(QJsonObject{{"id", s.id}, {"name", s.name}, {"address", s.address},
                                     {"state", s.state}, {"connected_s", s.connectedSeconds},
                                     {"lag_ms", s.lagMs}, {"frames_sent", qint64(s.framesSent)},
                                     {"frames_skipped", qint64(s.framesSkipped)},
                                     {"audio_skipped", qint64(s.audioSkipped)},
                                     {"bitrate", qRound64(s.bitRate)}});
    return QString::fromUtf8(QJsonDocument(QJsonObject{
        {"t_s", tSeconds}, {"position_s", double(p.positionUs) / 1e6}, {"frames", qint64(p.accessUnits)},
        {"streaming", streaming}, {"receivers", receivers}}).toJson(QJsonDocument::Compact));
}

// --serve: accepted connections, taken while the stream thread waits for
// the next packet's time (waitForNewConnection), so it needs no event loop.
class ReceiverListener : public QTcpServer {
public:
    QList<qintptr> accepted;

protected:
    void incomingConnection(qintptr descriptor) override { accepted << descriptor; }
};

} // namespace

StreamSession::StreamSession(SenderOptions options, QObject *parent)
    : QObject(parent), m_options(std::move(options))
{
    qRegisterMetaType<SenderProgress>();
}

StreamSession::~StreamSession() = default;

void StreamSession::stop()
{
    m_stopRequested.store(true);
    PipeDevice::interrupt(); // `sender -`: an idle producer must not hold the stop
}

void StreamSession::disconnectReceiver(int id)
{
    QMutexLocker locker(&m_disconnectLock);
    m_disconnects << id;
}

void StreamSession::run()
{
    QString message;
    const int code = stream(&message);
    emit finished(code, message);
}

int StreamSession::stream(QString *message)
{
    std::unique_ptr<Playback> play = Playback::open(m_options, message);
    if (!play || !planVideo(*play, message) || !planAudio(*play, message))
        return ExitBadInput;
    // --publish (issue 13, publisher): the media servers, for the whole run;
    // without --host (and without --serve) they alone get the stream.
    if (!m_options.publish.isEmpty() && !startPublishing(*play, message))
        return ExitBadInput;
    if (m_options.serve || m_options.receivers.size() > 1) {
        const int code = fanOut(*play, message); // one remux, many receivers
        return endPublishing(code, message);
    }
    QElapsedTimer elapsed;
    elapsed.start();
    if (m_options.host.isEmpty()) {
        const int code = publishOnly(*play, message);
        if (code != ExitOk)
            return code;
        const SenderProgress &p = play->progress();
        *message = QStringLiteral("%1: read %2 frames and %3 audio packets in %4 s, no receiver (no --host)")
                       .arg(m_stopRequested.load() ? "stopped" : "done").arg(p.accessUnits).arg(p.audioPackets)
                       .arg(double(elapsed.elapsed()) / 1000.0, 0, 'f', 1);
        return endPublishing(code, message);
    }
    std::optional<quint64> confirmed; // the last receiver's RECEIVED
    quint64 receiverSkipped = 0;      // ... and the frames it skipped to stay live
    bool audioUncounted = false;

    // With --retry a lost connection, a busy or closed receiver is tried
    // again, and the file continues where it was.
    for (;;) {
        SenderConnection connection(m_options, m_stopRequested, [p = play.get()] { return p->framesSkipped(); });
        connect(&connection, &SenderConnection::connected, this, &StreamSession::connected);
        connect(&connection, &SenderConnection::waitingForReceiver, this, &StreamSession::waitingForReceiver);
        int code = ExitOk;
        if (connection.open(&code, message))
            code = sendStream(*play, connection, message);
        if (code == ExitOk) {
            confirmed = connection.framesDecoded();
            receiverSkipped = connection.framesSkippedByReceiver();
            audioUncounted = connection.audioUncounted();
            break;
        }
        if (!m_options.retry || !retryable(code, connection))
            return code;
        if (m_stopRequested.load())
            break; // stopped while it would try again: the person's word, not a failure
        emit retrying(*message);
        if (play->everConnected() && !m_options.fast) {
            const bool more = play->playUnsent(kRetryIntervalMs, m_stopRequested, message);
            reportProgress(play->progress(), false);
            if (!more)
                return code;
        } else { // not started yet, or --fast: wait in place
            QDeadlineTimer pause(kRetryIntervalMs);
            while (!pause.hasExpired() && !m_stopRequested.load())
                QThread::msleep(50);
        }
        if (m_stopRequested.load())
            break;
    }
    const SenderProgress &p = play->progress();
    *message = QStringLiteral("%1: sent %2 frames (%3) to %4:%5 in %6 s")
                   .arg(m_stopRequested.load() ? "stopped" : "done")
                   .arg(p.accessUnits).arg(humanBytes(p.bytes), m_options.host)
                   .arg(m_options.port).arg(double(elapsed.elapsed()) / 1000.0, 0, 'f', 1);
    if (m_decodeOnlySent)
        *message += QStringLiteral(", %1 of the frames decode-only (before the edit list's start: decoded, not shown)")
                        .arg(m_decodeOnlySent);
    if (play->source().hasAudio())
        *message += QStringLiteral(", %1 audio packets").arg(p.audioPackets);
    if (m_audioUndecodable)
        *message += QStringLiteral(" (%1 damaged audio packets left out, their time kept as silence)").arg(m_audioUndecodable);
    if (confirmed)
        *message += QStringLiteral("; the receiver confirmed %1 frames decoded").arg(*confirmed);
    if (confirmed && receiverSkipped)
        *message += QStringLiteral(" and %1 skipped to stay live (it decodes slower than the video)")
                        .arg(receiverSkipped);
    if (audioUncounted)
        *message += QStringLiteral(" (it did not count the audio: a receiver without sound)");
    if (p.skippedFrames)
        *message += QStringLiteral(" (%1 frames skipped to stay live: %2)").arg(p.skippedFrames).arg(whySkipped(p.skippedFrames));
    if (m_videoUndecodable)
        *message += QStringLiteral(" (%1 damaged video packets could not be decoded and were left out)")
                        .arg(m_videoUndecodable);
    return endPublishing(ExitOk, message); // --publish (issue 13, publisher)
}

// ---- --publish (issue 13, publisher) ----

bool StreamSession::startPublishing(Playback &play, QString *message)
{
    const MediaSource &source = play.source();
    QString error;
    const auto check = source.hasVideo() ? VideoStage::create(source.stream(), videoSettings(source), nullptr, &error)
                                         : nullptr;
    const bool alone = m_options.host.isEmpty() && !m_options.serve;
    m_publish = PublishSet::create(m_options.publish, source, check && check->transcodes(), m_options.fast,
                                   alone, message);
    if (!m_publish)
        return false;
    for (const QString &line : m_publish->takeNotices())
        emit notice(line);
    return true;
}

void StreamSession::publishTap(const AVPacket *packet)
{
    if (!m_publish)
        return;
    m_publish->tap(packet);
    for (const QString &line : m_publish->takeNotices())
        emit notice(line);
}

// No receiver: the file read and paced as for one, to the servers only.
int StreamSession::publishOnly(Playback &play, QString *message)
{
    const MediaSource &source = play.source();
    PacketPtr packet = makePacket();
    while (!m_stopRequested.load()) {
        const int ret = play.readNext(packet.get(), message);
        if (ret == AVERROR_EOF)
            break;
        if (ret < 0)
            return ExitBadInput;
        const qint64 mediaUs = play.place(packet.get());
        QDeadlineTimer due(m_options.fast ? 0 : play.delayUs(mediaUs) / 1000, Qt::PreciseTimer);
        while (!due.hasExpired() && !m_stopRequested.load())
            QThread::msleep(static_cast<unsigned long>(std::clamp<qint64>(due.remainingTime(), 1, 50)));
        m_publish->tap(packet.get());
        if (m_publish->allFailed()) {
            *message = m_publish->takeNotices().join(QStringLiteral("; "));
            return ExitConnectionFailed;
        }
        for (const QString &line : m_publish->takeNotices())
            emit notice(line);
        if (source.isAudio(packet.get()))
            play.sentAudio(1, quint64(packet->size));
        else
            play.sent(quint64(packet->size), {}, 1);
        av_packet_unref(packet.get());
        reportProgress(play.progress(), false);
    }
    reportProgress(play.progress(), true);
    return ExitOk;
}

// The servers take the end of the stream; a failed one turns a good run's
// exit code into ExitConnectionFailed (the receivers got it all the same).
int StreamSession::endPublishing(int code, QString *message)
{
    if (!m_publish)
        return code;
    static constexpr int kFinishMs = 5000;
    m_publish->finish(kFinishMs);
    for (const QString &line : m_publish->takeNotices())
        emit notice(line);
    *message += m_publish->summary();
    return code == ExitOk && m_publish->anyFailed() ? ExitConnectionFailed : code;
}

// The "done" line's reasons for `skipped` frames: the link (or receiver)
// as LiveRateControl found it, the transcoder, and the rest, which were
// skipped while no receiver was there (reconnecting, up to a keyframe).
QString StreamSession::whySkipped(quint64 skipped) const
{
    const QString link = m_skipWhy.isEmpty() ? QStringLiteral("the link was too slow") : m_skipWhy;
    const QString late = QStringLiteral("the transcoding was slower than real time");
    const quint64 byLink = qMin(m_linkSkipped, skipped);
    const quint64 byTranscoder = qMin(m_videoLate, skipped - byLink);
    const quint64 away = skipped - byLink - byTranscoder;
    if (byLink == skipped)
        return link;
    if (byTranscoder == skipped)
        return late;
    if (away == skipped)
        return QStringLiteral("while reconnecting");
    QStringList parts;
    if (byLink)
        parts << QStringLiteral("%1 as %2").arg(byLink).arg(link);
    if (byTranscoder)
        parts << QStringLiteral("%1 as %2").arg(byTranscoder).arg(late);
    if (away)
        parts << QStringLiteral("%1 while reconnecting").arg(away);
    return parts.join(QStringLiteral("; "));
}

VideoSettings StreamSession::videoSettings(const MediaSource &source) const
{
    VideoSettings settings;
    settings.forceTranscode = m_options.transcode;
    settings.bitRate = m_options.bitRate;
    settings.maxSize = m_options.maxSize;
    // A live source runs at --fps, whatever its device reports.
    settings.frameRate = source.isLive() ? AVRational{m_options.fps, 1} : source.frameRate();
    settings.live = !m_options.fast;
    settings.preset = m_videoPreset;
    // The screen and cameras: each millisecond of encoding is a millisecond
    // of latency, and the picture is new every frame (bench/screen_latency.py:
    // at 1280x720 veryfast took 11.5 ms a frame here, most of the whole path).
    if (settings.preset.isEmpty() && source.isLive())
        settings.preset = QStringLiteral("ultrafast");
    return settings;
}

// Says once what happens to the video; a stream that cannot be sent (no
// decoder, no encoder) is refused before anything is sent.
bool StreamSession::planVideo(Playback &play, QString *message)
{
    const MediaSource &source = play.source();
    if (!source.hasVideo())
        return true;
    QString error;
    const auto check = VideoStage::create(source.stream(), videoSettings(source), nullptr, &error);
    if (!check) {
        *message = QStringLiteral("'%1': its %2 video cannot be sent: %3")
                       .arg(QFileInfo(source.path()).fileName(), VideoStage::describeSource(source.stream()->codecpar), error);
        return false;
    }
    emit notice(QStringLiteral("video: %1").arg(check->description()));
    return true;
}

// Says once what happens to the file's audio. Audio that cannot be sent is
// dropped with a warning, unless it is all the file has.
bool StreamSession::planAudio(Playback &play, QString *message)
{
    MediaSource &source = play.source();
    if (m_options.noAudio) {
        emit notice(QStringLiteral("audio: not sent (--no-audio)"));
        return true;
    }
    if (!source.hasAudio()) {
        emit notice(source.kind() == MediaSource::Kind::File ? QStringLiteral("audio: none in the file")
                    : source.isLive() ? QStringLiteral("audio: none (the picture is captured, not the sound)")
                                      : QStringLiteral("audio: none in the stream"));
        return true;
    }
    QString error;
    if (const auto check = AudioStage::create(source.audioStream(), nullptr, &error)) {
        emit notice(QStringLiteral("audio: %1").arg(check->description()));
        return true;
    }
    const QString what = AudioStage::describeSource(source.audioStream()->codecpar);
    if (!source.hasVideo()) {
        *message = QStringLiteral("'%1': its only stream, %2 audio, cannot be decoded or encoded (%3)")
                       .arg(QFileInfo(source.path()).fileName(), what, error);
        return false;
    }
    emit notice(QStringLiteral("audio: %1 cannot be decoded or encoded (%2): sending video only").arg(what, error));
    return source.dropAudio(message);
}

bool StreamSession::retryable(int code, const SenderConnection &connection) const
{
    const quint16 why = connection.peerErrorCode();
    return code == ExitConnectionFailed
        || (code == ExitProtocolError && (why == ErrBusy || why == ErrTimeout));
}

// Streams on one connection until the end of the file (END_OF_STREAM, then
// ExitOk), a stop request (the same), or an error.
int StreamSession::sendStream(Playback &play, SenderConnection &connection, QString *message)
{
    QString error;
    FramedMediaDevice &framing = connection.framing();
    const MediaSource &source = play.source();
    const QString name = QFileInfo(source.path()).fileName();
    // A v2 receiver knows no AUDIO: it gets the video, or nothing.
    const bool withAudio = source.hasAudio() && connection.speaksAudio();
    if (source.hasAudio() && !withAudio) {
        if (!source.hasVideo()) {
            *message = QStringLiteral("the receiver speaks protocol %1, which has no sound, and '%2' is audio "
                                      "only: update the receiver").arg(connection.version()).arg(name);
            connection.abort(*message);
            return ExitProtocolError;
        }
        if (!std::exchange(m_saidVideoOnly, true))
            emit notice(QStringLiteral("the receiver speaks protocol %1: sending video only (update it for sound)")
                            .arg(connection.version()));
    }
    std::unique_ptr<AudioStage> audio;
    if (withAudio && !(audio = AudioStage::create(source.audioStream(), &framing, &error))) {
        *message = QStringLiteral("'%1': cannot send the audio: %2").arg(name, error);
        connection.abort(*message);
        return ExitFailure;
    }
    std::unique_ptr<VideoStage> video;
    if (source.hasVideo() && !(video = VideoStage::create(source.stream(), videoSettings(source), &framing, &error))) {
        *message = QStringLiteral("'%1': cannot send the video: %2").arg(name, error);
        connection.abort(*message);
        return ExitFailure;
    }
    connection.sendStreamInfo(makeStreamInfo(source, video.get(), audio.get(), !m_options.fast));
    // After a reconnect the receiver's decoder starts from nothing: frames up
    // to the next keyframe are skipped, and SPS/PPS go in front of it (they
    // may appear only once in the file).
    framing.prependToNextKeyframe(play.beginConnection());
    if (QString warning; !m_options.fast && !connection.useLiveSendBuffer(&warning)
                         && !std::exchange(m_saidSendBuffer, true))
        emit notice(warning);
    LiveRateControl rate;
    quint64 episodesSaid = 0;
    SlowLink::Cause lastCause{};
    // Skipping began: why, from the link's rate and the kernel's times. Said
    // once per cause and connection; the last one goes into the "done" line.
    const auto explainSkipping = [&] {
        if (rate.episodes() == std::exchange(episodesSaid, rate.episodes()))
            return;
        const std::optional<TcpLimits> limits = connection.recentTcpLimits();
        // The video's rate as the file (or the encoder) states it: what the
        // stream writes between skips leans towards the GOPs' keyframes.
        const qint64 declared = video ? (video->bitRate() > 0 ? video->bitRate() : source.stream()->codecpar->bit_rate) / 8 : 0;
        const SlowLink why = diagnoseSlowLink(rate.linkBytesPerSecond(),
                                              declared > 0 ? declared : rate.videoBytesPerSecond(),
                                              limits ? &*limits : nullptr);
        if (episodesSaid == 1 || why.cause != lastCause)
            emit notice(QStringLiteral("live: skipping to the next keyframe to stay live: %1").arg(why.sentence));
        lastCause = why.cause;
        m_skipWhy = why.sentence;
    };
    QElapsedTimer clock;
    clock.start();
    PacketPtr packet = makePacket();
    const auto keepCounts = qScopeGuard([&] {
        if (audio)
            m_audioUndecodable += audio->undecodablePackets();
        if (video) {
            m_videoUndecodable += video->undecodablePackets();
            m_videoLate += video->lateFramesSkipped();
            m_videoPreset = video->preset(); // a slow machine starts the next connection faster
        }
    });
    const auto keepDecodeOnly = qScopeGuard([&] { m_decodeOnlySent += framing.decodeOnlySent(); });
    // Per access unit about to be sent (source packets, or the encoder's):
    // false skips it, and counts it.
    const auto admit = [&](bool keyframe) {
        if (m_options.fast || rate.admit(clock.elapsed(), connection.handedToKernel(), connection.queuedBytes(), keyframe))
            return true;
        explainSkipping();
        play.countSkipped(1);
        ++m_linkSkipped;
        return false;
    };
    // Between packets, each time the kernel takes some of the queue: the
    // drain is timed as it happens.
    const auto drained = [&] { rate.observe(clock.elapsed(), connection.handedToKernel(), connection.queuedBytes()); };
    quint64 lateCounted = 0;
    qint64 statsAtMs = 0; // --stats
    quint64 statsBytes = 0;
    // What the video stage sent or left out since the last call, into Playback's counts.
    const auto countVideo = [&](quint64 unitsBefore, quint64 bytesBefore) {
        if (const quint64 units = framing.accessUnitsSent() - unitsBefore)
            play.sent(framing.mediaBytesSent() - bytesBefore, framing.parameterSets(), units);
        play.countSkipped(video->lateFramesSkipped() - std::exchange(lateCounted, video->lateFramesSkipped()));
        // Once per run, not per connection: the speed, and that it was too slow.
        if (const QString line = video->takeNotice();
            !line.isEmpty() && !std::exchange(video->tooSlow() ? m_saidVideoSlow : m_saidVideoSpeed, true))
            emit notice(line);
    };

    while (!m_stopRequested.load()) {
        const int ret = play.readNext(packet.get(), message);
        if (ret == AVERROR_EOF)
            break;
        if (ret < 0) {
            connection.abort(*message);
            return ExitBadInput;
        }
        const qint64 mediaUs = play.place(packet.get());
        publishTap(packet.get()); // --publish (issue 13, publisher): before any skipping for the receiver
        const bool isAudio = source.isAudio(packet.get());
        if (isAudio && !audio) {
            av_packet_unref(packet.get()); // this receiver takes no sound
            continue;
        }
        if (play.skipUntilKeyframe(packet.get()))
            continue;
        if (!m_options.fast && !connection.waitUntil(play.delayUs(mediaUs), drained))
            break; // stopped, or the connection broke: checkPeer() below says which
        if (!connection.checkPeer(message))
            return connection.lost(message);

        if (isAudio) {
            // Skipped with the video it goes with while the link catches up,
            // so that both resume together, live.
            if (!m_options.fast && !rate.admitAudio(clock.elapsed(), connection.handedToKernel(),
                                                    connection.queuedBytes(), source.hasVideo())) {
                explainSkipping();
                play.skip(packet.get());
                continue;
            }
            const quint64 packetsBefore = framing.audioPacketsSent();
            const quint64 bytesBefore = framing.audioBytesSent();
            const AudioMuxer::Result written = audio->write(packet.get(), play.takeAudioDiscontinuity(), &error);
            av_packet_unref(packet.get());
            if (written == AudioMuxer::Result::SendFailed)
                return connection.lost(message, error);
            if (written == AudioMuxer::Result::BadPacket) {
                emit notice(QStringLiteral("audio: %1: sending video only from here").arg(error));
                if (!source.hasVideo()) {
                    *message = QStringLiteral("'%1': the audio cannot be sent: %2").arg(name, error);
                    connection.abort(*message);
                    return ExitBadInput;
                }
                m_audioUndecodable += audio->undecodablePackets();
                audio.reset();
                continue;
            }
            play.sentAudio(framing.audioPacketsSent() - packetsBefore, framing.audioBytesSent() - bytesBefore);
        } else {
            const quint64 unitsBefore = framing.accessUnitsSent();
            const quint64 bytesBefore = framing.mediaBytesSent();
            const VideoStage::Result written = video->write(packet.get(), admit, &error);
            countVideo(unitsBefore, bytesBefore);
            if (written == VideoStage::Result::BadPacket) {
                *message = video->transcodes()
                    ? QStringLiteral("'%1': %2").arg(name, error)
                    : QStringLiteral("'%1': frame %2 is not valid H.264 (%3)").arg(name).arg(play.frameNumber()).arg(error);
                connection.abort(*message);
                return ExitBadInput; // not H.264, or nothing libavcodec and libx264 can make H.264 of
            }
            if (written == VideoStage::Result::SendFailed)
                return connection.lost(message, error);
        }
        if (!connection.afterAccessUnit(message))
            return connection.lost(message);
        play.setQueuedBytes(connection.queuedBytes());
        reportProgress(play.progress(), false);
        if (m_options.stats && clock.elapsed() - statsAtMs >= 1000) { // the fan-out's line, for its one receiver
            const double seconds = double(clock.elapsed() - statsAtMs) / 1000.0;
            statsAtMs = clock.elapsed();
            Subscriber::Stats one;
            one.id = 1;
            one.name = one.address = connection.where();
            one.state = QStringLiteral("streaming");
            one.connectedSeconds = double(clock.elapsed()) / 1000.0;
            one.lagMs = m_options.fast ? 0 : rate.waitMs();
            one.framesSent = framing.accessUnitsSent();
            one.framesSkipped = play.framesSkipped();
            one.audioSkipped = play.progress().audioSkipped;
            one.bitRate = double(framing.streamBytesSent() - std::exchange(statsBytes, framing.streamBytesSent())) * 8 / seconds;
            emit statsLine(statsJson(double(statsAtMs) / 1000.0, play.progress(), 1, {one}));
        }
    }
    if (!connection.checkPeer(message))
        return connection.lost(message);
    const quint64 audioPacketsBefore = framing.audioPacketsSent();
    const quint64 audioBytesBefore = framing.audioBytesSent();
    if (video) { // a transcoder's last frames
        const quint64 unitsBefore = framing.accessUnitsSent();
        const quint64 bytesBefore = framing.mediaBytesSent();
        const bool finished = video->finish(&error);
        countVideo(unitsBefore, bytesBefore);
        if (!finished) {
            *message = video->transcodes() ? QStringLiteral("'%1': %2").arg(name, error) : error;
            connection.abort(*message);
            return video->transcodes() ? ExitBadInput : ExitFailure;
        }
    }
    if (audio && !audio->finish(&error)) {
        *message = error;
        connection.abort(*message);
        return ExitFailure;
    }
    play.sentAudio(framing.audioPacketsSent() - audioPacketsBefore, framing.audioBytesSent() - audioBytesBefore);
    const int code = connection.finish(message);
    if (code != ExitOk)
        return code;
    play.setQueuedBytes(0);
    reportProgress(play.progress(), true);
    return ExitOk;
}

// The fan-out (Broadcaster, Subscriber): the file is read, paced and
// remuxed once here, and each receiver is fed from its own bounded queue on
// its own thread. Starts when every listed host answered (or failed), or,
// --serve, when the first receiver joined; later ones join live.
int StreamSession::fanOut(Playback &play, QString *message)
{
    QString error;
    const MediaSource &source = play.source();
    const QString name = QFileInfo(source.path()).fileName();
    Broadcaster broadcaster(m_options);
    FramedMediaDevice &framing = broadcaster.collector();
    std::unique_ptr<AudioStage> audio;
    if (source.hasAudio() && !(audio = AudioStage::create(source.audioStream(), &framing, &error))) {
        *message = QStringLiteral("'%1': cannot send the audio: %2").arg(name, error);
        return ExitFailure;
    }
    std::unique_ptr<VideoStage> video;
    if (source.hasVideo() && !(video = VideoStage::create(source.stream(), videoSettings(source), &framing, &error))) {
        *message = QStringLiteral("'%1': cannot send the video: %2").arg(name, error);
        return ExitFailure;
    }
    broadcaster.setStreamInfo(makeStreamInfo(source, video.get(), audio.get(), !m_options.fast));

    ReceiverListener listener;
    if (m_options.serve) {
        if (!listener.listen(QHostAddress::Any, m_options.port)) {
            *message = QStringLiteral("cannot listen on port %1: %2 (is another sender serving there? "
                                      "choose another with --port)").arg(m_options.port).arg(listener.errorString());
            return ExitConnectionFailed;
        }
        emit notice(QStringLiteral("serving on port %1: receivers connect with receiver --connect HOST:%1 "
                                   "(at most %2 at once)").arg(listener.serverPort()).arg(m_options.maxReceivers));
        emit serving(listener.serverPort());
    } else {
        for (const ReceiverAddress &address : m_options.receivers) {
            SenderOptions one = m_options;
            one.host = address.host;
            one.port = address.port;
            broadcaster.addSubscriber(one, -1);
        }
    }
    // Said as it happens: who joined, left, was dropped or refused; --stats each second.
    QElapsedTimer statsClock;
    statsClock.start();
    qint64 lastStatsMs = 0;
    QStringList states;
    int lastStreaming = -1;
    quint64 changesSeen = ~quint64(0);
    bool threadsToWaitFor = false; // a receiver is over, its thread not yet: look again next turn
    const auto housekeeping = [&] {
        QList<int> drop;
        {
            QMutexLocker locker(&m_disconnectLock);
            drop = std::exchange(m_disconnects, {});
        }
        for (const int id : drop)
            if (id >= 1 && id <= broadcaster.accepted())
                broadcaster.subscribers()[size_t(id - 1)]->disconnectReceiver();
        const bool statsDue = statsClock.elapsed() - lastStatsMs >= 1000;
        const quint64 changes = broadcaster.changes(); // before stats(): a change during it is seen next turn
        if (!statsDue && changes == changesSeen && !threadsToWaitFor)
            return;
        changesSeen = changes;
        threadsToWaitFor = false;
        const QList<Subscriber::Stats> all = broadcaster.stats();
        for (int i = 0; i < all.size(); ++i) {
            const Subscriber::Stats &s = all[i];
            if (i >= states.size())
                states << QString();
            if (s.state == states[i])
                continue;
            const Subscriber &subscriber = *broadcaster.subscribers()[size_t(i)];
            // Failed, left, dropped, refused: said once its thread is over, with its message.
            const bool over = !QStringList{"connecting", "retrying", "streaming", "ending", "done"}.contains(s.state);
            if (over && !subscriber.isFinished()) {
                threadsToWaitFor = true;
                continue;
            }
            states[i] = s.state;
            if (s.state == QLatin1String("streaming")) {
                if (!s.ownName.isEmpty() && s.name != s.ownName)
                    emit notice(QStringLiteral("receiver %1 at %2 calls itself \"%3\", as a receiver streaming "
                                               "now does: listed as \"%4\" (receiver --name tells them apart)")
                                    .arg(s.id).arg(s.address, s.ownName, s.name));
                emit connected(s.name == s.address ? s.address : QStringLiteral("%1 at %2").arg(s.name, s.address));
            } else if (over)
                emit notice(QStringLiteral("receiver %1 %2").arg(s.id).arg(subscriber.message()));
        }
        if (const int now = broadcaster.streaming(); now != lastStreaming)
            emit receiversChanged(lastStreaming = now);
        if (statsDue) {
            lastStatsMs = statsClock.elapsed();
            emit statsLine(statsJson(double(lastStatsMs) / 1000.0, play.progress(), broadcaster.streaming(), all));
        }
    };
    // Accepts what came (refusing at once past a generous bound of
    // handshakes in progress, so a flood costs no threads), then waits up to `ms`.
    const auto accept = [&](int ms) {
        if (m_options.serve && listener.isListening()) {
            // poll() first: waitForNewConnection() builds a translated
            // "timed out" string each time it waits in vain (each frame).
            pollfd incoming{int(listener.socketDescriptor()), POLLIN, 0};
            if (::poll(&incoming, 1, ms) > 0)
                listener.waitForNewConnection(0);
        }
        else if (ms > 0)
            QThread::msleep(ulong(ms));
        for (const qintptr descriptor : std::exchange(listener.accepted, {})) {
            int pending = 0;
            for (const auto &subscriber : broadcaster.subscribers())
                pending += !subscriber->settled();
            if (pending >= m_options.maxReceivers) {
                ::close(int(descriptor));
                continue;
            }
            broadcaster.addSubscriber(m_options, descriptor);
        }
        housekeeping();
    };
    // Starting: every listed host tried once (or, --retry, one of them
    // there), or the first receiver of --serve.
    for (;;) {
        if (m_stopRequested.load())
            break;
        if (m_options.serve ? broadcaster.streaming() > 0
                            : broadcaster.allSettled() && (broadcaster.streaming() > 0 || !m_options.retry))
            break;
        accept(20);
    }
    if (!m_options.serve && broadcaster.streaming() == 0 && !m_stopRequested.load()) {
        broadcaster.waitAll();
        QStringList why;
        for (const auto &subscriber : broadcaster.subscribers())
            why << subscriber->message();
        *message = QStringLiteral("no receiver could be reached: %1").arg(why.join(QStringLiteral("; ")));
        return broadcaster.subscribers().front()->exitCode();
    }
    QElapsedTimer elapsed;
    elapsed.start();
    play.beginConnection(); // the file's clock starts now
    PacketPtr packet = makePacket();
    quint64 lateCounted = 0;
    const auto countVideo = [&](quint64 unitsBefore, quint64 bytesBefore) {
        if (const quint64 units = framing.accessUnitsSent() - unitsBefore)
            play.sent(framing.mediaBytesSent() - bytesBefore, framing.parameterSets(), units);
        play.countSkipped(video->lateFramesSkipped() - std::exchange(lateCounted, video->lateFramesSkipped()));
        if (const QString line = video->takeNotice();
            !line.isEmpty() && !std::exchange(video->tooSlow() ? m_saidVideoSlow : m_saidVideoSpeed, true))
            emit notice(line);
    };
    const auto admitAll = [](bool) { return true; }; // each receiver's queue skips for itself
    int code = ExitOk;
    while (!m_stopRequested.load() && code == ExitOk) {
        const int ret = play.readNext(packet.get(), message);
        if (ret == AVERROR_EOF)
            break;
        if (ret < 0) {
            code = ExitBadInput;
            break;
        }
        const qint64 mediaUs = play.place(packet.get());
        publishTap(packet.get()); // --publish: once, before any receiver's queue skips
        const bool isAudio = source.isAudio(packet.get());
        if (isAudio && !audio) {
            av_packet_unref(packet.get());
            continue;
        }
        if (play.skipUntilKeyframe(packet.get()))
            continue;
        if (m_options.fast) { // paced by the slowest receiver: every frame counts
            accept(0);
            while (broadcaster.slowestQueueBytes() > Subscriber::kFastQueueBytes && !m_stopRequested.load())
                accept(1);
        } else {
            QDeadlineTimer due(play.delayUs(mediaUs) / 1000, Qt::PreciseTimer);
            do
                accept(int(qMin<qint64>(due.remainingTime(), 50)));
            while (!due.hasExpired() && !m_stopRequested.load());
        }
        if (isAudio) {
            const quint64 packetsBefore = framing.audioPacketsSent();
            const quint64 bytesBefore = framing.audioBytesSent();
            const AudioMuxer::Result written = audio->write(packet.get(), play.takeAudioDiscontinuity(), &error);
            av_packet_unref(packet.get());
            if (written == AudioMuxer::Result::BadPacket) {
                emit notice(QStringLiteral("audio: %1: sending video only from here").arg(error));
                if (!source.hasVideo()) {
                    *message = QStringLiteral("'%1': the audio cannot be sent: %2").arg(name, error);
                    code = ExitBadInput;
                    break;
                }
                m_audioUndecodable += audio->undecodablePackets();
                audio.reset();
                continue;
            }
            play.sentAudio(framing.audioPacketsSent() - packetsBefore, framing.audioBytesSent() - bytesBefore);
        } else {
            const quint64 unitsBefore = framing.accessUnitsSent();
            const quint64 bytesBefore = framing.mediaBytesSent();
            const VideoStage::Result written = video->write(packet.get(), admitAll, &error);
            countVideo(unitsBefore, bytesBefore);
            if (written == VideoStage::Result::BadPacket) {
                *message = video->transcodes()
                    ? QStringLiteral("'%1': %2").arg(name, error)
                    : QStringLiteral("'%1': frame %2 is not valid H.264 (%3)").arg(name).arg(play.frameNumber()).arg(error);
                code = ExitBadInput;
                break;
            }
        }
        reportProgress(play.progress(), false);
    }
    if (code == ExitOk && video) {
        const quint64 unitsBefore = framing.accessUnitsSent();
        const quint64 bytesBefore = framing.mediaBytesSent();
        if (!video->finish(&error)) {
            *message = video->transcodes() ? QStringLiteral("'%1': %2").arg(name, error) : error;
            code = video->transcodes() ? ExitBadInput : ExitFailure;
        }
        countVideo(unitsBefore, bytesBefore);
    }
    if (code == ExitOk && audio && !audio->finish(&error)) {
        *message = error;
        code = ExitFailure;
    }
    if (audio)
        m_audioUndecodable += audio->undecodablePackets();
    listener.close(); // the stream is over: no one joins now
    for (const qintptr descriptor : std::exchange(listener.accepted, {}))
        ::close(int(descriptor));
    if (code != ExitOk || m_stopRequested.load())
        broadcaster.stop(); // END_OF_STREAM at once (after a bad packet the receivers are told the end)
    else
        broadcaster.endOfStream();
    bool announced = false;
    QElapsedTimer ending;
    ending.start();
    for (;;) {
        bool allDone = true;
        for (const auto &subscriber : broadcaster.subscribers())
            allDone = allDone && subscriber->isFinished();
        if (allDone)
            break;
        if (!announced && ending.elapsed() > 1000) { // as the one-to-one path: after a second
            bool sending = false;
            for (const auto &subscriber : broadcaster.subscribers())
                sending = sending || subscriber->queuedBytes() > 0;
            if (!sending) {
                announced = true;
                emit waitingForReceiver();
            }
        }
        if (m_stopRequested.load())
            broadcaster.stop();
        accept(50);
    }
    broadcaster.waitAll();
    housekeeping();
    reportProgress(play.progress(), true);
    if (code != ExitOk)
        return code;

    // Exit code: the first receiver (in order) that streamed to the end and
    // did not confirm every frame, or a listed host that could not be
    // reached; receivers that left, were dropped or refused are said, not failed.
    QStringList lines;
    int streamed = 0;
    for (const auto &subscriber : broadcaster.subscribers()) {
        const bool counts = subscriber->everStreamed() || !m_options.serve;
        if (subscriber->everStreamed())
            ++streamed;
        if (counts && code == ExitOk && subscriber->exitCode() != ExitOk) {
            code = subscriber->exitCode();
            *message = subscriber->message();
        }
        if (subscriber->everStreamed() || !m_options.serve)
            lines << QStringLiteral("receiver %1 %2").arg(lines.size() + 1).arg(subscriber->message());
    }
    const SenderProgress &p = play.progress();
    QString summary = QStringLiteral("%1: sent %2 frames (%3) to %4 receiver%5 in %6 s")
                          .arg(m_stopRequested.load() ? "stopped" : "done").arg(p.accessUnits)
                          .arg(humanBytes(p.bytes)).arg(streamed).arg(streamed == 1 ? "" : "s").arg(double(elapsed.elapsed()) / 1000.0, 0, 'f', 1);
    if (source.hasAudio())
        summary += QStringLiteral(", %1 audio packets").arg(p.audioPackets);
    summary += QStringLiteral("; ") + lines.join(QStringLiteral("; "));
    if (code != ExitOk) {
        *message = summary + QStringLiteral(" -- failed: ") + *message;
        return code;
    }
    *message = summary;
    return ExitOk;
}

void StreamSession::reportProgress(const SenderProgress &p, bool force)
{
    if (!m_progressClock.isValid())
        m_progressClock.start();
    const qint64 now = m_progressClock.elapsed();
    if (!force && now - m_lastProgressMs < 100)
        return;
    m_lastProgressMs = now;
    emit progress(p);
}

} // namespace h264link
