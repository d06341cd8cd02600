/* Unit tests of activation ranges (ir/clip.c) and the calibration
 * statistics behind them (ir/calib.c): ACIQ factors, the Laplace b
 * estimate, percentiles, clip_range's rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"
#include "ir.h"
#include "quant.h"
#include "util.h"

/* algorithms.md section 2, bits 2..8 */
static const double laplace_doc[7] = {2.83, 3.89, 5.03, 6.20, 7.41, 8.64, 9.89};
static const double gauss_doc[7] = {1.71, 2.15, 2.55, 2.93, 3.28, 3.61, 3.92};

static void test_aciq_table(void **state)
{
    (void)state;
    for (int b = 2; b <= 8; b++) {
        assert_true(clip_aciq_k(0, b) == laplace_doc[b - 2]);
        assert_true(clip_aciq_k(1, b) == gauss_doc[b - 2]);
        /* the noise model reproduces the published values to 2 decimals */
        double l = clip_aciq_solve(0, b), g = clip_aciq_solve(1, b);
        if (fabs(l - laplace_doc[b - 2]) > 0.011 || fabs(g - gauss_doc[b - 2]) > 0.011)
            fail_msg("bits %d: solved %.4f / %.4f, table %.2f / %.2f", b, l, g, laplace_doc[b - 2],
                     gauss_doc[b - 2]);
    }
    /* beyond the table (one-sided 8-bit codes use 9): the same model,
     * 11.16 in the ACIQ authors' code */
    assert_true(fabs(clip_aciq_k(0, 9) - 11.16) < 0.01);
    assert_true(clip_aciq_k(1, 9) > clip_aciq_k(1, 8));
    /* more bits, less clipping */
    for (int b = 1; b < 16; b++) {
        assert_true(clip_aciq_k(0, b + 1) > clip_aciq_k(0, b));
        assert_true(clip_aciq_k(1, b + 1) > clip_aciq_k(1, b));
    }
    /* the optimum: alpha = 3 * 4^M * e^-alpha for Laplace (b = 1) */
    double a = clip_aciq_solve(0, 4);
    assert_true(fabs(a - 3 * 256 * exp(-a)) < 1e-9);
}

static void test_laplace_b(void **state)
{
    (void)state;
    const float x[5] = {1, 2, 3, 4, 10}; /* mean 4: |dev| 3 2 1 0 6 */
    assert_true(fabs(clip_laplace_b(x, 5) - 2.4) < 1e-12);
    assert_true(clip_laplace_b(x, 0) == 0);
    const float c[3] = {-7, -7, -7};
    assert_true(clip_laplace_b(c, 3) == 0);
    /* Laplace(mu = 1.5, b = 0.25) by its inverse CDF at evenly spaced
     * probabilities: the estimate is b */
    enum { N = 100000 };
    float *s = xmalloc(N * sizeof *s);
    for (int i = 0; i < N; i++) {
        double p = (i + 0.5) / N;
        s[i] = (float)(1.5 + (p < 0.5 ? 0.25 * log(2 * p) : -0.25 * log(2 - 2 * p)));
    }
    double b = clip_laplace_b(s, N);
    if (fabs(b - 0.25) > 0.25e-3)
        fail_msg("Laplace b estimate %.6f, expected 0.25", b);
    free(s);
}

static void test_percentile(void **state)
{
    (void)state;
    int64_t h[100];
    for (int i = 0; i < 100; i++)
        h[i] = 1; /* one value per bin over [0, 100] */
    assert_true(fabs(clip_percentile(h, 100, 100.0, 50) - 50) < 1e-12);
    assert_true(fabs(clip_percentile(h, 100, 100.0, 99) - 99) < 1e-12);
    assert_true(fabs(clip_percentile(h, 100, 100.0, 99.5) - 100) < 1e-12);
    assert_true(fabs(clip_percentile(h, 100, 100.0, 100) - 100) < 1e-12);
    assert_true(fabs(clip_percentile(h, 100, 100.0, 0.5) - 1) < 1e-12);
    /* 9999 small values and one outlier: the 99.99th stays small */
    memset(h, 0, sizeof h);
    h[3] = 9999;
    h[99] = 1;
    assert_true(fabs(clip_percentile(h, 100, 10.0, 99.99) - 0.4) < 1e-12);
    assert_true(fabs(clip_percentile(h, 100, 10.0, 100) - 10.0) < 1e-12);
    memset(h, 0, sizeof h);
    assert_true(clip_percentile(h, 100, 10.0, 99) == 0);
}

