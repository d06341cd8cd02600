/* Float interpreter: every kernel against a direct computation written
 * here, independently of runtime/shiftc_f32.h. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir.h"

/* DIMS(2, 3) expands to the two arguments `dims, rank` */
#define DIMS(...) \
    (const int64_t[]){__VA_ARGS__}, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

/* deterministic values in [-1, 1) */
static uint32_t rng_state = 12345;
static float rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / (float)(1u << 23) - 1.0f;
}

static int tensor(Graph *g, TensorKind kind, const int64_t *dims, int rank)
{
    char name[32];
    snprintf(name, sizeof name, "t%d", g->ntensors);
    int t = ir_add_tensor(g, name, kind);
    Tensor *tt = &g->tensors[t];
    tt->rank = rank;
    for (int i = 0; i < rank; i++)
        tt->dims[i] = dims[i];
    if (kind == TK_CONST) {
        tt->data = calloc((size_t)ir_numel(tt), sizeof(float));
        for (int64_t i = 0; i < ir_numel(tt); i++)
            tt->data[i] = rnd();
    }
    return t;
}

static int input(Graph *g, const int64_t *dims, int rank)
{
    int t = tensor(g, TK_INPUT, dims, rank);
    g->inputs[g->ninputs++] = t;
    return t;
}

static int weight(Graph *g, const int64_t *dims, int rank)
{
    return tensor(g, TK_CONST, dims, rank);
}

/* Node with inputs a, b, c (-1: none) and one new output, made a graph
 * output; returns the node index. */
static int node(Graph *g, Op op, int a, int b, int c)
{
    char name[32];
    snprintf(name, sizeof name, "n%d", g->nnodes);
    int i = ir_add_node(g, op, name, g->nnodes);
    Node *n = &g->nodes[i];
    n->in[n->nin++] = a;
    if (b >= 0 || c >= 0)
        n->in[n->nin++] = b;
    if (c >= 0)
        n->in[n->nin++] = c;
    snprintf(name, sizeof name, "y%d", i);
    n->out[n->nout++] = ir_add_tensor(g, name, TK_ACT);
    g->outputs[g->noutputs++] = n->out[0];
    return i;
}

/* Infers shapes, fills the inputs with random values (or `given` for the
 * first), runs; returns vals for inspection. */
static float **run(Graph *g, const float *given)
{
    assert_int_equal(ir_infer_shapes(g), 0);
    float **vals = ir_interp_alloc(g);
    for (int i = 0; i < g->ninputs; i++) {
        int t = g->inputs[i];
        for (int64_t k = 0; k < ir_numel(&g->tensors[t]); k++)
            vals[t][k] = given && i == 0 ? given[k] : rnd();
    }
    if (ir_interp_run(g, vals) != 0)
        fail_msg("interp: %s", g->err);
    return vals;
}

static void expect_near(float got, double want, double tol)
{
    if (fabs((double)got - want) > tol)
        fail_msg("got %.9g, want %.9g", (double)got, want);
}

/* ---- Conv against a direct sum over the padded input ---- */

