#!/usr/bin/env python3
"""Instructions per MAC of the MAC kernel style (--kernel mac).

Builds three one-layer ONNX models with random integer-ish weights (int8
codes times a per-layer scale, so quantization keeps them as they are):
  fc      Gemm 784 -> 64
  conv    Conv 3x3, 16 -> 32 channels, stride 2, pad 1, on 14x14
  dw      depthwise Conv 3x3, 16 channels, stride 1, pad 1, on 14x14
compiles each with `shiftc compile --kernel mac --target T`, runs it with
`shiftc run --target T --json` (instructions_per_inference: SysTick x 40 on
cortex-m4, minstret on rv32imc), checks the outputs against
`shiftc eval --quant-output` byte for byte, and prints a table.  Nothing is
subtracted: the count is the whole inference (the padding copy, the
requantization and the stores included); an Identity-free model of one Relu
on the same input is measured too, as the runner's floor.

  /usr/bin/python3 bench/mac.py [--shiftc build/shiftc] [--targets cortex-m4,rv32imc]
                                [--kernels mac] [--keep DIR]
Writes nothing in the project (a temporary directory unless --keep).

  /usr/bin/python3 bench/mac.py --fit [--targets ...] [--keep DIR] [--md FILE]

--fit measures the cost model of the mac style (backends/cost.h, the mac_*
fields of CostModel): one-layer models of FIT_SHAPES (Dense, Conv and
depthwise Conv of several shapes, 8-bit activations) compiled with
`--kernel mac` for each target; flash of the layer is the target's `size`
(text + data) of NAME_lK.o, instructions of the layer the whole inference
(`run --json`, one image) minus the base the committed cost model predicts
(instr_per_element x the padded-copy elements: cost_base prices that copy).
Fitted by least squares on relative error with nonnegative coefficients:
  flash = mac_flash_per_weight * weights + mac_flash_per_output * channels
          + mac_flash_per_layer{,_conv,_dw}          (Dense, Conv, depthwise)
  instr = pixels * (mac_instr_per_mac{,_dw} * MACs per pixel
                    + mac_instr_per_output * channels) + mac_instr_per_layer
Targets without an instruction count (aarch64, riscv64 under qemu-user) get
flash only.  Prints the coefficients as C initialisers and every shape's
predicted vs measured values; --md writes that table.
"""
import argparse
import concurrent.futures as cf
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def weights(rng, shape, scale=0.01):
    return (rng.integers(-127, 128, size=shape).astype(np.float32) * scale)


def save_model(path, node, inits, xshape, yshape):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, xshape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, yshape)
    g = helper.make_graph([node], os.path.basename(path)[:-5], [x], [y],
                          [helper.make_tensor(n, TensorProto.FLOAT, a.shape, a.ravel()) for n, a in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(m)
    onnx.save(m, path)


def build(tmp, rng):
    """name -> (model path, MACs, input shape)"""
    out = {}
    p = os.path.join(tmp, "fc.onnx")
    save_model(p, helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1),
               [("w", weights(rng, (64, 784))), ("b", weights(rng, (64,), 0.1))], [1, 784], [1, 64])
    out["fc"] = (p, 784 * 64, [1, 784], "FC 784->64")
    p = os.path.join(tmp, "conv.onnx")
    save_model(p, helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                   pads=[1, 1, 1, 1]),
               [("w", weights(rng, (32, 16, 3, 3))), ("b", weights(rng, (32,), 0.1))],
               [1, 16, 14, 14], [1, 32, 7, 7])
    out["conv"] = (p, 32 * 7 * 7 * 16 * 9, [1, 16, 14, 14], "conv 3x3 16->32 s2, 14x14")
    p = os.path.join(tmp, "dw.onnx")
    save_model(p, helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                   group=16),
               [("w", weights(rng, (16, 1, 3, 3))), ("b", weights(rng, (16,), 0.1))],
               [1, 16, 14, 14], [1, 16, 14, 14])
    out["dw"] = (p, 16 * 14 * 14 * 9, [1, 16, 14, 14], "depthwise 3x3 16ch, 14x14")
    p = os.path.join(tmp, "relu.onnx")
    save_model(p, helper.make_node("Relu", ["x"], ["y"]), [], [1, 784], [1, 784])
    out["relu"] = (p, 0, [1, 784], "floor: one Relu on 784 codes")
    return out


