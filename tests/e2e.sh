#!/usr/bin/env bash
# End-to-end tests of the shiftc CLI.  Prints "ok - ..." / "not ok - ..." per
# check and a final "N passed, N failed" line; exits 1 if any check failed.
#
#   tests/e2e.sh                     everything
#   tests/e2e.sh fixtures unseen errors     only these parts (any of:
#                                    fixtures unseen errors san)
# Environment:
#   SHIFTC=path        binary under test (default build/shiftc)
#   SHIFTC_SAN=path    ASan+UBSan build used for the error cases and a smoke
#                      run (default build-san/shiftc; skipped if absent)
#   UNSEEN_DIR=dir     where the output of tools/make_unseen.py is cached
#                      (default build/unseen; generated when missing or older
#                      than the generator: ~25 s idle, minutes on a busy machine)
#   KEEP=1             keep the temporary directory
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. tests/lib.sh

SHIFTC=${SHIFTC:-$ROOT/build/shiftc}
SHIFTC_SAN=${SHIFTC_SAN:-$ROOT/build-san/shiftc}
FIX=$ROOT/tests/fixtures
ERR=$ROOT/tests/errors
TOL_ACC=0.005   # |quant - float| and |float - torch| accuracy tolerance
TOL_LOGITS=1e-4 # float interpreter / float C build vs torch logits
STRICT="-std=c99 -Wall -Wextra -Werror -pedantic"
# the emitted code under sanitizers: clang -O0 compiles the big unrolled
# shift-add files ~3x faster than gcc with -fsanitize
SAN_CC=clang
SAN_CFLAGS="-O0 -g -std=c99 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

PARTS=${*:-fixtures unseen errors san}
want() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-e2e-XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "# keeping $TMP"
else
    trap 'rm -rf "$TMP"' EXIT
fi
export TMPDIR=$TMP # shiftc run's scratch files too

if [ ! -x "$SHIFTC" ]; then
    not_ok "shiftc binary exists ($SHIFTC)" "build it with make first"
    summary
    exit 1
fi
echo "# shiftc: $SHIFTC"

# --- helpers ---------------------------------------------------------------

# sc LOG CMD...: runs "$SHIFTC" CMD with stdout+stderr in LOG; returns its status.
sc() {
    local log=$1
    shift
    "$SHIFTC" "$@" >"$log" 2>&1
}

# json_field FILE KEY
json_field() {
    $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2" 2>/dev/null
}

# within A B TOL: |A - B| <= TOL
within() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t + 1e-9) }'; }

# slice IN OUT N: first N rows of an .npy
slice() { $PY -c 'import numpy as np,sys; np.save(sys.argv[2], np.load(sys.argv[1])[:int(sys.argv[3])])' "$1" "$2" "$3"; }

# allclose A B TOL [N]: float arrays equal within abs+rel TOL on the first N rows
allclose() {
    $PY - "$@" <<'PY'
import sys, numpy as np
a = np.load(sys.argv[1]).astype(np.float64)
b = np.load(sys.argv[2]).astype(np.float64)
tol = float(sys.argv[3])
n = int(sys.argv[4]) if len(sys.argv) > 4 else None
if n is not None:
    a, b = a[:n], b[:n]
if a.size != b.size:
    print("shape mismatch: %s vs %s" % (a.shape, b.shape)); sys.exit(1)
a = a.reshape(b.shape)
d = np.abs(a - b)
bad = d > tol + tol * np.abs(b)
print("max |diff| %.3g over %d values, %d beyond tolerance %g" % (d.max() if d.size else 0, d.size, bad.sum(), tol))
sys.exit(1 if bad.any() or not np.isfinite(a).all() else 0)
PY
}

