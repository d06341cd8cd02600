/*
 * Lua precision policies (policy.h; the user's guide is docs/policies.md).
 *
 * The file runs once, in a sandbox, when it is loaded; it returns a table
 * whose fields are checked at once (unknown keys are typos).  When the
 * search space exists, policy_constrain fills the global `layers` (the
 * same table object the script saw at its top level, so a local alias of
 * it stays valid) with copies of the layers and their candidates, then
 * applies, in this order: the declarative rules (`layers`), the ties
 * (`tie`), the `candidate` filter and the `objective` hook.  The `choose`
 * hook sees the frontier.  Tables handed to the script are copies: changing
 * them changes nothing in the compiler.
 *
 * Rules only ever clear Candidate.allowed, so their order does not change
 * the result; selectors are still visited in a fixed order (integer keys
 * ascending, then strings by strcmp) so the first error reported is the
 * same on every run.
 */
#include "policy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "formats.h"
#include "lua_sandbox.h"

struct Policy {
    Sandbox *sb;
    char *path;
    int table;      /* registry ref of the returned table */
    int layers;     /* registry ref of the global `layers` */
    char *budget;   /* the table's budget, or NULL */
};

static const char *const top_keys[] = {"budget", "layers", "tie", "candidate", "objective", "choose", "description",
                                       NULL};
static const char *const rule_keys[] = {"weights", "act_bits", "kernel", NULL};
/* "mac" is KS_TABLE; policies may still say "table" */
static const char *const kernel_names[] = {"unrolled", "mac"};

static const char *kernel_name(KernelStyle k) { return ir_kernel_name(k); }

/* "FILE:LINE:" of the function at index idx, for errors about what a hook
 * returned (the hook itself raised nothing). */
static void fn_where(lua_State *L, int idx, const char *path, char *buf, size_t len)
{
    lua_Debug ar;
    lua_pushvalue(L, idx);
    if (lua_getinfo(L, ">S", &ar) && ar.linedefined > 0)
        snprintf(buf, len, "%s:%d:", path, ar.linedefined);
    else
        snprintf(buf, len, "%s:", path);
}

/* ---- loading ---- */

static void push_string_list(lua_State *L, const char *const *names, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static int check_top(Policy *p, char *err, size_t errlen)
{
    lua_State *L = sandbox_state(p->sb);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->table);
    int t = lua_gettop(L);
    int rc = 0;
    /* keys visited in any order: an unknown key is reported by name, and
     * only the first (by strcmp) to keep the message deterministic */
    char bad[128] = "";
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        int known = 0;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (int i = 0; top_keys[i]; i++)
                known |= strcmp(lua_tostring(L, -1), top_keys[i]) == 0;
        if (!known) {
            char k[128];
            if (lua_type(L, -1) == LUA_TSTRING)
                snprintf(k, sizeof k, "%s", lua_tostring(L, -1));
            else
                snprintf(k, sizeof k, "[%s]", luaL_typename(L, -1));
            if (!bad[0] || strcmp(k, bad) < 0)
                snprintf(bad, sizeof bad, "%s", k);
        }
    }
    if (bad[0]) {
        snprintf(err, errlen,
                 "%s: unknown field '%s' in the returned table (known: budget, layers, tie, candidate, objective, "
                 "choose, description)",
                 p->path, bad);
        rc = -1;
        goto out;
    }
    static const struct {
        const char *key;
        int type, alt;
    } types[] = {{"budget", LUA_TSTRING, LUA_TSTRING},        {"layers", LUA_TTABLE, LUA_TFUNCTION},
                 {"tie", LUA_TTABLE, LUA_TTABLE},             {"candidate", LUA_TFUNCTION, LUA_TFUNCTION},
                 {"objective", LUA_TFUNCTION, LUA_TFUNCTION}, {"choose", LUA_TFUNCTION, LUA_TFUNCTION},
                 {"description", LUA_TSTRING, LUA_TSTRING}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        int ty = lua_getfield(L, t, types[i].key);
        if (ty != LUA_TNIL && ty != types[i].type && ty != types[i].alt) {
            snprintf(err, errlen, "%s: field '%s' must be a %s%s%s, not a %s", p->path, types[i].key,
                     lua_typename(L, types[i].type), types[i].alt != types[i].type ? " or a " : "",
                     types[i].alt != types[i].type ? lua_typename(L, types[i].alt) : "", lua_typename(L, ty));
            rc = -1;
        } else if (ty == LUA_TSTRING && strcmp(types[i].key, "budget") == 0) {
            p->budget = strdup(lua_tostring(L, -1));
        }
        lua_pop(L, 1);
        if (rc)
            break;
    }
