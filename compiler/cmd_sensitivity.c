/* shiftc sensitivity: per-layer Hessian traces (HAWQ-V2) of the float model
 * on labelled calibration data, and Omega of each weight format. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "pipeline.h"
#include "sensitivity.h"
#include "tensorfile.h"
#include "util.h"

static CliOption sens_options[] = {
    {"calib", OPT_VALUE, "X.npy", "calibration inputs, float32 (required)", 0, 0, {0}, 0},
    {"labels", OPT_VALUE, "Y.npy", "labels: int64 classes (cross-entropy) or float32 targets (--loss mse) (required)", 0, 0, {0}, 0},
    {"samples", OPT_VALUE, "N", "use the first N samples (default 200, or all if fewer)", 0, 0, {0}, 0},
    {"probes", OPT_VALUE, "N", "maximum Hutchinson probes (default 100)", 0, 0, {0}, 0},
    {"tol", OPT_VALUE, "T", "stop when every layer's running mean moves less than T relative (default 1e-3)", 0, 0, {0}, 0},
    {"seed", OPT_VALUE, "S", "random seed of the probes (default 0)", 0, 0, {0}, 0},
    {"threads", OPT_VALUE, "N", "worker threads (default 2)", 0, 0, {0}, 0},
    {"act-probes", OPT_VALUE, "N", "also estimate each layer's input-activation trace, N probes per sample (default 0: off)", 0, 0, {0}, 0},
    {"loss", OPT_VALUE, "xent|mse", "loss on graph output 0 (default xent)", 0, 0, {0}, 0},
    {"json", OPT_FLAG, NULL, "print one JSON object instead of text", 0, 0, {0}, 0},
    {NULL, 0, NULL, NULL, 0, 0, {0}, 0},
};

static CliCommand sens_cmd = {
    "sensitivity", "MODEL.onnx|MODEL.lua --calib X.npy --labels Y.npy [options]",
    "Estimates, for every Conv and Dense weight tensor and every LSTM and GRU (its W\n"
    "and R together), the trace of its block of the Hessian of the loss (Hutchinson's\n"
    "estimator, Rademacher probes, Hessian-vector products by central differences of\n"
    "double-precision gradients, with the branches of ReLU/Clip/MaxPool and of the\n"
    "recurrent gates' clip frozen, so they equal autograd's).",
    "Per layer: weights n, trace Tr(H_ii), Tr/n, its standard error, and\n"
    "Omega(f) = (Tr/n) * |Q_f(W) - W|^2 for each weight format f.  The loss is the\n"
    "mean over the samples of cross-entropy (softmax + NLL of the logits, or NLL\n"
    "when the model ends in Softmax) or of the mean squared error.  With\n"
    "--act-probes, also the trace of each sample's loss Hessian w.r.t. the layer's\n"
    "input activation, averaged over the samples.  Results depend on --seed only,\n"
    "not on --threads.",
    1, sens_options,
};

int cmd_sensitivity(int argc, char **argv)
{
    const char *model;
    int rc = cli_parse(&sens_cmd, argc, argv, &model);
    if (rc)
        return rc > 0 ? 0 : 2;
    const char *calib_path = cli_opt(&sens_cmd, "calib")->value;
    const char *labels_path = cli_opt(&sens_cmd, "labels")->value;
    if (!calib_path || !labels_path) {
        fprintf(stderr, "shiftc sensitivity: --calib and --labels are required (see 'shiftc sensitivity --help')\n");
        return 2;
    }
    long samples, probes, seed, threads, act_probes;
    if (cli_int(&sens_cmd, "samples", 1, 1000000, 200, &samples) || cli_int(&sens_cmd, "probes", 1, 100000, 100, &probes) ||
        cli_int(&sens_cmd, "seed", 0, 0x7fffffffL, 0, &seed) || cli_int(&sens_cmd, "threads", 1, 256, 2, &threads) ||
        cli_int(&sens_cmd, "act-probes", 0, 100000, 0, &act_probes))
        return 2;
    double tol = 1e-3;
    const char *tols = cli_opt(&sens_cmd, "tol")->value;
    if (tols) {
        char *end;
        tol = strtod(tols, &end);
        if (!*tols || *end || !(tol > 0 && tol < 1)) {
            fprintf(stderr, "shiftc sensitivity: --tol expects a number in (0, 1), got '%s'\n", tols);
            return 2;
        }
    }
    const char *losss = cli_opt(&sens_cmd, "loss")->value;
    GradLoss loss = GRAD_LOSS_XENT;
    if (losss && strcmp(losss, "mse") == 0)
        loss = GRAD_LOSS_MSE;
    else if (losss && strcmp(losss, "xent") != 0) {
        fprintf(stderr, "shiftc sensitivity: --loss expects 'xent' or 'mse', got '%s'\n", losss);
        return 2;
    }
    int json = cli_opt(&sens_cmd, "json")->set;

    LoadOptions lo = {0};
    Graph *g = pipeline_load(model, &lo);
    if (!g)
        return 1;
    int status = 1;
    float *calib = NULL;
    double *xs = NULL, *ts = NULL;
    GradModel *gm = NULL;
    SensResult res = {0};
    char err[1024];

    int n = pipeline_read_samples(calib_path, g, &calib);
    if (n < 0)
        goto done;
    gm = grad_model_new(g, loss);
    if (!gm) {
        fprintf(stderr, "shiftc: %s: %s\n", model, g->err);
        goto done;
    }
    int ncalib = n;
    if (samples < n)
        n = (int)samples;
    int64_t in_n = ir_numel(&g->tensors[g->inputs[0]]);
    xs = xmalloc((size_t)(n * in_n) * sizeof *xs);
    for (int64_t i = 0; i < n * in_n; i++)
        xs[i] = calib[i];
    ts = sens_read_targets(labels_path, g, &loss, 0, ncalib, n, err, sizeof err);
    if (!ts) {
        fprintf(stderr, "shiftc: %s\n", err);
        goto done;
    }

    SensOptions so = {0};
    so.probes = (int)probes;
    so.tol = tol;
    so.seed = (uint64_t)seed;
    so.threads = (int)threads;
    so.recurrent = 1;
    int tty = isatty(2);
    if (tty)
        so.progress = sens_progress_bar;
    if (sens_hutchinson(gm, xs, ts, n, &so, &res) != 0) {
        if (tty)
            fprintf(stderr, "\n");
        fprintf(stderr, "shiftc: %s: the model has no Conv, Dense, LSTM or GRU weights\n", model);
        goto done;
    }
    if (tty)
        fprintf(stderr, "\n");
    if (act_probes > 0) {
        if (tty)
            fprintf(stderr, "sensitivity: activation traces, %ld probes x %d samples...", act_probes, n);
        sens_act_traces(gm, xs, ts, n, (int)act_probes, &so, &res);
        if (tty)
            fprintf(stderr, " done\n");
    }

    if (json) {
        printf("{\"model\": ");
        json_string(stdout, model);
        printf(", \"samples\": %d, \"probes\": %d, \"seed\": %ld, \"loss\": %.9g, \"layers\": [", n, res.probes,
               seed, res.loss);
        for (int l = 0; l < res.nlayers; l++) {
            const SensLayer *L = &res.layers[l];
            const Node *nd = &g->nodes[L->node];
            printf("%s\n  {\"name\": ", l ? "," : "");
            json_string(stdout, nd->name);
            printf(", \"op\": \"%s\", \"params\": %lld, \"trace\": %.9g, \"trace_per_param\": %.9g, \"stderr\": %.9g, \"omega\": {",
                   ir_op_name(nd->op), (long long)L->n, L->trace, L->trace / (double)L->n, L->se);
            for (int f = 0; f < sens_nformats(); f++)
                printf("%s\"%s\": %.9g", f ? ", " : "", sens_format_name(f), L->omega[f]);
            printf("}");
            if (act_probes > 0)
                printf(", \"act_params\": %lld, \"act_trace\": %.9g, \"act_stderr\": %.9g", (long long)L->act_n,
                       L->act_trace, L->act_se);
            printf("}");
        }
        printf("\n]}\n");
    } else {
        printf("%s: %d samples, %d probes, mean loss %.6f\n", model, n, res.probes, res.loss);
        printf("  %-20s %-6s %8s %12s %12s %10s", "layer", "op", "params", "trace", "trace/n", "stderr");
        if (act_probes > 0)
            printf(" %8s %12s %10s", "act n", "act trace", "stderr");
        printf("\n");
        for (int l = 0; l < res.nlayers; l++) {
            const SensLayer *L = &res.layers[l];
            const Node *nd = &g->nodes[L->node];
            printf("  %-20s %-6s %8lld %12.6g %12.6g %10.3g", nd->name, ir_op_name(nd->op), (long long)L->n,
                   L->trace, L->trace / (double)L->n, L->se);
            if (act_probes > 0)
                printf(" %8lld %12.6g %10.3g", (long long)L->act_n, L->act_trace, L->act_se);
            printf("\n");
        }
        printf("\nomega = (trace/n) * |Q(W) - W|^2 per weight format:\n  %-20s", "layer");
        for (int f = 0; f < sens_nformats(); f++)
            printf(" %9s", sens_format_name(f));
        printf("\n");
        for (int l = 0; l < res.nlayers; l++) {
            const SensLayer *L = &res.layers[l];
            printf("  %-20s", g->nodes[L->node].name);
            for (int f = 0; f < sens_nformats(); f++)
                printf(" %9.3g", L->omega[f]);
            printf("\n");
        }
    }
    status = 0;
done:
    sens_result_free(&res);
    grad_model_free(gm);
    free(calib), free(xs), free(ts);
    ir_graph_free(g);
    return status;
}
