/*
 * The activation options of `compile` and `eval`: --act-bits N (4, 8 or 16,
 * every layer) and --clip METHOD (how each activation's range is chosen from
 * calibration, ir/clip.h), and --kernel unrolled|mac (the style of every
 * Conv and Dense).  Parsed once, applied to every node's Precision
 * before quantization.
 */
#ifndef SHIFTC_ACT_OPTIONS_H
#define SHIFTC_ACT_OPTIONS_H

#include "ir.h"

#define ACT_BITS_HELP "activation bits of every layer: 4, 8 (default) or 16"
#define ACT_CLIP_HELP                                                                  \
    "activation ranges: minmax (default), percentile[:P] (P-th percentile of |x|, " \
    "default 99.99), aciq (Laplace), aciq-gauss"

#define KERNEL_HELP "Conv/Dense kernel style: unrolled (shift-add, default) or mac (int8 tables, MAC loop)"

typedef struct ActOptions {
    int bits;        /* 4, 8 or 16 */
    KernelStyle kernel; /* --kernel: every Conv and Dense layer */
    ClipMethod clip;
    double pct;      /* CLIP_PERCENTILE: 0 for the default */
} ActOptions;

/* Parses the option values (NULL: the default).  On a bad value prints
 * "shiftc CMD: ..." to stderr and returns -1. */
int act_options_parse(const char *cmd, const char *bits, const char *clip, ActOptions *o);

/* Parses --kernel (NULL: unrolled) into o->kernel; -1 with a message on a
 * bad name. */
int act_options_kernel(const char *cmd, const char *kernel, ActOptions *o);

/* Sets act_bits, act_clip and act_pct of every node, and the kernel style
 * of every Conv and Dense. */
void act_options_apply(Graph *g, const ActOptions *o);

/* "aciq", "percentile:99.9"...: the method as given back in JSON. */
void act_clip_text(const ActOptions *o, char *buf, size_t len);

#endif
