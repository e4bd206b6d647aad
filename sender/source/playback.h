// Playback: the file as a live source would produce it, across connections.
//
//   MediaSource --> readNext() (loops) --> place() on one timeline --> Pacer
//
// What must survive a reconnect lives here and nowhere else: the file and
// its position, the loop offset (so that a --loop run's timestamps keep
// rising), the count of frames sent and skipped, and the latest SPS/PPS for
// the next receiver. Audio packets share the timeline and the pacing with
// the video; an audio-only file is paced and positioned by its audio.
// Owned by the sender's worker thread.
#pragma once

#include "sender_options.h"
#include "source/media_source.h"
#include "source/pacer.h"

#include <QByteArray>
#include <atomic>
#include <memory>
#include <utility>

namespace h264link {

class Playback {
public:
    // Returns nullptr and MediaSource's one-line *error.
    static std::unique_ptr<Playback> open(const QString &path, bool loop, bool withAudio, QString *error);
    // What `options` name: the screen (options.screen), a camera
    // (/dev/videoN), stdin ("-") or a file. --loop is refused for anything
    // but a file.
    static std::unique_ptr<Playback> open(const SenderOptions &options, QString *error);

    const MediaSource &source() const { return *m_source; }
    MediaSource &source() { return *m_source; }
    const SenderProgress &progress() const { return m_progress; }
    bool everConnected() const { return m_everConnected; }
    // 1-based number of the next frame in the file's run, for messages.
    quint64 frameNumber() const { return m_progress.accessUnits + m_progress.skippedFrames + 1; }

    // The next packet, starting again at the end with --loop: 0, AVERROR_EOF
    // at the real end, or an error with *message naming the file and frame.
    int readNext(AVPacket *packet, QString *message);
    // Where `packet` is on the continuous timeline (microseconds, in decode
    // order), updating the position; shifts its timestamps by the loop offset.
    qint64 place(AVPacket *packet);
    // How long until the packet placed at `mediaUs` is due (real time).
    // A live source is never held back: its frames come when they are due.
    qint64 delayUs(qint64 mediaUs) { return m_source->isLive() ? 0 : m_pacer.delayUs(mediaUs); }

    // A connection begins: its receiver's decoder starts from nothing, so
    // after a reconnect the frames up to the next keyframe are skipped, and
    // audio starts together with that keyframe.
    // Returns the SPS/PPS to put in front of that keyframe (empty at first).
    QByteArray beginConnection();
    // True (and the packet counted as skipped) while waiting for that keyframe.
    bool skipUntilKeyframe(AVPacket *packet);
    // The one place a frame or an audio packet is counted as not sent; unrefs the packet.
    void skip(AVPacket *packet);
    // A frame went out (`frames` of them: a transcoder's): `bytes` more on
    // the wire, the SPS/PPS it left current.
    void sent(quint64 bytes, const QByteArray &parameterSets, quint64 frames = 1);
    // Frames left out after the packet was read (a transcoder decoded them:
    // too late to encode, or skipped to stay live): counted as skip() does.
    void countSkipped(quint64 frames);
    // Audio went out: `packets` AUDIO messages, `bytes` more on the wire.
    void sentAudio(quint64 packets, quint64 bytes);
    // True once after a gap in the audio sent (the start, a reconnect, a
    // loop restart, audio skipped): the next AUDIO message is flagged.
    bool takeAudioDiscontinuity() { return std::exchange(m_audioGap, false); }
    void setQueuedBytes(qint64 bytes) { m_progress.queuedBytes = bytes; }
    // Read from any thread (the connection answers PING with it).
    quint64 framesSkipped() const { return m_skipped.load(); }

    // No receiver, but one was there: a live sender keeps its place on the
    // clock, as a camera would, and the frames go by unsent. False at the end
    // of the file or on a read error, with *message set.
    bool playUnsent(int forMs, const std::atomic<bool> &stop, QString *message);

private:
    Playback() = default;
    static std::unique_ptr<Playback> start(std::unique_ptr<MediaSource> source, bool loop);

    std::unique_ptr<MediaSource> m_source;
    bool m_loop = false;
    qint64 m_startUs = 0;
    qint64 m_frameUs = 40'000;
    qint64 m_loopOffsetUs = 0; // added to every timestamp so loops continue the timeline
    qint64 m_timelineEndUs = 0;
    Pacer m_pacer;
    SenderProgress m_progress;
    std::atomic<quint64> m_skipped{0}; // = m_progress.skippedFrames, for other threads
    bool m_everConnected = false;
    bool m_waitForKeyframe = false;
    bool m_audioGap = true;
    QByteArray m_parameterSets; // the latest SPS/PPS sent, for the next receiver
};

} // namespace h264link
