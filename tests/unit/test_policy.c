/*
 * The Lua sandbox (compiler/lua_sandbox.h) and the precision policies
 * (compiler/policy.h) on a search space built by hand: three layers
 * (conv1, conv2: Conv; fc: Dense), each with the same eight candidates
 * (int2, int4, int8, ternary x 4- and 8-bit activations).  Declarative
 * rules and their selectors, the candidate, objective and choose hooks,
 * ties, the examples in examples/policies/, and every hostile file in
 * tests/bad/policies/ (each must fail with a clear message, not crash,
 * not hang).  Runs from the repository's root (make unit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <math.h>

#include "formats.h"
#include "lua_sandbox.h"
#include "policy.h"
#include "search.h"

#define NL 3
static const WeightFormat cand_fmt[] = {WF_INT2, WF_INT4, WF_INT8, WF_TERNARY};
#define NF 4
#define NC (NF * 2)

static char tmpdir[64];
static char errbuf[8192];

/* ---- fixtures ---- */

static void make_space(SearchSpace *s)
{
    static const char *names[NL] = {"conv1", "conv2", "fc"};
    static const char *ops[NL] = {"Conv", "Conv", "Dense"};
    static const int64_t params[NL] = {100, 1000, 500};
    static const double trace[NL] = {50, 100, 2000}; /* per param: 0.5, 0.1, 4 */
    memset(s, 0, sizeof *s);
    s->nlayers = NL;
    s->layers = calloc(NL, sizeof *s->layers);
    for (int i = 0; i < NL; i++) {
        SearchLayer *l = &s->layers[i];
        l->node = i;
        l->name = names[i];
        l->op = ops[i];
        l->params = params[i];
        l->macs = params[i] * 10;
        l->trace = trace[i];
        l->trace_se = trace[i] / 10;
        l->act_trace = 1;
        l->group = i;
        l->ncand = NC;
        l->cand = calloc(NC, sizeof *l->cand);
        for (int j = 0; j < NC; j++) {
            Candidate *c = &l->cand[j];
            c->weights = cand_fmt[j / 2];
            c->act_bits = j % 2 ? 8 : 4;
            c->kernel = KS_UNROLLED;
            double bits = fmt_bits(c->weights);
            c->omega_w = trace[i] / (double)params[i] * pow(2, -2 * bits) * (double)params[i];
            c->omega_a = c->act_bits == 4 ? 0.01 : 0.0001;
            c->omega = c->omega_w + c->omega_a;
            c->objective = c->omega;
            c->cost[COST_BITS] = bits * (double)params[i];
            c->cost[COST_FLASH] = bits * (double)params[i] / 8 + 100;
            c->cost[COST_INSTRUCTIONS] = 10.0 * (double)params[i];
            c->cost[COST_BOPS] = bits * c->act_bits * 10.0 * (double)params[i];
            c->cost[COST_RAM] = 64.0 * c->act_bits;
            c->terms = params[i] * (int64_t)bits;
            c->allowed = 1;
        }
        s->params += params[i];
    }
}

static void free_space(SearchSpace *s)
{
    for (int i = 0; i < s->nlayers; i++)
        free(s->layers[i].cand);
    free(s->layers);
}

static int cand_index(WeightFormat f, int act_bits)
{
    for (int j = 0; j < NF; j++)
        if (cand_fmt[j] == f)
            return j * 2 + (act_bits == 8);
    return -1;
}

static int nallowed(const SearchLayer *l)
{
    int n = 0;
    for (int j = 0; j < l->ncand; j++)
        n += l->cand[j].allowed;
    return n;
}

/* Writes text to TMPDIR/NAME and returns the path (static buffer per call
 * site is enough: tests use it at once). */
static const char *write_policy(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static Policy *load_text(const char *text)
{
    const char *path = write_policy("p.lua", text);
    Policy *p = policy_load(path, NULL, 0, errbuf, sizeof errbuf);
    if (!p)
        fprintf(stderr, "unexpected error: %s\n", errbuf);
    assert_non_null(p);
    return p;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) {
        fprintf(stderr, "expected '%s' in:\n%s\n", needle, hay);
        fail();
    }
}

/* Loads and constrains (and chooses, on a small frontier); returns the
 * stage that failed (1 load, 2 constrain, 3 choose) or 0, err in errbuf. */
