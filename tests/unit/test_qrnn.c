/* Unit tests of quantized LSTM and GRU nodes (ir/quant_rnn.c, the runtime's
 * shiftc_rnn_q, backends/emit_rnn.c): on small hand-built graphs the
 * integer simulator approximates the float interpreter, every weight format
 * quantizes, emitted C matches the simulator bit for bit on the host, and
 * what is out of scope is refused by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit_c.h"
#include "formats.h"
#include "ir.h"
#include "kernel_args.h"
#include "quant.h"
#include "quant_rnn.h"
#include "util.h"

static uint32_t rng = 7u;
static float frand(void) /* uniform in [-1, 1), deterministic */
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 8388608.0f - 1.0f;
}

static int add_tensor(Graph *g, const char *name, TensorKind kind, int rank, const int64_t *dims)
{
    int t = ir_add_tensor(g, name, kind);
    g->tensors[t].rank = rank;
    for (int i = 0; i < rank; i++)
        g->tensors[t].dims[i] = dims[i];
    return t;
}

static int rand_const(Graph *g, const char *name, int rank, const int64_t *dims, float mul)
{
    int t = add_tensor(g, name, TK_CONST, rank, dims);
    int64_t n = ir_numel(&g->tensors[t]);
    g->tensors[t].data = xmalloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        g->tensors[t].data[i] = mul * frand();
    return t;
}

typedef struct Spec {
    Op op;
    int T, I, H, batch;
    int lbr, reverse, bidir, seq_lens, peep, input_forget;
    float clip;
    int h0;        /* constant nonzero initial_h (and initial_c) */
    int act_bits;
    WeightFormat wf;
} Spec;

/* X [T, batch, I] -> LSTM/GRU; graph outputs Y and Y_h (and Y_c). */
static Graph *build(const Spec *s)
{
    Graph *g = ir_graph_new("rnn");
    int G = s->op == OP_LSTM ? 4 : 3, D = s->bidir ? 2 : 1;
    int64_t xd[3] = {s->T, s->batch, s->I};
    int x = add_tensor(g, "x", TK_INPUT, 3, xd);
    g->inputs[g->ninputs++] = x;
    int64_t wd[3] = {D, G * s->H, s->I}, rd[3] = {D, G * s->H, s->H}, bd[2] = {D, 2 * G * s->H};
    int w = rand_const(g, "W", 3, wd, 0.5f), r = rand_const(g, "R", 3, rd, 0.4f);
    int b = rand_const(g, "B", 2, bd, 0.3f);
    int k = ir_add_node(g, s->op, "rnn0", 0);
    Node *n = &g->nodes[k];
    n->in[0] = x, n->in[1] = w, n->in[2] = r, n->in[3] = b;
    n->nin = s->op == OP_LSTM ? 8 : 6;
    if (s->seq_lens) {
        int64_t d[1] = {s->batch};
        int t = add_tensor(g, "seq", TK_CONST, 1, d);
        g->tensors[t].data = xmalloc(sizeof(float) * (size_t)s->batch);
        for (int i = 0; i < s->batch; i++)
            g->tensors[t].data[i] = (float)s->T;
        g->nodes[k].in[4] = t;
    }
    if (s->h0) {
        int64_t d[3] = {D, s->batch, s->H};
        g->nodes[k].in[5] = rand_const(g, "h0", 3, d, 0.5f);
        if (s->op == OP_LSTM)
            g->nodes[k].in[6] = rand_const(g, "c0", 3, d, 1.0f);
    }
    if (s->peep) {
        int64_t d[2] = {D, 3 * s->H};
        g->nodes[k].in[7] = rand_const(g, "P", 2, d, 0.3f);
    }
    n = &g->nodes[k];
    n->a.hidden_size = s->H;
    n->a.direction = s->bidir ? RNN_BIDIRECTIONAL : s->reverse ? RNN_REVERSE : RNN_FORWARD;
    n->a.linear_before_reset = s->lbr;
    n->a.input_forget = s->input_forget;
    n->a.rnn_clip = s->clip;
    n->prec.act_bits = s->act_bits ? s->act_bits : 8;
    n->prec.weights = s->wf ? s->wf : WF_INT8;
    const char *names[3] = {"Y", "Y_h", "Y_c"};
    n->nout = s->op == OP_LSTM ? 3 : 2;
    for (int o = 0; o < n->nout; o++) {
        int t = ir_add_tensor(g, names[o], TK_ACT);
        g->tensors[t].producer = k;
        g->nodes[k].out[o] = t;
        g->outputs[g->noutputs++] = t;
    }
    return g;
}

