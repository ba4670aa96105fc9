// Byte-level BPE parity with Hugging Face `tokenizers`: every string of tests/parity/fixtures/tokenizers/
// tokenizer_cases.json (written by make_tokenizer_fixtures.py) must encode to HF's ids and decode to HF's text,
// for the llama3, qwen2 and gpt2 fixture tokenizers and a few edited variants of them. So must the strings of
// bundled_cases.json (make_bundled_tokenizer_fixtures.py) through the bundled models' own tokenizers
// (data/models/*): those models were trained and are searched with this tokenizer, and this ties them to HF.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/tokenizer.h"
#include "testing.h"

#define DIR "tests/parity/fixtures/tokenizers"

static int g_reported;  // mismatch details printed so far (the first few only)

static int ids_equal(const int *got, int n, json_t *want) {
    if ((size_t)n != json_array_size(want)) return 0;
    for (int i = 0; i < n; i++)
        if (got[i] != (int)json_integer_value(json_array_get(want, (size_t)i))) return 0;
    return 1;
}

static void report_ids(const char *what, const char *text, const int *got, int n, json_t *want) {
    if (g_reported++ >= 12) return;
    fprintf(stderr, "MISMATCH %s for \"", what);
    for (const char *p = text; *p; p++) fprintf(stderr, (unsigned char)*p < 0x20 ? "\\x%02x" : "%c", *p);
    fprintf(stderr, "\"\n  got: ");
    for (int i = 0; i < n; i++) fprintf(stderr, "%d ", got[i]);
    fprintf(stderr, "\n  HF:  ");
    for (size_t i = 0; i < json_array_size(want); i++) fprintf(stderr, "%d ", (int)json_integer_value(json_array_get(want, i)));
    fprintf(stderr, "\n");
}

// Encodes strings[index] and compares with want; returns 1 if equal.
static int check_encode(const tokenizer *t, json_t *strings, int index, int add_special, json_t *want,
                        const char *what) {
    json_t *s = json_array_get(strings, (size_t)index);
    int *ids, n;
    mg_err e = {{0}};
    if (tokenizer_encode(t, json_string_value(s), json_string_length(s), add_special, &ids, &n, &e)) {
        if (g_reported++ < 12) fprintf(stderr, "MISMATCH %s: encode failed: %s\n", what, e.msg);
        return 0;
    }
    int ok = ids_equal(ids, n, want);
    if (!ok) report_ids(what, json_string_value(s), ids, n, want);
    free(ids);
    return ok;
}

static int check_decode(const tokenizer *t, json_t *ids_json, int skip, const char *want, size_t want_len,
                        const char *what) {
    int n = (int)json_array_size(ids_json);
    int *ids = malloc((size_t)(n + 1) * sizeof *ids);
    for (int i = 0; i < n; i++) ids[i] = (int)json_integer_value(json_array_get(ids_json, (size_t)i));
    char *got = tokenizer_decode(t, ids, n, skip);
    // Decoded text may hold a NUL (byte 0) that the C string ends at; compare what C can see.
    size_t visible = strlen(want) < want_len ? strlen(want) : want_len;
    int ok = strlen(got) == visible && memcmp(got, want, visible) == 0;
    if (!ok && g_reported++ < 12) fprintf(stderr, "MISMATCH %s: decode got \"%s\" HF \"%s\"\n", what, got, want);
    free(got);
    free(ids);
    return ok;
}

// index -> string overrides stored as [[index, text], ...]
static json_t *override_for(json_t *pairs, int index) {
    size_t i;
    json_t *p;
    json_array_foreach(pairs, i, p) if (json_integer_value(json_array_get(p, 0)) == index) return json_array_get(p, 1);
    return NULL;
}

