/*
 * The integer network: what emit_c writes for a quantized graph.
 *
 * Conv and Dense become unrolled shift-add code with the weight codes baked
 * in (one file per layer, NAME_lK.c), or with --kernel mac (KS_TABLE) a
 * call of the runtime's multiply-accumulate kernel over int8 weight arrays
 * (emit_mac.c); every other op is a call to the
 * shiftc_rt.h kernel the integer simulator calls, with arguments from
 * kernel_args.c, so emitted code and simulator agree bit for bit.
 *
 * Unrolled kernels.  Each weight code is recoded in canonical signed digits
 * (shiftadd.c); each nonzero digit d*2^k becomes one term "+ x[OFF] * 2^k"
 * (a multiplication by a power of two, never a shift: << of a negative
 * value is undefined in C, and compilers turn the product into a shift or
 * a shifted add anyway).  One output is its bias plus one statement
 * "a = a + x[OFF] * 8 - x[OFF];" per nonzero weight, then shiftc_requant.  The int32 accumulator cannot overflow (the
 * quantizer bounds sum |q|*max|x|), so the order of the terms is free.
 *
 * Splitting.  gcc compile time grows much faster than linearly with the
 * size of a function (algorithms.md section 7: a 110k-term function did not
 * compile in 7 minutes), so the outputs of a layer are packed into blocks
 * of at most max_fn_terms terms, one function each, and blocks into
 * files of at most max_file_terms terms (NAME_lK.c, NAME_lK_1.c, ...), one
 * exported part function per file.
 *
 * No-mul mode (g->no_mul).  Requantization calls shiftc_requant_nomul with
 * the two-term multiplier as literals, Add and Concat call their
 * multiplierless kernels: a layer file then holds no multiplication a C
 * compiler for a core without `mul` would turn into a library call.
 * AveragePool and Softmax keep their divisions (library calls on RV32I).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit_internal.h"
#include "emit_mac.h"
#include "emit_rnn.h"
#include "kernel_args.h"
#include "quant.h"
#include "shiftadd.h"
#include "util.h"

const char *emit_ctype(const Tensor *t)
{
    switch (t->q.type) {
    case QT_U8: return "uint8_t";
    case QT_I16: return "int16_t";
    case QT_U16: return "uint16_t";
    default: return "int8_t";
    }
}

static const char *ctype(const Tensor *t) { return emit_ctype(t); }
const char *emit_ttag(const Tensor *t)
{
    switch (t->q.type) {
    case QT_U8: return "SHIFTC_U8";
    case QT_I16: return "SHIFTC_I16";
    case QT_U16: return "SHIFTC_U16";
    default: return "SHIFTC_I8";
    }
}
static int wide(const Tensor *t) { return t->q.type == QT_I16 || t->q.type == QT_U16; }

void emit_int_sizes(EmitCtx *c)
{
    const Graph *g = c->g;
    for (int t = 0; t < g->ntensors; t++)
        c->bytes[t] = g->tensors[t].kind == TK_CONST ? 0 : ir_numel(&g->tensors[t]) * (wide(&g->tensors[t]) ? 2 : 1);
    for (int k = 0; k < g->nnodes; k++) {
        const Node *n = &g->nodes[k];
        c->scratch[k] = 0;
        if (ir_op_is_recurrent(n->op))
            c->scratch[k] = emit_rnn_scratch(g, n);
        if (n->op == OP_CONV && n->prec.kernel == KS_TABLE) {
            c->scratch[k] = emit_mac_scratch(g, n);
            continue;
        }
        if (n->op != OP_CONV)
            continue;
        shiftc_geom ge;
        ka_geom(g, n, &ge);
        if (ge.pt || ge.pl || ge.pb || ge.pr)
            c->scratch[k] = (int64_t)ge.n * ge.c * (ge.h + ge.pt + ge.pb) * (ge.w + ge.pl + ge.pr) *
                            (wide(&g->tensors[n->in[0]]) ? 2 : 1);
    }
}

/* ---- checks ---- */

