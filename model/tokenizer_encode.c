// Text -> ids and back, in HF's order: split out added tokens (raw text, then normalized text), NFC-normalize,
// pre-tokenize with the split regexes, BPE each pre-token; decode maps byte-level characters back to bytes.
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "model/tokenizer_internal.h"

// ---- character classes as Rust defines them ----

int tok_is_whitespace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

int tok_is_word_char(uint32_t c) {
    return uc_is_property_alphabetic(c) || uc_is_general_category(c, UC_CATEGORY_M) ||
           uc_is_general_category(c, UC_CATEGORY_Nd) || uc_is_general_category(c, UC_CATEGORY_Pc) ||
           uc_is_property_join_control(c);
}

// ---- regexes ----

// HF runs split patterns with Oniguruma, whose \s is exactly Unicode White_Space. PCRE2's \s (with UCP) also
// matches U+180E MONGOLIAN VOWEL SEPARATOR (no longer White_Space), so \s and \S are spelled out as this set;
// it is the only code point where the two differ (checked over all of Unicode with PCRE2 10.42). Everything
// else the Llama-3 / Qwen2 / GPT-2 patterns use (\p{L}, \p{N}, (?i:...), (?!...)) means the same in both.
#define WHITE_SPACE "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

static size_t put_str(char *dst, const char *s) {
    memcpy(dst, s, strlen(s));
    return strlen(s);
}

pcre2_code *tok_regex_compile(const char *pat, size_t len, int literal, char *why, size_t why_len) {
    uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C;
    char *buf = mallocCheck(len * sizeof(WHITE_SPACE) + 16);  // each \s may become the whole set
    size_t n = 0;
    if (literal) {
        options = PCRE2_UTF | PCRE2_LITERAL;  // PCRE2 refuses UCP and the rest alongside LITERAL
        memcpy(buf, pat, len);
        n = len;
    } else {
        int in_class = 0;
        for (size_t i = 0; i < len; i++) {
            char c = pat[i];
            if (c == '\\' && i + 1 < len) {
                char d = pat[++i];
                if (d == 's') {
                    n += put_str(buf + n, in_class ? WHITE_SPACE : "[" WHITE_SPACE "]");
                } else if (d == 'S' && !in_class) {
                    n += put_str(buf + n, "[^" WHITE_SPACE "]");
                } else if (d == 'Q') {  // \Q...\E quotes: copy verbatim
                    buf[n++] = '\\';
                    buf[n++] = 'Q';
                    while (i + 1 < len && !(pat[i + 1] == '\\' && i + 2 < len && pat[i + 2] == 'E'))
                        buf[n++] = pat[++i];
                } else {
                    buf[n++] = '\\';
                    buf[n++] = d;
                }
                continue;
            }
            buf[n++] = c;
            if (c == '[' && !in_class) {
                in_class = 1;
                if (i + 1 < len && pat[i + 1] == '^') buf[n++] = pat[++i];
                if (i + 1 < len && pat[i + 1] == ']') buf[n++] = pat[++i];  // a leading ] is literal
            } else if (c == '[' && in_class && i + 1 < len && pat[i + 1] == ':') {  // [:alpha:]
                while (i + 1 < len && !(pat[i] == ':' && pat[i + 1] == ']')) buf[n++] = pat[++i];
                if (i + 1 < len) buf[n++] = pat[++i];
            } else if (c == ']' && in_class) {
                in_class = 0;
            }
        }
    }
    int code;
    PCRE2_SIZE offset;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)buf, n, options, &code, &offset, NULL);
    free(buf);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(why, why_len, "%s", (const char *)msg);
    }
    return re;
}

// ---- normalizer ----

