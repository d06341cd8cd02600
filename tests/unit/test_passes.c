/* Graph passes: each rewritten graph computes what the original did (the
 * float interpreter is the judge), and the graph has the expected form. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir.h"

/* DIMS(2, 3) expands to the two arguments `dims, rank` */
#define DIMS(...) \
    (const int64_t[]){__VA_ARGS__}, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

static uint32_t rng_state = 777;
static float rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / (float)(1u << 23) - 1.0f;
}

static int tensor(Graph *g, const char *name, TensorKind kind, const int64_t *dims, int rank)
{
    int t = ir_add_tensor(g, name, kind);
    Tensor *tt = &g->tensors[t];
    tt->rank = rank;
    for (int i = 0; i < rank; i++)
        tt->dims[i] = dims[i];
    if (kind == TK_CONST) {
        tt->data = calloc((size_t)ir_numel(tt), sizeof(float));
        for (int64_t i = 0; i < ir_numel(tt); i++)
            tt->data[i] = rnd();
    }
    return t;
}

static int input(Graph *g, const int64_t *dims, int rank)
{
    int t = tensor(g, "x", TK_INPUT, dims, rank);
    g->inputs[g->ninputs++] = t;
    return t;
}

static int weight(Graph *g, const char *name, const int64_t *dims, int rank)
{
    return tensor(g, name, TK_CONST, dims, rank);
}

/* Node reading ins[0..nin) and writing a new tensor `out`; returns it. */
static int node(Graph *g, Op op, const char *out, int nin, const int *ins)
{
    int i = ir_add_node(g, op, out, g->nnodes);
    Node *n = &g->nodes[i];
    for (int j = 0; j < nin; j++)
        n->in[n->nin++] = ins[j];
    n->out[n->nout++] = ir_add_tensor(g, out, TK_ACT);
    return n->out[0];
}

#define NODE(g, op, out, ...) \
    node(g, op, out, (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]){__VA_ARGS__})

/* BatchNormalization over C channels with positive variances. */
static int batchnorm(Graph *g, const char *out, int x, int64_t c)
{
    char name[64];
    int p[4];
    for (int j = 0; j < 4; j++) {
        snprintf(name, sizeof name, "%s_p%d", out, j);
        p[j] = weight(g, name, (const int64_t[]){c}, 1);
    }
    for (int64_t i = 0; i < c; i++) {
        g->tensors[p[0]].data[i] = 0.5f + rnd();        /* scale */
        g->tensors[p[3]].data[i] = 0.2f + fabsf(rnd()); /* var */
    }
    return NODE(g, OP_BATCHNORM, out, x, p[0], p[1], p[2], p[3]);
}

/* Runs g on a fixed random input; returns a copy of every graph output,
 * concatenated. */
static float *eval(Graph *g, int64_t *count)
{
    assert_int_equal(ir_infer_shapes(g), 0);
    float **vals = ir_interp_alloc(g);
    uint32_t saved = rng_state;
    rng_state = 4242; /* same input for every call */
    for (int i = 0; i < g->ninputs; i++) {
        int t = g->inputs[i];
        for (int64_t k = 0; k < ir_numel(&g->tensors[t]); k++)
            vals[t][k] = 3.0f * rnd();
    }
    rng_state = saved;
    if (ir_interp_run(g, vals) != 0)
        fail_msg("interp: %s", g->err);
    int64_t total = 0;
    for (int i = 0; i < g->noutputs; i++)
        total += ir_numel(&g->tensors[g->outputs[i]]);
    float *res = malloc((size_t)total * sizeof *res), *p = res;
    for (int i = 0; i < g->noutputs; i++) {
        int64_t k = ir_numel(&g->tensors[g->outputs[i]]);
        memcpy(p, vals[g->outputs[i]], (size_t)k * sizeof *p);
        p += k;
    }
    ir_interp_free(g, vals);
    *count = total;
    return res;
}

