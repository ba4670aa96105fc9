// Where a generation run's tasks go (tasks/arc/dsl_gen.h makes them; docs/arc-dsl.md, "Generating tasks"):
//  * dir: DIR/<id>.json per task, in the ARC repository format with test outputs;
//  * combined: PREFIX_challenges.json {id: {"train", "test": [{"input"}]}} and PREFIX_solutions.json {id: [G]};
//    with per_file > 0, a new pair every per_file tasks: PREFIX_00000_challenges.json, PREFIX_00000_solutions.json,
//    PREFIX_00001_... (the task loader reads files of up to 256 MiB: about 150,000 tasks);
//  * programs: the answer key, one JSON line {"id", "program", "lines"} per task in index order; by default
//    DIR/programs.jsonl, else PREFIX_programs.jsonl;
//  * corpus: pretraining documents, prompt -> program (docs/arc-demo-model.md).
#pragma once
#include "tasks/arc/dsl_gen.h"

typedef struct {
    const char *dir, *combined, *programs;  // any may be NULL, not all
    long per_file;                          // tasks per combined pair; 0: one pair
    // corpus: pretraining documents (tasks/arc/dsl_gen_corpus.h), JSON lines, written whole at the end like the
    // key; neighbors per task, prompts' grids in corpus_format, variants drawn from (seed, task index)
    const char *corpus;
    int neighbors, corpus_format;
    uint64_t seed;
} arc_gen_outputs;

typedef struct arc_gen_writer arc_gen_writer;
arc_gen_writer *arc_gen_writer_open(const arc_gen_outputs *o, mg_err *e);
// The serialised forms (arc_gen_serialise) emit needs: pass to arc_gen_run.
unsigned arc_gen_writer_forms(const arc_gen_writer *w);
// An arc_gen_emit: ctx is the writer.
int arc_gen_writer_emit(const arc_gen_task *t, void *ctx, mg_err *e);
// ok: finish the combined files and the answer key and move them into place; !ok: remove them. Frees w.
int arc_gen_writer_close(arc_gen_writer *w, int ok, mg_err *e);