# same_rows A B N: the first N rows of two .npy arrays are identical
same_rows() {
    $PY -c '
import sys, numpy as np
a, b, n = np.load(sys.argv[1]), np.load(sys.argv[2]), int(sys.argv[3])
ok = a.dtype == b.dtype and a[:n].shape == b[:n].shape and np.array_equal(a[:n], b[:n])
print("dtype %s/%s shape %s/%s, %d differing values" % (a.dtype, b.dtype, a[:n].shape, b[:n].shape,
      -1 if a[:n].shape != b[:n].shape else int((a[:n] != b[:n]).sum())))
sys.exit(0 if ok else 1)' "$1" "$2" "$3"
}

# strict_make LABEL DIR CC: builds DIR's runner with make, CC and
# CFLAGS="-O2 -std=c99 -Wall -Wextra -Werror -pedantic" given on the command
# line (so the check does not depend on the emitted Makefile's own flags).
# A later "shiftc run DIR" finds the runner up to date.
strict_make() {
    local label=$1 dir=$2 cc=$3 log=$TMP/strict-$RANDOM$RANDOM.log
    make -C "$dir" clean >/dev/null 2>&1
    if make -C "$dir" CC="$cc" CFLAGS="-O2 $STRICT" runner >"$log" 2>&1; then
        ok "$label: emitted code compiles warning-free with $cc $STRICT"
    else
        not_ok "$label: emitted code compiles warning-free with $cc $STRICT" \
            "repro: make -C DIR CC=$cc CFLAGS='-O2 $STRICT' runner" \
            "$(grep -m 12 -E 'warning|error' "$log")" "$(tail_of "$log" 5)"
    fi
}

# torch_acc_from_readme MODEL: the "test_x (600 images)" torch accuracy as a fraction
torch_acc_from_readme() {
    awk -F'|' -v m="$1" '{ c = $2; gsub(/ /, "", c) } c == m { v = $3; gsub(/[ %]/, "", v); print v / 100; exit }' \
        "$FIX/README.md"
}