static void check_conv(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oc, int64_t kh,
                       int64_t kw, int64_t group, const int64_t st[2], const int64_t dil[2],
                       const int64_t pads[4], int bias, int rank)
{
    Graph *g = ir_graph_new("m");
    int x = rank == 4 ? input(g, DIMS(n, c, h, w)) : input(g, DIMS(n, c, w));
    int wt = weight(g, DIMS(oc, c / group, kh, kw));
    int b = bias ? weight(g, DIMS(oc)) : -1;
    int i = node(g, OP_CONV, x, wt, b);
    Attrs *a = &g->nodes[i].a;
    a->group = group;
    memcpy(a->strides, st, sizeof a->strides);
    memcpy(a->dilations, dil, sizeof a->dilations);
    memcpy(a->pads, pads, sizeof a->pads);
    float **vals = run(g, NULL);
    const Tensor *yt = &g->tensors[g->nodes[0].out[0]];
    int64_t oh = rank == 4 ? yt->dims[2] : 1, ow = yt->dims[rank - 1];
    assert_int_equal(oh, (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) / st[0] + 1);
    assert_int_equal(ow, (w + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) / st[1] + 1);
    const float *xv = vals[x], *wv = vals[wt], *bv = bias ? vals[b] : NULL;
    const float *yv = vals[yt - g->tensors];
    int64_t icg = c / group, ocg = oc / group;
    for (int64_t bn = 0; bn < n; bn++)
        for (int64_t o = 0; o < oc; o++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    double acc = bv ? bv[o] : 0.0;
                    for (int64_t ci = 0; ci < icg; ci++)
                        for (int64_t ky = 0; ky < kh; ky++)
                            for (int64_t kx = 0; kx < kw; kx++) {
                                int64_t iy = oy * st[0] + ky * dil[0] - pads[0];
                                int64_t ix = ox * st[1] + kx * dil[1] - pads[1];
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                    continue;
                                int64_t ch = (o / ocg) * icg + ci;
                                acc += (double)xv[((bn * c + ch) * h + iy) * w + ix] *
                                       wv[((o * icg + ci) * kh + ky) * kw + kx];
                            }
                    expect_near(yv[((bn * oc + o) * oh + oy) * ow + ox], acc, 1e-5);
                }
    ir_interp_free(g, vals);
    ir_graph_free(g);
}

static void test_conv(void **state)
{
    (void)state;
    check_conv(2, 3, 7, 6, 4, 3, 3, 1, (int64_t[]){1, 1}, (int64_t[]){1, 1},
               (int64_t[]){1, 1, 1, 1}, 1, 4);
    /* strides, dilations and asymmetric pads */
    check_conv(1, 2, 9, 8, 3, 3, 2, 1, (int64_t[]){2, 3}, (int64_t[]){2, 1},
               (int64_t[]){1, 0, 2, 3}, 0, 4);
    /* groups and depthwise */
    check_conv(1, 4, 6, 6, 6, 3, 3, 2, (int64_t[]){1, 2}, (int64_t[]){1, 1},
               (int64_t[]){0, 1, 2, 0}, 1, 4);
    check_conv(2, 5, 5, 5, 5, 3, 3, 5, (int64_t[]){1, 1}, (int64_t[]){2, 2},
               (int64_t[]){2, 2, 2, 2}, 1, 4);
    /* 1-D */
    check_conv(2, 3, 1, 11, 4, 1, 3, 1, (int64_t[]){1, 2}, (int64_t[]){1, 2},
               (int64_t[]){0, 2, 0, 1}, 1, 3);
}

static void test_conv_fused_act(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(1, 2, 4, 4));
    int i = node(g, OP_CONV, x, weight(g, DIMS(3, 2, 3, 3)), weight(g, DIMS(3)));
    int j = node(g, OP_CONV, x, g->nodes[i].in[1], g->nodes[i].in[2]);
    int k = node(g, OP_CONV, x, g->nodes[i].in[1], g->nodes[i].in[2]);
    g->nodes[j].a.fused_act = ACT_RELU;
    g->nodes[k].a.fused_act = ACT_CLIP;
    g->nodes[k].a.clip_min = -0.25f;
    g->nodes[k].a.clip_max = 0.5f;
    float **vals = run(g, NULL);
    const float *y = vals[g->nodes[i].out[0]], *r = vals[g->nodes[j].out[0]];
    const float *c = vals[g->nodes[k].out[0]];
    for (int e = 0; e < 3 * 2 * 2; e++) {
        assert_true(r[e] == (y[e] > 0 ? y[e] : 0.0f));
        assert_true(c[e] == (y[e] < -0.25f ? -0.25f : y[e] > 0.5f ? 0.5f : y[e]));
    }
    ir_interp_free(g, vals);
    ir_graph_free(g);
}

/* ---- pools ---- */

