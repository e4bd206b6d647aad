#!/usr/bin/env python3
"""Audio/video sync and audio latency, measured on a real X and sound server.

A generated clip carries a white flash and the start of a 1 kHz beep on the
same frame once a second. It plays in our receiver's window (sender →
receiver) and, in the same run and on the same servers, in ffplay (fed the
same clip over TCP as MPEG-TS by `ffmpeg -re`). Two ffmpeg processes record
what a person would see and hear:

- the screen: x11grab of a 16x16 square in the middle of the player's
  window, 200 times a second; each capture is stamped with the wall clock
  (av_gettime) when it is taken;
- the sound: the null sink's monitor, through FFmpeg's pulse input, whose
  packets are stamped with the wall clock minus the source's latency (the
  monitor's latency is negative: it gets the samples before the sink plays
  them, and that is corrected for).

A flash is shown between the last dark capture and the first white one
(their midpoint); a beep is heard at its first sample above half its peak.
Each flash is paired with the nearest beep: offset = beep heard − flash shown,
so a positive offset means the sound is late. ITU-R BT.1359 puts the
detectability window at −45 ms (sound early) to +125 ms (sound late).

Audio latency (ours only): a relay between the sender and the receiver reads
the protocol's headers as they pass, and notes when each AUDIO message went
through. The beep's first sample was due at the sender when its packet
passed plus its offset within the packet; latency = heard − due.

  bench/av_sync.py [--passes N] [--audio aac|mp3] [--display :41] [--skip-ours] [--skip-ffplay]
                   [--sender PATH] [--receiver PATH]
Prints one JSON object; bench/bench.py merges it into bench/run.sh's result.
"""
import argparse
import bisect
import json
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
SENDER = BUILD / "sender" / "sender"
RECEIVER = BUILD / "receiver" / "receiver"

CLIP_SECONDS = 20   # a whole number: the loop seam keeps the beeps on whole seconds
FPS = 30
RATE = 48000
CAPTURE_FPS = 200
REGION = 16         # side of the captured square, pixels
BT1359 = (-45.0, 125.0)  # detectability window, ms (sound early, sound late)


def log(*args):
    print("av_sync:", *args, file=sys.stderr, flush=True)


def ffmpeg(*args, **kwargs):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True, **kwargs)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else None


def rounded(v):
    return None if v is None else round(v, 1)


