// The CUDA ops (kernels/cuda/ops_cuda.h) behind the backend table; thin adapters where the table's signature
// carries what only the CPU needs (batch_invariant, max_kv_len).
#include <stdio.h>

#include "common/local_rank.h"
#include "kernels/backend.h"
#include "kernels/cuda/ops_cuda.h"
#ifdef MIGRATE_HAVE_NCCL
#include "kernels/cuda/comm_nccl.h"
#endif

static int g_device = -1;  // the device mg_backend_cuda_open set up

#ifdef MIGRATE_HAVE_NCCL
// The device collectives of the table: NCCL on the ops' stream, so that they queue behind the kernels that made
// their input.
_Static_assert(MG_COLL_ID_BYTES == COMM_NCCL_ID_BYTES, "the table's collective id is NCCL's");

static void *cuda_coll_join(const unsigned char id[MG_COLL_ID_BYTES], int nranks, int rank, mg_err *e) {
    comm_nccl *c;
    return comm_nccl_init_rank(&c, id, nranks, rank, g_device, e) ? NULL : c;
}

static int cuda_coll_max_f64(void *coll, double *x, size_t n, mg_err *e) {
    return comm_nccl_allreduce_max(coll, x, n, cuda_stream_handle(), e);
}

static int cuda_coll_sum_i64(void *coll, int64_t *x, size_t n, mg_err *e) {
    return comm_nccl_allreduce_i64(coll, x, n, cuda_stream_handle(), e);
}

static void cuda_coll_free(void *coll) { comm_nccl_free(coll); }
#endif

static void cuda_matmul_forward_t(float *out, const float *inp, const void *W, mg_dtype wt, const float *bias, int N,
                                  int IC, int OC, int batch_invariant) {
    (void)batch_invariant;  // cuBLAS picks kernels by shape: see docs/cuda.md
    matmul_forward_cuda(out, inp, W, wt, bias, N, IC, OC);
}

static void cuda_lora_forward_t(float *out, float *h, const float *inp, const float *A, const float *B, int N, int IC,
                                int OC, int ldo, int R, float scale, int batch_invariant) {
    (void)batch_invariant;
    lora_forward_ld_cuda(out, ldo, h, inp, A, B, N, IC, OC, R, scale);
}

static void cuda_matmul_forward_parts_t(float *out, const void *inp, mg_dtype it, const void *const *W,
                                        const float *const *b, const int *parts, int n_parts, mg_dtype wt, int N,
                                        int IC, int batch_invariant) {
    (void)batch_invariant;
    matmul_forward_parts_cuda(out, inp, it, W, b, parts, n_parts, wt, N, IC);
}

static void cuda_attention_forward_t(void *out, mg_dtype ot, float *out32, const float *q, const void *k,
                                     const void *v, mg_dtype kt, const int *kv_start, const int *kv_len, int N, int Hq,
                                     int Hkv, int D, int max_kv_len) {
    (void)max_kv_len;
    attention_forward_as_cuda(out, ot, out32, q, k, v, kt, kv_start, kv_len, N, Hq, Hkv, D);
}

static void cuda_attention_forward_train_t(float *out, const float *q, const float *k, const float *v,
                                           const int *kv_start, const int *kv_len, const int *kv_start_host,
                                           const int *kv_len_host, int N, int Hq, int Hkv, int D, int max_kv_len,
                                           mg_dtype at) {
    (void)max_kv_len;
    attention_forward_train_cuda(out, q, k, v, kv_start, kv_len, kv_start_host, kv_len_host, N, Hq, Hkv, D, at);
}

static void cuda_attention_backward_t(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                      const float *k, const float *v, const int *kv_start, const int *kv_len,
                                      const int *kv_start_host, const int *kv_len_host, int N, int Hq, int Hkv, int D,
                                      int max_kv_len, mg_dtype at) {
    (void)max_kv_len;
    attention_backward_train_cuda(dq, dk, dv, dout, q, k, v, kv_start, kv_len, kv_start_host, kv_len_host, N, Hq, Hkv,
                                  D, at);
}

static void cuda_matmul_forward_acc_t(float *out, const void *inp, mg_dtype it, const void *W, mg_dtype wt, int N,
                                      int IC, int OC, int batch_invariant) {
    (void)batch_invariant;
    matmul_forward_acc_cuda(out, inp, it, W, wt, N, IC, OC);
}

