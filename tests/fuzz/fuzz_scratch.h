/* What the harnesses that write each input to a file share (fuzz_luaspec.c,
 * fuzz_policy.c: their loaders read files). */
#ifndef SHIFTC_FUZZ_SCRATCH_H
#define SHIFTC_FUZZ_SCRATCH_H

#include <stdlib.h>
#include <unistd.h>

/* SHIFTC_FUZZ_VERBOSE=1: print each input's outcome (to see why a seed fails) */
static int verbose;

/* tmpfs if the system has one, so that the file written per run stays in memory */
static const char *scratch_dir(void)
{
    return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

#endif
