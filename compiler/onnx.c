/*
 * ONNX frontend: a ModelProto (protobuf-c) into an IR Graph.
 *
 * The import walks the ONNX nodes in topological order and keeps, for every
 * ONNX value name, what it stands for (a Value):
 *   - a graph tensor: an activation or a run-time graph input;
 *   - a constant known here: an initializer, a Constant node, or exporter glue
 *     folded at import (Shape, Gather, Unsqueeze, Squeeze, Concat, Cast,
 *     Slice, ConstantOfShape, Expand, Reshape, Transpose and arithmetic on
 *     constants);
 *   - another value: Identity, Dropout and float-to-float Casts are rewired;
 *   - zero padding (torch's Pad + AveragePool) that the Conv or AveragePool
 *     reading it takes into its own pads.
 * Constants become graph tensors only when a node reads them, one copy per
 * reader, so the initializers that only feed folded glue, or that this file
 * rewrites (a Gemm B is transposed and scaled into a new tensor), never reach
 * the IR, and passes may rewrite a constant in place.
 *
 * Shapes of computed tensors are not known here (ir_infer_shapes finds them
 * later), with one exception torch needs for x.view(x.size(0), -1) when the
 * batch is dynamic: an element of a folded integer constant may be a symbol,
 * "dimension d of tensor T".  A Reshape of T whose target holds that symbol
 * at position d gets 0 there ("keep the input dimension").  Where glue needs
 * a symbol's value (Expand and ConstantOfShape of torch's zero LSTM/GRU
 * state, a Reshape target elsewhere) or the dims of an activation (Squeeze
 * and Unsqueeze of one, which become Reshapes, as the Squeeze between
 * stacked LSTM layers; Gather and Slice of one, which become Slice nodes or
 * a Reshape, as torch's out[:, -1, :] and h_n[-1]), shape inference runs on
 * the graph imported so far (onnx_computed_shape) -- the batch is fixed at
 * compile time, so every dimension is a number by then.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"
#include "onnx.pb-c.h"
#include "tensorfile.h"
#include "util.h"

/* Default-domain opsets imported.  Ops whose inputs or attributes changed in
 * between are read in the form of the model's opset (see onnx_ops[]). */
#define ONNX_MIN_OPSET 1
#define ONNX_MAX_OPSET 17
/* Values of constants made here (folded, or copied for a reader) must stay
 * in proportion to the file, whatever the file asks for: at most
 * ONNX_FOLD_LIMIT in one constant, and in all of them ONNX_FOLD_BUDGET plus
 * two copies of every float32 the file could hold. */
#define ONNX_FOLD_LIMIT ((int64_t)1 << 24)
#define ONNX_FOLD_BUDGET ((int64_t)1 << 24)

/* ---- string -> int hash map (keys owned) ---- */

typedef struct NameMap {
    char **keys;
    int *vals;
    size_t cap, count;
} NameMap;

static size_t nm_slot(const NameMap *m, const char *key)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    size_t i = (size_t)h & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int nm_get(const NameMap *m, const char *key, int missing)
{
    if (!m->cap)
        return missing;
    size_t i = nm_slot(m, key);
    return m->keys[i] ? m->vals[i] : missing;
}

static void nm_set(NameMap *m, const char *key, int val)
{
    if (2 * (m->count + 1) > m->cap) {
        NameMap bigger = {NULL, NULL, m->cap ? 2 * m->cap : 64, 0};
        bigger.keys = xcalloc(bigger.cap, sizeof *bigger.keys);
        bigger.vals = xcalloc(bigger.cap, sizeof *bigger.vals);
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = nm_slot(&bigger, m->keys[i]);
                bigger.keys[j] = m->keys[i];
                bigger.vals[j] = m->vals[i];
                bigger.count++;
            }
        free(m->keys);
        free(m->vals);
        *m = bigger;
    }
    size_t i = nm_slot(m, key);
    if (!m->keys[i]) {
        m->keys[i] = xstrdup(key);
        m->count++;
    }
    m->vals[i] = val;
}

static void nm_free(NameMap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- importer state ---- */

/* A constant known at import.  data always holds the values; idata the exact
 * ones when the source type is an integer; sym, when not NULL, marks the
 * elements that are run-time dimensions (SYM()) rather than numbers. */
typedef struct Const {
    int rank;
    int64_t dims[IR_MAX_RANK];
    int64_t count;
    float *data;
    int64_t *idata;
    int64_t *sym;
} Const;

#define SYM(tensor, dim) ((int64_t)(tensor) << 8 | (dim))
#define SYM_TENSOR(s) ((int)((s) >> 8))
#define SYM_DIM(s) ((int)((s)&0xff))

typedef enum {
    V_TENSOR,   /* graph tensor: activation or run-time input */
    V_INIT,     /* initializer, converted to V_CONST when first read */
    V_CONST,    /* constant in c; each node reading it gets a copy */
    V_SHAPE_OF, /* Shape of an activation whose rank is unknown here */
    V_PADDED,   /* tensor padded with zeros, for the Conv or AveragePool that
                   reads it to take into its own pads */
    V_ALIAS     /* same as values[alias] */
} ValueKind;

typedef struct Value {
    char *name;
    ValueKind kind;
    int tensor;                    /* V_TENSOR, V_SHAPE_OF, V_PADDED: the graph tensor */
    const Onnx__TensorProto *init; /* V_INIT */
    Const c;                       /* V_CONST */
    int shape_start;               /* V_SHAPE_OF: first dimension reported */
    int64_t pads[4];               /* V_PADDED: in the IR's order */
    int pad_rank;                  /* V_PADDED: rank of the tensor */
    int alias;                     /* V_ALIAS */
    int index;                     /* in Importer.values */
} Value;

typedef struct Importer {
    const char *path;
    char err[1024];
    Onnx__ModelProto *model;
    const Onnx__GraphProto *gp;
    Graph *g;
    int64_t opset;
    Value **values;
    int nvalues, cap_values;
    NameMap value_of;  /* ONNX name -> index in values */
    NameMap names;     /* taken names: 1 = a graph tensor, 2 = an ONNX name */
    NameMap used;      /* ONNX names read by a node or a graph output */
    NameMap outputs;   /* graph output names */
    int64_t budget; /* constant values that may still be made */
    /* the node being imported, for error messages */
    const Onnx__NodeProto *node;
    int node_index;
    char *node_name;
} Importer;

static int onnx_fail(Importer *imp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int onnx_fail(Importer *imp, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (imp->node)
        snprintf(imp->err, sizeof imp->err, "%s: node %d (%s \"%s\"): %s", imp->path,
                 imp->node_index, imp->node->op_type ? imp->node->op_type : "", imp->node_name, msg);
    else
        snprintf(imp->err, sizeof imp->err, "%s: %s", imp->path, msg);
    for (char *c = imp->err; *c; c++) /* names come from the file: keep it printable */
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return -1;
}

static const char *str_or_empty(const char *s) { return s ? s : ""; }

/* The name of ONNX data type t ("uint8", "float"), or NULL for none. */
static const char *onnx_type_name(int64_t t, char *buf, size_t len)
{
    if (t <= 0 || t > INT32_MAX)
        return NULL;
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&onnx__tensor_proto__data_type__descriptor, (int)t);
    if (!v || !v->name)
        return NULL;
    size_t i = 0;
    for (; v->name[i] && i + 1 < len; i++)
        buf[i] = (v->name[i] >= 'A' && v->name[i] <= 'Z') ? (char)(v->name[i] - 'A' + 'a')
                                                           : v->name[i];
    buf[i] = 0;
    return buf;
}

/* ---- constants ---- */

static void const_free(Const *c)
{
    free(c->data);
    free(c->idata);
    free(c->sym);
    memset(c, 0, sizeof *c);
}

static int onnx_spend(Importer *imp, int64_t count)
{
    if (count > imp->budget)
        return onnx_fail(imp, "constants folded or copied at import grow too large for the "
                              "size of the file, which is not supported");
    imp->budget -= count;
    return 0;
}

/* Allocates a folded constant of the given shape. */
static int onnx_const_alloc(Importer *imp, Const *c, int rank, const int64_t *dims, int with_int,
                            int with_sym)
{
    memset(c, 0, sizeof *c);
    if (rank < 0 || rank > IR_MAX_RANK)
        return onnx_fail(imp, "folded constant has rank %d, which is not supported (at most %d)",
                         rank, IR_MAX_RANK);
    int64_t count = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return onnx_fail(imp, "folded constant has a negative dimension");
        if (dims[i] && count > ONNX_FOLD_LIMIT / dims[i])
            return onnx_fail(imp, "folded constant is too large (more than %lld values are not "
                                  "supported)",
                             (long long)ONNX_FOLD_LIMIT);
        count *= dims[i];
        c->dims[i] = dims[i];
    }
    if (onnx_spend(imp, count) < 0)
        return -1;
    c->rank = rank;
    c->count = count;
    c->data = xcalloc((size_t)count, sizeof *c->data);
    if (with_int)
        c->idata = xcalloc((size_t)count, sizeof *c->idata);
    if (with_sym) {
        c->sym = xmalloc((size_t)count * sizeof *c->sym);
        for (int64_t i = 0; i < count; i++)
            c->sym[i] = -1;
    }
    return 0;
}

/* Truncation toward zero that saturates (and maps NaN to 0), where a plain
 * cast would be undefined. */
static int64_t float_to_int64(float v)
{
    if (!(v == v))
        return 0;
    if (v >= 9.2233720e18f)
        return INT64_MAX;
    if (v <= -9.2233720e18f)
        return INT64_MIN;
    return (int64_t)v;
}

/* dst[di] = src[si], with integer and symbol data where dst has them. */
static void const_copy(Const *dst, int64_t di, const Const *src, int64_t si)
{
    dst->data[di] = src->data[si];
    if (dst->idata)
        dst->idata[di] = src->idata ? src->idata[si] : float_to_int64(src->data[si]);
    if (dst->sym)
        dst->sym[di] = src->sym ? src->sym[si] : -1;
}

static int const_has_sym(const Const *c)
{
    if (c->sym)
        for (int64_t i = 0; i < c->count; i++)
            if (c->sym[i] >= 0)
                return 1;
    return 0;
}

static void shape_text(char *buf, size_t len, int rank, const int64_t *dims)
{
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < rank && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (k < len)
        snprintf(buf + k, len - k, "]");
}

/* ---- names and values ---- */

/* A graph-tensor name: base (the ONNX name of the value, or of the one a new
 * constant is made from) unless a graph tensor has it already, else the
 * first of base_1, base_2, ... that no graph tensor and no ONNX value uses. */
static char *onnx_take_name(Importer *imp, const char *base)
{
    size_t len = strlen(base) + 24;
    char *name = xmalloc(len);
    snprintf(name, len, "%s", base);
    if (nm_get(&imp->names, name, 0) == 1) {
        int k = 1;
        do /* a made-up name must not be an ONNX name either */
            snprintf(name, len, "%s_%d", base, k++);
        while (nm_get(&imp->names, name, 0));
    }
    nm_set(&imp->names, name, 1);
    return name;
}

static int onnx_add_tensor(Importer *imp, const char *base, TensorKind kind)
{
    char *name = onnx_take_name(imp, base);
    int t = ir_add_tensor(imp->g, name, kind);
    free(name);
    return t;
}

static Value *onnx_new_value(Importer *imp, const char *name, ValueKind kind)
{
    if (imp->nvalues == imp->cap_values) {
        imp->cap_values = imp->cap_values ? 2 * imp->cap_values : 64;
        imp->values = xrealloc(imp->values, (size_t)imp->cap_values * sizeof *imp->values);
    }
    Value *v = xcalloc(1, sizeof *v);
    v->name = xstrdup(name);
    v->kind = kind;
    v->tensor = -1;
    v->alias = -1;
    v->index = imp->nvalues;
    nm_set(&imp->value_of, name, imp->nvalues);
    imp->values[imp->nvalues++] = v;
    return v;
}

/* A constant from file or proto data (tf is freed).  what names it. */
static int onnx_const_from_tf(Importer *imp, TensorFile *tf, const char *what, Const *c)
{
    memset(c, 0, sizeof *c);
    if (tf->rank > IR_MAX_RANK) {
        tf_free(tf);
        return onnx_fail(imp, "%s has rank %d, which is not supported (at most %d)", what,
                         tf->rank, IR_MAX_RANK);
    }
    c->rank = tf->rank;
    memcpy(c->dims, tf->dims, sizeof c->dims[0] * (size_t)tf->rank);
    c->count = tf->count;
    c->data = tf_to_float(tf);
    if (tf->type != TF_F32 && tf->type != TF_F64)
        c->idata = tf_to_int64(tf);
    tf_free(tf);
    return 0;
}

static int onnx_const_from_proto(Importer *imp, const Onnx__TensorProto *tp, const char *what,
                                 Const *c)
{
    char err[768];
    TensorFile tf;
    memset(c, 0, sizeof *c);
    if (tf_from_tensor_proto(tp, &tf, what, err, sizeof err) < 0)
        return onnx_fail(imp, "%s", err);
    return onnx_const_from_tf(imp, &tf, what, c);
}

/* Converts an initializer on first use. */
static int onnx_convert_init(Importer *imp, Value *v)
{
    char what[512];
    snprintf(what, sizeof what, "initializer '%s'", v->name);
    if (onnx_const_from_proto(imp, v->init, what, &v->c) < 0)
        return -1;
    v->kind = V_CONST;
    v->init = NULL;
    return 0;
}

/* The value called name, aliases followed and initializers converted;
 * NULL with an error when nothing defines it. */
static Value *onnx_lookup(Importer *imp, const char *name)
{
    int i = nm_get(&imp->value_of, name, -1);
    if (i < 0) {
        onnx_fail(imp, "'%s' is not defined", name);
        return NULL;
    }
    Value *v = imp->values[i];
    while (v->kind == V_ALIAS)
        v = imp->values[v->alias];
    if (v->kind == V_INIT && onnx_convert_init(imp, v) < 0)
        return NULL;
    return v;
}

/* ---- node inputs ---- */

static const char *onnx_input_name(const Importer *imp, int i)
{
    const Onnx__NodeProto *n = imp->node;
    if (i < 0 || (size_t)i >= n->n_input || !n->input[i] || !n->input[i][0])
        return NULL;
    return n->input[i];
}

static const char *onnx_output_name(const Importer *imp, int i)
{
    const Onnx__NodeProto *n = imp->node;
    if (i < 0 || (size_t)i >= n->n_output || !n->output[i] || !n->output[i][0])
        return NULL;
    return n->output[i];
}

/* Input i, or NULL in *v when it is absent (optional). */
static int onnx_in(Importer *imp, int i, Value **v)
{
    *v = NULL;
    const char *name = onnx_input_name(imp, i);
    if (!name)
        return 0;
    *v = onnx_lookup(imp, name);
    return *v ? 0 : -1;
}

static int onnx_in_required(Importer *imp, int i, Value **v)
{
    if (onnx_in(imp, i, v) < 0)
        return -1;
    if (!*v)
        return onnx_fail(imp, "input %d is missing", i);
    return 0;
}

/* Input i as a constant; *c = NULL when it is optional and absent. */
static int onnx_in_const(Importer *imp, int i, int required, const Const **c)
{
    Value *v;
    *c = NULL;
    if ((required ? onnx_in_required(imp, i, &v) : onnx_in(imp, i, &v)) < 0)
        return -1;
    if (!v)
        return 0;
    if (v->kind != V_CONST) {
        int input = v->kind == V_TENSOR && imp->g->tensors[v->tensor].kind == TK_INPUT;
        return onnx_fail(imp, "input %d ('%s') must be a constant (%s is not supported here%s)", i,
                         v->name, input ? "a run-time graph input" : "a computed tensor",
                         input ? "; freeze it with --bind" : "");
    }
    *c = &v->c;
    return 0;
}

static int onnx_in_ints(Importer *imp, int i, const Const **c)
{
    if (onnx_in_const(imp, i, 1, c) < 0)
        return -1;
    if (!(*c)->idata)
        return onnx_fail(imp, "input %d ('%s') must be an integer tensor", i, imp->node->input[i]);
    return 0;
}

/* A graph tensor holding constant c, which the caller filled (taken over). */
static int onnx_const_tensor(Importer *imp, const char *base, Const *c)
{
    int t = onnx_add_tensor(imp, base, TK_CONST);
    Tensor *ten = &imp->g->tensors[t];
    ten->rank = c->rank;
    memcpy(ten->dims, c->dims, sizeof ten->dims[0] * (size_t)c->rank);
    ten->data = c->data;
    ten->idata = c->idata;
    c->data = NULL;
    c->idata = NULL;
    const_free(c);
    return t;
}

static void const_clone(Const *dst, const Const *src)
{
    *dst = *src;
    dst->data = xmalloc((size_t)src->count * sizeof *dst->data);
    memcpy(dst->data, src->data, (size_t)src->count * sizeof *dst->data);
    dst->idata = NULL;
    if (src->idata) {
        dst->idata = xmalloc((size_t)src->count * sizeof *dst->idata);
        memcpy(dst->idata, src->idata, (size_t)src->count * sizeof *dst->idata);
    }
    dst->sym = NULL;
}

