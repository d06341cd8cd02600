/*
 * The precision-search report (report.h): DIR/index.html, one page with
 * inline CSS and SVG -- no scripts, no fonts, nothing fetched.
 *
 * The page is a pure function of the ReportInput: every number is printed
 * with a fixed format and nothing depends on the clock, the locale or
 * addresses, so the same search writes the same bytes.  Anything that comes
 * from the user (model and policy paths, layer names) goes through
 * html_text().
 *
 * Plots are drawn on a fixed 1000 x 470 viewBox.  An Axis maps data values
 * to pixels (linear, or log10 for Omega when it spans more than two
 * decades; values <= 0 then sit on the bottom edge instead of taking
 * log(0)); tick positions are 1-2-5 steps on the axis's display scale
 * (KiB, k, M, ...), which the axis title names.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats.h"
#include "report.h"

/* ---- colours (tests/report.sh looks for these in the screenshot) ---- */
#define C_FRONTIER "#2563eb" /* blue: frontier step line and points */
#define C_UNIFORM "#ea580c"  /* orange: uniform-precision points */
#define C_CHOSEN "#dc2626"   /* red: the chosen point */
#define C_BUDGET "#7c3aed"   /* violet: the budget line */
#define C_FLOAT "#059669"    /* green: float accuracy */
#define C_GRID "#e5e7eb"
#define C_AXIS "#6b7280"
#define C_TEXT "#111827"

/* plot geometry (viewBox units) */
#define PW 1000.0
#define PH 470.0
#define PL 92.0  /* left edge of the plot area */
#define PR 976.0 /* right edge */
#define PT 22.0  /* top */
#define PB 404.0 /* bottom */

#define MAX_ROWS 32 /* frontier table: more points than this are sampled */

/* ---- text ---- */

/* Writes s escaped for HTML text and attribute values; control characters
 * become '?'.  NULL prints as an em dash. */
static void html_text(FILE *f, const char *s)
{
    if (!s) {
        fputs("&#8212;", f);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fputc('?', f);
            else
                fputc(*p, f);
        }
    }
}

/* An integer-valued count with thousands separators ("112,960"); falls
 * back to %.4g beyond 1e15 and for non-finite values ("—"). */
static void fmt_count(char *buf, size_t n, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, n, "&#8212;");
        return;
    }
    if (fabs(v) >= 1e15) {
        snprintf(buf, n, "%.4g", v);
        return;
    }
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", fabs(v));
    size_t len = strlen(digits), o = 0;
    char out[48];
    if (v < 0 && strcmp(digits, "0") != 0)
        out[o++] = '-';
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = 0;
    snprintf(buf, n, "%s", out);
}

/* Omega and other small reals: 4 significant digits. */
static void fmt_real(char *buf, size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "&#8212;");
    else if (isinf(v))
        snprintf(buf, n, "%s&#8734;", v < 0 ? "&#8722;" : "");
    else
        snprintf(buf, n, "%.4g", v);
}

/* A fraction 0..1 as a percentage. */
static void fmt_pct(char *buf, size_t n, double v)
{
    if (!isfinite(v))
        snprintf(buf, n, "&#8212;");
    else
        snprintf(buf, n, "%.2f%%", 100.0 * v);
}

static int is_bytes(CostKind k) { return k == COST_FLASH || k == COST_RAM; }

/* A cost in human units, number and unit apart: "110.3" "KiB", "1.36"
 * "M instructions", "3.980" "bits/weight" (params > 0), "2.10" "G BOPs". */
static void fmt_cost2(char *num, size_t n, char *unit, size_t un, double v, CostKind k, int64_t params)
{
    unit[0] = 0;
    if (!isfinite(v)) {
        snprintf(num, n, "&#8212;");
        return;
    }
    double a = fabs(v);
    if (is_bytes(k)) {
        static const char *const u[] = {"B", "KiB", "MiB", "GiB"};
        static const int dec[] = {0, 1, 2, 2};
        int e = a < 1024 ? 0 : a < 1024.0 * 1024 ? 1 : a < 1024.0 * 1024 * 1024 ? 2 : 3;
        snprintf(num, n, "%.*f", dec[e], v / pow(1024, e));
        snprintf(unit, un, "%s", u[e]);
        return;
    }
    if (k == COST_BITS && params > 0) {
        snprintf(num, n, "%.3f", v / (double)params);
        snprintf(unit, un, "bits/weight");
        return;
    }
    const char *name = k == COST_INSTRUCTIONS ? "instructions" : k == COST_BITS ? "bits" : "BOPs";
    if (a >= 1e12) {
        snprintf(num, n, "%.4g", v);
        snprintf(unit, un, "%s", name);
        return;
    }
    static const char *const pre[] = {"", "k ", "M ", "G "};
    static const int dec[] = {0, 1, 2, 2};
    int e = a < 1e4 ? 0 : a < 1e6 ? 1 : a < 1e9 ? 2 : 3;
    snprintf(num, n, "%.*f", dec[e], v / pow(1000, e));
    snprintf(unit, un, "%s%s", pre[e], name);
}

static void fmt_cost(char *buf, size_t n, double v, CostKind k, int64_t params)
{
    char num[64], unit[32];
    fmt_cost2(num, sizeof num, unit, sizeof unit, v, k, params);
    int len = snprintf(buf, n, "%s", num);
    if (unit[0] && len >= 0 && (size_t)len + 1 < n)
        snprintf(buf + len, n - (size_t)len, " %s", unit);
}

/* ---- axes ---- */

typedef struct Axis {
    double lo, hi;     /* data range shown (log: log10 of it) */
    int log;           /* log10 scale */
    double scale;      /* tick labels show value / scale */
    double p0, p1;     /* pixels of lo and hi */
} Axis;

static double axis_px(const Axis *a, double v)
{
    double t;
    if (a->log) {
        if (!(v > 0))
            return a->p0;
        t = (log10(v) - a->lo) / (a->hi - a->lo);
    } else {
        t = (v - a->lo) / (a->hi - a->lo);
    }
    if (t < -0.02)
        t = -0.02;
    if (t > 1.02)
        t = 1.02;
    return a->p0 + t * (a->p1 - a->p0);
}

/* 1, 2 or 5 times a power of ten, >= x (x > 0). */
static double nice_step(double x)
{
    if (!(x > 1e-300) || !isfinite(x))
        return 0; /* no ticks */
    double e = pow(10, floor(log10(x)));
    double m = x / e;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * e;
}

/* A linear axis over [lo, hi] (finite, lo <= hi) padded by pad of the span;
 * an empty span becomes a window around the value. */
