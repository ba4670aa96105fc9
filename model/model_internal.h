// Shared between the model's .c files; not part of the public API.
#pragma once
#include "model/model.h"

// Per-module shapes (in, out) of the seven linear layers, indexed like lora_module_names.
void linear_shape(const hf_config *c, int module, int *in, int *out);
