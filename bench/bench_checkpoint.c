// What a checkpoint costs: a 100k-entry archive plus a rank-64 LoRA (q, k, v, o) with its AdamW moments for a
// Llama-3.2-1B-shaped model. Reports the loop's stall (the snapshot copy), the background write (HDF5 image,
// write, fsync, rename), the file size and the full verified read. Only the adapter is allocated, not the 1B
// weights, since nothing in a checkpoint depends on them but their config hash.
//   bench_checkpoint [--entries N] [--rank R] [--out FILE] [--repeats K]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/rng.h"
#include "coordinator/checkpoint.h"
#include "model/model_internal.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    long entries = 100000;
    int rank = 64, repeats = 3;
    const char *out = "/tmp/migrate_bench_checkpoint.h5";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--entries")) entries = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--rank")) rank = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
    }
    // Llama-3.2-1B's shape.
    model m;
    memset(&m, 0, sizeof m);
    m.cfg.hidden_size = 2048, m.cfg.num_hidden_layers = 16, m.cfg.num_attention_heads = 32;
    m.cfg.num_key_value_heads = 8, m.cfg.head_dim = 64, m.cfg.intermediate_size = 8192, m.cfg.vocab_size = 128256;
    m.n_params = 1235814400;
    mg_err e;
    lora_config lc = {.rank = rank, .alpha = 16, .targets = LORA_Q | LORA_K | LORA_V | LORA_O};
    if (model_lora_init(&m, &lc, 1, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    for (size_t i = 0; i < m.lora->n_params; i++) m.lora->params[i] = rng_normal(3, 0, i) * 0.01f;

    run_config cfg;
    run_config_defaults(&cfg);
    search_state s;
    memset(&s, 0, sizeof s);
    s.cfg = &cfg, s.m = &m;
    s.arc = archive_create(0);
    adamw_init(&s.opt, m.lora->n_params);
    for (size_t i = 0; i < s.opt.n; i++) s.opt.m[i] = rng_normal(4, 0, i) * 1e-4f, s.opt.v[i] = rng_uniform(5, 0, i) * 1e-8f;
    s.opt.t = 500;
    // Entries shaped like SMILES answers: a ~40-character canonical form and a ~60-character completion.
    static const char alphabet[] = "CCCCNNOc1ccccc1()=[]@H+-Fl#";
    char canon[64], comp[96];
    for (long i = 0; i < entries; i++) {
        int n = 30 + (int)(rng_uniform(6, (uint64_t)i, 0) * 20);
        for (int k = 0; k < n; k++) canon[k] = alphabet[(int)(rng_uniform(7, (uint64_t)i, (uint64_t)k) * 27)];
        snprintf(canon + n, sizeof canon - (size_t)n, "%ld", i);
        snprintf(comp, sizeof comp, "Here is a variation: %s", canon);
        archive_add(s.arc, canon, comp, rng_uniform(8, (uint64_t)i, 0), i % 10 != 0, (int)(i / 64), (origin_kind)(i % 3));
    }
    s.iteration = (int)(entries / 64);
    s.best_history = calloc((size_t)s.iteration, sizeof(long));
    s.oracle_calls = entries;

    double *take = malloc((size_t)repeats * sizeof(double)), *write = malloc((size_t)repeats * sizeof(double));
    double *readt = malloc((size_t)repeats * sizeof(double));
    for (int r = 0; r < repeats; r++) {
        checkpoint c, back;
        double t0 = mg_seconds();
        checkpoint_take(&c, &s, "model: x\n", "models/llama-3.2-1b", 1, NULL, 0);
        double t1 = mg_seconds();
        if (checkpoint_write(&c, out, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
        double t2 = mg_seconds();
        if (checkpoint_read(&back, out, NULL, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
        double t3 = mg_seconds();
        if (back.digest != c.digest) return fprintf(stderr, "read back differs\n"), 1;
        take[r] = t1 - t0, write[r] = t2 - t1, readt[r] = t3 - t2;
        checkpoint_free(&c), checkpoint_free(&back);
    }
    qsort(take, (size_t)repeats, sizeof(double), cmp_double);
    qsort(write, (size_t)repeats, sizeof(double), cmp_double);
    qsort(readt, (size_t)repeats, sizeof(double), cmp_double);
    struct stat st;
    stat(out, &st);
    double state_mb = (3.0 * (double)m.lora->n_params * 4) / 1e6;
    printf("checkpoint of %ld archive entries + LoRA r%d on q,k,v,o of a Llama-3.2-1B shape (%zu adapter parameters, "
           "%.1f MB with both AdamW moments)\n", entries, rank, m.lora->n_params, state_mb);
    printf("  loop stall (snapshot copy)  %8.1f ms (median of %d)\n", 1e3 * take[repeats / 2], repeats);
    printf("  background write + fsync    %8.1f ms  (%.0f MB/s)\n", 1e3 * write[repeats / 2],
           (double)st.st_size / 1e6 / write[repeats / 2]);
    printf("  verified read (resume)      %8.1f ms\n", 1e3 * readt[repeats / 2]);
    printf("  file size                   %8.1f MB\n", (double)st.st_size / 1e6);
    remove(out);
    free(take), free(write), free(readt), free(s.best_history);
    archive_free(s.arc);
    adamw_free(&s.opt);
    lora_free(m.lora);
    return 0;
}
