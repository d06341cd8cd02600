/*
 * The MAC kernel style (--kernel mac, KS_TABLE): the runtime's
 * shiftc_dense_mac_q / shiftc_dense_mac4_q / shiftc_conv_mac_q against the reference kernels the
 * simulator runs (every storage type, both weight layouts, grouped,
 * depthwise, strided, dilated and padded geometries, no-mul requantization),
 * and the emitted C of a graph whose Conv and Dense layers take the MAC
 * kernel, built with the host's cc, equal to the integer simulator bit for
 * bit at 8- and 16-bit activations and in no-mul mode.  (The ARMv7E-M SMLAD
 * path is checked under QEMU by tests/mac.sh.)
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
#include "emit_mac.h"
#include "ir.h"
#include "kernel_args.h"
#include "qsim_check.h"
#include "shiftc_rt.h"

static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* a code of storage type t, within a range that keeps sums in int32 */
static int32_t code(uint32_t *s, int t)
{
    switch (t) {
    case SHIFTC_U8: return (int32_t)(rnd(s) % 256);
    case SHIFTC_I16: return (int32_t)(rnd(s) % 4001) - 2000;
    case SHIFTC_U16: return (int32_t)(rnd(s) % 4001);
    default: return (int32_t)(rnd(s) % 256) - 128;
    }
}

typedef struct Rq {
    int32_t *bias, *mult, *shift, *nm;
} Rq;

/* fast: every channel as shiftc_rq_fast_ok wants it (no left shift) */
static void make_rq(Rq *r, int32_t n, uint32_t *s, int fast)
{
    r->bias = malloc((size_t)n * sizeof(int32_t));
    r->mult = malloc((size_t)n * sizeof(int32_t));
    r->shift = malloc((size_t)n * sizeof(int32_t));
    r->nm = malloc((size_t)n * 3 * sizeof(int32_t));
    for (int32_t o = 0; o < n; o++) {
        r->bias[o] = (int32_t)(rnd(s) % 20001) - 10000;
        r->mult[o] = (int32_t)(1073741824u + rnd(s) % 1073741823u);
        /* mostly right shifts, one channel with a left shift */
        r->shift[o] = o == 1 && !fast ? 2 : -(int32_t)(rnd(s) % 12) - 4;
        if (fast && r->mult[o] == 0x40000000)
            r->mult[o]++;
        r->nm[3 * o] = 8 + (int32_t)(rnd(s) % 8);
        r->nm[3 * o + 1] = (int32_t)(rnd(s) % 3) - 1;
        r->nm[3 * o + 2] = r->nm[3 * o] + 2;
    }
    if (fast)
        assert_true(shiftc_rq_fast_ok(r->mult, r->shift, n));
}

/* shiftc_rq_fast (through shiftc_rq_value, as the kernels call it) and
 * shiftc_requant_fast (the unrolled kernels') equal shiftc_requant for every accumulator: edge values (powers of two and
 * their neighbours, the int32 limits), a dense range around 0, random
 * words, and multipliers whose low zero bits make rounding ties frequent,
 * at every exponent the fast path takes; unclamped (lo, hi = the int32
 * limits, so the raw products are compared) and clamped to 8 and 16 bits
 * with zero points. */
