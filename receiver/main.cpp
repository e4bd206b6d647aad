// receiver: accepts one sender at a time and shows its H.264 stream live.
//   receiver [--port P] [--listen ADDR] [--renderer software|opengl]   window
//   receiver --connect HOST[:PORT] [--retry]   dials a serving sender instead
//            [--fullscreen] [--window-size WxH] [--always-on-top]
//   receiver --headless [--once] [--framemd5 F] no window (servers, tests)
//   receiver --list-senders [--browse-seconds N]   the senders announced on the LAN
#include "app_mode.h"
#include "audio_output.h"
#include "dial_target.h"
#include "discovery_cli.h"
#include "dns_sd_client.h"
#include "exit_codes.h"
#include "frame_slot.h"
#include "io_trace.h"
#include "io_trace_controls.h"
#include "logging.h"
#include "receiver_controller.h"
#include "receiver_window.h"
#include "secure_channel.h"
#include "signal_watcher.h"
#include "stream_stats.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QFile>
#include <QIcon>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkInterface>
#include <QSysInfo>
#include <QTimer>
#include <cstdio>
#include <malloc.h>

extern "C" {
#include <libavformat/avformat.h>
}

using namespace h264link;

namespace {

int fail(const QString &message, int code)
{
    std::fprintf(stderr, "receiver: %s\n", qUtf8Printable(message));
    return code;
}

// The --stats line's sound fields (see docs/ARCHITECTURE.md), appended to
// the video's object.
QString withAudio(const QString &json, const LiveStats &live)
{
    QJsonObject o = QJsonDocument::fromJson(json.toUtf8()).object();
    o.insert("audioPackets", qint64(live.audioPackets));
    o.insert("audioFrames", qint64(live.audioFrames));
    o.insert("audioUnderruns", qint64(live.audioUnderruns));
    o.insert("audioLatencyMs", live.audio && live.audioLatencyMs >= 0 ? QJsonValue(live.audioLatencyMs) : QJsonValue());
    o.insert("avOffsetMs", live.hasAvOffset ? QJsonValue(live.avOffsetMs) : QJsonValue());
    o.insert("audioLevelDb", live.audio ? QJsonValue(live.audioLevelDb) : QJsonValue());
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

// Everything the receiver owns lives and dies in here; main() below only exits.
int run(int argc, char *argv[])
{
    QCoreApplication::setApplicationName("receiver");
    QCoreApplication::setApplicationVersion(H264LINK_VERSION);
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Listens for an h264link sender and shows its H.264 stream live.\n"
        "The default port is 8264; the window shows this machine's addresses.\n"
        "With --connect it dials a sender that serves (sender FILE --serve) instead.\n\n"
        "Exit codes: 0 done, 1 decoding failed, 3 cannot listen or connect, 5 --once: the stream\n"
        "ended without END_OF_STREAM or frames were lost, 64 bad command line.");
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption port({"p", "port"}, "TCP port to listen on (default 8264; 0: any free port).",
                                  "port", "8264");
    const QCommandLineOption headless("headless", "Run without a window.");
    const QCommandLineOption once("once", "Exit after the first stream: 0 if it ended with END_OF_STREAM.");
    const QCommandLineOption framemd5("framemd5", "Write one line per decoded frame with its MD5 "
                                      "(compare with ffmpeg -f framemd5).", "file");
    const QCommandLineOption key("key", "Require this access key (TLS-PSK: the whole session is "
                                 "encrypted, and both sides prove they know the key). Prefer "
                                 "--key-file or H264LINK_KEY: --key is visible in the process list.",
                                 "key");
    const QCommandLineOption keyFile("key-file", "Read the access key from a file.", "file");
    const QCommandLineOption stats("stats", "Print live statistics as one JSON line per second on stdout "
                                   "(fps, bitrate, latency median/p95, RTT, skipped frames).");
    const QCommandLineOption renderer("renderer", "How the window draws the picture: 'software' (default: "
                                      "libswscale + QPainter, no OpenGL, least memory) or 'opengl' "
                                      "(Qt Multimedia's QVideoWidget; the GPU converts and scales, "
                                      "for big full-screen pictures on a machine with a GPU).",
                                      "name", "software");
    const QCommandLineOption noAudio("no-audio", "Ignore the stream's sound (it is counted, not decoded).");
    const QCommandLineOption audioDevice("audio-device", "Play the sound on this output (its description "
                                         "or id; default: the system's default output).", "name");
    const QCommandLineOption pcm("pcm", "Write the decoded sound to a file: s16le interleaved at the "
                                "stream's rate and channels; a name ending in .wav gets a WAV header.",
                                "file");
    const QCommandLineOption record("record", "Write what arrives, video and sound, to FILE.mkv or FILE.mp4 "
                                   "(no re-encoding, the sender's timestamps).", "file");
    const QCommandLineOption listen("listen", "Accept senders on this one address of this machine only "
                                    "(default: all of them).", "address");
    const QCommandLineOption fullscreen("fullscreen", "Start full screen: the picture alone (f or F11 toggles).");
    const QCommandLineOption windowSize("window-size", "The window's inside size at the start, e.g. 1280x720.",
                                        "WxH");
    const QCommandLineOption alwaysOnTop("always-on-top", "Keep the window above other windows.");
    const QCommandLineOption connectTo("connect", "Connect to a sender that serves (sender FILE --serve) "
                                       "at HOST or HOST:PORT (default port 8264) instead of listening; "
                                       "after each stream, connect again.", "host[:port]");
    const QCommandLineOption retry("retry", "With --connect: wait for the sender, trying every second, "
                                   "instead of exiting when it cannot be reached.");
    const QCommandLineOption name("name", "What this receiver is called in a serving sender's list and on "
                                  "the local network (default: this machine's host name).", "name");
    const QCommandLineOption traceIo = traceIoOption();
    const QCommandLineOption noAnnounce("no-announce", "Do not announce this receiver on the local network "
                                        "(DNS-SD _h264link._tcp through the Avahi daemon).");
    const QCommandLineOption listSenders("list-senders", "Print the senders announced on the local network "
                                         "(name, host, address:port, whether a key is needed) and exit.");
    const QCommandLineOption browseSeconds = browseSecondsOption();
    parser.addOptions({port, headless, once, framemd5, key, keyFile, stats, renderer, noAudio, audioDevice, pcm,
                       record, listen, connectTo, retry, name, fullscreen, windowSize, alwaysOnTop, traceIo,
                       noAnnounce, listSenders, browseSeconds});
    // Parsed before any application exists: QApplication needs a display,
    // and --help, --version and a bad command line must work without one.
    QStringList arguments;
    for (int i = 0; i < argc; ++i)
        arguments << QString::fromLocal8Bit(argv[i]);
    const bool parsed = parser.parse(arguments);
    const bool gui = parsed && !parser.isSet(headless) && !parser.isSet(listSenders)
        && !argvContains(argc, argv, {"-h", "--help", "--help-all", "-v", "--version"});
    if (gui && !displayAvailable(argc, argv))
        return fail(noDisplayText(QStringLiteral("use --headless, or set DISPLAY")), ExitFailure);
    auto app = makeApplication(argc, argv, gui, "receiver", "use --headless, or set DISPLAY");
    if (!parsed)
        return fail(parser.errorText() + QStringLiteral(" (see --help)"), ExitUsage);
    if (parser.isSet(QStringLiteral("help")) || parser.isSet(QStringLiteral("help-all")))
        parser.showHelp(ExitOk);
    if (parser.isSet(QStringLiteral("version")))
        parser.showVersion();
    if (parser.isSet(listSenders))
        return listDiscovered(QString::fromLatin1(dnssd::kRoleSender), QStringLiteral("senders"),
                              parser.value(browseSeconds));
    installFfmpegLogHandler();
    trace::Tracer::instance(); // on this, the main thread: its summary timer lives here
    if (parser.isSet(traceIo))
        setIoTrace(true);

    ReceiverOptions options;
    bool ok = false;
    const uint portValue = parser.value(port).toUInt(&ok);
    if (!ok || portValue > 65535)
        return fail(QStringLiteral("invalid port '%1': use 0-65535").arg(parser.value(port)), ExitUsage);
    options.port = quint16(portValue);
    if (parser.isSet(listen) && !options.listenAddress.setAddress(parser.value(listen)))
        return fail(QStringLiteral("--listen '%1' is not an IP address (e.g. 192.168.1.20 or fd00::5)")
                        .arg(parser.value(listen)), ExitUsage);
    if (parser.isSet(connectTo)) {
        if (parser.isSet(listen) || parser.isSet(port))
            return fail(QStringLiteral("--connect dials the sender: leave out --%1 (give the port as HOST:PORT)")
                            .arg(parser.isSet(listen) ? "listen" : "port"), ExitUsage);
        QString error;
        const std::optional<HostPort> target = parseHostPort(parser.value(connectTo), options.connectPort, &error);
        if (!target)
            return fail(QStringLiteral("--connect %1").arg(error), ExitUsage);
        options.connectHost = target->host;
        options.connectPort = target->port;
    }
    if (parser.isSet(retry) && !parser.isSet(connectTo))
        return fail(QStringLiteral("--retry goes with --connect: a listening receiver waits anyway"), ExitUsage);
    options.retry = parser.isSet(retry);
    options.name = parser.value(name).trimmed();
    if (parser.isSet(name) && options.name.isEmpty())
        return fail(QStringLiteral("--name needs a name, e.g. --name \"front row\""), ExitUsage);
    if (options.name.size() > proto::kMaxNameLength)
        return fail(QStringLiteral("--name is %1 characters long; give one of at most %2")
                        .arg(options.name.size()).arg(proto::kMaxNameLength), ExitUsage);
    if (options.name.isEmpty())
        options.name = QSysInfo::machineHostName();
    QSize windowSizeValue;
    if (parser.isSet(windowSize)) {
        const QStringList wh = parser.value(windowSize).split(QLatin1Char('x'));
        bool okW = false, okH = false;
        if (wh.size() == 2)
            windowSizeValue = QSize(wh[0].toInt(&okW), wh[1].toInt(&okH));
        if (!okW || !okH || windowSizeValue.width() < 160 || windowSizeValue.height() < 120
            || windowSizeValue.width() > 16384 || windowSizeValue.height() > 16384)
            return fail(QStringLiteral("--window-size '%1': use WIDTHxHEIGHT in pixels, from 160x120 "
                                       "to 16384x16384, e.g. 1280x720").arg(parser.value(windowSize)), ExitUsage);
    }
    options.headless = parser.isSet(headless);
    options.once = parser.isSet(once);
    options.md5Path = parser.value(framemd5);
    if (!options.md5Path.isEmpty()) { // found now, not when the first sender arrives
        QFile probe(options.md5Path);
        if (!probe.open(QIODevice::WriteOnly | QIODevice::Truncate))
            return fail(QStringLiteral("cannot write '%1': %2").arg(options.md5Path, probe.errorString()),
                        ExitUsage);
    }
    options.noAudio = parser.isSet(noAudio);
    options.audioDevice = parser.value(audioDevice);
    options.pcmPath = parser.value(pcm);
    if (!options.pcmPath.isEmpty()) {
        QFile probe(options.pcmPath);
        if (!probe.open(QIODevice::WriteOnly | QIODevice::Truncate))
            return fail(QStringLiteral("cannot write '%1': %2").arg(options.pcmPath, probe.errorString()),
                        ExitUsage);
    }
    options.recordPath = parser.value(record);
    if (!options.recordPath.isEmpty()) {
        if (!av_guess_format(nullptr, options.recordPath.toUtf8().constData(), nullptr)
            || !(options.recordPath.endsWith(".mkv", Qt::CaseInsensitive)
                 || options.recordPath.endsWith(".mp4", Qt::CaseInsensitive)))
            return fail(QStringLiteral("--record '%1': use a name ending in .mkv or .mp4").arg(options.recordPath),
                        ExitUsage);
        QFile probe(options.recordPath);
        if (!probe.open(QIODevice::WriteOnly | QIODevice::Truncate))
            return fail(QStringLiteral("cannot write '%1': %2").arg(options.recordPath, probe.errorString()),
                        ExitUsage);
    }
    if (!options.audioDevice.isEmpty() && !options.noAudio) {
        QStringList known;
        if (AudioOutput::findDevice(options.audioDevice, &known).isNull())
            return fail(QStringLiteral("no audio output named '%1'; there are: %2").arg(options.audioDevice,
                            known.isEmpty() ? QStringLiteral("none") : known.join(QStringLiteral(", "))),
                        ExitBadInput);
    }
    const auto rendererValue = parseRenderer(parser.value(renderer));
    if (!rendererValue)
        return fail(QStringLiteral("unknown renderer '%1': use software or opengl").arg(parser.value(renderer)),
                    ExitUsage);
    QString keyError;
    if (!resolveAccessKey(parser.value(key), parser.value(keyFile), &options.accessKey, &keyError))
        return fail(keyError, ExitUsage);
    if (!options.accessKey.isEmpty() && !securechannel::isAvailable(&keyError))
        return fail(keyError, ExitFailure);

    FrameSlot slot;
    ReceiverController controller(options, options.headless ? nullptr : &slot);
    int exitCode = ExitOk;
    QObject::connect(&controller, &ReceiverController::streamStarted, [](const QString &peer) {
        std::fprintf(stdout, "receiver: sender connected from %s\n", qUtf8Printable(peer));
        std::fflush(stdout);
    });
    QObject::connect(&controller, &ReceiverController::streamEnded, [](const QString &summary, bool) {
        std::fprintf(stdout, "receiver: %s\n", qUtf8Printable(summary));
        std::fflush(stdout);
    });
    QObject::connect(&controller, &ReceiverController::notice, [](const QString &line) {
        std::fprintf(stdout, "receiver: %s\n", qUtf8Printable(line));
        std::fflush(stdout);
    });
    QObject::connect(&controller, &ReceiverController::refused, [](const QString &peer, const QString &why) {
        std::fprintf(stdout, "receiver: refused %s: %s\n", qUtf8Printable(peer), qUtf8Printable(why));
        std::fflush(stdout);
    });
    QObject::connect(&controller, &ReceiverController::dialGaveUp, app.get(), [&](const QString &why) {
        exitCode = fail(why + QStringLiteral(" (--retry waits for it)"), ExitConnectionFailed);
        app->quit();
    });
    QObject::connect(&controller, &ReceiverController::onceFinished, app.get(), [&](int code) {
        exitCode = code;
        app->quit();
    });

    // --stats: one JSON line per second while a stream is on. With a window,
    // the window's own one-second report feeds the panel; headless, this does.
    QTimer statsTimer;
    if (parser.isSet(stats)) {
        QObject::connect(&statsTimer, &QTimer::timeout, [&controller] {
            const auto live = controller.liveStats();
            const auto streamStats = controller.streamStats();
            if (!live || !streamStats)
                return;
            streamStats->setDecodeErrors(live->decodeErrors);
            std::fprintf(stdout, "%s\n", qUtf8Printable(withAudio(streamStats->report(proto::nowMicros()).toJson(),
                                                                  *live)));
            std::fflush(stdout);
        });
        statsTimer.start(1000);
        QObject::connect(&controller, &ReceiverController::statsSummary, [](const QString &json) {
            std::fprintf(stdout, "%s\n", qUtf8Printable(json));
            std::fflush(stdout);
        });
    }

    // One way to close, in every mode: closing the window, Ctrl+C and
    // SIGTERM all say goodbye to the sender (ERROR 10, "the receiver was
    // closed"), wait for it to hang up (bounded), then exit 0.
    SignalWatcher signalWatcher;
    QObject::connect(&signalWatcher, &SignalWatcher::terminationRequested, &controller,
                     &ReceiverController::shutDown);
    QObject::connect(&controller, &ReceiverController::closed, app.get(), [&] {
        exitCode = ExitOk;
        app->quit();
    });
    std::unique_ptr<ReceiverWindow> window;
    if (!options.headless) {
        QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/receiver.png")));
        QApplication::setQuitOnLastWindowClosed(false); // closed() quits, after the goodbye
        window = std::make_unique<ReceiverWindow>(&slot, &controller, *rendererValue,
                                                  WaitingPageOptions{options.listenAddress,
                                                                     !options.accessKey.isEmpty(),
                                                                     options.dials()
                                                                         ? QStringLiteral("%1:%2").arg(options.connectHost).arg(options.connectPort)
                                                                         : QString()});
        QObject::connect(window.get(), &ReceiverWindow::closeRequested, &controller,
                         &ReceiverController::shutDown);
        QObject::connect(window.get(), &ReceiverWindow::connectRequested, &controller, [&](const QString &hostPort) {
            QString error;
            if (const std::optional<HostPort> target = parseHostPort(hostPort, options.connectPort, &error))
                controller.connectTo(target->host, target->port);
            else
                qCWarning(lcReceiver).noquote() << error;
        });
        if (parser.isSet(alwaysOnTop))
            window->setWindowFlag(Qt::WindowStaysOnTopHint);
        if (windowSizeValue.isValid())
            window->resize(windowSizeValue); // the person's size: not refitted to the picture
        if (parser.isSet(fullscreen))
            window->showFullScreen();
        else
            window->show();
    }
    const QString error = controller.start();
    if (!error.isEmpty())
        return fail(error, ExitConnectionFailed);
    if (options.dials())
        std::fprintf(stdout, "receiver: connecting to %s:%u\n", qUtf8Printable(options.connectHost),
                     unsigned(options.connectPort));
    else
        std::fprintf(stdout, "receiver: listening on port %u\n", unsigned(controller.port()));
    std::fflush(stdout);
    // DNS-SD, while it listens; with --listen, on that address's interface only.
    std::unique_ptr<ServiceAnnouncer> announcer;
    Announcement announcement;
    announcement.role = QString::fromLatin1(dnssd::kRoleReceiver);
    announcement.port = controller.port();
    announcement.keyNeeded = !options.accessKey.isEmpty();
    if (parser.isSet(name))
        announcement.name = options.name;
    bool announce = !parser.isSet(noAnnounce) && !options.dials(); // dialling, it has no port to offer
    if (announce && options.listenAddress != QHostAddress(QHostAddress::Any)) {
        for (const QNetworkInterface &i : QNetworkInterface::allInterfaces())
            for (const QNetworkAddressEntry &e : i.addressEntries())
                if (e.ip().isEqual(options.listenAddress, QHostAddress::TolerantConversion)
                    && !(i.flags() & QNetworkInterface::IsLoopBack))
                    announcement.interfaceIndex = i.index();
        announce = announcement.interfaceIndex >= 0;
        if (!announce) {
            std::fprintf(stdout, "receiver: not announcing on the network: --listen %s is not an address "
                         "of a network interface here\n", qUtf8Printable(options.listenAddress.toString()));
            std::fflush(stdout);
        }
    }
    if (announce)
        announcer = announceOnLan(announcement, [](const QString &line) {
            std::fprintf(stdout, "receiver: %s\n", qUtf8Printable(line));
            std::fflush(stdout);
        });
    app->exec();
    return exitCode;
}

} // namespace

// A new decoder's first two pictures each fault in megabytes of fresh
// pages: on a virtual machine that was two thirds of the time to the first
// picture (10 of 16 ms at 720p). So every thread allocates from one heap
// that keeps what it frees (nothing under 32 MB goes to mmap), and 8 MB of
// it, two 1080p pictures, is touched now, while nobody waits. Measured:
// throughput and peak memory unchanged (docs/BENCHMARK.md).
static void prefaultHeap()
{
    mallopt(M_ARENA_MAX, 1); // before any thread starts
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    constexpr size_t kPrefault = 8 << 20;
    if (auto *p = static_cast<volatile char *>(malloc(kPrefault))) { // volatile: the writes stay
        for (size_t i = 0; i < kPrefault; i += 4096)
            p[i] = 0;
        free(const_cast<char *>(p));
    }
}

int main(int argc, char *argv[])
{
    prefaultHeap();
    exitBeforeStaticTeardown(run(argc, argv));
}
