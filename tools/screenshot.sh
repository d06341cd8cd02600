#!/usr/bin/env bash
# tools/screenshot.sh HTML PNG [WIDTH HEIGHT]: renders a local HTML file to a
# PNG with headless Chromium (Debian's `chromium`), offline: no network
# services, no first-run pages, a throwaway profile.  WIDTH x HEIGHT is the
# window (default 1200 x 1600); the page is cut at the window's height.
# Exits 2 when chromium is missing (apt-get install chromium), 1 when it
# fails or writes no PNG.
set -u -o pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 HTML PNG [WIDTH HEIGHT]" >&2
    exit 2
fi
html=$1 png=$2 width=${3:-1200} height=${4:-1600}
[ -f "$html" ] || { echo "$0: $html: no such file" >&2; exit 1; }
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ]; then
    echo "$0: chromium not found (Debian: apt-get install chromium)" >&2
    exit 2
fi
abs_html=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
case $png in /*) abs_png=$png ;; *) abs_png=$(pwd)/$png ;; esac
profile=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-chromium-XXXXXX")
log=$profile.log
trap 'rm -rf "$profile" "$log"' EXIT
rm -f "$abs_png"
# timeout: a wedged browser must not hang the test run
timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --hide-scrollbars --force-device-scale-factor=1 \
    --user-data-dir="$profile" --window-size="$width,$height" \
    --screenshot="$abs_png" "file://$abs_html" >"$log" 2>&1
rc=$?
if [ $rc -ne 0 ] || [ ! -s "$abs_png" ]; then
    echo "$0: chromium failed (exit $rc) on $html" >&2
    tail -n 20 "$log" >&2
    exit 1
fi
