// A model placed on a compute backend (kernels/backend.h): its weights in the backend's memory (matrices fp32 or
// bf16, vectors fp32), the LoRA adapter with its gradients and AdamW moments (fp32), training activations and a
// KV cache. The transformer's loop, written once against the backend table: on mg_backend_cpu over a model's own
// buffers it is model_forward / model_backward / model_step / generate (engine_wrap), with mg_backend_cuda() it
// runs on the GPU (tests/gpu/test_cuda_parity.c compares them).
//
// Host-facing conventions: batches (packed_batch), logp, dlogp, tokens and sampled ids are host arrays; everything
// else stays in backend memory. One engine is used by one thread at a time.
#pragma once
#include <stdint.h>

#include "kernels/backend.h"
#include "model/model.h"
#include "model/sampler.h"
#include "model/tokenizer.h"

typedef struct {
    void *W[LORA_N_MODULES];   // q, k, v, o, gate, up, down (out, in), dtype wt
    float *b[LORA_N_MODULES];  // biases or NULL
    float *attn_norm, *mlp_norm;
    // full-parameter gradients (fp32, +=): a wrapped model in TRAIN_FULL only, NULL otherwise
    float *dW[LORA_N_MODULES], *db[LORA_N_MODULES], *dattn_norm, *dmlp_norm;
} engine_layer;

typedef struct engine_acts engine_acts;
typedef struct engine_kv engine_kv;

typedef struct engine {
    const mg_backend *be;
    hf_config cfg;
    mg_dtype wt;
    void *wmat;    // every matrix, one allocation
    float *wvec;   // every vector and inv_freq, one allocation
    void *wte, *lm_head;  // lm_head == wte when tied
    float *norm, *inv_freq;
    engine_layer *layers;
    float *dwte, *dlm_head, *dnorm;  // full-parameter gradients, as engine_layer's dW (dlm_head == dwte when tied)
    float *full_grads;               // all of them, contiguous (a wrapped engine in full training: the model's)
    size_t full_n;                   // their count; 0 unless full training
    // LoRA (lora_n == 0: none). Pointers index [layer * LORA_N_MODULES + module]; NULL where not adapted.
    lora_config lora;
    float lora_scale;
    int lora_enabled;
    size_t lora_n;
    uint64_t lora_version;  // the version of the host adapter last uploaded (lora_adapter.version; 0 = none)
    long lora_uploads;      // adapter uploads by engine_device_sync (tests count them)
    long graph_replays;     // decode steps run by replaying a captured CUDA graph (tests count them)
    float *lora_params, *lora_grads, *opt_m, *opt_v;
    int opt_t;
    float **A, **B, **dA, **dB;
    unsigned long lora_gen;  // +1 whenever the adapter is made or dropped (its buffers move: captured graphs go)
    engine_acts *acts;
    engine_kv *kv;
    // The learner's shard gradients, kept here until their sum (engine_grad_keep): (kept_cap, kept_n) fp32, and
    // their int64 fixed-point sum (kept_n)
    float *kept;
    int kept_cap;
    size_t kept_n;
    int64_t *kept_acc;
    int use_graphs;  // capture decode steps as CUDA graphs (backends that support it)
    const int *lora_enabled_src;  // engine_wrap: the model's own switch (lora->enabled), read at every use
    int borrowed;                 // engine_wrap: weights and adapter belong to the model
} engine;

// Copies m (and its adapter, if any, with its current values and enabled flag) onto the backend.
int engine_create(engine *e, const model *m, const mg_backend *be, mg_dtype wt, mg_err *err);
// The CPU backend over m's own buffers, nothing copied: weights, the adapter, its gradients and its on/off switch
// are the model's, so model_lora_init, optimizer_step, checkpoints and PEFT export see what the engine trains. In
// TRAIN_FULL the backward adds into m's full gradients (m->g) and the adapter, if one is live, passes gradients
// through without learning. This is how model_forward / model_backward / model_step run (model_engine below).
// m must outlive e; engine_wrap_sync picks up a changed adapter or training mode.
int engine_wrap(engine *e, model *m, mg_err *err);
void engine_wrap_sync(engine *e, model *m);
// The model's engine, synced with its adapter and training mode: the CPU engine over m's own buffers (made on first
// use), or the device engine of model_use_backend. model_forward, model_backward, model_step and generate are this
// engine's calls.
engine *model_engine(model *m);
// The model's engine on another backend (a GPU): m's weights copied there in wt, the host copy freed, and m->eng
// set, so model_forward, model_backward and generate run there. The adapter stays the model's: model_engine
// uploads it at every call (its values, its shape when that changed, its on/off switch), so every writer of the
// adapter (optimizer, resume, publication from the learners, PEFT load) is seen without bookkeeping. A one-line
// error leaves m as it was.
int model_use_backend(model *m, const mg_backend *be, mg_dtype wt, mg_err *err);
// Random weights made on the backend (normal(0, 0.02), norms 1, biases 0): benchmark models too large to build on
// the host first.
int engine_create_random(engine *e, const hf_config *cfg, const mg_backend *be, mg_dtype wt, uint64_t seed,
                         mg_err *err);
