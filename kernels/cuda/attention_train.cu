// Attention for training batches, tiled as FlashAttention-2 does it, in fp32 on the CUDA cores. The query-major
// kernels of attention.cu (right for decoding: one query per cache slot) re-read every key of a query's range for
// each query, and their backward adds dk/dv through float atomics, one per (query, key, dim): on a 16 x 512-token
// batch the two were 70% of a GRPO step. Here tiles of 32 queries meet tiles of 32 keys in shared memory, and no
// float is added atomically, so results do not depend on the order blocks run in. A query tile sees the union of
// its queries' key ranges, each query masked to its own: right for any layout, fast when a tile's queries share
// their keys (a packed causal batch). Forward: attn_fwd_tiled_kernel (query tile x head), online softmax. Backward:
//   1. attn_stats_kernel (query tile x head): per query, lse = m + log(l) and delta = sum_j p_j (do . v_j), from one
//      pass of online softmax (delta rescaled with l);
//   2. attn_dq_kernel (query tile x head): dq += sum_j ds_j k_j, ds_j = p_j (do . v_j - delta) * scale;
//   3. attn_dkdv_kernel (key tile x KV head, the group's query heads in turn): dv_j += sum_i p_ij do_i,
//      dk_j += sum_i ds_ij q_i, over the queries that see key j. Those form the range [qlo_j, qhi_j) when the
//      query ranges [kv_start_i, kv_start_i + kv_len_i) have nondecreasing starts and ends, as in a packed causal
//      batch: attn_key_ranges_kernel finds it by binary search. The host checks that (and counts the key rows) on
//      its copy of the layout, which the caller passes: a copy back would make every call wait for the stream. A
//      layout that breaks it goes to the query-major kernel.
// Threads: 256 per block, 8 per tile row; a row's thread c0 takes columns c0, c0 + 8, c0 + 16, c0 + 24 of a score
// tile, and dims c0, c0 + 8, ... of an output row (DT of them). Rows of shared tiles are padded to D + 1 floats.
#include "kernels/cuda/attention_train.h"
#include "kernels/cuda/cuda_common.h"

enum { TILE = 32, ROW_THREADS = 8, COLS = TILE / ROW_THREADS, TILE_THREADS = TILE * ROW_THREADS };

// Reductions over the 8 threads of a tile row (consecutive lanes of one warp).
static __device__ __forceinline__ float row_max(float v) {
    for (int o = ROW_THREADS / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
static __device__ __forceinline__ float row_sum(float v) {
    for (int o = ROW_THREADS / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// dst (TILE, D + 1) <- rows row0 .. row0 + n - 1 of head h of src (rows, H, D); rows past n are zero.
static __device__ void load_rows(float *dst, const float *src, int row0, int n, int H, int h, int D) {
    int DP = D + 1;
    for (int e = threadIdx.x; e < TILE * D; e += blockDim.x) {
        int r = e / D, d = e - r * D;
        dst[r * DP + d] = r < n ? src[((size_t)(row0 + r) * H + h) * D + d] : 0.0f;
    }
}

static __device__ __forceinline__ float dot_rows(const float *a, const float *b, int D) {
    float s = 0.0f;
    for (int d = 0; d < D; d++) s = fmaf(a[d], b[d], s);
    return s;
}

// Shared floats of every kernel here: four (TILE, D + 1) row tiles, two (TILE, TILE + 1) score tiles, and 4 x
// TILE per-row values.
static size_t train_smem_bytes(int D) {
    return ((size_t)4 * TILE * (D + 1) + 2 * TILE * (TILE + 1) + 4 * TILE) * sizeof(float);
}

// The key rows (max of kv_start + kv_len, at least 0) of a layout whose starts and ends never decrease; -1 for any
// other layout. Host arrays.
static int monotone_key_rows(const int *kv_start, const int *kv_len, int N) {
    int rows = 0;
    for (int i = 0; i < N; i++) {
        int e = kv_start[i] + kv_len[i];
        rows = e > rows ? e : rows;
        if (i + 1 < N && (kv_start[i + 1] < kv_start[i] || kv_start[i + 1] + kv_len[i + 1] < e)) return -1;
    }
    return rows;
}

// qlo[j] = first query whose range ends after j, qhi[j] = first query whose range starts after j (monotone layout).
static __global__ void attn_key_ranges_kernel(int *qlo, int *qhi, const int *kv_start, const int *kv_len, int N,
                                              int rows) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= rows) return;
    int lo = 0, hi = N;  // first i with end_i > j
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (kv_start[mid] + kv_len[mid] > j) hi = mid;
        else lo = mid + 1;
    }
    qlo[j] = lo;
    lo = 0, hi = N;  // first i with start_i > j
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (kv_start[mid] > j) hi = mid;
        else lo = mid + 1;
    }
    qhi[j] = lo;
}

