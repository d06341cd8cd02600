/* Memory plan: no two live buffers overlap, views share, reuse happens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ir.h"

static int add_act(Graph *g, int64_t numel)
{
    char name[32];
    snprintf(name, sizeof name, "t%d", g->ntensors);
    int t = ir_add_tensor(g, name, TK_ACT);
    g->tensors[t].rank = 2;
    g->tensors[t].dims[0] = 1;
    g->tensors[t].dims[1] = numel;
    return t;
}

static int add_node(Graph *g, Op op, int a, int b, int64_t numel)
{
    char name[32];
    snprintf(name, sizeof name, "n%d", g->nnodes);
    int i = ir_add_node(g, op, name, g->nnodes);
    Node *n = &g->nodes[i];
    n->in[n->nin++] = a;
    if (b >= 0)
        n->in[n->nin++] = b;
    int y = add_act(g, numel);
    n->out[n->nout++] = y;
    g->tensors[y].producer = i;
    return y;
}

/* Storage root as the test understands it: follow view producers. */
static int root_of(const Graph *g, int t)
{
    while (g->tensors[t].producer >= 0 && ir_is_view(g, &g->nodes[g->tensors[t].producer]))
        t = g->nodes[g->tensors[t].producer].in[0];
    return t;
}

/* Own lifetime of t, without the view extension the planner adds. */
static void lifetime(const Graph *g, int t, int *s, int *e)
{
    *s = g->tensors[t].producer >= 0 ? g->tensors[t].producer : 0;
    *e = *s;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nin; j++)
            if (g->nodes[i].in[j] == t && i > *e)
                *e = i;
    for (int k = 0; k < g->noutputs; k++)
        if (g->outputs[k] == t)
            *e = g->nnodes;
}

/* Exhaustive check of a plan: every pair of (tensor or scratch) buffers
 * whose lifetimes overlap is disjoint in the arena, unless both are views
 * of one storage root, in which case they share the offset. */
static void check_plan(const Graph *g, const int64_t *bytes, const int64_t *scratch,
                       const MemPlan *p)
{
    int nt = g->ntensors, nn = g->nnodes, total = nt + nn;
    int64_t sum = 0;
    for (int a = 0; a < total; a++) {
        int64_t sa = a < nt ? bytes[a] : scratch[a - nt];
        if (sa <= 0)
            continue;
        int64_t oa = a < nt ? p->offset[a] : p->scratch_off[a - nt];
        assert_true(oa >= 0 && oa % 16 == 0);
        assert_true(oa + sa <= p->arena_bytes);
        if (a >= nt || root_of(g, a) == a)
            sum += (sa + 15) / 16 * 16;
        int s1, e1;
        if (a < nt)
            lifetime(g, a, &s1, &e1);
        else
            s1 = e1 = a - nt;
        for (int b = a + 1; b < total; b++) {
            int64_t sb = b < nt ? bytes[b] : scratch[b - nt];
            if (sb <= 0)
                continue;
            int64_t ob = b < nt ? p->offset[b] : p->scratch_off[b - nt];
            if (a < nt && b < nt && root_of(g, a) == root_of(g, b)) {
                assert_int_equal(oa, ob);
                continue;
            }
            int s2, e2;
            if (b < nt)
                lifetime(g, b, &s2, &e2);
            else
                s2 = e2 = b - nt;
            if (s1 <= e2 && s2 <= e1)
                assert_true(oa + sa <= ob || ob + sb <= oa);
        }
    }
    assert_true(p->arena_bytes <= sum);
}

static uint32_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) % n;
}

static void test_random_graphs(void **state)
{
    (void)state;
    rng_state = 12345;
    for (int iter = 0; iter < 300; iter++) {
        Graph *g = ir_graph_new("rand");
        int nin = 1 + (int)rnd(2);
        for (int k = 0; k < nin; k++) {
            int t = add_act(g, 1 + rnd(300));
            g->tensors[t].kind = TK_INPUT;
            g->inputs[g->ninputs++] = t;
        }
        int nnodes = 1 + (int)rnd(25);
        for (int k = 0; k < nnodes; k++) {
            int a = (int)rnd((uint32_t)g->ntensors);
            int64_t numel = ir_numel(&g->tensors[a]);
            switch (rnd(4)) {
            case 0: /* a view */
                add_node(g, OP_RESHAPE, a, -1, numel);
                break;
            case 1: {
                int b = (int)rnd((uint32_t)g->ntensors);
                add_node(g, OP_ADD, a, b, 1 + rnd(400));
                break;
            }
            default:
                add_node(g, OP_RELU, a, -1, 1 + rnd(400));
                break;
            }
        }
        g->outputs[g->noutputs++] = g->ntensors - 1;
        if (rnd(2) && g->ntensors > 2)
            g->outputs[g->noutputs++] = (int)rnd((uint32_t)g->ntensors - 1);
        int64_t *bytes = calloc((size_t)g->ntensors, sizeof *bytes);
        int64_t *scratch = calloc((size_t)g->nnodes, sizeof *scratch);
        for (int t = 0; t < g->ntensors; t++)
            bytes[t] = ir_numel(&g->tensors[t]) * (iter % 2 ? 4 : 1);
        for (int i = 0; i < g->nnodes; i++)
            scratch[i] = rnd(3) == 0 ? 1 + rnd(500) : 0;
        MemPlan p, p2;
        assert_int_equal(ir_memplan(g, bytes, scratch, &p), 0);
        check_plan(g, bytes, scratch, &p);
        /* deterministic */
        assert_int_equal(ir_memplan(g, bytes, scratch, &p2), 0);
        assert_int_equal(p.arena_bytes, p2.arena_bytes);
        for (int t = 0; t < g->ntensors; t++)
            assert_int_equal(p.offset[t], p2.offset[t]);
        for (int i = 0; i < g->nnodes; i++)
            assert_int_equal(p.scratch_off[i], p2.scratch_off[i]);
        ir_memplan_free(&p);
        ir_memplan_free(&p2);
        free(bytes);
        free(scratch);
        ir_graph_free(g);
    }
}

