#!/usr/bin/env bash
# Hessian sensitivity (issue 5; LSTM/GRU: issue 7): `shiftc sensitivity`
# against PyTorch's autograd reference (tests/fixtures/*_hessian_ref.json, made by
# tools/hessian_ref.py), layer by layer within combined standard errors
# (|a - b| <= 3 sqrt(se_a^2 + se_b^2)); determinism across thread counts;
# errors and exit statuses; and the unit test with the exact-trace check.
#
#   SHIFTC=path   binary under test (default build/shiftc)
#   UNIT=path     test_backward binary (default build/tests/test_backward)
#   UNSEEN=1      also models not seen during development (build/unseen/*.onnx,
#                 from tools/make_unseen.py): reference computed live, ~2 min
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. tests/lib.sh
SHIFTC=${SHIFTC:-$ROOT/build/shiftc}
UNIT=${UNIT:-$ROOT/build/tests/test_backward}
F=tests/fixtures
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-sens-XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# compare OURS.json REF.json MODEL: one ok/not ok line per layer (and per
# layer input activation when the reference has them)
compare() {
    "$PY" - "$1" "$2" "$3" <<'PYEOF'
import json, math, sys
a, b, model = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
if [l["name"] for l in a["layers"]] != [l["name"] for l in b["layers"]]:
    print("not ok - %s: layers differ: %s vs %s" % (model, [l["name"] for l in a["layers"]],
                                                     [l["name"] for l in b["layers"]]))
    sys.exit(0)
for la, lb in zip(a["layers"], b["layers"]):
    d, s = abs(la["trace"] - lb["trace"]), math.sqrt(la["stderr"] ** 2 + lb["stderr"] ** 2)
    ok = d <= 3 * s and la["params"] == lb["params"]
    print("%s - %s %s: trace %.4g +- %.2g vs torch %.4g +- %.2g (%.1f sigma)" % (
        "ok" if ok else "not ok", model, la["name"], la["trace"], la["stderr"], lb["trace"], lb["stderr"],
        d / s if s > 0 else float("inf")))
    if "act_trace" in lb:
        d, s = abs(la["act_trace"] - lb["act_trace"]), math.sqrt(la["act_stderr"] ** 2 + lb["act_stderr"] ** 2)
        print("%s - %s %s input activation: trace %.4g +- %.2g vs torch %.4g +- %.2g (%.1f sigma)" % (
            "ok" if d <= 3 * s else "not ok", model, la["name"], la["act_trace"], la["act_stderr"],
            lb["act_trace"], lb["act_stderr"], d / s if s > 0 else float("inf")))
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

for m in mlp cnn lstm gru; do
    if [ ! -e $F/$m.onnx ] || [ ! -e $F/${m}_hessian_ref.json ]; then
        skip "$m: sensitivity against torch" "$F/$m.onnx or $F/${m}_hessian_ref.json missing"
        continue
    fi
    out=$TMP/$m.json
    if "$SHIFTC" sensitivity $F/$m.onnx --calib $F/test_x.npy --labels $F/test_y.npy --samples 200 \
        --seed 1 --act-probes 8 --json >"$out" 2>"$TMP/$m.err"; then
        record < <(compare "$out" $F/${m}_hessian_ref.json $m)
    else
        not_ok "$m: shiftc sensitivity failed" "$(tail_of "$TMP/$m.err")"
    fi
done

if [ "${UNSEEN:-0}" = 1 ]; then
    for f in build/unseen/*.onnx; do
        [ -e "$f" ] || { skip "unseen models" "build/unseen/*.onnx missing"; break; }
        m=$(basename "$f" .onnx)
        U=build/unseen
        if "$SHIFTC" sensitivity "$f" --calib $U/test_x.npy --labels $U/test_y.npy --json >"$TMP/u_$m.json" \
            2>"$TMP/u_$m.err" &&
            "$PY" tools/hessian_ref.py "$f" --calib $U/test_x.npy --labels $U/test_y.npy --probes 100 \
                -o "$TMP/u_$m.ref.json" 2>>"$TMP/u_$m.err"; then
            record < <(compare "$TMP/u_$m.json" "$TMP/u_$m.ref.json" "unseen $m")
        else
            not_ok "unseen $m: sensitivity or reference failed" "$(tail_of "$TMP/u_$m.err")"
        fi
    done
fi

# same answer for 1 and 3 threads
"$SHIFTC" sensitivity $F/mlp.onnx --calib $F/test_x.npy --labels $F/test_y.npy --samples 50 --probes 12 \
    --threads 1 --json >"$TMP/t1.json" 2>/dev/null
"$SHIFTC" sensitivity $F/mlp.onnx --calib $F/test_x.npy --labels $F/test_y.npy --samples 50 --probes 12 \
    --threads 3 --json >"$TMP/t3.json" 2>/dev/null
if [ -s "$TMP/t1.json" ] && cmp -s "$TMP/t1.json" "$TMP/t3.json"; then
    ok "deterministic: --threads 1 and --threads 3 print the same"
else
    not_ok "deterministic: --threads 1 and --threads 3 print the same" "$(diff "$TMP/t1.json" "$TMP/t3.json" | head)"
fi

# errors: usage -> 2, bad input -> 1 with the file named
expect_exit() { # DESC STATUS PATTERN CMD...
    local desc=$1 want=$2 pat=$3
    shift 3
    "$@" >"$TMP/e.out" 2>"$TMP/e.err"
    local rc=$?
    if [ "$rc" -eq "$want" ] && grep -q -- "$pat" "$TMP/e.err"; then
        ok "$desc"
    else
        not_ok "$desc" "exit $rc (want $want)" "$(tail_of "$TMP/e.err")"
    fi
}
expect_exit "usage: --labels missing exits 2" 2 "required" \
    "$SHIFTC" sensitivity $F/mlp.onnx --calib $F/test_x.npy
expect_exit "usage: bad --probes exits 2" 2 "probes" \
    "$SHIFTC" sensitivity $F/mlp.onnx --calib $F/test_x.npy --labels $F/test_y.npy --probes 0
expect_exit "missing model exits 1 naming it" 1 "nope.onnx" \
    "$SHIFTC" sensitivity $TMP/nope.onnx --calib $F/test_x.npy --labels $F/test_y.npy
"$PY" -c 'import numpy, sys; numpy.save(sys.argv[1], numpy.zeros(5, numpy.int64))' "$TMP/y5.npy"
expect_exit "too few labels exits 1 naming the file" 1 "y5.npy" \
    "$SHIFTC" sensitivity $F/mlp.onnx --calib $F/test_x.npy --labels "$TMP/y5.npy"
expect_exit "float labels for cross-entropy exit 1" 1 "int64" \
    "$SHIFTC" sensitivity $F/mlp.onnx --calib $F/test_x.npy --labels $F/mlp_ref_logits.npy

# gradient checks per op and the exact trace of a tiny model (1e-6)
if [ -x "$UNIT" ]; then
    check "unit: gradient checks, exact Hessian trace, Hutchinson ($UNIT)" "$UNIT"
else
    skip "unit: test_backward" "$UNIT not built"
fi

summary | sed '$s/^/sensitivity: /'
[ "$TESTS_FAILED" -eq 0 ]
