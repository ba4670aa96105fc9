// Training attention as batched GEMMs (kernels/cuda/attention_gemm.cu) against the CPU attention op.
//
//   test_attention_gemm        (exits 77 with "no CUDA device" without a GPU)
//
// Built twice, as test_cuda_parity: test_attention_gemm on the real kernels (label gpu), test_attention_gemm_emu on
// the kernels compiled for the host CPU (label unit). Checks, forward and backward, fp32 and bf16 operands:
//  * packed causal batches of sequences of different lengths (1 included), GQA 4:1, 7:1 and 1:1, head_dim 10-128,
//    runs whose first query already sees earlier keys, and gradients not wanted (NULL);
//  * the layout of shared prompts (model/engine.c expand_kv): members' queries over an expanded key array, each
//    member's keys a copy of its prompt's rows then its own, more keys than queries; on the GEMMs (whole and split
//    into row blocks) and, with runs too short for them, on the tiled kernels;
//  * a budget small enough to split the work into chunks by sequences, heads and query rows;
//  * layouts that are not packed causal batches go to the tiled kernels (and still give the CPU's results);
//  * results do not change between two runs (no atomics); the plan's scratch stays under its budget for long
//    sequences; FLOPs and launches of the benchmark's shapes (printed);
//  * the GEMMs plan from the host's layout and wait for nothing: a forward and backward captured as a CUDA graph
//    (where a copy back or a stream wait fails) replay the eager run's bits; so do the tiled kernels (directly, as
//    MIGRATE_ATTN_GEMM=0 runs them, and through the table's entries for layouts the GEMMs leave to them) and the
//    query-major backward (within 1e-6: its atomics may add in another order).
// Tolerances (max|gpu - cpu| / max|cpu|): fp32 2e-5 (the other fp32 ops'); bf16 operands 1e-2 (the other bf16 ops').
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/rng.h"
#include "kernels/cuda/attention_gemm.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/ops.h"
#include "gpu/gpu_test.h"
#include "testing.h"

// The worst relative error of device result d against want, printed and checked.
static float expect(const char *what, const char *name, const float *d, const float *want, size_t n, float tol) {
    float *got = dget(d, n), err = max_rel_diff(got, want, (long)n, 1e-6f);
    printf("  %-9s %-46s rel err %.3g (tol %.0e)\n", what, name, err, tol);
    CHECK(err <= tol, "%s %s: relative error %g above %g", what, name, err, tol);
    free(got);
    return err;
}

// A layout of queries with their key ranges (rows: the key rows it needs).
typedef struct {
    const char *name;
    int N, rows, *start, *len;
} layout;

// Packed causal sequences of the given lengths; first[s] > 1: sequence s's first query already sees first[s] - 1
// earlier keys (its key rows start that much before its queries' rows in a key buffer of their own).
static layout packed(const char *name, int n, const int *lens, const int *first) {
    layout L = {name, 0, 0, NULL, NULL};
    for (int s = 0; s < n; s++) L.N += lens[s];
    L.start = mallocCheck((size_t)L.N * sizeof(int)), L.len = mallocCheck((size_t)L.N * sizeof(int));
    for (int s = 0, i = 0; s < n; s++) {
        int f = first ? first[s] : 1;
        for (int t = 0; t < lens[s]; t++, i++) L.start[i] = L.rows, L.len[i] = f + t;
        L.rows += f - 1 + lens[s];
    }
    return L;
}

static void layout_free(layout *L) { free(L->start), free(L->len); }

typedef struct {
    int Hq, Hkv, D;
} heads;

