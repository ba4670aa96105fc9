// Small HDF5 helpers for the checkpoint: typed attributes and 1-D/2-D datasets with one-line errors.
//
// Every dataset is chunked with the Fletcher-32 checksum filter, so a flipped bit anywhere in the data is an error
// on read rather than a silently different run; large ones are also shuffled and deflated. Files are created with
// the 1.10 format bounds, whose object headers carry checksums too. The library's own error printing is turned off
// (h5io_quiet): callers get one line naming the file and the object.
#pragma once
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

void h5io_quiet(void);

int h5io_attr_i64(hid_t obj, const char *name, int64_t v, mg_err *e);
int h5io_attr_u64(hid_t obj, const char *name, uint64_t v, mg_err *e);
int h5io_attr_f64(hid_t obj, const char *name, double v, mg_err *e);
int h5io_attr_str(hid_t obj, const char *name, const char *v, mg_err *e);
// Readers: the attribute must exist with a matching class (integer / float / string); *out is malloc'd for strings.
int h5io_read_attr_i64(hid_t obj, const char *where, const char *name, int64_t *v, mg_err *e);
int h5io_read_attr_u64(hid_t obj, const char *where, const char *name, uint64_t *v, mg_err *e);
int h5io_read_attr_f64(hid_t obj, const char *where, const char *name, double *v, mg_err *e);
int h5io_read_attr_str(hid_t obj, const char *where, const char *name, char **out, mg_err *e);
int h5io_has_attr(hid_t obj, const char *name);

// A dataset of n0 x n1 elements (n1 = 0 for 1-D) of the native type `type` (H5T_NATIVE_FLOAT, ...).
int h5io_write(hid_t loc, const char *name, hid_t type, size_t n0, size_t n1, const void *data, int compress,
               mg_err *e);
// Reads a dataset that must have exactly this shape (n1 = 0: 1-D) into data, converting to `type`.
int h5io_read(hid_t loc, const char *where, const char *name, hid_t type, size_t n0, size_t n1, void *data, mg_err *e);
// The length of a 1-D dataset, or -1 with e set when it is missing or not 1-D.
long h5io_length(hid_t loc, const char *where, const char *name, mg_err *e);
