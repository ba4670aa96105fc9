// One search's life in `migrate run`: task, adapter and search set up (or resumed), iterations with periodic
// background checkpoints, and the final checkpoint, summary and PEFT adapter.
#include "coordinator/run_job.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/file.h"
#include "common/text.h"

#include "model/engine.h"
#include "model/peft.h"
#include "tasks/arc/arc_task.h"
#include "tasks/candidate_pattern.h"
#include "tasks/molecule.h"
#include "tasks/molecule_objective.h"
#include "tasks/oracle.h"
#include "workers/learner.h"

static volatile sig_atomic_t g_stop_signal;

static void on_stop_signal(int sig) {
    g_stop_signal = sig;
    if (sig == SIGINT) signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

void run_install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    comm_watch_signal(&g_stop_signal);  // a rank that died shows first as mpirun's SIGTERM: the watchdog names it
    // Past a file-size limit (ulimit -f), writes should fail with EFBIG and be reported, not kill the run.
    signal(SIGXFSZ, SIG_IGN);
}

// A signal may reach some ranks only (or reach them in different iterations).
int run_stop_requested(const comm *world) {
    double stop = g_stop_signal;
    comm_allreduce_max(world, COMM_ALL, &stop, 1, "stop signal");
    if (stop > 0 && !g_stop_signal) g_stop_signal = (int)stop;
    return stop > 0;
}

int run_stop_signal(void) { return g_stop_signal; }

const char *run_signal_name(int sig) {
    return sig == SIGTERM ? "SIGTERM" : sig == SIGUSR1 ? "SIGUSR1" : sig == SIGINT ? "SIGINT" : "a signal";
}

int run_molecule_task(task **out, const run_config *c, mg_err *e) {
    molecule_config mc = {c->objective, c->path, c->objective_line, isfinite(c->solved_reward) ? c->solved_reward : 1.0};
    return molecule_create(out, &mc, e);
}

static int make_task(run_job *j, mg_err *e) {
    const run_config *c = &j->cfg;
    if (c->task == TASK_SEMANTLE) {
        if (word_vectors_load(&j->wv, c->vectors, e)) return -1;
        return semantle_create(&j->t, j->wv, c->target, e);
    }
    if (c->task == TASK_MOLECULE) return run_molecule_task(&j->t, c, e);
    if (c->task == TASK_ARC) {
        arc_task_config ac = {.file = c->arc_file,
                              .kaggle_id = c->arc_id[0] ? c->arc_id : NULL,
                              .solutions = c->arc_solutions[0] ? c->arc_solutions : NULL,
                              .executor = strcmp(c->arc_executor, "dsl") ? ARC_EXEC_PYTHON : ARC_EXEC_DSL,
                              .format = strcmp(c->arc_format, "digits") ? ARC_CELLS_NAMES : ARC_CELLS_DIGITS,
                              .strict = !strcmp(c->arc_reward, "strict"),
                              .timeout_s = c->arc_timeout,
                              .workers = c->arc_workers,
                              .common_py = c->arc_common_py};
        if (!arc_task_create(&j->t, &ac, e)) return 0;
        char inner[MG_ERRLEN];  // name the key to fix
        snprintf(inner, sizeof inner, "%s", e->msg);
        return mg_fail(e, "%s: task.arc: %s", c->path, inner);
    }
    return run_oracle_task(&j->t, c, e);
}

int run_oracle_task(task **out, const run_config *c, mg_err *e) {
    char log_path[sizeof c->output_dir + 16];
    snprintf(log_path, sizeof log_path, "%s/oracle.log", c->output_dir);
    const char *target = c->target;
    char **argv = NULL;
    int rc = text_split_words(c->oracle_command, &argv, e);
    // {target} is filled word by word after the split, so a target with a quote or a blank stays one argument.
    const char *key = "target";
    for (char **w = argv; !rc && *w; w++) {
        if (!strstr(*w, "{target}")) continue;
        if (!target[0]) {
            rc = mg_fail(e, "it uses {target}, but task.target is not set");
            break;
        }
        char *filled = text_render(*w, 1, &key, &target);
        free(*w), *w = filled;
    }
    if (!rc) {
        oracle_config oc = {argv, c->oracle_workers, c->oracle_timeout, c->solved_reward, c->prompt,
                            c->ns_prompt[0] ? c->ns_prompt : NULL, log_path, c->candidate_pattern,
                            c->candidate_format};
        rc = oracle_create(out, &oc, e);
    }
    text_free_words(argv);
    if (!rc || strstr(e->msg, log_path)) return rc;  // an unwritable log names its own path
    char inner[MG_ERRLEN];  // the command could not be split or started: the key says where to fix it
    snprintf(inner, sizeof inner, "%s", e->msg);
    return mg_fail(e, "%s: task.command: %s", c->path, inner);
}

