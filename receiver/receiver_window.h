// ReceiverWindow: shows where to connect while waiting, then the live picture
// (scaled to fit, aspect ratio kept) through QVideoWidget's QVideoSink.
// F11 toggles full screen.
#pragma once

#include "protocol.h"

#include <QWidget>

class QLabel;
class QStackedWidget;
class QVideoWidget;

namespace h264link {

class FrameSlot;
class ReceiverController;

class ReceiverWindow : public QWidget {
    Q_OBJECT
public:
    ReceiverWindow(FrameSlot *slot, ReceiverController *controller, QWidget *parent = nullptr);

    quint64 framesDisplayed() const { return m_displayed; }

protected:
    void keyPressEvent(QKeyEvent *event) override;

private:
    void showWaiting(quint16 port);
    void showFrame();
    void setStatus(const QString &text);
    void updateStats();

    FrameSlot *m_slot;
    ReceiverController *m_controller;
    QStackedWidget *m_pages;
    QLabel *m_waiting;
    QVideoWidget *m_video;
    QLabel *m_status;
    QLabel *m_statsPanel; // S toggles it
    QString m_base; // who and what is streaming; statistics are appended
    QString m_peer;
    quint64 m_lastFrames = 0;
    QString m_headline;
    QString m_source;
    quint64 m_displayed = 0;
};

} // namespace h264link
