#!/usr/bin/env bash
# The MAC kernel style (--kernel mac) on every kind of target: the bundled
# MLP and CNN are compiled with --kernel mac for host, cortex-m4 (the SMLAD
# path and the blocked weight layout), rv32imc and aarch64, run with
# `shiftc run` (natively, under qemu-user or qemu-system) and their outputs
# compared byte for byte with the integer simulator's
# (`shiftc eval --kernel mac --quant-output`, the same as without --kernel:
# the kernel style changes no arithmetic); the emitted layers are checked to
# be MAC calls, not unrolled code; Dense layers with 4-bit codes take the
# nibble-packed tables (below).  Prints "ok - ..." / "not ok - ..." per
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
# One-layer convolutions of awkward shapes on the vector targets (the
# column-vectorised SSE2 conv and the dot products): groups whose channel
# count is not a multiple of 4, dilation, a row stride, an odd tap count,
# outputs not a multiple of 8 wide, 1x1; each compared with the simulator.
SHAPES="g2 dil sh2 k1 narrow"
if $PY - "$TMP" $SHAPES <<'PY'
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
tmp, names = sys.argv[1], sys.argv[2:]
rng = np.random.default_rng(7)
# name: in channels, out channels, h, w, kernel, strides, pads, dilations, group
spec = {"g2": (4, 6, 10, 10, 3, [1, 1], [1] * 4, [1, 1], 2),
        "dil": (3, 8, 12, 12, 3, [1, 1], [2] * 4, [2, 2], 1),
        "sh2": (5, 4, 9, 17, 3, [2, 1], [0] * 4, [1, 1], 1),
        "k1": (16, 12, 8, 8, 1, [1, 1], [0] * 4, [1, 1], 1),
        "narrow": (8, 5, 6, 6, 3, [1, 1], [1] * 4, [1, 1], 1)}
for n in names:
    ic, oc, h, w, k, st, pd, dl, gr = spec[n]
    oh = (h + pd[0] + pd[2] - dl[0] * (k - 1) - 1) // st[0] + 1
    ow = (w + pd[1] + pd[3] - dl[1] * (k - 1) - 1) // st[1] + 1
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[k, k], strides=st, pads=pd,
                            dilations=dl, group=gr)
    inits = [numpy_helper.from_array(rng.standard_normal((oc, ic // gr, k, k)).astype(np.float32) * 0.3, "w"),
             numpy_helper.from_array(rng.standard_normal(oc).astype(np.float32) * 0.1, "b")]
    g = helper.make_graph([node], n, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, ic, h, w])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, oc, oh, ow])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, "%s/%s.onnx" % (tmp, n))
    np.save("%s/%s-calib.npy" % (tmp, n), rng.standard_normal((16, ic, h, w)).astype(np.float32))
    np.save("%s/%s-x.npy" % (tmp, n), rng.standard_normal((4, ic, h, w)).astype(np.float32))
    np.save("%s/%s-l.npy" % (tmp, n), np.zeros(4, dtype=np.int64))
PY
then
    for m in $SHAPES; do
        if ! "$SHIFTC" eval "$TMP/$m.onnx" --calib "$TMP/$m-calib.npy" --data "$TMP/$m-x.npy" --labels "$TMP/$m-l.npy" \
            --kernel mac --quant-output "$TMP/q-$m.npy" >"$TMP/eval-$m.log" 2>&1; then
            not_ok "eval conv $m --kernel mac" "$(tail_of "$TMP/eval-$m.log")"
            continue
        fi
        for t in host aarch64; do
            case " $TARGETS " in *" $t "*) ;; *) continue ;; esac
            o=$TMP/$t-$m
            if "$SHIFTC" compile "$TMP/$m.onnx" --calib "$TMP/$m-calib.npy" --kernel mac --target "$t" -o "$o" \
                >"$o.log" 2>&1 &&
                "$SHIFTC" run "$o" --input "$TMP/$m-x.npy" --output "$o-y.npy" --target "$t" >>"$o.log" 2>&1 &&
                cmp -s "$o-y.npy" "$TMP/q-$m.npy"; then
                ok "$t: conv $m (--kernel mac) outputs == integer simulator, bit-exact"
            else
                not_ok "$t: conv $m (--kernel mac) outputs == integer simulator" "$(tail_of "$o.log")"
            fi
        done
    done
else
    not_ok "one-layer conv models written"
fi

# Nibble-packed Dense tables (codes in [-8, 7]: shiftc_dense_mac4_q): the
# MLP at int4, and Dense layers whose k leaves a partial group of 8 and
# whose n leaves rows outside the blocks of 4, at int3 and ternary, on
# every target (the SMLAD path on cortex-m4), compared with the simulator.
if $PY - "$TMP" <<'PY'
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
tmp = sys.argv[1]
rng = np.random.default_rng(11)
for name, k, n in (("fc13x7", 13, 7), ("fc100x9", 100, 9)):
    node = helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)
    inits = [numpy_helper.from_array(rng.standard_normal((n, k)).astype(np.float32) * 0.3, "w"),
             numpy_helper.from_array(rng.standard_normal(n).astype(np.float32) * 0.1, "b")]
    g = helper.make_graph([node], name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, "%s/%s.onnx" % (tmp, name))
    np.save("%s/%s-calib.npy" % (tmp, name), rng.standard_normal((16, k)).astype(np.float32))
    np.save("%s/%s-x.npy" % (tmp, name), rng.standard_normal((8, k)).astype(np.float32))
    np.save("%s/%s-l.npy" % (tmp, name), np.zeros(8, dtype=np.int64))
PY
then
    cp "$TMP/x.npy" "$TMP/mlp-x.npy" && cp "$TMP/y.npy" "$TMP/mlp-l.npy"
    for spec in mlp:int4 fc13x7:int3 fc100x9:ternary; do
        m=${spec%%:*} f=${spec#*:}
        case $m in mlp) onnx=$FIX/mlp.onnx calib=$FIX/calib.npy ;; *) onnx=$TMP/$m.onnx calib=$TMP/$m-calib.npy ;; esac
        if ! "$SHIFTC" eval "$onnx" --calib "$calib" --data "$TMP/$m-x.npy" --labels "$TMP/$m-l.npy" --weights "$f" \
            --kernel mac --quant-output "$TMP/q4-$m.npy" >"$TMP/eval4-$m.log" 2>&1; then
            not_ok "eval $m --weights $f --kernel mac" "$(tail_of "$TMP/eval4-$m.log")"
            continue
        fi
        for t in $TARGETS; do
            o=$TMP/$t-$m-$f
            if ! "$SHIFTC" compile "$onnx" --calib "$calib" --weights "$f" --kernel mac --target "$t" -o "$o" \
                >"$o.log" 2>&1; then
                not_ok "$t: $m --weights $f compiles" "$(tail_of "$o.log")"
                continue
            fi
            packed=$(cat "$o"/*_l*.c | grep -c 'shiftc_dense_mac4_q(')
            if "$SHIFTC" run "$o" --input "$TMP/$m-x.npy" --output "$o-y.npy" --target "$t" >>"$o.log" 2>&1 &&
                [ "$packed" -ge 1 ] && cmp -s "$o-y.npy" "$TMP/q4-$m.npy"; then
                ok "$t: $m --weights $f: $packed nibble-packed Dense table(s), outputs == integer simulator"
            else
                not_ok "$t: $m --weights $f: nibble-packed, outputs == integer simulator" \
                    "packed calls $packed; $(tail_of "$o.log")"
            fi
        done
    done
else
    not_ok "one-layer Dense models written"
fi
finish
