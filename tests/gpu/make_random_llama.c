// make_random_llama: writes a Hugging Face Llama-3.1 checkpoint of a given shape with random weights, so the
// engine's handling of a real model's size (sharded bf16 safetensors, a 128k-token vocabulary, the Llama-3 chat
// tokens) can be tested without downloading one (tests/gpu/test_big_model.sh).
//
//   make_random_llama --shape 8b|mini [--shards N] [--seed S] OUT_DIR
//   make_random_llama --count-prompt MODEL_DIR ARC_TASK.json|TEXT_FILE
//
// The second form prints the token count of the prompt a run feeds the model: an ARC task's on-policy prompt
// (grid-language executor, colour names), or a text file as the user message (count_prompt below).
//
// OUT_DIR gets config.json, generation_config.json, model-0000k-of-0000N.safetensors + model.safetensors.index.json,
// tokenizer.json and tokenizer_config.json. Shapes: 8b = Llama-3.1-8B (hidden 4096, 32 layers, 32 heads / 8 KV
// heads, MLP 14336, vocabulary 128256, llama3 RoPE scaling, untied head): 16 GB of bf16; mini = the same
// vocabulary, tokenizer and structure at 2 layers of width 256 (about 140 MB), for CI.
//
// Weights: 0.02 * (sum of four uniform bytes, centred and scaled to unit variance), an Irwin-Hall approximation
// of N(0, 0.02) drawn from Philox by (seed, tensor, element), so any chunk is made on its own: the shards are
// streamed a chunk at a time (the model is never held in memory) with OpenMP threads filling each chunk. Norms 1.
//
// The tokenizer is a byte-level BPE laid out like Llama-3's: 256 byte tokens, merges learned by plain BPE on a
// small built-in text in the words of the ARC prompts (so colour names are one token each, as with the real
// tokenizer), then filler merges (pairs, then triples of printable characters) up to 128000 base tokens, and the
// 256 special tokens at 128000..128255 under their Llama-3.1 names. After writing, the folder is read back with
// the project's loaders: config, tokenizer (encode/decode round trip, the Llama-3 chat format) and safetensors.
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/error.h"
#include "common/file.h"
#include "common/rng.h"
#include "model/chat.h"
#include "model/hf_config.h"
#include "model/safetensors.h"
#include "model/tokenizer.h"
#include "tasks/arc/arc_task.h"

typedef struct {
    const char *name;
    int vocab, hidden, inter, layers, heads, kv_heads, head_dim, shards;
} shape;

static const shape shapes[] = {
    {"8b", 128256, 4096, 14336, 32, 32, 8, 128, 4},
    {"mini", 128256, 256, 896, 2, 4, 1, 64, 4},  // 8b's GQA ratio (4 query heads per KV head), 128k vocabulary
};

#define N_SPECIAL 256  // Llama-3: ids base .. base+255

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void write_json_file(json_t *root, const char *dir, const char *file, size_t flags) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    mgCheck(json_dump_file(root, path, flags) == 0, "could not write a JSON file into the output folder");
    json_decref(root);
}

// ---------------------------------------------------------------------------------------------------------
// config.json, generation_config.json: the keys Llama-3.1-8B's files hold.

