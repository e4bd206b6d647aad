// screen_clock: a clock on one X screen that is read back off another, to
// measure capture-to-screen latency for real (bench/screen_latency.py).
//
//   screen_clock show [--period-ms 1]      full screen: the barcode of the time (barcode.h)
//   screen_clock read [--seconds 10]       reads the barcode off this display's screen as
//                                          fast as it can; one JSON summary on stdout
//   screen_clock decode IMAGE...           the value in each image (a frame, a screenshot)
//
// The clock is CLOCK_MONOTONIC in ms, the same in every process on the
// machine: a value read at time t was painted t - value ago. The painter
// repaints every --period-ms, so a capture shows a value up to that old; the
// reader polls a single row of pixels, about every 0.5 ms.
#include "barcode.h"

#include <QCommandLineParser>
#include <QGuiApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPaintEvent>
#include <QPainter>
#include <QPixmap>
#include <QRasterWindow>
#include <QScreen>
#include <QThread>
#include <QTimer>
#include <QElapsedTimer>
#include <algorithm>
#include <cstdio>

using namespace screenclock;

namespace {

class ClockWindow : public QRasterWindow {
public:
    explicit ClockWindow(int periodMs)
    {
        m_timer.setTimerType(Qt::PreciseTimer);
        QObject::connect(&m_timer, &QTimer::timeout, this, [this] {
            update(bandRect(QRect(QPoint(), size())));
            update(textRect());
        });
        m_timer.start(periodMs);
    }

protected:
    void paintEvent(QPaintEvent *event) override
    {
        QPainter p(this);
        const QRect picture(QPoint(), size());
        p.fillRect(event->rect(), QColor(255, 0, 255));
        const quint32 value = nowMs();
        const auto cells = encode(value);
        const QRect band = bandRect(picture);
        for (int i = 0; i < kCells; ++i) {
            const int x0 = band.left() + i * band.width() / kCells;
            const int x1 = band.left() + (i + 1) * band.width() / kCells;
            p.fillRect(QRect(x0, band.top(), x1 - x0, band.height()), cells[size_t(i)] ? Qt::white : Qt::black);
        }
        const QRect text = textRect();
        p.fillRect(text, QColor(255, 0, 255));
        QFont font = p.font();
        font.setPixelSize(std::max(12, height() / 24));
        p.setFont(font);
        p.setPen(Qt::white);
        p.drawText(text, Qt::AlignCenter, QStringLiteral("frame %1   t = %2 ms").arg(++m_frames).arg(value));
    }

private:
    QRect textRect() const { return QRect(0, height() * 3 / 4, width(), height() / 10); }
    QTimer m_timer;
    quint64 m_frames = 0;
};

int show(int periodMs)
{
    ClockWindow window(periodMs);
    // The whole screen, without a window manager to ask (Xvfb has none).
    window.setFlags(Qt::Window | Qt::FramelessWindowHint);
    window.setGeometry(QGuiApplication::primaryScreen()->geometry());
    window.show();
    return QGuiApplication::exec();
}

double percentile(std::vector<int> v, double p)
{
    if (v.empty())
        return -1;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, size_t(double(v.size()) * p / 100.0))];
}

int read(double seconds, double calibrateSeconds)
{
    QScreen *screen = QGuiApplication::primaryScreen();
    QRect picture;
    QElapsedTimer clock;
    clock.start();
    // Find the picture: the magenta of a whole grab, with a band that decodes.
    while (picture.isEmpty()) {
        const QImage whole = screen->grabWindow(0).toImage();
        const QRect found = findPicture(whole);
        if (!found.isEmpty() && decodeRow(whole, bandRect(found).center().y(), found.left(), found.width()))
            picture = found;
        else if (clock.elapsed() > calibrateSeconds * 1000) {
            std::fprintf(stderr, "screen_clock: no readable barcode on this screen after %.0f s\n",
                         calibrateSeconds);
            return 1;
        } else
            QThread::msleep(50);
    }
    const int y = bandRect(picture).center().y();
    std::vector<int> latencies;
    QJsonArray values;
    std::optional<quint32> last;
    quint64 grabs = 0, unreadable = 0;
    qint64 grabNs = 0;
    clock.restart();
    while (clock.elapsed() < seconds * 1000) {
        QElapsedTimer cost;
        cost.start();
        const QImage row = screen->grabWindow(0, picture.left(), y, picture.width(), 1).toImage();
        grabNs += cost.nsecsElapsed();
        // The pixels were there by the time the grab came back.
        const quint32 after = nowMs();
        ++grabs;
        const std::optional<quint32> value = decodeRow(row, 0, 0, row.width());
        if (!value) {
            ++unreadable;
        } else if (value != last) {
            last = value;
            latencies.push_back(int(ageMs(after, *value)));
            values.append(qint64(*value));
        }
        QThread::usleep(500);
    }
    QJsonObject out{
        {"frames", int(latencies.size())},
        {"median_ms", percentile(latencies, 50)},
        {"p95_ms", percentile(latencies, 95)},
        {"min_ms", latencies.empty() ? -1 : *std::min_element(latencies.begin(), latencies.end())},
        {"max_ms", latencies.empty() ? -1 : *std::max_element(latencies.begin(), latencies.end())},
        {"picture", QJsonArray{picture.x(), picture.y(), picture.width(), picture.height()}},
        {"grabs", qint64(grabs)},
        {"unreadable_grabs", qint64(unreadable)},
        {"grab_us", grabs ? double(grabNs) / double(grabs) / 1000.0 : 0.0},
        {"values", values},
    };
    std::printf("%s\n", QJsonDocument(out).toJson(QJsonDocument::Compact).constData());
    return latencies.empty() ? 1 : 0;
}

int decodeImages(const QStringList &files)
{
    int decoded = 0;
    for (const QString &file : files) {
        const QImage image(file);
        const std::optional<quint32> value = image.isNull() ? std::nullopt : decode(image);
        if (value)
            ++decoded;
        std::printf("%s %s\n", qPrintable(file), value ? qPrintable(QString::number(*value)) : "none");
    }
    return decoded ? 0 : 1;
}

} // namespace

int main(int argc, char *argv[])
{
    // Qt paints an update() at most every 5 ms by default: too coarse a clock.
    qputenv("QT_QPA_UPDATE_IDLE_TIME", "0");
    QGuiApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription("A barcode clock for measuring capture-to-screen latency.");
    parser.addHelpOption();
    parser.addPositionalArgument("mode", "show, read or decode");
    const QCommandLineOption period("period-ms", "show: repaint every N ms (default 1).", "ms", "1");
    const QCommandLineOption seconds("seconds", "read: for how long (default 10).", "s", "10");
    const QCommandLineOption calibrate("calibrate-seconds", "read: how long to look for the barcode (default 20).",
                                       "s", "20");
    parser.addOptions({period, seconds, calibrate});
    parser.process(app);
    const QStringList args = parser.positionalArguments();
    const QString mode = args.value(0);
    if (mode == QLatin1String("show"))
        return show(std::max(1, parser.value(period).toInt()));
    if (mode == QLatin1String("read"))
        return read(parser.value(seconds).toDouble(), parser.value(calibrate).toDouble());
    if (mode == QLatin1String("decode") && args.size() > 1)
        return decodeImages(args.mid(1));
    std::fprintf(stderr, "screen_clock: give a mode: show, read or decode IMAGE... (see --help)\n");
    return 64;
}
