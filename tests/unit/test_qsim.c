/* Unit tests of the integer simulator (ir/qsim.c): on small hand-built
 * graphs, its dequantized outputs approximate the float interpreter, and it
 * is deterministic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "kernel_args.h"
#include "quant.h"
#include "util.h"

/* ---- building small graphs by hand ---- */

static uint32_t rng = 99u;
static float frand(void) /* uniform in [-1, 1), deterministic */
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 8388608.0f - 1.0f;
}

static int add_tensor(Graph *g, const char *name, TensorKind kind, int rank, const int64_t *dims)
{
    int t = ir_add_tensor(g, name, kind);
    g->tensors[t].rank = rank;
    for (int i = 0; i < rank; i++)
        g->tensors[t].dims[i] = dims[i];
    return t;
}

/* A constant of random values times mul. */
static int add_rand_const(Graph *g, const char *name, int rank, const int64_t *dims, float mul)
{
    int t = add_tensor(g, name, TK_CONST, rank, dims);
    int64_t n = ir_numel(&g->tensors[t]);
    g->tensors[t].data = xmalloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        g->tensors[t].data[i] = mul * frand();
    return t;
}

static int add_input(Graph *g, const char *name, int rank, const int64_t *dims)
{
    int t = add_tensor(g, name, TK_INPUT, rank, dims);
    g->inputs[g->ninputs++] = t;
    return t;
}

/* A node with one new activation output; returns the output tensor. */
static int add_node(Graph *g, Op op, const char *name, int nin, const int *in, int *node)
{
    int i = ir_add_node(g, op, name, g->nnodes);
    char oname[64];
    snprintf(oname, sizeof oname, "%s_out", name);
    int out = ir_add_tensor(g, oname, TK_ACT);
    Node *n = &g->nodes[i];
    n->nin = nin;
    for (int j = 0; j < nin; j++)
        n->in[j] = in[j];
    n->nout = 1;
    n->out[0] = out;
    g->tensors[out].producer = i;
    if (node)
        *node = i;
    return out;
}

static int add_conv(Graph *g, const char *name, int x, int64_t ic, int64_t oc, int64_t k, int pad,
                    FusedAct act, int *node)
{
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s_w", name);
    snprintf(bn, sizeof bn, "%s_b", name);
    int64_t wd[4] = {oc, ic, k, k}, bd[1] = {oc};
    /* He-like init keeps activations in a sane range */
    int in[3] = {x, add_rand_const(g, wn, 4, wd, 1.5f / sqrtf((float)(ic * k * k))),
                 add_rand_const(g, bn, 1, bd, 0.1f)};
    int nd, y = add_node(g, OP_CONV, name, 3, in, &nd);
    g->nodes[nd].a.pads[0] = g->nodes[nd].a.pads[1] = pad;
    g->nodes[nd].a.pads[2] = g->nodes[nd].a.pads[3] = pad;
    g->nodes[nd].a.fused_act = act;
    if (node)
        *node = nd;
    return y;
}

static int add_dense(Graph *g, const char *name, int x, int64_t k, int64_t nout)
{
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s_w", name);
    snprintf(bn, sizeof bn, "%s_b", name);
    int64_t wd[2] = {nout, k}, bd[1] = {nout};
    int in[3] = {x, add_rand_const(g, wn, 2, wd, 1.5f / sqrtf((float)k)),
                 add_rand_const(g, bn, 1, bd, 0.1f)};
    return add_node(g, OP_DENSE, name, 3, in, NULL);
}

static int add_pool(Graph *g, Op op, const char *name, int x, int k, int s)
{
    int nd, y = add_node(g, op, name, 1, &x, &nd);
    Attrs *a = &g->nodes[nd].a;
    a->kernel[0] = a->kernel[1] = k;
    a->strides[0] = a->strides[1] = s;
    return y;
}

static int add_reshape(Graph *g, const char *name, int x, int64_t d0, int64_t d1)
{
    int nd, y = add_node(g, OP_RESHAPE, name, 1, &x, &nd);
    g->nodes[nd].a.nshape = 2;
    g->nodes[nd].a.shape[0] = d0;
    g->nodes[nd].a.shape[1] = d1;
    return y;
}

/* ---- running both ways ---- */

/* Calibrates on n random samples, quantizes, then on the same samples
 * compares every graph output: the dequantized simulator output against the
 * float interpreter, as a maximum error in units of the output scale.
 * (Samples outside the calibrated ranges would be clamped, an error that
 * says nothing about the arithmetic.) */
