#include "coordinator/search.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/rng.h"
#include "coordinator/metrics_log.h"
#include "model/sampler.h"
#include "workers/learner.h"
#include "workers/rollout.h"

_Static_assert(LR_CONSTANT == 0 && LR_LINEAR == 1 && LR_COSINE == 2,
               "training.lr_scheduler_type's names (common/run_config.c) follow lr_schedule's order");

int search_attach_adapter(model *m, const run_config *c, mg_err *e) {
    if (!strategy_trains(c->strategy) || !c->use_peft) {  // full training: search_init copies the weights instead
        // The baselines sample from the base policy; an adapter left by an earlier search on this model (migrate
        // ablate runs strategies one after another) must not come back when the next step enables adapters.
        if (m->lora) lora_free(m->lora), m->lora = NULL;
        return 0;
    }
    lora_config lc = {.rank = c->lora_r, .alpha = c->lora_alpha};
    if (lora_parse_targets(c->lora_target_modules, &lc.targets, e) ||
        model_lora_init(m, &lc, rng_mix(c->seed, 0x10ad), e)) {
        char inner[MG_ERRLEN];
        snprintf(inner, sizeof inner, "%s", e->msg);
        return mg_fail(e, "%s: lora: %s", c->path, inner);
    }
    return 0;
}

int search_init(search_state *s, const run_config *cfg, model *m, const tokenizer *tok, task *t, uint64_t problem,
                struct metrics_log *metrics, FILE *progress, mg_err *e) {
    memset(s, 0, sizeof *s);
    s->cfg = cfg, s->m = m, s->tok = tok, s->t = t, s->problem = problem;
    s->adapter = m->lora;
    s->metrics = metrics, s->progress = progress;
    s->arc = archive_create((size_t)cfg->archive_max_entries);
    s->best = -1;
    s->pe.tok = tok;
    s->pe.fmt = chat_format_detect(tok);
    if (strcmp(cfg->chat_format, "auto") && chat_format_parse(cfg->chat_format, &s->pe.fmt))
        return mg_fail(e, "%s: chat_format '%s' is not auto, plain, llama3 or chatml", cfg->path, cfg->chat_format);
    s->pe.system = cfg->system_prompt[0] ? cfg->system_prompt : NULL;
    if (strategy_trains(cfg->strategy)) {
        if (!cfg->use_peft) {
            // Full training: the search trains its own copy of every weight, so the model's stay the base for
            // the KL term and for the next search on it (migrate ablate, several problems on one model).
            if (!m->own_params) return mg_fail(e, "lora.use_peft false: the model has no host weights to train");
            s->weights = alignedCallocCheck(m->n_params, sizeof(float));
            memcpy(s->weights, m->own_params, m->n_params * sizeof(float));
            model_use_weights(m, s->weights);
            model_set_train_mode(m, TRAIN_FULL);
        } else {
            if (!m->lora)
                return mg_fail(e, "strategy %s trains an adapter, but the model has none", strategy_name(cfg->strategy));
            model_set_train_mode(m, TRAIN_LORA);
        }
        size_t n;
        model_trainable(m, &n);
        adamw_init(&s->opt, n);
        s->opt.lr = cfg->learning_rate, s->opt.beta1 = cfg->adam_beta1, s->opt.beta2 = cfg->adam_beta2;
        s->opt.eps = cfg->adam_epsilon, s->opt.weight_decay = cfg->weight_decay, s->opt.max_grad_norm = cfg->max_grad_norm;
        // The schedule spans the planned optimizer steps; a run stopped early by its oracle budget or a solve never
        // reaches the end of it. Warmup steps round up, as transformers' get_warmup_steps does.
        s->opt.schedule = (lr_schedule)cfg->lr_scheduler_type;
        s->opt.total_steps = (int)fmin((double)cfg->iterations * cfg->num_iterations, INT_MAX);
        s->opt.warmup_steps = (int)ceil((double)cfg->warmup_ratio * s->opt.total_steps);
    }
    return 0;
}

void search_activate(const search_state *s) {
    s->m->lora = s->adapter;
    model_use_weights(s->m, s->weights);  // NULL: the model's own
    s->m->mode = s->weights && s->opt.m ? TRAIN_FULL : s->adapter && s->opt.m ? TRAIN_LORA : TRAIN_NONE;
}

