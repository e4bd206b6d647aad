// SubscriberLoop: the one thread that streams to every receiver of a fan-out.
// A Subscriber's own thread dials, runs the handshake and the close (all
// blocking, as one-to-one); while it streams, its connection is moved here,
// so one wake per published unit serves every receiver:
//
//   Broadcaster::publish --push to each queue--> wake() --> this thread:
//       epoll_wait(eventfd + every receiver's socket) --> Subscriber::service() each
//
// With a thread per streaming receiver, each unit woke N threads; at 30
// receivers the context switches were most of the sender's CPU. epoll, not
// poll(): poll() hooks itself onto every socket and off again at each wake.
// A subscriber leaves the loop (handBack()) when service() returns an
// outcome: its thread takes the connection back for END_OF_STREAM or the drop.
#pragma once

#include <QMutex>
#include <QThread>
#include <atomic>
#include <vector>

namespace h264link {

class Subscriber;

class SubscriberLoop : public QThread {
public:
    static constexpr int kIdleWaitMs = 100; // PINGs, the silent bound: looked at this often at least
    static constexpr int kNoEpollTurnMs = 2; // without epoll (never seen): a turn this often

    SubscriberLoop();
    ~SubscriberLoop() override; // quits and joins: every subscriber still in it is handed back, Finished

    // Any thread: the subscriber's connection already belongs to this thread.
    void add(Subscriber *subscriber);
    // Any thread: something was pushed, or a subscriber should look at its flags.
    void wake();
    void quit();

protected:
    void run() override;

private:
    int m_wakeFd = -1;  // eventfd
    int m_epollFd = -1; // none: every subscriber is looked at each kIdleWaitMs / kNoEpollTurnMs
    std::atomic<bool> m_quit{false};
    QMutex m_lock; // guards m_added
    std::vector<Subscriber *> m_added; // taken into the loop's own list at its next turn
};

} // namespace h264link
