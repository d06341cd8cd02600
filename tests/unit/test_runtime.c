/* Unit tests of the runtime's scalar arithmetic (runtime/shiftc_rt.h) and of
 * QuantizeMultiplier, against straightforward int64 / double references. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "quant.h"
#include "shiftc_rt.h"

/* Deterministic values covering the edges and a spread in between. */
static const int32_t edge[] = {
    INT32_MIN, INT32_MIN + 1, INT32_MIN / 2, -1073741824, -65537, -65536, -257, -256, -255,
    -129, -128, -127, -3, -2, -1, 0, 1, 2, 3, 127, 128, 255, 256, 65535, 65536,
    1073741824, INT32_MAX / 2, INT32_MAX - 1, INT32_MAX,
};
#define NEDGE ((int)(sizeof edge / sizeof edge[0]))

static uint32_t rng_state = 12345u;
static int32_t rnd32(void)
{
    rng_state = rng_state * 1664525u + 1013904223u; /* LCG, deterministic */
    uint32_t hi = rng_state >> 16;
    rng_state = rng_state * 1664525u + 1013904223u;
    uint32_t u = (hi << 16) | (rng_state >> 16);
    return u <= INT32_MAX ? (int32_t)u : -(int32_t)~u - 1; /* any int32, no UB */
}

/* Reference SRDHM: round(a*b / 2^31) with ties toward +infinity (which is
 * what gemmlowp's nudge-and-truncate does), saturating the one overflow. */
static int32_t ref_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX;
    int64_t ab = (int64_t)a * b;
    int64_t num = ab + ((int64_t)1 << 30); /* floor((ab + 2^30) / 2^31) */
    int64_t d = (int64_t)1 << 31;
    int64_t q = num / d;
    if (num % d != 0 && num < 0)
        q--;
    return (int32_t)q;
}

/* Reference RDPOT: x / 2^e rounded half away from zero. */
static int32_t ref_rdpot(int32_t x, int e)
{
    int64_t m = x < 0 ? -(int64_t)x : x;
    int64_t r = e == 0 ? m : (m + ((int64_t)1 << (e - 1))) >> e;
    return (int32_t)(x < 0 ? -r : r);
}

static void test_srdhm(void **state)
{
    (void)state;
    for (int i = 0; i < NEDGE; i++)
        for (int j = 0; j < NEDGE; j++)
            assert_int_equal(shiftc_srdhm(edge[i], edge[j]), ref_srdhm(edge[i], edge[j]));
    for (int i = 0; i < 200000; i++) {
        int32_t a = rnd32(), b = rnd32();
        assert_int_equal(shiftc_srdhm(a, b), ref_srdhm(a, b));
    }
    /* the saturating case and exact halves */
    assert_int_equal(shiftc_srdhm(INT32_MIN, INT32_MIN), INT32_MAX);
    assert_int_equal(shiftc_srdhm(1 << 30, 1), 1);   /* 0.5 -> 1 */
    assert_int_equal(shiftc_srdhm(-(1 << 30), 1), 0); /* -0.5 -> 0 (gemmlowp) */
}

static void test_rdpot(void **state)
{
    (void)state;
    for (int e = 0; e <= 31; e++) {
        for (int i = 0; i < NEDGE; i++)
            assert_int_equal(shiftc_rdpot(edge[i], e), ref_rdpot(edge[i], e));
        for (int i = 0; i < 20000; i++) {
            int32_t x = rnd32();
            assert_int_equal(shiftc_rdpot(x, e), ref_rdpot(x, e));
        }
    }
    assert_int_equal(shiftc_rdpot(3, 1), 2);   /* 1.5 -> 2 */
    assert_int_equal(shiftc_rdpot(-3, 1), -2); /* -1.5 -> -2 */
    assert_int_equal(shiftc_rdpot(-5, 2), -1); /* -1.25 -> -1 */
    assert_int_equal(shiftc_rdpot(-6, 2), -2); /* -1.5 -> -2 */
}

static void test_asr(void **state)
{
    (void)state;
    for (int s = 0; s <= 31; s++)
        for (int i = 0; i < NEDGE; i++) {
            int64_t x = edge[i], d = (int64_t)1 << s;
            int64_t fl = x >= 0 ? x / d : -((-x + d - 1) / d); /* floor(x / 2^s) */
            assert_int_equal(shiftc_asr(edge[i], s), fl);
        }
    assert_int_equal(shiftc_asr(-1, 5), -1);
    assert_int_equal(shiftc_asr(-7, 1), -4);
    assert_int_equal(shiftc_asr(INT32_MIN, 31), -1);
}

