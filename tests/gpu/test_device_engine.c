// The model on the device engine (model_use_backend with the CUDA table, model/engine_device.c) against the same
// model on the host: model_forward, model_backward and generate keep their results, the adapter the host holds is
// the one the GPU uses (values, on/off switch, a new shape after a swap), a whole MiGrATe search runs there
// unchanged, and the learners' exact gradient sum (shards kept on the device, int64 fixed point there, then
// through the device collective) gives the host arithmetic's bits. fp32 weights, so the comparison is tight; shared
// prompts in training (training.share_prefix: members' attention over expanded keys) also with bf16 weights; and a
// model on bf16 weights keeps a bf16 KV cache.
// Built twice: on the real GPU (label gpu, exits 77 without one) and on the emulated kernels
// (test_device_engine_emu, label unit: every CI run exercises the wiring).
//   test_device_engine            (from the repository root)
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "coordinator/search.h"
#include "kernels/cuda/attention_gemm.h"
#include "kernels/cuda/ops_cuda.h"
#include "model/engine.h"
#include "model/engine_internal.h"
#include "model/sampler.h"
#include "workers/learner.h"
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

// The layout the engine gives the members' queries over the expanded keys (model/engine.c: region of member s =
// its prefix's rows, then its own; kv_start = the region's first row, kv_len = position + 1): whether the GEMMs
// take it (else the tiled kernels run it).
static int expanded_on_gemms(const packed_batch *b, const hf_config *c) {
    int P = b->seq_start[b->n_prefixes], n = b->n_tokens - P, region = 0;
    int *ks = malloc((size_t)n * sizeof(int)), *kl = malloc((size_t)n * sizeof(int));
    for (int s = b->n_prefixes; s < b->n_seqs; s++) {
        for (int i = b->seq_start[s]; i < b->seq_start[s + 1]; i++) ks[i - P] = region, kl[i - P] = b->pos[i] + 1;
        region += b->pos[b->seq_start[s + 1] - 1] + 1;
    }
    attention_gemm_plan_info info;
    attention_gemm_plan(&info, ks, kl, n, c->num_attention_heads, c->num_key_value_heads, c->head_dim, MG_F32);
    free(ks), free(kl);
    return info.taken;
}

