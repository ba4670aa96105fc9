// Run checkpoints: everything the next iteration reads, in one HDF5 file (format: docs/checkpoint-formats.md).
//
// A checkpoint is taken in two steps so the loop stalls only for a memory copy: checkpoint_take copies the state
// of a search (archive, adapter, AdamW moments, counters) into a self-contained snapshot; checkpoint_write puts
// a snapshot on disk, atomically (temp file, fsync, rename, fsync of the folder), from this thread or from a
// background writer (checkpoint_writer). Reading is all-or-nothing: checkpoint_read loads the whole file into a
// snapshot and verifies it (HDF5 checksums on every dataset, plus a digest of the search state) before
// checkpoint_apply touches the search. The RNG needs no saved stream state: every draw is a pure function of
// (seed, problem, iteration, sample, position), and those counters are in the snapshot.
#pragma once
#include <pthread.h>
#include <stdint.h>

#include "coordinator/search.h"

// 2: a second digest (file_digest) covers every field the state digest leaves out (the config, paths, timings, the
// metrics copy), and /metrics holds the run's metrics.jsonl up to the snapshot. Version 1 files are refused:
// nothing covered their config. 3: /archive also holds each entry's task detail (detail + detail_end; ARC keeps
// a program's test outputs there). Version 2 files are read as having no details.
#define CHECKPOINT_FORMAT_VERSION 3

typedef struct {
    // identity: what the run was
    char *config;             // the effective configuration, as `migrate run --print-config` writes it
    char *model_path;
    uint64_t model_hash;      // of the model folder's config.json (see checkpoint_model_hash)
    int64_t model_params;
    char *created;            // UTC time of the snapshot, ISO 8601

    // the search's counters (search_state)
    int64_t iteration, oracle_calls, repeats, unparsable, best, solved, budget_spent, solved_at_calls, new_tokens;
    int64_t oracle_invalid, oracle_timeouts, oracle_crashes, train_skipped;  // what went wrong, for the summary
    uint64_t seed, problem;
    double seconds[4];        // sample, score, train, total
    char *best_info;
    int64_t *best_history;    // (iteration) archive index of the best entry after each iteration
    int64_t metrics_bytes;    // length of metrics.jsonl at the snapshot; a resume cuts anything after it
    char *metrics;            // (metrics_bytes) metrics.jsonl's lines at the snapshot, so a resume can repair it

    // the archive, in insertion order
    int64_t archive_max_entries, n_entries;
    double *reward;
    int32_t *entry_iteration;
    uint8_t *origin, *valid, *dropped;
    uint64_t *fingerprint;
    char *canonical, *completion;              // texts laid end to end (dropped entries: empty)
    int64_t *canonical_end, *completion_end;   // (n_entries) end offset of each text
    int64_t canonical_bytes, completion_bytes;
    char *detail;                              // task details laid end to end (none or dropped: empty)
    int64_t *detail_end;                       // (n_entries)
    int64_t detail_bytes;                      // 0: no entry has one (the state digest then leaves them out)
    int64_t format_version;                    // as read (a snapshot taken here: CHECKPOINT_FORMAT_VERSION)

    // the adapter and its optimizer (has_adapter = 0 for the baselines)
    int has_adapter;
    int64_t lora_rank, n_tensors, n_adapter;
    double lora_alpha;
    char *lora_targets;       // "q_proj,k_proj,..."
    param_tensor *tensors;    // (n_tensors)
    float *adapter, *exp_avg, *exp_avg_sq;  // (n_adapter) each
    int64_t opt_step;

    // groups waiting for their update (training.staleness), oldest first; members laid end to end
    int64_t n_pending, pending_members, pending_tokens;
    int64_t *pending_group_members;     // (n_pending) members of each group
    int32_t *pending_len, *pending_from;  // (pending_members) each member's tokens, and its first scored position
    float *pending_adv;                 // (pending_members) advantages
    int32_t *pending_ids;               // (pending_tokens) prompt + completion ids
    float *pending_old;                 // (pending_tokens) old log-probs (NaN: taken at the update)

    uint64_t digest;          // of the search state (counters, archive, adapter, moments, model identity), not of
                              // timings or paths: equal digests, bit-identical searches (`migrate inspect --digest`)
    uint64_t file_digest;     // of everything else read (the config, paths, timings, the metrics copy, the digest):
                              // with the digest, an edit anywhere in the file is refused on read
} checkpoint;

// A stable hash of the model folder's config.json (the model's identity; the weights are not hashed).
int checkpoint_model_hash(const char *model_dir, uint64_t *hash, mg_err *e);
// Copies the state of s (and nothing more: the digest is computed by the writer, off the loop's thread).
// config_text: the effective config dump. metrics: metrics.jsonl's lines so far (metrics_len bytes; may be NULL).
void checkpoint_take(checkpoint *c, const search_state *s, const char *config_text, const char *model_path,
                     uint64_t model_hash, const char *metrics, size_t metrics_len);
void checkpoint_free(checkpoint *c);
uint64_t checkpoint_digest(const checkpoint *c);
uint64_t checkpoint_file_digest(const checkpoint *c);  // needs c->digest set

// Writes c to path atomically; on any failure (a full disk) the file at path is left as it was. Sets c->digest.
int checkpoint_write(checkpoint *c, const char *path, mg_err *e);
// Reads only the identity (format version, config, model) and the counters: for `migrate inspect` and for the
// checks before a resume.
int checkpoint_read_header(checkpoint *c, const char *path, mg_err *e);
// Reads the whole file and verifies it. With m, the adapter's tensors are read by the names and shapes of m's
// adapter (m->lora set up from the same config), so a checkpoint of another model or LoRA shape is refused; with
// m NULL (inspect, export) the tensor list is the file's own.
int checkpoint_read(checkpoint *c, const char *path, const model *m, mg_err *e);
// Puts a verified snapshot into a freshly initialised search (search_init done, same config and model).
int checkpoint_apply(const checkpoint *c, search_state *s, mg_err *e);

// Which config keys may change across a resume without changing the search (iteration and budget limits, output
// and logging, threads, checkpoint frequency, the model's folder - its identity is checked by hash). Returns 0 when
// `now` may resume `saved`, else -1 with e naming the first key that differs.
int checkpoint_config_compatible(const char *saved, const char *now, const char *path, mg_err *e);

// One background writer: start hands it a snapshot (taking ownership); wait joins it and reports its result.
typedef struct {
    pthread_t thread;
    int running;
    checkpoint snap;
    char path[4096];
    int rc;
    mg_err err;
    double seconds;  // the write's duration
} checkpoint_writer;

void checkpoint_writer_start(checkpoint_writer *w, checkpoint *snap, const char *path);
int checkpoint_writer_wait(checkpoint_writer *w, mg_err *e);  // 0 when nothing was running
