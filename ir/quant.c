/*
 * Calibration and the baseline quantization scheme.
 *
 * ir_calibrate() runs the float interpreter over a calibration set and
 * records each activation's range; ir_quantize() turns ranges and float
 * weights into QParams per tensor and a QLayer of integer constants per
 * node, which the integer simulator (qsim.c) and the emitter consume as
 * they are (through kernel_args.c).
 *
 * Baseline scheme: zero points are 0; activations are uint8 (scale max/255)
 * when structurally nonnegative, else symmetric int8 (scale max|x|/127);
 * weights are symmetric int8 per output channel; accumulation is int32,
 * proven overflow-free per layer; requantization uses gemmlowp multipliers.
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

#include "ir.h"
#include "quant.h"
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
    ensure(t == QT_I8 || t == QT_U8);
    *lo = t == QT_U8 ? 0 : -128;
    *hi = t == QT_U8 ? 255 : 127;
}

QParams quant_act_params(float min, float max, int nonneg)
{
    QParams q = {0};
    double range;
    if (nonneg) {
        q.type = QT_U8;
        range = max > 0 ? max : 0;
    } else {
        q.type = QT_I8;
        range = fmax(fabs((double)min), fabs((double)max));
    }
    /* Nothing to represent (never calibrated, all zeros): any scale works;
     * tiny ranges are floored so the scale stays a normal float. */
    if (!(range > 0))
        range = 1;
    if (isinf(range))
        range = FLT_MAX;
    if (range < 1e-20)
        range = 1e-20;
    q.scale = (float)(range / (nonneg ? 255.0 : 127.0));
    q.zero = 0;
    return q;
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

void quant_build_lut(const QParams *qx, const QParams *qy, double (*f)(double x, const void *ctx),
                     const void *ctx, int32_t lo, int32_t hi, int32_t *lut)
{
    int32_t xlo, xhi;
    quant_type_range(qx->type, &xlo, &xhi);
    for (int32_t i = 0; i < 256; i++) {
        double x = (double)qx->scale * (double)(xlo + i - qx->zero);
        double y = f(x, ctx) / (double)qy->scale;
        lut[i] = quant_round_clamp(round(y) + qy->zero, lo, hi);
    }
}

/* ---- calibration ---- */

