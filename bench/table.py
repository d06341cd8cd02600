#!/usr/bin/python3
"""One command, one table: every build of the bundled models on every target.

    nice -n 10 /usr/bin/python3 bench/table.py [--targets x86_64,aarch64,cortex-m4,rv32imc]
        [--models cnn,mlp] [--images 600] [--budgets KIND=F[+KIND=F][:BASE],...] [--samples 4]
        [--quick] [--shiftc build/shiftc] [--out bench/table.md] [--keep DIR]

Part 1, per model x target x build, compiled with `shiftc compile --target T --json`
(calibration tests/fixtures/calib.npy) and run with `shiftc run --target T --json` on the
first --samples test images:
  float C        --float
  int8 mac       --kernel mac
  int8 unrolled  (the default: int8 weights, unrolled shift-add kernels)
  mixed          --budget KIND=V --rounding gptq (--mixed-rounding) for each --budgets
                 entry KIND=F:BASE, V being F times
                 the int8 BASE (mac or unrolled) build's measured value on that target
                 (instructions per inference, or flash bytes; by default 0.48x the mac
                 build's instructions; half of them within the mac build's flash,
                 KIND=F+KIND=F:BASE, a budget with a cap, searched with
                 --kernel-candidates unrolled,mac; half the unrolled build's
                 instructions; half its flash), with the Hessian traces of
                 `shiftc sensitivity` computed once per model (--sensitivity)
Columns: instructions per inference (the target's counter of `shiftc run`; on aarch64
bench/qemu_count.py's trace count), per MAC (MACs of the Conv and Gemm nodes, from the
ONNX shapes), per executed weight term (the whole inference over the sum, over unrolled
layers, of the layer's shift-add terms times its output pixels: an upper bound that
includes everything outside the terms), flash and RAM (`shiftc run --json`: text + data,
data + bss + the measured stack on bare metal), accuracy (top-1 of `shiftc eval`, the
integer simulator, on the first --images test images) and whether the runner's output
codes equal the simulator's on the counted images.  On x86_64, the batch-1 latency of
the runner (`shiftc run`'s seconds_per_inference) and of ONNX Runtime (npm
onnxruntime-node, bench/latency.py's ort_time.js, 1 thread, and its per-call floor)
measured in the same run.

Part 2, instructions per nonzero weight term per target, on bench/mac.py's one-layer
models (Dense 784->64; Conv 3x3 16->32 stride 2 on 14x14) at --weights ternary, pot and
int8, unrolled: (instructions of the layer - instructions of the same layer with every
weight zero) / (the layer's shift-add terms x its output pixels).  The zero-weight model
has the same input, bias, requantization and stores, and no terms, so the difference is
what the terms cost.

Writes --out (markdown) and the plot next to it (.svg: accuracy vs instructions per
inference, one panel per target).  --quick: 100 images, 1 counted sample, the first
budget only, the Dense layer only in part 2.
"""
import argparse
import concurrent.futures as cf
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
FIX = os.path.join(ROOT, "tests", "fixtures")
sys.path.insert(0, BENCH)
import latency  # noqa: E402
import mac as mac_bench  # noqa: E402
import mixed  # noqa: E402
import qemu_count  # noqa: E402
import svgplot  # noqa: E402

BUILDS = [("float C", ["--float"]), ("int8 mac", ["--kernel", "mac"]), ("int8 unrolled", [])]
# mixed builds: half the unrolled build's instructions and flash, the mac build's instructions
# (the mac build's flash is out of reach of unrolled kernels: a table byte per weight)
DEFAULT_BUDGETS = "instructions=0.48:mac,instructions=0.5+flash=1:mac,instructions=0.5:unrolled,flash=0.5:unrolled"
TERM_FORMATS = ["ternary", "pot", "int8"]
TERM_GOALS = {"cortex-m4": 1.2, "aarch64": 1.2, "rv32imc": 2.2}
COLOURS = {"float C": "#7f7f7f", "int8 mac": "#1f77b4", "int8 unrolled": "#d62728", "mixed": "#2ca02c"}


