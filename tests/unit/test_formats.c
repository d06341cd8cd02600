/* Unit tests of the weight formats (ir/formats.c): codebooks, nearest
 * codes, scale searches, TWN/TTQ, no-mul scales, bias correction and the
 * accumulator-width bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"
#include "ir.h"
#include "quant.h"
#include "shiftadd.h"
#include "util.h"

static uint32_t rng = 12345u;
static double urand(void) /* uniform in [0, 1), deterministic */
{
    rng = rng * 1664525u + 1013904223u;
    return (double)(rng >> 8) / 16777216.0;
}
static double grand(void) /* roughly normal: sum of 4 uniforms, centred */
{
    return (urand() + urand() + urand() + urand() - 2.0) * 1.7320508;
}

static const WeightFormat all_formats[] = {WF_INT2, WF_INT3,    WF_INT4, WF_INT5, WF_INT6,  WF_INT7, WF_INT8,
                                           WF_TERNARY, WF_TTQ, WF_POT,  WF_NHOT2, WF_NHOT3, WF_APOT};
#define NFORMATS (sizeof all_formats / sizeof all_formats[0])

/* Formats whose scale comes from the MSE grid search. */
static int searched(WeightFormat f)
{
    FmtFamily fam = fmt_family(f);
    return f != WF_INT8 && (fam == FMT_INT || fam == FMT_POT || fam == FMT_NHOT || fam == FMT_APOT);
}

static int in_list(const int32_t *codes, int n, int32_t v)
{
    for (int i = 0; i < n; i++)
        if (codes[i] == v)
            return 1;
    return 0;
}

/* ---- the table ---- */

static void test_names(void **state)
{
    (void)state;
    char list[512];
    fmt_list(list, sizeof list);
    for (size_t i = 0; i < NFORMATS; i++) {
        WeightFormat f = WF_FLOAT;
        assert_int_equal(fmt_parse(fmt_name(all_formats[i]), &f), 0);
        assert_int_equal(f, all_formats[i]);
        assert_non_null(strstr(list, fmt_name(all_formats[i])));
    }
    WeightFormat f;
    assert_int_equal(fmt_parse("float", &f), -1);
    assert_int_equal(fmt_parse("int9", &f), -1);
    assert_int_equal(fmt_parse("", &f), -1);
    assert_null(strstr(list, "float"));
    /* a short buffer: truncated, terminated, full length reported */
    char small[8];
    size_t want = fmt_list(small, sizeof small);
    assert_int_equal(want, strlen(list));
    assert_int_equal(strlen(small), sizeof small - 1);
}

/* ---- codebooks ---- */

static void test_naf_matches_backend(void **state)
{
    (void)state;
    SaTerm t[SA_MAX_TERMS];
    for (int32_t v = -70000; v <= 70000; v++) {
        int n = sa_csd(v, t);
        assert_int_equal(fmt_naf_weight(v), n);
        assert_int_equal(fmt_naf_length(v), n ? t[0].shift + 1 : 0);
    }
    const int32_t extremes[] = {INT32_MAX, INT32_MIN, INT32_MIN + 1, 0x55555555, -0x55555555};
    for (size_t i = 0; i < sizeof extremes / sizeof extremes[0]; i++) {
        int n = sa_csd(extremes[i], t);
        assert_int_equal(fmt_naf_weight(extremes[i]), n);
        assert_int_equal(fmt_naf_length(extremes[i]), t[0].shift + 1);
    }
}

/* Sorted, unique, symmetric, with 0. */
static void check_shape(const int32_t *codes, int n)
{
    assert_true(n >= 3 && n <= FMT_MAX_CODES && n % 2 == 1);
    for (int i = 0; i < n; i++) {
        if (i > 0)
            assert_true(codes[i] > codes[i - 1]);
        assert_int_equal(codes[i], -codes[n - 1 - i]);
    }
    assert_int_equal(codes[n / 2], 0);
}

/* pot, nhot2, nhot3: every code has <= n nonzero NAF digits in positions
 * 0..FMT_E, and every integer that does is a code (brute force, with the
 * backend's independent CSD recoder). */