// Prompts that several members share, packed once (packed_batch_add_prefix / _add_after, as the learner packs a
// shard with training.share_prefix): the members' queries then attend to keys in the expanded array (expand_kv),
// rows at other offsets than the queries' and more of them than the member's own rows. On the device: the same
// scored log-probs, entropies and LoRA gradients as (a) the host engine on the same shared batch (the kernels on
// expanded keys) and (b) the device on the members packed whole (expand_kv and its fold). Two prompts of 20 and 17
// tokens shared by three and two members, one member alone; completions long enough for the GEMMs (avg run >= 4),
// then short enough that the expanded keys go to the tiled kernels. tol[0]: logp and entropy, tol[1]: LoRA
// gradients (max|a - b| / max|b|), against the host (a) and against the device's whole packing (b), in that order.
static void check_shared_prompts(model *cpu, model *gpu, const int *clen, int gemm, const char *mode,
                                 const double tol[2][2]) {
    enum { M = 6 };
    int V = cpu->cfg.vocab_size, prompt_of[M] = {0, 0, 1, 0, 1, 2}, plen[3] = {20, 17, gemm ? 18 : 4};
    give_adapter(cpu, 4, LORA_Q | LORA_K | LORA_V | LORA_O), give_adapter(gpu, 4, LORA_Q | LORA_K | LORA_V | LORA_O);
    model_set_train_mode(cpu, TRAIN_LORA), model_set_train_mode(gpu, TRAIN_LORA);
    packed_batch whole, shared;
    packed_batch_init(&whole), packed_batch_init(&shared);
    int prefix[2], at_whole[M], at_shared[M], prompts[3][20];
    for (int k = 0; k < 3; k++)
        for (int t = 0; t < plen[k]; t++) prompts[k][t] = (int)(rng_uniform(41, (uint64_t)k, (uint64_t)t) * V);
    for (int k = 0; k < 2; k++) prefix[k] = packed_batch_add_prefix(&shared, prompts[k], plen[k] - 1);
    for (int j = 0; j < M; j++) {  // member j: its prompt, then clen[j] completion tokens, scored from the prompt's last
        int k = prompt_of[j], ids[40], n = 0;
        for (int t = 0; t < plen[k]; t++) ids[n++] = prompts[k][t];
        for (int t = 0; t < clen[j]; t++) ids[n++] = (int)(rng_uniform(42, (uint64_t)j, (uint64_t)t) * V);
        at_whole[j] = whole.n_tokens + plen[k] - 1;
        packed_batch_add(&whole, ids, n, plen[k] - 1);
        if (k < 2) {
            at_shared[j] = shared.n_tokens;
            packed_batch_add_after(&shared, prefix[k], ids + plen[k] - 1, n - plen[k] + 1, 0);
        } else {
            at_shared[j] = shared.n_tokens + plen[k] - 1;
            packed_batch_add(&shared, ids, n, plen[k] - 1);
        }
    }
    CHECK(expanded_on_gemms(&shared, &cpu->cfg) == gemm, "the members' expanded keys are not on the %s",
          gemm ? "GEMMs" : "tiled kernels");
    // runs: 0 the host on the shared batch, 1 the device on it, 2 the device on the whole batch
    const packed_batch *bs[3] = {&shared, &shared, &whole};
    model *ms[3] = {cpu, gpu, gpu};
    float *lp[3], *en[3], *gr[3];
    size_t n = cpu->lora->n_params;
    for (int r = 0; r < 3; r++) {
        const packed_batch *b = bs[r];
        const int *at = r < 2 ? at_shared : at_whole;
        float *logp = calloc((size_t)b->n_tokens, sizeof(float)), *ent = calloc((size_t)b->n_tokens, sizeof(float));
        float *dl = calloc((size_t)b->n_tokens, sizeof(float));
        lp[r] = calloc(64, sizeof(float)), en[r] = calloc(64, sizeof(float)), gr[r] = malloc(n * sizeof(float));
        for (int j = 0, o = 0; j < M; j++)
            for (int t = 0; t < clen[j]; t++, o++) dl[at[j] + t] = 0.4f * (float)sin(1.3 * o + 0.2);
        model_zero_grad(ms[r]);
        model_forward(ms[r], b, 0.9f, logp, ent);
        model_backward(ms[r], b, dl);
        memcpy(gr[r], ms[r]->lora->grads, n * sizeof(float));
        for (int j = 0, o = 0; j < M; j++)  // the scored positions, in member order
            for (int t = 0; t < clen[j]; t++, o++) lp[r][o] = logp[at[j] + t], en[r][o] = ent[at[j] + t];
        free(logp), free(ent), free(dl);
    }
    int scored = 0;
    for (int j = 0; j < M; j++) scored += clen[j];
    for (int r = 0; r < 2; r++) {
        double dlogp = max_rel(lp[2 * r], lp[1], (size_t)scored), dent = max_rel(en[2 * r], en[1], (size_t)scored);
        double dgrad = max_rel(gr[2 * r], gr[1], n);
        const char *what = r ? "device, members whole" : "host, shared";
        printf("  shared prompts (%s %s), %d + %d tokens vs %s: logp %.2e entropy %.2e LoRA grads %.2e (relative)\n",
               mode, gemm ? "GEMMs" : "tiled", shared.seq_start[shared.n_prefixes],
               shared.n_tokens - shared.seq_start[shared.n_prefixes], what, dlogp, dent, dgrad);
        CHECK(dlogp < tol[r][0] && dent < tol[r][0], "shared prompts (%s) vs %s: logp/entropy differ by %.2e/%.2e",
              mode, what, dlogp, dent);
        CHECK(dgrad < tol[r][1], "shared prompts (%s) vs %s: LoRA gradients differ by %.2e", mode, what, dgrad);
    }
    for (int r = 0; r < 3; r++) free(lp[r]), free(en[r]), free(gr[r]);
    model_set_train_mode(cpu, TRAIN_NONE), model_set_train_mode(gpu, TRAIN_NONE);
    packed_batch_free(&whole), packed_batch_free(&shared);
}

