// SentencePiece-style BPE parity with Hugging Face `tokenizers` (Llama-2 / Mistral layouts, byte fallback): every
// string of tests/parity/fixtures/tokenizers/sp_tokenizer_cases.json (written by make_sp_tokenizer_fixtures.py)
// must encode to HF's ids, with and without add_special_tokens, and decode to HF's text, with and without
// skip_special_tokens, for the llama2-sp and mistral-sp fixture tokenizers, edited variants of them, and the
// fuzzer's SentencePiece seeds.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/tokenizer.h"
#include "testing.h"

#define DIR "tests/parity/fixtures/tokenizers"

static int g_reported;  // mismatch details printed so far (the first few only)

static void print_escaped(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fprintf(stderr, *p < 0x20 || *p == 0x7F ? "\\x%02x" : "%c", *p);
}

static int *json_ids(json_t *arr, int prefix, int *n) {
    int count = (int)json_array_size(arr), k = 0;
    int *ids = malloc((size_t)(count + 2) * sizeof *ids);
    if (prefix >= 0) ids[k++] = prefix;
    for (int i = 0; i < count; i++) ids[k++] = (int)json_integer_value(json_array_get(arr, (size_t)i));
    *n = k;
    return ids;
}

// Encodes text; 1 if the ids are want (with `prefix` in front when >= 0).
static int check_encode(const tokenizer *t, json_t *text, int add_special, int prefix, json_t *want,
                        const char *what) {
    int *ids, n, wn;
    mg_err e = {{0}};
    if (tokenizer_encode(t, json_string_value(text), json_string_length(text), add_special, &ids, &n, &e)) {
        if (g_reported++ < 12) fprintf(stderr, "MISMATCH %s: encode failed: %s\n", what, e.msg);
        return 0;
    }
    int *w = json_ids(want, prefix, &wn);
    int ok = n == wn && memcmp(ids, w, (size_t)n * sizeof *ids) == 0;
    if (!ok && g_reported++ < 12) {
        fprintf(stderr, "MISMATCH %s (add_special %d) for \"", what, add_special);
        print_escaped(json_string_value(text));
        fprintf(stderr, "\"\n  got:");
        for (int i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n  HF: ");
        for (int i = 0; i < wn; i++) fprintf(stderr, " %d", w[i]);
        fprintf(stderr, "\n");
    }
    free(w);
    free(ids);
    return ok;
}

// Decodes ids (with prefix in front when >= 0); 1 if the text is want.
static int check_decode(const tokenizer *t, json_t *ids_json, int prefix, int skip, json_t *want, const char *what) {
    int n;
    int *ids = json_ids(ids_json, prefix, &n);
    char *got = tokenizer_decode(t, ids, n, skip);
    // Decoded text may hold a NUL (byte 0) that the C string ends at; compare what C can see.
    const char *w = json_string_value(want);
    size_t visible = strlen(w) < json_string_length(want) ? strlen(w) : json_string_length(want);
    int ok = strlen(got) == visible && memcmp(got, w, visible) == 0;
    if (!ok && g_reported++ < 12) {
        fprintf(stderr, "MISMATCH %s: decode (skip %d) got \"", what, skip);
        print_escaped(got);
        fprintf(stderr, "\" HF \"");
        print_escaped(w);
        fprintf(stderr, "\"\n");
    }
    free(got);
    free(ids);
    return ok;
}

// [[index, value], ...] -> value for index, or NULL.
static json_t *override_for(json_t *pairs, int index) {
    size_t i;
    json_t *p;
    json_array_foreach(pairs, i, p) if (json_integer_value(json_array_get(p, 0)) == index) return json_array_get(p, 1);
    return NULL;
}

static void check_tokenizer(const char *name, json_t *fam, json_t *base_ids, json_t *strings) {
    char path[256];
    snprintf(path, sizeof path, DIR "/%s", name);
    tokenizer *t;
    mg_err e = {{0}};
    if (tokenizer_load(&t, path, &e)) {
        CHECK(0, "load %s: %s", path, e.msg);
        return;
    }
    CHECK(tokenizer_vocab_size(t) == json_integer_value(json_object_get(fam, "vocab_size")), "%s vocab size %d", name,
          tokenizer_vocab_size(t));
    int bos = tokenizer_bos_id(t);
    CHECK(bos == 1 && tokenizer_eos_id(t) == 2, "%s bos %d eos %d (want 1, 2)", name, bos, tokenizer_eos_id(t));
    CHECK(tokenizer_is_special(t, 0) && tokenizer_is_special(t, 1) && !tokenizer_is_special(t, 3), "%s specials",
          name);
    json_t *own = json_object_get(fam, "ids"), *differing = json_object_get(fam, "ids_differing");
    json_t *decoded = json_object_get(fam, "decoded"), *decoded_skip = json_object_get(fam, "decoded_skip");
    int n = (int)json_array_size(strings), enc = 0, enc_special = 0, dec = 0, dec_skip = 0;
    for (int i = 0; i < n; i++) {
        json_t *s = json_array_get(strings, (size_t)i), *want = own ? json_array_get(own, (size_t)i) : NULL;
        if (!want) want = override_for(differing, i);
        if (!want) want = json_array_get(base_ids, (size_t)i);
        enc += check_encode(t, s, 0, -1, want, name);
        enc_special += check_encode(t, s, 1, bos, want, name);  // HF's template adds <s> (checked by the script)
        json_t *text = override_for(decoded, i);
        if (!text) text = s;
        dec += check_decode(t, want, -1, 0, text, name);
        json_t *skip = override_for(decoded_skip, i);
        if (!skip) skip = text;
        dec_skip += check_decode(t, want, bos, 1, skip, name);
    }
    int arb = 0, arb_n = 0;
    size_t k;
    json_t *c;
    json_array_foreach(json_object_get(fam, "decode_cases"), k, c) {
        arb_n += 2;
        arb += check_decode(t, json_object_get(c, "ids"), -1, 0, json_object_get(c, "text"), name);
        arb += check_decode(t, json_object_get(c, "ids"), -1, 1, json_object_get(c, "skip"), name);
    }
    printf("%-10s %d of %d encodings equal, %d of %d with add_special_tokens; decodes %d of %d, skip_special "
           "%d of %d; arbitrary id sequences %d of %d\n",
           name, enc, n, enc_special, n, dec, n, dec_skip, n, arb, arb_n);
    CHECK(enc == n && enc_special == n, "%s: %d encodings differ from HF", name, 2 * n - enc - enc_special);
    CHECK(dec == n && dec_skip == n, "%s: %d decodes differ from HF", name, 2 * n - dec - dec_skip);
    CHECK(arb == arb_n, "%s: %d id-sequence decodes differ", name, arb_n - arb);
    tokenizer_free(t);
}

// A variant: the tokenizer.json with [[key path], value] edits, loaded from memory; cases are
// [index, ids(, decode when it differs from the string)].
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
    int enc = 0, dec = 0, n = 0;
    json_t *c;
    json_array_foreach(json_object_get(v, "cases"), i, c) {
        json_t *s = json_array_get(strings, (size_t)json_integer_value(json_array_get(c, 0)));
        json_t *want_text = json_array_size(c) > 2 ? json_array_get(c, 2) : s;
        n++;
        enc += check_encode(t, s, 0, -1, json_array_get(c, 1), name);
        dec += check_decode(t, json_array_get(c, 1), -1, 0, want_text, name);
    }
    printf("variant %s/%s: %d of %d encodings equal, %d of %d decodes\n", family, name, enc, n, dec, n);
    CHECK(enc == n && dec == n && n > 0, "variant %s: %d of %d differ", name, 2 * n - enc - dec, 2 * n);
    tokenizer_free(t);
    free(text);
}

