// The device side the ops share: device selection, the one stream, the cuBLAS handle, error reporting, memory,
// scratch buffers, the GEMM wrapper and CUDA graphs. (kernels/cuda/emulate.cpp implements the same functions on
// the host for the emulated build.)
#include <cublas_v2.h>
#include <cuda_profiler_api.h>
#include <string.h>

#include "kernels/cuda/cuda_common.h"

static struct {
    int ready, device;
    cudaStream_t stream;
    cublasHandle_t cublas;
    void *cublas_ws;
    char name[320];
    unsigned long epoch;
    struct {
        void *p;
        size_t cap;
    } scratch[SCR_COUNT];
} g;

cudaStream_t cuda_stream(void) { return g.stream; }
extern "C" void *cuda_stream_handle(void) { return (void *)g.stream; }

// ---- errors ----
static const char *cuda_hint(cudaError_t e) {
    switch (e) {
    case cudaErrorMemoryAllocation: return "out of GPU memory: a smaller batch, shorter sequences or a smaller model";
    case cudaErrorNoDevice: return "no CUDA device is visible (CUDA_VISIBLE_DEVICES? a container without --gpus?)";
    case cudaErrorInsufficientDriver: return "the NVIDIA driver is older than the CUDA runtime this was built with";
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
        return "not compiled for this GPU: rebuild with -DCMAKE_CUDA_ARCHITECTURES=<its compute capability, e.g. 90>";
    case cudaErrorInvalidConfiguration: return "a launch shape out of range: a shape the kernel does not support (a bug)";
    case cudaErrorIllegalAddress:
    case cudaErrorMisalignedAddress:
        return "a kernel accessed memory out of bounds: rerun under compute-sanitizer --tool memcheck";
    case cudaErrorLaunchTimeout: return "a kernel ran too long (display watchdog?)";
    case cudaErrorStreamCaptureUnsupported:
    case cudaErrorStreamCaptureInvalidated:
        return "an operation not allowed in CUDA graph capture: set MIGRATE_CUDA_GRAPHS=0";
    default:
        return "see the CUDA error string; errors after a kernel may come from an earlier launch "
               "(CUDA_LAUNCH_BLOCKING=1)";
    }
}

void mg_cuda_check_failed(int err, const char *expr, const char *file, int line) {
    cudaError_t e = (cudaError_t)err;
    fprintf(stderr, "migrate: CUDA error %s (%s) in %s at %s:%d\n  hint: %s\n", cudaGetErrorName(e),
            cudaGetErrorString(e), expr, file, line, cuda_hint(e));
    exit(1);
}

void mg_cuda_fatal(const char *what, const char *file, int line, const char *hint) {
    fprintf(stderr, "migrate: CUDA op precondition failed: %s at %s:%d\n  hint: %s\n", what, file, line, hint);
    exit(1);
}

static const char *cublas_hint(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "cuBLAS is not initialised: call cuda_init first";
    case CUBLAS_STATUS_ALLOC_FAILED: return "out of GPU memory inside cuBLAS";
    case CUBLAS_STATUS_INVALID_VALUE: return "a GEMM argument is invalid (leading dimension or shape: a bug)";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "this GPU lacks the feature (bf16 GEMMs need sm_80 or newer)";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "this combination of types is not supported by cuBLAS";
    case CUBLAS_STATUS_EXECUTION_FAILED:
        return "a cuBLAS kernel failed to run: check earlier kernels with compute-sanitizer";
    default: return "see the cuBLAS status";
    }
}

#define cublasCheck(call)                                                                                          \
    do {                                                                                                           \
        cublasStatus_t st_ = (call);                                                                               \
        if (st_ != CUBLAS_STATUS_SUCCESS) {                                                                        \
            fprintf(stderr, "migrate: cuBLAS error %s in %s at %s:%d\n  hint: %s\n", cublasGetStatusString(st_),   \
                    #call, __FILE__, __LINE__, cublas_hint(st_));                                                  \
            exit(1);                                                                                               \
        }                                                                                                          \
    } while (0)

// ---- device ----
extern "C" int cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();  // clear the sticky-free error so later calls start clean
        return 0;
    }
    return n;
}

// The oldest Linux driver branch that runs a CUDA major release (NVIDIA's CUDA compatibility tables: 13.x needs
// R580, 12.x R525, 11.x R450; minor releases of one major share that floor).
static int min_driver_branch(int cuda_major) { return cuda_major >= 13 ? 580 : cuda_major == 12 ? 525 : 450; }

