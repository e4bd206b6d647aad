#include "receiver_connection.h"

#include "annexb.h"
#include "io_trace.h"
#include "logging.h"
#include "secure_channel.h"

#include <QSslSocket>
#include <QTimer>

namespace h264link {

using namespace proto;

QString peerName(const QAbstractSocket &socket)
{
    // A dual-stack server sees IPv4 peers as ::ffff:a.b.c.d; show them as a.b.c.d.
    QHostAddress address = socket.peerAddress();
    bool isV4 = false;
    const quint32 v4 = address.toIPv4Address(&isV4);
    if (isV4)
        address = QHostAddress(v4);
    return QStringLiteral("%1:%2").arg(address.toString()).arg(socket.peerPort());
}

ReceiverConnection::ReceiverConnection(QTcpSocket *socket, std::shared_ptr<StreamInput> input,
                                       std::shared_ptr<StreamStats> stats, const QByteArray &key,
                                       Channel channel, const QString &helloName, bool audioWanted,
                                       bool everyFrameWanted, QObject *parent)
    : QObject(parent), m_socket(socket), m_input(std::move(input)), m_streamStats(std::move(stats)),
      m_handshakeTimer(new QTimer(this)), m_pingTimer(new QTimer(this)), m_idleTimer(new QTimer(this)),
      m_audioWanted(audioWanted), m_everyFrameWanted(everyFrameWanted),
      m_handshake(key, QStringLiteral("h264link-receiver " H264LINK_VERSION), channel)
{
    qRegisterMetaType<ConnectionStats>();
    qRegisterMetaType<StreamInfo>();
    qRegisterMetaType<EndOfStream>();
    m_socket->setParent(this);
    m_peer = peerName(*m_socket);
    m_socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    m_socket->setSocketOption(QAbstractSocket::KeepAliveOption, 1);
    m_socket->setReadBufferSize(kSocketReadBuffer);
    connect(&m_input->bytes, &ByteQueue::drained, this, &ReceiverConnection::onReadyRead, Qt::QueuedConnection);
    connect(&m_input->audio.bytes, &ByteQueue::drained, this, &ReceiverConnection::onReadyRead,
            Qt::QueuedConnection);
    connect(m_socket, &QTcpSocket::readyRead, this, &ReceiverConnection::onReadyRead);
    connect(m_socket, &QTcpSocket::disconnected, this, [this] {
        // What arrived before the close still counts, and some of it may
        // wait in the socket's buffer for room in the queue: the session ends
        // when it is all through (see onReadyRead), not now.
        m_senderGone = true;
        onReadyRead();
    });
    connect(m_socket, &QTcpSocket::errorOccurred, this, [this](QAbstractSocket::SocketError e) {
        // SecureChannel saw it first (it was connected first): a TLS record
        // that failed its check, or an alert. Closing now, with the sender's
        // bytes unread, would reset the connection and destroy the alert
        // that tells the sender why; so read and drop until it hangs up.
        // Queued: not from inside the TLS backend's own signal.
        if (const SecureChannel *secure = SecureChannel::of(qobject_cast<QSslSocket *>(m_socket));
            secure && !secure->failure().isEmpty()) {
            QMetaObject::invokeMethod(this, [this, why = secure->failure()] { failQuietly(why); },
                                      Qt::QueuedConnection);
            return;
        }
        if (e != QAbstractSocket::RemoteHostClosedError)
            finish(false, QStringLiteral("connection error: %1").arg(m_socket->errorString()));
    });

    m_handshakeTimer->setSingleShot(true);
    connect(m_handshakeTimer, &QTimer::timeout, this, [this] {
        send(MessageType::Error, serialize(ErrorInfo{ErrTimeout, QStringLiteral("handshake timed out")}));
        finish(false, QStringLiteral("no complete h264link handshake within %1 s")
                          .arg(kHandshakeTimeoutMs / 1000));
    });
    m_handshakeTimer->start(kHandshakeTimeoutMs);
    // PING/PONG measures the round trip and the offset between the two
    // machines' clocks, so latency figures hold across machines.
    connect(m_pingTimer, &QTimer::timeout, this, [this] { send(MessageType::Ping, {}); });
    m_idleTimer->setSingleShot(true);
    connect(m_idleTimer, &QTimer::timeout, this, [this] {
        finish(false, QStringLiteral("the sender stopped responding (nothing for %1 s)")
                          .arg(kInactivityTimeoutMs / 1000));
    });
    m_idleTimer->start(kInactivityTimeoutMs);
    if (m_socket->state() != QAbstractSocket::ConnectedState) // gone before we started
        QMetaObject::invokeMethod(this, [this] { finish(false, QStringLiteral("sender disconnected")); },
                                  Qt::QueuedConnection);
    m_handshake.setName(helloName);
    apply(m_handshake.start());
    QMetaObject::invokeMethod(this, &ReceiverConnection::onReadyRead, Qt::QueuedConnection);
    // ByteQueue is thread-safe: the probes may read it from the GUI thread.
    const auto queueFill = [](const ByteQueue &queue, const QString &name) {
        return trace::Fill{name, qint64(queue.queuedBytes()), qint64(queue.capacity()), QStringLiteral("bytes")};
    };
    m_fillProbes[0] = trace::Tracer::instance().addFillProbe(
        [input = m_input, queueFill] { return queueFill(input->bytes, QStringLiteral("receiver video queue")); });
    m_fillProbes[1] = trace::Tracer::instance().addFillProbe(
        [input = m_input, queueFill] { return queueFill(input->audio.bytes, QStringLiteral("receiver audio queue")); });
}

ReceiverConnection::~ReceiverConnection()
{
    for (const int id : m_fillProbes)
        trace::Tracer::instance().removeFillProbe(id);
    finishQueues();
}

void ReceiverConnection::finishQueues()
{
    m_input->bytes.finish();
    m_input->audio.bytes.finish();
}

void ReceiverConnection::onReadyRead()
{
    if (m_failing) { // told the sender why; now only waiting for its close
        m_stats.bytesDropped += quint64(m_socket->readAll().size());
        if (m_senderGone && !m_finished)
            finish(false, m_finishReason); // the summary gives the pipeline's error
        return;
    }
    if (m_socket->bytesAvailable() > 0)
        m_idleTimer->start(kInactivityTimeoutMs);
    while (!m_finished && !m_failing && m_socket->bytesAvailable() > 0) {
        // Backpressure without blocking this thread: while the queue is full,
        // leave the bytes in the socket (its read buffer is bounded, so TCP
        // slows the sender down) and come back when the queue has drained.
        // This thread stays free to answer PING and to refuse other senders.
        // A live stream is read on: its bound is in time (pushMedia).
        if (!m_input->maySkip.load()
            && (m_input->bytes.isFull() || (m_audioQueued && m_input->audio.bytes.isFull()))) {
            m_idleTimer->stop(); // waiting on our own decoder, not on the sender
            return;
        }
        const QByteArray bytes = m_socket->read(64 * 1024);
        m_stats.bytesReceived += quint64(bytes.size());
        const bool ok = m_decoder.feed(bytes);
        while (m_decoder.hasMessage() && !m_finished && !m_failing)
            handle(m_decoder.takeMessage());
        if (!ok) {
            const QString reason = QStringLiteral("protocol error from %1: %2")
                                       .arg(m_peer, m_decoder.errorString());
            send(MessageType::Error, serialize(ErrorInfo{ErrProtocol, m_decoder.errorString()}));
            finish(false, reason);
        }
    }
    if (m_senderGone && !m_finished && m_socket->bytesAvailable() == 0) {
        if (m_endOfStreamReceived)
            finish(true, QStringLiteral("end of stream"));
        else
            finish(false, QStringLiteral("sender disconnected"));
    }
}

void ReceiverConnection::handle(const Message &message)
{
    m_stats.sequenceGaps = m_decoder.sequenceGaps();
    if (!m_handshake.isDone()) {
        apply(m_handshake.onMessage(message)); // nothing else counts before ACCEPTED
        return;
    }
    if (m_endOfStreamReceived
        && (message.type == MessageType::Media || message.type == MessageType::Audio
            || message.type == MessageType::EndOfStream
            || message.type == MessageType::StreamInfo)) {
        // The queue is finished: media now would vanish uncounted, and the
        // sender's totals no longer describe what it sent.
        const QString what = QStringLiteral("%1 after END_OF_STREAM").arg(typeName(message.type));
        send(MessageType::Error, serialize(ErrorInfo{ErrUnexpected, what}));
        finish(false, QStringLiteral("%1 sent %2").arg(m_peer, what));
        return;
    }
    switch (message.type) {
    case MessageType::StreamInfo:
        if (const auto info = parseStreamInfo(message.payload)) {
            // The first one decides where the sound goes: the controller
            // starts the audio pipeline on the same announcement.
            if (!m_streamInfoSeen)
                m_audioQueued = m_audioWanted && info->hasAudio();
            m_streamInfoSeen = true;
            m_input->videoReorderDepth.store(info->videoReorderDepth);
            m_input->maySkip.store(info->isLive() && !m_everyFrameWanted);
            m_input->live.store(info->isLive());
            emit streamInfoReceived(*info);
        } else
            ++m_stats.malformedMessages;
        break;
    case MessageType::Media: {
        const auto media = parseMedia(message.payload);
        if (!media) {
            ++m_stats.malformedMessages;
            break;
        }
        ++m_stats.mediaMessages;
        m_stats.mediaBytes += quint64(media->data.size());
        if (message.flags & AccessUnitEnd)
            ++m_stats.accessUnits;
        pushMedia(message, media->ptsUs, std::move(media->data));
        break;
    }
    case MessageType::EndOfStream:
        // The connection stays open until the pipeline has worked through
        // what arrived (onPipelineFinished): if that fails, the sender, which
        // waits for our close, still hears why. PINGs go on meanwhile.
        m_sent = parseEndOfStream(message.payload).value_or(EndOfStream{});
        m_endOfStreamReceived = true;
        // No keyframe will come to skip to: a live decoder behind drops the
        // rest of the last GOP rather than show it seconds late (nothing
        // after it refers to it, so the cut is clean).
        if (m_input->maySkip.load() && backlogUs() > kMaxBacklogUs)
            cutUnread();
        m_idleTimer->stop();
        finishQueues();
        break;
    case MessageType::Ping:
        // A peer that pings but never reads would make our replies pile up.
        if (m_socket->bytesToWrite() > kMaxUnsentBytes) {
            finish(false, QStringLiteral("%1 does not read what it asks for (PING flood)").arg(m_peer));
            break;
        }
        send(MessageType::Pong, serialize(Pong{message.sequence, message.timestampUs}));
        break;
    case MessageType::Error:
        finish(false, QStringLiteral("the sender reported: %1")
                          .arg(parseErrorInfo(message.payload).value_or(ErrorInfo{}).reason));
        break;
    case MessageType::Pong:
        if (const auto pong = parsePong(message.payload))
            m_streamStats->onClockSample(pong->pingTimestampUs, message.timestampUs, nowMicros(),
                                         pong->framesSkipped);
        break;
    case MessageType::Audio:
        if (auto audio = parseAudio(message.payload)) {
            ++m_stats.audioMessages;
            m_stats.audioBytes += quint64(audio->data.size());
            pushAudio(message, std::move(*audio));
        } else {
            ++m_stats.malformedMessages;
        }
        break;
    case MessageType::Hello:
    case MessageType::AuthChallenge:
    case MessageType::AuthResponse:
    case MessageType::Accepted:
        send(MessageType::Error, serialize(ErrorInfo{ErrUnexpected, QStringLiteral("handshake is over")}));
        finish(false, QStringLiteral("%1 sent %2 after the handshake").arg(m_peer, typeName(message.type)));
        break;
    case MessageType::Received:
        send(MessageType::Error, serialize(ErrorInfo{ErrUnexpected, QStringLiteral("RECEIVED is the receiver's")}));
        finish(false, QStringLiteral("%1 sent RECEIVED, which only a receiver sends").arg(m_peer));
        break;
    }
}

void ReceiverConnection::apply(const HandshakeStep &step)
{
    for (const auto &out : step.send)
        send(out.type, out.payload);
    if (step.verdict == HandshakeStep::Refused) {
        finish(false, QStringLiteral("refused %1: %2").arg(m_peer, step.reason));
    } else if (step.verdict == HandshakeStep::Accepted) {
        m_handshakeTimer->stop();
        // The version both HELLOs agreed on (the decoder fixed it on the
        // sender's HELLO); HELLO and ERROR keep their frozen header version.
        if (const auto version = m_decoder.negotiatedVersion())
            m_writer.setVersion(*version);
        send(MessageType::Ping, {});
        m_pingTimer->start(kPingIntervalMs);
        qCDebug(lcReceiver).noquote() << "sender" << m_peer << "is" << m_handshake.senderSoftware();
    }
}

// Hands MEDIA bytes to the demuxer, and ends each access unit with an access
// unit delimiter. The raw H.264 parser only knows a frame is complete when
// the next one starts, which would hold every frame back by one frame
// interval; the delimiter *is* the start of the next access unit, so the
// parser lets the frame go the moment its last byte is here. The framing
// knows where access units end (AU_END), so nothing is guessed.
void ReceiverConnection::pushMedia(const Message &message, qint64 ptsUs, QByteArray data)
{
    static const QByteArray kAccessUnitDelimiter("\0\0\0\1\x09\xf0", 6);
    if (trace::Tracer::enabled()) { // the unit as the sender sent it, for its NAL units
        if (message.flags & AccessUnitStart)
            m_traceAuBytes.clear();
        if (m_traceAuBytes.size() < qsizetype(kMaxPayloadSize))
            m_traceAuBytes += data;
    }
    if (message.flags & AccessUnitStart) {
        m_auSentUs = message.timestampUs;
        m_auBytes = 0;
        m_auPtsUs = ptsUs;
        m_dropUnit = m_input->maySkip.load() && !keepsUnit(message.flags & Keyframe);
        // The stream's own delimiter would now be a second one: drop it.
        const auto units = annexb::split(data, true);
        if (m_audAppended && units.size() > 1 && units[0].type == annexb::AccessUnitDelimiter)
            data.remove(0, units[1].offset - (units[1].offset >= 4 && data[units[1].offset - 4] == 0 ? 4 : 3));
        m_auOffset = m_input->bytes.bytesPushed();
    }
    m_auBytes += data.size();
    if (m_dropUnit) {
        if (message.flags & AccessUnitEnd) {
            m_traceAuBytes.clear();
            skippedToStayLive(m_streamStats->onAccessUnit(m_auSentUs, nowMicros(), m_auBytes));
        }
        return;
    }
    if (message.flags & AccessUnitEnd) {
        // Indexed before the unit's last bytes reach the queue: the parser
        // cannot emit its packet earlier, so the demuxer always finds it.
        const qint64 arrivedUs = nowMicros();
        const qint64 id = m_streamStats->onAccessUnit(m_auSentUs, arrivedUs, m_auBytes);
        m_input->units.add(AccessUnitMark{m_auOffset, m_auPtsUs, id, (message.flags & DecodeOnly) != 0, arrivedUs});
        if (trace::Tracer::enabled())
            trace::Tracer::instance().record(trace::accessUnitNals(std::exchange(m_traceAuBytes, {}), m_auPtsUs, false));
        data += kAccessUnitDelimiter;
        m_audAppended = true;
    }
    m_input->bytes.push(data); // false only once the pipeline is over; its result says why
}

// Live (StreamInput::maySkip), at the start of each access unit: whether
// it is queued. Keyframes always are, and one that finds the decoder behind
// first cuts what it has not reached; past the byte bound the units that
// follow are dropped until the next keyframe (the newest go: without a
// keyframe, nothing older can be cut at a point the decoder could restart).
bool ReceiverConnection::keepsUnit(bool keyframe)
{
    const qint64 backlog = backlogUs();
    m_streamStats->onBacklog(backlog);
    if (keyframe) {
        m_dropUntilKeyframe = false;
        if (backlog > kMaxBacklogUs)
            cutUnread();
        return true;
    }
    if (!m_dropUntilKeyframe && m_input->bytes.queuedBytes() > kMaxLiveQueueBytes)
        m_dropUntilKeyframe = true;
    return !m_dropUntilKeyframe;
}

// How long the oldest access unit not yet demuxed has waited (0: none waits).
qint64 ReceiverConnection::backlogUs() const
{
    const auto oldest = m_input->units.oldest();
    return oldest && oldest->arrivalUs >= 0 ? nowMicros() - oldest->arrivalUs : 0;
}

// The demuxer's AVIO buffer and the h264 parser hold bytes up to the queue's
// read offset: the unit they are in completes, and the cut is at the first
// unit start after it, just after the delimiter pushMedia appended to the
// unit before. The reader may pass that start meanwhile; then truncate()
// refuses, and the next start is tried.
void ReceiverConnection::cutUnread()
{
    for (;;) {
        const auto cut = m_input->units.firstStartFrom(m_input->bytes.readOffset());
        if (!cut)
            return; // nothing queued whole: the reader holds all of it
        if (!m_input->bytes.truncate(*cut)) {
            if (m_input->bytes.readOffset() > *cut)
                continue;
            return; // not queued (a cancelled queue): nothing to cut
        }
        for (const AccessUnitMark &mark : m_input->units.dropFrom(*cut))
            skippedToStayLive(mark.statsId);
        return;
    }
}

void ReceiverConnection::skippedToStayLive(qint64 statsId)
{
    ++m_stats.skippedToStayLive;
    m_streamStats->onSkippedToStayLive(statsId);
    if (!std::exchange(m_toldSkipping, true))
        qCInfo(lcReceiver).noquote()
            << "this machine decodes slower than the video: skipping to the next keyframe to stay live";
}

// Indexed before its bytes are queued, as pushMedia does, so the audio
// demuxer always finds the packet's pts and trim.
void ReceiverConnection::pushAudio(const Message &message, Audio audio)
{
    if (!m_audioQueued) {
        ++m_stats.audioDropped; // --no-audio, or a stream that announced none
        return;
    }
    if (m_input->maySkip.load() && m_input->audio.bytes.isFull()) {
        ++m_stats.audioDropped; // live: the socket is read on, so this packet goes
        m_audioGap = true;
        return;
    }
    const bool discontinuity = (message.flags & 0x0001) != 0 || std::exchange(m_audioGap, false);
    m_input->audio.packets.add(AudioPacketMark{m_input->audio.bytes.bytesPushed(), audio.ptsUs,
                                               audio.skipStartSamples, audio.discardEndSamples,
                                               discontinuity, (message.flags & 0x0002) != 0});
    if (!m_input->audio.bytes.push(audio.data))
        ++m_stats.audioDropped; // the audio pipeline gave up (its warning says why)
}

// The one word on the pipeline's end. After END_OF_STREAM the sender waits
// for our verdict. Mid-stream, a failure is told as ERROR 9 (sayGoodbye); a
// pipeline that ended well without END_OF_STREAM ended because this
// connection did (it finished the queue), so there is nothing left to say.
void ReceiverConnection::onPipelineFinished(const PipelineResult &result)
{
    if (m_failing || m_finished)
        return;
    if (result.stopped) {
        shutDown();
        return;
    }
    if (m_endOfStreamReceived) {
        if (!result.ok) {
            send(MessageType::Error, serialize(ErrorInfo{ErrReceiverFailed, result.error}));
            finish(true, QStringLiteral("the receiver failed after the end of the stream"));
            return;
        }
        send(MessageType::Received, serialize(Received{m_stats.accessUnits, result.framesDecoded(),
                                                       m_stats.audioMessages, result.audioFrames,
                                                       result.skippedByDecoder + m_stats.skippedToStayLive}));
        finish(true, QStringLiteral("end of stream"));
        return;
    }
    if (result.ok) {
        finish(false, QStringLiteral("the decoder stopped"));
        return;
    }
    sayGoodbye(ErrReceiverFailed, result.error, QStringLiteral("the receiver failed"));
}

void ReceiverConnection::shutDown()
{
    if (m_failing || m_finished)
        return;
    sayGoodbye(ErrShuttingDown, QStringLiteral("the receiver was closed"),
               QStringLiteral("the receiver was closed"));
}

// This side gives up: the sender hears why as an ERROR, rather than as just
// a closed connection. Then this side reads and drops what still comes
// until the sender hangs up: closing with its bytes unread would reset the
// connection, and a reset can destroy the ERROR before the sender reads it.
// At most kFailingGraceMs.
void ReceiverConnection::sayGoodbye(ErrorCode code, const QString &reason, const QString &finishReason)
{
    send(MessageType::Error, serialize(ErrorInfo{code, reason}));
    m_socket->flush();
    beginFailing(finishReason);
}

// A TLS failure: the TLS alert already told the sender, so no ERROR.
void ReceiverConnection::failQuietly(const QString &finishReason)
{
    if (m_failing || m_finished)
        return;
    beginFailing(finishReason);
}

void ReceiverConnection::beginFailing(const QString &finishReason)
{
    m_failing = true;
    m_finishReason = finishReason;
    m_handshakeTimer->stop();
    m_pingTimer->stop();
    m_idleTimer->stop();
    finishQueues();
    QTimer::singleShot(kFailingGraceMs, this, [this] { finish(false, m_finishReason); });
    onReadyRead();
}

void ReceiverConnection::send(MessageType type, const QByteArray &payload)
{
    if (m_socket->state() == QAbstractSocket::ConnectedState)
        m_socket->write(m_writer.encode(type, payload));
}

void ReceiverConnection::finish(bool endOfStream, const QString &reason)
{
    if (m_finished)
        return;
    m_finished = true;
    m_handshakeTimer->stop();
    m_pingTimer->stop();
    m_idleTimer->stop();
    finishQueues(); // the demuxers drain what arrived, then see end of file
    m_socket->disconnect(this);
    m_socket->flush();
    m_socket->disconnectFromHost();
    emit finished(endOfStream, reason, m_stats, m_sent);
}

} // namespace h264link
