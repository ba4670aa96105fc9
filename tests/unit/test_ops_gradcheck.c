// Finite-difference gradient check of every backward op in kernels/ops.h, written from the header contract alone
// (not from the kernels' source, so it is an independent check).
//
// For each op: small random inputs, a random projection R of the output, scalar L = sum(out * R) (logprob:
// L = sum(logp * w)). The backward gets dout = R (dlogp = w) and every analytic gradient, inputs and weights, is
// compared with central differences of L computed two ways:
//   fd32  L from the kernel's own float forward. Independent of anything written here: it checks that forward and
//         backward agree. h = 1e-2 (relative to max(|x|, 1)): float rounding in L is ~1e-7 of the few outputs one
//         perturbation touches, ~1e-5 after dividing by 2h, and the truncation error h^2/6 * L''' is ~1e-5 for
//         these O(1) inputs. Tolerance 1e-2.
//   fd64  L from a double-precision reference forward written below from the header's formulas. L carries only
//         ~1e-16 rounding, so h = 1e-4 leaves ~1e-8 truncation and ~1e-12 noise, and what is left is the kernel's
//         own float arithmetic (~1e-6). Tolerance 1e-3: tight enough to catch a dropped term (eps, 1/sqrt(D),
//         inv_temp, a wrong GQA head) that 1e-2 could hide, with 100x margin over float error.
// Error metric, per gradient tensor: max|analytic - numeric| / max(max|numeric|, 1e-3).
// Also checked for every op: backward ACCUMULATES (pre-filled gradient + two calls = prefill + 2 g), a NULL
// pointer for any gradient is accepted and leaves the others unchanged, and all-NULL does not crash. Scratch
// buffers are filled with garbage before each call, since the caller owes the kernel no particular contents.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "kernels/ops.h"
#include "testing.h"

#define TOL_FD32 1e-2
#define TOL_FD64 1e-3
#define TOL_ACCUM 1e-5  // float sums of the same numbers in another order
#define MAXP 4

