#!/usr/bin/env python3
"""PyTorch side of the GPU benchmark: bench/bench_cuda.cu's workloads with transformers + peft, same shapes.

  python3 bench/bench_cuda_torch.py [--tsv FILE] [--models llama,qwen] [--batches 1,16,64,256] [--prompt 32]
                                    [--new 64] [--train-seqs 16] [--train-len 512]

Models are built from their configs with random weights on the GPU in bf16 (no download): Llama-3.2-1B and
Qwen2.5-0.5B shapes. Workloads, as in the engine:
  * decode: B prompts of --prompt random tokens, model.generate(do_sample, temperature 1, top_k 0, top_p 1, exactly
    --new new tokens, no EOS); tokens/s = B * new / wall time, prefill included;
  * decode_loop: the same tokens from a plain loop of forward calls on the KV cache and torch.multinomial,
    without generate()'s per-step Python machinery (logits processors, stopping criteria): PyTorch's eager floor;
  * grpo_step: PEFT LoRA r=64, alpha=16 on q/k/v/o over --train-seqs x --train-len tokens (64 of each a prompt);
    forward with logits only where a completion token is scored (TRL's logits_to_keep), log-softmax gather, a
    policy-gradient loss with advantages +-1, backward, clip_grad_norm_(1.0), AdamW; median of 3 after a warm-up.
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


def sync_time(fn):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tsv")
    ap.add_argument("--models", default="llama,qwen")
    ap.add_argument("--batches", default="1,16,64,256")
    ap.add_argument("--prompt", type=int, default=32)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--train-seqs", type=int, default=16)
    ap.add_argument("--train-len", type=int, default=512)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device")
        return 77
    import transformers

    out = open(a.tsv, "w") if a.tsv else None
    dev = torch.cuda.get_device_name()
    print(f"device: {dev}; torch {torch.__version__}, transformers {transformers.__version__}", flush=True)
    if out:
        out.write(f"# device: {dev} (torch {torch.__version__}, transformers {transformers.__version__})\n")
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