static void write_configs(const shape *s, const char *dir) {
    json_t *c = json_object();
    json_object_set_new(c, "architectures", json_pack("[s]", "LlamaForCausalLM"));
    json_object_set_new(c, "attention_bias", json_false());
    json_object_set_new(c, "attention_dropout", json_real(0.0));
    json_object_set_new(c, "bos_token_id", json_integer(s->vocab - N_SPECIAL));
    json_object_set_new(c, "eos_token_id", json_integer(s->vocab - N_SPECIAL + 9));  // <|eot_id|>
    json_object_set_new(c, "head_dim", json_integer(s->head_dim));
    json_object_set_new(c, "hidden_act", json_string("silu"));
    json_object_set_new(c, "hidden_size", json_integer(s->hidden));
    json_object_set_new(c, "initializer_range", json_real(0.02));
    json_object_set_new(c, "intermediate_size", json_integer(s->inter));
    json_object_set_new(c, "max_position_embeddings", json_integer(131072));
    json_object_set_new(c, "mlp_bias", json_false());
    json_object_set_new(c, "model_type", json_string("llama"));
    json_object_set_new(c, "num_attention_heads", json_integer(s->heads));
    json_object_set_new(c, "num_hidden_layers", json_integer(s->layers));
    json_object_set_new(c, "num_key_value_heads", json_integer(s->kv_heads));
    json_object_set_new(c, "pretraining_tp", json_integer(1));
    json_object_set_new(c, "rms_norm_eps", json_real(1e-5));
    json_object_set_new(c, "rope_scaling",
                        json_pack("{s:f, s:f, s:f, s:i, s:s}", "factor", 8.0, "low_freq_factor", 1.0,
                                  "high_freq_factor", 4.0, "original_max_position_embeddings", 8192, "rope_type",
                                  "llama3"));
    json_object_set_new(c, "rope_theta", json_real(500000.0));
    json_object_set_new(c, "tie_word_embeddings", json_false());
    json_object_set_new(c, "torch_dtype", json_string("bfloat16"));
    json_object_set_new(c, "use_cache", json_true());
    json_object_set_new(c, "vocab_size", json_integer(s->vocab));
    write_json_file(c, dir, "config.json", JSON_INDENT(2) | JSON_SORT_KEYS);
    int b = s->vocab - N_SPECIAL;
    write_json_file(json_pack("{s:i, s:[i,i,i], s:b, s:f, s:f}", "bos_token_id", b, "eos_token_id", b + 1, b + 8,
                              b + 9, "do_sample", 1, "temperature", 0.6, "top_p", 0.9),
                    dir, "generation_config.json", JSON_INDENT(2));
}

// ---------------------------------------------------------------------------------------------------------
// Weights

typedef struct {
    char name[96];
    int ndim;
    int64_t shape[2];
    int is_norm;
    uint64_t stream;  // the tensor's Philox stream: its index in the model
} tensor_spec;

static int list_tensors(const shape *s, tensor_spec *t) {
    int n = 0;
    int64_t C = s->hidden, Q = (int64_t)s->heads * s->head_dim, KV = (int64_t)s->kv_heads * s->head_dim;
#define ADD2(nm, r, c_)                                                                 \
    (t[n] = (tensor_spec){.ndim = 2, .shape = {(r), (c_)}, .stream = (uint64_t)n}, \
     snprintf(t[n].name, sizeof t[n].name, "%s", nm), n++)
#define ADD1(nm, r) \
    (t[n] = (tensor_spec){.ndim = 1, .shape = {(r), 0}, .is_norm = 1, .stream = (uint64_t)n}, \
     snprintf(t[n].name, sizeof t[n].name, "%s", nm), n++)
    char nm[96];
    ADD2("model.embed_tokens.weight", s->vocab, C);
    for (int l = 0; l < s->layers; l++) {
#define L(suffix) (snprintf(nm, sizeof nm, "model.layers.%d.%s", l, suffix), nm)
        ADD1(L("input_layernorm.weight"), C);
        ADD2(L("self_attn.q_proj.weight"), Q, C);
        ADD2(L("self_attn.k_proj.weight"), KV, C);
        ADD2(L("self_attn.v_proj.weight"), KV, C);
        ADD2(L("self_attn.o_proj.weight"), C, Q);
        ADD1(L("post_attention_layernorm.weight"), C);
        ADD2(L("mlp.gate_proj.weight"), s->inter, C);
        ADD2(L("mlp.up_proj.weight"), s->inter, C);
        ADD2(L("mlp.down_proj.weight"), C, s->inter);
#undef L
    }
    ADD1("model.norm.weight", C);
    ADD2("lm_head.weight", s->vocab, C);
#undef ADD1
#undef ADD2
    return n;
}

static int64_t numel(const tensor_spec *t) { return t->ndim == 1 ? t->shape[0] : t->shape[0] * t->shape[1]; }