out:
    lua_settop(L, t - 1);
    return rc;
}

Policy *policy_load(const char *path, const char *const *params, int nparams, char *err, size_t errlen)
{
    Policy *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(path)) || !(p->sb = sandbox_new(SANDBOX_MEM_LIMIT, SANDBOX_INSTR_LIMIT))) {
        snprintf(err, errlen, "%s: out of memory", path);
        policy_free(p);
        return NULL;
    }
    p->table = p->layers = LUA_NOREF;
    lua_State *L = sandbox_state(p->sb);

    lua_newtable(L);
    for (int i = 0; i < nparams; i++) {
        const char *eq = strchr(params[i], '=');
        if (eq) {
            lua_pushlstring(L, params[i], (size_t)(eq - params[i]));
            lua_pushstring(L, eq + 1);
        } else {
            lua_pushstring(L, params[i]);
            lua_pushliteral(L, "");
        }
        lua_rawset(L, -3);
    }
    sandbox_set_global(p->sb, "params");

    const char *fmts[WF_COUNT];
    int nf = 0;
    for (int f = 0; f < WF_COUNT; f++)
        if (f != WF_FLOAT)
            fmts[nf++] = fmt_name((WeightFormat)f);
    push_string_list(L, fmts, nf);
    sandbox_set_global(p->sb, "formats");

    const char *kinds[COST_COUNT];
    for (int k = 0; k < COST_COUNT; k++)
        kinds[k] = cost_kind_name((CostKind)k);
    push_string_list(L, kinds, COST_COUNT);
    sandbox_set_global(p->sb, "cost_kinds");

    push_string_list(L, kernel_names, 2);
    sandbox_set_global(p->sb, "kernels");

    /* filled by policy_constrain */
    lua_newtable(L);
    lua_pushvalue(L, -1);
    p->layers = luaL_ref(L, LUA_REGISTRYINDEX);
    sandbox_set_global(p->sb, "layers");
    lua_pushliteral(L, "");
    sandbox_set_global(p->sb, "target");

    int top = lua_gettop(L);
    if (sandbox_run_file(p->sb, path, 1, err, errlen) != 0) {
        policy_free(p);
        return NULL;
    }
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "%s: the file must return a table (see docs/policies.md), not %s", path,
                 lua_isnil(L, -1) ? "nothing" : luaL_typename(L, -1));
        lua_settop(L, top);
        policy_free(p);
        return NULL;
    }
    p->table = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, top);
    if (check_top(p, err, errlen) != 0) {
        policy_free(p);
        return NULL;
    }
    return p;
}

const char *policy_budget(const Policy *p)
{
    return p ? p->budget : NULL;
}

void policy_free(Policy *p)
{
    if (!p)
        return;
    sandbox_free(p->sb);
    free(p->path);
    free(p->budget);
    free(p);
}

/* ---- the layers as Lua sees them ---- */

static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, int64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v ? v : "");
    lua_setfield(L, -2, k);
}

static void push_candidate(lua_State *L, const Candidate *c, int index)
{
    lua_createtable(L, 0, 20);
    set_int(L, "index", index + 1);
    set_str(L, "weights", fmt_name(c->weights));
    set_int(L, "weight_bits", fmt_bits(c->weights));
    set_int(L, "act_bits", c->act_bits);
    set_str(L, "kernel", kernel_name(c->kernel));
    set_num(L, "omega", c->omega);
    set_num(L, "omega_w", c->omega_w);
    set_num(L, "omega_a", c->omega_a);
    set_num(L, "objective", c->objective);
    for (int k = 0; k < COST_COUNT; k++)
        set_num(L, cost_kind_name((CostKind)k), c->cost[k]);
    set_int(L, "terms", c->terms);
    lua_pushboolean(L, c->allowed);
    lua_setfield(L, -2, "allowed");
}

