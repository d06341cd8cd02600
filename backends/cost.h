/*
 * Cost model: what one weighted layer (Conv, Dense) costs on a target in a
 * given precision, before any code is emitted, so the precision search can
 * weigh candidates (algorithms.md section 5).
 *
 * The unrolled shift-add kernel (backends/emit_int.c) sums the outputs in
 * register blocks of FMT_ROW_BLOCK rows: each input with a nonzero code in
 * any row of the block is loaded once ("v = x[OFF];"), then every nonzero
 * signed digit of the codes is one term ("a3 = a3 + v * 8 - v;"), a shift
 * for each term at a digit position above 0; per output channel a
 * requantize-clamp-store, and for Conv a loop over the output pixels
 * around the unrolled body.  Sparse formats (ternary, pot) load an input
 * for fewer terms than int8's ~2.2 per code, and pot's terms each carry a
 * shift: one coefficient per term cannot price them all (bench/costs.md),
 * so loads and shifts are priced apart.  Per layer, with the counts of
 * FmtCount (loads, terms, shifted terms),
 *     flash        = flash_per_load * loads + flash_per_term * terms
 *                    + flash_per_shift * shifted
 *                    + flash_per_output{,_dense} * channels + flash_per_layer
 *     instructions = pixels * (instr_per_load * loads
 *                              + instr_per_term * terms
 *                              + instr_per_shift * shifted
 *                              + instr_per_output * channels
 *                              + instr_per_pixel) + instr_per_layer
 * where flash_per_output_dense is the per-output flash of a Dense layer
 * (its requantize-store is a plain loop; a Conv's sits in the pixel loop
 * with a strided store: ~100 bytes against ~10-50; the instruction counts,
 * totals only, do not tell the two apart, bench/costs.md) and for Dense
 * pixels = rows (usually 1).  The coefficients of each target live
 * in its folder (backends/<target>/target.c, `.cost`), fitted by
 * tools/fit_costs.py on measured flash (size) and instruction counts of the
 * bundled models in several formats; the fit's residuals are printed by that
 * tool and checked by tests/costs.sh.  Everything that is not a weighted
 * layer (pools, adds, tables, the runtime) does not depend on the weight
 * format and enters as a per-model base (cost_base).
 *
 * The mac style (KS_TABLE, backends/emit_mac.c: int8 weight arrays and an
 * always-inlined runtime MAC kernel per layer) is priced by its own form,
 * independent of the weight codes (every format is one int8 per weight and
 * one multiply-accumulate per weight and output pixel):
 *     flash        = mac_flash_per_weight * weights
 *                    + mac_flash_per_output * channels  (bias, multiplier
 *                      and shift tables: 12 bytes, 16 in no-mul mode)
 *                    + mac_flash_per_layer{,_conv,_dw}  (the inlined kernel
 *                      of a Dense, Conv or depthwise Conv layer)
 *     instructions = pixels * (mac_instr_per_mac{,_dw} * MACs per pixel
 *                              + mac_instr_per_output * channels
 *                              + mac_instr_per_col * IC * KH * KW)
 *                    + mac_instr_per_pad * padded input elements
 *                    + mac_instr_per_layer
 * with MACs per pixel = channels * weights per output, the depthwise
 * coefficient for a Conv with one input and one output channel per group
 * (a direct loop, no SMLAD rows: ~67 instructions per output of a 3x3
 * on Cortex-M4, against ~1.7 per MAC for Dense/Conv), the im2col gather of a Conv's
 * patch per output pixel (IC * KH * KW codes; 0 for Dense and depthwise),
 * and a correction of the padded copy of a padded Conv's input: cost_base
 * prices it at instr_per_element for both styles, the runtime copy costs
 * less, so mac_instr_per_pad (the copy's fitted cost minus
 * instr_per_element) is negative.  A Dense layer whose codes all fit 4
 * bits (emit_mac_nibbles: FmtCount.over4 = 0) stores them two to a byte and
 * unpacks them in its loop: mac4_flash_per_weight and mac4_instr_per_mac
 * replace the per-weight and per-MAC coefficients; a Conv that SSE2
 * targets vectorise over output columns takes mac_instr_per_mac_cols (no
 * im2col gather: mac_instr_per_col does not apply).  Fitted by
 * `bench/mac.py --fit` on one-layer models of 21 shapes (bench/costs.md,
 * "The mac style").
 */
#ifndef SHIFTC_COST_H
#define SHIFTC_COST_H

#include <stdint.h>

#include "formats.h"
#include "ir.h"
#include "target.h"

typedef struct CostModel {
    double flash_per_term, flash_per_output, flash_per_layer;
    double instr_per_term, instr_per_output, instr_per_pixel, instr_per_layer;
    /* the rest of the model: bytes and instructions per element of each
       non-weighted node's output, plus a constant (runtime helpers) */
    double flash_base, flash_per_node;
    double instr_per_element;
    const char *source; /* one line: how the numbers were obtained */
    /* the load of each input (per register block) and the shift of each term at a
       digit position above 0, on top of the per-term cost */
    double flash_per_load, flash_per_shift;
    double instr_per_load, instr_per_shift;
    /* a Dense layer's per-output flash (flash_per_output is a Conv's) */
    double flash_per_output_dense;
    /* the mac style (KS_TABLE, above): flash per weight (its int8 code),
       per output channel (its constants) and per layer (the inlined
       kernel: Dense, Conv, depthwise Conv) */
    double mac_flash_per_weight, mac_flash_per_output;
    double mac_flash_per_layer, mac_flash_per_layer_conv, mac_flash_per_layer_dw;
    /* instructions per MAC (Dense/Conv, depthwise), per output value, per
       gathered patch code (Conv), per layer, and per padded input element
       (a correction of cost_base's price of the padded copy: may be
       negative) */
    double mac_instr_per_mac, mac_instr_per_mac_dw, mac_instr_per_output, mac_instr_per_col;
    double mac_instr_per_layer, mac_instr_per_pad;
    /* a nibble-packed Dense table's bytes per weight and instructions per MAC */
    double mac4_flash_per_weight, mac4_instr_per_mac;
    /* instructions per MAC of a Conv the runtime vectorises over output
       columns (shiftc_conv_cols_ok, SSE2 targets); 0: the target has no
       such kernel (mac_instr_per_mac prices every Conv) */
    double mac_instr_per_mac_cols;
    const char *mac_source; /* one line: how the mac_ numbers were obtained */
} CostModel;

typedef struct LayerCost {
    double flash;        /* bytes of code and constants */
    double instructions; /* per inference */
    double bops;         /* MACs * weight bits * input activation bits */
    double ram;          /* bytes of the layer's input and output activations */
} LayerCost;

/* The cost of weighted node n of g whose weight codes have `count` (loads,
 * terms = nonzero signed digits, shifted terms = terms at a digit
 * position above 0: fmt_count_codes), weights of `wbits` storage bits,
 * output activations of act_bits and input activations of in_bits, in
 * kernel style k (KS_UNROLLED: count matters; KS_TABLE: only whether a
 * Dense table packs two codes to a byte, count->over4 = 0; a NULL count
 * is an int8 table). */
LayerCost cost_layer(const Target *t, const Graph *g, const Node *n, KernelStyle k, const FmtCount *count,
                     int wbits, int act_bits, int in_bits);

/* Everything but the weighted layers (which cost_layer prices). */
LayerCost cost_base(const Target *t, const Graph *g);

#endif
