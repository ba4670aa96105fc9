// Attention of a packed causal training batch as batched GEMMs on the tensor cores. The tiled fp32 kernels of
// attention_train.cu ran at 6-7 TFLOP/s on CUDA cores and were 58% of a GRPO step on an H200; here the products
// go to cuBLAS and only the softmax is a kernel of ours. Per chunk of sequences and query heads:
//   forward:  S = Q K^T scale, P = causal softmax(S) (a row kernel, fp32), O = P V;
//   backward: S and dP = dO V^T again (nothing is kept from the forward: memory), one row kernel gives P and
//             dS = P (dP - rowsum(P dP)) scale, then dV = P^T dO, dK = dS^T Q, dQ = dS K.
// Each product is one cublasGemmStridedBatchedEx over the chunk's (sequence, head) pairs, which needs one geometry
// per call: the chunk's operands are packed into scratch first, every sequence's rows padded with zeros to the
// chunk's longest (chunks group sequences of similar length), K and V copied once per query head (GQA then needs
// no pointer arrays; the copies are small next to the scores). bf16 mode packs bf16 operands (tensor cores, fp32
// accumulation, fp32 S and dP); fp32 mode packs fp32 (true fp32 GEMMs, as the parity tests need). Gradients
// unpack into dq, dk, dv with +=; dk and dv add a KV head's query heads in head order: no float atomics, so
// results do not depend on scheduling.
//
// Which layouts the GEMMs take and how they are cut into chunks under a scratch budget: attention_gemm_plan.cu. The
// plan comes from the caller's host copy of kv_start and kv_len (the GEMMs' shapes depend on them): reading the
// device's copy back would wait for the stream twice per layer and step.
#include <string.h>

#include <algorithm>
#include <initializer_list>
#include <vector>

#include "kernels/cuda/attention_gemm.h"
#include "kernels/cuda/attention_gemm_plan.h"
#include "kernels/cuda/cuda_common.h"

enum { ROW_WARPS = 4, COPY_THREADS = 256 };

// The copy kernels move V consecutive floats per access: V = 4 (16-byte loads and stores) when D % 4 == 0 and
// every pointer is 16-byte aligned, else 1. One float per thread left them waiting on memory latency (a pack of one
// tensor took as long as a pack of two).
struct alignas(16) f4 {
    float x, y, z, w;
};
struct alignas(8) bf4 {
    __nv_bfloat16 h[4];
};
template <int V> static __device__ __forceinline__ f4 load_v(const float *p) {
    if constexpr (V == 4) return *(const f4 *)p;
    else return f4{*p, 0.0f, 0.0f, 0.0f};
}
template <int V> static __device__ __forceinline__ void store_v(float *p, f4 v) {
    if constexpr (V == 4) *(f4 *)p = v;
    else *p = v.x;
}
template <int V> static __device__ __forceinline__ void store_v(__nv_bfloat16 *p, f4 v) {
    if constexpr (V == 4) {
        bf4 o = {{__float2bfloat16_rn(v.x), __float2bfloat16_rn(v.y), __float2bfloat16_rn(v.z), __float2bfloat16_rn(v.w)}};
        *(bf4 *)p = o;
    } else {
        *p = __float2bfloat16_rn(v.x);
    }
}
static __device__ __forceinline__ f4 add4(f4 a, f4 b) { return f4{a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w}; }

// Their threads: `per` rows of D / V accesses side by side in a block (a row wider than the block loops), so that
// no thread divides per element.
struct row_lanes {
    int d0, dt, r, per;
};
static __device__ __forceinline__ row_lanes lanes_of(int n) {
    row_lanes w;
    w.dt = min(n, (int)blockDim.x);
    w.per = blockDim.x / w.dt;
    w.r = threadIdx.x / w.dt;
    w.d0 = threadIdx.x - w.r * w.dt;
    return w;
}