static double compare(Graph *g, int n, float xmul, float xoff)
{
    const Tensor *xin = &g->tensors[g->inputs[0]];
    int64_t nx = ir_numel(xin);
    float *cal = xmalloc((size_t)(nx * n) * sizeof(float));
    for (int64_t i = 0; i < nx * n; i++)
        cal[i] = xoff + xmul * frand();
    assert_int_equal(ir_calibrate(g, cal, n), 0);
    if (ir_quantize(g) != 0)
        fail_msg("ir_quantize: %s", g->err);
    QSim *s = ir_qsim_new(g);
    if (!s)
        fail_msg("ir_qsim_new: %s", g->err);

    float **vals = ir_interp_alloc(g);
    void *xq = xmalloc((size_t)nx);
    void *yq[IR_MAX_IO], *yq2[IR_MAX_IO];
    float *yf[IR_MAX_IO];
    for (int o = 0; o < g->noutputs; o++) {
        int64_t n = ir_numel(&g->tensors[g->outputs[o]]);
        yq[o] = xmalloc((size_t)n);
        yq2[o] = xmalloc((size_t)n);
        yf[o] = xmalloc((size_t)n * sizeof(float));
    }
    double worst = 0;
    for (int t = 0; t < n; t++) {
        memcpy(vals[g->inputs[0]], cal + t * nx, (size_t)nx * sizeof(float));
        assert_int_equal(ir_interp_run(g, vals), 0);
        ir_quantize_input(xin, vals[g->inputs[0]], xq);
        const void *ins[1] = {xq};
        assert_int_equal(ir_qsim_run(s, ins, yq), 0);
        assert_int_equal(ir_qsim_run(s, ins, yq2), 0); /* deterministic */
        for (int o = 0; o < g->noutputs; o++) {
            const Tensor *y = &g->tensors[g->outputs[o]];
            int64_t n = ir_numel(y);
            assert_memory_equal(yq[o], yq2[o], (size_t)n);
            ir_dequantize_output(y, yq[o], yf[o]);
            for (int64_t i = 0; i < n; i++) {
                double e = fabs((double)yf[o][i] - vals[g->outputs[o]][i]) / y->q.scale;
                worst = fmax(worst, e);
            }
        }
    }
    for (int o = 0; o < g->noutputs; o++)
        free(yq[o]), free(yq2[o]), free(yf[o]);
    free(xq);
    free(cal);
    ir_interp_free(g, vals);
    ir_qsim_free(s);
    return worst;
}

/* ---- tests ---- */

/* conv+relu -> maxpool -> flatten -> dense, the shape of a small CNN */
static void test_cnn(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("cnn");
    int64_t xd[4] = {1, 2, 8, 8};
    int x = add_input(g, "x", 4, xd);
    int c = add_conv(g, "conv1", x, 2, 4, 3, 1, ACT_RELU, NULL);
    int p = add_pool(g, OP_MAXPOOL, "pool1", c, 2, 2);
    int f = add_reshape(g, "flat", p, 1, 64);
    int y = add_dense(g, "fc", f, 64, 10);
    g->outputs[g->noutputs++] = y;
    assert_int_equal(ir_infer_shapes(g), 0);
    double worst = compare(g, 50, 1.0f, 0.0f);
    printf("cnn: worst error %.2f output scales\n", worst);
    assert_true(worst <= 3.0);
    assert_int_equal(g->tensors[c].q.type, QT_U8); /* after ReLU */
    assert_int_equal(g->tensors[p].q.type, QT_U8);
    assert_int_equal(g->tensors[y].q.type, QT_I8);

    /* the same graph quantized again simulates to the same codes */
    int64_t nx = ir_numel(&g->tensors[x]);
    int8_t *xq = xmalloc((size_t)nx);
    for (int64_t i = 0; i < nx; i++)
        xq[i] = (int8_t)(i * 37 % 256 - 128);
    int8_t y1[10], y2[10];
    const void *ins[1] = {xq};
    void *o1[1] = {y1}, *o2[1] = {y2};
    QSim *s = ir_qsim_new(g);
    assert_non_null(s);
    assert_int_equal(ir_qsim_run(s, ins, o1), 0);
    ir_qsim_free(s);
    assert_int_equal(ir_quantize(g), 0);
    s = ir_qsim_new(g);
    assert_non_null(s);
    assert_int_equal(ir_qsim_run(s, ins, o2), 0);
    ir_qsim_free(s);
    assert_memory_equal(y1, y2, sizeof y1);
    free(xq);
    ir_graph_free(g);
}

/* Every other kernel: Add (with a broadcast constant), Concat, AvgPool,
 * GlobalAveragePool, Transpose, LeakyRelu, Sigmoid, Tanh, Clip, Softmax. */
