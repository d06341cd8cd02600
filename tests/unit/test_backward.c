/* Backward pass (ir/backward.c): a gradient check per op (LSTM and GRU:
 * backpropagation through time, every direction and option) against
 * central finite differences of the double-precision forward, w.r.t.
 * parameters and graph inputs; the Hessian-vector product against second differences
 * of the loss on a tiny model (exact trace from the full Hessian); and the
 * Hutchinson estimator (compiler/sensitivity.c): unbiased on that model and
 * independent of the thread count. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "grad.h"
#include "ir.h"
#include "sensitivity.h"

#define DIMS(...) \
    (const int64_t[]){__VA_ARGS__}, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

static uint32_t rng_state = 12345;
static double rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (double)(rng_state >> 8) / (double)(1u << 23) - 1.0;
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
            tt->data[i] = (float)rnd();
    }
    return t;
}

static int input(Graph *g, const int64_t *dims, int rank)
{
    int t = tensor(g, TK_INPUT, dims, rank);
    g->inputs[g->ninputs++] = t;
    return t;
}

static int weight(Graph *g, const int64_t *dims, int rank) { return tensor(g, TK_CONST, dims, rank); }

/* Node with inputs a, b, c (-1: none) and one new output, which becomes
 * the (only) graph output; returns the node index. */
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
    g->outputs[0] = n->out[0];
    g->noutputs = 1;
    return i;
}

static int out(Graph *g, int node_index) { return g->nodes[node_index].out[0]; }

static double fill_and_forward(const GradModel *m, GradWork *w, const Graph *g, double **xin,
                               const double *theta, const double *target)
{
    for (int i = 0; i < g->ninputs; i++)
        memcpy(grad_work_val(w, g->inputs[i]), xin[i],
               (size_t)ir_numel(&g->tensors[g->inputs[i]]) * sizeof(double));
    return grad_forward(m, w, theta, target);
}

static void expect_close(double got, double want, double tol, const char *what, int64_t i)
{
    if (fabs(got - want) > tol * (1.0 + fabs(want)))
        fail_msg("%s[%lld]: backward %.12g, finite difference %.12g", what, (long long)i, got, want);
}

/* Gradient check of the whole graph: analytic gradients of the loss w.r.t.
 * every parameter and every graph input against central differences. */
static void check_graph(Graph *g, GradLoss loss)
{
    assert_int_equal(ir_infer_shapes(g), 0);
    GradModel *m = grad_model_new(g, loss);
    assert_non_null(m);
    GradWork *w = grad_work_new(m);
    int64_t p = grad_theta_size(m), tn = grad_target_size(m);
    int64_t k = ir_numel(&g->tensors[g->outputs[0]]);
    double *theta = malloc((size_t)(p + 1) * sizeof *theta);
    memcpy(theta, grad_theta0(m), (size_t)p * sizeof *theta);
    double *target = malloc((size_t)tn * sizeof *target);
    for (int64_t i = 0; i < tn; i++)
        target[i] = loss == GRAD_LOSS_XENT ? (double)(k / 2) : rnd();
    double *xin[IR_MAX_IO], *dxin[IR_MAX_IO];
    for (int i = 0; i < g->ninputs; i++) {
        int64_t c = ir_numel(&g->tensors[g->inputs[i]]);
        xin[i] = malloc((size_t)c * sizeof(double));
        dxin[i] = malloc((size_t)c * sizeof(double));
        for (int64_t j = 0; j < c; j++)
            xin[i][j] = rnd();
    }
    double *grad = calloc((size_t)(p + 1), sizeof *grad);
    fill_and_forward(m, w, g, xin, theta, target);
    grad_backward(m, w, theta, target, 1.0, grad);
    for (int i = 0; i < g->ninputs; i++)
        memcpy(dxin[i], grad_work_dval(w, g->inputs[i]),
               (size_t)ir_numel(&g->tensors[g->inputs[i]]) * sizeof(double));
    const double h = 1e-5, tol = 1e-6;
    for (int64_t j = 0; j < p; j++) {
        double t0 = theta[j];
        theta[j] = t0 + h;
        double lp = fill_and_forward(m, w, g, xin, theta, target);
        theta[j] = t0 - h;
        double lm = fill_and_forward(m, w, g, xin, theta, target);
        theta[j] = t0;
        expect_close(grad[j], (lp - lm) / (2 * h), tol, "theta", j);
    }
    for (int i = 0; i < g->ninputs; i++)
        for (int64_t j = 0; j < ir_numel(&g->tensors[g->inputs[i]]); j++) {
            double x0 = xin[i][j];
            xin[i][j] = x0 + h;
            double lp = fill_and_forward(m, w, g, xin, theta, target);
            xin[i][j] = x0 - h;
            double lm = fill_and_forward(m, w, g, xin, theta, target);
            xin[i][j] = x0;
            expect_close(dxin[i][j], (lp - lm) / (2 * h), tol, "input", j);
        }
    for (int i = 0; i < g->ninputs; i++)
        free(xin[i]), free(dxin[i]);
    free(grad), free(theta), free(target);
    grad_work_free(w);
    grad_model_free(m);
    ir_graph_free(g);
}

