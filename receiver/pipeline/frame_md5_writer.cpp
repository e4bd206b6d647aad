#include "frame_md5_writer.h"

#include "ffmpeg_raii.h"

#include <QCryptographicHash>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace h264link {

bool FrameMd5Writer::open(const QString &path, QString *error)
{
    m_file.setFileName(path);
    if (!m_file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
        *error = QStringLiteral("cannot write '%1': %2").arg(path, m_file.errorString());
        QMutexLocker lock(&m_mutex);
        m_error = *error;
        return false;
    }
    return true;
}

void FrameMd5Writer::configure(bool video, int sampleRate, int channels)
{
    QMutexLocker lock(&m_mutex);
    if (m_configured)
        return;
    m_configured = true;
    m_present[0] = video;
    m_present[1] = sampleRate > 0 && channels > 0;
    m_sampleRate = sampleRate;
    m_channels = channels;
    flushLocked(false);
}

void FrameMd5Writer::endStream(int index)
{
    QMutexLocker lock(&m_mutex);
    m_ended[index] = true;
    if (m_ended[0] || !m_present[0]) {
        // Nothing more can come that would need the header to name sound.
        if (!m_configured && (m_ended[1] || !m_present[1]))
            m_configured = true;
    }
    flushLocked(false);
}

QString FrameMd5Writer::error() const
{
    QMutexLocker lock(&m_mutex);
    return m_error;
}

// ffmpeg's own header and columns. A frame without a pts (the sender had
// none) shows AV_NOPTS_VALUE, as ffmpeg would.
void FrameMd5Writer::writeHeaderLocked()
{
    m_headerWritten = true;
    QByteArray header = "#format: frame checksums\n#version: 2\n#hash: MD5\n#software: h264link receiver\n";
    if (m_present[0])
        header += "#tb 0: 1/1000000\n#media_type 0: video\n";
    if (m_present[1]) {
        AVChannelLayout layout{};
        av_channel_layout_default(&layout, m_channels);
        char name[64] = {};
        av_channel_layout_describe(&layout, name, sizeof name);
        av_channel_layout_uninit(&layout);
        header += QStringLiteral("#tb 1: 1/%1\n#media_type 1: audio\n#codec_id 1: pcm_s16le\n"
                                 "#sample_rate 1: %1\n#channel_layout_name 1: %2\n")
                      .arg(m_sampleRate).arg(QLatin1String(name)).toLatin1();
    }
    header += "#stream#, dts, pts, duration, size, hash\n";
    writeLocked(header);
}

// Written through at once: a killed receiver still leaves every line that
// could go, and a full disk is noticed at the frame it happens.
bool FrameMd5Writer::writeLocked(const QByteArray &text)
{
    if (!m_error.isEmpty())
        return false;
    if (m_file.write(text) != text.size() || !m_file.flush()) {
        // A write cut short (a file size limit) leaves no errno for Qt to name.
        const QString why = m_file.error() == QFileDevice::WriteError && m_file.errorString() == QLatin1String("Unknown error")
            ? QStringLiteral("the write was cut short (disk full, or a file size limit?)")
            : m_file.errorString();
        m_error = QStringLiteral("--framemd5: cannot write '%1': %2").arg(m_file.fileName(), why);
        return false;
    }
    return true;
}

void FrameMd5Writer::flushLocked(bool force)
{
    if (!m_configured)
        return;
    if (!m_headerWritten)
        writeHeaderLocked();
    for (;;) {
        const bool have0 = !m_waiting[0].empty(), have1 = !m_waiting[1].empty();
        if (!have0 && !have1)
            return;
        const bool open0 = m_present[0] && !m_ended[0], open1 = m_present[1] && !m_ended[1];
        int next;
        if (have0 && have1)
            next = m_waiting[1].front().dtsUs < m_waiting[0].front().dtsUs ? 1 : 0;
        else if (have0 && (!open1 || force))
            next = 0;
        else if (have1 && (!open0 || force))
            next = 1;
        else
            return; // the other stream may still bring an earlier line
        writeLocked(m_waiting[next].front().text);
        m_waiting[next].pop_front();
        force = false;
    }
}

bool FrameMd5Writer::add(int index, qint64 dtsUs, QByteArray text, const QString &error)
{
    QMutexLocker lock(&m_mutex);
    if (!error.isEmpty() && m_error.isEmpty())
        m_error = error;
    if (!m_error.isEmpty())
        return false;
    m_waiting[index].push_back(Line{dtsUs, std::move(text)});
    const bool tooMany = m_waiting[0].size() + m_waiting[1].size() > kMaxWaiting;
    if (tooMany && !m_configured)
        m_configured = true; // no STREAM_INFO came: the header names the video only
    flushLocked(tooMany);
    return m_error.isEmpty();
}

bool FrameMd5Writer::VideoSink::push(const AVFrame *frame)
{
    const auto format = AVPixelFormat(frame->format);
    const int size = av_image_get_buffer_size(format, frame->width, frame->height, 1);
    if (size <= 0)
        return m_writer.add(0, 0, {}, QStringLiteral("--framemd5: cannot size a %1x%2 %3 picture: %4")
                                          .arg(frame->width).arg(frame->height)
                                          .arg(av_get_pix_fmt_name(format) ? av_get_pix_fmt_name(format) : "?")
                                          .arg(averrorText(size)));
    m_buffer.resize(size);
    const int copied = av_image_copy_to_buffer(reinterpret_cast<uint8_t *>(m_buffer.data()), size,
                                               frame->data, frame->linesize, format, frame->width,
                                               frame->height, 1);
    if (copied < 0)
        return m_writer.add(0, 0, {}, "--framemd5: cannot read a frame: " + averrorText(copied));
    const QByteArray md5 = QCryptographicHash::hash(m_buffer, QCryptographicHash::Md5).toHex();
    // The decoded picture has no dts of its own: like ffmpeg's rawvideo
    // output, dts is the pts. The duration is not known (0).
    return m_writer.add(0, frame->pts, QStringLiteral("0, %1, %1, 0, %2, %3\n")
                                           .arg(frame->pts).arg(size).arg(QString::fromLatin1(md5)).toLatin1());
}

bool FrameMd5Writer::AudioSink::push(const AVFrame *frame)
{
    m_buffer.clear();
    QString error;
    if (!m_resampler.convert(frame, &m_buffer, &error))
        return m_writer.add(1, 0, {}, "--framemd5: " + error);
    const QByteArray md5 = QCryptographicHash::hash(m_buffer, QCryptographicHash::Md5).toHex();
    const AVRational tb{1, frame->sample_rate};
    const qint64 pts = frame->pts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE
                                                    : av_rescale_q(frame->pts, AVRational{1, 1000000}, tb);
    const qint64 samples = m_buffer.size() / m_resampler.bytesPerSample();
    return m_writer.add(1, frame->pts, QStringLiteral("1, %1, %1, %2, %3, %4\n").arg(pts).arg(samples)
                                           .arg(m_buffer.size()).arg(QString::fromLatin1(md5)).toLatin1());
}

} // namespace h264link
