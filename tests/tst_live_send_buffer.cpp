// The live sender's socket (issue 14): with TCP_NOTSENT_LOWAT the kernel
// takes only a little more than the mark beyond what the receiver's window
// holds, so a backlog stays in Qt's buffer, where LiveRateControl sees it;
// without the mark the kernel's autotuned send buffer swallows megabytes of
// it. Real loopback sockets; the peer reads nothing until the end. A refused
// option is a sentence, not silence.
#include "net/sender_connection.h"

#include <QTcpServer>
#include <QTcpSocket>
#include <QUdpSocket>
#include <QtTest>
#include <memory>
#include <sys/socket.h>

using namespace h264link;

namespace {

struct Pair {
    QTcpServer server;
    QTcpSocket client;
    std::unique_ptr<QTcpSocket> peer;
};

bool connectPair(Pair &pair)
{
    if (!pair.server.listen(QHostAddress::LocalHost))
        return false;
    pair.client.connectToHost(QHostAddress::LocalHost, pair.server.serverPort());
    if (!pair.client.waitForConnected(5000) || !pair.server.waitForNewConnection(5000))
        return false;
    pair.peer.reset(pair.server.nextPendingConnection());
    return bool(pair.peer);
}

// Writes `total` bytes and lets the kernel take what it will: until a
// tenth of a second passes with nothing more taken. What is left in Qt's buffer.
qint64 backlogAfterStall(QTcpSocket &socket, qint64 total)
{
    socket.write(QByteArray(int(total), 'x'));
    int idle = 0;
    while (idle < 2)
        idle = socket.waitForBytesWritten(50) ? 0 : idle + 1;
    return socket.bytesToWrite();
}

int receiveBuffer(const QTcpSocket &socket)
{
    int size = 0;
    socklen_t length = sizeof size;
    ::getsockopt(int(socket.socketDescriptor()), SOL_SOCKET, SO_RCVBUF, &size, &length);
    return size;
}

} // namespace

class TestLiveSendBuffer : public QObject {
    Q_OBJECT
private slots:
    void backlogStaysInQt();
    void refusedOptionIsASentence();
};

void TestLiveSendBuffer::backlogStaysInQt()
{
    const qint64 total = 16 * 1024 * 1024;
    Pair marked, unmarked;
    QVERIFY(connectPair(marked));
    QVERIFY(connectPair(unmarked));
    QString error;
    QVERIFY2(tcp::setNotSentLowWater(marked.client.socketDescriptor(), SenderConnection::kNotSentLowWater, &error),
             qPrintable(error));
    const qint64 markedBacklog = backlogAfterStall(marked.client, total);
    const qint64 unmarkedBacklog = backlogAfterStall(unmarked.client, total);
    // The kernel holds at most the peer's receive buffer in flight, the mark
    // unsent, and one more segment it had begun (64 KiB on loopback).
    const qint64 kernelMost = receiveBuffer(*marked.peer) + SenderConnection::kNotSentLowWater + 2 * 65536;
    qInfo("backlog in Qt: %lld bytes with the mark, %lld without; the kernel may hold %lld",
          markedBacklog, unmarkedBacklog, kernelMost);
    QVERIFY2(markedBacklog >= total - kernelMost, qPrintable(QString::number(markedBacklog)));
    QVERIFY(markedBacklog > unmarkedBacklog);

    // All of it still arrives once the peer reads.
    qint64 got = 0;
    while (got < total && (marked.peer->bytesAvailable() > 0 || marked.peer->waitForReadyRead(5000))) {
        got += marked.peer->readAll().size();
        marked.client.waitForBytesWritten(0);
    }
    QCOMPARE(got, total);
}

// A socket that is not TCP refuses the option: the caller gets a sentence
// naming it (SenderConnection then falls back to a fixed buffer and says so).
void TestLiveSendBuffer::refusedOptionIsASentence()
{
    QUdpSocket udp;
    QVERIFY(udp.bind(QHostAddress::LocalHost, 0));
    QString error;
    QVERIFY(!tcp::setNotSentLowWater(udp.socketDescriptor(), SenderConnection::kNotSentLowWater, &error));
    QVERIFY2(error.contains("TCP_NOTSENT_LOWAT"), qPrintable(error));
    QVERIFY(!tcp::readLimits(udp.socketDescriptor()));
}

QTEST_GUILESS_MAIN(TestLiveSendBuffer)
#include "tst_live_send_buffer.moc"