// The fuzzer's SentencePiece seeds: tokenizer.json NUL text, with HF's ids in the cases file.
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
    size_t json_len = (size_t)(sep - buf);
    tokenizer *t;
    mg_err e = {{0}};
    if (tokenizer_load_from_memory(&t, buf, json_len, NULL, 0, path, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    json_t *text = json_stringn(sep + 1, n - json_len - 1);
    CHECK(check_encode(t, text, 0, -1, json_object_get(seed, "ids"), path), "%s differs from HF", path);
    CHECK(check_encode(t, text, 1, -1, json_object_get(seed, "ids_special"), path), "%s (special) differs", path);
    json_decref(text);
    tokenizer_free(t);
}

// What the engine does not reproduce is refused by key: the llama2-sp / mistral-sp file with one edit
// ([[key path], value] as JSON) must fail to load with a message containing `want`.
static void check_refused(const char *family, const char *edit_json, const char *want) {
    char path[256];
    snprintf(path, sizeof path, DIR "/%s/tokenizer.json", family);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr), *edit = json_loads(edit_json, 0, &jerr);
    if (!root || !edit) {
        CHECK(0, "%s / edit %s: %s", path, edit_json, jerr.text);
        json_decref(root);
        json_decref(edit);
        return;
    }
    json_t *keys = json_array_get(edit, 0), *node = root;
    size_t depth = json_array_size(keys);
    for (size_t d = 0; d + 1 < depth; d++) {
        json_t *key = json_array_get(keys, d);
        node = json_is_integer(key) ? json_array_get(node, (size_t)json_integer_value(key))
                                    : json_object_get(node, json_string_value(key));
    }
    json_object_set(node, json_string_value(json_array_get(keys, depth - 1)), json_array_get(edit, 1));
    char *text = json_dumps(root, JSON_COMPACT);
    tokenizer *t = NULL;
    mg_err e = {{0}};
    int rc = tokenizer_load_from_memory(&t, text, strlen(text), NULL, 0, family, &e);
    CHECK(rc != 0 && strstr(e.msg, want) && !strchr(e.msg, '\n'), "edit %s: expected an error with '%s', got %s",
          edit_json, want, rc ? e.msg : "a tokenizer");
    tokenizer_free(t);
    free(text);
    json_decref(edit);
    json_decref(root);
}