// One layout and head shape, forward and backward, in both precisions; gemm = 1: the GEMMs must take it.
// null_grads 1: dq not wanted, 2: dk and dv not wanted. twice: the backward runs again and must give the same bits.
static void check_case(const layout *L, heads h, int gemm, int null_grads, int twice) {
    int N = L->N, Hq = h.Hq, Hkv = h.Hkv, D = h.D, maxlen = 1;
    for (int i = 0; i < N; i++) maxlen = L->len[i] > maxlen ? L->len[i] : maxlen;
    size_t nq = (size_t)N * Hq * D, nk = (size_t)L->rows * Hkv * D;
    float *q = hrand(nq, 2.0f), *k = hrand(nk, 2.0f), *v = hrand(nk, 1.0f), *g = hrand(nq, 1.0f);
    float *out = mallocCheck(nq * sizeof(float)), *scr = mallocCheck(attention_scratch_floats(maxlen) * sizeof(float));
    float *gq = hrand(nq, 0.3f), *gk = hrand(nk, 0.3f), *gv = hrand(nk, 0.3f);  // += onto these
    float *dq = dputf(q, nq), *dk = dputf(k, nk), *dv = dputf(v, nk), *dg = dputf(g, nq), *dout = cuda_malloc(nq * 4);
    int *ds = dputi(L->start, (size_t)N), *dl = dputi(L->len, (size_t)N);
    attention_forward(out, q, k, v, L->start, L->len, N, Hq, Hkv, D, scr);
    char name[128];
    snprintf(name, sizeof name, "%s %d/%d D%d", L->name, Hq, Hkv, D);
    attention_gemm_plan_info info;
    attention_gemm_plan(&info, L->start, L->len, N, Hq, Hkv, D, MG_F32);
    CHECK(info.taken == gemm, "%s: GEMM path %s", name, gemm ? "not taken" : "taken");
    for (int bf = 0; bf < 2; bf++) {
        mg_dtype at = bf ? MG_BF16 : MG_F32;
        float tol = bf ? 1e-2f : 2e-5f;
        const char *mode = bf ? "bf16" : "fp32";
        char what[32];
        cuda_fill(dout, MG_F32, nq, 0.0f, NAN, 0, 0);  // every output must be written
        CHECK(attention_forward_gemm_cuda(dout, dq, dk, dv, L->start, L->len, N, Hq, Hkv, D, at) == gemm,
              "%s: attention_forward_gemm_cuda took the wrong path", name);
        attention_forward_train_cuda(dout, dq, dk, dv, ds, dl, L->start, L->len, N, Hq, Hkv, D, at);
        snprintf(what, sizeof what, "fwd %s", mode);
        expect(what, name, dout, out, nq, tol);
        // backward: dq, dk, dv += (some NULL when asked)
        float *rq = mallocCheck(nq * 4), *rk = mallocCheck(nk * 4), *rv = mallocCheck(nk * 4);
        memcpy(rq, gq, nq * 4), memcpy(rk, gk, nk * 4), memcpy(rv, gv, nk * 4);
        int want_q = null_grads != 1, want_kv = null_grads != 2;
        attention_backward(want_q ? rq : NULL, want_kv ? rk : NULL, want_kv ? rv : NULL, g, q, k, v, L->start,
                           L->len, N, Hq, Hkv, D, scr);
        float *eq = dputf(gq, nq), *ek = dputf(gk, nk), *ev = dputf(gv, nk);
        float *runs[2][3];
        for (int rep = 0; rep < 1 + twice; rep++) {
            cuda_h2d(eq, gq, nq * 4), cuda_h2d(ek, gk, nk * 4), cuda_h2d(ev, gv, nk * 4);
            attention_backward_train_cuda(want_q ? eq : NULL, want_kv ? ek : NULL, want_kv ? ev : NULL, dg, dq, dk,
                                          dv, ds, dl, L->start, L->len, N, Hq, Hkv, D, at);
            runs[rep][0] = dget(eq, nq), runs[rep][1] = dget(ek, nk), runs[rep][2] = dget(ev, nk);
        }
        snprintf(what, sizeof what, "dq %s", mode);
        expect(what, name, eq, rq, nq, tol);
        snprintf(what, sizeof what, "dk %s", mode);
        expect(what, name, ek, rk, nk, tol);
        snprintf(what, sizeof what, "dv %s", mode);
        expect(what, name, ev, rv, nk, tol);
        if (twice) {
            int same = !memcmp(runs[0][0], runs[1][0], nq * 4) && !memcmp(runs[0][1], runs[1][1], nk * 4) &&
                       !memcmp(runs[0][2], runs[1][2], nk * 4);
            CHECK(same, "%s %s: two backward runs differ", name, mode);
        }
        for (int r = 0; r < 1 + twice; r++)
            for (int t = 0; t < 3; t++) free(runs[r][t]);
        free(rq), free(rk), free(rv);
        cuda_free(eq), cuda_free(ek), cuda_free(ev);
    }
    free(q), free(k), free(v), free(g), free(out), free(scr), free(gq), free(gk), free(gv);
    cuda_free(dq), cuda_free(dk), cuda_free(dv), cuda_free(dg), cuda_free(dout), cuda_free(ds), cuda_free(dl);
}

// Which entries a capture check calls: the GEMMs alone (host layout only), the table's training entries (the GEMMs
// or, for a layout they do not take, the tiled kernels), or the tiled kernels alone (what MIGRATE_ATTN_GEMM=0 runs).
enum { VIA_GEMM, VIA_TABLE, VIA_TILED };

