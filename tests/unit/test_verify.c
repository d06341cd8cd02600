/* Unit tests of the libclang check (backends/verify.c): a clean file passes,
 * a warning or an error fails with FILE:LINE:COL, headers are checked as
 * included, and a missing target header directory names its package. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "verify.h"

static char dir[64];

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/shiftc-verify-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    put("clean.c", "#include <stdint.h>\n#include \"clean.h\"\n\n"
                   "int32_t twice(int32_t x)\n{\n    return helper(x) + x;\n}\n");
    put("clean.h", "#ifndef CLEAN_H\n#define CLEAN_H\n#include <stdint.h>\n"
                   "static inline int32_t helper(int32_t x) { return x; }\n"
                   "static inline int32_t unused_helper(int32_t x) { return -x; }\n#endif\n");
    put("static.h", "static int unused_static(int x) { return x + 1; }\n");
    put("warn.c", "int f(void)\n{\n    int unused;\n    return 0;\n}\n");
    put("error.c", "int f(void)\n{\n    return undeclared_name;\n}\n");
    put("warn.h", "static inline int g(int x) { int y; return x; }\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    static const char *const names[] = {"clean.c", "clean.h", "warn.c", "error.c", "warn.h", "static.h"};
    char path[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

static int check(const char *file, const char *const *args, char *err, size_t len)
{
    const char *files[1] = {file};
    err[0] = '\0';
    return verify_c_files(dir, files, 1, args, err, len);
}

static void test_clean_passes(void **state)
{
    (void)state;
    char err[1024];
    assert_int_equal(check("clean.c", NULL, err, sizeof err), 0);
    /* a header's unused static functions are the includer's business */
    assert_int_equal(check("clean.h", NULL, err, sizeof err), 0);
    assert_int_equal(check("static.h", NULL, err, sizeof err), 0);
    const char *files[2] = {"clean.c", "clean.h"};
    assert_int_equal(verify_c_files(dir, files, 2, NULL, err, sizeof err), 0);
}

static void test_warning_fails(void **state)
{
    (void)state;
    char err[1024], want[128];
    assert_int_equal(check("warn.c", NULL, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s/warn.c:3:9: warning: unused variable 'unused'", dir);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "[-Wunused-variable]"));
    /* a warning inside a header is reported at the header's line */
    assert_int_equal(check("warn.h", NULL, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s/warn.h:1:34: warning: unused variable 'y'", dir);
    assert_non_null(strstr(err, want));
}

static void test_error_fails(void **state)
{
    (void)state;
    char err[1024], want[128];
    assert_int_equal(check("error.c", NULL, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s/error.c:3:12: error: use of undeclared identifier", dir);
    assert_non_null(strstr(err, want));
}

static void test_several_files(void **state)
{
    (void)state;
    char err[1024], want[128];
    /* the first diagnostic in file order, and a count of the rest */
    const char *files[3] = {"clean.c", "warn.c", "error.c"};
    assert_int_equal(verify_c_files(dir, files, 3, NULL, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s/warn.c:3:9:", dir);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "(and 1 more diagnostic)"));
    /* verify_dir takes every .c and .h: error.c sorts first */
    assert_int_equal(verify_dir(dir, NULL, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s/error.c:3:12:", dir);
    assert_non_null(strstr(err, want));
}

static void test_missing_headers(void **state)
{
    (void)state;
    char err[1024];
    const char *const args[] = {"-target", "thumbv7em-none-eabi", "-isystem",
                                "/usr/lib/picolibc/arm-none-eabi/no-such-include", NULL};
    assert_int_equal(check("clean.c", args, err, sizeof err), -1);
    assert_non_null(strstr(err, "/usr/lib/picolibc/arm-none-eabi/no-such-include does not exist"));
    assert_non_null(strstr(err, "picolibc-arm-none-eabi"));
    const char *const args2[] = {"-I/nonexistent/shiftc/include", NULL};
    assert_int_equal(check("clean.c", args2, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/shiftc/include does not exist"));
}

/* Cross targets parse too, when their headers are installed. */
static void test_cross_targets(void **state)
{
    (void)state;
    char err[1024];
    struct stat st;
    const char *const m4[] = {"-target", "thumbv7em-none-eabi", "-mcpu=cortex-m4", "-isystem",
                              "/usr/lib/picolibc/arm-none-eabi/include", NULL};
    if (stat(m4[4], &st) == 0) {
        assert_int_equal(check("clean.c", m4, err, sizeof err), 0);
        assert_int_equal(check("warn.c", m4, err, sizeof err), -1);
    }
    const char *const rv[] = {"-target", "riscv32-unknown-elf", "-march=rv32i", "-isystem",
                              "/usr/lib/picolibc/riscv64-unknown-elf/include", NULL};
    if (stat(rv[4], &st) == 0)
        assert_int_equal(check("clean.c", rv, err, sizeof err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_passes),  cmocka_unit_test(test_warning_fails),
        cmocka_unit_test(test_error_fails),   cmocka_unit_test(test_several_files),
        cmocka_unit_test(test_missing_headers), cmocka_unit_test(test_cross_targets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
