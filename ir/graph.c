/* Graph construction and the small utilities every pass shares. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "quant_rnn.h"
#include "util.h"

static const char *const op_names[] = {
#define SHIFTC_OP_NAME(e, name, w) name,
    SHIFTC_OPS(SHIFTC_OP_NAME)
#undef SHIFTC_OP_NAME
};
static const unsigned char op_weighted[] = {
#define SHIFTC_OP_W(e, name, w) w,
    SHIFTC_OPS(SHIFTC_OP_W)
#undef SHIFTC_OP_W
};
_Static_assert(sizeof op_names / sizeof op_names[0] == OP_COUNT, "op table out of sync");

const char *ir_op_name(Op op) { return (unsigned)op < OP_COUNT ? op_names[op] : "?"; }

int ir_kernel_parse(const char *s, KernelStyle *k)
{
    if (strcmp(s, "unrolled") == 0)
        *k = KS_UNROLLED;
    else if (strcmp(s, "mac") == 0 || strcmp(s, "table") == 0)
        *k = KS_TABLE;
    else
        return -1;
    return 0;
}
int ir_op_is_weighted(Op op) { return (unsigned)op < OP_COUNT && op_weighted[op]; }
int ir_op_is_recurrent(Op op) { return op == OP_LSTM || op == OP_GRU; }

Graph *ir_graph_new(const char *name)
{
    Graph *g = xcalloc(1, sizeof *g);
    g->name = xstrdup(name);
    return g;
}

void ir_free_qlayer(QLayer *q)
{
    if (!q)
        return;
    free(q->wq);
    free(q->wscale);
    free(q->bias);
    free(q->mult);
    free(q->shift);
    free(q->lut);
    free(q->exp_lut);
    free(q->nm);
    quant_rnn_free(q->rnn);
    free(q);
}

void ir_graph_free(Graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->ntensors; i++) {
        free(g->tensors[i].name);
        free(g->tensors[i].data);
        free(g->tensors[i].idata);
        free(g->tensors[i].qdata);
        free(g->tensors[i].cal.hist);
    }
    for (int i = 0; i < g->nnodes; i++) {
        free(g->nodes[i].name);
        ir_free_qlayer(g->nodes[i].q);
    }
    free(g->tensors);
    free(g->nodes);
    free(g->name);
    free(g);
}

int ir_add_tensor(Graph *g, const char *name, TensorKind kind)
{
    if (g->ntensors == g->cap_tensors) {
        g->cap_tensors = g->cap_tensors ? 2 * g->cap_tensors : 64;
        g->tensors = xrealloc(g->tensors, (size_t)g->cap_tensors * sizeof *g->tensors);
    }
    Tensor *t = &g->tensors[g->ntensors];
    memset(t, 0, sizeof *t);
    t->name = xstrdup(name);
    t->kind = kind;
    t->producer = -1;
    return g->ntensors++;
}

int ir_find_tensor(const Graph *g, const char *name)
{
    for (int i = 0; i < g->ntensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return i;
    return -1;
}

void ir_default_attrs(Attrs *a)
{
    memset(a, 0, sizeof *a);
    a->kernel[0] = a->kernel[1] = 1;
    a->strides[0] = a->strides[1] = 1;
    a->dilations[0] = a->dilations[1] = 1;
    a->group = 1;
    a->alpha = 0.01f;
    a->epsilon = 1e-5f;
    a->clip_min = -3.402823466e38f;
    a->clip_max = 3.402823466e38f;
    a->axis = 1;
    a->flatten_axis = -1;
}

int ir_add_node(Graph *g, Op op, const char *name, int src_index)
{
    if (g->nnodes == g->cap_nodes) {
        g->cap_nodes = g->cap_nodes ? 2 * g->cap_nodes : 32;
        g->nodes = xrealloc(g->nodes, (size_t)g->cap_nodes * sizeof *g->nodes);
    }
    Node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = xstrdup(name);
    n->src_index = src_index;
    for (int i = 0; i < IR_MAX_IO; i++)
        n->in[i] = n->out[i] = -1;
    ir_default_attrs(&n->a);
    n->prec.weights = WF_INT8;
    n->prec.act_bits = 8;
    n->prec.acc_bits = 32;
    n->prec.kernel = KS_UNROLLED;
    return g->nnodes++;
}

int64_t ir_numel(const Tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= t->dims[i];
    return n;
}

int ir_consumers(const Graph *g, int tensor, int *nodes, int max)
{
    int count = 0;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nin; j++)
            if (g->nodes[i].in[j] == tensor) {
                if (nodes && count < max)
                    nodes[count] = i;
                count++;
                break;
            }
    return count;
}

/* Recompute every tensor's producer from the node list. */
static void relink(Graph *g)
{
    for (int t = 0; t < g->ntensors; t++)
        g->tensors[t].producer = -1;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nout; j++)
            if (g->nodes[i].out[j] >= 0)
                g->tensors[g->nodes[i].out[j]].producer = i;
}

