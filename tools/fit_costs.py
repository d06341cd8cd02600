#!/usr/bin/python3
"""Fit (and check) the per-target cost model of backends/cost.h.

    /usr/bin/python3 tools/fit_costs.py [--targets T,...] [--models M,...]
        [--formats F,...] [--out DIR] [--jobs N] [--images N] [--md FILE]
    /usr/bin/python3 tools/fit_costs.py --check [--tolerance 0.2] ...

Fit mode compiles every model in every weight format for every target
(`shiftc compile --target T --weights F`, which also builds the library and
measures it), reads per layer the number of shift-add terms (the comment
"the whole layer: N shift-add terms" of NAME_lK.c), of input loads (one
statement "v = x[OFF];" per input of each register block) and of shifted
terms (" * 2^k"), the
geometry (the node
comments of NAME.c: "node K: Conv ... [in] -> [out]") and the flash (the
target's `size` of NAME_lK*.o; NAME.o is the base), runs the model on a few
images (`shiftc run --json`) for the instructions per inference where the
target counts them (on x86-64 also per layer: callgrind's inclusive count of
each NAME_lK function, fitted with the totals unless --no-layer-fit), and fits by
least squares, per target:

  per layer  flash = fld*loads + fpt*terms + fps*shifted + fpo*channels + fpl
  per model  flash_base + fpn*nodes              (NAME.o)
  per model  instructions = sum over layers of
                 pixels*(ild*loads + ipt*terms + ips*shifted + ipo*channels + ipp)
                 + ipl
               + ipe*elements                    (whole NAME_run)

where pixels/channels are those of cost.c (Conv: N*OH*OW and OC; Dense:
rows and N; fpo is flash_per_output_dense for Dense) and nodes/elements
count the non-weighted nodes that are not views and their output elements.
Flash is fitted per layer, so the model of one layer is checked, not just
totals.  The fit minimises relative error
(rows weighted by 1/measured) with nonnegative coefficients.  Targets
without an instruction counter (aarch64, riscv64 under qemu-user) take
their instruction coefficients from the nearest measured ISA (INSTR_FROM).

It also fits the older forms (FORMS: one coefficient per term; no Dense
per-output split) on the same data for comparison.  It prints the
coefficients (as C initialisers for backends/<t>/target.c) and, per target, model and format, predicted vs measured flash and
instructions with the relative error; --md writes that table as markdown.

--check compiles and runs a few (target, model, format) cases, predicts
their totals from the coefficients committed in backends/*/target.c (parsed
from the C), and prints one line per check: "ok|not ok DESC (detail)";
exit status 1 if any check fails.  tests/costs.sh uses it.

Measurements are cached in OUT/<target>/<model>-<format>/measure.json
(default OUT = build/costs); --fresh ignores the cache.
"""
import argparse
import concurrent.futures as cf
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TARGETS = ["x86_64", "aarch64", "riscv64", "cortex-m4", "rv32imc", "rv32i", "rv32e"]
COUNTED = {"x86_64", "cortex-m4", "rv32imc", "rv32i", "rv32e", "host"}
# qemu-user targets count nothing: their instruction coefficients come from
# the nearest measured ISA (AArch64 has the shifted add of Cortex-M4; RV64GC
# the slli+add of RV32IMC).
INSTR_FROM = {"aarch64": "cortex-m4", "riscv64": "rv32imc"}
SIZE_TOOL = {
    "host": "size",
    "x86_64": "x86_64-linux-gnu-size",
    "aarch64": "aarch64-linux-gnu-size",
    "riscv64": "riscv64-linux-gnu-size",
    "cortex-m4": "arm-none-eabi-size",
    "rv32imc": "riscv64-unknown-elf-size",
    "rv32i": "riscv64-unknown-elf-size",
    "rv32e": "riscv64-unknown-elf-size",
}
# where each target's CostModel lives, and its C name
SOURCES = {
    "x86_64": ("backends/x86_64/target.c", "cost_x86_64"),
    "aarch64": ("backends/aarch64/target.c", "cost_aarch64"),
    "riscv64": ("backends/riscv64/target.c", "cost_riscv64"),
    "cortex-m4": ("backends/cortex_m4/target.c", "cost_cortex_m4"),
    "rv32imc": ("backends/rv32/target.c", "cost_rv32imc"),
    "rv32i": ("backends/rv32/target.c", "cost_rv32i"),
    "rv32e": ("backends/rv32/target.c", "cost_rv32e"),
}
FIELDS = ["flash_per_load", "flash_per_term", "flash_per_shift", "flash_per_output", "flash_per_output_dense",
          "flash_per_layer",
          "instr_per_load", "instr_per_term", "instr_per_shift", "instr_per_output",
          "instr_per_pixel", "instr_per_layer",
          "flash_base", "flash_per_node", "instr_per_element"]
# the forms of the layer model: "terms" prices every term alike (the form
# before loads and shifts were priced apart, fitted for comparison);
# "extended" adds a cost per input load (per register block) and per shifted
# term; "full" (backends/cost.h) also gives Dense its own per-output flash.
# SPLIT_INSTR=1 in the environment also fits a Dense per-output instruction
# cost (instr_per_output_dense, which cost.h does not have: on the totals it
# made the leave-one-model-out errors worse, x86-64 28.6% -> 35.9%,
# Cortex-M4 12.5% -> 15.5%)
FORMS = ["terms", "extended", "full"]
SPLIT_INSTR = os.environ.get("SPLIT_INSTR", "0") == "1"
FORMATS = ["int8", "int4", "int2", "ternary", "pot", "nhot2"]
WEIGHTED = {"Conv", "Dense"}