def log(msg):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))


def shiftc_json(argv, logpath):
    """the last line of stdout as JSON, or {"error": ...}"""
    r = subprocess.run(argv, capture_output=True, text=True)
    with open(logpath, "w") as f:
        f.write(" ".join(argv) + "\n" + r.stdout + r.stderr)
    if r.returncode != 0:
        msg = ((r.stderr.strip() or r.stdout.strip()).splitlines() or ["exit %d" % r.returncode])[-1]
        return {"error": msg.replace(ROOT + os.sep, "")}  # the table names files relative to the project
    return json.loads(r.stdout.strip().splitlines()[-1])


def layer_work(path):
    """node name -> (MACs, output pixels) of every Conv, Gemm and MatMul, from the ONNX shapes"""
    m = shape_inference.infer_shapes(onnx.load(path))
    shapes = {v.name: [max(d.dim_value, 1) for d in v.type.tensor_type.shape.dim]
              for v in list(m.graph.input) + list(m.graph.value_info) + list(m.graph.output)}
    inits = {i.name: list(i.dims) for i in m.graph.initializer}
    work = {}
    for n in m.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        y = shapes.get(n.output[0])
        w = inits.get(n.input[1]) if len(n.input) > 1 else None
        if n.op_type == "Conv" and y and w:
            work[n.name] = (math.prod(y[1:]) * math.prod(w[1:]), math.prod(y[2:]))
        elif n.op_type in ("Gemm", "MatMul") and y and w:
            k = w[1] if n.op_type == "Gemm" and attrs.get("transB", 0) else w[0]
            work[n.name] = (math.prod(y) * k, 1)
    return work


# the first comment of every emitted layer file (a layer may be split into parts)
HEADER = re.compile(r'\* Node \d+: \w+ "([^"]*)"(?:, part \d+ of \d+)?: output channels \d+\.\.\d+, (\d+) shift-add terms')


def executed_terms(d, work):
    """sum over the emitted unrolled layers of their terms x output pixels (None if there are none)"""
    total = 0
    for f in sorted(os.listdir(d)):
        if re.search(r"_l\d+(_\d+)?\.c$", f):
            with open(os.path.join(d, f)) as fh:
                m = HEADER.search(fh.read(2000))
            if m:
                total += int(m.group(2)) * work.get(m.group(1), (0, 1))[1]
    return total or None


class Bench:
    def __init__(self, a, tmp):
        self.a, self.tmp = a, tmp

    def path(self, *parts):
        return os.path.join(self.tmp, re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(parts)))

    def compile_run(self, model_path, flags, target, x, tag, calib=os.path.join(FIX, "calib.npy")):
        """compile, run on x, count: the run's JSON plus the compile's, or {"error"}"""
        d = self.path(tag, target)
        c = shiftc_json([self.a.shiftc, "compile", model_path, "--calib", calib,
                         "--target", target, "--json", "--no-verify", "-o", d] + flags, d + "-compile.log")
        if "error" in c:
            return c
        r = shiftc_json([self.a.shiftc, "run", d, "--input", x, "--output", d + "-y.npy", "--target", target,
                         "--json"], d + "-run.log")
        if "error" in r:
            return r
        r["compile"], r["dir"], r["y"] = c, d, d + "-y.npy"
        if target == "aarch64":
            try:
                r["instructions_per_inference"] = qemu_count.count(d, x, "aarch64", c["name"])
                r["counter"] = "qemu trace"
            except (RuntimeError, subprocess.CalledProcessError) as e:
                r["counter_error"] = str(e)
        return r

    def evaluate(self, model, flags, tag):
        q = self.path(tag, "q.npy")
        j = shiftc_json([self.a.shiftc, "eval", os.path.join(FIX, model + ".onnx"), "--calib",
                         os.path.join(FIX, "calib.npy"), "--data", self.x_eval, "--labels", self.y_eval, "--json",
                         "--quant-output", q] + flags, q + ".log")
        j["q"] = q
        return j