/* The graph tensor of a value that a node reads as data.  Each reader of a
 * constant gets its own copy, so that passes may rewrite constants in place
 * (BatchNormalization folding, bias fusion) without touching other nodes. */
static int onnx_tensor(Importer *imp, Value *v)
{
    if (v->kind == V_SHAPE_OF)
        return onnx_fail(imp, "'%s' (Shape of a computed tensor) can only feed Gather (other "
                              "uses are not supported)",
                         v->name);
    if (v->kind == V_PADDED)
        return onnx_fail(imp, "'%s' (output of Pad) can only feed Conv or AveragePool (other "
                              "uses are not supported)",
                         v->name);
    if (v->kind == V_TENSOR)
        return v->tensor;
    if (const_has_sym(&v->c))
        return onnx_fail(imp, "'%s' depends on the run-time shape of a computed tensor; it can "
                              "only be used as a Reshape target (other uses are not supported)",
                         v->name);
    Const copy;
    if (onnx_spend(imp, v->c.count) < 0)
        return -1;
    const_clone(&copy, &v->c);
    return onnx_const_tensor(imp, v->name, &copy);
}

static int onnx_in_tensor(Importer *imp, int i, int *t)
{
    Value *v;
    if (onnx_in_required(imp, i, &v) < 0)
        return -1;
    *t = onnx_tensor(imp, v);
    return *t < 0 ? -1 : 0;
}

/* Input 0 of a Conv or pool.  A zero Pad in front of it comes back in pads
 * (IR order) and pad_rank (0 when there is none) for the node to absorb. */
static int onnx_in_padded(Importer *imp, int *x, int64_t *pads, int *pad_rank)
{
    Value *v;
    memset(pads, 0, 4 * sizeof *pads);
    *pad_rank = 0;
    if (onnx_in_required(imp, 0, &v) < 0)
        return -1;
    if (v->kind == V_PADDED) {
        memcpy(pads, v->pads, sizeof v->pads);
        *pad_rank = v->pad_rank;
        *x = v->tensor;
        return 0;
    }
    *x = onnx_tensor(imp, v);
    return *x < 0 ? -1 : 0;
}

/* Rank and dims when known at import (constants, graph inputs). */
static int onnx_known_shape(const Importer *imp, const Value *v, int *rank, int64_t *dims)
{
    if (v->kind == V_CONST) {
        *rank = v->c.rank;
        memcpy(dims, v->c.dims, sizeof dims[0] * (size_t)v->c.rank);
        return 1;
    }
    if (v->kind == V_TENSOR && imp->g->tensors[v->tensor].kind == TK_INPUT) {
        const Tensor *t = &imp->g->tensors[v->tensor];
        *rank = t->rank;
        memcpy(dims, t->dims, sizeof dims[0] * (size_t)t->rank);
        return 1;
    }
    return 0;
}

/* Tensor t with its dims, found for a computed tensor by running shape
 * inference over the graph imported so far.  Exporter glue that reads the
 * shape of an activation (torch's zero LSTM/GRU state, Squeeze of an LSTM
 * output, h_n[-1]) needs dims here; the batch is fixed at compile time, so
 * they are numbers. */
static int onnx_computed_shape(Importer *imp, int t, const Tensor **out)
{
    *out = NULL;
    if (imp->g->tensors[t].kind == TK_ACT && ir_infer_shapes(imp->g) < 0)
        return onnx_fail(imp, "cannot tell the shape of '%s': %s", imp->g->tensors[t].name,
                         imp->g->err);
    *out = &imp->g->tensors[t];
    return 0;
}

/* The number a symbol ("dimension d of tensor T") stands for. */
static int onnx_sym_dim(Importer *imp, int64_t sym, int64_t *out)
{
    const Tensor *t = NULL;
    if (onnx_computed_shape(imp, SYM_TENSOR(sym), &t) < 0)
        return -1;
    if (SYM_DIM(sym) >= t->rank)
        return onnx_fail(imp, "dimension %d of '%s' does not exist (rank %d)", SYM_DIM(sym),
                         t->name, t->rank);
    *out = t->dims[SYM_DIM(sym)];
    return 0;
}

/* Replaces every symbol of the integer constant c by its number. */
static int onnx_resolve_syms(Importer *imp, Const *c)
{
    if (!const_has_sym(c))
        return 0;
    if (!c->idata)
        return onnx_fail(imp, "run-time dimensions in a non-integer constant");
    for (int64_t i = 0; i < c->count; i++) {
        if (c->sym[i] < 0)
            continue;
        if (onnx_sym_dim(imp, c->sym[i], &c->idata[i]) < 0)
            return -1;
        c->data[i] = (float)c->idata[i];
        c->sym[i] = -1;
    }
    return 0;
}

/* ---- node outputs ---- */

static int onnx_new_node(Importer *imp, Op op)
{
    return ir_add_node(imp->g, op, imp->node_name, imp->node_index);
}

/* A new activation tensor, output slot k of IR node n, named after base;
 * returns its index. */
static int onnx_node_output(Importer *imp, int n, int k, const char *base)
{
    int t = onnx_add_tensor(imp, base, TK_ACT);
    imp->g->tensors[t].producer = n;
    Node *node = &imp->g->nodes[n];
    node->out[k] = t;
    if (node->nout < k + 1)
        node->nout = k + 1;
    return t;
}

/* ONNX value name is output slot k of IR node n. */
static void onnx_bind_output(Importer *imp, int n, int k, const char *name)
{
    Value *v = onnx_new_value(imp, name, V_TENSOR);
    v->tensor = onnx_node_output(imp, n, k, name);
}

/* Output k of the ONNX node becomes output k of IR node n. */
static int onnx_out_act(Importer *imp, int n, int k)
{
    const char *name = onnx_output_name(imp, k);
    if (!name) {
        if (k == 0)
            return onnx_fail(imp, "output 0 is missing");
        return 0;
    }
    onnx_bind_output(imp, n, k, name);
    return 0;
}

/* A Reshape node from computed tensor t to dims (Squeeze, Unsqueeze and
 * Gather of an activation). */
static int onnx_reshape_node(Importer *imp, int t, int rank, const int64_t *dims)
{
    if (rank < 1)
        return onnx_fail(imp, "a scalar result of a computed tensor is not supported");
    int n = onnx_new_node(imp, OP_RESHAPE);
    Node *node = &imp->g->nodes[n];
    node->a.nshape = rank;
    memcpy(node->a.shape, dims, sizeof dims[0] * (size_t)rank);
    node->nin = 1;
    node->in[0] = t;
    return onnx_out_act(imp, n, 0);
}

/* A Slice node of graph tensor t: [start, start + len) along axis, which
 * drop removes (Gather of a scalar index); returns the node. */
static int onnx_slice_node(Importer *imp, int t, int axis, int64_t start, int64_t len, int drop)
{
    int n = onnx_new_node(imp, OP_SLICE);
    Node *node = &imp->g->nodes[n];
    node->a.axis = axis;
    node->a.slice_start = start;
    node->a.slice_len = len;
    node->a.slice_drop = drop;
    node->nin = 1;
    node->in[0] = t;
    return n;
}

/* Output 0 is the folded constant c (taken over). */
static int onnx_out_const(Importer *imp, Const *c)
{
    const char *name = onnx_output_name(imp, 0);
    if (!name) {
        const_free(c);
        return 0;
    }
    Value *v = onnx_new_value(imp, name, V_CONST);
    v->c = *c;
    memset(c, 0, sizeof *c);
    return 0;
}

static int onnx_out_shape_of(Importer *imp, int tensor, int start)
{
    const char *name = onnx_output_name(imp, 0);
    if (name) {
        Value *v = onnx_new_value(imp, name, V_SHAPE_OF);
        v->tensor = tensor;
        v->shape_start = start;
    }
    return 0;
}

/* Output 0 is src under another name (Identity, Dropout, Cast to float). */
static int onnx_out_forward(Importer *imp, Value *src)
{
    const char *name = onnx_output_name(imp, 0);
    if (!name)
        return 0;
    if (nm_get(&imp->outputs, name, 0)) {
        /* a graph output must be computed by a node: copy an input through
           a Reshape to its own (known) shape */
        if (src->kind == V_TENSOR && imp->g->tensors[src->tensor].kind == TK_INPUT) {
            const Tensor *in = &imp->g->tensors[src->tensor];
            int n = onnx_new_node(imp, OP_RESHAPE);
            Node *node = &imp->g->nodes[n];
            node->nin = 1;
            node->in[0] = src->tensor;
            node->a.nshape = in->rank;
            memcpy(node->a.shape, in->dims, sizeof in->dims[0] * (size_t)in->rank);
            return onnx_out_act(imp, n, 0);
        }
        if (src->kind != V_TENSOR)
            return onnx_fail(imp, "graph output '%s' would be a constant, which is not supported",
                             name);
    }
    Value *v = onnx_new_value(imp, name, V_ALIAS);
    v->alias = src->index;
    return 0;
}

/* ---- attributes ---- */

static const char *const attr_type_names[] = {
    "UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "FLOATS", "INTS", "STRINGS",
    "TENSORS", "GRAPHS", "SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS"};

/* Declared type, or guessed from the filled field for old writers. */
static int attr_type(const Onnx__AttributeProto *a)
{
    if (a->has_type)
        return (int)a->type;
    if (a->n_ints)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    if (a->n_floats)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    if (a->t)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    if (a->has_s)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    if (a->has_i)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    if (a->has_f)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED;
}

static const Onnx__AttributeProto *onnx_attr(const Importer *imp, const char *name)
{
    for (size_t i = 0; i < imp->node->n_attribute; i++) {
        const Onnx__AttributeProto *a = imp->node->attribute[i];
        if (a && a->name && strcmp(a->name, name) == 0)
            return a;
    }
    return NULL;
}

/* The attribute called name if present, checked to be of type want. */
static int onnx_attr_typed(Importer *imp, const char *name, int want,
                           const Onnx__AttributeProto **out)
{
    *out = onnx_attr(imp, name);
    if (!*out)
        return 0;
    int t = attr_type(*out);
    if (t != want) {
        const char *tn = t >= 0 && (size_t)t < sizeof attr_type_names / sizeof attr_type_names[0]
                             ? attr_type_names[t]
                             : "?";
        return onnx_fail(imp, "attribute '%s' has type %s, expected %s", name, tn,
                         attr_type_names[want]);
    }
    return 0;
}

static int onnx_attr_int(Importer *imp, const char *name, int64_t def, int64_t *out)
{
    const Onnx__AttributeProto *a;
    *out = def;
    if (onnx_attr_typed(imp, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, &a) < 0)
        return -1;
    if (a)
        *out = a->i;
    return 0;
}

static int onnx_attr_float(Importer *imp, const char *name, float def, float *out)
{
    const Onnx__AttributeProto *a;
    *out = def;
    if (onnx_attr_typed(imp, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, &a) < 0)
        return -1;
    if (a)
        *out = a->f;
    return 0;
}

/* At most max ints into out; *n = -1 when the attribute is absent. */
static int onnx_attr_ints(Importer *imp, const char *name, int64_t *out, int max, int *n)
{
    const Onnx__AttributeProto *a;
    *n = -1;
    if (onnx_attr_typed(imp, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, &a) < 0)
        return -1;
    if (!a)
        return 0;
    if (a->n_ints > (size_t)max)
        return onnx_fail(imp, "attribute '%s' has %zu values (more than %d are not supported)",
                         name, a->n_ints, max);
    *n = (int)a->n_ints;
    if (a->n_ints)
        memcpy(out, a->ints, sizeof *out * a->n_ints);
    return 0;
}

/* The string attribute, NUL-terminated into out (truncated if longer). */
static int onnx_attr_string(Importer *imp, const char *name, const char *def, char *out,
                            size_t outlen)
{
    const Onnx__AttributeProto *a;
    snprintf(out, outlen, "%s", def);
    if (onnx_attr_typed(imp, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, &a) < 0)
        return -1;
    if (a) {
        size_t len = a->s.len < outlen - 1 ? a->s.len : outlen - 1;
        if (len)
            memcpy(out, a->s.data, len);
        out[len] = 0;
        for (size_t i = 0; i < len; i++)
            if (out[i] < 0x20 || out[i] > 0x7e)
                out[i] = '?'; /* keep error messages printable */
    }
    return 0;
}

/* ---- Conv and pools: spatial attributes into the IR's 2-D form ---- */

/* nsp: 1 or 2 spatial dims.  wkernel: kernel dims from the Conv weight, or
 * NULL for pools (kernel_shape is then required). */
static int onnx_spatial_attrs(Importer *imp, int nsp, const int64_t *wkernel, int has_dilations,
                              Attrs *a)
{
    int64_t kernel[2] = {1, 1}, strides[2] = {1, 1}, dil[2] = {1, 1}, pads[4] = {0, 0, 0, 0};
    int nk, ns, nd = -1, np;
    if (onnx_attr_ints(imp, "kernel_shape", kernel, 2, &nk) < 0 ||
        onnx_attr_ints(imp, "strides", strides, 2, &ns) < 0 ||
        (has_dilations && onnx_attr_ints(imp, "dilations", dil, 2, &nd) < 0) ||
        onnx_attr_ints(imp, "pads", pads, 4, &np) < 0)
        return -1;
    if (nk < 0 && !wkernel)
        return onnx_fail(imp, "missing attribute kernel_shape");
    if (nk >= 0 && nk != nsp)
        return onnx_fail(imp, "attribute kernel_shape has %d values, expected %d", nk, nsp);
    if (ns >= 0 && ns != nsp)
        return onnx_fail(imp, "attribute strides has %d values, expected %d", ns, nsp);
    if (nd >= 0 && nd != nsp)
        return onnx_fail(imp, "attribute dilations has %d values, expected %d", nd, nsp);
    if (np >= 0 && np != 2 * nsp)
        return onnx_fail(imp, "attribute pads has %d values, expected %d", np, 2 * nsp);
    for (int i = 0; i < nsp; i++) {
        if (wkernel && nk < 0)
            kernel[i] = wkernel[i];
        if (wkernel && kernel[i] != wkernel[i])
            return onnx_fail(imp, "attribute kernel_shape does not match the weight's shape");
        if (kernel[i] < 1)
            return onnx_fail(imp, "attribute kernel_shape has a value %lld (must be >= 1)",
                             (long long)kernel[i]);
        if (strides[i] < 1)
            return onnx_fail(imp, "attribute strides has a value %lld (must be >= 1)",
                             (long long)strides[i]);
        if (dil[i] < 1)
            return onnx_fail(imp, "attribute dilations has a value %lld (must be >= 1)",
                             (long long)dil[i]);
    }
    int any_pad = 0;
    for (int i = 0; i < 2 * nsp; i++) {
        if (pads[i] < 0)
            return onnx_fail(imp, "attribute pads has a value %lld (must be >= 0)",
                             (long long)pads[i]);
        any_pad |= pads[i] != 0;
    }

    char mode[32];
    if (onnx_attr_string(imp, "auto_pad", "NOTSET", mode, sizeof mode) < 0)
        return -1;
    if (strcmp(mode, "NOTSET") == 0)
        a->auto_pad = PAD_NOTSET;
    else if (strcmp(mode, "VALID") == 0)
        a->auto_pad = PAD_VALID;
    else if (strcmp(mode, "SAME_UPPER") == 0)
        a->auto_pad = PAD_SAME_UPPER;
    else if (strcmp(mode, "SAME_LOWER") == 0)
        a->auto_pad = PAD_SAME_LOWER;
    else
        return onnx_fail(imp, "unsupported attribute auto_pad=%s", mode);
    if (a->auto_pad != PAD_NOTSET && any_pad)
        return onnx_fail(imp, "attributes pads and auto_pad=%s are both given", mode);

    if (nsp == 1) { /* 1-D: H = 1, the ONNX values describe W */
        a->kernel[0] = a->strides[0] = a->dilations[0] = 1;
        a->kernel[1] = kernel[0];
        a->strides[1] = strides[0];
        a->dilations[1] = dil[0];
        a->pads[0] = a->pads[2] = 0;
        a->pads[1] = pads[0];
        a->pads[3] = pads[1];
    } else {
        memcpy(a->kernel, kernel, sizeof kernel);
        memcpy(a->strides, strides, sizeof strides);
        memcpy(a->dilations, dil, sizeof dil);
        memcpy(a->pads, pads, sizeof pads);
    }
    return 0;
}

/* Adds the zero padding of a Pad in front into a Conv's or AveragePool's
 * pads (for AveragePool the caller makes the padding count). */
static int onnx_absorb_pad(Importer *imp, int nsp, const int64_t *pads, int pad_rank, Attrs *a)
{
    if (pad_rank != nsp + 2)
        return onnx_fail(imp, "the Pad in front has rank %d, this node expects %d", pad_rank,
                         nsp + 2);
    if (a->auto_pad != PAD_NOTSET)
        return onnx_fail(imp, "a Pad in front of auto_pad is not supported");
    for (int i = 0; i < 4; i++) {
        if (a->pads[i] > INT32_MAX || pads[i] > INT32_MAX)
            return onnx_fail(imp, "pads larger than %d are not supported", INT32_MAX);
        a->pads[i] += pads[i];
    }
    return 0;
}

