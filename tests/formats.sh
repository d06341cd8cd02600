#!/usr/bin/env bash
# Weight formats (shiftc compile/eval --weights FMT, ir/formats.c): every
# format bit-exact between the emitted C and the integer simulator, on the
# host and on one cross target under QEMU.
#
# Per model (tests/fixtures/cnn.onnx, mlp.onnx) and format:
#   - host: compile --weights F + run on the 600 test images equals
#     eval --weights F --quant-output, byte for byte;
#   - the arithmetic cost eval reports (weight_terms: nonzero signed digits
#     of all weight codes) equals the shift-add terms compile emitted;
#   - cross: compile --target $CROSS + run under QEMU on the first 100
#     images equals eval (with --no-mul when the target has no multiplier:
#     rv32i, the default, so the formats' multiplierless scales are tested
#     too).
# Plus the command-line checks (unknown format, bad --bias-correction).
# Prints "ok - ..." / "not ok - ..." per check and a final line
# "formats: N passed, N failed"; exits 1 if a check failed.
#
# Environment:
#   SHIFTC=path     binary under test (default build/shiftc)
#   FORMATS="..."   formats to test (default: every one compile --help lists)
#   CROSS=rv32i     the cross target (any 'shiftc compile --target'; "none" skips)
#   N=100           test images for the cross target
#   JOBS=n          model/format pairs at a time (default: nproc)
#   KEEP=1          keep the temporary directory
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. tests/lib.sh

SHIFTC=${SHIFTC:-$ROOT/build/shiftc}
FIX=$ROOT/tests/fixtures
CROSS=${CROSS:-rv32i}
N=${N:-100}
JOBS=${JOBS:-$(nproc)}
MODELS="cnn mlp"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-formats-XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "# keeping $TMP"
else
    trap 'rm -rf "$TMP"' EXIT
fi
export TMPDIR=$TMP
T0=$(now)

finish() {
    summary >/dev/null
    echo "# formats took $(elapsed "$T0") s"
    echo "formats: $TESTS_PASSED passed, $TESTS_FAILED failed"
    [ "$TESTS_FAILED" -eq 0 ]
    exit $?
}

if [ ! -x "$SHIFTC" ]; then
    not_ok "shiftc binary exists ($SHIFTC)" "build it with make first"
    finish
fi

# ---- the command line ------------------------------------------------------

help=$("$SHIFTC" compile --help 2>&1)
listed=$(printf '%s\n' "$help" | sed -nE 's/.*--weights FMT .*\(default int8\): (.*)$/\1/p' | tr -d ',')
if [ -n "$listed" ] && "$SHIFTC" eval --help 2>&1 | grep -q -- '--weights FMT'; then
    ok "compile and eval --help list the weight formats: $listed"
else
    not_ok "compile and eval --help list the weight formats" "$help"
fi
FORMATS=${FORMATS:-$listed}

"$SHIFTC" eval "$FIX/mlp.onnx" --calib "$FIX/calib.npy" --data "$FIX/test_x.npy" --labels "$FIX/test_y.npy" \
    --weights int9 >"$TMP/bad.log" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "unknown weight format 'int9'" "$TMP/bad.log" && grep -q 'nhot3' "$TMP/bad.log"; then
    ok "eval --weights int9: usage error (exit 2) naming the known formats"
else
    not_ok "eval --weights int9: usage error (exit 2) naming the known formats" "exit $rc" "$(tail_of "$TMP/bad.log")"
fi
"$SHIFTC" compile "$FIX/mlp.onnx" --calib "$FIX/calib.npy" -o "$TMP/bad" --bias-correction maybe >"$TMP/bad2.log" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q 'on, off or auto' "$TMP/bad2.log"; then
    ok "compile --bias-correction maybe: usage error (exit 2)"
else
    not_ok "compile --bias-correction maybe: usage error (exit 2)" "exit $rc" "$(tail_of "$TMP/bad2.log")"
fi

# ---- the first N test images for the cross target ---------------------------

if ! $PY - "$FIX" "$TMP" "$N" <<'PY'; then
import sys, numpy as np
fix, tmp, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
np.save(tmp + "/x_n.npy", np.load(fix + "/test_x.npy")[:n])
np.save(tmp + "/y_n.npy", np.load(fix + "/test_y.npy")[:n])
PY
    not_ok "subset of $N test images (numpy)"
    finish
fi
cross_nomul=""
case $CROSS in rv32i | rv32e) cross_nomul="--no-mul" ;; esac

