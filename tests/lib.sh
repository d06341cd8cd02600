# shellcheck shell=bash
# Shared helpers for the shell test scripts (sourced, not executed).
#
#   ok DESC / not_ok DESC [DETAIL...] / skip DESC REASON   record one check
#   check DESC CMD...          run CMD (output captured), ok if it exits 0
#   summary                    print "N passed, N failed[, N skipped]"; returns 1 on failures
#   crashed RC LOGFILE         true if RC/log look like a crash or sanitizer report
#   PY                         python with numpy/onnx/torch (Debian's)

TESTS_PASSED=0
TESTS_FAILED=0
TESTS_SKIPPED=0
FAILED_NAMES=()

PY=${PY:-/usr/bin/python3}

ok() {
    TESTS_PASSED=$((TESTS_PASSED + 1))
    echo "ok - $1"
}

# not_ok DESC [DETAIL...]: details are printed indented below the line.
not_ok() {
    TESTS_FAILED=$((TESTS_FAILED + 1))
    FAILED_NAMES+=("$1")
    echo "not ok - $1"
    shift
    local d
    for d in "$@"; do
        printf '%s\n' "$d" | sed 's/^/    # /'
    done
}

skip() {
    TESTS_SKIPPED=$((TESTS_SKIPPED + 1))
    echo "ok - $1 # SKIP ${2:-}"
}

# Prints the last lines of a log file as details (for not_ok).
tail_of() {
    [ -s "$1" ] && tail -n "${2:-15}" "$1"
}

# check DESC CMD...: runs CMD with stdout+stderr captured; ok when it exits 0.
check() {
    local desc=$1
    shift
    local log
    log=$(mktemp "${TMPDIR:-/tmp}/shiftc-check-XXXXXX")
    if "$@" >"$log" 2>&1; then
        ok "$desc"
    else
        local rc=$?
        not_ok "$desc" "command: $*" "exit status $rc" "$(tail_of "$log")"
    fi
    rm -f "$log"
}

# crashed RC LOG: a signal / abort exit status, or sanitizer output in LOG.
crashed() {
    [ "$1" -ge 128 ] && return 0
    grep -qE 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|Segmentation fault|core dumped' "$2" 2>/dev/null
}

summary() {
    if [ "$TESTS_FAILED" -gt 0 ]; then
        echo "failed checks:"
        local n
        for n in "${FAILED_NAMES[@]}"; do
            echo "  - $n"
        done
    fi
    if [ "$TESTS_SKIPPED" -gt 0 ]; then
        echo "$TESTS_PASSED passed, $TESTS_FAILED failed, $TESTS_SKIPPED skipped"
    else
        echo "$TESTS_PASSED passed, $TESTS_FAILED failed"
    fi
    [ "$TESTS_FAILED" -eq 0 ]
}

# now: seconds since the epoch with decimals
now() { date +%s.%N; }
# elapsed START: seconds since START, one decimal
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
