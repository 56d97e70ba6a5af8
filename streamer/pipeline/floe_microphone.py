#!/usr/bin/python3
"""The viewer's microphone into the session: Opus RTP in, PCM out to a PulseAudio sink.

The Node streamer receives the browser's microphone track (Opus over RTP) and writes each
packet to this process's stdin, framed as RFC 4571 does (a 2-byte big-endian length, then the
packet). The pipeline decodes it and plays it into the session's microphone sink, whose
monitor is remapped to the `floe_microphone` source apps record from (see sound-server.ts).
While the viewer's microphone is off nothing arrives, and the sink's monitor records silence.

stdout (events): {"event": "ready"} | {"event": "error", "message": "..."} (then exit 1)
Closing stdin ends it.
"""

import argparse
import json
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def emit(event, **fields):
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def description(args):
    server = f" server={args.pulse_server}" if args.pulse_server else ""
    # the payload type the browser gave Opus (the first packet's): the caps must be fixed
    caps = f"application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload={args.pt}"
    return " ! ".join(
        [
            "fdsrc fd=0 do-timestamp=true",
            "application/x-rtp-stream",
            "rtpstreamdepay",
            caps,
            # a small jitter buffer: a microphone wants low latency more than smoothness
            "rtpjitterbuffer latency=60 drop-on-latency=true",
            "rtpopusdepay",
            "opusdec plc=true",
            "audioconvert",
            "audioresample",
            f"pulsesink device={args.sink}{server} sync=false "
            "buffer-time=40000 latency-time=10000",
        ]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pulse-server", default="")
    parser.add_argument("--sink", required=True, help="the PulseAudio sink to play into")
    parser.add_argument("--pt", type=int, required=True, help="RTP payload type of the Opus")
    args = parser.parse_args()

    Gst.init(None)
    try:
        pipeline = Gst.parse_launch(description(args))
    except GLib.Error as error:
        emit("error", message=str(error))
        sys.exit(1)
    loop = GLib.MainLoop()

    def on_message(_bus, message):
        if message.type == Gst.MessageType.ERROR:
            error, _debug = message.parse_error()
            emit("error", message=error.message)
            loop.quit()
            sys.exit(1)
        elif message.type == Gst.MessageType.EOS:
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        emit("error", message="the pipeline did not start")
        sys.exit(1)
    emit("ready")
    try:
        loop.run()
    finally:
        pipeline.set_state(Gst.State.NULL)


if __name__ == "__main__":
    main()
