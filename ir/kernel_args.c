/* Kernel arguments shared by the integer simulator and the emitter. */
#include "kernel_args.h"

#include "util.h"

static int32_t to_i32(int64_t v)
{
    ensure(v >= 0 && v <= INT32_MAX);
    return (int32_t)v;
}

static const Tensor *in_tensor(const Graph *g, const Node *n, int i)
{
    ensure(i < n->nin && n->in[i] >= 0);
    return &g->tensors[n->in[i]];
}

static const Tensor *out_tensor(const Graph *g, const Node *n)
{
    ensure(n->nout >= 1 && n->out[0] >= 0);
    return &g->tensors[n->out[0]];
}

/* Product of dims[from, to). */
static int64_t dims_prod(const Tensor *t, int from, int to)
{
    int64_t p = 1;
    for (int d = from; d < to; d++)
        p *= t->dims[d];
    return p;
}

int32_t ka_numel(const Tensor *t) { return to_i32(ir_numel(t)); }

int ka_type(const Tensor *t)
{
    switch (t->q.type) {
    case QT_I8: return SHIFTC_I8;
    case QT_U8: return SHIFTC_U8;
    case QT_I16: return SHIFTC_I16;
    case QT_U16: return SHIFTC_U16;
    default: unreachable();
    }
}

int32_t ka_esize(const Tensor *t) { return shiftc_is16(ka_type(t)) ? 2 : 1; }

int32_t ka_bytes(const Tensor *t)
{
    return to_i32((int64_t)ka_numel(t) * ka_esize(t));
}

void ka_geom(const Graph *g, const Node *n, shiftc_geom *geom)
{
    const Tensor *x = in_tensor(g, n, 0), *y = out_tensor(g, n);
    const Attrs *a = &n->a;
    ensure(x->rank == 3 || x->rank == 4);
    ensure(y->rank == x->rank);
    int r4 = x->rank == 4; /* rank 3: [N, C, L] read as H = 1 */
    geom->n = to_i32(x->dims[0]);
    geom->c = to_i32(x->dims[1]);
    geom->h = r4 ? to_i32(x->dims[2]) : 1;
    geom->w = to_i32(x->dims[x->rank - 1]);
    geom->oc = to_i32(y->dims[1]);
    geom->oh = r4 ? to_i32(y->dims[2]) : 1;
    geom->ow = to_i32(y->dims[y->rank - 1]);
    geom->kh = to_i32(a->kernel[0]);
    geom->kw = to_i32(a->kernel[1]);
    if (n->op == OP_CONV) {
        /* the weights are the ground truth for the kernel size */
        const Tensor *w = in_tensor(g, n, 1);
        ensure(w->rank == 3 || w->rank == 4);
        geom->kh = w->rank == 4 ? to_i32(w->dims[2]) : 1;
        geom->kw = to_i32(w->dims[w->rank - 1]);
    }
    geom->sh = to_i32(a->strides[0]);
    geom->sw = to_i32(a->strides[1]);
    geom->dh = to_i32(a->dilations[0]);
    geom->dw = to_i32(a->dilations[1]);
    geom->pt = to_i32(a->pads[0]);
    geom->pl = to_i32(a->pads[1]);
    geom->pb = to_i32(a->pads[2]);
    geom->pr = to_i32(a->pads[3]);
    geom->group = n->op == OP_CONV ? to_i32(a->group) : 1;
    geom->count_include_pad = n->op == OP_AVGPOOL ? a->count_include_pad != 0 : 0;
    if (!r4) {
        geom->kh = geom->sh = geom->dh = 1;
        geom->pt = geom->pb = 0;
    }
    ensure(geom->group >= 1 && geom->c % geom->group == 0 && geom->oc % geom->group == 0);
}

void ka_global_pool(const Graph *g, const Node *n, int32_t *nc, int32_t *hw)
{
    const Tensor *x = in_tensor(g, n, 0);
    ensure(x->rank >= 2);
    *nc = to_i32(dims_prod(x, 0, 2));
    *hw = to_i32(dims_prod(x, 2, x->rank));
}

void ka_dense_dims(const Graph *g, const Node *n, int32_t *m, int32_t *k, int32_t *nout)
{
    const Tensor *x = in_tensor(g, n, 0), *w = in_tensor(g, n, 1);
    ensure(x->rank >= 1 && w->rank == 2);
    *k = to_i32(x->dims[x->rank - 1]);
    ensure(*k > 0 && w->dims[1] == *k);
    *m = to_i32(ir_numel(x) / *k);
    *nout = to_i32(w->dims[0]);
}

/* Strides of input t broadcast onto an output of rank `rank` with dims
 * odims: numpy aligns trailing dimensions. */
static void bcast_strides(const Tensor *t, int rank, const int32_t *odims, int32_t *s)
{
    ensure(t->rank <= rank);
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; d--) {
        int td = d - (rank - t->rank); /* matching dim of t, < 0 if missing */
        if (td < 0) {
            s[d] = 0;
            continue;
        }
        ensure(t->dims[td] == odims[d] || t->dims[td] == 1);
        s[d] = t->dims[td] == 1 ? 0 : to_i32(stride);
        stride *= t->dims[td];
    }
}

