#include "remux/video_transcoder.h"

#include <cmath>

extern "C" {
#include <libavutil/eval.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace h264link {
namespace {

// x264's presets, fastest first.
constexpr const char *kPresets[] = {"ultrafast", "superfast", "veryfast", "faster", "fast",
                                    "medium", "slow", "slower", "veryslow", "placebo"};

int presetIndex(const QString &name)
{
    for (int i = 0; i < int(std::size(kPresets)); ++i)
        if (name == QLatin1String(kPresets[i]))
            return i;
    return -1;
}

QString describeBitRate(int bitRate)
{
    if (bitRate >= 1'000'000)
        return QStringLiteral("%1 Mb/s").arg(bitRate / 1e6, 0, 'f', bitRate % 1'000'000 ? 1 : 0);
    return QStringLiteral("%1 kb/s").arg(bitRate / 1000);
}

bool isRgb(int format)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(AVPixelFormat(format));
    return desc && (desc->flags & AV_PIX_FMT_FLAG_RGB);
}

// libswscale takes the range from the format: full-range 8-bit YUV is its
// "J" twin. (10-bit full range has none and is read as limited.)
AVPixelFormat withRange(AVPixelFormat format, bool fullRange)
{
    if (!fullRange)
        return format;
    switch (format) {
    case AV_PIX_FMT_YUV420P: return AV_PIX_FMT_YUVJ420P;
    case AV_PIX_FMT_YUV422P: return AV_PIX_FMT_YUVJ422P;
    case AV_PIX_FMT_YUV444P: return AV_PIX_FMT_YUVJ444P;
    case AV_PIX_FMT_YUV440P: return AV_PIX_FMT_YUVJ440P;
    case AV_PIX_FMT_YUV411P: return AV_PIX_FMT_YUVJ411P;
    default: return format;
    }
}

// The picture's aspect ratio stays the source's when the scale rounds the
// sides differently.
AVRational scaledAspect(AVRational sar, int srcW, int srcH, int w, int h)
{
    if (sar.num <= 0 || sar.den <= 0)
        sar = AVRational{1, 1};
    AVRational out{};
    av_reduce(&out.num, &out.den, int64_t(sar.num) * srcW * h, int64_t(sar.den) * srcH * w, 65535);
    return std::abs(av_q2d(out) / av_q2d(sar) - 1.0) < 0.01 ? sar : out;
}

} // namespace

int VideoTranscoder::defaultBitRate(int width, int height, AVRational frameRate)
{
    const double fps = frameRate.num > 0 && frameRate.den > 0 ? av_q2d(frameRate) : 25.0;
    const double ratio = double(width) * height * fps / (1280.0 * 720.0 * 30.0);
    const double bitRate = 2.5e6 * std::pow(qMax(ratio, 1e-6), 0.75);
    return int(qBound(200e3, bitRate, 20e6));
}

void VideoTranscoder::scaledSize(int width, int height, int maxSize, int *outWidth, int *outHeight)
{
    double w = width, h = height;
    const int longer = qMax(width, height);
    if (maxSize > 0 && longer > maxSize) {
        w = w * maxSize / longer;
        h = h * maxSize / longer;
    }
    // Rounded to the nearest even number, at least 2.
    *outWidth = qMax(2, int(std::lround(w / 2)) * 2);
    *outHeight = qMax(2, int(std::lround(h / 2)) * 2);
    if (maxSize > 0) { // rounding up must not pass the limit
        *outWidth = qMin(*outWidth, qMax(2, maxSize & ~1));
        *outHeight = qMin(*outHeight, qMax(2, maxSize & ~1));
    }
}

// FFmpeg's own number syntax (av_strtod: "2.5M", "800k", "1500000"), as
// the ffmpeg CLI's -b:v takes it; an optional "b/s" or "bps" after it.
bool VideoTranscoder::parseBitRate(const QString &text, int *bitsPerSecond, QString *error)
{
    const QByteArray utf8 = QString(text).remove(QLatin1Char(' ')).toUtf8(); // "3 Mb/s" as "3Mb/s"
    char *end = nullptr;
    const double value = utf8.isEmpty() ? 0 : av_strtod(utf8.constData(), &end);
    const QByteArray rest = end ? QByteArray(end).trimmed() : QByteArray("?");
    if ((!rest.isEmpty() && rest != "b/s" && rest != "bps") || !(value >= 10e3 && value <= 200e6)) {
        *error = QStringLiteral("invalid --bitrate '%1': give bits per second between 10k and 200M, "
                                "e.g. 2.5M, 800k or 1500000").arg(text);
        return false;
    }
    *bitsPerSecond = int(std::lround(value));
    return true;
}