static const comm k_alone = {.size = 1, .is_rollout = 1, .is_learner = 1, .is_coordinator = 1, .n_rollout = 1,
                             .n_learner = 1};

static const comm *ranks(const search_state *s) { return s->comm ? s->comm : &k_alone; }

int search_finished(const search_state *s) {
    return (s->solved && s->cfg->stop_when_solved) || s->budget_spent || s->iteration >= s->cfg->iterations;
}

static void pending_free(pending_group *g);

void search_free(search_state *s) {
    for (int i = 0; i < s->n_pending; i++) pending_free(&s->pending[i]);
    free(s->deferred);
    archive_free(s->arc);
    free(s->best_history);
    adamw_free(&s->opt);
    if (s->weights) {
        if (s->m->params == s->weights) model_use_weights(s->m, NULL), s->m->mode = TRAIN_NONE;
        free(s->weights);
    }
    memset(s, 0, sizeof *s);
}

// One new sample of this iteration: where it came from, its prompt, what it produced and what it scored.
typedef struct {
    origin_kind origin;
    int *prompt, prompt_len;  // the prompt it was sampled from
    completion c;
    char *candidate, *canonical;  // NULL when unparsable
    double reward;
    int valid, repeat, scored;    // scored: counted as an oracle call this iteration
    long entry;                   // archive index, -1 if none
} sample;

// Decides each new sample's origin and prompt for this strategy.
static int build_prompts(search_state *s, sample *smp, int n, int *base, int base_len, mg_err *e) {
    const run_config *c = s->cfg;
    int k = c->top_k > 0 ? c->top_k : 1;
    long *top = mallocCheck((size_t)k * sizeof(long));
    int n_top = archive_top(s->arc, k, top), rc = 0;
    int *opro_ids = NULL, opro_len = 0;
    if (c->strategy == STRATEGY_OPRO) {
        char *text = prompt_opro(c, s->t, s->arc, k);
        rc = prompt_encode(&s->pe, text, &opro_ids, &opro_len, e);
        free(text);
    }
    for (int j = 0; j < n && !rc; j++) {
        int neighborhood = (c->strategy == STRATEGY_NS || (c->strategy == STRATEGY_MIGRATE && j >= c->num_on_policy));
        smp[j].prompt = base, smp[j].prompt_len = base_len, smp[j].origin = ORIGIN_ON_POLICY;
        if (c->strategy == STRATEGY_OPRO) {
            smp[j].origin = ORIGIN_OPRO;
            smp[j].prompt = mallocCheck((size_t)opro_len * sizeof(int));
            memcpy(smp[j].prompt, opro_ids, (size_t)opro_len * sizeof(int));
            smp[j].prompt_len = opro_len;
        } else if (neighborhood && n_top > 0) {
            // The seed solution: the best entry, or one of the top k drawn from the counter-based RNG.
            int pick = c->ns_seed == NS_SEED_TOP
                           ? 0
                           : (int)(rng_uniform(rng_mix3(c->seed, s->problem, 0x75), (uint64_t)s->iteration, (uint64_t)j) * n_top);
            long idx = top[pick < n_top ? pick : n_top - 1];
            char *text = prompt_neighborhood(c, s->t, archive_canonical(s->arc, idx), archive_get(s->arc, idx)->reward);
            rc = prompt_encode(&s->pe, text, &smp[j].prompt, &smp[j].prompt_len, e);
            free(text);
            smp[j].origin = ORIGIN_NEIGHBORHOOD;
        }
    }
    free(opro_ids);
    free(top);
    return rc;
}