void ir_remove_nodes(Graph *g, const int *dead)
{
    int k = 0;
    for (int i = 0; i < g->nnodes; i++) {
        if (dead[i]) {
            free(g->nodes[i].name);
            ir_free_qlayer(g->nodes[i].q);
            continue;
        }
        g->nodes[k++] = g->nodes[i];
    }
    g->nnodes = k;
    relink(g);
}

/* Kahn's algorithm, taking ready nodes in their current order so that an
 * already sorted graph is left exactly as it is (determinism). */
int ir_toposort(Graph *g)
{
    int n = g->nnodes;
    Node *sorted = xcalloc((size_t)n + 1, sizeof *sorted);
    char *done = xcalloc((size_t)n + 1, 1);
    char *ready = xcalloc((size_t)g->ntensors + 1, 1);
    for (int t = 0; t < g->ntensors; t++)
        ready[t] = g->tensors[t].kind != TK_ACT;
    int count = 0;
    while (count < n) {
        int progress = 0;
        for (int i = 0; i < n; i++) {
            if (done[i])
                continue;
            const Node *nd = &g->nodes[i];
            int ok = 1;
            for (int j = 0; j < nd->nin; j++)
                if (nd->in[j] >= 0 && !ready[nd->in[j]])
                    ok = 0;
            if (!ok)
                continue;
            for (int j = 0; j < nd->nout; j++)
                if (nd->out[j] >= 0)
                    ready[nd->out[j]] = 1;
            sorted[count++] = *nd;
            done[i] = 1;
            progress = 1;
        }
        if (!progress) {
            for (int i = 0; i < n; i++)
                if (!done[i]) {
                    free(sorted), free(done), free(ready);
                    return ir_fail(g, &g->nodes[i], "input is never computed (cycle or missing producer)");
                }
        }
    }
    memcpy(g->nodes, sorted, (size_t)n * sizeof *sorted);
    free(sorted), free(done), free(ready);
    relink(g);
    return 0;
}

int ir_fail(Graph *g, const Node *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n)
        snprintf(g->err, sizeof g->err, "node %d (%s \"%s\"): %s", n->src_index, ir_op_name(n->op),
                 n->name, msg);
    else
        snprintf(g->err, sizeof g->err, "%s", msg);
    return -1;
}

static void shape_str(const Tensor *t, char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < t->rank && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    if (k < len)
        snprintf(buf + k, len - k, "]");
}

void ir_dump(const Graph *g, void (*print)(void *ctx, const char *line), void *ctx)
{
    char line[1024], sh[128];
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        size_t k = (size_t)snprintf(line, sizeof line, "%3d %-18s %-20s", i, ir_op_name(n->op), n->name);
        for (int j = 0; j < n->nin && k < sizeof line; j++) {
            if (n->in[j] < 0)
                continue;
            shape_str(&g->tensors[n->in[j]], sh, sizeof sh);
            k += (size_t)snprintf(line + k, sizeof line - k, " %s%s", g->tensors[n->in[j]].name, sh);
        }
        for (int j = 0; j < n->nout && k < sizeof line; j++) {
            shape_str(&g->tensors[n->out[j]], sh, sizeof sh);
            k += (size_t)snprintf(line + k, sizeof line - k, " -> %s%s", g->tensors[n->out[j]].name, sh);
        }
        if (n->a.fused_act != ACT_NONE && k < sizeof line)
            k += (size_t)snprintf(line + k, sizeof line - k, " +%s",
                                  n->a.fused_act == ACT_RELU ? "relu" : "clip");
        if (n->op == OP_SLICE && k < sizeof line) /* the shapes do not show where */
            snprintf(line + k, sizeof line - k, " axis %lld [%lld, %lld)%s", (long long)n->a.axis,
                     (long long)n->a.slice_start, (long long)(n->a.slice_start + n->a.slice_len),
                     n->a.slice_drop ? " dropped" : "");
        print(ctx, line);
    }
}
