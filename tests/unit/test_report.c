/*
 * report.c: the page is written, has its plots, the chosen point and the
 * escaped layer names, is byte-identical when written twice, and survives
 * the edge cases (one point, no uniform points, no accuracy, equal or zero
 * costs, Omega = 0 on a log axis, huge and non-finite values, a bad chosen
 * index, an unwritable directory).
 *
 * SHIFTC_REPORT_KEEP=DIR writes every page under DIR (DIR/sample/index.html,
 * DIR/one/, DIR/zero/, DIR/huge/, DIR/many/, ...) and keeps them, to look at
 * them with tools/screenshot.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <math.h>

#include "formats.h"
#include "report.h"

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

/* Whether word occurs in s delimited by non-letters ("nan" from a printf of
 * NaN, but not "finance"). */
static int has_word(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(s, word); p; p = strstr(p + 1, word)) {
        int before = p > s && ((p[-1] | 32) >= 'a' && (p[-1] | 32) <= 'z');
        int after = (p[n] | 32) >= 'a' && (p[n] | 32) <= 'z';
        if (!before && !after)
            return 1;
    }
    return 0;
}

/* ---- a hand-made search space ---- */

static const WeightFormat FORMATS[] = {WF_INT2, WF_TERNARY, WF_INT3, WF_POT, WF_INT4, WF_NHOT2, WF_INT6, WF_INT8};
static const int FBITS[] = {2, 2, 3, 4, 4, 5, 6, 8};
#define NF ((int)(sizeof FORMATS / sizeof FORMATS[0]))

typedef struct Fixture {
    SearchSpace s;
    Frontier f;
    double facc[4096];
    ReportPoint uni[NF];
    char names[8][32];
} Fixture;

/* nl layers, each with NF candidates; Omega halves per extra bit and grows
 * with the layer's trace; flash grows with the bits. */
static void space_init(Fixture *x, int nl, const char *odd_name)
{
    static const char *const base_names[] = {"conv1", "conv2", "conv3", "fc1", "fc2", "res.conv", "head", "x"};
    static const int64_t P[] = {288, 4608, 9216, 36864, 650, 1200, 800, 100};
    memset(x, 0, sizeof *x);
    x->s.nlayers = nl;
    x->s.layers = calloc((size_t)nl, sizeof *x->s.layers);
    x->s.base.flash = 6100;
    x->s.base.instructions = 210000;
    x->s.base.ram = 4096;
    for (int i = 0; i < nl; i++) {
        SearchLayer *L = &x->s.layers[i];
        snprintf(x->names[i], sizeof x->names[i], "%s", i == 1 && odd_name ? odd_name : base_names[i % 8]);
        L->name = x->names[i];
        L->op = i < 3 ? "Conv" : "Dense";
        L->params = P[i % 8];
        L->macs = L->params * (i < 3 ? 196 : 1);
        L->trace = (double)L->params * (0.02 + 0.01 * i);
        L->group = i;
        L->ncand = NF;
        L->cand = calloc(NF, sizeof *L->cand);
        for (int j = 0; j < NF; j++) {
            Candidate *c = &L->cand[j];
            c->weights = FORMATS[j];
            c->act_bits = 8;
            c->kernel = KS_UNROLLED;
            c->omega = L->trace / (double)L->params * 0.5 * pow(0.25, FBITS[j]) * (1 + 0.1 * (j % 2)) *
                       (double)L->params * 0.01;
            c->objective = c->omega;
            c->terms = L->params * FBITS[j] / 3;
            c->cost[COST_FLASH] = 3.1 * (double)c->terms + 40;
            c->cost[COST_INSTRUCTIONS] = (double)(L->macs * FBITS[j]) / 3.0 + 100;
            c->cost[COST_BITS] = (double)(L->params * FBITS[j]);
            c->cost[COST_BOPS] = (double)(L->macs * FBITS[j] * 8);
            c->cost[COST_RAM] = 2048;
            c->allowed = 1;
        }
        x->s.params += L->params;
    }
    for (int k = 0; k < 4096; k++)
        x->facc[k] = NAN;
}

static void space_free(Fixture *x)
{
    for (int i = 0; i < x->s.nlayers; i++)
        free(x->s.layers[i].cand);
    free(x->s.layers);
    frontier_free(&x->f);
}

