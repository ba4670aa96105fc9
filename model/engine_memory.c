// Engine memory for a search's shape (model/engine_memory.h), added up from the layouts the engine allocates with.
#include "model/engine_memory.h"

#include "model/engine_internal.h"

void engine_memory_plan(const hf_config *c, const memory_shape *s, int sharing, memory_plan *p) {
    size_t n_lora = s->lora.rank > 0 ? lora_param_count(c, &s->lora) : 0;
    int M = s->members_per_shard < s->samples ? s->members_per_shard : s->samples, S = s->samples;
    p->weights = (double)engine_weight_bytes(c, s->wt);
    p->adapter = 4.0 * n_lora * sizeof(float);  // values, gradients, AdamW's two moments
    p->shards = (S + M - 1) / M;
    p->kept_grads = (double)p->shards * n_lora * sizeof(float) + (double)n_lora * sizeof(int64_t);
    // Sampling: every slot's cache holds prompt + completion (engine_kv_tensors). The largest step prefills every
    // prompt at once, or with sharing one copy while the others wait to copy its rows (model/gen_batch.c).
    // The cache is kept in the weights' dtype on a device (engine_kv_init).
    p->kv_cache = (double)engine_kv_cache_bytes(c, s->wt, S, s->prompt + s->completion);
    p->step_tokens = sharing ? s->prompt : S * s->prompt;
    p->step_buffers = (double)engine_step_bytes(c, s->wt, s->lora.rank, p->step_tokens, S);
    // Training: a shard packs its members whole, or with sharing their common prompt once (all but its last token,
    // which each member keeps: workers/learner.c) and the members' expanded keys (prefix rows + their own).
    int whole = s->prompt + s->completion;
    int packed_once = sharing && M >= 2;  // a prompt only one member of the shard has is packed with it
    p->shard_tokens = packed_once ? (s->prompt - 1) + M * (s->completion + 1) : M * whole;
    p->train_acts = (double)engine_train_bytes(c, &s->lora, p->shard_tokens, packed_once ? M * whole : 0);
    double sampling = p->kv_cache + p->step_buffers;
    p->peak = p->weights + p->adapter + p->kept_grads + (sampling > p->train_acts ? sampling : p->train_acts);
}

// Bytes in the largest decimal unit they reach (GB for an 8B model, kB for the test fixtures).
static const char *bytes_text(double n, char buf[16]) {
    static const char *const unit[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (n >= 1000.0 && u < 4) n /= 1000.0, u++;
    snprintf(buf, 16, "%.2f %s", n, unit[u]);
    return buf;
}

static void row(FILE *f, const char *what, double a, double b, const char *note_a, const char *note_b) {
    char ta[16], tb[16];
    fprintf(f, "  %-34s %12s %-16s %12s %s\n", what, bytes_text(a, ta), note_a ? note_a : "", bytes_text(b, tb),
            note_b ? note_b : "");
}

void engine_memory_print(FILE *f, const hf_config *c, const memory_shape *s) {
    memory_plan p[2];
    for (int k = 0; k < 2; k++) engine_memory_plan(c, s, k, &p[k]);
    fprintf(f, "Engine memory for %d samples x (%d prompt + %d completion tokens), %s weights, ", s->samples,
            s->prompt, s->completion, s->wt == MG_BF16 ? "bf16" : "fp32");
    if (s->lora.rank > 0) {
        fprintf(f, "LoRA r %d on", s->lora.rank);
        for (int k = 0; k < LORA_N_MODULES; k++)
            if (s->lora.targets & (1u << k)) fprintf(f, " %s", lora_module_names[k]);
    } else {
        fprintf(f, "no adapter");
    }
    fprintf(f, ", %d members per shard (%d shard%s):\n", s->members_per_shard, p[0].shards, p[0].shards > 1 ? "s" : "");
    fprintf(f, "  %-34s %-29s %s\n", "", "   prompt not shared", "   prompt shared");
    char na[2][32], nb[2][32];
    row(f, "weights", p[0].weights, p[1].weights, NULL, NULL);
    row(f, "adapter + gradients + AdamW", p[0].adapter, p[1].adapter, NULL, NULL);
    row(f, "kept shard gradients", p[0].kept_grads, p[1].kept_grads, NULL, NULL);
    row(f, s->wt == MG_BF16 ? "sampling: KV cache (bf16)" : "sampling: KV cache (fp32)", p[0].kv_cache, p[1].kv_cache,
        NULL, NULL);
    for (int k = 0; k < 2; k++) snprintf(na[k], sizeof na[k], "(%d tokens)", p[k].step_tokens);
    row(f, "sampling: largest step's buffers", p[0].step_buffers, p[1].step_buffers, na[0], na[1]);
    for (int k = 0; k < 2; k++) snprintf(nb[k], sizeof nb[k], "(%d tokens)", p[k].shard_tokens);
    row(f, "training: one shard's activations", p[0].train_acts, p[1].train_acts, nb[0], nb[1]);
    row(f, "peak (resident + larger phase)", p[0].peak, p[1].peak, NULL, NULL);
    fprintf(f, "Sampling and training buffers are not held together (each phase frees the other's when both do not\n"
               "fit). Not counted: the CUDA context, cuBLAS workspaces, allocator slack. training.share_prefix is off\n"
               "by default; sampling.share_prefix is on.\n");
}
