/*
 * Cortex-M4, bare metal, on QEMU's mps2-an386 board (4 MB of code memory at
 * 0, 4 MB of RAM at 0x20000000).  picolibc provides startup, semihosted
 * stdio (the runner's files) and exit; QEMU runs with -icount shift=0, one
 * instruction per nanosecond of virtual time, and SysTick on the 25 MHz
 * processor clock therefore ticks once per 40 instructions
 * (runtime/shiftc_board.h).  No FPU is assumed (soft float for the runner's
 * float I/O: the network itself is integer-only).
 */
#include "cost.h"
#include "target.h"

static const char *const clang_args[] = {"-target", "thumbv7em-none-eabi", "-mcpu=cortex-m4", "-isystem",
                                         "/usr/lib/picolibc/arm-none-eabi/include", NULL};
static const char *const emulator[] = {"qemu-system-arm", "-M", "mps2-an386", "-icount", "shift=0", NULL};

static const CostModel cost_cortex_m4 = {
    .flash_per_load = 4.767, .flash_per_term = 2.818, .flash_per_shift = 1.165,
    .flash_per_output = 11.1, .flash_per_output_dense = 0, .flash_per_layer = 313,
    .instr_per_load = 2.124, .instr_per_term = 0.994, .instr_per_shift = 0,
    .instr_per_output = 2.495, .instr_per_pixel = 9.044, .instr_per_layer = 367,
    .flash_base = 388, .flash_per_node = 116, .instr_per_element = 9.988,
    .source = "tools/fit_costs.py: least squares (relative) over 30 layers of 2 models x 6 formats (int2, int4, int8, nhot2, pot, ternary); instructions from SysTick x 40",
    .mac_flash_per_weight = 0.996,
    .mac_flash_per_output = 7.346,
    .mac_flash_per_layer = 487,
    .mac_flash_per_layer_conv = 652,
    .mac_flash_per_layer_dw = 498,
    .mac_instr_per_mac = 1.644,
    .mac_instr_per_mac_dw = 1.612,
    .mac_instr_per_output = 25,
    .mac_instr_per_col = 2.998,
    .mac_instr_per_layer = 395,
    .mac_instr_per_pad = -7.537,
    .mac4_flash_per_weight = 0.529,
    .mac4_instr_per_mac = 2.184,
    .mac_source = "bench/mac.py --fit: least squares (relative) over 21 one-layer models (7 Dense, 4 nibble-packed Dense, 6 Conv, 4 depthwise); instructions from SysTick x 40 (the padded copy fitted as its own nonnegative cost, stored relative to instr_per_element)",
};

const Target target_cortex_m4 = {
    .name = "cortex-m4",
    .summary = "Cortex-M4 bare metal (QEMU mps2-an386, picolibc); SysTick instruction count",
    .bits = 32,
    .has_mul = 1,
    .shifted_add = 1, /* add r0, r1, r2, lsl #k */
    .dsp = 1,         /* smlad, sxtb16 (the MAC kernels) */
    .bare_metal = 1,
    .cc = "arm-none-eabi-gcc",
    .cflags = "-mcpu=cortex-m4 -mthumb --specs=picolibc.specs",
    .ldflags = "--oslib=semihost --crt0=semihost -Wl,--defsym=__flash=0x0 -Wl,--defsym=__flash_size=0x400000 "
               "-Wl,--defsym=__ram=0x20000000 -Wl,--defsym=__ram_size=0x400000",
    .size_tool = "arm-none-eabi-size",
    .objdump = "arm-none-eabi-objdump",
    .clang_args = clang_args,
    .run = RUN_QEMU_SYSTEM,
    .emulator = emulator,
    .count = COUNT_SYSTICK,
    .packages = "gcc-arm-none-eabi picolibc-arm-none-eabi",
    .ar = "arm-none-eabi-ar",
    .board = "mps2-an386",
    .count_scale = 40,
    .run_packages = "qemu-system-arm",
    .cost = &cost_cortex_m4,
};