static void test_shl_sat(void **state)
{
    (void)state;
    assert_int_equal(shiftc_shl_sat(3, 4), 48);
    assert_int_equal(shiftc_shl_sat(-3, 4), -48);
    assert_int_equal(shiftc_shl_sat(1 << 20, 20), INT32_MAX);
    assert_int_equal(shiftc_shl_sat(-(1 << 20), 20), INT32_MIN);
    assert_int_equal(shiftc_shl_sat(INT32_MIN, 0), INT32_MIN);
}

static void test_quantize_multiplier(void **state)
{
    (void)state;
    const double ms[] = {1.0, 0.5, 0.75, 1e-3, 3.14159, 1e-9, 123456.789, 0.999999999999,
                         2.3283064365386963e-10, 1.0 / 3.0, 1e3, 4.0e-5, 0.2};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        int32_t mult, shift;
        quant_multiplier(ms[i], &mult, &shift);
        assert_true(mult >= (1 << 30));
        assert_true(shift >= QUANT_SHIFT_MIN && shift <= QUANT_SHIFT_MAX);
        double back = quant_multiplier_value(mult, shift);
        assert_true(fabs(back - ms[i]) <= ms[i] * ldexp(1.0, -31));
    }
    /* many values, spread over the usable exponent range */
    for (int i = 0; i < 100000; i++) {
        double m = ldexp(1.0 + (double)(uint32_t)rnd32() / 4294967296.0, (int)((uint32_t)rnd32() % 50) - 25);
        int32_t mult, shift;
        quant_multiplier(m, &mult, &shift);
        assert_true(fabs(quant_multiplier_value(mult, shift) - m) <= m * ldexp(1.0, -31));
    }
    int32_t mult, shift;
    quant_multiplier(1.0, &mult, &shift); /* exactly 2^30 * 2^(1-31) */
    assert_int_equal(mult, 1 << 30);
    assert_int_equal(shift, 1);
    quant_multiplier(1.0 - ldexp(1.0, -40), &mult, &shift); /* mantissa rounds up to 1 */
    assert_int_equal(mult, 1 << 30);
    assert_int_equal(shift, 1);
    quant_multiplier(0.0, &mult, &shift);
    assert_int_equal(mult, 0);
    quant_multiplier(NAN, &mult, &shift);
    assert_int_equal(mult, 0);
    quant_multiplier(1e-12, &mult, &shift); /* below 2^-32: nothing survives */
    assert_int_equal(mult, 0);
    assert_int_equal(shift, 0);
    quant_multiplier(1e12, &mult, &shift); /* above 2^30: saturates */
    assert_int_equal(mult, INT32_MAX);
    assert_int_equal(shift, QUANT_SHIFT_MAX);
    /* equal scales in Concat: an exact copy */
    for (int32_t x = -128; x <= 255; x++)
        assert_int_equal(shiftc_mul_q(x, 1 << 30, 1), x);
}

static void test_requant(void **state)
{
    (void)state;
    int32_t mult, shift;
    quant_multiplier(0.5, &mult, &shift);
    /* M = 0.5 is (2^30, shift 0): all rounding happens in SRDHM, whose
     * ties go toward +infinity (gemmlowp), so -1.5 -> -1 here */
    assert_int_equal(shift, 0);
    assert_int_equal(shiftc_requant(3, mult, shift, 0, -128, 127), 2);
    assert_int_equal(shiftc_requant(-3, mult, shift, 0, -128, 127), -1);
    assert_int_equal(shiftc_requant(5, mult, shift, 0, -128, 127), 3);
    assert_int_equal(shiftc_requant(-5, mult, shift, 0, -128, 127), -2);
    assert_int_equal(shiftc_requant(1000, mult, shift, 0, -128, 127), 127);
    assert_int_equal(shiftc_requant(-1000, mult, shift, 0, -128, 127), -128);
    assert_int_equal(shiftc_requant(-1000, mult, shift, 0, 0, 255), 0);
    /* with a right shift the tie lands in RDPOT: half away from zero */
    quant_multiplier(0.25, &mult, &shift);
    assert_int_equal(shift, -1);
    assert_int_equal(shiftc_requant(6, mult, shift, 0, -128, 127), 2);   /* 1.5 -> 2 */
    assert_int_equal(shiftc_requant(-6, mult, shift, 0, -128, 127), -2); /* -1.5 -> -2 */
    assert_int_equal(shiftc_requant(-5, mult, shift, 0, -128, 127), -1); /* -1.25 -> -1 */
    /* a left shift: M = 8 */
    quant_multiplier(8.0, &mult, &shift);
    assert_true(shift > 0);
    assert_int_equal(shiftc_requant(7, mult, shift, 0, -128, 127), 56);
    assert_int_equal(shiftc_requant(-16, mult, shift, 0, -128, 127), -128);
    /* extremes do not overflow (UBSan checks) */
    assert_int_equal(shiftc_requant(INT32_MAX, INT32_MAX, 30, 100, -128, 127), 127);
    assert_int_equal(shiftc_requant(INT32_MIN, INT32_MAX, 30, -100, -128, 127), -128);
    /* against the real product over a range, M = 0.0123 */
    quant_multiplier(0.0123, &mult, &shift);
    for (int32_t acc = -200000; acc <= 200000; acc += 7) {
        double want = round((double)acc * 0.0123);
        int32_t got = shiftc_requant(acc, mult, shift, 0, INT32_MIN, INT32_MAX);
        assert_true(fabs((double)got - want) <= 1);
    }
}