// dst0, dst1 (B, L, D), B = segments x nh: row t of segment b / nh for query head h0 + b % nh, read from head
// (h0 + b % nh) / div of src (rows, H, D): the query head itself (div 1) or the KV head it uses (div G). Rows past
// the segment's count are zero. Two tensors of one geometry at once (Q and dO, K and V).
template <typename T, int V>
static __global__ void attn_pack_kernel(T *dst0, const float *src0, T *dst1, const float *src1, attn_segs sg,
                                        int keys, int h0, int nh, int div, int L, int H, int D) {
    row_lanes w = lanes_of(D / V);
    if (w.r >= w.per) return;  // no barriers here
    int b = blockIdx.y, s = b / nh, h = (h0 + b % nh) / div;
    int base = keys ? sg.k0[s] : sg.q0[s], cnt = keys ? sg.nk[s] : sg.nq[s];
    for (int t = blockIdx.x * w.per + w.r; t < L; t += gridDim.x * w.per) {
        size_t o = ((size_t)b * L + t) * D, at = ((size_t)(base + t) * H + h) * D;
        for (int d = w.d0 * V; d < D; d += w.dt * V) {
            f4 x0 = {0.0f, 0.0f, 0.0f, 0.0f}, x1 = x0;
            if (t < cnt) {
                x0 = load_v<V>(src0 + at + d);
                if (src1) x1 = load_v<V>(src1 + at + d);
            }
            store_v<V>(dst0 + o + d, x0);
            if (dst1) store_v<V>(dst1 + o + d, x1);
        }
    }
}

// How many keys the query of score row r = b * lq + t sees (0 on padded rows).
static __device__ __forceinline__ int keys_seen(const attn_segs &sg, size_t r, int nh, int lq) {
    int t = (int)(r % lq), s = (int)(r / lq) / nh;
    return t < sg.nq[s] ? sg.nk[s] - sg.nq[s] + t + 1 : 0;
}

// The row kernels: one warp per score row (ROW_WARPS rows per block), lane l takes keys l, l + 32, ...; the
// warp's shuffle reductions fix the order. P = softmax of S over the keys the query sees, zero past them: the CPU
// op's formula, p = exp(s - max) * (1 / sum exp(s - max)). T = float: P may be S.
template <typename T>
static __global__ void __launch_bounds__(32 * ROW_WARPS)
    attn_softmax_kernel(T *P, const float *S, attn_segs sg, int nh, int lq, int lk, size_t rows) {
    size_t r = (size_t)blockIdx.x * ROW_WARPS + threadIdx.x / 32;
    if (r >= rows) return;  // the whole warp
    int see = keys_seen(sg, r, nh, lq), lane = threadIdx.x % 32;
    const float *sr = S + r * lk;
    T *pr = P + r * lk;
    float m = -INFINITY, l = 0.0f;
    for (int j = lane; j < see; j += 32) m = fmaxf(m, sr[j]);
    m = warp_max(m);
    for (int j = lane; j < see; j += 32) l += expf(sr[j] - m);
    l = warp_sum(l);
    float inv = see > 0 ? 1.0f / l : 0.0f;
    for (int j = lane; j < lk; j += 32) store_as(pr, j, j < see ? expf(sr[j] - m) * inv : 0.0f);
}

// The backward's: P as above, u = sum_j p_j dP_j, dS_j = p_j (dP_j - u) scale (the CPU op's formulas). T = float:
// P may be S and dS may be dP (each element is read before the same thread writes it).
template <typename T>
static __global__ void __launch_bounds__(32 * ROW_WARPS)
    attn_grad_rows_kernel(T *P, T *dS, const float *S, const float *dP, attn_segs sg, int nh, int lq, int lk,
                          size_t rows, float scale) {
    size_t r = (size_t)blockIdx.x * ROW_WARPS + threadIdx.x / 32;
    if (r >= rows) return;
    int see = keys_seen(sg, r, nh, lq), lane = threadIdx.x % 32;
    const float *sr = S + r * lk, *dpr = dP + r * lk;
    T *pr = P + r * lk, *dsr = dS + r * lk;
    float m = -INFINITY, l = 0.0f, u = 0.0f;
    for (int j = lane; j < see; j += 32) m = fmaxf(m, sr[j]);
    m = warp_max(m);
    for (int j = lane; j < see; j += 32) l += expf(sr[j] - m);
    l = warp_sum(l);
    float inv = see > 0 ? 1.0f / l : 0.0f;
    for (int j = lane; j < see; j += 32) u += expf(sr[j] - m) * inv * dpr[j];
    u = warp_sum(u);
    for (int j = lane; j < lk; j += 32) {
        float p = 0.0f, ds = 0.0f;
        if (j < see) {
            p = expf(sr[j] - m) * inv;
            ds = p * (dpr[j] - u) * scale;
        }
        store_as(pr, j, p);
        store_as(dsr, j, ds);
    }
}

