/*
 * shiftc IR: tensors, nodes and the graph, plus the entry points of every
 * numeric pass that lives in ir/.
 *
 * The graph is a pair of flat arrays (tensors, nodes) referring to each other
 * by index; nodes are kept in topological order by every pass.  Nothing in
 * ir/ knows about files, Lua, targets or C text: passes report errors through
 * ir_fail(), which stores a message naming the node, and the driver prefixes
 * the model file name when it prints it.
 *
 * Layout conventions (the frontend normalises ONNX into these):
 *   - Activations are NCHW.  1-D convolutions and pools are 2-D ones with
 *     H = 1: Attrs.kernel[0] = strides[0] = dilations[0] = 1, pads for H = 0,
 *     and the tensor keeps rank 3 ([N, C, L]); kernels read H as 1.
 *   - Conv weights are [OC, IC/group, KH, KW] (KH = 1 for 1-D).
 *   - Dense weights are [N, K] (output-major) and Dense maps the last
 *     dimension: x[..., K] -> y[..., N].  Bias is always a [N] tensor or -1.
 *   - Pads are {h_begin, w_begin, h_end, w_end}; auto_pad is resolved into
 *     pads by shape inference.
 */
#ifndef SHIFTC_IR_H
#define SHIFTC_IR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "ops.h"

#define IR_MAX_RANK 6
#define IR_MAX_IO 8 /* inputs or outputs of one node */

/* ---- ir/graph.c: tensors ---- */

typedef enum {
    TK_ACT,   /* computed by a node */
    TK_INPUT, /* graph input, fed at run time */
    TK_CONST  /* initializer or folded constant */
} TensorKind;

/* How an activation tensor is stored once quantized.  Zero points are 0 in
 * the baseline scheme (symmetric signed codes; unsigned for tensors known
 * to be >= 0), but the field exists so asymmetric schemes need no new
 * plumbing.  4- and 8-bit codes are stored in 8 bits, 16-bit codes in 16. */
typedef enum { QT_NONE, QT_I8, QT_U8, QT_I16, QT_U16 } QType;

typedef struct QParams {
    QType type;  /* QT_NONE until ir_quantize() ran */
    float scale; /* real = scale * (q - zero) */
    int32_t zero;
    int bits;    /* code bits: 4 (in 8-bit storage), 8 or 16; codes lie in
                    [-2^(bits-1), 2^(bits-1) - 1] (signed) or [0, 2^bits - 1]
                    (unsigned).  0 means the storage width. */
} QParams;

/* Activation statistics over the calibration set (ir_calibrate, calib.c),
 * what the clipping methods of clip.c need besides the min/max range. */
#define IR_CAL_BINS 4096
typedef struct CalStats {
    int64_t count; /* finite values seen (0: no statistics) */
    double mean;   /* mean of x */
    double mad;    /* mean |x - mean|: the Laplace b of ACIQ */
    double std;    /* standard deviation: the Gaussian sigma of ACIQ */
    double pos_mean, pos_rms; /* mean and root mean square of the values
                                 > 0: b and sigma of a one-sided (ReLU) tail */
    double hmax;   /* the histogram covers |x| in [0, hmax], hmax = max|x| */
    int64_t *hist; /* IR_CAL_BINS counts of |x| (owned), NULL when none */
} CalStats;

typedef struct Tensor {
    char *name;
    TensorKind kind;
    int rank;
    int64_t dims[IR_MAX_RANK];
    float *data;    /* TK_CONST: rank-major float values (owned) */
    int64_t *idata; /* TK_CONST of an integer ONNX type: exact values (owned),
                       data holds the same values as floats */
    int producer;   /* node index, -1 for inputs and constants */
    /* filled by ir_calibrate(): range seen over the calibration set */
    float cal_min, cal_max;
    CalStats cal; /* and the statistics behind percentile and ACIQ ranges */
    int nonneg; /* structurally >= 0 (after ReLU, sigmoid, softmax...) */
    QParams q;  /* filled by ir_quantize() */
    int32_t *qdata; /* TK_CONST used as a data operand (Add, Concat):
                       its codes under q (owned), filled by ir_quantize() */
} Tensor;

/* ---- attributes, the union of what every op needs ---- */

typedef enum { PAD_NOTSET, PAD_VALID, PAD_SAME_UPPER, PAD_SAME_LOWER } AutoPad;

typedef enum { ACT_NONE, ACT_RELU, ACT_CLIP } FusedAct;

typedef enum { RNN_FORWARD, RNN_REVERSE, RNN_BIDIRECTIONAL } RnnDirection;

