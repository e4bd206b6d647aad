#include "source/media_source.h"

#include "logging.h"

#include "source/pipe_device.h"

#include <QFileInfo>
#include <QRegularExpression>
#include <cstdio>
#include <mutex>

extern "C" {
#include <libavdevice/avdevice.h>
#include <libavutil/avutil.h>
}

namespace h264link {
namespace {

QString describeStreams(const AVFormatContext *input)
{
    QStringList found;
    for (unsigned i = 0; i < input->nb_streams; ++i) {
        const AVCodecParameters *par = input->streams[i]->codecpar;
        const char *type = av_get_media_type_string(par->codec_type);
        found << QStringLiteral("%1 %2").arg(type ? type : "unknown", avcodec_get_name(par->codec_id));
    }
    return found.isEmpty() ? QStringLiteral("no streams") : found.join(", ");
}

// The first real video stream: not a cover picture (mp3/m4a artwork).
int firstVideoStream(const AVFormatContext *input)
{
    for (unsigned i = 0; i < input->nb_streams; ++i) {
        const AVStream *st = input->streams[i];
        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO
            && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC))
            return int(i);
    }
    return -1;
}

int firstAudioStream(const AVFormatContext *input)
{
    for (unsigned i = 0; i < input->nb_streams; ++i)
        if (input->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
            return int(i);
    return -1;
}

} // namespace

std::unique_ptr<MediaSource> MediaSource::open(const QString &path, QString *error, bool withAudio)
{
    std::unique_ptr<MediaSource> source(new MediaSource);
    source->m_audioDropped = !withAudio;
    if (path == QLatin1String("-")) {
        source->m_kind = Kind::Pipe;
        source->m_label = QStringLiteral("stdin");
        if (!source->openStdin(error))
            return nullptr;
        return source;
    }
    source->m_file.setFileName(path);
    if (!source->openInput(error))
        return nullptr;
    return source;
}

bool MediaSource::isCameraPath(const QString &path)
{
    static const QRegularExpression camera(QStringLiteral("^/dev/video[0-9]+$"));
    return camera.match(path).hasMatch();
}

std::unique_ptr<MediaSource> MediaSource::openScreen(const QString &display, int fps, QString *error)
{
    std::unique_ptr<MediaSource> source(new MediaSource);
    source->m_audioDropped = true;
    source->m_kind = Kind::Screen;
    source->m_label = QStringLiteral("screen %1").arg(display);
    // No video_size: x11grab then takes the whole screen, whatever its size.
    AVDictionary *options = nullptr;
    av_dict_set_int(&options, "framerate", fps, 0);
    av_dict_set_int(&options, "draw_mouse", 1, 0);
    const bool ok = source->openDevice("x11grab", display, &options, error);
    av_dict_free(&options);
    if (!ok)
        return nullptr;
    return source;
}

std::unique_ptr<MediaSource> MediaSource::openCamera(const QString &device, int fps, QString *error)
{
    std::unique_ptr<MediaSource> source(new MediaSource);
    source->m_audioDropped = true;
    source->m_kind = Kind::Camera;
    source->m_label = device;
    AVDictionary *options = nullptr;
    av_dict_set_int(&options, "framerate", fps, 0);
    const bool ok = source->openDevice("v4l2", device, &options, error);
    av_dict_free(&options);
    if (!ok)
        return nullptr;
    return source;
}

// A capture device: libavdevice reads it itself (no bridge: there are no
// bytes to carry, only frames the device hands over).
bool MediaSource::openDevice(const char *format, const QString &url, AVDictionary **options, QString *error)
{
    static std::once_flag registered;
    std::call_once(registered, [] { avdevice_register_all(); });
    const AVInputFormat *input = av_find_input_format(format);
    const bool screen = m_kind == Kind::Screen;
    if (!input) {
        *error = QStringLiteral("this FFmpeg has no %1 input (libavdevice built without it): cannot capture %2")
                     .arg(QString::fromLatin1(format), screen ? QStringLiteral("the screen") : url);
        return false;
    }
    AVFormatContext *raw = nullptr;
    takeLastFfmpegError();
    int ret = 0;
    {
        trace::CallerScope scope("avformat_open_input");
        ret = avformat_open_input(&raw, url.toUtf8().constData(), input, options);
    }
    m_input.reset(raw);
    if (ret < 0) {
        QString detail = averrorDetail(ret);
        while (detail.endsWith('.'))
            detail.chop(1); // the line libavdevice logged ends in one
        if (screen)
            *error = QStringLiteral("cannot capture the screen of display '%1' (%2): is an X server running "
                                    "there, and may this user connect to it (DISPLAY, XAUTHORITY)?")
                         .arg(url, detail);
        else if (ret == AVERROR(EBUSY))
            *error = QStringLiteral("the camera '%1' is busy: another program is using it; close that one "
                                    "first").arg(url);
        else if (ret == AVERROR(ENOENT))
            *error = QStringLiteral("there is no camera '%1' (No such file or directory); see "
                                    "ls /dev/video* for the cameras there are").arg(url);
        else
            *error = QStringLiteral("cannot open the camera '%1': %2").arg(url, detail);
        return false;
    }
    return pickStreams(m_label, error);
}

