/*
 * Weight formats (algorithms.md section 1): per output channel c an integer
 * code q and a scale s_c > 0 with w ~= s_c * q.  Every format produces plain
 * integer codes, so the integer simulator and the shift-add emitter handle
 * them all alike; what differs is which codes exist (the codebook) and how
 * s_c is chosen.  The table of formats is SHIFTC_WEIGHT_FORMATS in ir.h.
 *
 *   format    codes                                   scale
 *   int2..7   -(2^(k-1)-1) .. 2^(k-1)-1                MSE grid search (below)
 *   int8      -127 .. 127                              max|w| / 127 (the baseline,
 *                                                      unchanged: quant_weight_channel)
 *   ternary   -1, 0, 1 (TWN: |w| > 0.7 mean|w|)        mean{|w| : |w| > threshold}
 *   ttq       -a, 0, +b, a, b in 1..FMT_TTQ_MAX        least squares for the codes
 *             (TTQ threshold 0.05 max|w|)
 *   pot       0, +-2^e, e in 0..FMT_E                  MSE grid search
 *   nhot2/3   integers whose NAF has <= n nonzero      MSE grid search
 *             digits, all in positions 0..FMT_E
 *   apot      +-(p0 + p1), p0 in {0,2,8,32},           MSE grid search
 *             p1 in {0,1,4,16} (APoT, b = 4, k = 2)
 *
 * FMT_E = 6 keeps every pot/nhot/apot code within int8 (|q| <= 85) and gives
 * storage of 4 bits for pot (15 codes), 7 for nhot2 (75 codes), 8 for nhot3
 * (155 codes); E = 7 would need 9 bits for nhot3 and codes up to 170.
 *
 * MSE grid search: alpha in {max|w| * i / FMT_GRID : i = 1..FMT_GRID}, the
 * scale alpha / (largest code) rounded to float (the scale as stored), codes
 * the nearest codebook values (ties away from zero), the scale with the
 * least squared error sum(w - s*q)^2 wins; i = FMT_GRID (max-abs scaling) is
 * tried first and only a strictly smaller error replaces it, so the result
 * is never worse than max-abs scaling and representable channels come back
 * unchanged.
 *
 * No-mul mode (Graph.no_mul): the scale is further moved to make the
 * requantization multiplier a two-term value (as quant_nm_weight_channel
 * does for int8): among the two-term multipliers within a factor 1.25 of
 * sx * s / sy, the one whose codes (same rule) give the least squared error.
 *
 * Bias correction (Graph.bias_correction, ir_bias_correct): the
 * expected-output version of Nagel et al. (DFQ) and Banner et al., made
 * exact in the integer scheme by putting it where it costs nothing, in the
 * integer bias.  For each corrected Conv/Dense node, in graph order:
 *     E[y_c]   = b_c + sum_j W_cj E[x_j]                (float model)
 *     E[acc_c] = sum_j q_cj E[xq_j - z_x] + bias_c       (integer network)
 *     bias_c   = round(E[y_c] / (s_x s_c) - sum_j q_cj E[xq_j - z_x])
 * so that the mean of each output channel's accumulator, in real units,
 * equals the float model's mean output.  E[.] is over the calibration
 * samples and (Conv) the output pixels, per weight tap, padding zeros
 * included.  x is the float model's input of the node, xq the integer
 * network's (ir_qsim_buffer), with every node before it already corrected:
 * the correction also absorbs the mean shift that upstream weight and
 * activation quantization leave in the node's input ("empirical" bias
 * correction).  The textbook version, b_c += sum_j (W_cj - s_c q_cj) E[x_j]
 * with the float model's E[x], is the special case xq = x; measured on the
 * bundled CNN it lowers accuracy at 2-3 bits and for ternary (each layer's
 * input is no longer the float one), where this version does not.  The
 * other half of Banner's "match mean and std" -- rescaling each channel so
 * the std of s_c q matches that of W -- is not done: the scales are already
 * chosen to minimise the squared error, and it measured no better.
 */
#ifndef SHIFTC_FORMATS_H
#define SHIFTC_FORMATS_H

#include <stddef.h>
#include <stdint.h>

#include "ir.h"

typedef enum { FMT_FLOAT, FMT_INT, FMT_TERNARY, FMT_TTQ, FMT_POT, FMT_NHOT, FMT_APOT } FmtFamily;

#define FMT_E 6            /* pot, nhot: highest signed-digit position */
#define FMT_MAX_CODES 256  /* no codebook is larger (int8: 255) */
#define FMT_GRID 256       /* points of the MSE scale grid */
#define FMT_TWN_DELTA 0.7  /* TWN threshold, times mean|w| */
#define FMT_TTQ_T 0.05     /* TTQ threshold, times max|w| */
#define FMT_TTQ_MAX 4      /* ttq: a, b in 1..FMT_TTQ_MAX */
#define FMT_BC_AUTO (-1)   /* Graph.bias_correction: on for all but int8 */

/* ---- the table ---- */
const char *fmt_name(WeightFormat f);
FmtFamily fmt_family(WeightFormat f);
int fmt_param(WeightFormat f);
/* 0 and *f set, or -1 for an unknown name ("float" is not a weight format
 * one can quantize to and is refused too). */
