#!/usr/bin/env python3
"""Builds the PyTorch reference fixtures that tests/parity/test_model_parity.c checks the C engine against.

Two tiny random decoders, made with transformers' own classes so the reference is HF's code and not ours:
  llama3-tiny  LlamaForCausalLM, GQA 4/2, llama3 rope scaling, untied head, saved F32
  qwen2-tiny   Qwen2ForCausalLM, GQA 4/1, q/k/v biases, tied head, saved BF16 (the reference runs on the
               bf16 weights upcast to fp32, which is what the C loader does)
For each, tests/parity/fixtures/<name>.ref.safetensors holds logits, temperature log-probs and entropies,
LoRA and full-parameter gradients, 5-step AdamW trajectories and a greedy decode. See tests/parity/README.md.

Deterministic (fixed seeds, one CPU thread, fp32, eager attention). Run from anywhere:
    python3 tests/parity/make_model_fixtures.py
"""
import argparse
import copy
import json
import os
import shutil
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SEQ_LENS = [9, 17, 12]
PROMPT_LENS = [4, 6, 5]
TEMPERATURE = 0.7
LORA_R, LORA_ALPHA = 8, 16
ADAMW = dict(lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
LORA_LR = 1e-2
MAX_NORM = 1.0
ADAMW_STEPS = 5
GREEDY_PROMPT, GREEDY_NEW = 4, 12
MAX_FOLDER_BYTES = 1.5e6
# q/k projections get std 0.1, not 0.02: at 0.02 the attention scores are ~0.01, attention is nearly uniform
# and a wrong rope (e.g. llama3 scaling ignored) moves the logits by only ~1e-3; at 0.1 that mistake moves them
# by ~5e-2, 500x the test's tolerance.
QK_STD = 0.1


# ---------------------------------------------------------------- models

def tokenizer_dir(family):
    return os.path.join(FIXTURES, "tokenizers", family)


def token_id(family, content):
    """Id of an added token in the fixture tokenizer, or None."""
    path = os.path.join(tokenizer_dir(family), "tokenizer.json")
    with open(path) as f:
        tok = json.load(f)
    for t in tok.get("added_tokens", []):
        if t["content"] == content:
            return t["id"]
    vocab = tok.get("model", {}).get("vocab", {})
    return vocab.get(content)


def special_ids(family, placeholder):
    """(bos, [eos...]) from the fixture tokenizer; placeholders when it is missing and that was allowed."""
    if family == "llama3":
        names = ("<|begin_of_text|>", ["<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"])
    else:
        names = ("<|endoftext|>", ["<|im_end|>", "<|endoftext|>"])
    if not os.path.exists(os.path.join(tokenizer_dir(family), "tokenizer.json")):
        if not placeholder:
            sys.exit(f"missing {tokenizer_dir(family)}/tokenizer.json (use --placeholder-tokens for a dry run)")
        print(f"  WARNING: no tokenizer for {family}; placeholder special ids (not for committing)")
        return 2000, [2001, 2002]
    bos = token_id(family, names[0])
    eos = [i for i in (token_id(family, n) for n in names[1]) if i is not None]
    if bos is None or not eos:
        sys.exit(f"{family} tokenizer lacks {names}")
    if max([bos] + eos) >= 2048:
        sys.exit(f"{family} tokenizer's special ids {bos} {eos} do not fit the fixture vocabulary of 2048")
    return bos, list(dict.fromkeys(eos))


def make_config(name, bos, eos):
    from transformers import LlamaConfig, Qwen2Config
    if name == "llama3-tiny":
        # original_max_position_embeddings = 64 puts the three llama3 rope regimes into a 16-dim head with
        # theta 5e5: pair 0 (wavelength 6.3 < 64/4) is kept, pair 1 (wavelength 32.5) falls in the smoothed
        # band [16, 64], pairs 2..7 are divided by the factor.
        return LlamaConfig(vocab_size=2048, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=256,
                           rope_theta=500000.0,
                           rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                         "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
                           rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=bos, eos_token_id=eos,
                           attn_implementation="eager")
    return Qwen2Config(vocab_size=2048, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=256, rope_theta=1e6,
                       rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False, sliding_window=256,
                       bos_token_id=bos, eos_token_id=eos[0], attn_implementation="eager")


def build_model(name, bos, eos, seed):
    from transformers import LlamaForCausalLM, Qwen2ForCausalLM
    cfg = make_config(name, bos, eos)
    cls = LlamaForCausalLM if name == "llama3-tiny" else Qwen2ForCausalLM
    model = cls(cfg).float().eval()
    # Everything std 0.02 (q/k: QK_STD), norm weights 1 + 0.1 randn so a missing or misapplied norm weight
    # shows.
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname, p in sorted(model.named_parameters()):
            if pname.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif pname.endswith(("q_proj.weight", "k_proj.weight")):
                p.copy_(QK_STD * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
    return model


def legacy_config(path, torch_dtype):
    """Rewrites config.json the way the Hub's Llama-3.x / Qwen2.5 checkpoints spell it.

    transformers 5 writes rope settings as "rope_parameters"; every released checkpoint (and what the C parser
    must read) uses top-level "rope_theta" plus "rope_scaling". transformers 5 reads both.
    """
    with open(path) as f:
        cfg = json.load(f)
    rp = cfg.pop("rope_parameters", None) or {}
    cfg["rope_theta"] = rp.get("rope_theta", cfg.get("rope_theta"))
    scaling = {k: v for k, v in rp.items() if k != "rope_theta"}
    cfg["rope_scaling"] = scaling if scaling.get("rope_type", "default") != "default" else None
    cfg.pop("dtype", None)
    cfg["torch_dtype"] = torch_dtype
    cfg.pop("layer_types", None)  # transformers 5 only; derived from the sliding-window keys
    if cfg.get("use_sliding_window") is False and cfg.get("sliding_window") is None:
        # Qwen2.5 ships a window size with use_sliding_window = false; the reader must ignore it.
        cfg["sliding_window"] = cfg["max_position_embeddings"]
    with open(path, "w") as f:
        json.dump(dict(sorted(cfg.items())), f, indent=2)
        f.write("\n")


# ---------------------------------------------------------------- reference quantities

def seq_logits(model, ids):
    return model(input_ids=ids[None]).logits[0].float()  # (len, V)


def completion_logp(logits, ids, prompt_len, temperature):
    """log-probs (and entropies) of ids[prompt_len:] under softmax(logits / T), one per completion token."""
    lp = F.log_softmax(logits[:-1] / temperature, dim=-1)[prompt_len - 1:]  # (len - prompt_len, V)
    logp = lp.gather(1, ids[prompt_len:, None])[:, 0]
    entropy = -(lp.exp() * lp).sum(-1)
    return logp, entropy


def lora_loss(model, seqs, weights):
    """L = sum_s sum_t w_t * logp_t over the completion tokens at temperature T."""
    total = 0.0
    for (ids, p), w in zip(seqs, weights):
        logp, _ = completion_logp(seq_logits(model, ids), ids, p, TEMPERATURE)
        total = total + (w * logp).sum()
    return total


def full_loss(model, seqs):
    """Mean cross-entropy at T = 1 over every next-token position of every sequence."""
    total, count = 0.0, 0
    for ids, _ in seqs:
        logits = seq_logits(model, ids)
        total = total + F.cross_entropy(logits[:-1], ids[1:], reduction="sum")
        count += len(ids) - 1
    return total / count


def adamw_trajectory(model, params, loss_fn, lr):
    """ADAMW_STEPS steps of torch AdamW with grad clipping; returns (losses before each step, pre-clip norms,
    loss after the last step)."""
    opt = torch.optim.AdamW(params, **{**ADAMW, "lr": lr})
    losses, norms = [], []
    for _ in range(ADAMW_STEPS):
        opt.zero_grad()
        loss = loss_fn(model)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, MAX_NORM)))
        losses.append(loss.item())
        opt.step()
    with torch.no_grad():
        final = float(loss_fn(model))
    return losses, norms, final


