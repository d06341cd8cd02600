/* The mixed-precision search: candidates, the exact Pareto frontier, and
 * budgets (search.h). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"
#include "formats.h"
#include "search.h"
#include "util.h"

static const char *const kind_names[COST_COUNT] = {"flash", "instructions", "bits", "bops", "ram"};
static const char *const kind_units[COST_COUNT] = {"bytes", "instructions", "bits", "BOPs", "bytes"};

const char *cost_kind_name(CostKind k) { return k < COST_COUNT ? kind_names[k] : "?"; }
const char *cost_kind_unit(CostKind k) { return k < COST_COUNT ? kind_units[k] : "?"; }

int cost_kind_parse(const char *name, CostKind *k)
{
    for (int i = 0; i < COST_COUNT; i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *k = (CostKind)i;
            return 0;
        }
    return -1;
}

/* ---- the graph around a weighted layer ---- */

/* The single-input, non-weighted ops a layer's output passes through on its
 * way to the next weighted layer (pools, reshapes, activations). */
static int passes_through(const Node *n)
{
    return !ir_op_is_weighted(n->op) && n->nin >= 1 && n->nout == 1 && n->op != OP_ADD && n->op != OP_CONCAT;
}

/* The weighted node that tensor t flows into through pass-through nodes
 * only, or -1 (several consumers, an Add, a graph output...). */
static int next_weighted(const Graph *g, int t)
{
    for (int hops = 0; hops < g->nnodes; hops++) {
        int users[2];
        if (ir_consumers(g, t, users, 2) != 1)
            return -1;
        const Node *u = &g->nodes[users[0]];
        if (ir_op_is_weighted(u->op))
            return u->in[0] == t ? users[0] : -1;
        if (!passes_through(u))
            return -1;
        t = u->out[0];
    }
    return -1;
}

/* The weighted node whose output reaches tensor t through pass-through
 * nodes only, or -1. */
static int prev_weighted(const Graph *g, int t)
{
    for (int hops = 0; hops < g->nnodes && t >= 0; hops++) {
        int p = g->tensors[t].producer;
        if (p < 0)
            return -1;
        const Node *n = &g->nodes[p];
        if (ir_op_is_weighted(n->op))
            return p;
        if (!passes_through(n))
            return -1;
        t = n->in[0];
    }
    return -1;
}

static int layer_of_node(const SearchSpace *s, int node)
{
    for (int i = 0; i < s->nlayers; i++)
        if (s->layers[i].node == node)
            return i;
    return -1;
}

/* Bits of the activation feeding node n (its producer's, 8 for an input). */
static int input_bits(const Graph *g, const Node *n)
{
    int p = g->tensors[n->in[0]].producer;
    return p >= 0 ? g->nodes[p].prec.act_bits : n->prec.act_bits;
}

static int64_t layer_macs(const Graph *g, const Node *n)
{
    if (ir_op_is_recurrent(n->op)) /* every step: W x and R h */
        return g->tensors[n->in[0]].dims[0] * (ir_numel(&g->tensors[n->in[1]]) + ir_numel(&g->tensors[n->in[2]]));
    const Tensor *w = &g->tensors[n->in[1]], *y = &g->tensors[n->out[0]];
    int64_t per_out = ir_numel(w) / w->dims[0]; /* weights per output value */
    return per_out * ir_numel(y);
}

/* ---- building ---- */