static int check_conv(EmitCtx *c, const Node *n)
{
    shiftc_geom ge;
    ka_geom(c->g, n, &ge);
    const Tensor *w = &c->g->tensors[n->in[1]];
    int64_t ph = (int64_t)ge.h + ge.pt + ge.pb, pw = (int64_t)ge.w + ge.pl + ge.pr;
    if (ge.oh < 1 || ge.ow < 1 || ge.sh < 1 || ge.sw < 1 || ge.dh < 1 || ge.dw < 1)
        return emit_fail(c, n, "bad convolution geometry");
    /* the unrolled kernel reads without bounds checks */
    if ((int64_t)(ge.oh - 1) * ge.sh + (int64_t)(ge.kh - 1) * ge.dh >= ph ||
        (int64_t)(ge.ow - 1) * ge.sw + (int64_t)(ge.kw - 1) * ge.dw >= pw)
        return emit_fail(c, n, "output size %dx%d reads past the padded input %lldx%lld", ge.oh,
                         ge.ow, (long long)ph, (long long)pw);
    if (ir_numel(w) != (int64_t)ge.oc * (ge.c / ge.group) * ge.kh * ge.kw)
        return emit_fail(c, n, "weight shape does not match the geometry");
    if ((int64_t)ge.n * ge.c * ph * pw > INT32_MAX)
        return emit_fail(c, n, "padded input too large");
    return 0;
}

int emit_int_check(EmitCtx *c)
{
    const Graph *g = c->g;
    for (int k = 0; k < g->nnodes; k++) {
        const Node *n = &g->nodes[k];
        const char *why = ir_quantized_problem(g, n);
        if (why)
            return emit_fail(c, n, "%s", why);
        const Tensor *x = &g->tensors[n->in[0]];
        /* what this backend implements: 4-, 8- and 16-bit activations
         * (QParams of every tensor), unrolled kernels */
        if (n->prec.act_bits != 4 && n->prec.act_bits != 8 && n->prec.act_bits != 16)
            return emit_fail(c, n, "%d-bit activations are not supported (4, 8 or 16)", n->prec.act_bits);
        switch (n->op) {
        case OP_CONV:
        case OP_DENSE:
            if (n->prec.kernel != KS_UNROLLED && n->prec.kernel != KS_TABLE)
                return emit_fail(c, n, "unknown kernel style %d", (int)n->prec.kernel);
            if (n->prec.kernel == KS_TABLE && emit_mac_check(c, n))
                return -1;
            if (n->op == OP_CONV && check_conv(c, n))
                return -1;
            break;
        case OP_RESHAPE:
        case OP_TRANSPOSE:
        case OP_SLICE:
            if (ir_is_view(g, n) && x->kind == TK_CONST)
                return emit_fail(c, n, "view of a constant (should have been folded)");
            if (n->op != OP_RESHAPE && x->kind == TK_CONST)
                return emit_fail(c, n, "%s of a constant (should have been folded)",
                                 ir_op_name(n->op));
            break;
        default:
            break;
        }
    }
    return 0;
}

/* ---- unrolled sums ---- */

/* One weighted layer seen as nout outputs, each a sum over nw weights of
 * ptr[off] terms (conv: relative to the pixel's base pointer). */
typedef struct Layer {
    int k;
    const Node *n;
    const Tensor *x, *y;
    int is_conv;
    shiftc_geom ge;
    int32_t m, kdim, nout; /* dense */
    int64_t nw;            /* weights per output */
    int64_t ph, pw;        /* conv: (padded) input plane */
    int64_t *local;        /* conv: offsets of the nw taps within one group */
} Layer;

static void output_offsets(const Layer *L, int o, int64_t *off)
{
    if (!L->is_conv) {
        for (int64_t i = 0; i < L->nw; i++)
            off[i] = i;
        return;
    }
    int32_t icg = L->ge.c / L->ge.group, ocg = L->ge.oc / L->ge.group;
    int64_t base = (int64_t)(o / ocg) * icg * L->ph * L->pw;
    for (int64_t i = 0; i < L->nw; i++)
        off[i] = base + L->local[i];
}