static void test_all_ops(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("ops");
    int64_t xd[4] = {1, 3, 6, 6};
    int x = add_input(g, "x", 4, xd);
    int c1 = add_conv(g, "c1", x, 3, 4, 3, 1, ACT_RELU, NULL);
    int c2 = add_conv(g, "c2", x, 3, 4, 1, 0, ACT_NONE, NULL);
    int ain[2] = {c1, c2};
    int ad = add_node(g, OP_ADD, "add", 2, ain, NULL);
    int cin[2] = {c1, ad}, cn;
    int ct = add_node(g, OP_CONCAT, "cat", 2, cin, &cn);
    g->nodes[cn].a.axis = 1;
    int ap = add_pool(g, OP_AVGPOOL, "avg", ct, 2, 2); /* [1, 8, 3, 3] */
    int tn, tr = add_node(g, OP_TRANSPOSE, "tr", 1, &ap, &tn);
    g->nodes[tn].a.nperm = 4;
    int perm[4] = {0, 2, 3, 1}; /* [1, 3, 3, 8] */
    memcpy(g->nodes[tn].a.perm, perm, sizeof perm);
    int64_t bd[1] = {8};
    int bin[2] = {tr, add_rand_const(g, "bias8", 1, bd, 0.5f)};
    int ab = add_node(g, OP_ADD, "addc", 2, bin, NULL);
    int ln, lr = add_node(g, OP_LEAKYRELU, "lrelu", 1, &ab, &ln);
    g->nodes[ln].a.alpha = 0.1f;
    int fl = add_reshape(g, "flat", lr, 1, 72);
    int fc = add_dense(g, "fc", fl, 72, 5);
    int sn, sm = add_node(g, OP_SOFTMAX, "sm", 1, &fc, &sn);
    g->nodes[sn].a.axis = 1;
    int gp = add_node(g, OP_GLOBALAVGPOOL, "gap", 1, &ad, NULL); /* [1, 4, 1, 1] */
    int th = add_node(g, OP_TANH, "tanh", 1, &gp, NULL);
    int sg = add_node(g, OP_SIGMOID, "sig", 1, &gp, NULL);
    int kn, cl = add_node(g, OP_CLIP, "clip", 1, &c2, &kn);
    g->nodes[kn].a.clip_min = -0.5f;
    g->nodes[kn].a.clip_max = 0.5f;
    g->outputs[g->noutputs++] = sm;
    g->outputs[g->noutputs++] = th;
    g->outputs[g->noutputs++] = sg;
    g->outputs[g->noutputs++] = cl;
    g->outputs[g->noutputs++] = fc;
    assert_int_equal(ir_infer_shapes(g), 0);
    double worst = compare(g, 40, 1.0f, 0.0f);
    printf("all ops: worst error %.2f output scales\n", worst);
    assert_true(worst <= 5.0);
    ir_graph_free(g);
}

/* 1-D conv and pool: rank-3 tensors, H = 1. */
static void test_conv1d(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("c1d");
    int64_t xd[3] = {2, 2, 16}, wd[3] = {3, 2, 5}, bd[1] = {3};
    int x = add_input(g, "x", 3, xd);
    int in[3] = {x, add_rand_const(g, "w", 3, wd, 0.4f), add_rand_const(g, "b", 1, bd, 0.1f)};
    int cn, c = add_node(g, OP_CONV, "conv", 3, in, &cn);
    g->nodes[cn].a.pads[1] = g->nodes[cn].a.pads[3] = 2;
    g->nodes[cn].a.strides[1] = 2; /* [2, 3, 8] */
    int pn, p = add_node(g, OP_MAXPOOL, "pool", 1, &c, &pn);
    g->nodes[pn].a.kernel[1] = 3;
    g->nodes[pn].a.strides[1] = 2;
    g->nodes[pn].a.pads[1] = g->nodes[pn].a.pads[3] = 1; /* [2, 3, 4] */
    g->outputs[g->noutputs++] = p;
    assert_int_equal(ir_infer_shapes(g), 0);
    shiftc_geom ge;
    ka_geom(g, &g->nodes[cn], &ge);
    assert_int_equal(ge.h, 1);
    assert_int_equal(ge.kh, 1);
    assert_int_equal(ge.kw, 5);
    assert_int_equal(ge.ow, 8);
    assert_int_equal(ge.n, 2);
    double worst = compare(g, 20, 2.0f, 0.5f);
    printf("conv1d: worst error %.2f output scales\n", worst);
    assert_true(worst <= 2.0);
    ir_graph_free(g);
}

static void test_unquantized_rejected(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("raw");
    int64_t xd[2] = {1, 4};
    int x = add_input(g, "x", 2, xd);
    g->outputs[g->noutputs++] = add_node(g, OP_RELU, "relu", 1, &x, NULL);
    assert_int_equal(ir_infer_shapes(g), 0);
    assert_null(ir_qsim_new(g));
    assert_non_null(strstr(g->err, "relu"));
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnn),
        cmocka_unit_test(test_all_ops),
        cmocka_unit_test(test_conv1d),
        cmocka_unit_test(test_unquantized_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