typedef struct Attrs {
    /* Conv, MaxPool, AveragePool */
    int64_t kernel[2], strides[2], dilations[2], pads[4];
    AutoPad auto_pad;
    int64_t group;
    int ceil_mode, count_include_pad;
    /* LeakyRelu */
    float alpha;
    /* Clip, and a Relu/Clip fused into Conv/Dense (fused_act) */
    float clip_min, clip_max;
    FusedAct fused_act;
    /* BatchNormalization */
    float epsilon;
    /* Concat, Softmax, Slice (negative axes are normalised by shape
       inference) */
    int64_t axis;
    int softmax_flatten; /* opset < 13: softmax over dims [axis, rank) */
    /* Transpose */
    int perm[IR_MAX_RANK], nperm;
    /* Slice: [slice_start, slice_start + slice_len) along axis, step 1;
       slice_drop removes the axis from the output (Gather of a scalar
       index), which needs slice_len = 1 */
    int64_t slice_start, slice_len;
    int slice_drop;
    /* Reshape: target shape as given (0 and -1 resolved by shape inference);
       Flatten is a Reshape with flatten_axis >= 0 and nshape = 0 */
    int64_t shape[IR_MAX_RANK];
    int nshape;
    int flatten_axis;
    /* LSTM, GRU: ONNX's inputs in ONNX's order (LSTM: X, W, R, B,
       sequence_lens, initial_h, initial_c, P; GRU: X, W, R, B, sequence_lens,
       initial_h; -1 when absent; nin = 8 or 6), outputs Y, Y_h (, Y_c); X is
       [T, batch, input] (layout 0: the frontend transposes layout 1).
       Every output is present (nout = 3 or 2): an output the model leaves
       unnamed gets a fresh tensor ("<node>_Y_c") that nobody reads.  The
       frontend drops an all-zero constant initial_h/initial_c (-1: ONNX's
       meaning of absent), so torch's zero states never reach the IR.
       rnn.h gives the kernel parameters of a node. */
    int64_t hidden_size;
    RnnDirection direction;
    int linear_before_reset; /* GRU */
    int input_forget;        /* LSTM */
    float rnn_clip;          /* cell clip, 0: none */
} Attrs;

/* ---- per-node precision: what the precision search will choose ---- */

/* Weight formats, one table (ir/formats.c has the codebooks, scale searches
 * and the families' meaning).  Legend: X(ENUM, "name", family, param)
 *   family: FMT_FLOAT (not quantized), FMT_INT (symmetric, param = bits),
 *   FMT_TERNARY (TWN), FMT_TTQ (codes {-a, 0, +b}), FMT_POT (one signed power
 *   of two), FMT_NHOT (param = n nonzero signed digits), FMT_APOT.
 * WF_INT8 is the baseline: max-abs scaling, exactly as before formats. */
#define SHIFTC_WEIGHT_FORMATS(X)        \
    X(FLOAT, "float", FMT_FLOAT, 0)     \
    X(INT2, "int2", FMT_INT, 2)         \
    X(INT3, "int3", FMT_INT, 3)         \
    X(INT4, "int4", FMT_INT, 4)         \
    X(INT5, "int5", FMT_INT, 5)         \
    X(INT6, "int6", FMT_INT, 6)         \
    X(INT7, "int7", FMT_INT, 7)         \
    X(INT8, "int8", FMT_INT, 8)         \
    X(TERNARY, "ternary", FMT_TERNARY, 0) \
    X(TTQ, "ttq", FMT_TTQ, 0)           \
    X(POT, "pot", FMT_POT, 0)           \
    X(NHOT2, "nhot2", FMT_NHOT, 2)      \
    X(NHOT3, "nhot3", FMT_NHOT, 3)      \
    X(APOT, "apot", FMT_APOT, 0)

typedef enum {
#define SHIFTC_WF_ENUM(e, name, family, param) WF_##e,
    SHIFTC_WEIGHT_FORMATS(SHIFTC_WF_ENUM)
#undef SHIFTC_WF_ENUM
    WF_COUNT
} WeightFormat;
/* How a Conv / Dense layer is emitted: KS_UNROLLED, shift-add code with the
 * weights baked in; KS_TABLE, the packed-table MAC kernel ("mac": int8
 * weight arrays and a multiply-accumulate loop, backends/emit_mac.c). */
typedef enum { KS_UNROLLED, KS_TABLE } KernelStyle;

/* "unrolled" or "mac", as on the command line, in JSON and in tables. */
static inline const char *ir_kernel_name(KernelStyle k) { return k == KS_TABLE ? "mac" : "unrolled"; }

/* Parses "unrolled", "mac" or its old name "table"; 0 on success. */
int ir_kernel_parse(const char *s, KernelStyle *k);

/* How an activation's range is chosen from calibration (clip.c). */
typedef enum {
    CLIP_MINMAX,     /* the range seen (the baseline) */
    CLIP_PERCENTILE, /* a percentile of |x| (Precision.act_pct) */
    CLIP_ACIQ,       /* ACIQ, Laplace: k(bits) * mean|x - mean| */
    CLIP_ACIQ_GAUSS  /* ACIQ, Gaussian: k(bits) * std */
} ClipMethod;

