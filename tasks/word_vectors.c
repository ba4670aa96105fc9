// Word vectors for Semantle: a loader for word2vec binary and word2vec/GloVe text files, rows scaled to unit
// length at load (so cosine = dot product), and an open-addressing hash table from word to row.
//
// The whole file is read into memory with one spare NUL byte at the end, so strtod on the last token of a text
// file stops inside the buffer. Every length is checked against what is left before it is used; arrays are sized
// from the file, never from an unchecked header, so a lying header cannot make us allocate gigabytes.
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/semantle.h"

#define WV_MAX_DIM 16384  // larger than any published embedding; "300000" in a header is corruption
#define WV_MAX_WORD 255   // bytes
#define WV_MAX_WORDS 100000000

struct word_vectors {
    int n, dim;
    float *vec;        // [n, dim] unit rows (an all-zero row stays zero: its cosine with anything is 0)
    char **words;      // [n] NUL-terminated, pointing into arena
    char *arena;       // all words back to back
    int *table;        // [mask + 1] row index or -1; linear probing, load factor <= 1/2
    size_t mask;
};

// Parses a file image that is not NUL-terminated; `name` is used in error messages. Used by the fuzz target.
int word_vectors_parse(word_vectors **out, const char *name, const char *data, size_t size, mg_err *e);

// ---------------------------------------------------------------------------------------------------------------
// hash table

