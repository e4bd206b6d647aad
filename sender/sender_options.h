// What a person asks the sender to do, and what it reports back while it
// does it. Shared by every stage, the window and the command line.
#pragma once

#include <QByteArray>
#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>

namespace h264link {

// One receiver to dial: `--host a,b:8300,[::1]:8264`.
struct ReceiverAddress {
    QString host;
    quint16 port = 8264;
};

struct SenderOptions {
    QString file; // a media file, "-" (stdin) or a camera (/dev/videoN)
    bool screen = false; // capture the screen of `display` instead of `file`
    QString display; // an X display, e.g. ":0"
    int fps = 30; // the screen's or the camera's frame rate
    QString host = QStringLiteral("127.0.0.1");
    quint16 port = 8264;
    // Fan-out (docs/ARCHITECTURE.md, "One sender, many receivers"): more than
    // one entry here, or `serve`, streams through the Broadcaster; one entry
    // (or none) is the one-to-one path of `host` and `port` above.
    QList<ReceiverAddress> receivers;
    bool serve = false;     // listen on `port`; receivers connect (receiver --connect)
    int maxReceivers = 64;  // at once; the next is refused with ERROR 11 (full)
    bool announce = true;   // --serve: on the LAN (DNS-SD) while it serves; false: --no-announce
    bool stats = false;     // one JSON line a second on stdout, per receiver
    bool fast = false; // send as fast as the link allows, not in real time
    bool loop = false;
    bool retry = false; // reconnect when the receiver goes away, is busy or was closed
    bool noAudio = false; // video only
    int connectTimeoutMs = 5000;
    QByteArray key; // access key; empty: none
    QString keyFile; // where `key` came from (--key-file), remembered by the window
    bool transcode = false; // H.264 too is re-encoded (other codecs always are)
    int bitRate = 0;        // of the H.264 a transcoder makes, bits/s; 0: from the resolution
    int maxSize = 0;        // the longer side of a transcoded picture at most this; 0: the source's
    // --publish (issue 13, publisher): media servers that get the stream too
    // (remux/publisher.h). With `host` empty, they alone get it.
    QStringList publish;
};

struct SenderProgress {
    qint64 positionUs = 0; // within the file; for a live source, since the start
    qint64 durationUs = -1;
    quint64 accessUnits = 0;
    quint64 bytes = 0;
    qint64 queuedBytes = 0; // waiting in the socket
    quint64 skippedFrames = 0; // dropped to stay live (slow link, reconnect, transcoding too slow)
    quint64 audioPackets = 0;
    quint64 audioSkipped = 0; // not sent: no receiver then, or before a reconnect's keyframe
    int loops = 0;
};

} // namespace h264link

Q_DECLARE_METATYPE(h264link::SenderProgress)
