#!/usr/bin/python3
"""Quantized LSTM and GRU accuracy against float, and their cost on the targets.

    /usr/bin/python3 bench/rnn.py [--full] [--targets "cortex-m4 rv32imc"] [--jobs 2]

For the recurrent fixtures (tests/fixtures/lstm, gru: trained in float;
lstm_tern, gru_tern: trained ternary-aware, HitNet-style) and weight formats
int8, int4, ternary at 8- and 16-bit activations: top-1 of the float model
and of the integer simulator (bit-exact with the emitted C) with `shiftc
eval`, on the 600 bundled test images or with --full the 10000 Fashion-MNIST
test images.  Then each model compiled with int8 and ternary weights for each
target of --targets and run on 5 images: instructions per inference, flash
and RAM (`shiftc run --json`).  Writes bench/rnn.md.
"""
import argparse
import concurrent.futures
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from formats import full_test_set, run_json  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIFTC = os.environ.get("SHIFTC", os.path.join(ROOT, "build", "shiftc"))
FIX = os.path.join(ROOT, "tests", "fixtures")
MODELS = ["lstm", "gru", "lstm_tern", "gru_tern"]
VARIANTS = [("int8", 8), ("int8", 16), ("int4", 8), ("ternary", 8), ("ternary", 16)]


def eval_job(model, fmt, bits, x, y):
    return run_json([SHIFTC, "eval", os.path.join(FIX, model + ".onnx"), "--calib", os.path.join(FIX, "calib.npy"),
                     "--data", x, "--labels", y, "--weights", fmt, "--act-bits", str(bits), "--json"])


def target_job(model, fmt, target, tmp, x5):
    out = os.path.join(tmp, "%s-%s-%s" % (model, fmt, target))
    c = subprocess.run([SHIFTC, "compile", os.path.join(FIX, model + ".onnx"), "--calib",
                        os.path.join(FIX, "calib.npy"), "--weights", fmt, "--target", target, "-o", out],
                       capture_output=True, text=True)
    if c.returncode != 0:
        return {"error": c.stderr.strip().splitlines()[-1:]}
    return run_json([SHIFTC, "run", out, "--target", target, "--input", x5, "--output",
                     os.path.join(out, "y.npy"), "--json"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="the 10000 Fashion-MNIST test images")
    ap.add_argument("--targets", default="cortex-m4 rv32imc")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "rnn.md"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="shiftc-rnn-bench-")
    if args.full:
        x, y = full_test_set(tmp)
        data = "the 10000 Fashion-MNIST test images"
    else:
        x, y = os.path.join(FIX, "test_x.npy"), os.path.join(FIX, "test_y.npy")
        data = "the 600 bundled test images"
    x5 = os.path.join(tmp, "x5.npy")
    np.save(x5, np.load(os.path.join(FIX, "test_x.npy"))[:5])
    pool = concurrent.futures.ThreadPoolExecutor(args.jobs)
    acc = {(m, f, b): pool.submit(eval_job, m, f, b, x, y) for m in MODELS for f, b in VARIANTS}
    targets = args.targets.split()
    runs = {(m, f, t): pool.submit(target_job, m, f, t, tmp, x5)
            for m in MODELS for f in ("int8", "ternary") for t in targets}
    lines = ["# Quantized LSTM and GRU", "",
             "Top-1 %% on %s: the float model, and the integer simulator (bit-exact with the emitted C on "
             "every target, tests/rnn.sh) per weight format and activation width.  Reproduce: "
             "`/usr/bin/python3 bench/rnn.py%s`." % (data, " --full" if args.full else ""), "",
             "| model | float | " + " | ".join("%s, %d-bit act." % v for v in VARIANTS) + " |",
             "|---|---:|" + "---:|" * len(VARIANTS)]
    for m in MODELS:
        row, fa = [], None
        for f, b in VARIANTS:
            j = acc[(m, f, b)].result()
            if "error" in j:
                sys.exit("%s %s %d: %s" % (m, f, b, j["error"]))
            fa = j["float_accuracy"]
            row.append("%.2f" % (100 * j["quant_accuracy"]))
        lines.append("| %s | %.2f | %s |" % (m, 100 * fa, " | ".join(row)))
    lines += ["", "Per inference (28 steps), compiled for the target and run under QEMU on 5 images:", "",
              "| model | weights | target | instructions | flash bytes | RAM bytes |", "|---|---|---|---:|---:|---:|"]
    for (m, f, t), j in runs.items():
        j = j.result()
        if "error" in j:
            sys.exit("%s %s %s: %s" % (m, f, t, j["error"]))
        ins = j.get("instructions_per_inference")
        lines.append("| %s | %s | %s | %s | %s | %s |" % (m, f, t, "%.0f" % ins if ins else "-",
                                                      j.get("flash_bytes", "-"), j.get("ram_bytes", "-")))
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as fo:
        fo.write(text)
    print(text)


if __name__ == "__main__":
    main()