int search_build(SearchSpace *s, Graph *g, const Target *t, const SensResult *sens, const SearchOptions *o,
                 char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->g = g;
    s->target = t;
    WeightFormat all[WF_COUNT];
    int nf = 0;
    if (o && o->formats)
        for (int i = 0; i < o->nformats; i++)
            all[nf++] = o->formats[i];
    else
        for (int f = 1; f < WF_COUNT; f++)
            all[nf++] = (WeightFormat)f;
    static const int default_bits[] = {8};
    const int *bits = o && o->act_bits ? o->act_bits : default_bits;
    int nb = o && o->act_bits ? o->nact_bits : 1;
    static const KernelStyle default_kernels[] = {KS_UNROLLED};
    const KernelStyle *kernels = o && o->kernels ? o->kernels : default_kernels;
    int nk = o && o->kernels ? o->nkernels : 1;
    if (nf == 0 || nb == 0 || nk == 0) {
        snprintf(err, errlen, "no candidate formats, activation bits or kernel styles");
        return -1;
    }

    s->layers = xcalloc((size_t)(sens->nlayers > 0 ? sens->nlayers : 1), sizeof *s->layers);
    for (int l = 0; l < sens->nlayers; l++) {
        const SensLayer *sl = &sens->layers[l];
        Node *n = &g->nodes[sl->node];
        int rnn = ir_op_is_recurrent(n->op);
        if (!g->tensors[n->in[1]].data || (rnn && !g->tensors[n->in[2]].data)) {
            snprintf(err, errlen, "node %d (%s \"%s\"): the weights are not constant", sl->node, ir_op_name(n->op),
                     n->name);
            search_free(s);
            return -1;
        }
        SearchLayer *L = &s->layers[s->nlayers++];
        L->node = sl->node;
        L->name = n->name;
        L->op = ir_op_name(n->op);
        L->params = sl->n;
        L->macs = layer_macs(g, n);
        L->trace = sl->trace;
        L->trace_se = sl->se;
        L->group = s->nlayers - 1;
        s->params += L->params;

        /* activation part of Omega: the output's trace as the next
           layer's input, and the output's range */
        /* (an LSTM/GRU keeps its own output width: its Y, Y_h and Y_c
           feed different layers) */
        int next = rnn ? -1 : next_weighted(g, n->out[0]);
        const SensLayer *ns = NULL;
        for (int k = 0; k < sens->nlayers && next >= 0; k++)
            if (sens->layers[k].node == next && sens->layers[k].act_tensor >= 0)
                ns = &sens->layers[k];
        L->act_trace = ns ? ns->act_trace : 0.0;

        int keep_bits = 0;
        for (int b = 0; b < nb; b++)
            if (bits[b] == n->prec.act_bits)
                keep_bits = b;
        L->cand = xcalloc((size_t)(nf * nb * nk), sizeof *L->cand);
        for (int f = 0; f < nf; f++) {
            FmtCount count = {0, 0, 0, 0, 0};
            double q2 = sens_node_qerr2(g, n, all[f], &count);
            for (int b = 0; b < nb; b++) {
                /* without the next layer's activation trace Omega cannot
                   rank activation widths: only the node's own (--act-bits)
                   is a candidate, or the first listed when it is not */
                if (!ns && b != keep_bits)
                    continue;
                double omega_a = 0;
                if (ns) {
                    const Tensor *x = &g->tensors[ns->act_tensor];
                    double range = clip_range(x, n->prec.act_clip, n->prec.act_pct, bits[b]);
                    double levels = x->nonneg ? ldexp(1.0, bits[b]) - 1 : ldexp(1.0, bits[b] - 1) - 1;
                    double delta = range / levels;
                    omega_a = L->act_trace * delta * delta / 12.0;
                }
                int wbits = fmt_bits(all[f]);
                for (int ki = 0; ki < nk; ki++) {
                    /* the mac style computes the very same numbers (same
                       Omega), at its own cost; no LSTM/GRU mac kernel */
                    if (kernels[ki] == KS_TABLE && rnn)
                        continue;
                    Candidate *c = &L->cand[L->ncand++];
                    c->weights = all[f];
                    c->act_bits = bits[b];
                    c->kernel = kernels[ki];
                    c->terms = count.terms;
                    c->omega_w = L->trace / (double)L->params * q2;
                    c->omega_a = omega_a;
                    c->omega = c->omega_w + c->omega_a;
                    c->objective = c->omega;
                    LayerCost lc = cost_layer(t, g, n, kernels[ki], &count, wbits, bits[b], input_bits(g, n));
                    c->cost[COST_FLASH] = lc.flash;
                    c->cost[COST_INSTRUCTIONS] = lc.instructions;
                    c->cost[COST_BITS] = (double)wbits * (double)L->params;
                    c->cost[COST_BOPS] = lc.bops;
                    c->cost[COST_RAM] = lc.ram;
                    c->allowed = 1;
                }
            }
        }
    }
    if (s->nlayers == 0) {
        snprintf(err, errlen, "the model has no Conv, Dense, LSTM or GRU layer to choose a precision for");
        search_free(s);
        return -1;
    }
    s->base = cost_base(t, g);

    /* the weighted producers of one Add share a group (residual branches) */
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->op != OP_ADD)
            continue;
        int first = -1;
        for (int j = 0; j < n->nin; j++) {
            int l = layer_of_node(s, prev_weighted(g, n->in[j]));
            if (l < 0)
                continue;
            if (first < 0)
                first = l;
            else if (search_tie(s, first, l, err, errlen) != 0) {
                search_free(s);
                return -1;
            }
        }
    }
    return 0;
}

