/*
 * The float reference interpreter: runs the graph node by node through the
 * kernels of runtime/shiftc_f32.h, the very functions emitted float code
 * calls, so the two cannot drift.  Only BatchNormalization, which never
 * reaches emitted code (it is folded first), is computed here directly, so
 * results before and after folding can be compared.
 *
 * Buffers: vals[t] for every tensor t.  Constants point at their data,
 * everything else (graph inputs included) gets a buffer of its own.  The
 * caller fills the inputs, either by writing into vals[input] or by
 * pointing vals[input] at its own data; the owned buffers are remembered in
 * a hidden second half of the array, so ir_interp_free releases exactly
 * what ir_interp_alloc allocated whatever the caller repointed.  Buffers
 * are sized from the dims, so allocate after ir_infer_shapes and after the
 * last pass that adds tensors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "kernel_args.h"
#include "rnn.h"
#include "shiftc_f32.h"
#include "util.h"

float **ir_interp_alloc(const Graph *g)
{
    /* [0, n): what the kernels read and write; [n, 2n): owned buffers */
    float **vals = xcalloc(2 * (size_t)g->ntensors + 1, sizeof *vals);
    for (int t = 0; t < g->ntensors; t++) {
        const Tensor *tt = &g->tensors[t];
        if (tt->kind == TK_CONST) {
            vals[t] = tt->data;
        } else {
            vals[t] = xcalloc((size_t)ir_numel(tt), sizeof(float));
            vals[g->ntensors + t] = vals[t];
        }
    }
    return vals;
}

void ir_interp_free(const Graph *g, float **vals)
{
    if (!vals)
        return;
    for (int t = 0; t < g->ntensors; t++)
        free(vals[g->ntensors + t]);
    free(vals);
}

static int32_t interp_i32(int64_t v) { return (int32_t)v; }

/* Conv and pool geometry from the node's tensors and resolved attributes. */
static void interp_geom(const Graph *g, const Node *n, shiftc_f32_geom *ge)
{
    const Tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    int r = x->rank;
    memset(ge, 0, sizeof *ge);
    ge->n = interp_i32(x->dims[0]);
    ge->c = interp_i32(x->dims[1]);
    ge->h = r == 4 ? interp_i32(x->dims[2]) : 1;
    ge->w = interp_i32(x->dims[r - 1]);
    ge->oc = interp_i32(y->dims[1]);
    ge->oh = r == 4 ? interp_i32(y->dims[2]) : 1;
    ge->ow = interp_i32(y->dims[r - 1]);
    ge->kh = interp_i32(n->a.kernel[0]);
    ge->kw = interp_i32(n->a.kernel[1]);
    ge->sh = interp_i32(n->a.strides[0]);
    ge->sw = interp_i32(n->a.strides[1]);
    ge->dh = interp_i32(n->a.dilations[0]);
    ge->dw = interp_i32(n->a.dilations[1]);
    ge->pt = interp_i32(n->a.pads[0]);
    ge->pl = interp_i32(n->a.pads[1]);
    ge->pb = interp_i32(n->a.pads[2]);
    ge->pr = interp_i32(n->a.pads[3]);
    ge->group = interp_i32(n->a.group);
    ge->count_include_pad = n->a.count_include_pad;
}

static void interp_fused_act(const Node *n, float *y, int32_t len)
{
    switch (n->a.fused_act) {
    case ACT_NONE:
        break;
    case ACT_RELU:
        shiftc_f32_relu(y, y, len);
        break;
    case ACT_CLIP:
        shiftc_f32_clip(y, y, len, n->a.clip_min, n->a.clip_max);
        break;
    }
}

/* y = (x - mean) / sqrt(var + eps) * scale + B over channel dim 1. */
static void interp_batchnorm(const Graph *g, const Node *n, float **vals)
{
    const Tensor *x = &g->tensors[n->in[0]];
    const float *xv = vals[n->in[0]], *scale = vals[n->in[1]], *bias = vals[n->in[2]];
    const float *mean = vals[n->in[3]], *var = vals[n->in[4]];
    float *y = vals[n->out[0]];
    int64_t c = x->dims[1], inner = 1;
    for (int i = 2; i < x->rank; i++)
        inner *= x->dims[i];
    int64_t outer = ir_numel(x) / (c * inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t ch = 0; ch < c; ch++) {
            float den = sqrtf(var[ch] + n->a.epsilon);
            const float *xp = xv + (o * c + ch) * inner;
            float *yp = y + (o * c + ch) * inner;
            for (int64_t i = 0; i < inner; i++)
                yp[i] = (xp[i] - mean[ch]) / den * scale[ch] + bias[ch];
        }
}