// The key rows a query tile sees: [min start, max end) over its n queries (every thread gets them).
static __device__ void tile_key_span(const int *kv_start, const int *kv_len, int i0, int n, int *k0, int *k1) {
    int r = threadIdx.x / ROW_THREADS;
    int s = r < n ? kv_start[i0 + r] : 0x7fffffff, e = r < n ? kv_start[i0 + r] + kv_len[i0 + r] : 0;
    *k0 = block_min_int(s);
    *k1 = block_max_int(e);
}

static __global__ void __launch_bounds__(TILE_THREADS)
    attn_stats_kernel(float *lse, float *delta, const float *dout, const float *q, const float *k, const float *v,
                      const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D, float scale) {
    MG_DYN_SMEM(float, smem);
    int DP = D + 1, i0 = blockIdx.x * TILE, h = blockIdx.y, hk = h / (Hq / Hkv);
    int nq = min(TILE, N - i0), r = threadIdx.x / ROW_THREADS, c0 = threadIdx.x % ROW_THREADS;
    float *sQ = smem, *sDO = sQ + TILE * DP, *sK = sDO + TILE * DP, *sV = sK + TILE * DP;
    load_rows(sQ, q, i0, nq, Hq, h, D);
    load_rows(sDO, dout, i0, nq, Hq, h, D);
    int k0, k1;
    tile_key_span(kv_start, kv_len, i0, nq, &k0, &k1);
    int i = i0 + r, s = r < nq ? kv_start[i] : 0, e = r < nq ? s + kv_len[i] : 0;
    float m = -INFINITY, l = 0.0f, u = 0.0f;
    for (int t0 = k0; t0 < k1; t0 += TILE) {
        int nk = min(TILE, k1 - t0);
        __syncthreads();  // the previous tile is consumed (the first time: sQ, sDO are written)
        load_rows(sK, k, t0, nk, Hkv, hk, D);
        load_rows(sV, v, t0, nk, Hkv, hk, D);
        __syncthreads();
        float sc[COLS], dp[COLS], tmax = -INFINITY;
        MG_UNROLL
        for (int x = 0; x < COLS; x++) {
            int c = c0 + ROW_THREADS * x, j = t0 + c;
            int on = c < nk && j >= s && j < e;
            sc[x] = on ? dot_rows(sQ + r * DP, sK + c * DP, D) * scale : -INFINITY;
            dp[x] = on ? dot_rows(sDO + r * DP, sV + c * DP, D) : 0.0f;
            tmax = fmaxf(tmax, sc[x]);
        }
        float mnew = fmaxf(m, row_max(tmax));
        float corr = m == -INFINITY ? 0.0f : expf(m - mnew), ps = 0.0f, pd = 0.0f;
        MG_UNROLL
        for (int x = 0; x < COLS; x++) {
            float p = sc[x] == -INFINITY ? 0.0f : expf(sc[x] - mnew);
            ps += p, pd = fmaf(p, dp[x], pd);
        }
        l = l * corr + row_sum(ps);
        u = u * corr + row_sum(pd);
        m = mnew;
    }
    if (r < nq && c0 == 0) {
        lse[(size_t)i * Hq + h] = l > 0.0f ? m + logf(l) : INFINITY;  // no keys: every p is 0
        delta[(size_t)i * Hq + h] = l > 0.0f ? u / l : 0.0f;
    }
}

