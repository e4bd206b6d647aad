// sender: streams the video (H.264 as it is, other codecs re-encoded to H.264) and the sound of a media file to a receiver.
//   sender FILE --host H [--port P] [--fast] [--loop] [--no-audio]   streams, then exits
//   sender - | sender /dev/videoN | sender --screen [DISPLAY]   stdin, a camera, the screen
//   sender [FILE] --gui                                  opens the window
//   sender --list-receivers [--browse-seconds N]         the receivers announced on the LAN
#include "app_mode.h"
#include "discovery_cli.h"
#include "dns_sd_client.h"
#include "dial_target.h"
#include "exit_codes.h"
#include "io_trace.h"
#include "io_trace_controls.h"
#include "logging.h"
#include "remux/publisher.h"
#include "remux/video_transcoder.h"
#include "secure_channel.h"
#include "signal_watcher.h"
#include "source/media_source.h"
#include "stream_session.h"
#include "ui/sender_window.h"
#include "ui/terminal_progress.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QThread>
#include <csignal>
#include <cstdio>

using namespace h264link;

namespace {

struct CommandLine {
    QCommandLineOption host{{"H", "host"}, "Receiver host name or address; several, comma-separated, each with "
                            "an optional :PORT ([IPv6]:PORT), stream to all of them: a,b:8300,[::1]:8264.",
                            "hosts", "127.0.0.1"};
    QCommandLineOption port{{"p", "port"}, "Receiver TCP port (default 8264); with --serve, the port to listen "
                            "on (0: any free one, printed).", "port", "8264"};
    QCommandLineOption serve{"serve", "Listen for receivers instead of dialling one (receiver --connect HOST): "
                             "any number join and leave while the file plays; it starts with the first."};
    QCommandLineOption maxReceivers{"max-receivers", "With --serve, at most N receivers at once; the next is "
                                    "refused as full (default 64).", "N", "64"};
    QCommandLineOption stats{"stats", "One JSON line per second on stdout, one entry per receiver (address, "
                             "time connected, lag, frames skipped, bit rate)."};
    QCommandLineOption fast{"fast", "Send as fast as the link allows instead of in real time."};
    QCommandLineOption loop{"loop", "Start again at the end of the file, until stopped."};
    QCommandLineOption retry{"retry", "If the receiver is not there, goes away, is busy or is closed, keep "
                             "trying every second and continue from the current position."};
    QCommandLineOption noAudio{"no-audio", "Send the video only, not the file's sound."};
    QCommandLineOption gui{"gui", "Open the sender window (with FILE: start streaming at once)."};
    QCommandLineOption key{"key", "Access key the receiver requires (TLS-PSK: the whole session is "
                           "encrypted, and both sides prove they know the key). Visible to other "
                           "users in the process list: prefer --key-file or H264LINK_KEY.", "key"};
    QCommandLineOption keyFile{"key-file", "Read the access key from a file.", "file"};
    QCommandLineOption timeout{"connect-timeout", "Seconds to wait for the receiver (default 5).",
                               "seconds", "5"};
    QCommandLineOption transcode{"transcode", "Re-encode H.264 video too (any other codec always is), "
                                 "with libx264 tuned for live."};
    QCommandLineOption bitrate{"bitrate", "Bit rate of the H.264 a transcoded video becomes, e.g. 2.5M or "
                               "800k (default: from the picture size and frame rate).", "bits/s"};
    QCommandLineOption maxSize{"max-size", "Scale a transcoded picture down so that its longer side is at "
                               "most N pixels (an H.264 file larger than that is transcoded).", "N"};
    // A flag: its optional DISPLAY comes as the positional argument.
    QCommandLineOption screen{"screen", "Capture the whole screen of the X display DISPLAY (default: $DISPLAY) "
                              "instead of a file: sender --screen [DISPLAY]."};
    QCommandLineOption quiet{"quiet", "No progress line on the terminal (errors and notices are still printed)."};
    QCommandLineOption fps{"fps", "Frames per second to capture from the screen or a camera (default 30).",
                           "n", "30"};
    QCommandLineOption traceIo = traceIoOption();
    QCommandLineOption noAnnounce{"no-announce", "With --serve, do not announce this sender on the local network "
                                  "(DNS-SD _h264link._tcp through the Avahi daemon)."};
    QCommandLineOption listReceivers{"list-receivers", "Print the receivers announced on the local network "
                                     "(DNS-SD: name, host, address:port, whether a key is needed) and exit."};
    QCommandLineOption browseSeconds = browseSecondsOption();
    // --publish (issue 13, publisher)
    QCommandLineOption publish{"publish", "Also push the stream, as it is sent (no re-encoding), to a media "
                               "server: rtmp://SERVER[:PORT]/APP/NAME (flv) or srt://SERVER:PORT (mpegts). "
                               "Repeatable. Without --host, only the server(s) get it.", "URL"};
    QCommandLineParser parser;

