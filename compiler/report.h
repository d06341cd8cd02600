/*
 * --report DIR: a self-contained HTML page (DIR/index.html, inline SVG and
 * CSS, no scripts or network) showing the precision search: the Pareto
 * frontier as cost vs total Omega, the accuracy measured at a sample of
 * frontier points (second plot, cost vs accuracy), the uniform-precision
 * points for comparison, the chosen point, and the per-layer table.
 */
#ifndef SHIFTC_REPORT_H
#define SHIFTC_REPORT_H

#include <stddef.h>

#include "search.h"

typedef struct ReportPoint {
    double cost, omega;
    double accuracy;   /* fraction 0..1, NaN when not measured */
    const char *label; /* NULL, or "int4" for a uniform point */
} ReportPoint;

typedef struct ReportInput {
    const char *model;         /* file name as given */
    const char *target;        /* target name */
    const SearchSpace *space;
    const Frontier *frontier;
    double budget;             /* the limit in frontier cost units, NaN if none */
    const char *budget_text;   /* as the user wrote it, or NULL */
    int chosen;                /* index into frontier->points, -1 when the
                                  applied assignment is off the frontier */
    const FrontierPoint *applied; /* the applied assignment when it is not
                                     points[chosen] (refinement), else NULL */
    double applied_accuracy;   /* its accuracy, NaN if not measured */
    const char *applied_label; /* "uniform int3": how the page names it */
    const double *frontier_accuracy; /* per frontier point, NaN if not measured; may be NULL */
    double float_accuracy;     /* NaN if not measured */
    const ReportPoint *uniform; /* uniform-precision points, may be NULL */
    int nuniform;
    const char *policy;        /* policy file, or NULL */
} ReportInput;

/* Creates DIR if needed and writes DIR/index.html.  Returns 0, or -1 with
 * err naming the path. */
int report_write(const char *dir, const ReportInput *in, char *err, size_t errlen);

#endif
