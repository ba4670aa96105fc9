// The sampler: filtered distributions are exactly what the filters define (checked by sweeping the uniform draw
// over a fine grid, which turns the inverse-CDF sampler into an exact histogram), the recorded log-probs, greedy
// decoding, and stop strings / EOS on a real checkpoint with its tokenizer. The incremental stop-string search
// is checked against decoding the whole completion after every token, on crafted and random id sequences.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "kernels/ops.h"
#include "model/gen_batch.h"
#include "model/sampler.h"
#include "testing.h"

enum { V = 10, GRID = 200000 };
static const float LOGITS[V] = {1.0f, 3.0f, -2.0f, 2.5f, 0.0f, 2.9f, -1.0f, 0.5f, 3.0f, 1.5f};

// Expected distribution in double: temperature, then top-k, top-p, min-p (transformers' order).
static void expected(const sampling_params *p, double *q) {
    double mx = -INFINITY, s = 0;
    for (int v = 0; v < V; v++) mx = fmax(mx, LOGITS[v]);
    for (int v = 0; v < V; v++) s += (q[v] = exp((LOGITS[v] - mx) / p->temperature));
    for (int v = 0; v < V; v++) q[v] /= s;
    int order[V];
    for (int v = 0; v < V; v++) order[v] = v;
    for (int i = 0; i < V; i++)  // sort ids by probability, descending, ties by id
        for (int j = i + 1; j < V; j++)
            if (q[order[j]] > q[order[i]] || (q[order[j]] == q[order[i]] && order[j] < order[i])) {
                int t = order[i];
                order[i] = order[j], order[j] = t;
            }
    int keep = V;
    if (p->top_k > 0 && p->top_k < keep) keep = p->top_k;
    if (p->top_p < 1.0f) {
        double kept = 0, acc = 0;
        for (int i = 0; i < keep; i++) kept += q[order[i]];
        int n = 0;
        while (n < keep && acc < p->top_p * kept) acc += q[order[n++]];
        keep = n;
    }
    double top = q[order[0]], total = 0;
    for (int i = 0; i < V; i++) {
        int v = order[i];
        if (i >= keep || q[v] < p->min_p * top) q[v] = 0;
        total += q[v];
    }
    for (int v = 0; v < V; v++) q[v] /= total;
}

// The sampler's controls as the op takes them.
static mg_sample_params op_params(const sampling_params *p) {
    mg_sample_params o = {p->temperature, p->top_k, p->top_p, p->min_p, p->seed};
    return o;
}

static void check_distribution(const char *name, sampling_params p) {
    double want[V];
    expected(&p, want);
    long count[V] = {0};
    float scratch[SAMPLE_SCRATCH(V)];
    mg_sample_params op = op_params(&p);
    double worst_lp = 0;
    for (int i = 0; i < GRID; i++) {
        float lp;
        int v = sample_token(LOGITS, V, &op, (i + 0.5f) / GRID, &lp, scratch);
        count[v]++;
        double mx = 3.0, s = 0;
        for (int k = 0; k < V; k++) s += exp((LOGITS[k] - mx) / p.temperature);
        worst_lp = fmax(worst_lp, fabs(lp - ((LOGITS[v] - mx) / p.temperature - log(s))));
    }
    double worst = 0;
    for (int v = 0; v < V; v++) worst = fmax(worst, fabs((double)count[v] / GRID - want[v]));
    printf("  %-28s worst |frequency - probability| %.1e, logp error %.1e\n", name, worst, worst_lp);
    CHECK(worst < 1e-4, "%s: distribution off by %g", name, worst);
    CHECK(worst_lp < 1e-5, "%s: recorded logp off by %g", name, worst_lp);
}

