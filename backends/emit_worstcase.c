/*
 * The worst-case harness of an emitted integer project (emit_worstcase.h).
 *
 * Cases of a Conv or Dense layer (either kernel style), with x_lo..x_hi
 * the code range of its input:
 *   - every input code x_hi, every x_lo, and the two alternations;
 *   - per output channel c (all of them, or evenly spaced ones and the one
 *     with the largest bound), "aligned": x_j = x_hi where q_cj >= 0 and
 *     x_lo where q_cj < 0, which gives the largest accumulator the channel
 *     can reach, and "opposite", the smallest.  A Conv gets the pattern in
 *     windows that do not overlap, so a grid of output pixels reaches it.
 * Cases of an LSTM or GRU direction: the same patterns for each part of
 * one time step (W x_t with x_t's codes, R h with h in -32767..32767, the
 * range of the Q15 state), per gate row, through the step function
 * NAME_lK_mv starting from the biases.
 * Cases of the network: every input code x_hi, x_lo, alternating, and
 * pseudo-random codes, through NAME_run.
 *
 * worstcase.bin is a sequence of records in host byte order after the
 * magic "SWC1":
 *   u32 kind (0 layer NAME_lK, 1 step NAME_lK[_dD]_mv, 2 NAME_run),
 *   i32 node, i32 direction, i32 part, u32 scratch bytes,
 *   u32 length + text of the group (the node), the same of the case,
 *   u32 number of inputs, each: u32 bytes, codes,
 *   u32 number of outputs, each: u32 bytes, initial bytes, expected bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit_internal.h"
#include "emit_worstcase.h"
#include "kernel_args.h"
#include "quant.h"
#include "quant_rnn.h"
#include "shiftc_rt.h"
#include "util.h"

enum { CASE_LAYER = 0, CASE_STEP = 1, CASE_RUN = 2 };

/* Output channels (or gate rows) driven one by one in a layer with more:
 * evenly spaced ones and the one with the largest bound. */
#define MAX_DRIVEN 24

typedef enum { FILL_HI, FILL_LO, FILL_ALT, FILL_ALT2, FILL_RANDOM, NFILLS } Fill;
static const char *const fill_names[NFILLS] = {"every code max", "every code min",
                                               "alternating max, min", "alternating min, max",
                                               "pseudo-random codes"};

typedef struct Writer {
    FILE *f;
    char group[128];
    int64_t cases;
} Writer;

static void put_u32(Writer *w, uint32_t v) { fwrite(&v, sizeof v, 1, w->f); }

static void put_text(Writer *w, const char *s)
{
    put_u32(w, (uint32_t)strlen(s));
    fwrite(s, 1, strlen(s), w->f);
}

static void put_head(Writer *w, int kind, int node, int dir, int part, int64_t scratch, const char *label)
{
    put_u32(w, (uint32_t)kind);
    put_u32(w, (uint32_t)node);
    put_u32(w, (uint32_t)dir);
    put_u32(w, (uint32_t)part);
    put_u32(w, (uint32_t)scratch);
    put_text(w, w->group);
    put_text(w, label);
    w->cases++;
}

static void put_block(Writer *w, const void *p, int64_t bytes)
{
    put_u32(w, (uint32_t)bytes);
    fwrite(p, 1, (size_t)bytes, w->f);
}

/* An output: its bytes before the call (init, NULL: zero) and after. */
static void put_output(Writer *w, const void *init, const void *expected, int64_t bytes)
{
    put_u32(w, (uint32_t)bytes);
    if (init) {
        fwrite(init, 1, (size_t)bytes, w->f);
    } else {
        for (int64_t i = 0; i < bytes; i++)
            fputc(0, w->f);
    }
    fwrite(expected, 1, (size_t)bytes, w->f);
}

static void fill(void *p, int t, int32_t n, int32_t lo, int32_t hi, Fill how, uint32_t *seed)
{
    for (int32_t i = 0; i < n; i++) {
        int32_t v = how == FILL_HI ? hi : how == FILL_LO ? lo : how == FILL_ALT ? (i & 1 ? lo : hi)
                                                            : (i & 1 ? hi : lo);
        if (how == FILL_RANDOM) {
            *seed = *seed * 1103515245u + 12345u;
            v = lo + (int32_t)((*seed >> 8) % (uint32_t)(hi - lo + 1));
        }
        shiftc_st(p, i, t, v);
    }
}

