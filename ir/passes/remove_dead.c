/*
 * Dead-node removal: a node is live when one of its outputs is a graph
 * output or is read by a live node.  One sweep from the last node to the
 * first decides it (nodes are in topological order, so every reader of a
 * node's outputs has been decided before the node), and so removes whole
 * dead chains at once.
 */
#include <stdlib.h>

#include "ir.h"
#include "util.h"

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
    return 0;
}
