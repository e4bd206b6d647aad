#include "net/sender_connection.h"

#include "dial_target.h"
#include "exit_codes.h"
#include "io_trace.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QHostAddress>
#include <QThread>
#include <QTimer>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <linux/tcp.h> // TCP_NOTSENT_LOWAT, and struct tcp_info with tcpi_busy_time (glibc's has not)
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace h264link {

using namespace proto;

bool tcp::setNotSentLowWater(qintptr socket, int bytes, QString *error)
{
    if (::setsockopt(int(socket), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &bytes, sizeof bytes) == 0)
        return true;
    *error = QStringLiteral("the kernel refused TCP_NOTSENT_LOWAT on the connection (%1)")
                 .arg(QString::fromLocal8Bit(std::strerror(errno)));
    return false;
}

std::optional<TcpLimits> tcp::readLimits(qintptr socket)
{
    tcp_info info{};
    socklen_t size = sizeof info;
    // An older kernel fills less of the struct: without the chrono times
    // (Linux 4.10) there is nothing to tell the causes apart by.
    if (::getsockopt(int(socket), IPPROTO_TCP, TCP_INFO, &info, &size) != 0
        || size < offsetof(tcp_info, tcpi_sndbuf_limited) + sizeof info.tcpi_sndbuf_limited)
        return std::nullopt;
    return TcpLimits{info.tcpi_busy_time, info.tcpi_rwnd_limited, info.tcpi_sndbuf_limited, info.tcpi_delivery_rate,
                     info.tcpi_notsent_bytes};
}

SenderConnection::SenderConnection(const SenderOptions &options, const std::atomic<bool> &stop,
                                   std::function<quint64()> framesSkipped, QObject *parent)
    : QObject(parent), m_options(options), m_stop(stop), m_framesSkipped(std::move(framesSkipped)),
      m_framing(&m_socket),
      m_handshake(QStringLiteral("h264link-sender " H264LINK_VERSION))
{
    if (!options.key.isEmpty())
        m_channel = SecureChannel::attach(&m_socket, SecureChannel::Role::Sender, options.key);
    m_framing.open(QIODevice::ReadWrite);
    m_framing.setAcceptMedia(false);
    m_socket.setReadBufferSize(kMaxInboundBytes); // a receiver only sends small control messages
    connect(&m_framing, &FramedMediaDevice::controlMessageReceived, this,
            &SenderConnection::onControlMessage, Qt::DirectConnection);
    // The socket belongs to the worker thread: the probe reads its last sample.
    m_fillProbe = trace::Tracer::instance().addFillProbe([this] {
        return trace::Fill{QStringLiteral("sender socket queue"), m_queuedSample.load(std::memory_order_relaxed),
                           kMaxQueuedBytes, QStringLiteral("bytes")};
    });
}

SenderConnection::~SenderConnection()
{
    trace::Tracer::instance().removeFillProbe(m_fillProbe);
}

QString SenderConnection::where() const
{
    if (m_adopted >= 0)
        return m_adoptedPeer;
    return QStringLiteral("%1:%2").arg(m_options.host).arg(m_options.port);
}

bool SenderConnection::open(int *exitCode, QString *message)
{
    if (m_channel && !securechannel::isAvailable(message)) { // a key typed into the window
        *exitCode = ExitFailure;
        return false;
    }
    if (!connectToReceiver(message)) {
        *exitCode = m_stop.load() ? ExitOk : ExitConnectionFailed;
        return false;
    }
    if (m_channel && !secure(exitCode, message))
        return false;
    return handshake(exitCode, message);
}

// Waits in a local event loop, not in waitForConnected(): Stop (the window's
// button, Ctrl+C) must end a wait for an unreachable host at once, not when
// --connect-timeout runs out.
bool SenderConnection::waitForConnection()
{
    QEventLoop loop;
    QTimer poll;
    const QDeadlineTimer deadline(m_options.connectTimeoutMs);
    QObject::connect(&m_socket, &QSslSocket::connected, &loop, &QEventLoop::quit);
    QObject::connect(&m_socket, &QSslSocket::errorOccurred, &loop, &QEventLoop::quit);
    QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
        if (m_stop.load() || deadline.hasExpired())
            loop.quit();
    });
    poll.start(20);
    if (m_adopted >= 0) {
        if (!m_socket.setSocketDescriptor(m_adopted))
            return false;
        // Said as a person reads it: 192.168.1.7:40312, not [::ffff:192.168.1.7] (a dual-stack listener's).
        const QHostAddress address = m_socket.peerAddress();
        bool v4 = false;
        const quint32 ipv4 = address.toIPv4Address(&v4);
        const QString host = v4 ? QHostAddress(ipv4).toString()
            : address.protocol() == QAbstractSocket::IPv6Protocol ? QStringLiteral("[%1]").arg(address.toString())
                                                                 : address.toString();
        m_adoptedPeer = QStringLiteral("%1:%2").arg(host).arg(m_socket.peerPort());
        if (m_channel)
            m_socket.startClientEncryption(); // the sender is the TLS client, whoever dialled
        return true;
    }
    if (m_channel)
        m_channel->connectToReceiver(m_options.host, m_options.port); // TCP, then at once the ClientHello
    else
        m_socket.connectToHost(m_options.host, m_options.port);
    if (m_socket.state() != QAbstractSocket::ConnectedState && m_socket.state() != QAbstractSocket::UnconnectedState)
        loop.exec();
    return m_socket.state() == QAbstractSocket::ConnectedState;
}

