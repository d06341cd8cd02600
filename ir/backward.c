/*
 * Double-precision forward and backward passes over the IR (see grad.h).
 *
 * Forward: per op, the same arithmetic as runtime/shiftc_f32.h, in double.
 * Backward: per op, the adjoint, accumulated (+=) into the gradient of each
 * input because a tensor may feed several nodes.  Piecewise-linear ops
 * (Relu, Clip, fused activations, MaxPool) use the derivative of the
 * branch taken, as autograd does: Relu'(0) = 0, Clip' = 1 strictly inside
 * (lo, hi), MaxPool routes to the first maximum of the window.
 *
 * Hessian-vector products (grad_hvp) are central differences of the
 * gradient, in double, with the branches frozen:
 *     Hv ~ [g_b(theta + eps v) - g_b(theta - eps v)] / (2 eps),
 *     eps = 1e-5 * |theta| / |v|,
 * where g_b is the gradient of the network whose piecewise-linear ops keep
 * the branch b each sample takes at theta (Relu/Clip/LeakyRelu masks,
 * MaxPool argmax: recorded by a forward at theta, replayed at theta +-
 * eps v).  g_b is smooth and equals g at theta with the same derivative,
 * so this is the Hessian autograd computes.  Without freezing, a unit
 * within eps of its kink flips branch between the two gradients and adds
 * a term ~ P(flip)/eps = O(1) that does not vanish as eps -> 0 (measured:
 * the first conv of the bundled CNN came out 3x too large).
 * Error: truncation eps^2/6 * d^3L[v,v,.], rounding ~ 1e-16 * |g| / eps.
 * algorithms.md suggests eps = 1e-3 |theta|/|v|; in double that is far
 * from the optimum (~ cbrt(1e-16) relative): on the 43-parameter model of
 * tests/unit/test_backward.c it leaves a relative asymmetry of the Hessian
 * of 1.7e-5 (truncation), while 1e-5 gives < 1e-7 and matches the trace
 * from second differences of the loss to 1e-6; rounding at 1e-5 is
 * ~1e-11 relative.  Either is far below the Hutchinson sampling error
 * (percent level).
 * LSTM and GRU (section below) store each step's gates and state in the
 * GradWork during the forward; their backward walks the steps in reverse
 * (backpropagation through time) and is checked against finite
 * differences like every other op; the HVP needs nothing more.
 * Cost: 3 forwards + 2 backwards per sample and probe (an exact
 * R-operator would need 2 + 2 passes of about twice the work each).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grad.h"
#include "kernel_args.h"
#include "util.h"

struct GradModel {
    Graph *g;
    GradLoss loss;
    GradParam *params;
    int nparams;
    int64_t ntheta;
    double *theta0;
    int *tparam;     /* per tensor: param index or -1 */
    double **cdata;  /* per tensor: double copy of a non-parameter constant */
    int softmax_out; /* output produced by a Softmax node */
};

struct GradWork {
    double **buf;  /* per tensor: owned value buffer (inputs, activations) */
    double **dbuf; /* per tensor: owned gradient buffer */
    const double **rv; /* per tensor: what the last forward read */
    int ntensors;
    /* branch decisions of piecewise-linear ops, per output element:
       mask (Relu, Clip, LeakyRelu, fused activations): 0 low branch,
       1 identity, 2 Clip's high branch; arg (MaxPool): input index or -1.
       Recorded by a forward with frozen == 0, replayed when frozen. */
    uint8_t **mask;
    int64_t **arg;
    int frozen;
    /* per node, LSTM/GRU: the step records backpropagation through time
       reads (bw_rnn_rec), and the branches of the gate clip (rnn_clip)
       as mask above, one per gate pre-activation and step */
    double **rnn;
    uint8_t **rnnmask;
    int nnodes;
};

typedef struct BGeom {
    int64_t n, c, h, w, oc, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group;
    int count_include_pad;
} BGeom;

/* ---- LSTM and GRU: forward and backpropagation through time ----
 *
 * ONNX semantics with the default activations (f = sigmoid, g = h = tanh),
 * per direction d and batch row b, each row on its own: the steps
 * t = 0 .. L-1 (forward) or L-1 .. 0 (reverse, and direction 1 of a
 * bidirectional node), L = sequence_lens[b] (T when absent); Y rows at
 * t >= L are 0, and L = 0 leaves Y_h (Y_c) at the initial state (as
 * runtime/shiftc_f32.h).  Gate pre-activations
 * are clipped to [-rnn_clip, rnn_clip] (after the peephole terms), with
 * the branch recorded and replayed like Clip's (mask: 0 low, 1 inside,
 * 2 high).
 *   LSTM (gates i, o, f, c in W, R, B):  i = f(a_i + P_i c'), f = f(a_f +
 *     P_f c') (1 - i with input_forget), g = tanh(a_c), c = f c' + i g,
 *     o = f(a_o + P_o c), h = o tanh(c)
 *   GRU (gates z, r, h):  z = f(a_z), r = f(a_r), n = tanh(W_h x + R_h
 *     (r h') + Rb_h + Wb_h) or, linear_before_reset, tanh(W_h x + r (R_h h'
 *     + Rb_h) + Wb_h), h = (1 - z) n + z h'
 * where a_k = W_k x + R_k h' + Wb_k + Rb_k and h', c' the previous state.
 * Each step's record (time-indexed): LSTM i, o, f, g (4H, activated), c, h;
 * GRU z, r, n (3H, activated), q, h with q = r h' (reset before) or R_h h'
 * + Rb_h (linear_before_reset). */

typedef struct BRnn {
    int lstm, lbr, input_forget, reverse; /* reverse: direction REVERSE */
    int64_t T, B, I, H, D, G, S;          /* G gates, S doubles per step record */
    double clip;
} BRnn;

static void bw_rnn_dims(const Graph *g, const Node *n, BRnn *r)
{
    const Tensor *x = &g->tensors[n->in[0]];
    memset(r, 0, sizeof *r);
    r->lstm = n->op == OP_LSTM;
    r->lbr = n->a.linear_before_reset;
    r->input_forget = r->lstm && n->a.input_forget;
    r->reverse = n->a.direction == RNN_REVERSE;
    r->T = x->rank == 3 ? x->dims[0] : 0;
    r->B = x->rank == 3 ? x->dims[1] : 0;
    r->I = x->rank == 3 ? x->dims[2] : 0;
    r->H = n->a.hidden_size;
    r->D = n->a.direction == RNN_BIDIRECTIONAL ? 2 : 1;
    r->G = r->lstm ? 4 : 3;
    r->S = (r->G + 2) * r->H;
    r->clip = n->a.rnn_clip > 0 ? (double)n->a.rnn_clip : 0.0;
}

static int bw_rnn_in(const Node *n, int i) { return i < n->nin ? n->in[i] : -1; }
static int bw_rnn_out(const Node *n, int i) { return i < n->nout ? n->out[i] : -1; }

static int bw_rnn_shape(Graph *g, const Node *n, int t, const char *what, int rank, int64_t d0, int64_t d1,
                        int64_t d2)
{
    const Tensor *tt = &g->tensors[t];
    int64_t want[3] = {d0, d1, d2};
    int bad = tt->rank != rank;
    for (int i = 0; i < rank && !bad; i++)
        bad = tt->dims[i] != want[i];
    if (!bad)
        return 0;
    char got[96] = "", exp[96] = "";
    size_t k = 0;
    for (int i = 0; i < tt->rank && k < sizeof got - 24; i++)
        k += (size_t)snprintf(got + k, sizeof got - k, "%s%lld", i ? ", " : "", (long long)tt->dims[i]);
    k = 0;
    for (int i = 0; i < rank; i++)
        k += (size_t)snprintf(exp + k, sizeof exp - k, "%s%lld", i ? ", " : "", (long long)want[i]);
    return ir_fail(g, n, "%s (\"%s\") has shape [%s], expected [%s]", what, tt->name, got, exp);
}

