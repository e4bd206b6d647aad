// memory_output_h264 IN.mp4 OUT.h264
//
// Custom output: the first video stream of IN.mp4 (H.264) is remuxed by the
// "h264" muxer, which writes through an AVIOContext whose write_packet we
// write; ours prints each call and appends the bytes to OUT.h264. The muxer
// inserts the h264_mp4toannexb bitstream filter itself, so the result is an
// Annex B stream (start codes, SPS/PPS before each keyframe), the same bytes
// as: ffmpeg -i IN.mp4 -map 0:v:0 -c copy -f h264 OUT.h264
extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/mem.h>
}
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>

namespace {

int fail(const std::string &what, int ret)
{
    char text[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(ret, text, sizeof text);
    std::fprintf(stderr, "memory_output_h264: %s: %s\n", what.c_str(), text);
    return 1;
}

int writePacket(void *opaque, uint8_t *buf, int bufSize)
{
    auto *out = static_cast<std::FILE *>(opaque);
    std::printf("write_packet: ptr %p, %d bytes\n", static_cast<void *>(buf), bufSize);
    if (std::fwrite(buf, 1, size_t(bufSize), out) != size_t(bufSize))
        return AVERROR(EIO); // libavformat reports it from av_write_frame / av_write_trailer
    return bufSize;
}

struct FileCloser {
    void operator()(std::FILE *f) const { std::fclose(f); }
};
// libavformat may replace the buffer we gave it: free ctx->buffer, then the context.
struct AvioDeleter {
    void operator()(AVIOContext *ctx) const { av_freep(&ctx->buffer); avio_context_free(&ctx); }
};
struct InputDeleter {
    void operator()(AVFormatContext *ctx) const { avformat_close_input(&ctx); }
};
struct OutputDeleter { // its pb is ours (AvioDeleter), so only the context is freed
    void operator()(AVFormatContext *ctx) const { avformat_free_context(ctx); }
};
struct PacketDeleter {
    void operator()(AVPacket *p) const { av_packet_free(&p); }
};

} // namespace

int main(int argc, char **argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: memory_output_h264 IN.mp4 OUT.h264\n");
        return 64;
    }
    AVFormatContext *rawInput = nullptr;
    int ret = avformat_open_input(&rawInput, argv[1], nullptr, nullptr);
    if (ret < 0)
        return fail(std::string("cannot open '") + argv[1] + "'", ret);
    std::unique_ptr<AVFormatContext, InputDeleter> input(rawInput);
    if ((ret = avformat_find_stream_info(input.get(), nullptr)) < 0)
        return fail("reading the stream parameters", ret);
    const int video = av_find_best_stream(input.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (video < 0)
        return fail(std::string("'") + argv[1] + "' has no video stream", video);
    const AVStream *inStream = input->streams[video];
    if (inStream->codecpar->codec_id != AV_CODEC_ID_H264)
        return fail(std::string("the video is ") + avcodec_get_name(inStream->codecpar->codec_id) +
                        ", not H.264; the h264 muxer writes H.264 only", AVERROR(EINVAL));

    std::unique_ptr<std::FILE, FileCloser> out(std::fopen(argv[2], "wb"));
    if (!out)
        return fail(std::string("cannot write '") + argv[2] + "'", AVERROR(errno));
    constexpr int kBufferSize = 4096;
    auto *buffer = static_cast<uint8_t *>(av_malloc(kBufferSize));
    if (!buffer)
        return fail("allocating the I/O buffer", AVERROR(ENOMEM));
    // write_flag 1; no read_packet, and no seek: the raw h264 muxer never seeks.
    std::unique_ptr<AVIOContext, AvioDeleter> avio(
        avio_alloc_context(buffer, kBufferSize, 1, out.get(), nullptr, writePacket, nullptr));
    if (!avio) {
        av_free(buffer);
        return fail("allocating the I/O context", AVERROR(ENOMEM));
    }

    AVFormatContext *rawOutput = nullptr;
    if ((ret = avformat_alloc_output_context2(&rawOutput, nullptr, "h264", nullptr)) < 0)
        return fail("creating the h264 muxer", ret);
    std::unique_ptr<AVFormatContext, OutputDeleter> output(rawOutput);
    output->pb = avio.get();
    output->flags |= AVFMT_FLAG_CUSTOM_IO;
    AVStream *outStream = avformat_new_stream(output.get(), nullptr);
    if (!outStream)
        return fail("adding the output stream", AVERROR(ENOMEM));
    if ((ret = avcodec_parameters_copy(outStream->codecpar, inStream->codecpar)) < 0)
        return fail("copying the stream parameters", ret);
    outStream->codecpar->codec_tag = 0; // mp4's 'avc1' means nothing to a raw stream
    outStream->time_base = inStream->time_base;
    if ((ret = avformat_write_header(output.get(), nullptr)) < 0)
        return fail("writing the header", ret);

    std::unique_ptr<AVPacket, PacketDeleter> packet(av_packet_alloc());
    if (!packet)
        return fail("allocating a packet", AVERROR(ENOMEM));
    long packets = 0;
    while ((ret = av_read_frame(input.get(), packet.get())) >= 0) {
        if (packet->stream_index == video) {
            av_packet_rescale_ts(packet.get(), inStream->time_base, outStream->time_base);
            packet->stream_index = 0;
            packet->pos = -1;
            ++packets;
            // Takes the packet's reference; it is blank afterwards either way.
            if ((ret = av_interleaved_write_frame(output.get(), packet.get())) < 0)
                return fail("writing a packet", ret);
        }
        av_packet_unref(packet.get());
    }
    if (ret != AVERROR_EOF)
        return fail("reading a packet", ret);
    if ((ret = av_write_trailer(output.get())) < 0) // also flushes avio's buffer through write_packet
        return fail("finishing the stream", ret);
    if (std::fflush(out.get()) != 0)
        return fail(std::string("writing '") + argv[2] + "'", AVERROR(errno));
    std::printf("%ld video packets remuxed to '%s'\n", packets, argv[2]);
    return 0;
}
