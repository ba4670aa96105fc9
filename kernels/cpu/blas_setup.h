// Makes the OpenBLAS we link run its fast kernels on this CPU. Call first thing in main(), before any output.
#pragma once

// OpenBLAS picks its kernels once, when the library is loaded. Release 0.3.21 (Debian 12) does not know recent
// CPUs (Sapphire/Emerald Rapids, family 6 model 143/207) and falls back to generic SSE3 kernels ("Prescott"),
// 5x slower at sgemm. It reads OPENBLAS_CORETYPE only at load, so the fix from inside the program is to set it
// and exec the program again, once:
//  * if OpenBLAS reports a generic SSE-era core while the CPU has AVX-512 (F, BW, DQ, VL) or AVX2 + FMA, it sets
//    OPENBLAS_CORETYPE to SkylakeX or Haswell;
//  * if the library is the pthread build (a second thread pool beside the engine's OpenMP one), it also sets
//    OMP_WAIT_POLICY=passive so that idle OpenMP threads do not spin against BLAS's threads.
// Then it re-executes /proc/self/exe with the same argv. Values the user set are never overridden.
// MIGRATE_NO_REEXEC=1 turns this off; MIGRATE_BLAS_REEXEC marks the re-executed process, so it happens at most
// once. Results do not change beyond float rounding (bench/run.sh compares logits under both cores).
// Returns only when no re-exec happened (nothing to do, opted out, already done, or exec failed).
void blas_reexec_for_cpu(char **argv);

// The thread count of OpenMP and OpenBLAS together (n <= 0: leave the defaults).
void blas_set_threads(int n);
