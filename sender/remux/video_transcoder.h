// VideoTranscoder: the sender's video stage for every source that is not
// H.264 (HEVC, VP9, AV1, MPEG-2, MPEG-4 Part 2, MJPEG, ProRes, raw video from
// a screen or camera ...), and for H.264 with --transcode.
//
//   packets --> libavcodec decoder (slice threads: no frame delay)
//     --> libswscale (to yuv420p, down to --max-size) --> libx264 (through libavcodec)
//     --> AnnexBMuxer ("h264") --> FramedMediaDevice
//
// Tuned for live: tune zerolatency (no lookahead, no B-frames: one frame in,
// one access unit out), a keyframe every 2 s, SPS/PPS in band on every
// keyframe (no global header), so a receiver can join at any keyframe.
// Every frame keeps its source pts (best_effort_timestamp), on the sender's
// timeline. Frames the demuxer marked to discard (an edit list's lead-in)
// are decoded, for their references, and never encoded.
//
// Real time (VideoSettings::live): a decoded frame already later than
// kLateUs behind its due time on the stage's own clock is not encoded but
// counted (lateFramesSkipped()), and if the encoder is slower than real
// time over a measuring window, it is re-opened with the next faster x264
// preset at the next frame (a new keyframe with new SPS/PPS).
// One per connection, on the sender's worker thread.
#pragma once

#include "ffmpeg_raii.h"
#include "framed_media_device.h"
#include "remux/annexb_muxer.h"
#include "source/pacer.h"

#include <QElapsedTimer>
#include <QString>
#include <functional>
#include <memory>
#include <utility>

namespace h264link {

// What the sender asks of its video (see VideoStage).
struct VideoSettings {
    bool forceTranscode = false; // H.264 too (--transcode)
    int bitRate = 0;             // bits per second; 0: from the resolution (VideoTranscoder::defaultBitRate)
    int maxSize = 0;             // the longer side at most this (--max-size); 0: the source's size
    AVRational frameRate{0, 0};  // live sources: --fps; 0/0: the stream's own
    bool live = true;            // real time (not --fast): skip late frames, faster preset when slow
    QString preset;              // x264 preset; empty: VideoTranscoder::kDefaultPreset
};

class VideoTranscoder {
public:
    using Result = AnnexBMuxer::Result;
    // Per access unit the encoder made: true to send it, false to skip it.
    using Admit = std::function<bool(bool keyframe)>;

    static constexpr const char *kDefaultPreset = "veryfast";
    static constexpr int kKeyframeIntervalS = 2;
    static constexpr qint64 kLateUs = 100'000;   // later than this behind the clock: not encoded
    // This far behind (or ahead): a stall or a jump, and the clock starts
    // over, as the Pacer's does (the same bound: were it longer, a Pacer
    // that started over would leave every frame late here).
    static constexpr qint64 kResyncUs = Pacer::kMaxLagUs;
    static constexpr qint64 kMeasureUs = 2'000'000; // of media, per speed measurement
    // Packets without a single picture after which a stream is not decodable
    // (a decoder's delay is a few frames; AV1's and HEVC's at most 16).
    static constexpr quint64 kMaxPacketsWithoutPicture = 50;

    // The bit rate for a picture and frame rate: 2.5 Mb/s at 1280x720 30 fps,
    // scaled by (pixels per second)^0.75, as smaller pictures need more bits
    // per pixel; between 200 kb/s and 20 Mb/s.
    static int defaultBitRate(int width, int height, AVRational frameRate);
    // The size sent: the longer side at most `maxSize` (0: any), the aspect
    // ratio kept, both sides even (4:2:0).
    static void scaledSize(int width, int height, int maxSize, int *outWidth, int *outHeight);
    // "2.5M", "800k", "1500000" (bits per second). False with *error on anything else.
    static bool parseBitRate(const QString &text, int *bitsPerSecond, QString *error);

    // Opens the decoder and the encoder. `out` nullptr: only checks that the
    // stream can be transcoded (and describes it). Returns nullptr and a
    // one-line *error saying what cannot be done.
    static std::unique_ptr<VideoTranscoder> create(const AVCodecParameters *par, AVRational timeBase,
                                                   const VideoSettings &settings, FramedMediaDevice *out,
                                                   QString *error);

    int width() const { return m_width; }
    int height() const { return m_height; }
    int bitRate() const { return m_bitRate; }
    QString preset() const { return m_preset; }
    // "H.264 1280x720 2.5 Mb/s" (the size only if it differs from the source's).
    QString outputDescription() const;
    quint64 undecodablePackets() const { return m_undecodable; }
    quint64 lateFramesSkipped() const { return m_late; }
    // Media time per second of work, over the last window; 0 until known.
    double speed() const { return m_speed; }
    // A line to say once, or empty: the speed when first known, a switch to a faster preset.
    QString takeNotice() { return std::exchange(m_notice, QString()); }
    // Slower than real time once (live): it switched to a faster preset.
    bool tooSlow() const { return m_saidSlow; }

    // `packet`: timestamps in the source time base, on the sender's timeline;
    // consumed (unreferenced). A packet the decoder rejects is counted, left out.
    Result write(AVPacket *packet, const Admit &admit, QString *error);
    // Drains the decoder and the encoder into the output.
    Result finish(const Admit &admit, QString *error);

private:
    VideoTranscoder() = default;
    bool openEncoder(int sourceWidth, int sourceHeight, AVRational sampleAspect, QString *error);
    Result decodeAvailable(const Admit &admit, QString *error);
    Result checkDecoding(quint64 maxPackets, QString *error) const;
    Result handleFrame(AVFrame *frame, const Admit &admit, QString *error);
    bool isLate(int64_t pts);
    AVFrame *convert(AVFrame *frame, QString *error);
    Result encode(const AVFrame *frame, const Admit &admit, QString *error);
    void measure(int64_t pts);

    VideoSettings m_settings;
    AVRational m_timeBase{1, 1};
    AVRational m_frameRate{25, 1};
    QString m_sourceCodec;
    int m_sourceWidth = 0, m_sourceHeight = 0; // what the encoder was opened for
    int m_width = 0, m_height = 0;             // what it encodes
    int m_bitRate = 0;
    QString m_preset;
    CodecContextPtr m_dec;
    CodecContextPtr m_enc;
    SwsPtr m_sws;
    int m_swsFormat = -1, m_swsWidth = 0, m_swsHeight = 0, m_swsRange = -1;
    std::unique_ptr<AnnexBMuxer> m_muxer; // outlives every encoder: one raw stream
    FramedMediaDevice *m_out = nullptr;
    FramePtr m_decoded = makeFrame();
    FramePtr m_scaled = makeFrame();
    PacketPtr m_encoded = makePacket();
    int64_t m_lastPts = AV_NOPTS_VALUE; // of the last frame encoded, encoder time base
    int64_t m_framePts = 0;             // in the time base: one frame, for sources without pts
    quint64 m_undecodable = 0;
    quint64 m_late = 0;
    quint64 m_packetsIn = 0;     // not counting decode-only ones
    quint64 m_framesDecoded = 0;

    // The clock for lateness, and the speed measurement.
    QElapsedTimer m_clock;
    int64_t m_clockOriginPts = AV_NOPTS_VALUE;
    qint64 m_busyNs = 0;            // spent decoding, converting, encoding: this window
    int64_t m_windowStartPts = AV_NOPTS_VALUE;
    double m_speed = 0;
    bool m_saidSpeed = false;
    bool m_saidSlow = false;
    bool m_reopen = false; // a faster preset from the next frame
    QString m_notice;
};

} // namespace h264link
