#include "io_trace_controls.h"

#include "io_trace.h"

#include <QAction>
#include <QWidget>

namespace h264link {

QCommandLineOption traceIoOption()
{
    return QCommandLineOption(
        QStringLiteral("trace-io"),
        QStringLiteral("Print every custom-I/O callback of the AVIOContexts on stderr, one line each "
                       "(read_packet, write_packet, seek: context, bytes asked and returned or the AVERROR, "
                       "seek offset and whence, time blocked, the libavformat call asking, [probe] before "
                       "the first frame), and once a second a summary per context. The window's "
                       "\"Trace custom I/O\" toggle (Ctrl+T, right-click menu) does the same."));
}

void setIoTrace(bool on)
{
    trace::Tracer &tracer = trace::Tracer::instance();
    tracer.setTextOutput(on);
    tracer.setEnabled(on);
}

QAction *addTraceIoAction(QWidget *window)
{
    auto *action = new QAction(QObject::tr("Trace custom I/O"), window);
    action->setCheckable(true);
    action->setChecked(trace::Tracer::enabled());
    action->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_T));
    action->setShortcutContext(Qt::WindowShortcut);
    QObject::connect(action, &QAction::toggled, window, &setIoTrace);
    window->addAction(action);
    if (window->contextMenuPolicy() == Qt::DefaultContextMenu)
        window->setContextMenuPolicy(Qt::ActionsContextMenu);
    return action;
}

} // namespace h264link
