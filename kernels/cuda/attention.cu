// Causal grouped-query attention over explicit key ranges (kernels/ops.h): token i attends to rows
// kv_start[i] .. kv_start[i] + kv_len[i] - 1 of k and v, so one kernel serves training and prefill (keys = the
// packed batch) and decoding (keys = a KV-cache slot).
//
// One block per (token, KV head): its G = Hq / Hkv warps are the query heads that share that KV head, so each
// tile of KT keys and values is loaded once into shared memory for all of them. Per tile, lane j of a warp scores
// key j (a dot product over D from shared memory), the warp keeps an online softmax (running max and sum), and
// lane d accumulates output dimensions d, d + 32, ... The backward recomputes the probabilities as the CPU op does
// (nothing is saved by the forward): pass 1 the softmax statistics, pass 2 sum_j p_j (do . v_j), pass 3 the
// gradients; dq is owned by its warp, dk and dv rows gather from every query of the range through atomics. Training
// uses the tiled backward of attention_train.cu; this one serves the layouts that one does not take.
#include "kernels/cuda/attention_train.h"
#include "kernels/cuda/cuda_common.h"

enum { KT = 32, MAX_DT = 8 };  // keys per tile; D <= 32 * MAX_DT

// The backward's shared memory (floats): sQ (G, D), sK (KT, D + 1), sV (KT, D + 1), sP (G, KT), sDO (G, D),
// sDS (G, KT). Rows of K and V are padded to D + 1 so that lanes reading different keys hit different banks.
static size_t attn_bwd_smem_floats(int G, int D) {
    return 2 * (size_t)G * D + 2 * (size_t)KT * (D + 1) + 2 * (size_t)G * KT;
}

// The forward's shared memory (floats): sQ (G, D), two buffers of sK and sV (KT, D + 4 each), sP (G, KT). Two
// buffers let the next tile load while this one is consumed, with one barrier per tile; rows padded by 4 floats
// keep float4 rows 16-byte aligned, and 8 lanes reading float4 of 8 different keys (one phase of a 128-bit shared
// load) then hit 32 different banks when D is a multiple of 8. The scalar fallback keeps rows of D + 1 in the
// same space.
static size_t attn_fwd_smem_floats(int G, int D) { return (size_t)G * D + 4 * (size_t)KT * (D + 4) + (size_t)G * KT; }

// Loads keys start + t0 .. + nk - 1 of KV head hk into sK and sV (sV may be NULL). k and v are CT: fp32, or a
// bf16 KV cache (widened to fp32 here: shared memory, scores and sums stay fp32).
template <typename CT>
static __device__ void load_tile(float *sK, float *sV, const CT *k, const CT *v, int row0, int nk, int hk, int Hkv,
                                 int D) {
    int DP = D + 1;
    for (int e = threadIdx.x; e < nk * D; e += blockDim.x) {
        int j = e / D, d = e - j * D;
        size_t at = ((size_t)(row0 + j) * Hkv + hk) * D + d;
        sK[j * DP + d] = to_f32(k[at]);
        if (sV) sV[j * DP + d] = to_f32(v[at]);
    }
}

// Four consecutive values of a k or v row in one load: a float4 of fp32 (16 bytes), or four bf16 (8 bytes), kept in
// registers as loaded and widened to a float4 when stored to shared memory.
struct alignas(8) bf16x4 {
    __nv_bfloat16 x, y, z, w;
};
template <typename CT> struct kv_vec;
template <> struct kv_vec<float> {
    typedef float4 raw;
    static __device__ __forceinline__ float4 f4(float4 r) { return r; }
};
template <> struct kv_vec<__nv_bfloat16> {
    typedef bf16x4 raw;
    static __device__ __forceinline__ float4 f4(bf16x4 r) {
        float4 o;
        o.x = to_f32(r.x), o.y = to_f32(r.y), o.z = to_f32(r.z), o.w = to_f32(r.w);
        return o;
    }
};

