#include "app_mode.h"

#include <QApplication>
#include <QFile>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

namespace h264link {

bool argvContains(int argc, char **argv, std::initializer_list<const char *> options)
{
    for (int i = 1; i < argc; ++i) {
        for (const char *option : options) {
            if (std::strcmp(argv[i], option) == 0)
                return true;
        }
    }
    return false;
}

bool displayAvailable(int argc, char **argv)
{
    QString platform = qEnvironmentVariable("QT_QPA_PLATFORM");
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "-platform") == 0)
            platform = QString::fromLocal8Bit(argv[i + 1]);
    }
    const bool x11 = qEnvironmentVariableIsSet("DISPLAY") && !qEnvironmentVariableIsEmpty("DISPLAY");
    const bool wayland = !qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY");
    if (platform.isEmpty())
        return x11 || wayland;
    // "xcb;wayland" style fallbacks: any one that can start will do.
    for (const QString &name : platform.split(QLatin1Char(';'), Qt::SkipEmptyParts)) {
        const QString plugin = name.section(QLatin1Char(':'), 0, 0); // "xcb:option=..."
        if (plugin == QLatin1String("xcb") ? x11 : plugin.startsWith(QLatin1String("wayland")) ? wayland : true)
            return true;
    }
    return false;
}

QString noDisplayText(const QString &advice)
{
    return QStringLiteral("no display: %1").arg(advice);
}

namespace {

const char *g_program = "";
const char *g_advice = "";
QtMessageHandler g_previousHandler = nullptr;

// Only while QApplication is being constructed: its platform plugin
// reports a display it cannot open with qFatal, which would abort.
void startupMessageHandler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (type != QtFatalMsg) {
        g_previousHandler(type, context, message);
        return;
    }
    std::fprintf(stderr, "%s: %s\n", g_program, qUtf8Printable(noDisplayText(QString::fromUtf8(g_advice))));
    std::fflush(stderr);
    std::_Exit(1);
}

} // namespace

std::unique_ptr<QCoreApplication> makeApplication(int &argc, char **argv, bool gui, const char *program,
                                                  const char *advice)
{
    if (!gui)
        return std::make_unique<QCoreApplication>(argc, argv);
    g_program = program;
    g_advice = advice;
    g_previousHandler = qInstallMessageHandler(startupMessageHandler);
    auto app = std::make_unique<QApplication>(argc, argv);
    qInstallMessageHandler(g_previousHandler);
    return app;
}

void exitBeforeStaticTeardown(int code)
{
    std::fflush(nullptr);
#ifdef __SANITIZE_ADDRESS__
    __lsan_do_leak_check();
#endif
    std::_Exit(code);
}

bool resolveAccessKey(const QString &keyOption, const QString &keyFile, QByteArray *key,
                      QString *error)
{
    if (!keyOption.isEmpty()) {
        *key = keyOption.toUtf8();
        return true;
    }
    if (!keyFile.isEmpty()) {
        QFile file(keyFile);
        if (!file.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("cannot read the key file '%1': %2").arg(keyFile, file.errorString());
            return false;
        }
        *key = file.readAll();
        if (key->endsWith('\n'))
            key->chop(key->endsWith("\r\n") ? 2 : 1);
        if (key->isEmpty()) {
            *error = QStringLiteral("the key file '%1' is empty").arg(keyFile);
            return false;
        }
        return true;
    }
    *key = qgetenv("H264LINK_KEY");
    return true;
}

} // namespace h264link
