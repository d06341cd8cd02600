/*
 * Per-layer Hessian sensitivity (HAWQ-V2, algorithms.md §4): Hutchinson
 * traces of the diagonal Hessian blocks of each weight tensor, and the
 * expected loss increase Omega of each weight format.
 *
 * One Rademacher probe v spans every weight of every layer (biases stay
 * fixed): a Conv or Dense node, or with SensOptions.recurrent an LSTM or
 * GRU node, whose W and R form one layer (one trace over both); Hv comes from grad_hvp (ir/grad.h), and layer i reads
 * v_i . (Hv)_i, an unbiased estimate of Tr(H_ii).  Probes run on threads;
 * probe p draws from its own stream seeded from (seed, p), and the stopping
 * rule walks the probes in index order, so results depend on the seed only
 * -- not on the thread count.
 */
#ifndef SHIFTC_SENSITIVITY_H
#define SHIFTC_SENSITIVITY_H

#include <stdint.h>

#include "formats.h"
#include "grad.h"

typedef struct SensOptions {
    int probes;     /* maximum probes (default 100) */
    int min_probes; /* never stop before (default 10) */
    double tol;     /* stop when every layer's running mean moved < tol relative */
    int threads;
    uint64_t seed;
    /* 1: LSTM and GRU nodes are layers too (W and R together, the bias B
       excluded like a Conv/Dense bias); 0: Conv and Dense only, what the
       precision search (search.c) builds candidates for */
    int recurrent;
    /* called from the main thread after each round of probes, may be NULL */
    void (*progress)(void *ctx, int done, int max);
    void *ctx;
} SensOptions;

/* Weight formats for Omega.  The formats issue adds rows to the table in
 * sensitivity.c (name + squared quantization error of a weight tensor). */
#define SENS_MAX_FORMATS WF_COUNT

typedef struct SensLayer {
    int node;         /* Conv/Dense (or LSTM/GRU) node */
    int param;        /* its weight's index in grad_param() (LSTM/GRU: W) */
    int param_r;      /* LSTM/GRU: R's index in grad_param(), else -1 */
    int64_t n;        /* weights (LSTM/GRU: W and R) */
    double trace, se; /* Hutchinson mean of Tr(H_ii) and its standard error */
    double omega[SENS_MAX_FORMATS]; /* (trace/n) * |Q_f(W) - W|^2 per format
                                       (LSTM/GRU: W and R, per gate row) */
    /* sens_act_traces: the layer's input activation */
    int act_tensor;           /* -1 before sens_act_traces */
    int64_t act_n;            /* its elements */
    double act_trace, act_se; /* mean over samples of Tr(d2 L_s / da2), std error */
} SensLayer;

typedef struct SensResult {
    SensLayer *layers;
    int nlayers;
    int probes;   /* probes used */
    double loss;  /* mean loss at theta0 */
    double eps;   /* finite-difference step of the last probe */
} SensResult;

int sens_nformats(void);
const char *sens_format_name(int f);

/* Runs the estimator on n samples (graph input 0, xs) with targets
 * (grad_target_size each).  Returns 0 or -1 (no layer: no Conv/Dense, nor
 * LSTM/GRU with opt->recurrent). */
int sens_hutchinson(const GradModel *m, const double *xs, const double *targets, int n,
                    const SensOptions *opt, SensResult *r);
void sens_result_free(SensResult *r);

/* Activation sensitivity (algorithms.md §4): for each layer of r (from
 * sens_hutchinson), Hutchinson on the Hessian of each sample's loss w.r.t.
 * the layer's input tensor, `probes` Rademacher probes per sample, averaged
 * over the samples; the standard error is over the per-sample estimates.
 * Samples run on opt->threads threads; the result depends on opt->seed
 * only. */
void sens_act_traces(const GradModel *m, const double *xs, const double *targets, int n, int probes,
                     const SensOptions *opt, SensResult *r);

/* Squared quantization error of weight format f over the output channels
 * (dim 0) of w, as the compiler quantizes them; adds what the codes' shift-add
 * code is made of to *count when not NULL. */
double sens_qerr2(WeightFormat f, const float *w, int64_t nchan, int64_t per_chan, int64_t per_group,
                  FmtCount *count);
/* The same over every weight tensor of layer node n: Conv/Dense in[1]
 * (channels dim 0); LSTM/GRU W (in[1]) and R (in[2]), one channel per gate
 * row (dims[0] * dims[1] rows of dims[2]).  0 when the weights have no data.
 * Adds the codes' counts to *count when not NULL. */
double sens_node_qerr2(const Graph *g, const Node *n, WeightFormat f, FmtCount *count);

/* Targets of the first `count` samples from a labels file: int64/int32
 * classes within the output's size (GRAD_LOSS_XENT) or float values, the
 * output's size per sample (GRAD_LOSS_MSE); the file must hold at least
 * `need` samples' worth.  *loss is the loss, or with pick_loss is set from
 * the file (float: MSE, else cross-entropy).  NULL with err naming the file
 * on a bad file. */
double *sens_read_targets(const char *path, const Graph *g, GradLoss *loss, int pick_loss, int need, int count,
                          char *err, size_t errlen);

/* Reads the traces of `shiftc sensitivity --json` (PATH) for the weighted
 * layers of g, matched by name (their weight counts must agree); Omega is
 * recomputed, the activation traces read when present.  Returns 0, or -1
 * with err naming the file. */
int sens_read_json(const char *path, const Graph *g, SensResult *r, char *err, size_t errlen);

/* A progress bar on stderr ("\rsensitivity: [####   ] 12/100 probes"), for
 * SensOptions.progress. */
void sens_progress_bar(void *ctx, int done, int max);

#endif