bool SenderConnection::connectToReceiver(QString *message)
{
    if (!waitForConnection()) {
        // Still trying when the wait ended: the deadline passed (or Stop).
        const bool timedOut = m_socket.state() != QAbstractSocket::UnconnectedState;
        const QAbstractSocket::SocketError error = timedOut ? QAbstractSocket::SocketTimeoutError : m_socket.error();
        const QString errorText = m_socket.errorString();
        m_socket.abort();
        if (m_stop.load())
            return false; // not a failure: the session reports what was sent
        *message = connectFailure({m_options.host, m_options.port, m_options.connectTimeoutMs,
                                   QStringLiteral("the receiver running and listening")},
                                  error, errorText);
        return false;
    }
    m_socket.setSocketOption(QAbstractSocket::LowDelayOption, 1); // no Nagle delay per frame
    emit connected(where());
    return true;
}

// With a key: the TLS-PSK handshake, before a single byte of ours. A failure
// here is the receiver's configuration (no key, another key, not an h264link
// receiver of this release), like its ERROR 7 was: ExitProtocolError, which
// --retry does not retry. Waits in short steps so that Stop ends it at once.
bool SenderConnection::secure(int *exitCode, QString *message)
{
    QDeadlineTimer deadline(kHandshakeTimeoutMs);
    bool failed = false;
    const QMetaObject::Connection watch = connect(m_channel, &SecureChannel::failed, this,
                                                  [&failed] { failed = true; }, Qt::DirectConnection);
    while (!m_channel->isSecured() && !failed && m_socket.state() == QAbstractSocket::ConnectedState
           && !m_stop.load() && !deadline.hasExpired())
        m_socket.waitForEncrypted(int(qBound(qint64(1), deadline.remainingTime(), qint64(50))));
    disconnect(watch);
    if (m_channel->isSecured())
        return true;
    if (m_stop.load()) {
        m_socket.abort();
        *message = QStringLiteral("stopped before streaming began");
        *exitCode = ExitOk;
        return false;
    }
    *message = m_channel->failure();
    if (message->isEmpty()) // out of time, or closed without a TLS error
        *message = deadline.hasExpired()
            ? QStringLiteral("%1 accepted the connection but did not answer the keyed handshake "
                             "within %2 s: is it an h264link receiver?").arg(where()).arg(kHandshakeTimeoutMs / 1000)
            : QStringLiteral("the receiver has no access key (or a different one): it did not complete "
                             "the keyed handshake; start it with the same --key-file, or this sender "
                             "without a key");
    *message = QStringLiteral("%1: %2").arg(where(), *message);
    *exitCode = ExitProtocolError;
    m_socket.abort(); // Qt does not close a socket after a fatal TLS error
    return false;
}

// Why the keyed session failed (SecureChannel's sentence), "" if it did not
// or there is no key. A fatal TLS error leaves the socket open: `usable()`
// treats it as closed.
QString SenderConnection::channelFailure() const
{
    return m_channel && m_channel->isSecured() ? m_channel->failure() : QString();
}

bool SenderConnection::usable() const
{
    return m_socket.state() == QAbstractSocket::ConnectedState && channelFailure().isEmpty();
}

