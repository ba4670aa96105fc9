// Hugging Face tokenizer.json BPE: byte-level (GPT-2, Llama-3, Qwen2 families: NFC or no normalizer, pre-tokenizer
// regex with PCRE2, byte-level mapping, byte-level decoder) and SentencePiece-style (Llama-2, Mistral: "▁" for
// spaces via a Prepend/Replace normalizer or a Metaspace pre-tokenizer, byte fallback to <0xNN> tokens, the
// Replace/ByteFallback/Fuse/Strip or Metaspace decoder); merges by rank, added and special tokens,
// TemplateProcessing post-processor.
#pragma once
#include <stddef.h>

#include "common/error.h"

typedef struct tokenizer tokenizer;

// path: a folder with tokenizer.json (+ optional tokenizer_config.json for bos/eos names) or a tokenizer.json file.
int tokenizer_load(tokenizer **out, const char *path, mg_err *e);
// From memory (fuzzed). name is used in error messages. config_json (tokenizer_config.json) may be NULL.
int tokenizer_load_from_memory(tokenizer **out, const char *json, size_t len, const char *config_json,
                               size_t config_len, const char *name, mg_err *e);
void tokenizer_free(tokenizer *t);

// Encodes UTF-8 text (invalid UTF-8 is an error). add_special_tokens applies the post-processor (e.g. Llama-3's
// BOS), as HF's encode(add_special_tokens=True). *ids is malloc'd.
int tokenizer_encode(const tokenizer *t, const char *text, size_t len, int add_special_tokens, int **ids, int *n,
                     mg_err *e);
// Decodes ids to a malloc'd NUL-terminated byte string. skip_special drops special added tokens. Bytes that do
// not form valid UTF-8 (a split multi-byte character) are replaced by U+FFFD, as HF does.
char *tokenizer_decode(const tokenizer *t, const int *ids, int n, int skip_special);

int tokenizer_vocab_size(const tokenizer *t);          // 1 + largest id (base vocab and added tokens)
int tokenizer_token_id(const tokenizer *t, const char *token);  // id of a token's exact string, or -1
int tokenizer_is_special(const tokenizer *t, int id);
int tokenizer_bos_id(const tokenizer *t);  // from tokenizer_config.json bos_token, or -1
int tokenizer_eos_id(const tokenizer *t);  // from tokenizer_config.json eos_token, or -1
// What kind of BPE the file is, in words: "byte-level BPE", or "SentencePiece-style BPE (byte fallback, Metaspace)"
// and the like, for reports.
const char *tokenizer_kind(const tokenizer *t);
