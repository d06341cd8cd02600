/* Unit tests of the precision search (compiler/search.c): the frontier is
 * exact (brute force over every assignment agrees at every budget, also
 * with a cap on a second cost), ties
 * make layers choose alike, disallowed candidates are never chosen, and
 * budgets parse with their units and fail clearly.  On a real graph (Conv,
 * depthwise Conv, Dense): search_build offers the mac kernel style only when
 * SearchOptions.kernels lists it, each mac candidate with its unrolled
 * sibling's Omega and the cost model's KS_TABLE costs, and the frontier over
 * both styles is still exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"
#include "search.h"
#include "util.h"

static uint32_t rng = 12345u;
static double urand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (double)(rng >> 8) / (double)(1u << 24);
}

/* A hand-made space: nl layers of nc candidates with random costs and
 * Omega (cheaper candidates tend to have larger Omega, as in practice). */
static void make_space(SearchSpace *s, int nl, int nc)
{
    memset(s, 0, sizeof *s);
    s->nlayers = nl;
    s->layers = xcalloc((size_t)nl, sizeof *s->layers);
    s->base.flash = 100;
    for (int i = 0; i < nl; i++) {
        SearchLayer *L = &s->layers[i];
        L->name = "layer";
        L->op = "Dense";
        L->params = 10;
        L->group = i;
        L->ncand = nc;
        L->cand = xcalloc((size_t)nc, sizeof *L->cand);
        for (int j = 0; j < nc; j++) {
            Candidate *c = &L->cand[j];
            c->weights = (WeightFormat)(1 + j % (WF_COUNT - 1));
            c->act_bits = 8;
            c->cost[COST_FLASH] = floor(10 + 100 * urand() * (j + 1));
            c->cost[COST_BITS] = 10.0 * (j + 2);
            c->omega = c->objective = urand() / (j + 1);
            c->allowed = 1;
        }
        s->params += L->params;
    }
}

/* Least objective over every assignment with total cost <= limit (or
 * INFINITY) and total cost of cap_kind <= cap (COST_COUNT: no cap);
 * honours ties and allowed. */
static double brute_capped(const SearchSpace *s, CostKind k, double limit, CostKind cap_kind, double cap)
{
    int nl = s->nlayers, nc = s->layers[0].ncand;
    int *idx = xcalloc((size_t)nl, sizeof *idx);
    double best = INFINITY;
    for (;;) {
        int ok = 1;
        double cost = k == COST_FLASH ? s->base.flash : k == COST_INSTRUCTIONS ? s->base.instructions : 0, obj = 0;
        double capped = cap_kind == COST_FLASH ? s->base.flash : 0;
        for (int i = 0; i < nl && ok; i++) {
            const Candidate *c = &s->layers[i].cand[idx[i]];
            ok = c->allowed && idx[i] == idx[s->layers[i].group];
            cost += c->cost[k];
            capped += cap_kind < COST_COUNT ? c->cost[cap_kind] : 0;
            obj += c->objective;
        }
        if (ok && cost <= limit && capped <= cap && obj < best)
            best = obj;
        int i = 0;
        while (i < nl && ++idx[i] == nc)
            idx[i++] = 0;
        if (i == nl)
            break;
    }
    free(idx);
    return best;
}

static double brute(const SearchSpace *s, CostKind k, double limit)
{
    return brute_capped(s, k, limit, COST_COUNT, INFINITY);
}

