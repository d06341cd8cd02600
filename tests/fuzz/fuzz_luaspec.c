/* libFuzzer harness for the Lua model spec: "make fuzz" builds it (see the
 * Makefile).  The loader reads a file, so each input is written to one
 * per-process file first. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "ir.h"
#include "luaspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[4096];
    snprintf(path, sizeof path, "/tmp/shiftc-fuzz-luaspec-%ld.lua", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    Graph *g = luaspec_load(path, err, sizeof err);
    if (g)
        ir_graph_free(g);
    return 0;
}