void ka_bcast(const Graph *g, const Node *n, shiftc_bcast *bc)
{
    const Tensor *a = in_tensor(g, n, 0), *b = in_tensor(g, n, 1), *y = out_tensor(g, n);
    ensure(y->rank <= 6);
    *bc = (shiftc_bcast){0};
    bc->rank = y->rank;
    for (int d = 0; d < y->rank; d++)
        bc->dims[d] = to_i32(y->dims[d]);
    bcast_strides(a, y->rank, bc->dims, bc->sa);
    bcast_strides(b, y->rank, bc->dims, bc->sb);
}

void ka_qadd(const Graph *g, const Node *n, shiftc_qadd *q)
{
    const QLayer *ql = n->q;
    ensure(ql);
    q->left_shift = ql->left_shift;
    q->ma = ql->in_mult[0];
    q->sa = ql->in_shift[0];
    q->mb = ql->in_mult[1];
    q->sb = ql->in_shift[1];
    q->mo = ql->out_mult;
    q->so = ql->out_shift;
    q->zero = out_tensor(g, n)->q.zero;
    q->lo = ql->lo;
    q->hi = ql->hi;
}

static shiftc_nm nm_of(const int32_t v[3]) { return (shiftc_nm){v[0], v[1], v[2]}; }

void ka_qadd_nm(const Graph *g, const Node *n, shiftc_qadd_nm *q)
{
    const QLayer *ql = n->q;
    ensure(ql);
    q->left_shift = ql->left_shift;
    q->a = nm_of(ql->in_nm[0]);
    q->b = nm_of(ql->in_nm[1]);
    q->o = nm_of(ql->out_nm);
    q->zero = out_tensor(g, n)->q.zero;
    q->lo = ql->lo;
    q->hi = ql->hi;
}

void ka_concat(const Graph *g, const Node *n, int input, int32_t *outer, int32_t *inner,
               int32_t *row, int32_t *offset)
{
    const Tensor *y = out_tensor(g, n);
    int axis = (int)n->a.axis;
    ensure(axis >= 0 && axis < y->rank && input >= 0 && input < n->nin);
    int64_t after = dims_prod(y, axis + 1, y->rank);
    int64_t before = 0; /* output columns taken by earlier inputs */
    for (int i = 0; i < input; i++)
        before += in_tensor(g, n, i)->dims[axis];
    *outer = to_i32(dims_prod(y, 0, axis));
    *inner = to_i32(in_tensor(g, n, input)->dims[axis] * after);
    *row = to_i32(y->dims[axis] * after);
    *offset = to_i32(before * after);
}

void ka_slice(const Graph *g, const Node *n, int32_t *outer, int32_t *inner, int32_t *row,
              int32_t *offset)
{
    const Tensor *x = in_tensor(g, n, 0);
    const Attrs *a = &n->a;
    int axis = (int)a->axis;
    ensure(axis >= 0 && axis < x->rank && a->slice_start >= 0 && a->slice_len >= 1 &&
           a->slice_start + a->slice_len <= x->dims[axis]);
    int64_t after = dims_prod(x, axis + 1, x->rank);
    *outer = to_i32(dims_prod(x, 0, axis));
    *inner = to_i32(a->slice_len * after);
    *row = to_i32(x->dims[axis] * after);
    *offset = to_i32(a->slice_start * after);
}

void ka_softmax(const Graph *g, const Node *n, int32_t *outer, int32_t *len, int32_t *inner)
{
    const Tensor *x = in_tensor(g, n, 0);
    int axis = (int)n->a.axis;
    ensure(axis >= 0 && axis < x->rank);
    *outer = to_i32(dims_prod(x, 0, axis));
    if (n->a.softmax_flatten) {
        *len = to_i32(dims_prod(x, axis, x->rank));
        *inner = 1;
    } else {
        *len = to_i32(x->dims[axis]);
        *inner = to_i32(dims_prod(x, axis + 1, x->rank));
    }
}

void ka_transpose(const Graph *g, const Node *n, int32_t *rank, int32_t odims[6],
                  int32_t xstrides[6])
{
    const Tensor *x = in_tensor(g, n, 0), *y = out_tensor(g, n);
    ensure(x->rank == y->rank && x->rank <= 6);
    ensure(n->a.nperm == 0 || n->a.nperm == x->rank);
    int64_t s[IR_MAX_RANK], stride = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        s[d] = stride;
        stride *= x->dims[d];
    }
    *rank = x->rank;
    for (int d = 0; d < x->rank; d++) {
        int p = n->a.nperm ? n->a.perm[d] : x->rank - 1 - d;
        ensure(p >= 0 && p < x->rank);
        odims[d] = to_i32(y->dims[d]);
        xstrides[d] = to_i32(s[p]);
    }
    for (int d = x->rank; d < 6; d++)
        odims[d] = 1, xstrides[d] = 0;
}
