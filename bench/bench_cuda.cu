// GPU engine benchmark (a program, never a test): decode throughput at several batch sizes and one GRPO LoRA step
// for Llama-3.2-1B- and Qwen2.5-0.5B-shaped models with random bf16 weights, and the memory-bandwidth floor of a
// decode step (weight bytes / measured device-to-device copy bandwidth). tests/gpu/run.sh runs it next to
// bench/bench_cuda_torch.py (the same shapes in PyTorch) and prints the comparison.
//
//   bench_cuda [--tsv FILE] [--models llama,qwen] [--batches 1,16,64,256] [--graphs] [--tiny] [--no-train] [--profile]
//              [--no-decode] [--prompt 32] [--new 64] [--train-seqs 16] [--train-len 512]
//
// decode: B prompts of --prompt random tokens, --new tokens each sampled on the GPU at temperature 1 (no filters,
// no EOS): "generate" is the whole engine_generate call (prefill included: what transformers' generate does), "step"
// the median time of one batched decode step (what the bandwidth floor bounds). grpo: one LoRA step (r 64, alpha
// 16, q/k/v/o, MiGrATe's defaults) over --train-seqs x --train-len tokens, the first 64 of each a prompt: forward
// with log-probs, backward, clipping and AdamW. --graphs replays decode steps as CUDA graphs. --tiny: small shapes
// (the emulated build runs this in CI to check the program itself). --profile brackets the last decode step of each
// batch and the second GRPO step with a profiler range (bench/profile_cuda.sh: ncu --profile-from-start off).
// --tsv writes the results for tests/gpu/run.sh's
// table: "# device: ..." and "# copy_gbs: ..." lines, then one row per result: model, workload, batch, tokens,
// seconds, tokens_per_s, step_ms, floor_ms (tab-separated; bench/bench_cuda_torch.py writes the same columns).
//
//   bench_cuda --arc [--tsv FILE] [--arc-shape 8b|mini] [--arc-prompt 4096] [--arc-samples 16] [--arc-new 1024]
//                    [--arc-gen N] [--members-per-shard M]
//
// --arc: one ARC iteration's model work and nothing else, on a random-weight Llama-3.1-8B shape (mini, or --tiny:
// a 2-layer one for the emulated build) with LoRA r 64 on q/k/v/o: one prompt of --arc-prompt tokens sampled
// --arc-samples times (engine_generate, CUDA graphs on, sampling.share_prefix off then on: prefill, decode, its
// floor), then one GRPO update over the samples' prompt + --arc-new tokens (packed whole, then with the prompt once
// per shard: time, FLOPs, MFU). --arc-gen N generates N tokens per sample instead of --arc-new for the decode
// timing (the GPU script's 256: a decode step's time is measured, an iteration's decode extrapolated from it).
// Members per shard: the most that fit the card (model/engine_memory.c), or --members-per-shard. Rows (bench_cuda's
// columns, then flops and a note): prefill_, decode_ and update_ unshared / shared; "# gemm_tflops" and
// "# peak_tflops" lines give the MFU's denominators. Exit 78: the shape does not fit the card.
//
// Host code only; a .cu so that the CPU-only bench glob (bench/*.c) leaves it alone. Written in the common subset
// of C and C++: nvcc compiles it for the GPU build, a host C++ compiler for the emulated one.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern "C" {
#include "bench/bench_util.h"
#include "model/engine.h"
#include "model/engine_memory.h"
#include "kernels/cuda/ops_cuda.h"
}

typedef struct {
    const char *tsv;
    char models[64];
    int batches[8], n_batches;
    int graphs, tiny, train, decode, prompt, fresh, train_seqs, train_len, profile;
    // --arc: one prompt of arc_prompt tokens shared by arc_samples samples of arc_new tokens (arc_gen of them
    // generated for the timing); members: members per shard of the update (0 = as many as memory allows)
    int arc, arc_mini, arc_prompt, arc_samples, arc_new, arc_gen, members;
} options;

static hf_config base_config(void) {
    hf_config c;
    memset(&c, 0, sizeof c);
    c.bos_token_id = -1;
    c.pad_token_id = -1;
    c.n_eos = 0;  // no EOS: every completion runs its full length, in both engines
    c.tie_word_embeddings = 1;
    return c;
}

// Llama-3.2-1B: 16 layers, C 2048, F 8192, 32 heads / 8 KV heads of 64, V 128256, tied, llama3 rope.
static hf_config llama_config(int tiny) {
    hf_config c = base_config();
    c.arch = ARCH_LLAMA;
    snprintf(c.architecture, sizeof c.architecture, "LlamaForCausalLM");
    c.vocab_size = tiny ? 256 : 128256;
    c.hidden_size = tiny ? 64 : 2048;
    c.intermediate_size = tiny ? 128 : 8192;
    c.num_hidden_layers = tiny ? 2 : 16;
    c.num_attention_heads = tiny ? 4 : 32;
    c.num_key_value_heads = tiny ? 2 : 8;
    c.head_dim = tiny ? 16 : 64;
    c.max_position_embeddings = 131072;
    c.rms_norm_eps = 1e-5f;
    c.rope_theta = 500000.0;
    c.rope_llama3 = 1;
    c.rope_factor = 32, c.rope_low_freq_factor = 1, c.rope_high_freq_factor = 4;
    c.rope_original_max_position_embeddings = 8192;
    return c;
}