def same_codes(run_y, eval_q, k):
    a, b = np.load(run_y), np.load(eval_q)
    return a.dtype == b.dtype and np.array_equal(a.reshape(k, -1), b.reshape(b.shape[0], -1)[:k])


def budget_text(items, base):
    """'0.5x mac instructions, 1x mac flash'"""
    return ", ".join("%gx %s %s" % (factor, base, kind) for kind, factor in items)


def model_rows(b, model, targets, budgets):
    """rows of part 1 for one model"""
    a = b.a
    path = os.path.join(FIX, model + ".onnx")
    work = layer_work(path)
    macs = sum(m for m, _ in work.values())
    sens = None
    if budgets:
        mixed.SHIFTC = a.shiftc
        sens = b.path(model, "sens.json")
        with open(sens, "w") as f:
            subprocess.run([a.shiftc, "sensitivity", path, "--calib", os.path.join(FIX, "calib.npy"), "--labels",
                            mixed.calib_labels(model, b.tmp), "--json"], check=True, stdout=f,
                           stderr=subprocess.DEVNULL)
    log("%s: eval of the fixed builds" % model)
    ev = {"int8 mac": b.evaluate(model, ["--kernel", "mac"], model + "-mac"),
          "int8 unrolled": b.evaluate(model, [], model + "-unrolled")}
    float_acc = ev["int8 unrolled"].get("float_accuracy")

    def one_target(t):
        rows = []

        def add(build, flags, note, e):
            log("%s %s %s" % (model, t, build + (" " + note if note else "")))
            r = b.compile_run(path, flags, t, b.x_count, "%s-%s-%s" % (model, build, note))
            row = dict(model=model, target=t, build=build, note=note, macs=macs, error=r.get("error"))
            if row["error"]:
                rows.append(row)
                return row
            instr = r.get("instructions_per_inference")
            terms = executed_terms(r["dir"], work) if "--float" not in flags else None
            row.update(instr=instr, per_mac=instr / macs if instr else None,
                       per_term=instr / terms if instr and terms else None, terms=terms,
                       flash=r["flash_bytes"], ram=r["ram_bytes"], stack=r.get("stack_bytes"),
                       seconds=r.get("seconds_per_inference"), counter=r.get("counter"),
                       counter_error=r.get("counter_error"), search=r["compile"].get("search"))
            if "--float" in flags:
                row.update(acc=float_acc, exact=None)
            elif e is not None and "error" not in e:
                row.update(acc=e["quant_accuracy"], exact=same_codes(r["y"], e["q"], a.samples))
            else:
                row.update(acc=None, exact=None, error=e.get("error") if e else None)
            rows.append(row)
            return row

        fixed = {build: add(build, flags, "", ev.get(build)) for build, flags in BUILDS}
        for items, base in budgets:
            refs = [fixed["int8 " + base].get("instr" if kind == "instructions" else "flash") for kind, _ in items]
            if not all(refs):
                rows.append(dict(model=model, target=t, build="mixed", note=budget_text(items, base), macs=macs,
                                 error="no measured %s of the %s build on %s" % (items[0][0], base, t)))
                continue
            limits = ["%s=%d" % (kind, int(round(factor * ref))) for (kind, factor), ref in zip(items, refs)]
            # a cap on the mac build's flash needs the mac style among the candidates
            kernels = "unrolled,mac" if len(items) > 1 else a.mixed_kernels
            flags = ["--budget", ",".join(limits), "--sensitivity", sens, "--kernel-candidates", kernels,
                     "--rounding", a.mixed_rounding]
            note = "%s (%s)" % (",".join(limits), budget_text(items, base))
            if kernels != a.mixed_kernels:
                note += ", kernels %s" % kernels
            e = b.evaluate(model, flags + ["--target", t], "%s-%s-%s" % (model, t, "-".join(limits).replace("=", "")))
            row = add("mixed", flags, note, e)
            if row.get("search"):
                row["note"] += ", %.2f bits: %s" % (row["search"]["average_bits"], ", ".join(
                    l["weights"] + (" mac" if l["kernel"] == "mac" else "") for l in row["search"]["layers"]))
        return rows

    with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        rows = [r for rs in ex.map(one_target, targets) for r in rs]
    if "x86_64" in targets and not a.no_ort:
        rows += ort_rows(b, model, macs)
    return rows