/* ---- op importers ---- */

/* Number of inputs an op takes from opset since on (until the next row). */
typedef struct OnnxArity {
    int since;
    int min_in, max_in; /* max_in < 0: any number */
} OnnxArity;

/* An attribute an op has in opsets [since, until); 0: no bound. */
typedef struct OnnxAttr {
    const char *name;
    int since, until;
} OnnxAttr;

#define ATTR(name) {name, 0, 0}
#define ATTR_SINCE(name, opset) {name, opset, 0}
#define ATTR_UNTIL(name, opset) {name, 0, opset}
#define ATTR_LEGACY ATTR_UNTIL("consumed_inputs", 6) /* before opset 6, ignored */

/* One ONNX op.  io and attrs follow the op's schema history (onnx/defs,
 * onnx/docs/Changelog.md) from opset 1; the importer reads the form of the
 * model's opset. */
typedef struct OnnxOp OnnxOp;
struct OnnxOp {
    const char *name;
    int (*import)(Importer *imp, const OnnxOp *op);
    Op ir_op;          /* for importers shared by several ops; OP_COUNT:
                          folded or rewired at import */
    OnnxArity io[2];   /* by increasing since; io[0].since: first opset of
                          the op */
    OnnxAttr attrs[10]; /* accepted attributes */
};

static int onnx_op_conv(Importer *imp, const OnnxOp *op)
{
    (void)op;
    int x, pad_rank;
    int64_t pads[4];
    const Const *w, *b;
    if (onnx_in_padded(imp, &x, pads, &pad_rank) < 0 || onnx_in_const(imp, 1, 1, &w) < 0 ||
        onnx_in_const(imp, 2, 0, &b) < 0)
        return -1;
    if (w->rank == 5)
        return onnx_fail(imp, "3-D convolution is not supported");
    if (w->rank != 3 && w->rank != 4)
        return onnx_fail(imp, "weight '%s' has rank %d, expected 3 or 4", imp->node->input[1],
                         w->rank);
    if (w->count == 0)
        return onnx_fail(imp, "weight '%s' is empty, which is not supported", imp->node->input[1]);
    if (w->idata)
        return onnx_fail(imp, "weight '%s' is an integer tensor, expected float (models quantized "
                              "in ONNX are not supported)", imp->node->input[1]);
    int nsp = w->rank - 2;
    int64_t oc = w->dims[0];
    Attrs a;
    ir_default_attrs(&a);
    if (onnx_spatial_attrs(imp, nsp, w->dims + 2, 1, &a) < 0 ||
        onnx_attr_int(imp, "group", 1, &a.group) < 0)
        return -1;
    if (pad_rank && onnx_absorb_pad(imp, nsp, pads, pad_rank, &a) < 0)
        return -1;
    if (a.group < 1 || oc < 1 || oc % a.group != 0)
        return onnx_fail(imp, "unsupported attribute group=%lld for %lld output channels",
                         (long long)a.group, (long long)oc);
    if (b && (b->rank != 1 || b->dims[0] != oc))
        return onnx_fail(imp, "bias '%s' has %lld values, expected %lld", imp->node->input[2],
                         (long long)b->count, (long long)oc);

    /* own copies: BN folding rewrites conv weights and bias in place */
    if (onnx_spend(imp, w->count + (b ? b->count : 0)) < 0)
        return -1;
    Const wc;
    const_clone(&wc, w);
    if (nsp == 1) { /* [OC, IC/g, K] -> [OC, IC/g, 1, K] */
        wc.rank = 4;
        wc.dims[3] = wc.dims[2];
        wc.dims[2] = 1;
    }
    int wt = onnx_const_tensor(imp, imp->node->input[1], &wc);
    int bt = -1;
    if (b) {
        Const bc;
        const_clone(&bc, b);
        bt = onnx_const_tensor(imp, imp->node->input[2], &bc);
    }
    int n = onnx_new_node(imp, OP_CONV);
    Node *node = &imp->g->nodes[n];
    node->a = a;
    node->nin = 3;
    node->in[0] = x;
    node->in[1] = wt;
    node->in[2] = bt;
    return onnx_out_act(imp, n, 0);
}

/* Dense from a runtime x, a new [N,K] weight and an optional [N] bias. */
static int onnx_dense(Importer *imp, int x, const char *wname, Const *w, const char *bname,
                      Const *bias)
{
    int wt = onnx_const_tensor(imp, wname, w);
    int bt = bias ? onnx_const_tensor(imp, bname, bias) : -1;
    int n = onnx_new_node(imp, OP_DENSE);
    Node *node = &imp->g->nodes[n];
    node->nin = 3;
    node->in[0] = x;
    node->in[1] = wt;
    node->in[2] = bt;
    return onnx_out_act(imp, n, 0);
}

static int onnx_op_gemm(Importer *imp, const OnnxOp *op)
{
    (void)op;
    Value *av;
    const Const *b, *c;
    int64_t trans_a, trans_b;
    float alpha, beta;
    if (onnx_attr_int(imp, "transA", 0, &trans_a) < 0 ||
        onnx_attr_int(imp, "transB", 0, &trans_b) < 0 ||
        onnx_attr_float(imp, "alpha", 1.0f, &alpha) < 0 ||
        onnx_attr_float(imp, "beta", 1.0f, &beta) < 0)
        return -1;
    if (trans_a != 0)
        return onnx_fail(imp, "unsupported attribute transA=%lld", (long long)trans_a);
    if (trans_b != 0 && trans_b != 1)
        return onnx_fail(imp, "unsupported attribute transB=%lld", (long long)trans_b);
    if (onnx_in_required(imp, 0, &av) < 0 || onnx_in_const(imp, 1, 1, &b) < 0 ||
        onnx_in_const(imp, 2, 0, &c) < 0)
        return -1;
    if (av->kind != V_TENSOR)
        return onnx_fail(imp, "Gemm with a constant A is not supported");
    if (b->rank != 2)
        return onnx_fail(imp, "B ('%s') has rank %d, expected 2", imp->node->input[1], b->rank);
    if (b->count == 0)
        return onnx_fail(imp, "B ('%s') is empty, which is not supported", imp->node->input[1]);
    if (b->idata)
        return onnx_fail(imp, "B ('%s') is an integer tensor, expected float (models quantized "
                              "in ONNX are not supported)", imp->node->input[1]);
    int64_t n = trans_b ? b->dims[0] : b->dims[1];
    int64_t k = trans_b ? b->dims[1] : b->dims[0];

    Const w;
    int64_t wdims[2] = {n, k};
    if (onnx_const_alloc(imp, &w, 2, wdims, 0, 0) < 0)
        return -1;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++)
            w.data[i * k + j] = alpha * b->data[trans_b ? i * k + j : j * n + i];

    /* before opset 7, C broadcasts only with broadcast=1; else it is [M, N] */
    int64_t broadcast = 1;
    if (imp->opset < 7 && onnx_attr_int(imp, "broadcast", 0, &broadcast) < 0) {
        const_free(&w);
        return -1;
    }
    if (c && !broadcast) {
        int arank;
        int64_t adims[IR_MAX_RANK];
        int ok = c->rank == 2 && c->dims[1] == n;
        if (ok && onnx_known_shape(imp, av, &arank, adims) && arank == 2)
            ok = c->dims[0] == adims[0];
        if (!ok) {
            char sh[128];
            shape_text(sh, sizeof sh, c->rank, c->dims);
            const_free(&w);
            return onnx_fail(imp, "C ('%s') has shape %s; before opset 7, a C that is not "
                                  "[M, N] needs attribute broadcast=1",
                             imp->node->input[2], sh);
        }
    }

    Const bias, *biasp = NULL;
    if (c && beta != 0.0f) {
        /* C must broadcast to [N]: [N], [1,N], or a single value */
        int64_t cn = c->rank ? c->dims[c->rank - 1] : 1;
        int ok = c->rank <= 2 && (cn == n || cn == 1) && (c->rank < 2 || c->dims[0] == 1);
        if (!ok) {
            char sh[128];
            shape_text(sh, sizeof sh, c->rank, c->dims);
            const_free(&w);
            return onnx_fail(imp, "C ('%s') of shape %s does not broadcast to [%lld] "
                                  "(per-row bias is not supported)",
                             imp->node->input[2], sh, (long long)n);
        }
        if (onnx_const_alloc(imp, &bias, 1, &n, 0, 0) < 0) {
            const_free(&w);
            return -1;
        }
        for (int64_t i = 0; i < n; i++)
            bias.data[i] = beta * c->data[c->count == 1 ? 0 : i];
        biasp = &bias;
    }
    int x = onnx_tensor(imp, av);
    return onnx_dense(imp, x, imp->node->input[1], &w, c ? imp->node->input[2] : NULL, biasp);
}

static int onnx_op_matmul(Importer *imp, const OnnxOp *op)
{
    (void)op;
    Value *av, *bv;
    if (onnx_in_required(imp, 0, &av) < 0 || onnx_in_required(imp, 1, &bv) < 0)
        return -1;
    if (bv->kind != V_CONST) {
        if (av->kind == V_CONST)
            return onnx_fail(imp, "MatMul with a constant first input and a run-time second "
                                  "input is not supported");
        return onnx_fail(imp, "MatMul with two run-time inputs is not supported");
    }
    if (av->kind != V_TENSOR)
        return onnx_fail(imp, "MatMul of two constants is not supported");
    const Const *b = &bv->c;
    if (b->rank != 2)
        return onnx_fail(imp, "MatMul with a rank-%d constant B is not supported (expected [K,N])",
                         b->rank);
    if (b->count == 0)
        return onnx_fail(imp, "B ('%s') is empty, which is not supported", bv->name);
    if (b->idata)
        return onnx_fail(imp, "B ('%s') is an integer tensor, expected float (models quantized "
                              "in ONNX are not supported)", bv->name);
    int64_t k = b->dims[0], n = b->dims[1];
    Const w;
    int64_t wdims[2] = {n, k};
    if (onnx_const_alloc(imp, &w, 2, wdims, 0, 0) < 0)
        return -1;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++)
            w.data[i * k + j] = b->data[j * n + i];
    int x = onnx_tensor(imp, av);
    return onnx_dense(imp, x, bv->name, &w, NULL, NULL);
}

static int onnx_op_batchnorm(Importer *imp, const OnnxOp *op)
{
    (void)op;
    int64_t training, is_test = 1, spatial = 1;
    float epsilon, momentum;
    if (onnx_attr_int(imp, "training_mode", 0, &training) < 0 ||
        onnx_attr_float(imp, "epsilon", 1e-5f, &epsilon) < 0 ||
        onnx_attr_float(imp, "momentum", 0.9f, &momentum) < 0 ||
        (imp->opset < 7 && onnx_attr_int(imp, "is_test", 0, &is_test) < 0) ||
        (imp->opset < 9 && onnx_attr_int(imp, "spatial", 1, &spatial) < 0))
        return -1;
    if (training != 0)
        return onnx_fail(imp, "unsupported attribute training_mode=%lld", (long long)training);
    /* before opset 7 the default, is_test=0, is training (batch statistics) */
    if (is_test == 0)
        return onnx_fail(imp, "training mode (attribute is_test=0, the default before opset 7) "
                              "is not supported");
    if (spatial != 1)
        return onnx_fail(imp, "unsupported attribute spatial=%lld (only per-channel statistics, "
                              "spatial=1)",
                         (long long)spatial);
    int in[5];
    if (onnx_in_tensor(imp, 0, &in[0]) < 0)
        return -1;
    const Const *p[4];
    for (int i = 0; i < 4; i++) {
        if (onnx_in_const(imp, i + 1, 1, &p[i]) < 0)
            return -1;
        if (p[i]->rank != 1 || p[i]->dims[0] != p[0]->dims[0])
            return onnx_fail(imp, "input %d ('%s') has %lld values, expected %lld (one per channel)",
                             i + 1, imp->node->input[i + 1], (long long)p[i]->count,
                             (long long)p[0]->count);
    }
    for (int i = 1; i < 5; i++) {
        Value *v;
        if (onnx_in_required(imp, i, &v) < 0)
            return -1;
        in[i] = onnx_tensor(imp, v);
    }
    int n = onnx_new_node(imp, OP_BATCHNORM);
    Node *node = &imp->g->nodes[n];
    node->a.epsilon = epsilon;
    node->nin = 5;
    memcpy(node->in, in, sizeof in);
    return onnx_out_act(imp, n, 0);
}

/* Ops whose only attribute (if any) is handled here. */
static int onnx_op_simple(Importer *imp, const OnnxOp *op)
{
    int x;
    if (onnx_in_tensor(imp, 0, &x) < 0)
        return -1;
    Attrs a;
    ir_default_attrs(&a);
    if (op->ir_op == OP_LEAKYRELU && onnx_attr_float(imp, "alpha", 0.01f, &a.alpha) < 0)
        return -1;
    if (op->ir_op == OP_SOFTMAX) {
        /* before opset 13 Softmax flattened [axis, rank) and defaulted to 1 */
        int old = imp->opset < 13;
        if (onnx_attr_int(imp, "axis", old ? 1 : -1, &a.axis) < 0)
            return -1;
        a.softmax_flatten = old;
    }
    int n = onnx_new_node(imp, op->ir_op);
    Node *node = &imp->g->nodes[n];
    node->a = a;
    node->nin = 1;
    node->in[0] = x;
    return onnx_out_act(imp, n, 0);
}

static int onnx_clip_bound(Importer *imp, int input, const char *what, float *bound)
{
    const Const *c;
    if (onnx_in_const(imp, input, 0, &c) < 0)
        return -1;
    if (!c)
        return 0;
    if (c->count != 1)
        return onnx_fail(imp, "%s ('%s') must be a single value, has %lld", what,
                         imp->node->input[input], (long long)c->count);
    *bound = c->data[0];
    return 0;
}

static int onnx_op_clip(Importer *imp, const OnnxOp *op)
{
    (void)op;
    int x;
    Attrs a;
    ir_default_attrs(&a);
    if (onnx_in_tensor(imp, 0, &x) < 0)
        return -1;
    /* before opset 11 the bounds are attributes, from then on inputs (onnx_ops[]
       admits only the form of the model's opset) */
    if (onnx_attr_float(imp, "min", a.clip_min, &a.clip_min) < 0 ||
        onnx_attr_float(imp, "max", a.clip_max, &a.clip_max) < 0 ||
        onnx_clip_bound(imp, 1, "min", &a.clip_min) < 0 ||
        onnx_clip_bound(imp, 2, "max", &a.clip_max) < 0)
        return -1;
    int n = onnx_new_node(imp, OP_CLIP);
    Node *node = &imp->g->nodes[n];
    node->a = a;
    node->nin = 1;
    node->in[0] = x;
    return onnx_out_act(imp, n, 0);
}

static int onnx_op_pool(Importer *imp, const OnnxOp *op)
{
    int x, pad_rank;
    int64_t pads[4];
    if (onnx_in_padded(imp, &x, pads, &pad_rank) < 0)
        return -1;
    if (pad_rank && op->ir_op != OP_AVGPOOL)
        return onnx_fail(imp, "a Pad in front of %s is not supported", op->name);
    Attrs a;
    ir_default_attrs(&a);
    if (op->ir_op != OP_GLOBALAVGPOOL) {
        int64_t kernel[3];
        int nk;
        if (onnx_attr_ints(imp, "kernel_shape", kernel, 3, &nk) < 0)
            return -1;
        if (nk == 3)
            return onnx_fail(imp, "3-D pooling is not supported");
        if (nk != 1 && nk != 2)
            return onnx_fail(imp, nk < 0 ? "missing attribute kernel_shape"
                                         : "attribute kernel_shape is empty");
        int64_t ceil_mode, count_pad, order;
        if (onnx_spatial_attrs(imp, nk, NULL, op->ir_op == OP_MAXPOOL, &a) < 0 ||
            onnx_attr_int(imp, "ceil_mode", 0, &ceil_mode) < 0 ||
            onnx_attr_int(imp, "count_include_pad", 0, &count_pad) < 0 ||
            onnx_attr_int(imp, "storage_order", 0, &order) < 0)
            return -1;
        if (ceil_mode != 0 && ceil_mode != 1)
            return onnx_fail(imp, "unsupported attribute ceil_mode=%lld", (long long)ceil_mode);
        if (count_pad != 0 && count_pad != 1)
            return onnx_fail(imp, "unsupported attribute count_include_pad=%lld",
                             (long long)count_pad);
        if (order != 0)
            return onnx_fail(imp, "unsupported attribute storage_order=%lld", (long long)order);
        a.ceil_mode = (int)ceil_mode;
        a.count_include_pad = (int)count_pad;
        if (pad_rank) {
            /* explicit zeros are averaged in: only expressible when the
               node's own padding counts too, and exact without ceil_mode */
            int own = a.pads[0] || a.pads[1] || a.pads[2] || a.pads[3];
            if (ceil_mode || (own && !count_pad))
                return onnx_fail(imp, "a Pad in front of AveragePool with ceil_mode=1 or "
                                      "count_include_pad=0 is not supported");
            if (onnx_absorb_pad(imp, nk, pads, pad_rank, &a) < 0)
                return -1;
            a.count_include_pad = 1;
        }
    }
    int n = onnx_new_node(imp, op->ir_op);
    Node *node = &imp->g->nodes[n];
    node->a = a;
    node->nin = 1;
    node->in[0] = x;
    return onnx_out_act(imp, n, 0);
}