// Counts this iteration's failed calls by kind, from the gathered scores (so every rank counts the same), and says
// at once when every call failed: an oracle that cannot run must not pass for a hard problem.
static void count_failures(search_state *s, const task_score *scores, int n) {
    static const char *const one[TASK_FAIL_COUNT] = {"", "invalid reply", "timeout", "crash"};
    static const char *const many[TASK_FAIL_COUNT] = {"", "invalid replies", "timeouts", "crashes"};
    long *f = s->iter_failed, failed = 0;
    memset(f, 0, sizeof s->iter_failed);
    int first = -1;
    for (int i = 0; i < n; i++) {
        int k = scores[i].failure;
        if (k <= TASK_OK || k >= TASK_FAIL_COUNT) continue;
        f[k]++, failed++;
        if (first < 0) first = i;
    }
    s->oracle_invalid += f[TASK_FAIL_INVALID], s->oracle_timeouts += f[TASK_FAIL_TIMEOUT];
    s->oracle_crashes += f[TASK_FAIL_CRASH];
    int all = n > 0 && failed == n;
    if (all && !s->all_failed_said && ranks(s)->is_coordinator) {
        char kinds[192] = "";
        int n_kinds = 0;
        for (int k = TASK_OK + 1; k < TASK_FAIL_COUNT; k++) {
            if (!f[k]) continue;
            size_t len = strlen(kinds);
            snprintf(kinds + len, sizeof kinds - len, "%s%ld %s", n_kinds++ ? ", " : "", f[k], f[k] == 1 ? one[k] : many[k]);
        }
        char see[sizeof s->cfg->output_dir + 32] = "";
        if (s->cfg->task == TASK_ORACLE) snprintf(see, sizeof see, "; see %s/oracle.log", s->cfg->output_dir);
        fprintf(stderr, "migrate: warning: %sall %d oracle calls of iteration %d failed (%s%s '%s')%s\n", s->label, n,
                s->iteration + 1, kinds, n_kinds > 1 ? "; the first:" : ":", scores[first].info, see);
    }
    if (n > 0) s->all_failed_said = all;  // an iteration without calls neither fails nor recovers
}

// Parses and dedups the samples, scores the new candidates within the remaining budget, archives them.
static int score_samples(search_state *s, sample *smp, int n, mg_err *e) {
    const run_config *c = s->cfg;
    const char **fresh = mallocCheck((size_t)n * sizeof(char *));
    int *fresh_of = mallocCheck((size_t)n * sizeof(int)), n_fresh = 0, rc = 0;
    for (int j = 0; j < n; j++) {
        sample *x = &smp[j];
        x->entry = -1;
        x->candidate = s->t->parse(s->t, x->c.text);
        if (!x->candidate) {
            s->unparsable++;
            continue;
        }
        x->canonical = s->t->canonical(s->t, x->candidate);
        x->entry = archive_find(s->arc, x->canonical);
        if (x->entry >= 0) {  // seen in an earlier iteration: no oracle call
            x->repeat = 1;
            s->repeats++;
            continue;
        }
        int dup = -1;
        for (int f = 0; f < n_fresh && dup < 0; f++)
            if (!strcmp(smp[fresh_of[f]].canonical, x->canonical)) dup = f;
        if (dup >= 0) {
            x->repeat = 1;
            s->repeats++;
            continue;
        }
        if (c->oracle_budget > 0 && s->oracle_calls + n_fresh >= c->oracle_budget) {
            s->budget_spent = 1;  // over budget: this sample is dropped, the search ends after this iteration
            x->entry = -2;
            continue;
        }
        fresh[n_fresh] = x->candidate;
        fresh_of[n_fresh++] = j;
    }
    task_score *scores = callocCheck((size_t)(n_fresh ? n_fresh : 1), sizeof(task_score));
    if (n_fresh && rollout_score(ranks(s), s->t, n_fresh, fresh, scores, e)) rc = -1;
    memset(s->iter_failed, 0, sizeof s->iter_failed);
    if (!rc) count_failures(s, scores, n_fresh);
    for (int f = 0; f < n_fresh && !rc; f++) {
        sample *x = &smp[fresh_of[f]];
        x->scored = 1;
        x->reward = scores[f].valid ? scores[f].reward : 0.0;
        x->valid = scores[f].valid;
        x->entry = archive_add(s->arc, x->canonical, x->c.text, x->reward, x->valid, s->iteration, x->origin);
        archive_set_detail(s->arc, x->entry, scores[f].detail);
        scores[f].detail = NULL;
        s->oracle_calls++;
        if (x->valid && (s->best < 0 || x->reward > archive_get(s->arc, s->best)->reward)) {
            s->best = x->entry;
            snprintf(s->best_info, sizeof s->best_info, "%s", scores[f].info);
        }
        if (x->valid && !s->solved && s->t->solved(s->t, x->reward, x->candidate)) {
            s->solved = 1;
            s->solved_at_calls = s->oracle_calls;
        }
    }
    // Repeats take the archived (or same-batch) reward.
    for (int j = 0; j < n; j++) {
        sample *x = &smp[j];
        if (!x->repeat) continue;
        if (x->entry < 0) x->entry = archive_find(s->arc, x->canonical);
        const archive_entry *a = archive_get(s->arc, x->entry);
        if (a) x->reward = a->reward, x->valid = a->valid;
    }
    if (c->oracle_budget > 0 && s->oracle_calls >= c->oracle_budget) s->budget_spent = 1;
    task_score_free_details(scores, n_fresh);
    free(scores);
    free(fresh);
    free(fresh_of);
    return rc;
}

