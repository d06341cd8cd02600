/* Unit tests of 4- and 16-bit activations: the runtime's 16-bit storage
 * (shiftc_rt.h), the code ranges and QParams of quant.c, and whole graphs
 * quantized at 4, 8 and 16 bits through the integer simulator, including
 * the rescaling of 16-bit inputs whose accumulators could overflow. */
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
#include "shiftc_rt.h"
#include "util.h"

/* ---- runtime ---- */

static void test_ld_st_round_trip(void **state)
{
    (void)state;
    int16_t s[4];
    uint16_t u[4];
    const int32_t sv[4] = {-32768, -1, 0, 32767}, uv[4] = {0, 1, 32768, 65535};
    for (int i = 0; i < 4; i++) {
        shiftc_st(s, i, SHIFTC_I16, sv[i]);
        shiftc_st(u, i, SHIFTC_U16, uv[i]);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(shiftc_ld(s, i, SHIFTC_I16), sv[i]);
        assert_int_equal(shiftc_ld(u, i, SHIFTC_U16), uv[i]);
        assert_int_equal(s[i], sv[i]);
        assert_int_equal(u[i], uv[i]);
    }
    /* every 16-bit code through both */
    int16_t *bs = xmalloc(65536 * sizeof *bs);
    uint16_t *bu = xmalloc(65536 * sizeof *bu);
    for (int32_t v = 0; v < 65536; v++) {
        shiftc_st(bs, v, SHIFTC_I16, v - 32768);
        shiftc_st(bu, v, SHIFTC_U16, v);
    }
    for (int32_t v = 0; v < 65536; v++) {
        assert_int_equal(shiftc_ld(bs, v, SHIFTC_I16), v - 32768);
        assert_int_equal(shiftc_ld(bu, v, SHIFTC_U16), v);
    }
    free(bs);
    free(bu);
    /* the 8-bit types are unchanged */
    int8_t s8[1];
    uint8_t u8[1];
    shiftc_st(s8, 0, SHIFTC_I8, -128);
    shiftc_st(u8, 0, SHIFTC_U8, 255);
    assert_int_equal(shiftc_ld(s8, 0, SHIFTC_I8), -128);
    assert_int_equal(shiftc_ld(u8, 0, SHIFTC_U8), 255);
    assert_int_equal(shiftc_type_min(SHIFTC_I16), -32768);
    assert_int_equal(shiftc_type_min(SHIFTC_I8), -128);
    assert_int_equal(shiftc_type_min(SHIFTC_U16), 0);
    assert_true(shiftc_is16(SHIFTC_I16) && shiftc_is16(SHIFTC_U16));
    assert_false(shiftc_is16(SHIFTC_I8) || shiftc_is16(SHIFTC_U8));
}

static void test_lut_interp(void **state)
{
    (void)state;
    /* a linear table interpolates exactly: lut[j] = 100 j - 5000 */
    int32_t lut[257];
    for (int j = 0; j < 257; j++)
        lut[j] = 100 * j - 5000;
    for (int32_t i = 0; i < 65536; i += 37) {
        double want = -5000 + 100.0 * i / 256;
        int32_t got = shiftc_lut_interp(lut, i);
        assert_true(fabs(got - want) <= 0.5);
    }
    assert_int_equal(shiftc_lut_interp(lut, 0), -5000);
    assert_int_equal(shiftc_lut_interp(lut, 256), -4900);
    /* half way rounds away from zero: 1/2 of 1 */
    int32_t step[257] = {0};
    step[1] = 1;
    assert_int_equal(shiftc_lut_interp(step, 128), 1);
    assert_int_equal(shiftc_lut_interp(step, 127), 0);
    step[1] = -1;
    assert_int_equal(shiftc_lut_interp(step, 128), -1);
    /* between the two entries, so within a table's clamp */
    int32_t wild[257];
    for (int j = 0; j < 257; j++)
        wild[j] = (j * 7919) % 65536 - 32768;
    for (int32_t i = 0; i < 65536; i += 13) {
        int32_t a = wild[i >> 8], b = wild[(i >> 8) + 1], v = shiftc_lut_interp(wild, i);
        assert_true(v >= (a < b ? a : b) && v <= (a > b ? a : b));
    }
    /* the lut kernel on int16 input: index = code + 32768 */
    int16_t x[3] = {-32768, 0, 32767};
    uint16_t y[3];
    int32_t id[257];
    for (int j = 0; j < 257; j++)
        id[j] = j * 256 > 65535 ? 65535 : j * 256;
    shiftc_lut_q(x, SHIFTC_I16, y, SHIFTC_U16, 3, id);
    assert_int_equal(y[0], 0);
    assert_int_equal(y[1], 32768);
    assert_int_equal(y[2], 65534); /* 65280 + 255/256 of the last step, 255 */
}