static void push_layer(lua_State *L, const SearchSpace *s, int i)
{
    const SearchLayer *l = &s->layers[i];
    lua_createtable(L, 0, 14);
    set_str(L, "name", l->name);
    set_str(L, "op", l->op);
    set_int(L, "index", i + 1);
    set_int(L, "params", l->params);
    set_int(L, "macs", l->macs);
    set_num(L, "trace", l->trace);
    set_num(L, "trace_se", l->trace_se);
    set_num(L, "act_trace", l->act_trace);
    set_int(L, "group", l->group + 1);
    lua_createtable(L, l->ncand, 0);
    for (int j = 0; j < l->ncand; j++) {
        push_candidate(L, &l->cand[j], j);
        lua_rawseti(L, -2, j + 1);
    }
    lua_setfield(L, -2, "candidates");
}

/* (Re)fills the global `layers` in place. */
static void fill_layers(Policy *p, const SearchSpace *s)
{
    lua_State *L = sandbox_state(p->sb);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->layers);
    int n = (int)lua_rawlen(L, -1);
    for (int i = s->nlayers; i < n; i++) {
        lua_pushnil(L);
        lua_rawseti(L, -2, i + 1);
    }
    for (int i = 0; i < s->nlayers; i++) {
        push_layer(L, s, i);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pop(L, 1);
    lua_pushstring(L, s->target && s->target->name ? s->target->name : "");
    sandbox_set_global(p->sb, "target");
}

/* ---- selectors ---- */

/* A printable form of the key at index idx: conv1, 3, -1. */
static void key_text(lua_State *L, int idx, char *buf, size_t len)
{
    if (lua_type(L, idx) == LUA_TSTRING)
        snprintf(buf, len, "\"%s\"", lua_tostring(L, idx));
    else if (lua_isinteger(L, idx))
        snprintf(buf, len, "%lld", (long long)lua_tointeger(L, idx));
    else if (lua_type(L, idx) == LUA_TNUMBER)
        snprintf(buf, len, "%g", lua_tonumber(L, idx));
    else
        snprintf(buf, len, "(%s)", luaL_typename(L, idx));
}

static void layer_names(const SearchSpace *s, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < s->nlayers && o + 1 < len; i++) {
        int w = snprintf(buf + o, len - o, "%s%s", i ? ", " : "", s->layers[i].name);
        if (w < 0)
            break;
        o += (size_t)w;
        if (o >= len - 1 && len > 4)
            memcpy(buf + len - 4, "...", 4);
    }
}

/* The layers the selector at index idx picks: sel[i] = 1.  Returns the
 * count, or -1 with err (err names neither file nor selector; the caller
 * does). */
static int select_layers(lua_State *L, int idx, const SearchSpace *s, char *sel, char *err, size_t errlen)
{
    memset(sel, 0, (size_t)s->nlayers);
    int n = s->nlayers, count = 0;
    if (lua_type(L, idx) == LUA_TNUMBER) {
        if (!lua_isinteger(L, idx)) {
            snprintf(err, errlen, "a layer index must be an integer");
            return -1;
        }
        lua_Integer k = lua_tointeger(L, idx);
        if (k == 0 || k > n || k < -n) {
            snprintf(err, errlen, "no layer %lld: the model has %d weighted layers (1..%d, or -1..-%d from the end)",
                     (long long)k, n, n, n);
            return -1;
        }
        sel[k > 0 ? k - 1 : n + k] = 1;
        return 1;
    }
    if (lua_type(L, idx) != LUA_TSTRING) {
        snprintf(err, errlen, "a selector is a layer name, an index, \"first\", \"last\", \"*\" or \"op:TYPE\", "
                              "not a %s",
                 luaL_typename(L, idx));
        return -1;
    }
    const char *k = lua_tostring(L, idx);
    if (n == 0) {
        snprintf(err, errlen, "the model has no weighted layer");
        return -1;
    }
    if (strcmp(k, "*") == 0) {
        memset(sel, 1, (size_t)n);
        return n;
    }
    if (strcmp(k, "first") == 0) {
        sel[0] = 1;
        return 1;
    }
    if (strcmp(k, "last") == 0) {
        sel[n - 1] = 1;
        return 1;
    }
    if (strncmp(k, "op:", 3) == 0) {
        for (int i = 0; i < n; i++)
            if (s->layers[i].op && strcasecmp(s->layers[i].op, k + 3) == 0)
                sel[i] = 1, count++;
        if (!count) {
            char ops[256] = "";
            size_t o = 0;
            for (int i = 0; i < n && o < sizeof ops - 32; i++)
                if (!strstr(ops, s->layers[i].op))
                    o += (size_t)snprintf(ops + o, sizeof ops - o, "%s%s", o ? ", " : "", s->layers[i].op);
            snprintf(err, errlen, "no weighted layer has op '%s' (the model's: %s)", k + 3, ops);
            return -1;
        }
        return count;
    }
    for (int i = 0; i < n; i++)
        if (s->layers[i].name && strcmp(s->layers[i].name, k) == 0)
            sel[i] = 1, count++;
    if (!count) {
        char names[512];
        layer_names(s, names, sizeof names);
        snprintf(err, errlen, "no weighted layer is named '%s' (layers: %s)", k, names);
        return -1;
    }
    return count;
}

