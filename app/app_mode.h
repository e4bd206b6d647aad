// Decides, before any QCoreApplication exists, whether a process needs a GUI:
// QApplication aborts without a display, so --help and --headless must never
// construct one.
#pragma once

#include <QCoreApplication>
#include <memory>

namespace h264link {

bool argvContains(int argc, char **argv, std::initializer_list<const char *> options);

// Whether a window can open here, judged before any Q*Application exists:
// the platform plugin Qt would pick (-platform, QT_QPA_PLATFORM, else xcb or
// wayland) and the variable it needs (DISPLAY, WAYLAND_DISPLAY). Plugins that
// need none (offscreen, vnc, eglfs ...) count as a display.
bool displayAvailable(int argc, char **argv);

// The sentence for a window mode without a display: "no display: " + advice.
QString noDisplayText(const QString &advice);

// A QApplication when `gui` is true, a plain QCoreApplication otherwise.
// Should the platform plugin still fail (DISPLAY set, but no X server
// answers), Qt's fatal error becomes `program`: noDisplayText(`advice`) and
// exit code 1 instead of an abort.
std::unique_ptr<QCoreApplication> makeApplication(int &argc, char **argv, bool gui, const char *program = "",
                                                  const char *advice = "");

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