/* What the backward supports of an LSTM/GRU node: 0, or -1 with g->err. */
static int bw_rnn_check(Graph *g, const Node *n)
{
    BRnn r;
    int lstm = n->op == OP_LSTM;
    if (n->nin < 3 || n->in[0] < 0 || n->in[1] < 0 || n->in[2] < 0)
        return ir_fail(g, n, "needs inputs X, W and R");
    if (g->tensors[n->in[1]].kind != TK_CONST || g->tensors[n->in[2]].kind != TK_CONST ||
        (bw_rnn_in(n, 3) >= 0 && g->tensors[n->in[3]].kind != TK_CONST))
        return ir_fail(g, n, "sensitivity needs constant weights W, R and bias B");
    bw_rnn_dims(g, n, &r);
    if (r.H <= 0)
        return ir_fail(g, n, "hidden_size is %lld", (long long)r.H);
    if (g->tensors[n->in[0]].rank != 3)
        return ir_fail(g, n, "X must be [seq_length, batch, input_size] (rank %d)", g->tensors[n->in[0]].rank);
    if (bw_rnn_shape(g, n, n->in[1], "W", 3, r.D, r.G * r.H, r.I) ||
        bw_rnn_shape(g, n, n->in[2], "R", 3, r.D, r.G * r.H, r.H) ||
        (bw_rnn_in(n, 3) >= 0 && bw_rnn_shape(g, n, n->in[3], "B", 2, r.D, 2 * r.G * r.H, 0)) ||
        (bw_rnn_in(n, 4) >= 0 && bw_rnn_shape(g, n, n->in[4], "sequence_lens", 1, r.B, 0, 0)) ||
        (bw_rnn_in(n, 5) >= 0 && bw_rnn_shape(g, n, n->in[5], "initial_h", 3, r.D, r.B, r.H)) ||
        (lstm && bw_rnn_in(n, 6) >= 0 && bw_rnn_shape(g, n, n->in[6], "initial_c", 3, r.D, r.B, r.H)) ||
        (lstm && bw_rnn_in(n, 7) >= 0 && bw_rnn_shape(g, n, n->in[7], "P", 2, r.D, 3 * r.H, 0)))
        return -1;
    if (!lstm && n->nin > 6)
        return ir_fail(g, n, "GRU has at most 6 inputs, found %d", n->nin);
    const char *names[3] = {"Y", "Y_h", "Y_c"};
    int any = 0;
    for (int i = 0; i < n->nout; i++) {
        int t = n->out[i];
        if (t < 0)
            continue;
        if (i > (lstm ? 2 : 1))
            return ir_fail(g, n, "too many outputs (%d)", n->nout);
        const Tensor *tt = &g->tensors[t];
        int bad = ir_numel(tt) != (i == 0 ? r.T * r.D * r.B * r.H : r.D * r.B * r.H);
        if (bad)
            return ir_fail(g, n, "output %s (\"%s\") has %lld elements, expected %lld", names[i], tt->name,
                           (long long)ir_numel(tt),
                           (long long)(i == 0 ? r.T * r.D * r.B * r.H : r.D * r.B * r.H));
        any = 1;
    }
    if (!any)
        return ir_fail(g, n, "has no output");
    return 0;
}

/* The record of the step at time t of direction d, batch row b. */
static double *bw_rnn_rec(double *base, const BRnn *r, int64_t d, int64_t b, int64_t t)
{
    return base + ((d * r->B + b) * r->T + t) * r->S;
}

/* Gate pre-activation v through the clip (recording or replaying *mask). */
static double bw_rnn_clip(const BRnn *r, double v, uint8_t *mask, int frozen)
{
    if (r->clip <= 0.0)
        return v;
    if (!frozen)
        *mask = v < -r->clip ? 0 : v > r->clip ? 2 : 1;
    return *mask == 1 ? v : *mask == 0 ? -r->clip : r->clip;
}

static double bw_sigm(double v) { return 1.0 / (1.0 + exp(-v)); }