/* ---- folding of constants ---- */

/* Elementwise a (op) b with numpy broadcasting; integer arithmetic when both
 * are integer tensors. */
static int onnx_fold_binary(Importer *imp, char op, const Const *a, const Const *b, Const *out)
{
    if (const_has_sym(a) || const_has_sym(b))
        return onnx_fail(imp, "arithmetic on run-time dimensions is not supported");
    int rank = a->rank > b->rank ? a->rank : b->rank;
    int64_t dims[IR_MAX_RANK], da[IR_MAX_RANK], db[IR_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        da[i] = ia >= 0 ? a->dims[ia] : 1;
        db[i] = ib >= 0 ? b->dims[ib] : 1;
        if (da[i] != db[i] && da[i] != 1 && db[i] != 1) {
            char sa[128], sb[128];
            shape_text(sa, sizeof sa, a->rank, a->dims);
            shape_text(sb, sizeof sb, b->rank, b->dims);
            return onnx_fail(imp, "shapes %s and %s do not broadcast", sa, sb);
        }
        dims[i] = da[i] == 1 ? db[i] : da[i];
    }
    int ints = a->idata && b->idata;
    if (onnx_const_alloc(imp, out, rank, dims, ints, 0) < 0)
        return -1;
    for (int64_t o = 0; o < out->count; o++) {
        int64_t rest = o, ia = 0, ib = 0, sa = 1, sb = 1;
        for (int i = rank - 1; i >= 0; i--) {
            int64_t c = dims[i] ? rest % dims[i] : 0;
            rest = dims[i] ? rest / dims[i] : 0;
            ia += (da[i] == 1 ? 0 : c) * sa;
            ib += (db[i] == 1 ? 0 : c) * sb;
            sa *= da[i];
            sb *= db[i];
        }
        if (ints) {
            int64_t x = a->idata[ia], y = b->idata[ib], r;
            switch (op) {
            case '+': r = (int64_t)((uint64_t)x + (uint64_t)y); break;
            case '-': r = (int64_t)((uint64_t)x - (uint64_t)y); break;
            case '*': r = (int64_t)((uint64_t)x * (uint64_t)y); break;
            default:
                if (y == 0 || (x == INT64_MIN && y == -1)) {
                    const_free(out);
                    return onnx_fail(imp, "integer division by zero or overflow in a constant");
                }
                r = x / y;
                break;
            }
            out->idata[o] = r;
            out->data[o] = (float)r;
        } else {
            float x = a->data[ia], y = b->data[ib];
            out->data[o] = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : x / y;
        }
    }
    return 0;
}

/* Reshape target -> dims, resolving 0 (copy) and -1 (infer) against x. */
static int onnx_resolve_shape(Importer *imp, const Const *x, const Const *shape, int64_t *dims)
{
    if (shape->count > IR_MAX_RANK)
        return onnx_fail(imp, "target shape has %lld dimensions, which is not supported (at "
                              "most %d)",
                         (long long)shape->count, IR_MAX_RANK);
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < shape->count; i++) {
        int64_t d = shape->idata[i];
        if (d == 0) {
            if (i >= x->rank)
                return onnx_fail(imp, "target shape has 0 at position %d beyond the input's rank", i);
            d = x->dims[i];
        } else if (d == -1) {
            if (infer >= 0)
                return onnx_fail(imp, "target shape has more than one -1");
            infer = i;
            d = 1;
        } else if (d < 0) {
            return onnx_fail(imp, "target shape has a negative dimension %lld", (long long)d);
        }
        dims[i] = d;
        if (d && known > ONNX_FOLD_LIMIT / d)
            return onnx_fail(imp, "target shape is too large (more than %lld values are not "
                                  "supported)",
                             (long long)ONNX_FOLD_LIMIT);
        known *= d;
    }
    if (infer >= 0) {
        if (known == 0 || x->count % known != 0)
            return onnx_fail(imp, "cannot reshape %lld values with a -1 dimension",
                             (long long)x->count);
        dims[infer] = x->count / known;
        known = x->count;
    }
    if (known != x->count)
        return onnx_fail(imp, "cannot reshape %lld values into %lld", (long long)x->count,
                         (long long)known);
    return 0;
}

static int onnx_fold_reshape(Importer *imp, const Const *x, int rank, const int64_t *dims,
                             Const *out)
{
    if (onnx_const_alloc(imp, out, rank, dims, x->idata != NULL, x->sym != NULL) < 0)
        return -1;
    for (int64_t i = 0; i < x->count; i++)
        const_copy(out, i, x, i);
    return 0;
}

static int onnx_fold_transpose(Importer *imp, const Const *x, const int *perm, Const *out)
{
    int64_t dims[IR_MAX_RANK], stride[IR_MAX_RANK];
    int r = x->rank;
    int64_t s = 1;
    for (int i = r - 1; i >= 0; i--) {
        stride[i] = s;
        s *= x->dims[i];
    }
    for (int i = 0; i < r; i++)
        dims[i] = x->dims[perm[i]];
    if (onnx_const_alloc(imp, out, r, dims, x->idata != NULL, x->sym != NULL) < 0)
        return -1;
    for (int64_t o = 0; o < out->count; o++) {
        int64_t rest = o, src = 0;
        for (int i = r - 1; i >= 0; i--) {
            src += (rest % dims[i]) * stride[perm[i]];
            rest /= dims[i];
        }
        const_copy(out, o, x, src);
    }
    return 0;
}

/* ---- glue ops: folded at import ---- */

static int onnx_op_constant(Importer *imp, const OnnxOp *op)
{
    (void)op;
    if (imp->node->n_attribute != 1)
        return onnx_fail(imp, "expected exactly one value attribute");
    const Onnx__AttributeProto *a = imp->node->attribute[0];
    const char *name = str_or_empty(a->name);
    Const c;
    memset(&c, 0, sizeof c);
    int type = attr_type(a);
    if (strcmp(name, "value") == 0) {
        if (type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR || !a->t)
            return onnx_fail(imp, "attribute 'value' must be a tensor");
        if (onnx_const_from_proto(imp, a->t, "attribute 'value'", &c) < 0)
            return -1;
    } else {
        int ints = strcmp(name, "value_int") == 0 || strcmp(name, "value_ints") == 0;
        int list = strcmp(name, "value_floats") == 0 || strcmp(name, "value_ints") == 0;
        int want = ints ? (list ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS
                                : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
                        : (list ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS
                                : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
        const Onnx__AttributeProto *chk;
        if (onnx_attr_typed(imp, name, want, &chk) < 0)
            return -1;
        int64_t count = !list ? 1 : ints ? (int64_t)a->n_ints : (int64_t)a->n_floats;
        if (onnx_const_alloc(imp, &c, list, &count, ints, 0) < 0)
            return -1;
        for (int64_t i = 0; i < count; i++) {
            if (ints) {
                c.idata[i] = list ? a->ints[i] : a->i;
                c.data[i] = (float)c.idata[i];
            } else {
                c.data[i] = list ? a->floats[i] : a->f;
            }
        }
    }
    return onnx_out_const(imp, &c);
}

static int onnx_op_shape(Importer *imp, const OnnxOp *op)
{
    (void)op;
    Value *x;
    int64_t start, end;
    int has_end = onnx_attr(imp, "end") != NULL;
    if (onnx_in_required(imp, 0, &x) < 0 || onnx_attr_int(imp, "start", 0, &start) < 0 ||
        onnx_attr_int(imp, "end", INT64_MAX, &end) < 0)
        return -1;
    int rank;
    int64_t dims[IR_MAX_RANK];
    if (!onnx_known_shape(imp, x, &rank, dims)) {
        if (x->kind != V_TENSOR)
            return onnx_fail(imp, "Shape of '%s' is not supported", x->name);
        /* rank unknown here: only the symbolic form "dimension d of x" */
        if (start < 0 || start >= IR_MAX_RANK || has_end)
            return onnx_fail(imp, "Shape with start/end of a computed tensor is not supported");
        return onnx_out_shape_of(imp, x->tensor, (int)start);
    }
    /* opset 15 start/end: negative counts from the back, then clamped */
    if (start < 0)
        start += rank;
    if (end < 0)
        end += rank;
    start = start < 0 ? 0 : start > rank ? rank : start;
    end = end < start ? start : end > rank ? rank : end;
    int64_t n = end - start;
    Const c;
    if (onnx_const_alloc(imp, &c, 1, &n, 1, 0) < 0)
        return -1;
    for (int64_t i = 0; i < n; i++) {
        c.idata[i] = dims[start + i];
        c.data[i] = (float)dims[start + i];
    }
    return onnx_out_const(imp, &c);
}

/* Gather of one constant index from a computed tensor, as torch writes
 * h_n[-1] and out[:, -1, :]: a Slice of length 1 along the axis, dropping
 * it (scalar index) or keeping it (one-element list).  When the selected
 * slice is a whole tensor of size 1 along the axis -- the tensor itself, or
 * (2 stacked layers) the input of a Concat along that axis that holds the
 * index -- a Reshape of that tensor does without the copy. */
static int onnx_gather_computed(Importer *imp, int t, int64_t axis, const Const *idx)
{
    const Tensor *x;
    if (idx->count != 1 || idx->rank > 1)
        return onnx_fail(imp, "Gather of %lld indices from a computed tensor is not supported "
                              "(only one constant index)",
                         (long long)idx->count);
    if (onnx_computed_shape(imp, t, &x) < 0)
        return -1;
    int rank = x->rank;
    if (axis < -rank || axis >= rank)
        return onnx_fail(imp, "attribute axis=%lld is out of range for rank %d", (long long)axis,
                         rank);
    if (axis < 0)
        axis += rank;
    int64_t at = idx->idata[0], size = x->dims[axis];
    if (at < -size || at >= size)
        return onnx_fail(imp, "index %lld is out of range [%lld, %lld)", (long long)at,
                         (long long)-size, (long long)size);
    if (at < 0)
        at += size;
    if (rank == 1 && idx->rank == 0)
        return onnx_fail(imp, "a scalar result of a computed tensor is not supported");
    /* walk into Concats along the axis until the slice is a whole tensor, or
       a part of one that no Concat made */
    while (imp->g->tensors[t].dims[axis] != 1) {
        int p = imp->g->tensors[t].producer;
        const Node *c = p >= 0 ? &imp->g->nodes[p] : NULL;
        if (!c || c->op != OP_CONCAT || c->a.axis != axis)
            return onnx_out_act(imp, onnx_slice_node(imp, t, (int)axis, at, 1, idx->rank == 0), 0);
        int j = 0;
        while (j < c->nin - 1 && at >= imp->g->tensors[c->in[j]].dims[axis])
            at -= imp->g->tensors[c->in[j++]].dims[axis];
        t = c->in[j];
    }
    int64_t dims[IR_MAX_RANK];
    int k = 0;
    for (int i = 0; i < rank; i++)
        if (i != axis || idx->rank == 1)
            dims[k++] = imp->g->tensors[t].dims[i];
    return onnx_reshape_node(imp, t, k, dims);
}

/* Expand of a constant to a shape that may come from run-time dimensions
 * (torch's zero LSTM/GRU state): folded, with numpy broadcasting. */
static int onnx_op_expand(Importer *imp, const OnnxOp *op)
{
    (void)op;
    Value *x, *sv;
    const Const *shape;
    if (onnx_in_required(imp, 0, &x) < 0 || onnx_in_ints(imp, 1, &shape) < 0 ||
        onnx_in_required(imp, 1, &sv) < 0)
        return -1;
    if (x->kind != V_CONST)
        return onnx_fail(imp, "Expand of a run-time tensor is not supported");
    if (onnx_resolve_syms(imp, &sv->c) < 0 || onnx_resolve_syms(imp, &x->c) < 0)
        return -1;
    const Const *c = &x->c;
    if (shape->rank != 1)
        return onnx_fail(imp, "input 1 (shape) must be 1-D, has rank %d", shape->rank);
    int rank = shape->count > c->rank ? (int)shape->count : c->rank;
    if (rank > IR_MAX_RANK)
        return onnx_fail(imp, "result has rank %d, which is not supported (at most %d)", rank,
                         IR_MAX_RANK);
    int64_t dims[IR_MAX_RANK], xs[IR_MAX_RANK], stride = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int ic = i - (rank - c->rank), is = i - (rank - (int)shape->count);
        int64_t dc = ic >= 0 ? c->dims[ic] : 1, ds = is >= 0 ? shape->idata[is] : 1;
        if (ds < 0 || (dc != ds && dc != 1 && ds != 1))
            return onnx_fail(imp, "cannot expand '%s' to the requested shape", x->name);
        dims[i] = dc == 1 ? ds : dc;
        xs[i] = dc == 1 ? 0 : stride; /* broadcast dims do not advance */
        stride *= dc;
    }
    Const out;
    if (onnx_const_alloc(imp, &out, rank, dims, c->idata != NULL, 0) < 0)
        return -1;
    for (int64_t o = 0; o < out.count; o++) {
        int64_t rest = o, src = 0;
        for (int i = rank - 1; i >= 0; i--) {
            src += (rest % dims[i]) * xs[i];
            rest /= dims[i];
        }
        const_copy(&out, o, c, src);
    }
    return onnx_out_const(imp, &out);
}

static int onnx_op_gather(Importer *imp, const OnnxOp *op)
{
    (void)op;
    Value *data;
    const Const *idx;
    int64_t axis;
    if (onnx_in_required(imp, 0, &data) < 0 || onnx_in_ints(imp, 1, &idx) < 0 ||
        onnx_attr_int(imp, "axis", 0, &axis) < 0)
        return -1;
    if (const_has_sym(idx))
        return onnx_fail(imp, "indices that depend on run-time dimensions are not supported");
    Const out;
    if (data->kind == V_SHAPE_OF) {
        /* Gather(Shape(T), i) is "dimension i of T" */
        if (axis != 0)
            return onnx_fail(imp, "unsupported attribute axis=%lld on a shape", (long long)axis);
        if (onnx_const_alloc(imp, &out, idx->rank, idx->dims, 1, 1) < 0)
            return -1;
        for (int64_t i = 0; i < idx->count; i++) {
            int64_t d = idx->idata[i] < 0 || idx->idata[i] >= IR_MAX_RANK
                            ? IR_MAX_RANK
                            : data->shape_start + idx->idata[i];
            if (d >= IR_MAX_RANK) {
                const_free(&out);
                return onnx_fail(imp, "index %lld into the shape of computed tensor '%s' is not "
                                      "supported (its rank is not known at import)",
                                 (long long)idx->idata[i], imp->g->tensors[data->tensor].name);
            }
            out.sym[i] = SYM(data->tensor, d);
        }
        return onnx_out_const(imp, &out);
    }
    if (data->kind == V_TENSOR)
        return onnx_gather_computed(imp, data->tensor, axis, idx);
    if (data->kind != V_CONST)
        return onnx_fail(imp, "Gather on '%s' is not supported", data->name);
    const Const *x = &data->c;
    if (axis < -x->rank || axis >= x->rank)
        return onnx_fail(imp, "attribute axis=%lld is out of range for rank %d", (long long)axis,
                         x->rank);
    if (axis < 0)
        axis += x->rank;
    int rank = x->rank - 1 + idx->rank;
    if (rank > IR_MAX_RANK)
        return onnx_fail(imp, "result has rank %d, which is not supported (at most %d)", rank,
                         IR_MAX_RANK);
    int64_t dims[IR_MAX_RANK], outer = 1, inner = 1, s = x->dims[axis];
    int k = 0;
    for (int i = 0; i < axis; i++)
        outer *= dims[k++] = x->dims[i];
    for (int i = 0; i < idx->rank; i++)
        dims[k++] = idx->dims[i];
    for (int i = (int)axis + 1; i < x->rank; i++)
        inner *= dims[k++] = x->dims[i];
    if (onnx_const_alloc(imp, &out, rank, dims, x->idata != NULL, x->sym != NULL) < 0)
        return -1;
    for (int64_t j = 0; j < idx->count; j++) {
        int64_t at = idx->idata[j] < 0 ? idx->idata[j] + s : idx->idata[j];
        if (at < 0 || at >= s) {
            const_free(&out);
            return onnx_fail(imp, "index %lld is out of range [%lld, %lld)",
                             (long long)idx->idata[j], (long long)-s, (long long)s);
        }
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++)
                const_copy(&out, (o * idx->count + j) * inner + i, x, (o * s + at) * inner + i);
    }
    return onnx_out_const(imp, &out);
}