/* max |a - b| / max |b| <= tol */
static void expect_close(const float *a, const float *b, int64_t n, double tol)
{
    double err = 0, scale = 0;
    for (int64_t i = 0; i < n; i++) {
        err = fmax(err, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    if (err > tol * scale)
        fail_msg("relative error %.3g > %.3g", err / scale, tol);
}

/* Runs g, applies pass, runs again and compares. */
static void check_equivalent(Graph *g, int (*pass)(Graph *))
{
    int64_t n0, n1;
    float *before = eval(g, &n0);
    if (pass(g) != 0)
        fail_msg("pass: %s", g->err);
    float *after = eval(g, &n1);
    assert_int_equal(n0, n1);
    expect_close(after, before, n0, 1e-5);
    free(before);
    free(after);
}

static int count_op(const Graph *g, Op op)
{
    int k = 0;
    for (int i = 0; i < g->nnodes; i++)
        k += g->nodes[i].op == op;
    return k;
}

/* ---- BatchNormalization folding ---- */

static void test_fold_bn_conv(void **state)
{
    (void)state;
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        Graph *g = ir_graph_new("m");
        int x = input(g, DIMS(2, 3, 6, 6));
        int w = weight(g, "w", DIMS(4, 3, 3, 3));
        int y = with_bias ? NODE(g, OP_CONV, "conv", x, w, weight(g, "b", DIMS(4)))
                          : NODE(g, OP_CONV, "conv", x, w);
        g->nodes[0].a.pads[0] = g->nodes[0].a.pads[3] = 1;
        int z = batchnorm(g, "bn", y, 4);
        g->outputs[g->noutputs++] = z;
        float w0 = g->tensors[w].data[0];
        check_equivalent(g, ir_fold_batchnorm);
        assert_int_equal(g->nnodes, 1);
        assert_int_equal(g->nodes[0].op, OP_CONV);
        assert_int_equal(g->nodes[0].out[0], z); /* the BN output keeps its tensor */
        assert_true(g->nodes[0].in[1] != w);     /* new weights ... */
        assert_true(g->tensors[w].data[0] == w0); /* ... the old ones untouched */
        assert_true(g->nodes[0].in[2] >= 0);
        assert_int_equal(g->tensors[z].producer, 0);
        ir_graph_free(g);
    }
}

static void test_fold_bn_dense(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(3, 5));
    int y = NODE(g, OP_DENSE, "fc", x, weight(g, "w", DIMS(4, 5)));
    int z = batchnorm(g, "bn", y, 4);
    int s = NODE(g, OP_SOFTMAX, "sm", z);
    g->nodes[2].a.axis = -1;
    g->outputs[g->noutputs++] = s;
    check_equivalent(g, ir_fold_batchnorm);
    assert_int_equal(g->nnodes, 2);
    assert_int_equal(g->nodes[0].op, OP_DENSE);
    assert_int_equal(g->nodes[1].op, OP_SOFTMAX);
    assert_int_equal(g->nodes[0].out[0], g->nodes[1].in[0]);
    ir_graph_free(g);
}

/* Shared weights stay intact for the other layer; two BNs in a row fold
 * into the same conv. */
static void test_fold_bn_shared_and_chained(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(1, 2, 5, 5));
    int w = weight(g, "w", DIMS(2, 2, 3, 3)), b = weight(g, "b", DIMS(2));
    int y1 = NODE(g, OP_CONV, "c1", x, w, b);
    int z1 = batchnorm(g, "bn1", y1, 2);
    int z2 = batchnorm(g, "bn2", z1, 2);
    int y2 = NODE(g, OP_CONV, "c2", x, w, b);
    g->outputs[g->noutputs++] = z2;
    g->outputs[g->noutputs++] = y2;
    check_equivalent(g, ir_fold_batchnorm);
    assert_int_equal(g->nnodes, 2);
    assert_int_equal(count_op(g, OP_BATCHNORM), 0);
    assert_int_equal(g->nodes[1].in[1], w); /* c2 still reads the original */
    assert_int_equal(g->nodes[1].in[2], b);
    ir_graph_free(g);
}

