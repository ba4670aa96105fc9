// safetensors reader (mmap + a header validated against the file) and writer (temp file + fsync + rename).
//
// File layout: u64 little-endian N | N bytes of JSON header | data region. The header maps tensor names to
// {"dtype", "shape", "data_offsets": [begin, end]} with offsets relative to the data region. Nothing in the
// header is trusted: every offset, shape and size is checked before a tensor's data pointer is formed.
#include "model/safetensors.h"

#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

// Same ceiling as the reference implementation: a header larger than this is a lie, not a model.
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)
// Index files are a few hundred KB even for 400B-parameter models.
#define ST_MAX_INDEX ((size_t)64 * 1000 * 1000)

static const struct {
    const char *name;
    size_t size;
} dtype_info[] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2}, [ST_F64] = {"F64", 8},
    [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4}, [ST_I16] = {"I16", 2},  [ST_I8] = {"I8", 1},
    [ST_U8] = {"U8", 1},   [ST_BOOL] = {"BOOL", 1},
};
#define ST_N_DTYPES ((int)(sizeof dtype_info / sizeof dtype_info[0]))

size_t st_dtype_size(st_dtype t) { return (int)t >= 0 && (int)t < ST_N_DTYPES ? dtype_info[t].size : 0; }
const char *st_dtype_name(st_dtype t) { return (int)t >= 0 && (int)t < ST_N_DTYPES ? dtype_info[t].name : "?"; }

static char *str_dup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = mallocCheck(n);
    memcpy(d, s, n);
    return d;
}

// "[2, 3]" for messages; long shapes are cut, which is fine for a message.
static const char *fmt_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}

// ---------------------------------------------------------------------------------------------------------
// fp32 <-> bf16 / f16. Bit-exact with PyTorch's c10::BFloat16 / c10::Half scalar conversions.

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;  // any NaN -> the canonical quiet NaN, as c10 does
    // Round to nearest even on the 16 dropped bits: add 0x7fff, plus one more when the kept lsb is odd.
    // A carry out of the mantissa bumps the exponent, which is exactly right (and overflows to inf).
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    // inf / NaN: the payload is kept and a NaN comes out quiet, as the F16C instructions PyTorch uses do
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0));
    if (exp != 0) return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));  // rebias 15 -> 127
    // zero / subnormal: mant * 2^-24, exact in fp32 (both factors are exactly representable)
    float mag = (float)mant * 5.9604644775390625e-8f;
    return bits_f32(sign | f32_bits(mag));
}

uint16_t f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    u &= 0x7fffffffu;
    if (u > 0x7f800000u) return sign | 0x7e00 | (uint16_t)((u >> 13) & 0x3ffu);  // NaN: quiet, payload cut (F16C)
    if (u >= 0x477ff000u) return sign | 0x7c00; // >= 65520 (halfway past 65504, odd mantissa) -> inf
    if (u >= 0x38800000u) {                     // normal half (>= 2^-14): drop 13 bits with RNE, rebias
        uint32_t r = u + 0xfffu + ((u >> 13) & 1u);
        return sign | (uint16_t)((r - (112u << 23)) >> 13);
    }
    if (u <= 0x33000000u) return sign;  // <= 2^-25: halfway to the smallest subnormal rounds to even (zero)
    // Subnormal half: value / 2^-24 rounded to nearest even. f = m * 2^(e-150) with the implicit bit in m,
    // so value / 2^-24 = m >> (126 - e); e is in [102, 112] here, so the shift is 14..24.
    uint32_t e = u >> 23, m = (u & 0x7fffffu) | 0x800000u, shift = 126 - e;
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) q++;  // q == 0x400 is the smallest normal: still correct
    return sign | (uint16_t)q;
}

// ---------------------------------------------------------------------------------------------------------
// Header parsing

void st_free_tensors(st_tensor *t, int n) {
    if (!t) return;
    for (int i = 0; i < n; i++) free(t[i].name);
    free(t);
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int cmp_tensor_begin(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)(*(const st_tensor *const *)a)->data;
    uintptr_t y = (uintptr_t)(*(const st_tensor *const *)b)->data;
    return x < y ? -1 : x > y;
}

