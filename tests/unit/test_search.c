/* Unit tests of the precision search (compiler/search.c): the frontier is
 * exact (brute force over every assignment agrees at every budget), ties
 * make layers choose alike, disallowed candidates are never chosen, and
 * budgets parse with their units and fail clearly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
 * INFINITY); honours ties and allowed. */
static double brute(const SearchSpace *s, CostKind k, double limit)
{
    int nl = s->nlayers, nc = s->layers[0].ncand;
    int *idx = xcalloc((size_t)nl, sizeof *idx);
    double best = INFINITY;
    for (;;) {
        int ok = 1;
        double cost = k == COST_FLASH ? s->base.flash : 0, obj = 0;
        for (int i = 0; i < nl && ok; i++) {
            const Candidate *c = &s->layers[i].cand[idx[i]];
            ok = c->allowed && idx[i] == idx[s->layers[i].group];
            cost += c->cost[k];
            obj += c->objective;
        }
        if (ok && cost <= limit && obj < best)
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
    assert_true(b.value == 1000);
    static const char *const bad[][2] = {
        {"flash", "KIND=AMOUNT"},           {"speed=3", "unknown kind 'speed'"},
        {"flash=-3", "not a positive"},     {"flash=12XB", "not a positive"},
        {"bits=3,flash=2K", "one summed"},  {"flash=0", "not a positive"},
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frontier_exact),
        cmocka_unit_test(test_frontier_ties_and_allowed),
        cmocka_unit_test(test_budget_parse),
        cmocka_unit_test(test_budget_ram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
