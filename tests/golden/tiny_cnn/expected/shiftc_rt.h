/*
 * shiftc runtime: the integer arithmetic of every program shiftc emits.
 *
 * This one header is included both by the emitted code and by the
 * compiler's integer simulator (ir/qsim.c), so the two compute with the very
 * same definitions and can be compared output for output.  It is plain C99,
 * header-only, allocation-free, and includes nothing but <stdint.h> and
 * <stddef.h>, so it builds on bare-metal targets as it does on a PC.
 *
 * Storage: activations are integer codes, real = scale*(q - zero): int8_t
 * (SHIFTC_I8, symmetric) or uint8_t (SHIFTC_U8, for tensors known to be
 * >= 0) for 8-bit codes and for 4-bit codes, which keep 8-bit storage and
 * only a narrower range (the quantizer's clamps); int16_t (SHIFTC_I16) or
 * uint16_t (SHIFTC_U16) for 16-bit codes.  Buffers of 16-bit codes must be
 * 2-byte aligned (the emitted arena and the planner's offsets are).
 * Accumulators are int32_t; the compiler proves per layer that no partial sum
 * can overflow, so the order of the terms never changes a result.
 *
 * Rounding follows gemmlowp (see docs/ in the project for the formulas):
 * shiftc_srdhm is SaturatingRoundingDoublingHighMul, shiftc_rdpot is
 * RoundingDivideByPOT, and a requantization multiplier M = m * 2^(shift-31).
 */
#ifndef SHIFTC_RT_H
#define SHIFTC_RT_H

#include <stddef.h>
#include <stdint.h>

#define SHIFTC_I8 0
#define SHIFTC_U8 1
#define SHIFTC_I16 2
#define SHIFTC_U16 3

/* ---- scalar arithmetic ---- */

/* x >> s rounding toward minus infinity, defined for negative x too
 * (C leaves >> of a negative value implementation-defined). */
static inline int32_t shiftc_asr(int32_t x, int32_t s)
{
    return x >= 0 ? (int32_t)(x >> s) : (int32_t) ~((~x) >> s);
}

/* x * 2^s for s >= 0, saturated to int32 (<< of a negative value is UB). */
static inline int32_t shiftc_shl_sat(int32_t x, int32_t s)
{
    int64_t v = (int64_t)x * ((int64_t)1 << s);
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* gemmlowp SaturatingRoundingDoublingHighMul: round(a*b / 2^31). */
static inline int32_t shiftc_srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN)
        return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^e, rounding half away from zero. */
static inline int32_t shiftc_rdpot(int32_t x, int32_t e)
{
    int32_t mask = (int32_t)(((uint32_t)1 << e) - 1u);
    int32_t rem = x & mask;
    int32_t thr = (mask >> 1) + (x < 0 ? 1 : 0);
    return shiftc_asr(x, e) + (rem > thr ? 1 : 0);
}

/* x * M where M = mult * 2^(shift - 31), rounded, no clamp. */
static inline int32_t shiftc_mul_q(int32_t x, int32_t mult, int32_t shift)
{
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    return shiftc_rdpot(shiftc_srdhm(shiftc_shl_sat(x, left), mult), right);
}

static inline int32_t shiftc_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Accumulator -> output code: scale, add the output zero point, clamp. */
static inline int32_t shiftc_requant(int32_t acc, int32_t mult, int32_t shift, int32_t zero,
                                     int32_t lo, int32_t hi)
{
    /* in int64: a saturated product plus a zero point must not overflow */
    int64_t v = (int64_t)shiftc_mul_q(acc, mult, shift) + zero;
    return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

/* a / b rounded half away from zero, b > 0. */
static inline int32_t shiftc_div_round(int32_t a, int32_t b)
{
    /* in int64: a + b/2 and -INT32_MIN overflow int32 */
    int64_t h = b / 2;
    return (int32_t)(a >= 0 ? ((int64_t)a + h) / b : -((-(int64_t)a + h) / b));
}

/* ---- multiplierless requantization (no-mul mode) ----
 *
 * For cores without a multiplier (RV32I, RV32E; `shiftc compile --no-mul`)
 * every requantization multiplier is restricted to a power of two or a sum
 * or difference of two:
 *
 *     M' = 2^-e1 + s2 * 2^-e2,    s2 in {-1, 0, +1},  e2 > e1 when s2 != 0
 *
 * and x * M' is computed with shifts, masks and adds on int32 only: no
 * `*`, `/` or int64 anywhere, so a C compiler for RV32I emits no __mulsi3 /
 * __muldi3 call for it.  shiftc_mul_nomul returns x * M' rounded to the
 * nearest integer, ties away from zero -- a single rounding of the exact
 * product, so |result - x*M'| <= 1/2.  (The gemmlowp path rounds twice,
 * in SRDHM and in RDPOT.)  How far M' is from the multiplier M the layer
 * wants is up to the quantizer (ir/quant.c): for Conv and Dense it chooses
 * the weight scale so that M' is M exactly; for Add and Concat M' is the
 * nearest such value, |M - M'| <= M/11 (worst case M = 1.375 * 2^k).
 *
 * The arithmetic.  With e1 >= 1 (see below), split x at bit e1 and at bit
 * e2 with floor shifts: x = h*2^e1 + r1 = k*2^e2 + r2, 0 <= r1 < 2^e1,
 * 0 <= r2 < 2^e2.  Then with g = e2 - e1,
 *     x*M' + 1/2 = (x*2^g + s2*x + 2^(e2-1)) / 2^e2
 *                = h + s2*k - 1 + (r1*2^g + s2*r2 + 2^e2 + 2^(e2-1)) / 2^e2
 * and the last numerator t is an integer in [2^(e2-1), 3.5 * 2^e2), so the
 * result is h + s2*k - 1 + (t >> e2) (ties away from zero: t is one less
 * when x < 0).  Bounds, for e1 >= 1 and e2 <= 30: t < 3.5 * 2^30 fits
 * uint32; |h| <= 2^30, |k| <= 2^29, t >> e2 <= 3, so the int32 sum cannot
 * overflow.  A single term is RDPOT(x, e1).
 *
 * Multipliers >= 1/4 (e1 < 1) first scale x by 2^p, p = 1 - e1, saturating
 * to int32, and continue with e1 = 1, e2 + p: exact unless x*2^p leaves
 * int32, in which case the result has x's sign and magnitude >= 2^29,
 * which every requantization clamps to its lowest or highest code.
 *
 * Ranges (the quantizer keeps to them): -29 <= e1 <= 31; with s2 != 0,
 * e2 + max(0, 1 - e1) <= 30.
 *
 * Only requantization is multiplierless: AveragePool and GlobalAveragePool
 * divide by the window size and Softmax by the sum of exponentials with C's
 * `/`, which stays a library call (__divsi3, __divdi3) on RV32I.
 */

/* x * 2^s for 0 <= s <= 31, saturated to int32, without a multiplication
 * (and without converting an out-of-range unsigned value to int32). */
static inline int32_t shiftc_shl_sat_nomul(int32_t x, int32_t s)
{
    int32_t lim = INT32_MAX >> s; /* 2^(31-s) - 1 */
    if (x > lim)
        return INT32_MAX;
    if (x < -lim - 1)
        return INT32_MIN;
    if (x >= 0)
        return (int32_t)((uint32_t)x << s);
    /* x = -(u + 1), u*2^s <= 2^31 - 2^s: x*2^s = -u*2^s - 1 - (2^s - 1) */
    return -(int32_t)((uint32_t)(-1 - x) << s) - 1 - (int32_t)((1u << s) - 1u);
}

/* x * (2^-e1 + s2 * 2^-e2) rounded half away from zero (see above). */
static inline int32_t shiftc_mul_nomul(int32_t x, int32_t e1, int32_t s2, int32_t e2)
{
    if (e1 < 1) {
        int32_t p = 1 - e1;
        x = shiftc_shl_sat_nomul(x, p);
        e1 = 1;
        e2 += p;
    }
    if (s2 == 0)
        return shiftc_rdpot(x, e1);
    {
        uint32_t ux = (uint32_t)x;
        uint32_t r1 = ux & ((1u << e1) - 1u), r2 = ux & ((1u << e2) - 1u);
        int32_t h = shiftc_asr(x, e1), k = shiftc_asr(x, e2);
        uint32_t t = (r1 << (e2 - e1)) + (1u << e2) + (1u << (e2 - 1)) - (x < 0 ? 1u : 0u);
        if (s2 > 0)
            return h + k - 1 + (int32_t)((t + r2) >> e2);
        return h - k - 1 + (int32_t)((t - r2) >> e2);
    }
}

/* Accumulator -> output code in no-mul mode: shiftc_requant with the
 * multiplier 2^-e1 + s2 * 2^-e2.  |x * M'| < 2^31 - 2^8 (the bounds above),
 * so adding an 8-bit zero point cannot overflow. */
static inline int32_t shiftc_requant_nomul(int32_t acc, int32_t e1, int32_t s2, int32_t e2,
                                           int32_t zero, int32_t lo, int32_t hi)
{
    return shiftc_clamp(shiftc_mul_nomul(acc, e1, s2, e2) + zero, lo, hi);
}

/* Float -> code, rounding half away from zero; NaN becomes the zero point.
 * Used by the emitted float wrappers and by the compiler alike. */
static inline int32_t shiftc_quantize_f32(float x, float scale, int32_t zero, int32_t lo,
                                          int32_t hi)
{
    float v = x / scale;
    if (v != v)
        return zero;
    if (v <= (float)(lo - zero))
        return lo;
    if (v >= (float)(hi - zero))
        return hi;
    /* Not (int32_t)(v + 0.5f): that sum can round up in float (v =
     * 0.49999997f gives 1).  v - trunc(v) is exact, so compare it instead. */
    int32_t i = (int32_t)v;
    float frac = v - (float)i;
    i += frac >= 0.5f ? 1 : frac <= -0.5f ? -1 : 0;
    return shiftc_clamp(i + zero, lo, hi);
}

static inline float shiftc_dequantize_f32(int32_t q, float scale, int32_t zero)
{
    return (float)(q - zero) * scale;
}

/* ---- element access for kernels that serve both storage types ---- */

static inline int32_t shiftc_ld(const void *p, int32_t i, int t)
{
    switch (t) {
    case SHIFTC_U8: return (int32_t)((const uint8_t *)p)[i];
    case SHIFTC_I16: return (int32_t)((const int16_t *)p)[i];
    case SHIFTC_U16: return (int32_t)((const uint16_t *)p)[i];
    default: return (int32_t)((const int8_t *)p)[i];
    }
}

/* v must be in the type's range (every kernel clamps before storing). */
static inline void shiftc_st(void *p, int32_t i, int t, int32_t v)
{
    switch (t) {
    case SHIFTC_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case SHIFTC_I16: ((int16_t *)p)[i] = (int16_t)v; break;
    case SHIFTC_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    default: ((int8_t *)p)[i] = (int8_t)v; break;
    }
}

/* Storage facts of a type: 16-bit or not, and the lowest code. */
static inline int shiftc_is16(int t) { return t == SHIFTC_I16 || t == SHIFTC_U16; }
static inline int32_t shiftc_type_min(int t)
{
    return t == SHIFTC_I16 ? -32768 : t == SHIFTC_I8 ? -128 : 0;
}

/* A 257-entry table sampled every 256 steps of a 16-bit index i in
 * [0, 65535], linearly interpolated: lut[i >> 8] plus the fraction
 * (i & 255) / 256 of the step to the next entry, rounded half away from
 * zero.  Entries are codes (|difference| * 255 < 2^31 for any int16-range
 * values), and the result lies between the two entries, so a table
 * clamped to [lo, hi] interpolates within [lo, hi]. */
static inline int32_t shiftc_lut_interp(const int32_t *lut, int32_t i)
{
    int32_t j = i >> 8, f = i & 255;
    return lut[j] + shiftc_rdpot((lut[j + 1] - lut[j]) * f, 8);
}

/* ---- reference kernels ----
 * The simulator runs weighted layers through shiftc_conv_q/shiftc_dense_q;
 * emitted code computes the same sums with the weights unrolled into
 * shift-add terms and the same shiftc_requant.  The other kernels are
 * called as they are by both. */

/* Geometry of one 2-D convolution or pool over NCHW data (1-D: h = 1). */
typedef struct shiftc_geom {
    int32_t n, c, h, w;      /* input */
    int32_t oc, oh, ow;      /* output (pools: oc = c) */
    int32_t kh, kw, sh, sw, dh, dw;
    int32_t pt, pl, pb, pr;  /* padding: top, left, bottom, right */
    int32_t group;           /* conv only */
    int32_t count_include_pad; /* average pool only */
} shiftc_geom;

/* wq is [oc][c/group][kh][kw]; bias, mult, shift per output channel. */
static inline void shiftc_conv_q(const void *x, int xt, const int32_t *wq, const int32_t *bias,
                                 const int32_t *mult, const int32_t *shift, int32_t zero,
                                 int32_t lo, int32_t hi, void *y, int yt, const shiftc_geom *g)
{
    int32_t icg = g->c / g->group, ocg = g->oc / g->group;
    for (int32_t b = 0; b < g->n; b++)
        for (int32_t o = 0; o < g->oc; o++) {
            int32_t ic0 = (o / ocg) * icg;
            for (int32_t oy = 0; oy < g->oh; oy++)
                for (int32_t ox = 0; ox < g->ow; ox++) {
                    int32_t acc = bias[o];
                    for (int32_t i = 0; i < icg; i++)
                        for (int32_t ky = 0; ky < g->kh; ky++) {
                            int32_t iy = oy * g->sh - g->pt + ky * g->dh;
                            if (iy < 0 || iy >= g->h)
                                continue;
                            for (int32_t kx = 0; kx < g->kw; kx++) {
                                int32_t ix = ox * g->sw - g->pl + kx * g->dw;
                                if (ix < 0 || ix >= g->w)
                                    continue;
                                int32_t xi = ((b * g->c + ic0 + i) * g->h + iy) * g->w + ix;
                                acc += wq[((o * icg + i) * g->kh + ky) * g->kw + kx] * shiftc_ld(x, xi, xt);
                            }
                        }
                    int32_t yi = ((b * g->oc + o) * g->oh + oy) * g->ow + ox;
                    shiftc_st(y, yi, yt, shiftc_requant(acc, mult[o], shift[o], zero, lo, hi));
                }
        }
}

/* y[m][n] = requant(bias[n] + sum_k x[m][k] * wq[n][k]). */
static inline void shiftc_dense_q(const void *x, int xt, const int32_t *wq, const int32_t *bias,
                                  const int32_t *mult, const int32_t *shift, int32_t zero,
                                  int32_t lo, int32_t hi, void *y, int yt, int32_t m, int32_t k,
                                  int32_t n)
{
    for (int32_t r = 0; r < m; r++)
        for (int32_t o = 0; o < n; o++) {
            int32_t acc = bias[o];
            for (int32_t i = 0; i < k; i++)
                acc += wq[o * k + i] * shiftc_ld(x, r * k + i, xt);
            shiftc_st(y, r * n + o, yt, shiftc_requant(acc, mult[o], shift[o], zero, lo, hi));
        }
}

/* The unrolled kernels end each input's line with SHIFTC_KEEPn(a0, ...):
 * an empty asm that takes the accumulators in registers.  Without it gcc
 * hoists the loads of later inputs above the adds of earlier ones and,
 * with eight accumulators live, spills (algorithms.md section 7, lesson
 * 3).  The asm emits no instruction.  On the bundled CNN (int4/int3/int6)
 * it saves 7 % of the instructions on Cortex-M4, 17 % on RV32IMC and 28 %
 * on RV32E; with functions of 8-row blocks of a 784-input Dense layer
 * (the MLP, int8) 32 % of the flash and 7 % of the instructions on
 * AArch64, 63 % of the flash on RV64, 6 % of the instructions on x86-64
 * (the CNN: int8 -10 %, int4 +2 %).  Elsewhere (i386: too few registers
 * for eight "+r" operands) it is nothing. */
#if defined(__GNUC__) && (defined(__arm__) || defined(__aarch64__) || defined(__riscv) || defined(__x86_64__))
#define SHIFTC_KEEP1(a) __asm__ volatile("" : "+r"(a))
#define SHIFTC_KEEP2(a, b) __asm__ volatile("" : "+r"(a), "+r"(b))
#define SHIFTC_KEEP3(a, b, c) __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c))
#define SHIFTC_KEEP4(a, b, c, d) __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d))
#define SHIFTC_KEEP5(a, b, c, d, e) __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e))
#define SHIFTC_KEEP6(a, b, c, d, e, f) __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e), "+r"(f))
#define SHIFTC_KEEP7(a, b, c, d, e, f, g)                                                                       \
    __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e), "+r"(f), "+r"(g))