#define NS 12

static float *samples(const Graph *g)
{
    int64_t cnt = ir_numel(&g->tensors[g->inputs[0]]);
    float *v = xmalloc((size_t)(NS * cnt) * sizeof *v);
    for (int64_t i = 0; i < NS * cnt; i++)
        v[i] = 1.5f * frand();
    return v;
}

/* Shapes, calibration, quantization; returns the ir_quantize result. */
static int prepare(Graph *g, const float *s)
{
    if (ir_infer_shapes(g) != 0 || ir_calibrate(g, s, NS) != 0) {
        fprintf(stderr, "%s\n", g->err);
        fail();
    }
    return ir_quantize(g);
}

/* Largest |dequantized simulator output of g - float output of ref| over
 * the samples and every graph output (ref: g itself, or a graph of the
 * same shape). */
static double max_error2(Graph *g, Graph *ref, const float *s)
{
    const Tensor *x = &g->tensors[g->inputs[0]];
    int64_t cnt = ir_numel(x);
    QSim *q = ir_qsim_new(g);
    if (!q) {
        fprintf(stderr, "%s\n", g->err);
        fail();
    }
    float **vals = ir_interp_alloc(ref);
    void *codes = xmalloc((size_t)ka_bytes(x));
    void *outs[3];
    float *deq[3];
    for (int o = 0; o < g->noutputs; o++) {
        outs[o] = xmalloc((size_t)ka_bytes(&g->tensors[g->outputs[o]]));
        deq[o] = xmalloc((size_t)ir_numel(&g->tensors[g->outputs[o]]) * sizeof(float));
    }
    double worst = 0;
    for (int i = 0; i < NS; i++) {
        memcpy(vals[g->inputs[0]], s + i * cnt, (size_t)cnt * sizeof(float));
        assert_int_equal(ir_interp_run(ref, vals), 0);
        ir_quantize_input(x, s + i * cnt, codes);
        const void *in[1] = {codes};
        assert_int_equal(ir_qsim_run(q, in, outs), 0);
        for (int o = 0; o < g->noutputs; o++) {
            const Tensor *y = &g->tensors[g->outputs[o]];
            ir_dequantize_output(y, outs[o], deq[o]);
            for (int64_t j = 0; j < ir_numel(y); j++)
                worst = fmax(worst, fabs((double)deq[o][j] - vals[g->outputs[o]][j]));
        }
    }
    for (int o = 0; o < g->noutputs; o++) {
        free(outs[o]);
        free(deq[o]);
    }
    free(codes);
    ir_interp_free(ref, vals);
    ir_qsim_free(q);
    return worst;
}

static double max_error(Graph *g, const float *s) { return max_error2(g, g, s); }

static double run_spec(const Spec *sp, int no_mul)
{
    Graph *g = build(sp);
    g->no_mul = no_mul;
    float *s = samples(g);
    if (prepare(g, s) != 0) {
        fprintf(stderr, "%s\n", g->err);
        fail();
    }
    double e = max_error(g, s);
    free(s);
    ir_graph_free(g);
    return e;
}

static void test_lstm_vs_float(void **state)
{
    (void)state;
    Spec s = {.op = OP_LSTM, .T = 7, .I = 5, .H = 8, .batch = 1};
    double e8 = run_spec(&s, 0);
    s.act_bits = 16;
    double e16 = run_spec(&s, 0);
    s.h0 = 1, s.reverse = 1, s.clip = 2.0f;
    double er = run_spec(&s, 0);
    s.input_forget = 1;
    double ef = run_spec(&s, 0);
    s.act_bits = 8;
    double enm = run_spec(&s, 1);
    printf("lstm max |error|: 8-bit %.4f, 16-bit %.4f, reverse+h0+clip %.4f, input_forget %.4f, "
           "no-mul %.4f\n", e8, e16, er, ef, enm);
    assert_true(e8 < 0.06);
    assert_true(e16 < 0.03);
    assert_true(er < 0.05);
    assert_true(ef < 0.05);
    assert_true(enm < 0.08);
}