static void test_chain_reuses(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("chain");
    int x = add_act(g, 1000);
    g->tensors[x].kind = TK_INPUT;
    g->inputs[g->ninputs++] = x;
    int t = x;
    for (int k = 0; k < 10; k++)
        t = add_node(g, OP_RELU, t, -1, 1000);
    g->outputs[g->noutputs++] = t;
    int64_t bytes[16] = {0};
    for (int i = 0; i < g->ntensors; i++)
        bytes[i] = 1000;
    MemPlan p;
    assert_int_equal(ir_memplan(g, bytes, NULL, &p), 0);
    /* ping-pong between two slots of 1008 bytes */
    assert_int_equal(p.arena_bytes, 2 * 1008);
    check_plan(g, bytes, (int64_t[16]){0}, &p);
    ir_memplan_free(&p);
    ir_graph_free(g);
}

static void test_views_share(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("views");
    int x = add_act(g, 64);
    g->tensors[x].kind = TK_INPUT;
    g->inputs[g->ninputs++] = x;
    int a = add_node(g, OP_RELU, x, -1, 64);       /* step 0 */
    int b = add_node(g, OP_RESHAPE, a, -1, 64);    /* step 1: view of a */
    int c = add_node(g, OP_RESHAPE, b, -1, 64);    /* step 2: view of a view */
    int d = add_node(g, OP_RELU, x, -1, 64);       /* step 3: x still live? no */
    int e = add_node(g, OP_ADD, c, d, 64);         /* step 4: reads a's storage */
    g->outputs[g->noutputs++] = e;
    int64_t bytes[8];
    for (int i = 0; i < g->ntensors; i++)
        bytes[i] = 64;
    MemPlan p;
    assert_int_equal(ir_memplan(g, bytes, NULL, &p), 0);
    assert_int_equal(p.offset[b], p.offset[a]);
    assert_int_equal(p.offset[c], p.offset[a]);
    /* a's storage must survive until step 4, so d cannot take it */
    assert_true(p.offset[d] != p.offset[a]);
    assert_true(p.offset[e] != p.offset[a] && p.offset[e] != p.offset[d]);
    check_plan(g, bytes, (int64_t[8]){0}, &p);
    ir_memplan_free(&p);
    ir_graph_free(g);
}

static void test_transpose_view(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("tr");
    int x = ir_add_tensor(g, "x", TK_INPUT);
    Tensor *tx = &g->tensors[x];
    tx->rank = 4;
    tx->dims[0] = 1, tx->dims[1] = 4, tx->dims[2] = 1, tx->dims[3] = 5;
    int i = ir_add_node(g, OP_TRANSPOSE, "t", 0);
    Node *n = &g->nodes[i];
    n->nin = 1, n->in[0] = x, n->a.nperm = 4;
    int perm1[4] = {2, 1, 0, 3}; /* moves only the unit dims */
    for (int d = 0; d < 4; d++)
        n->a.perm[d] = perm1[d];
    assert_true(ir_is_view(g, n));
    int perm2[4] = {0, 3, 2, 1}; /* swaps 4 and 5 */
    for (int d = 0; d < 4; d++)
        n->a.perm[d] = perm2[d];
    assert_false(ir_is_view(g, n));
    n->a.nperm = 0; /* reverse: [5,1,4,1], swaps too */
    assert_false(ir_is_view(g, n));
    n->op = OP_RELU;
    assert_false(ir_is_view(g, n));
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_graphs),
        cmocka_unit_test(test_chain_reuses),
        cmocka_unit_test(test_views_share),
        cmocka_unit_test(test_transpose_view),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