typedef struct Precision {
    WeightFormat weights; /* format of the weight codes */
    int act_bits;         /* bits of this node's output activation */
    int acc_bits;         /* accumulator width: ir_quantize sets 16 where the
                             bound of algorithms.md section 6 allows, else 32
                             (emitted code and simulator accumulate in int32
                             either way: 16 is a proven fact, not a type) */
    KernelStyle kernel;   /* how the backend emits the weighted op */
    ClipMethod act_clip;  /* range of this node's output activation */
    float act_pct;        /* CLIP_PERCENTILE: which percentile of |x|
                             (0: the default, 99.99) */
} Precision;

/* Integer constants of one node, computed by ir_quantize() and consumed,
 * unchanged, by both the integer simulator and the emitter. */
typedef struct QLayer {
    /* Conv, Dense */
    int nchan;        /* output channels */
    int32_t *wq;      /* weight codes, same layout as the float weights */
    float *wscale;    /* per channel: w ~= wscale[c] * wq */
    int32_t *bias;    /* per channel, accumulator units */
    int32_t *mult;    /* per channel requantization multiplier (Q31) */
    int32_t *shift;   /* per channel exponent: > 0 left, < 0 right */
    int64_t acc_bound; /* the largest |acc| over channels (algorithms.md
                          section 6), set even when quantization fails for
                          exceeding int32 (ir_quantize then narrows 16-bit
                          input codes and retries) */
    /* all ops producing a quantized output: clamp in output codes,
       the output type's range narrowed by a fused activation */
    int32_t lo, hi;
    /* elementwise ops done by table (Relu, Clip, LeakyRelu, Sigmoid, Tanh
       when not fused): 256 entries indexed by (input code - type minimum) */
    int32_t *lut;
    /* Add, Concat: each input rescaled to a common scale */
    int32_t in_mult[IR_MAX_IO], in_shift[IR_MAX_IO];
    int32_t out_mult, out_shift;
    int left_shift;
    /* Softmax: exp table over (max - code), Q16 */
    int32_t *exp_lut;
    /* no-mul mode (Graph.no_mul): the multipliers above, restricted to
       2^-e1 + s2 * 2^-e2 and stored as {e1, s2, e2} (shiftc_mul_nomul);
       mult/shift and in_mult/... then hold the same values in Q31 form */
    int32_t *nm;                   /* Conv, Dense: 3 per channel */
    int32_t in_nm[IR_MAX_IO][3];   /* Add, Concat: per input */
    int32_t out_nm[3];             /* Add: output */
    /* LSTM, GRU: everything else (ir/quant_rnn.h; freed by ir_free_qlayer) */
    struct QRnn *rnn;
} QLayer;

typedef struct Node {
    Op op;
    char *name;      /* ONNX node name, or a made-up one ("Conv_3") */
    int src_index;   /* index of the ONNX node it came from, for errors */
    int nin, nout;
    int in[IR_MAX_IO];  /* tensor indices, -1 for an absent optional input */
    int out[IR_MAX_IO];
    Attrs a;
    Precision prec;
    QLayer *q; /* NULL until ir_quantize() */
} Node;

typedef struct Graph {
    char *name; /* model name, a C identifier */
    Tensor *tensors;
    int ntensors, cap_tensors;
    Node *nodes;
    int nnodes, cap_nodes;
    int inputs[IR_MAX_IO], ninputs;
    int outputs[IR_MAX_IO], noutputs;
    int no_mul;     /* multiplierless requantization (--no-mul, or a target
                       without a multiplier): read by ir_quantize, the
                       simulator and the emitter */
    int bias_correction; /* weight-quantization bias correction (formats.c):
                            0 off, 1 on, FMT_BC_AUTO (-1) on for every
                            weight format but int8 */
    int rounding;   /* weight codes: ROUND_NEAREST, or ROUND_GPTQ (gptq.c) */
    char err[1024]; /* last error set by ir_fail() */
} Graph;
enum { ROUND_NEAREST = 0, ROUND_GPTQ = 1 };

/* graph.c */
Graph *ir_graph_new(const char *name);
void ir_graph_free(Graph *g);
int ir_add_tensor(Graph *g, const char *name, TensorKind kind); /* returns index */
int ir_find_tensor(const Graph *g, const char *name);          /* -1 if none */
int ir_add_node(Graph *g, Op op, const char *name, int src_index);
int64_t ir_numel(const Tensor *t);
int ir_consumers(const Graph *g, int tensor, int *nodes, int max); /* count */
void ir_remove_nodes(Graph *g, const int *dead); /* dead[i] != 0: drop node i */
int ir_toposort(Graph *g);
void ir_default_attrs(Attrs *a);
void ir_free_qlayer(QLayer *q);
/* Sets g->err to "node N (Op "name"): <message>" (or just the message when
 * n is NULL) and returns -1, so callers can write `return ir_fail(...)`. */