static void check_signed_digit_codebook(WeightFormat f, int ndigits, int expect_count, int expect_bits)
{
    int32_t codes[FMT_MAX_CODES];
    int n = fmt_codebook(f, codes);
    check_shape(codes, n);
    assert_int_equal(n, expect_count);
    assert_int_equal(fmt_bits(f), expect_bits);
    SaTerm t[SA_MAX_TERMS];
    for (int i = 0; i < n; i++) {
        int k = sa_csd(codes[i], t);
        assert_true(k <= ndigits);
        assert_true(k == 0 || t[0].shift <= FMT_E);
        assert_true(codes[i] >= -127 && codes[i] <= 127); /* int8 range */
    }
    for (int32_t v = -5000; v <= 5000; v++) {
        int k = sa_csd(v, t);
        int fits = k <= ndigits && (k == 0 || t[0].shift <= FMT_E);
        assert_int_equal(in_list(codes, n, v), fits);
    }
}

static void test_codebooks(void **state)
{
    (void)state;
    /* NAFs of length 7 with k nonzero digits: C(8-k, k) * 2^k */
    check_signed_digit_codebook(WF_POT, 1, 1 + 14, 4);          /* 0, +-2^0..2^6 */
    check_signed_digit_codebook(WF_NHOT2, 2, 1 + 14 + 60, 7);
    check_signed_digit_codebook(WF_NHOT3, 3, 1 + 14 + 60 + 80, 8);

    int32_t codes[FMT_MAX_CODES];
    for (int k = 2; k <= 8; k++) {
        WeightFormat f = (WeightFormat)(WF_INT2 + (k - 2));
        assert_int_equal(fmt_param(f), k);
        int n = fmt_codebook(f, codes);
        check_shape(codes, n);
        assert_int_equal(n, 2 * ((1 << (k - 1)) - 1) + 1);
        assert_int_equal(codes[n - 1], (1 << (k - 1)) - 1);
        assert_int_equal(fmt_bits(f), k);
    }
    int n = fmt_codebook(WF_TERNARY, codes);
    check_shape(codes, n);
    assert_int_equal(n, 3);
    assert_int_equal(fmt_bits(WF_TERNARY), 2);
    assert_int_equal(fmt_codebook(WF_TTQ, codes), 0); /* a, b per channel */
    assert_int_equal(fmt_bits(WF_TTQ), 2);

    /* APoT: p0 + p1, p0 in {0,2,8,32}, p1 in {0,1,4,16}: 16 magnitudes */
    n = fmt_codebook(WF_APOT, codes);
    check_shape(codes, n);
    assert_int_equal(n, 31);
    assert_int_equal(fmt_bits(WF_APOT), 5);
    assert_int_equal(codes[n - 1], 48);
    for (int i = 0; i < n; i++) {
        int32_t a = abs(codes[i]);
        assert_true(fmt_naf_weight(codes[i]) <= 2);
        /* binary digits: at most one in the odd and one in the even positions */
        assert_true(__builtin_popcount((unsigned)a & 0x2a) <= 1 && __builtin_popcount((unsigned)a & 0x15) <= 1);
        assert_int_equal(a & ~0x3f, 0);
    }
}

/* fmt_nearest is the nearest code, ties away from zero (brute force). */
static void test_nearest(void **state)
{
    (void)state;
    for (size_t fi = 0; fi < NFORMATS; fi++) {
        WeightFormat f = all_formats[fi];
        if (f == WF_TTQ)
            continue;
        FmtQuant fq;
        fmt_init(&fq, f);
        for (int t = 0; t < 4000; t++) {
            double v = (urand() * 2 - 1) * fq.top * 1.3;
            if (t < 200) /* exact midpoints */
                v = (fq.codes[t % (fq.ncodes - 1)] + fq.codes[t % (fq.ncodes - 1) + 1]) / 2.0;
            int32_t best = fq.codes[0];
            for (int i = 0; i < fq.ncodes; i++) {
                double d = fabs(v - fq.codes[i]), db = fabs(v - best);
                if (d < db || (d == db && fabs((double)fq.codes[i]) > fabs((double)best)))
                    best = fq.codes[i];
            }
            assert_int_equal(fmt_nearest(&fq, v), best);
        }
    }
}

