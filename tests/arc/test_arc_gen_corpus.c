// Pretraining documents from generated tasks (tasks/arc/dsl_gen_corpus.h): for 50 tasks, the on-policy document is
// exactly the search task's prompt for that task (the task written to a file and loaded by the ARC search task,
// executor dsl, digits) + "\n```\n" + the program + "```"; each neighbourhood document is the search task's
// neighbourhood prompt around a program that differs from the answer in one line, then the answer; the same key
// gives the same documents.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/text.h"
#include "tasks/arc/arc_task.h"
#include "tasks/arc/dsl_gen_corpus.h"
#include "testing.h"

// The "text" of line k of JSON lines (malloc'd), or NULL.
static char *doc(const char *lines, int k) {
    for (int i = 0; i < k && lines; i++) {
        lines = strchr(lines, '\n');
        if (lines) lines++;
    }
    if (!lines || !*lines) return NULL;
    json_error_t je;
    json_t *o = json_loadb(lines, strcspn(lines, "\n"), 0, &je);
    const char *t = json_string_value(json_object_get(o, "text"));
    char *out = t ? text_printf("%s", t) : NULL;
    json_decref(o);
    return out;
}

int main(void) {
    arc_gen_config c;
    arc_gen_config_default(&c);
    c.max_side = 8;
    arc_gen *g = arc_gen_new(&c);
    char path[] = "/tmp/arc_corpus_task_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    close(fd);
    int checked = 0;
    for (uint64_t k = 0; k < 50; k++) {
        arc_gen_task t;
        mg_err e;
        if (arc_gen_make(g, 7, k, 0, 0, NULL, NULL, &t, NULL, &e)) {
            CHECK(0, "task %llu: %s", (unsigned long long)k, e.msg);
            continue;
        }
        char *lines = arc_gen_corpus_lines(&t, ARC_CELLS_DIGITS, 2, k), *again = arc_gen_corpus_lines(&t, ARC_CELLS_DIGITS, 2, k);
        CHECK(!strcmp(lines, again), "task %llu: the same key gave other documents", (unsigned long long)k);
        // the search task's own prompts for the same task
        json_t *j = arc_gen_to_json(&t, ARC_GEN_TASK);
        CHECK(json_dump_file(j, path, 0) == 0, "write %s", path);
        json_decref(j);
        arc_task_config cfg = {.file = path, .executor = ARC_EXEC_DSL, .format = ARC_CELLS_DIGITS};
        task *st = NULL;
        CHECK(arc_task_create(&st, &cfg, &e) == 0, "load: %s", e.msg);
        char *prompt = st ? st->prompt(st) : NULL;
        char *want = text_printf("%s\n```\n%s```", prompt ? prompt : "", t.text);
        char *d0 = doc(lines, 0);
        CHECK(d0 && !strcmp(d0, want), "task %llu: on-policy document is not the search prompt + program",
              (unsigned long long)k);
        for (int n = 1; n <= 2; n++) {
            char *dn = doc(lines, n);
            const char *guess = dn ? strstr(dn, "guess for the program:\n```\n") : NULL;
            CHECK(guess != NULL, "task %llu: neighbourhood document %d", (unsigned long long)k, n);
            if (!guess) {
                free(dn);
                continue;
            }
            guess += strlen("guess for the program:\n```\n");
            char *g_text = text_printf("%.*s", (int)(strstr(guess, "```") - guess), guess);
            char *ns = st->ns_prompt(st, g_text, 0);
            char *want_n = text_printf("%s\n```\n%s```", ns, t.text);
            CHECK(!strcmp(dn, want_n) && strcmp(g_text, t.text),
                  "task %llu: neighbourhood document %d is not the search's prompt around a variant", (unsigned long long)k, n);
            free(g_text), free(ns), free(want_n), free(dn);
        }
        CHECK(doc(lines, 3) == NULL, "task %llu: more than 3 documents", (unsigned long long)k);
        checked++;
        free(d0), free(want), free(prompt), free(lines), free(again);
        if (st) st->destroy(st);
        arc_gen_task_free(&t);
    }
    remove(path);
    arc_gen_free(g);
    printf("%d tasks: documents equal the search task's prompts\n", checked);
    return test_summary("arc_gen_corpus");
}