static void test_softmax16(void **state)
{
    (void)state;
    /* exp table of scale s over d = max - code, one entry per 256 d */
    double s = 1.0 / 4096;
    int32_t lut[257];
    for (int j = 0; j < 257; j++)
        lut[j] = (int32_t)llround(65536.0 * exp(-s * 256 * j));
    int16_t x[3] = {4096, 0, -8192}; /* reals 1, 0, -2 */
    uint16_t y[3];
    shiftc_softmax_q(x, SHIFTC_I16, y, SHIFTC_U16, 65535, 1, 3, 1, lut);
    double e[3] = {exp(1), exp(0), exp(-2)}, sum = e[0] + e[1] + e[2];
    for (int i = 0; i < 3; i++)
        assert_true(fabs(y[i] / 65536.0 - e[i] / sum) < 1e-3);
    /* 4-bit output codes 0..15, scale 1/16, in 8-bit storage */
    int32_t lut8[256];
    for (int d = 0; d < 256; d++)
        lut8[d] = (int32_t)llround(65536.0 * exp(-0.1 * d));
    int8_t x8[2] = {10, 0};
    uint8_t y8[2];
    shiftc_softmax_q(x8, SHIFTC_I8, y8, SHIFTC_U8, 15, 1, 2, 1, lut8);
    assert_int_equal(y8[0], 12); /* 16 * e / (1 + e) = 11.7 */
    assert_int_equal(y8[1], 4);
}

static void test_transpose_pad16(void **state)
{
    (void)state;
    uint16_t x[6] = {1, 2, 3, 60000, 5, 6}, y[6];
    int32_t odims[6] = {3, 2, 1, 1, 1, 1}, xs[6] = {1, 3, 0, 0, 0, 0};
    shiftc_transpose16_q(x, y, 2, odims, xs); /* [2, 3] -> [3, 2] */
    const uint16_t want[6] = {1, 60000, 2, 5, 3, 6};
    assert_memory_equal(y, want, sizeof want);
    int16_t p[2 * 4 * 4];
    int16_t in[2 * 2 * 2] = {-1, 2, 3, -32768, 5, 6, 7, 32767};
    shiftc_pad16_q(in, p, 2, 2, 2, 1, 1, 1, 1);
    assert_int_equal(p[0], 0);
    assert_int_equal(p[5], -1);
    assert_int_equal(p[10], -32768);
    assert_int_equal(p[16 + 10], 32767);
    assert_int_equal(p[15], 0);
}

/* ---- code ranges and QParams ---- */