// load_tile with whole rows as float4 (D a multiple of 4, k and v 16-byte aligned) into rows of D + 4 floats: a
// quarter of the loads and of the index divisions. A thread moves LDV float4 of K and of V per round (elements
// e0, e0 + blockDim.x, ... of the tile's n = nk * D / 4): fetch4 issues all of its global loads before put4 stores
// any, so they are in flight together; the forward also keeps one round in registers across a tile's arithmetic.
enum { LDV = 4 };
template <typename CT, typename R = typename kv_vec<CT>::raw>
static __device__ __forceinline__ void fetch4(R *rk, R *rv, const CT *k, const CT *v, int e0, int n, int row0, int hk,
                                              int Hkv, int D4) {
    MG_UNROLL
    for (int u = 0; u < LDV; u++) {
        int e = e0 + u * blockDim.x;
        if (e < n) {
            int j = e / D4, d = e - j * D4;
            size_t at = ((size_t)(row0 + j) * Hkv + hk) * D4 + d;
            rk[u] = ((const R *)k)[at];
            rv[u] = ((const R *)v)[at];
        }
    }
}
template <typename CT, typename R = typename kv_vec<CT>::raw>
static __device__ __forceinline__ void put4(float *sK, float *sV, const R *rk, const R *rv, int e0, int n, int D4) {
    MG_UNROLL
    for (int u = 0; u < LDV; u++) {
        int e = e0 + u * blockDim.x;
        if (e < n) {
            int j = e / D4, d = e - j * D4;
            ((float4 *)sK)[j * (D4 + 1) + d] = kv_vec<CT>::f4(rk[u]);
            ((float4 *)sV)[j * (D4 + 1) + d] = kv_vec<CT>::f4(rv[u]);
        }
    }
}
// Rounds from element e0 on (e0 = threadIdx.x: the whole tile).
template <typename CT>
static __device__ void load_tile4(float *sK, float *sV, const CT *k, const CT *v, int e0, int row0, int nk, int hk,
                                  int Hkv, int D) {
    int D4 = D >> 2, n = nk * D4;
    for (; e0 < n; e0 += LDV * blockDim.x) {
        typename kv_vec<CT>::raw rk[LDV], rv[LDV];
        fetch4(rk, rv, k, v, e0, n, row0, hk, Hkv, D4);
        put4<CT>(sK, sV, rk, rv, e0, n, D4);
    }
}

// score() over float4 rows of D + 4 floats: the same fmaf chain in the same order (the same result), with a
// quarter of the shared loads (sq's are broadcasts).
static __device__ __forceinline__ float score4(const float *sq, const float *sK, int lane, int nk, int D,
                                               float scale) {
    if (lane >= nk) return -INFINITY;
    const float4 *kr = (const float4 *)(sK + lane * (D + 4)), *q4 = (const float4 *)sq;
    float a = 0.0f;
    for (int d = 0; d < (D >> 2); d++) {
        float4 x = q4[d], y = kr[d];
        a = fmaf(x.x, y.x, a);
        a = fmaf(x.y, y.y, a);
        a = fmaf(x.z, y.z, a);
        a = fmaf(x.w, y.w, a);
    }
    return a * scale;
}

// Lane `lane` < nk: q . k_lane * scale; other lanes -inf.
static __device__ __forceinline__ float score(const float *sq, const float *sK, int lane, int nk, int D, float scale) {
    if (lane >= nk) return -INFINITY;
    const float *kr = sK + lane * (D + 1);
    float a = 0.0f;
    for (int d = 0; d < D; d++) a = fmaf(sq[d], kr[d], a);
    return a * scale;
}