#define SHIFTC_KEEP8(a, b, c, d, e, f, g, h)                                                                    \
    __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e), "+r"(f), "+r"(g), "+r"(h))
#else
#define SHIFTC_KEEP1(a) ((void)0)
#define SHIFTC_KEEP2(a, b) ((void)0)
#define SHIFTC_KEEP3(a, b, c) ((void)0)
#define SHIFTC_KEEP4(a, b, c, d) ((void)0)
#define SHIFTC_KEEP5(a, b, c, d, e) ((void)0)
#define SHIFTC_KEEP6(a, b, c, d, e, f) ((void)0)
#define SHIFTC_KEEP7(a, b, c, d, e, f, g) ((void)0)
#define SHIFTC_KEEP8(a, b, c, d, e, f, g, h) ((void)0)
#endif

#if defined(__SSE2__) && !defined(SHIFTC_NO_SIMD)
#include <emmintrin.h>
#endif

/* One output row of the 2x2 / 2 max pool of 8-bit codes with SSE2, from
 * input rows xr and xr + w to outputs yo..: 8 outputs a step (16 bytes of
 * each row; the last step starts at ow - 8, recomputing some outputs with
 * the same values), or 4 (8 bytes) when the row is narrower; signed codes
 * are flipped to unsigned (x ^ 0x80 keeps their order) for PMAXUB.
 * Returns the outputs done: all of them, or 0 (16-bit codes, rows under
 * 4 outputs, no SSE2), which the caller's plain loop then computes. */
static inline int32_t shiftc_maxpool2_row(const void *x, void *y, int t, int32_t xr, int32_t w, int32_t yo,
                                          int32_t ow)
{
#if defined(__SSE2__) && !defined(SHIFTC_NO_SIMD)
    if (shiftc_is16(t) || ow < 4)
        return 0;
    const uint8_t *r0 = (const uint8_t *)x + xr, *r1 = r0 + w;
    uint8_t *out = (uint8_t *)y + yo;
    __m128i flip = _mm_set1_epi8((char)(t == SHIFTC_I8 ? 0x80 : 0)), low = _mm_set1_epi16(0xff);
    int32_t step = ow >= 8 ? 8 : 4;
    for (int32_t ox0 = 0;; ox0 += step) {
        int32_t ox = ox0 + step <= ow ? ox0 : ow - step;
        __m128i a, b;
        if (step == 8) {
            a = _mm_loadu_si128((const __m128i *)(const void *)(r0 + 2 * ox));
            b = _mm_loadu_si128((const __m128i *)(const void *)(r1 + 2 * ox));
        } else {
            a = _mm_loadl_epi64((const __m128i *)(const void *)(r0 + 2 * ox));
            b = _mm_loadl_epi64((const __m128i *)(const void *)(r1 + 2 * ox));
        }
        __m128i v = _mm_max_epu8(_mm_xor_si128(a, flip), _mm_xor_si128(b, flip));
        v = _mm_max_epu8(_mm_and_si128(v, low), _mm_srli_epi16(v, 8)); /* 16-bit lanes, each < 256 */
        v = _mm_xor_si128(_mm_packus_epi16(v, v), flip);
        if (step == 8)
            _mm_storel_epi64((__m128i *)(void *)(out + ox), v);
        else {
            int32_t four = _mm_cvtsi128_si32(v);
            __builtin_memcpy(out + ox, &four, 4);
        }
        if (ox0 + step >= ow)
            return ow;
    }
#else
    (void)x, (void)y, (void)t, (void)xr, (void)w, (void)yo, (void)ow;
    return 0;
#endif
}

/* Max pool: same type and scale in and out; padding never wins.  Always
 * inlined: the geometry is a constant of the call, so one of the two paths
 * and every product of the other fold away (rv32i has no multiply). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void shiftc_maxpool_q(const void *x, void *y, int t, const shiftc_geom *g)
{
    if (g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->dh == 1 && g->dw == 1 && g->pt == 0 &&
        g->pl == 0 && 2 * g->oh <= g->h && 2 * g->ow <= g->w) {
        /* the common 2x2 / 2 pool: no window leaves the input; running
         * indices, no product (rv32i has no multiply) */
        int32_t xr = 0, yo = 0;
        for (int32_t n = 0; n < g->n; n++)
            for (int32_t c = 0; c < g->c; c++) {
                for (int32_t oy = 0; oy < g->oh; oy++, xr += 2 * g->w) {
                    int32_t ox = shiftc_maxpool2_row(x, y, t, xr, g->w, yo, g->ow);
                    for (yo += ox; ox < g->ow; ox++, yo++) {
                        int32_t i = xr + 2 * ox, j = i + g->w;
                        int32_t a = shiftc_ld(x, i, t), b = shiftc_ld(x, i + 1, t);
                        int32_t d = shiftc_ld(x, j, t), e = shiftc_ld(x, j + 1, t);
                        a = a > b ? a : b;
                        d = d > e ? d : e;
                        shiftc_st(y, yo, t, a > d ? a : d);
                    }
                }
                if (2 * g->oh < g->h) /* an odd last row no window reads */
                    xr += g->w;
            }
        return;
    }
    for (int32_t p = 0; p < g->n * g->c; p++)
        for (int32_t oy = 0; oy < g->oh; oy++)
            for (int32_t ox = 0; ox < g->ow; ox++) {
                int32_t best = shiftc_type_min(t), seen = 0;
                for (int32_t ky = 0; ky < g->kh; ky++) {
                    int32_t iy = oy * g->sh - g->pt + ky * g->dh;
                    if (iy < 0 || iy >= g->h)
                        continue;
                    for (int32_t kx = 0; kx < g->kw; kx++) {
                        int32_t ix = ox * g->sw - g->pl + kx * g->dw;
                        if (ix < 0 || ix >= g->w)
                            continue;
                        int32_t v = shiftc_ld(x, (p * g->h + iy) * g->w + ix, t);
                        if (!seen || v > best)
                            best = v;
                        seen = 1;
                    }
                }
                shiftc_st(y, (p * g->oh + oy) * g->ow + ox, t, best);
            }
}

/* Average pool: same type and scale in and out, the mean rounded half away
 * from zero.  With count_include_pad the divisor counts padded positions
 * (but not those past the padding that ceil_mode may add), as ONNX does. */
static inline void shiftc_avgpool_q(const void *x, void *y, int t, const shiftc_geom *g)
{
    for (int32_t p = 0; p < g->n * g->c; p++)
        for (int32_t oy = 0; oy < g->oh; oy++)
            for (int32_t ox = 0; ox < g->ow; ox++) {
                int32_t sum = 0, count = 0, padded = 0;
                for (int32_t ky = 0; ky < g->kh; ky++) {
                    int32_t iy = oy * g->sh - g->pt + ky * g->dh;
                    if (iy < -g->pt || iy >= g->h + g->pb)
                        continue;
                    for (int32_t kx = 0; kx < g->kw; kx++) {
                        int32_t ix = ox * g->sw - g->pl + kx * g->dw;
                        if (ix < -g->pl || ix >= g->w + g->pr)
                            continue;
                        padded++;
                        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                            continue;
                        sum += shiftc_ld(x, (p * g->h + iy) * g->w + ix, t);
                        count++;
                    }
                }
                int32_t div = g->count_include_pad ? padded : count;
                shiftc_st(y, (p * g->oh + oy) * g->ow + ox, t, div ? shiftc_div_round(sum, div) : 0);
            }
}

/* Global average pool over hw positions of each of nc planes. */
static inline void shiftc_global_avgpool_q(const void *x, void *y, int t, int32_t nc, int32_t hw)
{
    for (int32_t p = 0; p < nc; p++) {
        int32_t sum = 0;
        for (int32_t i = 0; i < hw; i++)
            sum += shiftc_ld(x, p * hw + i, t);
        shiftc_st(y, p, t, shiftc_div_round(sum, hw));
    }
}

/* Broadcast iteration: output dims and, per input, element strides
 * (0 along broadcast dimensions).  rank <= 6. */
typedef struct shiftc_bcast {
    int32_t rank;
    int32_t dims[6];
    int32_t sa[6], sb[6];
} shiftc_bcast;

/* Add of two quantized tensors (TFLite's scheme): both inputs are scaled
 * up by 2^left_shift and to a common scale, summed, then requantized. */
typedef struct shiftc_qadd {
    int32_t left_shift;
    int32_t ma, sa, mb, sb; /* input multipliers and shifts */
    int32_t mo, so;         /* output multiplier and shift */
    int32_t zero, lo, hi;
} shiftc_qadd;

static inline void shiftc_add_q(const void *a, int at, const void *b, int bt, void *y, int yt,
                                const shiftc_qadd *q, const shiftc_bcast *bc)
{
    int32_t idx[6] = {0, 0, 0, 0, 0, 0}, total = 1;
    for (int32_t d = 0; d < bc->rank; d++)
        total *= bc->dims[d];
    for (int32_t i = 0; i < total; i++) {
        int32_t ia = 0, ib = 0;
        for (int32_t d = 0; d < bc->rank; d++) {
            ia += idx[d] * bc->sa[d];
            ib += idx[d] * bc->sb[d];
        }
        int32_t va = shiftc_mul_q(shiftc_shl_sat(shiftc_ld(a, ia, at), q->left_shift), q->ma, q->sa);
        int32_t vb = shiftc_mul_q(shiftc_shl_sat(shiftc_ld(b, ib, bt), q->left_shift), q->mb, q->sb);
        shiftc_st(y, i, yt, shiftc_requant(va + vb, q->mo, q->so, q->zero, q->lo, q->hi));
        for (int32_t d = bc->rank - 1; d >= 0; d--) {
            if (++idx[d] < bc->dims[d])
                break;
            idx[d] = 0;
        }
    }
}

/* One input of a Concat: outer blocks of `inner` codes each, written at
 * column `offset` of output rows that are `row` codes long, rescaled by
 * (mult, shift).  Equal scales give mult = 2^30, shift = 1: an exact copy. */
static inline void shiftc_concat_q(const void *x, int xt, void *y, int yt, int32_t outer,
                                   int32_t inner, int32_t row, int32_t offset, int32_t mult,
                                   int32_t shift, int32_t zero, int32_t lo, int32_t hi)
{
    for (int32_t o = 0; o < outer; o++)
        for (int32_t i = 0; i < inner; i++)
            shiftc_st(y, o * row + offset + i, yt,
                      shiftc_requant(shiftc_ld(x, o * inner + i, xt), mult, shift, zero, lo, hi));
}

/* Slice, the converse of shiftc_concat_q without rescaling: outer blocks
 * of `inner` codes each, read at column `offset` of input rows that are
 * `row` codes long, for any storage type xt (output of the same type).
 * Offsets advance by adds, so the no-mul mode uses it as it is. */
static inline void shiftc_slice_q(const void *x, int xt, void *y, int32_t outer, int32_t inner,
                                  int32_t row, int32_t offset)
{
    const uint8_t *xb = (const uint8_t *)x;
    uint8_t *yb = (uint8_t *)y;
    int32_t w = shiftc_is16(xt), o, i, src = offset << w, dst = 0;
    inner <<= w; /* in bytes from here */
    row <<= w;
    for (o = 0; o < outer; o++, src += row, dst += inner)
        for (i = 0; i < inner; i++)
            yb[dst + i] = xb[src + i];
}

/* ---- no-mul mode kernels: the multiplierless counterparts of the
 * requantizing kernels above.  Add and Concat run on the target, so their
 * index arithmetic is multiplication-free too (offsets advance by adds);
 * Conv and Dense serve the simulator only (emitted code unrolls them and
 * calls shiftc_requant_nomul), and keep the reference loops' products. */

