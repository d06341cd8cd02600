/*
 * Hutchinson per-layer Hessian traces on threads (see sensitivity.h).
 *
 * Threads: probes are handed out in rounds of `threads`; worker t of a
 * round runs probe base + t with its own GradWork and scratch, writing
 * v_i . (Hv)_i of every layer into row (base + t) of a per-probe table.
 * The main thread then folds the rows in probe order and applies the
 * stopping rule, so the answer is the same for any thread count.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "formats.h"
#include "sensitivity.h"
#include "tensorfile.h"
#include "util.h"

/* ---- weight formats for Omega: the hook for the formats issue ---- */

/* Squared weight error sum (Q_f(W) - W)^2 of format f over the channels
 * (dim 0) of w, quantized by the compiler's own channel quantizer, so Omega
 * measures exactly what compile would do.  The channels come in groups of
 * per_group (a grouped Conv's outputs per group; nchan otherwise); the
 * loads are counted over register blocks formed as the emitter forms them:
 * at most FMT_ROW_BLOCK rows, restarting at each group and at each
 * function (rows packed into functions of FMT_FN_TERMS terms). */
double sens_qerr2(WeightFormat f, const float *w, int64_t nchan, int64_t per_chan, int64_t per_group,
                  FmtCount *count)
{
    FmtQuant fq;
    fmt_init(&fq, f);
    int32_t *codes = xmalloc((size_t)per_chan * sizeof *codes);
    unsigned char *any = xcalloc((size_t)per_chan, 1);
    double err = 0.0;
    int64_t fn_terms = 0, rows = 0;
    if (per_group < 1)
        per_group = nchan;
    for (int64_t c = 0; c < nchan; c++) {
        const float *wc = w + c * per_chan;
        double sw;
        int32_t nm[3];
        fmt_weight_channel(&fq, wc, per_chan, 0, 1.0, 1.0, codes, &sw, nm);
        for (int64_t i = 0; i < per_chan; i++) {
            double d = (double)(float)sw * codes[i] - wc[i];
            err += d * d;
        }
        if (count) {
            FmtCount row = {0, 0, 0, 0, 0};
            fmt_count_codes(codes, per_chan, &row);
            int new_fn = c == 0 || fn_terms + row.terms + 8 > FMT_FN_TERMS;
            if (c > 0 && (new_fn || rows == FMT_ROW_BLOCK || c % per_group == 0)) {
                fmt_count_loads(any, per_chan, count);
                memset(any, 0, (size_t)per_chan);
                rows = 0;
            }
            fn_terms = (new_fn ? 0 : fn_terms) + row.terms + 8;
            rows++;
            count->nonzero += row.nonzero, count->terms += row.terms, count->shifted += row.shifted;
            count->over4 += row.over4;
            for (int64_t i = 0; i < per_chan; i++)
                any[i] |= codes[i] != 0;
        }
    }
    if (count && nchan > 0)
        fmt_count_loads(any, per_chan, count);
    free(any);
    free(codes);
    return err;
}

double sens_node_qerr2(const Graph *g, const Node *n, WeightFormat f, FmtCount *count)
{
    int rnn = ir_op_is_recurrent(n->op);
    double err = 0.0;
    for (int k = 1; k <= (rnn ? 2 : 1) && k < n->nin; k++) {
        const Tensor *w = n->in[k] >= 0 ? &g->tensors[n->in[k]] : NULL;
        if (!w || !w->data || w->rank < 1)
            continue;
        int64_t nch = rnn && w->rank == 3 ? w->dims[0] * w->dims[1] : w->dims[0];
        int64_t per_group = n->op == OP_CONV && n->a.group > 1 ? nch / n->a.group : nch;
        if (nch > 0)
            err += sens_qerr2(f, w->data, nch, ir_numel(w) / nch, per_group, count);
    }
    return err;
}

/* Omega columns: every quantized weight format, in the table's order. */
int sens_nformats(void) { return WF_COUNT - 1; }
const char *sens_format_name(int f) { return fmt_name((WeightFormat)(f + 1)); }

/* ---- probes ---- */

static uint64_t sens_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct SensJob {
    const GradModel *m;
    const double *xs, *targets;
    int n;
    const SensLayer *layers;
    int nlayers;
    uint64_t seed;
    int probe;       /* -1: idle this round */
    double *row;     /* nlayers results */
    GradWork *w;
    double *v, *hv, *tmp;
    double eps;
} SensJob;

