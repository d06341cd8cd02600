/*
 * The worst-case harness (shiftc compile --worst-case-harness): a test
 * program beside an emitted integer project that calls every weighted
 * layer function with inputs that drive its accumulators to their bound
 * (algorithms.md section 6), and the whole network with extreme input
 * codes, and compares every output with the integer simulator's.  Built
 * with -fsanitize=undefined,address it shows that the emitted code has no
 * signed overflow, shift or bounds error at the bound.
 *
 * Writes DIR/worstcase.c (the program: the layer functions by node, a
 * reader of the cases, the comparison) and DIR/worstcase.bin (the cases:
 * input codes and the simulator's outputs).  Computing the expected
 * outputs also runs every other node of the graph (pooling, Add, Concat,
 * Softmax, tables) in the simulator on extreme codes, so a sanitizer build
 * of shiftc checks the runtime kernels with the model's own parameters.
 */
#ifndef SHIFTC_EMIT_WORSTCASE_H
#define SHIFTC_EMIT_WORSTCASE_H

#include <stddef.h>

#include "ir.h"

/* g: the quantized graph just emitted into dir.  Returns 0, or -1 with a
 * message in err. */
int emit_worstcase(const Graph *g, const char *dir, char *err, size_t errlen);

#endif
