#!/usr/bin/python3
"""Batch-1 latency on this machine: shiftc's emitted C against ONNX Runtime.

    /usr/bin/python3 bench/latency.py [--shiftc build/shiftc] [--rounds 3] [--samples 20]
                                      [--models cnn,mlp,lstm,gru] [--out bench/latency.md]

For the bundled models (tests/fixtures/cnn, mlp, lstm, gru) it compiles
three host builds with shiftc (calibration tests/fixtures/calib.npy):

  int8 unrolled  shiftc compile M --calib C -o D                  (the default)
  int8 mac       shiftc compile M --calib C -o D --kernel mac
  float C        shiftc compile M --calib C -o D --float

and times each with `shiftc run D --target host --input X --json`:
seconds_per_inference, the median of single NAME_run calls in one native
process (the runner's --time mode: a 0.05 s warm-up, then at least 20 calls
and about 0.3 s, cycling over the images).  The timed call starts from the
input already quantized (NAME_quantize_input is outside it) and ends with
the output codes; the float build starts and ends with float32.  The runner
is built by the emitted Makefile with the machine's cc and its CFLAGS (-O2
unless CFLAGS is set in the environment).

ONNX Runtime runs the same .onnx file in Node (npm's onnxruntime-node,
pinned in bench/ort/package.json and installed here if missing, with
--ignore-scripts: the install script only fetches CUDA binaries) with
bench/ort/ort_time.js: one InferenceSession per job, CPU provider, default
graph optimisations, the same images wrapped in ort.Tensor objects once,
a 0.05 s warm-up, then each `await session.run()` of one image timed with
process.hrtime.bigint() until about 0.3 s and at least 20 calls; the median.
Jobs: intraOpNumThreads = interOpNumThreads = 1 (sequential execution),
the comparison; ORT's default threads, for reference; and the per-call
floor: a one-node model (Relu on the same [1,1,28,28] float input, made
here with onnx.helper) timed the same way, 1 thread.  ORT's time per call
includes the JS binding (N-API call, tensor wrapping, the output made into
a JS object); the floor is that overhead plus a 784-element Relu, and the
table gives ORT's time both raw and minus the floor.

Rounds: each round measures every model as shiftc (three builds, one
process each) then ORT (one node process: 1 thread, default, floor), the
order of the two reversed in every other round, so load from other jobs on
the machine falls on both alike; each cell of the table is the median of
the rounds.  Images: the first --samples of tests/fixtures/test_x.npy.
A sanity check compares ORT's and the float C build's outputs on the first
image with torch's logits (tests/fixtures/*_ref_logits.npy).

Writes the table, machine facts and every round's numbers to stdout and
--out (default bench/latency.md).  Needs node and npm (Node 16 or newer).
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")
ORT_DIR = os.path.join(ROOT, "bench", "ort")
ORT_VERSION = "1.20.1"  # also in bench/ort/package.json; the CPU build runs on Node 16+
# (column, extra compile flags)
BUILDS = [("int8 unrolled", []), ("int8 mac", ["--kernel", "mac"]), ("float C", ["--float"])]
ORT_JOBS = [("ORT 1 thread", 1), ("ORT default threads", "default")]


def die(msg):
    sys.exit("bench/latency.py: " + msg)


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        die("failed (exit %d): %s\n%s" % (r.returncode, " ".join(argv), (r.stderr or r.stdout)[-3000:]))
    return r.stdout


def ensure_ort():
    """onnxruntime-node in bench/ort/node_modules (npm ci from the lock file,
    or npm install of the pinned version)"""
    if not shutil.which("node") or not shutil.which("npm"):
        die("node and npm are needed for ONNX Runtime (Debian: nodejs npm)")
    v = run(["node", "--version"]).strip()
    if int(re.match(r"v(\d+)", v).group(1)) < 16:
        die("onnxruntime-node %s needs Node 16 or newer, this is %s" % (ORT_VERSION, v))
    if os.path.exists(os.path.join(ORT_DIR, "node_modules", "onnxruntime-node", "package.json")):
        return v
    print("installing onnxruntime-node %s into bench/ort/ ..." % ORT_VERSION, file=sys.stderr)
    if os.path.exists(os.path.join(ORT_DIR, "package-lock.json")):
        run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", ORT_DIR])
    else:
        run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", ORT_DIR,
             "onnxruntime-node@" + ORT_VERSION])
    return v


def floor_model(path, shape):
    """one Relu on the models' input shape: ORT's per-call floor"""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)
    m = helper.make_model(helper.make_graph([helper.make_node("Relu", ["input"], ["y"])], "floor", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def machine_facts():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    cc = os.environ.get("CC", "cc")
    ccv = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.splitlines()
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "cc": "%s (%s)" % (cc, ccv[0] if ccv else "?"), "cflags": os.environ.get("CFLAGS")}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def shiftc_time(shiftc, d, x, tmp):
    j = json.loads(run([shiftc, "run", d, "--target", "host", "--input", x, "--output",
                        os.path.join(tmp, "y.npy"), "--json"]).strip().splitlines()[-1])
    if j.get("seconds_per_inference") is None:
        die("%s run --json gave no seconds_per_inference: an older shiftc? (set --shiftc or SHIFTC)" % shiftc)
    return j


def ort_job(model, x_raw, shape, samples, threads):
    """one job of ort_time.js: MODEL on the first SAMPLES float32 inputs of x_raw, THREADS threads"""
    return {"model": model, "input": x_raw, "shape": shape, "samples": samples, "threads": threads,
            "budget": 0.3, "min_runs": 20, "warmup": 0.05}


def ort_time(jobs, tmp):
    p = os.path.join(tmp, "jobs.json")
    with open(p, "w") as f:
        json.dump(jobs, f)
    out = run(["node", os.path.join(ORT_DIR, "ort_time.js"), p])
    return [json.loads(line) for line in out.strip().splitlines()]


def us(s):
    return "%.1f" % (1e6 * s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shiftc", default=os.environ.get("SHIFTC", os.path.join(ROOT, "build", "shiftc")))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--samples", type=int, default=20, help="images of test_x.npy cycled over (default 20)")
    ap.add_argument("--models", default="cnn,mlp,lstm,gru")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "latency.md"))
    a = ap.parse_args()
    if not os.access(a.shiftc, os.X_OK):
        die("%s not built (make)" % a.shiftc)
    node_version = ensure_ort()
    models = a.models.split(",")
    facts = machine_facts()
    load_start = loadavg()
    tmp = tempfile.mkdtemp(prefix="shiftc-latency-")
    try:
        xs = np.ascontiguousarray(np.load(os.path.join(FIX, "test_x.npy"))[:a.samples], dtype="<f4")
        x_npy, x_raw = os.path.join(tmp, "x.npy"), os.path.join(tmp, "x.f32")
        np.save(x_npy, xs)
        xs.tofile(x_raw)
        shape = [1] + list(xs.shape[1:])
        floor_path = os.path.join(tmp, "floor_relu.onnx")
        floor_model(floor_path, shape)

        # compile every build and run it once (builds the runner; not timed here)
        dirs, first = {}, {}
        for m in models:
            for col, flags in BUILDS:
                d = os.path.join(tmp, "%s-%s" % (m, col.replace(" ", "-")))
                run([a.shiftc, "compile", os.path.join(FIX, m + ".onnx"), "--calib", os.path.join(FIX, "calib.npy"),
                     "-o", d] + flags)
                dirs[(m, col)] = d
                first[(m, col)] = shiftc_time(a.shiftc, d, x_npy, tmp)
                if col == "float C":
                    first[(m, "float out")] = np.load(os.path.join(tmp, "y.npy"))[0].ravel()

        rounds = {}  # (model, column) -> [seconds per round]
        ort_version, ort_first = None, {}
        for r in range(a.rounds):
            for m in models:
                def shiftc_part():
                    for col, _ in BUILDS:
                        j = shiftc_time(a.shiftc, dirs[(m, col)], x_npy, tmp)
                        rounds.setdefault((m, col), []).append(j["seconds_per_inference"])

                def ort_part():
                    nonlocal ort_version
                    jobs = [ort_job(os.path.join(FIX, m + ".onnx"), x_raw, shape, len(xs), t) for _, t in ORT_JOBS] \
                        + [ort_job(floor_path, x_raw, shape, len(xs), 1)]
                    res = ort_time(jobs, tmp)
                    for (col, _), j in zip(ORT_JOBS + [("ORT floor", 1)], res):
                        rounds.setdefault((m, col), []).append(j["seconds"])
                    ort_version = res[0]["ort_version"]
                    ort_first[m] = np.array(res[0]["first_output"], dtype=np.float32)

                for part in ((shiftc_part, ort_part) if r % 2 == 0 else (ort_part, shiftc_part)):
                    part()
        load_end = loadavg()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in rounds.items()}
    lines = []
    lines.append("# Batch-1 latency: shiftc's emitted C vs ONNX Runtime (x86-64 host)")
    lines.append("")
    lines.append("Microseconds per inference, batch 1, median of %d interleaved rounds (each round: the "
                 "median of single timed calls, >= 20 calls and ~0.3 s after a warm-up). Reproduce: "
                 "`/usr/bin/python3 bench/latency.py`. Timings are from one run on a shared %d-core "
                 "machine (another long job was running); expect a few tens of percent of noise."
                 % (a.rounds, facts["nproc"]))
    lines.append("")
    lines.append("| model | shiftc int8 unrolled | shiftc int8 mac | shiftc float C | ORT 1 thread | "
                 "ORT default threads | ORT per-call floor | ORT 1 thread − floor | ratio ORT/shiftc int8 "
                 "unrolled (raw; floor-subtracted) |")
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for m in models:
        u, o1, fl = med[(m, "int8 unrolled")], med[(m, "ORT 1 thread")], med[(m, "ORT floor")]
        cells = [m] + [us(med[(m, c)]) for c, _ in BUILDS] + [us(o1), us(med[(m, "ORT default threads")]), us(fl),
                                                                 us(o1 - fl)]
        cells.append("%.2f; %.2f" % (o1 / u, (o1 - fl) / u))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Ratio > 1: shiftc is faster; the goal for the CNN is >= 2 (twice as fast as ONNX Runtime).")
    lines.append("")
    lines.append("## What was measured")
    lines.append("")
    lines.append("- shiftc: `shiftc compile M --calib tests/fixtures/calib.npy -o D` (int8 weights and "
                 "activations, unrolled kernels), the same with `--kernel mac`, and with `--float`; then "
                 "`shiftc run D --target host --input X --output Y --json`, `seconds_per_inference`: the "
                 "median of single `NAME_run` calls in one native process (the runner's `--time` mode). "
                 "The int8 timing starts from quantized input codes (`NAME_quantize_input` of the 784 "
                 "floats is outside it) and ends with output codes; the float build is float32 in and out. "
                 "Runner built by the emitted Makefile: `%s`, CFLAGS %s."
                 % (facts["cc"], "`%s` (environment)" % facts["cflags"] if facts["cflags"]
                    else "`-O2 -std=c99 ...` (the Makefile's default)"))
    lines.append("- ONNX Runtime %s (npm `onnxruntime-node`, CPU provider, bundled libonnxruntime.so; "
                 "Node %s), `bench/ort/ort_time.js`: one `InferenceSession` per job (default graph "
                 "optimisations), the images wrapped in `ort.Tensor` once, a 0.05 s warm-up, then each "
                 "`await session.run({input})` of one image timed with `process.hrtime.bigint()` until "
                 "~0.3 s and >= 20 calls; the median. *1 thread*: `intraOpNumThreads` = "
                 "`interOpNumThreads` = 1, sequential execution (the comparison). *Default threads*: "
                 "ORT's own choice, for reference." % (ort_version, node_version))
    lines.append("- ORT per-call floor: a one-node ONNX model (Relu on a float [1,1,28,28] input, made "
                 "with onnx.helper) timed the same way with 1 thread, measured in the same round as each "
                 "model. It is the JS binding's cost per call (N-API call, input checks, the output made "
                 "into a JS tensor) plus ORT's session overhead and a 784-element Relu. "
                 "*ORT 1 thread − floor* subtracts it: an estimate of what ORT's C API would cost "
                 "(its own session overhead is subtracted too, so it flatters ORT slightly).")
    lines.append("- Interleaving: each round measures every model with shiftc (three builds, one process "
                 "each) and ORT (one node process: 1 thread, default, floor), shiftc first in odd rounds "
                 "and ORT first in even ones. Images: the first %d of tests/fixtures/test_x.npy, cycled."
                 % a.samples)
    lines.append("")
    lines.append("Sanity check, first image, max |output − torch's logits| (tests/fixtures/*_ref_logits.npy): "
                 + ", ".join("%s ORT %.1e, float C %.1e" % (
                     m, float(np.max(np.abs(ort_first[m][:10] - np.load(os.path.join(FIX, m + "_ref_logits.npy"))[0]))),
                     float(np.max(np.abs(first[(m, "float out")][:10]
                                         - np.load(os.path.join(FIX, m + "_ref_logits.npy"))[0]))))
                     for m in models) + ".")
    lines.append("")
    lines.append("## Machine")
    lines.append("")
    lines.append("- nproc %d; CPU: %s; Linux %s" % (facts["nproc"], facts["cpu"], facts["kernel"]))
    lines.append("- load average (1, 5, 15 min) at start: %s; at end: %s" % (load_start, load_end))
    lines.append("- one run on a shared %d-core machine; shiftc `%s`" % (
        facts["nproc"], os.path.relpath(a.shiftc, ROOT)))
    lines.append("")
    lines.append("## Every round (µs)")
    lines.append("")
    cols = [c for c, _ in BUILDS] + [c for c, _ in ORT_JOBS] + ["ORT floor"]
    lines.append("| model | " + " | ".join(cols) + " |")
    lines.append("| --- |" + " ---: |" * len(cols))
    for m in models:
        lines.append("| %s | " % m + " | ".join(" / ".join(us(s) for s in rounds[(m, c)]) for c in cols) + " |")
    lines.append("")
    lines.append("shiftc instructions per inference (callgrind, inside NAME_run): " + ", ".join(
        "%s %s %.0f" % (m, c, first[(m, c)]["instructions_per_inference"])
        for m in models for c, _ in BUILDS if first[(m, c)].get("instructions_per_inference")) + ".")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(a.out, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
