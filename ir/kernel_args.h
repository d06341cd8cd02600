/*
 * Kernel arguments: how a quantized node maps onto the parameter structs and
 * scalar arguments of the runtime kernels in shiftc_rt.h.
 *
 * The integer simulator (ir/qsim.c) and the C emitter both call these, so
 * the geometry, strides and requantization constants a kernel receives are
 * computed in exactly one place and cannot drift between the two.
 *
 * Every function expects a graph whose shapes are inferred (ir_infer_shapes:
 * dims set, pads resolved from auto_pad, axes normalised) and, for the ones
 * reading n->q or t->q, quantized (ir_quantize).  Sizes are returned as
 * int32_t because that is what the runtime indexes with; a tensor too large
 * for that is an internal error (the frontend limits sizes long before).
 */
#ifndef SHIFTC_KERNEL_ARGS_H
#define SHIFTC_KERNEL_ARGS_H

#include <stdint.h>

#include "ir.h"
#include "shiftc_rt.h"

/* Conv, MaxPool, AveragePool.  geom->n is the batch dimension of input 0;
 * 1-D ops (rank-3 tensors [N, C, L]) get h = oh = kh = 1. */
void ka_geom(const Graph *g, const Node *n, shiftc_geom *geom);

/* GlobalAveragePool: nc planes of hw codes each. */
void ka_global_pool(const Graph *g, const Node *n, int32_t *nc, int32_t *hw);

/* Dense maps the last dimension: x[m, k] -> y[m, nout], m = numel(x) / k. */
void ka_dense_dims(const Graph *g, const Node *n, int32_t *m, int32_t *k, int32_t *nout);

/* Add: numpy broadcasting of inputs 0 (sa) and 1 (sb) onto the output
 * dims, stride 0 along broadcast (and missing leading) dimensions. */
void ka_bcast(const Graph *g, const Node *n, shiftc_bcast *bc);

/* Add: the requantization constants from n->q, the output zero point and
 * the clamp range. */
void ka_qadd(const Graph *g, const Node *n, shiftc_qadd *q);

/* Add in no-mul mode: the two-term multipliers (n->q->in_nm, out_nm). */
void ka_qadd_nm(const Graph *g, const Node *n, shiftc_qadd_nm *q);

/* Concat input `input`: outer blocks of inner codes each, written at column
 * offset of output rows row codes long (see shiftc_concat_q). */
void ka_concat(const Graph *g, const Node *n, int input, int32_t *outer, int32_t *inner,
               int32_t *row, int32_t *offset);

/* Slice: outer blocks of inner codes each, read at column offset of input
 * rows row codes long (see shiftc_slice_q).  Reads no QParams: the float
 * interpreter and emitter call it too. */
void ka_slice(const Graph *g, const Node *n, int32_t *outer, int32_t *inner, int32_t *row,
              int32_t *offset);

/* Softmax: outer * inner runs of len codes with stride inner.  With
 * softmax_flatten (opset < 13) the run covers dims [axis, rank). */
void ka_softmax(const Graph *g, const Node *n, int32_t *outer, int32_t *len, int32_t *inner);

/* Transpose: output dims and, per output dim, the stride of the input
 * element it walks (see shiftc_transpose_q).  An empty perm reverses. */
void ka_transpose(const Graph *g, const Node *n, int32_t *rank, int32_t odims[6],
                  int32_t xstrides[6]);

/* The runtime storage tag (SHIFTC_I8, _U8, _I16, _U16) from t->q. */
int ka_type(const Tensor *t);

/* Bytes per code (1 or 2) and bytes of the whole tensor. */
int32_t ka_esize(const Tensor *t);
int32_t ka_bytes(const Tensor *t);

/* Number of elements as int32 (ensures it fits). */
int32_t ka_numel(const Tensor *t);

#endif
