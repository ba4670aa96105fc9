#!/usr/bin/env python3
"""PyTorch side of the engine benchmark: the same workloads as bench/bench_engine.c on the same weights.

  python3 bench/bench_torch.py --model DIR [--threads N] [--json FILE] [--repeats R] [--quick]
                               [--only sample,lora,full,arc] [--batches 16,1,64] [--dump ENGINE_DUMP]

DIR is a folder bench_engine --save wrote (config.json + model.safetensors, fp32). Workloads, as in the engine:
  * sampling: B prompts of 32 random tokens, model.generate(do_sample, temperature 1, top_k 0, exactly 64 new);
  * LoRA step: PEFT r=64, alpha=16 on q/k/v/o; 16 sequences of 32 prompt + 64 completion tokens; forward with
    logits only where a completion token is scored (as TRL's GRPO does with logits_to_keep), log-softmax gather,
    loss = -mean(logp), backward, clip_grad_norm_(1.0), AdamW;
  * full step: the same with every weight trainable and no adapter;
  * ARC shape (--only arc, not in the default list): one prompt of 1024 random tokens for 16 samples of exactly
    256 new tokens, the way transformers and TRL run a GRPO group: sampling is model.generate on 16 copies of the
    prompt (no prefix sharing across the batch), the update is one PEFT LoRA step (r=64, alpha=16, q/k/v/o) on the
    (16, 1280) batch with logits only on the 256 completion positions (logits_to_keep), loss = -mean(advantage x
    logp) with advantages +1 and -1 in turn, backward, clip_grad_norm_(1.0), AdamW.
Times are medians of repeats after one warm-up run (the ARC shape's runs, many seconds each, have none). --dump reads the engine's dump (prompt + last-position
logits) and prints the largest logit difference, which shows that both sides run the same model.
"""
import argparse
import json
import statistics
import time

import torch

PROMPT_LEN, NEW_TOKENS, TRAIN_SEQS = 32, 64, 16
LORA_RANK, LORA_ALPHA = 64, 16
ARC_PROMPT, ARC_NEW, ARC_SAMPLES = 1024, 256, 16  # bench_engine.c's ARC shape


