/*
 * Shared by the unit tests that run emitted programs: the output codes a
 * runner wrote for n samples, compared byte for byte with the integer
 * simulator's on the same float inputs.  Include after cmocka.h.
 */
#ifndef SHIFTC_TEST_QSIM_CHECK_H
#define SHIFTC_TEST_QSIM_CHECK_H

#include <stdlib.h>

#include "ir.h"
#include "kernel_args.h"

/* out (len bytes): the runner's output codes, sample after sample, every
 * output in order; s: the n float samples of input 0 it ran on. */
static void expect_codes_match_qsim(const Graph *g, const float *s, int n, const char *out, size_t len)
{
    const Tensor *x = &g->tensors[g->inputs[0]];
    int64_t in_count = ir_numel(x);
    size_t per = 0;
    void *y[IR_MAX_IO];
    for (int i = 0; i < g->noutputs; i++) {
        y[i] = malloc((size_t)ka_bytes(&g->tensors[g->outputs[i]]));
        per += (size_t)ka_bytes(&g->tensors[g->outputs[i]]);
    }
    assert_int_equal(len, per * (size_t)n);
    QSim *q = ir_qsim_new(g);
    assert_non_null(q);
    void *codes = malloc((size_t)ka_bytes(x));
    for (int k = 0; k < n; k++) {
        ir_quantize_input(x, s + k * in_count, codes);
        const void *in[1] = {codes};
        assert_int_equal(ir_qsim_run(q, in, y), 0);
        const char *o = out + k * per;
        for (int i = 0; i < g->noutputs; i++) {
            size_t b = (size_t)ka_bytes(&g->tensors[g->outputs[i]]);
            assert_memory_equal(o, y[i], b);
            o += b;
        }
    }
    ir_qsim_free(q);
    for (int i = 0; i < g->noutputs; i++)
        free(y[i]);
    free(codes);
}

#endif