// Runs SenderHandshake until the receiver says ACCEPTED or refuses. The
// receiver's answers also prove that it is an h264link receiver at all.
bool SenderConnection::handshake(int *exitCode, QString *message)
{
    for (const auto &out : m_handshake.start().send)
        m_framing.sendMessage(out.type, out.payload);

    QDeadlineTimer deadline(kHandshakeTimeoutMs);
    while (m_verdict == HandshakeStep::Continue) {
        if (!checkPeer(message)) {
            if (m_verdict == HandshakeStep::Refused)
                break; // the receiver explained itself before closing
            // An ERROR right behind ACCEPTED (the receiver failed at once)
            // is the receiver's word, not a broken connection.
            *exitCode = m_framing.protocolError() != ParseError::None ? ExitProtocolError : lostConnectionCode();
            return false;
        }
        if (m_verdict != HandshakeStep::Continue)
            break; // decided by what checkPeer() just read: waiting again would cost a poll
        if (m_stop.load()) {
            *message = QStringLiteral("stopped before streaming began");
            *exitCode = ExitOk;
            return false;
        }
        if (deadline.hasExpired()) {
            *message = QStringLiteral("%1 accepted the connection but did not answer the h264link "
                                      "handshake within %2 s: is it a receiver (or a busy one)?")
                           .arg(where()).arg(kHandshakeTimeoutMs / 1000);
            *exitCode = ExitProtocolError;
            return false;
        }
        m_socket.waitForReadyRead(50);
    }
    if (m_verdict == HandshakeStep::Refused) {
        if (m_refusalCode == 0) {
            // This side refused (no common version) and said why in an
            // ERROR: deliver it before the socket goes, bounded.
            drain(0, 1000);
            m_socket.disconnectFromHost();
            if (m_socket.state() != QAbstractSocket::UnconnectedState)
                m_socket.waitForDisconnected(1000);
        }
        *exitCode = peerErrorCode() == ErrShuttingDown ? ExitConnectionFailed : ExitProtocolError;
        if (!peerSaidWhy(message))
            *message = m_refusal;
        return false;
    }
    return true;
}

void SenderConnection::onControlMessage(const Message &m)
{
    if (!m_handshake.isDone() && m_verdict == HandshakeStep::Continue) {
        const HandshakeStep step = m_handshake.onMessage(m);
        for (const auto &out : step.send)
            m_framing.sendMessage(out.type, out.payload);
        if (step.verdict != HandshakeStep::Continue) {
            m_verdict = step.verdict;
            m_refusal = step.reason;
            m_refusalCode = step.peerErrorCode;
        }
        return;
    }
    m_lastSign.start();
    if (m.type == MessageType::Ping && !m_closing)
        m_framing.sendMessage(MessageType::Pong, serialize(Pong{m.sequence, m.timestampUs, m_framesSkipped()}));
    else if (m.type == MessageType::Received) {
        m_received = parseReceived(m.payload);
        m_receivedAudioCounts = m.payload.size() >= 4 * 8; // v3 appended them (a v3 receiver may predate sound)
    }
    else if (m.type == MessageType::Error)
        m_peerError = parseErrorInfo(m.payload).value_or(ErrorInfo{});
}

quint16 SenderConnection::peerErrorCode() const
{
    return m_peerError ? m_peerError->code : m_refusalCode;
}

// A connection that ended with the receiver's ERROR is its word (4), unless
// it only said its person closed it (10, like a broken connection: 3, which
// --retry retries); one that just broke is a connection failure (3).
int SenderConnection::lostConnectionCode() const
{
    if (peerErrorCode() == ErrShuttingDown)
        return ExitConnectionFailed;
    return m_peerError ? ExitProtocolError : ExitConnectionFailed;
}

// Reads what the receiver sent; true, with *message set, if it said why it
// ends the stream (ERROR). A failure seen while sending is reported with the
// receiver's reason when it gave one, not as a bare disconnect.
bool SenderConnection::peerSaidWhy(QString *message)
{
    m_framing.pollTransport();
    if (peerErrorCode() == ErrShuttingDown) {
        *message = m_options.retry
            ? QStringLiteral("the receiver was closed on %1").arg(where())
            : QStringLiteral("the receiver was closed on %1; start it again, or use --retry to wait for it")
                  .arg(where());
        return true;
    }
    if (!m_peerError)
        return false;
    *message = m_peerError->code == ErrReceiverFailed
        ? QStringLiteral("the receiver stopped the stream: %1").arg(m_peerError->reason)
        : QStringLiteral("the receiver refused the stream: %1").arg(m_peerError->reason);
    return true;
}

