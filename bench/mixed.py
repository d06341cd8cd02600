#!/usr/bin/python3
"""HAWQ-V2's claim at small scale: Hessian-chosen mixed precision vs uniform,
reverse and random assignments at equal cost.  The README table and plot.

    /usr/bin/python3 bench/mixed.py [--full] [--target cortex-m4] [--seeds 5] [--jobs 2]

For tests/fixtures/cnn.onnx and mlp.onnx:
  1. Hessian traces once (`shiftc sensitivity --json`, 200 calibration
     images, labelled by the float model's own top-1: what `--budget` does
     by default), reused by every run below through `--sensitivity`.
  2. Uniform precision: `shiftc eval --weights F` for F in int2, int3, int4,
     ternary, pot, nhot2; its predicted flash on the target comes from the
     same cost model (`--candidates F --budget flash=...`).
  3. At each uniform point's flash (equal flash) and at average weight bits
     2.5, 3, 3.5, 4 (equal bits), `shiftc eval --budget ...` with
       (a) the Hessian-Pareto choice: the default (least Omega among the
           frontier points under the budget, then the measured refinement:
           the 8 least-Omega points and the uniform assignments that fit,
           the one closest to the float model on the calibration inputs),
           and with --refine 0 (least Omega alone),
       (b) uniform: at equal flash the format itself; at equal bits the most
           accurate uniform format within the bits,
       (c) reverse: examples/policies/reverse.lua (the sensitivity ranking
           of the layers inverted: most bits to the least sensitive),
       (d) random: examples/policies/random.lua, --seeds seeds (mean, min, max).
  4. The Pareto choice at each flash budget is also compiled for the target
     (`shiftc compile --target T --json`) for its measured flash.
Accuracy: top-1 of the integer simulator (bit-exact with the emitted C) on
the 600 bundled test images, or with --full the 10000 Fashion-MNIST test
images.  Writes bench/mixed.md and bench/mixed.svg.
"""
import argparse
import concurrent.futures
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svgplot  # noqa: E402
from formats import full_test_set, run_json  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIFTC = os.environ.get("SHIFTC", os.path.join(ROOT, "build", "shiftc"))
FIX = os.path.join(ROOT, "tests", "fixtures")
POL = os.path.join(ROOT, "examples", "policies")
UNIFORM = ["int2", "ternary", "int3", "pot", "int4", "nhot2"]
BITS = [2.5, 3.0, 3.5, 4.0]


def eval_argv(model, x, y, extra):
    return [SHIFTC, "eval", os.path.join(FIX, model + ".onnx"), "--calib", os.path.join(FIX, "calib.npy"),
            "--data", x, "--labels", y, "--json"] + extra


