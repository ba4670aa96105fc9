// The host emulation behind kernels/cuda/emulate.h: a fiber scheduler for the threads of a block, and the runtime
// functions kernels/cuda/runtime.cu provides on a real GPU (memory, scratch, GEMM, sort, errors).
//
// Beyond running the kernels, it checks what a GPU would silently get wrong or crash on:
//  * every pointer argument of a launch and of a GEMM must lie in memory from cuda_malloc (a host pointer passed
//    to a device op is the classic bug of a two-memory program), and cuda_h2d / cuda_d2h must point the right way;
//  * device allocations and dynamic shared memory start as NaN bytes, so reading memory nobody wrote shows up;
//  * barriers: all live threads at the same __syncthreads, all lanes at the same shuffle, no exits while others wait.
// Built with AddressSanitizer, it also finds out-of-bounds accesses of kernels, like compute-sanitizer memcheck.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <map>
#include <vector>

#include "kernels/cuda/cuda_common.h"

#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
extern "C" void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
extern "C" void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
extern "C" void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
enum { EMU_STACK = 256 << 10 };
#else
enum { EMU_STACK = 64 << 10 };  // a kernel's thread uses under 4 KB here (measured)
#endif

dim3 emu_threadIdx, emu_blockIdx, emu_blockDim, emu_gridDim;
unsigned long emu_issued;

extern "C" unsigned long cuda_emu_launches(void) { return emu_issued; }

[[noreturn]] static void emu_fail(const char *fmt, const char *a, long b = 0, long c = 0) {
    fprintf(stderr, "migrate: CUDA emulation: ");
    fprintf(stderr, fmt, a, b, c);
    fprintf(stderr, "\n  hint: a kernel or a caller breaks a CUDA rule that a GPU would not report\n");
    exit(1);
}

// ---- fibers ----
// On x86-64 a fiber switch is a few instructions (callee-saved registers, the stack pointer, MXCSR and the x87
// control word, which is all the SysV ABI keeps across a call); glibc's swapcontext would add a signal-mask
// system call to every barrier of every thread. Elsewhere, swapcontext.
#if defined(__x86_64__) && !defined(MG_EMU_UCONTEXT)
#define EMU_FAST_SWITCH 1
extern "C" void emu_switch(void **save_sp, void *load_sp);
asm(".text\n"
    ".globl emu_switch\n"
    ".type emu_switch,@function\n"
    "emu_switch:\n"
    "    pushq %rbp\n"
    "    pushq %rbx\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    subq $8, %rsp\n"
    "    stmxcsr (%rsp)\n"
    "    fnstcw 4(%rsp)\n"
    "    movq %rsp, (%rdi)\n"
    "    movq %rsi, %rsp\n"
    "    ldmxcsr (%rsp)\n"
    "    fldcw 4(%rsp)\n"
    "    addq $8, %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbx\n"
    "    popq %rbp\n"
    "    ret\n"
    ".size emu_switch,.-emu_switch\n");
#else
#include <ucontext.h>
#endif

enum { F_READY, F_WAIT_BLOCK, F_WAIT_WARP, F_DONE };

struct fiber {
#ifdef EMU_FAST_SWITCH
    void *sp = nullptr;
#else
    ucontext_t ctx;
#endif
    char *stack = nullptr;
    int state = F_DONE;
    dim3 tid;
    void *fake = nullptr;
};

static std::vector<fiber> g_fibers;
static struct fiber_stacks_free {  // at exit, so leak checkers see every allocation returned
    ~fiber_stacks_free() {
        for (auto &f : g_fibers) free(f.stack);
    }
} g_fiber_stacks_free;
#ifdef EMU_FAST_SWITCH
static void *g_sched_sp;
#else
static ucontext_t g_sched;
#endif
static int g_cur, g_nthreads;
static const std::function<void()> *g_body;
static const char *g_kernel;
static std::vector<uint64_t> g_xchg;  // 32 slots per warp
static std::vector<unsigned char> g_dyn;
static unsigned long g_launches;
#ifdef EMU_ASAN
static const void *g_sched_bottom;
static size_t g_sched_size;
static void *g_sched_fake;
#endif

static void fiber_entry(void) {
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &g_sched_bottom, &g_sched_size);
#endif
    (*g_body)();
    g_fibers[g_cur].state = F_DONE;
#ifdef EMU_ASAN
    __sanitizer_start_switch_fiber(nullptr, g_sched_bottom, g_sched_size);