static void emit_requant(const EmitCtx *c, const Layer *L, EmitBuf *b, int o, const char *acc,
                         const char *dst, int64_t idx, const char *indent)
{
    const QLayer *q = L->n->q;
    if (c->g->no_mul) { /* multiplierless: a = a * (2^-e1 + s2 * 2^-e2) by shifts and adds */
        const int32_t *m = q->nm + 3 * o;
        eb_printf(b, "%s%s[%lld] = (%s)shiftc_requant_nomul(%s, %ld, %ld, %ld, %ld, %ld, %ld);\n",
                  indent, dst, (long long)idx, ctype(L->y), acc, (long)m[0], (long)m[1], (long)m[2],
                  (long)L->y->q.zero, (long)q->lo, (long)q->hi);
        return;
    }
    if (q->mult[o] > 0x40000000 && q->shift[o] <= -1 && q->shift[o] >= -31) {
        /* SMLAL and a shift, the same value (shiftc_requant_fast) */
        eb_printf(b, "%s%s[%lld] = (%s)shiftc_requant_fast(%s, ", indent, dst, (long long)idx, ctype(L->y),
                  acc);
        eb_i32(b, q->mult[o]);
        eb_printf(b, ", %ld, %ld, %ld, %ld);\n", (long)-q->shift[o], (long)L->y->q.zero, (long)q->lo,
                  (long)q->hi);
        return;
    }
    eb_printf(b, "%s%s[%lld] = (%s)shiftc_requant(%s, ", indent, dst, (long long)idx, ctype(L->y), acc);
    eb_i32(b, q->mult[o]);
    eb_puts(b, ", ");
    eb_i32(b, q->shift[o]);
    eb_printf(b, ", %ld, %ld, %ld);\n", (long)L->y->q.zero, (long)q->lo, (long)q->hi);
}

/* Register blocking (algorithms.md section 7, lesson 2): a block's
 * outputs are summed REG_BLOCK at a time in accumulators a0, a1, ...; each
 * input code is loaded once into v and added into every accumulator whose
 * weight for it is nonzero, so a term costs one shifted add instead of a
 * load and an add.  Eight accumulators, v and the loop's pointers fit the
 * 13 free registers of a Cortex-M4; RISC-V and AArch64 have more. */
int64_t emit_reg_block(EmitBuf *b, const char *ptr, const int32_t *const *row, const int32_t *bias, int nb,
                       const int64_t *off, int64_t nw, const char *indent)
{
    SaTerm t[SA_MAX_TERMS];
    int64_t terms = 0;
    for (int r = 0; r < nb; r++) {
        eb_printf(b, "%sa%d = ", indent, r);
        eb_i32(b, bias ? bias[r] : 0);
        eb_puts(b, ";\n");
    }
    for (int64_t i = 0; i < nw; i++) {
        int any = 0;
        for (int r = 0; r < nb && !any; r++)
            any = row[r][i] != 0;
        if (!any)
            continue;
        eb_printf(b, "%sv = %s[%lld];", indent, ptr, (long long)off[i]);
        for (int r = 0; r < nb; r++) {
            int nt = sa_csd(row[r][i], t);
            if (nt == 0)
                continue;
            eb_printf(b, " a%d = a%d", r, r);
            for (int j = 0; j < nt; j++) {
                eb_printf(b, " %c v", t[j].sign > 0 ? '+' : '-');
                if (t[j].shift > 0)
                    eb_printf(b, " * %lld", 1LL << t[j].shift);
            }
            eb_puts(b, ";");
            terms += nt;
        }
        eb_printf(b, " SHIFTC_KEEP%d(", nb);
        for (int r = 0; r < nb; r++)
            eb_printf(b, "%sa%d", r ? ", " : "", r);
        eb_puts(b, ");\n");
    }
    return terms;
}

void emit_acc_decl(EmitBuf *b, int n, const char *indent)
{
    eb_printf(b, "%sint32_t", indent);
    for (int r = 0; r < n; r++)
        eb_printf(b, " a%d,", r);
    eb_puts(b, " v = 0;\n");
}

/* The register block that starts at output o of [o, o1): at most
 * REG_BLOCK outputs, none past the end of o's group (outputs of different
 * groups read different inputs). */
static int reg_block_size(const Layer *L, int o, int o1)
{
    int nb = o1 - o < REG_BLOCK ? o1 - o : REG_BLOCK;
    if (L->is_conv) {
        int32_t ocg = L->ge.oc / L->ge.group;
        if (o / ocg != (o + nb - 1) / ocg)
            nb = ocg - o % ocg;
    }
    return nb;
}

/* The largest register block of [o0, o1): the accumulators to declare
 * (one more would be an unused variable). */
static int reg_blocks_max(const Layer *L, int o0, int o1)
{
    int max = 0;
    for (int o = o0; o < o1;) {
        int nb = reg_block_size(L, o, o1);
        max = nb > max ? nb : max;
        o += nb;
    }
    return max;
}

/* Outputs [o0, o1) of the block in register blocks (reg_block_size); ptr + off
 * addresses the inputs, dst[idx0 + o * stride] receives output o. */