static void sens_probe(SensJob *j)
{
    const GradModel *m = j->m;
    int64_t p = grad_theta_size(m);
    uint64_t st = j->seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(j->probe + 1)), bits = 0;
    int nb = 0;
    memset(j->v, 0, (size_t)p * sizeof *j->v);
    for (int l = 0; l < j->nlayers; l++)
        for (int k = 0; k < 2; k++) {
            int pi = k ? j->layers[l].param_r : j->layers[l].param;
            if (pi < 0)
                continue;
            const GradParam *gp = grad_param(m, pi);
            for (int64_t i = 0; i < gp->count; i++) {
                if (nb == 0)
                    bits = sens_splitmix(&st), nb = 64;
                j->v[gp->offset + i] = (bits & 1) ? 1.0 : -1.0;
                bits >>= 1, nb--;
            }
        }
    j->eps = grad_hvp(m, j->w, grad_theta0(m), j->v, j->xs, j->targets, j->n, j->hv, j->tmp);
    for (int l = 0; l < j->nlayers; l++) {
        double s = 0.0;
        for (int k = 0; k < 2; k++) {
            int pi = k ? j->layers[l].param_r : j->layers[l].param;
            if (pi < 0)
                continue;
            const GradParam *gp = grad_param(m, pi);
            for (int64_t i = 0; i < gp->count; i++)
                s += j->v[gp->offset + i] * j->hv[gp->offset + i];
        }
        j->row[l] = s;
    }
}

static void *sens_thread(void *arg)
{
    sens_probe(arg);
    return NULL;
}

int sens_hutchinson(const GradModel *m, const double *xs, const double *targets, int n,
                    const SensOptions *opt, SensResult *r)
{
    memset(r, 0, sizeof *r);
    const Graph *g = grad_graph(m);
    r->layers = xcalloc((size_t)grad_nparams(m) + 1, sizeof *r->layers);
    for (int i = 0; i < grad_nparams(m); i++) {
        const GradParam *gp = grad_param(m, i);
        const Node *nd = &g->nodes[gp->node];
        int rnn = ir_op_is_recurrent(nd->op);
        /* a layer per Conv/Dense weight, or per LSTM/GRU W with its R */
        if (gp->is_bias || (rnn && (!opt->recurrent || gp->tensor != nd->in[1])))
            continue;
        SensLayer *L = &r->layers[r->nlayers++];
        L->node = gp->node;
        L->param = i;
        L->param_r = -1;
        L->n = gp->count;
        L->act_tensor = -1;
        for (int k = 0; rnn && k < grad_nparams(m); k++)
            if (grad_param(m, k)->tensor == nd->in[2]) {
                L->param_r = k;
                L->n += grad_param(m, k)->count;
            }
    }
    int nl = r->nlayers;
    if (nl == 0) {
        sens_result_free(r);
        return -1;
    }
    int maxp = opt->probes > 0 ? opt->probes : 100;
    int minp = opt->min_probes > 0 ? opt->min_probes : 10;
    minp = minp < maxp ? minp : maxp;
    int nt = opt->threads > 0 ? opt->threads : 1;
    nt = nt < maxp ? nt : maxp;
    double tol = opt->tol > 0 ? opt->tol : 1e-3;
    int64_t p = grad_theta_size(m);

    double *rows = xcalloc((size_t)maxp * nl, sizeof *rows);
    SensJob *jobs = xcalloc((size_t)nt, sizeof *jobs);
    pthread_t *tids = xcalloc((size_t)nt, sizeof *tids);
    int *started = xcalloc((size_t)nt, sizeof *started);
    for (int t = 0; t < nt; t++) {
        SensJob *j = &jobs[t];
        j->m = m, j->xs = xs, j->targets = targets, j->n = n;
        j->layers = r->layers, j->nlayers = nl, j->seed = opt->seed;
        j->w = grad_work_new(m);
        j->v = xmalloc((size_t)p * sizeof(double));
        j->hv = xmalloc((size_t)p * sizeof(double));
        j->tmp = xmalloc((size_t)2 * p * sizeof(double));
    }
    /* loss at theta0, for the report */
    {
        double *gbuf = xmalloc((size_t)p * sizeof(double));
        r->loss = grad_batch(m, jobs[0].w, grad_theta0(m), xs, targets, n, gbuf);
        free(gbuf);
    }
    double *sum = xcalloc((size_t)nl, sizeof *sum), *sum2 = xcalloc((size_t)nl, sizeof *sum2);
    int done = 0, stop = 0;
    while (!stop && done < maxp) {
        int round = maxp - done < nt ? maxp - done : nt;
        for (int t = 0; t < round; t++) {
            jobs[t].probe = done + t;
            jobs[t].row = rows + (int64_t)(done + t) * nl;
        }
        for (int t = 1; t < round; t++)
            started[t] = pthread_create(&tids[t], NULL, sens_thread, &jobs[t]) == 0;
        sens_probe(&jobs[0]);
        for (int t = 1; t < round; t++) {
            if (started[t])
                pthread_join(tids[t], NULL);
            else
                sens_probe(&jobs[t]); /* no thread: run it here */
        }
        r->eps = jobs[round - 1].eps;
        for (int t = 0; t < round && !stop; t++) {
            const double *row = rows + (int64_t)done * nl;
            int k = ++done, moved = 0;
            for (int l = 0; l < nl; l++) {
                double prev = k > 1 ? sum[l] / (k - 1) : 0.0;
                sum[l] += row[l], sum2[l] += row[l] * row[l];
                double mean = sum[l] / k;
                if (k < 2 || fabs(mean - prev) > tol * (fabs(prev) + 1e-12))
                    moved = 1;
            }
            if (k >= minp && !moved)
                stop = 1;
        }
        if (opt->progress)
            opt->progress(opt->ctx, done, maxp);
    }
    r->probes = done;
    for (int l = 0; l < nl; l++) {
        SensLayer *L = &r->layers[l];
        double mean = sum[l] / done;
        double var = done > 1 ? (sum2[l] - done * mean * mean) / (done - 1) : 0.0;
        L->trace = mean;
        L->se = done > 1 && var > 0 ? sqrt(var / done) : 0.0;
        for (int f = 0; f < sens_nformats() && f < SENS_MAX_FORMATS; f++)
            L->omega[f] = L->trace / (double)L->n * sens_node_qerr2(g, &g->nodes[L->node], (WeightFormat)(f + 1), NULL);
    }
    for (int t = 0; t < nt; t++) {
        grad_work_free(jobs[t].w);
        free(jobs[t].v), free(jobs[t].hv), free(jobs[t].tmp);
    }
    free(jobs), free(tids), free(started), free(rows), free(sum), free(sum2);
    return 0;
}

