/*
 * Command-line glue of the weight formats (ir/formats.h), shared by
 * 'compile' and 'eval': the --weights / --bias-correction / --rounding options, and the
 * weight summary both commands print.
 */
#ifndef SHIFTC_WEIGHTS_H
#define SHIFTC_WEIGHTS_H

#include <stdio.h>

#include "cli.h"
#include "ir.h"

/* Option rows for a command's table (fill the help texts with
 * weights_cli_init before cli_parse). */
#define WEIGHTS_CLI_OPTIONS                                                                         \
    {"weights", OPT_VALUE, "FMT", NULL, 0, 0, {0}, 0},                                              \
    {"bias-correction", OPT_VALUE, "MODE",                                                          \
     "on, off or auto: correct each Conv/Dense channel's bias for the mean error of its weight "    \
     "codes (default auto: on for every format but int8)", 0, 0, {0}, 0},                           \
    {"rounding", OPT_VALUE, "MODE",                                                                 \
     "nearest or gptq: how weights get their codes; gptq spreads each weight's rounding error "     \
     "over the layer's later inputs (GPTQ, on the calibration inputs; every format but int8, "      \
     "ternary and ttq) (default nearest)", 0, 0, {0}, 0}

void weights_cli_init(CliCommand *cmd);

/* Applies the parsed options to g (before pipeline_quantize): the format of
 * every Conv/Dense, g->bias_correction and g->rounding.  Prints a usage error and returns
 * -1 on a bad value. */
int weights_cli_apply(CliCommand *cmd, Graph *g);

/* After quantization: `"weights": ..., "weight_terms": ...` (JSON members,
 * each preceded by ", ") or an indented text line. */
void weights_print(FILE *out, const Graph *g, int json);

/* The format name of every weighted layer ("mixed" when they differ). */
const char *weights_name(const Graph *g);

#endif