/* axes of Unsqueeze/Squeeze: attribute before opset 13, input 1 after. */
static int onnx_axes(Importer *imp, int64_t *axes, int *n)
{
    if (onnx_attr_ints(imp, "axes", axes, IR_MAX_RANK, n) < 0)
        return -1;
    if (*n >= 0)
        return 0;
    if (!onnx_input_name(imp, 1))
        return 0;
    const Const *c;
    if (onnx_in_ints(imp, 1, &c) < 0)
        return -1;
    if (c->count > IR_MAX_RANK || const_has_sym(c))
        return onnx_fail(imp, "unsupported axes input");
    *n = (int)c->count;
    memcpy(axes, c->idata, sizeof *axes * (size_t)c->count);
    return 0;
}

/* Rank and dims of the data input of Squeeze, Unsqueeze or Slice: a
 * constant, or a computed tensor (whose result is then a node). */
static int onnx_squeeze_input(Importer *imp, const Value *x, int *rank, int64_t *dims)
{
    if (x->kind == V_CONST) {
        *rank = x->c.rank;
        memcpy(dims, x->c.dims, sizeof dims[0] * (size_t)x->c.rank);
        return 0;
    }
    const Tensor *t;
    if (x->kind != V_TENSOR)
        return onnx_fail(imp, "%s of '%s' is not supported", str_or_empty(imp->node->op_type),
                         x->name);
    if (onnx_computed_shape(imp, x->tensor, &t) < 0)
        return -1;
    *rank = t->rank;
    memcpy(dims, t->dims, sizeof dims[0] * (size_t)t->rank);
    return 0;
}

/* The result of Squeeze/Unsqueeze of x: a folded constant or a Reshape. */
static int onnx_squeeze_out(Importer *imp, const Value *x, int rank, const int64_t *dims)
{
    if (x->kind != V_CONST)
        return onnx_reshape_node(imp, x->tensor, rank, dims);
    Const out;
    if (onnx_fold_reshape(imp, &x->c, rank, dims, &out) < 0)
        return -1;
    return onnx_out_const(imp, &out);
}

static int onnx_op_unsqueeze(Importer *imp, const OnnxOp *op)
{
    (void)op;
    Value *x;
    int64_t axes[IR_MAX_RANK], xdims[IR_MAX_RANK];
    int n, xrank;
    if (onnx_in_required(imp, 0, &x) < 0 || onnx_axes(imp, axes, &n) < 0)
        return -1;
    if (n < 0)
        return onnx_fail(imp, "missing axes");
    if (onnx_squeeze_input(imp, x, &xrank, xdims) < 0)
        return -1;
    int rank = xrank + n;
    if (rank > IR_MAX_RANK)
        return onnx_fail(imp, "result has rank %d, which is not supported (at most %d)", rank,
                         IR_MAX_RANK);
    int is_new[IR_MAX_RANK] = {0};
    for (int i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < 0 || a >= rank || is_new[a])
            return onnx_fail(imp, "invalid axes value %lld", (long long)axes[i]);
        is_new[a] = 1;
    }
    int64_t dims[IR_MAX_RANK];
    for (int i = 0, k = 0; i < rank; i++)
        dims[i] = is_new[i] ? 1 : xdims[k++];
    return onnx_squeeze_out(imp, x, rank, dims);
}

static int onnx_op_squeeze(Importer *imp, const OnnxOp *op)
{
    (void)op;
    Value *x;
    int64_t axes[IR_MAX_RANK], xdims[IR_MAX_RANK];
    int n, xrank;
    if (onnx_in_required(imp, 0, &x) < 0 || onnx_axes(imp, axes, &n) < 0 ||
        onnx_squeeze_input(imp, x, &xrank, xdims) < 0)
        return -1;
    int drop[IR_MAX_RANK] = {0};
    for (int i = 0; i < xrank; i++)
        drop[i] = n < 0 && xdims[i] == 1;
    for (int i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + xrank : axes[i];
        if (a < 0 || a >= xrank || xdims[a] != 1)
            return onnx_fail(imp, "invalid axes value %lld", (long long)axes[i]);
        drop[a] = 1;
    }
    int64_t dims[IR_MAX_RANK];
    int rank = 0;
    for (int i = 0; i < xrank; i++)
        if (!drop[i])
            dims[rank++] = xdims[i];
    return onnx_squeeze_out(imp, x, rank, dims);
}

static int onnx_is_int_type(int64_t t)
{
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return 1;
    default: return 0;
    }
}

static int onnx_op_cast(Importer *imp, const OnnxOp *op)
{
    (void)op;
    Value *x;
    int64_t to = 0;
    if (onnx_in_required(imp, 0, &x) < 0)
        return -1;
    if (!onnx_attr(imp, "to"))
        return onnx_fail(imp, "missing attribute to");
    if (imp->opset < 6) { /* the type by name: to="FLOAT" */
        char name[32];
        if (onnx_attr_string(imp, "to", "", name, sizeof name) < 0)
            return -1;
        for (char *c = name; *c; c++)
            *c = (*c >= 'a' && *c <= 'z') ? (char)(*c - 'a' + 'A') : *c;
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(
            &onnx__tensor_proto__data_type__descriptor, name);
        if (!v || v->value == ONNX__TENSOR_PROTO__DATA_TYPE__UNDEFINED)
            return onnx_fail(imp, "attribute to='%s' is not an ONNX data type", name);
        to = v->value;
    } else if (onnx_attr_int(imp, "to", 0, &to) < 0) {
        return -1;
    }
    int to_float = to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ||
                   to == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    char tn[32];
    if (!onnx_type_name(to, tn, sizeof tn))
        return onnx_fail(imp, "attribute to=%lld is not an ONNX data type", (long long)to);
    if (!to_float && !onnx_is_int_type(to))
        return onnx_fail(imp, "Cast to %s is not supported", tn);
    if (x->kind == V_TENSOR) {
        /* activations are float already */
        if (!to_float)
            return onnx_fail(imp, "Cast of a run-time tensor to %s is not supported", tn);
        return onnx_out_forward(imp, x);
    }
    if (x->kind != V_CONST)
        return onnx_fail(imp, "Cast of '%s' is not supported", x->name);
    const Const *c = &x->c;
    if ((to_float || to == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL) && const_has_sym(c))
        return onnx_fail(imp, "Cast of run-time dimensions to %s is not supported", tn);
    Const out;
    if (onnx_const_alloc(imp, &out, c->rank, c->dims, !to_float, !to_float && c->sym) < 0)
        return -1;
    for (int64_t i = 0; i < c->count; i++) {
        const_copy(&out, i, c, i);
        if (to == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL)
            out.idata[i] = out.data[i] != 0.0f;
        if (out.idata)
            out.data[i] = (float)out.idata[i];
    }
    return onnx_out_const(imp, &out);
}

static int onnx_op_forward(Importer *imp, const OnnxOp *op)
{
    Value *x;
    if (onnx_in_required(imp, 0, &x) < 0)
        return -1;
    if (strcmp(op->name, "Dropout") == 0) {
        /* training mode: input 2 from opset 12, is_test=0 (the default)
           before opset 7; in between Dropout is always inference */
        const Const *mode;
        int64_t is_test = 1;
        if (onnx_in_const(imp, 2, 0, &mode) < 0 ||
            (imp->opset < 7 && onnx_attr_int(imp, "is_test", 0, &is_test) < 0))
            return -1;
        if (mode && mode->count >= 1 && mode->data[0] != 0.0f)
            return onnx_fail(imp, "training_mode=1 is not supported");
        if (is_test == 0)
            return onnx_fail(imp, "training mode (attribute is_test=0, the default before "
                                  "opset 7) is not supported");
    }
    if (x->kind == V_SHAPE_OF)
        return onnx_fail(imp, "'%s' (Shape of a computed tensor) can only feed Gather (other "
                              "uses are not supported)",
                         x->name);
    return onnx_out_forward(imp, x);
}

/* ---- data movement ---- */

/* Before opset 7, Add, Sub, Mul and Div broadcast only with broadcast=1,
 * and then B to the shape of A, aligned at attribute axis or, without it, at
 * the end as numpy aligns.  *bpad is the number of 1s to append to B's shape
 * to give its axis alignment numpy's meaning (only for a constant B). */
static int onnx_legacy_broadcast(Importer *imp, const Value *a, const Value *b, int *bpad)
{
    *bpad = 0;
    if (imp->opset >= 7)
        return 0;
    int64_t broadcast, axis;
    int ra, rb;
    int64_t da[IR_MAX_RANK], db[IR_MAX_RANK];
    if (onnx_attr_int(imp, "broadcast", 0, &broadcast) < 0 ||
        onnx_attr_int(imp, "axis", 0, &axis) < 0)
        return -1;
    int known = onnx_known_shape(imp, a, &ra, da) && onnx_known_shape(imp, b, &rb, db);
    char sa[128], sb[128];
    if (known) {
        shape_text(sa, sizeof sa, ra, da);
        shape_text(sb, sizeof sb, rb, db);
    }
    if (broadcast == 0) {
        if (known && (ra != rb || memcmp(da, db, sizeof da[0] * (size_t)ra) != 0))
            return onnx_fail(imp, "inputs have shapes %s and %s; before opset 7 they must be "
                                  "equal unless attribute broadcast=1",
                             sa, sb);
        return 0;
    }
    if (!onnx_attr(imp, "axis"))
        return 0; /* suffix matching: what numpy does */
    int ones = onnx_known_shape(imp, b, &rb, db);
    for (int i = 0; ones && i < rb; i++)
        ones = db[i] == 1;
    if (ones)
        return 0; /* a single value: the alignment does not matter */
    if (!known)
        return onnx_fail(imp, "attribute axis=%lld on a tensor whose rank is not known at import "
                              "is not supported (only the numpy-compatible alignment, without "
                              "axis)",
                         (long long)axis);
    if (axis < 0)
        axis += ra;
    if (axis < 0 || axis > ra - rb)
        return onnx_fail(imp, "attribute axis=%lld does not place B (shape %s) within A "
                              "(shape %s)",
                         (long long)axis, sb, sa);
    *bpad = (int)(ra - rb - axis);
    if (*bpad && b->kind != V_CONST)
        return onnx_fail(imp, "attribute axis=%lld with a run-time B is not supported (only the "
                              "numpy-compatible alignment, axis=%d)",
                         (long long)axis, ra - rb);
    return 0;
}

static int onnx_op_add(Importer *imp, const OnnxOp *op)
{
    Value *a, *b;
    int bpad;
    if (onnx_in_required(imp, 0, &a) < 0 || onnx_in_required(imp, 1, &b) < 0 ||
        onnx_legacy_broadcast(imp, a, b, &bpad) < 0)
        return -1;
    Const bview = {0}; /* B, reshaped for legacy axis alignment: same data */
    if (b->kind == V_CONST) {
        bview = b->c;
        for (int i = 0; i < bpad; i++)
            bview.dims[bview.rank++] = 1;
    }
    if (a->kind == V_CONST && b->kind == V_CONST) {
        Const out;
        char sym = strcmp(op->name, "Add") == 0   ? '+'
                   : strcmp(op->name, "Sub") == 0 ? '-'
                   : strcmp(op->name, "Mul") == 0 ? '*'
                                                  : '/';
        if (onnx_fold_binary(imp, sym, &a->c, &bview, &out) < 0)
            return -1;
        return onnx_out_const(imp, &out);
    }
    if (op->ir_op != OP_ADD)
        return onnx_fail(imp, "%s of a run-time tensor is not supported (only constants are folded)",
                         op->name);
    int ta = onnx_tensor(imp, a);
    int tb = ta < 0 ? -1 : onnx_tensor(imp, b);
    if (tb < 0)
        return -1;
    if (bpad) {
        Tensor *t = &imp->g->tensors[tb];
        t->rank = bview.rank;
        memcpy(t->dims, bview.dims, sizeof t->dims[0] * (size_t)t->rank);
    }
    int n = onnx_new_node(imp, OP_ADD);
    Node *node = &imp->g->nodes[n];
    node->nin = 2;
    node->in[0] = ta;
    node->in[1] = tb;
    return onnx_out_act(imp, n, 0);
}

static int onnx_fold_concat(Importer *imp, Value **in, int nin, int64_t axis)
{
    const Const *c0 = &in[0]->c;
    if (axis < -c0->rank || axis >= c0->rank)
        return onnx_fail(imp, "attribute axis=%lld is out of range for rank %d", (long long)axis,
                         c0->rank);
    if (axis < 0)
        axis += c0->rank;
    int64_t dims[IR_MAX_RANK], outer = 1, inner = 1;
    memcpy(dims, c0->dims, sizeof dims[0] * (size_t)c0->rank);
    dims[axis] = 0;
    int ints = 1, syms = 0;
    for (int i = 0; i < nin; i++) {
        const Const *c = &in[i]->c;
        int same = c->rank == c0->rank;
        for (int d = 0; same && d < c->rank; d++)
            same = d == axis || c->dims[d] == c0->dims[d];
        if (!same)
            return onnx_fail(imp, "input %d ('%s') has a shape that does not match input 0", i,
                             in[i]->name);
        if (dims[axis] > ONNX_FOLD_LIMIT)
            return onnx_fail(imp, "folded constant is too large (more than %lld values are not "
                                  "supported)",
                             (long long)ONNX_FOLD_LIMIT);
        dims[axis] += c->dims[axis];
        ints &= c->idata != NULL;
        syms |= c->sym != NULL;
    }
    for (int d = 0; d < axis; d++)
        outer *= dims[d];
    for (int d = (int)axis + 1; d < c0->rank; d++)
        inner *= dims[d];
    Const out;
    if (onnx_const_alloc(imp, &out, c0->rank, dims, ints, syms) < 0)
        return -1;
    int64_t at = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < nin; i++) {
            int64_t chunk = in[i]->c.dims[axis] * inner;
            for (int64_t j = 0; j < chunk; j++)
                const_copy(&out, at++, &in[i]->c, o * chunk + j);
        }
    return onnx_out_const(imp, &out);
}

static int onnx_op_concat(Importer *imp, const OnnxOp *op)
{
    (void)op;
    int64_t axis;
    if (!onnx_attr(imp, "axis") && imp->opset >= 4)
        return onnx_fail(imp, "missing attribute axis");
    if (onnx_attr_int(imp, "axis", 1, &axis) < 0) /* before opset 4 the default is 1 */
        return -1;
    int nin = (int)imp->node->n_input, all_const = 1, rc = 0;
    Value **in = xcalloc((size_t)nin + 1, sizeof *in);
    for (int i = 0; i < nin && rc == 0; i++) {
        rc = onnx_in_required(imp, i, &in[i]);
        if (rc == 0 && in[i]->kind != V_CONST)
            all_const = 0;
    }
    if (rc == 0 && all_const) {
        rc = onnx_fold_concat(imp, in, nin, axis);
    } else if (rc == 0) {
        int t[IR_MAX_IO];
        if (nin > IR_MAX_IO)
            rc = onnx_fail(imp, "%d inputs are not supported (at most %d)", nin, IR_MAX_IO);
        for (int i = 0; i < nin && rc == 0; i++)
            if ((t[i] = onnx_tensor(imp, in[i])) < 0)
                rc = -1;
        if (rc == 0) {
            int n = onnx_new_node(imp, OP_CONCAT);
            Node *node = &imp->g->nodes[n];
            node->a.axis = axis;
            node->nin = nin;
            memcpy(node->in, t, sizeof t[0] * (size_t)nin);
            rc = onnx_out_act(imp, n, 0);
        }
    }
    free(in);
    return rc;
}

static int onnx_op_flatten(Importer *imp, const OnnxOp *op)
{
    (void)op;
    Value *x;
    int64_t axis;
    if (onnx_in_required(imp, 0, &x) < 0 || onnx_attr_int(imp, "axis", 1, &axis) < 0)
        return -1;
    int rank;
    int64_t dims[IR_MAX_RANK];
    int known = onnx_known_shape(imp, x, &rank, dims);
    if (known && (axis < -rank || axis > rank))
        return onnx_fail(imp, "attribute axis=%lld is out of range for rank %d", (long long)axis,
                         rank);
    if (axis < 0) {
        if (!known)
            return onnx_fail(imp, "negative axis on a tensor of unknown rank is not supported");
        axis += rank;
    }
    if (x->kind == V_CONST) {
        int64_t flat[2] = {1, 1};
        for (int i = 0; i < rank; i++)
            flat[i >= axis] *= dims[i];
        Const out;
        if (onnx_fold_reshape(imp, &x->c, 2, flat, &out) < 0)
            return -1;
        return onnx_out_const(imp, &out);
    }
    if (axis > IR_MAX_RANK)
        return onnx_fail(imp, "unsupported attribute axis=%lld", (long long)axis);
    int t = onnx_tensor(imp, x);
    if (t < 0)
        return -1;
    int n = onnx_new_node(imp, OP_RESHAPE);
    Node *node = &imp->g->nodes[n];
    node->a.flatten_axis = (int)axis;
    node->a.nshape = 0;
    node->nin = 1;
    node->in[0] = t;
    return onnx_out_act(imp, n, 0);
}

