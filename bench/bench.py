#!/usr/bin/env python3
"""Benchmark h264link against the ffmpeg CLI and GStreamer on the same clips.

Everything runs on this machine over loopback TCP, in one run, so the ratios
mean something even on a shared, noisy machine. See docs/BENCHMARK.md.

- ttff: time from the TCP connection opening to the first decoded picture.
- latency: per frame, from the moment its bytes are sent to the moment it is
  decoded (and, for ours, shown), on a paced 720p30 clip without B-frames.
- throughput: frames per second end to end on a 1080p60 clip sent as fast
  as possible; ours runs with its window (Xvfb), so display work competes
  for the same two cores.
- rss: the peak resident memory of our sender and receiver, with the
  receiver's default (software) renderer; the opengl renderer is measured
  too, for comparison.
- av_offset_ms, audio_latency_ms: sound against picture, and send → heard,
  on a real X server and a real PulseAudio server, ours beside ffplay
  (bench/av_sync.py).
- throughput_fps.ffmpeg_default / ffmpeg_local, realtime_2160p60,
  rtt_under_load_ms, cpu_per_frame_ms: does the receiver keep up, and what
  a shown frame costs, against ffmpeg, ffplay and GStreamer
  (bench/keeping_up.py).
- fanout: one sender serving 1, 10 and 30 receivers: its CPU and memory,
  receiver 1's latency and a late receiver's join, against GStreamer's
  tcpserversink (bench/fanout.py).
- screen_latency_ms: an X screen captured at 1280x720 30 fps, encoded, sent
  and shown on a second X screen, read off its pixels: ours, ffmpeg → ffplay
  and GStreamer (bench/screen_latency.py).

The peers get the same stream as raw Annex B from a feeder that writes one
access unit at a time and notes when; a peer's decode time is when it
reports the frame (ffmpeg's showinfo line, GStreamer's identity message),
timestamped as the line is read.
"""
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

import av_sync
import fanout
import keeping_up
import screen_latency

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
SENDER = BUILD / "sender" / "sender"
RECEIVER = BUILD / "receiver" / "receiver"
RESULTS = ROOT / "bench" / "results"


def log(*args):
    print("bench:", *args, file=sys.stderr, flush=True)


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else None


def rounded(v):
    return None if v is None else round(v, 1)


# ---- Clips -------------------------------------------------------------------

def make_clips(workdir):
    clips = {}
    clips["720p30"] = workdir / "720p30.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=10", "-c:v", "libx264",
           "-preset", "veryfast", "-bf", "0", "-g", "30", "-pix_fmt", "yuv420p", str(clips["720p30"]))
    clips["1080p60"] = workdir / "1080p60.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=60:duration=10", "-c:v", "libx264",
           "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p", str(clips["1080p60"]))
    return clips


def access_units(clip, workdir):
    """The clip as Annex B access units, in decode order, with the frame rate."""
    raw = workdir / (clip.stem + ".h264")
    ffmpeg("-i", str(clip), "-map", "0:v:0", "-c", "copy", "-f", "h264", str(raw))
    sizes = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "packet=size", "-of", "csv=p=0", str(raw)],
                           check=True, capture_output=True, text=True).stdout.split()
    data = raw.read_bytes()
    units, pos = [], 0
    for size in map(int, sizes):
        units.append(data[pos:pos + size])
        pos += size
    if pos < len(data):
        units[-1] += data[pos:]
    rate = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                           "stream=r_frame_rate", "-of", "csv=p=0", str(clip)],
                          check=True, capture_output=True, text=True).stdout.strip()
    num, den = rate.split("/")
    return units, float(num) / float(den)


# ---- Peers: the ffmpeg CLI and GStreamer ----------------------------------------

PEERS = {
    "ffmpeg": lambda port: (["ffmpeg", "-hide_banner", "-nostdin", "-probesize", "32", "-analyzeduration", "0",
                             "-fflags", "nobuffer", "-flags", "low_delay", "-f", "h264",
                             "-i", f"tcp://127.0.0.1:{port}?listen", "-vf", "showinfo", "-f", "null", "-"],
                            re.compile(r"Parsed_showinfo.* n:\s*\d+"), "stderr"),
    "gstreamer": lambda port: (["stdbuf", "-oL", "gst-launch-1.0", "-v", "tcpserversrc", "host=127.0.0.1",
                                f"port={port}", "!", "h264parse", "!", "avdec_h264", "max-threads=1",
                                "!", "identity", "silent=false", "!", "fakesink", "sync=false"],
                               re.compile(r"identity0: last-message = chain"), "stdout"),
}


