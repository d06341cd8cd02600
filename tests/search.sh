#!/usr/bin/env bash
# The precision search (compile/eval --budget, compiler/search.c, mixed.c):
#   - the chosen assignment respects the budget (bits, flash, instructions,
#     and a second summed cost as a cap)
#     and is printed per layer in --json;
#   - an impossible budget is an error naming the smallest feasible one; bad
#     budgets and conflicting options are usage errors;
#   - --sensitivity FILE (traces of `shiftc sensitivity --json`) gives the
#     same choice as computing the traces with the same labels and probes;
#   - a mixed-precision program (several formats, and several activation
#     widths through --act-candidates) is bit-exact with the simulator on
#     the host and under QEMU (cortex-m4, rv32imc);
#   - the weighted layers feeding a residual Add share a format (unseen
#     resnet model, when tools/make_unseen.py's output is in build/unseen);
#   - compiling twice gives identical files.
# Last line: "search: N passed, N failed".  SHIFTC overrides the binary.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. tests/lib.sh

SHIFTC=${SHIFTC:-$ROOT/build/shiftc}
FIX=$ROOT/tests/fixtures
UNSEEN_DIR=${UNSEEN_DIR:-$ROOT/build/unseen}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-search-XXXXXX")
[ "${KEEP:-0}" = 1 ] && echo "# keeping $TMP" || trap 'rm -rf "$TMP"' EXIT
T0=$(now)
# fast Hessian settings: the checks are about the search, not the traces
FAST=(--sens-samples 50 --probes 12)
DATA=(--calib "$FIX/calib.npy" --data "$FIX/test_x.npy" --labels "$FIX/test_y.npy")

finish() {
    summary >/dev/null
    echo "# search took $(elapsed "$T0") s"
    echo "search: $TESTS_PASSED passed, $TESTS_FAILED failed"
    [ "$TESTS_FAILED" -eq 0 ]
    exit $?
}

