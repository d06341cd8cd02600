/*
 * The quantization scheme.
 *
 * ir_calibrate() (calib.c) runs the float interpreter over a calibration
 * set and records each activation's range and statistics; ir_quantize()
 * turns ranges (clip.c) and float weights into QParams per tensor and a
 * QLayer of integer constants per node, which the integer simulator
 * (qsim.c) and the emitter consume as they are (through kernel_args.c).
 *
 * Baseline scheme: zero points are 0; activations are uint8 (scale max/255)
 * when structurally nonnegative, else symmetric int8 (scale max|x|/127);
 * with Precision.act_bits 4 or 16 the same with 2^bits levels (4-bit codes
 * in 8-bit storage, 16-bit codes in int16/uint16), the range R of the
 * node's Precision.act_clip method instead of max|x|;
 * weights are codes per output channel in the node's format (formats.c:
 * int2..int8, ternary, pot, n-hot...; the baseline int8 is symmetric with
 * max-abs scales); accumulation is int32, proven overflow-free per layer
 * (quant_acc_bits, which also records where int16 would do); requantization uses gemmlowp multipliers.
 * Everything is computed in double from the float scales stored in QParams,
 * in a fixed order, so the same graph always gives the same integers.
 *
 * Multiplierless mode (g->no_mul, algorithms.md section 3): every
 * requantization multiplier is a power of two or a sum or difference of two
 * (QLayer.nm, shiftc_mul_nomul).  Conv and Dense keep the exact multiplier
 * by choosing each channel's weight scale to fit it (quant_nm_weight_channel:
 * the approximation moves into the weight grid, where a least-squares
 * search over the nearby two-term values places it); Add and Concat, whose
 * scales are fixed by their inputs, use the nearest two-term multiplier.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"
#include "ir.h"
#include "formats.h"
#include "quant.h"
#include "quant_rnn.h"
#include "shiftc_rt.h"
#include "util.h"

/* ---- helpers (quant.h) ---- */

void quant_multiplier(double m, int32_t *mult, int32_t *shift)
{
    if (!(m > 0)) { /* zero, negative or NaN: contributes nothing */
        *mult = 0, *shift = 0;
        return;
    }
    if (isinf(m)) {
        *mult = INT32_MAX, *shift = QUANT_SHIFT_MAX;
        return;
    }
    int e;
    double mant = frexp(m, &e); /* m = mant * 2^e, mant in [0.5, 1) */
    int64_t q = (int64_t)llround(mant * 2147483648.0);
    if (q == ((int64_t)1 << 31)) { /* mant rounded up to 1.0 */
        q /= 2;
        e++;
    }
    if (e > QUANT_SHIFT_MAX) { /* saturate: outputs clamp anyway */
        *mult = INT32_MAX, *shift = QUANT_SHIFT_MAX;
        return;
    }
    if (e < QUANT_SHIFT_MIN) { /* m < 2^-32: any int32 times m rounds to 0 */
        *mult = 0, *shift = 0;
        return;
    }
    *mult = (int32_t)q;
    *shift = e;
}

double quant_multiplier_value(int32_t mult, int32_t shift) { return ldexp((double)mult, shift - 31); }

int32_t quant_round_clamp(double v, int32_t lo, int32_t hi)
{
    if (v != v)
        v = 0;
    if (v <= (double)lo)
        return lo;
    if (v >= (double)hi)
        return hi;
    return (int32_t)round(v); /* round(): half away from zero */
}

void quant_type_range(QType t, int32_t *lo, int32_t *hi)
{
    switch (t) {
    case QT_I8: *lo = -128, *hi = 127; return;
    case QT_U8: *lo = 0, *hi = 255; return;
    case QT_I16: *lo = -32768, *hi = 32767; return;
    case QT_U16: *lo = 0, *hi = 65535; return;
    default: unreachable();
    }
}

int quant_type_bytes(QType t)
{
    ensure(t != QT_NONE);
    return t == QT_I16 || t == QT_U16 ? 2 : 1;
}

int quant_is_unsigned(QType t) { return t == QT_U8 || t == QT_U16; }

int quant_bits(const QParams *q)
{
    return q->bits > 0 ? q->bits : 8 * quant_type_bytes(q->type);
}

void quant_code_range(const QParams *q, int32_t *lo, int32_t *hi)
{
    int bits = quant_bits(q);
    ensure(bits >= 2 && bits <= 8 * quant_type_bytes(q->type));
    if (quant_is_unsigned(q->type)) {
        *lo = 0;
        *hi = (int32_t)((1L << bits) - 1);
    } else {
        *lo = -(int32_t)(1L << (bits - 1));
        *hi = (int32_t)(1L << (bits - 1)) - 1;
    }
}

