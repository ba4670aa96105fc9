// The checkpoint on disk: one HDF5 file, written to PATH.tmp, fsynced, renamed over PATH, and the folder fsynced,
// so PATH is always either the previous checkpoint or the new one, whole. Layout (docs/checkpoint-formats.md):
//   /            attrs format, format_version, created, model_path, model_config_hash, model_params, digest
//   /config      the effective configuration (YAML text as bytes, so the checksum covers it)
//   /metrics     metrics.jsonl's lines at the snapshot (bytes; metrics_bytes long)
//   /state       attrs: counters, seed, problem, seconds, best_info, metrics_bytes; dataset best_history
//   /archive     reward, iteration, origin, valid, dropped, fingerprint, canonical + canonical_end, completion +
//                completion_end, detail + detail_end (version 3)
//   /adapter     attrs r, lora_alpha, target_modules; one dataset per LoRA tensor, PEFT names (full training:
//                r = 0, one dataset per weight, HF names, a vector as one row)
//   /optimizer   attr step; groups exp_avg/ and exp_avg_sq/ with the same names
//   /pending     (training.staleness, only while groups wait) group_members, member_length, member_score_from,
//                advantage, ids, old_logp
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator/checkpoint.h"
#include "coordinator/checkpoint_internal.h"
#include "coordinator/h5io.h"
#include "common/file.h"

static const char *const FORMAT_NAME = "migrate-checkpoint";

// Integer counters of /state, in one table so writer and reader agree.
#define STATE_COUNTERS(X)                                                                                      \
    X(iteration) X(oracle_calls) X(repeats) X(unparsable) X(best) X(solved) X(budget_spent) X(solved_at_calls) \
    X(new_tokens) X(metrics_bytes) X(oracle_invalid) X(oracle_timeouts) X(oracle_crashes) X(train_skipped)
static const char *const k_seconds[4] = {"seconds_sample", "seconds_score", "seconds_train", "seconds_total"};

// Each tensor also records its offset in the flat adapter buffer, so a reader without the model (migrate inspect,
// migrate export) can rebuild the buffer in the order the digest covers.
static int write_tensors(hid_t g, const checkpoint *c, const float *buf, int with_offsets, mg_err *e) {
    for (int64_t i = 0; i < c->n_tensors; i++) {
        const param_tensor *t = &c->tensors[i];
        if (h5io_write(g, t->name, H5T_NATIVE_FLOAT, (size_t)t->rows, (size_t)t->cols, buf + t->offset, 0, e)) return -1;
        if (!with_offsets) continue;
        hid_t d = H5Dopen2(g, t->name, H5P_DEFAULT);
        int rc = d < 0 ? mg_fail(e, "cannot reopen dataset '%s'", t->name) : h5io_attr_i64(d, "offset", (int64_t)t->offset, e);
        if (d >= 0) H5Dclose(d);
        if (rc) return -1;
    }
    return 0;
}

