#!/usr/bin/env bash
# Differential testing with random models (tools/random_models.py): small
# random graphs of the Lua spec's layers with random weights, weight
# formats, activation bits, kernel styles, clip methods and now and then a
# precision budget, each
#   - compiled and run on a target (`shiftc run`: natively, under qemu-user
#     or qemu-system), its output codes compared byte for byte with the
#     integer simulator's (`shiftc eval --quant-output`, with --no-mul on
#     rv32i/rv32e as their compile gets it automatically);
#   - on the host, built with clang -fsanitize=undefined,address
#     -fno-sanitize-recover=all for every SAN_EVERY-th model (signed
#     overflow, shifts, out-of-bounds accesses in the emitted code abort);
#   - its dequantized output ((code - zero_point) * scale, from NAME.h)
#     compared with the float interpreter (`eval --float-output`) on the
#     calibration inputs among the test inputs (the others lie beyond the
#     calibrated range, where clipping is the expected behaviour).
#
# The float bound.  err = rms(deq - float), ref = rms(float) over the output
# of those inputs; the check is
#       err <= TAU * ref + 2 * scale
# 2 * scale allows the rounding of the output itself (half a step) plus a
# step of error carried in from earlier layers, for outputs that are nearly
# constant.  TAU depends on how much signal the weight format keeps on
# random untrained weights:
#   0.3  int4..int8, nhot2, nhot3, apot weights with 8- or 16-bit activations
#        (largest err/ref seen: 0.17);
#   0.75 int2, int3, pot weights or 4-bit activations (seen: 0.44);
#   1.25 ternary, ttq, or a precision budget (which may pick them): ttq's
#        fixed threshold of 0.05 max|w| makes it nearly binary on untrained
#        weights (seen: ternary 0.91, ttq 1.20).
# ("seen": a soak of 690 models; the largest of a run is printed at its end.)
# Fine and coarse bounds fail for a sign error (err ~ 2 ref), an output of
# zeros or garbage (err >= ref) and a scale off by 2x (err >= ref/2); the
# ternary bound only fails for a sign error or a scale off by 3x or more.
#
# Each model runs on one target, rotating over TARGETS_ALL (host and the 7
# cross targets) in seed order, so each target gets an equal share; every
# SAN_EVERY-th model also runs sanitized on the host.  ALL_TARGETS=1 runs
# every model on every target.  A failure prints the seed and the command
# that reproduces it (this script with --seeds S --targets T).
#
#   tests/random.sh                     regression seeds + seeds 1..N (N=300),
#                                       stops starting seeds after TIME_LIMIT s
#   tests/random.sh --soak 1000         seeds 1..1000, no time limit
#   tests/random.sh --seeds "7 12-20" [--targets "host rv32e"]
# Prints "ok - ..." / "not ok - ..." per failed or notable check (VERBOSE=1:
# every check) and a final line "random: N passed, N failed"; exits 1 on a
# failure.
#
# Environment:
#   SHIFTC=path      binary under test (default build/shiftc)
#   N=300            seeds of the default run
#   TIME_LIMIT=240   seconds after which no new seed starts (0: no limit)
#   JOBS=2           models at a time
#   SAN_EVERY=3      every n-th seed also runs sanitized on the host (1: all)
#   ALL_TARGETS=1    every model on every target
#   PROGRESS=1       a line per finished seed (default with --soak)
#   KEEP=1           keep the temporary directory
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. tests/lib.sh

SHIFTC=${SHIFTC:-$ROOT/build/shiftc}
N=${N:-300}
TIME_LIMIT=${TIME_LIMIT:-240}
JOBS=${JOBS:-2}
SAN_EVERY=${SAN_EVERY:-3}
ALL_TARGETS=${ALL_TARGETS:-0}
TARGETS_ALL="host x86_64 aarch64 riscv64 cortex-m4 rv32imc rv32i rv32e"
SAN_CC=clang
SAN_CFLAGS="-O0 -g -std=c99 -fsanitize=undefined,address -fno-sanitize-recover=all -fno-omit-frame-pointer"
TAUS="0.3 0.75 1.25" # by class: fine, coarse, ternary
# seeds that once found a bug: always run (see the git log for each)
REGRESSION_SEEDS="1 3033"

SEEDS=""
TARGETS=""
PROGRESS=${PROGRESS:-}
while [ $# -gt 0 ]; do
    case $1 in
    --soak)
        N=$2
        TIME_LIMIT=0
        PROGRESS=${PROGRESS:-1}
        shift 2
        ;;
    --seeds)
        SEEDS=$2
        TIME_LIMIT=0
        shift 2
        ;;
    --targets)
        TARGETS=$2
        shift 2
        ;;
    *)
        echo "usage: tests/random.sh [--soak N | --seeds \"S A-B ...\"] [--targets \"T ...\"]" >&2
        exit 2
        ;;
    esac