def wait_until(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def listening(port):
    """True when something listens on 127.0.0.1:port (read from /proc, so no connection is used up)."""
    needle = f":{port:04X} "
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[1].endswith(needle.strip()) and fields[3] == "0A":
                    return True
        except OSError:
            pass
    return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc, sig=signal.SIGTERM, seconds=10):
    """Stops a process we started, politely first."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- Servers -----------------------------------------------------------------

class XServer:
    """Xvfb on the first free display from `first` on."""

    def __init__(self, first=41):
        for n in range(first, first + 40):
            if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
                self.display = f":{n}"
                break
        else:
            raise RuntimeError("no free X display")
        self.proc = subprocess.Popen(["Xvfb", self.display, "-screen", "0", "1280x800x24", "-br", "-nolisten", "tcp"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        env = dict(os.environ, DISPLAY=self.display)
        wait_until(lambda: subprocess.run(["xdpyinfo"], env=env, capture_output=True).returncode == 0, 10,
                   f"Xvfb on {self.display}")

    def close(self):
        stop(self.proc)


class SoundServer:
    """A private PulseAudio server (its own XDG_RUNTIME_DIR) whose default sink is a null sink, `nul`."""

    def __init__(self):
        self.runtime = tempfile.mkdtemp(prefix="av-sync-pulse-")
        self.env = dict(os.environ, XDG_RUNTIME_DIR=self.runtime,
                        PULSE_SERVER=f"unix:{self.runtime}/pulse/native")
        self.env.pop("PULSE_SINK", None)
        subprocess.run(["pulseaudio", "-D", "-n", "--exit-idle-time=-1", "--log-target=stderr",
                        "--load=module-native-protocol-unix",
                        f"--load=module-null-sink sink_name=nul rate={RATE}"],
                       env=self.env, check=True, capture_output=True)
        wait_until(lambda: subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode == 0,
                   10, "PulseAudio")
        subprocess.run(["pactl", "set-default-sink", "nul"], env=self.env, check=True)

    def close(self):
        subprocess.run(["pulseaudio", "--kill"], env=self.env, capture_output=True)
        pid_file = Path(self.runtime) / "pulse" / "pid"
        try:  # still there: the daemon did not go (empty while it is removing it)
            words = pid_file.read_text().split()
            if words:
                os.kill(int(words[0]), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        subprocess.run(["rm", "-rf", self.runtime])


# ---- The clip -----------------------------------------------------------------

def make_sync_clip(workdir, audio="aac", seconds=CLIP_SECONDS):
    """A flash and a beep start on the same frame once a second: frame n % FPS == 0, sample k % RATE == 0.

    The picture elsewhere is a dimmed moving test pattern, the beep 100 ms of
    a 1 kHz sine at half scale (stereo), silence between."""
    path = Path(workdir) / ("sync.mp4" if audio == "aac" else "sync.mkv")
    acodec = ["-c:a", "aac", "-b:a", "128k"] if audio == "aac" else ["-c:a", "libmp3lame", "-b:a", "128k"]
    beep = "0.5*sin(2*PI*1000*t)*lt(mod(t\\,1)\\,0.1)"
    ffmpeg("-f", "lavfi", "-i",
           f"testsrc2=s=320x240:r={FPS}:d={seconds},lutyuv=y=val*0.35,"
           f"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='eq(mod(n\\,{FPS})\\,0)'",
           "-f", "lavfi", "-i", f"aevalsrc={beep}|{beep}:s={RATE}:d={seconds}",
           "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", str(FPS),
           *acodec, str(path))
    return path


# ---- Capture: what is seen and heard, on the wall clock ----------------------------

class Capture:
    def __init__(self, workdir, env, display, x, y):
        self.dir = Path(workdir)
        self.video_txt = self.dir / "screen.txt"
        self.audio_crc = self.dir / "sound.crc"
        self.audio_raw = self.dir / "sound.raw"
        for f in (self.video_txt, self.audio_crc, self.audio_raw):
            f.unlink(missing_ok=True)
        # -progress: the capture is running once both report output.
        progress = [self.dir / "screen.progress", self.dir / "sound.progress"]
        for f in progress:
            f.unlink(missing_ok=True)
        quiet = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-stats_period", "0.1"]
        # -copyts keeps the devices' wall-clock stamps.
        self.video = subprocess.Popen(
            quiet + ["-progress", str(progress[0]), "-f", "x11grab", "-framerate", str(CAPTURE_FPS),
                     "-video_size", f"{REGION}x{REGION}", "-draw_mouse", "0", "-i", f"{display}+{x},{y}", "-copyts",
                     "-vf", f"signalstats,metadata=print:key=lavfi.signalstats.YAVG:file={self.video_txt}",
                     "-f", "null", "-"], env=env, stderr=subprocess.PIPE, text=True)
        # The same packets twice: their timestamps (framecrc) and their samples (raw).
        self.audio = subprocess.Popen(
            quiet + ["-progress", str(progress[1]), "-f", "pulse", "-sample_rate", str(RATE), "-channels", "1",
                     "-fragment_size", "960", "-i", "nul.monitor", "-copyts",
                     "-map", "0", "-c:a", "pcm_s16le", "-f", "framecrc", str(self.audio_crc),
                     "-map", "0", "-c:a", "pcm_s16le", "-f", "s16le", str(self.audio_raw)],
            env=env, stderr=subprocess.PIPE, text=True)

        def running():
            if self.video.poll() is not None or self.audio.poll() is not None:
                raise RuntimeError("capture failed: " + self._errors())
            return all(f.exists() and re.search(r"^(frame=[1-9]|out_time_us=[1-9])", f.read_text(), re.M)
                       for f in progress)
        try:
            wait_until(running, 10, "the capture to start")
        except RuntimeError:
            self.kill()
            raise

    def kill(self):
        for proc in (self.video, self.audio):
            stop(proc, signal.SIGKILL)

    def _errors(self):
        return " ".join(p.stderr.read() for p in (self.video, self.audio) if p.poll() is not None)

    def stop(self):
        errors = []
        for proc in (self.video, self.audio):
            stop(proc, signal.SIGINT)  # ffmpeg ends its outputs cleanly
            errors.append(proc.stderr.read())
        if not self.video_txt.exists() or not self.audio_crc.exists():
            raise RuntimeError("capture failed: " + " ".join(errors))
        return self.flashes(), self.beeps()

    def flashes(self):
        """Wall-clock times (s) when the square turned white."""
        frames, pts = [], None
        for line in self.video_txt.read_text().splitlines():
            m = re.match(r"frame:\s*\d+\s+pts:\s*(-?\d+)", line)
            if m:
                pts = int(m.group(1)) / 1e6  # x11grab's time base is 1/1000000
            elif line.startswith("lavfi.signalstats.YAVG=") and pts is not None:
                frames.append((pts, float(line.split("=")[1])))
        if not frames:
            return []
        levels = sorted(y for _, y in frames)
        threshold = (levels[len(levels) // 10] + levels[-1]) / 2
        onsets, was_white = [], True  # a flash must be seen coming
        for i, (t, y) in enumerate(frames):
            white = y > threshold and levels[-1] - levels[len(levels) // 10] > 100
            if white and not was_white and (not onsets or t - onsets[-1] > 0.5):
                onsets.append((frames[i - 1][0] + t) / 2)
            was_white = white
        (self.dir / "screen.fps").write_text(str((len(frames) - 1) / (frames[-1][0] - frames[0][0])
                                                  if len(frames) > 1 else 0))
        return onsets

    def beeps(self):
        """Wall-clock times (s) of the first sample of each beep above half its peak."""
        tb = None
        packets = []  # (start time s, samples)
        for line in self.audio_crc.read_text().splitlines():
            if line.startswith("#tb 0:"):
                num, den = line.split(":")[1].strip().split("/")
                tb = int(num) / int(den)
            elif not line.startswith("#") and line.strip():
                fields = [f.strip() for f in line.split(",")]
                packets.append((int(fields[2]) * tb, int(fields[4]) // 2))
        samples = array("h")
        samples.frombytes(self.audio_raw.read_bytes()[:sum(n for _, n in packets) * 2])
        if sys.byteorder != "little":
            samples.byteswap()
        if sum(n for _, n in packets) != len(samples):
            raise RuntimeError("the sound capture's packets and samples disagree")
        # Each sample's time: its packet's stamp plus its place in the packet.
        firsts, k = [], 0
        for _, n in packets:
            firsts.append(k)
            k += n

        def time_of(j):
            p = bisect.bisect_right(firsts, j) - 1
            return packets[p][0] + (j - firsts[p]) / RATE

        peak = max(max(samples), -min(samples)) if samples else 0
        if peak < 1000:
            return []
        onsets, block, i = [], RATE // 1000, 0
        threshold = peak // 4  # find a loud block cheaply, then refine
        while i < len(samples):
            chunk = samples[i:i + block]
            if max(chunk) >= threshold or -min(chunk) >= threshold:
                window = samples[i:i + RATE // 20]  # this beep's own peak, over 50 ms
                half = max(max(window), -min(window)) // 2
                j = max(0, i - block)
                while abs(samples[j]) < half:
                    j += 1
                onsets.append(time_of(j))
                i = j + RATE // 2  # the next beep is a second later
                continue
            i += block
        return onsets


def capture_fps(work):
    f = Path(work) / "screen.fps"
    return float(f.read_text()) if f.exists() else 0.0


def pair(flashes, beeps, within=0.4):
    """(flash time, offset ms) for each flash with a beep within `within` s: beep heard − flash shown."""
    pairs = []
    for f in flashes:
        nearest = min(beeps, key=lambda b: abs(b - f), default=None)
        if nearest is not None and abs(nearest - f) <= within:
            pairs.append((f, (nearest - f) * 1000))
    return pairs


def offset_summary(offsets):
    if not offsets:
        return {"median": None, "p95": None, "n": 0}
    return {"median": rounded(statistics.median(offsets)), "p95": rounded(percentile([abs(o) for o in offsets], 95)),
            "min": rounded(min(offsets)), "max": rounded(max(offsets)), "n": len(offsets)}


# ---- A relay that notes what passes between our sender and receiver ---------------------

HEADER = struct.Struct(">IBBHIqI")  # magic, version, type, flags, sequence, timestamp µs, payload length
AUDIO, MEDIA, AU_END = 0x0C, 0x03, 0x0008


class TapRelay:
    """Forwards one TCP connection to the receiver and notes, on the wall clock,
    when each AUDIO message and each access unit's last MEDIA message passed."""

    def __init__(self, target_port, stall=None):
        self.target_port = target_port
        # (after s, for s): the relay stops reading the sender for a while,
        # as a link that stalls does, so the sender skips GOPs to stay live.
        self.stall = stall
        self.stalled = None  # wall clock (start, end) of the stall, once it happened
        self.server = socket.socket()
        if stall:  # a small window, so the stall reaches the sender at once and not after megabytes
            self.server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = self.server.getsockname()[1]
        self.audio = []  # (wall s, pts µs)
        self.video = []  # (wall s, pts µs) of access units, when their last byte passed
        self._au_pts = None
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        client, _ = self.server.accept()
        self.connected = time.time()
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()
        self._pump(client, upstream, True)

    def _pump(self, src, dst, parse):
        pending = bytearray()
        try:
            while True:
                if parse and self.stall and not self.stalled and time.time() >= self.connected + self.stall[0]:
                    self.stalled = (time.time(), time.time() + self.stall[1])
                    time.sleep(self.stall[1])
                data = src.recv(65536)
                now = time.time()
                if not data:
                    break
                dst.sendall(data)  # first forward, then read
                if parse:
                    pending += data
                    self._parse(pending, now)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _parse(self, pending, now):
        while len(pending) >= HEADER.size:
            _, _, kind, flags, _, _, length = HEADER.unpack_from(pending)
            if len(pending) < HEADER.size + length:
                return
            payload = pending[HEADER.size:HEADER.size + length]
            if kind == AUDIO and length >= 8:
                self.audio.append((now, struct.unpack_from(">q", payload)[0]))
            elif kind == MEDIA and length >= 8:
                pts = struct.unpack_from(">q", payload)[0]
                if flags & AU_END:
                    self.video.append((now, pts))
            del pending[:HEADER.size + length]

    def close(self):
        self.server.close()


