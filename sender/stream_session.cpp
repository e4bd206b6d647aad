#include "stream_session.h"

#include "annexb_muxer.h"
#include "framed_media_device.h"
#include "logging.h"
#include "media_source.h"
#include "protocol.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFileInfo>
#include <QTcpSocket>
#include <QThread>
#include <QTimer>
#include <algorithm>

namespace h264link {

using namespace proto;

namespace {

QString humanBytes(quint64 bytes)
{
    if (bytes >= 10'000'000)
        return QStringLiteral("%1 MB").arg(double(bytes) / 1e6, 0, 'f', 1);
    return QStringLiteral("%1 kB").arg(double(bytes) / 1e3, 0, 'f', 1);
}

qint64 toMicros(int64_t ts, AVRational tb)
{
    return ts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : av_rescale_q(ts, tb, AV_TIME_BASE_Q);
}

StreamInfo makeStreamInfo(const MediaSource &source)
{
    const AVCodecParameters *par = source.stream()->codecpar;
    StreamInfo info;
    info.width = quint16(par->width);
    info.height = quint16(par->height);
    info.frameRateNum = quint32(source.frameRate().num);
    info.frameRateDen = quint32(source.frameRate().den);
    info.timeBaseNum = quint32(source.timeBase().num);
    info.timeBaseDen = quint32(source.timeBase().den);
    info.durationUs = source.durationUs();
    info.sourceName = QFileInfo(source.path()).fileName();
    return info;
}

} // namespace

StreamSession::StreamSession(SenderOptions options, QObject *parent)
    : QObject(parent), m_options(std::move(options))
{
    qRegisterMetaType<SenderProgress>();
}

StreamSession::~StreamSession() = default;

void StreamSession::run()
{
    QString message;
    const int code = stream(&message);
    emit finished(code, message);
}

int StreamSession::stream(QString *message)
{
    QString error;
    Playback play;
    play.source = MediaSource::open(m_options.file, &error);
    if (!play.source) {
        *message = error;
        return ExitBadInput;
    }
    const AVStream *st = play.source->stream();
    play.startUs = st->start_time == AV_NOPTS_VALUE ? 0 : toMicros(st->start_time, st->time_base);
    const AVRational rate = play.source->frameRate();
    play.frameUs = rate.num > 0 ? av_rescale(1'000'000, rate.den, rate.num) : 40'000;
    play.progress.durationUs = play.source->durationUs();
    QElapsedTimer elapsed;
    elapsed.start();

    // One pass per connection. With --retry a lost or refused-as-busy
    // connection is tried again, and the file continues where it was.
    for (bool reconnect = false;; reconnect = true) {
        QTcpSocket socket;
        FramedMediaDevice framing(&socket);
        framing.open(QIODevice::ReadWrite);
        framing.setAcceptMedia(false);
        socket.setReadBufferSize(kMaxInboundBytes); // a receiver only sends small control messages
        m_peerError.clear();
        m_peerErrorCode = 0;
        m_closing = false;
        m_received.reset();
        int code = ExitOk;
        if (!connectToReceiver(socket, message))
            code = m_stopRequested.load() ? ExitOk : ExitConnectionFailed;
        else if (handshake(socket, framing, &code, message))
            code = sendStream(play, socket, framing, reconnect, message);
        if (code == ExitOk)
            break;
        const bool retryable = code == ExitConnectionFailed
            || (code == ExitProtocolError && (m_peerErrorCode == ErrBusy || m_peerErrorCode == ErrTimeout));
        if (!m_options.retry || !retryable || m_stopRequested.load())
            return code;
        emit retrying(*message);
        if (play.everConnected && !m_options.fast) {
            if (!playUnsent(play, kRetryIntervalMs, message))
                return code;
        } else { // not started yet, or --fast: wait in place
            QDeadlineTimer pause(kRetryIntervalMs);
            while (!pause.hasExpired() && !m_stopRequested.load())
                QThread::msleep(50);
        }
        if (m_stopRequested.load())
            return code;
    }
    const SenderProgress &p = play.progress;
    *message = QStringLiteral("%1: sent %2 frames (%3) to %4:%5 in %6 s")
                   .arg(m_stopRequested.load() ? "stopped" : "done")
                   .arg(p.accessUnits).arg(humanBytes(p.bytes), m_options.host)
                   .arg(m_options.port).arg(double(elapsed.elapsed()) / 1000.0, 0, 'f', 1);
    if (m_received)
        *message += QStringLiteral("; the receiver confirmed %1 frames decoded").arg(m_received->framesDecoded);
    if (play.skipped)
        *message += QStringLiteral(" (%1 frames skipped to stay live: while reconnecting or "
                                   "when the link was too slow)").arg(play.skipped);
    return ExitOk;
}

// The next packet of the file, starting again at the end with --loop. 0,
// AVERROR_EOF at the real end, or an error with *message set.
int StreamSession::readNext(Playback &play, AVPacket *packet, QString *message)
{
    for (;;) {
        int ret = play.source->readPacket(packet);
        const bool anythingYet = play.progress.accessUnits + play.skipped > 0;
        if (ret == AVERROR_EOF && m_options.loop && anythingYet) {
            QString error;
            if (!play.source->rewind(&error)) {
                *message = error;
                return AVERROR(EIO);
            }
            play.loopOffsetUs = play.timelineEndUs;
            ++play.progress.loops;
            continue;
        }
        if (ret >= 0 && (packet->flags & AV_PKT_FLAG_CORRUPT))
            ret = AVERROR_INVALIDDATA; // a short read: the file ends inside this frame
        if (ret < 0 && ret != AVERROR_EOF)
            *message = QStringLiteral("'%1' is truncated or damaged: frame %2 cannot be read (%3)")
                           .arg(QFileInfo(play.source->path()).fileName())
                           .arg(play.progress.accessUnits + play.skipped + 1).arg(averrorDetail(ret));
        return ret;
    }
}

// Where `packet` is on the sender's continuous timeline (microseconds; the
// send clock follows dts, i.e. decode order), and the position it means in
// the file. Loops shift the packet's timestamps so the muxer sees them rise.
qint64 StreamSession::placeOnTimeline(Playback &play, AVPacket *packet)
{
    const AVRational tb = play.source->timeBase();
    SenderProgress &p = play.progress;
    qint64 mediaUs = toMicros(packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts, tb);
    if (mediaUs == AV_NOPTS_VALUE) // raw .h264 may have neither
        mediaUs = play.startUs + qint64(p.accessUnits + play.skipped) * play.frameUs;
    mediaUs += play.loopOffsetUs - play.startUs;
    const qint64 ptsUs = toMicros(packet->pts, tb);
    // A pass ends one frame after its last picture, in pts: with B-frames dts
    // runs behind pts, and an end taken from dts repeats pictures' times at
    // the seam and runs the loop's clock fast.
    const qint64 endUs = ptsUs == AV_NOPTS_VALUE ? mediaUs : ptsUs - play.startUs + play.loopOffsetUs;
    play.timelineEndUs = qMax(play.timelineEndUs, endUs + play.frameUs);
    p.positionUs = qMax<qint64>(0, ptsUs == AV_NOPTS_VALUE ? mediaUs - play.loopOffsetUs
                                                           : ptsUs - play.startUs);
    if (play.loopOffsetUs) {
        const int64_t shift = av_rescale_q(play.loopOffsetUs, AV_TIME_BASE_Q, tb);
        if (packet->pts != AV_NOPTS_VALUE)
            packet->pts += shift;
        if (packet->dts != AV_NOPTS_VALUE)
            packet->dts += shift;
    }
    return mediaUs;
}

// No receiver, but one was there: a live sender keeps its place on the clock,
// as a camera would, and the frames go by unsent (counted as skipped). False
// at the end of the file or on a read error, with *message set.
bool StreamSession::playUnsent(Playback &play, int forMs, QString *message)
{
    QElapsedTimer elapsed;
    elapsed.start();
    PacketPtr packet = makePacket();
    while (elapsed.elapsed() < forMs && !m_stopRequested.load()) {
        const int ret = readNext(play, packet.get(), message);
        if (ret < 0) {
            if (ret == AVERROR_EOF)
                *message = QStringLiteral("the file ended while no receiver was connected");
            return false;
        }
        QDeadlineTimer due(play.pacer.delayUs(placeOnTimeline(play, packet.get())) / 1000, Qt::PreciseTimer);
        av_packet_unref(packet.get());
        ++play.skipped;
        ++play.progress.skippedFrames;
        m_framesSkipped.store(play.progress.skippedFrames);
        while (!due.hasExpired() && !m_stopRequested.load())
            QThread::msleep(static_cast<unsigned long>(std::clamp<qint64>(due.remainingTime(), 1, 50)));
    }
    reportProgress(play.progress, false);
    return true;
}

// Streams on one connection until the end of the file (END_OF_STREAM, then
// ExitOk), a stop request (the same), or an error. After a reconnect the
// receiver's decoder starts from nothing, so frames up to the next keyframe
// are skipped; the fresh muxer puts SPS/PPS in front of that keyframe.
int StreamSession::sendStream(Playback &play, QTcpSocket &socket, FramedMediaDevice &framing,
                              bool waitForKeyframe, QString *message)
{
    QString error;
    MediaSource &source = *play.source;
    framing.sendMessage(MessageType::StreamInfo, serialize(makeStreamInfo(source)));
    auto muxer = AnnexBMuxer::create(source.stream()->codecpar, source.timeBase(), &framing, &error);
    if (!muxer) {
        *message = error;
        return ExitFailure;
    }
    const QString name = QFileInfo(source.path()).fileName();
    SenderProgress &p = play.progress;
    play.everConnected = true;
    if (waitForKeyframe) // a new receiver: SPS/PPS may appear only once in the file
        framing.prependToNextKeyframe(play.parameterSets);
    play.pacer.reset();
    PacketPtr packet = makePacket();
    quint64 bytesCounted = 0; // of this connection's framing, already in p.bytes
    if (!m_options.fast) {
        // Live: a fixed kernel buffer, so the queue we bound below is most of
        // the queue there is (autotuning would add megabytes of latency).
        socket.setSocketOption(QAbstractSocket::SendBufferSizeSocketOption, kLiveSocketBuffer);
    }
    bool catchingUp = false;
    DrainRate linkRate;
    QElapsedTimer clock;
    clock.start();

    while (!m_stopRequested.load()) {
        const int ret = readNext(play, packet.get(), message);
        if (ret == AVERROR_EOF)
            break;
        if (ret < 0) {
            abortStream(socket, framing, *message);
            return ExitBadInput;
        }
        const qint64 mediaUs = placeOnTimeline(play, packet.get());
        if (waitForKeyframe && !(packet->flags & AV_PKT_FLAG_KEY)) {
            ++play.skipped;
            ++p.skippedFrames;
            m_framesSkipped.store(p.skippedFrames);
            av_packet_unref(packet.get());
            continue;
        }
        waitForKeyframe = false;

        if (!m_options.fast && !waitUntil(play.pacer.delayUs(mediaUs), socket, framing))
            break; // stopped, or the connection broke: checkPeer() below says which
        if (!checkPeer(socket, framing, message))
            return lostConnectionCode();
        // Live and falling behind (a slow link): rather than queue without
        // bound, drop whole GOPs until the queue drains, then resume at a
        // keyframe. Every frame the receiver gets is still decodable.
        if (!m_options.fast) {
            linkRate.sample(clock.elapsed(), qint64(framing.mediaBytesSent()) - socket.bytesToWrite());
            const qint64 bound = linkRate.queueBound();
            if (socket.bytesToWrite() > bound)
                catchingUp = true;
            if (catchingUp && (packet->flags & AV_PKT_FLAG_KEY) && socket.bytesToWrite() <= bound / 2)
                catchingUp = false;
            if (catchingUp) {
                ++play.skipped;
                ++p.skippedFrames;
                m_framesSkipped.store(p.skippedFrames);
                av_packet_unref(packet.get());
                continue;
            }
        }

        const AnnexBMuxer::Result written = muxer->writeAccessUnit(packet.get(), &error);
        av_packet_unref(packet.get());
        if (written == AnnexBMuxer::Result::BadPacket) {
            *message = QStringLiteral("'%1': frame %2 is not valid H.264 (%3)")
                           .arg(name).arg(p.accessUnits + play.skipped + 1).arg(error);
            abortStream(socket, framing, *message);
            return ExitBadInput;
        }
        if (written == AnnexBMuxer::Result::SendFailed) {
            if (!peerSaidWhy(framing, message))
                *message = error;
            return lostConnectionCode();
        }
        ++p.accessUnits;
        play.parameterSets = framing.parameterSets();
        p.bytes += framing.mediaBytesSent() - bytesCounted;
        bytesCounted = framing.mediaBytesSent();
        socket.flush();
        if (!drain(socket, kMaxQueuedBytes, -1) || !checkPeer(socket, framing, message)) {
            if (!peerSaidWhy(framing, message) && message->isEmpty())
                *message = QStringLiteral("the receiver closed the connection");
            return lostConnectionCode();
        }
        p.queuedBytes = socket.bytesToWrite();
        reportProgress(p, false);
    }
    if (!checkPeer(socket, framing, message))
        return lostConnectionCode();
    if (!muxer->finish(&error)) {
        *message = error;
        return ExitFailure;
    }
    framing.sendMessage(MessageType::EndOfStream,
                        serialize(EndOfStream{framing.accessUnitsSent(), framing.mediaBytesSent()}));
    if (!drain(socket, 0, 10000)) {
        if (!peerSaidWhy(framing, message))
            *message = QStringLiteral("the connection broke before the end of the stream was delivered");
        return lostConnectionCode();
    }
    int code = ExitOk;
    if (!confirmDelivery(framing, closeGracefully(socket, framing), message, &code))
        return code;
    p.queuedBytes = 0;
    reportProgress(p, true);
    return ExitOk;
}

// Waits in a local event loop, not in waitForConnected(): Stop (the window's
// button, Ctrl+C) must end a wait for an unreachable host at once, not when
// --connect-timeout runs out.
bool StreamSession::waitForConnection(QTcpSocket &socket)
{
    QEventLoop loop;
    QTimer poll;
    const QDeadlineTimer deadline(m_options.connectTimeoutMs);
    QObject::connect(&socket, &QTcpSocket::connected, &loop, &QEventLoop::quit);
    QObject::connect(&socket, &QTcpSocket::errorOccurred, &loop, &QEventLoop::quit);
    QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
        if (m_stopRequested.load() || deadline.hasExpired())
            loop.quit();
    });
    poll.start(20);
    socket.connectToHost(m_options.host, m_options.port);
    if (socket.state() != QAbstractSocket::ConnectedState && socket.state() != QAbstractSocket::UnconnectedState)
        loop.exec();
    return socket.state() == QAbstractSocket::ConnectedState;
}