// The mixed group as one packed batch: every member's completion under the on-policy prompt.
static void add_member(packed_batch *b, float **old, int *cap, const int *prompt, int plen, const int *comp, int clen,
                       const float *logp) {
    int n = plen + clen;
    int *ids = mallocCheck((size_t)n * sizeof(int));
    memcpy(ids, prompt, (size_t)plen * sizeof(int));
    memcpy(ids + plen, comp, (size_t)clen * sizeof(int));
    int start = b->n_tokens;
    packed_batch_add(b, ids, n, plen - 1);
    if (b->n_tokens > *cap) {
        *cap = 2 * b->n_tokens;
        *old = realloc(*old, (size_t)*cap * sizeof(float));
        mgCheck(*old != NULL, "out of memory");
    }
    for (int i = start; i < b->n_tokens; i++) (*old)[i] = NAN;
    // position plen-1+t predicts completion token t
    if (logp)
        for (int t = 0; t < clen; t++) (*old)[start + plen - 1 + t] = logp[t];
    free(ids);
}

// One iteration's metrics line, as far as the step knows it; the update's statistics come at the emit.
typedef struct deferred_metrics {
    double mean, std, origin_mean[ORIGIN_COUNT];
    int cnt[ORIGIN_COUNT];
    long failed[TASK_FAIL_COUNT];  // the iteration's failed calls by kind
    double mean_len;
    double t_sample, t_score, t_train0, dt_step, train_at_end;  // seconds
    long tokens;
    int has_comm;
    double comm_bytes, comm_seconds;
} deferred_metrics;

static void metrics_of_step(search_state *s, const sample *smp, int n, const double *group_r,
                            const origin_kind *group_o, int gn, const phase_times *before, long tokens_before,
                            double dt, deferred_metrics *d) {
    memset(d, 0, sizeof *d);
    grpo_reward_stats(group_r, gn, &d->mean, &d->std);  // cannot overflow, however large the rewards
    double *of = mallocCheck((size_t)(gn ? gn : 1) * sizeof(double));
    for (int k = 0; k < ORIGIN_COUNT; k++) {
        int cnt = 0;
        for (int i = 0; i < gn; i++)
            if (group_o[i] == (origin_kind)k) of[cnt++] = group_r[i];
        double sd;
        grpo_reward_stats(of, cnt, &d->origin_mean[k], &sd);
        d->cnt[k] = cnt;
    }
    free(of);
    memcpy(d->failed, s->iter_failed, sizeof d->failed);
    long len = 0;
    for (int j = 0; j < n; j++) len += smp[j].c.n;
    d->mean_len = n ? (double)len / n : 0.0;
    d->t_sample = s->time.sample - before->sample, d->t_score = s->time.score - before->score;
    d->t_train0 = before->train, d->dt_step = dt, d->train_at_end = s->time.train;
    d->tokens = s->new_tokens - tokens_before;
    if (s->comm && s->comm->size > 1) {  // this rank's share of the collectives during the iteration
        double bytes, secs;
        comm_stats(&bytes, &secs);
        d->has_comm = 1, d->comm_bytes = bytes - s->comm_bytes0, d->comm_seconds = secs - s->comm_seconds0;
    }
}

// key = x in the metrics line. JSON has no inf or NaN (jansson would drop the key): a non-finite x is written as
// null and its key listed in `nonfinite`, so that no key goes missing without a word.
static void put_real(json_t *o, json_t *nonfinite, const char *key, double x) {
    if (isfinite(x)) {
        json_object_set_new(o, key, json_real(x));
    } else {
        json_object_set_new(o, key, json_null());
        json_array_append_new(nonfinite, json_string(key));
    }
}