static void check_exact(SearchSpace *s, CostKind k)
{
    Frontier f;
    char err[256];
    assert_int_equal(search_frontier(s, k, &f, err, sizeof err), 0);
    assert_true(f.npoints >= 1);
    for (int p = 1; p < f.npoints; p++) {
        assert_true(f.points[p].cost >= f.points[p - 1].cost);
        assert_true(f.points[p].objective < f.points[p - 1].objective);
    }
    /* at every frontier cost and between them, the pick equals brute force */
    for (int p = 0; p < f.npoints; p++) {
        double limits[2] = {f.points[p].cost, f.points[p].cost + 0.5};
        for (int q = 0; q < 2; q++) {
            int pick = frontier_pick(&f, limits[q]);
            assert_true(pick >= 0);
            assert_true(fabs(f.points[pick].objective - brute(s, k, limits[q])) < 1e-12);
            /* the choice really has that cost and objective */
            double cost[COST_COUNT], omega;
            search_totals(s, f.points[pick].choice, cost, &omega);
            assert_true(fabs(cost[k] - f.points[pick].cost) < 1e-9);
            for (int i = 0; i < s->nlayers; i++) {
                int j = f.points[pick].choice[i];
                assert_true(s->layers[i].cand[j].allowed);
                assert_int_equal(j, f.points[pick].choice[s->layers[i].group]);
            }
        }
    }
    assert_int_equal(frontier_pick(&f, f.points[0].cost - 1), -1);
    assert_true(isinf(brute(s, k, f.points[0].cost - 1)));
    frontier_free(&f);
}

static void test_frontier_exact(void **state)
{
    (void)state;
    for (int trial = 0; trial < 20; trial++) {
        SearchSpace s;
        make_space(&s, 2 + trial % 4, 2 + trial % 5);
        check_exact(&s, COST_FLASH);
        check_exact(&s, COST_BITS);
        search_free(&s);
    }
}

/* With a cap on a second cost (the budget "bits=...,flash=..."): every
 * point keeps the cap and at every cost the pick equals brute force over
 * the assignments within the cap; a cap below every assignment fails. */
static void test_frontier_capped(void **state)
{
    (void)state;
    for (int trial = 0; trial < 24; trial++) {
        SearchSpace s;
        char err[256];
        make_space(&s, 2 + trial % 4, 2 + trial % 5);
        if (trial % 3 == 1)
            assert_int_equal(search_tie(&s, 0, 1, err, sizeof err), 0);
        if (trial % 3 == 2)
            s.layers[1].cand[0].allowed = 0;
        /* caps from below the least flash to above the most */
        double hi = s.base.flash;
        for (int i = 0; i < s.nlayers; i++) {
            double m = 0;
            for (int j = 0; j < s.layers[i].ncand; j++)
                m = s.layers[i].cand[j].cost[COST_FLASH] > m ? s.layers[i].cand[j].cost[COST_FLASH] : m;
            hi += m;
        }
        for (int q = 0; q <= 8; q++) {
            double cap = s.base.flash + (hi - s.base.flash) * q / 8.0;
            Frontier f;
            int rc = search_frontier_capped(&s, COST_BITS, COST_FLASH, cap, &f, err, sizeof err);
            if (isinf(brute_capped(&s, COST_BITS, INFINITY, COST_FLASH, cap))) {
                assert_int_equal(rc, -1); /* nothing fits */
                assert_non_null(strstr(err, "flash"));
                continue;
            }
            assert_int_equal(rc, 0);
            assert_true(f.npoints >= 1);
            for (int p = 0; p < f.npoints; p++) {
                double cost[COST_COUNT], omega;
                search_totals(&s, f.points[p].choice, cost, &omega);
                assert_true(cost[COST_FLASH] <= cap + 1e-9); /* base included */
                assert_true(fabs(cost[COST_BITS] - f.points[p].cost) < 1e-9);
                if (p > 0)
                    assert_true(f.points[p].cost >= f.points[p - 1].cost &&
                                f.points[p].objective < f.points[p - 1].objective);
                double limits[2] = {f.points[p].cost, f.points[p].cost + 5};
                for (int l = 0; l < 2; l++) {
                    int pick = frontier_pick(&f, limits[l]);
                    assert_true(pick >= 0);
                    assert_true(fabs(f.points[pick].objective -
                                     brute_capped(&s, COST_BITS, limits[l], COST_FLASH, cap)) < 1e-12);
                }
            }
            assert_true(isinf(brute_capped(&s, COST_BITS, f.points[0].cost - 1, COST_FLASH, cap)));
            frontier_free(&f);
        }
        search_free(&s);
    }
}