done
PROGRESS=${PROGRESS:-0}
if [ -z "$SEEDS" ]; then
    SEEDS="$REGRESSION_SEEDS 1-$N"
fi
# expand ranges, drop repeats (keeping the order)
SEEDS=$(for s in $SEEDS; do
    case $s in
    *-*) seq "${s%-*}" "${s#*-}" ;;
    *) echo "$s" ;;
    esac
done | awk '!seen[$0]++')

TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-random-XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "# keeping $TMP"
else
    trap 'rm -rf "$TMP"' EXIT
fi
export TMPDIR=$TMP
T0=$(now)

finish() {
    summary >/dev/null
    echo "# random: $NSEEDS models in $(elapsed "$T0") s; largest float error err/ref: fine $(worst 0), coarse $(worst 1), ternary $(worst 2)"
    echo "random: $TESTS_PASSED passed, $TESTS_FAILED failed"
    [ "$TESTS_FAILED" -eq 0 ]
    exit $?
}
worst() { cat "$TMP"/*.ratio 2>/dev/null | awk -v c="$1" '$1 == c && $2 > m { m = $2 } END { printf "%.3f", m + 0 }'; }
NSEEDS=0

if [ ! -x "$SHIFTC" ]; then
    not_ok "shiftc binary exists ($SHIFTC)" "build it with make first"
    finish
fi

# the targets of seed S (the position of S in the list picks the foreign one)
# (host-san: the host, built with the sanitizers)
targets_of() { # SEED INDEX
    local t
    if [ -n "$TARGETS" ]; then
        t=$TARGETS
    elif [ "$ALL_TARGETS" = 1 ]; then
        t=$TARGETS_ALL
    else
        local f
        read -r -a f <<<"$TARGETS_ALL"
        t=${f[$(($2 % ${#f[@]}))]}
    fi
    if [ $(($1 % SAN_EVERY)) = 0 ] && [[ " $t " != *" host-san "* ]]; then
        t="$t host-san"
    fi
    echo "$t"
}

# the float check: prints "ok|..." or "fail|..." and writes CLASS RATIO to $4
float_check() { # OUT_DIR CODES_NPY INFO RATIO_FILE FLOAT_NPY "TAU0 TAU1 TAU2"
    $PY - "$@" <<'PY'
import re, sys
import numpy as np
d, run, info, ratio_file = sys.argv[1:5]  # d: a compiled folder
inf = dict(kv.split("=") for kv in open(info).read().split())
name, rows, coarse = inf["name"], int(inf["float_rows"]), int(inf["coarse"])
h = open("%s/%s.h" % (d, name)).read()
scale = float(re.search(r"_OUTPUT0_SCALE \S+ /\* (\S+) \*/", h).group(1))
zero = int(re.search(r"_OUTPUT0_ZERO_POINT (-?\d+)", h).group(1))
q = np.load(run).astype(np.float64)[:rows]
f = np.load(sys.argv[5]).astype(np.float64)[:rows]
deq = (q - zero) * scale
err = np.sqrt(np.mean((deq - f) ** 2))
ref = np.sqrt(np.mean(f ** 2))
tau = float(sys.argv[6].split()[coarse])
ratio = err / ref if ref > 0 else 0.0
open(ratio_file, "w").write("%d %.4f\n" % (coarse, ratio if err > 2 * scale else 0.0))
ok = err <= tau * ref + 2 * scale
print("%s|rms error %.4g vs rms %.4g (bound %.2f*ref + 2*scale, scale %.3g, %s)" % (
    "ok" if ok else "fail", err, ref, tau, scale, ["fine", "coarse", "ternary"][coarse]))
PY
}

