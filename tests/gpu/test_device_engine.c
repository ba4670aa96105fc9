// The model on the device engine (model_use_backend with the CUDA table, model/engine_device.c) against the same
// model on the host: model_forward, model_backward and generate keep their results, the adapter the host holds is
// the one the GPU uses (values, on/off switch, a new shape after a swap), a whole MiGrATe search runs there
// unchanged, and the learners' exact gradient sum (shards kept on the device, int64 fixed point there, then
// through the device collective) gives the host arithmetic's bits. fp32 weights, so the comparison is tight; and a
// model on bf16 weights keeps a bf16 KV cache.
// Built twice: on the real GPU (label gpu, exits 77 without one) and on the emulated kernels
// (test_device_engine_emu, label unit: every CI run exercises the wiring).
//   test_device_engine            (from the repository root)
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/search.h"
#include "kernels/cuda/ops_cuda.h"
#include "model/engine.h"
#include "model/sampler.h"
#include "testing.h"
#include "toy_task.h"

#define FIXTURE "tests/parity/fixtures/llama3-tiny"

static double max_rel(const float *a, const float *b, size_t n) {
    double amax = 0, d = 0;
    for (size_t i = 0; i < n; i++) amax = fmax(amax, fabs(a[i])), d = fmax(d, fabs((double)a[i] - b[i]));
    return amax > 0 ? d / amax : d;
}

