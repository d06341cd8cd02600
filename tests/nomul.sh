#!/usr/bin/env bash
# Multiplierless mode (shiftc compile/eval --no-mul; automatic for the rv32i
# and rv32e targets): requantization by shifts and adds only.
#
# Per model: accuracy close to the default mode (shiftc eval), emitted C that
# requantizes through shiftc_requant_nomul, bit-exact host run against the
# simulator, and the objects built for RV32I (riscv64-unknown-elf-gcc
# -march=rv32i, picolibc) inspected with objdump: no multiply or divide
# instruction anywhere (no such instruction exists on RV32I: the point is
# that the compiler then needs no __mulsi3/__muldi3 library call, and the
# layer files NAME_l*.o call no arithmetic helper at all), the linked ELF
# free of mul/div instructions too, and the same checks on the default mode
# finding the __muldi3 calls and mul instructions they look for.  When
# `shiftc run --target rv32i` works (QEMU, qemu-system-misc), the model also
# runs on the emulated core without a multiplier, bit-exact.
#
# Prints "ok - ..." / "not ok - ..." per check and a final line
# "nomul: N passed, N failed"; exits 1 if a check failed.
#
# Environment:
#   SHIFTC=path      binary under test (default build/shiftc)
#   UNSEEN_DIR=dir   tools/make_unseen.py output (default build/unseen); its
#                    models (residual Add, Concat, pools, Softmax) are tested
#                    when it exists -- tests/e2e.sh generates it
#   NOMUL_TOL=0.02   largest accuracy drop allowed for --no-mul
#   KEEP=1           keep the temporary directory
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. tests/lib.sh

SHIFTC=${SHIFTC:-$ROOT/build/shiftc}
FIX=$ROOT/tests/fixtures
UNSEEN=${UNSEEN_DIR:-$ROOT/build/unseen}
TOL=${NOMUL_TOL:-0.02}
RV_CC=riscv64-unknown-elf-gcc
RV_OBJDUMP=riscv64-unknown-elf-objdump
RV_ARCH="-march=rv32i -mabi=ilp32 -misa-spec=2.2 --specs=picolibc.specs"
RV_CFLAGS="-O2 -std=c99 -Wall -Wextra -Werror -pedantic"
RV_LDFLAGS="--oslib=semihost --crt0=semihost -Wl,--defsym=__flash=0x80000000 -Wl,--defsym=__flash_size=0x200000
 -Wl,--defsym=__ram=0x80200000 -Wl,--defsym=__ram_size=0x200000 -Wl,--defsym=__stack_size=0x4000"
# RV32M instructions: none may appear in RV32I code
MULDIV='^(mul|mulh|mulhsu|mulhu|div|divu|rem|remu)$'
# libgcc's integer arithmetic helpers: none may be called by a layer file
HELPERS='^__(mul|div|mod|udiv|umod)(s|d|t)i3$'

TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-nomul-XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "# keeping $TMP"
else
    trap 'rm -rf "$TMP"' EXIT
fi
export TMPDIR=$TMP

finish() {
    if [ "$TESTS_FAILED" -gt 0 ]; then
        echo "failed checks:"
        local n
        for n in "${FAILED_NAMES[@]}"; do echo "  - $n"; done
    fi
    if [ "$TESTS_SKIPPED" -gt 0 ]; then
        echo "nomul: $TESTS_PASSED passed, $TESTS_FAILED failed, $TESTS_SKIPPED skipped"
    else
        echo "nomul: $TESTS_PASSED passed, $TESTS_FAILED failed"
    fi
    [ "$TESTS_FAILED" -eq 0 ]
    exit $?
}

if [ ! -x "$SHIFTC" ]; then
    not_ok "shiftc binary exists ($SHIFTC)" "build it with make first"
    finish
fi

have_rv=1
if ! command -v $RV_CC >/dev/null || [ ! -d /usr/lib/picolibc/riscv64-unknown-elf ]; then
    have_rv=0
    echo "# $RV_CC or picolibc missing: install gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf"
fi
have_qemu=0
if command -v qemu-system-riscv32 >/dev/null && "$SHIFTC" run --help 2>&1 | grep -q -- '--target'; then
    have_qemu=1
fi

# json_num FILE KEY: a number field of a one-line JSON object
json_num() { sed -nE "s/.*\"$2\": ([0-9.eE+-]+).*/\1/p" "$1"; }

# calls OBJ: the functions OBJ calls (relocations of call instructions)
calls() { $RV_OBJDUMP -dr "$1" | awk '/R_RISCV_CALL/ { print $NF }' | sort -u; }
# muldiv_insns FILE: RV32M instructions in FILE's code
muldiv_insns() { $RV_OBJDUMP -d "$1" | awk -F'\t' -v re="$MULDIV" '$3 ~ re { print $3 }' | sort | uniq -c; }

