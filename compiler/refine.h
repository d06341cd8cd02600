/*
 * Measured refinement of the precision choice.  Omega is a second-order
 * estimate of the loss a layer's quantization adds, summed over layers; it
 * ranks assignments well far from the budget but can misjudge the few
 * assignments that are close in cost (on the bundled MLP it gives the
 * logits layer 460x the first layer's trace per weight and so prefers int2
 * + int8 to int3 + int3, which is less accurate).  The refinement takes the
 * k frontier points of least Omega under the budget, and the uniform
 * assignments that fit, quantizes the model with each and runs the integer
 * simulator on the calibration inputs; the assignment whose outputs are
 * closest to the float model's (mean KL divergence of the softmax, or mean
 * squared error for a single output) wins, the least Omega on ties.
 */
#ifndef SHIFTC_REFINE_H
#define SHIFTC_REFINE_H

#include "ir.h"
#include "search.h"

typedef struct RefineEntry {
    int *choice;          /* per layer: candidate index (owned) */
    int frontier_index;   /* the frontier point, -1 for a uniform assignment */
    WeightFormat uniform; /* when frontier_index < 0 */
    double cost, omega;   /* on the frontier's cost kind */
    double divergence;    /* mean over the calibration inputs */
} RefineEntry;

typedef struct Refinement {
    int n;
    RefineEntry *e;
    int best;             /* index into e */
    int nsamples;
    const char *metric;   /* "kl" or "mse" */
} Refinement;

/* Measures the candidates described above on g (a load of s's model whose
 * node indices match) and fills r.  The float reference outputs come from
 * g's float interpreter, so g must not be quantized yet.  Leaves g's
 * precision set to the winner (not quantized again).  Prints errors,
 * prefixed with model; returns 0 or -1. */
int refine_choose(const SearchSpace *s, const Frontier *f, double limit, int k, Graph *g, const char *model,
                  const float *calib, int ncalib, Refinement *r);

/* "frontier point 12" or "uniform int3" */
void refine_label(const RefineEntry *e, char *buf, size_t len);

void refine_free(Refinement *r);

#endif
