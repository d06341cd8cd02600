/* AArch64 Linux: built static with the aarch64-linux-gnu cross toolchain,
 * run under qemu-aarch64 (user mode).  No exact instruction count there. */
#include "cost.h"
#include "target.h"

static const char *const clang_args[] = {"-target", "aarch64-linux-gnu", "-isystem",
                                         "/usr/aarch64-linux-gnu/include", NULL};
static const char *const emulator[] = {"qemu-aarch64", NULL};

static const CostModel cost_aarch64 = {
    .flash_per_load = 3.858, .flash_per_term = 4.106, .flash_per_shift = 1.221,
    .flash_per_output = 40.1, .flash_per_output_dense = 20.9, .flash_per_layer = 418,
    .instr_per_load = 2.124, .instr_per_term = 0.994, .instr_per_shift = 0,
    .instr_per_output = 2.495, .instr_per_pixel = 9.044, .instr_per_layer = 367,
    .flash_base = 704, .flash_per_node = 170, .instr_per_element = 9.988,
    .source = "tools/fit_costs.py: least squares (relative) over 30 layers of 2 models x 6 formats (int2, int4, int8, nhot2, pot, ternary); no instruction count under qemu-user: instruction coefficients of cortex-m4",
    .mac_flash_per_weight = 1.021,
    .mac_flash_per_output = 3.741,
    .mac_flash_per_layer = 771,
    .mac_flash_per_layer_conv = 836,
    .mac_flash_per_layer_dw = 767,
    .mac_instr_per_mac = 1.644,
    .mac_instr_per_mac_dw = 1.612,
    .mac_instr_per_output = 25,
    .mac_instr_per_col = 2.998,
    .mac_instr_per_layer = 395,
    .mac_instr_per_pad = -7.537,
    .mac4_flash_per_weight = 0.513,
    .mac4_instr_per_mac = 6.612,
    .mac_source = "bench/mac.py --fit: flash of 21 one-layer models (Dense, nibble-packed Dense, Conv, depthwise); no instruction count under qemu-user: mac_instr_ coefficients of cortex-m4, mac4_instr_per_mac of x86_64 (the plain-C unpacking on a 64-bit core)",
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
