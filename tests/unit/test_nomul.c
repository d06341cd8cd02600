/* Unit tests of the multiplierless mode: the runtime's shift-add
 * requantization (shiftc_shl_sat_nomul, shiftc_mul_nomul,
 * shiftc_requant_nomul) against exact 128-bit references, the quantizer's
 * two-term approximations and their error bounds, and a small graph
 * quantized and simulated in no-mul mode. */
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

static const int32_t edge[] = {
    INT32_MIN, INT32_MIN + 1, INT32_MIN / 2, -1073741825, -1073741824, -65537, -65536, -1025,
    -1024, -1023, -257, -256, -255, -129, -128, -127, -5, -3, -2, -1, 0, 1, 2, 3, 5, 127, 128,
    255, 256, 1023, 1024, 1025, 65535, 65536, 1073741823, 1073741824, INT32_MAX / 2,
    INT32_MAX - 1, INT32_MAX,
};
#define NEDGE ((int)(sizeof edge / sizeof edge[0]))

static uint32_t rng_state = 777u;
static int32_t rnd32(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    uint32_t hi = rng_state >> 16;
    rng_state = rng_state * 1664525u + 1013904223u;
    uint32_t u = (hi << 16) | (rng_state >> 16);
    return u <= INT32_MAX ? (int32_t)u : -(int32_t)~u - 1;
}

/* A value of every magnitude: a random int32 shifted right by 0..31. */
static int32_t rnd_any(void)
{
    int32_t x = rnd32();
    int s = (int)((uint32_t)rnd32() % 32u);
    return x >= 0 ? x >> s : -((-(x + 1)) >> s) - 1;
}

/* ---- references ---- */

typedef __int128 i128;

/* round(x * (2^-e1 + s2 * 2^-e2)) half away from zero, exactly; *big is
 * set when |x * 2^(1-e1)| leaves int32 for e1 < 1, where the runtime
 * saturates first (and only promises sign and magnitude >= 2^29). */
static int64_t ref_mul(int32_t x, int e1, int s2, int e2, int *big)
{
    *big = 0;
    if (e1 < 1) {
        i128 v = (i128)x * ((i128)1 << (1 - e1));
        *big = v > INT32_MAX || v < INT32_MIN;
    }
    /* x * M' * 2^64, exact: exponents >= -29 keep it within 2^31 * 2^94 */
    i128 num = (i128)x * ((i128)1 << (64 - e1)) + (s2 ? (i128)s2 * x * ((i128)1 << (64 - e2)) : 0);
    i128 mag = num < 0 ? -num : num;
    i128 q = (mag + ((i128)1 << 63)) >> 64;
    return (int64_t)(num < 0 ? -q : q);
}

static void check_mul(int32_t x, int e1, int s2, int e2)
{
    int big;
    int64_t want = ref_mul(x, e1, s2, e2, &big);
    int32_t got = shiftc_mul_nomul(x, e1, s2, e2);
    if (big) {
        if (!((x > 0 && got >= (1 << 29)) || (x < 0 && got <= -(1 << 29))))
            fail_msg("mul_nomul(%d, %d, %d, %d) = %d: saturated result must keep the sign, "
                     "magnitude >= 2^29", x, e1, s2, e2, got);
    } else if (got != want) {
        fail_msg("mul_nomul(%d, %d, %d, %d) = %d, exact rounding gives %lld", x, e1, s2, e2, got,
                 (long long)want);
    }
    /* requantization: clamp(round(x M') + zero) whether or not saturated */
    int32_t lo = -128, hi = 127, zero = (x & 1) ? 3 : 0;
    int64_t v = want + zero;
    int32_t rq = (int32_t)(v < lo ? lo : v > hi ? hi : v);
    assert_int_equal(shiftc_requant_nomul(x, e1, s2, e2, zero, lo, hi), rq);
    int64_t vu = want;
    int32_t rqu = (int32_t)(vu < 0 ? 0 : vu > 255 ? 255 : vu);
    assert_int_equal(shiftc_requant_nomul(x, e1, s2, e2, 0, 0, 255), rqu);
}

/* ---- runtime ---- */