void search_free(SearchSpace *s)
{
    for (int i = 0; i < s->nlayers; i++)
        free(s->layers[i].cand);
    free(s->layers);
    memset(s, 0, sizeof *s);
}

static int same_candidates(const SearchLayer *a, const SearchLayer *b)
{
    if (a->ncand != b->ncand)
        return 0;
    for (int j = 0; j < a->ncand; j++)
        if (a->cand[j].weights != b->cand[j].weights || a->cand[j].act_bits != b->cand[j].act_bits ||
            a->cand[j].kernel != b->cand[j].kernel)
            return 0;
    return 1;
}

int search_tie(SearchSpace *s, int a, int b, char *err, size_t errlen)
{
    if (a < 0 || b < 0 || a >= s->nlayers || b >= s->nlayers) {
        snprintf(err, errlen, "tie: no layer %d", a < 0 || a >= s->nlayers ? a : b);
        return -1;
    }
    if (!same_candidates(&s->layers[a], &s->layers[b])) {
        snprintf(err, errlen, "layers '%s' and '%s' cannot be tied: their candidates differ", s->layers[a].name,
                 s->layers[b].name);
        return -1;
    }
    int ga = s->layers[a].group, gb = s->layers[b].group;
    int to = ga < gb ? ga : gb, from = ga < gb ? gb : ga;
    for (int i = 0; i < s->nlayers; i++)
        if (s->layers[i].group == from)
            s->layers[i].group = to;
    return 0;
}

/* ---- budgets ---- */

static int parse_amount(const char *v, double *out)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || !isfinite(x) || x < 0)
        return -1;
    double mul = 1;
    if (strcmp(end, "") == 0 || strcmp(end, "B") == 0)
        mul = 1;
    else if (strcmp(end, "K") == 0 || strcmp(end, "k") == 0 || strcmp(end, "KB") == 0 || strcmp(end, "kB") == 0)
        mul = 1e3;
    else if (strcmp(end, "M") == 0 || strcmp(end, "MB") == 0)
        mul = 1e6;
    else if (strcmp(end, "G") == 0 || strcmp(end, "GB") == 0)
        mul = 1e9;
    else if (strcmp(end, "KiB") == 0 || strcmp(end, "Ki") == 0)
        mul = 1024;
    else if (strcmp(end, "MiB") == 0 || strcmp(end, "Mi") == 0)
        mul = 1024.0 * 1024;
    else
        return -1;
    *out = x * mul;
    return 0;
}

int budget_parse(const char *text, Budget *b, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    b->kind = COST_COUNT;
    b->cap_kind = COST_COUNT;
    char buf[256];
    if (strlen(text) >= sizeof buf) {
        snprintf(err, errlen, "budget '%.40s...' is too long", text);
        return -1;
    }
    strcpy(buf, text);
    for (char *item = strtok(buf, ","); item; item = strtok(NULL, ",")) {
        char *eq = strchr(item, '=');
        CostKind k;
        if (!eq) {
            snprintf(err, errlen, "budget '%s': expected KIND=AMOUNT (flash=24KiB, instructions=1.5M, bits=3.5, bops=2G, ram=8KiB)", text);
            return -1;
        }
        *eq = 0;
        if (cost_kind_parse(item, &k) != 0) {
            snprintf(err, errlen, "budget '%s': unknown kind '%s' (expected flash, instructions, bits, bops or ram)", text,
                     item);
            return -1;
        }
        double v;
        if (parse_amount(eq + 1, &v) != 0 || v <= 0) {
            snprintf(err, errlen, "budget '%s': '%s' is not a positive amount (e.g. 24KiB, 1.5M, 3.5)", text, eq + 1);
            return -1;
        }
        if (k == COST_BITS && v > 32) {
            snprintf(err, errlen, "budget '%s': %g average weight bits is more than any format has (32, float)",
                     text, v);
            return -1;
        }
        if (k == COST_RAM) {
            b->ram = v;
        } else if (k == b->kind || k == b->cap_kind) {
            snprintf(err, errlen, "budget '%s': %s is given twice", text, cost_kind_name(k));
            return -1;
        } else if (b->cap_kind != COST_COUNT) {
            snprintf(err, errlen, "budget '%s': at most two summed costs (the first is searched, the second a cap), "
                                  "plus ram", text);
            return -1;
        } else if (b->kind != COST_COUNT) {
            b->cap_kind = k;
            b->cap_value = v;
        } else {
            b->kind = k;
            b->value = v;
        }
    }
    if (b->kind == COST_COUNT) {
        if (b->ram <= 0) {
            snprintf(err, errlen, "budget '%s' is empty", text);
            return -1;
        }
        b->kind = COST_FLASH; /* ram alone: least Omega under the RAM limit */
        b->value = INFINITY;
    }
    return 0;
}

