/* --max-unrolled-terms (unroll_limit.h). */
#include <sys/resource.h>

#include "shiftadd.h"
#include "unroll_limit.h"

int unroll_limit_apply(Graph *g, long max_terms, const char *model, FILE *notice)
{
    int switched = 0;
    if (max_terms <= 0)
        return 0;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = &g->nodes[i];
        if ((n->op != OP_CONV && n->op != OP_DENSE) || n->prec.kernel != KS_UNROLLED || !n->q)
            continue;
        const Tensor *w = &g->tensors[n->in[1]];
        int64_t count = ir_numel(w);
        int64_t terms = sa_count_terms(n->q->wq, count);
        if (terms <= max_terms)
            continue;
        /* the mac kernel holds int8 weight codes (emit_mac_check) */
        for (int64_t k = 0; k < count; k++)
            if (n->q->wq[k] < -128 || n->q->wq[k] > 127)
                return ir_fail(g, n, "%lld unrolled terms exceed --max-unrolled-terms %ld, and weight code %ld "
                                     "does not fit the mac kernel's int8 (raise the limit or choose a format of "
                                     "at most 8 bits)",
                               (long long)terms, max_terms, (long)n->q->wq[k]);
        n->prec.kernel = KS_TABLE;
        switched++;
        fprintf(notice, "shiftc: %s: node %d (%s \"%s\"): %lld unrolled terms exceed --max-unrolled-terms %ld; "
                        "emitted with the mac kernel\n",
                model, n->src_index, ir_op_name(n->op), n->name, (long long)terms, max_terms);
    }
    return switched;
}

long long unroll_limit_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (long long)ru.ru_maxrss * 1024; /* Linux: kilobytes */
}
