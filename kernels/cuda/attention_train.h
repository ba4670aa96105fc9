// The tiled attention of training (attention_train.cu): the forward the engine's training pass calls
// (attention_forward_tiled_cuda in ops_cuda.h), and the backward attention_backward_cuda tries first.
#pragma once

// Adds the gradients of attention_backward_cuda (same arguments) and returns 1; returns 0, having changed nothing,
// when the layout or shape is not one it takes (query ranges with decreasing starts or ends, head_dim > 256).
// kv_start_host, kv_len_host: the layout's host copy, which decides that and sizes the launches: queues work only
// (capturable in a CUDA graph).
#ifdef __cplusplus
extern "C"
#endif
    int
    attention_backward_tiled_cuda(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                                  const float *v, const int *kv_start, const int *kv_len, const int *kv_start_host,
                                  const int *kv_len_host, int N, int Hq, int Hkv, int D);
