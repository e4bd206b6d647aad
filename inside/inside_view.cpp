#include "inside_view.h"

#include "event_text.h"
#include "fill_bars.h"
#include "header_hex_delegate.h"
#include "io_trace.h"
#include "timeline_model.h"

#include <QAction>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QHideEvent>
#include <QLabel>
#include <QLocale>
#include <QPushButton>
#include <QScreen>
#include <QScrollBar>
#include <QSplitter>
#include <QTableView>
#include <QTextBrowser>
#include <QTimer>
#include <QVBoxLayout>

namespace h264link::inside {
namespace {

// High contrast for a projector: light text on a near-black ground.
const QColor kBackground(0x10, 0x14, 0x18);
const QColor kText(0xec, 0xef, 0xf1);
const QColor kProbe(0xff, 0xca, 0x28);    // header/probe phase, set apart from the steady state
const QColor kError(0xef, 0x9a, 0x9a);    // an AVERROR
const QColor kSent(0x80, 0xde, 0xea);
const QColor kReceived(0xc5, 0xe1, 0xa5);
const QColor kKeyframe(0xff, 0xee, 0x58); // access units with an IDR

QLabel *sectionTitle(const QString &text, QWidget *parent)
{
    auto *label = new QLabel(text, parent);
    QFont font = label->font();
    font.setBold(true);
    font.setPointSizeF(font.pointSizeF() * 1.15);
    label->setFont(font);
    return label;
}

QWidget *section(QLabel *title, QWidget *body, QWidget *extra, QWidget *parent)
{
    auto *box = new QWidget(parent);
    auto *layout = new QVBoxLayout(box);
    layout->setContentsMargins(0, 4, 0, 0);
    layout->setSpacing(2);
    layout->addWidget(title);
    if (extra)
        layout->addWidget(extra);
    layout->addWidget(body, 1);
    return box;
}

// The header fields' colours, once, above the message timeline.
QLabel *legend(QWidget *parent)
{
    QString html;
    for (const HeaderField &f : headerFields())
        html += QStringLiteral("<span style='background:%1;color:black'>&nbsp;%2 (%3)&nbsp;</span> ")
                    .arg(f.colour.name(), QLatin1String(f.name))
                    .arg(f.size == 1 ? QStringLiteral("1 byte") : QStringLiteral("%1 bytes").arg(f.size));
    html += QStringLiteral("<span style='background:%1;color:black'>&nbsp;payload&nbsp;</span>")
                .arg(payloadColour().name());
    auto *label = new QLabel(html, parent);
    label->setTextFormat(Qt::RichText);
    label->setWordWrap(true);
    return label;
}

TimelineModel::Row ioCallRow(const trace::IoCall &c)
{
    return {ioCallCells(c), c.result < 0 ? kError : c.probing ? kProbe : kText, {}};
}

TimelineModel::Row messageRow(const trace::WireMessage &m)
{
    return {messageCells(m), m.sent ? kSent : kReceived, m};
}

TimelineModel::Row nalRow(const trace::AccessUnitNals &au)
{
    const bool idr = std::any_of(au.nals.begin(), au.nals.end(), [](const auto &n) { return n.type == 5; });
    return {nalCells(au), idr ? kKeyframe : kText, {}};
}

} // namespace

InsideView::InsideView(QWidget *owner)
    : QWidget(owner, Qt::Window), m_calls(new TimelineModel(ioCallColumns(), kMaxRows, this)),
      m_messages(new TimelineModel(messageColumns(), kMaxRows, this)),
      m_nals(new TimelineModel(nalColumns(), kMaxRows, this)), m_fills(new FillBars(this)),
      m_pause(new QPushButton(tr("Pause (P)"), this)), m_counters(new QLabel(this)), m_detail(new QTextBrowser(this)),
      m_timer(new QTimer(this))
{
    setObjectName(QStringLiteral("insideView"));
    setWindowTitle(owner ? tr("%1 — inside").arg(owner->windowTitle()) : tr("h264link — inside"));
    QPalette pal = palette();
    pal.setColor(QPalette::Window, kBackground);
    pal.setColor(QPalette::Base, kBackground);
    pal.setColor(QPalette::AlternateBase, QColor(0x1a, 0x22, 0x28));
    pal.setColor(QPalette::WindowText, kText);
    pal.setColor(QPalette::Text, kText);
    pal.setColor(QPalette::Button, QColor(0x37, 0x47, 0x4f));
    pal.setColor(QPalette::ButtonText, kText);
    pal.setColor(QPalette::Highlight, QColor(0x15, 0x65, 0xc0));
    pal.setColor(QPalette::HighlightedText, Qt::white);
    setPalette(pal);
    setAutoFillBackground(true);
    // Read from the back of a classroom.
    QFont big = font();
    big.setPointSize(15);
    setFont(big);

    m_pause->setCheckable(true);
    m_pause->setShortcut(Qt::Key_P); // not Space: the timelines take it for selection
    m_pause->setToolTip(tr("Freeze the picture (P); the stream goes on"));
    connect(m_pause, &QPushButton::toggled, this, &InsideView::setPaused);
    // Its text grows while paused: it must not widen the window and move the frozen timelines.
    m_counters->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    auto *top = new QHBoxLayout;
    top->addWidget(m_pause);
    top->addWidget(m_counters, 1);

    m_callTable = makeTable(m_calls, {115, 245, 150, 250, 150, 110, 240});
    m_messageTable = makeTable(m_messages, {115, 110, 100, 60, 370, 80});
    m_messageTable->setItemDelegateForColumn(kMessageHexColumn, new HeaderHexDelegate(m_messageTable));
    m_nalTable = makeTable(m_nals, {115, 110, 110});
    connect(m_messageTable, &QTableView::clicked, this, [this](const QModelIndex &i) { showMessage(i.row()); });

    QFont fixed = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    fixed.setPointSize(14);
    m_detail->setFont(fixed);
    m_detail->setText(tr("Click a message to see it whole."));
    m_detail->setMinimumWidth(480);

    auto *timelines = new QSplitter(Qt::Vertical, this);
    timelines->addWidget(section(sectionTitle(tr("Custom I/O calls (amber: probing the header, before the first "
                                                 "av_read_frame / av_write_frame)"), this),
                                 m_callTable, nullptr, this));
    timelines->addWidget(section(sectionTitle(tr("Messages on the wire"), this), m_messageTable, legend(this), this));
    timelines->addWidget(section(sectionTitle(tr("Access units: NAL units at the start codes "
                                                 "00 00 01 (3) / 00 00 00 01 (4)"), this),
                                 m_nalTable, nullptr, this));
    auto *sides = new QSplitter(Qt::Horizontal, this);
    sides->addWidget(timelines);
    m_detailPane = section(sectionTitle(tr("Message"), this), m_detail, nullptr, this);
    m_detailPane->hide(); // until a message is clicked: the timelines get the whole width
    sides->addWidget(m_detailPane);
    sides->setStretchFactor(0, 3);
    sides->setStretchFactor(1, 2);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(sectionTitle(tr("Bounded hand-offs (used / capacity)"), this));
    layout->addWidget(m_fills);
    layout->addWidget(sides, 1);
    // Large for a projector, but never larger than the screen it opens on.
    const QRect screen = owner && owner->screen() ? owner->screen()->availableGeometry() : QRect(0, 0, 1600, 900);
    resize(std::min(1600, screen.width()), std::min(900, screen.height()));

    m_timer->setInterval(kRefreshMs); // 10 Hz: live to the eye, cheap for the GUI thread
    connect(m_timer, &QTimer::timeout, this, &InsideView::refresh);
    updateCounters();
}

InsideView::~InsideView()
{
    if (isVisible() && !trace::Tracer::instance().textOutput())
        trace::Tracer::instance().setEnabled(false);
}

QTableView *InsideView::makeTable(TimelineModel *model, const QList<int> &widths)
{
    auto *table = new QTableView(this);
    table->setModel(model);
    table->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    QFont f = table->font();
    f.setPointSize(14);
    table->setFont(f);
    table->verticalHeader()->hide();
    table->verticalHeader()->setDefaultSectionSize(table->fontMetrics().height() + 8);
    table->horizontalHeader()->setStretchLastSection(true);
    // Fixed widths: fitting columns to contents would measure every row at 10 Hz.
    for (int i = 0; i < widths.size(); ++i)
        table->setColumnWidth(i, widths[i]);
    table->setSelectionBehavior(QAbstractItemView::SelectRows);
    table->setSelectionMode(QAbstractItemView::SingleSelection);
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table->setWordWrap(false);
    table->setAlternatingRowColors(true);
    table->setShowGrid(false);
    return table;
}

void InsideView::setPaused(bool paused)
{
    if (paused == m_paused)
        return;
    m_paused = paused;
    m_whilePaused = 0;
    const QSignalBlocker block(m_pause);
    m_pause->setChecked(paused);
    m_pause->setText(paused ? tr("Resume (P)") : tr("Pause (P)"));
    updateCounters();
}

void InsideView::refresh()
{
    trace::Tracer &tracer = trace::Tracer::instance();
    // Drained even while paused, so that the feed's ring never fills with
    // stale events and the count of what was not shown stays exact.
    std::vector<trace::Event> events = tracer.takeEvents();
    m_events += events.size();
    if (m_paused) {
        m_whilePaused += events.size();
        updateCounters();
        return;
    }
    std::vector<TimelineModel::Row> calls, messages, nals;
    for (const trace::Event &e : events) {
        if (const auto *c = std::get_if<trace::IoCall>(&e))
            calls.push_back(ioCallRow(*c));
        else if (const auto *m = std::get_if<trace::WireMessage>(&e))
            messages.push_back(messageRow(*m));
        else if (const auto *a = std::get_if<trace::AccessUnitNals>(&e))
            nals.push_back(nalRow(*a));
    }
    const std::pair<QTableView *, TimelineModel *> timelines[] = {
        {m_callTable, m_calls}, {m_messageTable, m_messages}, {m_nalTable, m_nals}};
    std::vector<TimelineModel::Row> *batches[] = {&calls, &messages, &nals};
    for (int i = 0; i < 3; ++i) {
        auto [table, model] = timelines[i];
        if (batches[i]->empty())
            continue;
        // Follow the newest rows, unless the person scrolled up to read.
        QScrollBar *bar = table->verticalScrollBar();
        const bool following = bar->value() >= bar->maximum() - 1;
        model->append(std::move(*batches[i]));
        if (following)
            table->scrollToBottom();
    }
    m_fills->setFills(tracer.sampleFills());
    updateCounters();
}

void InsideView::updateCounters()
{
    const QLocale locale;
    QString text = tr("%1 events  ·  %2 dropped by the feed (its ring of %3 was full)  ·  "
                      "each timeline keeps the newest %4 rows")
                       .arg(locale.toString(m_events), locale.toString(trace::Tracer::instance().dropped()),
                            locale.toString(trace::Tracer::kRingCapacity), locale.toString(kMaxRows));
    if (m_paused)
        text = tr("PAUSED: the stream goes on, %1 events arrived since (not shown)  ·  ")
                   .arg(locale.toString(m_whilePaused))
            + text;
    m_counters->setText(text);
}

void InsideView::showMessage(int row)
{
    if (row < 0 || row >= m_messages->rowCount())
        return;
    m_detail->setHtml(messageDetailHtml(m_messages->row(row).message));
    m_detailPane->show();
}

QString InsideView::detailText() const
{
    return m_detail->toPlainText();
}

void InsideView::showEvent(QShowEvent *event)
{
    trace::Tracer::instance().setKeepWholeMessages(true);
    trace::Tracer::instance().setEnabled(true);
    m_timer->start();
    QWidget::showEvent(event);
    emit visibilityChanged(true);
}

void InsideView::hideEvent(QHideEvent *event)
{
    if (event->spontaneous()) { // minimised: still open, still counting
        QWidget::hideEvent(event);
        return;
    }
    m_timer->stop();
    trace::Tracer::instance().setKeepWholeMessages(false);
    if (!trace::Tracer::instance().textOutput()) // --trace-io or the toggle still want it
        trace::Tracer::instance().setEnabled(false);
    QWidget::hideEvent(event);
    emit visibilityChanged(false);
}

QAction *addInsideViewAction(QWidget *window)
{
    auto *action = new QAction(QObject::tr("Inside view"), window);
    action->setObjectName(QStringLiteral("insideViewAction"));
    action->setShortcut(Qt::Key_I);
    action->setCheckable(true);
    action->setToolTip(QObject::tr("What the custom I/O is doing, live: calls, messages, NAL units, buffers (I)"));
    window->addAction(action);
    window->setContextMenuPolicy(Qt::ActionsContextMenu);
    QObject::connect(action, &QAction::toggled, window, [window, action](bool on) {
        auto *view = window->findChild<InsideView *>(QString(), Qt::FindDirectChildrenOnly);
        if (!view && on) {
            view = new InsideView(window);
            view->addAction(action); // I closes it again from its own window
            QObject::connect(view, &InsideView::visibilityChanged, action, &QAction::setChecked);
        }
        if (!view)
            return;
        if (on) {
            view->show();
            view->raise();
            view->activateWindow();
        } else {
            view->hide();
        }
    });
    return action;
}

} // namespace h264link::inside
