/*
 * ONNX frontend: reads a .onnx model (protobuf-c) into an IR Graph in the
 * layout ir.h describes.  Activation shapes are left to ir_infer_shapes()
 * (rank 0 after import); constants and graph inputs carry their dims.
 *
 * Default-domain opsets 1 to 17, each op read in the form of the model's
 * opset (attributes that later became inputs, legacy broadcast=1/axis,
 * is_test, ...).  Ops that become IR nodes: Conv (1-D, 2-D),
 * Gemm, MatMul (constant B), BatchNormalization, Relu, Sigmoid, Tanh,
 * Softmax, LeakyRelu, Clip, MaxPool, AveragePool, GlobalAveragePool, Add,
 * Concat, Flatten, Reshape, Transpose.  Removed at import: Identity, Dropout,
 * Cast to float, Constant, zero Pad (or merged into the following Conv or
 * AveragePool), and constant glue (Shape, Gather, Unsqueeze, Squeeze, Concat,
 * Slice, ConstantOfShape, Cast, Reshape, Transpose, Add, Sub, Mul, Div).
 * Anything else is an error.
 */
#ifndef SHIFTC_ONNX_H
#define SHIFTC_ONNX_H

#include <stddef.h>

#include "ir.h"

/* Freezes the graph input called name to a constant read from path
 * (.npy, or a serialized TensorProto when the name ends in ".pb"). */
typedef struct OnnxBinding {
    const char *name;
    const char *path;
} OnnxBinding;

/* The model at path as a Graph, or NULL with err set to a message that names
 * the file and, where there is one, the node:
 *   model.onnx: node 5 (Erf "erf1"): unsupported op 'Erf'
 * bind may be NULL when nbind is 0. */
Graph *onnx_load(const char *path, const OnnxBinding *bind, int nbind, char *err, size_t errlen);

/* The same from a serialized model in memory; path only names it (error
 * messages, graph name).  For tests and fuzzing. */
Graph *onnx_load_buffer(const void *buf, size_t len, const char *path, const OnnxBinding *bind,
                        int nbind, char *err, size_t errlen);

#endif
