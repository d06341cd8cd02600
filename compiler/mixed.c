/* The precision stage of compile and eval (mixed.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "formats.h"
#include "mixed.h"
#include "report.h"
#include "util.h"

/* "int4,nhot2" -> formats; "4,8" -> bits. */
static int parse_formats(const char *cmd, const char *text, Mixed *m)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *f = strtok(buf, ","); f; f = strtok(NULL, ",")) {
        WeightFormat w;
        if (fmt_parse(f, &w) != 0) {
            char list[512];
            fmt_list(list, sizeof list);
            fprintf(stderr, "shiftc %s: --candidates: unknown weight format '%s' (expected some of: %s)\n", cmd, f,
                    list);
            return -1;
        }
        for (int i = 0; i < m->nformats; i++)
            if (m->formats[i] == w) {
                fprintf(stderr, "shiftc %s: --candidates: '%s' is listed twice\n", cmd, f);
                return -1;
            }
        m->formats[m->nformats++] = w;
    }
    if (m->nformats == 0) {
        fprintf(stderr, "shiftc %s: --candidates is empty\n", cmd);
        return -1;
    }
    return 0;
}

static int parse_bits(const char *cmd, const char *text, Mixed *m)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *f = strtok(buf, ","); f; f = strtok(NULL, ",")) {
        int b = atoi(f);
        char again[8];
        snprintf(again, sizeof again, "%d", b);
        if ((b != 4 && b != 8 && b != 16) || strcmp(again, f) != 0 || m->nact_bits == 3) {
            fprintf(stderr, "shiftc %s: --act-candidates expects some of 4, 8, 16 separated by commas, got '%s'\n",
                    cmd, text);
            return -1;
        }
        for (int i = 0; i < m->nact_bits; i++)
            if (m->act_bits[i] == b) {
                fprintf(stderr, "shiftc %s: --act-candidates: %d is listed twice\n", cmd, b);
                return -1;
            }
        m->act_bits[m->nact_bits++] = b;
    }
    return 0;
}

/* "unrolled,mac" -> kernel styles. */
static int parse_kernels(const char *cmd, const char *text, Mixed *m)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *f = strtok(buf, ","); f; f = strtok(NULL, ",")) {
        KernelStyle k;
        if (ir_kernel_parse(f, &k) != 0 || m->nkernels == 2) {
            fprintf(stderr, "shiftc %s: --kernel-candidates expects unrolled, mac or both separated by a comma, got "
                            "'%s'\n", cmd, text);
            return -1;
        }
        for (int i = 0; i < m->nkernels; i++)
            if (m->kernels[i] == k) {
                fprintf(stderr, "shiftc %s: --kernel-candidates: '%s' is listed twice\n", cmd, f);
                return -1;
            }
        m->kernels[m->nkernels++] = k;
    }
    if (m->nkernels == 0) {
        fprintf(stderr, "shiftc %s: --kernel-candidates is empty\n", cmd);
        return -1;
    }
    return 0;
}