def models_available(root):
    fx = os.path.join(root, "tests", "fixtures")
    ms = {
        "cnn": (os.path.join(fx, "cnn.onnx"), os.path.join(fx, "calib.npy"), os.path.join(fx, "test_x.npy")),
        "mlp": (os.path.join(fx, "mlp.onnx"), os.path.join(fx, "calib.npy"), os.path.join(fx, "test_x.npy")),
    }
    un = os.path.join(root, "build", "unseen")
    if os.path.exists(os.path.join(un, "calib.npy")):
        for p in sorted(glob.glob(os.path.join(un, "*.onnx"))):
            name = os.path.splitext(os.path.basename(p))[0]
            ms[name] = (p, os.path.join(un, "calib.npy"), os.path.join(un, "test_x.npy"))
    return ms


# ---------------------------------------------------------------- measuring

def run(cmd, timeout=1800):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s" % (" ".join(cmd), p.returncode, (p.stderr or p.stdout)[-2000:]))
    return p.stdout


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON in output:\n" + text[-1000:])


def size_of(tool, objs):
    """text + data of each object (Berkeley format), as toolchain.c measures."""
    out = run([tool] + objs)
    res = {}
    for line in out.splitlines()[1:]:
        f = line.split()
        if len(f) >= 6:
            res[os.path.basename(f[5])] = int(f[0]) + int(f[1])
    return res


PAD = re.compile(r"shiftc_pad(?:16)?_q\([^,]+, [^,]+, (\d+), (\d+), (\d+), (\d+), (\d+), (\d+), (\d+)\)")
DIMS = re.compile(r"\[([0-9, ]*)\]")
NODE = re.compile(r'/\* node (\d+): (\w+) "[^"]*" (.*) -> (.*) \*/')


def parse_dims(text):
    m = DIMS.search(text)
    if not m or not m.group(1).strip():
        return []
    return [int(v) for v in m.group(1).split(",")]


def geometry(op, out):
    """pixels and channels as cost.c computes them"""
    if op == "Conv":
        ch = out[1] if len(out) > 1 else 1
        px = 1
        for d, v in enumerate(out):
            if d != 1:
                px *= v
    else:
        ch = out[-1] if out else 1
        px = int(np.prod(out[:-1])) if len(out) > 1 else 1
    return max(px, 1), max(ch, 1)


ACC_UPDATE = re.compile(r"\ba(\d+) = a\1 ([^;]*);")
LOAD = re.compile(r"\bv = \w+\[")


def code_stats(d, name, k):
    """input loads ("v = x[OFF];", once per input of each register block)
    and terms with a shift (" * 2^k", in the accumulator updates
    "aR = aR ...;") of layer k, from its emitted files"""
    loads = shifted = 0
    for p in glob.glob(os.path.join(d, "%s_l%d.c" % (name, k))) + glob.glob(os.path.join(d, "%s_l%d_*.c" % (name, k))):
        for line in open(p):
            loads += len(LOAD.findall(line))
            for m in ACC_UPDATE.finditer(line):
                shifted += m.group(2).count(" * ")
    return loads, shifted


def parse_emitted(d):
    """layers and base features of an emitted folder"""
    meta = open(os.path.join(d, [f for f in os.listdir(d) if f.endswith(".meta")][0])).read()
    name = re.search(r"^name (\S+)", meta, re.M).group(1)
    src = open(os.path.join(d, name + ".c")).read().splitlines()
    layers, nodes, elements = [], 0, 0
    for i, line in enumerate(src):
        m = NODE.search(line)
        if not m:
            continue
        k, op = int(m.group(1)), m.group(2)
        out = parse_dims(m.group(4))
        view = i + 1 < len(src) and "a view" in src[i + 1]
        if op in WEIGHTED:
            px, ch = geometry(op, out)
            head = open(os.path.join(d, "%s_l%d.c" % (name, k))).read()
            terms = int(re.search(r"the whole layer: (\d+) shift-add terms", head).group(1))
            nz, sh = code_stats(d, name, k)
            layers.append({"k": k, "op": op, "pixels": px, "channels": ch, "terms": terms, "loads": nz,
                           "shifted": sh})
        elif not view:
            nodes += 1
            elements += int(np.prod(out)) if out else 1
    # a padded Conv first copies its input into a padded scratch (format
    # independent: part of the base, as in cost.c)
    for p in glob.glob(os.path.join(d, name + "_l*.c")):
        for m in PAD.finditer(open(p).read()):
            nc, h, w, pt, pl, pb, pr = map(int, m.groups())
            elements += nc * (h + pt + pb) * (w + pl + pr)
    return name, layers, nodes, elements


