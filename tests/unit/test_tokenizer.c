// Tokenizer unit tests: bad files and bad input give one-line messages naming the file; a hand-built byte-level
// BPE (expected ids checked once against HF tokenizers 0.23.3) covers merges, unknown bytes, the template
// post-processor, added-token numbering, decoding and tokenizer_config.json. HF parity on real-shaped
// tokenizers is tests/parity/test_tokenizer_parity.c.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/tokenizer.h"
#include "testing.h"

#define GPT2_DIR "tests/parity/fixtures/tokenizers/gpt2"

// ---- a small byte-level BPE, built in memory ----

static int byte_to_cp(int b) {
    int extra = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) extra++;
    int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    return printable ? b : 256 + extra;
}

static json_t *byte_char(int b) {
    char s[3];
    int cp = byte_to_cp(b);
    if (cp < 0x80) s[0] = (char)cp, s[1] = 0;
    else s[0] = (char)(0xC0 | (cp >> 6)), s[1] = (char)(0x80 | (cp & 0x3F)), s[2] = 0;
    return json_string(s);
}

static json_t *added_token(const char *content, int special) {
    return json_pack("{s:i,s:s,s:b,s:b,s:b,s:b,s:b}", "id", 0, "content", content, "special", special, "normalized",
                     !special, "lstrip", 0, "rstrip", 0, "single_word", 0);
}

// Vocabulary: every byte but 'z' (ids 0..254 in byte order), then he Ġt Ġthe ll llo <unk> (255..260);
// added <s> </s> (261, 262); template "<s> $A </s>".
static json_t *mini_json(const char *unk, int fuse_unk) {
    json_t *vocab = json_object();
    int id = 0;
    for (int b = 0; b < 256; b++) {
        if (b == 'z') continue;
        json_t *c = byte_char(b);
        json_object_set_new(vocab, json_string_value(c), json_integer(id++));
        json_decref(c);
    }
    const char *extra[] = {"he", "\xc4\xa0t", "\xc4\xa0the", "ll", "llo", "<unk>"};
    for (int i = 0; i < 6; i++) json_object_set_new(vocab, extra[i], json_integer(id++));
    json_t *merges = json_pack("[s,s,s,s,s]", "h e", "\xc4\xa0 t", "\xc4\xa0t he", "l l", "ll o");
    json_t *model = json_pack("{s:s,s:o,s:o,s:b,s:b}", "type", "BPE", "vocab", vocab, "merges", merges, "fuse_unk",
                              fuse_unk, "ignore_merges", 0);
    json_object_set_new(model, "unk_token", unk ? json_string(unk) : json_null());
    json_t *post = json_pack("{s:s,s:[{s:{s:s}},{s:{s:s}},{s:{s:s}}],s:{s:{s:[i]},s:{s:[i]}}}", "type",
                             "TemplateProcessing", "single", "SpecialToken", "id", "<s>", "Sequence", "id", "A",
                             "SpecialToken", "id", "</s>", "special_tokens", "<s>", "ids", 261, "</s>", "ids", 262);
    return json_pack("{s:o,s:[o,o],s:n,s:{s:s,s:b,s:b},s:o,s:{s:s}}", "model", model, "added_tokens",
                     added_token("<s>", 1), added_token("</s>", 1), "normalizer", "pre_tokenizer", "type",
                     "ByteLevel", "add_prefix_space", 0, "use_regex", 1, "post_processor", post, "decoder", "type",
                     "ByteLevel");
}

static tokenizer *load_json(json_t *j, const char *config, mg_err *e) {
    char *text = json_dumps(j, JSON_COMPACT);
    tokenizer *t = NULL;
    if (tokenizer_load_from_memory(&t, text, strlen(text), config, config ? strlen(config) : 0, "mini.json", e))
        t = NULL;
    free(text);
    return t;
}

