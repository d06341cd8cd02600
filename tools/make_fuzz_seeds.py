#!/usr/bin/env python3
"""Writes the generated part of the fuzzers' seed corpora (tests/fuzz/corpus/):
tiny ONNX models, one or a few ops each (the fixtures are too big to mutate
well), and small .npy / TensorProto .pb files of every supported dtype.  The
Lua seeds are hand-written files beside them.  Deterministic: rerunning gives
the same bytes.

    python3 tools/make_fuzz_seeds.py      (needs numpy and onnx)
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fuzz", "corpus")
rng = np.random.default_rng(0)


def w(name, *shape):
    return numpy_helper.from_array(rng.uniform(-1, 1, shape).astype(np.float32), name)


def i64(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def model(name, nodes, inits, in_shape, out_shape, opset=13, in_name="x"):
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, in_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="fuzz-seed")
    m.ir_version = 7
    return m


N = helper.make_node


def onnx_seeds():
    yield "mlp_gemm", model("mlp_gemm", [
        N("Flatten", ["x"], ["f"]),
        N("Gemm", ["f", "w1", "b1"], ["h"], transB=1),
        N("Relu", ["h"], ["r"]),
        N("Gemm", ["r", "w2", "b2"], ["y"], transB=1),
    ], [w("w1", 4, 8), w("b1", 4), w("w2", 3, 4), w("b2", 3)], [1, 2, 2, 2], [1, 3])
    yield "matmul_add", model("matmul_add", [
        # Mul, Sub and Div of constants are folded at import
        N("Mul", ["k", "k"], ["p"]), N("Sub", ["p", "k"], ["q"]), N("Div", ["q", "two"], ["t"]),
        N("MatMul", ["x", "w"], ["m"]), N("Add", ["m", "t"], ["a"]), N("Sigmoid", ["a"], ["s"]),
        N("Tanh", ["s"], ["y"]),
    ], [w("w", 4, 3), w("k", 3), numpy_helper.from_array(np.full(3, 2, np.float32), "two")], [1, 4], [1, 3])
    yield "conv_bn_pool", model("conv_bn_pool", [
        N("Conv", ["x", "cw", "cb"], ["c"], pads=[1, 1, 1, 1], strides=[1, 1], kernel_shape=[3, 3]),
        N("BatchNormalization", ["c", "s", "bb", "mu", "var"], ["n"], epsilon=1e-5),
        N("Relu", ["n"], ["r"]),
        N("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        N("Flatten", ["p"], ["f"]),
        N("Gemm", ["f", "fw", "fb"], ["y"], transB=1),
    ], [w("cw", 2, 1, 3, 3), w("cb", 2), w("s", 2), w("bb", 2), w("mu", 2),
        numpy_helper.from_array(np.array([1.0, 0.5], np.float32), "var"), w("fw", 3, 8), w("fb", 3)],
        [1, 1, 4, 4], [1, 3])
    yield "conv_group_avg", model("conv_group_avg", [
        N("Pad", ["x", "pads"], ["xp"], mode="constant"),
        N("Conv", ["xp", "cw"], ["c"], group=2, dilations=[1, 1]),
        N("LeakyRelu", ["c"], ["l"], alpha=0.1),
        N("AveragePool", ["l"], ["a"], kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1],
          count_include_pad=0, ceil_mode=1),
        N("GlobalAveragePool", ["a"], ["g"]),
        N("Reshape", ["g", "shape"], ["y"]),
    ], [w("cw", 2, 1, 3, 3), i64("shape", [1, -1]), i64("pads", [0, 0, 1, 1, 0, 0, 1, 1])], [1, 2, 4, 4], [1, 2])
    yield "shape_ops", model("shape_ops", [
        N("Shape", ["x"], ["sh"]),
        N("Gather", ["sh", "zero"], ["n"], axis=0),
        N("Unsqueeze", ["n", "ax0"], ["n1"]),
        N("Concat", ["n1", "minus1"], ["ns"], axis=0),
        N("Reshape", ["x", "ns"], ["r"]),
        N("Slice", ["r", "st", "en", "ax1"], ["sl"]),
        N("Softmax", ["sl"], ["y"], axis=-1),
    ], [i64("zero", 0), i64("ax0", [0]), i64("minus1", [-1]), i64("st", [1]), i64("en", [5]), i64("ax1", [1])],
        [1, 2, 3], [1, 4])
    yield "transpose_concat", model("transpose_concat", [
        N("Transpose", ["x"], ["t"], perm=[0, 2, 1]),
        N("Concat", ["t", "t"], ["c"], axis=1),
        N("Squeeze", ["c", "ax0"], ["s"]),
        N("Unsqueeze", ["s", "ax0"], ["u"]),
        N("Clip", ["u", "lo", "hi"], ["y"]),
    ], [i64("ax0", [0]), numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
        numpy_helper.from_array(np.array(6.0, np.float32), "hi")], [1, 2, 3], [1, 6, 2])
    yield "constants", model("constants", [
        N("Constant", [], ["k"], value=numpy_helper.from_array(np.array([2, 3], np.int64), "kv")),
        N("ConstantOfShape", ["k"], ["z"], value=numpy_helper.from_array(np.array([0.5], np.float32), "zv")),
        N("Cast", ["z"], ["zc"], to=TensorProto.FLOAT),
        N("Expand", ["zc", "k"], ["e"]),
        N("Add", ["x", "e"], ["a"]),
        N("Dropout", ["a"], ["d"]),
        N("Identity", ["d"], ["y"]),
    ], [], [1, 3], [2, 3])
    T, B, I, H = 3, 1, 2, 2
    yield "lstm", model("lstm", [
        N("LSTM", ["x", "W", "R", "B"], ["", "h"], hidden_size=H),
        N("Squeeze", ["h", "ax0"], ["y"]),
    ], [w("W", 1, 4 * H, I), w("R", 1, 4 * H, H), w("B", 1, 8 * H), i64("ax0", [0])], [T, B, I], [B, H])
    yield "gru", model("gru", [
        N("GRU", ["x", "W", "R", "B"], ["all", ""], hidden_size=H, linear_before_reset=1),
        N("Flatten", ["all"], ["y"]),
    ], [w("W", 1, 3 * H, I), w("R", 1, 3 * H, H), w("B", 1, 6 * H)], [T, B, I], [T, B * H])
    yield "opset10_clip_squeeze", model("opset10_clip_squeeze", [
        N("Clip", ["x"], ["c"], min=-1.0, max=1.0),
        N("Squeeze", ["c"], ["y"], axes=[0]),
    ], [], [1, 4], [4], opset=10)


def tensor_seeds():
    dtypes = [np.float32, np.float64, np.int64, np.int32, np.int8, np.uint8, np.int16, np.uint16]
    for k, dt in enumerate(dtypes):
        shape = [(2, 3), (4,), (1, 1, 2, 2), ()][k % 4]
        a = (rng.uniform(-50, 50, shape)).astype(dt)
        name = np.dtype(dt).name
        yield name + ".npy", "npy", a
        yield name + ".pb", "pb", a
    yield "fortran.npy", "npy", np.asfortranarray(rng.uniform(-1, 1, (2, 3)).astype(np.float32))
    yield "empty.npy", "npy", np.zeros((0, 3), np.float32)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    for name, m in onnx_seeds():
        onnx.checker.check_model(m)
        write(os.path.join(ROOT, "onnx", name + ".onnx"), m.SerializeToString())
    for name, kind, a in tensor_seeds():
        path = os.path.join(ROOT, "tf", name)
        if kind == "npy":
            os.makedirs(os.path.dirname(path), exist_ok=True)
            np.save(path, a, allow_pickle=False)
        else:
            write(path, numpy_helper.from_array(a, "t").SerializeToString())


if __name__ == "__main__":
    main()