#endif
#ifdef EMU_FAST_SWITCH
    void *gone;
    emu_switch(&gone, g_sched_sp);  // never resumed
#endif
    // (swapcontext: returning resumes g_sched through uc_link)
}

static void fiber_start(fiber &f) {
#ifdef EMU_ASAN
    // The redzones of its last thread's frames: the top 64 KB, far more than a thread ever uses (cheaper than
    // the whole stack, which would cost a 32 KB shadow write per thread per block).
    __asan_unpoison_memory_region(f.stack + EMU_STACK - (64 << 10), 64 << 10);
#endif
#ifdef EMU_FAST_SWITCH
    // A stack whose first switch-in "returns" into fiber_entry as if it had been called: the entry slot sits at a
    // 16-byte boundary, so fiber_entry starts with the ABI's alignment.
    uint32_t mxcsr;
    uint16_t fpcw;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(fpcw));
    uintptr_t top = ((uintptr_t)f.stack + EMU_STACK) & ~(uintptr_t)15;
    void **sp = (void **)top;
    *--sp = nullptr;                   // fiber_entry's return address: it never returns
    *--sp = (void *)fiber_entry;       // popped by emu_switch's ret
    for (int r = 0; r < 6; r++) *--sp = nullptr;  // rbp rbx r12 r13 r14 r15
    --sp;
    memcpy(sp, &mxcsr, 4);
    memcpy((char *)sp + 4, &fpcw, 2);
    f.sp = sp;
#else
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = EMU_STACK;
    f.ctx.uc_link = &g_sched;
    makecontext(&f.ctx, fiber_entry, 0);
#endif
}

static void yield_as(int state) {
    fiber &f = g_fibers[g_cur];
    f.state = state;
#ifdef EMU_ASAN
    __sanitizer_start_switch_fiber(&f.fake, g_sched_bottom, g_sched_size);
#endif
#ifdef EMU_FAST_SWITCH
    emu_switch(&f.sp, g_sched_sp);
#else
    swapcontext(&f.ctx, &g_sched);
#endif
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(f.fake, nullptr, nullptr);
#endif
}

static void resume(int i) {
    g_cur = i;
    emu_threadIdx = g_fibers[i].tid;
#ifdef EMU_ASAN
    __sanitizer_start_switch_fiber(&g_sched_fake, g_fibers[i].stack, EMU_STACK);
#endif
#ifdef EMU_FAST_SWITCH
    emu_switch(&g_sched_sp, g_fibers[i].sp);
#else
    swapcontext(&g_sched, &g_fibers[i].ctx);
#endif
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(g_sched_fake, nullptr, nullptr);
#endif
}

// Releases the barrier every live thread waits at, or fails if they wait at different ones.
static void release_barriers(void) {
    int n = g_nthreads, live = 0, at_block = 0, released = 0;
    for (int i = 0; i < n; i++) {
        live += g_fibers[i].state != F_DONE;
        at_block += g_fibers[i].state == F_WAIT_BLOCK;
    }
    for (int w0 = 0; w0 < n; w0 += 32) {
        int lanes = std::min(32, n - w0), waiting = 0, done = 0;
        for (int l = 0; l < lanes; l++) {
            waiting += g_fibers[w0 + l].state == F_WAIT_WARP;
            done += g_fibers[w0 + l].state == F_DONE;
        }
        if (!waiting) continue;
        if (done) emu_fail("%s: lanes of warp %ld exited before the others' shuffle or __syncwarp", g_kernel, w0 / 32);
        if (waiting + done < lanes)
            emu_fail("%s: warp %ld is split between a shuffle/__syncwarp and __syncthreads", g_kernel, w0 / 32);
        for (int l = 0; l < lanes; l++) g_fibers[w0 + l].state = F_READY;
        released = 1;
    }
    if (released) return;
    if (at_block && at_block == live) {
        if (live < n) emu_fail("%s: %ld threads exited while %ld wait at __syncthreads", g_kernel, n - live, live);
        for (int i = 0; i < n; i++) g_fibers[i].state = F_READY;
        return;
    }
    emu_fail("%s: threads wait at different barriers (%ld of %ld at __syncthreads)", g_kernel, at_block, live);
}

