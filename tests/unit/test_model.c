// Whole-model checks on a random tiny config (no fixtures needed):
//  * model_backward against central finite differences of model_forward, in LoRA and full-parameter mode;
//  * switching the training mode or the attached adapter between calls: only the current trainable buffer gets a
//    gradient, and a second adapter of another shape is trained as itself;
//  * the KV-cache path (prefill and token-by-token decode) against the training forward;
//  * sampling does not depend on what else is in the batch (the counter-based RNG contract);
//  * a KV cache too large for any machine is a one-line error, and the engine works on afterwards.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/engine.h"
#include "model/model.h"
#include "model/sampler.h"
#include "testing.h"

#if defined(__SANITIZE_ADDRESS__)  // gcc
#define MG_TEST_ASAN 1
#elif defined(__has_feature)  // clang
#if __has_feature(address_sanitizer)
#define MG_TEST_ASAN 1
#endif
#endif
#ifdef MG_TEST_ASAN
// check_cache_too_big asks for more memory than exists: ASan's allocator then returns NULL, as libc's does, instead
// of stopping the program (the environment's ASAN_OPTIONS still apply on top of this).
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

static hf_config tiny_config(int qwen_like) {
    hf_config c;
    memset(&c, 0, sizeof c);
    c.arch = qwen_like ? ARCH_QWEN2 : ARCH_LLAMA;
    snprintf(c.architecture, sizeof c.architecture, "%s", qwen_like ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
    c.vocab_size = 37;
    c.hidden_size = 16;
    c.intermediate_size = 24;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 2;
    c.head_dim = 4;
    c.max_position_embeddings = 64;
    c.rms_norm_eps = 1e-5f;
    c.rope_theta = 10000.0;
    c.rope_llama3 = !qwen_like;
    c.rope_factor = 8, c.rope_low_freq_factor = 1, c.rope_high_freq_factor = 4;
    c.rope_original_max_position_embeddings = 8;
    c.tie_word_embeddings = qwen_like;
    c.attention_bias = qwen_like;
    c.bos_token_id = -1;
    c.pad_token_id = -1;
    c.eos_token_ids[0] = 36;
    c.n_eos = 1;
    return c;
}

static void make_batch(packed_batch *b, int V) {
    int lens[3] = {7, 11, 5}, from[3] = {2, 0, 3};
    packed_batch_init(b);
    for (int s = 0; s < 3; s++) {
        int ids[16];
        for (int t = 0; t < lens[s]; t++) ids[t] = (int)(rng_uniform(7, (uint64_t)s, (uint64_t)t) * V);
        packed_batch_add(b, ids, lens[s], from[s]);
    }
}

// L = sum_i w_i logp_i in double
static double loss(model *m, const packed_batch *b, const float *w, float T, float *logp) {
    model_forward(m, b, T, logp, NULL);
    double L = 0;
    for (int i = 0; i < b->n_tokens; i++) L += (double)w[i] * logp[i];
    return L;
}

static void gradcheck(model *m, const packed_batch *b, const char *what) {
    int N = b->n_tokens;
    float *w = malloc(N * sizeof(float)), *logp = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) w[i] = b->targets[i] >= 0 ? rng_normal(3, 1, (uint64_t)i) : 0.0f;
    float T = 0.8f;
    model_zero_grad(m);
    loss(m, b, w, T, logp);
    model_backward(m, b, w);
    size_t n;
    float *theta = model_trainable(m, &n), *grad = model_trainable_grad(m, &n);
    // Probe a spread of parameters; fp32 forward, so h must stay well above rounding noise.
    double worst = 0, scale = 1e-3;
    int probes = 0;
    for (size_t k = 0; k < n; k += n / 97 + 1, probes++) {
        float keep = theta[k], h = 1e-2f;
        theta[k] = keep + h;
        double lp = loss(m, b, w, T, logp);
        theta[k] = keep - h;
        double lm = loss(m, b, w, T, logp);
        theta[k] = keep;
        double fd = (lp - lm) / (2.0 * h);
        double d = fabs(fd - grad[k]);
        if (fabs(fd) > scale) scale = fabs(fd);
        if (d > worst) worst = d;
    }
    printf("  %s: %d probes, worst |analytic - fd| = %.2e (scale %.2e)\n", what, probes, worst, scale);
    CHECK(worst / scale < 2e-2, "%s gradient mismatch %.3e relative", what, worst / scale);
    free(w);
    free(logp);
}

