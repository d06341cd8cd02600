/*
 * The MAC kernel style (--kernel mac, KS_TABLE), called by emit_int.c: a
 * Conv or Dense layer whose weight codes are a static const int8_t array
 * (NAME_lK.c) and whose work is a call of the runtime's multiply-accumulate
 * kernels (shiftc_conv_mac_q, shiftc_dense_mac_q in runtime/shiftc_rt.h),
 * which compute the simulator's accumulators and requantize them with the
 * same helpers.  On targets with the ARMv7E-M DSP extension (Target.dsp)
 * the codes are written in the kernels' blocked layout (SMLAD on four rows
 * at once), elsewhere row-major; a Dense layer whose codes fit 4 bits
 * stores them two to a byte (emit_mac_nibbles).
 */
#ifndef SHIFTC_EMIT_MAC_H
#define SHIFTC_EMIT_MAC_H

#include <stdint.h>

#include "emit_internal.h"

/* Checks that node n (Conv or Dense) can take the MAC kernel: every weight
 * code fits int8.  Returns 0, or -1 with c's error set. */
int emit_mac_check(EmitCtx *c, const Node *n);

/* Scratch bytes of MAC Conv n: its zero-padded input (rounded up to 4
 * bytes) and one pixel's patch of codes (not for depthwise layers). */
int64_t emit_mac_scratch(const Graph *g, const Node *n);

/* The layer file, prototype and call of node k. */
int emit_mac_node(EmitCtx *c, int k);

/* Weight codes wq of `groups` groups of `rows` rows of k codes each
 * (row-major, as QLayer.wq) into out in the runtime's layout: row-major
 * (blocked = 0, a copy) or blocked by four rows within each group
 * (shiftc_mac_blocked_index).  Codes must fit int8. */
void emit_mac_pack(const int32_t *wq, int32_t groups, int32_t rows, int32_t k, int blocked, int8_t *out);

/* Whether a MAC layer takes the nibble-packed table (shiftc_dense_mac4_q):
 * a Dense layer of k inputs per output, not 16-bit (wide_input = 0), none
 * of whose codes lies outside [-8, 7] (codes_over4 = 0).  The emitter and
 * the cost model (cost_layer) both ask this. */
int emit_mac_nibbles(Op op, int wide_input, int64_t k, int64_t codes_over4);

/* Codes wq of `rows` rows of k codes (each in [-8, 7]) into out, the
 * nibble-packed layout (shiftc_mac4_index): rows * 4 * ceil(k / 8) bytes. */
void emit_mac_pack4(const int32_t *wq, int32_t rows, int32_t k, uint8_t *out);

#endif