static void conv_case(int rank, int64_t c, int64_t oc, int64_t k, int64_t group, int64_t st, int64_t dil,
                      const int64_t pads[4], int bias, FusedAct act)
{
    Graph *g = ir_graph_new("m");
    int x = rank == 4 ? input(g, DIMS(2, c, 5, 6)) : input(g, DIMS(1, c, 7));
    int wt = rank == 4 ? weight(g, DIMS(oc, c / group, k, k)) : weight(g, DIMS(oc, c / group, 1, k));
    int i = node(g, OP_CONV, x, wt, bias ? weight(g, DIMS(oc)) : -1);
    Attrs *a = &g->nodes[i].a;
    a->group = group;
    if (rank == 4) {
        a->strides[0] = a->strides[1] = st;
        a->dilations[0] = a->dilations[1] = dil;
        memcpy(a->pads, pads, sizeof a->pads);
    } else {
        a->strides[1] = st;
        a->dilations[1] = dil;
        a->pads[1] = pads[1], a->pads[3] = pads[3];
    }
    a->fused_act = act;
    a->clip_min = -0.3f, a->clip_max = 0.4f;
    check_graph(g, GRAD_LOSS_MSE);
}

static void test_conv(void **state)
{
    (void)state;
    const int64_t p0[4] = {0, 0, 0, 0}, p1[4] = {1, 1, 1, 1}, pa[4] = {0, 1, 2, 0};
    conv_case(4, 2, 3, 3, 1, 1, 1, p1, 1, ACT_NONE);
    conv_case(4, 4, 6, 3, 2, 2, 1, pa, 1, ACT_NONE);   /* groups, stride, asymmetric pads */
    conv_case(4, 3, 3, 2, 3, 1, 2, p1, 0, ACT_NONE);   /* depthwise, dilation, no bias */
    conv_case(4, 2, 4, 1, 1, 1, 1, p0, 1, ACT_RELU);   /* 1x1, fused relu */
    conv_case(4, 2, 2, 3, 1, 2, 2, pa, 1, ACT_CLIP);   /* fused clip */
    conv_case(3, 2, 4, 3, 2, 2, 1, pa, 1, ACT_RELU);   /* 1-D */
}

static void test_dense(void **state)
{
    (void)state;
    for (int act = 0; act < 3; act++) {
        Graph *g = ir_graph_new("m");
        int x = input(g, DIMS(2, 3, 5)); /* maps the last dim */
        int i = node(g, OP_DENSE, x, weight(g, DIMS(4, 5)), act == 1 ? -1 : weight(g, DIMS(4)));
        g->nodes[i].a.fused_act = (FusedAct)act;
        g->nodes[i].a.clip_min = -0.5f, g->nodes[i].a.clip_max = 0.5f;
        check_graph(g, GRAD_LOSS_MSE);
    }
}

static void test_elementwise(void **state)
{
    (void)state;
    Op ops[5] = {OP_RELU, OP_CLIP, OP_LEAKYRELU, OP_SIGMOID, OP_TANH};
    for (int k = 0; k < 5; k++) {
        Graph *g = ir_graph_new("m");
        int i = node(g, ops[k], input(g, DIMS(2, 3, 4)), -1, -1);
        g->nodes[i].a.clip_min = -0.4f, g->nodes[i].a.clip_max = 0.3f, g->nodes[i].a.alpha = 0.1f;
        check_graph(g, GRAD_LOSS_MSE);
    }
}

static void test_batchnorm(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int bn = node(g, OP_BATCHNORM, input(g, DIMS(1, 2, 3)), weight(g, DIMS(2)), weight(g, DIMS(2)));
    int mean = weight(g, DIMS(2)), var = weight(g, DIMS(2));
    g->tensors[var].data[0] = 0.5f, g->tensors[var].data[1] = 2.0f;
    g->nodes[bn].in[3] = mean, g->nodes[bn].in[4] = var, g->nodes[bn].nin = 5;
    g->nodes[bn].a.epsilon = 1e-3f;
    check_graph(g, GRAD_LOSS_MSE);
}

static void pool_case(Op op, int64_t k, int64_t st, const int64_t pads[4], int ceil, int cip)
{
    Graph *g = ir_graph_new("m");
    int i = node(g, op, input(g, DIMS(1, 2, 5, 6)), -1, -1);
    Attrs *a = &g->nodes[i].a;
    a->kernel[0] = a->kernel[1] = k;
    a->strides[0] = a->strides[1] = st;
    memcpy(a->pads, pads, sizeof a->pads);
    a->ceil_mode = ceil;
    a->count_include_pad = cip;
    check_graph(g, GRAD_LOSS_MSE);
}

static void test_pools(void **state)
{
    (void)state;
    const int64_t p0[4] = {0, 0, 0, 0}, p1[4] = {1, 1, 1, 1}, pa[4] = {1, 0, 0, 1};
    pool_case(OP_MAXPOOL, 2, 2, p0, 0, 0);
    pool_case(OP_MAXPOOL, 3, 2, p1, 1, 0); /* overlapping windows, pads, ceil */
    pool_case(OP_AVGPOOL, 3, 2, p1, 1, 0);
    pool_case(OP_AVGPOOL, 3, 2, p1, 0, 1); /* count_include_pad */
    pool_case(OP_AVGPOOL, 2, 1, pa, 0, 0);
    Graph *g = ir_graph_new("m");
    node(g, OP_GLOBALAVGPOOL, input(g, DIMS(1, 3, 2, 4)), -1, -1);
    check_graph(g, GRAD_LOSS_MSE);
}