// Appends n bytes to a growing buffer.
static void buf_put(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
    if (*len + n + 1 > *cap) {
        *cap = 2 * (*len + n) + 16;
        char *grown = realloc(*buf, *cap);
        mgCheck(grown != NULL, "out of memory building a string");
        *buf = grown;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
}

// s with every (non-overlapping, leftmost first) occurrence of `from` replaced by `to`; malloc'd.
static char *replace_all(const char *s, size_t n, const char *from, size_t from_len, const char *to, size_t to_len,
                         size_t *out_len) {
    char *buf = NULL;
    size_t len = 0, cap = 0;
    buf_put(&buf, &len, &cap, "", 0);
    for (size_t i = 0; i < n;) {
        if (from_len && from_len <= n - i && memcmp(s + i, from, from_len) == 0) {
            buf_put(&buf, &len, &cap, to, to_len);
            i += from_len;
        } else {
            buf_put(&buf, &len, &cap, s + i, 1);
            i++;
        }
    }
    *out_len = len;
    return buf;
}

char *tok_normalize(const tokenizer *t, const char *s, size_t n, size_t *out_len) {
    char *cur = mallocCheck(n + 1);
    memcpy(cur, s, n);
    for (int k = 0; k < t->n_norm_steps; k++) {
        const tok_norm_step *st = &t->norm_steps[k];
        char *next = NULL;
        size_t next_len = 0;
        if (st->kind == TOK_NORM_NFC) {
            next = (char *)u8_normalize(UNINORM_NFC, (const uint8_t *)cur, n, NULL, &next_len);
            mgCheck(next != NULL, "out of memory normalizing text");
        } else if (st->kind == TOK_NORM_PREPEND) {
            if (n == 0) continue;  // HF prepends to non-empty text only
            size_t cap = 0;
            buf_put(&next, &next_len, &cap, st->a, (size_t)st->a_len);
            buf_put(&next, &next_len, &cap, cur, n);
        } else {
            next = replace_all(cur, n, st->a, (size_t)st->a_len, st->b, (size_t)st->b_len, &next_len);
        }
        free(cur);
        cur = next;
        n = next_len;
    }
    *out_len = n;
    return cur;
}

// ---- added tokens ----

int tok_matcher_build(tok_matcher *m, const tokenizer *t, int normalized, mg_err *e) {
    memset(m, 0, sizeof *m);
    m->patterns = callocCheck((size_t)t->n_added + 1, sizeof *m->patterns);
    m->pattern_lens = callocCheck((size_t)t->n_added + 1, sizeof *m->pattern_lens);
    m->token_index = callocCheck((size_t)t->n_added + 1, sizeof *m->token_index);
    for (int i = 0; i < t->n_added; i++) {
        const tok_added *a = &t->added[i];
        if ((int)a->normalized != normalized || a->len == 0) continue;  // HF ignores empty added tokens
        char *p;
        size_t plen;
        if (normalized && t->nfc) {  // HF matches normalized tokens by their normalized content
            p = tok_normalize(t, a->content, (size_t)a->len, &plen);
        } else {
            plen = (size_t)a->len;
            p = mallocCheck(plen);
            memcpy(p, a->content, plen);
        }
        if (plen == 0) {
            free(p);
            continue;
        }
        m->patterns[m->n] = p;
        m->pattern_lens[m->n] = (int)plen;
        m->token_index[m->n] = i;
        m->n++;
    }
    // Per first byte, the candidate patterns longest first (insertion sort: few tokens share a first byte
    // except '<', and this runs once at load).
    for (int b = 0; b < 256; b++) {
        int count = 0;
        for (int k = 0; k < m->n; k++) count += (unsigned char)m->patterns[k][0] == b;
        if (!count) continue;
        int *list = mallocCheck((size_t)(count + 1) * sizeof *list), used = 0;
        for (int k = 0; k < m->n; k++) {
            if ((unsigned char)m->patterns[k][0] != b) continue;
            int j = used++;
            while (j > 0 && m->pattern_lens[list[j - 1]] < m->pattern_lens[k]) {
                list[j] = list[j - 1];
                j--;
            }
            list[j] = k;
        }
        list[used] = -1;
        m->by_first[b] = list;
    }
    return 0;
}

void tok_matcher_free(tok_matcher *m) {
    for (int k = 0; k < m->n; k++) free(m->patterns[k]);
    for (int b = 0; b < 256; b++) free(m->by_first[b]);
    free(m->patterns);
    free(m->pattern_lens);
    free(m->token_index);
    memset(m, 0, sizeof *m);
}

typedef struct {
    size_t start, end;
    int id;  // -1: text between added tokens
} span;

typedef struct {
    span *v;
    int n, cap;
} spans;

static void spans_push(spans *s, size_t start, size_t end, int id) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        span *grown = realloc(s->v, (size_t)s->cap * sizeof *grown);
        mgCheck(grown != NULL, "out of memory splitting on added tokens");
        s->v = grown;
    }
    s->v[s->n++] = (span){start, end, id};
}

static uint32_t char_before(const char *s, size_t at) {
    ucs4_t c = 0;
    if (!u8_prev(&c, (const uint8_t *)s + at, (const uint8_t *)s)) return 0;
    return c;
}