static int parse_dtype(const char *s, st_dtype *out) {
    for (int i = 0; i < ST_N_DTYPES; i++)
        if (strcmp(s, dtype_info[i].name) == 0) {
            *out = (st_dtype)i;
            return 0;
        }
    return -1;
}

// One header entry: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}.
static int parse_entry(const char *key, json_t *v, size_t data_len, st_tensor *t, const char *name, mg_err *e) {
    if (!json_is_object(v)) return mg_fail(e, "%s: header entry '%s' is not an object", name, key);
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape");
    json_t *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd)) return mg_fail(e, "%s: tensor '%s' has no string 'dtype'", name, key);
    if (parse_dtype(json_string_value(jd), &t->dtype) != 0)
        return mg_fail(e, "%s: tensor '%s' has unsupported dtype '%s'", name, key, json_string_value(jd));
    if (!json_is_array(js)) return mg_fail(e, "%s: tensor '%s' has no 'shape' list", name, key);
    if (json_array_size(js) > ST_MAX_DIMS)
        return mg_fail(e, "%s: tensor '%s' has %zu dimensions (at most %d supported)", name, key,
                       json_array_size(js), ST_MAX_DIMS);
    t->ndim = (int)json_array_size(js);
    t->numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        json_t *d = json_array_get(js, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return mg_fail(e, "%s: tensor '%s' shape entry %d is not a non-negative integer", name, key, i);
        t->shape[i] = (int64_t)json_integer_value(d);
        if (__builtin_mul_overflow(t->numel, t->shape[i], &t->numel))
            return mg_fail(e, "%s: tensor '%s' shape overflows (element count beyond 2^63)", name, key);
    }
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
        !json_is_integer(json_array_get(jo, 1)))
        return mg_fail(e, "%s: tensor '%s' 'data_offsets' is not a list of two integers", name, key);
    json_int_t begin = json_integer_value(json_array_get(jo, 0)), end = json_integer_value(json_array_get(jo, 1));
    if (begin < 0 || end < begin || (uint64_t)end > (uint64_t)data_len)
        return mg_fail(e, "%s: tensor '%s' data_offsets [%lld, %lld] are outside the data region of %zu bytes",
                       name, key, (long long)begin, (long long)end, data_len);
    size_t size = dtype_info[t->dtype].size;
    uint64_t need;
    if (__builtin_mul_overflow((uint64_t)t->numel, (uint64_t)size, &need))
        return mg_fail(e, "%s: tensor '%s' shape is too large (byte count beyond 2^64)", name, key);
    if (need != (uint64_t)(end - begin)) {
        char sbuf[256];
        return mg_fail(e, "%s: tensor '%s' data_offsets [%lld, %lld] hold %lld bytes but shape %s of %s needs %llu",
                       name, key, (long long)begin, (long long)end, (long long)(end - begin),
                       fmt_shape(sbuf, sizeof sbuf, t->ndim, t->shape), dtype_info[t->dtype].name,
                       (unsigned long long)need);
    }
    t->nbytes = (size_t)need;
    t->data = (const void *)(uintptr_t)begin;  // made absolute by the caller once the mapping is known
    return 0;
}

