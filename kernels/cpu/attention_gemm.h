// The GEMM path of the CPU attention op (attention_gemm.c): causal self-attention blocks of a packed training
// batch as cblas_sgemm calls. attention.c's attention_forward / attention_backward find the blocks and hand the
// rest of the call to the pairwise code. Internal to kernels/cpu/ (and the tests); callers use kernels/ops.h.
#pragma once

// Tokens [start, end) form a causal block when their keys are their own rows: token i attends to rows start..i
// (kv_start[i] == start, kv_len[i] == i - start + 1). Each sequence of a packed training batch is one. With keys
// from elsewhere (offset_keys), a block is also a run whose keys start at row kstart and reach `pre` rows before
// its first query's own: token i attends to rows kstart .. kstart + pre + (i - start), as a shared prompt's member
// does over its expanded keys (model/engine.c). Own-row blocks have kstart = start, pre = 0.
typedef struct {
    int start, end;
    int kstart, pre;
} attention_block;

// Writes the call's maximal causal blocks to blocks (room for N), in token order, and returns their count;
// in_block[i] (N) = 1 for a token inside one, 0 for the others (those go to the pairwise code). offset_keys 0: own-row
// blocks only; 1: also runs over keys elsewhere, as long as each block's key rows come after the previous block's
// (the blocks' dk, dv rows are then disjoint, so threads never add into the same rows).
int attention_find_blocks(attention_block *blocks, unsigned char *in_block, const int *kv_start, const int *kv_len,
                          int N, int offset_keys);

// As attention_forward / attention_backward (ops.h), restricted to the given blocks: out rows (and dq, dk, dv
// rows, +=) of other tokens are neither read nor written. Threads split (block, KV head) pairs; each writes only
// its own rows, with single-threaded BLAS, so results do not depend on the thread count.
void attention_forward_blocks(float *out, const float *q, const float *k, const float *v,
                              const attention_block *blocks, int nblocks, int Hq, int Hkv, int D);
void attention_backward_blocks(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                               const float *v, const attention_block *blocks, int nblocks, int Hq, int Hkv, int D);