// Elements [from, from + n) of tensor t as bf16. Four elements per Philox block: each the centred sum of four
// uniform bytes (variance 4 * (256^2 - 1) / 12 / 256^2 ~ 1/3, scaled to 1).
static void fill_chunk(const tensor_spec *t, uint64_t seed, int64_t from, int64_t n, uint16_t *out) {
    if (t->is_norm) {
        uint16_t one = f32_to_bf16(1.0f);
        for (int64_t i = 0; i < n; i++) out[i] = one;
        return;
    }
    const float scale = 0.02f * sqrtf(3.0f) / 256.0f;
#pragma omp parallel for schedule(static)
    for (int64_t b = from / 4; b < (from + n + 3) / 4; b++) {
        uint32_t r[4];
        philox4x32(seed, t->stream, (uint64_t)b, r);
        for (int k = 0; k < 4; k++) {
            int64_t i = 4 * b + k;
            if (i < from || i >= from + n) continue;
            uint32_t w = r[k];
            int sum = (int)(w & 255) + (int)((w >> 8) & 255) + (int)((w >> 16) & 255) + (int)(w >> 24);
            out[i - from] = f32_to_bf16(scale * ((float)sum + 2.0f - 512.0f));
        }
    }
}

// One shard: 8-byte little-endian header length, the JSON header padded with spaces to a multiple of 8, then
// the tensors' data in header order, made and written a chunk at a time.
static int64_t write_shard(const char *path, const tensor_spec *t, int n, uint64_t seed, uint16_t *buf,
                           int64_t buf_elems) {
    json_t *h = json_object();
    json_object_set_new(h, "__metadata__", json_pack("{s:s}", "format", "pt"));
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        json_t *shp = json_array();
        for (int d = 0; d < t[i].ndim; d++) json_array_append_new(shp, json_integer(t[i].shape[d]));
        int64_t bytes = 2 * numel(&t[i]);
        json_object_set_new(h, t[i].name,
                            json_pack("{s:s, s:o, s:[I,I]}", "dtype", "BF16", "shape", shp, "data_offsets",
                                      (json_int_t)off, (json_int_t)(off + bytes)));
        off += bytes;
    }
    char *text = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    FILE *f = fopenCheck(path, "wb");
    uint8_t le[8];
    for (int k = 0; k < 8; k++) le[k] = (uint8_t)((uint64_t)padded >> (8 * k));
    int ok = fwrite(le, 1, 8, f) == 8 && fwrite(text, 1, len, f) == len;
    for (size_t k = len; k < padded && ok; k++) ok = fputc(' ', f) != EOF;
    free(text);
    for (int i = 0; i < n && ok; i++) {
        int64_t total = numel(&t[i]);
        for (int64_t from = 0; from < total && ok; from += buf_elems) {
            int64_t m = total - from < buf_elems ? total - from : buf_elems;
            fill_chunk(&t[i], seed, from, m, buf);
            ok = fwrite(buf, 2, (size_t)m, f) == (size_t)m;
        }
    }
    if (fclose(f) != 0) ok = 0;
    mgCheck(ok, "writing a safetensors shard failed (disk full?)");
    return 8 + (int64_t)padded + off;
}

// Tensors in model order, cut into `shards` files of about equal size; the index maps each name to its file.
static int64_t write_weights(const shape *s, int shards, uint64_t seed, const char *dir) {
    tensor_spec *t = callocCheck((size_t)(9 * s->layers + 3), sizeof *t);
    int n = list_tensors(s, t);
    if (shards > n) shards = n;
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += 2 * numel(&t[i]);
    int64_t buf_elems = (int64_t)1 << 24;  // 32 MB of bf16
    uint16_t *buf = mallocCheck((size_t)buf_elems * 2);
    json_t *map = json_object();
    int64_t file_bytes = 0;
    int first = 0;
    for (int k = 0; k < shards; k++) {
        // this shard ends where the running total passes (k+1)/shards of the bytes (the last takes the rest)
        int last = first;
        int64_t acc = 0, before = 0;
        for (int i = 0; i < first; i++) before += 2 * numel(&t[i]);
        // (at least one tensor each, and one left for every later shard)
        while (last < n && (k == shards - 1 || (n - last > shards - 1 - k &&
                                                (last == first || before + acc < total * (k + 1) / shards))))
            acc += 2 * numel(&t[last++]);
        char file[64], path[4200];
        snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", k + 1, shards);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        file_bytes += write_shard(path, t + first, last - first, seed, buf, buf_elems);
        for (int i = first; i < last; i++) json_object_set_new(map, t[i].name, json_string(file));
        first = last;
    }
    write_json_file(json_pack("{s:{s:I}, s:o}", "metadata", "total_size", (json_int_t)total, "weight_map", map), dir,
                    "model.safetensors.index.json", JSON_INDENT(2));
    free(buf);
    free(t);
    return file_bytes;
}