def lora_model(base, A, B):
    from peft import LoraConfig, get_peft_model
    lc = LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, target_modules=MODULES, lora_dropout=0.0, bias="none")
    pm = get_peft_model(copy.deepcopy(base), lc)
    with torch.no_grad():
        for l, layer in enumerate(pm.base_model.model.model.layers):
            for mod in MODULES:
                lin = getattr(layer.self_attn if mod in MODULES[:4] else layer.mlp, mod)
                if A is not None:
                    lin.lora_A["default"].weight.copy_(A[(l, mod)])
                    lin.lora_B["default"].weight.copy_(B[(l, mod)])
    return pm


def lora_tensors(pm, attr):
    out = {}
    for l, layer in enumerate(pm.base_model.model.model.layers):
        for mod in MODULES:
            lin = getattr(layer.self_attn if mod in MODULES[:4] else layer.mlp, mod)
            out[(l, mod)] = getattr(lin, attr)["default"].weight
    return out


def greedy(model, prompt, n_new):
    """Plain argmax loop with full recomputation; also returns the smallest top-1/top-2 logit gap seen."""
    ids = prompt.clone()
    gap = float("inf")
    with torch.no_grad():
        for _ in range(n_new):
            last = seq_logits(model, ids)[-1]
            top = torch.topk(last, 2).values
            gap = min(gap, float(top[0] - top[1]))
            ids = torch.cat([ids, last.argmax()[None]])
    return ids[len(prompt):], gap