// out as T (fp32, or o_proj's bf16 operand in the decode step) and, unless NULL, out32 in fp32; k and v as CT (fp32,
// or the decode step's bf16 KV cache). vec: D a multiple of 4 and k, v aligned to 4 values, so tiles load as rows of
// 4-value vectors (load_tile4, score4); otherwise load_tile, score.
// Tile t lives in buffer t & 1: the loads of tile t + 1 are issued before tile t is consumed (vec: its first round
// stays in registers, so a thread's global latency overlaps its own arithmetic, and is stored after), and the one
// barrier per tile both publishes tile t + 1 and retires the reads of tile t - 1 from the buffer it overwrites.
template <typename T, typename CT>
static __global__ void __launch_bounds__(512)
    attn_fwd_kernel(T *out, float *out32, const float *q, const CT *k, const CT *v, const int *kv_start,
                    const int *kv_len, int Hq, int Hkv, int D, float scale, int vec) {
    MG_DYN_SMEM(float, smem);
    int i = blockIdx.x, hk = blockIdx.y, G = Hq / Hkv, DP = vec ? D + 4 : D + 1, TS = KT * (D + 4);
    int w = threadIdx.x >> 5, lane = threadIdx.x & 31, h = hk * G + w;
    float *sQ = smem, *sKV = sQ + G * D, *sP = sKV + 4 * TS;  // sKV: K0, V0, K1, V1
    float *sq = sQ + w * D, *sp = sP + w * KT;
    int start = kv_start[i], len = kv_len[i];
    const float *qh = q + ((size_t)i * Hq + h) * D;
    for (int d = lane; d < D; d += 32) sq[d] = qh[d];
    float m = -INFINITY, l = 0.0f, acc[MAX_DT];
    MG_UNROLL
    for (int t = 0; t < MAX_DT; t++) acc[t] = 0.0f;
    if (len > 0) {
        if (vec) load_tile4(sKV, sKV + TS, k, v, threadIdx.x, start, min(KT, len), hk, Hkv, D);
        else load_tile(sKV, sKV + TS, k, v, start, min(KT, len), hk, Hkv, D);
    }
    typename kv_vec<CT>::raw pk[LDV], pv[LDV];  // vec: the next tile's first round, in flight during the arithmetic
    for (int t0 = 0, b = 0; t0 < len; t0 += KT, b ^= 1) {
        int nk = min(KT, len - t0), nn = min(KT, len - t0 - KT);  // nn > 0: keys of the next tile
        const float *sK = sKV + 2 * b * TS, *sV = sK + TS;
        float *nK = sKV + 2 * (b ^ 1) * TS;
        __syncthreads();  // tile t0 (and, the first time, sQ) is visible; every warp is done with the other buffer
        if (nn > 0) {
            if (vec) {
                fetch4(pk, pv, k, v, threadIdx.x, nn * (D >> 2), start + t0 + KT, hk, Hkv, D >> 2);
                load_tile4(nK, nK + TS, k, v, threadIdx.x + LDV * blockDim.x, start + t0 + KT, nn, hk, Hkv, D);
            } else {
                load_tile(nK, nK + TS, k, v, start + t0 + KT, nn, hk, Hkv, D);
            }
        }
        float s = vec ? score4(sq, sK, lane, nk, D, scale) : score(sq, sK, lane, nk, D, scale);
        float mnew = fmaxf(m, warp_max(s));
        float p = lane < nk ? expf(s - mnew) : 0.0f, corr = expf(m - mnew);  // corr = 0 on the first tile
        l = l * corr + warp_sum(p);
        __syncwarp();  // every lane is done reading the previous tile's sp
        sp[lane] = p;
        __syncwarp();
        MG_UNROLL
        for (int t = 0; t < MAX_DT; t++) {
            int d = lane + 32 * t;
            if (d < D) {
                float a = acc[t] * corr;
                for (int j = 0; j < nk; j++) a = fmaf(sp[j], sV[j * DP + d], a);
                acc[t] = a;
            }
        }
        if (vec && nn > 0) put4<CT>(nK, nK + TS, pk, pv, threadIdx.x, nn * (D >> 2), D >> 2);
        m = mnew;
    }
    float inv = l > 0.0f ? 1.0f / l : 0.0f;
    size_t at = ((size_t)i * Hq + h) * D;
    MG_UNROLL
    for (int t = 0; t < MAX_DT; t++) {
        int d = lane + 32 * t;
        if (d < D) {
            store_as(out + at, d, acc[t] * inv);
            if (out32) out32[at + d] = acc[t] * inv;
        }
    }
}

