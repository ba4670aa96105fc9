// The archive: every scored solution of one search, de-duplicated by the task's canonical form.
//
// Lookup of a canonical form is a hash probe; the order by reward lives in a treap, so inserting is O(log n) and
// reading the top k is O(log n + k). Memory per entry is ~64 bytes plus its two texts;
// with max_entries set, the lowest-reward entries are dropped from the order and their texts freed, while their
// 64-bit fingerprints stay so that a repeat of a dropped solution still costs no oracle call.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef enum { ORIGIN_ON_POLICY = 0, ORIGIN_GREEDY, ORIGIN_NEIGHBORHOOD, ORIGIN_OPRO, ORIGIN_COUNT } origin_kind;
extern const char *const origin_names[ORIGIN_COUNT];  // "on_policy", "greedy", "neighborhood", "opro"

typedef struct {
    double reward;
    int32_t iteration;  // when it was first scored
    uint8_t origin;     // origin_kind of the sample that first produced it
    uint8_t valid;
    uint8_t dropped;    // text freed by the max_entries bound; reward and fingerprint kept
    uint64_t fingerprint;
    char *canonical;    // NULL when dropped
    char *completion;   // the completion text that first produced it; NULL when dropped
    char *detail;       // what the task keeps with it (task_score.detail); NULL when none or dropped
} archive_entry;

typedef struct archive archive;

archive *archive_create(size_t max_entries);  // 0 = unbounded
void archive_free(archive *a);
// Index of the entry with this canonical form, or -1.
long archive_find(const archive *a, const char *canonical);
// Adds a new entry (the caller checked archive_find first); returns its index.
long archive_add(archive *a, const char *canonical, const char *completion, double reward, int valid, int iteration,
                 origin_kind origin);
// Hands entry i the task's detail text (malloc'd; the archive frees it). An entry already dropped frees it now.
void archive_set_detail(archive *a, long i, char *detail);
// Appends a saved entry as it was (checkpoint resume): its fingerprint, its dropped flag, its texts (NULL when
// dropped; its detail copied when not NULL). Returns its index, or -1 when the entry contradicts itself (texts of
// a dropped entry, a missing text,
// a fingerprint that is not its text's): a checkpoint that says so is corrupt.
long archive_restore_entry(archive *a, const archive_entry *saved);
size_t archive_size(const archive *a);  // entries ever added (dropped included)
const archive_entry *archive_get(const archive *a, long index);
const char *archive_canonical(const archive *a, long index);   // NULL when dropped
const char *archive_completion(const archive *a, long index);  // NULL when dropped
// Up to k best valid entries, best first (ties: earlier entry first); returns how many.
int archive_top(const archive *a, int k, long *out);