// Qwen2.5-0.5B: 24 layers, C 896, F 4864, 14 heads / 2 KV heads of 64, V 151936, tied, q/k/v biases.
static hf_config qwen_config(int tiny) {
    hf_config c = base_config();
    c.arch = ARCH_QWEN2;
    snprintf(c.architecture, sizeof c.architecture, "Qwen2ForCausalLM");
    c.vocab_size = tiny ? 320 : 151936;
    c.hidden_size = tiny ? 56 : 896;
    c.intermediate_size = tiny ? 96 : 4864;
    c.num_hidden_layers = tiny ? 2 : 24;
    c.num_attention_heads = tiny ? 7 : 14;
    c.num_key_value_heads = tiny ? 1 : 2;
    c.head_dim = tiny ? 8 : 64;
    c.max_position_embeddings = 32768;
    c.rms_norm_eps = 1e-6f;
    c.rope_theta = 1000000.0;
    c.attention_bias = 1;
    return c;
}

// Bytes of weights one decode step reads: every layer matrix and the LM head (the embedding rows it gathers are
// negligible; with tied embeddings the head is the embedding matrix, read once).
static double weight_bytes(const hf_config *c) {
    double C = c->hidden_size, Q = (double)c->num_attention_heads * c->head_dim;
    double KV = (double)c->num_key_value_heads * c->head_dim, F = c->intermediate_size;
    double per_layer = C * Q + 2 * C * KV + Q * C + 3 * C * F;
    return 2.0 * (per_layer * c->num_hidden_layers + (double)c->vocab_size * C);
}

static FILE *g_tsv;

static void json_row(const char *model, const char *workload, int batch, double tokens, double seconds,
                     double step_ms, double floor_ms) {
    double per_s = seconds > 0 ? tokens / seconds : 0.0;
    printf("%-8s %-9s batch %4d: %10.1f tok/s  (%.4f s", model, workload, batch, per_s, seconds);
    if (step_ms > 0) printf(", step %.3f ms, floor %.3f ms = %.0f%% of floor", step_ms, floor_ms,
                            floor_ms > 0 ? 100.0 * floor_ms / step_ms : 0.0);
    printf(")\n");
    if (!g_tsv) return;
    fprintf(g_tsv, "%s\t%s\t%d\t%.0f\t%.6f\t%.3f\t%.6f\t%.6f\n", model, workload, batch, tokens, seconds, per_s,
            step_ms, floor_ms);
    fflush(g_tsv);  // a later workload may be cut off by the stage's timeout
}

static void random_ids(int *ids, int n, int V, uint64_t seed) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int i = 0; i < n; i++) {
        z ^= z << 13, z ^= z >> 7, z ^= z << 17;
        ids[i] = (int)(z % (uint64_t)V);
    }
}

