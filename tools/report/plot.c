// gnuplot driven through a script file: the data go inline as named blocks ($d0 << EOD), the SVG comes back on
// gnuplot's stdout. Titles and legend entries are written as gnuplot strings with enhanced text off, so no name
// can inject a command or a markup code.
#include "tools/report/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"

// A colour per line, from a palette whose neighbours stay apart for colour-blind readers (Okabe and Ito's).
static const char *const COLOURS[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                                      "#56B4E9", "#000000", "#F0E442"};
#define N_COLOURS (int)(sizeof COLOURS / sizeof *COLOURS)

void plot_add(plot_figure *f, const char *name, int n, const double *x, const double *y, const double *lo,
              const double *hi, int dashed) {
    if (f->n_lines >= PLOT_MAX_LINES) return;
    f->lines[f->n_lines++] = (plot_line){name, n, x, y, lo, hi, dashed};
}

// s as a double-quoted gnuplot string: backslash and quote escaped, control characters dropped.
static void put_string(FILE *g, const char *s) {
    fputc('"', g);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', g);
        if ((unsigned char)*s >= 32) fputc(*s, g);
    }
    fputc('"', g);
}

static void put_number(FILE *g, double v) {
    if (isfinite(v)) fprintf(g, " %.9g", v);
    else fputs(" NaN", g);
}

// Writes the script; returns the number of points drawn.
static long write_script(FILE *g, const plot_figure *f, int width, int height) {
    fprintf(g, "set terminal svg size %d,%d dynamic font \"DejaVu Sans,11\" background rgb \"white\"\n", width,
            height);
    fputs("set encoding utf8\nset grid lc rgb \"#dddddd\"\nset key outside right top noenhanced\n"
          "set datafile missing NaN\nset border 3\nset tics nomirror\n", g);
    fputs("set title ", g), put_string(g, f->title), fputs(" noenhanced\n", g);
    fputs("set xlabel ", g), put_string(g, f->xlabel), fputs(" noenhanced\n", g);
    fputs("set ylabel ", g), put_string(g, f->ylabel), fputs(" noenhanced\n", g);
    if (f->logy) fputs("set logscale y\n", g);
    long points = 0;
    for (int l = 0; l < f->n_lines; l++) {
        const plot_line *L = &f->lines[l];
        fprintf(g, "$d%d << EOD\n", l);
        for (int i = 0; i < L->n; i++) {
            put_number(g, L->x[i]), put_number(g, L->y[i]);
            if (L->lo) put_number(g, L->lo[i]), put_number(g, L->hi[i]);
            fputc('\n', g);
            points += isfinite(L->y[i]) && isfinite(L->x[i]) && !(f->logy && L->y[i] <= 0);
        }
        fputs("EOD\n", g);
    }
    fputs("plot ", g);
    for (int l = 0; l < f->n_lines; l++) {
        const plot_line *L = &f->lines[l];
        const char *colour = COLOURS[l % N_COLOURS];
        if (L->lo)
            fprintf(g, "$d%d using 1:3:4 with filledcurves lc rgb \"%s\" fs transparent solid 0.18 noborder notitle, ",
                    l, colour);
        fprintf(g, "$d%d using 1:2 with %s lw %s lc rgb \"%s\"%s title ", l, L->n == 1 ? "points pt 7" : "lines",
                L->dashed ? "1.5" : "2", colour, L->dashed ? " dt 2" : "");
        put_string(g, L->name);
        fputs(l + 1 < f->n_lines ? ", " : "\n", g);
    }
    return points;
}

char *plot_svg(const plot_figure *f, int width, int height, char *why, size_t why_size) {
    if (!f->n_lines) return snprintf(why, why_size, "no data to draw"), NULL;
    char script[] = "/tmp/migrate-plot-XXXXXX";
    int fd = mkstemp(script);
    if (fd < 0) return snprintf(why, why_size, "cannot make a temporary file for gnuplot"), NULL;
    FILE *g = fdopen(fd, "w");
    mgCheck(g != NULL, "fdopen of a new temporary file");
    long points = write_script(g, f, width, height);
    int wrote = !ferror(g);
    fclose(g);
    if (!points || !wrote) {
        unlink(script);
        return snprintf(why, why_size, points ? "cannot write gnuplot's script" : "no data to draw"), NULL;
    }
    const char *prog = getenv("MIGRATE_GNUPLOT");
    if (!prog || !*prog) prog = "gnuplot";
    char cmd[4400];
    // prog comes from the user's environment and is meant to be run; the script name is ours (no quoting needed)
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", prog, script);
    FILE *p = popen(cmd, "r");
    size_t n = 0, cap = 1 << 16;
    char *out = mallocCheck(cap);
    if (p) {
        size_t k;
        while ((k = fread(out + n, 1, cap - n - 1, p)) > 0)
            if ((n += k) + 1 == cap) out = reallocCheck(out, cap *= 2);
    }
    out[n] = 0;
    int status = p ? pclose(p) : -1;
    unlink(script);
    char *svg = strstr(out, "<svg");
    if (status != 0 || !svg || !strstr(svg, "</svg>")) {
        if (status == -1 || (WIFEXITED(status) && WEXITSTATUS(status) == 127))
            snprintf(why, why_size, "gnuplot not found ('%s'): install Debian's gnuplot-nox to draw figures", prog);
        else {
            char *nl = strchr(out, '\n');
            if (nl && !svg) *nl = 0;
            snprintf(why, why_size, "gnuplot failed (status %d): %.200s", status, svg ? "incomplete SVG" : out);
        }
        free(out);
        return NULL;
    }
    memmove(out, svg, strlen(svg) + 1);
    return out;
}
