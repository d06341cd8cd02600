/*
 * Shape inference: the dims of every tensor computed by a node, from the
 * dims of its inputs and its attributes, node by node in topological order.
 *
 * Besides computing dims it normalises attributes so later stages read one
 * form only: auto_pad is resolved into pads (and reset to PAD_NOTSET),
 * negative axes are made non-negative, a Reshape's target (0 and -1, or a
 * Flatten's axis) becomes the final dims in a.shape/nshape, and a Transpose
 * without perm gets the reversed one.  Every step is a fixed point, so
 * running the pass twice gives the same graph.
 *
 * Anything inconsistent fails with ir_fail() naming the node and what is
 * wrong, never with an assertion.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ir.h"

/* Kernels index with int32_t: keep every tensor below that. */
#define SHAPE_MAX_NUMEL INT32_MAX

static void shape_str(const int64_t *dims, int rank, char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < rank && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (k < len)
        snprintf(buf + k, len - k, "]");
}

static const char *dims_of(const Tensor *t, char *buf, size_t len)
{
    shape_str(t->dims, t->rank, buf, len);
    return buf;
}

/* Whether tensor t has known dims when node n runs: inputs and constants
 * always, activations once an earlier node computed them (so a graph out of
 * order fails with the tensor's name instead of reading stale dims). */
static int shape_known(const Graph *g, const Node *n, int t)
{
    if (g->tensors[t].kind != TK_ACT)
        return 1;
    for (const Node *p = g->nodes; p < n; p++)
        for (int j = 0; j < p->nout; j++)
            if (p->out[j] == t)
                return 1;
    return 0;
}

/* Input j of n, which must be present and have sane dims. */
static int shape_input(Graph *g, Node *n, int j, const Tensor **out)
{
    if (j >= n->nin || n->in[j] < 0 || n->in[j] >= g->ntensors)
        return ir_fail(g, n, "missing input #%d", j + 1);
    const Tensor *t = &g->tensors[n->in[j]];
    if (t->rank < 0 || t->rank > IR_MAX_RANK)
        return ir_fail(g, n, "input \"%s\" has rank %d (at most %d supported)", t->name, t->rank,
                       IR_MAX_RANK);
    if (!shape_known(g, n, n->in[j]))
        return ir_fail(g, n, "input \"%s\" is not computed by any earlier node", t->name);
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] <= 0)
            return ir_fail(g, n, "input \"%s\" has unknown or zero dimension %d (%lld)", t->name,
                           i, (long long)t->dims[i]);
    *out = t;
    return 0;
}

/* Dims of output k of n, which must be present. */
static int shape_set_output_k(Graph *g, Node *n, int k, int rank, const int64_t *dims)
{
    if (k >= n->nout || n->out[k] < 0 || n->out[k] >= g->ntensors)
        return ir_fail(g, n, "output #%d is missing", k + 1);
    if (rank > IR_MAX_RANK)
        return ir_fail(g, n, "output rank %d exceeds %d", rank, IR_MAX_RANK);
    int64_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] <= 0)
            return ir_fail(g, n, "output dimension %d is %lld", i, (long long)dims[i]);
        if (numel > SHAPE_MAX_NUMEL / dims[i])
            return ir_fail(g, n, "output has more than %d elements", SHAPE_MAX_NUMEL);
        numel *= dims[i];
    }
    Tensor *t = &g->tensors[n->out[k]];
    t->rank = rank;
    memset(t->dims, 0, sizeof t->dims);
    memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
    return 0;
}

/* The output of a single-output op. */
static int shape_set_output(Graph *g, Node *n, int rank, const int64_t *dims)
{
    if (n->nout < 1 || n->out[0] < 0)
        return ir_fail(g, n, "node has no output");
    for (int j = 1; j < n->nout; j++)
        if (n->out[j] >= 0)
            return ir_fail(g, n, "output #%d (\"%s\") is not supported", j + 1,
                           g->tensors[n->out[j]].name);
    return shape_set_output_k(g, n, 0, rank, dims);
}

