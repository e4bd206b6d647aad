// StreamRecorder (--record FILE.mkv|FILE.mp4): what arrives, video and
// sound, muxed by FFmpeg without re-encoding, with the sender's timestamps
// (as scrcpy's --record does).
//
//   Demuxer ──► (video packets) ──┐
//                                 ├─► StreamRecorder ─► matroska / mp4 muxer ─► FILE
//   AudioDemuxer ► (audio packets)┘
//
// The H.264 stream carries its SPS/PPS in band; the file wants them as
// extradata, so the header waits for the first packet the
// `extract_extradata` bitstream filter finds them in (a keyframe): video
// before it cannot be decoded from the file and is counted, not written;
// sound before it waits (at most kMaxEarlyAudio packets). ADTS becomes
// AudioSpecificConfig through the muxer's own automatic aac_adtstoasc.
//
// The wire has no video dts (the decoder orders by the bitstream), but the
// muxers need one that rises and never passes the pts. With B-frames the
// pts come out of order, so video waits in a reorder window
// (kReorderWindow packets; full: the oldest is written, nothing is dropped)
// and the n-th packet gets as dts the n-th smallest pts, moved back by the
// reorder depth the first window shows (as a decoder's delay would).
//
// Threads: both pipeline threads push; one mutex (a muxer call per packet).
#pragma once

#include "ffmpeg_raii.h"
#include "sinks.h"

#include <QMutex>
#include <QString>
#include <array>
#include <deque>
#include <optional>
#include <set>

namespace h264link {

class StreamRecorder {
public:
    static constexpr std::size_t kMaxEarlyAudio = 512;
    static constexpr std::size_t kReorderWindow = 16;

    explicit StreamRecorder(QString path) : m_path(std::move(path)) {}
    ~StreamRecorder();

    // From STREAM_INFO: which streams the file gets. Before this nothing is written.
    void configure(bool video, int width, int height, quint32 audioCodec, int sampleRate, int channels);
    // STREAM_INFO's display matrix: the file says to turn the pictures as the
    // source did (mp4 writes it; Matroska in FFmpeg 5.1 does not).
    void setDisplayMatrix(const std::array<qint32, 9> &matrix);
    void pushVideo(const AVPacket *packet); // pts in 1/1000000
    void pushAudio(const AVPacket *packet);
    bool close(); // writes the trailer; false with error() set
    QString error() const;
    quint64 videoPacketsSkipped() const; // before the first parameter sets
    // Sound that never reached the file: it came before STREAM_INFO, or
    // waited for a first keyframe longer than kMaxEarlyAudio packets (the
    // oldest go), or the stream ended before one came.
    quint64 audioPacketsSkipped() const;

    // Adapters for the pipelines: record, then pass on to the next sink.
    class Tee : public PacketSink {
    public:
        Tee(StreamRecorder *recorder, bool video, PacketSink &next) : m_recorder(recorder), m_video(video), m_next(next) {}
        bool push(AVPacket *packet) override
        {
            if (m_recorder)
                m_video ? m_recorder->pushVideo(packet) : m_recorder->pushAudio(packet);
            return m_next.push(packet);
        }
        void flush() override { m_next.flush(); }
    private:
        StreamRecorder *m_recorder;
        bool m_video;
        PacketSink &m_next;
    };

private:
    bool startLocked(const AVPacket *firstVideo);
    void writeVideoLocked(); // the oldest of the reorder window
    void writeLocked(const AVPacket *packet, int streamIndex);
    void failLocked(const QString &what, int ret);

    mutable QMutex m_mutex;
    const QString m_path;
    bool m_configured = false, m_video = false, m_started = false, m_closed = false;
    quint32 m_audioCodec = 0;
    int m_sampleRate = 0, m_channels = 0;
    int m_width = 0, m_height = 0;
    std::optional<std::array<qint32, 9>> m_displayMatrix;
    OutputFormatPtr m_format;
    int m_videoIndex = -1, m_audioIndex = -1;
    std::deque<PacketPtr> m_earlyAudio;
    std::deque<PacketPtr> m_reorder;       // decode order
    std::multiset<qint64> m_reorderPts;    // their pts, sorted: the next dts is the smallest
    std::optional<qint64> m_dtsShift;      // reorder depth in us, from the first window
    qint64 m_lastVideoDts = AV_NOPTS_VALUE;
    qint64 m_lastVideoGap = 0;
    quint64 m_skipped = 0;
    quint64 m_audioSkipped = 0;
    QString m_error;
};

} // namespace h264link
