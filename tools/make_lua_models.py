#!/usr/bin/python3
"""Exports the weights of the bundled ONNX fixtures into .npy files for the
Lua versions of the same networks (examples/models/mlp.lua, cnn.lua).

    /usr/bin/python3 tools/make_lua_models.py [tests/fixtures] [examples/models]

For each model the script walks the ONNX graph, checks that it has exactly
the layers the Lua file describes (op, attributes, shapes), and writes one
.npy per weight tensor into examples/models/<model>/ with np.save, so two runs
give byte-identical files. Weights keep the ONNX layout: Gemm B with
transB=1 is [units, inputs], which is what `dense` expects by default.
"""
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

# Per model: the ONNX node (by op, in order) -> Lua layer name and the
# weight files to write, input index -> file suffix.
LAYOUTS = {
    "mlp": [
        ("Flatten", None, {}),
        ("Gemm", "fc1", {1: "w", 2: "b"}),
        ("Relu", None, {}),
        ("Gemm", "fc2", {1: "w", 2: "b"}),
    ],
    "cnn": [
        ("Conv", "conv1", {1: "w", 2: "b"}),
        ("BatchNormalization", "bn1", {1: "scale", 2: "bias", 3: "mean", 4: "var"}),
        ("Relu", None, {}),
        ("MaxPool", None, {}),
        ("Conv", "conv2", {1: "w", 2: "b"}),
        ("BatchNormalization", "bn2", {1: "scale", 2: "bias", 3: "mean", 4: "var"}),
        ("Relu", None, {}),
        ("MaxPool", None, {}),
        ("Flatten", None, {}),
        ("Gemm", "fc", {1: "w", 2: "b"}),
    ],
}

# Attributes the Lua files rely on (anything else would make them differ).
EXPECTED_ATTRS = {
    "Conv": {"dilations": [1, 1], "group": 1, "kernel_shape": [3, 3], "pads": [1, 1, 1, 1],
             "strides": [1, 1]},
    "MaxPool": {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0], "ceil_mode": 0},
    "Gemm": {"alpha": 1.0, "beta": 1.0, "transB": 1},
    "Flatten": {"axis": 1},
}


def export(model_path, out_dir, layout):
    m = onnx.load(model_path)
    g = m.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    if len(g.node) != len(layout):
        sys.exit(f"{model_path}: {len(g.node)} nodes, expected {len(layout)}")
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for node, (op, name, files) in zip(g.node, layout):
        if node.op_type != op:
            sys.exit(f"{model_path}: node {node.name} is {node.op_type}, expected {op}")
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        for k, v in EXPECTED_ATTRS.get(op, {}).items():
            got = attrs.get(k, v)
            if isinstance(got, float) or isinstance(v, float):
                same = abs(float(got) - float(v)) < 1e-12
            else:
                same = list(got) == list(v) if isinstance(v, list) else got == v
            if not same:
                sys.exit(f"{model_path}: node {node.name}: {k}={got}, the Lua file assumes {v}")
        if op == "BatchNormalization":
            eps = attrs.get("epsilon", 1e-5)
            if np.float32(eps) != np.float32(1e-5):
                sys.exit(f"{model_path}: node {node.name}: epsilon {eps}, the Lua file assumes 1e-5")
        for idx, suffix in files.items():
            a = np.ascontiguousarray(inits[node.input[idx]].astype(np.float32))
            path = os.path.join(out_dir, f"{name}_{suffix}.npy")
            np.save(path, a)
            written.append((path, a.shape))
    return written


def main():
    fixtures = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    out = sys.argv[2] if len(sys.argv) > 2 else "examples/models"
    for model, layout in LAYOUTS.items():
        for path, shape in export(os.path.join(fixtures, model + ".onnx"),
                                  os.path.join(out, model), layout):
            print(f"{path} {list(shape)}")


if __name__ == "__main__":
    main()
