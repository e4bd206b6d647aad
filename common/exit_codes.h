// Process exit codes shared by the sender and the receiver (see README).
#pragma once

namespace h264link {

enum ExitCode : int {
    ExitOk = 0,
    ExitFailure = 1,          // anything not listed below
    ExitBadInput = 2,         // the file cannot be streamed (missing, not media, not H.264 ...)
    ExitConnectionFailed = 3, // cannot connect, cannot listen, or the connection broke
    ExitProtocolError = 4,    // the peer refused us or does not speak h264link
    ExitStreamIncomplete = 5, // receiver --once: the stream ended without END_OF_STREAM;
                              // sender: the receiver did not confirm it got and decoded it all
    ExitUsage = 64,           // bad command line
};

} // namespace h264link