std::unique_ptr<VideoTranscoder> VideoTranscoder::create(const AVCodecParameters *par, AVRational timeBase,
                                                         const VideoSettings &settings, FramedMediaDevice *out,
                                                         QString *error)
{
    std::unique_ptr<VideoTranscoder> t(new VideoTranscoder);
    t->m_settings = settings;
    t->m_timeBase = timeBase;
    t->m_sourceCodec = QString::fromUtf8(avcodec_get_name(par->codec_id));
    t->m_preset = settings.preset.isEmpty() ? QString::fromLatin1(kDefaultPreset) : settings.preset;
    if (presetIndex(t->m_preset) < 0) {
        *error = QStringLiteral("'%1' is not an x264 preset (ultrafast ... placebo)").arg(t->m_preset);
        return nullptr;
    }
    if (settings.frameRate.num > 0 && settings.frameRate.den > 0)
        t->m_frameRate = settings.frameRate;
    // One frame in the time base: the pts of a source that has none.
    t->m_framePts = qMax<int64_t>(1, av_rescale_q(1, av_inv_q(t->m_frameRate), timeBase));

    if (!(t->m_dec = openDecoder(par, timeBase, true, error)))
        return nullptr;
    if (par->width <= 0 || par->height <= 0) {
        *error = QStringLiteral("the %1 stream gives no picture size").arg(t->m_sourceCodec);
        return nullptr;
    }
    if (!t->openEncoder(par->width, par->height, par->sample_aspect_ratio, error))
        return nullptr;
    int ret = 0;
    if (!out)
        return t;
    AVCodecParameters *encoded = avcodec_parameters_alloc();
    if (!encoded || (ret = avcodec_parameters_from_context(encoded, t->m_enc.get())) < 0) {
        avcodec_parameters_free(&encoded);
        *error = QStringLiteral("cannot describe the H.264 stream: %1").arg(averrorText(encoded ? ret : AVERROR(ENOMEM)));
        return nullptr;
    }
    t->m_muxer = AnnexBMuxer::create(encoded, t->m_enc->time_base, out, error);
    avcodec_parameters_free(&encoded);
    if (!t->m_muxer)
        return nullptr;
    return t;
}

// (Re)opens libx264 for pictures of the source size `srcW`x`srcH`.
bool VideoTranscoder::openEncoder(int srcW, int srcH, AVRational sampleAspect, QString *error)
{
    const AVCodec *x264 = avcodec_find_encoder_by_name("libx264");
    if (!x264) {
        *error = QStringLiteral("this FFmpeg has no libx264 encoder, so it cannot make H.264 "
                                "(Debian's libavcodec59 has one)");
        return false;
    }
    m_sourceWidth = srcW;
    m_sourceHeight = srcH;
    scaledSize(srcW, srcH, m_settings.maxSize, &m_width, &m_height);
    m_bitRate = m_settings.bitRate > 0 ? m_settings.bitRate : defaultBitRate(m_width, m_height, m_frameRate);

    CodecContextPtr enc(avcodec_alloc_context3(x264));
    if (!enc) {
        *error = QStringLiteral("out of memory");
        return false;
    }
    enc->width = m_width;
    enc->height = m_height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->sample_aspect_ratio = scaledAspect(sampleAspect, srcW, srcH, m_width, m_height);
    enc->time_base = m_timeBase; // the source's: its pts go through unchanged
    enc->framerate = m_frameRate;
    enc->gop_size = qMax(1, int(std::lround(kKeyframeIntervalS * av_q2d(m_frameRate))));
    enc->max_b_frames = 0;
    // Average and peak the same, over a one-second buffer: a live link
    // must carry the peaks too.
    enc->bit_rate = m_bitRate;
    enc->rc_max_rate = m_bitRate;
    enc->rc_buffer_size = m_bitRate;
    enc->thread_count = 0; // libavcodec's default is 1; x264 picks slice threads with zerolatency
    enc->color_range = AVCOL_RANGE_MPEG;
    if (isRgb(m_dec->pix_fmt)) { // libswscale converts RGB with BT.601
        enc->colorspace = AVCOL_SPC_SMPTE170M;
    } else {
        enc->colorspace = m_dec->colorspace;
        enc->color_primaries = m_dec->color_primaries;
        enc->color_trc = m_dec->color_trc;
        enc->chroma_sample_location = m_dec->chroma_sample_location;
    }
    int ret = av_opt_set(enc->priv_data, "preset", m_preset.toLatin1().constData(), 0);
    if (ret >= 0)
        ret = av_opt_set(enc->priv_data, "tune", "zerolatency", 0);
    if (ret < 0) {
        *error = QStringLiteral("cannot set libx264's preset %1 / tune zerolatency: %2").arg(m_preset, averrorText(ret));
        return false;
    }
    if ((ret = avcodec_open2(enc.get(), x264, nullptr)) < 0) {
        *error = QStringLiteral("libx264 does not open for %1x%2 at %3: %4")
                     .arg(m_width).arg(m_height).arg(describeBitRate(m_bitRate), averrorDetail(ret));
        return false;
    }
    m_enc = std::move(enc);
    return true;
}

