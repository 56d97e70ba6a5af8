#!/usr/bin/python3
"""The streamer's GStreamer pipeline, run as a child process of the Node streamer.

Why a separate Python process: gst-launch-1.0 cannot change the encoder's bitrate or force a
keyframe while it runs, and GStreamer's introspection bindings are first-class in Python
(Debian python3-gst-1.0) while Node has no maintained ones. The process is small and
stateless: it captures, encodes and sends RTP to a UDP port on loopback, where the Node
streamer hands the packets to werift.

Protocol: one JSON object per line.
The `pulse` source captures PulseAudio's default source (a sink's monitor) as Opus instead.

  stdin  (commands): {"cmd": "bitrate", "kbps": 4000} | {"cmd": "keyframe"} | {"cmd": "stop"}
  fd 3 (AV1 only):   encoded frames, see sink_descriptions()
  UDP --port:        RTP, and before each frame's first packet a capture stamp (see CaptureStamps)
  stdout (events):   {"event": "ready", "encoder": "x264enc", ...}
                     {"event": "stats", "frames": n, "fps": f, "encodeMs": ms, "pipelineMs": ms, "bytes": b}
                     {"event": "error", "message": "..."} (then exit 1)
"""

import argparse
import collections
import ctypes
import json
import os
import socket
import struct
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstVideo  # noqa: E402

from floe_xcapture import CaptureError, DamageCapture, YuvLayout  # noqa: E402

BARCODE_BITS = 44
BARCODE_CELL = 20
BARCODE_HEIGHT = 16


def emit(event, **fields):
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def encoder_available(name):
    return Gst.ElementFactory.find(name) is not None


# The encoder of each software codec; H.264 alone has a choice (NVENC or x264).
# Full colour (4:4:4) only from x264: NVENC's 4:4:4 depends on the GPU, and none here has NVENC.
SOFTWARE_ENCODERS = {"VP8": "vp8enc", "VP9": "vp9enc", "AV1": "av1enc", "VP9-444": "vp9enc", "H264-444": "x264enc"}
# The codecs with full colour resolution, and the raw format their encoder is given.
FULL_CHROMA = {"H264-444", "VP9-444"}


def raw_format(codec):
    """I420 (4:2:0, one colour sample per 2x2 pixels), or Y444 for the full-colour codecs."""
    return "Y444" if codec in FULL_CHROMA else "I420"


def choose_encoder(codec, preference):
    if codec in SOFTWARE_ENCODERS:
        return SOFTWARE_ENCODERS[codec]
    if preference in ("auto", "nvh264enc") and encoder_available("nvh264enc"):
        return "nvh264enc"
    if preference == "nvh264enc":
        raise RuntimeError("nvh264enc was asked for but NVENC is not available")
    return "x264enc"


def keyframe_interval(fps):
    return fps * 4  # a keyframe every 4 s bounds recovery when a PLI is lost


def encoder_description(encoder, kbps, fps, threads, full_chroma=False):
    gop = keyframe_interval(fps)
    if encoder == "x264enc":
        # From Y444, x264 writes High 4:4:4 Predictive; with these settings (no B-frames, no
        # CABAC at ultrafast) it uses nothing else of the High profiles.
        profile = "high-4:4:4" if full_chroma else "constrained-baseline"
        return (
            f"x264enc name=enc tune=zerolatency speed-preset=ultrafast bitrate={kbps} "
            f"key-int-max={gop} b-adapt=false bframes=0 threads={threads} sliced-threads=true "
            f"vbv-buf-capacity=120 ! video/x-h264,profile={profile},stream-format=byte-stream"
        )
    if encoder == "nvh264enc":
        return (
            f"nvh264enc name=enc preset=low-latency-hp rc-mode=cbr-ld-hq bitrate={kbps} "
            f"gop-size={gop} bframes=0 zerolatency=true ! "
            "video/x-h264,profile=constrained-baseline,stream-format=byte-stream"
        )
    if encoder == "vp9enc":
        return vp9_description(kbps, gop, threads, full_chroma)
    if encoder == "av1enc":
        return av1_description(kbps, gop, threads)
    # VP8 on one thread: libvpx's multi-threaded VP8 encoder makes its threads wait for each
    # other's rows by spinning (sched_yield loops), so on a busy or CPU-quota'd core a waiting
    # thread burns the slice its partner needs. Measured on this 2-core machine at load ~15:
    # 720p went from 50 fps on one thread to 3 fps on two (VP9's row-mt waits on a condition
    # variable and keeps 60 fps). One thread encoded 720p in 4-8 ms, 1080p in 12 ms (same load).
    return (
        f"vp8enc name=enc deadline=1 cpu-used=16 end-usage=cbr target-bitrate={kbps * 1000} "
        f"keyframe-max-dist={gop} lag-in-frames=0 error-resilient=default threads=1 "
        "buffer-size=200 buffer-initial-size=100 buffer-optimal-size=120 min-quantizer=4 max-quantizer=56"
    )