def run(cmd, log):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stdout[-3000:]))
    with open(log, "w") as f:
        f.write(r.stdout)
    return r.stdout


# ---------------------------------------------------------------- --fit

# (name, kind, shape): dense (k, n); conv (ic, oc, h, w, kernel, stride,
# pad); dw (c, h, w, kernel, stride, pad).  Odd sizes exercise the tails of
# the blocked layout (n % 4 rows, k % 4 codes).
FIT_SHAPES = [
    ("fc784x64", "dense", (784, 64)), ("fc784x10", "dense", (784, 10)), ("fc256x32", "dense", (256, 32)),
    ("fc64x10", "dense", (64, 10)), ("fc128x128", "dense", (128, 128)), ("fc100x7", "dense", (100, 7)),
    ("fc32x10", "dense", (32, 10)),
    ("c1x8_28", "conv", (1, 8, 28, 28, 3, 1, 1)), ("c8x16_14", "conv", (8, 16, 14, 14, 3, 1, 1)),
    ("c16x32_14s2", "conv", (16, 32, 14, 14, 3, 2, 1)), ("c3x16_16p0", "conv", (3, 16, 16, 16, 3, 1, 0)),
    ("c16x16_8k1", "conv", (16, 16, 8, 8, 1, 1, 0)), ("c4x6_10k5", "conv", (4, 6, 10, 10, 5, 1, 2)),
    ("dw16_14", "dw", (16, 14, 14, 3, 1, 1)), ("dw32_8", "dw", (32, 8, 8, 3, 1, 1)),
    ("dw8_28s2", "dw", (8, 28, 28, 3, 2, 1)), ("dw24_10p0", "dw", (24, 10, 10, 3, 1, 0)),
    # --weights int4: nibble-packed Dense tables (mac4_*)
    ("fc784x64n4", "dense4", (784, 64)), ("fc784x10n4", "dense4", (784, 10)),
    ("fc256x32n4", "dense4", (256, 32)), ("fc100x7n4", "dense4", (100, 7)),
]
# size tools, as tools/fit_costs.py
SIZE_TOOL = {"host": "size", "x86_64": "x86_64-linux-gnu-size", "aarch64": "aarch64-linux-gnu-size",
             "riscv64": "riscv64-linux-gnu-size", "cortex-m4": "arm-none-eabi-size",
             "rv32imc": "riscv64-unknown-elf-size", "rv32i": "riscv64-unknown-elf-size",
             "rv32e": "riscv64-unknown-elf-size"}
COUNTED = {"x86_64", "cortex-m4", "rv32imc", "rv32i", "rv32e"}
FIT_TARGETS = "cortex-m4,rv32imc,rv32i,rv32e,x86_64,aarch64,riscv64"
MAC_FIELDS = ["mac_flash_per_weight", "mac_flash_per_output", "mac_flash_per_layer", "mac_flash_per_layer_conv",
              "mac_flash_per_layer_dw", "mac_instr_per_mac", "mac_instr_per_mac_dw", "mac_instr_per_output",
              "mac_instr_per_col", "mac_instr_per_layer", "mac_instr_per_pad", "mac4_flash_per_weight",
              "mac4_instr_per_mac", "mac_instr_per_mac_cols"]
# targets whose runtime vectorises a Conv over output columns (shiftc_conv_cols_ok)
COLS_TARGETS = {"x86_64", "host"}


