/* Shape inference: output dims per op, attribute normalisation, idempotence
 * and the error messages of inconsistent graphs. */
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

static int tensor(Graph *g, TensorKind kind, const int64_t *dims, int rank)
{
    char name[32];
    snprintf(name, sizeof name, "t%d", g->ntensors);
    int t = ir_add_tensor(g, name, kind);
    Tensor *tt = &g->tensors[t];
    tt->rank = rank;
    for (int i = 0; i < rank; i++)
        tt->dims[i] = dims[i];
    if (kind == TK_CONST)
        tt->data = calloc((size_t)ir_numel(tt), sizeof(float));
    return t;
}

static int input(Graph *g, const int64_t *dims, int rank)
{
    int t = tensor(g, TK_INPUT, dims, rank);
    g->inputs[g->ninputs++] = t;
    return t;
}

static int weight(Graph *g, const int64_t *dims, int rank)
{
    return tensor(g, TK_CONST, dims, rank);
}

/* Node with inputs a, b, c (-1: none) and one new output; returns the node. */
static Node *node(Graph *g, Op op, int a, int b, int c)
{
    char name[32];
    snprintf(name, sizeof name, "n%d", g->nnodes);
    int i = ir_add_node(g, op, name, g->nnodes);
    Node *n = &g->nodes[i];
    n->in[n->nin++] = a;
    if (b >= 0 || c >= 0)
        n->in[n->nin++] = b;
    if (c >= 0)
        n->in[n->nin++] = c;
    snprintf(name, sizeof name, "y%d", i);
    n->out[n->nout++] = ir_add_tensor(g, name, TK_ACT);
    return n;
}

static const Tensor *out(const Graph *g, const Node *n) { return &g->tensors[n->out[0]]; }

static void expect_dims(const Tensor *t, const int64_t *dims, int rank)
{
    assert_int_equal(t->rank, rank);
    for (int i = 0; i < rank; i++)
        assert_int_equal(t->dims[i], dims[i]);
}

static void expect_error(Graph *g, const char *part)
{
    assert_int_equal(ir_infer_shapes(g), -1);
    if (!strstr(g->err, part))
        fail_msg("error \"%s\" does not mention \"%s\"", g->err, part);
}

static void test_conv_basic(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(1, 3, 8, 8));
    Node *n = node(g, OP_CONV, x, weight(g, DIMS(4, 3, 3, 3)), weight(g, DIMS(4)));
    n->a.pads[0] = n->a.pads[1] = n->a.pads[2] = n->a.pads[3] = 1;
    assert_int_equal(ir_infer_shapes(g), 0);
    expect_dims(out(g, n), DIMS(1, 4, 8, 8));
    assert_int_equal(n->a.kernel[0], 3); /* kernel taken from the weights */
    assert_int_equal(n->a.kernel[1], 3);
    ir_graph_free(g);
}

static void test_conv_stride_dilation_pads(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(2, 2, 10, 9));
    Node *n = node(g, OP_CONV, x, weight(g, DIMS(6, 2, 3, 2)), -1);
    n->a.strides[0] = 2, n->a.strides[1] = 3;
    n->a.dilations[0] = 2;
    n->a.pads[0] = 1, n->a.pads[1] = 0, n->a.pads[2] = 2, n->a.pads[3] = 1;
    assert_int_equal(ir_infer_shapes(g), 0);
    /* H: (10 + 3 - 5) / 2 + 1 = 5, W: (9 + 1 - 2) / 3 + 1 = 3 */
    expect_dims(out(g, n), DIMS(2, 6, 5, 3));
    ir_graph_free(g);
}

static void test_conv_groups(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(1, 4, 5, 5));
    Node *a = node(g, OP_CONV, x, weight(g, DIMS(8, 2, 3, 3)), -1);
    a->a.group = 2;
    Node *d = node(g, OP_CONV, x, weight(g, DIMS(4, 1, 3, 3)), -1);
    d->a.group = 4;
    assert_int_equal(ir_infer_shapes(g), 0);
    expect_dims(out(g, &g->nodes[0]), DIMS(1, 8, 3, 3));
    expect_dims(out(g, &g->nodes[1]), DIMS(1, 4, 3, 3));
    ir_graph_free(g);
}