/* Nothing to represent (never calibrated, all zeros): any scale works;
 * tiny ranges are floored so the scale stays a normal float. */
static double sane_range(double range)
{
    if (!(range > 0))
        return 1;
    if (isinf(range))
        return FLT_MAX;
    return range < 1e-20 ? 1e-20 : range;
}

QParams quant_act_range_params(double range, int nonneg, int bits)
{
    ensure(bits == 4 || bits == 8 || bits == 16);
    QParams q = {0};
    q.type = bits == 16 ? (nonneg ? QT_U16 : QT_I16) : (nonneg ? QT_U8 : QT_I8);
    q.bits = bits;
    int32_t lo, hi;
    quant_code_range(&q, &lo, &hi);
    q.scale = (float)(sane_range(range) / (double)hi);
    q.zero = 0;
    return q;
}

QParams quant_act_params(float min, float max, int nonneg)
{
    double range = nonneg ? (max > 0 ? max : 0) : fmax(fabs((double)min), fabs((double)max));
    return quant_act_range_params(range, nonneg, 8);
}

void quant_weight_channel(const float *w, int64_t count, int32_t *codes, float *scale)
{
    double maxabs = 0;
    for (int64_t i = 0; i < count; i++)
        maxabs = fmax(maxabs, fabs((double)w[i]));
    double s = maxabs / 127.0;
    if (!(s >= FLT_MIN)) { /* all-zero (or denormal) channel */
        *scale = 1.0f;
        for (int64_t i = 0; i < count; i++)
            codes[i] = 0;
        return;
    }
    *scale = (float)s;
    for (int64_t i = 0; i < count; i++)
        codes[i] = quant_round_clamp((double)w[i] / (double)*scale, -127, 127);
}

void quant_const_tensor(Tensor *t)
{
    int64_t count = ir_numel(t);
    float mn = 0, mx = 0;
    for (int64_t i = 0; i < count; i++) {
        mn = fminf(mn, t->data[i]);
        mx = fmaxf(mx, t->data[i]);
    }
    t->nonneg = mn >= 0;
    t->q = quant_act_params(mn, mx, t->nonneg);
    int32_t lo, hi;
    quant_type_range(t->q.type, &lo, &hi);
    free(t->qdata);
    t->qdata = xmalloc((size_t)count * sizeof *t->qdata);
    /* the same conversion the emitted float wrappers use */
    for (int64_t i = 0; i < count; i++)
        t->qdata[i] = shiftc_quantize_f32(t->data[i], t->q.scale, t->q.zero, lo, hi);
}

int quant_lut_size(QType t) { return quant_type_bytes(t) == 2 ? 257 : 256; }

void quant_build_lut(const QParams *qx, const QParams *qy, double (*f)(double x, const void *ctx),
                     const void *ctx, int32_t lo, int32_t hi, int32_t *lut)
{
    int32_t xlo, xhi, n = quant_lut_size(qx->type), step = n == 257 ? 256 : 1;
    quant_type_range(qx->type, &xlo, &xhi);
    for (int32_t i = 0; i < n; i++) {
        double x = (double)qx->scale * (double)(xlo + i * step - qx->zero);
        double y = f(x, ctx) / (double)qy->scale;
        lut[i] = quant_round_clamp(round(y) + qy->zero, lo, hi);
    }
}

/* ---- quantization, one function per kind of op ---- */

static Tensor *tin(Graph *g, const Node *n, int i)
{
    return i < n->nin && n->in[i] >= 0 ? &g->tensors[n->in[i]] : NULL;
}

/* The output clamp range: the output's code range narrowed by a fused
 * activation. */
static void out_range(const Node *n, const Tensor *y, int32_t *lo, int32_t *hi)
{
    quant_code_range(&y->q, lo, hi);
    if (n->op != OP_CONV && n->op != OP_DENSE)
        return;
    int32_t tlo = *lo, thi = *hi;
    if (n->a.fused_act == ACT_RELU) {
        *lo = y->q.zero > *lo ? y->q.zero : *lo;
    } else if (n->a.fused_act == ACT_CLIP) {
        double s = y->q.scale;
        int32_t clo = quant_round_clamp(round(n->a.clip_min / s) + y->q.zero, tlo, thi);
        int32_t chi = quant_round_clamp(round(n->a.clip_max / s) + y->q.zero, tlo, thi);
        *lo = clo > *lo ? clo : *lo;
        *hi = chi < *hi ? chi : *hi;
    }
}

