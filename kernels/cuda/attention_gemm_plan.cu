// The plan of the GEMM attention (attention_gemm.cu): a packed causal batch's layout, host arrays, cut into chunks
// of batched GEMMs. Host code only.
//
// Layout: a sequence is a run of queries i .. i + L - 1 that share kv_start and whose kv_len grows by one (query t
// of the run sees key rows kv_start .. kv_start + kv_len[i] - 1 + t). The runs' key ranges must increase without
// overlapping (disjoint dk/dv rows within a chunk) and runs must average >= 4 queries; anything else stays with
// the tiled kernels.
//
// Memory: a chunk's scratch (S, dP, bf16 P and dS, packed operands) stays under a budget (256 MiB): a chunk takes
// as many sequences as fit with all heads; a sequence too long for that alone is split by heads, and one too long
// for a single head by query rows (a block of rows sees a prefix of the keys, so its dk/dv add up across chunks).
#include <string.h>

#include <algorithm>
#include <vector>

#include "kernels/cuda/attention_gemm.h"
#include "kernels/cuda/attention_gemm_plan.h"

enum { PAD = 8, MIN_RUN = 4 };
static const size_t DEFAULT_BUDGET = (size_t)256 << 20;
static size_t g_budget = DEFAULT_BUDGET;

// A run: queries q0 .. q0 + nq - 1 over key rows k0 .. k0 + nk - 1. A segment: a run or a block of its query
// rows (run: its index).
struct run_t {
    int q0, nq, k0, nk;
};
struct seg_t {
    int q0, nq, k0, nk, run;
};
static int pad(int x) { return (x + PAD - 1) / PAD * PAD; }

chunk_scratch carve_scratch(const unit &u, int D, size_t ob) {
    size_t B = (size_t)u.s.n * u.nh, ns = B * u.lq * u.lk, nq = B * u.lq * D, nk = B * u.lk * D, at = 0;
    auto take = [&at](size_t bytes) {
        size_t o = at;
        at += (bytes + 255) & ~(size_t)255;
        return o;
    };
    chunk_scratch c;
    c.S = take(ns * 4), c.dP = take(ns * 4);
    if (ob == 2) c.P = take(ns * 2), c.dS = take(ns * 2);
    else c.P = c.S, c.dS = c.dP;
    c.Q = take(nq * ob), c.dO = take(nq * ob), c.dQ = take(nq * 4);
    c.K = take(nk * ob), c.V = take(nk * ob), c.dK = take(nk * 4), c.dV = take(nk * 4);
    c.total = at;
    return c;
}

static void add_seg(unit &u, const seg_t &g) {
    int i = u.s.n++;
    u.s.q0[i] = g.q0, u.s.nq[i] = g.nq, u.s.k0[i] = g.k0, u.s.nk[i] = g.nk, u.run[i] = g.run;
    u.lq = std::max(u.lq, pad(g.nq)), u.lk = std::max(u.lk, pad(g.nk));
}

static unit single(const seg_t &g, int h0, int nh) {
    unit u;
    memset(&u, 0, sizeof u);
    u.h0 = h0, u.nh = nh;
    add_seg(u, g);
    return u;
}

// The runs of a layout; false when the GEMMs do not take it.
static bool find_runs(std::vector<run_t> &runs, const int *ks, const int *kl, int N) {
    runs.clear();
    for (int i = 0; i < N;) {
        if (kl[i] < 1 || ks[i] < 0) return false;
        int j = i + 1;
        while (j < N && ks[j] == ks[i] && kl[j] == kl[j - 1] + 1) j++;
        run_t r = {i, j - i, ks[i], kl[j - 1]};
        if (!runs.empty() && r.k0 < runs.back().k0 + runs.back().nk) return false;  // keys go back or overlap
        runs.push_back(r);
        i = j;
    }
    return N >= MIN_RUN * (long)runs.size();
}

