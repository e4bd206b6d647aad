// The Inside view over a real stream: a generated clip goes through the
// sender's stages (MediaSource, AnnexBMuxer, FramedMediaDevice) into a
// buffer, and back through the receiver's framing and an AvioBridge demuxer,
// with the view open; its timelines must then hold what really happened
// (counted against ffprobe), its pixels the header colours, and Pause must
// freeze it while the events keep being counted.
#include "avio_bridge.h"
#include "event_text.h"
#include "fill_bars.h"
#include "framed_media_device.h"
#include "inside_view.h"
#include "io_trace.h"
#include "test_support.h"
#include "timeline_model.h"

#include <QAction>
#include <QApplication>
#include <QBuffer>
#include <QHeaderView>
#include <QTableView>
#include <QTemporaryDir>
#include <QtTest>

using namespace h264link;
using namespace h264link::inside;

namespace {

// The cells of one timeline, by column title, for readable checks.
int countRows(const TimelineModel *model, const std::function<bool(const QStringList &)> &match)
{
    int n = 0;
    for (int i = 0; i < model->rowCount(); ++i)
        n += match(model->row(i).cells);
    return n;
}

// The oracle's keyframes: packets ffprobe flags K (the AUs the sender flags KEYFRAME).
int keyPackets(const QString &clip)
{
    const testsupport::ToolResult r = testsupport::ffprobe(
        {"-select_streams", "v:0", "-show_entries", "packet=flags", "-of", "csv=p=0", clip});
    return r.ok() ? int(r.out.count("K")) : -1;
}

} // namespace

