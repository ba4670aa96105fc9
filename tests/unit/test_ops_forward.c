// Forward ops of kernels/ops.h against naive double-precision references written here from the header contract
// (and, for rope and AdamW, from the Hugging Face / PyTorch formulas the header names).
//
// Tolerance 1e-5 relative, measured as max|kernel - reference| / max(max|reference|, 1e-3): the kernels compute
// in fp32, whose rounding over the short sums used here is ~1e-7..1e-6 of the output scale, so 1e-5 passes any
// sound fp32 implementation and fails any wrong formula. Exceptions, each explained where it is checked: elementwise
// ops must be exact, and sumsq (documented as accumulating in double) is held to 1e-9.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "kernels/ops.h"
#include "testing.h"

#define TOL 1e-5

// ---- deterministic inputs (splitmix64) ----
static uint64_t g_rng = 0x853C49E6748FEA9Bull;
static double urand(void) {  // [0, 1)
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}
static float *rand_array(long n, float scale) {  // uniform in [-scale, scale)
    float *a = callocCheck((size_t)n, sizeof(float));
    for (long i = 0; i < n; i++) a[i] = (float)((2.0 * urand() - 1.0) * scale);
    return a;
}
static float *garbage(long n) {  // outputs start as junk: forwards must overwrite, not accumulate
    float *a = callocCheck((size_t)n, sizeof(float));
    for (long i = 0; i < n; i++) a[i] = (float)(1e3 * (urand() - 0.5));
    return a;
}
static double *dzeros(long n) { return callocCheck((size_t)n, sizeof(double)); }

// max|got - ref| / max(max|ref|, 1e-3); NaN counts as infinitely wrong.
static double rel_err(const float *got, const double *ref, long n) {
    double scale = 1e-3, worst = 0.0;
    for (long i = 0; i < n; i++)
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    for (long i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
    }
    return worst / scale;
}
static void report(const char *what, double err, double tol) {
    printf("  %-44s %.2e\n", what, err);
    CHECK(err <= tol, "%s: rel err %.3e > %.0e", what, err, tol);
}
static double dot_fd(const float *a, const float *b, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

// ---- encoder, elementwise: exact (a copy or one IEEE operation per element) ----
static void check_encoder_elementwise(void) {
    printf("encoder / elementwise\n");
    static const int tokens[] = {4, 0, 4, 2, 1};
    int N = 5, C = 7, V = 6;
    float *wte = rand_array(V * C, 1.0f), *out = garbage(N * C);
    encoder_forward(out, tokens, wte, N, C);
    int same = 1;
    for (int i = 0; i < N; i++) same &= memcmp(out + i * C, wte + tokens[i] * C, sizeof(float) * C) == 0;
    CHECK(same, "encoder_forward: out rows are not exactly wte[tokens]");
    printf("  %-44s %s\n", "encoder_forward exact", same ? "yes" : "NO");
    free(wte);
    free(out);

    size_t n = 1001;
    float *a = rand_array((long)n, 1.0f), *b = rand_array((long)n, 1.0f), *o = garbage((long)n);
    float *acc = rand_array((long)n, 1.0f), *acc0 = callocCheck(n, sizeof(float));
    memcpy(acc0, acc, n * sizeof(float));
    residual_forward(o, a, b, n);
    add_inplace(acc, a, n);
    int res_ok = 1, add_ok = 1, scale_ok = 1;
    for (size_t i = 0; i < n; i++) {
        res_ok &= o[i] == a[i] + b[i];
        add_ok &= acc[i] == acc0[i] + a[i];
    }
    float *c = rand_array((long)n, 1.0f), *c0 = callocCheck(n, sizeof(float));
    memcpy(c0, c, n * sizeof(float));
    scale_inplace(c, -0.37f, n);
    for (size_t i = 0; i < n; i++) scale_ok &= c[i] == c0[i] * -0.37f;
    CHECK(res_ok, "residual_forward: out != a + b exactly");
    CHECK(add_ok, "add_inplace: acc != acc + x exactly");
    CHECK(scale_ok, "scale_inplace: x != x * s exactly");
    printf("  %-44s %s\n", "residual_forward/add_inplace/scale_inplace", res_ok && add_ok && scale_ok ? "exact" : "NO");
    free(a);
    free(b);
    free(o);
    free(acc);
    free(acc0);
    free(c);
    free(c0);
}

// ---- rmsnorm ----
static void check_rmsnorm(void) {
    printf("rmsnorm\n");
    int N = 5, C = 13;
    float eps = 1e-5f;
    float *inp = rand_array(N * C, 1.0f), *w = rand_array(C, 1.0f);
    for (int j = 0; j < C; j++) inp[2 * C + j] = 0.0f;   // all-zero row: rstd = 1/sqrt(eps), out = 0
    for (int j = 0; j < C; j++) inp[4 * C + j] *= 50.0f;  // large row
    float *out = garbage(N * C), *rstd = garbage(N);
    rmsnorm_forward(out, rstd, inp, w, N, C, eps);
    double *ref = dzeros(N * C), *ref_rstd = dzeros(N);
    for (int i = 0; i < N; i++) {
        double ms = 0.0;
        for (int j = 0; j < C; j++) ms += (double)inp[i * C + j] * inp[i * C + j];
        ref_rstd[i] = 1.0 / sqrt(ms / C + eps);
        for (int j = 0; j < C; j++) ref[i * C + j] = inp[i * C + j] * ref_rstd[i] * w[j];
    }
    report("rmsnorm out (N=5, C=13, zero row, large row)", rel_err(out, ref, N * C), TOL);
    report("rmsnorm rstd", rel_err(rstd, ref_rstd, N), TOL);
    free(inp), free(w), free(out), free(rstd), free(ref), free(ref_rstd);
}

// ---- matmul ----
static void check_matmul_case(int N, int IC, int OC, int with_bias) {
    float *inp = rand_array(N * IC, 1.0f), *w = rand_array(OC * IC, 1.0f);
    float *bias = with_bias ? rand_array(OC, 1.0f) : NULL, *out = garbage(N * OC);
    matmul_forward(out, inp, w, bias, N, IC, OC);
    double *ref = dzeros(N * OC);
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) ref[i * OC + o] = (bias ? bias[o] : 0.0) + dot_fd(inp + i * IC, w + o * IC, IC);
    char what[96];
    snprintf(what, sizeof what, "matmul N=%d IC=%d OC=%d %s", N, IC, OC, with_bias ? "+bias" : "no bias");
    report(what, rel_err(out, ref, N * OC), TOL);
    free(inp), free(w), free(bias), free(out), free(ref);
}