def vp9_description(kbps, gop, threads, full_chroma=False):
    """libvpx VP9 in its real-time mode, set up the way libwebrtc sets it up for a camera.

    - deadline=1: libvpx's "realtime" deadline, one pass, no look-ahead; with lag-in-frames=0
      every input frame comes out at once (no frame is held back for alt-ref analysis).
    - cpu-used=8: the fastest speed of the real-time mode but one (9 trades visibly more
      quality for little speed in libvpx 1.12); about 4 ms a 1080p frame here.
    - row-mt with tile-columns=2 (4 tile columns, log2): rows of each tile are encoded on all
      threads, so one frame uses every core instead of frames being pipelined (which would
      add a frame of latency).
    - end-usage=cbr, buffer 200/100/120 ms: a constant rate with a short VBV, so a keyframe
      cannot burst more than a fraction of a second of data ahead of the congestion window.
    - aq-mode=3 (cyclic refresh): refreshes a band of blocks each frame, as libwebrtc does,
      so a loss heals over a few frames without a full keyframe and keyframes stay rare.
    - error-resilient off: NACK and PLI repair losses; VP9's resilient mode (no context
      carried between frames) costs ~5-10 % bitrate, and libwebrtc uses it only with SVC.
    - frame-parallel-decoding=false: the decoder's frame-parallel mode buys nothing for a
      one-frame-at-a-time stream and costs compression.
    - profile 0 (8-bit 4:2:0) is what I420 input gives; it is the profile every browser decodes.
      Profile 1 (8-bit 4:4:4) from Y444, for the full-colour codec.
    """
    return (
        f"vp9enc name=enc deadline=1 cpu-used=8 end-usage=cbr target-bitrate={kbps * 1000} "
        f"keyframe-max-dist={gop} lag-in-frames=0 threads={threads} row-mt=true tile-columns=2 "
        "aq-mode=cyclic-refresh frame-parallel-decoding=false error-resilient=0 "
        "buffer-size=200 buffer-initial-size=100 buffer-optimal-size=120 min-quantizer=4 max-quantizer=56 "
        f"! video/x-vp9,profile=(string){1 if full_chroma else 0}"
    )


def av1_description(kbps, gop, threads):
    """libaom AV1 in its real-time usage profile (libaom 3.6 in Debian 12).

    - usage-profile=realtime with cpu-used=10: libaom's real-time encoder at its fastest
      speed (speed 10 exists only in real-time mode, for screen content and low-end devices);
      slower speeds cost several times the CPU for a few % of bitrate.
    - lag-in-frames=0: no look-ahead, so each frame leaves the encoder as it goes in.
    - end-usage=cbr, buf-sz 200 ms (initial 100, optimal 120): as for VP8/VP9, a short rate
      buffer so keyframes do not burst far beyond the target. target-bitrate is in kbit/s.
    - row-mt with tile-columns=1 (2 columns, log2): every thread works on one frame.
    - keyframe-max-dist (keyframe-mode=auto, libaom's real-time mode has no scene-cut
      detection): a keyframe every 4 s, or at once when a PLI forces one.
    - Error resilience: libaom's error-resilient mode is not exposed by av1enc in GStreamer
      1.22; NACK and PLI repair losses.
    """
    return (
        f"av1enc name=enc usage-profile=realtime cpu-used=10 end-usage=cbr target-bitrate={kbps} "
        f"keyframe-mode=auto keyframe-max-dist={gop} lag-in-frames=0 threads={threads} "
        "row-mt=true tile-columns=1 buf-sz=200 buf-initial-sz=100 buf-optimal-sz=120 "
        "min-quantizer=4 max-quantizer=56 "
        "! video/x-av1,stream-format=obu-stream,alignment=tu"
    )


