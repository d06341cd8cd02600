/* libFuzzer harness for the Lua policy loader (the sandbox, the top-level
 * run and the returned table's checks): "make fuzz" builds it, tests/fuzz.sh
 * runs it.  The loader reads a file, so each input is written to one
 * per-process file first (in /dev/shm when there is one: writing a file per
 * run on a disk was a tenth of the time).  The fuzz build lowers the sandbox's limits
 * (Makefile: 16 MiB, 1M VM instructions) so that runaway inputs are
 * stopped in milliseconds. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "policy.h"
#include "fuzz_scratch.h"

static char path[64];

static void remove_file(void)
{
    unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    verbose = getenv("SHIFTC_FUZZ_VERBOSE") != NULL;
    snprintf(path, sizeof path, "%s/shiftc-fuzz-policy-%ld.lua", scratch_dir(), (long)getpid());
    atexit(remove_file);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[4096];
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    Policy *p = policy_load(path, NULL, 0, err, sizeof err);
    if (verbose)
        fprintf(stderr, "%s\n", p ? "loaded" : err);
    if (p)
        policy_free(p);
    return 0;
}
