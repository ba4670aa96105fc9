#include "coordinator/prompts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int prompt_encode(const prompt_encoder *pe, const char *text, int **ids, int *n, mg_err *e) {
    if (pe->fmt == CHAT_PLAIN) return tokenizer_encode(pe->tok, text, strlen(text), 1, ids, n, e);
    chat_message msgs[2];
    int k = 0;
    if (pe->system && pe->system[0]) msgs[k++] = (chat_message){"system", pe->system};
    msgs[k++] = (chat_message){"user", text};
    char *rendered = chat_render(pe->fmt, msgs, k, 1);
    int rc = tokenizer_encode(pe->tok, rendered, strlen(rendered), 0, ids, n, e);
    free(rendered);
    return rc;
}

char *prompt_on_policy(const run_config *c, task *t) {
    if (c->prompt[0]) {
        char *p = strdup(c->prompt);
        mgCheck(p != NULL, "out of memory");
        return p;
    }
    return t->prompt(t);
}

char *prompt_neighborhood(const run_config *c, task *t, const char *solution, double reward) {
    if (!c->ns_prompt[0]) return t->ns_prompt(t, solution, reward);
    char r[32];
    snprintf(r, sizeof r, "%.3f", reward);
    const char *keys[] = {"solution", "reward"}, *values[] = {solution, r};
    return text_render(c->ns_prompt, 2, keys, values);
}

char *prompt_opro(const run_config *c, task *t, const archive *a, int k) {
    long *top = mallocCheck((size_t)(k > 0 ? k : 1) * sizeof(long));
    int n = archive_top(a, k, top);
    size_t cap = 64, len = 0;
    char *history = mallocCheck(cap);
    history[0] = '\0';
    for (int i = n - 1; i >= 0; i--) {
        const char *sol = archive_canonical(a, top[i]);
        if (!sol) continue;
        size_t need = strlen(sol) + 48;
        if (len + need > cap) history = realloc(history, cap = 2 * (len + need));
        mgCheck(history != NULL, "out of memory");
        len += (size_t)snprintf(history + len, cap - len, "%s: %.3f\n", sol, archive_get(a, top[i])->reward);
    }
    free(top);
    char *base = prompt_on_policy(c, t);
    // The past answers first, the task's own instruction last (as OPRO's meta-prompts end with the instruction):
    // the model then answers in the task's format, which small models only know from the task prompt.
    const char *tmpl = c->opro_prompt[0] ? c->opro_prompt
                                          : "Previous answers and their scores (higher is better):\n{history}\n"
                                            "Give a new answer that scores higher than all of these. {prompt}";
    const char *keys[] = {"prompt", "history"}, *values[] = {base, n ? history : "(none yet)\n"};
    char *out = text_render(tmpl, 2, keys, values);
    free(base);
    free(history);
    return out;
}