def calib_labels(model, tmp):
    """The float model's top-1 on the calibration images."""
    out = os.path.join(tmp, "%s_calib_logits.npy" % model)
    calib = os.path.join(FIX, "calib.npy")
    ylab = os.path.join(tmp, "%s_calib_dummy.npy" % model)
    n = np.load(calib).shape[0]
    np.save(ylab, np.zeros(n, np.int64))
    subprocess.run([SHIFTC, "eval", os.path.join(FIX, model + ".onnx"), "--calib", calib, "--data", calib,
                    "--labels", ylab, "--float-output", out, "--json"], check=True, capture_output=True)
    lab = np.load(out).reshape(n, -1).argmax(1).astype(np.int64)
    path = os.path.join(tmp, "%s_calib_y.npy" % model)
    np.save(path, lab)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="the 10000 Fashion-MNIST test images")
    ap.add_argument("--target", default="cortex-m4", help="cost model of the flash budgets")
    ap.add_argument("--seeds", type=int, default=5, help="random assignments per budget")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--models", default="cnn mlp")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "mixed.md"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="shiftc-mixed-")
    if args.full:
        x, y = full_test_set(tmp)
    else:
        x, y = os.path.join(FIX, "test_x.npy"), os.path.join(FIX, "test_y.npy")
    pool = concurrent.futures.ThreadPoolExecutor(args.jobs)
    lines, plot = [], {}
    for model in args.models.split():
        sys.stderr.write("%s: Hessian traces...\n" % model)
        sens = os.path.join(tmp, model + "_sens.json")
        with open(sens, "w") as f:
            subprocess.run([SHIFTC, "sensitivity", os.path.join(FIX, model + ".onnx"), "--calib",
                            os.path.join(FIX, "calib.npy"), "--labels", calib_labels(model, tmp), "--json"],
                           check=True, stdout=f, stderr=subprocess.DEVNULL)
        common = ["--sensitivity", sens, "--target", args.target]

        def search(extra):
            return pool.submit(run_json, eval_argv(model, x, y, common + extra))

        # uniform points: accuracy and predicted flash / bits
        uni = {f: search(["--candidates", f, "--budget", "flash=1G"]) for f in UNIFORM}
        uni = {f: j.result() for f, j in uni.items()}
        for f, j in uni.items():
            if "error" in j:
                sys.exit("%s %s: %s" % (model, f, j["error"]))
        budgets = []  # (label, budget text, the uniform format it matches)
        for f in UNIFORM:
            fl = uni[f]["search"]["cost"]["flash"]
            budgets.append(("flash of uniform %s" % f, "flash=%d" % math.ceil(fl), f))
        for b in BITS:
            fits = [f for f in UNIFORM if uni[f]["search"]["average_bits"] <= b + 1e-9]
            best = max(fits, key=lambda f: uni[f]["quant_accuracy"]) if fits else None
            budgets.append(("%.1f bits" % b, "bits=%g" % b, best))
        jobs = []
        for label, btext, f in budgets:
            jobs.append((label, btext, f, search(["--budget", btext]), search(["--budget", btext, "--refine", "0"]),
                         search(["--budget", btext, "--policy", os.path.join(POL, "reverse.lua")]),
                         [search(["--budget", btext, "--policy", os.path.join(POL, "random.lua"),
                                  "--policy-arg", "seed=%d" % s]) for s in range(1, args.seeds + 1)],
                         pool.submit(run_json, [SHIFTC, "compile", os.path.join(FIX, model + ".onnx"), "--calib",
                                                os.path.join(FIX, "calib.npy"), "-o",
                                                os.path.join(tmp, "c_%s_%s" % (model, btext.replace("=", "_"))),
                                                "--no-verify", "--json", "--budget", btext] + common)))
        float_acc = None
        lines.append("\n### %s (%s cost model)\n" % (model.upper(), args.target))
        lines.append("| budget | uniform | uniform acc. | Hessian-Pareto acc. | picked | least-Omega acc. | avg bits | "
                     "predicted flash | measured flash | reverse acc. | random acc. (mean [min, max]) | assignment |")
        lines.append("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|")
        rows = []
        for label, btext, f, hj, h0j, rj, rnd, cj in jobs:
            h, h0, r, c = hj.result(), h0j.result(), rj.result(), cj.result()
            rs = [j.result() for j in rnd]
            for name, j in [("pareto", h), ("least-omega", h0), ("reverse", r), ("compile", c)] + [("random", j) for j in rs]:
                if "error" in j:
                    sys.exit("%s %s %s: %s" % (model, btext, name, j["error"]))
            float_acc = h["float_accuracy"]
            ra = [j["quant_accuracy"] for j in rs]
            ua = uni[f]["quant_accuracy"] if f else None
            assign = ", ".join("%s:%s" % (l["name"], l["weights"]) for l in h["search"]["layers"])
            picked = h["search"]["picked"].replace("frontier point", "point")
            lines.append("| %s | %s | %s | **%.2f** | %s | %.2f | %.2f | %.0f | %s | %.2f | %.2f [%.2f, %.2f] | %s |" % (
                label, f or "-", "%.2f" % (100 * ua) if ua is not None else "-", 100 * h["quant_accuracy"], picked,
                100 * h0["quant_accuracy"], h["search"]["average_bits"], h["search"]["cost"]["flash"], c.get("flash_bytes") or "-",
                100 * r["quant_accuracy"], 100 * np.mean(ra), 100 * min(ra), 100 * max(ra), assign))
            rows.append((label, btext, ua, h, r, ra))
        lines.append("\nFloat accuracy %.2f %%.  Uniform points (format: accuracy, average bits, predicted "
                     "flash): %s." % (100 * float_acc, "; ".join(
                         "%s: %.2f %%, %.2f bits, %.0f bytes" % (f, 100 * uni[f]["quant_accuracy"],
                                                                 uni[f]["search"]["average_bits"],
                                                                 uni[f]["search"]["cost"]["flash"])
                         for f in UNIFORM)))
        plot[model] = (rows, uni, float_acc)
    data = "the 10000 Fashion-MNIST test images" if args.full else "the 600 bundled test images"
    head = ["# Mixed precision vs uniform, reverse and random (HAWQ-V2's claim, small scale)", "",
            "Accuracy (%%) on %s, integer simulator (bit-exact with the emitted C); flash predicted by the %s "
            "cost model, and measured (text + data of the model's objects) for the Pareto choice.  "
            "Reproduce: `/usr/bin/python3 bench/mixed.py%s`." % (data, args.target, " --full" if args.full else ""),
            "", "Hessian-Pareto is what `--budget` does by default: the frontier points of least total Omega under "
            "the budget, refined by measurement (the 8 least-Omega points and the uniform assignments that fit are "
            "run on the 200 calibration images, and the one whose outputs are closest to the float model's, by KL "
            "divergence, is kept; *picked* names it).  *least-Omega* is `--refine 0`: the frontier point of least "
            "Omega alone.  Calibration images are training images; accuracy is measured on test images."]
    text = "\n".join(head + lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    write_svg(plot, os.path.splitext(args.out)[0] + ".svg")
    print(text)


def write_svg(plot, path):
    """Accuracy vs average weight bits per model: Pareto, uniform, reverse, random."""
    W, H, M = 460, 320, 48
    parts = svgplot.start(W * len(plot), H + 30)
    colours = {"Hessian-Pareto": "#d62728", "uniform": "#1f77b4", "reverse": "#7f7f7f", "random (mean)": "#2ca02c"}
    for k, (model, (rows, uni, fa)) in enumerate(plot.items()):
        pts = {"random (mean)": [], "reverse": [], "uniform": [], "Hessian-Pareto": []}  # drawn in this order
        for label, btext, ua, h, r, ra in rows:
            pts["Hessian-Pareto"].append((h["search"]["average_bits"], h["quant_accuracy"]))
            pts["reverse"].append((r["search"]["average_bits"], r["quant_accuracy"]))
            pts["random (mean)"].append((h["search"]["average_bits"], float(np.mean(ra))))
        for f, j in uni.items():
            pts["uniform"].append((j["search"]["average_bits"], j["quant_accuracy"]))
        allp = [p for v in pts.values() for p in v]
        x1 = max(4.5, max(p[0] for p in allp) + 0.2)
        y0 = min(p[1] for p in allp) - 0.01
        y1 = max(fa, max(p[1] for p in allp)) + 0.01
        pl = svgplot.Panel(parts, k * W, W, H, M, 1.5, x1, y0, y1)
        pl.title(model.upper())
        pl.frame()
        pl.xticks(np.arange(2, x1 + 0.01, 0.5), lambda b: "%.1f" % b)
        step = 0.02 if y1 - y0 > 0.08 else 0.01
        pl.ygrid(np.arange(np.ceil(y0 / step) * step, y1, step), lambda a: "%.0f" % (100 * a))
        pl.hline(fa, "float")
        pl.labels("average weight bits", "top-1 %")
        for i, (name, ps) in enumerate(pts.items()):
            if name == "Hessian-Pareto":
                pl.polyline(ps, colours[name])
            for bx, ac in ps:
                pl.dot(bx, ac, colours[name], hollow=name == "reverse")  # hollow: a Pareto point under it stays visible
            pl.legend_entry(i, name, colours[name])
    svgplot.finish(parts, path)


if __name__ == "__main__":
    main()