// The checks of a parsed config that need a task's own parser. On failure the config is freed.
static int check_task_keys(run_config *c, mg_err *e) {
    if (c->task == TASK_ORACLE && c->candidate_pattern[0]) {
        candidate_pattern *p = NULL;
        mg_err why;
        int bad = candidate_pattern_compile(&p, c->candidate_pattern, c->candidate_format, &why);
        candidate_pattern_free(p);
        if (!bad) return 0;
        int k = bad == -2;
        const char *key = k ? "task.candidate_format" : "task.candidate_pattern";
        if (c->candidate_lines[k] > 0) mg_fail(e, "%s:%ld: %s: %s", c->path, c->candidate_lines[k], key, why.msg);
        else mg_fail(e, "%s: %s: %s", c->path, key, why.msg);
        run_config_free(c);
        return -1;
    }
    if (c->task != TASK_MOLECULE) return 0;
    mol_objective *o = NULL;
    if (mol_objective_compile(&o, c->objective, c->path, c->objective_line, "task.objective", e)) {
        run_config_free(c);
        return -1;
    }
    mol_objective_free(o);
    return 0;
}

int run_config_read(run_config *c, const char *path, const char *const *overrides, int n_overrides, mg_err *e) {
    if (run_config_load(c, path, overrides, n_overrides, e)) return -1;
    return check_task_keys(c, e);
}

int run_config_read_text(run_config *c, const char *yaml, size_t len, const char *name,
                         const char *const *overrides, int n_overrides, mg_err *e) {
    if (run_config_parse(c, yaml, len, name, overrides, n_overrides, e)) return -1;
    return check_task_keys(c, e);
}

int run_load_policy(const char *dir, int weights, model *m, tokenizer **tok, mg_err *e) {
    if (weights ? model_load(m, dir, e) : model_load_shape(m, dir, e)) return -1;
    if (tokenizer_load(tok, dir, e)) {
        model_free(m);
        return -1;
    }
    return 0;
}

int run_attach_backend(model *m, const run_config *c, comm *world, mg_err *e) {
    if (!strcmp(c->backend, "cpu")) {
        if (!strcmp(c->allreduce, "nccl"))
            return mg_fail(e, "%s: distributed.allreduce is 'nccl', which needs engine.backend 'cuda' (gradients on "
                              "GPUs); use 'auto' or 'mpi' on the CPU", c->path);
        return 0;
    }
    const mg_backend *be = mg_backend_find(c->backend);
    if (!be)
        return mg_fail(e, "%s: engine.backend is '%s', but this migrate was built without that backend (no nvcc at "
                          "build time, or -DMIGRATE_CUDA=OFF; docs/cuda.md; the CUDA image: docs/containers.md)",
                       c->path, c->backend);
    if (world->is_rollout || world->is_learner) {  // a coordinator-only rank never runs the model
        if (!(be = mg_backend_open(c->backend, c->device, e)) ||
            model_use_backend(m, be, strcmp(c->engine_dtype, "fp32") ? MG_BF16 : MG_F32, e)) {
            char inner[MG_ERRLEN];
            snprintf(inner, sizeof inner, "%s", e->msg);
            return mg_fail(e, "%s: rank %d: %s", c->path, world->rank, inner);
        }
        // Graphs are keyed by the step's shape, sampling settings and adapter generation, and dropped when a
        // scratch buffer moves (model/engine_decode.c), so a replay always runs what an eager step would.
        m->eng->use_graphs = c->cuda_graphs;
    }
    if (!strcmp(c->allreduce, "mpi")) return 0;
    // Whether the learners' devices share a collective (NCCL) is a property of the build, the same on every rank;
    // a coordinator-only rank, which opened no device, takes part in the join all the same.
    if (!be->coll_join) {
        if (!strcmp(c->allreduce, "nccl"))
            return mg_fail(e, "%s: distributed.allreduce is 'nccl', but this migrate was built without NCCL "
                              "(libnccl-dev missing at build time); use 'auto' or 'mpi'", c->path);
        return 0;
    }
    mg_err why;
    if (comm_join_device(world, be, &why)) return 0;
    const char *reason = why.msg[0] ? why.msg : "another learner could not join the NCCL communicator";
    if (!strcmp(c->allreduce, "nccl"))
        return mg_fail(e, "%s: distributed.allreduce nccl: rank %d: %s", c->path, world->rank, reason);
    if (world->rank == world->learner_leader || why.msg[0])
        fprintf(stderr, "migrate: rank %d: NCCL unavailable (%s); the learners sum gradients with MPI "
                        "(distributed.allreduce auto)\n", world->rank, reason);
    return 0;
}

