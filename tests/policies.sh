#!/usr/bin/env bash
# Lua precision policies through the command line (shiftc eval --policy,
# compiler/policy.c, docs/policies.md).
#
#   - every hostile or malformed file in tests/bad/policies/ (escapes from
#     the sandbox, runaway loops and memory, syntax and hook errors, bad
#     selectors and formats) makes `shiftc eval` exit with status 1 and a
#     message naming the file, without a crash or a sanitizer report (the
#     ASan/UBSan binary build-san/shiftc is used when it exists);
#   - every example in examples/policies/ runs on tests/fixtures/cnn.onnx
#     with --budget bits=4 (keep_ends.lua: bits=7.5, its two int8 layers
#     need more) and --json, and gives the same output twice (policies are
#     deterministic);
#   - random.lua with two seeds gives two assignments; the policy's own
#     budget is used when --budget is absent.
# The unit test (tests/unit/test_policy.c) covers the same files against a
# hand-built search space; this script checks the wiring.
# Prints "ok - ..." / "not ok - ..." per check and a final line
# "policies: N passed, N failed"; exits 1 if a check failed.
#
# Environment:
#   SHIFTC=path     binary under test (default build-san/shiftc if present,
#                   else build/shiftc)
#   N=100           test images per run (accuracy is not what is tested)
#   JOBS=n          runs at a time (default: nproc)
#   KEEP=1          keep the temporary directory
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. tests/lib.sh

if [ -z "${SHIFTC:-}" ]; then
    SHIFTC=$ROOT/build/shiftc
    [ -x "$ROOT/build-san/shiftc" ] && SHIFTC=$ROOT/build-san/shiftc
fi
FIX=tests/fixtures
BAD=tests/bad/policies
N=${N:-100}
JOBS=${JOBS:-$(nproc)}
T0=$(now)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-policies-XXXXXX")
RES=$TMP/res
if [ "${KEEP:-0}" = 1 ]; then
    echo "# keeping $TMP"
else
    trap 'rm -rf "$TMP"' EXIT
fi