static void test_code_ranges(void **state)
{
    (void)state;
    int32_t lo, hi;
    const struct {
        int bits, nonneg, lo, hi;
        QType type;
    } cases[] = {
        {4, 1, 0, 15, QT_U8},        {4, 0, -8, 7, QT_I8},          {8, 1, 0, 255, QT_U8},
        {8, 0, -128, 127, QT_I8},    {16, 1, 0, 65535, QT_U16},     {16, 0, -32768, 32767, QT_I16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        QParams q = quant_act_range_params(6.0, cases[i].nonneg, cases[i].bits);
        assert_int_equal(q.type, cases[i].type);
        assert_int_equal(quant_bits(&q), cases[i].bits);
        quant_code_range(&q, &lo, &hi);
        assert_int_equal(lo, cases[i].lo);
        assert_int_equal(hi, cases[i].hi);
        assert_true(q.scale == (float)(6.0 / hi));
        assert_int_equal(q.zero, 0);
        assert_int_equal(quant_type_bytes(q.type), cases[i].bits == 16 ? 2 : 1);
    }
    /* the 8-bit baseline is exactly quant_act_params */
    QParams a = quant_act_params(-2.5f, 3.0f, 0), b = quant_act_range_params(3.0, 0, 8);
    assert_true(a.scale == b.scale && a.type == b.type);
    /* bits 0 means the storage width */
    QParams z = {QT_I16, 1.0f, 0, 0};
    assert_int_equal(quant_bits(&z), 16);
    assert_int_equal(quant_lut_size(QT_I8), 256);
    assert_int_equal(quant_lut_size(QT_U16), 257);
}

/* ---- whole graphs ---- */

static uint32_t rng = 4242u;
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

static int add_rand_const(Graph *g, const char *name, int rank, const int64_t *dims, float mul)
{
    int t = add_tensor(g, name, TK_CONST, rank, dims);
    int64_t n = ir_numel(&g->tensors[t]);
    g->tensors[t].data = xmalloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        g->tensors[t].data[i] = mul * frand();
    return t;
}

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
                    FusedAct act)
{
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s_w", name);
    snprintf(bn, sizeof bn, "%s_b", name);
    int64_t wd[4] = {oc, ic, k, k}, bd[1] = {oc};
    int in[3] = {x, add_rand_const(g, wn, 4, wd, 1.5f / sqrtf((float)(ic * k * k))),
                 add_rand_const(g, bn, 1, bd, 0.1f)};
    int nd, y = add_node(g, OP_CONV, name, 3, in, &nd);
    g->nodes[nd].a.pads[0] = g->nodes[nd].a.pads[1] = pad;
    g->nodes[nd].a.pads[2] = g->nodes[nd].a.pads[3] = pad;
    g->nodes[nd].a.fused_act = act;
    return y;
}

static int add_dense(Graph *g, const char *name, int x, int64_t k, int64_t nout, float wmul)
{
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s_w", name);
    snprintf(bn, sizeof bn, "%s_b", name);
    int64_t wd[2] = {nout, k}, bd[1] = {nout};
    int in[3] = {x, add_rand_const(g, wn, 2, wd, wmul / sqrtf((float)k)),
                 add_rand_const(g, bn, 1, bd, 0.1f)};
    return add_node(g, OP_DENSE, name, 3, in, NULL);
}

/* Every kernel the integer path has: conv (padded), Add with a broadcast
 * constant, Concat, pools, Transpose, Slice, the table ops and Softmax. */