static int run_policy(const char *path, const char *const *params, int nparams, SearchSpace *s)
{
    Policy *p = policy_load(path, params, nparams, errbuf, sizeof errbuf);
    if (!p)
        return 1;
    if (policy_constrain(p, s, errbuf, sizeof errbuf) != 0) {
        policy_free(p);
        return 2;
    }
    int choice[2][NL] = {{0, 0, 0}, {5, 5, 5}};
    FrontierPoint pts[2] = {{100, 2, 2, choice[0]}, {200, 1, 1, choice[1]}};
    Frontier f = {.kind = COST_BITS, .npoints = 2, .points = pts, .cap_kind = COST_COUNT};
    int pick;
    int rc = policy_choose(p, s, &f, 1000, &pick, errbuf, sizeof errbuf);
    policy_free(p);
    return rc ? 3 : 0;
}

/* ---- the sandbox ---- */

static int sb_run(const char *text, char *err, size_t errlen)
{
    const char *path = write_policy("s.lua", text);
    Sandbox *sb = sandbox_new(8u << 20, 1000000);
    assert_non_null(sb);
    int rc = sandbox_run_file(sb, path, 1, err, errlen);
    if (rc == 0) {
        lua_State *L = sandbox_state(sb);
        rc = lua_toboolean(L, -1) ? 0 : 1;
        lua_pop(L, 1);
    }
    sandbox_free(sb);
    return rc;
}

static void test_sandbox_libraries(void **state)
{
    (void)state;
    char err[4096];
    /* what is there */
    assert_int_equal(sb_run("return string.format('%d', 3) == '3' and table.concat({1, 2}) == '12' and "
                            "math.floor(2.5) == 2 and utf8.char(65) == 'A' and coroutine.wrap(function() "
                            "return 1 end)() == 1 and select('#', pcall(error)) == 2 and print ~= nil",
                            err, sizeof err),
                     0);
    /* what is not */
    assert_int_equal(sb_run("return string.dump == nil and rawget(_G, 'io') == nil and rawget(_G, 'os') == nil "
                            "and rawget(_G, 'debug') == nil and rawget(_G, 'package') == nil and "
                            "rawget(_G, 'collectgarbage') == nil and rawget(_G, 'loadfile') == nil",
                            err, sizeof err),
                     0);
    /* deterministic random numbers; randomseed needs a seed */
    assert_int_equal(sb_run("local a = math.random(1000000) math.randomseed(0) return a == math.random(1000000)", err,
                            sizeof err),
                     0);
    assert_int_equal(sb_run("math.randomseed() return true", err, sizeof err), -1);
    assert_contains(err, "bad argument #1 to 'randomseed'");
    /* xpcall still works as a protected call */
    assert_int_equal(sb_run("local ok, m = xpcall(function(x) error('e' .. x, 0) end, function(m) return 'h' .. m end, "
                            "1) return not ok and m == 'he1'",
                            err, sizeof err),
                     0);
}