static int encode_is(const tokenizer *t, const char *text, int add_special, const int *want, int n_want) {
    int *ids, n;
    mg_err e = {{0}};
    if (tokenizer_encode(t, text, strlen(text), add_special, &ids, &n, &e)) {
        fprintf(stderr, "encode \"%s\": %s\n", text, e.msg);
        return 0;
    }
    int ok = n == n_want && (n == 0 || memcmp(ids, want, (size_t)n * sizeof *ids) == 0);
    if (!ok) {
        fprintf(stderr, "encode \"%s\" gave", text);
        for (int i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
    }
    free(ids);
    return ok;
}

static int decode_is(const tokenizer *t, const int *ids, int n, int skip, const char *want) {
    char *got = tokenizer_decode(t, ids, n, skip);
    int ok = strcmp(got, want) == 0;
    if (!ok) fprintf(stderr, "decode gave \"%s\", want \"%s\"\n", got, want);
    free(got);
    return ok;
}

static void test_mini(void) {
    mg_err e = {{0}};
    json_t *j = mini_json("<unk>", 0);
    tokenizer *t = load_json(j, "{\"bos_token\": {\"content\": \"<s>\", \"lstrip\": false}, \"eos_token\": \"</s>\"}", &e);
    json_decref(j);
    CHECK(t != NULL, "mini: %s", e.msg);
    if (!t) return;
    CHECK(tokenizer_vocab_size(t) == 263, "vocab size %d", tokenizer_vocab_size(t));
    CHECK(tokenizer_bos_id(t) == 261 && tokenizer_eos_id(t) == 262, "bos %d eos %d", tokenizer_bos_id(t),
          tokenizer_eos_id(t));
    CHECK(tokenizer_token_id(t, "\xc4\xa0the") == 257 && tokenizer_token_id(t, "</s>") == 262, "token ids");
    CHECK(tokenizer_token_id(t, "zz") == -1, "absent token");
    CHECK(tokenizer_is_special(t, 261) && !tokenizer_is_special(t, 257) && !tokenizer_is_special(t, 9999), "special");

    CHECK(encode_is(t, " the hello", 0, (int[]){257, 32, 255, 259}, 4), "merges by rank");
    CHECK(encode_is(t, " the hello", 1, (int[]){261, 257, 32, 255, 259, 262}, 6), "template adds <s> ... </s>");
    CHECK(encode_is(t, "zzz az z", 0, (int[]){260, 260, 260, 32, 97, 260, 32, 260}, 8), "unknown bytes, unfused");
    CHECK(encode_is(t, "<s>x</s>", 1, (int[]){261, 261, 120, 262, 262}, 5), "added tokens in text");
    CHECK(encode_is(t, "", 1, (int[]){261, 262}, 2), "empty text still gets the template");
    CHECK(encode_is(t, "", 0, NULL, 0), "empty text");
    CHECK(decode_is(t, (int[]){261, 257, 32, 255, 259, 262}, 6, 0, "<s> the hello</s>"), "decode");
    CHECK(decode_is(t, (int[]){261, 257, 32, 255, 259, 262}, 6, 1, " the hello"), "decode skipping specials");
    CHECK(decode_is(t, (int[]){-5, 100000, 263, 104}, 4, 0, "h"), "unknown ids are dropped");
    // "é" is C3 A9: byte 0xC3 alone is a cut character -> U+FFFD; both bytes together -> é.
    int c3 = tokenizer_token_id(t, "\xc3\x83"), a9 = tokenizer_token_id(t, "\xc2\xa9");
    CHECK(decode_is(t, (int[]){c3}, 1, 0, "\xef\xbf\xbd") && decode_is(t, (int[]){c3, a9}, 2, 0, "\xc3\xa9") &&
              decode_is(t, (int[]){a9, c3, 104}, 3, 0, "\xef\xbf\xbd\xef\xbf\xbdh"),
          "split UTF-8 becomes U+FFFD");
    tokenizer_free(t);

    j = mini_json("<unk>", 1);
    t = load_json(j, NULL, &e);
    json_decref(j);
    CHECK(t && encode_is(t, "zzz az z", 0, (int[]){260, 32, 97, 260, 32, 260}, 6), "fuse_unk");
    CHECK(t && encode_is(t, "hezz", 0, (int[]){255, 260}, 2), "fuse_unk after a merge");
    CHECK(t && tokenizer_bos_id(t) == -1, "no config -> no bos");
    tokenizer_free(t);

    j = mini_json(NULL, 0);
    t = load_json(j, "{\"bos_token\": null, \"eos_token\": \"</s>\"}", &e);
    json_decref(j);
    CHECK(t && encode_is(t, "azb z", 0, (int[]){97, 98, 32}, 3), "no unk token: unknown bytes dropped");
    CHECK(t && tokenizer_bos_id(t) == -1 && tokenizer_eos_id(t) == 262, "null bos");
    tokenizer_free(t);
}

// HF numbers added tokens itself (file order; an existing vocab entry keeps its id), ignoring "id".
static void test_added_numbering(void) {
    const char *json =
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":5,\"ab\":7},\"merges\":[[\"a\",\"b\"]]},"
        "\"added_tokens\":[{\"id\":100,\"content\":\"X\",\"special\":true},{\"id\":50,\"content\":\"Y\"},"
        "{\"id\":3,\"content\":\"Z\",\"special\":true},{\"id\":0,\"content\":\"b\"},{\"id\":9,\"content\":\"W\"}],"
        "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false},\"decoder\":{\"type\":\"ByteLevel\"}}";
    tokenizer *t;
    mg_err e = {{0}};
    CHECK(tokenizer_load_from_memory(&t, json, strlen(json), NULL, 0, "numbering", &e) == 0, "%s", e.msg);
    if (!t) return;
    CHECK(tokenizer_token_id(t, "X") == 4 && tokenizer_token_id(t, "Y") == 5 && tokenizer_token_id(t, "Z") == 6 &&
              tokenizer_token_id(t, "b") == 1 && tokenizer_token_id(t, "W") == 7,
          "added ids as HF numbers them");
    // "b" is an added token too, so "ab" never reaches the merge; the unknown "Ġ" is dropped.
    CHECK(encode_is(t, "XYZWab", 0, (int[]){4, 5, 6, 7, 0, 1}, 6), "encode with renumbered added tokens");
    CHECK(encode_is(t, "XYZWa c", 0, (int[]){4, 5, 6, 7, 0, 5}, 6), "encode with an unknown byte");
    CHECK(tokenizer_vocab_size(t) == 8, "vocab size %d", tokenizer_vocab_size(t));
    tokenizer_free(t);
}

// ---- errors ----

static int one_line_naming(const mg_err *e, const char *name, const char *needle) {
    int ok = strchr(e->msg, '\n') == NULL && strstr(e->msg, name) != NULL && (!needle || strstr(e->msg, needle));
    if (!ok) fprintf(stderr, "message \"%s\" should name %s and say %s\n", e->msg, name, needle ? needle : "-");
    return ok;
}

static int load_fails(const char *json, const char *needle) {
    tokenizer *t = NULL;
    mg_err e = {{0}};
    int rc = tokenizer_load_from_memory(&t, json, strlen(json), NULL, 0, "bad/tokenizer.json", &e);
    if (rc == 0) {
        fprintf(stderr, "loaded but should not: %s\n", json);
        tokenizer_free(t);
        return 0;
    }
    return t == NULL && one_line_naming(&e, "bad/tokenizer.json", needle);
}

#define PRE "\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"decoder\":{\"type\":\"ByteLevel\"}"
#define VOCAB "\"vocab\":{\"a\":0,\"b\":1,\"ab\":2}"

static void test_bad_json(void) {
    CHECK(load_fails("{\"model\":{\"type\":\"WordPiece\"," VOCAB "}," PRE "}",
                     "unsupported tokenizer model type 'WordPiece' (only byte-level BPE)"),
          "WordPiece");
    CHECK(load_fails("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}," PRE "}", "type 'Unigram'"), "Unigram");
    CHECK(load_fails("{\"model\":{\"type\":\"BPE\"," VOCAB ",\"merges\":[\"ab\"]}," PRE "}", "model.merges[0]"),
          "merge without a space");
    CHECK(load_fails("{\"model\":{\"type\":\"BPE\"," VOCAB ",\"merges\":[\"a b\",[\"a\"]]}," PRE "}",
                     "model.merges[1]"),
          "one-element merge pair");
    CHECK(load_fails("{\"model\":{\"type\":\"BPE\"," VOCAB ",\"merges\":[42]}," PRE "}", "model.merges[0]"),
          "numeric merge");
    CHECK(load_fails("{\"model\":{\"type\":\"BPE\"," VOCAB ",\"merges\":[\"a q\"]}," PRE "}", "'q' is not in model.vocab"),
          "merge of an unknown token");
    CHECK(load_fails("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}," PRE "}",
                     "'ab' is not in model.vocab"),
          "merge result not in vocab");
    CHECK(load_fails("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]}," PRE "}", "model.vocab['a']"),
          "negative id");
    CHECK(load_fails("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[],\"byte_fallback\":true}," PRE "}",
                     "byte_fallback"),
          "byte_fallback");
    CHECK(load_fails("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"normalizer\":{\"type\":"
                     "\"Lowercase\"}," PRE "}",
                     "normalizer.type"),
          "normalizer");
    CHECK(load_fails("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"pre_tokenizer\":{\"type\":"
                     "\"Whitespace\"},\"decoder\":{\"type\":\"ByteLevel\"}}",
                     "pre_tokenizer.type"),
          "pre-tokenizer");
    CHECK(load_fails("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"pre_tokenizer\":{\"type\":"
                     "\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(a\"},\"behavior\":"
                     "\"Isolated\"},{\"type\":\"ByteLevel\"}]},\"decoder\":{\"type\":\"ByteLevel\"}}",
                     "pre_tokenizer.pretokenizers[0].pattern"),
          "bad regex");
    CHECK(load_fails("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"pre_tokenizer\":{\"type\":"
                     "\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":"
                     "\"Removed\"},{\"type\":\"ByteLevel\"}]},\"decoder\":{\"type\":\"ByteLevel\"}}",
                     "behavior"),
          "Split behavior");
    CHECK(load_fails("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"pre_tokenizer\":{\"type\":"
                     "\"ByteLevel\"},\"decoder\":{\"type\":\"WordPiece\"}}",
                     "decoder.type"),
          "decoder");
    CHECK(load_fails("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}," PRE
                     ",\"post_processor\":{\"type\":\"BertProcessing\"}}",
                     "post_processor.type"),
          "post-processor");
    CHECK(load_fails("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}," PRE
                     ",\"truncation\":{\"max_length\":5}}",
                     "truncation"),
          "truncation");
    CHECK(load_fails("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}", "pre_tokenizer"),
          "no pre-tokenizer");
    CHECK(load_fails("[1, 2", "invalid JSON"), "truncated JSON from memory");
    CHECK(load_fails("", "invalid JSON"), "empty");
}

static void write_file(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

static void test_bad_files(void) {
    tokenizer *t = NULL;
    mg_err e = {{0}};
    CHECK(tokenizer_load(&t, "tests/no/such/tokenizer", &e) == -1 && !t &&
              one_line_naming(&e, "tests/no/such/tokenizer", "cannot open"),
          "missing path");

    char dir[] = "/tmp/test_tokenizer_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    char json_path[128], cfg_path[128];
    snprintf(json_path, sizeof json_path, "%s/tokenizer.json", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/tokenizer_config.json", dir);
    CHECK(tokenizer_load(&t, dir, &e) == -1 && one_line_naming(&e, json_path, "cannot open"), "folder without json");

    // Truncated copy of a real tokenizer.json.
    FILE *f = fopen(GPT2_DIR "/tokenizer.json", "rb");
    CHECK(f != NULL, "cannot read the gpt2 fixture");
    if (!f) return;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_file(json_path, buf, n / 2);
    CHECK(tokenizer_load(&t, dir, &e) == -1 && one_line_naming(&e, json_path, "invalid JSON"), "truncated file");
    CHECK(tokenizer_load(&t, json_path, &e) == -1 && one_line_naming(&e, json_path, "invalid JSON"),
          "truncated file by name");

    // Whole file + a broken config: the message names the config.
    write_file(json_path, buf, n);
    write_file(cfg_path, "{\"bos_token\": ", 14);
    CHECK(tokenizer_load(&t, dir, &e) == -1 && one_line_naming(&e, cfg_path, "invalid JSON"), "broken config");
    write_file(cfg_path, "{\"bos_token\": \"<|endoftext|>\"}", 30);
    CHECK(tokenizer_load(&t, json_path, &e) == 0 && tokenizer_bos_id(t) >= 0, "config beside a json path: %s", e.msg);
    tokenizer_free(t);
    unlink(json_path);
    unlink(cfg_path);
    rmdir(dir);
}

static void test_bad_text(void) {
    tokenizer *t;
    mg_err e = {{0}};
    if (tokenizer_load(&t, GPT2_DIR, &e)) {
        CHECK(0, "load: %s", e.msg);
        return;
    }
    const char *bad[] = {"\xff", "ok \xc3", "\xed\xa0\x80", "\xc0\xaf", "a\xf4\x90\x80\x80"};
    for (int i = 0; i < 5; i++) {
        int *ids = (int *)&e, n = -1;
        CHECK(tokenizer_encode(t, bad[i], strlen(bad[i]), 0, &ids, &n, &e) == -1 && ids == NULL && n == 0 &&
                  one_line_naming(&e, GPT2_DIR "/tokenizer.json", "not valid UTF-8"),
              "invalid UTF-8 #%d", i);
    }
    int *ids, n;
    CHECK(tokenizer_encode(t, "a\0b", 3, 0, &ids, &n, &e) == 0 && n >= 2, "NUL inside the text is text");
    free(ids);

    // Throughput on a large text (about 1 MB), so a quadratic path would show.
    size_t big = 1 << 20, len = 0;
    char *text = malloc(big + 64);
    const char *pieces[] = {"The quick brown fox, ", "naïve café ", "1234567 ", "\n\n", "你好世界 ", "don't ", "  \t"};
    for (int i = 0; len < big; i++) {
        const char *p = pieces[(i * 7 + i / 3) % 7];
        memcpy(text + len, p, strlen(p));
        len += strlen(p);
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = tokenizer_encode(t, text, len, 0, &ids, &n, &e);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    printf("encoded %zu bytes into %d tokens in %.3f s (%.1f MB/s)\n", len, n, s, (double)len / s / 1e6);
    CHECK(rc == 0 && n > 0, "big encode");
    char *back = tokenizer_decode(t, ids, n, 0);
    CHECK(strlen(back) == len && memcmp(back, text, len) == 0, "big round trip");
    free(back);
    free(ids);
    free(text);
    tokenizer_free(t);
}

int main(void) {
    test_mini();
    test_added_numbering();
    test_bad_json();
    test_bad_files();
    test_bad_text();
    return test_summary("test_tokenizer");
}
