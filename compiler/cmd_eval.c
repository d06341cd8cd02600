/* shiftc eval: float accuracy from the reference interpreter and quantized
 * accuracy from the integer simulator, on labelled data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act_options.h"
#include "cli.h"
#include "mixed.h"
#include "commands.h"
#include "pipeline.h"
#include "quant.h"
#include "target.h"
#include "tensorfile.h"
#include "toolchain.h"
#include "util.h"
#include "weights.h"

static CliOption eval_options[] = {
    {"calib", OPT_VALUE, "X.npy", "calibration inputs, float32 (required)", 0, 0, {0}, 0},
    {"data", OPT_VALUE, "X.npy", "test inputs, float32 (required)", 0, 0, {0}, 0},
    {"labels", OPT_VALUE, "Y.npy", "test labels, int64, one per input (required)", 0, 0, {0}, 0},
    {"quant-output", OPT_VALUE, "Q.npy", "write the simulator's raw integer outputs", 0, 0, {0}, 0},
    {"float-output", OPT_VALUE, "F.npy", "write the float interpreter's outputs", 0, 0, {0}, 0},
    {"json", OPT_FLAG, NULL, "print one JSON object instead of text", 0, 0, {0}, 0},
    {"no-mul", OPT_FLAG, NULL, "quantize as 'compile --no-mul' does (shift-add requantization)", 0, 0, {0}, 0},
    {"act-bits", OPT_VALUE, "N", ACT_BITS_HELP, 0, 0, {0}, 0},
    {"clip", OPT_VALUE, "METHOD", ACT_CLIP_HELP, 0, 0, {0}, 0},
    {"kernel", OPT_VALUE, "STYLE", KERNEL_HELP, 0, 0, {0}, 0},
    WEIGHTS_CLI_OPTIONS,
    {"target", OPT_VALUE, "T", "whose cost model --budget uses (default host)", 0, 0, {0}, 0},
    MIXED_CLI_OPTIONS,
    {NULL, 0, NULL, NULL, 0, 0, {0}, 0},
};

static CliCommand eval_cmd = {
    "eval", "MODEL.onnx|MODEL.lua --calib X.npy --data X.npy --labels Y.npy [options]",
    "Quantizes the model as 'compile' does and measures top-1 accuracy of the float\n"
    "model (reference interpreter) and of the quantized one (integer simulator, which\n"
    "computes exactly what the emitted C computes).",
    "Accuracies are fractions in [0, 1]; 'agreement' is the fraction of inputs on which\n"
    "the float and quantized models pick the same class.",
    1, eval_options,
};

/* One quantized inference: the class the integer simulator picks for input
 * x, or -1 (g->err set).  qin, qout, deq: scratch of the right sizes. */
static int quant_class(Graph *g, QSim *sim, const float *x, void *qin, void *qout, float *deq)
{
    if (pipeline_run_quantized(g, sim, x, qin, qout, deq) != 0)
        return -1;
    return (int)argmax_f(deq, ir_numel(&g->tensors[g->outputs[0]]));
}

/* The report's accuracy of other assignments: quantize g again, simulate
 * every test input. */
typedef struct EvalData {
    const char *model;
    const float *calib, *data;
    const int64_t *labels;
    int ncalib, n;
} EvalData;

static double assignment_accuracy(void *ctx, Graph *g)
{
    const EvalData *d = ctx;
    if (pipeline_quantize(g, d->model, d->calib, d->ncalib) != 0)
        return NAN;
    QSim *sim = ir_qsim_new(g);
    if (!sim)
        return NAN;
    const Tensor *in = &g->tensors[g->inputs[0]], *out = &g->tensors[g->outputs[0]];
    int64_t in_n = ir_numel(in);
    void *qin = xmalloc((size_t)(in_n * quant_type_bytes(in->q.type)));
    void *qout = xmalloc((size_t)(ir_numel(out) * quant_type_bytes(out->q.type)));
    float *deq = xmalloc((size_t)ir_numel(out) * sizeof *deq);
    int ok = 0, s;
    for (s = 0; s < d->n; s++) {
        int c = quant_class(g, sim, d->data + (int64_t)s * in_n, qin, qout, deq);
        if (c < 0)
            break;
        ok += c == d->labels[s];
    }
    free(qin), free(qout), free(deq);
    ir_qsim_free(sim);
    return s == d->n ? (double)ok / d->n : NAN;
}