// Decode: generate() end to end, then the median decode step of a second, hand-driven run.
static void bench_decode(engine *e, const char *name, int B, const options *o, double bw_gbs) {
    const hf_config *c = &e->cfg;
    int P = o->prompt, T = o->fresh;
    int *ids = (int *)malloc((size_t)B * P * sizeof(int));
    const int **prompts = (const int **)malloc((size_t)B * sizeof(int *));
    int *lens = (int *)malloc((size_t)B * sizeof(int));
    uint64_t *seq = (uint64_t *)malloc((size_t)B * sizeof(uint64_t));
    random_ids(ids, B * P, c->vocab_size, (uint64_t)B);
    for (int i = 0; i < B; i++) prompts[i] = ids + (size_t)i * P, lens[i] = P, seq[i] = (uint64_t)i;
    sampling_params p;
    sampling_params_default(&p);
    p.temperature = 1.0f;
    p.max_new_tokens = T;
    completion *out = (completion *)calloc((size_t)B, sizeof(completion));
    mg_err err;
    double t0 = 0;
    for (int rep = 0; rep < 2; rep++) {  // the first run warms up (allocations, cuBLAS heuristics, graphs)
        t0 = now();
        if (engine_generate(e, NULL, B, prompts, lens, seq, &p, B, out, &err)) {
            fprintf(stderr, "bench_cuda: %s\n", err.msg);
            exit(1);
        }
        cuda_sync();
        if (rep == 0)
            for (int i = 0; i < B; i++) completion_free(&out[i]);
    }
    double gen_s = now() - t0;
    long made = 0;
    for (int i = 0; i < B; i++) made += out[i].n, completion_free(&out[i]);

    // Decode steps by hand: prefill all prompts, then T - 1 steps of B tokens; median step time.
    int *tok = (int *)malloc((size_t)B * P * sizeof(int)), *slot = (int *)malloc((size_t)B * P * sizeof(int));
    char *want = (char *)malloc((size_t)B * P);
    uint64_t *cnt = (uint64_t *)calloc((size_t)B, sizeof(uint64_t));
    float *lp = (float *)malloc((size_t)B * sizeof(float));
    int *next = (int *)malloc((size_t)B * sizeof(int)), *slots = (int *)malloc((size_t)B * sizeof(int));
    for (int i = 0; i < B * P; i++) tok[i] = ids[i], slot[i] = i / P, want[i] = i % P == P - 1;
    for (int i = 0; i < B; i++) slots[i] = i;
    mg_sample_params sp = {1.0f, 0, 1.0f, 0.0f, 0};
    if (engine_kv_init(e, B, P + T + 1, &err) ||
        engine_step(e, B * P, tok, slot, want, &sp, seq, cnt, next, lp, &err) < 0) {
        fprintf(stderr, "bench_cuda: %s\n", err.msg);
        exit(1);
    }
    double *st = (double *)malloc((size_t)T * sizeof(double));
    int ns = 0;
    for (int s = 1; s < T; s++) {
        for (int i = 0; i < B; i++) cnt[i] = (uint64_t)s;
        double a = now();
        if (o->profile && s == T - 1) cuda_profile_range(1);  // the last step: warm, and its shape captured
        if (engine_step(e, B, next, slots, NULL, &sp, seq, cnt, next, lp, &err) < 0) {
            fprintf(stderr, "bench_cuda: %s\n", err.msg);
            exit(1);
        }
        if (o->profile && s == T - 1) cuda_profile_range(0);
        if (s > 3) st[ns++] = now() - a;  // steps 1-3 warm up (the second of a shape is captured as a graph)
    }
#ifdef MG_CUDA_EMULATE
    {  // Launches per decode step, eager (a graph replay issues none): a step with sampling, then one that wants no
       // logits (the embedding, one launch, and the layers). The cache has room for both (P + T + 1 tokens).
        int g = e->use_graphs;
        e->use_graphs = 0;
        char *none = (char *)calloc((size_t)B, 1);
        unsigned long a = cuda_emu_launches();
        int ok = engine_step(e, B, next, slots, NULL, &sp, seq, cnt, next, lp, &err) >= 0;
        unsigned long b = cuda_emu_launches();
        ok = ok && engine_step(e, B, next, slots, none, NULL, NULL, NULL, NULL, NULL, &err) >= 0;
        if (!ok) {
            fprintf(stderr, "bench_cuda: %s\n", err.msg);
            exit(1);
        }
        printf("%-8s decode    batch %4d: %lu kernels per step (%.1f per layer, %d layers)\n", name, B, b - a,
               (double)(cuda_emu_launches() - b - 1) / c->num_hidden_layers, c->num_hidden_layers);
        e->use_graphs = g;
        free(none);
    }
#endif
    double step_ms = ns ? 1e3 * median(st, ns) : 0.0;
    double floor_ms = bw_gbs > 0 ? 1e3 * weight_bytes(c) / (bw_gbs * 1e9) : 0.0;
    json_row(name, o->graphs ? "decode_graphs" : "decode", B, (double)made, gen_s, step_ms, floor_ms);
    free(ids), free(prompts), free(lens), free(seq), free(out), free(tok), free(slot), free(want), free(cnt), free(lp);
    free(next), free(slots), free(st);
}

// One GRPO LoRA step: forward with log-probs, a policy-gradient loss gradient, backward, clip + AdamW.
static void bench_train(engine *e, const char *name, const options *o) {
    const hf_config *c = &e->cfg;
    int S = o->train_seqs, L = o->train_len, prompt = L > 64 ? 64 : L / 2;
    packed_batch b;
    packed_batch_init(&b);
    int *ids = (int *)malloc((size_t)L * sizeof(int));
    for (int s = 0; s < S; s++) {
        random_ids(ids, L, c->vocab_size, 1000 + (uint64_t)s);
        packed_batch_add(&b, ids, L, prompt - 1);
    }
    int N = b.n_tokens, scored = 0;
    for (int i = 0; i < N; i++) scored += b.targets[i] >= 0;
    float *logp = (float *)malloc((size_t)N * sizeof(float)), *dlogp = (float *)malloc((size_t)N * sizeof(float));
    double t[4];
    for (int rep = 0; rep < 4; rep++) {
        double a = now();
        if (o->profile && rep == 1) cuda_profile_range(1);  // one warm step
        engine_zero_grad(e);
        engine_forward(e, &b, 1.0f, logp, NULL);
        for (int s = 0; s < S; s++)  // advantages +-1 by sequence; the mean over completion tokens
            for (int i = b.seq_start[s]; i < b.seq_start[s + 1]; i++)
                dlogp[i] = b.targets[i] >= 0 ? (s % 2 ? 1.0f : -1.0f) / (float)scored : 0.0f;
        engine_backward(e, &b, dlogp);
        engine_optimizer_step(e, 5e-5f, 0.9f, 0.999f, 1e-8f, 0.0f, 1.0f);
        cuda_sync();
        if (o->profile && rep == 1) cuda_profile_range(0);
        t[rep] = now() - a;
    }
    double sec = median(t + 1, 3);  // the first step warms up
    json_row(name, "grpo_step", S, (double)N, sec, 0.0, 0.0);
    packed_batch_free(&b);
    free(ids), free(logp), free(dlogp);
}

