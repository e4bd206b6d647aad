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

} // namespace h264link
