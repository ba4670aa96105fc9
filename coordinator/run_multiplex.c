// migrate run SWEEP.yaml: every element of the sweep in this job, multiplexed over its ranks (run_multiplex.h).
#include "coordinator/run_multiplex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/file.h"
#include "coordinator/run_job.h"
#include "coordinator/sweep_collect.h"
#include "kernels/cpu/blas_setup.h"

#define MAX_ELEMENTS 4096  // each holds an adapter and its moments in memory

// Writes config.yaml and manifest.tsv, or (resuming) checks that the folder holds this same sweep.
static int prepare_folder(const sweep_spec *sp, const char *manifest, const char *dir, int resume, mg_err *e) {
    char path[4300];
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    if (resume) {
        size_t len;
        char *old = read_small_file(path, (size_t)64 << 20, &len, 0, NULL, e);
        if (!old) return -1;
        // The first line names the config file, which may have moved; the elements must be the same.
        size_t skip_old = strcspn(old, "\n"), skip_new = strcspn(manifest, "\n");
        int same = !strcmp(old + skip_old, manifest + skip_new);
        free(old);
        if (!same)
            return mg_fail(e, "%s lists other elements than this sweep config (other axes or --set options): resume "
                              "it with the config and options it was started with", path);
        return 0;
    }
    if (file_write_atomic(path, manifest, strlen(manifest), e)) return -1;
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    return file_write_atomic(path, sp->run_text, sp->run_len, e);
}

// What every element must share, since it belongs to the job (the ranks, the model in memory, the threads).
static int check_shared(const run_config *first, const run_config *c, long i, mg_err *e) {
    const char *key = strcmp(first->model, c->model)                 ? "model"
                      : first->threads != c->threads                  ? "threads"
                      : first->rollout_ranks != c->rollout_ranks      ? "distributed.rollout_ranks"
                      : first->learner_ranks != c->learner_ranks      ? "distributed.learner_ranks"
                      : first->coordinator_only != c->coordinator_only ? "distributed.coordinator_only"
                      : first->dist_timeout != c->dist_timeout        ? "distributed.timeout"
                      : strcmp(first->allreduce, c->allreduce)        ? "distributed.allreduce"
                      : strcmp(first->backend, c->backend)            ? "engine.backend"
                      : strcmp(first->engine_dtype, c->engine_dtype)  ? "engine.dtype"
                      : first->device != c->device                    ? "engine.device"
                      : first->cuda_graphs != c->cuda_graphs          ? "engine.cuda_graphs"
                                                                      : NULL;
    if (!key) return 0;
    return mg_fail(e, "element %ld: '%s' differs from element 0's, but the elements of one job share it (sweep it "
                      "with `migrate sweep`, one job per element)", i, key);
}

static int load_elements(const sweep_spec *sp, const multiplex_opts *o, long count, const char *dir, run_config *cfg,
                         mg_err *e) {
    for (long i = 0; i < count; i++) {
        char **kv;
        int n = sweep_element_overrides(sp, o->overrides, o->n_overrides, i, dir, &kv);
        int rc = run_config_read_text(&cfg[i], sp->run_text, sp->run_len, o->config_path, (const char *const *)kv, n, e);
        sweep_overrides_free(kv, n);
        if (rc) {
            char inner[MG_ERRLEN];
            snprintf(inner, sizeof inner, "%s", e->msg);
            mg_fail(e, "element %ld: %s", i, inner);
        } else if (i > 0 && check_shared(&cfg[0], &cfg[i], i, e))
            rc = -1, run_config_free(&cfg[i]);
        if (rc) {
            for (long k = 0; k < i; k++) run_config_free(&cfg[k]);
            return -1;
        }
    }
    return 0;
}

// The element's checkpoint when resuming and it has one (it may not have reached its first save).
static const char *element_resume(const multiplex_opts *o, const run_config *c, char *buf, size_t cap) {
    if (!o->resume_dir) return NULL;
    struct stat st;
    snprintf(buf, cap, "%s/checkpoint.h5", c->output_dir);
    return stat(buf, &st) == 0 ? buf : NULL;
}

static void mark_failed(const run_job *j) {
    char path[4300];
    snprintf(path, sizeof path, "%s/job.status", j->cfg.output_dir);
    mg_err e;
    if (file_write_atomic(path, "exited 1\n", 9, &e)) fprintf(stderr, "migrate run: %s\n", e.msg);
}

