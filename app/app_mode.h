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
// Ends the process once main's own objects are all destroyed, before
// static destruction: global statics of the libraries underneath tear down
// without their locks while threads of theirs may still be running (Qt 6.4's
// PulseAudio engine disconnects its context while its mainloop thread
// handles the last sink's close, and libpulse aborts; the sender saw heap
// aborts there too). Output is flushed first; under ASan the leak check that
// atexit would have run runs here.
[[noreturn]] void exitBeforeStaticTeardown(int code);

bool resolveAccessKey(const QString &keyOption, const QString &keyFile, QByteArray *key,
                      QString *error);

} // namespace h264link
