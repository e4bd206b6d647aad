#!/usr/bin/env python3
"""Does the receiver keep up, and what does a shown frame cost? (issue 14)

Four sections, each measuring ours and its peers in the same run, on this
machine, over loopback TCP (the machine is shared: compare the ratios):

- throughput: a 1080p60 clip as fast as possible. Ours (`sender --fast`,
  the receiver with its window) against the ffmpeg CLI receiving from TCP
  with its default (frame) threads, and against local `ffmpeg -i clip`.
- realtime_2160p60: a 2160p60 clip at about 110 Mbit/s sent in real time,
  which this machine cannot decode in real time: frames shown per second
  and send → shown, ours against `ffplay -framedrop`.
- rtt_under_load: the receiver's own RTT (`--stats` rtt_ms) with the link
  idle, while a 25 Mbit/s 1080p30 stream flows, and while the receiver is
  behind (the 2160p60 run).
- cpu_per_frame: CPU time (user + system, every thread) per frame shown,
  1080p30 in real time in a 960x540 window, ours against ffplay and
  GStreamer.

    python3 bench/keeping_up.py [--quick] [--only SECTION,...] [--repeats N]
    python3 bench/keeping_up.py --against OTHER_RECEIVER [--repeats N]

prints one JSON object; bench/run.sh runs it as part of the whole benchmark.
The clips are generated once and kept in ~/.cache/h264link-bench.
See docs/BENCHMARK.md for each peer's command line and why it is the fair one.
"""
import argparse
import codecs
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
SENDER = BUILD / "sender" / "sender"
RECEIVER = BUILD / "receiver" / "receiver"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "h264link-bench"
WINDOW = (960, 540)  # every player shows the picture at this size
SECTIONS = ("throughput", "realtime_2160p60", "rtt_under_load", "cpu_per_frame")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(*args):
    print("keeping_up:", *args, file=sys.stderr, flush=True)


def rounded(v, digits=1):
    return None if v is None else round(v, digits)


def ratio(a, b):
    return None if not a or not b else round(a / b, 2)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """True once something listens on 127.0.0.1:port (read from /proc, so
    that the check does not itself become the listener's one connection)."""
    want = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[1].endswith(want) and fields[3] == "0A":
                    return True
        except OSError:
            pass
    return False


def wait_listening(port, proc, what, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listening(port):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}) before listening")
        time.sleep(0.01)
    raise RuntimeError(f"{what} did not listen on port {port}")


def cpu_seconds(pid):
    """utime + stime of the whole process (every thread), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def reap(proc, timeout):
    """Waits for `proc`; returns its total CPU seconds (every thread), or None
    if it had to be killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    return None


def stop(*procs):
    """Ends what this module started, newest first."""
    for proc in reversed(procs):
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def drain(stream, into=None, pattern=None):
    """Reads `stream` to its end on a thread; keeps lines (or matches)."""
    # os.read returns what the pipe holds: a text stream's read(4096) would
    # wait for 4096 characters, and a line's time would be when more came.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def run():
        buf = ""
        while True:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            buf += decoder.decode(chunk)
            # ffplay and ffmpeg end their status lines with \r, not \n.
            *lines, buf = re.split(r"[\r\n]", buf)
            if into is not None:
                for line in lines:
                    if pattern is None or pattern.search(line):
                        into.append((time.monotonic(), line))
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


# ---- Clips ----------------------------------------------------------------------