void sens_result_free(SensResult *r)
{
    free(r->layers);
    memset(r, 0, sizeof *r);
}

/* ---- activation traces ---- */

typedef struct SensActJob {
    const GradModel *m;
    const double *xs, *targets;
    int n, probes, nthreads, index;
    SensResult *r;
    uint64_t seed;
    double *per_sample; /* [n][nlayers] */
} SensActJob;

static void *sens_act_thread(void *arg)
{
    SensActJob *j = arg;
    const GradModel *m = j->m;
    const Graph *g = grad_graph(m);
    int64_t in_n = ir_numel(&g->tensors[g->inputs[0]]), tn = grad_target_size(m), maxa = 1;
    for (int l = 0; l < j->r->nlayers; l++)
        maxa = j->r->layers[l].act_n > maxa ? j->r->layers[l].act_n : maxa;
    GradWork *w = grad_work_new(m);
    double *v = xmalloc((size_t)maxa * sizeof *v), *hv = xmalloc((size_t)maxa * sizeof *hv);
    double *tmp = xmalloc((size_t)maxa * sizeof *tmp);
    for (int s = j->index; s < j->n; s += j->nthreads)
        for (int l = 0; l < j->r->nlayers; l++) {
            const SensLayer *L = &j->r->layers[l];
            double acc = 0.0;
            if (L->act_tensor < 0)
                continue;
            for (int k = 0; k < j->probes; k++) {
                uint64_t st = j->seed ^ (0xA24BAED4963EE407ull * (uint64_t)(((int64_t)s * 64 + l) * 4096 + k + 1));
                uint64_t bits = 0;
                int nb = 0;
                for (int64_t i = 0; i < L->act_n; i++) {
                    if (nb == 0)
                        bits = sens_splitmix(&st), nb = 64;
                    v[i] = (bits & 1) ? 1.0 : -1.0;
                    bits >>= 1, nb--;
                }
                grad_act_hvp(m, w, grad_theta0(m), L->act_tensor, j->xs + s * in_n, j->targets + s * tn, v, hv,
                             tmp);
                for (int64_t i = 0; i < L->act_n; i++)
                    acc += v[i] * hv[i];
            }
            j->per_sample[(int64_t)s * j->r->nlayers + l] = acc / j->probes;
        }
    grad_work_free(w);
    free(v), free(hv), free(tmp);
    return NULL;
}