QString VideoTranscoder::outputDescription() const
{
    const bool scaled = m_width != m_sourceWidth || m_height != m_sourceHeight;
    return scaled ? QStringLiteral("H.264 %1x%2 %3").arg(m_width).arg(m_height).arg(describeBitRate(m_bitRate))
                  : QStringLiteral("H.264 %1").arg(describeBitRate(m_bitRate));
}

VideoTranscoder::Result VideoTranscoder::write(AVPacket *packet, const Admit &admit, QString *error)
{
    if (!(packet->flags & AV_PKT_FLAG_DISCARD)) // those never give a picture
        ++m_packetsIn;
    QElapsedTimer busy;
    busy.start();
    const int ret = avcodec_send_packet(m_dec.get(), packet); // most decoders decode here
    m_busyNs += busy.nsecsElapsed();
    av_packet_unref(packet);
    if (ret < 0 && ret != AVERROR(EAGAIN))
        ++m_undecodable; // damaged: left out, the rest goes on
    else if (const Result r = decodeAvailable(admit, error); r != Result::Ok)
        return r;
    return checkDecoding(kMaxPacketsWithoutPicture, error);
}

// A stream whose packets give no picture at all is not a stream to send:
// said once, instead of an empty stream that ends "done".
VideoTranscoder::Result VideoTranscoder::checkDecoding(quint64 maxPackets, QString *error) const
{
    if (m_framesDecoded > 0 || m_packetsIn < maxPackets)
        return Result::Ok;
    *error = QStringLiteral("the %1 video cannot be decoded: %2 packets gave no picture%3 (damaged file?)")
                 .arg(m_sourceCodec).arg(m_packetsIn)
                 .arg(m_undecodable ? QStringLiteral(", the decoder rejected %1 of them").arg(m_undecodable) : QString());
    return Result::BadPacket;
}

VideoTranscoder::Result VideoTranscoder::decodeAvailable(const Admit &admit, QString *error)
{
    for (;;) {
        QElapsedTimer busy;
        busy.start();
        const int ret = avcodec_receive_frame(m_dec.get(), m_decoded.get());
        m_busyNs += busy.nsecsElapsed();
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return Result::Ok;
        if (ret < 0) {
            ++m_undecodable;
            return Result::Ok;
        }
        ++m_framesDecoded;
        const Result r = handleFrame(m_decoded.get(), admit, error);
        av_frame_unref(m_decoded.get());
        if (r != Result::Ok)
            return r;
    }
}