static void axis_linear(Axis *a, double lo, double hi, double pad, double p0, double p1)
{
    if (!(hi > lo)) {
        double w = fabs(lo) * 0.1;
        if (!(w > 0))
            w = 1;
        lo -= w, hi += w;
    } else {
        double s = hi - lo;
        lo -= pad * s, hi += pad * s;
    }
    if (!isfinite(lo) || !isfinite(hi) || !(hi > lo))
        lo = -1, hi = 1;
    a->lo = lo, a->hi = hi, a->log = 0, a->scale = 1, a->p0 = p0, a->p1 = p1;
}

/* Tick label of value t (already divided by the display scale) for a
 * linear axis of the given step. */
static void tick_label(char *buf, size_t n, double t, double step)
{
    if (fabs(t) < step * 1e-6)
        t = 0;
    if (t != 0 && (fabs(t) >= 1e7 || fabs(t) < 1e-4)) {
        snprintf(buf, n, "%.3g", t);
        return;
    }
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6)
        dec = 6;
    snprintf(buf, n, "%.*f", dec, t);
}

/* ---- the drawing ---- */

typedef struct Box {
    double x0, y0, x1, y1;
} Box;

typedef struct Plot {
    FILE *f;
    Axis x, y;
    Box taken[1024]; /* labels, markers and the legend already placed */
    int ntaken;
} Plot;

static int box_overlaps(const Box *a, const Box *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

static void take(Plot *p, Box b)
{
    if (p->ntaken < (int)(sizeof p->taken / sizeof p->taken[0]))
        p->taken[p->ntaken++] = b;
}

/* The box of a label of width w at position k around (x, y). */
static Box label_box(double x, double y, double w, int k, const double *dx, const double *dy)
{
    double bx = dx[k] > 0 ? x + dx[k] : dx[k] < 0 ? x + dx[k] - w : x - w / 2;
    return (Box){bx, y + dy[k] - 11, bx + w, y + dy[k] + 3};
}

/* Places a text label of len characters (12px) near the marker at (x, y):
 * the first of eight positions around it that overlaps no earlier label
 * or marker and stays inside the plot area (else the first).  Sets the
 * text's anchor point and text-anchor. */
static void place_label(Plot *p, double x, double y, size_t len, double *tx, double *ty, const char **anchor)
{
    static const double dx[12] = {9, 9, -9, -9, 9, -9, 0, 0, 12, -12, 12, -12};
    static const double dy[12] = {-7, 15, -7, 15, -20, -20, -14, 24, -33, -33, 30, 30};
    double w = 7.0 * (double)len + 2;
    int best = 0;
    for (int k = 0; k < 12; k++) {
        Box b = label_box(x, y, w, k, dx, dy);
        int clash = b.x0 < PL || b.x1 > PR || b.y0 < PT || b.y1 > PB;
        for (int i = 0; i < p->ntaken && !clash; i++)
            clash = box_overlaps(&b, &p->taken[i]);
        if (!clash) {
            best = k;
            break;
        }
    }
    take(p, label_box(x, y, w, best, dx, dy));
    *tx = x + dx[best];
    *ty = y + dy[best];
    *anchor = dx[best] > 0 ? "start" : dx[best] < 0 ? "end" : "middle";
}

static void diamond(FILE *f, double x, double y, double r, const char *fill)
{
    fprintf(f,
            "<path d=\"M%.1f %.1fl%.1f %.1fl%.1f %.1fl%.1f %.1fz\" fill=\"%s\" stroke=\"#fff\" "
            "stroke-width=\"1.5\"/>\n",
            x, y - r, r, r, -r, r, -r, -r, fill);
}

static void dot(FILE *f, double x, double y, double r, const char *fill)
{
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"1.2\"/>\n", x, y,
            r, fill);
}

static void chosen_mark(FILE *f, double x, double y)
{
    fprintf(f,
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"10\" fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\"/>\n"
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>\n",
            x, y, C_CHOSEN, x, y, C_CHOSEN);
}

/* A label with a white halo, so it stays legible over lines. */
static void label_text(FILE *f, double x, double y, const char *anchor, const char *colour, int bold,
                       const char *text)
{
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\"%s fill=\"%s\" stroke=\"#fff\" "
            "stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\">",
            x, y, anchor, bold ? 13 : 12, bold ? " font-weight=\"600\"" : "", colour);
    html_text(f, text);
    fputs("</text>\n", f);
}

/* A marker at pixel (x, y) with a label; NaN x: not drawn. */
typedef struct Mark {
    double x, y;
    const char *label;
} Mark;

/* The uniform-precision diamonds and the chosen point (may be NULL), then
 * their labels, placed around every marker drawn so far. */
static void draw_marks(Plot *p, const Mark *uni, int nuni, const Mark *chosen)
{
    for (int i = 0; i < nuni; i++)
        if (!isnan(uni[i].x)) {
            diamond(p->f, uni[i].x, uni[i].y, 6.5, C_UNIFORM);
            take(p, (Box){uni[i].x - 6, uni[i].y - 6, uni[i].x + 6, uni[i].y + 6});
        }
    if (chosen) {
        chosen_mark(p->f, chosen->x, chosen->y);
        take(p, (Box){chosen->x - 11, chosen->y - 11, chosen->x + 11, chosen->y + 11});
    }
    double tx, ty;
    const char *anchor;
    if (chosen) {
        place_label(p, chosen->x + 4, chosen->y, strlen(chosen->label), &tx, &ty, &anchor);
        label_text(p->f, tx, ty, anchor, C_CHOSEN, 1, chosen->label);
    }
    for (int i = 0; i < nuni; i++)
        if (!isnan(uni[i].x) && uni[i].label) {
            place_label(p, uni[i].x, uni[i].y, strlen(uni[i].label), &tx, &ty, &anchor);
            label_text(p->f, tx, ty, anchor, "#9a3412", 0, uni[i].label);
        }
}

