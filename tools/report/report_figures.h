// The report's figure sections (report_figures.c); each writes its <figure> elements into the page, or a line
// saying why there is nothing to draw. Figures gnuplot could not draw become notes of r.
#pragma once
#include <stdio.h>

#include "tools/report/report.h"

void report_figures_begin(void);                   // a new page: figure ids count from 1 again (--watch re-renders)
void report_figures_best(FILE *f, report *r);      // best reward so far against oracle calls
void report_figures_origins(FILE *f, report *r);   // mean reward by sample origin, per group
void report_figures_training(FILE *f, report *r);  // loss, KL, entropy, gradient norm, clip ratios, lengths, speed
void report_figures_semantle(FILE *f, report *r);  // rank of the best guess
void report_figures_pmo(FILE *f, report *r);       // top-10 curves beside the published AUCs

void html_escape(FILE *f, const char *s);
