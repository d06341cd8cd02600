/*
 * Quantization helpers behind ir_quantize(), exposed so that later schemes
 * (multiplierless requantization, other weight formats) and the tests reuse
 * the very same arithmetic.  All are deterministic and pure.
 */
#ifndef SHIFTC_QUANT_H
#define SHIFTC_QUANT_H

#include <stdint.h>

#include "ir.h"

/* Requantization shift range: shiftc_mul_q shifts left by up to 30 and
 * shiftc_rdpot right by up to 31. */
#define QUANT_SHIFT_MIN (-31)
#define QUANT_SHIFT_MAX 30

/* gemmlowp QuantizeMultiplier: m ~= mult * 2^(shift - 31) with mult in
 * [2^30, 2^31) (or 0).  m <= 0, NaN, or too small for shift >= -31 gives
 * mult = shift = 0; too large saturates to (INT32_MAX, QUANT_SHIFT_MAX). */
void quant_multiplier(double m, int32_t *mult, int32_t *shift);

/* The real number (mult, shift) stands for: mult * 2^(shift - 31). */
double quant_multiplier_value(int32_t mult, int32_t shift);

/* Round half away from zero, saturated to [lo, hi]; NaN gives 0 clamped. */
int32_t quant_round_clamp(double v, int32_t lo, int32_t hi);

/* Code range of a storage type (int8: [-128, 127], uint16: [0, 65535]...). */
void quant_type_range(QType t, int32_t *lo, int32_t *hi);

/* Bytes per code of a storage type: 1 or 2. */
int quant_type_bytes(QType t);
int quant_is_unsigned(QType t);

/* Code bits of q (q->bits, or the storage width when 0) and the codes
 * they allow: [0, 2^bits - 1] unsigned, [-2^(bits-1), 2^(bits-1) - 1]
 * signed.  What every clamp of an activation uses. */
int quant_bits(const QParams *q);
void quant_code_range(const QParams *q, int32_t *lo, int32_t *hi);

/* Activation QParams for a real range R (zero point 0) with `bits` code
 * bits (4, 8 or 16): unsigned codes with scale R/(2^bits - 1) when nonneg,
 * else signed ones with scale R/(2^(bits-1) - 1); storage uint8/int8 up to
 * 8 bits, uint16/int16 for 16.  A degenerate or non-finite range still
 * gets a positive, normal scale. */
QParams quant_act_range_params(double range, int nonneg, int bits);

/* 8-bit activation QParams from a real range [min, max]: R = max when
 * nonneg, else max(|min|, |max|). */
QParams quant_act_params(float min, float max, int nonneg);

/* Symmetric int8 codes of one weight channel of `count` values:
 * scale = max|w|/127 (1 for an all-zero channel), codes rounded half away
 * from zero into [-127, 127]. */
void quant_weight_channel(const float *w, int64_t count, int32_t *codes, float *scale);

/* A constant data operand (Add, Concat): per-tensor symmetric int8, or
 * uint8 when every value is >= 0; fills t->q and t->qdata (replacing it). */
void quant_const_tensor(Tensor *t);

/* Entries of an elementwise table over input codes of storage type t:
 * 256 for 8-bit storage, 257 for 16-bit (shiftc_lut_interp). */
int quant_lut_size(QType t);

/* Table (quant_lut_size(qx->type) entries) of an elementwise real function
 * f for codes of qx mapped to codes of qy: entry i is
 * clamp(round(f(s_x*(c - z_x)) / s_y) + z_y, lo, hi) at the code
 * c = type minimum + i (8-bit storage) or type minimum + 256 i (16-bit;
 * the runtime interpolates between entries). */
void quant_build_lut(const QParams *qx, const QParams *qy, double (*f)(double x, const void *ctx),
                     const void *ctx, int32_t lo, int32_t hi, int32_t *lut);