static double bw_dot(const double *a, const double *b, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* The steps of row b: how many, and the time of step s. */
static int64_t bw_rnn_len(const BRnn *r, const double *seq, int64_t b)
{
    if (!seq)
        return r->T;
    int64_t L = (int64_t)seq[b];
    return L < 0 ? 0 : L > r->T ? r->T : L;
}

static int64_t bw_rnn_time(const BRnn *r, int64_t d, int64_t L, int64_t s)
{
    return r->reverse || d == 1 ? L - 1 - s : s;
}

static void bw_rnn_fwd(const GradModel *m, GradWork *w, const Node *n, int idx)
{
    const Graph *g = m->g;
    BRnn r;
    bw_rnn_dims(g, n, &r);
    int64_t H = r.H, I = r.I, G = r.G, GH = G * H;
    const double *X = w->rv[n->in[0]], *Wt = w->rv[n->in[1]], *Rt = w->rv[n->in[2]];
    int tb = bw_rnn_in(n, 3), ts = bw_rnn_in(n, 4), th = bw_rnn_in(n, 5);
    int tc = r.lstm ? bw_rnn_in(n, 6) : -1, tp = r.lstm ? bw_rnn_in(n, 7) : -1;
    const double *Bv = tb >= 0 ? w->rv[tb] : NULL, *seq = ts >= 0 ? w->rv[ts] : NULL;
    const double *h0 = th >= 0 ? w->rv[th] : NULL, *c0 = tc >= 0 ? w->rv[tc] : NULL;
    const double *P = tp >= 0 ? w->rv[tp] : NULL;
    int ty = bw_rnn_out(n, 0), tyh = bw_rnn_out(n, 1), tyc = r.lstm ? bw_rnn_out(n, 2) : -1;
    double *Y = ty >= 0 ? w->buf[ty] : NULL, *Yh = tyh >= 0 ? w->buf[tyh] : NULL;
    double *Yc = tyc >= 0 ? w->buf[tyc] : NULL;
    double *zero = xcalloc((size_t)H + 1, sizeof(double));
    if (Y)
        memset(Y, 0, (size_t)(r.T * r.D * r.B * H) * sizeof *Y);
    for (int64_t d = 0; d < r.D; d++) {
        const double *Wd = Wt + d * GH * I, *Rd = Rt + d * GH * H;
        const double *Wb = Bv ? Bv + d * 2 * GH : NULL, *Rb = Bv ? Wb + GH : NULL;
        const double *Pd = P ? P + d * 3 * H : NULL;
        for (int64_t b = 0; b < r.B; b++) {
            int64_t L = bw_rnn_len(&r, seq, b);
            const double *hp = h0 ? h0 + (d * r.B + b) * H : zero;
            const double *cp = c0 ? c0 + (d * r.B + b) * H : zero;
            const double *h = hp, *c = cp; /* L = 0 leaves the initial state */
            for (int64_t s = 0; s < L; s++) {
                int64_t t = bw_rnn_time(&r, d, L, s);
                const double *x = X + (t * r.B + b) * I;
                double *rec = bw_rnn_rec(w->rnn[idx], &r, d, b, t);
                uint8_t *mk = w->rnnmask[idx] ? w->rnnmask[idx] + ((d * r.B + b) * r.T + t) * GH : NULL;
                double *q = rec + GH, *hn = rec + (G + 1) * H;
                for (int64_t k = 0; k < GH; k++) {
                    double a = bw_dot(Wd + k * I, x, I) + (Wb ? Wb[k] : 0.0);
                    /* the GRU's h gate takes R_h h' separately */
                    if (r.lstm || k < 2 * H)
                        a += bw_dot(Rd + k * H, hp, H) + (Rb ? Rb[k] : 0.0);
                    rec[k] = a;
                }
                if (r.lstm) {
                    double *gi = rec, *go = rec + H, *gf = rec + 2 * H, *gg = rec + 3 * H, *cn = q;
                    for (int64_t j = 0; j < H; j++) {
                        double ai = gi[j] + (Pd ? Pd[j] * cp[j] : 0.0);
                        double af = gf[j] + (Pd ? Pd[2 * H + j] * cp[j] : 0.0);
                        gi[j] = bw_sigm(bw_rnn_clip(&r, ai, mk ? mk + j : NULL, w->frozen));
                        gf[j] = r.input_forget ? 1.0 - gi[j]
                                               : bw_sigm(bw_rnn_clip(&r, af, mk ? mk + 2 * H + j : NULL, w->frozen));
                        gg[j] = tanh(bw_rnn_clip(&r, gg[j], mk ? mk + 3 * H + j : NULL, w->frozen));
                        cn[j] = gf[j] * cp[j] + gi[j] * gg[j];
                        double ao = go[j] + (Pd ? Pd[H + j] * cn[j] : 0.0);
                        go[j] = bw_sigm(bw_rnn_clip(&r, ao, mk ? mk + H + j : NULL, w->frozen));
                        hn[j] = go[j] * tanh(cn[j]);
                    }
                    cp = cn;
                } else {
                    double *gz = rec, *gr = rec + H, *gn = rec + 2 * H;
                    for (int64_t j = 0; j < 2 * H; j++)
                        rec[j] = bw_sigm(bw_rnn_clip(&r, rec[j], mk ? mk + j : NULL, w->frozen));
                    for (int64_t j = 0; j < H; j++) {
                        const double *Rh = Rd + (2 * H + j) * H;
                        double a;
                        if (r.lbr) {
                            q[j] = bw_dot(Rh, hp, H) + (Rb ? Rb[2 * H + j] : 0.0);
                            a = gn[j] + gr[j] * q[j];
                        } else {
                            double acc = Rb ? Rb[2 * H + j] : 0.0;
                            for (int64_t i = 0; i < H; i++)
                                acc += Rh[i] * gr[i] * hp[i];
                            a = gn[j] + acc;
                        }
                        gn[j] = a; /* tanh below, once every q is computed */
                    }
                    if (!r.lbr)
                        for (int64_t j = 0; j < H; j++)
                            q[j] = gr[j] * hp[j];
                    for (int64_t j = 0; j < H; j++) {
                        gn[j] = tanh(bw_rnn_clip(&r, gn[j], mk ? mk + 2 * H + j : NULL, w->frozen));
                        hn[j] = (1.0 - gz[j]) * gn[j] + gz[j] * hp[j];
                    }
                }
                hp = hn;
                h = hn, c = cp;
                if (Y)
                    memcpy(Y + ((t * r.D + d) * r.B + b) * H, hn, (size_t)H * sizeof *hn);
            }
            if (Yh)
                memcpy(Yh + (d * r.B + b) * H, h, (size_t)H * sizeof *h);
            if (Yc)
                memcpy(Yc + (d * r.B + b) * H, c, (size_t)H * sizeof *c);
        }
    }
    free(zero);
}

static double *bw_rnn_dparam(const GradModel *m, double *grad, int t)
{
    if (t < 0 || m->tparam[t] < 0 || !grad)
        return NULL;
    return grad + m->params[m->tparam[t]].offset;
}

/* Backpropagation through time over the records of the last forward:
 * adds to the gradients of W, R, B (theta), X, initial_h, initial_c and P
 * (when they are activations). */
static void bw_rnn_bwd(const GradModel *m, GradWork *w, const Node *n, int idx, double *grad)
{
    const Graph *g = m->g;
    BRnn r;
    bw_rnn_dims(g, n, &r);
    int64_t H = r.H, I = r.I, G = r.G, GH = G * H;
    const double *X = w->rv[n->in[0]], *Wt = w->rv[n->in[1]], *Rt = w->rv[n->in[2]];
    int tb = bw_rnn_in(n, 3), ts = bw_rnn_in(n, 4), th = bw_rnn_in(n, 5);
    int tc = r.lstm ? bw_rnn_in(n, 6) : -1, tp = r.lstm ? bw_rnn_in(n, 7) : -1;
    const double *seq = ts >= 0 ? w->rv[ts] : NULL;
    const double *h0 = th >= 0 ? w->rv[th] : NULL, *c0 = tc >= 0 ? w->rv[tc] : NULL;
    const double *P = tp >= 0 ? w->rv[tp] : NULL;
    double *dX = w->dbuf[n->in[0]];
    double *dW = bw_rnn_dparam(m, grad, n->in[1]), *dR = bw_rnn_dparam(m, grad, n->in[2]);
    double *dB = bw_rnn_dparam(m, grad, tb);
    double *dh0 = th >= 0 ? w->dbuf[th] : NULL, *dc0 = tc >= 0 ? w->dbuf[tc] : NULL;
    double *dP = tp >= 0 ? w->dbuf[tp] : NULL;
    int ty = bw_rnn_out(n, 0), tyh = bw_rnn_out(n, 1), tyc = r.lstm ? bw_rnn_out(n, 2) : -1;
    const double *dY = ty >= 0 ? w->dbuf[ty] : NULL, *dYh = tyh >= 0 ? w->dbuf[tyh] : NULL;
    const double *dYc = tyc >= 0 ? w->dbuf[tyc] : NULL;
    double *zero = xcalloc((size_t)H + 1, sizeof(double));
    double *dh = xcalloc((size_t)(5 * H + GH + 1), sizeof(double));
    double *dc = dh + H, *dhp = dh + 2 * H, *dcp = dh + 3 * H, *dq = dh + 4 * H, *da = dh + 5 * H;
    for (int64_t d = 0; d < r.D; d++) {
        const double *Wd = Wt + d * GH * I, *Rd = Rt + d * GH * H;
        const double *Pd = P ? P + d * 3 * H : NULL;
        double *dWd = dW ? dW + d * GH * I : NULL, *dRd = dR ? dR + d * GH * H : NULL;
        double *dWb = dB ? dB + d * 2 * GH : NULL, *dRb = dB ? dWb + GH : NULL;
        double *dPd = dP ? dP + d * 3 * H : NULL;
        for (int64_t b = 0; b < r.B; b++) {
            int64_t L = bw_rnn_len(&r, seq, b), sb = (d * r.B + b) * H;
            for (int64_t j = 0; j < H; j++) {
                dh[j] = dYh ? dYh[sb + j] : 0.0;
                dc[j] = dYc ? dYc[sb + j] : 0.0;
            }
            for (int64_t s = L - 1; s >= 0; s--) {
                int64_t t = bw_rnn_time(&r, d, L, s);
                const double *x = X + (t * r.B + b) * I;
                const double *rec = bw_rnn_rec(w->rnn[idx], &r, d, b, t);
                const uint8_t *mk = w->rnnmask[idx] ? w->rnnmask[idx] + ((d * r.B + b) * r.T + t) * GH : NULL;
                const double *hp, *cp;
                if (s == 0) {
                    hp = h0 ? h0 + sb : zero;
                    cp = c0 ? c0 + sb : zero;
                } else {
                    const double *prev = bw_rnn_rec(w->rnn[idx], &r, d, b, bw_rnn_time(&r, d, L, s - 1));
                    hp = prev + (G + 1) * H;
                    cp = prev + G * H;
                }
                if (dY)
                    for (int64_t j = 0; j < H; j++)
                        dh[j] += dY[((t * r.D + d) * r.B + b) * H + j];
                memset(dhp, 0, (size_t)H * sizeof *dhp);
#define BW_PASS(k) (!mk || mk[k] == 1)
                if (r.lstm) {
                    const double *gi = rec, *go = rec + H, *gf = rec + 2 * H, *gg = rec + 3 * H, *cn = rec + GH;
                    double *dai = da, *dao = da + H, *daf = da + 2 * H, *dag = da + 3 * H;
                    for (int64_t j = 0; j < H; j++) {
                        double tcn = tanh(cn[j]);
                        double dct = dc[j] + dh[j] * go[j] * (1.0 - tcn * tcn);
                        dao[j] = BW_PASS(H + j) ? dh[j] * tcn * go[j] * (1.0 - go[j]) : 0.0;
                        if (Pd) {
                            dct += dao[j] * Pd[H + j];
                            if (dPd)
                                dPd[H + j] += dao[j] * cn[j];
                        }
                        double di = dct * gg[j], df = dct * cp[j];
                        dcp[j] = dct * gf[j];
                        if (r.input_forget)
                            di -= df, df = 0.0;
                        dai[j] = BW_PASS(j) ? di * gi[j] * (1.0 - gi[j]) : 0.0;
                        daf[j] = !r.input_forget && BW_PASS(2 * H + j) ? df * gf[j] * (1.0 - gf[j]) : 0.0;
                        dag[j] = BW_PASS(3 * H + j) ? dct * gi[j] * (1.0 - gg[j] * gg[j]) : 0.0;
                        if (Pd) {
                            dcp[j] += dai[j] * Pd[j] + daf[j] * Pd[2 * H + j];
                            if (dPd)
                                dPd[j] += dai[j] * cp[j], dPd[2 * H + j] += daf[j] * cp[j];
                        }
                    }
                } else {
                    const double *gz = rec, *gr = rec + H, *gn = rec + 2 * H, *q = rec + GH;
                    double *daz = da, *dar = da + H, *dan = da + 2 * H;
                    for (int64_t j = 0; j < H; j++) {
                        daz[j] = BW_PASS(j) ? dh[j] * (hp[j] - gn[j]) * gz[j] * (1.0 - gz[j]) : 0.0;
                        dan[j] = BW_PASS(2 * H + j) ? dh[j] * (1.0 - gz[j]) * (1.0 - gn[j] * gn[j]) : 0.0;
                        dhp[j] += dh[j] * gz[j];
                    }
                    /* the h gate's recurrent part: dq = d(q), q as recorded */
                    for (int64_t j = 0; j < H; j++)
                        dq[j] = 0.0;
                    if (r.lbr) {
                        for (int64_t j = 0; j < H; j++) {
                            double dqj = dan[j] * gr[j];
                            dar[j] = dan[j] * q[j];
                            if (dRb)
                                dRb[2 * H + j] += dqj;
                            const double *Rh = Rd + (2 * H + j) * H;
                            double *dRh = dRd ? dRd + (2 * H + j) * H : NULL;
                            for (int64_t i = 0; i < H; i++) {
                                dhp[i] += dqj * Rh[i];
                                if (dRh)
                                    dRh[i] += dqj * hp[i];
                            }
                        }
                    } else {
                        for (int64_t j = 0; j < H; j++) {
                            const double *Rh = Rd + (2 * H + j) * H;
                            double *dRh = dRd ? dRd + (2 * H + j) * H : NULL;
                            if (dRb)
                                dRb[2 * H + j] += dan[j];
                            for (int64_t i = 0; i < H; i++) {
                                dq[i] += dan[j] * Rh[i];
                                if (dRh)
                                    dRh[i] += dan[j] * q[i];
                            }
                        }
                        for (int64_t j = 0; j < H; j++) {
                            dar[j] = dq[j] * hp[j];
                            dhp[j] += dq[j] * gr[j];
                        }
                    }
                    for (int64_t j = 0; j < H; j++)
                        dar[j] = BW_PASS(H + j) ? dar[j] * gr[j] * (1.0 - gr[j]) : 0.0;
                }
#undef BW_PASS
                /* a = W x + R h' (+ biases) for every LSTM gate and the
                   GRU's z and r; the GRU's h gate only through W here */
                for (int64_t k = 0; k < GH; k++) {
                    double a = da[k];
                    if (a == 0.0)
                        continue;
                    int rec_part = r.lstm || k < 2 * H;
                    if (dWb)
                        dWb[k] += a;
                    if (dRb && rec_part)
                        dRb[k] += a;
                    const double *wk = Wd + k * I, *rk = Rd + k * H;
                    if (dWd)
                        for (int64_t i = 0; i < I; i++)
                            dWd[k * I + i] += a * x[i];
                    if (dX)
                        for (int64_t i = 0; i < I; i++)
                            dX[(t * r.B + b) * I + i] += a * wk[i];
                    if (rec_part) {
                        if (dRd)
                            for (int64_t i = 0; i < H; i++)
                                dRd[k * H + i] += a * hp[i];
                        for (int64_t i = 0; i < H; i++)
                            dhp[i] += a * rk[i];
                    }
                }
                memcpy(dh, dhp, (size_t)H * sizeof *dh);
                if (r.lstm)
                    memcpy(dc, dcp, (size_t)H * sizeof *dc);
            }
            if (dh0)
                for (int64_t j = 0; j < H; j++)
                    dh0[sb + j] += dh[j];
            if (dc0)
                for (int64_t j = 0; j < H; j++)
                    dc0[sb + j] += dc[j];
        }
    }
    free(zero), free(dh);
}

/* ---- model ---- */

static int bw_supported(Op op)
{
    switch (op) {
    case OP_CONV: case OP_DENSE: case OP_BATCHNORM: case OP_RELU: case OP_CLIP:
    case OP_LEAKYRELU: case OP_SIGMOID: case OP_TANH: case OP_MAXPOOL: case OP_AVGPOOL:
    case OP_GLOBALAVGPOOL: case OP_ADD: case OP_CONCAT: case OP_RESHAPE: case OP_TRANSPOSE:
    case OP_SLICE: case OP_SOFTMAX: case OP_LSTM: case OP_GRU:
        return 1;
    case OP_COUNT:
        break;
    }
    return 0;
}

static void bw_add_param(GradModel *m, int node, int t, int is_bias)
{
    if (t < 0 || m->tparam[t] >= 0)
        return;
    GradParam *p = &m->params[m->nparams];
    p->node = node;
    p->tensor = t;
    p->is_bias = is_bias;
    p->offset = m->ntheta;
    p->count = ir_numel(&m->g->tensors[t]);
    m->tparam[t] = m->nparams++;
    m->ntheta += p->count;
}

GradModel *grad_model_new(Graph *g, GradLoss loss)
{
    if (g->ninputs < 1 || g->noutputs < 1) {
        ir_fail(g, NULL, "the graph needs an input and an output");
        return NULL;
    }
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (!bw_supported(n->op)) {
            ir_fail(g, n, "no backward pass for this op");
            return NULL;
        }
        if ((n->op == OP_CONV || n->op == OP_DENSE) &&
            (n->nin < 2 || n->in[1] < 0 || g->tensors[n->in[1]].kind != TK_CONST ||
             (n->nin > 2 && n->in[2] >= 0 && g->tensors[n->in[2]].kind != TK_CONST))) {
            ir_fail(g, n, "sensitivity needs constant weights and bias");
            return NULL;
        }
        if (n->op == OP_ADD && n->nin < 2) {
            ir_fail(g, n, "needs 2 inputs");
            return NULL;
        }
        if (ir_op_is_recurrent(n->op) && bw_rnn_check(g, n) != 0)
            return NULL;
    }
    GradModel *m = xcalloc(1, sizeof *m);
    m->g = g;
    m->loss = loss;
    m->params = xcalloc((size_t)3 * g->nnodes + 1, sizeof *m->params);
    m->tparam = xmalloc((size_t)g->ntensors * sizeof *m->tparam);
    m->cdata = xcalloc((size_t)g->ntensors, sizeof *m->cdata);
    for (int t = 0; t < g->ntensors; t++)
        m->tparam[t] = -1;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->op == OP_CONV || n->op == OP_DENSE) {
            bw_add_param(m, i, n->in[1], 0);
            bw_add_param(m, i, n->nin > 2 ? n->in[2] : -1, 1);
        } else if (ir_op_is_recurrent(n->op)) {
            bw_add_param(m, i, n->in[1], 0);
            bw_add_param(m, i, n->in[2], 0);
            bw_add_param(m, i, n->nin > 3 ? n->in[3] : -1, 1);
        }
    }
    m->theta0 = xmalloc((size_t)(m->ntheta + 1) * sizeof *m->theta0);
    for (int t = 0; t < g->ntensors; t++) {
        const Tensor *tt = &g->tensors[t];
        if (tt->kind != TK_CONST)
            continue;
        int64_t cnt = ir_numel(tt);
        double *d = m->tparam[t] >= 0 ? m->theta0 + m->params[m->tparam[t]].offset
                                      : (m->cdata[t] = xmalloc((size_t)(cnt + 1) * sizeof(double)));
        for (int64_t k = 0; k < cnt; k++)
            d[k] = tt->data ? tt->data[k] : 0.0;
    }
    int out = g->outputs[0];
    int prod = g->tensors[out].producer;
    m->softmax_out = prod >= 0 && g->nodes[prod].op == OP_SOFTMAX;
    return m;
}

