// How attention_gemm.cu cuts a packed causal batch into chunks of batched GEMMs (attention_gemm_plan.cu): host code
// only, the layout alone decides it. C++, shared by the planner and the kernels that take a chunk by value.
#pragma once
#include <stddef.h>

#include <vector>

enum { MAX_SEGS = 64 };

// A chunk's segments (sequences or row blocks of one), passed to its kernels by value. Segment s: queries
// q0 .. q0 + nq - 1, key rows k0 .. k0 + nk - 1; its query t sees keys 0 .. nk - nq + t.
struct attn_segs {
    int n;
    int q0[MAX_SEGS], nq[MAX_SEGS], k0[MAX_SEGS], nk[MAX_SEGS];
};

// One chunk: segments x query heads [h0, h0 + nh), padded to lq query rows and lk key rows; batch index
// b = segment * nh + (head - h0). run[i]: the sequence segment i comes from.
struct unit {
    attn_segs s;
    int run[MAX_SEGS];
    int h0, nh, lq, lk;
};

// Byte offsets of a chunk's buffers in its scratch, each 256-byte aligned. fp32 mode writes P over S and dS over dP.
struct chunk_scratch {
    size_t S, dP, P, dS, Q, dO, dQ, K, V, dK, dV, total;
};
// ob: bytes per GEMM operand (2: bf16, 4: fp32).
chunk_scratch carve_scratch(const unit &u, int D, size_t ob);

// The chunks of a layout (host arrays kv_start, kv_len) under the budget (attention_gemm_set_budget). Returns the
// number of runs (sequences), 0 when the GEMMs do not take the layout.
int plan_chunks(std::vector<unit> &units, const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D,
                size_t ob);
