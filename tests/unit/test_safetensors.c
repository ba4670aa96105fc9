// safetensors reader/writer: round trips (f32/bf16/f16 incl. inf, NaN, subnormals), sharded checkpoints, and
// every kind of lying file, each of which must fail with a one-line message naming the file.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/safetensors.h"
#include "testing.h"

static char g_dir[64];

static const char *tmp_path(const char *file) {
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "%s/%s", g_dir, file);
    return p;
}

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// A file image by hand: u64 length field (normally strlen(header)), header text, then data.
static void write_raw(const char *path, uint64_t len_field, const char *header, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    unsigned char lb[8];
    for (int i = 0; i < 8; i++) lb[i] = (unsigned char)(len_field >> (8 * i));
    fwrite(lb, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

// The file must be refused with a message that names it (and mentions `what`, if given).
static void expect_bad_file(const char *path, const char *what, const char *label) {
    st_file st;
    mg_err e = {{0}};
    int rc = st_open(&st, path, &e);
    if (getenv("TEST_VERBOSE")) printf("  %-40s -> %s\n", label, e.msg);
    CHECK(rc == -1, "%s: st_open accepted a bad file", label);
    CHECK(strstr(e.msg, path) != NULL, "%s: message does not name the file: %s", label, e.msg);
    CHECK(strchr(e.msg, '\n') == NULL, "%s: message is not one line: %s", label, e.msg);
    if (what) CHECK(strstr(e.msg, what) != NULL, "%s: message lacks '%s': %s", label, what, e.msg);
    CHECK(st.n_tensors == 0 && st.tensors == NULL && st.maps == NULL, "%s: st not cleared on failure", label);
}

// Header with one entry `entry` for a data region of n bytes.
static void expect_bad_header(const char *entry, size_t n, const char *what, const char *label) {
    char header[1024];
    snprintf(header, sizeof header, "{%s}", entry);
    unsigned char data[256] = {0};
    const char *path = tmp_path("bad.safetensors");
    write_raw(path, strlen(header), header, data, n);
    expect_bad_file(path, what, label);
    unlink(path);
}

static void test_conversions(void) {
    // bf16: round to nearest even on the dropped 16 bits, NaN -> 0x7fc0, overflow -> inf
    CHECK(f32_to_bf16(1.0f) == 0x3f80, "bf16(1)");
    CHECK(f32_to_bf16(from_bits(0x3f808000)) == 0x3f80, "bf16 tie rounds to even (down)");
    CHECK(f32_to_bf16(from_bits(0x3f818000)) == 0x3f82, "bf16 tie rounds to even (up)");
    CHECK(f32_to_bf16(from_bits(0x3f808001)) == 0x3f81, "bf16 above tie rounds up");
    CHECK(f32_to_bf16(NAN) == 0x7fc0, "bf16 NaN");
    CHECK(f32_to_bf16(INFINITY) == 0x7f80 && f32_to_bf16(-INFINITY) == 0xff80, "bf16 inf");
    CHECK(f32_to_bf16(3.4028235e38f) == 0x7f80, "bf16 FLT_MAX rounds to inf");
    CHECK(f32_to_bf16(-0.0f) == 0x8000, "bf16 -0");
    CHECK(f32_to_bf16(from_bits(0x00010000)) == 0x0001, "bf16 subnormal");
    CHECK(bf16_to_f32(0x3fc0) == 1.5f, "bf16 -> f32");
    // f16: normals, the overflow boundary, subnormals and their rounding
    CHECK(f32_to_f16(1.0f) == 0x3c00 && f32_to_f16(-2.0f) == 0xc000, "f16(1), f16(-2)");
    CHECK(f32_to_f16(65504.0f) == 0x7bff, "f16 max");
    CHECK(f32_to_f16(65519.99f) == 0x7bff, "f16 just below the inf tie");
    CHECK(f32_to_f16(65520.0f) == 0x7c00, "f16 tie above max -> inf");
    CHECK(f32_to_f16(1e10f) == 0x7c00 && f32_to_f16(-INFINITY) == 0xfc00, "f16 overflow / -inf");
    CHECK(f32_to_f16(ldexpf(1, -14)) == 0x0400, "f16 smallest normal");
    CHECK(f32_to_f16(ldexpf(1, -24)) == 0x0001, "f16 smallest subnormal");
    CHECK(f32_to_f16(ldexpf(1, -25)) == 0x0000, "f16 half of smallest subnormal ties to 0");
    CHECK(f32_to_f16(ldexpf(1.5f, -25)) == 0x0001, "f16 above the tie rounds up");
    CHECK(f32_to_f16(ldexpf(3, -25)) == 0x0002, "f16 subnormal tie to even");
    CHECK(f32_to_f16(1.0f / 3.0f) == 0x3555, "f16(1/3)");
    CHECK(f32_to_f16(-0.0f) == 0x8000, "f16 -0");
    CHECK((f32_to_f16(NAN) & 0x7e00) == 0x7e00, "f16 NaN is a quiet NaN");
    CHECK(f16_to_f32(0x0001) == ldexpf(1, -24) && f16_to_f32(0x03ff) == 1023 * ldexpf(1, -24), "f16 subnormal");
    CHECK(isinf(f16_to_f32(0x7c00)) && f16_to_f32(0xfc00) < 0 && isnan(f16_to_f32(0x7e00)), "f16 specials");
    // Every half / bfloat16 survives a trip through fp32 (NaNs stay NaN).
    int bad_h = 0, bad_b = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float fh = f16_to_f32((uint16_t)h), fb = bf16_to_f32((uint16_t)h);
        bad_h += isnan(fh) ? !isnan(f16_to_f32(f32_to_f16(fh))) : f32_to_f16(fh) != h;
        bad_b += isnan(fb) ? f32_to_bf16(fb) != 0x7fc0 : f32_to_bf16(fb) != h;
    }
    CHECK(bad_h == 0, "%d halves do not round-trip", bad_h);
    CHECK(bad_b == 0, "%d bfloat16s do not round-trip", bad_b);
    CHECK(st_dtype_size(ST_BF16) == 2 && st_dtype_size(ST_F64) == 8 && st_dtype_size(ST_BOOL) == 1, "sizes");
    CHECK(strcmp(st_dtype_name(ST_BF16), "BF16") == 0 && strcmp(st_dtype_name(ST_I8), "I8") == 0, "names");
}

static const float k_values[6] = {1.5f, -0.0f, INFINITY, -INFINITY, 1e-40f /* f32 subnormal */, 3.14159265f};

static int same_float(float a, float b) { return (isnan(a) && isnan(b)) || bits(a) == bits(b); }

static void test_round_trip(void) {
    float f32[6], nanv = NAN;
    memcpy(f32, k_values, sizeof f32);
    uint16_t bf[7], h[6];
    for (int i = 0; i < 6; i++) bf[i] = f32_to_bf16(f32[i]), h[i] = f32_to_f16(f32[i]);
    bf[6] = f32_to_bf16(nanv);
    double f64[2] = {0.1, -1e300};
    int64_t ids[3] = {1, -2, 1LL << 40};
    const st_write_entry t[] = {
        {"w.f32", ST_F32, 2, {2, 3}, f32},    {"w.bf16", ST_BF16, 1, {7}, bf}, {"w.f16", ST_F16, 3, {1, 2, 3}, h},
        {"scalar64", ST_F64, 1, {2}, f64},    {"ids", ST_I64, 1, {3}, ids},     {"empty", ST_F32, 2, {0, 4}, NULL},
    };
    const char *meta[] = {"format", "pt", "note", "written by test", NULL};
    const char *path = tmp_path("rt.safetensors");
    mg_err e = {{0}};
    CHECK(st_write(path, t, 6, meta, &e) == 0, "st_write: %s", e.msg);
    CHECK(access(tmp_path("rt.safetensors.tmp"), F_OK) != 0, "temp file left behind");

    // Header length is a multiple of 8 and padded with spaces; larger dtypes come first in the data.
    FILE *f = fopen(path, "rb");
    unsigned char lb[8];
    CHECK(fread(lb, 1, 8, f) == 8, "read length");
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | lb[i];
    char *hdr = calloc(1, hl + 1);
    CHECK(fread(hdr, 1, hl, f) == hl, "read header");
    fclose(f);
    CHECK(hl % 8 == 0, "header length %llu not 8-aligned", (unsigned long long)hl);
    CHECK(hdr[0] == '{' && (hdr[hl - 1] == '}' || hdr[hl - 1] == ' '), "header framing");
    free(hdr);

    st_file st;
    CHECK(st_open(&st, path, &e) == 0, "st_open: %s", e.msg);
    CHECK(st.n_tensors == 6 && st.n_shards == 1, "n_tensors %d", st.n_tensors);
    for (int i = 1; i < st.n_tensors; i++)
        CHECK(strcmp(st.tensors[i - 1].name, st.tensors[i].name) < 0, "tensors not sorted by name");
    const st_tensor *tf = st_find(&st, "w.f32"), *ti = st_find(&st, "ids");
    CHECK(tf && tf->dtype == ST_F32 && tf->ndim == 2 && tf->shape[1] == 3 && tf->numel == 6 && tf->nbytes == 24,
          "w.f32 metadata");
    CHECK(st_find(&st, "nope") == NULL && st_find(&st, "") == NULL, "st_find of absent names");
    CHECK(ti && ti->dtype == ST_I64 && memcmp(ti->data, ids, sizeof ids) == 0, "I64 bytes");
    CHECK(((uintptr_t)ti->data & 7) == 0, "8-byte tensor not 8-aligned in the mapping");

    float out[8];
    CHECK(st_read_f32(&st, "w.f32", out, 2, (int64_t[]){2, 3}, &e) == 0, "read f32: %s", e.msg);
    for (int i = 0; i < 6; i++) CHECK(same_float(out[i], f32[i]), "f32[%d] %g != %g", i, out[i], f32[i]);
    CHECK(st_read_f32(&st, "w.bf16", out, 1, (int64_t[]){7}, &e) == 0, "read bf16: %s", e.msg);
    for (int i = 0; i < 6; i++) CHECK(same_float(out[i], bf16_to_f32(f32_to_bf16(f32[i]))), "bf16[%d]", i);
    CHECK(out[0] == 1.5f && isinf(out[2]) && out[3] < 0 && signbit(out[1]) && isnan(out[6]), "bf16 specials");
    CHECK(out[4] > 0.9e-40f && out[4] < 1.1e-40f, "bf16 keeps f32 subnormals: %g", out[4]);
    CHECK(st_read_f32(&st, "w.f16", out, 3, (int64_t[]){1, 2, 3}, &e) == 0, "read f16: %s", e.msg);
    CHECK(out[0] == 1.5f && signbit(out[1]) && isinf(out[2]) && out[3] < 0 && out[4] == 0 &&
              fabsf(out[5] - 3.140625f) < 1e-6f,
          "f16 values %g %g %g %g %g %g", out[0], out[1], out[2], out[3], out[4], out[5]);
    CHECK(st_read_f32(&st, "scalar64", out, 1, (int64_t[]){2}, &e) == 0 && out[0] == 0.1f && isinf(out[1]),
          "read f64: %s", e.msg);
    CHECK(st_read_f32(&st, "empty", out, 2, (int64_t[]){0, 4}, &e) == 0, "empty tensor: %s", e.msg);

    // Missing tensor, wrong shape, non-float dtype: errors naming the file and the tensor.
    e.msg[0] = 0;
    CHECK(st_read_f32(&st, "missing.weight", out, 1, (int64_t[]){1}, &e) == -1, "missing tensor accepted");
    CHECK(strstr(e.msg, path) && strstr(e.msg, "missing.weight"), "missing tensor message: %s", e.msg);
    e.msg[0] = 0;
    CHECK(st_read_f32(&st, "w.f32", out, 2, (int64_t[]){3, 2}, &e) == -1, "wrong shape accepted");
    CHECK(strstr(e.msg, path) && strstr(e.msg, "[2, 3]") && strstr(e.msg, "[3, 2]"), "shape message: %s", e.msg);
    e.msg[0] = 0;
    CHECK(st_read_f32(&st, "w.f32", out, 1, (int64_t[]){6}, &e) == -1, "wrong rank accepted");
    CHECK(st_read_f32(&st, "ids", out, 1, (int64_t[]){3}, &e) == -1 && strstr(e.msg, path), "I64 as float: %s",
          e.msg);
    st_close(&st);
    CHECK(st.tensors == NULL && st.n_shards == 0, "st_close clears");

    // Bad writes: duplicate names, negative shape, unwritable path.
    const st_write_entry dup[] = {{"a", ST_F32, 1, {1}, f32}, {"a", ST_F32, 1, {1}, f32}};
    CHECK(st_write(path, dup, 2, NULL, &e) == -1 && strstr(e.msg, path), "duplicate names: %s", e.msg);
    const st_write_entry neg[] = {{"a", ST_F32, 1, {-1}, f32}};
    CHECK(st_write(path, neg, 1, NULL, &e) == -1 && strstr(e.msg, path), "negative shape: %s", e.msg);
    const char *nodir = tmp_path("no/such/dir/x.safetensors");
    CHECK(st_write(nodir, t, 1, NULL, &e) == -1 && strstr(e.msg, nodir), "bad directory: %s", e.msg);
    // A zero-tensor file is valid.
    CHECK(st_write(path, NULL, 0, NULL, &e) == 0, "empty write: %s", e.msg);
    CHECK(st_open(&st, path, &e) == 0 && st.n_tensors == 0, "empty file open: %s", e.msg);
    st_close(&st);
    unlink(path);
}

// Unaligned data (header length not a multiple of 8) must still read correctly.
static void test_unaligned(void) {
    const char *hdr = "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[1,13]}}";  // odd length too
    unsigned char data[13] = {0xAA};
    float v[3] = {1.25f, -7.0f, 1e30f};
    memcpy(data + 1, v, 12);
    const char *path = tmp_path("unaligned.safetensors");
    write_raw(path, strlen(hdr), hdr, data, sizeof data);
    st_file st;
    mg_err e = {{0}};
    float out[3];
    CHECK(st_open(&st, path, &e) == 0, "unaligned open: %s", e.msg);
    CHECK(st_read_f32(&st, "x", out, 1, (int64_t[]){3}, &e) == 0 && memcmp(out, v, 12) == 0, "unaligned read: %s",
          e.msg);
    st_close(&st);
    unlink(path);
}

static void test_bad_files(void) {
    const char *good = tmp_path("good.safetensors");
    float v[4] = {1, 2, 3, 4};
    const st_write_entry t[] = {{"a", ST_F32, 1, {4}, v}};
    mg_err e = {{0}};
    CHECK(st_write(good, t, 1, NULL, &e) == 0, "write: %s", e.msg);
    struct stat sb;
    stat(good, &sb);

    // Truncated in the data region, then inside the header, then to nothing.
    const char *trunc = tmp_path("trunc.safetensors");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp %s %s", good, trunc);
    CHECK(system(cmd) == 0, "cp");
    CHECK(truncate(trunc, sb.st_size - 3) == 0, "truncate");
    expect_bad_file(trunc, "outside the data region", "truncated data");
    CHECK(truncate(trunc, 20) == 0, "truncate");
    expect_bad_file(trunc, "past the end", "truncated header");
    CHECK(truncate(trunc, 5) == 0, "truncate");
    expect_bad_file(trunc, "too short", "5-byte file");
    CHECK(truncate(trunc, 0) == 0, "truncate");
    expect_bad_file(trunc, "too short", "empty file");
    unlink(trunc);
    unlink(good);

    expect_bad_file(tmp_path("does-not-exist.safetensors"), "No such file", "missing file");
    const char *emptydir = tmp_path("emptydir");
    mkdir(emptydir, 0755);
    expect_bad_file(emptydir, "neither", "directory without model files");
    rmdir(emptydir);

    // Header length field lies.
    const char *p = tmp_path("len.safetensors");
    write_raw(p, 1000, "{}", NULL, 0);
    expect_bad_file(p, "past the end", "header length beyond file");
    write_raw(p, UINT64_MAX, "{}", NULL, 0);
    expect_bad_file(p, "past the end", "header length 2^64-1");
    // Over the 100 MB limit, inside a (sparse) 101 MB file.
    write_raw(p, 101000000, "{}", NULL, 0);
    CHECK(truncate(p, 101000100) == 0, "sparse file");
    expect_bad_file(p, "100 MB", "header over 100 MB");
    unlink(p);

    // Header content lies.
    expect_bad_header("\"a\":{\"dtype\":\"F32\",", 0, "not valid JSON", "header not JSON");
    write_raw(p, 2, "[]", NULL, 0);
    expect_bad_file(p, "not a JSON object", "header is an array");
    write_raw(p, 0, "", NULL, 0);
    expect_bad_file(p, "not valid JSON", "zero-length header");
    unlink(p);
    expect_bad_header("\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}", 12, "outside the data",
                      "offsets beyond data");
    expect_bad_header("\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}", 16, "needs 16",
                      "offsets disagree with shape");
    expect_bad_header("\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,4]}", 16, "outside", "end < begin");
    expect_bad_header("\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[-4,12]}", 16, "outside",
                      "negative offset");
    expect_bad_header("\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}", 16, "two integers",
                      "one offset");
    expect_bad_header("\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}", 16, "non-negative",
                      "negative shape");
    expect_bad_header("\"a\":{\"dtype\":\"F32\",\"shape\":[4.0],\"data_offsets\":[0,16]}", 16, "non-negative",
                      "real shape");
    expect_bad_header("\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                      "\"data_offsets\":[0,16]}",
                      16, "overflows", "huge shape (numel overflow)");
    expect_bad_header("\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,16]}", 16,
                      "too large", "huge shape (byte overflow)");
    expect_bad_header("\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}", 16,
                      "dimensions", "9 dimensions");
    expect_bad_header("\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}", 16,
                      "tensor 'a' has unsupported dtype 'F8_E4M3'", "unknown dtype");
    expect_bad_header("\"a\":{\"shape\":[4],\"data_offsets\":[0,16]}", 16, "dtype", "no dtype");
    expect_bad_header("\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}", 16, "shape", "no shape");
    expect_bad_header("\"a\":[1,2]", 16, "not an object", "entry not an object");
    expect_bad_header("\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}",
                      16, "overlap", "overlapping tensors");
    expect_bad_header("\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                      "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]}",
                      16, "overlap", "tensor inside another");
    expect_bad_header("\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}",
                      16, "not valid JSON", "duplicate names");
    expect_bad_header("\"__metadata__\":{\"format\":1}", 0, "__metadata__", "non-string metadata");
    expect_bad_header("\"__metadata__\":[]", 0, "__metadata__", "metadata not an object");
    expect_bad_header("\"bad\\nname\":{\"dtype\":\"X\",\"shape\":[],\"data_offsets\":[0,0]}", 0, "bad?name",
                      "control character in a name stays on one line");

    // Accepted oddities: empty tensors anywhere, gaps, scalars, metadata, trailing spaces.
    const char *ok = "{\"__metadata__\":{\"k\":\"v\"},\"s\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,2]},"
                     "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[1,1]},"
                     "\"g\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]}}    ";
    unsigned char data[8] = {0x80, 0x3f};
    write_raw(p, strlen(ok), ok, data, 8);
    st_file st;
    CHECK(st_open(&st, p, &e) == 0 && st.n_tensors == 3, "oddities: %s", e.msg);
    float one;
    CHECK(st_read_f32(&st, "s", &one, 0, NULL, &e) == 0 && one == 1.0f, "bf16 scalar: %s", e.msg);
    st_close(&st);
    unlink(p);
}