/* Makes *axis, which must be in [-rank, rank), non-negative. */
static int shape_axis(Graph *g, Node *n, int64_t *axis, int rank, const char *what)
{
    int64_t a = *axis;
    if (a < -rank || a >= rank)
        return ir_fail(g, n, "%s %lld out of range for rank %d", what, (long long)a, rank);
    *axis = a < 0 ? a + rank : a;
    return 0;
}

/* ---- Conv and pools: one spatial dimension at a time ---- */

/* Output size along spatial dim i (0 = H, 1 = W) of input size `in`,
 * resolving auto_pad into a.pads[i], a.pads[i + 2] first.  ceil_mode as
 * ONNX: the output count is rounded up, but a last window that would start
 * past the input and its left padding is dropped. */
static int shape_spatial(Graph *g, Node *n, int i, int64_t in, int64_t k, int ceil_mode,
                         int64_t *out)
{
    static const char *const axis_name[2] = {"height", "width"};
    Attrs *a = &n->a;
    int64_t s = a->strides[i], d = a->dilations[i];
    if (k <= 0)
        return ir_fail(g, n, "kernel %s %lld must be positive", axis_name[i], (long long)k);
    if (s <= 0)
        return ir_fail(g, n, "stride %lld along %s must be positive", (long long)s, axis_name[i]);
    if (d <= 0)
        return ir_fail(g, n, "dilation %lld along %s must be positive", (long long)d,
                       axis_name[i]);
    int64_t ek = (k - 1) * d + 1; /* extent of the dilated kernel */
    switch (a->auto_pad) {
    case PAD_NOTSET:
        break;
    case PAD_VALID:
        a->pads[i] = a->pads[i + 2] = 0;
        break;
    case PAD_SAME_UPPER:
    case PAD_SAME_LOWER: {
        int64_t o = (in + s - 1) / s;
        int64_t total = (o - 1) * s + ek - in;
        if (total < 0)
            total = 0;
        /* SAME_UPPER puts the odd pad at the end, SAME_LOWER at the start */
        a->pads[i] = a->auto_pad == PAD_SAME_UPPER ? total / 2 : total - total / 2;
        a->pads[i + 2] = total - a->pads[i];
        break;
    }
    }
    int64_t pb = a->pads[i], pe = a->pads[i + 2];
    if (pb < 0 || pe < 0)
        return ir_fail(g, n, "negative pads along %s (%lld, %lld)", axis_name[i], (long long)pb,
                       (long long)pe);
    /* span < 0: the kernel is larger than the padded input.  ceil_mode still
       allows one window when it starts inside (ONNX and PyTorch agree). */
    int64_t span = in + pb + pe - ek;
    int64_t o = span >= 0 ? span / s + 1 : 0;
    if (ceil_mode) {
        o = (span >= 0 ? (span + s - 1) / s : -(-span / s)) + 1; /* ceil division */
        if ((o - 1) * s >= in + pb)
            o--;
    }
    if (o < 1)
        return ir_fail(g, n,
                       "kernel %s %lld (dilated %lld) is larger than the padded input (%lld + %lld "
                       "+ %lld)",
                       axis_name[i], (long long)k, (long long)ek, (long long)in, (long long)pb,
                       (long long)pe);
    *out = o;
    return 0;
}

/* Spatial input sizes of an NCHW (rank 4) or NCL (rank 3, H = 1) tensor. */
static int shape_hw(Graph *g, Node *n, const Tensor *x, int64_t hw[2])
{
    if (x->rank != 3 && x->rank != 4) {
        char b[96];
        return ir_fail(g, n, "input \"%s\" %s must be NCHW (rank 4) or NCL (rank 3)", x->name,
                       dims_of(x, b, sizeof b));
    }
    hw[0] = x->rank == 4 ? x->dims[2] : 1;
    hw[1] = x->dims[x->rank - 1];
    return 0;
}