static int write_body(hid_t f, const checkpoint *c, mg_err *e) {
    char hex[32];
    if (h5io_attr_str(f, "format", FORMAT_NAME, e) || h5io_attr_i64(f, "format_version", c->format_version, e) ||
        h5io_attr_str(f, "created", c->created, e) || h5io_attr_str(f, "model_path", c->model_path, e) ||
        h5io_attr_i64(f, "model_params", c->model_params, e))
        return -1;
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)c->model_hash);
    if (h5io_attr_str(f, "model_config_hash", hex, e)) return -1;
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)c->digest);
    if (h5io_attr_str(f, "digest", hex, e)) return -1;
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)c->file_digest);
    if (h5io_attr_str(f, "file_digest", hex, e) || h5io_write(f, "config", H5T_NATIVE_UINT8, strlen(c->config), 0, c->config, 1, e) ||
        h5io_write(f, "metrics", H5T_NATIVE_UINT8, (size_t)c->metrics_bytes, 0, c->metrics ? c->metrics : "", 1, e))
        return -1;

    hid_t g = H5Gcreate2(f, "state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = g < 0 ? mg_fail(e, "cannot create group /state") : 0;
#define PUT(x) if (!rc) rc = h5io_attr_i64(g, #x, c->x, e);
    STATE_COUNTERS(PUT)
#undef PUT
    for (int i = 0; i < 4 && !rc; i++) rc = h5io_attr_f64(g, k_seconds[i], c->seconds[i], e);
    if (!rc) rc = h5io_attr_u64(g, "seed", c->seed, e);
    if (!rc) rc = h5io_attr_u64(g, "problem", c->problem, e);
    if (!rc) rc = h5io_attr_str(g, "best_info", c->best_info, e);
    if (!rc) rc = h5io_write(g, "best_history", H5T_NATIVE_INT64, (size_t)c->iteration, 0, c->best_history, 1, e);
    if (g >= 0) H5Gclose(g);
    if (rc) return -1;

    g = H5Gcreate2(f, "archive", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    rc = g < 0 ? mg_fail(e, "cannot create group /archive") : 0;
    size_t n = (size_t)c->n_entries;
    if (!rc) rc = h5io_attr_i64(g, "n_entries", c->n_entries, e);
    if (!rc) rc = h5io_attr_i64(g, "max_entries", c->archive_max_entries, e);
    if (!rc) rc = h5io_attr_str(g, "origin_names", "on_policy,greedy,neighborhood,opro", e);
    if (!rc) rc = h5io_write(g, "reward", H5T_NATIVE_DOUBLE, n, 0, c->reward, 1, e);
    if (!rc) rc = h5io_write(g, "iteration", H5T_NATIVE_INT32, n, 0, c->entry_iteration, 1, e);
    if (!rc) rc = h5io_write(g, "origin", H5T_NATIVE_UINT8, n, 0, c->origin, 1, e);
    if (!rc) rc = h5io_write(g, "valid", H5T_NATIVE_UINT8, n, 0, c->valid, 1, e);
    if (!rc) rc = h5io_write(g, "dropped", H5T_NATIVE_UINT8, n, 0, c->dropped, 1, e);
    if (!rc) rc = h5io_write(g, "fingerprint", H5T_NATIVE_UINT64, n, 0, c->fingerprint, 1, e);
    if (!rc) rc = h5io_write(g, "canonical", H5T_NATIVE_UINT8, (size_t)c->canonical_bytes, 0, c->canonical, 1, e);
    if (!rc) rc = h5io_write(g, "canonical_end", H5T_NATIVE_INT64, n, 0, c->canonical_end, 1, e);
    if (!rc) rc = h5io_write(g, "completion", H5T_NATIVE_UINT8, (size_t)c->completion_bytes, 0, c->completion, 1, e);
    if (!rc) rc = h5io_write(g, "completion_end", H5T_NATIVE_INT64, n, 0, c->completion_end, 1, e);
    if (!rc && c->format_version >= 3)
        rc = h5io_write(g, "detail", H5T_NATIVE_UINT8, (size_t)c->detail_bytes, 0, c->detail, 1, e) ||
             h5io_write(g, "detail_end", H5T_NATIVE_INT64, n, 0, c->detail_end, 1, e) ? -1 : 0;
    if (g >= 0) H5Gclose(g);
    if (rc || !c->has_adapter) return rc;

    g = H5Gcreate2(f, "adapter", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    rc = g < 0 ? mg_fail(e, "cannot create group /adapter") : 0;
    if (!rc) rc = h5io_attr_i64(g, "r", c->lora_rank, e);
    if (!rc) rc = h5io_attr_f64(g, "lora_alpha", c->lora_alpha, e);
    if (!rc) rc = h5io_attr_str(g, "target_modules", c->lora_targets, e);
    if (!rc) rc = h5io_attr_i64(g, "n_params", c->n_adapter, e);
    if (!rc) rc = write_tensors(g, c, c->adapter, 1, e);
    if (g >= 0) H5Gclose(g);
    if (rc) return rc;
    g = H5Gcreate2(f, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    rc = g < 0 ? mg_fail(e, "cannot create group /optimizer") : 0;
    if (!rc) rc = h5io_attr_i64(g, "step", c->opt_step, e);
    for (int k = 0; k < 2 && !rc; k++) {
        hid_t m = H5Gcreate2(g, k ? "exp_avg_sq" : "exp_avg", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        rc = m < 0 ? mg_fail(e, "cannot create an optimizer group") : write_tensors(m, c, k ? c->exp_avg_sq : c->exp_avg, 0, e);
        if (m >= 0) H5Gclose(m);
    }
    if (g >= 0) H5Gclose(g);
    return rc ? rc : checkpoint_write_pending(f, c, e);
}

// HDF5 builds the file in memory (the core driver, no backing store) and we write the image ourselves: a failing
// disk then fails our write(), never a close inside HDF5, which would leave the library in a state that crashes at
// exit.
int checkpoint_write(checkpoint *c, const char *path, mg_err *e) {
    h5io_quiet();
    c->digest = checkpoint_digest(c);
    c->file_digest = checkpoint_file_digest(c);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    // The default (oldest) format: HDF5 1.10.8's file image of a newer superblock carries a stale checksum. The
    // data stay covered by the datasets' Fletcher-32 and the digest.
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, (size_t)64 << 20, 0);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) return mg_fail(e, "%s: cannot create the checkpoint in memory", path);
    mg_err inner = {{0}};
    int rc = write_body(f, c, &inner);
    void *image = NULL;
    ssize_t size = 0;
    if (!rc && (H5Fflush(f, H5F_SCOPE_LOCAL) < 0 || (size = H5Fget_file_image(f, NULL, 0)) <= 0))
        rc = mg_fail(&inner, "HDF5 could not finish the file image");
    if (!rc) {
        image = mallocCheck((size_t)size);
        if (H5Fget_file_image(f, image, (size_t)size) != size) rc = mg_fail(&inner, "HDF5 could not copy the file image");
    }
    H5Fclose(f);
    if (!rc && file_write_atomic(path, image, (size_t)size, &inner)) rc = mg_fail(&inner, "%s", strerror(errno));
    free(image);
    if (rc) return mg_fail(e, "%s: checkpoint not written, the previous one is kept: %s", path, inner.msg);
    return 0;
}

// ---- reading ----

static hid_t open_checkpoint(const char *path, mg_err *e) {
    h5io_quiet();
    if (access(path, R_OK)) return mg_fail(e, "%s: cannot read the checkpoint: %s", path, strerror(errno)), -1;
    if (H5Fis_hdf5(path) <= 0)
        return mg_fail(e, "%s: not a checkpoint (not an HDF5 file, or truncated)", path), -1;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return mg_fail(e, "%s: cannot open the checkpoint (truncated or corrupt HDF5 file)", path), -1;
    return f;
}

// Text kept as bytes in a chunked dataset, so the Fletcher-32 checksum covers it too.
static int read_text_dataset(hid_t loc, const char *where, const char *name, long limit, char **out, mg_err *e) {
    *out = NULL;
    long n = h5io_length(loc, where, name, e);
    if (n < 0) return -1;
    if (n > limit) return mg_fail(e, "%s: dataset '%s' is implausibly long (%ld bytes)", where, name, n);
    char *buf = mallocCheck((size_t)n + 1);
    if (h5io_read(loc, where, name, H5T_NATIVE_UINT8, (size_t)n, 0, buf, e)) return free(buf), -1;
    buf[n] = '\0';
    if (strlen(buf) != (size_t)n) return free(buf), mg_fail(e, "%s: dataset '%s' holds a NUL byte", where, name);
    *out = buf;
    return 0;
}

static int parse_hex(const char *s, uint64_t *v) {
    char *end;
    errno = 0;
    *v = strtoull(s, &end, 16);
    return errno || end == s || *end ? -1 : 0;
}

static int read_header(hid_t f, checkpoint *c, const char *path, mg_err *e) {
    char *fmt = NULL, *hex = NULL;
    int64_t version = 0;
    if (h5io_read_attr_str(f, path, "format", &fmt, e)) return mg_fail(e, "%s: not a migrate checkpoint (no 'format' attribute)", path);
    int is_ours = !strcmp(fmt, FORMAT_NAME);
    free(fmt);
    if (!is_ours) return mg_fail(e, "%s: not a migrate checkpoint (format is not '%s')", path, FORMAT_NAME);
    if (h5io_read_attr_i64(f, path, "format_version", &version, e)) return -1;
    if (version == 1)
        return mg_fail(e, "%s: checkpoint format version 1, whose digest does not cover its config; this migrate reads "
                          "versions 2 and %d only (continue the run with the migrate that wrote it)", path,
                       CHECKPOINT_FORMAT_VERSION);
    if (version != 2 && version != CHECKPOINT_FORMAT_VERSION)
        return mg_fail(e, "%s: checkpoint format version %lld; this migrate reads versions 2 and %d only", path,
                       (long long)version, CHECKPOINT_FORMAT_VERSION);
    c->format_version = version;
    if (h5io_read_attr_str(f, path, "created", &c->created, e) || h5io_read_attr_str(f, path, "model_path", &c->model_path, e) ||
        h5io_read_attr_i64(f, path, "model_params", &c->model_params, e) ||
        read_text_dataset(f, path, "config", 1L << 26, &c->config, e))
        return -1;
    if (h5io_read_attr_str(f, path, "model_config_hash", &hex, e)) return -1;
    int bad = parse_hex(hex, &c->model_hash);
    free(hex);
    if (bad) return mg_fail(e, "%s: attribute 'model_config_hash' is not a hex number", path);
    if (h5io_read_attr_str(f, path, "digest", &hex, e)) return -1;
    bad = parse_hex(hex, &c->digest);
    free(hex);
    if (bad) return mg_fail(e, "%s: attribute 'digest' is not a hex number", path);
    if (h5io_read_attr_str(f, path, "file_digest", &hex, e)) return -1;
    bad = parse_hex(hex, &c->file_digest);
    free(hex);
    if (bad) return mg_fail(e, "%s: attribute 'file_digest' is not a hex number", path);

    char where[4300];
    snprintf(where, sizeof where, "%s:/state", path);
    if (H5Lexists(f, "state", H5P_DEFAULT) <= 0) return mg_fail(e, "%s: group is missing", where);
    hid_t g = H5Gopen2(f, "state", H5P_DEFAULT);
    int rc = g < 0 ? mg_fail(e, "%s: cannot open", where) : 0;
#define GET(x) if (!rc) rc = h5io_read_attr_i64(g, where, #x, &c->x, e);
    STATE_COUNTERS(GET)
#undef GET
    for (int i = 0; i < 4 && !rc; i++) rc = h5io_read_attr_f64(g, where, k_seconds[i], &c->seconds[i], e);
    if (!rc) rc = h5io_read_attr_u64(g, where, "seed", &c->seed, e);
    if (!rc) rc = h5io_read_attr_u64(g, where, "problem", &c->problem, e);
    if (!rc) rc = h5io_read_attr_str(g, where, "best_info", &c->best_info, e);
    if (!rc && (c->oracle_invalid < 0 || c->oracle_timeouts < 0 || c->oracle_crashes < 0 || c->train_skipped < 0))
        rc = mg_fail(e, "%s: a failure counter is negative", where);
    if (!rc && (c->iteration < 0 || c->iteration > (int64_t)1 << 31 || c->oracle_calls < 0 || c->best < -1))
        rc = mg_fail(e, "%s: counters out of range (iteration %lld, oracle_calls %lld, best %lld)", where,
                     (long long)c->iteration, (long long)c->oracle_calls, (long long)c->best);
    // Timings go into summary.json and the progress line: a flipped bit must not make them 1e77 s or NaN (the
    // digest catches it too, but the message should name the field).
    for (int i = 0; i < 4 && !rc; i++)
        if (!(c->seconds[i] >= 0 && c->seconds[i] <= 1e9))
            rc = mg_fail(e, "%s: attribute '%s' is %g, not a duration in seconds", where, k_seconds[i], c->seconds[i]);
    if (!rc && (c->metrics_bytes < 0 || c->metrics_bytes > (int64_t)1 << 34))
        rc = mg_fail(e, "%s: metrics_bytes %lld is out of range", where, (long long)c->metrics_bytes);
    long nh = rc ? -1 : h5io_length(g, where, "best_history", e);
    if (!rc && nh != c->iteration)
        rc = nh < 0 ? -1 : mg_fail(e, "%s: best_history has %ld entries for %lld iterations", where, nh, (long long)c->iteration);
    if (!rc) {
        c->best_history = mallocCheck((size_t)(c->iteration ? c->iteration : 1) * sizeof(int64_t));
        rc = h5io_read(g, where, "best_history", H5T_NATIVE_INT64, (size_t)c->iteration, 0, c->best_history, e);
    }
    if (g >= 0) H5Gclose(g);
    if (!rc) rc = read_text_dataset(f, path, "metrics", 1L << 34, &c->metrics, e);
    if (!rc && (int64_t)strlen(c->metrics) != c->metrics_bytes)
        rc = mg_fail(e, "%s:/metrics holds %zu bytes, but /state says metrics_bytes %lld", path, strlen(c->metrics),
                     (long long)c->metrics_bytes);
    return rc;
}

int checkpoint_read_header(checkpoint *c, const char *path, mg_err *e) {
    memset(c, 0, sizeof *c);
    hid_t f = open_checkpoint(path, e);
    if (f < 0) return -1;
    int rc = read_header(f, c, path, e);
    H5Fclose(f);
    if (rc) checkpoint_free(c);
    return rc;
}

static int read_archive(hid_t f, checkpoint *c, const char *path, mg_err *e) {
    char where[4300];
    snprintf(where, sizeof where, "%s:/archive", path);
    if (H5Lexists(f, "archive", H5P_DEFAULT) <= 0) return mg_fail(e, "%s: group is missing", where);
    hid_t g = H5Gopen2(f, "archive", H5P_DEFAULT);
    if (g < 0) return mg_fail(e, "%s: cannot open", where);
    int rc = h5io_read_attr_i64(g, where, "n_entries", &c->n_entries, e);
    if (!rc) rc = h5io_read_attr_i64(g, where, "max_entries", &c->archive_max_entries, e);
    long nc = rc ? -1 : h5io_length(g, where, "canonical", e), nk = nc < 0 ? -1 : h5io_length(g, where, "completion", e);
    if (!rc && (nc < 0 || nk < 0)) rc = -1;
    long nr = rc ? -1 : h5io_length(g, where, "reward", e);
    if (!rc && nr != c->n_entries)
        rc = nr < 0 ? -1 : mg_fail(e, "%s: n_entries is %lld but reward has %ld", where, (long long)c->n_entries, nr);
    if (rc) return H5Gclose(g), -1;
    size_t n = (size_t)c->n_entries, n1 = n ? n : 1;
    c->canonical_bytes = nc, c->completion_bytes = nk;
    c->reward = mallocCheck(n1 * sizeof(double)), c->entry_iteration = mallocCheck(n1 * sizeof(int32_t));
    c->origin = mallocCheck(n1), c->valid = mallocCheck(n1), c->dropped = mallocCheck(n1);
    c->fingerprint = mallocCheck(n1 * sizeof(uint64_t));
    c->canonical_end = mallocCheck(n1 * sizeof(int64_t)), c->completion_end = mallocCheck(n1 * sizeof(int64_t));
    c->canonical = mallocCheck((size_t)nc + 1), c->completion = mallocCheck((size_t)nk + 1);
    rc = h5io_read(g, where, "reward", H5T_NATIVE_DOUBLE, n, 0, c->reward, e) ||
         h5io_read(g, where, "iteration", H5T_NATIVE_INT32, n, 0, c->entry_iteration, e) ||
         h5io_read(g, where, "origin", H5T_NATIVE_UINT8, n, 0, c->origin, e) ||
         h5io_read(g, where, "valid", H5T_NATIVE_UINT8, n, 0, c->valid, e) ||
         h5io_read(g, where, "dropped", H5T_NATIVE_UINT8, n, 0, c->dropped, e) ||
         h5io_read(g, where, "fingerprint", H5T_NATIVE_UINT64, n, 0, c->fingerprint, e) ||
         h5io_read(g, where, "canonical", H5T_NATIVE_UINT8, (size_t)nc, 0, c->canonical, e) ||
         h5io_read(g, where, "canonical_end", H5T_NATIVE_INT64, n, 0, c->canonical_end, e) ||
         h5io_read(g, where, "completion", H5T_NATIVE_UINT8, (size_t)nk, 0, c->completion, e) ||
         h5io_read(g, where, "completion_end", H5T_NATIVE_INT64, n, 0, c->completion_end, e)
             ? -1 : 0;
    long nd = 0;  // version 2 has no details: every entry ends at 0
    c->detail_end = callocCheck(n1, sizeof(int64_t));
    if (!rc && c->format_version >= 3) {
        nd = h5io_length(g, where, "detail", e);
        rc = nd < 0 ? -1 : 0;
        if (!rc) {
            c->detail = mallocCheck((size_t)nd + 1);
            rc = h5io_read(g, where, "detail", H5T_NATIVE_UINT8, (size_t)nd, 0, c->detail, e) ||
                 h5io_read(g, where, "detail_end", H5T_NATIVE_INT64, n, 0, c->detail_end, e) ? -1 : 0;
        }
    }
    if (!c->detail) c->detail = mallocCheck(1);
    c->detail_bytes = nd;
    H5Gclose(g);
    // Text offsets must rise within the blobs before anything slices them.
    int64_t pc = 0, pk = 0, pd = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (c->canonical_end[i] < pc || c->canonical_end[i] > nc || c->completion_end[i] < pk ||
            c->completion_end[i] > nk || c->detail_end[i] < pd || c->detail_end[i] > nd ||
            (c->dropped[i] && c->detail_end[i] != pd))
            rc = mg_fail(e, "%s: text offsets of entry %zu are out of order", where, i);
        pc = c->canonical_end[i], pk = c->completion_end[i], pd = c->detail_end[i];
    }
    return rc;
}

static int read_tensors(hid_t g, const char *where, const checkpoint *c, float *buf, mg_err *e) {
    for (int64_t i = 0; i < c->n_tensors; i++) {
        const param_tensor *t = &c->tensors[i];
        if (h5io_read(g, where, t->name, H5T_NATIVE_FLOAT, (size_t)t->rows, (size_t)t->cols, buf + t->offset, e)) return -1;
    }
    return 0;
}

typedef struct {
    checkpoint *c;
    const char *where;
    mg_err *e;
    int rc;
} tensor_scan;

static herr_t scan_tensor(hid_t g, const char *name, const H5L_info_t *info, void *arg) {
    tensor_scan *ts = arg;
    checkpoint *c = ts->c;
    if (strlen(name) >= sizeof c->tensors[0].name) {
        ts->rc = mg_fail(ts->e, "%s: tensor name '%.80s...' is too long", ts->where, name);
        return 1;
    }
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) {
        ts->rc = mg_fail(ts->e, "%s: '%s' is not a dataset", ts->where, name);
        return 1;
    }
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    int rank = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    if (rank == 2) H5Sget_simple_extent_dims(sp, dims, NULL);
    if (sp >= 0) H5Sclose(sp);
    int64_t off = -1;
    int rc = h5io_read_attr_i64(d, ts->where, "offset", &off, ts->e);
    H5Dclose(d);
    if (!rc && (rank != 2 || off < 0 || dims[0] * dims[1] > (hsize_t)c->n_adapter || (hsize_t)off > (hsize_t)c->n_adapter - dims[0] * dims[1]))
        rc = mg_fail(ts->e, "%s: tensor '%s' does not fit the adapter's %lld parameters", ts->where, name, (long long)c->n_adapter);
    if (rc) {
        ts->rc = -1;
        return 1;
    }
    c->tensors = realloc(c->tensors, (size_t)(c->n_tensors + 1) * sizeof(param_tensor));
    mgCheck(c->tensors != NULL, "out of memory");
    param_tensor *t = &c->tensors[c->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->offset = (size_t)off, t->rows = (int)dims[0], t->cols = (int)dims[1];
    return 0;
}

static int by_offset(const void *a, const void *b) {
    size_t x = ((const param_tensor *)a)->offset, y = ((const param_tensor *)b)->offset;
    return x < y ? -1 : x > y;
}

// Without a model, the tensor list comes from the file; it must tile the buffer exactly.
static int tensors_from_file(hid_t g, checkpoint *c, const char *where, mg_err *e) {
    tensor_scan ts = {c, where, e, 0};
    hsize_t idx = 0;
    if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, scan_tensor, &ts) < 0 || ts.rc)
        return ts.rc ? -1 : mg_fail(e, "%s: cannot list the tensors", where);
    qsort(c->tensors, (size_t)c->n_tensors, sizeof(param_tensor), by_offset);
    size_t at = 0;
    for (int64_t i = 0; i < c->n_tensors; i++) {
        if (c->tensors[i].offset != at) return mg_fail(e, "%s: the tensors do not tile the adapter buffer", where);
        at += (size_t)c->tensors[i].rows * (size_t)c->tensors[i].cols;
    }
    if (at != (size_t)c->n_adapter) return mg_fail(e, "%s: the tensors do not tile the adapter buffer", where);
    return 0;
}

