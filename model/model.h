// The policy model: a Llama-family decoder (Llama 2/3.x, Qwen2/2.5, Mistral) on the CPU in fp32.
//
// Parameters live in one contiguous buffer (llm.c style) with per-tensor pointers into it; gradients, when
// full-parameter training is on, use the same layout. LoRA adapters live in their own contiguous buffer, so LoRA
// training never allocates gradients for frozen weights.
//
// Batches are *packed*: the tokens of S sequences laid end to end (N tokens in all), no padding. Every linear
// layer is one GEMM over all N tokens; attention keeps sequences apart through per-token key ranges.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "model/hf_config.h"

typedef struct {
    float *attn_norm;           // (C)
    float *wq, *wk, *wv, *wo;   // (Hq*D, C), (Hkv*D, C), (Hkv*D, C), (C, Hq*D)
    float *bq, *bk, *bv, *bo;   // biases or NULL
    float *mlp_norm;            // (C)
    float *wgate, *wup, *wdown; // (F, C), (F, C), (C, F)
    float *bgate, *bup, *bdown; // biases or NULL
} layer_weights;

typedef struct {
    float *wte;       // (V, C)
    layer_weights *layers;
    float *norm;      // (C)
    float *lm_head;   // (V, C); == wte when tied
} model_weights;

// LoRA target modules (bit flags), named as PEFT names them.
enum {
    LORA_Q = 1 << 0, LORA_K = 1 << 1, LORA_V = 1 << 2, LORA_O = 1 << 3,
    LORA_GATE = 1 << 4, LORA_UP = 1 << 5, LORA_DOWN = 1 << 6,
};
#define LORA_N_MODULES 7
extern const char *const lora_module_names[LORA_N_MODULES];  // "q_proj", ..., "down_proj"

typedef struct {
    int rank;
    float alpha;
    unsigned targets;  // LORA_* flags
} lora_config;

typedef struct {
    float *A[LORA_N_MODULES];  // (R, IC) or NULL when the module is not a target
    float *B[LORA_N_MODULES];  // (OC, R)
} lora_layer;

typedef struct {
    lora_config cfg;
    float scale;  // alpha / rank
    size_t n_params;
    float *params;  // all A and B matrices, contiguous
    float *grads;   // same layout
    lora_layer *layers;
    lora_layer *dlayers;  // pointers into grads
    int enabled;          // 0 = forward as the base model (used for the KL reference)
    uint64_t version;     // new at every write of params (lora_adapter_changed), unique across adapters: a device
                          // engine uploads the adapter only when the version it holds is not this one
} lora_adapter;

typedef enum { TRAIN_NONE = 0, TRAIN_LORA, TRAIN_FULL } train_mode;

typedef struct engine engine;  // the model loop over a compute backend (model/engine.h)

typedef struct {
    hf_config cfg;
    size_t n_params;
    float *params;        // every weight, contiguous: own_params, or a search's trained copy (model_use_weights)
    float *own_params;    // the weights as loaded; a search that trains every weight never writes them
    model_weights w;
    float *grads;         // NULL unless TRAIN_FULL
    model_weights g;      // pointers into grads
    float *inv_freq;      // (D/2) rotary frequencies incl. llama3 scaling
    lora_adapter *lora;   // NULL when no adapter
    train_mode mode;
    // Where forward, backward and generation run (model_engine): the CPU engine over these buffers, made on first
    // use, or the engine on another backend (model_use_backend), which holds the weights instead of the host.
    engine *eng;
} model;