void sens_act_traces(const GradModel *m, const double *xs, const double *targets, int n, int probes,
                     const SensOptions *opt, SensResult *r)
{
    const Graph *g = grad_graph(m);
    int nl = r->nlayers;
    if (probes < 1 || n < 1 || nl < 1)
        return;
    for (int l = 0; l < nl; l++) {
        SensLayer *L = &r->layers[l];
        L->act_tensor = g->nodes[L->node].in[0];
        if (g->tensors[L->act_tensor].kind == TK_CONST)
            L->act_tensor = -1; /* a constant input has no activation sensitivity */
        L->act_n = L->act_tensor >= 0 ? ir_numel(&g->tensors[L->act_tensor]) : 0;
    }
    int nt = opt->threads > 0 ? opt->threads : 1;
    nt = nt < n ? nt : n;
    double *per = xcalloc((size_t)n * nl, sizeof *per);
    SensActJob *jobs = xcalloc((size_t)nt, sizeof *jobs);
    pthread_t *tids = xcalloc((size_t)nt, sizeof *tids);
    int *started = xcalloc((size_t)nt, sizeof *started);
    for (int t = 0; t < nt; t++) {
        SensActJob *j = &jobs[t];
        j->m = m, j->xs = xs, j->targets = targets, j->n = n, j->probes = probes;
        j->nthreads = nt, j->index = t, j->r = r, j->seed = opt->seed, j->per_sample = per;
    }
    for (int t = 1; t < nt; t++)
        started[t] = pthread_create(&tids[t], NULL, sens_act_thread, &jobs[t]) == 0;
    sens_act_thread(&jobs[0]);
    for (int t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(tids[t], NULL);
        else
            sens_act_thread(&jobs[t]);
    }
    for (int l = 0; l < nl; l++) {
        double s1 = 0.0, s2 = 0.0;
        for (int s = 0; s < n; s++) {
            double x = per[(int64_t)s * nl + l];
            s1 += x, s2 += x * x;
        }
        double mean = s1 / n, var = n > 1 ? (s2 - n * mean * mean) / (n - 1) : 0.0;
        r->layers[l].act_trace = mean;
        r->layers[l].act_se = var > 0 ? sqrt(var / n) : 0.0;
    }
    free(per), free(jobs), free(tids), free(started);
}

void sens_progress_bar(void *ctx, int done, int max)
{
    (void)ctx;
    int width = 30, fill = max > 0 ? done * width / max : width;
    fprintf(stderr, "\rsensitivity: [%.*s%*s] %d/%d probes", fill,
            "##############################", width - fill, "", done, max);
}

/* ---- targets ---- */

double *sens_read_targets(const char *path, const Graph *g, GradLoss *lossp, int pick_loss, int need,
                          int count, char *err, size_t errlen)
{
    TensorFile tf = {0};
    if (tf_read(path, &tf, err, errlen) != 0)
        return NULL;
    if (pick_loss)
        *lossp = tf.type == TF_F32 || tf.type == TF_F64 ? GRAD_LOSS_MSE : GRAD_LOSS_XENT;
    GradLoss loss = *lossp;
    int64_t tn = loss == GRAD_LOSS_XENT ? 1 : ir_numel(&g->tensors[g->outputs[0]]); /* grad_target_size */
    double *ts = NULL;
    int64_t nl = tf.count / tn;
    if (loss == GRAD_LOSS_XENT && tf.type != TF_I64 && tf.type != TF_I32)
        snprintf(err, errlen, "%s: expected int64 class labels, found dtype %s", path, tf_type_name(tf.type));
    else if (loss == GRAD_LOSS_MSE && tf.type != TF_F32 && tf.type != TF_F64)
        snprintf(err, errlen, "%s: expected float targets for --loss mse, found dtype %s", path,
                 tf_type_name(tf.type));
    else if (nl * tn != tf.count || nl < need)
        snprintf(err, errlen,
                 "%s: expected at least %d labels of %lld value(s) (one per calibration input), found %lld values",
                 path, need, (long long)tn, (long long)tf.count);
    else if (loss == GRAD_LOSS_XENT) {
        int64_t *lab = tf_to_int64(&tf), k = ir_numel(&g->tensors[g->outputs[0]]);
        ts = xmalloc((size_t)count * sizeof *ts);
        for (int i = 0; i < count && ts; i++) {
            if (lab[i] < 0 || lab[i] >= k) {
                snprintf(err, errlen, "%s: label #%d is %lld, outside the %lld classes of the output", path, i,
                         (long long)lab[i], (long long)k);
                free(ts);
                ts = NULL;
            } else
                ts[i] = (double)lab[i];
        }
        free(lab);
    } else {
        float *v = tf_to_float(&tf);
        ts = xmalloc((size_t)(count * tn) * sizeof *ts);
        for (int64_t i = 0; i < count * tn; i++)
            ts[i] = v[i];
        free(v);
    }
    tf_free(&tf);
    return ts;
}

