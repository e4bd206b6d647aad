#!/usr/bin/env python3
"""Screen capture-to-screen latency, measured off a real screen: ours, ffmpeg → ffplay, GStreamer.

Two X servers (Xvfb): the source screen :115 (1280x720) shows a clock,
build/tools/screen_clock/screen_clock show, that repaints a barcode of
CLOCK_MONOTONIC (ms) every millisecond. Each system captures :115 at 30 fps,
encodes to H.264, sends it over loopback TCP and shows it in a window on :116;
`screen_clock read` on :116 reads the barcode off the window's pixels about
every 0.5 ms. Each new value read at time t was on the source screen at
capture time `value`: latency = t - value, per frame, the whole path a
person sees (capture, encode, send, receive, decode, draw on the screen).

- ours:      sender --screen :115 → receiver window
- ffmpeg:    ffmpeg -f x11grab … -c:v libx264 -preset ultrafast -tune zerolatency -f mpegts tcp://…
             → ffplay -fflags nobuffer -flags low_delay tcp://…?listen
- gstreamer: ximagesrc ! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast ! h264parse
             ! gdppay ! tcpclientsink sync=false → tcpserversrc ! gdpdepay ! h264parse ! avdec_h264 max-threads=1
             ! videoconvert ! ximagesink sync=false

Where the time goes (ours), measured, not guessed:
- floor:    the clock read on its own screen (:115): painting and reading, no transport.
- capture:  x11grab alone (ffmpeg to a pipe, one row per frame): a frame's
            age when it reaches its reader.
- encode:   the sender's own "transcoding at N× real time": its decode, colour
            conversion and libx264 work per frame is the frame interval / N.
- decode:   the receiver's own --stats (its network and sent→shown figures
            need a clock estimate from PING/PONG, which a sender blocked in
            x11grab between frames answers too late on this machine).
- the rest (network, the window's scaling and painting) is the difference.

  bench/screen_latency.py [--seconds 15] [--skip-ours] [--skip-ffmpeg] [--skip-gstreamer]
Prints one JSON object {"screen_latency_ms": {...}}; bench/bench.py merges it.
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
SENDER = BUILD / "sender" / "sender"
RECEIVER = BUILD / "receiver" / "receiver"
CLOCK = BUILD / "tools" / "screen_clock" / "screen_clock"

SOURCE_DISPLAY = ":115"
VIEW_DISPLAY = ":116"
WIDTH, HEIGHT, FPS = 1280, 720, 30
CELLS = 32


def log(*args):
    print("screen_latency:", *args, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else None


def wait_listening(port, proc, timeout=20):
    """Until something listens on `port` (read from /proc/net/tcp: a test
    connection would be taken for the stream by a one-client server)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
                    return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def start_xvfb(display, size):
    lock = Path(f"/tmp/.X{display[1:]}-lock")
    try:
        os.kill(int(lock.read_text().strip()), 0)
        raise RuntimeError(f"display {display} is taken (an X server runs there: {lock})")
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass  # free, or a stale lock that Xvfb replaces
    proc = subprocess.Popen(["Xvfb", display, "-screen", "0", f"{size}x24", "-nolisten", "tcp", "-noreset"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket_path = Path(f"/tmp/.X11-unix/X{display[1:]}")
    deadline = time.monotonic() + 10
    while not socket_path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"Xvfb {display} did not start")
        time.sleep(0.05)
    return proc


def env_for(display, **extra):
    return dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", SDL_AUDIODRIVER="dummy", **extra)


def stop(*procs):
    for p in procs:
        if p and p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        if not p:
            continue
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def read_clock(display, seconds):
    """screen_clock read on `display`: its JSON summary, or None."""
    r = subprocess.run([str(CLOCK), "read", "--seconds", str(seconds), "--calibrate-seconds", "20"],
                       env=env_for(display), capture_output=True, text=True, timeout=seconds + 60)
    if r.returncode != 0:
        log("reader:", r.stderr.strip())
        return None
    out = json.loads(r.stdout)
    out.pop("values", None)
    return out


def decode_row(row):
    """The barcode's value in one row of gray pixels (the picture's full width), or None."""
    w = len(row)
    levels = []
    for i in range(CELLS):
        a, b = (i * 3 + 1) * w // (CELLS * 3), (i * 3 + 2) * w // (CELLS * 3)
        levels.append(sum(row[a:b + 1]) // (b + 1 - a))
    if levels[0] - levels[1] < 64:
        return None
    threshold = (levels[0] + levels[1]) // 2
    word = 0
    for level in levels[2:]:
        word = word << 1 | (level > threshold)
    value = word >> 6
    return value if (word & 63) == ((value * 2654435761) & 0xFFFFFFFF) >> 26 else None


def now_ms():
    return int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1000) & 0xFFFFFF


def measure_capture(seconds):
    """x11grab alone: per frame, the age of the clock it shows when its reader gets it."""
    band_y = HEIGHT * 2 // 5 + (HEIGHT * 3 // 5 - HEIGHT * 2 // 5) // 2
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "x11grab", "-framerate", str(FPS),
           "-video_size", f"{WIDTH}x{HEIGHT}", "-i", SOURCE_DISPLAY, "-t", str(seconds),
           # One thread: a frame-threaded rawvideo "encoder" holds frames back.
           "-fps_mode", "passthrough", "-threads", "1", "-filter_threads", "1",
           "-vf", f"crop={WIDTH}:1:0:{band_y},format=gray", "-flush_packets", "1", "-f", "rawvideo", "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env_for(SOURCE_DISPLAY), bufsize=0)
    ages = []
    while True:
        row = proc.stdout.read(WIDTH)
        if len(row) < WIDTH:
            break
        while len(row) < WIDTH:  # a pipe may hand over less
            more = proc.stdout.read(WIDTH - len(row))
            if not more:
                break
            row += more
        value = decode_row(row)
        if value is not None:
            ages.append((now_ms() - value) & 0xFFFFFF)
    proc.wait()
    return {"frames": len(ages), "median_ms": percentile(ages, 50), "p95_ms": percentile(ages, 95)}


def run_ours(seconds):
    port = free_port()
    receiver = subprocess.Popen([str(RECEIVER), "--port", str(port), "--stats", "--no-audio"],
                                env=env_for(VIEW_DISPLAY), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True)
    sender = None
    try:
        first = receiver.stdout.readline()
        if "listening on port" not in first:
            raise RuntimeError("receiver did not listen: " + first)
        sender = subprocess.Popen([str(SENDER), "--screen", SOURCE_DISPLAY, "--fps", str(FPS),
                                   "--host", "127.0.0.1", "--port", str(port)],
                                  env=env_for(SOURCE_DISPLAY), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        time.sleep(2)  # past the first keyframe and the window's first paint
        if sender.poll() is not None:
            raise RuntimeError("sender ended: " + sender.stderr.read().strip())
        result = read_clock(VIEW_DISPLAY, seconds)
    finally:
        stop(sender, receiver)
    # "video: transcoding at 3.3× real time": the sender's own measure of its
    # decode + convert + encode work, per frame = frame interval / speed.
    said = sender.stderr.read() if sender else ""
    speed = re.search(r"transcoding at ([0-9.]+)× real time", said)
    if result is not None and speed:
        result["sender_encode_ms_per_frame"] = round(1000.0 / FPS / float(speed.group(1)), 1)
    # The receiver's own view of the same frames: sent → decoded → shown.
    stats = [json.loads(l) for l in receiver.stdout.read().splitlines() if l.startswith("{")]
    shown = [s for s in stats if "latency_ms" in s]
    if result is not None and shown:
        def med(key):
            vals = [s["latency_ms"][key]["median"] for s in shown[2:] or shown
                    if isinstance(s["latency_ms"].get(key), dict) and s["latency_ms"][key].get("median") is not None]
            return round(statistics.median(vals), 1) if vals else None
        result["receiver_stats"] = {k: med(k) for k in shown[-1]["latency_ms"]}
    return result


def run_ffmpeg(seconds):
    port = free_port()
    player = subprocess.Popen(["ffplay", "-hide_banner", "-loglevel", "error", "-fflags", "nobuffer",
                               "-flags", "low_delay", "-an", "-i", f"tcp://127.0.0.1:{port}?listen"],
                              env=env_for(VIEW_DISPLAY), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, player)
    # -omit_video_pes_length 0 and -flush_packets 1: without them the demuxer
    # holds each frame until the next one starts, and the muxer holds 32 kB.
    grabber = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "x11grab",
                                "-framerate", str(FPS), "-video_size", f"{WIDTH}x{HEIGHT}", "-draw_mouse", "1",
                                "-i", SOURCE_DISPLAY, "-c:v", "libx264", "-preset", "ultrafast", "-tune",
                                "zerolatency", "-pix_fmt", "yuv420p", "-g", str(2 * FPS), "-flush_packets", "1",
                                "-omit_video_pes_length", "0", "-f", "mpegts", f"tcp://127.0.0.1:{port}"],
                               env=env_for(SOURCE_DISPLAY), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        return read_clock(VIEW_DISPLAY, seconds)
    finally:
        stop(grabber, player)


def run_gstreamer(seconds):
    port = free_port()
    player = subprocess.Popen(["gst-launch-1.0", "-q", "tcpserversrc", "host=127.0.0.1", f"port={port}", "!",
                               "gdpdepay", "!", "h264parse", "!", "avdec_h264", "max-threads=1", "!",
                               "videoconvert", "!", "ximagesink", "sync=false"],
                              env=env_for(VIEW_DISPLAY), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, player)
    grabber = subprocess.Popen(["gst-launch-1.0", "-q", "ximagesrc", f"display-name={SOURCE_DISPLAY}",
                                "use-damage=false", "show-pointer=true", "!",
                                f"video/x-raw,framerate={FPS}/1", "!", "videoconvert", "!",
                                "video/x-raw,format=I420", "!",
                                "x264enc", "tune=zerolatency", "speed-preset=ultrafast", f"key-int-max={2 * FPS}",
                                "!", "h264parse", "!", "gdppay", "!",
                                # sync=false: a synced sink here let no buffer through at all.
                                "tcpclientsink", "sync=false", "host=127.0.0.1", f"port={port}"],
                               env=env_for(SOURCE_DISPLAY), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        return read_clock(VIEW_DISPLAY, seconds)
    finally:
        stop(grabber, player)


def measure(seconds=15, skip=()):
    for tool in (CLOCK,) + (() if "ours" in skip else (SENDER, RECEIVER)):
        if not tool.exists():
            raise RuntimeError(f"{tool} is missing: build first (cmake --build build)")
    xvfbs = [start_xvfb(SOURCE_DISPLAY, f"{WIDTH}x{HEIGHT}"), start_xvfb(VIEW_DISPLAY, "1920x1080")]
    clock = None
    results = {}
    try:
        clock = subprocess.Popen([str(CLOCK), "show", "--period-ms", "1"], env=env_for(SOURCE_DISPLAY))
        results["floor"] = read_clock(SOURCE_DISPLAY, 3)
        log("floor (the clock read on its own screen):", results["floor"])
        results["capture"] = measure_capture(5)
        log("x11grab alone:", results["capture"])
        for name, run in (("ours", run_ours), ("ffmpeg", run_ffmpeg), ("gstreamer", run_gstreamer)):
            if name in skip:
                continue
            try:
                results[name] = run(seconds)
            except Exception as e:  # one system failing does not void the others
                log(f"{name} failed: {e}")
                results[name] = None
            log(f"{name}:", results[name])
    finally:
        stop(clock)
        for x in xvfbs:
            x.kill()
            x.wait()
    ours = results.get("ours")
    for peer in ("ffmpeg", "gstreamer"):
        if ours and results.get(peer) and ours["median_ms"]:
            results[f"{peer}_over_ours_median"] = round(results[peer]["median_ms"] / ours["median_ms"], 2)
    results["runs"] = {"seconds": seconds, "size": f"{WIDTH}x{HEIGHT}", "fps": FPS,
                       "when": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(),
                       "load": os.getloadavg()[0]}
    return {"screen_latency_ms": results}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=15)
    for name in ("ours", "ffmpeg", "gstreamer"):
        ap.add_argument(f"--skip-{name}", action="store_true")
    args = ap.parse_args()
    skip = {n for n in ("ours", "ffmpeg", "gstreamer") if getattr(args, f"skip_{n}")}
    print(json.dumps(measure(args.seconds, skip)))


if __name__ == "__main__":
    main()
