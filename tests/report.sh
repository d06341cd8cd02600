#!/usr/bin/env bash
# The precision-search report (--report DIR, compiler/report.c): a real
# `shiftc eval --budget bits=4 --report DIR` on the bundled CNN (accuracy
# measured: two plots), `compile --budget flash=... --report` (one plot,
# byte-identical run to run), and the unit test's hand-made pages (every
# element: accuracy plot, policy, ties, escaped names; the edge cases).
# Each page must be self-contained (no scripts, links or addresses); it is
# rendered with headless Chromium (tools/screenshot.sh), and each plot alone
# too, and the PNGs are checked with PIL: the plot is drawn (enough ink) in
# the colours report.c uses for the frontier, the chosen point, the uniform
# points, the budget and the float accuracy.  Chromium missing is a
# failure: build.sh installs it.
#
#   SHIFTC=path   binary under test (default build/shiftc)
#   UNIT=path     test_report binary (default build/tests/test_report)
#   KEEP=DIR      keep the pages and PNGs in DIR
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. tests/lib.sh
SHIFTC=${SHIFTC:-$ROOT/build/shiftc}
UNIT=${UNIT:-$ROOT/build/tests/test_report}
F=tests/fixtures
if [ -n "${KEEP:-}" ]; then
    mkdir -p "$KEEP" && TMP=$(cd "$KEEP" && pwd)
else
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-report-XXXXXX")
    trap 'rm -rf "$TMP"' EXIT
fi

# self_contained HTML: no scripts, external resources or network addresses
self_contained() {
    ! grep -Eiq '<script|<link|<img|<iframe|@import|url\(|src=|href=|https?://' "$1"
}

# shot NAME HTML: full-page screenshot, ok/not ok; chromium missing fails
shot() {
    local rc
    tools/screenshot.sh "$2" "$TMP/$1.png" 1200 2200 >"$TMP/$1.shot.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        ok "$1: rendered by chromium ($TMP/$1.png)"
        return 0
    fi
    if [ $rc -eq 2 ]; then
        not_ok "$1: chromium is not installed (apt-get install chromium)" "$(tail_of "$TMP/$1.shot.log")"
    else
        not_ok "$1: chromium failed" "$(tail_of "$TMP/$1.shot.log")"
    fi
    return 1
}

# plots NAME HTML: each <svg> of the page alone in a page of its own,
# rendered at the plot's size (1000 x 470), as NAME.plotK.png
plots() {
    "$PY" - "$2" "$TMP/$1" <<'PYEOF'
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
for k, svg in enumerate(re.findall(r"<svg.*?</svg>", html, re.S), 1):
    with open("%s.plot%d.html" % (sys.argv[2], k), "w", encoding="utf-8") as f:
        f.write("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>body{margin:0;background:#fff}"
                "svg{width:1000px;height:470px;display:block}</style></head><body>%s</body></html>\n" % svg)
PYEOF
    local k=1
    while [ -f "$TMP/$1.plot$k.html" ]; do
        tools/screenshot.sh "$TMP/$1.plot$k.html" "$TMP/$1.plot$k.png" 1000 470 >/dev/null 2>&1 ||
            not_ok "$1: plot $k: chromium failed"
        k=$((k + 1))
    done
}

# pixels PNG WHAT NAME=COLOUR:MIN... : a check per colour that at least MIN
# pixels are within 24 per channel of COLOUR; "ink=:P": at least P percent
# of the pixels are darker than the grid lines (text, lines, markers)
pixels() {
    record < <(pixels_py "$@")
}
pixels_py() {
    local png=$1 what=$2
    shift 2
    "$PY" - "$png" "$what" "$@" <<'PYEOF'
import sys
from PIL import Image
import numpy as np
png, what = sys.argv[1], sys.argv[2]
a = np.asarray(Image.open(png).convert("RGB")).astype(int)
for spec in sys.argv[3:]:
    name, rest = spec.split("=", 1)
    colour, need = rest.split(":")
    need = float(need)
    if name == "ink":
        frac = 100.0 * (a.min(axis=2) < 200).mean()
        print("%s - %s: %.1f%% of the pixels drawn (>= %g%%)" % ("ok" if frac >= need else "not ok", what, frac, need))
        continue
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    n = int((np.abs(a - rgb).max(axis=2) <= 24).sum())
    print("%s - %s: %d pixels of the %s colour %s (>= %d)" % ("ok" if n >= need else "not ok", what, n, name, colour,
                                                              need))
PYEOF
}

record() { # reads ok/not ok lines from stdin into the counters
    local line
    while IFS= read -r line; do
        case $line in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) not_ok "${line#not ok - }" ;;
        *) echo "$line" ;;
        esac
    done
}

# colours of compiler/report.c
BLUE='#2563eb' RED='#dc2626' ORANGE='#ea580c' VIOLET='#7c3aed' GREEN='#059669'

