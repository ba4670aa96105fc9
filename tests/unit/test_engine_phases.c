// The engine's decoding buffers (KV cache, step buffers) and training activations on a backend whose memory holds
// one phase's buffers at a time but not both (model/engine_internal.h: engine_phase_alloc), as an 8B model's do on
// an 80 GB GPU: prefill, a training forward and backward, prefill again, within the budget and with the same
// logits, log-probs and gradients as an engine with memory to spare. Also: the bytes each phase allocates are the
// ones engine_weight_bytes, engine_step_bytes and engine_train_bytes compute (migrate inspect-model --memory). The backend is the CPU table with its
// allocations counted and try_alloc refusing what would pass the budget; alloc past it is recorded as a failure.
#include <stdlib.h>
#include <string.h>

#include "model/engine.h"
#include "model/engine_internal.h"
#include "testing.h"

#define MAX_ALLOCS 4096
static struct {
    void *p;
    size_t n;
} allocs[MAX_ALLOCS];
static size_t used, peak, budget = (size_t)-1;
static int over;  // an alloc (never NULL) went past the budget

static void *track(void *p, size_t n) {
    for (int i = 0; i < MAX_ALLOCS; i++)
        if (!allocs[i].p) {
            allocs[i].p = p, allocs[i].n = n;
            used += n;
            if (used > peak) peak = used;
            return p;
        }
    mgCheck(0, "test_engine_phases: more live allocations than the table holds");
    return NULL;
}
static void *counted_try_alloc(size_t n) {
    if (used + n > budget) return NULL;
    return track(mg_backend_cpu.alloc(n), n);
}
static void *counted_alloc(size_t n) {
    if (used + n > budget) over = 1;
    return track(mg_backend_cpu.alloc(n), n);
}
static void counted_free(void *p) {
    if (!p) return;
    for (int i = 0; i < MAX_ALLOCS; i++)
        if (allocs[i].p == p) {
            used -= allocs[i].n;
            allocs[i].p = NULL;
            break;
        }
    mg_backend_cpu.free(p);
}

static hf_config tiny(void) {
    hf_config c;
    memset(&c, 0, sizeof c);
    c.arch = ARCH_LLAMA;
    snprintf(c.architecture, sizeof c.architecture, "LlamaForCausalLM");
    c.vocab_size = 300, c.hidden_size = 32, c.intermediate_size = 64, c.num_hidden_layers = 2;
    c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 8, c.max_position_embeddings = 256;
    c.rms_norm_eps = 1e-5f, c.rope_theta = 10000.0;
    c.bos_token_id = c.pad_token_id = -1;
    return c;
}

#define S 4      // sequences
#define P 40     // prompt tokens each
#define CTX 64   // cache length

typedef struct {
    float prefill1[S * 300], prefill2[S * 300];  // logits of each prompt's last token, before and after training
    float logp[S * P];
    float *grads;
    size_t peak_decode, peak_train, base;  // bytes: peak over the weights while decoding, while training; weights
} results;

// Prefill of S prompts of P tokens each (one step), logits of the last tokens.
static void prefill(engine *en, float *logits) {
    static int tok[S * P], slot[S * P];
    static char want[S * P];
    mg_err e;
    for (int i = 0; i < S * P; i++) tok[i] = (i * 37 + 11) % 300, slot[i] = i / P, want[i] = i % P == P - 1;
    CHECK(engine_kv_init(en, S, CTX, &e) == 0, "%s", e.msg);
    CHECK(engine_step(en, S * P, tok, slot, want, NULL, NULL, NULL, NULL, NULL, &e) == S, "%s", e.msg);
    engine_logits(en, logits, S);
}

