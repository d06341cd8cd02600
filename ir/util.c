#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void *check(void *p)
{
    if (!p) {
        fprintf(stderr, "shiftc: out of memory\n");
        exit(2);
    }
    return p;
}

void *xmalloc(size_t n) { return check(malloc(n ? n : 1)); }
void *xcalloc(size_t n, size_t size) { return check(calloc(n ? n : 1, size ? size : 1)); }
void *xrealloc(void *p, size_t n) { return check(realloc(p, n ? n : 1)); }
char *xstrdup(const char *s) { return strcpy(xmalloc(strlen(s) + 1), s); }

void internal_error(const char *file, int line, const char *msg)
{
    fprintf(stderr, "shiftc: internal error at %s:%d: %s\n", file, line, msg);
    abort();
}