int ir_calibrate(Graph *g, const float *samples, int n)
{
    if (g->ninputs < 1)
        return ir_fail(g, NULL, "calibration: the model has no input");
    if (n < 1 || !samples)
        return ir_fail(g, NULL, "calibration: no samples");
    for (int t = 1; t < g->ninputs; t++)
        if (ir_numel(&g->tensors[g->inputs[t]]) > 0)
            return ir_fail(g, NULL, "calibration: models with several inputs are not supported");
    for (int t = 0; t < g->ntensors; t++) {
        g->tensors[t].cal_min = INFINITY;
        g->tensors[t].cal_max = -INFINITY;
    }
    int in = g->inputs[0];
    int64_t in_count = ir_numel(&g->tensors[in]);
    float **vals = ir_interp_alloc(g);
    int rc = 0;
    for (int s = 0; s < n && rc == 0; s++) {
        memcpy(vals[in], samples + (int64_t)s * in_count, (size_t)in_count * sizeof(float));
        rc = ir_interp_run(g, vals);
        for (int t = 0; t < g->ntensors && rc == 0; t++) {
            Tensor *tt = &g->tensors[t];
            if (tt->kind == TK_CONST || !vals[t])
                continue;
            int64_t count = ir_numel(tt);
            for (int64_t i = 0; i < count; i++) {
                float v = vals[t][i];
                if (v != v)
                    continue; /* NaN says nothing about the range */
                tt->cal_min = v < tt->cal_min ? v : tt->cal_min;
                tt->cal_max = v > tt->cal_max ? v : tt->cal_max;
            }
        }
    }
    ir_interp_free(g, vals);
    if (rc != 0)
        return -1;
    for (int t = 0; t < g->ntensors; t++) {
        Tensor *tt = &g->tensors[t];
        if (tt->kind == TK_CONST || tt->cal_min > tt->cal_max)
            tt->cal_min = tt->cal_max = 0; /* constants, or never a number */
    }

    /* nonneg: structural facts, propagated in topological order */
    for (int t = 0; t < g->ntensors; t++) {
        Tensor *tt = &g->tensors[t];
        tt->nonneg = 0;
        if (tt->kind == TK_INPUT)
            tt->nonneg = tt->cal_min >= 0;
        else if (tt->kind == TK_CONST && tt->data) {
            int64_t count = ir_numel(tt);
            tt->nonneg = 1;
            for (int64_t i = 0; i < count; i++)
                if (!(tt->data[i] >= 0))
                    tt->nonneg = 0;
        }
    }
    for (int i = 0; i < g->nnodes; i++) {
        const Node *nd = &g->nodes[i];
        const Attrs *a = &nd->a;
        int nn = 0;
        switch (nd->op) {
        case OP_CONV:
        case OP_DENSE:
            nn = a->fused_act == ACT_RELU || (a->fused_act == ACT_CLIP && a->clip_min >= 0);
            break;
        case OP_RELU:
        case OP_SIGMOID:
        case OP_SOFTMAX:
            nn = 1;
            break;
        case OP_CLIP:
            nn = a->clip_min >= 0;
            break;
        case OP_MAXPOOL:
        case OP_AVGPOOL:
        case OP_GLOBALAVGPOOL:
        case OP_RESHAPE:
        case OP_TRANSPOSE:
            nn = nd->in[0] >= 0 && g->tensors[nd->in[0]].nonneg;
            break;
        case OP_CONCAT:
        case OP_ADD:
            nn = nd->nin > 0;
            for (int j = 0; j < nd->nin; j++)
                if (nd->in[j] < 0 || !g->tensors[nd->in[j]].nonneg)
                    nn = 0;
            break;
        default:
            nn = 0;
            break;
        }
        for (int j = 0; j < nd->nout; j++)
            if (nd->out[j] >= 0)
                g->tensors[nd->out[j]].nonneg = nn;
    }
    return 0;
}

/* ---- quantization, one function per kind of op ---- */

static Tensor *tin(Graph *g, const Node *n, int i)
{
    return i < n->nin && n->in[i] >= 0 ? &g->tensors[n->in[i]] : NULL;
}

/* The output clamp range: the output type narrowed by a fused activation. */
static void out_range(const Node *n, const Tensor *y, int32_t *lo, int32_t *hi)
{
    quant_type_range(y->q.type, lo, hi);
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
            return ir_fail(g, n, "weight %lld is not a finite number", (long long)i);

    q->nchan = (int)nchan;
    q->wq = xmalloc((size_t)total * sizeof *q->wq);
    q->wscale = xmalloc((size_t)nchan * sizeof *q->wscale);
    q->bias = xmalloc((size_t)nchan * sizeof *q->bias);
    q->mult = xmalloc((size_t)nchan * sizeof *q->mult);
    q->shift = xmalloc((size_t)nchan * sizeof *q->shift);
    if (g->no_mul)
        q->nm = xmalloc((size_t)nchan * 3 * sizeof *q->nm);
    /* largest |x - z_x| an input code can have (int8 reaches -128) */
    int64_t xmax = x->q.type == QT_U8 ? 255 - x->q.zero : 128 + x->q.zero;
    double sx = x->q.scale, sy = y->q.scale;
    for (int64_t c = 0; c < nchan; c++) {
        int32_t *codes = q->wq + c * per;
        double sxw;
        if (g->no_mul) {
            /* the weight scale makes the multiplier a two-term value */
            double sw;
            quant_nm_weight_channel(w->data + c * per, per, sx, sy, codes, &sw, q->nm + 3 * c);
            q->wscale[c] = (float)sw;
            sxw = sx * sw;
        } else {
            quant_weight_channel(w->data + c * per, per, codes, &q->wscale[c]);
            sxw = sx * (double)q->wscale[c];
        }
        double bv = b ? round((double)b->data[c] / sxw) : 0;
        if (!(fabs(bv) <= (double)INT32_MAX))
            return ir_fail(g, n, "bias of output channel %lld is %g accumulator units, beyond int32",
                           (long long)c, bv);
        q->bias[c] = (int32_t)bv;
        quant_multiplier(g->no_mul ? quant_nm_value(q->nm + 3 * c) : sxw / sy, &q->mult[c], &q->shift[c]);
        /* algorithms.md section 6: the largest |acc| any input can produce */
        int64_t bound = q->bias[c] < 0 ? -(int64_t)q->bias[c] : q->bias[c];
        for (int64_t i = 0; i < per; i++)
            bound += (int64_t)(codes[i] < 0 ? -codes[i] : codes[i]) * xmax;
        if (bound > INT32_MAX)
            return ir_fail(g, n,
                           "int32 accumulator of output channel %lld could overflow (|acc| up to "
                           "%lld > %d): too many inputs per output for 8-bit codes",
                           (long long)c, (long long)bound, INT32_MAX);
    }
    return 0;
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
    n->q->lut = xmalloc(256 * sizeof *n->q->lut);
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
     * of headroom, summed, then scaled to the output */
    q->left_shift = 20;
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

static int quant_softmax(Graph *g, Node *n)
{
    double sx = tin(g, n, 0)->q.scale;
    n->q->exp_lut = xmalloc(256 * sizeof *n->q->exp_lut);
    for (int d = 0; d < 256; d++)
        n->q->exp_lut[d] = (int32_t)llround(65536.0 * exp(-sx * d));
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
        y->q = x->q; /* codes move, the scale does not change */
        y->nonneg = x->nonneg;
        break;
    case OP_SIGMOID:
    case OP_SOFTMAX:
        y->q = (QParams){QT_U8, 1.0f / 256, 0};
        break;
    case OP_TANH:
        y->q = (QParams){QT_I8, 1.0f / 127, 0};
        break;
    default:
        break;
    }
}