/* algorithms.md section 6 (quant.h) */
int quant_acc_bits(Graph *g, Node *n)
{
    const QLayer *q = n->q;
    const Tensor *x = tin(g, n, 0);
    int64_t per = ir_numel(tin(g, n, 1)) / q->nchan;
    /* largest |x - z_x| an input code can have (signed codes reach
     * -2^(bits-1): -128 for int8, -32768 for int16) */
    int32_t xlo, xhi;
    quant_code_range(&x->q, &xlo, &xhi);
    int64_t xmax = (int64_t)xhi - x->q.zero > (int64_t)x->q.zero - xlo ? (int64_t)xhi - x->q.zero
                                                                       : (int64_t)x->q.zero - xlo;
    int64_t max_bound = 0;
    for (int64_t c = 0; c < q->nchan; c++) {
        const int32_t *codes = q->wq + c * per;
        int64_t bound = q->bias[c] < 0 ? -(int64_t)q->bias[c] : q->bias[c];
        for (int64_t i = 0; i < per; i++)
            bound += (int64_t)(codes[i] < 0 ? -codes[i] : codes[i]) * xmax;
        n->q->acc_bound = c == 0 || bound > n->q->acc_bound ? bound : n->q->acc_bound;
        if (bound > INT32_MAX)
            return ir_fail(g, n,
                           "int32 accumulator of output channel %lld could overflow (|acc| up to "
                           "%lld > %d): too many inputs per output for %d-bit input codes",
                           (long long)c, (long long)bound, INT32_MAX, quant_bits(&x->q));
        max_bound = bound > max_bound ? bound : max_bound;
    }
    n->prec.acc_bits = max_bound <= INT16_MAX ? 16 : 32;
    return 0;
}

static int quant_weighted(Graph *g, Node *n)
{
    QLayer *q = n->q;
    Tensor *x = tin(g, n, 0), *w = tin(g, n, 1), *b = tin(g, n, 2);
    Tensor *y = &g->tensors[n->out[0]];
    if (!w || w->kind != TK_CONST || !w->data || w->rank < 2)
        return ir_fail(g, n, "weights must be a constant tensor");
    int64_t nchan = w->dims[0], total = ir_numel(w);
    if (nchan <= 0 || nchan > INT32_MAX)
        return ir_fail(g, n, "bad number of output channels");
    int64_t per = total / nchan;
    if (b && (b->kind != TK_CONST || !b->data || ir_numel(b) != nchan))
        return ir_fail(g, n, "bias must be a constant of %lld values", (long long)nchan);
    for (int64_t i = 0; i < total; i++)
        if (!isfinite(w->data[i]))
            return ir_fail(g, n, "weights '%s': value %lld is %s", w->name, (long long)i,
                           isnan(w->data[i]) ? "NaN" : "infinite");

    q->nchan = (int)nchan;
    q->wq = xmalloc((size_t)total * sizeof *q->wq);
    q->wscale = xmalloc((size_t)nchan * sizeof *q->wscale);
    q->bias = xmalloc((size_t)nchan * sizeof *q->bias);
    q->mult = xmalloc((size_t)nchan * sizeof *q->mult);
    q->shift = xmalloc((size_t)nchan * sizeof *q->shift);
    if (g->no_mul)
        q->nm = xmalloc((size_t)nchan * 3 * sizeof *q->nm);
    double sx = x->q.scale, sy = y->q.scale;
    FmtQuant fq; /* the weight format (formats.c; int8 is the baseline) */
    fmt_init(&fq, n->prec.weights);
    for (int64_t c = 0; c < nchan; c++) {
        int32_t *codes = q->wq + c * per;
        /* in no-mul mode the weight scale makes the multiplier a two-term value */
        double sw;
        fmt_weight_channel(&fq, w->data + c * per, per, g->no_mul, sx, sy, codes, &sw,
                           g->no_mul ? q->nm + 3 * c : NULL);
        q->wscale[c] = (float)sw;
        double sxw = sx * sw;
        double bv = b ? round((double)b->data[c] / sxw) : 0;
        if (!(fabs(bv) <= (double)INT32_MAX))
            return ir_fail(g, n, "bias of output channel %lld is %g accumulator units, beyond int32",
                           (long long)c, bv);
        q->bias[c] = (int32_t)bv;
        quant_multiplier(g->no_mul ? quant_nm_value(q->nm + 3 * c) : sxw / sy, &q->mult[c], &q->shift[c]);
    }
    return quant_acc_bits(g, n);
}

