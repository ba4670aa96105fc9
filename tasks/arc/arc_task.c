// ARC as a search task: prompts from tasks/arc/prompt.c, candidates from the completion's program, scores from the
// training pairs. Every candidate of a score call is run on all training inputs at once: python programs through
// the sandbox pool (spread over its workers), grid-language programs parsed once and run on one reused machine.
#include "tasks/arc/arc_task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "tasks/arc/dsl.h"
#include "tasks/arc/outcome.h"
#include "tasks/arc/program.h"
#include "tasks/arc/reward.h"
#include "tasks/arc/sandbox.h"
#include "tasks/arc/task_file.h"

typedef struct {
    arc_task t;
    arc_executor exec;
    arc_cell_format format;
    int strict;
    arc_grid *inputs;     // (n_train + n_test) the training inputs, then the test inputs (shallow copies)
    arc_grid *train_out;  // (n_train)
    arc_sandbox *sb;      // python
    arc_dsl_vm *vm;       // dsl
} arc_state;

static arc_state *state_of(task *t) { return t->state; }

static char *arc_prompt(task *t) {
    arc_state *s = state_of(t);
    return arc_user_prompt_as(&s->t, 0, s->format, s->exec == ARC_EXEC_DSL);
}

static char *arc_ns(task *t, const char *solution, double reward) {
    (void)reward;
    arc_state *s = state_of(t);
    return arc_neighbor_prompt_as(&s->t, solution ? solution : "", s->format, s->exec == ARC_EXEC_DSL);
}

// The grid-language program of a completion: its last fenced block when it has one, else the whole text; NULL
// when that does not parse.
static char *dsl_text(const char *completion, arc_dsl_program *p) {
    char *body = arc_extract_program(completion);
    if (!body) body = text_printf("%s", completion);
    mg_err e = {{0}};
    if (arc_dsl_parse(p, body, strlen(body), &e)) {
        free(body);
        return NULL;
    }
    return body;
}

static char *arc_parse(task *t, const char *completion) {
    if (!completion) return NULL;
    if (state_of(t)->exec == ARC_EXEC_PYTHON) return arc_extract_program(completion);
    arc_dsl_program p;
    return dsl_text(completion, &p);
}

static char *arc_canonical(task *t, const char *candidate) {
    if (!candidate) candidate = "";
    if (state_of(t)->exec == ARC_EXEC_PYTHON) return arc_program_key(candidate);
    arc_dsl_program p;
    mg_err e = {{0}};
    if (arc_dsl_parse(&p, candidate, strlen(candidate), &e)) return text_printf("%s", candidate);  // never scored
    char *buf = mallocCheck(ARC_DSL_TEXT_MAX);
    arc_dsl_format(&p, buf, ARC_DSL_TEXT_MAX);
    return buf;
}



// Reward and info of one candidate from its outputs on the training inputs.
static void finish(const arc_state *s, const arc_output *got, const char *first_error, task_score *out) {
    int n = s->t.n_train, exact = 0;
    for (int i = 0; i < n; i++) exact += arc_output_exact(&got[i], &s->train_out[i]);
    out->valid = 1;
    out->reward = s->strict ? arc_reward_strict(got, s->train_out, n) : arc_reward_partial(got, s->train_out, n);
    if (first_error)
        snprintf(out->info, sizeof out->info, "%d/%d train pairs exact; %.200s", exact, n, first_error);
    else
        snprintf(out->info, sizeof out->info, "%d/%d train pairs exact", exact, n);
}

static void score_dsl(task *t, arc_state *s, const char *cand, task_score *out) {
    arc_dsl_program p;
    mg_err e = {{0}};
    if (arc_dsl_parse(&p, cand, strlen(cand), &e)) {
        snprintf(out->info, sizeof out->info, "does not parse: %.200s", e.msg);
        return;
    }
    int n = s->t.n_train + s->t.n_test;
    arc_output *got = callocCheck((size_t)n, sizeof *got);
    mg_err *why = callocCheck((size_t)n, sizeof *why);
    const char **why_test = callocCheck((size_t)s->t.n_test, sizeof *why_test);
    const char *first = NULL;
    char first_text[MG_ERRLEN + 32];
    for (int i = 0; i < n; i++) {
        got[i].ok = arc_dsl_run(s->vm, &p, &s->inputs[i], NULL, &got[i].grid, &why[i]) == 0;
        if (got[i].ok) continue;
        if (i >= s->t.n_train) why_test[i - s->t.n_train] = why[i].msg;
        else if (!first) snprintf(first_text, sizeof first_text, "pair %d: %.200s", i + 1, why[i].msg), first = first_text;
    }
    finish(s, got, first, out);
    out->detail = arc_detail_encode(got + s->t.n_train, why_test, s->t.n_test);
    arc_outputs_free(got, n);
    free(got), free(why), free(why_test);
}