// The forward and backward of one layout, run eagerly (which also sizes the scratch: a capture may not allocate),
// then captured as a CUDA graph and replayed: a copy back or a stream wait inside either call fails the capture
// (emulation: the program stops), and the replay must give the eager run's bits. tol > 0: the query-major backward,
// whose dk/dv atomics may add in another order on a GPU, is held to that relative error instead.
static void check_capturable(const layout *L, heads h, mg_dtype at, int via, float tol) {
    static const char *paths[3] = {"", " table", " tiled"};
    int N = L->N, Hq = h.Hq, Hkv = h.Hkv, D = h.D;
    size_t nq = (size_t)N * Hq * D, nk = (size_t)L->rows * Hkv * D, n[4] = {nq, nq, nk, nk};
    float *hq = hrand(nq, 2.0f), *hk = hrand(nk, 2.0f), *hv = hrand(nk, 1.0f), *hg = hrand(nq, 1.0f);
    float *q = dputf(hq, nq), *k = dputf(hk, nk), *v = dputf(hv, nk), *g = dputf(hg, nq);
    int *ds = NULL, *dl = NULL;  // the device's layout: the GEMMs alone have none
    if (via != VIA_GEMM) ds = dputi(L->start, (size_t)N), dl = dputi(L->len, (size_t)N);
    float *res[2][4];  // out, dq, dk, dv of the eager run and the replay
    char name[128];
    snprintf(name, sizeof name, "%s %d/%d D%d %s%s", L->name, Hq, Hkv, D, at == MG_BF16 ? "bf16" : "fp32", paths[via]);
    int replayed = 0;
    for (int rep = 0; rep < 2; rep++) {
        for (int t = 0; t < 4; t++) res[rep][t] = cuda_malloc(n[t] * sizeof(float)), cuda_zero(res[rep][t], n[t] * 4);
        if (rep && !cuda_graph_begin()) break;
        float **r = res[rep];
        if (via == VIA_GEMM) {
            attention_forward_gemm_cuda(r[0], q, k, v, L->start, L->len, N, Hq, Hkv, D, at);
            attention_backward_gemm_cuda(r[1], r[2], r[3], g, q, k, v, L->start, L->len, N, Hq, Hkv, D, at);
        } else if (via == VIA_TABLE) {
            attention_forward_train_cuda(r[0], q, k, v, ds, dl, L->start, L->len, N, Hq, Hkv, D, at);
            attention_backward_train_cuda(r[1], r[2], r[3], g, q, k, v, ds, dl, L->start, L->len, N, Hq, Hkv, D, at);
        } else {
            attention_forward_tiled_cuda(r[0], q, k, v, ds, dl, N, Hq, Hkv, D);
            attention_backward_cuda(r[1], r[2], r[3], g, q, k, v, ds, dl, L->start, L->len, N, Hq, Hkv, D);
        }
        if (!rep) continue;
        if (!(replayed = replay_capture(name))) break;
    }
    int same = replayed;
    float err = 0.0f;
    for (int t = 0; t < 4 && replayed; t++) {
        float *a = dget(res[0][t], n[t]), *b = dget(res[1][t], n[t]);
        if (tol > 0.0f) {
            float e = max_rel_diff(b, a, (long)n[t], 1e-6f);
            err = e > err ? e : err;
        } else {
            same &= !memcmp(a, b, n[t] * sizeof(float));
        }
        free(a), free(b);
    }
    same &= err <= tol;
    if (!replayed) printf("  %-56s no graphs here: not checked\n", name);
    else if (tol > 0.0f) printf("  %-56s replay = eager, rel err %.3g (tol %.0e)\n", name, err, tol);
    else printf("  %-56s %s\n", name, same ? "replay = eager bits" : "DIFFER");
    CHECK(!replayed || same, "%s: the captured path gives other results than the eager one", name);
    for (int rep = 0; rep < 2; rep++)
        for (int t = 0; t < 4; t++) cuda_free(res[rep][t]);
    free(hq), free(hk), free(hv), free(hg);
    cuda_free(q), cuda_free(k), cuda_free(v), cuda_free(g), cuda_free(ds), cuda_free(dl);
}