/* A multiplier of the no-mul mode: 2^-e1 + s2 * 2^-e2. */
typedef struct shiftc_nm {
    int32_t e1, s2, e2;
} shiftc_nm;

/* shiftc_qadd with two-term multipliers. */
typedef struct shiftc_qadd_nm {
    int32_t left_shift;
    shiftc_nm a, b; /* input multipliers */
    shiftc_nm o;    /* output multiplier */
    int32_t zero, lo, hi;
} shiftc_qadd_nm;

static inline void shiftc_add_nomul_q(const void *a, int at, const void *b, int bt, void *y, int yt,
                                      const shiftc_qadd_nm *q, const shiftc_bcast *bc)
{
    /* oa[d], ob[d]: offsets of the current index over dims 0..d */
    int32_t idx[6] = {0, 0, 0, 0, 0, 0}, oa[6] = {0, 0, 0, 0, 0, 0}, ob[6] = {0, 0, 0, 0, 0, 0};
    int32_t i = 0, d, e, last = bc->rank - 1;
    for (d = 0; d < bc->rank; d++)
        if (bc->dims[d] == 0)
            return;
    for (;;) {
        int32_t ia = last >= 0 ? oa[last] : 0, ib = last >= 0 ? ob[last] : 0;
        int32_t va = shiftc_shl_sat_nomul(shiftc_ld(a, ia, at), q->left_shift);
        int32_t vb = shiftc_shl_sat_nomul(shiftc_ld(b, ib, bt), q->left_shift);
        va = shiftc_mul_nomul(va, q->a.e1, q->a.s2, q->a.e2);
        vb = shiftc_mul_nomul(vb, q->b.e1, q->b.s2, q->b.e2);
        shiftc_st(y, i++, yt, shiftc_requant_nomul(va + vb, q->o.e1, q->o.s2, q->o.e2, q->zero, q->lo, q->hi));
        for (d = last; d >= 0 && idx[d] == bc->dims[d] - 1; d--)
            ;
        if (d < 0)
            return;
        idx[d]++;
        oa[d] += bc->sa[d];
        ob[d] += bc->sb[d];
        for (e = d + 1; e <= last; e++) {
            idx[e] = 0;
            oa[e] = oa[e - 1];
            ob[e] = ob[e - 1];
        }
    }
}

/* shiftc_concat_q with the multiplier 2^-e1 + s2 * 2^-e2. */
static inline void shiftc_concat_nomul_q(const void *x, int xt, void *y, int yt, int32_t outer,
                                         int32_t inner, int32_t row, int32_t offset, int32_t e1,
                                         int32_t s2, int32_t e2, int32_t zero, int32_t lo,
                                         int32_t hi)
{
    int32_t o, i, src = 0, dst = offset;
    for (o = 0; o < outer; o++, src += inner, dst += row)
        for (i = 0; i < inner; i++)
            shiftc_st(y, dst + i, yt,
                      shiftc_requant_nomul(shiftc_ld(x, src + i, xt), e1, s2, e2, zero, lo, hi));
}

/* shiftc_conv_q with per-channel multipliers nm[3*o .. 3*o+2] = {e1, s2, e2}. */
static inline void shiftc_conv_nomul_q(const void *x, int xt, const int32_t *wq, const int32_t *bias,
                                       const int32_t *nm, int32_t zero, int32_t lo, int32_t hi,
                                       void *y, int yt, const shiftc_geom *g)
{
    int32_t icg = g->c / g->group, ocg = g->oc / g->group;
    for (int32_t b = 0; b < g->n; b++)
        for (int32_t o = 0; o < g->oc; o++) {
            int32_t ic0 = (o / ocg) * icg;
            const int32_t *m = nm + 3 * o;
            for (int32_t oy = 0; oy < g->oh; oy++)
                for (int32_t ox = 0; ox < g->ow; ox++) {
                    int32_t acc = bias[o];
                    for (int32_t i = 0; i < icg; i++)
                        for (int32_t ky = 0; ky < g->kh; ky++) {
                            int32_t iy = oy * g->sh - g->pt + ky * g->dh;
                            if (iy < 0 || iy >= g->h)
                                continue;
                            for (int32_t kx = 0; kx < g->kw; kx++) {
                                int32_t ix = ox * g->sw - g->pl + kx * g->dw;
                                if (ix < 0 || ix >= g->w)
                                    continue;
                                int32_t xi = ((b * g->c + ic0 + i) * g->h + iy) * g->w + ix;
                                acc += wq[((o * icg + i) * g->kh + ky) * g->kw + kx] * shiftc_ld(x, xi, xt);
                            }
                        }
                    int32_t yi = ((b * g->oc + o) * g->oh + oy) * g->ow + ox;
                    shiftc_st(y, yi, yt, shiftc_requant_nomul(acc, m[0], m[1], m[2], zero, lo, hi));
                }
        }
}

/* shiftc_dense_q with per-channel multipliers nm[3*o .. 3*o+2]. */
static inline void shiftc_dense_nomul_q(const void *x, int xt, const int32_t *wq,
                                        const int32_t *bias, const int32_t *nm, int32_t zero,
                                        int32_t lo, int32_t hi, void *y, int yt, int32_t m,
                                        int32_t k, int32_t n)
{
    for (int32_t r = 0; r < m; r++)
        for (int32_t o = 0; o < n; o++) {
            int32_t acc = bias[o];
            for (int32_t i = 0; i < k; i++)
                acc += wq[o * k + i] * shiftc_ld(x, r * k + i, xt);
            shiftc_st(y, r * n + o, yt,
                      shiftc_requant_nomul(acc, nm[3 * o], nm[3 * o + 1], nm[3 * o + 2], zero, lo, hi));
        }
}

/* ---- recurrent cells: LSTM and GRU (docs/rnn.md) ----
 *
 * A quantized LSTM or GRU node, batch 1, one direction per call: a
 * bidirectional node is two calls (direction 0 forward, 1 reverse), each
 * with its own weights, biases and state, writing its half of Y [T][2][H]
 * and of Y_h, Y_c [2][H].
 * Fixed-point formats, the same for every model:
 *   - hidden state h: int16 in Q15 (|h| < 1);
 *   - LSTM cell state c: int16 in Q(c_frac), saturated;
 *   - gate pre-activations: int32 in Q(pre_frac), each add saturated to
 *     +-SHIFTC_RNN_PRE_MAX;
 *   - gate values (sigmoid, tanh): Q15, from a table of SHIFTC_RNN_TAB_N
 *     entries over pre-activation codes [-32768, 32767], linearly
 *     interpolated (shiftc_rnn_act).
 * The weighted part of a step (W x_t and R h, each row requantized from
 * its int32 accumulator into Q(pre_frac) by shiftc_rnn_acc_q or
 * shiftc_rnn_acc_nomul) is a callback: the simulator passes the reference
 * loops (shiftc_rnn_mv_ref), emitted code a function with the weights
 * baked in as shift-add terms.  Everything else -- the time loop, the
 * cell arithmetic, the state, the output requantization -- is
 * shiftc_rnn_q, called by both.  Products of gate values and states are
 * exact int32 products (|factors| <= 2^15 and 2^16: no overflow), so the
 * only rounding is the shiftc_rdpot after each. */

#define SHIFTC_RNN_PRE_MAX 16777216 /* 2^24 */
#define SHIFTC_RNN_TAB_SHIFT 6
#define SHIFTC_RNN_TAB_N ((65536 >> SHIFTC_RNN_TAB_SHIFT) + 1) /* 1025 */

/* Pre-activation slots: 4H int32.  LSTM: i, o, f, c (ONNX's gate order);
 * GRU: z, r, then the candidate's input part W_h x + Wb_h and its
 * recurrent part R_h h + Rb_h (linear_before_reset) or R_h (r . h) + Rb_h. */

/* callback: adds part `part` of a step's matrix-vector products into pre.
 * part 0: W (all G*H rows) times v = x_t (storage type of x);
 * part 1: R times v = h (int16): all rows, except for a GRU with
 *   linear_before_reset = 0 only rows [0, 2H) (z, r);
 * part 2 (GRU, linear_before_reset = 0): rows [2H, 3H) of R times
 *   v = r . h (int16).
 * Row k of W or R adds into pre[k], except a GRU's candidate rows
 * [2H, 3H) of R, which add into pre[k + H]. */
typedef void (*shiftc_rnn_mv)(const void *ctx, int32_t part, const void *v, int32_t *pre);

typedef struct shiftc_rnn {
    int32_t gru;          /* 0: LSTM, 1: GRU */
    int32_t lbr;          /* GRU: linear_before_reset */
    int32_t input_forget; /* LSTM: f = 1 - i */
    int32_t reverse;      /* run t = T-1 .. 0 */
    int32_t T, H;         /* steps, hidden size */
    int32_t x_step;       /* bytes of one x_t */
    int32_t y_step;       /* Y elements between time steps: H, or 2H bidirectional */
    int32_t y_off;        /* this direction's first element in Y, Y_h, Y_c: 0 or H */
    int32_t pre_frac;     /* pre-activations in Q(pre_frac) */
    int32_t c_frac;       /* LSTM cell state in Q(c_frac) */
    int32_t pre_lim;      /* |gate pre-activation| clamp (rnn clip) */
    int32_t no_mul;       /* output multipliers are two-term (ynm) */
    const int32_t *bias;  /* 4H, Q(pre_frac) */
    const int16_t *sig, *tnh; /* SHIFTC_RNN_TAB_N entries each, Q15 */
    const int16_t *h0, *c0;   /* initial state (Q15, Q(c_frac)) or NULL: 0 */
    /* outputs Y, Y_h, Y_c: storage type (-1: absent), requantization of
       h (Q15) or c (Q(c_frac)) to their codes */
    int32_t yt[3];
    int32_t ym[3], ys[3];
    int32_t ynm[3][3];
    int32_t yzero[3], ylo[3], yhi[3];
} shiftc_rnn;

/* Scratch bytes shiftc_rnn_q needs: pre (4H int32), h, c, r.h (int16). */
#define SHIFTC_RNN_SCRATCH(H) (16 * (H) + 6 * (H))

static inline int32_t shiftc_rnn_sat(int64_t v)
{
    return v > SHIFTC_RNN_PRE_MAX ? SHIFTC_RNN_PRE_MAX
           : v < -SHIFTC_RNN_PRE_MAX ? -SHIFTC_RNN_PRE_MAX : (int32_t)v;
}

/* pre += acc * M, M = mult * 2^(shift-31), saturated. */
static inline void shiftc_rnn_acc_q(int32_t *pre, int32_t acc, int32_t mult, int32_t shift)
{
    *pre = shiftc_rnn_sat((int64_t)*pre + shiftc_mul_q(acc, mult, shift));
}

/* pre += acc * (2^-e1 + s2 * 2^-e2), saturated (no-mul mode). */
static inline void shiftc_rnn_acc_nomul(int32_t *pre, int32_t acc, int32_t e1, int32_t s2,
                                        int32_t e2)
{
    *pre = shiftc_rnn_sat((int64_t)*pre + shiftc_mul_nomul(acc, e1, s2, e2));
}

/* A gate nonlinearity: table lookup at the pre-activation clamped to
 * [-32768, 32767], interpolated between entries 2^SHIFTC_RNN_TAB_SHIFT
 * codes apart. */
static inline int32_t shiftc_rnn_act(const int16_t *tab, int32_t pre)
{
    int32_t i = shiftc_clamp(pre, -32768, 32767) + 32768;
    int32_t j = i >> SHIFTC_RNN_TAB_SHIFT, f = i & ((1 << SHIFTC_RNN_TAB_SHIFT) - 1);
    return tab[j] + shiftc_rdpot(((int32_t)tab[j + 1] - tab[j]) * f, SHIFTC_RNN_TAB_SHIFT);
}

/* Q(from) -> Q(to) for |v| < 2^16 and |to - from| <= 12. */
static inline int32_t shiftc_rnn_rescale(int32_t v, int32_t from, int32_t to)
{
    return to >= from ? v * (1 << (to - from)) : shiftc_rdpot(v, from - to);
}

static inline void shiftc_rnn_out(const shiftc_rnn *r, int32_t k, void *y, int32_t i, int32_t v)
{
    int32_t q = r->no_mul ? shiftc_requant_nomul(v, r->ynm[k][0], r->ynm[k][1], r->ynm[k][2],
                                                 r->yzero[k], r->ylo[k], r->yhi[k])
                          : shiftc_requant(v, r->ym[k], r->ys[k], r->yzero[k], r->ylo[k], r->yhi[k]);
    shiftc_st(y, i, r->yt[k], q);
}

/* One direction of the node: x is [T][I] codes, y [T][y_step] codes (or
 * NULL), yh and yc [y_off + H] codes (or NULL); scratch
 * SHIFTC_RNN_SCRATCH(H) bytes, 4-byte aligned. */
