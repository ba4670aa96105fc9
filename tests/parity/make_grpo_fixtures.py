"""Reference values of the GRPO objective as TRL's GRPOTrainer computes it (clipped surrogate with epsilon /
epsilon_high, k3 KL, loss_type grpo | bnpo | dr_grpo, scale_rewards), written out in PyTorch over a padded
(B, T) completion batch with a mask, and differentiated with autograd.

    python3 tests/parity/make_grpo_fixtures.py   # writes tests/parity/fixtures/grpo.ref.safetensors

The C test (tests/parity/test_grpo_parity.c) rebuilds the same group as a packed batch and compares.
"""
import torch
from safetensors.torch import save_file

torch.manual_seed(0)
lens = [3, 7, 1, 5, 4]                     # completion lengths
B, T = len(lens), max(lens)
mask = torch.zeros(B, T)
for i, n in enumerate(lens):
    mask[i, :n] = 1
old = -torch.rand(B, T, dtype=torch.float64) * 3
# ratios spread around 1, some beyond both clip edges
logp = old + torch.randn(B, T, dtype=torch.float64) * 0.3
ref = old + torch.randn(B, T, dtype=torch.float64) * 0.2
rewards = torch.tensor([0.1, 0.9, 0.4, 0.4, 0.0], dtype=torch.float64)
eps_low, eps_high, max_len = 0.2, 0.28, 8

out = {"lens": torch.tensor(lens, dtype=torch.int32), "old": old.float(), "logp": logp.float(), "ref": ref.float(),
       "rewards": rewards.float(), "hparams": torch.tensor([eps_low, eps_high, max_len], dtype=torch.float32)}
for scale in (0, 1):
    mean = rewards.mean()
    adv = rewards - mean
    if scale:
        adv = adv / (rewards.std() + 1e-4)          # torch.std is unbiased, as TRL uses it
    out[f"adv.scale{scale}"] = adv.float()
    for loss_type in ("grpo", "bnpo", "dr_grpo"):
        for beta in (0.0, 0.04):
            lp = logp.float().double().clone().requires_grad_(True)
            o, r = old.float().double(), ref.float().double()
            a = adv.float().double().unsqueeze(1)
            coef_1 = torch.exp(lp - o)
            coef_2 = torch.clamp(coef_1, 1 - eps_low, 1 + eps_high)
            per_token_loss = -torch.min(coef_1 * a, coef_2 * a)
            if beta != 0.0:
                per_token_loss = per_token_loss + beta * (torch.exp(r - lp) - (r - lp) - 1)
            if loss_type == "grpo":
                loss = ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
            elif loss_type == "bnpo":
                loss = (per_token_loss * mask).sum() / mask.sum().clamp(min=1.0)
            else:
                loss = (per_token_loss * mask).sum() / (B * max_len)
            loss.backward()
            key = f"{loss_type}.beta{beta}.scale{scale}"
            out[f"loss.{key}"] = loss.detach().float().reshape(1)
            out[f"grad.{key}"] = (lp.grad * mask).float()
            low = ((coef_1 < 1 - eps_low) & (a < 0) & (mask > 0)).sum() / mask.sum()
            high = ((coef_1 > 1 + eps_high) & (a > 0) & (mask > 0)).sum() / mask.sum()
            out[f"clip.{key}"] = torch.stack([low, high]).float()
save_file(out, "tests/parity/fixtures/grpo.ref.safetensors")
print("wrote tests/parity/fixtures/grpo.ref.safetensors:", len(out), "tensors")
