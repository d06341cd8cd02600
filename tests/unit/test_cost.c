/*
 * Cost model (backends/cost.h): every target has coefficients, and the
 * layer cost behaves as the formula says -- monotone in the terms, a Conv
 * scales with its output pixels, bops = MACs * weight bits * input bits,
 * RAM counts 16-bit activations twice -- and the base counts only the
 * non-weighted nodes (and the padded copies of padded Conv inputs).  How close the coefficients are to measurement is
 * tests/costs.sh's business (tools/fit_costs.py --check).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "cost.h"
#include "ir.h"
#include "target.h"

static int tensor(Graph *g, const char *name, TensorKind kind, int rank, const int64_t *dims)
{
    int t = ir_add_tensor(g, name, kind);
    g->tensors[t].rank = rank;
    for (int d = 0; d < rank; d++)
        g->tensors[t].dims[d] = dims[d];
    return t;
}

/* x[1,ic,h,w] -> Conv(oc, 3x3, same) -> y[1,oc,h,w] -> Relu -> r */
static Graph *conv_graph(int64_t ic, int64_t oc, int64_t h, int64_t w)
{
    Graph *g = ir_graph_new("c");
    int64_t xd[4] = {1, ic, h, w}, wd[4] = {oc, ic, 3, 3}, yd[4] = {1, oc, h, w};
    int x = tensor(g, "x", TK_INPUT, 4, xd);
    int wt = tensor(g, "w", TK_CONST, 4, wd);
    int y = tensor(g, "y", TK_ACT, 4, yd);
    int r = tensor(g, "r", TK_ACT, 4, yd);
    int k = ir_add_node(g, OP_CONV, "conv", 0);
    Node *n = &g->nodes[k];
    n->nin = 2;
    n->in[0] = x;
    n->in[1] = wt;
    n->nout = 1;
    n->out[0] = y;
    k = ir_add_node(g, OP_RELU, "relu", 1);
    n = &g->nodes[k];
    n->nin = 1;
    n->in[0] = y;
    n->nout = 1;
    n->out[0] = r;
    return g;
}

/* x[rows,k] -> Dense(n) -> y[rows,n] */
static Graph *dense_graph(int64_t rows, int64_t kdim, int64_t nout)
{
    Graph *g = ir_graph_new("d");
    int64_t xd[2] = {rows, kdim}, wd[2] = {nout, kdim}, yd[2] = {rows, nout};
    int x = tensor(g, "x", TK_INPUT, 2, xd);
    int wt = tensor(g, "w", TK_CONST, 2, wd);
    int y = tensor(g, "y", TK_ACT, 2, yd);
    int k = ir_add_node(g, OP_DENSE, "fc", 0);
    Node *n = &g->nodes[k];
    n->nin = 2;
    n->in[0] = x;
    n->in[1] = wt;
    n->nout = 1;
    n->out[0] = y;
    return g;
}

static void test_every_target_has_coefficients(void **state)
{
    (void)state;
    for (int i = 0; targets[i]; i++) {
        const Target *t = targets[i];
        if (t != target_host()) {
            assert_non_null(t->cost);
            assert_non_null(t->cost->source);
        }
        Graph *g = dense_graph(1, 64, 10);
        LayerCost c = cost_layer(t, g, &g->nodes[0], KS_UNROLLED, &(FmtCount){0, 200, 0}, 8, 8, 8);
        assert_true(c.flash > 0);
        assert_true(c.instructions > 0);
        LayerCost b = cost_base(t, g);
        assert_true(b.flash > 0);
        assert_true(b.instructions >= 0);
        ir_graph_free(g);
    }
}

static void test_monotone_in_terms(void **state)
{
    (void)state;
    for (int i = 0; targets[i]; i++) {
        Graph *g = conv_graph(8, 16, 12, 12);
        const Node *n = &g->nodes[0];
        double pf = -1, pi = -1;
        for (int64_t terms = 0; terms <= 4096; terms += 512) {
            LayerCost c = cost_layer(targets[i], g, n, KS_UNROLLED, &(FmtCount){0, terms, 0}, 8, 8, 8);
            assert_true(c.flash > pf);
            assert_true(c.instructions > pi);
            pf = c.flash;
            pi = c.instructions;
        }
        ir_graph_free(g);
    }
}

