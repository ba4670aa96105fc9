// On-device sampling: model/sampler.c's sample_token for many rows at once, with the same uniform draw
// (common/philox.h, compiled for the device) and the same decisions:
//   prob_v = expf((z_v - max) / T), lse = log(sum prob); greedy (T <= 0): the first argmax, logp = -lse;
//   ranked filters (top_k > 0 or top_p < 1): candidates prob >= 1e-9 sorted by (prob desc, id asc), cut to top_k,
//   then to the shortest prefix whose mass reaches top_p of what is left (at least one token);
//   min_p: drop prob < min_p (relative to the max, which is 1 here);
//   draw: the first kept id, in id order, whose running mass exceeds u * (kept mass).
// The running sums run over per-thread contiguous segments in double: the same decisions as the CPU's sequential
// sum except where a boundary falls within rounding of the target (an event of probability ~1e-16).
#include "common/philox.h"
#include "kernels/cuda/cuda_common.h"

#ifndef MG_CUDA_EMULATE
#include <cub/device/device_segmented_radix_sort.cuh>
#endif

enum { SAMPLE_THREADS = 1024 };

typedef struct {
    float mx, lse;
    int argmax, n_cand;
} row_info;

// Segment [lo, hi) of V owned by this thread (contiguous, in thread order).
static __device__ __forceinline__ void segment(int V, int *lo, int *hi) {
    int per = (V + blockDim.x - 1) / blockDim.x;
    *lo = min(V, (int)threadIdx.x * per);
    *hi = min(V, *lo + per);
}

// Max, first argmax, and lse of row z, into *info (every thread gets it).
static __device__ row_info row_stats(const float *z, int V, float T) {
    float mx = -INFINITY;
    int am = 0x7fffffff;
    for (int v = threadIdx.x; v < V; v += blockDim.x) argmax_merge(mx, am, z[v], v);
    block_argmax(mx, am);
    int lo, hi;
    segment(V, &lo, &hi);
    double s = 0.0;
    for (int v = lo; v < hi; v++) s += expf((z[v] - mx) / T);
    s = block_sum(s);
    row_info r;
    r.mx = mx;
    r.argmax = am;
    r.lse = (float)log(s);
    r.n_cand = 0;
    return r;
}

// The scan of an inverse-CDF draw: this thread's ids [lo, hi) with the running mass `acc` before them; the first
// kept id whose running mass exceeds target, else the last kept one, else fallback (every thread gets it).
template <typename Kept>
static __device__ int draw_scan(const Kept &kept, int lo, int hi, double acc, double target, int fallback) {
    int found = 0x7fffffff, last = -1;
    for (int v = lo; v < hi; v++) {
        float k = kept(v);
        if (k <= 0.0f) continue;
        acc += k;
        last = v;
        if (found == 0x7fffffff && acc > target) found = v;
    }
    found = block_min_int(found);
    last = block_max_int(last);
    return found != 0x7fffffff ? found : last >= 0 ? last : fallback;
}

// The inverse-CDF draw over kept(v) in id order; returns the chosen id (every thread gets it).
template <typename Kept> static __device__ int draw(const Kept &kept, int V, double u, int fallback) {
    int lo, hi;
    segment(V, &lo, &hi);
    double part = 0.0;
    for (int v = lo; v < hi; v++) part += kept(v);
    double total, before = block_exclusive_scan(part, &total);
    return draw_scan(kept, lo, hi, before, u * total, fallback);
}

// prob of v, zeroed below min_p (plain path: no ranking filter)
struct kept_plain {
    const float *z;
    float mx, T, keep_from;
    __device__ float operator()(int v) const {
        float p = expf((z[v] - mx) / T);
        return p < keep_from ? 0.0f : p;
    }
};
// prob of v from the kept table of the ranked path, zeroed below min_p
struct kept_table {
    const float *kept;
    float keep_from;
    __device__ float operator()(int v) const {
        float p = kept[v];
        return p < keep_from ? 0.0f : p;
    }
};

static __device__ __forceinline__ float temp_of(const mg_sample_params &p) {
    return p.temperature > 0.0f ? p.temperature : 1.0f;
}

