/* The invariants of a quantized graph that the integer simulator and the
 * emitter both rely on, checked in one place so the two accept exactly the
 * same graphs. */
#include <stddef.h>

#include "ir.h"
#include "quant_rnn.h"

int ir_tensor_quantized(const Tensor *t)
{
    return t->q.type == QT_I8 || t->q.type == QT_U8 || t->q.type == QT_I16 || t->q.type == QT_U16;
}

const char *ir_quantized_problem(const Graph *g, const Node *n)
{
    if (!n->q)
        return "node is not quantized (run ir_quantize first)";
    if (ir_op_is_recurrent(n->op)) /* several outputs */
        return quant_rnn_problem(g, n);
    if (n->nout != 1 || n->out[0] < 0 || n->nin < 1 || n->in[0] < 0)
        return "expected one output and at least one input";
    const Tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    if (!ir_tensor_quantized(y))
        return "output is not quantized";
    int ndata = n->op == OP_ADD || n->op == OP_CONCAT ? n->nin : 1;
    for (int j = 0; j < ndata; j++) {
        if (n->in[j] < 0)
            return "a data input is missing";
        const Tensor *t = &g->tensors[n->in[j]];
        if (!ir_tensor_quantized(t) || (t->kind == TK_CONST && !t->qdata))
            return "a data input is not quantized";
    }
    switch (n->op) {
    case OP_CONV:
    case OP_DENSE:
        if (!n->q->wq || !n->q->bias || !n->q->mult || !n->q->shift || (g->no_mul && !n->q->nm))
            return "missing weight constants";
        if (n->nin < 2 || n->in[1] < 0)
            return "missing weights";
        return NULL;
    case OP_RELU:
    case OP_CLIP:
    case OP_LEAKYRELU:
    case OP_SIGMOID:
    case OP_TANH:
        return n->q->lut ? NULL : "missing lookup table";
    case OP_SOFTMAX:
        return n->q->exp_lut && (y->q.type == QT_U8 || y->q.type == QT_U16)
                   ? NULL
                   : "missing exp table or output not unsigned";
    case OP_MAXPOOL:
    case OP_AVGPOOL:
    case OP_GLOBALAVGPOOL:
    case OP_RESHAPE:
    case OP_TRANSPOSE:
    case OP_SLICE:
        return x->q.type == y->q.type ? NULL : "input and output storage types differ";
    case OP_ADD:
        return n->nin == 2 ? NULL : "Add needs 2 inputs";
    case OP_CONCAT:
        return NULL;
    default:
        return "no integer kernel for this op";
    }
}
