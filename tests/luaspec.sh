#!/usr/bin/env bash
# The Lua model spec (docs/luaspec.md, compiler/luaspec.c).
#
#   - examples/models/mlp.lua and cnn.lua are the networks of
#     tests/fixtures/{mlp,cnn}.onnx (weights exported by
#     tools/make_lua_models.py): eval gives the same float and quantized
#     accuracy and byte-identical --quant-output and --float-output files;
#   - cnn.lua and residual.lua (a residual network written only in Lua, inline
#     weights): compile + run on the host is bit-exact with eval --quant-output;
#   - compiling the same .lua twice gives identical folders;
#   - dense layout "kn" with transposed weights is the same model as "nk";
#   - every tests/bad/luaspec/NAME.lua exits 1 with the message in NAME.expect
#     (a substring) and never crashes; again under build-san/shiftc
#     (make SAN=1 build-san/shiftc) when it exists, with no sanitizer report.
# Prints "ok - ..." / "not ok - ..." per check; the last line is
# "luaspec: N passed, N failed".
#
# Environment: SHIFTC (default build/shiftc), SHIFTC_SAN (default
# build-san/shiftc), KEEP=1 keeps the temporary directory.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
. tests/lib.sh

SHIFTC=${SHIFTC:-$ROOT/build/shiftc}
SHIFTC_SAN=${SHIFTC_SAN:-$ROOT/build-san/shiftc}
FIX=tests/fixtures
EX=examples/models
BAD=tests/bad/luaspec