static void test_conv_scales_with_pixels(void **state)
{
    (void)state;
    const Target *t = target_find("cortex-m4");
    Graph *a = conv_graph(8, 16, 8, 8), *b = conv_graph(8, 16, 16, 16);
    LayerCost ca = cost_layer(t, a, &a->nodes[0], KS_UNROLLED, &(FmtCount){0, 1000, 0}, 4, 8, 8);
    LayerCost cb = cost_layer(t, b, &b->nodes[0], KS_UNROLLED, &(FmtCount){0, 1000, 0}, 4, 8, 8);
    /* same code, four times the pixels */
    assert_true(ca.flash == cb.flash);
    const CostModel *m = t->cost;
    double body = m->instr_per_term * 1000 + m->instr_per_output * 16 + m->instr_per_pixel;
    assert_true(fabs(ca.instructions - (64 * body + m->instr_per_layer)) < 1e-6 * ca.instructions);
    assert_true(fabs(cb.instructions - (256 * body + m->instr_per_layer)) < 1e-6 * cb.instructions);
    /* bops: MACs = pixels * OC * IC * 9 */
    assert_true(ca.bops == 64.0 * 16 * 8 * 9 * 4 * 8);
    assert_true(cb.bops == 4 * ca.bops);
    /* ram: input + output bytes */
    assert_true(ca.ram == 8 * 64 + 16 * 64);
    LayerCost w = cost_layer(t, a, &a->nodes[0], KS_UNROLLED, &(FmtCount){0, 1000, 0}, 4, 16, 16);
    assert_true(w.ram == 2 * ca.ram);
    assert_true(w.bops == 2 * ca.bops);
    ir_graph_free(a);
    ir_graph_free(b);
}

static void test_dense_rows(void **state)
{
    (void)state;
    const Target *t = target_find("rv32imc");
    Graph *a = dense_graph(1, 100, 10), *b = dense_graph(3, 100, 10);
    LayerCost ca = cost_layer(t, a, &a->nodes[0], KS_UNROLLED, &(FmtCount){0, 700, 0}, 2, 8, 8);
    LayerCost cb = cost_layer(t, b, &b->nodes[0], KS_UNROLLED, &(FmtCount){0, 700, 0}, 2, 8, 8);
    const CostModel *m = t->cost;
    assert_true(fabs(ca.flash - (m->flash_per_term * 700 + m->flash_per_output * 10 + m->flash_per_layer)) < 1e-6);
    assert_true(fabs((cb.instructions - m->instr_per_layer) - 3 * (ca.instructions - m->instr_per_layer)) <
                1e-6 * cb.instructions);
    assert_true(ca.bops == 1000.0 * 2 * 8);
    assert_true(cb.ram == 300 + 30);
    ir_graph_free(a);
    ir_graph_free(b);
}

static void test_base_skips_weighted(void **state)
{
    (void)state;
    const Target *t = target_find("x86_64");
    Graph *g = conv_graph(4, 8, 10, 10);
    LayerCost b = cost_base(t, g);
    const CostModel *m = t->cost;
    /* one Relu node of 800 output elements */
    assert_true(fabs(b.flash - (m->flash_base + m->flash_per_node)) < 1e-6);
    assert_true(fabs(b.instructions - m->instr_per_element * 800) < 1e-6);
    /* a padded Conv copies its input into a padded scratch: 4 x 12 x 12 */
    for (int d = 0; d < 4; d++)
        g->nodes[0].a.pads[d] = 1;
    b = cost_base(t, g);
    assert_true(fabs(b.instructions - m->instr_per_element * (800 + 576)) < 1e-6);
    assert_true(fabs(b.flash - (m->flash_base + m->flash_per_node)) < 1e-6);
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_target_has_coefficients),
        cmocka_unit_test(test_monotone_in_terms),
        cmocka_unit_test(test_conv_scales_with_pixels),
        cmocka_unit_test(test_dense_rows),
        cmocka_unit_test(test_base_skips_weighted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
