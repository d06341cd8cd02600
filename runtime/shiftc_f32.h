/*
 * shiftc float runtime: the float kernels of every float program shiftc
 * emits (the conformance path), and of the compiler's float reference
 * interpreter (ir/interp.c), which calls these very functions so that the
 * interpreter and emitted float code cannot drift apart.
 *
 * Plain C99, header-only, allocation-free; includes only <stdint.h>,
 * <stddef.h>, <math.h> and <float.h>, so it builds on bare-metal targets.
 * It knows nothing of the compiler's IR: sizes are int32_t arguments or the
 * small structs below, laid out like their integer twins in shiftc_rt.h
 * (same field names) so an emitter can print both the same way.
 *
 * Conventions:
 *   - Activations are NCHW, row-major, batch n looped inside the kernel.
 *     1-D convolutions and pools are 2-D ones with h = 1.
 *   - Arguments: inputs, then outputs, then sizes.
 *   - Elementwise kernels (relu, clip, ...), softmax and copy may run in
 *     place (x == y); the others need distinct buffers.
 *   - Sums accumulate in float, in a fixed order documented per kernel, so
 *     the same call gives the same bits wherever it runs with the same
 *     float semantics (no -ffast-math).
 *   - A Relu or Clip fused into a Conv/Dense is applied by calling
 *     shiftc_f32_relu / shiftc_f32_clip on the layer's output, in place.
 */
#ifndef SHIFTC_F32_H
#define SHIFTC_F32_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define SHIFTC_F32_MAX_RANK 6

/* Geometry of one 2-D convolution or pool over NCHW data (1-D: h = 1).
 * Output sizes (oh, ow) are computed by the caller (the compiler's shape
 * inference, ceil_mode included); the kernels only read the pads they need
 * to place windows and, for count_include_pad, to bound them. */
typedef struct shiftc_f32_geom {
    int32_t n, c, h, w;        /* input: batch, channels, height, width */
    int32_t oc, oh, ow;        /* output channels (pools: oc = c), height, width */
    int32_t kh, kw, sh, sw, dh, dw; /* kernel, strides, dilations */
    int32_t pt, pl, pb, pr;    /* padding: top, left, bottom, right */
    int32_t group;             /* conv only: c and oc are multiples of it */
    int32_t count_include_pad; /* average pool only */
} shiftc_f32_geom;

/* Broadcast iteration for a binary elementwise op: the output dims and,
 * per input, the element stride of each output dim (0 along dims that
 * input broadcasts).  rank <= SHIFTC_F32_MAX_RANK. */
typedef struct shiftc_f32_bcast {
    int32_t rank;
    int32_t dims[SHIFTC_F32_MAX_RANK];
    int32_t sa[SHIFTC_F32_MAX_RANK], sb[SHIFTC_F32_MAX_RANK];
} shiftc_f32_bcast;

/* ---- weighted layers ---- */

/* First k in [0, kn) with 0 <= base + k*d, and one past the last with
 * base + k*d < len: the taps of a window that fall inside the input. */
static inline void shiftc_f32_taps(int32_t base, int32_t d, int32_t kn, int32_t len,
                                   int32_t *lo, int32_t *hi)
{
    int32_t a = base < 0 ? (-base + d - 1) / d : 0;
    int32_t b = base <= len - 1 ? (len - 1 - base) / d + 1 : 0;
    b = b < kn ? b : kn;
    *lo = a;
    *hi = b > a ? b : a; /* empty when the window misses the input */
}

/* Convolution with groups, strides, dilations and asymmetric pads (zero
 * padding).  w is [oc][c/group][kh][kw], b is [oc] or NULL.  Each output is
 * b[o] + sum over (input channel, ky, kx) in that order of x * w. */