static void test_rq_fast(void **state)
{
    (void)state;
    uint32_t s = 17;
    int32_t mults[24] = {0x40000001, 0x40000002, 0x40000003, 0x60000000, 0x50000000, 0x48000000, 0x40008000,
                         0x7fffffff, 0x7ffffffe, 0x7fff0000, 0x55555555, 0x5a827999};
    for (int i = 12; i < 24; i++)
        mults[i] = (int32_t)(0x40000001u + rnd(&s) % 0x3fffffffu);
    int32_t edges[200], ne = 0;
    edges[ne++] = INT32_MIN, edges[ne++] = INT32_MIN + 1, edges[ne++] = INT32_MAX, edges[ne++] = INT32_MAX - 1;
    for (int k = 0; k < 31; k++) {
        int32_t p = (int32_t)1 << k;
        edges[ne++] = p, edges[ne++] = p - 1, edges[ne++] = p + 1;
        edges[ne++] = -p, edges[ne++] = -p - 1, edges[ne++] = -p + 1;
    }
    const int32_t clamps[][3] = {{INT32_MIN, INT32_MAX, 0}, {-128, 127, 0}, {0, 255, 0},
                                 {-32768, 32767, 0},        {-8, 7, 0},     {-128, 127, 3}};
    for (int mi = 0; mi < 24; mi++)
        for (int32_t shift = -31; shift <= -1; shift++) {
            int32_t mult = mults[mi];
            int rq_ok = shift <= -2; /* shiftc_requant_fast also takes shift -1 */
            assert_int_equal(shiftc_rq_fast_ok(&mult, &shift, 1), rq_ok);
            for (size_t ci = 0; ci < sizeof clamps / sizeof *clamps; ci++) {
                shiftc_rq rq = {&mult, &shift, NULL, clamps[ci][2], clamps[ci][0], clamps[ci][1], rq_ok};
                int32_t m[3];
                shiftc_rq_load(&rq, 0, m);
                for (int32_t i = -3000 - ne; i < 3000 + 2000; i++) {
                    int32_t acc = i < -3000 ? edges[i + 3000 + ne]
                                  : i < 3000 ? i
                                             : (int32_t)(rnd(&s) ^ (rnd(&s) << 24)) >> (rnd(&s) % 31);
                    int32_t want = shiftc_requant(acc, mult, shift, rq.zero, rq.lo, rq.hi);
                    int32_t got = rq_ok ? shiftc_rq_value(&rq, m, acc) : want;
                    int32_t lit = shiftc_requant_fast(acc, mult, -shift, rq.zero, rq.lo, rq.hi);
                    if (got != want || lit != want)
                        fail_msg("rq_fast acc %d mult %d shift %d clamp %zu: %d and %d, shiftc_requant %d", acc,
                                 mult, shift, ci, got, lit, want);
                }
            }
        }
    /* the boundary of the fast path */
    int32_t m2 = 0x40000000, sh = -5, m3 = 0x40000001, sh1 = -1, sh32 = -32;
    assert_false(shiftc_rq_fast_ok(&m2, &sh, 1));
    assert_false(shiftc_rq_fast_ok(&m3, &sh1, 1));
    assert_false(shiftc_rq_fast_ok(&m3, &sh32, 1));
}

static void free_rq(Rq *r)
{
    free(r->bias), free(r->mult), free(r->shift), free(r->nm);
}

static int esize(int t) { return shiftc_is16(t) ? 2 : 1; }

static void test_dense_kernel(void **state)
{
    (void)state;
    uint32_t s = 5;
    const int32_t shapes[][3] = {{1, 784, 10}, {2, 13, 7}, {3, 4, 4}, {1, 1, 1}, {1, 33, 9}};
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++)
        for (int xt = 0; xt < 4; xt++)
            for (int yt = 0; yt < 4; yt += 2)
                for (int mode = 0; mode < 8; mode++) { /* bit 0: blocked; bit 1: no-mul; bit 2: fast */
                    int32_t m = shapes[c][0], k = shapes[c][1], n = shapes[c][2];
                    int blocked = mode & 1, nomul = (mode >> 1) & 1, fast = mode >> 2;
                    if (nomul && fast)
                        continue;
                    int32_t *wq = malloc((size_t)n * k * sizeof *wq);
                    int8_t *w = malloc((size_t)n * k);
                    uint8_t *x = malloc((size_t)m * k * 2);
                    uint8_t *y0 = calloc((size_t)m * n, 2), *y1 = calloc((size_t)m * n, 2);
                    for (int32_t i = 0; i < n * k; i++)
                        wq[i] = (int32_t)(rnd(&s) % 255) - 127;
                    for (int32_t i = 0; i < m * k; i++)
                        shiftc_st(x, i, xt, code(&s, xt));
                    Rq r;
                    make_rq(&r, n, &s, fast);
                    int32_t lo = yt == SHIFTC_I8 ? -128 : -32768, hi = yt == SHIFTC_I8 ? 127 : 32767;
                    emit_mac_pack(wq, 1, n, k, blocked, w);
                    shiftc_rq rq = {r.mult, r.shift, nomul ? r.nm : NULL, 0, lo, hi, fast};
                    if (nomul)
                        shiftc_dense_nomul_q(x, xt, wq, r.bias, r.nm, 0, lo, hi, y0, yt, m, k, n);
                    else
                        shiftc_dense_q(x, xt, wq, r.bias, r.mult, r.shift, 0, lo, hi, y0, yt, m, k, n);
                    shiftc_dense_mac_q(x, xt, w, blocked, r.bias, &rq, y1, yt, m, k, n);
                    if (memcmp(y0, y1, (size_t)m * n * esize(yt)) != 0)
                        fail_msg("dense %dx%dx%d xt %d yt %d blocked %d nomul %d fast %d differs", m, k, n, xt, yt,
                                 blocked, nomul, fast);
                    free_rq(&r);
                    free(wq), free(w), free(x), free(y0), free(y1);
                }
}

