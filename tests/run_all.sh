#!/usr/bin/env bash
# Every test, in order: unit, unit under ASan+UBSan, end-to-end, golden
# emitted C, multiplierless mode, cross targets, weight formats, activation
# bits, Hessian sensitivity, precision search, policies, Lua model spec,
# report, cost model, LSTM/GRU, MAC kernels, malformed inputs, worst-case
# accumulators under UBSan, random models, fuzzing, the benchmark table,
# ONNX conformance.  Called by `./build.sh test` after the build.  Prints
# everything; the last line is "N passed, N failed[, N skipped]" over the
# end-to-end and conformance checks plus one check per unit section (and per
# section that could not report counts); exits 1 if anything failed.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. tests/lib.sh

LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-run-all-XXXXXX")
trap 'rm -rf "$LOGDIR"' EXIT
PASSED=0
FAILED=0
SKIPPED=0
TIMES=()
FAILED_SECTIONS=()
T_ALL=$(now)

header() { printf '\n======== %s ========\n' "$1"; }

# A section that has no counts of its own: one check.
section_result() { # NAME RC SECONDS
    TIMES+=("$(printf '%-34s %7s s' "$1" "$3")")
    if [ "$2" -eq 0 ]; then
        PASSED=$((PASSED + 1))
        echo "-- $1: ok ($3 s)"
    else
        FAILED=$((FAILED + 1))
        FAILED_SECTIONS+=("$1")
        echo "-- $1: FAILED (exit $2, $3 s)"
    fi
}

# A section that prints "N passed, N failed[, N skipped]" as its summary.
counted_result() { # NAME RC SECONDS LOG
    TIMES+=("$(printf '%-34s %7s s' "$1" "$3")")
    local line p f s
    line=$(grep -E '^([A-Za-z0-9_-]+: )?[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$4" | tail -n 1 |
        sed -E 's/^[A-Za-z0-9_-]+: //')
    if [ -z "$line" ]; then
        FAILED=$((FAILED + 1))
        FAILED_SECTIONS+=("$1 (no summary line, exit $2)")
        echo "-- $1: FAILED (exit $2, no summary line, $3 s)"
        return
    fi
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped$/\1/p')
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    SKIPPED=$((SKIPPED + ${s:-0}))
    if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
        # exited non-zero without counting a failure: count one
        FAILED=$((FAILED + 1))
        f=1
    fi
    [ "$f" -gt 0 ] && FAILED_SECTIONS+=("$1 ($f failed)")
    echo "-- $1: $line (exit $2, $3 s)"
}

# header NAME, then a script that prints "N passed, N failed[, N skipped]".
run_counted() { # HEADER NAME COMMAND...
    local hdr=$1 name=$2 t log
    shift 2
    header "$hdr"
    t=$(now)
    log="$LOGDIR/$(echo "$name" | tr -c 'A-Za-z0-9\n' _).log"
    "$@" 2>&1 | tee "$log"
    counted_result "$name" "${PIPESTATUS[0]}" "$(elapsed "$t")" "$log"
}

# ---- 1. unit tests
header "1. unit tests (make unit)"
t=$(now)
make -j2 unit
section_result "unit" $? "$(elapsed "$t")"

# ---- 2. unit tests under ASan+UBSan, and the sanitizer build of shiftc
header "2. unit tests under ASan+UBSan (make SAN=1 unit)"
t=$(now)
make -j2 SAN=1 unit
section_result "unit (ASan+UBSan)" $? "$(elapsed "$t")"
t=$(now)
echo "-- building build-san/shiftc for the error-handling tests"
make -j2 SAN=1 build-san/shiftc
section_result "build-san/shiftc" $? "$(elapsed "$t")"

# ---- 3. end-to-end
run_counted "3. end-to-end (tests/e2e.sh)" "end-to-end" tests/e2e.sh

# ---- 3b. emitter golden files, multiplierless mode, cross targets
run_counted "3b. golden emitted C (tests/golden/run.sh)" "golden" tests/golden/run.sh

run_counted "3c. multiplierless mode (tests/nomul.sh)" "nomul" tests/nomul.sh

run_counted "3d. cross targets under QEMU (tests/targets.sh)" "targets" tests/targets.sh

run_counted "3e. weight formats (tests/formats.sh)" "formats" tests/formats.sh

run_counted "3f. activation bits and clipping (tests/activations.sh)" "activations" tests/activations.sh

run_counted "3g. Hessian sensitivity vs PyTorch (tests/sensitivity.sh)" "sensitivity" tests/sensitivity.sh

run_counted "3h. precision search and budgets (tests/search.sh)" "search" tests/search.sh
run_counted "3i. Lua policies (tests/policies.sh)" "policies" tests/policies.sh
run_counted "3j. Lua model spec (tests/luaspec.sh)" "luaspec" tests/luaspec.sh
run_counted "3k. HTML report (tests/report.sh)" "report" tests/report.sh
run_counted "3l. cost model vs measurement (tests/costs.sh)" "costs" tests/costs.sh
run_counted "3m. LSTM/GRU float C vs torch (tests/rnn_float.sh)" "rnn-float" tests/rnn_float.sh
run_counted "3n. quantized LSTM/GRU on every target (tests/rnn.sh)" "rnn" tests/rnn.sh
run_counted "3o. --kernel mac on every target (tests/mac.sh)" "mac" tests/mac.sh
run_counted "3p. mac kernel cost model and mixed kernel styles (tests/costs_mac.sh)" "costs-mac" tests/costs_mac.sh
run_counted "3q. malformed inputs and the unrolled-code limit (tests/bad.sh)" "bad" tests/bad.sh
run_counted "3r. emitted layers at the accumulator bound under UBSan+ASan (tests/worstcase.sh)" "worstcase" tests/worstcase.sh
run_counted "3s. random models vs simulator and float interpreter, every target (tests/random.sh)" "random" tests/random.sh
run_counted "3t. fuzzing the parsers, 30 s each (tests/fuzz.sh)" "fuzz" tests/fuzz.sh
run_counted "3u. benchmark table: AArch64 trace count, table.py (tests/bench_table.sh)" "bench-table" tests/bench_table.sh

# ---- 4. ONNX conformance
run_counted "4. ONNX conformance (tests/conformance.py)" "conformance" $PY tests/conformance.py

# ---- summary
header "summary"
printf '%s\n' "${TIMES[@]}"
printf '%-34s %7s s\n' "total" "$(elapsed "$T_ALL")"
if [ ${#FAILED_SECTIONS[@]} -gt 0 ]; then
    echo "sections with failures:"
    printf '  - %s\n' "${FAILED_SECTIONS[@]}"
fi
if [ "$SKIPPED" -gt 0 ]; then
    echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
else
    echo "$PASSED passed, $FAILED failed"
fi
[ "$FAILED" -eq 0 ]