// ---- lora: out += scale * (inp @ A^T) @ B^T, h = inp @ A^T ----
static void check_lora(void) {
    printf("lora\n");
    int N = 6, IC = 13, OC = 9, R = 4;
    float scale = 32.0f / R;
    float *inp = rand_array(N * IC, 1.0f), *A = rand_array(R * IC, 0.5f), *B = rand_array(OC * R, 0.5f);
    float *out = rand_array(N * OC, 1.0f), *h = garbage(N * R);
    double *ref = dzeros(N * OC), *ref_h = dzeros(N * R);
    for (int i = 0; i < N * OC; i++) ref[i] = out[i];  // "+=": the base layer's output is already there
    for (int i = 0; i < N; i++) {
        for (int r = 0; r < R; r++) ref_h[i * R + r] = dot_fd(inp + i * IC, A + r * IC, IC);
        for (int o = 0; o < OC; o++) {
            double s = 0.0;
            for (int r = 0; r < R; r++) s += ref_h[i * R + r] * B[o * R + r];
            ref[i * OC + o] += scale * s;
        }
    }
    lora_forward(out, h, inp, A, B, N, IC, OC, OC, R, scale);
    report("lora out (+= onto the base output)", rel_err(out, ref, N * OC), TOL);
    report("lora h = inp @ A^T", rel_err(h, ref_h, N * R), TOL);
    free(inp), free(A), free(B), free(out), free(h), free(ref), free(ref_h);
}