static void test_conv_1d(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(2, 3, 10));
    Node *n = node(g, OP_CONV, x, weight(g, DIMS(5, 3, 1, 3)), -1);
    n->a.strides[1] = 2;
    n->a.pads[1] = n->a.pads[3] = 1;
    Node *m = node(g, OP_CONV, x, weight(g, DIMS(5, 3, 4)), -1); /* rank-3 weights too */
    assert_int_equal(ir_infer_shapes(g), 0);
    expect_dims(out(g, &g->nodes[0]), DIMS(2, 5, 5));
    expect_dims(out(g, &g->nodes[1]), DIMS(2, 5, 7));
    (void)m;
    ir_graph_free(g);
}

static void test_conv_auto_pad(void **state)
{
    (void)state;
    static const AutoPad modes[3] = {PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID};
    static const int64_t expect_out[3] = {4, 4, 2};
    static const int64_t expect_pb[3] = {1, 2, 0}, expect_pe[3] = {2, 1, 0};
    for (int m = 0; m < 3; m++) {
        Graph *g = ir_graph_new("m");
        int x = input(g, DIMS(1, 1, 7, 7));
        Node *n = node(g, OP_CONV, x, weight(g, DIMS(1, 1, 4, 4)), -1);
        n->a.strides[0] = n->a.strides[1] = 2;
        n->a.auto_pad = modes[m];
        assert_int_equal(ir_infer_shapes(g), 0);
        expect_dims(out(g, n), (const int64_t[]){1, 1, expect_out[m], expect_out[m]}, 4);
        assert_int_equal(n->a.pads[0], expect_pb[m]);
        assert_int_equal(n->a.pads[1], expect_pb[m]);
        assert_int_equal(n->a.pads[2], expect_pe[m]);
        assert_int_equal(n->a.pads[3], expect_pe[m]);
        assert_int_equal(n->a.auto_pad, PAD_NOTSET);
        ir_graph_free(g);
    }
}

static void test_pool_ceil_mode(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(1, 2, 6, 6));
    int x5 = input(g, DIMS(1, 2, 5, 5));
    Node *fl = node(g, OP_MAXPOOL, x, -1, -1);
    fl->a.kernel[0] = fl->a.kernel[1] = 3;
    fl->a.strides[0] = fl->a.strides[1] = 2;
    Node *ce = node(g, OP_MAXPOOL, x, -1, -1);
    ce->a = fl->a;
    ce->a.ceil_mode = 1;
    /* ceil would give 4, but the last window would start in the right
       padding (6 >= 5 + 1), so it is dropped: 3, as ONNX and PyTorch */
    Node *dr = node(g, OP_AVGPOOL, x5, -1, -1);
    dr->a.kernel[0] = dr->a.kernel[1] = 2;
    dr->a.strides[0] = dr->a.strides[1] = 2;
    for (int i = 0; i < 4; i++)
        dr->a.pads[i] = 1;
    dr->a.ceil_mode = 1;
    Node *d1 = node(g, OP_MAXPOOL, input(g, DIMS(1, 1, 9)), -1, -1); /* 1-D */
    d1->a.kernel[1] = 2;
    d1->a.strides[1] = 2;
    d1->a.ceil_mode = 1;
    assert_int_equal(ir_infer_shapes(g), 0);
    expect_dims(out(g, &g->nodes[0]), DIMS(1, 2, 2, 2));
    expect_dims(out(g, &g->nodes[1]), DIMS(1, 2, 3, 3));
    expect_dims(out(g, &g->nodes[2]), DIMS(1, 2, 3, 3));
    expect_dims(out(g, &g->nodes[3]), DIMS(1, 1, 5));
    ir_graph_free(g);
}