def layer_instructions(d, name, layers, x):
    """callgrind (x86-64): the inclusive instructions of each layer function
    NAME_lK per inference, into L["instructions"]"""
    runner = os.path.join(d, "runner")
    if not os.path.exists(runner) or not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        return
    inp, outp, cg = os.path.join(d, "in.bin"), os.path.join(d, "out.bin"), os.path.join(d, "callgrind.layers")
    x.astype(np.float32).tofile(inp)
    run(["valgrind", "-q", "--tool=callgrind", "--toggle-collect=%s_run" % name, "--callgrind-out-file=" + cg,
         runner, inp, outp, str(len(x))])
    text = run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", cg])
    per = {}
    for line in text.splitlines():
        m = re.match(r"\s*([0-9,]+) .*:%s_l(\d+) " % re.escape(name), line)
        if m:
            per[int(m.group(2))] = int(m.group(1).replace(",", "")) / len(x)
    for L in layers:
        if L["k"] in per:
            L["instructions"] = per[L["k"]]
    for p in (inp, outp, cg):
        if os.path.exists(p):
            os.remove(p)


def measure(shiftc, target, model, fmt, paths, out, images, fresh, per_layer=True):
    """per_layer: also count each layer's instructions (x86-64, callgrind)"""
    d = os.path.join(out, target, "%s-%s" % (model, fmt))
    cache = os.path.join(d, "measure.json")
    if not fresh and os.path.exists(cache):
        r = json.load(open(cache))
        # features are re-read from the emitted files (cheap), so a cache
        # survives changes of the model's features
        name, layers, r["nodes"], r["elements"] = parse_emitted(d)
        for L, M in zip(r["layers"], layers):
            M["flash"] = L["flash"]
            if "instructions" in L:
                M["instructions"] = L["instructions"]
        if per_layer and target in ("x86_64", "host") and layers and "instructions" not in layers[0] and paths:
            layer_instructions(d, name, layers, np.load(paths[2])[:images])
            r["layers"] = layers
            with open(cache, "w") as f:
                json.dump(r, f)
        r["layers"] = layers
        return r
    onnx, calib, test_x = paths
    comp = last_json(run([shiftc, "compile", onnx, "--calib", calib, "--target", target, "--weights", fmt,
                          "-o", d, "--json", "--no-verify"]))
    name, layers, nodes, elements = parse_emitted(d)
    objs = sorted(glob.glob(os.path.join(d, "*.o")))
    sizes = size_of(SIZE_TOOL[target], objs)
    for L in layers:
        pat = re.compile(r"^%s_l%d(_\d+)?\.o$" % (re.escape(name), L["k"]))
        L["flash"] = sum(v for f, v in sizes.items() if pat.match(f))
    r = {"target": target, "model": model, "format": fmt, "layers": layers, "nodes": nodes,
         "elements": elements, "base_flash": sizes.get(name + ".o", 0), "flash": comp["flash_bytes"],
         "terms": comp.get("shift_add_terms"), "instructions": None}
    counts = target in COUNTED and (target not in ("host", "x86_64") or shutil.which("valgrind"))
    if counts:
        x = np.load(test_x)[:images]
        xp = os.path.join(d, "x.npy")
        np.save(xp, x)
        rr = last_json(run([shiftc, "run", d, "--input", xp, "--output", os.path.join(d, "y.npy"), "--json"]))
        r["instructions"] = rr.get("instructions_per_inference")
        if per_layer and target in ("x86_64", "host"):
            layer_instructions(d, name, layers, x)
    with open(cache, "w") as f:
        json.dump(r, f)
    return r


def measure_all(args, cases):
    ms = models_available(ROOT)
    res, errors = [], []

    def one(c):
        t, m, f = c
        return measure(args.shiftc, t, m, f, ms[m], args.out, args.images, args.fresh, per_layer=not args.check)

    with cf.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        futs = {ex.submit(one, c): c for c in cases}
        for fu in cf.as_completed(futs):
            c = futs[fu]
            try:
                res.append(fu.result())
                if args.verbose:
                    print("measured %s %s %s" % c, file=sys.stderr, flush=True)
            except Exception as e:  # noqa: BLE001 -- report and go on
                errors.append((c, str(e)))
                print("FAILED %s %s %s: %s" % (c + (str(e)[-600:],)), file=sys.stderr, flush=True)
    key = {c: i for i, c in enumerate(cases)}
    res.sort(key=lambda r: key[(r["target"], r["model"], r["format"])])
    return res, errors


# ---------------------------------------------------------------- the model

def predict_layer(cm, L):
    """cost.c's cost_layer.  A model without per-weight / per-shift
    coefficients (the "terms" form) has them 0; one without the Dense
    per-output ones (the "terms" and "extended" forms, and cost.h's for
    instructions) uses the Conv ones for Dense too"""
    g = lambda k: cm.get(k, 0.0)  # noqa: E731
    nz, sh = L.get("loads", 0), L.get("shifted", 0)
    dense = L["op"] != "Conv"
    fpo = cm.get("flash_per_output_dense", g("flash_per_output")) if dense else g("flash_per_output")
    ipo = cm.get("instr_per_output_dense", g("instr_per_output")) if dense else g("instr_per_output")
    flash = (g("flash_per_load") * nz + g("flash_per_term") * L["terms"] + g("flash_per_shift") * sh
             + fpo * L["channels"] + g("flash_per_layer"))
    instr = L["pixels"] * (g("instr_per_load") * nz + g("instr_per_term") * L["terms"]
                           + g("instr_per_shift") * sh + ipo * L["channels"]
                           + g("instr_per_pixel")) + g("instr_per_layer")
    return flash, instr


def predict_base(cm, r):
    return cm["flash_base"] + cm["flash_per_node"] * r["nodes"], cm["instr_per_element"] * r["elements"]