class TstInsideView : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        trace::Tracer::instance(); // made on the main thread, as the apps do
        QVERIFY(m_dir.isValid());
        m_clip = m_dir.filePath("clip.mp4");
        // Several GOPs, no scene cuts: each keyframe an IDR, as ffprobe will say.
        const QString error = testsupport::makeClip(m_clip, "320x240", 25, 2.0, {"-g", "10", "-sc_threshold", "0"});
        QVERIFY2(error.isEmpty(), qPrintable(error));
        m_keyframes = keyPackets(m_clip);
        m_frames = testsupport::ffprobeFrameCount(m_clip);
        QVERIFY(m_keyframes > 1);
        QVERIFY(m_frames < InsideView::kMaxRows); // every access unit fits in the view
    }

    void timelineKeepsTheNewestRows()
    {
        const int max = 1 + int(testsupport::testSeed() % 50);
        TimelineModel model({"n"}, max);
        int total = 0;
        for (int burst : {1, max, 3 * max + 1, 2}) { // below, at and past the bound
            std::vector<TimelineModel::Row> rows;
            for (int i = 0; i < burst; ++i)
                rows.push_back({{QString::number(total++)}, {}, {}});
            model.append(std::move(rows));
            QVERIFY(model.rowCount() <= max);
        }
        QCOMPARE(model.rowCount(), std::min(max, total));
        QCOMPARE(model.rowsDropped(), quint64(total - model.rowCount()));
        QCOMPARE(model.row(model.rowCount() - 1).cells.first(), QString::number(total - 1));
        QCOMPARE(model.row(0).cells.first(), QString::number(total - model.rowCount()));
    }

    void openingTurnsTracingOn()
    {
        QWidget window;
        QAction *action = addInsideViewAction(&window);
        QCOMPARE(action->shortcut(), QKeySequence(Qt::Key_I));
        QVERIFY(window.actions().contains(action)); // and so in its right-click menu
        QVERIFY(!trace::Tracer::enabled());
        action->trigger();
        auto *view = window.findChild<InsideView *>();
        QVERIFY(view && view->isVisible());
        QVERIFY(trace::Tracer::enabled());
        view->close(); // its own window's close button
        QVERIFY(!action->isChecked());
        QVERIFY(!trace::Tracer::enabled());
        trace::Tracer::instance().setTextOutput(true); // --trace-io wants it on after
        action->trigger();
        action->trigger();
        QVERIFY(trace::Tracer::enabled());
        trace::Tracer::instance().setTextOutput(false);
        trace::Tracer::instance().setEnabled(false);
    }

    void realStreamShowsInTheTimelines()
    {
        InsideView view(nullptr);
        view.show();
        trace::Tracer::instance().takeEvents(); // only this stream's events
        stream();
        if (!feedRecorded())
            QFAIL("the stages recorded no trace event: their instrumentation is broken");
        view.refresh();

        // The sender's side: one AU_START per access unit, KEYFRAME on the oracle's keyframes.
        const TimelineModel *messages = view.messages();
        auto sentMedia = [](const QStringList &c) { return c[1].startsWith("sent") && c[2] == "MEDIA"; };
        QCOMPARE(countRows(messages, [&](const QStringList &c) { return sentMedia(c) && c[4].contains("AU_START"); }),
                 m_frames);
        QCOMPARE(countRows(messages, [&](const QStringList &c) {
                     return sentMedia(c) && c[4].contains("AU_START") && c[4].contains("KEYFRAME");
                 }),
                 m_keyframes);
        // Each access unit's NAL units: an IDR in each keyframe's, SPS and PPS with them.
        const TimelineModel *nals = view.nalUnits();
        auto sentAu = [](const QStringList &c) { return c[1].startsWith("sent"); };
        QCOMPARE(countRows(nals, sentAu), m_frames);
        QCOMPARE(countRows(nals, [&](const QStringList &c) { return sentAu(c) && c[3].contains(QRegularExpression("(^|·  )IDR ")); }),
                 m_keyframes);
        QVERIFY(countRows(nals, [&](const QStringList &c) { return c[3].contains("SPS ") && c[3].contains("PPS "); }) > 0);
        // The custom I/O: the demuxer's reads, its probe phase marked apart.
        const TimelineModel *calls = view.ioCalls();
        QVERIFY(countRows(calls, [](const QStringList &c) { return c[2] == "read_packet" && c[6] == "av_read_frame"; }) > 0);
        QVERIFY(countRows(calls, [](const QStringList &c) { return c[2] == "read_packet" && c[7] == "[probe]"; }) > 0);
        QVERIFY(countRows(calls, [](const QStringList &c) { return c[2] == "write_packet"; }) > 0);

        // The rendered view: a keyframe message's hex cell wears every header field's colour.
        int row = -1;
        for (int i = 0; i < messages->rowCount() && row < 0; ++i) {
            if (messages->row(i).cells[4].contains("KEYFRAME"))
                row = i;
        }
        QVERIFY(row >= 0);
        QTableView *table = view.messageTable();
        table->scrollTo(messages->index(row, kMessageHexColumn));
        table->horizontalHeader()->resizeSection(kMessageHexColumn, 1400);
        QCoreApplication::processEvents();
        const QRect cell = table->visualRect(messages->index(row, kMessageHexColumn));
        QVERIFY(!cell.isEmpty());
        const QImage image = table->viewport()->grab(cell).toImage();
        for (const HeaderField &f : headerFields()) {
            int pixels = 0;
            for (int y = 0; y < image.height(); ++y)
                for (int x = 0; x < image.width(); ++x)
                    pixels += image.pixelColor(x, y).rgb() == f.colour.rgb();
            QVERIFY2(pixels > 0, f.name);
        }
        // A click shows the message whole: every header field decoded.
        view.showMessage(row);
        const QString detail = view.detailText();
        for (const HeaderField &f : headerFields())
            QVERIFY2(detail.contains(QLatin1String(f.name)), qPrintable(detail));
        // For a person to look at: the view with a message shown whole.
        QCoreApplication::processEvents(); // the detail pane's layout
        QDir().mkpath(H264LINK_BINARY_DIR "/tests/screenshots/inside");
        view.grab().save(H264LINK_BINARY_DIR "/tests/screenshots/inside/view_detail.png");
        QVERIFY2(detail.contains("0x48324c4b \"H2LK\"") && detail.contains("KEYFRAME")
                     && detail.contains(QString::number(messages->row(row).message.seq)),
                 qPrintable(detail));
        // Whole: the message kept is, byte for byte, one the sender wrote on
        // the wire, as long as its header says, and the pane ends with its last bytes.
        const trace::WireMessage &shown = messages->row(row).message;
        QCOMPARE(shown.whole.size(), qsizetype(proto::kHeaderSize) + qsizetype(shown.length));
        QVERIFY(m_wire.data().contains(shown.whole));
        QCOMPARE(shown.whole.left(shown.head.size()), shown.head);
        QVERIFY2(detail.contains(QStringLiteral("The whole message")), qPrintable(detail.right(400)));
        const qsizetype tail = (shown.whole.size() - (proto::kHeaderSize + 40)) % 16; // its last line, 16 bytes a line
        const QByteArray last = shown.whole.right(tail ? tail : 16);
        QVERIFY2(detail.contains(hexBytes(last)), qPrintable(hexBytes(last)));
    }

    void pauseFreezesAndCounts()
    {
        InsideView view(nullptr);
        view.show();
        trace::Tracer::instance().takeEvents();
        stream();
        if (!feedRecorded())
            QFAIL("the stages recorded no trace event: their instrumentation is broken");
        view.refresh();
        const int before = view.messages()->rowCount();
        QVERIFY(before > 0);
        view.setPaused(true);
        const QImage frozen = view.messageTable()->grab().toImage();
        stream();
        const std::vector<trace::Event> pending = [] {
            // What the next refresh will find, counted by hand, put back as it was.
            auto events = trace::Tracer::instance().takeEvents();
            for (const auto &e : events)
                std::visit([](const auto &v) { trace::Tracer::instance().record(v); }, e);
            return events;
        }();
        QVERIFY(!pending.empty());
        view.refresh();
        QCOMPARE(view.arrivedWhilePaused(), quint64(pending.size()));
        QCOMPARE(view.messages()->rowCount(), before);
        QCOMPARE(view.messageTable()->grab().toImage(), frozen); // the timeline did not move
        view.setPaused(false);
        stream();
        view.refresh();
        QVERIFY(view.messages()->rowCount() > before);
    }