static void test_shl_sat_nomul(void **state)
{
    (void)state;
    for (int s = 0; s <= 31; s++) {
        for (int i = 0; i < NEDGE; i++) {
            int64_t v = (int64_t)edge[i] * ((int64_t)1 << s);
            int32_t want = v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
            assert_int_equal(shiftc_shl_sat_nomul(edge[i], s), want);
            assert_int_equal(shiftc_shl_sat_nomul(edge[i], s), shiftc_shl_sat(edge[i], s));
        }
        for (int i = 0; i < 2000; i++) {
            int32_t x = rnd_any();
            assert_int_equal(shiftc_shl_sat_nomul(x, s), shiftc_shl_sat(x, s));
        }
    }
}

/* Every valid (e1, s2, e2) against the exact product, on edges, random
 * values of every magnitude, and exact ties. */
static void test_mul_nomul_exact(void **state)
{
    (void)state;
    long checked = 0;
    for (int e1 = -29; e1 <= 31; e1++)
        for (int s2 = -1; s2 <= 1; s2++)
            for (int gap = s2 ? 1 : 0; gap <= (s2 ? QUANT_NM_MAX_GAP : 0); gap++) {
                int32_t nm[3] = {e1, s2, s2 ? e1 + gap : 0};
                if (!quant_nm_valid(nm))
                    continue;
                for (int i = 0; i < NEDGE; i++)
                    check_mul(edge[i], nm[0], nm[1], nm[2]);
                for (int i = 0; i < 300; i++)
                    check_mul(rnd_any(), nm[0], nm[1], nm[2]);
                /* ties: x * M' = k + 1/2 when x = (2k + 1) * 2^(e2 - 1) / odd part */
                int low = s2 ? nm[2] : e1;
                if (low >= 1 && low <= 30)
                    for (int k = -3; k <= 3; k++) {
                        int64_t x = (2 * (int64_t)k + 1) * ((int64_t)1 << (low - 1));
                        if (x >= INT32_MIN && x <= INT32_MAX)
                            check_mul((int32_t)x, nm[0], nm[1], nm[2]);
                    }
                checked++;
            }
    /* 61 single terms minus none, and the two-term ones in range */
    assert_true(checked > 1000);
}

/* The straightforward definition, for the multipliers the quantizer makes:
 * clamp(round_half_away(acc * M') + zero) computed in double. */
static void test_requant_nomul_reference(void **state)
{
    (void)state;
    for (int i = 0; i < 20000; i++) {
        double m = ldexp(1.0 + (double)((uint32_t)rnd32() % 100000u) / 100000.0,
                         -(int)((uint32_t)rnd32() % 20u));
        int32_t nm[3];
        quant_nm_nearest(m, nm);
        double mv = quant_nm_value(nm);
        int32_t acc = rnd32() >> ((uint32_t)rnd32() % 16u);
        double p = (double)acc * mv; /* exact: 31 + 17 significant bits */
        double r = p >= 0 ? floor(p + 0.5) : -floor(-p + 0.5);
        double v = r + 5;
        int32_t want = v < -128 ? -128 : v > 127 ? 127 : (int32_t)v;
        assert_int_equal(shiftc_requant_nomul(acc, nm[0], nm[1], nm[2], 5, -128, 127), want);
    }
}

/* ---- quantizer ---- */

