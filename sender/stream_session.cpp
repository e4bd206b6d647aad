#include "stream_session.h"

#include "annexb_muxer.h"
#include "framed_media_device.h"
#include "logging.h"
#include "media_source.h"
#include "pacer.h"
#include "protocol.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTcpSocket>
#include <QThread>

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
    auto source = MediaSource::open(m_options.file, &error);
    if (!source) {
        *message = error;
        return ExitBadInput;
    }
    qCDebug(lcSender).noquote() << "streaming" << source->path() << source->stream()->codecpar->width
                                << "x" << source->stream()->codecpar->height;

    QTcpSocket socket;
    if (!connectToReceiver(socket, message))
        return ExitConnectionFailed;
    FramedMediaDevice framing(&socket);
    framing.open(QIODevice::ReadWrite);
    int exitCode = ExitOk;
    if (!handshake(socket, framing, &exitCode, message))
        return exitCode;

    framing.sendMessage(MessageType::StreamInfo, serialize(makeStreamInfo(*source)));
    auto muxer = AnnexBMuxer::create(source->stream()->codecpar, source->timeBase(), &framing, &error);
    if (!muxer) {
        *message = error;
        return ExitFailure;
    }

    const AVRational tb = source->timeBase();
    const qint64 startUs = source->stream()->start_time == AV_NOPTS_VALUE
        ? 0 : toMicros(source->stream()->start_time, tb);
    const AVRational rate = source->frameRate();
    const qint64 frameUs = rate.num > 0 ? av_rescale(1'000'000, rate.den, rate.num) : 40'000;

    Pacer pacer;
    PacketPtr packet = makePacket();
    SenderProgress p;
    p.durationUs = source->durationUs();
    qint64 loopOffsetUs = 0; // added to every timestamp so loops continue the timeline
    qint64 timelineEndUs = 0;
    QElapsedTimer elapsed;
    elapsed.start();

    while (!m_stopRequested.load()) {
        int ret = source->readPacket(packet.get());
        if (ret == AVERROR_EOF && m_options.loop && p.accessUnits > 0) {
            if (!source->rewind(&error)) {
                *message = error;
                return ExitBadInput;
            }
            loopOffsetUs = timelineEndUs;
            ++p.loops;
            continue;
        }
        if (ret == AVERROR_EOF)
            break;
        if (ret >= 0 && (packet->flags & AV_PKT_FLAG_CORRUPT))
            ret = AVERROR_INVALIDDATA; // a short read: the file ends inside this frame
        if (ret < 0) {
            *message = QStringLiteral("'%1' is truncated or damaged: frame %2 cannot be read (%3)")
                           .arg(QFileInfo(source->path()).fileName()).arg(p.accessUnits + 1)
                           .arg(averrorDetail(ret));
            abortStream(socket, framing, *message);
            return ExitBadInput;
        }
        // The send clock follows dts (decode order); raw .h264 may lack both.
        qint64 mediaUs = toMicros(packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts, tb);
        if (mediaUs == AV_NOPTS_VALUE)
            mediaUs = startUs + qint64(p.accessUnits) * frameUs;
        mediaUs += loopOffsetUs - startUs;
        timelineEndUs = qMax(timelineEndUs, mediaUs + frameUs);
        const qint64 ptsUs = toMicros(packet->pts, tb);
        p.positionUs = qMax<qint64>(0, (ptsUs == AV_NOPTS_VALUE ? mediaUs - loopOffsetUs
                                                                 : ptsUs - startUs));
        if (loopOffsetUs) {
            const int64_t shift = av_rescale_q(loopOffsetUs, AV_TIME_BASE_Q, tb);
            if (packet->pts != AV_NOPTS_VALUE)
                packet->pts += shift;
            if (packet->dts != AV_NOPTS_VALUE)
                packet->dts += shift;
        }

        if (!m_options.fast && !waitUntil(pacer.delayUs(mediaUs), socket, framing))
            break; // stopped, or the connection broke: checkPeer() below says which
        if (!checkPeer(socket, framing, message))
            return m_peerError.isEmpty() ? ExitConnectionFailed : ExitProtocolError;

        const AnnexBMuxer::Result written = muxer->writeAccessUnit(packet.get(), &error);
        av_packet_unref(packet.get());
        if (written == AnnexBMuxer::Result::BadPacket) {
            *message = QStringLiteral("'%1': frame %2 is not valid H.264 (%3)")
                           .arg(QFileInfo(source->path()).fileName()).arg(p.accessUnits + 1).arg(error);
            abortStream(socket, framing, *message);
            return ExitBadInput;
        }
        if (written == AnnexBMuxer::Result::SendFailed) {
            *message = error;
            return ExitConnectionFailed;
        }
        ++p.accessUnits;
        p.bytes = framing.mediaBytesSent();
        socket.flush();
        if (!drain(socket, kMaxQueuedBytes, -1) || !checkPeer(socket, framing, message)) {
            if (message->isEmpty())
                *message = QStringLiteral("the receiver closed the connection");
            return m_peerError.isEmpty() ? ExitConnectionFailed : ExitProtocolError;
        }
        p.queuedBytes = socket.bytesToWrite();
        reportProgress(p, false);
    }
    if (!checkPeer(socket, framing, message))
        return m_peerError.isEmpty() ? ExitConnectionFailed : ExitProtocolError;

    if (!muxer->finish(&error)) {
        *message = error;
        return ExitFailure;
    }
    framing.sendMessage(MessageType::EndOfStream,
                        serialize(EndOfStream{framing.accessUnitsSent(), framing.mediaBytesSent()}));
    if (!drain(socket, 0, 10000)) {
        *message = QStringLiteral("the connection broke before the end of the stream was delivered");
        return ExitConnectionFailed;
    }
    socket.disconnectFromHost();
    if (socket.state() != QAbstractSocket::UnconnectedState)
        socket.waitForDisconnected(2000);
    p.queuedBytes = 0;
    reportProgress(p, true);
    *message = QStringLiteral("%1: sent %2 frames (%3) to %4:%5 in %6 s")
                   .arg(m_stopRequested.load() ? "stopped" : "done")
                   .arg(p.accessUnits).arg(humanBytes(p.bytes), m_options.host)
                   .arg(m_options.port).arg(double(elapsed.elapsed()) / 1000.0, 0, 'f', 1);
    return ExitOk;
}