VideoTranscoder::Result VideoTranscoder::handleFrame(AVFrame *frame, const Admit &admit, QString *error)
{
    if (frame->flags & AV_FRAME_FLAG_DISCARD)
        return Result::Ok; // decode-only: before an edit list's start
    int64_t pts = frame->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE)
        pts = m_lastPts == AV_NOPTS_VALUE ? 0 : m_lastPts + m_framePts;
    if (m_lastPts != AV_NOPTS_VALUE && pts <= m_lastPts)
        pts = m_lastPts + 1; // x264 takes rising pts only
    m_lastPts = pts;
    if (isLate(pts)) {
        ++m_late;
        measure(pts);
        return Result::Ok;
    }
    QElapsedTimer busy;
    busy.start();
    if (frame->width != m_sourceWidth || frame->height != m_sourceHeight || m_reopen) {
        // A new size, or a faster preset: drain this encoder, then a new one,
        // whose first frame is a keyframe with its own SPS/PPS.
        if (const Result r = encode(nullptr, admit, error); r != Result::Ok)
            return r;
        m_reopen = false;
        if (!openEncoder(frame->width, frame->height, frame->sample_aspect_ratio, error))
            return Result::BadPacket;
    }
    AVFrame *picture = convert(frame, error);
    if (!picture)
        return Result::BadPacket;
    picture->pts = pts;
    picture->pict_type = AV_PICTURE_TYPE_NONE; // the encoder places the keyframes, not the source
    m_busyNs += busy.nsecsElapsed();
    const Result r = encode(picture, admit, error);
    measure(pts);
    return r;
}

// Real time only. The clock starts at the first frame; a frame this far
// behind it cannot be shown in time anyway, and not encoding it is how a
// slow machine catches up.
bool VideoTranscoder::isLate(int64_t pts)
{
    if (!m_settings.live)
        return false;
    const qint64 ptsUs = av_rescale_q(pts, m_timeBase, AV_TIME_BASE_Q);
    if (m_clockOriginPts != AV_NOPTS_VALUE) {
        const qint64 dueUs = ptsUs - av_rescale_q(m_clockOriginPts, m_timeBase, AV_TIME_BASE_Q);
        const qint64 behindUs = m_clock.nsecsElapsed() / 1000 - dueUs;
        if (qAbs(behindUs) <= kResyncUs)
            return behindUs > kLateUs;
    }
    // The first frame, or a stall or jump (the Pacer starts over too).
    m_clockOriginPts = pts;
    m_clock.start();
    return false;
}

// The decoded picture as the encoder takes it: yuv420p at the size sent.
AVFrame *VideoTranscoder::convert(AVFrame *frame, QString *error)
{
    const bool fullRange = frame->color_range == AVCOL_RANGE_JPEG;
    if (frame->format == AV_PIX_FMT_YUV420P && !fullRange && frame->width == m_width && frame->height == m_height)
        return frame;
    const AVPixelFormat format = withRange(AVPixelFormat(frame->format), fullRange);
    if (!m_sws || m_swsFormat != format || m_swsWidth != frame->width || m_swsHeight != frame->height) {
        m_sws.reset();
        if (sws_isSupportedInput(format) > 0)
            m_sws.reset(sws_getContext(frame->width, frame->height, format, m_width, m_height,
                                       AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr, nullptr, nullptr));
        if (!m_sws) {
            *error = QStringLiteral("libswscale cannot convert %1 %2x%3 to yuv420p %4x%5")
                         .arg(QString::fromUtf8(av_get_pix_fmt_name(format))).arg(frame->width)
                         .arg(frame->height).arg(m_width).arg(m_height);
            return nullptr;
        }
        m_swsFormat = format;
        m_swsWidth = frame->width;
        m_swsHeight = frame->height;
    }
    int ret = 0;
    if (m_scaled->width != m_width || m_scaled->height != m_height) {
        av_frame_unref(m_scaled.get());
        m_scaled->format = AV_PIX_FMT_YUV420P;
        m_scaled->width = m_width;
        m_scaled->height = m_height;
        ret = av_frame_get_buffer(m_scaled.get(), 0);
    } else {
        ret = av_frame_make_writable(m_scaled.get()); // the encoder may still hold the last one
    }
    if (ret >= 0)
        ret = sws_scale(m_sws.get(), frame->data, frame->linesize, 0, frame->height, m_scaled->data,
                        m_scaled->linesize);
    if (ret < 0) {
        *error = QStringLiteral("cannot convert the decoded picture: %1").arg(averrorText(ret));
        return nullptr;
    }
    return m_scaled.get();
}

