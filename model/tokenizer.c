// Loads a Hugging Face tokenizer.json (byte-level BPE, or SentencePiece-style BPE with byte fallback) into the tables of tokenizer_internal.h. Every
// section HF would act on is either understood or refused with one line naming the file and the JSON key, so
// a tokenizer we cannot reproduce exactly never loads silently.
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <unistr.h>

#include "common/file.h"
#include "model/tokenizer_internal.h"

// GPT-2's pre-tokenizer regex (HF ByteLevel with use_regex = true).
static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// Untrusted bytes in a one-line message: printable ASCII kept, the rest as \xNN, long strings cut.
static const char *quoted(const char *s, size_t n, char *buf, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\\') buf[o++] = (char)c;
        else o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
    if (o + 8 >= cap) o += (size_t)snprintf(buf + o, cap - o, "...");
    buf[o] = '\0';
    return buf;
}

static int fail(const tokenizer *t, mg_err *e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(const tokenizer *t, mg_err *e, const char *fmt, ...) {
    char what[MG_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return mg_fail(e, "%s: %s", t->name, what);
}

// ---- small JSON accessors; `where` is the key path used in messages ----

static int get_bool(const tokenizer *t, json_t *obj, const char *key, const char *where, int dflt, int *out,
                    mg_err *e) {
    json_t *v = json_object_get(obj, key);
    *out = dflt;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return fail(t, e, "%s.%s must be true or false", where, key);
    *out = json_is_true(v);
    return 0;
}

// type string of a component object ("BPE", "NFC", "Split", ...), or NULL (message filled) when missing.
static const char *get_type(const tokenizer *t, json_t *obj, const char *where, mg_err *e) {
    if (!json_is_object(obj)) return fail(t, e, "%s must be an object or null", where), NULL;
    json_t *type = json_object_get(obj, "type");
    if (!json_is_string(type)) return fail(t, e, "%s.type is missing or not a string", where), NULL;
    return json_string_value(type);
}

static int get_id(const tokenizer *t, json_t *v, const char *where, int *out, mg_err *e) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= TOK_MAX_ID)
        return fail(t, e, "%s must be an integer id in [0, %d)", where, TOK_MAX_ID);
    *out = (int)json_integer_value(v);
    return 0;
}

static const char *arena_add(tokenizer *t, const char *s, size_t n) {
    mgCheck(t->arena_len + n <= t->arena_cap, "tokenizer string arena sized too small");
    char *p = t->arena + t->arena_len;
    memcpy(p, s, n);
    t->arena_len += n;
    return p;
}

// ---- model ----

static int parse_model_options(tokenizer *t, json_t *model, mg_err *e) {
    json_t *type = json_object_get(model, "type");
    if (type && !json_is_string(type)) return fail(t, e, "model.type must be a string");
    if (type && strcmp(json_string_value(type), "BPE") != 0) {
        char q[96];
        const char *s = json_string_value(type);
        return fail(t, e, "unsupported tokenizer model type '%s' (only byte-level BPE)", quoted(s, strlen(s), q, sizeof q));
    }
    if (!type && !json_object_get(model, "merges")) return fail(t, e, "model.type is missing");
    json_t *dropout = json_object_get(model, "dropout");
    if (dropout && !json_is_null(dropout) && !(json_is_number(dropout) && json_number_value(dropout) == 0.0))
        return fail(t, e, "model.dropout: BPE dropout is not supported");
    if (get_bool(t, model, "byte_fallback", "model", 0, &t->byte_fallback, e)) return -1;
    static const char *affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(model, affixes[i]);
        if (v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0))
            return fail(t, e, "model.%s is not supported (byte-level BPE uses none)", affixes[i]);
    }
    if (get_bool(t, model, "ignore_merges", "model", 0, &t->ignore_merges, e)) return -1;
    if (get_bool(t, model, "fuse_unk", "model", 0, &t->fuse_unk, e)) return -1;
    return 0;
}