// ---- ARC: one prompt shared by a group of samples, then the group's GRPO update (tests/gpu/run.sh's arc stage) ----

// Llama-3.1-8B (BARC's model shape): 32 layers, C 4096, F 14336, 32 heads / 8 KV heads of 128, V 128256, untied
// head, llama3 rope (factor 8). mini: the same structure small enough for the emulated kernels.
static hf_config llama8b_config(int mini) {
    hf_config c = llama_config(mini);
    c.tie_word_embeddings = 0;
    c.vocab_size = mini ? 256 : 128256;
    c.hidden_size = mini ? 64 : 4096;
    c.intermediate_size = mini ? 128 : 14336;
    c.num_hidden_layers = mini ? 2 : 32;
    c.num_attention_heads = mini ? 4 : 32;
    c.num_key_value_heads = mini ? 2 : 8;
    c.head_dim = mini ? 16 : 128;
    c.rope_factor = 8;
    return c;
}

// FLOPs of one forward per token through the adapter's modules: 2 r (in + out) for each adapted module and layer.
static double lora_flops_per_token(const hf_config *c, const lora_config *lc) {
    double C = c->hidden_size, Q = (double)c->num_attention_heads * c->head_dim;
    double KV = (double)c->num_key_value_heads * c->head_dim, F = c->intermediate_size;
    double io[LORA_N_MODULES] = {C + Q, C + KV, C + KV, Q + C, C + F, C + F, F + C};  // q k v o gate up down
    double f = 0;
    for (int k = 0; k < LORA_N_MODULES; k++)
        if (lc->targets & (1u << k)) f += 2.0 * lc->rank * io[k];
    return f * c->num_hidden_layers;
}

// FLOPs a LoRA update over packed batch b needs (frozen base weights: no weight gradients for them):
//   layer matrices: 2 x weights per token forward, the same again for the input gradient (4 N W);
//   the adapter: its forward, input gradient and weight gradient (3 x 2 r (in + out) per module and token);
//   LM head: only at scored positions, forward and input gradient (4 x scored x V x C);
//   attention: a query that sees k keys costs 4 H D k forward (QK^T and PV) and twice that backward, per layer;
//   k = its position + 1, causal (the masked half the kernels may also compute is not counted).
// A shared prompt is counted once, as the packing runs it: the count is the work each packing needs.
static double update_flops(const hf_config *c, const lora_config *lc, const packed_batch *b) {
    double per_token = weight_bytes(c) / 2.0 - (double)c->vocab_size * c->hidden_size;  // layer weights
    double scored = 0, keys = 0;
    for (int i = 0; i < b->n_tokens; i++) scored += b->targets[i] >= 0, keys += b->pos[i] + 1.0;
    double hd = (double)c->num_attention_heads * c->head_dim;
    return 4.0 * b->n_tokens * per_token + 3.0 * b->n_tokens * lora_flops_per_token(c, lc) +
           4.0 * scored * c->vocab_size * c->hidden_size + 12.0 * hd * c->num_hidden_layers * keys;
}

// Rows of OUT/bench_arc.tsv: bench_cuda's eight columns, then the update's FLOPs and a note.
static void arc_row(const char *model, const char *workload, int batch, double tokens, double seconds,
                    double step_ms, double floor_ms, double flops, const char *note) {
    double per_s = seconds > 0 ? tokens / seconds : 0.0;
    if (!g_tsv) return;
    fprintf(g_tsv, "%s\t%s\t%d\t%.0f\t%.6f\t%.3f\t%.6f\t%.6f\t%.6g\t%s\n", model, workload, batch, tokens, seconds,
            per_s, step_ms, floor_ms, flops, note);
    fflush(g_tsv);
}

// engine_generate on S copies of one prompt, exactly C new tokens each (no EOS in the config); the wall time.
static double arc_generate(engine *e, const int *prompt, int P, int S, int C, int share) {
    const int **prompts = (const int **)malloc((size_t)S * sizeof(int *));
    int *lens = (int *)malloc((size_t)S * sizeof(int));
    uint64_t *seq = (uint64_t *)malloc((size_t)S * sizeof(uint64_t));
    for (int i = 0; i < S; i++) prompts[i] = prompt, lens[i] = P, seq[i] = (uint64_t)i;
    sampling_params p;
    sampling_params_default(&p);
    p.temperature = 1.0f, p.max_new_tokens = C, p.share_prefix = share;
    completion *out = (completion *)calloc((size_t)S, sizeof(completion));
    mg_err err;
    cuda_sync();
    double t0 = now();
    if (engine_generate(e, NULL, S, prompts, lens, seq, &p, S, out, &err)) {
        fprintf(stderr, "bench_cuda: %s\n", err.msg);
        exit(1);
    }
    cuda_sync();
    double sec = now() - t0;
    for (int i = 0; i < S; i++) {
        if (out[i].n != C) {
            fprintf(stderr, "bench_cuda: sample %d has %d tokens, not %d\n", i, out[i].n, C);
            exit(1);
        }
        completion_free(&out[i]);
    }
    free(prompts), free(lens), free(seq), free(out);
    return sec;
}