// ---- batch-invariant forms: the right values, each row bit-identical whatever rows are beside it, and the
// AVX-512 code bit-identical to the portable definition ----
static void check_invariant_gemm(void) {
    printf("matmul / lora, batch-invariant\n");
    int N = 37, IC = 29, OC = 23, R = 4;  // several 4x4 tiles, and edges in every direction
    float *inp = rand_array(N * IC, 1.0f), *w = rand_array(OC * IC, 1.0f), *bias = rand_array(OC, 1.0f);
    float *A = rand_array(R * IC, 0.5f), *B = rand_array(OC * R, 0.5f), scale = 2.0f;
    float *all = garbage(N * OC), *h = garbage(N * R), *part = garbage(N * OC), *hp = garbage(N * R);
    double *ref = dzeros(N * OC);
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) ref[i * OC + o] = bias[o] + dot_fd(inp + i * IC, w + o * IC, IC);
    matmul_forward_invariant(all, inp, w, bias, N, IC, OC);
    report("matmul_forward_invariant N=37 IC=29 OC=23", rel_err(all, ref, N * OC), TOL);
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double s = 0.0;
            for (int r = 0; r < R; r++) s += dot_fd(inp + i * IC, A + r * IC, IC) * B[o * R + r];
            ref[i * OC + o] += scale * s;
        }
    lora_forward_invariant(all, h, inp, A, B, N, IC, OC, OC, R, scale);
    report("lora_forward_invariant (+= onto the base output)", rel_err(all, ref, N * OC), TOL);
    // Rows r0.. alone: every position inside a 4-row tile, and a single row (the batch-1 decode).
    static const int starts[] = {5, 30, 36, 16, 0, 1, 2, 3, 34};
    int worst = 0;
    for (int k = 0; k < (int)(sizeof starts / sizeof *starts); k++) {
        int r0 = starts[k], n = N - r0;
        matmul_forward_invariant(part, inp + r0 * IC, w, bias, n, IC, OC);
        lora_forward_invariant(part, hp, inp + r0 * IC, A, B, n, IC, OC, OC, R, scale);
        if (memcmp(part, all + r0 * OC, sizeof(float) * n * OC)) worst = r0 + 1;
    }
    CHECK(!worst, "rows from %d on differ when computed without the rows before them", worst - 1);
    free(inp), free(w), free(bias), free(A), free(B), free(all), free(h), free(part), free(hp), free(ref);

    // Parts in one pass (q|k|v into one wide output, or ten separate ones): each part's bits are its own call's.
    {
        enum { NP = 10, M = 7, K = 40 };
        int ocs[NP] = {24, 8, 8, 1, 17, 33, 4, 16, 5, 64}, total = 0;
        for (int j = 0; j < NP; j++) total += ocs[j];
        float *x = rand_array(M * K, 1.0f), *joined = garbage(M * total), *alone = garbage(M * total);
        float *Ws[NP], *bs[NP];
        matmul_part parts[NP];
        for (int j = 0, off = 0; j < NP; off += ocs[j++]) {
            Ws[j] = rand_array((long)ocs[j] * K, 1.0f), bs[j] = j % 3 ? rand_array(ocs[j], 1.0f) : NULL;
            parts[j] = (matmul_part){joined + off, Ws[j], bs[j], ocs[j], total};
            float *one = garbage(M * ocs[j]);
            matmul_forward_invariant(one, x, Ws[j], bs[j], M, K, ocs[j]);
            for (int i = 0; i < M; i++) memcpy(alone + i * total + off, one + i * ocs[j], sizeof(float) * ocs[j]);
            free(one);
        }
        matmul_forward_invariant_parts(parts, 3, x, M, K);  // the first three, then all ten (two passes)
        matmul_forward_invariant_parts(parts, NP, x, M, K);
        CHECK(!memcmp(joined, alone, sizeof(float) * M * total),
              "matmul_forward_invariant_parts differs from one matmul_forward_invariant per part");
        printf("  %-44s %s\n", "parts in one pass == one call per part", "yes");
        for (int j = 0; j < NP; j++) free(Ws[j]), free(bs[j]);
        free(x), free(joined), free(alone);
    }
}