// dst (rows, H, D), rows q0 .. q0 + nq - 1 of every segment, head h0 + b % nh = (add: +=) src (B, L, D).
template <int V>
static __global__ void attn_unpack_q_kernel(float *dst, const float *src, attn_segs sg, int h0, int nh, int L, int H,
                                            int D, int add) {
    row_lanes w = lanes_of(D / V);
    if (w.r >= w.per) return;
    int b = blockIdx.y, s = b / nh, h = h0 + b % nh;
    for (int t = blockIdx.x * w.per + w.r; t < sg.nq[s]; t += gridDim.x * w.per) {
        const float *from = src + ((size_t)b * L + t) * D;
        float *to = dst + ((size_t)(sg.q0[s] + t) * H + h) * D;
        for (int d = w.d0 * V; d < D; d += w.dt * V) {
            f4 x = load_v<V>(from + d);
            store_v<V>(to + d, add ? add4(load_v<V>(to + d), x) : x);
        }
    }
}

// dk, dv (rows, Hkv, D) += per KV head the sum, in head order, of the chunk's per-query-head gradients dK, dV
// (B, L, D) over the heads of [h0, h0 + nh) in its group. Block row y: (segment, KV head of the chunk).
template <int V>
static __global__ void attn_unpack_kv_kernel(float *dk, float *dv, const float *dK, const float *dV, attn_segs sg,
                                             int h0, int nh, int G, int L, int Hkv, int D) {
    row_lanes w = lanes_of(D / V);
    if (w.r >= w.per) return;
    int hk0 = h0 / G, nkv = (h0 + nh - 1) / G - hk0 + 1;
    int s = blockIdx.y / nkv, hk = hk0 + blockIdx.y % nkv;
    int ha = max(h0, hk * G), hb = min(h0 + nh, hk * G + G);
    size_t mat = (size_t)L * D, first = (size_t)(s * nh + ha - h0) * mat;
    for (int t = blockIdx.x * w.per + w.r; t < sg.nk[s]; t += gridDim.x * w.per) {
        size_t at = ((size_t)(sg.k0[s] + t) * Hkv + hk) * D, from = first + (size_t)t * D;
        for (int d = w.d0 * V; d < D; d += w.dt * V) {
            f4 gk = {0.0f, 0.0f, 0.0f, 0.0f}, gv = gk;
            for (int h = 0; h < hb - ha; h++) {
                if (dk) gk = add4(gk, load_v<V>(dK + from + h * mat + d));
                if (dv) gv = add4(gv, load_v<V>(dV + from + h * mat + d));
            }
            if (dk) store_v<V>(dk + at + d, add4(load_v<V>(dk + at + d), gk));
            if (dv) store_v<V>(dv + at + d, add4(load_v<V>(dv + at + d), gv));
        }
    }
}

// ---- running a plan ----
static std::vector<unit> g_units;