int ir_fail(Graph *g, const Node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ir_dump(const Graph *g, void (*print)(void *ctx, const char *line), void *ctx);

/* ---- passes (ir/passes/), each returns 0 or -1 with g->err set ---- */
int ir_infer_shapes(Graph *g);       /* shape.c: dims of every tensor */
int ir_fold_batchnorm(Graph *g);     /* into Conv/Dense; a lone BN becomes a depthwise Conv */
int ir_fuse_bias_add(Graph *g);      /* Dense followed by Add of a constant [N] */
int ir_fuse_activations(Graph *g);   /* Relu/Clip after Conv/Dense into fused_act */
int ir_remove_dead(Graph *g);        /* nodes whose outputs nobody reads */

/* ---- interp.c: float reference ---- */
/* vals has g->ntensors entries; the caller fills graph inputs, the
 * interpreter points constants at their data and allocates the rest. */
float **ir_interp_alloc(const Graph *g);
void ir_interp_free(const Graph *g, float **vals);
int ir_interp_run(Graph *g, float **vals);

/* ---- calib.c ---- */
/* samples: n samples of the (single or first) graph input, each
 * ir_numel(input) floats.  Records cal_min/cal_max and the statistics
 * Tensor.cal (mean, mean absolute deviation, std, histogram of |x|) of
 * every activation, and the structural nonneg facts. */
int ir_calibrate(Graph *g, const float *samples, int n);

/* ---- quant.c ---- */
/* Chooses QParams of every tensor and builds each node's QLayer. */
int ir_quantize(Graph *g);

/* ---- formats.c ---- */
/* Bias correction (formats.h) of every Conv/Dense node it applies to (per
 * g->bias_correction and the node's weight format), on the calibration
 * samples: changes QLayer.bias only.  Call after ir_quantize. */
int ir_bias_correct(Graph *g, const float *samples, int n);

/* ---- gptq.c ---- */
/* With g->rounding == ROUND_GPTQ: the weight codes of every Conv/Dense node
 * in a codebook format but int8 re-chosen by error feedback over the layer's
 * float inputs on the calibration samples (GPTQ); scales unchanged.  Call
 * after ir_quantize, before ir_bias_correct. */
int ir_gptq(Graph *g, const float *samples, int n);

/* ---- qcheck.c: invariants of a quantized graph ---- */
int ir_tensor_quantized(const Tensor *t); /* 4/8/16-bit codes */
/* NULL when node n of a quantized graph has everything the simulator and
 * the emitter need, else what is missing. */
const char *ir_quantized_problem(const Graph *g, const Node *n);

/* ---- qsim.c: the integer simulator ---- */
/* Runs the quantized graph on integer inputs (codes of each graph input,
 * stored as int8_t, uint8_t, int16_t or uint16_t per its QParams) and
 * writes integer outputs (a NULL entry of outputs is not written).
 * This is the definition of what emitted code computes. */
typedef struct QSim QSim;
QSim *ir_qsim_new(const Graph *g);
void ir_qsim_free(QSim *s);
int ir_qsim_run(QSim *s, const void *const *inputs, void *const *outputs);
/* The codes of tensor t after the last run (as the kernels store them;
 * NULL for a constant that is no data operand). */
const void *ir_qsim_buffer(const QSim *s, int t);
/* One node alone, for tests that drive a layer with chosen inputs: write
 * the codes of its data inputs into ir_qsim_tensor, run node k, read its
 * outputs there. */
void *ir_qsim_tensor(QSim *s, int t);
void ir_qsim_run_node(QSim *s, int k);
/* Float <-> code conversions shared with emitted wrappers (runtime helpers). */
void ir_quantize_input(const Tensor *t, const float *x, void *codes);
void ir_dequantize_output(const Tensor *t, const void *codes, float *y);

/* ---- memplan.c: static arena ---- */
typedef struct MemPlan {
    int64_t *offset;      /* per tensor, -1 when not in the arena */
    int64_t *scratch_off; /* per node, -1 when the node needs no scratch */
    int64_t arena_bytes;
} MemPlan;
/* bytes[t]: storage of tensor t (0: not planned, e.g. constants);
 * scratch[n]: temporary bytes node n needs while it runs (may be NULL).
 * Views (Reshape, Flatten, layout no-op Transpose) share their input's
 * storage. Deterministic. */
int ir_memplan(const Graph *g, const int64_t *bytes, const int64_t *scratch, MemPlan *p);
void ir_memplan_free(MemPlan *p);
int ir_is_view(const Graph *g, const Node *n);

#endif
