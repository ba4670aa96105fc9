#include "coordinator/h5io.h"

#include <stdlib.h>
#include <string.h>

void h5io_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static int put_attr(hid_t obj, const char *name, hid_t type, const void *v, mg_err *e) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = sp < 0 ? -1 : H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, type, v) >= 0;
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    return ok ? 0 : mg_fail(e, "cannot write attribute '%s'", name);
}

int h5io_attr_i64(hid_t obj, const char *name, int64_t v, mg_err *e) { return put_attr(obj, name, H5T_NATIVE_INT64, &v, e); }
int h5io_attr_u64(hid_t obj, const char *name, uint64_t v, mg_err *e) { return put_attr(obj, name, H5T_NATIVE_UINT64, &v, e); }
int h5io_attr_f64(hid_t obj, const char *name, double v, mg_err *e) { return put_attr(obj, name, H5T_NATIVE_DOUBLE, &v, e); }

int h5io_attr_str(hid_t obj, const char *name, const char *v, mg_err *e) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);  // fixed length, NUL-terminated: h5py reads it as bytes
    H5Tset_cset(t, H5T_CSET_UTF8);
    int rc = put_attr(obj, name, t, v, e);
    H5Tclose(t);
    return rc;
}

int h5io_has_attr(hid_t obj, const char *name) { return H5Aexists(obj, name) > 0; }

// Opens an attribute and checks its class; returns the attribute id or -1.
static hid_t get_attr(hid_t obj, const char *where, const char *name, H5T_class_t want, const char *what, mg_err *e) {
    if (H5Aexists(obj, name) <= 0) return mg_fail(e, "%s: attribute '%s' is missing", where, name), -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return mg_fail(e, "%s: attribute '%s' cannot be read", where, name), -1;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    int ok = t >= 0 && H5Tget_class(t) == want && sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1;
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    if (!ok) {
        H5Aclose(a);
        return mg_fail(e, "%s: attribute '%s' is not a single %s", where, name, what), -1;
    }
    return a;
}

// One number: the attribute's class must be `want`; HDF5 converts it to the native type mem.
static int read_number(hid_t obj, const char *where, const char *name, H5T_class_t want, hid_t mem, void *v,
                       mg_err *e) {
    hid_t a = get_attr(obj, where, name, want, want == H5T_FLOAT ? "number" : "integer", e);
    if (a < 0) return -1;
    int ok = H5Aread(a, mem, v) >= 0;
    H5Aclose(a);
    return ok ? 0 : mg_fail(e, "%s: attribute '%s' cannot be read", where, name);
}

int h5io_read_attr_i64(hid_t obj, const char *where, const char *name, int64_t *v, mg_err *e) {
    return read_number(obj, where, name, H5T_INTEGER, H5T_NATIVE_INT64, v, e);
}

int h5io_read_attr_u64(hid_t obj, const char *where, const char *name, uint64_t *v, mg_err *e) {
    return read_number(obj, where, name, H5T_INTEGER, H5T_NATIVE_UINT64, v, e);
}

int h5io_read_attr_f64(hid_t obj, const char *where, const char *name, double *v, mg_err *e) {
    return read_number(obj, where, name, H5T_FLOAT, H5T_NATIVE_DOUBLE, v, e);
}

int h5io_read_attr_str(hid_t obj, const char *where, const char *name, char **out, mg_err *e) {
    *out = NULL;
    hid_t a = get_attr(obj, where, name, H5T_STRING, "string", e);
    if (a < 0) return -1;
    hid_t ft = H5Aget_type(a);
    int ok = 0;
    if (H5Tis_variable_str(ft) <= 0) {  // we write fixed-length strings; other writers are refused, not guessed
        size_t n = H5Tget_size(ft);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, n + 1);
        H5Tset_cset(mt, H5Tget_cset(ft));  // no conversion between character sets
        char *buf = callocCheck(n + 2, 1);
        ok = H5Aread(a, mt, buf) >= 0;
        H5Tclose(mt);
        if (ok) *out = buf;
        else free(buf);
    }
    H5Tclose(ft);
    H5Aclose(a);
    return ok ? 0 : mg_fail(e, "%s: attribute '%s' is not a fixed-length string", where, name);
}