static void test_add_broadcast(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    node(g, OP_ADD, input(g, DIMS(2, 3, 4)), input(g, DIMS(3, 1)), -1);
    check_graph(g, GRAD_LOSS_MSE);
    /* a constant operand, and a tensor read twice (gradients accumulate) */
    g = ir_graph_new("m");
    int x = input(g, DIMS(1, 4));
    int r = node(g, OP_TANH, x, -1, -1);
    int s = node(g, OP_ADD, out(g, r), x, -1);
    node(g, OP_ADD, weight(g, DIMS(4)), out(g, s), -1);
    check_graph(g, GRAD_LOSS_MSE);
}

static void test_concat_reshape_transpose(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int c = node(g, OP_CONCAT, input(g, DIMS(2, 3, 4)), input(g, DIMS(2, 2, 4)), -1);
    g->nodes[c].a.axis = 1;
    int t = node(g, OP_TRANSPOSE, out(g, c), -1, -1);
    Attrs *a = &g->nodes[t].a;
    a->perm[0] = 1, a->perm[1] = 2, a->perm[2] = 0, a->nperm = 3;
    int r = node(g, OP_RESHAPE, out(g, t), -1, -1);
    g->nodes[r].a.flatten_axis = 1;
    node(g, OP_DENSE, out(g, r), weight(g, DIMS(3, 8)), weight(g, DIMS(3)));
    check_graph(g, GRAD_LOSS_MSE);
}

static int slice(Graph *g, int x, int64_t axis, int64_t start, int64_t len, int drop)
{
    int i = node(g, OP_SLICE, x, -1, -1);
    Attrs *a = &g->nodes[i].a;
    a->axis = axis, a->slice_start = start, a->slice_len = len, a->slice_drop = drop;
    return i;
}

/* Slice scatters its gradient into the positions it read: two overlapping
 * slices of one input (gradients accumulate), one dropping its axis; the
 * input's other positions get none. */
static void test_slice(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(2, 5, 3));
    int a = slice(g, x, 1, 1, 3, 0);      /* [2, 3, 3] */
    int r = node(g, OP_RESHAPE, out(g, a), -1, -1);
    g->nodes[r].a.flatten_axis = 1;       /* [2, 9] */
    int b = slice(g, x, 1, 2, 1, 1);      /* [2, 3], inside a's range */
    int c = node(g, OP_CONCAT, out(g, r), out(g, b), -1);
    g->nodes[c].a.axis = 1;
    int t = node(g, OP_TANH, out(g, c), -1, -1);
    int e = slice(g, out(g, t), 0, 1, 1, 0); /* [1, 12] */
    node(g, OP_DENSE, out(g, e), weight(g, DIMS(4, 12)), weight(g, DIMS(4)));
    check_graph(g, GRAD_LOSS_MSE);
}

static void test_softmax(void **state)
{
    (void)state;
    /* non-last axis (inner > 1) */
    Graph *g = ir_graph_new("m");
    int i = node(g, OP_SOFTMAX, input(g, DIMS(2, 3, 4)), -1, -1);
    g->nodes[i].a.axis = 1;
    check_graph(g, GRAD_LOSS_MSE);
    /* opset < 13 flattening */
    g = ir_graph_new("m");
    i = node(g, OP_SOFTMAX, input(g, DIMS(2, 3, 2)), -1, -1);
    g->nodes[i].a.axis = 1, g->nodes[i].a.softmax_flatten = 1;
    check_graph(g, GRAD_LOSS_MSE);
}

static void test_xent(void **state)
{
    (void)state;
    /* logits */
    Graph *g = ir_graph_new("m");
    node(g, OP_DENSE, input(g, DIMS(1, 6)), weight(g, DIMS(5, 6)), weight(g, DIMS(5)));
    check_graph(g, GRAD_LOSS_XENT);
    /* a model ending in Softmax: NLL of its output */
    g = ir_graph_new("m");
    int d = node(g, OP_DENSE, input(g, DIMS(1, 6)), weight(g, DIMS(5, 6)), weight(g, DIMS(5)));
    int s = node(g, OP_SOFTMAX, out(g, d), -1, -1);
    g->nodes[s].a.axis = 1;
    check_graph(g, GRAD_LOSS_XENT);
}

/* A small CNN: conv + relu + maxpool + dense, cross-entropy. */
static void test_small_cnn(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int c = node(g, OP_CONV, input(g, DIMS(1, 1, 6, 6)), weight(g, DIMS(2, 1, 3, 3)), weight(g, DIMS(2)));
    g->nodes[c].a.pads[0] = g->nodes[c].a.pads[1] = g->nodes[c].a.pads[2] = g->nodes[c].a.pads[3] = 1;
    g->nodes[c].a.fused_act = ACT_RELU;
    int mp = node(g, OP_MAXPOOL, out(g, c), -1, -1);
    g->nodes[mp].a.kernel[0] = g->nodes[mp].a.kernel[1] = 2;
    g->nodes[mp].a.strides[0] = g->nodes[mp].a.strides[1] = 2;
    int r = node(g, OP_RESHAPE, out(g, mp), -1, -1);
    g->nodes[r].a.flatten_axis = 1;
    node(g, OP_DENSE, out(g, r), weight(g, DIMS(3, 18)), weight(g, DIMS(3)));
    check_graph(g, GRAD_LOSS_XENT);
}

/* ---- LSTM and GRU ---- */

typedef struct RnnCase {
    Op op;
    RnnDirection dir;
    int bias, init, lbr, input_forget, peep, seqlens;
    float clip;
} RnnCase;