// ---- life cycle ----
// Loads config.json + safetensors (any of F32/F16/BF16) from an HF folder into fp32.
int model_load(model *m, const char *dir, mg_err *e);
// Frees the host copy of the weights once another backend holds its own (model_use_backend): 4 bytes per
// parameter of host memory that a GPU rank never reads again.
void model_drop_host_weights(model *m);
// The shape only (config.json; no weights read or allocated): for a rank that never runs the model but keeps
// adapters and their optimizer (a coordinator-only rank). Forward and generation refuse such a model.
int model_load_shape(model *m, const char *dir, mg_err *e);
// A fresh model with the given shape, weights drawn like transformers' init (normal(0, 0.02), norms = 1).
void model_init_random(model *m, const hf_config *cfg, uint64_t seed);
// Writes config.json, generation_config.json and model.safetensors (F32 or BF16) in HF layout.
int model_save(const model *m, const char *dir, int as_bf16, mg_err *e);
// model_save, then the tokenizer's files (tokenizer.json; tokenizer_config.json when present) copied from
// tokenizer_dir: a folder that transformers and `migrate run` load as they load the original.
int model_save_folder(const model *m, const char *dir, int as_bf16, const char *tokenizer_dir, mg_err *e);
void model_free(model *m);
// The HF tensor name of parameter `index` in the order model_param_count enumerates them (for save/load/tests).
int model_param_count(const model *m);
const char *model_param_name(const model *m, int index, char *buf, size_t buflen, float **ptr, int *ndim,
                             int64_t shape[2]);

// ---- LoRA ----
// Adds an adapter initialised like PEFT (A kaiming-uniform(a=sqrt(5)), B = 0), keyed on seed.
// Values in an adapter of this config on this model: every A (r, in) and B (out, r) of the targeted modules.
size_t lora_param_count(const hf_config *c, const lora_config *lc);
int model_lora_init(model *m, const lora_config *lc, uint64_t seed, mg_err *e);
// Frees an adapter that is not (or no longer) m->lora; model_free frees the one attached. Several searches over
// one model each keep their own adapter and attach it (m->lora = theirs) while they run.
void lora_free(lora_adapter *l);
// Every writer of l->params calls this after writing (the optimizer, a checkpoint resume, a PEFT load, an adapter
// publication, a test that sets values): it gives l a version no adapter had, so a device engine uploads it again.
void lora_adapter_changed(lora_adapter *l);
// Parses "q_proj,k_proj,v_proj" (or "all-linear") into LORA_* flags; -1 on an unknown name.
int lora_parse_targets(const char *list, unsigned *targets, mg_err *e);
// A trained tensor: its HF/PEFT name, its place in the trained buffer, its shape (a vector is one row). The
// checkpoint writer, reader and digest take adapters and full weights through this one list.
typedef struct {
    char name[96];
    size_t offset;
    int rows, cols;
} param_tensor;
// The adapter's tensors as PEFT names them (without its "base_model.model." prefix), e.g.
// "model.layers.0.self_attn.q_proj.lora_A.weight" (R, IC), with their place in lora->params. Returns the count;
// out may be NULL to count. Order = the buffer's order (layer, module, A then B).
int lora_tensors(const model *m, param_tensor *out);
// The same for every weight in full training: HF names ("model.layers.0.self_attn.q_proj.weight"), offsets into
// params, a vector as one row. A tied lm_head is wte's and not listed.
int model_weight_tensors(const model *m, param_tensor *out);
void model_set_train_mode(model *m, train_mode mode);  // allocates gradients as the mode needs
// Runs the model on `params` (n_params floats in the model's layout: a search's own copy of the weights, which it
// trains) or, with NULL, on its own weights again. Only the pointers change; the CPU engine re-reads them at every
// call. A model on another backend refuses.
void model_use_weights(model *m, float *params);
void model_zero_grad(model *m);
// The trainable buffer and its gradient for the current mode (adapter or full weights).
float *model_trainable(model *m, size_t *n);
float *model_trainable_grad(model *m, size_t *n);

