/*
 * The integer simulator: the definition of what emitted code computes.
 *
 * It runs a quantized graph node by node with nothing but the kernels of
 * runtime/shiftc_rt.h, their arguments computed by kernel_args.c -- the
 * same header and the same argument code the emitter uses -- so every
 * output of a generated program can be compared with it bit for bit.
 *
 * In no-mul mode (g->no_mul) the requantizing kernels are the
 * multiplierless ones (shiftc_*_nomul_q, QLayer.nm), as in emitted code.
 *
 * Storage: one buffer per non-constant tensor (codes as int8_t, uint8_t,
 * int16_t or uint16_t per its QParams, ka_type), plus one per constant data
 * operand of Add and Concat holding its codes (t->qdata) in its storage
 * type.  Reshape copies.
 */
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "kernel_args.h"
#include "quant_rnn.h"
#include "shiftc_rt.h"
#include "util.h"

struct QSim {
    const Graph *g;
    uint8_t **buf; /* per tensor: codes, NULL for unused constants */
};

/* Errors are reported in the graph's err field: the caller owns a mutable
 * Graph, the simulator only promises not to change anything else. */
static int qsim_fail(const QSim *s, const Node *n, const char *msg)
{
    return ir_fail((Graph *)s->g, n, "integer simulator: %s", msg);
}

/* Checks everything a run relies on, so that ir_qsim_run cannot fail on a
 * graph that passed here. */
static int qsim_check(const QSim *s)
{
    const Graph *g = s->g;
    for (int i = 0; i < g->nnodes; i++) {
        const char *why = ir_quantized_problem(g, &g->nodes[i]);
        if (why)
            return qsim_fail(s, &g->nodes[i], why);
    }
    return 0;
}

QSim *ir_qsim_new(const Graph *g)
{
    QSim *s = xcalloc(1, sizeof *s);
    s->g = g;
    s->buf = xcalloc((size_t)g->ntensors, sizeof *s->buf);
    if (qsim_check(s)) {
        ir_qsim_free(s);
        return NULL;
    }
    for (int t = 0; t < g->ntensors; t++) {
        const Tensor *tt = &g->tensors[t];
        int32_t count = ka_numel(tt);
        if (tt->kind != TK_CONST) {
            s->buf[t] = xcalloc((size_t)count, (size_t)ka_esize(tt));
        } else if (tt->qdata && ir_tensor_quantized(tt)) {
            /* constant data operand: its codes as the kernels read them */
            s->buf[t] = xmalloc((size_t)ka_bytes(tt));
            for (int32_t i = 0; i < count; i++)
                shiftc_st(s->buf[t], i, ka_type(tt), tt->qdata[i]);
        }
    }
    return s;
}

void ir_qsim_free(QSim *s)
{
    if (!s)
        return;
    for (int t = 0; t < s->g->ntensors; t++)
        free(s->buf[t]);
    free(s->buf);
    free(s);
}

/* LSTM, GRU: the runtime's time loop with the reference matrix-vector
 * products (emitted code passes its unrolled ones), once per direction. */
static void run_rnn(QSim *s, const Node *n)
{
    shiftc_rnn r;
    shiftc_rnn_ref ref;
    void *y[3];
    for (int k = 0; k < 3; k++) {
        int t = quant_rnn_output(n, k);
        y[k] = t >= 0 ? s->buf[t] : NULL;
    }
    void *scratch = xmalloc(SHIFTC_RNN_SCRATCH((size_t)n->q->rnn->H));
    for (int d = 0; d < n->q->rnn->ndir; d++) {
        ka_rnn(s->g, n, d, &r, &ref);
        shiftc_rnn_q(&r, shiftc_rnn_mv_ref, &ref, s->buf[n->in[0]], y[0], y[1], y[2], scratch);
    }
    free(scratch);
}

