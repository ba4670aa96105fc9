// Shared between the model's .c files; not part of the public API.
#pragma once
#include "model/model.h"

void model_acts_free(model_acts *a);
void lora_free(lora_adapter *l);

// Per-module shapes (in, out) of the seven linear layers, indexed like lora_module_names.
void linear_shape(const hf_config *c, int module, int *in, int *out);
// The LoRA pieces of one module of one layer, or NULL A when the module is not adapted (or adapters are off).
int lora_active(const model *m, int module);
