/*
 * Quantizing LSTM and GRU nodes (quant_rnn.h, docs/rnn.md).
 *
 * Per gate row k of W (input weights) and R (recurrent weights) the codes
 * and scale come from fmt_weight_channel, the per-channel quantizer of
 * Conv and Dense, with "input scale" s_x (W: the input tensor's scale; R:
 * 2^-15, the hidden state's) and "output scale" 2^-pre_frac, the
 * pre-activation's: the row's multiplier is M_k = s_x * s_k * 2^pre_frac,
 * and in no-mul mode the row scale is chosen so that M_k is a two-term
 * value exactly (as for Conv and Dense).  The biases Wb + Rb go straight
 * into Q(pre_frac).  Each direction of a bidirectional node is quantized
 * on its own (quant_direction); formats, tables and output scales are the
 * node's.  Everything is computed in double in a fixed order.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"
#include "ir.h"
#include "kernel_args.h"
#include "quant.h"
#include "quant_rnn.h"
#include "util.h"

static const Tensor *opt_in(const Graph *g, const Node *n, int i)
{
    return i < n->nin && n->in[i] >= 0 ? &g->tensors[n->in[i]] : NULL;
}

int quant_rnn_output(const Node *n, int k) { return k < n->nout ? n->out[k] : -1; }

void quant_rnn_free(QRnn *r)
{
    if (!r)
        return;
    for (int d = 0; d < 2; d++) {
        QRnnDir *q = &r->dir[d];
        free(q->wq);
        free(q->rq);
        free(q->wscale);
        free(q->rscale);
        free(q->wmult);
        free(q->wshift);
        free(q->rmult);
        free(q->rshift);
        free(q->wnm);
        free(q->rnm);
        free(q->bias);
        free(q->h0);
        free(q->c0);
    }
    free(r->sig);
    free(r->tnh);
    free(r);
}

static int is_const(const Tensor *t) { return t && t->kind == TK_CONST && t->data; }

/* Direction d's slice of a constant initial state [ndir, 1, H] in
 * Q(frac), NULL when absent or all zero. */
