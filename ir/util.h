/* Allocation that never returns NULL, and internal-error reporting.
 * Shared by every part of the compiler (not by runtime/). */
#ifndef SHIFTC_UTIL_H
#define SHIFTC_UTIL_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Internal errors (a bug in shiftc, never the user's input). */
_Noreturn void internal_error(const char *file, int line, const char *msg);
#define unreachable() internal_error(__FILE__, __LINE__, "unreachable")
#define ensure(cond) ((cond) ? (void)0 : internal_error(__FILE__, __LINE__, #cond))

#endif