// First pass over vocab and added_tokens: check the types and ids, and count the bytes the strings need.
static int measure(tokenizer *t, json_t *vocab, json_t *added, size_t *bytes, mg_err *e) {
    char where[160], q[96];
    *bytes = 0;
    for (void *it = json_object_iter(vocab); it; it = json_object_iter_next(vocab, it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        int id = 0;
        snprintf(where, sizeof where, "model.vocab['%s']", quoted(key, klen, q, sizeof q));
        if (get_id(t, json_object_iter_value(it), where, &id, e)) return -1;
        if (klen == 0) return fail(t, e, "model.vocab has an empty token");
        *bytes += klen;
    }
    size_t i;
    json_t *a;
    json_array_foreach(added, i, a) {
        int id = 0;
        snprintf(where, sizeof where, "added_tokens[%zu].id", i);
        if (!json_is_object(a)) return fail(t, e, "added_tokens[%zu] must be an object", i);
        if (get_id(t, json_object_get(a, "id"), where, &id, e)) return -1;
        if (!json_is_string(json_object_get(a, "content")))
            return fail(t, e, "added_tokens[%zu].content must be a string", i);
        *bytes += json_string_length(json_object_get(a, "content"));
    }
    return 0;
}

static int parse_vocab(tokenizer *t, json_t *vocab) {
    strmap_init(&t->vocab, json_object_size(vocab));
    for (void *it = json_object_iter(vocab); it; it = json_object_iter_next(vocab, it)) {
        size_t klen = json_object_iter_key_len(it);
        const char *key = arena_add(t, json_object_iter_key(it), klen);
        int id = (int)json_integer_value(json_object_iter_value(it));
        strmap_put(&t->vocab, key, (int)klen, id);
        if (id >= t->n_ids) t->n_ids = id + 1;
    }
    for (int b = 0; b < 256; b++) {
        char ch[2];
        int cp = t->bytes.byte_to_cp[b], n = 0;
        if (cp < 0x80) ch[n++] = (char)cp;
        else ch[n++] = (char)(0xC0 | (cp >> 6)), ch[n++] = (char)(0x80 | (cp & 0x3F));
        t->byte_id[b] = strmap_get(&t->vocab, ch, n);
        char name[8];  // HF spells byte tokens "<0x%02X>" (Rust's {:#04X})
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_token_id[b] = strmap_get(&t->vocab, name, 6);
    }
    return 0;
}

static int parse_merges(tokenizer *t, json_t *merges, mg_err *e) {
    if (!json_is_array(merges)) return fail(t, e, "model.merges must be an array");
    pairmap_init(&t->merges, json_array_size(merges));
    char *joined = NULL, q[96];
    size_t joined_cap = 0, i;
    json_t *m;
    json_array_foreach(merges, i, m) {
        const char *part[2];
        size_t len[2];
        if (json_is_string(m)) {  // "left right" (Llama-3, Qwen2 files) -- tokens never contain a plain space
            const char *s = json_string_value(m), *space = memchr(s, ' ', json_string_length(m));
            if (!space) {
                free(joined);
                return fail(t, e, "model.merges[%zu]: expected \"left right\", got '%s'", i,
                            quoted(s, json_string_length(m), q, sizeof q));
            }
            part[0] = s, len[0] = (size_t)(space - s);
            part[1] = space + 1, len[1] = json_string_length(m) - len[0] - 1;
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {  // ["left", "right"] (tokenizers >= 0.20)
            for (int k = 0; k < 2; k++) {
                part[k] = json_string_value(json_array_get(m, (size_t)k));
                len[k] = json_string_length(json_array_get(m, (size_t)k));
            }
        } else {
            free(joined);
            return fail(t, e, "model.merges[%zu] must be \"left right\" or [\"left\", \"right\"]", i);
        }
        if (len[0] + len[1] > joined_cap) {
            joined_cap = 2 * (len[0] + len[1]) + 64;
            free(joined);
            joined = mallocCheck(joined_cap);
        }
        memcpy(joined, part[0], len[0]);
        memcpy(joined + len[0], part[1], len[1]);
        int ids[3];
        const char *strs[3] = {part[0], part[1], joined};
        size_t lens[3] = {len[0], len[1], len[0] + len[1]};
        for (int k = 0; k < 3; k++) {
            ids[k] = strmap_get(&t->vocab, strs[k], (int)lens[k]);
            if (ids[k] < 0) {
                fail(t, e, "model.merges[%zu]: '%s' is not in model.vocab", i, quoted(strs[k], lens[k], q, sizeof q));
                free(joined);
                return -1;
            }
        }
        pairmap_put(&t->merges, ids[0], ids[1], (int)i, ids[2]);
    }
    free(joined);
    return 0;
}

// HF ignores the ids written in added_tokens and numbers the tokens itself, in file order (AddedVocabulary::
// add_tokens): a token already in model.vocab keeps that id, a new one gets the vocabulary size or one more than
// the largest added id. A repeated content keeps its id but takes the later flags; "special" sticks once set.
// Real files agree with this numbering; following it keeps us identical to HF when they do not.
static int parse_added(tokenizer *t, json_t *added, mg_err *e) {
    int n = added ? (int)json_array_size(added) : 0, vocab_len = (int)t->vocab.count, max_added = -1;
    t->added = callocCheck((size_t)n + 1, sizeof *t->added);
    strmap_init(&t->added_by_content, (size_t)n);
    strmap_init(&t->special_content, (size_t)n);
    for (int i = 0; i < n; i++) {
        json_t *a = json_array_get(added, (size_t)i), *content = json_object_get(a, "content");
        int special = 0, lstrip = 0, rstrip = 0, normalized = 0, single_word = 0;
        char where[48];
        snprintf(where, sizeof where, "added_tokens[%d]", i);
        if (get_bool(t, a, "special", where, 0, &special, e) || get_bool(t, a, "lstrip", where, 0, &lstrip, e) ||
            get_bool(t, a, "rstrip", where, 0, &rstrip, e) ||
            get_bool(t, a, "normalized", where, !special, &normalized, e) ||
            get_bool(t, a, "single_word", where, 0, &single_word, e))
            return -1;
        int len = (int)json_string_length(content);
        if (len == 0) continue;  // HF skips empty added tokens
        tok_added *tok;
        int id = strmap_get(&t->added_by_content, json_string_value(content), len);
        if (id >= 0) {  // repeated content: update its entry
            tok = t->added;
            while (tok->len != len || memcmp(tok->content, json_string_value(content), (size_t)len) != 0) tok++;
            special |= tok->special;
        } else {
            id = strmap_get(&t->vocab, json_string_value(content), len);
            if (id < 0) id = max_added >= vocab_len || (max_added >= 0 && vocab_len == 0) ? max_added + 1 : vocab_len;
            tok = &t->added[t->n_added++];
            tok->len = len;
            tok->content = (char *)arena_add(t, json_string_value(content), (size_t)len);
            tok->id = id;
            strmap_put(&t->added_by_content, tok->content, len, id);
        }
        if (id > max_added) max_added = id;
        if (id >= t->n_ids) t->n_ids = id + 1;
        tok->special = special, tok->lstrip = lstrip, tok->rstrip = rstrip;
        tok->normalized = normalized, tok->single_word = single_word;
        if (special) strmap_put(&t->special_content, tok->content, len, id);
    }
    return 0;
}

// id -> token string for decoding; HF looks ids up in the added vocabulary before the model's.
static void fill_id_strings(tokenizer *t) {
    t->id_str = callocCheck((size_t)t->n_ids + 1, sizeof *t->id_str);
    t->id_len = callocCheck((size_t)t->n_ids + 1, sizeof *t->id_len);
    for (size_t i = 0; i < t->vocab.cap; i++)
        if (t->vocab.keys[i]) {
            t->id_str[t->vocab.vals[i]] = t->vocab.keys[i];
            t->id_len[t->vocab.vals[i]] = t->vocab.lens[i];
        }
    for (int i = 0; i < t->n_added; i++) {
        t->id_str[t->added[i].id] = t->added[i].content;
        t->id_len[t->added[i].id] = t->added[i].len;
    }
}

// ---- normalizer, pre-tokenizer, decoder, post-processor ----

// A "Sequence" node: every element of its array `key` is parsed by `parse`, with "where.key[i]" in messages.
typedef int (*node_parser)(tokenizer *t, json_t *node, const char *where, mg_err *e);
static int parse_sequence(tokenizer *t, json_t *node, const char *key, const char *where, node_parser parse,
                          mg_err *e) {
    json_t *list = json_object_get(node, key), *item;
    if (!json_is_array(list)) return fail(t, e, "%s.%s must be an array", where, key);
    size_t i;
    json_array_foreach(list, i, item) {
        char sub[160];
        snprintf(sub, sizeof sub, "%s.%s[%zu]", where, key, i);
        if (parse(t, item, sub, e)) return -1;
    }
    return 0;
}

// A string-valued key copied out of the JSON; NULL (message filled) when missing or, unless empty_ok, empty.
static char *get_string(const tokenizer *t, json_t *obj, const char *key, const char *where, int empty_ok,
                        int *len, mg_err *e) {
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || (!empty_ok && json_string_length(v) == 0))
        return fail(t, e, "%s.%s must be a%s string", where, key, empty_ok ? "" : " non-empty"), NULL;
    *len = (int)json_string_length(v);
    char *copy = mallocCheck((size_t)*len + 1);
    memcpy(copy, json_string_value(v), (size_t)*len + 1);
    return copy;
}

// Replace's pattern: only {"String": ...} (a Regex pattern would need Oniguruma's replace semantics).
static char *get_literal_pattern(const tokenizer *t, json_t *obj, const char *where, int *len, mg_err *e) {
    json_t *pattern = json_object_get(obj, "pattern");
    char sub[200];
    snprintf(sub, sizeof sub, "%s.pattern", where);
    if (json_is_object(pattern) && json_object_get(pattern, "Regex"))
        return fail(t, e, "%s.Regex is not supported (only {\"String\": ...})", sub), NULL;
    if (!json_is_object(pattern)) return fail(t, e, "%s must be {\"String\": ...}", sub), NULL;
    return get_string(t, pattern, "String", sub, 0, len, e);
}

static int parse_normalizer(tokenizer *t, json_t *n, const char *where, mg_err *e) {
    if (!n || json_is_null(n)) return 0;
    const char *type = get_type(t, n, where, e);
    if (!type) return -1;
    if (strcmp(type, "Sequence") == 0) return parse_sequence(t, n, "normalizers", where, parse_normalizer, e);
    tok_norm_step st = {0};
    if (strcmp(type, "NFC") == 0) {
        st.kind = TOK_NORM_NFC;
    } else if (strcmp(type, "Prepend") == 0) {
        st.kind = TOK_NORM_PREPEND;
        if (!(st.a = get_string(t, n, "prepend", where, 1, &st.a_len, e))) return -1;
    } else if (strcmp(type, "Replace") == 0) {
        st.kind = TOK_NORM_REPLACE;
        if (!(st.a = get_literal_pattern(t, n, where, &st.a_len, e))) return -1;
        if (!(st.b = get_string(t, n, "content", where, 1, &st.b_len, e))) {
            free(st.a);
            return -1;
        }
    } else {
        char q[96];
        return fail(t, e, "unsupported normalizer type '%s' (key %s.type; only NFC, Prepend, Replace or null)",
                    quoted(type, strlen(type), q, sizeof q), where);
    }
    tok_norm_step *grown = realloc(t->norm_steps, (size_t)(t->n_norm_steps + 1) * sizeof *grown);
    mgCheck(grown != NULL, "out of memory adding a normalizer");
    t->norm_steps = grown;
    t->norm_steps[t->n_norm_steps++] = st;
    t->nfc = 1;
    return 0;
}

// Metaspace's options, shared by the pre-tokenizer and the decoder. Files older than tokenizers 0.19 say
// add_prefix_space instead of prepend_scheme (true meaning "always").
static int parse_metaspace(tokenizer *t, json_t *m, const char *where, char *rep, int *rep_len, int *scheme,
                           int *split, mg_err *e) {
    int len = 0, prefix = 1;
    char *r = get_string(t, m, "replacement", where, 0, &len, e);
    if (!r) return -1;
    ucs4_t cp;
    int one = u8_mbtouc(&cp, (const uint8_t *)r, (size_t)len) == len;
    if (one) memcpy(rep, r, (size_t)len);
    free(r);
    if (!one) return fail(t, e, "%s.replacement must be one character", where);
    *rep_len = len;
    json_t *ps = json_object_get(m, "prepend_scheme");
    if (ps && !json_is_null(ps)) {
        const char *v = json_is_string(ps) ? json_string_value(ps) : "";
        if (strcmp(v, "always") == 0) *scheme = TOK_PREPEND_ALWAYS;
        else if (strcmp(v, "first") == 0) *scheme = TOK_PREPEND_FIRST;
        else if (strcmp(v, "never") == 0) *scheme = TOK_PREPEND_NEVER;
        else return fail(t, e, "%s.prepend_scheme must be \"always\", \"first\" or \"never\"", where);
    } else {
        if (get_bool(t, m, "add_prefix_space", where, 1, &prefix, e)) return -1;
        *scheme = prefix ? TOK_PREPEND_ALWAYS : TOK_PREPEND_NEVER;
    }
    return get_bool(t, m, "split", where, 1, split, e);
}

static int add_step(tokenizer *t, pcre2_code *re, int byte_level, int add_prefix_space) {
    tok_pretok_step *grown = realloc(t->steps, (size_t)(t->n_steps + 1) * sizeof *grown);
    mgCheck(grown != NULL, "out of memory adding a pre-tokenizer step");
    t->steps = grown;
    t->steps[t->n_steps++] = (tok_pretok_step){re, byte_level, add_prefix_space};
    return 0;
}

static int parse_pretokenizer(tokenizer *t, json_t *p, const char *where, mg_err *e) {
    if (!p || json_is_null(p)) return 0;  // the whole (normalized) text is one word: SentencePiece's legacy layout
    const char *type = get_type(t, p, where, e);
    if (!type) return -1;
    char why[256], q[96];
    if (t->n_steps && t->steps[t->n_steps - 1].byte_level)
        return fail(t, e, "%s: nothing may follow the ByteLevel pre-tokenizer", where);
    if (strcmp(type, "Metaspace") == 0) {
        // Only alone: "first" asks whether a word starts the original text, which this pipeline knows only for
        // the pieces between added tokens.
        if (t->metaspace || t->n_steps) return fail(t, e, "%s: Metaspace is supported only as the sole pre-tokenizer", where);
        t->metaspace = 1;
        return parse_metaspace(t, p, where, t->meta_rep, &t->meta_rep_len, &t->meta_prepend, &t->meta_split, e);
    }
    if (t->metaspace) return fail(t, e, "%s: Metaspace is supported only as the sole pre-tokenizer", where);
    if (strcmp(type, "ByteLevel") == 0) {
        int use_regex = 1, prefix = 1;
        if (get_bool(t, p, "use_regex", where, 1, &use_regex, e) ||
            get_bool(t, p, "add_prefix_space", where, 1, &prefix, e))
            return -1;
        pcre2_code *re = NULL;
        if (use_regex) re = tok_regex_compile(GPT2_PATTERN, strlen(GPT2_PATTERN), 0, why, sizeof why);
        mgCheck(!use_regex || re, "the built-in GPT-2 pattern failed to compile");
        return add_step(t, re, 1, prefix);
    }
    if (strcmp(type, "Split") == 0) {
        json_t *pattern = json_object_get(p, "pattern"), *behavior = json_object_get(p, "behavior");
        int invert = 0;
        if (get_bool(t, p, "invert", where, 0, &invert, e)) return -1;
        if (invert) return fail(t, e, "%s.invert = true is not supported", where);
        if (!json_is_string(behavior) || strcmp(json_string_value(behavior), "Isolated") != 0)
            return fail(t, e, "unsupported %s.behavior (only \"Isolated\")", where);
        json_t *regex = json_object_get(pattern, "Regex"), *literal = json_object_get(pattern, "String");
        json_t *source = json_is_string(regex) ? regex : literal;
        if (!json_is_string(source))
            return fail(t, e, "%s.pattern must be {\"Regex\": ...} or {\"String\": ...}", where);
        pcre2_code *re = tok_regex_compile(json_string_value(source), json_string_length(source),
                                           source == literal, why, sizeof why);
        if (!re)
            return fail(t, e, "%s.pattern '%s' does not compile: %s", where,
                        quoted(json_string_value(source), json_string_length(source), q, sizeof q), why);
        return add_step(t, re, 0, 0);
    }
    if (strcmp(type, "Sequence") == 0) return parse_sequence(t, p, "pretokenizers", where, parse_pretokenizer, e);
    return fail(t, e, "unsupported pre_tokenizer type '%s' (key %s.type; only ByteLevel, Split, Metaspace, Sequence)",
                quoted(type, strlen(type), q, sizeof q), where);
}

static int parse_decoder(tokenizer *t, json_t *d, mg_err *e) {
    if (!d || json_is_null(d)) return fail(t, e, "decoder is null; byte-level BPE needs the ByteLevel decoder");
    const char *type = get_type(t, d, "decoder", e);
    if (!type) return -1;
    char q[96];
    if (strcmp(type, "ByteLevel") != 0)
        return fail(t, e, "unsupported decoder type '%s' (key decoder.type; only ByteLevel)",
                    quoted(type, strlen(type), q, sizeof q));
    return 0;
}

// The decoders of a SentencePiece-style tokenizer: Replace (literal), ByteFallback, Fuse, Strip, Metaspace,
// and Sequences of them.
static int parse_sp_decoder(tokenizer *t, json_t *d, const char *where, mg_err *e) {
    const char *type = get_type(t, d, where, e);
    if (!type) return -1;
    if (strcmp(type, "Sequence") == 0) return parse_sequence(t, d, "decoders", where, parse_sp_decoder, e);
    tok_dec_step st = {0};
    if (strcmp(type, "Replace") == 0) {
        st.kind = TOK_DEC_REPLACE;
        if (!(st.a = get_literal_pattern(t, d, where, &st.a_len, e))) return -1;
        if (!(st.b = get_string(t, d, "content", where, 1, &st.b_len, e))) {
            free(st.a);
            return -1;
        }
    } else if (strcmp(type, "ByteFallback") == 0) {
        st.kind = TOK_DEC_BYTE_FALLBACK;
    } else if (strcmp(type, "Fuse") == 0) {
        st.kind = TOK_DEC_FUSE;
    } else if (strcmp(type, "Strip") == 0) {
        st.kind = TOK_DEC_STRIP;
        json_t *start = json_object_get(d, "start"), *stop = json_object_get(d, "stop");
        int len = 0;
        char *content = get_string(t, d, "content", where, 0, &len, e);
        if (!content) return -1;
        ucs4_t cp = 0;
        int one = u8_mbtouc(&cp, (const uint8_t *)content, (size_t)len) == len;
        free(content);
        if (!one) return fail(t, e, "%s.content must be one character", where);
        if (!json_is_integer(start) || !json_is_integer(stop) || json_integer_value(start) < 0 ||
            json_integer_value(stop) < 0 || json_integer_value(start) > 1000000 || json_integer_value(stop) > 1000000)
            return fail(t, e, "%s.start and %s.stop must be counts", where, where);
        st.strip_char = cp;
        st.start = (int)json_integer_value(start);
        st.stop = (int)json_integer_value(stop);
    } else if (strcmp(type, "Metaspace") == 0) {
        st.kind = TOK_DEC_METASPACE;
        st.a = mallocCheck(4);
        int split;
        if (parse_metaspace(t, d, where, st.a, &st.a_len, &st.prepend_scheme, &split, e)) {
            free(st.a);
            return -1;
        }
    } else {
        char q[96];
        return fail(t, e,
                    "unsupported decoder type '%s' (key %s.type; with byte_fallback or Metaspace only Replace, "
                    "ByteFallback, Fuse, Strip, Metaspace, Sequence)",
                    quoted(type, strlen(type), q, sizeof q), where);
    }
    tok_dec_step *grown = realloc(t->dec_steps, (size_t)(t->n_dec_steps + 1) * sizeof *grown);
    mgCheck(grown != NULL, "out of memory adding a decoder");
    t->dec_steps = grown;
    t->dec_steps[t->n_dec_steps++] = st;
    return 0;
}

static int append_ids(int **ids, int *n, const int *add, int count) {
    int *grown = realloc(*ids, (size_t)(*n + count + 1) * sizeof *grown);
    mgCheck(grown != NULL, "out of memory reading the post-processor");
    memcpy(grown + *n, add, (size_t)count * sizeof *add);
    *ids = grown;
    *n += count;
    return 0;
}

// TemplateProcessing "single": special-token ids before and after the sequence ($A).
static int parse_template(tokenizer *t, json_t *p, const char *where, mg_err *e) {
    json_t *single = json_object_get(p, "single"), *specials = json_object_get(p, "special_tokens"), *item;
    if (!json_is_array(single)) return fail(t, e, "%s.single must be an array", where);
    if (t->prefix_ids || t->suffix_ids || t->n_prefix || t->n_suffix)
        return fail(t, e, "%s: more than one TemplateProcessing is not supported", where);
    int seen_sequence = 0;
    size_t i;
    json_array_foreach(single, i, item) {
        json_t *special = json_object_get(item, "SpecialToken"), *sequence = json_object_get(item, "Sequence");
        if (json_is_object(sequence)) {
            json_t *sid = json_object_get(sequence, "id");
            if (seen_sequence || !json_is_string(sid) || strcmp(json_string_value(sid), "A") != 0)
                return fail(t, e, "%s.single[%zu]: only one Sequence, with id \"A\", is supported", where, i);
            seen_sequence = 1;
            continue;
        }
        json_t *name = json_object_get(special, "id");
        if (!json_is_string(name))
            return fail(t, e, "%s.single[%zu] must be {\"SpecialToken\": {\"id\": ...}} or {\"Sequence\": ...}",
                        where, i);
        json_t *entry = json_object_get(specials, json_string_value(name));
        json_t *ids = json_object_get(entry, "ids"), *v;
        char q[96];
        if (!json_is_array(ids))
            return fail(t, e, "%s.special_tokens['%s'].ids is missing", where,
                        quoted(json_string_value(name), json_string_length(name), q, sizeof q));
        size_t k;
        json_array_foreach(ids, k, v) {
            int id = 0;
            char sub[200];
            snprintf(sub, sizeof sub, "%s.special_tokens[...].ids[%zu]", where, k);
            if (get_id(t, v, sub, &id, e)) return -1;
            if (seen_sequence) append_ids(&t->suffix_ids, &t->n_suffix, &id, 1);
            else append_ids(&t->prefix_ids, &t->n_prefix, &id, 1);
        }
    }
    if (!seen_sequence) return fail(t, e, "%s.single has no Sequence \"A\"", where);
    return 0;
}

static int parse_postprocessor(tokenizer *t, json_t *p, const char *where, mg_err *e) {
    if (!p || json_is_null(p)) return 0;
    const char *type = get_type(t, p, where, e);
    if (!type) return -1;
    if (strcmp(type, "ByteLevel") == 0) return 0;  // only trims offsets, which we do not report
    if (strcmp(type, "TemplateProcessing") == 0) return parse_template(t, p, where, e);
    if (strcmp(type, "Sequence") == 0) return parse_sequence(t, p, "processors", where, parse_postprocessor, e);
    char q[96];
    return fail(t, e, "unsupported post_processor type '%s' (key %s.type; only ByteLevel, TemplateProcessing)",
                quoted(type, strlen(type), q, sizeof q), where);
}

// bos_token / eos_token in tokenizer_config.json: a string, {"content": ...} or null.
static int config_token(const tokenizer *t, json_t *cfg, const char *key) {
    json_t *v = json_object_get(cfg, key);
    if (json_is_object(v)) v = json_object_get(v, "content");
    if (!json_is_string(v)) return -1;
    return tokenizer_token_id(t, json_string_value(v));
}

static int parse_config(tokenizer *t, const char *json, size_t len, const char *cfg_name, mg_err *e) {
    json_error_t jerr;
    json_t *cfg = json_loadb(json, len, 0, &jerr);
    char q[200];
    if (!cfg)
        return mg_fail(e, "%s: invalid JSON at line %d column %d: %s", cfg_name, jerr.line, jerr.column,
                       quoted(jerr.text, strlen(jerr.text), q, sizeof q));
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return mg_fail(e, "%s: expected a JSON object", cfg_name);
    }
    t->bos_id = config_token(t, cfg, "bos_token");
    t->eos_id = config_token(t, cfg, "eos_token");
    json_decref(cfg);
    return 0;
}