/* The code that pushes the term q * x up (sign > 0) or down. */
static int32_t driving_code(int32_t q, int sign, int32_t lo, int32_t hi)
{
    return (q >= 0) == (sign > 0) ? hi : lo;
}

/* The channels (rows) to drive one by one among count rows of len
 * weights: all, or MAX_DRIVEN - 1 evenly spaced and the largest sum of
 * |q|.  Returns how many are in out. */
static int driven_rows(const int32_t *wq, int32_t count, int32_t len, int32_t *out)
{
    if (count <= MAX_DRIVEN) {
        for (int32_t c = 0; c < count; c++)
            out[c] = c;
        return count;
    }
    int64_t best = -1;
    int32_t arg = 0;
    for (int32_t c = 0; c < count; c++) {
        int64_t sum = 0;
        for (int32_t i = 0; i < len; i++)
            sum += wq[(int64_t)c * len + i] < 0 ? -(int64_t)wq[(int64_t)c * len + i] : wq[(int64_t)c * len + i];
        if (sum > best)
            best = sum, arg = c;
    }
    int n = 0;
    for (int j = 0; j < MAX_DRIVEN - 1; j++)
        out[n++] = (int32_t)((int64_t)j * count / (MAX_DRIVEN - 1));
    out[n++] = arg;
    return n;
}

/* Conv input x: channel o's weight signs in windows that do not overlap
 * (output pixels every ty rows and tx columns), the alternation elsewhere. */
static void conv_pattern(void *x, int t, const shiftc_geom *ge, const int32_t *wq, int32_t o, int sign,
                         int32_t lo, int32_t hi)
{
    uint32_t seed = 0;
    fill(x, t, ge->n * ge->c * ge->h * ge->w, lo, hi, FILL_ALT, &seed);
    int32_t icg = ge->c / ge->group, ic0 = (o / (ge->oc / ge->group)) * icg;
    int32_t ty = ((ge->kh - 1) * ge->dh + ge->sh) / ge->sh, tx = ((ge->kw - 1) * ge->dw + ge->sw) / ge->sw;
    for (int32_t b = 0; b < ge->n; b++)
        for (int32_t oy = 0; oy < ge->oh; oy += ty)
            for (int32_t ox = 0; ox < ge->ow; ox += tx)
                for (int32_t i = 0; i < icg; i++)
                    for (int32_t ky = 0; ky < ge->kh; ky++) {
                        int32_t iy = oy * ge->sh - ge->pt + ky * ge->dh;
                        for (int32_t kx = 0; kx < ge->kw && iy >= 0 && iy < ge->h; kx++) {
                            int32_t ix = ox * ge->sw - ge->pl + kx * ge->dw;
                            if (ix < 0 || ix >= ge->w)
                                continue;
                            int32_t q = wq[((o * icg + i) * ge->kh + ky) * ge->kw + kx];
                            shiftc_st(x, ((b * ge->c + ic0 + i) * ge->h + iy) * ge->w + ix, t,
                                      driving_code(q, sign, lo, hi));
                        }
                    }
}

/* Dense input x [m][k]: channel o's weight signs in every row. */
static void dense_pattern(void *x, int t, int32_t m, int32_t k, const int32_t *wq, int32_t o, int sign,
                          int32_t lo, int32_t hi)
{
    for (int32_t r = 0; r < m; r++)
        for (int32_t i = 0; i < k; i++)
            shiftc_st(x, r * k + i, t, driving_code(wq[o * k + i], sign, lo, hi));
}

/* Runs node k of the simulator on the codes now in its input and records
 * the case. */
static void layer_case(Writer *w, QSim *s, const Graph *g, int k, int64_t scratch, const char *label)
{
    const Node *n = &g->nodes[k];
    const Tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    ir_qsim_run_node(s, k);
    put_head(w, CASE_LAYER, k, 0, 0, scratch, label);
    put_u32(w, 1);
    put_block(w, ir_qsim_buffer(s, n->in[0]), ka_bytes(x));
    put_u32(w, 1);
    put_output(w, NULL, ir_qsim_buffer(s, n->out[0]), ka_bytes(y));
}