// The CUDA runtime's and the driver's versions (1000 * major + 10 * minor; driver 0 when none loads).
static void cuda_versions(int *rt, int *drv) {
    *rt = *drv = 0;
    (void)cudaRuntimeGetVersion(rt);
    if (cudaDriverGetVersion(drv) != cudaSuccess) *drv = 0;
    (void)cudaGetLastError();
}

// Why no GPU can be used, as one line for the user: which of driver, driver version or device is missing and, when
// `advice`, what this build needs and what to do. For cuda_init's err and cuda_describe.
static void no_device_reason(int device, int n, int advice, char *err, size_t errlen) {
    int rt, drv;
    cuda_versions(&rt, &drv);
    char tail[400] = "";
    if (advice)
        snprintf(tail, sizeof tail,
                 ": this build needs an NVIDIA GPU (sm_80 or newer) with a driver of the R%d branch or newer (CUDA "
                 "%d.%d); run it on a GPU node with the GPU passed in (srun --gpus=1 ..., apptainer exec --nv, docker "
                 "run --gpus all) or set engine.backend: cpu",
                 min_driver_branch(rt / 1000), rt / 1000, rt % 1000 / 10);
    const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
    if (n > 0)
        snprintf(err, errlen, "CUDA device %d not available (%d visible: engine.device is 0..%d, or -1 for the local "
                              "rank modulo the GPUs)", device, n, n - 1);
    else if (drv == 0)
        snprintf(err, errlen, "no NVIDIA driver found (libcuda.so.1 cannot be loaded)%s", tail);
    else if (drv / 1000 < rt / 1000)
        snprintf(err, errlen, "the NVIDIA driver supports CUDA %d.%d only%s", drv / 1000, drv % 1000 / 10, tail);
    else
        snprintf(err, errlen, "no CUDA GPU visible (driver for CUDA %d.%d, CUDA_VISIBLE_DEVICES=%s)%s", drv / 1000,
                 drv % 1000 / 10, cvd ? cvd : "(unset)", tail);
}

extern "C" int cuda_describe(char *buf, size_t len) {
    int rt, drv, n = cuda_device_count();
    cuda_versions(&rt, &drv);
    // nvcc's list of the virtual architectures compiled for, e.g. 800,900 -> "sm_80 sm_90"
    char archs[128] = "";
#ifdef __CUDA_ARCH_LIST__
#define MG_STR2(...) #__VA_ARGS__
#define MG_STR(...) MG_STR2(__VA_ARGS__)
    const char *list = MG_STR(__CUDA_ARCH_LIST__);
    for (const char *p = list; *p;) {
        long a = strtol(p, (char **)&p, 10);
        size_t used = strlen(archs);
        snprintf(archs + used, sizeof archs - used, "%ssm_%ld", used ? " " : "", a / 10);
        while (*p && (*p < '0' || *p > '9')) p++;
    }
#else
    snprintf(archs, sizeof archs, "?");
#endif
    int off = snprintf(buf, len, "runtime %d.%d (needs driver R%d+), kernels for %s; ", rt / 1000, rt % 1000 / 10,
                       min_driver_branch(rt / 1000), archs);
    if (off < 0 || (size_t)off >= len) return n;
    if (n > 0) {
        cudaDeviceProp prop;
        if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
            snprintf(buf + off, len - off, "driver for CUDA %d.%d, %d GPU%s visible (device 0: %s, sm_%d%d)",
                     drv / 1000, drv % 1000 / 10, n, n == 1 ? "" : "s", prop.name, prop.major, prop.minor);
        else
            snprintf(buf + off, len - off, "driver for CUDA %d.%d, %d GPU%s visible", drv / 1000, drv % 1000 / 10, n,
                     n == 1 ? "" : "s");
        (void)cudaGetLastError();
    } else {
        snprintf(buf + off, len - off, "no GPU usable: ");
        size_t used = strlen(buf);
        no_device_reason(0, 0, 0, buf + used, len - used);
    }
    return n;
}