// A nonzero adapter (B = 0 would hide every LoRA path), the same on both models.
static void give_adapter(model *m, int rank, unsigned targets) {
    mg_err e;
    lora_config lc = {.rank = rank, .alpha = 2.0f * rank, .targets = targets};
    CHECK(model_lora_init(m, &lc, 11, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < m->lora->n_params; i++) m->lora->params[i] = 0.05f * (float)sin(0.37 * (double)i);
    lora_adapter_changed(m->lora);
}

static void batch_of(packed_batch *b) {
    packed_batch_init(b);
    int a[9] = {5, 17, 200, 3, 44, 91, 7, 128, 60}, c[6] = {9, 250, 31, 31, 2, 77};
    packed_batch_add(b, a, 9, 3);
    packed_batch_add(b, c, 6, 1);
}

// forward/backward/zero_grad and the adapter's switch, for one adapter shape.
static void check_training(model *cpu, model *gpu, int rank, unsigned targets) {
    give_adapter(cpu, rank, targets), give_adapter(gpu, rank, targets);
    model_set_train_mode(cpu, TRAIN_LORA), model_set_train_mode(gpu, TRAIN_LORA);
    packed_batch b;
    batch_of(&b);
    int N = b.n_tokens;
    float *lc = calloc((size_t)N, sizeof(float)), *lg = calloc((size_t)N, sizeof(float));
    float *ec = calloc((size_t)N, sizeof(float)), *eg = calloc((size_t)N, sizeof(float));
    float *dl = calloc((size_t)N, sizeof(float));
    for (int i = 0; i < N; i++) dl[i] = b.targets[i] >= 0 ? 0.3f - 0.1f * (float)(i % 5) : 0.0f;
    for (int round = 0; round < 2; round++) {  // round 1: the host stepped the adapter, the GPU must follow
        model_zero_grad(cpu), model_zero_grad(gpu);
        model_forward(cpu, &b, 0.8f, lc, ec), model_forward(gpu, &b, 0.8f, lg, eg);
        model_backward(cpu, &b, dl), model_backward(gpu, &b, dl);
        double dlogp = max_rel(lc, lg, (size_t)N), dent = max_rel(ec, eg, (size_t)N);
        double dgrad = max_rel(cpu->lora->grads, gpu->lora->grads, cpu->lora->n_params);
        printf("  r%d targets %#x round %d: logp %.2e entropy %.2e LoRA grads %.2e (relative)\n", rank, targets, round,
               dlogp, dent, dgrad);
        CHECK(dlogp < 1e-5 && dent < 1e-5, "r%d: logp/entropy differ by %.2e/%.2e", rank, dlogp, dent);
        CHECK(dgrad < 1e-4, "r%d: LoRA gradients differ by %.2e", rank, dgrad);
        for (size_t i = 0; i < cpu->lora->n_params; i++)  // an optimizer step on the host, the same on both
            cpu->lora->params[i] -= 0.5f * cpu->lora->grads[i], gpu->lora->params[i] = cpu->lora->params[i];
        lora_adapter_changed(cpu->lora), lora_adapter_changed(gpu->lora);
    }
    cpu->lora->enabled = gpu->lora->enabled = 0;  // the KL reference: the base model
    model_forward(cpu, &b, 1.0f, lc, NULL), model_forward(gpu, &b, 1.0f, lg, NULL);
    CHECK(max_rel(lc, lg, (size_t)N) < 1e-5, "adapter switched off: logp differ by %.2e", max_rel(lc, lg, (size_t)N));
    // the adapter goes up only when its version changed: not for a second call on the same one
    long uploads = gpu->eng->lora_uploads;
    model_forward(gpu, &b, 1.0f, lg, NULL);
    CHECK(gpu->eng->lora_uploads == uploads, "an unchanged adapter was uploaded again (%ld -> %ld uploads)", uploads,
          gpu->eng->lora_uploads);
    lora_adapter_changed(gpu->lora);
    model_forward(gpu, &b, 1.0f, lg, NULL);
    CHECK(gpu->eng->lora_uploads == uploads + 1, "a changed adapter was not uploaded (%ld -> %ld uploads)", uploads,
          gpu->eng->lora_uploads);
    cpu->lora->enabled = gpu->lora->enabled = 1;
    model_set_train_mode(cpu, TRAIN_NONE), model_set_train_mode(gpu, TRAIN_NONE);
    packed_batch_free(&b);
    free(lc), free(lg), free(ec), free(eg), free(dl);
}

static void check_generate(model *cpu, model *gpu, const tokenizer *tok) {
    int p0[4] = {5, 17, 200, 3}, p1[2] = {44, 91};
    const int *prompts[2] = {p0, p1};
    int lens[2] = {4, 2};
    uint64_t ids[2] = {7, 8};
    sampling_params sp;
    sampling_params_default(&sp);
    sp.temperature = 1.0f, sp.max_new_tokens = 12, sp.seed = 99;
    completion a[2], g[2];
    mg_err e;
    CHECK(generate(cpu, tok, 2, prompts, lens, ids, &sp, 0, a, &e) == 0, "%s", e.msg);
    CHECK(generate(gpu, tok, 2, prompts, lens, ids, &sp, 0, g, &e) == 0, "%s", e.msg);
    for (int s = 0; s < 2; s++) {
        int same = a[s].n == g[s].n && !memcmp(a[s].ids, g[s].ids, (size_t)a[s].n * sizeof(int));
        CHECK(same, "sequence %d: %d tokens on the host, %d on the GPU, not the same", s, a[s].n, g[s].n);
        if (same) CHECK(max_rel(a[s].logp, g[s].logp, (size_t)a[s].n) < 1e-4, "sequence %d: sampling logp differ", s);
        completion_free(&a[s]), completion_free(&g[s]);
    }
    printf("  sampling at temperature 1 with the adapter: the same tokens\n");
    mg_dtype dt;
    size_t bytes = engine_kv_bytes(gpu->eng, &dt);
    CHECK(dt == MG_F32 && bytes > 0, "fp32 weights: the KV cache must be fp32 (the parity mode)");
}

// bf16 weights on the device (model_use_backend with MG_BF16): the KV cache is bf16 (2 bytes a value: L x slots x
// length x KV per tensor), greedy decoding replays the same tokens as CUDA graphs, and starts as the fp32 host does
// (later tokens may part at a near-tie: tests/gpu/cuda_parity_model.c bounds those); a third prompt equal to the
// first takes 9 of its 10 cache rows from the first's slot (the shared-prefix copy, model/gen_batch.c, in bf16
// bytes) and must decode as it does. Both models as loaded, no adapter.
static void check_bf16_generate(const tokenizer *tok, const mg_backend *be) {
    model host, m;
    mg_err e;
    if (model_load(&host, FIXTURE, &e) || model_load(&m, FIXTURE, &e) || model_use_backend(&m, be, MG_BF16, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    model *cpu = &host;
    int p0[10] = {5, 17, 200, 3, 44, 91, 7, 128, 60, 9}, p1[2] = {44, 91};
    const int *prompts[3] = {p0, p1, p0};
    int lens[3] = {10, 2, 10};
    uint64_t ids[3] = {7, 8, 9};
    sampling_params sp;
    sampling_params_default(&sp);
    sp.temperature = 0.0f, sp.max_new_tokens = 12;
    completion a[3], g[3], r[3];
    CHECK(generate(cpu, tok, 3, prompts, lens, ids, &sp, 0, a, &e) == 0, "%s", e.msg);
    CHECK(generate(&m, tok, 3, prompts, lens, ids, &sp, 0, g, &e) == 0, "%s", e.msg);
    int copied = g[2].n == g[0].n && !memcmp(g[2].ids, g[0].ids, (size_t)g[0].n * sizeof(int));
    CHECK(copied, "bf16: a prompt whose cache rows were copied from an equal one decodes differently");
    mg_dtype dt;
    size_t bytes = engine_kv_bytes(m.eng, &dt), per_token = 2 * (size_t)m.cfg.num_hidden_layers *
                                                               m.cfg.num_key_value_heads * m.cfg.head_dim * 2;
    CHECK(dt == MG_BF16 && bytes > 0 && bytes % per_token == 0, "bf16 weights: the KV cache is %s, %zu bytes",
          dt == MG_BF16 ? "bf16" : "fp32", bytes);
    m.eng->use_graphs = 1;
    CHECK(generate(&m, tok, 3, prompts, lens, ids, &sp, 0, r, &e) == 0, "%s", e.msg);
    m.eng->use_graphs = 0;
    int agree[3];
    for (int s = 0; s < 3; s++) {
        int same = g[s].n == r[s].n && !memcmp(g[s].ids, r[s].ids, (size_t)g[s].n * sizeof(int));
        CHECK(same, "bf16: sequence %d with CUDA graphs differs from eager decoding", s);
        for (agree[s] = 0; agree[s] < a[s].n && agree[s] < g[s].n && a[s].ids[agree[s]] == g[s].ids[agree[s]];)
            agree[s]++;
        CHECK(agree[s] > 0, "bf16: sequence %d starts with %d, the fp32 host with %d", s, g[s].ids[0], a[s].ids[0]);
        completion_free(&a[s]), completion_free(&g[s]), completion_free(&r[s]);
    }
    printf("  bf16 weights: KV cache bf16 (%zu bytes, %zu per token); greedy = fp32 host for %d, %d of 12 tokens; "
           "graphs = eager; the copied prompt decodes as its source: %s\n", bytes, per_token, agree[0], agree[1],
           copied ? "yes" : "NO");
    model_free(&m), model_free(&host);
}

// A short migrate search (sampling, scoring, the mixed group, GRPO steps, 4 gradient shards of 2 members) on m:
// the first archive entry and a copy of the final adapter (*n values, the caller frees it).
static float *search_adapter(model *m, const tokenizer *tok, char first[64], size_t *n) {
    const char *yaml = "model: " FIXTURE "\n";
    const char *over[] = {"strategy=migrate", "iterations=2", "search.num_on_policy=4", "search.num_neighborhood=2",
                          "search.num_greedy=2", "sampling.max_completion_length=6", "lora.r=4", "lora.alpha=8",
                          "task.type=semantle", "task.target=x", "task.vectors=x", "training.learning_rate=1e-3",
                          "training.members_per_shard=2"};
    run_config c;
    mg_err e;
    *n = 0, first[0] = '\0';
    if (run_config_parse(&c, yaml, strlen(yaml), "test.yaml", over, 13, &e)) {
        CHECK(0, "%s", e.msg);
        return NULL;
    }
    toy_state st = {0, NULL};
    task t = make_toy(&st);
    search_state s;
    float *out = NULL;
    if (search_attach_adapter(m, &c, &e) == 0 && search_init(&s, &c, m, tok, &t, 0, NULL, NULL, &e) == 0) {
        int status;
        while ((status = search_step(&s, &e)) == 0) {}
        CHECK(status == 1, "search: %s", e.msg);
        snprintf(first, 64, "%s", archive_size(s.arc) ? archive_canonical(s.arc, 0) : "");
        *n = s.adapter->n_params;
        out = malloc(*n * sizeof(float));
        memcpy(out, s.adapter->params, *n * sizeof(float));
        search_free(&s);
    } else {
        CHECK(0, "%s", e.msg);
    }
    model_set_train_mode(m, TRAIN_NONE);
    run_config_free(&c);
    return out;
}

static double abs_sum(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += fabsf(x[i]);
    return s;
}

static void check_search(model *cpu, model *gpu, const tokenizer *tok) {
    char first[2][64];
    size_t n[2];
    float *p[2] = {search_adapter(cpu, tok, first[0], &n[0]), search_adapter(gpu, tok, first[1], &n[1])};
    CHECK(p[0] && p[1] && n[0] == n[1], "the searches ran and made adapters of one size");
    CHECK(!strcmp(first[0], first[1]), "the first candidate differs: '%s' on the host, '%s' on the GPU", first[0], first[1]);
    double sum[2] = {p[0] ? abs_sum(p[0], n[0]) : 0, p[1] ? abs_sum(p[1], n[1]) : 0};
    CHECK(fabs(sum[0] - sum[1]) < 1e-4 * sum[0], "adapter after 2 GRPO iterations: |sum| %.7g host, %.7g GPU",
          sum[0], sum[1]);
    printf("  migrate search, 2 iterations: first candidate '%s' on both; adapter |sum| %.7g / %.7g\n", first[0],
           sum[0], sum[1]);
    // Again on the GPU, eagerly and then with decode steps replayed as CUDA graphs, as `migrate run` does
    // (engine.cuda_graphs): a replay runs the kernels of the eager step, so both must end on the same adapter, bit
    // for bit. (The eager rerun, not the search above, is the reference: the first GPU search of the process ends
    // within 5e-8 of later ones, not on their bits.)
    char first_r[2][64];
    size_t n_r[2];
    float *r[2];
    long replays = gpu->eng->graph_replays;
    for (int graphs = 0; graphs < 2; graphs++) {
        gpu->eng->use_graphs = graphs;
        r[graphs] = search_adapter(gpu, tok, first_r[graphs], &n_r[graphs]);
    }
    gpu->eng->use_graphs = 0;
    replays = gpu->eng->graph_replays - replays;
    CHECK(replays > 0, "the search with CUDA graphs replayed none");
    int same = r[0] && r[1] && n_r[0] == n_r[1] && !memcmp(r[0], r[1], n_r[0] * sizeof(float)) &&
               !strcmp(first_r[0], first_r[1]);
    CHECK(same, "the search with CUDA graphs ends elsewhere than without (first candidate '%s' / '%s')", first_r[1],
          first_r[0]);
    printf("  the same search with CUDA graphs (%ld decode steps replayed): %s adapter\n", replays,
           same ? "the same" : "ANOTHER");
    free(p[0]), free(p[1]), free(r[0]), free(r[1]);
}

// The exact sum's engine half on the device (shard gradients kept there, int64 fixed point on the GPU) against the
// same arithmetic on the host over the shard gradients brought back (kernels/ops.h: absmax, fixed_accumulate,
// fixed_to_float): the same bits; and again with the integers summed by the device collective (NCCL, one rank),
// as workers/comm.c sums them across learners.
static void check_kept_sum(model *gpu) {
    give_adapter(gpu, 4, LORA_Q | LORA_V);
    model_set_train_mode(gpu, TRAIN_LORA);
    engine *e = gpu->eng;
    size_t n = gpu->lora->n_params;
    packed_batch b;
    batch_of(&b);
    int N = b.n_tokens;
    float *logp = calloc((size_t)N, sizeof(float)), *dl = calloc((size_t)N, sizeof(float));
    float *shard[3], *want = calloc(n, sizeof(float)), *got = calloc(n, sizeof(float));
    int64_t *acc = calloc(n, sizeof(int64_t));
    double amax = 0;
    for (int k = 0; k < 3; k++) {  // three shards: the same batch with other dL/dlogp
        for (int i = 0; i < N; i++) dl[i] = b.targets[i] >= 0 ? (0.3f - 0.1f * (float)(i % 5)) * (float)(k + 1) : 0.0f;
        model_forward(gpu, &b, 1.0f, logp, NULL);
        model_backward_keep(gpu, &b, dl, k);
        shard[k] = calloc(n, sizeof(float));
        engine_lora_download_grads(e, shard[k]);  // what the slot kept
        amax = fmax(amax, absmax(shard[k], n));
    }
    CHECK(engine_grad_kept_absmax(e, 3) == amax, "the kept shards' max |g| differs from the host's");
    int ex;
    frexp(amax * 3, &ex);
    double scale = ldexp(1.0, 62 - ex);
    for (int k = 0; k < 3; k++) fixed_accumulate(acc, shard[k], n, scale);
    fixed_to_float(want, acc, n, scale);
    engine_grad_from_fixed(e, engine_grad_kept_fixed(e, 3, scale), scale, got);
    CHECK(!memcmp(want, got, n * sizeof(float)), "the device's fixed-point sum differs from the host's");
    printf("  3 gradient shards kept and summed on the device: the host sum's bits (%zu values, |sum| %.7g)\n", n,
           abs_sum(got, n));
    const mg_backend *be = e->be;
    if (be->coll_join) {
        unsigned char id[MG_COLL_ID_BYTES];
        mg_err err;
        void *coll = NULL;
        if (be->coll_unique_id(id, &err) || !(coll = be->coll_join(id, 1, 0, &err))) {
            CHECK(0, "device collective with one rank: %s", err.msg);
        } else {
            int64_t *dacc = engine_grad_kept_fixed(e, 3, scale);
            CHECK(be->coll_sum_i64(coll, dacc, n, &err) == 0, "%s", err.msg);
            memset(got, 0, n * sizeof(float));
            engine_grad_from_fixed(e, dacc, scale, got);
            CHECK(!memcmp(want, got, n * sizeof(float)), "the sum through the device collective differs");
            printf("  ... and through the device collective (%s, one rank): the same bits\n", be->name);
            be->coll_free(coll);
        }
    }
    for (int k = 0; k < 3; k++) free(shard[k]);
    free(logp), free(dl), free(want), free(got), free(acc);
    packed_batch_free(&b);
    model_set_train_mode(gpu, TRAIN_NONE);
}

int main(void) {
    if (cuda_device_count() == 0) {
        printf("no CUDA device\n");
        return 77;
    }
    model cpu, gpu;
    tokenizer *tok;
    mg_err e;
    if (model_load(&cpu, FIXTURE, &e) || model_load(&gpu, FIXTURE, &e) || tokenizer_load(&tok, FIXTURE, &e)) {
        CHECK(0, "%s", e.msg);
        return test_summary("test_device_engine");
    }
    const mg_backend *be = mg_backend_cuda_open(-1, &e);
    if (!be || model_use_backend(&gpu, be, MG_F32, &e)) {
        CHECK(0, "%s", e.msg);
        return test_summary("test_device_engine");
    }
    CHECK(gpu.params == NULL, "the host copy of the weights is still held after the upload");  // all runs there now
    printf("device: %s\n", cuda_device_name());
    check_training(&cpu, &gpu, 8, LORA_Q | LORA_V);
    check_training(&cpu, &gpu, 4, LORA_Q | LORA_K | LORA_V | LORA_O | LORA_GATE | LORA_UP | LORA_DOWN);  // new shape
    check_generate(&cpu, &gpu, tok);
    check_bf16_generate(tok, be);
    check_search(&cpu, &gpu, tok);
    check_kept_sum(&gpu);
    tokenizer_free(tok);
    model_free(&cpu);
    model_free(&gpu);  // frees the engine too
    return test_summary("test_device_engine");
}
