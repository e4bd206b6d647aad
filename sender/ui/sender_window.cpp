#include "ui/sender_window.h"

#include "app_mode.h"
#include "discovered_services_list.h"
#include "discovery_cli.h"
#include "dns_sd_client.h"
#include "dial_target.h"
#include "inside_view.h"
#include "io_trace_controls.h"

#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDateTime>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QThread>
#include <QTreeWidget>
#include <QVBoxLayout>
#include <algorithm>
#include <cstdio>

namespace h264link {
namespace {

// What the window remembers between runs: which source, and which display.
constexpr auto kSettingSource = "source/kind"; // "file" or "screen"
constexpr auto kSettingDisplay = "source/display";
constexpr auto kSettingFps = "source/fps";
// The last stream's, offered again unless the command line gives its own.
constexpr auto kSettingFile = "source/file";
constexpr auto kSettingHost = "receiver/host";
constexpr auto kSettingPort = "receiver/port";
constexpr auto kSettingKeyFile = "receiver/keyFile"; // the path only, never the key

QString clock(qint64 us)
{
    if (us < 0)
        return QStringLiteral("--:--");
    const qint64 s = us / 1'000'000;
    return QStringLiteral("%1:%2").arg(s / 60, 2, 10, QChar('0')).arg(s % 60, 2, 10, QChar('0'));
}

} // namespace

SenderWindow::SenderWindow(const SenderOptions &initial, QWidget *parent)
    : QWidget(parent), m_initial(initial)
{
    setWindowTitle(tr("h264link sender"));
    setAcceptDrops(true);
    addTraceIoAction(this);

    QSettings settings;
    m_source = new QComboBox(this);
    m_source->addItem(tr("File"), QStringLiteral("file"));
    m_source->addItem(tr("Screen"), QStringLiteral("screen"));
    const QString kind = initial.screen ? QStringLiteral("screen")
        : !initial.file.isEmpty()       ? QStringLiteral("file")
                                        : settings.value(kSettingSource, QStringLiteral("file")).toString();
    m_source->setCurrentIndex(std::max(0, m_source->findData(kind)));
    const SenderOptions defaults;
    m_file = new QLineEdit(initial.file.isEmpty() ? settings.value(kSettingFile).toString() : initial.file, this);
    m_file->setPlaceholderText(tr("Drop a video file here, or browse (- reads stdin, /dev/video0 a camera)"));
    m_browse = new QPushButton(tr("Browse…"), this);
    connect(m_browse, &QPushButton::clicked, this, &SenderWindow::browse);
    m_display = new QLineEdit(initial.screen ? initial.display
                                             : settings.value(kSettingDisplay, qEnvironmentVariable("DISPLAY")).toString(),
                              this);
    m_display->setPlaceholderText(tr("X display, e.g. :0"));
    m_display->setToolTip(tr("The X display whose whole screen is captured"));
    m_fps = new QSpinBox(this);
    m_fps->setRange(1, 240);
    m_fps->setSuffix(tr(" fps"));
    m_fps->setValue(initial.screen || initial.fps != 30 ? initial.fps : settings.value(kSettingFps, 30).toInt());
    connect(m_source, &QComboBox::currentIndexChanged, this, &SenderWindow::showSourceChoice);
    auto *fileRow = new QHBoxLayout;
    fileRow->addWidget(m_source);
    fileRow->addWidget(m_file, 1);
    fileRow->addWidget(m_browse);
    fileRow->addWidget(m_display, 1);
    fileRow->addWidget(m_fps);

    m_host = new QLineEdit(!initial.host.isEmpty() ? initial.host
                                                   : settings.value(kSettingHost, defaults.host).toString(),
                           this);
    m_host->setPlaceholderText(tr("receiver address, e.g. 192.168.1.20; several: a,b:8300,c"));
    m_port = new QSpinBox(this);
    m_port->setRange(1, 65535);
    m_port->setValue(initial.port != 0 ? initial.port : settings.value(kSettingPort, defaults.port).toInt());
    auto *target = new QHBoxLayout;
    target->addWidget(m_host, 1);
    target->addWidget(new QLabel(tr("port"), this));
    target->addWidget(m_port);

    m_loop = new QCheckBox(tr("Loop"), this);
    m_loop->setChecked(initial.loop);
    m_fast = new QCheckBox(tr("As fast as possible (not real time)"), this);
    m_fast->setChecked(initial.fast);
    m_retry = new QCheckBox(tr("Reconnect"), this);
    m_retry->setToolTip(tr("If the receiver is not there, goes away or is busy, keep trying every second"));
    m_retry->setChecked(initial.retry);
    m_sound = new QCheckBox(tr("Sound"), this);
    m_sound->setToolTip(tr("Send the file's first audio stream too (AAC and MP3 as they are, others as AAC)"));
    m_sound->setChecked(!initial.noAudio);
    auto *flags = new QHBoxLayout;
    flags->addWidget(m_loop);
    flags->addWidget(m_retry);
    flags->addWidget(m_sound);
    flags->addWidget(m_fast);
    flags->addStretch();

    m_key = new QLineEdit(initial.keyFile.isEmpty() ? QString::fromUtf8(initial.key) : QString(), this);
    m_key->setEchoMode(QLineEdit::Password);
    m_key->setPlaceholderText(tr("only if the receiver requires one"));
    const bool keyGiven = !initial.key.isEmpty() || !initial.keyFile.isEmpty();
    m_keyFile = new QLineEdit(keyGiven ? initial.keyFile : settings.value(kSettingKeyFile).toString(), this);
    m_keyFile->setPlaceholderText(tr("or a file holding the key"));

    // The receivers announced on the LAN (DNS-SD): picking one fills the address.
    m_found = new DiscoveredServicesList(tr("Receivers on this network"), tr("Use"), this);
    m_found->setObjectName(QStringLiteral("foundReceivers"));
    m_found->setMaximumHeight(140);
    m_found->browse(QString::fromLatin1(dnssd::kRoleReceiver));
    connect(m_found, &DiscoveredServicesList::picked, this, [this](const DiscoveredService &r) {
        m_host->setText(r.address.toString());
        m_port->setValue(r.port);
        if (r.keyNeeded && m_key->text().isEmpty() && m_keyFile->text().isEmpty()) {
            showStatus(tr("%1 needs the access key").arg(r.name), false);
            m_key->setFocus();
        }
    });

    auto *form = new QFormLayout;
    form->addRow(tr("Source"), fileRow);
    form->addRow(tr("Receiver"), target);
    form->addRow(QString(), m_found);
    form->addRow(tr("Access key"), m_key);
    form->addRow(tr("Key file"), m_keyFile);
    form->addRow(QString(), flags);

    m_startStop = new QPushButton(tr("Start"), this);
    m_startStop->setDefault(true);
    connect(m_startStop, &QPushButton::clicked, this, [this] { m_session ? stop() : start(); });
    m_progress = new QProgressBar(this);
    m_progress->setRange(0, 1000);
    m_progress->setValue(0);
    m_progress->setFormat(QStringLiteral("--:-- / --:--"));
    m_stats = new QLabel(this);
    m_audio = new QLabel(this); // what happens to the sound, said once per stream
    m_audio->setTextFormat(Qt::PlainText);
    m_audio->setWordWrap(true);
    m_status = new QLabel(tr("Choose a file and the receiver's address, then press Start."), this);
    m_status->setWordWrap(true);
    m_status->setTextFormat(Qt::PlainText);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);

