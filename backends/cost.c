/*
 * Cost model (cost.h): flash, instructions, bit operations and activation
 * RAM of one weighted layer from its geometry and the counts of its weight
 * codes (the inputs its register blocks load, the codes' nonzero signed
 * digits or "terms", and the terms at a digit position above 0,
 * "shifted"), and of the rest of the model
 * from its node outputs.  The coefficients are per target (`.cost` in
 * backends/<target>/target.c), fitted by tools/fit_costs.py; the formula
 * here and the one in tools/fit_costs.py (predict_layer, predict_base) must
 * stay the same.
 *
 *   pixels   = Conv: N * OH * OW (every output dimension but the channels);
 *              Dense: the product of the output's leading dimensions (rows);
 *              LSTM/GRU: the time steps
 *   channels = Conv: OC; Dense: the output's last dimension; LSTM/GRU: the
 *              gate rows of W and R (2 * directions * gates * hidden)
 *   flash        = fld * loads + fpt * terms + fps * shifted
 *                  + fpo * channels + fpl
 *   instructions = pixels * (ild * loads + ipt * terms + ips * shifted
 *                            + ipo * channels + ipp) + ipl
 *              (fpo: flash_per_output_dense for a Dense layer,
 *              flash_per_output for a Conv)
 *   bops         = MACs * wbits * in_bits
 *   ram          = input + output activation bytes (1 per element up to
 *                  8 bits, 2 above)
 *
 * The mac style (KS_TABLE) has its own form (cost.h), from the geometry
 * alone; depthwise = a Conv whose groups have one input and one output
 * channel each:
 *   flash        = mfw * channels * per_out + mfo * channels
 *                  + mfl (Dense) | mfl_conv (Conv) | mfl_dw (depthwise)
 *   instructions = pixels * (imac * channels * per_out + imo * channels
 *                            + icol * col) + ipad * padded + iml
 *              (imac: mac_instr_per_mac_dw for depthwise; col: a Conv's
 *              patch, IC * KH * KW, 0 for Dense and depthwise; padded: the
 *              elements of a padded Conv's padded input copy, as cost_base
 *              counts them)
 * and bench/mac.py (mac_predict) computes the same.  LSTM/GRU layers have no
 * mac form (the mac emitter does not handle them): they are priced as
 * unrolled whatever k says.
 *
 * 16-bit activations: a term reads a 16-bit input (same instruction count,
 * a longer encoding on some ISAs) and the requantization clamps to a wider
 * range; the fit found no difference worth a coefficient (bench/costs.md),
 * so act_bits and in_bits enter only bops and ram.
 *
 * The rest of the model (cost_base): every non-weighted node that is not a
 * view costs flash_per_node bytes (its call and arguments) and
 * instr_per_element instructions per element of its outputs; the padded
 * copy of a padded Conv's input counts as such elements too (it is the same
 * work in every format); flash_base is the runtime helpers, the run
 * function and the tables.
 */
#include "cost.h"
#include "emit_mac.h"
#include "kernel_args.h"
#include "shiftc_rt.h"

/* A target without coefficients (the host, whose folder is registered in
 * targets.c) borrows those of the ISA it runs on. */
static const CostModel *model_of(const Target *t)
{
    if (t && t->cost)
        return t->cost;
#if defined(__aarch64__)
    return target_aarch64.cost;
#elif defined(__riscv) && __riscv_xlen == 64
    return target_riscv64.cost;
#else
    return target_x86_64.cost;
#endif
}

static int64_t act_bytes(int64_t elements, int bits)
{
    return elements * (bits > 8 ? 2 : 1);
}

/* pixels, channels and weights per output of weighted node n */
static void geometry(const Graph *g, const Node *n, int64_t *pixels, int64_t *channels, int64_t *per_out)
{
    const Tensor *w = n->nin > 1 && n->in[1] >= 0 ? &g->tensors[n->in[1]] : NULL;
    int64_t px = 1, ch = 1, po = 1;
    if (ir_op_is_recurrent(n->op)) {
        /* the steps are the pixels; every gate row of W and of R is an
           output, requantized into its pre-activation slot each step */
        const Tensor *x = &g->tensors[n->in[0]], *r = &g->tensors[n->in[2]];
        *pixels = x->rank > 0 && x->dims[0] > 0 ? x->dims[0] : 1;
        *channels = 2 * (w->dims[0] * w->dims[1]);
        *per_out = (ir_numel(w) + ir_numel(r)) / *channels;
        return;
    }
    const Tensor *y = &g->tensors[n->out[0]];
    if (n->op == OP_CONV) {
        /* [N, OC, OH, OW] or [N, OC, L] */
        for (int d = 0; d < y->rank; d++) {
            if (d == 1)
                ch = y->dims[d];
            else
                px *= y->dims[d];
        }
    } else {
        /* Dense: [..., N] */
        for (int d = 0; d + 1 < y->rank; d++)
            px *= y->dims[d];
        ch = y->rank > 0 ? y->dims[y->rank - 1] : 1;
    }
    if (w) /* Conv [OC, IC/group, KH, KW], Dense [N, K] */
        for (int d = 1; d < w->rank; d++)
            po *= w->dims[d];
    *pixels = px > 0 ? px : 1;
    *channels = ch > 0 ? ch : 1;
    *per_out = po > 0 ? po : 1;
}

/* Elements of the zero-padded copy of a padded Conv's input, 0 otherwise
 * (cost_base prices the copy). */