// ---------------------------------------------------------------------------------------------------------
// Tokenizer

// GPT-2's byte-to-character map: printable bytes stand for themselves, the others move to U+0100 onwards.
static void byte_chars(char out[256][4]) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        int cp = printable ? b : 256 + n++;
        if (cp < 0x80) {
            out[b][0] = (char)cp, out[b][1] = 0;
        } else {
            out[b][0] = (char)(0xC0 | (cp >> 6)), out[b][1] = (char)(0x80 | (cp & 0x3F)), out[b][2] = 0;
        }
    }
}

// Byte order of the first 256 ids, as Llama-3's vocabulary has them: printable bytes first.
static void byte_order(int order[256]) {
    int n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int b = 0; b < 256; b++) {
            int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            if (printable == (pass == 0)) order[n++] = b;
        }
}

typedef struct {
    json_t *vocab;   // token string -> id
    json_t *merges;  // "left right" strings in rank order
    char **strs;     // id -> token string
    int n, cap;
} bpe;

static int bpe_add(bpe *t, const char *s) {
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 1024;
        char **grown = realloc(t->strs, (size_t)t->cap * sizeof *grown);
        mgCheck(grown != NULL, "out of memory building a vocabulary");
        t->strs = grown;
    }
    t->strs[t->n] = strdup(s);
    mgCheck(t->strs[t->n] != NULL, "out of memory building a vocabulary");
    json_object_set_new(t->vocab, s, json_integer(t->n));
    return t->n++;
}

// Merges a + b. A new string becomes a new token (returns 1); one that is already a token is skipped (returns 0),
// or with `again` the merge is still added, to that token, as real vocabularies have several splits of a word.
static int bpe_merge(bpe *t, int a, int b, int again) {
    char s[256], m[260];
    if (snprintf(s, sizeof s, "%s%s", t->strs[a], t->strs[b]) >= (int)sizeof s) return 0;
    int exists = json_object_get(t->vocab, s) != NULL;
    if (exists && !again) return 0;
    snprintf(m, sizeof m, "%s %s", t->strs[a], t->strs[b]);
    json_array_append_new(t->merges, json_string(m));
    if (exists) return 0;
    bpe_add(t, s);
    return 1;
}