double budget_limit(const SearchSpace *s, const Budget *b)
{
    return b->kind == COST_BITS ? b->value * (double)s->params : b->value;
}

double budget_cap_limit(const SearchSpace *s, const Budget *b)
{
    if (b->cap_kind >= COST_COUNT)
        return INFINITY;
    return b->cap_kind == COST_BITS ? b->cap_value * (double)s->params : b->cap_value;
}

void budget_restrict(SearchSpace *s, const Budget *b)
{
    if (b->ram <= 0)
        return;
    for (int i = 0; i < s->nlayers; i++)
        for (int j = 0; j < s->layers[i].ncand; j++)
            if (s->layers[i].cand[j].cost[COST_RAM] > b->ram)
                s->layers[i].cand[j].allowed = 0;
}

/* ---- the frontier ---- */

/* One point while the frontier is built: totals and how it was reached
 * (the previous stage's point and this group's option). */
typedef struct Partial {
    double cost, objective, omega;
    double cap; /* the capped cost's total (0 without a cap) */
    int parent, option;
} Partial;

static int cmp_partial(const void *a, const void *b)
{
    const Partial *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    if (x->objective != y->objective)
        return x->objective < y->objective ? -1 : 1;
    if (x->cap != y->cap)
        return x->cap < y->cap ? -1 : 1;
    /* equal: keep the earliest-built, so results do not depend on qsort */
    if (x->parent != y->parent)
        return x->parent < y->parent ? -1 : 1;
    return x->option < y->option ? -1 : x->option > y->option;
}

/* Sorts and drops dominated points in place; returns the new count. */
static int prune(Partial *p, int n)
{
    qsort(p, (size_t)n, sizeof *p, cmp_partial);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || p[i].objective < p[k - 1].objective)
            p[k++] = p[i];
    return k;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* prune with a capped cost: a point is dropped when another has no more
 * cost, objective and capped cost (the first of equals stays).  In cost
 * order, a point is dominated iff an earlier one has objective <= its
 * own and cap <= its own: a Fenwick tree over the objectives' ranks keeps
 * the least cap of each prefix, O(n log n). */
static int prune_capped(Partial *p, int n)
{
    qsort(p, (size_t)n, sizeof *p, cmp_partial);
    double *obj = xmalloc((size_t)n * sizeof *obj), *tree = xmalloc((size_t)(n + 1) * sizeof *tree);
    for (int i = 0; i < n; i++)
        obj[i] = p[i].objective;
    qsort(obj, (size_t)n, sizeof *obj, cmp_double);
    for (int i = 0; i <= n; i++)
        tree[i] = INFINITY;
    int k = 0;
    for (int i = 0; i < n; i++) {
        /* 1-based rank: the number of objectives <= this one */
        int lo = 0, hi = n;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (obj[mid] <= p[i].objective)
                lo = mid + 1;
            else
                hi = mid;
        }
        double least = INFINITY;
        for (int r = lo; r > 0; r -= r & -r)
            least = tree[r] < least ? tree[r] : least;
        if (least <= p[i].cap)
            continue;
        for (int r = lo; r <= n; r += r & -r)
            tree[r] = p[i].cap < tree[r] ? p[i].cap : tree[r];
        p[k++] = p[i];
    }
    free(obj), free(tree);
    return k;
}

/* What every assignment pays of cost kind k outside the weighted layers. */
static double base_cost(const SearchSpace *s, CostKind k)
{
    return k == COST_FLASH ? s->base.flash : k == COST_INSTRUCTIONS ? s->base.instructions : 0.0;
}

