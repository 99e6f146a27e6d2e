#!/usr/bin/env bash
# Headless-browser compatibility test: a page on another origin calls paddock
# through @connectrpc/connect-web (Connect binary and JSON, gRPC-Web, Connect
# GET under /api) with code that protoc-gen-es generates from ../../proto, in
# Debian's Chromium driven by playwright-core. See test.mjs for the checks.
#
# Usage: tests/browser/run.sh   (from anywhere; needs target/debug/paddock,
# or PADDOCK_BIN=/path/to/paddock). Installs what is missing: Debian's
# chromium, the pinned npm packages (npm ci), then generates and bundles.
# Then console.mjs: the console served at / as a person uses it (the fleet
# live, a runner created and its agent started and killed, a credential
# revoked, 10,000 runners filtered and paged, groups, audit log, tokens;
# screenshots into docs/console/).
# Last lines: `browser: N passed, M failed` and `console: N passed, M
# failed`; exit status non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)

export PADDOCK_BIN="${PADDOCK_BIN:-$here/../../target/debug/paddock}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq
  timeout 900 apt-get install -y -qq "$@" >/dev/null
}

if [ ! -x "$CHROMIUM" ]; then
  echo "# installing chromium (Debian)" >&2
  apt_install chromium
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "# installing nodejs and npm (Debian)" >&2
  apt_install nodejs npm
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "# npm ci" >&2
  timeout 600 npm ci --no-audit --no-fund --loglevel=error >&2
fi

# Generated code and the bundle are cheap: always made afresh.
timeout 120 npx --no-install buf generate
timeout 120 npx --no-install esbuild page.js --bundle --format=esm --platform=browser \
  --target=es2022 --outfile=dist/page.js --log-level=warning

if [ ! -x "$PADDOCK_BIN" ]; then
  echo "paddock binary not found at $PADDOCK_BIN (cargo build first, or set PADDOCK_BIN)" >&2
  echo "browser: 0 passed, 1 failed"
  exit 1
fi

# test.mjs kills paddock and Chromium itself; should it be killed before it
# can, the trap kills what it recorded here.
pidfile=$(mktemp)
export BROWSER_TEST_PIDFILE="$pidfile"
node_pid=
cleanup() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill -TERM "$node_pid" 2>/dev/null || true
    sleep 1
  fi
  while read -r pid; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  done < "$pidfile"
  rm -f "$pidfile"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

timeout -k 10 180 node test.mjs &
node_pid=$!
status=0
wait "$node_pid" || status=$?
node_pid=

# the console (src/server/console/) in the same Chromium: its own paddock, and the
# screenshots in docs/console/
# (the official SDK creates one of its runners: the venv of the compatibility tests)
export SDK_PYTHON="${SDK_PYTHON:-$("$here/../../scripts/sdk-venv")/bin/python}"
timeout -k 10 420 node console.mjs &
node_pid=$!
wait "$node_pid" || status=$?
node_pid=
exit "$status"
