/*
 * The C backend's driver: plans the arena, has emit_int.c or emit_float.c
 * write the network, fills the templates (templates/, embedded in the
 * binary) for the header, NAME.c, runner and Makefile, writes NAME.meta,
 * copies the runtime headers, and reads NAME.meta back for `shiftc run`.
 *
 * Every file is built in memory first and written at the end, so a graph
 * the backend cannot handle leaves the directory untouched.  Generated
 * identifiers come from indices (NAME_l3, geom_5, const_12), never from
 * tensor or node names, which appear only in comments, sanitised.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embedded.h"
#include "emit_internal.h"
#include "kernel_args.h"
#include "quant.h"
#include "target.h"
#include "util.h"

/* ---- shared helpers (emit_internal.h) ---- */

int emit_fail(EmitCtx *c, const Node *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n)
        snprintf(c->err, c->errlen, "node %d (%s \"%s\"): C backend: %s", n->src_index,
                 ir_op_name(n->op), n->name, msg);
    else
        snprintf(c->err, c->errlen, "C backend: %s", msg);
    return -1;
}

EmitBuf *emit_new_file(EmitCtx *c, const char *fmt, ...)
{
    if (c->nfiles == c->cap_files) {
        c->cap_files = c->cap_files ? 2 * c->cap_files : 16;
        c->files = xrealloc(c->files, (size_t)c->cap_files * sizeof *c->files);
    }
    EmitFile *f = &c->files[c->nfiles++];
    memset(f, 0, sizeof *f);
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    f->name = xstrdup(name);
    return &f->text;
}

static void dims_text(const Tensor *t, char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < t->rank && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
    if (k < len)
        snprintf(buf + k, len - k, "]");
}

void emit_node_comment(EmitCtx *c, EmitBuf *b, int k, const char *indent)
{
    const Node *n = &c->g->nodes[k];
    char nm[64], d1[128], d2[128];
    emit_safe_text(n->name, nm, sizeof nm, 0);
    dims_text(&c->g->tensors[n->in[0]], d1, sizeof d1);
    dims_text(&c->g->tensors[n->out[0]], d2, sizeof d2);
    eb_printf(b, "%s/* node %d: %s \"%s\" %s -> %s */\n", indent, k, ir_op_name(n->op), nm, d1, d2);
}

void emit_tensor_ref(EmitCtx *c, EmitBuf *b, int t)
{
    const Tensor *tt = &c->g->tensors[t];
    if (tt->kind == TK_CONST) {
        if (!c->const_done[t]) {
            c->const_done[t] = 1;
            if (c->opt->float_mode) {
                emit_float_const_table(c, t);
            } else {
                int64_t count = ir_numel(tt);
                eb_printf(&c->consts, "static const %s const_%d[%lld] = {", emit_ctype(tt), t,
                          (long long)count);
                eb_i32_list(&c->consts, tt->qdata, count);
                eb_puts(&c->consts, "};\n");
                c->const_bytes += count * quant_type_bytes(tt->q.type);
            }
        }
        eb_printf(b, "const_%d", t);
        return;
    }
    int64_t off = c->plan.offset[t];
    ensure(off >= 0);
    eb_printf(b, "a + %lld", (long long)(c->opt->float_mode ? off / 4 : off));
}

/* ---- templates ---- */

typedef struct Subst {
    const char *key;
    const char *value;
} Subst;

/* Copies template `name` into out, replacing each @KEY@ (KEY: capitals,
 * digits, '_') by its value; an unknown key is a bug in the backend. */