static int shape_out_spatial(Graph *g, Node *n, const Tensor *x, int64_t c, const int64_t hw[2],
                             const int64_t k[2], int ceil_mode)
{
    int64_t o[2], dims[4];
    /* 1-D: the kernels (and the integer path) read H as 1 with no pads */
    if (x->rank == 3 && k[0] != 1)
        return ir_fail(g, n, "1-D input \"%s\" with kernel height %lld (must be 1)", x->name,
                       (long long)k[0]);
    for (int i = 0; i < 2; i++)
        if (shape_spatial(g, n, i, hw[i], k[i], ceil_mode, &o[i]))
            return -1;
    n->a.auto_pad = PAD_NOTSET; /* pads now hold the resolved values */
    if (x->rank == 3 && (n->a.pads[0] != 0 || n->a.pads[2] != 0))
        return ir_fail(g, n, "1-D input \"%s\" with height pads (%lld, %lld)", x->name,
                       (long long)n->a.pads[0], (long long)n->a.pads[2]);
    dims[0] = x->dims[0];
    dims[1] = c;
    if (x->rank == 4) {
        dims[2] = o[0];
        dims[3] = o[1];
    } else {
        dims[2] = o[1];
    }
    return shape_set_output(g, n, x->rank, dims);
}

static int shape_conv(Graph *g, Node *n)
{
    const Tensor *x, *w, *b = NULL;
    int64_t hw[2], k[2];
    char bx[96], bw[96];
    if (shape_input(g, n, 0, &x) || shape_input(g, n, 1, &w) || shape_hw(g, n, x, hw))
        return -1;
    if (n->nin > 2 && n->in[2] >= 0 && shape_input(g, n, 2, &b))
        return -1;
    /* weights are [OC, C/group, KH, KW]; a 1-D conv may also carry [OC, C/group, K] */
    if (w->rank == 4) {
        k[0] = w->dims[2];
        k[1] = w->dims[3];
    } else if (w->rank == 3 && x->rank == 3) {
        k[0] = 1;
        k[1] = w->dims[2];
    } else {
        return ir_fail(g, n, "weights \"%s\" %s must be [OC, C/group, KH, KW]", w->name,
                       dims_of(w, bw, sizeof bw));
    }
    int64_t c = x->dims[1], oc = w->dims[0], group = n->a.group;
    if (group <= 0)
        return ir_fail(g, n, "group %lld must be positive", (long long)group);
    if (c % group != 0)
        return ir_fail(g, n, "group %lld does not divide the %lld input channels", (long long)group,
                       (long long)c);
    if (oc % group != 0)
        return ir_fail(g, n, "group %lld does not divide the %lld output channels",
                       (long long)group, (long long)oc);
    if (w->dims[1] * group != c)
        return ir_fail(g, n,
                       "channel mismatch: input \"%s\" %s has %lld channels, weights \"%s\" %s "
                       "expect %lld (= %lld x group %lld)",
                       x->name, dims_of(x, bx, sizeof bx), (long long)c, w->name,
                       dims_of(w, bw, sizeof bw), (long long)(w->dims[1] * group),
                       (long long)w->dims[1], (long long)group);
    if (b && (b->rank != 1 || b->dims[0] != oc))
        return ir_fail(g, n, "bias \"%s\" %s must be [%lld]", b->name, dims_of(b, bx, sizeof bx),
                       (long long)oc);
    /* kernel_shape is optional in ONNX; when given it must match the weights */
    int kdefault = n->a.kernel[0] == 1 && n->a.kernel[1] == 1;
    if (!kdefault && (n->a.kernel[0] != k[0] || n->a.kernel[1] != k[1]))
        return ir_fail(g, n, "kernel_shape %lldx%lld does not match weights \"%s\" %s",
                       (long long)n->a.kernel[0], (long long)n->a.kernel[1], w->name,
                       dims_of(w, bw, sizeof bw));
    n->a.kernel[0] = k[0];
    n->a.kernel[1] = k[1];
    return shape_out_spatial(g, n, x, oc, hw, k, 0);
}