// ---- rope, HF rotate_half: for j < D/2, x'[j] = x[j] cos - x[j+D/2] sin, x'[j+D/2] = x[j+D/2] cos + x[j] sin ----
// angle_fp32: HF forms pos * inv_freq as an fp32 product (then cos/sin of that fp32 angle); 0 uses exact angles.
static void rope_ref(double *out, const float *x, const int *pos, const float *inv_freq, int N, int H, int D,
                     int angle_fp32) {
    int half = D / 2;
    for (int i = 0; i < N; i++)
        for (int hh = 0; hh < H; hh++) {
            const float *v = x + ((long)i * H + hh) * D;
            double *o = out + ((long)i * H + hh) * D;
            for (int j = 0; j < half; j++) {
                double a = angle_fp32 ? (double)((float)pos[i] * inv_freq[j]) : (double)pos[i] * inv_freq[j];
                o[j] = v[j] * cos(a) - v[j + half] * sin(a);
                o[j + half] = v[j + half] * cos(a) + v[j] * sin(a);
            }
        }
}
static void check_rope(void) {
    printf("rope\n");
    {
        static const int pos[] = {0, 1, 2, 3, 4, 0, 1, 9};
        int N = 8, H = 3, D = 8;
        float inv_freq[4];
        for (int j = 0; j < D / 2; j++) inv_freq[j] = (float)pow(10000.0, -2.0 * j / D);
        float *x = rand_array(N * H * D, 1.0f);
        double *ref = dzeros(N * H * D);
        rope_ref(ref, x, pos, inv_freq, N, H, D, 1);
        rope_forward(x, pos, inv_freq, N, H, D);
        report("rope D=8 H=3, two packed sequences", rel_err(x, ref, N * H * D), TOL);
        free(x), free(ref);
    }
    {
        // Long-context positions with Llama-3-like frequencies (theta 500000, D = 64). At pos ~8000 one fp32 ulp
        // of the angle is ~1e-3 rad, so the kernel must form the angle the way HF does (fp32 product) to match
        // PyTorch; the error against exact angles is printed for information.
        static const int pos[] = {0, 17, 1023, 4095, 8191, 8000};
        int N = 6, H = 2, D = 64;
        float inv_freq[32];
        for (int j = 0; j < D / 2; j++) inv_freq[j] = (float)(1.0 / pow(500000.0, (double)(2 * j) / D));
        float *x = rand_array(N * H * D, 1.0f);
        double *ref = dzeros(N * H * D), *exact = dzeros(N * H * D);
        rope_ref(ref, x, pos, inv_freq, N, H, D, 1);
        rope_ref(exact, x, pos, inv_freq, N, H, D, 0);
        rope_forward(x, pos, inv_freq, N, H, D);
        report("rope D=64 pos<=8191 vs HF fp32 angles", rel_err(x, ref, N * H * D), TOL);
        printf("  %-44s %.2e (info)\n", "  same vs exact (double) angles", rel_err(x, exact, N * H * D));
        free(x), free(ref), free(exact);
    }
}