/* The nibble-packed Dense table (emit_mac_pack4, shiftc_dense_mac4_q's
 * plain C path) against the reference, codes over all of [-8, 7], with
 * partial groups of 8 and rows outside the blocks of 4. */
static void test_dense4_kernel(void **state)
{
    (void)state;
    uint32_t s = 13;
    const int32_t shapes[][3] = {{1, 784, 10}, {2, 13, 7}, {3, 4, 4}, {1, 1, 1}, {1, 33, 9}, {1, 8, 5}, {2, 16, 3}};
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++)
        for (int xt = 0; xt < 2; xt++) /* SHIFTC_I8, SHIFTC_U8 */
            for (int yt = 0; yt < 4; yt += 2)
                for (int mode = 0; mode < 3; mode++) { /* 0 plain, 1 no-mul, 2 fast */
                    int32_t m = shapes[c][0], k = shapes[c][1], n = shapes[c][2];
                    int nomul = mode == 1, fast = mode == 2;
                    size_t bytes = (size_t)n * 4 * (size_t)((k + 7) / 8);
                    int32_t *wq = malloc((size_t)n * k * sizeof *wq);
                    uint8_t *w = malloc(bytes), *x = malloc((size_t)m * k);
                    uint8_t *y0 = calloc((size_t)m * n, 2), *y1 = calloc((size_t)m * n, 2);
                    for (int32_t i = 0; i < n * k; i++)
                        wq[i] = (int32_t)(rnd(&s) % 16) - 8;
                    for (int32_t i = 0; i < m * k; i++)
                        shiftc_st(x, i, xt, code(&s, xt));
                    Rq r;
                    make_rq(&r, n, &s, fast);
                    int32_t lo = yt == SHIFTC_I8 ? -128 : -32768, hi = yt == SHIFTC_I8 ? 127 : 32767;
                    emit_mac_pack4(wq, n, k, w);
                    shiftc_rq rq = {r.mult, r.shift, nomul ? r.nm : NULL, 0, lo, hi, fast};
                    if (nomul)
                        shiftc_dense_nomul_q(x, xt, wq, r.bias, r.nm, 0, lo, hi, y0, yt, m, k, n);
                    else
                        shiftc_dense_q(x, xt, wq, r.bias, r.mult, r.shift, 0, lo, hi, y0, yt, m, k, n);
                    shiftc_dense_mac4_q(x, xt, w, r.bias, &rq, y1, yt, m, k, n);
                    if (memcmp(y0, y1, (size_t)m * n * esize(yt)) != 0)
                        fail_msg("dense4 %dx%dx%d xt %d yt %d mode %d differs", m, k, n, xt, yt, mode);
                    free_rq(&r);
                    free(wq), free(w), free(x), free(y0), free(y1);
                }
    /* which layers take it */
    assert_true(emit_mac_nibbles(OP_DENSE, 0, 784, 0));
    assert_false(emit_mac_nibbles(OP_DENSE, 0, 784, 1));
    assert_false(emit_mac_nibbles(OP_DENSE, 1, 784, 0));
    assert_false(emit_mac_nibbles(OP_CONV, 0, 784, 0));
    assert_false(emit_mac_nibbles(OP_DENSE, 0, SHIFTC_MAC4_MAX_K + 1, 0));
}