static void write_metrics(search_state *s, const deferred_metrics *d, const learner_stats *ls) {
    const archive_entry *best = s->best >= 0 ? archive_get(s->arc, s->best) : NULL;
    const char *best_text = best ? archive_canonical(s->arc, s->best) : "";
    double t_train = s->time.train - d->t_train0, dt = d->dt_step + (s->time.train - d->train_at_end);
    if (s->metrics) {
        json_t *o = json_object(), *bad = json_array();
        json_object_set_new(o, "iteration", json_integer(s->iteration));
        json_object_set_new(o, "oracle_calls", json_integer(s->oracle_calls));
        json_object_set_new(o, "repeats", json_integer(s->repeats));
        json_object_set_new(o, "unparsable", json_integer(s->unparsable));
        json_object_set_new(o, "oracle/invalid", json_integer(d->failed[TASK_FAIL_INVALID]));
        json_object_set_new(o, "oracle/timeout", json_integer(d->failed[TASK_FAIL_TIMEOUT]));
        json_object_set_new(o, "oracle/crash", json_integer(d->failed[TASK_FAIL_CRASH]));
        put_real(o, bad, "reward", d->mean);
        put_real(o, bad, "reward_std", d->std);
        for (int k = 0; k < ORIGIN_COUNT; k++) {
            if (!d->cnt[k]) continue;
            char key[64];
            snprintf(key, sizeof key, "reward/%s/mean", origin_names[k]);
            put_real(o, bad, key, d->origin_mean[k]);
        }
        put_real(o, bad, "best_reward", best ? best->reward : 0.0);
        json_object_set_new(o, "best", json_string(best_text ? best_text : ""));
        json_object_set_new(o, "best_info", json_string(s->best_info));
        json_object_set_new(o, "solved", json_boolean(s->solved));
        put_real(o, bad, "loss", ls->loss);
        put_real(o, bad, "kl", ls->kl);
        put_real(o, bad, "entropy", ls->entropy);
        put_real(o, bad, "grad_norm", ls->grad_norm);
        json_object_set_new(o, "adapter/version", json_integer(s->opt.t));
        json_object_set_new(o, "train/skipped", json_integer(ls->skipped));
        put_real(o, bad, "clip_ratio/low_mean", ls->clip_low);
        put_real(o, bad, "clip_ratio/high_mean", ls->clip_high);
        put_real(o, bad, "clip_ratio/region_mean", ls->clip_region);
        put_real(o, bad, "completions/mean_length", d->mean_len);
        put_real(o, bad, "tokens_per_second", d->t_sample > 0 ? d->tokens / d->t_sample : 0.0);
        put_real(o, bad, "time/sample", d->t_sample);
        put_real(o, bad, "time/score", d->t_score);
        put_real(o, bad, "time/train", t_train);
        put_real(o, bad, "time/loop", dt - d->t_sample - d->t_score - t_train);
        put_real(o, bad, "time/iteration", dt);
        if (d->has_comm) {
            put_real(o, bad, "comm/bytes", d->comm_bytes);
            put_real(o, bad, "time/comm", d->comm_seconds);
        }
        if (json_array_size(bad)) {
            char keys[512] = "";
            size_t len = 0;
            for (size_t k = 0; k < json_array_size(bad) && len < sizeof keys; k++)
                len += (size_t)snprintf(keys + len, sizeof keys - len, "%s%s", k ? ", " : "",
                                        json_string_value(json_array_get(bad, k)));
            fprintf(stderr, "migrate: warning: %siteration %d: %s not finite; metrics.jsonl has null there (listed "
                            "in its \"nonfinite\")\n", s->label, s->iteration, keys);
            json_object_set(o, "nonfinite", bad);
        }
        json_decref(bad);
        char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        metrics_log_append(s->metrics, line);
        free(line);
        json_decref(o);
    }
    if (s->progress) {
        const run_config *c = s->cfg;
        char budget[32] = "";
        if (c->oracle_budget > 0) snprintf(budget, sizeof budget, "/%d", c->oracle_budget);
        // trouble, only when there is some: failed calls by kind, a skipped update
        static const char *const kind[TASK_FAIL_COUNT] = {"", "invalid", "timeout", "crash"};
        char trouble[160] = "";
        size_t len = 0;
        for (int k = TASK_OK + 1; k < TASK_FAIL_COUNT; k++)
            if (d->failed[k] && len < sizeof trouble)
                len += (size_t)snprintf(trouble + len, sizeof trouble - len, "%s%ld %s",
                                        len ? ", " : "  oracle failed: ", d->failed[k], kind[k]);
        if (ls->skipped && len < sizeof trouble) snprintf(trouble + len, sizeof trouble - len, "  update skipped");
        fprintf(s->progress, "[%s%s it %3d/%d] calls %4ld%s  best %.4f %-14s %-14s  group mean %.3f  loss %+.4f%s  %4.1fs\n",
                s->label, strategy_name(c->strategy), s->iteration, c->iterations, s->oracle_calls, budget,
                best ? best->reward : 0.0, best_text ? best_text : "", s->best_info, d->mean, ls->loss, trouble, dt);
        fflush(s->progress);
    }
}

