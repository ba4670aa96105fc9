// The CPU attention op's two paths against each other: the GEMM path for causal blocks (kernels/cpu/
// attention_gemm.c) and the pairwise code (kernels/cpu/attention.c) that handles every other token.
//  1. Packed causal batches, several shapes (GQA, MHA, MQA, an odd head dim), sequences of different lengths,
//     length 1, and blocks of several GEMM chunks of query rows (64, attention_gemm.c): attention_forward and
//     attention_backward (dq, dk, dv) against attention_forward_pairwise / attention_backward_pairwise.
//     Tolerance 1e-5, as max|gemm - pairwise| / max(max|pairwise|, 1e-3): the same math summed in other orders,
//     whose fp32 rounding over sums of at most a few hundred terms is ~1e-6 of the scale; a wrong mask, head or
//     scale is off by O(1). Also, bit for bit: the dispatcher took the GEMM path (its results are
//     attention_*_blocks'), a NULL gradient leaves the others unchanged, and 1, 2 or 3 threads give the same bits.
//  2. A call mixing blocks and odd ranges: the odd tokens get the pairwise code's bits, the rest the tolerance.
//  3. Decode-like ranges (KV-cache slots): no blocks, so the dispatcher IS the pairwise code, bit for bit, forward
//     and backward. A prefill into slot 0 from token 0 does look like a block, which is why model/step.c calls
//     attention_forward_pairwise itself.
// (tests/unit/test_ops_forward.c and test_ops_gradcheck.c check both paths against double-precision references.)
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "kernels/cpu/attention_gemm.h"
#include "kernels/ops.h"
#include "testing.h"

#define TOL 1e-5f

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float *rand_array(long n, float scale) { return rand_uniform_array(&g_rng, n, scale); }
static float *copy_of(const float *a, long n) {
    float *c = mallocCheck((size_t)(n > 0 ? n : 1) * sizeof(float));
    memcpy(c, a, (size_t)n * sizeof(float));
    return c;
}
static int same_bits(const float *a, const float *b, long n) { return !memcmp(a, b, (size_t)n * sizeof(float)); }

// One call's inputs: N queries (N, Hq, D), rows of keys and values (rows, Hkv, D), ranges, dout, and a prefill of
// the gradients (backwards accumulate, so both paths start from the same nonzero values).
typedef struct {
    const char *name;
    int N, rows, Hq, Hkv, D;
    int *start, *len;
    float *q, *k, *v, *dout, *pre_q, *pre_kv[2];
} Case;

static void fill(Case *c) {
    long nq = (long)c->N * c->Hq * c->D, nkv = (long)c->rows * c->Hkv * c->D;
    c->q = rand_array(nq, 2.0f);  // scores ~ +-2 or more: softmaxes far from uniform
    c->k = rand_array(nkv, 1.0f);
    c->v = rand_array(nkv, 1.0f);
    c->dout = rand_array(nq, 1.0f);
    c->pre_q = rand_array(nq, 0.01f);
    c->pre_kv[0] = rand_array(nkv, 0.01f);
    c->pre_kv[1] = rand_array(nkv, 0.01f);
}

// A packed training batch: sequences of the given lengths end to end, each token seeing its sequence up to itself.
static Case packed(const char *name, const int *lens, int nseq, int Hq, int Hkv, int D) {
    Case c = {.name = name, .Hq = Hq, .Hkv = Hkv, .D = D};
    for (int s = 0; s < nseq; s++) c.N += lens[s];
    c.rows = c.N;
    c.start = mallocCheck((size_t)c.N * sizeof(int));
    c.len = mallocCheck((size_t)c.N * sizeof(int));
    for (int s = 0, i = 0, at = 0; s < nseq; at += lens[s++])
        for (int t = 0; t < lens[s]; t++, i++) c.start[i] = at, c.len[i] = t + 1;
    fill(&c);
    return c;
}

static Case ranges(const char *name, const int *start, const int *len, int N, int rows, int Hq, int Hkv, int D) {
    Case c = {.name = name, .N = N, .rows = rows, .Hq = Hq, .Hkv = Hkv, .D = D};
    c.start = mallocCheck((size_t)N * sizeof(int));
    c.len = mallocCheck((size_t)N * sizeof(int));
    memcpy(c.start, start, (size_t)N * sizeof(int));
    memcpy(c.len, len, (size_t)N * sizeof(int));
    fill(&c);
    return c;
}