static void run_block(int reverse) {
    int n = g_nthreads;
    for (int i = 0; i < n; i++) {
        fiber &f = g_fibers[i];
        if (!f.stack) f.stack = (char *)malloc(EMU_STACK);
        if (!f.stack) emu_fail("%s: out of memory for fiber stacks", g_kernel);
        fiber_start(f);
        f.state = F_READY;
        f.tid = dim3(i % emu_blockDim.x, i / emu_blockDim.x % emu_blockDim.y, i / (emu_blockDim.x * emu_blockDim.y));
    }
    if (!g_dyn.empty()) memset(g_dyn.data(), 0xFF, g_dyn.size());  // NaN: unwritten shared memory shows
    for (;;) {
        int ran = 0, live = 0;
        for (int k = 0; k < n; k++) {
            int i = reverse ? n - 1 - k : k;
            if (g_fibers[i].state == F_READY) {
                resume(i);
                ran = 1;
            }
            live += g_fibers[i].state != F_DONE;
        }
        if (!live) return;
        if (!ran) release_barriers();
    }
}

void emu_launch(dim3 grid, dim3 block, size_t dyn_smem, const char *name, const std::function<void()> &body) {
    size_t n = (size_t)block.x * block.y * block.z;
    if (n == 0 || n > 1024) emu_fail("%s: %ld threads per block (1..1024 allowed)", name, (long)n);
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535)
        emu_fail("%s: grid (%ld, %ld, ...) out of range", name, (long)grid.x, (long)grid.y);
    if (dyn_smem > 227 * 1024) emu_fail("%s: %ld bytes of dynamic shared memory (at most 227 KB)", name, (long)dyn_smem);
    g_body = &body;
    g_kernel = name;
    g_nthreads = (int)n;
    if (g_fibers.size() < n) g_fibers.resize(n);
    g_xchg.assign((n + 31) / 32 * 32, 0);
    g_dyn.assign(dyn_smem, 0);
    emu_blockDim = block;
    emu_gridDim = grid;
    int reverse = (int)(g_launches++ & 1);
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                emu_blockIdx = dim3(x, y, z);
                run_block(reverse);
            }
    g_body = nullptr;
}

void *emu_dyn_smem(void) { return g_dyn.data(); }

void __syncthreads(void) { yield_as(F_WAIT_BLOCK); }
void __syncwarp(unsigned) { yield_as(F_WAIT_WARP); }

uint64_t emu_shfl(uint64_t bits, int l, int is_xor) {
    int t = g_cur, lane = t & 31, base = t - lane;
    g_xchg[t] = bits;
    yield_as(F_WAIT_WARP);
    int src = (is_xor ? lane ^ l : l) & 31;
    uint64_t out = base + src < g_nthreads ? g_xchg[base + src] : bits;
    yield_as(F_WAIT_WARP);
    return out;
}

// ---- device memory: host allocations registered by range ----
static std::map<uintptr_t, size_t> g_allocs;

static int is_device(const void *p) {
    uintptr_t a = (uintptr_t)p;
    auto it = g_allocs.upper_bound(a);
    if (it == g_allocs.begin()) return 0;
    --it;
    return a <= it->first + it->second;  // one past the end is a valid (empty) range
}

void emu_check_ptr(const char *what, int arg, const void *p) {
    if (p && !is_device(p)) emu_fail("%s: pointer argument %ld is not device memory (a host pointer?)", what, arg);
}

extern "C" int cuda_device_count(void) {
    const char *off = getenv("MG_EMU_NO_DEVICE");
    return off && *off && strcmp(off, "0") ? 0 : 1;
}

static int g_ready;
// Graph capture: stream work is recorded instead of run; what CUDA forbids during a capture (synchronous copies,
// allocation, frees) fails here too.
static std::vector<std::function<void()>> *g_capture;
static unsigned long g_epoch;

static void not_in_capture(const char *what) {
    if (g_capture) emu_fail("%s: not allowed while a CUDA graph is being captured", what);
}

void emu_stream_op(std::function<void()> op) {
    if (g_capture) g_capture->push_back(std::move(op));
    else op();
}

extern "C" int cuda_init(int device, char *err, size_t errlen) {
    if (device != 0 || !cuda_device_count()) {
        snprintf(err, errlen, "CUDA device %d not available (emulation has device 0 only)", device);
        return -1;
    }
    g_ready = 1;
    return 0;
}

struct scratch_buf {
    void *p;
    size_t cap;
};
static scratch_buf g_scratch[SCR_COUNT];

extern "C" void cuda_shutdown(void) {
    for (int i = 0; i < SCR_COUNT; i++) {
        cuda_free(g_scratch[i].p);
        g_scratch[i] = scratch_buf{nullptr, 0};
    }
    g_ready = 0;
}

