/* shiftc compile: model -> C sources, header, runner and Makefile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "emit_c.h"
#include "pipeline.h"
#include "util.h"

static CliOption compile_options[] = {
    {"o", OPT_VALUE, "DIR", "output directory (required)", 0, 0, {0}, 0},
    {"calib", OPT_VALUE, "X.npy", "calibration inputs, float32 (required unless --float)", 0, 0, {0}, 0},
    {"float", OPT_FLAG, NULL, "emit the float network (reference path, no quantization)", 0, 0, {0}, 0},
    {"name", OPT_VALUE, "NAME", "C identifier prefix of the API (default: from the file name)", 0, 0, {0}, 0},
    {"bind", OPT_REPEAT, "NAME=FILE", "freeze graph input NAME to the tensor in FILE (.npy or .pb)", 0, 0, {0}, 0},
    {"dump-ir", OPT_FLAG, NULL, "print the IR after every pass (stderr)", 0, 0, {0}, 0},
    {"json", OPT_FLAG, NULL, "print a JSON summary instead of text", 0, 0, {0}, 0},
    {NULL, 0, NULL, NULL, 0, 0, {0}, 0},
};

static CliCommand compile_cmd = {
    "compile", "MODEL.onnx --calib X.npy -o DIR [options]",
    "Compiles an ONNX model into DIR: NAME.h (the API), NAME.c and one file per\n"
    "weighted layer (weights baked into shift-add code), the runtime header, a host\n"
    "runner and a Makefile ('make -C DIR' builds the runner, 'make -C DIR lib' a library).",
    "Compiling the same model with the same options gives byte-identical files.",
    1, compile_options,
};

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
    int status = 1;
    float *calib = NULL;
    if (!float_mode) {
        int n = pipeline_read_samples(calib_path, g, &calib);
        if (n < 0 || pipeline_quantize(g, model, calib, n) != 0)
            goto done;
    }
    char err[1024];
    EmitOptions eo = {0};
    eo.dir = dir;
    eo.float_mode = float_mode;
    EmitStats st = {0};
    if (emit_c(g, &eo, &st, err, sizeof err) != 0) {
        fprintf(stderr, "shiftc: %s: %s\n", model, err);
        goto done;
    }
    if (json) {
        printf("{\"name\": ");
        json_string(stdout, g->name);
        printf(", \"dir\": ");
        json_string(stdout, dir);
        printf(", \"mode\": \"%s\", \"layers\": %d, \"arena_bytes\": %lld, \"shift_add_terms\": %lld, "
               "\"files\": %d}\n",
               float_mode ? "float" : "int8", g->nnodes, (long long)st.arena_bytes, (long long)st.terms, st.files);
    } else {
        printf("shiftc: %s -> %s/%s.{h,c} (%s, %d layers, %d files)\n", model, dir, g->name,
               float_mode ? "float" : "int8", g->nnodes, st.files);
        printf("  arena %lld bytes, %lld shift-add terms\n", (long long)st.arena_bytes, (long long)st.terms);
    }
    status = 0;
done:
    free(calib);
    ir_graph_free(g);
    return status;
}