static void case_free(Case *c) {
    free(c->start), free(c->len), free(c->q), free(c->k), free(c->v), free(c->dout), free(c->pre_q);
    free(c->pre_kv[0]), free(c->pre_kv[1]);
}

// The results of one path: out, and dq, dk, dv after accumulating onto the prefill.
typedef struct {
    float *out, *g[3];
} Result;
enum { PATH_DISPATCH, PATH_PAIRWISE, PATH_BLOCKS, PATH_TRAIN };

// want: bit 0 dq, 1 dk, 2 dv (the others are passed as NULL and come back as the prefill).
static Result run(const Case *c, int path, int want) {
    long nq = (long)c->N * c->Hq * c->D, nkv = (long)c->rows * c->Hkv * c->D;
    int maxlen = 1;
    for (int i = 0; i < c->N; i++) maxlen = c->len[i] > maxlen ? c->len[i] : maxlen;
    float *scratch = rand_array((long)attention_scratch_floats(maxlen), 1e3f);  // junk: owed no contents
    Result r = {rand_array(nq, 1e3f), {copy_of(c->pre_q, nq), copy_of(c->pre_kv[0], nkv), copy_of(c->pre_kv[1], nkv)}};
    float *dq = want & 1 ? r.g[0] : NULL, *dk = want & 2 ? r.g[1] : NULL, *dv = want & 4 ? r.g[2] : NULL;
    if (path == PATH_DISPATCH) {
        attention_forward(r.out, c->q, c->k, c->v, c->start, c->len, c->N, c->Hq, c->Hkv, c->D, scratch);
        attention_backward(dq, dk, dv, c->dout, c->q, c->k, c->v, c->start, c->len, c->N, c->Hq, c->Hkv, c->D,
                           scratch);
    } else if (path == PATH_TRAIN) {
        attention_forward_train(r.out, c->q, c->k, c->v, c->start, c->len, c->N, c->Hq, c->Hkv, c->D, scratch);
        attention_backward_train(dq, dk, dv, c->dout, c->q, c->k, c->v, c->start, c->len, c->N, c->Hq, c->Hkv, c->D,
                                 scratch);
    } else if (path == PATH_PAIRWISE) {
        attention_forward_pairwise(r.out, c->q, c->k, c->v, c->start, c->len, c->N, c->Hq, c->Hkv, c->D, scratch);
        attention_backward_pairwise(dq, dk, dv, c->dout, c->q, c->k, c->v, c->start, c->len, c->N, c->Hq, c->Hkv,
                                    c->D, scratch);
    } else {
        attention_block *blocks = mallocCheck((size_t)c->N * sizeof *blocks);
        unsigned char *in_block = mallocCheck((size_t)c->N);
        int nb = attention_find_blocks(blocks, in_block, c->start, c->len, c->N, 0);
        attention_forward_blocks(r.out, c->q, c->k, c->v, blocks, nb, c->Hq, c->Hkv, c->D);
        attention_backward_blocks(dq, dk, dv, c->dout, c->q, c->k, c->v, blocks, nb, c->Hq, c->Hkv, c->D);
        free(blocks), free(in_block);
    }
    free(scratch);
    return r;
}
static void result_free(Result *r) { free(r->out), free(r->g[0]), free(r->g[1]), free(r->g[2]); }

static const char *gname[3] = {"dq", "dk", "dv"};

// All of a, b's values bit for bit (n: out's count, then the gradients').
static int same_result(const Case *c, const Result *a, const Result *b) {
    long nq = (long)c->N * c->Hq * c->D, nkv = (long)c->rows * c->Hkv * c->D;
    return same_bits(a->out, b->out, nq) && same_bits(a->g[0], b->g[0], nq) && same_bits(a->g[1], b->g[1], nkv) &&
           same_bits(a->g[2], b->g[2], nkv);
}

