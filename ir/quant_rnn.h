/*
 * Quantized LSTM and GRU nodes (docs/rnn.md): the integer constants of one
 * recurrent node, built by quant_rnn_node (called by ir_quantize) and read,
 * unchanged, by the simulator and the emitter through ka_rnn.
 *
 * Fixed formats: hidden state int16 Q15, LSTM cell state int16
 * Q(c_frac), gate pre-activations int32 Q(pre_frac), gate values Q15 from
 * tables (runtime/shiftc_rt.h, shiftc_rnn_q).  W and R are quantized per
 * gate row in the node's weight format by the same per-channel code as
 * Conv and Dense (fmt_weight_channel), each row's int32 accumulator
 * requantized into Q(pre_frac) by its own multiplier.
 *
 * A bidirectional node has two sets of these constants (QRnnDir), one
 * per direction, and shares the formats, tables and output scales.
 *
 * Scope: batch 1, direction forward, reverse or bidirectional, no
 * peepholes (P absent or zero), no sequence_lens, the default activations,
 * initial states absent or constant; GRU with linear_before_reset 0 or 1;
 * LSTM input_forget and clip supported.  Anything else is refused with an
 * error naming the node.
 */
#ifndef SHIFTC_QUANT_RNN_H
#define SHIFTC_QUANT_RNN_H

#include <stdint.h>

#include "ir.h"
#include "shiftc_rt.h"

#define QRNN_PRE_FRAC 12 /* pre-activations in Q12: the tables cover [-8, 8) */
#define QRNN_C_FRAC 11   /* LSTM cell state int16 in Q11: |c| < 16 */
#define QRNN_H_FRAC 15   /* hidden state int16 in Q15 */

/* The constants of one direction: its slice of W, R, B and the initial
 * states. */
typedef struct QRnnDir {
    int reverse;      /* runs t = T-1 .. 0 */
    int32_t *wq, *rq; /* codes [G*H][I] and [G*H][H], ONNX gate order */
    float *wscale, *rscale;          /* per row: w ~= scale * code */
    int32_t *wmult, *wshift, *rmult, *rshift; /* per row, Q31 form */
    int32_t *wnm, *rnm;              /* no-mul: {e1, s2, e2} per row */
    int32_t *bias;    /* 4H pre-activation slots (shiftc_rnn), Q(pre_frac) */
    int16_t *h0, *c0; /* initial state, NULL when zero */
    int64_t acc_bound_w, acc_bound_r; /* largest |accumulator| of W x, R h */
} QRnnDir;

typedef struct QRnn {
    int gru;          /* 0: LSTM, 1: GRU */
    int lbr;          /* GRU linear_before_reset */
    int input_forget; /* LSTM coupled input/forget gate */
    int32_t ndir;     /* 1, or 2 for bidirectional (dir[0] forward, dir[1] reverse) */
    int32_t T, I, H, G; /* steps, input size, hidden size, gates (4 or 3) */
    int32_t pre_frac, c_frac;
    int32_t pre_lim;  /* clamp of gate pre-activations (ONNX clip), codes */
    double slope;     /* HitNet sloping factor: gates are f(x / slope) */
    int16_t *sig, *tnh; /* SHIFTC_RNN_TAB_N entries, Q15 */
    /* outputs Y, Y_h, Y_c (both directions): h or c to the output codes */
    int32_t ym[3], ys[3], ynm[3][3], ylo[3], yhi[3];
    QRnnDir dir[2];   /* the first ndir are used */
} QRnn;

/* Builds n->q->rnn (n->q allocated by the caller) for an LSTM or GRU node;
 * may raise the scale of an output in no-mul mode (as Add does) so its
 * two-term multiplier is exact.  slope: HitNet's sloping factor (1: none).
 * Returns 0, or -1 with g->err set ("... not supported" for what is out of
 * scope). */
int quant_rnn_node(Graph *g, Node *n, double slope);

void quant_rnn_free(QRnn *r);

/* NULL when node n (LSTM/GRU) of a quantized graph is ready for the
 * simulator and the emitter, else what is missing. */
const char *quant_rnn_problem(const Graph *g, const Node *n);

/* The runtime's descriptions of direction d of node n (one shiftc_rnn_q
 * call): the step configuration and, for the simulator, the reference
 * matrix-vector products.  Pointers refer to n->q->rnn.  ref may be NULL. */
void ka_rnn(const Graph *g, const Node *n, int d, shiftc_rnn *r, shiftc_rnn_ref *ref);

/* Tensor index of output k (0 Y, 1 Y_h, 2 Y_c) or -1 when absent. */
int quant_rnn_output(const Node *n, int k);

#endif
