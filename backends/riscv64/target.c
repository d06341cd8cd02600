/* RISC-V 64 Linux (rv64gc, lp64d): built static with the riscv64-linux-gnu
 * cross toolchain, run under qemu-riscv64 (user mode), where rdinstret is
 * not an instruction count: no count is reported. */
#include "cost.h"
#include "target.h"

static const char *const clang_args[] = {"-target", "riscv64-linux-gnu", "-isystem",
                                         "/usr/riscv64-linux-gnu/include", NULL};
static const char *const emulator[] = {"qemu-riscv64", NULL};

static const CostModel cost_riscv64 = {
    .flash_per_load = 5.299, .flash_per_term = 3.462, .flash_per_shift = 2.277,
    .flash_per_output = 72.4, .flash_per_output_dense = 44.9, .flash_per_layer = 285,
    .instr_per_load = 3.35, .instr_per_term = 0.774, .instr_per_shift = 0.658,
    .instr_per_output = 7.149, .instr_per_pixel = 9.458, .instr_per_layer = 269,
    .flash_base = 500, .flash_per_node = 144, .instr_per_element = 9.994,
    .source = "tools/fit_costs.py: least squares (relative) over 30 layers of 2 models x 6 formats (int2, int4, int8, nhot2, pot, ternary); no instruction count under qemu-user: instruction coefficients of rv32imc",
    .mac_flash_per_weight = 1.002,
    .mac_flash_per_output = 5.307,
    .mac_flash_per_layer = 346,
    .mac_flash_per_layer_conv = 491,
    .mac_flash_per_layer_dw = 678,
    .mac_instr_per_mac = 7.086,
    .mac_instr_per_mac_dw = 2.215,
    .mac_instr_per_output = 36.6,
    .mac_instr_per_col = 2.464,
    .mac_instr_per_layer = 350,
    .mac_instr_per_pad = -2.699,
    .mac4_flash_per_weight = 0.556,
    .mac4_instr_per_mac = 6.344,
    .mac_source = "bench/mac.py --fit: flash of 21 one-layer models (Dense, nibble-packed Dense, Conv, depthwise); no instruction count under qemu-user: mac_instr_ and mac4_instr_per_mac coefficients of rv32imc",
};

const Target target_riscv64 = {
    .name = "riscv64",
    .summary = "RISC-V 64 Linux (rv64gc), static, under qemu-riscv64 (no instruction count)",
    .bits = 64,
    .has_mul = 1,
    .shifted_add = 0, /* rv64gc has no Zba (sh1add...) */
    .bare_metal = 0,
    .cc = "riscv64-linux-gnu-gcc",
    .cflags = "",
    .ldflags = "-static",
    .size_tool = "riscv64-linux-gnu-size",
    .objdump = "riscv64-linux-gnu-objdump",
    .clang_args = clang_args,
    .run = RUN_QEMU_USER,
    .emulator = emulator,
    .count = COUNT_NONE,
    .packages = "gcc-riscv64-linux-gnu",
    .ar = "riscv64-linux-gnu-ar",
    .linux_arch = "riscv64",
    .run_packages = "qemu-user",
    .cost = &cost_riscv64,
};