static double f_relu(double x, const void *ctx) { (void)ctx; return x > 0 ? x : 0; }
static double f_clip(double x, const void *ctx)
{
    const Attrs *a = ctx;
    return x < a->clip_min ? a->clip_min : x > a->clip_max ? a->clip_max : x;
}
static double f_leaky(double x, const void *ctx)
{
    const Attrs *a = ctx;
    return x >= 0 ? x : (double)a->alpha * x;
}
static double f_sigmoid(double x, const void *ctx) { (void)ctx; return 1.0 / (1.0 + exp(-x)); }
static double f_tanh(double x, const void *ctx) { (void)ctx; return tanh(x); }

static int quant_lut(Graph *g, Node *n)
{
    const Tensor *x = tin(g, n, 0), *y = &g->tensors[n->out[0]];
    double (*f)(double, const void *) = NULL;
    switch (n->op) {
    case OP_RELU: f = f_relu; break;
    case OP_CLIP: f = f_clip; break;
    case OP_LEAKYRELU: f = f_leaky; break;
    case OP_SIGMOID: f = f_sigmoid; break;
    case OP_TANH: f = f_tanh; break;
    default: unreachable();
    }
    n->q->lut = xmalloc((size_t)quant_lut_size(x->q.type) * sizeof *n->q->lut);
    quant_build_lut(&x->q, &y->q, f, &n->a, n->q->lo, n->q->hi, n->q->lut);
    return 0;
}

/* Add, Concat: a constant operand gets per-tensor codes of its own. */
static int quant_operands(Graph *g, Node *n)
{
    int nconst = 0;
    for (int i = 0; i < n->nin; i++) {
        Tensor *t = tin(g, n, i);
        if (!t)
            return ir_fail(g, n, "input %d is missing", i);
        if (t->kind == TK_CONST) {
            if (!t->data)
                return ir_fail(g, n, "constant input %d has no data", i);
            quant_const_tensor(t);
            nconst++;
        }
    }
    if (nconst == n->nin)
        return ir_fail(g, n, "all inputs are constant (should have been folded)");
    return 0;
}

static int quant_add(Graph *g, Node *n)
{
    if (n->nin != 2)
        return ir_fail(g, n, "expected 2 inputs, got %d", n->nin);
    if (quant_operands(g, n))
        return -1;
    QLayer *q = n->q;
    double sa = tin(g, n, 0)->q.scale, sb = tin(g, n, 1)->q.scale;
    double sy = g->tensors[n->out[0]].q.scale;
    /* TFLite's scheme: inputs to a common scale 2*max(sa, sb) with 20 bits
     * of headroom, summed, then scaled to the output.  16-bit codes get 15
     * bits: 65535 * 2^15 < 2^31, and after the multipliers (<= 1/2) the
     * sum of both stays below 2^31. */
    int wide = quant_type_bytes(tin(g, n, 0)->q.type) == 2 || quant_type_bytes(tin(g, n, 1)->q.type) == 2;
    q->left_shift = wide ? 15 : 20;
    double twice_max = 2 * fmax(sa, sb);
    double ma = sa / twice_max, mb = sb / twice_max;
    double mo = twice_max / ((double)(1 << q->left_shift) * sy);
    if (g->no_mul) {
        /* The common scale is free: quant_nm_pair picks two-term input
         * multipliers whose ratio is nearest sb/sa (what matters for the
         * sum), the common scale is sa/ma.  The output multiplier is
         * rounded down to a two-term value and the output scale raised to
         * match (by at most 1.2x), so the sum is requantized exactly and
         * the calibrated range still fits. */
        Tensor *y = &g->tensors[n->out[0]];
        quant_nm_pair(sb / sa, q->in_nm[0], q->in_nm[1]);
        ma = quant_nm_value(q->in_nm[0]);
        mb = quant_nm_value(q->in_nm[1]);
        double common = sa / ma;
        quant_nm_floor(common / ((double)(1 << q->left_shift) * sy), q->out_nm);
        mo = quant_nm_value(q->out_nm);
        y->q.scale = (float)(common / ((double)(1 << q->left_shift) * mo));
    }
    quant_multiplier(ma, &q->in_mult[0], &q->in_shift[0]);
    quant_multiplier(mb, &q->in_mult[1], &q->in_shift[1]);
    quant_multiplier(mo, &q->out_mult, &q->out_shift);
    return 0;
}

static int quant_concat(Graph *g, Node *n)
{
    if (n->nin < 1 || n->nin > IR_MAX_IO)
        return ir_fail(g, n, "bad number of inputs %d", n->nin);
    if (quant_operands(g, n))
        return -1;
    double sy = g->tensors[n->out[0]].q.scale;
    for (int i = 0; i < n->nin; i++) {
        double m = (double)tin(g, n, i)->q.scale / sy;
        if (g->no_mul) { /* the nearest two-term value: exact for equal scales */
            quant_nm_nearest(m, n->q->in_nm[i]);
            m = quant_nm_value(n->q->in_nm[i]);
        }
        quant_multiplier(m, &n->q->in_mult[i], &n->q->in_shift[i]);
    }
    return 0;
}