// The text the merges are learned from: the words of the ARC prompts (colour names with and without a leading
// space, as grid rows put them), Python and the grid language's vocabulary. Original wording.
static char *corpus_text(void) {
    static const char *colours[] = {"Black", "Blue", "Red", "Green", "Yellow", "Gray", "Pink", "Orange", "Purple",
                                    "Brown"};
    static const char *prose =
        "You are an expert at abstract grid puzzles, and you solve them by writing correct Python code. "
        "Look at the input and output grids of the examples below and work out the rule that turns each input "
        "into its output. A grid is written one row per line, each cell the name of its colour or a digit from 0 "
        "to 9 with single spaces between cells. Here is the input grid for the test example. Write a Python "
        "function `transform(input_grid)` that applies the rule to any input grid and returns its output grid. "
        "Here is my guess for the function. Write a variation of this guess that could be the correct rule for "
        "every example. Write a program in the grid language that maps each input to its output.\n"
        "```python\nimport numpy as np\nfrom common import *\n\ndef transform(input_grid):\n"
        "    output_grid = np.copy(input_grid)\n    for x in range(width):\n        for y in range(height):\n"
        "            if input_grid[x, y] == Color.BLACK:\n                continue\n    return output_grid\n```\n";
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    mgCheck(m != NULL, "out of memory writing the tokenizer's corpus");
    for (int rep = 0; rep < 3; rep++) fputs(prose, m);
    for (int i = 1; i <= 10; i++) fprintf(m, "\nExample %d\nInput:\n", i);
    fputs("\nOutput:\n", m);
    for (int r = 0; r < 100; r++) {  // grid rows: every colour after every other, at a line start and after a space
        for (int c = 0; c < 10; c++) fprintf(m, "%s%s", c ? " " : "", colours[(r * 7 + c * (r % 9 + 1)) % 10]);
        fputc('\n', m);
    }
    for (int d = 0; d < 1000; d++) fprintf(m, "%d ", d);
    fclose(m);
    return buf;
}

#define PRETOKENIZE_REGEX                                                                                     \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

typedef struct {
    int *sym;  // token ids
    int n, count;
} word;

typedef struct {
    uint64_t key;  // left << 32 | right
    int count;
} pair_count;

static int cmp_pair(const void *a, const void *b) {
    uint64_t x = ((const pair_count *)a)->key, y = ((const pair_count *)b)->key;
    return x < y ? -1 : x > y;
}

// Plain BPE training on the corpus's pre-tokenized words: merge the most frequent adjacent pair (ties: the
// smallest ids) until every word is one token.
static void learn_merges(bpe *t, const int *byte_id) {
    char *text = corpus_text();
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)PRETOKENIZE_REGEX, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                                   &errcode, &erroff, NULL);
    mgCheck(re != NULL, "the pre-tokenizer regex does not compile");
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    json_t *seen = json_object();  // piece -> index into words
    word *words = NULL;
    int n_words = 0;
    size_t len = strlen(text), at = 0;
    while (at < len && pcre2_match(re, (PCRE2_SPTR)text, len, at, 0, md, NULL) > 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], e = ov[1];
        if (e == s) break;
        char piece[256];
        size_t pn = e - s < sizeof piece - 1 ? e - s : sizeof piece - 1;
        memcpy(piece, text + s, pn);
        piece[pn] = 0;
        json_t *idx = json_object_get(seen, piece);
        if (idx) {
            words[json_integer_value(idx)].count++;
        } else {
            words = realloc(words, (size_t)(n_words + 1) * sizeof *words);
            mgCheck(words != NULL, "out of memory learning merges");
            word *w = &words[n_words];
            w->sym = mallocCheck(pn * sizeof(int));
            w->n = (int)pn, w->count = 1;
            for (size_t k = 0; k < pn; k++) w->sym[k] = byte_id[(uint8_t)piece[k]];
            json_object_set_new(seen, piece, json_integer(n_words++));
        }
        at = e;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    json_decref(seen);
    free(text);

    pair_count *pc = NULL;
    for (;;) {
        size_t np = 0;
        for (int i = 0; i < n_words; i++) np += words[i].n > 1 ? (size_t)words[i].n - 1 : 0;
        if (np == 0) break;
        pc = realloc(pc, np * sizeof *pc);
        mgCheck(pc != NULL, "out of memory learning merges");
        size_t k = 0;
        for (int i = 0; i < n_words; i++)
            for (int j = 0; j + 1 < words[i].n; j++)
                pc[k++] = (pair_count){(uint64_t)words[i].sym[j] << 32 | (uint32_t)words[i].sym[j + 1], words[i].count};
        qsort(pc, np, sizeof *pc, cmp_pair);
        uint64_t best = 0;
        int best_count = 0;
        for (size_t i = 0; i < np;) {
            size_t j = i;
            int c = 0;
            while (j < np && pc[j].key == pc[i].key) c += pc[j++].count;
            if (c > best_count) best = pc[i].key, best_count = c;
            i = j;
        }
        int a = (int)(best >> 32), b = (int)(best & 0xffffffffu);
        char s[256];
        snprintf(s, sizeof s, "%s%s", t->strs[a], t->strs[b]);
        bpe_merge(t, a, b, 1);
        int id = (int)json_integer_value(json_object_get(t->vocab, s));
        for (int i = 0; i < n_words; i++) {
            word *w = &words[i];
            int o = 0;
            for (int j = 0; j < w->n; j++) {
                if (j + 1 < w->n && w->sym[j] == a && w->sym[j + 1] == b) {
                    w->sym[o++] = id;
                    j++;
                } else {
                    w->sym[o++] = w->sym[j];
                }
            }
            w->n = o;
        }
    }
    free(pc);
    for (int i = 0; i < n_words; i++) free(words[i].sym);
    free(words);
}

