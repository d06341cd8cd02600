#!/usr/bin/env bash
# The benchmark table's pieces: bench/qemu_count.py (the AArch64 instruction
# count from a QEMU trace) and bench/table.py end to end on a small scale.
#   - qemu_count.py --validate: the trace count of an AArch64 loop of known
#     length is exact, and on x86-64 builds of the bundled models it equals
#     callgrind's within 10 ppm;
#   - table.py --quick on the MLP for rv32imc and aarch64 (no weight-term part,
#     no ONNX Runtime): exits 0 (no runner output differs from the integer
#     simulator), writes the table and the SVG, the aarch64 int8 mac row has
#     an instruction count, and every build row is bit-exact.
# Prints "ok - ..." / "not ok - ..." per check and "N passed, N failed"; exits 1 on a failure.
#
# Environment:
#   SHIFTC=path   binary under test (default build/shiftc)
#   KEEP=1        keep the temporary directory
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
export SHIFTC=${SHIFTC:-build/shiftc}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-bench-table-XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$TMP"' EXIT

if $PY bench/qemu_count.py --validate --shiftc "$SHIFTC" >"$TMP/validate.log" 2>&1; then
    ok "qemu_count.py --validate: $(grep -c ': ok$' "$TMP/validate.log") counts agree"
else
    not_ok "qemu_count.py --validate" "$(tail_of "$TMP/validate.log")"
fi

if $PY bench/table.py --shiftc "$SHIFTC" --quick --models mlp --targets rv32imc,aarch64 --images 20 --no-terms \
    --no-ort --budgets instructions=0.5:unrolled --out "$TMP/table.md" >"$TMP/table.log" 2>&1; then
    ok "table.py --quick (mlp, rv32imc and aarch64) exits 0"
else
    not_ok "table.py --quick (mlp, rv32imc and aarch64) exits 0" "$(tail_of "$TMP/table.log")"
fi
if [ -s "$TMP/table.svg" ] && grep -q '<circle' "$TMP/table.svg"; then
    ok "table.svg has points"
else
    not_ok "table.svg has points"
fi
# | mlp | aarch64 | int8 mac | INSTRUCTIONS | ...
if grep -Eq '^\| mlp \| aarch64 \| int8 mac \| [0-9]+ \|' "$TMP/table.md"; then
    ok "the aarch64 int8 mac row has an instruction count"
else
    not_ok "the aarch64 int8 mac row has an instruction count" "$(grep 'aarch64' "$TMP/table.md" 2>/dev/null)"
fi
rows=$(grep -Ec '^\| mlp \| (rv32imc|aarch64) \| (int8|mixed)' "$TMP/table.md")
exact=$(grep -Ec '^\| mlp \| (rv32imc|aarch64) \| (int8|mixed).*\| bit-exact \|' "$TMP/table.md")
if [ "$rows" = 6 ] && [ "$exact" = 6 ]; then
    ok "6 integer builds, all bit-exact with the simulator"
else
    not_ok "6 integer builds, all bit-exact with the simulator" "rows $rows, bit-exact $exact" \
        "$(grep -E '^\| mlp' "$TMP/table.md" 2>/dev/null)"
fi

summary
