#include "receiver_controller.h"

#include "audio_output.h"
#include "exit_codes.h"
#include "frame_md5_writer.h"
#include "stream_recorder.h"
#include "logging.h"
#include "stream_server.h"

#include <QTimer>

namespace h264link {

ReceiverController::ReceiverController(ReceiverOptions options, FrameSlot *display, QObject *parent)
    : QObject(parent), m_options(std::move(options)), m_display(display)
{
    m_network.setObjectName(QStringLiteral("network"));
}

ReceiverController::~ReceiverController()
{
    if (m_session && m_session->pipeline)
        m_session->pipeline->stop();
    if (m_session && m_session->audio)
        m_session->audio->stop();
    m_session.reset(); // joins the pipeline threads
    if (m_server) {
        // Sockets must die on the thread that owns them.
        QMetaObject::invokeMethod(m_server, [this] { delete m_server; }, Qt::BlockingQueuedConnection);
    }
    m_network.quit();
    m_network.wait();
}

QString ReceiverController::start()
{
    // --framemd5 and --record want every frame: no skipping to stay live.
    const bool everyFrameWanted = !m_options.md5Path.isEmpty() || !m_options.recordPath.isEmpty();
    m_server = new StreamServer(m_options.accessKey, m_display != nullptr, !m_options.noAudio, everyFrameWanted);
    m_server->setName(m_options.name);
    m_server->moveToThread(&m_network);
    connect(m_server, &StreamServer::sessionStarted, this, &ReceiverController::onSessionStarted);
    connect(m_server, &StreamServer::sessionEnded, this, &ReceiverController::onSessionEnded);
    connect(m_server, &StreamServer::streamInfoReceived, this, &ReceiverController::onStreamInfo);
    connect(m_server, &StreamServer::connectionRefused, this, &ReceiverController::refused);
    connect(m_server, &StreamServer::dialFailed, this, &ReceiverController::onDialFailed);
    connect(m_server, &StreamServer::connectionRefused, this, [this](const QString &peer, const QString &why) {
        if (m_options.dials()) // the sender we dialled: not ours to stream (no key, another key, garbage)
            onDialFailed(QStringLiteral("%1: %2").arg(peer, why));
    });
    connect(m_server, &StreamServer::shutDownFinished, this, [this] {
        m_serverDone = true;
        closeIfDone();
    });
    m_network.start();

    if (m_options.dials()) {
        emit waitingForSender(0);
        dialSender();
        return {};
    }
    QString error;
    const quint16 port = m_options.port;
    QMetaObject::invokeMethod(m_server, [&] {
        error = m_server->listen(m_options.listenAddress, port);
        m_port = m_server->port();
    }, Qt::BlockingQueuedConnection);
    if (error.isEmpty())
        emit waitingForSender(m_port);
    return error;
}

std::optional<LiveStats> ReceiverController::liveStats() const
{
    if (!m_session || !m_session->pipeline)
        return std::nullopt;
    const PipelineCounters &c = m_session->pipeline->counters();
    LiveStats stats;
    stats.frames = c.frames;
    stats.decodeErrors = c.decodeErrors;
    stats.concealedFrames = c.concealedFrames;
    if (const AudioPipeline *audio = m_session->audio.get()) {
        stats.audio = true;
        stats.audioPackets = audio->counters().packets;
        stats.audioFrames = audio->counters().frames;
        stats.audioUnderruns = audio->underruns();
        stats.audioLatencyMs = audio->latencyMs();
        stats.audioLevelDb = audio->levelDb();
    }
    const qint64 offset = c.avOffsetUs;
    if (offset != PipelineCounters::kNoOffset) {
        stats.hasAvOffset = true;
        stats.avOffsetMs = offset / 1000.0;
    }
    return stats;
}

std::shared_ptr<StreamStats> ReceiverController::streamStats() const
{
    return m_session ? m_session->streamStats : nullptr;
}

void ReceiverController::shutDown()
{
    if (m_shuttingDown)
        return;
    m_shuttingDown = true;
    if (!m_server) { // never started: nothing to say goodbye to
        QMetaObject::invokeMethod(this, &ReceiverController::closed, Qt::QueuedConnection);
        return;
    }
    if (m_session && m_session->pipeline)
        m_session->pipeline->stop();
    if (m_session && m_session->audio)
        m_session->audio->stop();
    QMetaObject::invokeMethod(m_server, &StreamServer::shutDown, Qt::QueuedConnection);
}

void ReceiverController::dialSender()
{
    if (m_shuttingDown)
        return;
    QMetaObject::invokeMethod(m_server, [server = m_server, host = m_options.connectHost,
                                         port = m_options.connectPort] { server->dial(host, port); },
                              Qt::QueuedConnection);
}

void ReceiverController::connectTo(const QString &host, quint16 port)
{
    m_options.connectHost = host;
    m_options.connectPort = port;
    m_options.retry = true; // a person chose it: wait for it, do not exit
    m_lastDialFailure.clear();
    if (!m_session)
        dialSender();
}

// Before the first stream only --retry waits for the sender; after one, the
// receiver waits for the next as a listening one would.
void ReceiverController::onDialFailed(const QString &reason)
{
    if (m_shuttingDown)
        return;
    if (!m_options.retry && !m_everStreamed) {
        emit dialGaveUp(reason);
        return;
    }
    if (std::exchange(m_lastDialFailure, reason) != reason)
        emit notice(QStringLiteral("waiting for the sender: %1; trying again every %2 s")
                        .arg(reason).arg(kRedialMs / 1000.0));
    QTimer::singleShot(kRedialMs, this, &ReceiverController::dialSender);
}

void ReceiverController::closeIfDone()
{
    if (m_shuttingDown && m_serverDone && !m_session)
        emit closed();
}

void ReceiverController::onSessionStarted(const QString &peer, std::shared_ptr<StreamInput> input,
                                          std::shared_ptr<StreamStats> stats)
{
    if (m_shuttingDown) // raced with shutDown(): the server says goodbye to it
        return;
    m_everStreamed = true;
    m_lastDialFailure.clear();
    m_session = std::make_unique<Session>();
    m_session->peer = peer;
    m_session->streamStats = stats;
    m_session->input = input;
    m_session->clock = std::make_unique<AudioClock>();
    if (!m_options.md5Path.isEmpty()) {
        m_session->md5 = std::make_shared<FrameMd5Writer>();
        QString error; // kept in the writer too: the pipeline fails with it
        m_session->md5->open(m_options.md5Path, &error);
    }
    m_session->pipeline = std::make_unique<MediaPipeline>(input, stats, m_session->md5, m_display,
                                                          m_session->clock.get());
    if (!m_options.recordPath.isEmpty()) {
        m_session->recorder = std::make_shared<StreamRecorder>(m_options.recordPath);
        m_session->pipeline->setRecorder(m_session->recorder);
    }
    connect(m_session->pipeline.get(), &MediaPipeline::finished, this,
            &ReceiverController::onPipelineFinished);
    m_session->pipeline->start();
    emit streamStarted(peer);
}

void ReceiverController::onSessionEnded(bool endOfStream, const QString &reason,
                                        const ConnectionStats &stats, const proto::EndOfStream &sent)
{
    if (!m_session)
        return;
    m_session->connectionDone = true;
    m_session->endOfStream = endOfStream;
    m_session->reason = reason;
    m_session->stats = stats;
    m_session->sent = sent;
    completeIfDone();
}

void ReceiverController::toggleMute()
{
    m_muted = !m_muted;
    if (m_session && m_session->audio)
        m_session->audio->setMuted(m_muted);
}

// The connection queues the sound on the same announcement (see
// ReceiverConnection), so an audio pipeline must drain it from now on.
void ReceiverController::onStreamInfo(const proto::StreamInfo &info)
{
    emit streamInfoReceived(info);
    if (!m_session)
        return;
    const bool audio = !m_options.noAudio && info.hasAudio();
    if (m_session->md5)
        m_session->md5->configure(info.hasVideo(), audio ? int(info.audioSampleRate) : 0,
                                  audio ? info.audioChannels : 0);
    if (m_session->recorder)
        m_session->recorder->setDisplayMatrix(info.displayMatrix);
    if (m_session->recorder)
        m_session->recorder->configure(info.hasVideo(), info.width, info.height, audio ? info.audioCodec : proto::kCodecNone,
                                       int(info.audioSampleRate), info.audioChannels);
    if (m_session->audio || !audio || m_shuttingDown)
        return;
    AudioSettings settings;
    settings.codec = info.audioCodec;
    settings.sampleRate = int(info.audioSampleRate);
    settings.channels = info.audioChannels;
    settings.pcmPath = m_options.pcmPath;
    settings.md5 = m_session->md5;
    settings.recorder = m_session->recorder;
    settings.device = AudioOutput::findDevice(m_options.audioDevice, nullptr);
    settings.play = !settings.device.isNull();
    if (!settings.play && !m_toldNoDevice) {
        m_toldNoDevice = true;
        emit notice(QStringLiteral("no audio output device: playing without sound"));
    }
    auto input = std::shared_ptr<AudioInput>(m_session->input, &m_session->input->audio);
    m_session->audio = std::make_unique<AudioPipeline>(input, settings, m_session->clock.get());
    m_session->audio->setMuted(m_muted);
    connect(m_session->audio.get(), &AudioPipeline::finished, this, &ReceiverController::onAudioFinished);
    m_session->audio->start();
}

void ReceiverController::onAudioFinished(const AudioResult &result)
{
    if (!m_session)
        return;
    m_session->audioResult = result;
    if (!result.ok && !result.outputFailed) // the picture goes on without it (a failed file is the summary's)
        emit notice(QStringLiteral("audio: %1: playing without sound").arg(result.error));
    forwardResultIfDone();
}

void ReceiverController::onPipelineFinished(const PipelineResult &result)
{
    if (!m_session)
        return;
    m_session->result = result;
    if (!result.ok && m_session->audio) // the stream is over for the sound too
        m_session->audio->stop();
    forwardResultIfDone();
}

// The sender's answer needs the sound's figures as well (RECEIVED), so the
// video result waits here for the audio pipeline, which ends when its queue
// has drained (the connection finished it) or it gave up.
void ReceiverController::forwardResultIfDone()
{
    Session &s = *m_session;
    if (!s.result || s.resultForwarded || (s.audio && !s.audioResult))
        return;
    // An output file that could not be written fails the stream, as
    // --framemd5 does in the video pipeline: the sender hears ERROR, not "done".
    if (s.audioResult && s.audioResult->outputFailed && s.result->ok) {
        s.result->ok = false;
        s.result->error = s.audioResult->error;
    }
    if (s.recorder && !s.recorder->close() && s.result->ok) { // both pipelines are done: nothing writes any more
        s.result->ok = false;
        s.result->error = s.recorder->error();
    }
    if (s.audioResult) {
        s.result->audioFrames = s.audioResult->frames;
        s.result->audioDecodeErrors = s.audioResult->decodeErrors;
        s.result->audioUnderruns = s.audioResult->underruns;
    }
    s.resultForwarded = true;
    // The connection turns it into the sender's answer, then finishes.
    QMetaObject::invokeMethod(m_server, [server = m_server, result = *s.result] {
        server->pipelineFinished(result);
    }, Qt::QueuedConnection);
    completeIfDone();
}

void ReceiverController::completeIfDone()
{
    if (!m_session || !m_session->connectionDone || !m_session->resultForwarded)
        return;
    emit streamEnding(); // while streamStats() still answers
    // Owned here until the end of this function: the summary reads from it,
    // and destroying it joins the (finished) pipeline thread.
    const std::unique_ptr<Session> done = std::move(m_session);
    const Session &s = *done;
    const PipelineResult &r = *s.result;
    const quint64 lost = s.endOfStream && s.sent.accessUnits > s.stats.accessUnits
        ? s.sent.accessUnits - s.stats.accessUnits : 0;
    // The same rule as the sender's for "done": every frame arrived and was
    // decoded, or was skipped on purpose to stay live.
    const quint64 accounted = r.framesDecoded() + r.skippedByDecoder + s.stats.skippedToStayLive;
    const quint64 undecoded = s.stats.accessUnits > accounted ? s.stats.accessUnits - accounted : 0;
    // The sound counts too: a failed audio pipeline or sound dropped on the way.
    const bool audioClean = !s.audio || ((!s.audioResult || s.audioResult->ok) && s.stats.audioDropped == 0);
    const bool clean = s.endOfStream && r.ok && lost == 0 && undecoded == 0 && audioClean;

    QString summary = QStringLiteral("stream from %1 ended (%2): ").arg(s.peer, s.reason);
    if (s.endOfStream)
        summary += QStringLiteral("%1 of %2 frames received").arg(s.stats.accessUnits).arg(s.sent.accessUnits);
    else
        summary += QStringLiteral("%1 frames received").arg(s.stats.accessUnits);
    summary += QStringLiteral(", %1 decoded, %2 decode errors").arg(r.framesDecoded()).arg(r.decodeErrors);
    if (r.decodeOnlyFrames)
        summary += QStringLiteral(", %1 of them decode-only (before the edit list's start: not shown)")
                       .arg(r.decodeOnlyFrames);
    if (r.skippedByDecoder)
        summary += QStringLiteral(", %1 skipped by the decoder to keep up (non-reference pictures)")
                       .arg(r.skippedByDecoder);
    if (r.concealedFrames)
        summary += QStringLiteral(", %1 frames concealed").arg(r.concealedFrames);
    if (s.stats.skippedToStayLive)
        summary += QStringLiteral(", %1 skipped by the receiver to stay live (this machine decodes slower "
                                  "than the video)").arg(s.stats.skippedToStayLive);
    if (s.audio)
        summary += QStringLiteral(", %1 audio frames decoded, %2 underruns").arg(r.audioFrames).arg(r.audioUnderruns);
    if (r.audioDecodeErrors)
        summary += QStringLiteral(", %1 audio decode errors (concealed)").arg(r.audioDecodeErrors);
    if (s.stats.audioDropped && s.audio)
        summary += QStringLiteral(", %1 audio packets dropped").arg(s.stats.audioDropped);
    if (s.audioResult && s.audioResult->untimedPackets)
        summary += QStringLiteral(", %1 audio packets played without their timestamps (too many queued)")
                       .arg(s.audioResult->untimedPackets);
    if (r.displayErrors)
        summary += QStringLiteral(", %1 frames not passed to the display").arg(r.displayErrors);
    if (lost)
        summary += QStringLiteral(", %1 LOST").arg(lost);
    if (undecoded && r.ok)
        summary += QStringLiteral(", %1 NOT DECODED").arg(undecoded);
    if (s.stats.malformedMessages)
        summary += QStringLiteral(", %1 malformed messages dropped").arg(s.stats.malformedMessages);
    if (s.stats.bytesDropped)
        summary += QStringLiteral(", %1 bytes dropped after the failure").arg(s.stats.bytesDropped);
    if (s.stats.sequenceGaps)
        summary += QStringLiteral(", %1 gaps in the sender's message numbering").arg(s.stats.sequenceGaps);
    if (!r.ok && !r.stopped)
        summary += QStringLiteral("; pipeline error: %1").arg(r.error);

    if (s.recorder) {
        if (!s.recorder->close() && r.error != s.recorder->error())
            summary += QStringLiteral("; %1").arg(s.recorder->error());
        else if (s.recorder->videoPacketsSkipped())
            summary += QStringLiteral(", %1 frames before the first keyframe not recorded")
                           .arg(s.recorder->videoPacketsSkipped());
        if (const quint64 audio = s.recorder->audioPacketsSkipped())
            summary += QStringLiteral(", %1 audio packets not recorded (before the first keyframe)").arg(audio);
    }
    if (s.streamStats)
        emit statsSummary(s.streamStats->summaryJson());
    emit streamEnded(summary, clean);
    if (m_shuttingDown) {
        closeIfDone();
        return;
    }
    if (m_options.once) {
        emit onceFinished(clean ? ExitOk : (r.ok ? ExitStreamIncomplete : ExitFailure));
        return;
    }
    QMetaObject::invokeMethod(m_server, &StreamServer::setIdle, Qt::QueuedConnection);
    emit waitingForSender(m_port);
    // Queued after setIdle(): the server is idle when it dials. A stream that
    // failed (a full sender, say) is not dialled again at once.
    if (m_options.dials() && clean)
        dialSender();
    else if (m_options.dials())
        QTimer::singleShot(kRedialMs, this, &ReceiverController::dialSender);
}

} // namespace h264link
