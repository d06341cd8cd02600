#!/usr/bin/env bash
# Activation bits and ranges (shiftc compile/eval --act-bits 4|8|16
# --clip minmax|percentile|aciq|aciq-gauss): the emitted C is bit-exact with
# the integer simulator at every width, on the host and on cross targets.
#
#   1. fixtures (mlp, cnn) x act-bits 4, 8, 16 x clip minmax, aciq: eval
#      --quant-output (simulator) equals compile + run (the host build),
#      compared with cmp; the .npy dtype is int8/uint8 or int16/uint16; the
#      accuracy is sane (16 bits within 1.5 points of 8, 4 bits above 50%).
#   2. cortex-m4 and rv32imc (QEMU) on 100 images at 4 and 16 bits.
#   3. 16 bits with --no-mul (shift-add requantization) on the host.
#   4. the unseen models (build/unseen: residual Add, Concat, Softmax,
#      Sigmoid, Tanh, LeakyRelu, Clip, pools: the 16-bit tables) at 4 and
#      16 bits on the host, when tools/make_unseen.py's output exists.
#   5. bad option values are usage errors (exit 2).
#
# Prints "ok - ..." / "not ok - ..." per check and a final line
# "activations: N passed, N failed[, N skipped]"; exits 1 if a check failed.
#
# Environment:
#   SHIFTC=path      binary under test (default build/shiftc)
#   UNSEEN_DIR=dir   tools/make_unseen.py output (default build/unseen)
#   TARGETS="..."    cross targets to run (default "cortex-m4 rv32imc")
#   KEEP=1           keep the temporary directory
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. tests/lib.sh

SHIFTC=${SHIFTC:-$ROOT/build/shiftc}
FIX=$ROOT/tests/fixtures
UNSEEN=${UNSEEN_DIR:-$ROOT/build/unseen}
TARGETS=${TARGETS:-cortex-m4 rv32imc}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-act-XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "# keeping $TMP"
else
    trap 'rm -rf "$TMP"' EXIT
fi
export TMPDIR=$TMP

finish() {
    if [ "$TESTS_FAILED" -gt 0 ]; then
        echo "failed checks:"
        local n
        for n in "${FAILED_NAMES[@]}"; do echo "  - $n"; done
    fi
    if [ "$TESTS_SKIPPED" -gt 0 ]; then
        echo "activations: $TESTS_PASSED passed, $TESTS_FAILED failed, $TESTS_SKIPPED skipped"
    else
        echo "activations: $TESTS_PASSED passed, $TESTS_FAILED failed"
    fi
    [ "$TESTS_FAILED" -eq 0 ]
    exit $?
}

if [ ! -x "$SHIFTC" ]; then
    not_ok "shiftc binary exists ($SHIFTC)" "build it with make first"
    finish
fi

# json_num FILE KEY: a number field of a one-line JSON object
json_num() { sed -nE "s/.*\"$2\": ([0-9.eE+-]+).*/\1/p" "$1"; }

# npy_dtype FILE: the descr of an .npy header ('<i2', '|u1', ...)
npy_dtype() { head -c 128 "$1" | LC_ALL=C tr -d '\0' | LC_ALL=C sed -nE "s/.*'descr': '([^']*)'.*/\1/p"; }

# first N rows of the fixture inputs and labels
$PY -c '
import numpy as np, sys
x = np.load(sys.argv[1]); y = np.load(sys.argv[2])
np.save(sys.argv[3], x[:100]); np.save(sys.argv[4], y[:100])
' "$FIX/test_x.npy" "$FIX/test_y.npy" "$TMP/x100.npy" "$TMP/y100.npy"

