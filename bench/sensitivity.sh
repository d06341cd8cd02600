#!/usr/bin/env bash
# Wall time of `shiftc sensitivity` vs tools/hessian_ref.py (PyTorch
# autograd HVPs) on the same model, samples and number of probes, run side
# by side in one invocation, and their ratio.
#
#   bench/sensitivity.sh [MODEL.onnx] [SAMPLES] [PROBES] [THREADS]
#   defaults: tests/fixtures/cnn.onnx 200 100 2
#   SHIFTC=path (default build/shiftc), PY=python with torch (default /usr/bin/python3)
#
# Both run exactly PROBES probes (shiftc with --tol 1e-12 so its stopping
# rule never fires) on the first SAMPLES of tests/fixtures/test_x.npy with
# labels test_y.npy, on THREADS threads each.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
MODEL=${1:-tests/fixtures/cnn.onnx}
SAMPLES=${2:-200}
PROBES=${3:-100}
THREADS=${4:-2}
SHIFTC=${SHIFTC:-$ROOT/build/shiftc}
PY=${PY:-/usr/bin/python3}
X=tests/fixtures/test_x.npy
Y=tests/fixtures/test_y.npy
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-bench-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
now() { date +%s.%N; }

t0=$(now)
"$SHIFTC" sensitivity "$MODEL" --calib $X --labels $Y --samples "$SAMPLES" --probes "$PROBES" --tol 1e-12 \
    --threads "$THREADS" --json >"$TMP/shiftc.json" || exit 1
t1=$(now)
OMP_NUM_THREADS=$THREADS "$PY" tools/hessian_ref.py "$MODEL" --calib $X --labels $Y --samples "$SAMPLES" \
    --probes "$PROBES" --threads "$THREADS" -o "$TMP/torch.json" || exit 1
t2=$(now)

"$PY" - "$TMP/shiftc.json" "$TMP/torch.json" <<'PYEOF'
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print("%-12s %12s %12s %12s %12s" % ("layer", "shiftc", "+-", "torch", "+-"))
for la, lb in zip(a["layers"], b["layers"]):
    print("%-12s %12.5g %12.3g %12.5g %12.3g" % (la["name"], la["trace"], la["stderr"], lb["trace"], lb["stderr"]))
PYEOF
awk -v a="$t0" -v b="$t1" -v c="$t2" -v m="$MODEL" -v s="$SAMPLES" -v p="$PROBES" -v t="$THREADS" 'BEGIN {
    printf "%s, %d samples, %d probes, %d threads\n", m, s, p, t
    printf "  shiftc sensitivity   %8.2f s\n", b - a
    printf "  tools/hessian_ref.py %8.2f s (PyTorch %s)\n", c - b, "autograd"
    printf "  ratio torch/shiftc   %8.2fx\n", (c - b) / (b - a)
}'