static int all_zero(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (x[i] != 0.0f) return 0;
    return 1;
}

// The model's engine re-reads the mode and the adapter at every call: after TRAIN_FULL, a LoRA backward leaves the
// full gradients alone; a full backward with a live adapter passes through it without training it (and matches
// finite differences); another search's adapter, attached in place of this one, is the one trained.
static void check_mode_switch(model *m, const packed_batch *b) {
    int N = b->n_tokens;
    float *logp = malloc(N * sizeof(float)), *w = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) w[i] = b->targets[i] >= 0 ? 1.0f : 0.0f;
    model_zero_grad(m);
    model_forward(m, b, 1.0f, logp, NULL);
    model_backward(m, b, w);
    CHECK(m->grads && all_zero(m->grads, m->n_params), "a LoRA backward wrote full-parameter gradients");
    CHECK(!all_zero(m->lora->grads, m->lora->n_params), "a LoRA backward left the adapter's gradient zero");

    model_set_train_mode(m, TRAIN_FULL);
    model_zero_grad(m);
    model_forward(m, b, 1.0f, logp, NULL);
    model_backward(m, b, w);
    CHECK(all_zero(m->lora->grads, m->lora->n_params), "a full-parameter backward trained the adapter");
    CHECK(!all_zero(m->grads, m->n_params), "a full-parameter backward left the gradients zero");
    gradcheck(m, b, "full-parameter through a live adapter");

    lora_adapter *mine = m->lora;
    lora_config other = {.rank = 2, .alpha = 4, .targets = (1u << 1) | (1u << 6)};  // k_proj, down_proj
    mg_err e;
    m->lora = NULL;
    CHECK(model_lora_init(m, &other, 11, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < m->lora->n_params; i++)
        if (m->lora->params[i] == 0.0f) m->lora->params[i] = 0.1f * rng_normal(6, 0, i);
    model_set_train_mode(m, TRAIN_LORA);
    gradcheck(m, b, "a second adapter (r 2 on k_proj, down_proj)");
    CHECK(all_zero(mine->grads, mine->n_params), "the detached adapter got a gradient");
    lora_free(m->lora);
    m->lora = mine;
    free(logp), free(w);
}

// 2^20 slots of 2^30 tokens: 2^56 bytes per tensor here, more than a 64-bit address space holds.
static void check_cache_too_big(model *m) {
    engine *en = model_engine(m);
    mg_err e;
    e.msg[0] = '\0';
    int rc = engine_kv_init(en, 1 << 20, 1 << 30, &e);
    printf("  KV cache of 2^20 x 2^30 tokens: %s\n", rc ? e.msg : "allocated?");
    CHECK(rc == -1 && strstr(e.msg, "cannot allocate a KV cache of 1048576 slots x 1073741824 tokens"),
          "an impossible KV cache: rc %d, '%s'", rc, e.msg);
    CHECK(engine_kv_init(en, 2, 16, &e) == 0, "after a failed KV cache: %s", e.msg);
    engine_kv_free(en);
}

static void check_cache_paths(model *m, const char *what) {
    // Logits at every position via the training forward's logp (targets = next token, T = 1) must equal the
    // KV-cache path, both as one prefill and token by token.
    int V = m->cfg.vocab_size, n = 9, ids[9];
    for (int t = 0; t < n; t++) ids[t] = (int)(rng_uniform(11, 0, (uint64_t)t) * V);
    packed_batch b;
    packed_batch_init(&b);
    packed_batch_add(&b, ids, n, 0);
    float logp[9];
    model_forward(m, &b, 1.0f, logp, NULL);
    kv_cache kv;
    mg_err e;
    CHECK(kv_cache_init(&kv, m, 2, 16, &e) == 0, "%s", e.msg);
    int slots[9] = {0}, slots1[9];
    for (int t = 0; t < n; t++) slots1[t] = 1;
    float *pre = malloc((size_t)n * V * sizeof(float)), *one = malloc((size_t)V * sizeof(float));
    CHECK(model_step(m, &kv, n, ids, slots1, NULL, pre, &e) == 0, "%s", e.msg);
    double worst_pre = 0, worst_dec = 0;
    for (int t = 0; t < n; t++) {
        CHECK(model_step(m, &kv, 1, &ids[t], slots, NULL, one, &e) == 0, "%s", e.msg);
        if (t + 1 == n) break;
        double mx = -INFINITY, s = 0;
        for (int v = 0; v < V; v++) mx = fmax(mx, one[v]);
        for (int v = 0; v < V; v++) s += exp(one[v] - mx);
        double lp = one[ids[t + 1]] - mx - log(s);
        worst_dec = fmax(worst_dec, fabs(lp - logp[t]));
        for (int v = 0; v < V; v++) worst_pre = fmax(worst_pre, fabs(pre[(size_t)t * V + v] - one[v]));
    }
    printf("  %s: decode vs training forward %.2e, prefill vs decode %.2e\n", what, worst_dec, worst_pre);
    CHECK(worst_dec < 1e-5, "%s decode logp differs by %.3e", what, worst_dec);
    CHECK(worst_pre < 1e-5, "%s prefill logits differ by %.3e", what, worst_pre);
    CHECK(kv.len[0] == n && kv.len[1] == n, "cache lengths %d %d", kv.len[0], kv.len[1]);
    int big = 3;
    CHECK(model_step(m, &kv, 1, &big, (int[]){5}, NULL, one, &e) == -1, "slot out of range accepted");
    free(pre);
    free(one);
    kv_cache_free(&kv);
    packed_batch_free(&b);
}