static inline void shiftc_rnn_q(const shiftc_rnn *r, shiftc_rnn_mv mv, const void *ctx,
                                const void *x, void *y, void *yh, void *yc, void *scratch)
{
    int32_t H = r->H, t, j, k;
    int32_t *pre = (int32_t *)scratch;
    int16_t *h = (int16_t *)(pre + 4 * H), *c = h + H, *rh = c + H;
    const uint8_t *xt = (const uint8_t *)x;
    int32_t yo = r->y_off;
    for (j = 0; j < H; j++) {
        h[j] = r->h0 ? r->h0[j] : 0;
        c[j] = r->c0 ? r->c0[j] : 0;
    }
    if (r->reverse)
        for (t = 1; t < r->T; t++) {
            xt += r->x_step;
            yo += r->y_step;
        }
    for (t = 0; t < r->T; t++) {
        for (k = 0; k < 4 * H; k++)
            pre[k] = r->bias[k];
        mv(ctx, 0, xt, pre);
        if (r->gru && !r->lbr) {
            mv(ctx, 1, h, pre);
            for (j = 0; j < H; j++) {
                int32_t rg = shiftc_rnn_act(r->sig, shiftc_clamp(pre[H + j], -r->pre_lim, r->pre_lim));
                rh[j] = (int16_t)shiftc_rdpot(rg * h[j], 15);
            }
            mv(ctx, 2, rh, pre);
        } else {
            mv(ctx, 1, h, pre);
        }
        for (j = 0; j < H; j++) {
            int32_t lim = r->pre_lim;
            if (!r->gru) {
                int32_t ig = shiftc_rnn_act(r->sig, shiftc_clamp(pre[j], -lim, lim));
                int32_t og = shiftc_rnn_act(r->sig, shiftc_clamp(pre[H + j], -lim, lim));
                int32_t fg = r->input_forget ? 32768 - ig
                                             : shiftc_rnn_act(r->sig, shiftc_clamp(pre[2 * H + j], -lim, lim));
                int32_t gg = shiftc_rnn_act(r->tnh, shiftc_clamp(pre[3 * H + j], -lim, lim));
                int32_t cn = shiftc_rdpot(fg * c[j], 15) + shiftc_rdpot(ig * gg, 30 - r->c_frac);
                cn = shiftc_clamp(cn, -32767, 32767);
                c[j] = (int16_t)cn;
                h[j] = (int16_t)shiftc_rdpot(
                    og * shiftc_rnn_act(r->tnh, shiftc_rnn_rescale(cn, r->c_frac, r->pre_frac)), 15);
            } else {
                int32_t zg = shiftc_rnn_act(r->sig, shiftc_clamp(pre[j], -lim, lim));
                int32_t rg = shiftc_rnn_act(r->sig, shiftc_clamp(pre[H + j], -lim, lim));
                int32_t hp = r->lbr ? pre[2 * H + j] +
                                          shiftc_rdpot(rg * shiftc_clamp(pre[3 * H + j], -65535, 65535), 15)
                                    : pre[2 * H + j] + pre[3 * H + j];
                int32_t ht = shiftc_rnn_act(r->tnh, shiftc_clamp(hp, -lim, lim));
                h[j] = (int16_t)shiftc_rdpot((32768 - zg) * ht + zg * h[j], 15);
            }
        }
        if (y)
            for (j = 0; j < H; j++)
                shiftc_rnn_out(r, 0, y, yo + j, h[j]);
        if (r->reverse) {
            xt -= r->x_step;
            yo -= r->y_step;
        } else {
            xt += r->x_step;
            yo += r->y_step;
        }
    }
    for (j = 0; j < H; j++) {
        if (yh)
            shiftc_rnn_out(r, 1, yh, r->y_off + j, h[j]);
        if (yc)
            shiftc_rnn_out(r, 2, yc, r->y_off + j, c[j]);
    }
}

/* The reference matrix-vector products (the simulator's callback): codes
 * row-major, W [G*H][I], R [G*H][H], per-row multipliers. */
typedef struct shiftc_rnn_ref {
    int32_t gru, lbr, I, H, G, xt, no_mul;
    const int32_t *wq, *rq;
    const int32_t *wmult, *wshift, *rmult, *rshift; /* Q31 form */
    const int32_t *wnm, *rnm;                       /* no-mul: 3 per row */
} shiftc_rnn_ref;

static inline void shiftc_rnn_mv_ref(const void *ctx, int32_t part, const void *v, int32_t *pre)
{
    const shiftc_rnn_ref *m = (const shiftc_rnn_ref *)ctx;
    int32_t H = m->H, rows = m->G * H, k0 = 0, k1 = rows, len = part == 0 ? m->I : H, k, i;
    const int32_t *w = part == 0 ? m->wq : m->rq;
    const int32_t *mu = part == 0 ? m->wmult : m->rmult, *sh = part == 0 ? m->wshift : m->rshift;
    const int32_t *nm = part == 0 ? m->wnm : m->rnm;
    int vt = part == 0 ? m->xt : SHIFTC_I16;
    if (part == 1 && m->gru && !m->lbr)
        k1 = 2 * H;
    if (part == 2)
        k0 = 2 * H, k1 = 3 * H;
    for (k = k0; k < k1; k++) {
        int32_t acc = 0, dst = part > 0 && m->gru && k >= 2 * H ? k + H : k;
        for (i = 0; i < len; i++)
            acc += w[k * len + i] * shiftc_ld(v, i, vt);
        if (m->no_mul)
            shiftc_rnn_acc_nomul(pre + dst, acc, nm[3 * k], nm[3 * k + 1], nm[3 * k + 2]);
        else
            shiftc_rnn_acc_q(pre + dst, acc, mu[k], sh[k]);
    }
}

/* Elementwise op by table, indexed by code - type minimum: 256 entries
 * for 8-bit storage; for 16-bit codes 257 entries, one every 256 codes,
 * interpolated (shiftc_lut_interp). */
static inline void shiftc_lut_q(const void *x, int xt, void *y, int yt, int32_t n,
                                const int32_t *lut)
{
    int32_t base = -shiftc_type_min(xt);
    if (shiftc_is16(xt)) {
        for (int32_t i = 0; i < n; i++)
            shiftc_st(y, i, yt, shiftc_lut_interp(lut, shiftc_ld(x, i, xt) + base));
        return;
    }
    for (int32_t i = 0; i < n; i++)
        shiftc_st(y, i, yt, lut[shiftc_ld(x, i, xt) + base]);
}

/* exp(-scale * d) in Q16 for d = max - code >= 0: exp_lut[d] (256
 * entries) for 8-bit storage, interpolated from 257 entries, one every 256
 * steps of d, for 16-bit codes. */
static inline int64_t shiftc_softmax_exp(const int32_t *exp_lut, int32_t d, int xt)
{
    return shiftc_is16(xt) ? shiftc_lut_interp(exp_lut, d) : exp_lut[d];
}

/* Softmax along a run of `len` codes with stride `inner`, for outer*inner
 * runs; exp_lut as shiftc_softmax_exp.  The output is unsigned of type yt
 * with codes 0..hi and scale 1/(hi + 1): round(e * (hi + 1) / sum),
 * at most hi (hi = 255 for 8 bits, 15 for 4, 65535 for 16). */
static inline void shiftc_softmax_q(const void *x, int xt, void *y, int yt, int32_t hi,
                                    int32_t outer, int32_t len, int32_t inner,
                                    const int32_t *exp_lut)
{
    for (int32_t o = 0; o < outer; o++)
        for (int32_t in = 0; in < inner; in++) {
            int32_t base = o * len * inner + in, mx = shiftc_type_min(xt);
            for (int32_t i = 0; i < len; i++) {
                int32_t v = shiftc_ld(x, base + i * inner, xt);
                mx = v > mx ? v : mx;
            }
            int64_t sum = 0;
            for (int32_t i = 0; i < len; i++)
                sum += shiftc_softmax_exp(exp_lut, mx - shiftc_ld(x, base + i * inner, xt), xt);
            for (int32_t i = 0; i < len; i++) {
                int64_t e = shiftc_softmax_exp(exp_lut, mx - shiftc_ld(x, base + i * inner, xt), xt);
                int64_t v = (e * ((int64_t)hi + 1) + sum / 2) / sum;
                shiftc_st(y, base + i * inner, yt, (int32_t)(v > hi ? hi : v));
            }
        }
}

/* General transpose of 1-byte codes, rank <= 6: y[i] = x[sum idx[d]*xs[d]]
 * with idx running over the output dims (shiftc_transpose16_q: 2-byte
 * codes). */
static inline void shiftc_transpose_w(const void *x, void *y, int32_t wide, int32_t rank,
                                      const int32_t *odims, const int32_t *xs)
{
    int32_t idx[6] = {0, 0, 0, 0, 0, 0}, total = 1;
    for (int32_t d = 0; d < rank; d++)
        total *= odims[d];
    for (int32_t i = 0; i < total; i++) {
        int32_t src = 0;
        for (int32_t d = 0; d < rank; d++)
            src += idx[d] * xs[d];
        if (wide)
            ((uint16_t *)y)[i] = ((const uint16_t *)x)[src];
        else
            ((uint8_t *)y)[i] = ((const uint8_t *)x)[src];
        for (int32_t d = rank - 1; d >= 0; d--) {
            if (++idx[d] < odims[d])
                break;
            idx[d] = 0;
        }
    }
}

static inline void shiftc_transpose_q(const uint8_t *x, uint8_t *y, int32_t rank,
                                      const int32_t *odims, const int32_t *xs)
{
    shiftc_transpose_w(x, y, 0, rank, odims, xs);
}

static inline void shiftc_transpose16_q(const void *x, void *y, int32_t rank,
                                        const int32_t *odims, const int32_t *xs)
{
    shiftc_transpose_w(x, y, 1, rank, odims, xs);
}

/* Zeroes the border of planes of (h + pt + pb) x (w + pl + pr) bytes:
 * the copy fills the rest (a whole-buffer memset cost Cortex-M4 about 4
 * instructions a byte, 12 k per inference of the bundled CNN). */
static inline void shiftc_pad_border(uint8_t *y, int32_t planes, int32_t h, int32_t w, int32_t pt, int32_t pl,
                                     int32_t pb, int32_t pr)
{
    int32_t pw = w + pl + pr;
    for (int32_t p = 0; p < planes; p++) {
        for (int32_t i = 0; i < pt * pw; i++)
            *y++ = 0;
        for (int32_t r = 0; r < h; r++) {
            for (int32_t c = 0; c < pl; c++)
                y[c] = 0;
            for (int32_t c = pl + w; c < pw; c++)
                y[c] = 0;
            y += pw;
        }
        for (int32_t i = 0; i < pb * pw; i++)
            *y++ = 0;
    }
}

/* Copy planes of h*w codes into a buffer with zero padding around them, so
 * that unrolled convolutions read without bounds checks.  Zero points are
 * 0, so code 0 is real 0 for both storage types.  Where unaligned words
 * load and store in one instruction each (ARMv7-M, x86-64, AArch64), rows
 * are copied a word at a time. */
static inline void shiftc_pad_q(const uint8_t *x, uint8_t *y, int32_t planes, int32_t h, int32_t w,
                                int32_t pt, int32_t pl, int32_t pb, int32_t pr)
{
    int32_t pw = w + pl + pr;
    shiftc_pad_border(y, planes, h, w, pt, pl, pb, pr);
    uint8_t *d = y + pt * pw + pl;
    for (int32_t p = 0; p < planes; p++, d += (pt + pb) * pw)
        for (int32_t r = 0; r < h; r++, x += w, d += pw) {
            int32_t c = 0;
#if defined(__GNUC__) && (defined(__ARM_FEATURE_UNALIGNED) || defined(__x86_64__) || defined(__aarch64__))
            for (; c + 4 <= w; c += 4) {
                uint32_t v;
                __builtin_memcpy(&v, x + c, 4);
                __builtin_memcpy(d + c, &v, 4);
            }
#endif
            for (; c < w; c++)
                d[c] = x[c];
        }
}

/* shiftc_pad_q for 2-byte codes (int16_t or uint16_t). */
static inline void shiftc_pad16_q(const void *xv, void *yv, int32_t planes, int32_t h, int32_t w,
                                  int32_t pt, int32_t pl, int32_t pb, int32_t pr)
{
    const uint16_t *x = (const uint16_t *)xv;
    uint16_t *y = (uint16_t *)yv;
    int32_t ph = h + pt + pb, pw = w + pl + pr;
    for (int32_t i = 0; i < planes * ph * pw; i++)
        y[i] = 0;
    for (int32_t p = 0; p < planes; p++)
        for (int32_t r = 0; r < h; r++)
            for (int32_t c = 0; c < w; c++)
                y[(p * ph + r + pt) * pw + c + pl] = x[(p * h + r) * w + c];
}

/* ---- MAC kernels (--kernel mac, KS_TABLE) ----
 * The packed-table kernel style: a layer's weight codes are int8_t arrays
 * (every weight format's codes fit), multiplied and accumulated in a loop.
 * The accumulators are the very sums of shiftc_conv_q / shiftc_dense_q
 * (int32, no partial sum can overflow, so the order of the terms is free)
 * and go through the same shiftc_requant / shiftc_requant_nomul, so the
 * results equal the simulator's bit for bit by construction.
 *
 * Weight layout of n rows (output channels) of k codes:
 *   blocked = 0: row-major w[o][i] (read with SSE2 / NEON vectors,
 *     shiftc_mac_dot, where the target has them; plain C elsewhere);
 *   blocked = 1: rows in blocks of 4: for each block, k/4 chunks of 16
 *     bytes (4 codes of row 0, of row 1, of row 2, of row 3), then the
 *     k % 4 last codes of each of the 4 rows; the n % 4 last rows
 *     row-major after the blocks.  One pointer walks a block, and on
 *     ARMv7E-M (__ARM_FEATURE_DSP: Cortex-M4/M7/M33) each 32-bit load gives
 *     four codes of one row for SXTB16 + SMLAD against four inputs that are
 *     loaded and widened once for the four rows.  The compiler writes this
 *     layout for DSP targets; other targets read it with plain C.
 * Conv is one row product per output pixel and group over the pixel's
 * patch, gathered into `col` (icg*kh*kw codes, the input's storage type)
 * from the zero-padded input; depthwise layers (one input and one output
 * channel per group) take a direct loop instead.  The kernels are always
 * inlined: the emitted call passes constants, so the geometry, the types
 * and the requantization mode fold away. */

#if defined(__GNUC__)
#define SHIFTC_MAC_INLINE static inline __attribute__((always_inline))
#else
#define SHIFTC_MAC_INLINE static inline
#endif

