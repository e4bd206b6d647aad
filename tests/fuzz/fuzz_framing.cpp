// libFuzzer target: arbitrary bytes from the network, through everything the
// receiver (and sender) run before a single byte reaches FFmpeg: the
// incremental MessageDecoder, every typed payload parser, and both handshake
// state machines. Build and run: scripts/fuzz.sh [seconds]
#include "handshake.h"
#include "message_decoder.h"
#include "protocol.h"

#include <cstddef>
#include <cstdint>

using namespace h264link;
using namespace h264link::proto;

namespace {

void parseEverything(const Message &m)
{
    (void)parseHello(m.payload);
    (void)parseStreamInfo(m.payload);
    (void)parseMedia(m.payload);
    (void)parseEndOfStream(m.payload);
    (void)parsePong(m.payload);
    (void)parseErrorInfo(m.payload);
    (void)encode(m); // re-encoding what was decoded must never trip an assert
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    // Byte 0 picks how the stream is cut into reads (the decoder must not
    // care); byte 1 whether the receiver wants an access key.
    const size_t chunk = size_t(data[0] % 64) + 1;
    const bool withKey = data[1] & 1;
    data += 2;
    size -= 2;

    MessageDecoder decoder;
    ReceiverHandshake receiver(withKey ? QByteArray("fuzz key") : QByteArray());
    SenderHandshake sender;
    receiver.start();
    sender.start();
    for (size_t pos = 0; pos < size; pos += chunk) {
        const bool ok = decoder.feed(reinterpret_cast<const char *>(data + pos),
                                     qsizetype(std::min(chunk, size - pos)));
        while (decoder.hasMessage()) {
            const Message m = decoder.takeMessage();
            parseEverything(m);
            if (!receiver.isDone())
                receiver.onMessage(m);
            if (!sender.isDone())
                sender.onMessage(m);
        }
        if (!ok)
            break;
        // The decoder's buffer is bounded by one message plus one read.
        if (decoder.bufferedBytes() > kHeaderSize + qsizetype(kMaxPayloadSize) + qsizetype(chunk))
            __builtin_trap();
    }
    return 0;
}
