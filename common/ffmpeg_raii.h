// Small owning wrappers for FFmpeg objects, so that no error path has to pair
// frees by hand. Each deleter calls the matching FFmpeg free function, which
// accepts a null pointer.
#pragma once

#include <QString>
#include <memory>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/frame.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

namespace h264link {

// "Invalid data found when processing input (-1094995529)": av_err2str for Qt.
QString averrorText(int errnum);
// averrorText(), plus the error line libav* logged on this thread for the
// failing call, which usually says more: "... (moov atom not found)".
QString averrorDetail(int errnum);

struct InputFormatDeleter {
    void operator()(AVFormatContext *ctx) const { avformat_close_input(&ctx); }
};
// Output contexts are freed, not closed: their pb belongs to whoever set it.
struct OutputFormatDeleter {
    void operator()(AVFormatContext *ctx) const { avformat_free_context(ctx); }
};
struct CodecContextDeleter {
    void operator()(AVCodecContext *ctx) const { avcodec_free_context(&ctx); }
};
struct PacketDeleter {
    void operator()(AVPacket *pkt) const { av_packet_free(&pkt); }
};
struct FrameDeleter {
    void operator()(AVFrame *frame) const { av_frame_free(&frame); }
};
struct SwsDeleter {
    void operator()(SwsContext *ctx) const { sws_freeContext(ctx); }
};
struct SwrDeleter {
    void operator()(SwrContext *ctx) const { swr_free(&ctx); }
};
struct AudioFifoDeleter {
    void operator()(AVAudioFifo *fifo) const { av_audio_fifo_free(fifo); }
};

using InputFormatPtr = std::unique_ptr<AVFormatContext, InputFormatDeleter>;
using OutputFormatPtr = std::unique_ptr<AVFormatContext, OutputFormatDeleter>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;
using SwrPtr = std::unique_ptr<SwrContext, SwrDeleter>;
using AudioFifoPtr = std::unique_ptr<AVAudioFifo, AudioFifoDeleter>;

inline PacketPtr makePacket() { return PacketPtr(av_packet_alloc()); }

struct CodecParametersDeleter {
    void operator()(AVCodecParameters *par) const { avcodec_parameters_free(&par); }
};
using CodecParametersPtr = std::unique_ptr<AVCodecParameters, CodecParametersDeleter>;

// An AVIOContext that avio_open2() opened on one of FFmpeg's own protocols
// (--publish): flushed and closed by avio_closep.
struct AvioDeleter {
    void operator()(AVIOContext *io) const { avio_closep(&io); }
};
using AvioPtr = std::unique_ptr<AVIOContext, AvioDeleter>;

// How a decoder uses the cores.
//   Slice: a thread per core over the slices of one picture; no delay
//     (a stream of one slice per picture gets no parallelism from it).
//   Frame: several pictures at once (and slices within them), as the
//     ffmpeg CLI decodes; each thread holds a frame back.
enum class DecoderThreads { None, Slice, Frame };

// A decoder for `par`, opened. Packets will come in `packetTimeBase`;
// `frameThreads` is the thread count for DecoderThreads::Frame (0: as many
// as FFmpeg picks, one per core plus one). Null, and *error says why ("this
// FFmpeg has no hevc decoder", "the hevc decoder does not open: ..."), if it
// cannot be opened.
CodecContextPtr openDecoder(const AVCodecParameters *par, AVRational packetTimeBase, DecoderThreads threads,
                            int frameThreads, QString *error);
// `sliceThreads`: DecoderThreads::Slice, else None.
inline CodecContextPtr openDecoder(const AVCodecParameters *par, AVRational packetTimeBase, bool sliceThreads,
                                   QString *error)
{
    return openDecoder(par, packetTimeBase, sliceThreads ? DecoderThreads::Slice : DecoderThreads::None, 0, error);
}
inline FramePtr makeFrame() { return FramePtr(av_frame_alloc()); }

} // namespace h264link