# rv32_objects DIR NAME ARCH: builds every .c of DIR for ARCH into DIR/ARCH/
rv32_objects() {
    local dir=$1 arch=$2 f
    mkdir -p "$dir/$arch"
    for f in "$dir"/*.c; do
        $RV_CC -march="$arch" -mabi=ilp32 -misa-spec=2.2 --specs=picolibc.specs $RV_CFLAGS \
            -c "$f" -o "$dir/$arch/$(basename "${f%.c}").o" >>"$dir/$arch/build.log" 2>&1 || return 1
    done
}

# model_checks LABEL ONNX CALIB X Y
model_checks() {
    local label=$1 onnx=$2 calib=$3 x=$4 y=$5
    local d=$TMP/$label name
    mkdir -p "$d"
    echo "# == $label"

    # 1. accuracy, default vs --no-mul
    if "$SHIFTC" eval "$onnx" --calib "$calib" --data "$x" --labels "$y" --json >"$d/eval0.json" 2>&1 &&
        "$SHIFTC" eval "$onnx" --calib "$calib" --data "$x" --labels "$y" --json --no-mul \
            --quant-output "$d/sim.npy" >"$d/eval1.json" 2>&1; then
        local a0 a1 g0 g1
        a0=$(json_num "$d/eval0.json" quant_accuracy)
        a1=$(json_num "$d/eval1.json" quant_accuracy)
        g0=$(json_num "$d/eval0.json" agreement)
        g1=$(json_num "$d/eval1.json" agreement)
        if awk -v a="$a0" -v b="$a1" -v t="$TOL" 'BEGIN { exit !(b >= a - t) }'; then
            ok "$label: quant accuracy $a1 with --no-mul, $a0 without (agreement with float $g1 / $g0)"
        else
            not_ok "$label: quant accuracy $a1 with --no-mul, $a0 without: dropped more than $TOL"
        fi
    else
        not_ok "$label: shiftc eval (with and without --no-mul)" "$(tail_of "$d/eval0.json")" "$(tail_of "$d/eval1.json")"
        return
    fi

    # 2. compile (the libclang check runs too)
    if ! "$SHIFTC" compile "$onnx" --calib "$calib" -o "$d/out" --no-mul >"$d/compile.log" 2>&1; then
        not_ok "$label: shiftc compile --no-mul" "$(tail_of "$d/compile.log")"
        return
    fi
    name=$(sed -nE 's/^name (.*)$/\1/p' "$d/out"/*.meta)
    local layers=("$d/out/${name}"_l*.c)
    if [ ! -e "${layers[0]}" ]; then
        not_ok "$label: layer files ${name}_l*.c emitted"
        return
    fi
    if grep -q 'shiftc_requant_nomul(' "${layers[@]}" && ! grep -q 'shiftc_requant(' "${layers[@]}" &&
        ! grep -qE 'shiftc_(add|concat)_q\(' "$d/out/$name.c"; then
        ok "$label: emitted C requantizes with shiftc_requant_nomul / *_nomul_q only"
    else
        not_ok "$label: emitted C still calls the multiplying requantization"
    fi

    # 3. bit-exact against the simulator on the host
    if "$SHIFTC" run "$d/out" --input "$x" --output "$d/run.npy" >"$d/run.log" 2>&1 &&
        cmp -s "$d/sim.npy" "$d/run.npy"; then
        ok "$label: compile --no-mul + run is bit-exact with eval --no-mul --quant-output"
    else
        not_ok "$label: compile --no-mul + run is bit-exact with eval --no-mul --quant-output" \
            "$(tail_of "$d/run.log")" "$(cmp "$d/sim.npy" "$d/run.npy" 2>&1)"
    fi

    # 4. RV32I objects and ELF
    if [ $have_rv = 0 ]; then
        skip "$label: RV32I objdump checks" "no riscv64-unknown-elf toolchain"
    elif ! rv32_objects "$d/out" rv32i; then
        not_ok "$label: the emitted C builds for rv32i" "$(tail_of "$d/out/rv32i/build.log")"
    else
        local o bad="" found="" insns=""
        for o in "$d/out/rv32i/${name}"_l*.o; do
            found=$(calls "$o" | grep -E "$HELPERS" | tr '\n' ' ')
            [ -n "$found" ] && bad="$bad $(basename "$o"): $found"
        done
        if [ -z "$bad" ]; then
            ok "$label: rv32i layer objects ${name}_l*.o call no __mulsi3/__muldi3/__div* helper"
        else
            not_ok "$label: rv32i layer objects call arithmetic helpers" "$bad"
        fi
        found=$(calls "$d/out/rv32i/$name.o" | grep -E '^__mul(s|d)i3$' | tr '\n' ' ')
        if [ -z "$found" ]; then
            local divs
            divs=$(calls "$d/out/rv32i/$name.o" | grep -E "$HELPERS" | tr '\n' ' ')
            ok "$label: rv32i $name.o (pools, Add, Concat, Softmax) calls no __mulsi3/__muldi3 (divisions: ${divs:-none})"
        else
            not_ok "$label: rv32i $name.o calls $found"
        fi
        for o in "$d/out/rv32i"/*.o; do
            [ -n "$(muldiv_insns "$o")" ] && insns="$insns $(basename "$o")"
        done
        if [ -z "$insns" ]; then
            ok "$label: no mul/div/rem instruction in any rv32i object"
        else
            not_ok "$label: mul/div/rem instructions in$insns"
        fi
        # shellcheck disable=SC2086
        if $RV_CC $RV_ARCH $RV_CFLAGS $RV_LDFLAGS "$d/out/rv32i"/*.o -o "$d/out/rv32i/runner.elf" \
            >"$d/link.log" 2>&1; then
            insns=$(muldiv_insns "$d/out/rv32i/runner.elf")
            if [ -z "$insns" ]; then
                ok "$label: the linked rv32i ELF (picolibc) has no multiply or divide instruction"
            else
                not_ok "$label: the linked rv32i ELF has multiply/divide instructions" "$insns"
            fi
        else
            not_ok "$label: the emitted C links for rv32i (picolibc, semihosting)" "$(tail_of "$d/link.log")"
        fi
    fi

    # 5. on the emulated core without a multiplier
    if [ $have_qemu = 0 ]; then
        skip "$label: run on rv32i under QEMU" "no qemu-system-riscv32 or no 'shiftc run --target'"
    elif "$SHIFTC" compile "$onnx" --calib "$calib" -o "$d/rv" --target rv32i --json >"$d/rvc.log" 2>&1 &&
        grep -q 'shiftc_requant_nomul(' "$d/rv/${name}"_l*.c &&
        "$SHIFTC" run "$d/rv" --target rv32i --input "$x" --output "$d/rv.npy" --json >"$d/rvrun.log" 2>&1 &&
        cmp -s "$d/sim.npy" "$d/rv.npy"; then
        ok "$label: --target rv32i selects no-mul; bit-exact on QEMU rv32 (m=false), $(json_num "$d/rvrun.log" instructions_per_inference) instructions per inference"
    else
        not_ok "$label: --target rv32i selects no-mul and runs bit-exact on QEMU" \
            "$(tail_of "$d/rvc.log" 5)" "$(tail_of "$d/rvrun.log")"
    fi
}

T0=$(now)
model_checks fixtures/mlp "$FIX/mlp.onnx" "$FIX/calib.npy" "$FIX/test_x.npy" "$FIX/test_y.npy"
model_checks fixtures/cnn "$FIX/cnn.onnx" "$FIX/calib.npy" "$FIX/test_x.npy" "$FIX/test_y.npy"
if [ -f "$UNSEEN/manifest.txt" ]; then
    for m in resnet concat mobile; do
        [ -f "$UNSEEN/$m.onnx" ] &&
            model_checks "unseen/$m" "$UNSEEN/$m.onnx" "$UNSEEN/calib.npy" "$UNSEEN/test_x.npy" "$UNSEEN/test_y.npy"
    done
else
    skip "unseen models (residual Add, Concat, pools, Softmax)" "no $UNSEEN (tests/e2e.sh makes it)"
fi

# The checks above can see what they look for: the default mode on the
# same CNN calls __muldi3 (SRDHM's 64-bit product) from every layer object
# on rv32i, and has mul instructions on rv32im.
echo "# == controls (default mode)"
if [ $have_rv = 1 ] && "$SHIFTC" compile "$FIX/cnn.onnx" --calib "$FIX/calib.npy" -o "$TMP/ctl" >"$TMP/ctl.log" 2>&1 &&
    rv32_objects "$TMP/ctl" rv32i && rv32_objects "$TMP/ctl" rv32im; then
    n=0
    for o in "$TMP/ctl/rv32i"/cnn_l*.o; do
        calls "$o" | grep -qE '^__muldi3$' && n=$((n + 1))
    done
    if [ $n -gt 0 ]; then
        ok "control: default-mode rv32i layer objects call __muldi3 ($n objects): the helper check sees calls"
    else
        not_ok "control: default-mode rv32i layer objects call __muldi3"
    fi
    if [ -n "$(muldiv_insns "$TMP/ctl/rv32im/cnn_l0.o")" ]; then
        ok "control: default-mode rv32im objects hold mul instructions: the instruction check sees them"
    else
        not_ok "control: default-mode rv32im objects hold mul instructions"
    fi
else
    skip "controls (default mode on rv32i/rv32im)" "no riscv64-unknown-elf toolchain or compile failed"
fi
echo "# nomul took $(elapsed "$T0") s"
finish