def payloader_description(codec, pt):
    if codec == "VP8":
        return f"rtpvp8pay name=pay pt={pt} mtu=1200 picture-id-mode=15-bit"
    if codec in ("VP9", "VP9-444"):
        return f"rtpvp9pay name=pay pt={pt} mtu=1200 picture-id-mode=15-bit"
    return f"rtph264pay name=pay pt={pt} mtu=1200 config-interval=-1 aggregate-mode=zero-latency"


def sink_descriptions(args):
    """Where encoded video goes: RTP over loopback UDP, or (AV1) whole frames on a pipe.

    Debian 12's GStreamer has no AV1 RTP payloader (rtpav1pay is in gst-plugins-rs, which
    Debian does not ship), so AV1 temporal units go to the Node streamer on --frames-fd and
    werift's Av1Packetizer (RFC 9628 aggregation headers, OBU fragmentation) makes the RTP.
    A pipe, not UDP: a 1080p AV1 keyframe can exceed a datagram's 64 KiB.
    Each frame is framed as: u32 length, u32 RTP timestamp (90 kHz), u8 flags (1 = keyframe),
    u64 capture time (µs since the Unix epoch, this host's wall clock; 0 when unknown).
    """
    if args.codec == "AV1":
        return ["appsink name=frames emit-signals=true sync=false async=false max-buffers=8"]
    return [
        payloader_description(args.codec, args.pt),
        f"udpsink host=127.0.0.1 port={args.port} sync=false async=false",
    ]


def audio_description(args):
    server = f" server={args.pulse_server}" if args.pulse_server else ""
    # 10 ms Opus frames keep audio latency near the video's; in-band FEC hides single losses.
    return " ! ".join(
        [
            # the default sink's monitor, not the default source: that is the viewer's microphone
            f"pulsesrc name=src device=@DEFAULT_MONITOR@ do-timestamp=true{server} "
            "buffer-time=20000 latency-time=10000",
            "audio/x-raw,rate=48000,channels=2",
            "queue name=q max-size-time=40000000 leaky=downstream",
            f"opusenc name=enc bitrate={args.kbps * 1000} frame-size=10 inband-fec=true",
            f"rtpopuspay pt={args.pt} mtu=1200",
            f"udpsink host=127.0.0.1 port={args.port} sync=false async=false",
        ]
    )


def yuv_layout(fmt, width, height):
    """GStreamer's layout of an I420 or Y444 frame of this size (its planes' offsets and strides)."""
    info = GstVideo.VideoInfo()
    info.set_format(GstVideo.VideoFormat.from_string(fmt), width, height)
    return YuvLayout(list(info.offset)[:3], list(info.stride)[:3], info.size, fmt == "I420")


def source_description(args, size=None, converted=False):
    """The source, ending in raw frames of raw_format(args.codec). `converted`: the damage
    capture converts them itself (libyuv)."""
    caps = f"framerate={args.fps}/1"
    fmt = raw_format(args.codec)
    if args.source == "x11" and size is not None:
        # Damage-driven capture (floe_xcapture.py) pushes frames of the screen's size as
        # soon as they are drawn; variable rate, so the caps' rate is the cap, not a tick.
        # One frame waits at most, and a newer one replaces it (leaky): when the encoder
        # falls behind, frames are dropped here instead of queueing (latency). The capture
        # converts what changed to I420 or Y444 itself (libyuv); without libyuv, BGRx frames
        # go through videoconvert, which converts the whole screen every frame.
        width, height = size
        src = (
            f"appsrc name=src is-live=true do-timestamp=true format=time "
            "max-buffers=1 leaky-type=downstream "
        )
        if converted:
            # libyuv's ARGBToI420/I444 are BT.601 (limited range); said in the caps, the
            # encoder writes it into the stream (VUI), or the browser would decode it as the
            # HD default, BT.709
            return src + (
                f"caps=video/x-raw,format={fmt},width={width},height={height},colorimetry=bt601,{caps}"
            )
        return (
            src + f"caps=video/x-raw,format=BGRx,width={width},height={height},{caps} "
            f"! videoconvert n-threads={args.threads} ! video/x-raw,format={fmt}"
        )
    if args.source == "x11":
        return (
            f"ximagesrc name=src display-name={args.display} use-damage=false show-pointer=true "
            f"! video/x-raw,{caps} ! videoconvert n-threads={args.threads} "
            f"! video/x-raw,format={fmt}"
        )
    # Bare source: frames painted here and pushed straight into the encoder, for measuring
    # what X capture costs. Same barcode as the probe app.
    return (
        f"appsrc name=src is-live=true do-timestamp=true format=time "
        f"caps=video/x-raw,format={fmt},width={args.width},height={args.height},{caps}"
    )