private:
    // The stages record through common/io_trace.h only once they are
    // instrumented; without that there is nothing real to show.
    static bool feedRecorded()
    {
        auto events = trace::Tracer::instance().takeEvents();
        for (const auto &e : events) // put back, as they were, for the view
            std::visit([](const auto &v) { trace::Tracer::instance().record(v); }, e);
        return !events.empty();
    }

    // Sender's stages into a buffer, then the receiver's framing and a demuxer
    // over it.
    void stream()
    {
        QBuffer &wire = m_wire;
        wire.close();
        wire.setData(QByteArray());
        wire.open(QIODevice::ReadWrite);
        {
            FramedMediaDevice framing(&wire);
            framing.open(QIODevice::WriteOnly);
            const QString error = testsupport::remuxToAnnexB(m_clip, &framing);
            if (!error.isEmpty())
                qFatal("remux: %s", qPrintable(error));
        }
        QBuffer in;
        in.setData(wire.data());
        in.open(QIODevice::ReadOnly);
        FramedMediaDevice reading(&in);
        reading.open(QIODevice::ReadOnly);
        QString error;
        const int packets = testsupport::countVideoPackets(&reading, &error, "h264");
        if (packets != m_frames)
            qFatal("read back %d packets of %d: %s", packets, m_frames, qPrintable(error));
    }

    QBuffer m_wire; // what the sender's stages wrote, the last stream()
    QTemporaryDir m_dir;
    QString m_clip;
    int m_keyframes = 0;
    int m_frames = 0;
};

QTEST_MAIN(TstInsideView)
#include "tst_inside_view.moc"