bool StreamSession::connectToReceiver(QTcpSocket &socket, QString *message)
{
    if (!waitForConnection(socket)) {
        const QString where = QStringLiteral("%1:%2").arg(m_options.host).arg(m_options.port);
        // Still trying when the wait ended: the deadline passed (or Stop).
        const bool timedOut = socket.state() != QAbstractSocket::UnconnectedState;
        const QAbstractSocket::SocketError error = timedOut ? QAbstractSocket::SocketTimeoutError : socket.error();
        const QString errorText = socket.errorString();
        socket.abort();
        if (m_stopRequested.load())
            return false; // not a failure: run() reports what was sent
        switch (error) {
        case QAbstractSocket::HostNotFoundError:
            *message = QStringLiteral("cannot find host '%1': check the name, or use the IP "
                                      "address the receiver window shows").arg(m_options.host);
            break;
        case QAbstractSocket::ConnectionRefusedError:
            *message = QStringLiteral("connection to %1 refused: is the receiver running and "
                                      "listening on port %2?").arg(where).arg(m_options.port);
            break;
        case QAbstractSocket::SocketTimeoutError:
            *message = QStringLiteral("no answer from %1 within %2 s: is the host reachable, "
                                      "and does a firewall let port %3 through?")
                           .arg(where).arg(m_options.connectTimeoutMs / 1000.0).arg(m_options.port);
            break;
        default:
            *message = QStringLiteral("cannot connect to %1: %2").arg(where, errorText);
        }
        return false;
    }
    socket.setSocketOption(QAbstractSocket::LowDelayOption, 1); // no Nagle delay per frame
    emit connected(QStringLiteral("%1:%2").arg(m_options.host).arg(m_options.port));
    return true;
}

