/*
 * LSTM and GRU in the integer network (emit_rnn.h, docs/rnn.md).
 *
 * The time loop stays a loop: NAME.c calls shiftc_rnn_q (runtime) with a
 * static const shiftc_rnn (biases, gate tables, output requantization) and
 * the node's step callback NAME_lK_mv, which lives in the layer file
 * NAME_lK.c.  The callback runs the products of one step, W x_t and R h
 * (and, for a GRU with linear_before_reset = 0, R_h (r . h)), as unrolled
 * shift-add code: gate rows summed eight at a time in registers, each
 * input loaded once per block (emit_reg_block, as Dense), then per row
 * shiftc_rnn_acc_q (or shiftc_rnn_acc_nomul) into the row's
 * pre-activation slot -- the same
 * helpers the simulator's reference loops (shiftc_rnn_mv_ref) call, so the
 * two agree bit for bit.  Rows with no nonzero weight are skipped (they add
 * nothing).  Rows are packed into functions of at most max_fn_terms terms
 * and functions into files of at most max_file_terms terms (NAME_lK.c,
 * NAME_lK_1.c, ...), as for Dense layers.  A bidirectional node is two
 * calls of shiftc_rnn_q, one per direction, each with its own constants
 * (rnn_K_d0, rnn_K_d1) and callback (NAME_lK_d0_mv, NAME_lK_d1_mv, with
 * functions NAME_lK_d0_fJ, ...), in the same layer files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit_rnn.h"
#include "kernel_args.h"
#include "quant_rnn.h"
#include "shiftadd.h"
#include "util.h"

int64_t emit_rnn_scratch(const Graph *g, const Node *n)
{
    (void)g;
    return n->q && n->q->rnn ? SHIFTC_RNN_SCRATCH((int64_t)n->q->rnn->H) : 0;
}

/* One run of rows of W (part 0) or R (parts 1, 2) of one direction in one
 * function. */
typedef struct RnnFn {
    int dir, part;
    int idx;        /* number among its direction's functions */
    int32_t r0, r1; /* rows [r0, r1) */
    int64_t terms;
} RnnFn;

/* Rows of each part: shiftc_rnn_mv's contract (runtime/shiftc_rt.h). */
static void part_rows(const QRnn *r, int part, int32_t *r0, int32_t *r1)
{
    int32_t rows = r->G * r->H;
    *r0 = 0, *r1 = rows;
    if (part == 1 && r->gru && !r->lbr)
        *r1 = 2 * r->H;
    if (part == 2)
        *r0 = 2 * r->H, *r1 = 3 * r->H;
}

static const int32_t *row_codes(const QRnn *r, int d, int part, int32_t k)
{
    const QRnnDir *q = &r->dir[d];
    return part == 0 ? q->wq + (int64_t)k * r->I : q->rq + (int64_t)k * r->H;
}

/* What direction d adds to the node's names: nothing with one direction,
 * "_d0" / "_d1" with two, so each direction has its own functions and
 * constants. */
static const char *dir_suffix(const QRnn *r, int d)
{
    return r->ndir == 1 ? "" : d == 0 ? "_d0" : "_d1";
}

/* The same for comments. */
static const char *dir_label(const QRnn *r, int d)
{
    return r->ndir == 1 ? "" : d == 0 ? ", forward direction" : ", reverse direction";
}

