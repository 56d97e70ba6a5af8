#!/bin/sh
# Installs what Floe needs on a fresh machine, and nothing when it is already there:
#   - npm packages, Node.js 24 among them (the `node` package), from package-lock.json;
#   - the Debian packages a local session runs on: an X server (Xorg with the dummy driver,
#     which RandR can resize; Xvfb as fallback), GStreamer with its Python bindings and
#     encoders, PulseAudio for sound, a window manager (matchbox) and demo X apps (apt-get when run as root; otherwise the command is printed);
#   - with --testbed, also what the tests run for real: PostgreSQL's server, coturn, Chromium
#     and the X tools tests check the display with.
#     Go-built tools (k6, Kubernetes) are built by testbed/ into ~/.cache/floe when needed.
#   - the stream page and the launcher (web/dist), rebuilt when their sources are newer.
set -eu
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "floe: installing npm packages (npm ci)..." >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

session="xserver-xorg-core xserver-xorg-video-dummy xvfb matchbox-window-manager x11-apps xterm xfonts-base
  python3-gi python3-gst-1.0 gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly
  gstreamer1.0-plugins-bad gstreamer1.0-x gstreamer1.0-pulseaudio pulseaudio"
testbed="postgresql coturn chromium xdotool xclip x11-utils pulseaudio-utils nginx-light"
wanted="$session"
[ "${1:-}" = "--testbed" ] && wanted="$wanted $testbed"

missing=""
for pkg in $wanted; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $pkg"
done

if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "floe: installing$missing (apt-get)..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "floe: Floe needs$missing. Install with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
  fi
fi

if [ ! -f web/dist/stream/index.html ] || [ ! -f web/dist/app/index.html ] ||
  [ -n "$(find web/src web/build.ts streamer/src/protocol.ts streamer/src/barcode.ts -newer web/dist/app/index.html 2>/dev/null | head -1)" ]; then
  node_modules/.bin/node web/build.ts >&2
fi
