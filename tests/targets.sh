#!/usr/bin/env bash
# Cross-target tests.  For every target the bundled MLP and CNN are compiled
# with --target, run on a subset of the test images (natively, under
# qemu-user, or under qemu-system with -icount and semihosting) and their
# outputs compared bit for bit with the integer simulator's
# (shiftc eval --quant-output); where the target counts instructions the
# count is checked, and checked to be the same on a second run; the flash
# and RAM that compile reports are checked against `size` on the library and
# against the linked ELF (tests/linkmap.py reads the linker map).  Prints
# "ok - ..." / "not ok - ..." per check, a table of the measurements, and a
# final "targets: N passed, N failed" line; exits 1 if any check failed.
#
#   tests/targets.sh [TARGET...]      default: every target
# Environment:
#   SHIFTC=path   binary under test (default build/shiftc)
#   N=100         test images per model (of tests/fixtures/test_x.npy)
#   JOBS=n        targets built and run at once (default: nproc)
#   KEEP=1        keep the temporary directory
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. tests/lib.sh

SHIFTC=${SHIFTC:-$ROOT/build/shiftc}
FIX=$ROOT/tests/fixtures
N=${N:-100}
JOBS=${JOBS:-$(nproc)}
ALL_TARGETS="host x86_64 aarch64 riscv64 cortex-m4 rv32imc rv32i rv32e"
TARGETS=${*:-$ALL_TARGETS}
MODELS="mlp cnn"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-targets-XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "# keeping $TMP"
else
    trap 'rm -rf "$TMP"' EXIT
fi
export TMPDIR=$TMP
T_ALL=$(now)

finish() {
    summary >/dev/null
    echo "targets: $TESTS_PASSED passed, $TESTS_FAILED failed"
    [ "$TESTS_FAILED" -eq 0 ]
    exit $?
}

if [ ! -x "$SHIFTC" ]; then
    not_ok "shiftc binary exists ($SHIFTC)" "build it with make first"
    finish
fi
echo "# shiftc: $SHIFTC, $N images per model, $JOBS target(s) at a time"

# --- what each target is expected to do -----------------------------------

binutils_prefix() { # TARGET
    case $1 in
    host) echo "" ;;
    x86_64) echo "x86_64-linux-gnu-" ;;
    aarch64) echo "aarch64-linux-gnu-" ;;
    riscv64) echo "riscv64-linux-gnu-" ;;
    cortex-m4) echo "arm-none-eabi-" ;;
    rv32*) echo "riscv64-unknown-elf-" ;;
    esac
}
counter_of() { # TARGET: the counter run --json names, or null
    case $1 in
    host | x86_64) [ "$(uname -m)" = x86_64 ] && echo callgrind || echo null ;;
    cortex-m4) echo systick ;;
    rv32*) echo minstret ;;
    *) echo null ;;
    esac
}
timed_of() { # TARGET: does run --json time inferences (yes: natively on an OS) or not (null)
    case $1 in
    host) echo yes ;;
    x86_64 | aarch64 | riscv64) [ "$(uname -m)" = "$1" ] && echo yes || echo null ;;
    *) echo null ;;
    esac
}
is_bare() { case $1 in cortex-m4 | rv32*) return 0 ;; esac; return 1; }
is_riscv() { case $1 in riscv64 | rv32*) return 0 ;; esac; return 1; }
ref_of() { case $1 in rv32i | rv32e) echo "$TMP/q-$2--no-mul.npy" ;; *) echo "$TMP/q-$2.npy" ;; esac; }

# jget FILE EXPR: a Python expression over the JSON object j, printed
jget() {
    $PY -c 'import json,sys; j=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print("null" if v is None else v)' "$1" "$2" 2>/dev/null
}

# --- shared inputs: the subset and the simulator's outputs ----------------

