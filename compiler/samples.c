/* Sample files: a batch of N inputs or outputs of a model in one array. */
#include <stdint.h>
#include <stdio.h>

#include "commands.h"

static int same_dims(const int64_t *a, const int64_t *b, int rank)
{
    for (int i = 0; i < rank; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

int sample_count(const int64_t *fdims, int frank, const int64_t *dims, int rank)
{
    if (frank == rank + 1 && same_dims(fdims + 1, dims, rank))
        return (int)fdims[0]; /* (N, full shape) */
    if (frank == rank && rank > 0 && dims[0] == 1 && same_dims(fdims + 1, dims + 1, rank - 1))
        return (int)fdims[0]; /* (N, shape without its batch of 1) */
    if (frank == rank && same_dims(fdims, dims, rank))
        return 1;
    return -1;
}

int sample_dims(const int64_t *dims, int rank, int64_t n, int64_t *out)
{
    int skip = rank > 0 && dims[0] == 1;
    out[0] = n;
    for (int i = skip; i < rank; i++)
        out[1 + i - skip] = dims[i];
    return 1 + rank - skip;
}

void dims_str(const int64_t *d, int rank, char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < rank && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? "," : "", (long long)d[i]);
    if (k < len)
        snprintf(buf + k, len - k, ")");
}
