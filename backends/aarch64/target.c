/* AArch64 Linux: built static with the aarch64-linux-gnu cross toolchain,
 * run under qemu-aarch64 (user mode).  No exact instruction count there. */
#include "cost.h"
#include "target.h"

static const char *const clang_args[] = {"-target", "aarch64-linux-gnu", "-isystem",
                                         "/usr/aarch64-linux-gnu/include", NULL};
static const char *const emulator[] = {"qemu-aarch64", NULL};

static const CostModel cost_aarch64 = {
    .flash_per_term = 5, .flash_per_output = 50, .flash_per_layer = 250,
    .instr_per_term = 1.3, .instr_per_output = 18, .instr_per_pixel = 8, .instr_per_layer = 60,
    .flash_base = 5000, .flash_per_node = 40, .instr_per_element = 4,
    .source = "first guess, to be fitted",
};

const Target target_aarch64 = {
    .name = "aarch64",
    .summary = "AArch64 Linux, static, under qemu-aarch64 (no instruction count)",
    .bits = 64,
    .has_mul = 1,
    .shifted_add = 1, /* add x0, x1, x2, lsl #k */
    .bare_metal = 0,
    .cc = "aarch64-linux-gnu-gcc",
    .cflags = "",
    .ldflags = "-static",
    .size_tool = "aarch64-linux-gnu-size",
    .objdump = "aarch64-linux-gnu-objdump",
    .clang_args = clang_args,
    .run = RUN_QEMU_USER,
    .emulator = emulator,
    .count = COUNT_NONE,
    .packages = "gcc-aarch64-linux-gnu",
    .ar = "aarch64-linux-gnu-ar",
    .linux_arch = "aarch64",
    .run_packages = "qemu-user",
    .cost = &cost_aarch64,
};