/* Grid, ticks and tick labels of both axes, and the axis titles. */
static void draw_axes(Plot *p, const char *xtitle, const char *ytitle)
{
    FILE *f = p->f;
    const Axis *x = &p->x, *y = &p->y;
    fprintf(f, "<g font-size=\"12\" fill=\"%s\">\n", C_AXIS);
    /* x: linear */
    double span = (x->hi - x->lo) / x->scale;
    double step = nice_step(span / 7);
    double first = ceil(x->lo / x->scale / step) * step;
    for (int i = 0; i < 40 && step > 0 && isfinite(first); i++) {
        double t = first + i * step;
        if (t > x->hi / x->scale + step * 1e-9)
            break;
        double px = axis_px(x, t * x->scale);
        char lab[48];
        tick_label(lab, sizeof lab, t, step);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                px, PT, px, PB, C_GRID, px, PB + 18, lab);
    }
    /* y */
    if (y->log) {
        int dlo = (int)floor(y->lo), dhi = (int)ceil(y->hi);
        int every = 1 + (dhi - dlo) / 9;
        for (int d = dlo; d <= dhi; d++) {
            for (int m = 1; m <= 9; m++) {
                double lv = d + log10((double)m);
                if (lv < y->lo - 1e-9 || lv > y->hi + 1e-9)
                    continue;
                double py = axis_px(y, pow(10, lv));
                if (m == 1 && d % every == 0) {
                    fprintf(f,
                            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">10<tspan dy=\"-6\" "
                            "font-size=\"9\">%d</tspan></text>\n",
                            PL, py, PR, py, C_GRID, PL - 8, py + 4, d);
                } else if (every == 1 && m != 1) {
                    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#f3f4f6\"/>\n", PL,
                            py, PR, py);
                }
            }
        }
    } else {
        double ystep = nice_step((y->hi - y->lo) / y->scale / 6);
        double yfirst = ceil(y->lo / y->scale / ystep) * ystep;
        for (int i = 0; i < 40 && ystep > 0 && isfinite(yfirst); i++) {
            double t = yfirst + i * ystep;
            if (t > y->hi / y->scale + ystep * 1e-9)
                break;
            double py = axis_px(y, t * y->scale);
            char lab[48];
            tick_label(lab, sizeof lab, t, ystep);
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                    PL, py, PR, py, C_GRID, PL - 8, py + 4, lab);
        }
    }
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"%s\"/>\n"
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"14\" fill=\"%s\">%s</text>\n"
            "<text transform=\"translate(22 %.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"14\" "
            "fill=\"%s\">%s</text>\n</g>\n",
            PL, PT, PR - PL, PB - PT, C_AXIS, (PL + PR) / 2, PB + 46, C_TEXT, xtitle, (PT + PB) / 2, C_TEXT, ytitle);
}

typedef enum { LEG_LINE_DOT, LEG_DIAMOND, LEG_CHOSEN, LEG_DASHED } LegendKind;
typedef struct LegendItem {
    LegendKind kind;
    const char *colour;
    const char *text;
} LegendItem;

/* A legend box in the top-right (top = 1) or bottom-right corner. */
static void draw_legend(Plot *p, const LegendItem *it, int n, int top)
{
    FILE *f = p->f;
    size_t maxlen = 0;
    for (int i = 0; i < n; i++)
        if (strlen(it[i].text) > maxlen)
            maxlen = strlen(it[i].text);
    double w = 52 + 7.0 * (double)maxlen, h = 12 + 22.0 * n;
    double x0 = PR - 12 - w, y0 = top ? PT + 12 : PB - 12 - h;
    take(p, (Box){x0, y0, x0 + w, y0 + h});
    fprintf(f,
            "<g font-size=\"13\" fill=\"%s\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"6\" "
            "fill=\"#fff\" fill-opacity=\"0.92\" stroke=\"%s\"/>\n",
            C_TEXT, x0, y0, w, h, C_GRID);
    for (int i = 0; i < n; i++) {
        double cy = y0 + 17 + 22.0 * i, cx = x0 + 22;
        switch (it[i].kind) {
        case LEG_LINE_DOT:
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                    cx - 12, cy, cx + 12, cy, it[i].colour);
            dot(f, cx, cy, 4, it[i].colour);
            break;
        case LEG_DIAMOND: diamond(f, cx, cy, 6, it[i].colour); break;
        case LEG_CHOSEN: chosen_mark(f, cx, cy); break;
        case LEG_DASHED:
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\" "
                    "stroke-dasharray=\"6 4\"/>\n",
                    cx - 12, cy, cx + 12, cy, it[i].colour);
            break;
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", cx + 22, cy + 4.5, it[i].text);
    }
    fputs("</g>\n", f);
}

/* A vertical dashed budget line at cost b (data units), or an arrow at the
 * right edge when b lies beyond the axis. */
static void draw_budget(Plot *p, double b, const char *label)
{
    FILE *f = p->f;
    if (!isfinite(b))
        return;
    double lo = p->x.lo, hi = p->x.hi;
    if (b < lo || b > hi) {
        double x = b > hi ? PR - 6 : PL + 6;
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"12\" fill=\"%s\">budget %s %s</text>\n",
                x, PT + 16, b > hi ? "end" : "start", C_BUDGET, label, b > hi ? "&#8594;" : "&#8592;");
        take(p, (Box){b > hi ? x - 200 : x, PT + 4, b > hi ? x : x + 200, PT + 20});
        return;
    }
    double x = axis_px(&p->x, b);
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\" "
            "stroke-dasharray=\"7 5\"/>\n",
            x, PT, x, PB, C_BUDGET);
    size_t len = strlen("budget ") + strlen(label);
    int left = x + 8 + 7.0 * (double)len > PR;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"12\" fill=\"%s\">budget %s</text>\n",
            left ? x - 6 : x + 6, PB - 8, left ? "end" : "start", C_BUDGET, label);
    double w = 7.0 * (double)len;
    take(p, (Box){left ? x - 6 - w : x + 6, PB - 20, left ? x - 6 : x + 6 + w, PB - 4});
}

/* ---- the page ---- */

typedef struct Page {
    FILE *f;
    const ReportInput *in;
    const SearchSpace *s;
    const Frontier *fr;
    CostKind kind;
    int64_t params;
    const FrontierPoint *ch; /* the chosen assignment, NULL if none */
    double ch_acc;     /* its measured accuracy, NaN if not measured */
    char ch_name[64];  /* "frontier point 3 of 9" or "uniform int3" */
    int ch_index;      /* its frontier point, -1 when off the frontier */
    double xdiv;       /* costs are plotted as cost / xdiv (bits: per weight) */
    double budget;     /* in plotted units, NaN if none */
    int any_accuracy;
} Page;

static int valid_choice(const SearchSpace *s, const int *choice)
{
    if (!s || !choice || s->nlayers <= 0 || !s->layers)
        return 0;
    for (int i = 0; i < s->nlayers; i++)
        if (!s->layers[i].cand || choice[i] < 0 || choice[i] >= s->layers[i].ncand)
            return 0;
    return 1;
}

static double facc(const Page *pg, int i)
{
    return pg->in->frontier_accuracy ? pg->in->frontier_accuracy[i] : NAN;
}