static void pending_free(pending_group *g) {
    packed_batch_free(&g->b);
    free(g->old), free(g->adv);
    memset(g, 0, sizeof *g);
}

// The mixed group of this iteration: the new samples (under the on-policy prompt) and the greedy archive entries,
// with advantages. Records every member's reward and origin for the metrics. Fewer than 2 members: an empty group.
static void form_group(search_state *s, const sample *smp, int n, const int *base, int base_len, const long *greedy,
                       int n_greedy, double *group_r, origin_kind *group_o, int *gn, pending_group *g) {
    const run_config *c = s->cfg;
    memset(g, 0, sizeof *g);
    packed_batch_init(&g->b);
    int ocap = 0, members = 0;
    double *r = mallocCheck((size_t)(n + n_greedy + 1) * sizeof(double));
    int *lowered = mallocCheck((size_t)(n + 1) * sizeof(int)), n_lowered = 0;
    for (int j = 0; j < n; j++) {
        if (smp[j].entry == -2 || smp[j].c.n == 0) continue;
        if (smp[j].repeat && c->repeats == REPEATS_DROP) continue;
        int on_policy = smp[j].origin == ORIGIN_ON_POLICY;
        add_member(&g->b, &g->old, &ocap, base, base_len, smp[j].c.ids, smp[j].c.n, on_policy ? smp[j].c.logp : NULL);
        if (smp[j].repeat && c->repeats == REPEATS_LOWEST) lowered[n_lowered++] = members;
        r[members++] = smp[j].reward;
    }
    for (int k = 0; k < n_greedy; k++) {
        const char *text = archive_completion(s->arc, greedy[k]);
        int *cids = NULL, cn = 0;
        if (!text || tokenizer_encode(s->tok, text, strlen(text), 0, &cids, &cn, NULL) || cn == 0) {
            free(cids);
            continue;
        }
        if (base_len + cn > s->m->cfg.max_position_embeddings) cn = s->m->cfg.max_position_embeddings - base_len;
        add_member(&g->b, &g->old, &ocap, base, base_len, cids, cn, NULL);
        r[members++] = archive_get(s->arc, greedy[k])->reward;
        group_r[*gn] = r[members - 1], group_o[(*gn)++] = ORIGIN_GREEDY;
        free(cids);
    }
    // search.repeats lowest: each repeat takes the lowest reward among the members that are not repeats (its own
    // reward when every member is one), so a group of repeats and new answers ranks every repeat last.
    if (n_lowered) {
        double low = INFINITY;
        for (int i = 0, k = 0; i < members; i++) {
            if (k < n_lowered && lowered[k] == i) {
                k++;
                continue;
            }
            if (r[i] < low) low = r[i];
        }
        for (int k = 0; k < n_lowered && isfinite(low); k++) r[lowered[k]] = low;
    }
    free(lowered);
    if (members >= 2) {
        g->adv = mallocCheck((size_t)members * sizeof(float));
        grpo_advantages(r, members, c->scale_rewards, g->adv);
    } else {
        pending_free(g);
        packed_batch_init(&g->b);
    }
    free(r);
}

