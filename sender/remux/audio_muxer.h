// AudioMuxer: the sender's audio remux stage, for AAC and MP3.
//
//   audio packets --> libavformat "adts" / "mp3" muxer --AvioBridge (write_packet)--> FramedMediaDevice
//
// The adts muxer puts an ADTS header (built from the stream's
// AudioSpecificConfig) in front of each raw AAC packet; the mp3 muxer writes
// MP3 frames as they are (no ID3 tag, no Xing frame: a live stream has no
// end to describe). Each packet becomes one AUDIO message because the
// AVIOContext is flushed after every packet, with its pts and the trim of
// its AV_PKT_DATA_SKIP_SAMPLES side data. Owned by the sender's worker thread.
#pragma once

#include "avio_bridge.h"
#include "ffmpeg_raii.h"
#include "framed_media_device.h"

#include <memory>

namespace h264link {

class AudioMuxer {
public:
    // AUDIO flag: before an edit list's start (AV_PKT_FLAG_DISCARD), decoded, never heard.
    static constexpr quint16 kDecodeOnly = 0x0002;
    // AAC and MP3 go through unchanged; everything else needs AudioTranscoder.
    static bool canPassThrough(AVCodecID codec);
    // The STREAM_INFO fourcc of what this muxer writes for `codec`.
    static quint32 wireCodec(AVCodecID codec);

    static std::unique_ptr<AudioMuxer> create(const AVCodecParameters *codecpar, AVRational timeBase,
                                              FramedMediaDevice *out, QString *error);

    enum class Result { Ok, BadPacket, SendFailed };
    // Writes `packet` (timestamps in the time base given to create()) as one
    // AUDIO message with header `flags`.
    Result writePacket(AVPacket *packet, quint16 flags, QString *error);
    bool finish(QString *error);

private:
    AudioMuxer() = default;

    FramedMediaDevice *m_out = nullptr;
    AVRational m_inTimeBase{1, 1};
    std::unique_ptr<AvioBridge> m_bridge; // declared first: destroyed after m_output
    OutputFormatPtr m_output;
};

} // namespace h264link