int mixed_parse(CliCommand *cmd, Mixed *m)
{
    memset(m, 0, sizeof *m);
    m->limit = INFINITY;
    m->chosen = -1;
    m->refined.best = -1; /* not refined */
    m->budget_text = cli_opt(cmd, "budget")->value;
    m->policy_path = cli_opt(cmd, "policy")->value;
    CliOption *pa = cli_opt(cmd, "policy-arg");
    for (int i = 0; i < pa->nvalues; i++) {
        if (!strchr(pa->values[i], '=')) {
            fprintf(stderr, "shiftc %s: --policy-arg expects KEY=VALUE, got '%s'\n", cmd->name, pa->values[i]);
            return -1;
        }
        m->policy_args[m->npolicy_args++] = pa->values[i];
    }
    const char *cands = cli_opt(cmd, "candidates")->value;
    const char *acts = cli_opt(cmd, "act-candidates")->value;
    const char *kerns = cli_opt(cmd, "kernel-candidates")->value;
    m->calib_labels = cli_opt(cmd, "calib-labels")->value;
    m->sens_path = cli_opt(cmd, "sensitivity")->value;
    m->report_dir = cli_opt(cmd, "report")->value;
    if ((cands && parse_formats(cmd->name, cands, m) != 0) || (acts && parse_bits(cmd->name, acts, m) != 0) ||
        (kerns && parse_kernels(cmd->name, kerns, m) != 0))
        return -1;
    if (cli_int(cmd, "sens-samples", 1, 1000000, 200, &m->samples) ||
        cli_int(cmd, "probes", 1, 100000, 100, &m->probes) || cli_int(cmd, "seed", 0, 0x7fffffffL, 0, &m->seed) ||
        cli_int(cmd, "report-points", 0, 1000, 6, &m->report_points) || cli_int(cmd, "refine", 0, 1000, 8, &m->refine))
        return -1;
    char err[512];
    if (m->budget_text && budget_parse(m->budget_text, &m->budget, err, sizeof err) != 0) {
        fprintf(stderr, "shiftc %s: --%s\n", cmd->name, err);
        return -1;
    }
    m->active = m->budget_text || m->policy_path;
    if (!m->active && (cands || acts || kerns || m->report_dir || m->npolicy_args || m->sens_path)) {
        fprintf(stderr, "shiftc %s: --candidates, --act-candidates, --kernel-candidates, --sensitivity, --policy-arg "
                        "and --report belong to the precision search: add --budget or --policy\n", cmd->name);
        return -1;
    }
    if (m->active && cli_opt(cmd, "weights")->value) {
        fprintf(stderr, "shiftc %s: --weights sets one format for every layer; with --budget or --policy use "
                        "--candidates to limit the formats the search picks from\n", cmd->name);
        return -1;
    }
    return 0;
}

/* Targets for the Hessian: the given labels (int: cross-entropy, float:
 * MSE), or the float model's own top-1 on each sample.  Creates *gm for the
 * loss; returns a malloc'ed array or NULL (printed). */
static double *hessian_targets(Mixed *m, Graph *g, GradModel **gm, const float *calib, int n)
{
    char err[1024];
    GradLoss loss = GRAD_LOSS_XENT;
    double *ts = NULL;
    if (m->calib_labels) {
        ts = sens_read_targets(m->calib_labels, g, &loss, 1, n, n, err, sizeof err);
        if (!ts) {
            fprintf(stderr, "shiftc: %s\n", err);
            return NULL;
        }
    }
    *gm = grad_model_new(g, loss);
    if (!*gm) {
        fprintf(stderr, "shiftc: %s: %s\n", m->model, g->err);
        free(ts);
        return NULL;
    }
    if (ts)
        return ts;
    float **vals = ir_interp_alloc(g);
    const Tensor *in = &g->tensors[g->inputs[0]], *out = &g->tensors[g->outputs[0]];
    int64_t in_n = ir_numel(in), out_n = ir_numel(out);
    ts = xmalloc((size_t)n * sizeof *ts);
    for (int s = 0; s < n; s++) {
        memcpy(vals[g->inputs[0]], calib + (int64_t)s * in_n, (size_t)in_n * sizeof(float));
        if (ir_interp_run(g, vals) != 0) {
            fprintf(stderr, "shiftc: %s: %s\n", m->model, g->err);
            free(ts);
            ir_interp_free(g, vals);
            return NULL;
        }
        ts[s] = (double)argmax_f(vals[g->outputs[0]], out_n);
    }
    ir_interp_free(g, vals);
    return ts;
}