static uint32_t char_at(const char *s, size_t n, size_t at) {
    ucs4_t c = 0;
    u8_mbtouc(&c, (const uint8_t *)s + at, n - at);
    return c;
}

static size_t char_len(unsigned char lead) { return lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

// Leftmost position with an added token there, taking the longest one; -1 if none from `from` on.
static int next_match(const tok_matcher *m, const char *s, size_t n, size_t from, size_t *at) {
    for (size_t i = from; i < n; i++)
        for (const int *cand = m->by_first[(unsigned char)s[i]]; cand && *cand >= 0; cand++)
            if ((size_t)m->pattern_lens[*cand] <= n - i &&
                memcmp(s + i, m->patterns[*cand], (size_t)m->pattern_lens[*cand]) == 0) {
                *at = i;
                return *cand;
            }
    return -1;
}

// HF's AddedVocabulary::find_matches: leftmost-longest matches; single_word tokens must stand alone; lstrip /
// rstrip swallow the whitespace beside the token. The text between matches becomes id -1 spans.
static void find_added(const tokenizer *t, const tok_matcher *m, const char *s, size_t n, spans *out) {
    out->n = 0;
    size_t from = 0, start_offset = 0;
    size_t start;
    int hit;
    while (m->n && (hit = next_match(m, s, n, from, &start)) >= 0) {
        size_t stop = start + (size_t)m->pattern_lens[hit];
        from = stop;  // the matcher resumes after the match even when lstrip/rstrip or single_word change it
        const tok_added *a = &t->added[m->token_index[hit]];
        if (a->single_word) {
            int free_before = start == 0 || !tok_is_word_char(char_before(s, start));
            int free_after = stop == n || !tok_is_word_char(char_at(s, n, stop));
            if (!free_before || !free_after) continue;
        }
        if (a->lstrip) {
            size_t left = start;
            while (left > 0) {
                size_t prev = left - 1;
                while (prev > 0 && ((unsigned char)s[prev] & 0xC0) == 0x80) prev--;
                if (!tok_is_whitespace(char_at(s, n, prev))) break;
                left = prev;
            }
            start = left > start_offset ? left : start_offset;
        }
        if (a->rstrip)
            while (stop < n && tok_is_whitespace(char_at(s, n, stop))) stop += char_len((unsigned char)s[stop]);
        if (start_offset < start) spans_push(out, start_offset, start, -1);
        spans_push(out, start, stop, a->id);
        start_offset = stop;
    }
    if (start_offset < n) spans_push(out, start_offset, n, -1);
}

// ---- pre-tokenization ----

typedef struct {
    const tokenizer *t;
    pcre2_match_data *md;
    tok_ids *out;
    int failed;  // PCRE2 error code, 0 if fine
} encoder;

static void pretokenize(encoder *c, int step, const char *s, size_t n);

// Runs step's regex over s: every match and every gap between matches is a piece (HF Split "Isolated").
static void split_isolated(encoder *c, int step, const pcre2_code *re, const char *s, size_t n) {
    size_t off = 0, prev = 0;
    while (off < n && !c->failed) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s, n, off, PCRE2_NO_UTF_CHECK, c->md, c->t->match_ctx);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            c->failed = rc;
            return;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms || ms < off) {  // an empty match yields no piece; move one character on
            off = (ms > off ? ms : off) + 1;
            while (off < n && ((unsigned char)s[off] & 0xC0) == 0x80) off++;
            continue;
        }
        if (prev < ms) pretokenize(c, step + 1, s + prev, ms - prev);
        pretokenize(c, step + 1, s + ms, me - ms);
        prev = off = me;
    }
    if (!c->failed && prev < n) pretokenize(c, step + 1, s + prev, n - prev);
}

static void pretokenize(encoder *c, int step, const char *s, size_t n) {
    if (n == 0 || c->failed) return;
    const tokenizer *t = c->t;
    if (step == t->n_steps) {
        tok_bpe_word(t, (const unsigned char *)s, (int)n, c->out);
        return;
    }
    const tok_pretok_step *st = &t->steps[step];
    char *owned = NULL;
    if (st->byte_level && st->add_prefix_space && s[0] != ' ') {
        owned = mallocCheck(n + 1);
        owned[0] = ' ';
        memcpy(owned + 1, s, n);
        s = owned;
        n++;
    }
    if (st->re)
        split_isolated(c, step, st->re, s, n);
    else
        pretokenize(c, step + 1, s, n);
    free(owned);
}