// Runs SenderHandshake until the receiver says ACCEPTED or refuses. The
// receiver's answers also prove that it is an h264link receiver at all.
bool StreamSession::handshake(QTcpSocket &socket, FramedMediaDevice &framing, int *exitCode,
                              QString *message)
{
    m_handshake = std::make_unique<SenderHandshake>(m_options.key,
                                                    QStringLiteral("h264link-sender " H264LINK_VERSION));
    m_verdict = HandshakeStep::Continue;
    connect(&framing, &FramedMediaDevice::controlMessageReceived, this,
            [this, &framing](const Message &m) { onControlMessage(framing, m); }, Qt::DirectConnection);
    for (const auto &out : m_handshake->start().send)
        framing.sendMessage(out.type, out.payload);

    QDeadlineTimer deadline(kHandshakeTimeoutMs);
    while (m_verdict == HandshakeStep::Continue) {
        if (!checkPeer(socket, framing, message)) {
            if (m_verdict == HandshakeStep::Refused)
                break; // the receiver explained itself before closing
            // An ERROR right behind ACCEPTED (the receiver failed at once)
            // is the receiver's word, not a broken connection.
            *exitCode = framing.protocolError() == ParseError::None && m_peerError.isEmpty()
                ? ExitConnectionFailed : ExitProtocolError;
            return false;
        }
        if (m_verdict != HandshakeStep::Continue)
            break; // decided by what checkPeer() just read: waiting again would cost a poll
        if (m_stopRequested.load()) {
            *message = QStringLiteral("stopped before streaming began");
            *exitCode = ExitOk;
            return false;
        }
        if (deadline.hasExpired()) {
            *message = QStringLiteral("%1:%2 accepted the connection but did not answer the h264link "
                                      "handshake within %3 s: is it a receiver (or a busy one)?")
                           .arg(m_options.host).arg(m_options.port).arg(kHandshakeTimeoutMs / 1000);
            *exitCode = ExitProtocolError;
            return false;
        }
        socket.waitForReadyRead(50);
    }
    if (m_verdict == HandshakeStep::Refused) {
        *message = m_refusal;
        *exitCode = ExitProtocolError;
        return false;
    }
    return true;
}