static void test_gru_vs_float(void **state)
{
    (void)state;
    Spec s = {.op = OP_GRU, .T = 7, .I = 5, .H = 8, .batch = 1, .lbr = 1};
    double e1 = run_spec(&s, 0);
    s.lbr = 0;
    double e0 = run_spec(&s, 0);
    s.act_bits = 16, s.reverse = 1, s.h0 = 1;
    double e16 = run_spec(&s, 0);
    s.act_bits = 8;
    double enm = run_spec(&s, 1);
    printf("gru max |error|: lbr=1 %.4f, lbr=0 %.4f, 16-bit reverse h0 %.4f, no-mul %.4f\n", e1, e0,
           e16, enm);
    assert_true(e1 < 0.05);
    assert_true(e0 < 0.05);
    assert_true(e16 < 0.03);
    assert_true(enm < 0.08);
}

/* Bidirectional: each direction its own weights, biases and initial
 * state (direction 1 over the input reversed), one output scale; the same
 * tolerances as one direction. */
static void test_bidir_vs_float(void **state)
{
    (void)state;
    Spec l = {.op = OP_LSTM, .T = 7, .I = 5, .H = 8, .batch = 1, .bidir = 1};
    double l8 = run_spec(&l, 0);
    l.act_bits = 16;
    double l16 = run_spec(&l, 0);
    l.h0 = 1, l.clip = 2.0f;
    double lh = run_spec(&l, 0);
    l.input_forget = 1;
    double lf = run_spec(&l, 0);
    l.act_bits = 8;
    double lnm = run_spec(&l, 1);
    printf("bidirectional lstm max |error|: 8-bit %.4f, 16-bit %.4f, h0+clip %.4f, input_forget "
           "%.4f, no-mul %.4f\n", l8, l16, lh, lf, lnm);
    assert_true(l8 < 0.06);
    assert_true(l16 < 0.03);
    assert_true(lh < 0.05);
    assert_true(lf < 0.05);
    assert_true(lnm < 0.08);

    Spec gr = {.op = OP_GRU, .T = 7, .I = 5, .H = 8, .batch = 1, .lbr = 1, .bidir = 1};
    double g1 = run_spec(&gr, 0);
    gr.lbr = 0;
    double g0 = run_spec(&gr, 0);
    gr.h0 = 1;
    double g0h = run_spec(&gr, 0);
    gr.act_bits = 16, gr.lbr = 1;
    double g16 = run_spec(&gr, 0);
    gr.act_bits = 8;
    double gnm1 = run_spec(&gr, 1);
    gr.lbr = 0, gr.h0 = 0;
    double gnm0 = run_spec(&gr, 1);
    printf("bidirectional gru max |error|: lbr=1 %.4f, lbr=0 %.4f, lbr=0 h0 %.4f, 16-bit lbr=1 "
           "h0 %.4f, no-mul lbr=1 h0 %.4f, no-mul lbr=0 %.4f\n", g1, g0, g0h, g16, gnm1, gnm0);
    assert_true(g1 < 0.05);
    assert_true(g0 < 0.05);
    assert_true(g0h < 0.05);
    assert_true(g16 < 0.03);
    assert_true(gnm1 < 0.08);
    assert_true(gnm0 < 0.08);
}

/* Every weight format quantizes and simulates (ternary and int2 are
 * coarse: only a loose bound). */
static void test_every_format(void **state)
{
    (void)state;
    for (int f = 1; f < WF_COUNT; f++)
        for (int op = 0; op < 2; op++) {
            Spec s = {.op = op ? OP_GRU : OP_LSTM, .T = 4, .I = 6, .H = 5, .batch = 1, .lbr = 1,
                      .wf = (WeightFormat)f};
            double e = run_spec(&s, 0), enm = run_spec(&s, 1);
            assert_true(isfinite(e) && e < 1.0);
            assert_true(isfinite(enm) && enm < 1.0);
            if (f == WF_INT8)
                assert_true(e < 0.05);
        }
}

/* HitNet's sloping factor: a GRU quantized with gates f(x / 2) computes
 * the float GRU whose W, R and B are halved (every GRU nonlinearity takes
 * a linear function of them). */