/* ---- channels ---- */

enum { CH = 300 };

/* A random channel: kind 0 normal, 1 Laplace-like (heavy tails), 2 uniform,
 * 3 normal with one outlier, 4 all positive. */
static void random_channel(float *w, int n, int kind, double mul)
{
    for (int i = 0; i < n; i++) {
        double v;
        switch (kind) {
        case 0: v = grand(); break;
        case 1: v = (urand() < 0.5 ? -1 : 1) * -log(1 - urand()); break;
        case 2: v = urand() * 2 - 1; break;
        case 3: v = i == n / 2 ? 12.0 : grand(); break;
        default: v = urand(); break;
        }
        w[i] = (float)(v * mul);
    }
}

static double sq_err(const float *w, const int32_t *q, int n, double s)
{
    double e = 0;
    for (int i = 0; i < n; i++) {
        double d = (double)w[i] - s * q[i];
        e += d * d;
    }
    return e;
}

static double max_abs(const float *w, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++)
        m = fmax(m, fabs((double)w[i]));
    return m;
}

/* The searched scale is never worse than max-abs scaling, codes are
 * codebook members, and for int<k> every weight inside the clip range is
 * within s/2 of its reconstruction. */
static void test_search_vs_maxabs(void **state)
{
    (void)state;
    float w[CH];
    int32_t q[CH], qm[CH];
    int strictly_better = 0;
    for (size_t fi = 0; fi < NFORMATS; fi++) {
        WeightFormat f = all_formats[fi];
        if (!searched(f) && f != WF_INT8)
            continue;
        FmtQuant fq;
        fmt_init(&fq, f);
        for (int trial = 0; trial < 25; trial++) {
            int n = trial % 5 == 4 ? 9 : CH; /* 3x3 kernels too */
            random_channel(w, n, trial % 5, pow(10.0, trial % 7 - 4));
            double sw;
            fmt_weight_channel(&fq, w, n, 0, 1, 1, q, &sw, NULL);
            assert_true(sw > 0 && sw == (double)(float)sw);
            double smax = (double)(float)(max_abs(w, n) / fq.top);
            fmt_codes(&fq, w, n, smax, qm);
            double e = sq_err(w, q, n, sw), em = sq_err(w, qm, n, smax);
            assert_true(e <= em);
            strictly_better += e < em;
            for (int i = 0; i < n; i++) {
                assert_true(in_list(fq.codes, fq.ncodes, q[i]));
                if (fq.family == FMT_INT && fabs((double)w[i]) <= sw * fq.top)
                    assert_true(fabs((double)w[i] - sw * q[i]) <= sw / 2 * (1 + 1e-9));
            }
            if (f == WF_INT8) /* the baseline, unchanged */
                assert_true(sw == smax && memcmp(q, qm, (size_t)n * sizeof *q) == 0);
        }
    }
    assert_true(strictly_better > 100); /* the search does find better scales */
}

/* Weights that are already codes times a scale (with the top code in the
 * channel) come back exactly. */
static void test_round_trip(void **state)
{
    (void)state;
    float w[CH];
    int32_t q0[CH], q[CH];
    for (size_t fi = 0; fi < NFORMATS; fi++) {
        WeightFormat f = all_formats[fi];
        if (f == WF_TTQ)
            continue;
        FmtQuant fq;
        fmt_init(&fq, f);
        for (int trial = 0; trial < 10; trial++) {
            float s0 = (float)(pow(10.0, trial - 5) * (1 + urand()));
            for (int i = 0; i < CH; i++) {
                q0[i] = fq.codes[(int)(urand() * fq.ncodes) % fq.ncodes];
                if (f == WF_TERNARY && i % 2) /* TWN needs the nonzero codes to dominate */
                    q0[i] = i % 4 == 1 ? 1 : -1;
            }
            q0[trial] = trial % 2 ? fq.top : -fq.top;
            for (int i = 0; i < CH; i++)
                w[i] = (float)((double)s0 * q0[i]);
            double sw;
            fmt_weight_channel(&fq, w, CH, 0, 1, 1, q, &sw, NULL);
            assert_memory_equal(q, q0, sizeof q);
            assert_true(fabs(sw - s0) <= s0 * 1e-6);
        }
    }
}

