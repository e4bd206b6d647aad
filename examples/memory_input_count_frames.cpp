// memory_input_count_frames FILE
//
// Custom input: the whole file is read into memory first, and libavformat
// reads it from there through an AVIOContext whose read_packet and seek we
// write. Every call is printed (read_packet: where in the buffer it reads,
// how much libavformat asked for and how much it got; seek: where to, or
// AVSEEK_SIZE), then the number of video frames, decoded. Compare: ffprobe -v error -count_frames
//   -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 FILE
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/mem.h>
}
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace {

int fail(const std::string &what, int ret)
{
    char text[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(ret, text, sizeof text);
    std::fprintf(stderr, "memory_input_count_frames: %s: %s\n", what.c_str(), text);
    return 1;
}

// The bytes libavformat reads, and where it is in them.
struct MemoryFile {
    std::vector<uint8_t> bytes;
    size_t position = 0;
};

int readPacket(void *opaque, uint8_t *buf, int bufSize)
{
    auto *file = static_cast<MemoryFile *>(opaque);
    const size_t n = std::min(size_t(bufSize), file->bytes.size() - file->position);
    std::printf("read_packet: ptr %p (offset %zu), asked %d, got %zu\n",
                static_cast<void *>(file->bytes.data() + file->position), file->position, bufSize, n);
    if (n == 0)
        return AVERROR_EOF; // never 0: avio_alloc_context asks for a proper AVERROR code
    std::memcpy(buf, file->bytes.data() + file->position, n);
    file->position += n;
    return int(n);
}

// mp4 needs seek: its index (moov) may sit after the media data.
int64_t seek(void *opaque, int64_t offset, int whence)
{
    auto *file = static_cast<MemoryFile *>(opaque);
    const auto size = int64_t(file->bytes.size());
    const int how = whence & ~AVSEEK_FORCE;
    if (how == AVSEEK_SIZE) { // "how big is it?", not a move
        std::printf("seek: AVSEEK_SIZE, answered %lld\n", static_cast<long long>(size));
        return size;
    }
    const int64_t target = how == SEEK_SET ? offset
        : how == SEEK_CUR ? int64_t(file->position) + offset
        : how == SEEK_END ? size + offset : -1;
    std::printf("seek: to %lld\n", static_cast<long long>(target));
    if (target < 0 || target > size)
        return AVERROR(EINVAL);
    file->position = size_t(target);
    return target;
}

// Cleanup order of a custom AVIOContext: libavformat may have replaced our
// buffer by a bigger one, so free ctx->buffer (not the pointer we gave it),
// then the context. The AVFormatContext must be closed before this.
struct AvioDeleter {
    void operator()(AVIOContext *ctx) const { av_freep(&ctx->buffer); avio_context_free(&ctx); }
};
struct InputDeleter { void operator()(AVFormatContext *c) const { avformat_close_input(&c); } };
struct CodecDeleter { void operator()(AVCodecContext *c) const { avcodec_free_context(&c); } };
struct PacketDeleter { void operator()(AVPacket *p) const { av_packet_free(&p); } };
struct FrameDeleter { void operator()(AVFrame *f) const { av_frame_free(&f); } };

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: memory_input_count_frames FILE\n");
        return 64;
    }
    MemoryFile file;
    std::ifstream in(argv[1], std::ios::binary);
    if (!in)
        return fail(std::string("cannot open '") + argv[1] + "'", AVERROR(errno));
    file.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());

    constexpr int kBufferSize = 4096;
    auto *buffer = static_cast<uint8_t *>(av_malloc(kBufferSize));
    if (!buffer)
        return fail("allocating the I/O buffer", AVERROR(ENOMEM));
    // Declared before the format context, so destroyed after it.
    std::unique_ptr<AVIOContext, AvioDeleter> avio(
        avio_alloc_context(buffer, kBufferSize, 0, &file, readPacket, nullptr, seek));
    if (!avio) {
        av_free(buffer);
        return fail("allocating the I/O context", AVERROR(ENOMEM));
    }

    AVFormatContext *raw = avformat_alloc_context();
    if (!raw)
        return fail("allocating the format context", AVERROR(ENOMEM));
    raw->pb = avio.get(); // ours: avformat_close_input leaves it alone
    int ret = avformat_open_input(&raw, nullptr, nullptr, nullptr); // frees raw on failure
    if (ret < 0)
        return fail(std::string("'") + argv[1] + "' is not a media file libavformat can open", ret);
    std::unique_ptr<AVFormatContext, InputDeleter> format(raw);
    if ((ret = avformat_find_stream_info(format.get(), nullptr)) < 0)
        return fail("reading the stream parameters", ret);

    const AVCodec *codec = nullptr;
    const int video = av_find_best_stream(format.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (video < 0)
        return fail("finding a video stream with a decoder", video);
    std::unique_ptr<AVCodecContext, CodecDeleter> decoder(avcodec_alloc_context3(codec));
    if (!decoder)
        return fail("allocating the decoder", AVERROR(ENOMEM));
    if ((ret = avcodec_parameters_to_context(decoder.get(), format->streams[video]->codecpar)) < 0)
        return fail("copying the stream parameters to the decoder", ret);
    if ((ret = avcodec_open2(decoder.get(), codec, nullptr)) < 0)
        return fail(std::string("opening the ") + codec->name + " decoder", ret);

    std::unique_ptr<AVPacket, PacketDeleter> packet(av_packet_alloc());
    std::unique_ptr<AVFrame, FrameDeleter> frame(av_frame_alloc());
    if (!packet || !frame)
        return fail("allocating a packet and a frame", AVERROR(ENOMEM));
    long frames = 0;
    bool draining = false;
    while (!draining) {
        ret = av_read_frame(format.get(), packet.get());
        if (ret == AVERROR_EOF) {
            draining = true; // a null packet: give us the frames still inside
        } else if (ret < 0) {
            return fail("reading a packet", ret);
        } else if (packet->stream_index != video) {
            av_packet_unref(packet.get());
            continue;
        }
        ret = avcodec_send_packet(decoder.get(), draining ? nullptr : packet.get());
        av_packet_unref(packet.get());
        if (ret < 0)
            return fail("decoding", ret);
        while ((ret = avcodec_receive_frame(decoder.get(), frame.get())) >= 0) {
            ++frames;
            av_frame_unref(frame.get());
        }
        if (ret != AVERROR(EAGAIN) && ret != AVERROR_EOF)
            return fail("decoding", ret);
    }
    std::printf("video frames: %ld\n", frames);
    return 0;
}