static int run_sensitivity(Mixed *m, Graph *g, const float *calib, int ncalib)
{
    if (m->sens_path) {
        char err[1024];
        if (sens_read_json(m->sens_path, g, &m->sens, err, sizeof err) != 0) {
            fprintf(stderr, "shiftc: %s\n", err);
            return -1;
        }
        return 0;
    }
    int n = ncalib < m->samples ? ncalib : (int)m->samples;
    GradModel *gm = NULL;
    double *ts = hessian_targets(m, g, &gm, calib, n);
    if (!ts) {
        grad_model_free(gm);
        return -1;
    }
    int64_t in_n = ir_numel(&g->tensors[g->inputs[0]]);
    double *xs = xmalloc((size_t)(n * in_n) * sizeof *xs);
    for (int64_t i = 0; i < n * in_n; i++)
        xs[i] = calib[i];
    SensOptions so = {0};
    so.probes = (int)m->probes;
    so.tol = 1e-3;
    so.seed = (uint64_t)m->seed;
    so.threads = 2;
    so.recurrent = 1;
    int tty = isatty(2);
    if (tty)
        so.progress = sens_progress_bar;
    int rc = sens_hutchinson(gm, xs, ts, n, &so, &m->sens);
    if (tty)
        fprintf(stderr, "\n");
    if (rc != 0)
        fprintf(stderr, "shiftc: %s: the model has no Conv, Dense, LSTM or GRU weights to choose a precision for\n", m->model);
    else if (m->nact_bits > 1) {
        if (tty)
            fprintf(stderr, "sensitivity: activation traces...");
        sens_act_traces(gm, xs, ts, n, 4, &so, &m->sens);
        if (tty)
            fprintf(stderr, " done\n");
    }
    free(xs), free(ts);
    grad_model_free(gm);
    return rc;
}

static void human(double v, CostKind k, char *buf, size_t len)
{
    if (k == COST_FLASH || k == COST_RAM)
        snprintf(buf, len, v >= 10240 ? "%.1f KiB" : "%.0f bytes", v >= 10240 ? v / 1024 : v);
    else if (k == COST_BITS)
        snprintf(buf, len, "%.0f bits", v);
    else
        snprintf(buf, len, v >= 1e6 ? "%.3g M" : "%.0f", v >= 1e6 ? v / 1e6 : v);
}

/* before + "flash" + mid + "11.5 KiB": the frontier's cap, for messages */
static void cap_text(const Frontier *f, const char *before, const char *mid, char *buf, size_t len)
{
    char v[64];
    human(f->cap, f->cap_kind, v, sizeof v);
    snprintf(buf, len, "%s%s%s%s", before, cost_kind_name(f->cap_kind), mid, v);
}