static void test_pool_same_dilated(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(1, 1, 5, 6));
    Node *n = node(g, OP_MAXPOOL, x, -1, -1);
    n->a.kernel[0] = n->a.kernel[1] = 2;
    n->a.dilations[0] = n->a.dilations[1] = 3; /* extent 4: 3 pads, 1 before */
    n->a.auto_pad = PAD_SAME_UPPER;
    n->a.ceil_mode = 1; /* irrelevant with SAME: output = ceil(in / stride) */
    assert_int_equal(ir_infer_shapes(g), 0);
    expect_dims(out(g, n), DIMS(1, 1, 5, 6));
    assert_int_equal(n->a.pads[0], 1);
    assert_int_equal(n->a.pads[2], 2);
    ir_graph_free(g);
}

static void test_global_pool_dense_bn(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(2, 3, 4, 5));
    Node *gp = node(g, OP_GLOBALAVGPOOL, x, -1, -1);
    Node *bn = node(g, OP_BATCHNORM, x, weight(g, DIMS(3)), weight(g, DIMS(3)));
    bn->in[bn->nin++] = weight(g, DIMS(3));
    bn->in[bn->nin++] = weight(g, DIMS(1, 3, 1, 1)); /* any shape with C values */
    Node *de =
        node(g, OP_DENSE, input(g, DIMS(2, 5, 7)), weight(g, DIMS(3, 7)), weight(g, DIMS(3)));
    assert_int_equal(ir_infer_shapes(g), 0);
    expect_dims(out(g, gp), DIMS(2, 3, 1, 1));
    expect_dims(out(g, bn), DIMS(2, 3, 4, 5));
    expect_dims(out(g, de), DIMS(2, 5, 3));
    ir_graph_free(g);
}

static void test_reshape(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(2, 3, 4));
    Node *a = node(g, OP_RESHAPE, x, -1, -1);
    a->a.shape[0] = 0, a->a.shape[1] = -1, a->a.nshape = 2;
    Node *b = node(g, OP_RESHAPE, x, -1, -1);
    b->a.shape[0] = -1, b->a.shape[1] = 4, b->a.nshape = 2;
    Node *c = node(g, OP_RESHAPE, x, -1, -1);
    c->a.shape[0] = 4, c->a.shape[1] = 0, c->a.shape[2] = 2, c->a.nshape = 3;
    assert_int_equal(ir_infer_shapes(g), 0);
    a = &g->nodes[0], b = &g->nodes[1], c = &g->nodes[2];
    expect_dims(out(g, a), DIMS(2, 12));
    expect_dims(out(g, b), DIMS(6, 4));
    expect_dims(out(g, c), DIMS(4, 3, 2));
    /* the target now holds the final dims */
    assert_int_equal(a->a.nshape, 2);
    assert_int_equal(a->a.shape[0], 2);
    assert_int_equal(a->a.shape[1], 12);
    ir_graph_free(g);
}

static void test_reshape_errors(void **state)
{
    (void)state;
    static const int64_t targets[4][3] = {{5, -1, 1}, {-1, -1, 1}, {7, 3, 1}, {1, 1, 3}};
    static const char *const msgs[4] = {"cannot infer -1", "more than one -1", "bad target shape",
                                        "0 at position"};
    for (int k = 0; k < 4; k++) {
        Graph *g = ir_graph_new("m");
        Node *n = node(g, OP_RESHAPE, input(g, DIMS(2, 3, 4)), -1, -1);
        memcpy(n->a.shape, targets[k], sizeof targets[k]);
        n->a.nshape = k < 2 ? 2 : 3;
        if (k == 3) { /* 0 copying a dim the input lacks */
            n->a.shape[0] = 24, n->a.shape[1] = 1, n->a.shape[2] = 1, n->a.shape[3] = 0;
            n->a.nshape = 4;
        }
        expect_error(g, msgs[k]);
        ir_graph_free(g);
    }
}

static void test_flatten(void **state)
{
    (void)state;
    static const int axes[3] = {1, 0, 4};
    static const int64_t expect[3][2] = {{2, 60}, {1, 120}, {120, 1}};
    for (int k = 0; k < 3; k++) {
        Graph *g = ir_graph_new("m");
        Node *n = node(g, OP_RESHAPE, input(g, DIMS(2, 3, 4, 5)), -1, -1);
        n->a.flatten_axis = axes[k];
        assert_int_equal(ir_infer_shapes(g), 0);
        expect_dims(out(g, n), expect[k], 2);
        assert_int_equal(ir_infer_shapes(g), 0); /* again: same result */
        expect_dims(out(g, n), expect[k], 2);
        ir_graph_free(g);
    }
}