static int64_t emit_outputs(EmitCtx *c, const Layer *L, EmitBuf *b, int o0, int o1, const char *ptr,
                            const char *dst, int64_t stride, int64_t *off, const char *indent)
{
    int64_t terms = 0;
    char acc[16];
    for (int o = o0; o < o1;) {
        int nb = reg_block_size(L, o, o1);
        const int32_t *row[REG_BLOCK];
        for (int r = 0; r < nb; r++)
            row[r] = L->n->q->wq + (int64_t)(o + r) * L->nw;
        output_offsets(L, o, off);
        terms += emit_reg_block(b, ptr, row, L->n->q->bias + o, nb, off, L->nw, indent);
        for (int r = 0; r < nb; r++) {
            snprintf(acc, sizeof acc, "a%d", r);
            emit_requant(c, L, b, o + r, acc, dst, (o + r) * stride, indent);
        }
        o += nb;
    }
    return terms;
}

/* Block [o0, o1) as a function NAME_lK_bJ. */
static void emit_block(EmitCtx *c, const Layer *L, EmitBuf *b, int blk, int o0, int o1)
{
    int64_t *off = xmalloc(((size_t)L->nw + 1) * sizeof *off);
    const char *xt = ctype(L->x), *yt = ctype(L->y);
    int nacc = reg_blocks_max(L, o0, o1);
    /* external, not static: compilers inline a static function called
     * once, which would glue the blocks back into one huge function */
    eb_printf(b, "/* output channels %d..%d */\n", o0, o1 - 1);
    eb_printf(b, "void %s_l%d_b%d(const %s *x, %s *y)\n{\n", c->name, L->k, blk, xt, yt);
    eb_printf(&c->protos, "void %s_l%d_b%d(const %s *x, %s *y);\n", c->name, L->k, blk, xt, yt);
    if (L->is_conv) {
        const shiftc_geom *ge = &L->ge;
        int64_t ohw = (int64_t)ge->oh * ge->ow;
        eb_puts(b, "    int32_t oy, ox;\n");
        eb_printf(b, "    for (oy = 0; oy < %d; oy++) {\n", ge->oh);
        eb_printf(b, "        for (ox = 0; ox < %d; ox++) {\n", ge->ow);
        eb_printf(b, "            const %s *p = x + oy * %lld + ox", xt, (long long)(ge->sh * L->pw));
        if (ge->sw != 1)
            eb_printf(b, " * %d", ge->sw);
        eb_puts(b, ";\n");
        eb_printf(b, "            %s *q = y + oy * %d + ox;\n", yt, ge->ow);
        emit_acc_decl(b, nacc, "            ");
        int64_t terms = emit_outputs(c, L, b, o0, o1, "p", "q", ohw, off, "            ");
        eb_puts(b, "            (void)p;\n            (void)v;\n");
        c->terms += terms;
        eb_puts(b, "        }\n    }\n}\n\n");
    } else {
        eb_puts(b, "    int32_t r;\n");
        eb_printf(b, "    for (r = 0; r < %d; r++, x += %d, y += %d) {\n", L->m, L->kdim, L->nout);
        emit_acc_decl(b, nacc, "        ");
        c->terms += emit_outputs(c, L, b, o0, o1, "x", "y", 1, off, "        ");
        eb_puts(b, "        (void)v;\n");
        eb_puts(b, "    }\n}\n\n");
    }
    free(off);
}

/* The exported part function: runs blocks [b0, b1) over the batch. */
static void emit_part_fn(EmitCtx *c, const Layer *L, EmitBuf *b, int part, int b0, int b1)
{
    const char *xt = ctype(L->x), *yt = ctype(L->y);
    eb_printf(b, "void %s_l%d_p%d(const void *x, void *y)\n{\n", c->name, L->k, part);
    if (L->is_conv) {
        const shiftc_geom *ge = &L->ge;
        eb_printf(b, "    const %s *xb = (const %s *)x;\n", xt, xt);
        eb_printf(b, "    %s *yb = (%s *)y;\n", yt, yt);
        eb_puts(b, "    int32_t n;\n");
        eb_printf(b, "    for (n = 0; n < %d; n++, xb += %lld, yb += %lld) {\n", ge->n,
                  (long long)((int64_t)ge->c * L->ph * L->pw), (long long)((int64_t)ge->oc * ge->oh * ge->ow));
        for (int j = b0; j < b1; j++)
            eb_printf(b, "        %s_l%d_b%d(xb, yb);\n", c->name, L->k, j);
        eb_puts(b, "    }\n}\n");
    } else {
        for (int j = b0; j < b1; j++)
            eb_printf(b, "    %s_l%d_b%d((const %s *)x, (%s *)y);\n", c->name, L->k, j, xt, yt);
        eb_puts(b, "}\n");
    }
    eb_printf(&c->protos, "void %s_l%d_p%d(const void *x, void *y);\n", c->name, L->k, part);
}