# model_check LABEL ONNX CALIB X Y TORCH_ACC [REF_LOGITS]
#   check 1 (eval, compile, run, bit-exact, accuracies), 2 (strict warnings),
#   3 (determinism), 4 (float interpreter and float C build vs torch logits)
model_check() {
    local label=$1 onnx=$2 calib=$3 x=$4 y=$5 tacc=$6 ref=${7:-}
    local d=$TMP/$label
    mkdir -p "$d"
    local t0
    t0=$(now)
    echo "# --- $label ($(basename "$onnx"))"

    # eval: float + quantized accuracy, simulator outputs
    local fa="" qa=""
    if sc "$d/eval.log" eval "$onnx" --calib "$calib" --data "$x" --labels "$y" --json \
        --quant-output "$d/q.npy" --float-output "$d/f.npy"; then
        # --json: the JSON object is the last line of stdout
        grep '^{' "$d/eval.log" | tail -n 1 >"$d/eval.json"
        fa=$(json_field "$d/eval.json" float_accuracy)
        qa=$(json_field "$d/eval.json" quant_accuracy)
        if [ -n "$fa" ] && [ -n "$qa" ]; then
            ok "$label: eval --json (float $fa, quant $qa, agreement $(json_field "$d/eval.json" agreement), samples $(json_field "$d/eval.json" samples))"
        else
            not_ok "$label: eval --json prints float_accuracy and quant_accuracy" "$(tail_of "$d/eval.log")"
        fi
    else
        not_ok "$label: eval" "repro: $SHIFTC eval $onnx --calib $calib --data $x --labels $y --json --quant-output q.npy" \
            "$(tail_of "$d/eval.log")"
    fi

    # compile twice (determinism), plus a float build
    local c1=$d/c1 c2=$d/c2 cf=$d/cf compiled=0
    if sc "$d/compile1.log" compile "$onnx" --calib "$calib" -o "$c1" &&
        sc "$d/compile2.log" compile "$onnx" --calib "$calib" -o "$c2"; then
        compiled=1
        ok "$label: compile"
        if diff -r "$c1" "$c2" >"$d/diff.log" 2>&1; then
            ok "$label: compiling twice gives byte-identical trees"
        else
            not_ok "$label: compiling twice gives byte-identical trees" "$(head -n 10 "$d/diff.log")"
        fi
        cp -r "$c1" "$d/pristine" # untouched by make: for the sanitized runner build and diffs
        strict_make "$label int8" "$c1" gcc
        strict_make "$label int8" "$c2" clang
    else
        not_ok "$label: compile" "repro: $SHIFTC compile $onnx --calib $calib -o out" \
            "$(tail_of "$d/compile1.log")" "$(tail_of "$d/compile2.log" 2>/dev/null)"
    fi

    # run the emitted code (gcc and clang builds) and compare with the simulator
    if [ "$compiled" = 1 ]; then
        local cc dir
        for cc in gcc clang; do
            dir=$c1
            [ "$cc" = clang ] && dir=$c2
            # the runner is up to date after strict_make; if that failed on a
            # warning, rebuild without -Werror so bit-exactness is still tested
            if CC=$cc CFLAGS="-O2 -std=c99" sc "$d/run-$cc.log" run "$dir" --input "$x" --output "$d/y-$cc.npy"; then
                if [ -f "$d/q.npy" ] && cmp "$d/q.npy" "$d/y-$cc.npy" >"$d/cmp.log" 2>&1; then
                    ok "$label: emitted C (CC=$cc) == integer simulator, bit-exact ($(basename "$x"))"
                elif [ -f "$d/q.npy" ]; then
                    not_ok "$label: emitted C (CC=$cc) == integer simulator, bit-exact" \
                        "repro: $SHIFTC eval ... --quant-output q.npy; CC=$cc $SHIFTC run DIR --input $x --output y.npy; cmp q.npy y.npy" \
                        "$(cat "$d/cmp.log")" "$(same_rows "$d/q.npy" "$d/y-$cc.npy" 1000000 2>&1)"
                else
                    not_ok "$label: emitted C (CC=$cc) == integer simulator, bit-exact" "no simulator output (eval failed)"
                fi
            else
                not_ok "$label: run (CC=$cc)" "repro: CC=$cc $SHIFTC run $dir --input $x --output y.npy" \
                    "$(tail_of "$d/run-$cc.log")"
            fi
        done
    fi

    # accuracies
    if [ -n "$fa" ] && [ -n "$qa" ]; then
        if within "$qa" "$fa" $TOL_ACC; then
            ok "$label: quant accuracy $qa within $TOL_ACC of float $fa"
        else
            not_ok "$label: quant accuracy $qa within $TOL_ACC of float $fa" \
                "repro: $SHIFTC eval $onnx --calib $calib --data $x --labels $y"
        fi
        if [ -z "$tacc" ]; then
            not_ok "$label: float accuracy close to torch" "no torch figure found"
        elif within "$fa" "$tacc" $TOL_ACC; then
            ok "$label: float accuracy $fa within $TOL_ACC of torch $tacc"
        else
            not_ok "$label: float accuracy $fa within $TOL_ACC of torch $tacc" \
                "repro: $SHIFTC eval $onnx --calib $calib --data $x --labels $y"
        fi
    fi

    # float path: interpreter and emitted float C vs torch logits (first 20 images)
    if [ -n "$ref" ]; then
        if [ -f "$d/f.npy" ]; then
            local msg
            if msg=$(allclose "$d/f.npy" "$ref" $TOL_LOGITS 20 2>&1); then
                ok "$label: float interpreter == torch logits within $TOL_LOGITS (20 images; $msg)"
            else
                not_ok "$label: float interpreter == torch logits within $TOL_LOGITS (20 images)" \
                    "repro: $SHIFTC eval $onnx ... --float-output f.npy; compare f[:20] with $ref" "$msg"
            fi
        fi
        slice "$x" "$d/x20.npy" 20
        if sc "$d/compilef.log" compile "$onnx" --float -o "$cf"; then
            ok "$label: compile --float"
            cp -r "$cf" "$cf-clang"
            strict_make "$label float" "$cf-clang" clang
            strict_make "$label float" "$cf" gcc
            if CC=gcc CFLAGS="-O2 -std=c99" sc "$d/runf.log" run "$cf" --input "$d/x20.npy" --output "$d/yf.npy"; then
                local msg
                if msg=$(allclose "$d/yf.npy" "$ref" $TOL_LOGITS 20 2>&1); then
                    ok "$label: emitted float C == torch logits within $TOL_LOGITS ($msg)"
                else
                    not_ok "$label: emitted float C == torch logits within $TOL_LOGITS" \
                        "repro: $SHIFTC compile $onnx --float -o F; $SHIFTC run F --input x20.npy --output y.npy" "$msg"
                fi
            else
                not_ok "$label: run float build" "repro: $SHIFTC run $cf --input x20.npy --output y.npy" "$(tail_of "$d/runf.log")"
            fi
        else
            not_ok "$label: compile --float" "repro: $SHIFTC compile $onnx --float -o F" "$(tail_of "$d/compilef.log")"
        fi
    fi

    # the emitted code itself under ASan+UBSan (runner built with sanitizers),
    # 50 inputs; fixtures only (sanitized builds of the unrolled code are slow)
    if [ "$compiled" = 1 ] && [ -n "$ref" ] && want san; then
        slice "$x" "$d/x50.npy" 50
        cp -r "$d/pristine" "$d/csan"
        if CC=$SAN_CC CFLAGS="$SAN_CFLAGS" sc "$d/runsan.log" run "$d/csan" --input "$d/x50.npy" --output "$d/ysan.npy" &&
            ! crashed 0 "$d/runsan.log"; then
            local msg
            if ! nm "$d/csan/runner" 2>/dev/null | grep -E '__asan_init|__ubsan_handle' >/dev/null; then
                not_ok "$label: emitted C under sanitizers" \
                    "the runner was built without -fsanitize: the emitted Makefile ignores CC/CFLAGS from the environment"
            elif [ -f "$d/q.npy" ] && msg=$(same_rows "$d/q.npy" "$d/ysan.npy" 50 2>&1); then
                ok "$label: emitted C is ASan/UBSan-clean and bit-exact (50 inputs, $SAN_CC -fsanitize=address,undefined)"
            else
                not_ok "$label: emitted C under sanitizers bit-exact with the simulator (50 inputs)" "${msg:-no q.npy}"
            fi
        else
            not_ok "$label: emitted C runs ASan/UBSan-clean (50 inputs)" \
                "repro: CC=$SAN_CC CFLAGS='$SAN_CFLAGS' $SHIFTC run DIR --input x50.npy --output y.npy" \
                "$(grep -m 5 -E 'runtime error|Sanitizer|SUMMARY' "$d/runsan.log")" "$(tail_of "$d/runsan.log" 8)"
        fi
    fi
    echo "# $label took $(elapsed "$t0") s"
}

