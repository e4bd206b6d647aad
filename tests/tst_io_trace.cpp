// The tracer on its own: the bounded ring (drop oldest, counted), the
// per-second summaries, the caller scopes, fill probes and the text lines.
#include "avio_bridge.h"
#include "ffmpeg_raii.h"
#include "io_trace.h"
#include "test_support.h"

#include <QBuffer>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

extern "C" {
#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavutil/error.h>
}

using namespace h264link::trace;

namespace {

IoCall readCall(int size, qint64 result, qint64 blockedUs = 0)
{
    IoCall c;
    c.context = Context::ReceiverVideo;
    c.call = Call::ReadPacket;
    c.size = size;
    c.result = result;
    c.blockedUs = blockedUs;
    c.caller = CallerScope::current();
    return c;
}

} // namespace

class TstIoTrace : public QObject {
    Q_OBJECT
private slots:
    void init()
    {
        Tracer &t = Tracer::instance();
        t.setEnabled(true);
        t.takeEvents();
        t.flushSummary();
    }
    void cleanup() { Tracer::instance().setEnabled(false); }

    void ringKeepsNewestAndCountsDropped()
    {
        Tracer &t = Tracer::instance();
        const quint64 droppedBefore = t.dropped();
        const quint32 seed = testsupport::testSeed();
        const int extra = 1 + int(seed % 1000);
        const int total = Tracer::kRingCapacity + extra;
        for (int i = 0; i < total; ++i)
            t.record(readCall(i, i));
        QCOMPARE(t.dropped() - droppedBefore, quint64(extra));
        const std::vector<Event> events = t.takeEvents();
        QCOMPARE(int(events.size()), Tracer::kRingCapacity);
        // Oldest first, and the oldest `extra` are the ones gone.
        for (int i = 0; i < int(events.size()); ++i)
            QCOMPARE(std::get<IoCall>(events[size_t(i)]).size, extra + i);
        QVERIFY(t.takeEvents().empty());
    }

    void mixedEventsKeepTheirOrder()
    {
        Tracer &t = Tracer::instance();
        t.record(readCall(10, 10));
        WireMessage m;
        m.seq = 7;
        t.record(m);
        AccessUnitNals au;
        au.ptsUs = 40000;
        t.record(au);
        const auto events = t.takeEvents();
        QCOMPARE(int(events.size()), 3);
        QVERIFY(std::holds_alternative<IoCall>(events[0]));
        QCOMPARE(std::get<WireMessage>(events[1]).seq, 7u);
        QCOMPARE(std::get<AccessUnitNals>(events[2]).ptsUs, 40000);
        for (const Event &e : events) // every event is stamped on the tracer's clock
            QVERIFY(std::visit([](const auto &v) { return v.timeUs; }, e) >= 0);
        QVERIFY(std::get<IoCall>(events[0]).timeUs > 0);
    }

    void summaryAddsUpPerContext()
    {
        Tracer &t = Tracer::instance();
        QSignalSpy spy(&t, &Tracer::secondSummary);
        const quint32 seed = testsupport::testSeed();
        QRandomGenerator rng(seed);
        qint64 bytes = 0, blocked = 0;
        const int reads = 20 + int(rng.bounded(50));
        for (int i = 0; i < reads; ++i) {
            const int got = 1 + int(rng.bounded(65536));
            const qint64 us = rng.bounded(5000);
            bytes += got;
            blocked += us;
            t.record(readCall(65536, got, us));
        }
        t.record(readCall(65536, AVERROR_EOF)); // a call, but no bytes
        IoCall seek;
        seek.context = Context::SenderInput;
        seek.call = Call::Seek;
        seek.size = AVSEEK_SIZE;
        seek.offset = 0;
        seek.result = 1048576; // a size, not bytes moved
        t.record(seek);
        t.flushSummary();
        QCOMPARE(spy.count(), 1);
        const auto perContext = spy.at(0).at(0).value<QVector<Summary>>();
        QCOMPARE(perContext.size(), 2);
        QCOMPARE(perContext[0].context, Context::SenderInput);
        QCOMPARE(perContext[0].calls, 1u);
        QCOMPARE(perContext[0].bytes, 0);
        QCOMPARE(perContext[1].context, Context::ReceiverVideo);
        QCOMPARE(perContext[1].calls, quint64(reads + 1));
        QCOMPARE(perContext[1].bytes, bytes);
        QCOMPARE(perContext[1].blockedUs, blocked);
        QCOMPARE(perContext[1].meanSize(), double(bytes) / (reads + 1));
        const QString line = Tracer::format(perContext[1]);
        QVERIFY2(line.startsWith("summary receiver video: "), qPrintable(line));
        QVERIFY2(line.contains(QStringLiteral("(%1 bytes)").arg(QLocale().toString(bytes))), qPrintable(line));
        // A second with no calls says nothing.
        t.flushSummary();
        QCOMPARE(spy.count(), 1);
    }