/* The x axis shared by both plots: display scale and title. */
static void x_axis(const Page *pg, Axis *a, char *title, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < pg->fr->npoints; i++) {
        double v = pg->fr->points[i].cost / pg->xdiv;
        if (isfinite(v))
            lo = fmin(lo, v), hi = fmax(hi, v);
    }
    for (int i = 0; i < pg->in->nuniform; i++) {
        double v = pg->in->uniform[i].cost / pg->xdiv;
        if (isfinite(v))
            lo = fmin(lo, v), hi = fmax(hi, v);
    }
    if (!(lo <= hi))
        lo = 0, hi = 1;
    /* the budget widens the axis only when it is near the data */
    double b = pg->budget, span = hi - lo;
    if (isfinite(b) && b >= lo - 0.5 * span && b <= hi + 0.5 * span)
        lo = fmin(lo, b), hi = fmax(hi, b);
    axis_linear(a, lo, hi, 0.05, PL, PR);
    if (lo >= 0 && a->lo < 0) /* no negative costs on the axis */
        a->lo = -0.03 * a->hi;
    double m = fmax(fabs(a->lo), fabs(a->hi));
    const char *name = pg->kind == COST_FLASH ? "Flash"
                       : pg->kind == COST_RAM ? "RAM"
                       : pg->kind == COST_INSTRUCTIONS ? "Instructions per inference"
                       : pg->kind == COST_BITS ? "Weight bits"
                                               : "BOPs";
    if (pg->kind == COST_BITS && pg->xdiv > 1) {
        snprintf(title, n, "Average weight bits per parameter");
        return;
    }
    if (is_bytes(pg->kind)) {
        if (m < 10240)
            snprintf(title, n, "%s (bytes)", name);
        else if (m < 10.0 * 1024 * 1024)
            a->scale = 1024, snprintf(title, n, "%s (KiB)", name);
        else
            a->scale = 1024.0 * 1024, snprintf(title, n, "%s (MiB)", name);
        return;
    }
    if (m < 1e4)
        snprintf(title, n, "%s", name);
    else if (m < 1e7)
        a->scale = 1e3, snprintf(title, n, "%s (thousands)", name);
    else if (m < 1e10)
        a->scale = 1e6, snprintf(title, n, "%s (millions)", name);
    else
        a->scale = 1e9, snprintf(title, n, "%s (billions)", name);
}

static void budget_label(const Page *pg, char *buf, size_t n)
{
    fmt_cost(buf, n, pg->budget * pg->xdiv, pg->kind, pg->params);
}

/* Plot 1: cost vs total Omega. */
static void plot_frontier(const Page *pg)
{
    FILE *f = pg->f;
    Plot p = {.f = f};
    char xtitle[128];
    x_axis(pg, &p.x, xtitle, sizeof xtitle);
    double lo = INFINITY, hi = -INFINITY, minpos = INFINITY;
    int nvals = 0;
    for (int i = 0; i < pg->fr->npoints + pg->in->nuniform; i++) {
        double v = i < pg->fr->npoints ? pg->fr->points[i].omega : pg->in->uniform[i - pg->fr->npoints].omega;
        if (!isfinite(v))
            continue;
        nvals++;
        lo = fmin(lo, v), hi = fmax(hi, v);
        if (v > 0)
            minpos = fmin(minpos, v);
    }
    if (!nvals)
        lo = 0, hi = 1;
    if (isfinite(minpos) && hi / minpos > 100) {
        p.y.log = 1, p.y.scale = 1;
        p.y.lo = floor(log10(minpos));
        p.y.hi = ceil(log10(hi));
        if (p.y.hi <= p.y.lo)
            p.y.hi = p.y.lo + 1;
        p.y.p0 = PB, p.y.p1 = PT;
    } else {
        /* Omega >= 0: start at zero when that costs less than half the height */
        if (lo >= 0 && lo < hi && lo < (hi - lo))
            lo = 0;
        axis_linear(&p.y, lo, hi, 0.06, PB, PT);
        if (lo == 0 && hi > 0)
            p.y.lo = 0;
    }
    fprintf(f, "<svg class=\"plot\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"Pareto frontier\" "
               "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif\">\n",
            PW, PH);
    draw_axes(&p, xtitle,
              p.y.log ? "Total &#937; (Hessian-weighted perturbation, log scale)"
                      : "Total &#937; (Hessian-weighted perturbation)");
    LegendItem leg[4];
    int nleg = 0;
    leg[nleg++] = (LegendItem){LEG_LINE_DOT, C_FRONTIER, "Pareto frontier"};
    if (pg->in->nuniform > 0)
        leg[nleg++] = (LegendItem){LEG_DIAMOND, C_UNIFORM, "uniform precision"};
    if (pg->ch)
        leg[nleg++] = (LegendItem){LEG_CHOSEN, C_CHOSEN, "chosen point"};
    if (isfinite(pg->budget))
        leg[nleg++] = (LegendItem){LEG_DASHED, C_BUDGET, "budget"};
    draw_legend(&p, leg, nleg, 1);
    if (isfinite(pg->budget)) {
        char b[64];
        budget_label(pg, b, sizeof b);
        draw_budget(&p, pg->budget, b);
    }
    /* the step line: a point's Omega holds until the next point's cost */
    fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\" stroke-linejoin=\"round\" d=\"", C_FRONTIER);
    int started = 0;
    for (int i = 0; i < pg->fr->npoints; i++) {
        const FrontierPoint *q = &pg->fr->points[i];
        if (!isfinite(q->cost) || !isfinite(q->omega))
            continue;
        double x = axis_px(&p.x, q->cost / pg->xdiv), y = axis_px(&p.y, q->omega);
        if (!started)
            fprintf(f, "M%.1f %.1f", x, y);
        else
            fprintf(f, "H%.1fV%.1f", x, y);
        started = 1;
    }
    if (started)
        fprintf(f, "H%.1f", PR);
    fputs("\"/>\n", f);
    int npts = pg->fr->npoints;
    /* many points: small plain dots, so the line stays a line */
    if (npts > 60)
        fprintf(f, "<g fill=\"%s\">\n", C_FRONTIER);
    for (int i = 0; i < npts; i++) {
        const FrontierPoint *q = &pg->fr->points[i];
        if (!isfinite(q->cost) || !isfinite(q->omega))
            continue;
        double x = axis_px(&p.x, q->cost / pg->xdiv), y = axis_px(&p.y, q->omega);
        if (npts > 60)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"/>\n", x, y, npts > 200 ? 2.0 : 2.6);
        else
            dot(f, x, y, 4, C_FRONTIER);
        take(&p, (Box){x - 3, y - 3, x + 3, y + 3});
    }
    if (npts > 60)
        fputs("</g>\n", f);
    Mark *uni = calloc((size_t)pg->in->nuniform + 1, sizeof *uni);
    if (!uni)
        return;
    for (int i = 0; i < pg->in->nuniform; i++) {
        const ReportPoint *u = &pg->in->uniform[i];
        uni[i].x = NAN;
        if (isfinite(u->cost) && isfinite(u->omega))
            uni[i] = (Mark){axis_px(&p.x, u->cost / pg->xdiv), axis_px(&p.y, u->omega), u->label};
    }
    Mark ch = {NAN, NAN, "chosen"};
    if (pg->ch && isfinite((*pg->ch).cost) && isfinite((*pg->ch).omega))
        ch.x = axis_px(&p.x, (*pg->ch).cost / pg->xdiv),
        ch.y = axis_px(&p.y, (*pg->ch).omega);
    draw_marks(&p, uni, pg->in->nuniform, isnan(ch.x) ? NULL : &ch);
    free(uni);
    fputs("</svg>\n", f);
}