// A fresh adapter: A and B normal(0, std) (std 0: PEFT's start, A uniform(+-1/sqrt(in)) and B = 0 is not made
// here; copy one with engine_lora_upload).
int engine_lora_create(engine *e, const lora_config *lc, float std, uint64_t seed, mg_err *err);
void engine_free(engine *e);
// Frees the adapter (and the activations carved for its shape): engine_lora_create may then make another.
void engine_lora_drop(engine *e);

void engine_lora_upload(engine *e, const float *host_params);  // lora_n values in lora_tensors() order
void engine_lora_download(const engine *e, float *host_params);
void engine_lora_download_grads(const engine *e, float *host_grads);
void engine_zero_grad(engine *e);

// model_forward / model_backward semantics. An engine of its own (engine_create) trains LoRA only: frozen base
// weights get no gradients; a wrapped one follows its model's training mode.
double engine_forward(engine *e, const packed_batch *b, float temperature, float *logp, float *entropy);
void engine_backward(engine *e, const packed_batch *b, const float *dlogp);
// optimizer_step semantics: global-norm clipping, then AdamW on the adapter. Returns the norm before clipping.
float engine_optimizer_step(engine *e, float lr, float beta1, float beta2, float eps, float weight_decay,
                            float max_grad_norm);

// ---- the learner's shard gradients (workers/learner.c sums them exactly: int64 fixed point) ----
// Keeps the adapter's gradient as it is now in slot `slot` (0, 1, ...), in the engine's memory: on a GPU nothing
// crosses to the host before the sum.
void engine_grad_keep(engine *e, int slot);
// max |g| over the kept slots [0, n_slots): +inf when any element is not finite.
double engine_grad_kept_absmax(engine *e, int n_slots);
// The kept slots' sum in int64 fixed point, sum of llrint(g * scale), in the engine's memory (lora_n values, zeros
// when n_slots is 0): a collective sums it across the learners (workers/comm.c) before engine_grad_from_fixed.
int64_t *engine_grad_kept_fixed(engine *e, int n_slots, double scale);
// What a backward trains: every weight in full training (a wrapped engine), else the adapter. The kept gradients
// below are of this buffer.
float *engine_train_grads(const engine *e, size_t *n);
// The trained gradient = acc / scale (acc: engine_grad_kept_fixed's buffer), written to host_grad too.
void engine_grad_from_fixed(engine *e, const int64_t *acc, double scale, float *host_grad);

// ---- inference ----
// The k and v tensors of a cache of n_slots x max_len tokens on backend be, each (L, n_slots, max_len, Hkv D) of
// dtype dt, or -1 with the one-line error when they do not fit (engine_kv_init's and kv_cache_init's).
// Bytes of a KV cache of n_slots x max_len positions, keys and values of every layer, in dtype dt (the cache's:
// the weights' dtype on a device, fp32 on the CPU). The one place its size is computed (allocation, reports).
size_t engine_kv_cache_bytes(const hf_config *c, mg_dtype dt, int n_slots, int max_len);
int engine_kv_tensors(const mg_backend *be, const hf_config *c, mg_dtype dt, int n_slots, int max_len, void **k,
                      void **v, mg_err *err);
// (Re)sizes the KV cache; keeps the one it has when the size matches. All slots start empty. Its values are of the
// weights' dtype: bf16 on a GPU with bf16 weights (half the memory; attention still computes in fp32), fp32 with
// fp32 weights (the parity mode, and always on the CPU).
int engine_kv_init(engine *e, int n_slots, int max_len, mg_err *err);
// Bytes the KV cache's k and v take together (0: none yet), and in *dt (unless NULL) their dtype.
size_t engine_kv_bytes(const engine *e, mg_dtype *dt);
void engine_kv_reset_slot(engine *e, int slot);
// Frees the KV cache with its step buffers and graphs (engine_free calls it; engine_kv_init makes it again).
void engine_kv_free(engine *e);
// Steps into a caller's cache instead (model_step's kv_cache: k, v (L, n_slots, max_len, KV) fp32 and len (n_slots)
// in backend memory and on the host); the engine's own is freed. Kept until engine_kv_init or another attach.
void engine_kv_attach(engine *e, float *k, float *v, int *len, int n_slots, int max_len);
// model_step semantics. Returns the number of wanted rows (their logits stay in backend memory, see
// engine_logits), or -1 with err set. With sp != NULL it also samples one token per wanted row on the backend,
// with the draw rng_uniform(sp->seed, seq_ids[r], counters[r]), into ids / logp (host arrays).
int engine_step(engine *e, int n, const int *tokens, const int *slot_of, const char *want_logits,
                const mg_sample_params *sp, const uint64_t *seq_ids, const uint64_t *counters, int *ids, float *logp,
                mg_err *err);
// The logits (rows, V) of the last step, copied to the host.
void engine_logits(const engine *e, float *host, int rows);
// generate() of model/sampler.h with sampling on the backend.
int engine_generate(engine *e, const tokenizer *tok, int n, const int *const *prompts, const int *prompt_lens,
                    const uint64_t *seq_ids, const sampling_params *p, int max_batch, completion *out, mg_err *err);