// stdin is read as any other input: through the bridge, whose sequential
// path never seeks; libavformat probes the container from the first bytes.
bool MediaSource::openStdin(QString *error)
{
    auto pipe = std::make_unique<PipeDevice>(fileno(stdin));
    if (!pipe->open(QIODevice::ReadOnly | QIODevice::Unbuffered)) {
        *error = QStringLiteral("cannot read stdin: %1").arg(pipe->errorString());
        return false;
    }
    m_pipe = std::move(pipe);
    m_bridge = AvioBridge::create(m_pipe.get(), AvioBridge::Direction::Read, error);
    if (!m_bridge)
        return false;
    m_bridge->setTraceContext(trace::Context::SenderInput);
    AVFormatContext *raw = avformat_alloc_context();
    if (!raw) {
        *error = QStringLiteral("out of memory");
        return false;
    }
    raw->pb = m_bridge->context();
    takeLastFfmpegError();
    int ret = 0;
    {
        trace::CallerScope scope("avformat_open_input");
        ret = avformat_open_input(&raw, "pipe:", nullptr, nullptr);
    }
    m_input.reset(raw);
    if (ret < 0) {
        if (PipeDevice::interrupted())
            *error = QStringLiteral("stopped while waiting for stdin (%1 bytes had come)").arg(m_bridge->bytesTransferred());
        else if (m_bridge->bytesTransferred() == 0 && m_bridge->lastDeviceError().isEmpty())
            *error = QStringLiteral("stdin is empty (0 bytes came through the pipe): nothing to stream");
        else if (!m_bridge->lastDeviceError().isEmpty())
            *error = QStringLiteral("cannot read stdin: %1").arg(m_bridge->lastDeviceError());
        else
            *error = QStringLiteral("stdin is not a media stream FFmpeg can read from a pipe (%1 bytes read): %2")
                         .arg(m_bridge->bytesTransferred()).arg(averrorDetail(ret));
        return false;
    }
    return pickStreams(m_label, error);
}

bool MediaSource::openInput(QString *error)
{
    const QString name = QFileInfo(m_file.fileName()).fileName();
    m_input.reset();
    m_bridge.reset();
    m_file.close();
    if (!m_file.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot open '%1': %2").arg(m_file.fileName(), m_file.errorString());
        return false;
    }
    if (m_file.size() == 0) {
        *error = QStringLiteral("'%1' is empty (0 bytes): nothing to stream").arg(name);
        return false;
    }
    m_bridge = AvioBridge::create(&m_file, AvioBridge::Direction::Read, error);
    if (!m_bridge)
        return false;
    m_bridge->setTraceContext(trace::Context::SenderInput);

    AVFormatContext *raw = avformat_alloc_context();
    if (!raw) {
        *error = QStringLiteral("out of memory");
        return false;
    }
    raw->pb = m_bridge->context();
    // The file name is only a hint for probing (.h264 has no header to find);
    // every byte still comes through the bridge.
    takeLastFfmpegError(); // forget anything older than this call
    int ret = 0;
    {
        trace::CallerScope scope("avformat_open_input");
        ret = avformat_open_input(&raw, m_file.fileName().toUtf8().constData(), nullptr, nullptr);
    }
    m_input.reset(raw); // null on failure: avformat_open_input freed it
    if (ret < 0) {
        *error = QStringLiteral("'%1' is not a media file FFmpeg can read: %2")
                     .arg(name, averrorDetail(ret));
        return false;
    }
    return pickStreams(name, error);
}