    void summaryTimerRunsWhileEnabled()
    {
        Tracer &t = Tracer::instance();
        QSignalSpy spy(&t, &Tracer::secondSummary);
        t.record(readCall(100, 100));
        QTRY_COMPARE_WITH_TIMEOUT(spy.count(), 1, 5000);
        QCOMPARE(spy.at(0).at(0).value<QVector<Summary>>().at(0).bytes, 100);
    }

    void callerScopesNest()
    {
        QCOMPARE(QByteArray(CallerScope::current()), QByteArray());
        {
            CallerScope open("avformat_open_input");
            QCOMPARE(QByteArray(CallerScope::current()), QByteArray("avformat_open_input"));
            {
                CallerScope inner("avformat_find_stream_info");
                QCOMPARE(QByteArray(CallerScope::current()), QByteArray("avformat_find_stream_info"));
            }
            QCOMPARE(QByteArray(CallerScope::current()), QByteArray("avformat_open_input"));
        }
        QCOMPARE(QByteArray(CallerScope::current()), QByteArray());
    }

    void linesNameWhatFfmpegDid()
    {
        IoCall read = readCall(65536, 1380, 2100);
        read.caller = "av_read_frame";
        QCOMPARE(Tracer::format(read),
                 QStringLiteral("receiver video  read_packet  asked %1  got %2  blocked %3 ms  av_read_frame")
                     .arg(QLocale().toString(65536), QLocale().toString(1380), QLocale().toString(2.1, 'f', 1)));

        IoCall eof = readCall(4096, AVERROR_EOF);
        eof.caller = "avformat_find_stream_info";
        eof.probing = true;
        const QString eofLine = Tracer::format(eof);
        QVERIFY2(eofLine.contains("got AVERROR_EOF"), qPrintable(eofLine));
        QVERIFY2(eofLine.endsWith("avformat_find_stream_info  [probe]"), qPrintable(eofLine));

        IoCall size;
        size.context = Context::SenderInput;
        size.call = Call::Seek;
        size.size = AVSEEK_SIZE;
        size.offset = 0;
        size.result = 1048576;
        size.caller = "avformat_open_input";
        size.probing = true;
        QCOMPARE(Tracer::format(size),
                 QStringLiteral("sender file input  seek  offset 0 AVSEEK_SIZE -> %1  avformat_open_input  [probe]")
                     .arg(QLocale().toString(1048576)));

        IoCall pipe = size;
        pipe.size = SEEK_SET | AVSEEK_FORCE;
        pipe.result = AVERROR(ESPIPE);
        const QString pipeLine = Tracer::format(pipe);
        QVERIFY2(pipeLine.contains("SEEK_SET|AVSEEK_FORCE -> AVERROR(ESPIPE)"), qPrintable(pipeLine));

        IoCall write;
        write.context = Context::SenderVideoOutput;
        write.call = Call::WritePacket;
        write.size = 512;
        write.result = 512;
        write.caller = "av_write_frame";
        QVERIFY(Tracer::format(write).startsWith(
            QStringLiteral("sender video output  write_packet  size %1  wrote %1").arg(QLocale().toString(512))));
    }

    void fillProbesComeAndGo()
    {
        Tracer &t = Tracer::instance();
        const size_t before = t.sampleFills().size();
        std::atomic<qint64> used{3};
        const int id = t.addFillProbe([&used] { return Fill{QStringLiteral("pipe"), used.load(), 10, "bytes"}; });
        auto fills = t.sampleFills();
        QCOMPARE(fills.size(), before + 1);
        QCOMPARE(fills.back().used, 3);
        used = 7;
        QCOMPARE(t.sampleFills().back().used, 7);
        t.removeFillProbe(id);
        QCOMPARE(t.sampleFills().size(), before);
    }

