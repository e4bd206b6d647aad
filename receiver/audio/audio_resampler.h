// AudioResampler: decoded frames to interleaved bytes in one fixed format
// (libswresample), for a sink that needs it: the device's format, or s16 at
// the stream's own rate for --pcm. Built on the first frame, rebuilt if the
// stream's format changes. Drift between the sender's clock and the sound
// card's is corrected by compensate(): a resampling rate change of a few
// hundred ppm, which nobody hears, never a jump.
#pragma once

#include "ffmpeg_raii.h"

#include <QByteArray>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
}

struct SwrContext;

namespace h264link {

class AudioResampler {
public:
    // outRate 0 / outChannels 0: the input's own rate / channel layout.
    AudioResampler(AVSampleFormat outFormat, int outRate, int outChannels);
    ~AudioResampler();
    AudioResampler(const AudioResampler &) = delete;
    AudioResampler &operator=(const AudioResampler &) = delete;

    // Appends the converted samples of `frame` to *out. False with *error set
    // if libswresample refuses the conversion.
    bool convert(const AVFrame *frame, QByteArray *out, QString *error);
    // Stretches or shrinks the next `distance` output samples by `delta`
    // samples (swr_set_compensation).
    bool compensate(int delta, int distance);

    int outRate() const { return m_outRate; }
    int outChannels() const { return m_outLayout.nb_channels; }
    int bytesPerSample() const { return av_get_bytes_per_sample(m_outFormat) * m_outLayout.nb_channels; }

private:
    bool configure(const AVFrame *frame, QString *error);

    const AVSampleFormat m_outFormat;
    const int m_wantedRate;
    const int m_wantedChannels;
    int m_outRate = 0;
    AVChannelLayout m_outLayout{};
    SwrContext *m_swr = nullptr;
    int m_inFormat = -1;
    int m_inRate = 0;
    AVChannelLayout m_inLayout{};
};

} // namespace h264link