def load(model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.generation_config.pad_token_id = 0  # no EOS and no padding: silences generate's warning
    model.generation_config.eos_token_id = None
    return model


def timed(fn, repeats, warmup=True):
    if warmup:
        fn()  # warm-up (first-call allocations, oneDNN primitive creation)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def result(times, units, unit):
    med = statistics.median(times)
    return {"median_s": med, "min_s": min(times), "runs": len(times), "units": units, "unit": unit,
            "per_s": units / med}


def bench_sample(model, batch, repeats):
    V = model.config.vocab_size
    g = torch.Generator().manual_seed(batch)
    ids = torch.randint(V, (batch, PROMPT_LEN), generator=g)
    mask = torch.ones_like(ids)
    model.eval()

    def run():
        with torch.inference_mode():
            out = model.generate(ids, attention_mask=mask, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                                 max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS)
        assert out.shape == (batch, PROMPT_LEN + NEW_TOKENS), out.shape

    return result(timed(run, repeats), batch * NEW_TOKENS, "tok/s")


def train_batch(V):
    g = torch.Generator().manual_seed(11)
    return torch.randint(V, (TRAIN_SEQS, PROMPT_LEN + NEW_TOKENS), generator=g)


def bench_train(model, params, repeats):
    V = model.config.vocab_size
    ids = train_batch(V)
    targets = ids[:, PROMPT_LEN:]  # (S, 64) completion tokens
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        # Positions PROMPT_LEN-1 .. T-2 predict the completion: keep the last NEW_TOKENS+1 logits, drop the final.
        logits = model(input_ids=ids, logits_to_keep=NEW_TOKENS + 1).logits[:, :-1]
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        loss = -logp.mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    n = sum(p.numel() for p in params)
    r = result(timed(step, repeats), ids.numel(), "tok/s")
    r["trainable"] = n
    return r


def bench_lora(model_dir, repeats):
    from peft import LoraConfig, get_peft_model

    base = load(model_dir)
    cfg = LoraConfig(r=LORA_RANK, lora_alpha=LORA_ALPHA, lora_dropout=0.0, bias="none",
                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM")
    model = get_peft_model(base, cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    return bench_train(model, params, repeats)


def bench_full(model_dir, repeats):
    model = load(model_dir)
    params = list(model.parameters())
    for p in params:
        p.requires_grad_(True)
    return bench_train(model, params, repeats)


def arc_prompt(V):
    g = torch.Generator().manual_seed(13)
    return torch.randint(V, (1, ARC_PROMPT), generator=g)


def bench_arc_sample(model, repeats):
    """16 copies of one prompt through model.generate: the batch prefills the prompt once per row."""
    ids = arc_prompt(model.config.vocab_size).repeat(ARC_SAMPLES, 1)
    mask = torch.ones_like(ids)
    model.eval()

    def run():
        with torch.inference_mode():
            out = model.generate(ids, attention_mask=mask, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                                 max_new_tokens=ARC_NEW, min_new_tokens=ARC_NEW)
        assert out.shape == (ARC_SAMPLES, ARC_PROMPT + ARC_NEW), out.shape

    return result(timed(run, repeats, warmup=False), ARC_SAMPLES * ARC_NEW, "tok/s")  # runs of many seconds


def bench_arc_train(model_dir, repeats):
    """One GRPO update as TRL's GRPOTrainer computes it: prompt and completion ids in one (16, 1280) batch with its
    attention mask, logits kept for the completion positions only, per-token log-probs by log-softmax and gather,
    loss = -sum(advantage x logp x mask) / sum(mask), backward, grad-norm clip, AdamW."""
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(load(model_dir), LoraConfig(
        r=LORA_RANK, lora_alpha=LORA_ALPHA, lora_dropout=0.0, bias="none",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM"))
    params = [p for p in model.parameters() if p.requires_grad]
    V = model.config.vocab_size
    g = torch.Generator().manual_seed(17)
    completions = torch.randint(V, (ARC_SAMPLES, ARC_NEW), generator=g)
    ids = torch.cat([arc_prompt(V).repeat(ARC_SAMPLES, 1), completions], dim=1)  # (16, 1280)
    mask = torch.ones_like(ids)
    completion_mask = torch.ones_like(completions, dtype=torch.float32)
    adv = torch.tensor([1.0 if s % 2 == 0 else -1.0 for s in range(ARC_SAMPLES)])
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=ARC_NEW + 1).logits[:, :-1]
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, completions.unsqueeze(-1)).squeeze(-1)
        loss = -(adv[:, None] * logp * completion_mask).sum() / completion_mask.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    return result(timed(step, repeats, warmup=False), ids.numel(), "tok/s")


def bench_sgemm(M, N, K, repeats=5):
    """torch.mm in fp32 (MKL here): the floor PyTorch's own kernels stand on, for the docs' comparison."""
    a, b = torch.randn(M, K), torch.randn(N, K)
    a @ b.T
    t0 = time.perf_counter()
    a @ b.T
    iters = max(1, int(0.3 / max(time.perf_counter() - t0, 1e-6)))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            a @ b.T
        times.append((time.perf_counter() - t0) / iters)
    r = result(times, 1.0, "calls/s")
    r["gflops"] = 2.0 * M * N * K / r["median_s"] / 1e9
    return r


def compare_dump(model, path):
    d = json.load(open(path))
    ids = torch.tensor([d["prompt"]])
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0, -1]
    ref = torch.tensor(d["logits"])
    diff = (logits - ref).abs().max().item()
    print(f"logits vs engine: max |diff| {diff:.3g} (max |logit| {ref.abs().max().item():.3g}), "
          f"argmax {'agrees' if logits.argmax() == ref.argmax() else 'DIFFERS'}")
    return diff


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="sgemm,sample,lora,full")  # add arc for the ARC shape
    ap.add_argument("--batches", default="16,1,64")
    ap.add_argument("--dump")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    R = 2 if a.quick else a.repeats
    R_small = min(R, 3)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{torch.backends.cpu.get_cpu_capability()}, mkldnn {torch.backends.mkldnn.is_available()}")
    out = {"engine": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(), "results": {}}
    res = out["results"]

    def show(name, r):
        res[name] = r
        print(f"  {name:<28} {r['median_s'] * 1e3:9.2f} ms  {r['per_s']:10.1f} {r['unit']:<9}"
              f"(min {r['min_s'] * 1e3:.2f} ms, {r['runs']} runs)", flush=True)

    if "sgemm" in a.only:
        for name, shape in (("square 2048", (2048, 2048, 2048)), ("train gate/up", (1536, 1024, 384)),
                            ("decode 16 gate/up", (16, 1024, 384))):
            r = bench_sgemm(*shape)
            res["sgemm " + name] = r
            print(f"  sgemm {name:<22} {r['median_s'] * 1e3:9.3f} ms  {r['gflops']:8.1f} GFLOP/s (torch.mm)")
    model = None
    if a.dump or "sample" in a.only:
        model = load(a.model)
    if a.dump:
        out["logit_max_abs_diff"] = compare_dump(model, a.dump)
    if "sample" in a.only:
        for b in [int(x) for x in a.batches.split(",")]:
            show(f"sample batch {b}", bench_sample(model, b, R if b == 16 else R_small))
    del model
    if "lora" in a.only:
        show("train step lora", bench_lora(a.model, R))
    if "full" in a.only:
        show("train step full", bench_full(a.model, R_small))
    if "arc" in a.only:
        model = load(a.model)
        show("arc sample", bench_arc_sample(model, R_small))
        del model
        show("arc train lora", bench_arc_train(a.model, R_small))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
