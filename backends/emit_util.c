/* Text buffers and exact number printing for the C backend. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit_internal.h"
#include "util.h"

static void eb_reserve(EmitBuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->s = xrealloc(b->s, cap);
    b->cap = cap;
}

void eb_puts(EmitBuf *b, const char *s)
{
    size_t n = strlen(s);
    eb_reserve(b, n);
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

void eb_printf(EmitBuf *b, const char *fmt, ...)
{
    /* print in place when 256 bytes suffice (nearly always), else again
     * with room for the whole text */
    eb_reserve(b, 256);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    ensure(n >= 0);
    if ((size_t)n >= b->cap - b->len) {
        eb_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void eb_free(EmitBuf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

void eb_i32(EmitBuf *b, int32_t v)
{
    /* -2147483648 is not a literal in C: the minus applies to an int too
     * large for int */
    if (v == INT32_MIN)
        eb_puts(b, "(-2147483647 - 1)");
    else
        eb_printf(b, "%ld", (long)v);
}

void eb_f32(EmitBuf *b, float v)
{
    if (isnan(v))
        eb_puts(b, "NAN");
    else if (isinf(v))
        eb_puts(b, v > 0 ? "INFINITY" : "-INFINITY");
    else if (v == 0.0f)
        eb_puts(b, signbit(v) ? "-0.0f" : "0.0f");
    else
        eb_printf(b, "%af", (double)v); /* exact: every float is a double */
}

void eb_i32_list(EmitBuf *b, const int32_t *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        eb_puts(b, i % 12 == 0 ? "\n    " : " ");
        eb_i32(b, v[i]);
        if (i + 1 < n)
            eb_puts(b, ",");
    }
    eb_puts(b, "\n");
}

void eb_f32_list(EmitBuf *b, const float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        eb_puts(b, i % 6 == 0 ? "\n    " : " ");
        eb_f32(b, v[i]);
        if (i + 1 < n)
            eb_puts(b, ",");
    }
    eb_puts(b, "\n");
}

void emit_safe_text(const char *s, char *out, size_t len, int nospace)
{
    size_t k = 0;
    ensure(len > 0);
    for (; s && *s && k + 1 < len && k < 60; s++) {
        unsigned char ch = (unsigned char)*s;
        int ok = ch >= 0x20 && ch < 0x7f && ch != '*' && ch != '\\' && ch != '?' && ch != '"';
        if (nospace && ch == ' ')
            ok = 0;
        out[k++] = ok ? (char)ch : '_';
    }
    if (k == 0 && len > 1)
        out[k++] = '_';
    out[k] = '\0';
}