def clip(name, size, rate, seconds, *encode):
    """A testsrc2 clip, generated once and cached (the 2160p60 one takes a
    minute here)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}.mp4"
    if not path.exists():
        log(f"making {path.name}")
        tmp = path.with_suffix(".part.mp4")
        subprocess.run(["nice", "-n", "5", "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                        "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}", "-c:v", "libx264",
                        *encode, "-pix_fmt", "yuv420p", str(tmp)], check=True)
        tmp.rename(path)
    return path


class Clips:
    """The clips, each made the first time a section asks for it."""

    def __init__(self, quick):
        s = 5 if quick else 10
        self._specs = {
            # bench/bench.py's throughput clip, 30 s long here so that the
            # rate is the steady one, not each pipeline's start (time to
            # the first picture is measured on its own).
            "1080p60": (f"1080p60-{3 * s}s", "1920x1080", 60, 3 * s, "-preset", "veryfast", "-g", "60"),
            # Camera-like 4K: about 230 kB a frame, a keyframe a second, with
            # CABAC and the deblocking filter as a phone's High profile has
            # them (ultrafast alone turns both off, and decodes in real time here).
            "2160p60": (f"2160p60-110M-cabac-{s}s", "3840x2160", 60, s, "-preset", "ultrafast",
                        "-coder", "1", "-flags", "+loop", "-b:v", "110M",
                        "-minrate", "100M", "-maxrate", "120M", "-bufsize", "60M", "-g", "60"),
            "1080p30": (f"1080p30-25M-{s}s", "1920x1080", 30, s, "-preset", "veryfast", "-b:v", "25M",
                        "-maxrate", "25M", "-bufsize", "12M", "-g", "60"),
            "idle": (f"240p30-{s}s", "320x240", 30, s, "-preset", "veryfast", "-g", "60"),
        }

    def __getitem__(self, name):
        return clip(*self._specs[name])


def probe(path, entries, stream=True):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          ("stream=" if stream else "packet=") + entries, "-of", "csv=p=0", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return out.split()


def access_units(path, workdir):
    """The clip as Annex B access units in decode order, and its frame rate."""
    raw = Path(workdir) / (path.stem + ".h264")
    if not raw.exists():
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(path), "-map", "0:v:0",
                        "-c", "copy", "-f", "h264", str(raw)], check=True)
    data = raw.read_bytes()
    units, pos = [], 0
    for size in map(int, probe(raw, "size", stream=False)):
        units.append(data[pos:pos + size])
        pos += size
    if pos < len(data):
        units[-1] += data[pos:]
    num, den = probe(path, "r_frame_rate")[0].split("/")
    return units, float(num) / float(den)


def feed(port, units, fps, linger=0.0):
    """Writes one access unit at a time to 127.0.0.1:port, paced at `fps` from
    the connection on (as a live source would), and keeps the connection
    open `linger` seconds more. Returns when it started and each unit's
    send time: a reader slower than the stream makes `sendall` wait, and
    the units go out later than their schedule, start + i / fps."""
    sock = None
    deadline = time.monotonic() + 10
    while sock is None:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start = time.monotonic()
    sent = []
    with sock:
        for i, unit in enumerate(units):
            delay = start + i / fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent.append(time.monotonic())
            sock.sendall(unit)
        time.sleep(linger)
    return start, sent


# ---- Ours -----------------------------------------------------------------------

def run_ours(path, env, fast=False, window=True, timeout=120):
    """Receiver (--stats, its window at WINDOW) and sender; returns the
    receiver's per-second reports, its summary, the wall time from the
    sender's start to the receiver's exit, and the receiver's CPU seconds
    from listening to its exit."""
    port = free_port()
    cmd = [str(RECEIVER), "--once", "--stats", "--no-audio", "--port", str(port)]
    cmd += ["--window-size", f"{WINDOW[0]}x{WINDOW[1]}"] if window else ["--headless"]
    receiver = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    sender = None
    try:
        first = receiver.stdout.readline()
        if "listening on port" not in first:
            raise RuntimeError("receiver did not listen: " + first)
        lines, errors = [], []
        out = drain(receiver.stdout, lines)
        drain(receiver.stderr, errors)
        cpu_before = cpu_seconds(receiver.pid)
        started = time.monotonic()
        sender = subprocess.Popen([str(SENDER), str(path), "--quiet", "--no-audio", "--host", "127.0.0.1",
                                   "--port", str(port)] + (["--fast"] if fast else []),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        sender_err = sender.communicate(timeout=timeout)[1]
        cpu_total = reap(receiver, 60)
        ended = time.monotonic()
        out.join(5)
    finally:
        stop(receiver, sender)
    reports, summary = [], None
    for _, line in lines:
        if line.startswith('{"summary"'):
            summary = json.loads(line)["summary"]
        elif line.startswith("{"):
            reports.append(json.loads(line))
    if sender.returncode != 0 or summary is None:
        raise RuntimeError(f"our run failed (sender {sender.returncode}): {sender_err} "
                           + " ".join(l for _, l in errors[-5:]))
    return {"reports": reports, "summary": summary, "seconds": ended - started,
            "cpu_s": None if cpu_total is None else cpu_total - cpu_before, "sender_log": sender_err}


def reported(reports, *keys):
    """One figure from each per-second report that has it."""
    values = []
    for r in reports:
        for k in keys:
            r = r.get(k) if isinstance(r, dict) else None
        if isinstance(r, (int, float)):
            values.append(r)
    return values


# ---- Section: throughput ----------------------------------------------------------

def ffmpeg_frames(progress_lines):
    frames = [int(m.group(1)) for _, l in progress_lines for m in [re.match(r"frame=(\d+)", l)] if m]
    return frames[-1] if frames else 0


def ffmpeg_default_tcp(path):
    """`ffmpeg -f h264 -i tcp://…?listen -f null -` with its defaults (frame
    threads), fed by `ffmpeg -i clip -c copy -f h264 tcp://…` as fast as it
    goes: frames / (feeder start → listener exit)."""
    port = free_port()
    listener = subprocess.Popen(["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
                                 "-progress", "pipe:1", "-f", "h264", "-i", f"tcp://127.0.0.1:{port}?listen",
                                 "-f", "null", "-"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    feeder = None
    try:
        progress = []
        out = drain(listener.stdout, progress)
        wait_listening(port, listener, "ffmpeg")
        started = time.monotonic()
        feeder = subprocess.Popen(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
                                   "-map", "0:v:0", "-c", "copy", "-f", "h264", f"tcp://127.0.0.1:{port}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        listener.wait(timeout=120)
        ended = time.monotonic()
        out.join(5)
    finally:
        stop(listener, feeder)
    return ffmpeg_frames(progress) / (ended - started)


def ffmpeg_local(path):
    """`ffmpeg -i clip -f null -`: no network at all, frames / wall time."""
    started = time.monotonic()
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-progress",
                           "pipe:1", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"],
                          capture_output=True, text=True, check=True, timeout=120)
    ended = time.monotonic()
    return ffmpeg_frames([(0, l) for l in proc.stdout.splitlines()]) / (ended - started)


def throughput(c, env, repeats):
    """Interleaved, so that the machine's load falls on all three alike."""
    ours, ours_shown, headless, default, local = [], [], [], [], []
    for i in range(repeats):
        run = run_ours(c["1080p60"], env, fast=True)
        ours.append(run["summary"]["frames_decoded"] / run["seconds"])
        ours_shown.append(run["summary"]["frames_displayed"] / run["seconds"])
        # Like for like with the ffmpeg CLI, which shows nothing (-f null).
        run = run_ours(c["1080p60"], env, fast=True, window=False)
        headless.append(run["summary"]["frames_decoded"] / run["seconds"])
        default.append(ffmpeg_default_tcp(c["1080p60"]))
        local.append(ffmpeg_local(c["1080p60"]))
        log(f"throughput {i + 1}/{repeats}: ours {ours[-1]:.0f} fps ({ours_shown[-1]:.0f} shown), "
            f"headless {headless[-1]:.0f}, ffmpeg default threads over TCP {default[-1]:.0f}, "
            f"ffmpeg local {local[-1]:.0f}")
    o, h, d, l = median(ours), median(headless), median(default), median(local)
    return {"ours": rounded(o), "ours_displayed": rounded(median(ours_shown)), "ours_headless": rounded(h),
            "ffmpeg_default": rounded(d), "ffmpeg_local": rounded(l), "ours_over_ffmpeg_default": ratio(o, d),
            "ours_over_ffmpeg_local": ratio(o, l), "ours_headless_over_ffmpeg_default": ratio(h, d),
            "ours_headless_over_ffmpeg_local": ratio(h, l)}


