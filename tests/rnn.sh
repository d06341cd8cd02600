#!/usr/bin/env bash
# Quantized LSTM and GRU (docs/rnn.md): every target bit-exact with the
# integer simulator, and the int8 accuracy within 1 point of float.
#
# Models: tests/fixtures/lstm.onnx and gru.onnx (1 layer, hidden 32), and
# tests/fixtures/rnn_unseen/*.onnx (2 layers, other hidden sizes) when
# present.  Variants: int8 weights with 8-bit activations ("int8"),
# ternary weights ("ternary"), int8 weights with 16-bit activations ("a16"),
# and the precision search at 4 average weight bits ("mixed", host and
# cortex-m4).
#   - per model and variant, for each target: compile --target T, run on the
#     first N test images (QEMU for the foreign ones) and compare the output
#     codes with eval --quant-output byte for byte (rv32i: with --no-mul, the
#     multiplierless requantization it gets automatically); the unseen models
#     go through every target with int8, through the host only with the
#     other variants;
#   - the ternary-aware fixtures lstm_tern/gru_tern: ternary on every
#     target, and their ternary accuracy within ACC_TOL of float;
#   - eval on the 600 test images: int8 accuracy within ACC_TOL of float for
#     the main fixtures; every variant's accuracy is printed.
# Prints "ok - ..." / "not ok - ..." per check and a final line
# "rnn: N passed, N failed"; exits 1 if a check failed.
#
# Environment:
#   SHIFTC=path       binary under test (default build/shiftc)
#   TARGETS="..."     targets (default: host aarch64 riscv64 cortex-m4 rv32imc rv32i)
#   N=20              test images per target run
#   ACC_TOL=0.01      largest float - int8 accuracy drop allowed (main fixtures)
#   JOBS=n            runs at a time (default: nproc)
#   KEEP=1            keep the temporary directory
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. tests/lib.sh

SHIFTC=${SHIFTC:-$ROOT/build/shiftc}
FIX=${FIX:-$ROOT/tests/fixtures}
TARGETS=${TARGETS:-host aarch64 riscv64 cortex-m4 rv32imc rv32i}
N=${N:-20}
ACC_TOL=${ACC_TOL:-0.01}
JOBS=${JOBS:-$(nproc)}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-rnn-XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "# keeping $TMP"
else
    trap 'rm -rf "$TMP"' EXIT
fi
export TMPDIR=$TMP
T0=$(now)

finish() {
    summary >/dev/null
    echo "# rnn took $(elapsed "$T0") s"
    echo "rnn: $TESTS_PASSED passed, $TESTS_FAILED failed"
    [ "$TESTS_FAILED" -eq 0 ]
    exit $?
}

if [ ! -x "$SHIFTC" ]; then
    not_ok "shiftc binary exists ($SHIFTC)" "build it with make first"
    finish
fi

MAIN=""
for m in lstm gru; do
    if [ -f "$FIX/$m.onnx" ]; then
        MAIN="$MAIN $FIX/$m.onnx"
    else
        not_ok "fixture $m.onnx exists" "tools/make_rnn_fixtures.py writes it"
    fi
done
# trained ternary-aware (tools/make_rnn_ternary.py): the ternary variant
# on every target, its accuracy within ACC_TOL of the model's float
TERN=""
for m in lstm_tern gru_tern; do
    if [ -f "$FIX/$m.onnx" ]; then
        TERN="$TERN $FIX/$m.onnx"
    else
        not_ok "fixture $m.onnx exists" "tools/make_rnn_ternary.py writes it"
    fi