// With s = q.k * scale, p = softmax(s), o = sum p v:
//   dv_j += p_j do;  dp_j = do . v_j;  ds_j = p_j (dp_j - sum_k p_k dp_k) scale;  dq += sum ds_j k_j;  dk_j += ds_j q.
static __global__ void __launch_bounds__(512)
    attn_bwd_kernel(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k, const float *v,
                    const int *kv_start, const int *kv_len, int Hq, int Hkv, int D, float scale) {
    MG_DYN_SMEM(float, smem);
    int i = blockIdx.x, hk = blockIdx.y, G = Hq / Hkv, DP = D + 1;
    int w = threadIdx.x >> 5, lane = threadIdx.x & 31, h = hk * G + w;
    float *sQ = smem, *sK = sQ + G * D, *sV = sK + KT * DP, *sP = sV + KT * DP;
    float *sDO = sP + G * KT, *sDS = sDO + G * D;
    float *sq = sQ + w * D, *sdo = sDO + w * D;
    int start = kv_start[i], len = kv_len[i];
    size_t qoff = ((size_t)i * Hq + h) * D;
    for (int d = lane; d < D; d += 32) sq[d] = q[qoff + d], sdo[d] = dout[qoff + d];

    // pass 1: softmax statistics (running max m, sum l of exp(s - m))
    float m = -INFINITY, l = 0.0f;
    for (int t0 = 0; t0 < len; t0 += KT) {
        int nk = min(KT, len - t0);
        __syncthreads();
        load_tile(sK, NULL, k, v, start + t0, nk, hk, Hkv, D);
        __syncthreads();
        float s = score(sq, sK, lane, nk, D, scale);
        float mnew = fmaxf(m, warp_max(s));
        float p = lane < nk ? expf(s - mnew) : 0.0f;
        l = l * expf(m - mnew) + warp_sum(p);
        m = mnew;
    }
    float inv_l = l > 0.0f ? 1.0f / l : 0.0f;

    // pass 2: pdp = sum_j p_j (do . v_j)
    float pdp = 0.0f;
    for (int t0 = 0; t0 < len; t0 += KT) {
        int nk = min(KT, len - t0);
        __syncthreads();
        load_tile(sK, sV, k, v, start + t0, nk, hk, Hkv, D);
        __syncthreads();
        float s = score(sq, sK, lane, nk, D, scale), term = 0.0f;
        if (lane < nk) {
            const float *vr = sV + lane * DP;
            float dp = 0.0f;
            for (int d = 0; d < D; d++) dp = fmaf(sdo[d], vr[d], dp);
            term = expf(s - m) * inv_l * dp;
        }
        pdp += warp_sum(term);
    }

    // pass 3: gradients
    float dqa[MAX_DT];
    MG_UNROLL
    for (int t = 0; t < MAX_DT; t++) dqa[t] = 0.0f;
    for (int t0 = 0; t0 < len; t0 += KT) {
        int nk = min(KT, len - t0);
        __syncthreads();
        load_tile(sK, sV, k, v, start + t0, nk, hk, Hkv, D);
        __syncthreads();
        float s = score(sq, sK, lane, nk, D, scale), p = 0.0f, ds = 0.0f;
        if (lane < nk) {
            const float *vr = sV + lane * DP;
            float dp = 0.0f;
            for (int d = 0; d < D; d++) dp = fmaf(sdo[d], vr[d], dp);
            p = expf(s - m) * inv_l;
            ds = p * (dp - pdp) * scale;
        }
        sP[w * KT + lane] = p;
        sDS[w * KT + lane] = ds;
        __syncthreads();  // every head's p and ds of this tile are visible to the dk/dv sums below
        if (dq) {
            MG_UNROLL
            for (int t = 0; t < MAX_DT; t++) {
                int d = lane + 32 * t;
                if (d < D) {
                    float a = dqa[t];
                    for (int j = 0; j < nk; j++) a = fmaf(sDS[w * KT + j], sK[j * DP + d], a);
                    dqa[t] = a;
                }
            }
        }
        for (int e = threadIdx.x; e < nk * D; e += blockDim.x) {
            int j = e / D, d = e - j * D;
            size_t at = ((size_t)(start + t0 + j) * Hkv + hk) * D + d;
            float gk = 0.0f, gv = 0.0f;
            for (int g = 0; g < G; g++) {
                gk = fmaf(sDS[g * KT + j], sQ[g * D + d], gk);
                gv = fmaf(sP[g * KT + j], sDO[g * D + d], gv);
            }
            if (dk) atomicAdd(&dk[at], gk);
            if (dv) atomicAdd(&dv[at], gv);
        }
    }
    if (dq) {
        MG_UNROLL
        for (int t = 0; t < MAX_DT; t++) {
            int d = lane + 32 * t;
            if (d < D) dq[qoff + d] += dqa[t];
        }
    }
}

