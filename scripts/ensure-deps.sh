#!/bin/sh
# Installs what Floe needs on a fresh machine, and nothing when it is already there:
#   - npm packages, Node.js 24 among them (the `node` package), from package-lock.json;
#   - with --postgres, Debian's PostgreSQL server, which the tests start throwaway
#     clusters of (apt-get when run as root; otherwise the exact command is printed).
set -eu
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "floe: installing npm packages (npm ci)..." >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "${1:-}" = "--postgres" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "floe: installing PostgreSQL (apt-get install postgresql)..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  else
    echo "floe: the tests need PostgreSQL's server. Install it with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y postgresql" >&2
    exit 1
  fi
fi