done
UNSEEN=$(ls "$FIX"/rnn_unseen/*.onnx 2>/dev/null)
[ -n "$UNSEEN" ] || skip "unseen RNN models" "no tests/fixtures/rnn_unseen/*.onnx"

if ! $PY - "$FIX" "$TMP" "$N" <<'PY'; then
import sys, numpy as np
fix, tmp, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
np.save(tmp + "/x_n.npy", np.load(fix + "/test_x.npy")[:n])
np.save(tmp + "/y_n.npy", np.load(fix + "/test_y.npy")[:n])
PY
    not_ok "subset of $N test images (numpy)"
    finish
fi

# the options of a variant
opts() {
    case $1 in
    int8) echo "" ;;
    ternary) echo "--weights ternary" ;;
    a16) echo "--act-bits 16" ;;
    mixed) echo "--budget bits=4 --sens-samples 50 --probes 20" ;; # the precision search picks per layer
    esac
}

json_num() { sed -nE "s/.*\"$2\": ([0-9.eE+-]+).*/\1/p" "$1"; }

# ---- one model, variant and target: "ok|DESC" or "not ok|DESC|DETAIL" ----
one() { # MODEL VARIANT TARGET
    local path=$1 v=$2 t=$3 m
    m=$(basename "$path" .onnx)
    local d=$TMP/$m-$v-$t res=$TMP/$m-$v-$t.res nomul=""
    mkdir -p "$d"
    : >"$res"
    case $t in rv32i | rv32e) nomul="--no-mul" ;; esac
    local -a o
    read -r -a o <<<"$(opts "$v")"
    # shellcheck disable=SC2086
    if "$SHIFTC" eval "$path" --calib "$FIX/calib.npy" --data "$TMP/x_n.npy" --labels "$TMP/y_n.npy" \
        "${o[@]}" $nomul --quant-output "$d/sim.npy" >"$d/eval.log" 2>&1 &&
        "$SHIFTC" compile "$path" --calib "$FIX/calib.npy" -o "$d/out" "${o[@]}" --target "$t" --no-size >"$d/c.log" 2>&1 &&
        "$SHIFTC" run "$d/out" --target "$t" --input "$TMP/x_n.npy" --output "$d/run.npy" >"$d/run.log" 2>&1 &&
        cmp -s "$d/sim.npy" "$d/run.npy"; then
        local extra
        extra=$(sed -nE 's/^ *([0-9.]+) instructions per inference.*/, \1 instructions per inference/p' "$d/run.log")
        echo "ok|$m $v $t${nomul:+ (no-mul)}: bit-exact with the simulator on $N images$extra" >>"$res"
    else
        echo "not ok|$m $v $t: bit-exact with the simulator|$(tail -n 4 "$d/eval.log" "$d/c.log" "$d/run.log" 2>/dev/null | tr "\n" " ")" >>"$res"
    fi
}

# ---- accuracy on the 600 images: "ok|..." lines, one per model/variant ----
acc() { # MODEL VARIANT
    local path=$1 v=$2 m
    m=$(basename "$path" .onnx)
    local d=$TMP/acc-$m-$v res=$TMP/acc-$m-$v.res
    mkdir -p "$d"
    : >"$res"
    local -a o
    read -r -a o <<<"$(opts "$v")"
    if ! "$SHIFTC" eval "$path" --calib "$FIX/calib.npy" --data "$FIX/test_x.npy" --labels "$FIX/test_y.npy" \
        "${o[@]}" --json >"$d/eval.json" 2>"$d/eval.log"; then
        echo "not ok|$m $v: shiftc eval on 600 images|$(tail -n 4 "$d/eval.log" | tr "\n" " ")" >>"$res"
        return
    fi
    local fa qa
    fa=$(json_num "$d/eval.json" float_accuracy)
    qa=$(json_num "$d/eval.json" quant_accuracy)
    if { [ "$v" = int8 ] && [[ " $MAIN " == *" $path "* ]]; } || { [ "$v" = ternary ] && [[ " $TERN " == *" $path "* ]]; }; then
        if awk -v f="$fa" -v q="$qa" -v t="$ACC_TOL" 'BEGIN { exit !(f - q <= t) }'; then
            echo "ok|$m $v: accuracy $qa within $ACC_TOL of float $fa on 600 images" >>"$res"
        else
            echo "not ok|$m $v: accuracy $qa within $ACC_TOL of float $fa on 600 images|" >>"$res"
        fi
    else
        echo "ok|$m $v: accuracy $qa (float $fa) on 600 images" >>"$res"
    fi
}