template <int DT>
static __global__ void __launch_bounds__(TILE_THREADS)
    attn_dq_kernel(float *dq, const float *lse, const float *delta, const float *dout, const float *q, const float *k,
                   const float *v, const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D,
                   float scale) {
    MG_DYN_SMEM(float, smem);
    int DP = D + 1, i0 = blockIdx.x * TILE, h = blockIdx.y, hk = h / (Hq / Hkv);
    int nq = min(TILE, N - i0), r = threadIdx.x / ROW_THREADS, c0 = threadIdx.x % ROW_THREADS;
    float *sQ = smem, *sDO = sQ + TILE * DP, *sK = sDO + TILE * DP, *sV = sK + TILE * DP;
    float *sDS = sV + TILE * DP;
    load_rows(sQ, q, i0, nq, Hq, h, D);
    load_rows(sDO, dout, i0, nq, Hq, h, D);
    int k0, k1;
    tile_key_span(kv_start, kv_len, i0, nq, &k0, &k1);
    int i = i0 + r, s = r < nq ? kv_start[i] : 0, e = r < nq ? s + kv_len[i] : 0;
    float L = r < nq ? lse[(size_t)i * Hq + h] : INFINITY, De = r < nq ? delta[(size_t)i * Hq + h] : 0.0f;
    float acc[DT];
    MG_UNROLL
    for (int t = 0; t < DT; t++) acc[t] = 0.0f;
    for (int t0 = k0; t0 < k1; t0 += TILE) {
        int nk = min(TILE, k1 - t0);
        __syncthreads();
        load_rows(sK, k, t0, nk, Hkv, hk, D);
        load_rows(sV, v, t0, nk, Hkv, hk, D);
        __syncthreads();
        MG_UNROLL
        for (int x = 0; x < COLS; x++) {
            int c = c0 + ROW_THREADS * x, j = t0 + c;
            float ds = 0.0f;
            if (c < nk && j >= s && j < e) {
                float p = expf(dot_rows(sQ + r * DP, sK + c * DP, D) * scale - L);
                ds = p * (dot_rows(sDO + r * DP, sV + c * DP, D) - De) * scale;
            }
            sDS[r * (TILE + 1) + c] = ds;
        }
        __syncwarp();  // a row's scores come from its own 8 lanes
        for (int c = 0; c < nk; c++) {
            float ds = sDS[r * (TILE + 1) + c];
            MG_UNROLL
            for (int t = 0; t < DT; t++) {
                int d = c0 + ROW_THREADS * t;
                if (d < D) acc[t] = fmaf(ds, sK[c * DP + d], acc[t]);
            }
        }
    }
    if (r < nq) {
        MG_UNROLL
        for (int t = 0; t < DT; t++) {
            int d = c0 + ROW_THREADS * t;
            if (d < D) dq[((size_t)i * Hq + h) * D + d] += acc[t];
        }
    }
}