static void test_layouts(void) {
    printf("packed causal batches (GEMMs)\n");
    int lens[6] = {9, 1, 40, 17, 1, 33};
    layout L = packed("6 seqs 9,1,40,17,1,33", 6, lens, NULL);
    check_case(&L, (heads){4, 1, 64}, 1, 0, 1);   // GQA 4:1
    check_case(&L, (heads){2, 2, 128}, 1, 0, 0);  // MHA
    check_case(&L, (heads){7, 1, 16}, 1, 1, 0);   // GQA 7:1 (Qwen2.5-0.5B's), dq not wanted
    check_case(&L, (heads){2, 1, 16}, 1, 2, 0);   // dk, dv not wanted
    check_case(&L, (heads){2, 1, 10}, 1, 0, 0);   // head_dim not a multiple of 4: one float per access
    layout_free(&L);
    int lens2[3] = {20, 33, 12}, first[3] = {5, 1, 17};
    layout O = packed("3 seqs after 4,0,16 earlier keys", 3, lens2, first);
    check_case(&O, (heads){2, 1, 64}, 1, 0, 0);
    layout_free(&O);
    // shared prompts (model/engine.c expand_kv): members' queries over an expanded key array where each member's
    // region is a copy of its prompt's 19 or 16 rows, then its own; the last member is alone (no prompt rows)
    int mlen[6] = {7, 10, 6, 8, 5, 26}, mfirst[6] = {20, 20, 17, 20, 17, 1};
    layout E = packed("members after shared prompts 19,16", 6, mlen, mfirst);
    check_case(&E, (heads){4, 2, 16}, 1, 0, 1);
    check_case(&E, (heads){4, 1, 64}, 1, 0, 0);
    attention_gemm_set_budget(40 << 10);  // row blocks of a member: each sees its prompt's rows and more
    attention_gemm_plan_info ei;
    attention_gemm_plan(&ei, E.start, E.len, E.N, 4, 1, 64, MG_F32);
    CHECK(ei.units > 6, "members after shared prompts, budget 40 KB: only %d chunks", ei.units);
    E.name = "members after shared prompts 19,16, budget 40 KB";
    check_case(&E, (heads){4, 1, 64}, 1, 0, 0);
    attention_gemm_set_budget(0);
    layout_free(&E);
    int slen[6] = {2, 2, 2, 2, 2, 5};  // runs too short for the GEMMs: the tiled kernels on the expanded keys
    layout T = packed("short members after shared prompts 19,16", 6, slen, mfirst);
    check_case(&T, (heads){4, 2, 16}, 0, 0, 1);
    layout_free(&T);

    printf("a small budget: chunks split by sequences, heads and query rows\n");
    int lens3[4] = {37, 64, 8, 90};
    layout S = packed("4 seqs 37,64,8,90", 4, lens3, NULL);
    heads h = {4, 2, 64};
    size_t budgets[2] = {300 << 10, 130 << 10};
    for (int b = 0; b < 2; b++) {
        attention_gemm_set_budget(budgets[b]);
        attention_gemm_plan_info info, info16;
        attention_gemm_plan(&info, S.start, S.len, S.N, h.Hq, h.Hkv, h.D, MG_F32);
        attention_gemm_plan(&info16, S.start, S.len, S.N, h.Hq, h.Hkv, h.D, MG_BF16);
        printf("  budget %zu KB: %d chunks (fp32), %d (bf16); largest %zu / %zu KB\n", budgets[b] >> 10, info.units,
               info16.units, info.scratch_bytes >> 10, info16.scratch_bytes >> 10);
        CHECK(info.units > 4 && info16.units > 4, "budget %zu: only %d chunks", budgets[b], info.units);
        CHECK(info.scratch_bytes <= budgets[b] && info16.scratch_bytes <= budgets[b], "budget %zu exceeded",
              budgets[b]);
        char name[64];
        snprintf(name, sizeof name, "%s, budget %zu KB", S.name, budgets[b] >> 10);
        S.name = name;
        check_case(&S, h, 1, 0, 1);
        S.name = "4 seqs 37,64,8,90";
    }
    attention_gemm_set_budget(0);
    layout_free(&S);

    printf("other layouts (tiled kernels)\n");
    // bidirectional: every query of a sequence sees the whole sequence
    int bs[40], bl[40];
    for (int i = 0; i < 40; i++) bs[i] = i < 25 ? 0 : 25, bl[i] = i < 25 ? 25 : 15;
    layout B = {"bidirectional 25+15", 40, 40, bs, bl};
    check_case(&B, (heads){4, 2, 32}, 0, 0, 0);
    // decoding: one query per cache slot, slots in falling order
    int rs[5], rl[5] = {64, 5, 70, 33, 1};
    for (int i = 0; i < 5; i++) rs[i] = (4 - i) * 70;
    layout R = {"decode, slots in falling order", 5, 350, rs, rl};
    check_case(&R, (heads){4, 2, 16}, 0, 0, 0);
    // causal runs whose key ranges overlap (two sequences over one key buffer)
    int os[24], ol[24];
    for (int i = 0; i < 24; i++) os[i] = 0, ol[i] = i < 12 ? i + 1 : i - 11;
    layout V = {"two runs over the same keys", 24, 12, os, ol};
    check_case(&V, (heads){4, 2, 16}, 0, 0, 0);
}