jget() { # FILE PYTHON-EXPR over d
    "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

# ---- budgets are met, the table is complete
for spec in "mlp bits=3" "cnn bits=2.5" "cnn flash=60KiB" "mlp instructions=300k" "cnn bits=4,flash=30KiB"; do
    set -- $spec
    m=$1 b=$2
    out=$TMP/${m}_${b//=/_}.json
    if "$SHIFTC" eval "$FIX/$m.onnx" "${DATA[@]}" "${FAST[@]}" --budget "$b" --target cortex-m4 --json \
        >"$out" 2>"$TMP/err.log"; then
        verdict=$(jget "$out" '"ok" if (
            (d["search"]["kind"] != "bits" or d["search"]["average_bits"] <= d["search"]["limit"] / sum(l["params"] for l in d["search"]["layers"]) + 1e-9)
            and d["search"]["cost"][d["search"]["kind"]] <= d["search"]["limit"] + 1e-6
            and ("cap_kind" not in d["search"] or d["search"]["cost"][d["search"]["cap_kind"]] <= d["search"]["cap"] + 1e-6)
            and ("," not in d["search"]["budget"] or d["search"].get("cap_kind") == "flash")
            and all(set(l) >= {"name","op","weights","act_bits","kernel","omega","cost"} for l in d["search"]["layers"])
            and len(d["search"]["layers"]) >= 2 and d["weights"] in ("mixed",) + tuple(l["weights"] for l in d["search"]["layers"])
            and d["quant_accuracy"] > 0.5) else "bad"')
        [ "$verdict" = ok ] && ok "$m --budget $b: within budget, per-layer table in --json ($(jget "$out" '", ".join(l["weights"] for l in d["search"]["layers"])'))" ||
            not_ok "$m --budget $b: within budget, per-layer table" "$(head -c 1500 "$out")"
    else
        not_ok "$m --budget $b: eval runs" "$(tail_of "$TMP/err.log")"
    fi
done

# ---- text output names every layer
if "$SHIFTC" eval "$FIX/cnn.onnx" "${DATA[@]}" "${FAST[@]}" --budget bits=4 >"$TMP/text.log" 2>&1 &&
    grep -q "precision search on host: budget bits=4" "$TMP/text.log" && grep -q "/9/Gemm" "$TMP/text.log" &&
    grep -q "average weight bits" "$TMP/text.log"; then
    ok "eval --budget prints the assignment table"
else
    not_ok "eval --budget prints the assignment table" "$(tail_of "$TMP/text.log")"
fi

# ---- errors
expect_error() { # DESC RC PATTERN ARGS...
    local desc=$1 want=$2 pat=$3
    shift 3
    "$SHIFTC" "$@" >"$TMP/e.log" 2>&1
    local rc=$?
    if [ $rc -eq "$want" ] && grep -q -- "$pat" "$TMP/e.log" && ! crashed $rc "$TMP/e.log"; then
        ok "$desc (exit $rc)"
    else
        not_ok "$desc" "exit $rc, expected $want and /$pat/" "$(tail_of "$TMP/e.log")"
    fi
}
expect_error "impossible budget names the smallest feasible one" 1 "smallest feasible budget is flash=" \
    eval "$FIX/cnn.onnx" "${DATA[@]}" "${FAST[@]}" --budget flash=2KiB
expect_error "impossible bits budget" 1 "smallest feasible budget is bits=" \
    eval "$FIX/mlp.onnx" "${DATA[@]}" "${FAST[@]}" --budget bits=1 --candidates int4,int8
expect_error "impossible cap names the least it allows" 1 "no assignment keeps flash within 2048" \
    eval "$FIX/cnn.onnx" "${DATA[@]}" "${FAST[@]}" --budget bits=4,flash=2KiB
expect_error "a cost given twice" 2 "flash is given twice" eval "$FIX/mlp.onnx" "${DATA[@]}" --budget flash=9K,flash=2K
expect_error "unknown budget kind" 2 "unknown kind 'speed'" eval "$FIX/mlp.onnx" "${DATA[@]}" --budget speed=3
expect_error "malformed amount" 2 "not a positive amount" eval "$FIX/mlp.onnx" "${DATA[@]}" --budget flash=lots
expect_error "--weights with --budget" 2 "use --candidates" eval "$FIX/mlp.onnx" "${DATA[@]}" --budget bits=3 --weights int4
expect_error "unknown candidate format" 2 "unknown weight format 'int9'" \
    eval "$FIX/mlp.onnx" "${DATA[@]}" --budget bits=3 --candidates int4,int9
expect_error "bad --act-candidates" 2 "expects some of 4, 8, 16" eval "$FIX/mlp.onnx" "${DATA[@]}" --budget bits=3 --act-candidates 8,12
expect_error "--report without a search" 2 "add --budget or --policy" eval "$FIX/mlp.onnx" "${DATA[@]}" --report "$TMP/r"
echo '{"layers": []}' >"$TMP/wrong_sens.json"
expect_error "--sensitivity of another model" 1 "no layer" \
    eval "$FIX/mlp.onnx" "${DATA[@]}" --budget bits=3 --sensitivity "$TMP/wrong_sens.json"
echo 'not json' >"$TMP/garbage.json"
expect_error "--sensitivity garbage" 1 "garbage.json: not the output" \
    eval "$FIX/mlp.onnx" "${DATA[@]}" --budget bits=3 --sensitivity "$TMP/garbage.json"

# ---- --sensitivity reuses traces: same choice as computing them
"$PY" -c "import numpy as np; np.save('$TMP/calib_x.npy', np.load('$FIX/test_x.npy')[:200]); np.save('$TMP/calib_y.npy', np.load('$FIX/test_y.npy')[:200])"
if "$SHIFTC" sensitivity "$FIX/cnn.onnx" --calib "$TMP/calib_x.npy" --labels "$TMP/calib_y.npy" --samples 50 \
    --probes 12 --json >"$TMP/sens.json" 2>/dev/null &&
    "$SHIFTC" eval "$FIX/cnn.onnx" --calib "$TMP/calib_x.npy" --data "$FIX/test_x.npy" --labels "$FIX/test_y.npy" \
        --calib-labels "$TMP/calib_y.npy" "${FAST[@]}" --budget bits=3 --json >"$TMP/a.json" 2>/dev/null &&
    "$SHIFTC" eval "$FIX/cnn.onnx" --calib "$TMP/calib_x.npy" --data "$FIX/test_x.npy" --labels "$FIX/test_y.npy" \
        --sensitivity "$TMP/sens.json" --budget bits=3 --json >"$TMP/b.json" 2>/dev/null &&
    "$PY" -c "
import json, sys
a, b = (json.load(open(f))['search'] for f in sys.argv[1:])
same = [(l['name'], l['weights'], l['act_bits']) for l in a['layers']] == [(l['name'], l['weights'], l['act_bits']) for l in b['layers']]
# the JSON file holds traces to 9 digits: Omega agrees to about that
sys.exit(0 if same and abs(a['omega'] - b['omega']) <= 1e-6 * abs(a['omega']) and a['frontier_points'] == b['frontier_points'] else 1)
" "$TMP/a.json" "$TMP/b.json"; then
    ok "--sensitivity S.json: the same search as computing the traces"
else
    not_ok "--sensitivity S.json: the same search as computing the traces" "$(jget "$TMP/a.json" 'd["search"]["omega"]' 2>&1)" \
        "$(jget "$TMP/b.json" 'd["search"]["omega"]' 2>&1)"
fi

# ---- mixed-precision programs are bit-exact with the simulator
bitexact() { # DESC TARGET MODEL N ARGS...
    local desc=$1 target=$2 m=$3 n=$4
    shift 4
    local d=$TMP/bx_${target}_$m
    "$PY" -c "import numpy as np; np.save('$d.x.npy', np.load('$FIX/test_x.npy')[:$n]); np.save('$d.y.npy', np.load('$FIX/test_y.npy')[:$n])"
    if "$SHIFTC" compile "$FIX/$m.onnx" --calib "$FIX/calib.npy" -o "$d" --target "$target" "${FAST[@]}" "$@" \
        --json >"$d.c.json" 2>"$d.log" &&
        "$SHIFTC" eval "$FIX/$m.onnx" --calib "$FIX/calib.npy" --data "$d.x.npy" --labels "$d.y.npy" \
            --target "$target" "${FAST[@]}" "$@" --quant-output "$d.q.npy" --json >"$d.e.json" 2>>"$d.log" &&
        "$SHIFTC" run "$d" --target "$target" --input "$d.x.npy" --output "$d.r.npy" >>"$d.log" 2>&1 &&
        cmp -s "$d.q.npy" "$d.r.npy" &&
        [ "$(jget "$d.c.json" 'd["search"]["layers"]')" = "$(jget "$d.e.json" 'd["search"]["layers"]')" ]; then
        ok "$desc: $target bit-exact ($(jget "$d.c.json" '", ".join("%s/%d" % (l["weights"], l["act_bits"]) for l in d["search"]["layers"])'))"
    else
        not_ok "$desc: $target bit-exact" "$(tail_of "$d.log")"
    fi
}
bitexact "CNN at 3 bits" host cnn 600 --budget bits=3
bitexact "MLP at 2.5 bits" host mlp 600 --budget bits=2.5
bitexact "CNN, weights and activation widths searched" host cnn 600 --budget bits=3.5 --act-candidates 4,8,16
if "$SHIFTC" run --help >/dev/null 2>&1 && command -v qemu-system-arm >/dev/null; then
    bitexact "CNN at 40 KiB" cortex-m4 cnn 40 --budget flash=40KiB --act-candidates 8,16
    bitexact "CNN at 3 bits" rv32imc cnn 40 --budget bits=3 --act-candidates 4,8
else
    skip "mixed precision under QEMU" "qemu-system-arm missing"
fi

# ---- residual branches share a format
RES=$UNSEEN_DIR/resnet.onnx
if [ -f "$RES" ]; then
    if "$SHIFTC" eval "$RES" --calib "$UNSEEN_DIR/calib.npy" --data "$UNSEEN_DIR/test_x.npy" \
        --labels "$UNSEEN_DIR/test_y.npy" "${FAST[@]}" --budget bits=3 --json >"$TMP/res.json" 2>"$TMP/res.log"; then
        ok "unseen resnet: search runs ($(jget "$TMP/res.json" '", ".join(l["weights"] for l in d["search"]["layers"])'))"
    else
        not_ok "unseen resnet: search runs" "$(tail_of "$TMP/res.log")"
    fi
else
    skip "unseen resnet: residual ties" "no $RES (tests/e2e.sh builds it)"
fi

# ---- determinism
for i in 1 2; do
    "$SHIFTC" compile "$FIX/cnn.onnx" --calib "$FIX/calib.npy" -o "$TMP/det$i" --no-size "${FAST[@]}" \
        --budget bits=3 >/dev/null 2>&1
done
if [ -d "$TMP/det1" ] && diff -r "$TMP/det1" "$TMP/det2" >/dev/null; then
    ok "compile --budget twice: identical files"
else
    not_ok "compile --budget twice: identical files"
fi
finish
