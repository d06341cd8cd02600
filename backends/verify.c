/*
 * The libclang check (verify.h): parse every emitted file for its target
 * and fail on any warning.
 *
 * libclang needs its resource directory (stddef.h, stdint.h and the other
 * compiler headers) for every target; on bare-metal triples it does not
 * find it by itself (it looks next to the "driver", which inside libclang
 * is not /usr/lib/llvm-14/bin), so it is always passed explicitly: the
 * Makefile fills SHIFTC_CLANG_RESOURCE_DIR from the installed LLVM.
 */
#include <clang-c/Index.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"
#include "verify.h"

#ifndef SHIFTC_CLANG_RESOURCE_DIR
#define SHIFTC_CLANG_RESOURCE_DIR "/usr/lib/llvm-14/lib/clang/14.0.6"
#endif

/* The flags every file is checked with, before the target's. */
static const char *const std_args[] = {"-std=c99", "-Wall", "-Wextra", "-pedantic"};
#define NSTD ((int)(sizeof std_args / sizeof std_args[0]))

/* Which Debian package provides a header directory a target names. */
static const struct {
    const char *prefix;
    const char *package;
} header_packages[] = {
    {"/usr/lib/picolibc/arm-none-eabi", "picolibc-arm-none-eabi"},
    {"/usr/lib/picolibc/riscv64-unknown-elf", "picolibc-riscv64-unknown-elf"},
    {"/usr/aarch64-linux-gnu", "libc6-dev-arm64-cross (with gcc-aarch64-linux-gnu)"},
    {"/usr/riscv64-linux-gnu", "libc6-dev-riscv64-cross (with gcc-riscv64-linux-gnu)"},
    {"/usr/arm-linux-gnueabihf", "libc6-dev-armhf-cross (with gcc-arm-linux-gnueabihf)"},
    {"/usr/lib/llvm-", "libclang-common-14-dev (with libclang-dev)"},
};

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int check_dir_exists(const char *path, const char *what, char *err, size_t errlen)
{
    if (is_dir(path))
        return 0;
    const char *pkg = NULL;
    for (size_t i = 0; i < sizeof header_packages / sizeof header_packages[0] && !pkg; i++)
        if (!strncmp(path, header_packages[i].prefix, strlen(header_packages[i].prefix)))
            pkg = header_packages[i].package;
    snprintf(err, errlen,
             "libclang check: %s %s does not exist: install the Debian package %s "
             "(or skip the check with --no-verify)",
             what, path, pkg ? pkg : "that provides the target's C library headers");
    return -1;
}

/* Every header directory the target arguments name must exist: a missing
 * one would only show up as a confusing "'stdint.h' file not found". */