static void test_maxpool(void **state)
{
    (void)state;
    /* 4x4 ramp, 3x3 windows, stride 2, pad 1, ceil_mode: 3x3 outputs */
    float x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i % 5) - (float)i * 0.5f;
    Graph *g = ir_graph_new("m");
    int i = node(g, OP_MAXPOOL, input(g, DIMS(1, 1, 4, 4)), -1, -1);
    Attrs *a = &g->nodes[i].a;
    a->kernel[0] = a->kernel[1] = 3;
    a->strides[0] = a->strides[1] = 2;
    a->pads[0] = a->pads[1] = a->pads[2] = a->pads[3] = 1;
    a->ceil_mode = 1;
    float **vals = run(g, x);
    const Tensor *yt = &g->tensors[g->nodes[0].out[0]];
    /* ceil((4 + 2 - 3) / 2) + 1 = 3: the last window starts at row 3, inside */
    assert_int_equal(yt->dims[2], 3);
    for (int oy = 0; oy < yt->dims[2]; oy++)
        for (int ox = 0; ox < yt->dims[3]; ox++) {
            float best = -INFINITY;
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
                    if (iy >= 0 && iy < 4 && ix >= 0 && ix < 4 && x[iy * 4 + ix] > best)
                        best = x[iy * 4 + ix];
                }
            assert_true(vals[yt - g->tensors][oy * yt->dims[3] + ox] == best);
        }
    ir_interp_free(g, vals);
    ir_graph_free(g);
}

static void test_avgpool_count_include_pad(void **state)
{
    (void)state;
    /* x = 1..9 in 3x3, 2x2 windows, stride 1, pad 1: 4x4 outputs */
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    for (int cip = 0; cip < 2; cip++) {
        Graph *g = ir_graph_new("m");
        int i = node(g, OP_AVGPOOL, input(g, DIMS(1, 1, 3, 3)), -1, -1);
        Attrs *a = &g->nodes[i].a;
        a->kernel[0] = a->kernel[1] = 2;
        a->pads[0] = a->pads[1] = a->pads[2] = a->pads[3] = 1;
        a->count_include_pad = cip;
        float **vals = run(g, x);
        const float *y = vals[g->nodes[0].out[0]];
        /* corner: only x[0] inside; edge (0,1): x[0], x[1]; centre (1,1): 1,2,4,5 */
        expect_near(y[0], cip ? 1.0 / 4 : 1.0, 1e-6);
        expect_near(y[1], cip ? 3.0 / 4 : 3.0 / 2, 1e-6);
        expect_near(y[5], 12.0 / 4, 1e-6);
        expect_near(y[15], cip ? 9.0 / 4 : 9.0, 1e-6);
        ir_interp_free(g, vals);
        ir_graph_free(g);
    }
    /* ceil_mode windows past the padding never count: 5x5, k2 s2, no pads */
    float x5[25];
    for (int i = 0; i < 25; i++)
        x5[i] = (float)i;
    for (int cip = 0; cip < 2; cip++) {
        Graph *g = ir_graph_new("m");
        int i = node(g, OP_AVGPOOL, input(g, DIMS(1, 1, 5, 5)), -1, -1);
        Attrs *a = &g->nodes[i].a;
        a->kernel[0] = a->kernel[1] = 2;
        a->strides[0] = a->strides[1] = 2;
        a->ceil_mode = 1;
        a->count_include_pad = cip;
        float **vals = run(g, x5);
        const float *y = vals[g->nodes[0].out[0]];
        expect_near(y[0], (0 + 1 + 5 + 6) / 4.0, 1e-6);
        expect_near(y[2], (4 + 9) / 2.0, 1e-6);
        expect_near(y[8], 24.0, 1e-6);
        ir_interp_free(g, vals);
        ir_graph_free(g);
    }
}

static void test_global_avgpool(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(2, 3, 4, 5));
    node(g, OP_GLOBALAVGPOOL, x, -1, -1);
    float **vals = run(g, NULL);
    for (int p = 0; p < 6; p++) {
        double s = 0;
        for (int i = 0; i < 20; i++)
            s += vals[x][p * 20 + i];
        expect_near(vals[g->nodes[0].out[0]][p], s / 20, 1e-6);
    }
    ir_interp_free(g, vals);
    ir_graph_free(g);
}

/* ---- softmax ---- */