static void test_nm_value_and_valid(void **state)
{
    (void)state;
    int32_t a[3] = {3, 0, 0}, b[3] = {3, 1, 5}, c[3] = {-2, -1, 1}, d[3] = {0, 0, 0};
    assert_true(quant_nm_value(a) == 0.125);
    assert_true(quant_nm_value(b) == 0.125 + 1.0 / 32);
    assert_true(quant_nm_value(c) == 4.0 - 0.5);
    assert_true(quant_nm_value(d) == 1.0);
    assert_true(quant_nm_valid(a) && quant_nm_valid(b) && quant_nm_valid(c) && quant_nm_valid(d));
    int32_t bad[][3] = {{-30, 0, 0}, {32, 0, 0}, {3, 2, 5}, {3, 1, 3}, {3, 1, 3 + QUANT_NM_MAX_GAP + 1},
                        {20, 1, 31}, {-10, 1, 21}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(quant_nm_valid(bad[i]));
}

/* quant_nm_nearest: |m - M'| <= m/11 over [2^-26, 2^29), attained at
 * m = 1.375 * 2^k; quant_nm_floor: m/1.2 <= M' <= m. */
static void test_two_term_error_bound(void **state)
{
    (void)state;
    double worst = 0, worst_at = 0, worst_floor = 1;
    for (int k = -26; k <= 28; k++)
        for (int i = 0; i < 4096; i++) {
            double m = ldexp(1.0 + i / 4096.0, k);
            int32_t nm[3], fl[3];
            quant_nm_nearest(m, nm);
            assert_true(quant_nm_valid(nm));
            double err = fabs(quant_nm_value(nm) - m) / m;
            if (err > worst)
                worst = err, worst_at = ldexp(m, -k);
            quant_nm_floor(m, fl);
            assert_true(quant_nm_valid(fl));
            double fv = quant_nm_value(fl);
            assert_true(fv <= m);
            worst_floor = fmin(worst_floor, fv / m);
        }
    printf("two-term nearest: worst relative error %.6f at m = %.6f * 2^k (bound 1/11 = %.6f); "
           "floor: M'/m >= %.6f\n", worst, worst_at, 1.0 / 11, worst_floor);
    assert_true(worst <= 1.0 / 11 + 1e-12);
    assert_true(worst >= 1.0 / 11 - 1e-12); /* the bound is tight ... */
    assert_true(fabs(worst_at - 1.375) < 1e-9); /* ... at 1.375 */
    assert_true(worst_floor >= 1 / 1.2 - 1e-12);
    /* powers of two and two-term values are exact (gaps up to 16 from
     * 2^-14 up: e2 <= 30) */
    for (int k = -14; k <= 28; k++) {
        double exact[] = {1.0, 1.5, 1.25, 1.75, 1.0 + 1.0 / 65536, 2.0 - 1.0 / 32768};
        for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
            int32_t nm[3];
            double m = ldexp(exact[i], k);
            quant_nm_nearest(m, nm);
            assert_true(quant_nm_value(nm) == m);
            quant_nm_floor(m, nm);
            assert_true(quant_nm_value(nm) == m);
        }
    }
    /* out of range: clamped to the ends, never invalid */
    int32_t nm[3];
    quant_nm_nearest(0, nm);
    assert_true(quant_nm_value(nm) == ldexp(1, -31));
    quant_nm_nearest(NAN, nm);
    assert_true(quant_nm_valid(nm));
    quant_nm_nearest(INFINITY, nm);
    assert_true(quant_nm_value(nm) == ldexp(1, 29));
}

/* quant_nm_pair: never worse than 1/11, and far better on typical ratios */
static void test_pair(void **state)
{
    (void)state;
    double worst = 0, sum = 0;
    int n = 0;
    for (int i = 1; i <= 4000; i++) {
        double r = ldexp(1.0 + i / 4000.0, (i % 7) - 3); /* ratios 1/8 .. 16 */
        int32_t ma[3], mb[3];
        quant_nm_pair(r, ma, mb);
        assert_true(quant_nm_valid(ma) && quant_nm_valid(mb));
        double va = quant_nm_value(ma), vb = quant_nm_value(mb);
        /* the larger scale's multiplier is in [1/4, 1/2], the other <= it */
        double big = r > 1 ? vb : va, small = r > 1 ? va : vb;
        assert_true(big >= 0.25 && big <= 0.5);
        assert_true(small <= big * 1.0001);
        double err = fabs(vb / va - r) / r;
        worst = fmax(worst, err);
        sum += err, n++;
    }
    printf("two-term pairs: worst ratio error %.5f, mean %.6f\n", worst, sum / n);
    assert_true(worst <= 1.0 / 11);
    assert_true(sum / n < 3e-3);
    int32_t ma[3], mb[3];
    quant_nm_pair(1.0, ma, mb); /* equal scales: equal multipliers */
    assert_true(quant_nm_value(ma) == quant_nm_value(mb));
}

