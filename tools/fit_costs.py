#!/usr/bin/python3
"""Fit (and check) the per-target cost model of backends/cost.h.

    /usr/bin/python3 tools/fit_costs.py [--targets T,...] [--models M,...]
        [--formats F,...] [--out DIR] [--jobs N] [--images N] [--md FILE]
    /usr/bin/python3 tools/fit_costs.py --check [--tolerance 0.2] ...

Fit mode compiles every model in every weight format for every target
(`shiftc compile --target T --weights F`, which also builds the library and
measures it), reads per layer the number of shift-add terms (the comment
"the whole layer: N shift-add terms" of NAME_lK.c), the geometry (the node
comments of NAME.c: "node K: Conv ... [in] -> [out]") and the flash (the
target's `size` of NAME_lK*.o; NAME.o is the base), runs the model on a few
images (`shiftc run --json`) for the instructions per inference where the
target counts them (on x86-64 also per layer: callgrind's inclusive count of
each NAME_lK function, reported, and fitted with --layer-fit), and fits by
least squares, per target:

  per layer  flash = fpt*terms + fpo*channels + fpl
  per model  flash_base + fpn*nodes              (NAME.o)
  per model  instructions = sum over layers of
                 pixels*(ipt*terms + ipo*channels + ipp) + ipl
               + ipe*elements                    (whole NAME_run)

where pixels/channels are those of cost.c (Conv: N*OH*OW and OC; Dense:
rows and N) and nodes/elements count the non-weighted nodes that are not
views and their output elements.  Flash is fitted per layer, so the model
of one layer is checked, not just totals.  The fit minimises relative error
(rows weighted by 1/measured) with nonnegative coefficients.  Targets
without an instruction counter (aarch64, riscv64 under qemu-user) take
their instruction coefficients from the nearest measured ISA (INSTR_FROM).

It prints the coefficients (as C initialisers for backends/<t>/target.c)
and, per target, model and format, predicted vs measured flash and
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
FIELDS = ["flash_per_term", "flash_per_output", "flash_per_layer",
          "instr_per_term", "instr_per_output", "instr_per_pixel", "instr_per_layer",
          "flash_base", "flash_per_node", "instr_per_element"]
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


def code_stats(d, name, k):
    """nonzero weight codes (one statement "a = a ..." each) and terms with a
    shift (" * 2^k") of layer k, from its emitted files"""
    nonzero = shifted = 0
    for p in glob.glob(os.path.join(d, "%s_l%d.c" % (name, k))) + glob.glob(os.path.join(d, "%s_l%d_*.c" % (name, k))):
        for line in open(p):
            s = line.lstrip()
            if s.startswith("a = a "):
                nonzero += 1
                shifted += s.count(" * ")
    return nonzero, shifted


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
            layers.append({"k": k, "op": op, "pixels": px, "channels": ch, "terms": terms, "nonzero": nz,
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


def measure(shiftc, target, model, fmt, paths, out, images, fresh):
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
        if target in ("x86_64", "host") and layers and "instructions" not in layers[0] and paths:
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
        if target in ("x86_64", "host"):
            layer_instructions(d, name, layers, x)
    with open(cache, "w") as f:
        json.dump(r, f)
    return r


def measure_all(args, cases):
    ms = models_available(ROOT)
    res, errors = [], []

    def one(c):
        t, m, f = c
        return measure(args.shiftc, t, m, f, ms[m], args.out, args.images, args.fresh)

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
    """cost.c's cost_layer; the *_per_weight / *_per_shift terms (nonzero
    weight codes, terms with a shift) are those of the extended form that
    --extended evaluates, absent (0) in the committed model"""
    g = lambda k: cm.get(k, 0.0)  # noqa: E731
    nz, sh = L.get("nonzero", 0), L.get("shifted", 0)
    flash = (g("flash_per_term") * L["terms"] + g("flash_per_weight") * nz + g("flash_per_shift") * sh
             + g("flash_per_output") * L["channels"] + g("flash_per_layer"))
    instr = L["pixels"] * (g("instr_per_term") * L["terms"] + g("instr_per_weight") * nz
                           + g("instr_per_shift") * sh + g("instr_per_output") * L["channels"]
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
PRIOR = {"flash_per_term": 6, "flash_per_weight": 3, "flash_per_shift": 2, "flash_per_output": 60,
         "flash_per_layer": 200, "flash_base": 500, "flash_per_node": 300,
         "instr_per_term": 1.5, "instr_per_weight": 1, "instr_per_shift": 1, "instr_per_output": 20,
         "instr_per_pixel": 10, "instr_per_layer": 200, "instr_per_element": 10}
LAMBDA = 0.02


def nnls_rel(A, y, keys=None):
    """min sum((A c - y)/y)^2 (+ the priors of keys) with c >= 0 (active set
    by dropping negatives)"""
    A = np.asarray(A, float)
    y = np.asarray(y, float)
    w = 1.0 / np.maximum(np.abs(y), 1.0)
    Aw, yw = A * w[:, None], y * w
    if keys and LAMBDA > 0:
        P = np.diag([LAMBDA / PRIOR[k] for k in keys])
        Aw = np.vstack([Aw, P])
        yw = np.concatenate([yw, np.full(len(keys), LAMBDA)])
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


def fit_target(rs, instr_rs, extended=False, per_layer=False):
    """least-squares coefficients of one target; extended: also per nonzero
    weight code (its load) and per shifted term (the shift)"""
    cm = {}
    # flash per layer
    fk = ["flash_per_term"] + (["flash_per_weight", "flash_per_shift"] if extended else []) + \
        ["flash_per_output", "flash_per_layer"]
    A, y = [], []
    for r in rs:
        for L in r["layers"]:
            A.append([L["terms"]] + ([L["nonzero"], L["shifted"]] if extended else []) + [L["channels"], 1.0])
            y.append(L["flash"])
    cm.update(zip(fk, nnls_rel(A, y, fk)))
    # flash of the rest (NAME.o)
    A, y = [], []
    for r in rs:
        A.append([1.0, r["nodes"]])
        y.append(r["base_flash"])
    cm.update(zip(["flash_base", "flash_per_node"], nnls_rel(A, y, ["flash_base", "flash_per_node"])))
    # instructions
    ik = ["instr_per_term"] + (["instr_per_weight", "instr_per_shift"] if extended else []) + \
        ["instr_per_output", "instr_per_pixel", "instr_per_layer", "instr_per_element"]
    runs = [r for r in instr_rs if r.get("instructions")]

    def layer_row(L):
        p = L["pixels"]
        return [p * L["terms"]] + ([p * L["nonzero"], p * L["shifted"]] if extended else []) + \
            [p * L["channels"], p, 1.0]

    if per_layer and runs and all(L.get("instructions") for r in runs for L in r["layers"]):
        # per-layer counts (callgrind) and the totals, in one fit: the
        # layers pin the layer coefficients, the totals the rest
        A, y = [], []
        for r in runs:
            tot = np.zeros(len(ik))
            for L in r["layers"]:
                A.append(layer_row(L) + [0.0])
                y.append(L["instructions"])
                tot += layer_row(L) + [0.0]
            tot[-1] = r["elements"]
            A.append(tot)
            y.append(r["instructions"])
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
    g = lambda k: ("%g" % cm[k])  # noqa: E731
    return ("static const CostModel %s = {\n"
            "    .flash_per_term = %s, .flash_per_output = %s, .flash_per_layer = %s,\n"
            "    .instr_per_term = %s, .instr_per_output = %s, .instr_per_pixel = %s, .instr_per_layer = %s,\n"
            "    .flash_base = %s, .flash_per_node = %s, .instr_per_element = %s,\n"
            "    .source = \"%s\",\n};\n") % (
        cname, g("flash_per_term"), g("flash_per_output"), g("flash_per_layer"), g("instr_per_term"),
        g("instr_per_output"), g("instr_per_pixel"), g("instr_per_layer"), g("flash_base"),
        g("flash_per_node"), g("instr_per_element"), cm["source"]) if "flash_per_weight" not in cm else (
        "static const CostModel %s = {\n"
        "    .flash_per_term = %s, .flash_per_weight = %s, .flash_per_shift = %s,\n"
        "    .flash_per_output = %s, .flash_per_layer = %s,\n"
        "    .instr_per_term = %s, .instr_per_weight = %s, .instr_per_shift = %s,\n"
        "    .instr_per_output = %s, .instr_per_pixel = %s, .instr_per_layer = %s,\n"
        "    .flash_base = %s, .flash_per_node = %s, .instr_per_element = %s,\n"
        "    .source = \"%s\",\n};\n") % (
        cname, g("flash_per_term"), g("flash_per_weight"), g("flash_per_shift"), g("flash_per_output"),
        g("flash_per_layer"), g("instr_per_term"), g("instr_per_weight"), g("instr_per_shift"),
        g("instr_per_output"), g("instr_per_pixel"), g("instr_per_layer"), g("flash_base"),
        g("flash_per_node"), g("instr_per_element"), cm["source"])


def header_is_extended(root):
    """backends/cost.h prices loads and shifts (CostModel.flash_per_weight ...):
    then the committed tables are the extended form"""
    try:
        return "flash_per_weight" in open(os.path.join(root, "backends", "cost.h")).read()
    except OSError:
        return False


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
            for k in FIELDS:
                cm.setdefault(k, 0.0)
            res[t] = cm
    res["host"] = res.get("x86_64")  # cost.c: the host borrows its ISA's table
    return res


def update_sources(root, models):
    for t, cm in models.items():
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


def leave_one_out(t, by_t, extended):
    """worst errors over the models of target t, each predicted by a fit on the others"""
    src_t = INSTR_FROM.get(t, t)
    cf_ = ci_ = cl_ = 0.0
    for m in sorted({r["model"] for r in by_t[t]}):
        train = [r for r in by_t[t] if r["model"] != m]
        itrain = [r for r in by_t[src_t] if r["model"] != m] if src_t in by_t else train
        cm = fit_target(train, itrain, extended=extended)
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
    ap.add_argument("--layer-fit", action="store_true",
                    help="x86-64: fit the instruction coefficients on per-layer callgrind counts and the totals "
                         "together (better per layer, worse totals: the base's per-element cost varies by op)")
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
        for c, e in errors:
            failed += 1
            print("not ok - %s %s %s: measuring failed: %s" % (c + (e.strip().splitlines()[-1:] or [""])[0:1]))
        sys.exit(1 if failed else 0)

    # fit per target
    by_t = {t: [r for r in res if r["target"] == t] for t in targets}
    fitted, extended = {}, {}
    for t in targets:
        if not by_t[t]:
            continue
        src_t = INSTR_FROM.get(t, t)
        instr_rs = by_t.get(src_t) or [r for r in res if r["target"] == src_t]
        cm = fit_target(by_t[t], instr_rs, extended=header_is_extended(ROOT), per_layer=args.layer_fit)
        nl = sum(len(r["layers"]) for r in by_t[t])
        fm = sorted({r["format"] for r in by_t[t]})
        mm = sorted({r["model"] for r in by_t[t]})
        if src_t == t:
            how = "instructions from %s" % ("callgrind" if t in ("x86_64", "host") else
                                           "SysTick x 40" if t == "cortex-m4" else "minstret")
        else:
            how = "no instruction count under qemu-user: instruction coefficients of %s" % src_t
        cm["source"] = ("tools/fit_costs.py: least squares (relative) over %d layers of %d models x %d formats "
                        "(%s); %s" % (nl, len(mm), len(fm), ", ".join(fm), how))
        fitted[t] = rounded(cm)
        extended[t] = rounded(fit_target(by_t[t], instr_rs, extended=True, per_layer=args.layer_fit))
    for fits in (fitted, extended):  # borrowed after rounding, so they match exactly
        for t, s in INSTR_FROM.items():
            if t in fits and s in fits:
                for k in fits[s]:
                    if k.startswith("instr_"):
                        fits[t][k] = fits[s][k]

    lines = []
    worst = {}
    for t in targets:
        if t not in fitted:
            continue
        cm = fitted[t]
        print(c_initialiser(SOURCES[t][1], cm))
        lines.append("### %s\n" % t)
        lines.append("`%s`\n" % cm["source"])
        lines.append("| coefficient | value |\n| --- | --- |")
        for k in FIELDS:
            lines.append("| %s | %g |" % (k, cm[k]))
        lines.append("")
        lines.append("| model | format | terms | flash predicted | flash measured | error "
                     "| instructions predicted | instructions measured | error | worst layer flash error (>= 1 KB) |")
        lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        wf = wi = wl = 0.0
        for r in by_t[t]:
            pf, pi = predict(cm, r)
            ef = rel(pf, r["flash"])
            wl_r = max([abs(rel(predict_layer(cm, L)[0], L["flash"])) for L in r["layers"]
                        if L["flash"] >= SMALL_LAYER] or [0])
            wl = max(wl, wl_r)
            wf = max(wf, abs(ef))
            if r["instructions"]:
                ei = rel(pi, r["instructions"])
                wi = max(wi, abs(ei))
                ins = "%.0f | %.0f | %+.1f%%" % (pi, r["instructions"], 100 * ei)
            else:
                ins = "%.0f | — | —" % pi
            lines.append("| %s | %s | %d | %.0f | %d | %+.1f%% | %s | %.1f%% |" % (
                r["model"], r["format"], sum(L["terms"] for L in r["layers"]), pf, r["flash"], 100 * ef, ins,
                100 * wl_r))
            print("%-9s %-12s %-8s flash %9.0f / %9d (%+6.1f%%)  instr %12.0f / %12s %s" % (
                t, r["model"], r["format"], pf, r["flash"], 100 * ef, pi,
                "%.0f" % r["instructions"] if r["instructions"] else "-",
                "(%+6.1f%%)" % (100 * rel(pi, r["instructions"])) if r["instructions"] else ""))
        worst[t] = (wf, wi, wl)
        li = [(abs(rel(predict_layer(cm, L)[1], L["instructions"])), r["model"], r["format"], L["k"], L["op"])
              for r in by_t[t] for L in r["layers"] if L.get("instructions")]
        if li:
            li.sort(reverse=True)
            big = [e for e in li if e[0] > 0.15]
            msg = ("Per layer (callgrind, inclusive instructions of each layer function): worst instructions "
                   "error %.1f%% (%s %s layer %d, %s); %d of %d layers off by more than 15%%." % (
                       100 * li[0][0], li[0][1], li[0][2], li[0][3], li[0][4], len(big), len(li)))
            lines.append("")
            lines.append(msg)
            print(t + ": " + msg)
        lines.append("")
        print("%s: worst |error| flash total %.1f%%, instructions total %.1f%%, flash per layer %.1f%%\n" % (
            t, 100 * wf, 100 * wi, 100 * wl))
    summary = ["| target | worst flash error (totals) | worst instructions error (totals) | worst flash error (one layer >= 1 KB) "
               "| the same without pot (flash / instructions / layer) |",
               "| --- | ---: | ---: | ---: | ---: |"]
    for t, (wf, wi, wl) in worst.items():
        nf, ni, nl = worst_errors(fitted[t], [r for r in by_t[t] if r["format"] != "pot"])
        summary.append("| %s | %.1f%% | %s | %.1f%% | %.1f%% / %s / %.1f%% |" % (
            t, 100 * wf, "%.1f%%" % (100 * wi) if t not in INSTR_FROM else "— (from %s)" % INSTR_FROM[t], 100 * wl,
            100 * nf, "%.1f%%" % (100 * ni) if t not in INSTR_FROM else "—", 100 * nl))
    # leave one model out: fit on the others, predict it (the unseen case)
    cv_lines = ["| target | flash total | instructions total | flash one layer (>= 1 KB) |", "| --- | ---: | ---: | ---: |"]
    cv_ext = {}
    for t in worst:
        if len({r["model"] for r in by_t[t]}) < 3:
            continue
        cf_, ci_, cl_ = leave_one_out(t, by_t, header_is_extended(ROOT))
        cv_ext[t] = leave_one_out(t, by_t, True)
        cv_lines.append("| %s | %.1f%% | %s | %.1f%% |" % (
            t, 100 * cf_, "%.1f%%" % (100 * ci_) if t not in INSTR_FROM else "—", 100 * cl_))
        print("%s leave-one-model-out: worst |error| flash total %.1f%%, instructions total %.1f%%, flash per layer "
              "%.1f%%" % (t, 100 * cf_, 100 * ci_, 100 * cl_))
    ext_lines = ["| target | flash total | instructions total | flash one layer (>= 1 KB) | the same, leave one model out "
                 "| coefficients |",
                 "| --- | ---: | ---: | ---: | ---: | --- |"]
    for t in worst:
        wf, wi, wl = worst_errors(extended[t], by_t[t])
        coef = ", ".join("%s %g" % (k, v) for k, v in extended[t].items() if k != "source")
        cv = cv_ext.get(t)
        cvs = "%.1f%% / %s / %.1f%%" % (100 * cv[0], "%.1f%%" % (100 * cv[1]) if t not in INSTR_FROM else "—",
                                         100 * cv[2]) if cv else "—"
        ext_lines.append("| %s | %.1f%% | %s | %.1f%% | %s | %s |" % (
            t, 100 * wf, "%.1f%%" % (100 * wi) if t not in INSTR_FROM else "—", 100 * wl, cvs, coef))
        print("%s extended form: worst |error| flash total %.1f%%, instructions total %.1f%%, flash per layer "
              "%.1f%%\n    %s" % (t, 100 * wf, 100 * wi, 100 * wl, coef))
    if args.update_sources:
        update_sources(ROOT, fitted)
    if args.md:
        with open(args.md, "w") as f:
            f.write(MD_HEAD)
            f.write("\n".join(summary) + "\n\n")
            f.write("Leave one model out (fit on the other models, predict the one left out: how the model does "
                    "on a network it has not seen), worst |error| over the models and formats:\n\n")
            f.write("\n".join(cv_lines) + "\n\n")
            f.write("\n".join(lines) + "\n")
            f.write(MD_EXT)
            f.write("\n".join(ext_lines) + "\n")
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

    layer flash        = flash_per_term * terms + flash_per_output * channels + flash_per_layer
    layer instructions = pixels * (instr_per_term * terms + instr_per_output * channels
                                   + instr_per_pixel) + instr_per_layer
    base flash         = flash_base + flash_per_node * (non-weighted nodes that are not views)
    base instructions  = instr_per_element * (their output elements)

Conv: pixels = N * OH * OW, channels = OC; Dense: pixels = rows, channels = N; terms = nonzero
signed digits of the layer's weight codes.  Flash is fitted per layer (so each layer's model is
tested, the last column; layers under 1 KB -- a 4-term 1x1 Conv is 340 bytes of requantization
and call -- are left out of the per-layer errors); instructions on whole-model totals (only totals are counted).  aarch64 and
riscv64 run under qemu-user, which counts nothing: their instruction coefficients are those of the
nearest measured ISA (Cortex-M4 for AArch64, RV32IMC for RV64GC), so their instruction predictions
are unvalidated.  Weak priors (PRIOR, LAMBDA in the tool: ~1.5 instructions per term, ~20 per
requantized output, ...) settle the directions the few models leave open (pixels x channels against
pixels), at a cost of a point or two of error.

Where it misses: **pot** (one shifted term per nonzero weight) costs more per term than every
other format (each term carries its own load and shift), ternary/int2 (one unshifted term per
weight) a little more than int8 (about 2.2 terms share one load); one coefficient per term cannot
price all three, so pot is underestimated by ~15-28% and int8 overestimated by ~5-18% (the last
column leaves pot out).  The section at the end measures the fix.  Small layers (10 outputs) miss
most per layer: the per-output cost differs between Conv (~100 bytes: requantize and a strided
store inside the pixel loop) and Dense (~10-40 bytes) and the model has one coefficient for both.

16-bit activations (`--act-bits 16`, the CNN in int8 and ternary) measured +4%/+10%
instructions and +1.5%/+0.8% flash on Cortex-M4, +1.3%/+4.3% and 0% on RV32IMC against 8 bits:
a roughly constant extra (wider pools and pads), not a per-term cost, so it is not modelled.

"""

