// SignalWatcher: SIGINT and SIGTERM as a Qt signal on the thread that owns it.
//
// A POSIX signal handler may only do async-signal-safe work, so the handler
// writes the signal number into a socket pair (the "self-pipe trick") and a
// QSocketNotifier turns that byte into `terminationRequested()` in the event
// loop, where closing cleanly is allowed. A second signal while the first is
// being handled ends the process at once, as a person pressing Ctrl+C twice
// expects.
#pragma once

#include <QObject>

class QSocketNotifier;

namespace h264link {

class SignalWatcher : public QObject {
    Q_OBJECT
public:
    // At most one per process; installs the handlers for SIGINT and SIGTERM.
    explicit SignalWatcher(QObject *parent = nullptr);
    ~SignalWatcher() override; // restores the default handlers

signals:
    void terminationRequested(int signalNumber);

private:
    void onReadable();

    QSocketNotifier *m_notifier = nullptr;
};

} // namespace h264link