def predict(cm, r):
    f, i = predict_base(cm, r)
    for L in r["layers"]:
        lf, li = predict_layer(cm, L)
        f += lf
        i += li
    return f, i


# Weak priors (algorithms.md section 7: ~1-2 instructions per term, ~20 per
# requantized output): rows LAMBDA * (c_k / prior_k - 1) added to the
# relative residuals.  They only decide directions the data leaves open
# (pixels x channels vs pixels when every model has similar widths).
PRIOR = {"flash_per_term": 6, "flash_per_load": 3, "flash_per_shift": 2, "flash_per_output": 60,
         "flash_per_output_dense": 30, "instr_per_output_dense": 20,
         "flash_per_layer": 200, "flash_base": 500, "flash_per_node": 300,
         "instr_per_term": 1.5, "instr_per_load": 1, "instr_per_shift": 1, "instr_per_output": 20,
         "instr_per_pixel": 10, "instr_per_layer": 200, "instr_per_element": 10}
LAMBDA = 0.02
# instr_per_element (pools, padded copies) is collinear with the layers'
# per-pixel costs on two models: with the weak prior Cortex-M4 and RV32IMC
# fitted it to 0, though their max pools alone cost ~8 instructions per
# output element (qemu -singlestep traces of the CNN), so its prior is firm
LAMBDA_OF = {"instr_per_element": 0.5}
# Where each layer's instructions are counted (x86-64, callgrind), the fit
# takes the layers and the totals together, each total row this many
# times: x86-64 with 30, totals 12.8% worst and the layers 36% (27 of 120
# over 15%); the totals alone, 13.2% and 98% (52 of 120); weight 1, 23%
# and 30% (7 of 120).
TOTALS_WEIGHT = 30


def nnls_rel(A, y, keys=None):
    """min sum((A c - y)/y)^2 (+ the priors of keys) with c >= 0 (active set
    by dropping negatives)"""
    A = np.asarray(A, float)
    y = np.asarray(y, float)
    w = 1.0 / np.maximum(np.abs(y), 1.0)
    Aw, yw = A * w[:, None], y * w
    if keys and LAMBDA > 0:
        lam = [LAMBDA_OF.get(k, LAMBDA) for k in keys]
        P = np.diag([lk / PRIOR[k] for lk, k in zip(lam, keys)])
        Aw = np.vstack([Aw, P])
        yw = np.concatenate([yw, lam])
    free = list(range(A.shape[1]))
    c = np.zeros(A.shape[1])
    while free:
        sol, *_ = np.linalg.lstsq(Aw[:, free], yw, rcond=None)
        if (sol >= 0).all():
            c[:] = 0
            c[free] = sol
            break
        free.pop(int(np.argmin(sol)))
    return c


def fit_target(rs, instr_rs, form="full", per_layer=False):
    """least-squares coefficients of one target in the given form (FORMS)"""
    ext, split = form in ("extended", "full"), form == "full"
    split_instr = split and SPLIT_INSTR
    cm = {}

    def counts(L):
        return ([L["loads"]] if ext else []) + [L["terms"]] + ([L["shifted"]] if ext else [])

    def outputs(L, sp=split):
        if not sp:
            return [L["channels"]]
        return [0.0, L["channels"]] if L["op"] != "Conv" else [L["channels"], 0.0]

    # flash per layer
    fk = (["flash_per_load"] if ext else []) + ["flash_per_term"] + (["flash_per_shift"] if ext else []) + \
        ["flash_per_output"] + (["flash_per_output_dense"] if split else []) + ["flash_per_layer"]
    A, y = [], []
    for r in rs:
        for L in r["layers"]:
            A.append(counts(L) + outputs(L) + [1.0])
            y.append(L["flash"])
    cm.update(zip(fk, nnls_rel(A, y, fk)))
    # flash of the rest (NAME.o)
    A, y = [], []
    for r in rs:
        A.append([1.0, r["nodes"]])
        y.append(r["base_flash"])
    cm.update(zip(["flash_base", "flash_per_node"], nnls_rel(A, y, ["flash_base", "flash_per_node"])))
    # instructions
    ik = (["instr_per_load"] if ext else []) + ["instr_per_term"] + (["instr_per_shift"] if ext else []) + \
        ["instr_per_output"] + (["instr_per_output_dense"] if split_instr else []) + \
        ["instr_per_pixel", "instr_per_layer", "instr_per_element"]
    runs = [r for r in instr_rs if r.get("instructions")]

    def layer_row(L):
        p = L["pixels"]
        return [p * v for v in counts(L) + outputs(L, split_instr)] + [p, 1.0]

    if per_layer and runs and all(L.get("instructions") for r in runs for L in r["layers"]):
        # per-layer counts (callgrind) and the totals, in one fit: the
        # layers pin the layer coefficients, the totals (TOTALS_WEIGHT
        # times over) the rest
        A, y = [], []
        for r in runs:
            tot = np.zeros(len(ik))
            for L in r["layers"]:
                A.append(layer_row(L) + [0.0])
                y.append(L["instructions"])
                tot += layer_row(L) + [0.0]
            tot[-1] = r["elements"]
            A.extend([tot] * TOTALS_WEIGHT)
            y.extend([r["instructions"]] * TOTALS_WEIGHT)
        cm.update(zip(ik, nnls_rel(A, y, ik)))
    else:
        # totals only: all coefficients from the whole runs
        A, y = [], []
        for r in runs:
            row = np.zeros(len(ik))
            for L in r["layers"]:
                row += layer_row(L) + [0.0]
            row[-1] = r["elements"]
            A.append(row)
            y.append(r["instructions"])
        cm.update(zip(ik, nnls_rel(A, y, ik) if A else [0.0] * len(ik)))
    return cm