MD_EXT = """
## Proposed: price the weight loads and the shifts separately

A term costs more when it is alone in its weight (it then carries the load of the input code:
ternary, int2, pot have one term per nonzero weight, int8 about 2.2) and when it is shifted
(Thumb-2: `add.w ..., lsl #k` is 4 bytes where a plain `adds` is 2; RISC-V: an extra `slli`).
So `terms` alone cannot price pot (one shifted term per weight) and ternary (one unshifted term
per weight) and int8 (several terms per load) with one coefficient: pot is the worst case above.
With two more counts per layer -- nonzero weight codes (`nonzero`) and terms with a shift
(`shifted`), both known wherever `terms` is -- and coefficients `flash_per_weight`,
`flash_per_shift`, `instr_per_weight`, `instr_per_shift` the same fit gives (worst |error|).
On x86-64, where callgrind counts each layer function (the "Per layer" line above), a fit on the
layers alone leaves 32 of 120 layers more than 15% off in the committed form and 5 of 120 in this
one (worst 32%: the 4-term first Conv of concat).  A second, smaller gap: the per-output flash of
a Dense layer (~10-40 bytes) is well below a Conv's (~100); separate coefficients would fix the
10-output Dense layers that dominate the per-layer flash errors.

"""

if __name__ == "__main__":
    main()
