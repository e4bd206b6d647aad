#include "pcm_writer.h"

namespace h264link {

PcmWriter::~PcmWriter()
{
    close();
}

bool PcmWriter::fail(const QString &what, int ret)
{
    m_error = QStringLiteral("--pcm: %1 '%2': %3").arg(what, m_path, averrorText(ret));
    return false;
}

// Opened on the first frame: only then are the rate and channels known.
bool PcmWriter::open(const AVFrame *frame)
{
    const bool wav = m_path.endsWith(QLatin1String(".wav"), Qt::CaseInsensitive);
    AVFormatContext *raw = nullptr;
    const QByteArray path = m_path.toUtf8();
    int ret = avformat_alloc_output_context2(&raw, nullptr, wav ? "wav" : "s16le", path.constData());
    if (ret < 0)
        return fail(QStringLiteral("cannot set up"), ret);
    m_format.reset(raw);
    AVStream *stream = avformat_new_stream(raw, nullptr);
    m_packet = makePacket();
    if (!stream || !m_packet)
        return fail(QStringLiteral("cannot set up"), AVERROR(ENOMEM));
    stream->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
    stream->codecpar->codec_id = AV_CODEC_ID_PCM_S16LE;
    stream->codecpar->sample_rate = frame->sample_rate;
    av_channel_layout_copy(&stream->codecpar->ch_layout, &frame->ch_layout);
    stream->codecpar->bits_per_coded_sample = 16;
    stream->codecpar->block_align = 2 * frame->ch_layout.nb_channels;
    stream->codecpar->bit_rate = qint64(frame->sample_rate) * 16 * frame->ch_layout.nb_channels;
    stream->time_base = AVRational{1, frame->sample_rate};
    if ((ret = avio_open(&raw->pb, path.constData(), AVIO_FLAG_WRITE)) < 0)
        return fail(QStringLiteral("cannot write"), ret);
    if ((ret = avformat_write_header(raw, nullptr)) < 0)
        return fail(QStringLiteral("cannot start"), ret);
    return true;
}

bool PcmWriter::push(const AVFrame *frame)
{
    if (!m_error.isEmpty())
        return false;
    if (!m_format && !open(frame))
        return false;
    m_buffer.clear();
    QString error;
    if (!m_resampler.convert(frame, &m_buffer, &error)) {
        m_error = "--pcm: " + error;
        return false;
    }
    if (m_buffer.isEmpty())
        return true;
    int ret = av_new_packet(m_packet.get(), int(m_buffer.size()));
    if (ret < 0)
        return fail(QStringLiteral("cannot write"), ret);
    memcpy(m_packet->data, m_buffer.constData(), size_t(m_buffer.size()));
    const int samples = int(m_buffer.size() / m_resampler.bytesPerSample());
    m_packet->pts = m_packet->dts = m_samples;
    m_packet->duration = samples;
    m_samples += samples;
    ret = av_write_frame(m_format.get(), m_packet.get());
    av_packet_unref(m_packet.get());
    if (ret < 0)
        return fail(QStringLiteral("cannot write"), ret);
    return true;
}

bool PcmWriter::close()
{
    if (m_closed || !m_format)
        return m_error.isEmpty();
    m_closed = true;
    const int ret = av_write_trailer(m_format.get());
    avio_closep(&m_format->pb);
    if (ret < 0 && m_error.isEmpty())
        return fail(QStringLiteral("cannot finish"), ret);
    return m_error.isEmpty();
}

} // namespace h264link