int search_frontier(const SearchSpace *s, CostKind kind, Frontier *f, char *err, size_t errlen)
{
    return search_frontier_capped(s, kind, COST_COUNT, INFINITY, f, err, errlen);
}

int search_frontier_capped(const SearchSpace *s, CostKind kind, CostKind cap_kind, double cap, Frontier *f,
                           char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->cap_kind = cap_kind;
    f->cap = cap;
    if (kind == COST_RAM || kind >= COST_COUNT || cap_kind == COST_RAM || cap_kind == kind) {
        snprintf(err, errlen, "the frontier is over a summed cost (flash, instructions, bits or bops), capped by "
                              "another or none");
        return -1;
    }
    int capped = cap_kind < COST_COUNT;
    /* groups, in order of their first layer */
    int *groups = xmalloc((size_t)s->nlayers * sizeof *groups), ng = 0;
    for (int i = 0; i < s->nlayers; i++)
        if (s->layers[i].group == i)
            groups[ng++] = i;

    Partial **stage = xcalloc((size_t)ng + 1, sizeof *stage);
    int *count = xcalloc((size_t)ng + 1, sizeof *count);
    stage[0] = xcalloc(1, sizeof **stage);
    stage[0][0].cost = base_cost(s, kind);
    stage[0][0].cap = capped ? base_cost(s, cap_kind) : 0.0;
    stage[0][0].parent = stage[0][0].option = -1;
    count[0] = 1;
    int rc = -1;
    /* rest[gi]: the least capped cost groups gi.. can add (0 without a
       cap); a partial over cap - rest[gi + 1] can never fit */
    double *rest = xcalloc((size_t)ng + 1, sizeof *rest);
    for (int gi = ng - 1; gi >= 0 && capped; gi--) {
        double least = INFINITY;
        const SearchLayer *L = &s->layers[groups[gi]];
        for (int j = 0; j < L->ncand; j++) {
            double c = 0;
            int ok = 1;
            for (int m = groups[gi]; m < s->nlayers; m++)
                if (s->layers[m].group == groups[gi]) {
                    ok &= s->layers[m].cand[j].allowed;
                    c += s->layers[m].cand[j].cost[cap_kind];
                }
            if (ok && c < least)
                least = c;
        }
        rest[gi] = rest[gi + 1] + least;
    }
    for (int gi = 0; gi < ng; gi++) {
        int lead = groups[gi];
        const SearchLayer *L = &s->layers[lead];
        /* the group's options: sums over its members of allowed candidates */
        Partial *opt = xmalloc((size_t)L->ncand * sizeof *opt);
        int nopt = 0;
        for (int j = 0; j < L->ncand; j++) {
            Partial o = {0, 0, 0, 0, -1, j};
            int ok = 1;
            for (int m = lead; m < s->nlayers; m++) {
                if (s->layers[m].group != lead)
                    continue;
                const Candidate *c = &s->layers[m].cand[j];
                ok &= c->allowed;
                o.cost += c->cost[kind];
                o.objective += c->objective;
                o.omega += c->omega;
                o.cap += capped ? c->cost[cap_kind] : 0.0;
            }
            if (ok)
                opt[nopt++] = o;
        }
        if (nopt == 0) {
            snprintf(err, errlen, "layer '%s' has no allowed candidate left", L->name);
            free(opt);
            goto done;
        }
        nopt = capped ? prune_capped(opt, nopt) : prune(opt, nopt);
        if ((int64_t)count[gi] * nopt > SEARCH_MAX_PARTIALS) {
            snprintf(err, errlen, "the frontier grew past %d partial assignments at layer '%s' (a cap on a second "
                                  "cost keeps more of them): use fewer --candidates, or one budget",
                     SEARCH_MAX_PARTIALS, L->name);
            free(opt);
            goto done;
        }
        int n = count[gi] * nopt;
        Partial *next = xmalloc((size_t)n * sizeof *next);
        int k = 0;
        for (int p = 0; p < count[gi]; p++)
            for (int j = 0; j < nopt; j++) {
                const Partial *a = &stage[gi][p];
                if (capped && a->cap + opt[j].cap + rest[gi + 1] > cap)
                    continue;
                next[k].cost = a->cost + opt[j].cost;
                next[k].objective = a->objective + opt[j].objective;
                next[k].omega = a->omega + opt[j].omega;
                next[k].cap = a->cap + opt[j].cap;
                next[k].parent = p;
                next[k].option = opt[j].option;
                k++;
            }
        count[gi + 1] = capped ? prune_capped(next, k) : prune(next, k);
        stage[gi + 1] = next;
        free(opt);
        if (count[gi + 1] == 0) {
            char need[64];
            snprintf(need, sizeof need, cap_kind == COST_BITS ? "%.0f bits" : "%.0f", ceil(rest[0] + stage[0][0].cap));
            snprintf(err, errlen, "no assignment keeps %s within %.0f: the least any allowed assignment needs is %s",
                     cost_kind_name(cap_kind), cap, need);
            goto done;
        }
    }
    /* with a cap, the frontier proper: least objective per cost */
    if (capped)
        count[ng] = prune(stage[ng], count[ng]);
    f->npoints = count[ng];
    f->points = xcalloc((size_t)f->npoints, sizeof *f->points);
    for (int p = 0; p < f->npoints; p++) {
        FrontierPoint *fp = &f->points[p];
        const Partial *last = &stage[ng][p];
        fp->cost = last->cost;
        fp->objective = last->objective;
        fp->omega = last->omega;
        fp->choice = xmalloc((size_t)s->nlayers * sizeof *fp->choice);
        int at = p;
        for (int gi = ng; gi > 0; gi--) {
            const Partial *q = &stage[gi][at];
            for (int m = 0; m < s->nlayers; m++)
                if (s->layers[m].group == groups[gi - 1])
                    fp->choice[m] = q->option;
            at = q->parent;
        }
    }
    rc = 0;
done:
    for (int gi = 0; gi <= ng; gi++)
        free(stage[gi]);
    free(stage), free(count), free(groups), free(rest);
    return rc;
}