def rounded(cm):
    out = {}
    for k, v in cm.items():
        if k == "source":
            out[k] = v
        elif abs(v) >= 100:
            out[k] = float(round(v))
        elif abs(v) >= 10:
            out[k] = round(v, 1)
        else:
            out[k] = round(v, 3)
    return out


def c_initialiser(cname, cm):
    """the C table of a "full" model (cost.h)"""
    g = lambda k: ("%g" % cm.get(k, 0.0))  # noqa: E731
    text = ("static const CostModel %s = {\n"
            "    .flash_per_load = %s, .flash_per_term = %s, .flash_per_shift = %s,\n"
            "    .flash_per_output = %s, .flash_per_output_dense = %s, .flash_per_layer = %s,\n"
            "    .instr_per_load = %s, .instr_per_term = %s, .instr_per_shift = %s,\n"
            "    .instr_per_output = %s, .instr_per_pixel = %s, .instr_per_layer = %s,\n"
            "    .flash_base = %s, .flash_per_node = %s, .instr_per_element = %s,\n"
            "    .source = \"%s\",\n};\n") % (
        cname, g("flash_per_load"), g("flash_per_term"), g("flash_per_shift"), g("flash_per_output"),
        g("flash_per_output_dense"), g("flash_per_layer"), g("instr_per_load"), g("instr_per_term"),
        g("instr_per_shift"), g("instr_per_output"), g("instr_per_pixel"),
        g("instr_per_layer"), g("flash_base"), g("flash_per_node"), g("instr_per_element"), cm["source"])
    # the mac style's fields (bench/mac.py --fit), kept as committed
    mac = "".join("\n    .%s = %s," % (k, g(k)) for k in cm if k.startswith(("mac_instr", "mac_flash", "mac4_")))
    if "mac_source" in cm:
        mac += "\n    .mac_source = \"%s\"," % cm["mac_source"]
    return text.replace("\n};\n", mac + "\n};\n")


def header_form(root):
    """the form of backends/cost.h's CostModel (FORMS): the committed
    tables are fitted in it"""
    try:
        text = open(os.path.join(root, "backends", "cost.h")).read()
    except OSError:
        return "terms"
    return "full" if "flash_per_output_dense" in text else "extended" if "flash_per_load" in text else "terms"


CM_RE = re.compile(r"static const CostModel (\w+) = \{(.*?)\n\};", re.S)


def committed_models(root):
    """the CostModel tables of backends/*/target.c, by target name"""
    res = {}
    for t, (path, cname) in SOURCES.items():
        text = open(os.path.join(root, path)).read()
        for m in CM_RE.finditer(text):
            if m.group(1) != cname:
                continue
            cm = {}
            for k, v in re.findall(r"\.(\w+)\s*=\s*([-0-9.eE+]+)", m.group(2)):
                cm[k] = float(v)
            src = re.search(r'\.source\s*=\s*"((?:[^"\\]|\\.)*)"', m.group(2))
            cm["source"] = src.group(1) if src else ""
            # the mac style's coefficients (bench/mac.py --fit) are kept as
            # they are when this tool rewrites the table
            msrc = re.search(r'\.mac_source\s*=\s*"((?:[^"\\]|\\.)*)"', m.group(2))
            if msrc:
                cm["mac_source"] = msrc.group(1)
            for k in FIELDS:
                cm.setdefault(k, 0.0)
            res[t] = cm
    res["host"] = res.get("x86_64")  # cost.c: the host borrows its ISA's table
    return res


def update_sources(root, models):
    committed = committed_models(root)
    for t, cm in models.items():
        cm = dict(cm, **{k: v for k, v in (committed.get(t) or {}).items() if k.startswith(("mac_", "mac4_"))})
        path, cname = SOURCES[t]
        p = os.path.join(root, path)
        text = open(p).read()
        new, n = re.subn(r"static const CostModel %s = \{.*?\n\};\n" % cname,
                         lambda _m: c_initialiser(cname, cm), text, flags=re.S)
        if n != 1:
            raise RuntimeError("%s: no CostModel %s" % (path, cname))
        open(p, "w").write(new)


# per-layer errors are reported for layers of at least this many bytes: a
# 4-term 1x1 Conv of 340 bytes is all requantization and call overhead
SMALL_LAYER = 1024


def leave_one_out(t, by_t, form, per_layer=True):
    """worst errors over the models of target t, each predicted by a fit on the others"""
    src_t = INSTR_FROM.get(t, t)
    cf_ = ci_ = cl_ = 0.0
    for m in sorted({r["model"] for r in by_t[t]}):
        train = [r for r in by_t[t] if r["model"] != m]
        itrain = [r for r in by_t[src_t] if r["model"] != m] if src_t in by_t else train
        cm = fit_target(train, itrain, form=form, per_layer=per_layer)
        wf, wi, wl = worst_errors(cm, [r for r in by_t[t] if r["model"] == m])
        cf_, ci_, cl_ = max(cf_, wf), max(ci_, wi), max(cl_, wl)
    return cf_, ci_, cl_


