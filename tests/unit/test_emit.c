/*
 * C backend: deterministic output, the expected shift-add text, and the
 * emitted program (built with the system's cc) equal to the integer
 * simulator bit for bit and to the float interpreter in float mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emit_c.h"
#include "emit_internal.h"
#include "ir.h"
#include "kernel_args.h"
#include "pipeline.h"
#include "qsim_check.h"

/* ---- a small graph touching every integer op ---- */

static int act(Graph *g, const char *name)
{
    return ir_add_tensor(g, name, TK_ACT);
}

static int cst(Graph *g, const char *name, int rank, const int64_t *dims, const float *data,
               uint32_t *seed)
{
    int t = ir_add_tensor(g, name, TK_CONST);
    Tensor *tt = &g->tensors[t];
    tt->rank = rank;
    memcpy(tt->dims, dims, (size_t)rank * sizeof *dims);
    int64_t n = ir_numel(tt);
    tt->data = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        if (data) {
            tt->data[i] = data[i];
        } else {
            *seed = *seed * 1103515245u + 12345u;
            tt->data[i] = (float)((int)((*seed >> 8) % 2001) - 1000) / 1000.0f;
        }
    }
    return t;
}

static int node(Graph *g, Op op, const char *name, int a, int b, int c, int y)
{
    int k = ir_add_node(g, op, name, g->nnodes);
    Node *n = &g->nodes[k];
    n->in[0] = a;
    n->in[1] = b;
    n->in[2] = c;
    n->nin = c >= 0 ? 3 : b >= 0 ? 2 : 1;
    n->out[0] = y;
    n->nout = 1;
    return k;
}

/* Dense weights of the last layer: channel 0 is {1.27, 0.07, 0, ...} so its
 * codes are 127 and 7 (per-channel scale 0.01). */
static const float dense_w[3 * 8] = {
    1.27f, 0.07f, 0, 0, 0, 0, 0, 0,
    0.5f, -0.25f, 0.125f, 0.3f, -0.9f, 0.1f, 0.2f, -0.6f,
    -0.3f, 0.8f, 0.05f, -0.4f, 0.7f, -0.2f, 0.9f, 0.33f,
};

static Graph *build_graph(const char *name)
{
    uint32_t seed = 7;
    Graph *g = ir_graph_new(name);
    int x = ir_add_tensor(g, "input */ /* evil \"name\"\\", TK_INPUT);
    g->tensors[x].rank = 4;
    int64_t xd[4] = {1, 2, 5, 5};
    memcpy(g->tensors[x].dims, xd, sizeof xd);
    g->inputs[g->ninputs++] = x;

    int64_t w1d[4] = {4, 2, 3, 3}, b1d[1] = {4}, w2d[4] = {4, 1, 3, 3}, wdd[2] = {3, 8}, bdd[1] = {3};
    int w1 = cst(g, "w1", 4, w1d, NULL, &seed), b1 = cst(g, "b1", 1, b1d, NULL, &seed);
    int w2 = cst(g, "w2", 4, w2d, NULL, &seed);
    int wd = cst(g, "wd", 2, wdd, dense_w, &seed), bd = cst(g, "bd", 1, bdd, NULL, &seed);
    int64_t kd[4] = {1, 8, 1, 1};
    int kadd = cst(g, "kadd", 4, kd, NULL, &seed);

    int c1 = act(g, "c1"), c2 = act(g, "c2"), gp = act(g, "gap"), ad = act(g, "add");
    int sg = act(g, "sig"), cc = act(g, "cat"), tr = act(g, "tr"), ap = act(g, "avg");
    int mp = act(g, "max"), lr = act(g, "leaky"), ad2 = act(g, "add2"), fl = act(g, "flat");
    int de = act(g, "dense"), sm = act(g, "softmax");

    int k = node(g, OP_CONV, "conv1", x, w1, b1, c1);
    g->nodes[k].a.pads[0] = g->nodes[k].a.pads[1] = g->nodes[k].a.pads[2] = g->nodes[k].a.pads[3] = 1;
    g->nodes[k].a.fused_act = ACT_RELU;
    k = node(g, OP_CONV, "dwconv", c1, w2, -1, c2); /* depthwise, stride 2 */
    g->nodes[k].a.group = 4;
    g->nodes[k].a.strides[0] = g->nodes[k].a.strides[1] = 2;
    node(g, OP_GLOBALAVGPOOL, "gap", c1, -1, -1, gp);
    node(g, OP_ADD, "add", c2, gp, -1, ad);
    node(g, OP_SIGMOID, "sig", ad, -1, -1, sg);
    k = node(g, OP_CONCAT, "cat", sg, c2, -1, cc);
    g->nodes[k].a.axis = 1;
    k = node(g, OP_TRANSPOSE, "tr", cc, -1, -1, tr); /* a real transpose: swaps H and W */
    g->nodes[k].a.nperm = 4;
    g->nodes[k].a.perm[0] = 0, g->nodes[k].a.perm[1] = 1, g->nodes[k].a.perm[2] = 3,
    g->nodes[k].a.perm[3] = 2;
    k = node(g, OP_MAXPOOL, "max", tr, -1, -1, mp);
    g->nodes[k].a.kernel[0] = g->nodes[k].a.kernel[1] = 2;
    g->nodes[k].a.pads[2] = g->nodes[k].a.pads[3] = 1;
    k = node(g, OP_AVGPOOL, "avg", mp, -1, -1, ap);
    g->nodes[k].a.kernel[0] = g->nodes[k].a.kernel[1] = 2;
    node(g, OP_LEAKYRELU, "leaky", ap, -1, -1, lr);
    node(g, OP_ADD, "addk", lr, kadd, -1, ad2); /* constant operand */
    k = node(g, OP_RESHAPE, "flat", ad2, -1, -1, fl);
    g->nodes[k].a.flatten_axis = 1;
    node(g, OP_DENSE, "fc", fl, wd, bd, de);
    node(g, OP_SOFTMAX, "softmax", de, -1, -1, sm);
    g->nodes[g->nnodes - 1].a.axis = 1;
    g->outputs[g->noutputs++] = sm;
    g->outputs[g->noutputs++] = de;
    /* 4 -> 8 channels: the Concat doubles them, Dense takes 8 */
    return g;
}

