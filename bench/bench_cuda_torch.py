#!/usr/bin/env python3
"""PyTorch side of the GPU benchmark: bench/bench_cuda.cu's workloads with transformers + peft, same shapes.

  python3 bench/bench_cuda_torch.py [--tsv FILE] [--models llama,qwen] [--batches 1,16,64,256] [--prompt 32]
                                    [--new 64] [--train-seqs 16] [--train-len 512]
  python3 bench/bench_cuda_torch.py --arc [--tsv FILE] [--arc-shape 8b|mini] [--arc-prompt 4096] [--arc-samples 16]
                                    [--arc-new 1024] [--arc-gen N] [--micro-batch N] [--device cuda|cpu]

Models are built from their configs with random weights on the GPU in bf16 (no download): Llama-3.2-1B and
Qwen2.5-0.5B shapes. Workloads, as in the engine:
  * decode: B prompts of --prompt random tokens, model.generate(do_sample, temperature 1, top_k 0, top_p 1, exactly
    --new new tokens, no EOS); tokens/s = B * new / wall time, prefill included;
  * decode_loop: the same tokens from a plain loop of forward calls on the KV cache and torch.multinomial,
    without generate()'s per-step Python machinery (logits processors, stopping criteria): PyTorch's eager floor;
  * grpo_step: PEFT LoRA r=64, alpha=16 on q/k/v/o over --train-seqs x --train-len tokens (64 of each a prompt);
    forward with logits only where a completion token is scored (TRL's logits_to_keep), log-softmax gather, a
    policy-gradient loss with advantages +-1, backward, clip_grad_norm_(1.0), AdamW; median of 3 after a warm-up.
  * --arc: bench_cuda --arc's workload (a Llama-3.1-8B shape, or --arc-shape mini; --device cpu checks the script
    without a GPU): a peft LoRA (r 64, alpha 16, q/k/v/o) model; model.generate on --arc-samples copies of one
    --arc-prompt-token prompt (do_sample, temperature 1, top_k 0, exactly --arc-gen new tokens, bf16, sdpa):
    prefill = a generate of 1 token, decode = one of --arc-gen tokens minus that; then one GRPO update over the
    padded (S, prompt + --arc-new) batch in micro-batches (gradient accumulation) of as many sequences as fit (or
    --micro-batch), logits at completion positions only, log-softmax gather, -mean(adv * logp), backward, clip 1.0,
    AdamW, after a warm-up micro-batch. Rows: prefill_pytorch, decode_pytorch, update_pytorch with bench_cuda --arc's
    ten columns (its FLOP count for the update, the floor of a decode step with the bf16 KV cache).
Rows are written as they finish (a stage timeout keeps what was measured): model, workload, batch, tokens, seconds,
tokens_per_s, step_ms (0), floor_ms (0), tab-separated, after "# device: ..." (tests/gpu/run.sh reads them).
"""
import argparse
import statistics
import sys
import time

import torch


def configs():
    from transformers import LlamaConfig, Qwen2Config

    llama = LlamaConfig(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                        num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
                        rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True,
                        rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})
    qwen = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                       num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                       rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True)
    return {"llama": llama, "qwen": qwen}


def build(cfg):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    model.generation_config.pad_token_id = 0  # no EOS, no padding: every sequence gets exactly --new tokens
    model.generation_config.eos_token_id = None
    return model.eval()


def sync_time(fn, dev="cuda"):
    sync(dev)
    t0 = time.perf_counter()
    fn()
    sync(dev)
    return time.perf_counter() - t0


def row(out, model, workload, batch, tokens, seconds):
    per_s = tokens / seconds if seconds > 0 else 0.0
    print(f"{model:8s} {workload:9s} batch {batch:4d}: {per_s:10.1f} tok/s ({seconds:.4f} s)", flush=True)
    if out:
        out.write(f"{model}\t{workload}\t{batch}\t{tokens}\t{seconds:.6f}\t{per_s:.3f}\t0\t0\n")
        out.flush()


def bench_decode(model, batch, prompt, new):
    V = model.config.vocab_size
    g = torch.Generator().manual_seed(batch)
    ids = torch.randint(V, (batch, prompt), generator=g).cuda()
    mask = torch.ones_like(ids)

    def run():
        with torch.inference_mode():
            out = model.generate(ids, attention_mask=mask, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                                 max_new_tokens=new, min_new_tokens=new)
        assert out.shape == (batch, prompt + new), out.shape

    return sync_time(run)


