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
"""
import argparse
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shiftc", default=os.path.join(ROOT, "build", "shiftc"))
    ap.add_argument("--targets", default="cortex-m4,rv32imc")
    ap.add_argument("--kernels", default="mac", help="comma list of unrolled, mac")
    ap.add_argument("--keep", default=None, help="work in this directory and keep it")
    a = ap.parse_args()
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
