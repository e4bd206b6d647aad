// MediaSource: the first pipeline stage of the sender.
//
//   QFile --AvioBridge (read_packet, seek)--> libavformat demuxer --> packets
//
// Opens a media file through the bridge (so even file input goes through our
// own read/seek callbacks), picks its first video stream, checks that it is
// H.264, and hands out that stream's packets in file order.
#pragma once

#include "avio_bridge.h"
#include "ffmpeg_raii.h"

#include <QFile>
#include <memory>

namespace h264link {

class MediaSource {
public:
    // Returns nullptr and a one-line, actionable *error naming the file.
    static std::unique_ptr<MediaSource> open(const QString &path, QString *error);

    const AVStream *stream() const { return m_input->streams[m_streamIndex]; }
    AVRational timeBase() const { return stream()->time_base; }
    AVRational frameRate() const;
    qint64 durationUs() const; // -1 if unknown
    QString path() const { return m_file.fileName(); }

    // Next packet of the video stream: 0, AVERROR_EOF, or an error.
    int readPacket(AVPacket *packet);
    // Back to the first packet, for --loop. Reopens: seeking is not reliable
    // in every container (raw .h264 has no index at all).
    bool rewind(QString *error);

private:
    MediaSource() = default;
    bool openInput(QString *error);

    // Destroyed in reverse order: the demuxer, then the bridge, then the file.
    QFile m_file;
    std::unique_ptr<AvioBridge> m_bridge;
    InputFormatPtr m_input;
    int m_streamIndex = -1;
};

} // namespace h264link