void grad_model_free(GradModel *m)
{
    if (!m)
        return;
    for (int t = 0; t < m->g->ntensors; t++)
        free(m->cdata[t]);
    free(m->cdata), free(m->tparam), free(m->params), free(m->theta0);
    free(m);
}

const Graph *grad_graph(const GradModel *m) { return m->g; }
int grad_nparams(const GradModel *m) { return m->nparams; }
const GradParam *grad_param(const GradModel *m, int i) { return &m->params[i]; }
int64_t grad_theta_size(const GradModel *m) { return m->ntheta; }
const double *grad_theta0(const GradModel *m) { return m->theta0; }

int64_t grad_target_size(const GradModel *m)
{
    return m->loss == GRAD_LOSS_XENT ? 1 : ir_numel(&m->g->tensors[m->g->outputs[0]]);
}

GradWork *grad_work_new(const GradModel *m)
{
    const Graph *g = m->g;
    GradWork *w = xcalloc(1, sizeof *w);
    w->buf = xcalloc((size_t)g->ntensors, sizeof *w->buf);
    w->dbuf = xcalloc((size_t)g->ntensors, sizeof *w->dbuf);
    w->rv = xcalloc((size_t)g->ntensors, sizeof *w->rv);
    w->ntensors = g->ntensors;
    w->mask = xcalloc((size_t)g->ntensors, sizeof *w->mask);
    w->arg = xcalloc((size_t)g->ntensors, sizeof *w->arg);
    w->nnodes = g->nnodes;
    w->rnn = xcalloc((size_t)g->nnodes, sizeof *w->rnn);
    w->rnnmask = xcalloc((size_t)g->nnodes, sizeof *w->rnnmask);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (ir_op_is_recurrent(n->op)) {
            BRnn r;
            bw_rnn_dims(g, n, &r);
            int64_t steps = r.D * r.B * r.T;
            w->rnn[i] = xcalloc((size_t)(steps * r.S + 1), sizeof(double));
            if (r.clip > 0.0)
                w->rnnmask[i] = xcalloc((size_t)(steps * r.G * r.H + 1), 1);
            continue;
        }
        size_t cnt = (size_t)ir_numel(&g->tensors[n->out[0]]) + 1;
        if (n->op == OP_MAXPOOL)
            w->arg[n->out[0]] = xcalloc(cnt, sizeof(int64_t));
        else if (n->op == OP_RELU || n->op == OP_CLIP || n->op == OP_LEAKYRELU ||
                 ((n->op == OP_CONV || n->op == OP_DENSE) && n->a.fused_act != ACT_NONE))
            w->mask[n->out[0]] = xcalloc(cnt, 1);
    }
    for (int t = 0; t < g->ntensors; t++) {
        if (g->tensors[t].kind == TK_CONST)
            continue;
        size_t cnt = (size_t)ir_numel(&g->tensors[t]) + 1;
        w->buf[t] = xcalloc(cnt, sizeof(double));
        w->dbuf[t] = xcalloc(cnt, sizeof(double));
    }
    return w;
}