/* ---- reading `shiftc sensitivity --json` back ---- */

static const cJSON *json_member(const cJSON *o, const char *key, int number)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return v && (number ? cJSON_IsNumber(v) : cJSON_IsString(v)) ? v : NULL;
}

int sens_read_json(const char *path, const Graph *g, SensResult *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t len = 0, cap = 0, got;
    char chunk[65536];
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + got + 1 > cap) {
            cap = (len + got + 1) * 2;
            text = xrealloc(text, cap);
        }
        memcpy(text + len, chunk, got);
        len += got;
    }
    fclose(f);
    cJSON *root = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    const cJSON *layers = root ? cJSON_GetObjectItemCaseSensitive(root, "layers") : NULL;
    if (!cJSON_IsArray(layers)) {
        snprintf(err, errlen, "%s: not the output of 'shiftc sensitivity --json' (no \"layers\" array)", path);
        cJSON_Delete(root);
        return -1;
    }
    int nw = 0;
    for (int i = 0; i < g->nnodes; i++)
        nw += ir_op_is_weighted(g->nodes[i].op) || ir_op_is_recurrent(g->nodes[i].op);
    r->layers = xcalloc((size_t)(nw ? nw : 1), sizeof *r->layers);
    int rc = -1;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        int rnn = ir_op_is_recurrent(n->op);
        if (!ir_op_is_weighted(n->op) && !rnn)
            continue;
        const cJSON *item = NULL, *it;
        cJSON_ArrayForEach(it, layers)
        {
            const cJSON *name = json_member(it, "name", 0);
            if (name && strcmp(name->valuestring, n->name) == 0)
                item = it;
        }
        /* LSTM/GRU: W and R together, as sens_hutchinson counts them */
        int64_t nparams = ir_numel(&g->tensors[n->in[1]]) + (rnn ? ir_numel(&g->tensors[n->in[2]]) : 0);
        const cJSON *params = item ? json_member(item, "params", 1) : NULL;
        const cJSON *trace = item ? json_member(item, "trace", 1) : NULL;
        if (!item || !params || !trace) {
            snprintf(err, errlen, "%s: no layer \"%s\" with params and trace (was it made from this model?)", path,
                     n->name);
            goto done;
        }
        if ((int64_t)params->valuedouble != nparams) {
            snprintf(err, errlen, "%s: layer \"%s\" has %.0f weights there but %lld in the model", path, n->name,
                     params->valuedouble, (long long)nparams);
            goto done;
        }
        SensLayer *L = &r->layers[r->nlayers++];
        L->node = i;
        L->param = -1;
        L->param_r = -1;
        L->n = nparams;
        L->trace = trace->valuedouble;
        const cJSON *se = json_member(item, "stderr", 1), *at = json_member(item, "act_trace", 1);
        L->se = se ? se->valuedouble : 0.0;
        L->act_tensor = -1;
        if (at) {
            const cJSON *ase = json_member(item, "act_stderr", 1);
            L->act_tensor = n->in[0];
            L->act_n = ir_numel(&g->tensors[n->in[0]]);
            L->act_trace = at->valuedouble;
            L->act_se = ase ? ase->valuedouble : 0.0;
        }
        for (int fi = 0; fi < sens_nformats(); fi++)
            L->omega[fi] = L->trace / (double)L->n * sens_node_qerr2(g, n, (WeightFormat)(fi + 1), NULL);
    }
    if (r->nlayers == 0) {
        snprintf(err, errlen, "%s: the model has no Conv, Dense, LSTM or GRU weights", path);
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc != 0)
        sens_result_free(r);
    return rc;
}