int SenderConnection::lost(QString *message, const QString &fallback)
{
    const QString failure = channelFailure();
    if (!peerSaidWhy(message) && !(failure.isEmpty() && fallback.isEmpty()))
        *message = failure.isEmpty() ? fallback : failure;
    return lostConnectionCode();
}

bool SenderConnection::checkPeer(QString *message)
{
    if (peerSaidWhy(message))
        return false;
    if (const QString failure = channelFailure(); !failure.isEmpty()) {
        *message = failure; // e.g. "the connection was altered in transit"
        m_socket.abort();
        return false;
    }
    if (m_framing.protocolError() != ParseError::None) {
        *message = QStringLiteral("%1 is not an h264link receiver: %2")
                       .arg(where(), describe(m_framing.protocolError()));
        return false;
    }
    if (m_socket.state() != QAbstractSocket::ConnectedState) {
        *message = QStringLiteral("the receiver closed the connection");
        return false;
    }
    return true;
}

void SenderConnection::sendStreamInfo(const StreamInfo &info)
{
    m_framing.sendMessage(MessageType::StreamInfo, serialize(info));
}

bool SenderConnection::useLiveSendBuffer(QString *warning)
{
    // With a key this is the plain TCP socket under TLS: the mark counts
    // TLS records, a few dozen bytes more than the media per 16 KiB.
    if (tcp::setNotSentLowWater(m_socket.socketDescriptor(), kNotSentLowWater, warning))
        return true;
    m_socket.setSocketOption(QAbstractSocket::SendBufferSizeSocketOption, kLiveSocketBuffer);
    *warning = QStringLiteral("live: %1; the socket buffer is fixed at %2 KiB instead, so a fast or long "
                              "link may look slow and frames be skipped")
                   .arg(*warning).arg(kLiveSocketBuffer / 1024);
    return false;
}

std::optional<TcpLimits> SenderConnection::recentTcpLimits() const
{
    const std::optional<TcpLimits> now = tcp::readLimits(m_socket.socketDescriptor());
    const std::optional<TcpLimits> &since = m_tcpOlder ? m_tcpOlder : m_tcpNewer;
    if (!now || !since)
        return now;
    return TcpLimits{now->busyUs - since->busyUs, now->rwndLimitedUs - since->rwndLimitedUs,
                     now->sndbufLimitedUs - since->sndbufLimitedUs, now->deliveryBytesPerSecond, now->notSentBytes};
}

bool SenderConnection::waitUntil(qint64 delayUs, const std::function<void()> &drained)
{
    QDeadlineTimer deadline(delayUs / 1000, Qt::PreciseTimer);
    while (!deadline.hasExpired()) {
        if (m_stop.load() || !usable())
            return false;
        const int slice = int(qMin<qint64>(deadline.remainingTime(), 50));
        // While media waits, wake each time the kernel takes some (it reads
        // PINGs too): the caller times the drain, so an idle gap after the
        // queue ran dry is not counted as the link being busy.
        if (drained && queuedBytes() > 0 && m_socket.waitForBytesWritten(slice)) {
            drained();
            m_framing.pollTransport();
            continue;
        }
        if (m_socket.waitForReadyRead(int(qMin<qint64>(deadline.remainingTime(), slice))))
            m_framing.pollTransport();
    }
    return true;
}

short SenderConnection::pollEvents()
{
    if (!m_lastSign.isValid())
        m_lastSign.start();
    return short(POLLIN | (queuedBytes() > 0 ? POLLOUT : 0));
}

bool SenderConnection::onPollEvents(short revents)
{
    if (revents & (POLLIN | POLLERR | POLLHUP))
        m_socket.waitForReadyRead(0); // takes what the kernel holds (TLS: decrypts it)
    const qint64 before = queuedBytes();
    if (before > 0) {
        m_socket.flush();
        if (queuedBytes() < before)
            m_lastSign.start();
    }
    m_framing.pollTransport();
    return usable();
}

void SenderConnection::moveToThreadWithSocket(QThread *thread)
{
    m_plain = m_socket.mode() == QSslSocket::UnencryptedMode;
    moveToThread(thread);
    m_socket.moveToThread(thread);
    m_framing.moveToThread(thread);
}