/* Sorted keys of the table at t, pushed into a new array on the stack:
 * integers ascending, then strings by strcmp, then anything else. */
static int key_rank(lua_State *L, int i)
{
    return lua_isinteger(L, i) ? 0 : lua_type(L, i) == LUA_TSTRING ? 1 : 2;
}

static int key_less(lua_State *L, int a, int b)
{
    int ra = key_rank(L, a), rb = key_rank(L, b);
    if (ra != rb)
        return ra < rb;
    if (ra == 0)
        return lua_tointeger(L, a) < lua_tointeger(L, b);
    if (ra == 1)
        return strcmp(lua_tostring(L, a), lua_tostring(L, b)) < 0;
    return 0;
}

static int sorted_keys(lua_State *L, int t)
{
    lua_newtable(L);
    int keys = lua_gettop(L), n = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, keys, ++n);
    }
    /* insertion sort: rule tables are small */
    for (int i = 2; i <= n; i++) {
        for (int j = i; j > 1; j--) {
            lua_rawgeti(L, keys, j);
            lua_rawgeti(L, keys, j - 1);
            int less = key_less(L, -2, -1);
            if (!less) {
                lua_pop(L, 2);
                break;
            }
            lua_rawseti(L, keys, j);
            lua_rawseti(L, keys, j - 1);
        }
    }
    return n;
}

/* ---- declarative rules ---- */

/* Value sets of one rule. */
typedef struct {
    int nweights, nacts, nkernels;
    WeightFormat weights[WF_COUNT];
    int acts[16];
    int kernels[2];
} Rule;

/* Reads field `key` of the rule at idx (a value or a list of values). */
static int read_values(lua_State *L, int rule, const char *key, Rule *r, char *err, size_t errlen)
{
    int ty = lua_getfield(L, rule, key);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    int v = lua_gettop(L);
    int list = ty == LUA_TTABLE;
    int n = list ? (int)lua_rawlen(L, v) : 1;
    if (list && n == 0) {
        snprintf(err, errlen, "'%s' is an empty list", key);
        lua_pop(L, 1);
        return -1;
    }
    for (int i = 1; i <= n; i++) {
        if (list)
            lua_rawgeti(L, v, i);
        else
            lua_pushvalue(L, v);
        int rc = 0;
        if (strcmp(key, "weights") == 0) {
            WeightFormat f;
            const char *name = lua_tostring(L, -1);
            if (lua_type(L, -1) != LUA_TSTRING || fmt_parse(name, &f) != 0) {
                char all[256];
                fmt_list(all, sizeof all);
                if (lua_type(L, -1) == LUA_TSTRING)
                    snprintf(err, errlen, "unknown weight format '%s' (formats: %s)", name, all);
                else
                    snprintf(err, errlen, "weights must be format names (%s), not a %s", all, luaL_typename(L, -1));
                rc = -1;
            } else if (r->nweights < WF_COUNT) {
                r->weights[r->nweights++] = f;
            }
        } else if (strcmp(key, "act_bits") == 0) {
            if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > 32) {
                snprintf(err, errlen, "act_bits must be integers such as 4, 8 or 16, not %s",
                         lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
                rc = -1;
            } else if (r->nacts < 16) {
                r->acts[r->nacts++] = (int)lua_tointeger(L, -1);
            }
        } else {
            const char *name = lua_tostring(L, -1);
            KernelStyle ks = KS_UNROLLED;
            int k = lua_type(L, -1) != LUA_TSTRING || ir_kernel_parse(name, &ks) != 0 ? -1 : (int)ks;
            if (k < 0) {
                snprintf(err, errlen, "unknown kernel '%s' (kernels: unrolled, mac)",
                         lua_type(L, -1) == LUA_TSTRING ? name : luaL_typename(L, -1));
                rc = -1;
            } else if (r->nkernels < 2) {
                r->kernels[r->nkernels++] = k;
            }
        }
        lua_pop(L, 1);
        if (rc) {
            lua_pop(L, 1);
            return -1;
        }
    }
    lua_pop(L, 1);
    return 0;
}