static int has_prepend(const tokenizer *t) {
    for (int i = 0; i < t->n_norm_steps; i++)
        if (t->norm_steps[i].kind == TOK_NORM_PREPEND) return 1;
    return 0;
}

static int parse_tokenizer(tokenizer *t, json_t *root, mg_err *e) {
    if (!json_is_object(root)) return fail(t, e, "expected a JSON object at the top level");
    json_t *truncation = json_object_get(root, "truncation");
    if (truncation && !json_is_null(truncation)) return fail(t, e, "truncation is not supported (key truncation)");
    json_t *model = json_object_get(root, "model");
    if (!json_is_object(model)) return fail(t, e, "model is missing or not an object");
    if (parse_model_options(t, model, e)) return -1;
    json_t *vocab = json_object_get(model, "vocab"), *added = json_object_get(root, "added_tokens");
    if (!json_is_object(vocab)) return fail(t, e, "model.vocab must be an object of token -> id");
    if (added && !json_is_null(added) && !json_is_array(added)) return fail(t, e, "added_tokens must be an array");
    if (!json_is_array(added)) added = NULL;

    size_t bytes;
    if (measure(t, vocab, added, &bytes, e)) return -1;
    t->arena_cap = bytes;
    t->arena = mallocCheck(bytes + 1);
    parse_vocab(t, vocab);
    json_t *unk = json_object_get(model, "unk_token");
    if (unk && !json_is_null(unk)) {
        char q[96];
        if (!json_is_string(unk)) return fail(t, e, "model.unk_token must be a string or null");
        t->unk_id = strmap_get(&t->vocab, json_string_value(unk), (int)json_string_length(unk));
        if (t->unk_id < 0)
            return fail(t, e, "model.unk_token '%s' is not in model.vocab",
                        quoted(json_string_value(unk), json_string_length(unk), q, sizeof q));
    }
    if (parse_merges(t, json_object_get(model, "merges"), e)) return -1;
    if (parse_added(t, added, e)) return -1;
    fill_id_strings(t);
    if (parse_normalizer(t, json_object_get(root, "normalizer"), "normalizer", e)) return -1;
    json_t *pre = json_object_get(root, "pre_tokenizer"), *decoder = json_object_get(root, "decoder");
    if (parse_pretokenizer(t, pre, "pre_tokenizer", e)) return -1;
    if (t->n_steps && t->steps[t->n_steps - 1].byte_level) {
        if (t->byte_fallback)
            return fail(t, e, "model.byte_fallback = true is not supported with a ByteLevel pre-tokenizer");
        if (parse_decoder(t, decoder, e)) return -1;
    } else if (t->metaspace || ((!pre || json_is_null(pre)) && (t->byte_fallback || has_prepend(t)))) {
        // SentencePiece-style BPE: Llama-2 / Mistral ("▁" for spaces, <0xNN> byte tokens). A null pre-tokenizer
        // alone says nothing about the layout, so it takes byte_fallback or the legacy Prepend normalizer too.
        t->char_level = 1;
        t->has_decoder = decoder && !json_is_null(decoder);
        if (t->has_decoder && parse_sp_decoder(t, decoder, "decoder", e)) return -1;
    } else {
        return fail(t, e, "pre_tokenizer has no ByteLevel step (supported: byte-level BPE, or SentencePiece-style "
                          "BPE with a Metaspace pre-tokenizer, or a null one with byte_fallback or a Prepend normalizer)");
    }
    if (parse_postprocessor(t, json_object_get(root, "post_processor"), "post_processor", e)) return -1;
    if (tok_matcher_build(&t->raw_matcher, t, 0, e) || tok_matcher_build(&t->norm_matcher, t, 1, e)) return -1;
    return 0;
}