int cmd_eval(int argc, char **argv)
{
    const char *model;
    weights_cli_init(&eval_cmd);
    int rc = cli_parse(&eval_cmd, argc, argv, &model);
    if (rc)
        return rc > 0 ? 0 : 2;
    const char *calib_path = cli_opt(&eval_cmd, "calib")->value;
    const char *data_path = cli_opt(&eval_cmd, "data")->value;
    const char *labels_path = cli_opt(&eval_cmd, "labels")->value;
    if (!calib_path || !data_path || !labels_path) {
        fprintf(stderr, "shiftc eval: --calib, --data and --labels are required (see 'shiftc eval --help')\n");
        return 2;
    }
    int json = cli_opt(&eval_cmd, "json")->set;
    Mixed mx;
    if (mixed_parse(&eval_cmd, &mx) != 0)
        return 2;
    mx.model = model;
    const char *target_name = cli_opt(&eval_cmd, "target")->value;
    const Target *target = target_name ? toolchain_target("eval", target_name) : target_host();
    if (!target)
        return 2;
    ActOptions act;
    if (act_options_parse("eval", cli_opt(&eval_cmd, "act-bits")->value, cli_opt(&eval_cmd, "clip")->value, &act) != 0 ||
        act_options_kernel("eval", cli_opt(&eval_cmd, "kernel")->value, &act) != 0)
        return 2;

    LoadOptions lo = {0};
    Graph *g = pipeline_load(model, &lo);
    if (!g)
        return 1;
    int status = 1;
    float *calib = NULL, *data = NULL, *fout = NULL;
    int64_t *labels = NULL;
    void *qout = NULL;
    QSim *sim = NULL;
    float **vals = NULL;
    TensorFile ltf = {0};
    char err[1024];

    g->no_mul = cli_opt(&eval_cmd, "no-mul")->set;
    if (weights_cli_apply(&eval_cmd, g) != 0) {
        status = 2;
        goto done;
    }
    act_options_apply(g, &act);
    int ncalib = pipeline_read_samples(calib_path, g, &calib);
    if (ncalib < 0 || mixed_choose(&mx, g, target, calib, ncalib) != 0 ||
        pipeline_quantize(g, model, calib, ncalib) != 0)
        goto done;
    int n = pipeline_read_samples(data_path, g, &data);
    if (n < 0)
        goto done;
    if (tf_read(labels_path, &ltf, err, sizeof err) != 0) {
        fprintf(stderr, "shiftc: %s\n", err);
        goto done;
    }
    if (ltf.count != n || (ltf.type != TF_I64 && ltf.type != TF_I32)) {
        fprintf(stderr, "shiftc: %s: expected %d int64 labels (one per input of %s), found %lld of dtype %s\n",
                labels_path, n, data_path, (long long)ltf.count, tf_type_name(ltf.type));
        goto done;
    }
    labels = tf_to_int64(&ltf);
    int64_t nclass = ir_numel(&g->tensors[g->outputs[0]]);
    for (int s = 0; s < n; s++)
        if (labels[s] < 0 || labels[s] >= nclass) {
            fprintf(stderr, "shiftc: %s: label %d is %lld, outside [0, %lld) (the model has %lld outputs)\n",
                    labels_path, s, (long long)labels[s], (long long)nclass, (long long)nclass);
            goto done;
        }

    Tensor *in = &g->tensors[g->inputs[0]];
    Tensor *out = &g->tensors[g->outputs[0]];
    int64_t in_n = ir_numel(in), out_n = ir_numel(out);
    vals = ir_interp_alloc(g);
    sim = ir_qsim_new(g);
    if (!sim) {
        fprintf(stderr, "shiftc: %s: %s\n", model, g->err);
        goto done;
    }
    fout = xmalloc((size_t)(n * out_n) * sizeof *fout);
    int64_t out_bytes = out_n * quant_type_bytes(out->q.type); /* codes of one sample */
    qout = xmalloc((size_t)(n * out_bytes));
    unsigned char *qin = xmalloc((size_t)(in_n * quant_type_bytes(in->q.type)));
    float *deq = xmalloc((size_t)out_n * sizeof *deq);
    int float_ok = 0, quant_ok = 0, agree = 0;
    int tty = isatty(2) && !json;
    for (int s = 0; s < n; s++) {
        const float *x = data + (int64_t)s * in_n;
        memcpy(vals[g->inputs[0]], x, (size_t)in_n * sizeof *x);
        if (ir_interp_run(g, vals) != 0) {
            fprintf(stderr, "shiftc: %s: %s\n", model, g->err);
            free(qin), free(deq);
            goto done;
        }
        memcpy(fout + (int64_t)s * out_n, vals[g->outputs[0]], (size_t)out_n * sizeof *fout);
        int qc = quant_class(g, sim, x, qin, (unsigned char *)qout + (int64_t)s * out_bytes, deq);
        if (qc < 0) {
            fprintf(stderr, "shiftc: %s: %s\n", model, g->err);
            free(qin), free(deq);
            goto done;
        }
        int fc = (int)argmax_f(fout + (int64_t)s * out_n, out_n);
        float_ok += fc == labels[s];
        quant_ok += qc == labels[s];
        agree += fc == qc;
        if (tty && (s % 100 == 99 || s == n - 1))
            fprintf(stderr, "\reval: %d/%d", s + 1, n);
    }
    if (tty)
        fprintf(stderr, "\n");
    free(qin);
    free(deq);

    int64_t odims[IR_MAX_RANK + 1];
    int orank = sample_dims(out->dims, out->rank, n, odims);
    const char *qpath = cli_opt(&eval_cmd, "quant-output")->value;
    const char *fpath = cli_opt(&eval_cmd, "float-output")->value;
    TfType qtype = out->q.type == QT_U8 ? TF_U8 : out->q.type == QT_I16 ? TF_I16 : out->q.type == QT_U16 ? TF_U16 : TF_I8;
    if (qpath && tf_write_npy(qpath, qtype, orank, odims, qout, err, sizeof err) != 0) {
        fprintf(stderr, "shiftc: %s\n", err);
        goto done;
    }
    if (fpath && tf_write_npy(fpath, TF_F32, orank, odims, fout, err, sizeof err) != 0) {
        fprintf(stderr, "shiftc: %s\n", err);
        goto done;
    }
    double fa = (double)float_ok / n, qa = (double)quant_ok / n, ag = (double)agree / n;
    char clip[64];
    act_clip_text(&act, clip, sizeof clip);
    if (json) {
        printf("{\"model\": ");
        json_string(stdout, model);
        printf(", \"samples\": %d, \"float_accuracy\": %.6f, \"quant_accuracy\": %.6f, \"agreement\": %.6f, "
               "\"no_mul\": %s", n, fa, qa, ag, g->no_mul ? "true" : "false");
        weights_print(stdout, g, 1);
        printf(", \"act_bits\": %d, \"clip\": \"%s\", \"kernel\": \"%s\"", act.bits, clip,
                   ir_kernel_name(act.kernel));
        mixed_print(&mx, stdout, 1);
        printf("}\n");
    } else {
        printf("%s: %d samples\n  float accuracy  %.2f%%\n  quant accuracy  %.2f%% (%s weights, %d-bit activations%s; integer simulator)\n"
               "  agreement       %.2f%%\n", model, n, 100 * fa, 100 * qa, weights_name(g), act.bits,
               g->no_mul ? ", no-mul" : "", 100 * ag);
        printf("  activations     %d-bit, %s ranges\n", act.bits, clip);
        weights_print(stdout, g, 0);
        mixed_print(&mx, stdout, 0);
    }
    fflush(stdout);
    if (mx.report_dir) {
        EvalData ed = {model, calib, data, labels, ncalib, n};
        if (mixed_report(&mx, g, assignment_accuracy, &ed, fa) != 0)
            goto done;
    }
    status = 0;
done:
    mixed_free(&mx);
    free(calib), free(data), free(fout), free(qout), free(labels);
    tf_free(&ltf);
    if (vals)
        ir_interp_free(g, vals);
    ir_qsim_free(sim);
    ir_graph_free(g);
    return status;
}