static int init_state(Graph *g, const Node *n, int idx, int32_t d, int32_t ndir, int32_t H,
                      int frac, const char *what, int16_t **out)
{
    const Tensor *t = opt_in(g, n, idx);
    *out = NULL;
    if (!t)
        return 0;
    if (!is_const(t))
        return ir_fail(g, n, "a computed %s is not supported by the integer path (constant or "
                             "absent only)", what);
    if (ir_numel(t) != (int64_t)ndir * H)
        return ir_fail(g, n, "%s has %lld values, expected %lld (batch 1): not supported", what,
                       (long long)ir_numel(t), (long long)ndir * H);
    const float *v = t->data + (int64_t)d * H;
    int zero = 1;
    for (int32_t j = 0; j < H; j++)
        zero &= v[j] == 0;
    if (zero)
        return 0;
    *out = xmalloc((size_t)H * sizeof **out);
    for (int32_t j = 0; j < H; j++)
        (*out)[j] = (int16_t)quant_round_clamp(ldexp((double)v[j], frac), -32767, 32767);
    return 0;
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static void build_tables(QRnn *r)
{
    r->sig = xmalloc(SHIFTC_RNN_TAB_N * sizeof *r->sig);
    r->tnh = xmalloc(SHIFTC_RNN_TAB_N * sizeof *r->tnh);
    for (int i = 0; i < SHIFTC_RNN_TAB_N; i++) {
        double x = ldexp((double)(-32768 + i * (1 << SHIFTC_RNN_TAB_SHIFT)), -r->pre_frac) / r->slope;
        r->sig[i] = (int16_t)quant_round_clamp(sigmoid(x) * 32768.0, 0, 32767);
        r->tnh[i] = (int16_t)quant_round_clamp(tanh(x) * 32768.0, -32767, 32767);
    }
}

/* Codes and multipliers of the rows of one weight matrix [rows][cols]. */
static int quant_matrix(Graph *g, const Node *n, const float *w, int32_t rows, int32_t cols,
                        double sx, double spre, int32_t **wq, float **scale, int32_t **mult,
                        int32_t **shift, int32_t **nm)
{
    int64_t total = (int64_t)rows * cols;
    for (int64_t i = 0; i < total; i++)
        if (!isfinite(w[i]))
            return ir_fail(g, n, "weight %lld is not a finite number", (long long)i);
    *wq = xmalloc(((size_t)total + 1) * sizeof **wq);
    *scale = xmalloc((size_t)rows * sizeof **scale);
    *mult = xmalloc((size_t)rows * sizeof **mult);
    *shift = xmalloc((size_t)rows * sizeof **shift);
    *nm = g->no_mul ? xmalloc((size_t)rows * 3 * sizeof **nm) : NULL;
    FmtQuant fq;
    fmt_init(&fq, n->prec.weights);
    for (int32_t k = 0; k < rows; k++) {
        double sw;
        int32_t *m3 = g->no_mul ? *nm + 3 * k : NULL;
        fmt_weight_channel(&fq, w + (int64_t)k * cols, cols, g->no_mul, sx, spre,
                           *wq + (int64_t)k * cols, &sw, m3);
        (*scale)[k] = (float)sw;
        quant_multiplier(g->no_mul ? quant_nm_value(m3) : sx * sw / spre, &(*mult)[k], &(*shift)[k]);
    }
    return 0;
}

/* max over rows of sum |q| * vmax, plus the unrolled kernels' slack
 * max|q| * vmax (quant.c, unrolled_slack). */
static int64_t matrix_bound(const int32_t *wq, int32_t rows, int32_t cols, int64_t vmax)
{
    int64_t best = 0, maxq = 0;
    for (int32_t k = 0; k < rows; k++) {
        int64_t b = 0;
        for (int32_t i = 0; i < cols; i++) {
            int64_t a = llabs((long long)wq[(int64_t)k * cols + i]);
            b += a * vmax;
            maxq = a > maxq ? a : maxq;
        }
        best = b > best ? b : best;
    }
    return best + maxq * vmax;
}

/* Output k: the requantization of h (Q15) or c (Q(c_frac)) to its codes. */
static void quant_output(Graph *g, const Node *n, QRnn *r, int k)
{
    int t = quant_rnn_output(n, k);
    if (t < 0)
        return;
    Tensor *y = &g->tensors[t];
    int frac = k == 2 ? r->c_frac : QRNN_H_FRAC;
    double m = ldexp(1.0, -frac) / y->q.scale;
    if (g->no_mul) {
        /* round the multiplier down to a two-term value and raise the
         * output scale to match (by at most 1.2x): exact, range kept */
        quant_nm_floor(m, r->ynm[k]);
        m = quant_nm_value(r->ynm[k]);
        y->q.scale = (float)(ldexp(1.0, -frac) / m);
    }
    quant_multiplier(m, &r->ym[k], &r->ys[k]);
    quant_code_range(&y->q, &r->ylo[k], &r->yhi[k]);
}

/* The scope checks: everything refused is named, with "not supported". */
static int check_node(Graph *g, const Node *n, int32_t *D, int32_t *T, int32_t *I, int32_t *H)
{
    int lstm = n->op == OP_LSTM, G = lstm ? 4 : 3;
    const Tensor *x = opt_in(g, n, 0), *w = opt_in(g, n, 1), *rw = opt_in(g, n, 2);
    const Tensor *b = opt_in(g, n, 3);
    if (!x || !w || !rw)
        return ir_fail(g, n, "inputs X, W and R are required");
    if (x->kind == TK_CONST)
        return ir_fail(g, n, "constant input X (should have been folded)");
    if (!is_const(w) || !is_const(rw) || (b && !is_const(b)))
        return ir_fail(g, n, "computed weights or biases are not supported (constants only)");
    if (n->a.direction != RNN_FORWARD && n->a.direction != RNN_REVERSE &&
        n->a.direction != RNN_BIDIRECTIONAL)
        return ir_fail(g, n, "unknown direction: not supported");
    int64_t dirs = n->a.direction == RNN_BIDIRECTIONAL ? 2 : 1;
    if (opt_in(g, n, 4))
        return ir_fail(g, n, "sequence_lens is not supported by the integer path");
    if (lstm && opt_in(g, n, 7)) {
        const Tensor *p = opt_in(g, n, 7);
        if (!is_const(p))
            return ir_fail(g, n, "peepholes (input P) are not supported by the integer path");
        for (int64_t i = 0; i < ir_numel(p); i++)
            if (p->data[i] != 0)
                return ir_fail(g, n, "peepholes (input P) are not supported by the integer path");
    }
    if (x->rank != 3)
        return ir_fail(g, n, "input X of rank %d: not supported (expected [T, batch, input])",
                       x->rank);
    if (x->dims[1] != 1)
        return ir_fail(g, n, "batch %lld is not supported by the integer path (batch 1 only)",
                       (long long)x->dims[1]);
    int64_t h = n->a.hidden_size;
    if (h <= 0 || h > 4096 || x->dims[0] < 1 || x->dims[0] > INT32_MAX / 4 || x->dims[2] < 1 ||
        x->dims[2] > 65536)
        return ir_fail(g, n, "sizes not supported (hidden %lld, steps %lld, input %lld)",
                       (long long)h, (long long)x->dims[0], (long long)x->dims[2]);
    if (ir_numel(w) != dirs * G * h * x->dims[2] || ir_numel(rw) != dirs * G * h * h ||
        (b && ir_numel(b) != dirs * 2 * G * h))
        return ir_fail(g, n, "weight shapes do not match hidden_size %lld, input size %lld and "
                             "%lld direction(s)", (long long)h, (long long)x->dims[2],
                       (long long)dirs);
    if (!ir_tensor_quantized(x) || x->q.zero != 0)
        return ir_fail(g, n, "input X is not quantized with zero point 0");
    if (n->nout < 1 || n->nout > (lstm ? 3 : 2))
        return ir_fail(g, n, "bad number of outputs %d", n->nout);
    int any = 0;
    for (int k = 0; k < n->nout; k++) {
        int t = n->out[k];
        if (t < 0)
            continue;
        const Tensor *y = &g->tensors[t];
        int64_t want = k == 0 ? x->dims[0] * dirs * h : dirs * h;
        if (ir_numel(y) != want)
            return ir_fail(g, n, "output %d has %lld values, expected %lld", k,
                           (long long)ir_numel(y), (long long)want);
        if (!ir_tensor_quantized(y) || y->q.zero != 0)
            return ir_fail(g, n, "output %d is not quantized with zero point 0", k);
        any = 1;
    }
    if (!any)
        return ir_fail(g, n, "no output");
    if (!(n->a.rnn_clip >= 0) || !isfinite(n->a.rnn_clip))
        return ir_fail(g, n, "bad clip %g", n->a.rnn_clip);
    *D = (int32_t)dirs;
    *T = (int32_t)x->dims[0];
    *I = (int32_t)x->dims[2];
    *H = (int32_t)h;
    return 0;
}

/* Fraction bits of the LSTM cell state: Q11 (|c| < 16) unless the
 * calibrated range of Y_c (the last step's c, a proxy for every step's)
 * reaches half of that; then one bit fewer per doubling, down to Q7. */
static int32_t cell_frac(const Graph *g, const Node *n)
{
    int t = n->op == OP_LSTM ? quant_rnn_output(n, 2) : -1;
    int32_t frac = QRNN_C_FRAC;
    if (t < 0 || g->tensors[t].cal.count == 0)
        return frac;
    double cmax = fmax(fabs((double)g->tensors[t].cal_min), fabs((double)g->tensors[t].cal_max));
    while (frac > 7 && 2 * cmax >= ldexp(1.0, 15 - frac))
        frac--;
    return frac;
}

/* Direction d of the node: its slices of W, R, B (ONNX's leading axis)
 * and of the initial states, and its accumulator bound. */
static int quant_direction(Graph *g, const Node *n, QRnn *r, int32_t d)
{
    const Tensor *x = opt_in(g, n, 0), *w = opt_in(g, n, 1), *rw = opt_in(g, n, 2);
    const Tensor *b = opt_in(g, n, 3);
    QRnnDir *q = &r->dir[d];
    int32_t H = r->H, I = r->I, rows = r->G * H;
    double spre = ldexp(1.0, -r->pre_frac);
    q->reverse = r->ndir == 2 ? d == 1 : n->a.direction == RNN_REVERSE;
    if (quant_matrix(g, n, w->data + (int64_t)d * rows * I, rows, I, x->q.scale, spre, &q->wq,
                     &q->wscale, &q->wmult, &q->wshift, &q->wnm) ||
        quant_matrix(g, n, rw->data + (int64_t)d * rows * H, rows, H, ldexp(1.0, -QRNN_H_FRAC),
                     spre, &q->rq, &q->rscale, &q->rmult, &q->rshift, &q->rnm))
        return -1;

    /* biases Wb, Rb of this direction into the 4H pre-activation slots */
    const float *wb = b ? b->data + (int64_t)d * 2 * rows : NULL, *rb = wb ? wb + rows : NULL;
    q->bias = xcalloc((size_t)4 * H, sizeof *q->bias);
    for (int32_t k = 0; wb && k < 4 * H; k++) {
        double v;
        if (!r->gru || k < 2 * H)
            v = (double)wb[k] + rb[k];
        else if (k < 3 * H)
            v = wb[k]; /* Wb_h */
        else
            v = rb[k - H]; /* Rb_h */
        if (!isfinite(v))
            return ir_fail(g, n, "bias %d is not a finite number", k);
        q->bias[k] = quant_round_clamp(ldexp(v, r->pre_frac), -SHIFTC_RNN_PRE_MAX, SHIFTC_RNN_PRE_MAX);
    }
    if (init_state(g, n, 5, d, r->ndir, H, QRNN_H_FRAC, "initial_h", &q->h0) ||
        (!r->gru && init_state(g, n, 6, d, r->ndir, H, r->c_frac, "initial_c", &q->c0)))
        return -1;

    /* overflow-free accumulation (algorithms.md section 6) */
    int32_t xlo, xhi;
    quant_code_range(&x->q, &xlo, &xhi);
    int64_t xmax = xhi > -(int64_t)xlo ? xhi : -(int64_t)xlo;
    q->acc_bound_w = matrix_bound(q->wq, rows, I, xmax);
    q->acc_bound_r = matrix_bound(q->rq, rows, H, 32767);
    int64_t worst = q->acc_bound_w > q->acc_bound_r ? q->acc_bound_w : q->acc_bound_r;
    if (worst > INT32_MAX)
        return ir_fail(g, n, "int32 accumulator could overflow (%s|acc| up to %lld with the "
                             "unrolled partial sums > %d): hidden or input size not supported at "
                             "these precisions",
                       r->ndir == 1 ? "" : d == 0 ? "forward direction: " : "reverse direction: ",
                       (long long)worst, INT32_MAX);
    return 0;
}

int quant_rnn_node(Graph *g, Node *n, double slope)
{
    if (n->op != OP_LSTM && n->op != OP_GRU)
        return ir_fail(g, n, "not a recurrent node");
    if ((unsigned)n->prec.weights >= WF_COUNT || fmt_family(n->prec.weights) == FMT_FLOAT)
        return ir_fail(g, n, "weight format not supported by the quantizer (float weights)");
    if (!(slope >= 1.0 / 64) || !(slope <= 64))
        return ir_fail(g, n, "sloping factor %g not supported (1/64 .. 64)", slope);
    int32_t D = 0, T = 0, I = 0, H = 0;
    if (check_node(g, n, &D, &T, &I, &H))
        return -1;
    quant_rnn_free(n->q->rnn);
    QRnn *r = n->q->rnn = xcalloc(1, sizeof *r);
    r->gru = n->op == OP_GRU;
    r->lbr = r->gru && n->a.linear_before_reset;
    r->input_forget = !r->gru && n->a.input_forget;
    r->ndir = D;
    r->T = T, r->I = I, r->H = H, r->G = r->gru ? 3 : 4;
    r->slope = slope;
    /* a slope > 1 widens the gates: fewer fraction bits keep the tables'
     * domain [-2^15, 2^15) codes covering [-8, 8) of x / slope */
    int widen = 0;
    while (widen < 6 && ldexp(1.0, widen) < slope)
        widen++;
    r->pre_frac = QRNN_PRE_FRAC - widen;
    r->c_frac = cell_frac(g, n);
    double clip = n->a.rnn_clip;
    r->pre_lim = clip > 0 ? quant_round_clamp(ldexp(clip, r->pre_frac), 1, SHIFTC_RNN_PRE_MAX)
                          : SHIFTC_RNN_PRE_MAX;
    build_tables(r);
    int64_t worst = 0;
    for (int32_t d = 0; d < D; d++) {
        if (quant_direction(g, n, r, d))
            return -1;
        worst = r->dir[d].acc_bound_w > worst ? r->dir[d].acc_bound_w : worst;
        worst = r->dir[d].acc_bound_r > worst ? r->dir[d].acc_bound_r : worst;
    }
    n->q->acc_bound = worst;
    n->prec.acc_bits = worst <= INT16_MAX ? 16 : 32;
    for (int k = 0; k < 3; k++)
        quant_output(g, n, r, k);
    return 0;
}

const char *quant_rnn_problem(const Graph *g, const Node *n)
{
    const QRnn *r = n->q ? n->q->rnn : NULL;
    if (!r)
        return "recurrent node is not quantized (run ir_quantize first)";
    if (!r->sig || !r->tnh || r->ndir < 1 || r->ndir > 2)
        return "missing recurrent constants";
    for (int32_t d = 0; d < r->ndir; d++) {
        const QRnnDir *q = &r->dir[d];
        if (!q->wq || !q->rq || !q->bias || !q->wmult || !q->rmult ||
            (g->no_mul && (!q->wnm || !q->rnm)))
            return "missing recurrent constants";
    }
    if (n->nin < 3 || n->in[0] < 0 || !ir_tensor_quantized(&g->tensors[n->in[0]]))
        return "input X is not quantized";
    int any = 0;
    for (int k = 0; k < 3; k++) {
        int t = quant_rnn_output(n, k);
        if (t < 0)
            continue;
        if (!ir_tensor_quantized(&g->tensors[t]))
            return "an output is not quantized";
        any = 1;
    }
    return any ? NULL : "no output";
}

void ka_rnn(const Graph *g, const Node *n, int d, shiftc_rnn *s, shiftc_rnn_ref *ref)
{
    const QRnn *r = n->q->rnn;
    const Tensor *x = &g->tensors[n->in[0]];
    ensure(r && d >= 0 && d < r->ndir);
    const QRnnDir *q = &r->dir[d];
    memset(s, 0, sizeof *s);
    s->gru = r->gru;
    s->lbr = r->lbr;
    s->input_forget = r->input_forget;
    s->reverse = q->reverse;
    s->T = r->T;
    s->H = r->H;
    s->x_step = r->I * ka_esize(x);
    s->y_step = r->ndir * r->H;
    s->y_off = d * r->H;
    s->pre_frac = r->pre_frac;
    s->c_frac = r->c_frac;
    s->pre_lim = r->pre_lim;
    s->no_mul = g->no_mul;
    s->bias = q->bias;
    s->sig = r->sig;
    s->tnh = r->tnh;
    s->h0 = q->h0;
    s->c0 = q->c0;
    for (int k = 0; k < 3; k++) {
        int t = quant_rnn_output(n, k);
        s->yt[k] = t >= 0 ? ka_type(&g->tensors[t]) : -1;
        s->ym[k] = r->ym[k];
        s->ys[k] = r->ys[k];
        memcpy(s->ynm[k], r->ynm[k], sizeof s->ynm[k]);
        s->yzero[k] = 0;
        s->ylo[k] = r->ylo[k];
        s->yhi[k] = r->yhi[k];
    }
    if (!ref)
        return;
    memset(ref, 0, sizeof *ref);
    ref->gru = r->gru;
    ref->lbr = r->lbr;
    ref->I = r->I;
    ref->H = r->H;
    ref->G = r->G;
    ref->xt = ka_type(x);
    ref->no_mul = g->no_mul;
    ref->wq = q->wq;
    ref->rq = q->rq;
    ref->wmult = q->wmult;
    ref->wshift = q->wshift;
    ref->rmult = q->rmult;
    ref->rshift = q->rshift;
    ref->wnm = q->wnm;
    ref->rnm = q->rnm;
}
