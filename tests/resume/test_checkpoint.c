// Checkpoints through the library: a search checkpointed mid-way and resumed into a fresh process state ends
// bit-identical to the uninterrupted search (also with a bounded archive that drops entries); the background writer
// writes what the foreground one does; a file of an unknown format version, with a missing dataset, of another
// LoRA shape, or written past a file-size limit is refused or left intact; the config check names the key.
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coordinator/checkpoint.h"
#include "coordinator/h5io.h"
#include "testing.h"
#include "toy_task.h"

typedef struct {
    run_config cfg;
    toy_state st;
    task t;
    search_state s;
} run;

static int start_stale(run *r, model *m, const tokenizer *tok, const char *max_entries, int staleness) {
    mg_err e;
    char over_max[64], over_stale[64];
    snprintf(over_max, sizeof over_max, "search.archive_max_entries=%s", max_entries);
    snprintf(over_stale, sizeof over_stale, "training.staleness=%d", staleness);
    const char *over[] = {"iterations=6", "search.num_on_policy=4", "search.num_neighborhood=2", "search.num_greedy=2",
                          "sampling.max_completion_length=6", "training.learning_rate=1e-2", "task.type=semantle",
                          "task.target=x", "task.vectors=x", "lora.r=4", "lora.target_modules=q_proj,v_proj", over_max,
                          over_stale};
    const char *yaml = "model: tests/parity/fixtures/llama3-tiny\n";
    if (run_config_parse(&r->cfg, yaml, strlen(yaml), "test.yaml", over, 13, &e)) {
        CHECK(0, "%s", e.msg);
        return -1;
    }
    r->st = (toy_state){0, NULL};
    r->t = make_toy(&r->st);
    if (search_attach_adapter(m, &r->cfg, &e) || search_init(&r->s, &r->cfg, m, tok, &r->t, 7, NULL, NULL, &e)) {
        CHECK(0, "%s", e.msg);
        return -1;
    }
    return 0;
}

static int start(run *r, model *m, const tokenizer *tok, const char *max_entries) {
    return start_stale(r, m, tok, max_entries, 0);
}

static void finish(run *r, model *m) {
    search_free(&r->s);
    model_set_train_mode(m, TRAIN_NONE);
    run_config_free(&r->cfg);
}

static uint64_t digest_now(const search_state *s) {
    checkpoint c;
    checkpoint_take(&c, s, "x", "m", 42, NULL, 0);
    uint64_t d = checkpoint_digest(&c);
    checkpoint_free(&c);
    return d;
}

// Uninterrupted 6 iterations vs 3 + checkpoint + resume into a fresh search + 3. With training.staleness k, the
// checkpoint at 3 holds the k groups that wait for their update. Returns the final digest.
static uint64_t resume_equals_uninterrupted(model *m, const tokenizer *tok, const char *max_entries, int staleness,
                                            const char *path) {
    mg_err e;
    run a, b;
    if (start_stale(&a, m, tok, max_entries, staleness)) return 0;
    checkpoint mid;
    memset(&mid, 0, sizeof mid);
    while (!search_finished(&a.s)) {
        CHECK(search_step(&a.s, &e) >= 0, "%s", e.msg);
        if (a.s.iteration == 3) {
            checkpoint_take(&mid, &a.s, "config text", "tests/parity/fixtures/llama3-tiny", 42, "{\"iteration\": 1}\n", 17);
            CHECK(checkpoint_write(&mid, path, &e) == 0, "%s", e.msg);
        }
    }
    uint64_t want = digest_now(&a.s);
    long top_a[8];
    int n_top_a = archive_top(a.s.arc, 8, top_a);
    size_t dropped = 0;
    for (size_t i = 0; i < archive_size(a.s.arc); i++) dropped += archive_get(a.s.arc, (long)i)->dropped;
    finish(&a, m);

    if (start_stale(&b, m, tok, max_entries, staleness)) return 0;
    CHECK(mid.n_pending == staleness, "staleness %d: %lld groups wait at the checkpoint", staleness,
          (long long)mid.n_pending);
    checkpoint back;
    CHECK(checkpoint_read(&back, path, m, &e) == 0, "%s", e.msg);
    CHECK(back.digest == mid.digest && back.metrics_bytes == 17 && !strcmp(back.metrics, "{\"iteration\": 1}\n") && back.model_hash == 42 &&
              !strcmp(back.config, "config text") && back.iteration == 3,
          "read back differs: digest %llx vs %llx", (unsigned long long)back.digest, (unsigned long long)mid.digest);
    CHECK(checkpoint_apply(&back, &b.s, &e) == 0, "%s", e.msg);
    CHECK(digest_now(&b.s) == mid.digest, "applied state differs from the snapshot");
    while (!search_finished(&b.s)) CHECK(search_step(&b.s, &e) >= 0, "%s", e.msg);
    long top_b[8];
    int n_top_b = archive_top(b.s.arc, 8, top_b);
    CHECK(digest_now(&b.s) == want, "max_entries %s: resumed run ends in another state", max_entries);
    CHECK(n_top_a == n_top_b && !memcmp(top_a, top_b, (size_t)n_top_a * sizeof(long)), "top entries differ");
    printf("  max_entries %-3s staleness %d: 6 iterations, %zu entries (%zu dropped), resume at 3 -> digest %016llx "
           "both ways\n", max_entries, staleness, archive_size(b.s.arc), dropped, (unsigned long long)want);
    finish(&b, m);
    checkpoint_free(&back);
    checkpoint_free(&mid);
    return want;
}

