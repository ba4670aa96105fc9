// The ARC section of the report (report_arc.c): each task's grids, the best run's attempts and program.
#pragma once
#include <stdio.h>

#include "tools/report/report.h"

void report_arc(FILE *f, report *r);
