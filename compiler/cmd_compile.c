/* shiftc compile: model -> C sources, header, runner and Makefile. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act_options.h"
#include "cli.h"
#include "commands.h"
#include "emit_c.h"
#include "emit_worstcase.h"
#include "mixed.h"
#include "pipeline.h"
#include "target.h"
#include "toolchain.h"
#include "unroll_limit.h"
#include "util.h"
#include "verify.h"
#include "weights.h"

static CliOption compile_options[] = {
    {"o", OPT_VALUE, "DIR", "output directory (required)", 0, 0, {0}, 0},
    {"calib", OPT_VALUE, "X.npy", "calibration inputs, float32 (required unless --float)", 0, 0, {0}, 0},
    {"float", OPT_FLAG, NULL, "emit the float network (reference path, no quantization)", 0, 0, {0}, 0},
    {"name", OPT_VALUE, "NAME", "C identifier prefix of the API (default: from the file name)", 0, 0, {0}, 0},
    {"bind", OPT_REPEAT, "NAME=FILE", "freeze graph input NAME to the tensor in FILE (.npy or .pb)", 0, 0, {0}, 0},
    {"target", OPT_VALUE, "T", "the machine the code is for (default host; list below)", 0, 0, {0}, 0},
    {"size", OPT_FLAG, NULL, "measure flash and RAM (make lib + size); implied by --target", 0, 0, {0}, 0},
    {"no-size", OPT_FLAG, NULL, "do not build the library to measure flash and RAM", 0, 0, {0}, 0},
    {"dump-ir", OPT_FLAG, NULL, "print the IR after every pass (stderr)", 0, 0, {0}, 0},
    {"json", OPT_FLAG, NULL, "print a JSON summary instead of text", 0, 0, {0}, 0},
    {"no-mul", OPT_FLAG, NULL, "requantize with shifts and adds only (automatic on cores without a multiplier)", 0, 0, {0}, 0},
    {"act-bits", OPT_VALUE, "N", ACT_BITS_HELP, 0, 0, {0}, 0},
    {"clip", OPT_VALUE, "METHOD", ACT_CLIP_HELP, 0, 0, {0}, 0},
    {"kernel", OPT_VALUE, "STYLE", KERNEL_HELP, 0, 0, {0}, 0},
    WEIGHTS_CLI_OPTIONS,
    MIXED_CLI_OPTIONS,
    UNROLL_LIMIT_CLI_OPTION,
    {"no-verify", OPT_FLAG, NULL, "skip the libclang check that every emitted file parses warning-free", 0, 0, {0}, 0},
    {"worst-case-harness", OPT_FLAG, NULL, "also write worstcase.c and worstcase.bin: every weighted layer on inputs that drive its accumulators to their bound, compared with the simulator (a test, for sanitizer builds)", 0, 0, {0}, 0},
    {NULL, 0, NULL, NULL, 0, 0, {0}, 0},
};

static CliCommand compile_cmd = {
    "compile", "MODEL.onnx --calib X.npy -o DIR [options]",
    "Compiles an ONNX (or Lua model spec) model into DIR: NAME.h (the API), NAME.c and one file per\n"
    "weighted layer (weights baked into shift-add code), the runtime headers, a\n"
    "runner and a Makefile for the target ('make -C DIR' builds the runner with the\n"
    "target's toolchain, 'make -C DIR lib' a library).",
    NULL, /* compile_help() */
    1, compile_options,
};

/* The --help text after the options: the targets, flash and RAM. */
static const char *compile_help(void)
{
    static char buf[4096];
    size_t k = toolchain_target_list(buf, sizeof buf);
    if (k < sizeof buf)
        snprintf(buf + k, sizeof buf - k,
                 "\nWith --target (or --size) the library is built with the target's toolchain and\n"
                 "measured with its size: flash_bytes = text + data (code, read-only data,\n"
                 "initialised data) and ram_bytes = data + bss (the arena) of the model's own\n"
                 "objects; 'shiftc run' adds the stack high-water on bare metal.\n"
                 "Compiling the same model with the same options gives byte-identical files.");
    return buf;
}