// Task details (ARC keeps each program's test outputs there) survive a checkpoint and a resume, count in the
// digest, and a file written as format version 2 (no details) still reads, as having none.
static void details(model *m, const tokenizer *tok, const char *where) {
    mg_err e;
    char path[512];
    snprintf(path, sizeof path, "%s.details", where);
    run a, b;
    if (start(&a, m, tok, "0")) return;
    for (int i = 0; i < 2; i++) CHECK(search_step(&a.s, &e) >= 0, "%s", e.msg);
    checkpoint plain, with;
    checkpoint_take(&plain, &a.s, "config text", "tests/parity/fixtures/llama3-tiny", 42, NULL, 0);
    archive_set_detail(a.s.arc, 0, strdup("[[[1,2]]]"));
    archive_set_detail(a.s.arc, 2, strdup("[{\"error\":\"timeout\"}]"));
    checkpoint_take(&with, &a.s, "config text", "tests/parity/fixtures/llama3-tiny", 42, NULL, 0);
    CHECK(checkpoint_digest(&plain) != checkpoint_digest(&with), "the digest does not cover the details");
    CHECK(checkpoint_write(&with, path, &e) == 0, "%s", e.msg);
    checkpoint back;
    CHECK(checkpoint_read(&back, path, m, &e) == 0 && back.format_version == CHECKPOINT_FORMAT_VERSION, "%s", e.msg);
    if (start(&b, m, tok, "0")) return;
    CHECK(checkpoint_apply(&back, &b.s, &e) == 0, "%s", e.msg);
    const archive_entry *x0 = archive_get(b.s.arc, 0), *x1 = archive_get(b.s.arc, 1), *x2 = archive_get(b.s.arc, 2);
    CHECK(x0 && x0->detail && !strcmp(x0->detail, "[[[1,2]]]") && x1 && !x1->detail && x2 && x2->detail &&
              !strcmp(x2->detail, "[{\"error\":\"timeout\"}]"),
          "details after resume: '%s' / '%s'", x0 && x0->detail ? x0->detail : "(none)",
          x2 && x2->detail ? x2->detail : "(none)");
    CHECK(digest_now(&b.s) == checkpoint_digest(&with), "the resumed search's digest differs");
    checkpoint_free(&back);
    finish(&b, m);
    plain.format_version = 2;
    CHECK(checkpoint_write(&plain, path, &e) == 0, "%s", e.msg);
    CHECK(checkpoint_read(&back, path, m, &e) == 0 && back.format_version == 2 && back.detail_bytes == 0 &&
              back.digest == checkpoint_digest(&plain),
          "a version 2 file: %s", e.msg);
    checkpoint_free(&back);
    printf("  details: 2 of %zu entries keep one through a checkpoint; version 2 files read without them\n",
           archive_size(a.s.arc));
    checkpoint_free(&plain), checkpoint_free(&with);
    finish(&a, m);
    remove(path);
}

static void set_version(const char *path, int64_t v) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete(f, "format_version");
    mg_err e;
    h5io_attr_i64(f, "format_version", v, &e);
    H5Fclose(f);
}

