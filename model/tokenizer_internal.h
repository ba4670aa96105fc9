// Private to model/tokenizer*.c: the tokenizer's tables, shared by the loader (tokenizer.c), the BPE core
// (tokenizer_bpe.c) and the encode/decode pipeline (tokenizer_encode.c).
#pragma once
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "model/tokenizer.h"

// Ids above this are rejected at load, so a corrupt file cannot make us allocate gigabytes (real vocabularies
// are < 300k).
#define TOK_MAX_ID (1 << 22)

// ---- hash tables (open addressing, power-of-two capacity, load <= 1/2) ----

// byte string -> int. Keys point into memory the caller keeps alive (the tokenizer's string arena).
typedef struct {
    const char **keys;
    int *lens;
    int *vals;
    size_t cap, count;
} tok_strmap;

void strmap_init(tok_strmap *m, size_t expected);
void strmap_free(tok_strmap *m);
void strmap_put(tok_strmap *m, const char *key, int len, int val);  // replaces an existing key's value
int strmap_get(const tok_strmap *m, const char *key, int len);      // -1 if absent

// (left id, right id) -> merge rank and merged id.
typedef struct {
    uint64_t *keys;  // (left << 32 | right) + 1; 0 marks an empty slot
    int *ranks, *new_ids;
    size_t cap, count;
} tok_pairmap;

void pairmap_init(tok_pairmap *m, size_t expected);
void pairmap_free(tok_pairmap *m);
void pairmap_put(tok_pairmap *m, int left, int right, int rank, int new_id);  // a later duplicate wins, as HF
int pairmap_get(const tok_pairmap *m, int left, int right, int *rank, int *new_id);  // 1 if found

// ---- GPT-2 byte <-> printable character table (kept per tokenizer, so loading writes no shared state) ----
typedef struct {
    int byte_to_cp[256];  // byte -> code point of its stand-in character
    int cp_to_byte[324];  // stand-in code point -> byte, -1 for code points that stand for nothing
} tok_byte_table;
void tok_byte_table_init(tok_byte_table *b);

// ---- pieces of the tokenizer ----

typedef struct {
    char *content;
    int len, id;
    unsigned special : 1, lstrip : 1, rstrip : 1, normalized : 1, single_word : 1;
} tok_added;

// Finds added tokens in text: leftmost match, longest at that position (HF's aho-corasick LeftmostLongest).
typedef struct {
    int *by_first[256];  // per first byte: indices into `patterns`, longest first, terminated by -1
    char **patterns;     // content as matched (NFC-normalized for normalized tokens)
    int *pattern_lens, *token_index;  // token_index: index into tokenizer.added
    int n;
} tok_matcher;

typedef struct {
    pcre2_code *re;  // NULL for a ByteLevel step without its own regex
    int byte_level, add_prefix_space;
} tok_pretok_step;

// HF Metaspace's prepend_scheme: when "▁" is put before a piece that does not start with one.
enum { TOK_PREPEND_ALWAYS, TOK_PREPEND_FIRST, TOK_PREPEND_NEVER };

// One normalizer of the chain, applied in file order.
typedef struct {
    enum { TOK_NORM_NFC, TOK_NORM_PREPEND, TOK_NORM_REPLACE } kind;
    char *a, *b;  // (owned) PREPEND: a = the prefix; REPLACE: every a (a literal string) becomes b
    int a_len, b_len;
} tok_norm_step;

// One decoder of a SentencePiece-style chain (the byte-level path has its own decoder).
typedef struct {
    enum { TOK_DEC_REPLACE, TOK_DEC_BYTE_FALLBACK, TOK_DEC_FUSE, TOK_DEC_STRIP, TOK_DEC_METASPACE } kind;
    char *a, *b;  // (owned) REPLACE: a -> b; METASPACE: a = the replacement character
    int a_len, b_len;
    uint32_t strip_char;  // STRIP: the character, cut at most `start` times in front and `stop` times behind
    int start, stop, prepend_scheme;
} tok_dec_step;

struct tokenizer {
    char *name;  // file name used in messages

    // BPE model. token strings live in one arena; id_str[id] is NULL for ids no token uses.
    tok_strmap vocab;          // base vocabulary: byte-level string -> id
    tok_pairmap merges;
    const char **id_str;
    int *id_len;
    int n_ids;                 // 1 + largest id
    char *arena;
    size_t arena_len, arena_cap;
    tok_byte_table bytes;
    int byte_id[256];          // vocab id of each byte's stand-in character, -1 if absent
    int ignore_merges, unk_id, fuse_unk;
    // SentencePiece-style BPE (no ByteLevel anywhere): a word starts as its Unicode characters, and with
    // byte_fallback a character missing from the vocabulary becomes its UTF-8 bytes as <0xNN> tokens.
    int char_level, byte_fallback;
    int byte_token_id[256];    // vocab id of "<0xNN>", -1 if absent

    // Added tokens and the two matchers (HF: non-normalized tokens match the raw text, normalized ones the
    // normalized text).
    tok_added *added;
    int n_added;
    tok_matcher raw_matcher, norm_matcher;
    tok_strmap added_by_content;  // content -> id
    tok_strmap special_content;   // content of special tokens (decode's skip_special works on strings, as HF)

    int nfc;  // 1 when there is any normalizer (NFC, Prepend, Replace: norm_steps in order)
    tok_norm_step *norm_steps;
    int n_norm_steps;

    tok_pretok_step *steps;
    int n_steps;
    pcre2_match_context *match_ctx;
    // Metaspace pre-tokenizer (char_level only; then it is the only pre-tokenizer): ' ' becomes the replacement,
    // which is put in front per prepend_scheme; with split each replacement starts a new word.
    int metaspace, meta_prepend, meta_split;
    char meta_rep[4];
    int meta_rep_len;

    tok_dec_step *dec_steps;  // char_level decoders in order; none (and no decoder) joins tokens with ' '
    int n_dec_steps, has_decoder;

    int *prefix_ids, n_prefix, *suffix_ids, n_suffix;  // TemplateProcessing "single" around the sequence
    int bos_id, eos_id;
};

// Builds `m` from the added tokens whose `normalized` flag equals `normalized`; the normalized ones are
// NFC-normalized first when the tokenizer normalizes. Returns -1 (and fills e) on an allocation-free failure.
int tok_matcher_build(tok_matcher *m, const tokenizer *t, int normalized, mg_err *e);
void tok_matcher_free(tok_matcher *m);

// Compiles an HF (Oniguruma) pattern with PCRE2, adapting the places where the two dialects differ; literal
// compiles a Split {"String": ...} pattern. On failure returns NULL with PCRE2's reason in why.
pcre2_code *tok_regex_compile(const char *pattern, size_t len, int literal, char *why, size_t why_len);

typedef struct {
    int *ids;
    int n, cap;
} tok_ids;
void tok_ids_push(tok_ids *v, int id);
// Appends the ids of one pre-token (raw bytes, before byte-level mapping) to out.
void tok_bpe_word(const tokenizer *t, const unsigned char *bytes, int len, tok_ids *out);

// The normalizer chain over s (n bytes): a malloc'd string and its length in *out_len.
char *tok_normalize(const tokenizer *t, const char *s, size_t n, size_t *out_len);

// Code point classes that Rust uses and PCRE2 spells differently.
int tok_is_whitespace(uint32_t cp);  // Rust char::is_whitespace (Unicode White_Space)
int tok_is_word_char(uint32_t cp);   // Rust regex \w