def bench_decode_loop(model, batch, prompt, new):
    V = model.config.vocab_size
    g = torch.Generator().manual_seed(batch)
    ids = torch.randint(V, (batch, prompt), generator=g).cuda()

    def run():
        with torch.inference_mode():
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
            for t in range(new):
                nxt = torch.multinomial(torch.softmax(out.logits[:, -1].float(), dim=-1), 1)
                if t + 1 < new:
                    out = model(input_ids=nxt, past_key_values=out.past_key_values, use_cache=True)

    return sync_time(run)


def bench_grpo(model, seqs, length):
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=64, lora_alpha=16, lora_dropout=0.0, bias="none",
                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM")
    pm = get_peft_model(model, cfg)
    params = [p for p in pm.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=5e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    V = model.config.vocab_size
    prompt = 64 if length > 64 else length // 2
    g = torch.Generator().manual_seed(11)
    ids = torch.randint(V, (seqs, length), generator=g).cuda()
    targets = ids[:, prompt:]  # the completion tokens
    adv = torch.tensor([1.0 if s % 2 else -1.0 for s in range(seqs)], device="cuda")
    pm.train()

    def step():
        opt.zero_grad(set_to_none=True)
        # positions prompt-1 .. L-2 predict the completion: keep the last L-prompt+1 logits, drop the final one
        logits = pm(input_ids=ids, logits_to_keep=length - prompt + 1).logits[:, :-1]
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        loss = -(logp * adv[:, None]).sum() / logp.numel()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    sync_time(step)  # warm-up
    return statistics.median(sync_time(step) for _ in range(3))


# ---- ARC: bench_cuda --arc's workload the usual way (tests/gpu/run.sh's arc stage) ----

def arc_config(mini):
    from transformers import LlamaConfig

    if mini:  # bench_cuda --arc --arc-shape mini
        return LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=131072,
                           rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False)
    return LlamaConfig(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=131072,
                       rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False,
                       rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                     "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})


def copy_gbs(dev):
    """Device-to-device copy bandwidth (bytes read + written), bench_cuda's floor denominator; 0 off the GPU."""
    if dev != "cuda":
        return 0.0
    n = 1 << 30
    a = torch.ones(n, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    b.copy_(a)
    t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    t0.record()
    for r in range(20):
        (b if r % 2 == 0 else a).copy_(a if r % 2 == 0 else b)
    t1.record()
    torch.cuda.synchronize()
    gbs = 2.0 * n * 20 / (t0.elapsed_time(t1) * 1e-3) / 1e9
    del a, b
    return gbs


def update_flops(cfg, rank, seqs, length, completion):
    """bench_cuda's update_flops for S whole sequences of `length` tokens, `completion` of them scored."""
    C, F, L, V = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers, cfg.vocab_size
    Q, KV = cfg.num_attention_heads * cfg.head_dim, cfg.num_key_value_heads * cfg.head_dim
    layer_weights = L * (C * Q + 2 * C * KV + Q * C + 3 * C * F)
    lora = L * 2.0 * rank * ((C + Q) + 2 * (C + KV) + (Q + C))  # q, k, v, o
    n = seqs * length
    keys = seqs * length * (length + 1) / 2.0
    return 4.0 * n * layer_weights + 3.0 * n * lora + 4.0 * seqs * completion * V * C + 12.0 * Q * L * keys


def arc_row(out, model, workload, batch, tokens, seconds, step_ms, floor_ms, flops, note):
    per_s = tokens / seconds if seconds > 0 else 0.0
    if out:
        out.write(f"{model}\t{workload}\t{batch}\t{tokens}\t{seconds:.6f}\t{per_s:.3f}\t{step_ms:.6f}\t{floor_ms:.6f}\t"
                  f"{flops:.6g}\t{note}\n")
        out.flush()


def bench_arc(a, out):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    dev, mini = a.device, a.arc_shape == "mini"
    P, S, C = a.arc_prompt or (40 if mini else 4096), a.arc_samples or (4 if mini else 16), a.arc_new or (12 if mini else 1024)
    G = a.arc_gen or C
    name = "mini" if mini else "llama8b"
    cfg = arc_config(mini)
    bw = copy_gbs(dev)
    if out:
        out.write(f"# copy_gbs: {bw:.3f}\n# arc: prompt {P}, samples {S}, new {C}, generated {G}\n")
    t0 = time.perf_counter()
    torch.manual_seed(0)
    with torch.device(dev):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16, attn_implementation="sdpa")
    model.generation_config.pad_token_id = 0  # no EOS: every sample gets exactly G tokens
    model.generation_config.eos_token_id = None
    rank = 4 if mini else 64
    pm = get_peft_model(model, LoraConfig(r=rank, lora_alpha=16, lora_dropout=0.0, bias="none",
                                          target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                                          task_type="CAUSAL_LM"))
    sync(dev)
    print(f"{name}: built with LoRA r {rank} on q/k/v/o in {time.perf_counter() - t0:.1f} s", flush=True)
    g = torch.Generator().manual_seed(77)
    prompt = torch.randint(cfg.vocab_size, (1, P), generator=g)
    ids = prompt.expand(S, P).contiguous().to(dev)
    mask = torch.ones_like(ids)

    def generate(new):
        pm.eval()

        def run():
            with torch.inference_mode():
                o = pm.generate(input_ids=ids, attention_mask=mask, do_sample=True, temperature=1.0, top_k=0,
                                top_p=1.0, max_new_tokens=new, min_new_tokens=new)
            assert o.shape == (S, P + new), o.shape

        return sync_time(run, dev)

    # Prefill and decode as bench_cuda measures them: a generate of one token, then of G tokens minus that.
    generate(min(G, 4))  # warm-up
    prefill = generate(1)
    decode = max(generate(G) - prefill, 0.0)
    step_ms = 1e3 * decode / (G - 1)
    weights = sum(p.numel() * p.element_size() for n, p in pm.named_parameters() if "embed_tokens" not in n)
    kv_row = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * cfg.head_dim * 2  # bf16 cache
    floor_bytes = weights + S * kv_row * (P + G / 2.0)
    floor_ms = 1e3 * floor_bytes / (bw * 1e9) if bw > 0 else 0.0
    print(f"{name} arc pytorch prefill {S} x {P} tokens: {prefill:.3f} s", flush=True)
    print(f"{name} arc pytorch decode  {S} x {G - 1} tokens: {decode:.3f} s, step {step_ms:.3f} ms, floor "
          f"{floor_ms:.3f} ms ({floor_bytes / 1e9:.2f} GB)", flush=True)
    arc_row(out, name, "prefill_pytorch", S, S * P, prefill, 0.0, 0.0, 0, f"prompt {P}")
    arc_row(out, name, "decode_pytorch", S, S * (G - 1), decode, step_ms, floor_ms, 0,
            f"steps {G - 1}, floor bytes {floor_bytes:.0f}")

    # One GRPO update over the (S, P + C) batch: micro-batches of mb sequences (gradient accumulation), logits only
    # at the completion positions (TRL's logits_to_keep), log-softmax gather, -mean(adv * logp), backward, clip 1.0,
    # AdamW. mb: as many sequences as fit (a micro-batch that runs out of memory halves it), or --micro-batch.
    T = P + C
    seqs = torch.cat([ids[:, :P].cpu(), torch.randint(cfg.vocab_size, (S, C), generator=g)], dim=1).to(dev)
    adv = torch.tensor([1.0 if s % 2 else -1.0 for s in range(S)], device=dev)
    params = [p for p in pm.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=5e-6, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    pm.train()

    def micro(lo, hi):
        logits = pm(input_ids=seqs[lo:hi], logits_to_keep=C + 1).logits[:, :-1]
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, seqs[lo:hi, P:].unsqueeze(-1)).squeeze(-1)
        loss = -(logp * adv[lo:hi, None]).sum() / (S * C)
        loss.backward()

    def update(mb, n_micro):
        opt.zero_grad(set_to_none=True)
        for k in range(n_micro):
            micro(k * mb, min(S, (k + 1) * mb))
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    mb = a.micro_batch or S
    while True:  # the warm-up: one micro-batch and a step
        try:
            sync_time(lambda: update(mb, 1), dev)
            break
        except torch.cuda.OutOfMemoryError:
            if mb == 1 or a.micro_batch:
                raise
            opt.zero_grad(set_to_none=True)
            mb = max(1, mb // 2)
            torch.cuda.empty_cache()
            print(f"micro-batch out of memory: trying {mb}", flush=True)
    n_micro = (S + mb - 1) // mb
    sec = sync_time(lambda: update(mb, n_micro), dev)
    flops = update_flops(cfg, rank, S, T, C)
    peak = torch_peak(dev)
    mfu = f" = {100.0 * flops / sec / 1e12 / peak:.0f}% MFU of {peak:.0f} TFLOP/s" if peak else ""
    print(f"{name} arc pytorch update  {S} x ({P} + {C}): {n_micro} micro-batches of {mb}, {sec:.3f} s, "
          f"{flops / 1e12:.1f} TFLOP{mfu}", flush=True)
    arc_row(out, name, "update_pytorch", S, S * T, sec, 0.0, 0.0, flops, f"micro_batch {mb}, micro_batches {n_micro}")
    return 0


def torch_peak(dev):
    """bench_cuda's nominal dense bf16 peak by card (TFLOP/s), 0 when unknown or off the GPU."""
    if dev != "cuda":
        return 0.0
    n = torch.cuda.get_device_name()
    if "H100" in n and "PCIe" in n:
        return 756.0
    if any(k in n for k in ("H100", "H200", "H800")):
        return 989.4
    return {"A100": 312.0, "B200": 2250.0}.get(next((k for k in ("A100", "B200") if k in n), ""), 0.0)


def sync(dev):
    if dev == "cuda":
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tsv")
    ap.add_argument("--models", default="llama,qwen")
    ap.add_argument("--batches", default="1,16,64,256")
    ap.add_argument("--prompt", type=int, default=32)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--train-seqs", type=int, default=16)
    ap.add_argument("--train-len", type=int, default=512)
    ap.add_argument("--arc", action="store_true", help="the ARC workload only (bench_cuda --arc's)")
    ap.add_argument("--arc-shape", choices=["8b", "mini"], default="8b")
    ap.add_argument("--arc-prompt", type=int, default=0, help="prompt tokens (0: 4096, mini 40)")
    ap.add_argument("--arc-samples", type=int, default=0, help="samples of the prompt (0: 16, mini 4)")
    ap.add_argument("--arc-new", type=int, default=0, help="completion tokens in the update (0: 1024, mini 12)")
    ap.add_argument("--arc-gen", type=int, default=0, help="tokens generated for the decode timing (0: --arc-new)")
    ap.add_argument("--micro-batch", type=int, default=0, help="sequences per micro-batch (0: as many as fit)")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="cpu: --arc only, to check the script")
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device")
        return 77
    if a.device == "cpu" and not a.arc:
        ap.error("--device cpu runs --arc only")
    import transformers

    out = open(a.tsv, "w") if a.tsv else None
    dev = torch.cuda.get_device_name() if a.device == "cuda" else "cpu"
    print(f"device: {dev}; torch {torch.__version__}, transformers {transformers.__version__}", flush=True)
    if out:
        out.write(f"# device: {dev} (torch {torch.__version__}, transformers {transformers.__version__})\n")
    if a.arc:
        rc = bench_arc(a, out)
        if out:
            out.close()
        return rc
    batches = [int(b) for b in a.batches.split(",") if b]
    cfgs = configs()
    for name in a.models.split(","):
        t0 = time.perf_counter()
        model = build(cfgs[name])
        print(f"{name}: built in {time.perf_counter() - t0:.1f} s", flush=True)
        bench_decode(model, 2, a.prompt, 4)  # warm-up: kernels, allocator, generation config
        for b in batches:
            row(out, name, "decode", b, b * a.new, bench_decode(model, b, a.prompt, a.new))
        bench_decode_loop(model, 2, a.prompt, 4)  # warm-up
        for b in batches:
            row(out, name, "decode_loop", b, b * a.new, bench_decode_loop(model, b, a.prompt, a.new))
        row(out, name, "grpo_step", a.train_seqs, a.train_seqs * a.train_len, bench_grpo(model, a.train_seqs,
                                                                                          a.train_len))
        del model
        torch.cuda.empty_cache()
    if out:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