static void emit_fn(EmitCtx *c, int k, EmitBuf *b, const RnnFn *f, const char *xt)
{
    const QRnn *r = c->g->nodes[k].q->rnn;
    const QRnnDir *q = &r->dir[f->dir];
    const char *sfx = dir_suffix(r, f->dir);
    int32_t len = f->part == 0 ? r->I : r->H;
    const char *vt = f->part == 0 ? xt : "int16_t";
    int64_t *off = xmalloc(((size_t)len + 1) * sizeof *off);
    for (int32_t i = 0; i < len; i++)
        off[i] = i;
    eb_printf(b, "/* %s rows %d..%d%s */\n", f->part == 0 ? "W" : "R", f->r0, f->r1 - 1,
              dir_label(r, f->dir));
    eb_printf(b, "void %s_l%d%s_f%d(const %s *x, int32_t *pre)\n{\n", c->name, k, sfx, f->idx, vt);
    eb_printf(&c->protos, "void %s_l%d%s_f%d(const %s *x, int32_t *pre);\n", c->name, k, sfx,
              f->idx, vt);
    /* the rows with a term (a row of zeros adds exactly nothing, as in
     * the simulator), summed REG_BLOCK at a time */
    int32_t *live = xmalloc(((size_t)(f->r1 - f->r0) + 1) * sizeof *live), nlive = 0;
    for (int32_t row = f->r0; row < f->r1; row++)
        if (sa_count_terms(row_codes(r, f->dir, f->part, row), len) > 0)
            live[nlive++] = row;
    if (nlive)
        emit_acc_decl(b, nlive < REG_BLOCK ? nlive : REG_BLOCK, "    ");
    else
        eb_puts(b, "    (void)x;\n    (void)pre;\n");
    for (int32_t j = 0; j < nlive; j += REG_BLOCK) {
        int nb = nlive - j < REG_BLOCK ? nlive - j : REG_BLOCK;
        const int32_t *w[REG_BLOCK];
        for (int i = 0; i < nb; i++)
            w[i] = row_codes(r, f->dir, f->part, live[j + i]);
        c->terms += emit_reg_block(b, "x", w, NULL, nb, off, len, "    ");
        for (int i = 0; i < nb; i++) {
            int32_t row = live[j + i];
            int32_t dst = f->part > 0 && r->gru && row >= 2 * r->H ? row + r->H : row;
            if (c->g->no_mul) {
                const int32_t *m = (f->part == 0 ? q->wnm : q->rnm) + 3 * row;
                eb_printf(b, "    shiftc_rnn_acc_nomul(pre + %d, a%d, %ld, %ld, %ld);\n", dst, i, (long)m[0],
                          (long)m[1], (long)m[2]);
            } else {
                eb_printf(b, "    shiftc_rnn_acc_q(pre + %d, a%d, ", dst, i);
                eb_i32(b, f->part == 0 ? q->wmult[row] : q->rmult[row]);
                eb_puts(b, ", ");
                eb_i32(b, f->part == 0 ? q->wshift[row] : q->rshift[row]);
                eb_puts(b, ");\n");
            }
        }
    }
    if (nlive)
        eb_puts(b, "    (void)v;\n");
    free(live);
    eb_puts(b, "}\n\n");
    free(off);
}

/* Direction d's step callback: its functions of each part, in order;
 * terms: their shift-add terms. */
static void emit_mv(EmitCtx *c, int k, EmitBuf *b, int d, const RnnFn *fn, int nfn, int64_t terms,
                    const char *xt)
{
    const QRnn *r = c->g->nodes[k].q->rnn;
    const char *sfx = dir_suffix(r, d);
    int nparts = r->gru && !r->lbr ? 3 : 2, count = 0;
    for (int j = 0; j < nfn; j++)
        count += fn[j].dir == d;
    eb_printf(b, "/* one time step%s (shiftc_rnn_mv): %lld shift-add terms in %d function%s */\n",
              dir_label(r, d), (long long)terms, count, count > 1 ? "s" : "");
    eb_printf(b, "void %s_l%d%s_mv(const void *ctx, int32_t part, const void *v, int32_t *pre)\n{\n",
              c->name, k, sfx);
    eb_puts(b, "    (void)ctx;\n    switch (part) {\n");
    for (int p = 0; p < nparts; p++) {
        eb_printf(b, "    case %d:\n", p);
        for (int j = 0; j < nfn; j++)
            if (fn[j].dir == d && fn[j].part == p)
                eb_printf(b, "        %s_l%d%s_f%d((const %s *)v, pre);\n", c->name, k, sfx,
                          fn[j].idx, p == 0 ? xt : "int16_t");
        eb_puts(b, "        break;\n");
    }
    eb_puts(b, "    default:\n        break;\n    }\n}\n\n");
    eb_printf(&c->protos,
              "void %s_l%d%s_mv(const void *ctx, int32_t part, const void *v, int32_t *pre);\n",
              c->name, k, sfx);
}