static int rule_admits(const Rule *r, const Candidate *c)
{
    int ok = 1;
    if (r->nweights) {
        int m = 0;
        for (int i = 0; i < r->nweights; i++)
            m |= r->weights[i] == c->weights;
        ok &= m;
    }
    if (r->nacts) {
        int m = 0;
        for (int i = 0; i < r->nacts; i++)
            m |= r->acts[i] == c->act_bits;
        ok &= m;
    }
    if (r->nkernels) {
        int m = 0;
        for (int i = 0; i < r->nkernels; i++)
            m |= r->kernels[i] == (int)c->kernel;
        ok &= m;
    }
    return ok;
}

/* Why no candidate of l passes r: the first value list none of the
 * layer's candidates has. */
static void rule_why(const Rule *r, const SearchLayer *l, char *buf, size_t len)
{
    Rule one = {0};
    one.nweights = r->nweights;
    memcpy(one.weights, r->weights, sizeof r->weights);
    int any = 0;
    for (int j = 0; j < l->ncand; j++)
        any |= rule_admits(&one, &l->cand[j]);
    if (!any) {
        snprintf(buf, len, "none of its candidates has the weight format%s asked for (add it to --candidates)",
                 r->nweights > 1 ? "s" : "");
        return;
    }
    one = (Rule){0};
    one.nacts = r->nacts;
    memcpy(one.acts, r->acts, sizeof r->acts);
    any = 0;
    for (int j = 0; j < l->ncand; j++)
        any |= rule_admits(&one, &l->cand[j]);
    if (!any) {
        snprintf(buf, len, "none of its candidates has the act_bits asked for (add them to --act-candidates)");
        return;
    }
    snprintf(buf, len, "no candidate left allowed by this rule, the other rules and --budget ram= together");
}

