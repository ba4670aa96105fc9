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

// The inverse-CDF draw over kept(v) in id order; returns the chosen id (every thread gets it).
template <typename Kept> static __device__ int draw(const Kept &kept, int V, double u, int fallback) {
    int lo, hi;
    segment(V, &lo, &hi);
    double part = 0.0;
    for (int v = lo; v < hi; v++) part += kept(v);
    double total, before = block_exclusive_scan(part, &total), target = u * total, acc = before;
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

// Greedy and unfiltered sampling: one block per row, nothing stored.
static __global__ void __launch_bounds__(1024)
    sample_plain_kernel(int *ids, float *logp, const float *logits, int V, mg_sample_params p,
                                           const uint64_t *seq_ids, const uint64_t *counters) {
    int r = blockIdx.x;
    const float *z = logits + (size_t)r * V;
    float T = temp_of(p);
    row_info s = row_stats(z, V, T);
    int choice = s.argmax;
    if (p.temperature > 0.0f) {
        double u = mg_philox_uniform(p.seed, seq_ids[r], counters[r]);
        kept_plain k = {z, s.mx, T, p.min_p > 0.0f ? p.min_p : 0.0f};
        choice = draw(k, V, u, s.argmax);
    }
    if (threadIdx.x == 0) {
        ids[r] = choice;
        logp[r] = p.temperature > 0.0f ? (z[choice] - s.mx) / T - s.lse : -s.lse;
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
        MG_LAUNCH(sample_plain_kernel, n, SAMPLE_THREADS, 0, ids, logp, logits, V, *p, seq_ids, counters);
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