static void test_conv_kernel(void **state)
{
    (void)state;
    uint32_t s = 9;
    /* n c h w oc kh kw sh sw dh dw pt pl pb pr group */
    const int32_t geo[][16] = {
        {1, 3, 7, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    /* plain, padded */
        {1, 16, 14, 14, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1}, /* the bench conv */
        {2, 8, 6, 5, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8},    /* depthwise 3x3, batch 2 */
        {1, 4, 9, 9, 4, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 4},    /* depthwise, stride, no pad */
        {1, 4, 9, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4},    /* channel multiplier 2 */
        {1, 6, 8, 8, 9, 2, 3, 1, 2, 2, 1, 1, 0, 2, 1, 3},    /* grouped, dilated, odd pads */
        {1, 8, 5, 5, 6, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2},    /* 1x1 grouped */
        {1, 2, 1, 12, 5, 1, 5, 1, 3, 1, 2, 0, 2, 0, 2, 1},   /* 1-D, dilation 2 */
        {1, 4, 6, 6, 4, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 4},    /* depthwise dilated */
        {1, 3, 9, 10, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},   /* column-vectorised: odd rows, 6 channels */
        {1, 5, 6, 12, 8, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1},   /* column-vectorised: 45 taps, no pad */
    };
    for (size_t c = 0; c < sizeof geo / sizeof *geo; c++)
        for (int xt = 0; xt < 4; xt++)
            for (int mode = 0; mode < 8; mode++) { /* bit 0: blocked; bit 1: no-mul; bit 2: fast */
                if ((mode & 2) && (mode & 4))
                    continue;
                const int32_t *v = geo[c];
                shiftc_geom g = {v[0], v[1], v[2], v[3], v[4], 0, 0, v[5], v[6], v[7], v[8], v[9], v[10],
                                 v[11], v[12], v[13], v[14], v[15], 0};
                g.oh = (g.h + g.pt + g.pb - (g.kh - 1) * g.dh - 1) / g.sh + 1;
                g.ow = (g.w + g.pl + g.pr - (g.kw - 1) * g.dw - 1) / g.sw + 1;
                int blocked = mode & 1, nomul = (mode >> 1) & 1, fast = mode >> 2, yt = xt;
                int32_t icg = g.c / g.group, ocg = g.oc / g.group, K = icg * g.kh * g.kw;
                int32_t nw = g.oc * K, nx = g.n * g.c * g.h * g.w, ny = g.n * g.oc * g.oh * g.ow;
                int32_t np = g.n * g.c * (g.h + g.pt + g.pb) * (g.w + g.pl + g.pr);
                int32_t *wq = malloc((size_t)nw * sizeof *wq);
                int8_t *w = malloc((size_t)nw);
                uint8_t *x = malloc((size_t)nx * 2), *xp = calloc((size_t)np * 2 + 4, 1);
                uint8_t *col = malloc((size_t)K * 2);
                uint8_t *y0 = calloc((size_t)ny, 2), *y1 = calloc((size_t)ny, 2);
                for (int32_t i = 0; i < nw; i++)
                    wq[i] = (int32_t)(rnd(&s) % 255) - 127;
                for (int32_t i = 0; i < nx; i++)
                    shiftc_st(x, i, xt, code(&s, xt));
                Rq r;
                make_rq(&r, g.oc, &s, fast);
                int32_t lo = shiftc_type_min(yt), hi = yt == SHIFTC_I8 ? 127 : yt == SHIFTC_U8 ? 255 : 32767;
                if (yt == SHIFTC_U16)
                    hi = 65535;
                emit_mac_pack(wq, g.group, ocg, K, blocked, w);
                shiftc_rq rq = {r.mult, r.shift, nomul ? r.nm : NULL, 0, lo, hi, fast};
                if (nomul)
                    shiftc_conv_nomul_q(x, xt, wq, r.bias, r.nm, 0, lo, hi, y0, yt, &g);
                else
                    shiftc_conv_q(x, xt, wq, r.bias, r.mult, r.shift, 0, lo, hi, y0, yt, &g);
                int pad = g.pt || g.pl || g.pb || g.pr;
                if (pad && esize(xt) == 2)
                    shiftc_pad16_q(x, xp, g.n * g.c, g.h, g.w, g.pt, g.pl, g.pb, g.pr);
                else if (pad)
                    shiftc_pad_q(x, xp, g.n * g.c, g.h, g.w, g.pt, g.pl, g.pb, g.pr);
                shiftc_conv_mac_q(pad ? xp : x, xt, w, blocked, r.bias, &rq, y1, yt, &g, col, pad);
                if (memcmp(y0, y1, (size_t)ny * esize(yt)) != 0)
                    fail_msg("conv case %zu xt %d blocked %d nomul %d fast %d differs", c, xt, blocked, nomul, fast);
#ifdef SHIFTC_MAC_SIMD
#ifdef __SSE2__
                /* both column-vectorised kernels, whichever the dispatch takes */
                if (shiftc_conv_cols_ok(&g, xt, yt, blocked)) {
                    memset(y1, 0, (size_t)ny * esize(yt));
                    shiftc_conv_cols_q(pad ? xp : x, xt, w, r.bias, &rq, y1, yt, &g, 0);
                    if (memcmp(y0, y1, (size_t)ny * esize(yt)) != 0)
                        fail_msg("conv cols case %zu xt %d nomul %d fast %d differs", c, xt, nomul, fast);
#ifdef SHIFTC_AVX2
                    if (__builtin_cpu_supports("avx2")) {
                        memset(y1, 0, (size_t)ny * esize(yt));
                        shiftc_conv_cols_avx2(pad ? xp : x, xt, w, r.bias, &rq, y1, yt, &g, 0);
                        if (memcmp(y0, y1, (size_t)ny * esize(yt)) != 0)
                            fail_msg("conv cols avx2 case %zu xt %d nomul %d fast %d differs", c, xt, nomul, fast);
                    }
#endif
                }
#endif
#endif
                free_rq(&r);
                free(wq), free(w), free(x), free(xp), free(col), free(y0), free(y1);
            }
}

/* ---- emitted C against the simulator ---- */

static int act(Graph *g, const char *name) { return ir_add_tensor(g, name, TK_ACT); }

static int cst(Graph *g, const char *name, int rank, const int64_t *dims, uint32_t *seed)
{
    int t = ir_add_tensor(g, name, TK_CONST);
    Tensor *tt = &g->tensors[t];
    tt->rank = rank;
    memcpy(tt->dims, dims, (size_t)rank * sizeof *dims);
    int64_t n = ir_numel(tt);
    tt->data = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        tt->data[i] = (float)((int)(rnd(seed) % 2001) - 1000) / 1000.0f;
    return t;
}

static int node(Graph *g, Op op, const char *name, int a, int b, int c, int y)
{
    int k = ir_add_node(g, op, name, g->nnodes);
    Node *n = &g->nodes[k];
    n->in[0] = a, n->in[1] = b, n->in[2] = c;
    n->nin = c >= 0 ? 3 : b >= 0 ? 2 : 1;
    n->out[0] = y;
    n->nout = 1;
    return k;
}

/* x [1,3,9,9] -> conv 3->8 3x3 pad 1 (ReLU: uint8) -> depthwise 3x3
 * stride 2 pad 1 -> grouped 1x1 conv 8->6 (2 groups, int8 input) ->
 * flatten -> dense 150->10; every Conv/Dense with the MAC kernel */
static Graph *mac_graph(int act_bits, int no_mul)
{
    uint32_t seed = 3;
    Graph *g = ir_graph_new("macnet");
    int x = ir_add_tensor(g, "x", TK_INPUT);
    int64_t xd[4] = {1, 3, 9, 9};
    g->tensors[x].rank = 4;
    memcpy(g->tensors[x].dims, xd, sizeof xd);
    g->inputs[g->ninputs++] = x;
    int64_t w1d[4] = {8, 3, 3, 3}, b1d[1] = {8}, w2d[4] = {8, 1, 3, 3}, w3d[4] = {6, 4, 1, 1}, wdd[2] = {10, 150};
    int64_t bdd[1] = {10};
    int w1 = cst(g, "w1", 4, w1d, &seed), b1 = cst(g, "b1", 1, b1d, &seed);
    int w2 = cst(g, "w2", 4, w2d, &seed), w3 = cst(g, "w3", 4, w3d, &seed);
    int wd = cst(g, "wd", 2, wdd, &seed), bd = cst(g, "bd", 1, bdd, &seed);
    int c1 = act(g, "c1"), c2 = act(g, "c2"), c3 = act(g, "c3"), fl = act(g, "flat"), de = act(g, "dense");
    int k = node(g, OP_CONV, "conv", x, w1, b1, c1);
    for (int i = 0; i < 4; i++)
        g->nodes[k].a.pads[i] = 1;
    g->nodes[k].a.fused_act = ACT_RELU;
    k = node(g, OP_CONV, "dw", c1, w2, -1, c2);
    g->nodes[k].a.group = 8;
    g->nodes[k].a.strides[0] = g->nodes[k].a.strides[1] = 2;
    for (int i = 0; i < 4; i++)
        g->nodes[k].a.pads[i] = 1;
    k = node(g, OP_CONV, "pw", c2, w3, -1, c3);
    g->nodes[k].a.group = 2;
    k = node(g, OP_RESHAPE, "flat", c3, -1, -1, fl);
    g->nodes[k].a.flatten_axis = 1;
    node(g, OP_DENSE, "fc", fl, wd, bd, de);
    g->outputs[g->noutputs++] = de;
    g->outputs[g->noutputs++] = c2;
    g->no_mul = no_mul;
    for (int i = 0; i < g->nnodes; i++) {
        g->nodes[i].prec.act_bits = act_bits;
        g->nodes[i].prec.kernel = KS_TABLE;
    }
    return g;
}

#define NSAMPLES 8

static float *samples(int64_t count)
{
    float *s = malloc((size_t)(NSAMPLES * count) * sizeof *s);
    uint32_t seed = 99;
    for (int64_t i = 0; i < NSAMPLES * count; i++)
        s[i] = (float)((int)(rnd(&seed) % 4001) - 2000) / 1000.0f;
    return s;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static void expect_runner_matches_qsim(int act_bits, int no_mul)
{
    Graph *g = mac_graph(act_bits, no_mul);
    const Tensor *x = &g->tensors[g->inputs[0]];
    int64_t in_count = ir_numel(x);
    float *s = samples(in_count);
    if (ir_infer_shapes(g) != 0 || ir_calibrate(g, s, NSAMPLES) != 0 || ir_quantize(g) != 0)
        fail_msg("%s", g->err);
    char d[64], cmd[512], path[128];
    snprintf(d, sizeof d, "/tmp/shiftc_test_mac_XXXXXX");
    assert_non_null(mkdtemp(d));
    EmitOptions o = {0};
    char err[1024];
    o.dir = d;
    if (emit_c(g, &o, NULL, err, sizeof err) != 0)
        fail_msg("emit_c: %s", err);
    /* the layers are MAC kernels, not unrolled code */
    snprintf(path, sizeof path, "%s/macnet_l0.c", d);
    size_t len;
    char *src = read_all(path, &len);
    assert_non_null(src);
    assert_non_null(strstr(src, "shiftc_conv_mac_q("));
    free(src);
    snprintf(cmd, sizeof cmd, "make -s -C '%s' runner >/dev/null", d);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/in.bin", d);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(s, sizeof(float), (size_t)(NSAMPLES * in_count), f), (size_t)(NSAMPLES * in_count));
    fclose(f);
    snprintf(cmd, sizeof cmd, "cd '%s' && ./runner in.bin out.bin %d", d, NSAMPLES);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/out.bin", d);
    char *out = read_all(path, &len);
    assert_non_null(out);
    expect_codes_match_qsim(g, s, NSAMPLES, out, len);
    free(out), free(s);
    if (!getenv("SHIFTC_TEST_KEEP")) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
        assert_int_equal(system(cmd), 0);
    }
    ir_graph_free(g);
}

static void test_runner_8bit(void **state)
{
    (void)state;
    expect_runner_matches_qsim(8, 0);
}

static void test_runner_16bit(void **state)
{
    (void)state;
    expect_runner_matches_qsim(16, 0);
}

static void test_runner_nomul(void **state)
{
    (void)state;
    expect_runner_matches_qsim(8, 1);
}

static void test_kernel_names(void **state)
{
    (void)state;
    KernelStyle k = KS_UNROLLED;
    assert_int_equal(ir_kernel_parse("mac", &k), 0);
    assert_int_equal(k, KS_TABLE);
    assert_int_equal(ir_kernel_parse("unrolled", &k), 0);
    assert_int_equal(k, KS_UNROLLED);
    assert_int_equal(ir_kernel_parse("table", &k), 0); /* the old name */
    assert_int_equal(k, KS_TABLE);
    assert_int_equal(ir_kernel_parse("simd", &k), -1);
    assert_string_equal(ir_kernel_name(KS_TABLE), "mac");
    assert_string_equal(ir_kernel_name(KS_UNROLLED), "unrolled");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_names), cmocka_unit_test(test_rq_fast), cmocka_unit_test(test_dense_kernel),
        cmocka_unit_test(test_dense4_kernel),
        cmocka_unit_test(test_conv_kernel),  cmocka_unit_test(test_runner_8bit),
        cmocka_unit_test(test_runner_16bit), cmocka_unit_test(test_runner_nomul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