static void weighted_cases(Writer *w, QSim *s, const Graph *g, int k, int64_t scratch)
{
    const Node *n = &g->nodes[k];
    const Tensor *x = &g->tensors[n->in[0]];
    const QLayer *q = n->q;
    void *xb = ir_qsim_tensor(s, n->in[0]);
    int xt = ka_type(x);
    int32_t lo, hi, nx = ka_numel(x);
    quant_code_range(&x->q, &lo, &hi);
    uint32_t seed = 1;
    for (int f = 0; f < NFILLS; f++) {
        fill(xb, xt, nx, lo, hi, (Fill)f, &seed);
        layer_case(w, s, g, k, scratch, fill_names[f]);
    }
    int32_t per = (int32_t)(ir_numel(&g->tensors[n->in[1]]) / q->nchan);
    int32_t *rows = xmalloc((size_t)MAX_DRIVEN * sizeof *rows + (size_t)q->nchan * sizeof *rows);
    int nrows = driven_rows(q->wq, (int32_t)q->nchan, per, rows);
    shiftc_geom ge;
    int32_t m = 0, kk = 0, nout = 0;
    if (n->op == OP_CONV)
        ka_geom(g, n, &ge);
    else
        ka_dense_dims(g, n, &m, &kk, &nout);
    for (int r = 0; r < nrows; r++)
        for (int sign = 1; sign >= -1; sign -= 2) {
            char label[96];
            snprintf(label, sizeof label, "channel %d %s", rows[r], sign > 0 ? "aligned" : "opposite");
            if (n->op == OP_CONV)
                conv_pattern(xb, xt, &ge, q->wq, rows[r], sign, lo, hi);
            else
                dense_pattern(xb, xt, m, kk, q->wq, rows[r], sign, lo, hi);
            layer_case(w, s, g, k, scratch, label);
        }
    free(rows);
}

/* One part of one time step of direction d, from the biases, by the
 * reference products. */
static void step_case(Writer *w, const shiftc_rnn *r, const shiftc_rnn_ref *ref, int k, int d, int part,
                      const void *v, int32_t vbytes, const char *label)
{
    int32_t *pre = xmalloc(16 * (size_t)r->H);
    memcpy(pre, r->bias, 16 * (size_t)r->H);
    shiftc_rnn_mv_ref(ref, part, v, pre);
    put_head(w, CASE_STEP, k, d, part, 0, label);
    put_u32(w, 1);
    put_block(w, v, vbytes);
    put_u32(w, 1);
    put_output(w, r->bias, pre, 16 * (int64_t)r->H);
    free(pre);
}

static void recurrent_cases(Writer *w, const Graph *g, int k)
{
    const Node *n = &g->nodes[k];
    const Tensor *x = &g->tensors[n->in[0]];
    for (int d = 0; d < n->q->rnn->ndir; d++) {
        shiftc_rnn r;
        shiftc_rnn_ref ref;
        ka_rnn(g, n, d, &r, &ref);
        int nparts = ref.gru && !ref.lbr ? 3 : 2;
        for (int part = 0; part < nparts; part++) {
            int32_t len = part == 0 ? ref.I : ref.H, lo = -32767, hi = 32767;
            int vt = part == 0 ? ref.xt : SHIFTC_I16;
            if (part == 0)
                quant_code_range(&x->q, &lo, &hi);
            int32_t vbytes = len * (shiftc_is16(vt) ? 2 : 1);
            void *v = xmalloc((size_t)vbytes);
            uint32_t seed = 1;
            char label[96];
            for (int f = 0; f < NFILLS; f++) {
                fill(v, vt, len, lo, hi, (Fill)f, &seed);
                snprintf(label, sizeof label, "direction %d part %d: %s", d, part, fill_names[f]);
                step_case(w, &r, &ref, k, d, part, v, vbytes, label);
            }
            /* the part's rows (shiftc_rnn_mv_ref) */
            int32_t k0 = part == 2 ? 2 * ref.H : 0, k1 = ref.G * ref.H;
            if (part == 1 && ref.gru && !ref.lbr)
                k1 = 2 * ref.H;
            if (part == 2)
                k1 = 3 * ref.H;
            const int32_t *wq = (part == 0 ? ref.wq : ref.rq) + (int64_t)k0 * len;
            int32_t *rows = xmalloc((size_t)(k1 - k0 + MAX_DRIVEN) * sizeof *rows);
            int nrows = driven_rows(wq, k1 - k0, len, rows);
            for (int j = 0; j < nrows; j++)
                for (int sign = 1; sign >= -1; sign -= 2) {
                    for (int32_t i = 0; i < len; i++)
                        shiftc_st(v, i, vt, driving_code(wq[(int64_t)rows[j] * len + i], sign, lo, hi));
                    snprintf(label, sizeof label, "direction %d part %d: row %d %s", d, part, k0 + rows[j],
                             sign > 0 ? "aligned" : "opposite");
                    step_case(w, &r, &ref, k, d, part, v, vbytes, label);
                }
            free(rows);
            free(v);
        }
    }
}

