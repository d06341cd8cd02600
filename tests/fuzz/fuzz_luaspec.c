/* libFuzzer harness for the Lua model spec (the sandboxed run, the
 * constructors' argument checks, the lowering into the IR): "make fuzz"
 * builds it, tests/fuzz.sh runs it.
 *
 * The loader reads a file, so each input is written to model.lua in a
 * per-process directory (in /dev/shm when there is one: writing a file per
 * run on a disk was a tenth of the time), made once in LLVMFuzzerInitialize beside three
 * small .npy files (w.npy [2,4], b.npy [2], k.npy [2,1,3,3], all float32)
 * that the seeds load with npy "w.npy", so that path is fuzzed as well.
 *
 * Speed: the fuzz build compiles the sandbox with smaller limits (Makefile:
 * 16 MiB, 1M VM instructions instead of 256 MiB and 200M), so an input that
 * loops or allocates without bound is stopped in milliseconds; with the
 * default limits such inputs took most of the time (about 70 runs a second). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir.h"
#include "luaspec.h"
#include "fuzz_scratch.h"

static char dir[80], model_path[112];

static void remove_dir(void)
{
    static const char *const names[] = {"model.lua", "w.npy", "b.npy", "k.npy"};
    char path[112];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* A float32 .npy file of the given shape, values i/8 - 1 (finite, small). */
static void write_npy(const char *name, const char *shape, int count)
{
    char path[112], header[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int n = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape);
    int pad = 64 - (10 + n + 1) % 64; /* header padded so the data starts 64-aligned */
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    unsigned short hlen = (unsigned short)(n + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(hlen & 0xff, f);
    fputc(hlen >> 8, f);
    fprintf(f, "%s%*s\n", header, pad, "");
    for (int i = 0; i < count; i++) {
        float v = (float)i / 8.0f - 1.0f;
        fwrite(&v, sizeof v, 1, f);
    }
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    verbose = getenv("SHIFTC_FUZZ_VERBOSE") != NULL;
    snprintf(dir, sizeof dir, "%s/shiftc-fuzz-luaspec-%ld", scratch_dir(), (long)getpid());
    snprintf(model_path, sizeof model_path, "%s/model.lua", dir);
    if (mkdir(dir, 0700) != 0)
        remove_dir(), mkdir(dir, 0700);
    atexit(remove_dir);
    write_npy("w.npy", "(2, 4)", 8);
    write_npy("b.npy", "(2,)", 2);
    write_npy("k.npy", "(2, 1, 3, 3)", 18);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[4096];
    FILE *f = fopen(model_path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    Graph *g = luaspec_load(model_path, err, sizeof err);
    if (verbose)
        fprintf(stderr, "%s\n", g ? "loaded" : err);
    if (g)
        ir_graph_free(g);
    return 0;
}