def ort_rows(b, model, macs):
    """ONNX Runtime, 1 thread, and its per-call floor, on the counted images"""
    log("%s: ONNX Runtime" % model)
    try:
        latency.ensure_ort()
    except SystemExit as e:
        return [dict(model=model, target="x86_64", build="ONNX Runtime", note="", macs=macs, error=str(e))]
    xs = np.ascontiguousarray(np.load(b.x_count), dtype="<f4")
    raw = b.path(model, "ort-x.f32")
    xs.tofile(raw)
    shape = [1] + list(xs.shape[1:])
    floor = b.path("floor.onnx")
    latency.floor_model(floor, shape)
    res = latency.ort_time([latency.ort_job(os.path.join(FIX, model + ".onnx"), raw, shape, len(xs), 1),
                            latency.ort_job(floor, raw, shape, len(xs), 1)], b.tmp)
    return [dict(model=model, target="x86_64", build="ONNX Runtime", macs=macs, error=None, seconds=res[0]["seconds"],
                 floor=res[1]["seconds"], note="onnxruntime-node %s, 1 thread" % res[0]["ort_version"])]


def term_rows(b, targets, layers):
    """part 2: instructions per nonzero weight term of one-layer models"""
    a = b.a
    rng = np.random.default_rng(1)
    models = mac_bench.build(b.tmp, rng)
    pixels = {"fc": 1, "conv": 7 * 7}
    jobs = []
    for name in layers:
        path, _, xshape, what = models[name]
        m = onnx.load(path)
        for init in m.graph.initializer:
            if init.name == "w":
                init.CopyFrom(numpy_helper.from_array(np.zeros_like(numpy_helper.to_array(init)), "w"))
        zero = path[:-5] + "_zero.onnx"
        onnx.save(m, zero)
        x, calib = b.path(name, "x.npy"), b.path(name, "calib.npy")
        np.save(calib, rng.standard_normal([64] + xshape[1:]).astype(np.float32))
        np.save(x, rng.standard_normal([1] + xshape[1:]).astype(np.float32))
        for fmt in TERM_FORMATS:
            for t in targets:
                jobs.append((name, what, path, zero, x, calib, fmt, t))

    def one(job):
        name, what, path, zero, x, calib, fmt, t = job
        log("terms: %s %s %s" % (name, fmt, t))
        flags = ["--weights", fmt]
        r = b.compile_run(path, flags, t, x, "terms-%s-%s" % (name, fmt), calib)
        z = b.compile_run(zero, flags, t, x, "terms-%s-%s-zero" % (name, fmt), calib)
        row = dict(layer=what, fmt=fmt, target=t, error=r.get("error") or z.get("error"))
        if row["error"]:
            return row
        terms = r["compile"]["shift_add_terms"] * pixels[name]
        i1, i0 = r.get("instructions_per_inference"), z.get("instructions_per_inference")
        row.update(terms=terms, instr=i1, instr_zero=i0, zero_terms=z["compile"]["shift_add_terms"],
                   per_term=(i1 - i0) / terms if i1 is not None and i0 is not None and terms else None)
        return row

    with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        return list(ex.map(one, jobs))


def fmt_int(v):
    return "%d" % round(v) if v is not None else "-"


def fmt_f(v, p=2):
    return ("%%.%df" % p) % v if v is not None else "-"


def us(s):
    return "%.1f" % (1e6 * s) if s is not None else "-"