static int shape_pool(Graph *g, Node *n)
{
    const Tensor *x;
    int64_t hw[2];
    if (shape_input(g, n, 0, &x) || shape_hw(g, n, x, hw))
        return -1;
    return shape_out_spatial(g, n, x, x->dims[1], hw, n->a.kernel, n->a.ceil_mode);
}

static int shape_global_pool(Graph *g, Node *n)
{
    const Tensor *x;
    char b[96];
    if (shape_input(g, n, 0, &x))
        return -1;
    if (x->rank < 3)
        return ir_fail(g, n, "input \"%s\" %s needs spatial dimensions", x->name,
                       dims_of(x, b, sizeof b));
    int64_t dims[IR_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 2; i < x->rank; i++)
        dims[i] = 1;
    return shape_set_output(g, n, x->rank, dims);
}

static int shape_dense(Graph *g, Node *n)
{
    const Tensor *x, *w, *b = NULL;
    char bx[96], bw[96];
    if (shape_input(g, n, 0, &x) || shape_input(g, n, 1, &w))
        return -1;
    if (n->nin > 2 && n->in[2] >= 0 && shape_input(g, n, 2, &b))
        return -1;
    if (w->rank != 2)
        return ir_fail(g, n, "weights \"%s\" %s must be [N, K]", w->name,
                       dims_of(w, bw, sizeof bw));
    if (x->rank < 1)
        return ir_fail(g, n, "input \"%s\" is a scalar", x->name);
    if (x->dims[x->rank - 1] != w->dims[1])
        return ir_fail(g, n, "input \"%s\" %s has %lld features, weights \"%s\" %s expect %lld",
                       x->name, dims_of(x, bx, sizeof bx), (long long)x->dims[x->rank - 1],
                       w->name, dims_of(w, bw, sizeof bw), (long long)w->dims[1]);
    if (b && (b->rank != 1 || b->dims[0] != w->dims[0]))
        return ir_fail(g, n, "bias \"%s\" %s must be [%lld]", b->name, dims_of(b, bx, sizeof bx),
                       (long long)w->dims[0]);
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[x->rank - 1] = w->dims[0];
    return shape_set_output(g, n, x->rank, dims);
}

static int shape_batchnorm(Graph *g, Node *n)
{
    static const char *const what[5] = {"", "scale", "B", "mean", "var"};
    const Tensor *x, *p;
    char b[96];
    if (shape_input(g, n, 0, &x))
        return -1;
    if (x->rank < 2)
        return ir_fail(g, n, "input \"%s\" %s has no channel dimension", x->name,
                       dims_of(x, b, sizeof b));
    for (int j = 1; j < 5; j++) {
        if (shape_input(g, n, j, &p))
            return -1;
        if (ir_numel(p) != x->dims[1])
            return ir_fail(g, n, "%s \"%s\" %s must have %lld values, one per channel", what[j],
                           p->name, dims_of(p, b, sizeof b), (long long)x->dims[1]);
    }
    if (n->a.epsilon < 0)
        return ir_fail(g, n, "negative epsilon %g", (double)n->a.epsilon);
    return shape_set_output(g, n, x->rank, x->dims);
}

static int shape_unary(Graph *g, Node *n)
{
    const Tensor *x;
    if (shape_input(g, n, 0, &x))
        return -1;
    return shape_set_output(g, n, x->rank, x->dims);
}