static void uniform_init(Fixture *x, int with_accuracy)
{
    for (int j = 0; j < NF; j++) {
        int *choice = malloc((size_t)x->s.nlayers * sizeof *choice);
        for (int i = 0; i < x->s.nlayers; i++)
            choice[i] = j;
        double tot[COST_COUNT], omega;
        search_totals(&x->s, choice, tot, &omega);
        x->uni[j].cost = tot[x->f.kind];
        x->uni[j].omega = omega;
        x->uni[j].label = fmt_name(FORMATS[j]);
        x->uni[j].accuracy = with_accuracy ? 0.905 - 0.6 * pow(0.45, FBITS[j]) : NAN;
        free(choice);
    }
}

static ReportInput input(Fixture *x, int chosen)
{
    ReportInput in = {0};
    in.model = "tests/fixtures/cnn.onnx";
    in.target = "cortex-m4";
    in.space = &x->s;
    in.frontier = &x->f;
    in.budget = NAN;
    in.chosen = chosen;
    in.frontier_accuracy = x->facc;
    in.float_accuracy = NAN;
    in.nuniform = 0;
    return in;
}

static void write_ok(const char *sub, const ReportInput *in)
{
    char err[512] = "";
    int rc = report_write(tmp_path(sub), in, err, sizeof err);
    if (rc != 0)
        fail_msg("report_write: %s", err);
}

static char *page_of(const char *sub)
{
    char p[600];
    snprintf(p, sizeof p, "%s/index.html", tmp_path(sub));
    return slurp(p, NULL);
}

/* The full page: bits budget, accuracy at a sample of points, a policy. */
static ReportInput sample(Fixture *x, CostKind kind)
{
    space_init(x, 5, "<b>&\"x\"");
    x->s.layers[4].group = 3; /* a tie, shown in the table */
    char err[256];
    assert_int_equal(search_frontier(&x->s, kind, &x->f, err, sizeof err), 0);
    assert_true(x->f.npoints > 5);
    double limit = kind == COST_BITS ? 4.0 * (double)x->s.params : x->f.points[x->f.npoints / 2].cost;
    int chosen = frontier_pick(&x->f, limit);
    assert_true(chosen >= 0);
    for (int k = 0; k < 6; k++) {
        int p = k * (x->f.npoints - 1) / 5;
        x->facc[p] = 0.905 - 0.4 * sqrt(x->f.points[p].omega / x->f.points[0].omega) * 0.3;
    }
    x->facc[chosen] = 0.9 - 0.4 * sqrt(x->f.points[chosen].omega / x->f.points[0].omega) * 0.3;
    uniform_init(x, 1);
    ReportInput in = input(x, chosen);
    in.budget = limit;
    in.budget_text = kind == COST_BITS ? "bits=4" : "flash=mid";
    in.float_accuracy = 0.912;
    in.uniform = x->uni;
    in.nuniform = NF;
    in.policy = "examples/policies/keep_first_last.lua";
    return in;
}

