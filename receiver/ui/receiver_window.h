// ReceiverWindow: shows where to connect while waiting, then the live picture
// in a VideoView (scaled to fit, aspect ratio kept, turned as the stream's
// display matrix says); the window takes the picture's shape (portrait,
// landscape) until the person resizes it. A stream with sound
// only shows its source name and a big level meter instead. S toggles the
// statistics panel (with the sound's level meter), M mutes, F11 full screen.
#pragma once

#include "protocol.h"
#include "video_view.h"

#include <QWidget>

class QLabel;
class QProgressBar;
class QStackedWidget;

namespace h264link {

class FrameSlot;
class ReceiverController;

class ReceiverWindow : public QWidget {
    Q_OBJECT
public:
    ReceiverWindow(FrameSlot *slot, ReceiverController *controller, Renderer renderer,
                   QWidget *parent = nullptr);

signals:
    // The person closed the window: the receiver says goodbye, then quits.
    void closeRequested();

protected:
    void keyPressEvent(QKeyEvent *event) override;
    void closeEvent(QCloseEvent *event) override;

private:
    void showWaiting(quint16 port);
    void showFrame();
    void fitToPicture(QSize displaySize);
    void onFrameShown(qint64 pts, qint64 statsId);
    void onFrameFailed(const QString &error);
    quint64 skippedForDisplay() const;
    void setStatus(const QString &text);
    void updateStats();
    void updateMeter(); // the sound's level, a few times a second

    FrameSlot *m_slot;
    ReceiverController *m_controller;
    QStackedWidget *m_pages;
    QLabel *m_waiting;
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
};

} // namespace h264link