static void test_frontier_ties_and_allowed(void **state)
{
    (void)state;
    for (int trial = 0; trial < 10; trial++) {
        SearchSpace s;
        char err[256];
        make_space(&s, 4, 4);
        assert_int_equal(search_tie(&s, 1, 3, err, sizeof err), 0);
        assert_int_equal(s.layers[3].group, 1);
        s.layers[0].cand[trial % 4].allowed = 0;
        s.layers[2].cand[(trial + 1) % 4].allowed = 0;
        check_exact(&s, COST_FLASH);
        /* a layer with nothing allowed is an error naming it */
        for (int j = 0; j < 4; j++)
            s.layers[2].cand[j].allowed = 0;
        s.layers[2].name = "fc2";
        Frontier f;
        assert_int_equal(search_frontier(&s, COST_FLASH, &f, err, sizeof err), -1);
        assert_non_null(strstr(err, "fc2"));
        search_free(&s);
    }
}

static void test_budget_parse(void **state)
{
    (void)state;
    Budget b;
    char err[256];
    assert_int_equal(budget_parse("flash=24KiB", &b, err, sizeof err), 0);
    assert_int_equal(b.kind, COST_FLASH);
    assert_true(b.value == 24 * 1024.0);
    assert_int_equal(budget_parse("instructions=1.5M", &b, err, sizeof err), 0);
    assert_int_equal(b.kind, COST_INSTRUCTIONS);
    assert_true(b.value == 1.5e6);
    assert_int_equal(budget_parse("bits=3.5,ram=8KiB", &b, err, sizeof err), 0);
    assert_int_equal(b.kind, COST_BITS);
    assert_true(b.value == 3.5 && b.ram == 8192);
    assert_int_equal(budget_parse("bops=2G", &b, err, sizeof err), 0);
    assert_true(b.value == 2e9);
    assert_int_equal(budget_parse("flash=1000B", &b, err, sizeof err), 0);
    assert_true(b.value == 1000 && b.cap_kind == COST_COUNT);
    /* a second summed cost is a cap */
    assert_int_equal(budget_parse("instructions=380K,flash=11KiB,ram=4KiB", &b, err, sizeof err), 0);
    assert_true(b.kind == COST_INSTRUCTIONS && b.value == 380e3 && b.cap_kind == COST_FLASH &&
                b.cap_value == 11 * 1024.0 && b.ram == 4096);
    static const char *const bad[][2] = {
        {"flash", "KIND=AMOUNT"},           {"speed=3", "unknown kind 'speed'"},
        {"flash=-3", "not a positive"},     {"flash=12XB", "not a positive"},
        {"bits=3,flash=2K,bops=1G", "at most two summed"},  {"flash=0", "not a positive"},
        {"flash=3K,flash=2K", "flash is given twice"},
        {"bits=nan", "not a positive"},     {"flash=", "not a positive"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(budget_parse(bad[i][0], &b, err, sizeof err), -1);
        if (!strstr(err, bad[i][1]))
            fail_msg("budget '%s': error '%s' lacks '%s'", bad[i][0], err, bad[i][1]);
    }
    SearchSpace s;
    make_space(&s, 2, 2);
    assert_int_equal(budget_parse("bits=3", &b, err, sizeof err), 0);
    assert_true(budget_limit(&s, &b) == 3.0 * (double)s.params);
    assert_true(isinf(budget_cap_limit(&s, &b)));
    assert_int_equal(budget_parse("flash=2K,bits=3", &b, err, sizeof err), 0);
    assert_true(budget_cap_limit(&s, &b) == 3.0 * (double)s.params);
    search_free(&s);
}

static void test_budget_ram(void **state)
{
    (void)state;
    SearchSpace s;
    make_space(&s, 3, 3);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            s.layers[i].cand[j].cost[COST_RAM] = 100.0 * (j + 1);
    Budget b;
    char err[256];
    assert_int_equal(budget_parse("flash=1M,ram=250", &b, err, sizeof err), 0);
    budget_restrict(&s, &b);
    for (int i = 0; i < 3; i++)
        assert_int_equal(s.layers[i].cand[2].allowed, 0);
    check_exact(&s, COST_FLASH);
    search_free(&s);
}


/* ---- search_build on a real graph: kernel styles ---- */

static int cst(Graph *g, const char *name, int rank, const int64_t *dims)
{
    int t = ir_add_tensor(g, name, TK_CONST);
    Tensor *tt = &g->tensors[t];
    tt->rank = rank;
    memcpy(tt->dims, dims, (size_t)rank * sizeof *dims);
    int64_t n = ir_numel(tt);
    tt->data = xmalloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        tt->data[i] = (float)(urand() * 2 - 1);
    return t;
}

static int node(Graph *g, Op op, const char *name, int a, int b, int y)
{
    int k = ir_add_node(g, op, name, g->nnodes);
    Node *n = &g->nodes[k];
    n->in[0] = a, n->in[1] = b;
    n->nin = b >= 0 ? 2 : 1;
    n->out[0] = y;
    n->nout = 1;
    return k;
}

/* x [1,2,8,8] -> conv 2->4 3x3 pad 1 -> depthwise 3x3 pad 1 -> flatten ->
 * dense 256->5; a SensResult for its three weighted layers */
static Graph *styles_graph(SensResult *sens)
{
    Graph *g = ir_graph_new("styles");
    int x = ir_add_tensor(g, "x", TK_INPUT);
    int64_t xd[4] = {1, 2, 8, 8}, w1d[4] = {4, 2, 3, 3}, w2d[4] = {4, 1, 3, 3}, w3d[2] = {5, 256};
    g->tensors[x].rank = 4;
    memcpy(g->tensors[x].dims, xd, sizeof xd);
    g->inputs[g->ninputs++] = x;
    int w1 = cst(g, "w1", 4, w1d), w2 = cst(g, "w2", 4, w2d), w3 = cst(g, "w3", 2, w3d);
    int c1 = ir_add_tensor(g, "c1", TK_ACT), c2 = ir_add_tensor(g, "c2", TK_ACT);
    int fl = ir_add_tensor(g, "flat", TK_ACT), y = ir_add_tensor(g, "y", TK_ACT);
    int k = node(g, OP_CONV, "conv", x, w1, c1);
    for (int i = 0; i < 4; i++)
        g->nodes[k].a.pads[i] = 1;
    k = node(g, OP_CONV, "dw", c1, w2, c2);
    g->nodes[k].a.group = 4;
    for (int i = 0; i < 4; i++)
        g->nodes[k].a.pads[i] = 1;
    k = node(g, OP_RESHAPE, "flat", c2, -1, fl);
    g->nodes[k].a.flatten_axis = 1;
    node(g, OP_DENSE, "fc", fl, w3, y);
    g->outputs[g->noutputs++] = y;
    assert_int_equal(ir_infer_shapes(g), 0);
    memset(sens, 0, sizeof *sens);
    sens->layers = xcalloc(3, sizeof *sens->layers);
    static const int nodes[3] = {0, 1, 3};
    static const int64_t ns[3] = {72, 36, 1280};
    for (int l = 0; l < 3; l++) {
        SensLayer *sl = &sens->layers[sens->nlayers++];
        sl->node = nodes[l];
        sl->n = ns[l];
        sl->trace = 0.5 + l;
        sl->act_tensor = -1;
        sl->param_r = -1;
    }
    return g;
}

static void test_build_kernel_styles(void **state)
{
    (void)state;
    const Target *t = target_find("cortex-m4");
    SensResult sens;
    Graph *g = styles_graph(&sens);
    char err[256];
    static const WeightFormat fmts[3] = {WF_INT8, WF_INT4, WF_TERNARY};

    /* default: unrolled only */
    SearchSpace a;
    SearchOptions o = {fmts, 3, NULL, 0, NULL, 0};
    assert_int_equal(search_build(&a, g, t, &sens, &o, err, sizeof err), 0);
    for (int i = 0; i < a.nlayers; i++) {
        assert_int_equal(a.layers[i].ncand, 3);
        for (int j = 0; j < a.layers[i].ncand; j++)
            assert_int_equal(a.layers[i].cand[j].kernel, KS_UNROLLED);
    }

    /* unrolled and mac: every format twice, the mac one right after its
       unrolled sibling, same Omega, the KS_TABLE costs */
    static const KernelStyle both[2] = {KS_UNROLLED, KS_TABLE};
    SearchSpace b;
    o.kernels = both;
    o.nkernels = 2;
    assert_int_equal(search_build(&b, g, t, &sens, &o, err, sizeof err), 0);
    assert_int_equal(b.nlayers, 3);
    for (int i = 0; i < b.nlayers; i++) {
        const SearchLayer *L = &b.layers[i];
        const Node *n = &g->nodes[L->node];
        assert_int_equal(L->ncand, 6);
        for (int j = 0; j < 6; j += 2) {
            const Candidate *u = &L->cand[j], *m = &L->cand[j + 1];
            assert_int_equal(u->kernel, KS_UNROLLED);
            assert_int_equal(m->kernel, KS_TABLE);
            assert_int_equal(u->weights, m->weights);
            assert_true(u->omega == m->omega && u->objective == m->objective);
            /* unrolled costs as before */
            assert_true(u->cost[COST_FLASH] == a.layers[i].cand[j / 2].cost[COST_FLASH]);
            assert_true(u->cost[COST_INSTRUCTIONS] == a.layers[i].cand[j / 2].cost[COST_INSTRUCTIONS]);
            FmtCount cnt = {0, 0, 0, 0, 0};
            sens_node_qerr2(g, n, m->weights, &cnt);
            LayerCost lc = cost_layer(t, g, n, KS_TABLE, &cnt, fmt_bits(m->weights), 8, 8);
            assert_true(m->cost[COST_FLASH] == lc.flash && m->cost[COST_INSTRUCTIONS] == lc.instructions);
            /* the mac style's cost depends on the format only where a
               Dense table packs 4-bit codes (int4, ternary) two to a byte */
            int packs = n->op == OP_DENSE && m->weights != WF_INT8;
            assert_int_equal(cnt.over4 == 0, m->weights != WF_INT8);
            if (!packs) {
                assert_true(m->cost[COST_FLASH] == L->cand[1].cost[COST_FLASH]);
                assert_true(m->cost[COST_INSTRUCTIONS] == L->cand[1].cost[COST_INSTRUCTIONS]);
            } else {
                assert_true(m->cost[COST_FLASH] < 0.7 * L->cand[1].cost[COST_FLASH]);
            }
            assert_true(m->cost[COST_BITS] == u->cost[COST_BITS] && m->cost[COST_BOPS] == u->cost[COST_BOPS]);
        }
    }
    /* the frontier over both styles is exact */
    check_exact(&b, COST_FLASH);
    check_exact(&b, COST_INSTRUCTIONS);
    check_exact(&b, COST_BITS);
    /* uniform: the first candidate of the format (the listed order) */
    int choice[3];
    assert_int_equal(search_uniform(&b, WF_INT4, 8, 0, choice), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(b.layers[i].cand[choice[i]].kernel, KS_UNROLLED);

    /* mac alone */
    static const KernelStyle mac[1] = {KS_TABLE};
    SearchSpace c;
    o.kernels = mac;
    o.nkernels = 1;
    assert_int_equal(search_build(&c, g, t, &sens, &o, err, sizeof err), 0);
    for (int i = 0; i < c.nlayers; i++)
        for (int j = 0; j < c.layers[i].ncand; j++)
            assert_int_equal(c.layers[i].cand[j].kernel, KS_TABLE);
    /* search_apply writes the style into the graph */
    int pick[3] = {0, 1, 2};
    search_apply(&c, pick, g);
    for (int i = 0; i < 3; i++)
        assert_int_equal(g->nodes[c.layers[i].node].prec.kernel, KS_TABLE);

    /* an empty list is an error */
    o.nkernels = 0;
    SearchSpace d;
    assert_int_equal(search_build(&d, g, t, &sens, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "kernel"));

    search_free(&a);
    search_free(&b);
    search_free(&c);
    free(sens.layers);
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frontier_exact),
        cmocka_unit_test(test_frontier_capped),
        cmocka_unit_test(test_frontier_ties_and_allowed),
        cmocka_unit_test(test_budget_parse),
        cmocka_unit_test(test_budget_ram),
        cmocka_unit_test(test_build_kernel_styles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
