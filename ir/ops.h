/*
 * The op table: one line per IR op.  Everything that enumerates ops (the Op
 * enum, op names, per-op hooks) is generated from this list, so adding an op
 * means one line here plus its cases in shape.c, interp.c, quant.c, qsim.c
 * and the emitter -- each of which fails loudly on an op it does not know.
 *
 * Legend: X(ENUM, "Name", weighted)
 *   weighted = 1 when the op carries a weight tensor that the quantizer turns
 *   into integer codes (and the emitter bakes into shift-add code).
 *
 * IR ops are not ONNX ops one to one: the frontend normalises ONNX into them
 * (Gemm and MatMul+Add become Dense, Flatten becomes Reshape, Identity,
 * Dropout and Constant disappear, a lone BatchNormalization becomes a
 * depthwise 1x1 Conv, Gather of one index and Slice of an activation
 * become Slice, one node per sliced axis).
 *
 * LSTM and GRU keep ONNX's inputs, outputs and semantics (ir.h, Attrs):
 * their weights (inputs 1 and 2) are quantized by their own code in
 * quant.c, not through the weighted flag, which means "Conv/Dense-like".
 */
#ifndef SHIFTC_OPS_H
#define SHIFTC_OPS_H

#define SHIFTC_OPS(X)                       \
    X(CONV, "Conv", 1)                      \
    X(DENSE, "Dense", 1)                    \
    X(BATCHNORM, "BatchNormalization", 0)   \
    X(RELU, "Relu", 0)                      \
    X(CLIP, "Clip", 0)                      \
    X(LEAKYRELU, "LeakyRelu", 0)            \
    X(SIGMOID, "Sigmoid", 0)                \
    X(TANH, "Tanh", 0)                      \
    X(MAXPOOL, "MaxPool", 0)                \
    X(AVGPOOL, "AveragePool", 0)            \
    X(GLOBALAVGPOOL, "GlobalAveragePool", 0) \
    X(ADD, "Add", 0)                        \
    X(CONCAT, "Concat", 0)                  \
    X(RESHAPE, "Reshape", 0)                \
    X(TRANSPOSE, "Transpose", 0)            \
    X(SLICE, "Slice", 0)                    \
    X(SOFTMAX, "Softmax", 0)                \
    X(LSTM, "LSTM", 0)                      \
    X(GRU, "GRU", 0)

typedef enum {
#define SHIFTC_OP_ENUM(e, name, w) OP_##e,
    SHIFTC_OPS(SHIFTC_OP_ENUM)
#undef SHIFTC_OP_ENUM
    OP_COUNT
} Op;

const char *ir_op_name(Op op);
int ir_op_is_weighted(Op op);
/* LSTM or GRU: weights W and R quantized by their own code (quant_rnn.c) */
int ir_op_is_recurrent(Op op);

#endif