def audio_latencies(relay, beeps):
    """Heard − due for each beep: its first sample is due when its packet passed plus its offset in it."""
    packets = sorted(relay.audio, key=lambda p: p[1])
    if len(packets) < 2:
        return []
    due = []  # the beeps start on whole seconds of the stream's timeline
    last = packets[-1][1]
    second, k = (packets[0][1] + 999999) // 1000000 * 1000000, 0
    while second <= last:
        while k + 1 < len(packets) and packets[k + 1][1] <= second:
            k += 1
        wall, pts = packets[k]
        due.append(wall + (second - pts) / 1e6)
        second += 1000000
    latencies = []
    for b in beeps:
        before = [d for d in due if d <= b]
        if before:
            latencies.append((b - max(before)) * 1000)
    return [l for l in latencies if l < 1000]


def video_latencies(relay, flashes):
    """Send → shown for each flash frame (pts on whole seconds), for comparison."""
    due = [wall for wall, pts in relay.video if pts % 1000000 == 0]
    out = []
    for f in flashes:
        before = [d for d in due if d <= f]
        if before and f - max(before) < 1:
            out.append((f - max(before)) * 1000)
    return out


# ---- The players --------------------------------------------------------------

def run_ffplay(clip, passes, work, env, display):
    """ffplay, default settings (audio is the master clock), fed by ffmpeg -re over TCP as MPEG-TS."""
    port = free_port()
    procs, capture = [], None
    try:
        procs.append(subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
                                       "-stream_loop", str(passes - 1), "-i", str(clip), "-c", "copy",
                                       "-f", "mpegts", f"tcp://127.0.0.1:{port}?listen"], env=env))
        wait_until(lambda: listening(port), 10, "ffmpeg to listen")
        capture = Capture(work, env, display, 160 - REGION // 2, 120 - REGION // 2)
        player = subprocess.Popen(["ffplay", "-hide_banner", "-loglevel", "error", "-autoexit", "-noborder",
                                   "-left", "0", "-top", "0", "-x", "320", "-y", "240", f"tcp://127.0.0.1:{port}"],
                                  env=dict(env, SDL_AUDIODRIVER="pulseaudio"), stdout=subprocess.DEVNULL)
        procs.append(player)
        try:
            player.wait(timeout=passes * CLIP_SECONDS + 30)
        except subprocess.TimeoutExpired:
            log("ffplay did not end by itself")
        flashes, beeps = capture.stop()
        capture = None
    finally:
        if capture:
            capture.kill()
        for p in reversed(procs):
            stop(p)
    log(f"ffplay: {len(flashes)} flashes, {len(beeps)} beeps, screen captured at {capture_fps(work):.0f} fps")
    return {"flashes": flashes, "beeps": beeps, "pairs": pair(flashes, beeps)}


def window_geometry(env, name="h264link receiver"):
    out = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", name, "getwindowgeometry",
                          "--shell"], env=env, capture_output=True, text=True, timeout=20).stdout
    g = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return int(g["X"]), int(g["Y"]), int(g["WIDTH"]), int(g["HEIGHT"])