def write_md(a, rows, trows, wall):
    L = ["# Instructions, flash, RAM, accuracy and latency of every build on every target", "",
         "Reproduce: `nice -n 10 /usr/bin/python3 bench/table.py%s` (%.0f minutes here). "
         "Accuracy: top-1 %% on the first %d bundled test images (tests/fixtures/test_x.npy); "
         "instructions: the mean over the first %d of them." % (
             " " + " ".join(a.argv) if a.argv else "", wall / 60, a.images, a.samples), "",
         "| model | target | build | instructions | instr/MAC | instr/term | flash B | RAM B | top-1 % | "
         "== simulator | latency µs | notes |",
         "|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|"]
    for r in rows:
        if r.get("error"):
            L.append("| %s | %s | %s | | | | | | | | | failed: %s %s |" % (
                r["model"], r["target"], r["build"], r["error"].replace("|", "/"), r.get("note") or ""))
            continue
        if r["build"] == "ONNX Runtime":
            L.append("| %s | %s | %s | | | | | | | | %s | %s; per-call floor (a one-node Relu model) %s µs, "
                     "minus the floor %s µs |" % (r["model"], r["target"], r["build"], us(r["seconds"]), r["note"],
                                                  us(r["floor"]), us(r["seconds"] - r["floor"])))
            continue
        note = r["note"]
        if r.get("counter_error"):
            note += " (no count: %s)" % r["counter_error"]
        ram = fmt_int(r["ram"]) + (" (stack %d)" % r["stack"] if r.get("stack") else "")
        exact = "-" if r.get("exact") is None else "bit-exact" if r["exact"] else "DIFFERS"
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["model"], r["target"], r["build"], fmt_int(r["instr"]), fmt_f(r["per_mac"]), fmt_f(r["per_term"]),
            fmt_int(r["flash"]), ram, fmt_f(100 * r["acc"] if r.get("acc") is not None else None),
            exact, us(r.get("seconds")) if r["target"] == "x86_64" else "", note))
    macs = {r["model"]: r["macs"] for r in rows}
    L += ["", "MACs per inference (Conv and Gemm nodes, from the ONNX shapes): " +
          ", ".join("%s %d" % kv for kv in macs.items()) + ".", "",
          "## Notes", "",
          "- Instructions: inside `NAME_run` (`NAME_run_float` for float C), the mean over the counted images: "
          "callgrind on x86_64, SysTick x 40 on cortex-m4 (QEMU -icount), minstret on rv32imc (exact), and on "
          "aarch64, where `shiftc run` has no counter under qemu-user, bench/qemu_count.py: "
          "`qemu-aarch64 -singlestep -d nochain,exec` logs one line per executed instruction and the lines "
          "from NAME_run's entry to the instruction after its call are counted (validated on a loop of known "
          "length, and against callgrind on x86-64 builds: `bench/qemu_count.py --validate`).",
          "- instr/term: the whole inference over the executed shift-add terms of the unrolled layers "
          "(each layer's terms x its output pixels): everything else (requantization, pooling, the padded "
          "copy) is included, so it is an upper bound; part 2 measures the terms alone.",
          "- Accuracy is the integer simulator's (`shiftc eval`) on the first %d images; the emitted C is "
          "bit-exact with it (*== simulator* compares the runner's output codes with eval's on the counted "
          "images), so float C, int8 mac and int8 unrolled have one accuracy on every target and it is "
          "measured once. A mixed build is chosen per target (its budget and cost model are the target's), "
          "so it is evaluated per target, with the same `--budget`, `--sensitivity` and `--target`." % a.images,
          "- Mixed: `--rounding %s` and `--budget instructions=V` or `flash=V`, V a multiple of the int8 mac or unrolled build's "
          "measured instructions or flash on that target (the note says which); `instructions=V,flash=W` is "
          "the least Omega within both (searched over instructions, flash a cap), with `--kernel-candidates "
          "unrolled,mac`. The budget bounds the cost "
          "model's prediction, not the measurement, so the measured value may exceed it. The Hessian traces come from one `shiftc sensitivity` per "
          "model (200 calibration images, the float model's own labels). The note lists the average weight "
          "bits and each layer's format." % a.mixed_rounding,
          "- Flash: text + data of the model's objects; RAM: data + bss, plus the measured stack on bare metal.",
          "- Latency (x86_64 only, the machine this ran on, natively): `shiftc run`'s seconds_per_inference "
          "(median of single NAME_run calls, from quantized codes for integer builds) and ONNX Runtime in "
          "Node (bench/latency.py's method, one run, no interleaving: see bench/latency.md for the careful "
          "comparison). A shared machine: tens of percent of noise."]
    if trows:
        L += ["", "## Instructions per nonzero weight term (one-layer models)", "",
              "bench/mac.py's one-layer models; instructions per term = (instructions of the layer - "
              "instructions of the same layer with every weight zero) / (shift-add terms x output pixels). "
              "Both builds have the same input, bias, requantization and stores; the zero one has no term. "
              "One input image. Goal: <= 1.2 on cortex-m4 and aarch64, <= 2.2 on rv32imc.", "",
              "| layer | weights | target | terms executed | instructions | zero weights | instr/term | goal |",
              "|---|---|---|---:|---:|---:|---:|---|"]
        for r in trows:
            if r.get("error"):
                L.append("| %s | %s | %s | | | | | failed: %s |" % (r["layer"], r["fmt"], r["target"], r["error"]))
                continue
            g = TERM_GOALS.get(r["target"])
            met = "-" if g is None or r["per_term"] is None else ("<= %.1f: %s" % (g, "met" if r["per_term"] <= g
                                                                                   else "NOT met"))
            L.append("| %s | %s | %s | %d | %s | %s | %s | %s |" % (
                r["layer"], r["fmt"], r["target"], r["terms"], fmt_int(r["instr"]), fmt_int(r["instr_zero"]),
                fmt_f(r["per_term"]), met))
    return "\n".join(L) + "\n"


