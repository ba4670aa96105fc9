// LoRA adapters in PEFT's folder format: adapter_config.json + adapter_model.safetensors, with tensors named
// "base_model.model.<module path>.lora_A.weight" (R, IC) and "...lora_B.weight" (OC, R). What `peft` loads with
// PeftModel.from_pretrained(base, dir), and what TRL users hand around.
#pragma once
#include "model/model.h"

// Writes dir/adapter_config.json and dir/adapter_model.safetensors (F32). tensors/buf: as lora_tensors() lists
// them and the flat adapter buffer they index. targets: LORA_* flags (written as the explicit module list).
int peft_save(const char *dir, const char *base_model, int rank, double alpha, unsigned targets,
              const param_tensor *tensors, int n_tensors, const float *buf, mg_err *e);
// Gives m the adapter saved in dir (rank, alpha and targets from adapter_config.json; every tensor must be there
// with its shape). Refuses what the engine does not do (dropout at inference is fine; rslora, DoRA, biases, other
// modules are not). On any failure m keeps the adapter it had.
int peft_load(model *m, const char *dir, mg_err *e);