static void i16_table(EmitCtx *c, const char *name, int k, const char *sfx, const int16_t *v, int n)
{
    int32_t *w = xmalloc(((size_t)n + 1) * sizeof *w);
    for (int i = 0; i < n; i++)
        w[i] = v[i];
    eb_printf(&c->consts, "static const int16_t %s_%d%s[%d] = {", name, k, sfx, n);
    eb_i32_list(&c->consts, w, n);
    eb_puts(&c->consts, "};\n");
    c->const_bytes += 2 * (int64_t)n;
    free(w);
}

/* Direction d's biases, initial state and shiftc_rnn (the gate tables,
 * rnn_sig_K and rnn_tanh_K, are the node's). */
static void emit_config(EmitCtx *c, int k, int d, const shiftc_rnn *s)
{
    const QRnn *r = c->g->nodes[k].q->rnn;
    const QRnnDir *q = &r->dir[d];
    const char *sfx = dir_suffix(r, d);
    EmitBuf *b = &c->consts;
    eb_printf(b, "static const int32_t rnn_bias_%d%s[%d] = {", k, sfx, 4 * r->H);
    eb_i32_list(b, q->bias, 4 * (int64_t)r->H);
    eb_puts(b, "};\n");
    c->const_bytes += 16 * (int64_t)r->H;
    if (q->h0)
        i16_table(c, "rnn_h0", k, sfx, q->h0, r->H);
    if (q->c0)
        i16_table(c, "rnn_c0", k, sfx, q->c0, r->H);
    eb_printf(b,
              "static const shiftc_rnn rnn_%d%s = {\n"
              "    .gru = %d, .lbr = %d, .input_forget = %d, .reverse = %d,\n"
              "    .T = %d, .H = %d, .x_step = %d, .y_step = %d, .y_off = %d,\n"
              "    .pre_frac = %d, .c_frac = %d, .pre_lim = %d, .no_mul = %d,\n"
              "    .bias = rnn_bias_%d%s, .sig = rnn_sig_%d, .tnh = rnn_tanh_%d,\n",
              k, sfx, s->gru, s->lbr, s->input_forget, s->reverse, s->T, s->H, s->x_step,
              s->y_step, s->y_off, s->pre_frac, s->c_frac, s->pre_lim, s->no_mul, k, sfx, k, k);
    if (q->h0)
        eb_printf(b, "    .h0 = rnn_h0_%d%s,\n", k, sfx);
    else
        eb_puts(b, "    .h0 = NULL,\n");
    if (q->c0)
        eb_printf(b, "    .c0 = rnn_c0_%d%s,\n", k, sfx);
    else
        eb_puts(b, "    .c0 = NULL,\n");
    const char *names[] = {".yt", ".ym", ".ys", ".yzero", ".ylo", ".yhi"};
    const int32_t *vals[] = {s->yt, s->ym, s->ys, s->yzero, s->ylo, s->yhi};
    for (int f = 0; f < 6; f++) {
        eb_printf(b, "    %s = {", names[f]);
        for (int o = 0; o < 3; o++) {
            eb_i32(b, vals[f][o]);
            eb_puts(b, o < 2 ? ", " : "},\n");
        }
    }
    eb_puts(b, "    .ynm = {");
    for (int o = 0; o < 3; o++)
        eb_printf(b, "{%d, %d, %d}%s", s->ynm[o][0], s->ynm[o][1], s->ynm[o][2], o < 2 ? ", " : "}};\n");
}