int run_job_check_saved(const run_config *cfg, uint64_t model_hash, const checkpoint *h, const char *resume_path,
                        mg_err *e) {
    char *now = run_config_text(cfg);
    int rc = checkpoint_config_compatible(h->config, now, resume_path, e);
    free(now);
    if (!rc && h->model_hash != model_hash)
        rc = mg_fail(e, "%s: the checkpoint was written for the model in %s (config.json hash %016llx); %s is another "
                        "model (hash %016llx)", resume_path, h->model_path, (unsigned long long)h->model_hash, cfg->model,
                     (unsigned long long)model_hash);
    return rc;
}

int run_job_check_resume(const run_config *cfg, uint64_t model_hash, const char *resume_path, mg_err *e) {
    checkpoint h;
    if (checkpoint_read(&h, resume_path, NULL, e)) return -1;  // whole and verified, before anything is started
    int rc = run_job_check_saved(cfg, model_hash, &h, resume_path, e);
    checkpoint_free(&h);
    return rc;
}

int run_lock_dir(const char *dir, mg_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/.migrate.lock", dir);
    // O_CLOEXEC: oracle workers must not inherit the lock and keep it after a kill -9 of this process.
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return mg_fail(e, "%s: cannot create the output folder's lock: %s", path, strerror(errno));
    int err = flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno;
    if (err && err != EWOULDBLOCK) {
        // Some cluster file systems have no locks (Lustre mounted without flock: ENOSYS): run, but say it.
        fprintf(stderr, "migrate run: warning: cannot lock %s (%s): a second run into this output_dir would not be "
                        "stopped\n", path, strerror(err));
        return fd;
    }
    if (err == EWOULDBLOCK) {
        char holder[256] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        close(fd);
        return mg_fail(e, "output_dir %s is in use by another migrate run (%s): wait for it to end, or choose another "
                          "output_dir", dir, holder[0] ? holder : "holder unknown");
    }
    char host[128] = "?", when[32];
    gethostname(host, sizeof host - 1);
    mg_utc_now(when, sizeof when);
    char line[256];
    int n = snprintf(line, sizeof line, "pid %ld on host %s, since %s\n", (long)getpid(), host, when);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) {}  // the lock holds without the note
    return fd;
}

void run_unlock_dir(int fd) {
    if (fd >= 0) close(fd);  // the lock goes with the descriptor; the file stays for the next run
}

int run_check_fresh_dir(const char *dir, int overwrite, mg_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/checkpoint.h5", dir);
    if (overwrite || access(path, F_OK) != 0) return 0;
    checkpoint h;
    mg_err ignored;
    char what[160] = "a checkpoint";
    if (checkpoint_read_header(&h, path, &ignored) == 0) {
        snprintf(what, sizeof what, "the checkpoint of a run at iteration %lld, %s", (long long)h.iteration,
                 h.solved ? "solved" : "not solved");
        checkpoint_free(&h);
    }
    return mg_fail(e, "%s holds %s: continue it with `migrate run --resume %s`, write elsewhere with --set "
                      "output_dir=DIR, or start over with --overwrite", path, what, path);
}