void grad_work_free(GradWork *w)
{
    if (!w)
        return;
    for (int t = 0; t < w->ntensors; t++)
        free(w->buf[t]), free(w->dbuf[t]), free(w->mask[t]), free(w->arg[t]);
    for (int i = 0; i < w->nnodes; i++)
        free(w->rnn[i]), free(w->rnnmask[i]);
    free(w->rnn), free(w->rnnmask);
    free(w->mask), free(w->arg);
    free(w->rv);
    free(w->buf);
    free(w->dbuf);
    free(w);
}

double *grad_work_val(GradWork *w, int t) { return w->buf[t]; }
const double *grad_work_dval(const GradWork *w, int t) { return w->dbuf[t]; }
void grad_work_freeze(GradWork *w, int frozen) { w->frozen = frozen; }

/* ---- helpers ---- */

static int64_t bw_prod(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= dims[i];
    return p;
}

static void bw_geom(const Graph *g, const Node *n, BGeom *ge)
{
    const Tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    int r = x->rank;
    ge->n = x->dims[0];
    ge->c = x->dims[1];
    ge->h = r == 4 ? x->dims[2] : 1;
    ge->w = x->dims[r - 1];
    ge->oc = y->dims[1];
    ge->oh = r == 4 ? y->dims[2] : 1;
    ge->ow = y->dims[r - 1];
    ge->kh = n->a.kernel[0];
    ge->kw = n->a.kernel[1];
    ge->sh = n->a.strides[0];
    ge->sw = n->a.strides[1];
    ge->dh = n->a.dilations[0];
    ge->dw = n->a.dilations[1];
    ge->pt = n->a.pads[0];
    ge->pl = n->a.pads[1];
    ge->pb = n->a.pads[2];
    ge->pr = n->a.pads[3];
    ge->group = n->a.group > 0 ? n->a.group : 1;
    ge->count_include_pad = n->a.count_include_pad;
}

/* Taps k in [lo, hi) with 0 <= base + k*d < len (as shiftc_f32_taps). */
static void bw_taps(int64_t base, int64_t d, int64_t kn, int64_t len, int64_t *lo, int64_t *hi)
{
    int64_t a = base < 0 ? (-base + d - 1) / d : 0;
    int64_t b = base <= len - 1 ? (len - 1 - base) / d + 1 : 0;
    b = b < kn ? b : kn;
    *lo = a;
    *hi = b > a ? b : a;
}

/* Right-aligned broadcast strides (0 on broadcast dims). */
static void bw_bcast_strides(const Tensor *t, int rank, int64_t *s)
{
    int64_t stride = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int ti = i - (rank - t->rank);
        int64_t d = ti >= 0 ? t->dims[ti] : 1;
        s[i] = d == 1 ? 0 : stride;
        stride *= d;
    }
}

/* Softmax runs: (outer, len, inner) as interp.c computes them. */
static void bw_softmax_runs(const Node *n, const Tensor *x, int64_t *outer, int64_t *len, int64_t *inner)
{
    int axis = (int)n->a.axis;
    *outer = bw_prod(x->dims, 0, axis);
    if (n->a.softmax_flatten) {
        *len = bw_prod(x->dims, axis, x->rank);
        *inner = 1;
    } else {
        *len = x->dims[axis];
        *inner = bw_prod(x->dims, axis + 1, x->rank);
    }
}

/* ---- forward ---- */

static void bw_conv_fwd(const BGeom *g, const double *x, const double *w, const double *b, double *y)
{
    int64_t icg = g->c / g->group, ocg = g->oc / g->group;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t o = 0; o < g->oc; o++) {
            const double *xb = x + (n * g->c + (o / ocg) * icg) * g->h * g->w;
            const double *wo = w + o * icg * g->kh * g->kw;
            double *yo = y + (n * g->oc + o) * g->oh * g->ow;
            for (int64_t oy = 0; oy < g->oh; oy++) {
                int64_t iy0 = oy * g->sh - g->pt, ky0, ky1;
                bw_taps(iy0, g->dh, g->kh, g->h, &ky0, &ky1);
                for (int64_t ox = 0; ox < g->ow; ox++) {
                    int64_t ix0 = ox * g->sw - g->pl, kx0, kx1;
                    bw_taps(ix0, g->dw, g->kw, g->w, &kx0, &kx1);
                    double acc = b ? b[o] : 0.0;
                    for (int64_t i = 0; i < icg; i++) {
                        const double *xi = xb + i * g->h * g->w;
                        const double *wi = wo + i * g->kh * g->kw;
                        for (int64_t ky = ky0; ky < ky1; ky++) {
                            const double *xr = xi + (iy0 + ky * g->dh) * g->w + ix0;
                            const double *wr = wi + ky * g->kw;
                            for (int64_t kx = kx0; kx < kx1; kx++)
                                acc += xr[kx * g->dw] * wr[kx];
                        }
                    }
                    yo[oy * g->ow + ox] = acc;
                }
            }
        }
}

/* dz: gradient at the conv output (before bias).  Adds to dx (may be
 * NULL), dw, db (may be NULL). */
static void bw_conv_bwd(const BGeom *g, const double *x, const double *w, const double *dz,
                        double *dx, double *dw, double *db)
{
    int64_t icg = g->c / g->group, ocg = g->oc / g->group;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t o = 0; o < g->oc; o++) {
            int64_t xoff = (n * g->c + (o / ocg) * icg) * g->h * g->w;
            const double *xb = x + xoff;
            double *dxb = dx ? dx + xoff : NULL;
            const double *wo = w + o * icg * g->kh * g->kw;
            double *dwo = dw ? dw + o * icg * g->kh * g->kw : NULL;
            const double *dzo = dz + (n * g->oc + o) * g->oh * g->ow;
            for (int64_t oy = 0; oy < g->oh; oy++) {
                int64_t iy0 = oy * g->sh - g->pt, ky0, ky1;
                bw_taps(iy0, g->dh, g->kh, g->h, &ky0, &ky1);
                for (int64_t ox = 0; ox < g->ow; ox++) {
                    double d = dzo[oy * g->ow + ox];
                    if (d == 0.0)
                        continue;
                    if (db)
                        db[o] += d;
                    int64_t ix0 = ox * g->sw - g->pl, kx0, kx1;
                    bw_taps(ix0, g->dw, g->kw, g->w, &kx0, &kx1);
                    for (int64_t i = 0; i < icg; i++) {
                        int64_t xi = i * g->h * g->w, wi = i * g->kh * g->kw;
                        for (int64_t ky = ky0; ky < ky1; ky++) {
                            int64_t xr = xi + (iy0 + ky * g->dh) * g->w + ix0, wr = wi + ky * g->kw;
                            for (int64_t kx = kx0; kx < kx1; kx++) {
                                if (dw)
                                    dwo[wr + kx] += d * xb[xr + kx * g->dw];
                                if (dxb)
                                    dxb[xr + kx * g->dw] += d * wo[wr + kx];
                            }
                        }
                    }
                }
            }
        }
}

/* y = act(x) for Relu (kind 0), Clip (1), LeakyRelu (2), recording the
 * branch in mask, or, when frozen, taking the recorded branch. */
static void bw_piecewise(int kind, const Attrs *a, const double *x, double *y, uint8_t *mask, int64_t len,
                         int frozen)
{
    for (int64_t i = 0; i < len; i++) {
        double v = x[i];
        if (!frozen)
            mask[i] = kind == 0 ? v > 0.0 : kind == 2 ? v >= 0.0
                    : v <= a->clip_min ? 0 : v >= a->clip_max ? 2 : 1;
        switch (mask[i]) {
        case 1: y[i] = v; break;
        case 2: y[i] = a->clip_max; break;
        default: y[i] = kind == 0 ? 0.0 : kind == 1 ? a->clip_min : v * a->alpha; break;
        }
    }
}

static void bw_fused_fwd(const Node *n, GradWork *w, double *y, int64_t len)
{
    if (n->a.fused_act != ACT_NONE)
        bw_piecewise(n->a.fused_act == ACT_RELU ? 0 : 1, &n->a, y, y, w->mask[n->out[0]], len, w->frozen);
}