static const char *const special_names[11] = {
    "<|begin_of_text|>", "<|end_of_text|>",       "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
    "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|eom_id|>",        "<|eot_id|>",            "<|python_tag|>"};

static void special_name(int k, char *buf, size_t cap) {
    if (k < 11)
        snprintf(buf, cap, "%s", special_names[k]);
    else
        snprintf(buf, cap, "<|reserved_special_token_%d|>", k - 8);  // 11 -> 3, ..., 255 -> 247
}

static void write_tokenizer(const shape *s, const char *dir) {
    int base = s->vocab - N_SPECIAL;
    char chars[256][4];
    int order[256], byte_id[256];
    byte_chars(chars);
    byte_order(order);
    bpe t = {.vocab = json_object(), .merges = json_array()};
    for (int i = 0; i < 256; i++) byte_id[order[i]] = bpe_add(&t, chars[order[i]]);
    learn_merges(&t, byte_id);
    int learned = (int)json_array_size(t.merges);
    // Filler: pairs, then triples (a pair and one more), of 97 printable characters (digits and letters first).
    int sym[97], ns = 0;
    const char *first = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (const char *p = first; *p; p++) sym[ns++] = byte_id[(uint8_t)*p];
    for (int b = 33; b <= 126; b++)
        if (!strchr(first, b)) sym[ns++] = byte_id[b];
    sym[ns++] = byte_id[' '], sym[ns++] = byte_id['\n'], sym[ns++] = byte_id['\t'];
    int pairs_from = t.n;
    for (int i = 0; i < ns && t.n < base; i++)
        for (int j = 0; j < ns && t.n < base; j++) bpe_merge(&t, sym[i], sym[j], 0);
    int pairs_to = t.n;
    for (int p = pairs_from; p < pairs_to && t.n < base; p++)
        for (int j = 0; j < ns && t.n < base; j++) bpe_merge(&t, p, sym[j], 0);
    mgCheck(t.n == base, "the filler merges ran out before the base vocabulary was full");
    int n_merges = (int)json_array_size(t.merges);  // json_pack below takes the array

    json_t *added = json_array();
    for (int k = 0; k < N_SPECIAL; k++) {
        char name[64];
        special_name(k, name, sizeof name);
        json_array_append_new(added, json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", base + k, "content", name,
                                               "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0,
                                               "special", 1));
    }
    json_t *model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE", "dropout",
                              "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 0,
                              "byte_fallback", 0, "ignore_merges", 1, "vocab", t.vocab, "merges", t.merges);
    json_t *pre = json_pack(
        "{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, {s:s, s:b, s:b, s:b}]}", "type", "Sequence", "pretokenizers", "type",
        "Split", "pattern", "Regex", PRETOKENIZE_REGEX, "behavior", "Isolated", "invert", 0, "type", "ByteLevel",
        "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 0);
    json_t *post = json_pack(
        "{s:s, s:[{s:s, s:b, s:b, s:b}, {s:s, s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}], "
        "s:{s:{s:s, s:[i], s:[s]}}}]}",
        "type", "Sequence", "processors", "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 0,
        "use_regex", 1, "type", "TemplateProcessing", "single", "SpecialToken", "id", "<|begin_of_text|>", "type_id",
        0, "Sequence", "id", "A", "type_id", 0, "special_tokens", "<|begin_of_text|>", "id", "<|begin_of_text|>",
        "ids", base, "tokens", "<|begin_of_text|>");
    json_t *root = json_pack("{s:s, s:n, s:n, s:o, s:n, s:o, s:o, s:o, s:o}", "version", "1.0", "truncation",
                             "padding", "added_tokens", added, "normalizer", "pre_tokenizer", pre, "post_processor",
                             post, "decoder",
                             json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 1,
                                       "trim_offsets", 1, "use_regex", 1),
                             "model", model);
    mgCheck(root != NULL, "json_pack of tokenizer.json failed");
    write_json_file(root, dir, "tokenizer.json", JSON_COMPACT);
    for (int i = 0; i < t.n; i++) free(t.strs[i]);
    free(t.strs);
    // The Llama-3 chat template (the engine renders the same layout itself: model/chat.c).
    write_json_file(
        json_pack("{s:s, s:s, s:s, s:b, s:i, s:s}", "bos_token", "<|begin_of_text|>", "eos_token", "<|eot_id|>",
                  "chat_template",
                  "{{ '<|begin_of_text|>' }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] "
                  "+ '<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}{% endfor %}{% if "
                  "add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
                  "clean_up_tokenization_spaces", 0, "model_max_length", 131072, "tokenizer_class",
                  "PreTrainedTokenizerFast"),
        dir, "tokenizer_config.json", JSON_INDENT(1));
    printf("tokenizer: 256 byte tokens, %d learned merges, %d filler merges, %d special tokens\n", learned,
           n_merges - learned, N_SPECIAL);
}