# ---------------------------------------------------------------- one fixture

def make_fixture(name, family, save_dtype, seed, placeholder):
    from safetensors.torch import save_file
    print(f"== {name}")
    torch.manual_seed(seed)
    bos, eos = special_ids(family, placeholder)
    model = build_model(name, bos, eos, seed)
    V = model.config.vocab_size

    out_dir = os.path.join(FIXTURES, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    # Saved as bf16 through a copy: casting the model itself would also round its rope inv_freq buffer.
    saved = copy.deepcopy(model).to(torch.bfloat16) if save_dtype == "bfloat16" else model
    saved.generation_config.eos_token_id = eos  # as Qwen2.5-Instruct: config has one EOS, generation_config all
    saved.save_pretrained(out_dir, safe_serialization=True)
    legacy_config(os.path.join(out_dir, "config.json"), save_dtype)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        src = os.path.join(tokenizer_dir(family), f)
        if os.path.exists(src):
            shutil.copy(src, out_dir)
    # The reference is the checkpoint as transformers loads it (bf16 values upcast to fp32, as the C loader
    # does), which also proves the rewritten config.json means what the in-memory config meant.
    from transformers import AutoModelForCausalLM
    reloaded = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32,
                                                    attn_implementation="eager").eval()
    assert torch.equal(reloaded.model.rotary_emb.inv_freq, model.model.rotary_emb.inv_freq), "rope differs"
    for (n1, p1), (n2, p2) in zip(saved.named_parameters(), reloaded.named_parameters()):
        assert n1 == n2 and torch.equal(p1.float(), p2), f"{name}: {n1} changed on reload"
    upcast = copy.deepcopy(saved).float()
    upcast.model.rotary_emb.inv_freq.copy_(model.model.rotary_emb.inv_freq)
    probe = torch.arange(17) * 97 % model.config.vocab_size
    with torch.no_grad():
        assert torch.equal(seq_logits(upcast, probe), seq_logits(reloaded, probe)), f"{name}: config.json rewrite"
    model = reloaded

    g = torch.Generator().manual_seed(seed + 1)
    seqs = []
    for n, p in zip(SEQ_LENS, PROMPT_LENS):
        seqs.append((torch.randint(0, V, (n,), generator=g), p))
    ref = {
        "seq.ids": torch.cat([ids for ids, _ in seqs]).int(),
        "seq.lens": torch.tensor(SEQ_LENS, dtype=torch.int32),
        "seq.prompt_lens": torch.tensor(PROMPT_LENS, dtype=torch.int32),
        "temperature": torch.tensor([TEMPERATURE]),
    }

    # ---- logits, log-probs, entropies
    with torch.no_grad():
        for s, (ids, p) in enumerate(seqs):
            logits = seq_logits(model, ids)
            logp, ent = completion_logp(logits, ids, p, TEMPERATURE)
            ref[f"logits.{s}"], ref[f"logp.{s}"], ref[f"entropy.{s}"] = logits, logp, ent
    max_logit = max(float(ref[f"logits.{s}"].abs().max()) for s in range(3))

    # ---- LoRA gradients of L = sum w * logp (T = 0.7)
    weights = [torch.randn(n - p, generator=g) for n, p in zip(SEQ_LENS, PROMPT_LENS)]
    for s, w in enumerate(weights):
        ref[f"lora.w.{s}"] = w
    torch.manual_seed(seed + 2)  # PEFT draws lora_A from the global generator
    pm = lora_model(model, None, None)
    with torch.no_grad():
        for l_mod, Bw in lora_tensors(pm, "lora_B").items():
            Bw.copy_(0.02 * torch.randn(Bw.shape, generator=g))
    A = {k: t.detach().clone() for k, t in lora_tensors(pm, "lora_A").items()}
    B = {k: t.detach().clone() for k, t in lora_tensors(pm, "lora_B").items()}
    loss = lora_loss(pm, seqs, weights)
    loss.backward()
    ref["lora.loss"] = torch.tensor([loss.item()])
    for (l, mod), t in lora_tensors(pm, "lora_A").items():
        ref[f"lora.{l}.{mod}.A"], ref[f"lora_grad.{l}.{mod}.A"] = A[(l, mod)], t.grad.clone()
    for (l, mod), t in lora_tensors(pm, "lora_B").items():
        ref[f"lora.{l}.{mod}.B"], ref[f"lora_grad.{l}.{mod}.B"] = B[(l, mod)], t.grad.clone()
    lora_gnorm = float(torch.sqrt(sum((t.grad ** 2).sum() for t in pm.parameters() if t.requires_grad)))
    del pm

    # ---- full-parameter gradients of the mean cross-entropy (T = 1)
    fm = copy.deepcopy(model)
    loss = full_loss(fm, seqs)
    loss.backward()
    ref["full.loss"] = torch.tensor([loss.item()])
    for pname, p in fm.named_parameters():  # the tied model lists embed_tokens only
        ref[f"full_grad.{pname}"] = p.grad.clone()
    del fm

    # ---- AdamW trajectories
    fm = copy.deepcopy(model)
    losses, norms, final = adamw_trajectory(fm, list(fm.parameters()), lambda m: full_loss(m, seqs), ADAMW["lr"])
    ref["adamw.losses"], ref["adamw.grad_norms"] = torch.tensor(losses), torch.tensor(norms)
    ref["adamw.final_loss"] = torch.tensor([final])
    del fm
    pm = lora_model(model, A, B)
    trainable = [t for t in pm.parameters() if t.requires_grad]
    llosses, lnorms, lfinal = adamw_trajectory(pm, trainable, lambda m: lora_loss(m, seqs, weights), LORA_LR)
    ref["lora_adamw.losses"], ref["lora_adamw.grad_norms"] = torch.tensor(llosses), torch.tensor(lnorms)
    ref["lora_adamw.final_loss"] = torch.tensor([lfinal])
    del pm
    ref["adamw.hparams"] = torch.tensor([ADAMW["lr"], ADAMW["betas"][0], ADAMW["betas"][1], ADAMW["eps"],
                                         ADAMW["weight_decay"], MAX_NORM, LORA_LR])

    # ---- greedy decode, checked against transformers' generate() (which may stop at EOS earlier)
    prompt = seqs[0][0][:GREEDY_PROMPT]
    gids, gap = greedy(model, prompt, GREEDY_NEW)
    with torch.no_grad():
        gen = model.generate(prompt[None], attention_mask=torch.ones(1, GREEDY_PROMPT, dtype=torch.long),
                             do_sample=False, max_new_tokens=GREEDY_NEW, pad_token_id=eos[0])[0, GREEDY_PROMPT:]
    assert torch.equal(gen, gids[:len(gen)]), f"{name}: generate() {gen.tolist()} != argmax loop {gids.tolist()}"
    ref["greedy.prompt"] = prompt.int()
    ref["greedy.ids"] = gids.int()
    ref["greedy.min_gap"] = torch.tensor([gap])

    ref = {k: v.detach().contiguous() for k, v in ref.items()}
    # One metadata key: safetensors writes a multi-key metadata map in hash order, which would make the file's
    # bytes differ from run to run.
    meta = {"generator": f"tests/parity/make_model_fixtures.py seed={seed} torch={torch.__version__} "
                         f"transformers={__import__('transformers').__version__} peft={__import__('peft').__version__}"}
    save_file(ref, os.path.join(FIXTURES, f"{name}.ref.safetensors"), metadata=meta)

    size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
    print(f"  folder {size / 1e6:.2f} MB  ({', '.join(sorted(os.listdir(out_dir)))})")
    assert size < MAX_FOLDER_BYTES, f"{out_dir} is {size} bytes"
    print(f"  bos {bos} eos {eos}  max|logit| {max_logit:.4f}")
    print(f"  logp range [{min(float(ref[f'logp.{s}'].min()) for s in range(3)):.4f}, "
          f"{max(float(ref[f'logp.{s}'].max()) for s in range(3)):.4f}]")
    print(f"  lora.loss {float(ref['lora.loss']):.6f}  |grad| {lora_gnorm:.4e}   full.loss {float(ref['full.loss']):.6f}")
    print(f"  adamw losses {['%.6f' % x for x in losses]} -> {final:.6f}, norms {['%.4f' % x for x in norms]}")
    print(f"  lora adamw losses {['%.5f' % x for x in llosses]} -> {lfinal:.5f}, norms {['%.4f' % x for x in lnorms]}")
    print(f"  greedy {gids.tolist()} (generate gave {len(gen)}), smallest top-2 gap {gap:.2e}")
    sensitivity(name, model, seqs, ref)