extern "C" const char *cuda_device_name(void) { return "emulated on the host CPU"; }

extern "C" void *cuda_malloc(size_t bytes) {
    if (!g_ready) emu_fail("%s: cuda_malloc before cuda_init", "runtime");
    not_in_capture("cuda_malloc");
    void *p = malloc(bytes ? bytes : 1);
    if (!p) emu_fail("%s: out of host memory for %ld bytes", "cuda_malloc", (long)bytes);
    memset(p, 0xFF, bytes);
    g_allocs[(uintptr_t)p] = bytes;
    return p;
}

extern "C" void *cuda_try_malloc(size_t bytes) {
    if (!g_ready) emu_fail("%s: cuda_try_malloc before cuda_init", "runtime");
    not_in_capture("cuda_try_malloc");
    void *p = malloc(bytes ? bytes : 1);
    if (!p) return NULL;
    memset(p, 0xFF, bytes);
    g_allocs[(uintptr_t)p] = bytes;
    return p;
}

extern "C" void cuda_free(void *p) {
    if (!p) return;
    not_in_capture("cuda_free");
    auto it = g_allocs.find((uintptr_t)p);
    if (it == g_allocs.end()) emu_fail("%s: freeing a pointer that cuda_malloc did not return", "cuda_free");
    g_allocs.erase(it);
    free(p);
}

static void check_range(const char *what, const void *p, size_t bytes) {
    uintptr_t a = (uintptr_t)p;
    auto it = g_allocs.upper_bound(a);
    if (it == g_allocs.begin() || (--it, a + bytes > it->first + it->second))
        emu_fail("%s: %ld bytes outside any device allocation", what, (long)bytes);
}

extern "C" void cuda_zero(void *p, size_t bytes) {
    if (!bytes) return;
    check_range("cuda_zero", p, bytes);
    emu_stream_op([=]() { memset(p, 0, bytes); });
}
extern "C" void cuda_h2d(void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    not_in_capture("cuda_h2d");
    check_range("cuda_h2d destination", dst, bytes);
    if (is_device(src)) emu_fail("%s: source is device memory", "cuda_h2d");
    memcpy(dst, src, bytes);
}
extern "C" void cuda_d2h(void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    not_in_capture("cuda_d2h");
    check_range("cuda_d2h source", src, bytes);
    if (is_device(dst)) emu_fail("%s: destination is device memory", "cuda_d2h");
    memcpy(dst, src, bytes);
}
extern "C" void cuda_d2d(void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    check_range("cuda_d2d source", src, bytes);
    check_range("cuda_d2d destination", dst, bytes);
    emu_stream_op([=]() { memmove(dst, src, bytes); });
}
extern "C" void cuda_sync(void) { not_in_capture("cuda_sync"); }
extern "C" void *cuda_stream_handle(void) { return nullptr; }

void *cuda_scratch(int slot, size_t bytes) {
    if (bytes > g_scratch[slot].cap) {
        cuda_free(g_scratch[slot].p);
        g_scratch[slot].p = cuda_malloc(bytes);
        g_scratch[slot].cap = bytes;
        g_epoch++;
    }
    return g_scratch[slot].p;
}

// ---- GEMM with cuBLAS's column-major definition, fp32 accumulation ----
static inline float ld(const void *p, mg_dtype t, size_t i) {
    return t == MG_BF16 ? __bfloat162float(((const __nv_bfloat16 *)p)[i]) : ((const float *)p)[i];
}

static void gemm_now(int ta, int tb, int m, int n, int k, float alpha, const void *A, int lda, const void *B, int ldb,
                     mg_dtype ab, float beta, float *C, int ldc) {
    if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m)
        emu_fail("%s: leading dimension too small (%ld, %ld)", "mg_gemm", lda, ldb);
    // the whole extent each operand is read over must be device memory
    size_t es = mg_dtype_size(ab);
    check_range("mg_gemm A", A, ((size_t)(ta ? m : k) - 1) * lda * es + (size_t)(ta ? k : m) * es);
    check_range("mg_gemm B", B, ((size_t)(tb ? k : n) - 1) * ldb * es + (size_t)(tb ? n : k) * es);
    check_range("mg_gemm C", C, ((size_t)n - 1) * ldc * sizeof(float) + (size_t)m * sizeof(float));
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float acc = 0.0f;
            for (int l = 0; l < k; l++) {
                float a = ta ? ld(A, ab, (size_t)i * lda + l) : ld(A, ab, (size_t)l * lda + i);
                float b = tb ? ld(B, ab, (size_t)l * ldb + j) : ld(B, ab, (size_t)j * ldb + l);
                acc = fmaf(a, b, acc);
            }
            float *c = C + (size_t)j * ldc + i;
            *c = beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;  // beta = 0: C is never read (may be NaN)
        }
}

