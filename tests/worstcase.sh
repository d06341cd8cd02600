#!/usr/bin/env bash
# No undefined behaviour in generated code at the accumulator bound
# (algorithms.md section 6): every Conv/Dense layer and LSTM/GRU step of the
# emitted C is called on inputs that drive each output channel to the
# largest and smallest sum it can reach, built with
# -fsanitize=undefined,address -fno-sanitize-recover=all, and its outputs
# compared with the integer simulator's (compile --worst-case-harness,
# backends/emit_worstcase.h).  Extreme input codes through the whole network
# cover the other ops in the emitted code; the simulator, run by a sanitizer
# build of shiftc, drives every other node (pooling, Add, Concat, Softmax,
# tables) at the extremes of its input codes with the model's own parameters.
#
# Cases: the CNN and MLP fixtures (int8, every other weight format on the
# CNN, activations of 4 and 16 bits, --kernel mac, --no-mul), the LSTM/GRU
# fixtures (one and two directions, 16-bit activations, no-mul, ternary) and
# examples/models/residual.lua (Add and Concat requantization).  Per case:
# ok when shiftc ran clean, the harness built and ran without a sanitizer
# report, and every output equals the simulator's.  Two controls on the
# residual model show the checks can fail: a changed bias constant must be
# reported as a difference, an added signed overflow as a sanitizer error.
#
# The layer files are built at -O0 (the residual model also at clang -O1 and
# gcc -O2): the sanitizer checks are inserted by the front end either way,
# and clang -O1 needs minutes per large unrolled layer.
#
# Environment:
#   SHIFTC=path   binary under test (default build-san/shiftc when built,
#                 else build/shiftc; the sanitizer build also checks the
#                 simulator's kernels)
#   JOBS=2        cases at a time
#   ONLY=regex    run only the cases whose name matches
#   KEEP=1        keep the temporary directory
# Last line: "worstcase: N passed, N failed".
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. tests/lib.sh

if [ -z "${SHIFTC:-}" ]; then
    SHIFTC=$ROOT/build/shiftc
    [ -x "$ROOT/build-san/shiftc" ] && SHIFTC=$ROOT/build-san/shiftc
fi
FIX=$ROOT/tests/fixtures
RNN=$FIX/rnn_unseen
RES=$ROOT/examples/models/residual.lua
JOBS=${JOBS:-2}
ONLY=${ONLY:-.}
SAN=(-fsanitize=undefined,address -fno-sanitize-recover=all)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-worstcase-XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "# keeping $TMP"
else
    trap 'rm -rf "$TMP"' EXIT
fi
T0=$(now)

finish() {
    summary >/dev/null
    echo "# worstcase took $(elapsed "$T0") s ($SHIFTC)"
    echo "worstcase: $TESTS_PASSED passed, $TESTS_FAILED failed"
    [ "$TESTS_FAILED" -eq 0 ]
    exit $?
}

if [ ! -x "$SHIFTC" ]; then
    not_ok "shiftc binary exists" "$SHIFTC not found (make, or make SAN=1)"
    finish
fi

# NAME|COMPILERS|MODEL|OPTIONS (the calibration set is the fixtures' one)
CASES=(
    "cnn int8|clang gcc|$FIX/cnn.onnx|"
    "mlp int8|clang|$FIX/mlp.onnx|"
    "mlp a16|clang|$FIX/mlp.onnx|--act-bits 16"
    "cnn a4|clang|$FIX/cnn.onnx|--act-bits 4"
    "cnn a16|clang|$FIX/cnn.onnx|--act-bits 16"
    "cnn mac|clang|$FIX/cnn.onnx|--kernel mac"
    "cnn mac a16|clang|$FIX/cnn.onnx|--kernel mac --act-bits 16"
    "cnn no-mul|clang|$FIX/cnn.onnx|--no-mul"
    "cnn no-mul a16|clang|$FIX/cnn.onnx|--no-mul --act-bits 16"
)
for w in int2 int3 int4 int5 int6 int7 ternary ttq pot nhot2 nhot3 apot; do
    CASES+=("cnn $w|clang|$FIX/cnn.onnx|--weights $w")