static void refusals(model *m, const tokenizer *tok, const char *path) {
    mg_err e;
    checkpoint c;
    char cmd[600];
    char copy[512];
    snprintf(copy, sizeof copy, "%s.copy", path);
    snprintf(cmd, sizeof cmd, "cp %s %s", path, copy);
    // Unknown version.
    CHECK(system(cmd) == 0, "cp");
    set_version(copy, 7);
    CHECK(checkpoint_read(&c, copy, NULL, &e) == -1 && strstr(e.msg, "version 7; this migrate reads versions 2 and 3"),
          "version 7 accepted or wrong message: %s", e.msg);
    printf("  %s\n", e.msg);
    // Version 1: nothing covered its config.
    CHECK(system(cmd) == 0, "cp");
    set_version(copy, 1);
    CHECK(checkpoint_read(&c, copy, NULL, &e) == -1 && strstr(e.msg, "does not cover its config"),
          "version 1 accepted or wrong message: %s", e.msg);
    CHECK(checkpoint_read_header(&c, copy, &e) == -1, "version 1's header accepted");
    // Edits that keep every HDF5 checksum valid (as h5py would make them): the digests refuse each one.
    static const char *const texts[][2] = {
        {"config", "model: m\ntask:\n  type: oracle\n  command: \"sh -c 'touch /tmp/pwned'\"\n"},
        {"metrics", "{\"iteration\": 1, \"reward\": 99}\n"},
    };
    for (int k = 0; k < 2; k++) {
        CHECK(system(cmd) == 0, "cp");
        hid_t g = H5Fopen(copy, H5F_ACC_RDWR, H5P_DEFAULT);
        H5Ldelete(g, texts[k][0], H5P_DEFAULT);
        CHECK(h5io_write(g, texts[k][0], H5T_NATIVE_UINT8, strlen(texts[k][1]), 0, texts[k][1], 1, &e) == 0, "%s", e.msg);
        if (k == 1) {  // metrics_bytes made to agree, so only the digest can tell
            hid_t st = H5Gopen2(g, "state", H5P_DEFAULT);
            H5Adelete(st, "metrics_bytes");
            h5io_attr_i64(st, "metrics_bytes", (int64_t)strlen(texts[k][1]), &e);
            H5Gclose(st);
        }
        H5Fclose(g);
        CHECK(checkpoint_read(&c, copy, NULL, &e) == -1 && strstr(e.msg, "do not match the file's digest"),
              "an edited /%s was accepted: %s", texts[k][0], e.msg);
        printf("  /%s edited: %s\n", texts[k][0], e.msg);
    }
    // A timing flipped to nonsense or to NaN: refused by name, not carried into summary.json.
    const double bad_seconds[] = {1.999e77, -1.0, NAN};
    for (int k = 0; k < 3; k++) {
        CHECK(system(cmd) == 0, "cp");
        hid_t g = H5Fopen(copy, H5F_ACC_RDWR, H5P_DEFAULT);
        hid_t st = H5Gopen2(g, "state", H5P_DEFAULT);
        H5Adelete(st, "seconds_sample");
        h5io_attr_f64(st, "seconds_sample", bad_seconds[k], &e);
        H5Gclose(st);
        H5Fclose(g);
        CHECK(checkpoint_read(&c, copy, NULL, &e) == -1 && strstr(e.msg, "'seconds_sample'"),
              "seconds_sample %g accepted: %s", bad_seconds[k], e.msg);
        CHECK(checkpoint_read_header(&c, copy, &e) == -1, "seconds_sample %g accepted by the header", bad_seconds[k]);
    }
    printf("  %s\n", e.msg);
    // A missing dataset.
    CHECK(system(cmd) == 0, "cp");
    hid_t f = H5Fopen(copy, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "archive/reward", H5P_DEFAULT);
    H5Fclose(f);
    CHECK(checkpoint_read(&c, copy, NULL, &e) == -1 && strstr(e.msg, "'reward' is missing"), "missing reward: %s", e.msg);
    printf("  %s\n", e.msg);
    run r;
    if (start(&r, m, tok, "0")) return;
    checkpoint big;
    checkpoint_take(&big, &r.s, "config", "m", 1, NULL, 0);
    // One flipped bit inside a chunk of the adapter's data: the Fletcher-32 checksum refuses it.
    {
        CHECK(system(cmd) == 0, "cp");
        hid_t g = H5Fopen(copy, H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t d = H5Dopen2(g, "adapter/model.layers.1.self_attn.v_proj.lora_A.weight", H5P_DEFAULT);
        haddr_t addr = 0;
        hsize_t size = 0;
        hid_t sp = H5Dget_space(d);
        CHECK(d >= 0 && H5Dget_chunk_info(d, sp, 0, NULL, NULL, &addr, &size) >= 0 && size > 16, "chunk info");
        H5Sclose(sp);
        H5Dclose(d);
        H5Fclose(g);
        FILE *fp = fopen(copy, "r+b");
        fseek(fp, (long)(addr + size / 2), SEEK_SET);
        int byte = fgetc(fp);
        fseek(fp, (long)(addr + size / 2), SEEK_SET);
        fputc(byte ^ 0x10, fp);
        fclose(fp);
        CHECK(checkpoint_read(&c, copy, NULL, &e) == -1 && strstr(e.msg, "v_proj.lora_A.weight' is corrupt"),
              "a flipped bit in the adapter was not refused: %s", e.msg);
        printf("  %s\n", e.msg);
    }
    // Another LoRA shape: rank 8 instead of 4.
    lora_config lc = {.rank = 8, .alpha = 8, .targets = LORA_Q | LORA_V};
    CHECK(model_lora_init(m, &lc, 1, &e) == 0, "%s", e.msg);
    CHECK(checkpoint_read(&c, path, m, &e) == -1 && strstr(e.msg, "rank 4"), "rank 8 accepted: %s", e.msg);
    printf("  %s\n", e.msg);
    // Config compatibility names the key.
    const char *saved = "seed: 1\niterations: 5\ntraining:\n  learning_rate: 5e-05\n";
    const char *longer = "seed: 1\niterations: 50\ntraining:\n  learning_rate: 5e-05\n";
    const char *other = "seed: 1\niterations: 5\ntraining:\n  learning_rate: 1e-04\n";
    CHECK(checkpoint_config_compatible(saved, longer, "c.h5", &e) == 0, "more iterations refused: %s", e.msg);
    CHECK(checkpoint_config_compatible(saved, other, "c.h5", &e) == -1 && strstr(e.msg, "'training.learning_rate' was 5e-05"),
          "another learning rate accepted: %s", e.msg);
    // A key newer than the checkpoint (written before the key existed) is compatible at its default only.
    const char *newer_default = "seed: 1\niterations: 5\ntraining:\n  learning_rate: 5e-05\nlora:\n  use_peft: true\n";
    const char *newer_other = "seed: 1\niterations: 5\ntraining:\n  learning_rate: 5e-05\nlora:\n  use_peft: false\n";
    CHECK(checkpoint_config_compatible(saved, newer_default, "c.h5", &e) == 0, "a newer key at its default refused: %s",
          e.msg);
    CHECK(checkpoint_config_compatible(saved, newer_other, "c.h5", &e) == -1 && strstr(e.msg, "'lora.use_peft' was true"),
          "a newer key off its default accepted: %s", e.msg);
    // A write past the file-size limit (a full disk) fails and leaves the previous checkpoint as it was.
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);  // the writer's temporary is PATH.tmp.PID: this child's pid
        struct rlimit rl = {4096, 4096};
        setrlimit(RLIMIT_FSIZE, &rl);
        mg_err e2;
        int rc = checkpoint_write(&big, path, &e2);
        _exit(rc == -1 && strstr(e2.msg, "the previous one is kept") ? 0 : 3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "write past the size limit: child status %d", status);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)pid);
    CHECK(access(tmp, F_OK) != 0, "the temp file was left behind");
    CHECK(checkpoint_read(&c, path, NULL, &e) == 0 && c.iteration == 3, "previous checkpoint damaged: %s", e.msg);
    checkpoint_free(&c);
    // The background writer writes the same file.
    checkpoint_writer w;
    memset(&w, 0, sizeof w);
    uint64_t d = checkpoint_digest(&big);
    checkpoint_writer_start(&w, &big, copy);
    CHECK(checkpoint_writer_wait(&w, &e) == 0, "%s", e.msg);
    CHECK(checkpoint_read(&c, copy, NULL, &e) == 0 && c.digest == d, "background write differs: %s", e.msg);
    checkpoint_free(&c);
    checkpoint_free(&big);
    finish(&r, m);
    unlink(copy);
}

int main(void) {
    model m;
    tokenizer *tok;
    mg_err e;
    if (model_load(&m, "tests/parity/fixtures/llama3-tiny", &e) || tokenizer_load(&tok, "tests/parity/fixtures/llama3-tiny", &e)) {
        CHECK(0, "%s", e.msg);
        return test_summary("test_checkpoint");
    }
    char path[256];
    snprintf(path, sizeof path, "/tmp/migrate_test_checkpoint_%d.h5", (int)getpid());
    uint64_t exact = resume_equals_uninterrupted(&m, tok, "0", 0, path);
    resume_equals_uninterrupted(&m, tok, "5", 0, path);
    uint64_t stale = resume_equals_uninterrupted(&m, tok, "0", 2, path);  // two groups wait at the checkpoint
    CHECK(stale != exact, "training.staleness 2 ends in the same state as 0: the update lag changed nothing");
    details(&m, tok, path);
    refusals(&m, tok, path);
    unlink(path);
    tokenizer_free(tok);
    model_free(&m);
    return test_summary("test_checkpoint");
}
