#!/usr/bin/env bash
# Golden tests for the emitter: each case folder holds model.onnx, calib.npy
# and expected/, the C that shiftc must emit for it (compared with diff -u).
# After an intended change of the emitted code: tests/golden/run.sh --update
# Environment: SHIFTC=path, the binary under test (default build/shiftc).
set -u
SHIFTC=${SHIFTC:-$(dirname "$0")/../../build/shiftc}
SHIFTC=$(cd "$(dirname "$SHIFTC")" && pwd)/$(basename "$SHIFTC")
cd "$(dirname "$0")"
update=0
[ "${1:-}" = "--update" ] && update=1
pass=0 fail=0
for case in */; do
    case=${case%/}
    [ -f "$case/model.onnx" ] || continue
    tmp=$(mktemp -d)
    if ! $SHIFTC compile "$case/model.onnx" --calib "$case/calib.npy" --name "$case" -o "$tmp/out" >/dev/null; then
        echo "not ok - golden $case: compile failed"
        fail=$((fail + 1))
    elif [ $update = 1 ]; then
        rm -rf "$case/expected" && cp -r "$tmp/out" "$case/expected"
        echo "ok - golden $case: updated"
        pass=$((pass + 1))
    elif diff -ru "$case/expected" "$tmp/out"; then
        echo "ok - golden $case: emitted C matches expected/"
        pass=$((pass + 1))
    else
        echo "not ok - golden $case: emitted C differs from expected/ (diff above)"
        fail=$((fail + 1))
    fi
    rm -rf "$tmp"
done
echo "golden: $pass passed, $fail failed"
[ $fail = 0 ]
