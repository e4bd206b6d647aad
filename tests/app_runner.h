// Runs the real sender and receiver executables for end-to-end tests.
#pragma once

#include <functional>

#include <QProcess>
#include <QString>
#include <QStringList>
#include <memory>

namespace testsupport {

// A receiver process listening on a free port (--port 0), with its port read
// from its "listening on port N" line.
class ReceiverProcess {
public:
    // Starts `receiver --headless --port 0 extraArgs...`; QVERIFY-friendly:
    // port() is 0 if it did not come up.
    // `childSetup` runs in the child before exec (resource limits, signals).
    explicit ReceiverProcess(const QStringList &extraArgs, std::function<void()> childSetup = {});
    ~ReceiverProcess();

    quint16 port() const { return m_port; }
    QProcess &process() { return m_process; }
    bool waitForExit(int msecs);
    QString output(); // everything it printed so far (stdout and stderr)

private:
    QProcess m_process;
    QByteArray m_output;
    quint16 m_port = 0;
};

struct SenderRun {
    int exitCode = -1;
    QString out;
    QString err;
    qint64 elapsedMs = 0;
};

SenderRun runSender(const QStringList &args, int timeoutMs = 60000);

// The last column of every non-comment line of a framemd5 file or text.
QStringList md5Column(const QByteArray &framemd5);
// ffmpeg's framemd5 of the first video stream, the reference.
QStringList referenceMd5(const QString &clip);

} // namespace testsupport