# ---- ffplay ------------------------------------------------------------------------

FFPLAY_STATUS = re.compile(r"fd=\s*(\d+)\s+aq=\s*(\d+)KB\s+vq=\s*(\d+)KB")


def run_ffplay(path, units, fps, env):
    """ffplay showing the stream in a WINDOW-sized window, fed in real time;
    frames shown = frames sent − its status line's fd= (frames dropped, early
    and late). ffplay stops reading while its packet queue holds a second or
    more, so a stream it cannot keep up with backs up into the socket and
    the feeder: how late it is shows as how long after the last unit's
    schedule it exits (-autoexit: once the last frame is shown)."""
    port = free_port()
    player = subprocess.Popen(["ffplay", "-hide_banner", "-autoexit", "-framedrop",
                               "-an", "-x", str(WINDOW[0]), "-y", str(WINDOW[1]), "-f", "h264",
                               "-i", f"tcp://127.0.0.1:{port}?listen"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, env=env)
    try:
        status = []
        err = drain(player.stderr, status, FFPLAY_STATUS)
        wait_listening(port, player, "ffplay")
        cpu_before = cpu_seconds(player.pid)
        start, sent = feed(port, units, fps)
        cpu_total = reap(player, 120)
        ended = time.monotonic()
        err.join(5)
    finally:
        stop(player)
    if not status:
        raise RuntimeError("ffplay printed no status line")
    dropped = int(FFPLAY_STATUS.search(status[-1][1]).group(1))
    last_due = start + (len(units) - 1) / fps
    return {"frames_sent": len(sent), "frames_dropped": dropped, "frames_shown": len(sent) - dropped,
            "cpu_s": None if cpu_total is None else cpu_total - cpu_before, "seconds": ended - start,
            "behind_at_end_ms": (ended - last_due) * 1000,
            "feeder_late_max_ms": max(s - (start + i / fps) for i, s in enumerate(sent)) * 1000}


# ---- Section: realtime_2160p60 and rtt_under_load ----------------------------------

def latency_of(run):
    shown = run["summary"]["latency_ms"]["end_to_end_displayed"]
    p95s = reported(run["reports"], "latency_ms", "end_to_end_displayed", "p95")
    return {"median": shown["median"], "p95": shown["p95"], "max_of_1s_p95": rounded(max(p95s, default=None))}


def realtime_2160p60(c, env, units, repeats):
    """Frames shown per second of wall time (the player's start → its exit),
    and how far behind the picture is."""
    ours, ffplay, rtts = [], [], []
    for i in range(repeats):
        run = run_ours(c["2160p60"], env)
        s = run["summary"]
        ours.append({"fps_shown": s["frames_displayed"] / run["seconds"], "frames_decoded": s["frames_decoded"],
                     "frames_shown": s["frames_displayed"], "skipped": s["skipped"], "seconds": run["seconds"],
                     "send_to_shown_ms": latency_of(run)})
        rtts.append(reported(run["reports"], "rtt_ms"))
        log(f"2160p60 {i + 1}/{repeats}: ours {ours[-1]}")
        fp = run_ffplay(c["2160p60"], *units, env)
        ffplay.append({"fps_shown": fp["frames_shown"] / fp["seconds"], "frames_shown": fp["frames_shown"],
                       "frames_dropped": fp["frames_dropped"], "seconds": fp["seconds"],
                       "behind_at_end_ms": fp["behind_at_end_ms"], "feeder_late_max_ms": fp["feeder_late_max_ms"]})
        log(f"2160p60 {i + 1}/{repeats}: ffplay {ffplay[-1]}")
    pick = lambda runs, *keys: median([_get(r, keys) for r in runs])
    o, f = pick(ours, "fps_shown"), pick(ffplay, "fps_shown")
    return {
        "clip_seconds": rounded(len(units[0]) / units[1]),
        "ours": {"fps_shown": rounded(o), "seconds": rounded(pick(ours, "seconds")),
                 "frames_decoded": pick(ours, "frames_decoded"), "frames_shown": pick(ours, "frames_shown"),
                 "skipped_by_sender": pick(ours, "skipped", "sender"),
                 "send_to_shown_ms": {k: rounded(pick(ours, "send_to_shown_ms", k))
                                      for k in ("median", "p95", "max_of_1s_p95")}},
        "ffplay": {"fps_shown": rounded(f), "seconds": rounded(pick(ffplay, "seconds")),
                   "frames_shown": pick(ffplay, "frames_shown"), "frames_dropped": pick(ffplay, "frames_dropped"),
                   "behind_at_end_ms": rounded(pick(ffplay, "behind_at_end_ms")),
                   "feeder_late_max_ms": rounded(pick(ffplay, "feeder_late_max_ms"))},
        "ours_over_ffplay_fps": ratio(o, f),
    }, rtts


def _get(d, keys):
    for k in keys:
        d = d.get(k) if isinstance(d, dict) else None
    return d


def rtt_summary(values):
    return {"median": rounded(median(values), 2), "max": rounded(max(values, default=None), 2), "n": len(values)}


def rtt_under_load(c, env, behind):
    idle = reported(run_ours(c["idle"], env)["reports"], "rtt_ms")
    loaded_run = run_ours(c["1080p30"], env)
    loaded = reported(loaded_run["reports"], "rtt_ms")
    kbps = median(reported(loaded_run["reports"], "bitrate_kbps"))
    out = {"idle": rtt_summary(idle), "stream_25mbit": rtt_summary(loaded),
           "stream_kbps": rounded(kbps, 0)}
    if behind is not None:
        out["behind_2160p60"] = rtt_summary(behind)
    base = out["idle"]["median"]
    for k in ("stream_25mbit", "behind_2160p60"):
        if k in out and base is not None and out[k]["max"] is not None:
            out[k]["max_over_idle_median"] = round(out[k]["max"] - base, 2)
    return out


# ---- Section: cpu_per_frame ---------------------------------------------------------

GST_RENDERED = re.compile(r"rendered: (\d+), dropped: (\d+)")


def run_gstreamer(units, fps, env):
    """tcpserversrc ! h264parse ! avdec_h264 ! videoscale to WINDOW !
    videoconvert ! ximagesink (through fpsdisplaysink, which counts what the
    sink rendered and dropped). Scaled before it is converted: the cheaper
    order (ximagesink does not scale). Not synchronised to the clock: the
    raw stream's timestamps start at 0 when the pipeline does, not when the
    first byte arrives, so with sync the sink would drop every frame as late;
    like ours, it shows each frame as soon as it is decoded."""
    port = free_port()
    player = subprocess.Popen(["gst-launch-1.0", "-v", "tcpserversrc", "host=127.0.0.1", f"port={port}", "!",
                               "h264parse", "!", "avdec_h264", "!", "videoscale", "!",
                               f"video/x-raw,width={WINDOW[0]},height={WINDOW[1]}", "!", "videoconvert", "!",
                               "fpsdisplaysink", "text-overlay=false", "video-sink=ximagesink", "sync=false",
                               "fps-update-interval=500"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, env=env)
    try:
        counts = []
        out = drain(player.stdout, counts, GST_RENDERED)
        wait_listening(port, player, "gst-launch-1.0")
        cpu_before = cpu_seconds(player.pid)
        # fpsdisplaysink reports every 500 ms, and not at the end: the
        # connection stays open a second, so that its last report comes
        # after the last frame, and then EOS ends the pipeline.
        _, sent = feed(port, units, fps, linger=1.0)
        cpu_total = reap(player, 60)
        out.join(5)
    finally:
        stop(player)
    if not counts:
        raise RuntimeError("gst-launch-1.0 reported no rendered frames")
    rendered, dropped = map(int, GST_RENDERED.search(counts[-1][1]).groups())
    return {"frames_sent": len(sent), "frames_shown": rendered, "frames_dropped": dropped,
            "cpu_s": None if cpu_total is None else cpu_total - cpu_before}


def cpu_per_frame(c, env, units, repeats):
    per = {"ours": [], "ffplay": [], "gstreamer": [], "ours_headless": []}
    shown = {k: [] for k in per}
    order = ("ours", "ffplay", "gstreamer", "ours_headless")
    for i in range(repeats):
        for name in (order if i % 2 == 0 else order[::-1]):
            if name == "ours":
                run = run_ours(c["1080p30"], env)
                frames, cpu = run["summary"]["frames_displayed"], run["cpu_s"]
            elif name == "ours_headless":  # no window: per frame decoded, what the display adds is the difference
                run = run_ours(c["1080p30"], env, window=False)
                frames, cpu = run["summary"]["frames_decoded"], run["cpu_s"]
            elif name == "ffplay":
                run = run_ffplay(c["1080p30"], *units, env)
                frames, cpu = run["frames_shown"], run["cpu_s"]
            else:
                run = run_gstreamer(*units, env)
                frames, cpu = run["frames_shown"], run["cpu_s"]
            per[name].append(cpu * 1000 / frames if frames and cpu is not None else None)
            shown[name].append(frames)
            log(f"cpu 1080p30 {i + 1}/{repeats} {name}: {cpu} s CPU, {frames} frames shown, "
                f"{per[name][-1]} ms a frame")
    out = {k: {"ms": rounded(median(v), 2), "frames_shown": median(shown[k]), "runs": [rounded(x, 2) for x in v]}
           for k, v in per.items()}
    best = min((out[k]["ms"] for k in ("ffplay", "gstreamer") if out[k]["ms"] is not None), default=None)
    out["ours_over_best_peer"] = ratio(out["ours"]["ms"], best)
    if out["ours"]["ms"] is not None and out["ours_headless"]["ms"] is not None:
        out["ours_display_ms"] = round(out["ours"]["ms"] - out["ours_headless"]["ms"], 2)
    out["window"] = f"{WINDOW[0]}x{WINDOW[1]}"
    return out


# ---- Another receiver build against this one -------------------------------------------

def against(other, env, quick, repeats):
    """This receiver and `other` (another build of it), alternated in one run:
    --fast 1080p60 (frames decoded and painted per second, CPU per decoded
    frame), 1080p30 live (CPU per shown frame) and 720p30 live without
    B-frames (send → shown), so that a change is told from the load."""
    global RECEIVER
    c = Clips(quick)
    live720 = clip("720p30-bf0", "1280x720", 30, 10, "-preset", "veryfast", "-bf", "0", "-g", "30")
    builds = {"this": RECEIVER, "other": Path(other).resolve()}
    runs = {name: [] for name in builds}
    try:
        for i in range(repeats):
            for name in (("other", "this") if i % 2 == 0 else ("this", "other")):
                RECEIVER = builds[name]
                fast = run_ours(c["1080p60"], env, fast=True)
                live = run_ours(c["1080p30"], env)
                low = run_ours(live720, env)
                f, l, w = fast["summary"], live["summary"], low["summary"]
                runs[name].append({
                    "fast_fps": f["frames_decoded"] / fast["seconds"],
                    "fast_fps_painted": f["frames_displayed"] / fast["seconds"],
                    "fast_cpu_ms_per_decoded": fast["cpu_s"] * 1000 / f["frames_decoded"],
                    # Every decoded frame is shown or counted as skipped: this must be 0.
                    "fast_frames_unaccounted": f["frames_decoded"] - f["frames_displayed"] - f["skipped"]["display"],
                    "live1080p30_cpu_ms_per_shown": live["cpu_s"] * 1000 / l["frames_displayed"],
                    "live720p30_shown_median_ms": w["latency_ms"]["end_to_end_displayed"]["median"],
                    "live720p30_shown_p95_ms": w["latency_ms"]["end_to_end_displayed"]["p95"],
                    "live720p30_frames_shown": w["frames_displayed"],
                })
                log(f"against {i + 1}/{repeats} {name}: " + json.dumps({k: rounded(v, 2) for k, v in runs[name][-1].items()}))
    finally:
        RECEIVER = builds["this"]
    return {name: {k: rounded(median([r[k] for r in rs]), 2) for k in rs[0]} | {"receiver": str(builds[name])}
            for name, rs in runs.items()}


# ---- Main ----------------------------------------------------------------------------

def start_xvfb(first=161, last=169):
    for n in range(first, last + 1):
        if not Path(f"/tmp/.X{n}-lock").exists():
            proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1920x1200x24", "-nolisten", "tcp"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while not Path(f"/tmp/.X11-unix/X{n}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            return proc, f":{n}"
    raise RuntimeError(f"no free X display in :{first}-:{last}")


def desktop_env(display, **extra):
    """What a desktop session gives its programs: a runtime directory and a
    D-Bus session bus. Where no bus runs, libdbus forks dbus-launch inside
    every GUI program at start-up (ours, and ffplay's SDL), and the fork
    write-protects each page the program had written, so the receiver's
    pre-faulted heap faults again (docs/BENCHMARK.md). "disabled:" is an
    address that fails at once: no fork, as with a running bus."""
    env = dict(os.environ, DISPLAY=display, **extra)
    env.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="bench-xdg-"))
    env.setdefault("DBUS_SESSION_BUS_ADDRESS", "disabled:")
    return env