# ---- 1. the hand-made page of the unit test
if [ -x "$UNIT" ]; then
    if SHIFTC_REPORT_KEEP="$TMP/unit" "$UNIT" >"$TMP/unit.log" 2>&1; then
        ok "unit test_report (pages kept in $TMP/unit)"
        page=$TMP/unit/sample/index.html
        check "unit page: self-contained" self_contained "$page"
        check "unit page: two plots" test "$(grep -c '<svg' "$page")" -eq 2
        if shot unit "$page"; then
            pixels "$TMP/unit.png" "unit page" ink=:1.5 frontier=$BLUE:300 chosen=$RED:80 uniform=$ORANGE:80 \
                budget=$VIOLET:150 float=$GREEN:150
            plots unit "$page"
            pixels "$TMP/unit.plot1.png" "unit plot 1 (frontier)" ink=:2 frontier=$BLUE:300 chosen=$RED:60 \
                uniform=$ORANGE:60 budget=$VIOLET:150
            pixels "$TMP/unit.plot2.png" "unit plot 2 (accuracy)" ink=:2 frontier=$BLUE:100 chosen=$RED:60 \
                uniform=$ORANGE:60 float=$GREEN:200
        fi
        # the edge-case pages render too
        for d in one zero huge many nothing; do
            if tools/screenshot.sh "$TMP/unit/$d/index.html" "$TMP/unit-$d.png" 1200 1600 >/dev/null 2>&1; then
                pixels "$TMP/unit-$d.png" "unit edge case '$d'" ink=:1 frontier=$BLUE:20
            else
                not_ok "unit edge case '$d': chromium failed"
            fi
        done
    else
        not_ok "unit test_report" "$(tail_of "$TMP/unit.log")"
    fi
else
    not_ok "unit test_report: $UNIT missing (make unit)"
fi

# ---- 2. the real thing: eval with a budget and --report
if ! "$SHIFTC" eval --help 2>&1 | grep -q -- '--report'; then
    not_ok "shiftc eval --help lists --report"
else
    ok "shiftc eval --help lists --report"
    run_eval() { # DIR [OPTIONS...]
        local dir=$1
        shift
        "$SHIFTC" eval $F/cnn.onnx --calib $F/calib.npy --data $F/test_x.npy --labels $F/test_y.npy \
            --budget bits=4 --report "$dir" "$@"
    }
    run_eval "$TMP/cli" >"$TMP/cli.log" 2>&1
    rc1=$?
    if [ $rc1 -eq 0 ]; then
        ok "eval --budget bits=4 --report DIR"
        page=$TMP/cli/index.html
        if [ -s "$page" ]; then
            ok "cli page: index.html written"
            check "cli page: self-contained" self_contained "$page"
            check "cli page: an SVG plot" grep -q '<svg' "$page"
            check "cli page: the accuracy plot (accuracy measured)" test "$(grep -c '<svg' "$page")" -eq 2
            check "cli page: names the model and the budget" grep -q 'cnn.onnx.*bits=4\|bits=4.*cnn.onnx' \
                <(tr -d '\n' <"$page")
            check "cli page: the chosen point" grep -q 'class="tag">chosen' "$page"
            check "cli page: uniform int8 point" grep -q '>int8<' "$page"
            if shot cli "$page"; then
                pixels "$TMP/cli.png" "cli page" ink=:1.5 frontier=$BLUE:300 chosen=$RED:80 uniform=$ORANGE:60 \
                    budget=$VIOLET:150
                plots cli "$page"
                pixels "$TMP/cli.plot1.png" "cli plot 1 (frontier)" ink=:2 frontier=$BLUE:200 chosen=$RED:60 \
                    uniform=$ORANGE:60 budget=$VIOLET:150
                if [ -f "$TMP/cli.plot2.png" ]; then
                    pixels "$TMP/cli.plot2.png" "cli plot 2 (accuracy)" ink=:2 frontier=$BLUE:60 chosen=$RED:60 \
                        float=$GREEN:200
                fi
            fi
        else
            not_ok "cli page: index.html written" "$(tail_of "$TMP/cli.log")"
        fi
    else
        not_ok "eval --budget bits=4 --report DIR (exit $rc1)" "$(tail_of "$TMP/cli.log")"
    fi
fi

# ---- 3. compile --report: no accuracy, a flash budget on Cortex-M4 (KiB axis)
run_compile() { # DIR
    "$SHIFTC" compile $F/cnn.onnx --calib $F/calib.npy -o "$1-out" --target cortex-m4 --budget flash=80KiB \
        --report "$1"
}
if run_compile "$TMP/cc" >"$TMP/cc.log" 2>&1; then
    page=$TMP/cc/index.html
    if run_compile "$TMP/cc2" >"$TMP/cc2.log" 2>&1; then
        check "compile page: byte-identical on a second run" cmp "$page" "$TMP/cc2/index.html"
    else
        not_ok "compile --report, second run" "$(tail_of "$TMP/cc2.log")"
    fi
    check "compile page: self-contained" self_contained "$page"
    check "compile page: one plot (nothing measured)" test "$(grep -c '<svg' "$page")" -eq 1
    check "compile page: flash axis in KiB" grep -q 'Flash (KiB)' "$page"
    if shot compile "$page"; then
        plots compile "$page"
        pixels "$TMP/compile.plot1.png" "compile plot 1 (frontier)" ink=:2 frontier=$BLUE:200 chosen=$RED:60 \
            uniform=$ORANGE:60 budget=$VIOLET:150
    fi
else
    not_ok "compile --budget flash=80KiB --report DIR" "$(tail_of "$TMP/cc.log")"
fi
# a report directory that is a file: an error naming it, not a crash
: >"$TMP/not-a-dir"
"$SHIFTC" compile $F/cnn.onnx --calib $F/calib.npy -o "$TMP/cc-out2" --budget bits=4 --sens-samples 20 --probes 4 \
    --report "$TMP/not-a-dir" >"$TMP/bad.log" 2>&1
rc=$?
if [ $rc -ne 0 ] && ! crashed $rc "$TMP/bad.log" && grep -q 'not-a-dir: not a directory' "$TMP/bad.log"; then
    ok "--report FILE: an error naming the path (exit $rc)"
else
    not_ok "--report FILE: an error naming the path" "exit $rc" "$(tail_of "$TMP/bad.log")"
fi

res=$(summary)
st=$?
echo "$res" | sed '$d'
echo "report: $(echo "$res" | tail -n 1)"
exit $st