static int apply_rules(Policy *p, SearchSpace *s, int rules, char *err, size_t errlen)
{
    lua_State *L = sandbox_state(p->sb);
    char *sel = malloc((size_t)(s->nlayers ? s->nlayers : 1));
    int nkeys = sorted_keys(L, rules);
    int keys = lua_gettop(L), rc = 0;
    for (int i = 1; i <= nkeys && rc == 0; i++) {
        lua_rawgeti(L, keys, i);
        int key = lua_gettop(L);
        char kt[160], msg[1024];
        key_text(L, key, kt, sizeof kt);
        if (select_layers(L, key, s, sel, msg, sizeof msg) < 0) {
            snprintf(err, errlen, "%s: layers[%s]: %s", p->path, kt, msg);
            rc = -1;
            break;
        }
        lua_pushvalue(L, key);
        lua_gettable(L, rules);
        int rule = lua_gettop(L);
        if (!lua_istable(L, rule)) {
            snprintf(err, errlen, "%s: layers[%s]: a rule is a table such as {weights = \"int8\"}, not a %s",
                     p->path, kt, luaL_typename(L, rule));
            rc = -1;
            break;
        }
        /* unknown fields of the rule */
        lua_pushnil(L);
        while (lua_next(L, rule)) {
            lua_pop(L, 1);
            int known = 0;
            if (lua_type(L, -1) == LUA_TSTRING)
                for (int f = 0; rule_keys[f]; f++)
                    known |= strcmp(lua_tostring(L, -1), rule_keys[f]) == 0;
            if (!known) {
                char ft[160];
                key_text(L, -1, ft, sizeof ft);
                snprintf(err, errlen, "%s: layers[%s]: unknown field %s in the rule (known: weights, act_bits, kernel)",
                         p->path, kt, ft);
                rc = -1;
                lua_pop(L, 1);
                break;
            }
        }
        if (rc)
            break;
        Rule r = {0};
        for (int f = 0; rule_keys[f] && rc == 0; f++)
            if (read_values(L, rule, rule_keys[f], &r, msg, sizeof msg) != 0) {
                snprintf(err, errlen, "%s: layers[%s]: %s", p->path, kt, msg);
                rc = -1;
            }
        if (rc)
            break;
        for (int li = 0; li < s->nlayers && rc == 0; li++) {
            if (!sel[li])
                continue;
            SearchLayer *l = &s->layers[li];
            int left = 0;
            for (int j = 0; j < l->ncand; j++) {
                if (!rule_admits(&r, &l->cand[j]))
                    l->cand[j].allowed = 0;
                left += l->cand[j].allowed;
            }
            if (!left) {
                rule_why(&r, l, msg, sizeof msg);
                snprintf(err, errlen, "%s: layers[%s]: leaves layer '%s' with no allowed candidate: %s", p->path, kt,
                         l->name, msg);
                rc = -1;
            }
        }
        lua_settop(L, keys);
    }
    lua_settop(L, keys - 1);
    free(sel);
    return rc;
}

static int apply_ties(Policy *p, SearchSpace *s, int ties, char *err, size_t errlen)
{
    lua_State *L = sandbox_state(p->sb);
    char *sel = malloc((size_t)(s->nlayers ? s->nlayers : 1));
    int n = (int)lua_rawlen(L, ties), rc = 0;
    for (int i = 1; i <= n && rc == 0; i++) {
        lua_rawgeti(L, ties, i);
        int t = lua_gettop(L);
        if (!lua_istable(L, t)) {
            snprintf(err, errlen, "%s: tie[%d]: a tie is a list of layers such as {\"conv1\", \"conv2\"}, not a %s",
                     p->path, i, luaL_typename(L, t));
            rc = -1;
        }
        int first = -1, m = rc ? 0 : (int)lua_rawlen(L, t);
        for (int j = 1; j <= m && rc == 0; j++) {
            lua_rawgeti(L, t, j);
            char kt[160], msg[1024];
            key_text(L, -1, kt, sizeof kt);
            if (select_layers(L, lua_gettop(L), s, sel, msg, sizeof msg) < 0) {
                snprintf(err, errlen, "%s: tie[%d][%d] = %s: %s", p->path, i, j, kt, msg);
                rc = -1;
            }
            for (int li = 0; li < s->nlayers && rc == 0; li++) {
                if (!sel[li])
                    continue;
                if (first < 0)
                    first = li;
                else if (search_tie(s, first, li, msg, sizeof msg) != 0) {
                    snprintf(err, errlen, "%s: tie[%d]: %s", p->path, i, msg);
                    rc = -1;
                }
            }
            lua_pop(L, 1);
        }
        lua_settop(L, t - 1);
    }
    free(sel);
    return rc;
}

/* ---- hooks ---- */

/* err = msg with context appended to its first line (before the
 * traceback). */
static void with_context(char *err, size_t errlen, const Policy *p, const char *msg, const char *context)
{
    const char *nl = strchr(msg, '\n');
    int first = nl ? (int)(nl - msg) : (int)strlen(msg);
    /* errors without a position (memory) still name the file */
    int named = strncmp(msg, p->path, strlen(p->path)) == 0;
    snprintf(err, errlen, "%s%s%.*s %s%s", named ? "" : p->path, named ? "" : ": ", first, msg, context,
             nl ? nl : "");
}

