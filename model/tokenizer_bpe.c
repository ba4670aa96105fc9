// The BPE core: hash tables for the vocabulary and merges, the GPT-2 byte table, and merging one pre-token by
// rank with a min-heap (HF's Word::merge_all), O(n log n) in the pre-token length.
#include <stdlib.h>
#include <string.h>

#include "model/tokenizer_internal.h"

// ---- hash tables ----

static uint64_t hash_bytes(const char *s, int len) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (int i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static size_t capacity_for(size_t expected) {
    size_t cap = 16;
    while (cap < 2 * expected + 2) cap <<= 1;
    return cap;
}

void strmap_init(tok_strmap *m, size_t expected) {
    m->cap = capacity_for(expected);
    m->count = 0;
    m->keys = callocCheck(m->cap, sizeof *m->keys);
    m->lens = callocCheck(m->cap, sizeof *m->lens);
    m->vals = callocCheck(m->cap, sizeof *m->vals);
}

void strmap_free(tok_strmap *m) {
    free(m->keys);
    free(m->lens);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t strmap_slot(const tok_strmap *m, const char *key, int len) {
    size_t i = hash_bytes(key, len) & (m->cap - 1);
    while (m->keys[i] && !(m->lens[i] == len && memcmp(m->keys[i], key, (size_t)len) == 0))
        i = (i + 1) & (m->cap - 1);
    return i;
}

void strmap_put(tok_strmap *m, const char *key, int len, int val) {
    if (2 * (m->count + 1) > m->cap) {  // grow: rehash into twice the slots
        tok_strmap bigger;
        strmap_init(&bigger, m->cap);
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) strmap_put(&bigger, m->keys[i], m->lens[i], m->vals[i]);
        strmap_free(m);
        *m = bigger;
    }
    size_t i = strmap_slot(m, key, len);
    if (!m->keys[i]) {
        m->keys[i] = key;
        m->lens[i] = len;
        m->count++;
    }
    m->vals[i] = val;
}

int strmap_get(const tok_strmap *m, const char *key, int len) {
    if (!m->cap) return -1;
    size_t i = strmap_slot(m, key, len);
    return m->keys[i] ? m->vals[i] : -1;
}

void pairmap_init(tok_pairmap *m, size_t expected) {
    m->cap = capacity_for(expected);
    m->count = 0;
    m->keys = callocCheck(m->cap, sizeof *m->keys);
    m->ranks = callocCheck(m->cap, sizeof *m->ranks);
    m->new_ids = callocCheck(m->cap, sizeof *m->new_ids);
}

void pairmap_free(tok_pairmap *m) {
    free(m->keys);
    free(m->ranks);
    free(m->new_ids);
    memset(m, 0, sizeof *m);
}

static size_t pairmap_slot(const tok_pairmap *m, uint64_t key) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 20) & (m->cap - 1);
    while (m->keys[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
    return i;
}

void pairmap_put(tok_pairmap *m, int left, int right, int rank, int new_id) {
    if (2 * (m->count + 1) > m->cap) {
        tok_pairmap bigger;
        pairmap_init(&bigger, m->cap);
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = pairmap_slot(&bigger, m->keys[i]);
                bigger.keys[j] = m->keys[i];
                bigger.ranks[j] = m->ranks[i];
                bigger.new_ids[j] = m->new_ids[i];
                bigger.count++;
            }
        pairmap_free(m);
        *m = bigger;
    }
    uint64_t key = ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) + 1;
    size_t i = pairmap_slot(m, key);
    if (!m->keys[i]) m->count++;
    m->keys[i] = key;
    m->ranks[i] = rank;
    m->new_ids[i] = new_id;
}

int pairmap_get(const tok_pairmap *m, int left, int right, int *rank, int *new_id) {
    if (!m->cap) return 0;
    uint64_t key = ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) + 1;
    size_t i = pairmap_slot(m, key);
    if (!m->keys[i]) return 0;
    *rank = m->ranks[i];
    *new_id = m->new_ids[i];
    return 1;
}