static int valid_identifier(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

int cmd_compile(int argc, char **argv)
{
    const char *model;
    compile_cmd.details = compile_help();
    weights_cli_init(&compile_cmd);
    int rc = cli_parse(&compile_cmd, argc, argv, &model);
    if (rc)
        return rc > 0 ? 0 : 2;
    const char *dir = cli_opt(&compile_cmd, "o")->value;
    const char *calib_path = cli_opt(&compile_cmd, "calib")->value;
    const char *name = cli_opt(&compile_cmd, "name")->value;
    int float_mode = cli_opt(&compile_cmd, "float")->set;
    int json = cli_opt(&compile_cmd, "json")->set;
    if (!dir) {
        fprintf(stderr, "shiftc compile: -o DIR is required (see 'shiftc compile --help')\n");
        return 2;
    }
    if (!calib_path && !float_mode) {
        fprintf(stderr, "shiftc compile: --calib X.npy is required to quantize (or use --float)\n");
        return 2;
    }
    if (name && !valid_identifier(name)) {
        fprintf(stderr, "shiftc compile: --name '%s' is not a C identifier\n", name);
        return 2;
    }
    Mixed mx;
    if (mixed_parse(&compile_cmd, &mx) != 0)
        return 2;
    mx.model = model;
    if (mx.active && float_mode) {
        fprintf(stderr, "shiftc compile: --budget and --policy choose quantized precisions; not with --float\n");
        return 2;
    }
    ActOptions act;
    if (act_options_parse("compile", cli_opt(&compile_cmd, "act-bits")->value, cli_opt(&compile_cmd, "clip")->value,
                          &act) != 0 ||
        act_options_kernel("compile", cli_opt(&compile_cmd, "kernel")->value, &act) != 0)
        return 2;
    long max_terms;
    if (cli_int(&compile_cmd, "max-unrolled-terms", 0, UNROLL_LIMIT_MAX, UNROLL_LIMIT_DEFAULT, &max_terms) != 0)
        return 2;
    const char *target_name = cli_opt(&compile_cmd, "target")->value;
    const Target *target = target_name ? toolchain_target("compile", target_name) : target_host();
    if (!target)
        return 2;
    int measure = (target_name || cli_opt(&compile_cmd, "size")->set) && !cli_opt(&compile_cmd, "no-size")->set;
    char err[1024];
    if (measure && toolchain_check_build(target, err, sizeof err) != 0) {
        fprintf(stderr, "shiftc compile: %s (or emit only, with --no-size)\n", err);
        return 1;
    }

    CliOption *bind = cli_opt(&compile_cmd, "bind");
    OnnxBinding binds[CLI_MAX_REPEAT];
    char bind_names[CLI_MAX_REPEAT][256];
    for (int i = 0; i < bind->nvalues; i++) {
        const char *eq = strchr(bind->values[i], '=');
        if (!eq || eq == bind->values[i] || (size_t)(eq - bind->values[i]) >= sizeof bind_names[i]) {
            fprintf(stderr, "shiftc compile: --bind expects NAME=FILE, got '%s'\n", bind->values[i]);
            return 2;
        }
        snprintf(bind_names[i], sizeof bind_names[i], "%.*s", (int)(eq - bind->values[i]), bind->values[i]);
        binds[i].name = bind_names[i];
        binds[i].path = eq + 1;
    }
    LoadOptions lo = {binds, bind->nvalues, name, cli_opt(&compile_cmd, "dump-ir")->set};
    Graph *g = pipeline_load(model, &lo);
    if (!g)
        return 1;
    int status = 1, fallbacks = 0;
    float *calib = NULL;
    g->no_mul = cli_opt(&compile_cmd, "no-mul")->set || !target->has_mul;
    if (weights_cli_apply(&compile_cmd, g) != 0) {
        status = 2;
        goto done;
    }
    act_options_apply(g, &act);
    if (!float_mode) {
        int n = pipeline_read_samples(calib_path, g, &calib);
        if (n < 0 || mixed_choose(&mx, g, target, calib, n) != 0 || pipeline_quantize(g, model, calib, n) != 0)
            goto done;
        fallbacks = unroll_limit_apply(g, max_terms, model, stderr);
        if (fallbacks < 0) {
            fprintf(stderr, "shiftc: %s: %s\n", model, g->err);
            goto done;
        }
    }
    EmitOptions eo = {0};
    eo.dir = dir;
    eo.float_mode = float_mode;
    eo.target = target;
    EmitStats st = {0};
    if (emit_c(g, &eo, &st, err, sizeof err) != 0 ||
        (!cli_opt(&compile_cmd, "no-verify")->set && verify_dir(dir, target->clang_args, err, sizeof err) != 0)) {
        fprintf(stderr, "shiftc: %s: %s\n", model, err);
        goto done;
    }
    if (cli_opt(&compile_cmd, "worst-case-harness")->set) {
        if (float_mode) {
            fprintf(stderr, "shiftc compile: --worst-case-harness tests the integer network; not with --float\n");
            status = 2;
            goto done;
        }
        if (emit_worstcase(g, dir, err, sizeof err) != 0) {
            fprintf(stderr, "shiftc: %s: %s\n", model, err);
            goto done;
        }
    }
    ModelSize sz = {-1, -1, -1, -1, -1};
    if (measure && toolchain_model_size(dir, g->name, target, &sz, err, sizeof err) != 0) {
        fprintf(stderr, "shiftc: %s\n", err);
        goto done;
    }
    if (json) {
        printf("{\"name\": ");
        json_string(stdout, g->name);
        printf(", \"dir\": ");
        json_string(stdout, dir);
        printf(", \"target\": ");
        json_string(stdout, target->name);
        printf(", \"mode\": \"%s\", \"layers\": %d, \"arena_bytes\": %lld, \"shift_add_terms\": %lld, "
               "\"files\": %d",
               float_mode ? "float" : "quantized", g->nnodes, (long long)st.arena_bytes, (long long)st.terms, st.files);
        if (!float_mode) {
            printf(", \"weights\": ");
            json_string(stdout, weights_name(g));
        }
        if (!float_mode) {
            char clip[64];
            act_clip_text(&act, clip, sizeof clip);
            printf(", \"act_bits\": %d, \"clip\": \"%s\", \"kernel\": \"%s\"", act.bits, clip,
                   ir_kernel_name(act.kernel));
            mixed_print(&mx, stdout, 1);
            printf(", \"max_unrolled_terms\": %ld, \"mac_fallback_layers\": %d", max_terms, fallbacks);
        }
        printf(", \"compiler_peak_rss_bytes\": %lld", unroll_limit_peak_rss());
        if (measure)
            printf(", \"flash_bytes\": %lld, \"ram_bytes\": %lld, \"text_bytes\": %lld, \"data_bytes\": %lld, "
                   "\"bss_bytes\": %lld}\n",
                   sz.flash, sz.ram, sz.text, sz.data, sz.bss);
        else
            printf(", \"flash_bytes\": null, \"ram_bytes\": null}\n");
    } else {
        printf("shiftc: %s -> %s/%s.{h,c} (%s, %d layers, %d files, target %s)\n", model, dir, g->name,
               float_mode ? "float" : weights_name(g), g->nnodes, st.files, target->name);
        printf("  arena %lld bytes, %lld shift-add terms\n", (long long)st.arena_bytes, (long long)st.terms);
        if (measure)
            printf("  flash %lld bytes (text+rodata %lld, data %lld), RAM %lld bytes (data+bss; stack not "
                   "included) on %s\n",
                   sz.flash, sz.text, sz.data, sz.ram, target->name);
        mixed_print(&mx, stdout, 0);
    }
    if (mixed_report(&mx, g, NULL, NULL, NAN) != 0)
        goto done;
    status = 0;
done:
    mixed_free(&mx);
    free(calib);
    ir_graph_free(g);
    return status;
}
