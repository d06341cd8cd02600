/* --act-bits and --clip (act_options.h). */
#include "act_options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"

int act_options_parse(const char *cmd, const char *bits, const char *clip, ActOptions *o)
{
    o->bits = 8;
    o->clip = CLIP_MINMAX;
    o->pct = 0;
    o->kernel = KS_UNROLLED;
    if (bits) {
        char *end;
        long b = strtol(bits, &end, 10);
        if (!*bits || *end || (b != 4 && b != 8 && b != 16)) {
            fprintf(stderr, "shiftc %s: --act-bits must be 4, 8 or 16, got '%s'\n", cmd, bits);
            return -1;
        }
        o->bits = (int)b;
    }
    if (clip && clip_method_parse(clip, &o->clip, &o->pct) != 0) {
        fprintf(stderr,
                "shiftc %s: --clip must be minmax, percentile, percentile:P (0 < P <= 100), aciq or "
                "aciq-gauss, got '%s'\n",
                cmd, clip);
        return -1;
    }
    return 0;
}

int act_options_kernel(const char *cmd, const char *kernel, ActOptions *o)
{
    o->kernel = KS_UNROLLED;
    if (kernel && ir_kernel_parse(kernel, &o->kernel) != 0) {
        fprintf(stderr, "shiftc %s: --kernel must be unrolled or mac, got '%s'\n", cmd, kernel);
        return -1;
    }
    return 0;
}

void act_options_apply(Graph *g, const ActOptions *o)
{
    for (int i = 0; i < g->nnodes; i++) {
        Precision *p = &g->nodes[i].prec;
        p->act_bits = o->bits;
        p->act_clip = o->clip;
        p->act_pct = (float)o->pct;
        if (g->nodes[i].op == OP_CONV || g->nodes[i].op == OP_DENSE)
            p->kernel = o->kernel;
    }
}

void act_clip_text(const ActOptions *o, char *buf, size_t len)
{
    if (o->clip == CLIP_PERCENTILE && o->pct > 0)
        snprintf(buf, len, "percentile:%g", o->pct);
    else
        snprintf(buf, len, "%s", clip_method_name(o->clip));
}