def run_ours(clip, passes, work, env, display, stall=None):
    """Our receiver's window and our sender in real time with --loop, stopped after `passes` passes;
    with `stall` (after, for seconds) the relay stalls the link once."""
    procs, capture, output = [], None, []
    try:
        receiver = subprocess.Popen([str(RECEIVER), "--port", "0", "--once", "--stats"], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        procs.append(receiver)
        # stderr is merged in, so notes (e.g. "no Avahi daemon here") may come before the port line.
        seen, m = [], None
        for line in iter(receiver.stdout.readline, ""):
            seen.append(line)
            m = re.search(r"listening on port (\d+)", line)
            if m or len(seen) >= 20:
                break
        if not m:
            raise RuntimeError("receiver did not listen: " + "".join(seen))
        threading.Thread(target=lambda: output.extend(receiver.stdout), daemon=True).start()
        x, y, w, h = window_geometry(env)
        relay = TapRelay(int(m.group(1)), stall)
        capture = Capture(work, env, display, x + w // 2 - REGION // 2, y + h // 2 - REGION // 2)
        sender = subprocess.Popen([str(SENDER), str(clip), "--host", "127.0.0.1", "--port", str(relay.port),
                                   "--loop"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(sender)
        time.sleep(passes * CLIP_SECONDS + 0.5)  # the run's length: real time is what is measured
        stop(sender)  # SIGTERM: a clean END_OF_STREAM
        sender_err = sender.stderr.read()
        try:
            receiver.wait(timeout=20)
        except subprocess.TimeoutExpired:
            log("ours: the receiver did not end after the sender's END_OF_STREAM")
        time.sleep(0.5)
        flashes, beeps = capture.stop()
        capture = None
        relay.close()
    finally:
        if capture:
            capture.kill()
        for p in reversed(procs):
            stop(p)
    text = "".join(output)
    stats = [json.loads(l) for l in text.splitlines() if l.startswith("{") and '"summary"' not in l]
    number = lambda key: [s[key] for s in stats if isinstance(s.get(key), (int, float))]
    summary_underruns = re.findall(r"(\d+) underruns", text)
    audio_line = next((l for l in sender_err.splitlines() if "audio: " in l), None)
    log(f"ours: {len(flashes)} flashes, {len(beeps)} beeps, {len(relay.audio)} AUDIO messages relayed, "
        f"screen captured at {capture_fps(work):.0f} fps; sender says {audio_line!r}")
    if sender.returncode not in (0, -signal.SIGTERM) or receiver.returncode != 0:
        log(f"ours: sender exit {sender.returncode}, receiver exit {receiver.returncode}")
        log("sender:", sender_err.strip()[-2000:])
        log("receiver:", text.strip()[-2000:])
    underruns = number("audioUnderruns")
    return {"flashes": flashes, "beeps": beeps, "pairs": pair(flashes, beeps),
            "audio_latency": audio_latencies(relay, beeps), "video_latency": video_latencies(relay, flashes),
            "underruns": int(summary_underruns[-1]) if summary_underruns else (max(underruns) if underruns else None),
            "sink_latency_ms": statistics.median(number("audioLatencyMs")) if number("audioLatencyMs") else None,
            "stats_av_offset_ms": statistics.median(number("avOffsetMs")) if number("avOffsetMs") else None,
            "sender_audio": audio_line, "sender_exit": sender.returncode, "receiver_exit": receiver.returncode,
            "stalled": relay.stalled, "stats": stats}


def resync(pairs, passes):
    """The offsets of the beeps on and one second after each loop seam (the beep's time in the run, rounded)."""
    if not pairs:
        return []
    t0 = pairs[0][0]
    by_second = {round(f - t0): o for f, o in pairs}
    seams = []
    for p in range(1, passes):
        s = p * CLIP_SECONDS
        seams.append({"seam_s": s, "offset_at_seam_ms": rounded(by_second.get(s)),
                      "offset_1s_after_ms": rounded(by_second.get(s + 1))})
    return seams


def after_stall(run, within_ms=BT1359[0] * -1):
    """What the picture and sound did after the relay's stall: each flash-beep pair's
    offset, seconds after the stall's end, and when they were back in sync for good
    (|offset| within BT.1359's tighter bound, 45 ms, from that pair on)."""
    if not run["stalled"]:
        return None
    start, end = run["stalled"]
    after = [(f - end, o) for f, o in run["pairs"] if f >= end]
    in_sync = next((t for i, (t, _) in enumerate(after) if all(abs(o) <= within_ms for _, o in after[i:])), None)
    pairs_before = [o for f, o in run["pairs"] if f < start]
    # Live again? sent→shown of the stream's last seconds, against before the stall.
    shown = [s["latency_ms"]["end_to_end_displayed"]["median"] for s in run["stats"]
             if isinstance(s.get("latency_ms", {}).get("end_to_end_displayed", {}).get("median"), (int, float))]
    skipped = [s["skipped"]["sender"] for s in run["stats"] if "skipped" in s]
    return {"stall_s": rounded(end - start), "frames_skipped_by_sender": max(skipped, default=None),
            "sent_to_shown_ms": {"first_5s": rounded(statistics.median(shown[:5])) if shown else None,
                                 "last_5s": rounded(statistics.median(shown[-5:])) if shown else None},
            "offsets_before_ms": offset_summary(pairs_before),
            "after_s_offset_ms": [[rounded(t), rounded(o)] for t, o in after[:6]],
            "in_sync_s_after_stall": rounded(in_sync), "underruns": run["underruns"]}


def measure(passes=3, audio="aac", first_display=41, players=("ffplay", "ours"), stall=None):
    results = {"av_offset_ms": {}, "audio_latency_ms": {}, "av_sync": {}}
    xserver = XServer(first_display)
    sound = None
    try:
        sound = SoundServer()
        env = dict(sound.env, DISPLAY=xserver.display)
        with tempfile.TemporaryDirectory() as tmp:
            clip = make_sync_clip(tmp, audio)
            for name in players:
                run = (run_ffplay if name == "ffplay" else run_ours)(clip, passes, tmp, env, xserver.display)
                offsets = [o for _, o in run["pairs"]]
                results["av_offset_ms"][name] = offset_summary(offsets)
                detail = {"flashes": len(run["flashes"]), "beeps": len(run["beeps"]),
                          "offsets_ms": [rounded(o) for o in offsets], "loop_seams": resync(run["pairs"], passes)}
                if name == "ours":
                    lat = run["audio_latency"]
                    results["audio_latency_ms"]["ours"] = {
                        "median": rounded(statistics.median(lat)) if lat else None,
                        "p95": rounded(percentile(lat, 95)), "n": len(lat)}
                    vlat = run["video_latency"]
                    detail.update({
                        "send_to_flash_shown_ms": {"median": rounded(statistics.median(vlat)) if vlat else None,
                                                   "p95": rounded(percentile(vlat, 95))},
                        "audio_underruns": run["underruns"], "stream_seconds": passes * CLIP_SECONDS,
                        "receiver_audio_latency_ms": rounded(run["sink_latency_ms"]),
                        "receiver_av_offset_ms": rounded(run["stats_av_offset_ms"]),
                        "sender_audio": run["sender_audio"]})
                results["av_sync"][name] = detail
                log(name, json.dumps(results["av_offset_ms"][name]))
            if stall:
                # A second run of ours, whose link stalls once: the sender skips
                # GOPs to stay live; how soon are picture and sound together again?
                run = run_ours(clip, passes, tmp, env, xserver.display, stall)
                results["av_sync"]["gop_skip"] = after_stall(run)
                log("gop skip:", json.dumps(results["av_sync"]["gop_skip"]))
    finally:
        if sound:
            sound.close()
        xserver.close()
    results["av_sync"]["clip"] = {"seconds": CLIP_SECONDS, "passes": passes, "audio": audio,
                                  "capture_fps": CAPTURE_FPS, "bt1359_window_ms": list(BT1359)}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=3, help="passes of the 20 s clip (default 3: 60 s)")
    parser.add_argument("--audio", choices=("aac", "mp3"), default="aac")
    parser.add_argument("--display", default=":41", help="first X display number to try (default :41)")
    parser.add_argument("--sender", help="default: build/sender/sender")
    parser.add_argument("--receiver", help="default: build/receiver/receiver")
    parser.add_argument("--skip-ours", action="store_true")
    parser.add_argument("--skip-ffplay", action="store_true")
    parser.add_argument("--stall", metavar="AFTER:FOR", help="also a run of ours whose link stalls once, "
                        "AFTER seconds into it, FOR seconds (the sender skips GOPs): e.g. 8:2")
    args = parser.parse_args()
    stall = tuple(float(v) for v in args.stall.split(":")) if args.stall else None
    global SENDER, RECEIVER
    SENDER, RECEIVER = Path(args.sender or SENDER), Path(args.receiver or RECEIVER)
    players = [p for p in ("ffplay", "ours") if not getattr(args, "skip_" + p)]
    results = measure(args.passes, args.audio, int(args.display.lstrip(":")), players, stall)
    print(json.dumps(results, separators=(",", ":")))


if __name__ == "__main__":
    main()
