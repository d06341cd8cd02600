/* Kernel parameters of LSTM and GRU nodes (rnn.h). */
#include <string.h>

#include "rnn.h"

void ir_rnn_params(const Graph *g, const Node *n, shiftc_f32_rnn *p)
{
    const Tensor *x = &g->tensors[n->in[0]];
    memset(p, 0, sizeof *p);
    p->seq = (int32_t)x->dims[0];
    p->batch = (int32_t)x->dims[1];
    p->input = (int32_t)x->dims[2];
    p->hidden = (int32_t)n->a.hidden_size;
    p->ndir = n->a.direction == RNN_BIDIRECTIONAL ? 2 : 1;
    p->reverse = n->a.direction == RNN_REVERSE;
    p->clip = n->a.rnn_clip;
    p->input_forget = n->a.input_forget;
    p->linear_before_reset = n->a.linear_before_reset;
}

int32_t ir_rnn_scratch(const Graph *g, const Node *n)
{
    shiftc_f32_rnn p;
    ir_rnn_params(g, n, &p);
    return n->op == OP_LSTM ? shiftc_f32_lstm_scratch(&p) : shiftc_f32_gru_scratch(&p);
}
