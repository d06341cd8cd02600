/*
 * Weight formats: codebooks, scale searches, bias correction (formats.h has
 * the formats, their scales and the choices made).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"
#include "quant_rnn.h"
#include "kernel_args.h"
#include "quant.h"
#include "shiftc_rt.h"
#include "util.h"

/* ---- the table ---- */

static const struct {
    const char *name;
    FmtFamily family;
    int param;
} fmt_table[WF_COUNT] = {
#define SHIFTC_WF_ROW(e, name, family, param) {name, family, param},
    SHIFTC_WEIGHT_FORMATS(SHIFTC_WF_ROW)
#undef SHIFTC_WF_ROW
};

const char *fmt_name(WeightFormat f)
{
    ensure((unsigned)f < WF_COUNT);
    return fmt_table[f].name;
}

FmtFamily fmt_family(WeightFormat f)
{
    ensure((unsigned)f < WF_COUNT);
    return fmt_table[f].family;
}

int fmt_param(WeightFormat f)
{
    ensure((unsigned)f < WF_COUNT);
    return fmt_table[f].param;
}

int fmt_parse(const char *name, WeightFormat *f)
{
    for (int i = 0; i < WF_COUNT; i++)
        if (fmt_table[i].family != FMT_FLOAT && strcmp(name, fmt_table[i].name) == 0) {
            *f = (WeightFormat)i;
            return 0;
        }
    return -1;
}

size_t fmt_list(char *buf, size_t size)
{
    size_t k = 0;
    for (int i = 0; i < WF_COUNT; i++) {
        if (fmt_table[i].family == FMT_FLOAT)
            continue;
        int r = snprintf(size > k ? buf + k : NULL, size > k ? size - k : 0, "%s%s", k ? ", " : "",
                         fmt_table[i].name);
        k += r > 0 ? (size_t)r : 0;
    }
    return k;
}

/* ---- codebooks ---- */

int fmt_naf_weight(int32_t q)
{
    int n = 0;
    for (int64_t v = q; v != 0; v /= 2) /* as backends/shiftadd.c, independently */
        if (v & 1) {
            v -= ((v % 4) + 4) % 4 == 1 ? 1 : -1;
            n++;
        }
    return n;
}

void fmt_count_codes(const int32_t *codes, int64_t n, FmtCount *c)
{
    for (int64_t i = 0; i < n; i++) {
        c->over4 += codes[i] < -8 || codes[i] > 7;
        if (codes[i] != 0) {
            int w = fmt_naf_weight(codes[i]);
            c->nonzero++;
            c->terms += w;
            c->shifted += w - (codes[i] & 1); /* the NAF has a 2^0 digit iff q is odd */
        }
    }
}

void fmt_count_loads(const unsigned char *any_nonzero, int64_t n, FmtCount *c)
{
    for (int64_t i = 0; i < n; i++)
        c->loads += any_nonzero[i] != 0;
}

int fmt_naf_length(int32_t q)
{
    int len = 0;
    for (int64_t v = q, k = 0; v != 0; v /= 2, k++)
        if (v & 1) {
            v -= ((v % 4) + 4) % 4 == 1 ? 1 : -1;
            len = (int)k + 1;
        }
    return len;
}

/* APoT (Li et al., ICLR 2020) with b = 4 magnitude bits, k = 2, n = 2 terms:
 * levels p0 + p1, p0 in {0, 2^0, 2^-2, 2^-4}, p1 in {0, 2^-1, 2^-3, 2^-5},
 * scaled by 2^5 to integers. */
static const int32_t apot_p0[4] = {0, 2, 8, 32}, apot_p1[4] = {0, 1, 4, 16};