// ---- attention ----
static void attention_ref(double *out, const float *q, const float *k, const float *v, const int *kv_start,
                          const int *kv_len, int N, int Hq, int Hkv, int D) {
    int maxlen = 1;
    for (int i = 0; i < N; i++)
        if (kv_len[i] > maxlen) maxlen = kv_len[i];
    double *s = dzeros(maxlen), scale = 1.0 / sqrt((double)D);
    for (int i = 0; i < N; i++)
        for (int h = 0; h < Hq; h++) {
            int kh = h / (Hq / Hkv);
            const float *qi = q + ((long)i * Hq + h) * D;
            double mx = -INFINITY, sum = 0.0;
            for (int t = 0; t < kv_len[i]; t++) {
                s[t] = scale * dot_fd(qi, k + ((long)(kv_start[i] + t) * Hkv + kh) * D, D);
                if (s[t] > mx) mx = s[t];
            }
            for (int t = 0; t < kv_len[i]; t++) sum += (s[t] = exp(s[t] - mx));
            for (int d = 0; d < D; d++) {
                double o = 0.0;
                for (int t = 0; t < kv_len[i]; t++) o += s[t] / sum * v[((long)(kv_start[i] + t) * Hkv + kh) * D + d];
                out[((long)i * Hq + h) * D + d] = o;
            }
        }
    free(s);
}
// Runs the kernel on (q, k, v) and reports against the reference.
static void attention_case(const char *what, const float *q, const float *k, const float *v, const int *kv_start,
                           const int *kv_len, int N, int Hq, int Hkv, int D, const float *kref, const float *vref) {
    int maxlen = 0;
    for (int i = 0; i < N; i++)
        if (kv_len[i] > maxlen) maxlen = kv_len[i];
    size_t nscratch = attention_scratch_floats(maxlen);
    CHECK(nscratch >= (size_t)maxlen, "attention_scratch_floats(%d) = %zu is below max(kv_len)", maxlen, nscratch);
    float *scratch = garbage((long)nscratch), *out = garbage((long)N * Hq * D);
    double *ref = dzeros((long)N * Hq * D);
    attention_ref(ref, q, kref ? kref : k, vref ? vref : v, kv_start, kv_len, N, Hq, Hkv, D);
    attention_forward(out, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scratch);
    report(what, rel_err(out, ref, (long)N * Hq * D), TOL);
    // The pairwise form (decoding's; attention_forward takes GEMMs for causal blocks) on the same ranges.
    float *pair = garbage((long)N * Hq * D);
    attention_forward_pairwise(pair, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scratch);
    report("  same, attention_forward_pairwise", rel_err(pair, ref, (long)N * Hq * D), TOL);
    free(scratch), free(out), free(pair), free(ref);
}
static void check_attention(void) {
    printf("attention\n");
    {
        // Two packed causal sequences (lengths 5 and 3), GQA with 2 query heads per kv head.
        static const int kv_start[] = {0, 0, 0, 0, 0, 5, 5, 5};
        static const int kv_len[] = {1, 2, 3, 4, 5, 1, 2, 3};
        int N = 8, Hq = 4, Hkv = 2, D = 8;
        float *q = rand_array(N * Hq * D, 2.0f), *k = rand_array(N * Hkv * D, 1.0f), *v = rand_array(N * Hkv * D, 1.0f);
        attention_case("causal GQA Hq=4 Hkv=2, packed lengths 5+3", q, k, v, kv_start, kv_len, N, Hq, Hkv, D, NULL,
                       NULL);
        free(q), free(k), free(v);
    }
    {
        // One longer causal sequence, Llama-like head shape, MQA-style grouping (8 query heads on 2 kv heads).
        int N = 40, Hq = 8, Hkv = 2, D = 64;
        int kv_start[40], kv_len[40];
        for (int i = 0; i < N; i++) kv_start[i] = 0, kv_len[i] = i + 1;
        float *q = rand_array(N * Hq * D, 0.5f), *k = rand_array(N * Hkv * D, 1.0f), *v = rand_array(N * Hkv * D, 1.0f);
        attention_case("causal N=40 Hq=8 Hkv=2 D=64", q, k, v, kv_start, kv_len, N, Hq, Hkv, D, NULL, NULL);
        // Decoding's form: the last token alone gives bit-identical output to the whole sequence's pass. (Not
        // attention_forward: it runs this causal sequence as GEMMs, which round differently, and the lone last
        // token pairwise; test_ops_attention compares the two paths.)
        float *all = garbage(N * Hq * D), *last = garbage(Hq * D), *scr = garbage((long)attention_scratch_floats(N));
        attention_forward_pairwise(all, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scr);
        attention_forward_pairwise(last, q + (N - 1) * Hq * D, k, v, kv_start + N - 1, kv_len + N - 1, 1, Hq, Hkv, D,
                                   scr);
        CHECK(!memcmp(last, all + (N - 1) * Hq * D, sizeof(float) * Hq * D), "attention output depends on the batch");
        free(all), free(last), free(scr);
        free(q), free(k), free(v);
    }
    {
        // Decode: one new query per sequence against a 16-row KV cache shared by two sequences. Sequence A owns
        // rows 0..7 and has 6 filled; sequence B owns rows 8..15 and has 5 filled. Unfilled rows hold junk.
        static const int kv_start[] = {0, 8};
        static const int kv_len[] = {6, 5};
        int N = 2, rows = 16, Hq = 4, Hkv = 2, D = 8;
        float *q = rand_array(N * Hq * D, 2.0f), *k = rand_array(rows * Hkv * D, 1.0f);
        float *v = rand_array(rows * Hkv * D, 1.0f);
        static const int unfilled[] = {6, 7, 13, 14, 15};
        for (int u = 0; u < 5; u++)
            for (int j = 0; j < Hkv * D; j++) k[unfilled[u] * Hkv * D + j] = 1e3f, v[unfilled[u] * Hkv * D + j] = -1e3f;
        attention_case("decode from a cache, kv_start into 16 rows", q, k, v, kv_start, kv_len, N, Hq, Hkv, D, NULL,
                       NULL);
        // A query's output is bit-identical whether the other sequence is in the batch or not.
        float *both = garbage(N * Hq * D), *alone = garbage(Hq * D), *scr = garbage((long)attention_scratch_floats(6));
        attention_forward(both, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scr);
        attention_forward(alone, q + Hq * D, k, v, kv_start + 1, kv_len + 1, 1, Hq, Hkv, D, scr);
        CHECK(!memcmp(alone, both + Hq * D, sizeof(float) * Hq * D), "decode output depends on the batch");
        free(both), free(alone), free(scr);
        // A freshly malloc'd cache can hold NaN bit patterns in rows not yet written: they must not leak in.
        float *kn = callocCheck((size_t)rows * Hkv * D, sizeof(float)), *vn = callocCheck((size_t)rows * Hkv * D, sizeof(float));
        memcpy(kn, k, sizeof(float) * rows * Hkv * D);
        memcpy(vn, v, sizeof(float) * rows * Hkv * D);
        for (int u = 0; u < 5; u++)
            for (int j = 0; j < Hkv * D; j++) kn[unfilled[u] * Hkv * D + j] = NAN, vn[unfilled[u] * Hkv * D + j] = NAN;
        attention_case("decode, unfilled cache rows are NaN", q, kn, vn, kv_start, kv_len, N, Hq, Hkv, D, k, v);
        free(q), free(k), free(v), free(kn), free(vn);
    }
}