static void run_node(QSim *s, const Node *n)
{
    const Graph *g = s->g;
    if (ir_op_is_recurrent(n->op)) {
        run_rnn(s, n);
        return;
    }
    const QLayer *q = n->q;
    const Tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    const uint8_t *xb = s->buf[n->in[0]];
    uint8_t *yb = s->buf[n->out[0]];
    int xt = ka_type(x), yt = ka_type(y);
    shiftc_geom geom;
    switch (n->op) {
    case OP_CONV:
        ka_geom(g, n, &geom);
        if (g->no_mul)
            shiftc_conv_nomul_q(xb, xt, q->wq, q->bias, q->nm, y->q.zero, q->lo, q->hi, yb, yt, &geom);
        else
            shiftc_conv_q(xb, xt, q->wq, q->bias, q->mult, q->shift, y->q.zero, q->lo, q->hi, yb,
                          yt, &geom);
        break;
    case OP_DENSE: {
        int32_t m, k, nout;
        ka_dense_dims(g, n, &m, &k, &nout);
        if (g->no_mul)
            shiftc_dense_nomul_q(xb, xt, q->wq, q->bias, q->nm, y->q.zero, q->lo, q->hi, yb, yt, m,
                                 k, nout);
        else
            shiftc_dense_q(xb, xt, q->wq, q->bias, q->mult, q->shift, y->q.zero, q->lo, q->hi, yb,
                           yt, m, k, nout);
        break;
    }
    case OP_MAXPOOL:
        ka_geom(g, n, &geom);
        shiftc_maxpool_q(xb, yb, xt, &geom);
        break;
    case OP_AVGPOOL:
        ka_geom(g, n, &geom);
        shiftc_avgpool_q(xb, yb, xt, &geom);
        break;
    case OP_GLOBALAVGPOOL: {
        int32_t nc, hw;
        ka_global_pool(g, n, &nc, &hw);
        shiftc_global_avgpool_q(xb, yb, xt, nc, hw);
        break;
    }
    case OP_ADD: {
        shiftc_bcast bc;
        ka_bcast(g, n, &bc);
        const Tensor *b = &g->tensors[n->in[1]];
        if (g->no_mul) {
            shiftc_qadd_nm qa;
            ka_qadd_nm(g, n, &qa);
            shiftc_add_nomul_q(xb, xt, s->buf[n->in[1]], ka_type(b), yb, yt, &qa, &bc);
        } else {
            shiftc_qadd qa;
            ka_qadd(g, n, &qa);
            shiftc_add_q(xb, xt, s->buf[n->in[1]], ka_type(b), yb, yt, &qa, &bc);
        }
        break;
    }
    case OP_CONCAT:
        for (int i = 0; i < n->nin; i++) {
            int32_t outer, inner, row, offset;
            const int32_t *m = q->in_nm[i];
            ka_concat(g, n, i, &outer, &inner, &row, &offset);
            if (g->no_mul)
                shiftc_concat_nomul_q(s->buf[n->in[i]], ka_type(&g->tensors[n->in[i]]), yb, yt,
                                      outer, inner, row, offset, m[0], m[1], m[2], y->q.zero, q->lo,
                                      q->hi);
            else
                shiftc_concat_q(s->buf[n->in[i]], ka_type(&g->tensors[n->in[i]]), yb, yt, outer,
                                inner, row, offset, q->in_mult[i], q->in_shift[i], y->q.zero, q->lo,
                                q->hi);
        }
        break;
    case OP_RELU:
    case OP_CLIP:
    case OP_LEAKYRELU:
    case OP_SIGMOID:
    case OP_TANH:
        shiftc_lut_q(xb, xt, yb, yt, ka_numel(x), q->lut);
        break;
    case OP_SOFTMAX: {
        int32_t outer, len, inner;
        ka_softmax(g, n, &outer, &len, &inner);
        shiftc_softmax_q(xb, xt, yb, yt, q->hi, outer, len, inner, q->exp_lut);
        break;
    }
    case OP_RESHAPE:
        memcpy(yb, xb, (size_t)ka_bytes(x));
        break;
    case OP_TRANSPOSE: {
        int32_t rank, odims[6], xs[6];
        ka_transpose(g, n, &rank, odims, xs);
        if (shiftc_is16(xt))
            shiftc_transpose16_q(xb, yb, rank, odims, xs);
        else
            shiftc_transpose_q(xb, yb, rank, odims, xs);
        break;
    }
    case OP_SLICE: {
        int32_t outer, inner, row, offset;
        ka_slice(g, n, &outer, &inner, &row, &offset);
        shiftc_slice_q(xb, xt, yb, outer, inner, row, offset);
        break;
    }
    default:
        unreachable(); /* qsim_check rejected it */
    }
}

int ir_qsim_run(QSim *s, const void *const *inputs, void *const *outputs)
{
    const Graph *g = s->g;
    for (int i = 0; i < g->ninputs; i++) {
        int t = g->inputs[i];
        memcpy(s->buf[t], inputs[i], (size_t)ka_bytes(&g->tensors[t]));
    }
    for (int i = 0; i < g->nnodes; i++)
        run_node(s, &g->nodes[i]);
    for (int i = 0; i < g->noutputs; i++) {
        int t = g->outputs[i];
        if (outputs[i])
            memcpy(outputs[i], s->buf[t], (size_t)ka_bytes(&g->tensors[t]));
    }
    return 0;
}

const void *ir_qsim_buffer(const QSim *s, int tensor)
{
    ensure(tensor >= 0 && tensor < s->g->ntensors);
    return s->buf[tensor];
}

void *ir_qsim_tensor(QSim *s, int t)
{
    ensure(t >= 0 && t < s->g->ntensors);
    return s->buf[t];
}

void ir_qsim_run_node(QSim *s, int k)
{
    ensure(k >= 0 && k < s->g->nnodes);
    run_node(s, &s->g->nodes[k]);
}