// ---- packed batches ----
typedef struct {
    int n_seqs;       // S
    int n_tokens;     // N
    int *tokens;      // (N) input ids
    int *targets;     // (N) id whose log-prob is wanted at this position (usually the next token), or -1
    int *pos;         // (N) position within its sequence (a continuation's positions go on after its prefix's)
    int *seq_start;   // (S+1) first token of each sequence; seq_start[S] = N
    int capacity;
    // Shared prefixes (packed_batch_add_prefix): sequences 0 .. n_prefixes-1 are prompt prefixes packed once;
    // prefix_of[s] (S) is the prefix that sequence s continues, or -1. 0 and NULL in a batch without them.
    int n_prefixes;
    int *prefix_of;
} packed_batch;

void packed_batch_init(packed_batch *b);
void packed_batch_free(packed_batch *b);
void packed_batch_clear(packed_batch *b);
// Appends one sequence of ids. Positions p >= score_from get target ids[p+1] (the last position gets -1), so
// logp is produced for ids[score_from+1 .. n-1]: the completion tokens when score_from = prompt_len - 1.
void packed_batch_add(packed_batch *b, const int *ids, int n, int score_from);
// The score_from sequence seq was added with (its first position with a target; its length when none).
int packed_batch_score_from(const packed_batch *b, int seq);
// A prompt prefix that several sequences continue (the GRPO update runs its forward and backward once for all of
// them): no targets, before any ordinary sequence. Returns its index.
int packed_batch_add_prefix(packed_batch *b, const int *ids, int n);
// A sequence that continues prefix `prefix`: its ids come after the prefix's (positions go on from the prefix's
// length) and attend to the prefix's tokens and its own; targets as packed_batch_add's, over ids alone.
void packed_batch_add_after(packed_batch *b, int prefix, const int *ids, int n, int score_from);
// Sequences that are not prefixes (the group's members): n_seqs - n_prefixes.
static inline int packed_batch_members(const packed_batch *b) { return b->n_seqs - b->n_prefixes; }
// Appends src's sequences first .. first+count-1 to dst (empty) as the GRPO learner packs a shard: a prompt (the
// tokens before score_from) that two or more of them share, at least min_shared tokens long, is packed once as a
// prefix and those sequences continue it; the others are packed whole. 0 = share nothing. from[j] (if not NULL)
// is src's token that dst's member j starts at, so per-token values map back. Returns the number of prefixes.
int packed_batch_share_prompts(packed_batch *dst, const packed_batch *src, int first, int count, int min_shared,
                               int *from);

// ---- training forward / backward ----
// Runs the batch, saving activations; writes logp (N) of each target at the given temperature (0 where target < 0)
// and, if entropy is not NULL, the per-position entropy. Returns the sum of logp over targets.
double model_forward(model *m, const packed_batch *b, float temperature, float *logp, float *entropy);
// Backpropagates dL/dlogp (N) of the last model_forward into the trainable gradients (+=).
void model_backward(model *m, const packed_batch *b, const float *dlogp);
// The trained gradient (the adapter's, or every weight's in TRAIN_FULL) of dL/dlogp alone (not +=), kept in the
// engine as slot `slot` (engine_grad_keep) instead of coming to the host: a learner's shard, summed later
// (workers/learner.c).
void model_backward_keep(model *m, const packed_batch *b, const float *dlogp, int slot);

// ---- inference with a KV cache ----
typedef struct {
    int n_slots, max_len;
    int kv_dim;       // Hkv * D
    float *k, *v;     // (L, n_slots, max_len, Hkv*D)
    int *len;         // (n_slots) tokens already in each slot
} kv_cache;

int kv_cache_init(kv_cache *kv, const model *m, int n_slots, int max_len, mg_err *e);
void kv_cache_free(kv_cache *kv);
// Feeds n new tokens: token i goes to slot slot_of[i] at position kv->len[slot] (tokens of one slot in order).
// For every i with want_logits[i] != 0, writes full logits (V) to logits + k*V for the k-th such token.
// Errors (slot full) return -1 without touching the cache.
int model_step(model *m, kv_cache *kv, int n, const int *tokens, const int *slot_of, const char *want_logits,
               float *logits, mg_err *e);