static void test_ternary_twn(void **state)
{
    (void)state;
    /* mean|w| = 3.05/6, delta = 0.7 * that = 0.35583; above it: 0.5, 0.9, 1.2 */
    const float w[6] = {0.1f, -0.5f, 0.9f, 0.05f, -1.2f, 0.3f};
    const int32_t expect[6] = {0, -1, 1, 0, -1, 0};
    double delta, s;
    fmt_twn(w, 6, &delta, &s);
    assert_true(fabs(delta - 0.7 * 3.05 / 6) < 1e-6);
    assert_true(fabs(s - 2.6 / 3) < 1e-6);
    FmtQuant fq;
    fmt_init(&fq, WF_TERNARY);
    int32_t q[6];
    double sw;
    fmt_weight_channel(&fq, w, 6, 0, 1, 1, q, &sw, NULL);
    assert_memory_equal(q, expect, sizeof q);
    assert_true(sw == (double)(float)(2.6 / 3) || fabs(sw - 2.6 / 3) < 1e-6);
}

/* All-zero and denormal channels: zero codes and the baseline's scale 1
 * (or in no-mul mode the two-term value nearest sx/sy), in every format. */
static void test_zero_channels(void **state)
{
    (void)state;
    const float chans[3][4] = {{0, 0, 0, 0}, {1e-39f, -2e-39f, 0, 1e-40f}, {5e-37f, 1e-45f, 1e-45f, 1e-45f}};
    for (size_t fi = 0; fi < NFORMATS; fi++) {
        FmtQuant fq;
        fmt_init(&fq, all_formats[fi]);
        for (int k = 0; k < 3; k++) {
            int32_t q[4] = {9, 9, 9, 9}, nm[3];
            double sw;
            fmt_weight_channel(&fq, chans[k], 4, 0, 1, 1, q, &sw, NULL);
            if (k < 2) { /* max|w| < FLT_MIN */
                assert_true(sw == 1.0);
                assert_true(q[0] == 0 && q[1] == 0 && q[2] == 0 && q[3] == 0);
            } else { /* tiny but normal: whatever the codes, they are the format's */
                for (int i = 0; i < 4; i++)
                    assert_true(fq.ncodes == 0 || in_list(fq.codes, fq.ncodes, q[i]));
            }
            fmt_weight_channel(&fq, chans[k], 4, 1, 0.5, 0.25, q, &sw, nm);
            assert_true(quant_nm_valid(nm));
            if (k < 2)
                assert_true(q[0] == 0 && q[3] == 0 && fabs(quant_nm_value(nm) - 2.0) < 1e-12);
        }
    }
}

static void test_ttq(void **state)
{
    (void)state;
    /* positives about 3x the negatives: b/a = 3 fits them best */
    float w[40];
    for (int i = 0; i < 40; i++)
        w[i] = i % 2 ? (float)(0.9 + 0.01 * (i % 5)) : (float)(-0.3 - 0.01 * (i % 3));
    w[0] = 0.001f; /* below the threshold: code 0 */
    FmtQuant fq;
    fmt_init(&fq, WF_TTQ);
    int32_t q[40];
    double sw;
    fmt_weight_channel(&fq, w, 40, 0, 1, 1, q, &sw, NULL);
    assert_int_equal(q[0], 0);
    for (int i = 1; i < 40; i++)
        assert_int_equal(q[i], i % 2 ? 3 : -1);
    assert_true(fabs(sw * 3 - 0.92) < 0.01 && fabs(sw - 0.31) < 0.01);
}

/* No-mul mode: a valid two-term multiplier, the scale it implies, codes
 * from the codebook, and not far from the free scale's error. */