// `frame` nullptr: drains the encoder (it stays usable only through a re-open).
VideoTranscoder::Result VideoTranscoder::encode(const AVFrame *frame, const Admit &admit, QString *error)
{
    QElapsedTimer busy;
    busy.start();
    int ret = avcodec_send_frame(m_enc.get(), frame);
    if (ret < 0 && ret != AVERROR_EOF) {
        *error = QStringLiteral("libx264 failed: %1").arg(averrorDetail(ret));
        return Result::BadPacket;
    }
    for (;;) {
        ret = avcodec_receive_packet(m_enc.get(), m_encoded.get());
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            break;
        if (ret < 0) {
            *error = QStringLiteral("libx264 failed: %1").arg(averrorDetail(ret));
            return Result::BadPacket;
        }
        m_busyNs += busy.nsecsElapsed(); // sending is not transcoding
        const bool keyframe = m_encoded->flags & AV_PKT_FLAG_KEY;
        Result r = Result::Ok;
        if (!m_muxer || !admit(keyframe))
            av_packet_unref(m_encoded.get()); // checking only, or skipped to stay live (counted by admit)
        else
            r = m_muxer->writeAccessUnit(m_encoded.get(), error);
        av_packet_unref(m_encoded.get());
        if (r != Result::Ok)
            return r;
        busy.start();
    }
    m_busyNs += busy.nsecsElapsed();
    return Result::Ok;
}

// Over each kMeasureUs of media: how fast the transcoding ran. The first
// result is said once; in real time, slower than the video means a faster
// preset from the next frame.
void VideoTranscoder::measure(int64_t pts)
{
    if (m_windowStartPts == AV_NOPTS_VALUE || pts < m_windowStartPts) {
        m_windowStartPts = pts;
        m_busyNs = 0;
        return;
    }
    const qint64 mediaUs = av_rescale_q(pts - m_windowStartPts, m_timeBase, AV_TIME_BASE_Q);
    if (mediaUs < kMeasureUs || m_busyNs <= 0)
        return;
    m_speed = double(mediaUs) * 1000.0 / double(m_busyNs);
    m_windowStartPts = pts;
    m_busyNs = 0;
    const int index = presetIndex(m_preset);
    const bool slow = m_speed < 1.0 && m_settings.live;
    if (slow && index > 0) {
        const QString from = m_preset;
        m_preset = QString::fromLatin1(kPresets[index - 1]);
        m_reopen = true;
        if (!std::exchange(m_saidSlow, true))
            m_notice = QStringLiteral("video: transcoding at %1× real time, slower than the video: switching "
                                      "libx264 from %2 to the %3 preset, and skipping frames that are late")
                           .arg(m_speed, 0, 'f', 1).arg(from, m_preset);
    } else if (!std::exchange(m_saidSpeed, true) && !m_saidSlow) {
        m_notice = QStringLiteral("video: transcoding at %1× real time (libx264 %2)").arg(m_speed, 0, 'f', 1).arg(m_preset);
    }
    m_saidSpeed = true;
}

VideoTranscoder::Result VideoTranscoder::finish(const Admit &admit, QString *error)
{
    int ret = avcodec_send_packet(m_dec.get(), nullptr);
    if (ret < 0 && ret != AVERROR_EOF) {
        *error = QStringLiteral("cannot drain the %1 decoder: %2").arg(m_sourceCodec, averrorText(ret));
        return Result::BadPacket;
    }
    const bool live = std::exchange(m_settings.live, false); // the last frames come at once: none is late
    Result r = decodeAvailable(admit, error);
    m_settings.live = live;
    if (r == Result::Ok)
        r = checkDecoding(1, error);
    if (r == Result::Ok)
        r = encode(nullptr, admit, error);
    if (r == Result::Ok && !m_saidSpeed && m_busyNs > 0 && m_windowStartPts != AV_NOPTS_VALUE
        && m_lastPts > m_windowStartPts) { // a clip shorter than one window
        m_speed = double(av_rescale_q(m_lastPts - m_windowStartPts, m_timeBase, AV_TIME_BASE_Q)) * 1000.0
            / double(m_busyNs);
        m_saidSpeed = true;
        m_notice = QStringLiteral("video: transcoding at %1× real time (libx264 %2)").arg(m_speed, 0, 'f', 1).arg(m_preset);
    }
    if (r == Result::Ok && m_muxer && !m_muxer->finish(error))
        r = Result::SendFailed;
    return r;
}

} // namespace h264link