static const char *cand_text(const Candidate *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s/a%d/%s", fmt_name(c->weights), c->act_bits, kernel_name(c->kernel));
    return buf;
}

/* Calls hook(layer, cand) for every allowed candidate; kind 0: the
 * candidate filter, 1: the objective. */
static int run_hook(Policy *p, SearchSpace *s, int kind, char *err, size_t errlen)
{
    lua_State *L = sandbox_state(p->sb);
    const char *name = kind ? "objective" : "candidate";
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->table);
    lua_getfield(L, -1, name);
    int hook = lua_gettop(L);
    if (lua_isnil(L, hook)) {
        lua_settop(L, hook - 2);
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->layers);
    int layers = lua_gettop(L);
    int rc = 0;
    for (int i = 0; i < s->nlayers && rc == 0; i++) {
        SearchLayer *l = &s->layers[i];
        lua_rawgeti(L, layers, i + 1);
        int lt = lua_gettop(L);
        lua_getfield(L, lt, "candidates");
        int ct = lua_gettop(L);
        int left = 0;
        for (int j = 0; j < l->ncand && rc == 0; j++) {
            Candidate *c = &l->cand[j];
            if (!c->allowed)
                continue;
            lua_pushvalue(L, hook);
            lua_pushvalue(L, lt);
            lua_rawgeti(L, ct, j + 1);
            char msg[2048], ctext[64], where[256];
            if (sandbox_call(p->sb, 2, 1, msg, sizeof msg) != 0) {
                char context[512];
                snprintf(context, sizeof context, "(in the %s hook, layer '%s', candidate %s)", name, l->name,
                         cand_text(c, ctext, sizeof ctext));
                with_context(err, errlen, p, msg, context);
                rc = -1;
                break;
            }
            if (kind == 0) {
                if (!lua_isboolean(L, -1)) {
                    fn_where(L, hook, p->path, where, sizeof where);
                    snprintf(err, errlen, "%s the candidate hook must return true or false, returned %s (layer '%s', "
                                          "candidate %s)",
                             where, luaL_typename(L, -1), l->name, cand_text(c, ctext, sizeof ctext));
                    rc = -1;
                } else if (!lua_toboolean(L, -1)) {
                    c->allowed = 0;
                }
            } else {
                int isnum = 0;
                double v = lua_tonumberx(L, -1, &isnum);
                if (lua_type(L, -1) != LUA_TNUMBER || !isnum || !isfinite(v)) {
                    fn_where(L, hook, p->path, where, sizeof where);
                    if (lua_type(L, -1) == LUA_TNUMBER)
                        snprintf(msg, sizeof msg, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
                    else
                        snprintf(msg, sizeof msg, "%s", luaL_typename(L, -1));
                    snprintf(err, errlen, "%s the objective hook must return a finite number, returned %s (layer '%s', "
                                          "candidate %s)",
                             where, msg, l->name, cand_text(c, ctext, sizeof ctext));
                    rc = -1;
                } else {
                    c->objective = v;
                }
            }
            lua_pop(L, 1);
            left += c->allowed;
        }
        if (rc == 0 && kind == 0 && left == 0) {
            fn_where(L, hook, p->path, err, errlen);
            size_t o = strlen(err);
            snprintf(err + o, errlen - o, " the candidate hook leaves layer '%s' with no allowed candidate", l->name);
            rc = -1;
        }
        lua_settop(L, lt - 1);
    }
    lua_settop(L, hook - 2);
    return rc;
}

