/*
 * ir/backward.c: a double-precision forward pass and its backward pass
 * (reverse-mode gradients) over the IR, for the Hessian sensitivity
 * analysis (algorithms.md §4).
 *
 * The float interpreter (interp.c) is float32 on purpose -- it is the
 * reference for emitted code.  Hessian-vector products by differences of
 * gradients need double, so this file carries its own compact forward over
 * the same layout conventions (ir.h), and a backward for every op.
 *
 * Parameters: the weight and bias of every Conv and Dense node, and W, R
 * and B of every LSTM and GRU node (backpropagation through time, see
 * backward.c), laid out one after another in a flat double vector theta
 * (grad_param lists the blocks).  Everything else constant is frozen.  A GradWork holds one
 * sample's activations and their gradients; one per thread.
 *
 * Loss of one sample, on graph output 0:
 *   GRAD_LOSS_XENT: target[0] is the class index.  If the output is made by
 *     a Softmax node, -log p[class]; otherwise softmax + NLL of the logits.
 *   GRAD_LOSS_MSE:  target holds numel(output) values; mean over elements
 *     of (y - t)^2.
 */
#ifndef SHIFTC_GRAD_H
#define SHIFTC_GRAD_H

#include <stdint.h>

#include "ir.h"

typedef enum { GRAD_LOSS_XENT, GRAD_LOSS_MSE } GradLoss;

typedef struct GradParam {
    int node;       /* the Conv/Dense/LSTM/GRU node owning it */
    int tensor;     /* its constant tensor */
    int is_bias;    /* 0: weight (LSTM/GRU: W or R), 1: bias (LSTM/GRU: B) */
    int64_t offset; /* first scalar in theta */
    int64_t count;  /* scalars */
} GradParam;

typedef struct GradModel GradModel;
typedef struct GradWork GradWork;

/* Checks every op is supported and shapes are known; NULL with g->err set
 * otherwise.  The graph must outlive the model and stay unchanged. */
GradModel *grad_model_new(Graph *g, GradLoss loss);
void grad_model_free(GradModel *m);
const Graph *grad_graph(const GradModel *m);
int grad_nparams(const GradModel *m);
const GradParam *grad_param(const GradModel *m, int i);
int64_t grad_theta_size(const GradModel *m);
/* The parameters as read from the graph (owned by the model). */
const double *grad_theta0(const GradModel *m);
/* Scalars of one target (1 for cross-entropy, numel(output) for MSE). */
int64_t grad_target_size(const GradModel *m);

GradWork *grad_work_new(const GradModel *m);
void grad_work_free(GradWork *w);
/* Value buffer of tensor t (graph inputs: fill before grad_forward) and
 * the gradient of the last grad_backward's loss w.r.t. t (NULL for
 * constants). */
double *grad_work_val(GradWork *w, int t);
const double *grad_work_dval(const GradWork *w, int t);
/* frozen != 0: later forwards replay the branches (Relu masks, MaxPool
 * argmax, LSTM/GRU gate clips...) the last unfrozen forward recorded,
 * instead of choosing. */
void grad_work_freeze(GradWork *w, int frozen);

/* Forward with parameters theta; returns the loss for target (NULL:
 * forward only, returns 0). */
double grad_forward(const GradModel *m, GradWork *w, const double *theta, const double *target);
/* After grad_forward with a target: gradients of that loss, times scale,
 * ADDED to grad (theta-shaped, may be NULL), and activation gradients
 * stored in w (grad_work_dval). */
void grad_backward(const GradModel *m, GradWork *w, const double *theta, const double *target,
                   double scale, double *grad);

/* Mean loss over n samples (graph input 0: in_n values each, targets:
 * grad_target_size values each) and its gradient into grad (overwritten). */
double grad_batch(const GradModel *m, GradWork *w, const double *theta, const double *xs,
                  const double *targets, int n, double *grad);

/* Hessian-vector product of the mean loss, by central differences of
 * gradients with the branches of piecewise-linear ops frozen at theta (see
 * backward.c for the step and its error):
 *   hv = [g(theta + eps v) - g(theta - eps v)] / (2 eps).
 * tmp: 2 * grad_theta_size doubles of scratch.  Returns eps. */
double grad_hvp(const GradModel *m, GradWork *w, const double *theta, const double *v,
                const double *xs, const double *targets, int n, double *hv, double *tmp);

/* Hessian-vector product of one sample's loss (input x, target) w.r.t.
 * the activation tensor t (not a constant), the same way: hv = [g_t(a +
 * eps v) - g_t(a - eps v)] / (2 eps) with a = t's value, eps = 1e-5 |a| /
 * |v|, the nodes after t's producer re-run with frozen branches.  tmp:
 * numel(t) doubles.  Returns the sample's loss. */
double grad_act_hvp(const GradModel *m, GradWork *w, const double *theta, int t, const double *x,
                    const double *target, const double *v, double *hv, double *tmp);

#endif
