/* Unit tests of calibration and the baseline quantizer (ir/quant.c). */
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
#include "quant.h"
#include "shiftc_rt.h"
#include "util.h"

/* ---- building small graphs by hand ---- */

static int add_tensor(Graph *g, const char *name, TensorKind kind, int rank, const int64_t *dims)
{
    int t = ir_add_tensor(g, name, kind);
    g->tensors[t].rank = rank;
    for (int i = 0; i < rank; i++)
        g->tensors[t].dims[i] = dims[i];
    return t;
}

static int add_const(Graph *g, const char *name, int rank, const int64_t *dims, const float *data)
{
    int t = add_tensor(g, name, TK_CONST, rank, dims);
    int64_t n = ir_numel(&g->tensors[t]);
    g->tensors[t].data = xmalloc((size_t)n * sizeof(float));
    memcpy(g->tensors[t].data, data, (size_t)n * sizeof(float));
    return t;
}

static int add_input(Graph *g, const char *name, int rank, const int64_t *dims)
{
    int t = add_tensor(g, name, TK_INPUT, rank, dims);
    g->inputs[g->ninputs++] = t;
    return t;
}

/* A node with the given inputs and one new activation output (dims set by
 * shape inference later). */
static int add_node(Graph *g, Op op, const char *name, int nin, const int *in)
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
    return i;
}

static int out_of(const Graph *g, int node) { return g->nodes[node].out[0]; }

static uint32_t rng = 7u;
static float frand(void) /* uniform in [-1, 1), deterministic */
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 8388608.0f - 1.0f;
}

/* x[1, k] -> Dense(nout) -> y, weights random with a known per-channel max. */
static Graph *dense_graph(int64_t k, int64_t nout, float wmul)
{
    Graph *g = ir_graph_new("dense");
    int64_t xd[2] = {1, k}, wd[2] = {nout, k}, bd[1] = {nout};
    int x = add_input(g, "x", 2, xd);
    float *w = xmalloc((size_t)(k * nout) * sizeof(float));
    float *b = xmalloc((size_t)nout * sizeof(float));
    for (int64_t i = 0; i < k * nout; i++)
        w[i] = wmul * frand();
    for (int64_t i = 0; i < nout; i++)
        b[i] = 0.1f * frand();
    int in[3] = {x, add_const(g, "w", 2, wd, w), add_const(g, "b", 1, bd, b)};
    int d = add_node(g, OP_DENSE, "fc1", 3, in);
    g->outputs[g->noutputs++] = out_of(g, d);
    free(w);
    free(b);
    assert_int_equal(ir_infer_shapes(g), 0);
    return g;
}

/* Ranges as ir_calibrate would record them, without running anything. */
static void set_range(Graph *g, int t, float mn, float mx, int nonneg)
{
    g->tensors[t].cal_min = mn;
    g->tensors[t].cal_max = mx;
    g->tensors[t].nonneg = nonneg;
}

/* ---- tests ---- */

static void test_weight_channel(void **state)
{
    (void)state;
    enum { N = 1000 };
    float w[N];
    int32_t q[N];
    for (int trial = 0; trial < 20; trial++) {
        float mul = powf(10.0f, (float)(trial - 10));
        for (int i = 0; i < N; i++)
            w[i] = mul * frand();
        float s;
        quant_weight_channel(w, N, q, &s);
        assert_true(s > 0 && isfinite(s));
        int imax = 0;
        for (int i = 0; i < N; i++) {
            assert_true(q[i] >= -127 && q[i] <= 127);
            assert_true(fabs((double)w[i] - (double)s * q[i]) <= (double)s / 2 * (1 + 1e-6));
            if (fabsf(w[i]) > fabsf(w[imax]))
                imax = i;
        }
        assert_int_equal(abs(q[imax]), 127); /* the channel max maps to +-127 */
        assert_int_equal(q[imax] > 0, w[imax] > 0);
    }
    /* all-zero channel: scale 1, codes 0 */
    memset(w, 0, sizeof w);
    float s;
    quant_weight_channel(w, N, q, &s);
    assert_true(s == 1.0f);
    for (int i = 0; i < N; i++)
        assert_int_equal(q[i], 0);
}

