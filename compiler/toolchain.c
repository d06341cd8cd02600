/* A target's tools on this machine (toolchain.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "process.h"
#include "toolchain.h"

const Target *toolchain_target(const char *cmd, const char *name)
{
    const Target *t = target_find(name);
    if (!t) {
        char names[512];
        target_names(names, sizeof names);
        fprintf(stderr, "shiftc %s: unknown target '%s' (valid: %s)\n", cmd, name, names);
    }
    return t;
}

size_t toolchain_target_list(char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "targets (--target):\n");
    for (int i = 0; targets[i] && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "  %-10s %s\n", targets[i]->name, targets[i]->summary);
    return k < len ? k : len;
}

static int missing(const Target *t, const char *what, const char *packages, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "target %s needs %s, which is not installed here: install the Debian package(s) %s "
             "(apt-get install ...)",
             t->name, what, packages);
    return -1;
}

/* The first "--specs=X" of flags, as X in buf, or 0. */
static int specs_file(const char *flags, char *buf, size_t len)
{
    const char *s = strstr(flags, "--specs=");
    if (!s)
        return 0;
    s += 8;
    size_t n = strcspn(s, " \t");
    snprintf(buf, len, "%.*s", (int)n, s);
    return n > 0;
}

int toolchain_check_build(const Target *t, char *err, size_t errlen)
{
    if (t->host_tools)
        return 0;
    const char *tools[] = {t->cc, t->ar, t->size_tool};
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
        if (!process_have(tools[i])) {
            char what[256];
            snprintf(what, sizeof what, "%s", tools[i]);
            return missing(t, what, t->packages, err, errlen);
        }
    char specs[128], arg[160], out[4096];
    if (specs_file(t->cflags, specs, sizeof specs)) {
        /* gcc prints the name back unchanged when it finds no such file */
        snprintf(arg, sizeof arg, "-print-file-name=%s", specs);
        char *argv[] = {(char *)t->cc, arg, NULL};
        if (process_capture(argv, out, sizeof out) != 0 || !strchr(out, '/')) {
            char what[256];
            snprintf(what, sizeof what, "the C library of %s (%s not found)", t->cc, specs);
            return missing(t, what, t->packages, err, errlen);
        }
    }
    return 0;
}

int toolchain_native(const Target *t)
{
    if (t->run == RUN_NATIVE)
        return 1;
    struct utsname u;
    return t->run == RUN_QEMU_USER && t->linux_arch && uname(&u) == 0 && strcmp(u.machine, t->linux_arch) == 0;
}

int toolchain_check_run(const Target *t, char *err, size_t errlen)
{
    if (toolchain_native(t) || !t->emulator || !t->emulator[0])
        return 0;
    if (!process_have(t->emulator[0]))
        return missing(t, t->emulator[0], t->run_packages, err, errlen);
    return 0;
}

int toolchain_model_size(const char *dir, const char *name, const Target *t, ModelSize *sz, char *err,
                         size_t errlen)
{
    char jobs[32], lib[4096], out[16384];
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(jobs, sizeof jobs, "-j%ld", cores > 0 ? cores : 1);
    char *make_argv[] = {"make", "-s", jobs, "-C", (char *)dir, "lib", NULL};
    if (process_run(make_argv) != 0) {
        snprintf(err, errlen, "building %s/lib%s.a for %s failed (make lib)", dir, name, t->name);
        return -1;
    }
    snprintf(lib, sizeof lib, "%s/lib%s.a", dir, name);
    char *size_argv[] = {(char *)t->size_tool, "-t", lib, NULL};
    if (process_capture(size_argv, out, sizeof out) != 0) {
        snprintf(err, errlen, "%s -t %s failed", t->size_tool, lib);
        return -1;
    }
    /* "   text    data     bss     dec     hex filename" ... "(TOTALS)" */
    char *totals = strstr(out, "(TOTALS)");
    if (totals) {
        while (totals > out && totals[-1] != '\n')
            totals--;
    }
    if (!totals || sscanf(totals, "%lld %lld %lld", &sz->text, &sz->data, &sz->bss) != 3) {
        snprintf(err, errlen, "cannot read the totals of %s -t %s", t->size_tool, lib);
        return -1;
    }
    sz->flash = sz->text + sz->data;
    sz->ram = sz->data + sz->bss;
    return 0;
}