// ---- greedy and unfiltered sampling: each row in chunks of SAMPLE_CHUNK ids, one block per (row, chunk) ----
// One block per row left most of a GPU idle and read a 128k-id row four times over (137 us for 64 rows on an
// H200). Three launches instead: the chunks' maxima; the chunks' sums of prob_v (each block first takes the row's
// max from the chunk maxima, so prob_v is the very float the CPU computes); then one block per row adds the chunk
// sums in order, finds the chunk where the draw falls and scans that chunk alone. The chunking is fixed (not the
// device's), and so are the decisions.
enum { SAMPLE_CHUNK = 4096, CHUNK_THREADS = 256 };

// This thread's contiguous part of [lo, hi), in thread order: the chunk sums and the pick's scan split a chunk
// alike, so a chunk's kept mass is exactly the total its scan adds up to.
static __device__ __forceinline__ void segment_in(int lo, int hi, int *a, int *b) {
    int per = (hi - lo + (int)blockDim.x - 1) / (int)blockDim.x;
    *a = min(hi, lo + (int)threadIdx.x * per);
    *b = min(hi, *a + per);
}

static __device__ __forceinline__ float keep_from(const mg_sample_params &p) {
    return p.temperature > 0.0f && p.min_p > 0.0f ? p.min_p : 0.0f;
}

// cmax, carg (n, S): each chunk's max and first argmax.
static __global__ void __launch_bounds__(CHUNK_THREADS)
    sample_max_kernel(float *cmax, int *carg, const float *logits, int V) {
    int r = blockIdx.x, c = blockIdx.y, lo = c * SAMPLE_CHUNK, hi = min(V, lo + SAMPLE_CHUNK);
    const float *z = logits + (size_t)r * V;
    float mx = -INFINITY;
    int am = 0x7fffffff;
    for (int v = lo + threadIdx.x; v < hi; v += blockDim.x) argmax_merge(mx, am, z[v], v);
    block_argmax(mx, am);
    if (threadIdx.x == 0) cmax[(size_t)r * gridDim.y + c] = mx, carg[(size_t)r * gridDim.y + c] = am;
}

// csum, ckept (n, S): each chunk's sum of prob_v and of the kept ones (min_p), in double.
static __global__ void __launch_bounds__(CHUNK_THREADS)
    sample_sum_kernel(double *csum, double *ckept, const float *cmax, const float *logits, int V, mg_sample_params p) {
    int r = blockIdx.x, c = blockIdx.y, S = gridDim.y, lo = c * SAMPLE_CHUNK, hi = min(V, lo + SAMPLE_CHUNK), a, b;
    const float *z = logits + (size_t)r * V;
    float mx = -INFINITY;
    for (int k = 0; k < S; k++) mx = fmaxf(mx, cmax[(size_t)r * S + k]);
    kept_plain kept = {z, mx, temp_of(p), keep_from(p)};
    segment_in(lo, hi, &a, &b);
    double sum = 0.0, part = 0.0, total;
    for (int v = a; v < b; v++) sum += expf((z[v] - mx) / kept.T), part += kept(v);
    sum = block_sum(sum);
    block_exclusive_scan(part, &total);
    if (threadIdx.x == 0) csum[(size_t)r * S + c] = sum, ckept[(size_t)r * S + c] = total;
}

// One block per row: the row's max, first argmax and lse from its chunks; greedy takes the argmax, sampling draws
// u, picks the first chunk whose running kept mass exceeds u * (kept mass) and scans it.
static __global__ void __launch_bounds__(CHUNK_THREADS)
    sample_pick_kernel(int *ids, float *logp, const float *cmax, const int *carg, const double *csum,
                       const double *ckept, const float *logits, int V, int S, mg_sample_params p,
                       const uint64_t *seq_ids, const uint64_t *counters) {
    int r = blockIdx.x;
    const float *z = logits + (size_t)r * V;
    const float *rmax = cmax + (size_t)r * S;
    const double *rsum = csum + (size_t)r * S, *rkept = ckept + (size_t)r * S;
    float mx = -INFINITY;
    int am = 0x7fffffff;
    double sum = 0.0, total = 0.0;
    for (int k = 0; k < S; k++) argmax_merge(mx, am, rmax[k], carg[(size_t)r * S + k]), sum += rsum[k], total += rkept[k];
    float T = temp_of(p), lse = (float)log(sum);
    int choice = am;
    if (p.temperature > 0.0f) {
        double target = mg_philox_uniform(p.seed, seq_ids[r], counters[r]) * total, before = 0.0, at = 0.0;
        int c = -1;  // the chunk the draw falls in; past the end by rounding: the last with kept mass
        for (int k = 0; k < S; k++) {
            if (rkept[k] > 0.0) {
                c = k, at = before;
                if (before + rkept[k] > target) break;
            }
            before += rkept[k];
        }
        if (c >= 0) {
            int lo = c * SAMPLE_CHUNK, hi = min(V, lo + SAMPLE_CHUNK), a, b;
            kept_plain kept = {z, mx, T, keep_from(p)};
            segment_in(lo, hi, &a, &b);
            double part = 0.0, chunk;
            for (int v = a; v < b; v++) part += kept(v);
            choice = draw_scan(kept, a, b, at + block_exclusive_scan(part, &chunk), target, am);
        }
    }
    if (threadIdx.x == 0) {
        ids[r] = choice;
        logp[r] = p.temperature > 0.0f ? (z[choice] - mx) / T - lse : -lse;
    }
}