def worst_errors(cm, rs):
    """worst |relative error| of flash totals, instruction totals, one layer's flash"""
    wf = wi = wl = 0.0
    for r in rs:
        pf, pi = predict(cm, r)
        wf = max(wf, abs(rel(pf, r["flash"])))
        if r["instructions"]:
            wi = max(wi, abs(rel(pi, r["instructions"])))
        for L in r["layers"]:
            if L["flash"] >= SMALL_LAYER:
                wl = max(wl, abs(rel(predict_layer(cm, L)[0], L["flash"])))
    return wf, wi, wl


def rel(p, m):
    return (p - m) / m if m else float("nan")


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shiftc", default=os.path.join(ROOT, "build", "shiftc"))
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--models", default="")
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "costs"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--md", help="write the predicted-vs-measured table (markdown) here")
    ap.add_argument("--update-sources", action="store_true",
                    help="write the fitted coefficients into backends/*/target.c")
    ap.add_argument("--check", action="store_true",
                    help="compare the committed coefficients' predictions with measurement")
    ap.add_argument("--tolerance", type=float, default=0.2)
    ap.add_argument("--no-layer-fit", dest="layer_fit", action="store_false",
                    help="x86-64: fit the instruction coefficients on the totals only, not on the per-layer "
                         "callgrind counts and the totals together (TOTALS_WEIGHT)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    targets = [t for t in args.targets.split(",") if t]
    formats = [f for f in args.formats.split(",") if f]
    ms = models_available(ROOT)
    models = [m for m in args.models.split(",") if m] or list(ms)
    for m in models:
        if m not in ms:
            sys.exit("fit_costs: no model %s (have %s)" % (m, ", ".join(ms)))
    cases = [(t, m, f) for t in targets for m in models for f in formats]
    t0 = time.time()
    res, errors = measure_all(args, cases)

    if args.check:
        cms = committed_models(ROOT)
        failed = 0
        worst_check = {}
        for r in res:
            cm = cms[r["target"]]
            pf, pi = predict(cm, r)
            desc = "%s %s %s" % (r["target"], r["model"], r["format"])
            checks = [("flash", pf, r["flash"])]
            if r["instructions"]:
                checks.append(("instructions", pi, r["instructions"]))
            for what, p, m in checks:
                e = rel(p, m)
                good = abs(e) <= args.tolerance
                failed += not good
                print("%s - %s: %s predicted %.0f, measured %.0f (%+.1f%%)" % (
                    "ok" if good else "not ok", desc, what, p, m, 100 * e))
                worst_check[what] = max(worst_check.get(what, 0.0), abs(e))
        for c, e in errors:
            failed += 1
            print("not ok - %s %s %s: measuring failed: %s" % (c + (e.strip().splitlines()[-1:] or [""])[0:1]))
        print("# worst |error| over %d cases: %s (tolerance %.0f%%)" % (
            len(res), ", ".join("%s %.1f%%" % (k, 100 * v) for k, v in worst_check.items()), 100 * args.tolerance))
        sys.exit(1 if failed else 0)

    # fit per target, in every form; the committed tables are the header's
    form = header_form(ROOT)
    by_t = {t: [r for r in res if r["target"] == t] for t in targets}
    fits = {f: {} for f in FORMS}
    for t in targets:
        if not by_t[t]:
            continue
        src_t = INSTR_FROM.get(t, t)
        instr_rs = by_t.get(src_t) or [r for r in res if r["target"] == src_t]
        nl = sum(len(r["layers"]) for r in by_t[t])
        fm = sorted({r["format"] for r in by_t[t]})
        mm = sorted({r["model"] for r in by_t[t]})
        if src_t == t:
            how = "instructions from %s" % (("callgrind, per layer and totals" if args.layer_fit else "callgrind")
                                            if t in ("x86_64", "host") else
                                           "SysTick x 40" if t == "cortex-m4" else "minstret")
        else:
            how = "no instruction count under qemu-user: instruction coefficients of %s" % src_t
        for f in FORMS:
            cm = fit_target(by_t[t], instr_rs, form=f, per_layer=args.layer_fit)
            cm["source"] = ("tools/fit_costs.py: least squares (relative) over %d layers of %d models x %d formats "
                            "(%s); %s" % (nl, len(mm), len(fm), ", ".join(fm), how))
            fits[f][t] = rounded(cm)
    for f in FORMS:  # borrowed after rounding, so they match exactly
        for t, s in INSTR_FROM.items():
            if t in fits[f] and s in fits[f]:
                for k in fits[f][s]:
                    if k.startswith("instr_"):
                        fits[f][t][k] = fits[f][s][k]
    fitted = fits[form]

    lines = []
    for t in targets:
        if t not in fitted:
            continue
        cm = fitted[t]
        print(c_initialiser(SOURCES[t][1], cm))
        lines.append("### %s\n" % t)
        lines.append("`%s`\n" % cm["source"])
        lines.append("| coefficient | value |\n| --- | --- |")
        for k in FIELDS:
            if k in cm:
                lines.append("| %s | %g |" % (k, cm[k]))
        lines.append("")
        lines.append("| model | format | loads | terms | shifted | flash predicted | flash measured | error "
                     "| instructions predicted | instructions measured | error | worst layer flash error (>= 1 KB) "
                     "| before: flash / instructions error |")
        lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in by_t[t]:
            pf, pi = predict(cm, r)
            ef = rel(pf, r["flash"])
            wl_r = max([abs(rel(predict_layer(cm, L)[0], L["flash"])) for L in r["layers"]
                        if L["flash"] >= SMALL_LAYER] or [0])
            bf, bi = predict(fits["terms"][t], r)
            if r["instructions"]:
                ei = rel(pi, r["instructions"])
                ins = "%.0f | %.0f | %+.1f%%" % (pi, r["instructions"], 100 * ei)
                bis = "%+.1f%%" % (100 * rel(bi, r["instructions"]))
            else:
                ins = "%.0f | — | —" % pi
                bis = "—"
            lines.append("| %s | %s | %d | %d | %d | %.0f | %d | %+.1f%% | %s | %.1f%% | %+.1f%% / %s |" % (
                r["model"], r["format"], sum(L["loads"] for L in r["layers"]),
                sum(L["terms"] for L in r["layers"]), sum(L["shifted"] for L in r["layers"]), pf, r["flash"],
                100 * ef, ins, 100 * wl_r, 100 * rel(bf, r["flash"]), bis))
            print("%-9s %-12s %-8s flash %9.0f / %9d (%+6.1f%%)  instr %12.0f / %12s %s" % (
                t, r["model"], r["format"], pf, r["flash"], 100 * ef, pi,
                "%.0f" % r["instructions"] if r["instructions"] else "-",
                "(%+6.1f%%)" % (100 * rel(pi, r["instructions"])) if r["instructions"] else ""))
        lay = sorted(((abs(rel(predict_layer(cm, L)[0], L["flash"])), rel(predict_layer(cm, L)[0], L["flash"]),
                       r["model"], r["format"], L) for r in by_t[t] for L in r["layers"] if L["flash"] >= SMALL_LAYER),
                     key=lambda e: -e[0])[:3]
        if lay:
            lines.append("")
            lines.append("Worst layers (flash, >= 1 KB): " + "; ".join(
                "%s %s layer %d (%s, %d outputs, %d terms) %+.1f%%" % (m, f, L["k"], L["op"], L["channels"],
                                                                       L["terms"], 100 * e)
                for _, e, m, f, L in lay) + ".")
        li = [(abs(rel(predict_layer(cm, L)[1], L["instructions"])), r["model"], r["format"], L["k"], L["op"])
              for r in by_t[t] for L in r["layers"] if L.get("instructions")]
        if li:
            li.sort(reverse=True)
            big = [e for e in li if e[0] > 0.15]
            msg = ("Per layer (callgrind, inclusive instructions of each layer function, fitted with the "
                   "totals%s): worst instructions error %.1f%% (%s %s layer %d, %s); %d of %d layers off by more "
                   "than 15%%." % ("" if args.layer_fit else ": not used, --no-layer-fit", 100 * li[0][0], li[0][1],
                                 li[0][2], li[0][3], li[0][4], len(big), len(li)))
            lines.append("")
            lines.append(msg)
            print(t + ": " + msg)
        lines.append("")
        wf, wi, wl = worst_errors(cm, by_t[t])
        print("%s: worst |error| flash total %.1f%%, instructions total %.1f%%, flash per layer %.1f%%\n" % (
            t, 100 * wf, 100 * wi, 100 * wl))

    def pct(v, t):
        return "%.1f%%" % (100 * v) if t not in INSTR_FROM else "— (%s)" % INSTR_FROM[t]

    summary = ["| target | form | worst flash error (totals) | worst instructions error (totals) "
               "| worst flash error (one layer >= 1 KB) | worst pot flash / instructions (totals) "
               "| leave one model out: flash / instructions / layer |",
               "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    worst = {}
    for t in [t for t in targets if t in fitted]:
        for f in FORMS:
            cm = fits[f][t]
            wf, wi, wl = worst_errors(cm, by_t[t])
            worst[(t, f)] = (wf, wi, wl)
            pf, pi, _ = worst_errors(cm, [r for r in by_t[t] if r["format"] == "pot"])
            cv = leave_one_out(t, by_t, f, args.layer_fit) if len({r["model"] for r in by_t[t]}) >= 3 else None
            cvs = "%.1f%% / %s / %.1f%%" % (100 * cv[0], pct(cv[1], t), 100 * cv[2]) if cv else "—"
            summary.append("| %s | %s%s | %.1f%% | %s | %.1f%% | %.1f%% / %s | %s |" % (
                t if f == FORMS[0] else "", f, " (committed)" if f == form else "", 100 * wf, pct(wi, t),
                100 * wl, 100 * pf, pct(pi, t), cvs))
            print("%s %-8s worst |error| flash total %.1f%%, instructions total %.1f%%, flash per layer %.1f%%; "
                  "leave-one-model-out %s" % (t, f, 100 * wf, 100 * wi, 100 * wl, cvs))
    # worst |error| per format, over the targets (totals)
    per_fmt = ["| format | " + " | ".join("%s: flash / instructions" % f for f in FORMS) + " |",
               "| --- |" + " ---: |" * len(FORMS)]
    for fmt in formats:
        cells = []
        for f in FORMS:
            ef = ei = 0.0
            for t in fitted:
                a, b, _ = worst_errors(fits[f][t], [r for r in by_t[t] if r["format"] == fmt])
                ef = max(ef, a)
                if t not in INSTR_FROM:
                    ei = max(ei, b)
            cells.append("%.1f%% / %.1f%%" % (100 * ef, 100 * ei))
        per_fmt.append("| %s | %s |" % (fmt, " | ".join(cells)))
    if args.update_sources:
        update_sources(ROOT, fitted)
    if args.md:
        with open(args.md, "w") as f:
            f.write(MD_HEAD)
            f.write("\n".join(summary) + "\n\n")
            f.write("Worst |error| of the totals per weight format, over the targets (instructions over the "
                    "measured ones), in each form:\n\n")
            f.write("\n".join(per_fmt) + "\n\n")
            f.write(MD_PER_TARGET)
            f.write("\n".join(lines) + "\n")
    for c, e in errors:
        print("measuring %s %s %s failed" % c, file=sys.stderr)
    print("fit_costs: %d cases in %.0f s" % (len(res), time.time() - t0), file=sys.stderr)
    sys.exit(1 if errors else 0)


MD_HEAD = """# Cost model fit (issue 6)

`/usr/bin/python3 tools/fit_costs.py --md bench/costs.md --update-sources` compiles the bundled
models (tests/fixtures cnn and mlp, and the unseen models of tools/make_unseen.py in build/unseen)
in several weight formats for every target, measures flash per layer (`size` of each layer's
object) and instructions per inference (callgrind, SysTick, minstret: the mean over a few images),
and fits the coefficients of backends/cost.h per target by least squares on the relative error
(nonnegative coefficients):

    layer flash        = flash_per_load * loads + flash_per_term * terms
                         + flash_per_shift * shifted + flash_per_output{,_dense} * channels
                         + flash_per_layer
    layer instructions = pixels * (instr_per_load * loads + instr_per_term * terms
                                   + instr_per_shift * shifted
                                   + instr_per_output * channels + instr_per_pixel)
                         + instr_per_layer
    base flash         = flash_base + flash_per_node * (non-weighted nodes that are not views)
    base instructions  = instr_per_element * (their output elements)

Conv: pixels = N * OH * OW, channels = OC, per-output flash flash_per_output; Dense:
pixels = rows, channels = N, flash_per_output_dense (instr_per_output for both).  loads = the inputs each register block of
8 output rows loads (one statement `v = x[OFF];` each: an input with a nonzero code in any row of
the block), terms = their nonzero signed (NAF) digits, shifted = the terms at a digit position above 0
(`fmt_count_codes`, which compiler/search.c applies to its own quantized channels; the tool reads
the same counts from the emitted statements).  Flash is fitted per layer (so each layer's model
is tested; layers under 1 KB -- a 4-term 1x1 Conv is 340 bytes of requantization and call -- are
left out of the per-layer errors); instructions on whole-model totals, and on x86-64, where
callgrind counts each layer function, on those per-layer counts too (the totals weighted 30
times: TOTALS_WEIGHT).  aarch64 and riscv64 run
under qemu-user, which counts nothing: their instruction coefficients are those of the nearest
measured ISA (Cortex-M4 for AArch64, RV32IMC for RV64GC), so their instruction predictions are
unvalidated.  Weak priors (PRIOR, LAMBDA in the tool) settle the directions the few models leave
open (pixels x channels against pixels), at a cost of a point or two of error.

Three forms are fitted on the same measurements and compared below: **terms** (one coefficient
per term: the committed form before loads and shifts were priced apart), **extended** (plus one
per input load and one per shifted term) and **full** (plus Dense's own per-output flash: a
Dense layer's requantize-store is a plain loop, a Conv's sits in the pixel loop with a strided
store), which is the committed one.  A Dense per-output *instruction* cost did not pay: fitted on
the totals it left the in-sample errors as they were and made the leave-one-model-out ones worse
(x86-64 28.6% -> 35.9%, Cortex-M4 12.5% -> 15.5%; `SPLIT_INSTR=1` in the environment fits it).  Why: a term costs more when few terms share its input's load
(ternary, int2 and pot load an input for one or two terms of a block of 8 rows, int8 for about
16) and when it is shifted (Thumb-2: `add.w ..., lsl #k` is 4 bytes where a plain `adds` is 2;
RISC-V: an extra `slli`), so one coefficient per term underestimated pot by 15-28% and
overestimated int8.

Where it still misses (the committed form): resnet's flash totals are low in every format on
x86-64 (4-13%) and riscv64 (6-12%), largely a per-model offset rather than a per-term effect;
x86-64's instruction totals are within 13%, its single layers only within 36% (27 of 120 over
15%: the "Per layer" line; fitted on the totals alone the totals were within 13.2% and the layers
98%); small Dense layers (10 outputs) and 8-16-output Convs are the worst single layers' flash
(12-19%).  Leave-one-model-out, the instruction errors of x86-64, rv32i and rv32e (22-24%) stay
above the flash ones: six models pin the per-pixel against the per-output and per-code costs
loosely (the targets without per-layer counts most).

16-bit activations (`--act-bits 16`, the CNN in int8 and ternary) measured +4%/+10%
instructions and +1.5%/+0.8% flash on Cortex-M4, +1.3%/+4.3% and 0% on RV32IMC against 8 bits:
a roughly constant extra (wider pools and pads), not a per-term cost, so it is not modelled.

"""

MD_PER_TARGET = """## Per target (committed form)

Per model and format: the weight codes' counts (summed over the layers), predicted vs measured
totals, the worst single layer's flash error, and the error of the **terms** form (before) on the
same case.

"""

if __name__ == "__main__":
    main()