void StreamSession::onControlMessage(FramedMediaDevice &framing, const Message &m)
{
    if (m_handshake && !m_handshake->isDone()) {
        const HandshakeStep step = m_handshake->onMessage(m);
        for (const auto &out : step.send)
            framing.sendMessage(out.type, out.payload);
        if (step.verdict != HandshakeStep::Continue) {
            m_verdict = step.verdict;
            m_refusal = step.reason;
            m_peerErrorCode = step.peerErrorCode;
        }
        return;
    }
    if (m.type == MessageType::Ping && !m_closing)
        framing.sendMessage(MessageType::Pong, serialize(Pong{m.sequence, m.timestampUs, m_framesSkipped.load()}));
    else if (m.type == MessageType::Received)
        m_received = parseReceived(m.payload);
    else if (m.type == MessageType::Error) {
        const ErrorInfo error = parseErrorInfo(m.payload).value_or(ErrorInfo{});
        m_peerError = error.reason;
        m_peerErrorCode = error.code;
    }
}

// Sleeps until a packet is due while answering the receiver (PING) and
// watching the connection. False if stopped or disconnected.
bool StreamSession::waitUntil(qint64 delayUs, QTcpSocket &socket, FramedMediaDevice &framing)
{
    QDeadlineTimer deadline(delayUs / 1000, Qt::PreciseTimer);
    while (!deadline.hasExpired()) {
        if (m_stopRequested.load() || socket.state() != QAbstractSocket::ConnectedState)
            return false;
        const qint64 left = deadline.remainingTime();
        if (socket.waitForReadyRead(int(qMin<qint64>(left, 50))))
            framing.pollTransport();
    }
    return true;
}

