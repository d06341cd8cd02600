/*
 * Mixed-precision search (algorithms.md section 5): for every weighted layer
 * (Conv, Dense) a list of candidates -- weight format x activation bits x
 * kernel style -- each with its perturbation Omega (from the Hessian
 * traces of compiler/sensitivity.h) and its costs (from the target's cost
 * model, backends/cost.h); then the exact Pareto frontier of total cost vs
 * total objective over one cost (a multiple-choice knapsack with dominance
 * pruning), and the point of least objective under a budget.
 *
 * Layers tied into a group (the weighted producers of one residual Add, or
 * by a policy) take the same candidate index; the frontier treats a group
 * as one layer whose Omega and costs are the sums of its members'.
 *
 * Lua policies (compiler/policy.h) see and change a SearchSpace between
 * search_build and search_frontier: they clear Candidate.allowed, rewrite
 * Candidate.objective and tie layers.
 */
#ifndef SHIFTC_SEARCH_H
#define SHIFTC_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "cost.h"
#include "ir.h"
#include "sensitivity.h"
#include "target.h"

typedef enum { COST_FLASH, COST_INSTRUCTIONS, COST_BITS, COST_BOPS, COST_RAM, COST_COUNT } CostKind;

/* "flash", "instructions", "bits", "bops", "ram" */
const char *cost_kind_name(CostKind k);
/* "bytes", "instructions", "bits", "BOPs", "bytes" */
const char *cost_kind_unit(CostKind k);
/* 0 and *k set, or -1 */
int cost_kind_parse(const char *name, CostKind *k);

typedef struct Candidate {
    WeightFormat weights;
    int act_bits;            /* bits of the layer's output activation */
    KernelStyle kernel;
    double omega;            /* omega_w + omega_a */
    double omega_w;          /* (Tr/n) * |Q(W) - W|^2 */
    double omega_a;          /* activation part: act trace of the consumer
                                * Delta^2 / 12, 0 when act bits are not searched */
    double objective;        /* what the frontier minimises: omega, unless a
                                policy's objective hook replaced it */
    double cost[COST_COUNT]; /* flash bytes, instructions, weight bits
                                (params * format bits), BOPs, RAM bytes */
    int64_t terms;           /* nonzero signed digits of the weight codes */
    int allowed;             /* 1 unless a policy or --budget ram= excluded it */
} Candidate;

typedef struct SearchLayer {
    int node;                /* Conv/Dense node of the graph */
    const char *name;        /* the node's name (owned by the graph) */
    const char *op;          /* "Conv", "Dense" */
    int64_t params, macs;
    double trace, trace_se;  /* Hutchinson Tr(H_ii) and its standard error */
    double act_trace;        /* of the layer's output activation as the next
                                layer's input, 0 when not estimated */
    int ncand;
    Candidate *cand;         /* format-major, then activation bits, then
                                kernel style in the order of
                                SearchOptions.kernels (search_build) */
    int group;               /* index of the first layer of its tie group
                                (itself when untied) */
} SearchLayer;

typedef struct SearchSpace {
    Graph *g;
    const Target *target;
    int nlayers;
    SearchLayer *layers;
    LayerCost base;          /* everything outside the weighted layers */
    int64_t params;          /* weights over all layers */
} SearchSpace;

typedef struct SearchOptions {
    const WeightFormat *formats; /* candidate weight formats (NULL: all) */
    int nformats;
    const int *act_bits;         /* candidate activation bits (NULL: {8}) */
    int nact_bits;
    const KernelStyle *kernels;  /* candidate kernel styles (NULL:
                                    {KS_UNROLLED}); KS_TABLE is offered to
                                    Conv/Dense layers only (the mac emitter
                                    has no LSTM/GRU) */
    int nkernels;
} SearchOptions;

/* Candidates of every weighted layer of g (quantization parameters of the
 * activations must already be calibrated: ir_calibrate), Omega from sens,
 * costs from t's cost model; ties the weighted producers of each Add. */