/* A tensor with hand-set statistics. */
static Tensor stat_tensor(float mn, float mx, int nonneg, double mean, double mad, double std)
{
    Tensor t;
    memset(&t, 0, sizeof t);
    t.cal_min = mn;
    t.cal_max = mx;
    t.nonneg = nonneg;
    t.cal.count = 1000;
    t.cal.mean = mean;
    t.cal.mad = mad;
    t.cal.std = std;
    t.cal.pos_mean = mad;
    t.cal.pos_rms = std;
    return t;
}

static void test_clip_range(void **state)
{
    (void)state;
    Tensor t = stat_tensor(-3, 20, 0, 0.5, 1.0, 1.5);
    /* minmax ignores the statistics and the bits */
    assert_true(clip_range(&t, CLIP_MINMAX, 0, 4) == 20);
    assert_true(clip_range(&t, CLIP_MINMAX, 0, 16) == 20);
    /* signed ACIQ: |mean| + k(bits) * b, k from the table */
    assert_true(fabs(clip_range(&t, CLIP_ACIQ, 0, 4) - (0.5 + 5.03)) < 1e-12);
    assert_true(fabs(clip_range(&t, CLIP_ACIQ, 0, 8) - (0.5 + 9.89)) < 1e-12);
    assert_true(fabs(clip_range(&t, CLIP_ACIQ_GAUSS, 0, 4) - (0.5 + 2.55 * 1.5)) < 1e-12);
    /* 16 bits: min/max */
    assert_true(clip_range(&t, CLIP_ACIQ, 0, 16) == 20);
    assert_true(clip_range(&t, CLIP_ACIQ_GAUSS, 0, 16) == 20);
    /* never wider than min/max */
    Tensor narrow = stat_tensor(-1, 2, 0, 0.5, 1.0, 1.5);
    assert_true(clip_range(&narrow, CLIP_ACIQ, 0, 4) == 2);
    /* unsigned: the next row up, b of the positive values, from 0 */
    Tensor u = stat_tensor(0, 50, 1, 3.0, 1.0, 1.5);
    assert_true(fabs(clip_range(&u, CLIP_ACIQ, 0, 4) - 6.20) < 1e-12);
    assert_true(fabs(clip_range(&u, CLIP_ACIQ_GAUSS, 0, 4) - 2.93 * 1.5) < 1e-12);
    assert_true(fabs(clip_range(&u, CLIP_ACIQ, 0, 8) - clip_aciq_k(0, 9)) < 1e-12);
    /* no statistics, or all values equal (b = 0): min/max */
    Tensor none = stat_tensor(-3, 20, 0, 0.5, 1.0, 1.5);
    none.cal.count = 0;
    assert_true(clip_range(&none, CLIP_ACIQ, 0, 4) == 20);
    Tensor flat = stat_tensor(0, 2, 1, 2, 0, 0);
    assert_true(clip_range(&flat, CLIP_ACIQ, 0, 4) == 2);
    /* percentile without a histogram: min/max; with one: the percentile */
    assert_true(clip_range(&t, CLIP_PERCENTILE, 0, 4) == 20);
    int64_t h[IR_CAL_BINS] = {0};
    h[IR_CAL_BINS / 4] = 999999;
    h[IR_CAL_BINS - 1] = 1;
    t.cal.hist = h;
    t.cal.hmax = 20;
    assert_true(fabs(clip_range(&t, CLIP_PERCENTILE, 0, 4) - 20.0 * (IR_CAL_BINS / 4 + 1) / IR_CAL_BINS) <
                1e-9);
    assert_true(clip_range(&t, CLIP_PERCENTILE, 100, 4) == 20);
    /* 2 bits: k = 2.83 */
    assert_true(fabs(clip_range(&t, CLIP_ACIQ, 0, 2) - (0.5 + 2.83)) < 1e-12);
    assert_true(clip_range(&narrow, CLIP_ACIQ, 0, 2) == 2);
}