static void distributions(void) {
    sampling_params p;
    sampling_params_default(&p);
    check_distribution("temperature 1", p);
    p.temperature = 0.5f;
    check_distribution("temperature 0.5", p);
    p.temperature = 1.3f, p.top_k = 3;
    check_distribution("top-k 3 (tie at the cut)", p);
    p.top_k = 0, p.top_p = 0.8f;
    check_distribution("top-p 0.8", p);
    p.top_p = 1.0f, p.min_p = 0.3f;
    check_distribution("min-p 0.3", p);
    p.top_k = 5, p.top_p = 0.9f, p.min_p = 0.05f;
    check_distribution("top-k 5 + top-p 0.9 + min-p", p);
    p.temperature = 0.0f;
    float lp, scratch[SAMPLE_SCRATCH(V)];
    mg_sample_params op = op_params(&p);
    CHECK(sample_token(LOGITS, V, &op, 0.99f, &lp, scratch) == 1, "greedy must pick the first maximum");
}

// What a stop search means: after each token, decode the whole completion and look for every stop string. Returns
// the token count at the first hit (0 if none) and the text cut before the earliest stop in *cut.
static int stop_reference(const tokenizer *tok, const sampling_params *p, const int *ids, int n, char **cut) {
    for (int m = 1; m <= n; m++) {
        char *text = tokenizer_decode(tok, ids, m, 1), *first = NULL;
        for (int k = 0; k < SAMPLER_MAX_STOPS && p->stop[k]; k++) {
            char *hit = p->stop[k][0] ? strstr(text, p->stop[k]) : NULL;
            if (hit && (!first || hit < first)) first = hit;
        }
        if (first) {
            *first = '\0';
            *cut = text;
            return m;
        }
        free(text);
    }
    *cut = NULL;
    return 0;
}

// The same through stop_scan, token by token.
static int stop_incremental(const tokenizer *tok, const sampling_params *p, const int *ids, int n, char **cut) {
    stop_scan s;
    stop_scan_init(&s, p);
    *cut = NULL;
    int at = 0;
    for (int m = 1; m <= n && !at; m++)
        if (stop_scan_step(&s, tok, p, ids, m, cut)) at = m;
    stop_scan_free(&s);
    return at;
}

// Both agree on where the completion stops and on its text. Returns the reference's stop point.
static int check_stops(const char *what, const tokenizer *tok, const sampling_params *p, const int *ids, int n) {
    char *want, *got;
    int at_want = stop_reference(tok, p, ids, n, &want), at_got = stop_incremental(tok, p, ids, n, &got);
    CHECK(at_got == at_want && (!want || (got && !strcmp(got, want))), "%s: stop '%s': stops after %d tokens with "
          "'%s', want %d with '%s'", what, p->stop[0], at_got, got ? got : "", at_want, want ? want : "");
    free(want);
    free(got);
    return at_want;
}

// The id of the token that stands for one raw byte (GPT-2 byte-level alphabet).
static int byte_token(const tokenizer *tok, int b) {
    int cp = b, printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    if (!printable) {
        cp = 256;
        for (int x = 0; x < b; x++) cp += !((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255));
    }
    char s[3] = {0};
    if (cp < 0x80) s[0] = (char)cp;
    else s[0] = (char)(0xC0 | cp >> 6), s[1] = (char)(0x80 | (cp & 0x3F));
    return tokenizer_token_id(tok, s);
}