static inline void shiftc_f32_conv2d(const float *x, const float *w, const float *b, float *y,
                                     const shiftc_f32_geom *g)
{
    int32_t icg = g->c / g->group, ocg = g->oc / g->group;
    for (int32_t n = 0; n < g->n; n++)
        for (int32_t o = 0; o < g->oc; o++) {
            const float *xb = x + ((int64_t)n * g->c + (int64_t)(o / ocg) * icg) * g->h * g->w;
            const float *wo = w + (int64_t)o * icg * g->kh * g->kw;
            float *yo = y + ((int64_t)n * g->oc + o) * g->oh * g->ow;
            for (int32_t oy = 0; oy < g->oh; oy++) {
                int32_t iy0 = oy * g->sh - g->pt, ky0, ky1;
                shiftc_f32_taps(iy0, g->dh, g->kh, g->h, &ky0, &ky1);
                for (int32_t ox = 0; ox < g->ow; ox++) {
                    int32_t ix0 = ox * g->sw - g->pl, kx0, kx1;
                    shiftc_f32_taps(ix0, g->dw, g->kw, g->w, &kx0, &kx1);
                    float acc = b ? b[o] : 0.0f;
                    for (int32_t i = 0; i < icg; i++) {
                        const float *xi = xb + (int64_t)i * g->h * g->w;
                        const float *wi = wo + (int64_t)i * g->kh * g->kw;
                        for (int32_t ky = ky0; ky < ky1; ky++) {
                            const float *xr = xi + (int64_t)(iy0 + ky * g->dh) * g->w + ix0;
                            const float *wr = wi + ky * g->kw;
                            for (int32_t kx = kx0; kx < kx1; kx++)
                                acc += xr[kx * g->dw] * wr[kx];
                        }
                    }
                    yo[oy * g->ow + ox] = acc;
                }
            }
        }
}

/* Dense: y[m][n] = b[n] + sum_k x[m][k] * w[n][k] (k ascending); w is
 * [n][k] (output-major), b is [n] or NULL. */
static inline void shiftc_f32_dense(const float *x, const float *w, const float *b, float *y,
                                    int32_t m, int32_t k, int32_t n)
{
    for (int32_t r = 0; r < m; r++) {
        const float *xr = x + (int64_t)r * k;
        for (int32_t o = 0; o < n; o++) {
            const float *wo = w + (int64_t)o * k;
            float acc = b ? b[o] : 0.0f;
            for (int32_t i = 0; i < k; i++)
                acc += xr[i] * wo[i];
            y[(int64_t)r * n + o] = acc;
        }
    }
}

/* ---- elementwise (in place allowed) ---- */