static void check_batch_invariance(model *m) {
    int V = m->cfg.vocab_size;
    int p0[] = {1, 2, 3}, p1[] = {4, 5, 6, 7, 8, 9}, p2[] = {10};
    const int *prompts[] = {p0, p1, p2};
    int lens[] = {3, 6, 1};
    uint64_t ids[] = {100, 101, 102};
    sampling_params sp;
    sampling_params_default(&sp);
    sp.max_new_tokens = 12;
    sp.seed = 42;
    sp.top_k = 20;
    sp.top_p = 0.95f;
    completion all[3], alone, batched2[3];
    mg_err e;
    CHECK(generate(m, NULL, 3, prompts, lens, ids, &sp, 0, all, &e) == 0, "%s", e.msg);
    CHECK(generate(m, NULL, 1, &prompts[1], &lens[1], &ids[1], &sp, 0, &alone, &e) == 0, "%s", e.msg);
    CHECK(generate(m, NULL, 3, prompts, lens, ids, &sp, 2, batched2, &e) == 0, "%s", e.msg);  // 2 slots
    int same = alone.n == all[1].n && memcmp(alone.ids, all[1].ids, alone.n * sizeof(int)) == 0 &&
               memcmp(alone.logp, all[1].logp, alone.n * sizeof(float)) == 0;
    CHECK(same, "sequence 101 differs alone vs in a batch of 3");
    for (int i = 0; i < 3; i++)
        CHECK(all[i].n == batched2[i].n && memcmp(all[i].ids, batched2[i].ids, all[i].n * sizeof(int)) == 0,
              "sequence %d differs with 2 slots", i);
    for (int i = 0; i < 3; i++)
        for (int t = 0; t < all[i].n; t++) CHECK(all[i].ids[t] >= 0 && all[i].ids[t] < V, "token out of range");
    // The recorded sampling log-probs equal the training forward's log-probs of the same completion.
    int full[32];
    memcpy(full, p1, sizeof p1);
    memcpy(full + 6, all[1].ids, all[1].n * sizeof(int));
    packed_batch b;
    packed_batch_init(&b);
    packed_batch_add(&b, full, 6 + all[1].n, 5);
    float logp[32];
    model_forward(m, &b, sp.temperature, logp, NULL);
    double worst = 0;
    for (int t = 0; t < all[1].n; t++) worst = fmax(worst, fabs(logp[5 + t] - all[1].logp[t]));
    printf("  sampling logp vs training forward: %.2e\n", worst);
    CHECK(worst < 1e-5, "sampling-time logp differ from the forward by %.3e", worst);
    // A prompt as long as the context is refused with a message.
    int longp[64] = {0};
    const int *lp[] = {longp};
    int ll = 64;
    CHECK(generate(m, NULL, 1, lp, &ll, ids, &sp, 0, &alone, &e) == -1 && strstr(e.msg, "context"),
          "long prompt accepted");
    packed_batch_free(&b);
    for (int i = 0; i < 3; i++) completion_free(&all[i]), completion_free(&batched2[i]);
    completion_free(&alone);
}

