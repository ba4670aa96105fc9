#!/usr/bin/env python3
"""Builds the sliding-window fixtures that tests/parity/test_window_parity.c checks the C engine against.

Two tiny random decoders made with transformers' own classes, each with a window of 6 tokens on every layer, so
that the fixture's sequences (up to 17 tokens) cross it:
  mistral-window-tiny  MistralForCausalLM, sliding_window 6, GQA 4/2, untied head
  qwen2-window-tiny    Qwen2ForCausalLM, use_sliding_window, sliding_window 6, max_window_layers 0 (every layer
                       slides, as transformers derives layer_types from it), GQA 4/1, q/k/v biases, tied head
For each, tests/parity/fixtures/<name>.ref.safetensors holds, per sequence, the logits at every position (one
forward over the whole sequence), the gradient of sum(log p(target)) with respect to a layer-0 and a layer-1
weight (the backward through the window), and a greedy decode with the KV cache (generate) past the window.

Deterministic (fixed seeds, one CPU thread, fp32, eager attention). Needs torch and transformers (a fixture
script only; nothing at build or test time). Run from anywhere:
    python3 tests/parity/make_window_fixtures.py
"""
import json
import os
import shutil

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
WINDOW = 6
SEQ_LENS = [17, 9, 12]
GREEDY_PROMPT, GREEDY_NEW = 4, 14
GRAD_TENSORS = ["model.layers.0.self_attn.k_proj.weight", "model.layers.1.self_attn.q_proj.weight",
                "model.layers.1.mlp.down_proj.weight"]


def make(name):
    from transformers import MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM
    common = dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  head_dim=16, max_position_embeddings=128, rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2,
                  attn_implementation="eager")
    if name == "mistral-window-tiny":
        cfg = MistralConfig(num_key_value_heads=2, rope_theta=10000.0, sliding_window=WINDOW,
                            tie_word_embeddings=False, **common)
        model = MistralForCausalLM(cfg)
    else:
        cfg = Qwen2Config(num_key_value_heads=1, rope_theta=1e6, use_sliding_window=True, sliding_window=WINDOW,
                          max_window_layers=0, tie_word_embeddings=True, **common)
        model = Qwen2ForCausalLM(cfg)
    model = model.float().eval()
    g = torch.Generator().manual_seed(11 if name.startswith("mistral") else 12)
    with torch.no_grad():
        for pname, p in sorted(model.named_parameters()):
            if pname.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif pname.endswith(("q_proj.weight", "k_proj.weight")):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))  # sharp attention: a wrong window shows
            elif pname.endswith(("embed_tokens.weight", "lm_head.weight")):
                # well-separated logits: a greedy decode in bf16 (tests/gpu) then picks the fp32 one's tokens
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
    return model


def save_folder(model, name):
    out = os.path.join(FIXTURES, name)
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out, safe_serialization=True)
    path = os.path.join(out, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    # The Hub's spelling (transformers 4.x): top-level rope_theta, no derived layer_types.
    rp = cfg.pop("rope_parameters", None) or {}
    if "rope_theta" in rp:
        cfg["rope_theta"] = rp["rope_theta"]
    cfg.pop("layer_types", None)
    cfg.pop("dtype", None)
    cfg["torch_dtype"] = "float32"
    with open(path, "w") as f:
        json.dump(dict(sorted(cfg.items())), f, indent=2)
        f.write("\n")


def references(model):
    ref = {}
    g = torch.Generator().manual_seed(5)
    V = model.config.vocab_size
    params = dict(model.named_parameters())
    for s, n in enumerate(SEQ_LENS):
        ids = torch.randint(3, V, (1, n), generator=g)
        ref[f"seq{s}.ids"] = ids[0].to(torch.int32)
        model.zero_grad()
        logits = model(ids).logits[0]  # (n, V)
        ref[f"seq{s}.logits"] = logits.detach().clone()
        logp = torch.log_softmax(logits[:-1], dim=-1).gather(1, ids[0, 1:, None]).sum()
        logp.backward()
        for t in GRAD_TENSORS:
            ref[f"seq{s}.grad.{t}"] = params[t].grad.detach().clone()
    prompt = ref["seq0.ids"][:GREEDY_PROMPT].long()[None]
    with torch.no_grad():
        out = model.generate(prompt, max_new_tokens=GREEDY_NEW, do_sample=False, min_new_tokens=GREEDY_NEW,
                             pad_token_id=0)
    ref["greedy.ids"] = out[0, GREEDY_PROMPT:].to(torch.int32)
    return ref


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    from safetensors.torch import save_file
    import transformers
    for name in ["mistral-window-tiny", "qwen2-window-tiny"]:
        model = make(name)
        save_folder(model, name)
        ref = references(model)
        save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(FIXTURES, f"{name}.ref.safetensors"),
                  metadata={"made_by": f"make_window_fixtures.py, torch {torch.__version__}, "
                                       f"transformers {transformers.__version__}"})
        print(f"{name}: {len(ref)} reference tensors")


if __name__ == "__main__":
    main()