/* numpy (multidirectional) broadcasting of two inputs */
static int shape_add(Graph *g, Node *n)
{
    const Tensor *a, *b;
    char ba[96], bb[96];
    if (n->nin != 2)
        return ir_fail(g, n, "expected 2 inputs, got %d", n->nin);
    if (shape_input(g, n, 0, &a) || shape_input(g, n, 1, &b))
        return -1;
    int rank = a->rank > b->rank ? a->rank : b->rank;
    int64_t dims[IR_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return ir_fail(g, n, "inputs \"%s\" %s and \"%s\" %s are not broadcastable", a->name,
                           dims_of(a, ba, sizeof ba), b->name, dims_of(b, bb, sizeof bb));
        dims[i] = da == 1 ? db : da;
    }
    return shape_set_output(g, n, rank, dims);
}

static int shape_concat(Graph *g, Node *n)
{
    const Tensor *first, *t;
    char b0[96], b1[96];
    if (n->nin < 1)
        return ir_fail(g, n, "no inputs");
    if (shape_input(g, n, 0, &first))
        return -1;
    if (first->rank < 1)
        return ir_fail(g, n, "cannot concatenate scalars");
    if (shape_axis(g, n, &n->a.axis, first->rank, "axis"))
        return -1;
    int axis = (int)n->a.axis;
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, first->dims, sizeof dims);
    for (int j = 1; j < n->nin; j++) {
        if (shape_input(g, n, j, &t))
            return -1;
        int same = t->rank == first->rank;
        for (int i = 0; same && i < t->rank; i++)
            if (i != axis && t->dims[i] != first->dims[i])
                same = 0;
        if (!same)
            return ir_fail(g, n,
                           "input \"%s\" %s does not match \"%s\" %s outside concat axis %d",
                           t->name, dims_of(t, b1, sizeof b1), first->name,
                           dims_of(first, b0, sizeof b0), axis);
        dims[axis] += t->dims[axis];
    }
    return shape_set_output(g, n, first->rank, dims);
}

/* Reshape (0 copies the input dim, -1 is inferred) and Flatten; the result
 * is stored back into a.shape so later stages see final dims only. */
static int shape_reshape(Graph *g, Node *n)
{
    const Tensor *x;
    char bx[96], bs[96];
    if (shape_input(g, n, 0, &x))
        return -1;
    int64_t numel = ir_numel(x), dims[IR_MAX_RANK];
    int rank;
    Attrs *a = &n->a;
    if (a->flatten_axis >= 0) {
        if (a->flatten_axis > x->rank)
            return ir_fail(g, n, "flatten axis %d out of range for rank %d", a->flatten_axis,
                           x->rank);
        dims[0] = 1;
        for (int i = 0; i < a->flatten_axis; i++)
            dims[0] *= x->dims[i];
        dims[1] = numel / dims[0];
        rank = 2;
    } else {
        const int64_t *target = a->shape;
        int ntarget = a->nshape;
        int64_t from_input[IR_MAX_RANK];
        if (ntarget == 0 && n->nin > 1 && n->in[1] >= 0) {
            /* target given as a constant input the frontend left in place */
            const Tensor *s = &g->tensors[n->in[1]];
            int64_t k = ir_numel(s);
            if (s->kind != TK_CONST || !s->data || s->rank != 1 || k > IR_MAX_RANK)
                return ir_fail(g, n, "shape input \"%s\" must be a constant of rank 1 with at "
                                     "most %d values", s->name, IR_MAX_RANK);
            for (int i = 0; i < k; i++) {
                if (!s->idata && !(s->data[i] > -1e18 && s->data[i] < 1e18)) /* NaN too */
                    return ir_fail(g, n, "shape input \"%s\": value %d is not an integer", s->name, i);
                from_input[i] = s->idata ? s->idata[i] : (int64_t)s->data[i];
            }
            target = from_input;
            ntarget = (int)k;
        }
        if (ntarget <= 0 || ntarget > IR_MAX_RANK)
            return ir_fail(g, n, "bad target shape: %d dimensions", ntarget);
        int infer = -1;
        int64_t known = 1;
        for (int i = 0; i < ntarget; i++) {
            int64_t d = target[i];
            if (d == 0) {
                if (i >= x->rank)
                    return ir_fail(g, n, "bad target shape: 0 at position %d copies a dimension "
                                         "that input \"%s\" %s does not have",
                                   i, x->name, dims_of(x, bx, sizeof bx));
                d = x->dims[i];
            } else if (d == -1) {
                if (infer >= 0)
                    return ir_fail(g, n, "bad target shape: more than one -1");
                infer = i;
                d = 1;
            } else if (d < 0) {
                return ir_fail(g, n, "bad target shape: dimension %d is %lld", i, (long long)d);
            }
            if (d > 0 && known > INT64_MAX / d)
                return ir_fail(g, n, "bad target shape: dimension %d makes more than 2^63 elements", i);
            dims[i] = d;
            known *= d;
        }
        if (infer >= 0) {
            if (known == 0 || numel % known != 0)
                return ir_fail(g, n, "bad target shape: cannot infer -1 from %lld elements",
                               (long long)numel);
            dims[infer] = numel / known;
        }
        rank = ntarget;
    }
    int64_t total = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] > 0 && total > INT64_MAX / dims[i])
            return ir_fail(g, n, "bad target shape: dimension %d makes more than 2^63 elements", i);
        total *= dims[i];
    }
    if (total != numel) {
        shape_str(dims, rank, bs, sizeof bs);
        return ir_fail(g, n, "bad target shape %s: %lld elements, input \"%s\" %s has %lld", bs,
                       (long long)total, x->name, dims_of(x, bx, sizeof bx), (long long)numel);
    }
    memset(a->shape, 0, sizeof a->shape);
    memcpy(a->shape, dims, (size_t)rank * sizeof *dims);
    a->nshape = rank;
    return shape_set_output(g, n, rank, dims);
}