static void test_transpose(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(2, 3, 4, 5));
    Node *a = node(g, OP_TRANSPOSE, x, -1, -1);
    a->a.perm[0] = 0, a->a.perm[1] = 2, a->a.perm[2] = 3, a->a.perm[3] = 1, a->a.nperm = 4;
    Node *b = node(g, OP_TRANSPOSE, x, -1, -1); /* no perm: reversed */
    assert_int_equal(ir_infer_shapes(g), 0);
    expect_dims(out(g, &g->nodes[0]), DIMS(2, 4, 5, 3));
    expect_dims(out(g, &g->nodes[1]), DIMS(5, 4, 3, 2));
    assert_int_equal(g->nodes[1].a.nperm, 4);
    assert_int_equal(g->nodes[1].a.perm[0], 3);
    (void)a, (void)b;
    ir_graph_free(g);

    g = ir_graph_new("m");
    Node *n = node(g, OP_TRANSPOSE, input(g, DIMS(2, 3, 4)), -1, -1);
    n->a.perm[0] = 0, n->a.perm[1] = 0, n->a.perm[2] = 1, n->a.nperm = 3;
    expect_error(g, "not a permutation");
    ir_graph_free(g);
}

static Node *slice(Graph *g, int x, int64_t axis, int64_t start, int64_t len, int drop)
{
    Node *n = node(g, OP_SLICE, x, -1, -1);
    n->a.axis = axis;
    n->a.slice_start = start;
    n->a.slice_len = len;
    n->a.slice_drop = drop;
    return n;
}

static void test_slice(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(2, 5, 3));
    Node *a = slice(g, x, -2, 1, 3, 0);
    Node *b = slice(g, a->out[0], 2, 2, 1, 1); /* Gather of a scalar index */
    Node *c = slice(g, x, 0, 1, 1, 0);         /* of a one-element list */
    assert_int_equal(ir_infer_shapes(g), 0);
    expect_dims(out(g, &g->nodes[0]), DIMS(2, 3, 3));
    expect_dims(out(g, &g->nodes[1]), DIMS(2, 3));
    expect_dims(out(g, &g->nodes[2]), DIMS(1, 5, 3));
    assert_int_equal(g->nodes[0].a.axis, 1);
    assert_int_equal(ir_infer_shapes(g), 0); /* again: same result */
    expect_dims(out(g, &g->nodes[1]), DIMS(2, 3));
    (void)a, (void)b, (void)c;
    ir_graph_free(g);

    static const struct {
        int64_t axis, start, len;
        int drop;
        const char *err;
    } bad[] = {
        {1, 3, 3, 0, "range [3, 6) is not a non-empty part of axis 1 of input \"t0\" [2,5,3]"},
        {1, -1, 1, 0, "range [-1, 0) is not"},
        {2, 0, 0, 0, "range [0, 0) is not"},
        {1, 0, 2, 1, "dropping axis 1 needs a length of 1, not 2"},
        {3, 0, 1, 0, "axis 3 out of range for rank 3"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        g = ir_graph_new("m");
        slice(g, input(g, DIMS(2, 5, 3)), bad[i].axis, bad[i].start, bad[i].len, bad[i].drop);
        expect_error(g, bad[i].err);
        ir_graph_free(g);
    }
    g = ir_graph_new("m");
    slice(g, input(g, DIMS(4)), 0, 3, 1, 1);
    expect_error(g, "dropping the only axis of \"t0\" gives a scalar");
    ir_graph_free(g);
}

