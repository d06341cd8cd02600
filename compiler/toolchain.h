/*
 * A target's tools on this machine: whether its compiler, C library and
 * emulator are installed (with the Debian packages to name when they are
 * not), whether its runner runs natively here, and what a compiled model
 * costs on it in flash and RAM, measured with the target's `size`.
 */
#ifndef SHIFTC_TOOLCHAIN_H
#define SHIFTC_TOOLCHAIN_H

#include <stddef.h>

#include "target.h"

/* The target called name; NULL with "shiftc CMD: unknown target ... (valid:
 * ...)" printed when there is none. */
const Target *toolchain_target(const char *cmd, const char *name);

/* "targets (--target):" and one line per target into buf; returns the
 * length written. */
size_t toolchain_target_list(char *buf, size_t len);

/* 0 when t's C compiler, archiver, size and (for --specs=X in its flags)
 * C library are installed; else -1 with err naming what is missing and the
 * Debian packages that provide it.  The host's own tools are not checked
 * (make reports a missing cc itself). */
int toolchain_check_build(const Target *t, char *err, size_t errlen);

/* Does this machine run t's runner without an emulator? */
int toolchain_native(const Target *t);

/* 0 when what runs t's runner here is installed (its emulator, unless it
 * runs natively); else -1 with err naming the Debian packages. */
int toolchain_check_run(const Target *t, char *err, size_t errlen);

/* Flash and RAM of the model's own code, from `size -t` (Berkeley format)
 * on the objects of libNAME.a: text (machine code and read-only data),
 * data (initialised variables), bss (zero-initialised: the arena). */
typedef struct ModelSize {
    long long text, data, bss;
    long long flash; /* text + data: what is written to flash */
    long long ram;   /* data + bss: static RAM (the stack comes on top) */
} ModelSize;

/* Builds dir's library with make (`make lib`, the target's toolchain) and
 * measures it.  On error returns -1 with a message in err. */
int toolchain_model_size(const char *dir, const char *name, const Target *t, ModelSize *sz, char *err,
                         size_t errlen);

#endif