static void check_refusals(void) {
    check_refused("llama2-sp", "[[\"normalizer\",\"normalizers\",1,\"pattern\"],{\"Regex\":\" \"}]",
                  "normalizer.normalizers[1].pattern.Regex");
    check_refused("llama2-sp", "[[\"normalizer\",\"normalizers\",0,\"type\"],\"Lowercase\"]",
                  "normalizer.normalizers[0].type");
    check_refused("llama2-sp", "[[\"decoder\",\"decoders\",1,\"type\"],\"CTC\"]", "decoder.decoders[1].type");
    check_refused("llama2-sp", "[[\"decoder\",\"decoders\",3,\"content\"],\"ab\"]",
                  "decoder.decoders[3].content");
    check_refused("llama2-sp", "[[\"decoder\",\"decoders\",0,\"pattern\"],{\"Regex\":\"x\"}]",
                  "decoder.decoders[0].pattern.Regex");
    check_refused("llama2-sp", "[[\"decoder\"],{\"type\":\"ByteLevel\"}]", "decoder.type");
    check_refused("llama2-sp", "[[\"pre_tokenizer\"],{\"type\":\"ByteLevel\"}]", "model.byte_fallback");
    check_refused("llama2-sp", "[[\"model\",\"continuing_subword_prefix\"],\"##\"]",
                  "model.continuing_subword_prefix");
    check_refused("mistral-sp", "[[\"pre_tokenizer\",\"prepend_scheme\"],\"sometimes\"]",
                  "pre_tokenizer.prepend_scheme");
    check_refused("mistral-sp", "[[\"pre_tokenizer\",\"replacement\"],\"__\"]", "pre_tokenizer.replacement");
    check_refused("mistral-sp", "[[\"decoder\",\"prepend_scheme\"],3]", "decoder.prepend_scheme");
    check_refused("mistral-sp",
                  "[[\"pre_tokenizer\"],{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\","
                  "\"pattern\":{\"String\":\"x\"},\"behavior\":\"Isolated\"},{\"type\":\"Metaspace\","
                  "\"replacement\":\"_\"}]}]",
                  "pre_tokenizer.pretokenizers[1]: Metaspace is supported only as the sole pre-tokenizer");
}

int main(void) {
    check_refusals();
    json_error_t jerr;
    json_t *cases = json_load_file(DIR "/sp_tokenizer_cases.json", JSON_ALLOW_NUL, &jerr);
    if (!cases) {
        fprintf(stderr, "%s: %s (line %d)\n", DIR "/sp_tokenizer_cases.json", jerr.text, jerr.line);
        return 1;
    }
    json_t *strings = json_object_get(cases, "strings"), *toks = json_object_get(cases, "tokenizers");
    CHECK(json_array_size(strings) >= 2000, "only %zu strings", json_array_size(strings));
    json_t *base_ids = json_object_get(json_object_get(toks, "llama2-sp"), "ids");
    CHECK(json_object_size(toks) == 2 && json_array_size(base_ids) == json_array_size(strings),
          "expected llama2-sp (with every string's ids) and mistral-sp");
    const char *key;
    json_t *fam;
    json_object_foreach(toks, key, fam) check_tokenizer(key, fam, base_ids, strings);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(cases, "variants"), i, v) check_variant(v, strings);
    json_array_foreach(json_object_get(cases, "seeds"), i, v) check_seed(v);
    printf("fuzz seeds: %zu SentencePiece-style tokenizers checked against HF\n",
           json_array_size(json_object_get(cases, "seeds")));
    json_decref(cases);
    return test_summary("test_sp_tokenizer_parity");
}
