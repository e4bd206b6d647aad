// AudioStage: what the sender does with the file's audio stream, chosen
// once per stream: AAC and MP3 go through AudioMuxer unchanged, every other
// codec through AudioTranscoder (to AAC). Either way each result is an
// AUDIO message on the same FramedMediaDevice as the video.
//
// A discontinuity (a loop restart, audio dropped while no receiver could
// take it) flags the next AUDIO message (0x0001); a transcoder also drains
// and starts over there, so that its timestamps and trim stay exact.
// One per connection, on the sender's worker thread.
#pragma once

#include "framed_media_device.h"
#include "protocol.h"
#include "remux/audio_muxer.h"
#include "remux/audio_transcoder.h"

#include <memory>

namespace h264link {

class AudioStage {
public:
    static constexpr quint16 kDiscontinuity = 0x0001;

    // "ac3 5.1(side) 48 kHz": the source stream, for messages.
    static QString describeSource(const AVCodecParameters *par);

    // `out` nullptr: only checks that the stream can be sent, and describes it.
    // Returns nullptr and a one-line *error (e.g. no decoder for it).
    static std::unique_ptr<AudioStage> create(const AVStream *in, FramedMediaDevice *out, QString *error);
    ~AudioStage();

    // "aac stereo 44.1 kHz, passed through", "ac3 5.1 48 kHz → AAC stereo 160 kb/s"
    QString description() const { return m_description; }
    // STREAM_INFO's audio fields.
    void describe(proto::StreamInfo *info) const;
    // Packets the decoder rejected (transcoding only): counted, left out.
    quint64 undecodablePackets() const;

    // `packet`: timestamps in the source stream's time base, on the sender's timeline.
    AudioMuxer::Result write(AVPacket *packet, bool discontinuity, QString *error);
    bool finish(QString *error);

private:
    AudioStage() = default;

    AVCodecParameters *m_par = nullptr; // a copy: the source's stream goes on a loop's reopen
    AVRational m_timeBase{1, 1};
    FramedMediaDevice *m_out = nullptr;
    std::unique_ptr<AudioMuxer> m_muxer;           // passthrough
    std::unique_ptr<AudioTranscoder> m_transcoder; // everything else
    quint64 m_undecodableBefore = 0; // by transcoders replaced at discontinuities
    bool m_started = false;
    QString m_description;
    proto::StreamInfo m_info;
};

} // namespace h264link