#if defined(__ARM_FEATURE_DSP) && !defined(SHIFTC_NO_DSP)
#include <arm_acle.h>
#define SHIFTC_MAC_DSP 1
static inline uint32_t shiftc_ld32u(const void *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4); /* one LDR: ARMv7-M loads unaligned words */
    return v;
}
/* bytes 1 and 3 sign- / zero-extended to two halfwords (SXTB16 ..., ROR #8) */
static inline int32_t shiftc_sxtb16_r8(uint32_t v)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
static inline int32_t shiftc_uxtb16_r8(uint32_t v)
{
    int32_t r;
    __asm__("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
#endif

/* Requantization of one layer: per channel Q31 multiplier and exponent, or
 * in no-mul mode (nm != NULL) {e1, s2, e2} per channel.  fast = 1 (set by
 * the emitter when shiftc_rq_fast_ok holds for every channel) selects
 * shiftc_rq_fast, which gives the same values in a few instructions. */
typedef struct shiftc_rq {
    const int32_t *mult, *shift;
    const int32_t *nm;
    int32_t zero, lo, hi;
    int32_t fast;
} shiftc_rq;

/* The channels shiftc_rq_fast serves: 2^30 < mult and -31 <= shift <= -2
 * (quant_multiplier's mult is 0 or in [2^30, 2^31); a usual layer scales
 * down by 2^-2 or more). */
static inline int shiftc_rq_fast_ok(const int32_t *mult, const int32_t *shift, int32_t n)
{
    for (int32_t o = 0; o < n; o++)
        if (mult[o] <= 0x40000000 || shift[o] > -2 || shift[o] < -31)
            return 0;
    return 1;
}

/* Two's complement reading of a 32-bit word (one move, or none). */
static inline int32_t shiftc_i32(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)~u - 1;
}

/* shiftc_mul_q(acc, mult, shift) for a channel that shiftc_rq_fast_ok
 * accepts, with khi = 2^(r-2) and rs = r-1, r = -shift in [2, 31]: one
 * 64-bit multiply-accumulate (SMLAL on ARM) and one shift.  Exact:
 *   srdhm(a, m) = floor((a*m + 2^30) / 2^31) for every a when m > 0 (a*m
 *   >= 0: the nudge is 2^30 and the division floors; a*m < 0: truncating
 *   (a*m + 1 - 2^30) / 2^31 toward zero is its ceiling, the floor of
 *   (a*m + 1 - 2^30 + 2^31 - 1) / 2^31).
 *   rdpot(x, r) = floor((x + 2^(r-1) - [x < 0]) / 2^r) for r >= 1 (half
 *   away from zero: rem > thr means rem >= 2^(r-1) + [x < 0]).
 *   floor((floor(y / A) + k) / B) = floor((y + k*A) / (A*B)), so the two
 *   steps are floor((a*m + K) / 2^(31+r)) with
 *   K = 2^30 + 2^(30+r) - [x < 0] * 2^31, and x < 0 iff a*m + 2^30 < 0,
 *   which for m > 2^30 is a < 0 (a <= -1 gives a*m <= -m < -2^30).
 *   For r >= 2, K's high word is 2^(r-2) - [a < 0] and its low word
 *   2^30 + [a < 0] * 2^31; |a*m + K| < 2^62, no overflow; the quotient by
 *   2^(31+r) is the high word of the sum shifted right by r-1, and lies
 *   within +-2^29, so adding a zero point cannot overflow either. */
static inline int32_t shiftc_rq_fast(int32_t acc, int32_t mult, int32_t khi, int32_t rs)
{
    uint32_t neg = (uint32_t)acc >> 31;
    uint64_t k = ((uint64_t)((uint32_t)khi - neg) << 32) | (0x40000000u | neg << 31);
    uint64_t p = k + (uint64_t)((int64_t)acc * mult);
    return shiftc_asr(shiftc_i32((uint32_t)(p >> 32)), rs);
}

/* v clamped to [lo, hi]; on ARMv7E-M the usual ranges are one SSAT or
 * USAT (the tests fold away when lo and hi are constants). */
static inline int32_t shiftc_clamp_sat(int32_t v, int32_t lo, int32_t hi)
{
#ifdef SHIFTC_MAC_DSP
    if (lo == -128 && hi == 127)
        return __ssat(v, 8);
    if (lo == 0 && hi == 255)
        return (int32_t)__usat(v, 8);
    if (lo == -32768 && hi == 32767)
        return __ssat(v, 16);
    if (lo == 0 && hi == 65535)
        return (int32_t)__usat(v, 16);
#endif
    return v < lo ? lo : v > hi ? hi : v;
}

/* shiftc_requant(acc, mult, -r, zero, lo, hi) for 2^30 < mult and
 * 1 <= r <= 31: shiftc_rq_fast's single rounding with K = 2^30 + 2^(30+r)
 * - [acc < 0] * 2^31 built from a literal r (the unrolled kernels' form).
 * The proof above holds for r = 1 too: K's high word is then 0 and the
 * quotient, within +-2^30, needs no shift.  When lo >= zero (a ReLU's
 * output) the [acc < 0] term is left out: for acc < 0 both forms give a
 * value <= 0 (floor((K + acc * mult) / 2^(31+r)) with 0 < K - mult <
 * 2^(30+r) at acc = -1, and less below), which the clamp takes to lo
 * either way; the arguments are literals, so the test folds away. */
static inline int32_t shiftc_requant_fast(int32_t acc, int32_t mult, int32_t r, int32_t zero, int32_t lo,
                                          int32_t hi)
{
    uint64_t k = ((uint64_t)1 << 30) + ((uint64_t)1 << (30 + r));
    if (lo < zero)
        k -= (uint64_t)((uint32_t)acc >> 31) << 31;
    uint64_t p = k + (uint64_t)((int64_t)acc * mult);
    return shiftc_clamp_sat(shiftc_asr(shiftc_i32((uint32_t)(p >> 32)), r - 1) + zero, lo, hi);
}

/* Channel o's constants: {mult, shift, -}, {mult, khi, rs} when fast, or
 * in no-mul mode {e1, s2, e2}
 * (read into locals once per channel: a store of an 8-bit code may alias
 * anything, so a table read after it is read again). */
static inline void shiftc_rq_load(const shiftc_rq *r, int32_t o, int32_t m[3])
{
    if (r->nm) {
        m[0] = r->nm[3 * o], m[1] = r->nm[3 * o + 1], m[2] = r->nm[3 * o + 2];
    } else if (r->fast) { /* {mult, khi, rs} of shiftc_rq_fast */
        m[0] = r->mult[o], m[1] = (int32_t)1 << (-r->shift[o] - 2), m[2] = -r->shift[o] - 1;
    } else {
        m[0] = r->mult[o], m[1] = r->shift[o], m[2] = 0;
    }
}

/* shiftc_requant / shiftc_requant_nomul of acc with loaded constants m.
 * A multiplier below 1 (shift <= 0, every usual layer) skips the left
 * shift, whose saturating 64-bit form costs ~20 instructions on a 32-bit
 * core: shiftc_shl_sat(acc, 0) == acc, so the value is shiftc_requant's. */
static inline int32_t shiftc_rq_value(const shiftc_rq *r, const int32_t m[3], int32_t acc)
{
    if (r->nm)
        return shiftc_requant_nomul(acc, m[0], m[1], m[2], r->zero, r->lo, r->hi);
    if (r->fast)
        return shiftc_clamp_sat(shiftc_rq_fast(acc, m[0], m[1], m[2]) + r->zero, r->lo, r->hi);
    if (m[1] <= 0) {
        int64_t v = (int64_t)shiftc_rdpot(shiftc_srdhm(acc, m[0]), -m[1]) + r->zero;
        return v < r->lo ? r->lo : v > r->hi ? r->hi : (int32_t)v;
    }
    return shiftc_requant(acc, m[0], m[1], r->zero, r->lo, r->hi);
}

static inline int32_t shiftc_rq_apply(const shiftc_rq *r, int32_t o, int32_t acc)
{
    int32_t m[3];
    shiftc_rq_load(r, o, m);
    return shiftc_rq_value(r, m, acc);
}

/* Index of code (o, i) of n rows of k codes in the blocked layout. */
static inline int32_t shiftc_mac_blocked_index(int32_t o, int32_t i, int32_t k, int32_t n)
{
    int32_t n4 = n & ~3, k4 = k & ~3;
    if (o >= n4)
        return o * k + i;
    int32_t base = (o & ~3) * k;
    if (i < k4)
        return base + (i >> 2) * 16 + (o & 3) * 4 + (i & 3);
    return base + 4 * k4 + (o & 3) * (k - k4) + (i - k4);
}

/* Whether a (non-depthwise) Conv takes the column-vectorised kernel of
 * SSE2 targets (shiftc_conv_cols_q, below); plain C, so that the cost
 * model can ask it on any machine. */
enum { SHIFTC_WPAIRS = 256 };
static inline int shiftc_conv_cols_ok(const shiftc_geom *g, int xt, int yt, int blocked)
{
    return !blocked && !shiftc_is16(xt) && !shiftc_is16(yt) && g->sw == 1 && g->dw == 1 && g->ow >= 8 &&
           g->c / g->group * g->kh * g->kw <= 2 * SHIFTC_WPAIRS;
}

/* SIMD dot products for the row-major layout of 8-bit inputs, on the
 * 128-bit vector units every x86-64 (SSE2) and AArch64 (NEON) core has:
 * shiftc_mac_dot(x, xt, w, k, rows, a) adds to a[r] (r < rows, 1 or 4) the
 * sum of w[r*k + i] * x[i] over i < (k & ~7), the codes widened to int16 and
 * multiplied into int32 lanes (PMADDWD; SMLAL), and returns k & ~7.  Every
 * product and pair sum is exact in int32 and the accumulators are the
 * simulator's sums (no partial sum overflows), so only the order of the
 * additions differs. */
#if defined(__SSE2__) && !defined(SHIFTC_NO_SIMD)
#include <emmintrin.h>
#define SHIFTC_MAC_SIMD 1
/* 16 codes widened to 8 + 8 int16: sign- or zero-extended */
static inline void shiftc_widen_i16(__m128i v, int is_signed, __m128i *lo, __m128i *hi)
{
    __m128i ext = is_signed ? _mm_cmpgt_epi8(_mm_setzero_si128(), v) : _mm_setzero_si128();
    *lo = _mm_unpacklo_epi8(v, ext);
    *hi = _mm_unpackhi_epi8(v, ext);
}

/* one row's (or four rows') 8 or 16 products added to s (s0..s3) */
#define SHIFTC_SSE_ROW(s, r, load, both)                                                                 \
    do {                                                                                                 \
        shiftc_widen_i16(load((const __m128i *)(const void *)(w + (size_t)(r) * k + i)), 1, &wl, &wh);   \
        s = _mm_add_epi32(s, both ? _mm_add_epi32(_mm_madd_epi16(xl, wl), _mm_madd_epi16(xh, wh))      \
                                  : _mm_madd_epi16(xl, wl));                                             \
    } while (0)

SHIFTC_MAC_INLINE int32_t shiftc_mac_dot(const uint8_t *x, int xt, const int8_t *w, int32_t k, int rows,
                                         int32_t a[4])
{
    __m128i s0 = _mm_setzero_si128(), s1 = s0, s2 = s0, s3 = s0, xl, xh, wl, wh;
    int32_t i = 0, sx = xt == SHIFTC_I8;
    for (; i + 16 <= k; i += 16) {
        shiftc_widen_i16(_mm_loadu_si128((const __m128i *)(const void *)(x + i)), sx, &xl, &xh);
        SHIFTC_SSE_ROW(s0, 0, _mm_loadu_si128, 1);
        if (rows == 4) {
            SHIFTC_SSE_ROW(s1, 1, _mm_loadu_si128, 1);
            SHIFTC_SSE_ROW(s2, 2, _mm_loadu_si128, 1);
            SHIFTC_SSE_ROW(s3, 3, _mm_loadu_si128, 1);
        }
    }
    if (i + 8 <= k) {
        shiftc_widen_i16(_mm_loadl_epi64((const __m128i *)(const void *)(x + i)), sx, &xl, &xh);
        SHIFTC_SSE_ROW(s0, 0, _mm_loadl_epi64, 0);
        if (rows == 4) {
            SHIFTC_SSE_ROW(s1, 1, _mm_loadl_epi64, 0);
            SHIFTC_SSE_ROW(s2, 2, _mm_loadl_epi64, 0);
            SHIFTC_SSE_ROW(s3, 3, _mm_loadl_epi64, 0);
        }
        i += 8;
    }
    if (rows == 4) { /* the four horizontal sums at once */
        __m128i t0 = _mm_add_epi32(_mm_unpacklo_epi32(s0, s1), _mm_unpackhi_epi32(s0, s1));
        __m128i t1 = _mm_add_epi32(_mm_unpacklo_epi32(s2, s3), _mm_unpackhi_epi32(s2, s3));
        s0 = _mm_add_epi32(_mm_unpacklo_epi64(t0, t1), _mm_unpackhi_epi64(t0, t1));
        a[0] += _mm_cvtsi128_si32(s0);
        a[1] += _mm_cvtsi128_si32(_mm_shuffle_epi32(s0, 0x55));
        a[2] += _mm_cvtsi128_si32(_mm_shuffle_epi32(s0, 0xaa));
        a[3] += _mm_cvtsi128_si32(_mm_shuffle_epi32(s0, 0xff));
    } else {
        s0 = _mm_add_epi32(s0, _mm_shuffle_epi32(s0, 0x4e));
        a[0] += _mm_cvtsi128_si32(_mm_add_epi32(s0, _mm_shuffle_epi32(s0, 0xb1)));
    }
    return i;
}
#undef SHIFTC_SSE_ROW

/* Requantization of four accumulators of one channel at once, the value
 * of shiftc_rq_fast (m = {mult, khi, rs} of shiftc_rq_load, mult > 2^30):
 * PMULUDQ gives acc*mult read as unsigned, acc*mult + neg*mult*2^32, so
 * K - neg*mult*2^32 is added in 64 bits (its high word khi - neg*(mult+1),
 * its low word 2^30 + neg*2^31, neg = [acc < 0]) and the high words are
 * shifted right by rs: the scalar's p >> 32 >> rs exactly. */
static inline __m128i shiftc_rq_fast_x4(__m128i acc, const int32_t m[3])
{
    __m128i neg = _mm_srai_epi32(acc, 31), mult = _mm_set1_epi32(m[0]);
    __m128i lo = _mm_or_si128(_mm_set1_epi32(0x40000000), _mm_and_si128(neg, _mm_set1_epi32(INT32_MIN)));
    __m128i hi = _mm_sub_epi32(_mm_set1_epi32(m[1]),
                               _mm_and_si128(neg, _mm_set1_epi32((int32_t)((uint32_t)m[0] + 1u))));
    lo = _mm_shuffle_epi32(lo, 0xd8); /* (0, 2, 1, 3): even lanes first */
    hi = _mm_shuffle_epi32(hi, 0xd8);
    __m128i pe = _mm_add_epi64(_mm_mul_epu32(acc, mult), _mm_unpacklo_epi32(lo, hi));
    __m128i po = _mm_add_epi64(_mm_mul_epu32(_mm_srli_epi64(acc, 32), mult), _mm_unpackhi_epi32(lo, hi));
    __m128i h = _mm_or_si128(_mm_srli_epi64(pe, 32), _mm_and_si128(po, _mm_set_epi32(-1, 0, -1, 0)));
    return _mm_sra_epi32(h, _mm_cvtsi32_si128(m[2]));
}

/* Conv of 8-bit codes to 8-bit codes with unit column stride and dilation
 * and at least 8 output columns: vectorised over 8 output columns instead
 * of gathering a patch per pixel, four output channels at a time.  Taps
 * are taken in pairs (t, t+1): the two taps' 8 inputs interleaved as int16
 * (loaded and widened once for the four channels) and PMADDWD against each
 * channel's pair of weights gives 4 columns' w_t*x_t + w_t+1*x_t+1; an odd
 * last tap is paired with a zero weight.  A row's last 8 columns start at
 * ow - 8 (overlapping the previous ones, which are stored again with the
 * same values), so no read passes the row's last tap.  Room for
 * K <= 2 * SHIFTC_WPAIRS taps: the weight pairs of four channels,
 * broadcast, are 16 KiB of stack (SSE2 targets only: x86-64 Linux). */

/* the input offset of every tap of a group, and at [K] the zero-weight
 * partner of an odd last tap */
static inline void shiftc_cols_offsets(const shiftc_geom *g, int32_t pw, int32_t plane, int32_t *off)
{
    int32_t t = 0;
    for (int32_t i = 0; i < g->c / g->group; i++)
        for (int32_t ky = 0; ky < g->kh; ky++)
            for (int32_t kx = 0; kx < g->kw; kx++)
                off[t++] = i * plane + ky * g->dh * pw + kx;
    off[t] = off[0];
}

/* taps 2p and 2p + 1 of the K-tap row wr as the int16 pair PMADDWD takes */
static inline int32_t shiftc_cols_wpair(const int8_t *wr, int32_t p, int32_t K)
{
    return (int32_t)((uint32_t)(uint16_t)wr[2 * p] | (uint32_t)(uint16_t)(2 * p + 1 < K ? wr[2 * p + 1] : 0) << 16);
}

/* the 8 outputs of accumulators lo (columns 0..3) and hi (4..7) at dst */
static inline void shiftc_rq_store8(const shiftc_rq *rq, const int32_t m[3], __m128i lo, __m128i hi, int yt,
                                    uint8_t *dst)
{
    if (rq->fast && !rq->nm) {
        /* saturating to int16 first changes nothing: lo..hi and the zero
         * point are 8-bit values */
        __m128i q = _mm_packs_epi32(shiftc_rq_fast_x4(lo, m), shiftc_rq_fast_x4(hi, m));
        q = _mm_adds_epi16(q, _mm_set1_epi16((int16_t)rq->zero));
        q = _mm_min_epi16(_mm_max_epi16(q, _mm_set1_epi16((int16_t)rq->lo)), _mm_set1_epi16((int16_t)rq->hi));
        q = yt == SHIFTC_U8 ? _mm_packus_epi16(q, q) : _mm_packs_epi16(q, q);
        _mm_storel_epi64((__m128i *)(void *)dst, q);
    } else {
        int32_t a[8];
        _mm_storeu_si128((__m128i *)(void *)a, lo);
        _mm_storeu_si128((__m128i *)(void *)(a + 4), hi);
        for (int32_t i = 0; i < 8; i++)
            shiftc_st(dst, i, yt, shiftc_rq_value(rq, m, a[i]));
    }
}

/* tap pair p's 8 + 8 inputs widened and interleaved: il (columns 0..3), ih */
#define SHIFTC_COLS_TAPS()                                                                               \
    __m128i u = _mm_loadl_epi64((const __m128i *)(const void *)(px + off[2 * p]));                       \
    __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)(px + off[2 * p + 1]));                   \
    u = _mm_unpacklo_epi8(u, sx ? _mm_cmpgt_epi8(z, u) : z);                                             \
    v = _mm_unpacklo_epi8(v, sx ? _mm_cmpgt_epi8(z, v) : z);                                             \
    __m128i il = _mm_unpacklo_epi16(u, v), ih = _mm_unpackhi_epi16(u, v)