/* An LSTM/GRU node reading x (inputs in ONNX order, -1: absent); its
 * outputs Y, Y_h (, Y_c) are new tensors.  Returns the node index. */
static int rnn_node(Graph *g, Op op, const int *ins, int nin, int64_t hidden, RnnDirection dir)
{
    char name[32];
    snprintf(name, sizeof name, "n%d", g->nnodes);
    int i = ir_add_node(g, op, name, g->nnodes);
    Node *n = &g->nodes[i];
    for (int k = 0; k < nin; k++)
        n->in[n->nin++] = ins[k];
    for (int k = 0; k < (op == OP_LSTM ? 3 : 2); k++) {
        snprintf(name, sizeof name, "y%d_%d", i, k);
        n->out[n->nout++] = ir_add_tensor(g, name, TK_ACT);
    }
    n->a.hidden_size = hidden;
    n->a.direction = dir;
    return i;
}

/* The double forward of every output of node r equals the float
 * interpreter's (runtime/shiftc_f32.h, the reference for emitted code). */
static void rnn_vs_interp(Graph *g, int r)
{
    assert_int_equal(ir_infer_shapes(g), 0);
    GradModel *m = grad_model_new(g, GRAD_LOSS_MSE);
    assert_non_null(m);
    GradWork *w = grad_work_new(m);
    float **vals = ir_interp_alloc(g);
    for (int i = 0; i < g->ninputs; i++) {
        int t = g->inputs[i];
        for (int64_t k = 0; k < ir_numel(&g->tensors[t]); k++)
            grad_work_val(w, t)[k] = vals[t][k] = (float)rnd();
    }
    assert_int_equal(ir_interp_run(g, vals), 0);
    grad_forward(m, w, grad_theta0(m), NULL);
    const Node *n = &g->nodes[r];
    for (int k = 0; k < n->nout; k++)
        for (int64_t i = 0; i < ir_numel(&g->tensors[n->out[k]]); i++)
            expect_close(grad_work_val(w, n->out[k])[i], vals[n->out[k]][i], 1e-5, "output vs interpreter", i);
    ir_interp_free(g, vals);
    grad_work_free(w);
    grad_model_free(m);
}

/* X [3, 2, 3] -> LSTM/GRU (hidden 2); every output flattened and
 * concatenated, so the loss reads Y, Y_h and Y_c; the gradient w.r.t. W,
 * R, B, X, initial_h, initial_c and P against finite differences. */