static Graph *all_ops_graph(void)
{
    rng = 4242u;
    Graph *g = ir_graph_new("ops");
    int64_t xd[4] = {1, 3, 6, 6};
    int x = add_tensor(g, "x", TK_INPUT, 4, xd);
    g->inputs[g->ninputs++] = x;
    int c1 = add_conv(g, "c1", x, 3, 4, 3, 1, ACT_RELU);
    int c2 = add_conv(g, "c2", x, 3, 4, 1, 0, ACT_NONE);
    int ain[2] = {c1, c2};
    int ad = add_node(g, OP_ADD, "add", 2, ain, NULL);
    int cin[2] = {c1, ad}, cn;
    int ct = add_node(g, OP_CONCAT, "cat", 2, cin, &cn);
    g->nodes[cn].a.axis = 1;
    int an, ap = add_node(g, OP_AVGPOOL, "avg", 1, &ct, &an);
    g->nodes[an].a.kernel[0] = g->nodes[an].a.kernel[1] = 2;
    g->nodes[an].a.strides[0] = g->nodes[an].a.strides[1] = 2;
    int mn, mp = add_node(g, OP_MAXPOOL, "max", 1, &c2, &mn);
    g->nodes[mn].a.kernel[0] = g->nodes[mn].a.kernel[1] = 2;
    g->nodes[mn].a.strides[0] = g->nodes[mn].a.strides[1] = 2;
    int tn, tr = add_node(g, OP_TRANSPOSE, "tr", 1, &ap, &tn);
    g->nodes[tn].a.nperm = 4;
    int perm[4] = {0, 2, 3, 1}; /* [1, 3, 3, 8] */
    memcpy(g->nodes[tn].a.perm, perm, sizeof perm);
    int64_t bd[1] = {8};
    int bin[2] = {tr, add_rand_const(g, "bias8", 1, bd, 0.5f)};
    int ab = add_node(g, OP_ADD, "addc", 2, bin, NULL);
    int ln, lr = add_node(g, OP_LEAKYRELU, "lrelu", 1, &ab, &ln);
    g->nodes[ln].a.alpha = 0.1f;
    int fn, fl = add_node(g, OP_RESHAPE, "flat", 1, &lr, &fn);
    g->nodes[fn].a.nshape = 2;
    g->nodes[fn].a.shape[0] = 1;
    g->nodes[fn].a.shape[1] = 72;
    int fc = add_dense(g, "fc", fl, 72, 5, 1.5f);
    int sn, sm = add_node(g, OP_SOFTMAX, "sm", 1, &fc, &sn);
    g->nodes[sn].a.axis = 1;
    int gp = add_node(g, OP_GLOBALAVGPOOL, "gap", 1, &ad, NULL);
    int th = add_node(g, OP_TANH, "tanh", 1, &gp, NULL);
    int sg = add_node(g, OP_SIGMOID, "sig", 1, &mp, NULL);
    int kn, cl = add_node(g, OP_CLIP, "clip", 1, &c2, &kn);
    g->nodes[kn].a.clip_min = -0.5f;
    g->nodes[kn].a.clip_max = 0.5f;
    int rl = add_node(g, OP_RELU, "relu", 1, &c2, NULL);
    int s1n, s1 = add_node(g, OP_SLICE, "slice", 1, &ap, &s1n); /* [1, 4, 3, 3] */
    g->nodes[s1n].a.axis = 1, g->nodes[s1n].a.slice_start = 2, g->nodes[s1n].a.slice_len = 4;
    int s2n, s2 = add_node(g, OP_SLICE, "pick", 1, &s1, &s2n); /* [1, 4, 3] */
    g->nodes[s2n].a.axis = 3, g->nodes[s2n].a.slice_start = 2, g->nodes[s2n].a.slice_len = 1;
    g->nodes[s2n].a.slice_drop = 1;
    int outs[] = {sm, th, sg, cl, fc, rl, s2};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        g->outputs[g->noutputs++] = outs[i];
    assert_int_equal(ir_infer_shapes(g), 0);
    return g;
}

static void set_bits(Graph *g, int bits, ClipMethod clip)
{
    for (int i = 0; i < g->nnodes; i++) {
        g->nodes[i].prec.act_bits = bits;
        g->nodes[i].prec.act_clip = clip;
    }
}

/* Calibrates on n samples, quantizes, and runs the simulator on them:
 * returns the worst error of any output in units of its range / 127 (the
 * 8-bit step), so that 4, 8 and 16 bits compare on one scale. */
static double worst_error(Graph *g, int n)
{
    const Tensor *xin = &g->tensors[g->inputs[0]];
    int64_t nx = ir_numel(xin);
    float *cal = xmalloc((size_t)(nx * n) * sizeof(float));
    for (int64_t i = 0; i < nx * n; i++)
        cal[i] = frand();
    assert_int_equal(ir_calibrate(g, cal, n), 0);
    if (ir_quantize(g) != 0)
        fail_msg("ir_quantize: %s", g->err);
    QSim *s = ir_qsim_new(g);
    if (!s)
        fail_msg("ir_qsim_new: %s", g->err);
    float **vals = ir_interp_alloc(g);
    void *xq = xmalloc((size_t)ka_bytes(xin));
    void *yq[IR_MAX_IO];
    float *yf[IR_MAX_IO];
    for (int o = 0; o < g->noutputs; o++) {
        const Tensor *y = &g->tensors[g->outputs[o]];
        yq[o] = xmalloc((size_t)ka_bytes(y));
        yf[o] = xmalloc((size_t)ir_numel(y) * sizeof(float));
    }
    double worst = 0;
    for (int t = 0; t < n; t++) {
        memcpy(vals[g->inputs[0]], cal + t * nx, (size_t)nx * sizeof(float));
        assert_int_equal(ir_interp_run(g, vals), 0);
        ir_quantize_input(xin, vals[g->inputs[0]], xq);
        const void *ins[1] = {xq};
        assert_int_equal(ir_qsim_run(s, ins, yq), 0);
        for (int o = 0; o < g->noutputs; o++) {
            const Tensor *y = &g->tensors[g->outputs[o]];
            int32_t lo, hi;
            quant_code_range(&y->q, &lo, &hi);
            double step = y->q.scale * hi / 127.0;
            ir_dequantize_output(y, yq[o], yf[o]);
            for (int64_t i = 0; i < ir_numel(y); i++)
                worst = fmax(worst, fabs((double)yf[o][i] - vals[g->outputs[o]][i]) / step);
        }
    }
    for (int o = 0; o < g->noutputs; o++)
        free(yq[o]), free(yf[o]);
    free(xq);
    free(cal);
    ir_interp_free(g, vals);
    ir_qsim_free(s);
    return worst;
}