# json_num FILE KEY: a number field of a one-line JSON object
json_num() { sed -nE "s/.*\"$2\": ([0-9.eE+-]+).*/\1/p" "$1"; }

# ---- one model and format: its checks, as lines "ok|DESC" or
# "not ok|DESC|DETAIL" in $TMP/M-F.res ------------------------------------------

one() { # MODEL FORMAT
    local m=$1 f=$2 d=$TMP/$1-$2 res=$TMP/$1-$2.res
    local data=(--calib "$FIX/calib.npy")
    mkdir -p "$d"
    : >"$res"
    if ! "$SHIFTC" eval "$FIX/$m.onnx" "${data[@]}" --data "$FIX/test_x.npy" --labels "$FIX/test_y.npy" \
        --weights "$f" --json --quant-output "$d/sim.npy" >"$d/eval.json" 2>"$d/eval.log"; then
        echo "not ok|$m $f: shiftc eval|$(tail -n 5 "$d/eval.log" | tr "\n" " ")" >>"$res"
        return
    fi
    local acc terms bits
    acc=$(json_num "$d/eval.json" quant_accuracy)
    terms=$(json_num "$d/eval.json" weight_terms)
    bits=$(json_num "$d/eval.json" weight_bits)
    if "$SHIFTC" compile "$FIX/$m.onnx" "${data[@]}" -o "$d/host" --weights "$f" --json >"$d/c.json" 2>"$d/c.log" &&
        "$SHIFTC" run "$d/host" --input "$FIX/test_x.npy" --output "$d/run.npy" >"$d/run.log" 2>&1 &&
        cmp -s "$d/sim.npy" "$d/run.npy"; then
        echo "ok|$m $f: host run bit-exact with the simulator on 600 images (accuracy $acc, $terms terms, $bits bits)" >>"$res"
    else
        echo "not ok|$m $f: host run bit-exact with the simulator|$(tail -n 5 "$d/c.log" "$d/run.log" 2>/dev/null | tr "\n" " ")" >>"$res"
    fi
    local emitted
    emitted=$(json_num "$d/c.json" shift_add_terms)
    if [ -n "$terms" ] && [ "$terms" = "$emitted" ]; then
        echo "ok|$m $f: weight_terms $terms = the emitted shift-add terms" >>"$res"
    else
        echo "not ok|$m $f: weight_terms ${terms:-?} = the emitted shift-add terms ${emitted:-?}" >>"$res"
    fi
    [ "$CROSS" = none ] && return
    # shellcheck disable=SC2086
    if "$SHIFTC" eval "$FIX/$m.onnx" "${data[@]}" --data "$TMP/x_n.npy" --labels "$TMP/y_n.npy" --weights "$f" \
        $cross_nomul --quant-output "$d/sim_n.npy" >"$d/eval_n.log" 2>&1 &&
        "$SHIFTC" compile "$FIX/$m.onnx" "${data[@]}" -o "$d/cross" --weights "$f" --target "$CROSS" --no-size \
            >"$d/cc.log" 2>&1 &&
        "$SHIFTC" run "$d/cross" --target "$CROSS" --input "$TMP/x_n.npy" --output "$d/cross.npy" >"$d/crun.log" 2>&1 &&
        cmp -s "$d/sim_n.npy" "$d/cross.npy"; then
        echo "ok|$m $f: $CROSS${cross_nomul:+ (no-mul)} under QEMU bit-exact with the simulator on $N images" >>"$res"
    else
        echo "not ok|$m $f: $CROSS run bit-exact with the simulator|$(tail -n 5 "$d/eval_n.log" "$d/cc.log" "$d/crun.log" 2>/dev/null | tr "\n" " ")" >>"$res"
    fi
}

pairs=()
for m in $MODELS; do
    for f in $FORMATS; do
        pairs+=("$m $f")
    done
done
echo "# ${#pairs[@]} model/format pairs, host and ${CROSS}, $JOBS at a time"
running=0
for p in "${pairs[@]}"; do
    # shellcheck disable=SC2086
    one $p &
    running=$((running + 1))
    if [ $running -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

for p in "${pairs[@]}"; do
    res=$TMP/${p/ /-}.res
    if [ ! -s "$res" ]; then
        not_ok "$p: no result"
        continue
    fi
    while IFS='|' read -r status desc detail; do
        if [ "$status" = ok ]; then
            ok "$desc"
        else
            not_ok "$desc" "$detail"
        fi
    done <"$res"
done
finish