// HF Metaspace on one piece of text between added tokens; at_start: the piece begins the original text (what
// prepend_scheme "first" asks).
static void metaspace_words(encoder *c, const char *s, size_t n, int at_start) {
    const tokenizer *t = c->t;
    size_t len;
    char *w = replace_all(s, n, " ", 1, t->meta_rep, (size_t)t->meta_rep_len, &len);
    size_t rep_len = (size_t)t->meta_rep_len;
    int starts = len >= rep_len && memcmp(w, t->meta_rep, rep_len) == 0;
    if (!starts && (t->meta_prepend == TOK_PREPEND_ALWAYS || (t->meta_prepend == TOK_PREPEND_FIRST && at_start))) {
        char *p = NULL;
        size_t plen = 0, cap = 0;
        buf_put(&p, &plen, &cap, t->meta_rep, rep_len);
        buf_put(&p, &plen, &cap, w, len);
        free(w);
        w = p;
        len = plen;
    }
    if (!t->meta_split) {
        tok_bpe_word(t, (const unsigned char *)w, (int)len, c->out);
    } else {  // each replacement character starts a new word (HF's MergedWithNext)
        size_t begin = 0;
        for (size_t i = 1; i <= len; i++)
            if (i == len || (i + rep_len <= len && memcmp(w + i, t->meta_rep, rep_len) == 0)) {
                tok_bpe_word(t, (const unsigned char *)w + begin, (int)(i - begin), c->out);
                begin = i;
            }
    }
    free(w);
}

int tokenizer_encode(const tokenizer *t, const char *text, size_t len, int add_special_tokens, int **ids, int *n,
                     mg_err *e) {
    *ids = NULL;
    *n = 0;
    if (!text && len) return mg_fail(e, "%s: encode got a NULL text of length %zu", t->name, len);
    if (!text) text = "";
    if (len > INT_MAX / 8) return mg_fail(e, "%s: input text too long (%zu bytes)", t->name, len);
    const uint8_t *bad = u8_check((const uint8_t *)text, len);
    if (bad)
        return mg_fail(e, "%s: input text is not valid UTF-8 (at byte %zu)", t->name,
                       (size_t)(bad - (const uint8_t *)text));

    tok_ids out = {0};
    encoder c = {t, pcre2_match_data_create(1, NULL), &out, 0};
    mgCheck(c.md != NULL, "out of memory creating PCRE2 match data");
    if (add_special_tokens)
        for (int i = 0; i < t->n_prefix; i++) tok_ids_push(&out, t->prefix_ids[i]);

    spans raw = {0}, norm = {0};
    find_added(t, &t->raw_matcher, text, len, &raw);
    for (int i = 0; i < raw.n && !c.failed; i++) {
        if (raw.v[i].id >= 0) {
            tok_ids_push(&out, raw.v[i].id);
            continue;
        }
        const char *seg = text + raw.v[i].start;
        size_t seg_len = raw.v[i].end - raw.v[i].start;
        char *normalized = NULL;
        if (t->nfc) {
            normalized = tok_normalize(t, seg, seg_len, &seg_len);
            seg = normalized;
        }
        find_added(t, &t->norm_matcher, seg, seg_len, &norm);
        for (int j = 0; j < norm.n && !c.failed; j++) {
            if (norm.v[j].id >= 0)
                tok_ids_push(&out, norm.v[j].id);
            else if (t->metaspace)
                metaspace_words(&c, seg + norm.v[j].start, norm.v[j].end - norm.v[j].start,
                                raw.v[i].start == 0 && norm.v[j].start == 0);
            else
                pretokenize(&c, 0, seg + norm.v[j].start, norm.v[j].end - norm.v[j].start);
        }
        free(normalized);
    }
    free(raw.v);
    free(norm.v);
    pcre2_match_data_free(c.md);
    if (c.failed) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(c.failed, msg, sizeof msg);
        free(out.ids);
        return mg_fail(e, "%s: pre-tokenizer regex failed on the input: %s", t->name, (const char *)msg);
    }
    if (add_special_tokens)
        for (int i = 0; i < t->n_suffix; i++) tok_ids_push(&out, t->suffix_ids[i]);
    if (!out.ids) out.ids = mallocCheck(sizeof(int));
    *ids = out.ids;
    *n = out.n;
    return 0;
}

// ---- decoding ----