bool StreamSession::connectToReceiver(QTcpSocket &socket, QString *message)
{
    socket.connectToHost(m_options.host, m_options.port);
    if (!socket.waitForConnected(m_options.connectTimeoutMs)) {
        const QString where = QStringLiteral("%1:%2").arg(m_options.host).arg(m_options.port);
        switch (socket.error()) {
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
            *message = QStringLiteral("cannot connect to %1: %2").arg(where, socket.errorString());
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
            *exitCode = framing.protocolError() == ParseError::None ? ExitConnectionFailed
                                                                    : ExitProtocolError;
            return false;
        }
        if (deadline.hasExpired() || m_stopRequested.load()) {
            *message = QStringLiteral("%1:%2 did not answer the h264link handshake within %3 s: "
                                      "is it a receiver?")
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
        }
        return;
    }
    if (m.type == MessageType::Ping)
        framing.sendMessage(MessageType::Pong, serialize(Pong{m.sequence, m.timestampUs}));
    else if (m.type == MessageType::Error)
        m_peerError = parseErrorInfo(m.payload).value_or(ErrorInfo{}).reason;
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

bool StreamSession::checkPeer(QTcpSocket &socket, FramedMediaDevice &framing, QString *message)
{
    framing.pollTransport();
    if (!m_peerError.isEmpty()) {
        *message = QStringLiteral("the receiver refused the stream: %1").arg(m_peerError);
        return false;
    }
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

// Tells the receiver why the stream stops early, then closes.
void StreamSession::abortStream(QTcpSocket &socket, FramedMediaDevice &framing, const QString &reason)
{
    framing.sendMessage(MessageType::Error, serialize(ErrorInfo{ErrSourceFailed, reason}));
    drain(socket, 0, 2000);
    socket.disconnectFromHost();
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