done
CASES+=(
    "lstm int8|clang gcc|$FIX/lstm.onnx|"
    "gru int8|clang|$FIX/gru.onnx|"
    "lstm a16 no-mul|clang|$FIX/lstm.onnx|--act-bits 16 --no-mul"
    "gru a16|clang|$FIX/gru.onnx|--act-bits 16"
    "gru ternary no-mul|clang|$FIX/gru_tern.onnx|--weights ternary --no-mul"
    "lstm bidirectional|clang|$RNN/lstm_bi.onnx|"
    "gru bidirectional a16|clang|$RNN/gru_bi_last.onnx|--act-bits 16"
    "residual int8|clang gcc clang:-O1 gcc:-O2|$RES|"
    "residual a16 no-mul|clang|$RES|--act-bits 16 --no-mul"
    "residual a4 mac|clang|$RES|--act-bits 4 --kernel mac"
)

# build CC[:OPT] OUT BIN: the emitted sources (the Makefile's SRCS) and the
# harness, at -O0 unless OPT says otherwise
build() {
    local cc=${1%%:*} opt=-O0 out=$2 bin=$3 f objs=()
    [[ $1 == *:* ]] && opt=${1#*:}
    local srcs
    srcs=$(sed -n 's/^SRCS = //p' "$out/Makefile")
    mkdir -p "$bin.o"
    for f in $srcs worstcase.c; do
        nice -n 10 "$cc" -std=c99 "$opt" -g -Wall -Wextra -pedantic "${SAN[@]}" -I"$out" -c "$out/$f" \
            -o "$bin.o/${f%.c}.o" || return 1
        objs+=("$bin.o/${f%.c}.o")
    done
    "$cc" "${SAN[@]}" -o "$bin" "${objs[@]}" -lm
}

# run_case DIR NAME COMPILERS MODEL OPTIONS: DIR/verdict is "ok" or the
# reason, DIR/detail the evidence.
run_case() {
    local d=$1 compilers=$3 model=$4 opts=$5 cc
    mkdir -p "$d"
    # shellcheck disable=SC2086
    if ! nice -n 10 "$SHIFTC" compile "$model" --calib "$FIX/calib.npy" -o "$d/out" --no-size --no-verify \
        --worst-case-harness $opts >"$d/compile.log" 2>&1; then
        echo "compile --worst-case-harness failed" >"$d/verdict"
        tail_of "$d/compile.log" >"$d/detail"
        return
    fi
    if crashed 0 "$d/compile.log"; then
        echo "the simulator (shiftc) reported undefined behaviour" >"$d/verdict"
        tail_of "$d/compile.log" 30 >"$d/detail"
        return
    fi
    for cc in $compilers; do
        if ! build "$cc" "$d/out" "$d/wc-$cc" >"$d/build-$cc.log" 2>&1; then
            echo "$cc: the harness does not build" >"$d/verdict"
            tail_of "$d/build-$cc.log" >"$d/detail"
            return
        fi
        local rc=0
        (cd "$d/out" && "$d/wc-$cc" worstcase.bin) >"$d/run-$cc.log" 2>&1 || rc=$?
        if crashed "$rc" "$d/run-$cc.log"; then
            echo "$cc: sanitizer report" >"$d/verdict"
            grep -m 3 -E 'runtime error|Sanitizer' "$d/run-$cc.log" >"$d/detail"
            return
        fi
        if [ "$rc" -ne 0 ] || ! grep -qE 'cases, 0 differ from the simulator$' "$d/run-$cc.log"; then
            echo "$cc: outputs differ from the simulator (exit status $rc)" >"$d/verdict"
            tail_of "$d/run-$cc.log" 20 >"$d/detail"
            return
        fi
    done
    sed -n 's/^worstcase harness: \([0-9]*\) cases.*/\1/p' "$d/run-${compilers%% *}.log" >"$d/cases"
    echo ok >"$d/verdict"
}

i=0
for c in "${CASES[@]}"; do
    IFS='|' read -r name compilers model opts <<<"$c"
    i=$((i + 1))
    [[ $name =~ $ONLY ]] || continue
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
        wait -n
    done
    run_case "$TMP/$i" "$name" "$compilers" "$model" "$opts" &
done
wait

i=0
for c in "${CASES[@]}"; do
    IFS='|' read -r name compilers model opts <<<"$c"
    i=$((i + 1))
    [[ $name =~ $ONLY ]] || continue
    desc="$name${opts:+ ($opts)}"
    if [ "$(cat "$TMP/$i/verdict" 2>/dev/null)" = ok ]; then
        ok "$desc: $(cat "$TMP/$i/cases") cases at the bound, ${compilers// /, } with UBSan+ASan clean, every output the simulator's"
    else
        not_ok "$desc: $(cat "$TMP/$i/verdict" 2>/dev/null || echo 'no verdict')" "$(cat "$TMP/$i/detail" 2>/dev/null)"
    fi
done

# ---- controls: the checks above can fail ------------------------------------
if [[ "controls" =~ $ONLY ]]; then
    d=$TMP/control
    if "$SHIFTC" compile "$RES" --calib "$FIX/calib.npy" -o "$d/out" --no-size --no-verify \
        --worst-case-harness >"$TMP/control.log" 2>&1; then
        layer=$(sed -n 's/^SRCS = \([^ ]*\).*/\1/p' "$d/out/Makefile")
        cp "$d/out/$layer" "$TMP/layer.c"
        # a bias constant off by 1000: the harness must see the difference
        sed -E '0,/^( *)(a[0-9]*) = (-?[0-9]+);$/s//\1\2 = \3 + 1000;/' "$TMP/layer.c" >"$d/out/$layer"
        rc=0
        if ! cmp -s "$TMP/layer.c" "$d/out/$layer" && build clang "$d/out" "$d/wc-bias" >"$TMP/c1.log" 2>&1; then
            (cd "$d/out" && "$d/wc-bias" worstcase.bin) >"$TMP/c1.run" 2>&1 || rc=$?
        fi
        if [ "$rc" = 1 ] && grep -qE 'cases, [1-9][0-9]* differ from the simulator$' "$TMP/c1.run"; then
            ok "control: a bias off by 1000 in $layer is reported ($(grep -c "byte" "$TMP/c1.run") cases differ)"
        else
            not_ok "control: a bias off by 1000 in $layer is reported" "exit status $rc" "$(tail_of "$TMP/c1.run")"
        fi
        # a signed overflow in the layer: the sanitizer must stop the harness
        sed -E '0,/^( *)(a[0-9]*) = (-?[0-9]+);$/s//\1\2 = 2147483647;\n\1\2 = \2 + 1 + \3 - \3;/' "$TMP/layer.c" >"$d/out/$layer"
        rc=0
        if build clang "$d/out" "$d/wc-ub" >"$TMP/c2.log" 2>&1; then
            (cd "$d/out" && "$d/wc-ub" worstcase.bin) >"$TMP/c2.run" 2>&1 || rc=$?
        fi
        if [ "$rc" -ne 0 ] && grep -q 'runtime error: signed integer overflow' "$TMP/c2.run"; then
            ok "control: a signed overflow added to $layer stops the harness (UBSan)"
        else
            not_ok "control: a signed overflow added to $layer stops the harness (UBSan)" "exit status $rc" \
                "$(tail_of "$TMP/c2.run")" "$(tail_of "$TMP/c2.log")"
        fi
    else
        not_ok "control: compile residual.lua" "$(tail_of "$TMP/control.log")"
    fi
fi

finish
