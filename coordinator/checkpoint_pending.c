// The groups that wait for their update under training.staleness, in a checkpoint. A group is stored as its
// members (ids of prompt + completion, the first scored position, the advantage) and the old log-probs per token;
// the packed batch is rebuilt from those with packed_batch_add, exactly as the search built it.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/checkpoint_internal.h"
#include "coordinator/h5io.h"

void checkpoint_take_pending(checkpoint *c, const search_state *s) {
    c->n_pending = s->n_pending;
    int64_t members = 0, tokens = 0;
    for (int g = 0; g < s->n_pending; g++) members += s->pending[g].b.n_seqs, tokens += s->pending[g].b.n_tokens;
    c->pending_members = members, c->pending_tokens = tokens;
    c->pending_group_members = mallocCheck((size_t)(s->n_pending + 1) * sizeof(int64_t));
    c->pending_len = mallocCheck((size_t)(members + 1) * sizeof(int32_t));
    c->pending_from = mallocCheck((size_t)(members + 1) * sizeof(int32_t));
    c->pending_adv = mallocCheck((size_t)(members + 1) * sizeof(float));
    c->pending_ids = mallocCheck((size_t)(tokens + 1) * sizeof(int32_t));
    c->pending_old = mallocCheck((size_t)(tokens + 1) * sizeof(float));
    int64_t m = 0, t = 0;
    for (int g = 0; g < s->n_pending; g++) {
        const pending_group *p = &s->pending[g];
        c->pending_group_members[g] = p->b.n_seqs;
        for (int k = 0; k < p->b.n_seqs; k++, m++) {
            c->pending_len[m] = p->b.seq_start[k + 1] - p->b.seq_start[k];
            c->pending_from[m] = packed_batch_score_from(&p->b, k);
            c->pending_adv[m] = p->adv[k];
        }
        for (int i = 0; i < p->b.n_tokens; i++, t++) c->pending_ids[t] = p->b.tokens[i], c->pending_old[t] = p->old[i];
    }
}

uint64_t checkpoint_digest_pending(uint64_t h, const checkpoint *c) {
    int64_t counts[3] = {c->n_pending, c->pending_members, c->pending_tokens};
    h = checkpoint_hash_bytes(h, counts, sizeof counts);
    if (!c->n_pending) return h;
    size_t m = (size_t)c->pending_members, t = (size_t)c->pending_tokens;
    h = checkpoint_hash_bytes(h, c->pending_group_members, (size_t)c->n_pending * sizeof(int64_t));
    h = checkpoint_hash_bytes(h, c->pending_len, m * sizeof(int32_t));
    h = checkpoint_hash_bytes(h, c->pending_from, m * sizeof(int32_t));
    h = checkpoint_hash_bytes(h, c->pending_adv, m * sizeof(float));
    h = checkpoint_hash_bytes(h, c->pending_ids, t * sizeof(int32_t));
    return checkpoint_hash_bytes(h, c->pending_old, t * sizeof(float));
}

void checkpoint_free_pending(checkpoint *c) {
    free(c->pending_group_members), free(c->pending_len), free(c->pending_from), free(c->pending_adv);
    free(c->pending_ids), free(c->pending_old);
}

int checkpoint_apply_pending(const checkpoint *c, search_state *s, mg_err *e) {
    if (c->n_pending > s->cfg->staleness)
        return mg_fail(e, "checkpoint: %lld groups wait for their update, more than training.staleness %d",
                       (long long)c->n_pending, s->cfg->staleness);
    int V = s->m->cfg.vocab_size;
    for (int64_t i = 0; i < c->pending_tokens; i++)
        if (c->pending_ids[i] < 0 || c->pending_ids[i] >= V)
            return mg_fail(e, "checkpoint: a waiting group holds token id %d, outside the vocabulary (%d)",
                           c->pending_ids[i], V);
    int64_t m = 0, t = 0;
    for (int64_t g = 0; g < c->n_pending; g++) {
        pending_group *p = &s->pending[s->n_pending++];
        memset(p, 0, sizeof *p);
        packed_batch_init(&p->b);
        int members = (int)c->pending_group_members[g];
        p->adv = mallocCheck((size_t)(members ? members : 1) * sizeof(float));
        int64_t t0 = t;
        for (int k = 0; k < members; k++, m++) {
            packed_batch_add(&p->b, c->pending_ids + t, c->pending_len[m], c->pending_from[m]);
            p->adv[k] = c->pending_adv[m];
            t += c->pending_len[m];
        }
        p->old = mallocCheck((size_t)(t - t0 + 1) * sizeof(float));
        memcpy(p->old, c->pending_old + t0, (size_t)(t - t0) * sizeof(float));
    }
    return 0;
}