extern "C" int cuda_init(int device, char *err, size_t errlen) {
    if (g.ready) return g.device == device ? 0 : (snprintf(err, errlen, "CUDA already set up on device %d", g.device), -1);
    int n = cuda_device_count();
    if (device < 0 || device >= n) {
        no_device_reason(device, n, 1, err, errlen);
        return -1;
    }
    cudaError_t e = cudaSetDevice(device);
    if (e != cudaSuccess) {
        snprintf(err, errlen, "cannot use CUDA device %d: %s", device, cudaGetErrorString(e));
        return -1;
    }
    cudaDeviceProp prop;
    cudaCheck(cudaGetDeviceProperties(&prop, device));
    snprintf(g.name, sizeof g.name, "%.200s (sm_%d%d, %d SMs, %.0f GiB)", prop.name, prop.major, prop.minor,
             prop.multiProcessorCount, (double)prop.totalGlobalMem / (1 << 30));
    if (prop.major < 8) {
        snprintf(err, errlen, "CUDA device %d (%s) is older than sm_80: bf16 tensor-core GEMMs need Ampere or newer",
                 device, g.name);
        return -1;
    }
    cudaCheck(cudaStreamCreateWithFlags(&g.stream, cudaStreamNonBlocking));
    cublasCheck(cublasCreate(&g.cublas));
    cublasCheck(cublasSetStream(g.cublas, g.stream));
    // A workspace we own: cuBLAS then never allocates behind our back, which CUDA graph capture requires.
    size_t ws = (size_t)32 << 20;
    cudaCheck(cudaMalloc(&g.cublas_ws, ws));
    cublasCheck(cublasSetWorkspace(g.cublas, g.cublas_ws, ws));
    g.device = device;
    g.ready = 1;
    return 0;
}

extern "C" void cuda_shutdown(void) {
    if (!g.ready) return;
    cudaCheck(cudaStreamSynchronize(g.stream));
    for (int i = 0; i < SCR_COUNT; i++) {
        if (g.scratch[i].p) cudaCheck(cudaFree(g.scratch[i].p));
        g.scratch[i].p = NULL;
        g.scratch[i].cap = 0;
    }
    cublasCheck(cublasDestroy(g.cublas));
    cudaCheck(cudaFree(g.cublas_ws));
    cudaCheck(cudaStreamDestroy(g.stream));
    g.ready = 0;
}

extern "C" const char *cuda_device_name(void) { return g.ready ? g.name : "(no device set up)"; }

// ---- memory ----
extern "C" void *cuda_malloc(size_t bytes) {
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        size_t free_b = 0, total_b = 0;
        (void)cudaGetLastError();
        (void)cudaMemGetInfo(&free_b, &total_b);
        fprintf(stderr, "migrate: cannot allocate %.3f GiB of GPU memory (%.3f of %.3f GiB free): %s\n"
                        "  hint: a smaller batch, shorter sequences or a smaller model\n",
                (double)bytes / (1 << 30), (double)free_b / (1 << 30), (double)total_b / (1 << 30), cudaGetErrorString(e));
        exit(1);
    }
    return p;
}

extern "C" void *cuda_try_malloc(size_t bytes) {
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) == cudaSuccess) return p;
    (void)cudaGetLastError();  // out of memory is not sticky: clear it, the caller goes on
    return NULL;
}

extern "C" void cuda_free(void *p) {
    if (p) cudaCheck(cudaFree(p));
}
extern "C" void cuda_zero(void *p, size_t bytes) {
    if (bytes) cudaCheck(cudaMemsetAsync(p, 0, bytes, g.stream));
}
extern "C" void cuda_h2d(void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, g.stream));
    cudaCheck(cudaStreamSynchronize(g.stream));  // the caller may reuse src at once, pinned or not
}
extern "C" void cuda_d2h(void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, g.stream));
    cudaCheck(cudaStreamSynchronize(g.stream));
}
extern "C" void cuda_d2d(void *dst, const void *src, size_t bytes) {
    if (bytes) cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, g.stream));
}
extern "C" void cuda_sync(void) { cudaCheck(cudaStreamSynchronize(g.stream)); }

void *cuda_scratch(int slot, size_t bytes) {
    if (bytes > g.scratch[slot].cap) {
        cudaCheck(cudaStreamSynchronize(g.stream));  // queued kernels may still read the old buffer
        if (g.scratch[slot].p) cudaCheck(cudaFree(g.scratch[slot].p));
        size_t cap = (bytes + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
        g.scratch[slot].p = cuda_malloc(cap);
        g.scratch[slot].cap = cap;
        g.epoch++;
    }
    return g.scratch[slot].p;
}

// ---- GEMM ----
void mg_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const void *A, int lda, const void *B,
             int ldb, mg_dtype ab, float beta, float *C, int ldc) {
    if (m <= 0 || n <= 0) return;
    cudaDataType_t t = ab == MG_BF16 ? CUDA_R_16BF : CUDA_R_32F;
    cublasCheck(cublasGemmEx(g.cublas, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, m, n,
                             k, &alpha, A, t, lda, B, t, ldb, &beta, C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F,
                             CUBLAS_GEMM_DEFAULT));
}