static int check_header_dirs(const char *const *args, char *err, size_t errlen)
{
    if (check_dir_exists(SHIFTC_CLANG_RESOURCE_DIR "/include", "the clang resource directory",
                         err, errlen))
        return -1;
    for (int i = 0; args && args[i]; i++) {
        static const char *const opts[] = {"-isystem", "-I", "-idirafter"};
        for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
            size_t len = strlen(opts[k]);
            const char *path = NULL;
            if (!strcmp(args[i], opts[k]))
                path = args[i + 1];
            else if (!strncmp(args[i], opts[k], len) && args[i][len] == '/')
                path = args[i] + len;
            if (path && check_dir_exists(path, "header directory", err, errlen))
                return -1;
        }
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* "FILE:LINE:COL: warning: message [-Wflag]" of one diagnostic. */
static void format_diag(CXDiagnostic d, char *out, size_t len)
{
    CXSourceLocation loc = clang_getDiagnosticLocation(d);
    CXFile file;
    unsigned line = 0, col = 0;
    clang_getExpansionLocation(loc, &file, &line, &col, NULL);
    CXString fname = clang_getFileName(file);
    CXString msg = clang_getDiagnosticSpelling(d);
    CXString opt = clang_getDiagnosticOption(d, NULL);
    const char *fn = clang_getCString(fname), *o = clang_getCString(opt);
    enum CXDiagnosticSeverity sev = clang_getDiagnosticSeverity(d);
    snprintf(out, len, "%s:%u:%u: %s: %s%s%s%s", fn ? fn : "(no file)", line, col,
             sev == CXDiagnostic_Warning ? "warning" : sev == CXDiagnostic_Error ? "error" : "fatal error",
             clang_getCString(msg), o && *o ? " [" : "", o && *o ? o : "", o && *o ? "]" : "");
    clang_disposeString(opt);
    clang_disposeString(msg);
    clang_disposeString(fname);
}

/* Parses one file; adds its warnings to *count and puts the first of all
 * into first (when first is still empty).  -1 when libclang could not
 * parse at all. */
static int verify_one(CXIndex index, const char *dir, const char *file, const char **args,
                      int nargs /* args has room for one more */, int *count, char *first, size_t firstlen, char *err, size_t errlen)
{
    char *path = path_join(dir, file);
    char *tu_path = path;
    struct CXUnsavedFile unsaved;
    unsigned nunsaved = 0;
    char *probe = NULL, *text = NULL;
    if (ends_with(file, ".h")) {
        /* a header is checked as seen by a file including it; whether a
         * static function is used is a property of the includer (checked
         * with the .c files), not of the header, so that warning is off */
        probe = path_join(dir, "shiftc-verify-header.c");
        size_t n = strlen(file) + 16;
        text = xmalloc(n);
        snprintf(text, n, "#include \"%s\"\n", file);
        unsaved.Filename = probe;
        unsaved.Contents = text;
        unsaved.Length = (unsigned long)strlen(text);
        nunsaved = 1;
        tu_path = probe;
    }
    CXTranslationUnit tu = NULL;
    if (nunsaved)
        args[nargs++] = "-Wno-unused-function";
    enum CXErrorCode ec = clang_parseTranslationUnit2(index, tu_path, args, nargs,
                                                      nunsaved ? &unsaved : NULL, nunsaved,
                                                      CXTranslationUnit_None, &tu);
    int rc = 0;
    if (ec != CXError_Success || !tu) {
        snprintf(err, errlen, "libclang check: libclang could not parse %s (error %d)", path, (int)ec);
        rc = -1;
    } else {
        unsigned nd = clang_getNumDiagnostics(tu);
        for (unsigned i = 0; i < nd; i++) {
            CXDiagnostic d = clang_getDiagnostic(tu, i);
            if (clang_getDiagnosticSeverity(d) >= CXDiagnostic_Warning) {
                if (!*first)
                    format_diag(d, first, firstlen);
                ++*count;
            }
            clang_disposeDiagnostic(d);
        }
        clang_disposeTranslationUnit(tu);
    }
    free(text);
    free(probe);
    free(path);
    return rc;
}

int verify_c_files(const char *dir, const char *const *files, int nfiles,
                   const char *const *clang_args, char *err, size_t errlen)
{
    if (check_header_dirs(clang_args, err, errlen))
        return -1;
    int nt = 0;
    while (clang_args && clang_args[nt])
        nt++;
    const char **args = xmalloc((size_t)(NSTD + 3 + nt) * sizeof *args);
    int nargs = 0;
    for (int i = 0; i < NSTD; i++)
        args[nargs++] = std_args[i];
    args[nargs++] = "-resource-dir";
    args[nargs++] = SHIFTC_CLANG_RESOURCE_DIR;
    for (int i = 0; i < nt; i++)
        args[nargs++] = clang_args[i];

    /* no diagnostics printed by libclang itself: they come back in err */
    CXIndex index = clang_createIndex(0, 0);
    char first[1024] = "";
    int count = 0, rc = 0;
    for (int i = 0; i < nfiles && rc == 0; i++)
        rc = verify_one(index, dir, files[i], args, nargs, &count, first, sizeof first, err, errlen);
    clang_disposeIndex(index);
    free(args);
    if (rc)
        return -1;
    if (count == 0)
        return 0;
    if (count > 1)
        snprintf(err, errlen, "%s (and %d more diagnostic%s)", first, count - 1, count > 2 ? "s" : "");
    else
        snprintf(err, errlen, "%s", first);
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int verify_dir(const char *dir, const char *const *clang_args, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "libclang check: cannot open directory %s", dir);
        return -1;
    }
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !(ends_with(e->d_name, ".c") || ends_with(e->d_name, ".h")))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            names = xrealloc(names, (size_t)cap * sizeof *names);
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    int rc;
    if (n == 0) {
        snprintf(err, errlen, "libclang check: no .c or .h files in %s", dir);
        rc = -1;
    } else {
        qsort(names, (size_t)n, sizeof *names, cmp_str);
        rc = verify_c_files(dir, (const char *const *)names, n, clang_args, err, errlen);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}
