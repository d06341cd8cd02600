/*
 * Targets: the registry's invariants (every target complete and findable,
 * bare metal means QEMU system with a counter), and what a target changes
 * in the emitted project -- the Makefile's toolchain, the runner's board
 * settings, the target line of NAME.meta and its reading back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emit_c.h"
#include "pipeline.h"
#include "target.h"

static void test_registry(void **state)
{
    (void)state;
    int n = 0;
    assert_ptr_equal(targets[0], target_host());
    for (int i = 0; targets[i]; i++, n++) {
        const Target *t = targets[i];
        assert_non_null(t->name);
        assert_non_null(t->summary);
        assert_non_null(t->cc);
        assert_non_null(t->cflags);
        assert_non_null(t->ldflags);
        assert_non_null(t->ar);
        assert_non_null(t->size_tool);
        assert_non_null(t->objdump);
        assert_non_null(t->packages);
        assert_true(t->bits == 32 || t->bits == 64);
        assert_ptr_equal(target_find(t->name), t);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(targets[j]->name, t->name);
        if (t->bare_metal) {
            assert_int_equal(t->run, RUN_QEMU_SYSTEM);
            assert_true(t->count == COUNT_MINSTRET || t->count == COUNT_SYSTICK);
            assert_non_null(t->board);
            assert_non_null(t->clang_args);
        }
        if (t->run != RUN_NATIVE) {
            assert_non_null(t->emulator);
            assert_non_null(t->emulator[0]);
            assert_non_null(t->run_packages);
        }
        if (t->run == RUN_QEMU_USER)
            assert_non_null(t->linux_arch);
        if (t->count == COUNT_SYSTICK)
            assert_true(t->count_scale > 0);
        if (t->run == RUN_QEMU_SYSTEM) {
            /* -icount: the counters are instruction counts */
            int icount = 0;
            for (int k = 0; t->emulator[k]; k++)
                icount |= !strcmp(t->emulator[k], "-icount") && t->emulator[k + 1] &&
                          !strcmp(t->emulator[k + 1], "shift=0");
            assert_true(icount);
        }
    }
    assert_int_equal(n, 8);
    assert_null(target_find("nosuch"));
    assert_null(target_find(""));
    assert_int_equal(target_find("rv32i")->has_mul, 0);
    assert_int_equal(target_find("rv32e")->has_mul, 0);
    assert_int_equal(target_find("rv32imc")->has_mul, 1);
    char names[256];
    target_names(names, sizeof names);
    assert_string_equal(names, "host, x86_64, aarch64, riscv64, cortex-m4, rv32imc, rv32i, rv32e");
    target_names(names, 8); /* truncates, terminated */
    assert_true(strlen(names) < 8);
}

static char *read_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    return buf;
}

static void emit_for(const Graph *g, const char *dir, const Target *t)
{
    EmitOptions o = {0};
    char err[1024];
    o.dir = dir;
    o.target = t;
    if (emit_c(g, &o, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "emit_c: %s\n", err);
        fail();
    }
}

static void test_emitted_project(void **state)
{
    (void)state;
    const char *model = "tests/golden/tiny_cnn/model.onnx", *calib = "tests/golden/tiny_cnn/calib.npy";
    FILE *f = fopen(model, "rb");
    if (!f) {
        skip();
        return;
    }
    fclose(f);
    LoadOptions lo = {0};
    lo.name = "m";
    Graph *g = pipeline_load(model, &lo);
    assert_non_null(g);
    float *samples = NULL;
    int n = pipeline_read_samples(calib, g, &samples);
    assert_true(n > 0);
    assert_int_equal(pipeline_quantize(g, model, samples, n), 0);
    char dir[64], cmd[128], err[256];
    snprintf(dir, sizeof dir, "/tmp/shiftc_test_targets_XXXXXX");
    assert_non_null(mkdtemp(dir));

    /* host (no target): CC and CFLAGS from the environment win, no board */
    emit_for(g, dir, NULL);
    char *mk = read_file(dir, "Makefile"), *runner = read_file(dir, "runner.c");
    assert_non_null(mk);
    assert_non_null(strstr(mk, "\nCC ?= cc\n"));
    assert_non_null(strstr(mk, "\nCFLAGS ?= "));
    assert_non_null(strstr(runner, "#include \"shiftc_board.h\""));
    assert_null(strstr(runner, "SHIFTC_BOARD_COUNTER"));
    assert_non_null(strstr(runner, "#define SHIFTC_RUNNER_HOSTED 1\n")); /* runner --time */
    free(mk), free(runner);
    EmitMeta meta;
    assert_int_equal(emit_read_meta(dir, &meta, err, sizeof err), 0);
    assert_string_equal(meta.target, "host");
    emit_free_meta(&meta);

    /* cortex-m4: the cross toolchain, picolibc, SysTick, bare metal */
    emit_for(g, dir, target_find("cortex-m4"));
    mk = read_file(dir, "Makefile");
    runner = read_file(dir, "runner.c");
    assert_non_null(strstr(mk, "\nCC = arm-none-eabi-gcc\n"));
    assert_non_null(strstr(mk, "\nAR = arm-none-eabi-ar\n"));
    assert_non_null(strstr(mk, "\nTARGET_CFLAGS = -mcpu=cortex-m4 -mthumb --specs=picolibc.specs\n"));
    assert_non_null(strstr(mk, "--crt0=semihost"));
    assert_non_null(strstr(runner, "#define SHIFTC_BOARD_BARE_METAL 1\n"));
    assert_non_null(strstr(runner, "#define SHIFTC_BOARD_COUNTER SHIFTC_COUNTER_SYSTICK\n"));
    assert_non_null(strstr(runner, "#define SHIFTC_BOARD_SYSTICK_SCALE 40\n"));
    assert_null(strstr(runner, "#define SHIFTC_RUNNER_HOSTED")); /* no clock_gettime */
    assert_null(strstr(runner, "#define _POSIX_C_SOURCE"));
    free(mk), free(runner);
    char *board = read_file(dir, "shiftc_board.h");
    assert_non_null(board);
    free(board);
    assert_int_equal(emit_read_meta(dir, &meta, err, sizeof err), 0);
    assert_string_equal(meta.target, "cortex-m4");
    emit_free_meta(&meta);

    /* rv32e: minstret, the ilp32e ABI */
    emit_for(g, dir, target_find("rv32e"));
    mk = read_file(dir, "Makefile");
    runner = read_file(dir, "runner.c");
    assert_non_null(strstr(mk, "-march=rv32e -mabi=ilp32e"));
    assert_non_null(strstr(runner, "#define SHIFTC_BOARD_COUNTER SHIFTC_COUNTER_MINSTRET\n"));
    free(mk), free(runner);

    /* aarch64: static, qemu-user, no board settings */
    emit_for(g, dir, target_find("aarch64"));
    mk = read_file(dir, "Makefile");
    runner = read_file(dir, "runner.c");
    assert_non_null(strstr(mk, "\nCC = aarch64-linux-gnu-gcc\n"));
    assert_non_null(strstr(mk, "\nTARGET_LDFLAGS = -static\n"));
    assert_null(strstr(runner, "#define SHIFTC_BOARD"));
    free(mk), free(runner);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(samples);
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_emitted_project),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