static int read_adapter(hid_t f, checkpoint *c, const model *m, const char *path, mg_err *e) {
    c->has_adapter = H5Lexists(f, "adapter", H5P_DEFAULT) > 0;
    int full = m && m->mode == TRAIN_FULL, trains = full || (m && m->lora && m->lora->enabled);
    if (!c->has_adapter) {
        if (trains) return mg_fail(e, "%s: the checkpoint has no trained weights, but this run trains some", path);
        return 0;
    }
    if (m && !trains)
        return mg_fail(e, "%s: the checkpoint has trained weights, but this run trains none", path);
    char where[4300];
    snprintf(where, sizeof where, "%s:/adapter", path);
    hid_t g = H5Gopen2(f, "adapter", H5P_DEFAULT);
    if (g < 0) return mg_fail(e, "%s: cannot open", where);
    int rc = h5io_read_attr_i64(g, where, "r", &c->lora_rank, e) || h5io_read_attr_f64(g, where, "lora_alpha", &c->lora_alpha, e) ||
             h5io_read_attr_str(g, where, "target_modules", &c->lora_targets, e) ||
             h5io_read_attr_i64(g, where, "n_params", &c->n_adapter, e)
                 ? -1 : 0;
    if (!rc && full && (c->lora_rank != 0 || c->n_adapter != (int64_t)m->n_params))
        rc = mg_fail(e, "%s: %lld trained parameters (LoRA rank %lld; 0 = every weight); this run trains all %zu "
                        "weights (lora.use_peft false)", where, (long long)c->n_adapter, (long long)c->lora_rank,
                     m->n_params);
    if (!rc && m && !full && (c->lora_rank != m->lora->cfg.rank || c->n_adapter != (int64_t)m->lora->n_params))
        rc = mg_fail(e, "%s: LoRA rank %lld with %lld parameters; this run's adapter has rank %d and %zu", where,
                     (long long)c->lora_rank, (long long)c->n_adapter, m->lora->cfg.rank, m->lora->n_params);
    if (!rc && (c->n_adapter <= 0 || c->n_adapter > ((int64_t)1 << 36)))
        rc = mg_fail(e, "%s: n_params %lld is out of range", where, (long long)c->n_adapter);
    if (!rc && m) {
        int (*list)(const model *, param_tensor *) = full ? model_weight_tensors : lora_tensors;
        c->n_tensors = list(m, NULL);
        c->tensors = mallocCheck((size_t)c->n_tensors * sizeof(param_tensor));
        list(m, c->tensors);
    } else if (!rc) {
        rc = tensors_from_file(g, c, where, e);
    }
    if (rc) return H5Gclose(g), -1;
    size_t n = (size_t)c->n_adapter;
    c->adapter = mallocCheck(n * sizeof(float)), c->exp_avg = mallocCheck(n * sizeof(float));
    c->exp_avg_sq = mallocCheck(n * sizeof(float));
    rc = read_tensors(g, where, c, c->adapter, e);
    H5Gclose(g);
    if (rc) return -1;
    snprintf(where, sizeof where, "%s:/optimizer", path);
    if (H5Lexists(f, "optimizer", H5P_DEFAULT) <= 0) return mg_fail(e, "%s: group is missing", where);
    g = H5Gopen2(f, "optimizer", H5P_DEFAULT);
    rc = g < 0 ? mg_fail(e, "%s: cannot open", where) : h5io_read_attr_i64(g, where, "step", &c->opt_step, e);
    for (int k = 0; k < 2 && !rc; k++) {
        const char *name = k ? "exp_avg_sq" : "exp_avg";
        char sub[4400];
        snprintf(sub, sizeof sub, "%s/%s", where, name);
        hid_t h = H5Lexists(g, name, H5P_DEFAULT) > 0 ? H5Gopen2(g, name, H5P_DEFAULT) : -1;
        rc = h < 0 ? mg_fail(e, "%s: group is missing", sub) : read_tensors(h, sub, c, k ? c->exp_avg_sq : c->exp_avg, e);
        if (h >= 0) H5Gclose(h);
    }
    if (g >= 0) H5Gclose(g);
    return rc;
}