// The GRPO update of one group, formed in iteration `formed` (1-based, for messages). Every rank calls it; an empty
// group changes nothing.
static void learn_group(search_state *s, const pending_group *g, int formed, learner_stats *ls) {
    const run_config *c = s->cfg;
    memset(ls, 0, sizeof *ls);
    if (g->b.n_seqs < 2) return;
    double ts = mg_seconds();
    grpo_params gp = {c->epsilon, c->epsilon_high, c->beta, (loss_kind)c->loss_type, c->max_completion_length,
                      c->train_share_prefix};
    learner_update(ranks(s), s->m, &s->opt, &gp, c->num_iterations, c->temperature, c->members_per_shard, &g->b,
                   g->old, g->adv, ls);
    s->time.train += mg_seconds() - ts;
    if (!ls->skipped) return;
    s->train_skipped += ls->skipped;
    if (!ranks(s)->is_coordinator) return;
    const char *why = ls->skip_reason == LEARNER_SKIP_ADVANTAGES
                          ? "its advantages are not finite: rewards too large for them, or not numbers"
                          : "the gradient is not finite";
    if (ls->skipped >= c->num_iterations)
        fprintf(stderr, "migrate: warning: %sthe GRPO update of iteration %d's group was skipped (%s); the adapter is "
                        "unchanged (metrics.jsonl: train/skipped)\n", s->label, formed, why);
    else
        fprintf(stderr, "migrate: warning: %s%d of %d GRPO steps on iteration %d's group were skipped (%s) "
                        "(metrics.jsonl: train/skipped)\n", s->label, ls->skipped, c->num_iterations, formed, why);
}

int search_update_waits(const search_state *s) { return s->deferred != NULL; }

void search_flush(search_state *s) {
    if (!s->deferred) return;
    search_activate(s);
    learner_stats ls;
    double t0 = mg_seconds();
    learn_group(s, &s->pending[0], s->iteration, &ls);  // the last step's group
    pending_free(&s->pending[0]);
    s->n_pending = 0;
    s->time.total += mg_seconds() - t0;
    write_metrics(s, s->deferred, &ls);
    free(s->deferred);
    s->deferred = NULL;
}

// Under training.staleness k, iteration t's group is learned during iteration t + k, while that iteration's
// samples are drawn (from the adapter before the update): the learner ranks train while the rollout ranks sample.
static int update_due(const search_state *s) {
    return strategy_trains(s->cfg->strategy) && s->cfg->staleness > 0 && s->n_pending == s->cfg->staleness;
}