int run_job_open(run_job *j, run_config *cfg, model *m, const tokenizer *tok, uint64_t model_hash, const comm *world,
                 const char *resume_path, int overwrite, FILE *progress, const char *label, mg_err *e) {
    memset(j, 0, sizeof *j);
    j->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    run_config *c = &j->cfg;
    j->sv.model_dir = c->model;
    j->sv.model_hash = model_hash;
    file_mkdir_p(c->output_dir);
    if (world->is_coordinator) {
        if ((j->lock_fd = run_lock_dir(c->output_dir, e)) < 0) return -1;
        j->locked = 1;
        if (!resume_path && run_check_fresh_dir(c->output_dir, overwrite, e)) return -1;
        char adapter_dir[4200], model_dir[4200];  // what writers killed mid-way (kill -9) left behind
        snprintf(adapter_dir, sizeof adapter_dir, "%s/adapter", c->output_dir);
        snprintf(model_dir, sizeof model_dir, "%s/model", c->output_dir);
        file_remove_stale_temps(c->output_dir), file_remove_stale_temps(adapter_dir);
        file_remove_stale_temps(model_dir);
    }
    snprintf(j->sv.path, sizeof j->sv.path, "%s/checkpoint.h5", c->output_dir);
    j->sv.config = run_config_text(c);
    m->lora = NULL;  // an adapter attached by another job stays that job's
    if (make_task(j, e) || search_attach_adapter(m, c, e) ||
        search_init(&j->s, c, m, tok, j->t, 0, NULL, progress, e))
        return -1;
    snprintf(j->s.label, sizeof j->s.label, "%s", label ? label : "");
    checkpoint full;
    memset(&full, 0, sizeof full);
    if (resume_path) {
        if (checkpoint_read(&full, resume_path, m, e) || checkpoint_apply(&full, &j->s, e)) return checkpoint_free(&full), -1;
        if (world->is_coordinator)
            fprintf(stderr, "migrate run: resumed %s at iteration %d (%ld oracle calls, %zu archive entries)\n",
                    resume_path, j->s.iteration, j->s.oracle_calls, archive_size(j->s.arc));
    }
    j->s.comm = world;
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", c->output_dir);
    int rc = world->is_coordinator ? metrics_log_open(&j->metrics, path, resume_path != NULL, full.metrics,
                                                      (size_t)full.metrics_bytes, stderr, e)
                                   : 0;
    checkpoint_free(&full);
    if (rc) return -1;
    if (world->is_coordinator) j->s.metrics = &j->metrics;
    j->open = 1;
    j->status = search_finished(&j->s);
    return 0;
}

static void saver_snapshot(run_saver *sv, const search_state *s, const metrics_log *metrics, checkpoint *out) {
    checkpoint_take(out, s, sv->config, sv->model_dir, sv->model_hash, metrics->text, metrics->len);
}

// A periodic checkpoint, written in the background: the loop stalls only for the copy.
static void saver_periodic(run_saver *sv, const search_state *s, const metrics_log *metrics) {
    mg_err e;
    if (checkpoint_writer_wait(&sv->writer, &e)) {
        fprintf(stderr, "migrate run: warning: %s\n", e.msg);
        sv->failures++;
    }
    checkpoint snap;
    saver_snapshot(sv, s, metrics, &snap);
    checkpoint_writer_start(&sv->writer, &snap, sv->path);
}

// The last checkpoint (end of run, signal, error), written before returning.
static int saver_final(run_saver *sv, const search_state *s, const metrics_log *metrics) {
    mg_err e;
    if (checkpoint_writer_wait(&sv->writer, &e)) fprintf(stderr, "migrate run: warning: %s\n", e.msg);
    checkpoint snap;
    saver_snapshot(sv, s, metrics, &snap);
    int rc = checkpoint_write(&snap, sv->path, &e);
    checkpoint_free(&snap);
    if (rc) fprintf(stderr, "migrate run: %s\n", e.msg);
    return rc;
}

int run_job_step(run_job *j, const comm *world) {
    if (j->status) return j->status;
    j->status = search_step(&j->s, &j->err);
    int save = j->status >= 0 && j->cfg.save_steps > 0 && j->s.iteration % j->cfg.save_steps == 0;
    if (save || j->status != 0) search_flush(&j->s);  // a checkpoint, or the end, needs the deferred update made
    if (save) {
        learner_share_optimizer(world, &j->s.opt);  // every rank: the moments live on the learners
        if (world->is_coordinator) {
            comm_phase(world, "checkpoint");
            saver_periodic(&j->sv, &j->s, &j->metrics);
            comm_phase(world, NULL);
        }
    }
    return j->status;
}