#define NSAMPLES 16

static float *make_samples(int64_t count)
{
    float *s = malloc((size_t)(NSAMPLES * count) * sizeof *s);
    uint32_t seed = 99;
    for (int64_t i = 0; i < NSAMPLES * count; i++) {
        seed = seed * 1664525u + 1013904223u;
        s[i] = (float)((int)(seed >> 9) % 4001 - 2000) / 1000.0f;
    }
    return s;
}

/* Shapes, calibration on the samples and quantization of g, in place. */
static Graph *quantize(Graph *g)
{
    if (ir_infer_shapes(g) != 0) {
        fprintf(stderr, "%s\n", g->err);
        fail();
    }
    float *s = make_samples(ir_numel(&g->tensors[g->inputs[0]]));
    if (ir_calibrate(g, s, NSAMPLES) != 0 || ir_quantize(g) != 0) {
        fprintf(stderr, "%s\n", g->err);
        fail();
    }
    free(s);
    return g;
}

static Graph *quantized_graph(const char *name) { return quantize(build_graph(name)); }

/* Slices of a uint8 tensor (after a ReLU) and of an int8 one, chained and
 * dropping an axis; act_bits 16 makes them 16-bit. */
static Graph *slice_graph(const char *name, int act_bits)
{
    uint32_t seed = 11;
    Graph *g = ir_graph_new(name);
    int x = ir_add_tensor(g, "x", TK_INPUT);
    g->tensors[x].rank = 4;
    int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {4, 2, 3, 3}, wdd[2] = {3, 10};
    memcpy(g->tensors[x].dims, xd, sizeof xd);
    g->inputs[g->ninputs++] = x;
    int w = cst(g, "w", 4, wd, NULL, &seed), wde = cst(g, "wd", 2, wdd, NULL, &seed);
    int c1 = act(g, "c1"), s1 = act(g, "s1"), s2 = act(g, "s2"), fl = act(g, "flat");
    int de = act(g, "dense"), s3 = act(g, "s3");
    int k = node(g, OP_CONV, "conv", x, w, -1, c1);
    g->nodes[k].a.pads[0] = g->nodes[k].a.pads[1] = g->nodes[k].a.pads[2] = g->nodes[k].a.pads[3] = 1;
    g->nodes[k].a.fused_act = ACT_RELU;
    k = node(g, OP_SLICE, "s1", c1, -1, -1, s1); /* channels [1, 3) */
    g->nodes[k].a.axis = 1, g->nodes[k].a.slice_start = 1, g->nodes[k].a.slice_len = 2;
    k = node(g, OP_SLICE, "s2", s1, -1, -1, s2); /* the last row: [1, 2, 5] */
    g->nodes[k].a.axis = 2, g->nodes[k].a.slice_start = 4, g->nodes[k].a.slice_len = 1;
    g->nodes[k].a.slice_drop = 1;
    k = node(g, OP_RESHAPE, "flat", s2, -1, -1, fl);
    g->nodes[k].a.flatten_axis = 1;
    node(g, OP_DENSE, "fc", fl, wde, -1, de);
    k = node(g, OP_SLICE, "s3", de, -1, -1, s3); /* [1, 2] */
    g->nodes[k].a.axis = -1, g->nodes[k].a.slice_start = 1, g->nodes[k].a.slice_len = 2;
    g->outputs[g->noutputs++] = s3;
    g->outputs[g->noutputs++] = s2;
    for (int i = 0; i < g->nnodes; i++)
        g->nodes[i].prec.act_bits = act_bits;
    return g;
}