// Plans from the host's layout and sizes the scratch; NULL when the GEMMs do not take it.
static char *plan_call(const int *kv_start_host, const int *kv_len_host, int N, int Hq, int Hkv, int D, mg_dtype at) {
    cudaRequire(Hkv > 0 && Hq % Hkv == 0, "query heads must be a multiple of the KV heads");
    cudaRequire(D > 0, "head_dim must be positive");
    size_t ob = mg_dtype_size(at), need = 0;
    if (!plan_chunks(g_units, kv_start_host, kv_len_host, N, Hq, Hkv, D, ob)) return NULL;
    for (const unit &u : g_units) {
        cudaRequire(u.s.n * u.nh <= 65535, "too many (sequence, head) pairs in one chunk");
        need = std::max(need, carve_scratch(u, D, ob).total);
    }
    return (char *)cuda_scratch(SCR_ATTN_GEMM, need);
}

// Rows of n accesses, `matrices` of them side by side in grid y (the copy kernels' lanes_of layout).
static dim3 copy_grid(int rows, int n, int matrices) {
    int per = COPY_THREADS / std::min(n, (int)COPY_THREADS);
    return dim3((unsigned)std::max(1, std::min((rows + per - 1) / per, 4096)), (unsigned)matrices);
}

// 4 floats per access where D and every pointer allow it (scratch is 256-byte aligned; the caller's tensors may not be).
static int vec_of(int D, std::initializer_list<const void *> ptrs) {
    if (D % 4) return 1;
    for (const void *p : ptrs)
        if ((uintptr_t)p % 16) return 1;
    return 4;
}

static unsigned row_grid(size_t rows) { return (unsigned)((rows + ROW_WARPS - 1) / ROW_WARPS); }

template <typename T>
static void pack(T *dst0, const float *src0, T *dst1, const float *src1, const unit &u, int keys, int div, int H,
                 int D) {
    int L = keys ? u.lk : u.lq, B = u.s.n * u.nh;
    if (vec_of(D, {src0, src1}) == 4)
        MG_LAUNCH((attn_pack_kernel<T, 4>), copy_grid(L, D / 4, B), COPY_THREADS, 0, dst0, src0, dst1, src1, u.s,
                  keys, u.h0, u.nh, div, L, H, D);
    else
        MG_LAUNCH((attn_pack_kernel<T, 1>), copy_grid(L, D, B), COPY_THREADS, 0, dst0, src0, dst1, src1, u.s, keys,
                  u.h0, u.nh, div, L, H, D);
}

// dst rows (+)= the chunk's per-head rows src (B, lq, D).
static void unpack_q(float *dst, const float *src, const unit &u, int H, int D, int add) {
    int B = u.s.n * u.nh;
    if (vec_of(D, {dst}) == 4)
        MG_LAUNCH(attn_unpack_q_kernel<4>, copy_grid(u.lq, D / 4, B), COPY_THREADS, 0, dst, src, u.s, u.h0, u.nh,
                  u.lq, H, D, add);
    else
        MG_LAUNCH(attn_unpack_q_kernel<1>, copy_grid(u.lq, D, B), COPY_THREADS, 0, dst, src, u.s, u.h0, u.nh, u.lq,
                  H, D, add);
}

static void unpack_kv(float *dk, float *dv, const float *dK, const float *dV, const unit &u, int G, int Hkv, int D) {
    int nkv = (u.h0 + u.nh - 1) / G - u.h0 / G + 1, m = u.s.n * nkv;
    if (vec_of(D, {dk, dv}) == 4)
        MG_LAUNCH(attn_unpack_kv_kernel<4>, copy_grid(u.lk, D / 4, m), COPY_THREADS, 0, dk, dv, dK, dV, u.s, u.h0,
                  u.nh, G, u.lk, Hkv, D);
    else
        MG_LAUNCH(attn_unpack_kv_kernel<1>, copy_grid(u.lk, D, m), COPY_THREADS, 0, dk, dv, dK, dV, u.s, u.h0, u.nh,
                  G, u.lk, Hkv, D);
}