/* exp(-s_x * d) in Q16 for d = max - code: one entry per d for 8-bit
 * storage, one every 256 d (257 entries, interpolated) for 16-bit. */
static int quant_softmax(Graph *g, Node *n)
{
    const Tensor *x = tin(g, n, 0);
    double sx = x->q.scale;
    int size = quant_lut_size(x->q.type), step = size == 257 ? 256 : 1;
    n->q->exp_lut = xmalloc((size_t)size * sizeof *n->q->exp_lut);
    for (int d = 0; d < size; d++)
        n->q->exp_lut[d] = (int32_t)llround(65536.0 * exp(-sx * d * step));
    return 0;
}

/* Pools sum a window of codes in int32: it must not overflow. */
static int check_pool_sum(Graph *g, const Node *n)
{
    const Tensor *x = tin(g, n, 0);
    int64_t window = 1;
    if (n->op == OP_GLOBALAVGPOOL)
        for (int d = 2; d < x->rank; d++)
            window *= x->dims[d];
    else
        window = n->a.kernel[0] * n->a.kernel[1];
    int32_t lo, hi;
    quant_code_range(&x->q, &lo, &hi);
    int64_t m = hi > -(int64_t)lo ? hi : -(int64_t)lo;
    if (window > 0 && window > INT32_MAX / m)
        return ir_fail(g, n, "int32 sum of a %lld-value window of %d-bit codes could overflow",
                       (long long)window, quant_bits(&x->q));
    return 0;
}

/* Output QParams of ops that fix them rather than take them from
 * calibration. */
static void set_output_params(Graph *g, const Node *n)
{
    Tensor *x = tin(g, n, 0), *y = &g->tensors[n->out[0]];
    switch (n->op) {
    case OP_MAXPOOL:
    case OP_AVGPOOL:
    case OP_GLOBALAVGPOOL:
    case OP_RESHAPE:
    case OP_TRANSPOSE:
    case OP_SLICE:
        y->q = x->q; /* codes move, the scale does not change */
        y->nonneg = x->nonneg;
        break;
    case OP_SIGMOID:
    case OP_SOFTMAX: /* [0, 1]: scale 1/2^bits (1/256 at 8 bits) */
        y->q = quant_act_range_params(1, 1, n->prec.act_bits);
        y->q.scale = (float)ldexp(1.0, -n->prec.act_bits);
        break;
    case OP_TANH: /* [-1, 1]: scale 1/(2^(bits-1) - 1) (1/127 at 8 bits) */
        y->q = quant_act_range_params(1, 0, n->prec.act_bits);
        break;
    default:
        break;
    }
}

static int quant_node(Graph *g, Node *n)
{
    if (ir_op_is_recurrent(n->op)) { /* several outputs: quant_rnn.c */
        ir_free_qlayer(n->q);
        n->q = xcalloc(1, sizeof *n->q);
        return quant_rnn_node(g, n, 1.0);
    }
    if (n->nout != 1 || n->out[0] < 0)
        return ir_fail(g, n, "expected exactly one output");
    if ((unsigned)n->prec.weights >= WF_COUNT || fmt_family(n->prec.weights) == FMT_FLOAT)
        return ir_fail(g, n, "weight format not supported by the quantizer (float weights)");
    if ((n->prec.act_bits != 4 && n->prec.act_bits != 8 && n->prec.act_bits != 16) ||
        (n->prec.acc_bits != 16 && n->prec.acc_bits != 32))
        return ir_fail(g, n, "precision not supported by the quantizer "
                             "(4-, 8- or 16-bit activations, 16- or 32-bit accumulators)");
    Tensor *x = tin(g, n, 0);
    if (!x)
        return ir_fail(g, n, "input 0 is missing");
    if (n->op != OP_ADD && n->op != OP_CONCAT && x->kind == TK_CONST)
        return ir_fail(g, n, "constant input (should have been folded)");
    switch (n->op) {
    case OP_CONV: case OP_DENSE: case OP_RELU: case OP_CLIP: case OP_LEAKYRELU:
    case OP_SIGMOID: case OP_TANH: case OP_MAXPOOL: case OP_AVGPOOL: case OP_GLOBALAVGPOOL:
    case OP_ADD: case OP_CONCAT: case OP_RESHAPE: case OP_TRANSPOSE: case OP_SLICE:
    case OP_SOFTMAX:
        break;
    default:
        return ir_fail(g, n, "no integer kernel for op %s", ir_op_name(n->op));
    }
    set_output_params(g, n);
    ir_free_qlayer(n->q);
    n->q = xcalloc(1, sizeof *n->q);
    out_range(n, &g->tensors[n->out[0]], &n->q->lo, &n->q->hi);
    switch (n->op) {
    case OP_CONV:
    case OP_DENSE:
        return quant_weighted(g, n);
    case OP_RELU:
    case OP_CLIP:
    case OP_LEAKYRELU:
    case OP_SIGMOID:
    case OP_TANH:
        return quant_lut(g, n);
    case OP_ADD:
        return quant_add(g, n);
    case OP_CONCAT:
        return quant_concat(g, n);
    case OP_SOFTMAX:
        return quant_softmax(g, n);
    case OP_AVGPOOL:
    case OP_GLOBALAVGPOOL:
        return check_pool_sum(g, n);
    default:
        return 0; /* MaxPool, Reshape, Transpose, Slice: only lo/hi */
    }
}

