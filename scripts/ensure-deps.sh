#!/bin/sh
# Installs what Floe needs on a fresh machine, and nothing when it is already there:
#   - npm packages, Node.js 24 among them (the `node` package), from package-lock.json;
#   - with --testbed, the Debian packages the tests run for real: PostgreSQL's server,
#     coturn and Chromium (apt-get when run as root; otherwise the exact command is printed).
#     Go-built tools (k6, Kubernetes) are built by testbed/ into ~/.cache/floe when needed.
set -eu
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "floe: installing npm packages (npm ci)..." >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

[ "${1:-}" = "--testbed" ] || exit 0

missing=""
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
[ -x /usr/bin/turnserver ] || missing="$missing coturn"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
  echo "floe: installing$missing (apt-get)..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "floe: the tests need$missing. Install with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
  exit 1
fi
