/* Measured refinement of the precision choice (refine.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats.h"
#include "pipeline.h"
#include "quant.h"
#include "refine.h"
#include "util.h"

/* log of the distribution an output vector stands for: log-softmax of
 * logits, or the log of probabilities a Softmax already produced. */
static void log_dist(const float *v, int64_t n, int probs, double *out)
{
    if (probs) {
        double sum = 0;
        for (int64_t i = 0; i < n; i++)
            sum += v[i] > 0 ? v[i] : 0;
        for (int64_t i = 0; i < n; i++)
            out[i] = log(fmax(v[i] > 0 ? v[i] / (sum > 0 ? sum : 1) : 0, 1e-12));
        return;
    }
    double mx = v[argmax_f(v, n)], sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += exp(v[i] - mx);
    for (int64_t i = 0; i < n; i++)
        out[i] = v[i] - mx - log(sum);
}

/* KL(ref || q) from log distributions, or the mean squared error. */
static double divergence(const float *ref, const float *q, int64_t n, int probs, double *lp, double *lq)
{
    double d = 0;
    if (n == 1) {
        d = ((double)ref[0] - q[0]) * ((double)ref[0] - q[0]);
        return d;
    }
    log_dist(ref, n, probs, lp);
    log_dist(q, n, probs, lq);
    for (int64_t i = 0; i < n; i++)
        d += exp(lp[i]) * (lp[i] - lq[i]);
    return d;
}

/* The float model's outputs on the n inputs, or NULL (printed). */
static float *float_outputs(Graph *g, const char *model, const float *x, int n)
{
    const Tensor *in = &g->tensors[g->inputs[0]], *out = &g->tensors[g->outputs[0]];
    int64_t in_n = ir_numel(in), out_n = ir_numel(out);
    float *ref = xmalloc((size_t)(n * out_n) * sizeof *ref);
    float **vals = ir_interp_alloc(g);
    for (int s = 0; s < n; s++) {
        memcpy(vals[g->inputs[0]], x + (int64_t)s * in_n, (size_t)in_n * sizeof(float));
        if (ir_interp_run(g, vals) != 0) {
            fprintf(stderr, "shiftc: %s: %s\n", model, g->err);
            free(ref);
            ref = NULL;
            break;
        }
        memcpy(ref + (int64_t)s * out_n, vals[g->outputs[0]], (size_t)out_n * sizeof(float));
    }
    ir_interp_free(g, vals);
    return ref;
}

/* Quantizes g with e's assignment and measures its mean divergence. */
static int measure(const SearchSpace *s, RefineEntry *e, Graph *g, const char *model, const float *calib,
                   int ncalib, const float *ref)
{
    search_apply(s, e->choice, g);
    if (pipeline_quantize(g, model, calib, ncalib) != 0)
        return -1;
    QSim *sim = ir_qsim_new(g);
    if (!sim) {
        fprintf(stderr, "shiftc: %s: %s\n", model, g->err);
        return -1;
    }
    const Tensor *in = &g->tensors[g->inputs[0]], *out = &g->tensors[g->outputs[0]];
    int64_t in_n = ir_numel(in), out_n = ir_numel(out);
    int probs = out->producer >= 0 && g->nodes[out->producer].op == OP_SOFTMAX;
    void *qin = xmalloc((size_t)(in_n * quant_type_bytes(in->q.type)));
    void *qout = xmalloc((size_t)(out_n * quant_type_bytes(out->q.type)));
    float *deq = xmalloc((size_t)out_n * sizeof *deq);
    double *lp = xmalloc((size_t)out_n * sizeof *lp), *lq = xmalloc((size_t)out_n * sizeof *lq);
    double sum = 0;
    int rc = 0;
    for (int i = 0; i < ncalib && rc == 0; i++) {
        rc = pipeline_run_quantized(g, sim, calib + (int64_t)i * in_n, qin, qout, deq);
        if (rc == 0)
            sum += divergence(ref + (int64_t)i * out_n, deq, out_n, probs, lp, lq);
        else
            fprintf(stderr, "shiftc: %s: %s\n", model, g->err);
    }
    e->divergence = sum / ncalib;
    free(qin), free(qout), free(deq), free(lp), free(lq);
    ir_qsim_free(sim);
    return rc;
}

