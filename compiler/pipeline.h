/*
 * The compiler pipeline as the driver sees it: load a model, run the pass
 * list, calibrate and quantize.  Each step prints its own error, prefixed
 * with the model file, and returns NULL / -1 so commands can exit non-zero.
 */
#ifndef SHIFTC_PIPELINE_H
#define SHIFTC_PIPELINE_H

#include "ir.h"
#include "onnx.h"

typedef struct LoadOptions {
    const OnnxBinding *bind; /* graph inputs frozen to constants */
    int nbind;
    const char *name;        /* overrides the model name used in C identifiers */
    int dump_ir;             /* print the IR after every pass */
} LoadOptions;

/* Reads the model and runs the graph passes (shape inference, folding,
 * fusion, dead-node removal). */
Graph *pipeline_load(const char *path, const LoadOptions *opt);

/* Samples for graph input 0 from a .npy file: float32 (N, input dims) or,
 * when the input has batch 1, (N, input dims without the batch).  Returns
 * the sample count and a malloc'ed array of N * numel(input) floats. */
int pipeline_read_samples(const char *path, const Graph *g, float **samples);

/* Calibrates on the samples, quantizes every tensor and node, then
 * corrects the biases of Conv/Dense nodes for their weight codes
 * (--bias-correction) on the same samples. */
int pipeline_quantize(Graph *g, const char *model_path, const float *calib, int ncalib);

/* One quantized inference of float input x (numel of input 0) by the
 * integer simulator sim of g: the dequantized output 0 in deq.  qin, qout:
 * scratch for the input and output codes.  Returns 0, or -1 (g->err). */
int pipeline_run_quantized(Graph *g, QSim *sim, const float *x, void *qin, void *qout, float *deq);

#endif
