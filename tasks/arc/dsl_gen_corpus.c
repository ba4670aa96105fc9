// Pretraining documents from a generated task (dsl_gen_corpus.h).
#include "tasks/arc/dsl_gen_corpus.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "common/text.h"
#include "tasks/arc/dsl_mutate.h"

// The task as the prompt builder sees it: grids shared with t, nothing to free but the arrays.
static void view(const arc_gen_task *t, arc_task *v) {
    memset(v, 0, sizeof *v);
    snprintf(v->id, sizeof v->id, "%s", t->id);
    v->n_train = t->n_train, v->n_test = t->n_test;
    v->train = mallocCheck((size_t)t->n_train * sizeof *v->train);
    v->test_inputs = mallocCheck((size_t)t->n_test * sizeof *v->test_inputs);
    for (int i = 0; i < t->n_train; i++) v->train[i] = (arc_pair){t->in[i], t->out[i]};
    for (int i = 0; i < t->n_test; i++) v->test_inputs[i] = t->in[t->n_train + i];
}

static void add_doc(char **acc, const char *prompt, const char *program) {
    char *text = text_printf("%s\n```\n%s```", prompt, program);  // fenced, as the prompt asks
    json_t *o = json_pack("{s:s}", "text", text);
    char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    mgCheck(line != NULL, "out of memory writing a corpus line");
    char *longer = text_printf("%s%s\n", *acc, line);
    free(*acc);
    *acc = longer;
    free(line), free(text);
    json_decref(o);
}

char *arc_gen_corpus_lines(const arc_gen_task *t, arc_cell_format f, int neighbors, uint64_t key) {
    arc_task v;
    view(t, &v);
    char *acc = text_printf("%s", "");
    char *p = arc_user_prompt_as(&v, 0, f, 1);
    add_doc(&acc, p, t->text);
    free(p);
    for (int k = 0; k < neighbors; k++) {
        arc_dsl_program guess;
        if (arc_dsl_mutate(&t->prog, rng_mix(key, (uint64_t)k), &guess)) break;
        char g[ARC_DSL_TEXT_MAX];
        arc_dsl_format(&guess, g, sizeof g);
        p = arc_neighbor_prompt_as(&v, g, f, 1);
        add_doc(&acc, p, t->text);
        free(p);
    }
    free(v.train), free(v.test_inputs);
    return acc;
}