int mixed_choose(Mixed *m, Graph *g, const Target *t, const float *calib, int ncalib)
{
    if (!m->active)
        return 0;
    char err[4096];
    if (ir_calibrate(g, calib, ncalib) != 0) {
        fprintf(stderr, "shiftc: %s: %s\n", m->model, g->err);
        return -1;
    }
    if (m->policy_path) {
        m->policy = policy_load(m->policy_path, m->policy_args, m->npolicy_args, err, sizeof err);
        if (!m->policy) {
            fprintf(stderr, "shiftc: %s\n", err);
            return -1;
        }
        const char *pb = policy_budget(m->policy);
        if (!m->budget_text && pb) {
            if (budget_parse(pb, &m->budget, err, sizeof err) != 0) {
                fprintf(stderr, "shiftc: %s: %s\n", m->policy_path, err);
                return -1;
            }
            m->budget_text = pb;
        }
    }
    if (!m->budget_text) {
        m->budget.kind = COST_FLASH;
        m->budget.value = INFINITY;
        m->budget.cap_kind = COST_COUNT;
    }
    if (run_sensitivity(m, g, calib, ncalib) != 0)
        return -1;
    /* every node's own act bits are the default candidate */
    int def_bits = g->nodes[m->sens.layers[0].node].prec.act_bits;
    if (m->nact_bits == 0)
        m->act_bits[m->nact_bits++] = def_bits;
    SearchOptions so = {m->nformats ? m->formats : NULL, m->nformats, m->act_bits, m->nact_bits,
                        m->nkernels ? m->kernels : NULL, m->nkernels};
    if (search_build(&m->space, g, t, &m->sens, &so, err, sizeof err) != 0) {
        fprintf(stderr, "shiftc: %s: %s\n", m->model, err);
        return -1;
    }
    budget_restrict(&m->space, &m->budget);
    if (m->policy && policy_constrain(m->policy, &m->space, err, sizeof err) != 0) {
        fprintf(stderr, "shiftc: %s\n", err);
        return -1;
    }
    if (search_frontier_capped(&m->space, m->budget.kind, m->budget.cap_kind, budget_cap_limit(&m->space, &m->budget),
                               &m->frontier, err, sizeof err) != 0) {
        fprintf(stderr, "shiftc: %s: budget %s cannot be met on %s: %s%s\n", m->model,
                m->budget_text ? m->budget_text : "none", t->name, err,
                m->budget.ram > 0 ? " (the ram= limit excludes every candidate of that layer)" : "");
        return -1;
    }
    m->limit = budget_limit(&m->space, &m->budget);
    m->chosen = frontier_pick(&m->frontier, m->limit);
    if (m->chosen < 0) {
        char need[64];
        const FrontierPoint *p0 = &m->frontier.points[0];
        if (m->budget.kind == COST_BITS)
            snprintf(need, sizeof need, "bits=%.3f", p0->cost / (double)m->space.params);
        else
            snprintf(need, sizeof need, "%s=%.0f", cost_kind_name(m->budget.kind), ceil(p0->cost));
        char have[64];
        human(p0->cost, m->budget.kind, have, sizeof have);
        char within[96] = "every layer at its cheapest candidate";
        if (m->frontier.cap_kind < COST_COUNT)
            cap_text(&m->frontier, "within the ", " cap of ", within, sizeof within);
        fprintf(stderr, "shiftc: %s: budget %s cannot be met on %s: the smallest %s any allowed assignment needs is "
                        "%s (%s); the smallest feasible budget is %s\n",
                m->model, m->budget_text, t->name, cost_kind_name(m->budget.kind), have, within, need);
        return -1;
    }
    int pick = -1;
    if (m->policy && policy_choose(m->policy, &m->space, &m->frontier, m->limit, &pick, err, sizeof err) != 0) {
        fprintf(stderr, "shiftc: %s\n", err);
        return -1;
    }
    m->chosen = pick >= 0 ? pick : m->chosen;
    m->choice = m->frontier.points[m->chosen].choice;
    /* a policy's pick is final; without a budget there is nothing to trade */
    if (pick < 0 && isfinite(m->limit) && m->refine > 0) {
        if (refine_choose(&m->space, &m->frontier, m->limit, (int)m->refine, g, m->model, calib, ncalib,
                          &m->refined) != 0)
            return -1;
        if (m->refined.best >= 0)
            m->choice = m->refined.e[m->refined.best].choice;
    }
    search_apply(&m->space, m->choice, g);
    return 0;
}

/* The applied assignment's frontier point, or -1 when the refinement
 * picked a uniform assignment off the frontier. */
static int applied_point(const Mixed *m)
{
    if (m->refined.best >= 0)
        return m->refined.e[m->refined.best].frontier_index;
    return m->chosen;
}

/* What picked the applied assignment: the label and who picked it. */
static void applied_label(const Mixed *m, char *buf, size_t len, const char **by)
{
    if (m->refined.best >= 0) {
        refine_label(&m->refined.e[m->refined.best], buf, len);
        *by = "refinement";
    } else {
        snprintf(buf, len, "frontier point %d", m->chosen);
        *by = m->policy && m->chosen != frontier_pick(&m->frontier, m->limit) ? "policy" : "omega";
    }
}