/* The weight scale makes the multiplier exact; codes stay in range; the
 * least-squares choice is no worse than the scale that clips nothing. */
static void test_weight_channel(void **state)
{
    (void)state;
    for (int trial = 0; trial < 50; trial++) {
        float w[200];
        for (int i = 0; i < 200; i++)
            w[i] = (float)rnd32() / 2147483648.0f * (0.1f + (float)trial / 10);
        double sx = 0.02 + trial * 0.001, sy = 0.05 + trial * 0.003;
        int32_t codes[200], nm[3];
        double sw;
        quant_nm_weight_channel(w, 200, sx, sy, codes, &sw, nm);
        assert_true(quant_nm_valid(nm));
        double m = quant_nm_value(nm);
        assert_true(fabs(sx * sw / sy - m) <= m * 1e-15);
        double err = 0, maxabs = 0;
        for (int i = 0; i < 200; i++) {
            assert_true(codes[i] >= -127 && codes[i] <= 127);
            double d = w[i] - sw * codes[i];
            err += d * d;
            maxabs = fmax(maxabs, fabs(w[i]));
        }
        /* the smallest two-term multiplier >= the no-clip one */
        double m0 = sx * (maxabs / 127) / sy, up = INFINITY;
        int32_t cand[QUANT_NM_MAX_CAND][3];
        int nc = quant_nm_candidates(m0, cand);
        for (int i = 0; i < nc; i++) {
            double v = quant_nm_value(cand[i]);
            if (v >= m0 && v < up)
                up = v;
        }
        assert_true(up <= m0 * 1.2 * (1 + 1e-12));
        double s_up = up * sy / sx, err_up = 0;
        for (int i = 0; i < 200; i++) {
            double d = w[i] - s_up * quant_round_clamp(w[i] / s_up, -127, 127);
            err_up += d * d;
        }
        assert_true(err <= err_up);
    }
    /* an all-zero channel */
    float z[4] = {0, 0, 0, 0};
    int32_t codes[4] = {9, 9, 9, 9}, nm[3];
    double sw;
    quant_nm_weight_channel(z, 4, 0.5, 0.25, codes, &sw, nm);
    assert_true(codes[0] == 0 && codes[3] == 0 && quant_nm_value(nm) == 2.0 && sw == 1.0);
}

/* ---- a graph in no-mul mode ---- */

static uint32_t frng = 4242u;
static float frand(void)
{
    frng = frng * 1664525u + 1013904223u;
    return (float)(frng >> 8) / 8388608.0f - 1.0f;
}

static int add_tensor(Graph *g, const char *name, TensorKind kind, int rank, const int64_t *dims)
{
    int t = ir_add_tensor(g, name, kind);
    g->tensors[t].rank = rank;
    for (int i = 0; i < rank; i++)
        g->tensors[t].dims[i] = dims[i];
    return t;
}

static int add_const(Graph *g, const char *name, int rank, const int64_t *dims, float mul)
{
    int t = add_tensor(g, name, TK_CONST, rank, dims);
    int64_t n = ir_numel(&g->tensors[t]);
    g->tensors[t].data = xmalloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        g->tensors[t].data[i] = mul * frand();
    return t;
}

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
    return out;
}

/* x -> dense1 (relu) -> dense2; y = concat(add(dense2, x2), dense1): a
 * Dense, a residual Add of two scales and a Concat of two scales. */
static Graph *small_graph(void)
{
    Graph *g = ir_graph_new("nm");
    int64_t xd[2] = {1, 16}, w1d[2] = {16, 16}, b1d[1] = {16};
    int x = add_tensor(g, "x", TK_INPUT, 2, xd);
    g->inputs[g->ninputs++] = x;
    int in1[3] = {x, add_const(g, "w1", 2, w1d, 0.4f), add_const(g, "b1", 1, b1d, 0.1f)};
    int d1 = add_node(g, OP_DENSE, "d1", 3, in1);
    g->nodes[g->nnodes - 1].a.fused_act = ACT_RELU;
    int in2[3] = {d1, add_const(g, "w2", 2, w1d, 0.7f), add_const(g, "b2", 1, b1d, 0.2f)};
    int d2 = add_node(g, OP_DENSE, "d2", 3, in2);
    int in3[2] = {d2, x};
    int s = add_node(g, OP_ADD, "add", 2, in3);
    int in4[2] = {s, d1};
    int y = add_node(g, OP_CONCAT, "cat", 2, in4);
    g->nodes[g->nnodes - 1].a.axis = 1;
    g->outputs[g->noutputs++] = y;
    assert_int_equal(ir_infer_shapes(g), 0);
    return g;
}

