// A TCP relay that holds every chunk for a fixed delay in both directions:
// added latency for the two-host test, on kernels without netem.
//   tcp_delay_relay LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS
// Prints "relay: listening on port N" once ready (LISTEN_PORT 0: any free).
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <cstdio>
#include <deque>

namespace {

// One direction: bytes read from `from` are written to `to` `delayMs` later.
class DelayedPipe : public QObject {
public:
    DelayedPipe(QTcpSocket *from, QTcpSocket *to, int delayMs, QObject *parent)
        : QObject(parent), m_from(from), m_to(to), m_delayMs(delayMs)
    {
        m_clock.start();
        m_timer.setSingleShot(true);
        m_timer.setTimerType(Qt::PreciseTimer);
        connect(&m_timer, &QTimer::timeout, this, [this] { release(); });
        connect(from, &QTcpSocket::readyRead, this, [this] {
            m_queue.push_back({m_clock.elapsed() + m_delayMs, m_from->readAll()});
            if (!m_timer.isActive())
                release();
        });
    }

private:
    void release()
    {
        while (!m_queue.empty() && m_queue.front().due <= m_clock.elapsed()) {
            m_to->write(m_queue.front().bytes);
            m_queue.pop_front();
        }
        if (!m_queue.empty())
            m_timer.start(int(m_queue.front().due - m_clock.elapsed()));
    }

    struct Chunk {
        qint64 due;
        QByteArray bytes;
    };
    QTcpSocket *m_from;
    QTcpSocket *m_to;
    int m_delayMs;
    QElapsedTimer m_clock;
    QTimer m_timer;
    std::deque<Chunk> m_queue;
};

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() != 5) {
        std::fprintf(stderr, "usage: tcp_delay_relay LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS\n");
        return 64;
    }
    const QString targetHost = args[2];
    const quint16 targetPort = quint16(args[3].toUInt());
    const int delayMs = args[4].toInt();
    QTcpServer server;
    if (!server.listen(QHostAddress::Any, quint16(args[1].toUInt()))) {
        std::fprintf(stderr, "relay: cannot listen: %s\n", qUtf8Printable(server.errorString()));
        return 3;
    }
    QObject::connect(&server, &QTcpServer::newConnection, [&] {
        QTcpSocket *client = server.nextPendingConnection();
        auto *upstream = new QTcpSocket(client);
        upstream->connectToHost(targetHost, targetPort);
        new DelayedPipe(client, upstream, delayMs, client);
        new DelayedPipe(upstream, client, delayMs, client);
        // A close on either side closes the other once what is queued has
        // been delivered; then the pair (client owns everything) goes away.
        auto closeBoth = [client, upstream, delayMs] {
            QTimer::singleShot(delayMs + 100, client, [client, upstream] {
                upstream->disconnectFromHost();
                client->disconnectFromHost();
                QTimer::singleShot(1000, client, &QObject::deleteLater);
            });
        };
        QObject::connect(upstream, &QTcpSocket::disconnected, client, closeBoth);
        QObject::connect(client, &QTcpSocket::disconnected, client, closeBoth);
    });
    std::printf("relay: listening on port %u\n", unsigned(server.serverPort()));
    std::fflush(stdout);
    return app.exec();
}