static void test_act_params(void **state)
{
    (void)state;
    QParams q = quant_act_params(-2.0f, 1.0f, 0);
    assert_int_equal(q.type, QT_I8);
    assert_true(q.scale == (float)(2.0 / 127));
    assert_int_equal(q.zero, 0);
    q = quant_act_params(0.0f, 5.1f, 1);
    assert_int_equal(q.type, QT_U8);
    assert_true(q.scale == (float)(5.1f / 255.0));
    /* degenerate ranges still give a positive normal scale */
    const float bad[][2] = {{0, 0}, {NAN, NAN}, {-INFINITY, INFINITY}, {0, 1e-40f}, {INFINITY, -INFINITY}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (int nn = 0; nn < 2; nn++) {
            q = quant_act_params(bad[i][0], bad[i][1], nn);
            assert_true(isnormal(q.scale) && q.scale > 0);
        }
}

static void test_dense_quantize(void **state)
{
    (void)state;
    Graph *g = dense_graph(64, 10, 0.5f);
    int x = g->inputs[0], y = g->outputs[0];
    set_range(g, x, -1.0f, 1.0f, 0);
    set_range(g, y, -3.0f, 4.0f, 0);
    assert_int_equal(ir_quantize(g), 0);
    const QLayer *q = g->nodes[0].q;
    const Tensor *w = &g->tensors[g->nodes[0].in[1]], *b = &g->tensors[g->nodes[0].in[2]];
    assert_int_equal(q->nchan, 10);
    assert_int_equal(q->lo, -128);
    assert_int_equal(q->hi, 127);
    double sx = g->tensors[x].q.scale, sy = g->tensors[y].q.scale;
    for (int c = 0; c < 10; c++) {
        int has127 = 0;
        for (int i = 0; i < 64; i++) {
            int32_t code = q->wq[c * 64 + i];
            assert_true(code >= -127 && code <= 127);
            has127 |= abs(code) == 127;
            assert_true(fabs(w->data[c * 64 + i] - q->wscale[c] * code) <= q->wscale[c] / 2 * 1.000001);
        }
        assert_true(has127);
        double bunits = b->data[c] / (sx * q->wscale[c]);
        assert_true(fabs(q->bias[c] - bunits) <= 0.5 + 1e-9);
        double m = sx * q->wscale[c] / sy;
        assert_true(fabs(quant_multiplier_value(q->mult[c], q->shift[c]) - m) <= m * ldexp(1, -31));
    }
    /* determinism: a second run gives the same integers */
    int32_t wq0[640], mult0[10], bias0[10];
    memcpy(wq0, q->wq, sizeof wq0);
    memcpy(mult0, q->mult, sizeof mult0);
    memcpy(bias0, q->bias, sizeof bias0);
    assert_int_equal(ir_quantize(g), 0);
    q = g->nodes[0].q;
    assert_memory_equal(wq0, q->wq, sizeof wq0);
    assert_memory_equal(mult0, q->mult, sizeof mult0);
    assert_memory_equal(bias0, q->bias, sizeof bias0);
    ir_graph_free(g);
}

static void test_fused_act_range(void **state)
{
    (void)state;
    Graph *g = dense_graph(8, 4, 1.0f);
    set_range(g, g->inputs[0], -1, 1, 0);
    /* fused ReLU: uint8 output, lo 0 */
    g->nodes[0].a.fused_act = ACT_RELU;
    set_range(g, g->outputs[0], 0, 6, 1);
    assert_int_equal(ir_quantize(g), 0);
    assert_int_equal(g->tensors[g->outputs[0]].q.type, QT_U8);
    assert_int_equal(g->nodes[0].q->lo, 0);
    assert_int_equal(g->nodes[0].q->hi, 255);
    /* fused Clip(0, 3) on a range of 6: hi = round(3 / (6/255)) */
    g->nodes[0].a.fused_act = ACT_CLIP;
    g->nodes[0].a.clip_min = 0;
    g->nodes[0].a.clip_max = 3;
    assert_int_equal(ir_quantize(g), 0);
    assert_int_equal(g->nodes[0].q->lo, 0);
    assert_int_equal(g->nodes[0].q->hi, (int32_t)round(3.0 / g->tensors[g->outputs[0]].q.scale));
    /* Clip(-1, 1) on an int8 output */
    g->nodes[0].a.clip_min = -1;
    g->nodes[0].a.clip_max = 1;
    set_range(g, g->outputs[0], -4, 4, 0);
    assert_int_equal(ir_quantize(g), 0);
    assert_int_equal(g->nodes[0].q->lo, -(int32_t)round(1.0 / (4.0f / 127)));
    assert_int_equal(g->nodes[0].q->hi, (int32_t)round(1.0 / (4.0f / 127)));
    ir_graph_free(g);
}

static void test_overflow_detected(void **state)
{
    (void)state;
    /* 100000 uint8 inputs times weights of code 127 can reach 3.2e9 */
    Graph *g = dense_graph(100000, 2, 1.0f);
    Tensor *w = &g->tensors[g->nodes[0].in[1]];
    for (int64_t i = 0; i < ir_numel(w); i++)
        w->data[i] = 1.0f;
    set_range(g, g->inputs[0], 0, 1, 1);
    set_range(g, g->outputs[0], -1, 1, 0);
    assert_int_equal(ir_quantize(g), -1);
    assert_non_null(strstr(g->err, "fc1"));
    assert_non_null(strstr(g->err, "overflow"));
    /* the same layer is fine with 10000 inputs */
    ir_graph_free(g);
    g = dense_graph(10000, 2, 1.0f);
    w = &g->tensors[g->nodes[0].in[1]];
    for (int64_t i = 0; i < ir_numel(w); i++)
        w->data[i] = 1.0f;
    set_range(g, g->inputs[0], 0, 1, 1);
    set_range(g, g->outputs[0], -1, 1, 0);
    assert_int_equal(ir_quantize(g), 0);
    ir_graph_free(g);
}

static void test_bias_too_large(void **state)
{
    (void)state;
    Graph *g = dense_graph(4, 2, 1e-6f);
    g->tensors[g->nodes[0].in[2]].data[1] = 1e6f; /* 1e6 / (tiny * tiny) */
    set_range(g, g->inputs[0], -1e-3f, 1e-3f, 0);
    set_range(g, g->outputs[0], -1, 1, 0);
    assert_int_equal(ir_quantize(g), -1);
    assert_non_null(strstr(g->err, "bias"));
    ir_graph_free(g);
}

/* x -> Relu -> y, with x nonneg (same range, same scale) or signed. */
static void test_relu_lut(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("relu");
    int64_t d[2] = {1, 16};
    int x = add_input(g, "x", 2, d);
    int r = add_node(g, OP_RELU, "relu", 1, &x);
    g->outputs[g->noutputs++] = out_of(g, r);
    assert_int_equal(ir_infer_shapes(g), 0);
    set_range(g, x, 0, 2, 1);
    set_range(g, out_of(g, r), 0, 2, 1);
    assert_int_equal(ir_quantize(g), 0);
    const int32_t *lut = g->nodes[r].q->lut;
    for (int c = 0; c < 256; c++)
        assert_int_equal(lut[c], c); /* uint8 in, same scale out: identity */

    /* int8 input: negative codes -> 0, positive ones rescaled */
    set_range(g, x, -2, 2, 0);
    set_range(g, out_of(g, r), 0, 2, 1);
    assert_int_equal(ir_quantize(g), 0);
    lut = g->nodes[r].q->lut;
    double sx = g->tensors[x].q.scale, sy = g->tensors[out_of(g, r)].q.scale;
    for (int c = -128; c <= 127; c++) {
        int32_t want = c <= 0 ? 0 : (int32_t)fmin(255, round(c * sx / sy));
        assert_int_equal(lut[c + 128], want);
    }
    ir_graph_free(g);
}

static void test_fixed_output_params(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("fixed");
    int64_t d[2] = {1, 10};
    int x = add_input(g, "x", 2, d);
    int s = add_node(g, OP_SIGMOID, "sig", 1, &x);
    int t = add_node(g, OP_TANH, "tanh", 1, &x);
    int sm = add_node(g, OP_SOFTMAX, "sm", 1, &x);
    g->nodes[sm].a.axis = 1;
    g->outputs[g->noutputs++] = out_of(g, s);
    g->outputs[g->noutputs++] = out_of(g, t);
    g->outputs[g->noutputs++] = out_of(g, sm);
    assert_int_equal(ir_infer_shapes(g), 0);
    set_range(g, x, -8, 8, 0);
    assert_int_equal(ir_quantize(g), 0);
    const Tensor *ys = &g->tensors[out_of(g, s)], *yt = &g->tensors[out_of(g, t)];
    const Tensor *ysm = &g->tensors[out_of(g, sm)];
    assert_int_equal(ys->q.type, QT_U8);
    assert_true(ys->q.scale == 1.0f / 256);
    assert_int_equal(yt->q.type, QT_I8);
    assert_true(yt->q.scale == 1.0f / 127);
    assert_int_equal(ysm->q.type, QT_U8);
    assert_true(ysm->q.scale == 1.0f / 256);
    /* sigmoid table: monotone, 128 at 0, clamped at 255 */
    const int32_t *lut = g->nodes[s].q->lut;
    assert_int_equal(lut[128], 128);
    assert_int_equal(lut[255], 255);
    for (int i = 1; i < 256; i++)
        assert_true(lut[i] >= lut[i - 1]);
    /* tanh table: odd, +-127 at the ends */
    lut = g->nodes[t].q->lut;
    assert_int_equal(lut[128], 0);
    assert_int_equal(lut[255], 127);
    assert_int_equal(lut[1], -127);
    const int32_t *e = g->nodes[sm].q->exp_lut;
    assert_int_equal(e[0], 65536);
    for (int i = 1; i < 256; i++)
        assert_true(e[i] <= e[i - 1]);
    ir_graph_free(g);
}

static void test_add_concat(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("addcat");
    int64_t d[2] = {1, 4}, cd[1] = {4};
    const float cv[4] = {0.5f, 1.0f, 1.5f, 2.0f};
    int x = add_input(g, "x", 2, d);
    int c = add_const(g, "c", 1, cd, cv);
    int ain[2] = {x, c};
    int a = add_node(g, OP_ADD, "add", 2, ain);
    int cin[2] = {x, out_of(g, a)};
    int cc = add_node(g, OP_CONCAT, "cat", 2, cin);
    g->nodes[cc].a.axis = 1;
    g->outputs[g->noutputs++] = out_of(g, cc);
    assert_int_equal(ir_infer_shapes(g), 0);
    set_range(g, x, -1, 1, 0);
    set_range(g, out_of(g, a), -0.5f, 3, 0);
    set_range(g, out_of(g, cc), -1, 3, 0);
    assert_int_equal(ir_quantize(g), 0);
    /* the constant operand: uint8 per tensor, max -> 255 */
    const Tensor *ct = &g->tensors[c];
    assert_int_equal(ct->q.type, QT_U8);
    assert_non_null(ct->qdata);
    assert_int_equal(ct->qdata[3], 255);
    assert_int_equal(ct->qdata[0], (int32_t)round(0.5 / ct->q.scale));
    const QLayer *q = g->nodes[a].q;
    assert_int_equal(q->left_shift, 20);
    double sa = g->tensors[x].q.scale, sb = ct->q.scale, sy = g->tensors[out_of(g, a)].q.scale;
    double tm = 2 * fmax(sa, sb);
    assert_true(fabs(quant_multiplier_value(q->in_mult[0], q->in_shift[0]) - sa / tm) <= 1e-9);
    assert_true(fabs(quant_multiplier_value(q->in_mult[1], q->in_shift[1]) - sb / tm) <= 1e-9);
    double mo = tm / (1048576.0 * sy);
    assert_true(fabs(quant_multiplier_value(q->out_mult, q->out_shift) - mo) <= mo * 1e-9);
    /* concat: the input with the output's range is copied exactly */
    q = g->nodes[cc].q;
    assert_int_equal(q->in_mult[1], 1 << 30);
    assert_int_equal(q->in_shift[1], 1);
    ir_graph_free(g);
}

static void test_passthrough_and_unknown(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("pass");
    int64_t d[4] = {1, 2, 4, 4};
    int x = add_input(g, "x", 4, d);
    int mp = add_node(g, OP_MAXPOOL, "pool", 1, &x);
    g->nodes[mp].a.kernel[0] = g->nodes[mp].a.kernel[1] = 2;
    g->nodes[mp].a.strides[0] = g->nodes[mp].a.strides[1] = 2;
    int pin = out_of(g, mp);
    int rs = add_node(g, OP_RESHAPE, "flat", 1, &pin);
    g->nodes[rs].a.nshape = 2;
    g->nodes[rs].a.shape[0] = 1;
    g->nodes[rs].a.shape[1] = 8;
    g->outputs[g->noutputs++] = out_of(g, rs);
    assert_int_equal(ir_infer_shapes(g), 0);
    set_range(g, x, 0, 3, 1);
    set_range(g, out_of(g, mp), 0, 2, 1); /* ignored: a pool keeps its input's scale */
    assert_int_equal(ir_quantize(g), 0);
    assert_true(g->tensors[out_of(g, mp)].q.scale == g->tensors[x].q.scale);
    assert_true(g->tensors[out_of(g, rs)].q.scale == g->tensors[x].q.scale);
    assert_int_equal(g->tensors[out_of(g, rs)].q.type, QT_U8);
    /* an op without an integer kernel fails loudly */
    g->nodes[rs].op = OP_BATCHNORM;
    assert_int_equal(ir_quantize(g), -1);
    assert_non_null(strstr(g->err, "no integer kernel"));
    ir_graph_free(g);
}

/* ir_calibrate through the float interpreter: ranges and nonneg. */
static void test_calibrate(void **state)
{
    (void)state;
    Graph *g = dense_graph(3, 2, 1.0f);
    Tensor *w = &g->tensors[g->nodes[0].in[1]], *b = &g->tensors[g->nodes[0].in[2]];
    const float wv[6] = {1, 0, 0, 0, -1, 0}; /* y0 = x0, y1 = -x1 */
    memcpy(w->data, wv, sizeof wv);
    b->data[0] = b->data[1] = 0;
    const float samples[3 * 3] = {1, 2, 3, -1, 0.5f, 4, 0.25f, -2, 0};
    assert_int_equal(ir_calibrate(g, samples, 3), 0);
    const Tensor *x = &g->tensors[g->inputs[0]], *y = &g->tensors[g->outputs[0]];
    assert_true(x->cal_min == -2 && x->cal_max == 4);
    assert_true(y->cal_min == -2 && y->cal_max == 2);
    assert_false(x->nonneg);
    assert_false(y->nonneg);
    /* a fused ReLU makes the output nonneg; a nonneg calibration set the input */
    g->nodes[0].a.fused_act = ACT_RELU;
    const float pos[3] = {1, 2, 3};
    assert_int_equal(ir_calibrate(g, pos, 1), 0);
    assert_true(x->nonneg);
    assert_true(y->nonneg);
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weight_channel),     cmocka_unit_test(test_act_params),
        cmocka_unit_test(test_dense_quantize),     cmocka_unit_test(test_fused_act_range),
        cmocka_unit_test(test_overflow_detected),  cmocka_unit_test(test_bias_too_large),
        cmocka_unit_test(test_relu_lut),           cmocka_unit_test(test_fixed_output_params),
        cmocka_unit_test(test_add_concat),         cmocka_unit_test(test_passthrough_and_unknown),
        cmocka_unit_test(test_calibrate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
