/*
 * 32-bit RISC-V microcontrollers, bare metal, on QEMU's virt board (2 MB of
 * "flash" at 0x80000000, 2 MB of RAM after it), with picolibc's startup and
 * semihosting.  Three cores: rv32imc, and rv32i / rv32e without a
 * multiplier.  QEMU runs them on a CPU with exactly those extensions turned
 * on (m=false: a multiply or divide instruction traps), with -icount
 * shift=0; the runner reads minstret/minstreth in M-mode, an exact count.
 *
 * gcc 12 defaults to ISA spec 20191213, where the CSR instructions need
 * Zicsr; "-march=rv32imc_zicsr" selects no picolibc multilib, so the flags
 * say -misa-spec=2.2 (CSR instructions in the base ISA) and the multilibs
 * rv32im/ilp32, rv32i/ilp32 and rv32e/ilp32e match.  clang 14 knows no
 * ilp32e: the libclang check parses rv32e code as rv32i (the C is the same).
 */
#include "cost.h"
#include "target.h"

#define RV32_LDFLAGS                                                                                    \
    "--oslib=semihost --crt0=semihost -Wl,--defsym=__flash=0x80000000 -Wl,--defsym=__flash_size=0x200000 " \
    "-Wl,--defsym=__ram=0x80200000 -Wl,--defsym=__ram_size=0x200000"
#define RV32_PICOLIBC "/usr/lib/picolibc/riscv64-unknown-elf/include"

static const char *const clang_imc[] = {"-target", "riscv32-unknown-elf", "-march=rv32imc", "-isystem",
                                        RV32_PICOLIBC, NULL};
static const char *const clang_i[] = {"-target", "riscv32-unknown-elf", "-march=rv32i", "-isystem",
                                      RV32_PICOLIBC, NULL};
static const char *const emu_imc[] = {"qemu-system-riscv32", "-M", "virt", "-bios", "none", "-cpu",
                                      "rv32,m=true,c=true", "-icount", "shift=0", NULL};
static const char *const emu_i[] = {"qemu-system-riscv32", "-M", "virt", "-bios", "none", "-cpu",
                                    "rv32,m=false,c=false", "-icount", "shift=0", NULL};
/* QEMU 7.2 accepts E but does not hide x16-x31: still a no-M, no-C core */
static const char *const emu_e[] = {"qemu-system-riscv32", "-M", "virt", "-bios", "none", "-cpu",
                                    "rv32,i=false,e=true,h=false,m=false,c=false", "-icount", "shift=0", NULL};

#define RV32_COMMON                                         \
    .bits = 32, .shifted_add = 0, .bare_metal = 1,          \
    .cc = "riscv64-unknown-elf-gcc", .ldflags = RV32_LDFLAGS, \
    .size_tool = "riscv64-unknown-elf-size",                \
    .objdump = "riscv64-unknown-elf-objdump",               \
    .run = RUN_QEMU_SYSTEM, .count = COUNT_MINSTRET,        \
    .packages = "gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf", \
    .ar = "riscv64-unknown-elf-ar", .board = "virt",        \
    .run_packages = "qemu-system-misc"

static const CostModel cost_rv32imc = {
    .flash_per_load = 5.158, .flash_per_term = 2.731, .flash_per_shift = 2.213,
    .flash_per_output = 67.5, .flash_per_output_dense = 59.7, .flash_per_layer = 212,
    .instr_per_load = 3.35, .instr_per_term = 0.774, .instr_per_shift = 0.658,
    .instr_per_output = 7.149, .instr_per_pixel = 9.458, .instr_per_layer = 269,
    .flash_base = 660, .flash_per_node = 128, .instr_per_element = 9.994,
    .source = "tools/fit_costs.py: least squares (relative) over 30 layers of 2 models x 6 formats (int2, int4, int8, nhot2, pot, ternary); instructions from minstret",
    .mac_flash_per_weight = 0.998,
    .mac_flash_per_output = 5.384,
    .mac_flash_per_layer = 332,
    .mac_flash_per_layer_conv = 520,
    .mac_flash_per_layer_dw = 652,
    .mac_instr_per_mac = 7.086,
    .mac_instr_per_mac_dw = 2.215,
    .mac_instr_per_output = 36.6,
    .mac_instr_per_col = 2.464,
    .mac_instr_per_layer = 350,
    .mac_instr_per_pad = -2.699,
    .mac4_flash_per_weight = 0.55,
    .mac4_instr_per_mac = 6.344,
    .mac_source = "bench/mac.py --fit: least squares (relative) over 21 one-layer models (7 Dense, 4 nibble-packed Dense, 6 Conv, 4 depthwise); instructions from minstret (the padded copy fitted as its own nonnegative cost, stored relative to instr_per_element)",
};