static int shape_transpose(Graph *g, Node *n)
{
    const Tensor *x;
    char b[96];
    if (shape_input(g, n, 0, &x))
        return -1;
    Attrs *a = &n->a;
    if (a->nperm == 0) { /* ONNX default: reverse the dims */
        for (int i = 0; i < x->rank; i++)
            a->perm[i] = x->rank - 1 - i;
        a->nperm = x->rank;
    }
    if (a->nperm != x->rank)
        return ir_fail(g, n, "perm has %d entries, input \"%s\" %s has rank %d", a->nperm,
                       x->name, dims_of(x, b, sizeof b), x->rank);
    int seen[IR_MAX_RANK] = {0};
    int64_t dims[IR_MAX_RANK];
    for (int i = 0; i < a->nperm; i++) {
        int p = a->perm[i];
        if (p < 0 || p >= x->rank || seen[p])
            return ir_fail(g, n, "perm is not a permutation of 0..%d", x->rank - 1);
        seen[p] = 1;
        dims[i] = x->dims[p];
    }
    return shape_set_output(g, n, x->rank, dims);
}

/* Slice: [start, start + len) of one axis, which slice_drop removes. */
static int shape_slice(Graph *g, Node *n)
{
    const Tensor *x;
    char b[96];
    if (shape_input(g, n, 0, &x))
        return -1;
    if (x->rank < 1)
        return ir_fail(g, n, "input \"%s\" is a scalar", x->name);
    if (shape_axis(g, n, &n->a.axis, x->rank, "axis"))
        return -1;
    Attrs *a = &n->a;
    int axis = (int)a->axis;
    int64_t dim = x->dims[axis];
    if (a->slice_start < 0 || a->slice_len < 1 || a->slice_start > dim - a->slice_len)
        return ir_fail(g, n, "range [%lld, %lld) is not a non-empty part of axis %d of input "
                             "\"%s\" %s",
                       (long long)a->slice_start, (long long)(a->slice_start + a->slice_len), axis,
                       x->name, dims_of(x, b, sizeof b));
    if (a->slice_drop && a->slice_len != 1)
        return ir_fail(g, n, "dropping axis %d needs a length of 1, not %lld", axis,
                       (long long)a->slice_len);
    if (a->slice_drop && x->rank == 1)
        return ir_fail(g, n, "dropping the only axis of \"%s\" gives a scalar, which is not "
                             "supported",
                       x->name);
    int64_t dims[IR_MAX_RANK];
    int rank = 0;
    for (int i = 0; i < x->rank; i++)
        if (i != axis)
            dims[rank++] = x->dims[i];
        else if (!a->slice_drop)
            dims[rank++] = a->slice_len;
    return shape_set_output(g, n, rank, dims);
}