static void fill_template(EmitBuf *out, const char *name, const Subst *subs, int nsubs)
{
    const EmbeddedFile *f = embedded_find(name);
    if (!f)
        internal_error(__FILE__, __LINE__, name);
    const char *s = f->text, *end = s + f->size;
    while (s < end) {
        const char *at = memchr(s, '@', (size_t)(end - s));
        if (!at)
            at = end;
        eb_printf(out, "%.*s", (int)(at - s), s);
        if (at == end)
            break;
        const char *k = at + 1;
        while (k < end && ((*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '_'))
            k++;
        if (k == at + 1 || k == end || *k != '@') {
            eb_puts(out, "@"); /* not a placeholder, e.g. make's $@ */
            s = at + 1;
            continue;
        }
        int found = 0;
        for (int i = 0; i < nsubs && !found; i++)
            if (strlen(subs[i].key) == (size_t)(k - at - 1) && !strncmp(subs[i].key, at + 1, (size_t)(k - at - 1))) {
                eb_puts(out, subs[i].value);
                found = 1;
            }
        if (!found)
            internal_error(__FILE__, __LINE__, "unknown template placeholder");
        s = k + 1;
    }
}

static void copy_embedded(EmitCtx *c, const char *name)
{
    const EmbeddedFile *f = embedded_find(name);
    if (!f)
        internal_error(__FILE__, __LINE__, name);
    EmitBuf *b = emit_new_file(c, "%s", name);
    eb_printf(b, "%.*s", (int)f->size, f->text);
}

/* ---- the API header, NAME.c, runner, Makefile, meta ---- */

static int is_identifier(const char *s)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

static void io_defines(EmitCtx *c, EmitBuf *b, const char *kind, int i, int t)
{
    const Tensor *tt = &c->g->tensors[t];
    char nm[64], d[128];
    emit_safe_text(tt->name, nm, sizeof nm, 0);
    dims_text(tt, d, sizeof d);
    eb_printf(b, "/* %s %d: \"%s\" %s */\n", kind, i, nm, d);
    eb_printf(b, "#define %s_%s%d_SIZE %lld\n", c->name, kind[0] == 'i' ? "INPUT" : "OUTPUT", i,
              (long long)ir_numel(tt));
    if (c->opt->float_mode)
        return;
    const char *K = kind[0] == 'i' ? "INPUT" : "OUTPUT";
    eb_printf(b, "#define %s_%s%d_SCALE ", c->name, K, i);
    eb_f32(b, tt->q.scale);
    eb_printf(b, " /* %.9g */\n", (double)tt->q.scale);
    eb_printf(b, "#define %s_%s%d_ZERO_POINT %ld\n", c->name, K, i, (long)tt->q.zero);
    eb_printf(b, "#define %s_%s%d_IS_UNSIGNED %d\n", c->name, K, i, quant_is_unsigned(tt->q.type));
    eb_printf(b, "#define %s_%s%d_BITS %d\n", c->name, K, i, quant_bits(&tt->q));
    eb_printf(b, "#define %s_%s%d_TYPE %s\n", c->name, K, i, emit_ctype(tt));
}

static void emit_header(EmitCtx *c)
{
    const Graph *g = c->g;
    const char *N = c->name;
    EmitBuf doc = {0}, defs = {0}, decls = {0};
    if (c->opt->float_mode) {
        eb_printf(&doc, " * The float network: %s_run_float(in, out) takes one float array per\n"
                        " * input and fills one per output (sizes below, NCHW order).  All state\n"
                        " * is a static arena: not reentrant, not thread-safe.\n",
                  N);
    } else {
        eb_printf(&doc,
                  " * The integer network.  Tensors are codes of BITS bits, real = SCALE *\n"
                  " * (code - ZERO_POINT), stored as TYPE: uint8_t when IS_UNSIGNED, else\n"
                  " * int8_t, for 4 and 8 bits; uint16_t / int16_t for 16 bits.\n"
                  " *   %s_run(in, out)       codes in, codes out (the exact computation);\n"
                  " *   %s_quantize_input / %s_dequantize_output convert one tensor;\n"
                  " *   %s_run_float(in, out) quantize, run, dequantize.\n"
                  " * All state is a static arena: not reentrant, not thread-safe.\n",
                  N, N, N, N);
    }
    eb_printf(&defs, "#define %s_FLOAT_MODE %d\n", N, c->opt->float_mode ? 1 : 0);
    eb_printf(&defs, "#define %s_NUM_INPUTS %d\n#define %s_NUM_OUTPUTS %d\n", N, g->ninputs, N,
              g->noutputs);
    eb_printf(&defs, "#define %s_ARENA_BYTES %lld\n\n", N, (long long)c->plan.arena_bytes);
    for (int i = 0; i < g->ninputs; i++)
        io_defines(c, &defs, "input", i, g->inputs[i]);
    for (int i = 0; i < g->noutputs; i++)
        io_defines(c, &defs, "output", i, g->outputs[i]);
    if (!c->opt->float_mode)
        eb_printf(&decls,
                  "/* Runs the network on input codes; returns 0. */\n"
                  "int %s_run(const void *const in[], void *const out[]);\n"
                  "/* Float -> codes of input i (shiftc_quantize_f32, element by element). */\n"
                  "void %s_quantize_input(int i, const float *x, void *codes);\n"
                  "/* Codes -> floats of output i. */\n"
                  "void %s_dequantize_output(int i, const void *codes, float *y);\n",
                  N, N, N);
    eb_printf(&decls, "/* Floats in, floats out; returns 0. */\n"
                      "int %s_run_float(const float *const in[], float *const out[]);\n",
              N);
    Subst s[] = {{"NAME", N}, {"DOC", doc.s}, {"DEFINES", defs.s}, {"DECLS", decls.s}};
    fill_template(emit_new_file(c, "%s.h", N), "model.h.in", s, 4);
    eb_free(&doc);
    eb_free(&defs);
    eb_free(&decls);
}

static void emit_plan_comment(EmitCtx *c, EmitBuf *b)
{
    const Graph *g = c->g;
    char nm[64];
    for (int t = 0; t < g->ntensors; t++) {
        if (c->bytes[t] <= 0 || c->plan.offset[t] < 0)
            continue;
        emit_safe_text(g->tensors[t].name, nm, sizeof nm, 0);
        eb_printf(b, " *   %8lld..%-8lld tensor %d \"%s\"\n", (long long)c->plan.offset[t],
                  (long long)(c->plan.offset[t] + c->bytes[t] - 1), t, nm);
    }
    for (int k = 0; k < g->nnodes; k++)
        if (c->plan.scratch_off[k] >= 0)
            eb_printf(b, " *   %8lld..%-8lld scratch of node %d\n", (long long)c->plan.scratch_off[k],
                      (long long)(c->plan.scratch_off[k] + c->scratch[k] - 1), k);
}

/* Which code widths the activations use: bit 0 for 4, 1 for 8, 2 for 16. */
static int code_widths(const Graph *g)
{
    int w = 0;
    for (int t = 0; t < g->ntensors; t++) {
        const Tensor *tt = &g->tensors[t];
        if (tt->kind == TK_CONST || tt->q.type == QT_NONE)
            continue;
        int b = quant_bits(&tt->q);
        w |= b <= 4 ? 1 : b <= 8 ? 2 : 4;
    }
    return w;
}

/* NAME.c's comment on the codes, and its arena: 16-bit codes need the
 * arena 2-byte aligned (the planner's offsets are multiples of 16), which
 * a union with an int16_t member gives in C99. */
static void arena_texts(EmitCtx *c, EmitBuf *codes, EmitBuf *arena)
{
    const char *N = c->name;
    int w = code_widths(c->g);
    eb_puts(codes, w == 2 ? "an 8-bit code" : w == 1 ? "a 4-bit code (in 8-bit storage)"
                   : w == 4 ? "a 16-bit code" : "a code of 4, 8 or 16 bits");
    if (w & 4)
        eb_printf(arena, "static union {\n    uint8_t b[%s_ARENA_BYTES];\n    int16_t align; /* for the 16-bit codes */\n"
                         "} %s_arena_u;\n#define %s_arena (%s_arena_u.b)",
                  N, N, N, N);
    else
        eb_printf(arena, "static uint8_t %s_arena[%s_ARENA_BYTES];", N, N);
}

static void emit_main_source(EmitCtx *c)
{
    const Graph *g = c->g;
    const char *N = c->name;
    EmitBuf plan = {0}, in = {0}, out = {0}, fin = {0}, fout = {0}, qz = {0}, dq = {0};
    emit_plan_comment(c, &plan);
    int fm = c->opt->float_mode;
    for (int i = 0; i < g->ninputs; i++) {
        int t = g->inputs[i];
        int64_t off = c->plan.offset[t], cnt = ir_numel(&g->tensors[t]);
        if (fm) {
            eb_printf(&in, "    %s_copy(%s_arena + %lld, in[%d], %lld);\n", N, N, (long long)off / 4, i,
                      (long long)cnt);
            continue;
        }
        const Tensor *tt = &g->tensors[t];
        eb_printf(&in, "    %s_copy(%s_arena + %lld, in[%d], %lld);\n", N, N, (long long)off, i,
                  (long long)cnt * quant_type_bytes(tt->q.type));
        eb_printf(&fin, "    %s_quantize_input(%d, in[%d], %s_arena + %lld);\n", N, i, i, N,
                  (long long)off);
        const char *ct = emit_ctype(tt);
        int32_t lo, hi;
        quant_code_range(&tt->q, &lo, &hi);
        eb_printf(&qz,
                  "    case %d:\n        for (k = 0; k < %lld; k++)\n"
                  "            ((%s *)codes)[k] = (%s)shiftc_quantize_f32(x[k], %s_INPUT%d_SCALE,\n"
                  "                %s_INPUT%d_ZERO_POINT, %ld, %ld);\n        break;\n",
                  i, (long long)cnt, ct, ct, N, i, N, i, (long)lo, (long)hi);
    }
    for (int i = 0; i < g->noutputs; i++) {
        int t = g->outputs[i];
        int64_t off = c->plan.offset[t], cnt = ir_numel(&g->tensors[t]);
        if (fm) {
            eb_printf(&out, "    %s_copy(out[%d], %s_arena + %lld, %lld);\n", N, i, N, (long long)off / 4,
                      (long long)cnt);
            continue;
        }
        eb_printf(&out, "    %s_copy(out[%d], %s_arena + %lld, %lld);\n", N, i, N, (long long)off,
                  (long long)cnt * quant_type_bytes(g->tensors[t].q.type));
        eb_printf(&fout, "    %s_dequantize_output(%d, %s_arena + %lld, out[%d]);\n", N, i, N,
                  (long long)off, i);
        const char *ct = emit_ctype(&g->tensors[t]);
        eb_printf(&dq,
                  "    case %d:\n        for (k = 0; k < %lld; k++)\n"
                  "            y[k] = shiftc_dequantize_f32(((const %s *)codes)[k], %s_OUTPUT%d_SCALE,\n"
                  "                %s_OUTPUT%d_ZERO_POINT);\n        break;\n",
                  i, (long long)cnt, ct, N, i, N, i);
    }
    EmitBuf codes = {0}, arena = {0};
    arena_texts(c, &codes, &arena);
    Subst s[] = {
        {"CODES", codes.s},    {"ARENA", arena.s},
        {"NAME", N},           {"PLAN", plan.s ? plan.s : ""}, {"CONSTS", c->consts.s ? c->consts.s : ""},
        {"BODY", c->body.s ? c->body.s : ""}, {"RUN_IN", in.s},  {"RUN_OUT", out.s},
        {"RUNF_IN", fin.s ? fin.s : ""},      {"RUNF_OUT", fout.s ? fout.s : ""},
        {"QUANTIZE", qz.s ? qz.s : ""},       {"DEQUANTIZE", dq.s ? dq.s : ""},
    };
    fill_template(emit_new_file(c, "%s.c", N), fm ? "model_float.c.in" : "model_int.c.in", s,
                  (int)(sizeof s / sizeof s[0]));
    eb_free(&plan), eb_free(&in), eb_free(&out), eb_free(&fin), eb_free(&fout);
    eb_free(&codes), eb_free(&arena);
    eb_free(&qz), eb_free(&dq);
}

static const Target *emit_target(const EmitCtx *c)
{
    return c->opt->target ? c->opt->target : target_host();
}

/* " ARG" for each word of argv, for the how-to-run comments */
static void argv_text(EmitBuf *b, const char *const *argv)
{
    for (int i = 0; argv && argv[i]; i++)
        eb_printf(b, " %s", argv[i]);
}

/* How the runner is started by hand on target t, each line after "prefix". */
static void run_doc(EmitBuf *b, const Target *t, const char *prefix)
{
    if (t->run == RUN_QEMU_USER) {
        eb_printf(b, "\n%son other machines than %s: %s ./runner IN.bin OUT.bin N", prefix, t->linux_arch,
                  t->emulator[0]);
    } else if (t->run == RUN_QEMU_SYSTEM) {
        eb_printf(b, "\n%sunder QEMU, files through semihosting (one command line):\n%s ", prefix, prefix);
        argv_text(b, t->emulator);
        eb_printf(b, " -display none -serial none -monitor none\n%s   -chardev stdio,id=con -kernel runner"
                     " -semihosting-config\n%s   enable=on,target=native,chardev=con,arg=IN.bin,arg=OUT.bin,arg=N",
                  prefix, prefix);
    }
}

static void emit_meta(EmitCtx *c)
{
    const Graph *g = c->g;
    EmitBuf *b = emit_new_file(c, "%s.meta", c->name);
    eb_printf(b, "shiftc-meta 1\nname %s\nmode %s\n", c->name, c->opt->float_mode ? "float" : "int");
    for (int pass = 0; pass < 2; pass++) {
        int count = pass ? g->noutputs : g->ninputs;
        for (int i = 0; i < count; i++) {
            const Tensor *t = &g->tensors[pass ? g->outputs[i] : g->inputs[i]];
            char nm[64];
            emit_safe_text(t->name, nm, sizeof nm, 1);
            const char *dt = c->opt->float_mode ? "f32"
                             : t->q.type == QT_U8  ? "u8"
                             : t->q.type == QT_I16 ? "i16"
                             : t->q.type == QT_U16 ? "u16"
                                                   : "i8";
            double scale = c->opt->float_mode ? 1.0 : (double)t->q.scale;
            long zero = c->opt->float_mode ? 0 : (long)t->q.zero;
            eb_printf(b, "%s %d %s %s %.9g %ld %d", pass ? "output" : "input", i, nm, dt, scale, zero,
                      t->rank);
            for (int d = 0; d < t->rank; d++)
                eb_printf(b, " %lld", (long long)t->dims[d]);
            eb_puts(b, "\n");
        }
    }
    eb_printf(b, "arena %lld\n", (long long)c->plan.arena_bytes);
    eb_printf(b, "target %s\n", emit_target(c)->name);
}

static void emit_runner_and_makefile(EmitCtx *c)
{
    const Graph *g = c->g;
    const char *N = c->name;
    EmitBuf ins = {0}, outs = {0}, itot = {0}, otot = {0}, srcs = {0}, hdrs = {0};
    for (int i = 0; i < g->ninputs; i++) {
        eb_printf(&ins, "%s%s_INPUT%d_SIZE", i ? ", " : "", N, i);
        eb_printf(&itot, "%s%s_INPUT%d_SIZE", i ? " + " : "(", N, i);
    }
    for (int i = 0; i < g->noutputs; i++) {
        eb_printf(&outs, "%s%s_OUTPUT%d_SIZE", i ? ", " : "", N, i);
        eb_printf(&otot, "%s%s_OUTPUT%d_SIZE", i ? " + " : "(", N, i);
    }
    eb_puts(&itot, ")");
    eb_puts(&otot, ")");
    const Target *t = emit_target(c);
    EmitBuf board = {0}, rdoc = {0}, mdoc = {0}, ccdoc = {0};
    if (t->bare_metal)
        eb_puts(&board, "#define SHIFTC_BOARD_BARE_METAL 1\n");
    if (t->count == COUNT_MINSTRET)
        eb_puts(&board, "#define SHIFTC_BOARD_COUNTER SHIFTC_COUNTER_MINSTRET\n");
    else if (t->count == COUNT_SYSTICK)
        eb_printf(&board, "#define SHIFTC_BOARD_COUNTER SHIFTC_COUNTER_SYSTICK\n"
                          "#define SHIFTC_BOARD_SYSTICK_SCALE %d\n",
                  t->count_scale);
    run_doc(&rdoc, t, " *   ");
    run_doc(&mdoc, t, "#               ");
    /* an operating system's runner has the timing mode (clock_gettime) */
    const char *hosted = t->bare_metal ? ""
                                       : "#define _POSIX_C_SOURCE 199309L /* clock_gettime, for runner --time */\n"
                                         "#define SHIFTC_RUNNER_HOSTED 1\n";
    /* the runner's code arrays: check_graph made every input (output) the same width */
    const char *qin = "unsigned char", *qout = "unsigned char";
    if (!c->opt->float_mode && quant_type_bytes(g->tensors[g->inputs[0]].q.type) == 2)
        qin = "uint16_t";
    if (!c->opt->float_mode && quant_type_bytes(g->tensors[g->outputs[0]].q.type) == 2)
        qout = "uint16_t";
    Subst rs[] = {{"QIN_TYPE", qin},     {"QOUT_TYPE", qout},
                  {"NAME", N},           {"IN_SIZES", ins.s},  {"OUT_SIZES", outs.s},
                  {"IN_TOTAL", itot.s},  {"OUT_TOTAL", otot.s}, {"TARGET", t->name},
                  {"RUN_DOC", rdoc.s ? rdoc.s : ""}, {"BOARD", board.s ? board.s : ""},
                  {"HOSTED", hosted}};
    fill_template(emit_new_file(c, "runner.c"), "runner.c.in", rs, (int)(sizeof rs / sizeof rs[0]));

    /* every .c file but the runner, in the order they were made */
    int col = 7;
    for (int i = 0; i < c->nfiles; i++) {
        const char *f = c->files[i].name;
        size_t len = strlen(f);
        if (len < 2 || strcmp(f + len - 2, ".c") != 0 || strcmp(f, "runner.c") == 0)
            continue;
        if (col + (int)len > 76) {
            eb_puts(&srcs, " \\\n      ");
            col = 7;
        }
        eb_printf(&srcs, "%s%s", col > 7 ? " " : "", f);
        col += (int)len + 1;
    }
    eb_printf(&hdrs, "%s.h %s_layers.h shiftc_rt.h%s shiftc_board.h", N, N,
              c->opt->float_mode ? " shiftc_f32.h" : "");
    if (t->host_tools)
        eb_puts(&ccdoc, "The machine's own C compiler: CC, CFLAGS and AR from the environment win.");
    else
        eb_printf(&ccdoc, "The %s toolchain (Debian: %s); 'make CC=... CFLAGS=...' overrides.", t->name,
                  t->packages);
    EmitBuf tcf = {0}, tlf = {0};
    eb_printf(&tcf, "%s%s", *t->cflags ? " " : "", t->cflags);
    eb_printf(&tlf, "%s%s", *t->ldflags ? " " : "", t->ldflags);
    Subst ms[] = {{"NAME", N},
                  {"SRCS", srcs.s},
                  {"HDRS", hdrs.s},
                  {"TARGET", t->name},
                  {"RUN_DOC", mdoc.s ? mdoc.s : ""},
                  {"CC_DOC", ccdoc.s},
                  {"SET", t->host_tools ? "?=" : "="},
                  {"CC", t->cc},
                  {"AR", t->ar},
                  {"TARGET_CFLAGS", tcf.s},
                  {"TARGET_LDFLAGS", tlf.s}};
    fill_template(emit_new_file(c, "Makefile"), "Makefile.in", ms, (int)(sizeof ms / sizeof ms[0]));
    eb_free(&ins), eb_free(&outs), eb_free(&itot), eb_free(&otot), eb_free(&srcs), eb_free(&hdrs);
    eb_free(&board), eb_free(&rdoc), eb_free(&mdoc), eb_free(&ccdoc), eb_free(&tcf), eb_free(&tlf);
}

/* ---- writing ---- */

static int mkdir_p(const char *dir, char *err, size_t errlen)
{
    char *p = xstrdup(dir);
    size_t len = strlen(p);
    for (size_t i = 1; i <= len; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char save = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create directory %s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        p[i] = save;
    }
    free(p);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", dir);
        return -1;
    }
    return 0;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Is path a shiftc meta file (first line "shiftc-meta ...")? */
static int is_meta_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[32] = {0};
    int ok = fgets(line, sizeof line, f) && strncmp(line, "shiftc-meta ", 12) == 0;
    fclose(f);
    return ok;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The shiftc meta files in dir, sorted; returns the count. */
static int list_meta(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    int n = 0, cap = 0;
    char **names = NULL;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!ends_with(e->d_name, ".meta"))
                continue;
            char *p = path_join(dir, e->d_name);
            if (is_meta_file(p)) {
                if (n == cap) {
                    cap = cap ? 2 * cap : 4;
                    names = xrealloc(names, (size_t)cap * sizeof *names);
                }
                names[n++] = p;
            } else {
                free(p);
            }
        }
        closedir(d);
    }
    if (n > 1)
        qsort(names, (size_t)n, sizeof *names, cmp_str);
    *out = names;
    return n;
}