    // Several receivers (a host list, or --serve): who is watching, and a
    // way to drop one (it is told why).
    m_receivers = new QTreeWidget(this);
    m_receivers->setColumnCount(7);
    m_receivers->setHeaderLabels({tr("Receiver"), tr("Address"), tr("State"), tr("Connected"), tr("Lag"),
                                  tr("Skipped"), tr("Bit rate")});
    m_receivers->setRootIsDecorated(false);
    m_receivers->setVisible(false);
    m_disconnect = new QPushButton(tr("Disconnect"), this);
    m_disconnect->setVisible(false);
    m_disconnect->setEnabled(false);
    connect(m_receivers, &QTreeWidget::itemSelectionChanged, this,
            [this] { m_disconnect->setEnabled(m_session && !m_receivers->selectedItems().isEmpty()); });
    connect(m_disconnect, &QPushButton::clicked, this, [this] {
        for (const QTreeWidgetItem *item : m_receivers->selectedItems())
            if (m_session)
                m_session->disconnectReceiver(item->data(0, Qt::UserRole).toInt());
    });

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_startStop);
    layout->addWidget(m_progress);
    layout->addWidget(m_stats);
    layout->addWidget(m_audio);
    layout->addWidget(m_status);
    layout->addWidget(m_receivers);
    layout->addWidget(m_disconnect);
    showSourceChoice();
    inside::addInsideViewAction(this); // I: the custom I/O, live, in a window of its own
    resize(560, 290);
}