# exact_job LABEL ONNX CALIB X Y TARGET [compile/eval options...]: eval
# --quant-output vs compile (--target) + run, in $TMP/LABEL; the outcome
# goes to $TMP/LABEL/result ("ok DESC" or "not_ok DESC" and details), for
# `collect` to record: jobs run two at a time (JOBS).
exact_job() {
    local label=$1 onnx=$2 calib=$3 x=$4 y=$5 target=$6
    shift 6
    local d=$TMP/$label
    mkdir -p "$d"
    if ! "$SHIFTC" eval "$onnx" --calib "$calib" --data "$x" --labels "$y" --json --quant-output "$d/sim.npy" \
        "$@" >"$d/eval.json" 2>"$d/eval.log"; then
        printf 'not_ok\n%s\n%s\n' "$label: shiftc eval $*" "$(tail_of "$d/eval.log")" >"$d/result"
        return
    fi
    local topt=()
    [ "$target" != host ] && topt=(--target "$target" --no-size)
    if ! "$SHIFTC" compile "$onnx" --calib "$calib" -o "$d/out" "${topt[@]}" "$@" >"$d/compile.log" 2>&1; then
        printf 'not_ok\n%s\n%s\n' "$label: shiftc compile ${topt[*]} $*" "$(tail_of "$d/compile.log")" >"$d/result"
        return
    fi
    if ! "$SHIFTC" run "$d/out" --input "$x" --output "$d/run.npy" >"$d/run.log" 2>&1; then
        printf 'not_ok\n%s\n%s\n' "$label: shiftc run ($target)" "$(tail_of "$d/run.log")" >"$d/result"
        return
    fi
    if cmp -s "$d/sim.npy" "$d/run.npy"; then
        printf 'ok\n%s\n' "$label: compile + run on $target is bit-exact with eval --quant-output ($(npy_dtype "$d/run.npy"), accuracy $(json_num "$d/eval.json" quant_accuracy))" >"$d/result"
    else
        printf 'not_ok\n%s\n%s\n' "$label: compile + run on $target differs from eval --quant-output" \
            "$($PY -c 'import numpy as np,sys; a=np.load(sys.argv[1]); b=np.load(sys.argv[2]); print(a.dtype, b.dtype, a.shape, b.shape, int((a!=b).sum()) if a.shape==b.shape else -1, "codes differ")' "$d/sim.npy" "$d/run.npy" 2>&1)" >"$d/result"
    fi
}

JOBS=${JOBS:-2}
LABELS=()
# exact LABEL ...: exact_job in the background, at most JOBS at a time
exact() {
    LABELS+=("$1")
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
        wait -n
    done
    exact_job "$@" &
}

# collect: waits for the jobs and records their results in order
collect() {
    wait
    local l kind
    for l in "${LABELS[@]}"; do
        if [ ! -f "$TMP/$l/result" ]; then
            not_ok "$l: no result (the check crashed)"
            continue
        fi
        kind=$(sed -n 1p "$TMP/$l/result")
        if [ "$kind" = ok ]; then
            ok "$(sed -n 2p "$TMP/$l/result")"
        else
            not_ok "$(sed -n 2p "$TMP/$l/result")" "$(sed -n '3,$p' "$TMP/$l/result")"
        fi
    done
    LABELS=()
}

# ---- 1. fixtures on the host
echo "# == 1. fixtures x act-bits x clip, host"
for m in mlp cnn; do
    for b in 4 8 16; do
        for c in minmax aciq; do
            label=$m-a$b-$c
            exact "$label" "$FIX/$m.onnx" "$FIX/calib.npy" "$FIX/test_x.npy" "$FIX/test_y.npy" host \
                --act-bits "$b" --clip "$c"
        done
    done
done
collect
for m in mlp cnn; do
    for b in 4 8 16; do
        for c in minmax aciq; do
            label=$m-a$b-$c
            d=$TMP/$label
            [ -f "$d/run.npy" ] || continue
            want="|u1 |i1"
            [ "$b" = 16 ] && want="<i2 <u2"
            dt=$(npy_dtype "$d/run.npy")
            bits=$(json_num "$d/eval.json" act_bits)
            if [[ " $want " == *" $dt "* ]] && [ "$bits" = "$b" ] && grep -q "\"clip\": \"$c\"" "$d/eval.json"; then
                ok "$label: output dtype $dt, eval --json reports act_bits $bits and clip $c"
            else
                not_ok "$label: output dtype $dt (want $want), act_bits '$bits', clip in $(cat "$d/eval.json")"
            fi
        done
    done
    # accuracy sanity, minmax: 16 bits close to 8, 4 bits clearly better than chance
    a4=$(json_num "$TMP/$m-a4-minmax/eval.json" quant_accuracy)
    a8=$(json_num "$TMP/$m-a8-minmax/eval.json" quant_accuracy)
    a16=$(json_num "$TMP/$m-a16-minmax/eval.json" quant_accuracy)
    if [ -n "$a4" ] && [ -n "$a8" ] && [ -n "$a16" ] &&
        awk -v a="$a4" -v b="$a8" -v c="$a16" 'BEGIN { d = c - b; if (d < 0) d = -d; exit !(d <= 0.015 && a > 0.5) }'; then
        ok "$m: accuracy $a4 / $a8 / $a16 at 4 / 8 / 16 bits (minmax)"
    else
        not_ok "$m: accuracy '$a4' / '$a8' / '$a16' at 4 / 8 / 16 bits: 16 not within 1.5 points of 8, or 4 <= 50%"
    fi
