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

char *ident_from_path(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        len = (size_t)(dot - base);
    char *name = xmalloc(len + 3);
    size_t k = 0;
    if (len == 0 || (base[0] >= '0' && base[0] <= '9')) {
        name[k++] = 'm';
        name[k++] = '_';
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)base[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        name[k++] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? (char)c : '_';
    }
    name[k] = 0;
    return name;
}

int64_t argmax_f(const float *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}