/* The precision that decides an activation tensor's codes: its producer's
 * (prod[t], -1 for none); for a graph input, that of the consumer with the
 * most activation bits (the first such), or the default when nothing reads
 * it. */
static Precision tensor_precision(const Graph *g, const int *prod, int t)
{
    if (prod[t] >= 0)
        return g->nodes[prod[t]].prec;
    Precision p = {0};
    p.act_bits = 0;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nin; j++)
            if (g->nodes[i].in[j] == t && g->nodes[i].prec.act_bits > p.act_bits)
                p = g->nodes[i].prec;
    if (p.act_bits == 0)
        p.act_bits = 8, p.act_clip = CLIP_MINMAX;
    return p;
}

/* The tensor whose QParams t copies: through ops whose output takes its
 * input's parameters (set_output_params), up to one that chooses its own. */
static int param_root(const Graph *g, const int *prod, int t)
{
    for (int hops = 0; hops <= g->nnodes && prod[t] >= 0; hops++) {
        const Node *n = &g->nodes[prod[t]];
        if ((n->op != OP_MAXPOOL && n->op != OP_AVGPOOL && n->op != OP_GLOBALAVGPOOL &&
             n->op != OP_RESHAPE && n->op != OP_TRANSPOSE && n->op != OP_SLICE) || n->nin < 1 ||
            n->in[0] < 0)
            break;
        t = n->in[0];
    }
    return t;
}

/* The headroom the unrolled kernels need beyond the bound of section 6:
 * a statement "a = a + x[i] * 128 - x[i];" adds the signed digits of one
 * weight in turn, and a prefix of the canonical signed digits of q (top
 * digit first) can reach |q| + |q| - 1 in magnitude (|top digit| < 1.5|q|,
 * the rest alternate below it), so the partial sums exceed the final
 * ones by at most max|q| * max|x|. */
static int64_t unrolled_slack(const Graph *g, const Node *n)
{
    const Tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]];
    int64_t total = ir_numel(w), maxq = 0;
    for (int64_t i = 0; i < total; i++) {
        int64_t a = n->q->wq[i] < 0 ? -(int64_t)n->q->wq[i] : n->q->wq[i];
        maxq = a > maxq ? a : maxq;
    }
    int32_t lo, hi;
    quant_code_range(&x->q, &lo, &hi);
    return maxq * (hi > -(int64_t)lo ? hi : -(int64_t)lo);
}

/* One pass: QParams of every activation tensor (cap[t] > 0 narrows t's
 * code bits), then every node.  Returns 0, or -1 with g->err set and *bad
 * the failing node. */
static int quantize_pass(Graph *g, const int *prod, const int *cap, int *bad)
{
    *bad = -1;
    for (int t = 0; t < g->ntensors; t++) {
        Tensor *tt = &g->tensors[t];
        if (tt->kind == TK_CONST)
            continue;
        Precision p = tensor_precision(g, prod, t);
        if (p.act_bits != 4 && p.act_bits != 8 && p.act_bits != 16)
            return ir_fail(g, prod[t] >= 0 ? &g->nodes[prod[t]] : NULL,
                           "tensor \"%s\": %d-bit activations are not supported (4, 8 or 16)", tt->name,
                           p.act_bits);
        /* min/max at 8 bits is the baseline: exactly quant_act_params */
        double range = clip_range(tt, p.act_clip, p.act_pct, p.act_bits);
        tt->q = quant_act_range_params(range, tt->nonneg, p.act_bits);
        if (cap[t] > 0 && cap[t] < tt->q.bits) { /* a narrower code range, same storage */
            int32_t lo, hi;
            tt->q.bits = cap[t];
            quant_code_range(&tt->q, &lo, &hi);
            tt->q.scale = (float)(sane_range(range) / (double)hi);
        }
    }
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        if (quant_node(g, n)) {
            *bad = i;
            return -1;
        }
        if ((n->op == OP_CONV || n->op == OP_DENSE) &&
            n->q->acc_bound > INT32_MAX - unrolled_slack(g, n)) {
            *bad = i;
            return ir_fail(g, n, "int32 accumulator could overflow in the unrolled sums (|acc| up to "
                                 "%lld plus %lld for partial sums > %d)",
                           (long long)n->q->acc_bound, (long long)unrolled_slack(g, n), INT32_MAX);
        }
    }
    return 0;
}