typedef struct {
    double prefill_s, step_ms, update_s;
} arc_times;

// Prefill and decode through engine_generate: prefill = a generate of one token (the prompts' pass and the first
// draw), decode = a generate of G tokens minus that, over its G - 1 steps. The floor of a decode step: the bytes
// it must read (weights, the adapter, every sample's K and V rows at the mean context P + G/2, in the cache's dtype:
// bf16 with bf16 weights) over the
// device-to-device copy bandwidth, as the decode benchmark's.
static void arc_sample(engine *e, const char *name, const options *o, const int *prompt, int share, double bw_gbs,
                       arc_times *t) {
    const hf_config *c = &e->cfg;
    int P = o->arc_prompt, S = o->arc_samples, G = o->arc_gen;
    const char *mode = share ? "shared" : "unshared";
    arc_generate(e, prompt, P, S, G < 4 ? G : 4, share);  // warm-up: the prefill's shapes, a few decode steps
    t->prefill_s = arc_generate(e, prompt, P, S, 1, share);
    double decode_s = arc_generate(e, prompt, P, S, G, share) - t->prefill_s;
    if (decode_s <= 0) {  // only where the prefill's own noise exceeds the decode (tiny shapes, emulation)
        printf("%-8s arc %-8s decode time below the prefill's noise\n", name, mode);
        decode_s = 0;
    }
    t->step_ms = 1e3 * decode_s / (G - 1);
    mg_dtype kv_dt = MG_F32;
    engine_kv_bytes(e, &kv_dt);  // the cache the generate calls above left
    double kv_row = 2.0 * c->num_hidden_layers * c->num_key_value_heads * c->head_dim * mg_dtype_size(kv_dt);
    double bytes = weight_bytes(c) + 4.0 * (double)e->lora_n + S * kv_row * (P + G / 2.0);
    double floor_ms = bw_gbs > 0 ? 1e3 * bytes / (bw_gbs * 1e9) : 0.0;
    char w[32], note[96];
    printf("%-8s arc %-8s prefill %d x %d tokens: %.3f s (%.0f tok/s)\n", name, mode, S, P, t->prefill_s,
           S * (double)P / t->prefill_s);
    printf("%-8s arc %-8s decode  %d x %d tokens: %.3f s, %.0f tok/s, step %.3f ms, floor %.3f ms (%.2f GB) = "
           "%.0f%% of floor\n", name, mode, S, G - 1, decode_s, decode_s > 0 ? S * (G - 1.0) / decode_s : 0.0,
           t->step_ms, floor_ms, bytes / 1e9, t->step_ms > 0 ? 100.0 * floor_ms / t->step_ms : 0.0);
    snprintf(w, sizeof w, "prefill_%s", mode);
    snprintf(note, sizeof note, "prompt %d", P);
    arc_row(name, w, S, (double)S * P, t->prefill_s, 0.0, 0.0, 0.0, note);
    snprintf(w, sizeof w, "decode_%s", mode);
    snprintf(note, sizeof note, "steps %d, floor bytes %.0f", G - 1, bytes);
    arc_row(name, w, S, (double)S * (G - 1), decode_s, t->step_ms, floor_ms, 0.0, note);
}

// Members per shard for the update: the most (a divisor of S) whose training peak (model/engine_memory.c, with
// 3 GB for the CUDA context, cuBLAS and allocator slack) fits the card; S when the memory is unknown (emulation).
static int arc_members(const hf_config *c, const lora_config *lc, const options *o, int share, size_t total) {
    if (o->members > 0) return o->members < o->arc_samples ? o->members : o->arc_samples;
    if (total == 0) return o->arc_samples;
    for (int M = o->arc_samples; M > 1; M--) {
        if (o->arc_samples % M) continue;
        memory_shape ms = {o->arc_samples, o->arc_prompt, o->arc_new, M, *lc, MG_BF16};
        memory_plan mp;
        engine_memory_plan(c, &ms, share, &mp);
        if (mp.weights + mp.adapter + mp.kept_grads + mp.train_acts + 3e9 <= (double)total) return M;
    }
    return 1;
}

