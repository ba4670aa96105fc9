// migrate arc-gen: synthetic ARC tasks from random grid-DSL programs, with their programs as the answer key
// (tasks/arc/dsl_gen.h; docs/arc-dsl.md, "Generating tasks").
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "tasks/arc/dsl_gen_write.h"
#include "tasks/arc/prompt.h"
#include "tools/cli_common.h"
#include "tools/commands.h"

static const char *HELP =
    "usage: migrate arc-gen --count N [--seed S] [--lines MIN-MAX] [--max-side K] [--sides LO-HI]\n"
    "                       [--small-prob P] [--train N] [--test N] [--threads T]\n"
    "                       [--out DIR] [--combined PREFIX [--per-file N]] [--programs FILE.jsonl]\n"
    "                       [--corpus FILE.jsonl [--neighbors K] [--format digits|colors]] [--quiet]\n"
    "\n"
    "Generates N synthetic ARC tasks, each from a random straight-line program of the grid DSL (docs/arc-dsl.md)\n"
    "run on random input grids. Task k of seed S is the same whatever N and T are (ids: 8 hex digits from S and k).\n"
    "\n"
    "  --count N          tasks to make (required; 1..4294967296)\n"
    "  --seed S           unsigned 64-bit seed (default 0)\n"
    "  --lines MIN-MAX    program lines, drawn uniformly (or one number; 1..32; default 1-3)\n"
    "  --max-side K       largest input side, 1..30 (default 30)\n"
    "  --sides LO-HI      the favoured input sides (default 3-10)\n"
    "  --small-prob P     share of tasks whose inputs take the favoured sides, else 1..K (default 0.85)\n"
    "  --train N          train pairs per task (default 3)\n"
    "  --test N           test pairs per task (default 1; train + test at most 16)\n"
    "  --threads T        worker threads (default 1; the output does not depend on T)\n"
    "  --out DIR          write DIR/<id>.json per task (ARC format, test outputs included) and DIR/programs.jsonl\n"
    "  --combined PREFIX  write PREFIX_challenges.json and PREFIX_solutions.json (Kaggle layout); the programs go\n"
    "                     to PREFIX_programs.jsonl unless --out or --programs says otherwise\n"
    "  --per-file N       with --combined: a new pair of files every N tasks, PREFIX_00000_challenges.json,\n"
    "                     PREFIX_00000_solutions.json, PREFIX_00001_... (default 0: one pair; the task loader\n"
    "                     reads files of up to 256 MiB, about 150000 tasks)\n"
    "  --programs FILE    the answer key, one line {\"id\", \"program\", \"lines\"} per task, in index order\n"
    "  --corpus FILE      also pretraining documents {\"text\": PROMPT + \"\\n```\\n\" + PROGRAM + \"```\"}, one line each:\n"
    "                     the ARC search's grid-language prompt for the task, then its program; and per task K\n"
    "                     neighbourhood prompts around a one-edit variant of the program, then the program\n"
    "                     (docs/arc-demo-model.md)\n"
    "  --neighbors K      neighbourhood documents per task in --corpus (default 1; 0..8)\n"
    "  --format F         grids in the corpus prompts: digits (default) or colors\n"
    "  --quiet            no progress lines on stderr (the closing summary line stays)\n"
    "At least one of --out, --combined, --programs is required. Exit status: 0 done, 1 a run failure, 2 bad options.\n";

#define CMD "arc-gen"

// "A-B" or "A" into lo, hi within [min, max]; prints the one-line error.
static int range_opt(const char *opt, const char *v, int min, int max, int *lo, int *hi) {
    char *end;
    errno = 0;
    long a = strtol(v, &end, 10), b = a;
    if (end != v && *end == '-') {
        const char *s = end + 1;
        b = strtol(s, &end, 10);
        if (end == s) end = (char *)s - 1;  // "3-": not a range
    }
    if (errno || end == v || *end || a < min || b > max || a > b) {
        fprintf(stderr, "migrate " CMD ": option %s: '%s' is not N or MIN-MAX with %d <= MIN <= MAX <= %d\n", opt,
                v, min, max);
        return -1;
    }
    *lo = (int)a, *hi = (int)b;
    return 0;
}

typedef struct {
    arc_gen_writer *w;
    uint64_t count, done;
    double t0, last;
    int quiet, tty;
} progress;

static int emit(const arc_gen_task *t, void *ctx, mg_err *e) {
    progress *p = ctx;
    if (arc_gen_writer_emit(t, p->w, e)) return -1;
    p->done++;
    if (!p->quiet && (p->done & 1023) == 0) {
        double now = mg_seconds();
        if (now - p->last >= 2.0) {
            double rate = (double)p->done / (now - p->t0);
            fprintf(stderr, "%smigrate " CMD ": %llu/%llu tasks, %.0f tasks/s, %.0f s left%s", p->tty ? "\r" : "",
                    (unsigned long long)p->done, (unsigned long long)p->count, rate,
                    (double)(p->count - p->done) / rate, p->tty ? "" : "\n");
            p->last = now;
        }
    }
    return 0;
}