static void bw_node_fwd(const GradModel *m, GradWork *w, const Node *n)
{
    const Graph *g = m->g;
    if (ir_op_is_recurrent(n->op)) { /* outputs may be absent (-1) */
        bw_rnn_fwd(m, w, n, (int)(n - g->nodes));
        return;
    }
    const Tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    const double *xv = w->rv[n->in[0]];
    double *yv = w->buf[n->out[0]];
    int64_t len = ir_numel(y);
    BGeom ge;
    switch (n->op) {
    case OP_CONV: {
        const double *b = n->nin > 2 && n->in[2] >= 0 ? w->rv[n->in[2]] : NULL;
        bw_geom(g, n, &ge);
        bw_conv_fwd(&ge, xv, w->rv[n->in[1]], b, yv);
        bw_fused_fwd(n, w, yv, len);
        return;
    }
    case OP_DENSE: {
        const Tensor *wt = &g->tensors[n->in[1]];
        const double *wv = w->rv[n->in[1]];
        const double *b = n->nin > 2 && n->in[2] >= 0 ? w->rv[n->in[2]] : NULL;
        int64_t k = wt->dims[1], no = wt->dims[0], rows = ir_numel(x) / k;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t o = 0; o < no; o++) {
                double acc = b ? b[o] : 0.0;
                const double *xr = xv + r * k, *wo = wv + o * k;
                for (int64_t i = 0; i < k; i++)
                    acc += xr[i] * wo[i];
                yv[r * no + o] = acc;
            }
        bw_fused_fwd(n, w, yv, len);
        return;
    }
    case OP_BATCHNORM: {
        const double *sc = w->rv[n->in[1]], *bi = w->rv[n->in[2]];
        const double *mean = w->rv[n->in[3]], *var = w->rv[n->in[4]];
        int64_t c = x->dims[1], inner = bw_prod(x->dims, 2, x->rank), outer = len / (c * inner);
        for (int64_t o = 0; o < outer; o++)
            for (int64_t ch = 0; ch < c; ch++) {
                double a = sc[ch] / sqrt(var[ch] + (double)n->a.epsilon);
                for (int64_t i = 0; i < inner; i++) {
                    int64_t k = (o * c + ch) * inner + i;
                    yv[k] = (xv[k] - mean[ch]) * a + bi[ch];
                }
            }
        return;
    }
    case OP_RELU:
    case OP_CLIP:
    case OP_LEAKYRELU:
        bw_piecewise(n->op == OP_RELU ? 0 : n->op == OP_CLIP ? 1 : 2, &n->a, xv, yv, w->mask[n->out[0]], len,
                     w->frozen);
        return;
    case OP_SIGMOID:
        for (int64_t i = 0; i < len; i++)
            yv[i] = 1.0 / (1.0 + exp(-xv[i]));
        return;
    case OP_TANH:
        for (int64_t i = 0; i < len; i++)
            yv[i] = tanh(xv[i]);
        return;
    case OP_MAXPOOL:
    case OP_AVGPOOL:
        bw_geom(g, n, &ge);
        if (n->op == OP_MAXPOOL && w->frozen) {
            const int64_t *arg = w->arg[n->out[0]];
            for (int64_t i = 0; i < len; i++)
                yv[i] = arg[i] >= 0 ? xv[arg[i]] : -3.4028234663852886e38;
            return;
        }
        for (int64_t p = 0; p < ge.n * ge.c; p++) {
            const double *xp = xv + p * ge.h * ge.w;
            double *yp = yv + p * ge.oh * ge.ow;
            int64_t *ap = n->op == OP_MAXPOOL ? w->arg[n->out[0]] + p * ge.oh * ge.ow : NULL;
            for (int64_t oy = 0; oy < ge.oh; oy++) {
                int64_t iy0 = oy * ge.sh - ge.pt, ky0, ky1, py0, py1;
                bw_taps(iy0, ge.dh, ge.kh, ge.h, &ky0, &ky1);
                bw_taps(iy0 + ge.pt, ge.dh, ge.kh, ge.h + ge.pt + ge.pb, &py0, &py1);
                for (int64_t ox = 0; ox < ge.ow; ox++) {
                    int64_t ix0 = ox * ge.sw - ge.pl, kx0, kx1, px0, px1;
                    bw_taps(ix0, ge.dw, ge.kw, ge.w, &kx0, &kx1);
                    bw_taps(ix0 + ge.pl, ge.dw, ge.kw, ge.w + ge.pl + ge.pr, &px0, &px1);
                    double best = -3.4028234663852886e38, sum = 0.0;
                    int64_t arg = -1;
                    for (int64_t ky = ky0; ky < ky1; ky++)
                        for (int64_t kx = kx0; kx < kx1; kx++) {
                            int64_t k = (iy0 + ky * ge.dh) * ge.w + ix0 + kx * ge.dw;
                            if (xp[k] > best)
                                best = xp[k], arg = k;
                            sum += xp[k];
                        }
                    if (ap) {
                        yp[oy * ge.ow + ox] = best;
                        ap[oy * ge.ow + ox] = arg >= 0 ? p * ge.h * ge.w + arg : -1;
                    } else {
                        int64_t div = ge.count_include_pad ? (py1 - py0) * (px1 - px0) : (ky1 - ky0) * (kx1 - kx0);
                        yp[oy * ge.ow + ox] = div > 0 ? sum / (double)div : 0.0;
                    }
                }
            }
        }
        return;
    case OP_GLOBALAVGPOOL: {
        int64_t nc = x->dims[0] * x->dims[1], hw = ir_numel(x) / nc;
        for (int64_t p = 0; p < nc; p++) {
            double s = 0.0;
            for (int64_t i = 0; i < hw; i++)
                s += xv[p * hw + i];
            yv[p] = s / (double)hw;
        }
        return;
    }
    case OP_ADD: {
        int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
        const double *bv = w->rv[n->in[1]];
        bw_bcast_strides(x, y->rank, sa);
        bw_bcast_strides(&g->tensors[n->in[1]], y->rank, sb);
        int64_t ia = 0, ib = 0;
        for (int64_t k = 0; k < len; k++) {
            yv[k] = xv[ia] + bv[ib];
            for (int d = y->rank - 1; d >= 0; d--) {
                ia += sa[d], ib += sb[d];
                if (++idx[d] < y->dims[d])
                    break;
                ia -= sa[d] * y->dims[d], ib -= sb[d] * y->dims[d];
                idx[d] = 0;
            }
        }
        return;
    }
    case OP_CONCAT: {
        int axis = (int)n->a.axis;
        int64_t outer = bw_prod(y->dims, 0, axis), row = bw_prod(y->dims, axis, y->rank), off = 0;
        for (int j = 0; j < n->nin; j++) {
            const Tensor *t = &g->tensors[n->in[j]];
            int64_t inner = bw_prod(t->dims, axis, t->rank);
            for (int64_t o = 0; o < outer; o++)
                memcpy(yv + o * row + off, w->rv[n->in[j]] + o * inner, (size_t)inner * sizeof(double));
            off += inner;
        }
        return;
    }
    case OP_RESHAPE:
        memcpy(yv, xv, (size_t)len * sizeof(double));
        return;
    case OP_TRANSPOSE: {
        int64_t xs[IR_MAX_RANK], idx[IR_MAX_RANK] = {0}, src = 0;
        for (int i = 0; i < y->rank; i++)
            xs[i] = bw_prod(x->dims, n->a.perm[i] + 1, x->rank);
        for (int64_t k = 0; k < len; k++) {
            yv[k] = xv[src];
            for (int d = y->rank - 1; d >= 0; d--) {
                src += xs[d];
                if (++idx[d] < y->dims[d])
                    break;
                src -= xs[d] * y->dims[d];
                idx[d] = 0;
            }
        }
        return;
    }
    case OP_SLICE: {
        int32_t outer, inner, row, off;
        ka_slice(g, n, &outer, &inner, &row, &off);
        for (int64_t o = 0; o < outer; o++)
            memcpy(yv + o * inner, xv + o * row + off, (size_t)inner * sizeof(double));
        return;
    }
    case OP_SOFTMAX: {
        int64_t outer, slen, inner;
        bw_softmax_runs(n, x, &outer, &slen, &inner);
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < inner; j++) {
                int64_t base = o * slen * inner + j;
                double mx = xv[base], sum = 0.0;
                for (int64_t i = 1; i < slen; i++)
                    mx = xv[base + i * inner] > mx ? xv[base + i * inner] : mx;
                for (int64_t i = 0; i < slen; i++)
                    sum += (yv[base + i * inner] = exp(xv[base + i * inner] - mx));
                for (int64_t i = 0; i < slen; i++)
                    yv[base + i * inner] /= sum;
            }
        return;
    }
    case OP_LSTM: case OP_GRU: /* bw_rnn_fwd, above */
    case OP_COUNT:
        break;
    }
}