    void wireMessageReadsTheHeader()
    {
        QByteArray bytes(24 + 100, '\x5a');
        const char header[24] = {0x48, 0x32, 0x4C, 0x4B, 3, 0x03, 0, 0x0d, 0, 0, 0, 42,
                                 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 100};
        memcpy(bytes.data(), header, sizeof header);
        const WireMessage m = wireMessage(bytes.constData(), int(bytes.size()), true);
        QCOMPARE(m.type, quint8(0x03));
        QCOMPARE(m.version, quint8(3));
        QCOMPARE(m.flags, quint16(0x0d));
        QCOMPARE(m.seq, 42u);
        QCOMPARE(m.length, 100u);
        QCOMPARE(m.head, bytes.left(24 + 32));
    }

    void accessUnitNalsAtStartCodes()
    {
        // AUD behind a 4-byte start code, SPS, PPS, IDR behind 3-byte ones.
        const QByteArray au = QByteArray::fromHex("00000001" "09f0"
                                                  "000001" "6742c01e"
                                                  "000001" "68ce3c80"
                                                  "000001" "6588840021");
        const AccessUnitNals nals = accessUnitNals(au, 0, true);
        QCOMPARE(int(nals.nals.size()), 4);
        const int types[] = {9, 7, 8, 5}, sizes[] = {2, 4, 4, 5}, codes[] = {4, 3, 3, 3};
        for (int i = 0; i < 4; ++i) {
            QCOMPARE(int(nals.nals[size_t(i)].type), types[i]);
            QCOMPARE(nals.nals[size_t(i)].size, sizes[i]);
            QCOMPARE(nals.nals[size_t(i)].startCodeLength, codes[i]);
        }
    }

    // A real bridge over an mp4 in memory: what libavformat asked, as the
    // bridge itself counts it.
    void bridgeRecordsEveryCallback()
    {
        QTemporaryDir dir;
        const QString clip = dir.filePath("clip.mp4");
        QCOMPARE(testsupport::makeClip(clip), QString());
        QByteArray bytes = testsupport::readFile(clip);
        QBuffer buffer(&bytes);
        QVERIFY(buffer.open(QIODevice::ReadOnly));
        QString error;
        auto bridge = h264link::AvioBridge::create(&buffer, h264link::AvioBridge::Direction::Read, &error);
        QVERIFY2(bridge, qPrintable(error));
        bridge->setTraceContext(Context::SenderInput);
        Tracer &t = Tracer::instance();
        t.flushSummary();
        QSignalSpy spy(&t, &Tracer::secondSummary);

        AVFormatContext *raw = avformat_alloc_context();
        raw->pb = bridge->context();
        int ret = 0;
        {
            CallerScope scope("avformat_open_input");
            ret = avformat_open_input(&raw, nullptr, nullptr, nullptr);
        }
        h264link::InputFormatPtr input(raw);
        QCOMPARE(ret, 0);
        bridge->markSteady();
        h264link::PacketPtr packet = h264link::makePacket();
        int packets = 0;
        for (;;) {
            CallerScope scope("av_read_frame");
            if (av_read_frame(input.get(), packet.get()) < 0)
                break;
            ++packets;
            av_packet_unref(packet.get());
        }
        QCOMPARE(packets, testsupport::ffprobeVideoPacketCount(clip));

        qint64 readBytes = 0;
        bool sizeAsked = false, steadyRead = false;
        for (const Event &e : t.takeEvents()) {
            const auto *c = std::get_if<IoCall>(&e);
            QVERIFY(c);
            QCOMPARE(c->context, Context::SenderInput);
            const QByteArray caller(c->caller);
            QCOMPARE(c->probing, caller == "avformat_open_input");
            if (c->call == Call::ReadPacket && c->result > 0)
                readBytes += c->result;
            if (c->call == Call::Seek && c->size == AVSEEK_SIZE)
                sizeAsked |= c->result == bytes.size() && caller == "avformat_open_input";
            steadyRead |= c->call == Call::ReadPacket && caller == "av_read_frame";
        }
        QVERIFY(sizeAsked); // the mov demuxer asks the size while it opens
        QVERIFY(steadyRead);
        QCOMPARE(readBytes, bridge->bytesTransferred());
        t.flushSummary();
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.at(0).at(0).value<QVector<Summary>>().at(0).bytes, bridge->bytesTransferred());
    }

    void disabledRecordsNothingByConvention()
    {
        Tracer &t = Tracer::instance();
        t.setEnabled(false);
        QVERIFY(!Tracer::enabled());
        // Producers test enabled() first; the tracer itself stays usable.
        if (Tracer::enabled())
            t.record(readCall(1, 1));
        QVERIFY(t.takeEvents().empty());
    }
};

QTEST_GUILESS_MAIN(TstIoTrace)
#include "tst_io_trace.moc"
