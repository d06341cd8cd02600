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

/* Code range of a storage type. */
void quant_type_range(QType t, int32_t *lo, int32_t *hi);

/* Activation QParams from a real range [min, max] (zero point 0): uint8
 * with scale max/255 when nonneg, else int8 with scale max|.|/127.  A
 * degenerate or non-finite range still gets a positive, normal scale. */
QParams quant_act_params(float min, float max, int nonneg);

/* Symmetric int8 codes of one weight channel of `count` values:
 * scale = max|w|/127 (1 for an all-zero channel), codes rounded half away
 * from zero into [-127, 127]. */
void quant_weight_channel(const float *w, int64_t count, int32_t *codes, float *scale);

/* A constant data operand (Add, Concat): per-tensor symmetric int8, or
 * uint8 when every value is >= 0; fills t->q and t->qdata (replacing it). */
void quant_const_tensor(Tensor *t);

/* 256-entry table of an elementwise real function f for codes of qx mapped
 * to codes of qy: clamp(round(f(s_x*(c - z_x)) / s_y) + z_y, lo, hi),
 * indexed by (c - type minimum of qx). */
void quant_build_lut(const QParams *qx, const QParams *qy, double (*f)(double x, const void *ctx),
                     const void *ctx, int32_t lo, int32_t hi, int32_t *lut);

#endif