static void bw_bind(const GradModel *m, GradWork *w, const double *theta)
{
    const Graph *g = m->g;
    for (int t = 0; t < g->ntensors; t++) {
        if (g->tensors[t].kind != TK_CONST)
            w->rv[t] = w->buf[t];
        else if (m->tparam[t] >= 0)
            w->rv[t] = theta + m->params[m->tparam[t]].offset;
        else
            w->rv[t] = m->cdata[t];
    }
}

static void bw_forward_from(const GradModel *m, GradWork *w, const double *theta, int start)
{
    bw_bind(m, w, theta);
    for (int i = start; i < m->g->nnodes; i++)
        bw_node_fwd(m, w, &m->g->nodes[i]);
}

double grad_forward(const GradModel *m, GradWork *w, const double *theta, const double *target)
{
    const Graph *g = m->g;
    bw_forward_from(m, w, theta, 0);
    if (!target)
        return 0.0;
    const double *y = w->rv[g->outputs[0]];
    int64_t k = ir_numel(&g->tensors[g->outputs[0]]);
    if (m->loss == GRAD_LOSS_MSE) {
        double s = 0.0;
        for (int64_t i = 0; i < k; i++)
            s += (y[i] - target[i]) * (y[i] - target[i]);
        return s / (double)k;
    }
    int64_t c = (int64_t)target[0];
    if (c < 0 || c >= k)
        c = 0;
    if (m->softmax_out)
        return -log(y[c] > 1e-300 ? y[c] : 1e-300);
    double mx = y[0], s = 0.0;
    for (int64_t i = 1; i < k; i++)
        mx = y[i] > mx ? y[i] : mx;
    for (int64_t i = 0; i < k; i++)
        s += exp(y[i] - mx);
    return log(s) + mx - y[c];
}

/* ---- backward ---- */

/* dy -> dz through the fused activation, by the recorded branches. */
static const double *bw_fused_bwd(const Node *n, const GradWork *w, const double *dy, double *tmp, int64_t len)
{
    if (n->a.fused_act == ACT_NONE)
        return dy;
    const uint8_t *mask = w->mask[n->out[0]];
    for (int64_t i = 0; i < len; i++)
        tmp[i] = mask[i] == 1 ? dy[i] : 0.0;
    return tmp;
}

static double *bw_dparam(const GradModel *m, double *grad, int t)
{
    if (t < 0 || m->tparam[t] < 0 || !grad)
        return NULL;
    return grad + m->params[m->tparam[t]].offset;
}

static void bw_node_bwd(const GradModel *m, GradWork *w, const Node *n, double *grad, double *tmp)
{
    const Graph *g = m->g;
    if (ir_op_is_recurrent(n->op)) {
        bw_rnn_bwd(m, w, n, (int)(n - g->nodes), grad);
        return;
    }
    const Tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    const double *xv = w->rv[n->in[0]], *yv = w->rv[n->out[0]];
    const double *dy = w->dbuf[n->out[0]];
    double *dx = w->dbuf[n->in[0]]; /* NULL for constants */
    int64_t len = ir_numel(y);
    BGeom ge;
    switch (n->op) {
    case OP_CONV: {
        const double *dz = bw_fused_bwd(n, w, dy, tmp, len);
        int bt = n->nin > 2 ? n->in[2] : -1;
        double *dw = bw_dparam(m, grad, n->in[1]), *db = bw_dparam(m, grad, bt);
        bw_geom(g, n, &ge);
        bw_conv_bwd(&ge, xv, w->rv[n->in[1]], dz, dx, dw, db);
        return;
    }
    case OP_DENSE: {
        const double *dz = bw_fused_bwd(n, w, dy, tmp, len);
        const Tensor *wt = &g->tensors[n->in[1]];
        const double *wv = w->rv[n->in[1]];
        int bt = n->nin > 2 ? n->in[2] : -1;
        double *dw = bw_dparam(m, grad, n->in[1]), *db = bw_dparam(m, grad, bt);
        int64_t k = wt->dims[1], no = wt->dims[0], rows = ir_numel(x) / k;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t o = 0; o < no; o++) {
                double d = dz[r * no + o];
                if (d == 0.0)
                    continue;
                const double *xr = xv + r * k, *wo = wv + o * k;
                if (db)
                    db[o] += d;
                if (dw)
                    for (int64_t i = 0; i < k; i++)
                        dw[o * k + i] += d * xr[i];
                if (dx)
                    for (int64_t i = 0; i < k; i++)
                        dx[r * k + i] += d * wo[i];
            }
        return;
    }
    case OP_BATCHNORM: {
        if (!dx)
            return;
        const double *sc = w->rv[n->in[1]], *var = w->rv[n->in[4]];
        int64_t c = x->dims[1], inner = bw_prod(x->dims, 2, x->rank), outer = len / (c * inner);
        for (int64_t o = 0; o < outer; o++)
            for (int64_t ch = 0; ch < c; ch++) {
                double a = sc[ch] / sqrt(var[ch] + (double)n->a.epsilon);
                for (int64_t i = 0; i < inner; i++)
                    dx[(o * c + ch) * inner + i] += a * dy[(o * c + ch) * inner + i];
            }
        return;
    }
    default:
        break;
    }
    if (n->op == OP_CONCAT) {
        int axis = (int)n->a.axis;
        int64_t outer = bw_prod(y->dims, 0, axis), row = bw_prod(y->dims, axis, y->rank), off = 0;
        for (int j = 0; j < n->nin; j++) {
            const Tensor *t = &g->tensors[n->in[j]];
            int64_t inner = bw_prod(t->dims, axis, t->rank);
            double *d = w->dbuf[n->in[j]];
            if (d)
                for (int64_t o = 0; o < outer; o++)
                    for (int64_t i = 0; i < inner; i++)
                        d[o * inner + i] += dy[o * row + off + i];
            off += inner;
        }
        return;
    }
    if (n->op == OP_ADD) {
        int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
        double *db = w->dbuf[n->in[1]];
        bw_bcast_strides(x, y->rank, sa);
        bw_bcast_strides(&g->tensors[n->in[1]], y->rank, sb);
        int64_t ia = 0, ib = 0;
        for (int64_t k = 0; k < len; k++) {
            if (dx)
                dx[ia] += dy[k];
            if (db)
                db[ib] += dy[k];
            for (int d = y->rank - 1; d >= 0; d--) {
                ia += sa[d], ib += sb[d];
                if (++idx[d] < y->dims[d])
                    break;
                ia -= sa[d] * y->dims[d], ib -= sb[d] * y->dims[d];
                idx[d] = 0;
            }
        }
        return;
    }
    if (!dx)
        return;
    switch (n->op) {
    case OP_RELU:
    case OP_CLIP:
    case OP_LEAKYRELU: {
        const uint8_t *mask = w->mask[n->out[0]];
        double lo = n->op == OP_LEAKYRELU ? n->a.alpha : 0.0;
        for (int64_t i = 0; i < len; i++)
            dx[i] += mask[i] == 1 ? dy[i] : mask[i] == 0 ? lo * dy[i] : 0.0;
        return;
    }
    case OP_SIGMOID:
        for (int64_t i = 0; i < len; i++)
            dx[i] += dy[i] * yv[i] * (1.0 - yv[i]);
        return;
    case OP_TANH:
        for (int64_t i = 0; i < len; i++)
            dx[i] += dy[i] * (1.0 - yv[i] * yv[i]);
        return;
    case OP_MAXPOOL:
    case OP_AVGPOOL:
        bw_geom(g, n, &ge);
        for (int64_t p = 0; p < ge.n * ge.c; p++) {
            double *dxp = dx + p * ge.h * ge.w;
            const double *dyp = dy + p * ge.oh * ge.ow;
            for (int64_t oy = 0; oy < ge.oh; oy++) {
                int64_t iy0 = oy * ge.sh - ge.pt, ky0, ky1, py0, py1;
                bw_taps(iy0, ge.dh, ge.kh, ge.h, &ky0, &ky1);
                bw_taps(iy0 + ge.pt, ge.dh, ge.kh, ge.h + ge.pt + ge.pb, &py0, &py1);
                for (int64_t ox = 0; ox < ge.ow; ox++) {
                    int64_t ix0 = ox * ge.sw - ge.pl, kx0, kx1, px0, px1;
                    bw_taps(ix0, ge.dw, ge.kw, ge.w, &kx0, &kx1);
                    bw_taps(ix0 + ge.pl, ge.dw, ge.kw, ge.w + ge.pl + ge.pr, &px0, &px1);
                    double d = dyp[oy * ge.ow + ox];
                    if (n->op == OP_MAXPOOL) {
                        int64_t arg = w->arg[n->out[0]][p * ge.oh * ge.ow + oy * ge.ow + ox];
                        if (arg >= 0)
                            dx[arg] += d;
                    } else {
                        int64_t div = ge.count_include_pad ? (py1 - py0) * (px1 - px0) : (ky1 - ky0) * (kx1 - kx0);
                        if (div <= 0)
                            continue;
                        for (int64_t ky = ky0; ky < ky1; ky++)
                            for (int64_t kx = kx0; kx < kx1; kx++)
                                dxp[(iy0 + ky * ge.dh) * ge.w + ix0 + kx * ge.dw] += d / (double)div;
                    }
                }
            }
        }
        return;
    case OP_GLOBALAVGPOOL: {
        int64_t nc = x->dims[0] * x->dims[1], hw = ir_numel(x) / nc;
        for (int64_t p = 0; p < nc; p++)
            for (int64_t i = 0; i < hw; i++)
                dx[p * hw + i] += dy[p] / (double)hw;
        return;
    }
    case OP_RESHAPE:
        for (int64_t i = 0; i < len; i++)
            dx[i] += dy[i];
        return;
    case OP_TRANSPOSE: {
        int64_t xs[IR_MAX_RANK], idx[IR_MAX_RANK] = {0}, src = 0;
        for (int i = 0; i < y->rank; i++)
            xs[i] = bw_prod(x->dims, n->a.perm[i] + 1, x->rank);
        for (int64_t k = 0; k < len; k++) {
            dx[src] += dy[k];
            for (int d = y->rank - 1; d >= 0; d--) {
                src += xs[d];
                if (++idx[d] < y->dims[d])
                    break;
                src -= xs[d] * y->dims[d];
                idx[d] = 0;
            }
        }
        return;
    }
    case OP_SLICE: { /* the sliced positions get dy, the others nothing */
        int32_t outer, inner, row, off;
        ka_slice(g, n, &outer, &inner, &row, &off);
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++)
                dx[o * row + off + i] += dy[o * inner + i];
        return;
    }
    case OP_SOFTMAX: {
        int64_t outer, slen, inner;
        bw_softmax_runs(n, x, &outer, &slen, &inner);
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < inner; j++) {
                int64_t base = o * slen * inner + j;
                double dot = 0.0;
                for (int64_t i = 0; i < slen; i++)
                    dot += dy[base + i * inner] * yv[base + i * inner];
                for (int64_t i = 0; i < slen; i++)
                    dx[base + i * inner] += yv[base + i * inner] * (dy[base + i * inner] - dot);
            }
        return;
    }
    default:
        return;
    }
}