static int count_blocks(const Case *c, int *tokens) {
    attention_block *blocks = mallocCheck((size_t)c->N * sizeof *blocks);
    unsigned char *in_block = mallocCheck((size_t)c->N);
    int nb = attention_find_blocks(blocks, in_block, c->start, c->len, c->N, 0);
    *tokens = 0;
    for (int i = 0; i < c->N; i++) *tokens += in_block[i];
    free(blocks), free(in_block);
    return nb;
}

// 1. A packed causal batch: every token in a block.
static void check_packed(const int *lens, int nseq, int Hq, int Hkv, int D) {
    char name[160];
    int n = snprintf(name, sizeof name, "Hq=%d Hkv=%d D=%d lengths", Hq, Hkv, D);
    for (int s = 0; s < nseq && n < (int)sizeof name - 8; s++) n += snprintf(name + n, sizeof name - n, " %d", lens[s]);
    Case c = packed(name, lens, nseq, Hq, Hkv, D);
    long nq = (long)c.N * Hq * D, nkv = (long)c.rows * Hkv * D;
    int tokens, nb = count_blocks(&c, &tokens);
    CHECK(nb == nseq && tokens == c.N, "%s: %d blocks over %d tokens, expected %d over %d", name, nb, tokens, nseq,
          c.N);

    Result gemm = run(&c, PATH_DISPATCH, 7), pair = run(&c, PATH_PAIRWISE, 7), blocks = run(&c, PATH_BLOCKS, 7);
    float err[4] = {max_rel_diff(gemm.out, pair.out, nq, 1e-3f), max_rel_diff(gemm.g[0], pair.g[0], nq, 1e-3f),
                    max_rel_diff(gemm.g[1], pair.g[1], nkv, 1e-3f), max_rel_diff(gemm.g[2], pair.g[2], nkv, 1e-3f)};
    printf("  %-52s out %.1e  dq %.1e  dk %.1e  dv %.1e\n", name, err[0], err[1], err[2], err[3]);
    for (int t = 0; t < 4; t++)
        CHECK(err[t] <= TOL, "%s: %s differs from the pairwise code by %.3e", name, t ? gname[t - 1] : "out", err[t]);
    CHECK(same_result(&c, &gemm, &blocks), "%s: attention_forward/backward did not take the GEMM path", name);

    // NULL gradients: each gradient alone is the same bits as with all three.
    for (int g = 0; g < 3; g++) {
        Result one = run(&c, PATH_DISPATCH, 1 << g);
        long n = g ? nkv : nq;
        CHECK(same_bits(one.g[g], gemm.g[g], n), "%s: %s alone differs from %s with the others", name, gname[g],
              gname[g]);
        for (int o = 0; o < 3; o++)
            if (o != g)
                CHECK(same_bits(one.g[o], o ? c.pre_kv[o - 1] : c.pre_q, o ? nkv : nq), "%s: NULL %s was written",
                      name, gname[o]);
        result_free(&one);
    }

    // Thread count: the same bits with 1, 2 and 3 threads (the work items and BLAS calls must not depend on it).
    int threads = omp_get_max_threads();
    for (int t = 1; t <= 3; t++) {
        omp_set_num_threads(t);
        Result r = run(&c, PATH_DISPATCH, 7);
        CHECK(same_result(&c, &r, &gemm), "%s: %d threads give other bits than %d", name, t, threads);
        result_free(&r);
    }
    omp_set_num_threads(threads);
    result_free(&gemm), result_free(&pair), result_free(&blocks);
    case_free(&c);
}