finish() {
    local r status desc detail
    for r in "$RES"/*.res; do
        [ -e "$r" ] || continue
        while IFS='|' read -r status desc detail; do
            if [ "$status" = ok ]; then
                ok "$desc"
            else
                not_ok "$desc" "$(printf '%s' "$detail" | tr '\036' '\n')"
            fi
        done <"$r"
    done
    summary >/dev/null
    echo "# policies took $(elapsed "$T0") s"
    echo "policies: $TESTS_PASSED passed, $TESTS_FAILED failed"
    [ "$TESTS_FAILED" -eq 0 ]
    exit $?
}

if [ ! -x "$SHIFTC" ]; then
    not_ok "shiftc binary exists ($SHIFTC)" "build it with make first"
    finish
fi
echo "# binary: $SHIFTC"

HELP=$("$SHIFTC" eval --help 2>&1)
if ! grep -q -- '--policy' <<<"$HELP"; then
    skip "policies through the CLI" "shiftc eval has no --policy yet"
    finish
fi

# Small sensitivity settings keep every run short; only options the binary
# has are passed.
FAST=()
grep -q -- '--sens-samples' <<<"$HELP" && FAST+=(--sens-samples 16)
grep -q -- '--probes' <<<"$HELP" && FAST+=(--probes 4)
# The first N test images are enough: accuracy is not what is tested here.
if ! $PY - "$FIX" "$TMP" "$N" <<'PY'; then
import sys, numpy as np
fix, tmp, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
np.save(tmp + "/x_n.npy", np.load(fix + "/test_x.npy")[:n])
np.save(tmp + "/y_n.npy", np.load(fix + "/test_y.npy")[:n])
PY
    not_ok "subset of $N test images (numpy)"
    finish
fi
DATA=(--calib $FIX/calib.npy --data $TMP/x_n.npy --labels $TMP/y_n.npy "${FAST[@]}")
EVAL=(eval $FIX/mlp.onnx "${DATA[@]}")

# Checks run JOBS at a time; each writes "ok|DESC" or "not_ok|DESC|DETAIL"
# lines to its own result file, read back in order at the end.
RES=$TMP/res
mkdir -p "$RES"
NRES=0
spawn() { # FUNCTION ARGS...: runs it in the background into the next result file
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
        wait -n 2>/dev/null || true
    done
    NRES=$((NRES + 1))
    "$@" >"$RES/$(printf '%03d' $NRES).res" 2>/dev/null &
}
res_ok() { printf 'ok|%s\n' "$1"; }
res_fail() { # DESC DETAIL...
    local d=$1
    shift
    printf 'not_ok|%s|%s\n' "$d" "$(printf '%s\n' "$@" | tr '\n' '\036')"
}

# ---- hostile and malformed files: exit 1, message, no crash ----
# file|substring of the message (after "FILE" is checked too)
CASES=(
    "syntax.lua|syntax.lua:5:"
    "hook_error.lua|hook_error.lua:5: attempt to index a nil value"
    "loop_top.lua|loop_top.lua:3: instruction limit of"
    "loop_hook.lua|loop_hook.lua:5: instruction limit of"
    "pcall_loop.lua|instruction limit of"
    "xpcall_loop.lua|instruction limit of"
    "coroutine_loop.lua|instruction limit of"
    "gc_loop.lua|__gc metamethods are not allowed"
    "os_execute.lua|undeclared global 'os'"
    "io_open.lua|undeclared global 'io'"
    "dofile.lua|undeclared global 'dofile'"
    "load.lua|undeclared global 'load'"
    "require.lua|undeclared global 'require'"
    "new_global.lua|assignment to undeclared global 'helper'"
    "mem_string.lua|memory limit of"
    "mem_table.lua|memory limit of"
    "pattern_bomb.lua|is too costly"
    "not_table.lua|must return a table"
    "bad_selector.lua|no weighted layer is named 'conv99'"
    "bad_format.lua|unknown weight format 'int9'"
    "unknown_key.lua|unknown field 'candidates'"
    "objective_nan.lua|the objective hook must return a finite number"
    "choose_range.lua|the choose hook returned 100000"
    "empty_rule.lua|with no allowed candidate"
)
bad_case() { # FILE SUBSTRING
    local f=$1 want=$2 log=$TMP/${1%.lua}.log rc
    "$SHIFTC" "${EVAL[@]}" --budget bits=4 --policy "$BAD/$f" >"$log" 2>&1
    rc=$?
    if crashed "$rc" "$log"; then
        res_fail "bad/$f: no crash" "exit status $rc" "$(tail_of "$log")"
    elif [ "$rc" -ne 1 ]; then
        res_fail "bad/$f: exit status 1" "exit status $rc" "$(tail_of "$log")"
    elif ! grep -qF -- "$BAD/$f" "$log" || ! grep -qF -- "$want" "$log"; then
        res_fail "bad/$f: message names the file and says '$want'" "$(tail_of "$log")"
    else
        res_ok "bad/$f: exit 1, '$want'"
    fi
}
rm -f /tmp/shiftc-policy-pwned
for c in "${CASES[@]}"; do
    spawn bad_case "${c%%|*}" "${c#*|}"
done
wait
if [ -e /tmp/shiftc-policy-pwned ]; then
    not_ok "no policy escaped the sandbox (/tmp/shiftc-policy-pwned exists)"
else
    ok "no policy escaped the sandbox"
fi

# ---- the examples ----
# On the CNN (three weighted layers); keep_ends.lua pins two of them at int8,
# which needs more than 4 bits on average.
EVAL_CNN=(eval $FIX/cnn.onnx "${DATA[@]}")
run_example() { # NAME OUT [ARGS...]
    local name=$1 out=$2 budget=bits=4
    shift 2
    [ "$name" = keep_ends ] && budget=bits=7.5
    "$SHIFTC" "${EVAL_CNN[@]}" --budget $budget --policy examples/policies/$name.lua --json "$@" >"$out" 2>"$out.err"
}
example_case() { # NAME: runs twice, same output
    local name=$1 rc
    run_example "$name" "$TMP/$name.1.json"
    rc=$?
    if [ "$rc" -ne 0 ] || crashed "$rc" "$TMP/$name.1.json.err"; then
        res_fail "example $name.lua runs" "exit status $rc" "$(tail_of "$TMP/$name.1.json.err")"
        return
    fi
    if ! grep -q '"policy"' "$TMP/$name.1.json"; then
        res_fail "example $name.lua: the JSON names the policy" "$(head -c 600 "$TMP/$name.1.json")"
    else
        res_ok "example $name.lua runs"
    fi
    run_example "$name" "$TMP/$name.2.json"
    if cmp -s "$TMP/$name.1.json" "$TMP/$name.2.json"; then
        res_ok "example $name.lua: same output twice"
    else
        res_fail "example $name.lua: same output twice" "$(diff "$TMP/$name.1.json" "$TMP/$name.2.json" | head -5)"
    fi
}
# random.lua: another seed, another draw (compared with random.1.json, seed 1)
random_seed7() {
    run_example random "$TMP/random.s7.json" --policy-arg seed=7
}
for ex in examples/policies/*.lua; do
    spawn example_case "$(basename "$ex" .lua)"
done
spawn random_seed7
wait
if [ -s "$TMP/random.1.json" ] && [ -s "$TMP/random.s7.json" ] && ! cmp -s "$TMP/random.1.json" "$TMP/random.s7.json"; then
    ok "random.lua: seed=7 differs from seed=1"
else
    not_ok "random.lua: seed=7 differs from seed=1" "$(tail_of "$TMP/random.s7.json.err")"
fi

# the policy's own budget, used when --budget is absent
printf 'return { budget = "bits=4", layers = { last = { weights = "int8" } } }\n' >"$TMP/own_budget.lua"
log=$TMP/own_budget.log
"$SHIFTC" "${EVAL[@]}" --policy "$TMP/own_budget.lua" --json >"$log" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q 'bits=4' "$log"; then
    ok "a policy's budget is used without --budget"
else
    not_ok "a policy's budget is used without --budget" "exit status $rc" "$(tail_of "$log")"
fi
# a bad budget in the policy names the policy
printf 'return { budget = "lots" }\n' >"$TMP/bad_budget.lua"
log=$TMP/bad_budget.log
"$SHIFTC" "${EVAL[@]}" --policy "$TMP/bad_budget.lua" >"$log" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -qF "bad_budget.lua" "$log" && ! crashed "$rc" "$log"; then
    ok "a bad budget in the policy is an error naming the policy"
else
    not_ok "a bad budget in the policy is an error naming the policy" "exit status $rc" "$(tail_of "$log")"
fi

finish
