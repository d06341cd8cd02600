/* shiftc: the command-line driver. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

#define SHIFTC_VERSION "0.1.0"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"compile", cmd_compile, "compile a model to C sources, a header and a Makefile"},
    {"eval", cmd_eval, "measure float and quantized accuracy with the integer simulator"},
    {"run", cmd_run, "build a compiled model and run it on inputs"},
    {"sensitivity", cmd_sensitivity, "per-layer Hessian traces and weight-format sensitivity (HAWQ-V2)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: shiftc COMMAND [options]\n\n"
                 "shiftc compiles a trained neural network (ONNX) into dependency-free,\n"
                 "integer-only C with the weights baked into shift-add code.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'shiftc COMMAND --help' describes a command's options.\n"
                 "'shiftc --version' prints the version.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("shiftc %s\n", SHIFTC_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "shiftc: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
