#include "frame_md5_writer.h"

#include "ffmpeg_raii.h"

#include <QCryptographicHash>

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace h264link {

bool FrameMd5Writer::open(const QString &path, QString *error)
{
    m_file.setFileName(path);
    if (!m_file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
        *error = QStringLiteral("cannot write '%1': %2").arg(path, m_file.errorString());
        return false;
    }
    // ffmpeg's own header and columns. The time base is the pts_us of the
    // sender's MEDIA messages; a frame without a pts (the sender had none)
    // shows AV_NOPTS_VALUE, as ffmpeg would.
    return writeLine("#format: frame checksums\n#version: 2\n#hash: MD5\n"
                     "#software: h264link receiver\n"
                     "#tb 0: 1/1000000\n"
                     "#media_type 0: video\n"
                     "#stream#, dts, pts, duration, size, hash\n",
                     error);
}

// Written through at once: a killed receiver still leaves every line it
// decoded, and a full disk is noticed at the frame it happens.
bool FrameMd5Writer::writeLine(const QByteArray &line, QString *error)
{
    if (m_file.write(line) != line.size() || !m_file.flush()) {
        // A write cut short (a file size limit) leaves no errno for Qt to name.
        const QString why = m_file.error() == QFileDevice::WriteError && m_file.errorString() == QLatin1String("Unknown error")
            ? QStringLiteral("the write was cut short (disk full, or a file size limit?)")
            : m_file.errorString();
        m_error = QStringLiteral("--framemd5: cannot write '%1': %2").arg(m_file.fileName(), why);
        if (error)
            *error = m_error;
        return false;
    }
    return true;
}

bool FrameMd5Writer::push(const AVFrame *frame)
{
    const auto format = AVPixelFormat(frame->format);
    const int size = av_image_get_buffer_size(format, frame->width, frame->height, 1);
    if (size <= 0) {
        m_error = QStringLiteral("--framemd5: cannot size a %1x%2 %3 picture: %4").arg(frame->width)
                      .arg(frame->height).arg(av_get_pix_fmt_name(format) ? av_get_pix_fmt_name(format) : "?")
                      .arg(averrorText(size));
        return false;
    }
    m_buffer.resize(size);
    const int copied = av_image_copy_to_buffer(reinterpret_cast<uint8_t *>(m_buffer.data()), size,
                                               frame->data, frame->linesize, format, frame->width,
                                               frame->height, 1);
    if (copied < 0) {
        m_error = QStringLiteral("--framemd5: cannot read frame %1: %2").arg(m_index).arg(averrorText(copied));
        return false;
    }
    const QByteArray md5 = QCryptographicHash::hash(m_buffer, QCryptographicHash::Md5).toHex();
    // The decoded picture has no dts of its own: like ffmpeg's rawvideo
    // output, dts is the pts. The duration is not known (0).
    const QByteArray line = QStringLiteral("0, %1, %1, 0, %2, %3\n")
                                .arg(frame->pts).arg(size).arg(QString::fromLatin1(md5)).toLatin1();
    ++m_index;
    return writeLine(line, nullptr);
}

} // namespace h264link