static void test_lone_bn_becomes_depthwise_conv(void **state)
{
    (void)state;
    for (int rank = 3; rank <= 4; rank++) {
        Graph *g = ir_graph_new("m");
        int x = rank == 4 ? input(g, DIMS(2, 3, 4, 5)) : input(g, DIMS(2, 3, 7));
        int z = batchnorm(g, "bn", x, 3);
        g->outputs[g->noutputs++] = z;
        assert_int_equal(ir_infer_shapes(g), 0); /* the pass needs dims */
        check_equivalent(g, ir_fold_batchnorm);
        assert_int_equal(g->nnodes, 1);
        const Node *n = &g->nodes[0];
        assert_int_equal(n->op, OP_CONV);
        assert_int_equal(n->a.group, 3);
        const Tensor *w = &g->tensors[n->in[1]];
        assert_int_equal(w->rank, 4);
        assert_int_equal(w->dims[0], 3);
        assert_int_equal(w->dims[1], 1);
        assert_int_equal(w->dims[2], 1);
        assert_int_equal(w->dims[3], 1);
        assert_int_equal(g->tensors[n->in[2]].dims[0], 3);
        assert_int_equal(n->out[0], z);
        ir_graph_free(g);
    }
}

static void test_lone_bn_rank2_becomes_dense(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(4, 3));
    g->outputs[g->noutputs++] = batchnorm(g, "bn", x, 3);
    assert_int_equal(ir_infer_shapes(g), 0);
    check_equivalent(g, ir_fold_batchnorm);
    assert_int_equal(g->nodes[0].op, OP_DENSE);
    ir_graph_free(g);
}

/* A conv output that someone else also reads, or that has a fused
 * activation, must not absorb the BN: the BN becomes its own layer. */
static void test_bn_not_foldable(void **state)
{
    (void)state;
    for (int why = 0; why < 3; why++) {
        Graph *g = ir_graph_new("m");
        int x = input(g, DIMS(1, 2, 4, 4));
        int y = NODE(g, OP_CONV, "c", x, weight(g, "w", DIMS(2, 2, 1, 1)));
        if (why == 2)
            g->nodes[0].a.fused_act = ACT_RELU;
        int z = batchnorm(g, "bn", y, 2);
        g->outputs[g->noutputs++] = z;
        if (why == 0)
            g->outputs[g->noutputs++] = NODE(g, OP_RELU, "r", y);
        if (why == 1)
            g->outputs[g->noutputs++] = y;
        assert_int_equal(ir_infer_shapes(g), 0);
        check_equivalent(g, ir_fold_batchnorm);
        assert_int_equal(count_op(g, OP_BATCHNORM), 0);
        assert_int_equal(count_op(g, OP_CONV), 2);
        ir_graph_free(g);
    }
}

/* ---- bias Add into Dense ---- */

static void test_fuse_bias_add(void **state)
{
    (void)state;
    static const int64_t shapes[3][2] = {{4, 0}, {1, 4}, {0, 0}};
    for (int k = 0; k < 3; k++) {
        Graph *g = ir_graph_new("m");
        int x = input(g, DIMS(2, 5));
        int w = weight(g, "w", DIMS(4, 5));
        int y = k == 2 ? NODE(g, OP_DENSE, "fc", x, w, weight(g, "b", DIMS(4)))
                       : NODE(g, OP_DENSE, "fc", x, w);
        int c = k == 1 ? weight(g, "c", shapes[k], 2) : weight(g, "c", DIMS(4));
        int z = NODE(g, OP_ADD, "add", k == 1 ? c : y, k == 1 ? y : c); /* either order */
        int s = NODE(g, OP_ADD, "add2", z, weight(g, "c2", DIMS(1, 4))); /* chained */
        g->outputs[g->noutputs++] = s;
        check_equivalent(g, ir_fuse_bias_add);
        assert_int_equal(g->nnodes, 1);
        assert_int_equal(g->nodes[0].out[0], s);
        assert_true(g->nodes[0].in[2] >= 0);
        ir_graph_free(g);
    }
}