static void check_family(const char *name, json_t *fam, json_t *strings) {
    char path[256];
    snprintf(path, sizeof path, DIR "/%s", name);
    tokenizer *t;
    mg_err e = {{0}};
    if (tokenizer_load(&t, path, &e)) {
        CHECK(0, "load %s: %s", path, e.msg);
        return;
    }
    CHECK(tokenizer_vocab_size(t) == json_integer_value(json_object_get(fam, "vocab_size")), "%s vocab size %d",
          name, tokenizer_vocab_size(t));
    CHECK(tokenizer_bos_id(t) == json_integer_value(json_object_get(fam, "bos_id")), "%s bos %d", name,
          tokenizer_bos_id(t));
    CHECK(tokenizer_eos_id(t) == json_integer_value(json_object_get(fam, "eos_id")), "%s eos %d", name,
          tokenizer_eos_id(t));

    json_t *all_ids = json_object_get(fam, "ids"), *decoded = json_object_get(fam, "decoded");
    json_t *decoded_skip = json_object_get(fam, "decoded_skip");
    int n = (int)json_array_size(strings), enc_ok = 0, dec_ok = 0, skip_ok = 0, special_ok = 0, special_n = 0;
    for (int i = 0; i < n; i++) {
        json_t *want = json_array_get(all_ids, (size_t)i);
        enc_ok += check_encode(t, strings, i, 0, want, name);
        json_t *text = override_for(decoded, i);
        if (!text) text = json_array_get(strings, (size_t)i);
        dec_ok += check_decode(t, want, 0, json_string_value(text), json_string_length(text), name);
        json_t *skip = override_for(decoded_skip, i);
        if (!skip) skip = text;
        skip_ok += check_decode(t, want, 1, json_string_value(skip), json_string_length(skip), name);
    }
    size_t k;
    json_t *pair;
    json_array_foreach(json_object_get(fam, "ids_special"), k, pair) {
        special_n++;
        special_ok += check_encode(t, strings, (int)json_integer_value(json_array_get(pair, 0)), 1,
                                   json_array_get(pair, 1), name);
    }
    int arb_ok = 0, arb_n = 0;
    json_t *c;
    json_array_foreach(json_object_get(fam, "decode_cases"), k, c) {
        json_t *text = json_object_get(c, "text"), *skip = json_object_get(c, "skip");
        arb_n += 2;
        arb_ok += check_decode(t, json_object_get(c, "ids"), 0, json_string_value(text), json_string_length(text), name);
        arb_ok += check_decode(t, json_object_get(c, "ids"), 1, json_string_value(skip), json_string_length(skip), name);
    }
    printf("%-7s %d/%d strings encode as HF, %d/%d with special tokens; decode %d/%d, skip_special %d/%d, "
           "id sequences %d/%d\n",
           name, enc_ok, n, special_ok, special_n, dec_ok, n, skip_ok, n, arb_ok, arb_n);
    CHECK(enc_ok == n, "%s: %d of %d encodings differ from HF", name, n - enc_ok, n);
    CHECK(special_ok == special_n, "%s: %d add_special_tokens encodings differ", name, special_n - special_ok);
    CHECK(dec_ok == n && skip_ok == n, "%s: %d decodes differ", name, 2 * n - dec_ok - skip_ok);
    CHECK(arb_ok == arb_n, "%s: %d id-sequence decodes differ", name, arb_n - arb_ok);
    tokenizer_free(t);
}

// A variant: the family's tokenizer.json with [[key path], value] edits, loaded from memory.
static void check_variant(json_t *v, json_t *strings) {
    const char *family = json_string_value(json_object_get(v, "family"));
    const char *name = json_string_value(json_object_get(v, "name"));
    char path[256];
    snprintf(path, sizeof path, DIR "/%s/tokenizer.json", family);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (!root) {
        CHECK(0, "%s: %s", path, jerr.text);
        return;
    }
    size_t i;
    json_t *edit;
    json_array_foreach(json_object_get(v, "set"), i, edit) {
        json_t *keys = json_array_get(edit, 0), *node = root;
        size_t depth = json_array_size(keys);
        for (size_t d = 0; d + 1 < depth; d++) node = json_object_get(node, json_string_value(json_array_get(keys, d)));
        json_object_set(node, json_string_value(json_array_get(keys, depth - 1)), json_array_get(edit, 1));
    }
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    tokenizer *t;
    mg_err e = {{0}};
    if (tokenizer_load_from_memory(&t, text, strlen(text), NULL, 0, name, &e)) {
        CHECK(0, "variant %s: %s", name, e.msg);
        free(text);
        return;
    }
    int ok = 0, n = 0;
    json_t *pair;
    json_array_foreach(json_object_get(v, "cases"), i, pair) {
        n++;
        ok += check_encode(t, strings, (int)json_integer_value(json_array_get(pair, 0)), 0, json_array_get(pair, 1),
                           name);
    }
    printf("variant %s/%s: %d/%d strings encode as HF\n", family, name, ok, n);
    CHECK(ok == n && n > 0, "variant %s: %d of %d differ", name, n - ok, n);
    tokenizer_free(t);
    free(text);
}

