/* libFuzzer harness for the Lua policy loader (the sandbox, the top-level
 * run and the returned table's checks): "make fuzz" builds it (see the
 * Makefile).  The loader reads a file, so each input is written to one
 * per-process file first. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[4096];
    snprintf(path, sizeof path, "/tmp/shiftc-fuzz-policy-%ld.lua", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    Policy *p = policy_load(path, NULL, 0, err, sizeof err);
    if (p)
        policy_free(p);
    return 0;
}