static void check_shape(int Hq, int Hkv, int D) {
    cudaRequire(Hkv > 0 && Hq % Hkv == 0, "query heads must be a multiple of the KV heads");
    cudaRequire(Hq / Hkv <= 16, "at most 16 query heads per KV head (one warp each in a block of <= 512)");
    cudaRequire(D > 0 && D <= 32 * MAX_DT, "head_dim above 256 is not supported by the CUDA attention");
}

template <typename T, typename CT>
static void attn_fwd_launch(T *out, float *out32, const float *q, const CT *k, const CT *v, const int *kv_start,
                            const int *kv_len, int N, int Hq, int Hkv, int D) {
    if (N <= 0) return;
    check_shape(Hq, Hkv, D);
    uintptr_t align = 4 * sizeof(CT) - 1;  // a row vector of 4 values: 16 bytes fp32, 8 bytes bf16
    int G = Hq / Hkv, vec = D % 4 == 0 && !((uintptr_t)k & align) && !((uintptr_t)v & align);
    size_t smem = attn_fwd_smem_floats(G, D) * sizeof(float);
    MG_ALLOW_SMEM((attn_fwd_kernel<T, CT>), smem);
    MG_LAUNCH((attn_fwd_kernel<T, CT>), dim3(N, Hkv), 32 * G, smem, out, out32, q, k, v, kv_start, kv_len, Hq, Hkv, D,
              1.0f / sqrtf((float)D), vec);
}

extern "C" void attention_forward_cuda(float *out, const float *q, const float *k, const float *v,
                                       const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D) {
    attn_fwd_launch(out, (float *)NULL, q, k, v, kv_start, kv_len, N, Hq, Hkv, D);
}

template <typename T>
static void attn_fwd_as(T *out, float *out32, const float *q, const void *k, const void *v, mg_dtype kt,
                        const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D) {
    if (kt == MG_BF16)
        attn_fwd_launch(out, out32, q, (const __nv_bfloat16 *)k, (const __nv_bfloat16 *)v, kv_start, kv_len, N, Hq,
                        Hkv, D);
    else attn_fwd_launch(out, out32, q, (const float *)k, (const float *)v, kv_start, kv_len, N, Hq, Hkv, D);
}

extern "C" void attention_forward_as_cuda(void *out, mg_dtype ot, float *out32, const float *q, const void *k,
                                          const void *v, mg_dtype kt, const int *kv_start, const int *kv_len, int N,
                                          int Hq, int Hkv, int D) {
    if (ot == MG_BF16) attn_fwd_as((__nv_bfloat16 *)out, out32, q, k, v, kt, kv_start, kv_len, N, Hq, Hkv, D);
    else attn_fwd_as((float *)out, out32, q, k, v, kt, kv_start, kv_len, N, Hq, Hkv, D);
}

extern "C" void attention_backward_cuda(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                        const float *k, const float *v, const int *kv_start, const int *kv_len,
                                        const int *kv_start_host, const int *kv_len_host, int N, int Hq, int Hkv,
                                        int D) {
    if (N <= 0 || (!dq && !dk && !dv)) return;
    check_shape(Hq, Hkv, D);
    if (attention_backward_tiled_cuda(dq, dk, dv, dout, q, k, v, kv_start, kv_len, kv_start_host, kv_len_host, N, Hq,
                                      Hkv, D))
        return;
    int G = Hq / Hkv;
    size_t smem = attn_bwd_smem_floats(G, D) * sizeof(float);
    MG_ALLOW_SMEM(attn_bwd_kernel, smem);
    MG_LAUNCH(attn_bwd_kernel, dim3(N, Hkv), 32 * G, smem, dq, dk, dv, dout, q, k, v, kv_start, kv_len, Hq, Hkv, D,
              1.0f / sqrtf((float)D));
}