// No kept softmax on the GPU (logprob_keep_new is NULL there): the backward's head GEMM is cheap next to the step.
static void cuda_logprob_forward_t(float *logp, float *entropy, const float *x, const void *wlm, mg_dtype wt,
                                   const int *targets, const int *targets_host, int N, int C, int V, float inv_temp,
                                   void *keep) {
    (void)keep;
    logprob_forward_cuda(logp, entropy, x, wlm, wt, targets, targets_host, N, C, V, inv_temp);
}

static void cuda_logprob_backward_t(float *dx, float *dwlm, const float *dlogp, const float *x, const void *wlm,
                                    mg_dtype wt, const int *targets, const int *targets_host, int N, int C, int V,
                                    float inv_temp, void *keep) {
    (void)keep;
    logprob_backward_cuda(dx, dwlm, dlogp, x, wlm, wt, targets, targets_host, N, C, V, inv_temp);
}

static void cuda_release(void) {}  // scratch is freed by cuda_shutdown

static const mg_backend table = {
    .name = "cuda",
    .alloc = cuda_malloc,
    .try_alloc = cuda_try_malloc,
    .free = cuda_free,
    .zero = cuda_zero,
    .upload = cuda_h2d,
    .download = cuda_d2h,
    .copy = cuda_d2d,
    .upload_weights = cuda_upload_weights,
    .sync = cuda_sync,
    .fill = cuda_fill,
    .encoder_forward = encoder_forward_cuda,
    .encoder_backward = encoder_backward_cuda,
    .rmsnorm_forward = rmsnorm_forward_cuda,
    .rmsnorm_backward = rmsnorm_backward_cuda,
    .matmul_forward = cuda_matmul_forward_t,
    .matmul_backward = matmul_backward_cuda,
    .lora_forward = cuda_lora_forward_t,
    .lora_backward = lora_backward_cuda,
    .rope_forward = rope_forward_cuda,
    .rope_backward = rope_backward_cuda,
    .attention_forward = cuda_attention_forward_t,
    .attention_forward_train = cuda_attention_forward_train_t,
    .attention_backward = cuda_attention_backward_t,
    .swiglu_forward = swiglu_forward_cuda,
    .swiglu_backward = swiglu_backward_cuda,
    .residual_forward = residual_forward_cuda,
    .add_inplace = add_inplace_cuda,
    .scale_inplace = scale_inplace_cuda,
    .sumsq = sumsq_cuda,
    .logprob_forward = cuda_logprob_forward_t,
    .logprob_backward = cuda_logprob_backward_t,
    .adamw_update = adamw_update_cuda,
    .gather_rows = gather_rows_cuda,
    .scatter_rows = scatter_rows_cuda,
    .sample = sample_tokens_cuda,
    .matmul_forward_parts = cuda_matmul_forward_parts_t,
    .rmsnorm_forward_as = rmsnorm_forward_as_cuda,
    .matmul_forward_acc = cuda_matmul_forward_acc_t,
    .qkv_rope_cache = qkv_rope_cache_cuda,
    .swiglu_forward_parts = swiglu_forward_parts_cuda,
    .graph_begin = cuda_graph_begin,
    .graph_end = cuda_graph_end,
    .graph_launch = cuda_graph_launch,
    .graph_free = cuda_graph_free,
    .graph_epoch = cuda_scratch_epoch,
    .release = cuda_release,
    .absmax = absmax_cuda,
    .fixed_accumulate = fixed_accumulate_cuda,
    .fixed_to_float = fixed_to_float_cuda,
#ifdef MIGRATE_HAVE_NCCL
    .coll_unique_id = comm_nccl_unique_id,
    .coll_join = cuda_coll_join,
    .coll_max_f64 = cuda_coll_max_f64,
    .coll_sum_i64 = cuda_coll_sum_i64,
    .coll_free = cuda_coll_free,
#endif
};

const mg_backend *mg_backend_cuda(void) { return &table; }

const mg_backend *mg_backend_cuda_open(int device, mg_err *e) {
    if (device < 0) {
        int n = cuda_device_count();
        device = n > 0 ? mg_local_rank() % n : 0;
    }
    char err[640];
    if (cuda_init(device, err, sizeof err)) {
        mg_fail(e, "engine.backend cuda: %s", err);
        return NULL;
    }
    g_device = device;
    return &table;
}