static int write_files(EmitCtx *c)
{
    const char *dir = c->opt->dir;
    if (mkdir_p(dir, c->err, c->errlen))
        return -1;
    /* a meta file of an earlier model compiled into this directory would
     * make it ambiguous which network `shiftc run` should build */
    char **metas;
    int nm = list_meta(dir, &metas);
    char *mine = xmalloc(strlen(c->name) + 6);
    sprintf(mine, "%s.meta", c->name);
    for (int i = 0; i < nm; i++) {
        const char *base = strrchr(metas[i], '/') + 1;
        if (strcmp(base, mine) != 0)
            unlink(metas[i]);
        free(metas[i]);
    }
    free(metas);
    free(mine);
    for (int i = 0; i < c->nfiles; i++) {
        char *p = path_join(dir, c->files[i].name);
        FILE *f = fopen(p, "wb");
        int ok = f != NULL;
        if (ok && c->files[i].text.len)
            ok = fwrite(c->files[i].text.s, 1, c->files[i].text.len, f) == c->files[i].text.len;
        if (f && fclose(f) != 0)
            ok = 0;
        if (!ok) {
            snprintf(c->err, c->errlen, "cannot write %s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        free(p);
    }
    return 0;
}

/* ---- emit_c ---- */

static int check_graph(EmitCtx *c)
{
    const Graph *g = c->g;
    if (!is_identifier(c->name))
        return emit_fail(c, NULL, "model name \"%s\" is not a C identifier", c->name);
    if (g->ninputs < 1 || g->noutputs < 1)
        return emit_fail(c, NULL, "the model needs at least one input and one output");
    for (int t = 0; t < g->ntensors; t++) {
        const Tensor *tt = &g->tensors[t];
        int64_t n = ir_numel(tt);
        if (tt->kind != TK_CONST && (n <= 0 || n > INT32_MAX))
            return emit_fail(c, NULL, "tensor \"%s\" has %lld elements", tt->name, (long long)n);
    }
    for (int pass = 0; pass < 2; pass++) {
        int count = pass ? g->noutputs : g->ninputs;
        for (int i = 0; i < count; i++) {
            const Tensor *t = &g->tensors[pass ? g->outputs[i] : g->inputs[i]];
            if (t->kind == TK_CONST)
                return emit_fail(c, NULL, "%s \"%s\" is a constant", pass ? "output" : "input", t->name);
            if (!c->opt->float_mode && t->q.type != QT_I8 && t->q.type != QT_U8 &&
                t->q.type != QT_I16 && t->q.type != QT_U16)
                return emit_fail(c, NULL, "%s \"%s\" is not quantized", pass ? "output" : "input",
                                 t->name);
            /* the runner keeps all inputs (outputs) in one array of codes */
            const Tensor *t0 = &g->tensors[pass ? g->outputs[0] : g->inputs[0]];
            if (!c->opt->float_mode && quant_type_bytes(t->q.type) != quant_type_bytes(t0->q.type))
                return emit_fail(c, NULL, "%ss \"%s\" and \"%s\" have codes of different widths (8 and 16 bits): "
                                 "not supported by the runner", pass ? "output" : "input", t0->name, t->name);
        }
    }
    return c->opt->float_mode ? emit_float_check(c) : emit_int_check(c);
}

int emit_c(const Graph *g, const EmitOptions *opt, EmitStats *stats, char *err, size_t errlen)
{
    EmitCtx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.opt = opt;
    c.name = g->name;
    c.err = err;
    c.errlen = errlen;
    c.max_fn_terms = opt->max_fn_terms > 0 ? opt->max_fn_terms : FMT_FN_TERMS;
    c.max_file_terms = opt->max_file_terms > 0 ? opt->max_file_terms : 32768;
    if (!opt->dir || !*opt->dir)
        return emit_fail(&c, NULL, "no output directory");
    if (check_graph(&c))
        return -1;

    c.bytes = xcalloc((size_t)g->ntensors + 1, sizeof *c.bytes);
    c.scratch = xcalloc((size_t)g->nnodes + 1, sizeof *c.scratch);
    c.const_done = xcalloc((size_t)g->ntensors + 1, 1);
    if (opt->float_mode)
        emit_float_sizes(&c);
    else
        emit_int_sizes(&c);
    int rc = ir_memplan(g, c.bytes, c.scratch, &c.plan);
    for (int k = 0; rc == 0 && k < g->nnodes; k++)
        rc = opt->float_mode ? emit_float_node(&c, k) : emit_int_node(&c, k);
    if (rc == 0) {
        emit_header(&c);
        EmitBuf protos = {0};
        eb_puts(&protos, c.protos.s ? c.protos.s : "");
        Subst s[] = {{"NAME", c.name}, {"PROTOS", protos.s ? protos.s : ""}};
        fill_template(emit_new_file(&c, "%s_layers.h", c.name), "layers.h.in", s, 2);
        eb_free(&protos);
        emit_main_source(&c);
        copy_embedded(&c, "shiftc_rt.h");
        copy_embedded(&c, "shiftc_board.h");
        if (opt->float_mode)
            copy_embedded(&c, "shiftc_f32.h");
        emit_runner_and_makefile(&c);
        emit_meta(&c);
        rc = write_files(&c);
    }
    if (rc == 0 && stats) {
        stats->arena_bytes = c.plan.arena_bytes;
        stats->terms = c.terms;
        stats->const_bytes = c.const_bytes;
        stats->files = c.nfiles;
    }
    for (int i = 0; i < c.nfiles; i++) {
        free(c.files[i].name);
        eb_free(&c.files[i].text);
    }
    free(c.files);
    eb_free(&c.consts);
    eb_free(&c.body);
    eb_free(&c.protos);
    ir_memplan_free(&c.plan);
    free(c.bytes);
    free(c.scratch);
    free(c.const_done);
    return rc;
}

/* ---- reading NAME.meta ---- */

void emit_free_meta(EmitMeta *m)
{
    free(m->name);
    free(m->target);
    for (int i = 0; i < m->ninputs; i++)
        free(m->inputs[i].name);
    for (int i = 0; i < m->noutputs; i++)
        free(m->outputs[i].name);
    memset(m, 0, sizeof *m);
}

/* Splits line into at most max space-separated words (in place). */
static int split_words(char *line, char **w, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, " \t\r\n", &save); tok && n < max; tok = strtok_r(NULL, " \t\r\n", &save))
        w[n++] = tok;
    return n;
}