int st_parse_header(const char *json, size_t len, size_t data_len, st_tensor **out, int *n, const char *name,
                    mg_err *e) {
    *out = NULL;
    *n = 0;
    json_error_t jerr;
    // Duplicate names would make st_find ambiguous; the reference implementation rejects them too.
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return mg_fail(e, "%s: header is not valid JSON (%s at byte %d)", name, jerr.text, jerr.position);
    st_tensor *t = NULL;
    int count = 0;
    if (!json_is_object(root)) {
        mg_fail(e, "%s: header is not a JSON object", name);
        goto fail;
    }
    size_t cap = json_object_size(root);
    if (cap > (size_t)INT32_MAX) {
        mg_fail(e, "%s: header lists too many tensors", name);
        goto fail;
    }
    t = callocCheck(cap, sizeof *t);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            const char *mk;
            json_t *mv;
            if (!json_is_object(v)) {
                mg_fail(e, "%s: '__metadata__' is not an object", name);
                goto fail;
            }
            json_object_foreach(v, mk, mv) if (!json_is_string(mv)) {
                mg_fail(e, "%s: '__metadata__' value '%s' is not a string", name, mk);
                goto fail;
            }
            continue;
        }
        if (parse_entry(key, v, data_len, &t[count], name, e) != 0) goto fail;
        t[count++].name = str_dup(key);
    }
    // Overlap check: order by start offset; each non-empty tensor must begin at or after the furthest end seen.
    // (Gaps are tolerated; only aliasing is a lie.)
    if (count > 1) {
        st_tensor **byoff = mallocCheck((size_t)count * sizeof *byoff);
        for (int i = 0; i < count; i++) byoff[i] = &t[i];
        qsort(byoff, (size_t)count, sizeof *byoff, cmp_tensor_begin);
        const st_tensor *furthest = NULL;
        for (int i = 0; i < count; i++) {
            const st_tensor *c = byoff[i];
            if (c->nbytes == 0) continue;
            uintptr_t b = (uintptr_t)c->data;
            if (furthest && b < (uintptr_t)furthest->data + furthest->nbytes) {
                mg_fail(e, "%s: tensors '%s' and '%s' overlap in the data region", name, furthest->name, c->name);
                free(byoff);
                goto fail;
            }
            if (!furthest || b + c->nbytes > (uintptr_t)furthest->data + furthest->nbytes) furthest = c;
        }
        free(byoff);
    }
    qsort(t, (size_t)count, sizeof *t, cmp_tensor_name);
    json_decref(root);
    *out = t;
    *n = count;
    return 0;
fail:
    st_free_tensors(t, count);
    json_decref(root);
    return -1;
}

// ---------------------------------------------------------------------------------------------------------
// Opening files

void st_close(st_file *st) {
    if (!st) return;
    st_free_tensors(st->tensors, st->n_tensors);
    for (int i = 0; i < st->n_shards; i++) {
        if (st->maps && st->maps[i]) munmap(st->maps[i], st->map_sizes[i]);
        if (st->shard_paths) free(st->shard_paths[i]);
    }
    free(st->shard_paths);
    free(st->maps);
    free(st->map_sizes);
    memset(st, 0, sizeof *st);
}

static uint64_t read_u64_le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

// Maps one .safetensors file, validates its header and appends its tensors to st (unsorted).
static int add_shard(st_file *st, const char *path, mg_err *e) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO must not hang us
    if (fd < 0) return mg_fail(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return mg_fail(e, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return mg_fail(e, "%s: file is %zu bytes, too short for a safetensors header (truncated?)", path, size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return mg_fail(e, "%s: cannot mmap: %s", path, strerror(errno));

    // Record the shard first so st_close unmaps it whatever happens next.
    int s = st->n_shards++;
    st->shard_paths = realloc(st->shard_paths, (size_t)st->n_shards * sizeof *st->shard_paths);
    st->maps = realloc(st->maps, (size_t)st->n_shards * sizeof *st->maps);
    st->map_sizes = realloc(st->map_sizes, (size_t)st->n_shards * sizeof *st->map_sizes);
    mgCheck(st->shard_paths && st->maps && st->map_sizes, "out of memory");
    st->shard_paths[s] = str_dup(path);
    st->maps[s] = map;
    st->map_sizes[s] = size;

    const unsigned char *base = map;
    uint64_t hlen = read_u64_le(base);
    if (hlen > size - 8)
        return mg_fail(e, "%s: header length %llu runs past the end of the %zu-byte file (truncated?)", path,
                       (unsigned long long)hlen, size);
    if (hlen > ST_MAX_HEADER)
        return mg_fail(e, "%s: header length %llu exceeds the 100 MB limit", path, (unsigned long long)hlen);
    const unsigned char *data = base + 8 + hlen;
    st_tensor *t;
    int n;
    if (st_parse_header((const char *)base + 8, (size_t)hlen, size - 8 - (size_t)hlen, &t, &n, path, e) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        t[i].data = data + (uintptr_t)t[i].data;
        t[i].shard = s;
    }
    st->tensors = realloc(st->tensors, ((size_t)st->n_tensors + (size_t)n + 1) * sizeof *st->tensors);
    mgCheck(st->tensors, "out of memory");
    memcpy(st->tensors + st->n_tensors, t, (size_t)n * sizeof *t);
    st->n_tensors += n;
    free(t);  // the names now belong to st->tensors
    return 0;
}

// Sorts all tensors by name and refuses a name defined by two shards.
static int finish_tensors(st_file *st, const char *path, mg_err *e) {
    qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, cmp_tensor_name);
    for (int i = 1; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i - 1].name, st->tensors[i].name) == 0)
            return mg_fail(e, "%s: tensor '%s' is stored in both %s and %s", path, st->tensors[i].name,
                           st->shard_paths[st->tensors[i - 1].shard], st->shard_paths[st->tensors[i].shard]);
    return 0;
}

