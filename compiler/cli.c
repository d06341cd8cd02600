#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

CliOption *cli_opt(CliCommand *cmd, const char *name)
{
    for (CliOption *o = cmd->options; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

void cli_help(const CliCommand *cmd, FILE *out)
{
    fprintf(out, "usage: shiftc %s %s\n\n%s\n\noptions:\n", cmd->name, cmd->usage, cmd->summary);
    for (const CliOption *o = cmd->options; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s%s", o->name[1] ? "--" : "-", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-24s %s%s\n", left, o->help, o->kind == OPT_REPEAT ? " (may be repeated)" : "");
    }
    fprintf(out, "  %-24s %s\n", "--help", "show this help");
    if (cmd->details)
        fprintf(out, "\n%s\n", cmd->details);
}

static int usage_error(const CliCommand *cmd, const char *msg, const char *what)
{
    fprintf(stderr, "shiftc %s: %s%s%s\n(see 'shiftc %s --help')\n", cmd->name, msg, what ? " " : "",
            what ? what : "", cmd->name);
    return -1;
}

int cli_parse(CliCommand *cmd, int argc, char **argv, const char **positional)
{
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_help(cmd, stdout);
            return 1;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (npos >= cmd->npositional)
                return usage_error(cmd, "unexpected argument", a);
            positional[npos++] = a;
            continue;
        }
        /* "-o" is the one short option: an alias of --output-dir style "o" */
        const char *name = a[1] == '-' ? a + 2 : a + 1;
        char buf[64];
        const char *eq = strchr(name, '=');
        const char *inline_value = NULL;
        if (eq) {
            snprintf(buf, sizeof buf, "%.*s", (int)(eq - name), name);
            name = buf;
            inline_value = eq + 1;
        }
        CliOption *o = cli_opt(cmd, name);
        if (!o || (a[1] != '-' && strlen(name) != 1))
            return usage_error(cmd, "unknown option", a);
        o->set = 1;
        if (o->kind == OPT_FLAG) {
            if (inline_value)
                return usage_error(cmd, "option takes no value:", a);
            continue;
        }
        const char *v = inline_value;
        if (!v) {
            if (i + 1 >= argc)
                return usage_error(cmd, "missing value for", a);
            v = argv[++i];
        }
        if (o->kind == OPT_REPEAT) {
            if (o->nvalues >= CLI_MAX_REPEAT)
                return usage_error(cmd, "too many uses of", a);
            o->values[o->nvalues++] = v;
        }
        o->value = v;
    }
    if (npos != cmd->npositional)
        return usage_error(cmd, npos < cmd->npositional ? "missing argument" : "too many arguments", NULL);
    return 0;
}

int cli_int(CliCommand *cmd, const char *name, long lo, long hi, long def, long *out)
{
    const char *s = cli_opt(cmd, name)->value;
    if (!s) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "shiftc %s: --%s expects an integer in [%ld, %ld], got '%s'\n", cmd->name, name, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}