static int parse_i64(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (!*s || *end || errno)
        return -1;
    *v = x;
    return 0;
}

static int parse_io(char **w, int nw, EmitIO *io)
{
    int64_t zero, rank;
    char *end;
    if (nw < 7)
        return -1;
    if (strcmp(w[3], "i8") && strcmp(w[3], "u8") && strcmp(w[3], "i16") && strcmp(w[3], "u16") &&
        strcmp(w[3], "f32"))
        return -1;
    snprintf(io->dtype, sizeof io->dtype, "%s", w[3]);
    io->scale = strtof(w[4], &end);
    if (*end || parse_i64(w[5], &zero) || parse_i64(w[6], &rank))
        return -1;
    if (rank < 0 || rank > IR_MAX_RANK || nw != 7 + rank)
        return -1;
    io->zero = (int32_t)zero;
    io->rank = (int)rank;
    io->numel = 1;
    for (int d = 0; d < io->rank; d++) {
        if (parse_i64(w[7 + d], &io->dims[d]) || io->dims[d] < 0)
            return -1;
        io->numel *= io->dims[d];
    }
    io->bytes = io->numel * (!strcmp(io->dtype, "f32") ? 4 : strchr(io->dtype, '6') ? 2 : 1);
    io->name = xstrdup(w[2]);
    return 0;
}