TMP=$(mktemp -d "${TMPDIR:-/tmp}/shiftc-luaspec-XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "# keeping $TMP"
else
    trap 'rm -rf "$TMP"' EXIT
fi
export TMPDIR=$TMP
T0=$(now)

finish() {
    summary >/dev/null
    echo "# luaspec took $(elapsed "$T0") s"
    echo "luaspec: $TESTS_PASSED passed, $TESTS_FAILED failed"
    [ "$TESTS_FAILED" -eq 0 ]
    exit $?
}

if [ ! -x "$SHIFTC" ]; then
    not_ok "shiftc binary exists ($SHIFTC)" "build it with make first"
    finish
fi

EVAL_ARGS=(--calib "$FIX/calib.npy" --data "$FIX/test_x.npy" --labels "$FIX/test_y.npy" --json)

# The JSON members that must agree between two models (everything but "model").
accuracy_of() { sed -E 's/"model": "[^"]*", //' "$1"; }

# ---- the Lua versions of the ONNX fixtures --------------------------------

for m in mlp cnn; do
    ok_eval=1
    for src in onnx lua; do
        model=$FIX/$m.onnx
        [ $src = lua ] && model=$EX/$m.lua
        if ! "$SHIFTC" eval "$model" "${EVAL_ARGS[@]}" --quant-output "$TMP/$m-$src-q.npy" \
            --float-output "$TMP/$m-$src-f.npy" >"$TMP/$m-$src.json" 2>"$TMP/$m-$src.log"; then
            not_ok "$m: eval $model" "$(tail_of "$TMP/$m-$src.log")"
            ok_eval=0
        fi
    done
    [ $ok_eval = 1 ] || continue
    if [ "$(accuracy_of "$TMP/$m-lua.json")" = "$(accuracy_of "$TMP/$m-onnx.json")" ]; then
        ok "$m.lua: eval reports what $m.onnx does ($(grep -o '"quant_accuracy": [0-9.]*' "$TMP/$m-lua.json"))"
    else
        not_ok "$m.lua: eval reports what $m.onnx does" "lua:  $(cat "$TMP/$m-lua.json")" \
            "onnx: $(cat "$TMP/$m-onnx.json")"
    fi
    for k in q f; do
        what=$([ $k = q ] && echo "quantized (--quant-output)" || echo "float (--float-output)")
        if cmp -s "$TMP/$m-lua-$k.npy" "$TMP/$m-onnx-$k.npy"; then
            ok "$m.lua: $what outputs byte-identical to $m.onnx's"
        else
            not_ok "$m.lua: $what outputs byte-identical to $m.onnx's"
        fi
    done
done

# the committed weights are what tools/make_lua_models.py exports from the fixtures
if "$PY" tools/make_lua_models.py "$FIX" "$TMP/export" >"$TMP/export.log" 2>&1 &&
    diff -r "$TMP/export/mlp" "$EX/mlp" >/dev/null && diff -r "$TMP/export/cnn" "$EX/cnn" >/dev/null; then
    ok "examples/models/{mlp,cnn}/*.npy are what tools/make_lua_models.py exports"
else
    not_ok "examples/models/{mlp,cnn}/*.npy are what tools/make_lua_models.py exports" \
        "$(tail_of "$TMP/export.log")"
fi

# ---- compile + run, bit-exact with the simulator ---------------------------

for m in cnn residual; do
    model=$EX/$m.lua
    if ! "$SHIFTC" eval "$model" "${EVAL_ARGS[@]}" --quant-output "$TMP/$m-q.npy" \
        >"$TMP/$m-eval.json" 2>"$TMP/$m-eval.log"; then
        not_ok "$m.lua: eval" "$(tail_of "$TMP/$m-eval.log")"
        continue
    fi
    if ! "$SHIFTC" compile "$model" --calib "$FIX/calib.npy" -o "$TMP/$m" >"$TMP/$m-compile.log" 2>&1; then
        not_ok "$m.lua: compile" "$(tail_of "$TMP/$m-compile.log")"
        continue
    fi
    if ! "$SHIFTC" run "$TMP/$m" --input "$FIX/test_x.npy" --output "$TMP/$m-run.npy" \
        >"$TMP/$m-run.log" 2>&1; then
        not_ok "$m.lua: run" "$(tail_of "$TMP/$m-run.log")"
        continue
    fi
    if cmp -s "$TMP/$m-q.npy" "$TMP/$m-run.npy"; then
        ok "$m.lua: compile + run on 600 images bit-exact with eval --quant-output"
    else
        not_ok "$m.lua: compile + run on 600 images bit-exact with eval --quant-output" \
            "$(cmp "$TMP/$m-q.npy" "$TMP/$m-run.npy" 2>&1)"
    fi
done
if [ -d "$TMP/residual" ] && grep -q '"float_accuracy"' "$TMP/residual-eval.json" &&
    grep -q 'residual_run' "$TMP/residual/residual.h" 2>/dev/null; then
    ok "residual.lua: the model name from the file ('residual') names the emitted API"
else
    not_ok "residual.lua: the model name from the file ('residual') names the emitted API" \
        "$(ls "$TMP/residual" 2>&1 | head -n 5)"
fi

# ---- determinism -----------------------------------------------------------

if "$SHIFTC" compile "$EX/residual.lua" --calib "$FIX/calib.npy" -o "$TMP/det1" >/dev/null 2>&1 &&
    "$SHIFTC" compile "$EX/residual.lua" --calib "$FIX/calib.npy" -o "$TMP/det2" >/dev/null 2>&1 &&
    diff -r "$TMP/det1" "$TMP/det2" >"$TMP/det.diff" 2>&1; then
    ok "residual.lua: two compiles give identical folders"
else
    not_ok "residual.lua: two compiles give identical folders" "$(head -n 10 "$TMP/det.diff")"
fi

# ---- dense layouts, and the layer list as a program -------------------------

mkdir -p "$TMP/layout"
cat >"$TMP/layout/nk.lua" <<'EOF'
local w = {}
for n = 1, 10 do
  w[n] = {}
  for k = 1, 16 do w[n][k] = math.sin(n * 16 + k) end
end
return model {
  input = { name = "x", shape = {1, 1, 28, 28} },
  layers = {
    avgpool { kernel = 7 },                      -- [1, 1, 4, 4]
    flatten {},
    dense { name = "y", units = 10, weights = w, bias = tensor { shape = {10}, fill = 0.5 },
            activation = "tanh" },
  },
}
EOF
cat >"$TMP/layout/kn.lua" <<'EOF'
local w = {}
for k = 1, 16 do
  w[k] = {}
  for n = 1, 10 do w[k][n] = math.sin(n * 16 + k) end
end
return model {
  input = { name = "x", shape = {1, 1, 28, 28} },
  layers = {
    avgpool { kernel = {7, 7}, stride = 7 },
    flatten { axis = 1 },
    dense { name = "y", units = 10, layout = "kn", weights = w,
            bias = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5} },
    tanh {},
  },
  output = "tanh_4",
}
EOF
if "$SHIFTC" eval "$TMP/layout/nk.lua" "${EVAL_ARGS[@]}" --quant-output "$TMP/layout/nk.npy" \
    --float-output "$TMP/layout/nkf.npy" >"$TMP/layout/nk.log" 2>&1 &&
    "$SHIFTC" eval "$TMP/layout/kn.lua" "${EVAL_ARGS[@]}" --quant-output "$TMP/layout/kn.npy" \
        --float-output "$TMP/layout/knf.npy" >"$TMP/layout/kn.log" 2>&1 &&
    cmp -s "$TMP/layout/nk.npy" "$TMP/layout/kn.npy" && cmp -s "$TMP/layout/nkf.npy" "$TMP/layout/knf.npy"; then
    ok "dense layout \"kn\" with transposed weights = \"nk\"; activation field = activation layer"