static void test_quantize_f32(void **state)
{
    (void)state;
    assert_int_equal(shiftc_quantize_f32(NAN, 0.1f, 0, -128, 127), 0);
    assert_int_equal(shiftc_quantize_f32(INFINITY, 0.1f, 0, -128, 127), 127);
    assert_int_equal(shiftc_quantize_f32(-INFINITY, 0.1f, 0, -128, 127), -128);
    assert_int_equal(shiftc_quantize_f32(-INFINITY, 0.1f, 0, 0, 255), 0);
    assert_int_equal(shiftc_quantize_f32(1e30f, 0.1f, 0, 0, 255), 255);
    assert_int_equal(shiftc_quantize_f32(-1e30f, 0.1f, 0, -128, 127), -128);
    assert_int_equal(shiftc_quantize_f32(0.25f, 0.5f, 0, -128, 127), 1);   /* 0.5 -> 1 */
    assert_int_equal(shiftc_quantize_f32(-0.25f, 0.5f, 0, -128, 127), -1); /* -0.5 -> -1 */
    assert_int_equal(shiftc_quantize_f32(0.75f, 0.5f, 0, -128, 127), 2);   /* 1.5 -> 2 */
    assert_int_equal(shiftc_quantize_f32(-0.75f, 0.5f, 0, -128, 127), -2);
    assert_int_equal(shiftc_quantize_f32(0.2f, 0.5f, 0, -128, 127), 0);
    assert_int_equal(shiftc_quantize_f32(-0.2f, 0.5f, 0, 0, 255), 0);
    /* the largest float below one half must round to 0, not 1 */
    assert_int_equal(shiftc_quantize_f32(nextafterf(0.5f, 0.0f), 1.0f, 0, -128, 127), 0);
    assert_int_equal(shiftc_quantize_f32(-nextafterf(0.5f, 0.0f), 1.0f, 0, -128, 127), 0);
    assert_int_equal(shiftc_quantize_f32(nextafterf(126.5f, 0.0f), 1.0f, 0, -128, 127), 126);
    assert_int_equal(shiftc_quantize_f32(126.5f, 1.0f, 0, -128, 127), 127);
    /* a sweep against round() */
    for (int i = -40000; i <= 40000; i++) {
        float x = (float)i * 0.00731f;
        float v = x / 0.05f;
        double want = fmax(-128, fmin(127, round((double)v)));
        assert_int_equal(shiftc_quantize_f32(x, 0.05f, 0, -128, 127), (int32_t)want);
    }
    assert_true(shiftc_dequantize_f32(-128, 0.5f, 0) == -64.0f);
    assert_true(shiftc_dequantize_f32(255, 0.25f, 0) == 63.75f);
}