static void test_softmax(void **state)
{
    (void)state;
    /* last axis, with logits large enough to overflow a naive expf */
    float x[6] = {1000, 1001, 1002, -5, 0, 5};
    Graph *g = ir_graph_new("m");
    int i = node(g, OP_SOFTMAX, input(g, DIMS(2, 3)), -1, -1);
    g->nodes[i].a.axis = -1;
    float **vals = run(g, x);
    const float *y = vals[g->nodes[0].out[0]];
    for (int r = 0; r < 2; r++) {
        double s = 0;
        for (int k = 0; k < 3; k++) {
            assert_true(y[r * 3 + k] > 0 && y[r * 3 + k] < 1);
            s += y[r * 3 + k];
        }
        expect_near((float)s, 1.0, 1e-6);
    }
    expect_near(y[2], 1.0 / (1.0 + exp(-1.0) + exp(-2.0)), 1e-6);
    ir_interp_free(g, vals);
    ir_graph_free(g);

    /* opset 13: a middle axis; opset < 13: flattened from the axis on */
    for (int flat = 0; flat < 2; flat++) {
        g = ir_graph_new("m");
        i = node(g, OP_SOFTMAX, input(g, DIMS(2, 3, 4)), -1, -1);
        g->nodes[i].a.axis = 1;
        g->nodes[i].a.softmax_flatten = flat;
        vals = run(g, NULL);
        y = vals[g->nodes[0].out[0]];
        for (int o = 0; o < 2; o++) {
            if (flat) {
                double s = 0;
                for (int k = 0; k < 12; k++)
                    s += y[o * 12 + k];
                expect_near((float)s, 1.0, 1e-6);
                continue;
            }
            for (int j = 0; j < 4; j++) {
                double s = 0;
                for (int k = 0; k < 3; k++)
                    s += y[(o * 3 + k) * 4 + j];
                expect_near((float)s, 1.0, 1e-6);
            }
        }
        ir_interp_free(g, vals);
        ir_graph_free(g);
    }
}

/* ---- add, dense, data movement, elementwise ---- */

static void test_add_broadcast(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int a = input(g, DIMS(2, 1, 3)), b = weight(g, DIMS(4, 1));
    node(g, OP_ADD, a, b, -1);
    float **vals = run(g, NULL);
    const float *y = vals[g->nodes[0].out[0]];
    assert_int_equal(ir_numel(&g->tensors[g->nodes[0].out[0]]), 24);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 3; k++)
                assert_true(y[(i * 4 + j) * 3 + k] == vals[a][i * 3 + k] + vals[b][j]);
    ir_interp_free(g, vals);
    ir_graph_free(g);
}

static void test_dense(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(3, 2, 5)), w = weight(g, DIMS(4, 5)), b = weight(g, DIMS(4));
    node(g, OP_DENSE, x, w, b);
    int j = node(g, OP_DENSE, x, w, -1);
    g->nodes[j].a.fused_act = ACT_RELU;
    float **vals = run(g, NULL);
    const float *y = vals[g->nodes[0].out[0]], *yr = vals[g->nodes[1].out[0]];
    for (int m = 0; m < 6; m++)
        for (int n = 0; n < 4; n++) {
            double acc = 0;
            for (int k = 0; k < 5; k++)
                acc += (double)vals[x][m * 5 + k] * vals[w][n * 5 + k];
            expect_near(y[m * 4 + n], acc + vals[b][n], 1e-5);
            expect_near(yr[m * 4 + n], acc > 0 ? acc : 0, 1e-5);
        }
    ir_interp_free(g, vals);
    ir_graph_free(g);
}

static void test_transpose_concat_reshape(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(2, 3, 4));
    int t = node(g, OP_TRANSPOSE, x, -1, -1);
    Attrs *a = &g->nodes[t].a;
    a->perm[0] = 1, a->perm[1] = 2, a->perm[2] = 0, a->nperm = 3;
    int c = node(g, OP_CONCAT, x, weight(g, DIMS(2, 2, 4)), -1);
    g->nodes[c].a.axis = 1;
    int r = node(g, OP_RESHAPE, x, -1, -1);
    g->nodes[r].a.flatten_axis = 1;
    float **vals = run(g, NULL);
    const float *yt = vals[g->nodes[t].out[0]], *yc = vals[g->nodes[c].out[0]];
    const float *yr = vals[g->nodes[r].out[0]], *k = vals[g->nodes[c].in[1]];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int l = 0; l < 4; l++)
                assert_true(yt[(j * 4 + l) * 2 + i] == vals[x][(i * 3 + j) * 4 + l]);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 5; j++)
            for (int l = 0; l < 4; l++)
                assert_true(yc[(i * 5 + j) * 4 + l] ==
                            (j < 3 ? vals[x][(i * 3 + j) * 4 + l] : k[(i * 2 + j - 3) * 4 + l]));
    assert_memory_equal(yr, vals[x], 24 * sizeof(float));
    ir_interp_free(g, vals);
    ir_graph_free(g);
}

