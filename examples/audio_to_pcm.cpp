// audio_to_pcm IN.aac|IN.mp3 OUT.pcm
//
// Custom input and a decoder: libavformat reads IN through our read_packet
// and seek (over a FILE*), the decoder it names decodes the first audio
// stream, and libswresample converts each frame to signed 16-bit
// interleaved samples (s16le on this machine), at the source's rate and
// channels, written raw to OUT.pcm. The same bytes as:
//   ffmpeg -i IN -f s16le -acodec pcm_s16le OUT.pcm
// Play it: ffplay -f s16le -ar RATE -ch_layout stereo OUT.pcm
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/mem.h>
#include <libswresample/swresample.h>
}
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {

int fail(const std::string &what, int ret)
{
    char text[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(ret, text, sizeof text);
    std::fprintf(stderr, "audio_to_pcm: %s: %s\n", what.c_str(), text);
    return 1;
}

int readPacket(void *opaque, uint8_t *buf, int bufSize)
{
    const size_t n = std::fread(buf, 1, size_t(bufSize), static_cast<std::FILE *>(opaque));
    if (n == 0)
        return std::ferror(static_cast<std::FILE *>(opaque)) ? AVERROR(EIO) : AVERROR_EOF;
    return int(n);
}

// Without it, the mp3 demuxer cannot find the file's end, and the encoder's
// padding there (gapless playback) is decoded as if it were sound.
int64_t seek(void *opaque, int64_t offset, int whence)
{
    auto *file = static_cast<std::FILE *>(opaque);
    if ((whence & ~AVSEEK_FORCE) == AVSEEK_SIZE) { // the size, without moving
        const off_t here = ftello(file);
        if (fseeko(file, 0, SEEK_END) != 0)
            return AVERROR(errno);
        const off_t size = ftello(file);
        return fseeko(file, here, SEEK_SET) == 0 ? int64_t(size) : AVERROR(errno);
    }
    if (fseeko(file, off_t(offset), whence & ~AVSEEK_FORCE) != 0)
        return AVERROR(errno);
    return int64_t(ftello(file));
}

struct FileCloser { void operator()(std::FILE *f) const { std::fclose(f); } };
// Close the format context first; then ctx->buffer (maybe replaced), then the context.
struct AvioDeleter {
    void operator()(AVIOContext *ctx) const { av_freep(&ctx->buffer); avio_context_free(&ctx); }
};
struct InputDeleter { void operator()(AVFormatContext *c) const { avformat_close_input(&c); } };
struct CodecDeleter { void operator()(AVCodecContext *c) const { avcodec_free_context(&c); } };
struct SwrDeleter { void operator()(SwrContext *c) const { swr_free(&c); } };
struct PacketDeleter { void operator()(AVPacket *p) const { av_packet_free(&p); } };
struct FrameDeleter { void operator()(AVFrame *f) const { av_frame_free(&f); } };

} // namespace

int main(int argc, char **argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: audio_to_pcm IN.aac|IN.mp3 OUT.pcm\n");
        return 64;
    }
    std::unique_ptr<std::FILE, FileCloser> in(std::fopen(argv[1], "rb"));
    if (!in)
        return fail(std::string("cannot open '") + argv[1] + "'", AVERROR(errno));
    std::unique_ptr<std::FILE, FileCloser> out(std::fopen(argv[2], "wb"));
    if (!out)
        return fail(std::string("cannot write '") + argv[2] + "'", AVERROR(errno));

    constexpr int kBufferSize = 4096;
    auto *buffer = static_cast<uint8_t *>(av_malloc(kBufferSize));
    if (!buffer)
        return fail("allocating the I/O buffer", AVERROR(ENOMEM));
    std::unique_ptr<AVIOContext, AvioDeleter> avio(
        avio_alloc_context(buffer, kBufferSize, 0, in.get(), readPacket, nullptr, seek));
    if (!avio) {
        av_free(buffer);
        return fail("allocating the I/O context", AVERROR(ENOMEM));
    }
    AVFormatContext *raw = avformat_alloc_context();
    if (!raw)
        return fail("allocating the format context", AVERROR(ENOMEM));
    raw->pb = avio.get();
    int ret = avformat_open_input(&raw, nullptr, nullptr, nullptr); // frees raw on failure
    if (ret < 0)
        return fail(std::string("'") + argv[1] + "' is not a media file libavformat can open", ret);
    std::unique_ptr<AVFormatContext, InputDeleter> format(raw);
    if ((ret = avformat_find_stream_info(format.get(), nullptr)) < 0)
        return fail("reading the stream parameters", ret);

    const AVCodec *codec = nullptr;
    const int audio = av_find_best_stream(format.get(), AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (audio < 0)
        return fail(std::string("'") + argv[1] + "' has no audio stream this FFmpeg can decode", audio);
    std::unique_ptr<AVCodecContext, CodecDeleter> decoder(avcodec_alloc_context3(codec));
    if (!decoder)
        return fail("allocating the decoder", AVERROR(ENOMEM));
    if ((ret = avcodec_parameters_to_context(decoder.get(), format->streams[audio]->codecpar)) < 0)
        return fail("copying the stream parameters to the decoder", ret);
    if ((ret = avcodec_open2(decoder.get(), codec, nullptr)) < 0)
        return fail(std::string("opening the ") + codec->name + " decoder", ret);

    std::unique_ptr<AVPacket, PacketDeleter> packet(av_packet_alloc());
    std::unique_ptr<AVFrame, FrameDeleter> frame(av_frame_alloc());
    if (!packet || !frame)
        return fail("allocating a packet and a frame", AVERROR(ENOMEM));
    // To s16, one plane (interleaved), at the same rate and channels.
    SwrContext *rawSwr = nullptr;
    if ((ret = swr_alloc_set_opts2(&rawSwr, &decoder->ch_layout, AV_SAMPLE_FMT_S16, decoder->sample_rate,
                                   &decoder->ch_layout, decoder->sample_fmt, decoder->sample_rate, 0, nullptr)) < 0)
        return fail("setting up the sample conversion", ret);
    std::unique_ptr<SwrContext, SwrDeleter> resampler(rawSwr);
    if ((ret = swr_init(resampler.get())) < 0)
        return fail("setting up the sample conversion", ret);
    std::vector<uint8_t> pcm;
    long samples = 0;
    // Converts one frame (or, with nullptr, what the resampler still holds) and writes it.
    auto convert = [&](const AVFrame *f) -> int {
        const int channels = decoder->ch_layout.nb_channels;
        const int room = swr_get_out_samples(resampler.get(), f ? f->nb_samples : 0);
        if (room < 0)
            return room;
        pcm.resize(size_t(room) * size_t(channels) * 2);
        uint8_t *planes[1] = {pcm.data()}; // interleaved: one plane
        const int n = swr_convert(resampler.get(), planes, room, f ? const_cast<const uint8_t **>(f->extended_data)
                                                                   : nullptr, f ? f->nb_samples : 0);
        if (n < 0)
            return n;
        samples += n;
        const size_t bytes = size_t(n) * size_t(channels) * 2;
        return std::fwrite(pcm.data(), 1, bytes, out.get()) == bytes ? 0 : AVERROR(EIO);
    };
    bool draining = false;
    while (!draining) {
        ret = av_read_frame(format.get(), packet.get());
        if (ret == AVERROR_EOF) {
            draining = true;
        } else if (ret < 0) {
            return fail("reading a packet", ret);
        } else if (packet->stream_index != audio) {
            av_packet_unref(packet.get());
            continue;
        }
        ret = avcodec_send_packet(decoder.get(), draining ? nullptr : packet.get());
        av_packet_unref(packet.get());
        if (ret < 0)
            return fail("decoding", ret);
        while ((ret = avcodec_receive_frame(decoder.get(), frame.get())) >= 0) {
            ret = convert(frame.get());
            av_frame_unref(frame.get());
            if (ret < 0)
                return fail(std::string("converting to s16 and writing '") + argv[2] + "'", ret);
        }
        if (ret != AVERROR(EAGAIN) && ret != AVERROR_EOF)
            return fail("decoding", ret);
    }
    if ((ret = convert(nullptr)) < 0)
        return fail(std::string("writing '") + argv[2] + "'", ret);
    if (std::fflush(out.get()) != 0)
        return fail(std::string("writing '") + argv[2] + "'", AVERROR(errno));
    std::printf("%ld samples per channel, %d Hz, %d channels, s16 interleaved\n", samples,
                decoder->sample_rate, decoder->ch_layout.nb_channels);
    return 0;
}