static void file_head(EmitCtx *c, const Layer *L, EmitBuf *b, int part, int nparts, int o0, int o1,
                      int64_t terms)
{
    char nm[64];
    emit_safe_text(L->n->name, nm, sizeof nm, 0);
    eb_printf(b, "/* Generated by shiftc; do not edit.\n * Node %d: %s \"%s\"", L->k,
              ir_op_name(L->n->op), nm);
    if (nparts > 1)
        eb_printf(b, ", part %d of %d", part + 1, nparts);
    eb_printf(b, ": output channels %d..%d, %lld shift-add terms.\n", o0, o1 - 1, (long long)terms);
    eb_puts(b, " * Weights are baked in as canonical signed digits: each term is one\n");
    eb_printf(b, " * input code times a power of two; each output is requantized to %d bits",
              quant_bits(&L->y->q));
    eb_puts(b, c->g->no_mul ? "\n * by shifts and adds only (no-mul mode). */\n" : ". */\n");
    eb_printf(b, "#include \"shiftc_rt.h\"\n#include \"%s_layers.h\"\n\n", c->name);
}

static int emit_weighted(EmitCtx *c, int k)
{
    const Graph *g = c->g;
    Layer L;
    memset(&L, 0, sizeof L);
    L.k = k;
    L.n = &g->nodes[k];
    L.x = &g->tensors[L.n->in[0]];
    L.y = &g->tensors[L.n->out[0]];
    L.is_conv = L.n->op == OP_CONV;
    int nout;
    if (L.is_conv) {
        ka_geom(g, L.n, &L.ge);
        const shiftc_geom *ge = &L.ge;
        int has_pad = ge->pt || ge->pl || ge->pb || ge->pr;
        L.ph = (int64_t)ge->h + (has_pad ? ge->pt + ge->pb : 0);
        L.pw = (int64_t)ge->w + (has_pad ? ge->pl + ge->pr : 0);
        int32_t icg = ge->c / ge->group;
        L.nw = (int64_t)icg * ge->kh * ge->kw;
        L.local = xmalloc(((size_t)L.nw + 1) * sizeof *L.local);
        for (int32_t i = 0; i < icg; i++)
            for (int32_t ky = 0; ky < ge->kh; ky++)
                for (int32_t kx = 0; kx < ge->kw; kx++)
                    L.local[((int64_t)i * ge->kh + ky) * ge->kw + kx] =
                        (int64_t)i * L.ph * L.pw + (int64_t)ky * ge->dh * L.pw + (int64_t)kx * ge->dw;
        nout = ge->oc;
    } else {
        ka_dense_dims(g, L.n, &L.m, &L.kdim, &L.nout);
        L.nw = L.kdim;
        nout = L.nout;
    }
    if (L.n->q->nchan != nout) {
        free(L.local);
        return emit_fail(c, L.n, "quantized layer has %d channels, expected %d", L.n->q->nchan, nout);
    }

    /* pack outputs into blocks and blocks into parts (files) */
    int *blk_start = xmalloc(((size_t)nout + 1) * sizeof *blk_start);
    int64_t *blk_terms = xcalloc((size_t)nout + 1, sizeof *blk_terms);
    int nblk = 0;
    int64_t total = 0;
    for (int o = 0; o < nout; o++) {
        /* requantize, clamp and store cost about as much as ~8 terms */
        int64_t t = sa_count_terms(L.n->q->wq + (int64_t)o * L.nw, L.nw) + 8;
        if (nblk == 0 || blk_terms[nblk - 1] + t > c->max_fn_terms) {
            blk_start[nblk] = o;
            blk_terms[nblk++] = 0;
        }
        blk_terms[nblk - 1] += t;
        total += t - 8;
    }
    blk_start[nblk] = nout;
    int *part_start = xmalloc(((size_t)nblk + 1) * sizeof *part_start);
    int nparts = 0;
    int64_t acc = 0;
    for (int j = 0; j < nblk; j++) {
        if (nparts == 0 || acc + blk_terms[j] > c->max_file_terms) {
            part_start[nparts++] = j;
            acc = 0;
        }
        acc += blk_terms[j];
    }
    part_start[nparts] = nblk;

    for (int p = 0; p < nparts; p++) {
        EmitBuf *b = p == 0 ? emit_new_file(c, "%s_l%d.c", c->name, k)
                            : emit_new_file(c, "%s_l%d_%d.c", c->name, k, p);
        int b0 = part_start[p], b1 = part_start[p + 1];
        int64_t pterms = 0;
        for (int j = b0; j < b1; j++)
            pterms += blk_terms[j] - 8 * (blk_start[j + 1] - blk_start[j]);
        file_head(c, &L, b, p, nparts, blk_start[b0], blk_start[b1], pterms);
        for (int j = b0; j < b1; j++)
            emit_block(c, &L, b, j, blk_start[j], blk_start[j + 1]);
        emit_part_fn(c, &L, b, p, b0, b1);
        if (p == 0) {
            /* the layer entry: pad into scratch, then every part */
            const shiftc_geom *ge = &L.ge;
            int pad = L.is_conv && (ge->pt || ge->pl || ge->pb || ge->pr);
            eb_printf(b, "\n/* the whole layer: %lld shift-add terms in %d function%s */\n",
                      (long long)total, nblk, nblk > 1 ? "s" : "");
            eb_printf(b, "void %s_l%d(const void *x, void *y, void *s)\n{\n", c->name, k);
            if (pad && wide(L.x))
                eb_printf(b, "    shiftc_pad16_q(x, s, %d, %d, %d, %d, %d, %d, %d);\n", ge->n * ge->c,
                          ge->h, ge->w, ge->pt, ge->pl, ge->pb, ge->pr);
            else if (pad)
                eb_printf(b, "    shiftc_pad_q((const uint8_t *)x, (uint8_t *)s, %d, %d, %d, %d, %d, %d, %d);\n",
                          ge->n * ge->c, ge->h, ge->w, ge->pt, ge->pl, ge->pb, ge->pr);
            else
                eb_puts(b, "    (void)s;\n");
            for (int q = 0; q < nparts; q++)
                eb_printf(b, "    %s_l%d_p%d(%s, y);\n", c->name, k, q, pad ? "s" : "x");
            eb_puts(b, "}\n");
            eb_printf(&c->protos, "void %s_l%d(const void *x, void *y, void *s);\n", c->name, k);
        }
    }

    emit_node_comment(c, &c->body, k, "    ");
    eb_printf(&c->body, "    %s_l%d(", c->name, k);
    emit_tensor_ref(c, &c->body, L.n->in[0]);
    eb_puts(&c->body, ", ");
    emit_tensor_ref(c, &c->body, L.n->out[0]);
    if (c->plan.scratch_off[k] >= 0)
        eb_printf(&c->body, ", a + %lld);\n", (long long)c->plan.scratch_off[k]);
    else
        eb_puts(&c->body, ", NULL);\n");

    free(part_start);
    free(blk_terms);
    free(blk_start);
    free(L.local);
    return 0;
}

