/*
 * The precision stage of `compile` and `eval`: with --budget or --policy,
 * the Hessian traces of the float model (sensitivity.h), the candidates and
 * the Pareto frontier (search.h), the policy's constraints and choice
 * (policy.h), and the chosen Precision written into the graph before it is
 * quantized.  Also prints the assignment and writes the report.
 */
#ifndef SHIFTC_MIXED_H
#define SHIFTC_MIXED_H

#include <stdio.h>

#include "cli.h"
#include "policy.h"
#include "refine.h"
#include "search.h"

#define MIXED_CLI_OPTIONS                                                                                       \
    {"budget", OPT_VALUE, "KIND=N",                                                                            \
     "choose each layer's precision: least total Omega within flash=BYTES (e.g. 24KiB), "                     \
     "instructions=N (1.5M), bits=AVG (average weight bits, 3.5) or bops=N; a second of these caps that "     \
     "total too (instructions=380K,flash=11KiB); ',ram=BYTES' also caps each layer's activation RAM", 0, 0,   \
     {0}, 0},                                                                                                  \
    {"policy", OPT_VALUE, "FILE.lua", "a Lua policy that constrains or makes the choice (docs/policies.md)", 0, \
     0, {0}, 0},                                                                                               \
    {"policy-arg", OPT_REPEAT, "KEY=VALUE", "a value for the policy's params table", 0, 0, {0}, 0}, \
    {"candidates", OPT_VALUE, "F,F,...", "weight formats the search may pick (default: every format)", 0, 0,    \
     {0}, 0},                                                                                                  \
    {"act-candidates", OPT_VALUE, "B,B,...",                                                                   \
     "activation bits the search may pick, from 4, 8, 16 (default: the --act-bits value)", 0, 0, {0}, 0},     \
    {"kernel-candidates", OPT_VALUE, "K,K",                                                                    \
     "kernel styles the search may pick per Conv/Dense layer, from unrolled, mac (default: unrolled)", 0, 0,    \
     {0}, 0},                                                                                                  \
    {"calib-labels", OPT_VALUE, "Y.npy",                                                                       \
     "labels of the calibration inputs for the Hessian (default: the float model's own top-1)", 0, 0, {0}, 0}, \
    {"sensitivity", OPT_VALUE, "S.json",                                                                       \
     "Hessian traces from 'shiftc sensitivity --json' instead of computing them", 0, 0, {0}, 0},            \
    {"refine", OPT_VALUE, "K",                                                                                 \
     "measure the K least-Omega frontier points under the budget and the uniform assignments that fit on the " \
     "calibration inputs (integer simulator) and keep the one closest to the float model (default 8; 0: "      \
     "least Omega)", 0, 0, {0}, 0},                                                                            \
    {"sens-samples", OPT_VALUE, "N", "calibration samples for the Hessian traces (default 200)", 0, 0, {0}, 0}, \
    {"probes", OPT_VALUE, "N", "maximum Hutchinson probes (default 100)", 0, 0, {0}, 0},                        \
    {"seed", OPT_VALUE, "S", "random seed of the probes (default 0)", 0, 0, {0}, 0},                            \
    {"report", OPT_VALUE, "DIR", "write DIR/index.html: the frontier, uniform points, accuracy at sampled points (eval), the per-layer table",  \
     0, 0, {0}, 0},                                                                                            \
    {"report-points", OPT_VALUE, "N",                                                                          \
     "eval --report: frontier points whose accuracy is measured (default 6)", 0, 0, {0}, 0}

typedef struct Mixed {
    int active;              /* --budget or --policy given */
    const char *model;
    const char *budget_text; /* NULL: none */
    Budget budget;
    double limit;            /* frontier cost limit (INFINITY: none) */
    const char *policy_path;
    const char *policy_args[CLI_MAX_REPEAT];
    int npolicy_args;
    WeightFormat formats[WF_COUNT];
    int nformats;            /* 0: all */
    int act_bits[3];
    int nact_bits;           /* 0: the graph's */
    KernelStyle kernels[2];  /* --kernel-candidates */
    int nkernels;            /* 0: unrolled only */
    const char *calib_labels;
    const char *sens_path;   /* --sensitivity */
    long samples, probes, seed, report_points, refine;
    const char *report_dir;
    /* results */
    SensResult sens;
    SearchSpace space;
    Frontier frontier;
    int chosen;              /* frontier point of least objective under the
                                budget, or the policy's pick */
    Refinement refined;      /* refined.n == 0: not refined */
    const int *choice;       /* the assignment applied: points[chosen] or
                                the refinement's winner */
    Policy *policy;
} Mixed;

/* Reads the options (MIXED_CLI_OPTIONS) of cmd.  Returns -1 on a usage
 * error (printed). */
int mixed_parse(CliCommand *cmd, Mixed *m);

/* When active: Hessian traces on the calibration samples, candidates,
 * policy, frontier, choice; writes the chosen Precision into g (whose
 * defaults -- act bits, clipping -- are already set).  Calibrates g.
 * Prints its own errors, prefixed with the model file.  Returns 0 or -1. */
int mixed_choose(Mixed *m, Graph *g, const Target *t, const float *calib, int ncalib);

/* The chosen assignment: a table (text) or a JSON member
 * `, "search": {...}` (json). */
void mixed_print(const Mixed *m, FILE *out, int json);

/* Accuracy of g quantized with some assignment, for the report: the
 * caller's measurement (eval), NaN when it cannot measure. */
typedef double (*MixedAccuracy)(void *ctx, Graph *g);

/* --report DIR: evaluates up to report_points frontier points and the
 * uniform assignments with acc (may be NULL: no accuracy), then writes the
 * page.  float_accuracy NaN when unknown.  Returns 0 or -1 (printed). */
int mixed_report(Mixed *m, Graph *g, MixedAccuracy acc, void *ctx, double float_accuracy);

void mixed_free(Mixed *m);

#endif
