/* Allocation that never returns NULL, and internal-error reporting.
 * Shared by every part of the compiler (not by runtime/). */
#ifndef SHIFTC_UTIL_H
#define SHIFTC_UTIL_H

#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* A C identifier from a file name, for model names: "models/My-Net.v2.onnx"
 * -> "my_net_v2" (lower case, other characters '_', "m_" before a digit). */
char *ident_from_path(const char *path);

/* Index of the largest of v[0..n) (the first one on ties); 0 when n <= 0. */
int64_t argmax_f(const float *v, int64_t n);

/* Internal errors (a bug in shiftc, never the user's input). */
_Noreturn void internal_error(const char *file, int line, const char *msg);
#define unreachable() internal_error(__FILE__, __LINE__, "unreachable")
#define ensure(cond) ((cond) ? (void)0 : internal_error(__FILE__, __LINE__, #cond))

#endif