/* ---- the other ops: kernel calls with static constant arguments ---- */

void emit_geom_const(EmitBuf *b, const char *type, const char *name, const shiftc_geom *ge)
{
    eb_printf(b,
              "static const %s %s = {\n"
              "    .n = %d, .c = %d, .h = %d, .w = %d, .oc = %d, .oh = %d, .ow = %d,\n"
              "    .kh = %d, .kw = %d, .sh = %d, .sw = %d, .dh = %d, .dw = %d,\n"
              "    .pt = %d, .pl = %d, .pb = %d, .pr = %d, .group = %d, .count_include_pad = %d};\n",
              type, name, ge->n, ge->c, ge->h, ge->w, ge->oc, ge->oh, ge->ow, ge->kh, ge->kw, ge->sh,
              ge->sw, ge->dh, ge->dw, ge->pt, ge->pl, ge->pb, ge->pr, ge->group,
              ge->count_include_pad);
}

void emit_bcast_const(EmitBuf *b, const char *type, const char *name, const shiftc_bcast *bc)
{
    eb_printf(b, "static const %s %s = {\n    .rank = %d,\n    .dims = {", type, name, bc->rank);
    for (int i = 0; i < 6; i++)
        eb_printf(b, "%d%s", bc->dims[i], i < 5 ? ", " : "},\n    .sa = {");
    for (int i = 0; i < 6; i++)
        eb_printf(b, "%d%s", bc->sa[i], i < 5 ? ", " : "},\n    .sb = {");
    for (int i = 0; i < 6; i++)
        eb_printf(b, "%d%s", bc->sb[i], i < 5 ? ", " : "}};\n");
}

