/*
 * Dense followed by an Add of a constant with one value per output feature
 * ([N], [1, N], [1, 1, N]...: anything that broadcasts along the last axis
 * only and does not add dims) folds into the Dense's bias:
 *     b' = b + c   (b = 0 when the Dense has none).
 * Only when the Dense output is read by that Add alone, is not a graph
 * output, and carries no fused activation.  b' is a new constant (b and c
 * may be shared); the Dense then writes the Add's output tensor, so graph
 * outputs keep their names, and the Add is deleted.  Chains of such Adds
 * fold one after the other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "util.h"

static int fba_is_graph_output(const Graph *g, int t)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == t)
            return 1;
    return 0;
}

/* The only live reader of tensor t, or -1 when none or several. */
static int fba_sole_consumer(const Graph *g, int t, const int *dead)
{
    int found = -1;
    for (int i = 0; i < g->nnodes; i++) {
        if (dead[i])
            continue;
        for (int j = 0; j < g->nodes[i].nin; j++)
            if (g->nodes[i].in[j] == t) {
                if (found >= 0)
                    return -1;
                found = i;
                break;
            }
    }
    return found;
}

/* Whether constant c adds one value per feature to a [..., n] tensor of
 * rank yrank (0: unknown, then only rank-1 constants qualify). */
static int fba_per_feature(const Tensor *c, int64_t n, int yrank)
{
    if (c->kind != TK_CONST || !c->data || c->rank < 1 || ir_numel(c) != n)
        return 0;
    if (c->rank > (yrank > 0 ? yrank : 1))
        return 0;
    for (int i = 0; i < c->rank - 1; i++)
        if (c->dims[i] != 1)
            return 0;
    return c->dims[c->rank - 1] == n;
}

/* Tries to fold the Add reading Dense d's output; 1 if it did. */
static int fba_try(Graph *g, int d, int *dead)
{
    Node *dn = &g->nodes[d];
    int y = dn->out[0];
    if (dn->a.fused_act != ACT_NONE || dn->nin < 2 || dn->in[1] < 0 || fba_is_graph_output(g, y))
        return 0;
    int a = fba_sole_consumer(g, y, dead);
    if (a < 0 || g->nodes[a].op != OP_ADD || g->nodes[a].nin != 2)
        return 0;
    Node *an = &g->nodes[a];
    if (an->in[0] == an->in[1])
        return 0;
    int c = an->in[0] == y ? an->in[1] : an->in[0];
    int64_t n = g->tensors[dn->in[1]].dims[0];
    if (!fba_per_feature(&g->tensors[c], n, g->tensors[y].rank))
        return 0;

    int has_bias = dn->nin > 2 && dn->in[2] >= 0;
    char name[512];
    snprintf(name, sizeof name, "%s_bias", dn->name);
    for (int k = 2; ir_find_tensor(g, name) >= 0; k++)
        snprintf(name, sizeof name, "%s_bias_%d", dn->name, k);
    int nb = ir_add_tensor(g, name, TK_CONST);
    Tensor *bt = &g->tensors[nb];
    bt->rank = 1;
    bt->dims[0] = n;
    bt->data = xcalloc((size_t)n, sizeof(float));
    const float *old = has_bias ? g->tensors[dn->in[2]].data : NULL, *cv = g->tensors[c].data;
    for (int64_t i = 0; i < n; i++)
        bt->data[i] = (old ? old[i] : 0.0f) + cv[i];

    dn->in[2] = nb;
    if (dn->nin < 3)
        dn->nin = 3;
    dn->out[0] = an->out[0];
    dead[a] = 1;
    return 1;
}

int ir_fuse_bias_add(Graph *g)
{
    int *dead = xcalloc((size_t)g->nnodes + 1, sizeof *dead);
    int changed = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (!dead[i] && g->nodes[i].op == OP_DENSE && g->nodes[i].nout >= 1)
            while (fba_try(g, i, dead))
                changed = 1;
    int rc = 0;
    if (changed) {
        ir_remove_nodes(g, dead);
        rc = ir_toposort(g);
    }
    free(dead);
    return rc;
}
