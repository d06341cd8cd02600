/* x86-64 Linux: built static with the x86-64 GNU toolchain; runs natively on
 * an x86-64 machine (qemu-x86_64 elsewhere) and counts instructions with
 * callgrind (Ir inside NAME_run), which needs the native run. */
#include "cost.h"
#include "target.h"

static const char *const clang_args[] = {"-target", "x86_64-linux-gnu", NULL};
static const char *const emulator[] = {"qemu-x86_64", NULL};

static const CostModel cost_x86_64 = {
    .flash_per_load = 7.757, .flash_per_term = 3.091, .flash_per_shift = 2.5,
    .flash_per_output = 43.8, .flash_per_output_dense = 25.9, .flash_per_layer = 417,
    .instr_per_load = 3.426, .instr_per_term = 0.871, .instr_per_shift = 0.687,
    .instr_per_output = 0, .instr_per_pixel = 66.4, .instr_per_layer = 38.9,
    .flash_base = 650, .flash_per_node = 187, .instr_per_element = 6.113,
    .source = "tools/fit_costs.py: least squares (relative) over 30 layers of 2 models x 6 formats (int2, int4, int8, nhot2, pot, ternary); instructions from callgrind, per layer and totals",
    .mac_flash_per_weight = 0.992,
    .mac_flash_per_output = 4.757,
    .mac_flash_per_layer = 1115,
    .mac_flash_per_layer_conv = 4403,
    .mac_flash_per_layer_dw = 856,
    .mac_instr_per_mac = 1.106,
    .mac_instr_per_mac_dw = 6.105,
    .mac_instr_per_output = 10,
    .mac_instr_per_col = 5.599,
    .mac_instr_per_layer = 719,
    .mac_instr_per_pad = -1.428,
    .mac_instr_per_mac_cols = 0.446,
    .mac4_flash_per_weight = 0.482,
    .mac4_instr_per_mac = 6.612,
    .mac_source = "bench/mac.py --fit: least squares (relative) over 21 one-layer models (7 Dense, 4 nibble-packed Dense, 6 Conv, 4 depthwise); instructions from callgrind on a core with AVX2, which the column-vectorised Convs use (the padded copy fitted as its own nonnegative cost, stored relative to instr_per_element)",
};

const Target target_x86_64 = {
    .name = "x86_64",
    .summary = "x86-64 Linux, static; instructions counted with callgrind",
    .bits = 64,
    .has_mul = 1,
    .shifted_add = 0, /* lea scales by 1, 2, 4 or 8 only */
    .bare_metal = 0,
    .cc = "x86_64-linux-gnu-gcc",
    .cflags = "",
    .ldflags = "-static",
    .size_tool = "x86_64-linux-gnu-size",
    .objdump = "x86_64-linux-gnu-objdump",
    .clang_args = clang_args,
    .run = RUN_QEMU_USER, /* native where linux_arch matches the machine */
    .emulator = emulator,
    .count = COUNT_CALLGRIND,
    .packages = "gcc-x86-64-linux-gnu (gcc on an x86-64 machine)",
    .ar = "x86_64-linux-gnu-ar",
    .linux_arch = "x86_64",
    .run_packages = "qemu-user", /* off x86-64; valgrind counts */
    .cost = &cost_x86_64,
};