static int shape_softmax(Graph *g, Node *n)
{
    const Tensor *x;
    if (shape_input(g, n, 0, &x))
        return -1;
    if (x->rank < 1)
        return ir_fail(g, n, "input \"%s\" is a scalar", x->name);
    if (shape_axis(g, n, &n->a.axis, x->rank, "axis"))
        return -1;
    return shape_set_output(g, n, x->rank, x->dims);
}

/* ---- LSTM and GRU (ONNX inputs and outputs, ir.h Attrs) ---- */

/* Optional input j of a recurrent node must be absent or have these dims. */
static int shape_rnn_input(Graph *g, Node *n, int j, const char *what, int rank,
                           const int64_t *want)
{
    const Tensor *t;
    char bt[96], bw[96];
    if (j >= n->nin || n->in[j] < 0)
        return 0;
    if (shape_input(g, n, j, &t))
        return -1;
    int same = t->rank == rank;
    for (int i = 0; same && i < rank; i++)
        same = t->dims[i] == want[i];
    if (!same) {
        shape_str(want, rank, bw, sizeof bw);
        return ir_fail(g, n, "%s \"%s\" %s must be %s", what, t->name, dims_of(t, bt, sizeof bt),
                       bw);
    }
    return 0;
}

static int shape_rnn(Graph *g, Node *n)
{
    int lstm = n->op == OP_LSTM, gates = lstm ? 4 : 3;
    const Tensor *x, *w, *r;
    char bx[96], bw[96];
    if (shape_input(g, n, 0, &x) || shape_input(g, n, 1, &w) || shape_input(g, n, 2, &r))
        return -1;
    if (n->nin > (lstm ? 8 : 6))
        return ir_fail(g, n, "%d inputs (at most %d)", n->nin, lstm ? 8 : 6);
    if (n->a.direction != RNN_FORWARD && n->a.direction != RNN_REVERSE &&
        n->a.direction != RNN_BIDIRECTIONAL)
        return ir_fail(g, n, "unknown direction %d", (int)n->a.direction);
    int64_t hid = n->a.hidden_size, dirs = n->a.direction == RNN_BIDIRECTIONAL ? 2 : 1;
    if (hid <= 0)
        return ir_fail(g, n, "hidden_size %lld must be positive", (long long)hid);
    if (!(n->a.rnn_clip >= 0.0f))
        return ir_fail(g, n, "clip %g must be positive", (double)n->a.rnn_clip);
    if (x->rank != 3)
        return ir_fail(g, n, "input \"%s\" %s must be [seq_length, batch, input_size]", x->name,
                       dims_of(x, bx, sizeof bx));
    int64_t seq = x->dims[0], batch = x->dims[1], in = x->dims[2];
    /* the kernels' state and gates (shiftc_f32_lstm_scratch) in bytes */
    if (hid > SHAPE_MAX_NUMEL / 16 || batch > SHAPE_MAX_NUMEL / 16 / hid - 4)
        return ir_fail(g, n, "hidden_size %lld with batch %lld needs too large a state",
                       (long long)hid, (long long)batch);
    int64_t want[3] = {dirs, gates * hid, in};
    if (w->rank != 3 || w->dims[0] != dirs || w->dims[1] != gates * hid || w->dims[2] != in) {
        shape_str(want, 3, bw, sizeof bw);
        return ir_fail(g, n, "weights W \"%s\" %s must be %s ([directions, %d*hidden_size, "
                             "input_size])",
                       w->name, dims_of(w, bx, sizeof bx), bw, gates);
    }
    want[2] = hid;
    if (r->rank != 3 || r->dims[0] != dirs || r->dims[1] != gates * hid || r->dims[2] != hid) {
        shape_str(want, 3, bw, sizeof bw);
        return ir_fail(g, n, "recurrence weights R \"%s\" %s must be %s ([directions, "
                             "%d*hidden_size, hidden_size])",
                       r->name, dims_of(r, bx, sizeof bx), bw, gates);
    }
    int64_t bias[2] = {dirs, 2 * gates * hid}, lens[1] = {batch}, state[3] = {dirs, batch, hid};
    int64_t peep[2] = {dirs, 3 * hid};
    if (shape_rnn_input(g, n, 3, "bias B", 2, bias) ||
        shape_rnn_input(g, n, 4, "sequence_lens", 1, lens) ||
        shape_rnn_input(g, n, 5, "initial_h", 3, state) ||
        (lstm && (shape_rnn_input(g, n, 6, "initial_c", 3, state) ||
                  shape_rnn_input(g, n, 7, "peepholes P", 2, peep))))
        return -1;
    if (n->nin > 4 && n->in[4] >= 0) {
        const Tensor *sl = &g->tensors[n->in[4]];
        for (int64_t i = 0; sl->kind == TK_CONST && sl->data && i < batch; i++)
            if (!(sl->data[i] >= 0.0f && sl->data[i] <= (float)seq) ||
                sl->data[i] != (float)(int64_t)sl->data[i])
                return ir_fail(g, n, "sequence_lens \"%s\"[%lld] = %g is not a length in [0, %lld]",
                               sl->name, (long long)i, (double)sl->data[i], (long long)seq);
    }
    if (n->nout != (lstm ? 3 : 2))
        return ir_fail(g, n, "%d outputs, expected %d (every output is present, unused ones "
                             "are read by nobody)",
                       n->nout, lstm ? 3 : 2);
    int64_t y[4] = {seq, dirs, batch, hid};
    if (shape_set_output_k(g, n, 0, 4, y))
        return -1;
    for (int k = 1; k < n->nout; k++)
        if (shape_set_output_k(g, n, k, 3, state))
            return -1;
    return 0;
}