/* channel j's (of the block's nb) products of tap pair p added to lo/hi */
#define SHIFTC_COLS_MAC(j)                                                                               \
    do {                                                                                                 \
        lo##j = _mm_add_epi32(lo##j, _mm_madd_epi16(il, wp[p][j]));                                      \
        hi##j = _mm_add_epi32(hi##j, _mm_madd_epi16(ih, wp[p][j]));                                      \
    } while (0)

SHIFTC_MAC_INLINE void shiftc_conv_cols_q(const uint8_t *xp, int xt, const int8_t *w, const int32_t *bias,
                                          const shiftc_rq *rq, void *y, int yt, const shiftc_geom *g, int32_t b)
{
    int32_t icg = g->c / g->group, ocg = g->oc / g->group, kk = g->kh * g->kw, K = icg * kk, np = (K + 1) / 2;
    int32_t pw = g->w + g->pl + g->pr, plane = (g->h + g->pt + g->pb) * pw, sx = xt == SHIFTC_I8;
    int32_t off[2 * SHIFTC_WPAIRS], ohw = g->oh * g->ow;
    __m128i wp[SHIFTC_WPAIRS][4];
    shiftc_cols_offsets(g, pw, plane, off);
    for (int32_t o = 0; o < g->oc;) {
        /* a block of nb = 4 channels of one group, or 1 */
        int32_t nb = o % ocg + 4 <= ocg ? 4 : 1, m[4][3];
        const uint8_t *xg = xp + (size_t)(b * g->c + o / ocg * icg) * plane;
        uint8_t *yo = (uint8_t *)y + (size_t)(b * g->oc + o) * ohw;
        for (int32_t j = 0; j < nb; j++) {
            const int8_t *wr = w + (size_t)(o + j) * K;
            for (int32_t p = 0; p < np; p++)
                wp[p][j] = _mm_set1_epi32(shiftc_cols_wpair(wr, p, K));
            shiftc_rq_load(rq, o + j, m[j]);
        }
        for (int32_t oy = 0; oy < g->oh; oy++) {
            const uint8_t *row = xg + oy * g->sh * pw;
            for (int32_t ox0 = 0;; ox0 += 8) {
                int32_t ox = ox0 + 8 <= g->ow ? ox0 : g->ow - 8, yi = oy * g->ow + ox;
                const uint8_t *px = row + ox;
                __m128i z = _mm_setzero_si128(), lo0 = _mm_set1_epi32(bias[o]), hi0 = lo0;
                __m128i lo1 = z, hi1 = z, lo2 = z, hi2 = z, lo3 = z, hi3 = z;
                if (nb == 4) {
                    lo1 = hi1 = _mm_set1_epi32(bias[o + 1]);
                    lo2 = hi2 = _mm_set1_epi32(bias[o + 2]);
                    lo3 = hi3 = _mm_set1_epi32(bias[o + 3]);
                }
                if (nb == 4) /* two loops: no test of nb inside */
                    for (int32_t p = 0; p < np; p++) {
                        SHIFTC_COLS_TAPS();
                        SHIFTC_COLS_MAC(0);
                        SHIFTC_COLS_MAC(1);
                        SHIFTC_COLS_MAC(2);
                        SHIFTC_COLS_MAC(3);
                    }
                else
                    for (int32_t p = 0; p < np; p++) {
                        SHIFTC_COLS_TAPS();
                        SHIFTC_COLS_MAC(0);
                    }
                shiftc_rq_store8(rq, m[0], lo0, hi0, yt, yo + yi);
                if (nb == 4) {
                    shiftc_rq_store8(rq, m[1], lo1, hi1, yt, yo + ohw + yi);
                    shiftc_rq_store8(rq, m[2], lo2, hi2, yt, yo + 2 * ohw + yi);
                    shiftc_rq_store8(rq, m[3], lo3, hi3, yt, yo + 3 * ohw + yi);
                }
                if (ox0 + 8 >= g->ow)
                    break;
            }
        }
        o += nb;
    }
}
#undef SHIFTC_COLS_MAC
#undef SHIFTC_COLS_TAPS

/* The same convolution with 256-bit vectors where the running core has
 * AVX2 (checked at run time, so an x86-64 build still runs on any x86-64):
 * two output rows at once, row oy in the low 128-bit lane and row oy + 1
 * in the high one, each lane computing exactly what shiftc_conv_cols_q
 * computes for its row (the same PMADDWD pairs and requantization, lane
 * by lane); an odd last row is computed in both lanes.  Not inlined (a
 * function for another instruction set cannot be); gcc clones it per
 * layer with the constant geometry. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(SHIFTC_NO_AVX2)
#include <immintrin.h>
#define SHIFTC_AVX2 1
#define SHIFTC_AVX2_FN static inline __attribute__((target("avx2")))

/* shiftc_rq_fast_x4 on both lanes */
SHIFTC_AVX2_FN __m256i shiftc_rq_fast_x8(__m256i acc, const int32_t m[3])
{
    __m256i neg = _mm256_srai_epi32(acc, 31), mult = _mm256_set1_epi32(m[0]);
    __m256i lo =
        _mm256_or_si256(_mm256_set1_epi32(0x40000000), _mm256_and_si256(neg, _mm256_set1_epi32(INT32_MIN)));
    __m256i hi = _mm256_sub_epi32(_mm256_set1_epi32(m[1]),
                                  _mm256_and_si256(neg, _mm256_set1_epi32((int32_t)((uint32_t)m[0] + 1u))));
    lo = _mm256_shuffle_epi32(lo, 0xd8);
    hi = _mm256_shuffle_epi32(hi, 0xd8);
    __m256i pe = _mm256_add_epi64(_mm256_mul_epu32(acc, mult), _mm256_unpacklo_epi32(lo, hi));
    __m256i po = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(acc, 32), mult), _mm256_unpackhi_epi32(lo, hi));
    __m256i h = _mm256_or_si256(_mm256_srli_epi64(pe, 32),
                                _mm256_and_si256(po, _mm256_set_epi32(-1, 0, -1, 0, -1, 0, -1, 0)));
    return _mm256_sra_epi32(h, _mm_cvtsi32_si128(m[2]));
}

/* shiftc_rq_store8 of the low lanes of lo, hi at d0 and the high ones at d1 */
SHIFTC_AVX2_FN void shiftc_rq_store8x2(const shiftc_rq *rq, const int32_t m[3], __m256i lo, __m256i hi, int yt,
                                       uint8_t *d0, uint8_t *d1)
{
    if (rq->fast && !rq->nm) {
        __m256i q = _mm256_packs_epi32(shiftc_rq_fast_x8(lo, m), shiftc_rq_fast_x8(hi, m));
        q = _mm256_adds_epi16(q, _mm256_set1_epi16((int16_t)rq->zero));
        q = _mm256_min_epi16(_mm256_max_epi16(q, _mm256_set1_epi16((int16_t)rq->lo)),
                             _mm256_set1_epi16((int16_t)rq->hi));
        q = yt == SHIFTC_U8 ? _mm256_packus_epi16(q, q) : _mm256_packs_epi16(q, q);
        _mm_storel_epi64((__m128i *)(void *)d0, _mm256_castsi256_si128(q));
        _mm_storel_epi64((__m128i *)(void *)d1, _mm256_extracti128_si256(q, 1));
    } else {
        shiftc_rq_store8(rq, m, _mm256_castsi256_si128(lo), _mm256_castsi256_si128(hi), yt, d0);
        shiftc_rq_store8(rq, m, _mm256_extracti128_si256(lo, 1), _mm256_extracti128_si256(hi, 1), yt, d1);
    }
}

/* tap pair p's 8 + 8 inputs of both rows, widened and interleaved */
#define SHIFTC_COLS2_TAPS()                                                                              \
    __m256i u = _mm256_inserti128_si256(                                                                 \
        _mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)(const void *)(px0 + off[2 * p]))),      \
        _mm_loadl_epi64((const __m128i *)(const void *)(px1 + off[2 * p])), 1);                          \
    __m256i v = _mm256_inserti128_si256(                                                                 \
        _mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)(const void *)(px0 + off[2 * p + 1]))),  \
        _mm_loadl_epi64((const __m128i *)(const void *)(px1 + off[2 * p + 1])), 1);                      \
    u = _mm256_unpacklo_epi8(u, sx ? _mm256_cmpgt_epi8(z, u) : z);                                       \
    v = _mm256_unpacklo_epi8(v, sx ? _mm256_cmpgt_epi8(z, v) : z);                                       \
    __m256i il = _mm256_unpacklo_epi16(u, v), ih = _mm256_unpackhi_epi16(u, v)

#define SHIFTC_COLS2_MAC(j)                                                                              \
    do {                                                                                                 \
        lo##j = _mm256_add_epi32(lo##j, _mm256_madd_epi16(il, wp[p][j]));                                \
        hi##j = _mm256_add_epi32(hi##j, _mm256_madd_epi16(ih, wp[p][j]));                                \
    } while (0)