// One GRPO update over the S sequences of P + C tokens: shards of M members, packed whole (share 0) or with their
// common prompt once (packed_batch_share_prompts, the learner's packing); per shard a forward with log-probs and a
// backward of a policy-gradient loss (advantages +-1 by member, mean over the group's completion tokens), then one
// clipped AdamW step. A warm-up runs the first shard and a step first.
static void arc_update(engine *e, const char *name, const options *o, const int *prompt, int share, int M,
                       double peak_tflops, arc_times *t) {
    const hf_config *c = &e->cfg;
    int P = o->arc_prompt, S = o->arc_samples, C = o->arc_new, n_sh = (S + M - 1) / M;
    packed_batch src, *sh = (packed_batch *)calloc((size_t)n_sh, sizeof(packed_batch));
    packed_batch_init(&src);
    int *ids = (int *)malloc((size_t)(P + C) * sizeof(int));
    memcpy(ids, prompt, (size_t)P * sizeof(int));
    for (int s = 0; s < S; s++) {
        random_ids(ids + P, C, c->vocab_size, 5000 + (uint64_t)s);
        packed_batch_add(&src, ids, P + C, P - 1);
    }
    long tokens = 0, scored = 0, prefixes = 0;
    double flops = 0;
    for (int k = 0; k < n_sh; k++) {
        int first = k * M, count = S - first < M ? S - first : M;
        packed_batch_init(&sh[k]);
        prefixes += packed_batch_share_prompts(&sh[k], &src, first, count, share ? 16 : 0, NULL);
        tokens += sh[k].n_tokens;
        for (int i = 0; i < sh[k].n_tokens; i++) scored += sh[k].targets[i] >= 0;
        flops += update_flops(c, &e->lora, &sh[k]);
    }
    int cap = 0;
    for (int k = 0; k < n_sh; k++) cap = sh[k].n_tokens > cap ? sh[k].n_tokens : cap;
    float *logp = (float *)malloc((size_t)cap * sizeof(float)), *dlogp = (float *)malloc((size_t)cap * sizeof(float));
    double sec = 0;
    for (int rep = 0; rep < 2; rep++) {
        cuda_sync();
        double a = now();
        engine_zero_grad(e);
        for (int k = 0; k < (rep ? n_sh : 1); k++) {
            const packed_batch *b = &sh[k];
            engine_forward(e, b, 1.0f, logp, NULL);
            for (int s = b->n_prefixes; s < b->n_seqs; s++) {
                int member = k * M + s - b->n_prefixes;
                for (int i = b->seq_start[s]; i < b->seq_start[s + 1]; i++)
                    dlogp[i] = b->targets[i] >= 0 ? (member % 2 ? 1.0f : -1.0f) / (float)scored : 0.0f;
            }
            for (int s = 0; s < b->n_prefixes; s++)
                for (int i = b->seq_start[s]; i < b->seq_start[s + 1]; i++) dlogp[i] = 0.0f;
            engine_backward(e, b, dlogp);
        }
        engine_optimizer_step(e, 5e-6f, 0.9f, 0.999f, 1e-8f, 0.0f, 1.0f);
        cuda_sync();
        sec = now() - a;
    }
    t->update_s = sec;
    const char *mode = share ? "shared" : "unshared";
    printf("%-8s arc %-8s update  %d x (%d + %d): %d shard%s of %d, %ld token passes (%ld prompts packed once), "
           "%.3f s, %.1f TFLOP", name, mode, S, P, C, n_sh, n_sh > 1 ? "s" : "", M, tokens, prefixes, sec,
           flops / 1e12);
    if (peak_tflops > 0) printf(" = %.0f%% MFU of %.0f TFLOP/s", 100.0 * flops / sec / 1e12 / peak_tflops, peak_tflops);
    printf("\n");
    char w[32], note[96];
    snprintf(w, sizeof w, "update_%s", mode);
    snprintf(note, sizeof note, "members_per_shard %d, shards %d, prompts once %ld", M, n_sh, prefixes);
    arc_row(name, w, S, (double)tokens, sec, 0.0, 0.0, flops, note);
    for (int k = 0; k < n_sh; k++) packed_batch_free(&sh[k]);
    packed_batch_free(&src);
    free(sh), free(ids), free(logp), free(dlogp);
}

// Nominal dense bf16 tensor-core peak by card (TFLOP/s, from the vendors' data sheets), 0 when unknown.
static double nominal_bf16_tflops(const char *name) {
    if (strstr(name, "H100") && strstr(name, "PCIe")) return 756.0;
    if (strstr(name, "H100") || strstr(name, "H200") || strstr(name, "H800")) return 989.4;
    if (strstr(name, "A100")) return 312.0;
    if (strstr(name, "B200")) return 2250.0;
    return 0.0;
}

