/*
 * The Lua model spec (docs/luaspec.md): a model file is a Lua script, run in
 * the sandbox, that returns `model { ... }` built with constructor functions
 * the host registers as globals:
 *
 *   model { name, input | inputs, layers, output | outputs }
 *   conv2d, dense, batchnorm, relu, relu6, leaky_relu, sigmoid, tanh, clip,
 *   softmax, maxpool, avgpool, global_avgpool, flatten, reshape, add, concat
 *   npy "file.npy", tensor { shape = {...}, data = {...} | fill = x }
 *
 * How it works.  Every constructor is a C function that checks its table
 * right away (unknown fields, types, weight shapes against the declared
 * units/filters/kernel, non-finite values) and raises a Lua error, so those
 * errors carry the Lua line ("model.lua:12: dense 'fc2': ...").  What it
 * accepted is stored in the loader's context (LsCtx) -- weights already as
 * floats -- and Lua gets a small userdata handle (shiftc.Layer,
 * shiftc.Tensor, shiftc.Model) that only indexes into the context.  Nothing
 * a constructor allocates is owned by Lua, so a Lua error (a longjmp) never
 * leaks: the context frees everything at the end.
 *
 * Once the script returned its model, the layers are lowered in list order
 * into the IR graph (ir.h) exactly as the ONNX frontend builds it: Conv with
 * [OC, IC/group, KH, KW] weights, Dense with [N, K] weights, BatchNormalization
 * with its four per-channel constants (the fold pass folds it), an activation
 * field as a separate node after the layer (the fuse pass fuses Relu/Clip).
 * Names resolve against earlier layers and the model inputs only, so the
 * graph is acyclic by construction.  Shape inference then runs once; its
 * errors are mapped back to the layer (node src_index = layer number) and
 * its constructor's line.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_sandbox.h"
#include "luaspec.h"
#include "tensorfile.h"
#include "util.h"

#define LS_MAX_ELEMS (16LL << 20) /* values in one weight tensor */
#define LS_MAX_TOTAL (64LL << 20) /* values in all weight tensors of a file */
#define LS_MAX_DEPTH 16           /* nesting of layer lists */

#define LS_LAYER_MT "shiftc.Layer"
#define LS_TENSOR_MT "shiftc.Tensor"
#define LS_MODEL_MT "shiftc.Model"

/* ---- what the constructors record ---- */

typedef enum {
    LK_CONV2D,
    LK_DENSE,
    LK_BATCHNORM,
    LK_RELU,
    LK_RELU6,
    LK_LEAKY_RELU,
    LK_SIGMOID,
    LK_TANH,
    LK_CLIP,
    LK_SOFTMAX,
    LK_MAXPOOL,
    LK_AVGPOOL,
    LK_GLOBAL_AVGPOOL,
    LK_FLATTEN,
    LK_RESHAPE,
    LK_ADD,
    LK_CONCAT
} LsKind;

/* One constructor: its Lua name, the fields it accepts besides name, input
 * and inputs, and how many inputs it reads. */
typedef struct LsDef {
    const char *name;
    LsKind kind;
    const char *fields[12]; /* NULL-terminated */
    int min_in, max_in;
} LsDef;

static const LsDef ls_defs[] = {
    {"conv2d",
     LK_CONV2D,
     {"weights", "bias", "filters", "kernel", "stride", "pad", "dilation", "group", "activation"},
     1,
     1},
    {"dense", LK_DENSE, {"weights", "bias", "units", "layout", "activation"}, 1, 1},
    {"batchnorm", LK_BATCHNORM, {"scale", "bias", "mean", "var", "epsilon", "activation"}, 1, 1},
    {"relu", LK_RELU, {NULL}, 1, 1},
    {"relu6", LK_RELU6, {NULL}, 1, 1},
    {"leaky_relu", LK_LEAKY_RELU, {"alpha"}, 1, 1},
    {"sigmoid", LK_SIGMOID, {NULL}, 1, 1},
    {"tanh", LK_TANH, {NULL}, 1, 1},
    {"clip", LK_CLIP, {"min", "max"}, 1, 1},
    {"softmax", LK_SOFTMAX, {"axis"}, 1, 1},
    {"maxpool", LK_MAXPOOL, {"kernel", "stride", "pad", "dilation", "ceil_mode"}, 1, 1},
    {"avgpool", LK_AVGPOOL, {"kernel", "stride", "pad", "ceil_mode", "count_include_pad"}, 1, 1},
    {"global_avgpool", LK_GLOBAL_AVGPOOL, {NULL}, 1, 1},
    {"flatten", LK_FLATTEN, {"axis"}, 1, 1},
    {"reshape", LK_RESHAPE, {"shape"}, 1, 1},
    {"add", LK_ADD, {"activation"}, 2, 2},
    {"concat", LK_CONCAT, {"axis"}, 2, IR_MAX_IO},
};
#define LS_NDEFS ((int)(sizeof ls_defs / sizeof ls_defs[0]))

/* The activation= field. */
typedef enum {
    ACTV_NONE,
    ACTV_RELU,
    ACTV_RELU6,
    ACTV_LEAKY,
    ACTV_SIGMOID,
    ACTV_TANH,
    ACTV_SOFTMAX
} LsActv;
static const char *const ls_actv_names[] = {"none",    "relu", "relu6",   "leaky_relu",
                                            "sigmoid", "tanh", "softmax", NULL};

/* A weight tensor: from npy(), tensor{} or an inline table. */
typedef struct LsTensor {
    int rank;
    int64_t dims[IR_MAX_RANK];
    int64_t count;
    float *data; /* count values, finite (owned) */
} LsTensor;

typedef struct LsLayer {
    const LsDef *def;
    int line;            /* of the constructor call */
    char *name;          /* NULL: made up at lowering ("dense_3") */
    char *in[IR_MAX_IO]; /* input names; nin 0: the previous layer */
    int nin;
    Attrs a;
    LsActv act;
    int w, b;     /* LsTensor indices, -1 when absent */
    int bn[4];    /* batchnorm: scale, bias, mean, var (-1: default) */
    int dense_kn; /* dense weights given as [K, N] */
} LsLayer;

typedef struct LsInput {
    char *name;
    int rank;
    int64_t dims[IR_MAX_RANK];
} LsInput;

typedef struct LsModel {
    int line;
    char *name; /* NULL: from the file name */
    LsInput in[IR_MAX_IO];
    int nin;
    int *layers; /* LsLayer indices, nested lists flattened */
    int nlayers, cap_layers;
    char *out[IR_MAX_IO]; /* nout 0: the last layer */
    int nout;
} LsModel;

typedef struct LsCtx {
    const char *path; /* the model file, for messages */
    char *dir;        /* its directory with a trailing '/', or "" */
    LsTensor *tensors;
    int ntensors, cap_tensors;
    int64_t total; /* values in all tensors, at most LS_MAX_TOTAL */
    LsLayer *layers;
    int nlayers, cap_layers;
    LsModel *models;
    int nmodels, cap_models;
    /* lowering */
    Graph *g;
    char **names; /* names given in the file (reserved for their layer/input) */
    int nnames, cap_names;
    char err[1024];
} LsCtx;

typedef struct LsHandle {
    int index;
} LsHandle;

#define LS_GROW(arr, n, cap)                                                                       \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? 2 * (cap) : 16;                                                        \
            (arr) = xrealloc((arr), (size_t)(cap) * sizeof *(arr));                                \
        }                                                                                          \
    } while (0)

static LsCtx *ls_ctx(lua_State *L)
{
    return (LsCtx *)lua_touserdata(L, lua_upvalueindex(1));
}

static void ls_push_handle(lua_State *L, const char *mt, int index)
{
    LsHandle *h = lua_newuserdatauv(L, sizeof *h, 0);
    h->index = index;
    luaL_setmetatable(L, mt);
}

/* luaL_error with printf formats (lua_pushfstring has no %lld or %g);
 * the message starts with "PATH:LINE:" of the Lua code that called the
 * constructor. */
static _Noreturn void ls_error(lua_State *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static _Noreturn void ls_error(lua_State *L, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    luaL_error(L, "%s", msg);
    abort(); /* not reached: luaL_error does not return */
}

static int ls_line(lua_State *L)
{
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar))
        return ar.currentline;
    return 0;
}

static void ls_shape_text(char *buf, size_t len, int rank, const int64_t *dims)
{
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < rank && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (k < len)
        snprintf(buf + k, len - k, "]");
}

/* ---- checking tables ---- */

/* "what" of the current constructor in messages: "dense 'fc1'" or "dense". */
typedef struct LsWhat {
    char s[160];
} LsWhat;

static size_t ls_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t d[41][41];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

