#!/bin/bash
# The mac style's cost model (backends/cost.h, the mac_ fields of
# CostModel, fitted by bench/mac.py --fit) against measurement, and a
# mixed-kernel program bit-exact with the simulator:
#  1. the bundled CNN and MLP with every layer in the mac style (int8): the
#     prediction of the precision search (`compile --json` "search" block of
#     --budget flash=1G --candidates int8 --kernel-candidates mac) within
#     TOL (15%) of the measured flash (`compile --kernel mac --json`
#     flash_bytes) and instructions (`run --json` instructions_per_inference)
#     on Cortex-M4 (SysTick) and RV32IMC (minstret);
#     (and the MLP at int4: nibble-packed Dense tables);
#  2. the CNN at --budget flash=60KiB --kernel-candidates unrolled,mac on
#     Cortex-M4: compiled, run under QEMU on 20 test images and compared byte
#     for byte with `eval --quant-output` of the same options; the kernel
#     style of each layer is printed;
#  3. the CNN at a budget with a cap, instructions=half the mac build's,
#     flash=the mac build's: both predicted totals and the measured flash
#     within it, bit-exact.
# Prints "ok - ..." / "not ok - ..." per check and a final "N passed, N
# failed" line; exits 1 on a failure.
#
#   tests/costs_mac.sh            (from the repository root, after make)
# Environment: SHIFTC (default build/shiftc), TOL=0.15, KEEP=1.
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

SHIFTC=${SHIFTC:-build/shiftc}
TOL=${TOL:-0.15}
FIX=tests/fixtures
OUT=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-costs-mac-XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "# keeping $OUT"
else
    trap 'rm -rf "$OUT"' EXIT
fi
# a quick Hessian: the traces only rank formats, and every candidate here is
# int8 or the search's own choice
SENS=(--sens-samples 32 --probes 4)

have() { command -v "$1" >/dev/null 2>&1; }
finish() {
    summary
    exit $?
}

if [ ! -x "$SHIFTC" ]; then
    not_ok "$SHIFTC exists (run make first)"
    finish
fi

"$PY" - "$FIX" "$OUT" <<'PY'
import numpy as np, sys
fix, out = sys.argv[1], sys.argv[2]
x, y = np.load(fix + "/test_x.npy"), np.load(fix + "/test_y.npy")
np.save(out + "/x2.npy", x[:2])
np.save(out + "/x20.npy", x[:20])
np.save(out + "/y20.npy", y[:20])
PY

# jget FILE EXPR: a value of the last JSON line of FILE (EXPR on d)
jget() {
    "$PY" -c 'import json,sys
d = json.loads([l for l in open(sys.argv[1]).read().splitlines() if l.startswith("{")][-1])
print(eval(sys.argv[2]))' "$1" "$2"
}

# within PRED MEAS: exit 0 when |PRED/MEAS - 1| <= TOL; prints the error
within() {
    awk -v p="$1" -v m="$2" -v t="$TOL" 'BEGIN { e = p / m - 1; printf "%+.1f%%", 100 * e; exit !(e <= t && e >= -t) }'
}

targets=()
if have arm-none-eabi-gcc && have qemu-system-arm; then
    targets+=(cortex-m4)
else
    skip "cortex-m4" "arm-none-eabi-gcc or qemu-system-arm missing"
fi
if have riscv64-unknown-elf-gcc && have qemu-system-riscv32; then
    targets+=(rv32imc)
else
    skip "rv32imc" "riscv64-unknown-elf-gcc or qemu-system-riscv32 missing"
fi