/* Every node's data inputs at the extremes, in the simulator only (the
 * runtime kernels under a sanitizer build of shiftc). */
static void simulate_extremes(QSim *s, const Graph *g, int k)
{
    const Node *n = &g->nodes[k];
    int ndata = n->op == OP_ADD || n->op == OP_CONCAT ? n->nin : 1;
    uint32_t seed = 7;
    for (int f = 0; f < NFILLS; f++) {
        for (int j = 0; j < ndata; j++) {
            const Tensor *t = &g->tensors[n->in[j]];
            if (t->kind == TK_CONST)
                continue;
            int32_t lo, hi;
            quant_code_range(&t->q, &lo, &hi);
            fill(ir_qsim_tensor(s, n->in[j]), ka_type(t), ka_numel(t), lo, hi, (Fill)f, &seed);
        }
        ir_qsim_run_node(s, k);
    }
}

static void network_cases(Writer *w, QSim *s, const Graph *g)
{
    void *in[IR_MAX_IO], *out[IR_MAX_IO];
    for (int i = 0; i < g->ninputs; i++)
        in[i] = xmalloc((size_t)ka_bytes(&g->tensors[g->inputs[i]]));
    for (int i = 0; i < g->noutputs; i++)
        out[i] = xmalloc((size_t)ka_bytes(&g->tensors[g->outputs[i]]));
    snprintf(w->group, sizeof w->group, "%s_run", g->name);
    uint32_t seed = 3;
    for (int f = 0; f < NFILLS; f++) {
        for (int i = 0; i < g->ninputs; i++) {
            const Tensor *t = &g->tensors[g->inputs[i]];
            int32_t lo, hi;
            quant_code_range(&t->q, &lo, &hi);
            fill(in[i], ka_type(t), ka_numel(t), lo, hi, (Fill)f, &seed);
        }
        ensure(ir_qsim_run(s, (const void *const *)in, out) == 0);
        put_head(w, CASE_RUN, -1, 0, 0, 0, fill_names[f]);
        put_u32(w, (uint32_t)g->ninputs);
        for (int i = 0; i < g->ninputs; i++)
            put_block(w, in[i], ka_bytes(&g->tensors[g->inputs[i]]));
        put_u32(w, (uint32_t)g->noutputs);
        for (int i = 0; i < g->noutputs; i++)
            put_output(w, NULL, out[i], ka_bytes(&g->tensors[g->outputs[i]]));
    }
    for (int i = 0; i < g->ninputs; i++)
        free(in[i]);
    for (int i = 0; i < g->noutputs; i++)
        free(out[i]);
}

static const char *step_suffix(const Node *n, int d)
{
    return n->q->rnn->ndir == 1 ? "" : d == 0 ? "_d0" : "_d1";
}