static void test_no_mul(void **state)
{
    (void)state;
    float w[CH];
    int32_t q[CH], qf[CH], nm[3];
    for (size_t fi = 0; fi < NFORMATS; fi++) {
        FmtQuant fq;
        fmt_init(&fq, all_formats[fi]);
        for (int trial = 0; trial < 10; trial++) {
            random_channel(w, CH, trial % 4, 0.1);
            double sx = 0.01 * (1 + urand()), sy = 0.05 * (1 + urand()), sw, sf;
            fmt_weight_channel(&fq, w, CH, 1, sx, sy, q, &sw, nm);
            assert_true(quant_nm_valid(nm));
            assert_true(fabs(sw - quant_nm_value(nm) * sy / sx) <= sw * 1e-12);
            fmt_weight_channel(&fq, w, CH, 0, sx, sy, qf, &sf, NULL);
            for (int i = 0; i < CH; i++)
                if (fq.ncodes)
                    assert_true(in_list(fq.codes, fq.ncodes, q[i]));
            /* the candidates lie within 1.25x of the free scale */
            assert_true(sw >= sf / 1.25 * (1 - 1e-9) && sw <= sf * 1.25 * (1 + 1e-9));
        }
    }
}

/* ---- graphs: bias correction and accumulator widths ---- */

static int add_tensor(Graph *g, const char *name, TensorKind kind, int rank, const int64_t *dims)
{
    int t = ir_add_tensor(g, name, kind);
    g->tensors[t].rank = rank;
    memcpy(g->tensors[t].dims, dims, (size_t)rank * sizeof *dims);
    return t;
}

static int add_const(Graph *g, const char *name, int rank, const int64_t *dims, double mul, double off)
{
    int t = add_tensor(g, name, TK_CONST, rank, dims);
    int64_t n = ir_numel(&g->tensors[t]);
    g->tensors[t].data = xmalloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        g->tensors[t].data[i] = (float)(off + mul * grand());
    return t;
}

/* x[1, C, 7, 7] -> Conv (OC, 3x3, pad 1, stride 2, groups) -> y */
static Graph *conv_graph(int c, int oc, int group)
{
    Graph *g = ir_graph_new("conv");
    int64_t xd[4] = {1, c, 7, 7}, wd[4] = {oc, c / group, 3, 3}, bd[1] = {oc};
    int x = add_tensor(g, "x", TK_INPUT, 4, xd);
    g->inputs[g->ninputs++] = x;
    int w = add_const(g, "w", 4, wd, 0.3, 0.05), b = add_const(g, "b", 1, bd, 0.1, 0);
    int k = ir_add_node(g, OP_CONV, "conv", 0);
    Node *n = &g->nodes[k];
    n->in[0] = x, n->in[1] = w, n->in[2] = b, n->nin = 3;
    n->out[0] = ir_add_tensor(g, "y", TK_ACT), n->nout = 1;
    n->a.pads[0] = n->a.pads[1] = n->a.pads[2] = n->a.pads[3] = 1;
    n->a.strides[0] = n->a.strides[1] = 2;
    n->a.group = group;
    g->outputs[g->noutputs++] = n->out[0];
    assert_int_equal(ir_infer_shapes(g), 0);
    return g;
}

/* After correction, the mean accumulator of each channel, in real units,
 * is the float model's mean output within half an accumulator unit: checked
 * by brute force over the input codes (padding, stride and groups
 * included). */