static void test_fuse_bias_add_refused(void **state)
{
    (void)state;
    /* a [3, 4] constant is not a bias; an input is not a constant */
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(3, 5));
    int y = NODE(g, OP_DENSE, "fc", x, weight(g, "w", DIMS(4, 5)));
    g->outputs[g->noutputs++] = NODE(g, OP_ADD, "add", y, weight(g, "c", DIMS(3, 4)));
    int y2 = NODE(g, OP_DENSE, "fc2", x, weight(g, "w2", DIMS(5, 5)));
    g->outputs[g->noutputs++] = NODE(g, OP_ADD, "add2", y2, x);
    /* a [1, 1, 4] constant would make the output rank 3 */
    int y3 = NODE(g, OP_DENSE, "fc3", x, weight(g, "w3", DIMS(4, 5)));
    g->outputs[g->noutputs++] = NODE(g, OP_ADD, "add3", y3, weight(g, "c3", DIMS(1, 1, 4)));
    check_equivalent(g, ir_fuse_bias_add);
    assert_int_equal(g->nnodes, 6);
    ir_graph_free(g);
}

/* ---- activations ---- */

static void test_fuse_relu_clip(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(1, 3, 5, 5));
    int y = NODE(g, OP_CONV, "c", x, weight(g, "w", DIMS(4, 3, 3, 3)), weight(g, "b", DIMS(4)));
    int r = NODE(g, OP_RELU, "relu", y);
    int f = NODE(g, OP_RESHAPE, "flat", r);
    g->nodes[2].a.flatten_axis = 1;
    int d = NODE(g, OP_DENSE, "fc", f, weight(g, "w2", DIMS(6, 36)));
    int c = NODE(g, OP_CLIP, "clip", d);
    g->nodes[4].a.clip_min = -0.5f;
    g->nodes[4].a.clip_max = 0.5f;
    g->outputs[g->noutputs++] = c;
    check_equivalent(g, ir_fuse_activations);
    assert_int_equal(g->nnodes, 3);
    assert_int_equal(g->nodes[0].a.fused_act, ACT_RELU);
    assert_int_equal(g->nodes[0].out[0], r); /* writes the Relu's tensor */
    assert_int_equal(g->nodes[2].a.fused_act, ACT_CLIP);
    assert_true(g->nodes[2].a.clip_min == -0.5f && g->nodes[2].a.clip_max == 0.5f);
    assert_int_equal(g->nodes[2].out[0], c); /* the graph output survives */
    ir_graph_free(g);
}

static void test_fuse_relu_refused(void **state)
{
    (void)state;
    /* the conv output is itself a graph output; a Relu after an Add; a
       Relu after a conv read twice */
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(1, 2, 3, 3));
    int y = NODE(g, OP_CONV, "c", x, weight(g, "w", DIMS(2, 2, 1, 1)));
    g->outputs[g->noutputs++] = y;
    g->outputs[g->noutputs++] = NODE(g, OP_RELU, "r1", y);
    int a = NODE(g, OP_ADD, "add", x, x);
    g->outputs[g->noutputs++] = NODE(g, OP_RELU, "r2", a);
    int y2 = NODE(g, OP_CONV, "c2", x, weight(g, "w2", DIMS(2, 2, 1, 1)));
    g->outputs[g->noutputs++] = NODE(g, OP_RELU, "r3", y2);
    g->outputs[g->noutputs++] = NODE(g, OP_SIGMOID, "s", y2);
    check_equivalent(g, ir_fuse_activations);
    assert_int_equal(g->nnodes, 7);
    for (int i = 0; i < g->nnodes; i++)
        assert_int_equal(g->nodes[i].a.fused_act, ACT_NONE);
    ir_graph_free(g);
}

/* ---- dead nodes ---- */

