/*
 * Cost model (backends/cost.h): every target has coefficients (none
 * negative), and the layer cost behaves as the formula says -- monotone in
 * the nonzero codes, the terms and the shifted terms, pot (a shifted term
 * per code) no cheaper than ternary (an unshifted one), a Dense layer
 * priced with the Dense per-output flash, a Conv
 * scales with its output pixels, bops = MACs * weight bits * input bits,
 * RAM counts 16-bit activations twice -- and the base counts only the
 * non-weighted nodes (and the padded copies of padded Conv inputs).  The mac
 * style (KS_TABLE) follows its own formula: independent of the weight codes,
 * per weight, output channel and layer kind for flash, per MAC (depthwise
 * apart), output, gathered patch code and padded element for instructions.
 * How close the coefficients are to measurement is tests/costs.sh's and
 * tests/costs_mac.sh's business.
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
            const CostModel *m = t->cost;
            assert_non_null(m);
            assert_non_null(m->source);
            const double v[] = {m->flash_per_term,   m->flash_per_output,       m->flash_per_layer,
                                m->instr_per_term,   m->instr_per_output,       m->instr_per_pixel,
                                m->instr_per_layer,  m->flash_base,             m->flash_per_node,
                                m->instr_per_element, m->flash_per_load,      m->flash_per_shift,
                                m->instr_per_load, m->instr_per_shift,        m->flash_per_output_dense};
            for (size_t j = 0; j < sizeof v / sizeof v[0]; j++)
                assert_true(isfinite(v[j]) && v[j] >= 0);
            /* a nonzero code of one term costs something */
            assert_true(m->flash_per_load + m->flash_per_term > 0);
            assert_true(m->instr_per_load + m->instr_per_term > 0);
        }
        Graph *g = dense_graph(1, 64, 10);
        LayerCost c = cost_layer(t, g, &g->nodes[0], KS_UNROLLED, &(FmtCount){100, 200, 80, 100, 0}, 8, 8, 8);
        assert_true(c.flash > 0);
        assert_true(c.instructions > 0);
        LayerCost b = cost_base(t, g);
        assert_true(b.flash > 0);
        assert_true(b.instructions >= 0);
        ir_graph_free(g);
    }
}

static LayerCost conv_cost(const Target *t, const Graph *g, int64_t nonzero, int64_t terms, int64_t shifted)
{
    return cost_layer(t, g, &g->nodes[0], KS_UNROLLED, &(FmtCount){nonzero, terms, shifted, nonzero, 0}, 8, 8, 8);
}

static void test_monotone_in_counts(void **state)
{
    (void)state;
    for (int i = 0; targets[i]; i++) {
        const Target *t = targets[i];
        Graph *g = conv_graph(8, 16, 12, 12);
        /* more codes of the same make-up (int8-like: 2.2 terms, 1.5 shifted
           per code) cost strictly more */
        double pf = -1, pi = -1;
        for (int64_t nz = 0; nz <= 4000; nz += 500) {
            LayerCost c = conv_cost(t, g, nz, nz * 22 / 10, nz * 15 / 10);
            assert_true(c.flash > pf);
            assert_true(c.instructions > pi);
            pf = c.flash;
            pi = c.instructions;
        }
        /* each count alone: never cheaper */
        LayerCost base = conv_cost(t, g, 1000, 2000, 1000);
        LayerCost more[3] = {conv_cost(t, g, 1500, 2000, 1000), conv_cost(t, g, 1000, 2500, 1000),
                             conv_cost(t, g, 1000, 2000, 1500)};
        for (int j = 0; j < 3; j++) {
            assert_true(more[j].flash >= base.flash);
            assert_true(more[j].instructions >= base.instructions);
        }
        /* pot (one shifted term per code) >= ternary (one unshifted term)
           < int8 of the same codes (2.2 terms) */
        LayerCost pot = conv_cost(t, g, 1000, 1000, 1000), ter = conv_cost(t, g, 1000, 1000, 0);
        LayerCost i8 = conv_cost(t, g, 1000, 2200, 1500);
        assert_true(pot.flash >= ter.flash && pot.instructions >= ter.instructions);
        assert_true(i8.flash > ter.flash && i8.instructions > ter.instructions);
        /* no count: the per-output and per-layer costs only */
        LayerCost none = conv_cost(t, g, 0, 0, 0);
        if (t != target_host()) {
            const CostModel *m = t->cost;
            assert_true(fabs(none.flash - (16 * m->flash_per_output + m->flash_per_layer)) < 1e-6);
            assert_true(fabs(none.instructions - (144 * (16 * m->instr_per_output + m->instr_per_pixel) +
                                                  m->instr_per_layer)) < 1e-6 * (none.instructions + 1));
        }
        ir_graph_free(g);
    }
}