// The learner with training.share_prefix on the device (workers/learner.c shard_build packs shared prompts once
// there too): one GRPO update of a 6-member shard whose prompts of 20 and 18 tokens three and two members share, on
// the host and on the device, sharing and not. Loss and gradient norm agree (the test_search check's quantities);
// the stepped adapter's difference is printed only: AdamW's first step moves an element by lr times the sign of its
// gradient, so one near zero whose sign rounding flips would move it 2 lr apart.
static void check_learner_shared(model *cpu, model *gpu) {
    enum { M = 6 };
    int V = cpu->cfg.vocab_size, prompt_of[M] = {0, 1, 0, 0, 1, 2}, plen[3] = {20, 18, 17}, clen[M] = {5, 3, 6, 4, 2, 5};
    packed_batch b;
    packed_batch_init(&b);
    for (int j = 0; j < M; j++) {
        int ids[32], k = prompt_of[j];
        for (int t = 0; t < plen[k]; t++) ids[t] = 1 + (int)(rng_uniform(43, (uint64_t)k, (uint64_t)t) * (V - 1));
        for (int t = 0; t < clen[j]; t++) ids[plen[k] + t] = 1 + (int)(rng_uniform(44, (uint64_t)j, t) * (V - 1));
        packed_batch_add(&b, ids, plen[k] + clen[j], plen[k] - 1);
    }
    float *old = malloc((size_t)b.n_tokens * sizeof(float)), adv[M] = {0.5f, -1.0f, 0.25f, -0.5f, 1.0f, -0.25f};
    for (int i = 0; i < b.n_tokens; i++) old[i] = NAN;
    comm alone = {.size = 1, .is_rollout = 1, .is_learner = 1, .is_coordinator = 1, .n_rollout = 1, .n_learner = 1};
    // runs: 0 the host sharing, 1 the device sharing, 2 the device with members whole
    model *ms[3] = {cpu, gpu, gpu};
    learner_stats ls[3];
    float *after[3];
    size_t n = 0;
    for (int r = 0; r < 3; r++) {
        give_adapter(ms[r], 4, LORA_Q | LORA_K | LORA_V | LORA_O);
        model_set_train_mode(ms[r], TRAIN_LORA);
        n = ms[r]->lora->n_params;
        adamw_state opt;
        adamw_init(&opt, n);
        grpo_params gp = {0.2f, 0.28f, 0.0f, LOSS_DR_GRPO, 8, r < 2};
        learner_update(&alone, ms[r], &opt, &gp, 1, 1.0f, M, &b, old, adv, &ls[r]);
        adamw_free(&opt);
        after[r] = malloc(n * sizeof(float));
        memcpy(after[r], ms[r]->lora->params, n * sizeof(float));
        model_set_train_mode(ms[r], TRAIN_NONE);
    }
    for (int r = 0; r < 3; r += 2) {
        double dloss = fabs(ls[1].loss - ls[r].loss) / fabs(ls[r].loss);
        double dnorm = fabs(ls[1].grad_norm - ls[r].grad_norm) / ls[r].grad_norm;
        double dparam = max_rel(after[r], after[1], n);
        const char *what = r ? "device, members whole" : "host, sharing";
        printf("  learner, shared prompts on the device vs %s: loss %.2e gradient norm %.2e adapter %.2e (relative)\n",
               what, dloss, dnorm, dparam);
        CHECK(ls[r].grad_norm > 0 && dloss < 1e-5 && dnorm < 1e-5,
              "learner, shared prompts on the device vs %s: loss %.2e gradient norm %.2e", what, dloss, dnorm);
    }
    for (int r = 0; r < 3; r++) free(after[r]);
    free(old);
    packed_batch_free(&b);
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
    // for bit. (That what ran on the engine before does not move a search's bits is check_search_state's check.)
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

// A GRPO step is a function of its inputs, not of what the engine ran before (bit-exact resume, many searches on
// one engine in a sweep): the same search from freed training activations (carved for each batch as it comes) and
// from activations a longer batch left behind (more rows, stale values) ends on the same adapter, bit for bit.
// 61 rows is no multiple of 4: buffers packed back to back would then start off 16-byte boundaries, where RMSNorm
// takes its scalar kernel instead of the float4 one, whose sum runs in another order.
static void check_search_state(model *gpu, const tokenizer *tok) {
    char first[2][64];
    size_t n[2];
    float *r[2];
    engine_acts_free(gpu->eng);
    r[0] = search_adapter(gpu, tok, first[0], &n[0]);
    packed_batch b;  // the search's adapter is still on: the activations keep its shape and grow to 61 rows
    packed_batch_init(&b);
    int ids[61];
    for (int i = 0; i < 61; i++) ids[i] = (37 * i + 5) % gpu->cfg.vocab_size;
    packed_batch_add(&b, ids, 61, 1);
    float *logp = calloc((size_t)b.n_tokens, sizeof(float));
    model_forward(gpu, &b, 1.0f, logp, NULL);
    r[1] = search_adapter(gpu, tok, first[1], &n[1]);
    int same = r[0] && r[1] && n[0] == n[1] && !memcmp(r[0], r[1], n[0] * sizeof(float)) && !strcmp(first[0], first[1]);
    double d = 0;
    for (size_t i = 0; r[0] && r[1] && n[0] == n[1] && i < n[0]; i++) d = fmax(d, fabs((double)r[0][i] - r[1][i]));
    CHECK(same, "the search after a %d-row batch ends elsewhere than from freed activations (max |diff| %.2e)",
          b.n_tokens, d);
    printf("  the same search from freed activations and after a %d-row batch: %s adapter\n", b.n_tokens,
           same ? "the same" : "ANOTHER");
    free(r[0]), free(r[1]), free(logp);
    packed_batch_free(&b);
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
    // fp32: check_training's bounds (1e-5 logp, 1e-4 LoRA gradients). bf16 weights and GEMM operands:
    // test_cuda_parity's whole-model bounds both ways (the whole packing rounds each member's prompt gradient to
    // bf16 on its own, the shared one their sum; short members' expanded keys go to the fp32 tiled kernels)
    static const double tol32[2][2] = {{1e-5, 1e-4}, {1e-5, 1e-4}}, tol16[2][2] = {{1e-2, 2e-2}, {1e-2, 2e-2}};
    int clen_long[6] = {6, 9, 5, 7, 4, 8}, clen_short[6] = {1, 1, 1, 1, 1, 1};
    check_shared_prompts(&cpu, &gpu, clen_long, 1, "fp32", tol32);
    check_shared_prompts(&cpu, &gpu, clen_short, 0, "fp32", tol32);
    model g16;
    if (model_load(&g16, FIXTURE, &e) || model_use_backend(&g16, be, MG_BF16, &e)) {
        CHECK(0, "%s", e.msg);
    } else {
        check_shared_prompts(&cpu, &g16, clen_long, 1, "bf16", tol16);
        check_shared_prompts(&cpu, &g16, clen_short, 0, "bf16", tol16);
        model_free(&g16);
    }
    check_learner_shared(&cpu, &gpu);
    check_generate(&cpu, &gpu, tok);
    check_bf16_generate(tok, be);
    check_search(&cpu, &gpu, tok);
    check_search_state(&gpu, tok);
    check_kept_sum(&gpu);
    tokenizer_free(tok);
    model_free(&cpu);
    model_free(&gpu);  // frees the engine too
    return test_summary("test_device_engine");
}
