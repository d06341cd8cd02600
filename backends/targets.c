/* The registry of targets (target.h): one line per folder under backends/,
 * plus "host", the machine shiftc runs on with its own C compiler. */
#include <stdio.h>
#include <string.h>

#include "target.h"

/* host: `cc` as found, CC/CFLAGS from the environment honoured, run
 * natively; instructions counted with callgrind on the machines valgrind
 * supports (shiftc itself is built for the host, so its own predefined
 * macros describe it). */
static const Target target_host_ = {
    .name = "host",
    .summary = "the machine shiftc runs on, with its own cc (the default)",
    .bits = (int)(sizeof(void *) * 8),
    .has_mul = 1,
#if defined(__aarch64__) || defined(__arm__)
    .shifted_add = 1,
#else
    .shifted_add = 0,
#endif
    .bare_metal = 0,
    .cc = "cc",
    .cflags = "",
    .ldflags = "",
    .size_tool = "size",
    .objdump = "objdump",
    .clang_args = NULL,
    .run = RUN_NATIVE,
    .emulator = NULL,
    .count = COUNT_CALLGRIND,
    .packages = "gcc binutils",
    .ar = "ar",
    .host_tools = 1,
    .run_packages = "valgrind",
};

const Target *const targets[] = {
    &target_host_,   &target_x86_64, &target_aarch64, &target_riscv64, &target_cortex_m4,
    &target_rv32imc, &target_rv32i,  &target_rv32e,   NULL,
};

const Target *target_find(const char *name)
{
    for (int i = 0; targets[i]; i++)
        if (strcmp(targets[i]->name, name) == 0)
            return targets[i];
    return NULL;
}

const Target *target_host(void)
{
    return &target_host_;
}

void target_names(char *buf, size_t len)
{
    size_t k = 0;
    if (len)
        buf[0] = '\0';
    for (int i = 0; targets[i] && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? ", " : "", targets[i]->name);
}
