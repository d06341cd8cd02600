#!/usr/bin/env bash
# The main job: compile the bundled CNN for the embedded default target
# (Cortex-M4, QEMU's mps2-an386 board), run the emitted program on the
# emulated board on every test image, and report accuracy, flash, RAM and
# instructions per inference; check the board's outputs bit for bit against
# the integer simulator.
#   tests/demo.sh [TARGET]      default cortex-m4 (any of 'shiftc compile --help')
set -euo pipefail
cd "$(dirname "$0")/.."
SHIFTC=${SHIFTC:-build/shiftc}
PY=${PY:-/usr/bin/python3}
FIX=tests/fixtures
TARGET=${1:-cortex-m4}
OUT=build/demo/$TARGET

mkdir -p "$OUT"
echo "== shiftc demo: bundled CNN (Fashion-MNIST), target $TARGET"
$SHIFTC eval $FIX/cnn.onnx --calib $FIX/calib.npy --data $FIX/test_x.npy --labels $FIX/test_y.npy \
    --json --quant-output "$OUT/sim.npy" >"$OUT/eval.json"
$SHIFTC compile $FIX/cnn.onnx --calib $FIX/calib.npy -o "$OUT/cnn" --target "$TARGET" --json >"$OUT/compile.json"
t0=$(date +%s.%N)
$SHIFTC run "$OUT/cnn" --input $FIX/test_x.npy --output "$OUT/run.npy" --target "$TARGET" --json >"$OUT/run.json"
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

$PY - "$OUT" $FIX/test_y.npy "$secs" <<'PY'
import json, sys
import numpy as np
out, labels, secs = sys.argv[1], sys.argv[2], sys.argv[3]
ev = json.load(open(out + "/eval.json"))
co = json.load(open(out + "/compile.json"))
run = json.load(open(out + "/run.json"))
y = np.load(labels)
board = np.load(out + "/run.npy").reshape(len(y), -1)
acc = float((board.argmax(axis=1) == y).mean())
print("  %d test images, run on %s in %s s" % (run["samples"], run["target"], secs))
print("  accuracy: float %.2f%%, quantized (simulator) %.2f%%, on the board %.2f%%"
      % (100 * ev["float_accuracy"], 100 * ev["quant_accuracy"], 100 * acc))
print("  flash %d bytes (code + constants + initialised data of the model)" % co["flash_bytes"])
stack = run["stack_bytes"]
print("  RAM   %d bytes (arena and other static data %d%s)"
      % (run["ram_bytes"], co["ram_bytes"], "" if stack is None else ", stack high-water %d" % stack))
ipi = run["instructions_per_inference"]
how = {"systick": "SysTick x 40 under QEMU -icount", "minstret": "minstret, exact",
       "callgrind": "callgrind, exact"}.get(run["counter"], "")
print("  instructions per inference: %s" % ("not measurable on this target" if ipi is None
                                            else "%.0f (%s)" % (ipi, how)))
PY
if cmp -s "$OUT/sim.npy" "$OUT/run.npy"; then
    echo "  emitted C on $TARGET == integer simulator on every test image (bit-exact)"
else
    echo "  MISMATCH: the emitted C on $TARGET differs from the integer simulator" >&2
    exit 1
fi