typedef struct {
    const char *tensor, *file;
} map_entry;

static int cmp_map_file(const void *a, const void *b) {
    return strcmp(((const map_entry *)a)->file, ((const map_entry *)b)->file);
}

// Shard paths are "<index dir>/<file>", so the file a tensor came from is a '/'-preceded suffix.
static int is_shard_of(const char *shard_path, const char *file) {
    size_t lp = strlen(shard_path), lf = strlen(file);
    return lp > lf && shard_path[lp - lf - 1] == '/' && strcmp(shard_path + lp - lf, file) == 0;
}

// model.safetensors.index.json: {"metadata": {...}, "weight_map": {"tensor": "model-00001-of-00002.safetensors"}}
static int open_index(st_file *st, const char *path, mg_err *e) {
    size_t len;
    char *text = read_small_file(path, ST_MAX_INDEX, &len, 0, NULL, e);
    if (!text) return -1;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    free(text);
    if (!root) return mg_fail(e, "%s: not valid JSON (%s at line %d)", path, jerr.text, jerr.line);
    map_entry *m = NULL;
    char *shard_path = NULL;
    int rc = -1;
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        mg_fail(e, "%s: no non-empty 'weight_map' object", path);
        goto done;
    }
    size_t n = json_object_size(wm), i = 0;
    m = mallocCheck(n * sizeof *m);
    const char *key;
    json_t *v;
    json_object_foreach(wm, key, v) {
        const char *f = json_is_string(v) ? json_string_value(v) : NULL;
        // Shards live next to the index; a name that climbs out of the folder is not a shard name.
        if (!f || !f[0] || f[0] == '/' || strstr(f, "..")) {
            mg_fail(e, "%s: weight_map entry for '%s' is not a plain shard file name", path, key);
            goto done;
        }
        m[i++] = (map_entry){key, f};
    }
    // Each distinct shard file is opened once.
    qsort(m, n, sizeof *m, cmp_map_file);
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) : 1;
    const char *dir = slash ? path : ".";
    for (i = 0; i < n; i++) {
        if (i > 0 && strcmp(m[i].file, m[i - 1].file) == 0) continue;
        size_t need = (size_t)dirlen + strlen(m[i].file) + 2;
        shard_path = mallocCheck(need);
        snprintf(shard_path, need, "%.*s/%s", dirlen, dir, m[i].file);
        if (access(shard_path, F_OK) != 0) {
            mg_fail(e, "%s: shard %s named in the index cannot be opened: %s", path, shard_path, strerror(errno));
            goto done;
        }
        if (add_shard(st, shard_path, e) != 0) goto done;
        free(shard_path);
        shard_path = NULL;
    }
    if (finish_tensors(st, path, e) != 0) goto done;
    // Every tensor of the map must be in the file the map names (a stale index is a broken checkpoint).
    for (i = 0; i < n; i++) {
        const st_tensor *t = st_find(st, m[i].tensor);
        if (!t || !is_shard_of(st->shard_paths[t->shard], m[i].file)) {
            mg_fail(e, "%s: tensor '%s' is mapped to %s but %s%s", path, m[i].tensor, m[i].file,
                    t ? "is stored in " : "that shard does not hold it", t ? st->shard_paths[t->shard] : "");
            goto done;
        }
    }
    rc = 0;