# --- 1-4: fixtures -----------------------------------------------------------
if want fixtures; then
    T=$(now)
    echo "# == fixtures (mlp, cnn)"
    for m in mlp cnn; do
        model_check "$m" "$FIX/$m.onnx" "$FIX/calib.npy" "$FIX/test_x.npy" "$FIX/test_y.npy" \
            "$(torch_acc_from_readme "$m")" "$FIX/${m}_ref_logits.npy"
    done
    echo "# fixtures took $(elapsed "$T") s"
fi

# --- 5: unseen models ----------------------------------------------------------
if want unseen; then
    T=$(now)
    echo "# == unseen models (tools/make_unseen.py)"
    # The models are deterministic: cache them in build/ (gitignored) and
    # regenerate only when the generator changed.  UNSEEN_DIR overrides.
    U=${UNSEEN_DIR:-$ROOT/build/unseen}
    if [ ! -f "$U/manifest.txt" ] || [ "$ROOT/tools/make_unseen.py" -nt "$U/manifest.txt" ] ||
        [ "$ROOT/tools/fmnist_common.py" -nt "$U/manifest.txt" ]; then
        echo "# generating the unseen models into $U (tools/make_unseen.py)"
        rm -rf "$U.tmp"
        if mkdir -p "$(dirname "$U")" && $PY tools/make_unseen.py "$U.tmp" >"$TMP/make_unseen.log" 2>&1 &&
            rm -rf "$U" && mv "$U.tmp" "$U"; then
            ok "tools/make_unseen.py generates the unseen models ($(elapsed "$T") s)"
        else
            not_ok "tools/make_unseen.py generates the unseen models" "$(tail_of "$TMP/make_unseen.log")"
        fi
    else
        echo "# using the cached unseen models in $U"
    fi
    if [ -f "$U/manifest.txt" ]; then
        while read -r file acc; do
            [ -n "$file" ] || continue
            model_check "unseen/${file%.onnx}" "$U/$file" "$U/calib.npy" "$U/test_x.npy" "$U/test_y.npy" "$acc"
        done <"$U/manifest.txt"
    fi
    echo "# unseen took $(elapsed "$T") s"
