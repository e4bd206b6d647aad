// MediaSource: the first pipeline stage of the sender.
//
//   QFile --AvioBridge (read_packet, seek)--> libavformat demuxer --> packets
//
// Opens a media file through the bridge (so even file input goes through our
// own read/seek callbacks), picks its first video stream (H.264, or any
// codec this FFmpeg decodes, for the transcoder) and its first audio stream, either of which may be missing, and
// hands out the packets of both in file order.
//
// Three more kinds of input, none of which can start again (--loop):
//   `-`           stdin --PipeDevice--AvioBridge (read_packet, no seek)--> any container
//   the screen    libavdevice x11grab, raw video at --fps, in real time
//   /dev/videoN   libavdevice v4l2 (a camera), raw or MJPEG, in real time
#pragma once

#include "avio_bridge.h"
#include "ffmpeg_raii.h"

#include <QFile>
#include <memory>

class QIODevice;

namespace h264link {

class MediaSource {
public:
    // Returns nullptr and a one-line, actionable *error naming the file.
    // Without `withAudio`, the video only (a file without video is refused).
    // `path` "-" reads stdin.
    static std::unique_ptr<MediaSource> open(const QString &path, QString *error, bool withAudio = false);
    // The whole screen of X display `display` (e.g. ":0"), `fps` frames a
    // second, the mouse pointer drawn in.
    static std::unique_ptr<MediaSource> openScreen(const QString &display, int fps, QString *error);
    // A V4L2 camera, asked for `fps` frames a second (it may pick another).
    static std::unique_ptr<MediaSource> openCamera(const QString &device, int fps, QString *error);
    // "/dev/video0" and the like: what openCamera() takes.
    static bool isCameraPath(const QString &path);

    enum class Kind { File, Pipe, Screen, Camera };
    Kind kind() const { return m_kind; }
    // Frames come in real time as they are captured: nothing to pace, no
    // duration, and the position is the time since the start.
    bool isLive() const { return m_kind == Kind::Screen || m_kind == Kind::Camera; }
    // Only a file can start again (--loop).
    bool canRewind() const { return m_kind == Kind::File; }

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
    // The file, or what is captured: "stdin", "screen :0", "/dev/video0".
    QString path() const { return m_kind == Kind::File ? m_file.fileName() : m_label; }
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
    bool openStdin(QString *error);
    bool openDevice(const char *format, const QString &url, AVDictionary **options, QString *error);
    // The demuxer is open: find the streams and pick them.
    bool pickStreams(const QString &name, QString *error);
    bool checkVideo(const QString &name, QString *error) const;

    // Destroyed in reverse order: the demuxer, then the bridge, then the file.
    QFile m_file;
    std::unique_ptr<QIODevice> m_pipe; // stdin
    std::unique_ptr<AvioBridge> m_bridge;
    InputFormatPtr m_input;
    int m_videoIndex = -1;
    int m_audioIndex = -1;
    bool m_audioDropped = false;
    Kind m_kind = Kind::File;
    QString m_label;
};

} // namespace h264link
