// PcmWriter (--pcm FILE): the decoded audio as s16le interleaved, at the
// received stream's own rate and channels, as `ffmpeg -f s16le -acodec
// pcm_s16le` writes it (the same libswresample conversion, so the bytes are
// the same). A name ending in .wav gets FFmpeg's wav muxer, header included;
// anything else the raw s16le muxer.
#pragma once

#include "audio_resampler.h"
#include "ffmpeg_raii.h"
#include "sinks.h"

#include <QString>

namespace h264link {

class PcmWriter : public FrameSink {
public:
    explicit PcmWriter(QString path) : m_path(std::move(path)) {}
    ~PcmWriter() override;

    bool push(const AVFrame *frame) override; // false with error() set: stop
    bool close();                             // writes the trailer (the wav sizes)
    QString error() const { return m_error; }

private:
    bool open(const AVFrame *frame);
    bool fail(const QString &what, int ret);

    QString m_path;
    AudioResampler m_resampler{AV_SAMPLE_FMT_S16, 0, 0};
    OutputFormatPtr m_format;
    PacketPtr m_packet;
    QByteArray m_buffer;
    qint64 m_samples = 0;
    QString m_error;
    bool m_closed = false;
};

} // namespace h264link