class CaptureStamps:
    """Tells the Node streamer when each frame was captured, so that it can stamp the frame's RTP
    packets with the abs-capture-time header extension (issue 18: glass-to-glass measured for
    every app). A 16-byte datagram, b"floe" + u32 RTP timestamp + u64 capture time (µs since
    the Unix epoch), goes to the RTP port just before the frame's first packet: on loopback
    datagrams are queued in the order they are sent, so the stamp is there before the packets
    it describes, and an RTP packet (version 2) is never mistaken for one (b"f" is version 1).

    The payloader runs in the encoder's streaming thread, so its packets for a frame come right
    after the encoder's src pad saw that frame (on_encoded sets `current`).
    """

    MAGIC = b"floe"

    def __init__(self, port):
        self.port = port
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.current = 0  # capture time of the frame being payloaded, µs
        self.last_timestamp = None

    def on_packets(self, _pad, info):
        if info.type & Gst.PadProbeType.BUFFER_LIST:
            packets = info.get_buffer_list()
            first = packets.get(0) if packets.length() > 0 else None
        else:
            first = info.get_buffer()
        if first is None or self.current == 0:
            return Gst.PadProbeReturn.OK
        header = first.extract_dup(4, 4)
        if len(header) == 4 and header != self.last_timestamp:
            self.last_timestamp = header
            try:
                stamp = self.MAGIC + header + struct.pack(">Q", self.current)
                self.socket.sendto(stamp, ("127.0.0.1", self.port))
            except OSError:
                pass  # a lost stamp costs one frame's measurement, nothing more
        return Gst.PadProbeReturn.OK


