// Host emulation of the CUDA subset the kernels in kernels/cuda/*.cu use, so the same sources compile with a
// plain C++ compiler (-DMG_CUDA_EMULATE) and run on the CPU: CI has no GPU, and this is how every kernel's
// indexing, reductions and barriers get executed there (tests/gpu/test_cuda_parity.c, built as
// test_cuda_parity_emu).
//
// Model: a launch runs its blocks one after another; the threads of a block are fibers (ucontext) on one OS
// thread, switched only at barriers (__syncthreads, __syncwarp, every shuffle). So `__shared__` can be a plain
// `static` (one block lives at a time) and atomics are plain adds. The scheduler checks the rules a GPU does not
// check for you: every live thread of the block must reach the same __syncthreads, every lane of a warp the same
// shuffle, and a thread may not exit while others wait at a barrier. Alternate launches run the threads of a block
// in reverse order, so a read of shared memory that lacks a barrier before it sees stale data in one of the two
// orders. What it cannot find: races between blocks, and memory-model effects of real hardware.
#pragma once
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <functional>
#include <tuple>
#include <utility>

// CUDA's integer min/max (std::min would refuse an enum constant beside an int).
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

// The running fiber's coordinates: the scheduler writes them before every switch into a fiber.
extern dim3 emu_threadIdx, emu_blockIdx, emu_blockDim, emu_gridDim;
#define threadIdx emu_threadIdx
#define blockIdx emu_blockIdx
#define blockDim emu_blockDim
#define gridDim emu_gridDim

void emu_launch(dim3 grid, dim3 block, size_t dyn_smem, const char *name, const std::function<void()> &body);
// Kernels launched and GEMMs issued so far, counted when issued (a captured graph's replay issues none): what a
// decode step costs in launches (cuda_emu_launches, kernels/cuda/ops_cuda.h).
extern unsigned long emu_issued;
// Stream work: run now, or recorded while a graph is being captured (replayed by cuda_graph_launch).
void emu_stream_op(std::function<void()> op);

// A launch as CUDA makes it: the arguments are converted to the kernel's parameter types and copied when the
// launch is made (so a graph replays the values of capture time), then the grid runs.
template <typename... P, typename... A>
static inline void emu_launch_kernel(dim3 grid, dim3 block, size_t smem, const char *name, void (*kernel)(P...),
                                     A &&...args) {
    std::tuple<P...> params(static_cast<P>(std::forward<A>(args))...);
    emu_issued++;
    emu_stream_op([=]() { emu_launch(grid, block, smem, name, [&]() { std::apply(kernel, params); }); });
}
void *emu_dyn_smem(void);  // this launch's dynamic shared memory (extern __shared__)
void __syncthreads(void);
void __syncwarp(unsigned mask = 0xffffffffu);
// Shuffles exchange 8-byte slots between the lanes of the calling warp.
uint64_t emu_shfl(uint64_t bits, int src_lane_or_mask, int is_xor);

template <typename T> static inline T emu_shfl_t(T v, int lane, int is_xor) {
    static_assert(sizeof(T) <= 8, "shuffle of a value wider than 8 bytes");
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof v);
    bits = emu_shfl(bits, lane, is_xor);
    T out;
    memcpy(&out, &bits, sizeof out);
    return out;
}
template <typename T> static inline T __shfl_xor_sync(unsigned, T v, int mask, int = 32) {
    return emu_shfl_t(v, mask, 1);
}
template <typename T> static inline T __shfl_sync(unsigned, T v, int src, int = 32) { return emu_shfl_t(v, src, 0); }

template <typename T> static inline T atomicAdd(T *p, T v) {
    T old = *p;
    *p = old + v;
    return old;
}
static inline int atomicMax(int *p, int v) {
    int old = *p;
    if (v > old) *p = v;
    return old;
}

// bf16 storage type (round to nearest even, as __float2bfloat16_rn).
struct __nv_bfloat16 {
    uint16_t bits;
};
static inline float __bfloat162float(__nv_bfloat16 h) {
    uint32_t u = (uint32_t)h.bits << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    __nv_bfloat16 h;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        h.bits = (uint16_t)((u >> 16) | 0x40);  // quiet NaN
    } else {
        u += 0x7fffu + ((u >> 16) & 1u);
        h.bits = (uint16_t)(u >> 16);
    }
    return h;
}

// Every pointer argument of a launch must be device memory (cuda_malloc) or NULL.
void emu_check_ptr(const char *kernel, int arg, const void *p);
template <typename T> static inline void emu_check_arg(const char *, int, const T &) {}
template <typename T> static inline void emu_check_arg(const char *k, int i, T *const &p) { emu_check_ptr(k, i, p); }
template <typename... A> static inline void emu_check_args(const char *k, const A &...a) {
    int i = 0;
    (emu_check_arg(k, i++, a), ...);
}

// The runtime types the kernels' sources name.
typedef int cudaError_t;
enum { cudaSuccess = 0 };
typedef struct emu_stream *cudaStream_t;