// Blocks while more than `limit` bytes wait to be sent. False if the
// connection broke or `timeoutMs` (-1: none) passed.
bool StreamSession::drain(QTcpSocket &socket, qint64 limit, int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs < 0 ? QDeadlineTimer::Forever : QDeadlineTimer(timeoutMs));
    while (socket.bytesToWrite() > limit) {
        if (socket.state() != QAbstractSocket::ConnectedState || deadline.hasExpired())
            return false;
        if (m_stopRequested.load() && limit > 0)
            return true; // stopping: the final drain still delivers END_OF_STREAM
        socket.waitForBytesWritten(100);
    }
    return socket.state() == QAbstractSocket::ConnectedState;
}

// Reads what the receiver sent; true, with *message set, if it said why it
// ends the stream (ERROR). A failure seen while sending is reported with the
// receiver's reason when it gave one, not as a bare disconnect.
bool StreamSession::peerSaidWhy(FramedMediaDevice &framing, QString *message)
{
    framing.pollTransport();
    if (m_peerError.isEmpty())
        return false;
    *message = m_peerErrorCode == ErrReceiverFailed
        ? QStringLiteral("the receiver stopped the stream: %1").arg(m_peerError)
        : QStringLiteral("the receiver refused the stream: %1").arg(m_peerError);
    return true;
}