void grad_backward(const GradModel *m, GradWork *w, const double *theta, const double *target,
                   double scale, double *grad)
{
    const Graph *g = m->g;
    int64_t maxlen = 1;
    bw_bind(m, w, theta);
    for (int t = 0; t < g->ntensors; t++)
        if (w->dbuf[t]) {
            int64_t c = ir_numel(&g->tensors[t]);
            memset(w->dbuf[t], 0, (size_t)c * sizeof(double));
            maxlen = c > maxlen ? c : maxlen;
        }
    int out = g->outputs[0];
    const double *y = w->rv[out];
    double *dy = w->dbuf[out];
    int64_t k = ir_numel(&g->tensors[out]);
    if (m->loss == GRAD_LOSS_MSE) {
        for (int64_t i = 0; i < k; i++)
            dy[i] = scale * 2.0 * (y[i] - target[i]) / (double)k;
    } else {
        int64_t c = (int64_t)target[0];
        if (c < 0 || c >= k)
            c = 0;
        if (m->softmax_out) {
            dy[c] = -scale / (y[c] > 1e-300 ? y[c] : 1e-300);
        } else {
            double mx = y[0], s = 0.0;
            for (int64_t i = 1; i < k; i++)
                mx = y[i] > mx ? y[i] : mx;
            for (int64_t i = 0; i < k; i++)
                s += exp(y[i] - mx);
            for (int64_t i = 0; i < k; i++)
                dy[i] = scale * (exp(y[i] - mx) / s - (i == c));
        }
    }
    double *tmp = xmalloc((size_t)maxlen * sizeof(double));
    for (int i = g->nnodes - 1; i >= 0; i--)
        bw_node_bwd(m, w, &g->nodes[i], grad, tmp);
    free(tmp);
}

double grad_batch(const GradModel *m, GradWork *w, const double *theta, const double *xs,
                  const double *targets, int n, double *grad)
{
    const Graph *g = m->g;
    int in = g->inputs[0];
    int64_t in_n = ir_numel(&g->tensors[in]), tn = grad_target_size(m);
    double loss = 0.0;
    memset(grad, 0, (size_t)m->ntheta * sizeof *grad);
    for (int s = 0; s < n; s++) {
        memcpy(w->buf[in], xs + s * in_n, (size_t)in_n * sizeof(double));
        loss += grad_forward(m, w, theta, targets + s * tn);
        grad_backward(m, w, theta, targets + s * tn, 1.0 / n, grad);
    }
    return loss / n;
}

double grad_hvp(const GradModel *m, GradWork *w, const double *theta, const double *v,
                const double *xs, const double *targets, int n, double *hv, double *tmp)
{
    int64_t p = m->ntheta;
    double nt = 0.0, nv = 0.0;
    for (int64_t i = 0; i < p; i++)
        nt += theta[i] * theta[i], nv += v[i] * v[i];
    if (nv == 0.0) {
        memset(hv, 0, (size_t)p * sizeof *hv);
        return 0.0;
    }
    double eps = 1e-5 * sqrt(nt > 0.0 ? nt : 1.0) / sqrt(nv);
    double *tp = tmp, *tm = tmp + p;
    for (int64_t i = 0; i < p; i++) {
        tp[i] = theta[i] + eps * v[i];
        tm[i] = theta[i] - eps * v[i];
    }
    memset(hv, 0, (size_t)p * sizeof *hv);
    const Graph *g = m->g;
    int in = g->inputs[0];
    int64_t in_n = ir_numel(&g->tensors[in]), tn = grad_target_size(m);
    /* per sample: record the branches at theta, then the gradients at
       theta +- eps v with those branches; hv collects g+ - g-, each
       already divided by 2 eps n so one accumulator suffices */
    double sc = 1.0 / (2.0 * eps * n);
    for (int s = 0; s < n; s++) {
        memcpy(w->buf[in], xs + s * in_n, (size_t)in_n * sizeof(double));
        w->frozen = 0;
        grad_forward(m, w, theta, NULL);
        w->frozen = 1;
        grad_forward(m, w, tp, targets + s * tn);
        grad_backward(m, w, tp, targets + s * tn, sc, hv);
        grad_forward(m, w, tm, targets + s * tn);
        grad_backward(m, w, tm, targets + s * tn, -sc, hv);
    }
    w->frozen = 0;
    return eps;
}

double grad_act_hvp(const GradModel *m, GradWork *w, const double *theta, int t, const double *x,
                    const double *target, const double *v, double *hv, double *tmp)
{
    const Graph *g = m->g;
    int in = g->inputs[0];
    int64_t cnt = ir_numel(&g->tensors[t]);
    memcpy(w->buf[in], x, (size_t)ir_numel(&g->tensors[in]) * sizeof(double));
    w->frozen = 0;
    double loss = grad_forward(m, w, theta, target);
    double *x0 = tmp, nx = 0.0, nv = 0.0;
    memcpy(x0, w->buf[t], (size_t)cnt * sizeof(double));
    for (int64_t i = 0; i < cnt; i++)
        nx += x0[i] * x0[i], nv += v[i] * v[i];
    if (nv == 0.0) {
        memset(hv, 0, (size_t)cnt * sizeof *hv);
        return loss;
    }
    double eps = 1e-5 * sqrt(nx > 0.0 ? nx : (double)cnt) / sqrt(nv);
    /* nodes after t's producer see the perturbation; the branches stay
       those of the unperturbed forward */
    int start = g->tensors[t].producer + 1;
    w->frozen = 1;
    for (int sign = 1; sign >= -1; sign -= 2) {
        for (int64_t i = 0; i < cnt; i++)
            w->buf[t][i] = x0[i] + sign * eps * v[i];
        bw_forward_from(m, w, theta, start);
        grad_backward(m, w, theta, target, 1.0, NULL);
        const double *d = w->dbuf[t];
        for (int64_t i = 0; i < cnt; i++)
            hv[i] = sign > 0 ? d[i] : (hv[i] - d[i]) / (2.0 * eps);
    }
    memcpy(w->buf[t], x0, (size_t)cnt * sizeof(double));
    w->frozen = 0;
    return loss;
}
