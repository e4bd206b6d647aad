// AnnexBMuxer: the sender's remux stage.
//
//   packets --> libavformat "h264" muxer --AvioBridge (write_packet)--> FramedMediaDevice
//
// The raw h264 muxer converts mp4/mkv/flv-style packets (length-prefixed
// NALs, parameter sets in avcC extradata) to Annex B itself: it inserts the
// h264_mp4toannexb bitstream filter, which prepends start codes and puts
// SPS/PPS in front of keyframes. Each packet becomes one access unit on the
// wire because the AVIOContext is flushed after every packet.
#pragma once

#include "avio_bridge.h"
#include "ffmpeg_raii.h"
#include "framed_media_device.h"

#include <memory>

namespace h264link {

class AnnexBMuxer {
public:
    static std::unique_ptr<AnnexBMuxer> create(const AVCodecParameters *codecpar,
                                               AVRational timeBase, FramedMediaDevice *out,
                                               QString *error);

    enum class Result { Ok, BadPacket, SendFailed };
    // Writes `packet` (timestamps in the source time base) as one access unit,
    // flagged DECODE_ONLY if the packet has AV_PKT_FLAG_DISCARD.
    // BadPacket: the muxer or its bitstream filter rejected the data.
    // SendFailed: the bytes could not be handed to the transport.
    Result writeAccessUnit(AVPacket *packet, QString *error);
    bool finish(QString *error);

private:
    AnnexBMuxer() = default;

    FramedMediaDevice *m_out = nullptr;
    AVRational m_inTimeBase{1, 1};
    std::unique_ptr<AvioBridge> m_bridge; // declared first: destroyed after m_output
    OutputFormatPtr m_output;
};

} // namespace h264link