// ---------------------------------------------------------------------------------------------------------
// Reading it back with the project's loaders

static int check_folder(const shape *s, const char *dir) {
    mg_err e;
    hf_config c;
    if (hf_config_load(&c, dir, &e)) return fprintf(stderr, "make_random_llama: %s\n", e.msg), 1;
    if (c.vocab_size != s->vocab || c.num_hidden_layers != s->layers || !c.rope_llama3)
        return fprintf(stderr, "make_random_llama: config.json reads back differently\n"), 1;
    tokenizer *tok = NULL;
    if (tokenizer_load(&tok, dir, &e)) return fprintf(stderr, "make_random_llama: %s\n", e.msg), 1;
    int rc = 0;
    const char *text = "Example 1\nInput:\nBlack Blue Red\nGreen Yellow Gray\n\nOutput:\nPink Orange Purple Brown\n"
                       "def transform(input_grid): return [[0] * 30] # caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x99\x82";
    int *ids = NULL, n = 0;
    if (tokenizer_encode(tok, text, strlen(text), 0, &ids, &n, &e)) {
        fprintf(stderr, "make_random_llama: %s\n", e.msg);
        rc = 1;
    } else {
        char *back = tokenizer_decode(tok, ids, n, 0);
        if (strcmp(back, text) != 0) {
            fprintf(stderr, "make_random_llama: the tokenizer does not round-trip: '%s'\n", back);
            rc = 1;
        }
        int blue = tokenizer_token_id(tok, "\xc4\xa0" "Blue");  // " Blue" in byte-level characters
        if (blue < 0) fprintf(stderr, "make_random_llama: ' Blue' is not one token\n"), rc = 1;
        printf("tokenizer round trip: %zu bytes -> %d tokens -> the same text\n", strlen(text), n);
        free(back);
    }
    free(ids);
    if (tokenizer_vocab_size(tok) != s->vocab || chat_format_detect(tok) != CHAT_LLAMA3 ||
        tokenizer_bos_id(tok) != s->vocab - N_SPECIAL || tokenizer_eos_id(tok) != s->vocab - N_SPECIAL + 9) {
        fprintf(stderr, "make_random_llama: tokenizer vocabulary %d, chat format %s, bos %d, eos %d: not Llama-3's\n",
                tokenizer_vocab_size(tok), chat_format_name(chat_format_detect(tok)), tokenizer_bos_id(tok),
                tokenizer_eos_id(tok));
        rc = 1;
    }
    tokenizer_free(tok);
    st_file st;
    if (st_open(&st, dir, &e)) return fprintf(stderr, "make_random_llama: %s\n", e.msg), 1;
    printf("safetensors: %d tensors in %d shards\n", st.n_tensors, st.n_shards);
    if (st.n_tensors != 9 * s->layers + 3) fprintf(stderr, "make_random_llama: wrong tensor count\n"), rc = 1;
    st_close(&st);
    return rc;
}