static int in_codebook(WeightFormat f, int32_t v)
{
    int32_t a = v < 0 ? -v : v;
    switch (fmt_family(f)) {
    case FMT_INT:
        return a <= (1 << (fmt_param(f) - 1)) - 1;
    case FMT_TERNARY:
        return a <= 1;
    case FMT_POT:
        return a == 0 || (fmt_naf_weight(v) == 1 && fmt_naf_length(v) <= FMT_E + 1);
    case FMT_NHOT:
        return fmt_naf_weight(v) <= fmt_param(f) && fmt_naf_length(v) <= FMT_E + 1;
    case FMT_APOT:
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                if (apot_p0[i] + apot_p1[j] == a)
                    return 1;
        return 0;
    default:
        return 0;
    }
}

int fmt_codebook(WeightFormat f, int32_t *codes)
{
    FmtFamily fam = fmt_family(f);
    if (fam == FMT_FLOAT || fam == FMT_TTQ)
        return 0;
    /* every code is within [-2^(FMT_E+1), 2^(FMT_E+1)] and int8's range */
    int n = 0;
    for (int32_t v = -(1 << (FMT_E + 1)); v <= (1 << (FMT_E + 1)); v++)
        if (in_codebook(f, v)) {
            ensure(n < FMT_MAX_CODES);
            codes[n++] = v;
        }
    return n;
}

int fmt_bits(WeightFormat f)
{
    FmtFamily fam = fmt_family(f);
    if (fam == FMT_FLOAT)
        return 32;
    if (fam == FMT_TTQ)
        return 2;
    int32_t codes[FMT_MAX_CODES];
    int n = fmt_codebook(f, codes), bits = 0;
    while ((1 << bits) < n)
        bits++;
    return bits;
}

/* ---- quantizing channels ---- */

void fmt_init(FmtQuant *fq, WeightFormat f)
{
    memset(fq, 0, sizeof *fq);
    fq->f = f;
    fq->family = fmt_family(f);
    ensure(fq->family != FMT_FLOAT);
    fq->ncodes = fmt_codebook(f, fq->codes);
    fq->top = fq->ncodes ? fq->codes[fq->ncodes - 1] : 1;
}

int32_t fmt_nearest(const FmtQuant *fq, double v)
{
    if (fq->family == FMT_INT)
        return quant_round_clamp(v, -fq->top, fq->top); /* half away from zero */
    ensure(fq->ncodes > 0);
    if (v != v)
        return 0;
    /* lo: the first code >= v */
    int lo = 0, hi = fq->ncodes;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if ((double)fq->codes[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return fq->codes[0];
    if (lo == fq->ncodes)
        return fq->codes[fq->ncodes - 1];
    double up = (double)fq->codes[lo] - v, down = v - (double)fq->codes[lo - 1];
    if (up < down || (up == down && v > 0))
        return fq->codes[lo];
    return fq->codes[lo - 1];
}

static double max_abs(const float *w, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)w[i]));
    return m;
}

void fmt_twn(const float *w, int64_t n, double *delta, double *scale)
{
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += fabs((double)w[i]);
    *delta = n > 0 ? FMT_TWN_DELTA * sum / (double)n : 0;
    double big = 0;
    int64_t nbig = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs((double)w[i]) > *delta)
            big += fabs((double)w[i]), nbig++;
    *scale = nbig ? big / (double)nbig : 0;
}