static inline void shiftc_f32_relu(const float *x, float *y, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* Clamp to [lo, hi]; as ONNX Clip, min is applied first, then max. */
static inline void shiftc_f32_clip(const float *x, float *y, int32_t n, float lo, float hi)
{
    for (int32_t i = 0; i < n; i++) {
        float v = x[i] < lo ? lo : x[i];
        y[i] = v > hi ? hi : v;
    }
}

static inline void shiftc_f32_leakyrelu(const float *x, float *y, int32_t n, float alpha)
{
    for (int32_t i = 0; i < n; i++)
        y[i] = x[i] >= 0.0f ? x[i] : alpha * x[i];
}

static inline void shiftc_f32_sigmoid(const float *x, float *y, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        y[i] = 1.0f / (1.0f + expf(-x[i]));
}

static inline void shiftc_f32_tanh(const float *x, float *y, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        y[i] = tanhf(x[i]);
}

static inline void shiftc_f32_copy(const float *x, float *y, int32_t n)
{
    if (x == y)
        return;
    for (int32_t i = 0; i < n; i++)
        y[i] = x[i];
}

/* ---- pools ---- */

/* Max pool: padding never wins (it acts as -inf); a window that lies
 * entirely in padding gives -FLT_MAX, as ONNX Runtime does. */
static inline void shiftc_f32_maxpool2d(const float *x, float *y, const shiftc_f32_geom *g)
{
    for (int32_t p = 0; p < g->n * g->c; p++) {
        const float *xp = x + (int64_t)p * g->h * g->w;
        float *yp = y + (int64_t)p * g->oh * g->ow;
        for (int32_t oy = 0; oy < g->oh; oy++) {
            int32_t iy0 = oy * g->sh - g->pt, ky0, ky1;
            shiftc_f32_taps(iy0, g->dh, g->kh, g->h, &ky0, &ky1);
            for (int32_t ox = 0; ox < g->ow; ox++) {
                int32_t ix0 = ox * g->sw - g->pl, kx0, kx1;
                shiftc_f32_taps(ix0, g->dw, g->kw, g->w, &kx0, &kx1);
                float best = -FLT_MAX;
                for (int32_t ky = ky0; ky < ky1; ky++)
                    for (int32_t kx = kx0; kx < kx1; kx++) {
                        float v = xp[(int64_t)(iy0 + ky * g->dh) * g->w + ix0 + kx * g->dw];
                        best = v > best ? v : best;
                    }
                yp[oy * g->ow + ox] = best;
            }
        }
    }
}

/* Average pool.  The divisor is the number of taps inside the input, or,
 * with count_include_pad, inside the padded input [-pt, h + pb) x
 * [-pl, w + pr) -- taps past the padding, which ceil_mode may add, never
 * count (ONNX reference and PyTorch agree). */
static inline void shiftc_f32_avgpool2d(const float *x, float *y, const shiftc_f32_geom *g)
{
    for (int32_t p = 0; p < g->n * g->c; p++) {
        const float *xp = x + (int64_t)p * g->h * g->w;
        float *yp = y + (int64_t)p * g->oh * g->ow;
        for (int32_t oy = 0; oy < g->oh; oy++) {
            int32_t iy0 = oy * g->sh - g->pt, ky0, ky1, py0, py1;
            shiftc_f32_taps(iy0, g->dh, g->kh, g->h, &ky0, &ky1);
            shiftc_f32_taps(iy0 + g->pt, g->dh, g->kh, g->h + g->pt + g->pb, &py0, &py1);
            for (int32_t ox = 0; ox < g->ow; ox++) {
                int32_t ix0 = ox * g->sw - g->pl, kx0, kx1, px0, px1;
                shiftc_f32_taps(ix0, g->dw, g->kw, g->w, &kx0, &kx1);
                shiftc_f32_taps(ix0 + g->pl, g->dw, g->kw, g->w + g->pl + g->pr, &px0, &px1);
                float sum = 0.0f;
                for (int32_t ky = ky0; ky < ky1; ky++)
                    for (int32_t kx = kx0; kx < kx1; kx++)
                        sum += xp[(int64_t)(iy0 + ky * g->dh) * g->w + ix0 + kx * g->dw];
                int32_t div = g->count_include_pad ? (py1 - py0) * (px1 - px0)
                                                   : (ky1 - ky0) * (kx1 - kx0);
                yp[oy * g->ow + ox] = div > 0 ? sum / (float)div : 0.0f;
            }
        }
    }
}

/* Global average pool: the mean of each of nc planes of hw values. */
static inline void shiftc_f32_global_avgpool(const float *x, float *y, int32_t nc, int32_t hw)
{
    for (int32_t p = 0; p < nc; p++) {
        float sum = 0.0f;
        for (int32_t i = 0; i < hw; i++)
            sum += x[(int64_t)p * hw + i];
        y[p] = sum / (float)hw;
    }
}

/* ---- data movement and the rest ---- */

/* y = a + b with numpy broadcasting described by bc (see shiftc_f32_bcast). */
static inline void shiftc_f32_add(const float *a, const float *b, float *y,
                                  const shiftc_f32_bcast *bc)
{
    int32_t idx[SHIFTC_F32_MAX_RANK] = {0, 0, 0, 0, 0, 0}, total = 1;
    int64_t ia = 0, ib = 0;
    for (int32_t d = 0; d < bc->rank; d++)
        total *= bc->dims[d];
    for (int32_t i = 0; i < total; i++) {
        y[i] = a[ia] + b[ib];
        /* odometer step: move the input offsets along with the index */
        for (int32_t d = bc->rank - 1; d >= 0; d--) {
            ia += bc->sa[d];
            ib += bc->sb[d];
            if (++idx[d] < bc->dims[d])
                break;
            ia -= (int64_t)bc->sa[d] * bc->dims[d];
            ib -= (int64_t)bc->sb[d] * bc->dims[d];
            idx[d] = 0;
        }
    }
}

/* One input of a Concat: outer blocks of `inner` values each (the input's
 * size from the concat axis on), written at column `offset` of output rows
 * that are `row` values long.  Call once per input, offsets ascending. */
static inline void shiftc_f32_concat(const float *x, float *y, int32_t outer, int32_t inner,
                                     int32_t row, int32_t offset)
{
    for (int32_t o = 0; o < outer; o++)
        for (int32_t i = 0; i < inner; i++)
            y[(int64_t)o * row + offset + i] = x[(int64_t)o * inner + i];
}

/* Slice, the converse of shiftc_f32_concat: outer blocks of `inner`
 * values each (the slice from its axis on), read at column `offset` of
 * input rows that are `row` values long. */
static inline void shiftc_f32_slice(const float *x, float *y, int32_t outer, int32_t inner,
                                    int32_t row, int32_t offset)
{
    for (int32_t o = 0; o < outer; o++)
        for (int32_t i = 0; i < inner; i++)
            y[(int64_t)o * inner + i] = x[(int64_t)o * row + offset + i];
}

/* General transpose, rank <= SHIFTC_F32_MAX_RANK: y[i] = x[sum idx[d]*xs[d]]
 * with idx running over the output dims odims in row-major order; xs[d] is
 * the input element stride of input dim perm[d]. */
static inline void shiftc_f32_transpose(const float *x, float *y, int32_t rank,
                                        const int32_t *odims, const int32_t *xs)
{
    int32_t idx[SHIFTC_F32_MAX_RANK] = {0, 0, 0, 0, 0, 0}, total = 1;
    int64_t src = 0;
    for (int32_t d = 0; d < rank; d++)
        total *= odims[d];
    for (int32_t i = 0; i < total; i++) {
        y[i] = x[src];
        for (int32_t d = rank - 1; d >= 0; d--) {
            src += xs[d];
            if (++idx[d] < odims[d])
                break;
            src -= (int64_t)xs[d] * odims[d];
            idx[d] = 0;
        }
    }
}

/* Softmax along runs of `len` values spaced `inner` apart, for outer*inner
 * runs: element (o, i, j) is at (o*len + i)*inner + j.  inner = 1 is the
 * usual contiguous case.  The run's max is subtracted before expf, so
 * large logits cannot overflow. */
static inline void shiftc_f32_softmax(const float *x, float *y, int32_t outer, int32_t len,
                                      int32_t inner)
{
    for (int32_t o = 0; o < outer; o++)
        for (int32_t j = 0; j < inner; j++) {
            int64_t base = (int64_t)o * len * inner + j;
            float mx = x[base], sum = 0.0f;
            for (int32_t i = 1; i < len; i++)
                mx = x[base + (int64_t)i * inner] > mx ? x[base + (int64_t)i * inner] : mx;
            for (int32_t i = 0; i < len; i++) {
                float e = expf(x[base + (int64_t)i * inner] - mx);
                y[base + (int64_t)i * inner] = e;
                sum += e;
            }
            for (int32_t i = 0; i < len; i++)
                y[base + (int64_t)i * inner] /= sum;
        }
}

/* ---- recurrent layers (ONNX LSTM and GRU) ---- */

/* Sizes and options of one LSTM or GRU node, with ONNX's meaning:
 * x is [seq][batch][input]; weights are per direction d of ndir, W
 * [ndir][G*hidden][input], R [ndir][G*hidden][hidden] and B [ndir][2*G*hidden]
 * (the W biases, then the R biases) with G = 4 gates i, o, f, c for LSTM and
 * G = 3 gates z, r, h for GRU.  Outputs: y [seq][ndir][batch][hidden] and the
 * last states y_h (LSTM also y_c) [ndir][batch][hidden]. */
typedef struct shiftc_f32_rnn {
    int32_t seq, batch, input, hidden;
    int32_t ndir;                /* 1, or 2 for bidirectional */
    int32_t reverse;             /* ndir = 1 only: the one direction runs backwards */
    float clip;                  /* |gate pre-activation| <= clip; 0: no clip */
    int32_t input_forget;        /* LSTM: f = 1 - i */
    int32_t linear_before_reset; /* GRU: r * (R_h h + Rb_h) instead of R_h (r * h) */
} shiftc_f32_rnn;

/* Scratch floats the kernels need: the running states and the gates. */
static inline int32_t shiftc_f32_lstm_scratch(const shiftc_f32_rnn *p)
{
    return 2 * p->batch * p->hidden + 4 * p->hidden;
}

static inline int32_t shiftc_f32_gru_scratch(const shiftc_f32_rnn *p)
{
    return p->batch * p->hidden + 4 * p->hidden;
}

/* Steps of batch entry b: sequence_lens[b] clamped to [0, seq] (the
 * lengths are given as floats; NULL means every step). */
static inline int32_t shiftc_f32_rnn_steps(const float *seq_lens, int32_t b, int32_t seq)
{
    if (!seq_lens)
        return seq;
    float v = seq_lens[b];
    return v >= (float)seq ? seq : v > 0.0f ? (int32_t)v : 0;
}

/* acc[j] += sum_k m[j][k] * v[k] (k ascending) for j < rows. */
static inline void shiftc_f32_rnn_matvec(const float *m, const float *v, float *acc, int32_t rows,
                                         int32_t cols)
{
    for (int32_t j = 0; j < rows; j++) {
        const float *mj = m + (int64_t)j * cols;
        float s = 0.0f;
        for (int32_t k = 0; k < cols; k++)
            s += mj[k] * v[k];
        acc[j] += s;
    }
}

static inline void shiftc_f32_rnn_clip(float *v, int32_t n, float clip)
{
    if (clip > 0.0f)
        shiftc_f32_clip(v, v, n, -clip, clip);
}

/* Output of step t, direction d, batch entry b in a [seq][ndir][batch][hidden] y. */
static inline float *shiftc_f32_rnn_at(float *y, const shiftc_f32_rnn *p, int32_t t, int32_t d,
                                       int32_t b)
{
    return y + (((int64_t)t * p->ndir + d) * p->batch + b) * p->hidden;
}

/* Zeroes y for the steps past batch entry b's length, as ONNX Runtime does. */
static inline void shiftc_f32_rnn_pad(float *y, const shiftc_f32_rnn *p, int32_t d, int32_t b,
                                      int32_t steps)
{
    for (int32_t t = steps; y && t < p->seq; t++)
        for (int32_t k = 0; k < p->hidden; k++)
            shiftc_f32_rnn_at(y, p, t, d, b)[k] = 0.0f;
}

/* ONNX LSTM, default activations (sigmoid for the gates, tanh for the cell
 * and the output).  b (8*hidden per direction), p (peepholes i, o, f:
 * 3*hidden per direction), seq_lens, h0, c0, y, y_h and y_c may be NULL.
 * scratch holds shiftc_f32_lstm_scratch(p) floats.  Per step the gates are
 * Wb + Rb + W x + R h, in that order of summation. */
static inline void shiftc_f32_lstm(const float *x, const float *w, const float *r, const float *b,
                                   const float *seq_lens, const float *h0, const float *c0,
                                   const float *peep, float *y, float *y_h, float *y_c,
                                   float *scratch, const shiftc_f32_rnn *p)
{
    const int32_t H = p->hidden, I = p->input, BH = p->batch * p->hidden;
    float *h = scratch, *c = scratch + BH, *gt = scratch + 2 * BH;
    for (int32_t d = 0; d < p->ndir; d++) {
        const float *wd = w + (int64_t)d * 4 * H * I, *rd = r + (int64_t)d * 4 * H * H;
        const float *bd = b ? b + (int64_t)d * 8 * H : NULL;
        const float *pd = peep ? peep + (int64_t)d * 3 * H : NULL;
        int32_t rev = p->ndir == 2 ? d == 1 : p->reverse;
        for (int32_t i = 0; i < BH; i++) {
            h[i] = h0 ? h0[(int64_t)d * BH + i] : 0.0f;
            c[i] = c0 ? c0[(int64_t)d * BH + i] : 0.0f;
        }
        for (int32_t bi = 0; bi < p->batch; bi++) {
            float *hb = h + (int64_t)bi * H, *cb = c + (int64_t)bi * H;
            int32_t steps = shiftc_f32_rnn_steps(seq_lens, bi, p->seq);
            for (int32_t s = 0; s < steps; s++) {
                int32_t t = rev ? steps - 1 - s : s;
                const float *xt = x + ((int64_t)t * p->batch + bi) * I;
                for (int32_t j = 0; j < 4 * H; j++)
                    gt[j] = bd ? bd[j] + bd[4 * H + j] : 0.0f;
                shiftc_f32_rnn_matvec(wd, xt, gt, 4 * H, I);
                shiftc_f32_rnn_matvec(rd, hb, gt, 4 * H, H);
                float *gi = gt, *go = gt + H, *gf = gt + 2 * H, *gc = gt + 3 * H;
                for (int32_t k = 0; pd && k < H; k++) {
                    gi[k] += pd[k] * cb[k];
                    gf[k] += pd[2 * H + k] * cb[k];
                }
                shiftc_f32_rnn_clip(gi, H, p->clip);
                shiftc_f32_rnn_clip(gf, H, p->clip);
                shiftc_f32_rnn_clip(gc, H, p->clip);
                shiftc_f32_sigmoid(gi, gi, H);
                if (p->input_forget)
                    for (int32_t k = 0; k < H; k++)
                        gf[k] = 1.0f - gi[k];
                else
                    shiftc_f32_sigmoid(gf, gf, H);
                shiftc_f32_tanh(gc, gc, H);
                for (int32_t k = 0; k < H; k++)
                    cb[k] = gf[k] * cb[k] + gi[k] * gc[k];
                for (int32_t k = 0; pd && k < H; k++)
                    go[k] += pd[H + k] * cb[k];
                shiftc_f32_rnn_clip(go, H, p->clip);
                shiftc_f32_sigmoid(go, go, H);
                shiftc_f32_tanh(cb, gc, H);
                for (int32_t k = 0; k < H; k++)
                    hb[k] = go[k] * gc[k];
                if (y)
                    shiftc_f32_copy(hb, shiftc_f32_rnn_at(y, p, t, d, bi), H);
            }
            shiftc_f32_rnn_pad(y, p, d, bi, steps);
        }
        if (y_h)
            shiftc_f32_copy(h, y_h + (int64_t)d * BH, BH);
        if (y_c)
            shiftc_f32_copy(c, y_c + (int64_t)d * BH, BH);
    }
}

/* ONNX GRU, default activations (sigmoid for z and r, tanh for h); the
 * arguments are the LSTM's without c0, peepholes and y_c.  scratch holds
 * shiftc_f32_gru_scratch(p) floats. */
static inline void shiftc_f32_gru(const float *x, const float *w, const float *r, const float *b,
                                  const float *seq_lens, const float *h0, float *y, float *y_h,
                                  float *scratch, const shiftc_f32_rnn *p)
{
    const int32_t H = p->hidden, I = p->input, BH = p->batch * p->hidden;
    float *h = scratch, *gt = scratch + BH, *tmp = scratch + BH + 3 * H;
    for (int32_t d = 0; d < p->ndir; d++) {
        const float *wd = w + (int64_t)d * 3 * H * I, *rd = r + (int64_t)d * 3 * H * H;
        const float *bd = b ? b + (int64_t)d * 6 * H : NULL;
        int32_t rev = p->ndir == 2 ? d == 1 : p->reverse;
        for (int32_t i = 0; i < BH; i++)
            h[i] = h0 ? h0[(int64_t)d * BH + i] : 0.0f;
        for (int32_t bi = 0; bi < p->batch; bi++) {
            float *hb = h + (int64_t)bi * H;
            int32_t steps = shiftc_f32_rnn_steps(seq_lens, bi, p->seq);
            for (int32_t s = 0; s < steps; s++) {
                int32_t t = rev ? steps - 1 - s : s;
                const float *xt = x + ((int64_t)t * p->batch + bi) * I;
                float *gz = gt, *gr = gt + H, *gh = gt + 2 * H;
                /* z and r: Wb + Rb + W x + R h */
                for (int32_t j = 0; j < 2 * H; j++)
                    gt[j] = bd ? bd[j] + bd[3 * H + j] : 0.0f;
                shiftc_f32_rnn_matvec(wd, xt, gt, 2 * H, I);
                shiftc_f32_rnn_matvec(rd, hb, gt, 2 * H, H);
                shiftc_f32_rnn_clip(gt, 2 * H, p->clip);
                shiftc_f32_sigmoid(gt, gt, 2 * H);
                /* h: Wb_h + W_h x, plus the recurrent part */
                for (int32_t k = 0; k < H; k++)
                    gh[k] = bd ? bd[2 * H + k] : 0.0f;
                shiftc_f32_rnn_matvec(wd + (int64_t)2 * H * I, xt, gh, H, I);
                if (p->linear_before_reset) {
                    for (int32_t k = 0; k < H; k++)
                        tmp[k] = bd ? bd[5 * H + k] : 0.0f;
                    shiftc_f32_rnn_matvec(rd + (int64_t)2 * H * H, hb, tmp, H, H);
                    for (int32_t k = 0; k < H; k++)
                        gh[k] += gr[k] * tmp[k];
                } else {
                    for (int32_t k = 0; k < H; k++) {
                        tmp[k] = gr[k] * hb[k];
                        gh[k] += bd ? bd[5 * H + k] : 0.0f;
                    }
                    shiftc_f32_rnn_matvec(rd + (int64_t)2 * H * H, tmp, gh, H, H);
                }
                shiftc_f32_rnn_clip(gh, H, p->clip);
                shiftc_f32_tanh(gh, gh, H);
                for (int32_t k = 0; k < H; k++)
                    hb[k] = (1.0f - gz[k]) * gh[k] + gz[k] * hb[k];
                if (y)
                    shiftc_f32_copy(hb, shiftc_f32_rnn_at(y, p, t, d, bi), H);
            }
            shiftc_f32_rnn_pad(y, p, d, bi, steps);
        }
        if (y_h)
            shiftc_f32_copy(h, y_h + (int64_t)d * BH, BH);
    }
}

#endif