T=$(now)
$PY - "$FIX" "$TMP" "$N" <<'PY'
import numpy as np, sys
fix, tmp, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
np.save(tmp + "/x.npy", np.load(fix + "/test_x.npy")[:n])
np.save(tmp + "/y.npy", np.load(fix + "/test_y.npy")[:n])
PY
# rv32i and rv32e have no multiplier: compile quantizes for them as
# --no-mul does, so their reference is `eval --no-mul`
for m in $MODELS; do
    for mode in "" --no-mul; do
        if "$SHIFTC" eval "$FIX/$m.onnx" --calib "$FIX/calib.npy" --data "$TMP/x.npy" --labels "$TMP/y.npy" \
            $mode --quant-output "$TMP/q-$m$mode.npy" >"$TMP/eval-$m$mode.log" 2>&1; then
            ok "eval $m${mode:+ $mode}: integer simulator outputs for $N images"
        else
            not_ok "eval $m${mode:+ $mode}: integer simulator outputs for $N images" "$(tail_of "$TMP/eval-$m$mode.log")"
        fi
    done
done
echo "# simulator took $(elapsed "$T") s"

# --- the CLI around targets (small model, no builds but one) ---------------

TINY=$ROOT/tests/golden/tiny_cnn
E=$TMP/errors
mkdir -p "$E"
# expect DESC STATUS PATTERN CMD...: CMD exits STATUS and prints PATTERN (grep -E)
expect() {
    local desc=$1 want=$2 pat=$3 rc=0
    shift 3
    "$@" >"$E/out" 2>&1 || rc=$?
    if [ "$rc" = "$want" ] && grep -qE -- "$pat" "$E/out"; then
        ok "$desc"
    else
        not_ok "$desc" "expected exit $want and /$pat/, got exit $rc:" "$(tail_of "$E/out" 5)"
    fi
}
expect "compile --help lists every target" 0 "rv32e .*no multiplier" "$SHIFTC" compile --help
for t in $ALL_TARGETS; do
    grep -qE "^  $t " "$E/out" || not_ok "compile --help lists $t"
done
expect "compile --target nosuch: error lists the valid targets" 2 \
    "unknown target 'nosuch' \(valid: host, x86_64, aarch64, riscv64, cortex-m4, rv32imc, rv32i, rv32e\)" \
    "$SHIFTC" compile "$TINY/model.onnx" --calib "$TINY/calib.npy" -o "$E/bad" --target nosuch
expect "compile --target cortex-m4 --no-size emits without building" 0 "target cortex-m4" \
    "$SHIFTC" compile "$TINY/model.onnx" --calib "$TINY/calib.npy" -o "$E/m4" --target cortex-m4 --no-size
if grep -qx "target cortex-m4" "$E/m4/model.meta" && grep -q "^CC = arm-none-eabi-gcc" "$E/m4/Makefile"; then
    ok "model.meta records the target; the Makefile names the cross compiler"
else
    not_ok "model.meta records the target; the Makefile names the cross compiler" "$(cat "$E/m4/model.meta")"
fi
if make -n -C "$E/m4" CC=my-other-cc runner.o >"$E/make-n" 2>&1 && grep -q "^my-other-cc " "$E/make-n"; then
    ok "make CC=... overrides the Makefile's cross compiler"
else
    not_ok "make CC=... overrides the Makefile's cross compiler"
fi
expect "run --target nosuch: error lists the valid targets" 2 "unknown target 'nosuch' \(valid: host," \
    "$SHIFTC" run "$E/m4" --input "$TMP/x.npy" --output "$E/y.npy" --target nosuch
expect "run --target rv32imc on a cortex-m4 build: clear error" 2 \
    "compiled for cortex-m4, not rv32imc: compile it again with --target rv32imc" \
    "$SHIFTC" run "$E/m4" --input "$TMP/x.npy" --output "$E/y.npy" --target rv32imc