SHIFTC_AVX2_FN void shiftc_conv_cols_avx2(const uint8_t *xp, int xt, const int8_t *w, const int32_t *bias,
                                          const shiftc_rq *rq, void *y, int yt, const shiftc_geom *g, int32_t b)
{
    int32_t icg = g->c / g->group, ocg = g->oc / g->group, kk = g->kh * g->kw, K = icg * kk, np = (K + 1) / 2;
    int32_t pw = g->w + g->pl + g->pr, plane = (g->h + g->pt + g->pb) * pw, sx = xt == SHIFTC_I8;
    int32_t off[2 * SHIFTC_WPAIRS], ohw = g->oh * g->ow;
    __m256i wp[SHIFTC_WPAIRS][4];
    shiftc_cols_offsets(g, pw, plane, off);
    for (int32_t o = 0; o < g->oc;) {
        int32_t nb = o % ocg + 4 <= ocg ? 4 : 1, m[4][3];
        const uint8_t *xg = xp + (size_t)(b * g->c + o / ocg * icg) * plane;
        uint8_t *yo = (uint8_t *)y + (size_t)(b * g->oc + o) * ohw;
        for (int32_t j = 0; j < nb; j++) {
            const int8_t *wr = w + (size_t)(o + j) * K;
            for (int32_t p = 0; p < np; p++)
                wp[p][j] = _mm256_set1_epi32(shiftc_cols_wpair(wr, p, K));
            shiftc_rq_load(rq, o + j, m[j]);
        }
        for (int32_t oy = 0; oy < g->oh; oy += 2) {
            int32_t oy1 = oy + 1 < g->oh ? oy + 1 : oy;
            const uint8_t *row0 = xg + oy * g->sh * pw, *row1 = xg + oy1 * g->sh * pw;
            for (int32_t ox0 = 0;; ox0 += 8) {
                int32_t ox = ox0 + 8 <= g->ow ? ox0 : g->ow - 8, y0 = oy * g->ow + ox, y1 = oy1 * g->ow + ox;
                const uint8_t *px0 = row0 + ox, *px1 = row1 + ox;
                __m256i z = _mm256_setzero_si256(), lo0 = _mm256_set1_epi32(bias[o]), hi0 = lo0;
                __m256i lo1 = z, hi1 = z, lo2 = z, hi2 = z, lo3 = z, hi3 = z;
                if (nb == 4) {
                    lo1 = hi1 = _mm256_set1_epi32(bias[o + 1]);
                    lo2 = hi2 = _mm256_set1_epi32(bias[o + 2]);
                    lo3 = hi3 = _mm256_set1_epi32(bias[o + 3]);
                    for (int32_t p = 0; p < np; p++) {
                        SHIFTC_COLS2_TAPS();
                        SHIFTC_COLS2_MAC(0);
                        SHIFTC_COLS2_MAC(1);
                        SHIFTC_COLS2_MAC(2);
                        SHIFTC_COLS2_MAC(3);
                    }
                } else
                    for (int32_t p = 0; p < np; p++) {
                        SHIFTC_COLS2_TAPS();
                        SHIFTC_COLS2_MAC(0);
                    }
                for (int32_t j = 0; j < nb; j++) {
                    __m256i l = j == 0 ? lo0 : j == 1 ? lo1 : j == 2 ? lo2 : lo3;
                    __m256i h = j == 0 ? hi0 : j == 1 ? hi1 : j == 2 ? hi2 : hi3;
                    shiftc_rq_store8x2(rq, m[j], l, h, yt, yo + j * ohw + y0, yo + j * ohw + y1);
                }
                if (ox0 + 8 >= g->ow)
                    break;
            }
        }
        o += nb;
    }
}
#undef SHIFTC_COLS2_MAC
#undef SHIFTC_COLS2_TAPS
#endif
#elif defined(__ARM_NEON) && defined(__aarch64__) && !defined(SHIFTC_NO_SIMD)
#include <arm_neon.h>
#define SHIFTC_MAC_SIMD 1
static inline int16x8_t shiftc_widen_x8(const uint8_t *x, int xt)
{
    return xt == SHIFTC_I8 ? vmovl_s8(vld1_s8((const int8_t *)x)) : vreinterpretq_s16_u16(vmovl_u8(vld1_u8(x)));
}

/* one row's 8 products added to s (s0..s3) */
#define SHIFTC_NEON_ROW(s, r)                                                                            \
    do {                                                                                                 \
        int16x8_t wv = vmovl_s8(vld1_s8(w + (size_t)(r) * k + i));                                      \
        s = vmlal_high_s16(vmlal_s16(s, vget_low_s16(xv), vget_low_s16(wv)), xv, wv);                    \
    } while (0)

SHIFTC_MAC_INLINE int32_t shiftc_mac_dot(const uint8_t *x, int xt, const int8_t *w, int32_t k, int rows,
                                         int32_t a[4])
{
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
    int32_t i = 0;
    for (; i + 8 <= k; i += 8) {
        int16x8_t xv = shiftc_widen_x8(x + i, xt);
        SHIFTC_NEON_ROW(s0, 0);
        if (rows == 4) {
            SHIFTC_NEON_ROW(s1, 1);
            SHIFTC_NEON_ROW(s2, 2);
            SHIFTC_NEON_ROW(s3, 3);
        }
    }
    a[0] += vaddvq_s32(s0);
    if (rows == 4)
        a[1] += vaddvq_s32(s1), a[2] += vaddvq_s32(s2), a[3] += vaddvq_s32(s3);
    return i;
}
#undef SHIFTC_NEON_ROW
#endif

/* y[yi + o*ys] = requant(o0 + o, bias[o0 + o] + sum_i w[o][i] * x[i]) for
 * the n rows o of w (layout `blocked`, above). */
SHIFTC_MAC_INLINE void shiftc_mac_rows_q(const void *x, int xt, const int8_t *w, int blocked, int32_t k,
                                         int32_t n, const int32_t *bias, const shiftc_rq *rq, int32_t o0,
                                         void *y, int yt, int32_t yi, int32_t ys)
{
    /* pointers and indices advance by increments: no o * k product that
     * gcc's loop analysis would suspect of overflowing */
    int32_t o, yo = yi, nb = blocked ? n & ~3 : 0;
    const int8_t *wrow = w;
    if (nb) {
        int32_t k4 = k & ~3, kt = k - k4;
        for (o = 0; o < nb; o += 4, wrow += 4 * k, yo += 4 * ys) {
            const int8_t *wp = wrow;
            int32_t a0 = bias[o0 + o], a1 = bias[o0 + o + 1], a2 = bias[o0 + o + 2], a3 = bias[o0 + o + 3];
            int32_t i = 0;
#ifdef SHIFTC_MAC_DSP
            if (!shiftc_is16(xt)) {
                const uint8_t *xp = (const uint8_t *)x;
                for (; i < k4; i += 4, wp += 16) {
                    uint32_t xv = shiftc_ld32u(xp + i), wv;
                    int32_t x02 = xt == SHIFTC_U8 ? (int32_t)__uxtb16(xv) : __sxtb16((int32_t)xv);
                    int32_t x13 = xt == SHIFTC_U8 ? shiftc_uxtb16_r8(xv) : shiftc_sxtb16_r8(xv);
                    wv = shiftc_ld32u(wp);
                    a0 = __smlad(__sxtb16((int32_t)wv), x02, a0);
                    a0 = __smlad(shiftc_sxtb16_r8(wv), x13, a0);
                    wv = shiftc_ld32u(wp + 4);
                    a1 = __smlad(__sxtb16((int32_t)wv), x02, a1);
                    a1 = __smlad(shiftc_sxtb16_r8(wv), x13, a1);
                    wv = shiftc_ld32u(wp + 8);
                    a2 = __smlad(__sxtb16((int32_t)wv), x02, a2);
                    a2 = __smlad(shiftc_sxtb16_r8(wv), x13, a2);
                    wv = shiftc_ld32u(wp + 12);
                    a3 = __smlad(__sxtb16((int32_t)wv), x02, a3);
                    a3 = __smlad(shiftc_sxtb16_r8(wv), x13, a3);
                }
            }
#endif
            for (; i < k4; i += 4, wp += 16)
                for (int32_t j = 0; j < 4; j++) {
                    int32_t xv = shiftc_ld(x, i + j, xt);
                    a0 += wp[j] * xv;
                    a1 += wp[4 + j] * xv;
                    a2 += wp[8 + j] * xv;
                    a3 += wp[12 + j] * xv;
                }
            for (int32_t j = 0; j < kt; j++) {
                int32_t xv = shiftc_ld(x, k4 + j, xt);
                a0 += wp[j] * xv;
                a1 += wp[kt + j] * xv;
                a2 += wp[2 * kt + j] * xv;
                a3 += wp[3 * kt + j] * xv;
            }
            shiftc_st(y, yo, yt, shiftc_rq_apply(rq, o0 + o, a0));
            shiftc_st(y, yo + ys, yt, shiftc_rq_apply(rq, o0 + o + 1, a1));
            shiftc_st(y, yo + 2 * ys, yt, shiftc_rq_apply(rq, o0 + o + 2, a2));
            shiftc_st(y, yo + 3 * ys, yt, shiftc_rq_apply(rq, o0 + o + 3, a3));
        }
    }
#ifdef SHIFTC_MAC_SIMD
    /* row-major, 8-bit inputs: four rows, then one at a time, with vectors */
    if (!blocked && !shiftc_is16(xt)) {
        const uint8_t *xp = (const uint8_t *)x;
        for (o = 0; o + 4 <= n; o += 4, wrow += 4 * k, yo += 4 * ys) {
            int32_t a[4] = {0, 0, 0, 0}, i = shiftc_mac_dot(xp, xt, wrow, k, 4, a);
            for (; i < k; i++) {
                int32_t xv = shiftc_ld(x, i, xt);
                a[0] += wrow[i] * xv;
                a[1] += wrow[k + i] * xv;
                a[2] += wrow[2 * k + i] * xv;
                a[3] += wrow[3 * k + i] * xv;
            }
            for (int32_t r = 0; r < 4; r++)
                shiftc_st(y, yo + r * ys, yt, shiftc_rq_apply(rq, o0 + o + r, bias[o0 + o + r] + a[r]));
        }
        for (; o < n; o++, wrow += k, yo += ys) {
            int32_t a[4] = {0, 0, 0, 0}, i = shiftc_mac_dot(xp, xt, wrow, k, 1, a);
            for (; i < k; i++)
                a[0] += wrow[i] * shiftc_ld(x, i, xt);
            shiftc_st(y, yo, yt, shiftc_rq_apply(rq, o0 + o, bias[o0 + o] + a[0]));
        }
        return;
    }
#endif
    /* row-major rows: every row of the plain layout, the last n % 4 of the
     * blocked one */
    for (o = nb; o < n; o++, wrow += k, yo += ys) {
        const int8_t *wr = wrow;
        int32_t a = bias[o0 + o], i = 0;
#ifdef SHIFTC_MAC_DSP
        if (!shiftc_is16(xt)) {
            const uint8_t *xp = (const uint8_t *)x;
            for (; i + 4 <= k; i += 4) {
                uint32_t xv = shiftc_ld32u(xp + i), wv = shiftc_ld32u(wr + i);
                int32_t x02 = xt == SHIFTC_U8 ? (int32_t)__uxtb16(xv) : __sxtb16((int32_t)xv);
                int32_t x13 = xt == SHIFTC_U8 ? shiftc_uxtb16_r8(xv) : shiftc_sxtb16_r8(xv);
                a = __smlad(__sxtb16((int32_t)wv), x02, a);
                a = __smlad(shiftc_sxtb16_r8(wv), x13, a);
            }
        }
#endif
        for (; i < k; i++)
            a += wr[i] * shiftc_ld(x, i, xt);
        shiftc_st(y, yo, yt, shiftc_rq_apply(rq, o0 + o, a));
    }
}

/* Dense: y[r][o] = requant(bias[o] + sum_i w[o][i] * x[r][i]), m rows of k
 * inputs, n outputs. */
SHIFTC_MAC_INLINE void shiftc_dense_mac_q(const void *x, int xt, const int8_t *w, int blocked,
                                          const int32_t *bias, const shiftc_rq *rq, void *y, int yt, int32_t m,
                                          int32_t k, int32_t n)
{
    int32_t xs = shiftc_is16(xt) ? 2 : 1;
    for (int32_t r = 0; r < m; r++)
        shiftc_mac_rows_q((const uint8_t *)x + (size_t)r * k * xs, xt, w, blocked, k, n, bias, rq, 0, y, yt,
                          r * n, 1);
}

/* ---- nibble-packed Dense tables ----
 * A Dense layer whose codes all lie in [-8, 7] (int2..int4, ternary, ttq),
 * with 8-bit inputs and k <= SHIFTC_MAC4_MAX_K, stores two codes per byte:
 * half the flash of the int8 table.  Each row's k codes are taken in
 * groups of 8 (the last one zero-filled), a group as 4 bytes, byte j
 * holding code j in its low nibble and code j + 4 in its high one.  Rows
 * come in blocks of 4, group by group (16 bytes: row 0's 4 bytes, row
 * 1's, ...), the n % 4 last rows after the blocks, one row at a time.
 * On ARMv7E-M a group's word gives its 8 codes as 16 x code in four
 * SXTB16 halfword pairs ((v << 4) & 0xf0f0f0f0 for codes 0-3, v &
 * 0xf0f0f0f0 for codes 4-7, each at ROR #0 and #8), which SMLAD pairs with
 * the inputs (0, 2), (1, 3), (4, 6), (5, 7); the sums are 16 times the
 * dot product, exact in int32 while 16 * 8 * 255 * k < 2^31, and divided
 * by 16 at the end.  Other targets unpack the nibbles in plain C. */
enum { SHIFTC_MAC4_MAX_K = 65536 };

/* Byte of code (o, i) of n rows of k codes; the code is its high nibble
 * when (i >> 2) & 1. */
static inline int32_t shiftc_mac4_index(int32_t o, int32_t i, int32_t k, int32_t n)
{
    int32_t rb = 4 * ((k + 7) >> 3), g = i >> 3;
    if (o >= (n & ~3))
        return o * rb + 4 * g + (i & 3);
    return (o & ~3) * rb + 16 * g + 4 * (o & 3) + (i & 3);
}

/* the low and high nibble of b as signed codes */
static inline int32_t shiftc_nib_lo(uint32_t b) { return (int32_t)((b & 15u) ^ 8u) - 8; }
static inline int32_t shiftc_nib_hi(uint32_t b) { return (int32_t)(((b >> 4) & 15u) ^ 8u) - 8; }

#ifdef SHIFTC_MAC_DSP
/* s += 16 x (codes 0-3 (sh = 4) or 4-7 (sh = 0) of the group word at p)
 * . (xe, xo), xe and xo the inputs (0, 2) and (1, 3) of that half */
#define SHIFTC_MAC4_HALF(s, p, sh)                                                                       \
    do {                                                                                                 \
        uint32_t v_ = (shiftc_ld32u(p) << (sh)) & 0xf0f0f0f0u;                                           \
        s = __smlad(__sxtb16((int32_t)v_), xe, s);                                                       \
        s = __smlad(shiftc_sxtb16_r8(v_), xo, s);                                                        \
    } while (0)