/* Element strides of a tensor, right-aligned to `rank` dims (0 where it
 * has size 1 or lacks the dim, so it broadcasts). */
static void interp_bcast_strides(const Tensor *t, int rank, int32_t *s)
{
    int64_t stride = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int ti = i - (rank - t->rank);
        int64_t d = ti >= 0 ? t->dims[ti] : 1;
        s[i] = d == 1 ? 0 : interp_i32(stride);
        stride *= d;
    }
}

static int64_t interp_prod(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= dims[i];
    return p;
}

/* Value of optional input j of n, NULL when absent. */
static const float *interp_opt(const Node *n, float **vals, int j)
{
    return j < n->nin && n->in[j] >= 0 ? vals[n->in[j]] : NULL;
}

static float *interp_opt_out(const Node *n, float **vals, int k)
{
    return k < n->nout && n->out[k] >= 0 ? vals[n->out[k]] : NULL;
}

/* LSTM and GRU through their shiftc_f32.h kernels, which keep their state
 * in a scratch buffer (planned by the emitter, allocated here). */
static int interp_rnn(Graph *g, const Node *n, float **vals)
{
    shiftc_f32_rnn p;
    ir_rnn_params(g, n, &p);
    int lstm = n->op == OP_LSTM;
    float *scratch = xcalloc((size_t)ir_rnn_scratch(g, n), sizeof(float));
    if (lstm)
        shiftc_f32_lstm(vals[n->in[0]], vals[n->in[1]], vals[n->in[2]], interp_opt(n, vals, 3),
                        interp_opt(n, vals, 4), interp_opt(n, vals, 5), interp_opt(n, vals, 6),
                        interp_opt(n, vals, 7), interp_opt_out(n, vals, 0),
                        interp_opt_out(n, vals, 1), interp_opt_out(n, vals, 2), scratch, &p);
    else
        shiftc_f32_gru(vals[n->in[0]], vals[n->in[1]], vals[n->in[2]], interp_opt(n, vals, 3),
                       interp_opt(n, vals, 4), interp_opt(n, vals, 5), interp_opt_out(n, vals, 0),
                       interp_opt_out(n, vals, 1), scratch, &p);
    free(scratch);
    return 0;
}