// The whole ARC workload: returns 0, or 78 when the shape does not fit the card (the stage reports a skip).
static int bench_arc(const options *o, double bw_gbs) {
    hf_config c = llama8b_config(o->arc_mini);
    const char *name = o->arc_mini ? "mini" : "llama8b";
    lora_config lc = {o->arc_mini ? 4 : 64, 16.0f, 0xF};  // q, k, v, o: MiGrATe's defaults
    size_t free_b, total_b;
    cuda_mem_info(&free_b, &total_b);
    if (total_b) {  // the smallest setting of each phase must fit: one member per shard, the unshared prefill
        memory_shape ms = {o->arc_samples, o->arc_prompt, o->arc_gen, 1, lc, MG_BF16};
        memory_plan gen, train;
        engine_memory_plan(&c, &ms, 0, &gen);
        ms.completion = o->arc_new;
        engine_memory_plan(&c, &ms, 1, &train);
        double need_gen = gen.weights + gen.adapter + gen.kv_cache + gen.step_buffers + 3e9;
        double need_train = train.weights + train.adapter + train.kept_grads + train.train_acts + 3e9;
        double need = need_gen > need_train ? need_gen : need_train;
        if (need > (double)total_b) {
            printf("%s ARC shape needs %.1f GB, the card has %.1f GB: skipped\n", name, need / 1e9, total_b / 1e9);
            return 78;
        }
    }
    double gemm = cuda_gemm_tflops(o->arc_mini ? 64 : 8192, o->arc_mini ? 1 : 20);
    double nominal = nominal_bf16_tflops(cuda_device_name());
    double peak = nominal > 0 ? nominal : gemm;
    printf("bf16 GEMM (%d^3): %.0f TFLOP/s measured; nominal dense bf16 peak %.0f TFLOP/s%s\n", o->arc_mini ? 64 : 8192,
           gemm, nominal, nominal > 0 ? "" : " (unknown card: MFU against the measured GEMM)");
    if (g_tsv)
        fprintf(g_tsv, "# gemm_tflops: %.3f\n# peak_tflops: %.3f\n# arc: prompt %d, samples %d, new %d, generated %d\n",
                gemm, nominal, o->arc_prompt, o->arc_samples, o->arc_new, o->arc_gen);
    engine e;
    mg_err me;
    double t0 = now();
    if (engine_create_random(&e, &c, mg_backend_cuda(), MG_BF16, 1234, &me) ||
        engine_lora_create(&e, &lc, 0.02f, 5, &me)) {
        fprintf(stderr, "bench_cuda: %s\n", me.msg);
        return 1;
    }
    e.use_graphs = 1;
    cuda_sync();
    printf("%s: %.2f GB of weights, LoRA r %d on q/k/v/o (%zu values), made in %.2f s\n", name, weight_bytes(&c) / 1e9,
           lc.rank, e.lora_n, now() - t0);
    int *prompt = (int *)malloc((size_t)o->arc_prompt * sizeof(int));
    random_ids(prompt, o->arc_prompt, c.vocab_size, 77);
    arc_times t[2];
    for (int share = 0; share < 2; share++) arc_sample(&e, name, o, prompt, share, bw_gbs, &t[share]);
    engine_kv_free(&e);  // the sampling phase's cache and step buffers go before the training activations come
    for (int share = 0; share < 2; share++) {
        int M = arc_members(&c, &lc, o, share, total_b);
        arc_update(&e, name, o, prompt, share, M, peak, &t[share]);
    }
    for (int share = 0; share < 2; share++) {  // an iteration: prefill, arc_new decode steps at the measured rate, update
        double dec = t[share].step_ms * 1e-3 * (o->arc_new - 1);
        printf("%-8s arc %-8s iteration (decode of %d at the measured step): prefill %.2f + decode %.2f + update %.2f"
               " = %.2f s\n", name, share ? "shared" : "unshared", o->arc_new, t[share].prefill_s, dec,
               t[share].update_s, t[share].prefill_s + dec + t[share].update_s);
    }
    free(prompt);
    engine_free(&e);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: bench_cuda [--tsv FILE] [--models llama,qwen] [--batches 1,16,64,256] [--graphs] [--tiny]\n"
                    "                  [--no-train] [--no-decode] [--prompt N] [--new N] [--train-seqs N] [--train-len N]\n"
                    "                  [--profile]\n"
                    "       bench_cuda --arc [--tsv FILE] [--arc-shape 8b|mini] [--arc-prompt 4096] [--arc-samples 16]\n"
                    "                  [--arc-new 1024] [--arc-gen N] [--members-per-shard M]\n");
    exit(2);
}