static int quant_node(Graph *g, Node *n)
{
    if (n->nout != 1 || n->out[0] < 0)
        return ir_fail(g, n, "expected exactly one output");
    if (n->prec.weights != WF_INT8 || n->prec.act_bits != 8 || n->prec.acc_bits != 32)
        return ir_fail(g, n, "precision not supported by the baseline quantizer "
                             "(int8 weights, 8-bit activations, 32-bit accumulators)");
    Tensor *x = tin(g, n, 0);
    if (!x)
        return ir_fail(g, n, "input 0 is missing");
    if (n->op != OP_ADD && n->op != OP_CONCAT && x->kind == TK_CONST)
        return ir_fail(g, n, "constant input (should have been folded)");
    switch (n->op) {
    case OP_CONV: case OP_DENSE: case OP_RELU: case OP_CLIP: case OP_LEAKYRELU:
    case OP_SIGMOID: case OP_TANH: case OP_MAXPOOL: case OP_AVGPOOL: case OP_GLOBALAVGPOOL:
    case OP_ADD: case OP_CONCAT: case OP_RESHAPE: case OP_TRANSPOSE: case OP_SOFTMAX:
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
    default:
        return 0; /* pools, Reshape, Transpose: only lo/hi */
    }
}

int ir_quantize(Graph *g)
{
    for (int t = 0; t < g->ntensors; t++) {
        Tensor *tt = &g->tensors[t];
        if (tt->kind != TK_CONST)
            tt->q = quant_act_params(tt->cal_min, tt->cal_max, tt->nonneg);
    }
    for (int i = 0; i < g->nnodes; i++)
        if (quant_node(g, &g->nodes[i]))
            return -1;
    return 0;
}

/* ---- float <-> codes ---- */

void ir_quantize_input(const Tensor *t, const float *x, void *codes)
{
    int32_t lo, hi;
    quant_type_range(t->q.type, &lo, &hi);
    int xt = t->q.type == QT_U8 ? SHIFTC_U8 : SHIFTC_I8;
    int64_t count = ir_numel(t);
    for (int64_t i = 0; i < count; i++)
        shiftc_st(codes, (int32_t)i, xt, shiftc_quantize_f32(x[i], t->q.scale, t->q.zero, lo, hi));
}

void ir_dequantize_output(const Tensor *t, const void *codes, float *y)
{
    int xt = t->q.type == QT_U8 ? SHIFTC_U8 : SHIFTC_I8;
    ensure(t->q.type != QT_NONE);
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
