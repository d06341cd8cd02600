/*
 * The integer C of LSTM and GRU nodes (docs/rnn.md), called by emit_int.c:
 * the matrix-vector products of one time step with W and R baked in as
 * shift-add code (NAME_lK.c, split like Dense layers), the rest a call of
 * the runtime's shiftc_rnn_q, the loop the simulator runs too.
 */
#ifndef SHIFTC_EMIT_RNN_H
#define SHIFTC_EMIT_RNN_H

#include <stdint.h>

#include "emit_internal.h"

/* Scratch bytes of recurrent node n (the state and pre-activations). */
int64_t emit_rnn_scratch(const Graph *g, const Node *n);

/* Layer files, tables and the calls of node k (LSTM or GRU), one per
 * direction. */
int emit_rnn_node(EmitCtx *c, int k);

#endif