# one model: generate, simulate, and compile + run + compare on each target.
# Writes "ok|DESC" / "not ok|DESC|DETAIL" lines to $TMP/S.res.
one() { # SEED INDEX
    local s=$1 idx=$2 d=$TMP/s$1 res=$TMP/s$1.res
    mkdir -p "$d"
    : >"$res"
    local repro="tests/random.sh --seeds $s --targets"
    if ! $PY tools/random_models.py "$s" "$d" >"$d/gen.log" 2>&1; then
        echo "not ok|seed $s: generate|$(tail -n 3 "$d/gen.log" | tr '\n' ' ')" >>"$res"
        return
    fi
    local -a o
    read -r -a o <<<"$(cat "$d/options")"
    local desc="seed $s (${o[*]})"
    local t tt nomul rc sim floated=0
    for tt in $(targets_of "$s" "$idx"); do
        t=${tt%-san}
        nomul=""
        case $t in rv32i | rv32e) nomul="--no-mul" ;; esac
        sim=$d/sim${nomul:+-nomul}.npy
        if [ ! -f "$sim" ]; then
            "$SHIFTC" eval "$d/model.lua" --calib "$d/calib.npy" --data "$d/data.npy" --labels "$d/labels.npy" \
                "${o[@]}" $nomul --quant-output "$sim" --float-output "$d/float.npy" >"$d/eval$nomul.log" 2>&1
            rc=$?
            if [ $rc -ne 0 ]; then
                echo "not ok|$desc: eval$nomul (exit $rc)|$(tail -n 3 "$d/eval$nomul.log" | tr '\n' ' ')|repro: $repro $tt" >>"$res"
                return
            fi
        fi
        local out=$d/out-$tt log=$d/$tt.log
        if ! "$SHIFTC" compile "$d/model.lua" --calib "$d/calib.npy" -o "$out" --target "$t" --no-size "${o[@]}" \
            >"$log" 2>&1; then
            echo "not ok|$desc $t: compile|$(tail -n 3 "$log" | tr '\n' ' ')|repro: $repro $tt" >>"$res"
            continue
        fi
        local san="" runenv=()
        if [ "$tt" = host-san ]; then
            san=" (ubsan+asan)"
            runenv=(env CC="$SAN_CC" CFLAGS="$SAN_CFLAGS" ASAN_OPTIONS=detect_leaks=0)
        fi
        "${runenv[@]}" "$SHIFTC" run "$out" --target "$t" --input "$d/data.npy" --output "$d/run-$tt.npy" \
            >>"$log" 2>&1
        rc=$?
        if [ $rc -ne 0 ] || grep -q 'runtime error:\|Sanitizer' "$log"; then
            echo "not ok|$desc $t$san: run (exit $rc)|$(grep -m3 'runtime error:\|ERROR:\|error' "$log" | tr '\n' ' ')|repro: $repro $tt" >>"$res"
            continue
        fi
        if cmp -s "$sim" "$d/run-$tt.npy"; then
            echo "ok|$desc $t$san: bit-exact with the simulator" >>"$res"
        else
            echo "not ok|$desc $t$san: bit-exact with the simulator|$(cmp "$sim" "$d/run-$tt.npy" 2>&1 | head -n1)|repro: $repro $tt" >>"$res"
        fi
        if [ $floated = 0 ]; then # once per model, on the simulator's codes
            floated=1
            local fc
            fc=$(float_check "$out" "$sim" "$d/info" "$TMP/s$s.ratio" "$d/float.npy" "$TAUS" 2>&1)
            case $fc in
            ok\|*) echo "ok|$desc: float interpreter: ${fc#ok|}" >>"$res" ;;
            *) echo "not ok|$desc: within the quantization bound of the float interpreter|${fc#fail|}|repro: $repro $tt" >>"$res" ;;
            esac
        fi
    done
    [ "${KEEP:-0}" = 1 ] || rm -rf "$d"
    # progress of long runs (lines this short are written whole)
    [ "$PROGRESS" = 1 ] && echo "# seed $s: $(grep -c '^ok' "$res") ok, $(grep -c '^not ok' "$res") failed"
    return 0
}

report() { # SEED
    local res=$TMP/s$1.res
    if [ ! -s "$res" ]; then
        not_ok "seed $1: no result"
        return
    fi
    while IFS='|' read -r status desc detail repro; do
        if [ "$status" = ok ]; then
            TESTS_PASSED=$((TESTS_PASSED + 1))
            [ "${VERBOSE:-0}" = 1 ] && echo "ok - $desc"
        else
            not_ok "$desc" "$detail" "$repro"
        fi
    done <"$res"
}

limit=""
[ "$TIME_LIMIT" != 0 ] && limit=", no new seed after $TIME_LIMIT s"
echo "# random models: $(echo "$SEEDS" | wc -w) seeds, $JOBS at a time$limit"
running=0
idx=0
for s in $SEEDS; do
    if [ "$TIME_LIMIT" != 0 ] && awk -v e="$(elapsed "$T0")" -v l="$TIME_LIMIT" 'BEGIN { exit !(e > l) }'; then
        echo "# time limit: stopping after $NSEEDS seeds"
        break
    fi
    one "$s" "$idx" &
    idx=$((idx + 1))
    NSEEDS=$((NSEEDS + 1))
    running=$((running + 1))
    if [ $running -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
for s in $SEEDS; do
    [ -f "$TMP/s$s.res" ] && report "$s"
done
finish
