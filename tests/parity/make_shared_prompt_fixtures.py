#!/usr/bin/env python3
"""Reference LoRA gradients of a GRPO shard whose members share prompts, computed the usual way: PEFT runs every
sequence, prompt included, through the model on its own. The C test (tests/parity/test_model_parity.c,
test_shared_prompt_lora) packs the same members as the learner packs a shard with `training.share_prefix`
(packed_batch_share_prompts: each shared prompt once, its completions attending to its keys and values) and must
find the same log-probs and gradients.

Uses the committed fixture checkpoints and the adapter (A, B) of tests/parity/fixtures/<name>.ref.safetensors, so
run make_model_fixtures.py first if those change:
    python3 tests/parity/make_shared_prompt_fixtures.py   # writes tests/parity/fixtures/<name>.shared.ref.safetensors
"""
import os

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from make_model_fixtures import (FIXTURES, MODULES, TEMPERATURE, completion_logp, lora_model, lora_tensors,
                                 seq_logits)

# Members in shard order: (prompt, completion length). Prompts 0 and 1 are shared (by three and two members,
# interleaved), prompt 2 belongs to one member, so the shard holds two prefixes and one sequence packed whole.
PROMPT_LENS = [20, 24, 18]
MEMBERS = [(0, 5), (1, 4), (0, 7), (2, 6), (0, 3), (1, 6)]


def make(name, seed):
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(os.path.join(FIXTURES, name), dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    V, L = model.config.vocab_size, model.config.num_hidden_layers
    A, B = {}, {}
    with safe_open(os.path.join(FIXTURES, f"{name}.ref.safetensors"), "pt") as ref:
        for l in range(L):
            for mod in MODULES:
                A[(l, mod)] = ref.get_tensor(f"lora.{l}.{mod}.A")
                B[(l, mod)] = ref.get_tensor(f"lora.{l}.{mod}.B")
    g = torch.Generator().manual_seed(seed)
    prompts = [torch.randint(0, V, (n,), generator=g) for n in PROMPT_LENS]
    seqs = [(torch.cat([prompts[p], torch.randint(0, V, (c,), generator=g)]), PROMPT_LENS[p]) for p, c in MEMBERS]
    weights = [torch.randn(c, generator=g) for _, c in MEMBERS]

    pm = lora_model(model, A, B)
    out = {"shared.ids": torch.cat([ids for ids, _ in seqs]).int(),
           "shared.lens": torch.tensor([len(ids) for ids, _ in seqs], dtype=torch.int32),
           "shared.prompt_lens": torch.tensor([p for _, p in seqs], dtype=torch.int32)}
    total = 0.0
    for s, ((ids, p), w) in enumerate(zip(seqs, weights)):
        logp, _ = completion_logp(seq_logits(pm, ids), ids, p, TEMPERATURE)
        total = total + (w * logp).sum()
        out[f"shared.w.{s}"], out[f"shared.logp.{s}"] = w, logp.detach().clone()
    total.backward()
    out["shared.loss"] = torch.tensor([total.item()])
    for attr, ab in (("lora_A", "A"), ("lora_B", "B")):
        for (l, mod), t in lora_tensors(pm, attr).items():
            out[f"shared_grad.{l}.{mod}.{ab}"] = t.grad.clone()
    meta = {"made_by": "tests/parity/make_shared_prompt_fixtures.py",
            "versions": f"torch={torch.__version__} transformers={__import__('transformers').__version__} "
                        f"peft={__import__('peft').__version__}"}
    path = os.path.join(FIXTURES, f"{name}.shared.ref.safetensors")
    save_file(out, path, metadata=meta)
    gmax = max(float(t.abs().max()) for k, t in out.items() if k.startswith("shared_grad."))
    print(f"{name}: {len(MEMBERS)} members, loss {total.item():.6f}, max |grad| {gmax:.3e} -> {path}")


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    make("llama3-tiny", 4321)
    make("qwen2-tiny", 8765)


if __name__ == "__main__":
    main()