// Prompts that share prefixes (the on-policy copies of one prompt, variations of it, and one unrelated) give the
// same completions, bit for bit, whether the shared prefix is prefilled once and copied (share_prefix) or not,
// with every prompt in its own slot or two slots reused, and alone.
static void check_shared_prefix(model *m) {
    int base[14] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7}, var[14], other[5] = {11, 12, 13, 14, 15};
    memcpy(var, base, sizeof var);
    var[11] = 2, var[13] = 4;  // shares 11 tokens with base
    const int *prompts[] = {base, base, var, other, base, var};
    int lens[] = {14, 14, 14, 5, 12, 13};  // the last two: a prefix of base, and var cut short
    enum { N = 6 };
    uint64_t ids[N] = {7, 8, 9, 10, 11, 12};
    sampling_params sp;
    sampling_params_default(&sp);
    sp.max_new_tokens = 10;
    sp.seed = 5;
    completion shared[N], unshared[N], two_slots[N], alone;
    mg_err e;
    CHECK(generate(m, NULL, N, prompts, lens, ids, &sp, 0, shared, &e) == 0, "%s", e.msg);
    CHECK(generate(m, NULL, N, prompts, lens, ids, &sp, 2, two_slots, &e) == 0, "%s", e.msg);
    sp.share_prefix = 0;
    CHECK(generate(m, NULL, N, prompts, lens, ids, &sp, 0, unshared, &e) == 0, "%s", e.msg);
    for (int i = 0; i < N; i++) {
        CHECK(generate(m, NULL, 1, &prompts[i], &lens[i], &ids[i], &sp, 0, &alone, &e) == 0, "%s", e.msg);
        const completion *ways[] = {shared, unshared, two_slots};
        for (int w = 0; w < 3; w++) {
            const completion *c = &ways[w][i];
            CHECK(c->n == alone.n && !memcmp(c->ids, alone.ids, alone.n * sizeof(int)) &&
                      !memcmp(c->logp, alone.logp, alone.n * sizeof(float)),
                  "prompt %d: completion %s differs from the prompt alone", i,
                  w == 0 ? "with shared prefixes" : w == 1 ? "without sharing" : "with shared prefixes, 2 slots");
        }
        completion_free(&alone);
    }
    for (int i = 0; i < N; i++) completion_free(&shared[i]), completion_free(&unshared[i]), completion_free(&two_slots[i]);
}