// A connection that ended with the receiver's ERROR is its word (4); one
// that just broke is a connection failure (3, which --retry retries).
int StreamSession::lostConnectionCode() const
{
    return m_peerError.isEmpty() ? ExitConnectionFailed : ExitProtocolError;
}

bool StreamSession::checkPeer(QTcpSocket &socket, FramedMediaDevice &framing, QString *message)
{
    if (peerSaidWhy(framing, message))
        return false;
    if (framing.protocolError() != ParseError::None) {
        *message = QStringLiteral("%1:%2 is not an h264link receiver: %3")
                       .arg(m_options.host).arg(m_options.port)
                       .arg(describe(framing.protocolError()));
        return false;
    }
    if (socket.state() != QAbstractSocket::ConnectedState) {
        *message = QStringLiteral("the receiver closed the connection");
        return false;
    }
    return true;
}

void StreamSession::DrainRate::sample(qint64 nowMs, qint64 bytesLeftQt)
{
    m_samples.push_back({nowMs, bytesLeftQt});
    while (m_samples.size() > 2 && nowMs - m_samples.front().first > kWindowMs)
        m_samples.pop_front();
}

// Half a second of what the link has actually carried lately: on a fast link
// that is half a second of video, on a slow one half a second of the link.
qint64 StreamSession::DrainRate::queueBound() const
{
    if (m_samples.size() < 2 || m_samples.back().first - m_samples.front().first < 500)
        return kMaxQueuedBytes / 16; // no estimate yet
    const qint64 ms = m_samples.back().first - m_samples.front().first;
    const qint64 perSecond = (m_samples.back().second - m_samples.front().second) * 1000 / ms;
    return qBound<qint64>(64 * 1024, perSecond / 2, kMaxQueuedBytes);
}