static int32_t gcd(int32_t a, int32_t b)
{
    while (b) {
        int32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* TTQ: threshold t*max|w|, codes +b above it and -a below minus it.  For
 * given codes the least-squares scale is s = (b*P + a*N) / (b^2 np + a^2 nn)
 * (P, N: sums of |w| over the positive and negative sets) and the error
 * sum w^2 - (b*P + a*N)^2 / (b^2 np + a^2 nn); a, b in 1..FMT_TTQ_MAX,
 * coprime, minimise it (ascending order, strict improvement: (1, 1) first).
 * TTQ proper trains the two scales; without training they are fitted. */
static void ttq_fit(const float *w, int64_t n, double *delta, int32_t *a, int32_t *b, double *scale)
{
    *delta = FMT_TTQ_T * max_abs(w, n);
    double P = 0, N = 0;
    int64_t np = 0, nn = 0;
    for (int64_t i = 0; i < n; i++) {
        if (w[i] > *delta)
            P += w[i], np++;
        else if (w[i] < -*delta)
            N -= w[i], nn++;
    }
    *a = *b = 1;
    *scale = 0;
    if (np + nn == 0)
        return;
    double best = -1;
    for (int32_t ia = 1; ia <= FMT_TTQ_MAX; ia++)
        for (int32_t ib = 1; ib <= FMT_TTQ_MAX; ib++) {
            if (gcd(ia, ib) != 1)
                continue;
            double num = ib * P + ia * N, den = (double)ib * ib * np + (double)ia * ia * nn;
            double gain = num * num / den; /* error = sum w^2 - gain */
            if (gain > best)
                best = gain, *a = ia, *b = ib, *scale = num / den;
        }
}

double fmt_codes(const FmtQuant *fq, const float *w, int64_t n, double s, int32_t *codes)
{
    double err = 0, delta = 0, unused;
    int32_t a = 1, b = 1;
    if (fq->family == FMT_TERNARY)
        fmt_twn(w, n, &delta, &unused);
    else if (fq->family == FMT_TTQ)
        ttq_fit(w, n, &delta, &a, &b, &unused);
    for (int64_t i = 0; i < n; i++) {
        double v = (double)w[i];
        int32_t q;
        if (fq->family == FMT_TERNARY || fq->family == FMT_TTQ)
            q = v > delta ? b : v < -delta ? -a : 0;
        else
            q = fmt_nearest(fq, v / s);
        double d = v - s * q;
        err += d * d;
        if (codes)
            codes[i] = q;
    }
    return err;
}

double fmt_scale(const FmtQuant *fq, const float *w, int64_t n)
{
    double m = max_abs(w, n), delta, s;
    if (!(m >= FLT_MIN))
        return 0;
    if (fq->family == FMT_TERNARY) {
        fmt_twn(w, n, &delta, &s);
        return s;
    }
    if (fq->family == FMT_TTQ) {
        int32_t a, b;
        ttq_fit(w, n, &delta, &a, &b, &s);
        return s;
    }
    double best_s = 0, best_err = INFINITY;
    for (int i = FMT_GRID; i >= 1; i--) {
        double si = (double)(float)(m * i / FMT_GRID / fq->top);
        if (!(si >= FLT_MIN))
            break;
        double err = fmt_codes(fq, w, n, si, NULL);
        if (err < best_err)
            best_err = err, best_s = si;
    }
    return best_s;
}

void fmt_weight_channel(const FmtQuant *fq, const float *w, int64_t n, int no_mul, double sx,
                        double sy, int32_t *codes, double *sw, int32_t nm[3])
{
    if (fq->f == WF_INT8) { /* the baseline, unchanged */
        if (no_mul) {
            quant_nm_weight_channel(w, n, sx, sy, codes, sw, nm);
        } else {
            float f;
            quant_weight_channel(w, n, codes, &f);
            *sw = f;
        }
        return;
    }
    double s = fmt_scale(fq, w, n);
    if (!(s >= FLT_MIN)) { /* all zero, or too small for a normal scale: as the baseline */
        for (int64_t i = 0; i < n; i++)
            codes[i] = 0;
        if (no_mul) {
            quant_nm_nearest(sx / sy, nm);
            *sw = quant_nm_value(nm) * sy / sx;
        } else {
            *sw = 1;
        }
        return;
    }
    if (!no_mul) {
        *sw = (double)(float)s;
        fmt_codes(fq, w, n, *sw, codes);
        return;
    }
    double m0 = sx * s / sy;
    int32_t cand[QUANT_NM_MAX_CAND][3];
    int nc = quant_nm_candidates(m0, cand), best = -1;
    double best_err = INFINITY;
    for (int i = 0; i < nc; i++) {
        double v = quant_nm_value(cand[i]);
        if (v < m0 / 1.25 || v > m0 * 1.25)
            continue;
        double err = fmt_codes(fq, w, n, v * sy / sx, NULL);
        if (err < best_err)
            best_err = err, best = i;
    }
    if (best >= 0)
        memcpy(nm, cand[best], 3 * sizeof *nm);
    else /* m0 beyond the valid range: the nearest end */
        quant_nm_nearest(m0, nm);
    *sw = quant_nm_value(nm) * sy / sx;
    fmt_codes(fq, w, n, *sw, codes);
}

/* ---- bias correction ---- */

int fmt_bias_correction_on(const Graph *g, const Node *n)
{
    if (!ir_op_is_weighted(n->op) || n->prec.weights == WF_FLOAT)
        return 0;
    return g->bias_correction == 1 || (g->bias_correction == FMT_BC_AUTO && n->prec.weights != WF_INT8);
}

/* Taps: Conv C*KH*KW (every input channel; output channel c reads its
 * group's slice, see tap_offset), Dense K. */
static int64_t tap_count(const Graph *g, const Node *n)
{
    if (n->op == OP_CONV) {
        shiftc_geom ge;
        ka_geom(g, n, &ge);
        return (int64_t)ge.c * ge.kh * ge.kw;
    }
    int32_t m, k, nout;
    ka_dense_dims(g, n, &m, &k, &nout);
    return k;
}

/* Where output channel c's weights start in the taps. */
static int64_t tap_offset(const Graph *g, const Node *n, int64_t c, int64_t per)
{
    if (n->op != OP_CONV)
        return 0;
    int64_t group = n->a.group > 0 ? n->a.group : 1;
    return c / (g->tensors[n->in[1]].dims[0] / group) * per;
}

/* Adds one sample's input x of n to sum, per tap (what the weight at that
 * tap multiplies, summed over the output positions; padding reads 0), and
 * returns the number of output positions. */
static int64_t tap_sums(const Graph *g, const Node *n, const float *x, double *sum)
{
    if (n->op != OP_CONV) {
        int32_t m, k, nout;
        ka_dense_dims(g, n, &m, &k, &nout);
        for (int64_t r = 0; r < m; r++)
            for (int64_t j = 0; j < k; j++)
                sum[j] += x[r * k + j];
        return m;
    }
    shiftc_geom ge;
    ka_geom(g, n, &ge);
    for (int64_t b = 0; b < ge.n; b++)
        for (int64_t ci = 0; ci < ge.c; ci++) {
            const float *plane = x + (b * ge.c + ci) * ge.h * ge.w;
            for (int64_t ky = 0; ky < ge.kh; ky++)
                for (int64_t kx = 0; kx < ge.kw; kx++) {
                    double s = 0;
                    for (int64_t oy = 0; oy < ge.oh; oy++) {
                        int64_t iy = oy * ge.sh + ky * ge.dh - ge.pt;
                        if (iy < 0 || iy >= ge.h)
                            continue;
                        for (int64_t ox = 0; ox < ge.ow; ox++) {
                            int64_t ix = ox * ge.sw + kx * ge.dw - ge.pl;
                            if (ix >= 0 && ix < ge.w)
                                s += plane[iy * ge.w + ix];
                        }
                    }
                    sum[(ci * ge.kh + ky) * ge.kw + kx] += s;
                }
        }
    return (int64_t)ge.n * ge.oh * ge.ow;
}

static void divide(double *v, int64_t n, int64_t by)
{
    for (int64_t i = 0; i < n; i++)
        v[i] = by > 0 ? v[i] / (double)by : 0;
}

/* The float model's expected output of every channel of n, b_c + sum_j
 * W_cj E[x_j], into ey; mf: its input's tap means. */
static void float_outputs(const Graph *g, const Node *n, const double *mf, double *ey)
{
    const Tensor *w = &g->tensors[n->in[1]];
    const Tensor *b = n->nin > 2 && n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
    int64_t nchan = n->q->nchan, per = ir_numel(w) / nchan;
    for (int64_t c = 0; c < nchan; c++) {
        const double *m = mf + tap_offset(g, n, c, per);
        double e = b ? (double)b->data[c] : 0;
        for (int64_t j = 0; j < per; j++)
            e += (double)w->data[c * per + j] * m[j];
        ey[c] = e;
    }
}

/* Means of the input codes (x - z_x) node n reads in the integer network,
 * as it stands, over the samples. */
static int code_means(Graph *g, QSim *sim, const Node *n, const float *samples, int ns, double *mq)
{
    const Tensor *in = &g->tensors[g->inputs[0]], *x = &g->tensors[n->in[0]];
    int64_t in_count = ir_numel(in), x_count = ir_numel(x);
    /* 4 bytes per element: enough for any storage type */
    void *qin = xmalloc((size_t)in_count * 4);
    float *xf = xmalloc((size_t)x_count * sizeof *xf);
    const void *ins[IR_MAX_IO];
    void *outs[IR_MAX_IO];
    for (int i = 0; i < g->ninputs; i++)
        ins[i] = qin;
    for (int i = 0; i < g->noutputs; i++)
        outs[i] = xmalloc((size_t)ir_numel(&g->tensors[g->outputs[i]]) * 4 + 1);
    int64_t count = 0;
    int rc = 0, xt = ka_type(x);
    for (int s = 0; s < ns && rc == 0; s++) {
        ir_quantize_input(in, samples + (int64_t)s * in_count, qin);
        rc = ir_qsim_run(sim, ins, outs);
        const void *codes = ir_qsim_buffer(sim, n->in[0]);
        for (int64_t i = 0; i < x_count; i++)
            xf[i] = (float)(shiftc_ld(codes, (int32_t)i, xt) - x->q.zero);
        count += tap_sums(g, n, xf, mq);
    }
    divide(mq, tap_count(g, n), count);
    for (int i = 0; i < g->noutputs; i++)
        free(outs[i]);
    free(xf);
    free(qin);
    return rc;
}

/* New biases for n: the expected accumulator sx*sw_c*(sum_j q_cj E[x_j -
 * z] + bias_c) equal to the float model's expected output ey_c. */
static int correct_node(Graph *g, Node *n, const double *ey, const double *mq)
{
    QLayer *q = n->q;
    double sx = g->tensors[n->in[0]].q.scale;
    int64_t per = ir_numel(&g->tensors[n->in[1]]) / q->nchan;
    for (int64_t c = 0; c < q->nchan; c++) {
        const double *m = mq + tap_offset(g, n, c, per);
        double eacc = 0;
        for (int64_t j = 0; j < per; j++)
            eacc += (double)q->wq[c * per + j] * m[j];
        double bv = round(ey[c] / (sx * (double)q->wscale[c]) - eacc);
        if (!(fabs(bv) <= (double)INT32_MAX))
            return ir_fail(g, n, "bias correction: bias of output channel %lld is %g accumulator "
                                 "units, beyond int32", (long long)c, bv);
        q->bias[c] = (int32_t)bv;
    }
    return quant_acc_bits(g, n);
}

int ir_bias_correct(Graph *g, const float *samples, int n)
{
    int any = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (fmt_bias_correction_on(g, &g->nodes[i])) {
            if (!g->nodes[i].q || !g->nodes[i].q->wq)
                return ir_fail(g, &g->nodes[i], "bias correction: the node is not quantized");
            any = 1;
        }
    if (!any)
        return 0;
    if (g->ninputs < 1 || n < 1 || !samples)
        return ir_fail(g, NULL, "bias correction: no calibration samples");

    /* 1. the float model: each corrected node's expected outputs */
    double **ey = xcalloc((size_t)g->nnodes, sizeof *ey);
    double **mf = xcalloc((size_t)g->nnodes, sizeof *mf);
    int64_t *count = xcalloc((size_t)g->nnodes, sizeof *count);
    for (int i = 0; i < g->nnodes; i++)
        if (fmt_bias_correction_on(g, &g->nodes[i]))
            mf[i] = xcalloc((size_t)tap_count(g, &g->nodes[i]), sizeof **mf);
    int in = g->inputs[0];
    int64_t in_count = ir_numel(&g->tensors[in]);
    float **vals = ir_interp_alloc(g);
    int rc = 0;
    for (int s = 0; s < n && rc == 0; s++) {
        memcpy(vals[in], samples + (int64_t)s * in_count, (size_t)in_count * sizeof(float));
        rc = ir_interp_run(g, vals);
        for (int i = 0; i < g->nnodes && rc == 0; i++)
            if (mf[i])
                count[i] += tap_sums(g, &g->nodes[i], vals[g->nodes[i].in[0]], mf[i]);
    }
    ir_interp_free(g, vals);
    for (int i = 0; i < g->nnodes && rc == 0; i++)
        if (mf[i]) {
            divide(mf[i], tap_count(g, &g->nodes[i]), count[i]);
            ey[i] = xmalloc((size_t)g->nodes[i].q->nchan * sizeof **ey);
            float_outputs(g, &g->nodes[i], mf[i], ey[i]);
        }

    /* 2. the integer network, in order: each node's correction sees the
     * nodes before it corrected already */
    QSim *sim = rc == 0 ? ir_qsim_new(g) : NULL;
    if (!sim)
        rc = -1;
    for (int i = 0; i < g->nnodes && rc == 0; i++) {
        if (!mf[i])
            continue;
        Node *nd = &g->nodes[i];
        double *mq = xcalloc((size_t)tap_count(g, nd), sizeof *mq);
        rc = code_means(g, sim, nd, samples, n, mq);
        if (rc == 0)
            rc = correct_node(g, nd, ey[i], mq);
        free(mq);
    }
    ir_qsim_free(sim);
    for (int i = 0; i < g->nnodes; i++)
        free(mf[i]), free(ey[i]);
    free(mf), free(ey), free(count);
    return rc;
}

/* ---- whole graphs ---- */

void fmt_apply(Graph *g, WeightFormat f)
{
    for (int i = 0; i < g->nnodes; i++)
        if (ir_op_is_weighted(g->nodes[i].op) || g->nodes[i].op == OP_LSTM ||
            g->nodes[i].op == OP_GRU) /* LSTM, GRU: W and R (quant_rnn.c) */
            g->nodes[i].prec.weights = f;
}

void fmt_summary(const Graph *g, FmtSummary *s)
{
    memset(s, 0, sizeof *s);
    s->format = WF_COUNT;
    int first = 1;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        const QRnn *r = n->q ? n->q->rnn : NULL;
        if (r) { /* LSTM, GRU: the codes of W and R of each direction (quant_rnn.h) */
            int64_t nw = (int64_t)r->G * r->H * r->I, nr = (int64_t)r->G * r->H * r->H;
            s->layers++;
            s->acc16 += n->prec.acc_bits == 16;
            s->weights += r->ndir * (nw + nr);
            s->bits += r->ndir * (nw + nr) * fmt_bits(n->prec.weights);
            for (int d = 0; d < r->ndir; d++) {
                for (int64_t j = 0; j < nw; j++)
                    s->terms += fmt_naf_weight(r->dir[d].wq[j]);
                for (int64_t j = 0; j < nr; j++)
                    s->terms += fmt_naf_weight(r->dir[d].rq[j]);
            }
        } else if (!ir_op_is_weighted(n->op) || !n->q || !n->q->wq) {
            continue;
        } else {
            int64_t count = ir_numel(&g->tensors[n->in[1]]);
            s->layers++;
            s->acc16 += n->prec.acc_bits == 16;
            s->corrected += fmt_bias_correction_on(g, n);
            s->weights += count;
            s->bits += count * fmt_bits(n->prec.weights);
            for (int64_t j = 0; j < count; j++)
                s->terms += fmt_naf_weight(n->q->wq[j]);
        }
        if (first)
            s->format = n->prec.weights, first = 0;
        else if (s->format != n->prec.weights)
            s->format = WF_COUNT;
    }
}
