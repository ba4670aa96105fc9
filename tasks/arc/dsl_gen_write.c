// Writing generated tasks (docs/arc-dsl.md, "Generating tasks"): one ARC-format file per task in a folder, the
// answer key as JSON lines, and/or Kaggle-style combined challenges and solutions files. The combined files and
// the answer key are streamed (a million tasks never sit in memory as JSON) into temporaries renamed into place
// when they are complete (a combined pair when it is full or the run ends, the key when the run ends), so an
// interrupted run leaves none of them half written.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file.h"
#include "common/rng.h"
#include "tasks/arc/dsl_gen_corpus.h"
#include "tasks/arc/dsl_gen_write.h"

struct arc_gen_writer {
    char dir[4096], prefix[4096];
    long per_file, in_shard;  // tasks per combined pair (0: one pair); tasks in the open pair
    int shard;                // the open pair's number
    int have_dir, have_combined, n;
    file_atomic chal, sol, prog, corpus;
    int chal_open, sol_open, prog_open, corpus_open;
    int neighbors, corpus_format;
    uint64_t seed;
};

static int open_stream(file_atomic *a, int *is_open, const char *path, const char *head, mg_err *e) {
    if (!file_atomic_open(a, path, e)) return -1;
    *is_open = 1;
    fputs(head, a->f);
    return 0;
}

// The next challenges/solutions pair.
static int open_shard(arc_gen_writer *w, mg_err *e) {
    char path[4200], num[16] = "";
    if (w->per_file) snprintf(num, sizeof num, "_%05d", w->shard);
    snprintf(path, sizeof path, "%s%s_challenges.json", w->prefix, num);
    if (open_stream(&w->chal, &w->chal_open, path, "{", e)) return -1;
    snprintf(path, sizeof path, "%s%s_solutions.json", w->prefix, num);
    w->in_shard = 0;
    return open_stream(&w->sol, &w->sol_open, path, "{", e);
}

// Finishes the open pair and moves it into place.
static int close_shard(arc_gen_writer *w, mg_err *e) {
    int rc = 0;
    if (w->chal_open) {
        fputs("}\n", w->chal.f);
        w->chal_open = 0;
        rc = file_atomic_commit(&w->chal, e);
    }
    if (w->sol_open) {
        fputs("}\n", w->sol.f);
        w->sol_open = 0;
        if (rc) file_atomic_abort(&w->sol);
        else rc = file_atomic_commit(&w->sol, e);
    }
    w->shard++;
    return rc;
}

static void abort_all(arc_gen_writer *w) {
    if (w->chal_open) file_atomic_abort(&w->chal);
    if (w->sol_open) file_atomic_abort(&w->sol);
    if (w->prog_open) file_atomic_abort(&w->prog);
    if (w->corpus_open) file_atomic_abort(&w->corpus);
    w->chal_open = w->sol_open = w->prog_open = w->corpus_open = 0;
}

arc_gen_writer *arc_gen_writer_open(const arc_gen_outputs *o, mg_err *e) {
    if (!o->dir && !o->combined && !o->programs) {
        mg_fail(e, "nothing to write: give a folder, a combined prefix or a programs file");
        return NULL;
    }
    arc_gen_writer *w = callocCheck(1, sizeof *w);
    char path[4200];
    if (o->dir) {
        if (strlen(o->dir) >= sizeof w->dir - 32) {
            mg_fail(e, "%s: folder name too long", o->dir);
            free(w);
            return NULL;
        }
        snprintf(w->dir, sizeof w->dir, "%s", o->dir);
        file_mkdir_p(o->dir);
        w->have_dir = 1;
    }
    int rc = 0;
    if (o->combined) {
        if (strlen(o->combined) >= sizeof w->prefix - 32) {
            mg_fail(e, "%s: prefix too long", o->combined);
            free(w);
            return NULL;
        }
        snprintf(w->prefix, sizeof w->prefix, "%s", o->combined);
        w->have_combined = 1, w->per_file = o->per_file > 0 ? o->per_file : 0;
        rc = open_shard(w, e);
    }
    if (o->programs) snprintf(path, sizeof path, "%s", o->programs);
    else if (o->dir) snprintf(path, sizeof path, "%s/programs.jsonl", o->dir);
    else snprintf(path, sizeof path, "%s_programs.jsonl", o->combined);
    if (!rc) rc = open_stream(&w->prog, &w->prog_open, path, "", e);
    if (!rc && o->corpus) {
        w->neighbors = o->neighbors, w->corpus_format = o->corpus_format, w->seed = o->seed;
        rc = open_stream(&w->corpus, &w->corpus_open, o->corpus, "", e);
    }
    if (rc) {
        abort_all(w);
        free(w);
        return NULL;
    }
    return w;
}

unsigned arc_gen_writer_forms(const arc_gen_writer *w) {
    unsigned f = 1u << ARC_GEN_PROGRAM;
    if (w->have_dir) f |= 1u << ARC_GEN_TASK;
    if (w->have_combined) f |= 1u << ARC_GEN_CHALLENGE | 1u << ARC_GEN_SOLUTION;
    return f;
}

// ", "ID": text — one entry of a combined file (the id is 8 hex digits: no escaping needed).
static void entry(FILE *f, int first, const char *id, const char *text) {
    fprintf(f, "%s\"%s\": %s", first ? "" : ", ", id, text);
}

int arc_gen_writer_emit(const arc_gen_task *t, void *ctx, mg_err *e) {
    arc_gen_writer *w = ctx;
    if (w->have_dir) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.json", w->dir, t->id);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) return mg_fail(e, "%s: cannot create: %s", path, strerror(errno));
        const char *s = t->json[ARC_GEN_TASK];
        size_t n = strlen(s), done = 0;
        while (done < n) {
            ssize_t k = write(fd, s + done, n - done);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                int err = errno;
                close(fd);
                return mg_fail(e, "%s: cannot write: %s", path, strerror(err));
            }
            done += (size_t)k;
        }
        if (write(fd, "\n", 1) != 1 || close(fd)) return mg_fail(e, "%s: cannot write: %s", path, strerror(errno));
    }
    if (w->have_combined) {
        if (w->per_file && w->in_shard == w->per_file && (close_shard(w, e) || open_shard(w, e))) return -1;
        entry(w->chal.f, w->in_shard == 0, t->id, t->json[ARC_GEN_CHALLENGE]);
        entry(w->sol.f, w->in_shard == 0, t->id, t->json[ARC_GEN_SOLUTION]);
        w->in_shard++;
    }
    fputs(t->json[ARC_GEN_PROGRAM], w->prog.f);
    fputc('\n', w->prog.f);
    if (w->corpus_open) {
        char *docs = arc_gen_corpus_lines(t, (arc_cell_format)w->corpus_format, w->neighbors,
                                          rng_mix3(w->seed, t->index, 0x6e6569676862ull));
        fputs(docs, w->corpus.f);
        free(docs);
    }
    w->n++;
    return 0;
}

int arc_gen_writer_close(arc_gen_writer *w, int ok, mg_err *e) {
    if (!w) return 0;
    if (!ok) abort_all(w);
    int rc = close_shard(w, e);
    if (w->prog_open) {
        w->prog_open = 0;
        if (rc) file_atomic_abort(&w->prog);
        else rc = file_atomic_commit(&w->prog, e);
    }
    if (w->corpus_open) {
        w->corpus_open = 0;
        if (rc) file_atomic_abort(&w->corpus);
        else rc = file_atomic_commit(&w->corpus, e);
    }
    free(w);
    return rc;
}