// Tells the receiver why the stream stops early, then closes.
void StreamSession::abortStream(QTcpSocket &socket, FramedMediaDevice &framing, const QString &reason)
{
    framing.sendMessage(MessageType::Error, serialize(ErrorInfo{ErrSourceFailed, reason}));
    drain(socket, 0, 2000);
    closeGracefully(socket, framing);
}

// After END_OF_STREAM (or our ERROR): read until the receiver closes. It
// closes once its decoder has worked through everything, after RECEIVED (or,
// if its decoder or output failed, an ERROR). Closing earlier, with its
// PINGs unread, would make our kernel send RST, and a reset makes the
// receiver's kernel throw away what the receiver has not read yet: the last
// frames and END_OF_STREAM. While its PINGs keep coming it is alive. After a
// Stop the wait is short (kStoppedCloseMs), but it still happens.
StreamSession::CloseWait StreamSession::closeGracefully(QTcpSocket &socket, FramedMediaDevice &framing)
{
    m_closing = true; // the stream is over: PINGs are read, not answered
    const bool stopped = m_stopRequested.load();
    QDeadlineTimer alive(kCloseTimeoutMs);
    QDeadlineTimer cap(stopped ? kStoppedCloseMs : kCloseCapMs);
    QElapsedTimer waited;
    waited.start();
    bool announced = false;
    CloseWait result = CloseWait::Closed;
    for (;;) {
        framing.pollTransport();
        if (!m_peerError.isEmpty()) {
            result = CloseWait::PeerError; // it said why, and sends nothing more
            break;
        }
        if (socket.state() != QAbstractSocket::ConnectedState)
            break;
        if (alive.hasExpired() || cap.hasExpired()) {
            result = stopped ? CloseWait::Stopped : alive.hasExpired() ? CloseWait::Silent : CloseWait::CapReached;
            break;
        }
        if (!stopped && m_stopRequested.load()) {
            result = CloseWait::Stopped;
            break;
        }
        if (!announced && waited.elapsed() > 1000) {
            emit waitingForReceiver();
            announced = true;
        }
        if (socket.waitForReadyRead(100))
            alive.setRemainingTime(kCloseTimeoutMs);
    }
    socket.waitForReadyRead(0); // take in what is there, so that closing sends no RST
    framing.pollTransport();
    socket.abort();
    return result;
}

// "Done" only on the receiver's word: RECEIVED, with every frame, sent after
// its decoder worked through them. Otherwise, say what is known.
bool StreamSession::confirmDelivery(FramedMediaDevice &framing, CloseWait wait, QString *message,
                                    int *exitCode)
{
    *exitCode = ExitOk;
    if (peerSaidWhy(framing, message)) {
        *exitCode = ExitProtocolError;
        return false;
    }
    if (!m_received) {
        if (wait == CloseWait::Stopped)
            return true; // stopped by the person: run() reports what was sent
        *exitCode = ExitStreamIncomplete;
        if (wait == CloseWait::Silent)
            *message = QStringLiteral("the receiver went silent for %1 s after the end of the stream: it may "
                                      "not have shown the last frames").arg(kCloseTimeoutMs / 1000);
        else if (wait == CloseWait::CapReached)
            *message = QStringLiteral("the receiver was still busy %1 s after the end of the stream")
                           .arg(kCloseCapMs / 1000);
        else
            *message = QStringLiteral("the receiver closed without confirming the stream (was it stopped?): "
                                      "it may not have shown the last frames");
        return false;
    }
    if (m_received->accessUnits < framing.accessUnitsSent()) {
        *message = QStringLiteral("the receiver got %1 of the %2 frames sent")
                       .arg(m_received->accessUnits).arg(framing.accessUnitsSent());
        *exitCode = ExitStreamIncomplete;
        return false;
    }
    return true;
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
