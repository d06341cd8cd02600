/*
 * BatchNormalization folding.  Runs after ir_infer_shapes (it needs dims).
 *
 * A BN whose input comes from a Conv or Dense that nobody else reads (and
 * that is not a graph output, and has no fused activation) is folded into
 * that layer: with s[c] = scale[c] / sqrt(var[c] + eps),
 *     W'[c, ...] = W[c, ...] * s[c],   b'[c] = (b[c] - mean[c]) * s[c] + B[c].
 * W' and b' are new constants (the old ones may be shared with other
 * layers), the layer then writes the BN's output tensor (so graph outputs
 * keep their names) and the BN node is deleted.  A Dense is foldable only
 * when its output channel axis is BN's channel axis, i.e. its output is
 * [M, N].
 *
 * Any other BN becomes a layer of its own: a depthwise 1x1 Conv (group = C,
 * weights [C, 1, 1, 1], bias [C]) on NCHW / NCL inputs, or a Dense with a
 * diagonal [C, C] weight on [M, C] inputs, so no BN reaches quantization.
 *
 * The arithmetic is done in double and rounded once to float.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "util.h"

/* A new constant named base + suffix, made unique with a counter. */
static int bn_new_const(Graph *g, const char *base, const char *suffix, int rank,
                        const int64_t *dims)
{
    char name[512];
    snprintf(name, sizeof name, "%s%s", base, suffix);
    for (int k = 2; ir_find_tensor(g, name) >= 0; k++)
        snprintf(name, sizeof name, "%s%s_%d", base, suffix, k);
    int t = ir_add_tensor(g, name, TK_CONST);
    Tensor *tt = &g->tensors[t];
    tt->rank = rank;
    memcpy(tt->dims, dims, (size_t)rank * sizeof *dims);
    tt->data = xcalloc((size_t)ir_numel(tt), sizeof(float));
    return t;
}

static int bn_is_graph_output(const Graph *g, int t)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == t)
            return 1;
    return 0;
}

/* The live producer of tensor t among nodes [0, before), or -1 (folded BNs
 * still name the tensor the layer now writes). */
static int bn_producer(const Graph *g, int t, int before, const int *dead)
{
    for (int i = before - 1; i >= 0; i--) {
        if (dead[i])
            continue;
        for (int j = 0; j < g->nodes[i].nout; j++)
            if (g->nodes[i].out[j] == t)
                return i;
    }
    return -1;
}

/* Whether bn can fold into ln, the live producer of its input. */
static int bn_foldable(const Graph *g, const Node *ln, const Node *bn, int64_t c)
{
    int x = bn->in[0];
    if (ln->op != OP_CONV && ln->op != OP_DENSE)
        return 0;
    /* a Dense maps the last axis; BN normalises axis 1: the same only for [M, N] */
    if (ln->op == OP_DENSE && g->tensors[x].rank != 2)
        return 0;
    /* the pre-BN values must be needed nowhere else, and no activation
       may sit between the sum and the BN */
    if (ln->a.fused_act != ACT_NONE || ln->out[0] != x || ir_consumers(g, x, NULL, 0) != 1 ||
        bn_is_graph_output(g, x))
        return 0;
    if (ln->nin < 2 || ln->in[1] < 0)
        return 0;
    const Tensor *w = &g->tensors[ln->in[1]];
    int has_bias = ln->nin > 2 && ln->in[2] >= 0;
    return w->kind == TK_CONST && w->data && w->dims[0] == c &&
           (!has_bias || (g->tensors[ln->in[2]].kind == TK_CONST && g->tensors[ln->in[2]].data));
}

/* Per-channel factor s and offset o: BN(x) = x * s + o. */
static int bn_coeffs(Graph *g, const Node *bn, int64_t c, double *s, double *o)
{
    static const char *const what[4] = {"scale", "B", "mean", "var"};
    const float *p[4];
    for (int j = 0; j < 4; j++) {
        const Tensor *t = &g->tensors[bn->in[j + 1]];
        if (t->kind != TK_CONST || !t->data)
            return ir_fail(g, bn, "%s \"%s\" must be a constant", what[j], t->name);
        if (ir_numel(t) != c)
            return ir_fail(g, bn, "%s \"%s\" has %lld values, expected %lld", what[j], t->name,
                           (long long)ir_numel(t), (long long)c);
        p[j] = t->data;
    }
    for (int64_t ch = 0; ch < c; ch++) {
        double v = (double)p[3][ch] + (double)bn->a.epsilon;
        if (!(v > 0))
            return ir_fail(g, bn, "var + epsilon is %g for channel %lld", v, (long long)ch);
        s[ch] = (double)p[0][ch] / sqrt(v);
        o[ch] = (double)p[1][ch] - (double)p[2][ch] * s[ch];
    }
    return 0;
}