static void run(model *m, const mg_backend *be, results *r) {
    engine en;
    mg_err e;
    used = peak = 0;
    CHECK(engine_create(&en, m, be, MG_F32, &e) == 0, "%s", e.msg);
    r->base = used;
    peak = used;
    prefill(&en, r->prefill1);
    r->peak_decode = peak - r->base;

    packed_batch b;
    packed_batch_init(&b);
    int ids[P];
    for (int s = 0; s < S; s++) {
        for (int i = 0; i < P; i++) ids[i] = (s * 53 + i * 29 + 7) % 300;
        packed_batch_add(&b, ids, P, P / 2);
    }
    float dlogp[S * P];
    for (int i = 0; i < S * P; i++) dlogp[i] = b.targets[i] >= 0 ? 1.0f / (1 + i % 5) : 0.0f;
    size_t before = used;
    peak = used;
    engine_zero_grad(&en);
    engine_forward(&en, &b, 1.0f, r->logp, NULL);
    engine_backward(&en, &b, dlogp);
    r->peak_train = peak - before;
    r->grads = calloc(en.lora_n, sizeof(float));
    engine_lora_download_grads(&en, r->grads);
    prefill(&en, r->prefill2);
    packed_batch_free(&b);
    engine_free(&en);
}

int main(void) {
    hf_config c = tiny();
    model m;
    model_init_random(&m, &c, 3);
    mg_err e;
    lora_config lc = {.rank = 4, .alpha = 8, .targets = LORA_Q | LORA_V};
    CHECK(model_lora_init(&m, &lc, 5, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < m.lora->n_params; i++) m.lora->params[i] += 0.01f * (float)((i * 7) % 11);  // B != 0

    mg_backend counted = mg_backend_cpu;
    counted.alloc = counted_alloc, counted.try_alloc = counted_try_alloc, counted.free = counted_free;

    results spare, tight;
    run(&m, &counted, &spare);  // no budget: both phases' buffers are kept, as before
    size_t kv_part = spare.peak_decode, acts_part = spare.peak_train;
    size_t KVD = (size_t)c.num_key_value_heads * c.head_dim;
    size_t want_decode = 2 * (size_t)c.num_hidden_layers * S * CTX * KVD * sizeof(float) +
                         engine_step_bytes(&c, MG_F32, lc.rank, S * P, S);
    size_t want_train = engine_train_bytes(&c, &lc, S * P, 0);
    size_t want_base = engine_weight_bytes(&c, MG_F32) + 4 * lora_param_count(&c, &lc) * sizeof(float);
    // What `migrate inspect-model --memory` adds up (model/engine_memory.c) is what the engine allocates.
    CHECK(kv_part == want_decode, "decode allocated %zu bytes, engine_step_bytes + the cache say %zu", kv_part,
          want_decode);
    CHECK(acts_part == want_train, "training allocated %zu bytes, engine_train_bytes says %zu", acts_part, want_train);
    CHECK(spare.base == want_base, "weights + adapter: %zu bytes allocated, %zu computed", spare.base, want_base);
    CHECK(kv_part > 0 && acts_part > 0, "decode %zu and training %zu bytes", kv_part, acts_part);
    // room for the larger phase and half the smaller one: either alone fits, both do not
    budget = spare.base + (kv_part > acts_part ? kv_part : acts_part) + (kv_part < acts_part ? kv_part : acts_part) / 2;
    CHECK(spare.base + kv_part + acts_part > budget, "the budget must be too small for both phases");
    over = 0;
    run(&m, &counted, &tight);
    CHECK(!over, "an allocation went past the budget of %zu bytes (peak %zu)", budget, peak);
    CHECK(memcmp(spare.prefill1, tight.prefill1, sizeof spare.prefill1) == 0, "first prefill logits differ");
    CHECK(memcmp(spare.logp, tight.logp, sizeof spare.logp) == 0, "training log-probs differ");
    CHECK(memcmp(spare.grads, tight.grads, m.lora->n_params * sizeof(float)) == 0, "LoRA gradients differ");
    CHECK(memcmp(spare.prefill2, tight.prefill2, sizeof spare.prefill2) == 0, "prefill after training differs");
    CHECK(memcmp(spare.prefill1, spare.prefill2, sizeof spare.prefill1) == 0, "training changed the prefill");
    free(spare.grads);
    free(tight.grads);
    model_free(&m);
    return test_summary("engine_phases");
}