int policy_constrain(Policy *p, SearchSpace *s, char *err, size_t errlen)
{
    lua_State *L = sandbox_state(p->sb);
    int top = lua_gettop(L), rc = 0;
    fill_layers(p, s);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->table);
    int t = lua_gettop(L);

    lua_getfield(L, t, "layers");
    if (lua_isfunction(L, -1)) {
        /* layers = function(layers) return {rules} end */
        lua_rawgeti(L, LUA_REGISTRYINDEX, p->layers);
        char msg[2048];
        if (sandbox_call(p->sb, 1, 1, msg, sizeof msg) != 0) {
            with_context(err, errlen, p, msg, "(in the layers function)");
            rc = -1;
            goto out;
        }
        if (!lua_istable(L, -1)) {
            char where[256];
            lua_getfield(L, t, "layers");
            fn_where(L, -1, p->path, where, sizeof where);
            snprintf(err, errlen, "%s the layers function must return a table of rules, returned %s", where,
                     luaL_typename(L, -2));
            rc = -1;
            goto out;
        }
    }
    if (lua_istable(L, -1) && apply_rules(p, s, lua_gettop(L), err, errlen) != 0) {
        rc = -1;
        goto out;
    }
    lua_settop(L, t);

    if (lua_getfield(L, t, "tie") == LUA_TTABLE && apply_ties(p, s, lua_gettop(L), err, errlen) != 0) {
        rc = -1;
        goto out;
    }
    lua_settop(L, t);

    fill_layers(p, s); /* hooks see allowed and group after rules and ties */
    if (run_hook(p, s, 0, err, errlen) != 0 || run_hook(p, s, 1, err, errlen) != 0)
        rc = -1;
out:
    lua_settop(L, top);
    return rc;
}

int policy_choose(Policy *p, const SearchSpace *s, const Frontier *f, double limit, int *pick, char *err,
                  size_t errlen)
{
    *pick = -1;
    lua_State *L = sandbox_state(p->sb);
    int top = lua_gettop(L), rc = 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->table);
    if (lua_getfield(L, -1, "choose") != LUA_TFUNCTION) {
        lua_settop(L, top);
        return 0;
    }
    int hook = lua_gettop(L);
    fill_layers(p, s);
    lua_pushvalue(L, hook);
    lua_createtable(L, f->npoints, 4);
    set_str(L, "kind", cost_kind_name(f->kind));
    if (f->cap_kind < COST_COUNT) { /* every point is within it */
        set_str(L, "cap_kind", cost_kind_name(f->cap_kind));
        set_num(L, "cap", f->cap);
    }
    for (int i = 0; i < f->npoints; i++) {
        const FrontierPoint *pt = &f->points[i];
        lua_createtable(L, 0, 6);
        set_int(L, "index", i + 1);
        set_num(L, "cost", pt->cost);
        set_num(L, "objective", pt->objective);
        set_num(L, "omega", pt->omega);
        lua_pushboolean(L, pt->cost <= limit);
        lua_setfield(L, -2, "feasible");
        lua_createtable(L, s->nlayers, 0);
        for (int l = 0; l < s->nlayers; l++) {
            const Candidate *c = &s->layers[l].cand[pt->choice[l]];
            lua_createtable(L, 0, 4);
            set_int(L, "index", pt->choice[l] + 1);
            set_str(L, "weights", fmt_name(c->weights));
            set_int(L, "act_bits", c->act_bits);
            set_str(L, "kernel", kernel_name(c->kernel));
            lua_rawseti(L, -2, l + 1);
        }
        lua_setfield(L, -2, "choice");
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushnumber(L, limit);
    char msg[2048], where[256];
    if (sandbox_call(p->sb, 2, 1, msg, sizeof msg) != 0) {
        with_context(err, errlen, p, msg, "(in the choose hook)");
        rc = -1;
    } else if (!lua_isnil(L, -1)) {
        fn_where(L, hook, p->path, where, sizeof where);
        if (!lua_isinteger(L, -1)) {
            snprintf(err, errlen, "%s the choose hook must return a point's index (an integer) or nil, returned %s",
                     where, luaL_typename(L, -1));
            rc = -1;
        } else {
            lua_Integer k = lua_tointeger(L, -1);
            if (k < 1 || k > f->npoints) {
                snprintf(err, errlen, "%s the choose hook returned %lld, but the frontier has points 1..%d", where,
                         (long long)k, f->npoints);
                rc = -1;
            } else if (f->points[k - 1].cost > limit) {
                snprintf(err, errlen, "%s the choose hook returned point %lld, whose %s %.6g exceeds the budget's %.6g",
                         where, (long long)k, cost_kind_name(f->kind), f->points[k - 1].cost, limit);
                rc = -1;
            } else {
                *pick = (int)k - 1;
            }
        }
    }
    lua_settop(L, top);
    return rc;
}