void frontier_free(Frontier *f)
{
    for (int p = 0; p < f->npoints; p++)
        free(f->points[p].choice);
    free(f->points);
    memset(f, 0, sizeof *f);
}

int frontier_pick(const Frontier *f, double limit)
{
    int best = -1;
    for (int p = 0; p < f->npoints; p++)
        if (f->points[p].cost <= limit)
            best = p; /* ascending cost, descending objective: the last fits best */
    return best;
}

/* ---- applying ---- */

void search_apply(const SearchSpace *s, const int *choice, Graph *g)
{
    for (int i = 0; i < s->nlayers; i++) {
        const Candidate *c = &s->layers[i].cand[choice[i]];
        Node *n = &g->nodes[s->layers[i].node];
        n->prec.weights = c->weights;
        n->prec.act_bits = c->act_bits;
        n->prec.kernel = c->kernel;
    }
    /* the nodes between weighted layers carry their producer's width */
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        if (ir_op_is_weighted(n->op) || !passes_through(n))
            continue;
        int p = g->tensors[n->in[0]].producer;
        if (p >= 0)
            n->prec.act_bits = g->nodes[p].prec.act_bits;
    }
}

void search_totals(const SearchSpace *s, const int *choice, double cost[COST_COUNT], double *omega)
{
    cost[COST_FLASH] = s->base.flash;
    cost[COST_INSTRUCTIONS] = s->base.instructions;
    cost[COST_BITS] = 0;
    cost[COST_BOPS] = 0;
    cost[COST_RAM] = s->base.ram;
    *omega = 0;
    for (int i = 0; i < s->nlayers; i++) {
        const Candidate *c = &s->layers[i].cand[choice[i]];
        for (int k = 0; k < COST_RAM; k++)
            cost[k] += c->cost[k];
        if (c->cost[COST_RAM] > cost[COST_RAM])
            cost[COST_RAM] = c->cost[COST_RAM];
        *omega += c->omega;
    }
}

int search_uniform(const SearchSpace *s, WeightFormat w, int act_bits, int allowed_only, int *choice)
{
    for (int i = 0; i < s->nlayers; i++) {
        const SearchLayer *L = &s->layers[i];
        choice[i] = -1;
        for (int j = 0; j < L->ncand && choice[i] < 0; j++)
            if (L->cand[j].weights == w && L->cand[j].act_bits == act_bits && (!allowed_only || L->cand[j].allowed))
                choice[i] = j;
        if (choice[i] < 0)
            return -1;
    }
    return 0;
}
