// Figures drawn by gnuplot (Debian's gnuplot-nox) into SVG text the page inlines. gnuplot, not hand-written SVG:
// axes, ticks, legends and bands come from a plotting program that has drawn them well for decades, and it is a
// small package with no runtime of its own for the C program to drive (docs/report.md says why not matplotlib).
// MIGRATE_GNUPLOT names the program (default: gnuplot on PATH).
#pragma once
#include <stddef.h>

#define PLOT_MAX_LINES 16

typedef struct {
    const char *name;  // legend entry
    int n;
    const double *x, *y;     // (n) the line; NAN y values break it
    const double *lo, *hi;   // (n) a band drawn under the line (both NULL: none)
    int dashed;              // a reference level rather than a measurement
} plot_line;

typedef struct {
    const char *title, *xlabel, *ylabel;
    int logy;
    plot_line lines[PLOT_MAX_LINES];
    int n_lines;
} plot_figure;

// Adds a line to f (ignored past PLOT_MAX_LINES). The arrays are read when the figure is drawn, not copied.
void plot_add(plot_figure *f, const char *name, int n, const double *x, const double *y, const double *lo,
              const double *hi, int dashed);

// Draws f. Returns malloc'd SVG text (from "<svg"), or NULL with why set (gnuplot missing, failed, no data).
char *plot_svg(const plot_figure *f, int width, int height, char *why, size_t why_size);
