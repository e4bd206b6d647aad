#include "receiver_window.h"

#include "frame_slot.h"
#include "inside_view.h"
#include "io_trace_controls.h"
#include "logging.h"
#include "receiver_controller.h"
#include "stream_stats.h"

#include <QFontDatabase>
#include <QCloseEvent>
#include <QKeyEvent>
#include <QLabel>
#include <QNetworkInterface>
#include <QProgressBar>
#include <QScreen>
#include <QStackedWidget>
#include <QTimer>
#include <QVBoxLayout>

namespace h264link {
namespace {

// IPv4 addresses a sender on another machine can use; loopback last.
QStringList localAddresses()
{
    QStringList lan;
    for (const QHostAddress &a : QNetworkInterface::allAddresses()) {
        if (a.protocol() == QAbstractSocket::IPv4Protocol && !a.isLoopback())
            lan << a.toString();
    }
    lan << QStringLiteral("127.0.0.1 (this machine)");
    return lan;
}

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
                               QWidget *parent)
    : QWidget(parent), m_slot(slot), m_controller(controller), m_pages(new QStackedWidget(this)),
      m_waiting(new QLabel(this)), m_video(VideoView::create(renderer, this)), m_status(new QLabel(this)),
      m_statsPanel(new QLabel(this)), m_audioOnly(new QWidget(this)), m_audioSource(new QLabel(m_audioOnly)),
      m_audioMeter(new QProgressBar(m_audioOnly))
{
    setWindowTitle(tr("h264link receiver"));
    addTraceIoAction(this);
    m_waiting->setAlignment(Qt::AlignCenter);
    m_waiting->setWordWrap(true);
    m_waiting->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_waiting->setStyleSheet(QStringLiteral("background: #263238; color: #eceff1; font-size: 16px;"));
    m_pages->addWidget(m_waiting);
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
                const QString turned = DisplayOrientation::fromMatrix(info.displayMatrix).description();
                if (info.hasVideo() && !turned.isEmpty())
                    m_source += QStringLiteral(", ") + turned;
                if (info.hasAudio())
                    m_source += tr(" · sound: %1").arg(info.audioDescription);
                m_audioOnlyStream = !info.hasVideo();
                if (m_audioOnlyStream) {
                    m_audioSource->setText(info.sourceName);
                    m_audioMeter->setValue(0);
                    m_pages->setCurrentWidget(m_audioOnly);
                }
                setStatus(m_peer + QStringLiteral(" · ") + m_source);
            });
    connect(controller, &ReceiverController::streamEnded, this,
            [this](const QString &summary, bool clean) {
                m_headline = (clean ? tr("Stream ended.") : tr("Stream interrupted.")) + QStringLiteral("<br><small>")
                    + summary.toHtmlEscaped() + QStringLiteral("</small>");
                m_video->clear(); // the waiting page comes next: let the last frame go
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
    const QStringList addresses = localAddresses();
    QString text;
    if (!m_headline.isEmpty())
        text += QStringLiteral("<p style='color:#ffcc80'>%1</p>").arg(m_headline);
    text += tr("<h2>Waiting for a sender on port %1</h2>").arg(port);
    text += tr("<p>This machine's addresses:<br><b>%1</b></p>").arg(addresses.join(QStringLiteral("<br>")));
    text += tr("<p>On the sending machine run:<br><code>sender VIDEO.mp4 --host %1 --port %2</code></p>")
                .arg(addresses.first().section(' ', 0, 0)).arg(port);
    m_waiting->setText(text);
    m_pages->setCurrentWidget(m_waiting);
    setStatus(tr("Listening on port %1 · S: statistics · M: mute · F11: full screen").arg(port));
}

void ReceiverWindow::showFrame()
{
    if (FramePtr frame = m_slot->take())
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

// Once a second: what the decoder did, so damage on the wire is visible.
void ReceiverWindow::updateStats()
{
    const auto stats = m_controller->liveStats();
    if (!stats)
        return;
    if (const auto streamStats = m_controller->streamStats()) {
        streamStats->setDecodeErrors(stats->decodeErrors);
        const StatsReport report = streamStats->report(proto::nowMicros());
        if (m_statsPanel->isVisible()) {
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
    if (event->key() == Qt::Key_M) {
        m_controller->toggleMute();
        updateStats();
        return;
    }
    if (event->matches(QKeySequence::Quit)) { // Ctrl+Q: the same clean close as the window's X
        close();
        return;
    }
    if (event->key() == Qt::Key_S) {
        m_statsPanel->setVisible(!m_statsPanel->isVisible());
        return;
    }
    if (event->key() == Qt::Key_F11 || (event->key() == Qt::Key_Escape && isFullScreen())) {
        setWindowState(windowState() ^ Qt::WindowFullScreen);
        return;
    }
    QWidget::keyPressEvent(event);
}

void ReceiverWindow::closeEvent(QCloseEvent *event)
{
    emit closeRequested();
    QWidget::closeEvent(event); // hidden now; the app quits once the goodbye is done
}

} // namespace h264link