def fit_model(tmp, rng, name, kind, shape):
    """one-layer model: path and the features of cost.c (pixels, channels,
    weights per output, pad elements)"""
    p = os.path.join(tmp, name + ".onnx")
    if kind in ("dense", "dense4"):
        k, n = shape
        save_model(p, helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1),
                   [("w", weights(rng, (n, k))), ("b", weights(rng, (n,), 0.1))], [1, k], [1, n])
        return p, [1, k], dict(kind=kind, pixels=1, channels=n, per_out=k, weights=n * k, pad_elems=0, col=0,
                               cols=False)
    if kind == "conv":
        ic, oc, h, w, kk, st, pd = shape
        group, wshape, c_out = 1, (oc, ic, kk, kk), oc
    else:
        ic, h, w, kk, st, pd = shape
        oc = ic
        group, wshape, c_out = ic, (ic, 1, kk, kk), ic
    oh, ow = (h + 2 * pd - kk) // st + 1, (w + 2 * pd - kk) // st + 1
    save_model(p, helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[kk, kk], strides=[st, st],
                                   pads=[pd] * 4, group=group),
               [("w", weights(rng, wshape)), ("b", weights(rng, (oc,), 0.1))], [1, ic, h, w], [1, oc, oh, ow])
    per_out = (ic // group) * kk * kk
    cols = kind == "conv" and st == 1 and ow >= 8 and per_out <= 512  # shiftc_conv_cols_ok
    return p, [1, ic, h, w], dict(kind=kind, pixels=oh * ow, channels=c_out, per_out=per_out, cols=cols,
                                  weights=oc * per_out, pad_elems=ic * (h + 2 * pd) * (w + 2 * pd) if pd else 0,
                                  col=ic * kk * kk if kind == "conv" else 0)


def committed_instr_per_element():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import fit_costs  # noqa: E402 -- the committed tables, parsed from the C
    return {t: cm["instr_per_element"] for t, cm in fit_costs.committed_models(ROOT).items() if cm}


def fit_measure(a, tmp, t, name, path, xshape, feat, rng):
    d = os.path.join(tmp, "fit-%s-%s" % (name, t))
    cache = d + ".json"
    if os.path.exists(cache):  # the features are recomputed: the cache holds the measurements
        return dict(json.load(open(cache)), **feat)
    calib = os.path.join(tmp, name + "-calib.npy")
    data = os.path.join(tmp, name + "-x1.npy")
    if not os.path.exists(calib):
        np.save(calib, rng.standard_normal([32] + xshape[1:]).astype(np.float32))
        np.save(data, rng.standard_normal([1] + xshape[1:]).astype(np.float32))
    w4 = ["--weights", "int4"] if feat["kind"] == "dense4" else []
    c = json.loads(run([a.shiftc, "compile", path, "--calib", calib, "--kernel", "mac", "--target", t, "--json",
                        "--no-verify", "-o", d] + w4, d + "-compile.log"))
    objs = [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".o")]
    out = subprocess.run([SIZE_TOOL[t]] + objs, stdout=subprocess.PIPE, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines()[1:]:
        f = line.split()
        sizes[os.path.basename(f[5])] = int(f[0]) + int(f[1])
    lf = sum(v for f, v in sizes.items() if f.startswith(c["name"] + "_l"))
    r = dict(feat, target=t, model=name, layer_flash=lf, flash=c["flash_bytes"], instructions=None)
    if t in COUNTED:
        rr = json.loads(run([a.shiftc, "run", d, "--input", data, "--output", d + "-y.npy", "--target", t, "--json"],
                            d + "-run.log"))
        r["instructions"] = rr["instructions_per_inference"]
    json.dump(r, open(cache, "w"))
    return r


def mac_predict(cm, r):
    """cost.c's cost_layer for KS_TABLE"""
    g = lambda k: cm.get(k, 0.0)  # noqa: E731
    fl = {"dense": "mac_flash_per_layer", "dense4": "mac_flash_per_layer", "conv": "mac_flash_per_layer_conv",
          "dw": "mac_flash_per_layer_dw"}
    n4 = r["kind"] == "dense4"
    flash = g("mac4_flash_per_weight" if n4 else "mac_flash_per_weight") * r["weights"] \
        + g("mac_flash_per_output") * r["channels"] + g(fl[r["kind"]])
    ipm = g("mac_instr_per_mac_dw") if r["kind"] == "dw" else g("mac4_instr_per_mac") if n4 else g("mac_instr_per_mac")
    cols = r["cols"] and g("mac_instr_per_mac_cols") > 0
    ipm = g("mac_instr_per_mac_cols") if cols else ipm
    instr = r["pixels"] * (ipm * r["channels"] * r["per_out"] + g("mac_instr_per_output") * r["channels"]
                           + g("mac_instr_per_col") * r["col"] * (not cols)) \
        + g("mac_instr_per_pad") * r["pad_elems"] + g("mac_instr_per_layer")
    return flash, instr


def nnls_rel(A, y, signed=()):
    """min sum((A c - y) / y)^2 with c >= 0 but for the columns in signed
    (active set: the most negative constrained coefficient is dropped)"""
    A, y = np.asarray(A, float), np.asarray(y, float)
    w = 1.0 / np.maximum(np.abs(y), 1.0)
    Aw, yw = A * w[:, None], y * w
    free, c = list(range(A.shape[1])), np.zeros(A.shape[1])
    while free:
        sol, *_ = np.linalg.lstsq(Aw[:, free], yw, rcond=None)
        neg = [i for i, j in enumerate(free) if sol[i] < 0 and j not in signed]
        if not neg:
            c[free] = sol
            break
        free.pop(min(neg, key=lambda i: sol[i]))
    return c


def fit_target(rs, ipe, target):
    cm = {}
    cols = lambda r: r["cols"] and target in COLS_TARGETS  # noqa: E731
    n4 = lambda r: r["kind"] == "dense4"  # noqa: E731
    A = [[r["weights"] * (not n4(r)), r["channels"], r["kind"] in ("dense", "dense4"), r["kind"] == "conv",
          r["kind"] == "dw", r["weights"] * n4(r)] for r in rs]
    c = nnls_rel(A, [r["layer_flash"] for r in rs])
    for k, v in zip(MAC_FIELDS[:5] + ["mac4_flash_per_weight"], c):
        cm[k] = float(v)
    ir = [r for r in rs if r["instructions"] is not None]
    if ir:
        A = [[r["pixels"] * r["channels"] * r["per_out"] * (r["kind"] in ("dense", "conv") and not cols(r)),
              r["pixels"] * r["channels"] * r["per_out"] * (r["kind"] == "dw"),
              r["pixels"] * r["channels"], r["pixels"] * r["col"] * (not cols(r)), 1.0, r["pad_elems"],
              r["pixels"] * r["channels"] * r["per_out"] * n4(r),
              r["pixels"] * r["channels"] * r["per_out"] * cols(r)] for r in ir]
        # the padded copy: its cost per element is fitted nonnegative on
        # the whole count, and stored as a correction of the base's price
        # (instr_per_element), which is larger, so the correction is negative
        c = nnls_rel(A, [r["layer_instr"] + ipe * r["pad_elems"] for r in ir])
        c[5] -= ipe
        for k, v in zip(MAC_FIELDS[5:11] + ["mac4_instr_per_mac", "mac_instr_per_mac_cols"], c):
            cm[k] = float(v)
    return cm


def rounded(v):
    return round(v) if abs(v) >= 100 else round(v, 1) if abs(v) >= 10 else round(v, 3)


def fit_main(a):
    tmp = a.keep or tempfile.mkdtemp(prefix="shiftc-bench-macfit-")
    os.makedirs(tmp, exist_ok=True)
    rng = np.random.default_rng(2)
    models = [(n, fit_model(tmp, rng, n, k, s)) for n, k, s in FIT_SHAPES]
    ipe = committed_instr_per_element()
    targets = a.targets.split(",")
    jobs = [(t, n, m) for t in targets for n, m in models]
    with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        res = list(ex.map(lambda j: fit_measure(a, tmp, j[0], j[1], j[2][0], j[2][1], j[2][2],
                                                np.random.default_rng(hash(j[1]) & 0xffff)), jobs))
    lines = ["| target | layer | kind | weights | MACs | flash measured | predicted | err | "
             "instructions measured | predicted | err |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    worst = {}
    for t in targets:
        rs = [r for r in res if r["target"] == t]
        for r in rs:
            if r["instructions"] is not None:
                r["layer_instr"] = r["instructions"] - ipe[t] * r["pad_elems"]
        cm = {k: rounded(v) for k, v in fit_target(rs, ipe[t], t).items()}
        print("/* %s */ %s" % (t, ", ".join(".%s = %g" % (k, v) for k, v in cm.items())))
        for r in rs:
            pf, pi = mac_predict(cm, r)
            ef = pf / r["layer_flash"] - 1
            macs = r["pixels"] * r["channels"] * r["per_out"]
            wf, wi = worst.get(t, (0, 0))
            if r["instructions"] is not None:
                ei = pi / r["layer_instr"] - 1
                worst[t] = (max(wf, abs(ef)), max(wi, abs(ei)))
                lines.append("| %s | %s | %s | %d | %d | %d | %.0f | %+.1f%% | %.0f | %.0f | %+.1f%% |" % (
                    t, r["model"], r["kind"], r["weights"], macs, r["layer_flash"], pf, 100 * ef, r["layer_instr"],
                    pi, 100 * ei))
            else:
                worst[t] = (max(wf, abs(ef)), wi)
                lines.append("| %s | %s | %s | %d | %d | %d | %.0f | %+.1f%% | - | - | - |" % (
                    t, r["model"], r["kind"], r["weights"], macs, r["layer_flash"], pf, 100 * ef))
    print("\n".join(lines))
    for t, (wf, wi) in worst.items():
        print("# worst %s: flash %.1f%%, instructions %.1f%%" % (t, 100 * wf, 100 * wi))
    if a.md:
        open(a.md, "w").write("\n".join(lines) + "\n")
    if not a.keep:
        subprocess.run(["rm", "-rf", tmp])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shiftc", default=os.path.join(ROOT, "build", "shiftc"))
    ap.add_argument("--targets", default=None, help="default: cortex-m4,rv32imc (--fit: every target)")
    ap.add_argument("--kernels", default="mac", help="comma list of unrolled, mac")
    ap.add_argument("--keep", default=None, help="work in this directory and keep it (and reuse its measurements)")
    ap.add_argument("--fit", action="store_true", help="fit the mac cost model (FIT_SHAPES on every target)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--md", default=None, help="--fit: write the table of predicted vs measured here")
    a = ap.parse_args()
    if a.fit:
        a.targets = a.targets or FIT_TARGETS
        return fit_main(a)
    a.targets = a.targets or "cortex-m4,rv32imc"
    tmp = a.keep or tempfile.mkdtemp(prefix="shiftc-bench-mac-")
    os.makedirs(tmp, exist_ok=True)
    rng = np.random.default_rng(1)
    models = build(tmp, rng)
    rows = []
    for name, (path, macs, xshape, what) in models.items():
        calib = os.path.join(tmp, name + "-calib.npy")
        data = os.path.join(tmp, name + "-x.npy")
        np.save(calib, rng.standard_normal([64] + xshape[1:]).astype(np.float32))
        np.save(data, rng.standard_normal([4] + xshape[1:]).astype(np.float32))
        labels = os.path.join(tmp, name + "-labels.npy")
        np.save(labels, np.zeros(4, dtype=np.int64))  # eval wants labels; accuracy is not the point
        for kernel in a.kernels.split(","):
            ref = os.path.join(tmp, "%s-%s-q.npy" % (name, kernel))
            run([a.shiftc, "eval", path, "--calib", calib, "--data", data, "--labels", labels, "--kernel", kernel,
                 "--quant-output", ref], ref + ".log")
            for t in a.targets.split(","):
                d = os.path.join(tmp, "%s-%s-%s" % (name, kernel, t))
                c = json.loads(run([a.shiftc, "compile", path, "--calib", calib, "--kernel", kernel,
                                    "--target", t, "--json", "-o", d], d + "-compile.log"))
                r = json.loads(run([a.shiftc, "run", d, "--input", data, "--output", d + "-y.npy", "--target", t,
                                    "--json"], d + "-run.log"))
                exact = open(d + "-y.npy", "rb").read() == open(ref, "rb").read()
                instr = r["instructions_per_inference"]
                rows.append((what, kernel, t, macs, instr, instr / macs if macs else None, c["flash_bytes"],
                             exact))
    print("| layer | kernel | target | MACs | instructions | instr/MAC | flash bytes | == simulator |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | --- |")
    for what, kernel, t, macs, instr, per, flash, exact in rows:
        print("| %s | %s | %s | %d | %.0f | %s | %d | %s |" % (what, kernel, t, macs, instr,
              "%.2f" % per if per is not None else "-", flash, "bit-exact" if exact else "DIFFERS"))
    if not a.keep:
        subprocess.run(["rm", "-rf", tmp])
    return 0 if all(r[-1] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
