// The two ways a person turns on the custom-I/O trace (common/io_trace.h):
// --trace-io on the command line, and the windows' "Trace custom I/O"
// toggle. Both print the lines on stderr and feed the Inside view.
#pragma once

#include <QCommandLineOption>

class QAction;
class QWidget;

namespace h264link {

QCommandLineOption traceIoOption();
// Tracing and its text output on or off, together.
void setIoTrace(bool on);
// A checkable "Trace custom I/O" action (Ctrl+T) on `window`, in its
// right-click menu, reflecting the state --trace-io left.
QAction *addTraceIoAction(QWidget *window);

} // namespace h264link