// Appends bytes to dst, replacing each maximal ill-formed subsequence by U+FFFD (Rust's from_utf8_lossy).
static size_t utf8_lossy(const unsigned char *s, size_t n, char *dst) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char b = s[i];
        if (b < 0x80) {
            dst[o++] = (char)b;
            i++;
            continue;
        }
        int need = 0;
        unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (b >= 0xC2 && b <= 0xDF) need = 1;
        else if (b == 0xE0) need = 2, lo = 0xA0;
        else if (b >= 0xE1 && b <= 0xEC) need = 2;
        else if (b == 0xED) need = 2, hi = 0x9F;
        else if (b >= 0xEE && b <= 0xEF) need = 2;
        else if (b == 0xF0) need = 3, lo = 0x90;
        else if (b >= 0xF1 && b <= 0xF3) need = 3;
        else if (b == 0xF4) need = 3, hi = 0x8F;
        int got = 0;
        while (got < need && i + 1 + got < n) {
            unsigned char c = s[i + 1 + got];
            if (got == 0 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) break;
            got++;
        }
        if (need && got == need) {
            memcpy(dst + o, s + i, (size_t)need + 1);
            o += (size_t)need + 1;
        } else {
            memcpy(dst + o, "\xEF\xBF\xBD", 3);
            o += 3;
        }
        i += 1 + (size_t)got;
    }
    return o;
}

// ---- SentencePiece-style decoding: HF's decoder chain over the token strings ----

typedef struct {
    char **s;
    size_t *len;
    int n, cap;
} tok_strings;

static void strings_push(tok_strings *v, char *s, size_t len) {  // takes ownership of s
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 16;
        char **gs = realloc(v->s, (size_t)v->cap * sizeof *gs);
        mgCheck(gs != NULL, "out of memory decoding");
        v->s = gs;
        size_t *gl = realloc(v->len, (size_t)v->cap * sizeof *gl);
        mgCheck(gl != NULL, "out of memory decoding");
        v->len = gl;
    }
    v->s[v->n] = s;
    v->len[v->n++] = len;
}

static void strings_push_copy(tok_strings *v, const char *s, size_t len) {
    char *copy = mallocCheck(len + 1);
    memcpy(copy, s, len);
    strings_push(v, copy, len);
}

static void strings_free(tok_strings *v) {
    for (int i = 0; i < v->n; i++) free(v->s[i]);
    free(v->s);
    free(v->len);
    memset(v, 0, sizeof *v);
}

static int hex_digit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

// "<0xNN>" -> the byte, else -1. HF parses NN with Rust's u8::from_str_radix(.., 16), which takes either digit's
// case and also a '+' sign ("<0x+A>" is byte 0x0A).
static int byte_token(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
    if (s[3] == '+') return lo;
    return hi < 0 || lo < 0 ? -1 : 16 * hi + lo;
}

// ByteFallback: a run of byte tokens becomes its text when the bytes are valid UTF-8, otherwise one U+FFFD per
// byte (not per ill-formed sequence: HF replaces the whole run).
static void flush_bytes(tok_strings *out, unsigned char *run, size_t *n) {
    if (!*n) return;
    if (!u8_check(run, *n)) {
        strings_push_copy(out, (const char *)run, *n);
    } else {
        for (size_t i = 0; i < *n; i++) strings_push_copy(out, "\xEF\xBF\xBD", 3);
    }
    *n = 0;
}