// ---- deterministic inputs (splitmix64) ----
static uint64_t g_rng = 0x2545F4914F6CDD1Dull;
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
static float *zeros(long n) { return callocCheck((size_t)n, sizeof(float)); }
static void fill_garbage(float *a, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] = (float)(1e3 * (urand() - 0.5));
}
static double dot_fd(const float *a, const float *b, long n) {
    double s = 0.0;
    for (long i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

// ---- the generic check ----
// An op exposes the tensors to differentiate (p[k], n[k] floats), L at their current values through either the
// kernel (ref = 0) or the double reference (ref = 1), and a backward that accumulates into grads[k] (NULL: skip).
typedef struct Op Op;
struct Op {
    const char *name;
    int np;
    const char *pname[MAXP];
    float *p[MAXP];
    long n[MAXP];
    const long *sample[MAXP];  // NULL: check every element; otherwise only these indices
    long nsample[MAXP];
    double (*loss)(const Op *op, int ref);
    void (*backward)(const Op *op, float **grads);
    int inplace;  // rope: backward rotates dout in place, so accumulate/NULL semantics do not apply
    void *ctx;
};

// Central difference of L over the checked elements of p[k]; the step actually taken is measured in double, so
// rounding x +- h to float costs nothing.
static void numeric_grad(const Op *op, int k, int ref, double h, double *num) {
    float *p = op->p[k];
    long count = op->sample[k] ? op->nsample[k] : op->n[k];
    for (long s = 0; s < count; s++) {
        long i = op->sample[k] ? op->sample[k][s] : s;
        float x = p[i];
        double step = h * fmax(1.0, fabs((double)x));
        float xp = (float)(x + step), xm = (float)(x - step);
        p[i] = xp;
        double lp = op->loss(op, ref);
        p[i] = xm;
        double lm = op->loss(op, ref);
        p[i] = x;
        num[i] = (lp - lm) / ((double)xp - (double)xm);
    }
}

static double grad_error(const Op *op, int k, const float *g, const double *num) {
    long count = op->sample[k] ? op->nsample[k] : op->n[k];
    double scale = 1e-3, worst = 0.0;
    for (long s = 0; s < count; s++) {
        long i = op->sample[k] ? op->sample[k][s] : s;
        if (fabs(num[i]) > scale) scale = fabs(num[i]);
    }
    for (long s = 0; s < count; s++) {
        long i = op->sample[k] ? op->sample[k][s] : s;
        double d = fabs((double)g[i] - num[i]);
        if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
    }
    return worst / scale;
}

static double rel_diff(const float *a, const float *b, long n) {  // b is the expectation
    double scale = 1e-3, worst = 0.0;
    for (long i = 0; i < n; i++)
        if (fabs((double)b[i]) > scale) scale = fabs((double)b[i]);
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
    }
    return worst / scale;
}

typedef struct {
    const char *name;
    double fd32, fd64, accum, null;
} Result;
static Result g_results[32];
static int g_nresults;

static void run_op(const Op *op) {
    printf("%s\n", op->name);
    fflush(stdout);
    float *g[MAXP] = {0};
    for (int k = 0; k < op->np; k++) g[k] = zeros(op->n[k]);
    op->backward(op, g);

    double baseline32 = op->loss(op, 0), baseline64 = op->loss(op, 1);
    printf("  L kernel %.9g  L reference %.9g\n", baseline32, baseline64);
    Result r = {op->name, 0, 0, 0, 0};
    for (int k = 0; k < op->np; k++) {
        double *num = callocCheck((size_t)op->n[k], sizeof(double));
        numeric_grad(op, k, 0, 1e-2, num);
        double e32 = grad_error(op, k, g[k], num);
        numeric_grad(op, k, 1, 1e-4, num);
        double e64 = grad_error(op, k, g[k], num);
        free(num);
        printf("  d%-8s fd32 %.2e  fd64 %.2e%s\n", op->pname[k], e32, e64, op->sample[k] ? "  (sampled)" : "");
        CHECK(e32 <= TOL_FD32, "%s d%s vs FD of the kernel forward: rel err %.3e", op->name, op->pname[k], e32);
        CHECK(e64 <= TOL_FD64, "%s d%s vs FD of the double reference: rel err %.3e", op->name, op->pname[k], e64);
        if (e32 > r.fd32 || isnan(e32)) r.fd32 = e32;
        if (e64 > r.fd64 || isnan(e64)) r.fd64 = e64;
    }

    if (!op->inplace) {
        // Accumulation: start from a random prefill, call twice, expect prefill + 2 g.
        float *acc[MAXP], *expect[MAXP];
        for (int k = 0; k < op->np; k++) {
            acc[k] = rand_array(op->n[k], 1.0f);
            expect[k] = zeros(op->n[k]);
            for (long i = 0; i < op->n[k]; i++) expect[k][i] = acc[k][i] + 2.0f * g[k][i];
        }
        op->backward(op, acc);
        op->backward(op, acc);
        for (int k = 0; k < op->np; k++) {
            double e = rel_diff(acc[k], expect[k], op->n[k]);
            CHECK(e <= TOL_ACCUM, "%s d%s does not accumulate: prefill + 2 calls off by %.3e", op->name,
                  op->pname[k], e);
            if (e > r.accum || isnan(e)) r.accum = e;
            free(acc[k]);
            free(expect[k]);
        }
        // NULL: ask for one gradient at a time; it must equal the full call's.
        for (int k = 0; k < op->np; k++) {
            float *only[MAXP] = {0};
            only[k] = zeros(op->n[k]);
            op->backward(op, only);
            double e = rel_diff(only[k], g[k], op->n[k]);
            CHECK(e <= TOL_ACCUM, "%s d%s alone (others NULL) differs from the full call by %.3e", op->name,
                  op->pname[k], e);
            if (e > r.null || isnan(e)) r.null = e;
            free(only[k]);
        }
        float *none[MAXP] = {0};
        op->backward(op, none);  // must simply not crash
        printf("  accumulate %.1e  one-at-a-time with NULLs %.1e  all-NULL ok\n", r.accum, r.null);
    }
    for (int k = 0; k < op->np; k++) free(g[k]);
    if (g_nresults < 32) g_results[g_nresults++] = r;
}

// ---- encoder: out (N, C) = wte[tokens] ----
typedef struct {
    const int *tokens;
    int N, C;
    float *R, *out;
} EncCtx;
static double enc_loss(const Op *op, int ref) {
    EncCtx *c = op->ctx;
    const float *wte = op->p[0];
    if (!ref) {
        encoder_forward(c->out, c->tokens, wte, c->N, c->C);
        return dot_fd(c->out, c->R, (long)c->N * c->C);
    }
    double L = 0.0;
    for (int i = 0; i < c->N; i++)
        for (int j = 0; j < c->C; j++) L += (double)wte[c->tokens[i] * c->C + j] * c->R[i * c->C + j];
    return L;
}
static void enc_backward(const Op *op, float **g) {
    EncCtx *c = op->ctx;
    encoder_backward(g[0], c->R, c->tokens, c->N, c->C);
}
static void check_encoder(void) {
    // Repeated tokens test the scatter-add; token 2 is absent so its row must stay untouched.
    static const int tokens[] = {3, 1, 3, 0, 4, 3, 1};
    int N = 7, C = 6, V = 5;
    EncCtx c = {tokens, N, C, rand_array(N * C, 1.0f), zeros(N * C)};
    Op op = {.name = "encoder", .np = 1, .pname = {"wte"}, .p = {rand_array(V * C, 1.0f)}, .n = {V * C},
             .loss = enc_loss, .backward = enc_backward, .ctx = &c};
    run_op(&op);
    free(op.p[0]);
    free(c.R);
    free(c.out);
}

// ---- rmsnorm: out = inp * rstd * weight ----
typedef struct {
    int N, C;
    float eps;
    float *R, *out, *rstd;
} NormCtx;
static double norm_loss(const Op *op, int ref) {
    NormCtx *c = op->ctx;
    const float *inp = op->p[0], *w = op->p[1];
    if (!ref) {
        rmsnorm_forward(c->out, c->rstd, inp, w, c->N, c->C, c->eps);
        return dot_fd(c->out, c->R, (long)c->N * c->C);
    }
    double L = 0.0;
    for (int i = 0; i < c->N; i++) {
        const float *x = inp + i * c->C;
        double ms = 0.0;
        for (int j = 0; j < c->C; j++) ms += (double)x[j] * x[j];
        double rstd = 1.0 / sqrt(ms / c->C + c->eps);
        for (int j = 0; j < c->C; j++) L += x[j] * rstd * w[j] * c->R[i * c->C + j];
    }
    return L;
}
static void norm_backward(const Op *op, float **g) {
    NormCtx *c = op->ctx;
    rmsnorm_forward(c->out, c->rstd, op->p[0], op->p[1], c->N, c->C, c->eps);  // rstd at the current inputs
    rmsnorm_backward(g[0], g[1], c->R, op->p[0], op->p[1], c->rstd, c->N, c->C);
}
static void check_rmsnorm(void) {
    int N = 4, C = 9;
    // Eps large enough to matter for the small-scale row (mean square ~3e-3), so dropping it shows.
    NormCtx c = {N, C, 1e-3f, rand_array(N * C, 1.0f), zeros(N * C), zeros(N)};
    float *inp = rand_array(N * C, 1.0f);
    // (That row is also where fd32 is least accurate, ~3e-3: h = 1e-2 is 10% of its inputs, so truncation, not
    // the kernel, dominates; fd64 there is ~3e-7.)
    for (int j = 0; j < C; j++) inp[1 * C + j] *= 0.1f;
    for (int j = 0; j < C; j++) inp[3 * C + j] *= 3.0f;
    float *w = rand_array(C, 1.0f);
    for (int j = 0; j < C; j++) w[j] += 1.0f;  // like a trained norm weight: mostly near 1
    Op op = {.name = "rmsnorm", .np = 2, .pname = {"inp", "weight"}, .p = {inp, w}, .n = {N * C, C},
             .loss = norm_loss, .backward = norm_backward, .ctx = &c};
    run_op(&op);
    free(inp);
    free(w);
    free(c.R);
    free(c.out);
    free(c.rstd);
}

// ---- matmul: out (N, OC) = inp (N, IC) @ weight^T + bias ----
typedef struct {
    int N, IC, OC, has_bias;
    float *R, *out;
} MatCtx;
static double mat_loss(const Op *op, int ref) {
    MatCtx *c = op->ctx;
    const float *inp = op->p[0], *w = op->p[1], *b = c->has_bias ? op->p[2] : NULL;
    if (!ref) {
        matmul_forward(c->out, inp, w, b, c->N, c->IC, c->OC);
        return dot_fd(c->out, c->R, (long)c->N * c->OC);
    }
    double L = 0.0;
    for (int i = 0; i < c->N; i++)
        for (int o = 0; o < c->OC; o++) {
            double s = b ? b[o] : 0.0;
            for (int j = 0; j < c->IC; j++) s += (double)inp[i * c->IC + j] * w[o * c->IC + j];
            L += s * c->R[i * c->OC + o];
        }
    return L;
}
static void mat_backward(const Op *op, float **g) {
    MatCtx *c = op->ctx;
    matmul_backward(g[0], g[1], c->has_bias ? g[2] : NULL, c->R, op->p[0], op->p[1], c->N, c->IC, c->OC);
}
static void check_matmul(int has_bias) {
    int N = 7, IC = 13, OC = 5;
    MatCtx c = {N, IC, OC, has_bias, rand_array(N * OC, 1.0f), zeros(N * OC)};
    Op op = {.name = has_bias ? "matmul+bias" : "matmul", .np = has_bias ? 3 : 2,
             .pname = {"inp", "weight", "bias"},
             .p = {rand_array(N * IC, 1.0f), rand_array(OC * IC, 1.0f), has_bias ? rand_array(OC, 1.0f) : NULL},
             .n = {N * IC, OC * IC, OC}, .loss = mat_loss, .backward = mat_backward, .ctx = &c};
    run_op(&op);
    for (int k = 0; k < op.np; k++) free(op.p[k]);
    free(c.R);
    free(c.out);
}

// ---- lora: out += scale * (inp @ A^T) @ B^T ----
typedef struct {
    int N, IC, OC, R;
    float scale;
    float *proj, *out, *h, *dh;
} LoraCtx;
static double lora_loss(const Op *op, int ref) {
    LoraCtx *c = op->ctx;
    const float *inp = op->p[0], *A = op->p[1], *B = op->p[2];
    if (!ref) {
        memset(c->out, 0, sizeof(float) * (size_t)c->N * c->OC);
        lora_forward(c->out, c->h, inp, A, B, c->N, c->IC, c->OC, c->OC, c->R, c->scale);
        return dot_fd(c->out, c->proj, (long)c->N * c->OC);
    }
    double L = 0.0;
    double *h = callocCheck((size_t)c->R, sizeof(double));
    for (int i = 0; i < c->N; i++) {
        for (int r = 0; r < c->R; r++) {
            h[r] = 0.0;
            for (int j = 0; j < c->IC; j++) h[r] += (double)inp[i * c->IC + j] * A[r * c->IC + j];
        }
        for (int o = 0; o < c->OC; o++) {
            double s = 0.0;
            for (int r = 0; r < c->R; r++) s += h[r] * B[o * c->R + r];
            L += c->scale * s * c->proj[i * c->OC + o];
        }
    }
    free(h);
    return L;
}
static void lora_backward_call(const Op *op, float **g) {
    LoraCtx *c = op->ctx;
    memset(c->out, 0, sizeof(float) * (size_t)c->N * c->OC);
    lora_forward(c->out, c->h, op->p[0], op->p[1], op->p[2], c->N, c->IC, c->OC, c->OC, c->R, c->scale);
    fill_garbage(c->dh, (size_t)c->N * c->R);
    lora_backward(g[0], g[1], g[2], c->dh, c->proj, op->p[0], c->h, op->p[1], op->p[2], c->N, c->IC, c->OC, c->R,
                  c->scale);
}
static void check_lora(void) {
    int N = 5, IC = 11, OC = 7, R = 3;
    LoraCtx c = {N, IC, OC, R, 16.0f / R, rand_array(N * OC, 1.0f), zeros(N * OC), zeros(N * R), zeros(N * R)};
    // B nonzero (as after some training) so dA and dinp are not trivially zero.
    Op op = {.name = "lora", .np = 3, .pname = {"inp", "A", "B"},
             .p = {rand_array(N * IC, 1.0f), rand_array(R * IC, 0.5f), rand_array(OC * R, 0.5f)},
             .n = {N * IC, R * IC, OC * R}, .loss = lora_loss, .backward = lora_backward_call, .ctx = &c};
    run_op(&op);
    for (int k = 0; k < op.np; k++) free(op.p[k]);
    free(c.proj);
    free(c.out);
    free(c.h);
    free(c.dh);
}

// ---- rope (in place), HF rotate_half: pairs j and j + D/2 rotated by pos * inv_freq[j] ----
typedef struct {
    const int *pos;
    const float *inv_freq;
    int N, H, D;
    float *R, *buf;
} RopeCtx;
static double rope_loss(const Op *op, int ref) {
    RopeCtx *c = op->ctx;
    const float *x = op->p[0];
    long n = (long)c->N * c->H * c->D;
    if (!ref) {
        memcpy(c->buf, x, sizeof(float) * (size_t)n);
        rope_forward(c->buf, c->pos, c->inv_freq, c->N, c->H, c->D);
        return dot_fd(c->buf, c->R, n);
    }
    double L = 0.0;
    int half = c->D / 2;
    for (int i = 0; i < c->N; i++)
        for (int hh = 0; hh < c->H; hh++) {
            const float *v = x + ((long)i * c->H + hh) * c->D;
            const float *r = c->R + ((long)i * c->H + hh) * c->D;
            for (int j = 0; j < half; j++) {
                double a = (double)((float)c->pos[i] * c->inv_freq[j]);  // HF forms the angle in fp32
                double lo = v[j] * cos(a) - v[j + half] * sin(a);
                double hi = v[j + half] * cos(a) + v[j] * sin(a);
                L += lo * r[j] + hi * r[j + half];
            }
        }
    return L;
}
static void rope_backward_call(const Op *op, float **g) {
    RopeCtx *c = op->ctx;
    long n = (long)c->N * c->H * c->D;
    memcpy(c->buf, c->R, sizeof(float) * (size_t)n);
    rope_backward(c->buf, c->pos, c->inv_freq, c->N, c->H, c->D);
    if (g[0])
        for (long i = 0; i < n; i++) g[0][i] += c->buf[i];
}
static void check_rope(void) {
    // Two packed sequences (positions restart), D = 8 so there are 4 frequencies.
    static const int pos[] = {0, 1, 2, 3, 0, 1, 7, 19};
    int N = 8, H = 3, D = 8;
    float inv_freq[4];
    for (int j = 0; j < D / 2; j++) inv_freq[j] = (float)pow(10000.0, -2.0 * j / D);
    RopeCtx c = {pos, inv_freq, N, H, D, rand_array(N * H * D, 1.0f), zeros(N * H * D)};
    Op op = {.name = "rope", .np = 1, .pname = {"x"}, .p = {rand_array(N * H * D, 1.0f)}, .n = {N * H * D},
             .loss = rope_loss, .backward = rope_backward_call, .inplace = 1, .ctx = &c};
    run_op(&op);
    free(op.p[0]);
    free(c.R);
    free(c.buf);
}

// ---- attention: causal GQA over explicit key ranges ----
typedef struct {
    const int *kv_start, *kv_len;
    int N, rows, Hq, Hkv, D;
    float *R, *out, *scratch;
    size_t nscratch;
} AttnCtx;
static double attn_loss(const Op *op, int ref) {
    AttnCtx *c = op->ctx;
    const float *q = op->p[0], *k = op->p[1], *v = op->p[2];
    long nout = (long)c->N * c->Hq * c->D;
    if (!ref) {
        fill_garbage(c->scratch, c->nscratch);
        attention_forward(c->out, q, k, v, c->kv_start, c->kv_len, c->N, c->Hq, c->Hkv, c->D, c->scratch);
        return dot_fd(c->out, c->R, nout);
    }
    double L = 0.0, scale = 1.0 / sqrt((double)c->D);
    double *s = callocCheck((size_t)c->rows, sizeof(double));
    for (int i = 0; i < c->N; i++)
        for (int h = 0; h < c->Hq; h++) {
            int kh = h / (c->Hq / c->Hkv);
            const float *qi = q + ((long)i * c->Hq + h) * c->D;
            double mx = -INFINITY, sum = 0.0;
            for (int t = 0; t < c->kv_len[i]; t++) {
                const float *kr = k + ((long)(c->kv_start[i] + t) * c->Hkv + kh) * c->D;
                s[t] = scale * dot_fd(qi, kr, c->D);
                if (s[t] > mx) mx = s[t];
            }
            for (int t = 0; t < c->kv_len[i]; t++) sum += (s[t] = exp(s[t] - mx));
            for (int d = 0; d < c->D; d++) {
                double o = 0.0;
                for (int t = 0; t < c->kv_len[i]; t++)
                    o += s[t] / sum * v[((long)(c->kv_start[i] + t) * c->Hkv + kh) * c->D + d];
                L += o * c->R[((long)i * c->Hq + h) * c->D + d];
            }
        }
    free(s);
    return L;
}
static void attn_backward(const Op *op, float **g) {
    AttnCtx *c = op->ctx;
    fill_garbage(c->scratch, c->nscratch);
    attention_backward(g[0], g[1], g[2], c->R, op->p[0], op->p[1], op->p[2], c->kv_start, c->kv_len, c->N, c->Hq,
                       c->Hkv, c->D, c->scratch);
}
static void check_attention(const char *name, const int *kv_start, const int *kv_len, int N, int rows) {
    int Hq = 4, Hkv = 2, D = 8, maxlen = 0;
    for (int i = 0; i < N; i++)
        if (kv_len[i] > maxlen) maxlen = kv_len[i];
    size_t nscratch = attention_scratch_floats(maxlen);
    AttnCtx c = {kv_start, kv_len, N, rows, Hq, Hkv, D, rand_array(N * Hq * D, 1.0f), zeros(N * Hq * D),
                 zeros((long)nscratch), nscratch};
    // q scaled up so the softmax is far from uniform (scores ~ +-2).
    Op op = {.name = name, .np = 3, .pname = {"q", "k", "v"},
             .p = {rand_array(N * Hq * D, 2.0f), rand_array(rows * Hkv * D, 1.0f), rand_array(rows * Hkv * D, 1.0f)},
             .n = {N * Hq * D, rows * Hkv * D, rows * Hkv * D}, .loss = attn_loss, .backward = attn_backward,
             .ctx = &c};
    run_op(&op);
    for (int k = 0; k < op.np; k++) free(op.p[k]);
    free(c.R);
    free(c.out);
    free(c.scratch);
}

// ---- swiglu: out = silu(gate) * up ----
typedef struct {
    int N, F;
    float *R, *out;
} SwiCtx;
static double swi_loss(const Op *op, int ref) {
    SwiCtx *c = op->ctx;
    const float *gate = op->p[0], *up = op->p[1];
    long n = (long)c->N * c->F;
    if (!ref) {
        swiglu_forward(c->out, gate, up, c->N, c->F);
        return dot_fd(c->out, c->R, n);
    }
    double L = 0.0;
    for (long i = 0; i < n; i++) L += gate[i] / (1.0 + exp(-(double)gate[i])) * up[i] * c->R[i];
    return L;
}
static void swi_backward(const Op *op, float **g) {
    SwiCtx *c = op->ctx;
    swiglu_backward(g[0], g[1], c->R, op->p[0], op->p[1], c->N, c->F);
}
static void check_swiglu(void) {
    int N = 3, F = 7;
    SwiCtx c = {N, F, rand_array(N * F, 1.0f), zeros(N * F)};
    Op op = {.name = "swiglu", .np = 2, .pname = {"gate", "up"}, .p = {rand_array(N * F, 4.0f), rand_array(N * F, 1.0f)},
             .n = {N * F, N * F}, .loss = swi_loss, .backward = swi_backward, .ctx = &c};
    run_op(&op);
    for (int k = 0; k < op.np; k++) free(op.p[k]);
    free(c.R);
    free(c.out);
}

// ---- logprob: logp[i] = log_softmax(x[i] @ wlm^T * inv_temp)[targets[i]], 0 where targets[i] < 0 ----
typedef struct {
    const int *targets;
    int N, C, V;
    float inv_temp;
    float *w, *logp, *scratch;
    size_t nscratch;
} LpCtx;
static double lp_loss(const Op *op, int ref) {
    LpCtx *c = op->ctx;
    const float *x = op->p[0], *wlm = op->p[1];
    if (!ref) {
        fill_garbage(c->scratch, c->nscratch);
        logprob_forward(c->logp, NULL, x, wlm, c->targets, c->N, c->C, c->V, c->inv_temp, c->scratch, NULL);
        return dot_fd(c->logp, c->w, c->N);
    }
    double L = 0.0;
    double *z = callocCheck((size_t)c->V, sizeof(double));
    for (int i = 0; i < c->N; i++) {
        if (c->targets[i] < 0) continue;
        double mx = -INFINITY, sum = 0.0;
        for (int v = 0; v < c->V; v++) {
            z[v] = dot_fd(x + (long)i * c->C, wlm + (long)v * c->C, c->C) * c->inv_temp;
            if (z[v] > mx) mx = z[v];
        }
        for (int v = 0; v < c->V; v++) sum += exp(z[v] - mx);
        L += (z[c->targets[i]] - mx - log(sum)) * c->w[i];
    }
    free(z);
    return L;
}
static void lp_backward(const Op *op, float **g) {
    LpCtx *c = op->ctx;
    fill_garbage(c->scratch, c->nscratch);
    logprob_backward(g[0], g[1], c->w, op->p[0], op->p[1], c->targets, c->N, c->C, c->V, c->inv_temp, c->scratch,
                     NULL);
}
static void check_logprob(const char *name, const int *targets, int N, int C, int V, int sample_wlm) {
    size_t nscratch = logprob_scratch_floats(V);
    LpCtx c = {targets, N, C, V, 1.0f / 0.7f, rand_array(N, 1.0f), zeros(N), zeros((long)nscratch), nscratch};
    for (int i = 0; i < N; i++)
        if (targets[i] < 0) c.w[i] = 0.0f;  // the contract: dlogp is 0 where targets < 0
    Op op = {.name = name, .np = 2, .pname = {"x", "wlm"}, .p = {rand_array(N * C, 1.0f), rand_array((long)V * C, 1.0f)},
             .n = {N * C, (long)V * C}, .loss = lp_loss, .backward = lp_backward, .ctx = &c};
    long *idx = NULL;
    if (sample_wlm) {
        // Large V: FD over all of wlm is too slow, so check every target row (where the gradient is O(1)) plus
        // random elements elsewhere, including the last rows (a partial final chunk).
        idx = callocCheck((size_t)(N * C + 64), sizeof(long));
        long m = 0;
        for (int i = 0; i < N; i++)
            if (targets[i] >= 0)
                for (int j = 0; j < C; j++) idx[m++] = (long)targets[i] * C + j;
        for (int j = 0; j < C; j++) idx[m++] = (long)(V - 1) * C + j;
        while (m < N * C + 64) idx[m++] = (long)(urand() * V) * C + (long)(urand() * C);
        op.sample[1] = idx;
        op.nsample[1] = m;
    }
    run_op(&op);
    for (int k = 0; k < op.np; k++) free(op.p[k]);
    free(idx);
    free(c.w);
    free(c.logp);
    free(c.scratch);
}

int main(void) {
    check_encoder();
    check_rmsnorm();
    check_matmul(0);
    check_matmul(1);
    check_lora();
    check_rope();
    {
        // Two packed sequences, lengths 5 and 3: token i of a sequence sees that sequence's rows 0..i.
        static const int kv_start[] = {0, 0, 0, 0, 0, 5, 5, 5};
        static const int kv_len[] = {1, 2, 3, 4, 5, 1, 2, 3};
        check_attention("attention", kv_start, kv_len, 8, 8);
    }
    {
        // Causal blocks [0, 3), [4, 6), [6, 7) (attention_forward runs them as GEMMs) and two other ranges in the
        // same call (pairwise): token 3 sees rows 0..1, inside the first block's rows, and token 7 rows 2..6.
        static const int kv_start[] = {0, 0, 0, 0, 4, 4, 6, 2};
        static const int kv_len[] = {1, 2, 3, 2, 1, 2, 1, 5};
        check_attention("attention_mixed", kv_start, kv_len, 8, 8);
    }
    {
        // Decode-shaped: 3 queries into a 12-row cache; rows 4..5 and 11 are attended by nobody (zero gradient).
        static const int kv_start[] = {0, 6, 6};
        static const int kv_len[] = {4, 4, 5};
        check_attention("attention_cache", kv_start, kv_len, 3, 12);
    }
    check_swiglu();
    {
        static const int targets[] = {3, -1, 10, 0, -1, 7};
        check_logprob("logprob", targets, 6, 8, 11, 0);
    }
    {
        // V above any plausible chunk size and not a multiple of one, so the chunked path and a partial last
        // chunk are both exercised.
        static const int targets[] = {32999, -1, 5};
        check_logprob("logprob_bigV", targets, 3, 8, 33000, 1);
    }

    printf("\n%-16s %10s %10s %10s %10s\n", "op", "fd32", "fd64", "accum", "null");
    for (int i = 0; i < g_nresults; i++)
        printf("%-16s %10.2e %10.2e %10.2e %10.2e\n", g_results[i].name, g_results[i].fd32, g_results[i].fd64,
               g_results[i].accum, g_results[i].null);
    printf("tolerances: fd32 %.0e, fd64 %.0e, accumulate/NULL %.0e\n", TOL_FD32, TOL_FD64, TOL_ACCUM);
    return test_summary("test_ops_gradcheck");
}