/* Conv, Dense (n->q built): the largest |accumulator| any input can produce,
 * per channel sum |q| * max|x - z_x| + |bias| (algorithms.md section 6).
 * Fails (g->err) when it could exceed int32; else sets n->prec.acc_bits to
 * 16 when every channel's bound fits int16, 32 otherwise.  Called by
 * ir_quantize, and again by whatever changes the codes or the bias.
 * acc_bits 16 is recorded and reported, not emitted: every partial sum of
 * an unrolled kernel is bounded by the same sum, so an int16_t accumulator
 * would be exact, but C computes in int anyway and on the 32/64-bit
 * targets an int16_t variable only adds a sign extension per statement
 * (sxth on ARM) and implicit narrowing conversions; the emitter and the
 * simulator keep int32_t. */
int quant_acc_bits(Graph *g, Node *n);

/* ---- multiplierless mode (Graph.no_mul) ----
 * A two-term multiplier nm = {e1, s2, e2} stands for 2^-e1 + s2 * 2^-e2
 * (runtime/shiftc_rt.h, shiftc_mul_nomul).  Valid: -29 <= e1 <= 31,
 * s2 in {-1, 0, 1}, and when s2 != 0: 1 <= e2 - e1 <= QUANT_NM_MAX_GAP and
 * e2 + max(0, 1 - e1) <= 30. */
#define QUANT_NM_MAX_GAP 16
#define QUANT_NM_MAX_CAND (4 * (1 + 2 * QUANT_NM_MAX_GAP))

int quant_nm_valid(const int32_t nm[3]);
double quant_nm_value(const int32_t nm[3]);

/* The valid two-term multipliers whose leading term is 2^(x-2) .. 2^(x+1),
 * m (clamped to [2^-31, 2^29]) being in [2^(x-1), 2^x): every one within a
 * factor 1.5 of m, in a fixed order (leading term ascending, the single
 * term first).  Returns the count, <= QUANT_NM_MAX_CAND. */
int quant_nm_candidates(double m, int32_t (*out)[3]);

/* The valid two-term multiplier nearest to m (single terms win ties).
 * For m in [2^-26, 2^29): |m - M'| <= m/11, the worst case being
 * m = 1.375 * 2^k, between 1.25 * 2^k and 1.5 * 2^k.  m <= 0 or NaN gives
 * the smallest valid multiplier 2^-31, +inf the largest. */
void quant_nm_nearest(double m, int32_t nm[3]);

/* The largest valid two-term multiplier <= m (2^-31 when there is none):
 * m/1.2 <= M' <= m for m in [2^-26, 2^29). */
void quant_nm_floor(double m, int32_t nm[3]);

/* Add in no-mul mode: two-term input multipliers ma, mb whose ratio mb/ma
 * is nearest r = sb/sa (r > 0); the one of the larger scale is in
 * [1/4, 1/2].  Never worse than ma = 1/2, mb = nearest(r/2) (within 1/11);
 * in practice within 1% of r, 0.2% on average (ratios of two-term values
 * are dense; tests/unit/test_nomul.c measures it). */
void quant_nm_pair(double r, int32_t ma[3], int32_t mb[3]);

/* One weight channel in no-mul mode: the requantization multiplier is
 * M = sx * sw / sy, so instead of approximating M the weight scale sw is
 * chosen to make it a two-term value exactly.  Candidates: every two-term
 * M' within a factor 1.25 of sx * (max|w|/127) / sy (so at least one,
 * the next one up, clips no weight); the one whose codes
 * round(w / sw), sw = M' * sy / sx, clamped to [-127, 127], give the
 * least squared error sum (w - sw * code)^2 wins.  Writes the codes, sw
 * and M' (nm).  An all-zero channel gets zero codes and M' nearest sx/sy. */
void quant_nm_weight_channel(const float *w, int64_t count, double sx, double sy, int32_t *codes,
                             double *sw, int32_t nm[3]);

#endif