static void check_conv_correction(int c, int oc, int group, WeightFormat f)
{
    enum { NS = 24 };
    Graph *g = conv_graph(c, oc, group);
    int64_t in_count = ir_numel(&g->tensors[g->inputs[0]]);
    float *samples = xmalloc((size_t)(NS * in_count) * sizeof *samples);
    for (int64_t i = 0; i < NS * in_count; i++) /* >= 0, channel-dependent means */
        samples[i] = (float)(urand() * (1 + (i / 49) % c));
    assert_int_equal(ir_calibrate(g, samples, NS), 0);
    fmt_apply(g, f);
    g->bias_correction = 1;
    assert_int_equal(ir_quantize(g), 0);
    Node *n = &g->nodes[0];
    int32_t *bias0 = xmalloc((size_t)oc * sizeof *bias0);
    memcpy(bias0, n->q->bias, (size_t)oc * sizeof *bias0);
    assert_int_equal(ir_bias_correct(g, samples, NS), 0);

    const Tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    int64_t oh = y->dims[2], ow = y->dims[3], icg = c / group, ocg = oc / group, per = icg * 9;
    double *eacc = xcalloc((size_t)oc, sizeof *eacc), *ey = xcalloc((size_t)oc, sizeof *ey);
    uint8_t *codes = xmalloc((size_t)in_count);
    float **vals = ir_interp_alloc(g);
    assert_int_equal(x->q.type, QT_U8);
    for (int s = 0; s < NS; s++) {
        const float *xs = samples + s * in_count;
        ir_quantize_input(x, xs, codes);
        memcpy(vals[g->inputs[0]], xs, (size_t)in_count * sizeof(float));
        assert_int_equal(ir_interp_run(g, vals), 0);
        for (int64_t o = 0; o < oc; o++)
            for (int64_t py = 0; py < oh; py++)
                for (int64_t px = 0; px < ow; px++) {
                    int64_t acc = 0;
                    for (int64_t i = 0; i < icg; i++)
                        for (int64_t ky = 0; ky < 3; ky++)
                            for (int64_t kx = 0; kx < 3; kx++) {
                                int64_t iy = py * 2 + ky - 1, ix = px * 2 + kx - 1;
                                if (iy < 0 || iy >= 7 || ix < 0 || ix >= 7)
                                    continue;
                                int64_t ci = o / ocg * icg + i;
                                acc += (int64_t)n->q->wq[o * per + (i * 3 + ky) * 3 + kx] *
                                       (codes[(ci * 7 + iy) * 7 + ix] - x->q.zero);
                            }
                    eacc[o] += (double)acc;
                    ey[o] += vals[n->out[0]][(o * oh + py) * ow + px];
                }
    }
    int changed = 0;
    for (int64_t o = 0; o < oc; o++) {
        double unit = x->q.scale * (double)n->q->wscale[o], npos = (double)NS * oh * ow;
        double got = unit * (eacc[o] / npos + n->q->bias[o]), want = ey[o] / npos;
        assert_true(fabs(got - want) <= unit * (0.5 + 1e-6) + 1e-5 * fabs(want));
        changed += n->q->bias[o] != bias0[o];
    }
    if (f != WF_INT8) /* int8's error is below half a unit in most channels */
        assert_true(changed > 0);
    assert_true(n->prec.acc_bits == 16 || n->prec.acc_bits == 32);
    ir_interp_free(g, vals);
    free(codes), free(eacc), free(ey), free(bias0), free(samples);
    ir_graph_free(g);
}

static void test_bias_correction_conv(void **state)
{
    (void)state;
    check_conv_correction(3, 4, 1, WF_INT3);
    check_conv_correction(4, 4, 4, WF_TERNARY); /* depthwise */
    check_conv_correction(4, 6, 2, WF_POT);
    check_conv_correction(2, 3, 1, WF_INT8); /* on: int8 is corrected too */
}

/* Off, or auto with int8 weights: ir_bias_correct changes nothing. */
static void test_bias_correction_off(void **state)
{
    (void)state;
    enum { NS = 4 };
    for (int mode = 0; mode < 2; mode++) {
        Graph *g = conv_graph(2, 3, 1);
        int64_t in_count = ir_numel(&g->tensors[g->inputs[0]]);
        float *samples = xmalloc((size_t)(NS * in_count) * sizeof *samples);
        for (int64_t i = 0; i < NS * in_count; i++)
            samples[i] = (float)urand();
        assert_int_equal(ir_calibrate(g, samples, NS), 0);
        g->bias_correction = mode == 0 ? 0 : FMT_BC_AUTO;
        if (mode == 0)
            fmt_apply(g, WF_INT4);
        assert_int_equal(fmt_bias_correction_on(g, &g->nodes[0]), 0);
        assert_int_equal(ir_quantize(g), 0);
        int32_t bias0[3];
        memcpy(bias0, g->nodes[0].q->bias, sizeof bias0);
        assert_int_equal(ir_bias_correct(g, samples, NS), 0);
        assert_memory_equal(bias0, g->nodes[0].q->bias, sizeof bias0);
        free(samples);
        ir_graph_free(g);
    }
}

/* The float model's squared output error, over the samples, when n's
 * weights are its codes times their scales (the bias is the same in both). */
