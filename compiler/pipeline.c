/* The pass list: what happens to a model between the frontend and the
 * backends, in order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "luaspec.h"
#include "pipeline.h"
#include "tensorfile.h"
#include "util.h"

typedef struct Pass {
    const char *name;
    int (*run)(Graph *g);
} Pass;

static const Pass passes[] = {
    {"infer-shapes", ir_infer_shapes},
    {"fuse-bias-add", ir_fuse_bias_add}, /* first, so Dense+Add+BN folds whole */
    {"fold-batchnorm", ir_fold_batchnorm},
    {"fuse-activations", ir_fuse_activations},
    {"remove-dead", ir_remove_dead},
    {"infer-shapes", ir_infer_shapes}, /* shapes of tensors the passes created */
};

static void print_line(void *ctx, const char *line)
{
    fprintf((FILE *)ctx, "  %s\n", line);
}

Graph *pipeline_load(const char *path, const LoadOptions *opt)
{
    char err[1024];
    size_t len = strlen(path);
    int lua = len > 4 && strcmp(path + len - 4, ".lua") == 0;
    if (lua && opt->nbind) {
        fprintf(stderr, "shiftc: %s: --bind is for ONNX graph inputs; a Lua model has none to "
                        "freeze\n", path);
        return NULL;
    }
    Graph *g = lua ? luaspec_load(path, err, sizeof err)
                   : onnx_load(path, opt->bind, opt->nbind, err, sizeof err);
    if (!g) {
        fprintf(stderr, "shiftc: %s\n", err);
        return NULL;
    }
    if (opt->name) {
        free(g->name);
        g->name = xstrdup(opt->name);
    }
    for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++) {
        if (passes[i].run(g) != 0) {
            fprintf(stderr, "shiftc: %s: %s\n", path, g->err);
            ir_graph_free(g);
            return NULL;
        }
        if (opt->dump_ir) {
            fprintf(stderr, "-- after %s\n", passes[i].name);
            ir_dump(g, print_line, stderr);
        }
    }
    return g;
}

int pipeline_read_samples(const char *path, const Graph *g, float **samples)
{
    char err[1024];
    TensorFile tf;
    *samples = NULL;
    if (tf_read(path, &tf, err, sizeof err) != 0) {
        fprintf(stderr, "shiftc: %s\n", err);
        return -1;
    }
    const Tensor *in = &g->tensors[g->inputs[0]];
    int n = sample_count(tf.dims, tf.rank, in->dims, in->rank);
    if (n < 0 || tf.type != TF_F32) {
        char got[256], want[256];
        dims_str(tf.dims, tf.rank, got, sizeof got);
        dims_str(in->dims, in->rank, want, sizeof want);
        if (tf.type != TF_F32)
            fprintf(stderr, "shiftc: %s: dtype %s, expected float32 ('<f4')\n", path, tf_type_name(tf.type));
        else
            fprintf(stderr, "shiftc: %s: shape %s does not match model input '%s' %s (expected (N, ...) with the input's shape, with or without its batch of 1)\n",
                    path, got, in->name, want);
        tf_free(&tf);
        return -1;
    }
    if (n == 0) {
        fprintf(stderr, "shiftc: %s: no samples\n", path);
        tf_free(&tf);
        return -1;
    }
    *samples = tf_to_float(&tf);
    tf_free(&tf);
    /* one NaN would poison every range and accuracy computed from the samples */
    int64_t per = ir_numel(in);
    for (int64_t i = 0; i < (int64_t)n * per; i++)
        if (!isfinite((*samples)[i])) {
            fprintf(stderr, "shiftc: %s: sample %lld, value %lld is %s (inputs must be finite)\n", path,
                    (long long)(i / per), (long long)(i % per), isnan((*samples)[i]) ? "NaN" : "infinite");
            free(*samples);
            *samples = NULL;
            return -1;
        }
    return n;
}

int pipeline_quantize(Graph *g, const char *model_path, const float *calib, int ncalib)
{
    if (ir_calibrate(g, calib, ncalib) != 0 || ir_quantize(g) != 0 || ir_gptq(g, calib, ncalib) != 0 ||
        ir_bias_correct(g, calib, ncalib) != 0) {
        fprintf(stderr, "shiftc: %s: %s\n", model_path, g->err);
        return -1;
    }
    return 0;
}

int pipeline_run_quantized(Graph *g, QSim *sim, const float *x, void *qin, void *qout, float *deq)
{
    const Tensor *in = &g->tensors[g->inputs[0]], *out = &g->tensors[g->outputs[0]];
    ir_quantize_input(in, x, qin);
    const void *ins[1] = {qin};
    void *outs[IR_MAX_IO] = {qout}; /* only the first output is wanted: NULL skips the others */
    if (ir_qsim_run(sim, ins, outs) != 0)
        return -1;
    ir_dequantize_output(out, qout, deq);
    return 0;
}