// Last: its random inputs would shift every later case's (one generator stream per hrand call).
static void test_capture(void) {
    printf("the GEMMs wait for nothing (a graph capture of forward and backward)\n");
    int lens[6] = {9, 1, 40, 17, 1, 33};
    layout L = packed("6 seqs 9,1,40,17,1,33", 6, lens, NULL);
    check_capturable(&L, (heads){4, 1, 64}, MG_F32, VIA_GEMM, 0.0f);
    check_capturable(&L, (heads){4, 1, 64}, MG_BF16, VIA_GEMM, 0.0f);
    printf("nor do the tiled kernels: their backward picks and sizes its kernels from the host's layout\n");
    check_capturable(&L, (heads){4, 1, 64}, MG_F32, VIA_TILED, 0.0f);
    layout_free(&L);
    int bs[40], bl[40];  // layouts the GEMMs do not take, through the table's entries
    for (int i = 0; i < 40; i++) bs[i] = i < 25 ? 0 : 25, bl[i] = i < 25 ? 25 : 15;
    layout B = {"bidirectional 25+15", 40, 40, bs, bl};
    check_capturable(&B, (heads){4, 2, 32}, MG_BF16, VIA_TABLE, 0.0f);
    int rs[5], rl[5] = {64, 5, 70, 33, 1};
    for (int i = 0; i < 5; i++) rs[i] = (4 - i) * 70;
    layout R = {"decode, slots in falling order", 5, 350, rs, rl};
    check_capturable(&R, (heads){4, 2, 16}, MG_F32, VIA_TABLE, 1e-6f);
}

// Scratch bounds and counts of the plan alone (host arrays, nothing run).
static void test_plan(void) {
    printf("plans (nothing run)\n");
    static const struct {
        const char *name;
        int n, len;
        heads h;
        size_t bound;
    } cases[] = {
        {"Llama-3.2-1B heads, 16 x 512", 16, 512, {32, 8, 64}, (size_t)256 << 20},
        {"Qwen2.5-0.5B heads, 16 x 512", 16, 512, {14, 2, 64}, (size_t)256 << 20},
        {"Llama-3.2-1B heads, 16 x 4096", 16, 4096, {32, 8, 64}, (size_t)256 << 20},
        {"Llama-3.2-1B heads, 1 x 32768", 1, 32768, {32, 8, 64}, (size_t)256 << 20},
        {"head_dim 128, 4 x 16384", 4, 16384, {32, 8, 128}, (size_t)256 << 20},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int lens[16];
        for (int s = 0; s < cases[c].n; s++) lens[s] = cases[c].len;
        layout L = packed(cases[c].name, cases[c].n, lens, NULL);
        heads h = cases[c].h;
        for (int bf = 1; bf >= 0; bf--) {
            attention_gemm_plan_info in;
            attention_gemm_plan(&in, L.start, L.len, L.N, h.Hq, h.Hkv, h.D, bf ? MG_BF16 : MG_F32);
            printf("  %-34s %s: %d chunks, scratch %.0f MB, per layer fwd %.1f GFLOP / %d launches, bwd %.1f "
                   "GFLOP / %d launches\n",
                   L.name, bf ? "bf16" : "fp32", in.units, in.scratch_bytes / 1048576.0, in.flops_fwd / 1e9,
                   in.launches_fwd, in.flops_bwd / 1e9, in.launches_bwd);
            CHECK(in.taken && in.scratch_bytes <= cases[c].bound, "%s: scratch %zu above %zu", L.name,
                  in.scratch_bytes, cases[c].bound);
        }
        layout_free(&L);
    }
}

int main(void) {
    test_plan();
    int rc = gpu_test_start("test_attention_gemm", "");
    if (rc) return rc;
    test_layouts();
    test_capture();
    cuda_shutdown();
    return test_summary("test_attention_gemm");
}
