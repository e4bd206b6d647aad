// The sender on a terminal: a one-line progress display redrawn in place
// with '\r' (on a pseudo-terminal made by util-linux `script`), nothing of it
// when stderr is not a terminal or with --quiet; and the window's remembered
// file, host, port and key file (QSettings, in a temporary XDG_CONFIG_HOME).
#include "app_runner.h"
#include "test_support.h"

#include <QProcess>
#include <QRegularExpression>
#include <QSettings>
#include <QTemporaryDir>
#include <QtTest>

using namespace testsupport;

namespace {

struct ProgressState {
    double positionS = 0;
    QString duration;
    QString line;
};

// "time 00:00:01.96 / 00:00:03.00  fps 25.0 ..." -> seconds.
double clockSeconds(const QString &text)
{
    const QStringList parts = text.split(':');
    return parts.size() == 3 ? parts[0].toInt() * 3600 + parts[1].toInt() * 60 + parts[2].toDouble() : -1;
}

// Every state the progress line went through: the pieces of the terminal's
// output between '\r' and '\n' that are progress lines.
QList<ProgressState> progressStates(const QString &terminal)
{
    static const QRegularExpression state(
        QStringLiteral("^time (\\d\\d:\\d\\d:\\d\\d\\.\\d\\d)(?: / (\\d\\d:\\d\\d:\\d\\d\\.\\d\\d))?  fps "));
    QList<ProgressState> states;
    for (QString piece : terminal.split(QRegularExpression(QStringLiteral("[\\r\\n]")))) {
        piece.remove(QStringLiteral("\x1b[K"));
        const QRegularExpressionMatch m = state.match(piece);
        if (m.hasMatch())
            states.append({clockSeconds(m.captured(1)), m.captured(2), piece});
    }
    return states;
}

// ffprobe's duration of the clip's container, as the sender's clock shows it.
QString durationClock(const QString &clip, double *seconds)
{
    const ToolResult r = ffprobe({"-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", clip});
    *seconds = r.out.trimmed().toDouble();
    const qint64 cs = qint64(*seconds * 100);
    return QStringLiteral("%1:%2:%3.%4").arg(cs / 360000, 2, 10, QChar('0')).arg(cs / 6000 % 60, 2, 10, QChar('0'))
        .arg(cs / 100 % 60, 2, 10, QChar('0')).arg(cs % 100, 2, 10, QChar('0'));
}

// The position the sender shows at the end: the pts of the last video packet
// it sends (decode order, so with B-frames not the latest picture), from the
// clip's start. -1 if ffprobe fails.
// The latest picture's time: with B-frames the last packet sent is not it.
double lastPicturePosition(const QString &clip)
{
    const ToolResult packets = ffprobe({"-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
                                        "-of", "csv=p=0", clip});
    const ToolResult start = ffprobe({"-v", "error", "-show_entries", "format=start_time", "-of", "csv=p=0", clip});
    const QList<QByteArray> lines = packets.out.trimmed().split('\n');
    double last = -1;
    for (const QByteArray &line : lines)
        last = std::max(last, line.toDouble());
    return packets.ok() && start.ok() && last >= 0 ? last - start.out.trimmed().toDouble() : -1;
}

} // namespace

class TestSenderTerminal : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void progressLineOnATerminal();
    void quietOnATerminal();
    void noProgressWithoutATerminal();
    void windowRemembersTheLastStream();

private:
    // The real sender with stdout and stderr on a pseudo-terminal; what the
    // terminal showed.
    QString runOnTerminal(const QStringList &senderArgs, int *exitCode);

    QTemporaryDir m_dir;
    QString m_clip;
};

void TestSenderTerminal::initTestCase()
{
    QVERIFY(m_dir.isValid());
    if (QStandardPaths::findExecutable(QStringLiteral("script")).isEmpty())
        H264LINK_SKIP_UNLESS_CI("util-linux `script` is not installed");
    // Video and sound: the sender's "audio: ..." line comes while the progress line shows.
    m_clip = m_dir.filePath("clip.mp4");
    const ToolResult made = ffmpeg({"-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3", "-f", "lavfi",
                                    "-i", "sine=frequency=440:duration=3", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                                    "-c:a", "aac", "-shortest", m_clip});
    QVERIFY2(made.ok(), made.err.constData());
}

QString TestSenderTerminal::runOnTerminal(const QStringList &senderArgs, int *exitCode)
{
    QStringList quoted{QStringLiteral(SENDER_EXECUTABLE)};
    for (const QString &arg : senderArgs)
        quoted << QLatin1Char('\'') + QString(arg).replace("'", "'\\''") + QLatin1Char('\'');
    QProcess terminal;
    terminal.setStandardInputFile(QProcess::nullDevice());
    // -e: the sender's exit code; -f: flushed at once; the typescript goes nowhere, the output to us.
    terminal.start(QStringLiteral("script"), {"-qefc", quoted.join(' '), "/dev/null"});
    if (!terminal.waitForFinished(60000)) {
        terminal.kill();
        terminal.waitForFinished();
    }
    *exitCode = terminal.exitStatus() == QProcess::NormalExit ? terminal.exitCode() : -1;
    return QString::fromUtf8(terminal.readAllStandardOutput());
}