    CommandLine()
    {
        parser.setApplicationDescription(
            "Streams the first video stream of FILE (mp4, mkv, mov, ts, flv, raw .h264 ...),\n"
            "as an H.264 Annex B elementary stream, to an h264link receiver: H.264 as it is,\n"
            "any other codec FFmpeg decodes re-encoded with libx264, with its first audio\n"
            "stream (AAC and MP3 as they are, other codecs as AAC).\n"
            "A file with sound only streams too.\n"
            "FILE '-' reads any container from stdin (e.g. ffmpeg ... -f mpegts - | sender -);\n"
            "/dev/videoN captures a V4L2 camera; --screen [DISPLAY] captures an X screen.\n"
            "Without FILE, or with --gui, opens a window.\n\n"
            "Exit codes: 0 done (the receiver confirmed it decoded everything) or stopped\n"
            "(Ctrl+C, SIGTERM), 2 the file cannot be streamed, 3 connection failed or the\n"
            "receiver was closed, or a --publish server refused, was unreachable or went away, 4 the receiver refused, failed or is not a receiver,\n"
            "5 the receiver did not confirm it decoded every frame, 64 bad command line.");
        parser.addHelpOption();
        parser.addVersionOption();
        parser.addPositionalArgument("FILE", "Media file with video (any codec FFmpeg decodes) or sound, '-' for "
                                     "stdin, /dev/videoN for a camera; with --screen, the X DISPLAY.",
                                     "[FILE | DISPLAY]");
        parser.addOptions({host, port, serve, maxReceivers, stats, fast, loop, retry, noAudio, gui, key, keyFile,
                           timeout, transcode, bitrate, maxSize, screen, fps, quiet, traceIo, listReceivers,
                           browseSeconds, publish, noAnnounce});
    }
};

// "a,b:8300,[::1]:9000" into hosts and ports (`port` where none is given).
bool parseReceivers(const QString &list, quint16 port, QList<ReceiverAddress> *out, QString *error)
{
    for (const QString &item : list.split(QLatin1Char(','))) {
        const std::optional<HostPort> target = parseHostPort(item.trimmed(), port, error);
        if (!target) {
            *error = QStringLiteral("--host %1").arg(*error);
            return false;
        }
        *out << ReceiverAddress{target->host, target->port};
    }
    return true;
}

int fail(const QString &message, int code)
{
    TerminalProgress::printLine(stderr, QStringLiteral("sender: ") + message);
    return code;
}

} // namespace