/* Reshape of x to the 1-D integer constant shape. */
static int onnx_reshape_to(Importer *imp, Value *x, const Const *shape)
{
    if (shape->rank != 1)
        return onnx_fail(imp, "shape input must be 1-D");
    if (shape->count > IR_MAX_RANK)
        return onnx_fail(imp, "target shape has %lld dimensions, which is not supported (at "
                              "most %d)",
                         (long long)shape->count, IR_MAX_RANK);
    if (x->kind == V_CONST) {
        if (const_has_sym(shape))
            return onnx_fail(imp, "a target shape that depends on run-time dimensions is not "
                                  "supported here");
        int64_t dims[IR_MAX_RANK];
        Const out;
        if (onnx_resolve_shape(imp, &x->c, shape, dims) < 0 ||
            onnx_fold_reshape(imp, &x->c, (int)shape->count, dims, &out) < 0)
            return -1;
        return onnx_out_const(imp, &out);
    }
    int t = onnx_tensor(imp, x);
    if (t < 0)
        return -1;
    int64_t target[IR_MAX_RANK];
    for (int i = 0; i < shape->count; i++) {
        target[i] = shape->idata[i];
        if (shape->sym && shape->sym[i] >= 0) {
            /* "keep dimension i of x" is what 0 means in a Reshape; any
               other dimension is a number by now */
            if (SYM_TENSOR(shape->sym[i]) == t && SYM_DIM(shape->sym[i]) == i)
                target[i] = 0;
            else if (onnx_sym_dim(imp, shape->sym[i], &target[i]) < 0)
                return -1;
        } else if (target[i] < -1) {
            return onnx_fail(imp, "target shape has a negative dimension %lld",
                             (long long)target[i]);
        }
    }
    int n = onnx_new_node(imp, OP_RESHAPE);
    Node *node = &imp->g->nodes[n];
    node->a.nshape = (int)shape->count;
    memcpy(node->a.shape, target, sizeof target[0] * (size_t)shape->count);
    node->nin = 1;
    node->in[0] = t;
    return onnx_out_act(imp, n, 0);
}

/* The target shape is input 1 from opset 5 on, attribute 'shape' before. */
static int onnx_op_reshape(Importer *imp, const OnnxOp *op)
{
    (void)op;
    Value *x;
    int64_t allowzero;
    if (onnx_in_required(imp, 0, &x) < 0 || onnx_attr_int(imp, "allowzero", 0, &allowzero) < 0)
        return -1;
    if (allowzero != 0)
        return onnx_fail(imp, "unsupported attribute allowzero=%lld", (long long)allowzero);
    if (imp->opset >= 5) {
        const Const *shape;
        if (onnx_in_ints(imp, 1, &shape) < 0)
            return -1;
        return onnx_reshape_to(imp, x, shape);
    }
    int64_t dims[IR_MAX_RANK];
    int n;
    if (onnx_attr_ints(imp, "shape", dims, IR_MAX_RANK, &n) < 0)
        return -1;
    if (n < 0)
        return onnx_fail(imp, "missing attribute shape");
    Const shape;
    int64_t count = n;
    if (onnx_const_alloc(imp, &shape, 1, &count, 1, 0) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        shape.idata[i] = dims[i];
        shape.data[i] = (float)dims[i];
    }
    int rc = onnx_reshape_to(imp, x, &shape);
    const_free(&shape);
    return rc;
}

static int onnx_op_transpose(Importer *imp, const OnnxOp *op)
{
    (void)op;
    Value *x;
    int64_t perm64[IR_MAX_RANK];
    int nperm;
    if (onnx_in_required(imp, 0, &x) < 0 ||
        onnx_attr_ints(imp, "perm", perm64, IR_MAX_RANK, &nperm) < 0)
        return -1;
    int rank;
    int64_t dims[IR_MAX_RANK];
    int known = onnx_known_shape(imp, x, &rank, dims);
    if (nperm <= 0) { /* default: reverse the dimensions (empty is only valid for rank 0) */
        if (!known)
            return onnx_fail(imp, "Transpose without perm on a tensor of unknown rank is not "
                                  "supported");
        nperm = rank;
        for (int i = 0; i < rank; i++)
            perm64[i] = rank - 1 - i;
    }
    if (known && nperm != rank)
        return onnx_fail(imp, "attribute perm has %d values for a rank-%d input", nperm, rank);
    int perm[IR_MAX_RANK], seen[IR_MAX_RANK] = {0};
    for (int i = 0; i < nperm; i++) {
        if (perm64[i] < 0 || perm64[i] >= nperm || seen[perm64[i]])
            return onnx_fail(imp, "attribute perm is not a permutation");
        seen[perm64[i]] = 1;
        perm[i] = (int)perm64[i];
    }
    if (x->kind == V_CONST) {
        Const out;
        if (onnx_fold_transpose(imp, &x->c, perm, &out) < 0)
            return -1;
        return onnx_out_const(imp, &out);
    }
    int t = onnx_tensor(imp, x);
    if (t < 0)
        return -1;
    int n = onnx_new_node(imp, OP_TRANSPOSE);
    Node *node = &imp->g->nodes[n];
    node->a.nperm = nperm;
    memcpy(node->a.perm, perm, sizeof perm[0] * (size_t)nperm);
    node->nin = 1;
    node->in[0] = t;
    return onnx_out_act(imp, n, 0);
}

static int onnx_op_constant_of_shape(Importer *imp, const OnnxOp *op)
{
    (void)op;
    const Const *shape;
    const Onnx__AttributeProto *a;
    Value *sv;
    if (onnx_in_ints(imp, 0, &shape) < 0 || onnx_in_required(imp, 0, &sv) < 0 ||
        onnx_resolve_syms(imp, &sv->c) < 0 ||
        onnx_attr_typed(imp, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR, &a) < 0)
        return -1;
    if (shape->rank != 1)
        return onnx_fail(imp, "input 0 ('%s') must be 1-D, has rank %d", imp->node->input[0],
                         shape->rank);
    if (shape->count > IR_MAX_RANK)
        return onnx_fail(imp, "a result of rank %lld is not supported (at most %d)",
                         (long long)shape->count, IR_MAX_RANK);
    if (const_has_sym(shape))
        return onnx_fail(imp, "a shape that depends on run-time dimensions is not supported");
    Const value, out;
    memset(&value, 0, sizeof value);
    if (a && a->t && onnx_const_from_proto(imp, a->t, "attribute 'value'", &value) < 0)
        return -1;
    if (a && value.count != 1) {
        const_free(&value);
        return onnx_fail(imp, "attribute 'value' must hold one value");
    }
    int rc = onnx_const_alloc(imp, &out, (int)shape->count, shape->idata, value.idata != NULL, 0);
    for (int64_t i = 0; rc == 0 && i < out.count; i++) {
        out.data[i] = value.count ? value.data[0] : 0.0f;
        if (out.idata)
            out.idata[i] = value.idata[0];
    }
    const_free(&value);
    return rc < 0 ? -1 : onnx_out_const(imp, &out);
}

/* Input i, an optional 1-D integer list, into out (at most max values);
 * *n = -1 when it is absent. */
static int onnx_in_list(Importer *imp, int i, const char *what, int64_t *out, int max, int *n)
{
    const Const *c;
    *n = -1;
    if (!onnx_input_name(imp, i))
        return 0;
    if (onnx_in_ints(imp, i, &c) < 0)
        return -1;
    if (c->rank != 1)
        return onnx_fail(imp, "input %s ('%s') must be 1-D, has rank %d", what,
                         imp->node->input[i], c->rank);
    if (const_has_sym(c))
        return onnx_fail(imp, "input %s ('%s') depends on run-time dimensions, which is not "
                              "supported",
                         what, imp->node->input[i]);
    if (c->count > max)
        return onnx_fail(imp, "input %s ('%s') has %lld values (more than %d are not supported)",
                         what, imp->node->input[i], (long long)c->count, max);
    *n = (int)c->count;
    memcpy(out, c->idata, sizeof *out * (size_t)c->count);
    return 0;
}

/* Slice of computed tensor x (as resolved by onnx_op_slice: the first
 * index, step and result size per axis of dims xdims), step 1 only: one
 * Slice node per axis it narrows, chained; none when it takes everything. */
static int onnx_slice_computed(Importer *imp, Value *x, int rank, const int64_t *xdims,
                               const int64_t *first, const int64_t *step, const int64_t *dims)
{
    int last = -1;
    for (int d = 0; d < rank; d++) {
        if (step[d] != 1)
            return onnx_fail(imp, "Slice of computed tensor '%s' with step %lld along axis %d "
                                  "is not supported (only step 1)",
                             x->name, (long long)step[d], d);
        if (dims[d] == 0)
            return onnx_fail(imp, "Slice of computed tensor '%s' with an empty result along "
                                  "axis %d is not supported",
                             x->name, d);
        if (dims[d] != xdims[d])
            last = d;
    }
    if (last < 0)
        return onnx_out_forward(imp, x);
    int t = x->tensor, n = -1;
    for (int d = 0; d <= last; d++) {
        if (dims[d] == xdims[d])
            continue;
        if (n >= 0) /* the previous axis' result, a tensor of its own */
            t = onnx_node_output(imp, n, 0, x->name);
        n = onnx_slice_node(imp, t, d, first[d], dims[d], 0);
    }
    return onnx_out_act(imp, n, 0);
}

/* Slice: starts, ends and axes are attributes before opset 10, inputs (with
 * steps) from it on.  Of a constant it is folded, of a computed tensor it
 * becomes Slice nodes (onnx_slice_computed). */
static int onnx_op_slice(Importer *imp, const OnnxOp *op)
{
    (void)op;
    Value *xv;
    int64_t starts[IR_MAX_RANK], ends[IR_MAX_RANK], axes[IR_MAX_RANK], steps[IR_MAX_RANK];
    int64_t xdims[IR_MAX_RANK];
    int n, ne, na, ns = -1, rank;
    if (onnx_in_required(imp, 0, &xv) < 0 || onnx_squeeze_input(imp, xv, &rank, xdims) < 0)
        return -1;
    if (imp->opset < 10) {
        if (onnx_attr_ints(imp, "starts", starts, IR_MAX_RANK, &n) < 0 ||
            onnx_attr_ints(imp, "ends", ends, IR_MAX_RANK, &ne) < 0 ||
            onnx_attr_ints(imp, "axes", axes, IR_MAX_RANK, &na) < 0)
            return -1;
        if (n < 0 || ne < 0)
            return onnx_fail(imp, "missing attribute %s", n < 0 ? "starts" : "ends");
    } else if (onnx_in_list(imp, 1, "starts", starts, IR_MAX_RANK, &n) < 0 ||
               onnx_in_list(imp, 2, "ends", ends, IR_MAX_RANK, &ne) < 0 ||
               onnx_in_list(imp, 3, "axes", axes, IR_MAX_RANK, &na) < 0 ||
               onnx_in_list(imp, 4, "steps", steps, IR_MAX_RANK, &ns) < 0) {
        return -1;
    } else if (n < 0 || ne < 0) {
        return onnx_fail(imp, "input %d (%s) is missing", n < 0 ? 1 : 2, n < 0 ? "starts" : "ends");
    }
    if (ne != n || (na >= 0 && na != n) || (ns >= 0 && ns != n))
        return onnx_fail(imp, "starts, ends, axes and steps have different lengths");
    if (n > rank)
        return onnx_fail(imp, "starts has %d values for a rank-%d input", n, rank);
    int64_t first[IR_MAX_RANK], step[IR_MAX_RANK], dims[IR_MAX_RANK];
    int seen[IR_MAX_RANK] = {0};
    for (int d = 0; d < rank; d++) {
        first[d] = 0;
        step[d] = 1;
        dims[d] = xdims[d];
    }
    for (int i = 0; i < n; i++) {
        int64_t ax = na >= 0 ? axes[i] : i;
        if (ax < -rank || ax >= rank)
            return onnx_fail(imp, "axis %lld is out of range", (long long)ax);
        if (ax < 0)
            ax += rank;
        if (seen[ax]++)
            return onnx_fail(imp, "axis %lld is repeated", (long long)ax);
        int64_t dim = xdims[ax], st = ns >= 0 ? steps[i] : 1;
        int64_t b = starts[i], e = ends[i];
        if (st == 0 || st == INT64_MIN)
            return onnx_fail(imp, "invalid step %lld", (long long)st);
        if (b < 0)
            b = b < -dim ? 0 : b + dim;
        if (e < 0)
            e = e < -dim - 1 ? -1 : e + dim;
        if (st > 0) {
            b = b > dim ? dim : b;
            e = e < 0 ? 0 : e > dim ? dim : e;
            dims[ax] = e > b ? 1 + (e - b - 1) / st : 0;
        } else {
            b = b > dim - 1 ? dim - 1 : b;
            e = e > dim - 1 ? dim - 1 : e;
            dims[ax] = b > e ? 1 + (b - e - 1) / -st : 0;
        }
        first[ax] = b;
        step[ax] = st;
    }
    if (xv->kind != V_CONST)
        return onnx_slice_computed(imp, xv, rank, xdims, first, step, dims);
    const Const *x = &xv->c;
    Const out;
    if (onnx_const_alloc(imp, &out, x->rank, dims, x->idata != NULL, x->sym != NULL) < 0)
        return -1;
    for (int64_t o = 0; o < out.count; o++) {
        int64_t rest = o, src = 0, stride = 1;
        for (int d = x->rank - 1; d >= 0; d--) {
            src += (first[d] + (rest % dims[d]) * step[d]) * stride;
            rest /= dims[d];
            stride *= x->dims[d];
        }
        const_copy(&out, o, x, src);
    }
    return onnx_out_const(imp, &out);
}

/* torch writes AvgPool (count_include_pad) as Pad + AveragePool: zero pads
 * vanish, zero padding of H and W is left for the Conv or AveragePool that
 * reads it (V_PADDED).  pads and value are attributes before opset 11
 * (pads named paddings in opset 1), inputs (value named constant_value) from
 * it on. */
static int onnx_op_pad(Importer *imp, const OnnxOp *op)
{
    (void)op;
    Value *x;
    int64_t p[2 * IR_MAX_RANK];
    int np;
    float value = 0.0f;
    char mode[32];
    if (onnx_in_required(imp, 0, &x) < 0 ||
        onnx_attr_string(imp, "mode", "constant", mode, sizeof mode) < 0)
        return -1;
    if (imp->opset < 11) {
        const char *pname = imp->opset < 2 ? "paddings" : "pads";
        if (onnx_attr_ints(imp, pname, p, 2 * IR_MAX_RANK, &np) < 0 ||
            onnx_attr_float(imp, "value", 0.0f, &value) < 0)
            return -1;
        if (np < 0)
            return onnx_fail(imp, "missing attribute %s", pname);
    } else {
        const Const *v;
        if (onnx_in_list(imp, 1, "pads", p, 2 * IR_MAX_RANK, &np) < 0 ||
            onnx_in_const(imp, 2, 0, &v) < 0)
            return -1;
        if (np < 0)
            return onnx_fail(imp, "input 1 (pads) is missing");
        if (v && v->count != 1)
            return onnx_fail(imp, "constant_value ('%s') must be a single value, has %lld",
                             imp->node->input[2], (long long)v->count);
        if (v)
            value = v->data[0];
    }
    if (strcmp(mode, "constant") != 0)
        return onnx_fail(imp, "unsupported attribute mode=%s", mode);
    if (value != 0.0f)
        return onnx_fail(imp, "padding with a value other than 0 is not supported");
    if (np % 2 != 0)
        return onnx_fail(imp, "pads has an odd number of values (%d)", np);
    int r = np / 2, any = 0;
    for (int i = 0; i < 2 * r; i++) {
        if (p[i] < 0)
            return onnx_fail(imp, "negative pads (cropping) are not supported");
        any |= p[i] != 0;
    }
    if (!any)
        return onnx_out_forward(imp, x);
    if (x->kind != V_TENSOR)
        return onnx_fail(imp, "Pad of '%s' is not supported", x->name);
    if (r != 3 && r != 4)
        return onnx_fail(imp, "Pad of a rank-%d tensor is not supported", r);
    if (p[0] || p[1] || p[r] || p[r + 1])
        return onnx_fail(imp, "Pad of the batch or channel dimension is not supported");
    const char *name = onnx_output_name(imp, 0);
    if (!name)
        return 0;
    Value *v = onnx_new_value(imp, name, V_PADDED);
    v->tensor = x->tensor;
    v->pad_rank = r;
    if (r == 4) { /* [N, C, H, W] begins, then ends */
        v->pads[0] = p[2];
        v->pads[1] = p[3];
        v->pads[2] = p[6];
        v->pads[3] = p[7];
    } else { /* 1-D: only W */
        v->pads[1] = p[2];
        v->pads[3] = p[5];
    }
    return 0;
}