/* Plot 2: cost vs measured accuracy. */
static void plot_accuracy(const Page *pg)
{
    FILE *f = pg->f;
    Plot p = {.f = f};
    char xtitle[128];
    x_axis(pg, &p.x, xtitle, sizeof xtitle);
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < pg->fr->npoints; i++)
        if (isfinite(facc(pg, i)))
            lo = fmin(lo, facc(pg, i)), hi = fmax(hi, facc(pg, i));
    for (int i = 0; i < pg->in->nuniform; i++)
        if (isfinite(pg->in->uniform[i].accuracy))
            lo = fmin(lo, pg->in->uniform[i].accuracy), hi = fmax(hi, pg->in->uniform[i].accuracy);
    if (isfinite(pg->in->float_accuracy))
        lo = fmin(lo, pg->in->float_accuracy), hi = fmax(hi, pg->in->float_accuracy);
    if (!(lo <= hi))
        lo = 0, hi = 1;
    lo *= 100, hi *= 100;
    axis_linear(&p.y, lo, hi, 0.08, PB, PT);
    p.y.hi += 0.08 * (p.y.hi - p.y.lo); /* room for labels above the float line */
    if (p.y.lo < 0 && lo >= 0)
        p.y.lo = 0;
    if (p.y.hi > 100 && hi <= 100)
        p.y.hi = 100 + (p.y.hi - p.y.lo) * 0.02;
    fprintf(f, "<svg class=\"plot\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"Accuracy\" "
               "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif\">\n",
            PW, PH);
    draw_axes(&p, xtitle, "Measured accuracy (%)");
    LegendItem leg[5];
    int nleg = 0;
    leg[nleg++] = (LegendItem){LEG_LINE_DOT, C_FRONTIER, "frontier points (sampled)"};
    int nuacc = 0;
    for (int i = 0; i < pg->in->nuniform; i++)
        nuacc += isfinite(pg->in->uniform[i].accuracy) != 0;
    if (nuacc)
        leg[nleg++] = (LegendItem){LEG_DIAMOND, C_UNIFORM, "uniform precision"};
    int chosen_measured = pg->ch && isfinite(pg->ch_acc);
    if (chosen_measured)
        leg[nleg++] = (LegendItem){LEG_CHOSEN, C_CHOSEN, "chosen point"};
    if (isfinite(pg->in->float_accuracy))
        leg[nleg++] = (LegendItem){LEG_DASHED, C_FLOAT, "float model"};
    if (isfinite(pg->budget))
        leg[nleg++] = (LegendItem){LEG_DASHED, C_BUDGET, "budget"};
    draw_legend(&p, leg, nleg, 0);
    if (isfinite(pg->budget)) {
        char b[64];
        budget_label(pg, b, sizeof b);
        draw_budget(&p, pg->budget, b);
    }
    if (isfinite(pg->in->float_accuracy)) {
        double y = axis_px(&p.y, 100 * pg->in->float_accuracy);
        char a[32];
        fmt_pct(a, sizeof a, pg->in->float_accuracy);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\" "
                "stroke-dasharray=\"7 5\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"3\" "
                "paint-order=\"stroke\">float %s</text>\n",
                PL, y, PR, y, C_FLOAT, PL + 8, y - 6, C_FLOAT, a);
        take(&p, (Box){PL + 8, y - 18, PL + 8 + 7.0 * (6 + strlen(a)), y - 2});
        take(&p, (Box){PL, y - 2, PR, y + 2});
    }
    fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" stroke-opacity=\"0.7\" d=\"", C_FRONTIER);
    int started = 0;
    for (int i = 0; i < pg->fr->npoints; i++) {
        double a = facc(pg, i), c = pg->fr->points[i].cost / pg->xdiv;
        if (!isfinite(a) || !isfinite(c))
            continue;
        fprintf(f, "%s%.1f %.1f", started ? "L" : "M", axis_px(&p.x, c), axis_px(&p.y, 100 * a));
        started = 1;
    }
    fputs("\"/>\n", f);
    for (int i = 0; i < pg->fr->npoints; i++) {
        double a = facc(pg, i), c = pg->fr->points[i].cost / pg->xdiv;
        if (!isfinite(a) || !isfinite(c))
            continue;
        double x = axis_px(&p.x, c), y = axis_px(&p.y, 100 * a);
        dot(f, x, y, 4.5, C_FRONTIER);
        take(&p, (Box){x - 5, y - 5, x + 5, y + 5});
    }
    Mark *uni = calloc((size_t)pg->in->nuniform + 1, sizeof *uni);
    if (!uni)
        return;
    for (int i = 0; i < pg->in->nuniform; i++) {
        const ReportPoint *u = &pg->in->uniform[i];
        uni[i].x = NAN;
        if (isfinite(u->cost) && isfinite(u->accuracy))
            uni[i] = (Mark){axis_px(&p.x, u->cost / pg->xdiv), axis_px(&p.y, 100 * u->accuracy), u->label};
    }
    char a[32], lab[64];
    Mark ch = {NAN, NAN, lab};
    if (chosen_measured) {
        fmt_pct(a, sizeof a, pg->ch_acc);
        snprintf(lab, sizeof lab, "chosen %s", a);
        ch.x = axis_px(&p.x, (*pg->ch).cost / pg->xdiv);
        ch.y = axis_px(&p.y, 100 * pg->ch_acc);
    }
    draw_marks(&p, uni, pg->in->nuniform, isnan(ch.x) ? NULL : &ch);
    free(uni);
    fputs("</svg>\n", f);
}

