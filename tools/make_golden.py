#!/usr/bin/python3
"""Writes the golden-test models: tiny ONNX graphs with fixed weights, built
with onnx.helper (no training), and their calibration inputs.

    /usr/bin/python3 tools/make_golden.py [tests/golden]

Each case folder gets model.onnx and calib.npy; tests/golden/run.sh compiles
them and compares the C that shiftc emits with the folder's expected/ files.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def tiny_cnn(rng):
    w1 = rng.normal(0, 0.5, (2, 1, 3, 3)).astype(np.float32)
    b1 = rng.normal(0, 0.1, (2,)).astype(np.float32)
    w2 = rng.normal(0, 0.3, (3, 18)).astype(np.float32)
    b2 = rng.normal(0, 0.1, (3,)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p1"], ["f1"], name="flatten"),
        helper.make_node("Gemm", ["f1", "w2", "b2"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [numpy_helper.from_array(a, n) for a, n in [(w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2")]])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="shiftc-golden")
    model.ir_version = 7
    calib = rng.uniform(0, 1, (8, 1, 1, 6, 6)).astype(np.float32)
    return model, calib


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "golden")
    rng = np.random.default_rng(2)
    for name, make in [("tiny_cnn", tiny_cnn)]:
        model, calib = make(rng)
        onnx.checker.check_model(model)
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        onnx.save(model, os.path.join(d, "model.onnx"))
        np.save(os.path.join(d, "calib.npy"), calib.reshape(8, 1, 6, 6))
        print("wrote", d)


if __name__ == "__main__":
    main()