bool SenderWindow::screenChosen() const
{
    return m_source->currentData().toString() == QLatin1String("screen");
}

void SenderWindow::showSourceChoice()
{
    const bool screen = screenChosen();
    m_file->setVisible(!screen);
    m_browse->setVisible(!screen);
    m_display->setVisible(screen);
    m_fps->setVisible(screen);
    m_loop->setEnabled(!screen && !m_session); // the screen cannot start again
}

SenderWindow::~SenderWindow()
{
    stop();
    if (m_thread) {
        m_thread->quit();
        m_thread->wait();
    }
}

void SenderWindow::browse()
{
    const QString file = QFileDialog::getOpenFileName(
        this, tr("Choose a video"), QFileInfo(m_file->text()).absolutePath(),
        tr("Media files (*.mp4 *.m4v *.mov *.mkv *.ts *.m2ts *.flv *.h264 *.264 *.avi *.m4a *.mka *.mp3 *.aac "
           "*.flac *.opus *.ogg *.wav);;All files (*)"));
    if (!file.isEmpty())
        m_file->setText(file);
}

void SenderWindow::start()
{
    if (m_session)
        return;
    SenderOptions options = m_initial;
    options.screen = screenChosen();
    options.display = m_display->text().trimmed();
    options.fps = m_fps->value();
    options.file = options.screen ? QString() : m_file->text().trimmed();
    options.key = m_key->text().toUtf8();
    options.keyFile = m_keyFile->text().trimmed();
    QString keyError;
    if (options.key.isEmpty() && !options.keyFile.isEmpty()
        && !resolveAccessKey(QString(), options.keyFile, &options.key, &keyError)) {
        showStatus(keyError, true);
        return;
    }
    options.host = m_host->text().trimmed();
    options.port = quint16(m_port->value());
    // "a,b:8300,c": several receivers, the fan-out; one stays one-to-one.
    options.receivers.clear();
    if (!options.serve && !options.host.isEmpty()) {
        for (const QString &item : options.host.split(QLatin1Char(','))) {
            QString hostError;
            const std::optional<HostPort> target = parseHostPort(item, options.port, &hostError);
            if (!target) {
                showStatus(tr("Receiver %1").arg(hostError), true);
                return;
            }
            options.receivers << ReceiverAddress{target->host, target->port};
        }
        if (options.receivers.size() == 1) {
            options.host = options.receivers.first().host;
            options.port = options.receivers.first().port;
        }
    }
    options.loop = m_loop->isChecked() && !options.screen;
    options.fast = m_fast->isChecked();
    options.retry = m_retry->isChecked();
    options.noAudio = !m_sound->isChecked();
    if (options.screen && options.display.isEmpty()) {
        showStatus(tr("Enter the X display to capture first, e.g. :0."), true);
        return;
    }
    if ((!options.screen && options.file.isEmpty()) || (options.host.isEmpty() && !options.serve)) {
        showStatus(tr("Choose a file and enter the receiver's address first."), true);
        return;
    }
    QSettings settings;
    settings.setValue(kSettingSource, options.screen ? "screen" : "file");
    if (!options.screen)
        settings.setValue(kSettingFile, options.file);
    settings.setValue(kSettingHost, options.host);
    settings.setValue(kSettingPort, options.port);
    settings.setValue(kSettingKeyFile, options.keyFile);
    if (options.screen) {
        settings.setValue(kSettingDisplay, options.display);
        settings.setValue(kSettingFps, options.fps);
    }

    m_thread = new QThread(this);
    m_session = new StreamSession(options);
    m_session->moveToThread(m_thread);
    connect(m_thread, &QThread::started, m_session, &StreamSession::run);
    connect(m_thread, &QThread::finished, m_session, &QObject::deleteLater);
    connect(m_session, &StreamSession::connected, this,
            [this](const QString &peer) { showStatus(tr("Streaming to %1").arg(peer), false); });
    connect(m_session, &StreamSession::progress, this, &SenderWindow::onProgress);
    connect(m_session, &StreamSession::retrying, this, [this](const QString &reason) {
        showStatus(tr("%1 — retrying…").arg(reason), true);
    });
    connect(m_session, &StreamSession::waitingForReceiver, this, [this] {
        showStatus(tr("Everything sent; waiting for the receiver to finish decoding…"), false);
    });
    connect(m_session, &StreamSession::finished, this, &SenderWindow::onFinished);
    connect(m_session, &StreamSession::statsLine, this, &SenderWindow::showReceivers);
    m_receivers->clear();
    m_audio->clear();
    const auto note = [this](const QString &line) {
        m_audio->setText(m_audio->text().isEmpty() ? line : m_audio->text() + '\n' + line);
    };
    connect(m_session, &StreamSession::notice, this, note);
    // --serve: announced on the LAN while it serves, as from the command line.
    connect(m_session, &StreamSession::serving, this,
            [this, note, announce = options.announce, keyNeeded = !options.key.isEmpty()](quint16 port) {
                if (!announce)
                    return;
                Announcement a;
                a.role = QString::fromLatin1(dnssd::kRoleSender);
                a.port = port;
                a.keyNeeded = keyNeeded;
                m_announcer = announceOnLan(a, [note](const QString &line) {
                    note(line);
                    std::fprintf(stderr, "sender: %s\n", qUtf8Printable(line));
                });
            });
    m_lastBytes = 0;
    m_lastFrames = 0;
    m_lastStatsMs = QDateTime::currentMSecsSinceEpoch();
    setRunning(true);
    showStatus(tr("Connecting to %1:%2…").arg(options.host).arg(options.port), false);
    m_thread->start();
}

