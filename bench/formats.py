#!/usr/bin/python3
"""Weight formats x activation ranges on the bundled models: the README table.

    /usr/bin/python3 bench/formats.py [--full] [--jobs N] [--out bench/formats.md]

For tests/fixtures/mlp.onnx and cnn.onnx and every weight format (int8,
int6, int4, int3, int2, ternary, pot, nhot2, nhot3 -- those `shiftc eval
--help` lists; FORMATS="int8 pot" overrides) it runs

  shiftc eval MODEL --weights F --act-bits A --clip C --json

for 8-bit activations with --clip minmax and aciq, and 4-bit activations
with minmax, aciq and aciq-gauss (top-1 on the labelled test set, computed by
the integer simulator, which is bit-exact with the emitted C), and

  shiftc compile MODEL --weights F --size --json     (host, 8-bit activations)

for flash_bytes (text + data of the model's objects).  Weight terms (nonzero
signed digits: shift-add terms of the unrolled kernels) and weight bits
(storage) come from eval's JSON.  Bias correction is shiftc's default (on for
every format but int8).  Calibration: tests/fixtures/calib.npy (200 images).

Test set: tests/fixtures/test_x.npy / test_y.npy (600 images), or with
--full the 10000 Fashion-MNIST test images (/usr/share/datasets/fashion-mnist
or FMNIST_DIR), which resolves differences of a few tenths of a point.

Writes a markdown table to stdout and to --out (default bench/formats.md).
Environment: SHIFTC (default build/shiftc).
"""
import argparse
import concurrent.futures
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIFTC = os.environ.get("SHIFTC", os.path.join(ROOT, "build", "shiftc"))
FIX = os.path.join(ROOT, "tests", "fixtures")
WANTED = ["int8", "int6", "int4", "int3", "int2", "ternary", "pot", "nhot2", "nhot3"]
# (activation bits, clip) per accuracy column
CONFIGS = [(8, "minmax"), (8, "aciq"), (4, "minmax"), (4, "aciq"), (4, "aciq-gauss")]


def available_formats():
    """The weight formats this shiftc knows, in WANTED order (int8 only when
    eval has no --weights option yet)."""
    help_text = subprocess.run([SHIFTC, "eval", "--help"], capture_output=True, text=True).stdout
    m = re.search(r"--weights FMT.*?:\s*([a-z0-9, ]+)", help_text)
    if not m:
        return ["int8"]
    known = [f.strip() for f in m.group(1).split(",") if f.strip()]
    env = os.environ.get("FORMATS")
    wanted = env.split() if env else WANTED
    return [f for f in wanted if f in known]


def full_test_set(tmp):
    """The 10000 Fashion-MNIST test images as .npy files, pixel / 255."""
    import numpy as np

    d = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
    with gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255.0
    with gzip.open(os.path.join(d, "t10k-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    xp, yp = os.path.join(tmp, "x10k.npy"), os.path.join(tmp, "y10k.npy")
    np.save(xp, x)
    np.save(yp, y)
    return xp, yp


def run_json(argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": (r.stderr.strip() or r.stdout.strip()).splitlines()[-1:] or ["exit %d" % r.returncode]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def eval_job(model, fmt, bits, clip, x, y):
    argv = [SHIFTC, "eval", os.path.join(FIX, model + ".onnx"), "--calib", os.path.join(FIX, "calib.npy"),
            "--data", x, "--labels", y, "--act-bits", str(bits), "--clip", clip, "--json"]
    if fmt != "int8":  # the default, also where --weights does not exist
        argv += ["--weights", fmt]
    return run_json(argv)


def flash_job(model, fmt, tmp):
    out = os.path.join(tmp, "c-%s-%s" % (model, fmt))
    argv = [SHIFTC, "compile", os.path.join(FIX, model + ".onnx"), "--calib", os.path.join(FIX, "calib.npy"),
            "-o", out, "--size", "--json"]
    if fmt != "int8":
        argv += ["--weights", fmt]
    return run_json(argv)


def pct(j):
    return "%.2f" % (100 * j["quant_accuracy"]) if "quant_accuracy" in j else "err"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="the 10000 Fashion-MNIST test images")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "formats.md"))
    args = ap.parse_args()
    if not os.access(SHIFTC, os.X_OK):
        sys.exit("bench/formats.py: %s not built (make)" % SHIFTC)
    formats = available_formats()
    models = ["mlp", "cnn"]
    with tempfile.TemporaryDirectory(prefix="shiftc-formats-bench-") as tmp:
        if args.full:
            x, y = full_test_set(tmp)
            data = "the 10000 Fashion-MNIST test images"
        else:
            x, y = os.path.join(FIX, "test_x.npy"), os.path.join(FIX, "test_y.npy")
            data = "tests/fixtures/test_x.npy (600 images)"
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            evals = {(m, f, b, c): pool.submit(eval_job, m, f, b, c, x, y)
                     for m in models for f in formats for (b, c) in CONFIGS}
            flash = {(m, f): pool.submit(flash_job, m, f, tmp) for m in models for f in formats}
            evals = {k: v.result() for k, v in evals.items()}
            flash = {k: v.result() for k, v in flash.items()}

    lines = []
    lines.append("Top-1 accuracy (%%) on %s, calibration on tests/fixtures/calib.npy (200 images); "
                 "`a8`/`a4`: 8/4-bit activations, `mm` min/max ranges, `aciq` ACIQ Laplace, "
                 "`gauss` ACIQ Gaussian. Flash: `shiftc compile --size` on the host (x86-64, text + data), "
                 "8-bit activations. Weight terms: nonzero signed digits (shift-add terms); weight bits: "
                 "storage. Reproduce: `/usr/bin/python3 bench/formats.py%s`." % (data, " --full" if args.full else ""))
    lines.append("")
    lines.append("| model | float | weights | a8 mm | a8 aciq | a4 mm | a4 aciq | a4 gauss | flash bytes | weight terms | weight bits |")
    lines.append("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for m in models:
        for f in formats:
            base = evals[(m, f, 8, "minmax")]
            fl = flash[(m, f)]
            cells = [m, "%.2f" % (100 * base["float_accuracy"]) if "float_accuracy" in base else "err", f]
            cells += [pct(evals[(m, f, b, c)]) for (b, c) in CONFIGS]
            cells.append(str(fl.get("flash_bytes", "err")))
            cells.append(str(base.get("weight_terms", "n/a")))
            cells.append(str(base.get("weight_bits", "n/a")))
            lines.append("| " + " | ".join(cells) + " |")
    errors = [(k, v["error"]) for k, v in list(evals.items()) + list(flash.items()) if "error" in v]
    if errors:
        lines.append("")
        for k, e in errors:
            lines.append("- error %s: %s" % (" ".join(map(str, k)), " ".join(e)))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(args.out, "w") as f:
        f.write(text)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
