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
        if (normalized && t->nfc) {
            p = (char *)u8_normalize(UNINORM_NFC, (const uint8_t *)a->content, (size_t)a->len, NULL, &plen);
            mgCheck(p != NULL, "out of memory normalizing an added token");
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
            normalized = (char *)u8_normalize(UNINORM_NFC, (const uint8_t *)seg, seg_len, NULL, &seg_len);
            mgCheck(normalized != NULL, "out of memory normalizing text");
            seg = normalized;
        }
        find_added(t, &t->norm_matcher, seg, seg_len, &norm);
        for (int j = 0; j < norm.n && !c.failed; j++) {
            if (norm.v[j].id >= 0)
                tok_ids_push(&out, norm.v[j].id);
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

char *tokenizer_decode(const tokenizer *t, const int *ids, int n, int skip_special) {
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