bool MediaSource::pickStreams(const QString &name, QString *error)
{
    int ret = 0;
    {
        trace::CallerScope scope("avformat_find_stream_info");
        ret = avformat_find_stream_info(m_input.get(), nullptr);
    }
    if (ret < 0) {
        *error = QStringLiteral("cannot read the streams of '%1': %2").arg(name, averrorDetail(ret));
        return false;
    }
    m_videoIndex = firstVideoStream(m_input.get());
    m_audioIndex = m_audioDropped ? -1 : firstAudioStream(m_input.get());
    if (m_videoIndex < 0 && m_audioDropped) {
        *error = QStringLiteral("'%1' has no video stream (found: %2)")
                     .arg(name, describeStreams(m_input.get()));
        return false;
    }
    if (m_videoIndex < 0 && m_audioIndex < 0) {
        *error = QStringLiteral("'%1' has neither a video nor an audio stream (found: %2)")
                     .arg(name, describeStreams(m_input.get()));
        return false;
    }
    if (m_videoIndex >= 0 && !checkVideo(name, error))
        return false;
    // Tell the demuxer to skip the streams we do not send.
    for (unsigned i = 0; i < m_input->nb_streams; ++i)
        m_input->streams[i]->discard = int(i) == m_videoIndex || int(i) == m_audioIndex
            ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    return true;
}

// H.264 passes through as it is; any other codec is transcoded, so it must
// be one this FFmpeg decodes, and one whose pictures it could read.
bool MediaSource::checkVideo(const QString &name, QString *error) const
{
    const AVCodecParameters *par = stream()->codecpar;
    const QString codec = QString::fromUtf8(avcodec_get_name(par->codec_id));
    if (par->codec_id != AV_CODEC_ID_H264 && !avcodec_find_decoder(par->codec_id)) {
        char tag[AV_FOURCC_MAX_STRING_SIZE] = {};
        av_fourcc_make_string(tag, par->codec_tag);
        const QString what = par->codec_id == AV_CODEC_ID_NONE
            ? QStringLiteral("of an unknown codec (tag %1)").arg(QString::fromLatin1(tag))
            : QStringLiteral("%1, which this FFmpeg build has no decoder for").arg(codec);
        *error = QStringLiteral("'%1': the video is %2, so it cannot be sent: convert it to H.264 "
                                "with a tool that reads it").arg(name, what);
        return false;
    }
    if (par->width <= 0 || par->height <= 0) {
        *error = QStringLiteral("'%1': the %2 stream has no readable picture size "
                                "(truncated or damaged file?)").arg(name, codec == "h264" ? "H.264" : codec);
        return false;
    }
    // Probing decodes the first pictures: no pixel format means none decoded.
    if (par->codec_id != AV_CODEC_ID_H264 && par->format < 0) {
        *error = QStringLiteral("'%1': the %2 video cannot be decoded: FFmpeg found no picture in it "
                                "(damaged file?)").arg(name, codec);
        return false;
    }
    return true;
}

bool MediaSource::dropAudio(QString *error)
{
    if (!hasVideo()) {
        *error = QStringLiteral("'%1' has no video stream, and its audio cannot be sent")
                     .arg(QFileInfo(m_file.fileName()).fileName());
        return false;
    }
    m_audioDropped = true;
    if (hasAudio())
        m_input->streams[m_audioIndex]->discard = AVDISCARD_ALL;
    m_audioIndex = -1;
    return true;
}

AVRational MediaSource::frameRate() const
{
    if (!hasVideo())
        return {0, 0};
    AVRational rate = av_guess_frame_rate(m_input.get(), const_cast<AVStream *>(stream()), nullptr);
    return rate.num > 0 && rate.den > 0 ? rate : AVRational{0, 0};
}

qint64 MediaSource::durationUs() const
{
    const AVStream *st = mainStream();
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        return av_rescale_q(st->duration, st->time_base, AV_TIME_BASE_Q);
    return m_input->duration > 0 ? m_input->duration : -1;
}

int MediaSource::readPacket(AVPacket *packet)
{
    takeLastFfmpegError(); // so an error message quotes this read's reason only
    if (m_bridge)
        m_bridge->markSteady();
    trace::CallerScope scope("av_read_frame");
    for (;;) {
        const int ret = av_read_frame(m_input.get(), packet);
        if (ret < 0 || packet->stream_index == m_videoIndex || packet->stream_index == m_audioIndex)
            return ret;
        av_packet_unref(packet);
    }
}

bool MediaSource::rewind(QString *error)
{
    if (!canRewind()) {
        *error = QStringLiteral("%1 cannot start again: it is not a file").arg(path());
        return false;
    }
    return openInput(error);
}

int MediaSource::reorderDepth() const
{
    constexpr int kMaxDepth = 16; // H.264's largest decoded picture buffer
    return hasVideo() ? qBound(0, stream()->codecpar->video_delay, kMaxDepth) : 0;
}

} // namespace h264link
