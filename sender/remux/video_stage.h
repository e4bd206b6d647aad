// VideoStage: what the sender does with the video stream, chosen once per
// stream: H.264 goes through AnnexBMuxer unchanged (frame-exact, one access
// unit per packet), everything else, and H.264 with --transcode or larger
// than --max-size, through VideoTranscoder (to H.264 with libx264). Either
// way each access unit sent is one MEDIA access unit on the FramedMediaDevice.
//
// The caller's admit(keyframe) decides per access unit that is about to be
// sent (LiveRateControl): passing through, per source packet; transcoding,
// per encoded access unit, so that skipping to stay live skips whole GOPs of
// what the receiver decodes, and the decoder here still sees every packet.
// One per connection, on the sender's worker thread.
#pragma once

#include "framed_media_device.h"
#include "protocol.h"
#include "remux/annexb_muxer.h"
#include "remux/video_transcoder.h"

#include <functional>
#include <memory>

namespace h264link {

class VideoStage {
public:
    using Result = AnnexBMuxer::Result;
    using Admit = VideoTranscoder::Admit;

    // "hevc 1920x1080": the source stream, for messages.
    static QString describeSource(const AVCodecParameters *par);

    // `out` nullptr: only checks that the stream can be sent, and describes it.
    // Returns nullptr and a one-line *error (no decoder, no libx264 ...).
    static std::unique_ptr<VideoStage> create(const AVStream *source, const VideoSettings &settings,
                                              FramedMediaDevice *out, QString *error);

    // "hevc 1920x1080 → H.264 1280x720 2.5 Mb/s" or "h264 1920x1080, passed through"
    QString description() const { return m_description; }
    bool transcodes() const { return bool(m_transcoder); }
    int width() const { return m_transcoder ? m_transcoder->width() : m_width; } // of what is sent
    int height() const { return m_transcoder ? m_transcoder->height() : m_height; }
    int bitRate() const { return m_transcoder ? m_transcoder->bitRate() : 0; } // 0: passed through
    // The x264 preset in use (empty when passing through): a faster one after a slow start.
    QString preset() const { return m_transcoder ? m_transcoder->preset() : QString(); }
    // Decoded, not encoded: already late in real time (counted as skipped by the caller).
    quint64 lateFramesSkipped() const { return m_transcoder ? m_transcoder->lateFramesSkipped() : 0; }
    // Packets the decoder rejected (transcoding only): counted, left out.
    quint64 undecodablePackets() const { return m_transcoder ? m_transcoder->undecodablePackets() : 0; }
    // A line to say once, or empty ("video: transcoding at 2.3× real time (libx264 veryfast)").
    QString takeNotice() { return m_transcoder ? m_transcoder->takeNotice() : QString(); }
    // Slower than real time once: a faster preset was chosen.
    bool tooSlow() const { return m_transcoder && m_transcoder->tooSlow(); }

    // `packet`: timestamps in the source stream's time base, on the sender's
    // timeline; consumed (unreferenced), whether sent or not.
    // admit(keyframe) false = skip that access unit (the caller counts it).
    Result write(AVPacket *packet, const Admit &admit, QString *error);
    bool finish(QString *error);

private:
    VideoStage() = default;

    int m_width = 0, m_height = 0;
    std::unique_ptr<AnnexBMuxer> m_muxer;           // passthrough
    std::unique_ptr<VideoTranscoder> m_transcoder;  // everything else
    QString m_description;
};

} // namespace h264link
