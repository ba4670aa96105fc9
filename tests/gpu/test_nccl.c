// NCCL gradient all-reduce (kernels/cuda/comm_nccl.h) with the ranks this run has: one GPU, one rank, on a
// single-GPU machine; under mpirun with MIGRATE_NCCL_MPI (test_nccl_mpi), the communicator comes from MPI.
// Every rank contributes x_r[i] = (r + 1) * base[i]; after the sum each must hold base[i] * R (R + 1) / 2.
// Exits 77 with "no CUDA device" without a GPU.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cuda/comm_nccl.h"
#include "kernels/cuda/ops_cuda.h"
#include "testing.h"
#ifdef MIGRATE_NCCL_MPI
#include "kernels/cuda/comm_nccl_mpi.h"
#endif

int main(int argc, char **argv) {
#ifdef MIGRATE_NCCL_MPI
    MPI_Init(&argc, &argv);
#else
    (void)argc, (void)argv;
#endif
    if (cuda_device_count() == 0) {
        printf("no CUDA device\n");
#ifdef MIGRATE_NCCL_MPI
        MPI_Finalize();
#endif
        return 77;
    }
    mg_err e;
    comm_nccl *c = NULL;
    int local = comm_nccl_local_rank(), rc;
#ifdef MIGRATE_NCCL_MPI
    rc = comm_nccl_init(&c, MPI_COMM_WORLD, local, &e);
#else
    unsigned char id[COMM_NCCL_ID_BYTES];
    rc = comm_nccl_unique_id(id, &e);
    if (!rc) rc = comm_nccl_init_rank(&c, id, 1, 0, local, &e);
#endif
    CHECK(rc == 0, "communicator: %s", e.msg);
    if (rc) return test_summary("test_nccl");
    char err[256];
    int dev = local % cuda_device_count();
    CHECK(cuda_init(dev, err, sizeof err) == 0, "%s", err);
    int R = comm_nccl_nranks(c), r = comm_nccl_rank(c);
    size_t n = (1u << 20) + 3;  // past NCCL's small-message path
    float *h = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) h[i] = (float)(r + 1) * (float)((i % 1000) + 1) * 0.5f;
    float *d = cuda_malloc(n * sizeof(float));
    cuda_h2d(d, h, n * sizeof(float));
    rc = comm_nccl_allreduce_sum(c, d, n, cuda_stream_handle(), &e);
    CHECK(rc == 0, "all-reduce: %s", e.msg);
    cuda_d2h(h, d, n * sizeof(float));
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        float want = (float)((i % 1000) + 1) * 0.5f * (float)(R * (R + 1) / 2);
        if (fabsf(h[i] - want) > 1e-6f * want) bad++;
    }
    printf("rank %d of %d on device %d (%s): %zu of %zu fp32 sums wrong\n", r, R, dev, cuda_device_name(), bad, n);
    CHECK(bad == 0, "%zu all-reduced values differ", bad);
    // the exact pieces: int64 sums (past 2^53, where doubles would round) and a max
    size_t m = 4099;
    int64_t *hi = malloc(m * sizeof(int64_t));
    for (size_t i = 0; i < m; i++) hi[i] = ((int64_t)1 << 60) / 7 * (r + 1) - (int64_t)i * 1000003;
    int64_t *di = cuda_malloc(m * sizeof(int64_t));
    cuda_h2d(di, hi, m * sizeof(int64_t));
    double hm[3] = {-1.0 - r, 0.25 * (r + 1), 1e300 / (r + 1)}, *dm = cuda_malloc(sizeof hm);
    cuda_h2d(dm, hm, sizeof hm);
    CHECK(comm_nccl_allreduce_i64(c, di, m, cuda_stream_handle(), &e) == 0, "int64 all-reduce: %s", e.msg);
    CHECK(comm_nccl_allreduce_max(c, dm, 3, cuda_stream_handle(), &e) == 0, "max all-reduce: %s", e.msg);
    cuda_d2h(hi, di, m * sizeof(int64_t));
    cuda_d2h(hm, dm, sizeof hm);
    size_t bad_i = 0;
    for (size_t i = 0; i < m; i++) {
        int64_t want = 0;
        for (int k = 0; k < R; k++) want += ((int64_t)1 << 60) / 7 * (k + 1) - (int64_t)i * 1000003;
        bad_i += hi[i] != want;
    }
    printf("int64 sums: %zu of %zu wrong; max: %g %g %g\n", bad_i, m, hm[0], hm[1], hm[2]);
    CHECK(bad_i == 0, "%zu int64 sums differ", bad_i);
    CHECK(hm[0] == -1.0 && hm[1] == 0.25 * R && hm[2] == 1e300, "max all-reduce: %g %g %g", hm[0], hm[1], hm[2]);
    cuda_free(di), cuda_free(dm), free(hi);
    cuda_free(d);
    free(h);
    comm_nccl_free(c);
    cuda_shutdown();
#ifdef MIGRATE_NCCL_MPI
    MPI_Finalize();
#endif
    return test_summary("test_nccl");
}
