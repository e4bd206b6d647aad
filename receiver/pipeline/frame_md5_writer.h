// FrameMd5Writer: one line per decoded frame, ending in the MD5 of the
// picture as av_image_copy_to_buffer(align = 1) lays it out in the decoder's
// own pixel format. Those are the bytes `ffmpeg -f framemd5` hashes, so the
// two files can be compared line by line on their last column. The pts
// column is the frame's real time (the sender's pts_us, "#tb 0: 1/1000000"),
// so a frame's time can be compared with the source's too.
#pragma once

#include "sinks.h"

#include <QByteArray>
#include <QFile>

namespace h264link {

class FrameMd5Writer : public FrameSink {
public:
    bool open(const QString &path, QString *error);
    // False, with error() set, once the file cannot take a line (disk full):
    // a checksum file with holes would be worse than a clear failure.
    bool push(const AVFrame *frame) override;
    QString error() const { return m_error; }

private:
    bool writeLine(const QByteArray &line, QString *error);

    QFile m_file;
    QByteArray m_buffer; // reused: one allocation per picture size, not per frame
    quint64 m_index = 0;
    QString m_error;
};

} // namespace h264link