// 2. Blocks [0, 3), [4, 6), [6, 7) and odd tokens 3 (rows 0..1, inside the first block's rows) and 7 (rows 2..6).
static void check_mixed(void) {
    static const int start[] = {0, 0, 0, 0, 4, 4, 6, 2}, len[] = {1, 2, 3, 2, 1, 2, 1, 5};
    int N = 8, Hq = 6, Hkv = 3, D = 16;
    Case c = ranges("mixed: 3 blocks and 2 odd ranges", start, len, N, N, Hq, Hkv, D);
    long nq = (long)N * Hq * D, nkv = (long)N * Hkv * D;
    int tokens, nb = count_blocks(&c, &tokens);
    CHECK(nb == 3 && tokens == 6, "mixed: %d blocks over %d tokens, expected 3 over 6", nb, tokens);
    Result mix = run(&c, PATH_DISPATCH, 7), pair = run(&c, PATH_PAIRWISE, 7);
    float err[4] = {max_rel_diff(mix.out, pair.out, nq, 1e-3f), max_rel_diff(mix.g[0], pair.g[0], nq, 1e-3f),
                    max_rel_diff(mix.g[1], pair.g[1], nkv, 1e-3f), max_rel_diff(mix.g[2], pair.g[2], nkv, 1e-3f)};
    printf("  %-52s out %.1e  dq %.1e  dk %.1e  dv %.1e\n", c.name, err[0], err[1], err[2], err[3]);
    for (int t = 0; t < 4; t++)
        CHECK(err[t] <= TOL, "mixed: %s differs from the pairwise code by %.3e", t ? gname[t - 1] : "out", err[t]);
    for (int i = 3; i < N; i += 4) {  // tokens 3 and 7
        long at = (long)i * Hq * D;
        CHECK(same_bits(mix.out + at, pair.out + at, (long)Hq * D), "mixed: odd token %d is not the pairwise bits", i);
        CHECK(same_bits(mix.g[0] + at, pair.g[0] + at, (long)Hq * D), "mixed: odd token %d's dq is not pairwise", i);
    }
    result_free(&mix), result_free(&pair);
    case_free(&c);
}

// 3. A KV cache of 3 slots x 8 rows: decode (one token per slot), a prefill of 4 tokens into slot 1, and both
// mixed; the dispatcher must be the pairwise code bit for bit. Then a prefill into slot 0 from token 0.
static void check_decode(void) {
    enum { SLOT = 8, SLOTS = 3 };
    static const int dec_start[] = {0, 8, 16}, dec_len[] = {5, 1, 8};
    static const int pre_start[] = {8, 8, 8, 8}, pre_len[] = {1, 2, 3, 4};
    static const int mix_start[] = {16, 8, 8, 8, 0}, mix_len[] = {3, 1, 2, 3, 7};
    struct {
        const char *name;
        const int *start, *len;
        int N;
    } cases[] = {{"decode: one token per slot", dec_start, dec_len, 3},
                 {"prefill of 4 tokens into slot 1", pre_start, pre_len, 4},
                 {"prefill and decode in one call", mix_start, mix_len, 5}};
    for (int k = 0; k < 3; k++) {
        Case c = ranges(cases[k].name, cases[k].start, cases[k].len, cases[k].N, SLOT * SLOTS, 4, 2, 64);
        int tokens, nb = count_blocks(&c, &tokens);
        Result d = run(&c, PATH_DISPATCH, 7), p = run(&c, PATH_PAIRWISE, 7);
        int same = same_result(&c, &d, &p);
        printf("  %-52s %d blocks, dispatcher = pairwise bits: %s\n", c.name, nb, same ? "yes" : "NO");
        CHECK(nb == 0, "%s: %d blocks found in decode ranges", c.name, nb);
        CHECK(same, "%s: the dispatcher's bits differ from the pairwise code's", c.name);
        result_free(&d), result_free(&p);
        case_free(&c);
    }
    static const int s0_start[] = {0, 0, 0}, s0_len[] = {1, 2, 3};
    Case c = ranges("prefill into slot 0", s0_start, s0_len, 3, SLOT * SLOTS, 4, 2, 64);
    int tokens, nb = count_blocks(&c, &tokens);
    CHECK(nb == 1 && tokens == 3, "a prefill into slot 0 from token 0 is a block (%d, %d tokens)", nb, tokens);
    case_free(&c);
}