int main(int argc, char **argv) {
    options o;
    memset(&o, 0, sizeof o);
    snprintf(o.models, sizeof o.models, "llama,qwen");
    int def_batches[4] = {1, 16, 64, 256};
    memcpy(o.batches, def_batches, sizeof def_batches);
    o.n_batches = 4;
    o.train = o.decode = 1;
    o.prompt = 32, o.fresh = 64, o.train_seqs = 16, o.train_len = 512;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--tsv") && more) o.tsv = argv[++i];
        else if (!strcmp(a, "--models") && more) snprintf(o.models, sizeof o.models, "%s", argv[++i]);
        else if (!strcmp(a, "--batches") && more) {
            o.n_batches = 0;
            for (char *s = argv[++i]; *s && o.n_batches < 8;) {
                o.batches[o.n_batches++] = atoi(s);
                while (*s && *s != ',') s++;
                if (*s == ',') s++;
            }
        } else if (!strcmp(a, "--graphs")) o.graphs = 1;
        else if (!strcmp(a, "--tiny")) o.tiny = 1;
        else if (!strcmp(a, "--profile")) o.profile = 1;
        else if (!strcmp(a, "--no-train")) o.train = 0;
        else if (!strcmp(a, "--no-decode")) o.decode = 0;
        else if (!strcmp(a, "--prompt") && more) o.prompt = atoi(argv[++i]);
        else if (!strcmp(a, "--new") && more) o.fresh = atoi(argv[++i]);
        else if (!strcmp(a, "--train-seqs") && more) o.train_seqs = atoi(argv[++i]);
        else if (!strcmp(a, "--train-len") && more) o.train_len = atoi(argv[++i]);
        else if (!strcmp(a, "--arc")) o.arc = 1;
        else if (!strcmp(a, "--arc-shape") && more) {
            const char *v = argv[++i];
            if (strcmp(v, "8b") && strcmp(v, "mini")) usage();
            o.arc_mini = !strcmp(v, "mini");
        } else if (!strcmp(a, "--arc-prompt") && more) o.arc_prompt = atoi(argv[++i]);
        else if (!strcmp(a, "--arc-samples") && more) o.arc_samples = atoi(argv[++i]);
        else if (!strcmp(a, "--arc-new") && more) o.arc_new = atoi(argv[++i]);
        else if (!strcmp(a, "--arc-gen") && more) o.arc_gen = atoi(argv[++i]);
        else if (!strcmp(a, "--members-per-shard") && more) o.members = atoi(argv[++i]);
        else usage();
    }
    if (o.tiny) {
        o.prompt = o.prompt > 8 ? 8 : o.prompt, o.fresh = o.fresh > 6 ? 6 : o.fresh;
        o.train_seqs = 2, o.train_len = 24;
        for (int i = 0; i < o.n_batches; i++) o.batches[i] = o.batches[i] > 3 ? 3 : o.batches[i];
        if (o.n_batches > 2) o.n_batches = 2, o.batches[0] = 1, o.batches[1] = 3;
    }
    if (o.prompt < 1 || o.fresh < 2 || o.train_seqs < 1 || o.train_len < 4) usage();
    if (o.arc) {  // unset sizes: the ARC shape, 16 x (4096 + 1024), or the mini shape's 4 x (40 + 12)
        o.arc_mini |= o.tiny;
        if (!o.arc_prompt) o.arc_prompt = o.arc_mini ? 40 : 4096;
        if (!o.arc_samples) o.arc_samples = o.arc_mini ? 4 : 16;
        if (!o.arc_new) o.arc_new = o.arc_mini ? 12 : 1024;
        if (!o.arc_gen) o.arc_gen = o.arc_new;
        if (o.arc_prompt < 17 || o.arc_samples < 2 || o.arc_new < 2 || o.arc_gen < 2 || o.members < 0) usage();
    }
    if (cuda_device_count() == 0) {
        printf("no CUDA device\n");
        return 77;
    }
    char err[256];
    if (cuda_init(0, err, sizeof err)) {
        fprintf(stderr, "bench_cuda: %s\n", err);
        return 1;
    }
    if (o.tsv) {
        g_tsv = fopen(o.tsv, "w");
        if (!g_tsv) {
            fprintf(stderr, "bench_cuda: cannot write %s\n", o.tsv);
            return 1;
        }
    }
    int small = o.arc ? o.arc_mini : o.tiny;
    double bw = cuda_copy_bandwidth_gbs(small ? (size_t)1 << 20 : (size_t)1 << 30, small ? 2 : 20);
    printf("device: %s\ndevice-to-device copy: %.0f GB/s (bytes read + written)%s\n", cuda_device_name(), bw,
           o.graphs ? "; decode steps as CUDA graphs" : "");
    if (g_tsv) fprintf(g_tsv, "# device: %s\n# copy_gbs: %.3f\n", cuda_device_name(), bw);
    if (o.arc) {
        int rc = bench_arc(&o, bw);
        if (g_tsv) fclose(g_tsv);
        cuda_shutdown();
        return rc;
    }
    const char *names[2] = {"llama", "qwen"};
    for (int k = 0; k < 2; k++) {
        if (!strstr(o.models, names[k])) continue;
        hf_config c = k == 0 ? llama_config(o.tiny) : qwen_config(o.tiny);
        engine e;
        mg_err me;
        double t0 = now();
        if (engine_create_random(&e, &c, mg_backend_cuda(), MG_BF16, 1234, &me)) {
            fprintf(stderr, "bench_cuda: %s\n", me.msg);
            return 1;
        }
        e.use_graphs = o.graphs;
        cuda_sync();
        printf("%s: %.0f M weight bytes per decode step, made in %.2f s\n", names[k], weight_bytes(&c) / 1e6, now() - t0);
        if (o.decode)
            for (int b = 0; b < o.n_batches; b++) bench_decode(&e, names[k], o.batches[b], &o, bw);
        if (o.train) {
            lora_config lc = {o.tiny ? 4 : 64, 16.0f, 0xF};  // q, k, v, o
            if (engine_lora_create(&e, &lc, 0.02f, 5, &me)) {
                fprintf(stderr, "bench_cuda: %s\n", me.msg);
                return 1;
            }
            bench_train(&e, names[k], &o);
        }
        engine_free(&e);
    }
    if (g_tsv) fclose(g_tsv);
    cuda_shutdown();
    return 0;
}