static const char CSS[] =
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:#f3f4f6;color:#111827;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,"
    "Helvetica,Arial,sans-serif}\n"
    "main{max-width:1140px;margin:0 auto;padding:28px 24px 48px}\n"
    "h1{font-size:26px;margin:0 0 2px;font-weight:700;letter-spacing:-0.01em}\n"
    "h2{font-size:18px;margin:0 0 4px;font-weight:650}\n"
    ".meta{display:flex;flex-wrap:wrap;gap:6px 22px;color:#374151;margin:6px 0 18px;font-size:14px}\n"
    ".meta b{color:#6b7280;font-weight:600;text-transform:uppercase;font-size:11px;letter-spacing:.05em;"
    "margin-right:4px}\n"
    ".note{color:#6b7280;font-size:13px;margin:0 0 12px}\n"
    "section{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:18px 20px;margin:0 0 20px;"
    "box-shadow:0 1px 2px rgba(0,0,0,.04)}\n"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(165px,1fr));gap:12px;margin:0 0 20px}\n"
    ".card{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:12px 14px}\n"
    ".card .k{font-size:12px;color:#6b7280;text-transform:uppercase;letter-spacing:.04em}\n"
    ".card .v{font-size:22px;font-weight:650;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    ".card .u{font-size:13px;font-weight:500;color:#4b5563}\n"
    ".card .d{font-size:12px;color:#6b7280;overflow-wrap:anywhere}\n"
    ".card.hl{border-color:#fca5a5;background:#fef2f2}\n"
    "svg.plot{width:100%;height:auto;display:block}\n"
    ".tw{overflow-x:auto}\n"
    "table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}\n"
    "th,td{padding:5px 7px;border-bottom:1px solid #eef0f3;text-align:right;white-space:nowrap}\n"
    "th{background:#f9fafb;color:#374151;font-weight:600;position:sticky;top:0}\n"
    "td.l,th.l{text-align:left}\n"
    "td.name{max-width:260px;overflow:hidden;text-overflow:ellipsis}\n"
    "tbody tr:nth-child(even){background:#fafafa}\n"
    "tr.sel{background:#fef2f2!important;font-weight:600}\n"
    "tr.tot td{border-top:2px solid #d1d5db;font-weight:650}\n"
    "tr.base td{color:#6b7280}\n"
    ".bt{display:inline-block;width:56px;height:8px;background:#eef2f7;border-radius:2px;vertical-align:middle;"
    "margin-right:8px;text-align:left}\n"
    ".bar{display:block;height:8px;background:#60a5fa;border-radius:2px}\n"
    ".tag{display:inline-block;font-size:11px;padding:0 6px;border-radius:9px;background:#fee2e2;color:#b91c1c;"
    "margin-left:6px;font-weight:600}\n"
    ".fmt{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}\n"
    ".tie{color:#6b7280;font-size:11px;margin-left:4px}\n"
    ".two{display:grid;grid-template-columns:1fr 1fr;gap:20px}\n"
    "@media (max-width:800px){.two{grid-template-columns:1fr}}\n"
    "footer{color:#9ca3af;font-size:12px;text-align:center}\n";

static void card(FILE *f, const char *cls, const char *key, const char *value_html, const char *unit,
                 const char *detail_html)
{
    fprintf(f, "<div class=\"card%s\"><div class=\"k\">%s</div><div class=\"v\">%s", cls, key, value_html);
    if (unit && *unit)
        fprintf(f, " <span class=\"u\">%s</span>", unit);
    fputs("</div>", f);
    if (detail_html && *detail_html)
        fprintf(f, "<div class=\"d\">%s</div>", detail_html);
    fputs("</div>\n", f);
}

/* One "key value" item of the line under the title; the value is user text. */
static void meta(FILE *f, const char *key, const char *text, const char *extra_html)
{
    fprintf(f, "<span><b>%s</b> ", key);
    html_text(f, text);
    if (extra_html)
        fputs(extra_html, f);
    fputs("</span>\n", f);
}

static void header(const Page *pg)
{
    FILE *f = pg->f;
    const ReportInput *in = pg->in;
    char v[128], u[64], d[192];
    fputs("<h1>Precision search report</h1>\n<div class=\"meta\">\n", f);
    meta(f, "model", in->model ? in->model : "?", NULL);
    meta(f, "target", in->target ? in->target : "?", NULL);
    if (isfinite(in->budget)) {
        char lim[160];
        fmt_cost(v, sizeof v, in->budget, pg->kind, pg->params);
        snprintf(lim, sizeof lim, in->budget_text ? " (limit %s)" : "limit %s", v);
        meta(f, "budget", in->budget_text ? in->budget_text : "", lim);
    } else {
        meta(f, "budget", in->budget_text ? in->budget_text : "none", NULL);
    }
    if (in->policy)
        meta(f, "policy", in->policy, NULL);
    snprintf(d, sizeof d, "%d point%s over %s", pg->fr->npoints, pg->fr->npoints == 1 ? "" : "s",
             cost_kind_name(pg->kind));
    meta(f, "frontier", d, NULL);
    fputs("</div>\n<div class=\"cards\">\n", f);
    if (pg->ch) {
        const FrontierPoint *q = &(*pg->ch);
        double tot[COST_COUNT], omega;
        search_totals(pg->s, q->choice, tot, &omega);
        fmt_cost2(v, sizeof v, u, sizeof u, q->cost, pg->kind, pg->params);
        card(f, " hl", "chosen cost", v, u, pg->ch_name);
        fmt_real(v, sizeof v, q->omega);
        d[0] = 0;
        if (q->objective != q->omega && isfinite(q->objective)) {
            char o[64];
            fmt_real(o, sizeof o, q->objective);
            snprintf(d, sizeof d, "policy objective %s", o);
        }
        card(f, " hl", "chosen total &#937;", v, NULL, d);
        if (isfinite(pg->ch_acc)) {
            fmt_pct(v, sizeof v, pg->ch_acc);
            d[0] = 0;
            if (isfinite(in->float_accuracy))
                snprintf(d, sizeof d, "%+.2f points vs float", 100 * (pg->ch_acc - in->float_accuracy));
            card(f, " hl", "chosen accuracy", v, NULL, d);
        }
        if (isfinite(in->float_accuracy)) {
            fmt_pct(v, sizeof v, in->float_accuracy);
            card(f, "", "float accuracy", v, NULL, "the unquantized model");
        }
        /* the other costs of the chosen point, predicted */
        for (int k = 0; k < COST_COUNT; k++) {
            if (k == (int)pg->kind || k == COST_BOPS || k == COST_RAM || (k == COST_BITS && pg->params <= 0))
                continue;
            char key[64];
            snprintf(key, sizeof key, "%s%s", k == COST_BITS ? "weight bits" : cost_kind_name((CostKind)k),
                     k == COST_RAM ? " (peak layer)" : "");
            fmt_cost2(v, sizeof v, u, sizeof u, tot[k], (CostKind)k, pg->params);
            card(f, "", key, v, u, "predicted");
        }
    } else {
        card(f, "", "chosen point", "none", NULL, "no point within the budget");
        if (isfinite(in->float_accuracy)) {
            fmt_pct(v, sizeof v, in->float_accuracy);
            card(f, "", "float accuracy", v, NULL, "the unquantized model");
        }
    }
    fputs("</div>\n", f);
}

static void layer_table(const Page *pg)
{
    FILE *f = pg->f;
    const SearchSpace *s = pg->s;
    const int *choice = (*pg->ch).choice;
    double tot[COST_COUNT], omega;
    search_totals(s, choice, tot, &omega);
    double omax = 0;
    for (int i = 0; i < s->nlayers; i++) {
        double o = s->layers[i].cand[choice[i]].omega;
        if (isfinite(o) && o > omax)
            omax = o;
    }
    fputs("<section>\n<h2>Chosen assignment, layer by layer</h2>\n"
          "<p class=\"note\">&#937; = trace/params &#215; |Q(W) &#8722; W|&#178; (+ the activation term); "
          "flash and instructions are the cost model's predictions for the target.</p>\n<div class=\"tw\"><table>\n"
          "<thead><tr><th>#</th><th class=\"l\">layer</th><th class=\"l\">op</th><th>params</th><th>MACs</th>"
          "<th>trace/params</th><th class=\"l\">weights</th><th>act bits</th><th class=\"l\">kernel</th>"
          "<th>&#937;</th><th>flash (B)</th><th>instructions</th><th>bits</th></tr></thead>\n<tbody>\n",
          f);
    double sum_macs = 0;
    for (int i = 0; i < s->nlayers; i++) {
        const SearchLayer *L = &s->layers[i];
        const Candidate *c = &L->cand[choice[i]];
        char a[64], b[64], t[64], o[64], fl[64], in[64], bi[64];
        fmt_count(a, sizeof a, (double)L->params);
        fmt_count(b, sizeof b, (double)L->macs);
        sum_macs += (double)L->macs;
        fmt_real(t, sizeof t, L->params > 0 ? L->trace / (double)L->params : NAN);
        fmt_real(o, sizeof o, c->omega);
        fmt_count(fl, sizeof fl, c->cost[COST_FLASH]);
        fmt_count(in, sizeof in, c->cost[COST_INSTRUCTIONS]);
        fmt_count(bi, sizeof bi, c->cost[COST_BITS]);
        fprintf(f, "<tr><td>%d</td><td class=\"l name\">", i);
        html_text(f, L->name ? L->name : "");
        if (L->group != i && L->group >= 0 && L->group < s->nlayers) {
            fputs("<span class=\"tie\">tied to ", f);
            html_text(f, s->layers[L->group].name ? s->layers[L->group].name : "");
            fputs("</span>", f);
        }
        fputs("</td><td class=\"l\">", f);
        html_text(f, L->op ? L->op : "");
        double w = omax > 0 && isfinite(c->omega) && c->omega > 0 ? 100.0 * c->omega / omax : 0;
        fprintf(f,
                "</td><td>%s</td><td>%s</td><td>%s</td><td class=\"l fmt\">%s</td><td>%d</td><td class=\"l\">%s</td>"
                "<td><span class=\"bt\"><span class=\"bar\" style=\"width:%.1f%%\"></span></span>%s</td>"
                "<td>%s</td><td>%s</td><td>%s</td></tr>\n",
                a, b, t, (unsigned)c->weights < WF_COUNT ? fmt_name(c->weights) : "?", c->act_bits,
                ir_kernel_name(c->kernel), w, o, fl, in, bi);
    }
    char a[64], b[64], o[64], fl[64], in[64], bi[64];
    fmt_count(fl, sizeof fl, s->base.flash);
    fmt_count(in, sizeof in, s->base.instructions);
    fprintf(f,
            "<tr class=\"base\"><td></td><td class=\"l\" colspan=\"9\">rest of the model (pools, adds, runtime)</td>"
            "<td>%s</td><td>%s</td><td></td></tr>\n",
            fl, in);
    fmt_count(a, sizeof a, (double)s->params);
    fmt_count(b, sizeof b, sum_macs);
    fmt_real(o, sizeof o, omega);
    fmt_count(fl, sizeof fl, tot[COST_FLASH]);
    fmt_count(in, sizeof in, tot[COST_INSTRUCTIONS]);
    fmt_count(bi, sizeof bi, tot[COST_BITS]);
    fprintf(f,
            "</tbody>\n<tfoot><tr class=\"tot\"><td></td><td class=\"l\">total</td><td></td><td>%s</td><td>%s</td>"
            "<td></td><td></td><td></td><td></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
            "</tfoot>\n</table></div>\n",
            a, b, o, fl, in, bi);
    char ram[64], bops[64];
    fmt_cost(ram, sizeof ram, tot[COST_RAM], COST_RAM, 0);
    fmt_cost(bops, sizeof bops, tot[COST_BOPS], COST_BOPS, 0);
    fprintf(f, "<p class=\"note\" style=\"margin:10px 0 0\">");
    if (s->params > 0)
        fprintf(f, "Average weight bits %.3f; ", tot[COST_BITS] / (double)s->params);
    fprintf(f, "peak layer RAM %s; %s.</p>\n", ram, bops);
    fputs("</section>\n", f);
}

static void frontier_table(const Page *pg)
{
    FILE *f = pg->f;
    int n = pg->fr->npoints;
    /* which rows: all, or the ends, the chosen, the measured and an even spread */
    char *show = calloc((size_t)n, 1);
    if (!show)
        return;
    int shown = 0;
    if (n <= MAX_ROWS) {
        memset(show, 1, (size_t)n);
        shown = n;
    } else {
        show[0] = show[n - 1] = 1;
        if (pg->ch_index >= 0)
            show[pg->ch_index] = 1;
        for (int i = 0; i < n; i++)
            if (isfinite(facc(pg, i)))
                show[i] = 1;
        for (int k = 0; k < 16; k++)
            show[(int)((double)k * (n - 1) / 15 + 0.5)] = 1;
        for (int i = 0; i < n; i++)
            shown += show[i];
    }
    fputs("<div><h2>Frontier points</h2>\n", f);
    if (shown < n)
        fprintf(f, "<p class=\"note\">%d of %d points: the ends, the chosen point,%s an even spread.</p>\n", shown, n,
                pg->any_accuracy ? " the measured points and" : " and");
    else
        fprintf(f, "<p class=\"note\">Ascending cost; every point has less &#937; than all cheaper ones.</p>\n");
    fprintf(f, "<div class=\"tw\"><table>\n<thead><tr><th>#</th><th>cost</th><th>&#937;</th>%s</tr></thead>\n<tbody>\n",
            pg->any_accuracy ? "<th>accuracy</th>" : "");
    for (int i = 0; i < n; i++) {
        if (!show[i])
            continue;
        const FrontierPoint *q = &pg->fr->points[i];
        char c[96], o[64], a[64];
        fmt_cost(c, sizeof c, q->cost, pg->kind, pg->params);
        fmt_real(o, sizeof o, q->omega);
        fmt_pct(a, sizeof a, facc(pg, i));
        fprintf(f, "<tr%s><td>%d%s</td><td>%s</td><td>%s</td>", i == pg->ch_index ? " class=\"sel\"" : "", i,
                i == pg->ch_index ? "<span class=\"tag\">chosen</span>" : "", c, o);
        if (pg->any_accuracy)
            fprintf(f, "<td>%s</td>", a);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div></div>\n", f);
    free(show);
}

static void uniform_table(const Page *pg)
{
    FILE *f = pg->f;
    fputs("<div><h2>Uniform precision</h2>\n<p class=\"note\">Every layer in the same weight format, for "
          "comparison.</p>\n",
          f);
    if (pg->in->nuniform <= 0 || !pg->in->uniform) {
        fputs("<p class=\"note\">None computed.</p></div>\n", f);
        return;
    }
    fprintf(f, "<div class=\"tw\"><table>\n<thead><tr><th class=\"l\">format</th><th>cost</th><th>&#937;</th>%s</tr>"
               "</thead>\n<tbody>\n",
            pg->any_accuracy ? "<th>accuracy</th>" : "");
    for (int i = 0; i < pg->in->nuniform; i++) {
        const ReportPoint *u = &pg->in->uniform[i];
        char c[96], o[64], a[64];
        fmt_cost(c, sizeof c, u->cost, pg->kind, pg->params);
        fmt_real(o, sizeof o, u->omega);
        fmt_pct(a, sizeof a, u->accuracy);
        fputs("<tr><td class=\"l fmt\">", f);
        html_text(f, u->label ? u->label : "");
        fprintf(f, "</td><td>%s</td><td>%s</td>", c, o);
        if (pg->any_accuracy)
            fprintf(f, "<td>%s</td>", a);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div></div>\n", f);
}

static void page(const Page *pg)
{
    FILE *f = pg->f;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>shiftc precision report: ",
          f);
    html_text(f, pg->in->model ? pg->in->model : "model");
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", CSS);
    header(pg);
    if (pg->fr->npoints <= 0) {
        fputs("<section><p>The frontier is empty: nothing to plot.</p></section>\n", f);
    } else {
        fputs("<section>\n<h2>Pareto frontier: cost vs total &#937;</h2>\n<p class=\"note\">Each point is an "
              "assignment of precisions no other assignment beats in both cost and &#937;; the line shows the "
              "least &#937; reachable at each cost.</p>\n",
              f);
        plot_frontier(pg);
        fputs("</section>\n", f);
        if (pg->any_accuracy) {
            fputs("<section>\n<h2>Cost vs measured accuracy</h2>\n<p class=\"note\">Accuracy of the integer "
                  "simulator on the evaluation data at a sample of frontier points.</p>\n",
                  f);
            plot_accuracy(pg);
            fputs("</section>\n", f);
        }
        if (pg->ch)
            layer_table(pg);
        fputs("<section class=\"two\">\n", f);
        frontier_table(pg);
        uniform_table(pg);
        fputs("</section>\n", f);
    }
    fputs("<footer>written by shiftc</footer>\n</main>\n</body>\n</html>\n", f);
}

/* mkdir -p */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (!p) {
        snprintf(err, errlen, "%s: out of memory", dir);
        return -1;
    }
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0)
            continue;
        char c = p[i];
        p[i] = 0;
        struct stat st;
        if (stat(p, &st) != 0) {
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "%s: cannot create directory: %s", p, strerror(errno));
                free(p);
                return -1;
            }
        } else if (!S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s: not a directory", p);
            free(p);
            return -1;
        }
        p[i] = c;
    }
    free(p);
    return 0;
}

