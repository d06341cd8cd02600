#!/usr/bin/env bash
# The MAC kernel style (--kernel mac) on every kind of target: the bundled
# MLP and CNN are compiled with --kernel mac for host, cortex-m4 (the SMLAD
# path and the blocked weight layout), rv32imc and aarch64, run with
# `shiftc run` (natively, under qemu-user or qemu-system) and their outputs
# compared byte for byte with the integer simulator's
# (`shiftc eval --kernel mac --quant-output`, the same as without --kernel:
# the kernel style changes no arithmetic); the emitted layers are checked to
# be MAC calls, not unrolled code.  Prints "ok - ..." / "not ok - ..." per
# check and a final "mac: N passed, N failed" line; exits 1 on a failure.
#
#   tests/mac.sh [TARGET...]      default: host cortex-m4 rv32imc aarch64
# Environment: SHIFTC (default build/shiftc), N=50 test images, KEEP=1.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. tests/lib.sh

SHIFTC=${SHIFTC:-$ROOT/build/shiftc}
FIX=$ROOT/tests/fixtures
N=${N:-50}
TARGETS=${*:-host cortex-m4 rv32imc aarch64}
MODELS="mlp cnn"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-mac-XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "# keeping $TMP"
else
    trap 'rm -rf "$TMP"' EXIT
fi

finish() {
    summary >/dev/null
    echo "mac: $TESTS_PASSED passed, $TESTS_FAILED failed"
    [ "$TESTS_FAILED" -eq 0 ]
    exit $?
}

if [ ! -x "$SHIFTC" ]; then
    not_ok "shiftc binary exists ($SHIFTC)" "build it with make first"
    finish
fi

$PY - "$FIX" "$TMP" "$N" <<'PY'
import numpy as np, sys
fix, tmp, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
np.save(tmp + "/x.npy", np.load(fix + "/test_x.npy")[:n])
np.save(tmp + "/y.npy", np.load(fix + "/test_y.npy")[:n])
PY

# a bad style name is a usage error
if "$SHIFTC" compile "$FIX/mlp.onnx" --calib "$FIX/calib.npy" --kernel simd -o "$TMP/bad" >"$TMP/bad.log" 2>&1; then
    not_ok "--kernel simd is refused"
elif [ $? -eq 2 ] && grep -q "unrolled or mac" "$TMP/bad.log"; then
    ok "--kernel simd is refused (exit 2, names the styles)"
else
    not_ok "--kernel simd is refused (exit 2, names the styles)" "$(tail_of "$TMP/bad.log")"
fi

for m in $MODELS; do
    if "$SHIFTC" eval "$FIX/$m.onnx" --calib "$FIX/calib.npy" --data "$TMP/x.npy" --labels "$TMP/y.npy" \
        --kernel mac --quant-output "$TMP/q-$m.npy" --json >"$TMP/eval-$m.json" 2>"$TMP/eval-$m.log" &&
        grep -q '"kernel": "mac"' "$TMP/eval-$m.json"; then
        ok "eval $m --kernel mac: simulator outputs for $N images, \"kernel\": \"mac\" in --json"
    else
        not_ok "eval $m --kernel mac" "$(tail_of "$TMP/eval-$m.log")"
    fi
done

for t in $TARGETS; do
    for m in $MODELS; do
        o=$TMP/$t-$m
        if ! "$SHIFTC" compile "$FIX/$m.onnx" --calib "$FIX/calib.npy" --kernel mac --target "$t" -o "$o" --json \
            >"$o.json" 2>"$o.log"; then
            not_ok "$t: $m compiles with --kernel mac" "$(tail_of "$o.log")"
            continue
        fi
        calls=$(cat "$o/${m}"_l*.c | grep -cE 'shiftc_(conv|dense)_mac_q\(')
        terms=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["shift_add_terms"])' "$o.json")
        if [ "$calls" -ge 2 ] && [ "$terms" = 0 ]; then
            ok "$t: $m compiles to $calls MAC kernel calls, 0 shift-add terms"
        else
            not_ok "$t: $m compiles to MAC kernel calls" "calls $calls, shift-add terms $terms"
        fi
        if ! "$SHIFTC" run "$o" --input "$TMP/x.npy" --output "$o-y.npy" --target "$t" --json \
            >"$o-run.json" 2>"$o-run.log"; then
            not_ok "$t: $m runs" "$(tail_of "$o-run.log")"
            continue
        fi
        ipi=$($PY -c 'import json,sys; v=json.load(open(sys.argv[1]))["instructions_per_inference"]; print("-" if v is None else "%.0f" % v)' "$o-run.json")
        if cmp -s "$o-y.npy" "$TMP/q-$m.npy"; then
            ok "$t: $m outputs == integer simulator, bit-exact ($N images; $ipi instructions/inference)"
        else
            not_ok "$t: $m outputs == integer simulator" "$(cmp "$o-y.npy" "$TMP/q-$m.npy" 2>&1)"
        fi
    done
done
finish
