// The Inside view: what the custom I/O is doing, live, for a projector.
// Timelines of the read_packet / write_packet / seek calls, of the messages
// on the wire (header bytes coloured field by field) and of each access
// unit's NAL units, above the fill of every bounded hand-off. Pause freezes
// the picture for explaining while the stream goes on; a click on a message
// shows it decoded.
//
// A top-level window of its own (owned by the app's window) rather than a
// pane: the teacher drags it onto the projector while the picture keeps its
// size on the laptop, and with --renderer opengl nothing has to share a
// window with the native GL surface.
//
// Its feed is trace::Tracer: showing the view turns tracing on, hiding it
// turns it off again unless text output (--trace-io, or the "Trace custom
// I/O" toggle) wants it. A QTimer drains Tracer::takeEvents() at 10 Hz on
// the GUI thread, and each timeline keeps at most kMaxRows rows (drop the
// oldest), so the view's memory and work stay bounded.
#pragma once

#include <QWidget>

class QAction;
class QLabel;
class QPushButton;
class QTableView;
class QTextBrowser;
class QTimer;

namespace h264link::inside {

class FillBars;
class TimelineModel;

class InsideView : public QWidget {
    Q_OBJECT
public:
    static constexpr int kMaxRows = 500;
    static constexpr int kRefreshMs = 100;

    explicit InsideView(QWidget *owner);
    ~InsideView() override;

    bool isPaused() const { return m_paused; }
    void setPaused(bool paused);
    // What the timer does: drain the feed into the timelines (or, paused,
    // only count it) and sample the fills.
    void refresh();

    TimelineModel *ioCalls() const { return m_calls; }
    TimelineModel *messages() const { return m_messages; }
    TimelineModel *nalUnits() const { return m_nals; }
    QTableView *messageTable() const { return m_messageTable; }
    FillBars *fillBars() const { return m_fills; }
    QString detailText() const; // the message shown whole, as plain text
    quint64 arrivedWhilePaused() const { return m_whilePaused; }
    void showMessage(int row); // what a click on a message row does

signals:
    void visibilityChanged(bool visible);

protected:
    void showEvent(QShowEvent *event) override;
    void hideEvent(QHideEvent *event) override;

private:
    QTableView *makeTable(TimelineModel *model, const QList<int> &widths);
    void updateCounters();

    TimelineModel *m_calls;
    TimelineModel *m_messages;
    TimelineModel *m_nals;
    QTableView *m_callTable = nullptr;
    QTableView *m_messageTable = nullptr;
    QTableView *m_nalTable = nullptr;
    FillBars *m_fills;
    QPushButton *m_pause;
    QLabel *m_counters;
    QTextBrowser *m_detail;
    QWidget *m_detailPane = nullptr;
    QTimer *m_timer;
    bool m_paused = false;
    quint64 m_events = 0;      // taken from the feed since the view first opened
    quint64 m_whilePaused = 0; // of those, since the pause began: counted, not shown
};

// "Inside view" (key I) on `window` and in its right-click menu; it opens
// and closes the window's InsideView, made on first use.
QAction *addInsideViewAction(QWidget *window);

} // namespace h264link::inside