// ---- swiglu: out = silu(gate) * up ----
static void check_swiglu(void) {
    printf("swiglu\n");
    int N = 3, F = 9;
    float *gate = rand_array(N * F, 4.0f), *up = rand_array(N * F, 1.0f), *out = garbage(N * F);
    // Saturated gates: exp(-x) overflows fp32 for x < -88, and silu must still give ~0 (not NaN) there.
    static const float extreme[] = {-1000.0f, -100.0f, -30.0f, 30.0f, 100.0f, 1000.0f};
    for (int i = 0; i < 6; i++) gate[2 * F + i] = extreme[i];
    double *ref = dzeros(N * F);
    for (int i = 0; i < N * F; i++) {
        double g = gate[i];
        ref[i] = (g >= 0 ? g / (1.0 + exp(-g)) : g * exp(g) / (1.0 + exp(g))) * up[i];
    }
    swiglu_forward(out, gate, up, N, F);
    report("swiglu (incl. gates +-30, +-100, +-1000)", rel_err(out, ref, N * F), TOL);
    free(gate), free(up), free(out), free(ref);
}

// ---- logprob / logits ----
static void logprob_ref(double *logp, double *ent, const float *x, const float *wlm, const int *targets, int N, int C,
                        int V, double inv_temp) {
    double *z = dzeros(V);
    for (int i = 0; i < N; i++) {
        logp[i] = ent[i] = 0.0;
        if (targets[i] < 0) continue;
        double mx = -INFINITY, sum = 0.0;
        for (int v = 0; v < V; v++) {
            z[v] = dot_fd(x + (long)i * C, wlm + (long)v * C, C) * inv_temp;
            if (z[v] > mx) mx = z[v];
        }
        for (int v = 0; v < V; v++) sum += exp(z[v] - mx);
        double lse = mx + log(sum), e = 0.0;
        for (int v = 0; v < V; v++) e -= exp(z[v] - lse) * (z[v] - lse);
        logp[i] = z[targets[i]] - lse;
        ent[i] = e;
    }
    free(z);
}
static void logprob_case(const char *name, const int *targets, int N, int C, int V, float inv_temp, float xscale) {
    float *x = rand_array(N * C, xscale), *wlm = rand_array((long)V * C, 1.0f);
    size_t nscratch = logprob_scratch_floats(V);
    float *scratch = garbage((long)nscratch), *logp = garbage(N), *ent = garbage(N), *logp2 = garbage(N);
    double *rlogp = dzeros(N), *rent = dzeros(N);
    logprob_ref(rlogp, rent, x, wlm, targets, N, C, V, inv_temp);
    logprob_forward(logp, ent, x, wlm, targets, N, C, V, inv_temp, scratch, NULL);
    char what[96];
    snprintf(what, sizeof what, "%s logp", name);
    report(what, rel_err(logp, rlogp, N), TOL);
    snprintf(what, sizeof what, "%s entropy", name);
    report(what, rel_err(ent, rent, N), TOL);
    int masked_zero = 1;
    for (int i = 0; i < N; i++)
        if (targets[i] < 0) masked_zero &= logp[i] == 0.0f && ent[i] == 0.0f;
    CHECK(masked_zero, "%s: tokens with target < 0 must get logp = entropy = 0", name);
    // entropy == NULL is allowed and must not change logp.
    float *scratch2 = garbage((long)nscratch);
    logprob_forward(logp2, NULL, x, wlm, targets, N, C, V, inv_temp, scratch2, NULL);
    CHECK(memcmp(logp, logp2, sizeof(float) * N) == 0, "%s: logp differs when entropy is NULL", name);
    free(x), free(wlm), free(scratch), free(scratch2), free(logp), free(ent), free(logp2), free(rlogp), free(rent);
}
static void check_logprob(void) {
    printf("logprob / logits\n");
    static const int t1[] = {3, -1, 10, 0, -1, 7};
    logprob_case("logprob V=11 inv_temp=1/0.7", t1, 6, 8, 11, 1.0f / 0.7f, 1.0f);
    logprob_case("logprob V=11 inv_temp=1", t1, 6, 8, 11, 1.0f, 1.0f);
    // Logits of several hundred: a softmax without max subtraction overflows.
    logprob_case("logprob large logits (|z|~300)", t1, 6, 8, 11, 1.0f / 0.7f, 100.0f);
    // V above any plausible chunk size and not a multiple of one.
    static const int t2[] = {32999, 0, -1, 16411};
    logprob_case("logprob V=33000", t2, 4, 16, 33000, 1.0f / 0.9f, 1.0f);

    int N = 5, C = 13, V = 37;
    float *x = rand_array(N * C, 1.0f), *wlm = rand_array(V * C, 1.0f), *logits = garbage(N * V);
    double *ref = dzeros(N * V);
    for (int i = 0; i < N; i++)
        for (int v = 0; v < V; v++) ref[i * V + v] = dot_fd(x + i * C, wlm + v * C, C);
    logits_forward(logits, x, wlm, N, C, V);
    report("logits_forward N=5 C=13 V=37", rel_err(logits, ref, N * V), TOL);
    free(x), free(wlm), free(logits), free(ref);
}

