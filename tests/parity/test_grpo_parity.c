// The GRPO loss and its gradient with respect to each token's log-prob, against PyTorch autograd over TRL's
// formulation (tests/parity/make_grpo_fixtures.py), for every loss_type, with and without KL and reward scaling.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"
#include "testing.h"
#include "workers/grpo.h"

static float *read(const st_file *st, const char *name, int64_t n0, int64_t n1) {
    int64_t shape[2] = {n0, n1};
    float *out = malloc((size_t)(n0 * (n1 ? n1 : 1)) * sizeof(float));
    mg_err e;
    if (st_read_f32(st, name, out, n1 ? 2 : 1, shape, &e)) {
        CHECK(0, "%s", e.msg);
        memset(out, 0, (size_t)(n0 * (n1 ? n1 : 1)) * sizeof(float));
    }
    return out;
}

int main(void) {
    st_file st;
    mg_err e;
    if (st_open(&st, "tests/parity/fixtures/grpo.ref.safetensors", &e)) {
        CHECK(0, "%s", e.msg);
        return test_summary("test_grpo_parity");
    }
    const st_tensor *lt = st_find(&st, "lens");
    int B = (int)lt->shape[0], lens[16], T = 0;
    memcpy(lens, lt->data, (size_t)B * sizeof(int32_t));
    for (int i = 0; i < B; i++) T = lens[i] > T ? lens[i] : T;
    float *old = read(&st, "old", B, T), *logp = read(&st, "logp", B, T), *ref = read(&st, "ref", B, T);
    float *hp = read(&st, "hparams", 3, 0);
    // The same group packed: each member = 2 prompt tokens + its completion; positions that predict completion
    // tokens carry the fixture's per-token values.
    packed_batch b;
    packed_batch_init(&b);
    for (int i = 0; i < B; i++) {
        int ids[32] = {0};
        packed_batch_add(&b, ids, 2 + lens[i], 1);
    }
    int N = b.n_tokens;
    float *P = calloc(N, sizeof(float)), *O = calloc(N, sizeof(float)), *R = calloc(N, sizeof(float));
    float *d = calloc(N, sizeof(float));
    for (int i = 0; i < B; i++)
        for (int t = 0; t < lens[i]; t++) {
            int at = b.seq_start[i] + 1 + t;
            P[at] = logp[i * T + t], O[at] = old[i * T + t], R[at] = ref[i * T + t];
        }
    const char *types[] = {"grpo", "bnpo", "dr_grpo"};
    double worst_loss = 0, worst_grad = 0;
    for (int scale = 0; scale < 2; scale++) {
        char key[128];
        snprintf(key, sizeof key, "adv.scale%d", scale);
        float *want_adv = read(&st, key, B, 0), adv[16];
        float *rw = read(&st, "rewards", B, 0);
        double r[16];
        for (int i = 0; i < B; i++) r[i] = rw[i];
        grpo_advantages(r, B, scale, adv);
        for (int i = 0; i < B; i++) CHECK(fabsf(adv[i] - want_adv[i]) < 1e-6f, "advantage %d: %g vs %g", i, adv[i], want_adv[i]);
        for (int lt2 = 0; lt2 < 3; lt2++)
            for (int kl = 0; kl < 2; kl++) {
                grpo_params gp = {hp[0], hp[1], kl ? 0.04f : 0.0f, (loss_kind)lt2, (int)hp[2], 0};
                grpo_stats gs;
                double loss = grpo_loss(&b, P, O, kl ? R : NULL, want_adv, &gp, d, &gs);
                snprintf(key, sizeof key, "loss.%s.beta%s.scale%d", types[lt2], kl ? "0.04" : "0.0", scale);
                float *want_loss = read(&st, key, 1, 0);
                snprintf(key, sizeof key, "grad.%s.beta%s.scale%d", types[lt2], kl ? "0.04" : "0.0", scale);
                float *want_grad = read(&st, key, B, T);
                snprintf(key, sizeof key, "clip.%s.beta%s.scale%d", types[lt2], kl ? "0.04" : "0.0", scale);
                float *want_clip = read(&st, key, 2, 0);
                worst_loss = fmax(worst_loss, fabs(loss - want_loss[0]));
                for (int i = 0; i < B; i++)
                    for (int t = 0; t < lens[i]; t++)
                        worst_grad = fmax(worst_grad, fabs(d[b.seq_start[i] + 1 + t] - want_grad[i * T + t]));
                CHECK(fabs(gs.clip_low - want_clip[0]) < 1e-6 && fabs(gs.clip_high - want_clip[1]) < 1e-6,
                      "%s clip fractions %g %g vs %g %g", key, gs.clip_low, gs.clip_high, want_clip[0], want_clip[1]);
                CHECK(gs.clip_low > 0 && gs.clip_high > 0, "fixture should clip on both sides");
                free(want_loss), free(want_grad), free(want_clip);
            }
        free(want_adv), free(rw);
    }
    printf("  loss worst |C - torch| %.2e, dL/dlogp worst %.2e over 12 configurations\n", worst_loss, worst_grad);
    CHECK(worst_loss < 1e-6, "loss differs by %g", worst_loss);
    CHECK(worst_grad < 1e-6, "gradient differs by %g", worst_grad);
    free(old), free(logp), free(ref), free(hp), free(P), free(O), free(R), free(d);
    packed_batch_free(&b);
    st_close(&st);
    return test_summary("test_grpo_parity");
}
