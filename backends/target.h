/*
 * Targets: everything shiftc knows about one machine it emits code for.
 *
 * Each target is one folder under backends/ (x86_64/, aarch64/, riscv64/,
 * cortex_m4/, rv32/) defining one `const Target` (rv32/ defines the rv32imc,
 * rv32i and rv32e variants).  The emitter reads the ISA facts and build
 * flags, the driver reads how to run and count, the verifier reads the
 * libclang arguments.  Adding a target = one folder + one line in
 * backends/targets.c.
 */
#ifndef SHIFTC_TARGET_H
#define SHIFTC_TARGET_H

#include <stddef.h>

typedef enum {
    RUN_NATIVE,      /* the host runs the runner directly */
    RUN_QEMU_USER,   /* qemu-<arch> ./runner (static Linux binary) */
    RUN_QEMU_SYSTEM  /* qemu-system-* -icount shift=0, semihosting for I/O */
} RunKind;

typedef enum {
    COUNT_NONE,      /* no exact instruction count (qemu-user) */
    COUNT_CALLGRIND, /* valgrind --tool=callgrind, Ir inside NAME_run */
    COUNT_MINSTRET,  /* RISC-V minstret CSR read around NAME_run */
    COUNT_SYSTICK    /* Cortex-M SysTick under -icount: ticks x 40 */
} CountKind;

typedef struct Target {
    const char *name;       /* "cortex-m4", as given to --target */
    const char *summary;    /* one line for --help */
    /* ISA facts the emitter and cost model use */
    int bits;               /* 32 or 64 */
    int has_mul;            /* hardware multiply (and divide) */
    int shifted_add;        /* add with a free shift of one operand (ARM) */
    int dsp;                /* ARMv7E-M DSP (SMLAD, SXTB16): the MAC kernels
                               read weights in their blocked layout */
    int bare_metal;
    /* building: written into the emitted Makefile */
    const char *cc;         /* C compiler, e.g. "arm-none-eabi-gcc" */
    const char *cflags;     /* architecture and optimisation flags */
    const char *ldflags;    /* link flags (picolibc specs, memory map, -static) */
    const char *size_tool;  /* binutils size for this target */
    const char *objdump;    /* binutils objdump for this target */
    /* checking: libclang arguments that parse emitted code for the target */
    const char *const *clang_args; /* NULL-terminated */
    /* running */
    RunKind run;
    const char *const *emulator;   /* argv prefix before the ELF, NULL-terminated */
    CountKind count;
    /* Debian packages that provide the above, for error messages */
    const char *packages;
    /* -- additions of the targets work (issue 3) -- */
    const char *ar;           /* archiver for `make lib` */
    int host_tools;           /* 1: the machine's own cc, and CC, CFLAGS and AR
                                 from the environment win over the Makefile's
                                 (CC ?= cc); 0: the Makefile names the cross
                                 toolchain (CC = ...), `make CC=...` overrides */
    const char *linux_arch;   /* Linux targets: `uname -m` of the machines that
                                 run the runner natively ("aarch64"); there it
                                 runs without the emulator.  NULL otherwise. */
    const char *board;        /* bare metal: the QEMU board ("mps2-an386") */
    int count_scale;          /* COUNT_SYSTICK: instructions per SysTick tick
                                 under -icount shift=0 (25 MHz clock, 1 ns per
                                 instruction: 40) */
    const char *run_packages; /* Debian packages of the emulator / counter */
    /* -- the precision search (issue 6): backends/cost.h -- */
    const struct CostModel *cost;
} Target;

/* The target called name, or NULL. */
const Target *target_find(const char *name);
/* The default: the machine shiftc runs on. */
const Target *target_host(void);
/* All targets, NULL-terminated, for --help and tests. */
extern const Target *const targets[];
/* "host, x86_64, aarch64, ..." into buf (for error messages). */
void target_names(char *buf, size_t len);

/* One per folder under backends/ (registered in targets.c). */
extern const Target target_x86_64, target_aarch64, target_riscv64, target_cortex_m4;
extern const Target target_rv32imc, target_rv32i, target_rv32e;

#endif