done:
    free(shard_path);
    free(m);
    json_decref(root);
    return rc;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int st_open(st_file *st, const char *path, mg_err *e) {
    memset(st, 0, sizeof *st);
    struct stat sb;
    if (stat(path, &sb) != 0) return mg_fail(e, "%s: cannot open: %s", path, strerror(errno));
    int rc;
    if (S_ISDIR(sb.st_mode)) {
        size_t need = strlen(path) + 64;
        char *single = mallocCheck(need), *index = mallocCheck(need);
        snprintf(single, need, "%s/model.safetensors", path);
        snprintf(index, need, "%s/model.safetensors.index.json", path);
        if (access(single, F_OK) == 0)
            rc = add_shard(st, single, e) == 0 ? finish_tensors(st, single, e) : -1;
        else if (access(index, F_OK) == 0)
            rc = open_index(st, index, e);
        else
            rc = mg_fail(e, "%s: directory holds neither model.safetensors nor model.safetensors.index.json", path);
        free(single);
        free(index);
    } else if (ends_with(path, ".json")) {
        rc = open_index(st, path, e);
    } else {
        rc = add_shard(st, path, e) == 0 ? finish_tensors(st, path, e) : -1;
    }
    if (rc != 0) st_close(st);
    return rc;
}

static int cmp_key_tensor(const void *key, const void *t) { return strcmp(key, ((const st_tensor *)t)->name); }

const st_tensor *st_find(const st_file *st, const char *name) {
    if (!st->tensors || st->n_tensors == 0) return NULL;
    return bsearch(name, st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, cmp_key_tensor);
}

int st_read_f32(const st_file *st, const char *name, float *out, int ndim, const int64_t *shape, mg_err *e) {
    const st_tensor *t = st_find(st, name);
    if (!t) {
        const char *where = st->n_shards > 0 ? st->shard_paths[0] : "(no file)";
        if (st->n_shards > 1)
            return mg_fail(e, "%s (and %d more shards): tensor '%s' not found", where, st->n_shards - 1, name);
        return mg_fail(e, "%s: tensor '%s' not found", where, name);
    }
    const char *path = st->shard_paths[t->shard];
    int same = ndim == t->ndim;
    for (int i = 0; same && i < ndim; i++) same = shape[i] == t->shape[i];
    if (!same) {
        char have[256], want[256];
        return mg_fail(e, "%s: tensor '%s' has shape %s but %s was expected", path, name,
                       fmt_shape(have, sizeof have, t->ndim, t->shape),
                       fmt_shape(want, sizeof want, ndim < 0 ? 0 : ndim > ST_MAX_DIMS ? ST_MAX_DIMS : ndim, shape));
    }
    // The mapping gives no alignment guarantee (the header length is arbitrary), so every load is a memcpy.
    const unsigned char *src = t->data;
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case ST_F32:
        if (n) memcpy(out, src, n * 4);
        return 0;
    case ST_BF16:
    case ST_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            out[i] = t->dtype == ST_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
        }
        return 0;
    case ST_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            out[i] = (float)d;
        }
        return 0;
    default:
        return mg_fail(e, "%s: tensor '%s' has dtype %s, not a floating-point type", path, name,
                       st_dtype_name(t->dtype));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Writing