/* Slice keeping its axis (a range, a one-element list) and dropping it
 * (a scalar index), chained. */
static void test_slice(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(2, 5, 3));
    int a = node(g, OP_SLICE, x, -1, -1);
    g->nodes[a].a.axis = 1, g->nodes[a].a.slice_start = 1, g->nodes[a].a.slice_len = 3;
    int b = node(g, OP_SLICE, g->nodes[a].out[0], -1, -1);
    g->nodes[b].a.axis = -1, g->nodes[b].a.slice_start = 2, g->nodes[b].a.slice_len = 1;
    g->nodes[b].a.slice_drop = 1;
    int c = node(g, OP_SLICE, x, -1, -1);
    g->nodes[c].a.axis = 0, g->nodes[c].a.slice_start = 1, g->nodes[c].a.slice_len = 1;
    float **vals = run(g, NULL);
    const float *xv = vals[x], *ya = vals[g->nodes[a].out[0]];
    const float *yb = vals[g->nodes[b].out[0]], *yc = vals[g->nodes[c].out[0]];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            for (int l = 0; l < 3; l++)
                assert_true(ya[(i * 3 + j) * 3 + l] == xv[(i * 5 + j + 1) * 3 + l]);
            assert_true(yb[i * 3 + j] == xv[(i * 5 + j + 1) * 3 + 2]);
        }
    assert_memory_equal(yc, xv + 15, 15 * sizeof(float));
    ir_interp_free(g, vals);
    ir_graph_free(g);
}

static void test_elementwise_and_bn(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(1, 2, 3));
    int ops[5];
    ops[0] = node(g, OP_RELU, x, -1, -1);
    ops[1] = node(g, OP_CLIP, x, -1, -1);
    g->nodes[ops[1]].a.clip_min = -0.5f, g->nodes[ops[1]].a.clip_max = 0.25f;
    ops[2] = node(g, OP_LEAKYRELU, x, -1, -1);
    g->nodes[ops[2]].a.alpha = 0.1f;
    ops[3] = node(g, OP_SIGMOID, x, -1, -1);
    ops[4] = node(g, OP_TANH, x, -1, -1);
    int bn = node(g, OP_BATCHNORM, x, weight(g, DIMS(2)), weight(g, DIMS(2)));
    int mean = weight(g, DIMS(2)), var = weight(g, DIMS(2));
    g->tensors[var].data[0] = 0.5f, g->tensors[var].data[1] = 2.0f;
    g->nodes[bn].in[3] = mean, g->nodes[bn].in[4] = var, g->nodes[bn].nin = 5;
    g->nodes[bn].a.epsilon = 1e-3f;
    float **vals = run(g, NULL);
    for (int e = 0; e < 6; e++) {
        double v = vals[x][e];
        expect_near(vals[g->nodes[ops[0]].out[0]][e], v > 0 ? v : 0, 0);
        expect_near(vals[g->nodes[ops[1]].out[0]][e], v < -0.5 ? -0.5 : v > 0.25 ? 0.25 : v, 0);
        expect_near(vals[g->nodes[ops[2]].out[0]][e], v >= 0 ? v : 0.1f * (float)v, 1e-7);
        expect_near(vals[g->nodes[ops[3]].out[0]][e], 1 / (1 + exp(-v)), 1e-6);
        expect_near(vals[g->nodes[ops[4]].out[0]][e], tanh(v), 1e-6);
        int ch = e / 3;
        const float *p[4] = {vals[g->nodes[bn].in[1]], vals[g->nodes[bn].in[2]], vals[mean],
                             vals[var]};
        double want = (v - p[2][ch]) / sqrt(p[3][ch] + 1e-3) * p[0][ch] + p[1][ch];
        expect_near(vals[g->nodes[bn].out[0]][e], want, 1e-5);
    }
    ir_interp_free(g, vals);
    ir_graph_free(g);
}