static void i32_array(EmitCtx *c, const char *name, int k, const int32_t *v, int n)
{
    eb_printf(&c->consts, "static const int32_t %s_%d[%d] = {", name, k, n);
    eb_i32_list(&c->consts, v, n);
    eb_puts(&c->consts, "};\n");
    c->const_bytes += 4 * (int64_t)n;
}

int emit_int_node(EmitCtx *c, int k)
{
    const Graph *g = c->g;
    const Node *n = &g->nodes[k];
    if (ir_op_is_recurrent(n->op)) /* several outputs, some maybe absent */
        return emit_rnn_node(c, k);
    const QLayer *q = n->q;
    const Tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    EmitBuf *b = &c->body;
    if ((n->op == OP_CONV || n->op == OP_DENSE) && n->prec.kernel == KS_TABLE)
        return emit_mac_node(c, k);
    if (n->op == OP_CONV || n->op == OP_DENSE)
        return emit_weighted(c, k);
    if (ir_is_view(g, n)) {
        emit_node_comment(c, b, k, "    ");
        eb_puts(b, "    /* a view: shares its input's storage, no code */\n");
        return 0;
    }
    shiftc_geom ge;
    char cname[32];
    /* tables go to c->consts (emit_tensor_ref adds constant operands there
     * too), the call to c->body */
    switch (n->op) {
    case OP_MAXPOOL:
    case OP_AVGPOOL:
        ka_geom(g, n, &ge);
        snprintf(cname, sizeof cname, "geom_%d", k);
        emit_geom_const(&c->consts, "shiftc_geom", cname, &ge);
        break;
    case OP_RELU:
    case OP_CLIP:
    case OP_LEAKYRELU:
    case OP_SIGMOID:
    case OP_TANH:
        i32_array(c, "lut", k, q->lut, quant_lut_size(x->q.type));
        break;
    case OP_SOFTMAX:
        i32_array(c, "exp", k, q->exp_lut, quant_lut_size(x->q.type));
        break;
    case OP_ADD: {
        shiftc_qadd qa;
        shiftc_bcast bc;
        ka_bcast(g, n, &bc);
        snprintf(cname, sizeof cname, "bcast_%d", k);
        if (g->no_mul) {
            shiftc_qadd_nm qn;
            ka_qadd_nm(g, n, &qn);
            eb_printf(&c->consts,
                      "static const shiftc_qadd_nm qadd_%d = {\n    .left_shift = %d,\n"
                      "    .a = {%d, %d, %d}, .b = {%d, %d, %d}, .o = {%d, %d, %d},\n"
                      "    .zero = %d, .lo = %d, .hi = %d};\n",
                      k, qn.left_shift, qn.a.e1, qn.a.s2, qn.a.e2, qn.b.e1, qn.b.s2, qn.b.e2, qn.o.e1,
                      qn.o.s2, qn.o.e2, qn.zero, qn.lo, qn.hi);
            emit_bcast_const(&c->consts, "shiftc_bcast", cname, &bc);
            break;
        }
        ka_qadd(g, n, &qa);
        eb_printf(&c->consts, "static const shiftc_qadd qadd_%d = {\n    .left_shift = %d,\n", k,
                  qa.left_shift);
        const char *names[] = {"ma", "sa", "mb", "sb", "mo", "so", "zero", "lo", "hi"};
        const int32_t v[] = {qa.ma, qa.sa, qa.mb, qa.sb, qa.mo, qa.so, qa.zero, qa.lo, qa.hi};
        for (int i = 0; i < 9; i++) {
            eb_printf(&c->consts, "    .%s = ", names[i]);
            eb_i32(&c->consts, v[i]);
            eb_puts(&c->consts, i < 8 ? ",\n" : "};\n");
        }
        emit_bcast_const(&c->consts, "shiftc_bcast", cname, &bc);
        break;
    }
    case OP_TRANSPOSE: {
        int32_t rank, odims[6], xs[6];
        ka_transpose(g, n, &rank, odims, xs);
        i32_array(c, "tdims", k, odims, 6);
        i32_array(c, "tstrides", k, xs, 6);
        break;
    }
    default:
        break;
    }
    emit_node_comment(c, b, k, "    ");
    switch (n->op) {
    case OP_MAXPOOL:
    case OP_AVGPOOL:
        eb_printf(b, "    shiftc_%s_q(", n->op == OP_MAXPOOL ? "maxpool" : "avgpool");
        emit_tensor_ref(c, b, n->in[0]);
        eb_puts(b, ", ");
        emit_tensor_ref(c, b, n->out[0]);
        eb_printf(b, ", %s, &geom_%d);\n", emit_ttag(x), k);
        break;
    case OP_GLOBALAVGPOOL: {
        int32_t nc, hw;
        ka_global_pool(g, n, &nc, &hw);
        eb_puts(b, "    shiftc_global_avgpool_q(");
        emit_tensor_ref(c, b, n->in[0]);
        eb_puts(b, ", ");
        emit_tensor_ref(c, b, n->out[0]);
        eb_printf(b, ", %s, %d, %d);\n", emit_ttag(x), nc, hw);
        break;
    }
    case OP_RELU:
    case OP_CLIP:
    case OP_LEAKYRELU:
    case OP_SIGMOID:
    case OP_TANH:
        eb_puts(b, "    shiftc_lut_q(");
        emit_tensor_ref(c, b, n->in[0]);
        eb_printf(b, ", %s, ", emit_ttag(x));
        emit_tensor_ref(c, b, n->out[0]);
        eb_printf(b, ", %s, %d, lut_%d);\n", emit_ttag(y), ka_numel(x), k);
        break;
    case OP_SOFTMAX: {
        int32_t outer, len, inner;
        ka_softmax(g, n, &outer, &len, &inner);
        eb_puts(b, "    shiftc_softmax_q(");
        emit_tensor_ref(c, b, n->in[0]);
        eb_printf(b, ", %s, ", emit_ttag(x));
        emit_tensor_ref(c, b, n->out[0]);
        eb_printf(b, ", %s, %ld, %d, %d, %d, exp_%d);\n", emit_ttag(y), (long)q->hi, outer, len, inner, k);
        break;
    }
    case OP_ADD:
        eb_puts(b, g->no_mul ? "    shiftc_add_nomul_q(" : "    shiftc_add_q(");
        emit_tensor_ref(c, b, n->in[0]);
        eb_printf(b, ", %s, ", emit_ttag(x));
        emit_tensor_ref(c, b, n->in[1]);
        eb_printf(b, ", %s, ", emit_ttag(&g->tensors[n->in[1]]));
        emit_tensor_ref(c, b, n->out[0]);
        eb_printf(b, ", %s, &qadd_%d, &bcast_%d);\n", emit_ttag(y), k, k);
        break;
    case OP_CONCAT:
        for (int i = 0; i < n->nin; i++) {
            int32_t outer, inner, row, offset;
            ka_concat(g, n, i, &outer, &inner, &row, &offset);
            eb_puts(b, g->no_mul ? "    shiftc_concat_nomul_q(" : "    shiftc_concat_q(");
            emit_tensor_ref(c, b, n->in[i]);
            eb_printf(b, ", %s, ", emit_ttag(&g->tensors[n->in[i]]));
            emit_tensor_ref(c, b, n->out[0]);
            eb_printf(b, ", %s, %d, %d, %d, %d, ", emit_ttag(y), outer, inner, row, offset);
            if (g->no_mul) {
                eb_printf(b, "%ld, %ld, %ld", (long)q->in_nm[i][0], (long)q->in_nm[i][1],
                          (long)q->in_nm[i][2]);
            } else {
                eb_i32(b, q->in_mult[i]);
                eb_puts(b, ", ");
                eb_i32(b, q->in_shift[i]);
            }
            eb_printf(b, ", %ld, %ld, %ld);\n", (long)y->q.zero, (long)q->lo, (long)q->hi);
        }
        break;
    case OP_TRANSPOSE: {
        int32_t rank, odims[6], xs[6];
        ka_transpose(g, n, &rank, odims, xs);
        eb_puts(b, wide(x) ? "    shiftc_transpose16_q(" : "    shiftc_transpose_q(");
        emit_tensor_ref(c, b, n->in[0]);
        eb_puts(b, ", ");
        emit_tensor_ref(c, b, n->out[0]);
        eb_printf(b, ", %d, tdims_%d, tstrides_%d);\n", rank, k, k);
        break;
    }
    case OP_SLICE: {
        int32_t outer, inner, row, offset;
        ka_slice(g, n, &outer, &inner, &row, &offset);
        eb_puts(b, "    shiftc_slice_q(");
        emit_tensor_ref(c, b, n->in[0]);
        eb_printf(b, ", %s, ", emit_ttag(x));
        emit_tensor_ref(c, b, n->out[0]);
        eb_printf(b, ", %d, %d, %d, %d);\n", outer, inner, row, offset);
        break;
    }
    default:
        return emit_fail(c, n, "no integer C kernel for op %s", ir_op_name(n->op));
    }
    return 0;
}