// ---- GPT-2 bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes for U+0100.. ----

void tok_byte_table_init(tok_byte_table *t) {
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        t->byte_to_cp[b] = printable ? b : 256 + extra++;
    }
    for (int c = 0; c < 324; c++) t->cp_to_byte[c] = -1;
    for (int b = 0; b < 256; b++) t->cp_to_byte[t->byte_to_cp[b]] = b;
}

// ---- id vectors ----

void tok_ids_push(tok_ids *v, int id) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        int *grown = realloc(v->ids, (size_t)v->cap * sizeof *grown);
        mgCheck(grown != NULL, "out of memory growing a token id list");
        v->ids = grown;
    }
    v->ids[v->n++] = id;
}

// ---- merging one word ----

typedef struct {
    int id, prev, next, alive;
} symbol;

typedef struct {
    int rank, pos, new_id;
} merge;

static int merge_before(merge a, merge b) { return a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos; }

static void heap_push(merge *h, int *n, merge m) {
    int i = (*n)++;
    while (i > 0 && merge_before(m, h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = m;
}

static merge heap_pop(merge *h, int *n) {
    merge top = h[0], last = h[--*n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && merge_before(h[c + 1], h[c])) c++;
        if (!merge_before(h[c], last)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
    return top;
}

static void push_pair(const tokenizer *t, const symbol *s, int pos, merge *heap, int *n) {
    int rank, new_id;
    if (s[pos].next >= 0 && pairmap_get(&t->merges, s[pos].id, s[s[pos].next].id, &rank, &new_id))
        heap_push(heap, n, (merge){rank, pos, new_id});
}

// Writes the stand-in characters of bytes as UTF-8 into dst (room for 2 * len bytes); returns the length.
static int map_bytes(const tok_byte_table *table, const unsigned char *bytes, int len, char *dst) {
    int n = 0;
    for (int i = 0; i < len; i++) {
        int cp = table->byte_to_cp[bytes[i]];
        if (cp < 0x80) {
            dst[n++] = (char)cp;
        } else {
            dst[n++] = (char)(0xC0 | (cp >> 6));
            dst[n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    return n;
}

// Repeatedly merges the lowest-rank pair of s[0..n), leftmost first, and appends what is left to out.
static void merge_all(const tokenizer *t, symbol *s, int n, merge *heap, tok_ids *out);

// SentencePiece-style word: one symbol per Unicode character of the vocabulary. A character the vocabulary lacks
// becomes its UTF-8 bytes as <0xNN> tokens (byte_fallback, when all of them exist) or the unknown token. This is
// HF's BPE::merge_word, quirk included: a byte-fallback character does not flush a pending unknown token, so
// that token lands after the bytes.
static void char_word(const tokenizer *t, const unsigned char *bytes, int len, tok_ids *out) {
    if (t->ignore_merges) {
        int id = strmap_get(&t->vocab, (const char *)bytes, len);
        if (id >= 0) {
            tok_ids_push(out, id);
            return;
        }
    }
    symbol small_syms[64];
    merge small_heap[3 * 64];
    symbol *s = len <= 64 ? small_syms : mallocCheck((size_t)len * sizeof *s);  // <= one symbol per byte
    merge *heap = len <= 64 ? small_heap : mallocCheck(3 * (size_t)len * sizeof *heap);
    int n = 0, pending_unk = 0;
    for (int i = 0; i < len;) {
        int clen = bytes[i] < 0xC0 ? 1 : bytes[i] < 0xE0 ? 2 : bytes[i] < 0xF0 ? 3 : 4;
        if (clen > len - i) clen = len - i;
        int id = strmap_get(&t->vocab, (const char *)bytes + i, clen);
        if (id >= 0) {
            if (pending_unk) s[n++] = (symbol){t->unk_id, 0, 0, 1};
            pending_unk = 0;
            s[n++] = (symbol){id, 0, 0, 1};
        } else {
            int have_bytes = t->byte_fallback;
            for (int k = 0; k < clen && have_bytes; k++) have_bytes = t->byte_token_id[bytes[i + k]] >= 0;
            if (have_bytes) {
                for (int k = 0; k < clen; k++) s[n++] = (symbol){t->byte_token_id[bytes[i + k]], 0, 0, 1};
            } else if (t->unk_id >= 0) {
                if (pending_unk && !t->fuse_unk) s[n++] = (symbol){t->unk_id, 0, 0, 1};
                pending_unk = 1;
            }
        }
        i += clen;
    }
    if (pending_unk) s[n++] = (symbol){t->unk_id, 0, 0, 1};
    merge_all(t, s, n, heap, out);
    if (s != small_syms) {
        free(s);
        free(heap);
    }
}

void tok_bpe_word(const tokenizer *t, const unsigned char *bytes, int len, tok_ids *out) {
    if (len <= 0) return;
    if (t->char_level) {
        char_word(t, bytes, len, out);
        return;
    }
    if (t->ignore_merges) {  // Llama-3: a pre-token that is a whole vocabulary entry is emitted as is
        char small[256];
        char *mapped = 2 * len <= (int)sizeof small ? small : mallocCheck(2 * (size_t)len);
        int id = strmap_get(&t->vocab, mapped, map_bytes(&t->bytes, bytes, len, mapped));
        if (mapped != small) free(mapped);
        if (id >= 0) {
            tok_ids_push(out, id);
            return;
        }
    }

    // One symbol per byte. A byte missing from the vocabulary becomes the unknown token (consecutive ones fused
    // when fuse_unk) or, with no unknown token, is dropped -- what HF's merge_word does.
    symbol small_syms[64];
    merge small_heap[3 * 64];
    symbol *s = len <= 64 ? small_syms : mallocCheck((size_t)len * sizeof *s);
    merge *heap = len <= 64 ? small_heap : mallocCheck(3 * (size_t)len * sizeof *heap);
    int n = 0, pending_unk = 0;
    for (int i = 0; i < len; i++) {
        int id = t->byte_id[bytes[i]];
        if (id < 0) {
            if (t->unk_id >= 0) {
                if (pending_unk && !t->fuse_unk) s[n++] = (symbol){t->unk_id, 0, 0, 1};
                pending_unk = 1;
            }
            continue;
        }
        if (pending_unk) s[n++] = (symbol){t->unk_id, 0, 0, 1};
        pending_unk = 0;
        s[n++] = (symbol){id, 0, 0, 1};
    }
    if (pending_unk) s[n++] = (symbol){t->unk_id, 0, 0, 1};
    merge_all(t, s, n, heap, out);
    if (s != small_syms) {
        free(s);
        free(heap);
    }
}

static void merge_all(const tokenizer *t, symbol *s, int n, merge *heap, tok_ids *out) {
    for (int i = 0; i < n; i++) {
        s[i].prev = i - 1;
        s[i].next = i + 1 < n ? i + 1 : -1;
    }

    // Repeatedly merge the lowest-rank pair, leftmost first. Entries made stale by an earlier merge are
    // recognised as HF does: the pair now at that position no longer produces the entry's merged id.
    int hn = 0;
    for (int i = 0; i + 1 < n; i++) push_pair(t, s, i, heap, &hn);
    while (hn > 0) {
        merge top = heap_pop(heap, &hn);
        symbol *left = &s[top.pos];
        if (!left->alive || left->next < 0) continue;
        int right = left->next, rank, new_id;
        if (!pairmap_get(&t->merges, left->id, s[right].id, &rank, &new_id) || new_id != top.new_id) continue;
        left->id = top.new_id;
        s[right].alive = 0;
        left->next = s[right].next;
        if (left->next >= 0) s[left->next].prev = top.pos;
        if (left->prev >= 0) push_pair(t, s, left->prev, heap, &hn);
        push_pair(t, s, top.pos, heap, &hn);
    }
    for (int i = 0; i < n; i++)
        if (s[i].alive) tok_ids_push(out, s[i].id);
}