/* ---- recurrent layers ---- */

/* A string-list attribute must be absent or hold, per direction, exactly
 * the ONNX defaults (other activation functions are not supported). */
static int onnx_rnn_activations(Importer *imp, int lstm, int dirs)
{
    static const char *const lstm_acts[] = {"Sigmoid", "Tanh", "Tanh"};
    static const char *const gru_acts[] = {"Sigmoid", "Tanh"};
    const char *const *want = lstm ? lstm_acts : gru_acts;
    size_t per = lstm ? 3 : 2;
    const Onnx__AttributeProto *a;
    if (onnx_attr_typed(imp, "activations", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS, &a) < 0)
        return -1;
    int ok = !a || a->n_strings == per * (size_t)dirs;
    for (size_t i = 0; a && ok && i < a->n_strings; i++) {
        const char *w = want[i % per];
        ok = a->strings[i].len == strlen(w) && memcmp(a->strings[i].data, w, strlen(w)) == 0;
    }
    if (!ok)
        return onnx_fail(imp, "activations other than the defaults (%s) are not supported",
                         lstm ? "Sigmoid, Tanh, Tanh" : "Sigmoid, Tanh");
    if (onnx_attr(imp, "activation_alpha") || onnx_attr(imp, "activation_beta"))
        return onnx_fail(imp, "attributes activation_alpha and activation_beta are not "
                              "supported");
    return 0;
}

/* An input of a recurrent node in the IR's layout 0: layout 1 has batch
 * and the leading dimension swapped (X [batch, seq, input], initial states
 * [batch, directions, hidden]), which a Transpose puts back.  A zero
 * initial state is what an absent one means, so it becomes absent (-1). */
static int onnx_rnn_input(Importer *imp, int i, int layout, int *t)
{
    static const int swap01[3] = {1, 0, 2};
    Value *v;
    *t = -1;
    if (onnx_in(imp, i, &v) < 0)
        return -1;
    if (!v)
        return 0;
    int state = i == 5 || i == 6;
    if (v->kind == V_CONST && state) {
        int zero = !const_has_sym(&v->c);
        for (int64_t k = 0; zero && k < v->c.count; k++)
            zero = v->c.data[k] == 0.0f;
        if (zero)
            return 0;
    }
    if (!layout || (i != 0 && !state)) {
        *t = onnx_tensor(imp, v);
        return *t < 0 ? -1 : 0;
    }
    if (v->kind == V_CONST) {
        Const out;
        if (v->c.rank != 3)
            return onnx_fail(imp, "input %d ('%s') must have rank 3", i, v->name);
        if (onnx_fold_transpose(imp, &v->c, swap01, &out) < 0)
            return -1;
        *t = onnx_const_tensor(imp, v->name, &out);
        return 0;
    }
    int x = onnx_tensor(imp, v);
    if (x < 0)
        return -1;
    int n = onnx_new_node(imp, OP_TRANSPOSE);
    Node *node = &imp->g->nodes[n];
    node->a.nperm = 3;
    memcpy(node->a.perm, swap01, sizeof swap01);
    node->nin = 1;
    node->in[0] = x;
    *t = onnx_node_output(imp, n, 0, v->name);
    return 0;
}

/* LSTM and GRU (ir.h Attrs): ONNX's inputs in ONNX's order; every output
 * is a tensor, those the model leaves unnamed get fresh names and nobody
 * reads them.  Layout 1 goes through Transposes on both sides. */
static int onnx_op_rnn(Importer *imp, const OnnxOp *op)
{
    static const char *const out_names[3] = {"Y", "Y_h", "Y_c"};
    int lstm = op->ir_op == OP_LSTM, nin = lstm ? 8 : 6, nout = lstm ? 3 : 2;
    Attrs a;
    ir_default_attrs(&a);
    char dir[32];
    int64_t hidden, layout, input_forget, lbr;
    float clip;
    if (onnx_attr_int(imp, "hidden_size", 0, &hidden) < 0 ||
        onnx_attr_string(imp, "direction", "forward", dir, sizeof dir) < 0 ||
        onnx_attr_int(imp, "layout", 0, &layout) < 0 ||
        onnx_attr_int(imp, "input_forget", 0, &input_forget) < 0 ||
        onnx_attr_int(imp, "linear_before_reset", 0, &lbr) < 0 ||
        onnx_attr_float(imp, "clip", 0.0f, &clip) < 0)
        return -1;
    if (strcmp(dir, "forward") == 0)
        a.direction = RNN_FORWARD;
    else if (strcmp(dir, "reverse") == 0)
        a.direction = RNN_REVERSE;
    else if (strcmp(dir, "bidirectional") == 0)
        a.direction = RNN_BIDIRECTIONAL;
    else
        return onnx_fail(imp, "unknown direction '%s'", dir);
    if (onnx_rnn_activations(imp, lstm, a.direction == RNN_BIDIRECTIONAL ? 2 : 1) < 0)
        return -1;
    if (layout != 0 && layout != 1)
        return onnx_fail(imp, "attribute layout=%lld is not 0 or 1", (long long)layout);
    if (input_forget != 0 && input_forget != 1)
        return onnx_fail(imp, "attribute input_forget=%lld is not 0 or 1",
                         (long long)input_forget);
    if (lbr != 0 && lbr != 1)
        return onnx_fail(imp, "attribute linear_before_reset=%lld is not 0 or 1", (long long)lbr);
    if (onnx_attr(imp, "clip") && !(clip > 0.0f))
        return onnx_fail(imp, "attribute clip=%g must be positive", (double)clip);
    if (hidden < 0 || hidden > INT32_MAX)
        return onnx_fail(imp, "attribute hidden_size=%lld is out of range", (long long)hidden);
    int in[8];
    for (int i = 0; i < nin; i++) {
        int rc = i == 1 || i == 2 ? onnx_in_tensor(imp, i, &in[i])
                                  : onnx_rnn_input(imp, i, (int)layout, &in[i]);
        if (rc < 0)
            return -1;
    }
    if (in[0] < 0)
        return onnx_fail(imp, "input 0 (X) is missing");
    if (hidden == 0) { /* optional in ONNX: R is [directions, G*hidden, hidden] */
        const Tensor *r = &imp->g->tensors[in[2]];
        if (r->kind != TK_CONST || r->rank != 3)
            return onnx_fail(imp, "attribute hidden_size is missing and R does not tell it");
        hidden = r->dims[2];
    }
    a.hidden_size = hidden;
    a.input_forget = (int)input_forget;
    a.linear_before_reset = (int)lbr;
    a.rnn_clip = clip;
    int n = onnx_new_node(imp, op->ir_op);
    Node *node = &imp->g->nodes[n];
    node->a = a;
    node->nin = nin;
    memcpy(node->in, in, sizeof in[0] * (size_t)nin);
    for (int k = 0; k < nout; k++) {
        const char *name = onnx_output_name(imp, k);
        char base[600];
        snprintf(base, sizeof base, "%s_%s", imp->node_name, out_names[k]);
        if (!name || !layout) {
            if (name)
                onnx_bind_output(imp, n, k, name);
            else
                onnx_node_output(imp, n, k, base);
            continue;
        }
        /* layout 1: Y [batch, seq, directions, hidden], states [batch, directions, hidden] */
        int t = onnx_node_output(imp, n, k, base);
        int tr = onnx_new_node(imp, OP_TRANSPOSE);
        Node *tn = &imp->g->nodes[tr];
        static const int y_perm[4] = {2, 0, 1, 3}, state_perm[3] = {1, 0, 2};
        tn->a.nperm = k == 0 ? 4 : 3;
        memcpy(tn->a.perm, k == 0 ? y_perm : state_perm, sizeof tn->a.perm[0] * (size_t)tn->a.nperm);
        tn->nin = 1;
        tn->in[0] = t;
        onnx_bind_output(imp, tr, 0, name);
    }
    return 0;
}

static const OnnxOp onnx_ops[] = {
    {"Conv", onnx_op_conv, OP_CONV, {{1, 2, 3}},
     {ATTR("kernel_shape"), ATTR("strides"), ATTR("pads"), ATTR("dilations"), ATTR("group"),
      ATTR("auto_pad")}},
    {"Gemm", onnx_op_gemm, OP_DENSE, {{1, 3, 3}, {11, 2, 3}},
     {ATTR("alpha"), ATTR("beta"), ATTR("transA"), ATTR("transB"), ATTR_UNTIL("broadcast", 7)}},
    {"MatMul", onnx_op_matmul, OP_DENSE, {{1, 2, 2}}, {{0}}},
    {"BatchNormalization", onnx_op_batchnorm, OP_BATCHNORM, {{1, 5, 5}},
     {ATTR("epsilon"), ATTR("momentum"), ATTR_UNTIL("is_test", 7), ATTR_UNTIL("spatial", 9),
      ATTR_SINCE("training_mode", 14), ATTR_LEGACY}},
    {"Relu", onnx_op_simple, OP_RELU, {{1, 1, 1}}, {ATTR_LEGACY}},
    {"Sigmoid", onnx_op_simple, OP_SIGMOID, {{1, 1, 1}}, {ATTR_LEGACY}},
    {"Tanh", onnx_op_simple, OP_TANH, {{1, 1, 1}}, {ATTR_LEGACY}},
    {"Softmax", onnx_op_simple, OP_SOFTMAX, {{1, 1, 1}}, {ATTR("axis")}},
    {"LeakyRelu", onnx_op_simple, OP_LEAKYRELU, {{1, 1, 1}}, {ATTR("alpha"), ATTR_LEGACY}},
    {"Clip", onnx_op_clip, OP_CLIP, {{1, 1, 1}, {11, 1, 3}},
     {ATTR_UNTIL("min", 11), ATTR_UNTIL("max", 11), ATTR_LEGACY}},
    {"MaxPool", onnx_op_pool, OP_MAXPOOL, {{1, 1, 1}},
     {ATTR("kernel_shape"), ATTR("strides"), ATTR("pads"), ATTR("auto_pad"),
      ATTR_SINCE("storage_order", 8), ATTR_SINCE("ceil_mode", 10), ATTR_SINCE("dilations", 10)}},
    {"AveragePool", onnx_op_pool, OP_AVGPOOL, {{1, 1, 1}},
     {ATTR("kernel_shape"), ATTR("strides"), ATTR("pads"), ATTR("auto_pad"),
      ATTR_SINCE("count_include_pad", 7), ATTR_SINCE("ceil_mode", 10)}},
    {"GlobalAveragePool", onnx_op_pool, OP_GLOBALAVGPOOL, {{1, 1, 1}}, {{0}}},
    {"Add", onnx_op_add, OP_ADD, {{1, 2, 2}},
     {ATTR_UNTIL("broadcast", 7), ATTR_UNTIL("axis", 7), ATTR_LEGACY}},
    {"Sub", onnx_op_add, OP_COUNT, {{1, 2, 2}},
     {ATTR_UNTIL("broadcast", 7), ATTR_UNTIL("axis", 7), ATTR_LEGACY}},
    {"Mul", onnx_op_add, OP_COUNT, {{1, 2, 2}},
     {ATTR_UNTIL("broadcast", 7), ATTR_UNTIL("axis", 7), ATTR_LEGACY}},
    {"Div", onnx_op_add, OP_COUNT, {{1, 2, 2}},
     {ATTR_UNTIL("broadcast", 7), ATTR_UNTIL("axis", 7), ATTR_LEGACY}},
    {"Concat", onnx_op_concat, OP_CONCAT, {{1, 1, -1}}, {ATTR("axis")}},
    {"Flatten", onnx_op_flatten, OP_RESHAPE, {{1, 1, 1}}, {ATTR("axis")}},
    {"Reshape", onnx_op_reshape, OP_RESHAPE, {{1, 1, 1}, {5, 2, 2}},
     {ATTR_UNTIL("shape", 5), ATTR_UNTIL("consumed_inputs", 5), ATTR_SINCE("allowzero", 14)}},
    {"Transpose", onnx_op_transpose, OP_TRANSPOSE, {{1, 1, 1}}, {ATTR("perm")}},
    {"Identity", onnx_op_forward, OP_COUNT, {{1, 1, 1}}, {{0}}},
    {"Dropout", onnx_op_forward, OP_COUNT, {{1, 1, 1}, {12, 1, 3}},
     {ATTR_UNTIL("is_test", 7), ATTR_UNTIL("ratio", 12), ATTR_SINCE("seed", 12), ATTR_LEGACY}},
    {"Constant", onnx_op_constant, OP_COUNT, {{1, 0, 0}},
     {ATTR("value"), ATTR_SINCE("value_float", 12), ATTR_SINCE("value_floats", 12),
      ATTR_SINCE("value_int", 12), ATTR_SINCE("value_ints", 12)}},
    {"Shape", onnx_op_shape, OP_COUNT, {{1, 1, 1}},
     {ATTR_SINCE("start", 15), ATTR_SINCE("end", 15)}},
    {"Gather", onnx_op_gather, OP_COUNT, {{1, 2, 2}}, {ATTR("axis")}},
    {"Unsqueeze", onnx_op_unsqueeze, OP_COUNT, {{1, 1, 1}, {13, 2, 2}},
     {ATTR_UNTIL("axes", 13)}},
    {"Squeeze", onnx_op_squeeze, OP_COUNT, {{1, 1, 1}, {13, 1, 2}}, {ATTR_UNTIL("axes", 13)}},
    {"Cast", onnx_op_cast, OP_COUNT, {{1, 1, 1}}, {ATTR("to")}}, /* a name before opset 6 */
    {"Pad", onnx_op_pad, OP_COUNT, {{1, 1, 1}, {11, 2, 3}},
     {ATTR("mode"), ATTR_UNTIL("paddings", 2), {"pads", 2, 11}, ATTR_UNTIL("value", 11)}},
    {"ConstantOfShape", onnx_op_constant_of_shape, OP_COUNT, {{9, 1, 1}}, {ATTR("value")}},
    {"Expand", onnx_op_expand, OP_COUNT, {{8, 2, 2}}, {{0}}},
    {"LSTM", onnx_op_rnn, OP_LSTM, {{1, 3, 8}},
     {ATTR("hidden_size"), ATTR("direction"), ATTR("activations"), ATTR("activation_alpha"),
      ATTR("activation_beta"), ATTR("clip"), ATTR("input_forget"), ATTR_SINCE("layout", 14),
      ATTR_UNTIL("output_sequence", 7)}},
    {"GRU", onnx_op_rnn, OP_GRU, {{1, 3, 6}},
     {ATTR("hidden_size"), ATTR("direction"), ATTR("activations"), ATTR("activation_alpha"),
      ATTR("activation_beta"), ATTR("clip"), ATTR_SINCE("linear_before_reset", 3),
      ATTR_SINCE("layout", 14), ATTR_UNTIL("output_sequence", 7)}},
    {"Slice", onnx_op_slice, OP_COUNT, {{1, 1, 1}, {10, 3, 5}},
     {ATTR_UNTIL("starts", 10), ATTR_UNTIL("ends", 10), ATTR_UNTIL("axes", 10)}},
};

/* ---- one node ---- */

/* Makes node index the subject of error messages and of the IR name. */
static void onnx_enter_node(Importer *imp, int index)
{
    const Onnx__NodeProto *nd = imp->gp->node[index];
    const char *type = str_or_empty(nd->op_type);
    imp->node = nd;
    imp->node_index = index;
    free(imp->node_name);
    if (nd->name && nd->name[0]) {
        imp->node_name = xstrdup(nd->name);
    } else {
        size_t len = strlen(type) + 24;
        imp->node_name = xmalloc(len);
        snprintf(imp->node_name, len, "%s_%d", type, index);
    }
}