// Everything the sender owns lives and dies in here; main() below only exits.
static int run(int argc, char *argv[])
{
    QCoreApplication::setApplicationName("sender");
    QCoreApplication::setOrganizationName("h264link"); // QSettings: ~/.config/h264link/sender.conf
    QCoreApplication::setApplicationVersion(H264LINK_VERSION);
    CommandLine cli;
    // Decide on a GUI before creating the application: QApplication needs a
    // display, and --help or a command-line run must work without one.
    QStringList args;
    for (int i = 0; i < argc; ++i) {
        const QString arg = QString::fromLocal8Bit(argv[i]);
        if (arg.startsWith(QLatin1String("--screen=")))
            args << QStringLiteral("--screen") << arg.mid(9); // the DISPLAY, as a positional argument
        else
            args << arg;
    }
    const bool parsed = cli.parser.parse(args);
    const bool wantsHelp = argvContains(argc, argv, {"-h", "--help", "--help-all", "-v", "--version"});
    const bool gui = parsed && !wantsHelp && !cli.parser.isSet(cli.listReceivers)
        && (cli.parser.isSet(cli.gui)
            || (cli.parser.positionalArguments().isEmpty() && !cli.parser.isSet(cli.screen)));
    const char *noWindow = "give FILE and --host to stream from the command line, or set DISPLAY";
    if (gui && !displayAvailable(argc, argv))
        return fail(noDisplayText(QString::fromUtf8(noWindow)), ExitFailure);
    auto app = makeApplication(argc, argv, gui, "sender", noWindow);
    if (!parsed)
        return fail(cli.parser.errorText() + QStringLiteral(" (see --help)"), ExitUsage);
    if (cli.parser.isSet(QStringLiteral("help")) || cli.parser.isSet(QStringLiteral("help-all")))
        cli.parser.showHelp(ExitOk);
    if (cli.parser.isSet(QStringLiteral("version")))
        cli.parser.showVersion();
    if (cli.parser.isSet(cli.listReceivers))
        return listDiscovered(QString::fromLatin1(dnssd::kRoleReceiver), QStringLiteral("receivers"),
                              cli.parser.value(cli.browseSeconds));
    installFfmpegLogHandler();
    trace::Tracer::instance(); // on this, the main thread: its summary timer lives here
    if (cli.parser.isSet(cli.traceIo))
        setIoTrace(true);

    SenderOptions options;
    const QStringList files = cli.parser.positionalArguments();
    if (files.size() > 1)
        return fail(cli.parser.isSet(cli.screen) ? QStringLiteral("--screen takes one DISPLAY and no FILE (see --help)")
                                                 : QStringLiteral("give one FILE only (see --help)"),
                    ExitUsage);
    options.screen = cli.parser.isSet(cli.screen);
    if (options.screen) {
        options.display = files.isEmpty() ? qEnvironmentVariable("DISPLAY") : files.first();
        if (options.display.isEmpty())
            return fail("--screen: which display? DISPLAY is not set; give one, e.g. --screen :0", ExitUsage);
    } else {
        options.file = files.value(0);
    }
    options.host = cli.parser.value(cli.host);
    bool ok = false;
    const uint port = cli.parser.value(cli.port).toUInt(&ok);
    if (!ok || port > 65535)
        return fail(QStringLiteral("invalid port '%1': use 1-65535").arg(cli.parser.value(cli.port)),
                    ExitUsage);
    options.serve = cli.parser.isSet(cli.serve);
    if (!options.serve && port == 0)
        return fail(QStringLiteral("invalid port '0': use 1-65535 (0 only with --serve)"), ExitUsage);
    options.port = quint16(port);
    if (options.serve && cli.parser.isSet(cli.host))
        return fail(QStringLiteral("--serve listens for receivers; --host dials them: give one of the two"), ExitUsage);
    if (!options.serve) {
        QString hostError;
        if (!parseReceivers(options.host, options.port, &options.receivers, &hostError))
            return fail(hostError, ExitUsage);
        options.host = options.receivers.first().host; // one receiver: the one-to-one path, as ever
        options.port = options.receivers.first().port;
    }
    const int maxReceivers = cli.parser.value(cli.maxReceivers).toInt(&ok);
    if (!ok || maxReceivers < 1 || maxReceivers > 1024)
        return fail(QStringLiteral("invalid --max-receivers '%1': give 1-1024").arg(cli.parser.value(cli.maxReceivers)),
                    ExitUsage);
    options.maxReceivers = maxReceivers;
    if (options.receivers.size() > maxReceivers)
        return fail(QStringLiteral("--host lists %1 receivers, more than --max-receivers %2")
                        .arg(options.receivers.size()).arg(maxReceivers), ExitUsage);
    options.stats = cli.parser.isSet(cli.stats);
    const int fps = cli.parser.value(cli.fps).toInt(&ok);
    if (!ok || fps < 1 || fps > 240)
        return fail(QStringLiteral("invalid --fps '%1': give frames per second, 1-240").arg(cli.parser.value(cli.fps)),
                    ExitUsage);
    options.fps = fps;
    options.fast = cli.parser.isSet(cli.fast);
    options.loop = cli.parser.isSet(cli.loop);
    const bool live = options.screen || options.file == QLatin1String("-")
        || MediaSource::isCameraPath(options.file);
    if (options.loop && live)
        return fail(QStringLiteral("--loop: %1 cannot start again (only a file can); leave --loop out")
                        .arg(options.screen ? QStringLiteral("the screen")
                                            : options.file == QLatin1String("-") ? QStringLiteral("stdin")
                                                                                 : options.file),
                    ExitUsage);
    options.retry = cli.parser.isSet(cli.retry);
    options.announce = !cli.parser.isSet(cli.noAnnounce);
    options.noAudio = cli.parser.isSet(cli.noAudio);
    const double timeoutS = cli.parser.value(cli.timeout).toDouble(&ok);
    if (!ok || timeoutS <= 0 || timeoutS > 3600)
        return fail(QStringLiteral("invalid --connect-timeout '%1': give seconds, e.g. 5")
                        .arg(cli.parser.value(cli.timeout)), ExitUsage);
    options.connectTimeoutMs = int(timeoutS * 1000);
    options.transcode = cli.parser.isSet(cli.transcode);
    QString valueError;
    if (cli.parser.isSet(cli.bitrate)
        && !VideoTranscoder::parseBitRate(cli.parser.value(cli.bitrate), &options.bitRate, &valueError))
        return fail(valueError, ExitUsage);
    if (cli.parser.isSet(cli.maxSize)) {
        const int size = cli.parser.value(cli.maxSize).toInt(&ok);
        if (!ok || size < 16 || size > 16384)
            return fail(QStringLiteral("invalid --max-size '%1': give the longest side in pixels, 16 to 16384, "
                                       "e.g. 1280").arg(cli.parser.value(cli.maxSize)), ExitUsage);
        options.maxSize = size;
    }
    options.keyFile = cli.parser.value(cli.keyFile);
    QString keyError;
    if (!resolveAccessKey(cli.parser.value(cli.key), cli.parser.value(cli.keyFile), &options.key, &keyError))
        return fail(keyError, ExitUsage);
    if (!options.key.isEmpty() && !securechannel::isAvailable(&keyError))
        return fail(keyError, ExitFailure);
    // --publish (issue 13, publisher): checked here, connected by the session.
    options.publish = cli.parser.values(cli.publish);
    for (const QString &url : std::as_const(options.publish)) {
        QString publishError;
        if (Publisher::containerFor(url, &publishError).isEmpty())
            return fail(publishError, ExitUsage);
    }
    if (!options.publish.isEmpty() && gui)
        return fail(QStringLiteral("--publish works from the command line, not in the window (leave out --gui)"),
                    ExitUsage);
    if (!options.publish.isEmpty() && !cli.parser.isSet(cli.host))
        options.host.clear(); // publish only: no receiver

    // Ctrl+C / SIGTERM end the stream as Stop does: END_OF_STREAM with the
    // counts, a short wait for the receiver's reply, a clean close, exit 0.
    SignalWatcher signalWatcher;
    if (gui) {
        QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/sender.png")));
        // Not given: the window offers the last stream's (SenderWindow).
        if (!cli.parser.isSet(cli.host))
            options.host.clear();
        if (!cli.parser.isSet(cli.port))
            options.port = 0;
        SenderWindow window(options);
        // As the window's close button: Stop, then quit (the window's
        // destructor waits for the stream's clean end).
        QObject::connect(&signalWatcher, &SignalWatcher::terminationRequested, &window, &QWidget::close);
        window.show();
        if (!options.file.isEmpty() || options.screen)
            window.start();
        return app->exec();
    }

    // Command line: the same StreamSession, on a worker thread.
    QThread worker;
    StreamSession session(options);
    session.moveToThread(&worker);
    int exitCode = ExitFailure;
    QObject::connect(&worker, &QThread::started, &session, &StreamSession::run);
    // The progress line lives on this thread; the session's signals arrive queued.
    std::unique_ptr<TerminalProgress> progress;
    if (TerminalProgress::wanted(cli.parser.isSet(cli.quiet))) {
        progress = std::make_unique<TerminalProgress>();
        QObject::connect(&session, &StreamSession::progress, progress.get(), &TerminalProgress::update);
    }
    const auto say = [](std::FILE *stream, const QString &line) { TerminalProgress::printLine(stream, line); };
    QObject::connect(&session, &StreamSession::connected, app.get(), [&](const QString &peer) {
        say(stderr, QStringLiteral("sender: connected to %1").arg(peer));
        if (progress)
            progress->setReceivers(1);
    });
    QString lastRetryReason;
    QObject::connect(&session, &StreamSession::retrying, app.get(), [&](const QString &reason) {
        if (reason != lastRetryReason) // once per cause, not once a second
            say(stderr, QStringLiteral("sender: %1; retrying every second (Ctrl+C to stop)").arg(reason));
        lastRetryReason = reason;
        if (progress)
            progress->setReceivers(0);
    });
    QObject::connect(&session, &StreamSession::notice, app.get(), [&](const QString &line) {
        // "audio: ..." and "video: ..." as they are: lines scripts can look for.
        const bool streamLine = line.startsWith(QLatin1String("audio: ")) || line.startsWith(QLatin1String("video: "));
        say(stderr, streamLine ? line : QStringLiteral("sender: ") + line);
    });
    QObject::connect(&session, &StreamSession::statsLine, app.get(), [&options](const QString &json) {
        if (!options.stats)
            return;
        std::fprintf(stdout, "%s\n", json.toUtf8().constData());
        std::fflush(stdout);
    });
    QObject::connect(&session, &StreamSession::receiversChanged, app.get(), [&](int streaming) {
        if (progress)
            progress->setReceivers(streaming);
    });
    // --serve: announced on the LAN (DNS-SD) while it serves, withdrawn at exit.
    std::unique_ptr<ServiceAnnouncer> announcer;
    QObject::connect(&session, &StreamSession::serving, app.get(), [&](quint16 servingPort) {
        if (!options.announce)
            return;
        Announcement a;
        a.role = QString::fromLatin1(dnssd::kRoleSender);
        a.port = servingPort;
        a.keyNeeded = !options.key.isEmpty();
        announcer = announceOnLan(a, [say](const QString &line) { say(stderr, QStringLiteral("sender: ") + line); });
    });
    QObject::connect(&session, &StreamSession::waitingForReceiver, app.get(), [&] {
        say(stderr, QStringLiteral("sender: everything sent; waiting for the receiver to finish decoding "
                                   "(Ctrl+C to stop)"));
    });
    QObject::connect(&session, &StreamSession::finished, app.get(),
                     [&](int code, const QString &message) {
                         exitCode = code;
                         if (progress)
                             progress->finish();
                         if (code == ExitOk)
                             say(stdout, QStringLiteral("sender: ") + message);
                         else
                             fail(message, code);
                         app->quit();
                     });
    QObject::connect(&signalWatcher, &SignalWatcher::terminationRequested, app.get(), [&](int signalNumber) {
        say(stderr, QStringLiteral("sender: %1: ending the stream (again to quit at once)")
                        .arg(signalNumber == SIGINT ? "interrupted" : "terminated"));
        session.stop(); // thread-safe; finished() follows
    });
    worker.start();
    app->exec();
    worker.quit();
    worker.wait();
    trace::Tracer::instance().flushSummary(); // the worker's last calls
    return exitCode;
}

int main(int argc, char *argv[])
{
    exitBeforeStaticTeardown(run(argc, argv));
}