static void test_slope(void **state)
{
    (void)state;
    Spec s = {.op = OP_GRU, .T = 6, .I = 5, .H = 6, .batch = 1, .lbr = 1};
    for (int lbr = 0; lbr < 2; lbr++) {
        s.lbr = lbr;
        uint32_t seed = rng;
        Graph *g = build(&s);
        rng = seed;
        Graph *ref = build(&s);
        for (int i = 1; i <= 3; i++) { /* W, R, B */
            Tensor *t = &ref->tensors[ref->nodes[0].in[i]];
            for (int64_t j = 0; j < ir_numel(t); j++)
                t->data[j] *= 0.5f;
        }
        float *v = samples(g);
        assert_int_equal(ir_infer_shapes(g), 0);
        assert_int_equal(ir_infer_shapes(ref), 0);
        assert_int_equal(ir_calibrate(g, v, NS), 0);
        assert_int_equal(ir_calibrate(ref, v, NS), 0);
        for (int t = 0; t < g->ntensors; t++) { /* the ranges of the model computed */
            g->tensors[t].cal_min = ref->tensors[t].cal_min;
            g->tensors[t].cal_max = ref->tensors[t].cal_max;
        }
        assert_int_equal(ir_quantize(g), 0);
        assert_int_equal(quant_rnn_node(g, &g->nodes[0], 2.0), 0);
        double e = max_error2(g, ref, v), e1 = max_error(g, v);
        printf("slope 2, lbr %d: |error| vs halved float GRU %.4f (vs the unsloped one %.4f)\n", lbr, e, e1);
        assert_true(e < 0.05);
        assert_true(e1 > e);
        free(v);
        ir_graph_free(g);
        ir_graph_free(ref);
    }
}

/* ---- refusals ---- */

static void expect_refused(const Spec *sp, const char *what)
{
    Graph *g = build(sp);
    float *s = samples(g);
    int rc = ir_infer_shapes(g);
    if (rc == 0)
        rc = ir_calibrate(g, s, NS);
    if (rc == 0)
        rc = ir_quantize(g);
    assert_int_not_equal(rc, 0);
    if (!strstr(g->err, "not supported") || !strstr(g->err, what) || !strstr(g->err, "rnn0")) {
        fprintf(stderr, "unexpected error: %s\n", g->err);
        fail();
    }
    free(s);
    ir_graph_free(g);
}

static void test_refusals(void **state)
{
    (void)state;
    Spec s = {.op = OP_LSTM, .T = 3, .I = 4, .H = 4, .batch = 1};
    s.batch = 2;
    expect_refused(&s, "batch");
    s.bidir = 1; /* in scope, but not with batch 2 or sequence_lens */
    expect_refused(&s, "batch");
    s.batch = 1, s.seq_lens = 1;
    expect_refused(&s, "sequence_lens");
    s.bidir = 0;
    expect_refused(&s, "sequence_lens");
    s.seq_lens = 0, s.peep = 1;
    expect_refused(&s, "peephole");
    s.peep = 0, s.op = OP_GRU, s.batch = 3;
    expect_refused(&s, "batch");
}

/* ---- emitted C against the simulator, bit for bit ---- */

static void sh(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "failed: %s\n", cmd);
        fail();
    }
}

static void emitted_matches_sim(const Spec *sp, int no_mul)
{
    Graph *g = build(sp);
    g->no_mul = no_mul;
    float *s = samples(g);
    if (prepare(g, s) != 0) {
        fprintf(stderr, "%s\n", g->err);
        fail();
    }
    char dir[64] = "/tmp/shiftc_test_qrnn_XXXXXX", err[1024], cmd[512], path[128];
    assert_non_null(mkdtemp(dir));
    EmitOptions o = {0};
    o.dir = dir;
    o.max_fn_terms = 40; /* several functions and files per node */
    o.max_file_terms = 120;
    if (emit_c(g, &o, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "emit_c: %s\n", err);
        fail();
    }
    const Tensor *x = &g->tensors[g->inputs[0]];
    int64_t cnt = ir_numel(x);
    snprintf(path, sizeof path, "%s/in.bin", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(s, sizeof(float), (size_t)(NS * cnt), f), (size_t)(NS * cnt));
    fclose(f);
    snprintf(cmd, sizeof cmd, "make -s -C '%s' runner >/dev/null", dir);
    sh(cmd);
    snprintf(cmd, sizeof cmd, "cd '%s' && ./runner in.bin out.bin %d", dir, NS);
    sh(cmd);
    snprintf(path, sizeof path, "%s/out.bin", dir);
    f = fopen(path, "rb");
    assert_non_null(f);
    int64_t per = 0;
    for (int i = 0; i < g->noutputs; i++)
        per += ka_bytes(&g->tensors[g->outputs[i]]);
    uint8_t *got = xmalloc((size_t)(per * NS) + 1);
    assert_int_equal(fread(got, 1, (size_t)(per * NS) + 1, f), (size_t)(per * NS));
    fclose(f);

    QSim *q = ir_qsim_new(g);
    assert_non_null(q);
    void *codes = xmalloc((size_t)ka_bytes(x));
    uint8_t *want = xmalloc((size_t)per);
    void *outs[3];
    int64_t off = 0;
    for (int i = 0; i < g->noutputs; i++) {
        outs[i] = want + off;
        off += ka_bytes(&g->tensors[g->outputs[i]]);
    }
    for (int i = 0; i < NS; i++) {
        ir_quantize_input(x, s + i * cnt, codes);
        const void *in[1] = {codes};
        assert_int_equal(ir_qsim_run(q, in, outs), 0);
        assert_memory_equal(got + i * per, want, (size_t)per);
    }
    ir_qsim_free(q);
    free(codes);
    free(want);
    free(got);
    free(s);
    if (!getenv("SHIFTC_TEST_KEEP")) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        sh(cmd);
    }
    ir_graph_free(g);
}