// A GRPO shard whose members share prompts, packed with the prompts once (packed_batch_add_prefix / _add_after),
// gives the log-probs, entropies and trainable gradients of the same members packed whole, up to fp32 rounding:
// two prompts shared by three and two members, one member alone, prompt lengths 9 and 6, a one-token prompt.
static void check_shared_prefix_training(model *m, const char *what) {
    enum { M = 6 };
    int V = m->cfg.vocab_size, prompt_of[M] = {0, 0, 1, 0, 1, 2}, plen[3] = {9, 6, 1}, clen[M] = {4, 6, 3, 5, 1, 4};
    int prompts[3][9], comps[M][8];
    for (int k = 0; k < 3; k++)
        for (int t = 0; t < plen[k]; t++) prompts[k][t] = (int)(rng_uniform(21, (uint64_t)k, (uint64_t)t) * V);
    for (int j = 0; j < M; j++)
        for (int t = 0; t < clen[j]; t++) comps[j][t] = (int)(rng_uniform(22, (uint64_t)j, (uint64_t)t) * V);
    packed_batch whole, shared;
    packed_batch_init(&whole), packed_batch_init(&shared);
    int prefix_of_prompt[3] = {-1, -1, -1};
    for (int k = 0; k < 2; k++) prefix_of_prompt[k] = packed_batch_add_prefix(&shared, prompts[k], plen[k] - 1);
    int at_whole[M], at_shared[M];  // where member j's last prompt token sits in each batch
    for (int j = 0; j < M; j++) {
        int k = prompt_of[j], ids[32], n = 0;
        for (int t = 0; t < plen[k]; t++) ids[n++] = prompts[k][t];
        for (int t = 0; t < clen[j]; t++) ids[n++] = comps[j][t];
        at_whole[j] = whole.n_tokens + plen[k] - 1;
        packed_batch_add(&whole, ids, n, plen[k] - 1);
        if (prefix_of_prompt[k] >= 0) {
            at_shared[j] = shared.n_tokens;
            packed_batch_add_after(&shared, prefix_of_prompt[k], ids + plen[k] - 1, n - plen[k] + 1, 0);
        } else {
            at_shared[j] = shared.n_tokens + plen[k] - 1;
            packed_batch_add(&shared, ids, n, plen[k] - 1);
        }
    }
    CHECK(packed_batch_members(&shared) == M && shared.n_tokens < whole.n_tokens, "%s: shared batch of %d tokens",
          what, shared.n_tokens);
    float *lw = calloc((size_t)whole.n_tokens, sizeof(float)), *ls = calloc((size_t)shared.n_tokens, sizeof(float));
    float *ew = calloc((size_t)whole.n_tokens, sizeof(float)), *es = calloc((size_t)shared.n_tokens, sizeof(float));
    float *dw = calloc((size_t)whole.n_tokens, sizeof(float)), *ds = calloc((size_t)shared.n_tokens, sizeof(float));
    size_t n;
    model_zero_grad(m);
    model_forward(m, &whole, 0.9f, lw, ew);
    for (int j = 0; j < M; j++)
        for (int t = 0; t < clen[j]; t++) dw[at_whole[j] + t] = ds[at_shared[j] + t] = rng_normal(23, (uint64_t)j, t);
    model_backward(m, &whole, dw);
    float *g = model_trainable_grad(m, &n), *gw = malloc(n * sizeof(float));
    memcpy(gw, g, n * sizeof(float));
    model_zero_grad(m);
    model_forward(m, &shared, 0.9f, ls, es);
    model_backward(m, &shared, ds);
    double worst_logp = 0, worst_ent = 0, gmax = 0, gdiff = 0;
    for (int j = 0; j < M; j++)
        for (int t = 0; t < clen[j]; t++) {
            worst_logp = fmax(worst_logp, fabs(lw[at_whole[j] + t] - ls[at_shared[j] + t]));
            worst_ent = fmax(worst_ent, fabs(ew[at_whole[j] + t] - es[at_shared[j] + t]));
        }
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(gw[i])), gdiff = fmax(gdiff, fabs(gw[i] - g[i]));
    printf("  shared prompts (%s): %d tokens instead of %d; logp %.2e, entropy %.2e, gradient %.2e of max %.2e\n",
           what, shared.n_tokens, whole.n_tokens, worst_logp, worst_ent, gdiff, gmax);
    CHECK(worst_logp < 1e-5 && worst_ent < 1e-5, "%s: shared-prompt logp differs by %g, entropy by %g", what,
          worst_logp, worst_ent);
    CHECK(gmax > 0 && gdiff <= 1e-5 * gmax, "%s: shared-prompt gradient differs by %g (max %g)", what, gdiff, gmax);
    model_zero_grad(m);
    free(lw), free(ls), free(ew), free(es), free(dw), free(ds), free(gw);
    packed_batch_free(&whole), packed_batch_free(&shared);
}

int main(void) {
    for (int qwen = 0; qwen < 2; qwen++) {
        hf_config c = tiny_config(qwen);
        printf("%s-like tiny model\n", qwen ? "qwen2" : "llama3");
        model m;
        model_init_random(&m, &c, 1234 + qwen);
        // biases random so their gradients are exercised
        packed_batch b;
        make_batch(&b, c.vocab_size);
        model_set_train_mode(&m, TRAIN_FULL);
        gradcheck(&m, &b, "full-parameter");
        check_shared_prefix_training(&m, "full-parameter");
        lora_config lc = {.rank = 4, .alpha = 8, .targets = (1u << LORA_N_MODULES) - 1};
        mg_err e;
        CHECK(model_lora_init(&m, &lc, 9, &e) == 0, "%s", e.msg);
        size_t n;
        float *ab = model_trainable(&m, &n);
        (void)ab;
        // B = 0 at init makes dA = 0; give B values so both matrices are checked.
        for (size_t i = 0; i < m.lora->n_params; i++)
            if (m.lora->params[i] == 0.0f) m.lora->params[i] = 0.1f * rng_normal(5, 0, i);
        model_set_train_mode(&m, TRAIN_LORA);
        gradcheck(&m, &b, "lora");
        check_shared_prefix_training(&m, "lora");
        check_mode_switch(&m, &b);
        gradcheck(&m, &b, "lora, the first adapter attached again");
        check_cache_paths(&m, "with adapter");
        m.lora->enabled = 0;
        check_cache_paths(&m, "adapter disabled");
        m.lora->enabled = 1;
        check_batch_invariance(&m);
        check_shared_prefix(&m);
        check_cache_too_big(&m);
        packed_batch_free(&b);
        model_free(&m);
    }
    return test_summary("test_model");
}