static int write_summary(const run_config *cfg, const search_state *s, int print) {
    json_t *per_iter = json_array();
    for (int i = 0; i < s->iteration; i++) {
        const char *b = s->best_history[i] >= 0 ? archive_canonical(s->arc, s->best_history[i]) : NULL;
        json_array_append_new(per_iter, json_string(b ? b : ""));
    }
    const archive_entry *b = s->best >= 0 ? archive_get(s->arc, s->best) : NULL;
    const char *best = b ? archive_canonical(s->arc, s->best) : NULL;
    json_t *sum = json_object();
    json_object_set_new(sum, "strategy", json_string(strategy_name(cfg->strategy)));
    json_object_set_new(sum, "solved", json_boolean(s->solved));
    json_object_set_new(sum, "oracle_calls", json_integer(s->oracle_calls));
    json_object_set_new(sum, "oracle_calls_to_solve", s->solved ? json_integer(s->solved_at_calls) : json_null());
    json_object_set_new(sum, "iterations", json_integer(s->iteration));
    json_object_set_new(sum, "best", json_string(best ? best : ""));
    double best_reward = b ? b->reward : 0.0;  // JSON has no inf: null rather than a missing key
    json_object_set_new(sum, "best_reward", isfinite(best_reward) ? json_real(best_reward) : json_null());
    json_object_set_new(sum, "best_info", json_string(s->best_info));
    json_object_set_new(sum, "repeats", json_integer(s->repeats));
    // the totals of metrics.jsonl's oracle/invalid, oracle/timeout, oracle/crash and train/skipped
    json_object_set_new(sum, "oracle_invalid", json_integer(s->oracle_invalid));
    json_object_set_new(sum, "oracle_timeout", json_integer(s->oracle_timeouts));
    json_object_set_new(sum, "oracle_crash", json_integer(s->oracle_crashes));
    json_object_set_new(sum, "train_skipped", json_integer(s->train_skipped));
    json_object_set_new(sum, "archive_size", json_integer((json_int_t)archive_size(s->arc)));
    json_object_set_new(sum, "best_per_iteration", per_iter);
    json_t *times = json_object();
    json_object_set_new(times, "sample", json_real(s->time.sample));
    json_object_set_new(times, "score", json_real(s->time.score));
    json_object_set_new(times, "train", json_real(s->time.train));
    json_object_set_new(times, "total", json_real(s->time.total));
    json_object_set_new(sum, "seconds", times);
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", cfg->output_dir);
    char *text = json_dumps(sum, JSON_INDENT(2));
    mgCheck(text != NULL, "jansson could not serialize summary.json (out of memory)");
    mg_err e;
    int rc = file_write_atomic(path, text, strlen(text), &e);
    free(text);
    if (rc) fprintf(stderr, "migrate run: %s\n", e.msg);
    if (print) {
        printf("%s%s after %d iterations and %ld oracle calls (%ld repeats cost nothing); best %s = %.4f (%s)\n",
               s->label, s->solved ? "SOLVED" : "not solved", s->iteration, s->oracle_calls, s->repeats,
               best ? best : "(none)", b ? b->reward : 0.0, s->best_info);
        long failed = s->oracle_invalid + s->oracle_timeouts + s->oracle_crashes;
        if (failed)
            printf("%s%ld oracle calls failed (%ld invalid replies, %ld timeouts, %ld crashes; see %s/oracle.log)\n",
                   s->label, failed, s->oracle_invalid, s->oracle_timeouts, s->oracle_crashes, cfg->output_dir);
        if (s->train_skipped)
            printf("%s%ld GRPO steps were skipped for non-finite values (metrics.jsonl: train/skipped)\n", s->label,
                   s->train_skipped);
        printf("%sbest per iteration:", s->label);
        for (size_t i = 0; i < json_array_size(per_iter); i++)
            printf(" %s", json_string_value(json_array_get(per_iter, i)));
        double loop = s->time.total - s->time.sample - s->time.score - s->time.train;
        printf("\n%stime: %.1f s total, sampling %.1f, scoring %.1f, training %.1f, loop %.2f (%.1f%%)\n", s->label,
               s->time.total, s->time.sample, s->time.score, s->time.train, loop,
               100.0 * loop / (s->time.total > 0 ? s->time.total : 1));
    }
    json_decref(sum);
    return rc;
}