static void write_program(FILE *f, const Graph *g)
{
    const char *nm = g->name;
    fprintf(f,
            "/* worstcase.c: calls every weighted layer of \"%s\" on the cases of\n"
            " * worstcase.bin (inputs that drive the accumulators to their bound) and\n"
            " * the network on extreme input codes, and compares every output with the\n"
            " * integer simulator's.  Generated by shiftc; do not edit.\n"
            " * Usage: worstcase [worstcase.bin]; exit status 0 when every output matches. */\n"
            "#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n"
            "#include \"%s.h\"\n#include \"%s_layers.h\"\n\n",
            nm, nm, nm);
    fputs("typedef void (*layer_fn)(const void *x, void *y, void *s);\n"
          "typedef void (*step_fn)(const void *ctx, int32_t part, const void *v, int32_t *pre);\n\n"
          "static layer_fn layer(int32_t k)\n{\n    switch (k) {\n",
          f);
    for (int k = 0; k < g->nnodes; k++) {
        const Node *n = &g->nodes[k];
        if (n->op == OP_CONV || n->op == OP_DENSE)
            fprintf(f, "    case %d: return %s_l%d;\n", k, nm, k);
    }
    fputs("    default: return NULL;\n    }\n}\n\n"
          "static step_fn step(int32_t k, int32_t d)\n{\n    switch (2 * k + d) {\n",
          f);
    for (int k = 0; k < g->nnodes; k++) {
        const Node *n = &g->nodes[k];
        if (ir_op_is_recurrent(n->op))
            for (int d = 0; d < n->q->rnn->ndir; d++)
                fprintf(f, "    case %d: return %s_l%d%s_mv;\n", 2 * k + d, nm, k, step_suffix(n, d));
    }
    fputs("    default: return NULL;\n    }\n}\n\n", f);
    fputs("static void fail(const char *why)\n{\n"
          "    fprintf(stderr, \"worstcase: %s\\n\", why);\n    exit(2);\n}\n\n"
          "static uint32_t get_u32(FILE *f)\n{\n    uint32_t v;\n"
          "    if (fread(&v, sizeof v, 1, f) != 1)\n        fail(\"truncated case file\");\n"
          "    return v;\n}\n\n"
          "/* exactly n bytes of heap, so that AddressSanitizer sees every overrun */\n"
          "static unsigned char *get_bytes(FILE *f, uint32_t n)\n{\n"
          "    unsigned char *p = malloc(n ? n : 1);\n"
          "    if (!p || fread(p, 1, n, f) != n)\n        fail(\"truncated case file\");\n"
          "    return p;\n}\n\n"
          "static char *get_text(FILE *f)\n{\n    uint32_t n = get_u32(f);\n"
          "    char *s = malloc((size_t)n + 1);\n"
          "    if (!s || fread(s, 1, n, f) != n)\n        fail(\"truncated case file\");\n"
          "    s[n] = 0;\n    return s;\n}\n\n",
          f);
    fprintf(f,
            "static void report(const char *group, long cases, long bad)\n{\n"
            "    if (cases)\n        printf(\"  %%s: %%ld cases, %%ld differ\\n\", group, cases, bad);\n}\n\n"
            "int main(int argc, char **argv)\n{\n"
            "    FILE *f = fopen(argc > 1 ? argv[1] : \"worstcase.bin\", \"rb\");\n"
            "    char magic[4], *group = NULL;\n"
            "    long cases = 0, bad = 0, gcases = 0, gbad = 0;\n"
            "    if (!f || fread(magic, 1, 4, f) != 4 || memcmp(magic, \"SWC1\", 4) != 0)\n"
            "        fail(\"cannot read the case file\");\n"
            "    for (;;) {\n"
            "        uint32_t kind, nin, nout, i, same = 1;\n"
            "        int32_t node, dir, part;\n"
            "        void *in[16], *out[16];\n"
            "        unsigned char *expected[16];\n"
            "        uint32_t bytes[16];\n"
            "        unsigned char *scratch;\n"
            "        char *g, *label;\n"
            "        if (fread(&kind, sizeof kind, 1, f) != 1)\n            break;\n"
            "        node = (int32_t)get_u32(f);\n        dir = (int32_t)get_u32(f);\n"
            "        part = (int32_t)get_u32(f);\n        i = get_u32(f);\n"
            "        scratch = i ? (unsigned char *)malloc(i) : NULL;\n"
            "        g = get_text(f);\n        label = get_text(f);\n"
            "        if (!group || strcmp(group, g) != 0) {\n"
            "            if (group)\n                report(group, gcases, gbad);\n"
            "            free(group);\n            group = g;\n            gcases = gbad = 0;\n"
            "        } else {\n            free(g);\n        }\n"
            "        nin = get_u32(f);\n        if (nin > 16)\n            fail(\"bad case file\");\n"
            "        for (i = 0; i < nin; i++)\n            in[i] = get_bytes(f, get_u32(f));\n"
            "        nout = get_u32(f);\n        if (nout > 16)\n            fail(\"bad case file\");\n"
            "        for (i = 0; i < nout; i++) {\n"
            "            bytes[i] = get_u32(f);\n            out[i] = get_bytes(f, bytes[i]);\n"
            "            expected[i] = get_bytes(f, bytes[i]);\n        }\n"
            "        if (kind == 0 && layer(node))\n            layer(node)(in[0], out[0], scratch);\n"
            "        else if (kind == 1 && step(node, dir))\n"
            "            step(node, dir)(NULL, part, in[0], (int32_t *)out[0]);\n"
            "        else if (kind == 2)\n"
            "            %s_run((const void *const *)in, out);\n"
            "        else\n            fail(\"a case names no function of this network\");\n"
            "        for (i = 0; i < nout; i++) {\n"
            "            uint32_t b;\n"
            "            for (b = 0; b < bytes[i] && same; b++)\n"
            "                if (((unsigned char *)out[i])[b] != expected[i][b]) {\n"
            "                    printf(\"  %%s: %%s: output %%u byte %%u is %%u, the simulator's %%u\\n\", group,\n"
            "                           label, (unsigned)i, (unsigned)b, ((unsigned char *)out[i])[b],\n"
            "                           expected[i][b]);\n"
            "                    same = 0;\n"
            "                }\n"
            "            free(out[i]);\n            free(expected[i]);\n        }\n"
            "        for (i = 0; i < nin; i++)\n            free(in[i]);\n"
            "        free(scratch);\n        free(label);\n"
            "        cases++, gcases++;\n        bad += !same, gbad += !same;\n"
            "    }\n"
            "    if (group)\n        report(group, gcases, gbad);\n"
            "    free(group);\n    fclose(f);\n"
            "    printf(\"worstcase harness: %%ld cases, %%ld differ from the simulator\\n\", cases, bad);\n"
            "    return bad ? 1 : 0;\n}\n",
            nm);
}