int report_write(const char *dir, const ReportInput *in, char *err, size_t errlen)
{
    if (!dir || !*dir || !in || !in->frontier) {
        snprintf(err, errlen, "report: %s", !dir || !*dir ? "no directory given" : "nothing to report");
        return -1;
    }
    Page pg = {0};
    pg.in = in;
    pg.s = in->space;
    pg.fr = in->frontier;
    pg.kind = in->frontier->kind < COST_COUNT ? in->frontier->kind : COST_FLASH;
    pg.params = in->space ? in->space->params : 0;
    pg.ch_acc = NAN;
    pg.ch_index = -1;
    if (in->chosen >= 0 && in->chosen < pg.fr->npoints && valid_choice(pg.s, pg.fr->points[in->chosen].choice))
        pg.ch_index = in->chosen;
    if (in->applied && valid_choice(pg.s, in->applied->choice)) {
        pg.ch = in->applied;
        pg.ch_acc = in->applied_accuracy;
        snprintf(pg.ch_name, sizeof pg.ch_name, "%s", in->applied_label ? in->applied_label : "off the frontier");
    } else if (pg.ch_index >= 0) {
        pg.ch = &pg.fr->points[in->chosen];
        pg.ch_acc = facc(&pg, in->chosen);
        snprintf(pg.ch_name, sizeof pg.ch_name, "frontier point %d of %d", in->chosen, pg.fr->npoints);
    }
    pg.xdiv = pg.kind == COST_BITS && pg.params > 0 ? (double)pg.params : 1;
    pg.budget = isfinite(in->budget) ? in->budget / pg.xdiv : NAN;
    ReportInput fixed = *in;
    if (!fixed.uniform || fixed.nuniform < 0)
        fixed.nuniform = 0;
    pg.in = &fixed;
    for (int i = 0; i < pg.fr->npoints; i++)
        pg.any_accuracy |= isfinite(facc(&pg, i)) != 0;
    for (int i = 0; i < fixed.nuniform; i++)
        pg.any_accuracy |= isfinite(fixed.uniform[i].accuracy) != 0;
    if (make_dirs(dir, err, errlen) != 0)
        return -1;
    size_t n = strlen(dir) + sizeof "/index.html";
    char *path = malloc(n);
    if (!path) {
        snprintf(err, errlen, "%s: out of memory", dir);
        return -1;
    }
    snprintf(path, n, "%s/index.html", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    pg.f = f;
    page(&pg);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    free(path);
    return 0;
}
