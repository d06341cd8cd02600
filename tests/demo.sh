#!/usr/bin/env bash
# The main job: compile the bundled CNN for the default target, run the
# emitted program on the test subset, and report accuracy and size.
set -euo pipefail
cd "$(dirname "$0")/.."
SHIFTC=build/shiftc
FIX=tests/fixtures
OUT=build/demo
TARGET=host # the embedded default once the cross targets land

echo "== shiftc demo: bundled CNN (Fashion-MNIST), target $TARGET"
$SHIFTC compile $FIX/cnn.onnx --calib $FIX/calib.npy -o $OUT/cnn
$SHIFTC eval $FIX/cnn.onnx --calib $FIX/calib.npy --data $FIX/test_x.npy --labels $FIX/test_y.npy \
    --quant-output $OUT/sim.npy
$SHIFTC run $OUT/cnn --input $FIX/test_x.npy --output $OUT/run.npy --json > $OUT/run.json
if cmp -s $OUT/sim.npy $OUT/run.npy; then
    echo "  emitted C == integer simulator on every test input (bit-exact)"
else
    echo "  MISMATCH: emitted C differs from the integer simulator" >&2
    exit 1
fi
field() { sed -n "s/.*\"$1\": \([0-9-]*\).*/\1/p" $OUT/run.json; }
echo "  code (text) $(field text_bytes) bytes, data $(field data_bytes) bytes, zero-initialised (arena) $(field bss_bytes) bytes"
