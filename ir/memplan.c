/*
 * Static memory plan: every activation tensor and every node's scratch
 * buffer gets an offset in one arena, so emitted code needs no allocator.
 *
 * Steps are node indices in topological order.  A tensor lives from its
 * producer's step (graph inputs from step 0) to the step of its last
 * consumer (graph outputs to one past the last node); two buffers may share
 * bytes only when their lifetimes do not overlap.  Lifetimes are closed
 * intervals, so a node's inputs, outputs and scratch are always disjoint:
 * no kernel has to cope with aliasing.
 *
 * Views (Reshape, and a Transpose that only moves size-1 dimensions) are
 * free: the view gets its input's offset, and the input's lifetime grows to
 * cover the view's consumers (through chains of views too).
 *
 * Placement is the classic greedy-by-size heuristic: buffers by decreasing
 * size (ties by index), each at the lowest 16-byte aligned offset that
 * clashes with no already placed buffer whose lifetime overlaps.  Fully
 * deterministic: it depends on nothing but the graph and the sizes.
 */
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "util.h"

#define MEMPLAN_ALIGN 16

int ir_is_view(const Graph *g, const Node *n)
{
    if (n->op == OP_RESHAPE)
        return 1;
    if (n->op != OP_TRANSPOSE || n->nin < 1 || n->in[0] < 0)
        return 0;
    /* A transpose whose non-unit dimensions keep their relative order
     * leaves the bytes where they are. */
    const Tensor *x = &g->tensors[n->in[0]];
    int last = -1;
    for (int d = 0; d < x->rank; d++) {
        int p = n->a.nperm ? n->a.perm[d] : x->rank - 1 - d;
        if (p < 0 || p >= x->rank)
            return 0;
        if (x->dims[p] == 1)
            continue;
        if (p < last)
            return 0;
        last = p;
    }
    return 1;
}

/* One buffer to place: a tensor (id < ntensors) or a node's scratch. */
typedef struct Item {
    int id;
    int64_t size; /* rounded up to MEMPLAN_ALIGN */
    int start, end;
    int64_t off;
} Item;

static int64_t align_up(int64_t v) { return (v + MEMPLAN_ALIGN - 1) / MEMPLAN_ALIGN * MEMPLAN_ALIGN; }

static int cmp_size_desc(const void *a, const void *b)
{
    const Item *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int cmp_off(const void *a, const void *b)
{
    const Item *x = *(const Item *const *)a, *y = *(const Item *const *)b;
    if (x->off != y->off)
        return x->off < y->off ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* The tensor whose storage t uses: follows views up to a non-view. */
static int storage_root(const Graph *g, const int *prod, const char *view_of, int t)
{
    int steps = 0;
    while (view_of[t]) {
        const Node *n = &g->nodes[prod[t]];
        t = n->in[0];
        ensure(++steps <= g->nnodes);
    }
    return t;
}

int ir_memplan(const Graph *g, const int64_t *bytes, const int64_t *scratch, MemPlan *p)
{
    int nt = g->ntensors, nn = g->nnodes;
    memset(p, 0, sizeof *p);
    p->offset = xmalloc(((size_t)nt + 1) * sizeof *p->offset);
    p->scratch_off = xmalloc(((size_t)nn + 1) * sizeof *p->scratch_off);
    for (int t = 0; t < nt; t++)
        p->offset[t] = -1;
    for (int i = 0; i < nn; i++)
        p->scratch_off[i] = -1;

    /* prod[t]: the node computing t (from the node list, not trusting
     * Tensor.producer); view_of[t]: t is the output of a view node, its
     * storage is its input's */
    int *prod = xmalloc(((size_t)nt + 1) * sizeof *prod);
    char *view_of = xcalloc((size_t)nt + 1, 1);
    for (int t = 0; t < nt; t++)
        prod[t] = -1;
    for (int i = 0; i < nn; i++) {
        const Node *n = &g->nodes[i];
        for (int j = 0; j < n->nout; j++)
            if (n->out[j] >= 0)
                prod[n->out[j]] = i;
        if (n->nout >= 1 && n->out[0] >= 0 && n->nin >= 1 && n->in[0] >= 0 && ir_is_view(g, n))
            view_of[n->out[0]] = 1;
    }

    int *start = xmalloc(((size_t)nt + 1) * sizeof *start);
    int *end = xmalloc(((size_t)nt + 1) * sizeof *end);
    int64_t *size = xcalloc((size_t)nt + 1, sizeof *size);
    for (int t = 0; t < nt; t++) {
        start[t] = prod[t] >= 0 ? prod[t] : 0;
        end[t] = start[t];
    }
    for (int i = 0; i < nn; i++) {
        const Node *n = &g->nodes[i];
        for (int j = 0; j < n->nin; j++)
            if (n->in[j] >= 0 && end[n->in[j]] < i)
                end[n->in[j]] = i;
    }
    for (int k = 0; k < g->noutputs; k++)
        end[g->outputs[k]] = nn;

    /* Fold every view into its root: the root must hold the largest of the
     * sizes and live as long as any of its views. */
    for (int t = 0; t < nt; t++) {
        int r = storage_root(g, prod, view_of, t);
        int64_t b = bytes[t] > 0 ? bytes[t] : 0;
        if (b > size[r])
            size[r] = b;
        if (r != t) {
            if (start[t] < start[r])
                start[r] = start[t];
            if (end[t] > end[r])
                end[r] = end[t];
        }
    }

    Item *items = xmalloc(((size_t)nt + (size_t)nn + 1) * sizeof *items);
    int count = 0;
    for (int t = 0; t < nt; t++)
        if (!view_of[t] && size[t] > 0)
            items[count++] = (Item){t, align_up(size[t]), start[t], end[t], 0};
    for (int i = 0; scratch && i < nn; i++)
        if (scratch[i] > 0)
            items[count++] = (Item){nt + i, align_up(scratch[i]), i, i, 0};
    qsort(items, (size_t)count, sizeof *items, cmp_size_desc);

    /* placed[0..np) are the already placed items clashing in time with the
     * one being placed, sorted by offset; scan them for the first gap. */
    Item **placed = xmalloc(((size_t)count + 1) * sizeof *placed);
    for (int i = 0; i < count; i++) {
        Item *it = &items[i];
        int np = 0;
        for (int j = 0; j < i; j++)
            if (items[j].start <= it->end && it->start <= items[j].end)
                placed[np++] = &items[j];
        qsort(placed, (size_t)np, sizeof *placed, cmp_off);
        int64_t off = 0;
        for (int j = 0; j < np; j++) {
            if (off + it->size <= placed[j]->off)
                break;
            if (placed[j]->off + placed[j]->size > off)
                off = placed[j]->off + placed[j]->size;
        }
        it->off = off;
        if (off + it->size > p->arena_bytes)
            p->arena_bytes = off + it->size;
        if (it->id < nt)
            p->offset[it->id] = off;
        else
            p->scratch_off[it->id - nt] = off;
    }

    for (int t = 0; t < nt; t++)
        if (view_of[t])
            p->offset[t] = p->offset[storage_root(g, prod, view_of, t)];

    free(placed);
    free(items);
    free(size);
    free(end);
    free(start);
    free(view_of);
    free(prod);
    return 0;
}

void ir_memplan_free(MemPlan *p)
{
    free(p->offset);
    free(p->scratch_off);
    p->offset = p->scratch_off = NULL;
    p->arena_bytes = 0;
}