static uint64_t hash_bytes(const char *s, size_t len) {  // FNV-1a
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

// Returns the row holding `word` (len bytes) or -1; *slot is where it is or would go.
static int table_lookup(const word_vectors *wv, const char *word, size_t len, size_t *slot) {
    size_t i = (size_t)hash_bytes(word, len) & wv->mask;
    for (;; i = (i + 1) & wv->mask) {
        int row = wv->table[i];
        if (row < 0 || (strncmp(wv->words[row], word, len) == 0 && wv->words[row][len] == 0)) {
            if (slot) *slot = i;
            return row;
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// building: rows are appended one at a time into arrays sized for `cap` rows

typedef struct {
    const char *name;
    word_vectors *wv;
    int cap;
    size_t arena_len, arena_cap;
    size_t *word_at;  // [cap] offsets into the arena until the end, when they become pointers
} builder;

static void builder_init(builder *b, const char *name, int cap, int dim) {
    memset(b, 0, sizeof *b);
    b->name = name;
    b->cap = cap;
    word_vectors *wv = b->wv = callocCheck(1, sizeof *wv);
    wv->dim = dim;
    wv->vec = mallocCheck((size_t)cap * dim * sizeof(float));
    wv->words = callocCheck((size_t)cap, sizeof(char *));
    size_t tsize = 4;
    while (tsize < 2 * (size_t)cap) tsize *= 2;
    wv->mask = tsize - 1;
    wv->table = mallocCheck(tsize * sizeof(int));
    for (size_t i = 0; i < tsize; i++) wv->table[i] = -1;
    b->arena_cap = 4096;
    wv->arena = mallocCheck(b->arena_cap);
    b->word_at = mallocCheck((size_t)cap * sizeof(size_t));
}

static void builder_abort(builder *b) {
    word_vectors_free(b->wv);
    free(b->word_at);
    b->wv = NULL;
    b->word_at = NULL;
}

// Checks a word's bytes; on failure writes why into `why`.
static int word_ok(const char *w, size_t len, char *why, size_t why_len) {
    if (len == 0) return snprintf(why, why_len, "empty word"), 0;
    if (len > WV_MAX_WORD) return snprintf(why, why_len, "word longer than %d bytes", WV_MAX_WORD), 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)w[i] < 0x20 || w[i] == 0x7f)
            return snprintf(why, why_len, "word contains control byte 0x%02x", (unsigned char)w[i]), 0;
    return 1;
}

// Adds a row whose vector is already in wv->vec[n]. Returns the earlier row with the same word, or -1.
static int builder_add(builder *b, const char *w, size_t len) {
    word_vectors *wv = b->wv;
    mgCheck(wv->n < b->cap, "word_vectors: more rows than the capacity computed from the file");
    // Temporarily point words[] into the arena by offset: the arena may move while it grows.
    if (b->arena_len + len + 1 > b->arena_cap) {
        while (b->arena_len + len + 1 > b->arena_cap) b->arena_cap *= 2;
        char *grown = realloc(wv->arena, b->arena_cap);
        mgCheck(grown != NULL, "out of memory growing the word arena");
        wv->arena = grown;
        for (int i = 0; i < wv->n; i++) wv->words[i] = wv->arena + b->word_at[i];
    }
    size_t slot;
    int dup = table_lookup(wv, w, len, &slot);
    if (dup >= 0) return dup;
    memcpy(wv->arena + b->arena_len, w, len);
    wv->arena[b->arena_len + len] = 0;
    b->word_at[wv->n] = b->arena_len;
    wv->words[wv->n] = wv->arena + b->arena_len;
    b->arena_len += len + 1;
    wv->table[slot] = wv->n;
    float *v = wv->vec + (size_t)wv->n * wv->dim;
    double ss = 0;
    for (int d = 0; d < wv->dim; d++) ss += (double)v[d] * v[d];
    if (ss > 0) {
        double inv = 1.0 / sqrt(ss);
        for (int d = 0; d < wv->dim; d++) v[d] = (float)(v[d] * inv);
    }
    wv->n++;
    return -1;
}

static word_vectors *builder_finish(builder *b) {
    word_vectors *wv = b->wv;
    free(b->word_at);
    b->wv = NULL;
    b->word_at = NULL;
    return wv;
}

// ---------------------------------------------------------------------------------------------------------------
// lines and tokens (text format, and the header of both formats)

typedef struct {
    const char *p, *end;  // the line without its '\n' (and without a trailing '\r')
} span;

// The line starting at *pos; advances *pos past its '\n'. Returns 0 at the end of the data.
static int next_line(const char *data, size_t size, size_t *pos, span *line) {
    if (*pos >= size) return 0;
    const char *start = data + *pos;
    const char *nl = memchr(start, '\n', size - *pos);
    const char *stop = nl ? nl : data + size;
    *pos = nl ? (size_t)(nl - data) + 1 : size;
    line->p = start;
    line->end = (stop > start && stop[-1] == '\r') ? stop - 1 : stop;
    return 1;
}

static int is_sep(char c) { return c == ' ' || c == '\t'; }

// The next space/tab-separated token of the line, or 0 when none is left.
static int next_token(span *line, span *tok) {
    while (line->p < line->end && is_sep(*line->p)) line->p++;
    if (line->p == line->end) return 0;
    tok->p = line->p;
    while (line->p < line->end && !is_sep(*line->p)) line->p++;
    tok->end = line->p;
    return 1;
}

static int is_blank(span line) {
    span tok = {0};
    return !next_token(&line, &tok);
}

// A non-negative decimal integer no larger than `most`; -1 otherwise.
static long parse_count(span tok, long most) {
    long v = 0;
    if (tok.p == tok.end) return -1;
    for (const char *c = tok.p; c < tok.end; c++) {
        if (*c < '0' || *c > '9') return -1;
        v = v * 10 + (*c - '0');
        if (v > most) return -2;
    }
    return v;
}

// A float32 from a token; the byte after the token is a separator, '\r', '\n' or the spare NUL, so strtod stops
// there at the latest. 0 on success, 1 if not a number, 2 if outside float32's finite range.
static int parse_float(span tok, float *out) {
    if (strchr("0123456789+-.iInN", *tok.p) == NULL || *tok.p == 0) return 1;  // strtod would skip '\v', '\f'
    char *stop;
    errno = 0;
    double v = strtod(tok.p, &stop);
    if (stop != tok.end) return 1;
    if (!isfinite(v) || fabs(v) > 3.4028234663852886e38) return 2;
    *out = (float)v;
    return 0;
}

// For messages: at most 40 bytes of a token, control bytes shown as '?' so the message stays one printable line.
static const char *clip(span tok, char buf[41]) {
    size_t n = (size_t)(tok.end - tok.p);
    if (n > 40) n = 40;
    for (size_t i = 0; i < n; i++) buf[i] = ((unsigned char)tok.p[i] < 0x20 || tok.p[i] == 0x7f) ? '?' : tok.p[i];
    buf[n] = 0;
    return buf;
}

// ---------------------------------------------------------------------------------------------------------------
// text format

static int parse_text(word_vectors **out, const char *name, const char *data, size_t size, size_t start,
                      int first_line, long header_n, int dim, mg_err *e) {
    // Count the rows there can be: non-blank lines, and at most one per (2 * dim + 2) bytes.
    long lines = 0;
    size_t pos = start;
    span line = {0};
    while (next_line(data, size, &pos, &line))
        if (!is_blank(line)) lines++;
    if (lines == 0) return mg_fail(e, "%s:%d: no word vectors in the file", name, first_line);
    if (lines > WV_MAX_WORDS) return mg_fail(e, "%s: more than %d words", name, WV_MAX_WORDS);

    long lineno = first_line - 1;  // long: blank lines are not limited
    pos = start;
    if (dim == 0) {  // no header: the first non-blank line decides the dimension
        size_t p = start;
        long ln = first_line - 1;
        while (next_line(data, size, &p, &line)) {
            ln++;
            if (is_blank(line)) continue;
            span tok = {0};
            next_token(&line, &tok);
            long count = 0;
            while (next_token(&line, &tok)) count++;
            if (count == 0) return mg_fail(e, "%s:%ld: a word without numbers", name, ln);
            if (count > WV_MAX_DIM)
                return mg_fail(e, "%s:%ld: %ld numbers, more than the %d dimensions supported", name, ln, count,
                               WV_MAX_DIM);
            dim = (int)count;
            break;
        }
    }
    long cap = lines;
    if (header_n >= 0 && header_n < cap) cap = header_n + 1;  // one more row than announced is already an error
    long most = (long)(size / (2 * (size_t)dim + 2)) + 1;
    if (cap > most) cap = most;

    builder b;
    builder_init(&b, name, (int)cap, dim);
    long *line_of = mallocCheck((size_t)cap * sizeof(long));  // for "duplicate word" messages
    word_vectors *wv = b.wv;
    int rc = 0;
    while (next_line(data, size, &pos, &line)) {
        lineno++;
        if (is_blank(line)) continue;
        if (header_n >= 0 && wv->n == header_n) {
            rc = mg_fail(e, "%s:%ld: more words than the %ld the header announces", name, lineno, header_n);
            break;
        }
        if (wv->n == b.cap) {  // cannot happen with a correct bound above; refuse rather than overflow
            rc = mg_fail(e, "%s:%ld: too many words for the file size", name, lineno);
            break;
        }
        span word = {0}, tok = {0};
        next_token(&line, &word);
        char why[64];
        if (!word_ok(word.p, (size_t)(word.end - word.p), why, sizeof why)) {
            rc = mg_fail(e, "%s:%ld: %s", name, lineno, why);
            break;
        }
        float *v = wv->vec + (size_t)wv->n * dim;
        int count = 0;
        while (next_token(&line, &tok)) {
            if (count < dim) {
                int bad = parse_float(tok, &v[count]);
                if (bad) {
                    char shown[41];
                    rc = mg_fail(e, "%s:%ld: field %d is %s: '%s'", name, lineno, count + 2,
                                 bad == 1 ? "not a number" : "not a finite float32", clip(tok, shown));
                    break;
                }
            }
            count++;
        }
        if (rc) break;
        if (count != dim) {
            rc = mg_fail(e, "%s:%ld: expected %d numbers, found %d", name, lineno, dim, count);
            break;
        }
        line_of[wv->n] = lineno;
        int dup = builder_add(&b, word.p, (size_t)(word.end - word.p));
        if (dup >= 0) {
            char shown[41];
            rc = mg_fail(e, "%s:%ld: duplicate word '%s' (first on line %ld)", name, lineno, clip(word, shown),
                         line_of[dup]);
            break;
        }
    }
    if (!rc && header_n >= 0 && wv->n != header_n)
        rc = mg_fail(e, "%s:%ld: the header announces %ld words, the file has %d", name, lineno, header_n, wv->n);
    free(line_of);
    if (rc) {
        builder_abort(&b);
        return -1;
    }
    *out = builder_finish(&b);
    return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// binary format

static float read_f32_le(const unsigned char *p) {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static int parse_binary(word_vectors **out, const char *name, const char *data, size_t size, size_t start,
                        long header_n, int dim, mg_err *e) {
    size_t row_bytes = 4 * (size_t)dim;
    long cap = (long)((size - start) / (row_bytes + 2));  // each entry: >= 1 byte of word, a space, the vector
    if (cap > header_n) cap = header_n;
    if (cap < 1) cap = 1;
    builder b;
    builder_init(&b, name, (int)cap, dim);
    word_vectors *wv = b.wv;
    size_t pos = start;
    int rc = 0;
    for (long k = 1; k <= header_n && !rc; k++) {
        while (pos < size && (data[pos] == '\n' || data[pos] == '\r')) pos++;
        const char *w = data + pos;
        const char *space = memchr(w, ' ', size - pos);
        if (!space) {
            rc = mg_fail(e, "%s: entry %ld: truncated in the word (%ld of %ld entries read)", name, k, k - 1,
                         header_n);
            break;
        }
        size_t len = (size_t)(space - w);
        char why[64];
        if (!word_ok(w, len, why, sizeof why)) {
            rc = mg_fail(e, "%s: entry %ld: %s", name, k, why);
            break;
        }
        pos += len + 1;
        if (size - pos < row_bytes) {
            rc = mg_fail(e, "%s: entry %ld: truncated: the vector needs %zu bytes, %zu are left", name, k, row_bytes,
                         size - pos);
            break;
        }
        if (wv->n == b.cap) {  // unreachable: cap counts the entries that fit
            rc = mg_fail(e, "%s: entry %ld: too many entries for the file size", name, k);
            break;
        }
        float *v = wv->vec + (size_t)wv->n * dim;
        for (int d = 0; d < dim; d++) {
            v[d] = read_f32_le((const unsigned char *)data + pos + 4 * (size_t)d);
            if (!isfinite(v[d])) {
                rc = mg_fail(e, "%s: entry %ld: value %d is not a finite number", name, k, d + 1);
                break;
            }
        }
        if (rc) break;
        pos += row_bytes;
        int dup = builder_add(&b, w, len);
        if (dup >= 0) {
            int l = len > 40 ? 40 : (int)len;
            rc = mg_fail(e, "%s: entry %ld: duplicate word '%.*s' (first at entry %d)", name, k, l, w, dup + 1);
        }
    }
    if (!rc) {
        while (pos < size && (data[pos] == '\n' || data[pos] == '\r' || is_sep(data[pos]))) pos++;
        if (pos < size)
            rc = mg_fail(e, "%s: entry %ld: data after the %ld entries the header announces", name, header_n + 1,
                         header_n);
    }
    if (rc) {
        builder_abort(&b);
        return -1;
    }
    *out = builder_finish(&b);
    return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// format detection

// After a "V D" header, text and binary both start with a word and a space. In text the rest of that line is
// numbers; in binary it is 4*D raw bytes, which for real vectors always hold a float's exponent byte (':'..'B' or
// 0xba..0xc2 for |x| in 1e-3..100), never a text byte. Ambiguous images are retried in the other format.
static int looks_like_text(const char *data, size_t size, size_t start, int dim) {
    const char *space = memchr(data + start, ' ', size - start);
    if (!space) return 1;
    size_t from = (size_t)(space - data) + 1, n = 0, limit = 4 * (size_t)dim;
    for (; from + n < size && n < limit && data[from + n] != '\n'; n++)
        if (!strchr("0123456789.+-eE \t\r", data[from + n]) || data[from + n] == 0) return 0;
    return n > 0;
}

// The parser proper; data[size] must be 0.
static int parse_image(word_vectors **out, const char *name, const char *data, size_t size, mg_err *e) {
    *out = NULL;
    if (size == 0) return mg_fail(e, "%s: empty file", name);
    size_t pos = 0;
    span line = {0};
    next_line(data, size, &pos, &line);
    // A header is exactly two all-digit tokens (parse_count: -1 "not digits", -2 "too big", checked below).
    span t1 = {0}, t2 = {0}, t3 = {0};
    int header = next_token(&line, &t1) && next_token(&line, &t2) && !next_token(&line, &t3) &&
                 parse_count(t1, 0) != -1 && parse_count(t2, 0) != -1;
    if (!header) return parse_text(out, name, data, size, 0, 1, -1, 0, e);

    long n = parse_count(t1, WV_MAX_WORDS), dim = parse_count(t2, WV_MAX_DIM);
    if (n < 1) return mg_fail(e, "%s:1: the header's word count must be 1..%d", name, WV_MAX_WORDS);
    if (dim < 1) return mg_fail(e, "%s:1: the header's dimension must be 1..%d", name, WV_MAX_DIM);
    int text = looks_like_text(data, size, pos, (int)dim);
    int rc = text ? parse_text(out, name, data, size, pos, 2, n, (int)dim, e)
                  : parse_binary(out, name, data, size, pos, n, (int)dim, e);
    if (rc == 0) return 0;
    mg_err other;
    if ((text ? parse_binary(out, name, data, size, pos, n, (int)dim, &other)
              : parse_text(out, name, data, size, pos, 2, n, (int)dim, &other)) == 0)
        return 0;
    *out = NULL;
    return -1;  // e keeps the first format's message: it is the likelier one
}

int word_vectors_parse(word_vectors **out, const char *name, const char *data, size_t size, mg_err *e) {
    char *copy = mallocCheck(size + 1);
    if (size) memcpy(copy, data, size);
    copy[size] = 0;
    int rc = parse_image(out, name, copy, size, e);
    free(copy);
    return rc;
}

int word_vectors_load(word_vectors **out, const char *path, mg_err *e) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return mg_fail(e, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t size = 0, cap = 0;
    for (;;) {  // read to the end: works for pipes too, and never trusts a size reported up front
        if (cap - size < 65536) {
            cap = cap ? cap * 2 : 1 << 20;
            char *grown = realloc(buf, cap + 1);
            mgCheck(grown != NULL, "out of memory reading a word-vector file");
            buf = grown;
        }
        size_t got = fread(buf + size, 1, cap - size, f);
        size += got;
        if (got == 0) break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return mg_fail(e, "%s: read error", path);
    }
    buf[size] = 0;
    int rc = parse_image(out, path, buf, size, e);
    free(buf);
    return rc;
}

// ---------------------------------------------------------------------------------------------------------------
// queries

void word_vectors_free(word_vectors *wv) {
    if (!wv) return;
    free(wv->vec);
    free(wv->words);
    free(wv->arena);
    free(wv->table);
    free(wv);
}

int word_vectors_count(const word_vectors *wv) { return wv->n; }
int word_vectors_dim(const word_vectors *wv) { return wv->dim; }

int word_vectors_find(const word_vectors *wv, const char *word) {
    if (!word) return -1;
    return table_lookup(wv, word, strlen(word), NULL);
}

const char *word_vectors_word(const word_vectors *wv, int index) {
    return index >= 0 && index < wv->n ? wv->words[index] : NULL;
}

double word_vectors_cosine(const word_vectors *wv, int a, int b) {
    mgCheck(a >= 0 && a < wv->n && b >= 0 && b < wv->n, "word_vectors_cosine: index out of range");
    const float *x = wv->vec + (size_t)a * wv->dim, *y = wv->vec + (size_t)b * wv->dim;
    double dot = 0;
    for (int d = 0; d < wv->dim; d++) dot += (double)x[d] * y[d];
    return dot;
}
