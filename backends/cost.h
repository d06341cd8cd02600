/*
 * Cost model: what one weighted layer (Conv, Dense) costs on a target in a
 * given precision, before any code is emitted, so the precision search can
 * weigh candidates (algorithms.md section 5).
 *
 * The unrolled shift-add kernel (backends/emit_int.c) is one statement per
 * nonzero signed digit ("term") of the weight codes, per output channel a
 * requantize-clamp-store, and for Conv a loop over the output pixels
 * around the unrolled body.  Hence, per layer,
 *     flash        = flash_per_term * terms + flash_per_output * channels
 *                    + flash_per_layer
 *     instructions = pixels * (instr_per_term * terms
 *                              + instr_per_output * channels
 *                              + instr_per_pixel) + instr_per_layer
 * (Dense: pixels = rows, usually 1).  The coefficients of each target live
 * in its folder (backends/<target>/target.c, `.cost`), fitted by
 * tools/fit_costs.py on measured flash (size) and instruction counts of the
 * bundled models in several formats; the fit's residuals are printed by that
 * tool and checked by tests/costs.sh.  Everything that is not a weighted
 * layer (pools, adds, tables, the runtime) does not depend on the weight
 * format and enters as a per-model base (cost_base).
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
} CostModel;

typedef struct LayerCost {
    double flash;        /* bytes of code and constants */
    double instructions; /* per inference */
    double bops;         /* MACs * weight bits * input activation bits */
    double ram;          /* bytes of the layer's input and output activations */
} LayerCost;

/* The cost of weighted node n of g whose weight codes have `count` (nonzero
 * codes, terms = nonzero signed digits, shifted terms) over
 * its weight codes, weights of `wbits` storage bits, output activations of
 * act_bits and input activations of in_bits.  KS_UNROLLED only for now. */
LayerCost cost_layer(const Target *t, const Graph *g, const Node *n, KernelStyle k, const FmtCount *count,
                     int wbits, int act_bits, int in_bits);

/* Everything but the weighted layers (which cost_layer prices). */
LayerCost cost_base(const Target *t, const Graph *g);

#endif
