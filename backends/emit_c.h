/*
 * The C backend: writes a quantized (or float) graph as a self-contained C
 * project -- API header, network source, one source per weighted layer
 * with the weights baked into shift-add code, the runtime header(s), a host
 * runner and a Makefile -- plus NAME.meta, which `shiftc run` reads back.
 *
 * Output is a pure function of the graph and the options: emitting twice
 * gives byte-identical files.
 */
#ifndef SHIFTC_EMIT_C_H
#define SHIFTC_EMIT_C_H

#include <stddef.h>
#include <stdint.h>

#include "ir.h"

typedef struct EmitOptions {
    const char *dir;    /* output directory, created (with parents) if missing */
    int float_mode;     /* emit the float network (shiftc_f32.h kernels, float
                           weights) instead of the quantized integer one */
    int max_fn_terms;   /* shift-add terms per generated function before a
                           layer is split into output blocks (0: 2048) */
    int max_file_terms; /* terms per layer source file before a layer is split
                           into several files NAME_lK_J.c (0: 32768) */
    const struct Target *target; /* toolchain, flags and board of the Makefile
                                    and runner (target.h); NULL: the host */
} EmitOptions;

typedef struct EmitStats {
    int64_t arena_bytes; /* static arena of NAME.c */
    int64_t terms;       /* shift-add terms over every unrolled layer */
    int64_t const_bytes; /* lookup tables, constant operands, float weights */
    int files;           /* files written */
} EmitStats;

/* Writes the project into opt->dir.  stats may be NULL.  On error returns -1
 * with a message naming the node (or the file) in err, and may have written
 * some files already. */
int emit_c(const Graph *g, const EmitOptions *opt, EmitStats *stats, char *err, size_t errlen);

/* ---- NAME.meta: what a runner expects and produces ----
 * Line format (one item per line, space separated):
 *   shiftc-meta 1
 *   name NAME
 *   mode int|float
 *   input I TNAME DTYPE SCALE ZERO RANK D0 D1 ...
 *   output I TNAME DTYPE SCALE ZERO RANK D0 D1 ...
 *   target T            (the --target it was compiled for; absent: host)
 * DTYPE is i8, u8 (4- and 8-bit codes), i16, u16 (16-bit codes, host byte
 * order in runner files) or f32 (float mode: scale 1, zero 0); SCALE is printed
 * with %.9g, so strtof gives the exact float back; TNAME is the tensor name
 * with whitespace and control characters replaced by '_'.  Lines with other
 * keywords are ignored by readers (room for additions). */

typedef struct EmitIO {
    char *name;     /* sanitised tensor name */
    char dtype[4];  /* "i8", "u8", "i16", "u16" or "f32" */
    float scale;    /* real = scale * (code - zero); 1 for f32 */
    int32_t zero;
    int rank;
    int64_t dims[IR_MAX_RANK];
    int64_t numel;  /* product of dims */
    int64_t bytes;  /* numel * (1, 2 or 4): size of one sample in a runner file */
} EmitIO;

typedef struct EmitMeta {
    char *name;     /* model name: the C prefix, NAME.h */
    char *target;   /* target name, "host" when the file names none */
    int float_mode;
    int ninputs, noutputs;
    EmitIO inputs[IR_MAX_IO], outputs[IR_MAX_IO];
} EmitMeta;

/* Reads the single *.meta file of dir (the one emit_c wrote). */
int emit_read_meta(const char *dir, EmitMeta *m, char *err, size_t errlen);
void emit_free_meta(EmitMeta *m);

#endif