def sensitivity(name, model, seqs, ref):
    """How far the logits move under typical engine mistakes: each must dwarf the 1e-4 tolerance, or the
    parity test could not see it. Also the fp32 reference's own error against fp64."""
    def worst(m):
        with torch.no_grad():
            return max(float((seq_logits(m, ids).float() - ref[f"logits.{s}"]).abs().max())
                       for s, (ids, _) in enumerate(seqs))
    report = {"fp64 reference": worst(copy.deepcopy(model).double())}
    m = copy.deepcopy(model)
    with torch.no_grad():
        for p in m.model.norm.parameters():
            p.fill_(1.0)
    report["final norm weight = 1"] = worst(m)
    m = copy.deepcopy(model)
    m.model.rotary_emb.inv_freq.mul_(0.5)
    report["rope frequencies halved"] = worst(m)
    if name == "llama3-tiny":
        m = copy.deepcopy(model)
        d = m.config.head_dim
        base = 1.0 / (m.config.rope_parameters["rope_theta"] ** (torch.arange(0, d, 2).float() / d))
        m.model.rotary_emb.inv_freq.copy_(base)
        report["llama3 rope scaling ignored"] = worst(m)
    else:
        m = copy.deepcopy(model)
        with torch.no_grad():
            for layer in m.model.layers:
                layer.self_attn.q_proj.bias.zero_()
                layer.self_attn.k_proj.bias.zero_()
        report["q/k biases dropped"] = worst(m)
    m = copy.deepcopy(model)
    m.config.rms_norm_eps = 1e-2
    for mod in m.modules():
        if hasattr(mod, "variance_epsilon"):
            mod.variance_epsilon = 1e-2
    report["rms eps 1e-2"] = worst(m)
    for k, v in report.items():
        print(f"  max|dlogit| {k:30s} {v:.3e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--placeholder-tokens", action="store_true",
                    help="dry run without the fixture tokenizers (placeholder special ids; do not commit)")
    args = ap.parse_args()
    torch.set_num_threads(1)  # bit-reproducible reductions
    torch.use_deterministic_algorithms(True)
    make_fixture("llama3-tiny", "llama3", "float32", 1234, args.placeholder_tokens)
    make_fixture("qwen2-tiny", "qwen2", "bfloat16", 5678, args.placeholder_tokens)


if __name__ == "__main__":
    main()