static double code_output_error(Graph *g, const float *samples, int ns)
{
    Node *n = &g->nodes[0];
    Tensor *w = &g->tensors[n->in[1]];
    int64_t count = ir_numel(w), per = count / n->q->nchan, in_count = ir_numel(&g->tensors[g->inputs[0]]);
    int64_t out_count = ir_numel(&g->tensors[n->out[0]]);
    float *orig = w->data, *deq = xmalloc((size_t)count * sizeof *deq);
    float *yf = xmalloc((size_t)out_count * sizeof *yf);
    for (int64_t i = 0; i < count; i++)
        deq[i] = (float)((double)n->q->wscale[i / per] * n->q->wq[i]);
    double err = 0;
    float **vals = ir_interp_alloc(g);
    for (int s = 0; s < ns; s++) {
        memcpy(vals[g->inputs[0]], samples + s * in_count, (size_t)in_count * sizeof(float));
        vals[n->in[1]] = orig; /* the interpreter reads constants through vals */
        assert_int_equal(ir_interp_run(g, vals), 0);
        memcpy(yf, vals[n->out[0]], (size_t)out_count * sizeof *yf);
        vals[n->in[1]] = deq;
        assert_int_equal(ir_interp_run(g, vals), 0);
        for (int64_t i = 0; i < out_count; i++)
            err += ((double)vals[n->out[0]][i] - yf[i]) * ((double)vals[n->out[0]][i] - yf[i]);
    }
    vals[n->in[1]] = orig;
    ir_interp_free(g, vals);
    free(deq), free(yf);
    return err;
}

/* GPTQ rounding (gptq.c): on inputs with a shared component (correlated
 * taps) the layer's output error is below nearest rounding's, with the
 * same scales and every code in the codebook; the same inputs give the
 * same codes; int8 and ternary keep nearest rounding. */
static void check_gptq(int c, int oc, int group, WeightFormat f)
{
    enum { NS = 16 };
    int32_t *codes[3] = {NULL, NULL, NULL};
    double err[3];
    float *scales = NULL;
    for (int run = 0; run < 3; run++) {
        rng = 777u; /* the same weights and samples in every run */
        Graph *g = conv_graph(c, oc, group);
        int64_t in_count = ir_numel(&g->tensors[g->inputs[0]]);
        float *samples = xmalloc((size_t)(NS * in_count) * sizeof *samples);
        for (int s = 0; s < NS; s++) {
            double common = grand();
            for (int64_t i = 0; i < in_count; i++)
                samples[s * in_count + i] = (float)(common + 0.3 * grand());
        }
        assert_int_equal(ir_calibrate(g, samples, NS), 0);
        fmt_apply(g, f);
        g->rounding = run == 0 ? ROUND_NEAREST : ROUND_GPTQ;
        assert_int_equal(ir_quantize(g), 0);
        assert_int_equal(fmt_gptq_on(g, &g->nodes[0]), run > 0 && f != WF_INT8 && f != WF_TERNARY);
        assert_int_equal(ir_gptq(g, samples, NS), 0);
        Node *n = &g->nodes[0];
        int64_t count = ir_numel(&g->tensors[n->in[1]]);
        codes[run] = xmalloc((size_t)count * sizeof **codes);
        memcpy(codes[run], n->q->wq, (size_t)count * sizeof **codes);
        if (run == 0) {
            scales = xmalloc((size_t)oc * sizeof *scales);
            memcpy(scales, n->q->wscale, (size_t)oc * sizeof *scales);
        } else {
            assert_memory_equal(scales, n->q->wscale, (size_t)oc * sizeof *scales);
        }
        FmtQuant fq;
        fmt_init(&fq, f);
        for (int64_t i = 0; i < count; i++)
            assert_int_equal(fmt_nearest(&fq, n->q->wq[i]), n->q->wq[i]);
        err[run] = code_output_error(g, samples, NS);
        if (run == 2) {
            assert_memory_equal(codes[1], codes[2], (size_t)count * sizeof **codes);
            if (fmt_gptq_on(g, n))
                assert_true(err[1] < 0.9 * err[0]);
            else
                assert_memory_equal(codes[0], codes[1], (size_t)count * sizeof **codes);
        }
        free(samples);
        ir_graph_free(g);
    }
    for (int run = 0; run < 3; run++)
        free(codes[run]);
    free(scales);
}

