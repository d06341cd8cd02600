/*
 * Relu or Clip directly after a Conv or Dense is fused into it: the layer
 * gets a.fused_act (ACT_RELU, with clip_min = 0; or ACT_CLIP with the
 * Clip's bounds), writes the activation's output tensor (so its name, and
 * graph outputs, survive) and the activation node is deleted.  Only when
 * the layer output is read by that activation alone, is not a graph output,
 * and the layer has no fused activation yet.
 */
#include <stdlib.h>

#include "ir.h"
#include "util.h"

static int fa_is_graph_output(const Graph *g, int t)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == t)
            return 1;
    return 0;
}

/* How many live nodes read tensor t. */
static int fa_readers(const Graph *g, int t, const int *dead)
{
    int count = 0;
    for (int i = 0; i < g->nnodes; i++) {
        if (dead[i])
            continue;
        for (int j = 0; j < g->nodes[i].nin; j++)
            if (g->nodes[i].in[j] == t) {
                count++;
                break;
            }
    }
    return count;
}

/* The live node among [0, before) writing tensor t, or -1. */
static int fa_producer(const Graph *g, int t, int before, const int *dead)
{
    for (int i = before - 1; i >= 0; i--) {
        if (dead[i])
            continue;
        for (int j = 0; j < g->nodes[i].nout; j++)
            if (g->nodes[i].out[j] == t)
                return i;
    }
    return -1;
}

int ir_fuse_activations(Graph *g)
{
    int *dead = xcalloc((size_t)g->nnodes + 1, sizeof *dead);
    int changed = 0;
    for (int i = 0; i < g->nnodes; i++) {
        Node *act = &g->nodes[i];
        if ((act->op != OP_RELU && act->op != OP_CLIP) || act->nin < 1 || act->nout < 1)
            continue;
        int x = act->in[0];
        int p = x >= 0 ? fa_producer(g, x, i, dead) : -1;
        if (p < 0)
            continue;
        Node *ln = &g->nodes[p];
        if ((ln->op != OP_CONV && ln->op != OP_DENSE) || ln->a.fused_act != ACT_NONE ||
            ln->out[0] != x || fa_is_graph_output(g, x) || fa_readers(g, x, dead) != 1)
            continue;
        if (act->op == OP_RELU) {
            ln->a.fused_act = ACT_RELU;
            ln->a.clip_min = 0.0f; /* the range a Relu leaves, for later stages */
        } else {
            ln->a.fused_act = ACT_CLIP;
            ln->a.clip_min = act->a.clip_min;
            ln->a.clip_max = act->a.clip_max;
        }
        ln->out[0] = act->out[0];
        dead[i] = 1;
        changed = 1;
    }
    int rc = 0;
    if (changed) {
        ir_remove_nodes(g, dead);
        rc = ir_toposort(g);
    }
    free(dead);
    return rc;
}