bool SenderConnection::writeUnit(const CapturedUnit &unit)
{
    bool written = false;
    switch (unit.kind) {
    case CapturedUnit::Kind::Video:
        if (sendShared(unit))
            return usable(); // Qt holds what the kernel did not take: the loop flushes it on POLLOUT
        m_framing.beginAccessUnit(unit.ptsUs, unit.keyframe, unit.decodeOnly);
        m_framing.write(unit.bytes);
        written = m_framing.endAccessUnit();
        break;
    case CapturedUnit::Kind::Audio:
        written = m_framing.sendAudio(unit.audio, unit.audioFlags);
        break;
    case CapturedUnit::Kind::Raw:
        written = m_framing.write(unit.bytes) == unit.bytes.size();
        break;
    }
    m_socket.flush(); // what the kernel takes now; the rest waits for POLLOUT
    return written && usable();
}

// Every receiver of a fan-out gets the same unit: its header and the shared
// bytes go to the kernel in one sendmsg(), not copied three times (framing,
// message, Qt's write buffer) and sent in Qt's chunks, with Qt's socket
// notifier switched on and off around it. Only on a plain connection whose
// Qt buffer is empty (so the order holds); what the kernel does not take
// goes to Qt's buffer, which the loop flushes on POLLOUT as before. TLS
// records can only come from QSslSocket.
bool SenderConnection::sendShared(const CapturedUnit &unit)
{
    if (!m_plain || m_socket.bytesToWrite() > 0)
        return false;
    char head[FramedMediaDevice::kSharedHeadSize];
    if (!m_framing.frameSharedAccessUnit(unit, head))
        return false;
    iovec parts[2] = {{head, sizeof head}, {const_cast<char *>(unit.bytes.constData()), size_t(unit.bytes.size())}};
    msghdr message{};
    message.msg_iov = parts;
    message.msg_iovlen = 2;
    ssize_t sent;
    do
        sent = ::sendmsg(int(m_socket.socketDescriptor()), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (sent < 0 && errno == EINTR);
    // EAGAIN: the kernel holds enough (TCP_NOTSENT_LOWAT). Any other error
    // leaves it all to Qt, whose next write meets it and says what it is.
    const qsizetype taken = sent < 0 ? 0 : qsizetype(sent);
    if (taken < qsizetype(sizeof head))
        m_socket.write(head + taken, qsizetype(sizeof head) - taken);
    const qsizetype dataTaken = qMax<qsizetype>(0, taken - qsizetype(sizeof head));
    if (dataTaken < unit.bytes.size())
        m_socket.write(unit.bytes.constData() + dataTaken, unit.bytes.size() - dataTaken);
    return true;
}

bool SenderConnection::afterAccessUnit(QString *message)
{
    m_socket.flush();
    if (!m_tcpClock.isValid() || m_tcpClock.elapsed() >= 1000) {
        m_tcpClock.start();
        m_tcpOlder = std::exchange(m_tcpNewer, tcp::readLimits(m_socket.socketDescriptor()));
    }
    if (trace::Tracer::enabled())
        m_queuedSample.store(queuedBytes(), std::memory_order_relaxed);
    if (!drain(kMaxQueuedBytes, -1)) {
        lost(message, QStringLiteral("the receiver closed the connection"));
        return false;
    }
    return checkPeer(message);
}

// Blocks while more than `limit` bytes wait to be sent. False if the
// connection broke or `timeoutMs` (-1: none) passed.
bool SenderConnection::drain(qint64 limit, int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs < 0 ? QDeadlineTimer::Forever : QDeadlineTimer(timeoutMs));
    while (queuedBytes() > limit) {
        if (!usable() || deadline.hasExpired())
            return false;
        if (m_stop.load() && limit > 0)
            return true; // stopping: the final drain still delivers END_OF_STREAM
        m_socket.waitForBytesWritten(100);
    }
    return usable();
}

int SenderConnection::finish(QString *message)
{
    m_framing.sendMessage(MessageType::EndOfStream,
                          serialize(EndOfStream{m_framing.accessUnitsSent(), m_framing.mediaBytesSent(),
                                                m_framing.audioPacketsSent()}));
    if (!drain(0, 10000))
        return lost(message, QStringLiteral("the connection broke before the end of the stream was delivered"));
    return confirmDelivery(closeGracefully(), message);
}

void SenderConnection::abort(const QString &reason, quint16 code)
{
    m_framing.sendMessage(MessageType::Error, serialize(ErrorInfo{code, reason}));
    drain(0, 2000);
    closeGracefully();
}

