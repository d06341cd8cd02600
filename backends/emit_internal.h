/*
 * Internals of the C backend shared by emit_c.c (files, header, runner,
 * meta), emit_int.c (the integer network) and emit_float.c (the float
 * network).  Not part of the backend's API.
 */
#ifndef SHIFTC_EMIT_INTERNAL_H
#define SHIFTC_EMIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "emit_c.h"
#include "formats.h"
#include "ir.h"

/* A growable text buffer; every emitted file is built in one. */
typedef struct EmitBuf {
    char *s;
    size_t len, cap;
} EmitBuf;

void eb_puts(EmitBuf *b, const char *s);
void eb_printf(EmitBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void eb_free(EmitBuf *b);
/* An int32 as a C expression of type int32-compatible int, INT32_MIN included. */
void eb_i32(EmitBuf *b, int32_t v);
/* A float as an exact C literal: hex float with f suffix, or INFINITY/NAN. */
void eb_f32(EmitBuf *b, float v);
/* `{ v0, v1, ... }` bodies, a few values per line. */
void eb_i32_list(EmitBuf *b, const int32_t *v, int64_t n);
void eb_f32_list(EmitBuf *b, const float *v, int64_t n);

/* s made safe for a C comment or a meta line: printable ASCII without '*'
 * (so no comment can open or close inside it), '\\' or '?' (trigraphs),
 * at most 60 characters; whitespace becomes '_' when nospace. */
void emit_safe_text(const char *s, char *out, size_t len, int nospace);

/* One output file, built in memory and written at the end. */
typedef struct EmitFile {
    char *name; /* base name inside the output directory */
    EmitBuf text;
} EmitFile;

typedef struct EmitCtx {
    const Graph *g;
    const EmitOptions *opt;
    const char *name;    /* model name, the C prefix */
    MemPlan plan;
    int64_t *bytes;      /* per tensor: arena bytes */
    int64_t *scratch;    /* per node: scratch bytes */
    EmitFile *files;
    int nfiles, cap_files;
    EmitBuf consts;      /* NAME.c: static tables before the forward pass */
    EmitBuf body;        /* NAME.c: statements of NAME_forward */
    EmitBuf protos;      /* NAME_layers.h: layer function prototypes */
    char *const_done;    /* per tensor: its constant table is in consts */
    int64_t terms;       /* shift-add terms written */
    int64_t const_bytes; /* bytes of constant tables written */
    int max_fn_terms, max_file_terms;
    char *err;
    size_t errlen;
} EmitCtx;

/* Sets err to "node N (Op "name"): message" (or just the message when n
 * is NULL) and returns -1. */
int emit_fail(EmitCtx *c, const Node *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A new file of the project; the returned buffer stays valid until the
 * next emit_new_file call. */
EmitBuf *emit_new_file(EmitCtx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* `/ * node K: Op "name" [dims] -> [dims] * /` line into b, indented. */
void emit_node_comment(EmitCtx *c, EmitBuf *b, int k, const char *indent);

/* C expression for the arena storage of tensor t ("a + 123"), or of the
 * constant table holding it. */
void emit_tensor_ref(EmitCtx *c, EmitBuf *b, int t);

/* emit_int.c: the C type of a quantized tensor's codes ("int8_t",
 * "uint8_t", "int16_t", "uint16_t"). */
const char *emit_ctype(const Tensor *t);
/* emit_int.c: the runtime's storage tag of a quantized tensor ("SHIFTC_I8"...). */
const char *emit_ttag(const Tensor *t);

/* emit_float.c: the static const float table const_T of constant t. */
void emit_float_const_table(EmitCtx *c, int t);

/* Storage planning input: bytes of every tensor and node scratch. */
void emit_int_sizes(EmitCtx *c);
void emit_float_sizes(EmitCtx *c);

/* Checks that every node can be emitted (before any file is written). */
int emit_int_check(EmitCtx *c);
int emit_float_check(EmitCtx *c);

/* Fills c->consts, c->body and c->protos for node k, and adds its layer
 * files. */
int emit_int_node(EmitCtx *c, int k);
int emit_float_node(EmitCtx *c, int k);

/* emit_int.c: a static const geometry / broadcast struct called name; type
 * is the runtime's struct name (the integer and float structs have the
 * same fields, so kernel_args fills both). */
struct shiftc_geom;
struct shiftc_bcast;
void emit_geom_const(EmitBuf *b, const char *type, const char *name, const struct shiftc_geom *ge);
void emit_bcast_const(EmitBuf *b, const char *type, const char *name, const struct shiftc_bcast *bc);

/* emit_int.c: register blocks of unrolled sums, shared by the Conv/Dense
 * layers and the RNN gate rows.  Outputs are summed REG_BLOCK at a time in
 * accumulators a0, a1, ... declared by emit_acc_decl (with the input
 * register v).  emit_reg_block writes "aR = BIAS;" (0 when bias is NULL)
 * for each of the nb <= REG_BLOCK rows, then per input with a nonzero
 * weight in any row "v = ptr[OFF]; aR = aR + v * 8 - v; ..." (row[r][i]:
 * row r's code for input i, read at ptr[off[i]]), each line starting with
 * indent; returns the number of shift-add terms. */
enum { REG_BLOCK = FMT_ROW_BLOCK };
int64_t emit_reg_block(EmitBuf *b, const char *ptr, const int32_t *const *row, const int32_t *bias, int nb,
                       const int64_t *off, int64_t nw, const char *indent);
void emit_acc_decl(EmitBuf *b, int n, const char *indent);

#endif
