// libFuzzer target: the input is a whole .safetensors file image (u64 header length | header JSON | data).
// The header goes through st_parse_header; whatever it accepts must then be safe to use exactly as st_open
// uses it: every tensor inside the data region, no two overlapping, names sorted and unique, and every tensor
// readable through st_find + st_read_f32 (float dtypes converted, others refused cleanly).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"

#include "tests/fuzz/fuzz_require.h"

static void check_message(const mg_err *e) {
    require(e->msg[0] != 0);
    require(strchr(e->msg, '\n') == NULL);
    require(strncmp(e->msg, "fuzz.safetensors: ", 18) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 8) return 0;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | data[i];
    if (hlen > size - 8) return 0;  // st_open refuses this before parsing
    const uint8_t *region = data + 8 + hlen;
    size_t region_len = size - 8 - (size_t)hlen;

    st_tensor *t;
    int n;
    mg_err e = {{0}};
    if (st_parse_header((const char *)data + 8, (size_t)hlen, region_len, &t, &n, "fuzz.safetensors", &e) != 0) {
        check_message(&e);
        require(t == NULL && n == 0);
        return 0;
    }
    // Place the tensors in the input the way add_shard places them in the mapping.
    size_t most = 0;
    for (int i = 0; i < n; i++) {
        uintptr_t off = (uintptr_t)t[i].data;
        require(off <= region_len && t[i].nbytes <= region_len - off);
        require((uint64_t)t[i].numel * st_dtype_size(t[i].dtype) == t[i].nbytes);
        require(t[i].ndim >= 0 && t[i].ndim <= ST_MAX_DIMS);
        if (i > 0) require(strcmp(t[i - 1].name, t[i].name) < 0);
        t[i].data = region + off;
        t[i].shard = 0;
        if ((size_t)t[i].numel > most) most = (size_t)t[i].numel;
    }
    for (int i = 0; i < n; i++)  // pairwise non-overlap (inputs are small, n is too)
        for (int j = i + 1; j < n && n <= 256; j++) {
            const uint8_t *a = t[i].data, *b = t[j].data;
            if (t[i].nbytes && t[j].nbytes) require(a + t[i].nbytes <= b || b + t[j].nbytes <= a);
        }

    char *path = "fuzz.safetensors";
    void *map = (void *)data;
    size_t map_size = size;
    st_file st = {.n_tensors = n, .tensors = t, .n_shards = 1, .shard_paths = &path, .maps = &map,
                  .map_sizes = &map_size};
    float *out = malloc((most ? most : 1) * sizeof *out);
    for (int i = 0; i < n; i++) {
        require(st_find(&st, t[i].name) == &t[i]);
        int rc = st_read_f32(&st, t[i].name, out, t[i].ndim, t[i].shape, &e);
        int is_float = t[i].dtype == ST_F32 || t[i].dtype == ST_F16 || t[i].dtype == ST_BF16 || t[i].dtype == ST_F64;
        require(rc == (is_float ? 0 : -1));
        if (rc) check_message(&e);
        // Half-precision values survive a round trip through fp32 (NaNs stay NaN).
        if (t[i].dtype == ST_BF16 || t[i].dtype == ST_F16)
            for (int64_t k = 0; k < t[i].numel; k++) {
                uint16_t h;
                memcpy(&h, (const uint8_t *)t[i].data + 2 * k, 2);
                int bf = t[i].dtype == ST_BF16;
                uint16_t back = bf ? f32_to_bf16(out[k]) : f32_to_f16(out[k]);
                uint16_t exp = bf ? 0x7f80 : 0x7c00, mant = bf ? 0x7f : 0x3ff;
                if (out[k] != out[k])
                    require((back & exp) == exp && (back & mant) != 0);  // NaN stays NaN
                else
                    require(back == h);
            }
    }
    // A wrong shape is always refused.
    if (n > 0) {
        int64_t wrong[ST_MAX_DIMS + 1] = {0};
        memcpy(wrong, t[0].shape, sizeof t[0].shape);
        wrong[0] += 1;
        require(st_read_f32(&st, t[0].name, out, t[0].ndim ? t[0].ndim : 1, wrong, &e) == -1);
        check_message(&e);
    }
    require(st_find(&st, "\x01 no such tensor") == NULL);
    free(out);
    st_free_tensors(t, n);
    return 0;
}
