/* CSD (non-adjacent form) recoding; see shiftadd.h. */
#include "shiftadd.h"

int sa_csd(int32_t q, SaTerm *terms)
{
    /* Standard NAF loop: an odd v takes the digit 2 - (v mod 4), which
     * leaves v - d divisible by 4, so the next digit is zero.  int64_t so
     * that INT32_MIN and the +1 carry cannot overflow. */
    SaTerm low[SA_MAX_TERMS];
    int n = 0;
    int64_t v = q;
    for (int k = 0; v != 0; k++) {
        if (v & 1) {
            int64_t m4 = ((v % 4) + 4) % 4; /* 1 or 3 */
            int d = m4 == 1 ? 1 : -1;
            low[n++] = (SaTerm){d, k};
            v -= d;
        }
        v /= 2; /* exact: v is even here */
    }
    for (int i = 0; i < n; i++)
        terms[i] = low[n - 1 - i];
    return n;
}

int sa_csd_weight(int32_t q)
{
    SaTerm t[SA_MAX_TERMS];
    return sa_csd(q, t);
}

int64_t sa_count_terms(const int32_t *codes, int64_t n)
{
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++)
        total += sa_csd_weight(codes[i]);
    return total;
}