static int same_choice(const int *a, const int *b, int n)
{
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

static RefineEntry *add_entry(Refinement *r, const SearchSpace *s, const int *choice, CostKind kind)
{
    for (int i = 0; i < r->n; i++)
        if (same_choice(r->e[i].choice, choice, s->nlayers))
            return NULL;
    RefineEntry *e = &r->e[r->n++];
    memset(e, 0, sizeof *e);
    e->choice = xmalloc((size_t)s->nlayers * sizeof *e->choice);
    memcpy(e->choice, choice, (size_t)s->nlayers * sizeof *choice);
    double tot[COST_COUNT];
    search_totals(s, choice, tot, &e->omega);
    e->cost = tot[kind];
    e->divergence = NAN;
    return e;
}

int refine_choose(const SearchSpace *s, const Frontier *f, double limit, int k, Graph *g, const char *model,
                  const float *calib, int ncalib, Refinement *r)
{
    memset(r, 0, sizeof *r);
    r->best = -1;
    int last = frontier_pick(f, limit);
    if (last < 0 || k <= 0 || ncalib <= 0)
        return 0;
    const SearchLayer *L0 = &s->layers[0];
    r->e = xcalloc((size_t)(k + L0->ncand), sizeof *r->e);
    for (int p = last - k + 1 < 0 ? 0 : last - k + 1; p <= last; p++) {
        RefineEntry *e = add_entry(r, s, f->points[p].choice, f->kind);
        if (e)
            e->frontier_index = p;
    }
    /* uniform assignments at the act bits of the least-Omega point */
    int act_bits = L0->cand[f->points[last].choice[0]].act_bits;
    int *choice = xmalloc((size_t)s->nlayers * sizeof *choice);
    for (int j = 0; j < L0->ncand; j++) {
        const Candidate *c = &L0->cand[j];
        if (c->act_bits != act_bits || search_uniform(s, c->weights, act_bits, 1, choice) != 0)
            continue;
        double tot[COST_COUNT], omega;
        search_totals(s, choice, tot, &omega);
        if (tot[f->kind] > limit || (f->cap_kind < COST_COUNT && tot[f->cap_kind] > f->cap))
            continue;
        RefineEntry *e = add_entry(r, s, choice, f->kind);
        if (e)
            e->frontier_index = -1, e->uniform = c->weights;
    }
    free(choice);
    float *ref = float_outputs(g, model, calib, ncalib);
    if (!ref)
        return -1;
    r->nsamples = ncalib;
    r->metric = ir_numel(&g->tensors[g->outputs[0]]) == 1 ? "mse" : "kl";
    int tty = isatty(2);
    for (int i = 0; i < r->n; i++) {
        if (tty)
            fprintf(stderr, "\rrefine: measuring %d/%d assignments on %d calibration inputs", i + 1, r->n, ncalib);
        if (measure(s, &r->e[i], g, model, calib, ncalib, ref) != 0) {
            free(ref);
            return -1;
        }
        /* least divergence; on a tie the least Omega (frontier points first) */
        const RefineEntry *b = r->best >= 0 ? &r->e[r->best] : NULL;
        if (!b || r->e[i].divergence < b->divergence ||
            (r->e[i].divergence == b->divergence && r->e[i].omega < b->omega))
            r->best = i;
    }
    if (tty)
        fprintf(stderr, "\n");
    free(ref);
    search_apply(s, r->e[r->best].choice, g);
    return 0;
}

void refine_label(const RefineEntry *e, char *buf, size_t len)
{
    if (e->frontier_index >= 0)
        snprintf(buf, len, "frontier point %d", e->frontier_index);
    else
        snprintf(buf, len, "uniform %s", fmt_name(e->uniform));
}

void refine_free(Refinement *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->e[i].choice);
    free(r->e);
    memset(r, 0, sizeof *r);
    r->best = -1;
}
