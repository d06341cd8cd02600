/*
 * LSTM and GRU nodes seen from the kernels: the shiftc_f32_rnn parameters
 * (runtime/shiftc_f32.h) of a node after shape inference, shared by the
 * float interpreter and the float emitter so they cannot disagree.
 */
#ifndef SHIFTC_RNN_H
#define SHIFTC_RNN_H

#include "ir.h"
#include "shiftc_f32.h"

/* Sizes, direction and options of LSTM/GRU node n. */
void ir_rnn_params(const Graph *g, const Node *n, shiftc_f32_rnn *p);

/* Scratch floats its kernel needs. */
int32_t ir_rnn_scratch(const Graph *g, const Node *n);

#endif