jobs_list=()
for p in $MAIN; do
    for v in int8 ternary a16; do
        jobs_list+=("acc $p $v")
        for t in $TARGETS; do jobs_list+=("one $p $v $t"); done
    done
done
# the precision search over the LSTM/GRU and the Dense after it
for p in $MAIN; do
    for t in host cortex-m4; do
        [[ " $TARGETS " == *" $t "* ]] && jobs_list+=("one $p mixed $t")
    done
done
for p in $TERN; do
    jobs_list+=("acc $p ternary")
    for t in $TARGETS; do jobs_list+=("one $p ternary $t"); done
done
for p in $UNSEEN; do
    for v in int8 ternary a16; do
        jobs_list+=("acc $p $v")
        if [ "$v" = int8 ]; then
            for t in $TARGETS; do jobs_list+=("one $p $v $t"); done
        else
            jobs_list+=("one $p $v host")
        fi
    done
done
echo "# ${#jobs_list[@]} runs, $JOBS at a time"
running=0
for j in "${jobs_list[@]}"; do
    # shellcheck disable=SC2086
    $j &
    running=$((running + 1))
    if [ $running -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

for j in "${jobs_list[@]}"; do
    read -r kind p v t <<<"$j"
    m=$(basename "$p" .onnx)
    if [ "$kind" = acc ]; then res=$TMP/acc-$m-$v.res; else res=$TMP/$m-$v-$t.res; fi
    if [ ! -s "$res" ]; then
        not_ok "$j: no result"
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

# ---- refusals: out-of-scope recurrent nodes are named, "not supported" ----
# (a bidirectional LSTM, which the integer path takes, given sequence_lens,
# which it does not)
if $PY - "$TMP/seqlens.onnx" <<'PY' 2>/dev/null; then
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
H, I, T = 4, 28, 28
rng = np.random.default_rng(0)
W = numpy_helper.from_array(rng.standard_normal((2, 4 * H, I)).astype(np.float32), "W")
R = numpy_helper.from_array(rng.standard_normal((2, 4 * H, H)).astype(np.float32), "R")
lens = numpy_helper.from_array(np.array([T], dtype=np.int32), "lens")
shape = numpy_helper.from_array(np.array([T, 1, I], dtype=np.int64), "shape")
nodes = [helper.make_node("Reshape", ["input", "shape"], ["x"]),
         helper.make_node("LSTM", ["x", "W", "R", "", "lens"], ["y", "yh"], name="lstm_seqlens",
                          hidden_size=H, direction="bidirectional"),
         helper.make_node("Flatten", ["yh"], ["logits"], axis=0)]
g = helper.make_graph(nodes, "seqlens", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 28, 28])],
                      [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 2 * H])], [W, R, lens, shape])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), sys.argv[1])
PY
    "$SHIFTC" compile "$TMP/seqlens.onnx" --calib "$FIX/calib.npy" -o "$TMP/seqlens" >"$TMP/seqlens.log" 2>&1
    rc=$?
    if [ $rc -ne 0 ] && ! crashed $rc "$TMP/seqlens.log" && grep -q 'lstm_seqlens' "$TMP/seqlens.log" &&
        grep -q 'sequence_lens.*not supported' "$TMP/seqlens.log"; then
        ok "LSTM with sequence_lens refused by the integer path, naming the node: $(grep -m1 'not supported' "$TMP/seqlens.log")"
    else
        not_ok "LSTM with sequence_lens refused by the integer path, naming the node" "exit $rc" "$(tail_of "$TMP/seqlens.log")"
    fi
else
    skip "sequence_lens refusal" "could not build the model with python3-onnx"
fi
finish