static void decode_step(const tok_dec_step *st, tok_strings *v) {
    tok_strings out = {0};
    if (st->kind == TOK_DEC_BYTE_FALLBACK) {
        unsigned char *run = mallocCheck((size_t)v->n + 1);
        size_t nrun = 0;
        for (int i = 0; i < v->n; i++) {
            int b = byte_token(v->s[i], v->len[i]);
            if (b >= 0) {
                run[nrun++] = (unsigned char)b;
                continue;
            }
            flush_bytes(&out, run, &nrun);
            strings_push_copy(&out, v->s[i], v->len[i]);
        }
        flush_bytes(&out, run, &nrun);
        free(run);
    } else if (st->kind == TOK_DEC_FUSE) {  // one string, even from no tokens
        char *all = NULL;
        size_t len = 0, cap = 0;
        buf_put(&all, &len, &cap, "", 0);
        for (int i = 0; i < v->n; i++) buf_put(&all, &len, &cap, v->s[i], v->len[i]);
        strings_push(&out, all, len);
    } else {
        for (int i = 0; i < v->n; i++) {
            const char *s = v->s[i];
            size_t n = v->len[i], len = 0;
            char *r = NULL;
            if (st->kind == TOK_DEC_REPLACE) {
                r = replace_all(s, n, st->a, (size_t)st->a_len, st->b, (size_t)st->b_len, &len);
            } else if (st->kind == TOK_DEC_METASPACE) {
                // Replacement -> ' ', except that in the first token every replacement is dropped unless the
                // scheme is "never" (HF's Metaspace::decode_chain)
                int drop = i == 0 && st->prepend_scheme != TOK_PREPEND_NEVER;
                r = replace_all(s, n, st->a, (size_t)st->a_len, " ", drop ? 0 : 1, &len);
            } else {  // STRIP: up to `start` leading and `stop` trailing copies of the character
                size_t begin = 0, end = n;
                ucs4_t cp;
                for (int k = 0; k < st->start && begin < end; k++) {
                    int step = u8_mbtouc(&cp, (const uint8_t *)s + begin, end - begin);
                    if (cp != st->strip_char) break;
                    begin += (size_t)step;
                }
                for (int k = 0; k < st->stop && end > begin; k++) {
                    const uint8_t *prev = u8_prev(&cp, (const uint8_t *)s + end, (const uint8_t *)s + begin);
                    if (!prev || cp != st->strip_char) break;
                    end = (size_t)(prev - (const uint8_t *)s);
                }
                len = end - begin;
                r = mallocCheck(len + 1);
                memcpy(r, s + begin, len);
            }
            strings_push(&out, r, len);
        }
    }
    strings_free(v);
    *v = out;
}

static char *decode_char_level(const tokenizer *t, const int *ids, int n, int skip_special) {
    tok_strings v = {0};
    for (int i = 0; i < n; i++) {
        int id = ids[i];
        if (id < 0 || id >= t->n_ids || !t->id_str[id]) continue;  // HF drops unknown ids
        if (skip_special && strmap_get(&t->special_content, t->id_str[id], t->id_len[id]) >= 0) continue;
        strings_push_copy(&v, t->id_str[id], (size_t)t->id_len[id]);
    }
    for (int k = 0; k < t->n_dec_steps; k++) decode_step(&t->dec_steps[k], &v);
    char *text = NULL;
    size_t len = 0, cap = 0;
    buf_put(&text, &len, &cap, "", 0);
    for (int i = 0; i < v.n; i++) {  // with no decoder at all HF joins the tokens with spaces
        if (i && !t->has_decoder) buf_put(&text, &len, &cap, " ", 1);
        buf_put(&text, &len, &cap, v.s[i], v.len[i]);
    }
    text[len] = '\0';
    strings_free(&v);
    return text;
}

char *tokenizer_decode(const tokenizer *t, const int *ids, int n, int skip_special) {
    if (t->char_level) return decode_char_level(t, ids, n, skip_special);
    size_t total = 0;
    for (int i = 0; i < n; i++)
        if (ids[i] >= 0 && ids[i] < t->n_ids && t->id_str[ids[i]]) total += (size_t)t->id_len[ids[i]];
    unsigned char *bytes = mallocCheck(total + 1);
    size_t nb = 0;
    for (int i = 0; i < n; i++) {
        int id = ids[i];
        if (id < 0 || id >= t->n_ids || !t->id_str[id]) continue;  // HF drops unknown ids
        const char *s = t->id_str[id];
        int len = t->id_len[id];
        if (skip_special && strmap_get(&t->special_content, s, len) >= 0) continue;
        // HF's ByteLevel decoder: a token whose characters are all byte stand-ins becomes those bytes; any
        // other token (an added token such as "<|eot_id|> x") is copied as its UTF-8.
        size_t start = nb;
        int mapped = 1;
        for (int k = 0; k < len;) {
            ucs4_t cp;
            int step = u8_mbtouc(&cp, (const uint8_t *)s + k, (size_t)(len - k));
            if (cp >= 324 || t->bytes.cp_to_byte[cp] < 0) {
                mapped = 0;
                break;
            }
            bytes[nb++] = (unsigned char)t->bytes.cp_to_byte[cp];
            k += step;
        }
        if (!mapped) {
            nb = start;
            memcpy(bytes + nb, s, (size_t)len);
            nb += (size_t)len;
        }
    }
    char *text = mallocCheck(3 * nb + 1);  // each bad byte can grow to a 3-byte U+FFFD
    size_t len = utf8_lossy(bytes, nb, text);
    text[len] = '\0';
    free(bytes);
    return text;
}