static const st_write_entry *g_sort_entries;  // qsort has no context argument in C11
// Data order: larger dtypes first, then by name. The data region starts 8-aligned (padded header), so every
// tensor then starts at a multiple of its own element size, which keeps mmap readers aligned.
static int cmp_write_order(const void *a, const void *b) {
    const st_write_entry *x = &g_sort_entries[*(const int *)a], *y = &g_sort_entries[*(const int *)b];
    size_t sx = st_dtype_size(x->dtype), sy = st_dtype_size(y->dtype);
    if (sx != sy) return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

int st_write(const char *path, const st_write_entry *t, int n, const char *const *metadata, mg_err *e) {
    if (n < 0) return mg_fail(e, "%s: negative tensor count", path);
    json_t *root = json_object();
    int *order = mallocCheck(((size_t)n + 1) * sizeof *order);
    size_t *nbytes = mallocCheck(((size_t)n + 1) * sizeof *nbytes);
    char *header = NULL;
    int rc = -1;
    file_atomic out = {0};
    if (metadata && metadata[0]) {
        json_t *meta = json_object();
        json_object_set_new(root, "__metadata__", meta);
        for (int i = 0; metadata[i]; i += 2) {
            json_t *v = metadata[i + 1] ? json_string(metadata[i + 1]) : NULL;
            if (!v || json_object_set_new(meta, metadata[i], v) != 0) {
                mg_fail(e, "%s: metadata entry '%s' is not a valid UTF-8 string pair", path, metadata[i]);
                goto done;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        const st_write_entry *w = &t[i];
        int64_t numel = 1;
        int ok = w->name && w->name[0] && strcmp(w->name, "__metadata__") != 0 && st_dtype_size(w->dtype) &&
                 w->ndim >= 0 && w->ndim <= ST_MAX_DIMS;
        for (int d = 0; ok && d < w->ndim; d++)
            ok = w->shape[d] >= 0 && !__builtin_mul_overflow(numel, w->shape[d], &numel);
        if (ok) ok = !__builtin_mul_overflow((size_t)numel, st_dtype_size(w->dtype), &nbytes[i]);
        if (ok) ok = nbytes[i] == 0 || w->data;
        if (!ok) {
            mg_fail(e, "%s: tensor %d ('%s') has an invalid name, dtype, shape or data pointer", path, i,
                    w->name ? w->name : "(null)");
            goto done;
        }
        order[i] = i;
    }
    g_sort_entries = t;
    qsort(order, (size_t)n, sizeof *order, cmp_write_order);
    for (int i = 1; i < n; i++)
        if (strcmp(t[order[i]].name, t[order[i - 1]].name) == 0) {  // equal names sort next to each other
            mg_fail(e, "%s: tensor name '%s' is given twice", path, t[order[i]].name);
            goto done;
        }
    size_t offset = 0;
    for (int i = 0; i < n; i++) {
        const st_write_entry *w = &t[order[i]];
        json_t *shape = json_array();
        for (int d = 0; d < w->ndim; d++) json_array_append_new(shape, json_integer(w->shape[d]));
        json_t *entry = json_pack("{s:s, s:o, s:[I, I]}", "dtype", st_dtype_name(w->dtype), "shape", shape,
                                  "data_offsets", (json_int_t)offset, (json_int_t)(offset + nbytes[order[i]]));
        if (!entry || json_object_set_new(root, w->name, entry) != 0) {
            mg_fail(e, "%s: tensor name '%s' is not valid UTF-8", path, w->name);
            goto done;
        }
        offset += nbytes[order[i]];
    }
    header = json_dumps(root, JSON_COMPACT);
    mgCheck(header != NULL, "jansson could not serialize the header");
    size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8;  // spaces pad to 8 bytes, as the reference does
    char *h = mallocCheck(padded);
    memcpy(h, header, hlen);
    memset(h + hlen, ' ', padded - hlen);
    free(header);
    header = h;
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)((uint64_t)padded >> (8 * i));

    // Write beside the target, then rename: a crash mid-write never leaves a half checkpoint under `path`.
    FILE *f = file_atomic_open(&out, path, e);
    if (!f) goto done;
    int bad = fwrite(lenbuf, 1, 8, f) != 8 || fwrite(header, 1, padded, f) != padded;
    for (int i = 0; !bad && i < n; i++)
        if (nbytes[order[i]]) bad = fwrite(t[order[i]].data, 1, nbytes[order[i]], f) != nbytes[order[i]];
    if (bad) {
        mg_fail(e, "%s: writing failed: %s", path, strerror(errno));
        goto done;
    }
    rc = file_atomic_commit(&out, e);
done:
    file_atomic_abort(&out);  // a no-op once committed
    free(header);
    free(order);
    free(nbytes);
    json_decref(root);
    return rc;
}