done

# the 8-bit min/max default is the default: same codes without the options
d=$TMP/default
mkdir -p "$d"
if "$SHIFTC" eval "$FIX/cnn.onnx" --calib "$FIX/calib.npy" --data "$FIX/test_x.npy" --labels "$FIX/test_y.npy" \
    --quant-output "$d/sim.npy" >/dev/null 2>&1 && cmp -s "$d/sim.npy" "$TMP/cnn-a8-minmax/sim.npy"; then
    ok "cnn: --act-bits 8 --clip minmax gives the default codes"
else
    not_ok "cnn: --act-bits 8 --clip minmax differs from the default"
fi

# ---- 2. cross targets on 100 images
echo "# == 2. cross targets (QEMU), 100 images"
for t in $TARGETS; do
    if ! "$SHIFTC" compile --help 2>&1 | grep -qw -- "$t"; then
        skip "$t: target" "not known to this shiftc"
        continue
    fi
    for m in mlp cnn; do
        for b in 4 16; do
            exact "$t-$m-a$b" "$FIX/$m.onnx" "$FIX/calib.npy" "$TMP/x100.npy" "$TMP/y100.npy" "$t" \
                --act-bits "$b" --clip aciq
        done
    done
done
collect

# ---- 3. no-mul at 16 bits
echo "# == 3. 16 bits, multiplierless requantization"
exact cnn-a16-nomul "$FIX/cnn.onnx" "$FIX/calib.npy" "$TMP/x100.npy" "$TMP/y100.npy" host \
    --act-bits 16 --clip aciq --no-mul
exact mlp-a4-nomul "$FIX/mlp.onnx" "$FIX/calib.npy" "$TMP/x100.npy" "$TMP/y100.npy" host \
    --act-bits 4 --clip aciq-gauss --no-mul
collect

# ---- 4. unseen models: every kernel at 4 and 16 bits
echo "# == 4. unseen models (table ops, Add, Concat, Softmax) at 4 and 16 bits"
if [ -f "$UNSEEN/manifest.txt" ]; then
    $PY -c '
import numpy as np, sys
np.save(sys.argv[2], np.load(sys.argv[1])[:100])
np.save(sys.argv[4], np.load(sys.argv[3])[:100])
' "$UNSEEN/test_x.npy" "$TMP/ux.npy" "$UNSEEN/test_y.npy" "$TMP/uy.npy"
    for f in "$UNSEEN"/*.onnx; do
        m=$(basename "$f" .onnx)
        for b in 4 16; do
            exact "$m-a$b" "$f" "$UNSEEN/calib.npy" "$TMP/ux.npy" "$TMP/uy.npy" host --act-bits "$b" --clip aciq
        done
    done
    collect
else
    skip "unseen models" "no $UNSEEN/manifest.txt (tools/make_unseen.py, or run tests/e2e.sh first)"
fi

# ---- 5. usage errors
echo "# == 5. bad option values"
for args in "--act-bits 5" "--act-bits x" "--clip nope" "--clip percentile:0"; do
    # shellcheck disable=SC2086
    "$SHIFTC" eval "$FIX/mlp.onnx" --calib "$FIX/calib.npy" --data "$TMP/x100.npy" --labels "$TMP/y100.npy" \
        $args >"$TMP/err.log" 2>&1
    rc=$?
    if [ $rc -eq 2 ] && grep -qF -- "${args%% *}" "$TMP/err.log"; then
        ok "eval $args: usage error naming the option"
    else
        not_ok "eval $args: exit $rc" "$(tail_of "$TMP/err.log")"
    fi
done

finish