/* Activations of 16-bit storage whose int32 accumulators could overflow
 * in a consumer (algorithms.md section 6) are rescaled, not rejected: the
 * input tensor keeps int16/uint16 storage but gets fewer code bits (a
 * coarser scale), as few fewer as make every bound fit, down to 8; then
 * quantization starts over.  8-bit codes are rejected as before. */
int ir_quantize(Graph *g)
{
    int *prod = xmalloc(((size_t)g->ntensors + 1) * sizeof *prod);
    int *cap = xcalloc((size_t)g->ntensors + 1, sizeof *cap);
    for (int t = 0; t < g->ntensors; t++)
        prod[t] = -1;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nout; j++)
            if (g->nodes[i].out[j] >= 0)
                prod[g->nodes[i].out[j]] = i;
    int rc = -1;
    for (int attempt = 0; attempt < 64; attempt++) {
        int bad;
        rc = quantize_pass(g, prod, cap, &bad);
        if (rc == 0 || bad < 0)
            break;
        Node *n = &g->nodes[bad];
        if ((n->op != OP_CONV && n->op != OP_DENSE) || !n->q || n->q->acc_bound <= 0)
            break;
        int64_t need = n->q->acc_bound + unrolled_slack(g, n);
        if (need <= INT32_MAX)
            break; /* failed for another reason */
        int root = param_root(g, prod, n->in[0]);
        Tensor *x = &g->tensors[root];
        int bits = quant_bits(&x->q), drop = 0;
        if (quant_type_bytes(x->q.type) != 2)
            break;
        while ((need >> drop) > INT32_MAX)
            drop++;
        if (bits - drop < 8)
            break;
        cap[root] = bits - drop;
    }
    free(prod);
    free(cap);
    return rc;
}

/* ---- float <-> codes ---- */

/* The runtime's storage tag of a quantized type. */
static int rt_type(QType t)
{
    switch (t) {
    case QT_I8: return SHIFTC_I8;
    case QT_U8: return SHIFTC_U8;
    case QT_I16: return SHIFTC_I16;
    case QT_U16: return SHIFTC_U16;
    default: unreachable();
    }
}

void ir_quantize_input(const Tensor *t, const float *x, void *codes)
{
    int32_t lo, hi;
    quant_code_range(&t->q, &lo, &hi);
    int xt = rt_type(t->q.type);
    int64_t count = ir_numel(t);
    for (int64_t i = 0; i < count; i++)
        shiftc_st(codes, (int32_t)i, xt, shiftc_quantize_f32(x[i], t->q.scale, t->q.zero, lo, hi));
}

void ir_dequantize_output(const Tensor *t, const void *codes, float *y)
{
    ensure(t->q.type != QT_NONE);
    int xt = rt_type(t->q.type);
    int64_t count = ir_numel(t);
    for (int64_t i = 0; i < count; i++)
        y[i] = shiftc_dequantize_f32(shiftc_ld(codes, (int32_t)i, xt), t->q.scale, t->q.zero);
}

/* ---- multiplierless mode (quant.h) ---- */

int quant_nm_valid(const int32_t nm[3])
{
    int32_t e1 = nm[0], s2 = nm[1], e2 = nm[2];
    if (e1 < -29 || e1 > 31 || s2 < -1 || s2 > 1)
        return 0;
    if (s2 == 0)
        return 1;
    return e2 - e1 >= 1 && e2 - e1 <= QUANT_NM_MAX_GAP && e2 + (e1 < 1 ? 1 - e1 : 0) <= 30;
}

double quant_nm_value(const int32_t nm[3])
{
    return ldexp(1.0, -nm[0]) + (nm[1] ? nm[1] * ldexp(1.0, -nm[2]) : 0.0);
}

static double nm_clamp(double m)
{
    double lo = ldexp(1.0, -31), hi = ldexp(1.0, 29);
    return !(m > lo) ? lo : m > hi ? hi : m; /* NaN -> lo */
}