static void test_sandbox_globals(void **state)
{
    (void)state;
    char err[4096];
    assert_int_equal(sb_run("x = 1 return true", err, sizeof err), -1);
    assert_contains(err, "s.lua:1: assignment to undeclared global 'x'");
    assert_contains(err, "stack traceback");
    assert_int_equal(sb_run("return y", err, sizeof err), -1);
    assert_contains(err, "s.lua:1: undeclared global 'y'");
    assert_int_equal(sb_run("setmetatable(_G, nil) return true", err, sizeof err), -1);
    assert_contains(err, "protected metatable");

    /* the host adds globals */
    Sandbox *sb = sandbox_new(0, 0);
    lua_State *L = sandbox_state(sb);
    lua_pushinteger(L, 41);
    sandbox_set_global(sb, "answer");
    const char *path = write_policy("g.lua", "return answer + 1");
    assert_int_equal(sandbox_run_file(sb, path, 1, err, sizeof err), 0);
    assert_int_equal(lua_tointeger(L, -1), 42);
    lua_pop(L, 1);
    /* sandbox_call: a fresh budget each call, errors with a traceback */
    path = write_policy("h.lua", "return function(n) if n < 0 then error('negative') end "
                                 "local s = 0 for i = 1, n do s = s + i end return s end");
    assert_int_equal(sandbox_run_file(sb, path, 1, err, sizeof err), 0);
    for (int k = 0; k < 3; k++) {
        lua_pushvalue(L, -1);
        lua_pushinteger(L, 1000000); /* ~4M instructions, under the limit each time */
        assert_int_equal(sandbox_call(sb, 1, 1, err, sizeof err), 0);
        assert_int_equal(lua_tointeger(L, -1), 500000500000LL);
        lua_pop(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_pushinteger(L, -1);
    assert_int_equal(sandbox_call(sb, 1, 1, err, sizeof err), -1);
    assert_contains(err, "h.lua:1: negative");
    assert_contains(err, "stack traceback");
    lua_pop(L, 1);
    assert_int_equal(lua_gettop(L), 0);
    sandbox_free(sb);
}

static void test_sandbox_limits(void **state)
{
    (void)state;
    char err[4096];
    assert_int_equal(sb_run("while true do end", err, sizeof err), -1);
    assert_contains(err, "s.lua:1: instruction limit of 1000000 exceeded");
    assert_int_equal(sb_run("while true do pcall(function() while true do end end) end", err, sizeof err), -1);
    assert_contains(err, "instruction limit");
    assert_int_equal(sb_run("local t = {} for i = 1, 1e8 do t[i] = i end", err, sizeof err), -1);
    assert_contains(err, "s.lua: memory limit of 8388608 bytes exceeded");
    assert_int_equal(sb_run("return 1 +", err, sizeof err), -1);
    assert_contains(err, "s.lua:1:");
    /* text only */
    const char *path = write_policy("bin.lua", "\x1bLua\x54");
    Sandbox *sb = sandbox_new(0, 0);
    assert_int_equal(sandbox_run_file(sb, path, 0, err, sizeof err), -1);
    assert_contains(err, "bin.lua");
    assert_contains(err, "binary chunk");
    /* unreadable files are named */
    assert_int_equal(sandbox_run_file(sb, "no/such/policy.lua", 0, err, sizeof err), -1);
    assert_contains(err, "no/such/policy.lua");
    assert_int_equal(sandbox_run_file(sb, tmpdir, 0, err, sizeof err), -1);
    assert_contains(err, tmpdir);
    sandbox_free(sb);
}

/* ---- declarative rules ---- */

static void test_rules_first_last(void **state)
{
    (void)state;
    SearchSpace s;
    make_space(&s);
    Policy *p = load_text("return { budget = 'bits=4', layers = { first = { weights = 'int8' }, "
                          "last = { weights = {'int4', 'int8'}, act_bits = 8 } } }");
    assert_string_equal(policy_budget(p), "bits=4");
    assert_int_equal(policy_constrain(p, &s, errbuf, sizeof errbuf), 0);
    assert_int_equal(nallowed(&s.layers[0]), 2);
    assert_true(s.layers[0].cand[cand_index(WF_INT8, 4)].allowed);
    assert_true(s.layers[0].cand[cand_index(WF_INT8, 8)].allowed);
    assert_int_equal(nallowed(&s.layers[1]), NC);
    assert_int_equal(nallowed(&s.layers[2]), 2);
    assert_true(s.layers[2].cand[cand_index(WF_INT4, 8)].allowed);
    assert_true(s.layers[2].cand[cand_index(WF_INT8, 8)].allowed);
    policy_free(p);
    free_space(&s);
}

static void test_selectors(void **state)
{
    (void)state;
    static const struct {
        const char *sel;
        int l0, l1, l2; /* allowed counts after {weights = 'int4'} */
    } cases[] = {
        {"conv2", NC, 2, NC}, {"2", NC, 2, NC}, {"-1", NC, NC, 2}, {"-3", 2, NC, NC},
        {"'*'", 2, 2, 2},     {"'op:Conv'", 2, 2, NC}, {"'op:dense'", NC, NC, 2}, {"'first'", 2, NC, NC},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        SearchSpace s;
        make_space(&s);
        char text[256];
        const char *sel = cases[i].sel;
        if (sel[0] == '-' || (sel[0] >= '0' && sel[0] <= '9') || sel[0] == '\'')
            snprintf(text, sizeof text, "return { layers = { [%s] = { weights = 'int4' } } }", sel);
        else
            snprintf(text, sizeof text, "return { layers = { %s = { weights = 'int4' } } }", sel);
        Policy *p = load_text(text);
        assert_int_equal(policy_constrain(p, &s, errbuf, sizeof errbuf), 0);
        assert_int_equal(nallowed(&s.layers[0]), cases[i].l0);
        assert_int_equal(nallowed(&s.layers[1]), cases[i].l1);
        assert_int_equal(nallowed(&s.layers[2]), cases[i].l2);
        policy_free(p);
        free_space(&s);
    }
}

static void test_rule_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *expect;
    } cases[] = {
        {"return { layers = { [4] = { weights = 'int8' } } }", "layers[4]: no layer 4: the model has 3"},
        {"return { layers = { [0] = { weights = 'int8' } } }", "no layer 0"},
        {"return { layers = { ['op:Gemm'] = { weights = 'int8' } } }", "no weighted layer has op 'Gemm'"},
        {"return { layers = { conv1 = { weight = 'int8' } } }", "layers[\"conv1\"]: unknown field \"weight\""},
        {"return { layers = { conv1 = 'int8' } }", "a rule is a table"},
        {"return { layers = { conv1 = { weights = {} } } }", "'weights' is an empty list"},
        {"return { layers = { conv1 = { weights = 'float' } } }", "unknown weight format 'float'"},
        {"return { layers = { conv1 = { act_bits = 'eight' } } }", "act_bits must be integers"},
        {"return { layers = { conv1 = { kernel = 'fast' } } }", "unknown kernel 'fast'"},
        {"return { layers = { conv1 = { weights = 'int3' } } }",
         "leaves layer 'conv1' with no allowed candidate: none of its candidates has the weight format"},
        {"return { layers = { conv1 = { weights = 'int8' }, [1] = { weights = 'int4' } } }",
         "layers[\"conv1\"]: leaves layer 'conv1' with no allowed candidate"},
        {"return { layers = { conv1 = { act_bits = 16 } } }", "add them to --act-candidates"},
        {"return { tie = { {'conv1', 'nope'} } }", "tie[1][2] = \"nope\": no weighted layer is named 'nope'"},
        {"return { tie = { 'conv1' } }", "tie[1]: a tie is a list"},
        {"return { layers = function(l) return 3 end }", "p.lua:1: the layers function must return a table"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        SearchSpace s;
        make_space(&s);
        Policy *p = load_text(cases[i].text);
        assert_int_equal(policy_constrain(p, &s, errbuf, sizeof errbuf), -1);
        assert_contains(errbuf, "p.lua");
        assert_contains(errbuf, cases[i].expect);
        policy_free(p);
        free_space(&s);
    }
}

static void test_load_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *expect;
    } cases[] = {
        {"return { budgte = 'bits=4' }", "unknown field 'budgte'"},
        {"return { budget = 4 }", "field 'budget' must be a string, not a number"},
        {"return { candidate = true }", "field 'candidate' must be a function"},
        {"return { layers = 'first' }", "field 'layers' must be a table or a function"},
        {"return nil", "must return a table"},
        {"", "must return a table (see docs/policies.md), not nothing"},
        {"return { [1] = 2 }", "unknown field '[number]'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = write_policy("p.lua", cases[i].text);
        Policy *p = policy_load(path, NULL, 0, errbuf, sizeof errbuf);
        assert_null(p);
        assert_contains(errbuf, "p.lua");
        assert_contains(errbuf, cases[i].expect);
    }
}

