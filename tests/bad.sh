#!/usr/bin/env bash
# The malformed-input corpus (tests/bad/cases.txt, files in tests/bad/onnx
# written by tools/make_bad.py) and the size limit of unrolled code.
#
#   - every case of tests/bad/cases.txt, with build/shiftc and again with
#     build-san/shiftc (ASan+UBSan, leaks detected): the exit status is exactly
#     the expected one (1 bad input, 2 bad command line), the output holds the
#     expected text, there is no sanitizer report and no timeout (60 s);
#   - every file in tests/bad/onnx is used by at least one case;
#   - --max-unrolled-terms: a Dense layer over the limit is emitted with the
#     table (mac) kernel and a notice naming it, and the build (half unrolled,
#     half mac) runs bit-exact with the integer simulator; a limit of 1 gives
#     the files of --kernel mac, the default limit those of no limit;
#     compile --json reports the compiler's peak memory.
# Prints "ok - ..." / "not ok - ..." per check; the last line is
# "bad: N passed, N failed".
#
# Environment: SHIFTC (default build/shiftc), SHIFTC_SAN (default
# build-san/shiftc; skipped with a note when missing), KEEP=1 keeps the
# temporary directory.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. tests/lib.sh

SHIFTC=${SHIFTC:-$ROOT/build/shiftc}
SHIFTC_SAN=${SHIFTC_SAN:-$ROOT/build-san/shiftc}
BAD=tests/bad/onnx
CASES=tests/bad/cases.txt

TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-bad-XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "# keeping $TMP"
else
    trap 'rm -rf "$TMP"' EXIT
fi
export TMPDIR=$TMP
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1
T0=$(now)

finish() {
    summary >/dev/null
    echo "# bad took $(elapsed "$T0") s"
    echo "bad: $TESTS_PASSED passed, $TESTS_FAILED failed"
    [ "$TESTS_FAILED" -eq 0 ]
    exit $?
}

if [ ! -x "$SHIFTC" ]; then
    not_ok "shiftc binary exists ($SHIFTC)" "build it with make first"
    finish
fi

