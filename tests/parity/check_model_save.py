"""Checks that transformers loads a model folder written by `migrate convert` and that it equals the source.

    migrate convert --model tests/parity/fixtures/llama3-tiny --out /tmp/resaved
    python3 tests/parity/check_model_save.py tests/parity/fixtures/llama3-tiny /tmp/resaved [bf16]

Not a ctest (it needs PyTorch); the C round trip is tested by tests/unit/test_model_io.c.
"""
import sys

import torch
from transformers import AutoModelForCausalLM

src, out = sys.argv[1], sys.argv[2]
bf16 = len(sys.argv) > 3 and sys.argv[3] == "bf16"
a = AutoModelForCausalLM.from_pretrained(src, torch_dtype=torch.float32)
b = AutoModelForCausalLM.from_pretrained(out, torch_dtype=torch.float32)
assert type(a) is type(b), (type(a), type(b))
# transformers 5 keeps rope_theta/rope_scaling under rope_parameters; older versions at the top level
for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "rope_theta",
            "rope_scaling", "rope_parameters", "tie_word_embeddings", "vocab_size", "intermediate_size",
            "rms_norm_eps"):
    assert getattr(a.config, key, None) == getattr(b.config, key, None), key
sa, sb = a.state_dict(), b.state_dict()
assert sa.keys() == sb.keys()
worst = 0.0
for k in sa:
    want = sa[k].to(torch.bfloat16).float() if bf16 else sa[k]
    worst = max(worst, (want - sb[k]).abs().max().item())
ids = torch.arange(1, 20).unsqueeze(0)
with torch.no_grad():
    la, lb = a(ids).logits, b(ids).logits
print(f"{len(sa)} tensors, worst weight difference {worst:.3g}, logits difference {(la - lb).abs().max().item():.3g}")
assert worst == 0.0
assert bf16 or (la - lb).abs().max().item() == 0.0
