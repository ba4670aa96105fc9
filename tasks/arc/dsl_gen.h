// Synthetic ARC tasks from random grid-DSL programs (docs/arc-dsl.md, "Generating tasks"): a random well-typed
// straight-line program, random input grids it visibly changes, and the program's outputs, as an ARC task with its
// answer key. For pretraining corpora (prompt -> program), so it is fast and reproducible: task k of seed S is a
// pure function of (S, k) and of the tasks before it (duplicates are redrawn in index order), never of the count,
// the number of threads or timing.
#pragma once
#include <jansson.h>
#include <stdint.h>

#include "common/error.h"
#include "tasks/arc/dsl.h"
#include "tasks/arc/grid.h"

#define ARC_GEN_MAX_PAIRS 16  // train + test pairs of one task

typedef struct {
    int min_lines, max_lines;  // program length, 1 <= min <= max <= ARC_DSL_MAX_LINES (default 1..3)
    int max_side;              // no input side above this, 1..30 (default 30)
    int small_lo, small_hi;    // the favoured sides (default 3..10, clipped to max_side)
    float small_prob;          // chance that a task's grids take their sides from small_lo..small_hi (default 0.85)
    int n_train, n_test;       // pairs per task (default 3 and 1; together at most ARC_GEN_MAX_PAIRS)
    int max_attempts;          // candidates drawn for one task before giving up (default 2000)
} arc_gen_config;

void arc_gen_config_default(arc_gen_config *c);
// One line naming the bad field, e.g. "lines: 0-3: the shortest program has 1 line".
int arc_gen_config_check(const arc_gen_config *c, mg_err *e);

// Why candidates were thrown away (counted over a run).
typedef struct {
    long attempts;       // candidates drawn (accepted ones included)
    long no_program;     // no program of the drawn length could be drawn on the drawn inputs
    long identity;       // every train output equals its input, or a test output does (caught earlier: 0)
    long constant;       // every output is the same grid (caught earlier: 0)
    long line_rejects;   // lines drawn and redrawn: they failed on an input or gave nothing new
    long dup_program;    // same canonical text as an earlier task of the run
    long dup_pairs;      // same pairs as an earlier task of the run
} arc_gen_stats;

typedef struct {
    uint64_t index;                 // k: the task's place in the run
    char id[9];                     // 8 hex characters from (seed, k), distinct for distinct k under one seed
    int attempt;                    // the candidate number that was kept
    int floor_lines;                // the shortest length its candidate could have (see arc_gen_make)
    int lines;                      // program lines
    char text[ARC_DSL_TEXT_MAX];    // canonical program text (arc_dsl_format)
    arc_dsl_program prog;           // the same, parsed from text
    int n_train, n_test;
    arc_grid in[ARC_GEN_MAX_PAIRS], out[ARC_GEN_MAX_PAIRS];  // train pairs, then test pairs
    uint64_t prog_hash, pairs_hash; // duplicate detection
    char *json[4];                  // serialised forms (arc_gen_serialise), malloc'd; NULL when not asked for
} arc_gen_task;

// The generator of one thread: a DSL machine and the primitive table's shapes. Not shared between threads.
typedef struct arc_gen arc_gen;
arc_gen *arc_gen_new(const arc_gen_config *c);
void arc_gen_free(arc_gen *g);

// Whether an earlier task had this hash: kind ARC_GEN_SEEN_PROGRAM (of the canonical text, asked as soon as the
// program is drawn) or ARC_GEN_SEEN_PAIRS (of all the grids, asked last). 1 = a duplicate.
enum { ARC_GEN_SEEN_PROGRAM, ARC_GEN_SEEN_PAIRS };
typedef int (*arc_gen_seen)(uint64_t hash, int kind, void *ctx);

// Draws candidates (seed, index, attempt) for attempt = first_attempt, first_attempt + 1, ... until one passes
// every check that concerns this task alone and `seen` (NULL: none) does not call it a duplicate; t gets it (free
// with arc_gen_task_free). Returns -1 with one line when max_attempts candidates failed. Counts rejections into
// st (may be NULL). A candidate's length is drawn in min_lines..max_lines and raised to floor_lines (0 at first);
// a candidate whose program repeats an earlier task's raises the floor of the next ones to its length + 1 (up to
// max_lines), so that a run whose short programs are used up does not spend most of its time finding that out
// again. To go on from a kept task, pass its attempt + 1 and: its length + 1 when its program was a repeat, else
// its floor_lines.
int arc_gen_make(arc_gen *g, uint64_t seed, uint64_t index, int first_attempt, int floor_lines, arc_gen_seen seen,
                 void *seen_ctx, arc_gen_task *t, arc_gen_stats *st, mg_err *e);
void arc_gen_task_free(arc_gen_task *t);

// The id of task k under seed: a keyed bijection of the low 32 bits of k, printed as 8 hex digits.
void arc_gen_id(uint64_t seed, uint64_t index, char id[9]);

// JSON forms of a task (new references). ARC_GEN_TASK: {"train": [...], "test": [{"input", "output"}]};
// ARC_GEN_CHALLENGE: the same without test outputs (Kaggle challenges entry); ARC_GEN_SOLUTION: [test outputs]
// (Kaggle solutions entry); ARC_GEN_PROGRAM: {"id", "program", "lines"} (a programs.jsonl line).
enum { ARC_GEN_TASK, ARC_GEN_CHALLENGE, ARC_GEN_SOLUTION, ARC_GEN_PROGRAM };
json_t *arc_gen_to_json(const arc_gen_task *t, int form);
// Fills t->json[form] with the one-line text of each form whose bit (1 << form) is set in forms.
void arc_gen_serialise(arc_gen_task *t, unsigned forms);

// A whole run: tasks 0..count-1 of seed, made by `threads` threads, where task k is the first candidate of (seed,
// k) that passes its own checks and repeats neither the program text nor the pairs of a task before it. Tasks are
// handed to emit in index order, one at a time (on one of the run's threads). forms: what arc_gen_serialise
// prepares (on the drawing threads) before emit. emit returning -1 stops the run with its error.
typedef int (*arc_gen_emit)(const arc_gen_task *t, void *ctx, mg_err *e);
int arc_gen_run(const arc_gen_config *c, uint64_t seed, uint64_t count, int threads, unsigned forms,
                arc_gen_emit emit, void *ctx, arc_gen_stats *st, mg_err *e);