static void test_concat(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    Node *n = node(g, OP_CONCAT, input(g, DIMS(2, 3, 4)), input(g, DIMS(2, 3, 1)),
                   weight(g, DIMS(2, 3, 2)));
    n->a.axis = -1;
    assert_int_equal(ir_infer_shapes(g), 0);
    expect_dims(out(g, n), DIMS(2, 3, 7));
    assert_int_equal(n->a.axis, 2);
    ir_graph_free(g);

    g = ir_graph_new("m");
    n = node(g, OP_CONCAT, input(g, DIMS(2, 3, 4)), input(g, DIMS(2, 4, 4)), -1);
    n->a.axis = 2;
    expect_error(g, "outside concat axis 2");
    ir_graph_free(g);

    g = ir_graph_new("m");
    n = node(g, OP_CONCAT, input(g, DIMS(2, 3)), input(g, DIMS(2, 3)), -1);
    n->a.axis = -3;
    expect_error(g, "axis -3 out of range for rank 2");
    ir_graph_free(g);
}

static void test_add_broadcast(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    Node *a = node(g, OP_ADD, input(g, DIMS(2, 3, 4)), weight(g, DIMS(3, 1)), -1);
    Node *b = node(g, OP_ADD, weight(g, DIMS(4)), input(g, DIMS(2, 1)), -1);
    Node *c = node(g, OP_ADD, input(g, DIMS(1, 5)), weight(g, DIMS(1)), -1);
    assert_int_equal(ir_infer_shapes(g), 0);
    expect_dims(out(g, &g->nodes[0]), DIMS(2, 3, 4));
    expect_dims(out(g, &g->nodes[1]), DIMS(2, 4));
    expect_dims(out(g, &g->nodes[2]), DIMS(1, 5));
    (void)a, (void)b, (void)c;
    ir_graph_free(g);

    g = ir_graph_new("m");
    node(g, OP_ADD, input(g, DIMS(2, 3)), input(g, DIMS(4)), -1);
    expect_error(g, "not broadcastable");
    ir_graph_free(g);
}

static void test_softmax_axis(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    Node *n = node(g, OP_SOFTMAX, input(g, DIMS(2, 10)), -1, -1);
    n->a.axis = -1;
    assert_int_equal(ir_infer_shapes(g), 0);
    assert_int_equal(n->a.axis, 1);
    expect_dims(out(g, n), DIMS(2, 10));
    n->a.axis = 2;
    expect_error(g, "axis 2 out of range for rank 2");
    ir_graph_free(g);
}

static void test_conv_errors(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    node(g, OP_CONV, input(g, DIMS(1, 3, 8, 8)), weight(g, DIMS(4, 2, 3, 3)), -1);
    expect_error(g, "channel mismatch");
    ir_graph_free(g);

    g = ir_graph_new("m");
    Node *n = node(g, OP_CONV, input(g, DIMS(1, 6, 8, 8)), weight(g, DIMS(4, 2, 3, 3)), -1);
    n->a.group = 3;
    expect_error(g, "group 3 does not divide the 4 output channels");
    ir_graph_free(g);

    g = ir_graph_new("m");
    n = node(g, OP_CONV, input(g, DIMS(1, 5, 8, 8)), weight(g, DIMS(4, 2, 3, 3)), -1);
    n->a.group = 2;
    expect_error(g, "group 2 does not divide the 5 input channels");
    ir_graph_free(g);

    g = ir_graph_new("m");
    node(g, OP_CONV, input(g, DIMS(1, 3, 2, 8)), weight(g, DIMS(4, 3, 3, 3)), -1);
    expect_error(g, "larger than the padded input");
    ir_graph_free(g);

    g = ir_graph_new("m");
    node(g, OP_CONV, input(g, DIMS(1, 3, 8, 8)), weight(g, DIMS(4, 3, 3, 3)), weight(g, DIMS(3)));
    expect_error(g, "bias");
    ir_graph_free(g);

    g = ir_graph_new("m");
    n = node(g, OP_MAXPOOL, input(g, DIMS(1, 3, 8, 8)), -1, -1);
    n->a.kernel[0] = n->a.kernel[1] = 2;
    n->a.strides[1] = 0;
    expect_error(g, "stride 0 along width");
    ir_graph_free(g);

    g = ir_graph_new("m");
    node(g, OP_DENSE, input(g, DIMS(1, 8)), weight(g, DIMS(4, 7)), -1);
    expect_error(g, "has 8 features");
    ir_graph_free(g);

    g = ir_graph_new("m");
    node(g, OP_CONV, input(g, DIMS(1, 3, 8)), weight(g, DIMS(4, 3, 3, 3)), -1);
    expect_error(g, "with kernel height 3 (must be 1)");
    ir_graph_free(g);

    g = ir_graph_new("m");
    n = node(g, OP_AVGPOOL, input(g, DIMS(1, 3, 8)), -1, -1);
    n->a.kernel[1] = 2;
    n->a.pads[0] = 1;
    expect_error(g, "with height pads (1, 0)");
    ir_graph_free(g);
}