static void test_emitted_bit_exact(void **state)
{
    (void)state;
    Spec l = {.op = OP_LSTM, .T = 5, .I = 6, .H = 7, .batch = 1};
    emitted_matches_sim(&l, 0);
    l.act_bits = 16, l.h0 = 1, l.reverse = 1, l.clip = 3.0f;
    emitted_matches_sim(&l, 0);
    l.act_bits = 8, l.wf = WF_TERNARY;
    emitted_matches_sim(&l, 1);
    Spec gr = {.op = OP_GRU, .T = 5, .I = 6, .H = 7, .batch = 1, .lbr = 1};
    emitted_matches_sim(&gr, 0);
    gr.lbr = 0, gr.h0 = 1;
    emitted_matches_sim(&gr, 0);
    gr.act_bits = 16, gr.wf = WF_NHOT2;
    emitted_matches_sim(&gr, 1);
}

/* Bidirectional: two calls of shiftc_rnn_q with their own functions and
 * constants, interleaved into Y, still bit for bit the simulator. */
static void test_emitted_bidir_bit_exact(void **state)
{
    (void)state;
    Spec l = {.op = OP_LSTM, .T = 5, .I = 6, .H = 7, .batch = 1, .bidir = 1};
    emitted_matches_sim(&l, 0);
    l.act_bits = 16, l.h0 = 1, l.clip = 3.0f;
    emitted_matches_sim(&l, 0);
    l.act_bits = 8, l.input_forget = 1;
    emitted_matches_sim(&l, 1);
    Spec gr = {.op = OP_GRU, .T = 5, .I = 6, .H = 7, .batch = 1, .lbr = 1, .bidir = 1};
    emitted_matches_sim(&gr, 0);
    gr.h0 = 1;
    emitted_matches_sim(&gr, 1);
    gr.lbr = 0;
    emitted_matches_sim(&gr, 0);
    gr.act_bits = 16, gr.h0 = 0;
    emitted_matches_sim(&gr, 0);
    gr.act_bits = 8, gr.wf = WF_TERNARY;
    emitted_matches_sim(&gr, 1);
}

/* The shared cell arithmetic: tables are monotone and saturate sensibly. */
static void test_tables(void **state)
{
    (void)state;
    Spec s = {.op = OP_LSTM, .T = 2, .I = 3, .H = 3, .batch = 1};
    Graph *g = build(&s);
    float *v = samples(g);
    assert_int_equal(prepare(g, v), 0);
    const QRnn *r = g->nodes[0].q->rnn;
    for (int i = 1; i < SHIFTC_RNN_TAB_N; i++) {
        assert_true(r->sig[i] >= r->sig[i - 1]);
        assert_true(r->tnh[i] >= r->tnh[i - 1]);
    }
    /* sigmoid(0) = 1/2, tanh(0) = 0 at pre-activation code 0 */
    assert_int_equal(shiftc_rnn_act(r->sig, 0), 16384);
    assert_int_equal(shiftc_rnn_act(r->tnh, 0), 0);
    for (int32_t p = -40000; p <= 40000; p += 97) {
        double xr = ldexp((double)p, -r->pre_frac);
        if (fabs(xr) > 8)
            continue;
        assert_true(fabs(shiftc_rnn_act(r->sig, p) / 32768.0 - 1 / (1 + exp(-xr))) < 3e-4);
        assert_true(fabs(shiftc_rnn_act(r->tnh, p) / 32768.0 - tanh(xr)) < 3e-4);
    }
    free(v);
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_lstm_vs_float),
        cmocka_unit_test(test_gru_vs_float),
        cmocka_unit_test(test_bidir_vs_float),
        cmocka_unit_test(test_every_format),
        cmocka_unit_test(test_slope),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_emitted_bit_exact),
        cmocka_unit_test(test_emitted_bidir_bit_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
