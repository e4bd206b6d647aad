// The sender's one-line progress display on a terminal, as ffmpeg's:
//   time 00:00:04.20 / 00:00:10.00  fps 25.0  2.41 Mb/s  queued 12 KiB  receivers 1
// redrawn in place with '\r' at most twice a second, on stderr, only when
// stderr is a terminal. Every other line the sender prints (and every Qt log
// message, from any thread) goes through printLine(), which first erases the
// progress line, so the two never run into each other.
#pragma once

#include "sender_options.h"

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <cstdio>

namespace h264link {

class TerminalProgress : public QObject {
    Q_OBJECT
public:
    // stderr is a terminal and --quiet was not given.
    static bool wanted(bool quiet);
    // Prints `line` and a newline on `stream`, erasing the progress line
    // first if one shows; thread-safe, and fine with no TerminalProgress.
    static void printLine(std::FILE *stream, const QString &line);

    explicit TerminalProgress(QObject *parent = nullptr);
    ~TerminalProgress() override; // ends the line, gives back Qt's message handler

    void update(const SenderProgress &progress);
    void setReceivers(int connected);
    // Draws the last state and ends the line: the final figures stay on screen.
    void finish();

    // The line for `progress`, with rates over `elapsedMs` since `previous`.
    static QString format(const SenderProgress &progress, const SenderProgress &previous, qint64 elapsedMs,
                          int receivers);

private:
    void draw(const SenderProgress &base, qint64 elapsedMs); // rates since `base`
    void startClock();

    QTimer m_refresh;
    QElapsedTimer m_sinceDraw;
    QElapsedTimer m_sinceStart; // from the connection
    bool m_hasProgress = false;
    SenderProgress m_latest;
    SenderProgress m_drawnProgress; // the rates' base
    int m_receivers = 0;
    bool m_dirty = false;
    bool m_finished = false;
};

} // namespace h264link
