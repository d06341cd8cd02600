#!/usr/bin/env bash
# libFuzzer runs of the four parser harnesses (tests/fuzz/fuzz_*.c: the ONNX
# importer, the .npy/.pb tensor reader, the Lua model spec, the Lua policy
# loader), built by `make fuzz` with clang -fsanitize=fuzzer,address,undefined.
#
#   tests/fuzz.sh [HARNESS...]          each for FUZZ_SECONDS (default 30) seconds
#   tests/fuzz.sh --long [HARNESS...]   each to 1,000,000 executions (FUZZ_RUNS=N: N)
#
# For each harness: first the inputs of tests/fuzz/regressions/HARNESS/ (crashes
# found earlier, each run once), then fuzzing on a copy of its seed corpus
# (tests/fuzz/corpus/HARNESS/, plus the repository's examples and bad inputs of
# that kind) with its dictionary (tests/fuzz/dict/).  Any crash, sanitizer
# report, leak, timeout (FUZZ_TIMEOUT seconds per input, default 10) or
# out-of-memory fails the harness; the failing input is kept in
# FUZZ_BUILD/artifacts/ (FUZZ_BUILD: default build-fuzz).  Last line:
# "fuzz: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
FUZZ_RUNS=${FUZZ_RUNS:-}
HARNESSES=()
for a in "$@"; do
    case $a in
    --long) FUZZ_RUNS=${FUZZ_RUNS:-1000000} ;;
    onnx | tf | luaspec | policy) HARNESSES+=("$a") ;;
    *)
        echo "usage: tests/fuzz.sh [--long] [onnx|tf|luaspec|policy]..." >&2
        exit 2
        ;;
    esac
done
[ ${#HARNESSES[@]} -eq 0 ] && HARNESSES=(onnx tf luaspec policy)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-fuzz-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ARTIFACTS=$FUZZ_BUILD/artifacts
mkdir -p "$ARTIFACTS"

# The seeds of one harness beyond its own corpus: the files of that kind the
# other tests already use (small ones: fixtures' models are too big).
extra_seeds() {
    case $1 in
    onnx) ls tests/errors/*.onnx ;;
    tf) ls tests/errors/*.npy ;;
    luaspec) ls examples/models/*.lua tests/bad/luaspec/*.lua ;;
    policy) ls examples/policies/*.lua tests/bad/policies/*.lua ;;
    esac
}

# The harness's dictionary (one file: libFuzzer takes a single -dict).
dict_for() {
    case $1 in
    onnx) cat tests/fuzz/dict/onnx.dict ;;
    tf) ;;
    luaspec | policy) cat tests/fuzz/dict/lua.dict "tests/fuzz/dict/$1.dict" ;;
    esac
}

echo "== make fuzz (FUZZ_BUILD=$FUZZ_BUILD)"
if ! make -s -j2 fuzz FUZZ_BUILD="$FUZZ_BUILD" >"$WORK/build.log" 2>&1; then
    not_ok "make fuzz" "$(tail_of "$WORK/build.log")"
    summary | sed '$s/^/fuzz: /'
    exit 1
fi

for h in "${HARNESSES[@]}"; do
    bin=$FUZZ_BUILD/fuzz_$h
    log=$WORK/$h.log
    opts=(-max_len=4096 -timeout="$FUZZ_TIMEOUT" -close_fd_mask=2 -print_final_stats=1 -entropic_scale_per_exec_time=1
          -artifact_prefix="$ARTIFACTS/$h-")

    # Regressions: each file run once (libFuzzer runs files given as arguments).
    mapfile -t regressions < <(ls tests/fuzz/regressions/"$h"/* 2>/dev/null)
    if [ ${#regressions[@]} -gt 0 ]; then
        if "$bin" "${opts[@]}" "${regressions[@]}" >"$log" 2>&1; then
            ok "$h: ${#regressions[@]} regression inputs"
        else
            not_ok "$h: regression inputs" "$(grep -E 'ERROR|SUMMARY|Running:' "$log" | tail -n 10)"
        fi
    fi

    corpus=$WORK/corpus-$h
    mkdir -p "$corpus"
    cp tests/fuzz/corpus/"$h"/* "$corpus"/
    extra_seeds "$h" | xargs -r cp -t "$corpus"
    dict_for "$h" >"$WORK/$h.dict"
    [ -s "$WORK/$h.dict" ] && opts+=(-dict="$WORK/$h.dict")
    if [ -n "$FUZZ_RUNS" ]; then
        opts+=(-runs="$FUZZ_RUNS")
        what="$FUZZ_RUNS runs"
    else
        opts+=(-max_total_time="$FUZZ_SECONDS")
        what="${FUZZ_SECONDS}s"
    fi
    # A smaller ASan quarantine for the Lua harnesses: one run allocates at
    # most the sandbox's 4 MiB, so 16 MiB still holds every block a run frees
    # (use-after-free within a run is still caught), and reusing memory
    # sooner saves a third of the CPU time.
    asan=${ASAN_OPTIONS:-}
    case $h in luaspec | policy) asan=${ASAN_OPTIONS:-quarantine_size_mb=16} ;; esac
    start=$(now)
    ASAN_OPTIONS=$asan "$bin" "${opts[@]}" "$corpus" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    if [ "$rc" -eq 0 ] && [ -n "$runs" ] && ! grep -qE '^(==[0-9]+==ERROR|SUMMARY: )' "$log"; then
        ok "$h: fuzzed $what: $runs executions in $(elapsed "$start")s ($rate/s), corpus $(ls "$corpus" | wc -l) files, no crash"
    else
        not_ok "$h: fuzzed $what (exit status $rc${runs:+, $runs executions})" \
            "$(grep -E 'ERROR|SUMMARY|Test unit written|deadly signal|timeout|out-of-memory' "$log" | tail -n 10)" \
            "minimise: $bin -minimize_crash=1 -runs=100000 ARTIFACT; then add it to tests/fuzz/regressions/$h/"
    fi
done

summary | sed '$s/^/fuzz: /'
