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

    // Added tokens and the two matchers (HF: non-normalized tokens match the raw text, normalized ones the
    // normalized text).
    tok_added *added;
    int n_added;
    tok_matcher raw_matcher, norm_matcher;
    tok_strmap added_by_content;  // content -> id
    tok_strmap special_content;   // content of special tokens (decode's skip_special works on strings, as HF)

    int nfc;  // normalizer: NFC or nothing

    tok_pretok_step *steps;
    int n_steps;
    pcre2_match_context *match_ctx;

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

// Code point classes that Rust uses and PCRE2 spells differently.
int tok_is_whitespace(uint32_t cp);  // Rust char::is_whitespace (Unicode White_Space)
int tok_is_word_char(uint32_t cp);   // Rust regex \w
