// `migrate report`: what runs, sweeps, ablations, PMO grids and checkpoints wrote, read into one model of runs
// (report_load.c), drawn as figures by gnuplot (plot.c, report_figures.c) and laid out as one self-contained HTML
// page (report_html.c). Anything that cannot be read is kept as a note and named on the page, never fatal.
#pragma once
#include <stddef.h>
#include <string.h>

#define REPORT_TEXT 512
#define REPORT_MAX_NOTES 256

// src into dst[size], cut to fit (names and notes in the page, where a cut is harmless).
static inline void report_copy(char *dst, size_t size, const char *src) {
    size_t n = strlen(src);
    if (n >= size) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

// A step function or a sampled curve: y at x, x increasing.
typedef struct {
    double *x, *y;
    int n, cap;
} report_curve;

void report_curve_add(report_curve *c, double x, double y);
void report_curve_free(report_curve *c);
// y at x of a step function (the last point at or before x; NAN before the first point).
double report_curve_at(const report_curve *c, double x);

// Median, min and max of the finite values of v[0..n) (v is reordered); all NAN when there are none.
void report_spread(double *v, int n, double *med, double *lo, double *hi);

// The per-iteration columns of metrics.jsonl a report draws (report_metrics.c names their keys).
enum {
    RM_ITERATION, RM_ORACLE_CALLS, RM_REWARD, RM_REWARD_ON_POLICY, RM_REWARD_GREEDY, RM_REWARD_NEIGHBORHOOD,
    RM_REWARD_OPRO, RM_BEST_REWARD, RM_LOSS, RM_KL, RM_ENTROPY, RM_GRAD_NORM, RM_CLIP_LOW, RM_CLIP_HIGH,
    RM_CLIP_REGION, RM_MEAN_LENGTH, RM_TOKENS_PER_SECOND, RM_REPEATS, RM_SEMANTLE_RANK,
    RM_NEW_CALLS,  // derived: oracle calls this iteration, i.e. distinct new candidates (a collapsing policy's fall)
    RM_COUNT
};
extern const char *const report_metric_keys[RM_COUNT];

// One metrics.jsonl, column-wise: col[k][i] is metric k at line i (NAN where the line lacks it).
typedef struct {
    int n, cap;
    double *col[RM_COUNT];
    char best[REPORT_TEXT];  // the last line's best solution and the task's note on it
    char best_info[128];
    int solved;
} report_metrics;

// Parses metrics.jsonl text. Lines that are not JSON objects are skipped; the first one is described in note
// ("metrics.jsonl line 7: not JSON (a run killed mid-line?): dropped"), note[0] = 0 when every line parsed.
void report_metrics_parse(report_metrics *m, const char *text, size_t len, const char *name, char *note,
                          size_t note_size);
void report_metrics_free(report_metrics *m);

typedef enum { RK_UNKNOWN = 0, RK_SEMANTLE, RK_MOLECULE, RK_ARC, RK_ORACLE, RK_COUNT } report_kind;
extern const char *const report_kind_names[RK_COUNT];

// One search.
typedef struct {
    char source[1024];   // the folder or file it came from
    char group[256];     // what the figures compare: the strategy, with an ablation's --grid settings
    char problem[256];   // the Semantle target, the PMO task, the ARC task id, ... ("" when not known)
    char seed[32];
    report_kind kind;
    int finished;        // summary.json (or a results row) says the search ended
    int solved;
    long oracle_calls, iterations;
    double best_reward;  // NAN when not known
    double seconds, seconds_sample, seconds_score, seconds_train;  // NAN when not known
    char best[REPORT_TEXT], best_info[128];
    report_curve best_curve;  // best reward so far against oracle calls
    report_curve top10_curve; // PMO: mean of the 10 best valid molecules against valid molecules
    report_curve rank_curve;  // Semantle: rank of the best guess against oracle calls
    report_metrics metrics;   // n = 0 when the source has none
    // ARC: the task file and the run's answers
    char arc_file[1024], arc_id[128], arc_solutions[1024], arc_result[1024];
} report_run;

// A PMO grid's row (pmo.csv).
typedef struct {
    char task[128], strategy[64], seed[32];
    double auc_top10, top10;
} report_pmo_row;

typedef struct {
    report_run *runs;
    int n_runs, cap_runs;
    report_pmo_row *pmo;
    int n_pmo, cap_pmo;
    char *notes[REPORT_MAX_NOTES];  // what could not be read or drawn, one line each
    int n_notes;
    int unfinished;  // runs still going (for --watch)
} report;

// Reads PATH (a run folder, a sweep folder, an ablation or PMO output folder, or a checkpoint .h5) into r.
// Returns the number of runs read; problems become notes (and stderr lines).
int report_load(report *r, const char *path);
void report_note(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void report_free(report *r);

// A CSV file as rows of fields (RFC 4180 quoting). Returns the number of rows (the header included), -1 with
// note set when the file cannot be read. fields[i][j] point into one allocation freed by report_csv_free.
typedef struct {
    char ***rows;  // (n) rows, each NULL-terminated
    int n;
    char *text;
} report_csv;
int report_csv_read(report_csv *c, const char *path, char *note, size_t note_size);
int report_csv_parse(report_csv *c, char *text);  // takes text (malloc'd) over
int report_csv_column(const report_csv *c, const char *name);  // index in the header row, -1 if absent
const char *report_csv_text(char **row, int col);  // the field, "" when the row is shorter or col is -1
double report_csv_number(char **row, int col);     // the field as a number, NAN when empty, absent or not a number
void report_csv_free(report_csv *c);

// The page. Returns 0 when it was written (figures that failed are named on it), -1 with msg when it could not
// be. refresh_seconds > 0 adds a reload tag (--watch).
int report_write_html(report *r, const char *out_path, const char *title, int refresh_seconds, char *msg,
                      size_t msg_size);