static void incremental_stops(void) {
    tokenizer *tok;
    mg_err e;
    if (tokenizer_load(&tok, "tests/parity/fixtures/llama3-tiny", &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    sampling_params p;
    sampling_params_default(&p);
    // Raw bytes, one token each, so multi-byte characters are split across tokens: "x", then the three bytes of
    // U+65E5, "y", a NUL, " END".
    const unsigned char raw[] = {'x', 0xE6, 0x97, 0xA5, 'y', 0x00, ' ', 'E', 'N', 'D'};
    int ids[64], n = 0;
    for (size_t i = 0; i < sizeof raw; i++) {
        ids[n] = byte_token(tok, raw[i]);
        CHECK(ids[n] >= 0, "no token for byte %#x", raw[i]);
        n++;
    }
    p.stop[0] = "\xE6\x97\xA5";  // the character, complete only with its third token
    CHECK(check_stops("split character", tok, &p, ids, n) == 4, "the character is complete after 4 tokens");
    p.stop[0] = "x\xEF\xBF\xBD";  // a cut character shows as U+FFFD until it is complete
    CHECK(check_stops("cut character", tok, &p, ids, n) == 2, "U+FFFD shows after 2 tokens");
    p.stop[0] = "\xA5y";  // the search is over bytes, as strstr's: the character's last byte and "y"
    CHECK(check_stops("mid-character", tok, &p, ids, n) == 5, "a byte match inside a character counts");
    p.stop[0] = "END";  // after the NUL: a C-string search never sees it
    CHECK(check_stops("after NUL", tok, &p, ids, n) == 0, "text after a NUL is invisible");
    p.stop[0] = "\xA5y", p.stop[1] = "\xE6\x97\xA5y", p.stop[2] = "x";  // earliest stop wins
    CHECK(check_stops("several stops", tok, &p, ids, n) == 1, "'x' stops first");
    p.stop[1] = p.stop[2] = NULL;
    // A NUL inside a token, after a character that token completes: the tail decodes to "x\xC3\xA9" with nothing
    // to show that a NUL followed. Tokens: "x", byte C3 (a cut character), bytes A9 00, then "E", "N", "D".
    const char *mini = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"x\":0,\"\xC3\x83\":1,\"\xC2\xA9\xC4\x80\":2,"
                       "\"E\":3,\"N\":4,\"D\":5},\"merges\":[]},\"pre_tokenizer\":{\"type\":\"ByteLevel\","
                       "\"add_prefix_space\":false},\"decoder\":{\"type\":\"ByteLevel\"}}";
    tokenizer *nul_tok;
    if (tokenizer_load_from_memory(&nul_tok, mini, strlen(mini), NULL, 0, "mini", &e)) {
        CHECK(0, "%s", e.msg);
    } else {
        int nul_ids[] = {0, 1, 2, 3, 4, 5};
        p.stop[0] = "END";
        CHECK(check_stops("NUL inside a token", nul_tok, &p, nul_ids, 6) == 0, "text after a NUL is invisible");
        p.stop[0] = "x\xC3\xA9";
        CHECK(check_stops("before a NUL", nul_tok, &p, nul_ids, 6) == 3, "text before the NUL counts");
        tokenizer_free(nul_tok);
    }
    // Tokens of ordinary text with a special token in the middle (skipped when decoding).
    int *enc, ne;
    const char *text = "Hello, world! Caf\xC3\xA9 na\xC3\xAFve \xE2\x80\x94 stop here.";
    if (tokenizer_encode(tok, text, strlen(text), 0, &enc, &ne, &e)) {
        CHECK(0, "%s", e.msg);
    } else {
        int special = tokenizer_token_id(tok, "<|begin_of_text|>");
        CHECK(special >= 0 && tokenizer_is_special(tok, special), "<|begin_of_text|> is a special token");
        n = 0;
        for (int i = 0; i < ne && n < 63; i++) {
            if (i == ne / 2) ids[n++] = special;
            ids[n++] = enc[i];
        }
        free(enc);
        size_t tl = strlen(text);
        for (size_t at = 0; at < tl; at++)  // every substring of 1..6 bytes, most straddle token boundaries
            for (size_t len = 1; len <= 6 && at + len <= tl; len++) {
                char stop[8] = {0};
                memcpy(stop, text + at, len);
                p.stop[0] = stop;
                CHECK(check_stops("text", tok, &p, ids, n) > 0, "'%s' is in the text", stop);
            }
    }
    // Random ids (byte tokens, merges, special and unused ids) with stops cut from what they decode to.
    int V = 2048, hits = 0, cases = 0;
    for (int r = 0; r < 300; r++) {
        int m = 8 + (int)(rng_uniform(5, (uint64_t)r, 0) * 40);
        for (int i = 0; i < m; i++) {
            float u = rng_uniform(5, (uint64_t)r, (uint64_t)i + 1);
            ids[i] = u < 0.5f ? byte_token(tok, (int)(rng_uniform(6, (uint64_t)r, (uint64_t)i) * 256))
                              : (int)(rng_uniform(7, (uint64_t)r, (uint64_t)i) * V);
        }
        int cut = 1 + (int)(rng_uniform(8, (uint64_t)r, 0) * m);
        char *part = tokenizer_decode(tok, ids, cut, 1);  // a prefix: may end in a U+FFFD that goes away
        size_t pl = strlen(part);
        char stops[2][8] = {{0}};
        for (int k = 0; k < 2 && pl > 0; k++) {
            size_t len = 1 + (size_t)(rng_uniform(9, (uint64_t)r, (uint64_t)k) * 5);
            if (len > pl) len = pl;
            size_t at = (size_t)(rng_uniform(10, (uint64_t)r, (uint64_t)k) * (double)(pl - len + 1));
            memcpy(stops[k], part + at, len);
        }
        free(part);
        p.stop[0] = stops[0], p.stop[1] = r % 2 ? stops[1] : NULL;
        hits += check_stops("random ids", tok, &p, ids, m) > 0;
        cases++;
    }
    p.stop[1] = NULL;
    printf("  incremental stop search = full search: %d random sequences, %d of them stopped\n", cases, hits);
    CHECK(hits > cases / 2, "most random cases should stop (%d of %d)", hits, cases);
    tokenizer_free(tok);
}

static void stops_and_eos(void) {
    const char *dir = "tests/parity/fixtures/llama3-tiny";
    model m;
    tokenizer *tok;
    mg_err e;
    if (model_load(&m, dir, &e) || tokenizer_load(&tok, dir, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    m.cfg.n_eos = 0;  // first run: nothing stops it
    int prompt[] = {5, 6, 7, 8};
    const int *prompts[] = {prompt};
    int len = 4;
    uint64_t id = 3;
    sampling_params p;
    sampling_params_default(&p);
    p.max_new_tokens = 40;
    p.seed = 11;
    completion free_run, stopped, eos;
    CHECK(generate(&m, tok, 1, prompts, &len, &id, &p, 0, &free_run, &e) == 0, "%s", e.msg);
    CHECK(free_run.n == 40 && free_run.finish == FINISH_LENGTH, "n %d finish %d", free_run.n, free_run.finish);
    // Stop at a piece of text from the middle of the free run: same seed, so the same tokens until the stop.
    size_t tl = strlen(free_run.text);
    CHECK(tl > 12, "free run text too short (%zu bytes)", tl);
    char stop[5] = {0};
    memcpy(stop, free_run.text + tl / 2, 4);
    p.stop[0] = stop;
    CHECK(generate(&m, tok, 1, prompts, &len, &id, &p, 0, &stopped, &e) == 0, "%s", e.msg);
    const char *first = strstr(free_run.text, stop);
    CHECK(stopped.finish == FINISH_STOP, "finish %d", stopped.finish);
    CHECK(first && strlen(stopped.text) == (size_t)(first - free_run.text) &&
              strncmp(stopped.text, free_run.text, strlen(stopped.text)) == 0,
          "stopped text '%s' is not the free run cut before '%s'", stopped.text, stop);
    CHECK(stopped.n <= free_run.n && memcmp(stopped.ids, free_run.ids, stopped.n * sizeof(int)) == 0,
          "stopped ids are not a prefix");
    // A stop string across a token boundary: 2 bytes before the text of the first k tokens ends, 2 after.
    size_t lb = 0;
    for (int k = free_run.n / 2; k < free_run.n && !lb; k++) {
        char *pre = tokenizer_decode(tok, free_run.ids, k, 1);
        size_t l = strlen(pre);
        if (l >= 2 && l + 2 <= tl && !strncmp(pre, free_run.text, l)) lb = l;
        free(pre);
    }
    CHECK(lb > 0, "no token boundary in the second half of the free run");
    if (lb) {
        char across[5] = {0}, *want;
        memcpy(across, free_run.text + lb - 2, 4);
        p.stop[0] = across;
        completion straddled;
        CHECK(generate(&m, tok, 1, prompts, &len, &id, &p, 0, &straddled, &e) == 0, "%s", e.msg);
        int at = stop_reference(tok, &p, free_run.ids, free_run.n, &want);
        CHECK(at > 0 && straddled.finish == FINISH_STOP && straddled.n == at && want && !strcmp(straddled.text, want),
              "stop '%s' across tokens: %d tokens, '%s'; want %d, '%s'", across, straddled.n, straddled.text, at,
              want ? want : "");
        free(want);
        completion_free(&straddled);
    }
    // EOS: make the 10th sampled token an end-of-sequence id.
    p.stop[0] = NULL;
    m.cfg.n_eos = 1;
    m.cfg.eos_token_ids[0] = free_run.ids[9];
    int first_eos = 0;
    while (free_run.ids[first_eos] != free_run.ids[9]) first_eos++;
    CHECK(generate(&m, tok, 1, prompts, &len, &id, &p, 0, &eos, &e) == 0, "%s", e.msg);
    CHECK(eos.finish == FINISH_EOS && eos.n == first_eos + 1, "eos: finish %d after %d tokens (want %d)", eos.finish,
          eos.n, first_eos + 1);
    completion_free(&free_run), completion_free(&stopped), completion_free(&eos);
    tokenizer_free(tok);
    model_free(&m);
}

// gen_batch's schedule with shared prefixes, on a cache that only records: the first of identical prompts is
// prefilled whole, the others wait one step and copy all but its last token; a variation copies the prefix it
// shares; a prompt sharing fewer than 8 tokens, or sharing off, is prefilled whole. Every completion still gets
// max_new_tokens draws, in token order.
typedef struct {
    int len[8], copies, copied[8][2];
} fake_cache;

static void fake_reset(void *ctx, int slot) { ((fake_cache *)ctx)->len[slot] = 0; }
static void fake_copy(void *ctx, int from, int to, int n) {
    fake_cache *f = ctx;
    CHECK(f->len[from] >= n, "copy of %d positions from slot %d, which holds %d", n, from, f->len[from]);
    f->copied[f->copies][0] = from, f->copied[f->copies][1] = n;
    f->copies++;
    f->len[to] = n;
}

static void prefix_schedule(void) {
    int a[20], b[20], c[20];
    for (int t = 0; t < 20; t++) a[t] = b[t] = t + 1, c[t] = 100 + t;
    b[15] = 0;  // b shares 15 tokens with a
    c[0] = 1, c[1] = 2, c[2] = 3;  // c shares 3
    const int *prompts[] = {a, a, b, c, a};
    int lens[] = {20, 20, 20, 20, 20};
    for (int share = 0; share < 2; share++) {
        sampling_params p;
        sampling_params_default(&p);
        p.max_new_tokens = 3;
        p.share_prefix = share;
        completion out[5];
        gen_batch gb;
        mg_err e;
        CHECK(gen_batch_init(&gb, 5, prompts, lens, &p, 0, 64, out, &e) == 0, "%s", e.msg);
        fake_cache f = {0};
        gen_batch_cache cache = {fake_reset, fake_copy, &f};
        int steps = 0;
        while (!gen_batch_done(&gb) && steps < 20) {
            int rows = gen_batch_next(&gb, &cache);
            for (int i = 0; i < gb.n_tokens; i++) f.len[gb.slot_of[i]]++;
            for (int r = 0; r < rows; r++) gen_batch_accept(&gb, r, 1, -0.5f, 0, NULL);
            steps++;
        }
        CHECK(gen_batch_done(&gb), "share %d: not done after %d steps", share, steps);
        for (int i = 0; i < 5; i++) CHECK(out[i].n == 3, "share %d: prompt %d got %d tokens", share, i, out[i].n);
        if (share) {
            // step 0: a (slot 0) and c whole; step 1: slots 1, 4 copy 19 positions of slot 0, slot 2 copies 15
            CHECK(f.copies == 3 && gb.shared_tokens == 19 + 15 + 19, "%d copies, %ld tokens shared", f.copies,
                  gb.shared_tokens);
            for (int k = 0; k < f.copies; k++) CHECK(f.copied[k][0] == 0, "copy %d from slot %d", k, f.copied[k][0]);
            CHECK(steps == 4, "share: %d steps (one more than unshared for the waiting prompts)", steps);
        } else {
            CHECK(f.copies == 0 && gb.shared_tokens == 0, "sharing off: %d copies", f.copies);
            CHECK(steps == 3, "no sharing: %d steps", steps);
        }
        gen_batch_free(&gb, 0);
        for (int i = 0; i < 5; i++) completion_free(&out[i]);
    }
}

int main(void) {
    prefix_schedule();
    distributions();
    incremental_stops();
    stops_and_eos();
    return test_summary("test_sampler");
}