void SenderWindow::showReceivers(const QString &statsJson)
{
    const QJsonArray receivers = QJsonDocument::fromJson(statsJson.toUtf8()).object().value("receivers").toArray();
    m_receivers->setVisible(true);
    m_disconnect->setVisible(true);
    for (int i = 0; i < receivers.size(); ++i) {
        const QJsonObject r = receivers[i].toObject();
        QTreeWidgetItem *item = m_receivers->topLevelItem(i);
        if (!item)
            item = new QTreeWidgetItem(m_receivers);
        item->setData(0, Qt::UserRole, r.value("id").toInt());
        item->setText(0, r.value("name").toString());
        item->setText(1, r.value("address").toString());
        item->setText(2, r.value("state").toString());
        item->setText(3, clock(qint64(r.value("connected_s").toDouble() * 1e6)));
        item->setText(4, tr("%1 ms").arg(r.value("lag_ms").toInteger()));
        item->setText(5, QString::number(r.value("frames_skipped").toInteger()));
        item->setText(6, tr("%1 Mbit/s").arg(r.value("bitrate").toDouble() / 1e6, 0, 'f', 2));
    }
}

void SenderWindow::stop()
{
    if (m_session)
        m_session->stop(); // thread-safe; finished() follows
}

void SenderWindow::onProgress(const SenderProgress &p)
{
    if (p.durationUs > 0)
        m_progress->setValue(int(std::clamp<qint64>(p.positionUs * 1000 / p.durationUs, 0, 1000)));
    m_progress->setFormat(QStringLiteral("%1 / %2%3").arg(clock(p.positionUs), clock(p.durationUs),
                              p.loops ? tr("  (loop %1)").arg(p.loops + 1) : QString()));
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    if (now - m_lastStatsMs >= 1000) {
        const double seconds = double(now - m_lastStatsMs) / 1000.0;
        const double mbps = double(qint64(p.bytes) - m_lastBytes) * 8.0 / seconds / 1e6;
        const double fps = double(p.accessUnits - m_lastFrames) / seconds;
        QString text = tr("%1 fps · %2 Mbit/s · %3 kB queued · %4 frames sent")
                           .arg(fps, 0, 'f', 1).arg(mbps, 0, 'f', 2).arg(p.queuedBytes / 1024).arg(p.accessUnits);
        if (p.audioPackets)
            text += tr(" · %1 audio packets").arg(p.audioPackets);
        if (p.skippedFrames)
            text += tr(" · %1 skipped to stay live").arg(p.skippedFrames);
        m_stats->setText(text);
        m_lastBytes = qint64(p.bytes);
        m_lastFrames = p.accessUnits;
        m_lastStatsMs = now;
    }
    m_last = p;
}