static void print_refinement(const Mixed *m, FILE *out, int json)
{
    const Refinement *r = &m->refined;
    if (json) {
        if (r->best < 0) {
            fprintf(out, ", \"refine\": null");
            return;
        }
        fprintf(out, ", \"refine\": {\"metric\": \"%s\", \"samples\": %d, \"picked\": %d, \"candidates\": [",
                r->metric, r->nsamples, r->best);
        for (int i = 0; i < r->n; i++) {
            const RefineEntry *e = &r->e[i];
            fprintf(out, "%s{\"frontier_point\": ", i ? ", " : "");
            if (e->frontier_index >= 0)
                fprintf(out, "%d, \"uniform\": null", e->frontier_index);
            else
                fprintf(out, "null, \"uniform\": \"%s\"", fmt_name(e->uniform));
            fprintf(out, ", \"cost\": %.9g, \"omega\": %.9g, \"divergence\": %.9g}", e->cost, e->omega,
                    e->divergence);
        }
        fprintf(out, "]}");
        return;
    }
    if (r->best < 0)
        return;
    fprintf(out, "  refined on %d calibration inputs: %s from the float model's outputs (least wins)\n", r->nsamples,
            strcmp(r->metric, "kl") == 0 ? "mean KL divergence" : "mean squared error");
    for (int i = 0; i < r->n; i++) {
        const RefineEntry *e = &r->e[i];
        char lab[64], c[64];
        refine_label(e, lab, sizeof lab);
        human(e->cost, m->frontier.kind, c, sizeof c);
        fprintf(out, "  %c %-20s %s %-12s omega %-11.4g %s %.6g\n", i == r->best ? '*' : ' ', lab,
                cost_kind_name(m->frontier.kind), c, e->omega, r->metric, e->divergence);
    }
}