int h5io_write(hid_t loc, const char *name, hid_t type, size_t n0, size_t n1, const void *data, int compress,
               mg_err *e) {
    int rank = n1 ? 2 : 1;
    hsize_t dims[2] = {n0, n1}, maxd[2] = {H5S_UNLIMITED, n1}, chunk[2];
    // Chunks of about 1 MiB: whole rows for matrices.
    size_t esz = H5Tget_size(type), row = (n1 ? n1 : 1) * esz;
    size_t rows = row >= (1u << 20) ? 1 : (1u << 20) / row;
    chunk[0] = rows < n0 ? rows : (n0 ? n0 : 1);
    chunk[1] = n1;
    hid_t sp = H5Screate_simple(rank, dims, maxd);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(pl, rank, chunk);
    if (compress) {
        H5Pset_shuffle(pl);
        H5Pset_deflate(pl, 1);
    }
    H5Pset_fletcher32(pl);
    hid_t d = sp < 0 ? -1 : H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    int ok = d >= 0 && (n0 == 0 || H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    if (d >= 0) ok = H5Dclose(d) >= 0 && ok;
    H5Pclose(pl);
    if (sp >= 0) H5Sclose(sp);
    return ok ? 0 : mg_fail(e, "cannot write dataset '%s' (disk full?)", name);
}

// Opens a dataset and reads its rank and dims (up to 2); -1 with e set when it is missing or unreadable.
static hid_t open_dims(hid_t loc, const char *where, const char *name, int *rank, hsize_t dims[2], mg_err *e) {
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return mg_fail(e, "%s: dataset '%s' is missing", where, name), -1;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return mg_fail(e, "%s: dataset '%s' cannot be opened", where, name), -1;
    hid_t sp = H5Dget_space(d);
    dims[0] = dims[1] = 0;
    *rank = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    if (*rank >= 1 && *rank <= 2) H5Sget_simple_extent_dims(sp, dims, NULL);
    if (sp >= 0) H5Sclose(sp);
    return d;
}

// Opens a dataset and checks its rank and dims.
static hid_t open_shaped(hid_t loc, const char *where, const char *name, size_t n0, size_t n1, mg_err *e) {
    int rank;
    hsize_t dims[2];
    hid_t d = open_dims(loc, where, name, &rank, dims, e);
    if (d < 0) return -1;
    int want = n1 ? 2 : 1;
    if (rank != want || dims[0] != n0 || (n1 && dims[1] != n1)) {
        H5Dclose(d);
        return mg_fail(e, "%s: dataset '%s' has shape [%llu%s%llu], expected [%zu%s%zu]", where, name,
                       (unsigned long long)dims[0], rank == 2 ? ", " : "", rank == 2 ? (unsigned long long)dims[1] : 0ull,
                       n0, n1 ? ", " : "", n1), -1;
    }
    return d;
}

int h5io_read(hid_t loc, const char *where, const char *name, hid_t type, size_t n0, size_t n1, void *data, mg_err *e) {
    hid_t d = open_shaped(loc, where, name, n0, n1, e);
    if (d < 0) return -1;
    int ok = n0 == 0 || H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
    H5Dclose(d);
    return ok ? 0 : mg_fail(e, "%s: dataset '%s' is corrupt (checksum or decompression failed)", where, name);
}

long h5io_length(hid_t loc, const char *where, const char *name, mg_err *e) {
    int rank;
    hsize_t dims[2];
    hid_t d = open_dims(loc, where, name, &rank, dims, e);
    if (d < 0) return -1;
    H5Dclose(d);
    if (rank != 1) return mg_fail(e, "%s: dataset '%s' is not 1-D", where, name), -1;
    return (long)dims[0];
}