def measure(sections=SECTIONS, quick=False, repeats=None, display=None):
    """The sections asked for, as one dict of JSON figures."""
    repeats = repeats or (1 if quick else 3)
    c = Clips(quick)
    xvfb = None
    if display is None:
        xvfb, display = start_xvfb()
    env = desktop_env(display, SDL_AUDIODRIVER="dummy")
    results = {}
    try:
        with tempfile.TemporaryDirectory() as work:
            if "throughput" in sections:
                results["throughput_fps"] = throughput(c, env, repeats)
            behind = None
            if "realtime_2160p60" in sections or "rtt_under_load" in sections:
                units = access_units(c["2160p60"], work)
                results["realtime_2160p60"], rtts = realtime_2160p60(c, env, units, repeats)
                behind = [v for r in rtts for v in r]
            if "rtt_under_load" in sections:
                results["rtt_under_load_ms"] = rtt_under_load(c, env, behind)
            if "cpu_per_frame" in sections:
                units = access_units(c["1080p30"], work)
                results["cpu_per_frame_ms"] = cpu_per_frame(c, env, units, repeats)
    finally:
        stop(xvfb)
    results["keeping_up_runs"] = {"repeats": repeats, "quick": quick, "cpus": os.cpu_count(),
                                  "load": round(os.getloadavg()[0], 1), "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated: " + ", ".join(SECTIONS))
    parser.add_argument("--quick", action="store_true", help="5 s clips, one repeat")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--against", metavar="RECEIVER",
                        help="instead: this receiver against another build of it, alternated (see against())")
    args = parser.parse_args()
    if args.against:
        xvfb, display = start_xvfb()
        try:
            env = desktop_env(display)
            result = against(args.against, env, args.quick, args.repeats or 3)
        finally:
            stop(xvfb)
        print(json.dumps({"against": result}, separators=(",", ":")))
        return
    sections = args.only.split(",")
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error("unknown section(s): " + ", ".join(sorted(unknown)))
    print(json.dumps(measure(sections, args.quick, args.repeats), separators=(",", ":")))


if __name__ == "__main__":
    main()