int run_multiplexed(comm *world, const sweep_spec *sp, const multiplex_opts *o) {
    mg_err e;
    run_config base;
    if (run_config_read_text(&base, sp->run_text, sp->run_len, o->config_path, o->overrides, o->n_overrides, &e)) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        return 1;
    }
    char dir[4200];
    if (o->resume_dir) snprintf(dir, sizeof dir, "%s", o->resume_dir);
    else snprintf(dir, sizeof dir, "%s/sweep", base.output_dir);
    run_config_free(&base);
    long count = sweep_spec_count(sp, MAX_ELEMENTS, &e);
    if (count < 0) return fprintf(stderr, "migrate run: %s: %s\n", o->config_path, e.msg), 1;
    run_config *cfg = callocCheck((size_t)count, sizeof(run_config));
    run_job *jobs = callocCheck((size_t)count, sizeof(run_job));
    char *manifest = sweep_manifest_text(sp, o->config_path, o->overrides, o->n_overrides, count, dir);
    model m;
    memset(&m, 0, sizeof m);
    tokenizer *tok = NULL;
    int rc = 1, loaded = 0, opened = 0, lock_fd = -1;
    if (load_elements(sp, o, count, dir, cfg, &e)) {
        fprintf(stderr, "migrate run: %s: %s\n", o->config_path, e.msg);
        goto out;
    }
    loaded = 1;
    if (comm_layout(world, cfg[0].rollout_ranks, cfg[0].learner_ranks, cfg[0].coordinator_only, cfg[0].dist_timeout,
                    &e)) {
        fprintf(stderr, "migrate run: %s: %s\n", o->config_path, e.msg);
        goto out;
    }
    if (o->print_config) {
        for (long i = 0; i < count; i++) printf("# element %ld\n", i), run_config_dump(&cfg[i], stdout);
        rc = 0;
        goto out;
    }
    uint64_t model_hash;
    if (world->is_coordinator) {  // the sweep folder's own files (manifest, config, results) are this job's
        file_mkdir_p(dir);
        if ((lock_fd = run_lock_dir(dir, &e)) < 0) {
            fprintf(stderr, "migrate run: %s\n", e.msg);
            goto out;
        }
    }
    if (checkpoint_model_hash(cfg[0].model, &model_hash, &e) ||
        (world->is_coordinator && prepare_folder(sp, manifest, dir, o->resume_dir != NULL, &e))) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        goto out;
    }
    comm_barrier(world, "sweep folder");
    char resume[4300];
    for (long i = 0; i < count; i++) {
        const char *r = element_resume(o, &cfg[i], resume, sizeof resume);
        if (r && run_job_check_resume(&cfg[i], model_hash, r, &e)) {
            fprintf(stderr, "migrate run: element %ld: %s\n", i, e.msg);
            goto out;
        }
    }
    run_install_signal_handlers();
    blas_set_threads(cfg[0].threads);
    if (run_load_policy(cfg[0].model, world->is_rollout || world->is_learner, &m, &tok, &e)) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        goto out;
    }
    if (run_attach_backend(&m, &cfg[0], world, &e)) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        goto out;
    }
    for (; opened < count; opened++) {
        long i = opened;
        char label[48];
        snprintf(label, sizeof label, "#%ld ", i);
        const char *r = element_resume(o, &cfg[i], resume, sizeof resume);
        if (run_job_open(&jobs[i], &cfg[i], &m, tok, model_hash, world, r, o->overwrite,
                         o->quiet || !world->is_coordinator ? NULL : stderr, label, &e)) {
            fprintf(stderr, "migrate run: element %ld: %s\n", i, e.msg);
            opened++;  // its adapter (if any) is attached to m: model_free frees it
            goto out;
        }
        m.lora = NULL;  // the job keeps its adapter (jobs[i].s.adapter) and attaches it when it runs
    }
    if (world->is_coordinator)
        fprintf(stderr, "migrate run: %ld searches multiplexed over %d rank%s (%d rollout, %d learner), one iteration "
                        "each in turn; results in %s\n", count, world->size, world->size == 1 ? "" : "s",
                world->n_rollout, world->n_learner, dir);
    // Overlap: an element's update waits (defer_update) and runs during the next element's step, between that
    // step's sampling and its gather, so learner ranks train one search while rollout ranks sample another; it
    // still lands before its own element's next step, so every element ends as it would alone.
    for (long i = 0; i < count; i++) jobs[i].s.defer_update = count > 1;
    search_state *waiting = NULL;
    int failed = 0;
    for (int running = 1; running && !run_stop_requested(world);) {
        running = 0;
        for (long i = 0; i < count; i++) {
            if (jobs[i].status) continue;
            if (waiting == &jobs[i].s) search_flush(waiting), waiting = NULL;  // the only element left running
            jobs[i].s.overlap = waiting;
            int step = run_job_step(&jobs[i], world);
            if (waiting) search_flush(waiting);  // the step ended before its sampling (an error): made here
            jobs[i].s.overlap = NULL;
            waiting = search_update_waits(&jobs[i].s) ? &jobs[i].s : NULL;
            if (step < 0) {
                failed = 1;
                if (world->is_coordinator) {
                    fprintf(stderr, "migrate run: element %ld stopped: %s (its archive is kept in its checkpoint; "
                                    "the other elements go on)\n", i, jobs[i].err.msg);
                    mark_failed(&jobs[i]);
                }
            }
            running |= jobs[i].status == 0;
        }
    }
    if (waiting) search_flush(waiting);  // stopped by a signal: the update lands before the last checkpoint
    int unsaved = 0, stopped = 0;
    for (long i = 0; i < count; i++) {
        unsaved |= run_job_finish(&jobs[i], world, 0) != 0;
        stopped |= jobs[i].status == 0;
    }
    if (world->is_coordinator) {
        if (stopped) {
            fprintf(stderr, "migrate run: stopped by %s; %s\n", run_signal_name(run_stop_signal()),
                    unsaved ? "a checkpoint could NOT be written" : "every element's checkpoint is written");
            fprintf(stderr, "migrate run: continue with: migrate run %s --resume %s\n", o->config_path, dir);
        }
        int incomplete = sweep_collect(dir);  // the table, with every element's state
        if (!stopped && incomplete) failed = 1;
    }
    rc = failed || unsaved;
out:
    for (long i = 0; i < opened; i++) {
        if (jobs[i].s.adapter == m.lora) m.lora = NULL;
        run_job_close(&jobs[i], 1);
    }
    if (loaded)
        for (long i = opened; i < count; i++) run_config_free(&cfg[i]);
    if (tok) tokenizer_free(tok);
    if (m.w.layers) model_free(&m);
    free(manifest), free(cfg), free(jobs);
    if (lock_fd >= 0) run_unlock_dir(lock_fd);
    return rc;
}