static void test_remove_dead(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(1, 4));
    int a = NODE(g, OP_RELU, "a", x);
    int dead1 = NODE(g, OP_SIGMOID, "dead1", a); /* chain nobody reads */
    NODE(g, OP_TANH, "dead2", dead1);
    int b = NODE(g, OP_TANH, "b", a);
    NODE(g, OP_SIGMOID, "dead3", x);
    weight(g, "unread", DIMS(3));           /* a constant nobody reads */
    ir_add_tensor(g, "orphan", TK_ACT);     /* what a fusion leaves behind */
    g->outputs[g->noutputs++] = b;
    check_equivalent(g, ir_remove_dead);
    assert_int_equal(g->nnodes, 2);
    assert_string_equal(g->nodes[0].name, "a");
    assert_string_equal(g->nodes[1].name, "b");
    /* only x, a and b remain, in their old order, and every index follows */
    assert_int_equal(g->ntensors, 3);
    assert_int_equal(ir_find_tensor(g, "unread"), -1);
    assert_int_equal(ir_find_tensor(g, "orphan"), -1);
    assert_int_equal(g->inputs[0], ir_find_tensor(g, "x"));
    assert_int_equal(g->outputs[0], ir_find_tensor(g, "b"));
    assert_int_equal(g->nodes[0].in[0], g->inputs[0]);
    assert_int_equal(g->nodes[1].in[0], g->nodes[0].out[0]);
    assert_int_equal(g->nodes[1].out[0], g->outputs[0]);
    assert_int_equal(g->tensors[g->outputs[0]].producer, 1);
    assert_int_equal(ir_remove_dead(g), 0); /* nothing left to do */
    assert_int_equal(g->nnodes, 2);
    assert_int_equal(g->ntensors, 3);
    ir_graph_free(g);
}

/* The whole pipeline on a small CNN: conv-bn-relu, pool, flatten,
 * dense + bias add + bn + relu, dead branch.  The bias Add is fused before
 * BN folding so that the BN after it can fold into the Dense too. */
static int all_passes(Graph *g)
{
    if (ir_infer_shapes(g) || ir_fuse_bias_add(g) || ir_fold_batchnorm(g) ||
        ir_fuse_activations(g) || ir_remove_dead(g) || ir_infer_shapes(g))
        return -1;
    return 0;
}

static void test_pipeline(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(2, 1, 8, 8));
    int y = NODE(g, OP_CONV, "c", x, weight(g, "w", DIMS(4, 1, 3, 3)));
    g->nodes[0].a.auto_pad = PAD_SAME_UPPER;
    y = batchnorm(g, "bn1", y, 4);
    y = NODE(g, OP_RELU, "r1", y);
    int p = NODE(g, OP_MAXPOOL, "p", y);
    Node *pn = &g->nodes[g->nnodes - 1];
    pn->a.kernel[0] = pn->a.kernel[1] = 2;
    pn->a.strides[0] = pn->a.strides[1] = 2;
    NODE(g, OP_TANH, "unused", p);
    int f = NODE(g, OP_RESHAPE, "flat", p);
    g->nodes[g->nnodes - 1].a.flatten_axis = 1;
    int d = NODE(g, OP_DENSE, "fc", f, weight(g, "w2", DIMS(5, 64)));
    d = NODE(g, OP_ADD, "add", d, weight(g, "c", DIMS(5)));
    d = batchnorm(g, "bn2", d, 5);
    d = NODE(g, OP_RELU, "r2", d);
    g->outputs[g->noutputs++] = d;
    check_equivalent(g, all_passes);
    assert_int_equal(g->nnodes, 4); /* conv+relu, pool, flatten, dense+relu */
    assert_int_equal(g->nodes[0].a.fused_act, ACT_RELU);
    assert_int_equal(g->nodes[3].a.fused_act, ACT_RELU);
    assert_int_equal(g->nodes[3].out[0], g->outputs[0]);
    assert_string_equal(g->tensors[g->outputs[0]].name, "r2");
    /* x, 4 activations, conv and dense weights and biases: nothing else */
    assert_int_equal(g->ntensors, 9);
    (void)d;
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_bn_conv),
        cmocka_unit_test(test_fold_bn_dense),
        cmocka_unit_test(test_fold_bn_shared_and_chained),
        cmocka_unit_test(test_lone_bn_becomes_depthwise_conv),
        cmocka_unit_test(test_lone_bn_rank2_becomes_dense),
        cmocka_unit_test(test_bn_not_foldable),
        cmocka_unit_test(test_fuse_bias_add),
        cmocka_unit_test(test_fuse_bias_add_refused),
        cmocka_unit_test(test_fuse_relu_clip),
        cmocka_unit_test(test_fuse_relu_refused),
        cmocka_unit_test(test_remove_dead),
        cmocka_unit_test(test_pipeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
