// safetensors files (https://huggingface.co/docs/safetensors): read through mmap, single file or sharded
// (model.safetensors.index.json), and written. Every offset, shape and size in a header is validated against the
// file before anything is read, so a lying header is an error message, never an out-of-bounds read.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef enum { ST_F32 = 0, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL } st_dtype;

#define ST_MAX_DIMS 8

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    size_t nbytes;
    const void *data;  // points into the mapping; NOT necessarily aligned
    int shard;         // index of the file it lives in
} st_tensor;

typedef struct {
    int n_tensors;
    st_tensor *tensors;  // sorted by name
    int n_shards;
    char **shard_paths;
    void **maps;
    size_t *map_sizes;
} st_file;

size_t st_dtype_size(st_dtype t);
const char *st_dtype_name(st_dtype t);  // "F32", "BF16", ...

// path: a .safetensors file, a *.safetensors.index.json, or a folder holding model.safetensors or
// model.safetensors.index.json.
int st_open(st_file *st, const char *path, mg_err *e);
void st_close(st_file *st);
const st_tensor *st_find(const st_file *st, const char *name);  // NULL if absent
// Copies tensor `name` into out as fp32 (converting F16/BF16/F64), after checking its shape equals
// shape[0..ndim). Missing tensor or wrong shape -> error naming the file and tensor.
int st_read_f32(const st_file *st, const char *name, float *out, int ndim, const int64_t *shape, mg_err *e);

// The parser on its own (fuzzed): header JSON of `len` bytes, for a data region of data_len bytes.
// On success *out holds n tensors (data pointers are offsets cast to pointers relative to NULL).
int st_parse_header(const char *json, size_t len, size_t data_len, st_tensor **out, int *n, const char *name,
                    mg_err *e);
void st_free_tensors(st_tensor *t, int n);

typedef struct {
    const char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;  // numel * dtype size bytes
} st_write_entry;
// Writes a single-file safetensors (temp file + rename). metadata: NULL or string pairs {k0, v0, k1, v1, ..., NULL}.
int st_write(const char *path, const st_write_entry *t, int n, const char *const *metadata, mg_err *e);

// fp32 <-> bf16/f16 conversions used by the loader and writer (round-to-nearest-even like PyTorch).
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