int search_build(SearchSpace *s, Graph *g, const Target *t, const SensResult *sens, const SearchOptions *o,
                 char *err, size_t errlen);
void search_free(SearchSpace *s);

/* Ties layers a and b (and their groups) together.  Fails when their
 * candidate lists differ. */
int search_tie(SearchSpace *s, int a, int b, char *err, size_t errlen);

/* A budget: "flash=24KiB", "instructions=1.2M", "bits=3.5" (average weight
 * bits), "bops=2G"; optionally a second summed cost as a cap
 * ("instructions=380K,flash=11KiB": least Omega within both, the frontier
 * over the first), and ",ram=8KiB" (peak activation RAM, a max: excludes
 * candidates above it).  Suffixes K, M, G (x1000) and KiB, MiB (x1024);
 * "B" is allowed after a size. */
typedef struct Budget {
    CostKind kind;
    double value;            /* in the kind's unit; bits: average per weight */
    CostKind cap_kind;       /* the second summed cost, COST_COUNT: none */
    double cap_value;        /* in its unit, as value */
    double ram;              /* 0: no RAM limit */
} Budget;
int budget_parse(const char *text, Budget *b, char *err, size_t errlen);
/* The limit on a frontier point's total cost that b means for s
 * (bits: value * params). */
double budget_limit(const SearchSpace *s, const Budget *b);
/* The same for the cap (INFINITY without one). */
double budget_cap_limit(const SearchSpace *s, const Budget *b);
/* Applies the RAM limit: clears allowed of candidates above it. */
void budget_restrict(SearchSpace *s, const Budget *b);

typedef struct FrontierPoint {
    double cost;             /* total, base included */
    double objective;        /* total objective (sum over layers) */
    double omega;            /* total Omega */
    int *choice;             /* per layer: candidate index */
} FrontierPoint;

typedef struct Frontier {
    CostKind kind;
    CostKind cap_kind;       /* every point within cap of this cost (COST_COUNT: no cap) */
    double cap;
    int npoints;
    FrontierPoint *points;   /* ascending cost, strictly descending objective */
} Frontier;

/* The exact frontier over cost kind k (not COST_RAM) among allowed
 * candidates.  Fails (err) when some group has no allowed candidate. */
int search_frontier(const SearchSpace *s, CostKind k, Frontier *f, char *err, size_t errlen);
/* The same among the assignments whose total cost of cap_kind (COST_COUNT:
 * no cap) is at most cap: exact (dominance over both costs and the
 * objective).  Fails when no assignment fits the cap, or when more than
 * SEARCH_MAX_PARTIALS partial assignments would have to be kept. */
enum { SEARCH_MAX_PARTIALS = 20000000 };
int search_frontier_capped(const SearchSpace *s, CostKind k, CostKind cap_kind, double cap, Frontier *f,
                           char *err, size_t errlen);
void frontier_free(Frontier *f);

/* Index of the point of least objective with cost <= limit, or -1 (then
 * points[0].cost is the smallest feasible budget). */
int frontier_pick(const Frontier *f, double limit);

/* Sets weights, act_bits and kernel of every layer's node in g (s's graph
 * or another load of the same model: same node indices), and act_bits of
 * the single-input nodes between it and the next weighted layer, to the
 * chosen candidates. */
void search_apply(const SearchSpace *s, const int *choice, Graph *g);

/* The uniform assignment: every layer at weight format w and act bits
 * act_bits (kernel: the first candidate with both).  Returns 0 with choice
 * filled, or -1 when some layer has no such candidate (or, allowed_only,
 * none that is allowed). */
int search_uniform(const SearchSpace *s, WeightFormat w, int act_bits, int allowed_only, int *choice);

/* Totals of an assignment. */
void search_totals(const SearchSpace *s, const int *choice, double cost[COST_COUNT], double *omega);

#endif
