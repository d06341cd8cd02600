/*
 * Calibration: what the float network does on the calibration set.
 *
 * ir_calibrate() runs the float interpreter over the samples twice.  The
 * first pass records every activation's range (cal_min, cal_max), its mean
 * and the mean and root mean square of its positive values (the scale of a
 * one-sided tail); the second, with the mean and the range known, the mean
 * absolute deviation from the mean (the Laplace b of ACIQ), the standard
 * deviation (the Gaussian sigma) and a histogram of |x| over [0, max|x|]
 * in IR_CAL_BINS bins (for percentiles).  clip.c turns these into ranges.
 * Sums are in double, in a fixed order: the same graph and samples always
 * give the same statistics.
 *
 * Then the structural facts: which tensors are >= 0 whatever the input
 * (after ReLU, Sigmoid, Softmax...), propagated in topological order; those
 * get unsigned codes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "util.h"

/* The value sums of one tensor over both passes. */
typedef struct Acc {
    double sum, dev, sq;    /* x, |x - mean|, (x - mean)^2 */
    double psum, psq;       /* x and x^2 over x > 0 */
    int64_t pcount;
} Acc;

static int run_pass(Graph *g, const float *samples, int n, int pass, Acc *acc)
{
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
            const float *v = vals[t];
            Acc *a = &acc[t];
            CalStats *c = &tt->cal;
            if (pass == 0) {
                for (int64_t i = 0; i < count; i++) {
                    float x = v[i];
                    if (x != x)
                        continue; /* NaN says nothing about the range */
                    tt->cal_min = x < tt->cal_min ? x : tt->cal_min;
                    tt->cal_max = x > tt->cal_max ? x : tt->cal_max;
                    if (isfinite(x)) {
                        a->sum += x;
                        c->count++;
                        if (x > 0) {
                            a->psum += x;
                            a->psq += (double)x * x;
                            a->pcount++;
                        }
                    }
                }
                continue;
            }
            double scale = c->hmax > 0 ? IR_CAL_BINS / c->hmax : 0;
            for (int64_t i = 0; i < count; i++) {
                double x = v[i];
                if (!isfinite(x))
                    continue;
                double d = x - c->mean;
                a->dev += fabs(d);
                a->sq += d * d;
                double bin = fabs(x) * scale;
                if (c->hist)
                    c->hist[bin < IR_CAL_BINS - 1 ? (int)bin : IR_CAL_BINS - 1]++;
            }
        }
    }
    ir_interp_free(g, vals);
    return rc;
}

/* nonneg: structural facts, propagated in topological order */
static void mark_nonneg(Graph *g)
{
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
        case OP_SLICE:
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
}

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
        Tensor *tt = &g->tensors[t];
        tt->cal_min = INFINITY;
        tt->cal_max = -INFINITY;
        free(tt->cal.hist);
        memset(&tt->cal, 0, sizeof tt->cal);
    }
    Acc *acc = xcalloc((size_t)g->ntensors + 1, sizeof *acc);
    int rc = run_pass(g, samples, n, 0, acc);
    for (int t = 0; t < g->ntensors && rc == 0; t++) {
        Tensor *tt = &g->tensors[t];
        CalStats *c = &tt->cal;
        if (tt->kind == TK_CONST || tt->cal_min > tt->cal_max) {
            tt->cal_min = tt->cal_max = 0; /* constants, or never a number */
            c->count = 0;
            continue;
        }
        if (c->count == 0)
            continue;
        c->mean = acc[t].sum / (double)c->count;
        c->hmax = fmax(fabs((double)tt->cal_min), fabs((double)tt->cal_max));
        if (isfinite(c->hmax))
            c->hist = xcalloc(IR_CAL_BINS, sizeof *c->hist);
    }
    if (rc == 0)
        rc = run_pass(g, samples, n, 1, acc);
    for (int t = 0; t < g->ntensors && rc == 0; t++) {
        CalStats *c = &g->tensors[t].cal;
        if (c->count > 0) {
            c->mad = acc[t].dev / (double)c->count;
            c->std = sqrt(acc[t].sq / (double)c->count);
        }
        if (acc[t].pcount > 0) {
            c->pos_mean = acc[t].psum / (double)acc[t].pcount;
            c->pos_rms = sqrt(acc[t].psq / (double)acc[t].pcount);
        }
    }
    free(acc);
    if (rc != 0)
        return -1;
    mark_nonneg(g);
    return 0;
}