// The trained adapter as a PEFT folder, OUTPUT_DIR/adapter, as TRL leaves one in its output_dir.
static int export_adapter(const run_config *cfg, const model *m) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/adapter", cfg->output_dir);
    file_mkdir_p(dir);
    int n = lora_tensors(m, NULL);
    param_tensor *t = mallocCheck((size_t)n * sizeof(param_tensor));
    lora_tensors(m, t);
    mg_err e;
    int rc = peft_save(dir, cfg->model, m->lora->cfg.rank, m->lora->cfg.alpha, m->lora->cfg.targets, t, n,
                       m->lora->params, &e);
    free(t);
    if (rc) fprintf(stderr, "migrate run: %s\n", e.msg);
    return rc;
}

// Full training (lora.use_peft false): the trained weights as a model folder, OUTPUT_DIR/model, in fp32 (the
// weights as trained, to the bit), with the tokenizer beside them: a `model:` for the next run or for transformers.
static int export_weights(const run_config *cfg, const model *m) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/model", cfg->output_dir);
    file_mkdir_p(dir);
    mg_err e;
    int rc = model_save_folder(m, dir, 0, cfg->model, &e);
    if (rc) fprintf(stderr, "migrate run: %s\n", e.msg);
    return rc;
}

// The task's own files of a finished search (ARC: submission.json and arc_result.json), from the archive.
static int task_report(const run_job *j, int print) {
    if (!j->t->report) return 0;
    const search_state *s = &j->s;
    long n = (long)archive_size(s->arc);
    const char **cand = callocCheck((size_t)n + 1, sizeof *cand), **detail = callocCheck((size_t)n + 1, sizeof *detail);
    double *reward = callocCheck((size_t)n + 1, sizeof *reward);
    unsigned char *valid = callocCheck((size_t)n + 1, 1);
    for (long i = 0; i < n; i++) {
        const archive_entry *x = archive_get(s->arc, i);
        cand[i] = x->canonical, detail[i] = x->detail, reward[i] = x->reward, valid[i] = x->valid;
    }
    task_outcome o = {n, cand, reward, valid, detail, s->oracle_calls, s->iteration, s->solved, s->time.total,
                      j->cfg.output_dir};
    mg_err e;
    int rc = j->t->report(j->t, &o, print, &e);
    if (rc) fprintf(stderr, "migrate run: %s\n", e.msg);
    free(cand), free(detail), free(reward), free(valid);
    return rc;
}

int run_job_finish(run_job *j, const comm *world, int summary) {
    if (!j->open) return 0;
    learner_share_optimizer(world, &j->s.opt);
    if (!world->is_coordinator) return 0;
    comm_phase(world, "final checkpoint");
    int rc = saver_final(&j->sv, &j->s, &j->metrics);
    comm_phase(world, NULL);
    mg_err e;
    if (metrics_log_settle(&j->metrics, &e)) fprintf(stderr, "migrate run: %s\n", e.msg), rc = -1;
    if (search_finished(&j->s)) {
        if (write_summary(&j->cfg, &j->s, summary) || task_report(j, summary)) rc = -1;
        search_activate(&j->s);
        if (j->s.adapter && strategy_trains(j->cfg.strategy) && export_adapter(&j->cfg, j->s.m)) rc = -1;
        if (j->s.weights && export_weights(&j->cfg, j->s.m)) rc = -1;
    }
    return rc;
}

void run_job_close(run_job *j, int own_adapter) {
    checkpoint_writer_wait(&j->sv.writer, NULL);
    free(j->sv.config);
    if (own_adapter && j->s.adapter) lora_free(j->s.adapter);
    search_free(&j->s);
    metrics_log_close(&j->metrics);
    if (j->locked) run_unlock_dir(j->lock_fd);
    if (j->t) j->t->destroy(j->t);
    if (j->wv) word_vectors_free(j->wv);
    run_config_free(&j->cfg);
    memset(j, 0, sizeof *j);
}