// Ranked path, step 1: probabilities and ids for the sort, the row's statistics and candidate count.
static __global__ void __launch_bounds__(1024)
    sample_prep_kernel(float *prob, int *idx, row_info *info, const float *logits, int V,
                                          mg_sample_params p) {
    int r = blockIdx.x;
    const float *z = logits + (size_t)r * V;
    float T = temp_of(p);
    row_info s = row_stats(z, V, T);
    int cand = 0;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float pv = expf((z[v] - s.mx) / T);
        prob[(size_t)r * V + v] = pv;
        idx[(size_t)r * V + v] = v;
        cand += pv >= 1e-9f;
    }
    cand = block_sum(cand);
    if (threadIdx.x == 0) {
        s.n_cand = cand;
        info[r] = s;
    }
}

// Ranked path, step 2: cut the sorted candidates (top_k, top_p), scatter the kept ones by id into `kept` (the
// probability buffer, free again after the sort), draw.
static __global__ void __launch_bounds__(1024)
    sample_select_kernel(int *ids, float *logp, float *kept, const float *sprob, const int *sidx,
                                            const row_info *info, const float *logits, int V, mg_sample_params p,
                                            const uint64_t *seq_ids, const uint64_t *counters) {
    int r = blockIdx.x;
    const float *sp = sprob + (size_t)r * V;
    const int *si = sidx + (size_t)r * V;
    float *kr = kept + (size_t)r * V;
    row_info s = info[r];
    int n_cand = s.n_cand;
    if (p.top_k > 0 && p.top_k < n_cand) n_cand = p.top_k;
    if (p.top_p < 1.0f) {
        // the shortest prefix whose running mass reaches top_p * (mass of the n_cand candidates)
        int lo, hi;
        segment(n_cand, &lo, &hi);
        double part = 0.0;
        for (int i = lo; i < hi; i++) part += sp[i];
        double total, acc = block_exclusive_scan(part, &total), target = (double)p.top_p * total;
        int first = 0x7fffffff;  // first index whose inclusive prefix reaches the target
        if (target <= 0.0) first = -1;
        for (int i = lo; i < hi && first == 0x7fffffff; i++) {
            acc += sp[i];
            if (acc >= target) first = i;
        }
        first = block_min_int(first);
        int n = first == 0x7fffffff ? n_cand : first + 1;
        n_cand = n > 0 ? n : 1;
    }
    for (int v = threadIdx.x; v < V; v += blockDim.x) kr[v] = 0.0f;
    __syncthreads();
    for (int i = threadIdx.x; i < n_cand; i += blockDim.x) kr[si[i]] = sp[i];
    __syncthreads();
    const float *z = logits + (size_t)r * V;
    float T = temp_of(p);
    double u = mg_philox_uniform(p.seed, seq_ids[r], counters[r]);
    kept_table k = {kr, p.min_p > 0.0f ? p.min_p : 0.0f};
    int choice = draw(k, V, u, s.argmax);
    if (threadIdx.x == 0) {
        ids[r] = choice;
        logp[r] = (z[choice] - s.mx) / T - s.lse;
    }
}