/* Folds bn into layer `ln` (Conv or Dense) producing its input. */
static void bn_fold_into(Graph *g, Node *ln, const Node *bn, const double *s, const double *o)
{
    const Tensor *w = &g->tensors[ln->in[1]];
    int64_t oc = w->dims[0], per = ir_numel(w) / oc;
    int64_t wdims[IR_MAX_RANK], bdim = oc;
    memcpy(wdims, w->dims, sizeof wdims);
    int has_bias = ln->nin > 2 && ln->in[2] >= 0;
    const char *base = g->tensors[ln->in[1]].name;
    int nw = bn_new_const(g, base, "_bnfold", w->rank, wdims);
    int nb = bn_new_const(g, has_bias ? g->tensors[ln->in[2]].name : base,
                          has_bias ? "_bnfold" : "_bnbias", 1, &bdim);
    /* g->tensors may have moved: re-read everything through indices */
    const float *wv = g->tensors[ln->in[1]].data;
    const float *bv = has_bias ? g->tensors[ln->in[2]].data : NULL;
    float *nwv = g->tensors[nw].data, *nbv = g->tensors[nb].data;
    for (int64_t c = 0; c < oc; c++) {
        for (int64_t i = 0; i < per; i++)
            nwv[c * per + i] = (float)((double)wv[c * per + i] * s[c]);
        nbv[c] = (float)((bv ? (double)bv[c] : 0.0) * s[c] + o[c]);
    }
    ln->in[1] = nw;
    ln->in[2] = nb;
    if (ln->nin < 3)
        ln->nin = 3;
    ln->out[0] = bn->out[0];
}

/* Turns bn in place into a depthwise 1x1 Conv or a diagonal Dense. */
static int bn_to_layer(Graph *g, Node *bn, const double *s, const double *o)
{
    const Tensor *x = &g->tensors[bn->in[0]];
    int64_t c = x->dims[1], wdims[4] = {c, 1, 1, 1}, bdim = c;
    int rank = x->rank;
    if (rank != 2 && rank != 3 && rank != 4)
        return ir_fail(g, bn, "input rank %d is not supported (a BatchNormalization that cannot be folded needs rank 2, 3 or 4)",
                       rank);
    int dense = rank == 2;
    if (dense)
        wdims[1] = c;
    char base[512];
    snprintf(base, sizeof base, "%s", bn->name);
    int nw = bn_new_const(g, base, "_bnweight", dense ? 2 : 4, wdims);
    int nb = bn_new_const(g, base, "_bnbias", 1, &bdim);
    float *wv = g->tensors[nw].data, *bv = g->tensors[nb].data;
    for (int64_t ch = 0; ch < c; ch++) {
        wv[dense ? ch * c + ch : ch] = (float)s[ch];
        bv[ch] = (float)o[ch];
    }
    int in = bn->in[0], out = bn->out[0];
    bn->op = dense ? OP_DENSE : OP_CONV;
    ir_default_attrs(&bn->a);
    if (!dense)
        bn->a.group = c;
    for (int j = 0; j < IR_MAX_IO; j++)
        bn->in[j] = -1;
    bn->in[0] = in;
    bn->in[1] = nw;
    bn->in[2] = nb;
    bn->nin = 3;
    bn->out[0] = out;
    return 0;
}

int ir_fold_batchnorm(Graph *g)
{
    int *dead = xcalloc((size_t)g->nnodes + 1, sizeof *dead);
    int changed = 0, rc = 0;
    for (int i = 0; i < g->nnodes && rc == 0; i++) {
        Node *bn = &g->nodes[i];
        if (bn->op != OP_BATCHNORM)
            continue;
        if (bn->nin < 5 || bn->nout < 1 || bn->in[0] < 0) {
            rc = ir_fail(g, bn, "expected 5 inputs and an output");
            break;
        }
        const Tensor *x = &g->tensors[bn->in[0]];
        if (x->rank < 2) {
            rc = ir_fail(g, bn, "shapes not inferred or input has no channel dimension");
            break;
        }
        int64_t c = x->dims[1];
        double *s = xcalloc((size_t)c, sizeof *s), *o = xcalloc((size_t)c, sizeof *o);
        rc = bn_coeffs(g, bn, c, s, o);
        if (rc == 0) {
            int p = bn_producer(g, bn->in[0], i, dead);
            Node *ln = p >= 0 ? &g->nodes[p] : NULL;
            int foldable = ln && bn_foldable(g, ln, bn, c);
            if (foldable) {
                bn_fold_into(g, ln, bn, s, o);
                dead[i] = 1;
            } else {
                rc = bn_to_layer(g, bn, s, o);
            }
            changed = 1;
        }
        free(s);
        free(o);
    }
    if (rc == 0 && changed) {
        ir_remove_nodes(g, dead);
        rc = ir_toposort(g);
    }
    free(dead);
    return rc;
}
