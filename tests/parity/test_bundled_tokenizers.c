// The bundled models' tokenizers (data/models/*/tokenizer.json) against Hugging Face `tokenizers`: every string of
// tests/parity/fixtures/tokenizers/bundled_cases.json (written by make_bundled_tokenizer_fixtures.py: each model's
// held-out documents, Semantle nouns, a few strings outside the corpus) must encode to HF's ids and decode to HF's
// text. The models were trained and are searched with the C tokenizer; this is what ties them to transformers.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/tokenizer.h"
#include "testing.h"

#define CASES "tests/parity/fixtures/tokenizers/bundled_cases.json"

static int g_reported;  // mismatches printed so far (the first few only)

static void check_model(const char *name, json_t *m) {
    char dir[256];
    snprintf(dir, sizeof dir, "data/models/%s", name);
    tokenizer *t;
    mg_err e = {{0}};
    if (tokenizer_load(&t, dir, &e)) {
        CHECK(0, "load %s: %s", dir, e.msg);
        return;
    }
    CHECK(tokenizer_vocab_size(t) == json_integer_value(json_object_get(m, "vocab_size")), "%s: vocab size %d", name,
          tokenizer_vocab_size(t));
    CHECK(tokenizer_eos_id(t) == json_integer_value(json_object_get(m, "eos_id")), "%s: eos %d", name,
          tokenizer_eos_id(t));
    json_t *strings = json_object_get(m, "strings"), *all = json_object_get(m, "ids");
    json_t *decoded = json_object_get(m, "decoded");
    int n = (int)json_array_size(strings), enc_ok = 0, dec_ok = 0, tokens = 0;
    CHECK(n > 100 && json_array_size(all) == (size_t)n, "%s: %d strings, %zu id lists", name, n, json_array_size(all));
    for (int i = 0; i < n; i++) {
        json_t *s = json_array_get(strings, (size_t)i), *want = json_array_get(all, (size_t)i);
        int *ids = NULL, k = 0;
        if (tokenizer_encode(t, json_string_value(s), json_string_length(s), 0, &ids, &k, &e)) {
            CHECK(0, "%s: encode of string %d failed: %s", name, i, e.msg);
            continue;
        }
        int same = (size_t)k == json_array_size(want);
        for (int j = 0; same && j < k; j++) same = ids[j] == (int)json_integer_value(json_array_get(want, (size_t)j));
        enc_ok += same, tokens += k;
        if (!same && g_reported++ < 8) fprintf(stderr, "%s: string %d \"%.60s\" encodes to %d ids, HF %zu\n", name, i,
                                               json_string_value(s), k, json_array_size(want));
        // HF's decode: the string itself unless the fixture lists another text for it
        const char *text = json_string_value(s);
        size_t text_len = json_string_length(s), x;
        json_t *pair;
        json_array_foreach(decoded, x, pair) if (json_integer_value(json_array_get(pair, 0)) == i) {
            text = json_string_value(json_array_get(pair, 1)), text_len = json_string_length(json_array_get(pair, 1));
        }
        char *got = tokenizer_decode(t, ids, k, 0);  // the fixture's strings hold no NUL
        dec_ok += strlen(got) == text_len && !memcmp(got, text, text_len);
        free(got), free(ids);
    }
    printf("%-15s %d/%d strings (%d tokens) encode as HF; %d/%d decode as HF\n", name, enc_ok, n, tokens, dec_ok, n);
    CHECK(enc_ok == n, "%s: %d of %d encodings differ from HF", name, n - enc_ok, n);
    CHECK(dec_ok == n, "%s: %d of %d decodes differ from HF", name, n - dec_ok, n);
    tokenizer_free(t);
}

int main(void) {
    json_error_t jerr;
    json_t *cases = json_load_file(CASES, 0, &jerr);
    if (!cases) {
        fprintf(stderr, "%s:%d: %s\n", CASES, jerr.line, jerr.text);
        return 1;
    }
    const char *name;
    json_t *m;
    json_object_foreach(cases, name, m) check_model(name, m);
    CHECK(json_object_size(cases) == 4, "expected the 4 bundled models, got %zu", json_object_size(cases));
    json_decref(cases);
    return test_summary("test_bundled_tokenizers");
}
