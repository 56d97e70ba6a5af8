#!/bin/sh
# Installs what Floe needs on a fresh machine, and nothing when it is already there:
#   - npm packages, Node.js 24 among them (the `node` package), from package-lock.json;
#   - the Debian packages of scripts/deps.tsv: those `npm start` and its sessions run on (an X
#     server, GStreamer, PulseAudio, a window manager, coturn, demo X apps) and, with
#     --testbed, those the tests and benchmarks run (PostgreSQL, Chromium, the X tools tests
#     check the display with, nginx). apt-get when run as root; otherwise the command is printed.
#     Go-built tools (k6, Kubernetes) are built by testbed/ into ~/.cache/floe when needed.
#   - the stream page and the launcher (web/dist), rebuilt when their sources are newer.
# --check installs nothing: it looks for every program of the list and prints the apt-get line
# that brings what is missing (exit 1).
set -eu
cd "$(dirname "$0")/.."

usage="usage: sh scripts/ensure-deps.sh [--testbed] [--check] [--help]"
scope=start check=""
for arg in "$@"; do
  case "$arg" in
  --testbed) scope=test ;;
  --check) check=1 ;;
  -h | --help) echo "$usage" && sed -n '2,11p' "$0" | cut -c3- && exit 0 ;;
  *) echo "$usage" >&2 && exit 2 ;;
  esac
done

# rows of the list for this scope: program <TAB> package (FLOE_DEPS_LIST: another list, for tests)
list=${FLOE_DEPS_LIST:-scripts/deps.tsv}
rows=$(awk -F'\t' -v scope="$scope" \
  '!/^#/ && NF >= 3 && ($3 == "start" || scope == "test") { print $1 "\t" $2 }' "$list")
debian() { printf '%s\n' "$rows" | awk -F'\t' '$2 !~ /^@/ { print $2 }' | sort -u; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if [ -n "$check" ]; then
  missing="" tab=$(printf '\t')
  while IFS="$tab" read -r program package; do
    case "$package" in @not-run | @go-built | @cargo-built) continue ;; esac
    case "$program" in
    -) found=$(installed "$package" && echo yes || true) ;;
    */*) found=$(for f in $program; do [ -x "$f" ] && echo yes && break; done || true) ;;
    *) found=$(command -v "$program" >/dev/null 2>&1 && echo yes || true) ;;
    esac
    [ "$program" = node ] && found=$([ -x node_modules/.bin/node ] && echo yes || true)
    if [ -z "$found" ]; then
      echo "floe: missing $program ($package)" >&2
      case "$package" in
      @npm) missing="$missing npm-ci" ;;
      @machine) missing="$missing machine:$program" ;;
      *) missing="$missing $package" ;;
      esac
    fi
  done <<ROWS
$rows
ROWS
  [ -z "$missing" ] && echo "floe: every program of $list ($scope) is here" && exit 0
  pkgs=$(printf '%s\n' $missing | grep -v -e '^npm-ci$' -e '^machine:' | sort -u | tr '\n' ' ')
  [ -n "$pkgs" ] && echo "  apt-get update && apt-get install -y --no-install-recommends $pkgs" >&2
  printf '%s\n' $missing | grep -q '^npm-ci$' && echo "  npm ci" >&2
  printf '%s\n' $missing | grep '^machine:' | sed 's/^machine:/  install on this machine: /' >&2
  exit 1
fi

if [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "floe: installing npm packages (npm ci)..." >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

missing=""
for pkg in $(debian); do
  installed "$pkg" || missing="$missing $pkg"
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