static int onnx_import_node(Importer *imp, int index)
{
    onnx_enter_node(imp, index);
    const Onnx__NodeProto *nd = imp->node;
    const char *type = str_or_empty(nd->op_type);
    if (nd->domain && nd->domain[0] && strcmp(nd->domain, "ai.onnx") != 0)
        return onnx_fail(imp, "unsupported op '%s' from domain '%s'", type, nd->domain);

    const OnnxOp *op = NULL;
    for (size_t i = 0; i < sizeof onnx_ops / sizeof onnx_ops[0]; i++)
        if (strcmp(onnx_ops[i].name, type) == 0)
            op = &onnx_ops[i];
    if (!op)
        return onnx_fail(imp, "unsupported op '%s'", type);

    /* the form of the op in the model's opset */
    const OnnxArity *io = NULL;
    for (size_t k = 0; k < sizeof op->io / sizeof op->io[0]; k++)
        if (op->io[k].since && imp->opset >= op->io[k].since)
            io = &op->io[k];
    if (!io)
        return onnx_fail(imp, "op '%s' is not part of opset %lld (added in opset %d)", type,
                         (long long)imp->opset, op->io[0].since);
    for (size_t i = 0; i < nd->n_attribute; i++) {
        const char *an = nd->attribute[i] ? str_or_empty(nd->attribute[i]->name) : "";
        const OnnxAttr *known = NULL;
        for (size_t k = 0; k < sizeof op->attrs / sizeof op->attrs[0] && op->attrs[k].name; k++)
            if (strcmp(op->attrs[k].name, an) == 0)
                known = &op->attrs[k];
        if (!known)
            return onnx_fail(imp, "unsupported attribute '%s'", an);
        if (known->since && imp->opset < known->since)
            return onnx_fail(imp, "attribute '%s' is not part of %s in opset %lld (added in "
                                  "opset %d)",
                             an, type, (long long)imp->opset, known->since);
        if (known->until && imp->opset >= known->until)
            return onnx_fail(imp, "attribute '%s' is not part of %s in opset %lld (removed in "
                                  "opset %d)",
                             an, type, (long long)imp->opset, known->until);
    }
    /* trailing empty names are absent optional inputs */
    int nin = (int)nd->n_input;
    while (nin > 0 && !onnx_input_name(imp, nin - 1))
        nin--;
    char in_opset[48] = "";
    if (op->io[1].since) /* the count changed with the opset: say which */
        snprintf(in_opset, sizeof in_opset, " in opset %lld", (long long)imp->opset);
    if (nin < io->min_in)
        return onnx_fail(imp, "has %d inputs, expected at least %d%s", nin, io->min_in, in_opset);
    if (io->max_in >= 0 && nin > io->max_in)
        return onnx_fail(imp, "has %d inputs, expected at most %d%s", nin, io->max_in, in_opset);

    if (op->import(imp, op) < 0)
        return -1;

    /* outputs the importer did not define (MaxPool indices, Dropout mask,
       BatchNormalization training statistics) may only be unused */
    for (int k = 0; k < (int)nd->n_output; k++) {
        const char *name = onnx_output_name(imp, k);
        if (name && nm_get(&imp->value_of, name, -1) < 0 && nm_get(&imp->used, name, 0))
            return onnx_fail(imp, "output %d ('%s') is not supported", k, name);
    }
    return 0;
}

/* ---- graph inputs, bindings, order ---- */

/* Declared rank and dims (-1: unknown) of a graph input; *rank = -1 when
 * the model gives no shape. */
static int onnx_declared_shape(Importer *imp, const Onnx__ValueInfoProto *vi, int *rank,
                               int64_t *dims, int *elem_type)
{
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET ||
        (tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && !tp->tensor_type))
        return onnx_fail(imp, "graph input '%s' has no type (or a kind of type that is not "
                              "supported)",
                         vi->name);
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
        const char *kind = tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE ? "a sequence"
                           : tp->value_case == ONNX__TYPE_PROTO__VALUE_MAP_TYPE    ? "a map"
                           : tp->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE
                               ? "an optional"
                           : tp->value_case == ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE
                               ? "a sparse tensor"
                               : "not a tensor";
        return onnx_fail(imp, "graph input '%s' is %s, not a tensor (sequences, maps, optionals "
                              "and sparse tensors are not supported)",
                         vi->name, kind);
    }
    *elem_type = tp->tensor_type->has_elem_type ? tp->tensor_type->elem_type : 0;
    const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
    *rank = -1;
    if (!sh)
        return 0;
    if (sh->n_dim > IR_MAX_RANK)
        return onnx_fail(imp, "graph input '%s' has rank %zu, which is not supported (at most %d)",
                         vi->name, sh->n_dim, IR_MAX_RANK);
    *rank = (int)sh->n_dim;
    for (int i = 0; i < *rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = sh->dim[i];
        int known = d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        if (known && d->dim_value < 0)
            return onnx_fail(imp, "graph input '%s': dimension %d is %lld (negative)", vi->name, i,
                             (long long)d->dim_value);
        dims[i] = known ? d->dim_value : -1;
    }
    return 0;
}

/* Graph input vi frozen to the data of a file. */
static int onnx_bind_input(Importer *imp, const Onnx__ValueInfoProto *vi, const OnnxBinding *b,
                           int rank, const int64_t *dims, Value *v)
{
    TensorFile tf;
    char err[768];
    if (tf_read(b->path, &tf, err, sizeof err) < 0)
        return onnx_fail(imp, "binding '%s': %s", vi->name, err);
    int same = rank < 0 || tf.rank == rank;
    for (int d = 0; same && rank >= 0 && d < rank; d++)
        same = dims[d] < 0 || dims[d] == tf.dims[d];
    if (!same) {
        char have[200], want[200];
        shape_text(have, sizeof have, tf.rank, tf.dims);
        shape_text(want, sizeof want, rank, dims);
        tf_free(&tf);
        return onnx_fail(imp, "binding '%s': %s has shape %s, the input is declared %s", vi->name,
                         b->path, have, want);
    }
    char what[512];
    snprintf(what, sizeof what, "binding '%s'", vi->name);
    if (onnx_const_from_tf(imp, &tf, what, &v->c) < 0)
        return -1;
    v->kind = V_CONST;
    v->init = NULL;
    return 0;
}

static int onnx_graph_inputs(Importer *imp, const OnnxBinding *bind, int nbind)
{
    const Onnx__GraphProto *gp = imp->gp;
    for (int b = 0; b < nbind; b++) {
        if (!bind[b].name || !bind[b].path)
            return onnx_fail(imp, "binding %d has no name or no file", b);
        int found = 0;
        for (size_t i = 0; i < gp->n_input; i++)
            found |= gp->input[i] && gp->input[i]->name &&
                     strcmp(gp->input[i]->name, bind[b].name) == 0;
        if (!found)
            return onnx_fail(imp, "binding '%s': the model has no graph input of that name",
                             bind[b].name);
        for (int c = 0; c < b; c++)
            if (strcmp(bind[c].name, bind[b].name) == 0)
                return onnx_fail(imp, "graph input '%s' is bound twice", bind[b].name);
    }

    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi || !vi->name || !vi->name[0])
            return onnx_fail(imp, "graph input %zu has no name", i);
        const OnnxBinding *bound = NULL;
        for (int b = 0; b < nbind; b++)
            if (strcmp(bind[b].name, vi->name) == 0)
                bound = &bind[b];
        int prev = nm_get(&imp->value_of, vi->name, -1);
        if (prev >= 0 && imp->values[prev]->kind != V_INIT)
            return onnx_fail(imp, "graph input '%s' is listed twice", vi->name);
        if (prev >= 0 && !bound)
            continue; /* an initializer: a constant with a default value */
        int rank = -1, elem = 0;
        int64_t dims[IR_MAX_RANK];
        if (onnx_declared_shape(imp, vi, &rank, dims, &elem) < 0)
            return -1;
        if (bound) {
            Value *v = prev >= 0 ? imp->values[prev] : onnx_new_value(imp, vi->name, V_CONST);
            if (onnx_bind_input(imp, vi, bound, rank, dims, v) < 0)
                return -1;
            continue;
        }

        if (elem != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
            char tn[32];
            if (!elem)
                return onnx_fail(imp, "graph input '%s' has no element type", vi->name);
            if (!onnx_type_name(elem, tn, sizeof tn))
                return onnx_fail(imp, "graph input '%s' has an unknown element type %d", vi->name,
                                 elem);
            return onnx_fail(imp, "graph input '%s': element type %s is not supported (only "
                                  "float32 graph inputs; or freeze it with --bind)",
                             vi->name, tn);
        }
        if (rank < 0)
            return onnx_fail(imp, "graph input '%s' has no shape (inputs of unknown rank are not "
                                  "supported)",
                             vi->name);
        for (int d = 0; d < rank; d++) {
            if (dims[d] < 0 && d == 0)
                dims[d] = 1; /* symbolic batch: compile for one sample */
            else if (dims[d] < 0)
                return onnx_fail(imp, "graph input '%s': dimension %d is unknown, which is not "
                                      "supported (only the first, the batch, may be)",
                                 vi->name, d);
            else if (dims[d] == 0)
                return onnx_fail(imp, "graph input '%s': dimension %d is 0 (zero-size "
                                      "dimensions are not supported)",
                                 vi->name, d);
        }
        if (imp->g->ninputs == IR_MAX_IO)
            return onnx_fail(imp, "more than %d run-time graph inputs are not supported",
                             IR_MAX_IO);
        int t = onnx_add_tensor(imp, vi->name, TK_INPUT);
        Tensor *ten = &imp->g->tensors[t];
        ten->rank = rank;
        memcpy(ten->dims, dims, sizeof dims[0] * (size_t)rank);
        imp->g->inputs[imp->g->ninputs++] = t;
        Value *v = onnx_new_value(imp, vi->name, V_TENSOR);
        v->tensor = t;
    }
    return 0;
}

/* Node order in which every input is defined before it is read; stable, so
 * a sorted graph keeps its order. */
static int onnx_node_order(Importer *imp, int *order)
{
    const Onnx__GraphProto *gp = imp->gp;
    int n = (int)gp->n_node;
    NameMap defined = {0};
    for (int i = 0; i < imp->nvalues; i++)
        nm_set(&defined, imp->values[i]->name, 1);
    char *done = xcalloc((size_t)n + 1, 1);
    int count = 0, rc = 0;
    while (count < n && rc == 0) {
        int progress = 0;
        for (int i = 0; i < n; i++) {
            const Onnx__NodeProto *nd = gp->node[i];
            int ready = 1;
            for (size_t k = 0; ready && k < nd->n_input; k++)
                if (nd->input[k] && nd->input[k][0] && !nm_get(&defined, nd->input[k], 0))
                    ready = 0;
            if (done[i] || !ready)
                continue;
            for (size_t k = 0; k < nd->n_output; k++)
                if (nd->output[k] && nd->output[k][0])
                    nm_set(&defined, nd->output[k], 1);
            order[count++] = i;
            done[i] = 1;
            progress = 1;
        }
        if (progress)
            continue;
        for (int i = 0; i < n && rc == 0; i++) {
            if (done[i])
                continue;
            const Onnx__NodeProto *nd = gp->node[i];
            for (size_t k = 0; k < nd->n_input; k++) {
                const char *in = nd->input[k];
                if (!in || !in[0] || nm_get(&defined, in, 0))
                    continue;
                onnx_enter_node(imp, i);
                rc = onnx_fail(imp, nm_get(&imp->names, in, 0)
                                        ? "input '%s' is part of a cycle"
                                        : "input '%s' is not produced by any node, initializer "
                                          "or graph input",
                               in);
                imp->node = NULL;
                break;
            }
        }
    }
    free(done);
    nm_free(&defined);
    return rc;
}

/* Names every ONNX value uses, so that made-up tensor names avoid them, and
 * the names that something reads. */
static int onnx_scan_names(Importer *imp)
{
    const Onnx__GraphProto *gp = imp->gp;
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp || !tp->name || !tp->name[0])
            continue; /* nothing can refer to it */
        if (nm_get(&imp->value_of, tp->name, -1) >= 0)
            return onnx_fail(imp, "initializer '%s' is listed twice", tp->name);
        Value *v = onnx_new_value(imp, tp->name, V_INIT);
        v->init = tp;
        nm_set(&imp->names, tp->name, 2);
    }
    for (size_t i = 0; i < gp->n_input; i++)
        if (gp->input[i] && gp->input[i]->name)
            nm_set(&imp->names, gp->input[i]->name, 2);
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *nd = gp->node[i];
        if (!nd)
            return onnx_fail(imp, "node %zu is empty", i);
        for (size_t k = 0; k < nd->n_input; k++)
            if (nd->input[k] && nd->input[k][0])
                nm_set(&imp->used, nd->input[k], 1);
        for (size_t k = 0; k < nd->n_output; k++) {
            const char *o = nd->output[k];
            if (!o || !o[0])
                continue;
            if (nm_get(&imp->names, o, 0))
                return onnx_fail(imp, "node %zu (%s \"%s\"): output '%s' is already defined by "
                                      "another node, an initializer or a graph input",
                                 i, str_or_empty(nd->op_type), str_or_empty(nd->name), o);
            nm_set(&imp->names, o, 2);
        }
    }
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        if (!vi || !vi->name || !vi->name[0])
            return onnx_fail(imp, "graph output %zu has no name", i);
        nm_set(&imp->used, vi->name, 1);
        nm_set(&imp->outputs, vi->name, 1);
    }
    return 0;
}

static int onnx_graph_outputs(Importer *imp)
{
    const Onnx__GraphProto *gp = imp->gp;
    if (gp->n_output == 0)
        return onnx_fail(imp, "the graph has no outputs");
    if (gp->n_output > IR_MAX_IO)
        return onnx_fail(imp, "%zu graph outputs are not supported (at most %d)", gp->n_output,
                         IR_MAX_IO);
    Graph *g = imp->g;
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i]->name;
        Value *v = onnx_lookup(imp, name);
        if (!v)
            return onnx_fail(imp, "graph output '%s' is not produced by any node", name);
        if (v->kind != V_TENSOR)
            return onnx_fail(imp, "graph output '%s' is %s, which is not supported", name,
                             v->kind == V_CONST ? "a constant" : "not computed by any node");
        const Tensor *t = &g->tensors[v->tensor];
        if (t->kind == TK_INPUT)
            return onnx_fail(imp, "graph output '%s' is the graph input '%s', which is not "
                                  "supported",
                             name, t->name);
        for (int k = 0; k < g->noutputs; k++)
            if (g->outputs[k] == v->tensor)
                return onnx_fail(imp, "graph outputs '%s' and '%s' are the same tensor, which is "
                                      "not supported",
                                 gp->output[k]->name, name);
        /* an output reached through Identity takes the output's name */
        if (strcmp(t->name, name) != 0) {
            free(g->tensors[v->tensor].name);
            g->tensors[v->tensor].name = xstrdup(name);
            nm_set(&imp->names, name, 1);
        }
        g->outputs[g->noutputs++] = v->tensor;
    }
    return 0;
}

/* ---- the model ---- */

static int onnx_opset(Importer *imp)
{
    const Onnx__ModelProto *m = imp->model;
    imp->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *os = m->opset_import[i];
        if (os && (!os->domain || !os->domain[0] || strcmp(os->domain, "ai.onnx") == 0))
            imp->opset = os->has_version ? os->version : 0;
    }
    if (imp->opset < 0)
        return onnx_fail(imp, "no opset_import for the default ONNX domain");
    if (imp->opset < ONNX_MIN_OPSET || imp->opset > ONNX_MAX_OPSET)
        return onnx_fail(imp, "opset %lld is not supported (supported: %d to %d)",
                         (long long)imp->opset, ONNX_MIN_OPSET, ONNX_MAX_OPSET);
    return 0;
}

static int onnx_import(Importer *imp, const void *buf, size_t len, const OnnxBinding *bind,
                       int nbind)
{
    imp->model = onnx__model_proto__unpack(NULL, len, buf);
    if (!imp->model)
        return onnx_fail(imp, "not an ONNX model (protobuf parse failed)");
    if (!imp->model->graph)
        return onnx_fail(imp, "not an ONNX model (no graph)");
    imp->gp = imp->model->graph;
    if (onnx_opset(imp) < 0)
        return -1;

    char *gname = ident_from_path(imp->path);
    imp->g = ir_graph_new(gname);
    free(gname);

    if (onnx_scan_names(imp) < 0 || onnx_graph_inputs(imp, bind, nbind) < 0)
        return -1;
    int *order = xcalloc(imp->gp->n_node + 1, sizeof *order);
    int rc = onnx_node_order(imp, order);
    for (size_t i = 0; rc == 0 && i < imp->gp->n_node; i++)
        rc = onnx_import_node(imp, order[i]);
    free(order);
    imp->node = NULL;
    if (rc < 0 || onnx_graph_outputs(imp) < 0)
        return -1;
    if (ir_toposort(imp->g) < 0)
        return onnx_fail(imp, "%s", imp->g->err);
    return 0;
}

Graph *onnx_load_buffer(const void *buf, size_t len, const char *path, const OnnxBinding *bind,
                        int nbind, char *err, size_t errlen)
{
    Importer *imp = xcalloc(1, sizeof *imp);
    imp->path = path;
    imp->budget = ONNX_FOLD_BUDGET + (int64_t)(len / 2);
    int rc = onnx_import(imp, buf, len, bind, nbind);
    Graph *g = imp->g;
    if (rc < 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s", imp->err);
        ir_graph_free(g);
        g = NULL;
    }
    for (int i = 0; i < imp->nvalues; i++) {
        free(imp->values[i]->name);
        const_free(&imp->values[i]->c);
        free(imp->values[i]);
    }
    free(imp->values);
    nm_free(&imp->value_of);
    nm_free(&imp->names);
    nm_free(&imp->used);
    nm_free(&imp->outputs);
    free(imp->node_name);
    if (imp->model)
        onnx__model_proto__free_unpacked(imp->model, NULL);
    free(imp);
    return g;
}

Graph *onnx_load(const char *path, const OnnxBinding *bind, int nbind, char *err, size_t errlen)
{
    unsigned char *buf;
    size_t len;
    if (tf_read_file(path, &buf, &len, err, errlen) < 0)
        return NULL;
    Graph *g = onnx_load_buffer(buf, len, path, bind, nbind, err, errlen);
    free(buf);
    return g;
}