int emit_rnn_node(EmitCtx *c, int k)
{
    const Graph *g = c->g;
    const Node *n = &g->nodes[k];
    const QRnn *r = n->q ? n->q->rnn : NULL;
    if (!r)
        return emit_fail(c, n, "recurrent node is not quantized");
    const Tensor *x = &g->tensors[n->in[0]];
    const char *xt = emit_ctype(x);

    /* functions: per direction, rows of each part packed up to
     * max_fn_terms terms */
    int nparts = r->gru && !r->lbr ? 3 : 2, nfn = 0;
    RnnFn *fn = xmalloc(((size_t)r->ndir * 3 * r->G * r->H + 4) * sizeof *fn);
    int64_t total[2] = {0, 0};
    for (int d = 0; d < r->ndir; d++) {
        int idx = 0;
        for (int p = 0; p < nparts; p++) {
            int32_t r0, r1;
            part_rows(r, p, &r0, &r1);
            int32_t len = p == 0 ? r->I : r->H;
            int first = 1;
            for (int32_t row = r0; row < r1; row++) {
                int64_t t = sa_count_terms(row_codes(r, d, p, row), len) + 8;
                if (first || fn[nfn - 1].terms + t > c->max_fn_terms) {
                    fn[nfn++] = (RnnFn){d, p, idx++, row, row, 0};
                    first = 0;
                }
                fn[nfn - 1].r1 = row + 1;
                fn[nfn - 1].terms += t;
                total[d] += t - 8;
            }
        }
    }
    /* functions into files */
    int *file_start = xmalloc(((size_t)nfn + 2) * sizeof *file_start);
    int nfiles = 0;
    int64_t acc = 0;
    for (int j = 0; j < nfn; j++) {
        if (nfiles == 0 || acc + fn[j].terms > c->max_file_terms) {
            file_start[nfiles++] = j;
            acc = 0;
        }
        acc += fn[j].terms;
    }
    file_start[nfiles] = nfn;
    char nm[64];
    emit_safe_text(n->name, nm, sizeof nm, 0);
    for (int f = 0; f < nfiles; f++) {
        EmitBuf *b = f == 0 ? emit_new_file(c, "%s_l%d.c", c->name, k)
                            : emit_new_file(c, "%s_l%d_%d.c", c->name, k, f);
        eb_printf(b, "/* Generated by shiftc; do not edit.\n * Node %d: %s \"%s\"", k,
                  ir_op_name(n->op), nm);
        if (nfiles > 1)
            eb_printf(b, ", part %d of %d", f + 1, nfiles);
        eb_printf(b, ": the matrix-vector products of one time step%s,\n"
                     " * W x_t and R h, with the weights baked in as canonical signed digits;\n"
                     " * each gate row's sum is requantized into its pre-activation slot. */\n",
                  r->ndir == 1 ? "" : " of each direction");
        eb_printf(b, "#include \"shiftc_rt.h\"\n#include \"%s_layers.h\"\n\n", c->name);
        for (int j = file_start[f]; j < file_start[f + 1]; j++)
            emit_fn(c, k, b, &fn[j], xt);
        for (int d = 0; f == 0 && d < r->ndir; d++)
            emit_mv(c, k, b, d, fn, nfn, total[d], xt);
    }
    i16_table(c, "rnn_sig", k, "", r->sig, SHIFTC_RNN_TAB_N);
    i16_table(c, "rnn_tanh", k, "", r->tnh, SHIFTC_RNN_TAB_N);

    /* the calls, one per direction; they share the scratch */
    EmitBuf *b = &c->body;
    eb_printf(b, "    /* node %d: %s \"%s\", %d steps of hidden size %d%s */\n", k,
              ir_op_name(n->op), nm, r->T, r->H, r->ndir == 1 ? "" : ", both directions");
    ensure(c->plan.scratch_off[k] >= 0);
    for (int d = 0; d < r->ndir; d++) {
        const char *sfx = dir_suffix(r, d);
        shiftc_rnn s;
        ka_rnn(g, n, d, &s, NULL);
        emit_config(c, k, d, &s);
        eb_printf(b, "    shiftc_rnn_q(&rnn_%d%s, %s_l%d%s_mv, NULL, ", k, sfx, c->name, k, sfx);
        emit_tensor_ref(c, b, n->in[0]);
        for (int o = 0; o < 3; o++) {
            int t = quant_rnn_output(n, o);
            eb_puts(b, ", ");
            if (t >= 0)
                emit_tensor_ref(c, b, t);
            else
                eb_puts(b, "NULL");
        }
        eb_printf(b, ", a + %lld);\n", (long long)c->plan.scratch_off[k]);
    }
    free(file_start);
    free(fn);
    return 0;
}
