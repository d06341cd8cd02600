/*
 * Dead-node removal: a node is live when one of its outputs is a graph
 * output or is read by a live node.  One sweep from the last node to the
 * first decides it (nodes are in topological order, so every reader of a
 * node's outputs has been decided before the node), and so removes whole
 * dead chains at once.
 *
 * Then the tensors nothing refers to any more are dropped: activations
 * orphaned by fusions (a layer that absorbed a BN or an activation writes
 * the absorbed node's output, leaving its old output unread and unwritten)
 * and constants no node reads (weights replaced by folded copies, BN
 * parameters).  Otherwise the memory planner would give orphans arena
 * space and the backends would carry dead constants.  Graph inputs always
 * stay.  The tensors that remain keep their relative order, so the result
 * is deterministic; tensor indices change, so nothing may hold one across
 * this pass.
 */
#include <stdlib.h>

#include "ir.h"
#include "util.h"

static void rd_remap(int *t, const int *map)
{
    if (*t >= 0)
        *t = map[*t];
}

/* Drops the tensors no node, graph input or graph output refers to. */
static void rd_drop_tensors(Graph *g)
{
    int nt = g->ntensors;
    char *ref = xcalloc((size_t)nt + 1, 1);
    int *map = xcalloc((size_t)nt + 1, sizeof *map);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        for (int j = 0; j < n->nin; j++)
            if (n->in[j] >= 0)
                ref[n->in[j]] = 1;
        for (int j = 0; j < n->nout; j++)
            if (n->out[j] >= 0)
                ref[n->out[j]] = 1;
    }
    for (int i = 0; i < g->ninputs; i++)
        ref[g->inputs[i]] = 1;
    for (int i = 0; i < g->noutputs; i++)
        ref[g->outputs[i]] = 1;
    int k = 0;
    for (int t = 0; t < nt; t++) {
        Tensor *tt = &g->tensors[t];
        if (!ref[t]) {
            map[t] = -1;
            free(tt->name);
            free(tt->data);
            free(tt->idata);
            free(tt->qdata);
            continue;
        }
        map[t] = k;
        g->tensors[k++] = *tt;
    }
    g->ntensors = k;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        for (int j = 0; j < n->nin; j++)
            rd_remap(&n->in[j], map);
        for (int j = 0; j < n->nout; j++)
            rd_remap(&n->out[j], map);
    }
    for (int i = 0; i < g->ninputs; i++)
        rd_remap(&g->inputs[i], map);
    for (int i = 0; i < g->noutputs; i++)
        rd_remap(&g->outputs[i], map);
    free(ref);
    free(map);
}

int ir_remove_dead(Graph *g)
{
    char *used = xcalloc((size_t)g->ntensors + 1, 1);
    int *dead = xcalloc((size_t)g->nnodes + 1, sizeof *dead);
    int ndead = 0;
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] >= 0)
            used[g->outputs[i]] = 1;
    for (int i = g->nnodes - 1; i >= 0; i--) {
        const Node *n = &g->nodes[i];
        int live = 0;
        for (int j = 0; j < n->nout; j++)
            if (n->out[j] >= 0 && used[n->out[j]])
                live = 1;
        if (!live) {
            dead[i] = 1;
            ndead++;
            continue;
        }
        for (int j = 0; j < n->nin; j++)
            if (n->in[j] >= 0)
                used[n->in[j]] = 1;
    }
    if (ndead)
        ir_remove_nodes(g, dead);
    free(used);
    free(dead);
    /* producers are node indices, which dropping tensors leaves alone */
    rd_drop_tensors(g);
    return 0;
}