// The chunk's buffers; T the operands' type.
template <typename T> struct bufs {
    float *S, *dP, *dQ, *dK, *dV;
    T *P, *dS, *Q, *dO, *K, *V;
    bufs(char *scr, const unit &u, int D) {
        chunk_scratch c = carve_scratch(u, D, sizeof(T));
        S = (float *)(scr + c.S), dP = (float *)(scr + c.dP), dQ = (float *)(scr + c.dQ);
        dK = (float *)(scr + c.dK), dV = (float *)(scr + c.dV);
        P = (T *)(scr + c.P), dS = (T *)(scr + c.dS), Q = (T *)(scr + c.Q), dO = (T *)(scr + c.dO);
        K = (T *)(scr + c.K), V = (T *)(scr + c.V);
    }
};

// Every matrix is row-major (rows, cols) in scratch, which cuBLAS reads as its column-major transpose: each call
// names the column-major product it computes. Strides: sq = lq D, sk = lk D, ss = lq lk.
template <typename T>
static void forward_unit(const unit &u, char *scr, float *out, const float *q, const float *k, const float *v, int Hq,
                         int Hkv, int D, mg_dtype at) {
    bufs<T> c(scr, u, D);
    int B = u.s.n * u.nh, lq = u.lq, lk = u.lk;
    long long sq = (long long)lq * D, sk = (long long)lk * D, ss = (long long)lq * lk;
    pack<T>(c.Q, q, (T *)NULL, NULL, u, 0, 1, Hq, D);
    pack<T>(c.K, k, c.V, v, u, 1, Hq / Hkv, Hkv, D);
    // S^T (lk, lq) = scale K (lk, D) @ Q^T (D, lq)
    mg_gemm_strided_batched(1, 0, lk, lq, D, 1.0f / sqrtf((float)D), c.K, D, sk, c.Q, D, sq, at, 0.0f, c.S, lk, ss,
                            B);
    size_t rows = (size_t)B * lq;
    MG_LAUNCH(attn_softmax_kernel<T>, row_grid(rows), 32 * ROW_WARPS, 0, c.P, c.S, u.s, u.nh, lq, lk, rows);
    // O^T (D, lq) = V^T (D, lk) @ P^T (lk, lq), into the dQ buffer
    mg_gemm_strided_batched(0, 0, D, lq, lk, 1.0f, c.V, D, sk, c.P, lk, ss, at, 0.0f, c.dQ, D, sq, B);
    unpack_q(out, c.dQ, u, Hq, D, 0);
}

template <typename T>
static void backward_unit(const unit &u, char *scr, float *dq, float *dk, float *dv, const float *dout,
                          const float *q, const float *k, const float *v, int Hq, int Hkv, int D, mg_dtype at) {
    bufs<T> c(scr, u, D);
    int B = u.s.n * u.nh, lq = u.lq, lk = u.lk, G = Hq / Hkv;
    long long sq = (long long)lq * D, sk = (long long)lk * D, ss = (long long)lq * lk;
    float scale = 1.0f / sqrtf((float)D);
    pack<T>(c.Q, q, c.dO, dout, u, 0, 1, Hq, D);
    pack<T>(c.K, k, c.V, v, u, 1, G, Hkv, D);
    // S^T (lk, lq) = scale K @ Q^T;  dP^T (lk, lq) = V (lk, D) @ dO^T (D, lq)
    mg_gemm_strided_batched(1, 0, lk, lq, D, scale, c.K, D, sk, c.Q, D, sq, at, 0.0f, c.S, lk, ss, B);
    mg_gemm_strided_batched(1, 0, lk, lq, D, 1.0f, c.V, D, sk, c.dO, D, sq, at, 0.0f, c.dP, lk, ss, B);
    size_t rows = (size_t)B * lq;
    MG_LAUNCH(attn_grad_rows_kernel<T>, row_grid(rows), 32 * ROW_WARPS, 0, c.P, c.dS, c.S, c.dP, u.s, u.nh, lq, lk,
              rows, scale);
    // dV^T (D, lk) = dO^T (D, lq) @ P (lq, lk);  dK^T (D, lk) = Q^T (D, lq) @ dS (lq, lk)
    if (dv) mg_gemm_strided_batched(0, 1, D, lk, lq, 1.0f, c.dO, D, sq, c.P, lk, ss, at, 0.0f, c.dV, D, sk, B);
    if (dk) mg_gemm_strided_batched(0, 1, D, lk, lq, 1.0f, c.Q, D, sq, c.dS, lk, ss, at, 0.0f, c.dK, D, sk, B);
    if (dq) {
        // dQ^T (D, lq) = K^T (D, lk) @ dS^T (lk, lq)
        mg_gemm_strided_batched(0, 0, D, lq, lk, 1.0f, c.K, D, sk, c.dS, lk, ss, at, 0.0f, c.dQ, D, sq, B);
        unpack_q(dq, c.dQ, u, Hq, D, 1);
    }
    if (dk || dv) unpack_kv(dk, dv, c.dK, c.dV, u, G, Hkv, D);
}