int checkpoint_write_pending(hid_t f, const checkpoint *c, mg_err *e) {
    if (!c->n_pending) return 0;
    hid_t g = H5Gcreate2(f, "pending", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = g < 0 ? mg_fail(e, "cannot create group /pending") : 0;
    size_t m = (size_t)c->pending_members, t = (size_t)c->pending_tokens;
    if (!rc) rc = h5io_attr_i64(g, "n_groups", c->n_pending, e);
    if (!rc) rc = h5io_write(g, "group_members", H5T_NATIVE_INT64, (size_t)c->n_pending, 0, c->pending_group_members, 0, e);
    if (!rc) rc = h5io_write(g, "member_length", H5T_NATIVE_INT32, m, 0, c->pending_len, 0, e);
    if (!rc) rc = h5io_write(g, "member_score_from", H5T_NATIVE_INT32, m, 0, c->pending_from, 0, e);
    if (!rc) rc = h5io_write(g, "advantage", H5T_NATIVE_FLOAT, m, 0, c->pending_adv, 0, e);
    if (!rc) rc = h5io_write(g, "ids", H5T_NATIVE_INT32, t, 0, c->pending_ids, 1, e);
    if (!rc) rc = h5io_write(g, "old_logp", H5T_NATIVE_FLOAT, t, 0, c->pending_old, 1, e);
    if (g >= 0) H5Gclose(g);
    return rc;
}

int checkpoint_read_pending(hid_t f, checkpoint *c, const char *path, mg_err *e) {
    if (H5Lexists(f, "pending", H5P_DEFAULT) <= 0) return 0;
    char where[4300];
    snprintf(where, sizeof where, "%s:/pending", path);
    hid_t g = H5Gopen2(f, "pending", H5P_DEFAULT);
    if (g < 0) return mg_fail(e, "%s: cannot open", where);
    int rc = h5io_read_attr_i64(g, where, "n_groups", &c->n_pending, e);
    if (!rc && (c->n_pending < 1 || c->n_pending > MAX_STALENESS))
        rc = mg_fail(e, "%s: n_groups is %lld, not in [1, %d]", where, (long long)c->n_pending, MAX_STALENESS);
    long nm = rc ? -1 : h5io_length(g, where, "member_length", e);
    long nt = nm < 0 ? -1 : h5io_length(g, where, "ids", e);
    if (!rc && (nm < 0 || nt < 0)) rc = -1;
    if (rc) return H5Gclose(g), -1;
    size_t m = (size_t)nm, t = (size_t)nt;
    c->pending_members = nm, c->pending_tokens = nt;
    c->pending_group_members = mallocCheck((size_t)c->n_pending * sizeof(int64_t));
    c->pending_len = mallocCheck((m + 1) * sizeof(int32_t)), c->pending_from = mallocCheck((m + 1) * sizeof(int32_t));
    c->pending_adv = mallocCheck((m + 1) * sizeof(float));
    c->pending_ids = mallocCheck((t + 1) * sizeof(int32_t)), c->pending_old = mallocCheck((t + 1) * sizeof(float));
    rc = h5io_read(g, where, "group_members", H5T_NATIVE_INT64, (size_t)c->n_pending, 0, c->pending_group_members, e) ||
         h5io_read(g, where, "member_length", H5T_NATIVE_INT32, m, 0, c->pending_len, e) ||
         h5io_read(g, where, "member_score_from", H5T_NATIVE_INT32, m, 0, c->pending_from, e) ||
         h5io_read(g, where, "advantage", H5T_NATIVE_FLOAT, m, 0, c->pending_adv, e) ||
         h5io_read(g, where, "ids", H5T_NATIVE_INT32, t, 0, c->pending_ids, e) ||
         h5io_read(g, where, "old_logp", H5T_NATIVE_FLOAT, t, 0, c->pending_old, e)
             ? -1 : 0;
    H5Gclose(g);
    // The counts must add up before anything slices the arrays by them.
    int64_t sum_m = 0, sum_t = 0;
    for (int64_t i = 0; i < c->n_pending && !rc; i++) {
        if (c->pending_group_members[i] < 0 || c->pending_group_members[i] > nm - sum_m)
            rc = mg_fail(e, "%s: group %lld has %lld members, more than the file holds", where, (long long)i,
                         (long long)c->pending_group_members[i]);
        else sum_m += c->pending_group_members[i];
    }
    for (long k = 0; k < nm && !rc; k++) {
        if (c->pending_len[k] < 2 || c->pending_from[k] < 0 || c->pending_from[k] >= c->pending_len[k] ||
            c->pending_len[k] > nt - sum_t)
            rc = mg_fail(e, "%s: member %ld: length %d, first scored position %d do not fit", where, k,
                         c->pending_len[k], c->pending_from[k]);
        else sum_t += c->pending_len[k];
    }
    if (!rc && (sum_m != nm || sum_t != nt))
        rc = mg_fail(e, "%s: the groups cover %lld members and %lld tokens of %ld and %ld", where, (long long)sum_m,
                     (long long)sum_t, nm, nt);
    return rc;
}