extern "C" void sample_tokens_cuda(int *ids, float *logp, const float *logits, int n, int V, const mg_sample_params *p,
                                   const uint64_t *seq_ids, const uint64_t *counters) {
    if (n <= 0) return;
    int ranked = p->temperature > 0.0f && (p->top_k > 0 || p->top_p < 1.0f);
    if (!ranked) {
        int S = (V + SAMPLE_CHUNK - 1) / SAMPLE_CHUNK;
        size_t m = (size_t)n * S;
        double *csum = (double *)cuda_scratch(SCR_SAMPLE_INFO, m * (2 * sizeof(double) + sizeof(float) + sizeof(int)));
        double *ckept = csum + m;
        float *cmax = (float *)(ckept + m);
        int *carg = (int *)(cmax + m);
        MG_LAUNCH(sample_max_kernel, dim3(n, S), CHUNK_THREADS, 0, cmax, carg, logits, V);
        MG_LAUNCH(sample_sum_kernel, dim3(n, S), CHUNK_THREADS, 0, csum, ckept, cmax, logits, V, *p);
        MG_LAUNCH(sample_pick_kernel, n, CHUNK_THREADS, 0, ids, logp, cmax, carg, csum, ckept, logits, V, S, *p, seq_ids,
                  counters);
        return;
    }
    size_t nv = (size_t)n * V;
    float *prob = (float *)cuda_scratch(SCR_SAMPLE_PROB, nv * (sizeof(float) + sizeof(int)));
    int *idx = (int *)(prob + nv);
    float *sprob = (float *)cuda_scratch(SCR_SAMPLE_SORTED, nv * (sizeof(float) + sizeof(int)));
    int *sidx = (int *)(sprob + nv);
    row_info *info = (row_info *)cuda_scratch(SCR_SAMPLE_INFO, (size_t)n * sizeof(row_info));
    MG_LAUNCH(sample_prep_kernel, n, SAMPLE_THREADS, 0, prob, idx, info, logits, V, *p);
    mg_sort_rows_desc(prob, sprob, idx, sidx, n, V);
    MG_LAUNCH(sample_select_kernel, n, SAMPLE_THREADS, 0, ids, logp, prob, sprob, sidx, info, logits, V, *p, seq_ids,
              counters);
}

// ---- the device's uniforms, for the RNG identity check ----
static __global__ void philox_uniform_kernel(float *out, uint64_t key, uint64_t stream, uint64_t counter0, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = mg_philox_uniform(key, stream, counter0 + (uint64_t)i);
}

extern "C" void cuda_philox_uniforms(float *out_host, uint64_t key, uint64_t stream, uint64_t counter0, int n) {
    if (n <= 0) return;
    float *d = (float *)cuda_malloc((size_t)n * sizeof(float));
    MG_LAUNCH(philox_uniform_kernel, (n + 255) / 256, 256, 0, d, key, stream, counter0, n);
    cuda_d2h(out_host, d, (size_t)n * sizeof(float));
    cuda_free(d);
}

#ifndef MG_CUDA_EMULATE
// Row offsets r * V for the segmented sort.
static __global__ void row_offsets_kernel(int *off, int n, int V) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) off[i] = i * V;
}

void mg_sort_rows_desc(const float *keys_in, float *keys_out, const int *ids_in, int *ids_out, int n, int V) {
    cudaRequire((size_t)n * V < (size_t)1 << 31, "sampling rows x vocabulary must stay below 2^31 for the sort");
    size_t temp_bytes = 0;
    // The row offsets live after CUB's temp storage in one scratch slot: query its size first.
    cudaCheck(cub::DeviceSegmentedRadixSort::SortPairsDescending(NULL, temp_bytes, keys_in, keys_out, ids_in, ids_out,
                                                                  n * V, n, (const int *)NULL, (const int *)NULL, 0,
                                                                  32, cuda_stream()));
    size_t off_at = (temp_bytes + 255) / 256 * 256;
    char *temp = (char *)cuda_scratch(SCR_SORT_TEMP, off_at + ((size_t)n + 1) * sizeof(int));
    int *offsets = (int *)(temp + off_at);
    MG_LAUNCH(row_offsets_kernel, (n + 1 + 255) / 256, 256, 0, offsets, n, V);
    cudaCheck(cub::DeviceSegmentedRadixSort::SortPairsDescending(temp, temp_bytes, keys_in, keys_out, ids_in, ids_out,
                                                                  n * V, n, offsets, offsets + 1, 0, 32,
                                                                  cuda_stream()));
}
#endif