void mixed_print(const Mixed *m, FILE *out, int json)
{
    if (!m->active || m->chosen < 0)
        return;
    const SearchSpace *s = &m->space;
    const int *choice = m->choice;
    double tot[COST_COUNT], omega, objective = 0;
    search_totals(s, choice, tot, &omega);
    for (int i = 0; i < s->nlayers; i++)
        objective += s->layers[i].cand[choice[i]].objective;
    char label[64];
    const char *by;
    applied_label(m, label, sizeof label, &by);
    if (json) {
        fprintf(out, ", \"search\": {\"budget\": ");
        if (m->budget_text)
            json_string(out, m->budget_text);
        else
            fprintf(out, "null");
        fprintf(out, ", \"kind\": \"%s\", \"limit\": ", cost_kind_name(m->frontier.kind));
        if (isfinite(m->limit))
            fprintf(out, "%.9g", m->limit);
        else
            fprintf(out, "null");
        if (m->frontier.cap_kind < COST_COUNT)
            fprintf(out, ", \"cap_kind\": \"%s\", \"cap\": %.9g", cost_kind_name(m->frontier.cap_kind), m->frontier.cap);
        fprintf(out, ", \"policy\": ");
        if (m->policy_path)
            json_string(out, m->policy_path);
        else
            fprintf(out, "null");
        fprintf(out, ", \"target\": \"%s\", \"frontier_points\": %d, \"chosen\": ", s->target->name,
                m->frontier.npoints);
        if (applied_point(m) >= 0)
            fprintf(out, "%d", applied_point(m));
        else
            fprintf(out, "null");
        fprintf(out, ", \"picked\": \"%s\", \"picked_by\": \"%s\"", label, by);
        print_refinement(m, out, 1);
        fprintf(out, ", \"omega\": %.9g, \"objective\": %.9g, \"average_bits\": %.6f, \"cost\": {", omega,
                objective, tot[COST_BITS] / (double)s->params);
        for (int k = 0; k < COST_COUNT; k++)
            fprintf(out, "%s\"%s\": %.9g", k ? ", " : "", cost_kind_name((CostKind)k), tot[k]);
        fprintf(out, "}, \"layers\": [");
        for (int i = 0; i < s->nlayers; i++) {
            const SearchLayer *L = &s->layers[i];
            const Candidate *c = &L->cand[choice[i]];
            fprintf(out, "%s{\"name\": ", i ? ", " : "");
            json_string(out, L->name);
            fprintf(out, ", \"op\": \"%s\", \"params\": %lld, \"macs\": %lld, \"trace\": %.9g, \"weights\": \"%s\", "
                         "\"act_bits\": %d, \"kernel\": \"%s\", \"omega\": %.9g, \"terms\": %lld, \"cost\": {",
                    L->op, (long long)L->params, (long long)L->macs, L->trace, fmt_name(c->weights), c->act_bits,
                    ir_kernel_name(c->kernel), c->omega, (long long)c->terms);
            for (int k = 0; k < COST_COUNT; k++)
                fprintf(out, "%s\"%s\": %.9g", k ? ", " : "", cost_kind_name((CostKind)k), c->cost[k]);
            fprintf(out, "}}");
        }
        fprintf(out, "]}");
        return;
    }
    char lim[64] = "none";
    if (isfinite(m->limit))
        human(m->limit, m->frontier.kind, lim, sizeof lim);
    char cap[96] = "";
    if (m->frontier.cap_kind < COST_COUNT)
        cap_text(&m->frontier, ", ", " cap ", cap, sizeof cap);
    fprintf(out, "precision search on %s: budget %s (%s limit %s%s)%s%s; frontier of %d points over %s; chosen: %s "
                 "(by %s)\n",
            s->target->name, m->budget_text ? m->budget_text : "none", cost_kind_name(m->frontier.kind), lim, cap,
            m->policy_path ? ", policy " : "", m->policy_path ? m->policy_path : "", m->frontier.npoints,
            cost_kind_name(m->frontier.kind), label, by);
    fprintf(out, "  %-18s %-6s %8s %11s %-8s %4s %-9s %11s %9s %12s\n", "layer", "op", "params", "trace/n", "weights",
            "act", "kernel", "omega", "flash", "instructions");
    for (int i = 0; i < s->nlayers; i++) {
        const SearchLayer *L = &s->layers[i];
        const Candidate *c = &L->cand[choice[i]];
        fprintf(out, "  %-18.18s %-6s %8lld %11.4g %-8s %4d %-9s %11.4g %9.0f %12.0f\n", L->name, L->op,
                (long long)L->params, L->trace / (double)L->params, fmt_name(c->weights), c->act_bits,
                ir_kernel_name(c->kernel), c->omega, c->cost[COST_FLASH],
                c->cost[COST_INSTRUCTIONS]);
    }
    fprintf(out, "  %-18s %-6s %8lld %11s %-8s %4s %-9s %11.4g %9.0f %12.0f  (predicted, rest of the model "
                 "included)\n",
            "total", "", (long long)s->params, "", "", "", "", omega, tot[COST_FLASH], tot[COST_INSTRUCTIONS]);
    fprintf(out, "  average weight bits %.3f, BOPs %.4g, peak layer RAM %.0f bytes\n", tot[COST_BITS] / (double)s->params,
            tot[COST_BOPS], tot[COST_RAM]);
    print_refinement(m, out, 0);
}