static int score_python(arc_state *s, int n, const char *const *cands, task_score *out, mg_err *e) {
    int m = s->t.n_train + s->t.n_test;
    arc_result *res = callocCheck((size_t)n * (size_t)m, sizeof *res);
    if (arc_sandbox_run_many(s->sb, n, cands, m, s->inputs, res, e)) {
        free(res);
        return -1;
    }
    arc_output *got = callocCheck((size_t)m, sizeof *got);
    const char **why_test = callocCheck((size_t)s->t.n_test, sizeof *why_test);
    for (int c = 0; c < n; c++) {
        const arc_result *r = &res[(size_t)c * (size_t)m];
        const char *first = NULL;
        char why[ARC_REASON_LEN + 32];
        for (int i = 0; i < m; i++) {
            got[i] = (arc_output){.ok = r[i].ok, .grid = r[i].grid};
            if (i >= s->t.n_train) why_test[i - s->t.n_train] = r[i].ok ? NULL : r[i].reason;
            if (!r[i].ok && !first && i < s->t.n_train) snprintf(why, sizeof why, "pair %d: %.*s", i + 1, ARC_REASON_LEN - 1, r[i].reason), first = why;
        }
        finish(s, got, first, &out[c]);
        out[c].detail = arc_detail_encode(got + s->t.n_train, why_test, s->t.n_test);
    }
    free(got), free(why_test);
    arc_results_free(res, n * m);
    free(res);
    return 0;
}

static int arc_score_candidates(task *t, int n, const char *const *cands, task_score *out, mg_err *e) {
    arc_state *s = state_of(t);
    memset(out, 0, (size_t)n * sizeof *out);
    if (s->exec == ARC_EXEC_DSL) {
        for (int i = 0; i < n; i++) {
            if (cands[i]) score_dsl(t, s, cands[i], &out[i]);
            else snprintf(out[i].info, sizeof out[i].info, "no program");
        }
        return 0;
    }
    // NULL candidates never reach the sandbox
    const char **run = mallocCheck((size_t)(n ? n : 1) * sizeof *run);
    int *where = mallocCheck((size_t)(n ? n : 1) * sizeof *where);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (cands[i]) run[k] = cands[i], where[k++] = i;
        else snprintf(out[i].info, sizeof out[i].info, "no program");
    }
    int rc = 0;
    if (k) {
        task_score *tmp = callocCheck((size_t)k, sizeof *tmp);
        rc = score_python(s, k, run, tmp, e);
        for (int j = 0; !rc && j < k; j++) out[where[j]] = tmp[j];
        if (rc) task_score_free_details(tmp, k);
        free(tmp);
    }
    free(run);
    free(where);
    return rc;
}

static int arc_solved(task *t, double reward, const char *candidate) {
    (void)t, (void)candidate;
    return reward >= 1.0;  // exact on every training pair under either reward
}

static int arc_report(task *t, const task_outcome *o, int print, mg_err *e) {
    return arc_write_results(&state_of(t)->t, o, print, e);
}

static void state_free(arc_state *s) {
    if (!s) return;
    if (s->sb) arc_sandbox_close(s->sb);
    if (s->vm) arc_dsl_vm_free(s->vm);
    free(s->inputs);  // shallow copies of the task's grids
    free(s->train_out);
    arc_task_free(&s->t);
    free(s);
}

static void arc_destroy(task *t) {
    if (!t) return;
    state_free(t->state);
    free(t);
}

int arc_task_create(task **out, const arc_task_config *cfg, mg_err *e) {
    *out = NULL;
    if (!cfg || !cfg->file || !cfg->file[0]) return mg_fail(e, "arc task: no task file");
    arc_state *s = callocCheck(1, sizeof *s);
    int rc = cfg->kaggle_id ? arc_task_load_combined(&s->t, cfg->file, cfg->solutions, cfg->kaggle_id, e)
                            : arc_task_load_file(&s->t, cfg->file, e);
    if (rc) {
        free(s);
        return -1;
    }
    s->exec = cfg->executor;
    s->format = cfg->format;
    s->strict = cfg->strict;
    int n = s->t.n_train;
    s->inputs = mallocCheck((size_t)(n + s->t.n_test) * sizeof *s->inputs);
    s->train_out = mallocCheck((size_t)n * sizeof *s->train_out);
    for (int i = 0; i < n; i++) s->inputs[i] = s->t.train[i].input, s->train_out[i] = s->t.train[i].output;
    for (int i = 0; i < s->t.n_test; i++) s->inputs[n + i] = s->t.test_inputs[i];
    if (s->exec == ARC_EXEC_DSL) {
        s->vm = arc_dsl_vm_new();
    } else {
        arc_limits lim = {0};
        lim.wall_s = cfg->timeout_s;
        const char *common = cfg->common_py && cfg->common_py[0] ? cfg->common_py : NULL;
        s->sb = arc_sandbox_open(cfg->workers > 0 ? cfg->workers : 1, cfg->python, common, &lim, e);
        if (!s->sb) {
            state_free(s);
            return -1;
        }
    }
    task *t = mallocCheck(sizeof *t);
    *t = (task){.name = "arc", .state = s, .prompt = arc_prompt, .ns_prompt = arc_ns, .parse = arc_parse,
                .canonical = arc_canonical, .score = arc_score_candidates, .solved = arc_solved, .report = arc_report,
                .destroy = arc_destroy};
    *out = t;
    return 0;
}