// Chunks of the runs under the budget (see the top of the file). Deterministic: the layout alone decides it.
static void plan(std::vector<unit> &units, const std::vector<run_t> &runs, int Hq, int G, int D, size_t ob,
                 size_t budget) {
    std::vector<seg_t> segs;
    for (size_t r = 0; r < runs.size(); r++) {
        const run_t &x = runs[r];
        seg_t whole = {x.q0, x.nq, x.k0, x.nk, (int)r};
        int rows = x.nq;
        if (carve_scratch(single(whole, 0, 1), D, ob).total > budget) {
            // rows per block: one head with all keys fits, in PAD rows
            int lo = 1, hi = (x.nq + PAD - 1) / PAD;
            while (lo < hi) {
                int mid = (lo + hi + 1) / 2;
                seg_t t = whole;
                t.nq = mid * PAD;
                if (carve_scratch(single(t, 0, 1), D, ob).total <= budget) lo = mid;
                else hi = mid - 1;
            }
            rows = lo * PAD;
        }
        for (int a = 0; a < x.nq; a += rows) {
            int b = std::min(x.nq, a + rows);
            segs.push_back({x.q0 + a, b - a, x.k0, x.nk - x.nq + b, (int)r});
        }
    }
    // longest first: neighbours in this order pad each other little
    std::stable_sort(segs.begin(), segs.end(),
                     [](const seg_t &a, const seg_t &b) { return a.nk != b.nk ? a.nk > b.nk : a.nq > b.nq; });
    units.clear();
    for (size_t i = 0; i < segs.size();) {
        unit u = single(segs[i], 0, Hq);
        if (carve_scratch(u, D, ob).total > budget) {
            // this segment alone, its heads in slices of whole KV groups if any
            int nh = Hq;
            while (nh > 1 && carve_scratch(single(segs[i], 0, nh), D, ob).total > budget) nh--;
            if (nh >= G) nh -= nh % G;
            for (int h0 = 0; h0 < Hq; h0 += nh) units.push_back(single(segs[i], h0, std::min(nh, Hq - h0)));
            i++;
            continue;
        }
        size_t j = i + 1;
        for (; j < segs.size() && u.s.n < MAX_SEGS; j++) {
            int same = 0;  // row blocks of one run share key rows: never in one chunk
            for (int t = 0; t < u.s.n; t++) same |= u.run[t] == segs[j].run;
            unit w = u;
            add_seg(w, segs[j]);
            if (same || carve_scratch(w, D, ob).total > budget) break;
            u = w;
        }
        units.push_back(u);
        i = j;
    }
}

int plan_chunks(std::vector<unit> &units, const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D,
                size_t ob) {
    static std::vector<run_t> runs;  // kept: no allocation per call
    units.clear();
    if (N <= 0 || Hkv <= 0 || Hq % Hkv || !find_runs(runs, kv_start, kv_len, N)) return 0;
    plan(units, runs, Hq, Hq / Hkv, D, ob, g_budget);
    return (int)runs.size();
}

extern "C" void attention_gemm_set_budget(size_t bytes) { g_budget = bytes ? bytes : DEFAULT_BUDGET; }

extern "C" void attention_gemm_plan(attention_gemm_plan_info *info, const int *kv_start, const int *kv_len, int N,
                                    int Hq, int Hkv, int D, mg_dtype at) {
    memset(info, 0, sizeof *info);
    std::vector<unit> units;
    info->runs = plan_chunks(units, kv_start, kv_len, N, Hq, Hkv, D, mg_dtype_size(at));
    info->taken = info->runs > 0;
    info->units = (int)units.size();
    for (const unit &u : units) {
        info->scratch_bytes = std::max(info->scratch_bytes, carve_scratch(u, D, mg_dtype_size(at)).total);
        double f = 2.0 * u.s.n * u.nh * u.lq * u.lk * D;  // one product
        info->flops_fwd += 2 * f;                         // S, O
        info->flops_bwd += 5 * f;                         // S, dP, dV, dK, dQ
        info->launches_fwd += 6;                          // 2 packs, 2 GEMMs, softmax, unpack
        info->launches_bwd += 10;                         // 2 packs, 5 GEMMs, row kernel, 2 unpacks
    }
}