int tokenizer_load_from_memory(tokenizer **out, const char *json, size_t len, const char *config_json,
                               size_t config_len, const char *name, mg_err *e) {
    *out = NULL;
    tokenizer *t = callocCheck(1, sizeof *t);
    tok_byte_table_init(&t->bytes);
    t->name = strdup(name ? name : "tokenizer.json");
    mgCheck(t->name != NULL, "out of memory copying a file name");
    t->unk_id = t->bos_id = t->eos_id = -1;
    t->match_ctx = pcre2_match_context_create(NULL);
    mgCheck(t->match_ctx != NULL, "out of memory creating a PCRE2 match context");
    pcre2_set_match_limit(t->match_ctx, 10000000);  // as Oniguruma's retry limit: a bad pattern fails, not hangs

    json_error_t jerr;
    json_t *root = json ? json_loadb(json, len, JSON_ALLOW_NUL, &jerr) : NULL;
    int rc;
    char q[200];
    if (!root) {
        rc = json ? fail(t, e, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                         quoted(jerr.text, strlen(jerr.text), q, sizeof q))
                  : fail(t, e, "no JSON text");
    } else {
        rc = parse_tokenizer(t, root, e);
        json_decref(root);
    }
    if (rc == 0 && config_json) {
        char *cfg_name = mallocCheck(strlen(t->name) + 32);
        sprintf(cfg_name, "%s (tokenizer_config.json)", t->name);
        rc = parse_config(t, config_json, config_len, cfg_name, e);
        free(cfg_name);
    }
    if (rc) {
        tokenizer_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

// Reads a whole file; *data is NULL (not an error) when missing_ok and the file does not exist.
static int read_file(const char *path, int missing_ok, char **data, size_t *len, mg_err *e) {
    int missing = 0;
    *data = read_small_file(path, (size_t)1 << 30, len, missing_ok, &missing, e);
    return *data || missing ? 0 : -1;
}

int tokenizer_load(tokenizer **out, const char *path, mg_err *e) {
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return mg_fail(e, "%s: cannot open: %s", path, strerror(errno));
    size_t plen = strlen(path);
    char *json_path = mallocCheck(plen + 32), *cfg_path = mallocCheck(plen + 32);
    if (S_ISDIR(st.st_mode)) {
        sprintf(json_path, "%s/tokenizer.json", path);
        sprintf(cfg_path, "%s/tokenizer_config.json", path);
    } else {  // a tokenizer.json file: its config, if any, sits beside it
        strcpy(json_path, path);
        const char *slash = strrchr(path, '/');
        size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
        memcpy(cfg_path, path, dir);
        strcpy(cfg_path + dir, "tokenizer_config.json");
    }
    char *json = NULL, *cfg = NULL;
    size_t json_len, cfg_len;
    int rc = read_file(json_path, 0, &json, &json_len, e);
    if (rc == 0) rc = read_file(cfg_path, 1, &cfg, &cfg_len, e);
    if (rc == 0) rc = tokenizer_load_from_memory(out, json, json_len, NULL, 0, json_path, e);
    if (rc == 0 && cfg) {
        rc = parse_config(*out, cfg, cfg_len, cfg_path, e);
        if (rc) {
            tokenizer_free(*out);
            *out = NULL;
        }
    }
    free(json);
    free(cfg);
    free(json_path);
    free(cfg_path);
    return rc;
}

void tokenizer_free(tokenizer *t) {
    if (!t) return;
    strmap_free(&t->vocab);
    pairmap_free(&t->merges);
    strmap_free(&t->added_by_content);
    strmap_free(&t->special_content);
    tok_matcher_free(&t->raw_matcher);
    tok_matcher_free(&t->norm_matcher);
    for (int i = 0; i < t->n_steps; i++) pcre2_code_free(t->steps[i].re);
    for (int i = 0; i < t->n_norm_steps; i++) free(t->norm_steps[i].a), free(t->norm_steps[i].b);
    for (int i = 0; i < t->n_dec_steps; i++) free(t->dec_steps[i].a), free(t->dec_steps[i].b);
    free(t->norm_steps);
    free(t->dec_steps);
    pcre2_match_context_free(t->match_ctx);
    free(t->steps);
    free(t->added);
    free(t->id_str);
    free(t->id_len);
    free(t->arena);
    free(t->prefix_ids);
    free(t->suffix_ids);
    free(t->name);
    free(t);
}

int tokenizer_vocab_size(const tokenizer *t) { return t->n_ids; }

int tokenizer_token_id(const tokenizer *t, const char *token) {
    int len = (int)strlen(token), id = strmap_get(&t->added_by_content, token, len);
    return id >= 0 ? id : strmap_get(&t->vocab, token, len);
}

int tokenizer_is_special(const tokenizer *t, int id) {
    if (id < 0 || id >= t->n_ids || !t->id_str[id]) return 0;
    return strmap_get(&t->special_content, t->id_str[id], t->id_len[id]) >= 0;
}

int tokenizer_bos_id(const tokenizer *t) { return t->bos_id; }
int tokenizer_eos_id(const tokenizer *t) { return t->eos_id; }

const char *tokenizer_kind(const tokenizer *t) {
    if (!t->char_level) return "byte-level BPE";
    if (t->metaspace) return t->byte_fallback ? "SentencePiece-style BPE (Metaspace, byte fallback)"
                                              : "SentencePiece-style BPE (Metaspace)";
    return t->byte_fallback ? "SentencePiece-style BPE (Prepend/Replace normalizer, byte fallback)"
                            : "SentencePiece-style BPE (Prepend/Replace normalizer)";
}