trim() {
    local s=$1
    s=${s#"${s%%[![:space:]]*}"}
    printf '%s' "${s%"${s##*[![:space:]]}"}"
}

# ---- every corpus file has a case ----------------------------------------------

grep -v '^#' "$CASES" >"$TMP/cases"
for f in "$BAD"/*; do
    name=$(basename "$f")
    if grep -qF "@$name" "$TMP/cases"; then
        ok "corpus: $name has a case"
    else
        not_ok "corpus: $name has a case" "add a line using @$name to $CASES"
    fi
done

# ---- the cases -------------------------------------------------------------------

# run_case BIN TAG LINENO STATUS ARGS NEEDLES
run_case() {
    local bin=$1 tag=$2 lineno=$3 want=$4 args=$5 needles=$6
    local out=$TMP/out-$lineno log=$TMP/case-$lineno.log rc=0 problems=() argv=() a n
    for a in $args; do
        if [ "$a" = OUT ]; then
            argv+=("$out")
        else
            argv+=("${a//@/$BAD/}")
        fi
    done
    timeout 60 "$bin" "${argv[@]}" >"$log" 2>&1 || rc=$?
    [ "$rc" -eq 124 ] && problems+=("timed out (60 s)")
    crashed "$rc" "$log" && problems+=("crashed or sanitizer report (exit $rc)")
    [ "$rc" -eq "$want" ] || problems+=("exit status $rc, expected $want")
    while [ -n "$needles" ]; do
        n=$(trim "${needles%%&&*}")
        [ "$needles" = "${needles#*&&}" ] && needles="" || needles=${needles#*&&}
        n=${n//@/$BAD/}
        grep -qF -- "$n" "$log" || problems+=("output does not contain: $n")
    done
    local desc="$tag$CASES:$lineno: shiftc $args"
    if [ ${#problems[@]} -eq 0 ]; then
        ok "$desc (exit $rc)"
    else
        not_ok "$desc" "${problems[@]}" "output: $(head -c 1500 "$log")"
    fi
    rm -rf "$out" "$log"
}

run_cases() {
    local bin=$1 tag=$2 lineno=0 line status args needles
    while IFS= read -r line || [ -n "$line" ]; do
        lineno=$((lineno + 1))
        case $line in '#'* | '') continue ;; esac
        status=$(trim "${line%%|*}")
        line=${line#*|}
        args=$(trim "${line%%|*}")
        needles=$(trim "${line#*|}")
        run_case "$bin" "$tag" "$lineno" "$status" "$args" "$needles"
    done <"$CASES"
}

T=$(now)
run_cases "$SHIFTC" ""
echo "# cases took $(elapsed "$T") s"
if [ -x "$SHIFTC_SAN" ]; then
    T=$(now)
    run_cases "$SHIFTC_SAN" "[san] "
    echo "# cases [san] took $(elapsed "$T") s"
else
    skip "cases [san]" "$SHIFTC_SAN not built (make SAN=1)"
fi

# ---- --max-unrolled-terms --------------------------------------------------------
# mlp.onnx: Dense "/1/Gemm" has ~58k terms, "/3/Gemm" under 1k, so 20000 sends
# exactly the first to the mac kernel.

T=$(now)
FIX=tests/fixtures
L=$TMP/limit
mkdir -p "$L"
$PY -c 'import numpy as np; x = np.load("'"$FIX"'/test_x.npy")[:32]; np.save("'"$L"'/x.npy", x); np.save("'"$L"'/y.npy", np.zeros(len(x), np.int64))'
lc() { "$SHIFTC" compile "$FIX/mlp.onnx" --calib "$FIX/calib.npy" --no-size "$@"; }

if lc -o "$L/split" --max-unrolled-terms 20000 --json >"$L/split.json" 2>"$L/split.log" &&
    [ "$(grep -c 'exceed --max-unrolled-terms 20000; emitted with the mac kernel' "$L/split.log")" = 1 ] &&
    grep -qF "$FIX/mlp.onnx: node 1 (Dense \"/1/Gemm\"): " "$L/split.log" &&
    grep -q '"mac_fallback_layers": 1' "$L/split.json" &&
    grep -qE '"compiler_peak_rss_bytes": [1-9][0-9]{6,}' "$L/split.json"; then
    ok "limit: --max-unrolled-terms 20000 sends Dense /1/Gemm alone to the mac kernel, with one notice naming it; --json has mac_fallback_layers and compiler_peak_rss_bytes"
else
    not_ok "limit: --max-unrolled-terms 20000 sends Dense /1/Gemm to the mac kernel" "$(tail_of "$L/split.log")" "$(cat "$L/split.json" 2>/dev/null)"
fi
mac_calls=$(cat "$L"/split/mlp_l*.c 2>/dev/null | grep -cE 'shiftc_dense_mac_q\(')
terms=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["shift_add_terms"])' "$L/split.json" 2>/dev/null)
if [ "$mac_calls" = 1 ] && [ "${terms:-0}" -gt 0 ] && [ "${terms:-0}" -lt 20000 ]; then
    ok "limit: the split build has one MAC kernel call and $terms shift-add terms (the small layer)"
else
    not_ok "limit: the split build has one MAC kernel call and the small layer unrolled" "calls $mac_calls, terms $terms"
fi
if "$SHIFTC" eval "$FIX/mlp.onnx" --calib "$FIX/calib.npy" --data "$L/x.npy" --labels "$L/y.npy" \
    --quant-output "$L/q.npy" >"$L/eval.log" 2>&1 &&
    "$SHIFTC" run "$L/split" --input "$L/x.npy" --output "$L/split-y.npy" >"$L/run.log" 2>&1 &&
    cmp -s "$L/q.npy" "$L/split-y.npy"; then
    ok "limit: the split build runs bit-exact with the integer simulator (32 images)"
else
    not_ok "limit: the split build runs bit-exact with the integer simulator" "$(tail_of "$L/eval.log")" "$(tail_of "$L/run.log")"
fi
# over the limit everywhere == --kernel mac; under it == no limit (same files)
if lc -o "$L/all" --max-unrolled-terms 1 >/dev/null 2>"$L/all.log" && lc -o "$L/mac" --kernel mac >/dev/null 2>&1 &&
    diff -r "$L/all" "$L/mac" >"$L/diff1" 2>&1; then
    ok "limit: --max-unrolled-terms 1 emits the same files as --kernel mac"
else
    not_ok "limit: --max-unrolled-terms 1 emits the same files as --kernel mac" "$(head -20 "$L/diff1")" "$(tail_of "$L/all.log")"
fi
if lc -o "$L/def" >/dev/null 2>"$L/def.log" && lc -o "$L/none" --max-unrolled-terms 0 >/dev/null 2>&1 &&
    diff -r "$L/def" "$L/none" >"$L/diff2" 2>&1 && ! grep -q "max-unrolled-terms" "$L/def.log"; then
    ok "limit: under the default limit the files are those without a limit, and no notice"
else
    not_ok "limit: under the default limit the files are those without a limit" "$(head -20 "$L/diff2")" "$(tail_of "$L/def.log")"
fi
if [ -x "$SHIFTC_SAN" ]; then
    rc=0
    "$SHIFTC_SAN" compile "$FIX/mlp.onnx" --calib "$FIX/calib.npy" --no-size --no-verify -o "$L/san" \
        --max-unrolled-terms 20000 --json >"$L/san.json" 2>"$L/san.log" || rc=$?
    if [ "$rc" -eq 0 ] && ! crashed "$rc" "$L/san.log" && cmp -s <(cat "$L"/split/*.[ch]) <(cat "$L"/san/*.[ch]); then
        ok "limit [san]: the split compile is clean under ASan+UBSan and emits the same C files"
    else
        not_ok "limit [san]: the split compile is clean under ASan+UBSan" "exit $rc" "$(tail_of "$L/san.log")"
    fi
fi
echo "# limit took $(elapsed "$T") s"

finish