extern "C" int attention_forward_gemm_cuda(float *out, const float *q, const float *k, const float *v,
                                           const int *kv_start_host, const int *kv_len_host, int N, int Hq, int Hkv,
                                           int D, mg_dtype at) {
    if (N <= 0) return 1;
    char *scr = plan_call(kv_start_host, kv_len_host, N, Hq, Hkv, D, at);
    if (!scr) return 0;
    for (const unit &u : g_units) {
        if (at == MG_BF16) forward_unit<__nv_bfloat16>(u, scr, out, q, k, v, Hq, Hkv, D, at);
        else forward_unit<float>(u, scr, out, q, k, v, Hq, Hkv, D, at);
    }
    return 1;
}

extern "C" int attention_backward_gemm_cuda(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                            const float *k, const float *v, const int *kv_start_host,
                                            const int *kv_len_host, int N, int Hq, int Hkv, int D, mg_dtype at) {
    if (N <= 0 || (!dq && !dk && !dv)) return 1;
    char *scr = plan_call(kv_start_host, kv_len_host, N, Hq, Hkv, D, at);
    if (!scr) return 0;
    for (const unit &u : g_units) {
        if (at == MG_BF16) backward_unit<__nv_bfloat16>(u, scr, dq, dk, dv, dout, q, k, v, Hq, Hkv, D, at);
        else backward_unit<float>(u, scr, dq, dk, dv, dout, q, k, v, Hq, Hkv, D, at);
    }
    return 1;
}

// MIGRATE_ATTN_GEMM=0 keeps training on the tiled kernels: both paths timed with one binary.
static int gemm_on(void) {
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("MIGRATE_ATTN_GEMM");
        on = !(e && !strcmp(e, "0"));
    }
    return on;
}

// The table's training entries: GEMMs where the layout is a packed causal batch, the tiled kernels elsewhere. Both
// decide from the host's copy of the layout: neither waits for the stream.
extern "C" void attention_forward_train_cuda(float *out, const float *q, const float *k, const float *v,
                                             const int *kv_start, const int *kv_len, const int *kv_start_host,
                                             const int *kv_len_host, int N, int Hq, int Hkv, int D, mg_dtype at) {
    if (!gemm_on() || !attention_forward_gemm_cuda(out, q, k, v, kv_start_host, kv_len_host, N, Hq, Hkv, D, at))
        attention_forward_tiled_cuda(out, q, k, v, kv_start, kv_len, N, Hq, Hkv, D);
}

extern "C" void attention_backward_train_cuda(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                              const float *k, const float *v, const int *kv_start, const int *kv_len,
                                              const int *kv_start_host, const int *kv_len_host, int N, int Hq,
                                              int Hkv, int D, mg_dtype at) {
    if (!gemm_on() ||
        !attention_backward_gemm_cuda(dq, dk, dv, dout, q, k, v, kv_start_host, kv_len_host, N, Hq, Hkv, D, at))
        attention_backward_cuda(dq, dk, dv, dout, q, k, v, kv_start, kv_len, kv_start_host, kv_len_host, N, Hq, Hkv,
                                D);
}