const Target target_rv32imc = {
    .name = "rv32imc",
    .summary = "RV32IMC bare metal (QEMU virt, picolibc); exact minstret count",
    .has_mul = 1,
    .cflags = "-march=rv32imc -mabi=ilp32 -misa-spec=2.2 --specs=picolibc.specs",
    .clang_args = clang_imc,
    .emulator = emu_imc,
    RV32_COMMON,
    .cost = &cost_rv32imc,
};

static const CostModel cost_rv32i = {
    .flash_per_load = 6.621, .flash_per_term = 3.436, .flash_per_shift = 2.643,
    .flash_per_output = 89.7, .flash_per_output_dense = 46.7, .flash_per_layer = 391,
    .instr_per_load = 3.376, .instr_per_term = 0.765, .instr_per_shift = 0.657,
    .instr_per_output = 13.7, .instr_per_pixel = 9.672, .instr_per_layer = 255,
    .flash_base = 916, .flash_per_node = 152, .instr_per_element = 9.996,
    .source = "tools/fit_costs.py: least squares (relative) over 30 layers of 2 models x 6 formats (int2, int4, int8, nhot2, pot, ternary); instructions from minstret",
    .mac_flash_per_weight = 0.997,
    .mac_flash_per_output = 8.696,
    .mac_flash_per_layer = 735,
    .mac_flash_per_layer_conv = 993,
    .mac_flash_per_layer_dw = 1289,
    .mac_instr_per_mac = 108,
    .mac_instr_per_mac_dw = 113,
    .mac_instr_per_output = 91.4,
    .mac_instr_per_col = 0,
    .mac_instr_per_layer = 3899,
    .mac_instr_per_pad = -9.996,
    .mac4_flash_per_weight = 0.56,
    .mac4_instr_per_mac = 116,
    .mac_source = "bench/mac.py --fit: least squares (relative) over 21 one-layer models (7 Dense, 4 nibble-packed Dense, 6 Conv, 4 depthwise); instructions from minstret (the padded copy fitted as its own nonnegative cost, stored relative to instr_per_element)",
};

const Target target_rv32i = {
    .name = "rv32i",
    .summary = "RV32I bare metal, no multiplier (QEMU virt, picolibc); exact minstret count",
    .has_mul = 0,
    .cflags = "-march=rv32i -mabi=ilp32 -misa-spec=2.2 --specs=picolibc.specs",
    .clang_args = clang_i,
    .emulator = emu_i,
    RV32_COMMON,
    .cost = &cost_rv32i,
};

static const CostModel cost_rv32e = {
    .flash_per_load = 6.169, .flash_per_term = 3.351, .flash_per_shift = 4.812,
    .flash_per_output = 110, .flash_per_output_dense = 60.1, .flash_per_layer = 281,
    .instr_per_load = 2.832, .instr_per_term = 0.793, .instr_per_shift = 1.198,
    .instr_per_output = 18.8, .instr_per_pixel = 9.522, .instr_per_layer = 349,
    .flash_base = 900, .flash_per_node = 152, .instr_per_element = 9.993,
    .source = "tools/fit_costs.py: least squares (relative) over 30 layers of 2 models x 6 formats (int2, int4, int8, nhot2, pot, ternary); instructions from minstret",
    .mac_flash_per_weight = 0.999,
    .mac_flash_per_output = 8.679,
    .mac_flash_per_layer = 802,
    .mac_flash_per_layer_conv = 1017,
    .mac_flash_per_layer_dw = 1306,
    .mac_instr_per_mac = 111,
    .mac_instr_per_mac_dw = 114,
    .mac_instr_per_output = 111,
    .mac_instr_per_col = 0,
    .mac_instr_per_layer = 3958,
    .mac_instr_per_pad = -9.993,
    .mac4_flash_per_weight = 0.569,
    .mac4_instr_per_mac = 119,
    .mac_source = "bench/mac.py --fit: least squares (relative) over 21 one-layer models (7 Dense, 4 nibble-packed Dense, 6 Conv, 4 depthwise); instructions from minstret (the padded copy fitted as its own nonnegative cost, stored relative to instr_per_element)",
};

const Target target_rv32e = {
    .name = "rv32e",
    .summary = "RV32E bare metal, 16 registers, no multiplier (QEMU virt, picolibc); exact minstret count",
    .has_mul = 0,
    .cflags = "-march=rv32e -mabi=ilp32e -misa-spec=2.2 --specs=picolibc.specs",
    .clang_args = clang_i,
    .emulator = emu_e,
    RV32_COMMON,
    .cost = &cost_rv32e,
};
