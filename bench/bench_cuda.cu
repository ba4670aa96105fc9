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
// Host code only; a .cu so that the CPU-only bench glob (bench/*.c) leaves it alone. Written in the common subset
// of C and C++: nvcc compiles it for the GPU build, a host C++ compiler for the emulated one.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern "C" {
#include "bench/bench_util.h"
#include "model/engine.h"
#include "kernels/cuda/ops_cuda.h"
}

typedef struct {
    const char *tsv;
    char models[64];
    int batches[8], n_batches;
    int graphs, tiny, train, decode, prompt, fresh, train_seqs, train_len, profile;
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

static void usage(void) {
    fprintf(stderr, "usage: bench_cuda [--tsv FILE] [--models llama,qwen] [--batches 1,16,64,256] [--graphs] [--tiny]\n"
                    "                  [--no-train] [--no-decode] [--prompt N] [--new N] [--train-seqs N] [--train-len N]\n"
                    "                  [--profile]\n");
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
        else usage();
    }
    if (o.tiny) {
        o.prompt = o.prompt > 8 ? 8 : o.prompt, o.fresh = o.fresh > 6 ? 6 : o.fresh;
        o.train_seqs = 2, o.train_len = 24;
        for (int i = 0; i < o.n_batches; i++) o.batches[i] = o.batches[i] > 3 ? 3 : o.batches[i];
        if (o.n_batches > 2) o.n_batches = 2, o.batches[0] = 1, o.batches[1] = 3;
    }
    if (o.prompt < 1 || o.fresh < 2 || o.train_seqs < 1 || o.train_len < 4) usage();
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
    double bw = cuda_copy_bandwidth_gbs(o.tiny ? (size_t)1 << 20 : (size_t)1 << 30, o.tiny ? 2 : 20);
    printf("device: %s\ndevice-to-device copy: %.0f GB/s (bytes read + written)%s\n", cuda_device_name(), bw,
           o.graphs ? "; decode steps as CUDA graphs" : "");
    if (g_tsv) fprintf(g_tsv, "# device: %s\n# copy_gbs: %.3f\n", cuda_device_name(), bw);
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
