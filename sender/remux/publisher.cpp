#include "remux/publisher.h"

#include "logging.h"
#include "remux/audio_muxer.h"
#include "source/media_source.h"

#include <QMutexLocker>
#include <QScopeGuard>
#include <QUrl>
#include <QUrlQuery>
#include <cerrno>

namespace h264link {
namespace {

bool isRtmp(const QString &scheme)
{
    return scheme.startsWith(QLatin1String("rtmp")); // rtmp, rtmps, rtmpt, rtmpe, rtmpte, rtmpts
}

// The protocols this FFmpeg can write to (avio_enum_protocols).
QStringList outputProtocols()
{
    QStringList names;
    void *opaque = nullptr;
    while (const char *name = avio_enum_protocols(&opaque, 1))
        names << QString::fromLatin1(name);
    return names;
}

QString megabytes(quint64 bytes)
{
    if (bytes >= 10'000'000)
        return QStringLiteral("%1 MB").arg(double(bytes) / 1e6, 0, 'f', 1);
    return QStringLiteral("%1 kB").arg(double(bytes) / 1e3, 0, 'f', 1);
}

} // namespace

QString Publisher::displayUrl(const QString &url)
{
    const QUrl parsed(url);
    return parsed.isValid() && !parsed.scheme().isEmpty() ? parsed.toString(QUrl::RemoveQuery | QUrl::RemoveUserInfo)
                                                          : url;
}

QString Publisher::containerFor(const QString &url, QString *error)
{
    const QUrl parsed(url);
    const QString scheme = parsed.scheme().toLower();
    const QString shown = displayUrl(url);
    if (url.isEmpty() || scheme.size() < 2) { // a path (or C:\...): a file, by its extension
        const AVOutputFormat *format = av_guess_format(nullptr, url.toUtf8().constData(), nullptr);
        if (!format || (format->flags & AVFMT_NOFILE)) {
            *error = QStringLiteral("--publish '%1': not a URL, and no container is known for that file name: "
                                    "give rtmp://SERVER/APP/NAME or srt://SERVER:PORT").arg(shown);
            return {};
        }
        return QString::fromLatin1(format->name);
    }
    const QStringList protocols = outputProtocols();
    if (!protocols.contains(scheme)) {
        QStringList network;
        for (const char *p : {"rtmp", "rtmps", "srt", "udp", "tcp"})
            if (protocols.contains(QLatin1String(p)))
                network << QLatin1String(p);
        *error = QStringLiteral("--publish '%1': this FFmpeg cannot send to '%2' URLs (it can to %3)")
                     .arg(shown, scheme, network.join(QStringLiteral(", ")));
        return {};
    }
    if (parsed.host().isEmpty() && scheme != QLatin1String("file")) {
        *error = QStringLiteral("--publish '%1': no server in the URL: give %2://SERVER...").arg(shown, scheme);
        return {};
    }
    if (isRtmp(scheme))
        return QStringLiteral("flv"); // RTMP carries FLV tags
    if (scheme == QLatin1String("srt") || scheme == QLatin1String("udp") || scheme == QLatin1String("tcp")
        || scheme == QLatin1String("rist"))
        return QStringLiteral("mpegts"); // what SRT and UDP servers (SRS, MediaMTX) expect
    const AVOutputFormat *format = av_guess_format(nullptr, parsed.path().toUtf8().constData(), nullptr);
    if (!format || (format->flags & AVFMT_NOFILE)) {
        *error = QStringLiteral("--publish '%1': which container to send over '%2' is not known: use rtmp:// "
                                "(nginx-rtmp, SRS, MediaMTX) or srt://").arg(shown, scheme);
        return {};
    }
    return QString::fromLatin1(format->name);
}

Publisher::Publisher(const QString &url, const Input &input, Overflow overflow, bool alone)
    : m_url(url), m_shownUrl(displayUrl(url)), m_input(input), m_overflow(overflow), m_alone(alone)
{
    QString error;
    m_container = containerFor(url, &error);
    const auto copy = [](const AVCodecParameters *par) {
        CodecParametersPtr out(par ? avcodec_parameters_alloc() : nullptr);
        if (out && avcodec_parameters_copy(out.get(), par) < 0)
            out.reset();
        return out;
    };
    m_video = copy(input.video);
    m_audio = copy(input.audio);
    if (error.isEmpty() && ((input.video && !m_video) || (input.audio && !m_audio)))
        error = QStringLiteral("out of memory copying the stream's parameters");
    m_input.video = m_video.get();
    m_input.audio = m_audio.get();
    m_clock.start();
    m_thread.reset(QThread::create([this, error] {
        if (!error.isEmpty())
            fail(error);
        else
            run();
    }));
    m_thread->setObjectName(QStringLiteral("publisher"));
    m_thread->start();
}

Publisher::~Publisher()
{
    m_abort.store(true);
    {
        QMutexLocker lock(&m_mutex);
        m_changed.wakeAll();
    }
    m_thread->wait();
}

int Publisher::interruptCallback(void *opaque)
{
    auto *self = static_cast<Publisher *>(opaque);
    if (self->m_abort.load())
        return 1;
    const qint64 since = self->m_blockedSinceMs.load();
    return since >= 0 && self->m_clock.elapsed() - since > kStallMs ? 1 : 0;
}

void Publisher::push(const AVPacket *packet, bool video)
{
    if (m_failed.load() || (video ? !m_input.video : !m_input.audio))
        return;
    const bool keyframe = (packet->flags & AV_PKT_FLAG_KEY) && (video || !m_input.video);
    const int64_t ts = packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts;
    Item item;
    item.video = video;
    item.dtsUs = ts == AV_NOPTS_VALUE ? 0
        : av_rescale_q(ts, video ? m_input.videoTimeBase : m_input.audioTimeBase, AV_TIME_BASE_Q);
    item.packet = makePacket();
    QMutexLocker lock(&m_mutex);
    const auto countSkipped = [this](bool isVideo) { ++(isVideo ? m_counts.skippedFrames : m_counts.skippedAudio); };
    if (m_finishing || m_failed.load())
        return;
    if (m_waitForKeyframe && !keyframe) {
        countSkipped(video);
        return;
    }
    m_waitForKeyframe = false;
    if (!item.packet || av_packet_ref(item.packet.get(), packet) < 0) {
        countSkipped(video); // out of memory: counted as skipped, the stream goes on
        return;
    }
    const auto overBound = [this] {
        return !m_queue.empty()
            && (m_queue.back().dtsUs - m_queue.front().dtsUs > kMaxQueuedUs || m_queuedBytes > kMaxQueuedBytes);
    };
    // BLOCK (--fast): wait for room; a failure or a stall ends the wait.
    while (m_overflow == Overflow::Block && overBound() && !m_failed.load() && !m_abort.load())
        m_changed.wait(&m_mutex, 100);
    if (m_failed.load())
        return;
    m_queuedBytes += item.packet->size;
    m_queue.push_back(std::move(item));
    if (m_overflow == Overflow::SkipToKeyframe && overBound()) {
        for (const Item &dropped : m_queue)
            countSkipped(dropped.video);
        m_queue.clear();
        m_queuedBytes = 0;
        m_waitForKeyframe = true;
        if (!std::exchange(m_saidSkipping, true))
            say(QStringLiteral("the server takes the stream slower than real time: skipping to the next keyframe "
                               "to stay live (counted)"));
    }
    m_changed.wakeAll();
}

void Publisher::finish(int waitMs)
{
    {
        QMutexLocker lock(&m_mutex);
        m_finishing = true;
        m_changed.wakeAll();
    }
    if (m_thread->wait(waitMs))
        return;
    fail(m_startedMs.load() >= 0
             ? QStringLiteral("the server did not take the end of the stream within %1 s").arg(waitMs / 1000)
             : QStringLiteral("no answer from %1 by the end of the stream: is it a media server, is it reachable, "
                              "and does a firewall let the port through?").arg(where()));
    m_abort.store(true); // interrupts the call that blocks
    m_thread->wait();
}

void Publisher::run()
{
    QString error;
    if (!open(&error)) {
        fail(error);
        return;
    }
    for (;;) {
        Item item;
        {
            QMutexLocker lock(&m_mutex);
            while (m_queue.empty() && !m_finishing && !m_abort.load())
                m_changed.wait(&m_mutex);
            if (m_abort.load() || m_queue.empty())
                break;
            item = std::move(m_queue.front());
            m_queue.pop_front();
            m_queuedBytes -= item.packet->size;
            m_changed.wakeAll(); // a blocked push()
        }
        if (!write(item, &error)) {
            fail(error);
            return;
        }
    }
    if (m_abort.load())
        return;
    m_blockedSinceMs.store(m_clock.elapsed());
    int ret = av_write_trailer(m_format.get());
    if (ret >= 0 && m_io) {
        AVIOContext *io = m_io.release();
        ret = avio_closep(&io); // flushes: the last bytes reach the server now
    }
    m_blockedSinceMs.store(-1);
    if (ret < 0)
        fail(explain(ret, "ending the stream"));
}

bool Publisher::open(QString *error)
{
    const QByteArray url = m_url.toUtf8();
    const AVOutputFormat *format = av_guess_format(m_container.toLatin1().constData(), nullptr, nullptr);
    AVFormatContext *raw = nullptr;
    int ret = avformat_alloc_output_context2(&raw, format, nullptr, url.constData());
    m_format.reset(raw);
    if (ret < 0) {
        *error = explain(ret, "setting up the muxer");
        return false;
    }
    m_format->interrupt_callback = {&Publisher::interruptCallback, this};
    // Each packet goes out as it is written: live, and a server that refuses
    // or goes away shows at once, not when a buffer fills.
    m_format->flags |= AVFMT_FLAG_FLUSH_PACKETS;
    const auto addStream = [&](const AVCodecParameters *par, AVRational timeBase, int *index) {
        if (!par)
            return true;
        AVStream *st = avformat_new_stream(m_format.get(), nullptr);
        if (!st || (ret = avcodec_parameters_copy(st->codecpar, par)) < 0)
            return false;
        st->codecpar->codec_tag = 0; // the container's own tag, not the source's
        st->time_base = timeBase;
        *index = st->index;
        return true;
    };
    if (!addStream(m_input.video, m_input.videoTimeBase, &m_videoIndex)
        || !addStream(m_input.audio, m_input.audioTimeBase, &m_audioIndex)) {
        *error = explain(ret < 0 ? ret : AVERROR(ENOMEM), "setting up the muxer");
        return false;
    }
    if (!(m_format->oformat->flags & AVFMT_NOFILE)) {
        AVIOContext *io = nullptr;
        AVDictionary *options = nullptr;
        const auto freeOptions = qScopeGuard([&] { av_dict_free(&options); });
        // SRT in live mode drops what is not yet acknowledged when it closes:
        // the end of the stream would be lost. Linger a little, unless the URL says.
        if (QUrl(m_url).scheme().toLower() == QLatin1String("srt") && !QUrlQuery(QUrl(m_url)).hasQueryItem("linger"))
            if ((ret = av_dict_set(&options, "linger", "3", 0)) < 0) {
                *error = explain(ret, "setting up SRT");
                return false;
            }
        m_blockedSinceMs.store(m_clock.elapsed());
        ret = avio_open2(&io, url.constData(), AVIO_FLAG_WRITE, &m_format->interrupt_callback, &options);
        m_blockedSinceMs.store(-1);
        m_io.reset(io);
        if (ret < 0) {
            *error = explain(ret, "connecting");
            return false;
        }
        m_format->pb = m_io.get();
    }
    m_blockedSinceMs.store(m_clock.elapsed());
    ret = avformat_write_header(m_format.get(), nullptr);
    m_blockedSinceMs.store(-1);
    if (ret < 0) {
        *error = explain(ret, "starting the stream");
        return false;
    }
    m_startedMs.store(m_clock.elapsed());
    return true;
}

bool Publisher::write(Item &item, QString *error)
{
    AVPacket *packet = item.packet.get();
    const int index = item.video ? m_videoIndex : m_audioIndex;
    AVStream *st = m_format->streams[index];
    av_packet_rescale_ts(packet, item.video ? m_input.videoTimeBase : m_input.audioTimeBase, st->time_base);
    packet->stream_index = index;
    packet->pos = -1;
    // Strictly rising per stream: at a --loop seam the next pass's first
    // audio (an AAC encoder's priming, before 0) overlaps the last pass's
    // end by a frame, and the muxer refuses a dts that falls.
    qint64 &last = m_lastDts[item.video ? 0 : 1];
    if (packet->dts != AV_NOPTS_VALUE) {
        if (last != AV_NOPTS_VALUE && packet->dts <= last)
            packet->dts = last + 1;
        if (packet->pts != AV_NOPTS_VALUE && packet->pts < packet->dts)
            packet->pts = packet->dts;
        last = packet->dts;
    }
    const int size = packet->size;
    m_blockedSinceMs.store(m_clock.elapsed());
    const int ret = av_interleaved_write_frame(m_format.get(), packet); // takes the packet
    m_blockedSinceMs.store(-1);
    if (ret < 0) {
        *error = explain(ret, "sending");
        return false;
    }
    QMutexLocker lock(&m_mutex);
    ++(item.video ? m_counts.frames : m_counts.audioPackets);
    m_counts.bytes += quint64(size);
    return true;
}

QString Publisher::where() const
{
    const QUrl url(m_url);
    const int port = url.port(isRtmp(url.scheme().toLower()) ? 1935 : -1);
    return port > 0 ? QStringLiteral("%1:%2").arg(url.host()).arg(port) : url.host();
}

// What went wrong, as a sentence a person can act on.
QString Publisher::explain(int ret, const char *during) const
{
    const QUrl url(m_url);
    const QString scheme = url.scheme().toLower();
    const int port = url.port(isRtmp(scheme) ? 1935 : -1);
    const QString where = this->where();
    const QString detail = averrorDetail(ret);
    const qint64 startedMs = m_startedMs.load();
    const bool started = startedMs >= 0;
    if (ret == AVERROR_EXIT && !m_abort.load()) // our interrupt callback: blocked for kStallMs
        return started ? QStringLiteral("the server took nothing for %1 s: publishing stopped").arg(kStallMs / 1000)
                       : QStringLiteral("no answer from %1 within %2 s: is the server reachable, and does a firewall "
                                        "let port %3 through?").arg(where).arg(kStallMs / 1000).arg(port);
    if (ret == AVERROR(ECONNREFUSED))
        return QStringLiteral("connection to %1 refused: is the media server running and listening on port %2?")
            .arg(where).arg(port);
    if (ret == AVERROR(ETIMEDOUT))
        return QStringLiteral("no answer from %1: is the server reachable, and does a firewall let port %2 through?")
            .arg(where).arg(port);
    if (ret == AVERROR(EHOSTUNREACH) || ret == AVERROR(ENETUNREACH))
        return QStringLiteral("%1 cannot be reached from this machine (no route): %2").arg(url.host(), detail);
    const bool closed = ret == AVERROR(EPIPE) || ret == AVERROR(ECONNRESET) || ret == AVERROR_EOF
        || ret == AVERROR(EIO);
    if (closed && started) {
        const qint64 afterMs = m_clock.elapsed() - startedMs;
        if (afterMs < kRefusedWithinMs)
            return isRtmp(scheme)
                ? QStringLiteral("the server closed the connection as soon as the stream began: it refused the "
                                 "stream (nginx-rtmp: is there an application '%1' that allows publishing from "
                                 "this machine? SRS, MediaMTX: is the stream name or key right?)")
                      .arg(url.path().section(QLatin1Char('/'), 1, 1))
                : QStringLiteral("the server closed the connection as soon as the stream began: it refused the "
                                 "stream (is the stream name or key right?)");
        return QStringLiteral("the server closed the connection after %1 s of streaming (%2)")
            .arg(double(afterMs) / 1000.0, 0, 'f', 1).arg(detail);
    }
    if (!started && qstrcmp(during, "starting the stream") == 0)
        return QStringLiteral("the %1 muxer does not take this stream: %2").arg(m_container, detail);
    return QStringLiteral("%1 failed: %2").arg(QString::fromLatin1(during), detail);
}

void Publisher::fail(const QString &sentence)
{
    QMutexLocker lock(&m_mutex);
    if (m_failed.load())
        return;
    m_failure = sentence;
    say(m_alone ? sentence : sentence + QStringLiteral("; the local stream goes on"));
    m_failed.store(true);
    m_queue.clear();
    m_queuedBytes = 0;
    m_changed.wakeAll();
}

void Publisher::say(const QString &line)
{
    m_notices << QStringLiteral("publish %1: %2").arg(m_shownUrl, line);
}

QString Publisher::takeNotice()
{
    QMutexLocker lock(&m_mutex);
    return m_notices.isEmpty() ? QString() : m_notices.takeFirst();
}

QString Publisher::failure() const
{
    QMutexLocker lock(&m_mutex);
    return m_failure;
}

Publisher::Counts Publisher::counts() const
{
    QMutexLocker lock(&m_mutex);
    return m_counts;
}

QString Publisher::summary() const
{
    if (failed())
        return QStringLiteral("publishing to %1 failed (%2)").arg(m_shownUrl, failure());
    const Counts c = counts();
    QString line = QStringLiteral("published to %1: %2 frames").arg(m_shownUrl).arg(c.frames);
    if (m_input.audio)
        line += QStringLiteral(", %1 audio packets").arg(c.audioPackets);
    line += QStringLiteral(" (%1)").arg(megabytes(c.bytes));
    if (c.skippedFrames || c.skippedAudio)
        line += QStringLiteral(", %1 frames and %2 audio packets skipped to stay live")
                    .arg(c.skippedFrames).arg(c.skippedAudio);
    return line;
}

// ---- PublishSet ----

std::unique_ptr<PublishSet> PublishSet::create(const QStringList &urls, const MediaSource &source,
                                               bool videoTranscoded, bool fast, bool alone, QString *error)
{
    std::unique_ptr<PublishSet> set(new PublishSet);
    set->m_source = &source;
    if (source.hasVideo() && videoTranscoded) {
        *error = QStringLiteral("--publish sends the video as it is, and this %1 video is re-encoded for the "
                                "receivers: publishing a transcoded stream is not supported; convert the file "
                                "to H.264 first (ffmpeg -i FILE -c:v libx264 -c:a copy OUT.mp4)")
                     .arg(QString::fromUtf8(avcodec_get_name(source.stream()->codecpar->codec_id)));
        return nullptr;
    }
    const Publisher::Overflow overflow = fast ? Publisher::Overflow::Block : Publisher::Overflow::SkipToKeyframe;
    for (const QString &url : urls) {
        const QString container = Publisher::containerFor(url, error);
        if (container.isEmpty())
            return nullptr;
        Publisher::Input input;
        if (const AVStream *video = source.stream()) {
            input.video = video->codecpar;
            input.videoTimeBase = video->time_base;
        }
        if (const AVStream *audio = source.audioStream()) {
            const AVCodecParameters *par = audio->codecpar;
            const QString shown = Publisher::displayUrl(url);
            const QString codec = QString::fromUtf8(avcodec_get_name(par->codec_id));
            // FLV's MP3 sample rates are 44.1, 22.05 and 11.025 kHz; its AAC any.
            const bool flvRate = par->sample_rate == 44100 || par->sample_rate == 22050 || par->sample_rate == 11025;
            QString why;
            if (!AudioMuxer::canPassThrough(par->codec_id))
                why = QStringLiteral("the %1 audio is re-encoded for the receivers, and only what passes through "
                                     "is published").arg(codec);
            else if (container == QLatin1String("flv") && par->codec_id == AV_CODEC_ID_MP3 && !flvRate)
                why = QStringLiteral("RTMP (flv) carries MP3 at 44.1, 22.05 or 11.025 kHz only, not %1 Hz")
                          .arg(par->sample_rate);
            if (why.isEmpty()) {
                input.audio = par;
                input.audioTimeBase = audio->time_base;
            } else if (!source.hasVideo()) {
                *error = QStringLiteral("--publish '%1': %2, and the file has nothing else").arg(shown, why);
                return nullptr;
            } else {
                set->m_notices << QStringLiteral("publish %1: %2: publishing the video only").arg(shown, why);
            }
        }
        set->m_publishers.push_back(std::make_unique<Publisher>(url, input, overflow, alone));
    }
    return set;
}

void PublishSet::tap(const AVPacket *packet)
{
    const bool video = !m_source->isAudio(packet);
    for (const auto &publisher : m_publishers)
        publisher->push(packet, video);
}

QStringList PublishSet::takeNotices()
{
    QStringList lines = std::exchange(m_notices, {});
    for (const auto &publisher : m_publishers)
        for (QString line = publisher->takeNotice(); !line.isEmpty(); line = publisher->takeNotice())
            lines << line;
    return lines;
}

bool PublishSet::allFailed() const
{
    for (const auto &publisher : m_publishers)
        if (!publisher->failed())
            return false;
    return true;
}

bool PublishSet::anyFailed() const
{
    for (const auto &publisher : m_publishers)
        if (publisher->failed())
            return true;
    return false;
}

void PublishSet::finish(int waitMs)
{
    for (const auto &publisher : m_publishers)
        publisher->finish(waitMs);
}

QString PublishSet::summary() const
{
    QString line;
    for (const auto &publisher : m_publishers)
        line += QStringLiteral("; ") + publisher->summary();
    return line;
}

} // namespace h264link
