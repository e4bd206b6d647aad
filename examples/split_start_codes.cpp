// split_start_codes IN.h264
//
// A receiver's view of a private |header|data| stream. IN.h264 (Annex B) is
// first cut into pieces of uneven size, each sent as
//   | u32 big-endian length of data | data |
// (this example's own tiny framing: the pieces know nothing of frames).
// The receiver takes the pieces apart and finds the NAL units by hand, at
// the start codes 00 00 01 and 00 00 00 01, then groups them into access
// units (pictures): a new one begins at an AUD, SPS, PPS or SEI after a
// slice, or at a slice whose first_mb_in_slice is 0. Next to each, what
// FFmpeg's h264 parser (av_parser_parse2) makes of the same pieces.
// Compare the sizes: ffprobe -show_packets -show_entries packet=size IN.h264
extern "C" {
#include <libavcodec/avcodec.h>
}
#include <algorithm>
#include <cerrno>
#include <cstdio>
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
    std::fprintf(stderr, "split_start_codes: %s: %s\n", what.c_str(), text);
    return 1;
}

struct ParserDeleter { void operator()(AVCodecParserContext *p) const { av_parser_close(p); } };
struct CodecDeleter { void operator()(AVCodecContext *c) const { avcodec_free_context(&c); } };

const char *nalName(int type)
{
    switch (type) {
    case 1: return "non-IDR";
    case 5: return "IDR";
    case 6: return "SEI";
    case 7: return "SPS";
    case 8: return "PPS";
    case 9: return "AUD";
    default: return "other";
    }
}

struct AccessUnit {
    size_t start = 0, end = 0; // offsets in the stream; end is the next unit's start
    std::string nals;
    bool hasSlice = false;
};

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: split_start_codes IN.h264\n");
        return 64;
    }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in)
        return fail(std::string("cannot open '") + argv[1] + "'", AVERROR(errno));
    const std::vector<uint8_t> file(std::istreambuf_iterator<char>(in), {});

    // The sender: pieces of 700 to 2700 bytes, each behind its 4-byte length.
    std::vector<uint8_t> wire;
    for (size_t at = 0, i = 0; at < file.size(); ++i) {
        const size_t n = std::min(file.size() - at, 700 + (i * 7919) % 2000);
        for (int shift = 24; shift >= 0; shift -= 8)
            wire.push_back(uint8_t(n >> shift));
        wire.insert(wire.end(), file.begin() + long(at), file.begin() + long(at + n));
        at += n;
    }

    // The receiver: |header|data| off, the data back into one byte stream;
    // the parser gets each piece as it comes.
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    std::unique_ptr<AVCodecParserContext, ParserDeleter> parser(av_parser_init(AV_CODEC_ID_H264));
    std::unique_ptr<AVCodecContext, CodecDeleter> context(codec ? avcodec_alloc_context3(codec) : nullptr);
    if (!parser || !context)
        return fail("this FFmpeg has no h264 parser or decoder", AVERROR_DECODER_NOT_FOUND);
    std::vector<uint8_t> stream;
    std::vector<int> parsed; // the parser's access unit sizes
    auto parse = [&](const uint8_t *data, int size) { // size 0: flush out the last access unit
        do {
            uint8_t *out = nullptr;
            int outSize = 0;
            const int used = av_parser_parse2(parser.get(), context.get(), &out, &outSize, data, size,
                                              AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
            if (outSize > 0)
                parsed.push_back(outSize);
            data += used;
            size -= used;
        } while (size > 0);
    };
    size_t pieces = 0;
    for (size_t at = 0; at + 4 <= wire.size();) {
        const size_t n = size_t(wire[at]) << 24 | size_t(wire[at + 1]) << 16 | size_t(wire[at + 2]) << 8 | wire[at + 3];
        if (at + 4 + n > wire.size())
            return fail("a piece is cut short", AVERROR_INVALIDDATA);
        stream.insert(stream.end(), wire.begin() + long(at + 4), wire.begin() + long(at + 4 + n));
        parse(wire.data() + at + 4, int(n));
        at += 4 + n;
        ++pieces;
    }
    parse(nullptr, 0);

    // By hand: every 00 00 01; a zero byte before it makes it 00 00 00 01.
    std::vector<AccessUnit> units;
    for (size_t i = 0; i + 3 < stream.size(); ++i) {
        if (stream[i] != 0 || stream[i + 1] != 0 || stream[i + 2] != 1)
            continue;
        const size_t start = (i > 0 && stream[i - 1] == 0) ? i - 1 : i;
        const int type = stream[i + 3] & 0x1F;
        const bool slice = type == 1 || type == 5;
        // first_mb_in_slice is ue(v): its first bit is 1 exactly when it is 0.
        const bool newPicture = slice && i + 4 < stream.size() && (stream[i + 4] & 0x80);
        const bool prefix = type == 6 || type == 7 || type == 8 || type == 9;
        if (units.empty() || (units.back().hasSlice && (prefix || newPicture))) {
            if (!units.empty())
                units.back().end = start;
            units.push_back({start, 0, {}, false});
        }
        std::printf("NAL at %zu: %s (type %d), %d-byte start code\n", start, nalName(type), type,
                    int(i + 3 - start));
        units.back().nals += std::string(units.back().nals.empty() ? "" : " ") + nalName(type);
        units.back().hasSlice = units.back().hasSlice || slice;
        i += 2;
    }
    if (units.empty())
        return fail(std::string("no start code in '") + argv[1] + "': not an Annex B H.264 stream",
                    AVERROR_INVALIDDATA);
    units.back().end = stream.size();

    for (size_t i = 0; i < units.size() || i < parsed.size(); ++i) {
        const long hand = i < units.size() ? long(units[i].end - units[i].start) : -1;
        const long ffmpeg = i < parsed.size() ? parsed[i] : -1;
        std::printf("AU %zu: by hand %ld bytes [%s] | h264 parser %ld bytes%s\n", i, hand,
                    i < units.size() ? units[i].nals.c_str() : "", ffmpeg, hand == ffmpeg ? "" : "  DIFFERENT");
    }
    std::printf("%zu bytes in %zu pieces; access units: by hand %zu, h264 parser %zu\n", stream.size(),
                pieces, units.size(), parsed.size());
    return 0;
}