int emit_read_meta(const char *dir, EmitMeta *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    char **metas;
    int nm = list_meta(dir, &metas);
    if (nm != 1) {
        if (nm == 0)
            snprintf(err, errlen, "%s: no shiftc .meta file (not a directory written by shiftc compile?)", dir);
        else
            snprintf(err, errlen, "%s: %d shiftc .meta files, expected one", dir, nm);
        for (int i = 0; i < nm; i++)
            free(metas[i]);
        free(metas);
        return -1;
    }
    char *path = metas[0];
    free(metas);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    char line[1024];
    int lineno = 0, bad = 0, seen_mode = 0;
    while (!bad && fgets(line, sizeof line, f)) {
        lineno++;
        char *w[8 + IR_MAX_RANK];
        int nw = split_words(line, w, 8 + IR_MAX_RANK);
        if (nw == 0)
            continue;
        if (lineno == 1) {
            bad = nw != 2 || strcmp(w[0], "shiftc-meta") || strcmp(w[1], "1");
        } else if (!strcmp(w[0], "name") && nw == 2) {
            free(m->name);
            m->name = xstrdup(w[1]);
        } else if (!strcmp(w[0], "target") && nw == 2) {
            free(m->target);
            m->target = xstrdup(w[1]);
        } else if (!strcmp(w[0], "mode") && nw == 2) {
            bad = strcmp(w[1], "int") && strcmp(w[1], "float");
            m->float_mode = !strcmp(w[1], "float");
            seen_mode = 1;
        } else if (!strcmp(w[0], "input") || !strcmp(w[0], "output")) {
            int out = w[0][0] == 'o';
            int *count = out ? &m->noutputs : &m->ninputs;
            int64_t idx;
            bad = nw < 2 || parse_i64(w[1], &idx) || idx != *count || *count >= IR_MAX_IO ||
                  parse_io(w, nw, out ? &m->outputs[*count] : &m->inputs[*count]);
            if (!bad)
                (*count)++;
        }
        /* other keywords (arena, ...): informational */
    }
    fclose(f);
    if (!bad && (!m->name || !seen_mode || m->ninputs < 1 || m->noutputs < 1)) {
        bad = 1;
        lineno = 0;
    }
    if (bad) {
        if (lineno)
            snprintf(err, errlen, "%s:%d: malformed meta line", path, lineno);
        else
            snprintf(err, errlen, "%s: incomplete meta file", path);
        free(path);
        emit_free_meta(m);
        return -1;
    }
    free(path);
    if (!m->target)
        m->target = xstrdup("host");
    return 0;
}