static void test_all_ops_bits(void **state)
{
    (void)state;
    double err[3];
    const int bits[3] = {4, 8, 16};
    for (int b = 0; b < 3; b++) {
        Graph *g = all_ops_graph();
        set_bits(g, bits[b], CLIP_MINMAX);
        err[b] = worst_error(g, 30);
        /* storage follows the bits */
        const Tensor *y = &g->tensors[g->outputs[4]];
        assert_int_equal(quant_type_bytes(y->q.type), bits[b] == 16 ? 2 : 1);
        assert_int_equal(quant_bits(&y->q), bits[b]);
        for (int t = 0; t < g->ntensors; t++) {
            const Tensor *tt = &g->tensors[t];
            if (tt->kind != TK_CONST)
                assert_int_equal(quant_bits(&tt->q), bits[b]);
        }
        ir_graph_free(g);
    }
    printf("all ops: worst error %.2f / %.2f / %.2f 8-bit steps at 4 / 8 / 16 bits\n", err[0], err[1], err[2]);
    assert_true(err[1] <= 5.0);
    assert_true(err[2] <= 1.0); /* tables interpolated at 16 bits */
    assert_true(err[0] <= 5.0 * 16); /* 4 bits: 16x coarser codes */
}

/* A Dense layer over many 16-bit inputs: sum |q| * 65535 exceeds int32, so
 * the input keeps uint16 storage with fewer code bits; at 8 bits the same
 * layer is fine, and an 8-bit input that overflows is still rejected. */
static void test_overflow_rescaled(void **state)
{
    (void)state;
    rng = 77u;
    Graph *g = ir_graph_new("wide");
    int64_t xd[2] = {1, 4096};
    int x = add_tensor(g, "x", TK_INPUT, 2, xd);
    g->inputs[g->ninputs++] = x;
    int y = add_dense(g, "fc", x, 4096, 4, 40.0f);
    g->outputs[g->noutputs++] = y;
    assert_int_equal(ir_infer_shapes(g), 0);
    set_bits(g, 16, CLIP_MINMAX);
    float *cal = xmalloc(4096 * 8 * sizeof(float));
    for (int i = 0; i < 4096 * 8; i++)
        cal[i] = 0.5f + 0.5f * frand(); /* >= 0: uint16 input */
    assert_int_equal(ir_calibrate(g, cal, 8), 0);
    if (ir_quantize(g) != 0)
        fail_msg("ir_quantize: %s", g->err);
    const Tensor *tx = &g->tensors[x];
    assert_int_equal(tx->q.type, QT_U16);
    int bits = quant_bits(&tx->q);
    printf("16-bit input narrowed to %d bits, |acc| <= %lld\n", bits, (long long)g->nodes[0].q->acc_bound);
    assert_true(bits < 16 && bits >= 8);
    assert_true(g->nodes[0].q->acc_bound <= INT32_MAX);
    int32_t lo, hi;
    quant_code_range(&tx->q, &lo, &hi);
    assert_int_equal(hi, (1 << bits) - 1);
    assert_true(fabs(tx->q.scale * hi - tx->cal_max) <= 1e-6 * tx->cal_max);
    /* the simulator runs it */
    QSim *s = ir_qsim_new(g);
    assert_non_null(s);
    ir_qsim_free(s);
    ir_graph_free(g);
    free(cal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ld_st_round_trip), cmocka_unit_test(test_lut_interp),
        cmocka_unit_test(test_softmax16),        cmocka_unit_test(test_transpose_pad16),
        cmocka_unit_test(test_code_ranges),      cmocka_unit_test(test_all_ops_bits),
        cmocka_unit_test(test_overflow_rescaled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