// ---- the LM head's kept softmax: the backward from the forward's values equals the backward that recomputes ----
// One backward of (dx, dwlm) after a forward with keep (NULL: recompute everything).
static void logprob_fwd_bwd(float *logp, float *dx, float *dwlm, const float *dlogp, const float *x, const float *wlm,
                            const int *targets, int N, int C, int V, logprob_keep *keep, int forward) {
    float *scratch = garbage((long)logprob_scratch_floats(V));
    if (forward) logprob_forward(logp, NULL, x, wlm, targets, N, C, V, 1.0f / 0.8f, scratch, keep);
    for (size_t i = 0; i < logprob_scratch_floats(V); i++) scratch[i] = 1e30f;  // nothing may come from scratch
    memset(dx, 0, sizeof(float) * N * C);
    memset(dwlm, 0, sizeof(float) * V * C);
    logprob_backward(dx, dwlm, dlogp, x, wlm, targets, N, C, V, 1.0f / 0.8f, scratch, keep);
    free(scratch);
}
static void check_logprob_keep(void) {
    // V = 33000: 254-row chunks, so 600 scored tokens are two whole chunks and a partial one; a keep of one chunk
    // holds a prefix and the rest is recomputed.
    int N = 640, C = 8, V = 33000, *targets = callocCheck((size_t)N, sizeof(int));
    for (int i = 0; i < N; i++) targets[i] = i % 16 == 3 ? -1 : (i * 7919) % V;
    float *x = rand_array(N * C, 1.0f), *wlm = rand_array((long)V * C, 1.0f), *dlogp = rand_array(N, 1.0f);
    for (int i = 0; i < N; i++)
        if (targets[i] < 0) dlogp[i] = 0.0f;
    float *logp0 = garbage(N), *dx0 = garbage(N * C), *dw0 = garbage((long)V * C);
    float *logp = garbage(N), *dx = garbage(N * C), *dw = garbage((long)V * C);
    logprob_fwd_bwd(logp0, dx0, dw0, dlogp, x, wlm, targets, N, C, V, NULL, 1);
    size_t all = (size_t)N * V * sizeof(double), one_chunk = (size_t)300 * V * sizeof(float);
    const char *names[] = {"every scored token kept", "one chunk kept"};
    size_t budgets[] = {all, one_chunk};
    for (int k = 0; k < 2; k++) {
        logprob_keep *keep = logprob_keep_new(N, V, budgets[k]);
        CHECK(keep != NULL, "logprob_keep_new(%d, %d, %zu) gave no keep", N, V, budgets[k]);
        if (!keep) continue;
        logprob_fwd_bwd(logp, dx, dw, dlogp, x, wlm, targets, N, C, V, keep, 1);
        CHECK(!memcmp(logp, logp0, sizeof(float) * N) && !memcmp(dx, dx0, sizeof(float) * N * C) &&
                  !memcmp(dw, dw0, sizeof(float) * V * C),
              "logprob, %s: logp, dx or dwlm differ from the backward that recomputes", names[k]);
        // The backward overwrote what it kept with dlogits: a second one must recompute, not reuse it.
        logprob_fwd_bwd(logp, dx, dw, dlogp, x, wlm, targets, N, C, V, keep, 0);
        CHECK(!memcmp(dx, dx0, sizeof(float) * N * C) && !memcmp(dw, dw0, sizeof(float) * V * C),
              "logprob, %s: a second backward after one forward differs", names[k]);
        logprob_keep_free(keep);
    }
    CHECK(logprob_keep_new(N, V, (size_t)V * sizeof(float)) == NULL, "a keep smaller than one chunk must be NULL");
    printf("  logprob keep: backward from the kept softmax equals the recomputing one bit for bit (%d tokens, V %d)\n",
           N, V);
    free(targets), free(x), free(wlm), free(dlogp);
    free(logp0), free(dx0), free(dw0), free(logp), free(dx), free(dw);
}