static void rnn_case(const RnnCase *c)
{
    const int64_t T = 3, B = 2, I = 3, H = 2, D = c->dir == RNN_BIDIRECTIONAL ? 2 : 1;
    const int64_t G = c->op == OP_LSTM ? 4 : 3;
    Graph *g = ir_graph_new("m");
    int ins[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    ins[0] = input(g, DIMS(T, B, I));
    ins[1] = weight(g, DIMS(D, G * H, I));
    ins[2] = weight(g, DIMS(D, G * H, H));
    if (c->bias)
        ins[3] = weight(g, DIMS(D, 2 * G * H));
    if (c->seqlens) {
        ins[4] = weight(g, DIMS(B));
        g->tensors[ins[4]].data[0] = c->seqlens == 1 ? 2.0f : 0.0f; /* 2 = 0: initial state passes */
        g->tensors[ins[4]].data[1] = c->seqlens == 1 ? 3.0f : 1.0f;
    }
    if (c->init) {
        ins[5] = input(g, DIMS(D, B, H));
        if (c->op == OP_LSTM)
            ins[6] = input(g, DIMS(D, B, H));
    }
    if (c->peep)
        ins[7] = input(g, DIMS(D, 3 * H));
    int r = rnn_node(g, c->op, ins, c->op == OP_LSTM ? 8 : 6, H, c->dir);
    g->nodes[r].a.linear_before_reset = c->lbr;
    g->nodes[r].a.input_forget = c->input_forget;
    g->nodes[r].a.rnn_clip = c->clip;
    int flat[3];
    for (int k = 0; k < g->nodes[r].nout; k++) {
        int f = node(g, OP_RESHAPE, g->nodes[r].out[k], -1, -1);
        g->nodes[f].a.flatten_axis = 0;
        flat[k] = out(g, f);
    }
    int cat = node(g, OP_CONCAT, flat[0], flat[1], c->op == OP_LSTM ? flat[2] : -1);
    g->nodes[cat].a.axis = 1;
    rnn_vs_interp(g, r);
    check_graph(g, GRAD_LOSS_MSE);
}

static void test_lstm(void **state)
{
    (void)state;
    static const RnnCase cases[] = {
        {OP_LSTM, RNN_FORWARD, 1, 1, 0, 0, 0, 0, 0.0f},       /* bias, initial states */
        {OP_LSTM, RNN_FORWARD, 0, 0, 0, 0, 0, 0, 0.0f},       /* zero states, no bias */
        {OP_LSTM, RNN_REVERSE, 1, 1, 0, 0, 1, 0, 0.0f},       /* reverse, peepholes */
        {OP_LSTM, RNN_BIDIRECTIONAL, 1, 1, 0, 0, 1, 0, 0.0f}, /* bidirectional */
        {OP_LSTM, RNN_BIDIRECTIONAL, 1, 1, 0, 0, 0, 1, 0.0f}, /* sequence_lens */
        {OP_LSTM, RNN_REVERSE, 1, 1, 0, 0, 0, 2, 0.0f},       /* a length 0 */
        {OP_LSTM, RNN_FORWARD, 1, 1, 0, 1, 0, 0, 0.0f},       /* input_forget */
        {OP_LSTM, RNN_BIDIRECTIONAL, 1, 1, 0, 0, 1, 0, 0.7f}, /* clip */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
        rnn_case(&cases[k]);
}

static void test_gru(void **state)
{
    (void)state;
    static const RnnCase cases[] = {
        {OP_GRU, RNN_FORWARD, 1, 1, 0, 0, 0, 0, 0.0f},       /* reset before the recurrence */
        {OP_GRU, RNN_FORWARD, 1, 1, 1, 0, 0, 0, 0.0f},       /* linear_before_reset */
        {OP_GRU, RNN_FORWARD, 0, 0, 1, 0, 0, 0, 0.0f},       /* no bias, zero state */
        {OP_GRU, RNN_REVERSE, 1, 1, 0, 0, 0, 0, 0.0f},
        {OP_GRU, RNN_BIDIRECTIONAL, 1, 1, 1, 0, 0, 0, 0.0f},
        {OP_GRU, RNN_BIDIRECTIONAL, 1, 1, 0, 0, 0, 1, 0.0f}, /* sequence_lens */
        {OP_GRU, RNN_REVERSE, 1, 1, 1, 0, 0, 2, 0.0f},       /* a length 0 */
        {OP_GRU, RNN_BIDIRECTIONAL, 1, 1, 1, 0, 0, 0, 0.6f}, /* clip */
        {OP_GRU, RNN_FORWARD, 1, 1, 0, 0, 0, 0, 0.6f},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
        rnn_case(&cases[k]);
}

/* The Fashion-MNIST fixtures in small: X [5, 1, 3] -> LSTM/GRU (hidden 3)
 * -> Y_h -> Dense(3 -> 4), cross-entropy.  The full Hessian from grad_hvp
 * (symmetric; trace = second differences of the loss), and Hutchinson with
 * the recurrent node as one layer (W and R) against the exact block
 * traces; without SensOptions.recurrent only the Dense is a layer. */
static void rnn_hessian_case(Op op, RnnDirection dir, int lbr, float clip)
{
    const int64_t T = 5, I = 3, H = 3, D = dir == RNN_BIDIRECTIONAL ? 2 : 1, G = op == OP_LSTM ? 4 : 3;
    enum { NS = 4 };
    Graph *g = ir_graph_new("rnn");
    int ins[4] = {input(g, DIMS(T, 1, I)), weight(g, DIMS(D, G * H, I)), weight(g, DIMS(D, G * H, H)),
                  weight(g, DIMS(D, 2 * G * H))};
    int r = rnn_node(g, op, ins, 4, H, dir);
    g->nodes[r].a.linear_before_reset = lbr;
    g->nodes[r].a.rnn_clip = clip;
    int f = node(g, OP_RESHAPE, g->nodes[r].out[1], -1, -1);
    g->nodes[f].a.flatten_axis = 2; /* [D, 1, H] -> [D, H] */
    int f2 = node(g, OP_RESHAPE, out(g, f), -1, -1);
    g->nodes[f2].a.flatten_axis = 0; /* [1, D H] */
    node(g, OP_DENSE, out(g, f2), weight(g, DIMS(4, D * H)), weight(g, DIMS(4)));
    assert_int_equal(ir_infer_shapes(g), 0);
    GradModel *m = grad_model_new(g, GRAD_LOSS_XENT);
    assert_non_null(m);
    assert_int_equal(grad_nparams(m), 5);
    GradWork *w = grad_work_new(m);
    int64_t p = grad_theta_size(m);
    double xs[NS * 15], ts[NS];
    for (int i = 0; i < NS * T * I; i++)
        xs[i] = 1.5 * rnd();
    for (int i = 0; i < NS; i++)
        ts[i] = i % 4;
    double *v = calloc((size_t)p, sizeof *v), *hv = malloc((size_t)p * sizeof *hv);
    double *tmp = malloc((size_t)2 * p * sizeof *tmp), *grad = malloc((size_t)p * sizeof *grad);
    double *theta = malloc((size_t)p * sizeof *theta), *H2 = malloc((size_t)(p * p) * sizeof *H2);
    memcpy(theta, grad_theta0(m), (size_t)p * sizeof *theta);
    for (int64_t j = 0; j < p; j++) {
        v[j] = 1.0;
        grad_hvp(m, w, theta, v, xs, ts, NS, hv, tmp);
        v[j] = 0.0;
        for (int64_t i = 0; i < p; i++)
            H2[i * p + j] = hv[i];
    }
    double tr = 0, tr_fd = 0, hmax = 0, asym = 0, blk[2] = {0, 0};
    for (int64_t i = 0; i < p; i++) {
        tr += H2[i * p + i];
        for (int64_t j = 0; j < p; j++) {
            hmax = fmax(hmax, fabs(H2[i * p + j]));
            asym = fmax(asym, fabs(H2[i * p + j] - H2[j * p + i]));
        }
    }
    if (asym > 1e-6 * hmax)
        fail_msg("Hessian asymmetry %.3g of max entry %.3g", asym, hmax);
    const double h = 1e-4;
    double l0 = grad_batch(m, w, theta, xs, ts, NS, grad);
    for (int64_t i = 0; i < p; i++) {
        double t0 = theta[i];
        theta[i] = t0 + h;
        double lp = grad_batch(m, w, theta, xs, ts, NS, grad);
        theta[i] = t0 - h;
        double lm = grad_batch(m, w, theta, xs, ts, NS, grad);
        theta[i] = t0;
        tr_fd += (lp - 2 * l0 + lm) / (h * h);
    }
    if (fabs(tr - tr_fd) > 1e-5 * fabs(tr_fd))
        fail_msg("exact trace %.12g vs second differences %.12g", tr, tr_fd);
    for (int i = 0; i < grad_nparams(m); i++) {
        const GradParam *gp = grad_param(m, i);
        if (!gp->is_bias)
            for (int64_t k = 0; k < gp->count; k++)
                blk[gp->node == r ? 0 : 1] += H2[(gp->offset + k) * p + gp->offset + k];
    }
    SensOptions so = {0};
    so.probes = 300, so.min_probes = 300, so.seed = 3, so.threads = 2, so.recurrent = 1;
    SensResult res;
    assert_int_equal(sens_hutchinson(m, xs, ts, NS, &so, &res), 0);
    assert_int_equal(res.nlayers, 2);
    assert_int_equal(res.layers[0].node, r);
    assert_true(res.layers[0].param_r >= 0);
    assert_int_equal(res.layers[0].n, D * G * H * (I + H));
    assert_int_equal(res.layers[1].param_r, -1);
    for (int l = 0; l < 2; l++) {
        double want = blk[l];
        if (fabs(res.layers[l].trace - want) > 4 * res.layers[l].se + 1e-9)
            fail_msg("layer %d: Hutchinson %.6g +- %.3g, exact %.6g", l, res.layers[l].trace, res.layers[l].se,
                     want);
        /* Omega = (trace / n) |Q(W) - W|^2, W and R together */
        const Node *nd = &g->nodes[res.layers[l].node];
        double q2 = 0.0;
        for (int k = 1; k <= (l == 0 ? 2 : 1); k++) {
            const Tensor *wt = &g->tensors[nd->in[k]];
            int64_t rows = l == 0 ? wt->dims[0] * wt->dims[1] : wt->dims[0];
            q2 += sens_qerr2(WF_INT2, wt->data, rows, ir_numel(wt) / rows, rows, NULL);
        }
        assert_true(q2 > 0);
        expect_close(res.layers[l].omega[0], res.layers[l].trace / (double)res.layers[l].n * q2, 1e-12, "omega",
                     l);
    }
    sens_result_free(&res);
    so.recurrent = 0; /* the precision search's view: Conv/Dense only */
    assert_int_equal(sens_hutchinson(m, xs, ts, NS, &so, &res), 0);
    assert_int_equal(res.nlayers, 1);
    assert_int_equal(res.layers[0].node, r + 3);
    sens_result_free(&res);
    /* the activation Hessian w.r.t. X runs through the recurrence too */
    double xv[15], vv[15] = {0}, hvx[15], tmpx[15], t0 = 1, atr = 0, atr_fd = 0;
    memcpy(xv, xs, sizeof xv);
    int in = g->inputs[0];
    for (int j = 0; j < T * I; j++) {
        vv[j] = 1.0;
        grad_act_hvp(m, w, theta, in, xv, &t0, vv, hvx, tmpx);
        vv[j] = 0.0;
        atr += hvx[j];
    }
    double *xin = grad_work_val(w, in);
    memcpy(xin, xv, sizeof xv);
    double a0 = grad_forward(m, w, theta, &t0);
    for (int j = 0; j < T * I; j++) {
        xin[j] = xv[j] + h;
        double lp = grad_forward(m, w, theta, &t0);
        xin[j] = xv[j] - h;
        double lm = grad_forward(m, w, theta, &t0);
        xin[j] = xv[j];
        atr_fd += (lp - 2 * a0 + lm) / (h * h);
    }
    /* rounding of the second differences: ~1e-16 |L| / h^2 per element */
    if (fabs(atr - atr_fd) > 1e-5 * fabs(atr_fd) + 2e-6)
        fail_msg("activation trace %.12g vs second differences %.12g", atr, atr_fd);
    free(v), free(hv), free(tmp), free(grad), free(theta), free(H2);
    grad_work_free(w);
    grad_model_free(m);
    ir_graph_free(g);
}

static void test_rnn_hessian(void **state)
{
    (void)state;
    rnn_hessian_case(OP_LSTM, RNN_FORWARD, 0, 0.0f);
    rnn_hessian_case(OP_GRU, RNN_FORWARD, 1, 0.0f);
    rnn_hessian_case(OP_GRU, RNN_BIDIRECTIONAL, 0, 0.0f);
    rnn_hessian_case(OP_LSTM, RNN_REVERSE, 0, 1.0f); /* clip: branches frozen */
}

/* What the backward refuses is named. */
static void test_rnn_refused(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int ins[3] = {input(g, DIMS(2, 1, 3)), weight(g, DIMS(1, 8, 3)), input(g, DIMS(1, 8, 2))};
    int r = rnn_node(g, OP_LSTM, ins, 3, 2, RNN_FORWARD);
    g->outputs[0] = g->nodes[r].out[1];
    g->noutputs = 1;
    assert_int_equal(ir_infer_shapes(g), 0);
    assert_null(grad_model_new(g, GRAD_LOSS_MSE));
    assert_non_null(strstr(g->err, "constant weights"));
    ir_graph_free(g);
}

/* ---- Hessian ---- */

/* Dense(4->5, tanh via a Tanh node) -> Dense(5->3), cross-entropy on 6
 * samples: 43 parameters. */
static Graph *tiny_model(void)
{
    Graph *g = ir_graph_new("tiny");
    int d1 = node(g, OP_DENSE, input(g, DIMS(1, 4)), weight(g, DIMS(5, 4)), weight(g, DIMS(5)));
    int t = node(g, OP_TANH, out(g, d1), -1, -1);
    node(g, OP_DENSE, out(g, t), weight(g, DIMS(3, 5)), weight(g, DIMS(3)));
    assert_int_equal(ir_infer_shapes(g), 0);
    return g;
}

enum { TINY_N = 6 };

static void tiny_data(double *xs, double *ts)
{
    for (int i = 0; i < TINY_N * 4; i++)
        xs[i] = 2 * rnd();
    for (int i = 0; i < TINY_N; i++)
        ts[i] = i % 3;
}

static void test_hessian_exact_trace(void **state)
{
    (void)state;
    Graph *g = tiny_model();
    GradModel *m = grad_model_new(g, GRAD_LOSS_XENT);
    assert_non_null(m);
    GradWork *w = grad_work_new(m);
    int64_t p = grad_theta_size(m);
    assert_int_equal(p, 43);
    double xs[TINY_N * 4], ts[TINY_N];
    tiny_data(xs, ts);
    double *v = calloc((size_t)p, sizeof *v), *hv = malloc((size_t)p * sizeof *hv);
    double *tmp = malloc((size_t)2 * p * sizeof *tmp), *grad = malloc((size_t)p * sizeof *grad);
    double *theta = malloc((size_t)p * sizeof *theta);
    double *H = malloc((size_t)(p * p) * sizeof *H);
    memcpy(theta, grad_theta0(m), (size_t)p * sizeof *theta);
    /* full Hessian, column by column */
    for (int64_t j = 0; j < p; j++) {
        v[j] = 1.0;
        grad_hvp(m, w, theta, v, xs, ts, TINY_N, hv, tmp);
        v[j] = 0.0;
        for (int64_t i = 0; i < p; i++)
            H[i * p + j] = hv[i];
    }
    double tr = 0, tr_fd = 0, hmax = 0, asym = 0;
    for (int64_t i = 0; i < p; i++) {
        tr += H[i * p + i];
        for (int64_t j = 0; j < p; j++) {
            hmax = fmax(hmax, fabs(H[i * p + j]));
            asym = fmax(asym, fabs(H[i * p + j] - H[j * p + i]));
        }
    }
    if (asym > 1e-7 * hmax)
        fail_msg("Hessian asymmetry %.3g of max entry %.3g", asym, hmax);
    /* brute force: second differences of the loss, one parameter at a time */
    const double h = 1e-4;
    double l0 = grad_batch(m, w, theta, xs, ts, TINY_N, grad);
    for (int64_t i = 0; i < p; i++) {
        double t0 = theta[i];
        theta[i] = t0 + h;
        double lp = grad_batch(m, w, theta, xs, ts, TINY_N, grad);
        theta[i] = t0 - h;
        double lm = grad_batch(m, w, theta, xs, ts, TINY_N, grad);
        theta[i] = t0;
        tr_fd += (lp - 2 * l0 + lm) / (h * h);
    }
    if (fabs(tr - tr_fd) > 1e-6 * fabs(tr_fd))
        fail_msg("exact trace %.12g vs second differences %.12g", tr, tr_fd);

    /* Hutchinson over the weights: unbiased, and the same for 1 or 3 threads */
    double trw[2] = {0, 0};
    for (int i = 0; i < grad_nparams(m); i++) {
        const GradParam *gp = grad_param(m, i);
        if (!gp->is_bias)
            for (int64_t k = 0; k < gp->count; k++)
                trw[gp->node == 0 ? 0 : 1] += H[(gp->offset + k) * p + gp->offset + k];
    }
    SensOptions so = {0};
    so.probes = 400, so.min_probes = 400, so.seed = 7;
    SensResult r1, r3;
    so.threads = 1;
    assert_int_equal(sens_hutchinson(m, xs, ts, TINY_N, &so, &r1), 0);
    so.threads = 3;
    assert_int_equal(sens_hutchinson(m, xs, ts, TINY_N, &so, &r3), 0);
    assert_int_equal(r1.nlayers, 2);
    assert_int_equal(r1.probes, 400);
    for (int l = 0; l < 2; l++) {
        assert_true(r1.layers[l].trace == r3.layers[l].trace);
        assert_true(r1.layers[l].se == r3.layers[l].se);
        double want = trw[r1.layers[l].node == 0 ? 0 : 1];
        if (fabs(r1.layers[l].trace - want) > 4 * r1.layers[l].se + 1e-12)
            fail_msg("layer %d: Hutchinson %.6g +- %.3g, exact %.6g", l, r1.layers[l].trace, r1.layers[l].se,
                     want);
        assert_true(r1.layers[l].omega[0] > 0);
    }
    sens_result_free(&r1);
    sens_result_free(&r3);
    free(v), free(hv), free(tmp), free(grad), free(theta), free(H);
    grad_work_free(w);
    grad_model_free(m);
    ir_graph_free(g);
}

/* With ReLU and MaxPool, the finite-difference HVP (branches frozen) is the
 * Hessian of a smooth function, so it is linear in v: H(v1 + v2) = Hv1 +
 * Hv2 to the truncation error, although the three calls take different
 * steps.  (Without freezing, units crossing their kink break this.) */
static void test_hvp_piecewise(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int c = node(g, OP_CONV, input(g, DIMS(1, 1, 6, 6)), weight(g, DIMS(2, 1, 3, 3)), weight(g, DIMS(2)));
    g->nodes[c].a.pads[0] = g->nodes[c].a.pads[1] = g->nodes[c].a.pads[2] = g->nodes[c].a.pads[3] = 1;
    int rl = node(g, OP_RELU, out(g, c), -1, -1);
    int mp = node(g, OP_MAXPOOL, out(g, rl), -1, -1);
    g->nodes[mp].a.kernel[0] = g->nodes[mp].a.kernel[1] = 2;
    g->nodes[mp].a.strides[0] = g->nodes[mp].a.strides[1] = 2;
    int r = node(g, OP_RESHAPE, out(g, mp), -1, -1);
    g->nodes[r].a.flatten_axis = 1;
    node(g, OP_DENSE, out(g, r), weight(g, DIMS(3, 18)), weight(g, DIMS(3)));
    assert_int_equal(ir_infer_shapes(g), 0);
    GradModel *m = grad_model_new(g, GRAD_LOSS_XENT);
    GradWork *w = grad_work_new(m);
    int64_t p = grad_theta_size(m);
    double xs[4 * 36], ts[4] = {0, 1, 2, 1};
    for (int i = 0; i < 4 * 36; i++)
        xs[i] = rnd();
    double *v = malloc((size_t)p * sizeof *v), *v2 = malloc((size_t)p * sizeof *v2);
    double *hv = malloc((size_t)p * sizeof *hv), *hv2 = malloc((size_t)p * sizeof *hv2);
    double *hv12 = malloc((size_t)p * sizeof *hv12), *tmp = malloc((size_t)2 * p * sizeof *tmp);
    for (int64_t i = 0; i < p; i++)
        v[i] = rnd() > 0 ? 1.0 : -1.0, v2[i] = rnd() > 0 ? 0.5 : -0.5;
    const double *theta = grad_theta0(m);
    grad_hvp(m, w, theta, v, xs, ts, 4, hv, tmp);
    grad_hvp(m, w, theta, v2, xs, ts, 4, hv2, tmp);
    for (int64_t i = 0; i < p; i++)
        v[i] += v2[i];
    grad_hvp(m, w, theta, v, xs, ts, 4, hv12, tmp);
    double nrm = 0;
    for (int64_t i = 0; i < p; i++)
        nrm = fmax(nrm, fabs(hv12[i]));
    for (int64_t i = 0; i < p; i++)
        expect_close(hv[i] + hv2[i], hv12[i], 1e-6 * nrm, "hv", i);
    free(v), free(v2), free(hv), free(hv2), free(hv12), free(tmp);
    grad_work_free(w);
    grad_model_free(m);
    ir_graph_free(g);
}

/* Activation Hessian (grad_act_hvp) w.r.t. the graph input of the tiny
 * model: its exact trace from unit vectors against second differences of
 * the loss in each input element. */
static void test_act_hessian_trace(void **state)
{
    (void)state;
    Graph *g = tiny_model();
    GradModel *m = grad_model_new(g, GRAD_LOSS_XENT);
    GradWork *w = grad_work_new(m);
    double x[4] = {0.3, -0.7, 1.1, 0.2}, t = 2, v[4] = {0}, hv[4], tmp[4], tr = 0, tr_fd = 0;
    int in = g->inputs[0];
    for (int j = 0; j < 4; j++) {
        v[j] = 1.0;
        grad_act_hvp(m, w, grad_theta0(m), in, x, &t, v, hv, tmp);
        v[j] = 0.0;
        tr += hv[j];
    }
    const double h = 1e-4;
    double *xin = grad_work_val(w, in);
    memcpy(xin, x, sizeof x);
    double l0 = grad_forward(m, w, grad_theta0(m), &t);
    for (int j = 0; j < 4; j++) {
        xin[j] = x[j] + h;
        double lp = grad_forward(m, w, grad_theta0(m), &t);
        xin[j] = x[j] - h;
        double lm = grad_forward(m, w, grad_theta0(m), &t);
        xin[j] = x[j];
        tr_fd += (lp - 2 * l0 + lm) / (h * h);
    }
    if (fabs(tr - tr_fd) > 1e-6 * fabs(tr_fd))
        fail_msg("activation trace %.12g vs second differences %.12g", tr, tr_fd);
    grad_work_free(w);
    grad_model_free(m);
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv),
        cmocka_unit_test(test_dense),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_pools),
        cmocka_unit_test(test_add_broadcast),
        cmocka_unit_test(test_concat_reshape_transpose),
        cmocka_unit_test(test_slice),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_xent),
        cmocka_unit_test(test_small_cnn),
        cmocka_unit_test(test_hessian_exact_trace),
        cmocka_unit_test(test_hvp_piecewise),
        cmocka_unit_test(test_act_hessian_trace),
        cmocka_unit_test(test_lstm),
        cmocka_unit_test(test_gru),
        cmocka_unit_test(test_rnn_hessian),
        cmocka_unit_test(test_rnn_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