static void test_gptq(void **state)
{
    (void)state;
    check_gptq(4, 6, 1, WF_INT3);
    check_gptq(4, 6, 2, WF_INT2);
    check_gptq(4, 4, 4, WF_INT4); /* depthwise */
    check_gptq(3, 5, 1, WF_POT);
    check_gptq(3, 5, 1, WF_NHOT2);
    check_gptq(3, 5, 1, WF_INT8);
    check_gptq(3, 5, 1, WF_TERNARY);
}

/* x[1, k] -> Dense(4) -> y with inputs in [-1, 1] */
static Graph *dense_graph(int64_t k, WeightFormat f)
{
    Graph *g = ir_graph_new("dense");
    int64_t xd[2] = {1, k}, wd[2] = {4, k};
    int x = add_tensor(g, "x", TK_INPUT, 2, xd);
    g->inputs[g->ninputs++] = x;
    int w = add_const(g, "w", 2, wd, 0.5, 0);
    int d = ir_add_node(g, OP_DENSE, "fc", 0);
    Node *n = &g->nodes[d];
    n->in[0] = x, n->in[1] = w, n->nin = 2;
    n->out[0] = ir_add_tensor(g, "y", TK_ACT), n->nout = 1;
    g->outputs[g->noutputs++] = n->out[0];
    assert_int_equal(ir_infer_shapes(g), 0);
    g->tensors[x].cal_min = -1, g->tensors[x].cal_max = 1;
    g->tensors[n->out[0]].cal_min = -4, g->tensors[n->out[0]].cal_max = 4;
    fmt_apply(g, f);
    return g;
}

/* 16-bit accumulators exactly where sum |q| * 128 (int8 inputs) fits. */
static void test_acc_bits(void **state)
{
    (void)state;
    const struct { int64_t k; WeightFormat f; int bits; } cases[] = {
        {8, WF_TERNARY, 16},  /* <= 8 * 1 * 128 */
        {255, WF_TERNARY, 16}, /* <= 255 * 128 = 32640 */
        {600, WF_TERNARY, 32}, /* ~57% of 600 nonzero: > 32767 */
        {2, WF_INT8, 16},      /* 2 * 127 * 128 */
        {64, WF_INT8, 32},
        {16, WF_INT4, 16},     /* 16 * 7 * 128 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Graph *g = dense_graph(cases[i].k, cases[i].f);
        assert_int_equal(ir_quantize(g), 0);
        const QLayer *q = g->nodes[0].q;
        int64_t worst = 0;
        for (int c = 0; c < 4; c++) {
            int64_t b = labs((long)q->bias[c]);
            for (int64_t j = 0; j < cases[i].k; j++)
                b += 128 * (int64_t)abs(q->wq[c * cases[i].k + j]);
            worst = b > worst ? b : worst;
        }
        assert_int_equal(g->nodes[0].prec.acc_bits, worst <= INT16_MAX ? 16 : 32);
        assert_int_equal(g->nodes[0].prec.acc_bits, cases[i].bits);
        FmtSummary s;
        fmt_summary(g, &s);
        assert_int_equal(s.layers, 1);
        assert_int_equal(s.acc16, cases[i].bits == 16);
        assert_int_equal(s.weights, 4 * cases[i].k);
        assert_int_equal(s.bits, 4 * cases[i].k * fmt_bits(cases[i].f));
        assert_int_equal(s.terms, sa_count_terms(q->wq, 4 * cases[i].k));
        assert_int_equal(s.format, cases[i].f);
        ir_graph_free(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_naf_matches_backend),
        cmocka_unit_test(test_codebooks),
        cmocka_unit_test(test_nearest),
        cmocka_unit_test(test_search_vs_maxabs),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_ternary_twn),
        cmocka_unit_test(test_zero_channels),
        cmocka_unit_test(test_ttq),
        cmocka_unit_test(test_no_mul),
        cmocka_unit_test(test_gptq),
        cmocka_unit_test(test_bias_correction_conv),
        cmocka_unit_test(test_bias_correction_off),
        cmocka_unit_test(test_acc_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