class Pipeline:
    def __init__(self, args):
        self.args = args
        self.capture = None  # the damage capture of an X source; audio and bare have none
        if args.source == "pulse":
            self.encoder = "opusenc"
            description = audio_description(args)
        else:
            self.encoder = choose_encoder(args.codec, args.encoder)
            self.capture = open_damage_capture(args) if args.source == "x11" else None
            size = (self.capture.width, self.capture.height) if self.capture else None
            converted = (
                self.capture is not None
                and args.convert == "libyuv"
                and self.capture.output_yuv(yuv_layout(raw_format(args.codec), *size))
            )
            full_chroma = args.codec in FULL_CHROMA
            description = " ! ".join(
                [
                    source_description(args, size, converted),
                    "queue name=q max-size-buffers=1 leaky=downstream",
                    encoder_description(self.encoder, args.kbps, args.fps, args.threads, full_chroma),
                    *sink_descriptions(args),
                ]
            )
        self.pipeline = Gst.parse_launch(description)
        self.enc = self.pipeline.get_by_name("enc")
        self.loop = GLib.MainLoop()
        self.lock = threading.Lock()
        self.captured = {}  # pts -> (monotonic time the frame left the source, wall clock µs)
        self.in_flight = collections.deque(maxlen=16)  # (entered encoder, left source, wall µs)
        self.frames = 0
        self.bytes = 0
        self.av1_forcing = False  # a keyframe was asked of av1enc and has not come out yet
        self.encode_total = 0.0
        self.pipeline_total = 0.0
        self.window_start = time.monotonic()
        self.stamps = CaptureStamps(args.port) if args.source != "pulse" else None
        self.probe_pads()
        if args.codec == "AV1" and args.source != "pulse":
            self.frames_out = open(args.frames_fd, "wb", buffering=0, closefd=False)
            sink = self.pipeline.get_by_name("frames")
            sink.connect("new-sample", self.on_av1_frame)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)

    def probe_pads(self):
        first = self.pipeline.get_by_name("src")
        first.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, self.on_captured)
        self.enc.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self.on_enter)
        self.enc.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, self.on_encoded)
        pay = self.pipeline.get_by_name("pay")
        if pay is not None and self.stamps is not None:
            pay.get_static_pad("src").add_probe(
                Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, self.stamps.on_packets
            )

    def on_captured(self, _pad, info):
        buf = info.get_buffer()
        # The capture time sent with the frame (CaptureStamps): now, just after the source read
        # the screen. Not the buffer's timestamp: ximagesrc stamps the tick it woke at, and on a
        # loaded machine it may read the screen tens of ms later, so a paint made in between
        # would look older than it is. Now is never before the content was drawn.
        wall = int(time.time() * 1e6)
        with self.lock:
            self.captured.setdefault(buf.pts, (time.monotonic(), wall))
        return Gst.PadProbeReturn.OK

    def on_enter(self, _pad, info):
        # Encoders re-stamp their output (x264enc adds 1000 h), so frames are matched in order:
        # these encoders emit exactly one output per input in zero-latency mode.
        now = time.monotonic()
        with self.lock:
            captured, wall = self.captured.pop(info.get_buffer().pts, (now, 0))
            self.in_flight.append((now, captured, wall))
            # Frames the leaky queue dropped never reach the encoder; forget them.
            if len(self.captured) > 64:
                self.captured.clear()
        return Gst.PadProbeReturn.OK

    def on_encoded(self, _pad, info):
        now = time.monotonic()
        if self.av1_forcing and not info.get_buffer().has_flags(Gst.BufferFlags.DELTA_UNIT):
            self.av1_forcing = False
            # from the main loop: this probe runs inside the encoder, under its locks
            GLib.idle_add(self.enc.set_property, "keyframe-max-dist", keyframe_interval(self.args.fps))
        with self.lock:
            self.frames += 1
            self.bytes += info.get_buffer().get_size()
            if self.in_flight:
                entered, captured, wall = self.in_flight.popleft()
                self.encode_total += now - entered
                self.pipeline_total += now - captured
                if self.stamps is not None:
                    self.stamps.current = wall
        return Gst.PadProbeReturn.OK

    def on_av1_frame(self, sink):
        """Hands one temporal unit to the Node streamer, which packetizes it (see above)."""
        buf = sink.emit("pull-sample").get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        if not ok:
            return Gst.FlowReturn.ERROR
        try:
            keyframe = not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)
            # RTP's 90 kHz clock from the buffer's time; the Node side adds nothing to it.
            timestamp = (buf.pts * 9 // 100_000) & 0xFFFFFFFF
            captured = self.stamps.current if self.stamps is not None else 0
            header = struct.pack(">IIBQ", info.size, timestamp, 1 if keyframe else 0, captured)
            self.frames_out.write(header + bytes(info.data))
        except (BrokenPipeError, OSError):
            return Gst.FlowReturn.EOS  # the streamer went away; stdin's end stops the loop
        finally:
            buf.unmap(info)
        return Gst.FlowReturn.OK

    def report(self):
        now = time.monotonic()
        with self.lock:
            elapsed = now - self.window_start
            frames = self.frames
            emit(
                "stats",
                frames=frames,
                fps=round(frames / elapsed, 2) if elapsed > 0 else 0,
                encodeMs=round(self.encode_total / frames * 1000, 3) if frames else 0,
                pipelineMs=round(self.pipeline_total / frames * 1000, 3) if frames else 0,
                bytes=self.bytes,
            )
            self.frames = self.bytes = 0
            self.encode_total = self.pipeline_total = 0.0
            self.window_start = now
        return True

    def on_error(self, _bus, message):
        err, debug = message.parse_error()
        emit("error", message=f"{err.message} ({debug})")
        self.loop.quit()
        sys.exit(1)

    def set_bitrate(self, kbps):
        if self.encoder == "opusenc":
            return  # audio keeps its bitrate; congestion control steers the video
        if self.encoder in ("vp8enc", "vp9enc"):
            self.enc.set_property("target-bitrate", int(kbps) * 1000)  # bit/s
        else:  # x264enc, nvh264enc and av1enc take kbit/s
            self.enc.set_property(
                "target-bitrate" if self.encoder == "av1enc" else "bitrate", int(kbps)
            )

    def keyframe(self):
        if self.encoder == "opusenc":
            return
        if self.encoder == "av1enc":
            # av1enc in GStreamer 1.22 ignores force-key-unit (it passes no AOM_EFLAG_FORCE_KF;
            # 1.24 does). A keyframe distance of 0 makes libaom code the next frame as a
            # keyframe; on_encoded puts the distance back once one has come out (the frame
            # after it is often a keyframe too: the change reaches libaom a frame late).
            self.av1_forcing = True
            self.enc.set_property("keyframe-max-dist", 0)
            return
        event = GstVideo.video_event_new_downstream_force_key_unit(
            Gst.CLOCK_TIME_NONE, Gst.CLOCK_TIME_NONE, Gst.CLOCK_TIME_NONE, True, 0
        )
        self.enc.get_static_pad("sink").send_event(event)

    def handle(self, line):
        try:
            command = json.loads(line)
        except ValueError:
            return False
        name = command.get("cmd")
        if name == "bitrate":
            self.set_bitrate(command["kbps"])
        elif name == "keyframe":
            self.keyframe()
        elif name == "stop":
            self.loop.quit()
        return False

    def read_commands(self):
        for line in sys.stdin:
            GLib.idle_add(self.handle, line)
        GLib.idle_add(self.loop.quit)  # the streamer went away: stop with it

    def paint_frames(self):
        """Bare source: an I420 (or Y444) frame with the time barcode and a moving block, at --fps.

        FLOE_BARE_NOISE=1 fills the frame below the block with a fresh mosaic of random 8x8
        tiles every frame, so the encoder spends every bit it is given (the network benchmark:
        a still picture would fit any link and say nothing about congestion control). Tiles,
        not pixel noise: at a high quantizer they shrink to their DC terms, as real content
        does, where white noise keeps a keyframe larger than a 0.5 Mbit/s link carries in
        seconds.
        """
        w, h = self.args.width, self.args.height
        noise = os.environ.get("FLOE_BARE_NOISE") == "1" and h > 320
        chroma = w * h * 2 if self.args.codec in FULL_CHROMA else w * h // 2
        frame = bytearray(b"\x10" * (w * h) + b"\x80" * chroma)
        src = self.pipeline.get_by_name("src")
        interval = 1.0 / self.args.fps
        n = 0
        next_tick = time.monotonic()
        while True:
            block_x = (n * 8) % (w - 100)
            for y in range(200, 300):
                row = y * w
                frame[row : row + w] = b"\x10" * w
                frame[row + block_x : row + block_x + 100] = b"\xeb" * 100
            t = int(time.time() * 1000)
            cells = [True] + [(t >> i) & 1 == 1 for i in range(BARCODE_BITS - 1, -1, -1)] + [False]
            line = b"".join((b"\xeb" if c else b"\x10") * BARCODE_CELL for c in cells)
            for y in range(BARCODE_HEIGHT):
                frame[y * w : y * w + len(line)] = line
            if noise:
                for row in range(320, h - 7, 8):
                    tiles = b"".join(bytes((v,)) * 8 for v in os.urandom(w // 8))
                    frame[row * w : (row + 8) * w] = tiles * 8
            if src.emit("push-buffer", Gst.Buffer.new_wrapped(bytes(frame))) != Gst.FlowReturn.OK:
                return
            n += 1
            next_tick += interval
            # Late by more than a frame (a busy machine): skip the missed ticks, as a capture
            # would, instead of pushing a burst of stale frames that the encoder and the link
            # would then carry all at once.
            next_tick = max(next_tick, time.monotonic() - interval)
            time.sleep(max(0.0, next_tick - time.monotonic()))

    def push_captures(self):
        """Damage-driven X capture: each frame as soon as the screen was drawn on."""
        src = self.pipeline.get_by_name("src")
        # Buffers come back to the pool when the encoder is done with them: a fresh frame-sized
        # allocation a frame would cost page faults (and the kernel's zeroing) every frame.
        pool = Gst.BufferPool.new()
        config = pool.get_config()
        Gst.BufferPool.config_set_params(config, src.get_property("caps"), self.capture.frame_size, 2, 0)
        pool.set_config(config)
        pool.set_active(True)
        try:
            while True:
                # one copy, from the capture's frame straight into the buffer's memory
                flow, buf = pool.acquire_buffer(None)
                if flow != Gst.FlowReturn.OK:
                    return
                ok, info = buf.map(Gst.MapFlags.WRITE)
                if not ok:
                    raise CaptureError("cannot map a frame buffer")
                try:
                    target = ctypes.c_char.from_buffer(info.data)
                    drawn = self.capture.next_frame(ctypes.addressof(target))
                    del target
                finally:
                    buf.unmap(info)
                if drawn is None:
                    return
                if src.emit("push-buffer", buf) != Gst.FlowReturn.OK:
                    return
        except CaptureError as error:
            emit("error", message=f"capture: {error}")
            GLib.idle_add(self.loop.quit)
        finally:
            pool.set_active(False)

    def run(self):
        self.pipeline.set_state(Gst.State.PLAYING)
        GLib.timeout_add(1000, self.report)
        threading.Thread(target=self.read_commands, daemon=True).start()
        if self.args.source == "bare":
            threading.Thread(target=self.paint_frames, daemon=True).start()
        if self.capture is not None:
            threading.Thread(target=self.push_captures, daemon=True).start()
        emit("ready", encoder=self.encoder, width=self.args.width, height=self.args.height)
        try:
            self.loop.run()
        finally:
            self.pipeline.set_state(Gst.State.NULL)


def open_damage_capture(args):
    """The damage-driven capture (--capture=damage), or None for ximagesrc. An X server
    without DAMAGE or MIT-SHM falls back to ximagesrc, said on stderr."""
    if args.capture != "damage":
        return None
    try:
        return DamageCapture(args.display, args.fps)
    except CaptureError as error:
        sys.stderr.write(f"damage capture unavailable, using ximagesrc: {error}\n")
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=["x11", "bare", "pulse"], default="x11")
    parser.add_argument("--pulse-server", default="", help="PulseAudio server (pulse source)")
    parser.add_argument("--display", default=":0")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=60)
    parser.add_argument("--codec", choices=["H264", "VP8", "VP9", "AV1", *sorted(FULL_CHROMA)], default="H264")
    parser.add_argument("--frames-fd", type=int, default=3, help="AV1: where frames are written")
    parser.add_argument("--encoder", choices=["auto", "x264enc", "nvh264enc"], default="auto")
    parser.add_argument("--kbps", type=int, default=4000)
    parser.add_argument("--port", type=int, required=True, help="UDP port on 127.0.0.1 for RTP")
    parser.add_argument("--pt", type=int, default=96, help="RTP payload type")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--capture", choices=["damage", "ximagesrc"], default="damage",
        help="x11: capture when drawn (XDamage, floe_xcapture.py) or on a tick (ximagesrc)",
    )
    parser.add_argument(
        "--convert", choices=["libyuv", "videoconvert"], default="libyuv",
        help="damage capture: convert the changed rectangles to I420/Y444 (libyuv) or whole frames (videoconvert)",
    )
    parser.add_argument("--probe", action="store_true", help="print the encoders found and exit")
    args = parser.parse_args()
    Gst.init(None)
    if args.probe:
        emit("encoders", **{name: encoder_available(name) for name in ("x264enc", "vp8enc", "vp9enc", "av1enc", "nvh264enc")})
        return
    try:
        Pipeline(args).run()
    except (GLib.Error, RuntimeError) as error:
        emit("error", message=str(error))
        sys.exit(1)


if __name__ == "__main__":
    main()