/* A caller may point an input at its own buffer; free must not touch it. */
static void test_caller_owned_input(void **state)
{
    (void)state;
    float mine[4] = {-1, 2, -3, 4};
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(1, 4));
    node(g, OP_RELU, x, -1, -1);
    assert_int_equal(ir_infer_shapes(g), 0);
    float **vals = ir_interp_alloc(g);
    vals[x] = mine;
    assert_int_equal(ir_interp_run(g, vals), 0);
    expect_near(vals[g->nodes[0].out[0]][3], 4, 0);
    expect_near(vals[g->nodes[0].out[0]][2], 0, 0);
    ir_interp_free(g, vals);
    ir_graph_free(g);
}

/* ---- LSTM and GRU against ONNX's equations, in double, written here ---- */

typedef struct RnnCase {
    Op op;
    int64_t seq, batch, in, hid;
    RnnDirection dir;
    int bias, lens, h0, c0, peep, input_forget, lbr;
    float clip;
} RnnCase;

static double sig(double v) { return 1.0 / (1.0 + exp(-v)); }
static double clipd(double v, float c) { return c > 0 ? (v < -c ? -c : v > c ? c : v) : v; }

/* y[t][d][b][h], yh and yc [d][b][h] of the case, from the node's inputs. */
static void rnn_ref(const RnnCase *rc, const float *x, const float *w, const float *r,
                    const float *bias, const float *lens, const float *h0, const float *c0,
                    const float *pp, double *y, double *yh, double *yc)
{
    int64_t T = rc->seq, B = rc->batch, I = rc->in, H = rc->hid, G = rc->op == OP_LSTM ? 4 : 3;
    int64_t D = rc->dir == RNN_BIDIRECTIONAL ? 2 : 1;
    double h[16], c[16], gate[64], hn[16];
    for (int64_t i = 0; i < T * D * B * H; i++)
        y[i] = 0;
    for (int64_t d = 0; d < D; d++)
        for (int64_t b = 0; b < B; b++) {
            int rev = rc->dir == RNN_REVERSE || d == 1;
            int64_t steps = lens ? (int64_t)lens[b] : T;
            for (int64_t k = 0; k < H; k++) {
                h[k] = h0 ? h0[(d * B + b) * H + k] : 0;
                c[k] = c0 ? c0[(d * B + b) * H + k] : 0;
            }
            for (int64_t s = 0; s < steps; s++) {
                int64_t t = rev ? steps - 1 - s : s;
                const float *xt = x + (t * B + b) * I;
                for (int64_t j = 0; j < G * H; j++) {
                    const float *wj = w + (d * G * H + j) * I, *rj = r + (d * G * H + j) * H;
                    double v = bias ? (double)bias[d * 2 * G * H + j] : 0;
                    for (int64_t k = 0; k < I; k++)
                        v += (double)wj[k] * xt[k];
                    double rv = 0, rb = bias ? bias[d * 2 * G * H + G * H + j] : 0;
                    for (int64_t k = 0; k < H; k++)
                        rv += (double)rj[k] * h[k];
                    if (G == 3 && j >= 2 * H) { /* GRU h gate: the recurrent part comes later */
                        gate[j] = v;
                        gate[G * H + j - 2 * H] = rb; /* Rb_h kept apart */
                    } else {
                        gate[j] = v + rv + rb;
                    }
                }
                if (G == 4) {
                    const float *p = pp ? pp + d * 3 * H : NULL;
                    for (int64_t k = 0; k < H; k++) {
                        double i_ = sig(clipd(gate[k] + (p ? p[k] * c[k] : 0), rc->clip));
                        double f_ = rc->input_forget
                                        ? 1 - i_
                                        : sig(clipd(gate[2 * H + k] + (p ? p[2 * H + k] * c[k] : 0),
                                                    rc->clip));
                        double g_ = tanh(clipd(gate[3 * H + k], rc->clip));
                        c[k] = f_ * c[k] + i_ * g_;
                        double o_ = sig(clipd(gate[H + k] + (p ? p[H + k] * c[k] : 0), rc->clip));
                        hn[k] = o_ * tanh(c[k]);
                    }
                } else {
                    const float *rh = r + (d * 3 * H + 2 * H) * H;
                    for (int64_t k = 0; k < H; k++) {
                        double z = sig(clipd(gate[k], rc->clip));
                        double rr = sig(clipd(gate[H + k], rc->clip));
                        double rec = 0;
                        for (int64_t m = 0; m < H; m++) {
                            double rm = rc->lbr ? 1 : sig(clipd(gate[H + m], rc->clip));
                            rec += (double)rh[k * H + m] * rm * h[m];
                        }
                        double hh = rc->lbr ? gate[2 * H + k] + rr * (rec + gate[3 * H + k])
                                            : gate[2 * H + k] + rec + gate[3 * H + k];
                        hh = tanh(clipd(hh, rc->clip));
                        hn[k] = (1 - z) * hh + z * h[k];
                    }
                }
                for (int64_t k = 0; k < H; k++) {
                    h[k] = hn[k];
                    y[((t * D + d) * B + b) * H + k] = h[k];
                }
            }
            for (int64_t k = 0; k < H; k++) {
                yh[(d * B + b) * H + k] = h[k];
                yc[(d * B + b) * H + k] = c[k];
            }
        }
}

