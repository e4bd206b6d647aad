#include "frame_md5_writer.h"

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
    m_file.write("#format: frame checksums\n#version: 2\n#hash: MD5\n"
                 "#software: h264link receiver\n"
                 "#columns: stream, frame, frame, pixel format, size, hash\n");
    return true;
}

bool FrameMd5Writer::push(const AVFrame *frame)
{
    const auto format = AVPixelFormat(frame->format);
    const int size = av_image_get_buffer_size(format, frame->width, frame->height, 1);
    if (size <= 0)
        return false;
    m_buffer.resize(size);
    av_image_copy_to_buffer(reinterpret_cast<uint8_t *>(m_buffer.data()), size, frame->data,
                            frame->linesize, format, frame->width, frame->height, 1);
    const QByteArray md5 = QCryptographicHash::hash(m_buffer, QCryptographicHash::Md5).toHex();
    const QByteArray line = QStringLiteral("0, %1, %1, %2, %3, %4\n")
                                .arg(m_index).arg(av_get_pix_fmt_name(format)).arg(size)
                                .arg(QString::fromLatin1(md5)).toLatin1();
    ++m_index;
    m_file.write(line);
    m_file.flush(); // a killed receiver still leaves every line it decoded
    return true;
}

} // namespace h264link
