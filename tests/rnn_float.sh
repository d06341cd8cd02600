#!/usr/bin/env bash
# The float path of the recurrent fixtures: every LSTM/GRU model compiled
# with --float, its emitted C built warning-free and run, and its logits
# compared with torch's.  Prints "ok - ..." / "not ok - ..." per check and
# a final "N passed, N failed[, N skipped]"; exits 1 if any check failed.
#
#   tests/fixtures/{lstm,gru}.onnx        on the 600 test images vs {lstm,gru}_ref_logits.npy
#   tests/fixtures/rnn_unseen/M.onnx      on the first 100 vs rnn_unseen/M_ref_logits.npy
# (tools/make_rnn_fixtures.py makes them; a missing fixture is a skip.)
# Environment:
#   SHIFTC=path        binary under test (default build/shiftc)
#   SHIFTC_SAN=path    ASan+UBSan build that must import and compile every
#                      fixture without a report (default build-san/shiftc;
#                      skipped if absent)
#   KEEP=1             keep the temporary directory
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. tests/lib.sh

SHIFTC=${SHIFTC:-$ROOT/build/shiftc}
SHIFTC_SAN=${SHIFTC_SAN:-$ROOT/build-san/shiftc}
FIX=${RNN_FIXTURES:-$ROOT/tests/fixtures} # another fixture directory, for trying the script
TOL_LOGITS=1e-4 # emitted float C vs torch logits (abs + rel)
STRICT="-O2 -std=c99 -Wall -Wextra -Werror -pedantic"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-rnn-XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "# keeping $TMP"
else
    trap 'rm -rf "$TMP"' EXIT
fi
export TMPDIR=$TMP

if [ ! -x "$SHIFTC" ]; then
    not_ok "shiftc binary exists ($SHIFTC)" "build it with make first"
    summary
    exit 1
fi
echo "# shiftc: $SHIFTC"

# allclose A B TOL: float arrays equal within abs+rel TOL (A reshaped to B)
allclose() {
    $PY - "$@" <<'PY'
import sys, numpy as np
a = np.load(sys.argv[1]).astype(np.float64)
b = np.load(sys.argv[2]).astype(np.float64)
tol = float(sys.argv[3])
if a.size != b.size:
    print("shape mismatch: %s vs %s" % (a.shape, b.shape)); sys.exit(1)
a = a.reshape(b.shape)
d = np.abs(a - b)
bad = d > tol + tol * np.abs(b)
print("max |diff| %.3g over %d values, %d beyond tolerance %g" % (d.max(), d.size, bad.sum(), tol))
sys.exit(1 if bad.any() or not np.isfinite(a).all() else 0)
PY
}

# model_check LABEL ONNX INPUTS.npy REF.npy
model_check() {
    local label=$1 onnx=$2 x=$3 ref=$4 d=$TMP/$1
    mkdir -p "$d"
    if ! "$SHIFTC" compile "$onnx" --float -o "$d/c" >"$d/compile.log" 2>&1; then
        not_ok "$label: compile --float" "$(tail_of "$d/compile.log")"
        return
    fi
    ok "$label: compile --float"
    # determinism: a second compile writes the same files
    if "$SHIFTC" compile "$onnx" --float -o "$d/c2" >/dev/null 2>&1 &&
        diff -r "$d/c" "$d/c2" >"$d/diff.log" 2>&1; then
        ok "$label: compiling twice gives identical files"
    else
        not_ok "$label: compiling twice gives identical files" "$(tail_of "$d/diff.log" 5)"
    fi
    if make -C "$d/c" CC=cc CFLAGS="$STRICT" runner >"$d/make.log" 2>&1; then
        ok "$label: emitted code compiles warning-free with cc $STRICT"
    else
        not_ok "$label: emitted code compiles warning-free with cc $STRICT" \
            "$(grep -m 12 -E 'warning|error' "$d/make.log")"
    fi
    if ! "$SHIFTC" run "$d/c" --input "$x" --output "$d/y.npy" >"$d/run.log" 2>&1; then
        not_ok "$label: run float build" "repro: $SHIFTC run DIR --input $x --output y.npy" \
            "$(tail_of "$d/run.log")"
        return
    fi
    local msg
    if msg=$(allclose "$d/y.npy" "$ref" "$TOL_LOGITS" 2>&1); then
        ok "$label: emitted float C == torch logits within $TOL_LOGITS ($msg)"
    else
        not_ok "$label: emitted float C == torch logits within $TOL_LOGITS" \
            "repro: $SHIFTC compile $onnx --float -o F; $SHIFTC run F --input X --output y.npy" "$msg"
    fi
}

# the sanitizer build imports, infers and emits without a report
san_check() {
    local label=$1 onnx=$2 log=$TMP/$1-san.log rc
    [ -x "$SHIFTC_SAN" ] || return 0
    "$SHIFTC_SAN" compile "$onnx" --float -o "$TMP/$label-san" >"$log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ] && ! crashed "$rc" "$log"; then
        ok "$label: sanitizer build compiles it cleanly"
    else
        not_ok "$label: sanitizer build compiles it cleanly" "exit status $rc" "$(tail_of "$log")"
    fi
}

for m in lstm gru; do
    if [ ! -f "$FIX/$m.onnx" ] || [ ! -f "$FIX/${m}_ref_logits.npy" ]; then
        skip "$m: float path" "no tests/fixtures/$m.onnx or ${m}_ref_logits.npy"
        continue
    fi
    model_check "$m" "$FIX/$m.onnx" "$FIX/test_x.npy" "$FIX/${m}_ref_logits.npy"
    san_check "$m" "$FIX/$m.onnx"
done

UNSEEN=$FIX/rnn_unseen
found=0
if [ -d "$UNSEEN" ]; then
    $PY -c 'import numpy as np,sys; np.save(sys.argv[2], np.load(sys.argv[1])[:100])' \
        "$FIX/test_x.npy" "$TMP/x100.npy"
    for onnx in "$UNSEEN"/*.onnx; do
        [ -f "$onnx" ] || continue
        m=$(basename "$onnx" .onnx)
        ref=$UNSEEN/${m}_ref_logits.npy
        if [ ! -f "$ref" ]; then
            skip "unseen $m: float path" "no ${m}_ref_logits.npy"
            continue
        fi
        found=1
        model_check "unseen-$m" "$onnx" "$TMP/x100.npy" "$ref"
        san_check "unseen-$m" "$onnx"
    done
fi
[ "$found" = 1 ] || skip "unseen recurrent models" "no tests/fixtures/rnn_unseen/*.onnx with references"

summary