# 1. predicted vs measured, every layer mac (the MLP at int4 too: nibble-packed tables)
for t in "${targets[@]}"; do
    for spec in cnn:int8 mlp:int8 mlp:int4; do
        m=${spec%%:*} f=${spec#*:}
        p=$OUT/pred-$t-$m-$f o=$OUT/mac-$t-$m-$f
        if ! "$SHIFTC" compile "$FIX/$m.onnx" --calib "$FIX/calib.npy" --target "$t" -o "$p" --json --no-verify \
            --budget flash=1G --candidates "$f" --kernel-candidates mac --refine 0 "${SENS[@]}" \
            >"$p.json" 2>"$p.log"; then
            not_ok "$t: $m search with --kernel-candidates mac" "$(tail_of "$p.log")"
            continue
        fi
        kinds=$(jget "$p.json" '",".join(sorted(set(l["kernel"] for l in d["search"]["layers"])))')
        pf=$(jget "$p.json" 'd["search"]["cost"]["flash"]')
        pi=$(jget "$p.json" 'd["search"]["cost"]["instructions"]')
        if ! "$SHIFTC" compile "$FIX/$m.onnx" --calib "$FIX/calib.npy" --target "$t" -o "$o" --json --no-verify \
            --kernel mac --weights "$f" >"$o.json" 2>"$o.log" ||
            ! "$SHIFTC" run "$o" --input "$OUT/x2.npy" --output "$o-y.npy" --target "$t" --json \
                >"$o-run.json" 2>"$o-run.log"; then
            not_ok "$t: $m --weights $f --kernel mac compiles and runs" "$(tail_of "$o.log")" "$(tail_of "$o-run.log")"
            continue
        fi
        mf=$(jget "$o.json" 'd["flash_bytes"]')
        mi=$(jget "$o-run.json" 'd["instructions_per_inference"]')
        if [ "$kinds" != mac ]; then
            not_ok "$t: $m $f: the search picks mac for every layer" "kernels: $kinds"
        fi
        if e=$(within "$pf" "$mf"); then
            ok "$t: $m $f mac flash predicted $(printf %.0f "$pf") vs measured $mf ($e)"
        else
            not_ok "$t: $m $f mac flash predicted $(printf %.0f "$pf") vs measured $mf ($e)"
        fi
        if e=$(within "$pi" "$mi"); then
            ok "$t: $m $f mac instructions predicted $(printf %.0f "$pi") vs measured $(printf %.0f "$mi") ($e)"
        else
            not_ok "$t: $m $f mac instructions predicted $(printf %.0f "$pi") vs measured $(printf %.0f "$mi") ($e)"
        fi
    done
done

# 2. a mixed-kernel program, bit-exact
if [[ " ${targets[*]} " == *" cortex-m4 "* ]]; then
    B=(--budget flash=60KiB --kernel-candidates unrolled,mac "${SENS[@]}")
    o=$OUT/mixed-cnn
    if ! "$SHIFTC" compile "$FIX/cnn.onnx" --calib "$FIX/calib.npy" --target cortex-m4 -o "$o" --json "${B[@]}" \
        >"$o.json" 2>"$o.log"; then
        not_ok "cortex-m4: cnn compiles with ${B[*]}" "$(tail_of "$o.log")"
    else
        styles=$(jget "$o.json" '" ".join("%s=%s/%s" % (l["name"], l["weights"], l["kernel"]) for l in d["search"]["layers"])')
        echo "# cnn at flash=60KiB on cortex-m4: $styles"
        if "$SHIFTC" eval "$FIX/cnn.onnx" --calib "$FIX/calib.npy" --data "$OUT/x20.npy" --labels "$OUT/y20.npy" \
            --target cortex-m4 "${B[@]}" --quant-output "$OUT/q-mixed.npy" >"$o-eval.log" 2>&1 &&
            "$SHIFTC" run "$o" --input "$OUT/x20.npy" --output "$o-y.npy" --target cortex-m4 --json \
                >"$o-run.json" 2>"$o-run.log"; then
            if cmp -s "$o-y.npy" "$OUT/q-mixed.npy"; then
                ok "cortex-m4: cnn with mixed kernel styles ($styles) == simulator, bit-exact (20 images)"
            else
                not_ok "cortex-m4: cnn with mixed kernel styles == simulator" "$(cmp "$o-y.npy" "$OUT/q-mixed.npy" 2>&1)"
            fi
        else
            not_ok "cortex-m4: cnn with mixed kernel styles evaluates and runs" "$(tail_of "$o-eval.log")" \
                "$(tail_of "$o-run.log")"
        fi
    fi
fi

# 3. a budget with a cap: half the int8 mac build's instructions within its
# flash (the mac build measured in 1), searched over both styles; the choice
# keeps both predicted totals, its measured flash stays within the cap, and
# it is bit-exact with the simulator
if [[ " ${targets[*]} " == *" cortex-m4 "* ]] && [ -f "$OUT/mac-cortex-m4-cnn-int8-run.json" ]; then
    bi=$(jget "$OUT/mac-cortex-m4-cnn-int8-run.json" 'int(d["instructions_per_inference"] / 2)')
    bf=$(jget "$OUT/mac-cortex-m4-cnn-int8.json" 'd["flash_bytes"]')
    B=(--budget "instructions=$bi,flash=$bf" --kernel-candidates unrolled,mac "${SENS[@]}")
    o=$OUT/capped-cnn
    if ! "$SHIFTC" compile "$FIX/cnn.onnx" --calib "$FIX/calib.npy" --target cortex-m4 -o "$o" --json "${B[@]}" \
        >"$o.json" 2>"$o.log"; then
        not_ok "cortex-m4: cnn compiles with ${B[*]}" "$(tail_of "$o.log")"
    else
        styles=$(jget "$o.json" '" ".join("%s=%s/%s" % (l["name"], l["weights"], l["kernel"]) for l in d["search"]["layers"])')
        pf=$(jget "$o.json" 'd["search"]["cost"]["flash"]')
        pi=$(jget "$o.json" 'd["search"]["cost"]["instructions"]')
        mf=$(jget "$o.json" 'd["flash_bytes"]')
        if awk -v pf="$pf" -v pi="$pi" -v mf="$mf" -v bf="$bf" -v bi="$bi" 'BEGIN { exit !(pf <= bf && pi <= bi && mf <= bf) }'; then
            ok "cortex-m4: cnn at instructions=$bi,flash=$bf: $styles; predicted $(printf %.0f "$pi") instructions, $(printf %.0f "$pf") bytes; measured flash $mf"
        else
            not_ok "cortex-m4: cnn at instructions=$bi,flash=$bf keeps both" \
                "$styles; predicted $pi instructions, $pf bytes; measured flash $mf"
        fi
        if "$SHIFTC" eval "$FIX/cnn.onnx" --calib "$FIX/calib.npy" --data "$OUT/x20.npy" --labels "$OUT/y20.npy" \
            --target cortex-m4 "${B[@]}" --quant-output "$OUT/q-capped.npy" >"$o-eval.log" 2>&1 &&
            "$SHIFTC" run "$o" --input "$OUT/x20.npy" --output "$o-y.npy" --target cortex-m4 --json \
                >"$o-run.json" 2>"$o-run.log" && cmp -s "$o-y.npy" "$OUT/q-capped.npy"; then
            ok "cortex-m4: cnn at instructions=$bi,flash=$bf == simulator, bit-exact (20 images, $(jget "$o-run.json" '"%.0f" % d["instructions_per_inference"]') instructions)"
        else
            not_ok "cortex-m4: cnn at instructions=$bi,flash=$bf == simulator" "$(tail_of "$o-eval.log")" \
                "$(tail_of "$o-run.log")"
        fi
    fi
fi
finish