static int interp_node(Graph *g, const Node *n, float **vals)
{
    const Tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    const float *xv = vals[n->in[0]];
    float *yv = vals[n->out[0]];
    int32_t len = interp_i32(ir_numel(y));
    shiftc_f32_geom ge;
    switch (n->op) {
    case OP_CONV: {
        const float *b = n->nin > 2 && n->in[2] >= 0 ? vals[n->in[2]] : NULL;
        interp_geom(g, n, &ge);
        shiftc_f32_conv2d(xv, vals[n->in[1]], b, yv, &ge);
        interp_fused_act(n, yv, len);
        return 0;
    }
    case OP_DENSE: {
        const Tensor *w = &g->tensors[n->in[1]];
        const float *b = n->nin > 2 && n->in[2] >= 0 ? vals[n->in[2]] : NULL;
        int32_t k = interp_i32(w->dims[1]);
        shiftc_f32_dense(xv, vals[n->in[1]], b, yv, interp_i32(ir_numel(x) / k), k,
                         interp_i32(w->dims[0]));
        interp_fused_act(n, yv, len);
        return 0;
    }
    case OP_BATCHNORM:
        interp_batchnorm(g, n, vals);
        return 0;
    case OP_RELU:
        shiftc_f32_relu(xv, yv, len);
        return 0;
    case OP_CLIP:
        shiftc_f32_clip(xv, yv, len, n->a.clip_min, n->a.clip_max);
        return 0;
    case OP_LEAKYRELU:
        shiftc_f32_leakyrelu(xv, yv, len, n->a.alpha);
        return 0;
    case OP_SIGMOID:
        shiftc_f32_sigmoid(xv, yv, len);
        return 0;
    case OP_TANH:
        shiftc_f32_tanh(xv, yv, len);
        return 0;
    case OP_MAXPOOL:
        interp_geom(g, n, &ge);
        shiftc_f32_maxpool2d(xv, yv, &ge);
        return 0;
    case OP_AVGPOOL:
        interp_geom(g, n, &ge);
        shiftc_f32_avgpool2d(xv, yv, &ge);
        return 0;
    case OP_GLOBALAVGPOOL: {
        int64_t nc = x->dims[0] * x->dims[1];
        shiftc_f32_global_avgpool(xv, yv, interp_i32(nc), interp_i32(ir_numel(x) / nc));
        return 0;
    }
    case OP_ADD: {
        shiftc_f32_bcast bc;
        memset(&bc, 0, sizeof bc);
        bc.rank = y->rank;
        for (int i = 0; i < y->rank; i++)
            bc.dims[i] = interp_i32(y->dims[i]);
        interp_bcast_strides(x, y->rank, bc.sa);
        interp_bcast_strides(&g->tensors[n->in[1]], y->rank, bc.sb);
        shiftc_f32_add(xv, vals[n->in[1]], yv, &bc);
        return 0;
    }
    case OP_CONCAT: {
        int axis = (int)n->a.axis;
        int64_t outer = interp_prod(y->dims, 0, axis), row = interp_prod(y->dims, axis, y->rank);
        int64_t offset = 0;
        for (int j = 0; j < n->nin; j++) {
            const Tensor *t = &g->tensors[n->in[j]];
            int64_t inner = interp_prod(t->dims, axis, t->rank);
            shiftc_f32_concat(vals[n->in[j]], yv, interp_i32(outer), interp_i32(inner),
                              interp_i32(row), interp_i32(offset));
            offset += inner;
        }
        return 0;
    }
    case OP_RESHAPE:
        shiftc_f32_copy(xv, yv, len);
        return 0;
    case OP_TRANSPOSE: {
        int32_t odims[IR_MAX_RANK], xs[IR_MAX_RANK];
        for (int i = 0; i < y->rank; i++) {
            odims[i] = interp_i32(y->dims[i]);
            xs[i] = interp_i32(interp_prod(x->dims, n->a.perm[i] + 1, x->rank));
        }
        shiftc_f32_transpose(xv, yv, y->rank, odims, xs);
        return 0;
    }
    case OP_SLICE: {
        int32_t outer, inner, row, offset;
        ka_slice(g, n, &outer, &inner, &row, &offset);
        shiftc_f32_slice(xv, yv, outer, inner, row, offset);
        return 0;
    }
    case OP_SOFTMAX: {
        int axis = (int)n->a.axis;
        int64_t outer = interp_prod(x->dims, 0, axis), slen, inner;
        if (n->a.softmax_flatten) { /* opset < 13: over dims [axis, rank) */
            slen = interp_prod(x->dims, axis, x->rank);
            inner = 1;
        } else {
            slen = x->dims[axis];
            inner = interp_prod(x->dims, axis + 1, x->rank);
        }
        shiftc_f32_softmax(xv, yv, interp_i32(outer), interp_i32(slen), interp_i32(inner));
        return 0;
    }
    case OP_LSTM:
    case OP_GRU:
        return interp_rnn(g, n, vals);
    case OP_COUNT:
        break;
    }
    return ir_fail(g, n, "the float interpreter does not handle this op");
}

/* Inputs a node must have for the kernels not to read past its arrays. */
static int interp_arity(Op op)
{
    switch (op) {
    case OP_CONV:
    case OP_DENSE:
    case OP_ADD:
        return 2;
    case OP_LSTM:
    case OP_GRU:
        return 3;
    case OP_BATCHNORM:
        return 5;
    default:
        return 1;
    }
}

int ir_interp_run(Graph *g, float **vals)
{
    for (int i = 0; i < g->ninputs; i++)
        if (!vals[g->inputs[i]])
            return ir_fail(g, NULL, "graph input \"%s\" has no value",
                           g->tensors[g->inputs[i]].name);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->nin < 1 || n->nout < 1 || n->in[0] < 0 || n->out[0] < 0)
            return ir_fail(g, n, "node without input or output");
        if (n->nin < interp_arity(n->op))
            return ir_fail(g, n, "needs %d inputs, has %d", interp_arity(n->op), n->nin);
        for (int j = 0; j < n->nin; j++) {
            if (n->in[j] < 0 && j < interp_arity(n->op))
                return ir_fail(g, n, "input #%d is missing", j + 1);
            if (n->in[j] >= 0 && !vals[n->in[j]])
                return ir_fail(g, n, "input \"%s\" has no value", g->tensors[n->in[j]].name);
        }
        if (interp_node(g, n, vals))
            return -1;
    }
    return 0;
}
