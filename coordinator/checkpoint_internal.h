// Shared by the checkpoint's files: the digest's hash, and the groups that wait for their update
// (training.staleness; checkpoint_pending.c), which the snapshot, the digest and the file carry like the archive.
#pragma once
#include <hdf5.h>

#include "coordinator/checkpoint.h"

uint64_t checkpoint_hash_bytes(uint64_t h, const void *p, size_t n);

void checkpoint_take_pending(checkpoint *c, const search_state *s);
uint64_t checkpoint_digest_pending(uint64_t h, const checkpoint *c);
void checkpoint_free_pending(checkpoint *c);
// Rebuilds s's pending groups; the token ids must be in the model's vocabulary.
int checkpoint_apply_pending(const checkpoint *c, search_state *s, mg_err *e);
// /pending in the file: absent when no group waits (and in files from before training.staleness).
int checkpoint_write_pending(hid_t f, const checkpoint *c, mg_err *e);
int checkpoint_read_pending(hid_t f, checkpoint *c, const char *path, mg_err *e);
