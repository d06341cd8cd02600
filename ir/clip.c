/*
 * Activation ranges (clip.h): min/max, percentile of |x| and ACIQ.
 *
 * ACIQ (Banner et al., "Post training 4-bit quantization of convolutional
 * networks for rapid-deployment"): model the values as Laplace(mean, b) or
 * Gaussian(mean, sigma) and clip at the alpha that minimises clipping noise
 * plus uniform quantization noise.  For a symmetric range [-alpha, alpha]
 * with 2^M levels the quantization noise is alpha^2 / (3 * 4^M); the
 * optimum is alpha* = k(M) * b (or * sigma), k tabulated in algorithms.md
 * section 2 for M = 2..8.  Choices made here (the paper leaves them open):
 *   - b = mean|x - mean(x)| and sigma = std(x) over every value of the
 *     tensor in the calibration set (per tensor, not per channel);
 *   - the clipped range is centred on the mean: R = |mean| + alpha, then
 *     capped by the min/max range (R never grows);
 *   - unsigned (post-ReLU, one-sided) codes use k(M + 1), "the next row
 *     up", with b (sigma) of the positive values: b = mean of x > 0,
 *     sigma = sqrt(mean of x^2 over x > 0), and R = alpha from 0.  ReLU
 *     leaves zeros (quantized exactly) and the positive tail of the
 *     distribution; for an exponential tail of scale b, 2^M levels over
 *     [0, alpha] have the noise of 2^(M+1) levels over [-alpha, alpha] and
 *     the optimum is k(M + 1) * b exactly.  mean|x - mean| over all values
 *     would count the zeros and underestimate b (by ~40% for half zeros,
 *     more for more), clipping too much;
 *   - M beyond the table (9: one-sided 8-bit codes) is solved numerically
 *     from the same noise model; at 16 bits ACIQ is min/max.
 */
#include "clip.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* algorithms.md section 2, bits 2..8 */
static const double laplace_k[7] = {2.83, 3.89, 5.03, 6.20, 7.41, 8.64, 9.89};
static const double gauss_k[7] = {1.71, 2.15, 2.55, 2.93, 3.28, 3.61, 3.92};

/* Clipping-noise slope minus quantization-noise slope at alpha (b = 1 or
 * sigma = 1): decreasing in alpha, zero at the optimum. */
static double aciq_slope(int gauss, int bits, double a)
{
    double quant = 2 * a / (3 * ldexp(1.0, 2 * bits));
    if (!gauss)
        return 2 * exp(-a) - quant;
    double phi = exp(-a * a / 2) * 0.398942280401432678; /* 1 / sqrt(2 pi) */
    double tail = 0.5 * erfc(a / sqrt(2.0)); /* 1 - Phi(a) */
    return 4 * (phi - a * tail) - quant;
}

double clip_aciq_solve(int gauss, int bits)
{
    ensure(bits >= 1 && bits <= 32);
    double lo = 1e-9, hi = 64;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (aciq_slope(gauss, bits, mid) > 0)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

double clip_aciq_k(int gauss, int bits)
{
    if (bits >= 2 && bits <= 8)
        return gauss ? gauss_k[bits - 2] : laplace_k[bits - 2];
    return clip_aciq_solve(gauss, bits);
}

double clip_laplace_b(const float *x, int64_t n)
{
    if (n <= 0)
        return 0;
    double sum = 0, dev = 0;
    for (int64_t i = 0; i < n; i++)
        sum += x[i];
    double mean = sum / (double)n;
    for (int64_t i = 0; i < n; i++)
        dev += fabs((double)x[i] - mean);
    return dev / (double)n;
}

double clip_percentile(const int64_t *hist, int nbins, double hmax, double pct)
{
    int64_t total = 0;
    for (int i = 0; i < nbins; i++)
        total += hist[i];
    if (total == 0 || nbins <= 0)
        return 0;
    /* the rank of the value: the first count >= need */
    double need = pct / 100.0 * (double)total;
    int64_t cum = 0;
    for (int i = 0; i < nbins; i++) {
        cum += hist[i];
        if ((double)cum >= need && cum > 0)
            return hmax * (double)(i + 1) / nbins;
    }
    return hmax;
}

double clip_range(const Tensor *t, ClipMethod m, double pct, int bits)
{
    double full = t->nonneg ? fmax((double)t->cal_max, 0)
                            : fmax(fabs((double)t->cal_min), fabs((double)t->cal_max));
    const CalStats *c = &t->cal;
    if (m == CLIP_MINMAX || c->count == 0 || !(full > 0) || !isfinite(full))
        return full;
    double r = full;
    switch (m) {
    case CLIP_PERCENTILE:
        if (c->hist)
            r = clip_percentile(c->hist, IR_CAL_BINS, c->hmax, pct > 0 ? pct : CLIP_DEFAULT_PCT);
        break;
    case CLIP_ACIQ:
    case CLIP_ACIQ_GAUSS:
        if (bits >= 16)
            break;
        {
            int gauss = m == CLIP_ACIQ_GAUSS;
            if (t->nonneg) {
                double k = clip_aciq_k(gauss, bits + 1);
                r = k * (gauss ? c->pos_rms : c->pos_mean);
            } else {
                r = fabs(c->mean) + clip_aciq_k(gauss, bits) * (gauss ? c->std : c->mad);
            }
        }
        break;
    default:
        break;
    }
    /* never wider than what was seen; a degenerate estimate (all values
     * equal: b = 0) keeps the min/max range */
    return r > 0 && r < full ? r : full;
}

const char *clip_method_name(ClipMethod m)
{
    switch (m) {
    case CLIP_MINMAX: return "minmax";
    case CLIP_PERCENTILE: return "percentile";
    case CLIP_ACIQ: return "aciq";
    case CLIP_ACIQ_GAUSS: return "aciq-gauss";
    }
    return "?";
}

int clip_method_parse(const char *s, ClipMethod *m, double *pct)
{
    *pct = 0;
    if (!strcmp(s, "minmax"))
        *m = CLIP_MINMAX;
    else if (!strcmp(s, "aciq"))
        *m = CLIP_ACIQ;
    else if (!strcmp(s, "aciq-gauss"))
        *m = CLIP_ACIQ_GAUSS;
    else if (!strcmp(s, "percentile"))
        *m = CLIP_PERCENTILE;
    else if (!strncmp(s, "percentile:", 11)) {
        char *end;
        double p = strtod(s + 11, &end);
        if (end == s + 11 || *end || !(p > 0 && p <= 100))
            return -1;
        *m = CLIP_PERCENTILE;
        *pct = p;
    } else {
        return -1;
    }
    return 0;
}