int checkpoint_read(checkpoint *c, const char *path, const model *m, mg_err *e) {
    memset(c, 0, sizeof *c);
    hid_t f = open_checkpoint(path, e);
    if (f < 0) return -1;
    int rc = read_header(f, c, path, e);
    if (!rc) rc = read_archive(f, c, path, e);
    if (!rc) rc = read_adapter(f, c, m, path, e);
    if (!rc) rc = checkpoint_read_pending(f, c, path, e);
    H5Fclose(f);
    if (!rc && c->best >= c->n_entries) rc = mg_fail(e, "%s: best entry %lld is not in the archive", path, (long long)c->best);
    for (int64_t i = 0; i < c->iteration && !rc; i++)
        if (c->best_history[i] < -1 || c->best_history[i] >= c->n_entries)
            rc = mg_fail(e, "%s: best_history[%lld] is not in the archive", path, (long long)i);
    if (!rc && checkpoint_digest(c) != c->digest)
        rc = mg_fail(e, "%s: the search state does not match its digest (the file was modified or is corrupt)", path);
    if (!rc && checkpoint_file_digest(c) != c->file_digest)
        rc = mg_fail(e, "%s: the config, timings or metrics do not match the file's digest (the file was modified or "
                        "is corrupt)", path);
    if (rc) checkpoint_free(c);
    return rc;
}