void mg_gemm(int ta, int tb, int m, int n, int k, float alpha, const void *A, int lda, const void *B, int ldb,
             mg_dtype ab, float beta, float *C, int ldc) {
    if (m <= 0 || n <= 0) return;
    emu_issued++;
    emu_stream_op([=]() { gemm_now(ta, tb, m, n, k, alpha, A, lda, B, ldb, ab, beta, C, ldc); });
}

// cublasGemmStridedBatchedEx: the products one after another, each checked as mg_gemm's (device memory over its
// whole extent). A GPU runs them concurrently, so C matrices that overlap would race there: refused here.
void mg_gemm_strided_batched(int ta, int tb, int m, int n, int k, float alpha, const void *A, int lda,
                             long long stride_a, const void *B, int ldb, long long stride_b, mg_dtype ab, float beta,
                             float *C, int ldc, long long stride_c, int batch) {
    if (m <= 0 || n <= 0 || batch <= 0) return;
    if (batch > 1 && (stride_c < 0 || (size_t)stride_c < ((size_t)n - 1) * ldc + (size_t)m))
        emu_fail("%s: C matrices of a batch overlap (stride %ld)", "mg_gemm_strided_batched", (long)stride_c);
    size_t es = mg_dtype_size(ab);
    emu_stream_op([=]() {
        for (int b = 0; b < batch; b++)
            gemm_now(ta, tb, m, n, k, alpha, (const char *)A + (size_t)b * stride_a * es, lda,
                     (const char *)B + (size_t)b * stride_b * es, ldb, ab, beta, C + (size_t)b * stride_c, ldc);
    });
}

static void sort_now(const float *keys_in, float *keys_out, const int *ids_in, int *ids_out, int n, int V) {
    std::vector<int> order((size_t)V);
    for (int r = 0; r < n; r++) {
        const float *k = keys_in + (size_t)r * V;
        const int *id = ids_in + (size_t)r * V;
        for (int v = 0; v < V; v++) order[v] = v;
        std::stable_sort(order.begin(), order.end(), [k](int a, int b) { return k[a] > k[b]; });
        for (int v = 0; v < V; v++) {
            keys_out[(size_t)r * V + v] = k[order[v]];
            ids_out[(size_t)r * V + v] = id[order[v]];
        }
    }
}

void mg_sort_rows_desc(const float *keys_in, float *keys_out, const int *ids_in, int *ids_out, int n, int V) {
    emu_issued++;
    emu_stream_op([=]() { sort_now(keys_in, keys_out, ids_in, ids_out, n, V); });
}

extern "C" double cuda_copy_bandwidth_gbs(size_t, int) { return 0.0; }
extern "C" double cuda_gemm_tflops(int, int) { return 0.0; }
extern "C" void cuda_mem_info(size_t *free_bytes, size_t *total_bytes) { *free_bytes = *total_bytes = 0; }
extern "C" void cuda_profile_range(int) {}

extern "C" int cuda_graph_begin(void) {
    const char *off = getenv("MG_EMU_NO_GRAPHS");
    if (g_capture || (off && *off && strcmp(off, "0"))) return 0;
    g_capture = new std::vector<std::function<void()>>;
    return 1;
}
extern "C" void *cuda_graph_end(void) {
    void *g = g_capture;
    g_capture = nullptr;
    return g;
}
extern "C" void cuda_graph_launch(void *g) {
    not_in_capture("cuda_graph_launch");
    for (auto &op : *(std::vector<std::function<void()>> *)g) op();
}
extern "C" void cuda_graph_free(void *g) { delete (std::vector<std::function<void()>> *)g; }
extern "C" unsigned long cuda_scratch_epoch(void) { return g_epoch; }

void mg_cuda_check_failed(int err, const char *expr, const char *file, int line) {
    fprintf(stderr, "migrate: CUDA error %d in %s at %s:%d\n  hint: emulated runtime\n", err, expr, file, line);
    exit(1);
}

void mg_cuda_fatal(const char *what, const char *file, int line, const char *hint) {
    fprintf(stderr, "migrate: CUDA op precondition failed: %s at %s:%d\n  hint: %s\n", what, file, line, hint);
    exit(1);
}