// 4. Shared prompts' members over expanded keys (model/engine.c expand_kv): member j's queries attend to its region
// of the key rows, pre_j copied prompt rows then its own, so token t of it sees pre_j + t + 1 keys. The training ops
// take each member as a block (GEMMs over pre + L keys); a last token whose keys overlap a block's goes pairwise.
static void check_expanded(void) {
    enum { M = 4, Hq = 6, Hkv = 2, D = 32 };
    static const int pre[M] = {19, 0, 70, 5}, len[M] = {7, 3, 90, 1};  // 90 rows: two chunks after 70 keys
    int N = 1, rows = 0;
    for (int j = 0; j < M; j++) N += len[j], rows += pre[j] + len[j];
    int *start = mallocCheck((size_t)N * sizeof(int)), *klen = mallocCheck((size_t)N * sizeof(int));
    for (int j = 0, i = 0, region = 0; j < M; region += pre[j] + len[j], j++)
        for (int t = 0; t < len[j]; t++, i++) start[i] = region, klen[i] = pre[j] + t + 1;
    start[N - 1] = 3, klen[N - 1] = 40;  // over the first two regions: not a block
    Case c = ranges("shared-prompt members over expanded keys", start, klen, N, rows, Hq, Hkv, D);
    free(start), free(klen);
    long nq = (long)N * Hq * D, nkv = (long)rows * Hkv * D;
    attention_block *blocks = mallocCheck((size_t)N * sizeof *blocks);
    unsigned char *in_block = mallocCheck((size_t)N);
    int nb_own = attention_find_blocks(blocks, in_block, c.start, c.len, N, 0);
    int nb = attention_find_blocks(blocks, in_block, c.start, c.len, N, 1), tokens = 0;
    for (int i = 0; i < N; i++) tokens += in_block[i];
    CHECK(nb_own == 0, "expanded: %d own-row blocks found", nb_own);
    CHECK(nb == M && tokens == N - 1 && blocks[2].pre == 70 && blocks[2].kstart == 19 + 7 + 3,
          "expanded: %d blocks over %d tokens (want %d over %d), block 2 keys at %d, pre %d", nb, tokens, M, N - 1,
          blocks[2].kstart, blocks[2].pre);
    free(blocks), free(in_block);
    Result tr = run(&c, PATH_TRAIN, 7), pair = run(&c, PATH_PAIRWISE, 7), plain = run(&c, PATH_DISPATCH, 7);
    float err[4] = {max_rel_diff(tr.out, pair.out, nq, 1e-3f), max_rel_diff(tr.g[0], pair.g[0], nq, 1e-3f),
                    max_rel_diff(tr.g[1], pair.g[1], nkv, 1e-3f), max_rel_diff(tr.g[2], pair.g[2], nkv, 1e-3f)};
    printf("  %-52s out %.1e  dq %.1e  dk %.1e  dv %.1e\n", c.name, err[0], err[1], err[2], err[3]);
    for (int t = 0; t < 4; t++)
        CHECK(err[t] <= TOL, "expanded: %s differs from the pairwise code by %.3e", t ? gname[t - 1] : "out", err[t]);
    CHECK(!same_result(&c, &tr, &pair), "expanded: the training ops gave the pairwise bits (no GEMM taken)");
    CHECK(same_result(&c, &plain, &pair), "expanded: attention_forward took blocks it must leave to the pairwise code");
    int threads = omp_get_max_threads();
    for (int t = 1; t <= 3; t++) {
        omp_set_num_threads(t);
        Result r = run(&c, PATH_TRAIN, 7);
        CHECK(same_result(&c, &r, &tr), "expanded: %d threads give other bits than %d", t, threads);
        result_free(&r);
    }
    omp_set_num_threads(threads);
    result_free(&tr), result_free(&pair), result_free(&plain);
    case_free(&c);
}

int main(void) {
    printf("GEMM path vs pairwise (tolerance %.0e)\n", TOL);
    {
        int lens[] = {96, 1, 37, 130, 5};  // 96 and 130: two and three chunks of query rows
        check_packed(lens, 5, 6, 2, 64);   // the benchmark's heads (GQA, 3 per KV head)
    }
    {
        int lens[] = {1, 1, 3, 2};
        check_packed(lens, 4, 4, 4, 8);  // MHA, sequences of length 1
    }
    {
        int lens[] = {300};
        check_packed(lens, 1, 8, 1, 16);  // MQA, five chunks (4 x 64 + 44)
    }
    {
        int lens[] = {1};
        check_packed(lens, 1, 2, 1, 3);  // one token, odd D
    }
    {
        int lens[] = {17, 64, 9};
        check_packed(lens, 3, 2, 2, 128);  // D = 128
    }
    printf("mixed call\n");
    check_mixed();
    printf("decode-like ranges\n");
    check_decode();
    printf("shared prompts (training ops)\n");
    check_expanded();
    return test_summary("test_ops_attention");
}