void mg_gemm_strided_batched(int trans_a, int trans_b, int m, int n, int k, float alpha, const void *A, int lda,
                             long long stride_a, const void *B, int ldb, long long stride_b, mg_dtype ab, float beta,
                             float *C, int ldc, long long stride_c, int batch) {
    if (m <= 0 || n <= 0 || batch <= 0) return;
    cudaDataType_t t = ab == MG_BF16 ? CUDA_R_16BF : CUDA_R_32F;
    cublasCheck(cublasGemmStridedBatchedEx(g.cublas, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                           trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha, A, t, lda, stride_a,
                                           B, t, ldb, stride_b, &beta, C, CUDA_R_32F, ldc, stride_c, batch,
                                           CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

// ---- bandwidth floor ----
// Milliseconds the stream takes for `repeats` calls of run(r), timed by events after one untimed warm-up call.
template <typename F> static float stream_ms(int repeats, F run) {
    run(-1);
    cudaEvent_t t0, t1;
    cudaCheck(cudaEventCreate(&t0));
    cudaCheck(cudaEventCreate(&t1));
    cudaCheck(cudaEventRecord(t0, g.stream));
    for (int r = 0; r < repeats; r++) run(r);
    cudaCheck(cudaEventRecord(t1, g.stream));
    cudaCheck(cudaEventSynchronize(t1));
    float ms = 0.0f;
    cudaCheck(cudaEventElapsedTime(&ms, t0, t1));
    cudaCheck(cudaEventDestroy(t0));
    cudaCheck(cudaEventDestroy(t1));
    return ms;
}

extern "C" double cuda_copy_bandwidth_gbs(size_t bytes, int repeats) {
    void *a = cuda_malloc(bytes), *b = cuda_malloc(bytes);
    cudaCheck(cudaMemsetAsync(a, 1, bytes, g.stream));
    float ms = stream_ms(repeats, [&](int r) {  // r = -1: the warm-up copy
        cudaCheck(cudaMemcpyAsync(r % 2 ? a : b, r % 2 ? b : a, bytes, cudaMemcpyDeviceToDevice, g.stream));
    });
    cuda_free(a);
    cuda_free(b);
    return 2.0 * (double)bytes * repeats / (ms * 1e-3) / 1e9;  // bytes read + bytes written
}

extern "C" double cuda_gemm_tflops(int n, int repeats) {
    size_t nn = (size_t)n * n;
    void *a = cuda_malloc(nn * 2), *b = cuda_malloc(nn * 2);
    float *c = (float *)cuda_malloc(nn * sizeof(float));
    cuda_fill(a, MG_BF16, nn, 0.02f, 0.0f, 1, 0);
    cuda_fill(b, MG_BF16, nn, 0.02f, 0.0f, 2, 0);
    // the warm-up call also settles cuBLAS's heuristics
    float ms = stream_ms(repeats, [&](int) { mg_gemm(1, 0, n, n, n, 1.0f, a, n, b, n, MG_BF16, 0.0f, c, n); });
    cuda_free(a), cuda_free(b), cuda_free(c);
    return 2.0 * (double)n * n * n * repeats / (ms * 1e-3) / 1e12;
}

extern "C" void cuda_mem_info(size_t *free_bytes, size_t *total_bytes) {
    *free_bytes = *total_bytes = 0;
    if (cudaMemGetInfo(free_bytes, total_bytes) != cudaSuccess) (void)cudaGetLastError();
}

// ---- profiler range: with `ncu --profile-from-start off`, only the work between on and off is profiled ----
extern "C" void cuda_profile_range(int on) { cudaCheck(on ? cudaProfilerStart() : cudaProfilerStop()); }

// ---- CUDA graphs ----
extern "C" int cuda_graph_begin(void) {
    if (cudaStreamBeginCapture(g.stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return 1;
}

extern "C" void *cuda_graph_end(void) {
    cudaGraph_t graph;
    if (cudaStreamEndCapture(g.stream, &graph) != cudaSuccess) {
        (void)cudaGetLastError();
        return NULL;
    }
    cudaGraphExec_t exec;
    cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
    cudaCheck(cudaGraphDestroy(graph));
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return NULL;
    }
    return (void *)exec;
}

extern "C" void cuda_graph_launch(void *graph) { cudaCheck(cudaGraphLaunch((cudaGraphExec_t)graph, g.stream)); }

extern "C" unsigned long cuda_scratch_epoch(void) { return g.epoch; }

extern "C" void cuda_graph_free(void *graph) {
    if (graph) cudaCheck(cudaGraphExecDestroy((cudaGraphExec_t)graph));
}