int search_step(search_state *s, mg_err *e) {
    const run_config *c = s->cfg;
    search_flush(s);  // its own update, if a caller left it waiting: it must land before this step samples
    comm_iteration(s->iteration + 1);  // as metrics.jsonl numbers it
    double t0 = mg_seconds();
    phase_times before = s->time;
    comm_stats(&s->comm_bytes0, &s->comm_seconds0);
    search_activate(s);
    long tokens_before = s->new_tokens;
    int n = c->num_on_policy + c->num_neighborhood;
    sample *smp = callocCheck((size_t)n, sizeof(sample));
    int *base = NULL, base_len = 0, rc = 0;
    char *base_text = prompt_on_policy(c, s->t);
    rc = prompt_encode(&s->pe, base_text, &base, &base_len, e);
    free(base_text);
    if (!rc) rc = build_prompts(s, smp, n, base, base_len, e);
    learner_stats ls;
    memset(&ls, 0, sizeof ls);

    // --- rollout: every new completion in one batched call; the update that is due runs between the ranks'
    // sampling and the gather, so learner-only ranks train while rollout ranks sample ---
    if (!rc) {
        const int **prompts = mallocCheck((size_t)n * sizeof(int *));
        int *lens = mallocCheck((size_t)n * sizeof(int));
        uint64_t *ids = mallocCheck((size_t)n * sizeof(uint64_t));
        completion *out = callocCheck((size_t)n, sizeof(completion));
        for (int j = 0; j < n; j++) {
            prompts[j] = smp[j].prompt, lens[j] = smp[j].prompt_len;
            ids[j] = rng_mix3(s->problem, (uint64_t)s->iteration, (uint64_t)j);
        }
        sampling_params sp;
        sampling_params_default(&sp);
        sp.temperature = c->temperature, sp.top_p = c->top_p, sp.top_k = c->top_k_sampling, sp.min_p = c->min_p;
        sp.max_new_tokens = c->max_completion_length, sp.seed = c->seed, sp.share_prefix = c->share_prefix;
        double ts = mg_seconds();
        if (s->m->lora) s->m->lora->enabled = 1;
        rollout_part part;
        rollout_sample(ranks(s), s->m, s->tok, n, prompts, lens, ids, &sp, s->opt.t, &part);
        double sampled = mg_seconds();
        if (update_due(s)) {
            learn_group(s, &s->pending[0], s->iteration + 1 - c->staleness, &ls);
            pending_free(&s->pending[0]);
            memmove(s->pending, s->pending + 1, (size_t)(s->n_pending - 1) * sizeof(pending_group));
            memset(&s->pending[--s->n_pending], 0, sizeof(pending_group));
        }
        if (s->overlap && s->overlap != s && s->overlap->deferred) {
            search_flush(s->overlap);  // another search's update, while this one's samples were drawn
            search_activate(s);
        }
        double gather = mg_seconds();
        rc = rollout_gather(ranks(s), &part, n, out, e);
        s->time.sample += (sampled - ts) + (mg_seconds() - gather);
        for (int j = 0; j < n && !rc; j++) smp[j].c = out[j], s->new_tokens += out[j].n;
        free(prompts), free(lens), free(ids), free(out);
    }
    // The greedy members are the best *past* solutions: read them before this iteration's samples are archived.
    long *greedy = NULL;
    int n_greedy = 0;
    if (!rc && strategy_trains(c->strategy) && c->strategy != STRATEGY_GRPO && c->num_greedy > 0) {
        greedy = mallocCheck((size_t)c->num_greedy * sizeof(long));
        n_greedy = archive_top(s->arc, c->num_greedy, greedy);
    }
    // --- scoring and archive ---
    if (!rc) {
        double ts = mg_seconds();
        rc = score_samples(s, smp, n, e);
        s->time.score += mg_seconds() - ts;
    }
    // --- the mixed group: learned now, or queued for the iteration `staleness` later ---
    int gcap = 2 * n + c->num_greedy + 2;
    double *group_r = mallocCheck((size_t)gcap * sizeof(double));
    origin_kind *group_o = mallocCheck((size_t)gcap * sizeof(origin_kind));
    int gn = 0;
    for (int j = 0; j < n && !rc; j++) {
        if (smp[j].entry == -2) continue;  // over budget: never scored
        group_r[gn] = smp[j].reward, group_o[gn++] = smp[j].origin;
    }
    int defer = 0;
    if (!rc && strategy_trains(c->strategy)) {
        pending_group g;
        form_group(s, smp, n, base, base_len, greedy, n_greedy, group_r, group_o, &gn, &g);
        if (c->staleness == 0 && s->defer_update && g.b.n_seqs >= 2) {
            s->pending[0] = g, s->n_pending = 1, defer = 1;
        } else if (c->staleness == 0) {
            learn_group(s, &g, s->iteration + 1, &ls);
            pending_free(&g);
        } else {
            mgCheck(s->n_pending < c->staleness, "more groups wait for their update than training.staleness");
            s->pending[s->n_pending++] = g;
        }
    }
    if (s->iteration >= s->history_cap) {
        s->history_cap = s->history_cap ? 2 * s->history_cap : 64;
        s->best_history = realloc(s->best_history, (size_t)s->history_cap * sizeof(long));
        mgCheck(s->best_history != NULL, "out of memory");
    }
    s->best_history[s->iteration] = s->best;
    s->iteration++;
    double dt = mg_seconds() - t0;
    s->time.total += dt;
    if (!rc) {
        deferred_metrics d;
        metrics_of_step(s, smp, n, group_r, group_o, gn, &before, tokens_before, dt, &d);
        if (defer) {
            s->deferred = mallocCheck(sizeof d);
            *s->deferred = d;
        } else {
            write_metrics(s, &d, &ls);
        }
    }
    for (int j = 0; j < n; j++) {
        if (smp[j].prompt != base) free(smp[j].prompt);
        completion_free(&smp[j].c);
        free(smp[j].candidate), free(smp[j].canonical);
    }
    free(smp), free(base), free(group_r), free(group_o), free(greedy);
    if (rc) return -1;
    return search_finished(s);
}