expect "compile --target cortex-m4 without the toolchain: names the Debian packages" 1 \
    "needs arm-none-eabi-gcc.*gcc-arm-none-eabi picolibc-arm-none-eabi" \
    env PATH=/nonexistent "$SHIFTC" compile "$TINY/model.onnx" --calib "$TINY/calib.npy" -o "$E/m4b" --target cortex-m4
# an emulator missing: a PATH with make and the cross tools but no QEMU
mkdir -p "$E/bin"
for p in make sh arm-none-eabi-gcc arm-none-eabi-ar arm-none-eabi-size; do
    ln -sf "$(command -v $p)" "$E/bin/$p"
done
expect "run for cortex-m4 without QEMU: names the Debian package" 1 "needs qemu-system-arm.*install.*qemu-system-arm" \
    env PATH="$E/bin" "$SHIFTC" run "$E/m4" --input "$TMP/x.npy" --output "$E/y.npy"

# --- one job per target ------------------------------------------------------

# Each job writes result lines ("ok - ..."/"not ok - ..." then "    # detail")
# to $TMP/T/results and one table row per model to $TMP/T/table; the
# parent prints and counts them in target order.
target_job() {
    local t=$1 d=$TMP/$1 m
    mkdir -p "$d"
    local R=$d/results
    : >"$R"
    : >"$d/table"
    rok() { echo "ok - $t: $1" >>"$R"; }
    rfail() {
        echo "not ok - $t: $1" >>"$R"
        shift
        local x
        for x in "$@"; do printf '%s\n' "$x" | sed 's/^/    # /' >>"$R"; done
    }
    local P cnt
    P=$(binutils_prefix "$t")
    cnt=$(counter_of "$t")
    for m in $MODELS; do
        local o=$d/$m ts tc tr
        ts=$(now)
        if ! "$SHIFTC" compile "$FIX/$m.onnx" --calib "$FIX/calib.npy" -o "$o" --target "$t" --json \
            >"$d/$m-compile.json" 2>"$d/$m-compile.log"; then
            rfail "$m compiles" "repro: shiftc compile tests/fixtures/$m.onnx --calib tests/fixtures/calib.npy -o OUT --target $t" \
                "$(tail_of "$d/$m-compile.log")"
            continue
        fi
        tc=$(elapsed "$ts")
        local flash ram text data bss
        flash=$(jget "$d/$m-compile.json" 'j["flash_bytes"]')
        ram=$(jget "$d/$m-compile.json" 'j["ram_bytes"]')
        rok "$m compiles ($tc s; flash $flash, RAM $ram bytes)"
        # flash/RAM = the target's size on libNAME.a
        read -r text data bss _ < <("${P}size" -t "$o/lib$m.a" | tail -n 1)
        if [ "$flash" = $((text + data)) ] && [ "$ram" = $((data + bss)) ]; then
            rok "$m flash = text + data, RAM = data + bss of ${P}size -t lib$m.a"
        else
            rfail "$m flash = text + data, RAM = data + bss of ${P}size -t lib$m.a" \
                "compile: flash $flash ram $ram; size: text $text data $data bss $bss"
        fi

        ts=$(now)
        if ! "$SHIFTC" run "$o" --input "$TMP/x.npy" --output "$d/$m-y.npy" --target "$t" --json \
            >"$d/$m-run.json" 2>"$d/$m-run.log"; then
            rfail "$m runs" "repro: shiftc run OUT --input x.npy --output y.npy --target $t --json" \
                "$(tail_of "$d/$m-run.log")"
            continue
        fi
        tr=$(elapsed "$ts")
        local ref
        ref=$(ref_of "$t" "$m")
        if cmp -s "$d/$m-y.npy" "$ref"; then
            rok "$m outputs == integer simulator ($(basename "$ref")), bit-exact ($N images, run $tr s)"
        else
            rfail "$m outputs == integer simulator ($(basename "$ref")), bit-exact" \
                "repro: shiftc eval ... --quant-output q.npy; shiftc run OUT --target $t ...; cmp q.npy y.npy" \
                "$(cmp "$d/$m-y.npy" "$ref" 2>&1)"
        fi

        # instruction count: present where the target has a counter, and
        # the same on a second run
        local ipi counter total stack ram_run
        ipi=$(jget "$d/$m-run.json" 'j["instructions_per_inference"]')
        counter=$(jget "$d/$m-run.json" 'j["counter"]')
        total=$(jget "$d/$m-run.json" 'j["instructions_total"]')
        stack=$(jget "$d/$m-run.json" 'j["stack_bytes"]')
        ram_run=$(jget "$d/$m-run.json" 'j["ram_bytes"]')
        if [ "$cnt" = null ]; then
            if [ "$ipi" = null ] && [ "$counter" = null ]; then
                rok "$m: no instruction count on this target (null)"
            else
                rfail "$m: no instruction count on this target (null)" "got $ipi ($counter)"
            fi
        elif [ "$counter" = "$cnt" ] && awk -v x="$ipi" 'BEGIN { exit !(x > 1000) }'; then
            rok "$m: $ipi instructions per inference ($counter)"
            "$SHIFTC" run "$o" --input "$TMP/x.npy" --output "$d/$m-y2.npy" --target "$t" --json \
                >"$d/$m-run2.json" 2>>"$d/$m-run.log"
            local total2
            total2=$(jget "$d/$m-run2.json" 'j["instructions_total"]')
            if [ "$total2" = "$total" ]; then
                rok "$m: a second run counts the same ($total instructions for $N inferences)"
            else
                rfail "$m: a second run counts the same" "first $total, second $total2"
            fi
        else
            rfail "$m: instructions per inference ($cnt)" "got '$ipi' from '$counter'" "$(tail_of "$d/$m-run.log")"
        fi
        # wall time per inference: natively only, null under an emulator
        local spi
        spi=$(jget "$d/$m-run.json" 'j["seconds_per_inference"]')
        if [ "$(timed_of "$t")" = yes ]; then
            if [ "$(jget "$d/$m-run.json" 'isinstance(j["seconds_per_inference"], float) and j["seconds_per_inference"] > 0 and j["timed_runs"] >= 20')" = True ]; then
                rok "$m: $spi s per inference (median of $(jget "$d/$m-run.json" 'j["timed_runs"]') timed runs)"
            else
                rfail "$m: positive seconds_per_inference natively" "got '$spi'" "$(tail_of "$d/$m-run.log")"
            fi
        elif [ "$spi" = null ]; then
            rok "$m: no wall time under emulation (seconds_per_inference null)"
        else
            rfail "$m: no wall time under emulation (seconds_per_inference null)" "got '$spi'"
        fi
        # the stack high-water: bare metal only, and part of run's RAM
        if is_bare "$t"; then
            if awk -v s="$stack" 'BEGIN { exit !(s > 0 && s < 2048) }' && [ "$ram_run" = $((ram + stack)) ]; then
                rok "$m: stack high-water $stack bytes; run's RAM = $ram + $stack"
            else
                rfail "$m: stack high-water measured; run's RAM = compile's + stack" \
                    "stack '$stack', run ram '$ram_run', compile ram '$ram'"
            fi
        elif [ "$stack" = null ] && [ "$ram_run" = "$ram" ]; then
            rok "$m: no stack measurement off bare metal; run's RAM = compile's"
        else
            rfail "$m: no stack measurement off bare metal; run's RAM = compile's" "stack '$stack', ram '$ram_run' vs '$ram'"
        fi

        # the model's share of the linked ELF (linker map) == flash/RAM.
        # RISC-V linker relaxation shortens calls and address loads in the
        # model's .text; relinking with --no-relax shows the unrelaxed
        # sections are exactly the objects'.
        local lm=$d/$m-linkmap.json relaxed=""
        $PY tests/linkmap.py "$o" "${P}size" "${P}objdump" >"$lm" 2>>"$d/$m-run.log"
        if is_riscv "$t"; then
            relaxed=$(jget "$lm" 'j["objects"]["text"] - j["linked"]["text"]')
            rm -f "$o/runner"
            make -s -C "$o" runner LDFLAGS=-Wl,--no-relax >>"$d/$m-run.log" 2>&1
            $PY tests/linkmap.py "$o" "${P}size" "${P}objdump" >"$lm" 2>>"$d/$m-run.log"
        fi
        local objs exact merged
        objs=$(jget "$lm" '"%d %d %d" % (j["objects"]["text"], j["objects"]["data"], j["objects"]["bss"])')
        exact=$(jget "$lm" 'j["exact"]')
        merged=$(jget "$lm" 'sum(j["merged"].values())')
        if [ "$objs" = "$text $data $bss" ] && [ "$exact" = True ]; then
            local how="exactly"
            [ "$merged" != 0 ] && how="exactly, but for $merged bytes the linker merged with identical ones (.eh_frame CIEs, constants)"
            is_riscv "$t" && how="$how (linked with --no-relax; relaxation saves another $relaxed)"
            rok "$m: the model's sections in the linked runner (runner.map) sum to flash/RAM $how"
        else
            rfail "$m: the model's sections in the linked runner (runner.map) sum to flash/RAM" \
                "size -t lib: $text $data $bss; map: $(cat "$lm")"
        fi
        if is_bare "$t"; then
            if [ "$(jget "$lm" 'j["closed"]')" = True ]; then
                rok "$m: ${P}size runner = model + runner/libc/fill per the map ($(jget "$lm" '"text %d = %d + %d" % (j["elf"]["text"], j["linked"]["text"], j["rest"]["text"])'))"
            else
                rfail "$m: ${P}size runner = model + the rest per the map" "$(cat "$lm")"
            fi
        fi
        printf '%-10s %-4s %12s %9s %7s %6s %8s %6s\n' "$t" "$m" "$ipi" "$flash" "$ram" "$stack" "$tc" "$tr" >>"$d/table"
    done
}