int quant_nm_candidates(double m, int32_t (*out)[3])
{
    int x, n = 0;
    frexp(nm_clamp(m), &x); /* m in [2^(x-1), 2^x) */
    for (int lead = x - 2; lead <= x + 1; lead++) {
        int32_t c[3] = {-lead, 0, 0};
        if (quant_nm_valid(c))
            memcpy(out[n++], c, sizeof c);
        for (int s2 = -1; s2 <= 1; s2 += 2)
            for (int gap = 1; gap <= QUANT_NM_MAX_GAP; gap++) {
                int32_t t[3] = {-lead, s2, -lead + gap};
                if (quant_nm_valid(t))
                    memcpy(out[n++], t, sizeof t);
            }
    }
    ensure(n <= QUANT_NM_MAX_CAND);
    return n;
}

void quant_nm_nearest(double m, int32_t nm[3])
{
    int32_t cand[QUANT_NM_MAX_CAND][3];
    m = nm_clamp(m);
    int n = quant_nm_candidates(m, cand), best = -1;
    double best_err = INFINITY;
    for (int i = 0; i < n; i++) {
        double err = fabs(quant_nm_value(cand[i]) - m);
        if (err < best_err)
            best_err = err, best = i;
    }
    ensure(best >= 0);
    memcpy(nm, cand[best], 3 * sizeof *nm);
}

void quant_nm_floor(double m, int32_t nm[3])
{
    int32_t cand[QUANT_NM_MAX_CAND][3];
    m = nm_clamp(m);
    int n = quant_nm_candidates(m, cand), best = -1;
    double best_v = -INFINITY;
    for (int i = 0; i < n; i++) {
        double v = quant_nm_value(cand[i]);
        if (v <= m && v > best_v)
            best_v = v, best = i;
    }
    if (best < 0) { /* m at the bottom of the range */
        nm[0] = 31, nm[1] = 0, nm[2] = 0;
        return;
    }
    memcpy(nm, cand[best], 3 * sizeof *nm);
}

void quant_nm_pair(double r, int32_t ma[3], int32_t mb[3])
{
    if (r > 1) { /* the larger scale gets the multiplier in [1/4, 1/2] */
        quant_nm_pair(1 / r, mb, ma);
        return;
    }
    int32_t cand[QUANT_NM_MAX_CAND][3], nb[3];
    int n = quant_nm_candidates(0.375, cand);
    double best_err = INFINITY;
    for (int i = 0; i < n; i++) {
        double va = quant_nm_value(cand[i]);
        if (va < 0.25 || va > 0.5)
            continue;
        quant_nm_nearest(va * r, nb);
        double err = fabs(quant_nm_value(nb) / va - r);
        if (err < best_err) {
            best_err = err;
            memcpy(ma, cand[i], 3 * sizeof *ma);
            memcpy(mb, nb, 3 * sizeof *mb);
        }
    }
    ensure(best_err < INFINITY);
}

/* Codes of w at scale s, and their squared error. */
static double nm_codes(const float *w, int64_t count, double s, int32_t *codes)
{
    double err = 0;
    for (int64_t i = 0; i < count; i++) {
        int32_t q = quant_round_clamp((double)w[i] / s, -127, 127);
        double d = (double)w[i] - s * q;
        err += d * d;
        if (codes)
            codes[i] = q;
    }
    return err;
}

void quant_nm_weight_channel(const float *w, int64_t count, double sx, double sy, int32_t *codes,
                             double *sw, int32_t nm[3])
{
    double maxabs = 0;
    for (int64_t i = 0; i < count; i++)
        maxabs = fmax(maxabs, fabs((double)w[i]));
    double s0 = maxabs / 127.0;
    if (!(s0 >= FLT_MIN)) { /* all-zero (or denormal) channel, as quant_weight_channel */
        quant_nm_nearest(sx / sy, nm);
        *sw = quant_nm_value(nm) * sy / sx;
        for (int64_t i = 0; i < count; i++)
            codes[i] = 0;
        return;
    }
    double m0 = sx * s0 / sy;
    int32_t cand[QUANT_NM_MAX_CAND][3];
    int n = quant_nm_candidates(m0, cand), best = -1;
    double best_err = INFINITY;
    for (int i = 0; i < n; i++) {
        double v = quant_nm_value(cand[i]);
        if (v < m0 / 1.25 || v > m0 * 1.25)
            continue;
        double err = nm_codes(w, count, v * sy / sx, NULL);
        if (err < best_err)
            best_err = err, best = i;
    }
    if (best >= 0)
        memcpy(nm, cand[best], 3 * sizeof *nm);
    else /* m0 beyond the valid range: the nearest end */
        quant_nm_nearest(m0, nm);
    *sw = quant_nm_value(nm) * sy / sx;
    nm_codes(w, count, *sw, codes);
}
