// The two halves of test_cuda_parity: ops (test_cuda_parity.c, main) and whole models (cuda_parity_model.c).
#pragma once

// Every check of the model in `dir` (a tiny fixture); quick = smaller shapes (the compute-sanitizer pass).
void cuda_parity_model(const char *dir, int quick);
