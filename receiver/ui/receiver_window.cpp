#include "receiver_window.h"

#include "frame_slot.h"
#include "local_addresses.h"
#include "inside_view.h"
#include "io_trace_controls.h"
#include "logging.h"
#include "qr_code.h"
#include "receiver_controller.h"
#include "snapshot.h"
#include "stream_stats.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDateTime>
#include <QFileInfo>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QHostInfo>
#include <QKeyEvent>
#include <QLabel>
#include <QMouseEvent>
#include <QProgressBar>
#include <QScreen>
#include <QStackedWidget>
#include <QTimer>
#include <QVBoxLayout>
#include <cstdio>

namespace h264link {
namespace {

constexpr int kToastMs = 6000;

// The sender's program, named as this one is: "receiver" -> "sender",
// "h264link-receiver" -> "h264link-sender".
QString senderProgram()
{
    QString name = QFileInfo(QCoreApplication::applicationFilePath()).fileName();
    if (!name.contains(QLatin1String("receiver")))
        return QStringLiteral("sender");
    return name.replace(QLatin1String("receiver"), QLatin1String("sender"));
}

// The line the waiting page shows and its QR code holds: the real sender's
// option names; the key itself never (a photo of the screen would leak it).
QString senderCommandLine(const QHostAddress &host, quint16 port, bool keyRequired)
{
    QString line = QStringLiteral("%1 VIDEO.mp4 --host %2 --port %3").arg(senderProgram(), hostText(host)).arg(port);
    if (keyRequired)
        line += QStringLiteral(" --key-file KEY.txt");
    return line;
}

const char *const kKeyList[][2] = {
    {"f, F11", "full screen on / off"},
    {"q", "quit"},
    {"Esc", "leave full screen, else quit"},
    {"space", "freeze the picture (the stream goes on)"},
    {"S", "statistics"},
    {"I", "inside view"},
    {"M", "mute"},
    {"p", "snapshot to the Pictures folder"},
    {"?, F1", "this list (Esc closes it)"},
};

// dBFS to a meter position: -60 dB (and below) empty, 0 dB full.
int meterValue(double db)
{
    return int(std::clamp(db + 60.0, 0.0, 60.0));
}

// "████████░░░░ -12 dB": the panel's meter, in its fixed-width font.
QString meterText(double db)
{
    const int filled = meterValue(db) / 3;
    return QString(filled, QChar(0x2588)) + QString(20 - filled, QChar(0x2591))
        + (db <= -100 ? QStringLiteral(" silence") : QStringLiteral(" %1 dB").arg(db, 0, 'f', 0));
}

} // namespace

ReceiverWindow::ReceiverWindow(FrameSlot *slot, ReceiverController *controller, Renderer renderer,
                               WaitingPageOptions waiting, QWidget *parent)
    : QWidget(parent), m_slot(slot), m_controller(controller), m_pages(new QStackedWidget(this)),
      m_waitingPage(new QWidget(this)), m_waiting(new QLabel(m_waitingPage)), m_qr(new QLabel(m_waitingPage)),
      m_video(VideoView::create(renderer, this)), m_status(new QLabel(this)),
      m_statsPanel(new QLabel(this)), m_audioOnly(new QWidget(this)), m_audioSource(new QLabel(m_audioOnly)),
      m_audioMeter(new QProgressBar(m_audioOnly)), m_waitingOptions(std::move(waiting)),
      m_help(new QLabel(this)), m_frozenBadge(new QLabel(this)), m_idle(new QTimer(this))
{
    setWindowTitle(tr("h264link receiver"));
    m_waitingPage->setObjectName(QStringLiteral("waitingPage"));
    m_waitingPage->setStyleSheet(QStringLiteral("#waitingPage { background: #263238; }"));
    addTraceIoAction(this);
    m_waiting->setAlignment(Qt::AlignCenter);
    m_waiting->setWordWrap(true);
    m_waiting->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_waiting->setStyleSheet(QStringLiteral("background: #263238; color: #eceff1; font-size: 16px;"));
    auto *waitingLayout = new QHBoxLayout(m_waitingPage);
    waitingLayout->setContentsMargins(24, 24, 24, 24);
    waitingLayout->addWidget(m_waiting, 1);
    waitingLayout->addWidget(m_qr, 0, Qt::AlignCenter);
    m_pages->addWidget(m_waitingPage);
    m_pages->addWidget(m_video);
    m_audioOnly->setStyleSheet(QStringLiteral("background: #263238; color: #eceff1;"));
    m_audioSource->setAlignment(Qt::AlignCenter);
    m_audioSource->setTextFormat(Qt::PlainText); // the sender names the file: never markup
    m_audioSource->setStyleSheet(QStringLiteral("font-size: 22px;"));
    m_audioMeter->setRange(0, 60);
    m_audioMeter->setTextVisible(false);
    m_audioMeter->setMinimumHeight(48);
    auto *audioLayout = new QVBoxLayout(m_audioOnly);
    audioLayout->setContentsMargins(60, 40, 60, 40);
    audioLayout->addStretch(1);
    audioLayout->addWidget(m_audioSource);
    audioLayout->addSpacing(24);
    audioLayout->addWidget(m_audioMeter);
    audioLayout->addStretch(1);
    m_pages->addWidget(m_audioOnly);
    m_status->setContentsMargins(6, 3, 6, 3);
    m_status->setTextFormat(Qt::PlainText); // the sender names the file: never markup
    // A long line is cut, rather than widening a window fitted to a portrait picture.
    m_status->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    // Below the picture, not over it: with --renderer opengl the picture is a
    // native GL window, and widgets stacked on top of it do not reliably show.
    m_statsPanel->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_statsPanel->setStyleSheet(QStringLiteral("background: #111; color: #b9f6ca; padding: 6px;"));
    m_statsPanel->setText(tr("statistics appear once a stream is on"));
    m_statsPanel->hide();
    layout->addWidget(m_pages, 1);
    layout->addWidget(m_statsPanel);
    layout->addWidget(m_status);
    inside::addInsideViewAction(this); // I: the custom I/O, live, in a window of its own
    resize(960, 600);
    m_fittedSize = size();

    // Overlays over the picture. Native windows of their own, so that they
    // also stack above the opengl renderer's native GL window.
    QString keys = tr("<h3>Keys</h3><table cellspacing='4'>");
    for (const auto &k : kKeyList)
        keys += QStringLiteral("<tr><td><b>%1</b></td><td>&nbsp;&nbsp;%2</td></tr>").arg(k[0], tr(k[1]));
    m_help->setText(keys + QStringLiteral("</table>"));
    m_help->setStyleSheet(QStringLiteral("background: #102027; color: #fff59d; font-size: 16px; padding: 16px;"
                                         " border: 2px solid #fff59d;"));
    m_help->hide();
    m_frozenBadge->setText(tr("❚❚ paused — stream continues (space)"));
    m_frozenBadge->setStyleSheet(QStringLiteral("background: #e65100; color: white; font-size: 16px; padding: 6px;"));
    m_frozenBadge->hide();
    for (QLabel *overlay : {m_help, m_frozenBadge})
        overlay->setAttribute(Qt::WA_NativeWindow);

    // Activity anywhere in the application (the picture may be a child's
    // native window): the chrome of full screen and the cursor come back.
    m_idle->setSingleShot(true);
    connect(m_idle, &QTimer::timeout, this, &ReceiverWindow::onIdle);
    qApp->installEventFilter(this);
    m_idle->start(kIdleMs);

    connect(slot, &FrameSlot::frameAvailable, this, &ReceiverWindow::showFrame, Qt::QueuedConnection);
    connect(m_video, &VideoView::frameShown, this, &ReceiverWindow::onFrameShown);
    connect(m_video, &VideoView::frameFailed, this, &ReceiverWindow::onFrameFailed);
    connect(m_video, &VideoView::displaySizeChanged, this, &ReceiverWindow::fitToPicture);
    connect(controller, &ReceiverController::waitingForSender, this, &ReceiverWindow::showWaiting);
    connect(controller, &ReceiverController::streamStarted, this, [this](const QString &peer) {
        m_source.clear();
        m_lastFrames = 0;
        m_video->clear(); // no stale picture from the last stream
        m_skippedBase = m_slot->skipped() + m_video->notShown(); // this stream's count starts at 0
        m_displayFailures = 0;
        m_pages->setCurrentWidget(m_video);
        m_audioOnlyStream = false;
        m_lastFrame.reset();
        if (m_frozen)
            toggleFreeze(); // a new stream starts live
        m_peer = tr("Receiving from %1").arg(peer);
        setStatus(m_peer);
    });
    connect(controller, &ReceiverController::streamInfoReceived, this,
            [this](const proto::StreamInfo &info) {
                const double fps = info.frameRateDen ? double(info.frameRateNum) / info.frameRateDen : 0;
                m_source = info.hasVideo() ? tr("%1 — %2×%3 @ %4 fps").arg(info.sourceName).arg(info.width)
                                                 .arg(info.height).arg(fps, 0, 'f', 2)
                                           : info.sourceName;
                m_video->setDisplayMatrix(info.displayMatrix); // before its first frame: STREAM_INFO comes first
                m_video->setPreviewOnly(info.hasVideo() && !info.isLive());
                const QString turned = DisplayOrientation::fromMatrix(info.displayMatrix).description();
                if (info.hasVideo() && !turned.isEmpty())
                    m_source += QStringLiteral(", ") + turned;
                if (info.hasAudio())
                    m_source += tr(" · sound: %1").arg(info.audioDescription);
                if (info.hasVideo() && !info.isLive())
                    m_source += tr(" · not live (--fast): previewed at %1 fps while faster than real time").arg(VideoView::kPreviewFps);
                m_audioOnlyStream = !info.hasVideo();
                if (m_audioOnlyStream) {
                    m_audioSource->setText(info.sourceName);
                    m_audioMeter->setValue(0);
                    m_pages->setCurrentWidget(m_audioOnly);
                }
                setStatus(m_peer + QStringLiteral(" · ") + m_source);
            });
    connect(controller, &ReceiverController::streamEnding, this, [this] {
        showFrame();          // one the slot still holds
        m_video->showNow();   // one the view holds back for its pace
    }, Qt::DirectConnection);
    connect(controller, &ReceiverController::streamEnded, this,
            [this](const QString &summary, bool clean) {
                m_headline = (clean ? tr("Stream ended.") : tr("Stream interrupted.")) + QStringLiteral("<br><small>")
                    + summary.toHtmlEscaped() + QStringLiteral("</small>");
                m_video->clear(); // the waiting page comes next: let the last frame go
                m_lastFrame.reset();
                if (m_frozen)
                    toggleFreeze();
            });
    auto *statsTimer = new QTimer(this);
    connect(statsTimer, &QTimer::timeout, this, &ReceiverWindow::updateStats);
    statsTimer->start(1000);
    auto *meterTimer = new QTimer(this);
    connect(meterTimer, &QTimer::timeout, this, &ReceiverWindow::updateMeter);
    meterTimer->start(100);
    connect(controller, &ReceiverController::refused, this, [this](const QString &peer, const QString &why) {
        setStatus(tr("Refused %1: %2").arg(peer, why));
    });
}

void ReceiverWindow::showWaiting(quint16 port)
{
    if (!m_waitingOptions.connectTo.isEmpty()) {
        showDialing();
        return;
    }
    const bool anyAddress = m_waitingOptions.listenAddress == QHostAddress(QHostAddress::Any);
    const OfferedAddresses offered = anyAddress ? offeredAddresses(systemInterfaces())
                                                : offeredAddresses(m_waitingOptions.listenAddress);
    QStringList addresses;
    for (const QHostAddress &a : offered.addresses)
        addresses << hostText(a).toHtmlEscaped();
    const QString command = senderCommandLine(offered.addresses.first(), port, m_waitingOptions.keyRequired);
    QString text;
    if (!m_headline.isEmpty())
        text += QStringLiteral("<p style='color:#ffcc80'>%1</p>").arg(m_headline);
    text += tr("<h2>Waiting for a sender on port %1</h2>").arg(port);
    text += tr("<p>This machine: <b>%1</b><br>its addresses:<br><b>%2</b></p>")
                .arg(QHostInfo::localHostName().toHtmlEscaped(), addresses.join(QStringLiteral("<br>")));
    if (offered.fallback == OfferedAddresses::Fallback::LoopbackOnly)
        text += anyAddress ? tr("<p style='color:#ffcc80'>No network is up: only a sender on this machine "
                                "can connect.</p>")
                           : tr("<p style='color:#ffcc80'>Listening on loopback (--listen): only a sender "
                                "on this machine can connect.</p>");
    else if (offered.fallback == OfferedAddresses::Fallback::LinkLocalOnly)
        text += tr("<p style='color:#ffcc80'>Only link-local IPv6: after the %, name the <i>sending</i> "
                   "machine's interface.</p>");
    text += tr("<p>On the sending machine run:<br><code>%1</code></p>").arg(command.toHtmlEscaped());
    if (m_waitingOptions.keyRequired)
        text += tr("<p>This receiver requires an access key: put it in KEY.txt there.</p>");
    QString qrError;
    const QImage qr = qrCodeImage(command, 4, &qrError);
    if (qr.isNull())
        qCWarning(lcReceiver).noquote() << "no QR code on the waiting page:" << qrError;
    else
        text += tr("<p><small>Scan the code to copy this line to a phone.</small></p>");
    m_qr->setPixmap(QPixmap::fromImage(qr));
    m_qr->setVisible(!qr.isNull());
    m_waiting->setText(text);
    m_pages->setCurrentWidget(m_waitingPage);
    setStatus(tr("Listening on port %1 · ? or F1: keys").arg(port));
}

// --connect: nothing to offer; the sender is the one that must be serving.
void ReceiverWindow::showDialing()
{
    QString text;
    if (!m_headline.isEmpty())
        text += QStringLiteral("<p style='color:#ffcc80'>%1</p>").arg(m_headline);
    text += tr("<h2>Connecting to the sender at %1</h2>").arg(m_waitingOptions.connectTo.toHtmlEscaped());
    text += tr("<p>There, run:<br><code>sender FILE --serve%1</code></p>")
                .arg(m_waitingOptions.keyRequired ? QStringLiteral(" --key-file KEY.txt") : QString());
    m_qr->setVisible(false);
    m_waiting->setText(text);
    m_pages->setCurrentWidget(m_waitingPage);
    setStatus(tr("Connecting to %1 · ? or F1: keys").arg(m_waitingOptions.connectTo));
}

void ReceiverWindow::showFrame()
{
    FramePtr frame = m_slot->take();
    if (!frame)
        return;
    if (m_frozen) { // taken all the same: decoding goes on, and the slot counts no skip
        ++m_frozenNotShown;
        return;
    }
    m_lastFrame.reset(av_frame_clone(frame.get())); // a reference, not a copy; null if out of memory
    m_video->setFrame(std::move(frame));
}

// Players take the shape of the picture (ffplay sizes its window to it):
// a portrait clip gets a portrait window. Only while the window is as this
// function left it: a size the person chose, maximised or full screen stays.
void ReceiverWindow::fitToPicture(QSize displaySize)
{
    if (windowState() != Qt::WindowNoState || size() != m_fittedSize)
        return;
    const QSize chrome = size() - m_pages->size(); // status line (and panel) below the picture
    QSize box(960, 540);
    if (const QScreen *s = screen())
        box = box.boundedTo(s->availableSize() * 9 / 10 - chrome);
    // At least this wide: the status line stays readable, and a portrait
    // picture is letterboxed rather than the window made a strip.
    constexpr int kMinWidth = 480;
    const QSize wanted = displaySize.scaled(box, Qt::KeepAspectRatio) + QSize(0, chrome.height());
    m_fittedSize = wanted.expandedTo(QSize(kMinWidth, 0)).expandedTo(minimumSizeHint());
    resize(m_fittedSize);
}

void ReceiverWindow::onFrameShown(qint64, qint64 statsId)
{
    if (const auto stats = m_controller->streamStats())
        stats->onDisplayed(statsId, proto::nowMicros(), skippedForDisplay());
}

// Counted and shown in the status line; logged once, not per frame.
void ReceiverWindow::onFrameFailed(const QString &error)
{
    if (m_displayFailures++ == 0)
        qCWarning(lcReceiver).noquote() << "cannot display a frame:" << error;
}

// This stream's: the slot and the view count over the window's lifetime.
quint64 ReceiverWindow::skippedForDisplay() const
{
    return m_slot->skipped() + m_video->notShown() - m_skippedBase;
}

void ReceiverWindow::setStatus(const QString &text)
{
    m_base = text;
    m_status->setText(text);
}

void ReceiverWindow::toast(const QString &text)
{
    m_toast = text;
    m_toastUntilMs = QDateTime::currentMSecsSinceEpoch() + kToastMs;
    m_status->setText(m_base + QStringLiteral(" · ") + text);
    onActivity(); // in full screen too: the status line shows it, as long as it lasts
    m_idle->start(kToastMs);
}

// Once a second: what the decoder did, so damage on the wire is visible.
void ReceiverWindow::updateStats()
{
    const auto stats = m_controller->liveStats();
    if (!stats)
        return;
    if (const auto streamStats = m_controller->streamStats()) {
        streamStats->setDecodeErrors(stats->decodeErrors);
        const StatsReport report = streamStats->report(proto::nowMicros());
        if (m_statsWanted) {
            QString text = report.toText();
            const QString turned = m_video->shownOrientation().description();
            if (!turned.isEmpty())
                text += tr("\npicture    %1 (display matrix)").arg(turned);
            if (stats->audio)
                text += tr("\naudio      %1 · buffered %2 ms · A/V %3 · underruns %4%5")
                            .arg(meterText(stats->audioLevelDb))
                            .arg(stats->audioLatencyMs < 0 ? 0 : stats->audioLatencyMs, 0, 'f', 0)
                            .arg(stats->hasAvOffset ? tr("%1 ms").arg(stats->avOffsetMs, 0, 'f', 1) : tr("—"))
                            .arg(stats->audioUnderruns)
                            .arg(m_controller->isMuted() ? tr(" · MUTED (M)") : QString());
            m_statsPanel->setText(text);
        }
    }
    QString line = tr("%1 · %2 fps").arg(m_base).arg(stats->frames - m_lastFrames);
    m_lastFrames = stats->frames;
    if (stats->decodeErrors || stats->concealedFrames)
        line += tr(" · %1 decode errors, %2 frames concealed").arg(stats->decodeErrors).arg(stats->concealedFrames);
    if (const quint64 skipped = skippedForDisplay())
        line += tr(" · %1 skipped for display").arg(skipped);
    if (m_displayFailures)
        line += tr(" · %1 frames could not be displayed").arg(m_displayFailures);
    if (stats->audio && m_controller->isMuted())
        line += tr(" · muted (M)");
    if (m_frozen)
        line += tr(" · paused — stream continues, %1 frames not shown (space: live)").arg(m_frozenNotShown);
    if (!m_toast.isEmpty() && QDateTime::currentMSecsSinceEpoch() < m_toastUntilMs)
        line += QStringLiteral(" · ") + m_toast;
    m_status->setText(line);
}

void ReceiverWindow::updateMeter()
{
    if (!m_audioOnlyStream || m_pages->currentWidget() != m_audioOnly)
        return;
    const auto stats = m_controller->liveStats();
    m_audioMeter->setValue(stats && stats->audio ? meterValue(stats->audioLevelDb) : 0);
}

void ReceiverWindow::keyPressEvent(QKeyEvent *event)
{
    const int key = event->key();
    const bool plain = !(event->modifiers() & (Qt::ControlModifier | Qt::AltModifier | Qt::MetaModifier));
    if (event->matches(QKeySequence::Quit)) { // Ctrl+Q: the same clean close as the window's X
        close();
        return;
    }
    if (key == Qt::Key_F1 || (key == Qt::Key_Question && plain)) {
        toggleHelp();
        return;
    }
    if (key == Qt::Key_Escape) { // one layer at a time: the key list, full screen, then the window
        if (m_help->isVisible())
            toggleHelp();
        else if (isFullScreen())
            setWindowState(windowState() & ~Qt::WindowFullScreen);
        else
            close();
        return;
    }
    if (key == Qt::Key_F11 || (key == Qt::Key_F && plain)) {
        setWindowState(windowState() ^ Qt::WindowFullScreen);
        return;
    }
    if (!plain) {
        QWidget::keyPressEvent(event);
        return;
    }
    switch (key) {
    case Qt::Key_Q:
        close();
        return;
    case Qt::Key_M:
        m_controller->toggleMute();
        updateStats();
        return;
    case Qt::Key_S:
        m_statsWanted = !m_statsWanted;
        updateChrome();
        if (m_statsWanted)
            updateStats();
        return;
    case Qt::Key_Space:
        if (m_frozen || m_pages->currentWidget() == m_video) // only a picture freezes
            toggleFreeze();
        return;
    case Qt::Key_P:
        takeSnapshot();
        return;
    default:
        QWidget::keyPressEvent(event);
    }
}

bool ReceiverWindow::eventFilter(QObject *watched, QEvent *event)
{
    switch (event->type()) {
    case QEvent::MouseMove: {
        // Only a real move: a layout change under a still pointer must not
        // bring the chrome back (and so change the layout again).
        const QPointF at = static_cast<QMouseEvent *>(event)->globalPosition();
        if (at != m_lastPointer) {
            m_lastPointer = at;
            onActivity();
        }
        break;
    }
    case QEvent::KeyPress:
    case QEvent::MouseButtonPress:
    case QEvent::Wheel:
        onActivity();
        break;
    default:
        break;
    }
    return QWidget::eventFilter(watched, event);
}

void ReceiverWindow::onActivity()
{
    if (m_cursorHidden) {
        QGuiApplication::restoreOverrideCursor();
        m_cursorHidden = false;
    }
    if (!m_chromeShown) {
        m_chromeShown = true;
        updateChrome();
    }
    m_idle->start(kIdleMs);
}

void ReceiverWindow::onIdle()
{
    if (!m_cursorHidden) {
        QGuiApplication::setOverrideCursor(Qt::BlankCursor);
        m_cursorHidden = true;
    }
    m_chromeShown = false;
    updateChrome();
}

void ReceiverWindow::updateChrome()
{
    const bool chrome = !isFullScreen() || m_chromeShown;
    m_status->setVisible(chrome);
    m_statsPanel->setVisible(m_statsWanted && chrome);
}

void ReceiverWindow::toggleFreeze()
{
    m_frozen = !m_frozen;
    m_frozenNotShown = 0;
    m_frozenBadge->setVisible(m_frozen);
    if (m_frozen)
        m_frozenBadge->raise();
    placeOverlays();
    updateStats();
}

void ReceiverWindow::takeSnapshot()
{
    QString error;
    const QString path = saveSnapshot(m_lastFrame.get(), m_video->shownOrientation(), &error);
    if (path.isEmpty()) {
        toast(tr("no snapshot: %1").arg(error));
        std::fprintf(stdout, "receiver: no snapshot: %s\n", qUtf8Printable(error));
    } else {
        toast(tr("snapshot saved: %1").arg(path));
        std::fprintf(stdout, "receiver: snapshot %s (pts %lld us)\n", qUtf8Printable(path),
                     static_cast<long long>(m_lastFrame->pts));
    }
    std::fflush(stdout);
}

void ReceiverWindow::toggleHelp()
{
    m_help->setVisible(!m_help->isVisible());
    if (m_help->isVisible()) {
        m_help->adjustSize();
        m_help->raise();
    }
    placeOverlays();
}

void ReceiverWindow::placeOverlays()
{
    const QRect area = m_pages->geometry();
    if (m_help->isVisible())
        m_help->move(area.center() - QPoint(m_help->width() / 2, m_help->height() / 2));
    if (m_frozenBadge->isVisible()) {
        m_frozenBadge->adjustSize();
        m_frozenBadge->move(area.topLeft() + QPoint(12, 12));
    }
}

void ReceiverWindow::resizeEvent(QResizeEvent *event)
{
    QWidget::resizeEvent(event);
    placeOverlays();
}

void ReceiverWindow::changeEvent(QEvent *event)
{
    if (event->type() == QEvent::WindowStateChange) {
        m_chromeShown = !isFullScreen(); // into full screen: the picture alone, at once
        updateChrome();
        m_idle->start(kIdleMs);
    }
    QWidget::changeEvent(event);
}

ReceiverWindow::~ReceiverWindow()
{
    if (m_cursorHidden)
        QGuiApplication::restoreOverrideCursor();
}

void ReceiverWindow::closeEvent(QCloseEvent *event)
{
    emit closeRequested();
    QWidget::closeEvent(event); // hidden now; the app quits once the goodbye is done
}

} // namespace h264link
