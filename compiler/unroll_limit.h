/*
 * --max-unrolled-terms: the size limit of unrolled code.  Unrolled shift-add
 * code grows with the weights: a 4096x4096 Dense layer is ~39M terms, ~750 MB
 * of C that takes the C compiler hours.  A Conv or Dense layer whose unrolled
 * code would have more terms than the limit is emitted with the table (mac)
 * kernel instead; it computes the very same numbers.
 */
#ifndef SHIFTC_UNROLL_LIMIT_H
#define SHIFTC_UNROLL_LIMIT_H

#include <stdio.h>

#include "cli.h"
#include "ir.h"

#define UNROLL_LIMIT_DEFAULT 2000000
#define UNROLL_LIMIT_MAX 1000000000000L

#define UNROLL_LIMIT_CLI_OPTION                                                                     \
    {"max-unrolled-terms", OPT_VALUE, "N",                                                          \
     "a Conv/Dense layer whose unrolled code would have more than N shift-add terms is emitted "    \
     "with the mac kernel instead, with a notice (default 2000000, about 40 MB of C; 0: no limit)", \
     0, 0, {0}, 0}

/* Switches every quantized Conv/Dense layer of g over the limit from
 * KS_UNROLLED to KS_TABLE, with a one-line notice on `notice` naming it.
 * max_terms 0: no limit.  Returns how many layers were switched, or -1 with
 * g->err set when a layer over the limit cannot take the mac kernel (weight
 * codes beyond int8). */
int unroll_limit_apply(Graph *g, long max_terms, const char *model, FILE *notice);

/* The compiler's own peak resident memory so far, in bytes (getrusage). */
long long unroll_limit_peak_rss(void);

#endif