def write_svg(rows, targets, path):
    """top-1 vs instructions per inference (log), one panel per target"""
    W, H, M = 380, 300, 48
    parts = svgplot.start(W * len(targets), H + 30)
    for k, t in enumerate(targets):
        pts = [r for r in rows if r["target"] == t and not r.get("error") and r.get("instr") and
               r.get("acc") is not None]
        if not pts:
            continue
        lo = 10 ** math.floor(math.log10(min(r["instr"] for r in pts)))
        hi = 10 ** math.ceil(math.log10(max(r["instr"] for r in pts)))
        y0 = math.floor(100 * min(r["acc"] for r in pts) - 1)
        y1 = math.ceil(100 * max(r["acc"] for r in pts) + 1)
        pl = svgplot.Panel(parts, k * W, W, H, M, lo, hi, y0, y1, logx=True)
        pl.title(t)
        pl.frame()
        pl.xticks([10 ** e for e in range(int(math.log10(lo)), int(math.log10(hi)) + 1)], lambda v: "1e%d" % math.log10(v))
        step = 1 if y1 - y0 <= 8 else 2 if y1 - y0 <= 16 else 5
        pl.ygrid(range(int(math.ceil(y0 / step) * step), int(y1) + 1, step), lambda v: "%d" % v)
        pl.labels("instructions per inference", "top-1 %")
        for r in pts:
            pl.dot(r["instr"], 100 * r["acc"], COLOURS[r["build"]])
            pl.text(r["instr"], 100 * r["acc"], r["model"])
        for i, name in enumerate(COLOURS):
            pl.legend_entry(i, name, COLOURS[name], right=100)
    svgplot.finish(parts, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shiftc", default=os.environ.get("SHIFTC", os.path.join(ROOT, "build", "shiftc")))
    ap.add_argument("--targets", default="x86_64,aarch64,cortex-m4,rv32imc")
    ap.add_argument("--models", default="cnn,mlp")
    ap.add_argument("--images", type=int, default=None, help="test images for accuracy (default 600; --quick 100)")
    ap.add_argument("--samples", type=int, default=None, help="images whose instructions are counted (default 4)")
    ap.add_argument("--budgets", default=None,
                    help="mixed builds: KIND=F[+KIND=F][:BASE],... with KIND instructions or flash and F a "
                         "multiple of the measured value of the int8 BASE build, mac (the default) or unrolled; a "
                         "second KIND=F is a cap (default %s; --quick: the first)" % DEFAULT_BUDGETS)
    ap.add_argument("--mixed-kernels", default="unrolled",
                    help="--kernel-candidates of the mixed builds (default unrolled; unrolled,mac lets the search "
                         "pick MAC kernels too)")
    ap.add_argument("--mixed-rounding", default="gptq",
                    help="--rounding of the mixed builds (default gptq: error-feedback rounding of the low-bit "
                         "codes; nearest is shiftc's default)")
    ap.add_argument("--no-terms", action="store_true", help="skip part 2 (instructions per weight term)")
    ap.add_argument("--no-ort", action="store_true", help="skip ONNX Runtime")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", default=None, help="work in this directory and keep it")
    ap.add_argument("--out", default=os.path.join(BENCH, "table.md"))
    a = ap.parse_args()
    # the command line for the Reproduce line, without the machine's paths
    a.argv, skip = [], False
    for arg in sys.argv[1:]:
        if skip or arg.split("=")[0] in ("--shiftc", "--keep", "--out"):
            skip = "=" not in arg and not skip
            continue
        a.argv.append(arg)
    a.images = a.images or (100 if a.quick else 600)
    a.samples = a.samples or (1 if a.quick else 4)
    budgets = []
    for item in (a.budgets or DEFAULT_BUDGETS).split(","):
        m = re.fullmatch(r"(instructions|flash)=([0-9.]+)(?:\+(instructions|flash)=([0-9.]+))?(?::(mac|unrolled))?",
                         item)
        if not m or m.group(1) == m.group(3):
            ap.error("--budgets: %s is not KIND=F[+KIND=F][:BASE] (KIND instructions or flash, BASE mac or unrolled)"
                     % item)
        items = [(m.group(1), float(m.group(2)))] + ([(m.group(3), float(m.group(4)))] if m.group(3) else [])
        budgets.append((items, m.group(5) or "mac"))
    if a.quick and not a.budgets:
        budgets = budgets[:1]
    if not os.access(a.shiftc, os.X_OK):
        sys.exit("bench/table.py: %s not built (make)" % a.shiftc)
    targets = a.targets.split(",")
    tmp = a.keep or tempfile.mkdtemp(prefix="shiftc-table-")
    os.makedirs(tmp, exist_ok=True)
    t0 = time.time()
    b = Bench(a, tmp)
    xs, ys = np.load(os.path.join(FIX, "test_x.npy")), np.load(os.path.join(FIX, "test_y.npy"))
    b.x_eval, b.y_eval, b.x_count = (os.path.join(tmp, f) for f in ("x_eval.npy", "y_eval.npy", "x_count.npy"))
    np.save(b.x_eval, xs[:a.images])
    np.save(b.y_eval, ys[:a.images])
    np.save(b.x_count, xs[:a.samples])
    rows, trows = [], []

    def write():  # after every part, so a long run that is stopped leaves what it measured
        text = write_md(a, rows, trows, time.time() - t0)
        with open(a.out, "w") as f:
            f.write(text)
        write_svg(rows, targets, os.path.splitext(a.out)[0] + ".svg")
        return text

    for model in a.models.split(","):
        rows += model_rows(b, model, targets, budgets)
        write()
    if not a.no_terms:
        trows = term_rows(b, targets, ["fc"] if a.quick else ["fc", "conv"])
    sys.stdout.write(write())
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    bad = [r for r in rows if r.get("exact") is False]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