// ---- AdamW, written out as torch.optim.AdamW (amsgrad off) computes it ----
static void check_adamw(void) {
    printf("adamw\n");
    size_t n = 37;
    float lr = 1e-2f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.1f;
    float *p = rand_array((long)n, 1.0f), *m = callocCheck(n, sizeof(float)), *v = callocCheck(n, sizeof(float));
    double *rp = dzeros((long)n), *rm = dzeros((long)n), *rv = dzeros((long)n);
    for (size_t i = 0; i < n; i++) rp[i] = p[i];
    for (int t = 1; t <= 2; t++) {
        float *g = rand_array((long)n, 1.0f);
        for (size_t i = 0; i < 6; i++) g[i] *= 1e-6f;  // gradients near eps, so eps placement matters
        double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
        for (size_t i = 0; i < n; i++) {
            rp[i] *= 1.0 - (double)lr * wd;
            rm[i] = b1 * rm[i] + (1.0 - b1) * g[i];
            rv[i] = b2 * rv[i] + (1.0 - b2) * (double)g[i] * g[i];
            double denom = sqrt(rv[i]) / sqrt(bc2) + eps;
            rp[i] -= lr / bc1 * rm[i] / denom;
        }
        adamw_update(p, g, m, v, n, lr, b1, b2, eps, wd, t);
        char what[64];
        snprintf(what, sizeof what, "adamw step %d param", t);
        report(what, rel_err(p, rp, (long)n), TOL);
        snprintf(what, sizeof what, "adamw step %d m", t);
        report(what, rel_err(m, rm, (long)n), TOL);
        snprintf(what, sizeof what, "adamw step %d v", t);
        report(what, rel_err(v, rv, (long)n), TOL);
        free(g);
    }
    free(p), free(m), free(v), free(rp), free(rm), free(rv);
}

// ---- sumsq: documented as double accumulation in a deterministic order ----
static void check_sumsq(void) {
    printf("sumsq\n");
    // 1e6 terms: an fp32 accumulator would be off by ~1e-4 relative here, a double one by ~1e-13. Hence 1e-9.
    size_t n = 1000003;
    float *g = rand_array((long)n, 1.0f);
    double ref = 0.0;
    for (size_t i = 0; i < n; i++) ref += (double)g[i] * g[i];
    double s1 = sumsq(g, n), s2 = sumsq(g, n);
    double err = fabs(s1 - ref) / ref;
    printf("  %-44s %.2e\n", "sumsq n=1000003 (double accumulation)", err);
    CHECK(err <= 1e-9, "sumsq: rel err %.3e against a double sum (is it accumulating in fp32?)", err);
    CHECK(memcmp(&s1, &s2, sizeof s1) == 0, "sumsq is not deterministic: %.17g vs %.17g", s1, s2);
    CHECK(sumsq(g, 0) == 0.0, "sumsq of nothing is not 0");
    float small[3] = {3.0f, -4.0f, 0.5f};
    CHECK(sumsq(small, 3) == 25.25, "sumsq {3,-4,0.5} = %.17g, want 25.25", sumsq(small, 3));
    free(g);
}

int main(void) {
    check_encoder_elementwise();
    check_rmsnorm();
    printf("matmul\n");
    check_matmul_case(7, 13, 5, 0);
    check_matmul_case(7, 13, 5, 1);
    check_matmul_case(1, 13, 5, 1);
    check_matmul_case(33, 67, 31, 1);
    check_lora();
    check_invariant_gemm();
    check_rope();
    check_attention();
    check_swiglu();
    check_logprob();
    check_logprob_keep();
    check_adamw();
    check_sumsq();
    return test_summary("test_ops_forward");
}