static int ls_in_list(const char *key, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(key, list[i]) == 0)
            return 1;
    return 0;
}

/* Every key of the table at idx is a string in one of the lists; the error
 * names the (alphabetically first) unknown key, a close known one, and the
 * known ones. */
static void ls_check_keys(lua_State *L, int idx, const char *what, const char *const *l1,
                          const char *const *l2)
{
    char bad[128] = "";
    int nonstring = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            nonstring = 1;
            continue;
        }
        const char *k = lua_tostring(L, -1);
        if (ls_in_list(k, l1) || (l2 && ls_in_list(k, l2)))
            continue;
        if (!bad[0] || strcmp(k, bad) < 0)
            snprintf(bad, sizeof bad, "%s", k);
    }
    if (nonstring && !bad[0])
        ls_error(L, "%s: positional values are not allowed, use named fields (name = value)", what);
    if (!bad[0])
        return;
    char known[512] = "", hint[96] = "";
    size_t k = 0, best = 3;
    const char *const *lists[2] = {l1, l2};
    for (int li = 0; li < 2; li++)
        for (int i = 0; lists[li] && lists[li][i]; i++) {
            const char *f = lists[li][i];
            if (k < sizeof known)
                k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", k ? ", " : "", f);
            size_t d = ls_edit_distance(bad, f);
            if (d < best) {
                best = d;
                snprintf(hint, sizeof hint, " (did you mean '%s'?)", f);
            }
        }
    ls_error(L, "%s: unknown field '%s'%s; known fields: %s", what, bad, hint, known);
}

static const char *ls_type_of(lua_State *L, int idx)
{
    if (luaL_testudata(L, idx, LS_LAYER_MT))
        return "a layer";
    if (luaL_testudata(L, idx, LS_TENSOR_MT))
        return "a tensor";
    if (luaL_testudata(L, idx, LS_MODEL_MT))
        return "a model";
    return luaL_typename(L, idx);
}

/* What a value that should have been an integer is: "2.5" or "a string". */
static const char *ls_not_int(lua_State *L, int idx, char *buf, size_t len)
{
    if (lua_type(L, idx) != LUA_TNUMBER)
        return ls_type_of(L, idx);
    snprintf(buf, len, "%g", (double)lua_tonumber(L, idx));
    return buf;
}

/* Pushes t[key]; returns its Lua type. */
static int ls_field(lua_State *L, int t, const char *key)
{
    lua_pushstring(L, key);
    return lua_rawget(L, t);
}

/* An integral number at idx. */
static int ls_to_int(lua_State *L, int idx, int64_t *out)
{
    if (lua_isinteger(L, idx)) {
        *out = (int64_t)lua_tointeger(L, idx);
        return 1;
    }
    if (lua_type(L, idx) != LUA_TNUMBER)
        return 0;
    lua_Number x = lua_tonumber(L, idx);
    if (!(x >= -9.0e15 && x <= 9.0e15) || x != floor(x))
        return 0;
    *out = (int64_t)x;
    return 1;
}

static int64_t ls_get_int(lua_State *L, int t, const char *key, int64_t def, int64_t min,
                          int64_t max, const char *what, int *given)
{
    int64_t v = def;
    char num[32];
    int ty = ls_field(L, t, key);
    if (given)
        *given = ty != LUA_TNIL;
    if (ty != LUA_TNIL) {
        if (!ls_to_int(L, -1, &v))
            ls_error(L, "%s: field '%s' must be an integer, got %s", what, key,
                     ls_not_int(L, -1, num, sizeof num));
        if (v < min || v > max)
            ls_error(L, "%s: field '%s' is %lld, must be in [%lld, %lld]", what, key, (long long)v,
                     (long long)min, (long long)max);
    }
    lua_pop(L, 1);
    return v;
}

static float ls_get_float(lua_State *L, int t, const char *key, float def, const char *what)
{
    float v = def;
    if (ls_field(L, t, key) != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            ls_error(L, "%s: field '%s' must be a number, got %s", what, key, ls_type_of(L, -1));
        lua_Number x = lua_tonumber(L, -1);
        if (!isfinite(x) || fabs(x) > 3.4e38)
            ls_error(L, "%s: field '%s' must be a finite float32 number", what, key);
        v = (float)x;
    }
    lua_pop(L, 1);
    return v;
}

static int ls_get_bool(lua_State *L, int t, const char *key, const char *what)
{
    int v = 0;
    int ty = ls_field(L, t, key);
    if (ty != LUA_TNIL) {
        if (ty != LUA_TBOOLEAN)
            ls_error(L, "%s: field '%s' must be true or false, got %s", what, key,
                     ls_type_of(L, -1));
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* A string field, copied (NULL when absent). */
static char *ls_get_string(lua_State *L, int t, const char *key, const char *what)
{
    char *s = NULL;
    if (ls_field(L, t, key) != LUA_TNIL) {
        size_t len;
        if (lua_type(L, -1) != LUA_TSTRING)
            ls_error(L, "%s: field '%s' must be a string, got %s", what, key, ls_type_of(L, -1));
        const char *v = lua_tolstring(L, -1, &len);
        int ctrl = 0;
        for (size_t i = 0; i < len; i++)
            ctrl |= (unsigned char)v[i] < 0x20 || v[i] == 0x7f;
        if (len == 0 || len > 200 || ctrl)
            ls_error(L,
                     "%s: field '%s' must be a non-empty string of at most 200 characters "
                     "without control characters",
                     what, key);
        s = xstrdup(v);
    }
    lua_pop(L, 1);
    return s;
}

/* A list of n integers in [min, max] at stack index idx; returns n. */
static int ls_int_list(lua_State *L, int idx, int64_t *out, int maxn, int64_t min, int64_t max,
                       const char *what, const char *key)
{
    if (lua_type(L, idx) != LUA_TTABLE)
        ls_error(L, "%s: field '%s' must be a list of integers, got %s", what, key,
                 ls_type_of(L, idx));
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    if (n < 1 || n > maxn)
        ls_error(L, "%s: field '%s' has %d values, expected 1 to %d", what, key, (int)n, maxn);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        int64_t v;
        char num[32];
        if (!ls_to_int(L, -1, &v))
            ls_error(L, "%s: field '%s': value %d must be an integer, got %s", what, key, (int)i,
                     ls_not_int(L, -1, num, sizeof num));
        if (v < min || v > max)
            ls_error(L, "%s: field '%s': value %d is %lld, must be in [%lld, %lld]", what, key,
                     (int)i, (long long)v, (long long)min, (long long)max);
        out[i - 1] = v;
        lua_pop(L, 1);
    }
    return (int)n;
}

/* kernel / stride / dilation: k or {kh, kw}.  Returns 0 when absent. */
static int ls_get_pair(lua_State *L, int t, const char *key, int64_t *out, const char *what)
{
    int ty = ls_field(L, t, key);
    int given = ty != LUA_TNIL;
    if (ty == LUA_TNUMBER) {
        int64_t v;
        if (!ls_to_int(L, -1, &v) || v < 1 || v > 65536)
            ls_error(L, "%s: field '%s' must be an integer in [1, 65536] or a pair {h, w}", what,
                     key);
        out[0] = out[1] = v;
    } else if (given) {
        if (ty != LUA_TTABLE)
            ls_error(L, "%s: field '%s' must be an integer or a pair {h, w}, got %s", what, key,
                     ls_type_of(L, -1));
        int n = ls_int_list(L, lua_gettop(L), out, 2, 1, 65536, what, key);
        if (n != 2)
            ls_error(L, "%s: field '%s' must be an integer or a pair {h, w}", what, key);
    }
    lua_pop(L, 1);
    return given;
}

/* pad: p, {ph, pw}, {top, left, bottom, right}, "same" or "valid". */
static void ls_get_pads(lua_State *L, int t, Attrs *a, const char *what)
{
    int ty = ls_field(L, t, "pad");
    if (ty == LUA_TSTRING) {
        const char *s = lua_tostring(L, -1);
        if (strcmp(s, "same") == 0)
            a->auto_pad = PAD_SAME_UPPER;
        else if (strcmp(s, "same_lower") == 0)
            a->auto_pad = PAD_SAME_LOWER;
        else if (strcmp(s, "valid") == 0)
            a->auto_pad = PAD_VALID;
        else
            ls_error(L,
                     "%s: field 'pad' is '%s'; expected \"same\", \"same_lower\", "
                     "\"valid\", a number, {h, w} or {top, left, bottom, right}",
                     what, s);
    } else if (ty == LUA_TNUMBER) {
        int64_t p;
        if (!ls_to_int(L, -1, &p) || p < 0 || p > 65536)
            ls_error(L, "%s: field 'pad' must be an integer in [0, 65536]", what);
        a->pads[0] = a->pads[1] = a->pads[2] = a->pads[3] = p;
    } else if (ty == LUA_TTABLE) {
        int64_t v[4];
        int n = ls_int_list(L, lua_gettop(L), v, 4, 0, 65536, what, "pad");
        if (n == 2) {
            a->pads[0] = a->pads[2] = v[0];
            a->pads[1] = a->pads[3] = v[1];
        } else if (n == 4) {
            memcpy(a->pads, v, sizeof v); /* {h_begin, w_begin, h_end, w_end} */
        } else {
            ls_error(L,
                     "%s: field 'pad' has %d values; expected {h, w} or {top, left, bottom, "
                     "right}",
                     what, n);
        }
    } else if (ty != LUA_TNIL) {
        ls_error(L, "%s: field 'pad' must be a number, a list or \"same\"/\"valid\", got %s", what,
                 ls_type_of(L, -1));
    }
    lua_pop(L, 1);
}

/* ---- tensors ---- */

static int ls_new_tensor(LsCtx *c)
{
    LS_GROW(c->tensors, c->ntensors, c->cap_tensors);
    LsTensor *t = &c->tensors[c->ntensors];
    memset(t, 0, sizeof *t);
    return c->ntensors++;
}

/* Counts n more weight values against the file's budget. */
static void ls_spend(lua_State *L, LsCtx *c, int64_t n, const char *what)
{
    if (n > LS_MAX_TOTAL - c->total)
        ls_error(L, "%s: the weights of the file would exceed %lld values in all", what,
                 (long long)LS_MAX_TOTAL);
    c->total += n;
}

static int64_t ls_count(lua_State *L, int rank, const int64_t *dims, const char *what)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 1)
            ls_error(L, "%s: dimension %d is %lld (must be >= 1)", what, i, (long long)dims[i]);
        if (n > LS_MAX_ELEMS / dims[i])
            ls_error(L, "%s: more than %lld values are not supported", what,
                     (long long)LS_MAX_ELEMS);
        n *= dims[i];
    }
    return n;
}