/* the 4 inputs at xh as the halfword pairs (0, 2) and (1, 3) */
#define SHIFTC_MAC4_X(xh)                                                                                \
    do {                                                                                                 \
        uint32_t xv_ = shiftc_ld32u(xh);                                                                 \
        xe = xt == SHIFTC_U8 ? (int32_t)__uxtb16(xv_) : __sxtb16((int32_t)xv_);                          \
        xo = xt == SHIFTC_U8 ? shiftc_uxtb16_r8(xv_) : shiftc_sxtb16_r8(xv_);                            \
    } while (0)
#endif

/* codes j and j + 4 of the group byte b times inputs xa and xb, added to a */
#define SHIFTC_MAC4_PAIR(a, b) (a += shiftc_nib_lo(b) * xa + shiftc_nib_hi(b) * xb)

/* Dense over a nibble-packed table: y[r][o] = requant(bias[o] + sum_i
 * w[o][i] * x[r][i]), m rows of k 8-bit inputs, n outputs. */
SHIFTC_MAC_INLINE void shiftc_dense_mac4_q(const void *x, int xt, const uint8_t *w, const int32_t *bias,
                                           const shiftc_rq *rq, void *y, int yt, int32_t m, int32_t k, int32_t n)
{
    int32_t rb = 4 * ((k + 7) >> 3), k8 = k & ~7, n4 = n & ~3;
    for (int32_t r = 0; r < m; r++) {
        const uint8_t *xr = (const uint8_t *)x + (size_t)r * k;
        const uint8_t *wrow = w;
        int32_t o = 0, yo = r * n;
        for (; o < n4; o += 4, wrow += 4 * rb, yo += 4) {
            const uint8_t *wg = wrow;
            int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, i = 0;
#ifdef SHIFTC_MAC_DSP
            int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, xe, xo;
            for (; i < k8; i += 8, wg += 16) {
                /* codes 0-3, then 4-7, each word loaded again: held over,
                   the four words and eight input pairs would not fit the
                   registers with the four sums (the barrier keeps gcc from
                   merging the two loads) */
                SHIFTC_MAC4_X(xr + i);
                SHIFTC_MAC4_HALF(s0, wg, 4);
                SHIFTC_MAC4_HALF(s1, wg + 4, 4);
                SHIFTC_MAC4_HALF(s2, wg + 8, 4);
                SHIFTC_MAC4_HALF(s3, wg + 12, 4);
                __asm__ volatile("" ::: "memory");
                SHIFTC_MAC4_X(xr + i + 4);
                SHIFTC_MAC4_HALF(s0, wg, 0);
                SHIFTC_MAC4_HALF(s1, wg + 4, 0);
                SHIFTC_MAC4_HALF(s2, wg + 8, 0);
                SHIFTC_MAC4_HALF(s3, wg + 12, 0);
            }
            a0 = s0 / 16, a1 = s1 / 16, a2 = s2 / 16, a3 = s3 / 16;
#endif
            for (; i < k8; i += 8, wg += 16)
                for (int32_t j = 0; j < 4; j++) {
                    int32_t xa = shiftc_ld(xr, i + j, xt), xb = shiftc_ld(xr, i + j + 4, xt);
                    SHIFTC_MAC4_PAIR(a0, wg[j]), SHIFTC_MAC4_PAIR(a1, wg[4 + j]);
                    SHIFTC_MAC4_PAIR(a2, wg[8 + j]), SHIFTC_MAC4_PAIR(a3, wg[12 + j]);
                }
            for (int32_t j = 0; i + j < k; j++) { /* the last group's k % 8 codes */
                int32_t xa = j < 4 ? shiftc_ld(xr, i + j, xt) : 0, xb = j < 4 ? 0 : shiftc_ld(xr, i + j, xt);
                SHIFTC_MAC4_PAIR(a0, wg[j & 3]), SHIFTC_MAC4_PAIR(a1, wg[4 + (j & 3)]);
                SHIFTC_MAC4_PAIR(a2, wg[8 + (j & 3)]), SHIFTC_MAC4_PAIR(a3, wg[12 + (j & 3)]);
            }
            shiftc_st(y, yo, yt, shiftc_rq_apply(rq, o, bias[o] + a0));
            shiftc_st(y, yo + 1, yt, shiftc_rq_apply(rq, o + 1, bias[o + 1] + a1));
            shiftc_st(y, yo + 2, yt, shiftc_rq_apply(rq, o + 2, bias[o + 2] + a2));
            shiftc_st(y, yo + 3, yt, shiftc_rq_apply(rq, o + 3, bias[o + 3] + a3));
        }
        for (; o < n; o++, wrow += rb, yo++) {
            const uint8_t *wg = wrow;
            int32_t a = 0, i = 0;
#ifdef SHIFTC_MAC_DSP
            int32_t s = 0, xe, xo;
            for (; i < k8; i += 8, wg += 4) {
                SHIFTC_MAC4_X(xr + i);
                SHIFTC_MAC4_HALF(s, wg, 4);
                SHIFTC_MAC4_X(xr + i + 4);
                SHIFTC_MAC4_HALF(s, wg, 0);
            }
            a = s / 16;
#endif
            for (; i < k8; i += 8, wg += 4)
                for (int32_t j = 0; j < 4; j++) {
                    int32_t xa = shiftc_ld(xr, i + j, xt), xb = shiftc_ld(xr, i + j + 4, xt);
                    SHIFTC_MAC4_PAIR(a, wg[j]);
                }
            for (int32_t j = 0; i + j < k; j++) {
                int32_t xa = j < 4 ? shiftc_ld(xr, i + j, xt) : 0, xb = j < 4 ? 0 : shiftc_ld(xr, i + j, xt);
                SHIFTC_MAC4_PAIR(a, wg[j & 3]);
            }
            shiftc_st(y, yo, yt, shiftc_rq_apply(rq, o, bias[o] + a));
        }
    }
}
#undef SHIFTC_MAC4_PAIR
#ifdef SHIFTC_MAC_DSP
#undef SHIFTC_MAC4_HALF
#undef SHIFTC_MAC4_X
#endif

/* Conv over the zero-padded input xp (planes of (h+pt+pb) x (w+pl+pr); the
 * input itself when there is no padding), weights [oc][icg*kh*kw] with the
 * rows of each group laid out as n = oc/group rows (layout `blocked`);
 * col: scratch of icg*kh*kw codes (unused by depthwise layers); slack: 1 if
 * 3 bytes past the end of xp may be read (and ignored), which lets a
 * depthwise 3x3 layer read each kernel row as one word on ARMv7E-M. */
SHIFTC_MAC_INLINE void shiftc_conv_mac_q(const void *xp, int xt, const int8_t *w, int blocked,
                                         const int32_t *bias, const shiftc_rq *rq, void *y, int yt,
                                         const shiftc_geom *g, void *col, int slack)
{
    int32_t icg = g->c / g->group, ocg = g->oc / g->group;
    int32_t ph = g->h + g->pt + g->pb, pw = g->w + g->pl + g->pr, plane = ph * pw;
    int32_t kk = g->kh * g->kw, K = icg * kk, ohw = g->oh * g->ow;
    (void)slack; /* used by the DSP path only */
    for (int32_t b = 0; b < g->n; b++) {
        if (icg == 1 && ocg == 1) { /* depthwise: one weight row per channel */
            for (int32_t c = 0; c < g->c; c++) {
                int32_t xb = (b * g->c + c) * plane, yb = (b * g->oc + c) * ohw, m[3];
                const int8_t *wc = w + c * kk;
                shiftc_rq_load(rq, c, m);
#ifdef SHIFTC_MAC_DSP
                /* one unaligned word per kernel row: SXTB16 gives (x0, x2) for
                 * SMLAD with (w0, w2), ROR #8 then x1 for SMLABB; byte 3 is
                 * read and ignored, so xp must have 3 bytes of slack */
                if (g->kh == 3 && g->kw == 3 && g->dw == 1 && slack && !shiftc_is16(xt)) {
                    int32_t a02 = (int32_t)((uint32_t)(uint16_t)wc[0] | ((uint32_t)(uint16_t)wc[2] << 16));
                    int32_t b02 = (int32_t)((uint32_t)(uint16_t)wc[3] | ((uint32_t)(uint16_t)wc[5] << 16));
                    int32_t c02 = (int32_t)((uint32_t)(uint16_t)wc[6] | ((uint32_t)(uint16_t)wc[8] << 16));
                    int32_t a1 = wc[1], b1 = wc[4], c1 = wc[7], bc = bias[c];
                    const uint8_t *xq = (const uint8_t *)xp + xb;
                    int32_t r1 = g->dh * pw, r2 = 2 * g->dh * pw;
                    for (int32_t oy = 0; oy < g->oh; oy++) {
                        const uint8_t *row = xq + oy * g->sh * pw;
                        for (int32_t ox = 0; ox < g->ow; ox++, row += g->sw) {
                            uint32_t v0 = shiftc_ld32u(row), v1 = shiftc_ld32u(row + r1), v2 = shiftc_ld32u(row + r2);
                            int32_t a;
                            if (xt == SHIFTC_U8) {
                                a = __smlad((int32_t)__uxtb16(v0), a02, bc);
                                a = __smlabb(shiftc_uxtb16_r8(v0), a1, a);
                                a = __smlad((int32_t)__uxtb16(v1), b02, a);
                                a = __smlabb(shiftc_uxtb16_r8(v1), b1, a);
                                a = __smlad((int32_t)__uxtb16(v2), c02, a);
                                a = __smlabb(shiftc_uxtb16_r8(v2), c1, a);
                            } else {
                                a = __smlad(__sxtb16((int32_t)v0), a02, bc);
                                a = __smlabb(shiftc_sxtb16_r8(v0), a1, a);
                                a = __smlad(__sxtb16((int32_t)v1), b02, a);
                                a = __smlabb(shiftc_sxtb16_r8(v1), b1, a);
                                a = __smlad(__sxtb16((int32_t)v2), c02, a);
                                a = __smlabb(shiftc_sxtb16_r8(v2), c1, a);
                            }
                            shiftc_st(y, yb + oy * g->ow + ox, yt, shiftc_rq_value(rq, m, a));
                        }
                    }
                    continue;
                }
#endif
                if (g->kh == 3 && g->kw == 3) { /* the weights in registers */
                    int32_t w0 = wc[0], w1 = wc[1], w2 = wc[2], w3 = wc[3], w4 = wc[4], w5 = wc[5];
                    int32_t w6 = wc[6], w7 = wc[7], w8 = wc[8], bc = bias[c];
                    int32_t r1 = g->dh * pw, r2 = 2 * g->dh * pw, c1 = g->dw, c2 = 2 * g->dw;
                    for (int32_t oy = 0; oy < g->oh; oy++)
                        for (int32_t ox = 0; ox < g->ow; ox++) {
                            int32_t p = xb + oy * g->sh * pw + ox * g->sw;
                            int32_t a = bc + w0 * shiftc_ld(xp, p, xt) + w1 * shiftc_ld(xp, p + c1, xt) +
                                        w2 * shiftc_ld(xp, p + c2, xt) + w3 * shiftc_ld(xp, p + r1, xt) +
                                        w4 * shiftc_ld(xp, p + r1 + c1, xt) + w5 * shiftc_ld(xp, p + r1 + c2, xt) +
                                        w6 * shiftc_ld(xp, p + r2, xt) + w7 * shiftc_ld(xp, p + r2 + c1, xt) +
                                        w8 * shiftc_ld(xp, p + r2 + c2, xt);
                            shiftc_st(y, yb + oy * g->ow + ox, yt, shiftc_rq_value(rq, m, a));
                        }
                    continue;
                }
                for (int32_t oy = 0; oy < g->oh; oy++)
                    for (int32_t ox = 0; ox < g->ow; ox++) {
                        int32_t p = xb + oy * g->sh * pw + ox * g->sw, a = bias[c];
                        for (int32_t ky = 0; ky < g->kh; ky++)
                            for (int32_t kx = 0; kx < g->kw; kx++)
                                a += wc[ky * g->kw + kx] * shiftc_ld(xp, p + ky * g->dh * pw + kx * g->dw, xt);
                        shiftc_st(y, yb + oy * g->ow + ox, yt, shiftc_rq_value(rq, m, a));
                    }
            }
            continue;
        }
#if defined(SHIFTC_MAC_SIMD) && defined(__SSE2__)
        if (shiftc_conv_cols_ok(g, xt, yt, blocked)) {
#ifdef SHIFTC_AVX2
            if (__builtin_cpu_supports("avx2")) {
                shiftc_conv_cols_avx2((const uint8_t *)xp, xt, w, bias, rq, y, yt, g, b);
                continue;
            }
#endif
            shiftc_conv_cols_q((const uint8_t *)xp, xt, w, bias, rq, y, yt, g, b);
            continue;
        }
#endif
        for (int32_t oy = 0; oy < g->oh; oy++)
            for (int32_t ox = 0; ox < g->ow; ox++)
                for (int32_t gr = 0; gr < g->group; gr++) {
                    int32_t j = 0, p0 = (b * g->c + gr * icg) * plane + oy * g->sh * pw + ox * g->sw;
                    for (int32_t i = 0; i < icg; i++)
                        for (int32_t ky = 0; ky < g->kh; ky++) {
                            int32_t p = p0 + i * plane + ky * g->dh * pw;
                            if (shiftc_is16(xt))
                                for (int32_t kx = 0; kx < g->kw; kx++)
                                    ((uint16_t *)col)[j++] = ((const uint16_t *)xp)[p + kx * g->dw];
                            else if (g->dw == 1) { /* a kernel row is contiguous: a few moves, no loop */
                                __builtin_memcpy((uint8_t *)col + j, (const uint8_t *)xp + p, (size_t)g->kw);
                                j += g->kw;
                            } else
                                for (int32_t kx = 0; kx < g->kw; kx++)
                                    ((uint8_t *)col)[j++] = ((const uint8_t *)xp)[p + kx * g->dw];
                        }
                    shiftc_mac_rows_q(col, xt, w + gr * ocg * K, blocked, K, ocg, bias, rq, gr * ocg, y, yt,
                                      (b * g->oc + gr * ocg) * ohw + oy * g->ow + ox, ohw);
                }
    }
}

#endif