static void test_error_names_node(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    Node *n = node(g, OP_CONV, input(g, DIMS(1, 3, 8, 8)), weight(g, DIMS(4, 2, 3, 3)), -1);
    free(n->name);
    n->name = strdup("conv1");
    n->src_index = 7;
    expect_error(g, "node 7 (Conv \"conv1\"): channel mismatch");
    ir_graph_free(g);

    /* reading a tensor nothing computes */
    g = ir_graph_new("m");
    int ghost = ir_add_tensor(g, "ghost", TK_ACT);
    node(g, OP_RELU, ghost, -1, -1);
    expect_error(g, "\"ghost\" is not computed");
    ir_graph_free(g);
}

/* Running the pass twice changes nothing (dims and normalised attrs). */
static void test_idempotent(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(1, 3, 9, 9));
    Node *c = node(g, OP_CONV, x, weight(g, DIMS(4, 3, 3, 3)), -1);
    c->a.auto_pad = PAD_SAME_LOWER;
    c->a.strides[0] = c->a.strides[1] = 2;
    Node *p = node(g, OP_MAXPOOL, c->out[0], -1, -1);
    p->a.kernel[0] = p->a.kernel[1] = 2;
    p->a.strides[0] = p->a.strides[1] = 2;
    p->a.ceil_mode = 1;
    Node *t = node(g, OP_TRANSPOSE, p->out[0], -1, -1);
    Node *r = node(g, OP_RESHAPE, t->out[0], -1, -1);
    r->a.shape[0] = 0, r->a.shape[1] = -1, r->a.nshape = 2;
    Node *s = node(g, OP_SOFTMAX, r->out[0], -1, -1);
    s->a.axis = -1;
    assert_int_equal(ir_infer_shapes(g), 0);
    Node *first = malloc((size_t)g->nnodes * sizeof *first);
    Tensor *tfirst = malloc((size_t)g->ntensors * sizeof *tfirst);
    memcpy(first, g->nodes, (size_t)g->nnodes * sizeof *first);
    memcpy(tfirst, g->tensors, (size_t)g->ntensors * sizeof *tfirst);
    assert_int_equal(ir_infer_shapes(g), 0);
    for (int i = 0; i < g->nnodes; i++)
        assert_memory_equal(&first[i].a, &g->nodes[i].a, sizeof(Attrs));
    for (int i = 0; i < g->ntensors; i++) {
        assert_int_equal(tfirst[i].rank, g->tensors[i].rank);
        assert_memory_equal(tfirst[i].dims, g->tensors[i].dims, sizeof tfirst[i].dims);
    }
    /* conv 9 -> 5 (SAME), pool ceil 5 -> 3, transpose, reshape [0, -1] */
    expect_dims(out(g, &g->nodes[4]), DIMS(3, 12));
    free(first);
    free(tfirst);
    ir_graph_free(g);
}

/* ---- LSTM and GRU ---- */

/* An LSTM (G = 4) or GRU (G = 3) node over x [seq, batch, in] with the given
 * weight dims, all outputs present. */
static Node *rnn_node(Graph *g, Op op, int x, int w, int r, int64_t hidden, RnnDirection dir)
{
    Node *n = node(g, op, x, w, r);
    n->nin = op == OP_LSTM ? 8 : 6;
    for (int j = 3; j < n->nin; j++)
        n->in[j] = -1;
    n->out[n->nout++] = ir_add_tensor(g, "Y_h", TK_ACT);
    if (op == OP_LSTM)
        n->out[n->nout++] = ir_add_tensor(g, "Y_c", TK_ACT);
    n->a.hidden_size = hidden;
    n->a.direction = dir;
    return n;
}

