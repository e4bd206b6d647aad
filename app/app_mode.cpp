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

std::unique_ptr<QCoreApplication> makeApplication(int &argc, char **argv, bool gui)
{
    if (gui)
        return std::make_unique<QApplication>(argc, argv);
    return std::make_unique<QCoreApplication>(argc, argv);
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