static void test_sample_page(void **state)
{
    (void)state;
    Fixture *x = malloc(sizeof *x);
    ReportInput in = sample(x, COST_BITS);
    write_ok("sample", &in);
    char *html = page_of("sample");
    assert_non_null(strstr(html, "<!DOCTYPE html>"));
    assert_non_null(strstr(html, "<svg"));
    assert_non_null(strstr(html, "Measured accuracy")); /* the second plot */
    assert_non_null(strstr(html, "chosen point"));       /* legend */
    assert_non_null(strstr(html, "#dc2626"));            /* the chosen marker */
    assert_non_null(strstr(html, "stroke-dasharray"));   /* budget line */
    assert_non_null(strstr(html, ">int4<"));             /* a uniform label */
    assert_non_null(strstr(html, "bits=4"));
    assert_non_null(strstr(html, "keep_first_last.lua"));
    assert_non_null(strstr(html, "tied to fc1"));
    assert_non_null(strstr(html, "&lt;b&gt;&amp;&quot;x&quot;"));
    assert_null(strstr(html, "<b>&"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    assert_false(has_word(html, "nan") || has_word(html, "inf"));
    /* one row per layer in the chosen table, the chosen row tagged */
    assert_non_null(strstr(html, "<span class=\"tag\">chosen</span>"));
    free(html);
    space_free(x);
    free(x);
}

static void test_deterministic(void **state)
{
    (void)state;
    for (CostKind k = COST_FLASH; k < COST_RAM; k++) {
        Fixture *x = malloc(sizeof *x);
        ReportInput in = sample(x, k);
        write_ok("a", &in);
        write_ok("b", &in);
        size_t na, nb;
        char pa[600], pb[600];
        snprintf(pa, sizeof pa, "%s/index.html", tmp_path("a"));
        snprintf(pb, sizeof pb, "%s/index.html", tmp_path("b"));
        char *a = slurp(pa, &na), *b = slurp(pb, &nb);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, na);
        free(a), free(b);
        space_free(x);
        free(x);
    }
}

/* One point, no uniform points, no accuracy, no budget. */
static void test_one_point(void **state)
{
    (void)state;
    Fixture *x = malloc(sizeof *x);
    space_init(x, 1, NULL);
    static int choice0[1] = {3};
    static FrontierPoint pt;
    pt = (FrontierPoint){.cost = 1234, .objective = 0.5, .omega = 0.5, .choice = choice0};
    Frontier f = {.kind = COST_FLASH, .npoints = 1, .points = &pt, .cap_kind = COST_COUNT};
    ReportInput in = input(x, 0);
    in.frontier = &f;
    in.frontier_accuracy = NULL;
    write_ok("one", &in);
    char *html = page_of("one");
    assert_non_null(strstr(html, "<svg"));
    assert_null(strstr(html, "Measured accuracy"));
    assert_false(has_word(html, "nan") || has_word(html, "inf"));
    free(html);
    for (int i = 0; i < x->s.nlayers; i++)
        free(x->s.layers[i].cand);
    free(x->s.layers);
    free(x);
}

/* Equal and zero costs, Omega = 0 next to large Omega (log axis), huge and
 * non-finite values, accuracy all NaN but float measured. */
static void test_degenerate_values(void **state)
{
    (void)state;
    Fixture *x = malloc(sizeof *x);
    space_init(x, 2, NULL);
    int c[3][2] = {{0, 0}, {1, 1}, {7, 7}};
    FrontierPoint pts[3] = {
        {0, 1e6, 1e6, c[0]},
        {0, 10, 10, c[1]},
        {0, 0, 0, c[2]},
    };
    Frontier f = {.kind = COST_INSTRUCTIONS, .npoints = 3, .points = pts, .cap_kind = COST_COUNT};
    ReportInput in = input(x, 2);
    in.frontier = &f;
    in.float_accuracy = 0.9;
    in.budget = 0;
    in.budget_text = "instructions=0";
    ReportPoint u[3] = {{0, 0, NAN, "int8"}, {0, INFINITY, NAN, NULL}, {NAN, NAN, NAN, "<i>"}};
    in.uniform = u;
    in.nuniform = 3;
    write_ok("zero", &in);
    char *html = page_of("zero");
    assert_non_null(strstr(html, "log scale"));
    assert_non_null(strstr(html, "&lt;i&gt;"));
    assert_false(has_word(html, "nan") || has_word(html, "inf"));
    free(html);

    /* huge costs and Omega */
    pts[0] = (FrontierPoint){1e300, 1e300, 1e300, c[0]};
    pts[1] = (FrontierPoint){1.5e300, 1e-300, 1e-300, c[1]};
    pts[2] = (FrontierPoint){INFINITY, 0, 0, c[2]};
    in.budget = 1.2e300;
    in.float_accuracy = NAN;
    x->facc[1] = 0.5;
    write_ok("huge", &in);
    html = page_of("huge");
    assert_non_null(strstr(html, "<svg"));
    assert_false(has_word(html, "nan"));
    free(html);

    /* spans below the smallest tick step */
    pts[0] = (FrontierPoint){1e-310, 3e-310, 3e-310, c[0]};
    pts[1] = (FrontierPoint){2e-310, 2e-310, 2e-310, c[1]};
    pts[2] = (FrontierPoint){3e-310, 1e-310, 1e-310, c[2]};
    in.budget = 2e-310;
    write_ok("tiny", &in);
    html = page_of("tiny");
    assert_false(has_word(html, "nan") || has_word(html, "inf"));
    free(html);

    /* every kind of cost, zero params (bits cannot be per weight) */
    x->s.params = 0;
    for (CostKind k = COST_FLASH; k < COST_COUNT; k++) {
        pts[0] = (FrontierPoint){5, 3, 3, c[0]};
        pts[1] = (FrontierPoint){5, 2, 2, c[1]};
        pts[2] = (FrontierPoint){5, 1, 1, c[2]};
        f.kind = k;
        in.budget = NAN;
        write_ok("kinds", &in);
    }
    for (int i = 0; i < x->s.nlayers; i++)
        free(x->s.layers[i].cand);
    free(x->s.layers);
    free(x);
}

/* A chosen index out of range, a choice out of range, an empty frontier,
 * no space at all: a page without the chosen point, no crash. */
static void test_bad_inputs(void **state)
{
    (void)state;
    Fixture *x = malloc(sizeof *x);
    space_init(x, 2, NULL);
    int c0[2] = {0, 0}, bad[2] = {0, 99};
    FrontierPoint pts[2] = {{100, 2, 2, c0}, {200, 1, 1, bad}};
    Frontier f = {.kind = COST_FLASH, .npoints = 2, .points = pts, .cap_kind = COST_COUNT};
    ReportInput in = input(x, 7);
    in.frontier = &f;
    write_ok("bad1", &in);
    char *html = page_of("bad1");
    assert_null(strstr(html, "Chosen assignment"));
    free(html);
    in.chosen = 1;
    write_ok("bad2", &in);
    in.chosen = -1;
    write_ok("bad3", &in);
    f.npoints = 0;
    in.chosen = 0;
    write_ok("empty", &in);
    in.space = NULL;
    f.npoints = 2;
    write_ok("nospace", &in);
    ReportInput none = {0};
    none.budget = NAN;
    none.float_accuracy = NAN;
    none.frontier = &f;
    none.chosen = 0;
    write_ok("nothing", &none);
    for (int i = 0; i < x->s.nlayers; i++)
        free(x->s.layers[i].cand);
    free(x->s.layers);
    free(x);
}

static void test_many_points(void **state)
{
    (void)state;
    Fixture *x = malloc(sizeof *x);
    space_init(x, 8, NULL);
    char err[256];
    assert_int_equal(search_frontier(&x->s, COST_FLASH, &x->f, err, sizeof err), 0);
    assert_true(x->f.npoints > 60);
    ReportInput in = input(x, x->f.npoints / 3);
    in.budget = x->f.points[x->f.npoints / 3].cost;
    write_ok("many", &in);
    char *html = page_of("many");
    assert_non_null(strstr(html, " points: the ends"));
    free(html);
    space_free(x);
    free(x);
}

static void test_errors(void **state)
{
    (void)state;
    Fixture *x = malloc(sizeof *x);
    space_init(x, 1, NULL);
    int c0[1] = {0};
    FrontierPoint pt = {1, 1, 1, c0};
    Frontier f = {.kind = COST_FLASH, .npoints = 1, .points = &pt, .cap_kind = COST_COUNT};
    ReportInput in = input(x, 0);
    in.frontier = &f;
    char err[512] = "";
    /* a file where the directory should be */
    FILE *p = fopen(tmp_path("file"), "w");
    assert_non_null(p);
    fclose(p);
    assert_int_equal(report_write(tmp_path("file"), &in, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a directory"));
    /* nested directories are created */
    write_ok("deep/er/dir", &in);
    free(x->s.layers[0].cand);
    free(x->s.layers);
    free(x);
}

static const char *keep_dir(void)
{
    const char *k = getenv("SHIFTC_REPORT_KEEP");
    return k && *k ? k : NULL;
}

static int setup(void **state)
{
    (void)state;
    if (keep_dir()) {
        snprintf(tmpdir, sizeof tmpdir, "%s", keep_dir());
        mkdir(tmpdir, 0777);
        return 0;
    }
    snprintf(tmpdir, sizeof tmpdir, "%s/shiftc-report-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (keep_dir())
        return 0;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_page), cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_one_point),   cmocka_unit_test(test_degenerate_values),
        cmocka_unit_test(test_bad_inputs),  cmocka_unit_test(test_many_points),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