void TestSenderTerminal::progressLineOnATerminal()
{
    ReceiverProcess receiver({"--once", "--no-audio"});
    QVERIFY(receiver.port());
    int exitCode = -1;
    const QString shown = runOnTerminal({m_clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port())},
                                        &exitCode);
    QVERIFY2(exitCode == 0, qPrintable(shown));
    QVERIFY(receiver.waitForExit(20000));

    const QList<ProgressState> states = progressStates(shown);
    // Real time, 3 s, redrawn at most twice a second: a few states, the last at the end.
    QVERIFY2(states.size() >= 3, qPrintable(shown));
    for (int i = 1; i < states.size(); ++i)
        QVERIFY2(states[i].positionS >= states[i - 1].positionS, qPrintable(states[i].line));
    QVERIFY2(states.last().positionS > states.first().positionS, qPrintable(shown));
    double durationS = 0;
    const QString duration = durationClock(m_clip, &durationS);
    const double endS = lastPicturePosition(m_clip);
    QVERIFY(durationS > 0 && endS > durationS / 2);
    for (const ProgressState &s : states)
        QCOMPARE(s.duration, duration);
    // The last state is at the end: the last picture's time (shown to 1/100 s, truncated).
    QVERIFY2(qAbs(states.last().positionS - endS) < 0.0101,
             qPrintable(QStringLiteral("%1, want %2 s").arg(states.last().line).arg(endS)));
    QVERIFY2(states.last().line.contains(QStringLiteral("receivers 1")), qPrintable(states.last().line));
    QVERIFY2(states.last().line.contains(QStringLiteral(" Mb/s")) || states.last().line.contains(QStringLiteral(" kb/s")),
             qPrintable(states.last().line));
    // The line was redrawn in place ('\r'), and other lines never run into it:
    // each starts a line of its own, the progress erased first.
    QVERIFY(shown.count('\r') >= states.size());
    for (QString piece : shown.split(QRegularExpression(QStringLiteral("[\\r\\n]")))) {
        piece.remove(QStringLiteral("\x1b[K"));
        const int log = std::max(piece.indexOf(QStringLiteral("sender: ")), piece.indexOf(QStringLiteral("audio: ")));
        QVERIFY2(log <= 0, qPrintable(QStringLiteral("garbled line: '%1'").arg(piece)));
    }
    QVERIFY2(shown.contains(QStringLiteral("audio: ")), qPrintable(shown)); // a line did come meanwhile
}

void TestSenderTerminal::quietOnATerminal()
{
    ReceiverProcess receiver({"--once", "--no-audio"});
    QVERIFY(receiver.port());
    int exitCode = -1;
    const QString shown = runOnTerminal({m_clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port()),
                                         "--fast", "--quiet"},
                                        &exitCode);
    QVERIFY2(exitCode == 0, qPrintable(shown));
    QVERIFY2(progressStates(shown).isEmpty(), qPrintable(shown));
    QVERIFY2(shown.contains(QStringLiteral("sender: ")), qPrintable(shown)); // the result line still comes
    QVERIFY(receiver.waitForExit(20000));
}

void TestSenderTerminal::noProgressWithoutATerminal()
{
    ReceiverProcess receiver({"--once", "--no-audio"});
    QVERIFY(receiver.port());
    const SenderRun run = runSender({m_clip, "--host", "127.0.0.1", "--port", QString::number(receiver.port())});
    QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    QVERIFY2(!run.err.contains('\r') && progressStates(run.err).isEmpty(), qPrintable(run.err));
    QVERIFY2(!run.out.contains('\r'), qPrintable(run.out));
    QVERIFY(receiver.waitForExit(20000));
}

void TestSenderTerminal::windowRemembersTheLastStream()
{
    QTemporaryDir config;
    QVERIFY(config.isValid());
    const QString keyFile = m_dir.filePath("key.txt");
    QFile key(keyFile);
    QVERIFY(key.open(QIODevice::WriteOnly));
    key.write("a key for the test\n");
    key.close();
    ReceiverProcess receiver({"--once", "--no-audio", "--key-file", keyFile});
    QVERIFY(receiver.port());
    QProcess sender;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("XDG_CONFIG_HOME", config.path());
    env.insert("QT_QPA_PLATFORM", "offscreen");
    sender.setProcessEnvironment(env);
    sender.setProcessChannelMode(QProcess::MergedChannels);
    // With FILE the window starts at once: a stream the window saves.
    sender.start(QStringLiteral(SENDER_EXECUTABLE), {m_clip, "--gui", "--fast", "--host", "127.0.0.1", "--port",
                                                     QString::number(receiver.port()), "--key-file", keyFile});
    QVERIFY(sender.waitForStarted());
    QVERIFY2(receiver.waitForExit(30000), qPrintable(receiver.output()));
    QCOMPARE(receiver.process().exitCode(), 0); // the keyed stream arrived whole
    sender.terminate(); // as closing the window
    QVERIFY(sender.waitForFinished(10000));
    QCOMPARE(sender.exitCode(), 0);

    const QString path = config.filePath("h264link/sender.conf");
    QVERIFY2(QFileInfo::exists(path), qPrintable(path));
    QSettings saved(path, QSettings::IniFormat);
    QCOMPARE(saved.value("source/file").toString(), m_clip);
    QCOMPARE(saved.value("receiver/host").toString(), QStringLiteral("127.0.0.1"));
    QCOMPARE(saved.value("receiver/port").toInt(), int(receiver.port()));
    QCOMPARE(saved.value("receiver/keyFile").toString(), keyFile);
    QVERIFY2(!readFile(path).contains("a key for the test"), "the key itself must not be saved");
}

QTEST_GUILESS_MAIN(TestSenderTerminal)
#include "tst_sender_terminal.moc"