static void test_method_names(void **state)
{
    (void)state;
    ClipMethod m;
    double pct;
    assert_int_equal(clip_method_parse("minmax", &m, &pct), 0);
    assert_int_equal(m, CLIP_MINMAX);
    assert_int_equal(clip_method_parse("aciq", &m, &pct), 0);
    assert_int_equal(m, CLIP_ACIQ);
    assert_int_equal(clip_method_parse("aciq-gauss", &m, &pct), 0);
    assert_int_equal(m, CLIP_ACIQ_GAUSS);
    assert_int_equal(clip_method_parse("percentile", &m, &pct), 0);
    assert_int_equal(m, CLIP_PERCENTILE);
    assert_true(pct == 0);
    assert_int_equal(clip_method_parse("percentile:99.9", &m, &pct), 0);
    assert_true(pct == 99.9);
    assert_int_equal(clip_method_parse("percentile:0", &m, &pct), -1);
    assert_int_equal(clip_method_parse("percentile:101", &m, &pct), -1);
    assert_int_equal(clip_method_parse("percentile:", &m, &pct), -1);
    assert_int_equal(clip_method_parse("percentile:9x", &m, &pct), -1);
    assert_int_equal(clip_method_parse("mse", &m, &pct), -1);
    for (ClipMethod k = CLIP_MINMAX; k <= CLIP_ACIQ_GAUSS; k++) {
        assert_int_equal(clip_method_parse(clip_method_name(k), &m, &pct), 0);
        assert_int_equal(m, k);
    }
}

/* ir_calibrate's statistics on a graph x -> Relu -> y with known samples. */
static void test_calibrate_stats(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("stats");
    int x = ir_add_tensor(g, "x", TK_INPUT);
    g->tensors[x].rank = 2;
    g->tensors[x].dims[0] = 1;
    g->tensors[x].dims[1] = 4;
    g->inputs[g->ninputs++] = x;
    int r = ir_add_node(g, OP_RELU, "relu", 0);
    int y = ir_add_tensor(g, "y", TK_ACT);
    g->nodes[r].nin = g->nodes[r].nout = 1;
    g->nodes[r].in[0] = x;
    g->nodes[r].out[0] = y;
    g->tensors[y].producer = r;
    g->outputs[g->noutputs++] = y;
    assert_int_equal(ir_infer_shapes(g), 0);
    /* 2 samples: x = {-4, -2, 0, 2}, {4, 6, -8, 2}; mean 0 */
    const float s[8] = {-4, -2, 0, 2, 4, 6, -8, 2};
    assert_int_equal(ir_calibrate(g, s, 2), 0);
    const Tensor *tx = &g->tensors[x], *ty = &g->tensors[y];
    assert_true(tx->cal_min == -8 && tx->cal_max == 6);
    assert_int_equal(tx->cal.count, 8);
    assert_true(fabs(tx->cal.mean) < 1e-12);
    assert_true(fabs(tx->cal.mad - 28.0 / 8) < 1e-12);
    assert_true(fabs(tx->cal.std - sqrt(144.0 / 8)) < 1e-12);
    assert_true(fabs(tx->cal.pos_mean - 14.0 / 4) < 1e-12);
    assert_true(fabs(tx->cal.hmax - 8) < 1e-12);
    /* y = relu(x) = {0, 0, 0, 2, 4, 6, 0, 2}: nonneg, mean 1.75 */
    assert_true(ty->nonneg && !tx->nonneg);
    assert_true(ty->cal_min == 0 && ty->cal_max == 6);
    assert_true(fabs(ty->cal.mean - 1.75) < 1e-12);
    assert_true(fabs(ty->cal.pos_mean - 14.0 / 4) < 1e-12);
    assert_true(fabs(ty->cal.pos_rms - sqrt(60.0 / 4)) < 1e-12);
    int64_t total = 0;
    for (int i = 0; i < IR_CAL_BINS; i++)
        total += ty->cal.hist[i];
    assert_int_equal(total, 8);
    assert_int_equal(ty->cal.hist[0], 4);                 /* the zeros */
    assert_int_equal(ty->cal.hist[IR_CAL_BINS - 1], 1);   /* the max */
    assert_int_equal(ty->cal.hist[IR_CAL_BINS / 3], 2);   /* the 2s */
    /* calibrating again replaces the statistics */
    const float s2[4] = {1, 1, 1, 1};
    assert_int_equal(ir_calibrate(g, s2, 1), 0);
    assert_int_equal(ty->cal.count, 4);
    assert_true(ty->cal.mad == 0 && ty->cal.mean == 1);
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aciq_table),   cmocka_unit_test(test_laplace_b),
        cmocka_unit_test(test_percentile),   cmocka_unit_test(test_clip_range),
        cmocka_unit_test(test_method_names), cmocka_unit_test(test_calibrate_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
