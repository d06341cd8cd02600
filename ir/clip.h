/*
 * Activation ranges from calibration statistics: min/max, a percentile of
 * |x|, or ACIQ analytical clipping (algorithms.md section 2).
 *
 * Every method gives the real range R > 0 that the tensor's codes span:
 * [-R, R] for symmetric signed codes, [0, R] for unsigned ones (zero
 * point 0).  Clipping only ever narrows the min/max range, never widens it.
 * All functions are pure and deterministic.
 */
#ifndef SHIFTC_CLIP_H
#define SHIFTC_CLIP_H

#include <stdint.h>

#include "ir.h"

#define CLIP_DEFAULT_PCT 99.99

/* ACIQ clipping factor: alpha* = k * b for a Laplace(b) distribution
 * (gauss = 0) or k * sigma for a Gaussian (gauss = 1), quantized
 * uniformly with 2^bits levels over [-alpha, alpha].  bits 2..8: the
 * tables of algorithms.md; other bits >= 1: clip_aciq_solve. */
double clip_aciq_k(int gauss, int bits);

/* The alpha (b = 1 or sigma = 1) minimising clipping noise plus
 * quantization noise alpha^2 / (3 * 4^bits), by bisection on the
 * derivative:
 *   Laplace:  2 e^-a = 2a / (3 * 4^bits)
 *   Gaussian: 4 (phi(a) - a (1 - Phi(a))) = 2a / (3 * 4^bits)
 * It reproduces the tables to their 2 decimals. */
double clip_aciq_solve(int gauss, int bits);

/* The Laplace b of ACIQ, mean |x - mean(x)|, of n values (0 for n = 0);
 * the same quantity ir_calibrate streams into CalStats.mad. */
double clip_laplace_b(const float *x, int64_t n);

/* The pct-th percentile (0 < pct <= 100) of |x| from a histogram of nbins
 * equal bins over [0, hmax]: the upper edge of the first bin at which the
 * cumulative count reaches pct% of the total (so at least pct% of the
 * values are <= the result).  0 for an empty histogram. */
double clip_percentile(const int64_t *hist, int nbins, double hmax, double pct);

/* The range R (> 0 unless the min/max range is 0) of tensor t's codes for
 * method m at `bits` code bits, from its calibration (cal_min, cal_max,
 * t->cal); t->nonneg says whether the codes are unsigned.  pct:
 * CLIP_PERCENTILE's percentile (<= 0: the default).
 *   CLIP_MINMAX      max(|cal_min|, |cal_max|) (unsigned: max(cal_max, 0))
 *   CLIP_PERCENTILE  the percentile of |x|
 *   CLIP_ACIQ        signed: |mean| + k(bits) * b, b = mean|x - mean|;
 *                    unsigned: k(bits + 1) * b, b = mean of the values > 0
 *                    (one-sided tail, see clip.c)
 *   CLIP_ACIQ_GAUSS  the same with sigma (std; unsigned: rms of the values
 *                    > 0) and the Gaussian k
 * each capped by the min/max range.  ACIQ at 16 bits or more is min/max
 * (clipping gains nothing there), and so is every method for a tensor
 * without statistics (t->cal.count == 0). */
double clip_range(const Tensor *t, ClipMethod m, double pct, int bits);

/* "minmax", "percentile", "aciq", "aciq-gauss". */
const char *clip_method_name(ClipMethod m);

/* Parses a method name, "percentile:P" (0 < P <= 100) included; returns 0,
 * or -1 for an unknown name or a bad P. */
int clip_method_parse(const char *s, ClipMethod *m, double *pct);

#endif
