// Decides, before any QCoreApplication exists, whether a process needs a GUI:
// QApplication aborts without a display, so --help and --headless must never
// construct one.
#pragma once

#include <QCoreApplication>
#include <memory>

namespace h264link {

bool argvContains(int argc, char **argv, std::initializer_list<const char *> options);

// A QApplication when `gui` is true, a plain QCoreApplication otherwise.
std::unique_ptr<QCoreApplication> makeApplication(int &argc, char **argv, bool gui);

// The access key from --key, else --key-file, else $H264LINK_KEY; empty if
// none is given. Returns false with *error if the file cannot be read or is
// empty. A key file is read whole, minus one trailing newline.
bool resolveAccessKey(const QString &keyOption, const QString &keyFile, QByteArray *key,
                      QString *error);

} // namespace h264link