int emit_worstcase(const Graph *g, const char *dir, char *err, size_t errlen)
{
    EmitCtx c = {0};
    c.g = g;
    c.bytes = xcalloc((size_t)g->ntensors + 1, sizeof *c.bytes);
    c.scratch = xcalloc((size_t)g->nnodes + 1, sizeof *c.scratch);
    emit_int_sizes(&c);
    char path[4096];
    snprintf(path, sizeof path, "%s/worstcase.bin", dir);
    Writer w = {0};
    w.f = fopen(path, "wb");
    snprintf(path, sizeof path, "%s/worstcase.c", dir);
    FILE *prog = fopen(path, "w");
    QSim *s = ir_qsim_new(g);
    int rc = -1;
    if (!w.f || !prog) {
        snprintf(err, errlen, "cannot write %s", path);
        goto done;
    }
    if (!s) {
        snprintf(err, errlen, "%s", g->err);
        goto done;
    }
    fwrite("SWC1", 1, 4, w.f);
    for (int k = 0; k < g->nnodes; k++) {
        const Node *n = &g->nodes[k];
        char name[64];
        emit_safe_text(n->name, name, sizeof name, 0);
        snprintf(w.group, sizeof w.group, "node %d %s \"%s\"", k, ir_op_name(n->op), name);
        simulate_extremes(s, g, k);
        if (n->op == OP_CONV || n->op == OP_DENSE)
            weighted_cases(&w, s, g, k, c.scratch[k]);
        else if (ir_op_is_recurrent(n->op))
            recurrent_cases(&w, g, k);
    }
    network_cases(&w, s, g);
    write_program(prog, g);
    rc = 0;
done:
    if (w.f && fclose(w.f) != 0 && rc == 0)
        rc = -1, snprintf(err, errlen, "cannot write %s/worstcase.bin", dir);
    if (prog && fclose(prog) != 0 && rc == 0)
        rc = -1, snprintf(err, errlen, "cannot write %s/worstcase.c", dir);
    ir_qsim_free(s);
    free(c.bytes);
    free(c.scratch);
    return rc;
}
