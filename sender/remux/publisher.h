// Publisher: the stream as the sender sends it, pushed also to a media server
// (--publish URL) through FFmpeg's own protocols and muxers, no re-encoding:
//
//   session thread: push() --> bounded packet queue --> publisher thread:
//     muxer (rtmp://... -> flv, srt://... -> mpegts) --> avio_open2'd protocol --> the server
//
// Its own thread, because connecting and writing block (a server far away,
// one that stops reading), and the local receivers must never wait for it.
//
// Queue policy, live (SKIP TO KEYFRAME): the queue holds at most
// kMaxQueuedUs of media (by dts) and kMaxQueuedBytes. Past either, all that is
// queued is dropped, and so is what comes until the next video keyframe
// (its sound too), counted as skipped and said once per publisher.
// With --fast (BLOCK): push() waits instead, as the sender's own --fast does;
// a server that takes nothing for kStallMs fails, which ends the wait.
//
// A failure (refused, unreachable, the server went away, a stall) ends this
// publisher only: one line (takeNotice), and the local stream goes on.
// One per URL, for the whole run (across --loop and reconnects).
#pragma once

#include "ffmpeg_raii.h"

#include <QElapsedTimer>
#include <QMutex>
#include <QString>
#include <QStringList>
#include <QThread>
#include <QWaitCondition>
#include <atomic>
#include <deque>
#include <memory>
#include <vector>

namespace h264link {

class MediaSource;

class Publisher {
public:
    static constexpr qint64 kMaxQueuedUs = 2'000'000;
    static constexpr qint64 kMaxQueuedBytes = 32 << 20;
    static constexpr qint64 kStallMs = 10'000;       // connect, or a write, blocked this long: failed
    static constexpr qint64 kRefusedWithinMs = 1000; // closed this soon after the start: it refused the stream

    enum class Overflow { SkipToKeyframe, Block };

    struct Input {
        const AVCodecParameters *video = nullptr; // H.264, or nullptr
        AVRational videoTimeBase{1, 1};
        const AVCodecParameters *audio = nullptr; // AAC or MP3, or nullptr
        AVRational audioTimeBase{1, 1};
    };
    struct Counts {
        quint64 frames = 0, audioPackets = 0, bytes = 0; // written to the muxer
        quint64 skippedFrames = 0, skippedAudio = 0;     // dropped by the queue policy
    };

    // Without connecting: the container FFmpeg will write for `url` ("flv",
    // "mpegts"), or empty with *error a sentence (no such protocol in this
    // FFmpeg, no container known for it).
    static QString containerFor(const QString &url, QString *error);
    // The URL as messages show it: without its query (an SRT passphrase, a token).
    static QString displayUrl(const QString &url);

    // Starts the thread, which connects at once. `input`'s parameters are copied.
    // `alone`: no local receivers (publish-only), so a failure does not add
    // that the local stream goes on.
    Publisher(const QString &url, const Input &input, Overflow overflow, bool alone = false);
    ~Publisher(); // interrupts whatever blocks, joins
    Publisher(const Publisher &) = delete;
    Publisher &operator=(const Publisher &) = delete;

    // Session thread. `packet` (timestamps in its stream's time base, on the
    // sender's timeline) is referenced, not consumed. Never blocks when live.
    void push(const AVPacket *packet, bool video);
    // The stream ended: what is queued is written (for at most `waitMs`),
    // then the trailer, and the connection is closed.
    void finish(int waitMs);

    // A line to say now ("publish rtmp://...: ..."), or empty.
    QString takeNotice();
    bool failed() const { return m_failed.load(); }
    QString failure() const; // the sentence, if failed()
    Counts counts() const;
    QString url() const { return m_shownUrl; }
    // For the "done" line: "published to URL: 50 frames, 86 audio packets (0.4 MB)" or the failure.
    QString summary() const;

private:
    struct Item {
        PacketPtr packet;
        bool video = false;
        qint64 dtsUs = 0;
    };
    void run();
    bool open(QString *error);
    bool write(Item &item, QString *error);
    QString explain(int ret, const char *during) const;
    QString where() const; // "host:port", for messages
    void fail(const QString &sentence);
    void say(const QString &line); // m_mutex held
    static int interruptCallback(void *opaque);

    QString m_url, m_shownUrl, m_container;
    Input m_input;
    CodecParametersPtr m_video, m_audio;
    Overflow m_overflow;
    bool m_alone = false;
    OutputFormatPtr m_format;
    AvioPtr m_io; // after m_format: closed first
    int m_videoIndex = -1, m_audioIndex = -1;
    qint64 m_lastDts[2] = {AV_NOPTS_VALUE, AV_NOPTS_VALUE}; // per output stream: kept strictly rising

    mutable QMutex m_mutex; // guards all below
    QWaitCondition m_changed;
    std::deque<Item> m_queue;
    qint64 m_queuedBytes = 0;
    bool m_waitForKeyframe = false;
    bool m_saidSkipping = false;
    bool m_finishing = false;
    QStringList m_notices;
    QString m_failure;
    Counts m_counts;

    std::atomic<bool> m_failed{false};
    std::atomic<bool> m_abort{false};
    std::atomic<qint64> m_blockedSinceMs{-1}; // an FFmpeg call in progress since (m_clock), or -1
    QElapsedTimer m_clock;
    std::atomic<qint64> m_startedMs{-1}; // the header went out (read by finish() too)
    std::unique_ptr<QThread> m_thread;
};

// The publishers of one run, and what the session asks of them; the hook in
// StreamSession is this class. Only what the sender passes through is
// published: H.264 video as it is, AAC or MP3 audio as it is.
class PublishSet {
public:
    // nullptr and *error (for the whole command) if a URL cannot be used, or
    // if the video is transcoded (there is no encoder tap: say so). Audio
    // that is transcoded, or that the container cannot carry, is left out
    // with a notice.
    static std::unique_ptr<PublishSet> create(const QStringList &urls, const MediaSource &source,
                                              bool videoTranscoded, bool fast, bool alone, QString *error);
    // A placed packet of the source (its stream tells video from audio).
    void tap(const AVPacket *packet);
    QStringList takeNotices();
    bool allFailed() const;
    bool anyFailed() const;
    void finish(int waitMs);
    QString summary() const; // "; published to ..." for each, for the "done" line

private:
    const MediaSource *m_source = nullptr;
    bool m_withAudio = false;
    QStringList m_notices;
    std::vector<std::unique_ptr<Publisher>> m_publishers;
};

} // namespace h264link