template <int DT>
static __global__ void __launch_bounds__(TILE_THREADS)
    attn_dkdv_kernel(float *dk, float *dv, const int *qlo, const int *qhi, const float *lse, const float *delta,
                     const float *dout, const float *q, const float *k, const float *v, const int *kv_start,
                     const int *kv_len, int rows, int Hq, int Hkv, int D, float scale) {
    MG_DYN_SMEM(float, smem);
    int DP = D + 1, j0 = blockIdx.x * TILE, hk = blockIdx.y, G = Hq / Hkv;
    int nk = min(TILE, rows - j0), c = threadIdx.x / ROW_THREADS, r0 = threadIdx.x % ROW_THREADS;
    float *sK = smem, *sV = sK + TILE * DP, *sQ = sV + TILE * DP, *sDO = sQ + TILE * DP;
    float *sP = sDO + TILE * DP, *sDS = sP + TILE * (TILE + 1);
    float *sL = sDS + TILE * (TILE + 1), *sDe = sL + TILE;
    int *sS = (int *)(sDe + TILE), *sE = sS + TILE;
    load_rows(sK, k, j0, nk, Hkv, hk, D);
    load_rows(sV, v, j0, nk, Hkv, hk, D);
    int i_lo = block_min_int(c < nk ? qlo[j0 + c] : 0x7fffffff);
    int i_hi = block_max_int(c < nk ? qhi[j0 + c] : 0);
    int j = j0 + c;
    float ak[DT], av[DT];
    MG_UNROLL
    for (int t = 0; t < DT; t++) ak[t] = av[t] = 0.0f;
    for (int g = 0; g < G; g++) {
        int h = hk * G + g;
        for (int i0 = i_lo; i0 < i_hi; i0 += TILE) {
            int nq = min(TILE, i_hi - i0);
            __syncthreads();  // the previous query tile is consumed (the first time: sK, sV are written)
            load_rows(sQ, q, i0, nq, Hq, h, D);
            load_rows(sDO, dout, i0, nq, Hq, h, D);
            for (int x = threadIdx.x; x < TILE; x += blockDim.x) {
                int in = x < nq;
                sL[x] = in ? lse[(size_t)(i0 + x) * Hq + h] : INFINITY;
                sDe[x] = in ? delta[(size_t)(i0 + x) * Hq + h] : 0.0f;
                sS[x] = in ? kv_start[i0 + x] : 0;
                sE[x] = in ? kv_start[i0 + x] + kv_len[i0 + x] : 0;
            }
            __syncthreads();
            MG_UNROLL
            for (int x = 0; x < COLS; x++) {
                int rq = r0 + ROW_THREADS * x;
                float p = 0.0f, ds = 0.0f;
                if (c < nk && rq < nq && j >= sS[rq] && j < sE[rq]) {
                    p = expf(dot_rows(sK + c * DP, sQ + rq * DP, D) * scale - sL[rq]);
                    ds = p * (dot_rows(sV + c * DP, sDO + rq * DP, D) - sDe[rq]) * scale;
                }
                sP[c * (TILE + 1) + rq] = p;
                sDS[c * (TILE + 1) + rq] = ds;
            }
            __syncwarp();  // a key row's p and ds come from its own 8 lanes
            for (int rq = 0; rq < nq; rq++) {
                float p = sP[c * (TILE + 1) + rq], ds = sDS[c * (TILE + 1) + rq];
                MG_UNROLL
                for (int t = 0; t < DT; t++) {
                    int d = r0 + ROW_THREADS * t;
                    if (d < D) {
                        av[t] = fmaf(p, sDO[rq * DP + d], av[t]);
                        ak[t] = fmaf(ds, sQ[rq * DP + d], ak[t]);
                    }
                }
            }
        }
    }
    if (c < nk) {
        MG_UNROLL
        for (int t = 0; t < DT; t++) {
            int d = r0 + ROW_THREADS * t;
            if (d >= D) continue;
            size_t at = ((size_t)j * Hkv + hk) * D + d;
            if (dk) dk[at] += ak[t];
            if (dv) dv[at] += av[t];
        }
    }
}