/* Max error of the simulator's dequantized output vs the float one, in
 * output scales, over n samples (the calibration set). */
static double run_graph(Graph *g, int no_mul, int n)
{
    g->no_mul = no_mul;
    int64_t nx = 16;
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
    const Tensor *xin = &g->tensors[g->inputs[0]], *y = &g->tensors[g->outputs[0]];
    int64_t ny = ir_numel(y);
    uint8_t xq[16], yq[64];
    float yf[64];
    double worst = 0;
    for (int t = 0; t < n; t++) {
        memcpy(vals[g->inputs[0]], cal + t * nx, (size_t)nx * sizeof(float));
        assert_int_equal(ir_interp_run(g, vals), 0);
        ir_quantize_input(xin, vals[g->inputs[0]], xq);
        const void *ins[1] = {xq};
        void *outs[1] = {yq};
        assert_int_equal(ir_qsim_run(s, ins, outs), 0);
        ir_dequantize_output(y, yq, yf);
        for (int64_t i = 0; i < ny; i++)
            worst = fmax(worst, fabs((double)yf[i] - vals[g->outputs[0]][i]) / y->q.scale);
    }
    free(cal);
    ir_interp_free(g, vals);
    ir_qsim_free(s);
    return worst;
}

static void test_graph_no_mul(void **state)
{
    (void)state;
    Graph *g = small_graph();
    double base = run_graph(g, 0, 40);
    frng = 4242u;
    Graph *h = small_graph();
    double nm = run_graph(h, 1, 40);
    printf("small graph: worst error %.2f output scales (gemmlowp), %.2f (no-mul)\n", base, nm);
    assert_true(base <= 3.0);
    assert_true(nm <= 3.0);
    /* the quantizer's promises */
    for (int i = 0; i < h->nnodes; i++) {
        const Node *n = &h->nodes[i];
        const QLayer *q = n->q;
        if (n->op == OP_DENSE) {
            assert_non_null(q->nm);
            double sx = h->tensors[n->in[0]].q.scale, sy = h->tensors[n->out[0]].q.scale;
            for (int c = 0; c < q->nchan; c++) {
                assert_true(quant_nm_valid(q->nm + 3 * c));
                double m = quant_nm_value(q->nm + 3 * c);
                /* exact up to the float rounding of the stored scales */
                assert_true(fabs(sx * q->wscale[c] / sy - m) <= m * 1e-6);
                assert_true(fabs(quant_multiplier_value(q->mult[c], q->shift[c]) - m) <= m * 1e-9);
            }
        } else if (n->op == OP_ADD) {
            assert_true(quant_nm_valid(q->in_nm[0]) && quant_nm_valid(q->in_nm[1]));
            assert_true(quant_nm_valid(q->out_nm));
            /* the output scale was raised to fit the two-term multiplier */
            const Tensor *y = &h->tensors[n->out[0]], *gy = &g->tensors[g->nodes[i].out[0]];
            assert_true(y->q.scale >= gy->q.scale && y->q.scale <= gy->q.scale * 1.2f);
        } else if (n->op == OP_CONCAT) {
            assert_true(quant_nm_valid(q->in_nm[0]) && quant_nm_valid(q->in_nm[1]));
        }
    }
    ir_graph_free(g);
    ir_graph_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shl_sat_nomul),       cmocka_unit_test(test_mul_nomul_exact),
        cmocka_unit_test(test_requant_nomul_reference), cmocka_unit_test(test_nm_value_and_valid),
        cmocka_unit_test(test_two_term_error_bound), cmocka_unit_test(test_pair),
        cmocka_unit_test(test_weight_channel),       cmocka_unit_test(test_graph_no_mul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