/* Shape of the nested number table at idx, by its first elements. */
static int ls_nested_shape(lua_State *L, int idx, int64_t *dims, const char *what)
{
    int rank = 0;
    lua_pushvalue(L, idx);
    while (lua_type(L, -1) == LUA_TTABLE) {
        if (rank == IR_MAX_RANK)
            ls_error(L, "%s: nested more than %d deep (rank at most %d)", what, IR_MAX_RANK,
                     IR_MAX_RANK);
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        if (n < 1)
            ls_error(L, "%s: empty list at depth %d", what, rank + 1);
        dims[rank++] = n;
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    return rank;
}

/* Fills data[*at...] from the nested table at idx, checking every sublist
 * has the length of dims[depth] and every leaf is a finite number. */
static void ls_nested_fill(lua_State *L, int idx, int depth, int rank, const int64_t *dims,
                           float *data, int64_t *at, int64_t *pos, const char *what)
{
    if (lua_type(L, idx) != LUA_TTABLE)
        ls_error(L, "%s: expected a list at depth %d, got %s", what, depth + 1, ls_type_of(L, idx));
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    if (n != dims[depth]) {
        char where[160] = "";
        size_t k = 0;
        for (int d = 0; d < depth && k < sizeof where; d++)
            k += (size_t)snprintf(where + k, sizeof where - k, "[%lld]", (long long)pos[d] + 1);
        ls_error(L, "%s: list%s has %d values, expected %lld (lists must be rectangular)", what,
                 where, (int)n, (long long)dims[depth]);
    }
    for (lua_Integer i = 1; i <= n; i++) {
        pos[depth] = i - 1;
        lua_rawgeti(L, idx, i);
        if (depth + 1 < rank) {
            luaL_checkstack(L, 4, "nested weights");
            ls_nested_fill(L, lua_gettop(L), depth + 1, rank, dims, data, at, pos, what);
        } else {
            char where[160] = "";
            size_t k = 0;
            for (int d = 0; d <= depth && k < sizeof where; d++)
                k += (size_t)snprintf(where + k, sizeof where - k, "[%lld]", (long long)pos[d] + 1);
            if (lua_type(L, -1) != LUA_TNUMBER)
                ls_error(L, "%s: value%s is %s, expected a number", what, where, ls_type_of(L, -1));
            lua_Number x = lua_tonumber(L, -1);
            if (!isfinite(x) || fabs(x) > 3.4e38)
                ls_error(L, "%s: value%s is not a finite float32 number (%g)", what, where,
                         (double)x);
            data[(*at)++] = (float)x;
        }
        lua_pop(L, 1);
    }
}

/* A nested table (or flat list with a given shape) into tensor ti. */
static void ls_table_tensor(lua_State *L, LsCtx *c, int idx, int ti, int shape_rank,
                            const int64_t *shape, const char *what)
{
    int64_t dims[IR_MAX_RANK], pos[IR_MAX_RANK];
    int rank = ls_nested_shape(L, idx, dims, what);
    int64_t count = ls_count(L, rank, dims, what);
    ls_spend(L, c, count, what);
    LsTensor *t = &c->tensors[ti];
    t->data = xmalloc((size_t)count * sizeof *t->data);
    int64_t at = 0;
    ls_nested_fill(L, idx, 0, rank, dims, t->data, &at, pos, what);
    t = &c->tensors[ti];
    t->count = count;
    if (shape_rank >= 0) {
        int64_t want = ls_count(L, shape_rank, shape, what);
        if (want != count) {
            char sh[128];
            ls_shape_text(sh, sizeof sh, shape_rank, shape);
            ls_error(L, "%s has %lld values, shape %s needs %lld", what, (long long)count, sh,
                     (long long)want);
        }
        rank = shape_rank;
        memcpy(dims, shape, sizeof dims[0] * (size_t)rank);
    }
    t->rank = rank;
    memcpy(t->dims, dims, sizeof dims[0] * (size_t)rank);
}

/* npy "path": relative to the model file's directory. */
static int ls_npy(lua_State *L)
{
    LsCtx *c = ls_ctx(L);
    size_t len;
    const char *rel = luaL_checklstring(L, 1, &len);
    if (len == 0 || strlen(rel) != len)
        ls_error(L, "npy: the file name is empty or contains a NUL byte");
    size_t plen = strlen(c->dir) + len + 1;
    char *path = lua_newuserdatauv(L, plen, 0); /* freed by Lua */
    snprintf(path, plen, "%s%s", rel[0] == '/' ? "" : c->dir, rel);
    /* a device or FIFO (npy "/dev/zero") would be read without end */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        ls_error(L, "npy: %s is not a regular file", path);
    TensorFile tf;
    char err[768];
    if (tf_read(path, &tf, err, sizeof err) < 0)
        ls_error(L, "npy: %s", err);
    int bad = tf.rank > IR_MAX_RANK ? 1 : tf.count == 0 ? 2 : tf.count > LS_MAX_ELEMS ? 3 : 0;
    float *data = bad ? NULL : tf_to_float(&tf);
    int rank = tf.rank;
    int64_t dims[TF_MAX_RANK], count = tf.count;
    memcpy(dims, tf.dims, sizeof dims);
    int64_t nonfinite = -1; /* float64 beyond float32 range becomes inf: caught too */
    for (int64_t i = 0; data && i < count && nonfinite < 0; i++)
        if (!isfinite(data[i]))
            nonfinite = i;
    tf_free(&tf);
    if (bad == 1)
        ls_error(L, "npy: %s has rank %d (at most %d supported)", path, rank, IR_MAX_RANK);
    if (bad == 2)
        ls_error(L, "npy: %s is empty", path);
    if (bad == 3)
        ls_error(L, "npy: %s has %lld values (more than %lld are not supported)", path,
                 (long long)count, (long long)LS_MAX_ELEMS);
    if (count > LS_MAX_TOTAL - c->total)
        free(data);
    ls_spend(L, c, count, "npy");
    if (nonfinite >= 0) {
        free(data);
        ls_error(L, "npy: %s: value %lld (flat index) is not finite", path, (long long)nonfinite);
    }
    int ti = ls_new_tensor(c);
    LsTensor *t = &c->tensors[ti];
    t->rank = rank;
    memcpy(t->dims, dims, sizeof t->dims[0] * (size_t)rank);
    t->count = count;
    t->data = data;
    ls_push_handle(L, LS_TENSOR_MT, ti);
    return 1;
}

/* tensor { shape = {...}, data = {...} } or tensor { shape = {...}, fill = x } */
static int ls_tensor(lua_State *L)
{
    static const char *const fields[] = {"shape", "data", "fill", NULL};
    LsCtx *c = ls_ctx(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    ls_check_keys(L, 1, "tensor", fields, NULL);
    int64_t shape[IR_MAX_RANK];
    int rank = -1;
    if (ls_field(L, 1, "shape") != LUA_TNIL)
        rank = ls_int_list(L, 2, shape, IR_MAX_RANK, 1, LS_MAX_ELEMS, "tensor", "shape");
    lua_pop(L, 1);
    int has_data = ls_field(L, 1, "data") != LUA_TNIL;
    int has_fill = ls_field(L, 1, "fill") != LUA_TNIL;
    if (has_data == has_fill)
        ls_error(L, "tensor: give exactly one of 'data' (a list) and 'fill' (a number)");
    int ti = ls_new_tensor(c);
    if (has_data) {
        if (lua_type(L, 2) != LUA_TTABLE)
            ls_error(L, "tensor: field 'data' must be a list of numbers, got %s", ls_type_of(L, 2));
        ls_table_tensor(L, c, 2, ti, rank, shape, "tensor: data");
    } else {
        if (rank < 0)
            ls_error(L, "tensor: 'fill' needs a 'shape'");
        float v = ls_get_float(L, 1, "fill", 0.0f, "tensor");
        int64_t n = ls_count(L, rank, shape, "tensor");
        ls_spend(L, c, n, "tensor");
        LsTensor *t = &c->tensors[ti];
        t->data = xmalloc((size_t)n * sizeof *t->data);
        for (int64_t i = 0; i < n; i++)
            t->data[i] = v;
        t->count = n;
        t->rank = rank;
        memcpy(t->dims, shape, sizeof shape[0] * (size_t)rank);
    }
    ls_push_handle(L, LS_TENSOR_MT, ti);
    return 1;
}

/* A weight field: npy()/tensor{} handle or an inline (nested) list.
 * Returns the tensor index, -1 when absent. */
static int ls_get_tensor(lua_State *L, LsCtx *c, int t, const char *key, int required,
                         const char *what)
{
    int ty = ls_field(L, t, key);
    int ti = -1;
    char w[256];
    snprintf(w, sizeof w, "%s: field '%s'", what, key);
    if (ty == LUA_TNIL) {
        if (required)
            ls_error(L,
                     "%s: missing field '%s' (npy \"file.npy\", tensor {...} or a nested "
                     "list of numbers)",
                     what, key);
    } else if (ty == LUA_TTABLE) {
        ti = ls_new_tensor(c);
        ls_table_tensor(L, c, lua_gettop(L), ti, -1, NULL, w);
    } else {
        LsHandle *h = luaL_testudata(L, -1, LS_TENSOR_MT);
        if (!h)
            ls_error(L,
                     "%s must be npy \"file.npy\", tensor {...} or a nested list of "
                     "numbers, got %s",
                     w, ls_type_of(L, -1));
        ti = h->index;
    }
    lua_pop(L, 1);
    return ti;
}

/* ---- layers ---- */

static int ls_actv(lua_State *L, int t, const char *what)
{
    int act = ACTV_NONE;
    if (ls_field(L, t, "activation") != LUA_TNIL) {
        const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int found = -1;
        for (int i = 0; s && ls_actv_names[i]; i++)
            if (strcmp(s, ls_actv_names[i]) == 0)
                found = i;
        if (found < 0)
            ls_error(L,
                     "%s: field 'activation' is %s%s%s; expected one of none, relu, relu6, "
                     "leaky_relu, sigmoid, tanh, softmax",
                     what, s ? "'" : "", s ? s : ls_type_of(L, -1), s ? "'" : "");
        act = found;
    }
    lua_pop(L, 1);
    return act;
}

static void ls_expect_shape(lua_State *L, const LsCtx *c, int ti, int rank, const int64_t *dims,
                            const char *what, const char *key, const char *why)
{
    const LsTensor *t = &c->tensors[ti];
    int same = t->rank == rank;
    for (int i = 0; same && i < rank; i++)
        same = dims[i] < 0 || t->dims[i] == dims[i];
    if (same)
        return;
    char have[128], want[128];
    ls_shape_text(have, sizeof have, t->rank, t->dims);
    size_t k = (size_t)snprintf(want, sizeof want, "[");
    for (int i = 0; i < rank && k < sizeof want; i++) /* '*': any size */
        k += dims[i] < 0 ? (size_t)snprintf(want + k, sizeof want - k, "%s*", i ? ", " : "")
                         : (size_t)snprintf(want + k, sizeof want - k, "%s%lld", i ? ", " : "",
                                            (long long)dims[i]);
    if (k < sizeof want)
        snprintf(want + k, sizeof want - k, "]");
    ls_error(L, "%s: %s %s does not match %s (expected %s)", what, key, have, why, want);
}

static void ls_layer_conv(lua_State *L, LsCtx *c, int li, const char *what)
{
    LsLayer *ly = &c->layers[li];
    ly->w = ls_get_tensor(L, c, 1, "weights", 1, what);
    ly->b = ls_get_tensor(L, c, 1, "bias", 0, what);
    int has_f, has_k;
    int64_t filters = ls_get_int(L, 1, "filters", 0, 1, INT32_MAX, what, &has_f);
    int64_t kernel[2] = {1, 1}, any[4] = {-1, -1, -1, -1};
    has_k = ls_get_pair(L, 1, "kernel", kernel, what);
    ly = &c->layers[li];
    const LsTensor *w = &c->tensors[ly->w];
    if (w->rank != 4)
        ls_expect_shape(L, c, ly->w, 4, any, what, "weights", "[OC, IC/group, KH, KW]");
    if (has_f && w->dims[0] != filters) {
        int64_t want[4] = {filters, -1, -1, -1};
        ls_expect_shape(L, c, ly->w, 4, want, what, "weights", "filters");
    }
    if (has_k && (w->dims[2] != kernel[0] || w->dims[3] != kernel[1])) {
        int64_t want[4] = {-1, -1, kernel[0], kernel[1]};
        ls_expect_shape(L, c, ly->w, 4, want, what, "weights", "kernel");
    }
    ly->a.kernel[0] = w->dims[2];
    ly->a.kernel[1] = w->dims[3];
    ls_get_pair(L, 1, "stride", ly->a.strides, what);
    ls_get_pair(L, 1, "dilation", ly->a.dilations, what);
    ls_get_pads(L, 1, &ly->a, what);
    ly->a.group = ls_get_int(L, 1, "group", 1, 1, INT32_MAX, what, NULL);
    if (w->dims[0] % ly->a.group != 0)
        ls_error(L, "%s: group %lld does not divide the %lld output channels of the weights", what,
                 (long long)ly->a.group, (long long)w->dims[0]);
    if (ly->b >= 0) {
        int64_t want[1] = {w->dims[0]};
        ls_expect_shape(L, c, ly->b, 1, want, what, "bias", "the weights' output channels");
    }
    ly->act = ls_actv(L, 1, what);
}

static void ls_layer_dense(lua_State *L, LsCtx *c, int li, const char *what)
{
    LsLayer *ly = &c->layers[li];
    ly->w = ls_get_tensor(L, c, 1, "weights", 1, what);
    ly->b = ls_get_tensor(L, c, 1, "bias", 0, what);
    int has_u;
    int64_t units = ls_get_int(L, 1, "units", 0, 1, INT32_MAX, what, &has_u);
    char *layout = ls_get_string(L, 1, "layout", what);
    int kn = 0;
    if (layout) {
        kn = strcmp(layout, "kn") == 0 ? 1 : strcmp(layout, "nk") == 0 ? 0 : -1;
        free(layout);
        if (kn < 0)
            ls_error(L,
                     "%s: field 'layout' must be \"nk\" (weights [units, inputs], the "
                     "default) or \"kn\" ([inputs, units])",
                     what);
    }
    ly = &c->layers[li];
    ly->dense_kn = kn;
    const LsTensor *w = &c->tensors[ly->w];
    int64_t any[2] = {-1, -1};
    const char *form = kn ? "layout \"kn\" [inputs, units]" : "[units, inputs]";
    if (w->rank != 2)
        ls_expect_shape(L, c, ly->w, 2, any, what, "weights", form);
    int64_t n = w->dims[kn ? 1 : 0];
    if (has_u && n != units) {
        int64_t want[2] = {kn ? -1 : units, kn ? units : -1};
        char why[64];
        snprintf(why, sizeof why, "units %lld", (long long)units);
        ls_expect_shape(L, c, ly->w, 2, want, what, "weights", why);
    }
    if (ly->b >= 0) {
        int64_t want[1] = {n};
        ls_expect_shape(L, c, ly->b, 1, want, what, "bias", "the weights' units");
    }
    ly->act = ls_actv(L, 1, what);
}

static void ls_layer_bn(lua_State *L, LsCtx *c, int li, const char *what)
{
    static const char *const keys[4] = {"scale", "bias", "mean", "var"};
    for (int i = 0; i < 4; i++) {
        int ti = ls_get_tensor(L, c, 1, keys[i], i >= 2, what);
        c->layers[li].bn[i] = ti;
    }
    LsLayer *ly = &c->layers[li];
    int64_t ch[1] = {c->tensors[ly->bn[2]].rank == 1 ? c->tensors[ly->bn[2]].dims[0] : -1};
    for (int i = 0; i < 4; i++)
        if (ly->bn[i] >= 0)
            ls_expect_shape(L, c, ly->bn[i], 1, ch, what, keys[i], "one value per channel");
    const LsTensor *var = &c->tensors[ly->bn[3]];
    for (int64_t i = 0; i < var->count; i++)
        if (var->data[i] < 0)
            ls_error(L, "%s: var[%lld] is negative (%g)", what, (long long)i + 1,
                     (double)var->data[i]);
    ly->a.epsilon = ls_get_float(L, 1, "epsilon", 1e-5f, what);
    if (!(ly->a.epsilon >= 0))
        ls_error(L, "%s: field 'epsilon' must be >= 0", what);
    ly->act = ls_actv(L, 1, what);
}

static void ls_layer_pool(lua_State *L, LsCtx *c, int li, const char *what)
{
    LsLayer *ly = &c->layers[li];
    if (!ls_get_pair(L, 1, "kernel", ly->a.kernel, what))
        ls_error(L, "%s: missing field 'kernel'", what);
    memcpy(ly->a.strides, ly->a.kernel, sizeof ly->a.strides); /* stride defaults to kernel */
    ls_get_pair(L, 1, "stride", ly->a.strides, what);
    if (ly->def->kind == LK_MAXPOOL)
        ls_get_pair(L, 1, "dilation", ly->a.dilations, what);
    ls_get_pads(L, 1, &ly->a, what);
    ly->a.ceil_mode = ls_get_bool(L, 1, "ceil_mode", what);
    if (ly->def->kind == LK_AVGPOOL)
        ly->a.count_include_pad = ls_get_bool(L, 1, "count_include_pad", what);
}

/* The input= / inputs= fields. */
static void ls_layer_inputs(lua_State *L, LsLayer *ly, const char *what)
{
    int t1 = ls_field(L, 1, "input");
    int t2 = ls_field(L, 1, "inputs");
    const LsDef *d = ly->def;
    if (t1 != LUA_TNIL && t2 != LUA_TNIL)
        ls_error(L, "%s: give 'input' or 'inputs', not both", what);
    if (t1 != LUA_TNIL) {
        if (d->min_in > 1)
            ls_error(L, "%s: needs %d or more inputs: use inputs = {\"a\", \"b\"}", what,
                     d->min_in);
        lua_pop(L, 1);
        ly->in[0] = ls_get_string(L, 1, "input", what);
        ly->nin = 1;
        lua_pop(L, 1);
        return;
    }
    if (t2 == LUA_TNIL) {
        if (d->min_in > 1)
            ls_error(L, "%s: missing field 'inputs' (a list of %s%d layer or input names)", what,
                     d->max_in > d->min_in ? "at least " : "", d->min_in);
        lua_pop(L, 2);
        return;
    }
    if (t2 != LUA_TTABLE)
        ls_error(L, "%s: field 'inputs' must be a list of names, got %s", what, ls_type_of(L, -1));
    int n = (int)(lua_Integer)lua_rawlen(L, -1);
    if (n < d->min_in || n > d->max_in) {
        if (d->min_in == d->max_in)
            ls_error(L, "%s: field 'inputs' has %d names, expected %d", what, n, d->min_in);
        ls_error(L, "%s: field 'inputs' has %d names, expected %d to %d", what, n, d->min_in,
                 d->max_in);
    }
    for (int i = 1; i <= n; i++) {
        size_t len;
        lua_rawgeti(L, -1, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            ls_error(L, "%s: inputs[%d] must be a layer or input name, got %s", what, i,
                     ls_type_of(L, -1));
        const char *s = lua_tolstring(L, -1, &len);
        if (len == 0 || strlen(s) != len)
            ls_error(L, "%s: inputs[%d] is empty or contains a NUL byte", what, i);
        ly->in[ly->nin++] = xstrdup(s);
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
}

static int ls_layer(lua_State *L)
{
    static const char *const common[] = {"name", "input", "inputs", NULL};
    LsCtx *c = ls_ctx(L);
    const LsDef *d = &ls_defs[lua_tointeger(L, lua_upvalueindex(2))];
    if (lua_isnoneornil(L, 1)) { /* relu() is relu {} */
        lua_settop(L, 0);
        lua_newtable(L);
    } else if (lua_type(L, 1) != LUA_TTABLE)
        ls_error(L, "%s: expected a table of fields (%s { ... }), got %s", d->name, d->name,
                 ls_type_of(L, 1));
    lua_settop(L, 1);

    LS_GROW(c->layers, c->nlayers, c->cap_layers);
    int li = c->nlayers++;
    LsLayer *ly = &c->layers[li];
    memset(ly, 0, sizeof *ly);
    ly->def = d;
    ly->line = ls_line(L);
    ly->w = ly->b = -1;
    for (int i = 0; i < 4; i++)
        ly->bn[i] = -1;
    ir_default_attrs(&ly->a);

    LsWhat what;
    snprintf(what.s, sizeof what.s, "%s", d->name);
    ly->name = ls_get_string(L, 1, "name", what.s);
    if (ly->name)
        snprintf(what.s, sizeof what.s, "%s '%s'", d->name, ly->name);
    ls_check_keys(L, 1, what.s, common, d->fields);
    ls_layer_inputs(L, ly, what.s);

    switch (d->kind) {
    case LK_CONV2D:
        ls_layer_conv(L, c, li, what.s);
        break;
    case LK_DENSE:
        ls_layer_dense(L, c, li, what.s);
        break;
    case LK_BATCHNORM:
        ls_layer_bn(L, c, li, what.s);
        break;
    case LK_LEAKY_RELU:
        ly->a.alpha = ls_get_float(L, 1, "alpha", 0.01f, what.s);
        break;
    case LK_CLIP:
        ly->a.clip_min = ls_get_float(L, 1, "min", ly->a.clip_min, what.s);
        ly->a.clip_max = ls_get_float(L, 1, "max", ly->a.clip_max, what.s);
        if (!(ly->a.clip_min <= ly->a.clip_max))
            ls_error(L, "%s: min %g is larger than max %g", what.s, (double)ly->a.clip_min,
                     (double)ly->a.clip_max);
        break;
    case LK_SOFTMAX:
        ly->a.axis = ls_get_int(L, 1, "axis", -1, -IR_MAX_RANK, IR_MAX_RANK - 1, what.s, NULL);
        break;
    case LK_CONCAT:
        ly->a.axis = ls_get_int(L, 1, "axis", 1, -IR_MAX_RANK, IR_MAX_RANK - 1, what.s, NULL);
        break;
    case LK_MAXPOOL:
    case LK_AVGPOOL:
        ls_layer_pool(L, c, li, what.s);
        break;
    case LK_FLATTEN:
        ly->a.flatten_axis = (int)ls_get_int(L, 1, "axis", 1, 0, IR_MAX_RANK, what.s, NULL);
        ly->a.nshape = 0;
        break;
    case LK_RESHAPE:
        if (ls_field(L, 1, "shape") == LUA_TNIL)
            ls_error(L, "%s: missing field 'shape'", what.s);
        ly->a.nshape = ls_int_list(L, 2, ly->a.shape, IR_MAX_RANK, -1, INT32_MAX, what.s, "shape");
        lua_pop(L, 1);
        break;
    case LK_ADD:
        ly->act = ls_actv(L, 1, what.s);
        break;
    case LK_RELU:
    case LK_RELU6:
    case LK_SIGMOID:
    case LK_TANH:
    case LK_GLOBAL_AVGPOOL:
        break;
    }
    ls_push_handle(L, LS_LAYER_MT, li);
    return 1;
}

static int ls_layer_tostring(lua_State *L)
{
    LsHandle *h = luaL_checkudata(L, 1, LS_LAYER_MT);
    LsCtx *c = ls_ctx(L);
    const LsLayer *ly = &c->layers[h->index];
    lua_pushfstring(L, "%s%s%s%s (line %d)", ly->def->name, ly->name ? " '" : "",
                    ly->name ? ly->name : "", ly->name ? "'" : "", ly->line);
    return 1;
}

static int ls_tensor_tostring(lua_State *L)
{
    LsHandle *h = luaL_checkudata(L, 1, LS_TENSOR_MT);
    LsCtx *c = ls_ctx(L);
    char sh[160];
    ls_shape_text(sh, sizeof sh, c->tensors[h->index].rank, c->tensors[h->index].dims);
    lua_pushfstring(L, "tensor %s", sh);
    return 1;
}

/* ---- model ---- */

static int ls_is_identifier(const char *s)
{
    if (!s[0] || isdigit((unsigned char)s[0]))
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static void ls_model_input(lua_State *L, LsModel *m, int idx, const char *what)
{
    static const char *const fields[] = {"name", "shape", NULL};
    if (lua_type(L, idx) != LUA_TTABLE)
        ls_error(L, "%s must be a table { name = \"x\", shape = {1, 784} }, got %s", what,
                 ls_type_of(L, idx));
    ls_check_keys(L, idx, what, fields, NULL);
    LsInput *in = &m->in[m->nin];
    in->name = ls_get_string(L, idx, "name", what);
    m->nin++;
    if (!in->name)
        in->name = xstrdup(m->nin == 1 ? "input" : "input_2");
    if (ls_field(L, idx, "shape") == LUA_TNIL)
        ls_error(L, "%s: missing field 'shape' (e.g. {1, 1, 28, 28})", what);
    in->rank = ls_int_list(L, lua_gettop(L), in->dims, IR_MAX_RANK, 1, INT32_MAX, what, "shape");
    lua_pop(L, 1);
}

static void ls_model_layers(lua_State *L, LsCtx *c, LsModel *m, int idx, int depth,
                            const char *path)
{
    if (depth > LS_MAX_DEPTH)
        ls_error(L, "model: layer lists nested more than %d deep", LS_MAX_DEPTH);
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    /* every key is 1..n: a hole or a named entry is a mistake */
    lua_Integer keys = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        keys++;
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > n)
            ls_error(L, "model: %s must be a list (found key %s%s%s)", path,
                     lua_type(L, -1) == LUA_TSTRING ? "'" : "",
                     lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1),
                     lua_type(L, -1) == LUA_TSTRING ? "'" : "");
    }
    if (keys != n)
        ls_error(L, "model: %s has holes (a nil entry?)", path);
    for (lua_Integer i = 1; i <= n; i++) {
        luaL_checkstack(L, 4, "layers");
        lua_rawgeti(L, idx, i);
        char sub[256];
        snprintf(sub, sizeof sub, "%s[%d]", path, (int)i);
        LsHandle *h = luaL_testudata(L, -1, LS_LAYER_MT);
        if (h) {
            LS_GROW(m->layers, m->nlayers, m->cap_layers);
            m->layers[m->nlayers++] = h->index;
        } else if (lua_type(L, -1) == LUA_TTABLE && !lua_getmetatable(L, -1)) {
            ls_model_layers(L, c, m, lua_gettop(L), depth + 1, sub);
        } else {
            ls_error(L,
                     "model: %s is %s, expected a layer (dense {...}, conv2d {...}, ...) or "
                     "a list of layers",
                     sub, ls_type_of(L, -1));
        }
        lua_pop(L, 1);
    }
}

static int ls_model(lua_State *L)
{
    static const char *const fields[] = {"name",   "input",   "inputs", "layers",
                                         "output", "outputs", NULL};
    LsCtx *c = ls_ctx(L);
    if (lua_type(L, 1) != LUA_TTABLE)
        ls_error(L, "model: expected a table of fields (model { ... }), got %s", ls_type_of(L, 1));
    lua_settop(L, 1);
    ls_check_keys(L, 1, "model", fields, NULL);
    LS_GROW(c->models, c->nmodels, c->cap_models);
    int mi = c->nmodels++;
    LsModel *m = &c->models[mi];
    memset(m, 0, sizeof *m);
    m->line = ls_line(L);
    m->name = ls_get_string(L, 1, "name", "model");
    if (m->name && !ls_is_identifier(m->name))
        ls_error(L,
                 "model: name '%s' must be a C identifier (letters, digits, _; not starting "
                 "with a digit)",
                 m->name);

    int t1 = ls_field(L, 1, "input"), t2 = ls_field(L, 1, "inputs");
    if ((t1 == LUA_TNIL) == (t2 == LUA_TNIL))
        ls_error(L, "model: give exactly one of 'input' = { name = ..., shape = {...} } and "
                    "'inputs' = { {...}, ... }");
    if (t1 != LUA_TNIL) {
        ls_model_input(L, m, 2, "model: input");
    } else {
        if (t2 != LUA_TTABLE)
            ls_error(L, "model: field 'inputs' must be a list of { name = ..., shape = ... }");
        int n = (int)(lua_Integer)lua_rawlen(L, 3);
        if (n < 1 || n > IR_MAX_IO)
            ls_error(L, "model: field 'inputs' has %d entries, expected 1 to %d", n, IR_MAX_IO);
        for (int i = 1; i <= n; i++) {
            char w[64];
            snprintf(w, sizeof w, "model: inputs[%d]", i);
            lua_rawgeti(L, 3, i);
            ls_model_input(L, m, lua_gettop(L), w);
            lua_pop(L, 1);
        }
    }
    lua_settop(L, 1);

    if (ls_field(L, 1, "layers") != LUA_TTABLE)
        ls_error(L, "model: field 'layers' must be a list of layers, got %s", ls_type_of(L, 2));
    ls_model_layers(L, c, m, 2, 0, "layers");
    if (m->nlayers == 0)
        ls_error(L, "model: 'layers' is empty");
    lua_settop(L, 1);

    t1 = ls_field(L, 1, "output");
    t2 = ls_field(L, 1, "outputs");
    if (t1 != LUA_TNIL && t2 != LUA_TNIL)
        ls_error(L, "model: give 'output' or 'outputs', not both");
    lua_settop(L, 1);
    if (t1 != LUA_TNIL) {
        m->out[0] = ls_get_string(L, 1, "output", "model");
        m->nout = 1;
    } else if (t2 != LUA_TNIL) {
        ls_field(L, 1, "outputs");
        if (t2 != LUA_TTABLE)
            ls_error(L, "model: field 'outputs' must be a list of layer names");
        int n = (int)(lua_Integer)lua_rawlen(L, 2);
        if (n < 1 || n > IR_MAX_IO)
            ls_error(L, "model: field 'outputs' has %d names, expected 1 to %d", n, IR_MAX_IO);
        for (int i = 1; i <= n; i++) {
            lua_rawgeti(L, 2, i);
            if (lua_type(L, -1) != LUA_TSTRING)
                ls_error(L, "model: outputs[%d] must be a layer name, got %s", i,
                         ls_type_of(L, -1));
            m->out[m->nout++] = xstrdup(lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    ls_push_handle(L, LS_MODEL_MT, mi);
    return 1;
}

/* ---- lowering into the graph ---- */

static int ls_fail(LsCtx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ls_fail(LsCtx *c, int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(c->err, sizeof c->err, "%s:%d: %s", c->path, line, msg);
    else
        snprintf(c->err, sizeof c->err, "%s: %s", c->path, msg);
    return -1;
}

static int ls_reserved(const LsCtx *c, const char *name)
{
    for (int i = 0; i < c->nnames; i++)
        if (strcmp(c->names[i], name) == 0)
            return 1;
    return 0;
}

/* A name for a tensor the file did not name: base, or base_1, base_2...
 * avoiding every graph tensor and every name the file uses. */
static int ls_add_tensor(LsCtx *c, const char *base, TensorKind kind)
{
    size_t len = strlen(base) + 24;
    char *name = xmalloc(len);
    snprintf(name, len, "%s", base);
    for (int k = 1; ir_find_tensor(c->g, name) >= 0 || ls_reserved(c, name); k++)
        snprintf(name, len, "%s_%d", base, k);
    int t = ir_add_tensor(c->g, name, kind);
    free(name);
    return t;
}

static int ls_const(LsCtx *c, const char *lname, const char *suffix, int ti, int kn)
{
    char base[300];
    snprintf(base, sizeof base, "%s.%s", lname, suffix);
    int t = ls_add_tensor(c, base, TK_CONST);
    const LsTensor *src = &c->tensors[ti];
    Tensor *dst = &c->g->tensors[t];
    dst->data = xmalloc((size_t)src->count * sizeof *dst->data);
    dst->rank = src->rank;
    memcpy(dst->dims, src->dims, sizeof dst->dims[0] * (size_t)src->rank);
    if (kn) { /* [K, N] -> [N, K] */
        int64_t k = src->dims[0], n = src->dims[1];
        dst->dims[0] = n;
        dst->dims[1] = k;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < k; j++)
                dst->data[i * k + j] = src->data[j * n + i];
    } else {
        memcpy(dst->data, src->data, (size_t)src->count * sizeof *dst->data);
    }
    return t;
}

/* A constant filled with v, for batchnorm's default scale and bias. */
static int ls_const_fill(LsCtx *c, const char *lname, const char *suffix, int64_t n, float v)
{
    char base[300];
    snprintf(base, sizeof base, "%s.%s", lname, suffix);
    int t = ls_add_tensor(c, base, TK_CONST);
    Tensor *dst = &c->g->tensors[t];
    dst->data = xmalloc((size_t)n * sizeof *dst->data);
    for (int64_t i = 0; i < n; i++)
        dst->data[i] = v;
    dst->rank = 1;
    dst->dims[0] = n;
    return t;
}

static int ls_node(LsCtx *c, Op op, const char *name, int layer_no, const int *in, int nin,
                   const Attrs *a, int out)
{
    int n = ir_add_node(c->g, op, name, layer_no);
    Node *node = &c->g->nodes[n];
    if (a)
        node->a = *a;
    node->nin = nin;
    memcpy(node->in, in, sizeof in[0] * (size_t)nin);
    node->nout = 1;
    node->out[0] = out;
    c->g->tensors[out].producer = n;
    return n;
}

/* Where each name lives while lowering: graph tensor and layer number
 * (0 for model inputs), plus the layer a name is defined by, for
 * "refers to a later layer". */
typedef struct LsName {
    const char *name;
    int tensor;
    int layer_no;
} LsName;

static int ls_lookup(const LsName *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i].name, name) == 0)
            return i;
    return -1;
}

static int ls_lower_layer(LsCtx *c, const LsModel *m, int pos, LsName *names, int *nnames,
                          int *prev)
{
    const LsLayer *ly = &c->layers[m->layers[pos]];
    int no = pos + 1;
    char made[64];
    const char *lname = ly->name;
    if (!lname) {
        snprintf(made, sizeof made, "%s_%d", ly->def->name, no);
        lname = made;
    }
    char who[300];
    snprintf(who, sizeof who, "layer %d '%s' (%s)", no, lname, ly->def->name);

    int in[IR_MAX_IO], nin = 0;
    if (ly->nin == 0) {
        in[nin++] = *prev;
    } else {
        for (int i = 0; i < ly->nin; i++) {
            int k = ls_lookup(names, *nnames, ly->in[i]);
            if (k < 0) {
                int later = -1;
                for (int j = pos; j < m->nlayers && later < 0; j++)
                    if (c->layers[m->layers[j]].name &&
                        strcmp(c->layers[m->layers[j]].name, ly->in[i]) == 0)
                        later = j;
                if (later == pos)
                    return ls_fail(c, ly->line, "%s: input '%s' is the layer itself (a cycle)", who,
                                   ly->in[i]);
                if (later >= 0)
                    return ls_fail(c, ly->line,
                                   "%s: input '%s' is layer %d, which comes later (a layer can "
                                   "only read earlier layers and the model inputs; no cycles)",
                                   who, ly->in[i], later + 1);
                return ls_fail(c, ly->line,
                               "%s: unknown input '%s' (no earlier layer or model input has "
                               "that name)",
                               who, ly->in[i]);
            }
            in[nin++] = names[k].tensor;
        }
    }

    /* the layer's output gets its name; with an activation the layer's own
       output is "<name>.preact" */
    int out = -1, mid = -1;
    Op act_op = OP_COUNT;
    Attrs act_a;
    ir_default_attrs(&act_a);
    switch (ly->act) {
    case ACTV_NONE:
        break;
    case ACTV_RELU:
        act_op = OP_RELU;
        break;
    case ACTV_RELU6:
        act_op = OP_CLIP;
        act_a.clip_min = 0.0f;
        act_a.clip_max = 6.0f;
        break;
    case ACTV_LEAKY:
        act_op = OP_LEAKYRELU;
        break;
    case ACTV_SIGMOID:
        act_op = OP_SIGMOID;
        break;
    case ACTV_TANH:
        act_op = OP_TANH;
        break;
    case ACTV_SOFTMAX:
        act_op = OP_SOFTMAX;
        act_a.axis = -1;
        break;
    }
    if (act_op != OP_COUNT) {
        char base[300];
        snprintf(base, sizeof base, "%s.preact", lname);
        mid = ls_add_tensor(c, base, TK_ACT);
    }
    if (ly->name)
        out = ir_add_tensor(c->g, lname, TK_ACT);
    else
        out = ls_add_tensor(c, lname, TK_ACT);
    int first = mid >= 0 ? mid : out;

    Attrs a = ly->a;
    int w[5];
    switch (ly->def->kind) {
    case LK_CONV2D:
    case LK_DENSE:
        w[0] = in[0];
        w[1] = ls_const(c, lname, "weight", ly->w, ly->dense_kn);
        w[2] = ly->b >= 0 ? ls_const(c, lname, "bias", ly->b, 0) : -1;
        ls_node(c, ly->def->kind == LK_CONV2D ? OP_CONV : OP_DENSE, lname, no, w, 3, &a, first);
        break;
    case LK_BATCHNORM: {
        static const char *const suffix[4] = {"scale", "bias", "mean", "var"};
        int64_t ch = c->tensors[ly->bn[2]].dims[0];
        w[0] = in[0];
        for (int i = 0; i < 4; i++)
            w[i + 1] = ly->bn[i] >= 0
                           ? ls_const(c, lname, suffix[i], ly->bn[i], 0)
                           : ls_const_fill(c, lname, suffix[i], ch, i == 0 ? 1.0f : 0.0f);
        ls_node(c, OP_BATCHNORM, lname, no, w, 5, &a, first);
        break;
    }
    case LK_RELU:
        ls_node(c, OP_RELU, lname, no, in, 1, &a, first);
        break;
    case LK_RELU6:
        a.clip_min = 0.0f;
        a.clip_max = 6.0f;
        ls_node(c, OP_CLIP, lname, no, in, 1, &a, first);
        break;
    case LK_LEAKY_RELU:
        ls_node(c, OP_LEAKYRELU, lname, no, in, 1, &a, first);
        break;
    case LK_SIGMOID:
        ls_node(c, OP_SIGMOID, lname, no, in, 1, &a, first);
        break;
    case LK_TANH:
        ls_node(c, OP_TANH, lname, no, in, 1, &a, first);
        break;
    case LK_CLIP:
        ls_node(c, OP_CLIP, lname, no, in, 1, &a, first);
        break;
    case LK_SOFTMAX:
        ls_node(c, OP_SOFTMAX, lname, no, in, 1, &a, first);
        break;
    case LK_MAXPOOL:
        ls_node(c, OP_MAXPOOL, lname, no, in, 1, &a, first);
        break;
    case LK_AVGPOOL:
        ls_node(c, OP_AVGPOOL, lname, no, in, 1, &a, first);
        break;
    case LK_GLOBAL_AVGPOOL:
        ls_node(c, OP_GLOBALAVGPOOL, lname, no, in, 1, &a, first);
        break;
    case LK_FLATTEN:
    case LK_RESHAPE:
        ls_node(c, OP_RESHAPE, lname, no, in, 1, &a, first);
        break;
    case LK_ADD:
        ls_node(c, OP_ADD, lname, no, in, 2, &a, first);
        break;
    case LK_CONCAT:
        ls_node(c, OP_CONCAT, lname, no, in, nin, &a, first);
        break;
    }
    if (act_op != OP_COUNT) {
        char an[300];
        snprintf(an, sizeof an, "%s/%s", lname, ls_actv_names[ly->act]);
        ls_node(c, act_op, an, no, &mid, 1, &act_a, out);
    }
    *prev = out;
    names[*nnames].name = c->g->tensors[out].name;
    names[*nnames].tensor = out;
    names[*nnames].layer_no = no;
    (*nnames)++;
    return 0;
}


static int ls_lower(LsCtx *c, const LsModel *m)
{
    /* names the file gives: unique, and reserved against made-up ones */
    for (int i = 0; i < m->nin; i++) {
        for (int j = 0; j < i; j++)
            if (strcmp(m->in[i].name, m->in[j].name) == 0)
                return ls_fail(c, m->line, "model: duplicate input name '%s'", m->in[i].name);
        LS_GROW(c->names, c->nnames, c->cap_names);
        c->names[c->nnames++] = m->in[i].name;
    }
    for (int p = 0; p < m->nlayers; p++) {
        const LsLayer *ly = &c->layers[m->layers[p]];
        if (!ly->name)
            continue;
        for (int i = 0; i < m->nin; i++)
            if (strcmp(ly->name, m->in[i].name) == 0)
                return ls_fail(c, ly->line,
                               "layer %d '%s' (%s): the name is also the model "
                               "input's",
                               p + 1, ly->name, ly->def->name);
        for (int q = 0; q < p; q++) {
            const LsLayer *o = &c->layers[m->layers[q]];
            if (o->name && strcmp(o->name, ly->name) == 0)
                return ls_fail(c, ly->line,
                               "layer %d '%s' (%s): duplicate name (layer %d at "
                               "line %d has it too)",
                               p + 1, ly->name, ly->def->name, q + 1, o->line);
        }
        LS_GROW(c->names, c->nnames, c->cap_names);
        c->names[c->nnames++] = ly->name;
    }

    char *gname = m->name ? xstrdup(m->name) : ident_from_path(c->path);
    c->g = ir_graph_new(gname);
    free(gname);
    LsName *names = xcalloc((size_t)(m->nin + m->nlayers) + 1, sizeof *names);
    int nnames = 0, prev = -1, rc = 0;
    for (int i = 0; i < m->nin; i++) {
        int t = ir_add_tensor(c->g, m->in[i].name, TK_INPUT);
        Tensor *ten = &c->g->tensors[t];
        ten->rank = m->in[i].rank;
        memcpy(ten->dims, m->in[i].dims, sizeof ten->dims[0] * (size_t)ten->rank);
        c->g->inputs[c->g->ninputs++] = t;
        names[nnames].name = ten->name;
        names[nnames].tensor = t;
        names[nnames].layer_no = 0;
        nnames++;
        if (i == 0)
            prev = t;
    }
    for (int p = 0; p < m->nlayers && rc == 0; p++)
        rc = ls_lower_layer(c, m, p, names, &nnames, &prev);

    /* outputs: the named layers, or the last one */
    for (int i = 0; rc == 0 && i < (m->nout ? m->nout : 1); i++) {
        int t = prev;
        if (m->nout) {
            int k = ls_lookup(names, nnames, m->out[i]);
            if (k < 0)
                rc =
                    ls_fail(c, m->line, "model: output '%s' is not the name of a layer", m->out[i]);
            else if (names[k].layer_no == 0)
                rc = ls_fail(c, m->line, "model: output '%s' is a model input, not a layer",
                             m->out[i]);
            t = k >= 0 ? names[k].tensor : -1;
        }
        for (int j = 0; rc == 0 && j < c->g->noutputs; j++)
            if (c->g->outputs[j] == t)
                rc = ls_fail(c, m->line, "model: output '%s' is listed twice", m->out[i]);
        if (rc == 0)
            c->g->outputs[c->g->noutputs++] = t;
    }
    free(names);
    if (rc < 0)
        return -1;
    if (ir_toposort(c->g) < 0)
        return ls_fail(c, m->line, "%s", c->g->err);

    /* shapes now, so a mismatch names the layer and its line */
    if (ir_infer_shapes(c->g) < 0) {
        const char *msg = c->g->err;
        int no = -1;
        if (sscanf(msg, "node %d (", &no) == 1) {
            const char *p = strstr(msg, "): ");
            msg = p ? p + 3 : msg;
        }
        if (no >= 1 && no <= m->nlayers) {
            const LsLayer *ly = &c->layers[m->layers[no - 1]];
            char made[64];
            snprintf(made, sizeof made, "%s_%d", ly->def->name, no);
            /* the usual mistake: dense straight after a convolution */
            const Node *n = NULL;
            for (int i = 0; i < c->g->nnodes && !n; i++)
                if (c->g->nodes[i].src_index == no)
                    n = &c->g->nodes[i];
            int hint = ly->def->kind == LK_DENSE && n && n->in[0] >= 0 &&
                       c->g->tensors[n->in[0]].rank > 2;
            return ls_fail(c, ly->line, "layer %d '%s' (%s): %s%s", no,
                           ly->name ? ly->name : made, ly->def->name, msg,
                           hint ? " (dense maps the last dimension: put flatten {} before it)"
                                : "");
        }
        return ls_fail(c, m->line, "%s", msg);
    }
    return 0;
}

/* ---- the loader ---- */

static void ls_register(Sandbox *sb, LsCtx *c)
{
    lua_State *L = sandbox_state(sb);
    static const struct {
        const char *mt;
        lua_CFunction tostring;
    } mts[] = {
        {LS_LAYER_MT, ls_layer_tostring}, {LS_TENSOR_MT, ls_tensor_tostring}, {LS_MODEL_MT, NULL}};
    for (size_t i = 0; i < sizeof mts / sizeof mts[0]; i++) {
        luaL_newmetatable(L, mts[i].mt);
        if (mts[i].tostring) {
            lua_pushlightuserdata(L, c);
            lua_pushcclosure(L, mts[i].tostring, 1);
            lua_setfield(L, -2, "__tostring");
        }
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable"); /* scripts cannot read or change it */
        lua_pop(L, 1);
    }
    for (int i = 0; i < LS_NDEFS; i++) {
        lua_pushlightuserdata(L, c);
        lua_pushinteger(L, i);
        lua_pushcclosure(L, ls_layer, 2);
        sandbox_set_global(sb, ls_defs[i].name);
    }
    static const struct {
        const char *name;
        lua_CFunction f;
    } fns[] = {{"model", ls_model}, {"npy", ls_npy}, {"tensor", ls_tensor}};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        lua_pushlightuserdata(L, c);
        lua_pushcclosure(L, fns[i].f, 1);
        sandbox_set_global(sb, fns[i].name);
    }
}

static void ls_ctx_free(LsCtx *c)
{
    for (int i = 0; i < c->ntensors; i++)
        free(c->tensors[i].data);
    free(c->tensors);
    for (int i = 0; i < c->nlayers; i++) {
        free(c->layers[i].name);
        for (int k = 0; k < c->layers[i].nin; k++)
            free(c->layers[i].in[k]);
    }
    free(c->layers);
    for (int i = 0; i < c->nmodels; i++) {
        LsModel *m = &c->models[i];
        free(m->name);
        for (int k = 0; k < m->nin; k++)
            free(m->in[k].name);
        for (int k = 0; k < m->nout; k++)
            free(m->out[k]);
        free(m->layers);
    }
    free(c->models);
    free(c->names);
    free(c->dir);
}

/* A sandbox error ("PATH:LINE: message" and a traceback).  The traceback
 * is dropped when it only says that the main chunk called a constructor
 * (the message has the place already); it stays when the error happened
 * inside the file's own functions. */
static void ls_copy_error(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    char *tb = strstr(err, "\nstack traceback:\n");
    if (!tb)
        return;
    for (const char *line = tb + 18; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        int trivial = strncmp(line, "\t[C]:", 5) == 0 ||
                      (len >= 13 && strncmp(line + len - 13, "in main chunk", 13) == 0);
        if (!trivial)
            return;
        line += len + (end != NULL);
    }
    *tb = 0;
}

Graph *luaspec_load(const char *path, char *err, size_t errlen)
{
    LsCtx c;
    memset(&c, 0, sizeof c);
    c.path = path;
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
    c.dir = xmalloc(dl + 1);
    memcpy(c.dir, path, dl);
    c.dir[dl] = 0;

    Sandbox *sb = sandbox_new(SANDBOX_MEM_LIMIT, SANDBOX_INSTR_LIMIT);
    if (!sb) {
        snprintf(err, errlen, "%s: cannot create a Lua state (out of memory)", path);
        ls_ctx_free(&c);
        return NULL;
    }
    ls_register(sb, &c);
    lua_State *L = sandbox_state(sb);
    char lerr[2048];
    int rc = sandbox_run_file(sb, path, 1, lerr, sizeof lerr);
    if (rc != 0) {
        ls_copy_error(err, errlen, lerr);
    } else {
        LsHandle *h = luaL_testudata(L, -1, LS_MODEL_MT);
        if (!h) {
            ls_fail(&c, 0,
                    "the file must return a model (end it with `return model { ... }`), "
                    "it returned %s",
                    lua_isnil(L, -1) ? "nothing" : ls_type_of(L, -1));
            rc = -1;
        } else {
            rc = ls_lower(&c, &c.models[h->index]);
        }
        if (rc != 0)
            snprintf(err, errlen, "%s", c.err);
    }
    sandbox_free(sb);
    Graph *g = c.g;
    if (rc != 0) {
        ir_graph_free(g);
        g = NULL;
    }
    ls_ctx_free(&c);
    return g;
}