static int shape_node(Graph *g, Node *n)
{
    switch (n->op) {
    case OP_CONV:
        return shape_conv(g, n);
    case OP_DENSE:
        return shape_dense(g, n);
    case OP_BATCHNORM:
        return shape_batchnorm(g, n);
    case OP_RELU:
    case OP_CLIP:
    case OP_LEAKYRELU:
    case OP_SIGMOID:
    case OP_TANH:
        return shape_unary(g, n);
    case OP_MAXPOOL:
    case OP_AVGPOOL:
        return shape_pool(g, n);
    case OP_GLOBALAVGPOOL:
        return shape_global_pool(g, n);
    case OP_ADD:
        return shape_add(g, n);
    case OP_CONCAT:
        return shape_concat(g, n);
    case OP_RESHAPE:
        return shape_reshape(g, n);
    case OP_TRANSPOSE:
        return shape_transpose(g, n);
    case OP_SLICE:
        return shape_slice(g, n);
    case OP_SOFTMAX:
        return shape_softmax(g, n);
    case OP_LSTM:
    case OP_GRU:
        return shape_rnn(g, n);
    case OP_COUNT:
        break;
    }
    return ir_fail(g, n, "shape inference does not handle this op");
}

int ir_infer_shapes(Graph *g)
{
    for (int i = 0; i < g->nnodes; i++)
        if (shape_node(g, &g->nodes[i]))
            return -1;
    return 0;
}