// The token count of what a run feeds the model for one prompt: an ARC task's on-policy prompt (the grid-language
// executor, colour names) when the file ends in .json, else the file's text as the user message; rendered in the
// tokenizer's chat format with no system message, as coordinator/prompts.c does.
static int count_prompt(const char *model_dir, const char *file) {
    mg_err e;
    tokenizer *tok = NULL;
    task *t = NULL;
    char *user = NULL;
    size_t n_file = strlen(file), len = 0;
    if (tokenizer_load(&tok, model_dir, &e)) return fprintf(stderr, "make_random_llama: %s\n", e.msg), 1;
    if (n_file > 5 && !strcmp(file + n_file - 5, ".json")) {
        arc_task_config ac = {.file = file, .executor = ARC_EXEC_DSL, .format = ARC_CELLS_NAMES};
        if (!arc_task_create(&t, &ac, &e)) user = t->prompt(t);
    } else {
        int missing = 0;
        user = read_small_file(file, (size_t)1 << 24, &len, 0, &missing, &e);
    }
    if (!user) {
        fprintf(stderr, "make_random_llama: %s\n", e.msg);
        tokenizer_free(tok);
        return 1;
    }
    chat_message msg = {"user", user};
    char *text = chat_render(chat_format_detect(tok), &msg, 1, 1);
    int *ids = NULL, n = 0, rc = tokenizer_encode(tok, text, strlen(text), 0, &ids, &n, &e);
    if (rc) fprintf(stderr, "make_random_llama: %s\n", e.msg);
    else printf("prompt: %zu bytes, %d tokens\n", strlen(text), n);
    free(ids);
    free(text);
    free(user);
    if (t) t->destroy(t);
    tokenizer_free(tok);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--count-prompt")) return count_prompt(argv[2], argv[3]);
    const shape *s = NULL;
    const char *dir = NULL;
    int shards = 0;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
            for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
                if (!strcmp(argv[i + 1], shapes[k].name)) s = &shapes[k];
            if (!s) return fprintf(stderr, "make_random_llama: unknown shape '%s' (8b, mini)\n", argv[i + 1]), 2;
            i++;
        } else if (!strcmp(argv[i], "--shards") && i + 1 < argc) {
            shards = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            dir = NULL;
            break;
        }
    }
    if (!s || !dir) {
        fputs("usage: make_random_llama --shape 8b|mini [--shards N] [--seed S] OUT_DIR\n"
              "       make_random_llama --count-prompt MODEL_DIR ARC_TASK.json|TEXT_FILE\n",
              stderr);
        return 2;
    }
    if (shards <= 0) shards = s->shards;
    if (shards > 9 * s->layers + 3) shards = 9 * s->layers + 3;  // one tensor per shard at most
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return fprintf(stderr, "make_random_llama: %s: %s\n", dir, strerror(errno)), 1;
    double t0 = now_s();
    write_configs(s, dir);
    write_tokenizer(s, dir);
    double t1 = now_s();
    int64_t bytes = write_weights(s, shards, seed, dir);
    double t2 = now_s();
    printf("weights: %" PRId64 " bytes in %d shards in %.1f s (%.0f MB/s); tokenizer %.1f s\n", bytes, shards,
           t2 - t1, bytes / 1e6 / (t2 - t1 > 1e-9 ? t2 - t1 : 1e-9), t1 - t0);
    int rc = check_folder(s, dir);
    printf("read back in %.1f s: %s\n", now_s() - t2, rc ? "FAILED" : "ok");
    return rc;
}