static void test_conv_scales_with_pixels(void **state)
{
    (void)state;
    const Target *t = target_find("cortex-m4");
    Graph *a = conv_graph(8, 16, 8, 8), *b = conv_graph(8, 16, 16, 16);
    const FmtCount cnt = {600, 1000, 700, 600, 0};
    LayerCost ca = cost_layer(t, a, &a->nodes[0], KS_UNROLLED, &cnt, 4, 8, 8);
    LayerCost cb = cost_layer(t, b, &b->nodes[0], KS_UNROLLED, &cnt, 4, 8, 8);
    /* same code, four times the pixels */
    assert_true(ca.flash == cb.flash);
    const CostModel *m = t->cost;
    assert_true(fabs(ca.flash - (m->flash_per_load * 600 + m->flash_per_term * 1000 + m->flash_per_shift * 700 +
                                 m->flash_per_output * 16 + m->flash_per_layer)) < 1e-6);
    double body = m->instr_per_load * 600 + m->instr_per_term * 1000 + m->instr_per_shift * 700 +
                  m->instr_per_output * 16 + m->instr_per_pixel;
    assert_true(fabs(ca.instructions - (64 * body + m->instr_per_layer)) < 1e-6 * ca.instructions);
    assert_true(fabs(cb.instructions - (256 * body + m->instr_per_layer)) < 1e-6 * cb.instructions);
    /* bops: MACs = pixels * OC * IC * 9 */
    assert_true(ca.bops == 64.0 * 16 * 8 * 9 * 4 * 8);
    assert_true(cb.bops == 4 * ca.bops);
    /* ram: input + output bytes */
    assert_true(ca.ram == 8 * 64 + 16 * 64);
    LayerCost w = cost_layer(t, a, &a->nodes[0], KS_UNROLLED, &cnt, 4, 16, 16);
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
    const FmtCount cnt = {500, 700, 300, 500, 0};
    LayerCost ca = cost_layer(t, a, &a->nodes[0], KS_UNROLLED, &cnt, 2, 8, 8);
    LayerCost cb = cost_layer(t, b, &b->nodes[0], KS_UNROLLED, &cnt, 2, 8, 8);
    const CostModel *m = t->cost;
    /* a Dense layer: the Dense per-output flash */
    assert_true(fabs(ca.flash - (m->flash_per_load * 500 + m->flash_per_term * 700 + m->flash_per_shift * 300 +
                                 m->flash_per_output_dense * 10 + m->flash_per_layer)) < 1e-6);
    assert_true(fabs(ca.instructions - (m->instr_per_load * 500 + m->instr_per_term * 700 + m->instr_per_shift * 300 +
                                        m->instr_per_output * 10 + m->instr_per_pixel + m->instr_per_layer)) <
                1e-6 * ca.instructions);
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


static void test_mac_formula(void **state)
{
    (void)state;
    for (int i = 0; targets[i]; i++) {
        const Target *t = targets[i];
        if (t == target_host())
            continue;
        const CostModel *m = t->cost;
        assert_non_null(m->mac_source);
        const double v[] = {m->mac_flash_per_weight, m->mac_flash_per_output, m->mac_flash_per_layer,
                            m->mac_flash_per_layer_conv, m->mac_flash_per_layer_dw, m->mac_instr_per_mac,
                            m->mac_instr_per_mac_dw, m->mac_instr_per_output, m->mac_instr_per_col,
                            m->mac_instr_per_layer};
        for (size_t j = 0; j < sizeof v / sizeof v[0]; j++)
            assert_true(isfinite(v[j]) && v[j] >= 0);
        /* one int8 code per weight */
        assert_true(m->mac_flash_per_weight > 0.9 && m->mac_flash_per_weight < 1.2);
        /* the padded copy's correction never makes the copy free */
        assert_true(isfinite(m->mac_instr_per_pad) && m->mac_instr_per_pad + m->instr_per_element >= 0);

        /* half a byte per nibble-packed code, at least one instruction per MAC */
        assert_true(m->mac4_flash_per_weight > 0.4 && m->mac4_flash_per_weight < 0.7);
        assert_true(isfinite(m->mac4_instr_per_mac) && m->mac4_instr_per_mac >= 1);

        /* Dense 64 -> 10: an int8 table whenever a code needs more than 4
           bits, whatever the terms; nibble-packed when none does */
        Graph *g = dense_graph(1, 64, 10);
        const Node *n = &g->nodes[0];
        LayerCost a = cost_layer(t, g, n, KS_TABLE, &(FmtCount){640, 1400, 900, 640, 300}, 8, 8, 8);
        LayerCost b = cost_layer(t, g, n, KS_TABLE, &(FmtCount){10, 10, 0, 10, 1}, 2, 8, 8);
        LayerCost c = cost_layer(t, g, n, KS_TABLE, NULL, 2, 8, 8);
        LayerCost p = cost_layer(t, g, n, KS_TABLE, &(FmtCount){10, 10, 0, 10, 0}, 2, 8, 8);
        LayerCost p16 = cost_layer(t, g, n, KS_TABLE, &(FmtCount){10, 10, 0, 10, 0}, 2, 8, 16);
        assert_true(a.flash == b.flash && a.instructions == b.instructions);
        assert_true(c.flash == a.flash && c.instructions == a.instructions);
        assert_true(p16.flash == a.flash && p16.instructions == a.instructions); /* 16-bit inputs: int8 */
        assert_true(fabs(p.flash - (640 * m->mac4_flash_per_weight + 10 * m->mac_flash_per_output +
                                    m->mac_flash_per_layer)) < 1e-6);
        assert_true(fabs(p.instructions - (640 * m->mac4_instr_per_mac + 10 * m->mac_instr_per_output +
                                           m->mac_instr_per_layer)) < 1e-6 * p.instructions);
        assert_true(p.flash < a.flash);
        assert_true(fabs(a.flash - (640 * m->mac_flash_per_weight + 10 * m->mac_flash_per_output +
                                    m->mac_flash_per_layer)) < 1e-6);
        assert_true(fabs(a.instructions - (640 * m->mac_instr_per_mac + 10 * m->mac_instr_per_output +
                                           m->mac_instr_per_layer)) < 1e-6 * a.instructions);
        assert_true(a.bops == 640.0 * 8 * 8 && b.bops == 640.0 * 2 * 8);
        ir_graph_free(g);

        /* Conv 8 -> 16 3x3 on 12x12, unpadded then padded */
        g = conv_graph(8, 16, 12, 12);
        n = &g->nodes[0];
        LayerCost cv = cost_layer(t, g, n, KS_TABLE, NULL, 8, 8, 8);
        LayerCost cv4 = cost_layer(t, g, n, KS_TABLE, &(FmtCount){10, 10, 0, 10, 0}, 2, 8, 8);
        assert_true(cv4.flash == cv.flash && cv4.instructions == cv.instructions); /* Conv tables stay int8 */
        /* 10 output columns at unit stride: the column-vectorised kernel
           where the target has one (x86-64: SSE2), no im2col gather */
        int cols = m->mac_instr_per_mac_cols > 0;
        assert_int_equal(cols, t == target_find("x86_64"));
        double per_px = 16 * 72 * (cols ? m->mac_instr_per_mac_cols : m->mac_instr_per_mac) +
                        16 * m->mac_instr_per_output + (cols ? 0 : 72 * m->mac_instr_per_col);
        assert_true(fabs(cv.flash - (1152 * m->mac_flash_per_weight + 16 * m->mac_flash_per_output +
                                     m->mac_flash_per_layer_conv)) < 1e-6);
        assert_true(fabs(cv.instructions - (144 * per_px + m->mac_instr_per_layer)) < 1e-6 * cv.instructions);
        for (int d = 0; d < 4; d++)
            g->nodes[0].a.pads[d] = 1;
        LayerCost pd = cost_layer(t, g, n, KS_TABLE, NULL, 8, 8, 8);
        assert_true(fabs(pd.instructions - (cv.instructions + m->mac_instr_per_pad * 8 * 14 * 14)) <
                    1e-6 * cv.instructions);
        /* padded: the copy as a whole (base + correction) costs something */
        LayerCost base = cost_base(t, g);
        assert_true(base.instructions + pd.instructions > cv.instructions);

        /* depthwise: the same input as 8 channels of 8 groups, weights [8,1,3,3] */
        g->nodes[0].a.group = 8;
        g->tensors[g->nodes[0].in[1]].dims[0] = 8;
        g->tensors[g->nodes[0].in[1]].dims[1] = 1;
        g->tensors[g->nodes[0].out[0]].dims[1] = 8;
        for (int d = 0; d < 4; d++)
            g->nodes[0].a.pads[d] = 0;
        LayerCost dw = cost_layer(t, g, n, KS_TABLE, NULL, 8, 8, 8);
        assert_true(fabs(dw.flash - (72 * m->mac_flash_per_weight + 8 * m->mac_flash_per_output +
                                     m->mac_flash_per_layer_dw)) < 1e-6);
        assert_true(fabs(dw.instructions - (144 * (72 * m->mac_instr_per_mac_dw + 8 * m->mac_instr_per_output) +
                                            m->mac_instr_per_layer)) < 1e-6 * dw.instructions);
        /* the unrolled formula is untouched by the mac fields */
        LayerCost un = cost_layer(t, g, n, KS_UNROLLED, &(FmtCount){72, 150, 80, 72, 0}, 8, 8, 8);
        assert_true(fabs(un.flash - (m->flash_per_load * 72 + m->flash_per_term * 150 + m->flash_per_shift * 80 +
                                     m->flash_per_output * 8 + m->flash_per_layer)) < 1e-6);
        ir_graph_free(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_target_has_coefficients),
        cmocka_unit_test(test_monotone_in_counts),
        cmocka_unit_test(test_conv_scales_with_pixels),
        cmocka_unit_test(test_dense_rows),
        cmocka_unit_test(test_base_skips_weighted),
        cmocka_unit_test(test_mac_formula),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