template <int DT>
static __global__ void __launch_bounds__(TILE_THREADS)
    attn_fwd_tiled_kernel(float *out, const float *q, const float *k, const float *v, const int *kv_start,
                          const int *kv_len, int N, int Hq, int Hkv, int D, float scale) {
    MG_DYN_SMEM(float, smem);
    int DP = D + 1, i0 = blockIdx.x * TILE, h = blockIdx.y, hk = h / (Hq / Hkv);
    int nq = min(TILE, N - i0), r = threadIdx.x / ROW_THREADS, c0 = threadIdx.x % ROW_THREADS;
    float *sQ = smem, *sK = sQ + TILE * DP, *sV = sK + TILE * DP, *sP = sV + TILE * DP;
    load_rows(sQ, q, i0, nq, Hq, h, D);
    int k0, k1;
    tile_key_span(kv_start, kv_len, i0, nq, &k0, &k1);
    int i = i0 + r, s = r < nq ? kv_start[i] : 0, e = r < nq ? s + kv_len[i] : 0;
    float m = -INFINITY, l = 0.0f, acc[DT];
    MG_UNROLL
    for (int t = 0; t < DT; t++) acc[t] = 0.0f;
    for (int t0 = k0; t0 < k1; t0 += TILE) {
        int nk = min(TILE, k1 - t0);
        __syncthreads();  // the previous tile is consumed (the first time: sQ is written)
        load_rows(sK, k, t0, nk, Hkv, hk, D);
        load_rows(sV, v, t0, nk, Hkv, hk, D);
        __syncthreads();
        float sc[COLS], tmax = -INFINITY;
        MG_UNROLL
        for (int x = 0; x < COLS; x++) {
            int c = c0 + ROW_THREADS * x, j = t0 + c;
            sc[x] = c < nk && j >= s && j < e ? dot_rows(sQ + r * DP, sK + c * DP, D) * scale : -INFINITY;
            tmax = fmaxf(tmax, sc[x]);
        }
        float mnew = fmaxf(m, row_max(tmax));
        float corr = m == -INFINITY ? 0.0f : expf(m - mnew), ps = 0.0f;
        MG_UNROLL
        for (int x = 0; x < COLS; x++) {
            float p = sc[x] == -INFINITY ? 0.0f : expf(sc[x] - mnew);
            sP[r * (TILE + 1) + c0 + ROW_THREADS * x] = p;
            ps += p;
        }
        l = l * corr + row_sum(ps);
        m = mnew;
        __syncwarp();  // a row's probabilities come from its own 8 lanes
        MG_UNROLL
        for (int t = 0; t < DT; t++) acc[t] *= corr;
        for (int c = 0; c < nk; c++) {
            float p = sP[r * (TILE + 1) + c];
            MG_UNROLL
            for (int t = 0; t < DT; t++) {
                int d = c0 + ROW_THREADS * t;
                if (d < D) acc[t] = fmaf(p, sV[c * DP + d], acc[t]);
            }
        }
    }
    if (r < nq) {
        float inv = l > 0.0f ? 1.0f / l : 0.0f;
        MG_UNROLL
        for (int t = 0; t < DT; t++) {
            int d = c0 + ROW_THREADS * t;
            if (d < D) out[((size_t)i * Hq + h) * D + d] = acc[t] * inv;
        }
    }
}

template <int DT>
static void launch_fwd(float *out, const float *q, const float *k, const float *v, const int *kv_start,
                       const int *kv_len, int N, int Hq, int Hkv, int D, float scale, size_t smem) {
    MG_ALLOW_SMEM(attn_fwd_tiled_kernel<DT>, smem);
    MG_LAUNCH(attn_fwd_tiled_kernel<DT>, dim3((N + TILE - 1) / TILE, Hq), TILE_THREADS, smem, out, q, k, v, kv_start,
              kv_len, N, Hq, Hkv, D, scale);
}