else
    not_ok "dense layout \"kn\" with transposed weights = \"nk\"; activation field = activation layer" \
        "$(tail_of "$TMP/layout/nk.log" 5)" "$(tail_of "$TMP/layout/kn.log" 5)"
fi

# --bind is for ONNX inputs
"$SHIFTC" compile "$EX/mlp.lua" --calib "$FIX/calib.npy" -o "$TMP/bind" --bind input="$FIX/calib.npy" \
    >"$TMP/bind.log" 2>&1
rc=$?
if [ $rc -ne 0 ] && ! crashed $rc "$TMP/bind.log" && grep -q 'mlp.lua: --bind' "$TMP/bind.log"; then
    ok "compile model.lua --bind: an error naming the file"
else
    not_ok "compile model.lua --bind: an error naming the file" "exit $rc" "$(tail_of "$TMP/bind.log")"
fi

# ---- malformed specs -------------------------------------------------------

# bad_cases BINARY LABEL: each file exits 1 with its expected message.
bad_cases() {
    local bin=$1 label=$2 f name expect out rc total=0 good=0 failures=()
    for f in "$BAD"/*.lua; do
        name=$(basename "$f" .lua)
        expect=$(cat "$BAD/$name.expect")
        out="$TMP/bad-$label-$name.log"
        timeout 120 "$bin" eval "$f" --calib "$FIX/calib.npy" --data "$FIX/test_x.npy" \
            --labels "$FIX/test_y.npy" >"$out" 2>&1
        rc=$?
        total=$((total + 1))
        if crashed $rc "$out"; then
            not_ok "$label: $name.lua: no crash" "exit $rc" "$(tail_of "$out")"
        elif [ $rc -ne 1 ]; then
            not_ok "$label: $name.lua: exit 1" "exit $rc" "$(tail_of "$out")"
        elif ! grep -qF -- "$expect" "$out"; then
            not_ok "$label: $name.lua: message contains: $expect" "$(tail_of "$out")"
        elif ! grep -qF -- "$f" "$out"; then
            not_ok "$label: $name.lua: message names the file" "$(tail_of "$out")"
        else
            [ "$label" = bad ] && ok "bad: $name.lua: exit 1, \"$expect\""
            good=$((good + 1))
        fi
    done
    [ "$label" != bad ] && [ $good -eq $total ] &&
        ok "$label: all $total malformed specs exit 1 with their message, no sanitizer report"
}
bad_cases "$SHIFTC" bad

if [ -x "$SHIFTC_SAN" ]; then
    bad_cases "$SHIFTC_SAN" san
    if "$SHIFTC_SAN" eval "$EX/residual.lua" "${EVAL_ARGS[@]}" --quant-output "$TMP/san-q.npy" \
        >"$TMP/san.log" 2>&1 && ! crashed 0 "$TMP/san.log" && cmp -s "$TMP/san-q.npy" "$TMP/residual-q.npy"; then
        ok "san: residual.lua eval clean and identical to the normal build"
    else
        not_ok "san: residual.lua eval clean and identical to the normal build" "$(tail_of "$TMP/san.log")"
    fi
    if "$SHIFTC_SAN" eval "$EX/cnn.lua" "${EVAL_ARGS[@]}" >"$TMP/san-cnn.log" 2>&1 &&
        ! crashed 0 "$TMP/san-cnn.log"; then
        ok "san: cnn.lua eval clean (npy weights, batchnorm)"
    else
        not_ok "san: cnn.lua eval clean (npy weights, batchnorm)" "$(tail_of "$TMP/san-cnn.log")"
    fi
else
    skip "san: malformed specs under ASan/UBSan" "$SHIFTC_SAN not built (make SAN=1 build-san/shiftc)"
fi

finish
