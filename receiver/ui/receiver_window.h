// ReceiverWindow: shows where to connect while waiting, then the live picture
// in a VideoView (scaled to fit, aspect ratio kept, turned as the stream's
// display matrix says); the window takes the picture's shape (portrait,
// landscape) until the person resizes it. A stream with sound
// only shows its source name and a big level meter instead.
//
// Keys as ffplay's (? or F1 lists them): f / F11 full screen, q / Esc quit
// (Esc leaves full screen first), space freezes the picture (the stream goes
// on being decoded and counted), S statistics, M mute, p snapshot.
// Full screen shows only the picture: the status line and the statistics
// panel come back for a moment on a key or a mouse move. The cursor hides
// after kIdleMs without movement.
#pragma once

#include "protocol.h"
#include "video_view.h"

#include <QHostAddress>
#include <QWidget>

class QLabel;
class QTimer;
class QProgressBar;
class QStackedWidget;

namespace h264link {

class FrameSlot;
class ReceiverController;

// What the waiting page tells a sender.
struct WaitingPageOptions {
    QHostAddress listenAddress = QHostAddress::Any; // --listen
    bool keyRequired = false;                       // the sender needs --key-file
    QString connectTo;                              // --connect: the sender it dials, "host:port"
};

class ReceiverWindow : public QWidget {
    Q_OBJECT
public:
    static constexpr int kIdleMs = 2000; // then full screen's chrome and the cursor hide

    ReceiverWindow(FrameSlot *slot, ReceiverController *controller, Renderer renderer,
                   WaitingPageOptions waiting = {}, QWidget *parent = nullptr);
    ~ReceiverWindow() override;

signals:
    // The person closed the window: the receiver says goodbye, then quits.
    void closeRequested();

protected:
    void keyPressEvent(QKeyEvent *event) override;
    void closeEvent(QCloseEvent *event) override;
    void changeEvent(QEvent *event) override;
    void resizeEvent(QResizeEvent *event) override;
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    void showWaiting(quint16 port);
    void showDialing();
    void showFrame();
    void fitToPicture(QSize displaySize);
    void onFrameShown(qint64 pts, qint64 statsId);
    void onFrameFailed(const QString &error);
    quint64 skippedForDisplay() const;
    void setStatus(const QString &text);
    void updateStats();
    void updateMeter(); // the sound's level, a few times a second
    void onActivity();  // a key or a mouse move: chrome and cursor back
    void onIdle();
    void updateChrome(); // what full screen hides, shown or hidden
    void toggleFreeze();
    void takeSnapshot();
    void toggleHelp();
    void placeOverlays();
    void toast(const QString &text); // a few seconds in the status line

    FrameSlot *m_slot;
    ReceiverController *m_controller;
    QStackedWidget *m_pages;
    QWidget *m_waitingPage;
    QLabel *m_waiting;
    QLabel *m_qr; // the sender's command line, for a phone
    VideoView *m_video;
    QLabel *m_status;
    QLabel *m_statsPanel; // S toggles it
    QWidget *m_audioOnly;  // the page of a stream without pictures
    QLabel *m_audioSource;
    QProgressBar *m_audioMeter;
    bool m_audioOnlyStream = false;
    QString m_base; // who and what is streaming; statistics are appended
    QString m_peer;
    quint64 m_lastFrames = 0;
    QString m_headline;
    QString m_source;
    quint64 m_displayFailures = 0;
    quint64 m_skippedBase = 0; // lifetime skip count when this stream started
    QSize m_fittedSize; // the window's size as last set here; another: the person's

    WaitingPageOptions m_waitingOptions;
    QLabel *m_help;        // ? / F1
    QLabel *m_frozenBadge; // shown while space has frozen the picture
    QTimer *m_idle;        // single shot, restarted by every activity
    bool m_chromeShown = true; // in full screen: since the last activity, for kIdleMs
    bool m_cursorHidden = false;
    QPointF m_lastPointer{-1, -1};
    bool m_statsWanted = false; // S
    bool m_frozen = false;
    quint64 m_frozenNotShown = 0; // frames decoded while frozen (this freeze)
    FramePtr m_lastFrame; // the frame handed to the view last: what p saves
    QString m_toast;
    qint64 m_toastUntilMs = 0;
};

} // namespace h264link