static void test_div_round(void **state)
{
    (void)state;
    assert_int_equal(shiftc_div_round(5, 2), 3);
    assert_int_equal(shiftc_div_round(-5, 2), -3);
    assert_int_equal(shiftc_div_round(4, 3), 1);
    assert_int_equal(shiftc_div_round(-4, 3), -1);
    assert_int_equal(shiftc_div_round(5, 3), 2);
    assert_int_equal(shiftc_div_round(-5, 3), -2);
    assert_int_equal(shiftc_div_round(0, 7), 0);
    assert_int_equal(shiftc_div_round(INT32_MAX, 1), INT32_MAX);
    assert_int_equal(shiftc_div_round(INT32_MIN, 1), INT32_MIN);
    assert_int_equal(shiftc_div_round(INT32_MAX, 2), 1073741824);
    assert_int_equal(shiftc_div_round(INT32_MIN, 2), -1073741824);
    for (int32_t b = 1; b <= 50; b++)
        for (int32_t a = -3000; a <= 3000; a++)
            assert_int_equal(shiftc_div_round(a, b), (int32_t)round((double)a / b));
}

static void test_lut_and_pools(void **state)
{
    (void)state;
    /* lut indexing: int8 codes are offset by 128 */
    int32_t lut[256];
    for (int i = 0; i < 256; i++)
        lut[i] = 255 - i;
    int8_t x[3] = {-128, 0, 127};
    uint8_t y[3];
    shiftc_lut_q(x, SHIFTC_I8, y, SHIFTC_U8, 3, lut);
    assert_int_equal(y[0], 255);
    assert_int_equal(y[1], 127);
    assert_int_equal(y[2], 0);
    /* global average pool rounds half away from zero */
    int8_t p[4] = {-1, -2, 3, 4};
    int8_t q[2];
    shiftc_global_avgpool_q(p, q, SHIFTC_I8, 2, 2);
    assert_int_equal(q[0], -2); /* -1.5 */
    assert_int_equal(q[1], 4);  /* 3.5 */
}

/* The 2x2 / 2 max pool's fast path (SSE2 rows of 8 or 4 outputs where
 * the target has them, plain C otherwise) against the windows' maxima,
 * over every 8- and 16-bit type, odd sizes and rows of 2 to 15 outputs. */
static void test_maxpool_2x2(void **state)
{
    (void)state;
    static const int32_t shapes[][3] = {{3, 28, 28}, {2, 14, 14}, {1, 9, 9}, {2, 8, 6}, {1, 5, 17}, {1, 4, 31}, {2, 7, 4}};
    uint32_t seed = 3;
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++)
        for (int t = 0; t < 4; t++) {
            int32_t c = shapes[k][0], h = shapes[k][1], w = shapes[k][2], oh = h / 2, ow = w / 2;
            shiftc_geom g = {.n = 1, .c = c, .h = h, .w = w, .oc = c, .oh = oh, .ow = ow, .kh = 2, .kw = 2,
                             .sh = 2, .sw = 2, .dh = 1, .dw = 1, .group = 1};
            int16_t x[3 * 28 * 28 * 2], y[3 * 14 * 14 * 2];
            for (int32_t i = 0; i < c * h * w; i++) {
                seed = seed * 1664525u + 1013904223u;
                int32_t v = (int32_t)(seed >> 8) % 256 - (t == SHIFTC_U8 || t == SHIFTC_U16 ? 0 : 128);
                shiftc_st(x, i, t, v < 0 && (t == SHIFTC_U8 || t == SHIFTC_U16) ? -v : v);
            }
            shiftc_maxpool_q(x, y, t, &g);
            for (int32_t p = 0; p < c; p++)
                for (int32_t oy = 0; oy < oh; oy++)
                    for (int32_t ox = 0; ox < ow; ox++) {
                        int32_t i = (p * h + 2 * oy) * w + 2 * ox, m = shiftc_ld(x, i, t);
                        m = shiftc_ld(x, i + 1, t) > m ? shiftc_ld(x, i + 1, t) : m;
                        m = shiftc_ld(x, i + w, t) > m ? shiftc_ld(x, i + w, t) : m;
                        m = shiftc_ld(x, i + w + 1, t) > m ? shiftc_ld(x, i + w + 1, t) : m;
                        if (shiftc_ld(y, (p * oh + oy) * ow + ox, t) != m)
                            fail_msg("maxpool %dx%dx%d type %d: output (%d, %d, %d) differs", c, h, w, t, p, oy, ox);
                    }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srdhm),        cmocka_unit_test(test_rdpot),
        cmocka_unit_test(test_asr),          cmocka_unit_test(test_shl_sat),
        cmocka_unit_test(test_quantize_multiplier), cmocka_unit_test(test_requant),
        cmocka_unit_test(test_quantize_f32), cmocka_unit_test(test_div_round),
        cmocka_unit_test(test_lut_and_pools), cmocka_unit_test(test_maxpool_2x2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
