// AudioTranscoder: the sender's audio stage for every codec the receiver
// does not play as it is (AC-3, E-AC-3, Opus, Vorbis, FLAC, PCM, DTS, ALAC ...).
//
//   packets --> libavcodec decoder --> libswresample (downmix, rate, float planar)
//     --> AVAudioFifo (cuts 1024-sample frames) --> FFmpeg's native "aac" encoder (AAC-LC)
//     --> AudioMuxer ("adts") --> FramedMediaDevice
//
// At most stereo (5.1 and the like are downmixed), 160 kb/s stereo and
// 96 kb/s mono, the source's sample rate if AAC has it, else 48 kHz. The
// encoder's priming (initial_padding) and the last frame's padding travel
// as the packets' trim, as in an mp4 file, so the receiver plays exactly the
// source's samples. A packet the decoder rejects is counted and left out.
// One per connection and run of the timeline, on the sender's worker thread.
#pragma once

#include "ffmpeg_raii.h"
#include "framed_media_device.h"
#include "remux/audio_muxer.h"

#include <memory>

namespace h264link {

class AudioTranscoder {
public:
    static constexpr int kStereoBitRate = 160'000;
    static constexpr int kMonoBitRate = 96'000;
    static constexpr int kFallbackRate = 48'000;

    // Opens the decoder and the encoder. `out` nullptr: only checks that the
    // stream can be transcoded (and describes it). Returns nullptr and a
    // one-line *error saying what cannot be done.
    static std::unique_ptr<AudioTranscoder> create(const AVCodecParameters *par, AVRational timeBase,
                                                   FramedMediaDevice *out,
                                                   QString *error);

    int sampleRate() const { return m_enc->sample_rate; }
    int channels() const { return m_enc->ch_layout.nb_channels; }
    int bitRate() const { return int(m_enc->bit_rate); }
    // "AAC stereo 160 kb/s"
    QString outputDescription() const;
    quint64 undecodablePackets() const { return m_undecodable; }

    // `packet`: timestamps in the input stream's time base, on the sender's
    // timeline. The first AUDIO message made from it carries `flags`.
    AudioMuxer::Result write(const AVPacket *packet, quint16 flags, QString *error);
    // Drains the decoder, the resampler and the encoder into the output.
    AudioMuxer::Result finish(QString *error);

private:
    AudioTranscoder() = default;
    AudioMuxer::Result decodeAvailable(QString *error);
    AudioMuxer::Result resample(const AVFrame *frame, QString *error);
    AudioMuxer::Result encodeFrom(bool flush, QString *error);
    AudioMuxer::Result encode(const AVFrame *frame, QString *error);
    AudioMuxer::Result sendPending(bool last, QString *error);

    AVRational m_inTimeBase{1, 1};
    CodecContextPtr m_dec;
    CodecContextPtr m_enc;
    SwrPtr m_swr;
    AudioFifoPtr m_fifo;
    std::unique_ptr<AudioMuxer> m_muxer;
    FramePtr m_decoded = makeFrame();
    PacketPtr m_encoded = makePacket();
    PacketPtr m_pending = makePacket(); // held back one packet: the last one gets the end trim
    bool m_hasPending = false;
    quint16 m_flags = 0; // for the next AUDIO message
    int64_t m_firstPacketPts = AV_NOPTS_VALUE; // in the input time base
    int64_t m_nextPts = AV_NOPTS_VALUE;        // of the next encoder frame, in 1/sampleRate
    qint64 m_samplesIn = 0;     // fed to the encoder
    qint64 m_samplesOut = 0;    // in packets sent or pending (frame_size each)
    bool m_firstPacket = true;
    quint64 m_undecodable = 0;
};

} // namespace h264link