def run_peer(name, units, fps, paced):
    """Feeds `units` to the peer; returns (connect time, send times, decode times)."""
    port = free_port()
    cmd, frame_line, stream = PEERS[name](port)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    decoded = []

    def reader():
        for line in getattr(proc, stream):
            if frame_line.search(line):
                decoded.append(time.monotonic())

    threading.Thread(target=reader, daemon=True).start()
    threading.Thread(target=lambda: [None for _ in getattr(proc, "stderr" if stream == "stdout" else "stdout")],
                     daemon=True).start()
    sock = None
    deadline = time.monotonic() + 10
    while sock is None and time.monotonic() < deadline:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=1)
        except OSError:
            time.sleep(0.01)
    if sock is None:
        proc.kill()
        raise RuntimeError(f"{name} did not listen")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connected = time.monotonic()
    sent = []
    for i, unit in enumerate(units):
        if paced:
            delay = connected + i / fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sent.append(time.monotonic())
        sock.sendall(unit)
    sock.close()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
    time.sleep(0.2)
    return connected, sent, decoded


# ---- Ours ----------------------------------------------------------------------

def run_ours(clip, fast, display, env, renderer="software"):
    """Runs receiver (+ Xvfb window if `display`) and sender; returns stats."""
    port = free_port()
    receiver_cmd = ["/usr/bin/time", "-f", "RSS_KB %M", str(RECEIVER), "--once", "--stats", "--port", str(port)]
    receiver_cmd += ["--renderer", renderer] if display else ["--headless"]
    receiver = subprocess.Popen(receiver_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first = receiver.stdout.readline()  # "receiver: listening on port N" (not a probe: that would be a sender)
    if "listening on port" not in first:
        receiver.kill()
        raise RuntimeError("receiver did not listen: " + first + receiver.stderr.read())
    sender_cmd = ["/usr/bin/time", "-f", "RSS_KB %M", str(SENDER), str(clip), "--host", "127.0.0.1",
                  "--port", str(port)] + (["--fast"] if fast else [])
    started = time.monotonic()
    sender = subprocess.run(sender_cmd, capture_output=True, text=True, env=env, timeout=120)
    out, err = receiver.communicate(timeout=60)
    ended = time.monotonic()
    summary = next((json.loads(l)["summary"] for l in out.splitlines() if l.startswith('{"summary"')), None)
    if sender.returncode != 0 or summary is None:
        raise RuntimeError(f"our run failed: {sender.stderr} {out} {err}")
    rss = lambda text: int(re.search(r"RSS_KB (\d+)", text).group(1)) / 1024.0
    return {"summary": summary, "seconds": ended - started,
            "rss_sender_mb": rss(sender.stderr), "rss_receiver_mb": rss(err)}


# ---- Main ----------------------------------------------------------------------

def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    RESULTS.mkdir(parents=True, exist_ok=True)
    xvfb, display = keeping_up.start_xvfb()
    env = keeping_up.desktop_env(display)
    results = {"ttff_ms": {}, "latency_ms": {}, "throughput_fps": {}, "rss_mb": {}, "runs": {}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            log("making clips")
            clips = make_clips(work)
            units720, fps720 = access_units(clips["720p30"], work)
            units1080, _ = access_units(clips["1080p60"], work)

            # Latency and ttff: paced 720p30, no B-frames.
            ours = [run_ours(clips["720p30"], fast=False, display=True, env=env) for _ in range(repeats)]
            log("ours (paced 720p30):", [o["summary"] for o in ours])
            pick = lambda key, sub: statistics.median(o["summary"]["latency_ms"][key][sub] for o in ours)
            results["ttff_ms"]["ours"] = rounded(statistics.median(o["summary"]["ttff_ms"] for o in ours))
            results["latency_ms"]["ours"] = {
                "median": rounded(pick("end_to_end_decoded", "median")),
                "p95": rounded(pick("end_to_end_decoded", "p95")),
                "displayed": {"median": rounded(pick("end_to_end_displayed", "median")),
                              "p95": rounded(pick("end_to_end_displayed", "p95"))},
            }
            dropped = {}
            for peer in PEERS:
                ttffs, medians, p95s = [], [], []
                for _ in range(repeats):
                    connected, sent, decoded = run_peer(peer, units720, fps720, paced=True)
                    if not decoded:
                        raise RuntimeError(f"{peer} decoded nothing")
                    ttffs.append((decoded[0] - connected) * 1000)
                    # A peer may never output the first frames (ffmpeg with -fflags
                    # nobuffer drops what it read while analysing the stream), so
                    # frames are matched from the end: the last one out is the
                    # last one sent.
                    matched = sent[len(sent) - len(decoded):]
                    latencies = [(d - s) * 1000 for s, d in zip(matched, decoded)]
                    medians.append(statistics.median(latencies))
                    p95s.append(percentile(latencies, 95))
                    dropped[peer] = len(sent) - len(decoded)
                    log(f"{peer}: decoded {len(decoded)}/{len(sent)}, ttff {ttffs[-1]:.1f} ms, "
                        f"latency median {medians[-1]:.1f} p95 {p95s[-1]:.1f}")
                results["ttff_ms"][peer] = rounded(statistics.median(ttffs))
                results["latency_ms"][peer] = {"median": rounded(statistics.median(medians)),
                                               "p95": rounded(statistics.median(p95s))}

            # Throughput and memory: 1080p60 as fast as possible.
            fast = [run_ours(clips["1080p60"], fast=True, display=True, env=env) for _ in range(repeats)]
            log("ours (--fast 1080p60):", [(f["summary"]["frames_decoded"], round(f["seconds"], 2)) for f in fast])
            results["throughput_fps"]["ours"] = rounded(statistics.median(
                f["summary"]["frames_decoded"] / f["seconds"] for f in fast))
            # Painted frames: with --fast the window shows the newest frame
            # whenever it can, and skips (counts) the rest.
            results["throughput_fps"]["ours_displayed"] = rounded(statistics.median(
                f["summary"]["frames_displayed"] / f["seconds"] for f in fast))
            results["rss_mb"] = {"sender": rounded(max(f["rss_sender_mb"] for f in fast)),
                                 "receiver": rounded(max(f["rss_receiver_mb"] for f in fast))}
            # The same with --renderer opengl (Qt Multimedia's QVideoWidget),
            # for comparison: here it runs on Mesa's software OpenGL.
            fast_gl = [run_ours(clips["1080p60"], fast=True, display=True, env=env, renderer="opengl")
                       for _ in range(repeats)]
            log("ours (--fast 1080p60, --renderer opengl):",
                [(f["summary"]["frames_decoded"], round(f["seconds"], 2)) for f in fast_gl])
            results["throughput_fps"]["ours_opengl"] = rounded(statistics.median(
                f["summary"]["frames_decoded"] / f["seconds"] for f in fast_gl))
            results["rss_mb"]["receiver_opengl"] = rounded(max(f["rss_receiver_mb"] for f in fast_gl))
            rates = []
            for _ in range(repeats):
                connected, sent, decoded = run_peer("ffmpeg", units1080, 60.0, paced=False)
                rates.append(len(decoded) / (decoded[-1] - connected))
            results["throughput_fps"]["ffmpeg"] = rounded(statistics.median(rates))
            # The throughput peers: ffmpeg with its default (frame) threads
            # over TCP, and local ffmpeg with no network (keeping_up.py).
            default = [keeping_up.ffmpeg_default_tcp(clips["1080p60"]) for _ in range(repeats)]
            local = [keeping_up.ffmpeg_local(clips["1080p60"]) for _ in range(repeats)]
            tp = results["throughput_fps"]
            tp["ffmpeg_default"] = rounded(statistics.median(default))
            tp["ffmpeg_local"] = rounded(statistics.median(local))
            tp["ours_over_ffmpeg_default"] = keeping_up.ratio(tp["ours"], tp["ffmpeg_default"])
            tp["ours_over_ffmpeg_local"] = keeping_up.ratio(tp["ours"], tp["ffmpeg_local"])
            results["frames_never_output"] = dropped
            results["runs"] = {"repeats": repeats, "machine": os.uname().nodename, "cpus": os.cpu_count(),
                               "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    finally:
        xvfb.kill()
    log("keeping up: 2160p60 in real time, RTT under load, CPU per shown frame (about 4 minutes)")
    results.update(keeping_up.measure(("realtime_2160p60", "rtt_under_load", "cpu_per_frame"),
                                      repeats=repeats))
    log("sound: A/V offset and audio latency, ours and ffplay, and a stalled link (about 3.5 minutes)")
    sound = av_sync.measure(stall=(8, 4))  # and a run whose link stalls 4 s: GOP skip, resync
    results.update(sound)
    log("fanout: one sender to 1, 10 and 30 receivers, ours and GStreamer (about 3 minutes)")
    try:
        results.update(fanout.measure())
    except Exception as e:  # the rest still stands
        log("fanout not measured:", e)
        results["fanout"] = None
    log("screen: capture-to-screen latency, ours, ffmpeg → ffplay and GStreamer (about 2 minutes)")
    try:
        results.update(screen_latency.measure())
    except Exception as e:  # e.g. its displays are taken: the rest still stands
        log("screen latency not measured:", e)
        results["screen_latency_ms"] = None

    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    line = {k: results[k] for k in ("ttff_ms", "latency_ms", "throughput_fps", "rss_mb", "realtime_2160p60",
                                    "rtt_under_load_ms", "cpu_per_frame_ms", "av_offset_ms",
                                    "audio_latency_ms", "screen_latency_ms", "fanout")}
    print(json.dumps(line, separators=(",", ":")))


if __name__ == "__main__":
    main()