// The fuzzer's seeds are shrunk tokenizers with extra features (unk_token + fuse_unk, a literal Split,
// add_prefix_space + NFC): tokenizer.json NUL text [NUL config]. HF's ids for them are in the cases file.
static void check_seed(json_t *seed) {
    const char *path = json_string_value(json_object_get(seed, "file"));
    FILE *f = fopen(path, "rb");
    if (!f) {
        CHECK(0, "cannot open %s", path);
        return;
    }
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    const char *sep = memchr(buf, '\0', n);
    if (!sep) {
        CHECK(0, "%s: no NUL separator", path);
        return;
    }
    size_t json_len = (size_t)(sep - buf), text_len = n - json_len - 1;
    const char *text = sep + 1, *sep2 = memchr(text, '\0', text_len);
    if (sep2) text_len = (size_t)(sep2 - text);
    tokenizer *t;
    mg_err e = {{0}};
    if (tokenizer_load_from_memory(&t, buf, json_len, NULL, 0, path, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    for (int special = 0; special < 2; special++) {
        int *ids, count;
        json_t *want = json_object_get(seed, special ? "ids_special" : "ids");
        CHECK(tokenizer_encode(t, text, text_len, special, &ids, &count, &e) == 0, "%s", e.msg);
        int ok = ids_equal(ids, count, want);
        if (!ok) report_ids(path, text, ids, count, want);
        CHECK(ok, "%s (add_special_tokens %d) differs from HF", path, special);
        free(ids);
    }
    tokenizer_free(t);
}

// A bundled model's tokenizer on text of its own kind (held-out documents, Semantle nouns, strings outside the corpus).
static void check_bundled(const char *name, json_t *m) {
    char dir[256];
    snprintf(dir, sizeof dir, "data/models/%s", name);
    tokenizer *t;
    mg_err e = {{0}};
    if (tokenizer_load(&t, dir, &e)) {
        CHECK(0, "load %s: %s", dir, e.msg);
        return;
    }
    CHECK(tokenizer_vocab_size(t) == json_integer_value(json_object_get(m, "vocab_size")) &&
              tokenizer_eos_id(t) == json_integer_value(json_object_get(m, "eos_id")),
          "%s: vocab size %d, eos %d", name, tokenizer_vocab_size(t), tokenizer_eos_id(t));
    json_t *strings = json_object_get(m, "strings"), *all = json_object_get(m, "ids");
    json_t *decoded = json_object_get(m, "decoded");
    int n = (int)json_array_size(strings), enc_ok = 0, dec_ok = 0;
    CHECK(n > 100 && json_array_size(all) == (size_t)n, "%s: %d strings, %zu id lists", name, n, json_array_size(all));
    for (int i = 0; i < n; i++) {
        json_t *want = json_array_get(all, (size_t)i), *text = override_for(decoded, i);
        if (!text) text = json_array_get(strings, (size_t)i);
        enc_ok += check_encode(t, strings, i, 0, want, name);
        dec_ok += check_decode(t, want, 0, json_string_value(text), json_string_length(text), name);
    }
    printf("%-14s %d/%d strings of its own kind encode as HF; decode %d/%d\n", name, enc_ok, n, dec_ok, n);
    CHECK(enc_ok == n && dec_ok == n, "%s: %d encodings and %d decodes differ from HF", name, n - enc_ok, n - dec_ok);
    tokenizer_free(t);
}

int main(void) {
    json_error_t jerr;
    json_t *cases = json_load_file(DIR "/tokenizer_cases.json", JSON_ALLOW_NUL, &jerr);
    if (!cases) {
        fprintf(stderr, "%s: %s (line %d)\n", DIR "/tokenizer_cases.json", jerr.text, jerr.line);
        return 1;
    }
    json_t *strings = json_object_get(cases, "strings"), *families = json_object_get(cases, "families");
    CHECK(json_array_size(strings) >= 2000, "only %zu strings", json_array_size(strings));
    const char *key;
    json_t *fam;
    json_object_foreach(families, key, fam) check_family(key, fam, strings);
    CHECK(json_object_size(families) == 3, "expected 3 families");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(cases, "variants"), i, v) check_variant(v, strings);
    json_array_foreach(json_object_get(cases, "seeds"), i, v) check_seed(v);
    printf("fuzz seeds: %zu shrunk tokenizers checked against HF\n", json_array_size(json_object_get(cases, "seeds")));
    json_decref(cases);
    cases = json_load_file(DIR "/bundled_cases.json", 0, &jerr);
    CHECK(cases != NULL, "%s:%d: %s", DIR "/bundled_cases.json", jerr.line, jerr.text);
    json_object_foreach(cases, key, fam) check_bundled(key, fam);
    CHECK(json_object_size(cases) == 4, "expected the 4 bundled models, got %zu", json_object_size(cases));
    json_decref(cases);
    return test_summary("test_tokenizer_parity");
}
