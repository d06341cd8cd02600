/* --weights, --bias-correction and --rounding, and the weight summary (weights.h). */
#include <string.h>

#include "commands.h"
#include "formats.h"
#include "weights.h"

void weights_cli_init(CliCommand *cmd)
{
    static char help[512];
    size_t k = (size_t)snprintf(help, sizeof help, "weight format of every Conv and Dense (default int8): ");
    if (k < sizeof help)
        fmt_list(help + k, sizeof help - k);
    cli_opt(cmd, "weights")->help = help;
}

int weights_cli_apply(CliCommand *cmd, Graph *g)
{
    const char *name = cli_opt(cmd, "weights")->value;
    const char *bc = cli_opt(cmd, "bias-correction")->value;
    WeightFormat f = WF_INT8;
    if (name && fmt_parse(name, &f) != 0) {
        char list[512];
        fmt_list(list, sizeof list);
        fprintf(stderr, "shiftc %s: unknown weight format '%s' (expected one of: %s)\n", cmd->name, name, list);
        return -1;
    }
    fmt_apply(g, f);
    if (!bc || strcmp(bc, "auto") == 0)
        g->bias_correction = FMT_BC_AUTO;
    else if (strcmp(bc, "on") == 0)
        g->bias_correction = 1;
    else if (strcmp(bc, "off") == 0)
        g->bias_correction = 0;
    else {
        fprintf(stderr, "shiftc %s: --bias-correction expects on, off or auto, got '%s'\n", cmd->name, bc);
        return -1;
    }
    const char *r = cli_opt(cmd, "rounding")->value;
    if (!r || strcmp(r, "nearest") == 0)
        g->rounding = ROUND_NEAREST;
    else if (strcmp(r, "gptq") == 0)
        g->rounding = ROUND_GPTQ;
    else {
        fprintf(stderr, "shiftc %s: --rounding expects nearest or gptq, got '%s'\n", cmd->name, r);
        return -1;
    }
    return 0;
}

const char *weights_name(const Graph *g)
{
    FmtSummary s;
    fmt_summary(g, &s);
    return s.layers == 0 ? "none" : s.format == WF_COUNT ? "mixed" : fmt_name(s.format);
}

void weights_print(FILE *out, const Graph *g, int json)
{
    FmtSummary s;
    fmt_summary(g, &s);
    int bc = s.corrected > 0;
    if (json) {
        fprintf(out, ", \"weights\": ");
        json_string(out, weights_name(g));
        fprintf(out, ", \"bias_correction\": %s, \"weight_count\": %lld, \"weight_terms\": %lld, "
                     "\"weight_bits\": %lld, \"acc_bits\": [",
                bc ? "true" : "false", (long long)s.weights, (long long)s.terms, (long long)s.bits);
        int first = 1;
        for (int i = 0; i < g->nnodes; i++)
            if (ir_op_is_weighted(g->nodes[i].op) && g->nodes[i].q) {
                fprintf(out, "%s%d", first ? "" : ", ", g->nodes[i].prec.acc_bits);
                first = 0;
            }
        fprintf(out, "]");
        return;
    }
    fprintf(out, "  weights         %s%s: %lld codes, %lld shift-add terms, %lld bits\n", weights_name(g),
            bc ? " with bias correction" : "", (long long)s.weights, (long long)s.terms, (long long)s.bits);
    fprintf(out, "  accumulators    %d of %d weighted layers provably fit int16 (int32 used)\n", s.acc16,
            s.layers);
}