static void check_rnn(const RnnCase *rc)
{
    int lstm = rc->op == OP_LSTM;
    int64_t G = lstm ? 4 : 3, D = rc->dir == RNN_BIDIRECTIONAL ? 2 : 1;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(rc->seq, rc->batch, rc->in));
    int w = weight(g, DIMS(D, G * rc->hid, rc->in));
    int r = weight(g, DIMS(D, G * rc->hid, rc->hid));
    int in[8] = {x, w, r, -1, -1, -1, -1, -1};
    if (rc->bias)
        in[3] = weight(g, DIMS(D, 2 * G * rc->hid));
    if (rc->lens) {
        in[4] = weight(g, DIMS(rc->batch));
        for (int64_t b = 0; b < rc->batch; b++) /* every length from seq down to 0 */
            g->tensors[in[4]].data[b] = (float)(rc->seq - b % (rc->seq + 1));
    }
    if (rc->h0)
        in[5] = input(g, DIMS(D, rc->batch, rc->hid));
    if (rc->c0)
        in[6] = weight(g, DIMS(D, rc->batch, rc->hid));
    if (rc->peep)
        in[7] = weight(g, DIMS(D, 3 * rc->hid));
    int k = ir_add_node(g, rc->op, "rnn", 0);
    Node *n = &g->nodes[k];
    n->nin = lstm ? 8 : 6;
    memcpy(n->in, in, sizeof in);
    n->a.hidden_size = rc->hid;
    n->a.direction = rc->dir;
    n->a.input_forget = rc->input_forget;
    n->a.linear_before_reset = rc->lbr;
    n->a.rnn_clip = rc->clip;
    for (int j = 0; j < (lstm ? 3 : 2); j++) {
        n->out[n->nout++] = ir_add_tensor(g, j == 0 ? "Y" : j == 1 ? "Y_h" : "Y_c", TK_ACT);
        g->outputs[g->noutputs++] = n->out[j];
    }
    float **vals = run(g, NULL);
    double y[2048], yh[256], yc[256];
    const float *none = NULL;
    rnn_ref(rc, vals[x], vals[w], vals[r], rc->bias ? vals[in[3]] : none,
            rc->lens ? vals[in[4]] : none, rc->h0 ? vals[in[5]] : none,
            rc->c0 ? vals[in[6]] : none, rc->peep ? vals[in[7]] : none, y, yh, yc);
    int64_t ny = rc->seq * D * rc->batch * rc->hid, ns = D * rc->batch * rc->hid;
    assert_true(ny <= 2048 && ns <= 256);
    for (int64_t i = 0; i < ny; i++)
        expect_near(vals[n->out[0]][i], y[i], 1e-5);
    for (int64_t i = 0; i < ns; i++) {
        expect_near(vals[n->out[1]][i], yh[i], 1e-5);
        if (lstm)
            expect_near(vals[n->out[2]][i], yc[i], 1e-5);
    }
    ir_interp_free(g, vals);
    ir_graph_free(g);
}