int cmd_arc_gen(int argc, char **argv) {
    arc_gen_config c;
    arc_gen_config_default(&c);
    arc_gen_outputs o = {0};
    unsigned long long seed = 0, count = 0;
    int have_count = 0, threads = 1, quiet = 0, have_neighbors = 0;
    o.neighbors = 1, o.corpus_format = ARC_CELLS_DIGITS;
    int step;
    for (int i = 1; i < argc; i += step) {
        step = 2;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return fputs(HELP, stdout), 0;
        if (!strcmp(a, "--quiet")) {
            quiet = 1, step = 1;
            continue;
        }
        if (strncmp(a, "--", 2))
            return fprintf(stderr, "migrate " CMD ": unexpected argument '%s' (see --help)\n", a), 2;
        if (!v) return fprintf(stderr, "migrate " CMD ": option %s needs a value (see --help)\n", a), 2;
        if (!strcmp(a, "--seed") || !strcmp(a, "--count")) {
            char *end;
            errno = 0;
            unsigned long long x = strtoull(v, &end, 10);
            int is_count = !strcmp(a, "--count");
            if (errno || end == v || *end || v[0] == '-' || (is_count && (x < 1 || x > (1ull << 32))))
                return fprintf(stderr, "migrate " CMD ": option %s: '%s' is not %s\n", a, v,
                               is_count ? "an integer in [1, 4294967296]" : "an unsigned 64-bit integer"),
                       2;
            if (is_count) count = x, have_count = 1;
            else seed = x;
        } else if (!strcmp(a, "--lines")) {
            if (range_opt(a, v, 1, ARC_DSL_MAX_LINES, &c.min_lines, &c.max_lines)) return 2;
        } else if (!strcmp(a, "--sides")) {
            if (range_opt(a, v, 1, ARC_MAX_SIDE, &c.small_lo, &c.small_hi)) return 2;
        } else if (!strcmp(a, "--max-side")) {
            if (cli_int(CMD, a, v, 1, ARC_MAX_SIDE, &c.max_side)) return 2;
        } else if (!strcmp(a, "--small-prob")) {
            if (cli_float(CMD, a, v, 0.0f, 1.0f, &c.small_prob)) return 2;
        } else if (!strcmp(a, "--train")) {
            if (cli_int(CMD, a, v, 1, ARC_GEN_MAX_PAIRS - 1, &c.n_train)) return 2;
        } else if (!strcmp(a, "--test")) {
            if (cli_int(CMD, a, v, 1, ARC_GEN_MAX_PAIRS - 1, &c.n_test)) return 2;
        } else if (!strcmp(a, "--threads")) {
            if (cli_int(CMD, a, v, 1, 256, &threads)) return 2;
        } else if (!strcmp(a, "--out")) o.dir = v;
        else if (!strcmp(a, "--combined")) o.combined = v;
        else if (!strcmp(a, "--programs")) o.programs = v;
        else if (!strcmp(a, "--corpus")) o.corpus = v;
        else if (!strcmp(a, "--neighbors")) {
            if (cli_int(CMD, a, v, 0, 8, &o.neighbors)) return 2;
            have_neighbors = 1;
        } else if (!strcmp(a, "--format")) {
            if (strcmp(v, "digits") && strcmp(v, "colors"))
                return fprintf(stderr, "migrate " CMD ": option --format: '%s' is not digits or colors\n", v), 2;
            o.corpus_format = strcmp(v, "digits") ? ARC_CELLS_NAMES : ARC_CELLS_DIGITS;
            have_neighbors |= 2;
        }
        else if (!strcmp(a, "--per-file")) {
            int n;
            if (cli_int(CMD, a, v, 0, 1 << 30, &n)) return 2;
            o.per_file = n;
        }
        else return fprintf(stderr, "migrate " CMD ": unknown option '%s' (see --help)\n", a), 2;
    }
    if (!have_count) return fprintf(stderr, "migrate " CMD ": --count is required (see --help)\n"), 2;
    if (o.per_file && !o.combined)
        return fprintf(stderr, "migrate " CMD ": --per-file needs --combined (see --help)\n"), 2;
    if (have_neighbors && !o.corpus)
        return fprintf(stderr, "migrate " CMD ": --neighbors and --format need --corpus (see --help)\n"), 2;
    o.seed = seed;
    if (!o.dir && !o.combined && !o.programs)
        return fprintf(stderr, "migrate " CMD ": give --out DIR, --combined PREFIX or --programs FILE (see --help)\n"),
               2;
    mg_err e;
    if (arc_gen_config_check(&c, &e)) return fprintf(stderr, "migrate " CMD ": %s\n", e.msg), 2;
    arc_gen_writer *w = arc_gen_writer_open(&o, &e);
    if (!w) return fprintf(stderr, "migrate " CMD ": %s\n", e.msg), 1;
    progress p = {.w = w, .count = count, .t0 = mg_seconds(), .quiet = quiet, .tty = isatty(2)};
    p.last = p.t0;
    arc_gen_stats st;
    int rc = arc_gen_run(&c, seed, count, threads, arc_gen_writer_forms(w), emit, &p, &st, &e);
    mg_err ce;
    int crc = arc_gen_writer_close(w, rc == 0, &ce);
    if (p.tty && !quiet && p.last > p.t0) fputc('\n', stderr);
    if (rc || crc) return fprintf(stderr, "migrate " CMD ": %s\n", rc ? e.msg : ce.msg), 1;
    double dt = mg_seconds() - p.t0;
    fprintf(stderr,
            "migrate " CMD ": %llu tasks in %.1f s (%.0f tasks/s); %ld candidates: %ld without a program, "
            "%ld identity, %ld constant, %ld duplicate programs, %ld duplicate pairs; %ld lines redrawn\n",
            count, dt, (double)count / (dt > 0 ? dt : 1e-9), st.attempts, st.no_program, st.identity, st.constant,
            st.dup_program, st.dup_pairs, st.line_rejects);
    return 0;
}