static void test_params_and_globals(void **state)
{
    (void)state;
    SearchSpace s;
    make_space(&s);
    static const char *const params[] = {"fmt=int4", "who=fc", "flag"};
    const char *path = write_policy("p.lua", "assert(params.flag == '' and #formats > 5 and #cost_kinds == 5 and "
                                             "kernels[1] == 'unrolled' and #layers == 0) "
                                             "return { layers = { [params.who] = { weights = params.fmt } } }");
    Policy *p = policy_load(path, params, 3, errbuf, sizeof errbuf);
    assert_non_null(p);
    assert_null(policy_budget(p));
    assert_int_equal(policy_constrain(p, &s, errbuf, sizeof errbuf), 0);
    assert_int_equal(nallowed(&s.layers[2]), 2);
    assert_true(s.layers[2].cand[cand_index(WF_INT4, 4)].allowed);
    policy_free(p);
    free_space(&s);
}

/* ---- hooks ---- */

static void test_candidate_hook(void **state)
{
    (void)state;
    SearchSpace s;
    make_space(&s);
    /* the hook sees the layer's fields and the candidates' fields */
    Policy *p = load_text("return { layers = { fc = { act_bits = 8 } }, candidate = function(l, c)\n"
                          "  assert(l.name and l.op and l.index and l.params and l.macs and l.trace and l.trace_se)\n"
                          "  assert(l.act_trace and l.group and #l.candidates == 8 and c.omega and c.omega_w)\n"
                          "  assert(c.omega_a and c.objective and c.flash and c.instructions and c.bits and c.bops)\n"
                          "  assert(c.ram and c.terms and c.allowed == true and c.index >= 1 and c.weight_bits)\n"
                          "  if l.name == 'fc' then assert(c.act_bits == 8) end\n"
                          "  return c.weights ~= 'ternary' and not (l.op == 'Conv' and c.act_bits == 4)\n"
                          "end }");
    assert_int_equal(policy_constrain(p, &s, errbuf, sizeof errbuf), 0);
    for (int i = 0; i < NL; i++) {
        assert_int_equal(nallowed(&s.layers[i]), 3);
        assert_false(s.layers[i].cand[cand_index(WF_TERNARY, 8)].allowed);
    }
    assert_true(s.layers[0].cand[cand_index(WF_INT2, 8)].allowed);
    assert_false(s.layers[0].cand[cand_index(WF_INT2, 4)].allowed);
    policy_free(p);
    free_space(&s);

    static const struct {
        const char *text, *expect;
    } bad[] = {
        {"return { candidate = function(l, c) return 1 end }", "p.lua:1: the candidate hook must return true or false, "
                                                               "returned number (layer 'conv1', candidate int2/a4"},
        {"return { candidate = function(l, c) return l.name ~= 'conv2' end }",
         "p.lua:1: the candidate hook leaves layer 'conv2' with no allowed candidate"},
        {"return {\n candidate = function(l, c)\n  error('nope')\n end }", "p.lua:3: nope"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        make_space(&s);
        p = load_text(bad[i].text);
        assert_int_equal(policy_constrain(p, &s, errbuf, sizeof errbuf), -1);
        assert_contains(errbuf, bad[i].expect);
        policy_free(p);
        free_space(&s);
    }
}

static void test_objective_hook(void **state)
{
    (void)state;
    SearchSpace s;
    make_space(&s);
    Policy *p = load_text("return { layers = { conv1 = { weights = 'int8' } },\n"
                          "  objective = function(l, c) return l.index * 100 + c.index end }");
    assert_int_equal(policy_constrain(p, &s, errbuf, sizeof errbuf), 0);
    for (int i = 0; i < NL; i++)
        for (int j = 0; j < NC; j++) {
            const Candidate *c = &s.layers[i].cand[j];
            if (c->allowed)
                assert_true(c->objective == (i + 1) * 100 + j + 1);
            else
                assert_true(c->objective == c->omega); /* filtered: not asked */
        }
    policy_free(p);
    free_space(&s);

    const char *bad[] = {"return {\n objective = function(l, c) return 'x' end }",
                         "return {\n objective = function(l, c) return math.huge end }",
                         "return {\n objective = function(l, c) end }"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        make_space(&s);
        p = load_text(bad[i]);
        assert_int_equal(policy_constrain(p, &s, errbuf, sizeof errbuf), -1);
        assert_contains(errbuf, "p.lua:2: the objective hook must return a finite number");
        policy_free(p);
        free_space(&s);
    }
}

/* Errors without a position still name the file, and say where. */
static void test_hook_memory(void **state)
{
    (void)state;
    static const struct {
        const char *text, *expect;
    } bad[] = {
        {"return { objective = function() local t = {} for i = 1, 1e9 do t[i] = {} end end }",
         "p.lua: memory limit of 268435456 bytes exceeded (in the objective hook, layer 'conv1', candidate "
         "int2/a4/unrolled)"},
        {"return { layers = function(l)\n error('no rules today')\n end }",
         "p.lua:2: no rules today (in the layers function)\nstack traceback:"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SearchSpace s;
        make_space(&s);
        Policy *p = load_text(bad[i].text);
        assert_int_equal(policy_constrain(p, &s, errbuf, sizeof errbuf), -1);
        assert_contains(errbuf, bad[i].expect);
        policy_free(p);
        free_space(&s);
    }
}

static void test_choose_hook(void **state)
{
    (void)state;
    SearchSpace s;
    make_space(&s);
    int choice[3][NL] = {{0, 0, 0}, {2, 2, 2}, {5, 5, 5}};
    FrontierPoint pts[3] = {{100, 3, 3, choice[0]}, {200, 2, 2, choice[1]}, {300, 1, 1, choice[2]}};
    Frontier f = {.kind = COST_FLASH, .npoints = 3, .points = pts, .cap_kind = COST_COUNT};
    int pick = 7;

    /* no hook: -1 */
    Policy *p = load_text("return {}");
    assert_int_equal(policy_choose(p, &s, &f, 250, &pick, errbuf, sizeof errbuf), 0);
    assert_int_equal(pick, -1);
    policy_free(p);

    p = load_text("return { choose = function(fr, limit)\n"
                  "  assert(fr.kind == 'flash' and #fr == 3 and limit == 250)\n"
                  "  assert(fr[2].choice[1].weights == 'int4' and fr[2].choice[3].act_bits == 4)\n"
                  "  assert(fr[3].choice[2].index == 6 and fr[3].feasible == false and fr[1].feasible)\n"
                  "  assert(fr[1].cost == 100 and fr[1].objective == 3 and fr[1].omega == 3)\n"
                  "  return 2 end }");
    assert_int_equal(policy_choose(p, &s, &f, 250, &pick, errbuf, sizeof errbuf), 0);
    assert_int_equal(pick, 1);
    policy_free(p);

    p = load_text("return { choose = function() return nil end }");
    assert_int_equal(policy_choose(p, &s, &f, 250, &pick, errbuf, sizeof errbuf), 0);
    assert_int_equal(pick, -1);
    policy_free(p);

    /* no cap: no cap fields; a capped frontier names its cap */
    p = load_text("return { choose = function(fr) assert(fr.cap_kind == nil and fr.cap == nil) return 1 end }");
    assert_int_equal(policy_choose(p, &s, &f, 250, &pick, errbuf, sizeof errbuf), 0);
    policy_free(p);
    Frontier fc = {.kind = COST_INSTRUCTIONS, .npoints = 3, .points = pts, .cap_kind = COST_FLASH, .cap = 4096};
    p = load_text("return { choose = function(fr)\n"
                  "  assert(fr.kind == 'instructions' and fr.cap_kind == 'flash' and fr.cap == 4096) return 1 end }");
    assert_int_equal(policy_choose(p, &s, &fc, 250, &pick, errbuf, sizeof errbuf), 0);
    assert_int_equal(pick, 0);
    policy_free(p);

    static const struct {
        const char *text, *expect;
    } bad[] = {
        {"return {\n choose = function() return 4 end }", "p.lua:2: the choose hook returned 4, but the frontier has "
                                                          "points 1..3"},
        {"return {\n choose = function() return 0 end }", "p.lua:2: the choose hook returned 0"},
        {"return {\n choose = function() return 1.5 end }", "must return a point's index (an integer) or nil"},
        {"return {\n choose = function() return 3 end }", "whose flash 300 exceeds the budget's 250"},
        {"return {\n choose = function(f) return f[9].cost end }", "p.lua:2: attempt to index a nil value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = load_text(bad[i].text);
        assert_int_equal(policy_choose(p, &s, &f, 250, &pick, errbuf, sizeof errbuf), -1);
        assert_contains(errbuf, bad[i].expect);
        policy_free(p);
    }
    free_space(&s);
}

static void test_ties(void **state)
{
    (void)state;
    SearchSpace s;
    make_space(&s);
    Policy *p = load_text("return { tie = { {'conv1', -1} }, candidate = function(l, c)\n"
                          "  if l.name == 'fc' then assert(l.group == 1) end return true end }");
    assert_int_equal(policy_constrain(p, &s, errbuf, sizeof errbuf), 0);
    assert_int_equal(s.layers[0].group, 0);
    assert_int_equal(s.layers[1].group, 1);
    assert_int_equal(s.layers[2].group, 0);
    policy_free(p);
    free_space(&s);

    /* layers whose candidates differ cannot be tied */
    make_space(&s);
    s.layers[1].cand[0].weights = WF_INT3;
    p = load_text("return { tie = { {'conv1', 'conv2'} } }");
    assert_int_equal(policy_constrain(p, &s, errbuf, sizeof errbuf), -1);
    assert_contains(errbuf, "p.lua: tie[1]: layers 'conv1' and 'conv2' cannot be tied");
    policy_free(p);
    free_space(&s);
}

/* ---- the examples ---- */

static void test_example_keep_ends(void **state)
{
    (void)state;
    SearchSpace s;
    make_space(&s);
    assert_int_equal(run_policy("examples/policies/keep_ends.lua", NULL, 0, &s), 0);
    assert_int_equal(nallowed(&s.layers[0]), 2);
    assert_int_equal(nallowed(&s.layers[1]), NC);
    assert_int_equal(nallowed(&s.layers[2]), 2);
    assert_true(s.layers[2].cand[cand_index(WF_INT8, 8)].allowed);
    free_space(&s);
}

static void test_example_reverse(void **state)
{
    (void)state;
    SearchSpace s;
    make_space(&s);
    assert_int_equal(run_policy("examples/policies/reverse.lua", NULL, 0, &s), 0);
    /* sensitivities per param: conv1 0.5, conv2 0.1, fc 4: fc <-> conv2
     * swap, conv1 (the median) keeps its own */
    for (int j = 0; j < NC; j++) {
        for (int i = 0; i < NL; i++) {
            const Candidate *c = &s.layers[i].cand[j];
            double sens = s.layers[i].trace / (double)s.layers[i].params;
            double mirror = i == 0 ? 0.5 : i == 1 ? 4 : 0.1;
            double want = c->omega_w / sens * mirror + c->omega_a;
            assert_true(fabs(c->objective - want) <= 1e-12 * fabs(want));
        }
    }
    free_space(&s);
}

static void test_example_random(void **state)
{
    (void)state;
    SearchSpace a, b, c;
    make_space(&a);
    make_space(&b);
    make_space(&c);
    static const char *const seed7[] = {"seed=7"};
    assert_int_equal(run_policy("examples/policies/random.lua", NULL, 0, &a), 0);
    assert_int_equal(run_policy("examples/policies/random.lua", NULL, 0, &b), 0);
    assert_int_equal(run_policy("examples/policies/random.lua", seed7, 1, &c), 0);
    int same = 1, differ = 0;
    for (int i = 0; i < NL; i++)
        for (int j = 0; j < NC; j++) {
            same &= a.layers[i].cand[j].objective == b.layers[i].cand[j].objective;
            differ |= a.layers[i].cand[j].objective != c.layers[i].cand[j].objective;
            assert_true(a.layers[i].cand[j].objective >= 0 && a.layers[i].cand[j].objective < 1);
        }
    assert_true(same);
    assert_true(differ);
    static const char *const bad[] = {"seed=abc"};
    assert_int_equal(run_policy("examples/policies/random.lua", bad, 1, &a), 1);
    assert_contains(errbuf, "random.lua:10: --policy-arg seed= must be a number, got 'abc'");
    free_space(&a);
    free_space(&b);
    free_space(&c);
}

static void test_example_min_bits(void **state)
{
    (void)state;
    SearchSpace s;
    make_space(&s);
    assert_int_equal(run_policy("examples/policies/min_bits.lua", NULL, 0, &s), 0);
    for (int i = 0; i < NL; i++) {
        assert_int_equal(nallowed(&s.layers[i]), 2); /* int4/a8, int8/a8 */
        assert_true(s.layers[i].cand[cand_index(WF_INT4, 8)].allowed);
    }
    free_space(&s);
}

static void test_example_protect_top(void **state)
{
    (void)state;
    SearchSpace s;
    make_space(&s);
    static const char *const top2[] = {"top=2"};
    assert_int_equal(run_policy("examples/policies/protect_top.lua", top2, 1, &s), 0);
    /* most sensitive per param: fc (4), then conv1 (0.5) */
    assert_int_equal(nallowed(&s.layers[0]), 2);
    assert_int_equal(nallowed(&s.layers[1]), NC);
    assert_int_equal(nallowed(&s.layers[2]), 2);
    free_space(&s);
}

static void test_example_knee(void **state)
{
    (void)state;
    SearchSpace s;
    make_space(&s);
    int choice[NL] = {0, 0, 0};
    /* a sharp knee at point 3 (cost 30), then little gain */
    FrontierPoint pts[6] = {{10, 100, 100, choice}, {20, 50, 50, choice}, {30, 10, 10, choice},
                            {60, 8, 8, choice},     {90, 7, 7, choice},   {200, 6, 6, choice}};
    Frontier f = {.kind = COST_BITS, .npoints = 6, .points = pts, .cap_kind = COST_COUNT};
    char err[4096];
    Policy *p = policy_load("examples/policies/knee.lua", NULL, 0, err, sizeof err);
    assert_non_null(p);
    int pick;
    assert_int_equal(policy_choose(p, &s, &f, 100, &pick, err, sizeof err), 0);
    assert_int_equal(pick, 2);
    /* fewer than three feasible points: the default */
    assert_int_equal(policy_choose(p, &s, &f, 15, &pick, err, sizeof err), 0);
    assert_int_equal(pick, -1);
    policy_free(p);
    free_space(&s);
}

/* ---- hostile and malformed files ---- */

static void test_bad_policies(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int stage; /* 1 load, 2 constrain, 3 choose */
        const char *expect, *expect2;
    } cases[] = {
        {"syntax.lua", 1, "syntax.lua:5:", "expected"},
        {"hook_error.lua", 2, "hook_error.lua:5: attempt to index a nil value", "in the objective hook"},
        {"loop_top.lua", 1, "loop_top.lua:3: instruction limit of 200000000 exceeded", "runaway loop"},
        {"loop_hook.lua", 2, "loop_hook.lua:5: instruction limit of", "in the candidate hook"},
        {"pcall_loop.lua", 1, "pcall_loop.lua:", "instruction limit of"},
        {"xpcall_loop.lua", 1, "xpcall_loop.lua:", "instruction limit of"},
        {"coroutine_loop.lua", 1, "coroutine_loop.lua:", "instruction limit of"},
        {"gc_loop.lua", 1, "gc_loop.lua:2: __gc metamethods are not allowed", NULL},
        {"os_execute.lua", 1, "os_execute.lua:2: undeclared global 'os'", NULL},
        {"io_open.lua", 1, "io_open.lua:2: undeclared global 'io'", NULL},
        {"dofile.lua", 1, "dofile.lua:2: undeclared global 'dofile'", NULL},
        {"load.lua", 1, "load.lua:2: undeclared global 'load'", NULL},
        {"require.lua", 1, "require.lua:2: undeclared global 'require'", NULL},
        {"new_global.lua", 1, "new_global.lua:2: assignment to undeclared global 'helper'", NULL},
        {"mem_string.lua", 1, "mem_string.lua: memory limit of", NULL},
        {"mem_table.lua", 1, "mem_table.lua: memory limit of", NULL},
        {"pattern_bomb.lua", 1, "pattern_bomb.lua:2: pattern with 6 repetitions is too costly", NULL},
        {"not_table.lua", 1, "not_table.lua: the file must return a table", "not number"},
        {"bad_selector.lua", 2, "bad_selector.lua: layers[\"conv99\"]: no weighted layer is named 'conv99'",
         "layers: conv1, conv2, fc"},
        {"bad_format.lua", 2, "bad_format.lua: layers[\"first\"]: unknown weight format 'int9'", "int2"},
        {"unknown_key.lua", 1, "unknown_key.lua: unknown field 'candidates'", NULL},
        {"objective_nan.lua", 2, "objective_nan.lua:3: the objective hook must return a finite number", "nan"},
        {"choose_range.lua", 3, "choose_range.lua:3: the choose hook returned 100000", NULL},
        {"empty_rule.lua", 2, "empty_rule.lua: layers[\"*\"]: leaves layer 'conv1' with no allowed candidate", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/bad/policies/%s", cases[i].file);
        SearchSpace s;
        make_space(&s);
        int stage = run_policy(path, NULL, 0, &s);
        free_space(&s);
        if (stage != cases[i].stage)
            fprintf(stderr, "%s: failed at stage %d, expected %d: %s\n", cases[i].file, stage, cases[i].stage,
                    errbuf);
        assert_int_equal(stage, cases[i].stage);
        assert_contains(errbuf, cases[i].expect);
        if (cases[i].expect2)
            assert_contains(errbuf, cases[i].expect2);
    }
    assert_int_equal(access("/tmp/shiftc-policy-pwned", F_OK), -1);
}

/* Same file, same space: same result and same error, run after run. */
static void test_determinism(void **state)
{
    (void)state;
    SearchSpace a, b;
    make_space(&a);
    make_space(&b);
    const char *text = "return { layers = { zz = {weights='int8'}, aa = {weights='int8'}, [2] = {weights='int9'} } }";
    Policy *p = load_text(text);
    assert_int_equal(policy_constrain(p, &a, errbuf, sizeof errbuf), -1);
    char first[sizeof errbuf];
    memcpy(first, errbuf, sizeof errbuf);
    policy_free(p);
    p = load_text(text);
    assert_int_equal(policy_constrain(p, &b, errbuf, sizeof errbuf), -1);
    assert_string_equal(first, errbuf);
    assert_contains(first, "layers[2]: unknown weight format 'int9'"); /* integers first */
    policy_free(p);
    free_space(&a);
    free_space(&b);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s", "/tmp/shiftc-policy-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    static const char *files[] = {"p.lua", "s.lua", "g.lua", "h.lua", "bin.lua"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sandbox_libraries),
        cmocka_unit_test(test_sandbox_globals),
        cmocka_unit_test(test_sandbox_limits),
        cmocka_unit_test(test_rules_first_last),
        cmocka_unit_test(test_selectors),
        cmocka_unit_test(test_rule_errors),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_params_and_globals),
        cmocka_unit_test(test_candidate_hook),
        cmocka_unit_test(test_objective_hook),
        cmocka_unit_test(test_hook_memory),
        cmocka_unit_test(test_choose_hook),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_example_keep_ends),
        cmocka_unit_test(test_example_reverse),
        cmocka_unit_test(test_example_random),
        cmocka_unit_test(test_example_min_bits),
        cmocka_unit_test(test_example_protect_top),
        cmocka_unit_test(test_example_knee),
        cmocka_unit_test(test_bad_policies),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