int fmt_parse(const char *name, WeightFormat *f);
/* "int2, int3, ..., apot": every quantized format, for help texts.
 * Returns the length it wanted (as snprintf). */
size_t fmt_list(char *buf, size_t size);

/* ---- codebooks ---- */
/* Nonzero digits of the NAF (canonical signed digits) of q, and its length
 * (highest nonzero position + 1, 0 for q = 0). */
int fmt_naf_weight(int32_t q);
int fmt_naf_length(int32_t q);

/* What the unrolled shift-add code of some weight codes is made of: one
 * add/sub per nonzero NAF digit ("term"), a shift for each term at a digit
 * position above 0, and the input loads: the outputs are summed in
 * register blocks of FMT_ROW_BLOCK rows (backends/emit_int.c), each input
 * loaded once per block in which any row's code for it is nonzero
 * (fmt_count_loads); and, for the mac style's tables, the codes that do
 * not fit 4 bits (outside [-8, 7]). */
typedef struct FmtCount {
    int64_t nonzero, terms, shifted, loads, over4;
} FmtCount;
/* FMT_FN_TERMS: the emitter packs a layer's rows into functions of at most
 * this many terms (each row counted with 8 more for its requantization;
 * emit_c.c's default max_fn_terms); a register block never spans two.
 * 16384 keeps a block of 8 rows of a 784-input int8 Dense layer in one
 * function (at 2048 a function held 1 to 4 such rows, each input was
 * loaded for every 1-4 rows: FC 784->64 int8 on Cortex-M4 194.6 k -> 153.3 k
 * instructions), and gcc -O2 compiles the same layer in the same time. */
enum { FMT_ROW_BLOCK = 8, FMT_FN_TERMS = 16384 };
/* Adds the counts of n codes to *c. */
void fmt_count_codes(const int32_t *codes, int64_t n, FmtCount *c);
/* Adds to c->loads the inputs of one register block: n, the columns of
 * its rows, of which any_nonzero[i] says whether any row's code for input
 * i is nonzero. */
void fmt_count_loads(const unsigned char *any_nonzero, int64_t n, FmtCount *c);
/* The codes of f, ascending (symmetric, 0 included); returns the count,
 * <= FMT_MAX_CODES, or 0 when f has no fixed codebook (float; ttq, whose
 * a and b are chosen per channel). */
int fmt_codebook(WeightFormat f, int32_t *codes);
/* Storage bits per code: ceil(log2(codebook size)); ttq 2, float 32. */
int fmt_bits(WeightFormat f);

/* ---- quantizing channels ---- */
typedef struct FmtQuant {
    WeightFormat f;
    FmtFamily family;
    int ncodes;  /* codebook formats: the codebook, ascending */
    int32_t codes[FMT_MAX_CODES];
    int32_t top; /* the largest code (the grid maps max|w| onto it) */
} FmtQuant;

void fmt_init(FmtQuant *fq, WeightFormat f); /* f must not be WF_FLOAT */
/* Whether ir_gptq re-chooses node n's codes (gptq.c). */
int fmt_gptq_on(const Graph *g, const Node *n);

/* The code nearest v (ties away from zero). Not for ternary/ttq. */
int32_t fmt_nearest(const FmtQuant *fq, double v);

/* Codes of a channel at scale s by the format's rule (nearest code; for
 * ternary/ttq the threshold rule, which does not depend on s), and the
 * squared error sum (w - s*q)^2.  codes may be NULL. */
double fmt_codes(const FmtQuant *fq, const float *w, int64_t n, double s, int32_t *codes);

/* The format's scale for a channel (already rounded to float where the
 * format searches), 0 for a channel with max|w| < FLT_MIN. */
double fmt_scale(const FmtQuant *fq, const float *w, int64_t n);

/* One channel as ir_quantize quantizes it: codes, the scale sw (stored as
 * (float)sw, used as sx*sw for the bias), and in no-mul mode the two-term
 * multiplier nm = sx*sw/sy.  int8 is quant_weight_channel /
 * quant_nm_weight_channel unchanged. */
void fmt_weight_channel(const FmtQuant *fq, const float *w, int64_t n, int no_mul, double sx,
                        double sy, int32_t *codes, double *sw, int32_t nm[3]);

/* TWN threshold and scale of a channel (0, 0 for an all-zero channel). */
void fmt_twn(const float *w, int64_t n, double *delta, double *scale);

/* ---- bias correction ---- */
/* Whether bias correction applies to node n (a Conv or Dense with a
 * quantized format, per g->bias_correction). */
int fmt_bias_correction_on(const Graph *g, const Node *n);

/* ---- whole graphs ---- */
/* Sets the weight format of every Conv and Dense node. */
void fmt_apply(Graph *g, WeightFormat f);

typedef struct FmtSummary {
    int layers;         /* quantized Conv/Dense nodes */
    int acc16;          /* of which provably fit 16-bit accumulators */
    int corrected;      /* of which have bias correction on */
    int64_t weights;    /* weight codes */
    int64_t terms;      /* nonzero NAF digits over all codes */
    int64_t bits;       /* storage: codes times their format's bits */
    WeightFormat format; /* the format of every layer, or WF_COUNT if mixed */
} FmtSummary;

/* Over the quantized weighted nodes of g. */
void fmt_summary(const Graph *g, FmtSummary *s);

#endif