static void test_sharded(void) {
    float a[2] = {1, 2}, b[3] = {3, 4, 5};
    uint16_t c[2] = {f32_to_bf16(6), f32_to_bf16(7)};
    mg_err e = {{0}};
    const char *dir = tmp_path("sharded");
    mkdir(dir, 0755);
    char s1[256], s2[256], index[256];
    snprintf(s1, sizeof s1, "%s/model-00001-of-00002.safetensors", dir);
    snprintf(s2, sizeof s2, "%s/model-00002-of-00002.safetensors", dir);
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    const st_write_entry t1[] = {{"a", ST_F32, 1, {2}, a}, {"b", ST_F32, 1, {3}, b}};
    const st_write_entry t2[] = {{"c", ST_BF16, 2, {1, 2}, c}};
    CHECK(st_write(s1, t1, 2, NULL, &e) == 0 && st_write(s2, t2, 1, NULL, &e) == 0, "write shards: %s", e.msg);
    write_text(index, "{\"metadata\":{\"total_size\":28},\"weight_map\":{"
                      "\"a\":\"model-00001-of-00002.safetensors\",\"c\":\"model-00002-of-00002.safetensors\","
                      "\"b\":\"model-00001-of-00002.safetensors\"}}");
    for (int via_dir = 0; via_dir < 2; via_dir++) {
        st_file st;
        float out[3];
        CHECK(st_open(&st, via_dir ? dir : index, &e) == 0, "open sharded: %s", e.msg);
        CHECK(st.n_shards == 2 && st.n_tensors == 3, "shards %d tensors %d", st.n_shards, st.n_tensors);
        CHECK(st_read_f32(&st, "b", out, 1, (int64_t[]){3}, &e) == 0 && out[2] == 5, "read b: %s", e.msg);
        CHECK(st_read_f32(&st, "c", out, 2, (int64_t[]){1, 2}, &e) == 0 && out[1] == 7, "read c: %s", e.msg);
        const st_tensor *tc = st_find(&st, "c");
        CHECK(tc && strstr(st.shard_paths[tc->shard], "00002"), "c is in shard 2");
        CHECK(st_read_f32(&st, "d", out, 1, (int64_t[]){1}, &e) == -1 && strstr(e.msg, dir), "missing: %s", e.msg);
        st_close(&st);
    }

    // The index lies: a tensor in the wrong shard, a tensor no shard has, a missing shard file, path escapes.
    write_text(index, "{\"weight_map\":{\"a\":\"model-00002-of-00002.safetensors\","
                      "\"c\":\"model-00002-of-00002.safetensors\"}}");
    expect_bad_file(index, "'a'", "tensor in the wrong shard");
    write_text(index, "{\"weight_map\":{\"zz\":\"model-00001-of-00002.safetensors\"}}");
    expect_bad_file(index, "does not hold it", "tensor in no shard");
    write_text(index, "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                      "\"x\":\"model-00003-of-00003.safetensors\"}}");
    expect_bad_file(index, "model-00003-of-00003.safetensors", "index naming a missing shard");
    expect_bad_file(dir, "model-00003-of-00003.safetensors", "missing shard via the directory");
    write_text(index, "{\"weight_map\":{\"a\":\"../../etc/passwd\"}}");
    expect_bad_file(index, "shard file name", "path escape");
    write_text(index, "{\"weight_map\":{\"a\":7}}");
    expect_bad_file(index, "shard file name", "non-string shard");
    write_text(index, "{\"weight_map\":{}}");
    expect_bad_file(index, "weight_map", "empty weight map");
    write_text(index, "{\"weight_map\":");
    expect_bad_file(index, "not valid JSON", "index not JSON");
    // Two shards both defining "a".
    const st_write_entry t3[] = {{"a", ST_F32, 1, {2}, a}};
    CHECK(st_write(s2, t3, 1, NULL, &e) == 0, "rewrite shard 2: %s", e.msg);
    write_text(index, "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                      "\"b\":\"model-00002-of-00002.safetensors\"}}");
    expect_bad_file(index, "both", "tensor in two shards");
    unlink(s1);
    unlink(s2);
    unlink(index);
    rmdir(dir);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/test_safetensors_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_conversions();
    test_round_trip();
    test_unaligned();
    test_bad_files();
    test_sharded();
    if (rmdir(g_dir) != 0) fprintf(stderr, "note: %s not empty after the test\n", g_dir);
    return test_summary("test_safetensors");
}