static double padded_elements(const Graph *g, const Node *n)
{
    const int64_t *p = n->a.pads;
    if (n->op != OP_CONV || !(p[0] || p[1] || p[2] || p[3]))
        return 0;
    const Tensor *x = &g->tensors[n->in[0]];
    if (x->rank < 3)
        return 0;
    int64_t h = x->rank >= 4 ? x->dims[2] : 1, w = x->dims[x->rank - 1];
    return (double)x->dims[0] * (double)x->dims[1] * (double)(h + p[0] + p[2]) * (double)(w + p[1] + p[3]);
}

LayerCost cost_layer(const Target *t, const Graph *g, const Node *n, KernelStyle k, const FmtCount *count,
                     int wbits, int act_bits, int in_bits)
{
    int64_t loads = count ? count->loads : 0, terms = count ? count->terms : 0;
    int64_t shifted = count ? count->shifted : 0;
    LayerCost c = {0, 0, 0, 0};
    const CostModel *m = model_of(t);
    int64_t pixels, channels, per_out;
    geometry(g, n, &pixels, &channels, &per_out);
    loads = loads > 0 ? loads : 0;
    terms = terms > 0 ? terms : 0;
    shifted = shifted > 0 ? shifted : 0;
    double macs = (double)pixels * (double)channels * (double)per_out;
    c.bops = macs * wbits * in_bits;
    const Tensor *x = &g->tensors[n->in[0]];
    int64_t out_n = 0; /* an LSTM/GRU may leave out some of its outputs */
    for (int o = 0; o < n->nout; o++)
        out_n += n->out[o] >= 0 ? ir_numel(&g->tensors[n->out[o]]) : 0;
    c.ram = (double)(act_bytes(ir_numel(x), in_bits) + act_bytes(out_n, act_bits));
    if (!m)
        return c;
    if (k == KS_TABLE && !ir_op_is_recurrent(n->op)) {
        const Tensor *w = &g->tensors[n->in[1]];
        /* the runtime's depthwise loop: one input and one output channel
           per group (shiftc_conv_mac_q) */
        int dw = n->op == OP_CONV && w->rank >= 2 && w->dims[1] == 1 && n->a.group == w->dims[0];
        double fixed = n->op != OP_CONV ? m->mac_flash_per_layer : dw ? m->mac_flash_per_layer_dw
                                                                        : m->mac_flash_per_layer_conv;
        int nib = count && emit_mac_nibbles(n->op, in_bits > 8, per_out, count->over4);
        c.flash = (nib ? m->mac4_flash_per_weight : m->mac_flash_per_weight) * (double)channels * (double)per_out +
                  m->mac_flash_per_output * (double)channels + fixed;
        double imac = dw ? m->mac_instr_per_mac_dw : nib ? m->mac4_instr_per_mac : m->mac_instr_per_mac;
        double col = n->op == OP_CONV && !dw ? (double)per_out * (double)n->a.group : 0;
        if (n->op == OP_CONV && !dw && m->mac_instr_per_mac_cols > 0) {
            shiftc_geom ge;
            ka_geom(g, n, &ge);
            int xt = in_bits > 8 ? SHIFTC_I16 : SHIFTC_U8, yt = act_bits > 8 ? SHIFTC_I16 : SHIFTC_U8;
            if (shiftc_conv_cols_ok(&ge, xt, yt, t->dsp)) {
                imac = m->mac_instr_per_mac_cols;
                col = 0;
            }
        }
        c.instructions = (double)pixels * (imac * (double)channels * (double)per_out +
                                           m->mac_instr_per_output * (double)channels + m->mac_instr_per_col * col) +
                         m->mac_instr_per_pad * padded_elements(g, n) + m->mac_instr_per_layer;
        return c;
    }
    /* (LSTM/GRU rows are priced like Dense outputs: not fitted on them) */
    double fpo = n->op == OP_CONV ? m->flash_per_output : m->flash_per_output_dense;
    c.flash = m->flash_per_load * (double)loads + m->flash_per_term * (double)terms +
              m->flash_per_shift * (double)shifted + fpo * (double)channels + m->flash_per_layer;
    c.instructions = (double)pixels * (m->instr_per_load * (double)loads + m->instr_per_term * (double)terms +
                                       m->instr_per_shift * (double)shifted + m->instr_per_output * (double)channels +
                                       m->instr_per_pixel) +
                     m->instr_per_layer;
    return c;
}

LayerCost cost_base(const Target *t, const Graph *g)
{
    LayerCost c = {0, 0, 0, 0};
    const CostModel *m = model_of(t);
    double elements = 0;
    int nodes = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (ir_op_is_weighted(n->op) || ir_is_view(g, n)) /* a view has no code */
            continue;
        nodes++;
        for (int o = 0; o < n->nout; o++)
            if (n->out[o] >= 0) {
                const Tensor *y = &g->tensors[n->out[o]];
                int64_t e = ir_numel(y);
                elements += (double)e;
                c.ram += (double)act_bytes(e, y->q.bits > 0 ? y->q.bits : 8);
            }
    }
    /* a padded Conv copies its input into a padded scratch first: the same
       work in every format, so it is priced here, per element */
    for (int i = 0; i < g->nnodes; i++)
        elements += padded_elements(g, &g->nodes[i]);
    if (!m)
        return c;
    c.flash = m->flash_base + m->flash_per_node * nodes;
    c.instructions = m->instr_per_element * elements;
    return c;
}