int mixed_report(Mixed *m, Graph *g, MixedAccuracy acc, void *ctx, double float_accuracy)
{
    if (!m->active || !m->report_dir || m->chosen < 0)
        return 0;
    const SearchSpace *s = &m->space;
    const Frontier *f = &m->frontier;
    int tty = isatty(2);
    double *facc = xmalloc((size_t)f->npoints * sizeof *facc);
    for (int p = 0; p < f->npoints; p++)
        facc[p] = NAN;
    /* uniform assignments: every candidate format at the first act width */
    ReportPoint *uni = xcalloc(WF_COUNT, sizeof *uni);
    int nuni = 0, total = 0;
    int *choice = xmalloc((size_t)s->nlayers * sizeof *choice);
    const SearchLayer *L0 = &s->layers[0];
    int measure = acc ? 1 : 0;
    /* which frontier points to measure: the chosen one and up to
       report_points - 1 others spread evenly over the frontier */
    int *sample = xcalloc((size_t)f->npoints, sizeof *sample);
    int point = applied_point(m);
    if (measure && m->report_points > 0) {
        if (point >= 0)
            sample[point] = 1;
        int k = (int)m->report_points - 1;
        for (int i = 0; i < k && f->npoints > 1; i++)
            sample[(int)((double)i * (f->npoints - 1) / (k > 1 ? k - 1 : 1) + 0.5)] = 1;
    }
    for (int p = 0; p < f->npoints; p++)
        total += sample[p];
    total += measure && point < 0;
    for (int j = 0; j < L0->ncand; j++)
        if (L0->cand[j].act_bits == m->act_bits[0])
            total += measure;
    int done = 0;
    for (int j = 0; j < L0->ncand; j++) {
        const Candidate *c0 = &L0->cand[j];
        if (c0->act_bits != m->act_bits[0])
            continue;
        if (search_uniform(s, c0->weights, c0->act_bits, 0, choice) != 0)
            continue;
        double tot[COST_COUNT], omega;
        search_totals(s, choice, tot, &omega);
        ReportPoint *u = &uni[nuni++];
        u->cost = tot[f->kind];
        u->omega = omega;
        u->label = fmt_name(c0->weights);
        u->accuracy = NAN;
        if (measure) {
            search_apply(s, choice, g);
            u->accuracy = acc(ctx, g);
            if (tty)
                fprintf(stderr, "\rreport: measuring accuracy %d/%d", ++done, total);
        }
    }
    for (int p = 0; p < f->npoints; p++)
        if (sample[p]) {
            search_apply(s, f->points[p].choice, g);
            facc[p] = acc(ctx, g);
            if (tty)
                fprintf(stderr, "\rreport: measuring accuracy %d/%d", ++done, total);
        }
    /* a refined choice off the frontier: a point of its own */
    FrontierPoint off = {0};
    char off_label[64] = "";
    double off_acc = NAN;
    if (point < 0) {
        const RefineEntry *e = &m->refined.e[m->refined.best];
        off.cost = e->cost, off.omega = e->omega, off.choice = e->choice;
        for (int i = 0; i < s->nlayers; i++)
            off.objective += s->layers[i].cand[e->choice[i]].objective;
        char lab[48];
        refine_label(e, lab, sizeof lab);
        snprintf(off_label, sizeof off_label, "%s (refinement)", lab);
        if (measure) {
            search_apply(s, e->choice, g);
            off_acc = acc(ctx, g);
            if (tty)
                fprintf(stderr, "\rreport: measuring accuracy %d/%d", ++done, total);
        }
    }
    if (tty && measure)
        fprintf(stderr, "\n");
    search_apply(s, m->choice, g);
    ReportInput in = {0};
    in.model = m->model;
    in.target = s->target->name;
    in.space = s;
    in.frontier = f;
    in.budget = m->limit;
    in.budget_text = m->budget_text;
    in.chosen = point;
    in.applied = point < 0 ? &off : NULL;
    in.applied_accuracy = off_acc;
    in.applied_label = off_label;
    in.frontier_accuracy = facc;
    in.float_accuracy = float_accuracy;
    in.uniform = uni;
    in.nuniform = nuni;
    in.policy = m->policy_path;
    char err[1024];
    int rc = report_write(m->report_dir, &in, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "shiftc: %s\n", err);
    else if (tty)
        fprintf(stderr, "report: %s/index.html\n", m->report_dir);
    free(facc), free(uni), free(choice), free(sample);
    return rc;
}

void mixed_free(Mixed *m)
{
    frontier_free(&m->frontier);
    search_free(&m->space);
    sens_result_free(&m->sens);
    refine_free(&m->refined);
    policy_free(m->policy);
    m->policy = NULL;
}