static void test_rnn_shapes(void **state)
{
    (void)state;
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(7, 2, 5));
    Node *l = rnn_node(g, OP_LSTM, x, weight(g, DIMS(2, 12, 5)), weight(g, DIMS(2, 12, 3)), 3,
                       RNN_BIDIRECTIONAL);
    l->in[3] = weight(g, DIMS(2, 24));
    l->in[5] = weight(g, DIMS(2, 2, 3));
    l->in[7] = weight(g, DIMS(2, 9));
    int y = l->out[0], yh = l->out[1], yc = l->out[2];
    Node *gr = rnn_node(g, OP_GRU, x, weight(g, DIMS(1, 12, 5)), weight(g, DIMS(1, 12, 4)), 4,
                        RNN_REVERSE);
    int gy = gr->out[0], gyh = gr->out[1];
    assert_int_equal(ir_infer_shapes(g), 0);
    expect_dims(&g->tensors[y], DIMS(7, 2, 2, 3));
    expect_dims(&g->tensors[yh], DIMS(2, 2, 3));
    expect_dims(&g->tensors[yc], DIMS(2, 2, 3));
    expect_dims(&g->tensors[gy], DIMS(7, 1, 2, 4));
    expect_dims(&g->tensors[gyh], DIMS(1, 2, 4));
    ir_graph_free(g);
}

/* Each malformed node fails with a message naming the node and the culprit. */
static void expect_rnn_error(Op op, int64_t wdim1, int64_t rdim2, int bias, int64_t lens0,
                             int nout, const char *want)
{
    Graph *g = ir_graph_new("m");
    int x = input(g, DIMS(4, 1, 5));
    int w = weight(g, DIMS(1, wdim1, 5)), r = weight(g, DIMS(1, 12, rdim2));
    Node *n = rnn_node(g, op, x, w, r, 3, RNN_FORWARD);
    if (bias)
        n->in[3] = weight(g, DIMS(1, 7));
    if (lens0) {
        n->in[4] = weight(g, DIMS(1));
        g->tensors[n->in[4]].data[0] = (float)lens0;
    }
    if (nout)
        n->nout = nout;
    assert_int_equal(ir_infer_shapes(g), -1);
    assert_non_null(strstr(g->err, "\"n0\""));
    if (!strstr(g->err, want))
        fail_msg("error \"%s\" lacks \"%s\"", g->err, want);
    ir_graph_free(g);
}

static void test_rnn_errors(void **state)
{
    (void)state;
    expect_rnn_error(OP_LSTM, 9, 3, 0, 0, 0, "weights W \"t1\" [1,9,5] must be [1,12,5]");
    expect_rnn_error(OP_GRU, 12, 3, 0, 0, 0, "weights W \"t1\" [1,12,5] must be [1,9,5]");
    expect_rnn_error(OP_LSTM, 12, 4, 0, 0, 0, "recurrence weights R \"t2\" [1,12,4] must be [1,12,3]");
    expect_rnn_error(OP_LSTM, 12, 3, 1, 0, 0, "bias B \"t6\" [1,7] must be [1,24]");
    expect_rnn_error(OP_LSTM, 12, 3, 0, 9, 0, "sequence_lens");
    expect_rnn_error(OP_LSTM, 12, 3, 0, 0, 1, "1 outputs, expected 3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_basic),
        cmocka_unit_test(test_conv_stride_dilation_pads),
        cmocka_unit_test(test_conv_groups),
        cmocka_unit_test(test_conv_1d),
        cmocka_unit_test(test_conv_auto_pad),
        cmocka_unit_test(test_pool_ceil_mode),
        cmocka_unit_test(test_pool_same_dilated),
        cmocka_unit_test(test_global_pool_dense_bn),
        cmocka_unit_test(test_reshape),
        cmocka_unit_test(test_reshape_errors),
        cmocka_unit_test(test_flatten),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_slice),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_add_broadcast),
        cmocka_unit_test(test_softmax_axis),
        cmocka_unit_test(test_conv_errors),
        cmocka_unit_test(test_error_names_node),
        cmocka_unit_test(test_idempotent),
        cmocka_unit_test(test_rnn_shapes),
        cmocka_unit_test(test_rnn_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