/* ---- helpers ---- */

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    *len = got;
    return buf;
}

static void make_tmpdir(char *buf, size_t len)
{
    snprintf(buf, len, "/tmp/shiftc_test_emit_XXXXXX");
    assert_non_null(mkdtemp(buf));
}

/* SHIFTC_TEST_KEEP=1 keeps the emitted directories for inspection. */
static void rm_rf(const char *dir)
{
    char cmd[512];
    if (getenv("SHIFTC_TEST_KEEP")) {
        fprintf(stderr, "kept %s\n", dir);
        return;
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void emit_to(const Graph *g, const char *dir, int float_mode, EmitStats *st)
{
    EmitOptions o = {0};
    char err[1024];
    o.dir = dir;
    o.float_mode = float_mode;
    o.max_fn_terms = 64; /* small, so blocks and file parts get exercised */
    o.max_file_terms = 100;
    if (emit_c(g, &o, st, err, sizeof err) != 0) {
        fprintf(stderr, "emit_c: %s\n", err);
        fail();
    }
}

/* ---- tests ---- */

static void test_reg_block_text(void **state)
{
    (void)state;
    EmitBuf b = {0};
    int32_t w0[3] = {7, 0, -3}, w1[3] = {0, 0, 2}, bias[2] = {5, INT32_MIN};
    const int32_t *row[2] = {w0, w1};
    int64_t off[3] = {3, 4, 5};
    int64_t terms = emit_reg_block(&b, "x", row, bias, 2, off, 3, "  ");
    assert_int_equal(terms, 5);
    assert_string_equal(b.s, "  a0 = 5;\n  a1 = (-2147483647 - 1);\n"
                             "  v = x[3]; a0 = a0 + v * 8 - v; SHIFTC_KEEP2(a0, a1);\n"
                             "  v = x[5]; a0 = a0 - v * 4 + v; a1 = a1 + v * 2; SHIFTC_KEEP2(a0, a1);\n");
    eb_free(&b);
    terms = emit_reg_block(&b, "p", row + 1, NULL, 1, off, 2, "");
    assert_int_equal(terms, 0);
    assert_string_equal(b.s, "a0 = 0;\n");
    eb_free(&b);
    emit_acc_decl(&b, 2, "    ");
    assert_string_equal(b.s, "    int32_t a0, a1, v = 0;\n");
    eb_free(&b);
}

static const char *const files_to_compare[] = {
    "tiny.h", "tiny.c", "tiny_layers.h", "tiny.meta", "runner.c", "Makefile", "shiftc_rt.h",
    "tiny_l0.c", "tiny_l0_1.c", "tiny_l1.c", "tiny_l12.c", NULL,
};

static void test_deterministic_and_csd_text(void **state)
{
    (void)state;
    Graph *g1 = quantized_graph("tiny"), *g2 = quantized_graph("tiny");
    char d1[64], d2[64];
    make_tmpdir(d1, sizeof d1);
    make_tmpdir(d2, sizeof d2);
    EmitStats st;
    emit_to(g1, d1, 0, &st);
    emit_to(g2, d2, 0, NULL);
    emit_to(g1, d2, 0, NULL); /* overwriting gives the same bytes too */
    assert_true(st.terms > 0);
    assert_true(st.arena_bytes > 0);
    for (int i = 0; files_to_compare[i]; i++) {
        char p1[256], p2[256];
        size_t n1, n2;
        snprintf(p1, sizeof p1, "%s/%s", d1, files_to_compare[i]);
        snprintf(p2, sizeof p2, "%s/%s", d2, files_to_compare[i]);
        char *a = read_all(p1, &n1), *b = read_all(p2, &n2);
        if (!a || !b)
            fprintf(stderr, "missing %s\n", files_to_compare[i]);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(n1, n2);
        assert_memory_equal(a, b, n1);
        free(a);
        free(b);
    }
    /* Dense node 12, output 0 (accumulator a0 of the first register
     * block): codes 127 = 128 - 1 and 7 = 8 - 1, each input loaded once */
    char p[256];
    size_t n;
    snprintf(p, sizeof p, "%s/tiny_l12.c", d1);
    char *text = read_all(p, &n);
    assert_non_null(text);
    assert_non_null(strstr(text, "v = x[0]; a0 = a0 + v * 128 - v;"));
    assert_non_null(strstr(text, "v = x[1]; a0 = a0 + v * 8 - v;"));
    free(text);
    /* the evil tensor name cannot end a comment early */
    snprintf(p, sizeof p, "%s/tiny.h", d1);
    text = read_all(p, &n);
    assert_null(strstr(text, "*/ /* evil"));
    free(text);
    rm_rf(d1);
    rm_rf(d2);
    ir_graph_free(g1);
    ir_graph_free(g2);
}

static void test_meta_roundtrip(void **state)
{
    (void)state;
    Graph *g = quantized_graph("tiny");
    char d[64], err[256];
    make_tmpdir(d, sizeof d);
    emit_to(g, d, 0, NULL);
    EmitMeta m;
    assert_int_equal(emit_read_meta(d, &m, err, sizeof err), 0);
    assert_string_equal(m.name, "tiny");
    assert_int_equal(m.float_mode, 0);
    assert_int_equal(m.ninputs, 1);
    assert_int_equal(m.noutputs, 2);
    const Tensor *x = &g->tensors[g->inputs[0]];
    assert_string_equal(m.inputs[0].dtype, x->q.type == QT_U8 ? "u8" : "i8");
    assert_true(m.inputs[0].scale == x->q.scale);
    assert_int_equal(m.inputs[0].rank, 4);
    assert_int_equal(m.inputs[0].numel, 50);
    assert_null(strchr(m.inputs[0].name, ' '));
    assert_string_equal(m.outputs[0].dtype, "u8"); /* softmax */
    assert_int_equal(m.outputs[1].numel, 3);
    emit_free_meta(&m);
    /* a second model in the same directory replaces the first's meta */
    free(g->name);
    g->name = strdup("other");
    emit_to(g, d, 0, NULL);
    assert_int_equal(emit_read_meta(d, &m, err, sizeof err), 0);
    assert_string_equal(m.name, "other");
    emit_free_meta(&m);
    rm_rf(d);
    assert_int_not_equal(emit_read_meta(d, &m, err, sizeof err), 0);
    ir_graph_free(g);
}

static void test_unknown_op_fails(void **state)
{
    (void)state;
    Graph *g = quantized_graph("tiny");
    g->nodes[4].op = OP_BATCHNORM; /* never reaches the integer backend */
    char d[64], err[512];
    make_tmpdir(d, sizeof d);
    EmitOptions o = {0};
    o.dir = d;
    assert_int_not_equal(emit_c(g, &o, NULL, err, sizeof err), 0);
    assert_non_null(strstr(err, "\"sig\""));
    assert_non_null(strstr(err, "BatchNormalization"));
    free(g->name);
    g->name = strdup("not an identifier");
    g->nodes[4].op = OP_SIGMOID;
    assert_int_not_equal(emit_c(g, &o, NULL, err, sizeof err), 0);
    rm_rf(d);
    ir_graph_free(g);
}

/* Build DIR with make and run its runner on the samples; returns the
 * output file's bytes. */
static char *build_and_run(const char *dir, const float *samples, int64_t in_count, size_t *len)
{
    char cmd[1024], path[256];
    snprintf(cmd, sizeof cmd, "make -s -C '%s' runner >/dev/null", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/in.bin", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(samples, sizeof(float), (size_t)(NSAMPLES * in_count), f),
                     (size_t)(NSAMPLES * in_count));
    fclose(f);
    snprintf(cmd, sizeof cmd, "cd '%s' && ./runner in.bin out.bin %d", dir, NSAMPLES);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/out.bin", dir);
    return read_all(path, len);
}

/* The program emitted for quantized graph g, run on the samples, writes
 * the integer simulator's codes, byte for byte. */
static void expect_runner_matches_qsim(const Graph *g)
{
    char d[64];
    make_tmpdir(d, sizeof d);
    emit_to(g, d, 0, NULL);
    const Tensor *x = &g->tensors[g->inputs[0]];
    int64_t in_count = ir_numel(x);
    float *s = make_samples(in_count);
    size_t len;
    char *out = build_and_run(d, s, in_count, &len);
    assert_non_null(out);
    expect_codes_match_qsim(g, s, NSAMPLES, out, len);
    free(out);
    free(s);
    rm_rf(d);
}

static void test_runner_matches_qsim(void **state)
{
    (void)state;
    Graph *g = quantized_graph("tiny");
    expect_runner_matches_qsim(g);
    ir_graph_free(g);
}

/* The float program emitted for g (shapes inferred), run on the samples,
 * writes the float interpreter's values, bit for bit. */
static void expect_float_runner_matches_interp(Graph *g)
{
    char d[64];
    make_tmpdir(d, sizeof d);
    emit_to(g, d, 1, NULL);
    int xi = g->inputs[0];
    int64_t in_count = ir_numel(&g->tensors[xi]);
    float *s = make_samples(in_count);
    size_t len;
    char *out = build_and_run(d, s, in_count, &len);
    assert_non_null(out);
    int64_t per = 0;
    for (int i = 0; i < g->noutputs; i++)
        per += ir_numel(&g->tensors[g->outputs[i]]);
    assert_int_equal(len, (size_t)(per * NSAMPLES) * sizeof(float));
    float **vals = ir_interp_alloc(g);
    for (int k = 0; k < NSAMPLES; k++) {
        memcpy(vals[xi], s + k * in_count, (size_t)in_count * sizeof(float));
        assert_int_equal(ir_interp_run(g, vals), 0);
        const float *o = (const float *)out + k * per;
        for (int i = 0; i < g->noutputs; i++) {
            int64_t n = ir_numel(&g->tensors[g->outputs[i]]);
            assert_memory_equal(o, vals[g->outputs[i]], (size_t)n * sizeof(float));
            o += n;
        }
    }
    ir_interp_free(g, vals);
    free(out);
    free(s);
    rm_rf(d);
}

static void test_float_runner_matches_interp(void **state)
{
    (void)state;
    Graph *g = build_graph("tinyf");
    assert_int_equal(ir_infer_shapes(g), 0);
    expect_float_runner_matches_interp(g);
    ir_graph_free(g);
}

/* Slice in both programs: 8- and 16-bit codes as the simulator, floats as
 * the interpreter. */
static void test_slice_runners(void **state)
{
    (void)state;
    for (int bits = 8; bits <= 16; bits += 8) {
        Graph *g = quantize(slice_graph("sl", bits));
        assert_int_equal(g->tensors[g->outputs[1]].q.type, bits == 8 ? QT_U8 : QT_U16);
        assert_int_equal(g->tensors[g->outputs[0]].q.type, bits == 8 ? QT_I8 : QT_I16);
        expect_runner_matches_qsim(g);
        ir_graph_free(g);
    }
    Graph *g = slice_graph("slf", 8);
    assert_int_equal(ir_infer_shapes(g), 0);
    expect_float_runner_matches_interp(g);
    ir_graph_free(g);
}

/* Float-only and elementwise paths: BatchNormalization (normally folded
 * away), and Clip, Tanh, Relu as separate ops. */
static void test_float_batchnorm_and_unary(void **state)
{
    (void)state;
    uint32_t seed = 3;
    Graph *g = ir_graph_new("bn");
    int x = ir_add_tensor(g, "x", TK_INPUT);
    g->tensors[x].rank = 4;
    int64_t xd[4] = {2, 3, 2, 2}, cd[1] = {3};
    memcpy(g->tensors[x].dims, xd, sizeof xd);
    g->inputs[g->ninputs++] = x;
    float var[3] = {0.5f, 1.5f, 0.25f};
    int sc = cst(g, "scale", 1, cd, NULL, &seed), bb = cst(g, "B", 1, cd, NULL, &seed);
    int mean = cst(g, "mean", 1, cd, NULL, &seed), vr = cst(g, "var", 1, cd, var, &seed);
    int y1 = act(g, "bn"), y2 = act(g, "clip"), y3 = act(g, "tanh"), y4 = act(g, "relu");
    int k = ir_add_node(g, OP_BATCHNORM, "bn", 0);
    Node *n = &g->nodes[k];
    n->nin = 5;
    n->in[0] = x, n->in[1] = sc, n->in[2] = bb, n->in[3] = mean, n->in[4] = vr;
    n->nout = 1, n->out[0] = y1;
    k = node(g, OP_CLIP, "clip", y1, -1, -1, y2);
    g->nodes[k].a.clip_min = -0.5f;
    g->nodes[k].a.clip_max = 0.75f;
    node(g, OP_TANH, "tanh", y2, -1, -1, y3);
    node(g, OP_RELU, "relu", y3, -1, -1, y4);
    g->outputs[g->noutputs++] = y4;
    g->outputs[g->noutputs++] = y1;
    assert_int_equal(ir_infer_shapes(g), 0);
    char d[64];
    make_tmpdir(d, sizeof d);
    emit_to(g, d, 1, NULL);
    int64_t in_count = ir_numel(&g->tensors[x]);
    float *s = make_samples(in_count);
    size_t len;
    char *out = build_and_run(d, s, in_count, &len);
    assert_non_null(out);
    float **vals = ir_interp_alloc(g);
    int64_t per = 2 * in_count;
    assert_int_equal(len, (size_t)(per * NSAMPLES) * sizeof(float));
    for (int j = 0; j < NSAMPLES; j++) {
        memcpy(vals[x], s + j * in_count, (size_t)in_count * sizeof(float));
        assert_int_equal(ir_interp_run(g, vals), 0);
        const float *o = (const float *)out + j * per;
        assert_memory_equal(o, vals[y4], (size_t)in_count * sizeof(float));
        assert_memory_equal(o + in_count, vals[y1], (size_t)in_count * sizeof(float));
    }
    ir_interp_free(g, vals);
    free(out);
    free(s);
    rm_rf(d);
    ir_graph_free(g);
}

/* Byte-identical output on a real model: the CNN fixture (skipped when the
 * fixtures are not there, e.g. run from another directory). */
static void test_cnn_fixture_deterministic(void **state)
{
    (void)state;
    const char *model = "tests/fixtures/cnn.onnx", *calib = "tests/fixtures/calib.npy";
    FILE *f = fopen(model, "rb");
    if (!f) {
        skip();
        return;
    }
    fclose(f);
    char d[2][64];
    for (int run = 0; run < 2; run++) {
        LoadOptions lo = {0};
        Graph *g = pipeline_load(model, &lo);
        assert_non_null(g);
        float *samples = NULL;
        int n = pipeline_read_samples(calib, g, &samples);
        assert_true(n > 0);
        assert_int_equal(pipeline_quantize(g, model, samples, n > 32 ? 32 : n), 0);
        make_tmpdir(d[run], sizeof d[run]);
        emit_to(g, d[run], 0, NULL);
        free(samples);
        ir_graph_free(g);
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "diff -r '%s' '%s' >/dev/null", d[0], d[1]);
    assert_int_equal(system(cmd), 0);
    rm_rf(d[0]);
    rm_rf(d[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reg_block_text),
        cmocka_unit_test(test_deterministic_and_csd_text),
        cmocka_unit_test(test_meta_roundtrip),
        cmocka_unit_test(test_unknown_op_fails),
        cmocka_unit_test(test_runner_matches_qsim),
        cmocka_unit_test(test_float_runner_matches_interp),
        cmocka_unit_test(test_slice_runners),
        cmocka_unit_test(test_float_batchnorm_and_unary),
        cmocka_unit_test(test_cnn_fixture_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
