#!/usr/bin/env python3
"""Writes the malformed-input corpus tests/bad/onnx/ (run by tests/bad.sh).

Every file is tiny and deliberately wrong in one way; tests/bad/cases.txt says
how shiftc is run on it and which error it must print. The output is
deterministic, so re-running this script leaves the committed files unchanged.

    python3 tools/make_bad.py [OUTDIR]      (default tests/bad/onnx)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "bad", "onnx")
os.makedirs(OUT, exist_ok=True)
RNG = np.random.RandomState(0)


def vi(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def weights(shape, name):
    return numpy_helper.from_array(RNG.uniform(-1, 1, shape).astype(np.float32), name)


def bare_tensor(name, dims):
    """A float tensor with the given dims and no values (helper.make_tensor would check them)."""
    t = TensorProto(name=name, data_type=TensorProto.FLOAT)
    t.dims.extend(dims)
    return t


def model(nodes, inputs, inits=(), outputs=None, opset=13, name="bad"):
    outputs = outputs if outputs is not None else [vi("y", None)]
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_bad")
    m.ir_version = 8
    return m


def save(m, name):
    onnx.save(m, os.path.join(OUT, name + ".onnx"))


def save_bytes(data, name):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def gemm_model(w=None, name="good"):
    """x[1,4] -> Gemm(w[3,4], b[3], transB=1) 'fc' -> Relu 'relu' -> y[1,3]"""
    w = weights((3, 4), "w") if w is None else w
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc", transB=1),
             helper.make_node("Relu", ["h"], ["y"], name="relu")]
    return model(nodes, [vi("x", [1, 4])], [w, weights((3,), "b")], [vi("y", [1, 3])], name=name)


def conv_model(name, w_shape=(2, 1, 3, 3), x_shape=(1, 1, 6, 6), **attrs):
    """x -> Conv(w) 'conv' -> y"""
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **attrs)
    return model([node], [vi("x", list(x_shape))], [weights(w_shape, "w")], name=name)


# ---- the one good model the data-file cases use ---------------------------------
good = gemm_model()
onnx.checker.check_model(good)
save(good, "good")
good_bytes = good.SerializeToString()

# ---- broken files ---------------------------------------------------------------
save_bytes(good_bytes[: len(good_bytes) // 2], "truncated.onnx")
mid = len(good_bytes) // 2
save_bytes(good_bytes[:mid] + b"\xff" * 16 + good_bytes[mid + 16:], "corrupted_weights.onnx")
g = good_bytes.find(b"fc")  # the bytes of the first node: its name and the fields around it
save_bytes(good_bytes[:g - 6] + b"\xff" * 8 + good_bytes[g + 2:], "corrupted.onnx")
save_bytes(b"", "empty.onnx")

# ---- broken graphs ---------------------------------------------------------------
save(model([helper.make_node("Relu", ["b"], ["a"], name="relu_a"),
            helper.make_node("Relu", ["a"], ["b"], name="relu_b"),
            helper.make_node("Add", ["x", "b"], ["y"], name="add")], [vi("x", [1, 4])]), "cycle")
save(model([helper.make_node("Relu", ["x"], ["h"], name="relu"),
            helper.make_node("Add", ["h", "ghost"], ["y"], name="add_ghost")], [vi("x", [1, 4])]),
     "undefined_tensor")
save(model([helper.make_node("Relu", ["x"], ["h"], name="relu1"),
            helper.make_node("Sigmoid", ["x"], ["h"], name="sigmoid_dup"),
            helper.make_node("Add", ["h", "h"], ["y"], name="add")], [vi("x", [1, 4])]), "duplicate_output")
save(model([helper.make_node("Relu", ["x"], ["h"], name="relu"),
            helper.make_node("Hardmax", ["h"], ["y"], name="my_hardmax")], [vi("x", [1, 4])]), "unsupported_op")
save(model([], [vi("x", [1, 4])], outputs=[vi("x", [1, 4])]), "empty_graph")
m = gemm_model(name="opset_too_new")
m.opset_import[0].version = 99
save(m, "opset_too_new")

save(model([helper.make_node("Relu", [], ["y"], name="relu_no_input")], [vi("x", [1, 4])]), "node_no_input")
save(model([helper.make_node("Relu", ["x"], ["h"], name="relu")], [vi("x", [1, 4])], outputs=[]), "no_outputs")
save(model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [vi("x", [1, 4]), vi("x", [1, 4])]),
     "duplicate_input")
save(model([helper.make_node("Constant", [], ["c"], name="const_empty"),
            helper.make_node("Add", ["x", "c"], ["y"], name="add")], [vi("x", [1, 4])]), "constant_no_value")
save(model([helper.make_node("If", ["x"], ["y"], name="branch",
                             then_branch=helper.make_graph([], "t", [], [vi("x", [1, 4])]),
                             else_branch=helper.make_graph([], "e", [], [vi("x", [1, 4])]))],
           [vi("x", [1, 4])]), "subgraph")

# ---- wrong attributes and shapes ------------------------------------------------
save(conv_model("conv_kernel_shape", kernel_shape=[2, 2]), "conv_kernel_shape")
save(conv_model("conv_negative_pads", pads=[0, -1, 0, 0]), "conv_negative_pads")
save(conv_model("conv_group", w_shape=(4, 1, 3, 3), x_shape=(1, 4, 6, 6), group=3), "conv_group")
save(conv_model("conv_channels", w_shape=(2, 3, 3, 3), x_shape=(1, 1, 6, 6)), "conv_channels")
save(conv_model("conv_rank", x_shape=(1, 36)), "conv_rank")
save(conv_model("conv_zero_stride", strides=[0, 1]), "conv_zero_stride")
save(model([helper.make_node("Gemm", ["x", "w"], ["y"], name="fc_mismatch", transB=1)],
           [vi("x", [1, 4])], [weights((3, 5), "w")]), "gemm_mismatch")
save(model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [vi("x", [1, 1 << 40])]), "huge_input")
save(model([helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape_huge")], [vi("x", [1, 4])],
           [numpy_helper.from_array(np.array([1 << 20, 1 << 20, 1 << 20], np.int64), "s")]), "huge_reshape")
save(model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [vi("x", [1, 0])]), "zero_dim")
save(model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [vi("x", [1, -5])]), "negative_dim")

save(model([helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape_two_minus1")], [vi("x", [1, 4])],
           [numpy_helper.from_array(np.array([-1, -1], np.int64), "s")]), "reshape_two_minus1")
save(model([helper.make_node("Transpose", ["x"], ["y"], name="transpose_perm", perm=[0, 0])],
           [vi("x", [1, 4])]), "transpose_perm")
save(model([helper.make_node("Concat", ["x", "x"], ["y"], name="concat_axis", axis=7)],
           [vi("x", [1, 4])]), "concat_axis")
save(model([helper.make_node("Softmax", ["x"], ["y"], name="softmax_axis", axis=-3)],
           [vi("x", [1, 4])]), "softmax_axis")
save(model([helper.make_node("Flatten", ["x"], ["y"], name="flatten_axis", axis=9)],
           [vi("x", [1, 4])]), "flatten_axis")
save(model([helper.make_node("MaxPool", ["x"], ["y"], name="pool_big", kernel_shape=[9, 9])],
           [vi("x", [1, 1, 4, 4])]), "pool_big")
save(model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3.0, 3.0])],
           [vi("x", [1, 1, 6, 6])], [weights((2, 1, 3, 3), "w")]), "attribute_type")
save(model([helper.make_node("Gather", ["x", "i"], ["y"], name="gather_range", axis=1)], [vi("x", [1, 4])],
           [numpy_helper.from_array(np.array(9, np.int64), "i")]), "gather_range")
save(model([helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"], name="slice_step0")],
           [vi("x", [1, 4])], [numpy_helper.from_array(np.array([v], np.int64), n)
                               for n, v in (("st", 0), ("en", 4), ("ax", 1), ("sp", 0))]), "slice_step0")
save(model([helper.make_node("Gemm", ["x", "w"], ["y"], name="fc_huge", transB=1)], [vi("x", [1, 4])],
           [bare_tensor("w", [1 << 31, 1 << 31, 4])]), "huge_initializer")
save(model([helper.make_node("Gemm", ["x", "w"], ["y"], name="fc_negdims", transB=1)], [vi("x", [1, 4])],
           [bare_tensor("w", [-3, 4])]), "negative_initializer_dims")

# ---- bad weights ----------------------------------------------------------------
w = RNG.uniform(-1, 1, (3, 4)).astype(np.float32)
w[1, 2] = np.nan
save(gemm_model(numpy_helper.from_array(w, "w"), "nan_weight"), "nan_weight")
w[1, 2] = np.inf
save(gemm_model(numpy_helper.from_array(w, "w"), "inf_weight"), "inf_weight")
t = weights((3, 4), "w")
t.raw_data = t.raw_data[:20]
save(gemm_model(t, "short_raw_data"), "short_raw_data")
t = weights((3, 4), "w")
t.ClearField("raw_data")
t.data_location = TensorProto.EXTERNAL
t.external_data.add(key="location", value="weights.bin")
save(gemm_model(t, "external_data"), "external_data")
w = numpy_helper.from_array(RNG.randint(-5, 5, (3, 4)).astype(np.int8), "w")
save(gemm_model(w, "int8_weight"), "int8_weight")
m = gemm_model(name="int8_input")
m.graph.input[0].type.tensor_type.elem_type = TensorProto.INT8
save(m, "int8_input")

# ---- data files that do not match good.onnx (input x[1,4], 3 classes) ------------
calib = RNG.uniform(-1, 1, (8, 1, 4)).astype(np.float32)
np.save(os.path.join(OUT, "calib.npy"), calib)
np.save(os.path.join(OUT, "labels.npy"), np.arange(8, dtype=np.int64) % 3)
bad = calib.copy()
bad[3, 0, 1] = np.nan
np.save(os.path.join(OUT, "calib_nan.npy"), bad)
bad[3, 0, 1] = np.inf
np.save(os.path.join(OUT, "calib_inf.npy"), bad)
np.save(os.path.join(OUT, "calib_shape.npy"), RNG.uniform(-1, 1, (8, 1, 5)).astype(np.float32))
np.save(os.path.join(OUT, "calib_f64.npy"), calib.astype(np.float64))
np.save(os.path.join(OUT, "calib_int32.npy"), np.zeros((8, 1, 4), np.int32))
np.save(os.path.join(OUT, "calib_empty.npy"), np.zeros((0, 1, 4), np.float32))
np.save(os.path.join(OUT, "labels_count.npy"), np.zeros(7, np.int64))
np.save(os.path.join(OUT, "labels_float.npy"), np.zeros(8, np.float32))
np.save(os.path.join(OUT, "labels_range.npy"), np.full(8, 3, np.int64))
save_bytes(b"", "empty.npy")
with open(os.path.join(OUT, "calib.npy"), "rb") as f:
    save_bytes(f.read()[:40], "calib_truncated.npy")
