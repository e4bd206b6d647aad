// SenderWindow: pick a file (dialog or drag and drop) or the screen, say
// where to send it, start and stop, and watch progress. The streaming itself runs in a
// StreamSession on a worker thread; this window only shows its signals.
#pragma once

#include "stream_session.h"

#include <QWidget>
#include <memory>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QThread;
class QTreeWidget;

namespace h264link {

class DiscoveredServicesList;
class ServiceAnnouncer;

class SenderWindow : public QWidget {
    Q_OBJECT
public:
    // An empty initial host, port 0, no file and no key: the last stream's (QSettings).
    explicit SenderWindow(const SenderOptions &initial, QWidget *parent = nullptr);
    ~SenderWindow() override;

    void start();
    void stop();

protected:
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dropEvent(QDropEvent *event) override;
    void closeEvent(QCloseEvent *event) override;

private:
    void browse();
    bool screenChosen() const;
    void showSourceChoice(); // the file's fields or the screen's
    void onProgress(const SenderProgress &p);
    void onFinished(int exitCode, const QString &message);
    void setRunning(bool running);
    void showStatus(const QString &text, bool error);
    void showReceivers(const QString &statsJson); // fan-out: who is watching

    QComboBox *m_source; // "File" or "Screen", remembered (QSettings)
    QLineEdit *m_file;
    QPushButton *m_browse;
    QLineEdit *m_display;
    QSpinBox *m_fps;
    QLineEdit *m_host;
    QSpinBox *m_port;
    DiscoveredServicesList *m_found; // receivers announced on the LAN
    QCheckBox *m_loop;
    QCheckBox *m_fast;
    QCheckBox *m_retry;
    QCheckBox *m_sound;
    QLineEdit *m_key;
    QLineEdit *m_keyFile; // remembered (the path, not the key)
    SenderOptions m_initial; // what the window does not show (connect timeout)
    QPushButton *m_startStop;
    QProgressBar *m_progress;
    QLabel *m_stats;
    QLabel *m_audio;
    QLabel *m_status;
    QTreeWidget *m_receivers; // fan-out only: one row per receiver
    QPushButton *m_disconnect;

    QThread *m_thread = nullptr;
    StreamSession *m_session = nullptr;
    std::unique_ptr<ServiceAnnouncer> m_announcer; // --serve, while it serves
    SenderProgress m_last;
    qint64 m_lastBytes = 0;
    quint64 m_lastFrames = 0;
    qint64 m_lastStatsMs = 0;
};

} // namespace h264link