running=0
for t in $TARGETS; do
    case " $ALL_TARGETS " in
    *" $t "*) ;;
    *)
        not_ok "known target '$t'"
        continue
        ;;
    esac
    (
        ts=$(now)
        target_job "$t"
        echo "$(elapsed "$ts")" >"$TMP/$t/seconds"
    ) &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

for t in $TARGETS; do
    [ -f "$TMP/$t/results" ] || continue
    echo "# $t ($(cat "$TMP/$t/seconds" 2>/dev/null || echo '?') s)"
    cat "$TMP/$t/results"
    p=$(grep -c '^ok - ' "$TMP/$t/results")
    f=$(grep -c '^not ok - ' "$TMP/$t/results")
    TESTS_PASSED=$((TESTS_PASSED + p))
    TESTS_FAILED=$((TESTS_FAILED + f))
    while IFS= read -r line; do
        FAILED_NAMES+=("${line#not ok - }")
    done < <(grep '^not ok - ' "$TMP/$t/results")
done

echo "# measurements ($N images; flash/RAM in bytes; RAM without the stack; times in s)"
printf '# %-10s %-4s %12s %9s %7s %6s %8s %6s\n' target model instr/inf flash ram stack compile run
for t in $TARGETS; do
    [ -f "$TMP/$t/table" ] && sed 's/^/# /' "$TMP/$t/table"
done
echo "# total $(elapsed "$T_ALL") s"
if [ "$TESTS_FAILED" -gt 0 ]; then
    echo "failed checks:"
    printf '  - %s\n' "${FAILED_NAMES[@]}"
fi
echo "$TESTS_PASSED passed, $TESTS_FAILED failed"
echo "targets: $TESTS_PASSED passed, $TESTS_FAILED failed"
[ "$TESTS_FAILED" -eq 0 ]