extern "C" void attention_forward_tiled_cuda(float *out, const float *q, const float *k, const float *v,
                                             const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D) {
    if (N <= 0) return;
    cudaRequire(Hkv > 0 && Hq % Hkv == 0, "query heads must be a multiple of the KV heads");
    cudaRequire(D > 0 && D <= ROW_THREADS * 32, "head_dim above 256 is not supported by the CUDA attention");
    float scale = 1.0f / sqrtf((float)D);
    size_t smem = train_smem_bytes(D);
    int dt = (D + ROW_THREADS - 1) / ROW_THREADS;
    if (dt <= 2) launch_fwd<2>(out, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scale, smem);
    else if (dt <= 4) launch_fwd<4>(out, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scale, smem);
    else if (dt <= 8) launch_fwd<8>(out, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scale, smem);
    else if (dt <= 16) launch_fwd<16>(out, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scale, smem);
    else launch_fwd<32>(out, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scale, smem);
}

// The dims per thread (D / 8, rounded up to a power of two) picks the instance.
template <int DT>
static void launch_dq_dkdv(float *dq, float *dk, float *dv, const int *qlo, const int *qhi, const float *lse,
                           const float *delta, const float *dout, const float *q, const float *k, const float *v,
                           const int *kv_start, const int *kv_len, int N, int rows, int Hq, int Hkv, int D,
                           float scale, size_t smem) {
    if (dq) {
        MG_ALLOW_SMEM(attn_dq_kernel<DT>, smem);
        MG_LAUNCH(attn_dq_kernel<DT>, dim3((N + TILE - 1) / TILE, Hq), TILE_THREADS, smem, dq, lse, delta, dout, q,
                  k, v, kv_start, kv_len, N, Hq, Hkv, D, scale);
    }
    if (dk || dv) {
        MG_ALLOW_SMEM(attn_dkdv_kernel<DT>, smem);
        MG_LAUNCH(attn_dkdv_kernel<DT>, dim3((rows + TILE - 1) / TILE, Hkv), TILE_THREADS, smem, dk, dv, qlo, qhi,
                  lse, delta, dout, q, k, v, kv_start, kv_len, rows, Hq, Hkv, D, scale);
    }
}

extern "C" int attention_backward_tiled_cuda(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                             const float *k, const float *v, const int *kv_start, const int *kv_len,
                                             const int *kv_start_host, const int *kv_len_host, int N, int Hq, int Hkv,
                                             int D) {
    if (D > ROW_THREADS * 32) return 0;
    int rows = monotone_key_rows(kv_start_host, kv_len_host, N);  // the launch shapes depend on it
    if (rows <= 0) return 0;
    char *buf = (char *)cuda_scratch(SCR_ATTN_TRAIN, (size_t)2 * N * Hq * sizeof(float) + (size_t)2 * rows * sizeof(int));
    float *lse = (float *)buf, *delta = lse + (size_t)N * Hq;
    int *qlo = (int *)(delta + (size_t)N * Hq), *qhi = qlo + rows;
    float scale = 1.0f / sqrtf((float)D);
    size_t smem = train_smem_bytes(D);
    MG_ALLOW_SMEM(attn_stats_kernel, smem);
    MG_LAUNCH(attn_stats_kernel, dim3((N + TILE - 1) / TILE, Hq), TILE_THREADS, smem, lse, delta, dout, q, k, v,
              kv_start, kv_len, N, Hq, Hkv, D, scale);
    if (dk || dv)
        MG_LAUNCH(attn_key_ranges_kernel, (rows + 255) / 256, 256, 0, qlo, qhi, kv_start, kv_len, N, rows);
    int dt = (D + ROW_THREADS - 1) / ROW_THREADS;
#define MG_DQ_DKDV(n)                                                                                              \
    launch_dq_dkdv<n>(dq, dk, dv, qlo, qhi, lse, delta, dout, q, k, v, kv_start, kv_len, N, rows, Hq, Hkv, D, scale, \
                      smem)
    if (dt <= 2) MG_DQ_DKDV(2);
    else if (dt <= 4) MG_DQ_DKDV(4);
    else if (dt <= 8) MG_DQ_DKDV(8);
    else if (dt <= 16) MG_DQ_DKDV(16);
    else MG_DQ_DKDV(32);
#undef MG_DQ_DKDV
    return 1;
}
