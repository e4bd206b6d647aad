// FrameMd5Writer (--framemd5): one line per decoded frame, ending in the MD5
// of the bytes `ffmpeg -f framemd5` hashes, so the two files can be compared
// line by line on their stream and hash columns.
//   stream 0, video: the picture as av_image_copy_to_buffer(align = 1) lays
//     it out in the decoder's own pixel format; pts in the sender's pts_us
//     ("#tb 0: 1/1000000").
//   stream 1, audio: the frame as s16 interleaved, converted by
//     libswresample as ffmpeg's pcm_s16le output is ("#tb 1: 1/RATE").
//
// Order, as ffmpeg's muxer interleaves: by dts, then by stream index. The
// two streams come from two threads, so a line waits until the other stream
// has a later one or has ended. Video-only streams write through at once, as
// before. Bound: kMaxWaiting lines; past it the oldest goes out anyway (a
// stream that stalls must not grow memory), which can only misorder lines.
//
// The header names the streams, so lines wait for configure() (the
// controller calls it on STREAM_INFO, which precedes every frame on the
// wire); a stream that never sends one gets a video-only header at the end.
#pragma once

#include "audio_resampler.h"
#include "sinks.h"

#include <QByteArray>
#include <QFile>
#include <QMutex>
#include <deque>

namespace h264link {

class FrameMd5Writer {
public:
    static constexpr std::size_t kMaxWaiting = 4096;

    bool open(const QString &path, QString *error);
    // Which streams there are: audio at `sampleRate` with `channels` (0: no audio).
    void configure(bool video, int sampleRate, int channels);
    // Sinks for the two pipelines (each pushed from its own thread only).
    FrameSink *videoSink() { return &m_video; }
    FrameSink *audioSink() { return &m_audio; }
    void endStream(int index); // that stream has no more lines; flushes what can go
    // Empty while all is well; else why a line could not be written (disk full ...).
    QString error() const;

private:
    struct Line {
        qint64 dtsUs;
        QByteArray text;
    };
    class VideoSink : public FrameSink {
    public:
        explicit VideoSink(FrameMd5Writer &w) : m_writer(w) {}
        bool push(const AVFrame *frame) override;
    private:
        FrameMd5Writer &m_writer;
        QByteArray m_buffer; // reused: one allocation per picture size, not per frame
    };
    class AudioSink : public FrameSink {
    public:
        explicit AudioSink(FrameMd5Writer &w) : m_writer(w) {}
        bool push(const AVFrame *frame) override;
    private:
        FrameMd5Writer &m_writer;
        AudioResampler m_resampler{AV_SAMPLE_FMT_S16, 0, 0};
        QByteArray m_buffer;
    };

    bool add(int index, qint64 dtsUs, QByteArray text, const QString &error = {});
    void flushLocked(bool force);
    bool writeLocked(const QByteArray &text);
    void writeHeaderLocked();

    mutable QMutex m_mutex;
    QFile m_file;
    VideoSink m_video{*this};
    AudioSink m_audio{*this};
    std::deque<Line> m_waiting[2];
    bool m_present[2] = {true, false};
    bool m_ended[2] = {false, false};
    bool m_configured = false;
    bool m_headerWritten = false;
    int m_sampleRate = 0;
    int m_channels = 0;
    QString m_error;
};

} // namespace h264link
