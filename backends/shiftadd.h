/*
 * Signed-digit recoding of integer weight codes, the arithmetic behind the
 * unrolled shift-add kernels: q = sum_k d_k 2^k with d_k in {-1, 0, 1}.
 *
 * The canonical signed-digit form (CSD, also called NAF) has no two adjacent
 * nonzero digits, is unique, and has the fewest nonzero digits of all
 * signed-digit forms of q; each nonzero digit costs one shift-add term.
 */
#ifndef SHIFTC_SHIFTADD_H
#define SHIFTC_SHIFTADD_H

#include <stdint.h>

/* Enough terms for any int32 code (CSD of a 32-bit number has <= 17). */
#define SA_MAX_TERMS 33

/* One nonzero digit: sign * 2^shift. */
typedef struct SaTerm {
    int sign;  /* +1 or -1 */
    int shift; /* >= 0 */
} SaTerm;

/* CSD terms of q, highest shift first; returns how many (0 for q = 0).
 * terms must hold SA_MAX_TERMS entries. */
int sa_csd(int32_t q, SaTerm *terms);

/* Number of nonzero CSD digits of q (the terms sa_csd would return). */
int sa_csd_weight(int32_t q);

/* Nonzero CSD digits summed over n codes: a layer's shift-add term count. */
int64_t sa_count_terms(const int32_t *codes, int64_t n);

#endif
