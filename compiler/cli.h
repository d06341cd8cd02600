/*
 * Command-line parsing shared by the subcommands: each command declares a
 * table of options, and the parser fills their values, collects positional
 * arguments and prints the command's --help from the same table, so the help
 * text cannot drift from what is accepted.
 */
#ifndef SHIFTC_CLI_H
#define SHIFTC_CLI_H

#include <stdio.h>

#define CLI_MAX_REPEAT 8

typedef enum { OPT_FLAG, OPT_VALUE, OPT_REPEAT } OptKind;

typedef struct CliOption {
    const char *name;  /* without the leading "--" */
    OptKind kind;
    const char *arg;   /* placeholder shown in help, e.g. "X.npy" */
    const char *help;
    /* filled by cli_parse */
    int set;
    const char *value;
    const char *values[CLI_MAX_REPEAT];
    int nvalues;
} CliOption;

typedef struct CliCommand {
    const char *name;
    const char *usage;   /* e.g. "MODEL.onnx --calib X.npy -o DIR" */
    const char *summary; /* one line */
    const char *details; /* paragraph after the options, may be NULL */
    int npositional;     /* exact number of positional arguments */
    CliOption *options;  /* ends with a NULL name */
} CliCommand;

/* Returns 0 on success, 1 when --help was printed, -1 on a usage error
 * (already printed).  positional receives npositional pointers. */
int cli_parse(CliCommand *cmd, int argc, char **argv, const char **positional);
void cli_help(const CliCommand *cmd, FILE *out);
CliOption *cli_opt(CliCommand *cmd, const char *name);
/* The integer value of option name in [lo, hi] (def when absent); prints
 * "shiftc CMD: --NAME expects ..." and returns -1 on a bad value. */
int cli_int(CliCommand *cmd, const char *name, long lo, long hi, long def, long *out);

#endif