// After END_OF_STREAM (or our ERROR): read until the receiver closes. It
// closes once its decoder has worked through everything, after RECEIVED (or,
// if its decoder or output failed, an ERROR). Closing earlier, with its
// PINGs unread, would make our kernel send RST, and a reset makes the
// receiver's kernel throw away what the receiver has not read yet: the last
// frames and END_OF_STREAM. While its PINGs keep coming it is alive. After a
// Stop the wait is short (kStoppedCloseMs), but it still happens.
SenderConnection::CloseWait SenderConnection::closeGracefully()
{
    m_closing = true;
    const bool stopped = m_stop.load();
    QDeadlineTimer alive(kCloseTimeoutMs);
    QDeadlineTimer cap(stopped ? kStoppedCloseMs : kCloseCapMs);
    QElapsedTimer waited;
    waited.start();
    bool announced = false;
    CloseWait result = CloseWait::Closed;
    for (;;) {
        m_framing.pollTransport();
        if (m_peerError) {
            result = CloseWait::PeerError; // it said why, and sends nothing more
            break;
        }
        if (!usable())
            break;
        if (alive.hasExpired() || cap.hasExpired()) {
            result = stopped ? CloseWait::Stopped : alive.hasExpired() ? CloseWait::Silent : CloseWait::CapReached;
            break;
        }
        if (!stopped && m_stop.load()) {
            result = CloseWait::Stopped;
            break;
        }
        if (!announced && waited.elapsed() > 1000) {
            emit waitingForReceiver();
            announced = true;
        }
        if (m_socket.waitForReadyRead(100))
            alive.setRemainingTime(kCloseTimeoutMs);
    }
    m_socket.waitForReadyRead(0); // take in what is there, so that closing sends no RST
    m_framing.pollTransport();
    m_socket.abort();
    return result;
}

// "Done" only on the receiver's word: RECEIVED, sent after its decoder worked
// through everything, with every access unit received and every frame
// decoded. Otherwise, say what is known.
int SenderConnection::confirmDelivery(CloseWait wait, QString *message)
{
    if (peerSaidWhy(message))
        return lostConnectionCode();
    const quint64 sent = m_framing.accessUnitsSent();
    if (!m_received) {
        if (wait == CloseWait::Stopped)
            return ExitOk; // stopped by the person: the session reports what was sent
        if (wait == CloseWait::Silent)
            *message = QStringLiteral("the receiver went silent for %1 s after the end of the stream: it may "
                                      "not have shown the last frames").arg(kCloseTimeoutMs / 1000);
        else if (wait == CloseWait::CapReached)
            *message = QStringLiteral("the receiver was still busy %1 s after the end of the stream")
                           .arg(kCloseCapMs / 1000);
        else
            *message = QStringLiteral("the receiver closed without confirming the stream (was it stopped?): "
                                      "it may not have shown the last frames");
        return ExitStreamIncomplete;
    }
    if (m_received->accessUnits < sent) {
        *message = QStringLiteral("the receiver got %1 of the %2 frames sent")
                       .arg(m_received->accessUnits).arg(sent);
        return ExitStreamIncomplete;
    }
    // A live stream's receiver may skip frames it cannot decode in time: it
    // says how many, and they are not lost.
    const quint64 skipped = m_options.fast ? 0 : m_received->framesSkipped;
    if (m_received->framesDecoded + skipped < sent) {
        *message = QStringLiteral("the receiver got all %1 frames sent but decoded only %2: it did not "
                                  "show them all").arg(sent).arg(m_received->framesDecoded);
        if (skipped)
            *message += QStringLiteral(" (and skipped %1 to stay live)").arg(skipped);
        return ExitStreamIncomplete;
    }
    // Every protocol-3 receiver counts each AUDIO message in RECEIVED, even
    // with its --no-audio; one whose RECEIVED lacks the counts cannot say,
    // and the session reports that rather than a loss.
    const quint64 audioSent = m_framing.audioPacketsSent();
    m_audioUncounted = speaksAudio() && audioSent > 0 && !m_receivedAudioCounts;
    if (speaksAudio() && !m_audioUncounted && m_received->audioPackets < audioSent) {
        *message = QStringLiteral("the receiver got %1 of the %2 audio packets sent")
                       .arg(m_received->audioPackets).arg(audioSent);
        return ExitStreamIncomplete;
    }
    return ExitOk;
}

} // namespace h264link