void SenderWindow::onFinished(int exitCode, const QString &message)
{
    m_announcer.reset(); // serves no more
    m_thread->quit();
    m_thread->wait();
    m_thread->deleteLater();
    m_thread = nullptr;
    m_session = nullptr; // deleted by the thread's finished() signal
    setRunning(false);
    showStatus(message, exitCode != ExitOk);
}

void SenderWindow::setRunning(bool running)
{
    m_startStop->setText(running ? tr("Stop") : tr("Start"));
    for (QWidget *w : {static_cast<QWidget *>(m_source), static_cast<QWidget *>(m_display),
                       static_cast<QWidget *>(m_fps), static_cast<QWidget *>(m_browse),
                       static_cast<QWidget *>(m_file), static_cast<QWidget *>(m_host),
                       static_cast<QWidget *>(m_port), static_cast<QWidget *>(m_loop),
                       static_cast<QWidget *>(m_fast), static_cast<QWidget *>(m_retry), static_cast<QWidget *>(m_sound),
                       static_cast<QWidget *>(m_key), static_cast<QWidget *>(m_keyFile)})
        w->setEnabled(!running);
    if (!running)
        m_loop->setEnabled(!screenChosen());
}

void SenderWindow::showStatus(const QString &text, bool error)
{
    m_status->setText(text);
    m_status->setStyleSheet(error ? QStringLiteral("color: #c62828; font-weight: bold;") : QString());
}

void SenderWindow::dragEnterEvent(QDragEnterEvent *event)
{
    if (event->mimeData()->hasUrls() && !m_session)
        event->acceptProposedAction();
}

void SenderWindow::dropEvent(QDropEvent *event)
{
    const QList<QUrl> urls = event->mimeData()->urls();
    if (!urls.isEmpty() && urls.first().isLocalFile()) {
        m_source->setCurrentIndex(m_source->findData(QStringLiteral("file")));
        m_file->setText(urls.first().toLocalFile());
    }
}

void SenderWindow::closeEvent(QCloseEvent *event)
{
    stop();
    event->accept();
}

} // namespace h264link
