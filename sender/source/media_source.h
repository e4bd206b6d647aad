// MediaSource: the first pipeline stage of the sender.
//
//   QFile --AvioBridge (read_packet, seek)--> libavformat demuxer --> packets
//
// Opens a media file through the bridge (so even file input goes through our
// own read/seek callbacks), picks its first video stream (H.264, or any
// codec this FFmpeg decodes, for the transcoder) and its first audio stream, either of which may be missing, and
// hands out the packets of both in file order.
#pragma once

#include "avio_bridge.h"
#include "ffmpeg_raii.h"

#include <QFile>
#include <memory>

namespace h264link {

class MediaSource {
public:
    // Returns nullptr and a one-line, actionable *error naming the file.
    // Without `withAudio`, the video only (a file without video is refused).
    static std::unique_ptr<MediaSource> open(const QString &path, QString *error, bool withAudio = false);

    bool hasVideo() const { return m_videoIndex >= 0; }
    bool hasAudio() const { return m_audioIndex >= 0; }
    // The video stream; nullptr in an audio-only file.
    const AVStream *stream() const { return hasVideo() ? m_input->streams[m_videoIndex] : nullptr; }
    // The audio stream; nullptr if there is none (or it was dropped).
    const AVStream *audioStream() const { return hasAudio() ? m_input->streams[m_audioIndex] : nullptr; }
    // The stream that sets the pace and the position: video, else audio.
    const AVStream *mainStream() const { return hasVideo() ? stream() : audioStream(); }
    AVRational timeBase() const { return mainStream()->time_base; }
    AVRational frameRate() const; // of the video; 0/0 if unknown or none
    qint64 durationUs() const; // -1 if unknown
    QString path() const { return m_file.fileName(); }
    // How many frames the video's decoder must hold back before its first
    // output (B-frames), or 0: what avformat_find_stream_info() learnt. It
    // watched the first packets without taking them from us: the container's
    // pts against dts (mp4/mov: its ctts) and its probe decoder's reordering
    // (raw .h264, mkv) end up in codecpar->video_delay. A receiver needs it
    // when the SPS has no bitstream restriction to say so.
    int reorderDepth() const;
    bool isAudio(const AVPacket *packet) const { return packet->stream_index == m_audioIndex; }
    AVRational timeBaseOf(const AVPacket *packet) const
    {
        return m_input->streams[packet->stream_index]->time_base;
    }
    // From now on, video only (--no-audio, an older receiver, an audio
    // stream that cannot be sent). False, with *error, if that leaves nothing.
    bool dropAudio(QString *error);

    // Next packet of the video or the audio stream: 0, AVERROR_EOF, or an error.
    int readPacket(AVPacket *packet);
    // Back to the first packet, for --loop. Reopens: seeking is not reliable
    // in every container (raw .h264 has no index at all).
    bool rewind(QString *error);

private:
    MediaSource() = default;
    bool openInput(QString *error);
    bool checkVideo(const QString &name, QString *error) const;

    // Destroyed in reverse order: the demuxer, then the bridge, then the file.
    QFile m_file;
    std::unique_ptr<AvioBridge> m_bridge;
    InputFormatPtr m_input;
    int m_videoIndex = -1;
    int m_audioIndex = -1;
    bool m_audioDropped = false;
};

} // namespace h264link