/* One LSTM step with one unit, by hand: x = 1, every weight 0.5, no bias:
 * each gate's pre-activation is 0.5, c = sig(.5) * tanh(.5), h = sig(.5) * tanh(c). */
static void test_lstm_step_by_hand(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(1, 1, 1));
    int w = weight(g, DIMS(1, 4, 1)), r = weight(g, DIMS(1, 4, 1));
    for (int i = 0; i < 4; i++)
        g->tensors[w].data[i] = g->tensors[r].data[i] = 0.5f;
    int k = ir_add_node(g, OP_LSTM, "lstm", 0);
    Node *n = &g->nodes[k];
    n->nin = 3;
    n->in[0] = x, n->in[1] = w, n->in[2] = r;
    n->a.hidden_size = 1;
    for (int j = 0; j < 3; j++)
        n->out[n->nout++] = ir_add_tensor(g, j == 0 ? "Y" : j == 1 ? "Y_h" : "Y_c", TK_ACT);
    g->outputs[g->noutputs++] = n->out[1];
    float one = 1.0f;
    float **vals = run(g, &one);
    double s = 1 / (1 + exp(-0.5)), c = s * tanh(0.5);
    expect_near(vals[n->out[2]][0], c, 1e-6);
    expect_near(vals[n->out[1]][0], s * tanh(c), 1e-6);
    expect_near(vals[n->out[0]][0], s * tanh(c), 1e-6);
    ir_interp_free(g, vals);
    ir_graph_free(g);
}

static void test_lstm_features(void **state)
{
    (void)state;
    static const RnnCase cases[] = {
        {OP_LSTM, 5, 1, 3, 4, RNN_FORWARD, 1, 0, 0, 0, 0, 0, 0, 0},
        {OP_LSTM, 4, 3, 2, 3, RNN_REVERSE, 1, 1, 1, 1, 1, 0, 0, 0},
        {OP_LSTM, 4, 2, 3, 2, RNN_BIDIRECTIONAL, 1, 1, 1, 1, 1, 0, 0, 0.6f},
        {OP_LSTM, 3, 2, 2, 3, RNN_FORWARD, 0, 0, 1, 0, 1, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_rnn(&cases[i]);
}

static void test_gru_features(void **state)
{
    (void)state;
    static const RnnCase cases[] = {
        {OP_GRU, 5, 1, 3, 4, RNN_FORWARD, 1, 0, 0, 0, 0, 0, 1, 0},
        {OP_GRU, 5, 1, 3, 4, RNN_FORWARD, 1, 0, 0, 0, 0, 0, 0, 0},
        {OP_GRU, 4, 3, 2, 3, RNN_REVERSE, 1, 1, 1, 0, 0, 0, 0, 0},
        {OP_GRU, 4, 2, 3, 2, RNN_BIDIRECTIONAL, 1, 1, 1, 0, 0, 0, 1, 0.5f},
        {OP_GRU, 3, 2, 2, 3, RNN_FORWARD, 0, 0, 0, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_rnn(&cases[i]);
}

static void test_unknown_op_fails(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(1, 4));
    node(g, OP_RELU, x, -1, -1);
    assert_int_equal(ir_infer_shapes(g), 0);
    float **vals = ir_interp_alloc(g);
    g->nodes[0].op = OP_COUNT;
    assert_int_equal(ir_interp_run(g, vals), -1);
    assert_non_null(strstr(g->err, "does not handle"));
    ir_interp_free(g, vals);
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv),
        cmocka_unit_test(test_conv_fused_act),
        cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_avgpool_count_include_pad),
        cmocka_unit_test(test_global_avgpool),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_add_broadcast),
        cmocka_unit_test(test_dense),
        cmocka_unit_test(test_transpose_concat_reshape),
        cmocka_unit_test(test_slice),
        cmocka_unit_test(test_elementwise_and_bn),
        cmocka_unit_test(test_caller_owned_input),
        cmocka_unit_test(test_unknown_op_fails),
        cmocka_unit_test(test_lstm_step_by_hand),
        cmocka_unit_test(test_lstm_features),
        cmocka_unit_test(test_gru_features),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