fi

# --- 6: error handling ----------------------------------------------------------

# err_case BIN TAG DESC WANT_RC CMD...   (needles in the array NEED)
# The command must exit WANT_RC, not crash, and print every needle of NEED
# (fixed strings; "re:PATTERN" is a case-insensitive ERE).
err_case() {
    local bin=$1 tag=$2 desc=$3 want_rc=$4
    shift 4
    local log=$TMP/err-$RANDOM$RANDOM.log rc=0 problems=() n
    "$bin" "$@" >"$log" 2>&1 || rc=$?
    if crashed "$rc" "$log"; then
        problems+=("crashed or sanitizer report (exit $rc)")
    fi
    [ "$rc" -eq "$want_rc" ] || problems+=("exit status $rc, expected $want_rc")
    for n in "${NEED[@]}"; do
        case $n in
        re:*) grep -qiE -- "${n#re:}" "$log" || problems+=("message does not match /${n#re:}/i") ;;
        *) grep -qF -- "$n" "$log" || problems+=("message does not contain '$n'") ;;
        esac
    done
    if [ ${#problems[@]} -eq 0 ]; then
        ok "errors$tag: $desc (exit $rc)"
    else
        not_ok "errors$tag: $desc" "repro: $(basename "$bin") $*" "${problems[@]}" "output: $(head -c 1500 "$log")"
    fi
}

run_error_cases() {
    local bin=$1 tag=$2 E=$TMP/errors
    local out=$TMP/errout$RANDOM
    local M=$FIX/mlp.onnx C=$FIX/calib.npy X=$FIX/test_x.npy Y=$FIX/test_y.npy

    NEED=("$E/truncated.onnx")
    err_case "$bin" "$tag" "compile: truncated ONNX file" 1 compile "$E/truncated.onnx" --calib "$C" -o "$out"
    err_case "$bin" "$tag" "eval: truncated ONNX file" 1 eval "$E/truncated.onnx" --calib "$C" --data "$X" --labels "$Y"
    NEED=("$ERR/text.onnx")
    err_case "$bin" "$tag" "compile: text file named .onnx" 1 compile "$ERR/text.onnx" --calib "$C" -o "$out"
    NEED=("$ERR/empty.onnx")
    err_case "$bin" "$tag" "compile: empty .onnx file" 1 compile "$ERR/empty.onnx" --calib "$C" -o "$out"
    err_case "$bin" "$tag" "compile --float: empty .onnx file" 1 compile "$ERR/empty.onnx" --float -o "$out"
    NEED=("$E/unsupported_op.onnx" "my_node" "Mul" "re:not supported|unsupported")
    err_case "$bin" "$tag" "compile: unsupported op (Mul 'my_node') named with node and op" 1 \
        compile "$E/unsupported_op.onnx" --calib "$E/calib4.npy" -o "$out"
    err_case "$bin" "$tag" "compile --float: unsupported op (Mul 'my_node')" 1 \
        compile "$E/unsupported_op.onnx" --float -o "$out"
    err_case "$bin" "$tag" "eval: unsupported op (Mul 'my_node')" 1 \
        eval "$E/unsupported_op.onnx" --calib "$E/calib4.npy" --data "$E/calib4.npy" --labels "$E/labels4.npy"
    local pair
    for pair in undefined_input:dangling_relu bad_gemm_shape:bad_gemm big_kernel:big_conv cycle:cyc_add \
        bad_reshape:bad_reshape missing_weight:conv_no_weight; do
        NEED=("$E/${pair%%:*}.onnx" "${pair#*:}")
        err_case "$bin" "$tag" "compile --float: malformed graph ${pair%%:*}.onnx (node ${pair#*:})" 1 \
            compile "$E/${pair%%:*}.onnx" --float -o "$out"
    done
    NEED=("nosuch")
    err_case "$bin" "$tag" "compile: --bind of a name that is not a graph input" 1 \
        compile "$M" --float -o "$out" --bind "nosuch=$C"
    NEED=("$E/calib_shape.npy")
    err_case "$bin" "$tag" "compile: calibration .npy with the wrong shape" 1 compile "$M" --calib "$E/calib_shape.npy" -o "$out"
    err_case "$bin" "$tag" "eval: data .npy with the wrong shape" 1 eval "$M" --calib "$C" --data "$E/calib_shape.npy" --labels "$Y"
    NEED=("$E/calib_f64.npy")
    err_case "$bin" "$tag" "compile: calibration .npy float64 instead of float32" 1 compile "$M" --calib "$E/calib_f64.npy" -o "$out"
    NEED=("$ERR/bad_header.npy")
    err_case "$bin" "$tag" "compile: .npy with a cut-off header" 1 compile "$M" --calib "$ERR/bad_header.npy" -o "$out"
    NEED=("$ERR/short_data.npy")
    err_case "$bin" "$tag" "compile: .npy shorter than its header says" 1 compile "$M" --calib "$ERR/short_data.npy" -o "$out"
    NEED=("$ERR/huge_shape.npy")
    err_case "$bin" "$tag" "compile: .npy whose shape overflows" 1 compile "$M" --calib "$ERR/huge_shape.npy" -o "$out"
    NEED=("$E/labels_599.npy")
    err_case "$bin" "$tag" "eval: labels file with the wrong count" 1 eval "$M" --calib "$C" --data "$X" --labels "$E/labels_599.npy"
    NEED=("$E/no_such_model.onnx")
    err_case "$bin" "$tag" "compile: missing model file" 1 compile "$E/no_such_model.onnx" --calib "$C" -o "$out"
    err_case "$bin" "$tag" "eval: missing model file" 1 eval "$E/no_such_model.onnx" --calib "$C" --data "$X" --labels "$Y"
    NEED=("$E/no_such_calib.npy")
    err_case "$bin" "$tag" "compile: missing calibration file" 1 compile "$M" --calib "$E/no_such_calib.npy" -o "$out"
    NEED=("$E/no_such_labels.npy")
    err_case "$bin" "$tag" "eval: missing labels file" 1 eval "$M" --calib "$C" --data "$X" --labels "$E/no_such_labels.npy"
    NEED=("$E/no_such_dir")
    err_case "$bin" "$tag" "run: missing compiled directory" 1 run "$E/no_such_dir" --input "$X" --output "$out.npy"
    if [ -f "$E/mlpdir/mlp.meta" ] || ls "$E"/mlpdir/*.meta >/dev/null 2>&1; then
        NEED=("$E/no_such_input.npy")
        err_case "$bin" "$tag" "run: missing input file" 1 run "$E/mlpdir" --input "$E/no_such_input.npy" --output "$out.npy"
        NEED=("$E/calib_shape.npy")
        err_case "$bin" "$tag" "run: input with the wrong shape" 1 run "$E/mlpdir" --input "$E/calib_shape.npy" --output "$out.npy"
    else
        not_ok "errors$tag: run error cases need a compiled mlp" "compile of tests/fixtures/mlp.onnx failed"
    fi
    NEED=("frobnicate")
    err_case "$bin" "$tag" "compile: unknown option" 2 compile "$M" --calib "$C" -o "$out" --frobnicate
    err_case "$bin" "$tag" "eval: unknown option" 2 eval "$M" --calib "$C" --data "$X" --labels "$Y" --frobnicate
    err_case "$bin" "$tag" "run: unknown option" 2 run "$E/mlpdir" --input "$X" --output "$out.npy" --frobnicate
    err_case "$bin" "$tag" "unknown command" 2 frobnicate
    NEED=()
    err_case "$bin" "$tag" "no arguments" 2
    err_case "$bin" "$tag" "compile: -o missing" 2 compile "$M" --calib "$C"
    err_case "$bin" "$tag" "compile: --bind without '='" 2 compile "$M" --float -o "$out" --bind input
    err_case "$bin" "$tag" "eval: --labels missing" 2 eval "$M" --calib "$C" --data "$X"
    NEED=("re:usage")
    err_case "$bin" "$tag" "shiftc --help" 0 --help
    local c
    for c in compile eval run; do
        NEED=("re:usage" "$c")
        err_case "$bin" "$tag" "$c --help" 0 "$c" --help
    done
    rm -rf "$out" "$out.npy"
}

if want errors; then
    T=$(now)
    echo "# == error handling"
    E=$TMP/errors
    mkdir -p "$E"
    head -c 700 "$FIX/cnn.onnx" >"$E/truncated.onnx"
    $PY - "$E" <<'PY'
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
e = sys.argv[1]
# x[1,4] -> Relu -> Mul(w) 'my_node' -> y : Mul is not a supported op
w = numpy_helper.from_array(np.full((1, 4), 2.0, np.float32), "w")
g = helper.make_graph(
    [helper.make_node("Relu", ["x"], ["r"], name="relu0"),
     helper.make_node("Mul", ["r", "w"], ["y"], name="my_node")],
    "unsupported", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], initializer=[w])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
onnx.checker.check_model(m)
onnx.save(m, e + "/unsupported_op.onnx")

# structurally broken graphs (not run through the checker): each must be
# rejected with exit 1 and a message naming the node
def save(nodes, name, inits=(), ins=(("x", [1, 4]),)):
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in ins],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=list(inits))
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), e + "/" + name + ".onnx")
save([helper.make_node("Relu", ["nope"], ["y"], name="dangling_relu")], "undefined_input")
save([helper.make_node("Gemm", ["x", "w"], ["y"], name="bad_gemm", transB=1)], "bad_gemm_shape",
     [numpy_helper.from_array(np.ones((3, 5), np.float32), "w")])
save([helper.make_node("Conv", ["x", "w"], ["y"], name="big_conv")], "big_kernel",
     [numpy_helper.from_array(np.ones((2, 1, 9, 9), np.float32), "w")], ins=(("x", [1, 1, 4, 4]),))
save([helper.make_node("Relu", ["x"], ["a"], name="r1"), helper.make_node("Add", ["a", "y"], ["y"], name="cyc_add")],
     "cycle")
save([helper.make_node("Reshape", ["x", "s"], ["y"], name="bad_reshape")], "bad_reshape",
     [numpy_helper.from_array(np.array([3, 3], np.int64), "s")])
save([helper.make_node("Conv", ["x", "w"], ["y"], name="conv_no_weight")], "missing_weight", ins=(("x", [1, 1, 4, 4]),))
np.save(e + "/calib4.npy", np.random.RandomState(0).rand(8, 1, 4).astype(np.float32))
np.save(e + "/labels4.npy", np.zeros(8, np.int64))
np.save(e + "/calib_shape.npy", np.zeros((5, 3, 28, 28), np.float32))
np.save(e + "/calib_f64.npy", np.zeros((4, 1, 28, 28), np.float64))
np.save(e + "/labels_599.npy", np.zeros(599, np.int64))
PY
    sc "$E/mlpdir.log" compile "$FIX/mlp.onnx" --calib "$FIX/calib.npy" -o "$E/mlpdir" || true
    run_error_cases "$SHIFTC" "" 
    if want san; then
        if [ -x "$SHIFTC_SAN" ]; then
            run_error_cases "$SHIFTC_SAN" " [san]"
        else
            skip "errors [san]: sanitizer build" "$SHIFTC_SAN not built (make SAN=1 build-san/shiftc)"
        fi
    fi
    echo "# errors took $(elapsed "$T") s"
fi

# --- sanitizer build of the compiler itself on the real pipeline -----------------
if want san; then
    T=$(now)
    echo "# == sanitizer build of shiftc (ASan+UBSan) on the fixtures"
    if [ -x "$SHIFTC_SAN" ]; then
        S=$TMP/san
        mkdir -p "$S"
        slice "$FIX/test_x.npy" "$S/x50.npy" 50
        slice "$FIX/test_y.npy" "$S/y50.npy" 50
        for m in mlp cnn; do
            log=$S/$m.log
            rc=0
            {
                "$SHIFTC_SAN" eval "$FIX/$m.onnx" --calib "$FIX/calib.npy" --data "$S/x50.npy" --labels "$S/y50.npy" \
                    --quant-output "$S/$m-q.npy" --float-output "$S/$m-f.npy" &&
                    "$SHIFTC_SAN" compile "$FIX/$m.onnx" --calib "$FIX/calib.npy" -o "$S/$m" &&
                    cp -r "$S/$m" "$S/$m-pristine" &&
                    "$SHIFTC_SAN" compile "$FIX/$m.onnx" --float -o "$S/$m-float" &&
                    "$SHIFTC_SAN" run "$S/$m" --input "$S/x50.npy" --output "$S/$m-y.npy"
            } >"$log" 2>&1 || rc=$?
            if [ "$rc" -ne 0 ] || crashed "$rc" "$log"; then
                not_ok "san: eval/compile/run of $m under ASan+UBSan" "exit $rc" \
                    "$(grep -m 5 -E 'runtime error|Sanitizer|SUMMARY' "$log")" "$(tail_of "$log" 10)"
                continue
            fi
            ok "san: eval/compile/run of $m under ASan+UBSan"
            if [ -f "$TMP/$m/q.npy" ]; then
                if msg=$(same_rows "$S/$m-q.npy" "$TMP/$m/q.npy" 50 2>&1); then
                    ok "san: $m simulator outputs identical to the normal build"
                else
                    not_ok "san: $m simulator outputs identical to the normal build" "$msg"
                fi
            fi
            if [ -d "$TMP/$m/pristine" ]; then
                if diff -r "$S/$m-pristine" "$TMP/$m/pristine" >"$S/$m.diff" 2>&1; then
                    ok "san: $m emitted files identical to the normal build's"
                else
                    not_ok "san: $m emitted files identical to the normal build's" "$(head -n 10 "$S/$m.diff")"
                fi
            fi
        done
    else
        skip "san: sanitizer build of shiftc" "$SHIFTC_SAN not built (make SAN=1 build-san/shiftc)"
    fi
    echo "# san took $(elapsed "$T") s"
fi

summary
