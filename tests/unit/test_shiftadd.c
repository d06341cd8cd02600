/* CSD recoding: exact, non-adjacent, minimal, over every 16-bit code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "shiftadd.h"

static int popcount64(uint64_t v)
{
    int c = 0;
    for (; v; v &= v - 1)
        c++;
    return c;
}

/* Fewest nonzero digits of any signed-digit form of q, by the recursion
 * w(2v) = w(v), w(odd v) = 1 + min(w((v-1)/2), w((v+1)/2)) -- an exhaustive
 * search over the choice of each digit, memoised over [-R, R]. */
#define BRUTE_R 5000
static int brute_memo[2 * BRUTE_R + 1];

static int brute_weight(int v)
{
    if (v == 0 || v == 1 || v == -1) /* (v +- 1)/2 would not shrink for |v| = 1 */
        return v != 0;
    int *m = &brute_memo[v + BRUTE_R];
    if (*m >= 0)
        return *m;
    int r;
    if (v % 2 == 0) {
        r = brute_weight(v / 2);
    } else {
        int a = brute_weight((v - 1) / 2), b = brute_weight((v + 1) / 2);
        r = 1 + (a < b ? a : b);
    }
    return *m = r;
}

static void test_exhaustive_16bit(void **state)
{
    (void)state;
    SaTerm t[SA_MAX_TERMS];
    for (int32_t q = -32768; q <= 32767; q++) {
        int n = sa_csd(q, t);
        int64_t sum = 0;
        for (int i = 0; i < n; i++) {
            assert_true(t[i].sign == 1 || t[i].sign == -1);
            assert_true(t[i].shift >= 0 && t[i].shift <= 16);
            if (i > 0) /* highest shift first, never adjacent */
                assert_true(t[i - 1].shift >= t[i].shift + 2);
            sum += t[i].sign * ((int64_t)1 << t[i].shift);
        }
        assert_int_equal(sum, q);
        /* NAF weight = popcount(3|q| xor |q|) */
        uint64_t a = (uint64_t)(q < 0 ? -(int64_t)q : q);
        assert_int_equal(n, popcount64((3 * a) ^ a));
        assert_int_equal(sa_csd_weight(q), n);
    }
}

static void test_minimal_brute_force(void **state)
{
    (void)state;
    for (int i = 0; i < 2 * BRUTE_R + 1; i++)
        brute_memo[i] = -1;
    for (int q = -BRUTE_R / 2; q <= BRUTE_R / 2; q++)
        assert_int_equal(sa_csd_weight(q), brute_weight(q));
}

static void test_known_and_extremes(void **state)
{
    (void)state;
    SaTerm t[SA_MAX_TERMS];
    /* 7 = 8 - 1 */
    assert_int_equal(sa_csd(7, t), 2);
    assert_int_equal(t[0].sign, 1);
    assert_int_equal(t[0].shift, 3);
    assert_int_equal(t[1].sign, -1);
    assert_int_equal(t[1].shift, 0);
    assert_int_equal(sa_csd(0, t), 0);
    assert_int_equal(sa_csd(-128, t), 1);
    assert_int_equal(t[0].sign, -1);
    assert_int_equal(t[0].shift, 7);
    /* the int32 extremes still recode exactly */
    int32_t ext[] = {INT32_MAX, INT32_MIN, INT32_MIN + 1};
    for (int k = 0; k < 3; k++) {
        int n = sa_csd(ext[k], t);
        assert_true(n <= SA_MAX_TERMS);
        int64_t sum = 0;
        for (int i = 0; i < n; i++)
            sum += t[i].sign * ((int64_t)1 << t[i].shift);
        assert_int_equal(sum, ext[k]);
    }
    int32_t codes[] = {7, 0, -3, 85};
    assert_int_equal(sa_count_terms(codes, 4), 2 + 0 + 2 + 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exhaustive_16bit),
        cmocka_unit_test(test_minimal_brute_force),
        cmocka_unit_test(test_known_and_extremes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
